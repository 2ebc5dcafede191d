//! Plan-shape tests: statistics, partitions and filter pushdown of [`super::RegionScanExec`]
//! as seen through EXPLAIN, on a small TSBS-like `cpu` table.

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;

use crate::{Database, Output};

async fn records(db: &Database, sql: &str) -> Vec<RecordBatch> {
    match db.execute(sql).await {
        Ok(Output::Records { batches, .. }) => batches,
        Ok(other) => panic!("{sql}: expected records, got {other:?}"),
        Err(e) => panic!("{sql}: {e}"),
    }
}

async fn text(db: &Database, sql: &str) -> String {
    pretty_format_batches(&records(db, sql).await)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `hosts` hosts with a row every 10 s for `hours` hours, one SST per hour (flushed).
async fn tsbs_cpu(hosts: i64, hours: i64) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    db.execute(
        "CREATE TABLE cpu (hostname STRING, region STRING, ts TIMESTAMP TIME INDEX, \
         usage_user DOUBLE, usage_system DOUBLE, PRIMARY KEY (hostname, region))",
    )
    .await
    .unwrap();
    let per_hour = 360 * hosts;
    for hour in 0..hours {
        let sql = format!(
            "INSERT INTO cpu SELECT 'host_' || CAST(value % {hosts} AS VARCHAR), \
             'r' || CAST(value % 3 AS VARCHAR), \
             to_timestamp_millis(1451606400000 + {hour} * 3600000 + (value / {hosts}) * 10000), \
             CAST(value % 100 AS DOUBLE), 1.0 FROM range(0, {per_hour})"
        );
        db.execute(&sql).await.unwrap();
        db.execute("ADMIN flush_table('cpu')").await.unwrap();
    }
    (dir, db)
}

pub(crate) const LASTPOINT: &str = "SELECT c.* FROM cpu c \
    JOIN (SELECT hostname, max(ts) AS max_ts FROM cpu GROUP BY hostname) m \
    ON c.hostname = m.hostname AND c.ts = m.max_ts ORDER BY c.hostname";

pub(crate) const DOUBLE_GROUPBY_ALL: &str = "SELECT date_trunc('hour', ts) AS hour, hostname, \
    avg(usage_user) AS mean_usage_user, avg(usage_system) AS mean_usage_system FROM cpu \
    WHERE ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00' \
    GROUP BY hour, hostname ORDER BY hour, hostname";

/// The physical plan of `sql` as lines.
async fn physical_plan(db: &Database, sql: &str) -> Vec<String> {
    let plan = text(db, &format!("EXPLAIN {sql}")).await;
    plan.lines()
        .skip_while(|line| !line.contains("physical_plan"))
        .map(|line| line.to_string())
        .collect()
}

async fn scalar_i64(db: &Database, sql: &str) -> i64 {
    use arrow::array::AsArray;
    let batches = records(db, sql).await;
    batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0)
}

/// With row-count and byte-size statistics the hash join of lastpoint builds on the small
/// aggregate side (before: it built on the scan of every row, `LeftSemi` with the scan first).
#[tokio::test]
async fn lastpoint_join_builds_on_the_aggregate() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    let plan = physical_plan(&db, LASTPOINT).await;
    let join = plan
        .iter()
        .position(|line| line.contains("HashJoinExec"))
        .unwrap_or_else(|| panic!("no hash join in {plan:#?}"));
    assert!(plan[join].contains("join_type=RightSemi"), "{plan:#?}");
    // The build side (first child) reads only the aggregate's columns.
    let first_scan = plan[join..]
        .iter()
        .find(|line| line.contains("RegionScanExec"))
        .unwrap();
    assert!(
        first_scan.contains("projection=[hostname, ts]"),
        "{plan:#?}"
    );
    let batches = records(&db, LASTPOINT).await;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 20);
    let last = scalar_i64(
        &db,
        "SELECT count(*) FROM cpu WHERE ts = TIMESTAMP '2016-01-01 02:59:50'",
    )
    .await;
    assert_eq!(last, 20);
}

