//! Times the TSBS queries on a tsdb data directory, in-process through `tsdb::Database`
//! (as the peers are driven in-process from Python), and records the result rows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use serde_json::{Value, json};
use tsdb::{Database, Output};

pub struct Options {
    pub data: PathBuf,
    pub queries: PathBuf,
    pub runs: usize,
    pub cold: bool,
    pub only: Vec<String>,
    pub out: PathBuf,
}

/// `-- name: X` followed by one statement ending in `;` -> `[(X, statement)]`.
pub fn load_queries(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut buf: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("-- name:") {
            name = Some(n.trim().to_string());
            buf.clear();
        } else if name.is_some() && !line.trim_start().starts_with("--") {
            buf.push(line);
            if line.trim_end().ends_with(';') {
                let sql = buf.join("\n").trim().trim_end_matches(';').to_string();
                out.push((name.take().unwrap_or_default(), sql));
                buf.clear();
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no queries in {}", path.display());
    Ok(out)
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs one query to completion; returns its batches and the elapsed milliseconds.
async fn timed(db: &Database, sql: &str) -> anyhow::Result<(Vec<RecordBatch>, f64)> {
    let start = Instant::now();
    let output = db.execute(sql).await?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    match output {
        Output::Records { batches, .. } => Ok((batches, ms)),
        Output::AffectedRows(_) => anyhow::bail!("query returned no result set"),
    }
}

/// One column as JSON values: numbers as f64, timestamps as epoch milliseconds, the rest as
/// strings; NULL (and NaN) as null.
fn column_values(array: &ArrayRef) -> anyhow::Result<Vec<Value>> {
    let n = array.len();
    let values = match array.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let ms = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
            let ints = cast(&ms, &DataType::Int64)?;
            let ints = ints.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| {
                    if ints.is_null(i) {
                        Value::Null
                    } else {
                        json!(ints.value(i))
                    }
                })
                .collect()
        }
        t if t.is_numeric() => {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| {
                    if floats.is_null(i) {
                        Value::Null
                    } else {
                        serde_json::Number::from_f64(floats.value(i))
                            .map_or(Value::Null, Value::Number)
                    }
                })
                .collect()
        }
        _ => {
            let strings = cast(array, &DataType::Utf8)?;
            let strings = strings.as_string::<i32>();
            (0..n)
                .map(|i| {
                    if strings.is_null(i) {
                        Value::Null
                    } else {
                        json!(strings.value(i))
                    }
                })
                .collect()
        }
    };
    Ok(values)
}

/// The result as `{columns, data: [[row values]]}`.
fn result_json(batches: &[RecordBatch]) -> anyhow::Result<(Vec<String>, Vec<Vec<Value>>)> {
    let mut columns = Vec::new();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for batch in batches {
        if columns.is_empty() {
            columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let cols: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(column_values)
            .collect::<anyhow::Result<_>>()?;
        for r in 0..batch.num_rows() {
            rows.push(cols.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok((columns, rows))
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let mut queries = load_queries(&opts.queries)?;
    if !opts.only.is_empty() {
        queries.retain(|(name, _)| opts.only.contains(name));
    }
    let mut results = serde_json::Map::new();
    let mut open_ms = Vec::new();
    let mut db = Some(Database::open(&opts.data).await?);
    for (name, sql) in &queries {
        let mut times = Vec::with_capacity(opts.runs);
        let mut last = Vec::new();
        let outcome: anyhow::Result<()> = async {
            if !opts.cold {
                let handle = db.as_ref().expect("database is open");
                timed(handle, sql).await?; // warm-up
                for _ in 0..opts.runs {
                    let (batches, ms) = timed(handle, sql).await?;
                    times.push(ms);
                    last = batches;
                }
            } else {
                for _ in 0..opts.runs {
                    // Restart: close and reopen the database, then time the first run.
                    if let Some(old) = db.take() {
                        old.close().await?;
                    }
                    let start = Instant::now();
                    db = Some(Database::open(&opts.data).await?);
                    open_ms.push(start.elapsed().as_secs_f64() * 1000.0);
                    let handle = db.as_ref().expect("database is open");
                    let (batches, ms) = timed(handle, sql).await?;
                    times.push(ms);
                    last = batches;
                }
            }
            Ok(())
        }
        .await;
        let entry = match outcome {
            Ok(()) => {
                let mut sorted = times.clone();
                sorted.sort_by(f64::total_cmp);
                let (columns, data) = result_json(&last)?;
                let mut entry = json!({
                    "median_ms": round3(median(&sorted)),
                    "min_ms": round3(sorted[0]),
                    "times_ms": times.iter().map(|t| round3(*t)).collect::<Vec<_>>(),
                    "rows": data.len(),
                });
                if !opts.cold {
                    entry["columns"] = json!(columns);
                    entry["data"] = json!(data);
                }
                eprintln!(
                    "  tsdb {:5} {name:24} median {:9.2} ms  min {:9.2} ms  rows {}",
                    if opts.cold { "cold" } else { "warm" },
                    median(&sorted),
                    sorted[0],
                    data.len()
                );
                entry
            }
            Err(e) => {
                let msg = format!("{e:#}");
                eprintln!("  tsdb {name:24} ERROR {msg}");
                json!({ "error": msg })
            }
        };
        results.insert(name.clone(), entry);
    }
    if let Some(handle) = db.take() {
        handle.close().await?;
    }
    let mut out = json!({
        "mode": if opts.cold { "cold" } else { "warm" },
        "runs": opts.runs,
        "queries": results,
    });
    if opts.cold {
        let mut sorted = open_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if !sorted.is_empty() {
            out["open_median_ms"] = json!(round3(median(&sorted)));
        }
    }
    std::fs::write(&opts.out, serde_json::to_string(&out)?)?;
    Ok(())
}
