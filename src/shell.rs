//! The shell: opens the database and runs statements from `-c`/`-f` sources, from piped stdin,
//! or from the interactive REPL; `--slt` runs sqllogictest files instead.
//!
//! Output contract (scripts rely on it): results go to stdout (or the `.output` file), errors to
//! stderr as exactly one line `Error: <message>` (in the REPL and for `-c`, a parse error's line
//! is followed by the statement's offending line and a `^` under the column), and
//! `Affected Rows: N` to stdout in table mode (stderr in the other modes). Timings (`.timer on`)
//! go to stderr in scripts. Rows are written and flushed as their batches arrive in every format
//! but table and markdown, which print when the result is complete ([`print`]). The exit status
//! is 1 if any statement or dot command failed.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use errors::{error_chain, print_error};
use tsdb::Database;
use tsdb::sql::StatementSplitter;

mod command;
mod errors;
mod helper;
mod input;
mod interrupt;
mod print;
mod progress;
mod render;
mod repl;

pub use render::OutputFormat;
use render::RenderOptions;

/// Where `-c`/`-f` SQL comes from, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-c SQL`: the SQL text itself.
    Command(String),
    /// `-f PATH`: a script file.
    File(PathBuf),
}

/// Where the REPL keeps its history (script input is never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// `$XDG_STATE_HOME/tsdb-shell/history`, else `~/.local/state/tsdb-shell/history`.
    Default,
    /// `--history-file PATH` or `$TSDB_HISTORY`.
    File(PathBuf),
    /// `--no-history`.
    Disabled,
}

/// Everything the shell needs from the command line.
#[derive(Debug)]
pub struct ShellOptions {
    /// The database directory.
    pub data_dir: PathBuf,
    /// `-c`/`-f` sources; empty means stdin (REPL or pipe).
    pub sources: Vec<Source>,
    /// How result sets are printed.
    pub format: OutputFormat,
    /// Stop at the first error.
    pub bail: bool,
    /// `--slt` files: run them instead of the shell.
    pub slt_files: Vec<PathBuf>,
    /// The REPL's history file.
    pub history: History,
    /// `--write-buffer-size`: the engine's memtable budget in bytes (`None`: the default).
    pub write_buffer_bytes: Option<usize>,
}

