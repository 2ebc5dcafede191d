//! Two figures of the library API (`tsdb::Database`), measured in this process:
//!
//! - `commit`: N concurrent tasks (default 8) each run single-row `INSERT INTO cpu VALUES
//!   (...)` statements through [`Database::execute`] on a fresh database, for a fixed time.
//!   Every acknowledged insert is durable (fsynced in the WAL), so the rate is commits/s;
//!   concurrent inserts share fsyncs through the WAL writer's group commit, and the WAL's sync
//!   counter ([`tsdb::engine::region::Region::wal_sync_count`]) says how many they shared.
//!   Afterwards the row count is checked, before and after a reopen.
//! - `stream`: opens an existing database, streams `SELECT * FROM cpu` through
//!   [`Database::execute_stream`] counting rows (nothing is kept), and reports the process's
//!   peak RSS (`VmHWM` of `/proc/self/status`): the streaming path must not hold the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tsdb::{Database, Output, OutputStream};

use crate::generate::create_table_sql;

/// Arguments of `commit`.
#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Database directory to create (removed first if it exists; kept afterwards). Put it on
    /// the disk being measured: a tmpfs makes fsync free.
    #[arg(long)]
    dir: PathBuf,
    /// Concurrent writer tasks.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Output JSON file.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `stream`.
#[derive(clap::Args, Debug)]
pub struct StreamArgs {
    /// tsdb data directory holding the `cpu` table.
    #[arg(long)]
    data: PathBuf,
    /// The query to stream.
    #[arg(long, default_value = "SELECT * FROM cpu")]
    sql: String,
    /// Output JSON file.
    #[arg(long)]
    out: PathBuf,
}

/// The value of `key` (kB) in `/proc/self/status`, in bytes; `None` off Linux.
fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// `SELECT count(*) FROM cpu`.
async fn count_rows(db: &Database) -> anyhow::Result<u64> {
    let Output::Records { batches, .. } = db.execute("SELECT count(*) FROM cpu").await? else {
        anyhow::bail!("count(*) returned no rows");
    };
    let batch = batches
        .first()
        .ok_or_else(|| anyhow::anyhow!("count(*) returned no batch"))?;
    let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::UInt64)?;
    let counts = column
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .ok_or_else(|| anyhow::anyhow!("count(*) is not an integer"))?;
    Ok(counts.value(0))
}

/// One TSBS-like row of writer `w` at tick `i` (ts every 10 s from 2016-01-01) as a
/// single-row INSERT in table order: 10 tags, ts, 10 fields.
fn insert_sql(w: usize, i: u64) -> String {
    let secs = i * 10;
    let (day, rem) = (1 + secs / 86_400, secs % 86_400);
    let ts = format!(
        "2016-01-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let mut sql = format!(
        "INSERT INTO cpu VALUES ('host_{w}','eu-west-1','eu-west-1a','{}','Ubuntu16.04LTS','x64',\
         'NYC','{}','{}','production','{ts}'",
        w % 100,
        w % 20,
        w % 2
    );
    for f in 0..10u64 {
        let v = ((i * 7 + f * 13 + w as u64) % 10_000) as f64 / 100.0;
        sql.push_str(&format!(",{v:.2}"));
    }
    sql.push(')');
    sql
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub async fn commit(args: CommitArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.writers > 0, "--writers must be positive");
    match std::fs::remove_dir_all(&args.dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let db = Arc::new(Database::open(&args.dir).await?);
    db.execute(create_table_sql().trim().trim_end_matches(';'))
        .await?;
    let region = db
        .catalog()
        .table("cpu")
        .ok_or_else(|| anyhow::anyhow!("table cpu missing after CREATE TABLE"))?
        .region;
    let syncs_before = region.wal_sync_count();
    let run_for = Duration::from_secs_f64(args.seconds.max(0.1));
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.writers)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut latencies_us = Vec::new();
                let mut i = 0u64;
                while start.elapsed() < run_for {
                    let sql = insert_sql(w, i);
                    let t = Instant::now();
                    match db.execute(&sql).await? {
                        Output::AffectedRows(1) => {}
                        other => anyhow::bail!("INSERT returned {other:?}"),
                    }
                    latencies_us.push(t.elapsed().as_secs_f64() * 1e6);
                    i += 1;
                }
                Ok(latencies_us)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let syncs = region.wal_sync_count() - syncs_before;
    let commits = latencies.len() as u64;
    latencies.sort_by(f64::total_cmp);

    // Every acknowledged insert is there, and still there after a reopen.
    let rows = count_rows(&db).await?;
    anyhow::ensure!(rows == commits, "{rows} rows after {commits} commits");
    drop(region);
    let db = Arc::try_unwrap(db).map_err(|_| anyhow::anyhow!("database still shared"))?;
    db.close().await?;
    let db = Database::open(&args.dir).await?;
    let reopened = count_rows(&db).await?;
    db.close().await?;
    anyhow::ensure!(
        reopened == commits,
        "{reopened} rows after reopen, {commits} commits"
    );

    let out = json!({
        "writers": args.writers,
        "seconds": secs,
        "commits": commits,
        "commits_per_second": commits as f64 / secs,
        "p50_us": round1(percentile(&latencies, 50.0)),
        "p99_us": round1(percentile(&latencies, 99.0)),
        "max_us": round1(latencies.last().copied().unwrap_or(0.0)),
        "wal_syncs": syncs,
        "commits_per_sync": if syncs > 0 { commits as f64 / syncs as f64 } else { 0.0 },
        "rows_after_reopen": reopened,
    });
    eprintln!(
        "  tsdb commit: {} writers, {commits} commits in {secs:.2} s = {:.0}/s, p50 {:.0} us, \
         p99 {:.0} us, {syncs} WAL syncs ({:.2} commits/sync)",
        args.writers,
        commits as f64 / secs,
        out["p50_us"].as_f64().unwrap_or(0.0),
        out["p99_us"].as_f64().unwrap_or(0.0),
        out["commits_per_sync"].as_f64().unwrap_or(0.0),
    );
    std::fs::write(&args.out, serde_json::to_string(&out)?)?;
    Ok(())
}

pub async fn stream(args: StreamArgs) -> anyhow::Result<()> {
    let db = open_existing(&args.data).await?;
    let rss_after_open = proc_status_bytes("VmRSS:");
    let start = Instant::now();
    let (mut rows, mut batches) = (0u64, 0u64);
    match db.execute_stream(&args.sql).await? {
        OutputStream::Records(mut stream) => {
            while let Some(batch) = stream.next().await {
                rows += batch?.num_rows() as u64;
                batches += 1;
            }
        }
        OutputStream::AffectedRows(_) => anyhow::bail!("{} returned no result set", args.sql),
    }
    let secs = start.elapsed().as_secs_f64();
    let peak = proc_status_bytes("VmHWM:");
    db.close().await?;
    let out = json!({
        "sql": args.sql,
        "rows": rows,
        "batches": batches,
        "seconds": secs,
        "peak_rss_bytes": peak,
        "rss_after_open_bytes": rss_after_open,
    });
    eprintln!(
        "  tsdb stream: {rows} rows in {batches} batches, {secs:.2} s, peak RSS {:.0} MiB",
        peak.unwrap_or(0) as f64 / (1 << 20) as f64
    );
    std::fs::write(&args.out, serde_json::to_string(&out)?)?;
    Ok(())
}

async fn open_existing(dir: &Path) -> anyhow::Result<Database> {
    anyhow::ensure!(dir.is_dir(), "no database directory {}", dir.display());
    Ok(Database::open(dir).await?)
}
