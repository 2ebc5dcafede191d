//! Simulated power cuts under the whole engine, checked against an in-memory oracle
//! (RocksDB's crash tests with `FaultInjectionTestFS`, SQLite's crash tests with its
//! "crash" VFS): random workloads of writes, deletes, flushes, compactions and reopens run
//! on a [`FaultInjectionFs`] that cuts the power at a chosen mutation (a write, a sync, a
//! rename, a deletion); the directory is rewritten to a state the cut could leave; the
//! region is reopened and must hold every acknowledged write exactly once, and the write in
//! flight at the cut whole or not at all. Some recoveries are cut too.
//!
//! `cargo test` runs [`DEFAULT_SEEDS`] workloads per test with [`POINTS_PER_SEED`] cut
//! points each; `TSDB_CRASH_SEEDS=N` runs more (docs/RELIABILITY.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::io::fault::{Fault, FaultInjectionFs};
use crate::engine::metadata::RegionId;
use crate::engine::region::{RegionRef, ScanRequest};
use crate::engine::test_util::{cpu_batch, cpu_metadata, scan_cpu_rows};
use crate::engine::{Engine, EngineOptions};

/// Workloads per test in `cargo test` (each of the tests below takes its own seeds).
const DEFAULT_SEEDS: u64 = 6;
/// Cut points tried per workload: spread evenly over its mutations, plus random ones.
const POINTS_PER_SEED: u64 = 90;
/// Operations per workload.
const STEPS: usize = 36;

type Key = (String, i64);
pub(super) type Row = (String, i64, f64);

#[derive(Debug, Clone)]
pub(super) enum Op {
    Put(Vec<Row>),
    Delete(Vec<Key>),
    Flush,
    Compact,
    Reopen,
}

/// The rows every acknowledged operation leaves.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Oracle(BTreeMap<Key, f64>);

impl Oracle {
    pub(super) fn apply(&mut self, op: &Op) {
        match op {
            Op::Put(rows) => {
                for (host, ts, cpu) in rows {
                    self.0.insert((host.clone(), *ts), *cpu);
                }
            }
            Op::Delete(keys) => {
                for key in keys {
                    self.0.remove(key);
                }
            }
            Op::Flush | Op::Compact | Op::Reopen => {}
        }
    }

    pub(super) fn rows(&self) -> Vec<Row> {
        self.0
            .iter()
            .map(|((host, ts), cpu)| (host.clone(), *ts, *cpu))
            .collect()
    }
}

pub(super) fn workload(rng: &mut ChaCha8Rng) -> Vec<Op> {
    let mut value = 0.0;
    let key = |rng: &mut ChaCha8Rng| {
        (
            format!("h{}", rng.random_range(0..4)),
            rng.random_range(0..60),
        )
    };
    (0..STEPS)
        .map(|_| match rng.random_range(0..100) {
            0..55 => Op::Put(
                (0..rng.random_range(1..12))
                    .map(|_| {
                        value += 1.0;
                        let (host, ts) = key(rng);
                        (host, ts, value)
                    })
                    .collect(),
            ),
            55..67 => Op::Delete((0..rng.random_range(1..4)).map(|_| key(rng)).collect()),
            67..84 => Op::Flush,
            84..93 => Op::Compact,
            _ => Op::Reopen,
        })
        .collect()
}

pub(super) fn region_id() -> RegionId {
    RegionId::new(1, 0)
}

pub(super) fn options(dir: &Path, fs: &FaultInjectionFs, small_memtable: bool) -> EngineOptions {
    let mut options = EngineOptions::new(dir);
    options.file_system = Arc::new(fs.clone());
    if small_memtable {
        // Background flushes race the workload.
        options.memtable_size_limit_bytes = 4 << 10;
    }
    options
}

pub(super) async fn open(
    dir: &Path,
    fs: &FaultInjectionFs,
    small: bool,
) -> crate::engine::Result<(Engine, RegionRef)> {
    let engine = Engine::open(options(dir, fs, small)).await?;
    let region = engine.open_region(region_id()).await?;
    Ok((engine, region))
}

