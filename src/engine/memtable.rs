//! The memtable: an ordered, multi-version in-memory buffer of rows on a lock-free skiplist
//! (`crossbeam-skiplist`), as in RocksDB and Tektite.
//!
//! Rows are keyed by `(tags, ts, sequence desc)`, so several versions of one row identity
//! may coexist; readers keep the first (newest) of each `(tags, ts)`. A memtable is mutable
//! until the region freezes it (it then only serves reads until it is flushed to an SST).

pub mod value;

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{Array, RecordBatch, UInt8Builder, UInt64Builder};
use crossbeam_skiplist::SkipMap;

use crate::engine::error::{Error, Result};
use crate::engine::metadata::{
    OpType, RegionMetadata, RegionMetadataRef, SemanticType, SequenceNumber,
};
use crate::engine::read::{ColumnSource, ReadFormat};
use crate::engine::time_range::TimeRange;
use value::{ColumnBuilder, Value, value_at, value_equals};

/// Identifies a memtable within a region.
pub type MemtableId = u64;

/// Fixed per-row overhead counted on top of the values: skiplist node, key and sequence.
const ROW_OVERHEAD_BYTES: usize = 96;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    tags: Arc<[Value]>,
    ts: i64,
    sequence: Reverse<SequenceNumber>,
}

#[derive(Debug)]
struct RowValue {
    op_type: OpType,
    /// Field values in `RegionMetadata::field_indexes()` order; empty for deletes.
    fields: Box<[Value]>,
}

#[derive(Debug, Default)]
struct Stats {
    time_range: Option<TimeRange>,
    first_write: Option<Instant>,
}

/// An in-memory sorted run of rows. Thread-safe: writes come from the region's write path,
/// reads from any number of scans.
#[derive(Debug)]
pub struct Memtable {
    id: MemtableId,
    metadata: RegionMetadataRef,
    rows: SkipMap<RowKey, RowValue>,
    size_bytes: AtomicUsize,
    num_rows: AtomicUsize,
    max_sequence: AtomicU64,
    stats: Mutex<Stats>,
}

/// Shared memtable handle.
pub type MemtableRef = Arc<Memtable>;

