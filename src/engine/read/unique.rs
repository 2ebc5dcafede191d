//! [`UniqueSource`]: the read path for a source whose rows need no merge.
//!
//! An SST holds each identity `(tags, ts)` at most once (flush and compaction write merged,
//! deduplicated rows), and a tombstone can only hide rows with its own timestamp. So an SST
//! whose time range overlaps no other source of the scan needs no k-way merge: its rows are
//! already the newest versions. It only has to drop rows outside the scan's time range and the
//! tombstones, which is done a batch at a time with arrow kernels instead of row by row.

use arrow::array::{Int64Array, RecordBatch, UInt8Array};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::boolean::and;
use arrow::compute::kernels::cmp::{eq, gt_eq, lt_eq};
use arrow::datatypes::DataType;

use crate::engine::error::{Error, Result};
use crate::engine::metadata::OpType;
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::BatchSource;
use crate::engine::time_range::TimeRange;

/// Passes a deduplicated source through, keeping rows inside `time_range` that are not
/// tombstones. Batches are in `format`'s read schema, like [`super::merge::MergeReader`]'s.
pub struct UniqueSource {
    source: BatchSource,
    time_index: usize,
    op_type: usize,
    /// `None` when every row of the source is inside the scan's range (nothing to compare).
    time_range: Option<TimeRange>,
    /// Whether the source may hold tombstones (else the op type is not compared).
    may_delete: bool,
}

impl UniqueSource {
    /// Wraps `source` (batches in `format`'s read schema, identities unique).
    pub fn new(source: BatchSource, format: &ReadFormat, time_range: TimeRange) -> UniqueSource {
        UniqueSource {
            source,
            time_index: format.time_index_position(),
            op_type: format.op_type_position(),
            time_range: Some(time_range),
            may_delete: true,
        }
    }

    /// Skips the checks `source` cannot fail: the time range when all its rows are inside it
    /// (`source_range`, the file's, within the scan's), the op type when it holds no
    /// tombstone (`may_delete` false, from the file's statistics).
    pub fn knowing(mut self, source_range: TimeRange, may_delete: bool) -> UniqueSource {
        if let Some(range) = self.time_range
            && range.intersect(&source_range) == source_range
        {
            self.time_range = None;
        }
        self.may_delete = may_delete;
        self
    }

    fn keep_visible(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let arrow_error = |source| Error::Arrow {
            context: "filtering an SST batch".to_string(),
            source,
        };
        let in_range = match self.time_range {
            Some(range) => {
                let timestamps =
                    arrow::compute::cast(batch.column(self.time_index), &DataType::Int64)
                        .map_err(arrow_error)?;
                let min = Int64Array::new_scalar(range.min);
                let max = Int64Array::new_scalar(range.max);
                Some(
                    and(
                        &gt_eq(&timestamps, &min).map_err(arrow_error)?,
                        &lt_eq(&timestamps, &max).map_err(arrow_error)?,
                    )
                    .map_err(arrow_error)?,
                )
            }
            None => None,
        };
        let put = if self.may_delete {
            let put = UInt8Array::new_scalar(OpType::Put as u8);
            Some(eq(batch.column(self.op_type), &put).map_err(arrow_error)?)
        } else {
            None
        };
        let keep = match (in_range, put) {
            (None, None) => return Ok(batch),
            (Some(keep), None) | (None, Some(keep)) => keep,
            (Some(a), Some(b)) => and(&a, &b).map_err(arrow_error)?,
        };
        if keep.true_count() == batch.num_rows() {
            return Ok(batch);
        }
        filter_record_batch(&batch, &keep).map_err(arrow_error)
    }
}

impl Iterator for UniqueSource {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let batch = match self.source.next()? {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e)),
            };
            match self.keep_visible(batch) {
                Ok(batch) if batch.num_rows() == 0 => continue,
                other => return Some(other),
            }
        }
    }
}