pub(super) async fn close(engine: Engine) {
    // After a cut, closing fails; the files are what matters.
    let _ = engine.close().await;
    drop(engine);
}

pub(super) async fn run(region: &RegionRef, op: &Op) -> crate::engine::Result<()> {
    match op {
        Op::Put(rows) => {
            let rows: Vec<(&str, i64, f64)> =
                rows.iter().map(|(h, t, c)| (h.as_str(), *t, *c)).collect();
            region.write(cpu_batch(&rows)).await.map(drop)
        }
        Op::Delete(keys) => {
            let rows: Vec<(&str, i64, f64)> =
                keys.iter().map(|(h, t)| (h.as_str(), *t, 0.0)).collect();
            region.delete(cpu_batch(&rows)).await.map(drop)
        }
        Op::Flush => region.flush().await,
        Op::Compact => region.compact().await,
        Op::Reopen => unreachable!("handled by the driver"),
    }
}

/// How a workload run ended.
struct Outcome {
    /// Rows of every acknowledged operation.
    oracle: Oracle,
    /// The operation that failed at the cut (it may have happened whole, or not at all).
    in_doubt: Option<Op>,
}

/// Runs `ops` on the region in `dir` until they end or an operation fails; every failure
/// must come from the fault.
async fn run_workload(
    dir: &Path,
    fs: &FaultInjectionFs,
    ops: &[Op],
    small: bool,
    context: &str,
) -> Outcome {
    let mut oracle = Oracle::default();
    let (mut engine, mut region) = match open(dir, fs, small).await {
        Ok(opened) => opened,
        Err(e) => {
            assert!(fs.crashed(), "{context}: open failed without a fault: {e}");
            return Outcome {
                oracle,
                in_doubt: None,
            };
        }
    };
    for op in ops {
        let result = match op {
            Op::Reopen => {
                close(engine).await;
                match open(dir, fs, small).await {
                    Ok((e, r)) => {
                        engine = e;
                        region = r;
                        Ok(())
                    }
                    Err(e) => {
                        assert!(
                            fs.crashed(),
                            "{context}: reopen failed without a fault: {e}"
                        );
                        return Outcome {
                            oracle,
                            in_doubt: None,
                        };
                    }
                }
            }
            op => run(&region, op).await,
        };
        match result {
            Ok(()) => oracle.apply(op),
            Err(e) => {
                assert!(
                    fs.crashed(),
                    "{context}: {op:?} failed without a fault: {e}"
                );
                close(engine).await;
                return Outcome {
                    oracle,
                    in_doubt: Some(op.clone()),
                };
            }
        }
    }
    close(engine).await;
    Outcome {
        oracle,
        in_doubt: None,
    }
}

