//! The memtable: rows in memory, grouped by series (mito2's `memtable/time_series.rs`:
//! `SeriesSet` of `Series`, each with columnar `ValueBuilder`s).
//!
//! A series is one primary key (the tag values). Its key is encoded once, when the series is
//! first written, into memcomparable bytes with Arrow's `RowConverter` (the same encoding and
//! order the [`MergeReader`](crate::engine::read::merge::MergeReader) compares identities
//! with; mito2 uses its own `DensePrimaryKeyCodec` for this). An ordered map
//! (`RwLock<BTreeMap<key, series>>`) leads from the key to the series; each series keeps
//! append-only columns (`ts i64`, `sequence u64`, `op_type u8`, one typed vector per field with
//! a validity bitmap) under its own lock ([`series`]). A write encodes the tag columns of the
//! whole batch in one call, groups its rows by key (runs of equal keys, then a stable sort of
//! the runs, so time-major batches group too), looks each series up once and appends its
//! rows without allocating per row.
//!
//! Nothing is sorted or deduplicated on write: [`Memtable::iter`] yields, series by series in
//! key order, the rows of each series sorted by `(ts asc, sequence desc)`, every version and
//! tombstone included. Readers that must not see a write half-applied pass the region's
//! committed sequence to [`Memtable::iter_at`]: rows above it are skipped.
//!
//! A memtable is mutable until the region freezes it (it then only serves reads until it is
//! flushed to an SST). [`Memtable::size_bytes`] counts the heap bytes it allocated: vector
//! capacities, key bytes, series and map entries; a memtable made with
//! [`Memtable::new_tracked`] reports every increase to the engine's write buffer
//! ([`crate::engine::write_buffer::MemtableTracker`]).

pub mod iter;
mod series;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::row::{RowConverter, SortField};

use crate::engine::error::{Error, Result};
use crate::engine::metadata::{
    ColumnDataType, OpType, RegionMetadata, RegionMetadataRef, SemanticType, SequenceNumber,
};
use crate::engine::read::ReadFormat;
use crate::engine::time_range::TimeRange;
use crate::engine::write_buffer::{MemtableTracker, WriteBufferManagerRef};
pub use iter::MemtableIter;
use series::{Rows, SeriesData};

/// Identifies a memtable within a region.
pub type MemtableId = u64;

/// Heap bytes of one `BTreeMap` entry beyond its key and value: a leaf node holds up to 11
/// `(Arc<[u8]>, Arc<Series>)` slots (24 bytes each) plus a header, and is 2/3 full on average.
const MAP_ENTRY_BYTES: usize = 40;

/// Heap bytes of an `Arc<T>` allocation's header (strong and weak counts).
const ARC_HEADER_BYTES: usize = 16;

/// The rows of one series; see [`series::SeriesData`].
#[derive(Debug)]
pub(crate) struct Series {
    data: RwLock<SeriesData>,
}

