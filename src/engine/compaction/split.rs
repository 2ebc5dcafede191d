//! Splits one sorted stream of read batches into one SST per time window, so that no file
//! written by a flush or a compaction straddles a window boundary.
//!
//! Design: GreptimeDB mito2 keeps one memtable per time partition
//! (`memtable/time_partition.rs`, `TimePartitions::write_multi_parts` routes each row by its
//! partition start) and so flushes one file per partition; tsdb keeps a single memtable and
//! cuts at flush (and compaction) time instead. Each batch's rows are routed by
//! `window_start(ts)` with arrow's `filter_record_batch`, which keeps their order, so every
//! window's stream stays sorted by `(tags, ts, sequence desc)`. Each window is encoded by
//! [`encode_sst`] on a scoped thread of its own fed through a bounded channel: the stream is
//! read once, and memory stays bounded by the Parquet writers' buffers (one row group each).
//! At most [`MAX_OPEN_WINDOWS`] windows are encoded at once; rows of further windows are left
//! for another pass over the source restricted to their time range (rare: data spanning more
//! than 8 windows in one flush or compaction).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};

use crate::engine::compaction::window::{window_range, window_start};
use crate::engine::error::{Error, Result};
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::BatchSource;
use crate::engine::sst::writer::{EncodedSst, encode_sst};
use crate::engine::time_range::TimeRange;

/// At most this many windows are encoded concurrently in one pass over the source.
pub const MAX_OPEN_WINDOWS: usize = 8;
/// Batches buffered per window between the router and its encoder.
const CHANNEL_BATCHES: usize = 2;

/// Encodes the rows of the sources `open` returns as SSTs of `level`, one per window of size
/// `window` (time index unit, > 0) that holds rows, in ascending window order.
///
/// `open(range)` must return the sorted, deduplicated rows (read schema of `format`) whose
/// time index lies in `range`, or a superset of them; it is called once, with
/// `TimeRange::all()`, unless the rows fall in more than [`MAX_OPEN_WINDOWS`] windows, then
/// again for the time range of the windows left. Blocks (run it on a blocking thread).
///
/// # Errors
/// Errors of `open` or of the sources, encoding errors ([`encode_sst`]), or
/// [`Error::WorkerStopped`] if an encoder thread cannot start or panics. Nothing is stored.
pub fn encode_by_window(
    format: &ReadFormat,
    window: i64,
    level: u8,
    mut open: impl FnMut(TimeRange) -> Result<BatchSource>,
) -> Result<Vec<EncodedSst>> {
    let window = window.max(1);
    let mut done = BTreeSet::new();
    let mut range = TimeRange::all();
    let mut outputs = Vec::new();
    loop {
        let source = open(range)?;
        let pass = encode_pass(format, window, level, source, &done)?;
        for (start, encoded) in pass.encoded {
            done.insert(start);
            outputs.extend(encoded.map(|e| (start, e)));
        }
        // The next pass covers only as many left-over windows as it has encoders, so each
        // row is read about once however many windows the input spans.
        let next: Vec<i64> = pass.left.iter().copied().take(MAX_OPEN_WINDOWS).collect();
        let (Some(first), Some(last)) = (next.first(), next.last()) else {
            break;
        };
        range = window_range(*first, window).union(&window_range(*last, window));
    }
    outputs.sort_by_key(|(start, _)| *start);
    Ok(outputs.into_iter().map(|(_, e)| e).collect())
}

struct Pass {
    /// What each window encoded in this pass produced (`None`: no rows survived).
    encoded: Vec<(i64, Option<EncodedSst>)>,
    /// Windows holding rows that this pass had no encoder left for.
    left: BTreeSet<i64>,
}

struct Sink<'scope> {
    sender: SyncSender<Result<RecordBatch>>,
    handle: std::thread::ScopedJoinHandle<'scope, Result<Option<EncodedSst>>>,
}

