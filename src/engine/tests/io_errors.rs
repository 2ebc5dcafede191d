//! I/O errors under the whole engine ([`FaultInjectionFs`]): EIO from a sync and ENOSPC,
//! injected at random points of random workloads (the workloads and oracle of
//! [`super::crash`]).
//!
//! The promises checked: an error is never an acknowledgement; a failed WAL write or sync
//! poisons the region's WAL, so no later write is acknowledged until the region is reopened;
//! a failed flush or compaction acknowledges nothing and loses nothing (the rows stay in the
//! memtable and the WAL, and the region goes on); each error names the problem; after a power
//! cut following the error (or, for ENOSPC, after space returns) the region opens with every
//! acknowledged write exactly once, and a failed write whole or not at all.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::crash::{Op, Oracle, close, open, recovered_rows, run, setup, workload};
use crate::engine::io::fault::{Fault, FaultInjectionFs};

/// Workloads per test; each gets several error points.
const SEEDS: u64 = 6;
/// Error points per workload.
const POINTS_PER_SEED: u64 = 25;

/// How a workload under an I/O error ended.
struct Outcome {
    oracle: Oracle,
    /// The write that failed (whole or not at all after recovery); `None` if none did.
    in_doubt: Option<Op>,
    /// Errors seen, as text, to check they name the problem.
    errors: Vec<String>,
}

/// Runs `ops` under the fault already set on `fs`. After a write fails, checks that the next
/// write fails too (the WAL is poisoned) and stops; failed flushes and compactions are
/// tolerated and the workload goes on.
async fn run_with_errors(
    dir: &std::path::Path,
    fs: &FaultInjectionFs,
    ops: &[Op],
    context: &str,
) -> Outcome {
    let mut outcome = Outcome {
        oracle: Oracle::default(),
        in_doubt: None,
        errors: Vec::new(),
    };
    let Ok((mut engine, mut region)) = open(dir, fs, false).await.map_err(|e| {
        outcome.errors.push(e.to_string());
    }) else {
        return outcome;
    };
    for op in ops {
        let result = match op {
            Op::Reopen => {
                close(engine).await;
                match open(dir, fs, false).await {
                    Ok((e, r)) => {
                        engine = e;
                        region = r;
                        Ok(())
                    }
                    Err(e) => {
                        // Recovery itself hit the error: nothing more can run.
                        outcome.errors.push(e.to_string());
                        return outcome;
                    }
                }
            }
            op => run(&region, op).await,
        };
        match (op, result) {
            (op, Ok(())) => outcome.oracle.apply(op),
            (Op::Put(_) | Op::Delete(_), Err(e)) => {
                outcome.errors.push(e.to_string());
                outcome.in_doubt = Some(op.clone());
                let probe = Op::Put(vec![("probe".to_string(), 0, 0.0)]);
                let later = run(&region, &probe).await;
                assert!(
                    later.is_err(),
                    "{context}: a write was acknowledged after a failed write ({e})"
                );
                break;
            }
            (_, Err(e)) => outcome.errors.push(e.to_string()),
        }
    }
    close(engine).await;
    outcome
}

/// Checks the recovered rows against `outcome`, then that the region takes writes again.
async fn check_recovery(
    dir: &std::path::Path,
    fs: &FaultInjectionFs,
    outcome: Outcome,
    context: &str,
) {
    let rows = recovered_rows(dir, fs, context).await;
    let acknowledged = outcome.oracle.rows();
    let mut with_in_doubt = outcome.oracle.clone();
    if let Some(op) = &outcome.in_doubt {
        with_in_doubt.apply(op);
    }
    assert!(
        rows == acknowledged || rows == with_in_doubt.rows(),
        "{context}: after recovery\n  rows     {rows:?}\n  expected {acknowledged:?}\n  or with  {:?}\nlast mutations:\n{}",
        outcome.in_doubt,
        fs.trace()
    );
    let (engine, region) = open(dir, fs, false).await.expect("reopen");
    let extra = Op::Put(vec![("h9".to_string(), 1, -1.0)]);
    run(&region, &extra)
        .await
        .unwrap_or_else(|e| panic!("{context}: a write after recovery failed: {e}"));
    close(engine).await;
}

/// The total mutations of a seed's workload without a fault, and the workload.
async fn mutation_span(seed: u64) -> (u64, u64, Vec<Op>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = workload(&mut rng);
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = setup(tmp.path(), seed).await;
    let first = fs.mutations();
    let outcome = run_with_errors(tmp.path(), &fs, &ops, "no fault").await;
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    (first, fs.mutations(), ops)
}

/// EIO from the first sync at or after a random mutation; then a power cut (so nothing
/// that relied on the failed sync can survive by luck), then recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_poisons_and_loses_nothing_acknowledged() {
    let mut points = 0;
    for seed in 0..SEEDS {
        let (first, last, ops) = mutation_span(10_000 + seed).await;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in 0..POINTS_PER_SEED {
            let at = rng.random_range(1..=last - first);
            let context = format!("seed {seed}, EIO at sync after mutation {at}");
            let tmp = tempfile::tempdir().expect("tempdir");
            let fs = setup(tmp.path(), seed * 100 + i).await;
            fs.set_fault(Fault::SyncErrorAt(fs.mutations() + at));
            let outcome = run_with_errors(tmp.path(), &fs, &ops, &context).await;
            for error in &outcome.errors {
                assert!(
                    error.contains("Input/output error") || error.contains("poisoned"),
                    "{context}: an error that does not name the I/O failure: {error}"
                );
            }
            fs.power_cut().expect("power cut");
            check_recovery(tmp.path(), &fs, outcome, &context).await;
            points += 1;
        }
    }
    eprintln!("EIO: {points} error points, all recovered");
}

/// ENOSPC from a random mutation on: writes fail with an error naming the full disk, the
/// region keeps refusing writes; once space returns (the fault is cleared) and the region is
/// reopened, everything acknowledged is there and writes work again. Half the cases also
/// cut the power before the reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_cleanly_and_recovers_when_space_returns() {
    let mut points = 0;
    for seed in 0..SEEDS {
        let (first, last, ops) = mutation_span(20_000 + seed).await;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in 0..POINTS_PER_SEED {
            let at = rng.random_range(1..=last - first);
            let context = format!("seed {seed}, disk full from mutation {at}");
            let tmp = tempfile::tempdir().expect("tempdir");
            let fs = setup(tmp.path(), seed * 100 + i).await;
            fs.set_fault(Fault::NoSpaceFrom(fs.mutations() + at));
            let outcome = run_with_errors(tmp.path(), &fs, &ops, &context).await;
            for error in &outcome.errors {
                assert!(
                    error.contains("No space left on device") || error.contains("poisoned"),
                    "{context}: an error that does not name the full disk: {error}"
                );
            }
            // Space returns.
            fs.set_fault(Fault::None);
            if rng.random_bool(0.5) {
                fs.power_cut().expect("power cut");
            }
            check_recovery(tmp.path(), &fs, outcome, &context).await;
            points += 1;
        }
    }
    eprintln!("ENOSPC: {points} error points, all recovered");
}
