//! End-to-end tests of the SQL ↔ engine glue through [`crate::Database`].

use arrow::array::{AsArray, RecordBatch};
use arrow::util::pretty::pretty_format_batches;

use crate::{Database, Error, Output};

async fn records(db: &Database, sql: &str) -> Vec<RecordBatch> {
    match db.execute(sql).await {
        Ok(Output::Records { batches, .. }) => batches,
        Ok(other) => panic!("{sql}: expected records, got {other:?}"),
        Err(e) => panic!("{sql}: {e}"),
    }
}

async fn affected(db: &Database, sql: &str) -> u64 {
    match db.execute(sql).await {
        Ok(Output::AffectedRows(n)) => n,
        Ok(other) => panic!("{sql}: expected affected rows, got {other:?}"),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// The result as a table with all spaces removed (`|a|1.5|`).
async fn text(db: &Database, sql: &str) -> String {
    pretty_format_batches(&records(db, sql).await)
        .map(|t| t.to_string().replace(' ', ""))
        .unwrap_or_default()
}

async fn error(db: &Database, sql: &str) -> String {
    match db.execute(sql).await {
        Ok(out) => panic!("{sql}: expected an error, got {out:?}"),
        Err(e) => e.to_string(),
    }
}

const CREATE_CPU: &str = "CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, \
     cpu_load DOUBLE DEFAULT 0, PRIMARY KEY (host))";

#[tokio::test]
async fn create_insert_select_delete() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(affected(&db, CREATE_CPU).await, 0);
    assert!(
        error(&db, CREATE_CPU)
            .await
            .contains("Table already exists: cpu")
    );
    assert_eq!(
        affected(&db, &CREATE_CPU.replace("TABLE", "TABLE IF NOT EXISTS")).await,
        0
    );
    assert_eq!(db.table_names(), ["cpu"]);

    let n = affected(
        &db,
        "INSERT INTO cpu VALUES ('a', 1000, 1.5), ('b', 2000, 2.5), ('a', 3000, 3.5)",
    )
    .await;
    assert_eq!(n, 3);
    // Default fills the omitted column.
    assert_eq!(
        affected(&db, "INSERT INTO cpu (host, ts) VALUES ('c', 4000)").await,
        1
    );
    let out = text(
        &db,
        "SELECT host, cpu_load FROM cpu WHERE ts >= '1970-01-01T00:00:02' ORDER BY ts",
    )
    .await;
    assert!(out.contains("|b|2.5|"), "{out}");
    assert!(out.contains("|c|0.0|"), "{out}");
    assert!(!out.contains("1.5"), "{out}");

    // Integers compare with timestamps as raw values in the column's unit.
    let out = text(
        &db,
        "SELECT host FROM cpu WHERE ts BETWEEN 2000 AND 3000 AND ts IN (2000, 5) ORDER BY host",
    )
    .await;
    assert!(out.contains("|b|") && !out.contains("|a|"), "{out}");
    let out = text(&db, "SELECT count(*) AS n FROM cpu WHERE 2000 < ts").await;
    assert!(out.contains("|2|"), "{out}");
    let plan = text(
        &db,
        "EXPLAIN SELECT * FROM cpu WHERE ts >= 2000 AND ts < 3000",
    )
    .await;
    assert!(plan.contains("time_range=[2000,2999]"), "{plan}");
    let plan = text(&db, "EXPLAIN SELECT * FROM cpu WHERE ts >= '1970-01-01T00:00:02' AND ts < '1970-01-01T00:00:03'").await;
    assert!(plan.contains("RegionScanExec:table=cpu"), "{plan}");
    assert!(plan.contains("time_range=[2000,2999]"), "{plan}");

    let err = error(&db, "INSERT INTO cpu (host, cpu_load) VALUES ('x', 1.0)").await;
    assert!(err.contains("time index column 'ts'"), "{err}");

    assert_eq!(
        affected(
            &db,
            "DELETE FROM cpu WHERE host = 'a' AND ts > '1970-01-01T00:00:01'"
        )
        .await,
        1
    );
    let batches = records(&db, "SELECT count(*) FROM cpu").await;
    let count = batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(count, 3);

    assert_eq!(affected(&db, "DROP TABLE cpu").await, 0);
    assert!(
        error(&db, "DROP TABLE cpu")
            .await
            .contains("Table not found: cpu")
    );
    assert_eq!(affected(&db, "DROP TABLE IF EXISTS cpu").await, 0);
    assert!(error(&db, "SELECT * FROM cpu").await.contains("cpu"));
    db.close().await.unwrap();
}

#[tokio::test]
async fn describe_show_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    affected(&db, CREATE_CPU).await;
    affected(
        &db,
        "CREATE TABLE mem (ts TIMESTAMP(3) TIME INDEX, v BIGINT NOT NULL)",
    )
    .await;
    let desc = text(&db, "DESC TABLE cpu").await;
    assert!(
        desc.contains("|Column|Type|Key|Null|Default|SemanticType|"),
        "{desc}"
    );
    assert!(desc.contains("|host|String|PRI|YES||TAG|"), "{desc}");
    assert!(
        desc.contains("|ts|TimestampMillisecond|PRI|NO||TIMESTAMP|"),
        "{desc}"
    );
    assert!(desc.contains("|cpu_load|Float64||YES|0|FIELD|"), "{desc}");
    let tables = text(&db, "SHOW TABLES").await;
    assert!(tables.contains("Tables_in_public"), "{tables}");
    assert!(tables.find("cpu") < tables.find("mem"), "{tables}");
    let like = text(&db, "SHOW TABLES LIKE 'm%'").await;
    assert!(like.contains("mem") && !like.contains("cpu"), "{like}");
    let create = records(&db, "SHOW CREATE TABLE cpu").await;
    let sql = create[0].column(1).as_string::<i32>().value(0).to_string();
    assert!(sql.contains("TIME INDEX"), "{sql}");
    affected(&db, "INSERT INTO mem VALUES (1, 1)").await;
    // GreptimeDB's shape: one row, 0, in a column named after the call.
    assert_eq!(
        text(&db, "ADMIN flush_table('mem')").await,
        "+--------------------------+\n|ADMINflush_table('mem')|\n+--------------------------+\n|0|\n+--------------------------+"
    );
    assert_eq!(
        records(&db, "ADMIN compact_table('mem')").await[0].num_rows(),
        1
    );
    assert!(
        error(&db, "ADMIN flush_table('nope')")
            .await
            .contains("Table not found: nope")
    );
    assert!(
        error(&db, "DESC TABLE nope")
            .await
            .contains("Table not found: nope")
    );
    let out = text(&db, "SELECT v FROM mem").await;
    assert!(out.contains("|1|"), "{out}");
    db.close().await.unwrap();
}

