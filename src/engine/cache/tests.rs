//! The SST cache through the engine: hits, byte budgets, eviction, and page-pruned scans.

use crate::engine::region::{RegionRef, ScanRequest, TagFilter};
use crate::engine::test_util::{cpu_batch, cpu_metadata};
use crate::engine::time_range::TimeRange;
use crate::engine::{Engine, EngineOptions};

async fn scan(region: &RegionRef, request: ScanRequest) -> Vec<(String, i64, f64)> {
    let mut rows = crate::engine::test_util::scan_cpu_rows(region, request).await;
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    rows
}

/// Writes and flushes one SST of `hosts` hosts with `per_host` rows each, at timestamps
/// `start..start + per_host` (ms), cpu = `value`.
async fn flush_file(region: &RegionRef, hosts: usize, per_host: i64, start: i64, value: f64) {
    let names: Vec<String> = (0..hosts).map(|h| format!("h{h:04}")).collect();
    let rows: Vec<(&str, i64, f64)> = names
        .iter()
        .flat_map(|h| (start..start + per_host).map(move |t| (h.as_str(), t, value)))
        .collect();
    region.write(cpu_batch(&rows)).await.unwrap();
    region.flush().await.unwrap();
}

#[tokio::test]
async fn second_scan_of_a_file_fetches_no_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    flush_file(&region, 3, 10, 0, 1.0).await;
    let file_size = region
        .version()
        .files
        .values()
        .map(|f| f.meta().file_size_bytes)
        .sum::<u64>();
    let first = scan(&region, ScanRequest::default()).await;
    assert_eq!(first.len(), 30);
    let stats = engine.cache_stats();
    assert_eq!((stats.data_misses, stats.data_hits), (1, 0));
    assert_eq!((stats.meta_misses, stats.meta_hits), (1, 0));
    // A ranged read: the tail and the chunks of the scanned columns, never the whole file
    // (the cpu table's `region` tag is not read by this scan).
    let fetched = stats.bytes_fetched;
    assert!(
        fetched > 0 && fetched < file_size,
        "{fetched} of {file_size}"
    );
    assert!(
        stats.data_entries > 1 && stats.data_bytes < fetched,
        "{stats:?}"
    );
    assert!(stats.meta_bytes > 0);

    assert_eq!(scan(&region, ScanRequest::default()).await, first);
    let stats = engine.cache_stats();
    assert_eq!(
        stats.bytes_fetched, fetched,
        "the second scan fetched bytes"
    );
    assert_eq!((stats.data_hits, stats.meta_hits), (1, 1));
    assert_eq!((stats.data_misses, stats.meta_misses), (1, 1));

    // Dropping the region drops its entries.
    engine.drop_region(region.region_id()).await.unwrap();
    let stats = engine.cache_stats();
    assert_eq!((stats.data_entries, stats.meta_entries), (0, 0));
    assert_eq!((stats.data_bytes, stats.meta_bytes), (0, 0));
    engine.close().await.unwrap();
}

/// Scans starting together (the stripes of one query) fetch a cold file once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_scans_fetch_a_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    flush_file(&region, 3, 10, 0, 1.0).await;
    let scans: Vec<_> = (0..4)
        .map(|_| {
            let region = region.clone();
            tokio::spawn(async move { scan(&region, ScanRequest::default()).await })
        })
        .collect();
    for scan in scans {
        assert_eq!(scan.await.unwrap().len(), 30);
    }
    let stats = engine.cache_stats();
    assert_eq!((stats.data_misses, stats.data_hits), (1, 3));
    assert_eq!(stats.meta_misses, 1);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn data_budget_is_respected_by_evicting() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    // Files of the same shape have about the same size: the budget holds the chunks a
    // scan reads of one and a half.
    {
        let probe = Engine::open(EngineOptions::new(dir.path().join("probe")))
            .await
            .unwrap();
        let region = probe.create_region(cpu_metadata()).await.unwrap();
        flush_file(&region, 50, 20, 0, 1.0).await;
        scan(&region, ScanRequest::default()).await;
        options.sst_data_cache_bytes = probe.cache_stats().data_bytes * 3 / 2;
        probe.close().await.unwrap();
    }
    let budget = options.sst_data_cache_bytes;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    // Three files with disjoint time ranges.
    for k in 0..3 {
        flush_file(&region, 50, 20, k * 1000, k as f64).await;
    }
    assert_eq!(region.version().files.len(), 3);
    let rows = scan(&region, ScanRequest::default()).await;
    assert_eq!(rows.len(), 3 * 50 * 20);
    let stats = engine.cache_stats();
    assert_eq!(stats.data_misses, 3);
    assert!(stats.data_bytes <= budget, "{stats:?}");
    assert!(stats.data_evictions > 0, "{stats:?}");
    // Metadata is small and all of it stays cached.
    assert_eq!(stats.meta_entries, 3);
    // Evicted files are fetched again, and the results do not change.
    assert_eq!(scan(&region, ScanRequest::default()).await, rows);
    let again = engine.cache_stats();
    assert!(again.bytes_fetched > stats.bytes_fetched);
    assert!(again.data_bytes <= budget);
    assert_eq!(again.meta_hits, 3);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn zero_budgets_disable_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path());
    options.sst_data_cache_bytes = 0;
    options.sst_meta_cache_bytes = 0;
    let engine = Engine::open(options).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    flush_file(&region, 2, 5, 0, 1.0).await;
    let first = scan(&region, ScanRequest::default()).await;
    let fetched = engine.cache_stats().bytes_fetched;
    assert_eq!(scan(&region, ScanRequest::default()).await, first);
    let stats = engine.cache_stats();
    assert_eq!(stats.bytes_fetched, 2 * fetched);
    assert_eq!((stats.data_hits, stats.meta_hits), (0, 0));
    assert_eq!((stats.data_entries, stats.meta_entries), (0, 0));
    engine.close().await.unwrap();
}