fn encode_pass(
    format: &ReadFormat,
    window: i64,
    level: u8,
    source: BatchSource,
    done: &BTreeSet<i64>,
) -> Result<Pass> {
    std::thread::scope(|scope| {
        let mut sinks: BTreeMap<i64, Sink<'_>> = BTreeMap::new();
        let mut left = BTreeSet::new();
        // The first error wins; an encoder that failed hangs up, and its error is reported
        // when it is joined.
        let mut failure: Option<Error> = None;
        'batches: for batch in source {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let parts = match split_batch(format, &batch, window) {
                Ok(parts) => parts,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            for (start, part) in parts {
                if done.contains(&start) {
                    continue;
                }
                if !sinks.contains_key(&start) {
                    if sinks.len() >= MAX_OPEN_WINDOWS {
                        left.insert(start);
                        continue;
                    }
                    match spawn_sink(scope, format, level, start) {
                        Ok(sink) => {
                            sinks.insert(start, sink);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break 'batches;
                        }
                    }
                }
                let Some(sink) = sinks.get(&start) else {
                    continue;
                };
                if sink.sender.send(Ok(part)).is_err() {
                    // The encoder stopped early: its join below reports why.
                    break 'batches;
                }
            }
        }
        let mut encoded = Vec::with_capacity(sinks.len());
        for (start, sink) in sinks {
            drop(sink.sender);
            let result = sink.handle.join().unwrap_or_else(|_| {
                Err(Error::WorkerStopped(format!(
                    "SST encoder for window {start} panicked"
                )))
            });
            match result {
                Ok(sst) => encoded.push((start, sst)),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(Pass { encoded, left }),
        }
    })
}

fn spawn_sink<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    format: &'env ReadFormat,
    level: u8,
    start: i64,
) -> Result<Sink<'scope>> {
    let (sender, receiver): (_, Receiver<Result<RecordBatch>>) = sync_channel(CHANNEL_BATCHES);
    let handle = std::thread::Builder::new()
        .name(format!("tsdb-sst-{start}"))
        .spawn_scoped(scope, move || {
            encode_sst(format, receiver.into_iter(), level)
        })
        .map_err(|e| Error::WorkerStopped(format!("cannot start an SST encoder: {e}")))?;
    Ok(Sink { sender, handle })
}

