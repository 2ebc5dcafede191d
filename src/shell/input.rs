//! Non-interactive input: `-c`/`-f` text and piped stdin. Each statement runs as soon as the
//! [`StatementSplitter`] sees its terminating `;`; the unterminated remainder runs at the end.

use std::io::BufRead;

use tsdb::sql::StatementSplitter;

use super::{Session, drain, error_chain};

/// Runs every statement of `text` (a `-c` argument or a script file).
pub async fn run_text(session: &mut Session, text: &str) {
    let mut splitter = StatementSplitter::new();
    splitter.push(text);
    drain(session, &mut splitter).await;
    if !session.should_stop() {
        finish(session, splitter).await;
    }
}

/// Reads `reader` line by line (stdin that is not a terminal), running statements as they
/// complete, so a producer can wait for one statement's output before sending the next.
pub async fn run_reader(session: &mut Session, mut reader: impl BufRead) {
    let mut splitter = StatementSplitter::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                splitter.push(&line);
                drain(session, &mut splitter).await;
                if session.should_stop() {
                    return;
                }
            }
            Err(err) => {
                session.report_error(&format!("cannot read stdin: {err}"));
                return;
            }
        }
    }
    finish(session, splitter).await;
}

/// Runs the statement left without a terminating `;`, if any.
async fn finish(session: &mut Session, splitter: StatementSplitter) {
    match splitter.finish() {
        Some(Ok(sql)) => session.execute(&sql).await,
        Some(Err(err)) => session.report_error(&error_chain(&err)),
        None => {}
    }
}