/// The rows the region in `dir` holds; the open must succeed.
pub(super) async fn recovered_rows(dir: &Path, fs: &FaultInjectionFs, context: &str) -> Vec<Row> {
    let (engine, region) = match open(dir, fs, false).await {
        Ok(opened) => opened,
        Err(e) => panic!(
            "{context}: the region does not open after the cut: {e}\nlast mutations:\n{}",
            fs.trace()
        ),
    };
    // Every file the manifest names must be readable.
    let readable = {
        use futures::TryStreamExt;
        match region.scan(ScanRequest::default()) {
            Ok((_, stream)) => stream.try_collect::<Vec<_>>().await.map(drop),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = readable {
        panic!(
            "{context}: the scan fails after the cut: {e}\nlast mutations:\n{}",
            fs.trace()
        );
    }
    // A scan promises no global order.
    let mut rows = scan_cpu_rows(&region, ScanRequest::default()).await;
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    close(engine).await;
    rows
}

/// Creates the region in a fresh `dir` (no fault) and returns the fs tracking it.
pub(super) async fn setup(dir: &Path, seed: u64) -> FaultInjectionFs {
    let fs = FaultInjectionFs::new(dir, seed).expect("fault fs");
    let engine = Engine::open(options(dir, &fs, false)).await.expect("open");
    engine.create_region(cpu_metadata()).await.expect("create");
    close(engine).await;
    fs
}

/// One workload, cut at `POINTS_PER_SEED` mutations; returns the cut points tried.
async fn crash_test_seed(seed: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = workload(&mut rng);
    let small = rng.random_bool(0.3);

    // The run without a fault: how many mutations the workload makes, and its result.
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = setup(tmp.path(), seed).await;
    let first = fs.mutations();
    let clean = run_workload(tmp.path(), &fs, &ops, small, &format!("seed {seed}")).await;
    let last = fs.mutations();
    assert_eq!(
        recovered_rows(tmp.path(), &fs, &format!("seed {seed}, no fault")).await,
        clean.oracle.rows(),
        "seed {seed}: without a fault"
    );

    let span = last - first;
    let mut points: Vec<u64> = (0..POINTS_PER_SEED / 2)
        .map(|i| first + 1 + i * span / (POINTS_PER_SEED / 2))
        .collect();
    points.extend(
        (0..POINTS_PER_SEED - points.len() as u64).map(|_| rng.random_range(first + 1..=last)),
    );

    for (i, at) in points.iter().enumerate() {
        let context = format!("seed {seed}, cut at mutation {at} of {first}..{last}");
        let tmp = tempfile::tempdir().expect("tempdir");
        let fs = setup(tmp.path(), seed * 1000 + i as u64).await;
        fs.set_fault(Fault::CrashAt(at - first + fs.mutations()));
        let outcome = run_workload(tmp.path(), &fs, &ops, small, &context).await;
        fs.power_cut().expect("power cut");

        // Some recoveries are cut too, then recovered again.
        if rng.random_bool(0.25) {
            fs.set_fault(Fault::CrashAt(fs.mutations() + rng.random_range(1..12)));
            if let Ok((engine, _)) = open(tmp.path(), &fs, false).await {
                close(engine).await;
            }
            fs.power_cut().expect("power cut");
        }

        let rows = recovered_rows(tmp.path(), &fs, &context).await;
        let acknowledged = outcome.oracle.rows();
        let mut with_in_doubt = outcome.oracle.clone();
        if let Some(op) = &outcome.in_doubt {
            with_in_doubt.apply(op);
        }
        assert!(
            rows == acknowledged || rows == with_in_doubt.rows(),
            "{context}: after recovery\n  rows      {rows:?}\n  expected  {acknowledged:?}\n  or, with {:?},\n            {:?}\nlast mutations:\n{}",
            outcome.in_doubt,
            with_in_doubt.rows(),
            fs.trace()
        );

        // The recovered region takes new writes, and they survive a clean reopen.
        let mut expected = if rows == acknowledged {
            outcome.oracle
        } else {
            with_in_doubt
        };
        let (engine, region) = open(tmp.path(), &fs, false).await.expect("reopen");
        let extra = Op::Put(vec![
            ("h9".to_string(), 1, -1.0),
            ("h0".to_string(), 0, -2.0),
        ]);
        run(&region, &extra)
            .await
            .unwrap_or_else(|e| panic!("{context}: write after recovery: {e}"));
        expected.apply(&extra);
        close(engine).await;
        assert_eq!(
            recovered_rows(tmp.path(), &fs, &context).await,
            expected.rows(),
            "{context}: a write after recovery"
        );
    }
    points.len() as u64
}

fn seeds(test: u64) -> std::ops::Range<u64> {
    let per_test = std::env::var("TSDB_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    test * 1_000_000..test * 1_000_000 + per_test
}

async fn crash_test(test: u64) {
    let mut points = 0;
    for seed in seeds(test) {
        points += crash_test_seed(seed).await;
    }
    eprintln!("crash test {test}: {points} cut points, all recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_lose_no_acknowledged_write_1() {
    crash_test(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_lose_no_acknowledged_write_2() {
    crash_test(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_lose_no_acknowledged_write_3() {
    crash_test(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_lose_no_acknowledged_write_4() {
    crash_test(4).await;
}
