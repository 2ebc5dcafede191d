//! The shell streams results: exact output of multi-batch results in every streaming format,
//! rows printed before a query fails at its end, Ctrl-C while rows stream, table mode's row
//! limit in scripts and its cut of huge cells.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;

mod common;

use common::Run;

/// More rows than one batch (DataFusion's 8192), so results come in several batches.
const ROWS: usize = 20_000;

/// `v`, `w = 2 v` and `s` (NULL every 7th row, else `r<v>`) for `v` in `0..ROWS`.
fn query() -> String {
    format!(
        "SELECT value AS v, value * 2 AS w, \
         CASE WHEN value % 7 = 0 THEN NULL ELSE 'r' || CAST(value AS VARCHAR) END AS s \
         FROM range(0, {ROWS}) ORDER BY v"
    )
}

/// Plans run in one partition (else a failing batch may overtake earlier ones).
const ONE_PARTITION: &str = "SET datafusion.execution.target_partitions = 1";

fn s_value(v: usize) -> Option<String> {
    (!v.is_multiple_of(7)).then(|| format!("r{v}"))
}

fn run(dir: &Path, args: &[&str]) -> Run {
    common::run_command(common::shell(dir, &dir.join("db")).args(args), "")
}

#[test]
fn streaming_formats_print_multi_batch_results_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let query = query();
    let mut csv = String::from("v,w,s\n");
    let mut tsv = String::from("v\tw\ts\n");
    let mut jsonl = String::new();
    let mut json = String::from("[");
    let mut line = String::new();
    for v in 0..ROWS {
        let s = s_value(v);
        let text = s.clone().unwrap_or_default();
        csv.push_str(&format!("{v},{},{text}\n", 2 * v));
        tsv.push_str(&format!("{v}\t{}\t{text}\n", 2 * v));
        let s_json = s.map_or("null".to_string(), |s| format!("\"{s}\""));
        let object = format!("{{\"v\":{v},\"w\":{},\"s\":{s_json}}}", 2 * v);
        jsonl.push_str(&object);
        jsonl.push('\n');
        if v > 0 {
            json.push(',');
            line.push('\n');
        }
        json.push_str(&object);
        let s_line = s_value(v).unwrap_or_else(|| "NULL".to_string());
        line.push_str(&format!("v = {v}\nw = {}\ns = {s_line}\n", 2 * v));
    }
    json.push_str("]\n");
    for (mode, expected) in [
        ("csv", csv),
        ("tsv", tsv),
        ("jsonl", jsonl),
        ("json", json),
        ("line", line),
    ] {
        let result = run(dir, &["--format", mode, "-c", &query]);
        result.assert_ok();
        assert!(result.stdout == expected, "{mode}: output differs");
    }
    // Markdown aligns its columns over all rows: the widest value sets them.
    let result = run(dir, &["--format", "markdown", "-c", &query]);
    result.assert_ok();
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines.len(), ROWS + 2);
    assert_eq!(lines[0], "| v     | w     | s      |");
    assert_eq!(lines[2], "| 0     | 0     | NULL   |");
    assert_eq!(lines[ROWS + 1], "| 19999 | 39998 | NULL   |");
    // `.timer` counts every row.
    let result = run(dir, &["--format", "csv", "-c", ".timer on", "-c", &query]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(
        result.stderr.starts_with("20000 rows in set ("),
        "{}",
        result.stderr
    );
}

/// The rows before a failing batch are printed before the error: they were written while the
/// query still ran. The error is reported as always and the exit status is 1. One partition
/// keeps the batches in order, so the failing one comes last.
#[test]
fn an_error_mid_stream_follows_the_rows_already_printed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let failing = format!(
        "SELECT value AS v, 10 / (value - {}) AS q FROM range(0, {ROWS})",
        ROWS - 1
    );
    for mode in ["csv", "json", "line"] {
        let result = run(
            dir,
            &[
                "--format",
                mode,
                "-c",
                ONE_PARTITION,
                "-c",
                &failing,
                "-c",
                "SELECT 7 AS after",
            ],
        );
        assert_eq!(result.code, 1, "{mode}: {}", result.stderr);
        assert_eq!(result.error_lines().len(), 1, "{mode}: {}", result.stderr);
        assert!(
            result.stderr.contains("Divide by zero"),
            "{mode}: {}",
            result.stderr
        );
        // At least a whole batch of rows came out before the error, and the next statement ran.
        let rows = match mode {
            "csv" => result.stdout.lines().filter(|l| l.contains(',')).count(),
            "json" => result.stdout.matches("\"v\":").count(),
            _ => result.stdout.matches("v = ").count(),
        };
        assert!((8192..ROWS).contains(&rows), "{mode}: {rows} rows");
        assert!(result.stdout.contains("after"), "{mode}");
    }
    let result = run(
        dir,
        &["--format", "json", "-c", ONE_PARTITION, "-c", &failing],
    );
    // The cut-off array ends its line and is not closed.
    assert!(
        result.stdout.starts_with("[{\"v\":0,\"q\":0}"),
        "{}",
        &result.stdout[..40]
    );
    assert!(result.stdout.ends_with("}\n"));
    // Table mode prints at the end, so it prints no rows of a failed query.
    let result = run(dir, &["-c", ONE_PARTITION, "-c", &failing]);
    assert_eq!(result.code, 1);
    assert_eq!(result.stdout, "Affected Rows: 0\n");
    assert_eq!(result.error_lines().len(), 1, "{}", result.stderr);
}

