//! K-way merge of sorted sources with last-write-wins deduplication (mito2's SeqScan:
//! `read/flat_merge.rs` + `read/flat_dedup.rs`, `LastRow` mode).
//!
//! Rows are compared by their identity `(tags, ts)` encoded with arrow's `RowConverter`
//! (byte-comparable), then by sequence descending. The first row of each identity is the
//! newest and wins; older versions are dropped. A winning tombstone hides the identity and
//! is dropped too when `filter_deleted` is set (scans) or kept (flush and compaction, so the
//! tombstone still hides older rows in other files).
//!
//! The [`DedupMode`] (from the table options, `engine/options.rs`) changes what "wins":
//! `LastRow` as above; `LastNonNull` fills each NULL field of the winner with the newest
//! non-NULL value of that field among the older versions of its identity, stopping at an
//! older tombstone (mito2's `LastNonNull` in `read/dedup.rs`); `None` (append mode) keeps
//! every version, each tombstone filtered on its own. All versions of one identity are
//! consumed in the same output batch, so a fill never needs a row already emitted.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt8Array, UInt64Array};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::{UInt8Type, UInt64Type};
use arrow::row::{RowConverter, Rows, SortField};

use crate::engine::error::{Error, Result};
use crate::engine::metadata::OpType;
use crate::engine::options::DedupMode;
use crate::engine::read::ReadFormat;
use crate::engine::time_range::TimeRange;

/// A sorted source of read batches.
pub type BatchSource = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

struct Cursor {
    /// Index of `batch` in the staging area.
    staged: usize,
    rows: Rows,
    sequences: UInt64Array,
    op_types: UInt8Array,
    timestamps: ArrayRef,
    position: usize,
}

/// Merges sorted sources into sorted, deduplicated batches in the read schema.
pub struct MergeReader {
    format: Arc<ReadFormat>,
    sources: Vec<BatchSource>,
    cursors: Vec<Option<Cursor>>,
    converter: RowConverter,
    staging: Vec<RecordBatch>,
    time_range: TimeRange,
    filter_deleted: bool,
    batch_size: usize,
    last_key: Vec<u8>,
    has_last_key: bool,
    finished: bool,
    dedup: DedupMode,
    /// Positions of the field columns in the read schema (filled by `LastNonNull`).
    field_positions: Vec<usize>,
}

fn arrow_error(context: &str) -> impl FnOnce(arrow::error::ArrowError) -> Error + '_ {
    move |source| Error::Arrow {
        context: context.to_string(),
        source,
    }
}

impl MergeReader {
    /// Merges `sources` (each sorted by `(tags, ts, sequence desc)` in `format`'s schema),
    /// keeping only rows inside `time_range`, emitting batches of up to `batch_size` rows.
    ///
    /// # Errors
    /// [`Error::Arrow`] if the key columns cannot be row-encoded.
    pub fn new(
        format: Arc<ReadFormat>,
        sources: Vec<BatchSource>,
        time_range: TimeRange,
        filter_deleted: bool,
        batch_size: usize,
    ) -> Result<Self> {
        let sort_fields = format
            .key_positions()
            .iter()
            .map(|&p| SortField::new(format.schema().field(p).data_type().clone()))
            .collect();
        let converter = RowConverter::new(sort_fields).map_err(arrow_error("row converter"))?;
        let cursors = sources.iter().map(|_| None).collect();
        Ok(MergeReader {
            format,
            sources,
            cursors,
            converter,
            staging: Vec::new(),
            time_range,
            filter_deleted,
            batch_size: batch_size.max(1),
            last_key: Vec::new(),
            has_last_key: false,
            finished: false,
            dedup: DedupMode::LastRow,
            field_positions: Vec::new(),
        })
    }

    /// Sets how versions of one identity are merged (default [`DedupMode::LastRow`]).
    pub fn with_dedup(mut self, dedup: DedupMode) -> Self {
        self.dedup = dedup;
        self.field_positions = if dedup == DedupMode::LastNonNull {
            let format = &self.format;
            (0..format.schema().fields().len())
                .filter(|p| {
                    !format.key_positions().contains(p)
                        && *p != format.sequence_position()
                        && *p != format.op_type_position()
                })
                .collect()
        } else {
            Vec::new()
        };
        self
    }