/// The hash join's dynamic filter (`ts` between the build side's smallest and largest
/// `max_ts`) reaches the probe scan, which reads only the newest timestamp's rows.
#[tokio::test]
async fn lastpoint_probe_scan_reads_only_the_newest_rows() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    let plan = text(&db, &format!("EXPLAIN ANALYZE {LASTPOINT}")).await;
    let probe = plan
        .lines()
        .find(|l| l.contains("RegionScanExec") && l.contains("usage_user"))
        .unwrap_or_else(|| panic!("no probe scan in {plan}"));
    assert!(probe.contains("dynamic_filters=1"), "{probe}");
    assert!(probe.contains("output_rows=20,"), "{probe}");
    // A partitioned join's filter is a CASE over per-partition bounds: still pruned.
    for setting in [
        "hash_join_single_partition_threshold",
        "hash_join_single_partition_threshold_rows",
    ] {
        db.execute(&format!("SET datafusion.optimizer.{setting} = 0"))
            .await
            .unwrap();
    }
    let plan = text(&db, &format!("EXPLAIN ANALYZE {LASTPOINT}")).await;
    assert!(plan.contains("mode=Partitioned"), "{plan}");
    let probe = plan
        .lines()
        .find(|l| l.contains("RegionScanExec") && l.contains("usage_user"))
        .unwrap_or_else(|| panic!("no probe scan in {plan}"));
    assert!(probe.contains("output_rows=20,"), "{probe}");
    assert_eq!(
        records(&db, LASTPOINT)
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        20
    );
    // TopK's threshold filter is accepted too and leaves results intact.
    let sql = "SELECT hostname FROM cpu WHERE ts = (SELECT max(ts) FROM cpu) \
               ORDER BY ts DESC, hostname LIMIT 3";
    let rows = text(&db, sql).await;
    assert!(
        rows.contains("host_0 ") && rows.contains("host_1 "),
        "{rows}"
    );
    let sql = "SELECT count(*) FROM (SELECT ts FROM cpu ORDER BY ts DESC LIMIT 25) t \
               WHERE ts = TIMESTAMP '2016-01-01 02:59:50'";
    assert_eq!(scalar_i64(&db, sql).await, 20);
}