/// Sends SIGINT (what Ctrl-C delivers) to `child`.
fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// Ctrl-C while rows stream into a pipe cancels the query; the script exits 130.
#[test]
fn ctrl_c_stops_a_streaming_query() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut child = common::shell(dir, &dir.join("db"))
        .args([
            "--format",
            "csv",
            "-c",
            "SELECT value FROM range(0, 50000000)",
            "-c",
            "SELECT 'after' AS x",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "value\n");
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    assert_eq!(second, "0\n");
    // The shell is now blocked on the full pipe or printing; rows keep coming until it sees
    // the signal.
    interrupt(&child);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("Error: statement cancelled (Ctrl-C)"),
        "{stderr}"
    );
    assert!(!rest.contains("after"));
    assert!(!rest.ends_with("49999999\n"), "the query ran to its end");
}

/// A closed pipe (`| head`) stops the query instead of computing the rest: this one would
/// fail at its last row.
#[test]
fn a_closed_pipe_stops_a_streaming_query() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut child = common::shell(dir, &dir.join("db"))
        .args([
            "--format",
            "csv",
            "-c",
            "SELECT value, 10 / (value - 49999999) AS q FROM range(0, 50000000)",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "value,q\n");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(stderr, "");
}

/// In scripts, table mode shows at most 10,000 rows (first and last 5,000) and says how many
/// it hid; `.maxrows 0` shows all. Results that fit print as before.
#[test]
fn table_mode_limits_rows_in_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let query = "SELECT value AS n FROM range(0, 25000) ORDER BY n";
    let result = run(dir, &["-c", ".timer on", "-c", query]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3 + 10_000 + 1 + 1 + 1,
        "{}",
        &result.stdout[..200]
    );
    assert_eq!(lines[3], "| 0     |");
    assert_eq!(lines[3 + 4_999], "| 4999  |");
    assert_eq!(lines[3 + 5_000], "| ...   |");
    assert_eq!(lines[3 + 5_001], "| 20000 |");
    assert_eq!(lines[3 + 10_000], "| 24999 |");
    assert_eq!(
        lines[lines.len() - 1],
        "(25000 rows, 15000 rows hidden; `.maxrows 0` shows all)"
    );
    assert!(
        result.stderr.starts_with("25000 rows in set ("),
        "{}",
        result.stderr
    );
    let result = run(dir, &["-c", ".maxrows 0", "-c", query]);
    assert_eq!(result.stdout.lines().count(), 25_000 + 4);
    let result = run(dir, &["-c", "SELECT value AS n FROM range(0, 10000)"]);
    result.assert_ok();
    assert_eq!(result.stdout.lines().count(), 10_000 + 4);
    assert!(!result.stdout.contains("hidden"));
}

/// A huge value is cut to `.maxcolwidth` characters (default 1000) in table mode, and printed
/// whole by the machine-readable formats.
#[test]
fn table_mode_cuts_huge_cells() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let query = "SELECT repeat('x', 10000000) AS s, 'ok' AS t";
    let result = run(dir, &["-c", query]);
    result.assert_ok();
    let row = format!("| {}… | ok |", "x".repeat(999));
    assert_eq!(result.stdout.lines().nth(3), Some(row.as_str()));
    let width = row.chars().count();
    assert_eq!(result.stdout.lines().count(), 5);
    assert!(
        result
            .stdout
            .lines()
            .all(|line| line.chars().count() == width)
    );
    let result = run(dir, &["-c", ".maxcolwidth 3", "-c", query]);
    assert_eq!(result.stdout.lines().nth(3), Some("| xx… | ok |"));
    let result = run(
        dir,
        &[
            "-c",
            ".maxcolwidth 0",
            "-c",
            "SELECT repeat('y', 3000) AS s",
        ],
    );
    assert!(result.stdout.contains(&"y".repeat(3000)));
    let result = run(dir, &["-c", ".maxcolwidth x"]);
    assert_eq!(result.stderr, "Error: usage: .maxcolwidth N (got x)\n");
    let result = run(dir, &["--format", "csv", "-c", query]);
    result.assert_ok();
    assert_eq!(
        result.stdout.len(),
        "s,t\n".len() + 10_000_000 + ",ok\n".len()
    );
}
