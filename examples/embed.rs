//! Embedding tsdb in a Rust program: open a database directory, create a table, write rows,
//! query them, then close and reopen the directory to see that the rows survived.
//!
//! ```text
//! cargo run --example embed                    # uses a temporary directory
//! cargo run --example embed -- ./example-data  # uses (and keeps) ./example-data
//! ```
//!
//! Running it twice against the same directory prints the same results: the INSERTs write
//! the same row identities `(host, ts)` again, and a later write of an identity replaces the
//! earlier one.

use std::path::PathBuf;

use arrow::util::pretty::pretty_format_batches;
use tsdb::{Database, Output};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the temporary directory alive until the end of `main`.
    let temp = tempfile::tempdir()?;
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => temp.path().join("db"),
    };
    println!("database directory: {}", dir.display());

    let db = Database::open(&dir).await?;

    // GreptimeDB's dialect: tags are the PRIMARY KEY, one TIMESTAMP column is the TIME INDEX,
    // everything else is a field.
    db.execute(
        "CREATE TABLE IF NOT EXISTS cpu (
            host STRING,
            ts TIMESTAMP TIME INDEX,
            usage_user DOUBLE,
            usage_system DOUBLE,
            PRIMARY KEY (host)
        )",
    )
    .await?;

    // `execute` runs one statement; `execute_script` runs several, stopping at the first error.
    let outputs = db
        .execute_script(
            "INSERT INTO cpu VALUES
                ('web-1', '2024-05-01T00:00:00Z', 12.5, 3.0),
                ('web-1', '2024-05-01T00:00:10Z', 14.0, 3.5),
                ('web-1', '2024-05-01T00:00:20Z', 80.0, 9.0),
                ('web-2', '2024-05-01T00:00:00Z', 55.0, 7.5),
                ('web-2', '2024-05-01T00:00:10Z', 57.5, 8.0);
             -- Same identity (web-1, 00:00:20) as above: this replaces the 80.0 reading.
             INSERT INTO cpu VALUES ('web-1', '2024-05-01T00:00:20Z', 18.0, 4.0);",
        )
        .await?;
    for output in outputs {
        if let Output::AffectedRows(rows) = output {
            println!("inserted {rows} row(s)");
        }
    }

    let summary = "SELECT host, count(*) AS samples, round(avg(usage_user), 2) AS avg_user, \
                          max(usage_user) AS max_user
                   FROM cpu
                   WHERE ts >= '2024-05-01T00:00:00Z' AND ts < '2024-05-01T01:00:00Z'
                   GROUP BY host
                   ORDER BY host";
    println!("\nper-host summary:");
    print(db.execute(summary).await?)?;

    // Every acknowledged statement is already durable in the WAL; `close` stops background
    // work and releases the directory lock so that the directory can be opened again.
    db.close().await?;

    let db = Database::open(&dir).await?;
    println!("\nafter reopening, tables: {:?}", db.table_names());
    print(db.execute("SELECT * FROM cpu ORDER BY host, ts").await?)?;
    db.close().await?;
    Ok(())
}

/// Prints a result set as a table, or the number of affected rows.
fn print(output: Output) -> Result<(), Box<dyn std::error::Error>> {
    match output {
        Output::Records { batches, .. } => println!("{}", pretty_format_batches(&batches)?),
        Output::AffectedRows(rows) => println!("{rows} row(s) affected"),
    }
    Ok(())
}
