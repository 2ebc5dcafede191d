//! Table options through `Database`: `SHOW CREATE TABLE` shows them normalised across
//! ALTER and restarts (multi-line output, which `.slt` files cannot hold), and `DROP TABLE`
//! removes the table's files.

use tsdb::Database;
use tsdb::database::Output;

async fn show_create(db: &Database, table: &str) -> String {
    match db
        .execute(&format!("SHOW CREATE TABLE {table}"))
        .await
        .unwrap()
    {
        Output::Records { batches, .. } => {
            let rows = tsdb::slt::format_rows(&batches).unwrap();
            rows[0][1].clone()
        }
        other => panic!("unexpected {other:?}"),
    }
}

const COLUMNS: &str = "CREATE TABLE IF NOT EXISTS \"m\" (\n  \"host\" STRING NULL,\n  \
                       \"ts\" TIMESTAMP(3) NOT NULL,\n  \"v\" DOUBLE NULL,\n  TIME INDEX \
                       (\"ts\"),\n  PRIMARY KEY (\"host\")\n)\n\nENGINE=mito\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_create_table_shows_options_across_alter_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).await.unwrap();
        db.execute(
            "CREATE TABLE m (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v DOUBLE) \
             WITH (ttl = '7d', merge_mode = 'LAST_NON_NULL')",
        )
        .await
        .unwrap();
        assert_eq!(
            show_create(&db, "m").await,
            format!("{COLUMNS}WITH(\n  merge_mode = 'last_non_null',\n  ttl = '7days'\n)")
        );
        db.close().await.unwrap();
    }
    {
        let db = Database::open(dir.path()).await.unwrap();
        assert!(show_create(&db, "m").await.contains("ttl = '7days'"));
        db.execute("ALTER TABLE m SET 'ttl' = '1h'").await.unwrap();
        db.close().await.unwrap();
    }
    {
        let db = Database::open(dir.path()).await.unwrap();
        assert_eq!(
            show_create(&db, "m").await,
            format!("{COLUMNS}WITH(\n  merge_mode = 'last_non_null',\n  ttl = '1h'\n)")
        );
        db.execute("ALTER TABLE m UNSET 'ttl'").await.unwrap();
        db.close().await.unwrap();
    }
    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(
        show_create(&db, "m").await,
        format!("{COLUMNS}WITH(\n  merge_mode = 'last_non_null'\n)")
    );
    db.execute(
        "CREATE TABLE a (ts TIMESTAMP TIME INDEX, v DOUBLE) WITH (append_mode = 'TRUE', ttl = 'forever')",
    )
    .await
    .unwrap();
    let sql = show_create(&db, "a").await;
    assert!(
        sql.ends_with("WITH(\n  append_mode = 'true',\n  ttl = 'forever'\n)"),
        "{sql}"
    );
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_table_removes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute("CREATE TABLE t (ts TIMESTAMP TIME INDEX, v DOUBLE)")
        .await
        .unwrap();
    db.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
        .await
        .unwrap();
    db.execute("ADMIN flush_table('t')").await.unwrap();
    db.execute("INSERT INTO t VALUES (3, 3)").await.unwrap();
    let region = db.catalog().table("t").unwrap().region.region_id();
    let region_dir = dir.path().join("regions").join(region.to_string());
    let wal_dir = dir.path().join("wal").join(region.to_string());
    assert!(region_dir.join("sst").read_dir().unwrap().count() > 0);
    assert!(wal_dir.exists());
    db.execute("DROP TABLE t").await.unwrap();
    db.close().await.unwrap();
    assert!(!region_dir.exists(), "{} remains", region_dir.display());
    assert!(!wal_dir.exists(), "{} remains", wal_dir.display());
    let db = Database::open(dir.path()).await.unwrap();
    assert!(db.table_names().is_empty());
    db.close().await.unwrap();
}
