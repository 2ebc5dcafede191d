//! DDL results that `.slt` cannot hold (multi-line `SHOW CREATE TABLE` / `SHOW CREATE VIEW`
//! texts with blank lines) and what must survive closing and reopening the database: column
//! and table comments, `CREATE TABLE ... LIKE`, views. Expected texts are GreptimeDB's sqlness
//! outputs where it has one (named at each test).

use arrow::array::AsArray;
use tsdb::database::{Database, Output};

/// The rows of a result set, every column cast to text.
async fn rows(db: &Database, sql: &str) -> Vec<Vec<String>> {
    let Output::Records { batches, .. } = db.execute(sql).await.unwrap() else {
        panic!("{sql} returns records");
    };
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|c| c.as_string::<i32>().value(row).to_string())
                    .collect(),
            );
        }
    }
    rows
}

async fn show_create(db: &Database, what: &str, name: &str) -> String {
    let rows = rows(db, &format!("SHOW CREATE {what} {name}")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], name);
    rows[0][1].clone()
}

/// GreptimeDB's `tests/cases/standalone/common/create/create_type_alias.result`.
#[tokio::test]
async fn type_aliases_show_as_greptimedb_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute(
        "CREATE TABLE data_types (s string, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, \
         u64 uint64, u32 uint32, u16 uint16, u8 uint8, sint int16, i INT32, bint INT64, \
         v varchar, f FLOAT32, d FLOAT64, b boolean, vb varbinary, dt date, dtt datetime, ts0 TimestampSecond, \
         ts3 Timestamp_MS, ts6 Timestamp_US, \
         ts9 TimestampNanosecond DEFAULT CURRENT_TIMESTAMP() TIME INDEX, PRIMARY KEY(s))",
    )
    .await
    .unwrap();
    let expected = r#"CREATE TABLE IF NOT EXISTS "data_types" (
  "s" STRING NULL,
  "i2" SMALLINT NULL,
  "i4" INT NULL,
  "i8" BIGINT NULL,
  "f4" FLOAT NULL,
  "f8" DOUBLE NULL,
  "u64" BIGINT UNSIGNED NULL,
  "u32" INT UNSIGNED NULL,
  "u16" SMALLINT UNSIGNED NULL,
  "u8" TINYINT UNSIGNED NULL,
  "sint" SMALLINT NULL,
  "i" INT NULL,
  "bint" BIGINT NULL,
  "v" STRING NULL,
  "f" FLOAT NULL,
  "d" DOUBLE NULL,
  "b" BOOLEAN NULL,
  "vb" VARBINARY NULL,
  "dt" DATE NULL,
  "dtt" TIMESTAMP(6) NULL,
  "ts0" TIMESTAMP(0) NULL,
  "ts3" TIMESTAMP(3) NULL,
  "ts6" TIMESTAMP(6) NULL,
  "ts9" TIMESTAMP(9) NOT NULL DEFAULT current_timestamp(),
  TIME INDEX ("ts9"),
  PRIMARY KEY ("s")
)

ENGINE=mito
"#;
    assert_eq!(show_create(&db, "TABLE", "data_types").await, expected);
    db.close().await.unwrap();
}

