//! The engine's write buffer through the public `Database` API: several tables share a small
//! memtable budget, the budget flushes them while the inserts run, and every row is there
//! after a reopen with the default options.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use tsdb::database::{Database, Output};
use tsdb::engine::EngineOptions;

const TABLES: usize = 4;
const INSERTS: usize = 12;
const ROWS: usize = 400;

fn insert_sql(table: usize, insert: usize) -> String {
    let values: Vec<String> = (0..ROWS)
        .map(|i| {
            let ts = (insert * ROWS + i) as i64 * 1000;
            format!("('host_{}', {ts}, {}.5)", i % 25, i)
        })
        .collect();
    format!("INSERT INTO t{table} VALUES {}", values.join(", "))
}

async fn count(db: &Database, table: usize) -> i64 {
    let Output::Records { batches, .. } = db
        .execute(&format!("SELECT count(*) FROM t{table}"))
        .await
        .unwrap()
    else {
        panic!("SELECT returns records");
    };
    let batches: Vec<RecordBatch> = batches;
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_budget_flushes_tables_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 256 << 10;
    let mut options = EngineOptions::new(dir.path());
    options.write_buffer_bytes = budget;
    let db = Database::open_with(options).await.unwrap();
    for table in 0..TABLES {
        db.execute(&format!(
            "CREATE TABLE t{table} (host STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, \
             PRIMARY KEY (host))"
        ))
        .await
        .unwrap();
    }
    for insert in 0..INSERTS {
        for table in 0..TABLES {
            let out = db.execute(&insert_sql(table, insert)).await.unwrap();
            assert!(matches!(out, Output::AffectedRows(n) if n == ROWS as u64));
        }
    }
    let write_buffer = db.engine().write_buffer().clone();
    write_buffer.wait_for_flushes().await;
    let flushed = (0..TABLES)
        .filter(|t| {
            let table = db.catalog().table(&format!("t{t}")).unwrap();
            !table.region.version().files.is_empty()
        })
        .count();
    assert_eq!(flushed, TABLES, "every table was flushed by the budget");
    assert!(write_buffer.memory_usage() < budget);
    assert!(write_buffer.peak_usage() <= 2 * budget);
    for table in 0..TABLES {
        assert_eq!(count(&db, table).await, (INSERTS * ROWS) as i64);
    }
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    for table in 0..TABLES {
        assert_eq!(count(&db, table).await, (INSERTS * ROWS) as i64);
    }
    db.close().await.unwrap();
}