/// A scan splits into time partitions at the gaps between runs of overlapping sources (no
/// round-robin repartition above it) and every row is returned once, also with a memtable
/// overwriting the rows of one SST.
#[tokio::test]
async fn scan_partitions_by_time_return_each_row_once() {
    let (_dir, db) = tsbs_cpu(30, 3).await;
    // Overwrite hour 1 (in the memtable, not flushed): same identities, new values.
    db.execute(
        "INSERT INTO cpu SELECT 'host_' || CAST(value % 30 AS VARCHAR), \
         'r' || CAST(value % 3 AS VARCHAR), \
         to_timestamp_millis(1451606400000 + 3600000 + (value / 30) * 10000), \
         0.0, 2.0 FROM range(0, 10800)",
    )
    .await
    .unwrap();
    let plan = physical_plan(&db, DOUBLE_GROUPBY_ALL).await;
    let scan = plan.iter().find(|l| l.contains("RegionScanExec")).unwrap();
    assert!(scan.contains("partitions=2"), "{plan:#?}");
    assert!(
        !plan.iter().any(|l| l.contains("RoundRobinBatch")),
        "{plan:#?}"
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM cpu").await, 32_400);
    // Hours 0 and 2 keep 1.0, hour 1 has 2.0.
    assert_eq!(
        scalar_i64(&db, "SELECT CAST(sum(usage_system) AS BIGINT) FROM cpu").await,
        10_800 + 21_600 + 10_800
    );
    let groups = records(&db, DOUBLE_GROUPBY_ALL).await;
    assert_eq!(groups.iter().map(|b| b.num_rows()).sum::<usize>(), 90);
    // A limit keeps one partition.
    let plan = physical_plan(&db, "SELECT * FROM cpu LIMIT 5").await;
    let scan = plan.iter().find(|l| l.contains("RegionScanExec")).unwrap();
    assert!(!scan.contains("partitions="), "{plan:#?}");
    // After compaction every hour window is one file, disjoint from the others: the scan
    // still partitions at the gaps, and returns every row once.
    db.execute("ADMIN flush_table('cpu')").await.unwrap();
    db.execute("ADMIN compact_table('cpu')").await.unwrap();
    let plan = physical_plan(&db, DOUBLE_GROUPBY_ALL).await;
    let scan = plan.iter().find(|l| l.contains("RegionScanExec")).unwrap();
    assert!(scan.contains("partitions=2"), "{plan:#?}");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM cpu").await, 32_400);
    // A range inside one file is one run, never cut (a cut would decode the file twice).
    let one_hour = "SELECT hostname, max(usage_user) FROM cpu \
                    WHERE ts >= TIMESTAMP '2016-01-01 01:00:00' \
                    AND ts < TIMESTAMP '2016-01-01 02:00:00' GROUP BY hostname";
    let plan = physical_plan(&db, one_hour).await;
    let scan = plan.iter().find(|l| l.contains("RegionScanExec")).unwrap();
    assert!(!scan.contains("partitions="), "{plan:#?}");
    assert_eq!(
        records(&db, one_hour)
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        30
    );
}

/// Time-index ranges on timestamp literals are pushed down `Exact` (no `FilterExec` left for
/// them); other predicates stay in a `FilterExec` above the scan.
#[tokio::test]
async fn exact_time_ranges_drop_the_filter() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    let plan = physical_plan(&db, DOUBLE_GROUPBY_ALL).await;
    assert!(!plan.iter().any(|l| l.contains("FilterExec")), "{plan:#?}");
    let hour_1 = "ts >= TIMESTAMP '2016-01-01 01:00:00' AND ts < TIMESTAMP '2016-01-01 02:00:00'";
    let sql = format!("SELECT count(*) FROM cpu WHERE {hour_1}");
    assert_eq!(scalar_i64(&db, &sql).await, 7200);
    // A range with a gap (OR) and a tag predicate are re-applied by DataFusion; a field
    // comparison is applied by the engine alone, also on a column not selected.
    let sql =
        format!("SELECT * FROM cpu WHERE usage_user > 90 AND {hour_1} AND hostname = 'host_7'");
    let plan = physical_plan(&db, &sql).await;
    let filter = plan.iter().find(|l| l.contains("FilterExec")).unwrap();
    assert!(filter.contains("hostname"), "{plan:#?}");
    assert!(!filter.contains("usage_user"), "{plan:#?}");
    assert!(!filter.contains("ts@"), "{plan:#?}");
    let sql = format!("SELECT hostname FROM cpu WHERE usage_user > 90 AND {hour_1}");
    let plan = physical_plan(&db, &sql).await;
    assert!(!plan.iter().any(|l| l.contains("FilterExec")), "{plan:#?}");
    let scan = plan.iter().find(|l| l.contains("RegionScanExec")).unwrap();
    assert!(scan.contains("filter_by=usage_user Gt 90"), "{scan}");
    let expected = format!("SELECT count(*) FROM cpu WHERE usage_user + 0.0 > 90 AND {hour_1}");
    let count = format!("SELECT count(hostname) FROM cpu WHERE usage_user > 90 AND {hour_1}");
    assert_eq!(
        scalar_i64(&db, &count).await,
        scalar_i64(&db, &expected).await
    );
    let sql = "SELECT count(*) FROM cpu WHERE ts < TIMESTAMP '2016-01-01 00:00:10' \
               OR ts >= TIMESTAMP '2016-01-01 02:59:50'";
    let plan = physical_plan(&db, sql).await;
    assert!(plan.iter().any(|l| l.contains("FilterExec")), "{plan:#?}");
    assert_eq!(scalar_i64(&db, sql).await, 40);
}

/// The scan line of `plan` (EXPLAIN ANALYZE text) that projects `projection`.
fn scan_line<'a>(plan: &'a str, projection: &str) -> &'a str {
    plan.lines()
        .find(|l| l.contains("RegionScanExec") && l.contains(projection))
        .unwrap_or_else(|| panic!("no scan of {projection} in {plan}"))
}

/// Both scans of lastpoint carry the last-row selector: the aggregate side reads one row per
/// series and SST (60 series x 3 files), the probe side only the series' newest rows at the
/// newest timestamp; the answer is unchanged.
#[tokio::test]
async fn lastpoint_scans_read_the_newest_row_of_each_series() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    let plan = text(&db, &format!("EXPLAIN ANALYZE {LASTPOINT}")).await;
    let aggregate = scan_line(&plan, "projection=[hostname, ts]");
    assert!(aggregate.contains("selector=last_row"), "{aggregate}");
    assert!(aggregate.contains("output_rows=180,"), "{aggregate}");
    let probe = scan_line(&plan, "usage_user");
    assert!(probe.contains("selector=last_row"), "{probe}");
    assert!(probe.contains("output_rows=20,"), "{probe}");
    let sql = "SELECT hostname, max(ts) FROM cpu GROUP BY hostname ORDER BY hostname";
    let rows = text(&db, sql).await;
    assert_eq!(rows.matches("2016-01-01T02:59:50").count(), 20, "{rows}");
    // The second run reads the aggregate side's files from the last-row cache.
    let before = db.engine().cache_stats().last_row_hits;
    records(&db, LASTPOINT).await;
    assert!(db.engine().cache_stats().last_row_hits >= before + 3);
}

