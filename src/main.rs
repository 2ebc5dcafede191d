//! `tsdb-shell`: the command-line entry point. Parses the arguments, starts the tokio runtime
//! and hands over to [`shell`]. anyhow is allowed here and in `shell/` only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod shell;

/// mimalloc instead of glibc's malloc, as datafusion-cli does: glibc returns the large
/// buffers of Parquet decoding to the kernel after each query (`munmap`, then page faults and
/// TLB shootdowns on the next one: a third of a warm scan's CPU here was system time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use shell::{OutputFormat, ShellOptions};

/// Interactive SQL shell for the tsdb embedded time-series database.
///
/// Without -c/-f, reads SQL from the terminal (a REPL with history) or, when stdin is not a
/// terminal, executes the statements piped on stdin as soon as each one is complete. Dot
/// commands (`.help`, `.mode csv`, `.read FILE`, ...) work in all of them, one per line.
#[derive(Debug, Parser)]
#[command(name = "tsdb-shell", version)]
#[command(
    after_help = "Exit status: 0 if every statement succeeded, 1 if any failed \
                        (or the database could not be opened), 130 if Ctrl-C stopped a \
                        script.\n\n\
                        Examples:\n  \
                        tsdb-shell ./data -c 'SHOW TABLES'\n  \
                        tsdb-shell ./data -f schema.sql -f load.sql --format csv\n  \
                        tsdb-shell ./data < script.sql\n  \
                        tsdb-shell ./data --history-file ~/.tsdb_history\n  \
                        tsdb-shell ./data -c '.mode jsonl' -c 'SELECT * FROM cpu'\n  \
                        tsdb-shell ./data -c '.import cpu.csv cpu'\n  \
                        tsdb-shell /tmp/slt-data --slt sql-tests/query.slt"
)]
struct Args {
    /// Database directory: opened, or created if missing.
    #[arg(value_name = "DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Run SQL (one or more `;`-separated statements) and exit. May be repeated; runs in order
    /// with --file.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        allow_hyphen_values = true
    )]
    commands: Vec<String>,

    /// Run the SQL script in PATH and exit. May be repeated; runs in order with --command. A
    /// script stops at its first error (later -c/-f still run unless --bail; exit status 1).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    files: Vec<PathBuf>,

    /// How result sets are printed (`.mode` switches later). In every mode but table,
    /// `Affected Rows: N` goes to stderr so that stdout stays machine-readable.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,

    /// Stop at the first failing statement (exit status 1).
    #[arg(long)]
    bail: bool,

    /// Run a sqllogictest file against DATA_DIR instead of starting the shell. May be repeated:
    /// files run in order on the same DATA_DIR (start from an empty one); prints a line per file
    /// and a summary, failure details on stderr, and exits 1 if any file fails.
    #[arg(long = "slt", value_name = "FILE", conflicts_with_all = ["commands", "files"])]
    slt_files: Vec<PathBuf>,

    /// Keep the REPL history in PATH (default: $TSDB_HISTORY, else
    /// $XDG_STATE_HOME/tsdb-shell/history, else ~/.local/state/tsdb-shell/history).
    #[arg(long, value_name = "PATH", conflicts_with = "no_history")]
    history_file: Option<PathBuf>,

    /// Neither read nor write the REPL history file.
    #[arg(long)]
    no_history: bool,

    /// Memtable budget shared by all tables: at half of it the largest tables are flushed,
    /// at all of it writes wait for a flush, and a write that cannot fit fails. SIZE is bytes
    /// or a number with KiB, MiB or GiB (also K, M, G; powers of 1024); 0 disables the
    /// budget. Default 512MiB.
    #[arg(long = "write-buffer-size", value_name = "SIZE", value_parser = parse_size)]
    write_buffer_size: Option<usize>,
}

