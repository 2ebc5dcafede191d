//! Damaged files (issue #8): for each file kind of a small database (WAL segment, manifest
//! delta, manifest checkpoint, SST, CATALOG) and each kind of damage (byte flip, truncation,
//! zero fill, deletion), a copy of the database is damaged, then opened and read. The outcome
//! must be the one `docs/RELIABILITY.md` ("Damage table") lists: an error naming the file, or
//! (where FORMAT.md says so) the damage handled with the rows unchanged; never a panic, never
//! silently different rows. Also: a missing CATALOG beside regions with data refuses to open,
//! and a second process is locked out of an open directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tsdb::{Database, Output};

/// One line per row (`host,ts,v`), so a subset of rows is a subset of lines.
const CONTENT: &str =
    "SELECT concat(host, ',', CAST(ts AS BIGINT), ',', v) AS r FROM t ORDER BY host, ts";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A database with a checkpoint (12 flushes), newer deltas, SSTs and unflushed WAL entries.
/// Builds the damage table's database in `data`. `clean_close`: closed with
/// `Database::close` (which records the committed sequence in the manifest); otherwise
/// dropped, as a crash leaves it.
async fn build_with(data: &Path, clean_close: bool) {
    let db = Database::open(data).await.unwrap();
    db.execute("CREATE TABLE t (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v BIGINT)")
        .await
        .unwrap();
    for round in 0..12 {
        db.execute(&format!(
            "INSERT INTO t VALUES ('a', {}, {round}), ('b', {}, {round})",
            round * 1000,
            round * 1000 + 1
        ))
        .await
        .unwrap();
        db.execute("ADMIN flush_table('t')").await.unwrap();
    }
    db.execute("INSERT INTO t VALUES ('c', 100000, 100), ('c', 100001, 101)")
        .await
        .unwrap();
    if clean_close {
        db.close().await.unwrap();
    }
}

async fn build(data: &Path) {
    build_with(data, true).await;
}

async fn content(db: &Database) -> tsdb::Result<String> {
    match db.execute(CONTENT).await? {
        Output::Records { batches, .. } => {
            let mut text = String::new();
            for batch in &batches {
                let column = arrow::array::AsArray::as_string::<i32>(batch.column(0));
                for row in column.iter() {
                    text.push_str(row.unwrap_or("NULL"));
                    text.push('\n');
                }
            }
            Ok(text)
        }
        Output::AffectedRows(_) => panic!("expected rows"),
    }
}

/// What opening and reading a (damaged) copy gave.
#[derive(Debug)]
enum Outcome {
    OpenFailed(String),
    QueryFailed(String),
    Rows(String),
}

/// Opens `data` and reads the table, in a task so a panic is caught and reported.
fn open_and_read(rt: &tokio::runtime::Runtime, data: &Path) -> Outcome {
    open_and_read_with(rt, data, true)
}

/// As [`open_and_read`], but the database is dropped, not closed (no close record).
fn open_and_read_without_close(rt: &tokio::runtime::Runtime, data: &Path) -> Outcome {
    open_and_read_with(rt, data, false)
}