#[tokio::test]
async fn reopen_keeps_tables_and_lock_excludes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    affected(&db, CREATE_CPU).await;
    affected(&db, "INSERT INTO cpu VALUES ('a', 1000, 1.5)").await;
    let err = Database::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("is locked by another process"),
        "{err}"
    );
    db.close().await.unwrap();

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(db.table_names(), ["cpu"]);
    let out = text(&db, "SELECT * FROM cpu").await;
    assert!(out.contains("1.5"), "{out}");
    // Table ids are not reused after a drop.
    affected(&db, "DROP TABLE cpu").await;
    affected(&db, CREATE_CPU).await;
    let out = text(&db, "SELECT count(*) AS n FROM cpu").await;
    assert!(out.contains("|0|"), "{out}");
    db.close().await.unwrap();
}

#[tokio::test]
async fn corrupt_catalog_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    affected(&db, CREATE_CPU).await;
    db.close().await.unwrap();
    let path = dir.path().join(crate::catalog::persist::CATALOG_PATH);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let err = Database::open(dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("catalog/CATALOG"), "{err}");
}

#[tokio::test]
async fn external_csv_insert_select() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("weather.csv");
    std::fs::write(
        &csv,
        "city,time,temp\nlondon,2013-01-01T06:00:00Z,3.5\nparis,2013-01-01T07:00:00Z,NA\n",
    )
    .unwrap();
    let db = Database::open(dir.path().join("db")).await.unwrap();
    affected(
        &db,
        "CREATE TABLE weather (city STRING, ts TIMESTAMP TIME INDEX, temperature DOUBLE, PRIMARY KEY (city))",
    )
    .await;
    let ddl = format!(
        "CREATE EXTERNAL TABLE w STORED AS CSV LOCATION '{}' \
         OPTIONS ('format.has_header' 'true')",
        csv.display()
    );
    assert_eq!(affected(&db, &ddl).await, 0);
    let n = affected(
        &db,
        // DataFusion 55.2's CSV reader ignores `format.null_regex` (it is only used for schema
        // inference), so 'NA' is mapped to NULL in SQL. The string time is cast by the
        // INSERT planner to the column type.
        "INSERT INTO weather SELECT city, time, NULLIF(temp, 'NA') FROM w",
    )
    .await;
    assert_eq!(n, 2);
    let out = text(&db, "SELECT city, ts, temperature FROM weather ORDER BY ts").await;
    assert!(out.contains("2013-01-01T06:00:00"), "{out}");
    assert!(out.contains("|paris|2013-01-01T07:00:00||"), "{out}");
    let tables = text(&db, "SHOW TABLES").await;
    assert!(tables.contains("|w|"), "{tables}");
    assert!(text(&db, "DESC TABLE w").await.contains("FIELD"));
    assert_eq!(affected(&db, "DROP TABLE w").await, 0);
    assert_eq!(db.table_names(), ["weather"]);
    db.close().await.unwrap();
}