/// Shapes whose answer needs other rows than the newest of each series keep whole scans.
#[tokio::test]
async fn last_row_selector_only_where_the_answer_allows_it() {
    let (_dir, db) = tsbs_cpu(4, 1).await;
    let marked = |plan: &[String]| plan.iter().any(|l| l.contains("selector=last_row"));
    for sql in [
        "SELECT hostname, max(ts) FROM cpu GROUP BY hostname",
        "SELECT DISTINCT hostname, region FROM cpu",
        "SELECT hostname, max(ts) FROM cpu WHERE hostname = 'host_1' GROUP BY hostname",
    ] {
        assert!(marked(&physical_plan(&db, sql).await), "{sql}");
    }
    for sql in [
        "SELECT hostname, max(usage_user) FROM cpu GROUP BY hostname",
        "SELECT hostname, min(ts) FROM cpu GROUP BY hostname",
        "SELECT hostname, max(ts), count(*) FROM cpu GROUP BY hostname",
        "SELECT hostname, max(ts) FROM cpu WHERE usage_user > 50 GROUP BY hostname",
        "SELECT usage_system, max(ts) FROM cpu GROUP BY usage_system",
        "SELECT date_trunc('hour', ts) AS h, hostname, max(ts) FROM cpu GROUP BY h, hostname",
    ] {
        assert!(!marked(&physical_plan(&db, sql).await), "{sql}");
    }
    // Outer joins keep unmatched probe rows; a join on a tag the aggregate does not group by
    // does not pin rows to their series' newest time.
    for sql in [
        "SELECT c.* FROM cpu c LEFT JOIN (SELECT hostname, max(ts) AS max_ts FROM cpu \
         GROUP BY hostname) m ON c.hostname = m.hostname AND c.ts = m.max_ts",
        "SELECT c.* FROM cpu c JOIN (SELECT hostname, max(ts) AS max_ts FROM cpu \
         GROUP BY hostname) m ON c.ts = m.max_ts",
    ] {
        let plan = physical_plan(&db, sql).await;
        let probe = plan
            .iter()
            .find(|l| l.contains("RegionScanExec") && l.contains("usage_user"))
            .unwrap_or_else(|| panic!("{plan:#?}"));
        assert!(!probe.contains("selector=last_row"), "{sql}: {probe}");
    }
}

/// The value of metric `name` in an `EXPLAIN ANALYZE` line (`1.5 K` = 1500).
fn metric(line: &str, name: &str) -> f64 {
    let value = [' ', '[']
        .iter()
        .find_map(|before| line.split(&format!("{before}{name}=")).nth(1))
        .and_then(|rest| rest.split([',', ']']).next())
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let (number, scale) = match value.split_once(' ') {
        Some((n, "K")) => (n, 1e3),
        Some((n, "M")) => (n, 1e6),
        Some((n, unit)) if unit.ends_with('B') => (n, 1.0),
        _ => (value, 1.0),
    };
    number
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("{name}={value}"))
        * scale
}

/// `EXPLAIN ANALYZE` shows what the engine read: files, cache hits and misses, bytes fetched,
/// row groups and rows decoded after pruning.
#[tokio::test]
async fn explain_analyze_shows_what_the_engine_read() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    let sql = "EXPLAIN ANALYZE SELECT * FROM cpu WHERE hostname = 'host_3'";
    let plan = text(&db, sql).await;
    let scan = scan_line(&plan, "usage_user");
    // Three one-hour files on two partitions: striped, so both partitions open all three,
    // and each file is fetched once (the second reader waits for the first, then hits).
    assert!(scan.contains("partitions=2 (striped)"), "{scan}");
    assert_eq!(metric(scan, "sst_files"), 6.0, "{scan}");
    assert_eq!(metric(scan, "sst_cache_misses"), 3.0, "{scan}");
    assert_eq!(metric(scan, "sst_cache_hits"), 3.0, "{scan}");
    assert!(metric(scan, "sst_bytes_fetched") > 0.0, "{scan}");
    // Page pruning by the tag: fewer than the 21,600 rows of the three files.
    let decoded = metric(scan, "rows_decoded");
    assert!(decoded > 0.0 && decoded < 21_600.0, "{scan}");
    let plan = text(&db, sql).await;
    let scan = scan_line(&plan, "usage_user");
    assert_eq!(metric(scan, "sst_cache_hits"), 6.0, "{scan}");
    assert_eq!(metric(scan, "sst_cache_misses"), 0.0, "{scan}");
    assert_eq!(metric(scan, "sst_bytes_fetched"), 0.0, "{scan}");
    // A second lastpoint takes the aggregate side's newest rows from the last-row cache.
    records(&db, LASTPOINT).await;
    let plan = text(&db, &format!("EXPLAIN ANALYZE {LASTPOINT}")).await;
    let aggregate = scan_line(&plan, "projection=[hostname, ts]");
    assert_eq!(metric(aggregate, "last_row_cache_hits"), 3.0, "{aggregate}");
    assert_eq!(metric(aggregate, "rows_decoded"), 0.0, "{aggregate}");
    // The probe side, narrowed to the newest timestamp, is answered from the cached newest
    // rows of the last file too: nothing decoded, nothing read.
    let probe = scan_line(&plan, "usage_user");
    assert_eq!(metric(probe, "last_row_reads"), 0.0, "{probe}");
    assert!(metric(probe, "last_row_cache_hits") >= 1.0, "{probe}");
    assert_eq!(metric(probe, "output_rows"), 20.0, "{probe}");
}

