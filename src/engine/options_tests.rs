//! Table options through the engine's API: TTL against a [`ManualClock`] (scan cut, expired
//! SSTs removed and expired rows left out by compaction, reopen), append mode, `ttl = 'instant'`, truncation.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::metadata::RegionId;
use crate::engine::options::{ManualClock, TableOptions, Ttl};
use crate::engine::region::{RegionRef, ScanRequest, SeriesRowSelector};
use crate::engine::test_util::{cpu_batch as batch, cpu_metadata as metadata, scan_cpu_rows};
use crate::engine::{Engine, EngineOptions};

const HOUR: i64 = 3_600_000;
/// 2024-01-10T00:00:00Z in milliseconds.
const NOW: i64 = 1_704_844_800_000;

async fn scan(region: &RegionRef) -> Vec<(String, i64, f64)> {
    scan_cpu_rows(region, ScanRequest::default()).await
}

fn engine_options(dir: &std::path::Path, clock: &Arc<ManualClock>) -> EngineOptions {
    let mut options = EngineOptions::new(dir);
    options.clock = clock.clone();
    options
}

fn ttl(duration: Duration) -> TableOptions {
    TableOptions {
        ttl: Some(Ttl::Duration(duration)),
        ..TableOptions::default()
    }
}

#[tokio::test]
async fn ttl_hides_expired_rows_and_compaction_removes_expired_ssts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let options = ttl(Duration::from_secs(3600));
    {
        let engine = Engine::open(engine_options(dir.path(), &clock))
            .await
            .unwrap();
        let region = engine
            .create_region_with(metadata(), options.clone())
            .await
            .unwrap();
        region
            .write(batch(&[
                ("a", NOW - 3 * HOUR, 1.0),
                ("b", NOW - 3 * HOUR, 2.0),
            ]))
            .await
            .unwrap();
        region.flush().await.unwrap();
        assert_eq!(region.version().files.len(), 1);
        region
            .write(batch(&[("a", NOW - HOUR / 2, 3.0)]))
            .await
            .unwrap();
        region.flush().await.unwrap();
        region.write(batch(&[("b", NOW, 4.0)])).await.unwrap();
        // (The compaction each flush starts in the background may have removed the expired
        // file already.)
        // Invisible at once, on the merge, unique and last-row paths.
        let expected = vec![
            ("a".to_string(), NOW - HOUR / 2, 3.0),
            ("b".to_string(), NOW, 4.0),
        ];
        let mut rows = scan(&region).await;
        rows.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(rows, expected);
        let last = ScanRequest {
            series_row_selector: Some(SeriesRowSelector::LastRow),
            ..ScanRequest::default()
        };
        let mut rows = scan_cpu_rows(&region, last).await;
        rows.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(rows, expected);
        // Compaction removes the expired SST from the manifest, merges nothing else.
        region.compact().await.unwrap();
        let files = region.version().files.clone();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files
                .values()
                .all(|f| f.meta().time_range.max >= NOW - HOUR)
        );
        engine.close().await.unwrap();
    }
    // After a reopen: the manifest no longer names the expired file; an hour later the
    // rest expires too.
    let engine = Engine::open(engine_options(dir.path(), &clock))
        .await
        .unwrap();
    let region = engine
        .open_region_with(RegionId::new(1, 0), options)
        .await
        .unwrap();
    assert_eq!(region.version().files.len(), 1);
    assert_eq!(scan(&region).await.len(), 2);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(scan(&region).await, vec![("b".to_string(), NOW, 4.0)]);
    region.flush().await.unwrap();
    region.compact().await.unwrap();
    // The file holding `a` at NOW - 30min went; `b` at NOW is at the edge and stays.
    assert_eq!(scan(&region).await, vec![("b".to_string(), NOW, 4.0)]);
    assert!(
        region
            .version()
            .files
            .values()
            .all(|f| f.meta().time_range.max >= NOW)
    );
    // Unset: forever again, nothing left to bring back but what is in files.
    region.set_table_options(TableOptions::default()).await;
    assert_eq!(scan(&region).await, vec![("b".to_string(), NOW, 4.0)]);
}