    /// Loads the next non-empty batch of source `i` into its cursor (None when exhausted).
    fn advance_source(&mut self, i: usize) -> Result<()> {
        self.cursors[i] = None;
        let Some(source) = self.sources.get_mut(i) else {
            return Ok(());
        };
        for batch in source.by_ref() {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let keys: Vec<ArrayRef> = self
                .format
                .key_positions()
                .iter()
                .map(|&p| batch.column(p).clone())
                .collect();
            let rows = self
                .converter
                .convert_columns(&keys)
                .map_err(arrow_error("encoding row keys"))?;
            let sequences = batch
                .column(self.format.sequence_position())
                .as_primitive_opt::<UInt64Type>()
                .cloned();
            let op_types = batch
                .column(self.format.op_type_position())
                .as_primitive_opt::<UInt8Type>()
                .cloned();
            let (Some(sequences), Some(op_types)) = (sequences, op_types) else {
                return Err(Error::Arrow {
                    context: "merging sources".to_string(),
                    source: arrow::error::ArrowError::SchemaError(
                        "internal columns __sequence/__op_type have wrong types".to_string(),
                    ),
                });
            };
            let timestamps = arrow::compute::cast(
                batch.column(self.format.time_index_position()),
                &arrow::datatypes::DataType::Int64,
            )
            .map_err(arrow_error("reading timestamps"))?;
            self.staging.push(batch);
            self.cursors[i] = Some(Cursor {
                staged: self.staging.len() - 1,
                rows,
                sequences,
                op_types,
                timestamps,
                position: 0,
            });
            return Ok(());
        }
        Ok(())
    }

    /// The source holding the smallest `(key, sequence desc)` row.
    fn min_cursor(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, cursor) in self.cursors.iter().enumerate() {
            let Some(c) = cursor else { continue };
            best = match best {
                None => Some(i),
                Some(b) => {
                    let Some(bc) = &self.cursors[b] else { continue };
                    let ordering = c
                        .rows
                        .row(c.position)
                        .cmp(&bc.rows.row(bc.position))
                        .then_with(|| {
                            bc.sequences
                                .value(bc.position)
                                .cmp(&c.sequences.value(c.position))
                        });
                    if ordering.is_lt() { Some(i) } else { Some(b) }
                }
            };
        }
        best
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.staging.is_empty() {
            for i in 0..self.sources.len() {
                self.advance_source(i)?;
            }
        }
        let mut indices: Vec<(usize, usize)> = Vec::with_capacity(self.batch_size);
        // `LastNonNull`: the older versions of each emitted row that may fill its NULLs.
        let mut older: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut collecting = false;
        let keep_all = self.dedup == DedupMode::None;
        loop {
            let Some(i) = self.min_cursor() else {
                self.finished = true;
                break;
            };
            let Some(cursor) = self.cursors[i].as_mut() else {
                break;
            };
            let position = cursor.position;
            let row = cursor.rows.row(position);
            let duplicate =
                !keep_all && self.has_last_key && row.as_ref() == self.last_key.as_slice();
            // A full batch ends before the next identity, never inside one.
            if !duplicate && indices.len() >= self.batch_size {
                break;
            }
            let deleted = cursor.op_types.value(position) == OpType::Delete as u8;
            if !duplicate {
                self.last_key.clear();
                self.last_key.extend_from_slice(row.as_ref());
                self.has_last_key = true;
                let ts = cursor
                    .timestamps
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(position);
                collecting = false;
                if self.time_range.contains(ts) && !(deleted && self.filter_deleted) {
                    indices.push((cursor.staged, position));
                    if self.dedup == DedupMode::LastNonNull {
                        older.push(Vec::new());
                        collecting = !deleted;
                    }
                }
            } else if collecting {
                if deleted {
                    // Nothing older than a tombstone survives it. A flush or compaction keeps
                    // the tombstone behind the winner: the winner's NULLs must not be filled
                    // from files older than the tombstone when this output is merged again.
                    collecting = false;
                    if !self.filter_deleted {
                        indices.push((cursor.staged, position));
                        older.push(Vec::new());
                    }
                } else if let Some(versions) = older.last_mut() {
                    versions.push((cursor.staged, position));
                }
            }
            cursor.position += 1;
            if cursor.position >= cursor.rows.num_rows() {
                self.advance_source(i)?;
            }
        }
        if indices.is_empty() {
            return Ok(None);
        }
        let staged: Vec<&RecordBatch> = self.staging.iter().collect();
        let mut batch = interleave_record_batch(&staged, &indices)
            .map_err(arrow_error("assembling merged rows"))?;
        if self.dedup == DedupMode::LastNonNull {
            batch = fill_nulls(&batch, &staged, &indices, &older, &self.field_positions)?;
        }
        self.compact_staging();
        Ok(Some(batch))
    }

    /// Drops staged batches no cursor points into any more.
    fn compact_staging(&mut self) {
        let mut kept = Vec::with_capacity(self.cursors.len());
        for cursor in self.cursors.iter_mut().flatten() {
            if let Some(batch) = self.staging.get(cursor.staged) {
                kept.push(batch.clone());
                cursor.staged = kept.len() - 1;
            }
        }
        self.staging = kept;
    }
}

