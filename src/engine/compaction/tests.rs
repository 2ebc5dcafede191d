//! Flush and compaction through `Region`: windowed flushes, overlap-free layout after
//! `compact`, results unchanged.

use std::sync::Arc;

use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::region::{RegionRef, ScanRequest};
use crate::engine::test_util::{cpu_batch, cpu_metadata};
use crate::engine::time_range::TimeRange;
use crate::engine::{Engine, EngineOptions};

const HOUR: i64 = 3_600_000;
const STEP: i64 = 10_000;
const HOSTS: [&str; 4] = ["h0", "h1", "h2", "h3"];

async fn scan_sorted(region: &RegionRef, time_range: TimeRange) -> Vec<(String, i64, f64)> {
    let request = ScanRequest {
        time_range,
        ..ScanRequest::default()
    };
    let mut rows = crate::engine::test_util::scan_cpu_rows(region, request).await;
    rows.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    rows
}

/// Every host at every `STEP` in `[from, to)`, with a value derived from `(ts, salt)`.
fn rows(from: i64, to: i64, salt: f64) -> Vec<(&'static str, i64, f64)> {
    (from / STEP..to / STEP)
        .flat_map(|i| HOSTS.map(|h| (h, i * STEP, i as f64 + salt)))
        .collect()
}

fn time_ranges(region: &RegionRef) -> Vec<TimeRange> {
    let mut ranges: Vec<_> = region
        .version()
        .files
        .values()
        .map(|f| f.meta().time_range)
        .collect();
    ranges.sort_by_key(|r| r.min);
    ranges
}

fn assert_pairwise_disjoint(ranges: &[TimeRange]) {
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            assert!(!a.overlaps(b), "{a:?} overlaps {b:?} in {ranges:?}");
        }
    }
}

/// The checks shared by the layout tests: whole-range and windowed scans before and after
/// `compact` agree, and afterwards no two files overlap and none straddles a window.
async fn compact_and_check(region: &RegionRef, window: i64) -> Vec<TimeRange> {
    let probes = [
        TimeRange::all(),
        TimeRange::new(HOUR - 5 * STEP, HOUR + 5 * STEP),
        TimeRange::new(2 * HOUR + 1, 3 * HOUR),
    ];
    let mut before = Vec::new();
    for probe in probes {
        before.push(scan_sorted(region, probe).await);
    }
    region.compact().await.unwrap();
    for (probe, expected) in probes.iter().zip(&before) {
        assert_eq!(&scan_sorted(region, *probe).await, expected, "{probe:?}");
    }
    let ranges = time_ranges(region);
    assert_pairwise_disjoint(&ranges);
    for r in &ranges {
        assert_eq!(r.min.div_euclid(window), r.max.div_euclid(window), "{r:?}");
    }
    ranges
}

