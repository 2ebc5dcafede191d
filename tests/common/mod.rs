//! Helpers shared by the integration tests that drive the `tsdb-shell` binary.

#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one run of the shell printed and how it exited.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// Asserts exit status 0 and an empty stderr.
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "exit code; stderr:\n{}\nstdout:\n{}",
            self.stderr, self.stdout
        );
        assert_eq!(self.stderr, "", "stderr; stdout:\n{}", self.stdout);
        self
    }

    /// The `Error: ...` lines of stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.starts_with("Error: "))
            .collect()
    }
}

/// The shell on `data_dir`, with history and state kept under `state_root/state` (never the
/// user's home) and `TSDB_HISTORY` unset.
pub fn shell(state_root: &Path, data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"));
    command
        .arg(data_dir)
        .env("XDG_STATE_HOME", state_root.join("state"))
        .env_remove("TSDB_HISTORY");
    command
}

/// Runs `command` (see [`shell`]), feeding `stdin` through a pipe.
pub fn run_command(command: &mut Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tsdb-shell");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait for tsdb-shell");
    Run {
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
        code: output.status.code().expect("exited by a signal"),
    }
}
