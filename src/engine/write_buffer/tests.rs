//! Write buffer: accounting, stall, reject, flush order, many regions sharing one budget.

use std::sync::{Arc, Weak};

use futures::FutureExt;

use super::{MemtableTracker, WriteBufferManager, pick_flushes};
use crate::engine::error::Error;
use crate::engine::metadata::{RegionId, RegionMetadata};
use crate::engine::region::{RegionRef, ScanRequest};
use crate::engine::test_util::{cpu_batch, cpu_metadata, scan_cpu_rows};
use crate::engine::{Engine, EngineOptions};

fn manager(budget: usize) -> Arc<WriteBufferManager> {
    Arc::new(WriteBufferManager::new(budget, Weak::new()))
}

fn tracker(manager: &Arc<WriteBufferManager>) -> MemtableTracker {
    MemtableTracker::new(Some(manager.clone()))
}

#[test]
fn reserve_freeze_free_return_to_zero() {
    let m = manager(1000);
    let a = tracker(&m);
    let b = tracker(&m);
    a.on_allocation(300);
    b.on_allocation(100);
    assert_eq!((m.memory_usage(), m.mutable_usage()), (400, 400));
    assert!(!m.should_flush_engine());
    a.on_allocation(150);
    assert!(m.should_flush_engine(), "mutable 550 >= half the budget");
    a.on_freeze();
    assert_eq!((m.memory_usage(), m.mutable_usage()), (550, 100));
    assert!(!m.should_flush_engine());
    // Bytes a frozen memtable still allocates count until it is freed, never as mutable.
    a.on_allocation(10);
    assert_eq!((m.memory_usage(), m.mutable_usage()), (560, 100));
    a.on_free();
    a.on_free();
    assert_eq!((m.memory_usage(), m.mutable_usage()), (100, 100));
    // Dropping a memtable that was never flushed frees it.
    drop(b);
    assert_eq!((m.memory_usage(), m.mutable_usage()), (0, 0));
    assert_eq!(m.peak_usage(), 560);
    // Allocations after the free are not counted (the memtable is gone from the buffer).
    a.on_allocation(5);
    assert_eq!(m.memory_usage(), 0);
}

#[test]
fn untracked_memtable_counts_nothing() {
    let t = MemtableTracker::new(None);
    t.on_allocation(1 << 20);
    t.on_freeze();
    t.on_free();
    let m = manager(0);
    let tracked = tracker(&m);
    tracked.on_allocation(1 << 30);
    assert!(
        !m.should_flush_engine() && !m.should_stall(),
        "budget 0 disables"
    );
    assert_eq!(m.memory_usage(), 1 << 30, "but still accounts");
}

#[test]
fn largest_regions_are_flushed_first_until_under_target() {
    let r = |n| RegionId::new(n, 0);
    let candidates = vec![(r(1), 100), (r(2), 500), (r(3), 300), (r(4), 300)];
    // 1200 used, target 500: 500 (left 700), then 300 of region 3 (ties by id; left 400).
    assert_eq!(
        pick_flushes(candidates.clone(), 1200, 500),
        vec![r(2), r(3)]
    );
    // Already under the target (running flushes free enough): none.
    assert!(pick_flushes(candidates.clone(), 499, 500).is_empty());
    assert_eq!(pick_flushes(candidates.clone(), 500, 500), vec![r(2)]);
    // Never enough: every region.
    assert_eq!(
        pick_flushes(candidates, 10_000, 500),
        vec![r(2), r(3), r(4), r(1)]
    );
    assert!(pick_flushes(Vec::new(), 10_000, 500).is_empty());
}

#[tokio::test]
async fn write_stalls_while_full_and_proceeds_when_a_flush_frees_memory() {
    let m = manager(1000);
    let memtable = tracker(&m);
    memtable.on_allocation(1000);
    memtable.on_freeze();
    let flush = m.begin_flush();
    let mut stalled = m.stalled_writes();
    let mut admit = Box::pin(m.admit(RegionId::new(1, 0), 10));
    assert!(
        (&mut admit).now_or_never().is_none(),
        "over budget: it waits"
    );
    stalled.wait_for(|&n| n == 1).await.unwrap();
    // Memory is freed: the flush installed its SSTs.
    memtable.on_free();
    admit.await.unwrap();
    assert_eq!(*stalled.borrow(), 0);
    assert_eq!((m.stalls_total(), m.rejects_total()), (1, 0));
    drop(flush);
    assert_eq!(m.flushes_in_flight(), 0);
}

