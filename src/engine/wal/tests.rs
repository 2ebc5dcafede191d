//! Unit tests of the WAL: round trips, replay filtering, rolls, group commit, obsolete
//! segments, reopen, poisoning and the format constants. Damage and repair: `recovery.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::segment::{self, ScanEnd};
use super::*;
use crate::engine::codec;

mod fuzz;
mod recovery;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("cpu", DataType::Float64, true),
    ]))
}

/// `rows` rows starting at timestamp `start`; every third host and every fourth value null.
fn batch(start: i64, rows: usize) -> RecordBatch {
    let hosts: StringArray = (0..rows)
        .map(|i| (i % 3 != 2).then(|| format!("host-{}-é", start + i as i64)))
        .collect();
    let ts: TimestampMillisecondArray = (0..rows).map(|i| Some(start + i as i64)).collect();
    let cpu: Float64Array = (0..rows)
        .map(|i| (i % 4 != 3).then_some(i as f64 * 0.5 - 1.25))
        .collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(hosts), Arc::new(ts), Arc::new(cpu)];
    RecordBatch::try_new(schema(), columns).unwrap()
}

fn entry(sequence: SequenceNumber, rows: usize) -> WalEntry {
    WalEntry {
        sequence,
        op_type: if sequence.is_multiple_of(2) {
            OpType::Delete
        } else {
            OpType::Put
        },
        batch: batch(sequence as i64 * 1000, rows),
    }
}

fn replay_all(wal: &Wal, after: SequenceNumber) -> (Vec<WalEntry>, ReplayStats) {
    let mut entries = Vec::new();
    let stats = wal
        .replay(after, &mut |e| {
            entries.push(e);
            Ok(())
        })
        .unwrap();
    (entries, stats)
}

fn sequences(entries: &[WalEntry]) -> Vec<SequenceNumber> {
    entries.iter().map(|e| e.sequence).collect()
}

fn segment_ids(dir: &Path) -> Vec<u64> {
    segment::list(dir)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment::file_name(id))
}

/// Byte offsets of the frames of a segment file.
fn frame_offsets(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    let mut offsets = Vec::new();
    let end = segment::scan(path, &bytes, false, &mut |offset, _, _| {
        offsets.push(offset);
        Ok(())
    })
    .unwrap();
    assert_eq!(end, ScanEnd::Clean);
    offsets
}

/// Writes `entries` into a fresh WAL in `dir` and closes it; returns the segment written.
async fn write_closed(dir: &Path, entries: &[WalEntry]) -> PathBuf {
    let wal = Wal::open(dir, WalOptions::default()).unwrap();
    for e in entries {
        wal.append(e.clone()).await.unwrap();
    }
    let active = wal.shared.segments().active;
    wal.close().unwrap();
    seg_path(dir, active)
}

fn open_err(dir: &Path) -> Error {
    Wal::open(dir, WalOptions::default()).unwrap_err()
}

#[tokio::test]
async fn round_trip_with_strings_floats_timestamps_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let written = vec![entry(1, 5), entry(6, 1), entry(7, 0), entry(7, 100)];
    write_closed(dir.path(), &written).await;

    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    assert_eq!(read.len(), written.len());
    for (r, w) in read.iter().zip(&written) {
        assert_eq!(r.sequence, w.sequence);
        assert_eq!(r.op_type, w.op_type);
        assert_eq!(r.batch, w.batch);
    }
    assert_eq!(stats.entries, 4);
    assert_eq!(stats.rows, 106);
    assert_eq!(stats.truncated_tail_bytes, 0);
    assert_eq!(wal.max_sequence(), Some(106));
}

#[test]
fn last_sequence_counts_rows() {
    assert_eq!(entry(10, 5).last_sequence(), 14);
    assert_eq!(entry(10, 1).last_sequence(), 10);
    assert_eq!(entry(10, 0).last_sequence(), 10);
    assert_eq!(entry(u64::MAX, 3).last_sequence(), u64::MAX);
}

#[tokio::test]
async fn replay_skips_entries_at_or_below_after() {
    let dir = tempfile::tempdir().unwrap();
    // Sequences 1..=10, 11..=20, 21..=30.
    write_closed(dir.path(), &[entry(1, 10), entry(11, 10), entry(21, 10)]).await;
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    for (after, expected) in [
        (0, vec![1, 11, 21]),
        (9, vec![1, 11, 21]),
        (10, vec![11, 21]),
        (15, vec![11, 21]),
        (29, vec![21]),
        (30, vec![]),
        (u64::MAX, vec![]),
    ] {
        let (read, stats) = replay_all(&wal, after);
        assert_eq!(sequences(&read), expected, "after {after}");
        assert_eq!(stats.entries, expected.len() as u64);
        assert_eq!(stats.rows, 10 * expected.len() as u64);
    }
}

