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
