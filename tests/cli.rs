//! End-to-end tests of the `tsdb-shell` binary: piped scripts, -c/-f, output formats, exit
//! codes, restart, the directory lock, and durability after `kill -9`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

const CREATE_CPU: &str = "CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, util DOUBLE, \
                          PRIMARY KEY (host));";

mod common;

use common::{Run, run_command};

/// Runs the shell on `dir` with `args` and piped `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Run {
    run_command(shell(dir).args(args), stdin)
}

fn shell(dir: &Path) -> Command {
    common::shell(dir, dir)
}

/// `-c SQL --format csv`, asserting success; returns stdout.
fn query_csv(dir: &Path, sql: &str) -> String {
    let result = run(dir, &["--format", "csv", "-c", sql], "");
    assert_eq!(result.code, 0, "{sql}: {}", result.stderr);
    assert!(result.error_lines().is_empty(), "{sql}: {}", result.stderr);
    result.stdout
}

/// A shell process kept running with stdin open; stdout is read line by line.
struct Interactive {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Interactive {
    fn spawn(dir: &Path) -> Interactive {
        let mut child = shell(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tsdb-shell");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Interactive {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, sql: &str) {
        self.stdin.write_all(sql.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a stdout line containing `needle`; panics after [`WAIT`].
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(err) => panic!("no output line containing {needle:?}: {err}"),
            }
        }
    }
}

#[test]
fn piped_script_runs_each_statement() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "{CREATE_CPU}\n\
         INSERT INTO cpu VALUES ('a', 1000, 0.5),\n  ('b', 2000, 1.5);\n\
         SELECT host, util FROM cpu\n  WHERE host = 'a;b' OR util > 1 -- a comment; with a semicolon\n  ORDER BY host;\n\
         SELECT count(*) AS n FROM cpu"
    );
    let result = run(dir.path(), &[], &script);
    result.assert_ok();
    let stdout = &result.stdout;
    assert!(!stdout.contains("tsdb>"), "no prompt when piped:\n{stdout}");
    assert!(
        !stdout.contains("tsdb-shell"),
        "no banner when piped:\n{stdout}"
    );
    assert_eq!(stdout.matches("Affected Rows: 0").count(), 1, "{stdout}");
    assert!(stdout.contains("Affected Rows: 2"), "{stdout}");
    assert!(stdout.contains("| host | util |"), "{stdout}");
    assert!(stdout.contains("| b    | 1.5  |"), "{stdout}");
    assert!(!stdout.contains("| a    |"), "{stdout}");
    // The last statement has no `;`: it runs at end of input.
    assert!(
        stdout.contains("| n |") && stdout.contains("| 2 |"),
        "{stdout}"
    );
    // Results appear in statement order.
    let create = stdout.find("Affected Rows: 0").unwrap();
    let insert = stdout.find("Affected Rows: 2").unwrap();
    let select = stdout.find("| host | util |").unwrap();
    assert!(create < insert && insert < select, "{stdout}");
}

#[test]
fn commands_and_files_run_in_command_line_order() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("load.sql");
    std::fs::write(
        &script,
        "INSERT INTO cpu VALUES ('a', 1000, 0.5);\nSELECT 'from file' AS origin;\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let result = run(
        dir.path(),
        &[
            "-c",
            CREATE_CPU,
            "--file",
            script,
            "--command",
            "SELECT host FROM cpu; SELECT 'last' AS origin",
        ],
        "SELECT 'stdin is ignored' AS origin;",
    );
    result.assert_ok();
    let stdout = &result.stdout;
    assert!(!stdout.contains("stdin is ignored"), "{stdout}");
    let positions: Vec<usize> = [
        "Affected Rows: 0",
        "Affected Rows: 1",
        "from file",
        "| a ",
        "last",
    ]
    .iter()
    .map(|needle| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing in:\n{stdout}"))
    })
    .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{stdout}"
    );
}