/// Partial aggregates over a scan grouped by tags and time buckets run as
/// `RunGroupedAggregateExec` and answer exactly as DataFusion's own (forced by keys the rule
/// does not take: a cast bucket, a computed tag), over SSTs, overwrites in the memtable,
/// short runs (minute buckets without a tag) and empty results.
#[tokio::test]
async fn run_grouped_aggregates_answer_as_datafusion() {
    let (_dir, db) = tsbs_cpu(20, 3).await;
    db.execute(
        "INSERT INTO cpu VALUES ('host_3', 'r0', '2016-01-01T01:00:00Z', 1000.0, NULL), \
         ('host_4', 'r1', '2016-01-01T01:00:10Z', -5.0, 2.0), \
         ('host_99', 'r2', '2016-01-01T02:30:00Z', 7.0, 7.0)",
    )
    .await
    .unwrap();
    let plan = physical_plan(&db, DOUBLE_GROUPBY_ALL).await;
    assert!(
        plan.iter().any(|l| l.contains("RunGroupedAggregateExec")),
        "{plan:#?}"
    );
    let aggregates = "avg(usage_user), max(usage_system), min(usage_user), count(*), \
                      count(usage_system), sum(usage_user)";
    let pairs = [
        (
            format!(
                "SELECT date_trunc('hour', ts) AS b, hostname, {aggregates} FROM cpu \
                 GROUP BY b, hostname ORDER BY b, hostname"
            ),
            format!(
                "SELECT date_trunc('hour', ts) AS b, concat(hostname, '') AS hostname, \
                 {aggregates} FROM cpu GROUP BY b, concat(hostname, '') ORDER BY b, hostname"
            ),
        ),
        (
            format!(
                "SELECT date_trunc('minute', ts) AS b, {aggregates} FROM cpu \
                 GROUP BY b ORDER BY b"
            ),
            format!(
                "SELECT CAST(date_trunc('minute', ts) AS TIMESTAMP) AS b, {aggregates} \
                 FROM cpu GROUP BY CAST(date_trunc('minute', ts) AS TIMESTAMP) ORDER BY b"
            ),
        ),
        (
            format!(
                "SELECT region, hostname, {aggregates} FROM cpu \
                 WHERE hostname IN ('host_1', 'host_3') GROUP BY region, hostname \
                 ORDER BY region, hostname"
            ),
            format!(
                "SELECT region, concat(hostname, '') AS hostname, {aggregates} FROM cpu \
                 WHERE hostname IN ('host_1', 'host_3') \
                 GROUP BY region, concat(hostname, '') ORDER BY region, hostname"
            ),
        ),
        (
            format!(
                "SELECT hostname, {aggregates} FROM cpu WHERE usage_user > 5000 GROUP BY hostname"
            ),
            format!(
                "SELECT concat(hostname, '') AS hostname, {aggregates} FROM cpu \
                 WHERE usage_user > 5000 GROUP BY concat(hostname, '')"
            ),
        ),
    ];
    for (ours, theirs) in &pairs {
        let plan = physical_plan(&db, ours).await;
        assert!(
            plan.iter().any(|l| l.contains("RunGroupedAggregateExec")),
            "{ours}: {plan:#?}"
        );
        let plan = physical_plan(&db, theirs).await;
        assert!(
            !plan.iter().any(|l| l.contains("RunGroupedAggregateExec")),
            "{theirs}: {plan:#?}"
        );
        assert_eq!(text(&db, ours).await, text(&db, theirs).await, "{ours}");
    }
}
