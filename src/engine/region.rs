//! A region: one LSM tree (WAL, memtables, SSTs, manifest) holding rows of one schema.
//! CONTRACT PLACEHOLDER: bodies are being written.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::stream::BoxStream;

use crate::engine::error::Result;
use crate::engine::metadata::RegionMetadataRef;
use crate::engine::time_range::TimeRange;

/// What a scan reads.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Indexes (into the region's columns, table order) of the columns to return, in that
    /// order; `None` for all.
    pub projection: Option<Vec<usize>>,
    /// Only rows whose time index is inside this range (time index unit) are returned.
    pub time_range: TimeRange,
    /// Stop after this many rows (a hint: more may be returned).
    pub limit: Option<usize>,
}

/// Sorted, deduplicated rows of a scan, in batches of at most 8192 rows.
pub type RecordBatchStream = BoxStream<'static, Result<RecordBatch>>;

/// A region handle; cheap to clone.
pub type RegionRef = Arc<Region>;

/// One LSM tree.
#[derive(Debug)]
pub struct Region {}

impl Region {
    /// The region schema.
    pub fn metadata(&self) -> RegionMetadataRef {
        todo!()
    }

    /// Writes `batch` (schema = `metadata().arrow_schema()`, columns in table order) as Put
    /// rows. Returns when the rows are durable in the WAL and visible to scans.
    pub async fn write(&self, _batch: RecordBatch) -> Result<usize> {
        todo!()
    }

    /// Writes tombstones for the row identities in `batch` (same schema as `write`; only the
    /// tag and time index columns are read). Returns the number of tombstones written.
    pub async fn delete(&self, _batch: RecordBatch) -> Result<usize> {
        todo!()
    }

    /// Flushes all memtables to SSTs and waits for the manifest edit.
    pub async fn flush(&self) -> Result<()> {
        todo!()
    }

    /// Compacts the region's SSTs (TWCS).
    pub async fn compact(&self) -> Result<()> {
        todo!()
    }

    /// Scans the region: rows sorted by (tags, ts), newest version of each row, no deleted rows.
    pub fn scan(&self, _request: ScanRequest) -> Result<(SchemaRef, RecordBatchStream)> {
        todo!()
    }
}
