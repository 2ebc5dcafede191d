//! Non-interactive input: `-c`/`-f` text and piped stdin. Each statement runs as soon as the
//! [`StatementSplitter`] sees its terminating `;`; the unterminated remainder runs at the end.
//! A line starting with `.` or `\` outside a statement is a dot command ([`command`]).

use std::io::BufRead;

use tsdb::sql::StatementSplitter;

use super::{Session, command, drain, error_chain};

/// Runs every statement and dot command of `text` (a `-c` argument or a script file).
pub async fn run_text(session: &mut Session, text: &str) {
    run_lines(session, text.as_bytes(), "the script").await;
}

/// Reads `reader` line by line (stdin that is not a terminal), running statements as they
/// complete, so a producer can wait for one statement's output before sending the next.
pub async fn run_reader(session: &mut Session, reader: impl BufRead) {
    run_lines(session, reader, "stdin").await;
}

async fn run_lines(session: &mut Session, mut reader: impl BufRead, what: &str) {
    let mut splitter = StatementSplitter::new();
    let mut bytes = Vec::new();
    let mut line_number = 0u64;
    // The next statement the splitter yields holds bytes that are not UTF-8.
    let mut skip_next = false;
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => break,
            Ok(_) => {
                line_number += 1;
                let (line, valid) = match std::str::from_utf8(&bytes) {
                    Ok(line) => (std::borrow::Cow::Borrowed(line), true),
                    Err(err) => {
                        session.report_error(&format!(
                            "{what} line {line_number} is not valid UTF-8 (byte {} of the \
                             line); the statement or command containing it was skipped",
                            err.valid_up_to() + 1
                        ));
                        (String::from_utf8_lossy(&bytes), false)
                    }
                };
                if command::is_command(&line) && !is_pending(&splitter) {
                    if valid && let Some(command) = command::parse(&line) {
                        command::run(session, command).await;
                    }
                } else if valid && !skip_next {
                    splitter.push(&line);
                    drain(session, &mut splitter).await;
                } else {
                    // The text still goes through the splitter (with U+FFFD in place of the
                    // bad bytes) so quotes and `;` are tracked, but the statements it
                    // completes are dropped, never run with altered text.
                    splitter.push(&line);
                    while splitter.next_statement().is_some() {
                        if valid {
                            // Only the first one held bytes of an earlier invalid line.
                            skip_next = false;
                            drain(session, &mut splitter).await;
                            break;
                        }
                    }
                    skip_next = if valid {
                        skip_next && is_pending(&splitter)
                    } else {
                        is_pending(&splitter)
                    };
                }
                if session.should_stop() {
                    return;
                }
            }
            Err(err) => {
                session.report_error(&format!("cannot read {what}: {err}"));
                return;
            }
        }
    }
    if skip_next {
        return;
    }
    finish(session, splitter).await;
}

/// True if the splitter holds the beginning of a statement (only checked for lines that look
/// like dot commands, as it copies the pending text).
fn is_pending(splitter: &StatementSplitter) -> bool {
    splitter.clone().finish().is_some()
}

/// Runs the statement left without a terminating `;`, if any.
async fn finish(session: &mut Session, splitter: StatementSplitter) {
    match splitter.finish() {
        Some(Ok(sql)) => session.execute(&sql).await,
        Some(Err(err)) => session.report_error(&error_chain(&err)),
        None => {}
    }
}