#[test]
fn csv_output_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, note STRING, \
                 PRIMARY KEY (host));\n\
                 INSERT INTO t VALUES ('a', 1357020000000, 1.5, 'plain'), \
                 ('b', 1357020000250, NULL, 'comma, \"quoted\"'), ('c', 1357020001000, -2.25, NULL);";
    let result = run(dir.path(), &["--format", "csv"], setup);
    assert_eq!(result.code, 0, "{}", result.stderr);
    // Affected Rows go to stderr in csv mode, keeping stdout machine-readable.
    assert_eq!(result.stdout, "");
    assert!(
        result.stderr.contains("Affected Rows: 3"),
        "{}",
        result.stderr
    );

    let stdout = query_csv(dir.path(), "SELECT host, ts, v, note FROM t ORDER BY host");
    assert_eq!(
        stdout,
        "host,ts,v,note\n\
         a,2013-01-01T06:00:00,1.5,plain\n\
         b,2013-01-01T06:00:00.250,,\"comma, \"\"quoted\"\"\"\n\
         c,2013-01-01T06:00:01,-2.25,\n"
    );
    // An empty result still has its header.
    assert_eq!(
        query_csv(dir.path(), "SELECT host FROM t WHERE host = 'zzz'"),
        "host\n"
    );
}

#[test]
fn json_output_is_an_array_per_result_set() {
    let dir = tempfile::tempdir().unwrap();
    let setup = format!(
        "{CREATE_CPU} INSERT INTO cpu VALUES ('a', 1357020000000, NULL), ('b', 1357020000000, 2.5);"
    );
    let result = run(dir.path(), &["--format", "json", "-c", &setup], "");
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, "");

    let result = run(
        dir.path(),
        &[
            "--format",
            "json",
            "-c",
            "SELECT host, ts, util FROM cpu ORDER BY host; SELECT host FROM cpu WHERE host = 'zzz'",
        ],
        "",
    );
    result.assert_ok();
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", result.stdout);
    let rows: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"host": "a", "ts": "2013-01-01T06:00:00", "util": null},
            {"host": "b", "ts": "2013-01-01T06:00:00", "util": 2.5},
        ])
    );
    assert_eq!(lines[1], "[]");
}

#[test]
fn error_sets_exit_status_and_later_statements_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(
        dir.path(),
        &[],
        "SELECT 'before' AS step;\nSELECT * FROM no_such_table;\nSELECT 'after' AS step;\n",
    );
    assert_eq!(result.code, 1);
    assert!(result.stdout.contains("before"), "{}", result.stdout);
    assert!(result.stdout.contains("after"), "{}", result.stdout);
    assert_eq!(
        result.stderr.lines().count(),
        1,
        "exactly one line:\n{}",
        result.stderr
    );
    let errors = result.error_lines();
    assert_eq!(errors.len(), 1, "{}", result.stderr);
    assert!(
        errors[0].contains("no_such_table"),
        "the error names the problem: {}",
        errors[0]
    );
}

#[test]
fn bail_stops_at_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = "SELECT 'before' AS step;\nSELEC oops;\nSELECT 'after' AS step;\n";
    let result = run(dir.path(), &["--bail"], script);
    assert_eq!(result.code, 1);
    assert!(result.stdout.contains("before"), "{}", result.stdout);
    assert!(!result.stdout.contains("after"), "{}", result.stdout);
    assert_eq!(result.error_lines().len(), 1, "{}", result.stderr);

    // --bail also stops later -c/-f sources.
    let result = run(
        dir.path(),
        &["--bail", "-c", "SELEC oops", "-c", "SELECT 'after' AS step"],
        "",
    );
    assert_eq!(result.code, 1);
    assert!(!result.stdout.contains("after"), "{}", result.stdout);
}

#[test]
fn missing_script_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sql");
    let result = run(
        dir.path(),
        &[
            "-f",
            missing.to_str().unwrap(),
            "-c",
            "SELECT 'after' AS step",
        ],
        "",
    );
    assert_eq!(result.code, 1);
    let errors = result.error_lines();
    assert_eq!(errors.len(), 1, "{}", result.stderr);
    assert!(errors[0].contains("missing.sql"), "{}", errors[0]);
    assert!(result.stdout.contains("after"), "{}", result.stdout);
}

#[test]
fn unopenable_data_dir_fails_with_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let result = run(&file, &["-c", "SELECT 1"], "");
    assert_eq!(result.code, 1);
    assert_eq!(result.stdout, "");
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(result.stderr.starts_with("Error: "), "{}", result.stderr);
}