/// What a CSV `COPY FROM` read as two byte-range partitions does: batches of the first and
/// the second half of the time span alternate, so every flush spans most of the data.
#[tokio::test]
async fn interleaved_halves_compact_into_disjoint_windows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    let half = 3 * HOUR / 2;
    let chunk = 15 * 60 * 1000;
    for (n, start) in (0..half).step_by(chunk as usize).enumerate() {
        for from in [start, start + half] {
            region
                .write(cpu_batch(&rows(from, from + chunk, 0.0)))
                .await
                .unwrap();
        }
        if n % 2 == 1 {
            region.flush().await.unwrap();
        }
    }
    region.flush().await.unwrap();
    let manifest_window = region
        .manifest
        .lock()
        .await
        .manifest()
        .compaction_time_window;
    assert_eq!(
        manifest_window,
        Some(HOUR),
        "the first flush records the window"
    );
    // Overwrites and deletes across window boundaries, some flushed, some in memory.
    region
        .write(cpu_batch(&rows(HOUR - 3 * STEP, HOUR + 3 * STEP, 0.5)))
        .await
        .unwrap();
    region
        .delete(cpu_batch(&rows(2 * HOUR - STEP, 2 * HOUR + STEP, 0.0)))
        .await
        .unwrap();
    region.flush().await.unwrap();
    let flushed = time_ranges(&region);
    for r in &flushed {
        assert_eq!(
            r.min.div_euclid(HOUR),
            r.max.div_euclid(HOUR),
            "flushed {r:?}"
        );
    }
    region
        .write(cpu_batch(&rows(
            2 * HOUR - 10 * STEP,
            2 * HOUR - 5 * STEP,
            0.25,
        )))
        .await
        .unwrap();

    let ranges = compact_and_check(&region, HOUR).await;
    assert_eq!(ranges.len(), 3, "one file per hour: {ranges:?}");
    let all = scan_sorted(&region, TimeRange::all()).await;
    assert_eq!(all.len(), 3 * 360 * HOSTS.len() - 2 * HOSTS.len());

    // The layout and the window survive a reopen.
    region.flush().await.unwrap();
    engine.close().await.unwrap();
    drop(engine);
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(cpu_metadata().region_id).await.unwrap();
    assert_eq!(scan_sorted(&region, TimeRange::all()).await, all);
    assert_eq!(
        region
            .manifest
            .lock()
            .await
            .manifest()
            .compaction_time_window,
        Some(HOUR)
    );
    engine.close().await.unwrap();
}

/// Files written under a larger window (or before windowed flushes) straddle the current
/// window's boundaries and overlap each other across windows; compaction cuts them.
#[tokio::test]
async fn files_straddling_windows_are_cut_at_the_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    // A 12 h window: the 3 h load lands in one window, files overlap.
    set_window(&region, 12 * HOUR).await;
    region
        .write(cpu_batch(&rows(0, 2 * HOUR, 0.0)))
        .await
        .unwrap();
    region.flush().await.unwrap();
    region
        .write(cpu_batch(&rows(HOUR / 2, 3 * HOUR, 1.0)))
        .await
        .unwrap();
    region.flush().await.unwrap();
    // The background compaction after the second flush may or may not have merged the
    // overlapping pair into one 3 h file by now; either layout must end up cut per hour.
    set_window(&region, HOUR).await;
    let ranges = compact_and_check(&region, HOUR).await;
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    engine.close().await.unwrap();
}

async fn set_window(region: &RegionRef, window: i64) {
    let _flush = region.flush_lock.lock().await;
    region
        .manifest
        .lock()
        .await
        .update(vec![ManifestAction::Edit(RegionEdit {
            compaction_time_window: Some(window),
            ..RegionEdit::default()
        })])
        .await
        .unwrap();
}

#[tokio::test]
async fn memtable_only_sst_only_and_mixed_reads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region: Arc<_> = engine.create_region(cpu_metadata()).await.unwrap();
    // Out of time order: the last hour first.
    region
        .write(cpu_batch(&rows(2 * HOUR, 3 * HOUR, 0.0)))
        .await
        .unwrap();
    region
        .write(cpu_batch(&rows(0, 2 * HOUR, 0.0)))
        .await
        .unwrap();
    let memtable_only = scan_sorted(&region, TimeRange::all()).await;
    region.flush().await.unwrap();
    assert_eq!(scan_sorted(&region, TimeRange::all()).await, memtable_only);
    assert_eq!(time_ranges(&region).len(), 3);
    region
        .write(cpu_batch(&rows(HOUR, HOUR + 10 * STEP, 7.0)))
        .await
        .unwrap();
    let mixed = scan_sorted(&region, TimeRange::all()).await;
    assert_ne!(mixed, memtable_only);
    compact_and_check(&region, HOUR).await;
    region.flush().await.unwrap();
    compact_and_check(&region, HOUR).await;
    assert_eq!(scan_sorted(&region, TimeRange::all()).await, mixed);
    assert_eq!(time_ranges(&region).len(), 3);
    engine.close().await.unwrap();
}
