//! SSTs: sorted Parquet files written by flush and compaction.

pub mod file;

/// SST errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {}
