//! Runs every `sql-tests/*.slt` file, each against a fresh data directory, and reports every
//! failing file (not only the first).
//!
//! `SLT_FILTER=query cargo test --test sqllogictest` runs only files whose name contains `query`.

use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tests() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql-tests");
    let filter = std::env::var("SLT_FILTER").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "slt"))
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            filter.as_deref().is_none_or(|filter| name.contains(filter))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", root.display());

    let mut failures = Vec::new();
    for file in &files {
        let dir = tempfile::tempdir().unwrap();
        match tsdb::slt::run_slt_file(dir.path(), file).await {
            Ok(()) => eprintln!("ok      {}", file.display()),
            Err(err) => {
                eprintln!("FAILED  {}\n{err}", file.display());
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} sqllogictest file(s) failed: {}",
        failures.len(),
        files.len(),
        failures.join(", ")
    );
}