impl Series {
    fn read(&self) -> RwLockReadGuard<'_, SeriesData> {
        self.data
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, SeriesData> {
        self.data
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Series by encoded primary key, in key order.
type SeriesMap = BTreeMap<Arc<[u8]>, Arc<Series>>;

#[derive(Debug, Default)]
struct Stats {
    time_range: Option<TimeRange>,
    first_write: Option<Instant>,
}

/// An in-memory buffer of rows grouped by series. Thread-safe: writes come from the region's
/// write path, reads from any number of scans.
#[derive(Debug)]
pub struct Memtable {
    id: MemtableId,
    metadata: RegionMetadataRef,
    /// Encodes the tag columns (primary-key order) into series keys; `None` without tags
    /// (every row is then in the one series with the empty key).
    codec: Option<RowConverter>,
    /// Field column indexes (table order) and their types.
    field_indexes: Vec<usize>,
    field_types: Vec<ColumnDataType>,
    series: RwLock<SeriesMap>,
    size_bytes: AtomicUsize,
    num_rows: AtomicUsize,
    max_sequence: AtomicU64,
    stats: Mutex<Stats>,
    /// Reports the bytes to the engine's write buffer.
    tracker: MemtableTracker,
}

/// Shared memtable handle.
pub type MemtableRef = Arc<Memtable>;

/// The rows of one batch that belong to one series.
struct Group {
    /// A row of the batch holding the series' key.
    key_row: usize,
    /// `Range(start, end)` or a range of `Writer::lists`.
    rows: GroupRows,
}

enum GroupRows {
    Range(usize, usize),
    List(usize, usize),
}

impl Memtable {
    /// An empty memtable for rows of `metadata`, counted in no write buffer.
    pub fn new(id: MemtableId, metadata: RegionMetadataRef) -> Self {
        Self::new_tracked(id, metadata, None)
    }

    /// An empty memtable for rows of `metadata` whose allocations are reserved in
    /// `write_buffer` (see [`crate::engine::write_buffer`]).
    pub fn new_tracked(
        id: MemtableId,
        metadata: RegionMetadataRef,
        write_buffer: Option<WriteBufferManagerRef>,
    ) -> Self {
        let sort_fields: Vec<SortField> = metadata
            .primary_key
            .iter()
            .filter_map(|&i| metadata.columns.get(i))
            .map(|c| SortField::new(c.data_type.to_arrow()))
            .collect();
        // Only fails for types a region cannot store; such a region has no valid writes.
        let codec = if sort_fields.is_empty() {
            None
        } else {
            RowConverter::new(sort_fields).ok()
        };
        let field_indexes = metadata.field_indexes();
        let field_types = field_indexes
            .iter()
            .filter_map(|&i| metadata.columns.get(i))
            .map(|c| c.data_type)
            .collect();
        let base = codec.as_ref().map_or(0, RowConverter::size);
        let tracker = MemtableTracker::new(write_buffer);
        tracker.on_allocation(base);
        Memtable {
            id,
            metadata,
            codec,
            field_indexes,
            field_types,
            series: RwLock::new(BTreeMap::new()),
            size_bytes: AtomicUsize::new(base),
            num_rows: AtomicUsize::new(0),
            max_sequence: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
            tracker,
        }
    }

    /// This memtable's id.
    pub fn id(&self) -> MemtableId {
        self.id
    }

    /// Heap bytes allocated for the rows: column vector capacities (so up to 2x the bytes
    /// in use while vectors grow), series keys, series and map entries.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// The region froze this memtable: its write-buffer bytes are scheduled to free.
    pub(crate) fn on_freeze(&self) {
        self.tracker.on_freeze();
    }

    /// Its flush installed: its bytes leave the write buffer (also done on drop).
    pub(crate) fn on_flushed(&self) {
        self.tracker.on_free();
    }

    /// Rows written (all versions, tombstones included).
    pub fn num_rows(&self) -> usize {
        self.num_rows.load(Ordering::Relaxed)
    }

    /// Whether no row was written.
    pub fn is_empty(&self) -> bool {
        self.num_rows() == 0
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

    /// Number of series (distinct primary keys) written.
    pub fn num_series(&self) -> usize {
        self.read_map().len()
    }

    fn read_map(&self) -> RwLockReadGuard<'_, SeriesMap> {
        self.series
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Inserts the rows of `batch` (the region's user schema, table order); row `i` gets
    /// sequence `sequence + i`. For [`OpType::Delete`] only tags and ts are read (fields are
    /// stored as NULL).
    ///
    /// Rows of one series become visible to readers together, but rows of different series
    /// one series at a time: a reader that must see whole writes bounds its sequence
    /// ([`Memtable::iter_at`]).
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
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let metadata = &self.metadata;
        let invalid = |reason: &str| Error::InvalidWrite {
            region_id: metadata.region_id,
            reason: reason.to_string(),
        };
        let ts_type = metadata.time_index_column().data_type;
        let ts = series::timestamps(batch.column(metadata.time_index).as_ref(), ts_type)
            .ok_or_else(|| invalid("time index has the wrong type"))?;
        let fields: Vec<&dyn Array> = self
            .field_indexes
            .iter()
            .map(|&i| batch.column(i).as_ref())
            .collect();
        let fields = (op_type == OpType::Put).then_some(fields.as_slice());

        let keys = match &self.codec {
            Some(codec) => {
                let tags: Vec<ArrayRef> = metadata
                    .primary_key
                    .iter()
                    .map(|&i| batch.column(i).clone())
                    .collect();
                Some(
                    codec
                        .convert_columns(&tags)
                        .map_err(|source| Error::Arrow {
                            context: "encoding series keys".to_string(),
                            source,
                        })?,
                )
            }
            None if metadata.primary_key.is_empty() => None,
            None => return Err(invalid("the tag types cannot be encoded as series keys")),
        };
        let key_of = |row: usize| -> &[u8] {
            match &keys {
                Some(keys) => keys.row(row).data(),
                None => &[],
            }
        };
        let (groups, lists) = group_rows(rows, &key_of);
        let series = self.resolve_series(&groups, &key_of);

        let mut added = 0usize;
        for (group, series) in groups.iter().zip(&series) {
            let selected = match group.rows {
                GroupRows::Range(start, end) => Rows::Range(start, end),
                GroupRows::List(start, end) => Rows::List(lists.get(start..end).unwrap_or(&[])),
            };
            let mut data = series.write();
            let before = data.heap_bytes();
            data.append(ts, |row| sequence + row as u64, op_type, fields, selected)
                .ok_or_else(|| invalid("a column does not match its type"))?;
            added += data.heap_bytes().saturating_sub(before);
        }

        let (min, max) = ts
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        self.max_sequence
            .fetch_max(sequence + rows as u64 - 1, Ordering::Relaxed);
        self.num_rows.fetch_add(rows, Ordering::Relaxed);
        self.size_bytes.fetch_add(added, Ordering::Relaxed);
        self.tracker.on_allocation(added);
        if let Ok(mut stats) = self.stats.lock() {
            let range = TimeRange::new(min, max);
            stats.time_range = Some(stats.time_range.map_or(range, |r| r.union(&range)));
            stats.first_write.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// The series of each group, created if missing (the map's write lock is taken only
    /// then, once per batch).
    fn resolve_series<'k>(
        &self,
        groups: &[Group],
        key_of: &impl Fn(usize) -> &'k [u8],
    ) -> Vec<Arc<Series>> {
        let mut found: Vec<Option<Arc<Series>>> = {
            let map = self.read_map();
            groups
                .iter()
                .map(|g| map.get(key_of(g.key_row)).cloned())
                .collect()
        };
        if found.iter().any(Option::is_none) {
            let mut map = self
                .series
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut added = 0;
            for (slot, group) in found.iter_mut().zip(groups) {
                if slot.is_some() {
                    continue;
                }
                let key = key_of(group.key_row);
                let series = match map.get(key) {
                    Some(series) => series.clone(),
                    None => {
                        let data = SeriesData::new(&self.field_types);
                        added += ARC_HEADER_BYTES
                            + key.len()
                            + ARC_HEADER_BYTES
                            + std::mem::size_of::<Series>()
                            + MAP_ENTRY_BYTES
                            + data.heap_bytes();
                        let series = Arc::new(Series {
                            data: RwLock::new(data),
                        });
                        map.insert(Arc::from(key), series.clone());
                        series
                    }
                };
                *slot = Some(series);
            }
            self.size_bytes.fetch_add(added, Ordering::Relaxed);
            self.tracker.on_allocation(added);
        }
        found.into_iter().flatten().collect()
    }

    /// Iterates the rows inside `time_range` as batches of at most `batch_size` rows in
    /// `format`'s schema: series in key order, each sorted by `(ts asc, sequence desc)`,
    /// all versions and tombstones included. Sees rows written while it runs (flush reads
    /// frozen memtables, where nothing is written any more).
    pub fn iter(
        self: &Arc<Self>,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
    ) -> MemtableIter {
        self.iter_at(format, time_range, batch_size, None)
    }

    /// Like [`Memtable::iter`], but skips rows whose sequence is above `max_sequence` (if
    /// given): a scan passes the region's committed sequence so that writes still being
    /// inserted are invisible rather than half-visible.
    pub fn iter_at(
        self: &Arc<Self>,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
        max_sequence: Option<SequenceNumber>,
    ) -> MemtableIter {
        let series: Vec<(Arc<[u8]>, Arc<Series>)> = self
            .read_map()
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        MemtableIter::new(
            self.clone(),
            series,
            format,
            time_range,
            batch_size,
            max_sequence.unwrap_or(SequenceNumber::MAX),
        )
    }
}

/// Groups rows `0..rows` by `key_of(row)`: runs of equal consecutive keys, and runs of one
/// key that are apart (time-major batches) merged after a stable sort of the runs. Groups
/// come in key order; rows of a group in batch (= sequence) order. Returns the groups and
/// the row lists that `GroupRows::List` ranges point into.
fn group_rows<'k>(rows: usize, key_of: &impl Fn(usize) -> &'k [u8]) -> (Vec<Group>, Vec<u32>) {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for row in 1..=rows {
        if row == rows || key_of(row) != key_of(start) {
            runs.push((start, row));
            start = row;
        }
    }
    if runs.windows(2).all(|w| key_of(w[0].0) < key_of(w[1].0)) {
        let groups = runs
            .into_iter()
            .map(|(start, end)| Group {
                key_row: start,
                rows: GroupRows::Range(start, end),
            })
            .collect();
        return (groups, Vec::new());
    }
    runs.sort_by(|a, b| key_of(a.0).cmp(key_of(b.0)));
    let mut groups = Vec::new();
    let mut lists: Vec<u32> = Vec::with_capacity(rows);
    let mut i = 0;
    while let Some(&(first_start, first_end)) = runs.get(i) {
        let key = key_of(first_start);
        let mut j = i + 1;
        while runs.get(j).is_some_and(|r| key_of(r.0) == key) {
            j += 1;
        }
        if j == i + 1 {
            groups.push(Group {
                key_row: first_start,
                rows: GroupRows::Range(first_start, first_end),
            });
        } else {
            let list_start = lists.len();
            for &(s, e) in runs.get(i..j).unwrap_or(&[]) {
                lists.extend((s..e).filter_map(|r| u32::try_from(r).ok()));
            }
            groups.push(Group {
                key_row: first_start,
                rows: GroupRows::List(list_start, lists.len()),
            });
        }
        i = j;
    }
    (groups, lists)
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
        if column.data_type == ColumnDataType::Json && op_type == OpType::Put {
            check_json(&column.name, array).map_err(invalid)?;
        }
    }
    Ok(())
}

/// Every non-null value of the JSON column `name` parses as JSON.
fn check_json(name: &str, array: &ArrayRef) -> std::result::Result<(), String> {
    let Some(strings) = arrow::array::AsArray::as_string_opt::<i32>(array.as_ref()) else {
        return Err(format!("column '{name}' is JSON but not a string array"));
    };
    for (row, value) in strings.iter().enumerate() {
        if let Some(text) = value
            && let Err(e) = crate::engine::metadata::check_json_text(text)
        {
            return Err(format!(
                "column '{name}' is JSON, but the value in row {} is not valid JSON ({e}): {}",
                row + 1,
                preview(text)
            ));
        }
    }
    Ok(())
}

/// The first 40 characters of `text`, for an error message.
fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("'{head}...'")
    } else {
        format!("'{head}'")
    }
}
