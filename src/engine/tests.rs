//! End-to-end tests of the engine through its public API: write, scan, flush, overwrite,
//! delete, reopen (WAL replay), compaction.

mod crash;
mod io_errors;

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use futures::TryStreamExt;

use crate::engine::metadata::{RegionId, RegionMetadata};
use crate::engine::region::{RegionRef, ScanRequest};
use crate::engine::time_range::TimeRange;
use crate::engine::{Engine, EngineOptions};

use crate::engine::test_util::{cpu_batch as batch, cpu_metadata as metadata};

async fn scan(region: &RegionRef, request: ScanRequest) -> Vec<(String, i64, f64)> {
    crate::engine::test_util::scan_cpu_rows(region, request).await
}

fn rows(expected: &[(&str, i64, f64)]) -> Vec<(String, i64, f64)> {
    expected
        .iter()
        .map(|(h, t, c)| (h.to_string(), *t, *c))
        .collect()
}

#[tokio::test]
async fn write_flush_overwrite_reopen_compact() {
    let dir = tempfile::tempdir().unwrap();
    let id = RegionId::new(1, 0);
    {
        let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
        let region = engine.create_region(metadata()).await.unwrap();
        region
            .write(batch(&[("b", 2, 1.0), ("a", 1, 2.0), ("a", 3, 3.0)]))
            .await
            .unwrap();
        region.flush().await.unwrap();
        assert_eq!(region.version().files.len(), 1);
        // Overwrite one row, delete another, add one; half in a second SST, half in memory.
        region.write(batch(&[("a", 1, 20.0)])).await.unwrap();
        region.flush().await.unwrap();
        region.delete(batch(&[("b", 2, 0.0)])).await.unwrap();
        region.write(batch(&[("c", 5, 5.0)])).await.unwrap();
        let expected = rows(&[("a", 1, 20.0), ("a", 3, 3.0), ("c", 5, 5.0)]);
        assert_eq!(scan(&region, ScanRequest::default()).await, expected);
        engine.close().await.unwrap();
    }
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(id).await.unwrap();
    let expected = rows(&[("a", 1, 20.0), ("a", 3, 3.0), ("c", 5, 5.0)]);
    assert_eq!(scan(&region, ScanRequest::default()).await, expected);
    let ranged = ScanRequest {
        time_range: TimeRange::new(2, 4),
        ..ScanRequest::default()
    };
    assert_eq!(scan(&region, ranged).await, rows(&[("a", 3, 3.0)]));

    region.flush().await.unwrap();
    region.compact().await.unwrap();
    let version = region.version();
    assert_eq!(version.files.len(), 1, "three overlapping files become one");
    assert_eq!(scan(&region, ScanRequest::default()).await, expected);
    // Sequences continue after the replayed and flushed ones: a new write still wins.
    region.write(batch(&[("a", 3, 30.0)])).await.unwrap();
    engine.close().await.unwrap();
    drop(engine);
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(id).await.unwrap();
    assert_eq!(
        scan(&region, ScanRequest::default()).await,
        rows(&[("a", 1, 20.0), ("a", 3, 30.0), ("c", 5, 5.0)])
    );
    engine.drop_region(id).await.unwrap();
    assert!(engine.list_regions().await.unwrap().is_empty());
}

#[tokio::test]
async fn memtable_limit_triggers_background_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    options.memtable_size_limit_bytes = 4096;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    for i in 0..50 {
        let rows: Vec<(&str, i64, f64)> = (0..20).map(|j| ("h", i * 20 + j, j as f64)).collect();
        region.write(batch(&rows)).await.unwrap();
    }
    for _ in 0..100 {
        if !region.version().files.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!region.version().files.is_empty(), "a flush produced SSTs");
    assert_eq!(scan(&region, ScanRequest::default()).await.len(), 1000);
}

