//! Running one statement and printing its result while it streams.
//!
//! A query's batches come from [`tsdb::Database::execute_statement_stream_with_progress`] as
//! the plan produces them; [`ResultWriter`] turns each into text, which is written and flushed
//! at once (csv, tsv, json, jsonl, line), so memory holds a few batches whatever the result's
//! size and a reader of the pipe sees the first rows while the query still runs. Table and
//! markdown mode print at the end (they align columns; table mode keeps at most `.maxrows`
//! rows). Ctrl-C cancels the statement while it plans, runs and prints (dropping the stream
//! stops the scan). An error after some rows were written is reported like any other
//! (`Error: ...` on stderr, exit status 1); the rows already printed stay printed. The shape
//! follows DataFusion's CLI (`datafusion-cli/src/exec.rs`: `execute_stream` then print batch by
//! batch).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use futures::StreamExt;
use tsdb::{OutputStream, ResultStream};

use super::errors::{caret_lines, error_chain, error_position, is_broken_pipe, print_error};
use super::interrupt::RunningStatement;
use super::progress::{self, ProgressDisplay};
use super::render::{OutputFormat, ResultWriter};
use super::{MIN_WRAP_WIDTH, Session, format_elapsed, is_blank_statement};

/// How a statement ended.
enum Outcome {
    /// It ran; its result was printed (a failed write is already reported).
    Done,
    /// Ctrl-C cancelled it.
    Cancelled,
    /// It failed (before or while its rows streamed).
    Failed(tsdb::Error),
}

/// How the rows of a result set ended.
enum End {
    Finished,
    Cancelled,
    Failed(tsdb::Error),
    /// Formatting or writing the output failed.
    OutputFailed(anyhow::Error),
}

/// What a running statement watches while its rows stream.
struct Watch<'a> {
    running: RunningStatement<'a>,
    cancel_safe: bool,
    refresh: tokio::time::Interval,
    /// `None` once cleared for the first rows on stdout.
    display: Option<ProgressDisplay>,
}

impl Watch<'_> {
    fn tick(&mut self) {
        if let Some(display) = &mut self.display {
            display.tick();
        }
    }

    /// Clears the progress bar for good.
    fn clear(&mut self) {
        if let Some(display) = self.display.take() {
            display.finish();
        }
    }
}

/// The text written so far for one result set.
#[derive(Default)]
struct Written {
    any: bool,
    ends_with_newline: bool,
}

impl Session {
    /// Executes one statement and prints its result or its error.
    pub(super) async fn execute(&mut self, sql: &str) {
        if is_blank_statement(sql) {
            return;
        }
        let started = Instant::now();
        let outcome = match tsdb::sql::parse_statement(sql) {
            Ok(statement) => self.run_statement(statement, started).await,
            Err(err) => Outcome::Failed(tsdb::Error::from(err)),
        };
        if self.interrupts.take_pending() {
            self.interrupted = true;
        }
        match outcome {
            Outcome::Done => {}
            Outcome::Cancelled => self.report_error(&"statement cancelled (Ctrl-C)"),
            Outcome::Failed(err) => {
                self.report_error(&error_chain(&err));
                if self.show_caret
                    && let Some((line, column)) = error_position(&err)
                    && let Some(text) = caret_lines(sql, line, column)
                {
                    let mut stderr = std::io::stderr().lock();
                    let _ = stderr.write_all(text.as_bytes());
                    let _ = stderr.flush();
                }
            }
        }
    }

    /// Runs `statement` with a progress bar, racing it against Ctrl-C, and prints its result.
    /// Statements that must not stop half-way (DDL, `ADMIN`) run to the end.
    async fn run_statement(
        &mut self,
        statement: tsdb::sql::Statement,
        started: Instant,
    ) -> Outcome {
        let cancel_safe = statement.is_cancel_safe();
        let progress = tsdb::Progress::new();
        let draw = self.show_progress && std::io::stderr().is_terminal();
        let interrupts = self.interrupts.clone();
        let mut watch = Watch {
            running: interrupts.statement(),
            cancel_safe,
            refresh: tokio::time::interval(progress::REFRESH_INTERVAL),
            display: Some(ProgressDisplay::new(progress.clone(), draw)),
        };
        let output = {
            let execution = self
                .db
                .execute_statement_stream_with_progress(statement, &progress);
            tokio::pin!(execution);
            loop {
                tokio::select! {
                    result = &mut execution => break Some(result),
                    () = watch.running.cancelled(), if cancel_safe => break None,
                    _ = watch.refresh.tick() => watch.tick(),
                }
            }
        };
        match output {
            None => {
                watch.clear();
                Outcome::Cancelled
            }
            Some(Err(err)) => {
                watch.clear();
                Outcome::Failed(err)
            }
            Some(Ok(OutputStream::AffectedRows(rows))) => {
                watch.clear();
                if let Err(err) = self.print_affected_rows(rows, started) {
                    self.output_failed(err);
                }
                Outcome::Done
            }
            Some(Ok(OutputStream::Records(stream))) => {
                let end = self.print_rows(stream, &mut watch, started).await;
                watch.clear();
                match end {
                    End::Finished => Outcome::Done,
                    End::Cancelled => Outcome::Cancelled,
                    End::Failed(err) => Outcome::Failed(err),
                    End::OutputFailed(err) => {
                        self.output_failed(err);
                        Outcome::Done
                    }
                }
            }
        }
    }

