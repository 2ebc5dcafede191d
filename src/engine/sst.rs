//! SSTs: immutable Parquet files of rows sorted by `(tags, ts, sequence desc)`, written by
//! flush and compaction. The layout is specified in `docs/FORMAT.md` ("SST").

pub mod file;
pub mod format;
pub mod last_row;
pub mod page_prune;
pub mod reader;
pub mod series;
pub mod writer;

use object_store::path::Path;

use crate::engine::metadata::RegionId;
use file::FileId;

/// SST errors; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's bytes do not match the checksum the manifest recorded.
    #[error(
        "SST '{path}' is corrupt: CRC-32 {actual:#010x} does not match the manifest's {expected:#010x} (size {size} bytes, expected {expected_size})"
    )]
    ChecksumMismatch {
        path: String,
        expected: u32,
        actual: u32,
        size: u64,
        expected_size: u64,
    },
    /// The Parquet reader or writer failed.
    #[error("SST '{path}': {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow conversion failed.
    #[error("SST '{path}': {source}")]
    Arrow {
        path: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The file is readable but not a tsdb SST this build understands.
    #[error("SST '{path}' is invalid: {reason}")]
    Invalid { path: String, reason: String },
    /// A region referenced a file that is missing from storage.
    #[error("SST '{path}' named by the manifest is missing: {source}")]
    Missing {
        path: String,
        #[source]
        source: crate::engine::io::Error,
    },
}

/// Result of SST operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Directory (object prefix) of a region: `regions/{table_id}_{region_number}`.
pub fn region_dir(region_id: RegionId) -> Path {
    Path::from(format!("regions/{region_id}"))
}

/// Object path of an SST: `regions/{region}/sst/{file_id}.parquet`.
pub fn sst_path(region_id: RegionId, file_id: FileId) -> Path {
    Path::from(format!("regions/{region_id}/sst/{file_id}.parquet"))
}

#[cfg(test)]
pub(crate) mod tests;