/// Runs the shell and returns the process exit status.
pub async fn run(options: ShellOptions) -> ExitCode {
    if !options.slt_files.is_empty() {
        return run_slt(&options).await;
    }
    let mut engine_options = tsdb::engine::EngineOptions::new(&options.data_dir);
    if let Some(bytes) = options.write_buffer_bytes {
        engine_options.write_buffer_bytes = bytes;
    }
    let db = match Database::open_with(engine_options)
        .await
        .with_context(|| format!("cannot open database {}", options.data_dir.display()))
    {
        Ok(db) => db,
        Err(err) => {
            print_error(&error_chain(err.as_ref()));
            return ExitCode::FAILURE;
        }
    };
    let interactive = options.sources.is_empty() && std::io::stdin().is_terminal();
    let mut session = Session::new(db, options.format, options.bail, interactive);

    if !options.sources.is_empty() {
        for source in &options.sources {
            run_source(&mut session, source).await;
            if session.should_stop() {
                break;
            }
        }
    } else if interactive {
        repl::run(&mut session, &options.data_dir, &options.history).await;
    } else {
        input::run_reader(&mut session, std::io::stdin().lock()).await;
    }

    session.set_output(None);
    let failed = session.failed;
    let interactive = session.interactive;
    let interrupted = session.interrupted && !interactive;
    if let Err(err) = session.db.close().await.context("closing the database") {
        print_error(&error_chain(err.as_ref()));
        return ExitCode::FAILURE;
    }
    // In the REPL, errors were already shown and the user moved on; the session itself succeeded.
    if interrupted {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else if failed && !interactive {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one `-c`/`-f` source to its end (or to the first error with `--bail`).
async fn run_source(session: &mut Session, source: &Source) {
    match source {
        Source::Command(sql) => {
            session.show_caret = true;
            input::run_text(session, sql).await;
            session.show_caret = false;
        }
        // A file stops at its first error, like `.read`; later sources still run (unless
        // --bail), but the exit status is 1.
        Source::File(path) => match std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))
        {
            Ok(text) => {
                let (failed, bail) = (session.failed, session.bail);
                session.failed = false;
                session.bail = true;
                input::run_text(session, &text).await;
                session.bail = bail;
                session.failed |= failed;
            }
            Err(err) => session.report_error(&error_chain(err.as_ref())),
        },
    }
}

/// `--slt`: runs every file against the data directory and prints a summary.
async fn run_slt(options: &ShellOptions) -> ExitCode {
    let mut failed = 0usize;
    for file in &options.slt_files {
        let started = Instant::now();
        match tsdb::slt::run_slt_file(&options.data_dir, file).await {
            Ok(()) => println!(
                "ok      {} ({})",
                file.display(),
                format_elapsed(started.elapsed())
            ),
            Err(err) => {
                failed += 1;
                println!("FAILED  {}", file.display());
                eprintln!("{err}");
            }
        }
        let _ = std::io::stdout().flush();
    }
    let total = options.slt_files.len();
    println!(
        "sqllogictest: {total} file(s), {} passed, {failed} failed",
        total - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Where `.output`/`.once` send result sets.
pub struct Redirect {
    file: std::io::BufWriter<std::fs::File>,
    /// `.once`: back to stdout after the next result set.
    once: bool,
}

/// Terminals narrower than this (or reporting 0 columns) get unwrapped tables.
const MIN_WRAP_WIDTH: u16 = 20;

/// Rows shown by default in the REPL's table mode (`.maxrows`).
const REPL_MAX_ROWS: usize = 40;

/// Rows shown by default in a script's table mode (`.maxrows`): a table holds the rows it
/// shows in memory, so a huge result is cut here (the streaming formats are never cut).
const SCRIPT_MAX_ROWS: usize = 10_000;

/// Characters of a table cell's line shown by default (`.maxcolwidth`).
const MAX_CELL_WIDTH: usize = 1_000;

/// One open database plus the output settings and the running error state.
pub struct Session {
    db: Database,
    format: OutputFormat,
    render: RenderOptions,
    bail: bool,
    interactive: bool,
    /// Print `N rows in set (0.010 sec)` after results (REPL default; `.timer` switches). In
    /// scripts the line goes to stderr so that stdout stays clean.
    timing: bool,
    /// `.output`/`.once` target; `None` is stdout.
    output: Option<Redirect>,
    /// Some statement failed.
    failed: bool,
    /// Writing to stdout failed (e.g. a closed pipe): stop running statements.
    output_broken: bool,
    /// `.quit` was run.
    quit: bool,
    /// Ctrl-C (see [`interrupt`]).
    interrupts: std::sync::Arc<interrupt::Interrupts>,
    /// Ctrl-C cancelled or followed the current input's statement: skip the rest of the input
    /// (the REPL clears it before its next input; a script exits 130).
    interrupted: bool,
    /// Draw a progress bar on a terminal's stderr for long statements (`.progress on|off`).
    show_progress: bool,
    /// How many `.read` scripts are running inside each other.
    read_depth: usize,
    /// The last result was printed in line mode: the next one starts with a blank line.
    after_line_mode: bool,
    /// Under a parse error's `Error:` line, show the statement's line with a `^` (REPL, `-c`).
    show_caret: bool,
}

impl Session {
    fn new(db: Database, format: OutputFormat, bail: bool, interactive: bool) -> Session {
        Session {
            db,
            format,
            render: RenderOptions {
                null: None,
                max_rows: if interactive {
                    REPL_MAX_ROWS
                } else {
                    SCRIPT_MAX_ROWS
                },
                width: None,
                max_width: MAX_CELL_WIDTH,
            },
            bail,
            interactive,
            timing: interactive,
            output: None,
            failed: false,
            output_broken: false,
            quit: false,
            interrupts: interrupt::Interrupts::install(interactive),
            interrupted: false,
            show_progress: true,
            read_depth: 0,
            after_line_mode: false,
            show_caret: interactive,
        }
    }

    /// True once nothing more should run: `--bail` after an error, `.quit`, Ctrl-C, or stdout
    /// is gone.
    fn should_stop(&self) -> bool {
        self.quit || self.output_broken || self.interrupted || (self.bail && self.failed)
    }

    /// Replaces the `.output` target, flushing the previous file.
    fn set_output(&mut self, output: Option<Redirect>) {
        if let Some(mut old) = self.output.take()
            && let Err(err) = old.file.flush()
        {
            self.report_error(&format!("cannot write the output file: {err}"));
        }
        self.output = output;
    }

    /// Informational text (`.help`, `.mode`) for the user: always stdout.
    fn print_info(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            self.output_broken = true;
        }
    }

    /// Result text (a rendered result set, `.schema`): to the `.output` file or stdout.
    fn print_result_text(&mut self, text: &str) {
        let written = self.write_text(text);
        self.end_result();
        if let Err(err) = written {
            self.output_failed(err);
        }
    }

    /// Writes and flushes part of a result to the `.output` file or stdout.
    fn write_text(&mut self, text: &str) -> anyhow::Result<()> {
        match &mut self.output {
            Some(redirect) => {
                redirect
                    .file
                    .write_all(text.as_bytes())
                    .and_then(|()| redirect.file.flush())
                    .context("cannot write the output file")?;
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
            }
        }
        Ok(())
    }

    /// A result is complete: `.once` sends the next one to stdout again.
    fn end_result(&mut self) {
        if self.output.as_ref().is_some_and(|redirect| redirect.once) {
            self.set_output(None);
        }
    }

    /// Prints `Error: <message>` on stderr and records the failure.
    fn report_error(&mut self, message: &dyn Display) {
        self.failed = true;
        print_error(message);
    }
}

/// A statement with nothing but whitespace and semicolons is skipped.
fn is_blank_statement(sql: &str) -> bool {
    sql.trim_matches(|c: char| c.is_whitespace() || c == ';')
        .is_empty()
}

fn format_elapsed(elapsed: Duration) -> String {
    format!("{:.3} sec", elapsed.as_secs_f64())
}

/// Feeds SQL text into a [`StatementSplitter`] and runs each complete statement.
async fn drain(session: &mut Session, splitter: &mut StatementSplitter) {
    while let Some(next) = splitter.next_statement() {
        match next {
            Ok(sql) => session.execute(&sql).await,
            Err(err) => session.report_error(&error_chain(&err)),
        }
        if session.should_stop() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_statements() {
        assert!(is_blank_statement(" ;\n"));
        assert!(is_blank_statement(""));
        assert!(!is_blank_statement("SELECT 1;"));
    }
}