impl Memtable {
    /// An empty memtable for rows of `metadata`.
    pub fn new(id: MemtableId, metadata: RegionMetadataRef) -> Self {
        Memtable {
            id,
            metadata,
            rows: SkipMap::new(),
            size_bytes: AtomicUsize::new(0),
            num_rows: AtomicUsize::new(0),
            max_sequence: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// This memtable's id.
    pub fn id(&self) -> MemtableId {
        self.id
    }

    /// Estimated memory use in bytes.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// Rows written (all versions, tombstones included).
    pub fn num_rows(&self) -> usize {
        self.num_rows.load(Ordering::Relaxed)
    }

    /// Whether no row was written.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Largest sequence written (0 if empty).
    pub fn max_sequence(&self) -> SequenceNumber {
        self.max_sequence.load(Ordering::Relaxed)
    }

    /// Range of time index values written, if any.
    pub fn time_range(&self) -> Option<TimeRange> {
        self.stats.lock().map(|s| s.time_range).unwrap_or(None)
    }

    /// When the first row was written, if any (drives the flush timer).
    pub fn first_write(&self) -> Option<Instant> {
        self.stats.lock().map(|s| s.first_write).unwrap_or(None)
    }

    /// Inserts the rows of `batch` (the region's user schema, table order); row `i` gets
    /// sequence `sequence + i`. For [`OpType::Delete`] only tags and ts are read.
    ///
    /// # Errors
    /// [`Error::InvalidWrite`] if the batch does not match the schema or a time index value
    /// is NULL. Nothing is inserted then: the batch is validated before the first insert.
    pub fn write(
        &self,
        batch: &RecordBatch,
        sequence: SequenceNumber,
        op_type: OpType,
    ) -> Result<()> {
        validate_batch(&self.metadata, batch, op_type)?;
        let metadata = &self.metadata;
        let invalid = |reason: String| Error::InvalidWrite {
            region_id: metadata.region_id,
            reason,
        };
        let time_index = metadata.time_index;
        let field_indexes = metadata.field_indexes();
        let ts_column = batch.column(time_index);
        let ts_type = metadata.time_index_column().data_type;

        let mut added_bytes = 0;
        let mut range: Option<TimeRange> = None;
        let mut previous_tags: Option<Arc<[Value]>> = None;
        for row in 0..batch.num_rows() {
            // Consecutive rows of one series share one allocation of their tags; compare in
            // place first so a repeated series allocates nothing.
            let same_series = previous_tags.as_deref().is_some_and(|prev| {
                metadata.primary_key.iter().zip(prev).all(|(&i, value)| {
                    value_equals(
                        batch.column(i).as_ref(),
                        metadata.columns[i].data_type,
                        row,
                        value,
                    )
                })
            });
            let tags: Arc<[Value]> = match previous_tags.take() {
                Some(prev) if same_series => prev,
                _ => {
                    let tags: Vec<Value> = metadata
                        .primary_key
                        .iter()
                        .map(|&i| {
                            value_at(batch.column(i).as_ref(), metadata.columns[i].data_type, row)
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(|| invalid("tag column type mismatch".to_string()))?;
                    added_bytes += tags.iter().map(Value::estimated_size).sum::<usize>();
                    Arc::from(tags)
                }
            };
            previous_tags = Some(tags.clone());
            let ts = match value_at(ts_column.as_ref(), ts_type, row) {
                Some(Value::Int(ts)) => ts,
                _ => return Err(invalid("time index value is NULL or mistyped".to_string())),
            };
            let fields: Box<[Value]> = match op_type {
                OpType::Delete => Box::new([]),
                OpType::Put => field_indexes
                    .iter()
                    .map(|&i| {
                        value_at(batch.column(i).as_ref(), metadata.columns[i].data_type, row)
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid("field column type mismatch".to_string()))?,
            };
            added_bytes +=
                ROW_OVERHEAD_BYTES + fields.iter().map(Value::estimated_size).sum::<usize>();
            range = Some(match range {
                Some(r) => r.union(&TimeRange::new(ts, ts)),
                None => TimeRange::new(ts, ts),
            });
            let row_sequence = sequence + row as u64;
            self.rows.insert(
                RowKey {
                    tags,
                    ts,
                    sequence: Reverse(row_sequence),
                },
                RowValue { op_type, fields },
            );
        }
        if batch.num_rows() > 0 {
            let last = sequence + batch.num_rows() as u64 - 1;
            self.max_sequence.fetch_max(last, Ordering::Relaxed);
        }
        self.num_rows.fetch_add(batch.num_rows(), Ordering::Relaxed);
        self.size_bytes.fetch_add(added_bytes, Ordering::Relaxed);
        if let (Some(range), Ok(mut stats)) = (range, self.stats.lock()) {
            stats.time_range = Some(stats.time_range.map_or(range, |r| r.union(&range)));
            stats.first_write.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Iterates the rows inside `time_range` in `(tags, ts, sequence desc)` order as batches
    /// of at most `batch_size` rows in `format`'s schema (all versions, tombstones included).
    pub fn iter(
        self: &Arc<Self>,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
    ) -> MemtableIter {
        MemtableIter {
            memtable: self.clone(),
            format,
            time_range,
            batch_size: batch_size.max(1),
            last_key: None,
            done: false,
        }
    }
}

/// Checks that `batch` fits the region schema for a write of `op_type`: same column count
/// and types (table order), no NULL time index, no NULL in NOT NULL columns of a Put.
///
/// # Errors
/// [`Error::InvalidWrite`] naming the column.
pub fn validate_batch(
    metadata: &RegionMetadata,
    batch: &RecordBatch,
    op_type: OpType,
) -> Result<()> {
    let invalid = |reason: String| Error::InvalidWrite {
        region_id: metadata.region_id,
        reason,
    };
    if batch.num_columns() != metadata.columns.len() {
        return Err(invalid(format!(
            "batch has {} columns, the table has {}",
            batch.num_columns(),
            metadata.columns.len()
        )));
    }
    for (column, array) in metadata.columns.iter().zip(batch.columns()) {
        if array.data_type() != &column.data_type.to_arrow() {
            return Err(invalid(format!(
                "column '{}' has type {}, expected {}",
                column.name,
                array.data_type(),
                column.data_type.to_arrow()
            )));
        }
        let checks_nulls = column.semantic_type == SemanticType::Timestamp
            || (!column.nullable && op_type == OpType::Put);
        if checks_nulls && array.null_count() > 0 {
            return Err(invalid(format!("column '{}' cannot be NULL", column.name)));
        }
    }
    Ok(())
}

/// Batches of a memtable's rows; see [`Memtable::iter`]. Holds no borrow of the skiplist:
/// each batch resumes after the last key returned.
pub struct MemtableIter {
    memtable: MemtableRef,
    format: Arc<ReadFormat>,
    time_range: TimeRange,
    batch_size: usize,
    last_key: Option<RowKey>,
    done: bool,
}

impl MemtableIter {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let format = &self.format;
        let mut builders: Vec<ColumnBuilder> = format
            .read_columns()
            .iter()
            .map(|&i| ColumnBuilder::new(format.metadata().columns[i].data_type, self.batch_size))
            .collect();
        let mut sequences = UInt64Builder::with_capacity(self.batch_size);
        let mut op_types = UInt8Builder::with_capacity(self.batch_size);
        let lower = match self.last_key.take() {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        let mut count = 0;
        let mut last_key = None;
        for entry in self.memtable.rows.range((lower, Bound::Unbounded)) {
            let (key, value) = (entry.key(), entry.value());
            if count == self.batch_size {
                break;
            }
            last_key = Some(key.clone());
            if !self.time_range.contains(key.ts) {
                continue;
            }
            for (builder, source) in builders.iter_mut().zip(format.column_sources()) {
                let value = match *source {
                    ColumnSource::Tag(k) => key.tags.get(k),
                    ColumnSource::TimeIndex => {
                        builder.push(&Value::Int(key.ts));
                        continue;
                    }
                    ColumnSource::Field(k) => value.fields.get(k),
                };
                builder.push(value.unwrap_or(&Value::Null));
            }
            sequences.append_value(key.sequence.0);
            op_types.append_value(value.op_type as u8);
            count += 1;
        }
        if last_key.is_none() {
            self.done = true;
        }
        self.last_key = last_key;
        if count == 0 {
            return Ok(None);
        }
        let mut columns: Vec<_> = builders.iter_mut().map(ColumnBuilder::finish).collect();
        columns.push(Arc::new(sequences.finish()));
        columns.push(Arc::new(op_types.finish()));
        RecordBatch::try_new(format.schema().clone(), columns)
            .map(Some)
            .map_err(|source| Error::Arrow {
                context: "building a memtable batch".to_string(),
                source,
            })
    }
}

impl Iterator for MemtableIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.next_batch() {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
