//! Group commit through the library API: concurrent single-row `INSERT`s via
//! `Database::execute` on one table share WAL fsyncs, each is visible as soon as it is
//! acknowledged, and all of them survive a reopen (acknowledged means durable).

use std::sync::Arc;

use arrow::array::{Array, Int64Array};
use tsdb::{Database, Output};

const WRITERS: usize = 16;
const INSERTS: usize = 20;

async fn count(db: &Database, sql: &str) -> i64 {
    let Output::Records { batches, .. } = db.execute(sql).await.unwrap() else {
        panic!("{sql}: no result set");
    };
    let column = batches[0].column(0);
    let counts = column.as_any().downcast_ref::<Int64Array>().unwrap();
    counts.value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_share_fsyncs_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).await.unwrap());
    db.execute(
        "CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, usage_user DOUBLE, \
         PRIMARY KEY (host))",
    )
    .await
    .unwrap();
    let region = db.catalog().table("cpu").unwrap().region;
    let syncs_before = region.wal_sync_count();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..INSERTS {
                    let sql = format!("INSERT INTO cpu VALUES ('h{w}', {}, {i}.5)", i * 1000);
                    match db.execute(&sql).await.unwrap() {
                        Output::AffectedRows(1) => {}
                        other => panic!("{sql}: {other:?}"),
                    }
                }
                // Acknowledged writes are visible: every insert of this writer is counted.
                let sql = format!("SELECT count(*) FROM cpu WHERE host = 'h{w}'");
                assert_eq!(count(&db, &sql).await, INSERTS as i64);
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let writes = (WRITERS * INSERTS) as u64;
    let syncs = region.wal_sync_count() - syncs_before;
    assert!(syncs >= 1, "no WAL sync for {writes} inserts");
    assert!(syncs < writes, "{syncs} WAL syncs for {writes} inserts");
    assert_eq!(count(&db, "SELECT count(*) FROM cpu").await, writes as i64);

    drop(region);
    Arc::into_inner(db).unwrap().close().await.unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM cpu").await, writes as i64);
    let sql = "SELECT count(DISTINCT host) FROM cpu WHERE usage_user = 19.5";
    assert_eq!(count(&db, sql).await, WRITERS as i64);
    db.close().await.unwrap();
}
