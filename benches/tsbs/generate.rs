//! Deterministic TSBS "cpu-only" data: one row per host every `interval` seconds, in
//! time-major order (every host for tick 0, then every host for tick 1, ...) like TSBS emits it.
//!
//! Tags are fixed per host and drawn like TSBS's devops generator does (region and one of its
//! availability zones, rack, os, arch, team, service, service version, environment). Each of
//! the 10 `usage_*` fields is a random walk started uniformly in [0, 100) with N(0, 1) steps,
//! clamped to [0, 100], written with two decimals. The PRNG is ChaCha8 seeded from `--seed`,
//! so equal arguments give byte-identical files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tag columns, in table order.
pub const TAGS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];

/// Field columns, in table order.
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

const REGIONS: [(&str, &[&str]); 9] = [
    (
        "us-east-1",
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"],
    ),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const OS: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCH: [&str; 2] = ["x64", "x86"];
const TEAM: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const ENVS: [&str; 3] = ["production", "staging", "test"];

/// Arguments of `generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Number of hosts.
    #[arg(long, default_value_t = 100)]
    hosts: u32,
    /// Hours of data per host.
    #[arg(long, default_value_t = 24)]
    hours: u32,
    /// PRNG seed.
    #[arg(long, default_value_t = 123)]
    seed: u64,
    /// Rows per INSERT statement in the SQL script.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Seconds between two readings of a host.
    #[arg(long, default_value_t = 10)]
    interval: u32,
    /// First timestamp (UTC, RFC 3339).
    #[arg(long, default_value = "2016-01-01T00:00:00Z")]
    start: String,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// One host: its tag values and the current value of each field's walk.
struct Host {
    tags: [String; 10],
    walk: [f64; 10],
}

fn pick<'a, R: Rng>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A standard normal deviate (Box-Muller) from the seeded generator.
fn gauss<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn make_hosts<R: Rng>(rng: &mut R, n: u32) -> Vec<Host> {
    (0..n)
        .map(|i| {
            let (region, zones) = REGIONS[rng.random_range(0..REGIONS.len())];
            let tags = [
                format!("host_{i}"),
                region.to_string(),
                pick(rng, zones).to_string(),
                rng.random_range(0..100u32).to_string(),
                pick(rng, &OS).to_string(),
                pick(rng, &ARCH).to_string(),
                pick(rng, &TEAM).to_string(),
                rng.random_range(0..20u32).to_string(),
                rng.random_range(0..2u32).to_string(),
                pick(rng, &ENVS).to_string(),
            ];
            let walk = std::array::from_fn(|_| rng.random::<f64>() * 100.0);
            Host { tags, walk }
        })
        .collect()
}

/// The `CREATE TABLE` statement of the data set, in tsdb's (GreptimeDB) dialect.
pub fn create_table_sql() -> String {
    let mut cols: Vec<String> = TAGS.iter().map(|t| format!("  {t} STRING")).collect();
    cols.push("  ts TIMESTAMP TIME INDEX".to_string());
    cols.extend(FIELDS.iter().map(|f| format!("  {f} DOUBLE")));
    cols.push(format!("  PRIMARY KEY ({})", TAGS.join(", ")));
    format!("CREATE TABLE cpu (\n{}\n);\n", cols.join(",\n"))
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch > 0, "--batch must be positive");
    anyhow::ensure!(args.interval > 0, "--interval must be positive");
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339(&args.start)?.with_timezone(&Utc);
    std::fs::create_dir_all(&args.out)?;
    let sql_path = args.out.join("cpu.sql");
    let csv_path = args.out.join("cpu.csv");
    let mut sql = BufWriter::with_capacity(1 << 20, File::create(&sql_path)?);
    let mut csv = BufWriter::with_capacity(1 << 20, File::create(&csv_path)?);

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut hosts = make_hosts(&mut rng, args.hosts);
    let ticks = u64::from(args.hours) * 3600 / u64::from(args.interval);

    sql.write_all(create_table_sql().as_bytes())?;
    writeln!(csv, "{},ts,{}", TAGS.join(","), FIELDS.join(","))?;

    let mut in_stmt = 0usize;
    let mut rows = 0u64;
    for k in 0..ticks {
        let ts = (start + Duration::seconds((k * u64::from(args.interval)) as i64))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        for host in &mut hosts {
            if k > 0 {
                for v in &mut host.walk {
                    *v = (*v + gauss(&mut rng)).clamp(0.0, 100.0);
                }
            }
            // CSV line.
            csv.write_all(host.tags.join(",").as_bytes())?;
            write!(csv, ",{ts}")?;
            for v in &host.walk {
                write!(csv, ",{v:.2}")?;
            }
            csv.write_all(b"\n")?;
            // SQL tuple (tag values never contain quotes).
            if in_stmt == 0 {
                sql.write_all(b"INSERT INTO cpu VALUES ")?;
            } else {
                sql.write_all(b",")?;
            }
            write!(sql, "('{}','{ts}'", host.tags.join("','"))?;
            for v in &host.walk {
                write!(sql, ",{v:.2}")?;
            }
            sql.write_all(b")")?;
            in_stmt += 1;
            rows += 1;
            if in_stmt == args.batch {
                sql.write_all(b";\n")?;
                in_stmt = 0;
            }
        }
    }
    if in_stmt > 0 {
        sql.write_all(b";\n")?;
    }
    sql.flush()?;
    csv.flush()?;

    let meta = serde_json::json!({
        "hosts": args.hosts,
        "hours": args.hours,
        "seed": args.seed,
        "batch": args.batch,
        "interval_s": args.interval,
        "start": args.start,
        "rows": rows,
        "statements": rows.div_ceil(args.batch as u64),
        "sql_bytes": std::fs::metadata(&sql_path)?.len(),
        "csv_bytes": std::fs::metadata(&csv_path)?.len(),
    });
    std::fs::write(
        args.out.join("meta.json"),
        serde_json::to_string_pretty(&meta)?,
    )?;
    eprintln!(
        "generated {rows} rows ({} hosts x {} h) into {}",
        args.hosts,
        args.hours,
        args.out.display()
    );
    Ok(())
}
