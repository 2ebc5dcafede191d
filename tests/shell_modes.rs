//! End-to-end tests of the shell's output modes and dot commands through piped stdin, `-c` and
//! `-f`: exact output of every format, `.nullvalue`, `.maxrows`, `.timer`, `.read`, `.output`,
//! `.once`, `.schema`, `.tables`, `.quit`, unknown commands and exit codes.

use std::path::Path;

const SETUP: &str = "CREATE TABLE t (h STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, \
                     PRIMARY KEY (h));\n\
                     INSERT INTO t VALUES ('a|b', 1000, 0.5), (NULL, 2000, NULL), \
                     ('x\ty', 3000, 2);\n";

const QUERY: &str = "SELECT h, ts, v FROM t ORDER BY ts;\n";

mod common;

use common::Run;

/// Runs the shell on `dir/db` from `dir` with `args` and piped `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Run {
    common::run_command(
        common::shell(dir, &dir.join("db"))
            .current_dir(dir)
            .args(args),
        stdin,
    )
}

/// A fresh database with table `t`; returns the temp dir.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let result = run(dir.path(), &["--format", "csv"], SETUP);
    assert_eq!(result.code, 0, "{}", result.stderr);
    dir
}

/// Runs `script` after `.mode MODE` (piped) and checks it equals `--format MODE -c`.
fn mode_output(dir: &Path, mode: &str) -> String {
    let piped = run(dir, &[], &format!(".mode {mode}\n{QUERY}"));
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stderr, "");
    let flag = run(dir, &["--format", mode, "-c", QUERY], "");
    assert_eq!(flag.code, 0, "{}", flag.stderr);
    assert_eq!(flag.stdout, piped.stdout, "--format {mode} == .mode {mode}");
    piped.stdout
}

#[test]
fn every_format_is_exact() {
    let dir = setup();
    let dir = dir.path();
    assert_eq!(
        mode_output(dir, "table"),
        "+------+---------------------+------+\n\
         | h    | ts                  | v    |\n\
         +------+---------------------+------+\n\
         | a|b  | 1970-01-01T00:00:01 | 0.5  |\n\
         | NULL | 1970-01-01T00:00:02 | NULL |\n\
         | x\ty  | 1970-01-01T00:00:03 | 2.0  |\n\
         +------+---------------------+------+\n"
    );
    assert_eq!(
        mode_output(dir, "csv"),
        "h,ts,v\n\
         a|b,1970-01-01T00:00:01,0.5\n\
         ,1970-01-01T00:00:02,\n\
         x\ty,1970-01-01T00:00:03,2.0\n"
    );
    assert_eq!(
        mode_output(dir, "tsv"),
        "h\tts\tv\n\
         a|b\t1970-01-01T00:00:01\t0.5\n\
         \t1970-01-01T00:00:02\t\n\
         x\\ty\t1970-01-01T00:00:03\t2.0\n"
    );
    assert_eq!(
        mode_output(dir, "json"),
        "[{\"h\":\"a|b\",\"ts\":\"1970-01-01T00:00:01\",\"v\":0.5},\
         {\"h\":null,\"ts\":\"1970-01-01T00:00:02\",\"v\":null},\
         {\"h\":\"x\\ty\",\"ts\":\"1970-01-01T00:00:03\",\"v\":2.0}]\n"
    );
    assert_eq!(
        mode_output(dir, "jsonl"),
        "{\"h\":\"a|b\",\"ts\":\"1970-01-01T00:00:01\",\"v\":0.5}\n\
         {\"h\":null,\"ts\":\"1970-01-01T00:00:02\",\"v\":null}\n\
         {\"h\":\"x\\ty\",\"ts\":\"1970-01-01T00:00:03\",\"v\":2.0}\n"
    );
    assert_eq!(
        mode_output(dir, "markdown"),
        "| h    | ts                  | v    |\n\
         |------|---------------------|------|\n\
         | a\\|b | 1970-01-01T00:00:01 | 0.5  |\n\
         | NULL | 1970-01-01T00:00:02 | NULL |\n\
         | x\ty  | 1970-01-01T00:00:03 | 2.0  |\n"
    );
    assert_eq!(
        mode_output(dir, "line"),
        " h = a|b\n\
         ts = 1970-01-01T00:00:01\n \
          v = 0.5\n\
         \n \
          h = NULL\n\
         ts = 1970-01-01T00:00:02\n \
          v = NULL\n\
         \n \
          h = x\ty\n\
         ts = 1970-01-01T00:00:03\n \
          v = 2.0\n"
    );
    // Consecutive results in line mode are separated by a blank line too.
    let result = run(
        dir,
        &["--format", "line"],
        "SELECT 1 AS a;\nSELECT 2 AS b;\n",
    );
    assert_eq!(result.stdout, "a = 1\n\nb = 2\n");
    let empty = "SELECT h FROM t WHERE v > 100;\n";
    for (mode, expected) in [
        ("csv", "h\n"),
        ("tsv", "h\n"),
        ("json", "[]\n"),
        ("jsonl", ""),
        ("line", ""),
        ("markdown", "| h |\n|---|\n"),
    ] {
        let result = run(dir, &[], &format!(".mode {mode}\n{empty}"));
        assert_eq!(result.code, 0, "{mode}: {}", result.stderr);
        assert_eq!(result.stdout, expected, "{mode}");
    }
}