#[tokio::test]
async fn replay_stops_at_apply_error_and_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    write_closed(dir.path(), &[entry(1, 2), entry(3, 2), entry(5, 2)]).await;
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let mut seen = Vec::new();
    let err = wal
        .replay(0, &mut |e| {
            seen.push(e.sequence);
            if e.sequence == 3 {
                return Err(crate::engine::Error::WorkerStopped("boom".to_string()));
            }
            Ok(())
        })
        .unwrap_err();
    assert_eq!(seen, vec![1, 3]);
    assert!(matches!(err, Error::Apply { sequence: 3, .. }), "{err:?}");
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.to_string().contains("boom"));
}

#[tokio::test]
async fn entries_across_rolls_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        wal.append(entry(1, 3)).await.unwrap();
        wal.append(entry(4, 3)).await.unwrap();
        wal.roll().await.unwrap();
        wal.roll().await.unwrap(); // No entry since the last roll: a no-op.
        wal.append(entry(7, 3)).await.unwrap();
        wal.roll().await.unwrap();
        wal.append(entry(10, 3)).await.unwrap();
        assert_eq!(segment_ids(dir.path()), vec![1, 2, 3]);
        wal.close().unwrap();
    }
    assert_eq!(frame_offsets(&seg_path(dir.path(), 1)).len(), 2);
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, _) = replay_all(&wal, 0);
    assert_eq!(sequences(&read), vec![1, 4, 7, 10]);
    assert_eq!(segment_ids(dir.path()), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn size_limit_rolls_segments() {
    let dir = tempfile::tempdir().unwrap();
    let frame_len = entry::encode_entry_frame(&entry(1, 4)).unwrap().len() as u64;
    let limit = codec::FILE_HEADER_LEN as u64 + 2 * frame_len;
    let options = WalOptions {
        segment_size_limit_bytes: limit,
        ..WalOptions::default()
    };
    let wal = Wal::open(dir.path(), options.clone()).unwrap();
    for i in 0..5 {
        wal.append(entry(1 + 4 * i, 4)).await.unwrap();
    }
    // Two entries fit in a segment; the fifth starts a third one.
    assert_eq!(segment_ids(dir.path()), vec![1, 2, 3]);
    for id in [1, 2] {
        let len = std::fs::metadata(seg_path(dir.path(), id)).unwrap().len();
        assert!(len <= limit, "segment {id} has {len} bytes");
    }
    wal.close().unwrap();

    // An entry larger than the limit still gets written, alone in its segment.
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        dir.path(),
        WalOptions {
            segment_size_limit_bytes: 1,
            ..WalOptions::default()
        },
    )
    .unwrap();
    for i in 0..3 {
        wal.append(entry(1 + 4 * i, 4)).await.unwrap();
    }
    assert_eq!(segment_ids(dir.path()), vec![1, 2, 3]);
    drop(wal);
    let wal = Wal::open(dir.path(), options).unwrap();
    assert_eq!(sequences(&replay_all(&wal, 0).0), vec![1, 5, 9]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_group_committed_and_all_replayed() {
    const TASKS: u64 = 32;
    const PER_TASK: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), WalOptions::default()).unwrap());
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let wal = wal.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                // Each entry has 2 rows: sequences 2k+1, 2k+2.
                wal.append(entry(2 * (task * PER_TASK + i) + 1, 2))
                    .await
                    .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let appends = TASKS * PER_TASK;
    let syncs = wal.sync_count();
    assert!(syncs < appends, "{syncs} syncs for {appends} appends");
    assert_eq!(wal.max_sequence(), Some(2 * appends));
    wal.close().unwrap();
    drop(wal);

    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    let mut seqs = sequences(&read);
    seqs.sort_unstable();
    let expected: Vec<u64> = (0..appends).map(|k| 2 * k + 1).collect();
    assert_eq!(seqs, expected);
    assert_eq!(stats.rows, 2 * appends);
}