#[tokio::test]
async fn projection_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    region
        .write(batch(&[("a", 1, 1.0), ("b", 1, 2.0)]))
        .await
        .unwrap();
    let (schema, stream) = region
        .scan(ScanRequest {
            projection: Some(vec![2]),
            ..ScanRequest::default()
        })
        .unwrap();
    assert_eq!(schema.fields().len(), 1);
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    assert_eq!(batches[0].num_columns(), 1);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);

    // No column at all (count(*)): batches still carry their row counts.
    let (schema, stream) = region
        .scan(ScanRequest {
            projection: Some(vec![]),
            ..ScanRequest::default()
        })
        .unwrap();
    assert!(schema.fields().is_empty());
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[tokio::test]
async fn damaged_or_missing_sst_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    region
        .write(batch(&[("a", 1, 1.0), ("b", 2, 2.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    let file_id = *region.version().files.keys().next().unwrap();
    let path = dir
        .path()
        .join(format!("regions/1_0/sst/{file_id}.parquet"));
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let (_, stream) = region.scan(ScanRequest::default()).unwrap();
    let error = stream
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&file_id.to_string()) && error.contains("CRC-32"),
        "{error}"
    );

    std::fs::remove_file(&path).unwrap();
    let (_, stream) = region.scan(ScanRequest::default()).unwrap();
    let error = stream
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("missing") && error.contains(&file_id.to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn invalid_writes_are_rejected_before_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    let null_ts = RecordBatch::try_new(
        metadata().arrow_schema_nullable_for_test(),
        vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(TimestampMillisecondArray::from(vec![None])),
            Arc::new(Float64Array::from(vec![1.0])),
        ],
    )
    .unwrap();
    let error = region.write(null_ts).await.unwrap_err().to_string();
    assert!(error.contains("'ts' cannot be NULL"), "{error}");
    assert!(scan(&region, ScanRequest::default()).await.is_empty());
}

impl RegionMetadata {
    fn arrow_schema_nullable_for_test(&self) -> arrow::datatypes::SchemaRef {
        let fields: Vec<_> = self
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        Arc::new(arrow::datatypes::Schema::new(fields))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_region_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    // Small memtables: freezes and flushes interleave with the writers.
    options.memtable_size_limit_bytes = 16 << 10;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    let writers: Vec<_> = (0..32)
        .map(|i| {
            let region = region.clone();
            tokio::spawn(async move {
                for j in 0..20 {
                    let host = format!("h{i}");
                    region
                        .write(batch(&[(host.as_str(), j, j as f64)]))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        region.wal.sync_count() < 640,
        "{} fsyncs for 640 writes",
        region.wal.sync_count()
    );
    assert_eq!(scan(&region, ScanRequest::default()).await.len(), 640);
    engine.close().await.unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(RegionId::new(1, 0)).await.unwrap();
    assert_eq!(scan(&region, ScanRequest::default()).await.len(), 640);
}

/// SSTs whose time ranges overlap nothing else are read without the merge: their rows are
/// already unique, only the time range and tombstones are applied.
#[tokio::test]
async fn disjoint_files_skip_the_merge_but_not_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    region
        .write(batch(&[("b", 10, 1.0), ("a", 11, 2.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    region
        .write(batch(&[("a", 20, 3.0), ("b", 21, 4.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    // A file holding a tombstone (its row was written and deleted before the flush).
    region
        .write(batch(&[("a", 30, 6.0), ("c", 31, 5.0)]))
        .await
        .unwrap();
    region.delete(batch(&[("a", 30, 0.0)])).await.unwrap();
    region.flush().await.unwrap();
    assert_eq!(region.version().files.len(), 3);
    region.write(batch(&[("z", 40, 7.0)])).await.unwrap();

    // Groups come out in time order, each sorted by (tags, ts).
    let expected = rows(&[
        ("a", 11, 2.0),
        ("b", 10, 1.0),
        ("a", 20, 3.0),
        ("b", 21, 4.0),
        ("c", 31, 5.0),
        ("z", 40, 7.0),
    ]);
    assert_eq!(scan(&region, ScanRequest::default()).await, expected);
    let ranged = ScanRequest {
        time_range: TimeRange::new(11, 20),
        ..ScanRequest::default()
    };
    assert_eq!(
        scan(&region, ranged).await,
        rows(&[("a", 11, 2.0), ("a", 20, 3.0)])
    );

    // A memtable overlapping the first file puts both through the merge: the newer row wins.
    region.write(batch(&[("b", 10, 100.0)])).await.unwrap();
    let mut all = scan(&region, ScanRequest::default()).await;
    all.sort_by(|x, y| (x.1, &x.0).cmp(&(y.1, &y.0)));
    assert_eq!(
        all,
        rows(&[
            ("b", 10, 100.0),
            ("a", 11, 2.0),
            ("a", 20, 3.0),
            ("b", 21, 4.0),
            ("c", 31, 5.0),
            ("z", 40, 7.0),
        ])
    );
    engine.close().await.unwrap();
}

/// Random writes, overwrites, deletes, flushes and compactions against an in-memory oracle:
/// a last-row scan returns, for every host, its newest row inside the time range, and no row
/// that a full scan would not return.
#[tokio::test]
async fn last_row_scans_match_an_oracle() {
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};

    use crate::engine::region::SeriesRowSelector;

    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(metadata()).await.unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let hosts = ["a", "b", "c", "d"];
    let mut oracle: BTreeMap<(String, i64), f64> = BTreeMap::new();
    for step in 0..120 {
        match rng.random_range(0..10) {
            0..=4 => {
                let rows: Vec<(&str, i64, f64)> = (0..rng.random_range(1..6))
                    .map(|_| {
                        let host = hosts[rng.random_range(0..hosts.len())];
                        (host, rng.random_range(0..40i64), f64::from(step))
                    })
                    .collect();
                region.write(batch(&rows)).await.unwrap();
                for (host, ts, v) in rows {
                    oracle.insert((host.to_string(), ts), v);
                }
            }
            5..=6 => {
                // Delete the newest row of a host, or a row that does not exist.
                let host = hosts[rng.random_range(0..hosts.len())];
                let ts = oracle
                    .keys()
                    .filter(|(h, _)| h == host)
                    .map(|(_, t)| *t)
                    .max()
                    .unwrap_or(7);
                region.delete(batch(&[(host, ts, 0.0)])).await.unwrap();
                oracle.remove(&(host.to_string(), ts));
            }
            7..=8 => region.flush().await.unwrap(),
            _ => region.compact().await.unwrap(),
        }
        let (min, max) = (rng.random_range(0..20i64), rng.random_range(20..45i64));
        let range = TimeRange::new(min, max);
        let request = ScanRequest {
            time_range: range,
            series_row_selector: Some(SeriesRowSelector::LastRow),
            ..ScanRequest::default()
        };
        let got = scan(&region, request).await;
        for (host, ts, v) in &got {
            assert!(
                range.contains(*ts),
                "step {step}: {host} {ts} outside {range:?}"
            );
            assert_eq!(oracle.get(&(host.clone(), *ts)), Some(v), "step {step}");
        }
        for host in hosts {
            let newest = oracle
                .iter()
                .rfind(|((h, t), _)| h == host && range.contains(*t));
            if let Some(((h, t), v)) = newest {
                assert!(
                    got.contains(&(h.clone(), *t, *v)),
                    "step {step}: newest {h} {t} missing from {got:?}"
                );
            }
        }
    }
}