#[test]
fn affected_rows_go_to_stderr_except_in_table_mode() {
    let dir = setup();
    let insert = "INSERT INTO t VALUES ('q', 9000, 9);\n";
    for mode in ["csv", "tsv", "json", "jsonl", "markdown", "line"] {
        let result = run(dir.path(), &["--format", mode], insert);
        assert_eq!(result.code, 0, "{mode}: {}", result.stderr);
        assert_eq!(result.stdout, "", "{mode}");
        assert_eq!(result.stderr, "Affected Rows: 1\n", "{mode}");
    }
    let result = run(dir.path(), &[], &format!(".mode table\n{insert}"));
    assert_eq!(result.stdout, "Affected Rows: 1\n");
}

#[test]
fn output_never_contains_escape_codes() {
    let dir = setup();
    for mode in ["table", "csv", "tsv", "json", "jsonl", "markdown", "line"] {
        let result = run(
            dir.path(),
            &[],
            &format!(".mode {mode}\n.timer on\n{QUERY}"),
        );
        assert!(!result.stdout.contains('\u{1b}'), "{mode}");
        assert!(!result.stderr.contains('\u{1b}'), "{mode}");
    }
}

#[test]
fn nullvalue_applies_to_text_formats_only() {
    let dir = setup();
    let query = "SELECT h FROM t WHERE h IS NULL;\n";
    for (mode, expected) in [
        ("table", "+---+\n| h |\n+---+\n| ∅ |\n+---+\n"),
        ("csv", "h\n∅\n"),
        ("tsv", "h\n∅\n"),
        ("markdown", "| h |\n|---|\n| ∅ |\n"),
        ("line", "h = ∅\n"),
        ("json", "[{\"h\":null}]\n"),
        ("jsonl", "{\"h\":null}\n"),
    ] {
        let result = run(
            dir.path(),
            &[],
            &format!(".nullvalue ∅\n.mode {mode}\n{query}"),
        );
        assert_eq!(result.code, 0, "{mode}: {}", result.stderr);
        assert_eq!(result.stdout, expected, "{mode}");
    }
}

#[test]
fn maxrows_shows_first_and_last_rows_in_table_mode() {
    let dir = setup();
    let script = ".maxrows 2\nSELECT v FROM t ORDER BY ts;\n.mode csv\nSELECT v FROM t ORDER BY ts;\n\
                  .mode table\n.maxrows 0\nSELECT count(*) AS n FROM t;\n";
    let result = run(dir.path(), &[], script);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(
        result.stdout,
        "+-----+\n\
         | v   |\n\
         +-----+\n\
         | 0.5 |\n\
         | ... |\n\
         | 2.0 |\n\
         +-----+\n\
         (3 rows, 1 row hidden; `.maxrows 0` shows all)\n\
         v\n0.5\n\n2.0\n\
         +---+\n| n |\n+---+\n| 3 |\n+---+\n"
    );
    // Scripts show up to 10,000 rows by default (tests/shell_stream.rs); streaming modes all.
    let script = "SELECT * FROM generate_series(1, 100) AS s(x);\n";
    let result = run(dir.path(), &["--format", "csv"], script);
    assert_eq!(result.stdout.lines().count(), 101);
    let result = run(dir.path(), &[], script);
    assert_eq!(result.stdout.lines().count(), 104);
}

