//! The interactive REPL driven through a pseudo-terminal (via the `rexpect` crate): tab
//! completion, the continuation prompt, the history file and syntax highlighting.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

const TIMEOUT_MS: u64 = 30_000;

/// A `tsdb-shell` REPL running on a pty, with everything it printed so far.
struct Repl {
    session: PtySession,
    transcript: String,
}

impl Repl {
    fn spawn(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Repl {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"));
        command
            .arg(dir.join("data"))
            .args(args)
            .current_dir(dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("TERM", "xterm")
            .env_remove("TSDB_HISTORY")
            .env_remove("NO_COLOR");
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut session =
            spawn_command(command, Some(TIMEOUT_MS)).expect("spawn tsdb-shell on a pty");
        // A REPL left running by a failed test is SIGKILLed if SIGTERM does not stop it.
        session.process_mut().set_kill_timeout(Some(5_000));
        Repl {
            session,
            transcript: String::new(),
        }
    }

    /// Waits until the output not yet consumed contains `needle` and consumes it.
    fn expect(&mut self, needle: &str) {
        match self.session.exp_string(needle) {
            Ok(before) => {
                self.transcript.push_str(&before);
                self.transcript.push_str(needle);
            }
            Err(error) => panic!(
                "waiting for {needle:?}: {error}; consumed so far: {:?}",
                self.transcript
            ),
        }
    }

    fn send(&mut self, input: &str) {
        self.session.send(input).unwrap();
        self.session.flush().unwrap();
    }

    /// Waits for the REPL to close the terminal and exit successfully; returns the whole output.
    fn wait(mut self) -> String {
        match self.session.exp_eof() {
            Ok(rest) => self.transcript.push_str(&rest),
            Err(error) => panic!("REPL did not exit: {error}; output: {:?}", self.transcript),
        }
        let status = self.session.process().wait().unwrap();
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "{status:?}: {:?}",
            self.transcript
        );
        self.transcript
    }
}

/// Whether `text` holds an ANSI colour/attribute sequence (`ESC [ <digits and ;> m`).
fn has_sgr(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(at, intro)| {
        text[at + intro.len()..]
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == ';')
            .starts_with('m')
    })
}

#[test]
fn completion_continuation_prompt_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("my_history");
    let mut repl = Repl::spawn(
        dir.path(),
        &["--history-file", history.to_str().unwrap()],
        &[("NO_COLOR", "1")],
    );
    repl.expect("tsdb> ");
    repl.send(
        "CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, usage_user DOUBLE, \
         PRIMARY KEY (host));\r",
    );
    repl.expect("Affected Rows: 0");
    repl.expect("tsdb> ");
    // Column and table names complete with Tab.
    repl.send("SELECT usage_u\t");
    repl.expect("tsdb> SELECT usage_user\r");
    repl.send(" FROM c\t");
    repl.expect("tsdb> SELECT usage_user FROM cpu\r");
    // No `;` yet: the continuation prompt.
    repl.send("\r");
    repl.expect("   -> ");
    repl.send(";\r");
    repl.expect("| usage_user |");
    repl.expect("0 rows in set");
    repl.expect("tsdb> ");
    repl.send(".ta\t");
    repl.expect("tsdb> .tables\r");
    repl.send("\r");
    repl.expect("| Tables_in_public |");
    repl.expect("| cpu ");
    repl.expect("1 row in set");
    repl.expect("tsdb> ");
    repl.send(".quit\r");
    let output = repl.wait();
    assert!(!output.contains("Error"), "{output:?}");
    assert!(!has_sgr(&output), "NO_COLOR: no highlighting: {output:?}");

    // Every entry, in order; the multi-line statement is stored as one entry.
    assert_eq!(
        std::fs::read_to_string(&history).unwrap(),
        "#V2\n\
         CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, usage_user DOUBLE, PRIMARY KEY (host));\n\
         SELECT usage_user FROM cpu\\n;\n\
         .tables\n\
         .quit\n"
    );
    // The default location was not used.
    assert!(!dir.path().join("state").exists());
}

#[test]
fn highlighting_and_default_history_location() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::spawn(dir.path(), &[], &[]);
    repl.expect("tsdb> ");
    repl.send("SELECT 1 = = 2;\r");
    repl.expect("\x1b[1;34mSELECT\x1b[0m");
    // A parse error with a caret under the offending token.
    repl.expect("Error: ");
    repl.expect("\r\nSELECT 1 = = 2\r\n           ^\r\n");
    repl.expect("tsdb> ");
    repl.send("\x04");
    let output = repl.wait();
    assert!(has_sgr(&output), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state/tsdb-shell/history")).unwrap(),
        "#V2\nSELECT 1 = = 2;\n"
    );
    assert!(!dir.path().join("data/history").exists());
}

#[test]
fn no_history_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::spawn(dir.path(), &["--no-history"], &[("NO_COLOR", "1")]);
    repl.expect("tsdb> ");
    repl.send("SELECT 1;\r");
    repl.expect("1 row in set");
    repl.expect("tsdb> ");
    repl.send(".quit\r");
    repl.wait();
    // Nothing but the database itself: no history file anywhere.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["data"]);
    assert!(!dir.path().join("data/history").exists());
}

/// A query long enough to still be running when the test presses Ctrl-C (it never finishes on
/// its own within the test's timeout).
const LONG_QUERY: &str = "SELECT sum(value) FROM range(1, 100000000000);\r";

#[test]
fn ctrl_c_cancels_the_running_query_and_the_shell_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::spawn(dir.path(), &["--no-history"], &[("NO_COLOR", "1")]);
    repl.expect("tsdb> ");
    repl.send(LONG_QUERY);
    // After a second the progress bar reports the rows read so far.
    repl.expect("rows read");
    repl.session.send_control('c').unwrap();
    repl.expect("Error: statement cancelled (Ctrl-C)");
    repl.expect("tsdb> ");
    // The shell is still usable, and Ctrl-C at the prompt only clears the line.
    repl.send("SELECT 4");
    repl.expect("SELECT 4");
    repl.session.send_control('c').unwrap();
    repl.expect("tsdb> ");
    repl.send("SELECT 41 + 1 AS answer;\r");
    repl.expect("42");
    repl.expect("1 row in set");
    repl.expect("tsdb> ");
    repl.send("\x04");
    let output = repl.wait();
    assert!(!output.contains("| 4 "), "{output:?}");
}