#[tokio::test]
async fn obsolete_deletes_only_fully_flushed_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(entry(1, 10)).await.unwrap(); // segment 1: 1..=10
    wal.roll().await.unwrap();
    wal.append(entry(11, 10)).await.unwrap(); // segment 2: 11..=20
    wal.roll().await.unwrap();
    wal.append(entry(21, 10)).await.unwrap(); // segment 3 (active): 21..=30

    wal.obsolete(9).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![1, 2, 3]);
    wal.obsolete(15).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![2, 3]);
    wal.obsolete(20).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![3]);
    wal.obsolete(u64::MAX).unwrap();
    assert_eq!(
        segment_ids(dir.path()),
        vec![3],
        "the active segment is never deleted"
    );
    wal.append(entry(31, 1)).await.unwrap();
    drop(wal);

    // After a reopen the old active segment is closed and can be deleted.
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(sequences(&replay_all(&wal, 20).0), vec![21, 31]);
    wal.obsolete(30).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![3, 4]);
    wal.obsolete(31).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![4]);
    // Replay skips a recovered segment that `obsolete` deleted.
    assert!(replay_all(&wal, 0).0.is_empty());
    drop(wal);
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![5]);
    wal.obsolete(u64::MAX).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![5]);
    assert!(replay_all(&wal, 0).0.is_empty());
    assert_eq!(wal.max_sequence(), None);
}

#[tokio::test]
async fn reopen_after_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(entry(1, 2)).await.unwrap();
    wal.append(entry(3, 2)).await.unwrap();
    wal.close().unwrap();
    wal.close().unwrap(); // Idempotent.
    assert!(matches!(
        wal.append(entry(5, 1)).await,
        Err(Error::WriterStopped)
    ));
    assert!(matches!(wal.roll().await, Err(Error::WriterStopped)));
    drop(wal);

    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(sequences(&replay_all(&wal, 0).0), vec![1, 3]);
    assert_eq!(wal.max_sequence(), Some(4));
    let err = wal.append(entry(4, 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SequenceRegression {
                sequence: 4,
                recovered: 4
            }
        ),
        "{err:?}"
    );
    wal.append(entry(5, 1)).await.unwrap();
    drop(wal); // Drop closes too.

    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    assert_eq!(sequences(&read), vec![1, 3, 5]);
    assert_eq!(stats.rows, 5);
    assert!(format!("{wal:?}").contains("Wal"));
}

#[tokio::test]
async fn failed_segment_creation_poisons_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(entry(1, 1)).await.unwrap();
    // Occupy the next segment's name so that creating it fails.
    std::fs::create_dir(seg_path(dir.path(), 2)).unwrap();
    let err = wal.roll().await.unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    let err = wal.append(entry(2, 1)).await.unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    assert!(err.to_string().contains("reopen"), "{err}");
    wal.close().unwrap();
}

#[test]
fn format_spec() {
    // The numbers stated in docs/FORMAT.md, section "WAL".
    assert_eq!(segment::MAGIC, *b"TSWL");
    assert_eq!(segment::FORMAT_VERSION, 1);
    assert_eq!(codec::FILE_HEADER_LEN, 6);
    assert_eq!(codec::FRAME_PREFIX_LEN, 5);
    assert_eq!(codec::FRAME_SUFFIX_LEN, 4);
    assert_eq!(entry::RECORD_TYPE_ENTRY, 1);
    assert_eq!(entry::SEQUENCE_LEN, 8);
    assert_eq!(entry::OP_TYPE_LEN, 1);
    assert_eq!(entry::ENTRY_HEADER_LEN, 9);
    assert_eq!(segment::file_name(42), "00000000000000000042.wal");
    assert_eq!(
        segment::parse_file_name("00000000000000000042.wal"),
        Some(42)
    );
    assert_eq!(segment::parse_file_name("42.wal"), None);
    assert_eq!(
        segment::parse_file_name("00000000000000000042.wal.tmp"),
        None
    );
    assert_eq!(WalOptions::default().segment_size_limit_bytes, 64 << 20);

    let mut header = Vec::new();
    codec::encode_header(&mut header, segment::MAGIC, segment::FORMAT_VERSION);
    assert_eq!(header, b"TSWL\x01\x00");
    let e = WalEntry {
        sequence: 0x0102_0304_0506_0708,
        op_type: OpType::Delete,
        batch: batch(0, 1),
    };
    let frame = entry::encode_entry_frame(&e).unwrap();
    assert_eq!(
        &frame[frame.len() - 12..frame.len() - 4],
        &entry::IPC_END_OF_STREAM
    );
    assert_eq!(frame[4], 1, "record type");
    assert_eq!(&frame[5..13], &[8, 7, 6, 5, 4, 3, 2, 1], "sequence u64 LE");
    assert_eq!(frame[13], OpType::Delete as u8);
    assert_eq!(&frame[14..18], &[0xff; 4], "Arrow IPC continuation marker");

    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let wal = doc.split("\n## WAL").nth(1).unwrap();
    let wal = wal.split("\n## ").next().unwrap();
    for needle in [
        "`TSWL`",
        "`{segment_id:020}.wal`",
        "54 53 57 4C 01 00",
        "| 8 |",
        "| 1 |",
    ] {
        assert!(wal.contains(needle), "FORMAT.md WAL section lacks {needle}");
    }
}