#[test]
fn timer_reports_on_stderr_in_scripts() {
    let dir = setup();
    let script = "SELECT 1 AS a;\n.timer on\nSELECT v FROM t ORDER BY ts;\nINSERT INTO t VALUES ('c', 4000, 1);\n\
                  .timer off\nSELECT 2 AS b;\n";
    let result = run(dir.path(), &["--format", "csv"], script);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, "a\n1\nv\n0.5\n\n2.0\nb\n2\n");
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", result.stderr);
    assert!(lines[0].starts_with("3 rows in set (") && lines[0].ends_with(" sec)"));
    assert_eq!(lines[1], "Affected Rows: 1");
    assert!(lines[2].starts_with("Run Time: ") && lines[2].ends_with(" sec"));
    // `\timing` toggles, `.timer` without on/off is an error.
    let result = run(
        dir.path(),
        &[],
        "\\timing\nSELECT 1;\n\\timing\nSELECT 1;\n",
    );
    assert_eq!(
        result.stderr.matches("1 row in set").count(),
        1,
        "{}",
        result.stderr
    );
    let result = run(dir.path(), &[], ".timer maybe\n");
    assert_eq!(result.code, 1);
    assert_eq!(result.stderr, "Error: usage: .timer on|off (got maybe)\n");
}

#[test]
fn tables_and_schema() {
    let dir = setup();
    let result = run(dir.path(), &[], ".tables\n\\dt\n");
    assert_eq!(result.code, 0, "{}", result.stderr);
    let listing = "+------------------+\n\
                   | Tables_in_public |\n\
                   +------------------+\n\
                   | t                |\n\
                   +------------------+\n";
    assert_eq!(result.stdout, format!("{listing}{listing}"));
    let create = "CREATE TABLE IF NOT EXISTS \"t\" (\n  \
                  \"h\" STRING NULL,\n  \
                  \"ts\" TIMESTAMP(3) NOT NULL,\n  \
                  \"v\" DOUBLE NULL,\n  \
                  TIME INDEX (\"ts\"),\n  \
                  PRIMARY KEY (\"h\")\n\
                  )\n\
                  \n\
                  ENGINE=mito;\n";
    for command in [".schema", ".schema t", "\\d t", "\\d"] {
        let result = run(dir.path(), &[], &format!("{command}\n"));
        assert_eq!(result.code, 0, "{command}: {}", result.stderr);
        assert_eq!(result.stdout, create, "{command}");
    }
    let result = run(dir.path(), &[], ".schema nope\n");
    assert_eq!(result.code, 1);
    assert_eq!(result.stdout, "");
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(result.stderr.starts_with("Error: "), "{}", result.stderr);
}

#[test]
fn mode_switches_and_reports() {
    let dir = setup();
    let result = run(
        dir.path(),
        &[],
        ".mode\n.mode JSONL\n.mode\n.mode xml\n.mode\n",
    );
    assert_eq!(result.code, 1);
    assert_eq!(
        result.stdout,
        "current output mode: table\ncurrent output mode: jsonl\ncurrent output mode: jsonl\n"
    );
    assert_eq!(
        result.stderr,
        "Error: unknown mode xml; expected table, csv, tsv, json, jsonl, markdown or line\n"
    );
}