/// `LastNonNull`: each NULL of a field column of `batch` (rows taken from `indices`) takes
/// the value of the first older version (`older[row]`, newest first) where it is not NULL.
fn fill_nulls(
    batch: &RecordBatch,
    staged: &[&RecordBatch],
    indices: &[(usize, usize)],
    older: &[Vec<(usize, usize)>],
    field_positions: &[usize],
) -> Result<RecordBatch> {
    use arrow::array::Array;
    let mut columns = batch.columns().to_vec();
    for &p in field_positions {
        let Some(column) = columns.get(p) else {
            continue;
        };
        if column.null_count() == 0 {
            continue;
        }
        let mut changed = false;
        let picks: Vec<(usize, usize)> = indices
            .iter()
            .enumerate()
            .map(|(row, &winner)| {
                if column.is_valid(row) {
                    return winner;
                }
                let fill = older.get(row).and_then(|versions| {
                    versions
                        .iter()
                        .find(|(b, r)| staged.get(*b).is_some_and(|s| s.column(p).is_valid(*r)))
                });
                match fill {
                    Some(&found) => {
                        changed = true;
                        found
                    }
                    None => winner,
                }
            })
            .collect();
        if changed {
            let arrays: Vec<&dyn Array> = staged.iter().map(|b| b.column(p).as_ref()).collect();
            columns[p] = arrow::compute::interleave(&arrays, &picks).map_err(arrow_error(
                "filling NULL fields (merge_mode = last_non_null)",
            ))?;
        }
    }
    RecordBatch::try_new(batch.schema(), columns).map_err(arrow_error(
        "filling NULL fields (merge_mode = last_non_null)",
    ))
}