#[tokio::test]
async fn write_is_rejected_when_it_cannot_fit() {
    let m = manager(1000);
    let id = RegionId::new(7, 0);
    // Larger than the hard cap (twice the budget) on its own.
    let err = m.admit(id, 2001).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::WriteBufferFull {
                budget: 1000,
                requested: 2001,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("1000 byte budget") && text.contains("7"),
        "{text}"
    );
    m.admit(id, 2000).await.unwrap();

    // Full, and no flush running nor any region to flush.
    let memtable = tracker(&m);
    memtable.on_allocation(1000);
    let err = m.admit(id, 1).await.unwrap_err();
    assert!(
        matches!(err, Error::WriteBufferFull { used: 1000, reason, .. } if reason.contains("no flush")),
        "{err}"
    );

    // Full, and the flush it waits for fails.
    let flush = m.begin_flush();
    let mut stalled = m.stalled_writes();
    let admit = tokio::spawn({
        let m = m.clone();
        async move { m.admit(id, 1).await }
    });
    stalled.wait_for(|&n| n == 1).await.unwrap();
    flush.finish::<()>(&Err(Error::WorkerStopped("injected".to_string())));
    let err = admit.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::WriteBufferFull { reason, .. } if reason.contains("flush failed")),
        "{err}"
    );
    assert_eq!((m.stalls_total(), m.rejects_total()), (1, 3));
}

fn metadata_for(table: u32) -> RegionMetadata {
    let mut metadata = cpu_metadata();
    metadata.region_id = RegionId::new(table, 0);
    metadata
}

/// `rows` rows of `hosts` hosts starting at `ts0`.
fn rows(hosts: usize, rows: usize, ts0: i64) -> arrow::array::RecordBatch {
    let names: Vec<String> = (0..hosts).map(|h| format!("host_{h}")).collect();
    let data: Vec<(&str, i64, f64)> = (0..rows)
        .map(|i| (names[i % hosts].as_str(), ts0 + i as i64, i as f64))
        .collect();
    cpu_batch(&data)
}

fn memtable_bytes(region: &RegionRef) -> usize {
    let version = region.version();
    version.mutable.size_bytes()
        + version
            .immutables
            .iter()
            .map(|m| m.size_bytes())
            .sum::<usize>()
}

/// Memtable bytes of each of three regions after writing 800, 300 and 100 rows.
async fn region_sizes(budget: usize, dir: &std::path::Path) -> (Engine, Vec<RegionRef>) {
    let mut options = EngineOptions::new(dir);
    options.write_buffer_bytes = budget;
    let engine = Engine::open(options).await.unwrap();
    let mut regions = Vec::new();
    for (table, n) in [(1, 800), (2, 300), (3, 100)] {
        let region = engine.create_region(metadata_for(table)).await.unwrap();
        region.write(rows(10, n, 0)).await.unwrap();
        regions.push(region);
    }
    (engine, regions)
}

#[tokio::test]
async fn engine_flushes_the_largest_region_first() {
    // Measure the three regions' memtable bytes without a budget ...
    let dir = tempfile::tempdir().unwrap();
    let (engine, regions) = region_sizes(0, dir.path()).await;
    let sizes: Vec<usize> = regions.iter().map(memtable_bytes).collect();
    let total: usize = sizes.iter().sum();
    assert_eq!(
        engine.write_buffer().mutable_usage(),
        total,
        "accounting is exact"
    );
    assert!(sizes[0] > sizes[1] + sizes[2]);
    engine.close().await.unwrap();

    // ... then run the same writes with half the budget at exactly their sum: the last write
    // crosses it, and flushing the largest region alone brings usage back under it.
    let dir = tempfile::tempdir().unwrap();
    let (engine, regions) = region_sizes(2 * total, dir.path()).await;
    engine.write_buffer().wait_for_flushes().await;
    let files: Vec<usize> = regions.iter().map(|r| r.version().files.len()).collect();
    assert!(files[0] > 0, "largest region flushed: {files:?}");
    assert_eq!(&files[1..], &[0, 0], "the others keep their memtables");
    let usage = engine.write_buffer().memory_usage();
    assert_eq!(usage, regions.iter().map(memtable_bytes).sum::<usize>());
    assert!(usage < total, "{usage} < {total}");
    assert_eq!(
        scan_cpu_rows(&regions[0], ScanRequest::default())
            .await
            .len(),
        800
    );
    engine.close().await.unwrap();
}

