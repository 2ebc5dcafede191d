//! Snapshot tests (insta) of what the `tsdb-shell` binary prints: every output format (through
//! `--format X` and through `.mode X` in a piped script), `.maxrows`, `Affected Rows`, `DESC
//! TABLE`, `SHOW CREATE TABLE`, parse errors with their caret, and `--help`.
//!
//! Each snapshot is one labelled text holding the exit code, stdout and stderr of one run. The
//! snapshots live in `tests/snapshots/`; after an intended output change, regenerate them with
//! `INSTA_UPDATE=always cargo test --test shell_snapshots` and review the diff. Any other run
//! fails on a snapshot that differs or is missing.

use std::path::Path;
use std::process::Command;

mod common;

use common::Run;

/// A small table with two tags, a `TIMESTAMP` time index, one field of each of DOUBLE, BIGINT,
/// BOOLEAN and STRING, a row of NULLs, and strings with a comma, quotes, a newline, non-ASCII
/// text and the empty string.
const SETUP: &str = "CREATE TABLE readings (\n  \
                     site STRING,\n  \
                     sensor STRING,\n  \
                     ts TIMESTAMP TIME INDEX,\n  \
                     temp DOUBLE,\n  \
                     hits BIGINT,\n  \
                     ok BOOLEAN,\n  \
                     note STRING,\n  \
                     PRIMARY KEY (site, sensor)\n\
                     );\n\
                     INSERT INTO readings VALUES\n  \
                     ('ams', 's1', '2024-05-01T00:00:00Z', 21.5, 10, true, 'plain'),\n  \
                     ('ams', 's2', '2024-05-01T00:00:01.250Z', NULL, NULL, NULL, NULL),\n  \
                     ('bos', 's1', '2024-05-01T00:01:00Z', -3.25, 0, false, \
                     'a,b \"quoted\"\nsecond line, café ☃'),\n  \
                     ('bos', 's2', '2024-05-01T00:02:00Z', 1e10, 9223372036854775807, true, '');\n";

/// Every row of the table, then a query with an empty result.
const QUERIES: [&str; 2] = [
    "SELECT * FROM readings ORDER BY site, sensor;",
    "SELECT site, ts, temp FROM readings WHERE temp > 1e12;",
];

const FORMATS: [&str; 7] = ["table", "csv", "tsv", "json", "jsonl", "markdown", "line"];

/// A temp directory holding the database `db` with [`SETUP`] loaded.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture::empty();
        assert_ok_quiet(&fixture.run(&["--format", "csv"], SETUP));
        fixture
    }

    /// No table yet.
    fn empty() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the shell on `db` with `args` and piped `stdin`; checks no colour code was printed.
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut command: Command = common::shell(self.path(), &self.path().join("db"));
        command
            .current_dir(self.path())
            .args(args)
            // Nothing in the environment may change the output: no logging, no forced colour.
            .env_remove("RUST_LOG")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("FORCE_COLOR");
        let run = common::run_command(&mut command, stdin);
        assert!(
            !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
            "colour codes in piped output:\n{}",
            transcript(self, &run)
        );
        run
    }
}

/// Exit status 0 and only `Affected Rows` lines on stderr.
fn assert_ok_quiet(run: &Run) {
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .all(|line| line.starts_with("Affected Rows: ")),
        "stderr:\n{}",
        run.stderr
    );
}

/// The exit code, stdout and stderr of `run` as one labelled text. A stream that does not end
/// with a newline says so; the temp directory's path is replaced by `[TMP]`.
fn transcript(fixture: &Fixture, run: &Run) -> String {
    let section = |name: &str, text: &str| {
        let mut out = format!("----- {name} -----\n{text}");
        if !text.is_empty() && !text.ends_with('\n') {
            out.push_str("\n[no newline at end]\n");
        }
        out
    };
    let text = format!(
        "exit code: {}\n{}{}----- end -----\n",
        run.code,
        section("stdout", &run.stdout),
        section("stderr", &run.stderr),
    );
    text.replace(&fixture.path().display().to_string(), "[TMP]")
}

