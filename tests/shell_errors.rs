//! `tsdb-shell` error reporting: `-f` stops at a file's first error, parse errors under `-c`
//! point at the offending column with a caret, piped scripts keep one line per error.

use std::path::Path;

mod common;

use common::Run;

/// Runs the shell on `dir/data` from `dir` with `args` and piped `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Run {
    common::run_command(
        common::shell(dir, &dir.join("data"))
            .current_dir(dir)
            .args(args),
        stdin,
    )
}

#[test]
fn file_stops_at_its_first_error_and_later_sources_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sql");
    std::fs::write(
        &script,
        "SELECT 'before' AS step;\nSELEC oops;\nSELECT 'skipped' AS step;\n",
    )
    .unwrap();
    let result = run(
        dir.path(),
        &[
            "-f",
            script.to_str().unwrap(),
            "-c",
            "SELECT 'after' AS step",
        ],
        "",
    );
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert!(result.stdout.contains("before"), "{}", result.stdout);
    assert!(!result.stdout.contains("skipped"), "{}", result.stdout);
    assert!(result.stdout.contains("after"), "{}", result.stdout);
    let errors: Vec<_> = result
        .stderr
        .lines()
        .filter(|line| line.starts_with("Error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", result.stderr);

    // With --bail nothing runs after the failing file.
    let result = run(
        dir.path(),
        &[
            "--bail",
            "-f",
            script.to_str().unwrap(),
            "-c",
            "SELECT 'after' AS step",
        ],
        "",
    );
    assert_eq!(result.code, 1);
    assert!(!result.stdout.contains("after"), "{}", result.stdout);
}

#[test]
fn piped_stdin_keeps_going_after_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(dir.path(), &[], "SELEC oops;\nSELECT 'after' AS step;\n");
    assert_eq!(result.code, 1);
    assert!(result.stdout.contains("after"), "{}", result.stdout);
    // Scripts get exactly one line per error: no caret.
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(result.stderr.starts_with("Error: "), "{}", result.stderr);
}

#[test]
fn command_parse_errors_show_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    // tsdb's own parser (CREATE TABLE).
    let result = run(
        dir.path(),
        &["-c", "CREATE TABLE t (x INT,, ts TIMESTAMP TIME INDEX)"],
        "",
    );
    assert_eq!(result.code, 1);
    let lines: Vec<_> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", result.stderr);
    assert!(lines[0].starts_with("Error: "), "{}", result.stderr);
    assert!(lines[0].contains("line 1, column 23"), "{}", lines[0]);
    assert_eq!(lines[1], "CREATE TABLE t (x INT,, ts TIMESTAMP TIME INDEX)");
    assert_eq!(lines[2], format!("{}^", " ".repeat(22)));

    // DataFusion's parser, on the second line of a statement.
    let result = run(dir.path(), &["-c", "SELECT 1\nFROM t WHERE x = = 3"], "");
    assert_eq!(result.code, 1);
    let lines: Vec<_> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", result.stderr);
    assert!(lines[0].starts_with("Error: "), "{}", result.stderr);
    assert_eq!(lines[1], "FROM t WHERE x = = 3");
    assert_eq!(lines[2], format!("{}^", " ".repeat(17)));

    // Errors without a position stay one line.
    let result = run(dir.path(), &["-c", "SELECT * FROM no_such_table"], "");
    assert_eq!(result.code, 1);
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
}

#[test]
fn version_help_and_history_flags() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(dir.path(), &["--version"], "");
    assert_eq!(result.code, 0);
    assert!(
        result.stdout.starts_with("tsdb-shell "),
        "{}",
        result.stdout
    );
    let result = run(dir.path(), &["--help"], "");
    assert_eq!(result.code, 0);
    for needle in [
        "--history-file",
        "--no-history",
        "Examples:",
        "TSDB_HISTORY",
    ] {
        assert!(
            result.stdout.contains(needle),
            "{needle}: {}",
            result.stdout
        );
    }
    let result = run(dir.path(), &["--no-history", "--history-file", "h"], "");
    assert_eq!(result.code, 2, "{}", result.stderr);
    // Script input is never recorded, wherever the history would go.
    let history = dir.path().join("hist");
    let result = run(
        dir.path(),
        &["--history-file", history.to_str().unwrap()],
        "SELECT 1;\n",
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(!history.exists());
    assert!(!dir.path().join("state").exists());
}

/// Sends SIGINT (what Ctrl-C delivers) to `child`.
fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn ctrl_c_in_a_script_cancels_the_statement_and_exits_130() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // During a statement: it is cancelled, nothing after it runs.
    let child = common::shell(dir.path(), &data)
        .args([
            "-c",
            "SELECT sum(value) FROM range(1, 100000000000)",
            "-c",
            "SELECT 'after'",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("Error: statement cancelled (Ctrl-C)"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("after"));

    // Between statements (waiting for more piped input): exit at once.
    let mut child = common::shell(dir.path(), &data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"SELECT 'ready' AS state;\n").unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("ready") {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout closed: {seen}"
        );
        seen.push_str(&line);
    }
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    drop(stdin);
}