#[tokio::test]
async fn engine_write_stalls_until_the_flush_installs_and_writes_continue_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    options.write_buffer_bytes = 64 << 10;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(metadata_for(1)).await.unwrap();
    let wb = engine.write_buffer().clone();

    // Hold the flush lock: flushes freeze their memtable but cannot install.
    let flush_lock = region.flush_lock.lock().await;
    let mut written = 0usize;
    let mut ts = 0;
    while !wb.should_stall() {
        assert!(written < 100_000, "the budget is never reached");
        region.write(rows(10, 100, ts)).await.unwrap();
        written += 100;
        ts += 100;
    }
    // The engine flush froze the memtable; later writes went into a fresh mutable one.
    let version = region.version();
    assert!(!version.immutables.is_empty());
    assert!(!version.mutable.is_empty());
    assert!(version.files.is_empty());

    let mut stalled = wb.stalled_writes();
    let committed = region.committed_sequence();
    let write = tokio::spawn({
        let region = region.clone();
        async move { region.write(rows(10, 100, ts)).await }
    });
    stalled.wait_for(|&n| n == 1).await.unwrap();
    assert!(!write.is_finished());
    assert_eq!(
        region.committed_sequence(),
        committed,
        "nothing of it is written"
    );

    drop(flush_lock);
    assert_eq!(write.await.unwrap().unwrap(), 100);
    written += 100;
    wb.wait_for_flushes().await;
    assert!(!region.version().files.is_empty());
    assert_eq!(
        scan_cpu_rows(&region, ScanRequest::default()).await.len(),
        written
    );
    engine.close().await.unwrap();
}

#[tokio::test]
async fn engine_rejects_a_write_larger_than_the_hard_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    options.write_buffer_bytes = 4 << 10;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(metadata_for(1)).await.unwrap();
    let err = region.write(rows(10, 10_000, 0)).await.unwrap_err();
    assert!(matches!(err, Error::WriteBufferFull { .. }), "{err}");
    assert!(
        scan_cpu_rows(&region, ScanRequest::default())
            .await
            .is_empty()
    );
    // Small writes still go through.
    region.write(rows(2, 4, 0)).await.unwrap();
    assert_eq!(
        scan_cpu_rows(&region, ScanRequest::default()).await.len(),
        4
    );
    engine.close().await.unwrap();
}

#[tokio::test]
async fn replay_over_the_budget_is_flushed_after_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    options.write_buffer_bytes = 0;
    let engine = Engine::open(options.clone()).await.unwrap();
    let region = engine.create_region(metadata_for(1)).await.unwrap();
    for i in 0..10 {
        region.write(rows(10, 500, i * 500)).await.unwrap();
    }
    let bytes = memtable_bytes(&region);
    engine.close().await.unwrap();
    drop(engine);

    options.write_buffer_bytes = bytes;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.open_region(RegionId::new(1, 0)).await.unwrap();
    engine.write_buffer().wait_for_flushes().await;
    assert!(
        !region.version().files.is_empty(),
        "the replayed memtable was flushed"
    );
    assert!(engine.write_buffer().memory_usage() < bytes / 2);
    assert_eq!(
        scan_cpu_rows(&region, ScanRequest::default()).await.len(),
        5000
    );
    engine.close().await.unwrap();
}

#[tokio::test]
async fn many_regions_share_one_budget_and_usage_returns_to_the_empty_memtables() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 128 << 10;
    let mut options = EngineOptions::new(dir.path());
    options.write_buffer_bytes = budget;
    let engine = Arc::new(Engine::open(options).await.unwrap());
    let mut regions = Vec::new();
    for table in 1..=8 {
        regions.push(engine.create_region(metadata_for(table)).await.unwrap());
    }
    // Eight writers at once, 40 batches of 200 rows each.
    let writers: Vec<_> = regions
        .iter()
        .map(|region| {
            let region = region.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    region.write(rows(20, 200, i * 200)).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let wb = engine.write_buffer();
    wb.wait_for_flushes().await;
    let flushed = regions
        .iter()
        .filter(|r| !r.version().files.is_empty())
        .count();
    assert!(
        flushed >= 2,
        "the budget flushed several regions: {flushed}"
    );
    assert!(
        wb.peak_usage() <= 2 * budget,
        "peak {} within the hard cap",
        wb.peak_usage()
    );
    for region in &regions {
        assert_eq!(
            scan_cpu_rows(region, ScanRequest::default()).await.len(),
            8000
        );
    }
    for region in &regions {
        region.flush().await.unwrap();
    }
    wb.wait_for_flushes().await;
    // What is left is the eight empty mutable memtables (their key codecs).
    let empty: usize = regions.iter().map(memtable_bytes).sum();
    assert_eq!(wb.memory_usage(), empty);
    assert_eq!(wb.mutable_usage(), empty);
    assert!(empty < 8 << 10, "{empty}");
    engine.close().await.unwrap();
}