#[tokio::test]
async fn compaction_leaves_expired_rows_out_of_merged_files() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = Engine::open(engine_options(dir.path(), &clock))
        .await
        .unwrap();
    let region = engine
        .create_region_with(metadata(), ttl(Duration::from_secs(1800)))
        .await
        .unwrap();
    // Two files, each with one expired row (older than NOW - 30 min) and one live row, all in the
    // window [NOW - 1 h, NOW): no file has expired whole, so only a merge drops them.
    region
        .write(batch(&[
            ("a", NOW - 5 * HOUR / 6, 1.0),
            ("b", NOW - HOUR / 3, 2.0),
        ]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    region
        .write(batch(&[
            ("a", NOW - 2 * HOUR / 3, 3.0),
            ("c", NOW - HOUR / 6, 4.0),
        ]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    let live = vec![
        ("b".to_string(), NOW - HOUR / 3, 2.0),
        ("c".to_string(), NOW - HOUR / 6, 4.0),
    ];
    let mut rows = scan(&region).await;
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(rows, live);
    region.compact().await.unwrap();
    let files = region.version().files.clone();
    let stored: u64 = files.values().map(|f| f.meta().num_rows).sum();
    assert_eq!(stored, 2, "expired rows still stored: {files:?}");
    assert!(
        files
            .values()
            .all(|f| f.meta().time_range.min >= NOW - HOUR / 2)
    );
    let mut rows = scan(&region).await;
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(rows, live);
    // Without a TTL the merged file is what is left: the expired rows are gone for good.
    region.set_table_options(TableOptions::default()).await;
    let mut rows = scan(&region).await;
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(rows, live);
}

#[tokio::test]
async fn instant_ttl_discards_writes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = Engine::open(engine_options(dir.path(), &clock))
        .await
        .unwrap();
    let options = TableOptions {
        ttl: Some(Ttl::Instant),
        ..TableOptions::default()
    };
    let region = engine
        .create_region_with(metadata(), options)
        .await
        .unwrap();
    assert_eq!(region.write(batch(&[("a", NOW, 1.0)])).await.unwrap(), 0);
    assert!(scan(&region).await.is_empty());
    assert!(region.version().mutable.is_empty());
}

#[tokio::test]
async fn append_mode_keeps_duplicates_across_flush_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let options = TableOptions {
        append_mode: true,
        ..TableOptions::default()
    };
    let region = engine
        .create_region_with(metadata(), options)
        .await
        .unwrap();
    region
        .write(batch(&[("a", 1, 1.0), ("a", 1, 1.0)]))
        .await
        .unwrap();
    region.flush().await.unwrap();
    region.write(batch(&[("a", 1, 2.0)])).await.unwrap();
    region.flush().await.unwrap();
    region.write(batch(&[("a", 1, 3.0)])).await.unwrap();
    let mut values: Vec<f64> = scan(&region).await.iter().map(|r| r.2).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [1.0, 1.0, 2.0, 3.0]);
    region.flush().await.unwrap();
    region.compact().await.unwrap();
    assert_eq!(region.version().files.len(), 1);
    let mut values: Vec<f64> = scan(&region).await.iter().map(|r| r.2).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [1.0, 1.0, 2.0, 3.0]);
    let err = region.delete(batch(&[("a", 1, 0.0)])).await.unwrap_err();
    assert!(err.to_string().contains("append_mode"), "{err}");
}

#[tokio::test]
async fn truncate_removes_every_row_durably() {
    let dir = tempfile::tempdir().unwrap();
    let id = RegionId::new(1, 0);
    {
        let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
        let region = engine.create_region(metadata()).await.unwrap();
        region.write(batch(&[("a", 1, 1.0)])).await.unwrap();
        region.flush().await.unwrap();
        region.write(batch(&[("b", 2, 2.0)])).await.unwrap();
        let truncated = region.truncate().await.unwrap();
        assert_eq!(truncated, 2);
        assert!(scan(&region).await.is_empty());
        assert!(region.version().files.is_empty());
        engine.close().await.unwrap();
    }
    {
        // Neither the SST nor the WAL entry comes back.
        let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
        let region = engine.open_region(id).await.unwrap();
        assert!(scan(&region).await.is_empty());
        region.write(batch(&[("c", 3, 3.0)])).await.unwrap();
        engine.close().await.unwrap();
    }
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(id).await.unwrap();
    assert_eq!(scan(&region).await, vec![("c".to_string(), 3, 3.0)]);
    // No SST file is left on disk but the live ones.
    region.flush().await.unwrap();
    let sst_dir = dir.path().join("regions").join(id.to_string()).join("sst");
    engine.close().await.unwrap();
    let on_disk = std::fs::read_dir(&sst_dir).unwrap().count();
    assert_eq!(on_disk, 1);
}
