//! Table options, ALTER TABLE SET/UNSET and TRUNCATE through the `tsdb-shell` binary, each
//! step in a process of its own (so every read after the first comes from a restart: catalog,
//! manifest, WAL replay).

use std::path::Path;

mod common;

/// `-c SQL --format csv` in a new process, asserting success; returns stdout.
fn csv(dir: &Path, sql: &str) -> String {
    let run = common::run_command(
        common::shell(dir, &dir.join("data")).args(["--format", "csv", "-c", sql]),
        "",
    );
    assert_eq!(run.code, 0, "{sql}: {}", run.stderr);
    assert!(run.error_lines().is_empty(), "{sql}: {}", run.stderr);
    run.stdout
}

/// `-c SQL` in a new process, expecting failure; returns the `Error:` lines.
fn error(dir: &Path, sql: &str) -> String {
    let run = common::run_command(common::shell(dir, &dir.join("data")).args(["-c", sql]), "");
    assert_eq!(run.code, 1, "{sql}: {}", run.stdout);
    run.error_lines().join("\n")
}

#[test]
fn options_and_truncate_survive_process_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    csv(
        dir,
        "CREATE TABLE lnn (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, a DOUBLE, b DOUBLE) \
         WITH (merge_mode = 'last_non_null'); \
         CREATE TABLE app (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v DOUBLE) \
         WITH (append_mode = 'true', ttl = '100years');",
    );
    csv(
        dir,
        "INSERT INTO lnn VALUES ('h', 1, 1, NULL); ADMIN flush_table('lnn'); \
         INSERT INTO app VALUES ('h', 1, 1), ('h', 1, 1);",
    );
    csv(
        dir,
        "INSERT INTO lnn VALUES ('h', 1, NULL, 2); INSERT INTO app VALUES ('h', 1, 2);",
    );
    assert_eq!(
        csv(dir, "SELECT host, a, b FROM lnn"),
        "host,a,b\nh,1.0,2.0\n"
    );
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM app"), "n\n3\n");
    // The rows are of 1970: within 100 years of now, but not within a day.
    csv(dir, "ALTER TABLE app SET 'ttl' = '1 day'");
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM app"), "n\n0\n");
    csv(dir, "ALTER TABLE app UNSET 'ttl'");
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM app"), "n\n3\n");
    assert!(
        error(dir, "ALTER TABLE app SET 'append_mode' = 'false'")
            .contains("Only allow changing append_mode from false to true")
    );
    csv(dir, "TRUNCATE TABLE lnn; TRUNCATE app");
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM lnn"), "n\n0\n");
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM app"), "n\n0\n");
    csv(dir, "INSERT INTO lnn VALUES ('h', 2, 3, 4)");
    assert_eq!(
        csv(dir, "SELECT host, a, b FROM lnn"),
        "host,a,b\nh,3.0,4.0\n"
    );
}
