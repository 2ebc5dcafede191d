//! End-to-end TSBS "cpu-only" benchmark kit (driven by `bench/run.sh`, see docs/BENCHMARKS.md).
//!
//! `harness = false`: this is a plain program with four subcommands.
//!
//! - `generate --hosts N --hours H --seed S --batch R --out DIR` writes `DIR/cpu.sql` (the
//!   `CREATE TABLE` plus `INSERT` statements of R rows each), `DIR/cpu.csv` (with a header) and
//!   `DIR/meta.json`, deterministically from the seed.
//! - `query --data DIR --queries FILE --runs 5 --out FILE.json [--cold]` opens
//!   `tsdb::Database` in this process and times the queries of FILE (`-- name: X` followed by
//!   one statement). Warm mode: one warm-up run, then `--runs` timed runs, and the result rows
//!   of the last run are written for the correctness check. Cold mode: before each timed run the
//!   database is closed and opened again, and the first run after the reopen is timed.
//! - `commit --dir DIR --writers 8 --seconds 5 --out FILE.json` creates a fresh database in
//!   DIR and runs single-row INSERTs from concurrent tasks through `Database::execute`:
//!   commits/s, latency percentiles, WAL syncs (tsbs/library.rs).
//! - `stream --data DIR --out FILE.json` streams `SELECT * FROM cpu` through
//!   `Database::execute_stream` and reports rows and the peak RSS (tsbs/library.rs).
//!
//! `cargo bench` passes `--bench` to harness-less targets; it is ignored.

#[path = "tsbs/generate.rs"]
mod generate;
#[path = "tsbs/library.rs"]
mod library;
#[path = "tsbs/query.rs"]
mod query;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The allocator of the `tsdb-shell` binary (src/main.rs), so the in-process figures are
/// those of the shipped program.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "tsbs",
    about = "TSBS cpu-only data generator and query timer for tsdb"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the cpu-only data set as a SQL script and as CSV.
    Generate(generate::GenerateArgs),
    /// Time the TSBS queries on a tsdb data directory (in-process).
    Query(QueryArgs),
    /// Commits/s of concurrent single-row INSERTs through the library (group commit).
    Commit(library::CommitArgs),
    /// Peak RSS of a query streamed through the library.
    Stream(library::StreamArgs),
}

/// Arguments of `query`.
#[derive(clap::Args, Debug)]
struct QueryArgs {
    /// tsdb data directory holding the `cpu` table.
    #[arg(long)]
    data: PathBuf,
    /// Queries file: `-- name: X` lines, each followed by one statement ending in `;`.
    #[arg(long)]
    queries: PathBuf,
    /// Timed runs per query.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Reopen the database before every timed run and time the first run after it.
    #[arg(long)]
    cold: bool,
    /// Comma-separated query names to run (default: all).
    #[arg(long, default_value = "")]
    only: String,
    /// Output JSON file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = std::env::args().filter(|a| a != "--bench");
    let cli = Cli::parse_from(args);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match cli.command {
        Command::Generate(args) => generate::run(&args),
        Command::Commit(args) => runtime()?.block_on(library::commit(args)),
        Command::Stream(args) => runtime()?.block_on(library::stream(args)),
        Command::Query(args) => runtime()?.block_on(query::run(query::Options {
            data: args.data,
            queries: args.queries,
            runs: args.runs.max(1),
            cold: args.cold,
            only: args
                .only
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            out: args.out,
        })),
    }
}
