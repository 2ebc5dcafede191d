//! `ALTER TABLE` through the `tsdb-shell` binary: an acknowledged ALTER and the writes after it
//! survive `kill -9` (manifest `Change` durable before the acknowledgement, WAL replayed under
//! the new schema), and every statement of a script sees the schema the previous one left.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::channel;
use std::time::Duration;

mod common;

use common::run_command;

fn query_csv(dir: &Path, sql: &str) -> String {
    let result = run_command(
        common::shell(dir, dir).args(["--format", "csv", "-c", sql]),
        "",
    );
    assert_eq!(result.code, 0, "{sql}: {}", result.stderr);
    result.stdout
}

#[test]
fn acknowledged_alter_and_later_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::shell(dir.path(), dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tsdb-shell");
    let mut stdin = child.stdin.take().unwrap();
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
    let statements = [
        "CREATE TABLE cpu (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, util DOUBLE);",
        "INSERT INTO cpu VALUES ('a', 1000, 0.5);",
        "ALTER TABLE cpu ADD COLUMN dc STRING DEFAULT 'eu' PRIMARY KEY, ADD COLUMN n INT;",
        "INSERT INTO cpu VALUES ('b', 2000, 1.5, 'us', 7);",
        "ALTER TABLE cpu DROP COLUMN util;",
        "INSERT INTO cpu VALUES ('c', 3000, 'eu', 8);",
    ];
    for statement in statements {
        stdin.write_all(statement.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("no acknowledgement of {statement}: {e}"));
            if line.contains("Affected Rows") {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on unix: no clean close, no flush
    child.wait().unwrap();

    assert_eq!(
        query_csv(dir.path(), "SELECT * FROM cpu ORDER BY ts"),
        "host,ts,dc,n\n\
         a,1970-01-01T00:00:01,eu,\n\
         b,1970-01-01T00:00:02,us,7\n\
         c,1970-01-01T00:00:03,eu,8\n"
    );
    let desc = query_csv(dir.path(), "DESC cpu");
    assert!(desc.contains("dc,String,PRI,YES,'eu',TAG"), "{desc}");
    assert!(!desc.contains("util"), "{desc}");
}