#[test]
fn write_buffer_size_flag_sets_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = format!("{CREATE_CPU}\n");
    for i in 0..20 {
        let values: Vec<String> = (0..200)
            .map(|j| format!("('h{}', {}, 0.5)", j % 10, (i * 200 + j) * 1000))
            .collect();
        script.push_str(&format!("INSERT INTO cpu VALUES {};\n", values.join(", ")));
    }
    run(dir.path(), &["--write-buffer-size", "32KiB"], &script).assert_ok();
    let files = std::fs::read_dir(dir.path().join("regions"))
        .unwrap()
        .flatten()
        .flat_map(|region| {
            std::fs::read_dir(region.path().join("sst"))
                .unwrap()
                .flatten()
        })
        .count();
    assert!(files > 0, "the 32 KiB budget flushed while inserting");
    assert_eq!(
        query_csv(dir.path(), "SELECT count(*) AS n FROM cpu"),
        "n\n4000\n"
    );
    let result = run(
        dir.path(),
        &["--write-buffer-size", "lots", "-c", "SELECT 1"],
        "",
    );
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result.stderr.contains("--write-buffer-size"),
        "{}",
        result.stderr
    );
}

#[test]
fn restart_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let setup =
        format!("{CREATE_CPU}\nINSERT INTO cpu VALUES ('a', 1000, 0.5), ('b', 2000, 1.5);\n");
    run(dir.path(), &[], &setup).assert_ok();
    run(
        dir.path(),
        &[],
        "INSERT INTO cpu VALUES ('c', 3000, 2.5);\n",
    )
    .assert_ok();
    let tables = query_csv(dir.path(), "SHOW TABLES");
    assert_eq!(
        tables.lines().skip(1).collect::<Vec<_>>(),
        ["cpu"],
        "{tables}"
    );
    assert_eq!(
        query_csv(dir.path(), "SELECT host, util FROM cpu ORDER BY host"),
        "host,util\na,0.5\nb,1.5\nc,2.5\n"
    );
}

#[test]
fn second_process_on_the_same_dir_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Interactive::spawn(dir.path());
    first.send("SELECT 'opened' AS state;");
    first.wait_for("opened");

    let second = run(dir.path(), &["-c", "SELECT 1"], "");
    assert_eq!(second.code, 1);
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    assert!(second.stderr.starts_with("Error: "), "{}", second.stderr);
    assert!(
        second.stderr.to_lowercase().contains("lock"),
        "{}",
        second.stderr
    );

    drop(first.stdin);
    let status = first.child.wait().unwrap();
    assert!(status.success());
    // The lock is released on exit.
    run(dir.path(), &["-c", "SELECT 1"], "").assert_ok();
}

#[test]
fn acknowledged_insert_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut shell = Interactive::spawn(dir.path());
    shell.send(CREATE_CPU);
    shell.wait_for("Affected Rows: 0");
    shell.send("INSERT INTO cpu VALUES ('a', 1000, 0.5), ('b', 2000, 1.5);");
    shell.wait_for("Affected Rows: 2");
    shell.send("INSERT INTO cpu VALUES ('a', 1000, 9.5);");
    shell.wait_for("Affected Rows: 1");
    shell.child.kill().unwrap(); // SIGKILL on unix
    shell.child.wait().unwrap();

    assert_eq!(
        query_csv(dir.path(), "SELECT host, ts, util FROM cpu ORDER BY host"),
        "host,ts,util\na,1970-01-01T00:00:01,9.5\nb,1970-01-01T00:00:02,1.5\n"
    );
}

#[test]
fn flush_then_overwrite_then_restart_merges_and_deduplicates() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "{CREATE_CPU}\n\
         INSERT INTO cpu VALUES ('a', 1000, 1.0), ('a', 2000, 2.0), ('b', 1000, 3.0);\n\
         ADMIN flush_table('cpu');\n\
         INSERT INTO cpu VALUES ('a', 2000, 20.0), ('b', 1000, 30.0), ('c', 1000, 4.0);\n"
    );
    run(dir.path(), &[], &script).assert_ok();
    let expected = "host,ts,util\n\
                    a,1970-01-01T00:00:01,1.0\n\
                    a,1970-01-01T00:00:02,20.0\n\
                    b,1970-01-01T00:00:01,30.0\n\
                    c,1970-01-01T00:00:01,4.0\n";
    // After a restart: SST data + WAL replay, deduplicated by (host, ts), last write wins.
    assert_eq!(
        query_csv(
            dir.path(),
            "SELECT host, ts, util FROM cpu ORDER BY host, ts"
        ),
        expected
    );
    // Flush the replayed rows too and check again after another restart.
    run(dir.path(), &[], "ADMIN flush_table('cpu');").assert_ok();
    assert_eq!(
        query_csv(
            dir.path(),
            "SELECT host, ts, util FROM cpu ORDER BY host, ts"
        ),
        expected
    );
    assert_eq!(
        query_csv(dir.path(), "SELECT count(*) AS n FROM cpu"),
        "n\n4\n"
    );

    // Deletes survive a restart, before and after they are flushed over SST data.
    run(dir.path(), &[], "DELETE FROM cpu WHERE host = 'b';").assert_ok();
    let expected = "host,ts,util\n\
                    a,1970-01-01T00:00:01,1.0\n\
                    a,1970-01-01T00:00:02,20.0\n\
                    c,1970-01-01T00:00:01,4.0\n";
    assert_eq!(
        query_csv(
            dir.path(),
            "SELECT host, ts, util FROM cpu ORDER BY host, ts"
        ),
        expected
    );
    run(
        dir.path(),
        &[],
        "ADMIN flush_table('cpu'); ADMIN compact_table('cpu');",
    )
    .assert_ok();
    assert_eq!(
        query_csv(
            dir.path(),
            "SELECT host, ts, util FROM cpu ORDER BY host, ts"
        ),
        expected
    );
}