/// The rows of `batch` grouped by window start, each group in its original order.
fn split_batch(
    format: &ReadFormat,
    batch: &RecordBatch,
    window: i64,
) -> Result<Vec<(i64, RecordBatch)>> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let arrow_err = |context: &str| {
        let context = context.to_string();
        move |source| Error::Arrow { context, source }
    };
    let ts = arrow::compute::cast(batch.column(format.time_index_position()), &DataType::Int64)
        .map_err(arrow_err("reading the time index to split by window"))?;
    let starts: Vec<i64> = ts
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .map(|t| window_start(*t, window))
        .collect();
    let distinct: BTreeSet<i64> = starts.iter().copied().collect();
    if distinct.len() == 1 {
        return Ok(distinct.into_iter().map(|s| (s, batch.clone())).collect());
    }
    distinct
        .into_iter()
        .map(|s| {
            let mask: BooleanArray = starts.iter().map(|x| Some(*x == s)).collect();
            arrow::compute::filter_record_batch(batch, &mask)
                .map(|part| (s, part))
                .map_err(arrow_err("splitting a batch by window"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::metadata::{OpType, RegionMetadata};
    use crate::engine::read::merge::MergeReader;
    use crate::engine::sst::reader::SstReader;
    use crate::engine::test_util::{cpu_batch, cpu_metadata};

    /// `rows` as a memtable-like sorted source in the full read schema.
    fn source(metadata: &Arc<RegionMetadata>, rows: &[(&str, i64, f64)]) -> BatchSource {
        let memtable = Arc::new(crate::engine::memtable::Memtable::new(0, metadata.clone()));
        memtable.write(&cpu_batch(rows), 1, OpType::Put).unwrap();
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        Box::new(memtable.iter(format, TimeRange::all(), 3))
    }

    fn read_back(format: &Arc<ReadFormat>, sst: &EncodedSst) -> Vec<(String, i64)> {
        let reader = SstReader::open(
            "test".to_string(),
            sst.bytes.clone(),
            format.clone(),
            TimeRange::all(),
            1024,
        )
        .unwrap();
        let merged = MergeReader::new(
            format.clone(),
            vec![Box::new(reader)],
            TimeRange::all(),
            true,
            1024,
        )
        .unwrap();
        let mut rows = Vec::new();
        for batch in merged {
            let batch = batch.unwrap();
            let host = batch.column(0).as_string::<i32>();
            let ts = arrow::compute::cast(batch.column(1), &DataType::Int64).unwrap();
            let ts = ts.as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                rows.push((host.value(i).to_string(), ts.value(i)));
            }
        }
        rows
    }

    #[test]
    fn one_file_per_window_each_sorted_and_inside_its_window() {
        let metadata = Arc::new(cpu_metadata());
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        let rows = [
            ("a", 5, 1.0),
            ("a", 12, 1.0),
            ("a", 25, 1.0),
            ("b", -3, 1.0),
            ("b", 11, 1.0),
            ("b", 19, 1.0),
        ];
        let mut opened = Vec::new();
        let ssts = encode_by_window(&format, 10, 0, |range| {
            opened.push(range);
            Ok(source(&metadata, &rows))
        })
        .unwrap();
        assert_eq!(opened, vec![TimeRange::all()]);
        let ranges: Vec<_> = ssts.iter().map(|s| s.meta.time_range).collect();
        assert_eq!(
            ranges,
            vec![
                TimeRange::new(-3, -3),
                TimeRange::new(5, 5),
                TimeRange::new(11, 19),
                TimeRange::new(25, 25)
            ]
        );
        assert_eq!(
            read_back(&format, &ssts[2]),
            vec![
                ("a".to_string(), 12),
                ("b".to_string(), 11),
                ("b".to_string(), 19)
            ]
        );
        assert!(ssts.iter().all(|s| s.meta.level == 0));
    }

    #[test]
    fn more_windows_than_encoders_take_further_passes() {
        let metadata = Arc::new(cpu_metadata());
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        // 20 windows of size 10, two hosts each.
        let rows: Vec<(&str, i64, f64)> = (0..20)
            .flat_map(|w| [("a", w * 10 + 1, 1.0), ("b", w * 10 + 2, 2.0)])
            .collect();
        let mut passes = 0;
        let ssts = encode_by_window(&format, 10, 1, |_| {
            passes += 1;
            Ok(source(&metadata, &rows))
        })
        .unwrap();
        assert_eq!(passes, 20usize.div_ceil(MAX_OPEN_WINDOWS));
        assert_eq!(ssts.len(), 20);
        for (w, sst) in ssts.iter().enumerate() {
            let w = w as i64;
            assert_eq!(sst.meta.time_range, TimeRange::new(w * 10 + 1, w * 10 + 2));
            assert_eq!(sst.meta.num_rows, 2);
            assert_eq!(sst.meta.level, 1);
        }
    }

    #[test]
    fn source_errors_are_returned() {
        let metadata = Arc::new(cpu_metadata());
        let format = ReadFormat::new(metadata.clone(), None);
        let failing = |_| -> Result<BatchSource> {
            Ok(Box::new(
                source(
                    &metadata,
                    &[("a", 1, 1.0), ("a", 2, 1.0), ("a", 3, 1.0), ("a", 40, 1.0)],
                )
                .chain(std::iter::once(Err(Error::WorkerStopped("boom".into())))),
            ))
        };
        let err = encode_by_window(&format, 10, 0, failing).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }
}