fn open_and_read_with(rt: &tokio::runtime::Runtime, data: &Path, close: bool) -> Outcome {
    let data = data.to_path_buf();
    let joined = rt.block_on(rt.spawn(async move {
        let db = match Database::open(&data).await {
            Ok(db) => db,
            Err(err) => return Outcome::OpenFailed(err.to_string()),
        };
        let outcome = match content(&db).await {
            Ok(rows) => Outcome::Rows(rows),
            Err(err) => Outcome::QueryFailed(err.to_string()),
        };
        if close {
            let _ = db.close().await;
        }
        outcome
    }));
    joined.unwrap_or_else(|join| panic!("open or read of {} panicked: {join}", "copy"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir`, relative, sorted, with its size.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let path = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.push((path, entry.metadata().unwrap().len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    FlipMiddleByte,
    TruncateToHalf,
    ZeroFill,
    Delete,
    /// Format version (bytes 4..6 of the common file header) set to 99.
    FutureVersion,
    /// Format version set to 0 (no build ever wrote it).
    ZeroVersion,
}

fn damage(path: &Path, damage: Damage) {
    let mut bytes = std::fs::read(path).unwrap();
    match damage {
        Damage::FlipMiddleByte => {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x5a;
            std::fs::write(path, bytes).unwrap();
        }
        Damage::TruncateToHalf => {
            bytes.truncate(bytes.len() / 2);
            std::fs::write(path, bytes).unwrap();
        }
        Damage::ZeroFill => std::fs::write(path, vec![0u8; bytes.len()]).unwrap(),
        Damage::Delete => std::fs::remove_file(path).unwrap(),
        Damage::FutureVersion => {
            bytes[4..6].copy_from_slice(&99u16.to_le_bytes());
            std::fs::write(path, bytes).unwrap();
        }
        Damage::ZeroVersion => {
            bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
            std::fs::write(path, bytes).unwrap();
        }
    }
}

/// The expected outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Open fails with an error naming the file.
    OpenRefused,
    /// Open succeeds, the read fails with an error naming the file.
    ReadRefused,
    /// Opens and reads every row.
    SameRows,
    /// Open fails because acknowledged writes are in neither the SSTs nor the WAL (the
    /// sequence numbers the WAL resumes at leave a gap); nothing is deleted.
    OpenRefusedLostWrites,
}

/// Version in a manifest file name (`{version:020}.json` / `.checkpoint`).
fn manifest_version(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_string_lossy();
    name.split('.').next().unwrap().parse().unwrap()
}

/// The files of each kind in `data`: (kind, paths damaged together). The WAL segment is the
/// one holding the unflushed entries; "newest" delta is the newest, "older" the one before it
/// (still after the checkpoint, so needed), "covered" one the checkpoint replaces; the SST is
/// the first by name, "SSTs (all)" every one.
fn files(data: &Path) -> Vec<(&'static str, Vec<PathBuf>)> {
    let names = listing(data);
    let find = |pred: &dyn Fn(&str) -> bool| {
        names
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| pred(&p.to_string_lossy()))
            .collect::<Vec<_>>()
    };
    let wal = find(&|p| p.starts_with("wal/") && p.ends_with(".wal"));
    let deltas = find(&|p| p.contains("/manifest/") && p.ends_with(".json"));
    let checkpoints = find(&|p| p.ends_with(".checkpoint"));
    let ssts = find(&|p| p.ends_with(".parquet"));
    let wal_with_entries = wal
        .iter()
        .find(|p| std::fs::metadata(data.join(p)).unwrap().len() > 6)
        .expect("a WAL segment with entries")
        .clone();
    let checkpoint = checkpoints.last().expect("a checkpoint").clone();
    let after_checkpoint: Vec<PathBuf> = deltas
        .iter()
        .filter(|d| manifest_version(d) > manifest_version(&checkpoint))
        .cloned()
        .collect();
    assert!(
        after_checkpoint.len() >= 2,
        "two deltas after the checkpoint: {deltas:?}"
    );
    let covered = deltas
        .iter()
        .find(|d| manifest_version(d) <= manifest_version(&checkpoint))
        .cloned();
    assert!(ssts.len() >= 2, "several SSTs: {ssts:?}");
    let mut kinds = vec![
        ("WAL segment", vec![wal_with_entries]),
        (
            "manifest delta (newest)",
            vec![after_checkpoint.last().unwrap().clone()],
        ),
        (
            "manifest delta (older, after the checkpoint)",
            vec![after_checkpoint[after_checkpoint.len() - 2].clone()],
        ),
        ("manifest checkpoint", vec![checkpoint]),
        ("SST", vec![ssts.first().unwrap().clone()]),
        ("SSTs (all)", ssts.clone()),
        ("CATALOG", vec![PathBuf::from("catalog/CATALOG")]),
        ("LOCK", vec![PathBuf::from("LOCK")]),
    ];
    if let Some(covered) = covered {
        kinds.push(("manifest delta (covered by the checkpoint)", vec![covered]));
    }
    kinds
}

fn expected(kind: &str, damage: Damage) -> Expect {
    use Damage::*;
    match (kind, damage) {
        // SSTs are checked (size + CRC-32 from the manifest) when a scan fetches them.
        ("SST" | "SSTs (all)", _) => Expect::ReadRefused,
        // Recovery starts from the newest checkpoint and never reads the deltas before it.
        ("manifest delta (covered by the checkpoint)", _) => Expect::SameRows,
        // The lock file holds no data; open recreates it.
        ("LOCK", _) => Expect::SameRows,
        // A WAL directory without its segment: the clean close recorded the committed
        // sequence in the manifest, so the missing entries are detected and open refused.
        ("WAL segment", Delete) => Expect::OpenRefusedLostWrites,
        // The newest delta is the close's record of the committed sequence. The
        // torn-newest-delta rule (FORMAT.md) reads a cut, zeroed or missing one as an update
        // that never completed: a close cut short, which loses nothing (the WAL holds the
        // rows).
        ("manifest delta (newest)", TruncateToHalf | ZeroFill | Delete) => Expect::SameRows,
        // The flush's delta before it ("older, after the checkpoint") is needed: any damage
        // to it is refused by the catch-all below.
        _ => Expect::OpenRefused,
    }
}

#[test]
fn every_damaged_file_is_refused_by_name_never_read_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let rt = runtime();
    rt.block_on(build(&base));
    let Outcome::Rows(good) = open_and_read(&rt, &base) else {
        panic!("the undamaged database must read");
    };
    assert!(good.contains("101"), "{good}");

    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (kind, group) in files(&base) {
        for how in [
            Damage::FlipMiddleByte,
            Damage::TruncateToHalf,
            Damage::ZeroFill,
            Damage::Delete,
            Damage::FutureVersion,
            Damage::ZeroVersion,
        ] {
            let size = std::fs::metadata(base.join(&group[0])).unwrap().len();
            // The version field exists in the files with tsdb's header (not SSTs, whose
            // version is a footer key behind the CRC: `sst::tests`; not LOCK).
            if matches!(how, Damage::FutureVersion | Damage::ZeroVersion)
                && (kind.starts_with("SST") || kind == "LOCK")
            {
                continue;
            }
            // An empty LOCK file has no byte to flip, cut or zero; delete is the case.
            if size == 0 && !matches!(how, Damage::Delete) {
                continue;
            }
            let copy = dir.path().join(format!("copy-{}", report.len()));
            copy_dir(&base, &copy);
            for file in &group {
                damage(&copy.join(file), how);
            }
            let outcome = open_and_read(&rt, &copy);
            let expect = expected(kind, how);
            // The error names one of the damaged files; a deleted file may be named by its
            // directory ("missing delta version 0").
            let names_it = |message: &String| {
                group.iter().any(|file| {
                    let name = file.file_name().unwrap().to_string_lossy().to_string();
                    let dir_name = file.parent().unwrap().to_string_lossy().to_string();
                    message.contains(&name)
                        || (matches!(how, Damage::Delete) && message.contains(&dir_name))
                })
            };
            let ok = match (&outcome, expect) {
                // Version 0 was never written: damage, not "open it with a newer tsdb".
                (Outcome::OpenFailed(message), Expect::OpenRefused)
                    if matches!(how, Damage::ZeroVersion) =>
                {
                    names_it(message) && !message.contains("newer")
                }
                (Outcome::OpenFailed(message), Expect::OpenRefused)
                | (Outcome::QueryFailed(message), Expect::ReadRefused) => names_it(message),
                (Outcome::OpenFailed(message), Expect::OpenRefusedLostWrites) => {
                    message.contains("cannot be opened without losing data")
                }
                (Outcome::Rows(rows), Expect::SameRows) => rows == &good,
                _ => false,
            };
            let summary = match &outcome {
                Outcome::Rows(rows) => format!(
                    "opens, {} of {} rows",
                    rows.lines().count(),
                    good.lines().count()
                ),
                other => format!("{other:?}"),
            };
            report.push(format!("{kind} | {how:?} | {summary}"));
            if !ok {
                failures.push(format!(
                    "{kind} {group:?} {how:?}: expected {expect:?}, got {outcome:?}"
                ));
            }
        }
    }
    // The table of docs/RELIABILITY.md is this output (`--nocapture`).
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_catalog_beside_regions_with_data_refuses_to_open_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    rt.block_on(build(&data));
    let Outcome::Rows(good) = open_and_read(&rt, &data) else {
        panic!("the database must read");
    };
    let catalog = data.join("catalog/CATALOG");
    let saved = std::fs::read(&catalog).unwrap();
    std::fs::remove_file(&catalog).unwrap();
    let before = listing(&data);
    for _ in 0..2 {
        let Outcome::OpenFailed(message) = open_and_read(&rt, &data) else {
            panic!("open without a catalog must fail");
        };
        assert!(message.contains("catalog/CATALOG"), "{message}");
        assert!(message.contains("missing"), "{message}");
        assert!(message.contains("1_0"), "{message}");
        assert!(message.contains("backup"), "{message}");
        // Nothing deleted or rewritten (the LOCK file is the only one open touches).
        assert_eq!(listing(&data), before);
    }
    // Putting the catalog back recovers everything.
    std::fs::write(&catalog, saved).unwrap();
    let Outcome::Rows(rows) = open_and_read(&rt, &data) else {
        panic!("open with the catalog restored must succeed");
    };
    assert_eq!(rows, good);
}

#[test]
fn a_damaged_catalog_is_a_corruption_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    rt.block_on(build(&data));
    let catalog = data.join("catalog/CATALOG");
    let mut bytes = std::fs::read(&catalog).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // the CRC
    std::fs::write(&catalog, &bytes).unwrap();
    let Outcome::OpenFailed(message) = open_and_read(&rt, &data) else {
        panic!("a catalog failing its checksum must not open");
    };
    assert!(message.contains("catalog/CATALOG"), "{message}");
    assert!(message.contains("corrupt"), "{message}");
    assert_eq!(std::fs::read(&catalog).unwrap(), bytes, "left as it was");
}

#[test]
fn a_new_directory_and_an_interrupted_first_create_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // A brand-new directory: a fresh database.
    let fresh = dir.path().join("fresh");
    let db = rt.block_on(Database::open(&fresh)).unwrap();
    assert!(db.catalog().table_names().is_empty());
    rt.block_on(db.close()).unwrap();

    // A region created but never named by a catalog (the first CREATE TABLE stopped before
    // its catalog write): no rows, so it is a leftover, dropped at open.
    let data = dir.path().join("data");
    let db = rt.block_on(Database::open(&data)).unwrap();
    rt.block_on(db.execute("CREATE TABLE t (ts TIMESTAMP TIME INDEX, v DOUBLE)"))
        .unwrap();
    rt.block_on(db.close()).unwrap();
    std::fs::remove_file(data.join("catalog/CATALOG")).unwrap();
    let db = rt.block_on(Database::open(&data)).unwrap();
    assert!(db.catalog().table_names().is_empty());
    rt.block_on(db.execute("CREATE TABLE t (ts TIMESTAMP TIME INDEX, v DOUBLE)"))
        .unwrap();
    rt.block_on(db.close()).unwrap();
}

fn shell(data: &Path, state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"));
    command
        .arg(data)
        .env("XDG_STATE_HOME", state)
        .env_remove("TSDB_HISTORY");
    command
}

#[test]
fn a_second_shell_is_locked_out_and_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = dir.path().join("state");
    let create = "CREATE TABLE t (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v BIGINT);\n\
                  INSERT INTO t VALUES ('first', 1, 1);\n";
    let setup = shell(&data, &state).args(["-c", create]).output().unwrap();
    assert!(setup.status.success(), "{setup:?}");

    let mut first = shell(&data, &state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    let mut stdout = BufReader::new(first.stdout.take().unwrap());
    stdin
        .write_all(b"INSERT INTO t VALUES ('first', 2, 2);\nSELECT 'holding' AS state;\n")
        .unwrap();
    let mut line = String::new();
    while !line.contains("holding") {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "first shell ended");
    }

    let before = listing(&data);
    let second = shell(&data, &state)
        .args(["-c", "INSERT INTO t VALUES ('second', 3, 3)"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.to_lowercase().contains("locked"), "{stderr}");
    assert!(
        stderr.contains(&*data.to_string_lossy()),
        "names the directory: {stderr}"
    );
    assert_eq!(listing(&data), before, "the second process wrote nothing");

    drop(stdin);
    assert!(first.wait().unwrap().success());
    let after = shell(&data, &state)
        .args(["--format", "csv", "-c", "SELECT host, v FROM t ORDER BY ts"])
        .output()
        .unwrap();
    assert!(after.status.success(), "{after:?}");
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        "host,v\nfirst,1\nfirst,2\n"
    );
}

/// The lock is an flock on `DATA_DIR/LOCK` (`Database::open`), which the kernel releases
/// when the holder dies: the LOCK file a SIGKILLed shell leaves behind (even with bytes in
/// it) must not block the next open, and what it acknowledged is there.
#[test]
fn a_lock_left_by_a_killed_shell_does_not_block_opening() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = dir.path().join("state");
    let create = "CREATE TABLE t (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v BIGINT);\n\
                  INSERT INTO t VALUES ('first', 1, 1);\n";
    let setup = shell(&data, &state).args(["-c", create]).output().unwrap();
    assert!(setup.status.success(), "{setup:?}");
    // Bytes in the lock file, as another tool's pid file would leave: not a lock.
    std::fs::write(data.join("LOCK"), b"4242\n").unwrap();

    let mut holder = shell(&data, &state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    let mut stdout = BufReader::new(holder.stdout.take().unwrap());
    stdin
        .write_all(b"INSERT INTO t VALUES ('first', 2, 2);\nSELECT 'holding' AS state;\n")
        .unwrap();
    let mut line = String::new();
    while !line.contains("holding") {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "holder ended");
    }
    // While it lives, the directory is locked.
    let locked = shell(&data, &state)
        .args(["-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(locked.status.code(), Some(1), "{locked:?}");
    holder.kill().unwrap(); // SIGKILL: no cleanup runs
    holder.wait().unwrap();
    assert!(
        data.join("LOCK").exists(),
        "the dead process's LOCK file is left"
    );

    let after = shell(&data, &state)
        .args(["--format", "csv", "-c", "SELECT host, v FROM t ORDER BY ts"])
        .output()
        .unwrap();
    assert!(after.status.success(), "{after:?}");
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        "host,v\nfirst,1\nfirst,2\n"
    );
}

#[test]
fn a_torn_tail_of_the_newest_wal_segment_is_cut_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let rt = runtime();
    // A torn tail is what a crash leaves: no clean close (whose manifest record would make
    // the lost entry a detected loss instead).
    rt.block_on(build_with(&base, false));
    let Outcome::Rows(good) = open_and_read_without_close(&rt, &base) else {
        panic!("the database must read");
    };
    // Rows of the last INSERT (the only entry of the segment) are the torn tail.
    let without_tail: String = good
        .lines()
        .filter(|row| !row.starts_with("c,"))
        .map(|row| format!("{row}\n"))
        .collect();
    for (case, cut_tail) in [("cut 10 bytes", true), ("flip the last CRC byte", false)] {
        let copy = dir.path().join(format!("copy-{cut_tail}"));
        copy_dir(&base, &copy);
        // Make the segment with the entry the newest: drop the empty ones after it (an open
        // that never got an entry, as after a crash right at the start of a session).
        let wal_dir = copy.join("wal/1_0");
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        segments.sort();
        while std::fs::metadata(segments.last().unwrap()).unwrap().len() <= 6 {
            std::fs::remove_file(segments.pop().unwrap()).unwrap();
        }
        let newest = segments.last().unwrap().clone();
        let mut bytes = std::fs::read(&newest).unwrap();
        if cut_tail {
            bytes.truncate(bytes.len() - 10);
        } else {
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
        }
        std::fs::write(&newest, &bytes).unwrap();
        let Outcome::Rows(rows) = open_and_read_without_close(&rt, &copy) else {
            panic!("{case}: a torn tail must not stop the open");
        };
        assert_eq!(rows, without_tail, "{case}");
        // Cut back to the last whole frame (here: the header), as FORMAT.md says.
        assert_eq!(std::fs::metadata(&newest).unwrap().len(), 6, "{case}");
    }
}
