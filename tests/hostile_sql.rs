//! Hostile input (issue #8): every case of `tests/data/hostile.sql` plus generated ones (deep
//! nesting, huge literals and lists, NUL bytes, invalid UTF-8) is fed to the real
//! `tsdb-shell` binary on stdin, each in a process of its own, and (SQL cases) to
//! `Database::execute`. Each must give its expected outcome (a clear `Error:` line or a
//! result), never a panic, a signal or a hang, and afterwards the database must open and hold
//! exactly the rows it held before. docs/RELIABILITY.md lists what the corpus found.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tsdb::{Database, Output};

/// A process still running after this is a hang (a debug build runs every case in < 10 s).
const HANG_TIMEOUT: Duration = Duration::from_secs(180);

const SEED: &[&str] = &[
    "CREATE TABLE cpu (host STRING, dc STRING, ts TIMESTAMP TIME INDEX, usage DOUBLE, \
     n BIGINT, note STRING, PRIMARY KEY (host, dc))",
    "INSERT INTO cpu VALUES ('a', 'x', 1000, 0.5, 1, 'one'), ('b', 'y', 2000, 1.5, 2, 'two'), \
     ('c', 'z', 3000, 2.5, 3, NULL)",
    "ADMIN flush_table('cpu')",
    "INSERT INTO cpu VALUES ('a', 'x', 4000, 3.5, 4, 'four'), ('d', 'w', 5000, 4.5, 5, 'five')",
];

const CONTENT: &str = "SELECT * FROM cpu ORDER BY host, dc, ts";

#[derive(Debug, Clone)]
enum Expect {
    Ok,
    /// An error whose message contains this text (lower case; empty: any error).
    Error(String),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    input: Vec<u8>,
    expect: Expect,
    /// Extra shell arguments.
    args: Vec<&'static str>,
    /// Text stdout must contain (after an error, proves the shell went on).
    stdout_contains: Option<&'static str>,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cases of `tests/data/hostile.sql` (format in its header).
fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(manifest_dir().join("tests/data/hostile.sql")).unwrap();
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(head) = line.strip_prefix("### ") {
            cases.extend(current.take());
            let expect = match head.trim() {
                "ok" => Expect::Ok,
                "error" => Expect::Error(String::new()),
                other => Expect::Error(
                    other
                        .strip_prefix("error: ")
                        .unwrap_or_else(|| panic!("bad case header on line {}", number + 1))
                        .to_lowercase(),
                ),
            };
            current = Some(Case {
                name: format!("hostile.sql:{}", number + 1),
                input: Vec::new(),
                expect,
                args: Vec::new(),
                stdout_contains: None,
            });
        } else if let Some(case) = current.as_mut() {
            case.input.extend_from_slice(line.as_bytes());
            case.input.push(b'\n');
        }
    }
    cases.extend(current);
    cases
}