/// GreptimeDB's `create/create.result` (`monitor`, `WITH(COMMENT=..)`) and
/// `show/show_create.result` (`disk FLOAT COMMENT 'comment'`); kept across a reopen and copied
/// by `CREATE TABLE ... LIKE`.
#[tokio::test]
async fn comments_persist_and_like_copies_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute(
        "CREATE TABLE if not exists monitor (host STRING, \
         ts TIMESTAMP(9) DEFAULT CURRENT_TIMESTAMP() TIME INDEX, cpu FLOAT64 DEFAULT 0, \
         memory FLOAT64, disk FLOAT COMMENT 'it''s the disk', PRIMARY KEY(host)) \
         ENGINE=mito WITH(COMMENT='create by human')",
    )
    .await
    .unwrap();
    let expected = |name: &str| {
        format!(
            r#"CREATE TABLE IF NOT EXISTS "{name}" (
  "host" STRING NULL,
  "ts" TIMESTAMP(9) NOT NULL DEFAULT current_timestamp(),
  "cpu" DOUBLE NULL DEFAULT 0,
  "memory" DOUBLE NULL,
  "disk" FLOAT NULL COMMENT 'it''s the disk',
  TIME INDEX ("ts"),
  PRIMARY KEY ("host")
)

ENGINE=mito
WITH(
  comment = 'create by human'
)"#
        )
    };
    assert_eq!(
        show_create(&db, "TABLE", "monitor").await,
        expected("monitor")
    );
    db.execute("INSERT INTO monitor (host, cpu) VALUES ('a', 1)")
        .await
        .unwrap();
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(
        show_create(&db, "TABLE", "monitor").await,
        expected("monitor")
    );
    db.execute("CREATE TABLE monitor2 LIKE monitor")
        .await
        .unwrap();
    assert_eq!(
        show_create(&db, "TABLE", "monitor2").await,
        expected("monitor2")
    );
    assert_eq!(rows(&db, "SELECT count(*) FROM monitor2").await, [["0"]]);
    assert_eq!(rows(&db, "SELECT count(*) FROM monitor").await, [["1"]]);
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(
        show_create(&db, "TABLE", "monitor2").await,
        expected("monitor2")
    );
    db.close().await.unwrap();
}

/// A view is in the catalog: it survives a reopen, is planned again over the reopened table,
/// and `DROP VIEW` is durable too.
#[tokio::test]
async fn views_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute("CREATE TABLE t1 (a INT, b STRING, c TIMESTAMP TIME INDEX)")
        .await
        .unwrap();
    db.execute("INSERT INTO t1 VALUES (41, 'hello', 1), (42, 'world', 2)")
        .await
        .unwrap();
    db.execute("CREATE VIEW v1 AS SELECT a, b FROM t1 WHERE a > 41")
        .await
        .unwrap();
    db.execute("CREATE VIEW v2 (x) AS SELECT a FROM v1")
        .await
        .unwrap();
    db.execute("CREATE VIEW gone AS SELECT a FROM t1")
        .await
        .unwrap();
    db.execute("DROP VIEW gone").await.unwrap();
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(rows(&db, "SELECT * FROM v1").await, [["42", "world"]]);
    assert_eq!(rows(&db, "SELECT x FROM v2").await, [["42"]]);
    assert_eq!(rows(&db, "SHOW VIEWS").await, [["v1"], ["v2"]]);
    assert_eq!(
        show_create(&db, "VIEW", "v1").await,
        "CREATE VIEW v1 AS SELECT a, b FROM t1 WHERE a > 41"
    );
    assert!(db.execute("SELECT * FROM gone").await.is_err());
    // The name is still taken by the view after the reopen.
    let err = db
        .execute("CREATE TABLE v1 (ts TIMESTAMP TIME INDEX)")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Table already exists"), "{err}");
    db.execute("CREATE OR REPLACE VIEW v1 AS SELECT b FROM t1 WHERE a = 41")
        .await
        .unwrap();
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(rows(&db, "SELECT * FROM v1").await, [["hello"]]);
    // v2 read column a of the old v1: it no longer plans, and stays listed.
    assert!(db.execute("SELECT * FROM v2").await.is_err());
    assert_eq!(rows(&db, "SHOW VIEWS").await, [["v1"], ["v2"]]);
    db.close().await.unwrap();
}

/// `ADMIN` results are named after the call, as GreptimeDB's (`delete/delete.result`).
#[tokio::test]
async fn admin_result_column_is_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute("CREATE TABLE monitor (ts TIMESTAMP TIME INDEX, v DOUBLE)")
        .await
        .unwrap();
    for (sql, name) in [
        (
            "ADMIN flush_table('monitor')",
            "ADMIN flush_table('monitor')",
        ),
        (
            "admin COMPACT_TABLE('MONITOR');",
            "ADMIN compact_table('monitor')",
        ),
        (
            "ADMIN flush_region(4294967296)",
            "ADMIN flush_region(4294967296)",
        ),
    ] {
        let Output::Records { schema, batches } = db.execute(sql).await.unwrap() else {
            panic!("{sql} returns records");
        };
        assert_eq!(schema.field(0).name(), name);
        assert_eq!(
            schema.field(0).data_type(),
            &arrow::datatypes::DataType::UInt64
        );
        assert_eq!(batches[0].num_rows(), 1);
    }
    db.close().await.unwrap();
}