#[test]
fn read_runs_a_script_and_stops_at_its_first_error() {
    let dir = setup();
    std::fs::write(
        dir.path().join("ok.sql"),
        "SELECT 1 AS a;\n.mode csv\nSELECT 2 AS b;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.sql"),
        "SELECT 3 AS c;\nSELECT nope;\nSELECT 4 AS d;\n",
    )
    .unwrap();
    let result = run(
        dir.path(),
        &[],
        ".read ok.sql\n\\i bad.sql\nSELECT 5 AS e;\n.read missing.sql\nSELECT 6 AS f;\n",
    );
    assert_eq!(result.code, 1);
    assert_eq!(
        result.stdout,
        "+---+\n| a |\n+---+\n| 1 |\n+---+\nb\n2\nc\n3\ne\n5\nf\n6\n"
    );
    let errors: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{}", result.stderr);
    assert!(errors[0].starts_with("Error: ") && errors[0].contains("nope"));
    assert!(errors[1].starts_with("Error: cannot read missing.sql"));
    // A script reading itself stops at the nesting limit with one error.
    std::fs::write(dir.path().join("self.sql"), ".read self.sql\n").unwrap();
    let result = run(dir.path(), &[], ".read self.sql\nSELECT 8 AS h;\n");
    assert_eq!(result.code, 1);
    assert_eq!(result.stderr, "Error: .read nested more than 16 deep\n");
    assert!(result.stdout.contains("| 8 |"), "{}", result.stdout);
    // With --bail the whole run stops at the error inside the script.
    let result = run(dir.path(), &["--bail"], "\\i bad.sql\nSELECT 5 AS e;\n");
    assert_eq!(result.code, 1);
    assert!(!result.stdout.contains('e'), "{}", result.stdout);
    // -f files and -c text take dot commands too.
    let result = run(
        dir.path(),
        &["-f", "ok.sql", "-c", ".mode jsonl\nSELECT 7 AS g"],
        "",
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(
        result.stdout,
        "+---+\n| a |\n+---+\n| 1 |\n+---+\nb\n2\n{\"g\":7}\n"
    );
}

#[test]
fn output_and_once_redirect_results() {
    let dir = setup();
    let script = ".output all.csv\n.mode csv\nSELECT 1 AS a;\nSELECT 2 AS b;\n.output\nSELECT 3 AS c;\n\
                  .once one.txt\nSELECT 4 AS d;\nSELECT 5 AS e;\n\\o o.txt\n.schema t\n\\o\n";
    let result = run(dir.path(), &[], script);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, "c\n3\ne\n5\n");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("all.csv"), "a\n1\nb\n2\n");
    assert_eq!(read("one.txt"), "d\n4\n");
    assert!(read("o.txt").starts_with("CREATE TABLE IF NOT EXISTS \"t\""));
    let result = run(dir.path(), &[], ".output no/such/dir/x\nSELECT 1 AS a;\n");
    assert_eq!(result.code, 1);
    assert!(
        result
            .stderr
            .starts_with("Error: cannot open no/such/dir/x")
    );
    assert!(result.stdout.contains("| a |"), "{}", result.stdout);
}

#[test]
fn quit_unknown_and_commands_inside_statements() {
    let dir = setup();
    let result = run(dir.path(), &[], "SELECT 1 AS a;\n.quit\nSELECT 2 AS b;\n");
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(!result.stdout.contains("| b |"), "{}", result.stdout);
    let result = run(dir.path(), &["--format", "csv"], "\\q\nSELECT 2;\n");
    assert_eq!((result.code, result.stdout.as_str()), (0, ""));
    let result = run(dir.path(), &["--format", "csv"], ".exit\nSELECT 2;\n");
    assert_eq!((result.code, result.stdout.as_str()), (0, ""));

    let result = run(
        dir.path(),
        &["--format", "csv"],
        ".frob x\nSELECT 1 AS a;\n",
    );
    assert_eq!(result.code, 1);
    assert_eq!(result.stdout, "a\n1\n");
    assert_eq!(
        result.stderr,
        "Error: unknown command .frob x; type .help for help\n"
    );
    let result = run(dir.path(), &["--bail"], "\\x\nSELECT 1 AS a;\n");
    assert_eq!((result.code, result.stdout.as_str()), (1, ""));

    // Inside a multi-line statement a `.` line is SQL, not a command.
    let result = run(dir.path(), &["--format", "csv"], "SELECT\n.5 AS x;\n");
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, "x\n0.5\n");

    let result = run(dir.path(), &[], ".help\n\\?\n");
    assert_eq!(result.code, 0, "{}", result.stderr);
    for command in [
        ".tables", ".schema", ".mode", ".timer", ".read", ".output", ".once",
    ] {
        assert!(
            result.stdout.contains(command),
            "{command}: {}",
            result.stdout
        );
    }
    for command in [
        ".nullvalue",
        ".maxrows",
        ".quit",
        "\\dt",
        "\\timing",
        "\\i",
        "\\o",
    ] {
        assert!(
            result.stdout.contains(command),
            "{command}: {}",
            result.stdout
        );
    }
}