fn generated() -> Vec<Case> {
    fn case(name: &str, input: Vec<u8>, expect: Expect) -> Case {
        Case {
            name: name.to_string(),
            input,
            expect,
            args: Vec::new(),
            stdout_contains: None,
        }
    }
    let error = |text: &str| Expect::Error(text.to_string());
    let chain = |term: &str, op: &str, n: usize| vec![term; n].join(op);
    let deep = "nested too deeply";
    let ors: Vec<String> = (0..10_000).map(|i| format!("host = 'h{i}'")).collect();
    let list: Vec<String> = (0..20_000).map(|i| format!("'h{i}'")).collect();
    let mut cases = vec![
        case(
            "40 parentheses",
            format!("SELECT {}1{};", "(".repeat(40), ")".repeat(40)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "200 parentheses",
            format!("SELECT {}1{};", "(".repeat(200), ")".repeat(200)).into_bytes(),
            error(deep),
        ),
        case(
            "100,000 parentheses",
            format!("SELECT {}1{};", "(".repeat(100_000), ")".repeat(100_000)).into_bytes(),
            error(deep),
        ),
        case(
            "200 nested abs()",
            format!("SELECT {}1{};", "abs(".repeat(200), ")".repeat(200)).into_bytes(),
            error(deep),
        ),
        case(
            "200 nested subqueries",
            format!(
                "SELECT * FROM {}cpu{};",
                "(SELECT * FROM ".repeat(200),
                ")".repeat(200)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "1,000 nested CASE",
            format!(
                "SELECT {}1{};",
                "CASE WHEN true THEN ".repeat(1000),
                " END".repeat(1000)
            )
            .into_bytes(),
            error(""),
        ),
        case(
            "200-term sum of a column",
            format!("SELECT {} AS s FROM cpu;", chain("n", " + ", 200)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "2,000-term sum (overflowed the stack)",
            format!("SELECT {};", chain("1", " + ", 2_000)).into_bytes(),
            error(deep),
        ),
        case(
            "100,000-term sum",
            format!("SELECT {};", chain("1", "+", 100_000)).into_bytes(),
            error(deep),
        ),
        case(
            "1,000-term column sum in WHERE (overflowed a worker)",
            format!(
                "SELECT count(*) FROM cpu WHERE {} > 0;",
                chain("n", " + ", 1_000)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "10,000 ANDs",
            format!(
                "SELECT count(*) FROM cpu WHERE {};",
                chain("usage > 0", " AND ", 10_000)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "200 ORs",
            format!(
                "SELECT count(*) FROM cpu WHERE {};",
                ors[..200].join(" OR ")
            )
            .into_bytes(),
            Expect::Ok,
        ),
        case(
            "10,000 ORs",
            format!("SELECT count(*) FROM cpu WHERE {};", ors.join(" OR ")).into_bytes(),
            error(deep),
        ),
        case(
            "600-term string concatenation",
            format!("SELECT {} FROM cpu;", chain("note", " || ", 600)).into_bytes(),
            error(deep),
        ),
        case(
            "10,000 unary minus",
            format!("SELECT {}1;", "-".repeat(10_000)).into_bytes(),
            error(""),
        ),
        case(
            "10,000 NOT",
            format!("SELECT {}true;", "NOT ".repeat(10_000)).into_bytes(),
            error(""),
        ),
        case(
            "IN list of 20,000",
            format!(
                "SELECT count(*) FROM cpu WHERE host IN ({});",
                list.join(",")
            )
            .into_bytes(),
            Expect::Ok,
        ),
        case(
            "deeply nested INSERT value",
            format!(
                "INSERT INTO cpu (host, ts) VALUES ('q', {}1{});",
                "(".repeat(500),
                ")".repeat(500)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "deeply nested DEFAULT",
            format!(
                "CREATE TABLE dn (ts TIMESTAMP TIME INDEX, v BIGINT DEFAULT {}1{});",
                "(".repeat(5_000),
                ")".repeat(5_000)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "long DEFAULT chain",
            format!(
                "CREATE TABLE dn (ts TIMESTAMP TIME INDEX, v BIGINT DEFAULT {});",
                chain("1", " + ", 5_000)
            )
            .into_bytes(),
            error(deep),
        ),
        case(
            "1,000,000-digit number",
            format!("SELECT {};", "9".repeat(1_000_000)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "1,000,000-character alias",
            format!("SELECT 1 AS {};", "a".repeat(1_000_000)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "1,000,000-character table name",
            format!("SELECT * FROM \"{}\";", "a".repeat(1_000_000)).into_bytes(),
            error("not found"),
        ),
        case(
            "1,000 columns in VALUES",
            format!("SELECT * FROM (VALUES ({}));", chain("1", ",", 1_000)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "200 UNION ALL",
            format!("{};", chain("SELECT 1", " UNION ALL ", 200)).into_bytes(),
            Expect::Ok,
        ),
        case(
            "NUL in a string",
            b"SELECT 'a\0b' AS s;".to_vec(),
            Expect::Ok,
        ),
        case("bare NUL", b"SELECT\0 1;".to_vec(), error("")),
        case(
            "NUL in an identifier",
            b"SELECT * FROM cp\0u;".to_vec(),
            error(""),
        ),
        case(
            "huge interval",
            format!("SELECT INTERVAL '{} seconds';", "9".repeat(100)).into_bytes(),
            error(""),
        ),
        case(
            "huge timestamp literal",
            format!("SELECT TIMESTAMP '{}-01-01';", "9".repeat(100)).into_bytes(),
            error(""),
        ),
        case(
            "regex of 10,000 alternatives",
            format!("SELECT regexp_like('a', '{}');", "(a|b)".repeat(10_000)).into_bytes(),
            Expect::Ok,
        ),
    ];
    // 10 MB values: csv, so the check is not of table rendering (issue #8, another change).
    let mut big = case(
        "10 MB string literal",
        format!("SELECT length('{}') AS l;", "x".repeat(10_000_000)).into_bytes(),
        Expect::Ok,
    );
    big.args = vec!["--format", "csv"];
    big.stdout_contains = Some("10000000");
    cases.push(big);
    let mut big = case(
        "10 MB repeat()",
        b"SELECT length(repeat('x', 10000000)) AS l;".to_vec(),
        Expect::Ok,
    );
    big.args = vec!["--format", "csv"];
    big.stdout_contains = Some("10000000");
    cases.push(big);
    // Invalid UTF-8: the statement holding it is skipped, the shell goes on.
    let mut utf8 = case(
        "invalid UTF-8 in a string, then a good statement",
        b"SELECT '\xff\xfe' AS bad;\nSELECT 'after' AS step;\n".to_vec(),
        error("not valid utf-8"),
    );
    utf8.stdout_contains = Some("after");
    cases.push(utf8);
    let mut utf8 = case(
        "invalid UTF-8 inside a multi-line INSERT",
        b"INSERT INTO cpu (host, ts)\nVALUES ('\xff', 99000);\nSELECT 'after' AS step;\n".to_vec(),
        error("not valid utf-8"),
    );
    utf8.stdout_contains = Some("after");
    cases.push(utf8);
    let mut utf8 = case(
        "invalid UTF-8 on the line before the rest of a DELETE",
        b"EXPLAIN \xff\nDELETE FROM cpu;\nSELECT 'after' AS step;\n".to_vec(),
        error("not valid utf-8"),
    );
    utf8.stdout_contains = Some("after");
    cases.push(utf8);
    cases.push(case(
        "invalid UTF-8 in a dot command",
        b".mode \xff\n".to_vec(),
        error("not valid utf-8"),
    ));
    cases
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the shell on `data` with `case.input` on stdin; `None` if it hung.
fn run_shell(data: &Path, case: &Case) -> Option<Run> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"))
        .arg(data)
        .args(&case.args)
        .current_dir(manifest_dir())
        .env("XDG_STATE_HOME", data.with_extension("state"))
        .env_remove("TSDB_HISTORY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tsdb-shell");
    let mut stdin = child.stdin.take().unwrap();
    let input = case.input.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    if rx.recv_timeout(HANG_TIMEOUT).is_err() {
        // Kill the hung process (by its pid; it is our child) so the test can report.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        let _ = waiter.join();
        return None;
    }
    let status = waiter.join().unwrap().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    let code = status.code().unwrap_or_else(|| {
        panic!(
            "{}: killed by a signal ({status}); stderr:\n{stderr}",
            case.name
        )
    });
    Some(Run {
        code,
        stdout,
        stderr,
    })
}

fn check_shell_run(case: &Case, run: &Run) -> Result<(), String> {
    let context = || {
        format!(
            "{}: exit {}\nstderr: {}\nstdout: {}",
            case.name,
            run.code,
            truncate(&run.stderr),
            truncate(&run.stdout)
        )
    };
    if run.stderr.contains("panicked") || run.stderr.contains("overflowed its stack") {
        return Err(format!("panic: {}", context()));
    }
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("Error: "))
        .collect();
    match &case.expect {
        Expect::Ok if run.code != 0 || !errors.is_empty() => {
            return Err(format!("expected success: {}", context()));
        }
        Expect::Error(text) => {
            if run.code != 1 || errors.is_empty() {
                return Err(format!("expected an error: {}", context()));
            }
            if !errors.iter().any(|line| line.to_lowercase().contains(text)) {
                return Err(format!(
                    "expected an error containing '{text}': {}",
                    context()
                ));
            }
        }
        Expect::Ok => {}
    }
    if let Some(text) = case.stdout_contains
        && !run.stdout.contains(text)
    {
        return Err(format!("stdout lacks '{text}': {}", context()));
    }
    Ok(())
}

fn truncate(text: &str) -> String {
    let mut end = text.len().min(600);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn seed(data: &Path) {
    let db = Database::open(data).await.unwrap();
    for sql in SEED {
        db.execute(sql).await.unwrap();
    }
    db.close().await.unwrap();
}

/// The table's rows as text, and the table names.
async fn content(db: &Database) -> (String, Vec<String>) {
    let rows = match db.execute(CONTENT).await.unwrap() {
        Output::Records { batches, .. } => arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string(),
        Output::AffectedRows(_) => panic!("expected rows"),
    };
    (rows, db.catalog().table_names())
}

async fn content_of(data: &Path) -> (String, Vec<String>) {
    let db = Database::open(data).await.unwrap();
    let content = content(&db).await;
    db.close().await.unwrap();
    content
}

#[test]
fn hostile_input_through_the_shell_never_panics_hangs_or_changes_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    rt.block_on(seed(&data));
    let before = rt.block_on(content_of(&data));
    assert!(before.0.contains("five"), "{}", before.0);

    let cases: Vec<Case> = corpus().into_iter().chain(generated()).collect();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match run_shell(&data, case) {
            None => failures.push(format!(
                "{}: hung (killed after {HANG_TIMEOUT:?})",
                case.name
            )),
            Some(run) => {
                if let Err(failure) = check_shell_run(case, &run) {
                    failures.push(failure);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    let after = rt.block_on(content_of(&data));
    assert_eq!(after, before, "the corpus changed the database");
}

#[test]
fn hostile_sql_through_the_library_never_panics_or_changes_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    rt.block_on(seed(&data));
    let before = rt.block_on(content_of(&data));
    // COPY reads paths relative to the working directory, as the shell's do.
    std::env::set_current_dir(manifest_dir()).unwrap();

    let db = std::sync::Arc::new(rt.block_on(Database::open(&data)).unwrap());
    let mut failures = Vec::new();
    let cases: Vec<Case> = corpus()
        .into_iter()
        .chain(generated())
        .filter(|case| !case.input.starts_with(b"."))
        .collect();
    for case in &cases {
        let Ok(text) = std::str::from_utf8(&case.input) else {
            continue; // invalid UTF-8 cannot reach the &str API
        };
        let statements = match tsdb::sql::split_statements(text) {
            Ok(statements) => statements,
            Err(err) => {
                if matches!(case.expect, Expect::Ok) {
                    failures.push(format!("{}: split failed: {err}", case.name));
                }
                continue;
            }
        };
        let mut errors = Vec::new();
        for statement in statements {
            let db = db.clone();
            // A panic inside the statement surfaces as the task's JoinError.
            let joined =
                rt.block_on(rt.spawn(async move { db.execute(&statement).await.map(|_| ()) }));
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(err)) => errors.push(err.to_string().to_lowercase()),
                Err(join) => failures.push(format!("{}: panicked: {join}", case.name)),
            }
        }
        match &case.expect {
            Expect::Ok if !errors.is_empty() => {
                failures.push(format!("{}: expected success, got {errors:?}", case.name));
            }
            Expect::Error(text) if !errors.iter().any(|e| e.contains(text.as_str())) => {
                failures.push(format!(
                    "{}: expected an error containing '{text}', got {errors:?}",
                    case.name
                ));
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let during = rt.block_on(content(&db));
    assert_eq!(during, before, "the corpus changed the open database");
    let db = std::sync::Arc::into_inner(db).unwrap();
    rt.block_on(db.close()).unwrap();
    assert_eq!(
        rt.block_on(content_of(&data)),
        before,
        "and after reopening"
    );
}