/// Snapshots `run` as `name`; the snapshot's description is how the shell was run.
fn snapshot(name: &str, how: &str, fixture: &Fixture, run: &Run) {
    insta::with_settings!({ description => how, omit_expression => true }, {
        insta::assert_snapshot!(name, transcript(fixture, run));
    });
}

/// `--format X -c ... -c ...` and `.mode X` with the same statements piped print the same.
#[test]
fn every_format() {
    let fixture = Fixture::new();
    for format in FORMATS {
        let mut args = vec!["--format", format];
        for query in QUERIES {
            args.extend(["-c", query]);
        }
        let by_flag = fixture.run(&args, "");
        let script = format!(".mode {format}\n{}\n", QUERIES.join("\n"));
        let by_mode = fixture.run(&[], &script);
        assert_eq!(
            transcript(&fixture, &by_mode),
            transcript(&fixture, &by_flag),
            ".mode {format} (piped) and --format {format} differ"
        );
        let how = format!(
            "tsdb-shell DB --format {format} -c {:?} -c {:?}\n(the same as piping .mode {format} and the two statements)",
            QUERIES[0], QUERIES[1]
        );
        snapshot(&format!("format_{format}"), &how, &fixture, &by_flag);
    }
}

/// Statements without a result set: `Affected Rows: N` on stdout in table mode, on stderr in
/// the others.
#[test]
fn affected_rows() {
    let fixture = Fixture::empty();
    let run = fixture.run(&[], SETUP);
    snapshot(
        "affected_rows_table",
        "SETUP piped, table mode",
        &fixture,
        &run,
    );
    let script = "INSERT INTO readings (site, sensor, ts, temp) VALUES ('zrh', 's1', 0, 1.5), ('zrh', 's2', 0, 2.5);\n\
                  DELETE FROM readings WHERE site = 'zrh';\n\
                  DELETE FROM readings WHERE site = 'nowhere';\n";
    let run = fixture.run(&["--format", "csv"], script);
    snapshot(
        "affected_rows_csv",
        &format!("tsdb-shell DB --format csv, piped:\n{script}"),
        &fixture,
        &run,
    );
}

/// `.maxrows N` in table mode shows the first and last rows and a footer.
#[test]
fn maxrows_footer() {
    let fixture = Fixture::new();
    let script = ".maxrows 4\n\
                  SELECT x, x * x AS square FROM generate_series(1, 10) AS s(x) ORDER BY x;\n\
                  .maxrows 3\n\
                  SELECT site, sensor, ts FROM readings ORDER BY site, sensor;\n\
                  .maxrows 4\n\
                  SELECT site, sensor, ts FROM readings ORDER BY site, sensor;\n";
    let run = fixture.run(&[], script);
    snapshot("maxrows", &format!("piped:\n{script}"), &fixture, &run);
}

#[test]
fn desc_and_show_create_table() {
    let fixture = Fixture::new();
    let args = [
        "-c",
        "DESC TABLE readings",
        "-c",
        "SHOW CREATE TABLE readings",
    ];
    let run = fixture.run(&args, "");
    snapshot(
        "desc_and_show_create_table",
        &format!("tsdb-shell DB {args:?}"),
        &fixture,
        &run,
    );
}

/// A parse error with `-c`: the `Error:` line, then the offending line and a caret, on stderr;
/// the other `-c` statements still run; exit status 1.
#[test]
fn parse_errors_with_caret() {
    let fixture = Fixture::new();
    let args = [
        "-c",
        "SELEC 1",
        "-c",
        "SELECT count(*) AS n FROM readings",
        "-c",
        "SELECT *\nFROM readings LIMIT x y",
        "-c",
        "CREATE TABLE x (a STRING, ts TIMESTAMP TIME INDEX, b DOUBLE PRIMARY KEY (a))",
        "-c",
        "SELECT site,\nFROM readings WHERE",
    ];
    let run = fixture.run(&args, "");
    snapshot(
        "parse_errors",
        &format!("tsdb-shell DB {args:?}"),
        &fixture,
        &run,
    );
}

#[test]
fn help() {
    let fixture = Fixture::empty();
    let run = fixture.run(&["--help"], "");
    snapshot("help", "tsdb-shell DB --help", &fixture, &run);
    assert!(
        !fixture.path().join("db").exists(),
        "--help must not create the database"
    );
}
