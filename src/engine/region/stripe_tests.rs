//! Stripes of one snapshot return every row exactly once, and a snapshot hides later writes.

use crate::engine::region::{RegionRef, ScanRequest, Stripe};
use crate::engine::test_util::{cpu_batch, cpu_metadata, scan_cpu_rows};
use crate::engine::time_range::TimeRange;
use crate::engine::{Engine, EngineOptions};

const HOUR: i64 = 3_600_000;

/// `hosts` hosts x `points` timestamps 10 s apart from `start` (ms), value `v`.
async fn write_window(region: &RegionRef, start: i64, hosts: usize, points: i64, v: f64) {
    let names: Vec<String> = (0..hosts).map(|h| format!("host_{h:04}")).collect();
    let rows: Vec<(&str, i64, f64)> = names
        .iter()
        .flat_map(|h| (0..points).map(move |p| (h.as_str(), start + p * 10_000, v)))
        .collect();
    for chunk in rows.chunks(50_000) {
        region.write(cpu_batch(chunk)).await.unwrap();
    }
}

fn sorted(mut rows: Vec<(String, i64, f64)>) -> Vec<(String, i64, f64)> {
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    rows
}

/// Three runs: a file of three row groups (hour 0), a file overlapped by unflushed rows
/// (hour 1, merged), and rows only in the memtable (hour 2): for 1 to 4 stripes, the stripes
/// together return the whole scan, each row once, also when narrowed differently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripes_of_one_snapshot_cover_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    // 700 hosts x 360 points = 252,000 rows: three row groups of 102,400 rows at most.
    write_window(&region, 0, 700, 360, 1.0).await;
    region.flush().await.unwrap();
    write_window(&region, HOUR, 20, 360, 2.0).await;
    region.flush().await.unwrap();
    write_window(&region, HOUR + 1_800_000, 10, 100, 3.0).await;
    write_window(&region, 2 * HOUR, 5, 50, 4.0).await;

    let snapshot = region.snapshot();
    let whole = sorted(scan_cpu_rows(&region, ScanRequest::default()).await);
    assert_eq!(whole.len(), 252_000 + 7_200 + 250);
    for count in 1..=4 {
        let mut union = Vec::new();
        for index in 0..count {
            let request = ScanRequest {
                snapshot: Some(snapshot.clone()),
                stripe: Some(Stripe { index, count }),
                ..ScanRequest::default()
            };
            union.extend(scan_cpu_rows(&region, request).await);
        }
        assert_eq!(sorted(union), whole, "{count} stripes");
    }

    // A stripe narrowed by a dynamic bound keeps its own share: the rows of the bound.
    let bound = TimeRange::new(HOUR, 2 * HOUR + 100_000);
    for index in 0..2 {
        let stripe = Some(Stripe { index, count: 2 });
        let full = ScanRequest {
            snapshot: Some(snapshot.clone()),
            stripe,
            ..ScanRequest::default()
        };
        let narrowed = ScanRequest {
            dynamic_range: Some(bound),
            ..full.clone()
        };
        let expected: Vec<_> = scan_cpu_rows(&region, full)
            .await
            .into_iter()
            .filter(|r| bound.contains(r.1))
            .collect();
        let got = scan_cpu_rows(&region, narrowed).await;
        assert_eq!(sorted(got), sorted(expected), "stripe {index}");
    }
    engine.close().await.unwrap();
}

/// Rows written after a snapshot are not seen by scans of it, in the memtable it shares.
#[tokio::test]
async fn a_snapshot_hides_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    region.write(cpu_batch(&[("a", 1, 1.0)])).await.unwrap();
    let snapshot = region.snapshot();
    region
        .write(cpu_batch(&[("a", 1, 2.0), ("b", 5_000_000, 3.0)]))
        .await
        .unwrap();
    let old = ScanRequest {
        snapshot: Some(snapshot),
        ..ScanRequest::default()
    };
    assert_eq!(
        scan_cpu_rows(&region, old).await,
        vec![("a".to_string(), 1, 1.0)]
    );
    assert_eq!(
        scan_cpu_rows(&region, ScanRequest::default()).await.len(),
        2
    );
    engine.close().await.unwrap();
}

/// A file whose only rows are a put and a tombstone (of a row no other file holds) is read
/// without the merge: the tombstone must still be dropped, while files of puts only skip the
/// op-type check (their statistics say so) and return every row.
#[tokio::test]
async fn a_lone_file_with_a_tombstone_hides_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    region
        .write(cpu_batch(&[("a", 1, 1.0), ("b", 1, 2.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    region
        .write(cpu_batch(&[("d", 10 * HOUR, 4.0)]))
        .await
        .unwrap();
    region
        .delete(cpu_batch(&[("c", 10 * HOUR, 0.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    assert_eq!(region.version().files.len(), 2);
    let rows = sorted(scan_cpu_rows(&region, ScanRequest::default()).await);
    let expected = vec![
        ("a".to_string(), 1, 1.0),
        ("b".to_string(), 1, 2.0),
        ("d".to_string(), 10 * HOUR, 4.0),
    ];
    assert_eq!(rows, expected);
    engine.close().await.unwrap();
}
