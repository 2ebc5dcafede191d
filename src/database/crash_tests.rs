//! Simulated power cuts under the whole database, through SQL: as the engine's crash test
//! (`engine/tests/crash.rs`), with the catalog in play — CREATE TABLE and DROP TABLE write
//! the catalog and create or delete regions, so a cut between those steps must leave either
//! the old table set or the new one, and nothing half made.
//!
//! `cargo test` runs [`SEEDS`] workloads with [`POINTS_PER_SEED`] cut points each;
//! `TSDB_CRASH_SEEDS=N` runs more.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::database::{Database, Output};
use crate::engine::EngineOptions;
use crate::engine::io::fault::{Fault, FaultInjectionFs};

const SEEDS: u64 = 4;
const POINTS_PER_SEED: u64 = 60;
const STEPS: usize = 30;
const TABLES: [&str; 2] = ["t0", "t1"];

type Rows = BTreeMap<(String, i64), f64>;

/// What every acknowledged statement leaves: table name -> rows.
#[derive(Debug, Clone, Default, PartialEq)]
struct Oracle(BTreeMap<String, Rows>);

#[derive(Debug, Clone)]
enum Op {
    Create(&'static str),
    Drop(&'static str),
    Insert(&'static str, Vec<(String, i64, f64)>),
    Delete(&'static str, String, i64),
    Flush(&'static str),
    Compact(&'static str),
    Reopen,
}

impl Op {
    fn sql(&self) -> String {
        match self {
            Op::Create(t) => format!(
                "CREATE TABLE {t} (host STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, PRIMARY KEY (host))"
            ),
            Op::Drop(t) => format!("DROP TABLE {t}"),
            Op::Insert(t, rows) => {
                let values: Vec<String> = rows
                    .iter()
                    .map(|(h, ts, v)| format!("('{h}', {ts}, {v:?})"))
                    .collect();
                format!("INSERT INTO {t} VALUES {}", values.join(", "))
            }
            Op::Delete(t, h, ts) => format!("DELETE FROM {t} WHERE host = '{h}' AND ts = {ts}"),
            Op::Flush(t) => format!("ADMIN flush_table('{t}')"),
            Op::Compact(t) => format!("ADMIN compact_table('{t}')"),
            Op::Reopen => unreachable!("handled by the driver"),
        }
    }
}

impl Oracle {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(t) => {
                self.0.insert(t.to_string(), Rows::new());
            }
            Op::Drop(t) => {
                self.0.remove(*t);
            }
            Op::Insert(t, rows) => {
                if let Some(table) = self.0.get_mut(*t) {
                    for (h, ts, v) in rows {
                        table.insert((h.clone(), *ts), *v);
                    }
                }
            }
            Op::Delete(t, h, ts) => {
                if let Some(table) = self.0.get_mut(*t) {
                    table.remove(&(h.clone(), *ts));
                }
            }
            Op::Flush(_) | Op::Compact(_) | Op::Reopen => {}
        }
    }
}

/// A workload valid against its own oracle (statements only on tables that exist then).
fn workload(rng: &mut ChaCha8Rng) -> Vec<Op> {
    let mut exists = BTreeMap::new();
    let mut value = 0.0;
    let mut ops = Vec::new();
    while ops.len() < STEPS {
        let t = TABLES[rng.random_range(0..TABLES.len())];
        let present = *exists.get(t).unwrap_or(&false);
        let op = if !present {
            if rng.random_bool(0.7) {
                Op::Create(t)
            } else {
                continue;
            }
        } else {
            match rng.random_range(0..100) {
                0..50 => Op::Insert(
                    t,
                    (0..rng.random_range(1..6))
                        .map(|_| {
                            value += 1.0;
                            (
                                format!("h{}", rng.random_range(0..3)),
                                rng.random_range(0..30),
                                value,
                            )
                        })
                        .collect(),
                ),
                50..60 => Op::Delete(
                    t,
                    format!("h{}", rng.random_range(0..3)),
                    rng.random_range(0..30),
                ),
                60..75 => Op::Flush(t),
                75..83 => Op::Compact(t),
                83..91 => Op::Drop(t),
                _ => Op::Reopen,
            }
        };
        match &op {
            Op::Create(t) => {
                exists.insert(*t, true);
            }
            Op::Drop(t) => {
                exists.insert(*t, false);
            }
            _ => {}
        }
        ops.push(op);
    }
    ops
}

async fn open(dir: &Path, fs: &FaultInjectionFs) -> crate::Result<Database> {
    let mut options = EngineOptions::new(dir);
    options.file_system = Arc::new(fs.clone());
    Database::open_with(options).await
}

async fn close(db: Database) {
    let _ = db.close().await;
}

async fn execute(db: &Database, op: &Op) -> crate::Result<()> {
    db.execute(&op.sql()).await.map(drop)
}

/// Every table and its rows.
async fn contents(db: &Database) -> crate::Result<Oracle> {
    let mut oracle = Oracle::default();
    for name in db.table_names() {
        let sql = format!("SELECT host, CAST(ts AS BIGINT) AS ts, v FROM {name}");
        let Output::Records { batches, .. } = db.execute(&sql).await? else {
            panic!("a query returned no records");
        };
        let mut rows = Rows::new();
        for batch in &batches {
            collect(batch, &mut rows);
        }
        oracle.0.insert(name, rows);
    }
    Ok(oracle)
}

fn collect(batch: &RecordBatch, rows: &mut Rows) {
    let host = batch.column(0).as_string::<i32>();
    let ts = batch.column(1).as_primitive::<Int64Type>();
    let v = batch.column(2).as_primitive::<Float64Type>();
    for i in 0..batch.num_rows() {
        let previous = rows.insert((host.value(i).to_string(), ts.value(i)), v.value(i));
        assert!(previous.is_none(), "a row returned twice");
    }
}

struct Outcome {
    oracle: Oracle,
    in_doubt: Option<Op>,
}

async fn run_workload(dir: &Path, fs: &FaultInjectionFs, ops: &[Op], context: &str) -> Outcome {
    let mut oracle = Oracle::default();
    let mut db = match open(dir, fs).await {
        Ok(db) => db,
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
                close(db).await;
                match open(dir, fs).await {
                    Ok(reopened) => {
                        db = reopened;
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
            op => execute(&db, op).await,
        };
        match result {
            Ok(()) => oracle.apply(op),
            Err(e) => {
                assert!(
                    fs.crashed(),
                    "{context}: {} failed without a fault: {e}",
                    op.sql()
                );
                close(db).await;
                return Outcome {
                    oracle,
                    in_doubt: Some(op.clone()),
                };
            }
        }
    }
    close(db).await;
    Outcome {
        oracle,
        in_doubt: None,
    }
}

async fn recovered(dir: &Path, fs: &FaultInjectionFs, context: &str) -> Oracle {
    let db = match open(dir, fs).await {
        Ok(db) => db,
        Err(e) => panic!(
            "{context}: the database does not open after the cut: {e}\nlast mutations:\n{}",
            fs.trace()
        ),
    };
    let found = match contents(&db).await {
        Ok(found) => found,
        Err(e) => panic!(
            "{context}: reading the tables fails after the cut: {e}\nlast mutations:\n{}",
            fs.trace()
        ),
    };
    close(db).await;
    found
}

async fn crash_test_seed(seed: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = workload(&mut rng);

    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(tmp.path(), seed).expect("fault fs");
    let clean = run_workload(tmp.path(), &fs, &ops, &format!("seed {seed}")).await;
    let span = fs.mutations();
    assert_eq!(
        recovered(tmp.path(), &fs, "no fault").await,
        clean.oracle,
        "seed {seed}: without a fault"
    );

    let mut points: Vec<u64> = (0..POINTS_PER_SEED / 2)
        .map(|i| 1 + i * span / (POINTS_PER_SEED / 2))
        .collect();
    points.extend((0..POINTS_PER_SEED - points.len() as u64).map(|_| rng.random_range(1..=span)));
    for (i, at) in points.iter().enumerate() {
        let context = format!("database seed {seed}, cut at mutation {at} of {span}");
        let tmp = tempfile::tempdir().expect("tempdir");
        let fs = FaultInjectionFs::new(tmp.path(), seed * 1000 + i as u64).expect("fault fs");
        fs.set_fault(Fault::CrashAt(*at));
        let outcome = run_workload(tmp.path(), &fs, &ops, &context).await;
        fs.power_cut().expect("power cut");
        let found = recovered(tmp.path(), &fs, &context).await;
        let mut with_in_doubt = outcome.oracle.clone();
        if let Some(op) = &outcome.in_doubt {
            with_in_doubt.apply(op);
        }
        assert!(
            found == outcome.oracle || found == with_in_doubt,
            "{context}: after recovery\n  found    {found:?}\n  expected {:?}\n  or, with {:?}, {:?}\nlast mutations:\n{}",
            outcome.oracle,
            outcome.in_doubt.as_ref().map(Op::sql),
            with_in_doubt,
            fs.trace()
        );
    }
    points.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_keep_tables_and_rows_consistent() {
    let seeds = std::env::var("TSDB_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS);
    let mut points = 0;
    for seed in 0..seeds {
        points += crash_test_seed(seed).await;
    }
    eprintln!("database crash test: {points} cut points, all recovered");
}