fn host_request(hosts: &[&str], time_range: TimeRange) -> ScanRequest {
    ScanRequest {
        time_range,
        tag_filters: vec![TagFilter {
            column: "host".to_string(),
            values: hosts.iter().map(|h| h.to_string()).collect(),
        }],
        ..ScanRequest::default()
    }
}

/// A one-host scan of a 20,000-row SST (one row group) returns only the rows of the pages
/// holding that host (the caller filters the rest); with overlapping files the merge sees the
/// same pages of each file and still keeps the newest version.
#[tokio::test]
async fn one_host_scans_read_only_that_hosts_pages() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    flush_file(&region, 200, 100, 0, 1.0).await;
    let all = scan(&region, ScanRequest::default()).await;
    assert_eq!(all.len(), 20_000);
    let rows = scan(&region, host_request(&["h0123"], TimeRange::all())).await;
    let of_host: Vec<_> = rows.iter().filter(|r| r.0 == "h0123").collect();
    assert_eq!(of_host.len(), 100);
    let page_limit = crate::engine::sst::format::PAGE_ROWS + 1023;
    assert!(rows.len() <= 2 * page_limit, "read {} rows", rows.len());

    // Overwrite half of h0123's rows in a second, overlapping file: the merge path.
    let newer: Vec<(&str, i64, f64)> = (0..50).map(|t| ("h0123", t, 2.0)).collect();
    region.write(cpu_batch(&newer)).await.unwrap();
    region.flush().await.unwrap();
    let rows = scan(&region, host_request(&["h0123"], TimeRange::new(0, 99))).await;
    let of_host: Vec<_> = rows.iter().filter(|r| r.0 == "h0123").collect();
    assert_eq!(of_host.len(), 100);
    assert!(
        of_host
            .iter()
            .all(|r| r.2 == if r.1 < 50 { 2.0 } else { 1.0 })
    );
    assert!(
        rows.len() <= 2 * page_limit + 50,
        "read {} rows",
        rows.len()
    );
    engine.close().await.unwrap();
}

/// Files that compaction replaced leave the cache when their last handle drops.
#[tokio::test]
async fn compacted_files_leave_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    // Two files that do not overlap: the flush's own compaction leaves them alone.
    flush_file(&region, 2, 10, 0, 1.0).await;
    flush_file(&region, 2, 10, 1000, 2.0).await;
    // Read both through the cache the way a scan does (not with a scan: its task could still
    // be releasing its snapshot, and with it the handles, after the stream ended).
    let files: Vec<_> = region.version().files.values().cloned().collect();
    assert_eq!(files.len(), 2);
    for file in &files {
        file.attach_cache(&engine.cache);
        let sst = engine
            .cache
            .get(&region.storage, region.region_id(), file.meta())
            .await
            .unwrap();
        engine
            .cache
            .fetch_chunks(&region.storage, &sst, &[(0, 0), (0, 1)])
            .await
            .unwrap();
    }
    drop(files);
    assert_eq!(engine.cache_stats().data_entries, 4);
    region.compact().await.unwrap();
    assert_eq!(region.version().files.len(), 1);
    let stats = engine.cache_stats();
    assert_eq!(
        (stats.data_entries, stats.meta_entries),
        (0, 0),
        "{stats:?}"
    );
    let rows = scan(&region, ScanRequest::default()).await;
    assert_eq!(rows.len(), 40);
    assert!(
        rows.iter()
            .all(|r| r.2 == if r.1 < 1000 { 1.0 } else { 2.0 })
    );
    assert!(engine.cache_stats().data_entries > 0);
    engine.close().await.unwrap();
}