#[test]
fn dropped_table_stays_dropped_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let setup = format!(
        "{CREATE_CPU}\nINSERT INTO cpu VALUES ('a', 1000, 0.5);\nADMIN flush_table('cpu');\n\
         INSERT INTO cpu VALUES ('b', 1000, 1.5);\nCREATE TABLE other (ts TIMESTAMP TIME INDEX);\n"
    );
    run(dir.path(), &[], &setup).assert_ok();
    run(dir.path(), &[], "DROP TABLE cpu;").assert_ok();
    let tables = query_csv(dir.path(), "SHOW TABLES");
    assert_eq!(
        tables.lines().skip(1).collect::<Vec<_>>(),
        ["other"],
        "{tables}"
    );
    // The name can be reused and starts empty.
    run(dir.path(), &[], CREATE_CPU).assert_ok();
    assert_eq!(
        query_csv(dir.path(), "SELECT count(*) AS n FROM cpu"),
        "n\n0\n"
    );
}

#[test]
fn help_documents_the_interface() {
    let output = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--command",
        "--file",
        "--format",
        "--bail",
        "--slt",
        "DATA_DIR",
    ] {
        assert!(
            help.contains(option),
            "{option} missing from --help:\n{help}"
        );
    }
}

#[test]
fn slt_mode_runs_files_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let passing = dir.path().join("pass.slt");
    std::fs::write(&passing, "query I\nSELECT 1 + 1\n----\n2\n").unwrap();
    let failing = dir.path().join("fail.slt");
    std::fs::write(&failing, "query I\nSELECT 1 + 1\n----\n3\n").unwrap();
    let data = dir.path().join("data");

    let result = run(&data, &["--slt", passing.to_str().unwrap()], "");
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    assert!(
        result.stdout.contains("1 passed, 0 failed"),
        "{}",
        result.stdout
    );

    let result = run(
        &data,
        &[
            "--slt",
            passing.to_str().unwrap(),
            "--slt",
            failing.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
    assert!(result.stdout.contains("FAILED  "), "{}", result.stdout);
    assert!(
        result.stdout.contains("1 passed, 1 failed"),
        "{}",
        result.stdout
    );
    assert!(result.stderr.contains("fail.slt"), "{}", result.stderr);
}

#[test]
fn import_loads_csv_and_parquet_files_into_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("readings 1.csv");
    std::fs::write(
        &csv,
        "host,ts,util\nweb-1,2024-05-01T10:00:00Z,12.5\nweb-2,2024-05-01T10:00:00Z,71.5\n",
    )
    .unwrap();
    let parquet = dir.path().join("copy.parquet");
    let script = format!(
        "{CREATE_CPU}\n.import '{csv}' cpu\nCOPY cpu TO '{parquet}' WITH (FORMAT = 'parquet');\n\
         CREATE TABLE cpu2 (host STRING, ts TIMESTAMP TIME INDEX, util DOUBLE, PRIMARY KEY (host));\n\
         .import {parquet} cpu2\n.import --csv missing.csv cpu\n.import onlyone\n",
        csv = csv.display(),
        parquet = parquet.display(),
    );
    let result = run(dir.path(), &[], &script);
    assert_eq!(result.code, 1, "{}", result.stderr);
    let errors = result.error_lines();
    assert_eq!(errors.len(), 2, "{}", result.stderr);
    assert!(errors[0].contains("missing.csv"), "{}", errors[0]);
    assert!(errors[1].contains("usage: .import"), "{}", errors[1]);
    assert_eq!(
        query_csv(dir.path(), "SELECT host, util FROM cpu2 ORDER BY host"),
        "host,util\nweb-1,12.5\nweb-2,71.5\n"
    );
}