/// Parses a byte size: `1048576`, `64KiB`, `512MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`,
/// `GB`, any case; all powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (expected e.g. 1048576, 64MiB, 1GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown size unit `{other}` (use KiB, MiB or GiB)")),
    };
    number
        .checked_mul(1usize << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Where the REPL keeps its history: `--no-history`, then `--history-file`, then
/// `$TSDB_HISTORY` (non-empty), then the XDG default.
fn history_setting(args: &Args, env: Option<std::ffi::OsString>) -> shell::History {
    if args.no_history {
        shell::History::Disabled
    } else if let Some(path) = &args.history_file {
        shell::History::File(path.clone())
    } else if let Some(path) = env.filter(|value| !value.is_empty()) {
        shell::History::File(PathBuf::from(path))
    } else {
        shell::History::Default
    }
}

/// Which -c/-f arguments were given, in command-line order.
fn ordered_sources(matches: &clap::ArgMatches, args: &Args) -> Vec<shell::Source> {
    let mut sources: Vec<(usize, shell::Source)> = Vec::new();
    if let Some(indices) = matches.indices_of("commands") {
        sources.extend(indices.zip(args.commands.iter().cloned().map(shell::Source::Command)));
    }
    if let Some(indices) = matches.indices_of("files") {
        sources.extend(indices.zip(args.files.iter().cloned().map(shell::Source::File)));
    }
    sources.sort_by_key(|(index, _)| *index);
    sources.into_iter().map(|(_, source)| source).collect()
}

fn main() -> ExitCode {
    // Engine warnings (a torn WAL tail truncated at open, orphan SSTs swept, a failed
    // background flush) go to stderr; `RUST_LOG` overrides the level.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .format_target(false)
        .init();
    let matches = <Args as clap::CommandFactory>::command().get_matches();
    let args = match <Args as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(err) => err.exit(),
    };
    let options = ShellOptions {
        history: history_setting(&args, std::env::var_os("TSDB_HISTORY")),
        sources: ordered_sources(&matches, &args),
        data_dir: args.data_dir,
        format: args.format,
        bail: args.bail,
        slt_files: args.slt_files,
        write_buffer_bytes: args.write_buffer_size,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(shell::run(options));
    // Background tasks of a failed open, if any, must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> (Args, Vec<shell::Source>) {
        let matches = <Args as clap::CommandFactory>::command()
            .try_get_matches_from(argv)
            .unwrap();
        let args = <Args as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        let sources = ordered_sources(&matches, &args);
        (args, sources)
    }

    #[test]
    fn defaults() {
        let (args, sources) = parse(&["tsdb-shell"]);
        assert_eq!(args.data_dir, PathBuf::from("./data"));
        assert_eq!(args.format, OutputFormat::Table);
        assert!(!args.bail);
        assert!(sources.is_empty());
        assert!(args.slt_files.is_empty());
    }

    #[test]
    fn commands_and_files_keep_command_line_order() {
        let (args, sources) = parse(&[
            "tsdb-shell",
            "dir",
            "-f",
            "a.sql",
            "-c",
            "SELECT 1",
            "--file",
            "b.sql",
            "--command=SELECT 2",
            "--format",
            "csv",
            "--bail",
        ]);
        assert_eq!(args.data_dir, PathBuf::from("dir"));
        assert_eq!(args.format, OutputFormat::Csv);
        assert!(args.bail);
        assert_eq!(
            sources,
            vec![
                shell::Source::File("a.sql".into()),
                shell::Source::Command("SELECT 1".into()),
                shell::Source::File("b.sql".into()),
                shell::Source::Command("SELECT 2".into()),
            ]
        );
    }

    #[test]
    fn slt_conflicts_with_commands() {
        let result = <Args as clap::CommandFactory>::command().try_get_matches_from([
            "tsdb-shell",
            "--slt",
            "x.slt",
            "-c",
            "SELECT 1",
        ]);
        assert!(result.is_err());
        let (args, _) = parse(&["tsdb-shell", "d", "--slt", "a.slt", "--slt", "b.slt"]);
        assert_eq!(
            args.slt_files,
            vec![PathBuf::from("a.slt"), PathBuf::from("b.slt")]
        );
    }

    #[test]
    fn json_format_and_bad_format() {
        let (args, _) = parse(&["tsdb-shell", "--format", "json"]);
        assert_eq!(args.format, OutputFormat::Json);
        for (name, format) in [
            ("tsv", OutputFormat::Tsv),
            ("jsonl", OutputFormat::Jsonl),
            ("markdown", OutputFormat::Markdown),
            ("line", OutputFormat::Line),
        ] {
            assert_eq!(parse(&["tsdb-shell", "--format", name]).0.format, format);
            assert_eq!(format.name(), name);
        }
        assert!(
            <Args as clap::CommandFactory>::command()
                .try_get_matches_from(["tsdb-shell", "--format", "xml"])
                .is_err()
        );
    }

    #[test]
    fn history_options() {
        let (args, _) = parse(&["tsdb-shell"]);
        assert_eq!(history_setting(&args, None), shell::History::Default);
        assert_eq!(
            history_setting(&args, Some("/e/h".into())),
            shell::History::File("/e/h".into())
        );
        assert_eq!(
            history_setting(&args, Some("".into())),
            shell::History::Default
        );
        let (args, _) = parse(&["tsdb-shell", "--history-file", "/a/h"]);
        assert_eq!(
            history_setting(&args, Some("/e/h".into())),
            shell::History::File("/a/h".into())
        );
        let (args, _) = parse(&["tsdb-shell", "--no-history"]);
        assert_eq!(
            history_setting(&args, Some("/e/h".into())),
            shell::History::Disabled
        );
        assert!(
            <Args as clap::CommandFactory>::command()
                .try_get_matches_from(["tsdb-shell", "--no-history", "--history-file", "x"])
                .is_err()
        );
    }

    #[test]
    fn write_buffer_size_accepts_bytes_and_binary_units() {
        assert_eq!(parse(&["tsdb-shell"]).0.write_buffer_size, None);
        for (text, bytes) in [
            ("0", 0),
            ("1048576", 1 << 20),
            ("64KiB", 64 << 10),
            ("256MiB", 256 << 20),
            ("256m", 256 << 20),
            ("2GiB", 2 << 30),
            ("3 MB", 3 << 20),
        ] {
            let (args, _) = parse(&["tsdb-shell", "--write-buffer-size", text]);
            assert_eq!(args.write_buffer_size, Some(bytes), "{text}");
        }
        for bad in ["", "MiB", "12XB", "-1", "99999999999999999999GiB"] {
            assert!(
                <Args as clap::CommandFactory>::command()
                    .try_get_matches_from(["tsdb-shell", "--write-buffer-size", bad])
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn clap_definition_is_valid() {
        <Args as clap::CommandFactory>::command().debug_assert();
    }
}
