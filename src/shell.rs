//! The shell: opens the database and runs statements from `-c`/`-f` sources, from piped stdin,
//! or from the interactive REPL; `--slt` runs sqllogictest files instead.
//!
//! Output contract (scripts rely on it): results go to stdout, errors to stderr as exactly one
//! line `Error: <message>`, and `Affected Rows: N` to stdout in table mode (stderr in csv/json
//! mode). Output is flushed after every statement. The exit status is 1 if any statement failed.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tsdb::sql::StatementSplitter;
use tsdb::{Database, Output};

mod input;
mod render;
mod repl;

pub use render::OutputFormat;

/// Where `-c`/`-f` SQL comes from, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-c SQL`: the SQL text itself.
    Command(String),
    /// `-f PATH`: a script file.
    File(PathBuf),
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
}

/// Runs the shell and returns the process exit status.
pub async fn run(options: ShellOptions) -> ExitCode {
    if !options.slt_files.is_empty() {
        return run_slt(&options).await;
    }
    let db = match Database::open(&options.data_dir)
        .await
        .with_context(|| format!("cannot open database {}", options.data_dir.display()))
    {
        Ok(db) => db,
        Err(err) => {
            print_error(&format!("{err:#}"));
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
        repl::run(&mut session, &options.data_dir).await;
    } else {
        input::run_reader(&mut session, std::io::stdin().lock()).await;
    }

    let failed = session.failed;
    let interactive = session.interactive;
    if let Err(err) = session.db.close().await.context("closing the database") {
        print_error(&format!("{err:#}"));
        return ExitCode::FAILURE;
    }
    // In the REPL, errors were already shown and the user moved on; the session itself succeeded.
    if failed && !interactive {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one `-c`/`-f` source to its end (or to the first error with `--bail`).
async fn run_source(session: &mut Session, source: &Source) {
    match source {
        Source::Command(sql) => input::run_text(session, sql).await,
        Source::File(path) => match std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))
        {
            Ok(text) => input::run_text(session, &text).await,
            Err(err) => session.report_error(&format!("{err:#}")),
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

/// One open database plus the output settings and the running error state.
pub struct Session {
    db: Database,
    format: OutputFormat,
    bail: bool,
    interactive: bool,
    /// Print `(N rows in set, 0.01 sec)` after results (REPL default; `\timing` toggles).
    timing: bool,
    /// Some statement failed.
    failed: bool,
    /// Writing to stdout failed (e.g. a closed pipe): stop running statements.
    output_broken: bool,
}

impl Session {
    fn new(db: Database, format: OutputFormat, bail: bool, interactive: bool) -> Session {
        Session {
            db,
            format,
            bail,
            interactive,
            timing: interactive,
            failed: false,
            output_broken: false,
        }
    }

    /// True once nothing more should run: `--bail` after an error, or stdout is gone.
    fn should_stop(&self) -> bool {
        self.output_broken || (self.bail && self.failed)
    }

    /// Executes one statement and prints its result or its error.
    async fn execute(&mut self, sql: &str) {
        if is_blank_statement(sql) {
            return;
        }
        let started = Instant::now();
        match self.db.execute(sql).await {
            Ok(output) => {
                if let Err(err) = self.print_output(output, started.elapsed()) {
                    self.failed = true;
                    if is_broken_pipe(&err) {
                        self.output_broken = true;
                    } else {
                        print_error(&format!("{err:#}"));
                    }
                }
            }
            Err(err) => self.report_error(&error_chain(&err)),
        }
    }

    fn print_output(&self, output: Output, elapsed: Duration) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match output {
            Output::Records { schema, batches } => {
                let text = render::render(self.format, &schema, &batches)?;
                stdout.write_all(text.as_bytes())?;
                if self.timing {
                    let rows: usize = batches.iter().map(|batch| batch.num_rows()).sum();
                    let noun = if rows == 1 { "row" } else { "rows" };
                    writeln!(stdout, "{rows} {noun} in set ({})", format_elapsed(elapsed))?;
                }
            }
            Output::AffectedRows(rows) => {
                let mut line = format!("Affected Rows: {rows}");
                if self.timing {
                    line.push_str(&format!(" ({})", format_elapsed(elapsed)));
                }
                if self.format == OutputFormat::Table {
                    writeln!(stdout, "{line}")?;
                } else {
                    eprintln!("{line}");
                }
            }
        }
        stdout.flush()?;
        Ok(())
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

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes `Error: <message>` to stderr as exactly one line.
fn print_error(message: &dyn Display) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "Error: {}", one_line(&message.to_string()));
    let _ = stderr.flush();
}

/// The error's message followed by those of its sources, skipping a source whose text is
/// already part of the message (transparent wrappers and `External error: {inner}` repeat it).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Collapses every run of whitespace (including newlines) into one space.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
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

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "External error: {}", self.0)
        }
    }
    impl Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "table t not found")
        }
    }
    impl std::error::Error for Inner {}
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chain_skips_repeated_sources() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "External error: table t not found"
        );
        let io = std::io::Error::other(Outer(Inner));
        assert_eq!(error_chain(&io), "External error: table t not found");
    }

    #[test]
    fn error_chain_appends_new_sources() {
        let err = anyhow::Error::new(Inner).context("cannot open database d");
        let boxed: Box<dyn std::error::Error + Send + Sync> = err.into();
        assert_eq!(
            error_chain(&*boxed),
            "cannot open database d: table t not found"
        );
    }

    #[test]
    fn messages_are_flattened_to_one_line() {
        assert_eq!(one_line("a\n  b\r\n\tc "), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn blank_statements() {
        assert!(is_blank_statement(" ;\n"));
        assert!(is_blank_statement(""));
        assert!(!is_blank_statement("SELECT 1;"));
    }
}
