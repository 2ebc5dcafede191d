//! Black-box crash test (RELIABILITY.md, "Proving it"): a shell receives numbered INSERT
//! batches with flushes in between, is killed with SIGKILL at varying points, and after
//! every restart the table must hold every acknowledged batch whole, no batch partially,
//! and nothing that was never sent.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ROWS_PER_BATCH: i64 = 10;

fn shell(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tsdb-shell"))
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tsdb-shell")
}

fn batch_sql(batch: i64) -> String {
    let rows: Vec<String> = (0..ROWS_PER_BATCH)
        .map(|i| format!("('h{}', {}, {batch})", i % 3, batch * ROWS_PER_BATCH + i))
        .collect();
    format!("INSERT INTO t VALUES {};\n", rows.join(", "))
}

/// Rows per batch id, read back with a fresh process.
fn batches_on_disk(dir: &Path) -> std::collections::BTreeMap<i64, i64> {
    let output = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"))
        .arg(dir)
        .args([
            "--format",
            "csv",
            "-c",
            "SELECT batch, count(*) FROM t GROUP BY batch ORDER BY batch",
        ])
        .output()
        .expect("run tsdb-shell");
    assert!(
        output.status.success(),
        "reopen failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .map(|line| {
            let (batch, count) = line.split_once(',').expect("two columns");
            (
                batch.parse().expect("batch id"),
                count.parse().expect("count"),
            )
        })
        .collect()
}

#[test]
fn acknowledged_batches_survive_sigkill_at_any_point() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"))
        .arg(dir.path())
        .args(["-c", "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, batch BIGINT, PRIMARY KEY(host))"])
        .status()
        .unwrap();
    assert!(status.success());

    let mut next_batch = 0i64;
    let mut acknowledged: Vec<i64> = Vec::new();
    // Kill after a different number of acknowledgements each round (deterministic spread).
    for (round, acks_before_kill) in [3usize, 17, 1, 40, 9, 25].into_iter().enumerate() {
        let mut child = shell(dir.path(), &[]);
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("Affected Rows") && tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Statements execute in order, so the k-th "Affected Rows: 10" of this round
        // acknowledges the k-th batch sent in it. Up to 3 statements are in flight, so the
        // kill also lands in the middle of writes and flushes.
        let mut sent = Vec::new();
        let mut acked = 0;
        while acked < acks_before_kill {
            while sent.len() - acked < 3 {
                let batch = next_batch;
                next_batch += 1;
                let mut script = batch_sql(batch);
                if batch % 7 == round as i64 % 7 {
                    script.push_str("ADMIN flush_table('t');\n");
                }
                stdin.write_all(script.as_bytes()).unwrap();
                sent.push(batch);
            }
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("an acknowledgement within 30 s");
            if line == format!("Affected Rows: {ROWS_PER_BATCH}") {
                acknowledged.push(sent[acked]);
                acked += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        drop(stdin);
        reader.join().unwrap();

        let on_disk = batches_on_disk(dir.path());
        for batch in &acknowledged {
            assert_eq!(
                on_disk.get(batch),
                Some(&ROWS_PER_BATCH),
                "round {round}: acknowledged batch {batch} lost or partial; on disk: {on_disk:?}"
            );
        }
        for (batch, rows) in &on_disk {
            assert_eq!(
                *rows, ROWS_PER_BATCH,
                "round {round}: batch {batch} is partial"
            );
            assert!(
                *batch < next_batch,
                "round {round}: batch {batch} was never sent"
            );
        }
        // Unacknowledged batches that did land are now durable: count them as acknowledged
        // so later rounds keep checking them.
        acknowledged = on_disk.keys().copied().collect();
    }
    assert!(
        acknowledged.len() >= 95,
        "{} batches durable",
        acknowledged.len()
    );
}