    /// Writes the rows of `stream` as they arrive, then the rest of the result set and, with
    /// `.timer`, the row count. The stream is dropped (the query cancelled) on any way out.
    async fn print_rows(
        &mut self,
        mut stream: ResultStream,
        watch: &mut Watch<'_>,
        started: Instant,
    ) -> End {
        // Wide tables fit the terminal; results sent to a file or pipe never wrap (nor on a
        // terminal that reports no usable width).
        self.render.width = if self.output.is_none() && std::io::stdout().is_terminal() {
            comfy_table::Table::new()
                .width()
                .filter(|&width| width >= MIN_WRAP_WIDTH)
        } else {
            None
        };
        let mut writer = ResultWriter::new(self.format, stream.schema(), &self.render);
        let mut written = Written::default();
        let mut rows = 0usize;
        let end = loop {
            let item = tokio::select! {
                () = watch.running.cancelled(), if watch.cancel_safe => break End::Cancelled,
                item = stream.next() => item,
                _ = watch.refresh.tick() => {
                    watch.tick();
                    continue;
                }
            };
            match item {
                None => break End::Finished,
                Some(Err(err)) => break End::Failed(err),
                Some(Ok(batch)) => {
                    rows += batch.num_rows();
                    let written_text = writer
                        .write(&batch)
                        .map_err(anyhow::Error::from)
                        .and_then(|text| self.write_rows(&text, &mut written, watch));
                    if let Err(err) = written_text {
                        break End::OutputFailed(err);
                    }
                }
            }
        };
        drop(stream);
        let end = match end {
            End::Finished => {
                let rest = writer
                    .finish()
                    .map_err(anyhow::Error::from)
                    .and_then(|text| self.write_rows(&text, &mut written, watch));
                match rest {
                    Ok(()) => End::Finished,
                    Err(err) => End::OutputFailed(err),
                }
            }
            // A json array cut short still ends its line.
            other if written.any && !written.ends_with_newline => match self.write_text("\n") {
                Ok(()) => other,
                Err(err) => End::OutputFailed(err),
            },
            other => other,
        };
        // `.once` is used up by a result that printed (a query failing before its first
        // row leaves it for the next, as before streaming).
        if matches!(end, End::Finished) || written.any {
            self.end_result();
        }
        if matches!(end, End::Finished) && self.timing {
            let noun = if rows == 1 { "row" } else { "rows" };
            let line = format!(
                "{rows} {noun} in set ({})",
                format_elapsed(started.elapsed())
            );
            if let Err(err) = self.print_timing(&line) {
                return End::OutputFailed(err);
            }
        }
        end
    }

    /// Writes and flushes a piece of a result set (nothing if `text` is empty). The progress
    /// bar is cleared first when the rows go to stdout, so the two never interleave. The first
    /// text of a line-mode result starts with a blank line if a line-mode result came before.
    fn write_rows(
        &mut self,
        text: &str,
        written: &mut Written,
        watch: &mut Watch<'_>,
    ) -> anyhow::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        if self.output.is_none() {
            watch.clear();
        }
        if !written.any && self.format == OutputFormat::Line {
            if self.after_line_mode {
                self.write_text("\n")?;
            }
            self.after_line_mode = true;
        }
        self.write_text(text)?;
        written.any = true;
        written.ends_with_newline = text.ends_with('\n');
        Ok(())
    }

    /// `Affected Rows: N`: stdout in table mode, else stderr (stdout stays machine-readable).
    fn print_affected_rows(&self, rows: u64, started: Instant) -> anyhow::Result<()> {
        let elapsed = started.elapsed();
        let mut line = format!("Affected Rows: {rows}");
        if self.timing && self.interactive {
            line.push_str(&format!(" ({})", format_elapsed(elapsed)));
        }
        if self.format == OutputFormat::Table {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
        } else {
            eprintln!("{line}");
        }
        if self.timing && !self.interactive {
            self.print_timing(&format!("Run Time: {}", format_elapsed(elapsed)))?;
        }
        Ok(())
    }

    /// The timing line: stdout in the REPL, stderr in scripts (stdout stays clean).
    fn print_timing(&self, line: &str) -> anyhow::Result<()> {
        if self.interactive {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
        } else {
            eprintln!("{line}");
        }
        Ok(())
    }

    /// A result could not be formatted or written: a closed pipe stops the session quietly,
    /// anything else is an `Error:` line. Either way the session has failed.
    pub(super) fn output_failed(&mut self, err: anyhow::Error) {
        self.failed = true;
        if is_broken_pipe(&err) {
            self.output_broken = true;
        } else {
            print_error(&error_chain(err.as_ref()));
        }
    }
}