impl Iterator for MergeReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::memtable::Memtable;
    use crate::engine::metadata::RegionMetadata;
    use arrow::array::Array;

    fn cpu_metadata() -> Arc<RegionMetadata> {
        Arc::new(crate::engine::test_util::cpu_metadata())
    }

    use crate::engine::test_util::cpu_batch as batch;

    fn collect(reader: MergeReader) -> Vec<(String, i64, Option<f64>)> {
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let hosts = batch.column(0).as_string::<i32>();
            let ts = batch
                .column(1)
                .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
            let cpu = batch
                .column(2)
                .as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..batch.num_rows() {
                let value = (!cpu.is_null(i)).then(|| cpu.value(i));
                out.push((hosts.value(i).to_string(), ts.value(i), value));
            }
        }
        out
    }

    #[test]
    fn newest_version_wins_across_sources_and_deletes_hide_rows() {
        let metadata = cpu_metadata();
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        let old = Arc::new(Memtable::new(0, metadata.clone()));
        old.write(
            &batch(&[("a", 1, 1.0), ("b", 1, 2.0), ("a", 2, 3.0)]),
            1,
            OpType::Put,
        )
        .unwrap();
        let new = Arc::new(Memtable::new(1, metadata.clone()));
        new.write(&batch(&[("a", 1, 10.0), ("a", 1, 11.0)]), 4, OpType::Put)
            .unwrap();
        new.write(&batch(&[("b", 1, 0.0)]), 6, OpType::Delete)
            .unwrap();
        let sources: Vec<BatchSource> = vec![
            Box::new(old.iter(format.clone(), TimeRange::all(), 2)),
            Box::new(new.iter(format.clone(), TimeRange::all(), 2)),
        ];
        let reader = MergeReader::new(format.clone(), sources, TimeRange::all(), true, 3).unwrap();
        assert_eq!(
            collect(reader),
            vec![("a".into(), 1, Some(11.0)), ("a".into(), 2, Some(3.0))]
        );

        // Flush-style merge keeps the winning tombstone.
        let sources: Vec<BatchSource> =
            vec![Box::new(new.iter(format.clone(), TimeRange::all(), 100))];
        let reader =
            MergeReader::new(format.clone(), sources, TimeRange::all(), false, 100).unwrap();
        assert_eq!(
            collect(reader),
            vec![("a".into(), 1, Some(11.0)), ("b".into(), 1, None)]
        );
    }

    #[test]
    fn time_range_filters_rows() {
        let metadata = cpu_metadata();
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        let memtable = Arc::new(Memtable::new(0, metadata));
        memtable
            .write(
                &batch(&[("a", 1, 1.0), ("a", 5, 2.0), ("a", 9, 3.0)]),
                1,
                OpType::Put,
            )
            .unwrap();
        let range = TimeRange::new(2, 9);
        let sources: Vec<BatchSource> = vec![Box::new(memtable.iter(format.clone(), range, 10))];
        let reader = MergeReader::new(format, sources, range, true, 10).unwrap();
        assert_eq!(
            collect(reader),
            vec![("a".into(), 5, Some(2.0)), ("a".into(), 9, Some(3.0))]
        );
    }

    fn nullable_batch(rows: &[(&str, i64, Option<f64>)]) -> RecordBatch {
        RecordBatch::try_new(
            cpu_metadata().arrow_schema(),
            vec![
                Arc::new(arrow::array::StringArray::from_iter_values(
                    rows.iter().map(|r| r.0),
                )),
                Arc::new(arrow::array::TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
                Arc::new(arrow::array::Float64Array::from_iter(
                    rows.iter().map(|r| r.2),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn last_non_null_fills_from_older_versions_up_to_a_tombstone() {
        let metadata = cpu_metadata();
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        let old = Arc::new(Memtable::new(0, metadata.clone()));
        old.write(
            &nullable_batch(&[
                ("a", 1, Some(1.0)),
                ("b", 1, Some(2.0)),
                ("c", 1, Some(3.0)),
            ]),
            1,
            OpType::Put,
        )
        .unwrap();
        let new = Arc::new(Memtable::new(1, metadata.clone()));
        // `b` is deleted between its versions; `c`'s newest version has a value.
        new.write(&nullable_batch(&[("b", 1, None)]), 4, OpType::Delete)
            .unwrap();
        new.write(
            &nullable_batch(&[("a", 1, None), ("b", 1, None), ("c", 1, Some(30.0))]),
            5,
            OpType::Put,
        )
        .unwrap();
        let read = |filter_deleted, dedup, batch_size| {
            let sources: Vec<BatchSource> = vec![
                Box::new(old.iter(format.clone(), TimeRange::all(), 1)),
                Box::new(new.iter(format.clone(), TimeRange::all(), 1)),
            ];
            MergeReader::new(
                format.clone(),
                sources,
                TimeRange::all(),
                filter_deleted,
                batch_size,
            )
            .unwrap()
            .with_dedup(dedup)
        };
        // Batch size 1: a row's versions are still consumed in its own batch.
        for batch_size in [1, 100] {
            assert_eq!(
                collect(read(true, DedupMode::LastNonNull, batch_size)),
                vec![
                    ("a".into(), 1, Some(1.0)),
                    ("b".into(), 1, None),
                    ("c".into(), 1, Some(30.0))
                ]
            );
        }
        assert_eq!(
            collect(read(true, DedupMode::LastRow, 100)),
            vec![
                ("a".into(), 1, None),
                ("b".into(), 1, None),
                ("c".into(), 1, Some(30.0))
            ]
        );
        // Flush/compaction output keeps the tombstone behind `b`'s winner.
        let kept = read(false, DedupMode::LastNonNull, 100);
        let rows: usize = kept.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 4);
        // Append mode: every version, tombstones filtered one by one.
        assert_eq!(collect(read(true, DedupMode::None, 2)).len(), 6);
    }
}
