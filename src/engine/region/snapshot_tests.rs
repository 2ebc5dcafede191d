//! Scans see whole writes: the memtable read is bounded by the committed sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use futures::TryStreamExt;

use crate::engine::region::ScanRequest;
use crate::engine::test_util::{cpu_batch, cpu_metadata};
use crate::engine::{Engine, EngineOptions};

const HOSTS: usize = 400;
const WRITES: usize = 60;

/// A writer overwrites the same `HOSTS` identities with INSERT number `k` in every row while
/// a reader scans: every scan must see either nothing or exactly one whole INSERT (all rows,
/// one value, never older than the previous scan's). Without the sequence bound a scan that
/// walks the series while an INSERT is being applied sees some rows of `k` and some of `k-1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_never_see_a_partial_write() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    let hosts: Vec<String> = (0..HOSTS).map(|h| format!("host_{h:04}")).collect();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let region = region.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut scans = 0;
            let mut last = 0.0;
            while !done.load(Ordering::Acquire) || scans == 0 {
                let (_, stream) = region.scan(ScanRequest::default()).unwrap();
                let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
                let values: Vec<f64> = batches
                    .iter()
                    .flat_map(|b| b.column(2).as_primitive::<Float64Type>().values().to_vec())
                    .collect();
                scans += 1;
                if values.is_empty() {
                    continue;
                }
                assert_eq!(values.len(), HOSTS, "scan {scans} saw a partial write");
                let first = values[0];
                assert!(
                    values.iter().all(|&v| v == first),
                    "scan {scans} mixes writes: {} rows differ from the first",
                    values.iter().filter(|&&v| v != first).count()
                );
                assert!(
                    first >= last,
                    "scan {scans} went back from {last} to {first}"
                );
                last = first;
            }
            scans
        })
    };
    for k in 1..=WRITES {
        let rows: Vec<(&str, i64, f64)> = hosts.iter().map(|h| (h.as_str(), 0, k as f64)).collect();
        region.write(cpu_batch(&rows)).await.unwrap();
    }
    done.store(true, Ordering::Release);
    let scans = reader.await.unwrap();
    assert!(scans > 0);
    assert_eq!(region.committed_sequence(), (HOSTS * WRITES) as u64);
    engine.close().await.unwrap();
}