#[tokio::test]
async fn leftover_regions_are_dropped_at_open() {
    use crate::engine::metadata::RegionId;
    use crate::engine::{Engine, EngineOptions};

    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    affected(&db, CREATE_CPU).await;
    affected(
        &db,
        "INSERT INTO cpu VALUES ('a', 1000, 1.5), ('b', 2000, 2.5)",
    )
    .await;
    let out = text(&db, "SELECT host FROM cpu LIMIT 1").await;
    assert_eq!(
        out.matches("|a|").count() + out.matches("|b|").count(),
        1,
        "{out}"
    );
    let metadata = db.catalog().table("cpu").unwrap().region.metadata();
    db.close().await.unwrap();

    // Simulate a crash after the engine created a region but before the catalog named it.
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let mut orphan = (*metadata).clone();
    orphan.region_id = RegionId::new(77, 0);
    engine.create_region(orphan).await.unwrap();
    engine.close().await.unwrap();
    drop(engine);

    let db = Database::open(dir.path()).await.unwrap();
    assert_eq!(db.table_names(), ["cpu"]);
    let engine = db.engine();
    let regions = engine.list_regions().await.unwrap();
    assert!(!regions.contains(&RegionId::new(77, 0)), "{regions:?}");
    assert!(text(&db, "SELECT * FROM cpu").await.contains("|a|"));
    db.close().await.unwrap();
}

/// `tag = 'v'` / `tag IN (...)` reach the engine and skip SST row groups and pages (rows sorted
/// by tag).
#[tokio::test]
async fn tag_filters_prune_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    affected(
        &db,
        "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, v BIGINT, PRIMARY KEY (host))",
    )
    .await;
    // Five hosts of 50,000 rows: with 102,400-row groups, h4 lies in the last two groups; the
    // page index narrows that to h4's rows plus part of one page of h3.
    affected(
        &db,
        "INSERT INTO t SELECT 'h' || CAST(value / 50000 AS VARCHAR) AS host, \
         to_timestamp_millis(value) AS ts, value AS v FROM range(0, 250000)",
    )
    .await;
    records(&db, "ADMIN flush_table('t')").await;
    let plan = text(
        &db,
        "EXPLAIN ANALYZE SELECT count(*) FROM t WHERE host = 'h4'",
    )
    .await;
    let scan = plan
        .lines()
        .find(|line| line.contains("RegionScanExec"))
        .unwrap_or_else(|| panic!("no scan in {plan}"));
    assert!(scan.contains("prune_by=hostIN(h4)"), "{scan}");
    assert!(scan.contains("output_rows=53.39K"), "{scan}");
    let rows = text(&db, "SELECT count(*) AS n FROM t WHERE host = 'h4'").await;
    assert!(rows.contains("50000"), "{rows}");
    db.close().await.unwrap();
}
