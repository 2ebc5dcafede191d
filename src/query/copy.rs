//! GreptimeDB's `COPY`: export a table or query to a CSV, Parquet or newline-delimited JSON
//! file (`COPY ... TO`), and load such a file into a table (`COPY ... FROM`).
//!
//! Options (`WITH (k = 'v', ...)`, keys case-insensitive):
//! - `format`: `csv`, `parquet` or `json`; default from the file extension (`.csv`,
//!   `.parquet`, `.json`/`.jsonl`/`.ndjson`).
//! - CSV only: `header` (`true`/`false`, default `true`), `delimiter` (one character,
//!   default `,`), and for `COPY FROM` `null_value` (a string read as NULL, e.g. `'NA'`).
//!
//! `COPY FROM` matches file columns to table columns by name (without a CSV header, by
//! position); table columns missing from the file get their DEFAULT (or NULL), file columns
//! the table lacks are an error. CSV is read as text and every column is cast to the table's
//! type, so types are exact. The rows are written by an `INSERT INTO t (..) SELECT ..` over
//! the file, i.e. the same path (and WAL durability) as INSERT; see
//! [`crate::Database`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::config::{CsvOptions, JsonOptions};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{
    CsvReadOptions, DataFrame, Expr, JsonReadOptions, ParquetReadOptions, SessionContext, cast,
    ident, lit, nullif,
};

use crate::error::{Error, Result};

/// A file format `COPY` reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON, one object per row.
    Json,
}

/// A `COPY` error: one line naming the problem.
fn err(reason: impl Into<String>) -> Error {
    Error::Unsupported {
        statement: "COPY",
        reason: reason.into(),
    }
}

/// Validated options of one `COPY`.
#[derive(Debug, Clone)]
struct Options {
    format: Format,
    header: bool,
    delimiter: u8,
    null_value: Option<String>,
}

/// The file's extension with its dot (`.csv`), or `""`.
fn extension(path: &str) -> String {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default()
}

fn parse_options(path: &str, options: &BTreeMap<String, String>, from: bool) -> Result<Options> {
    let format = match options.get("format") {
        Some(f) => match f.to_lowercase().as_str() {
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            "json" | "ndjson" | "jsonl" => Format::Json,
            other => {
                return Err(err(format!(
                    "unknown format '{other}'; supported: 'csv', 'parquet', 'json'"
                )));
            }
        },
        None => match extension(path).to_lowercase().as_str() {
            ".csv" => Format::Csv,
            ".parquet" => Format::Parquet,
            ".json" | ".jsonl" | ".ndjson" => Format::Json,
            _ => {
                return Err(err(format!(
                    "cannot tell the format of '{path}' from its extension; add \
                     WITH (FORMAT = 'csv'|'parquet'|'json')"
                )));
            }
        },
    };
    let mut parsed = Options {
        format,
        header: true,
        delimiter: b',',
        null_value: None,
    };
    for (key, value) in options {
        let csv_only = matches!(key.as_str(), "header" | "delimiter" | "null_value");
        if csv_only && format != Format::Csv {
            return Err(err(format!("option '{key}' applies to CSV files only")));
        }
        match key.as_str() {
            "format" => {}
            "header" => {
                parsed.header = match value.to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(err(format!(
                            "option 'header' must be 'true' or 'false', not '{value}'"
                        )));
                    }
                }
            }
            "delimiter" => {
                let bytes = value.as_bytes();
                if bytes.len() != 1 {
                    return Err(err(format!(
                        "option 'delimiter' must be a single ASCII character, not '{value}'"
                    )));
                }
                parsed.delimiter = bytes[0];
            }
            "null_value" if from => parsed.null_value = Some(value.clone()),
            _ => {
                let supported = if from {
                    "format, header, delimiter, null_value"
                } else {
                    "format, header, delimiter"
                };
                return Err(err(format!(
                    "unknown option '{key}' for COPY {}; supported: {supported}",
                    if from { "FROM" } else { "TO" }
                )));
            }
        }
    }
    Ok(parsed)
}

/// Writes `df` to the single file `path`; returns the number of rows written.
///
/// # Errors
/// Invalid options, or a DataFusion error while writing.
pub async fn copy_to(df: DataFrame, path: &str, options: &BTreeMap<String, String>) -> Result<u64> {
    let options = parse_options(path, options, false)?;
    let write = DataFrameWriteOptions::new().with_single_file_output(true);
    let batches = match options.format {
        Format::Csv => {
            let csv = CsvOptions {
                has_header: Some(options.header),
                delimiter: options.delimiter,
                ..Default::default()
            };
            df.write_csv(path, write, Some(csv)).await?
        }
        Format::Parquet => df.write_parquet(path, write, None).await?,
        Format::Json => {
            df.write_json(path, write, Some(JsonOptions::default()))
                .await?
        }
    };
    crate::database::sum_counts(&batches)
}

/// Reads the file `path` as rows for a table with schema `table_schema` (time index
/// `time_index`): returns the names of the columns present in the file (in file order) and a
/// DataFrame producing them, cast to the table's types.
///
/// # Errors
/// A missing file, invalid options, file columns the table lacks, a file without the time
/// index, or a DataFusion error while reading the file's schema.
pub async fn read_for_table(
    ctx: &SessionContext,
    table: &str,
    table_schema: &SchemaRef,
    time_index: &str,
    path: &str,
    options: &BTreeMap<String, String>,
) -> Result<(Vec<String>, DataFrame)> {
    let options = parse_options(path, options, true)?;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(err(format!("'{path}' is not a file"))),
        Err(e) => return Err(err(format!("cannot read '{path}': {e}"))),
    }
    let ext = extension(path);
    let df = match options.format {
        Format::Csv => {
            let read = CsvReadOptions::new()
                .has_header(options.header)
                .delimiter(options.delimiter)
                .file_extension(&ext);
            // Infer once for the column names, then read everything as text.
            let inferred = ctx.read_csv(path, read.clone()).await?;
            let file_names: Vec<String> = inferred
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let names = if options.header {
                file_names
            } else {
                if file_names.len() > table_schema.fields().len() {
                    return Err(err(format!(
                        "'{path}' has {} columns but table '{table}' has only {}",
                        file_names.len(),
                        table_schema.fields().len()
                    )));
                }
                table_schema
                    .fields()
                    .iter()
                    .take(file_names.len())
                    .map(|f| f.name().clone())
                    .collect()
            };
            let text = Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            );
            ctx.read_csv(path, read.schema(&text)).await?
        }
        Format::Parquet => {
            let read = ParquetReadOptions {
                file_extension: &ext,
                ..Default::default()
            };
            ctx.read_parquet(path, read).await?
        }
        Format::Json => {
            let read = JsonReadOptions {
                file_extension: &ext,
                ..Default::default()
            };
            ctx.read_json(path, read).await?
        }
    };

    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| table_schema.field_with_name(n).is_err())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(err(format!(
            "'{path}' has columns that table '{table}' lacks: {}",
            unknown.join(", ")
        )));
    }
    if !names.iter().any(|n| n == time_index) {
        return Err(err(format!(
            "'{path}' has no column '{time_index}', the time index of table '{table}'"
        )));
    }
    let exprs = names
        .iter()
        .map(|name| {
            let field = table_schema.field_with_name(name)?;
            let mut expr = ident(name);
            if let Some(null) = &options.null_value {
                expr = nullif(expr, lit(null.clone()));
            }
            Ok(cast(expr, field.data_type().clone()).alias(name))
        })
        .collect::<std::result::Result<Vec<Expr>, arrow::error::ArrowError>>()?;
    let df = df.select(exprs)?;
    Ok((names, df))
}

/// Bytes sampled from the start of a text file to estimate its row count.
const ROW_ESTIMATE_SAMPLE_BYTES: u64 = 64 * 1024;

/// An estimate of the data rows in the CSV or JSON-lines file `path` (for progress): the
/// file size divided by the mean line length in its first 64 KiB, exact for smaller files.
/// `None` for Parquet (its metadata has the exact count), or if the file cannot be read.
pub(crate) fn estimate_rows(path: &str, options: &BTreeMap<String, String>) -> Option<u64> {
    use std::io::Read;
    let options = parse_options(path, options, true).ok()?;
    if matches!(options.format, Format::Parquet) {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut sample = Vec::new();
    file.take(ROW_ESTIMATE_SAMPLE_BYTES)
        .read_to_end(&mut sample)
        .ok()?;
    let header = u64::from(matches!(options.format, Format::Csv) && options.header);
    let mut lines = sample.iter().filter(|&&b| b == b'\n').count() as u64;
    if sample.len() as u64 >= size {
        if sample.last().is_some_and(|&b| b != b'\n') {
            lines += 1;
        }
        return Some(lines.saturating_sub(header));
    }
    if lines == 0 {
        return None;
    }
    Some((size * lines / sample.len() as u64).saturating_sub(header))
}

/// Registers `df` under a fresh name for the duration of an `INSERT ... SELECT`.
pub(crate) struct TempView<'a> {
    ctx: &'a SessionContext,
    /// The registered name.
    pub(crate) name: String,
}

impl<'a> TempView<'a> {
    /// Registers `df` as a view with a name no user table has.
    pub(crate) fn register(ctx: &'a SessionContext, df: DataFrame) -> Result<TempView<'a>> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "__tsdb_copy_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let view: Arc<dyn datafusion::catalog::TableProvider> = df.into_view();
        ctx.register_table(
            datafusion::common::TableReference::bare(name.as_str()),
            view,
        )?;
        Ok(TempView { ctx, name })
    }
}

impl Drop for TempView<'_> {
    fn drop(&mut self) {
        let _ = self
            .ctx
            .deregister_table(datafusion::common::TableReference::bare(self.name.as_str()));
    }
}

/// `name` as a delimited SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array};

    use crate::{Database, Output};

    const WEATHER_TABLE: &str = "CREATE TABLE weather (origin STRING, year INT, month INT, \
        day INT, hour INT, temp DOUBLE, dewp DOUBLE, humid DOUBLE, wind_dir DOUBLE, \
        wind_speed DOUBLE, wind_gust DOUBLE, precip DOUBLE, pressure DOUBLE, visib DOUBLE, \
        time_hour TIMESTAMP TIME INDEX, PRIMARY KEY (origin))";

    fn weather_csv() -> String {
        format!("{}/examples/data/weather.csv", env!("CARGO_MANIFEST_DIR"))
    }

    async fn count(db: &Database, sql: &str) -> i64 {
        let Output::Records { batches, .. } = db.execute(sql).await.unwrap() else {
            panic!("{sql} returned no records");
        };
        let column = batches[0].column(0);
        let counts = column.as_any().downcast_ref::<Int64Array>().unwrap();
        counts.value(0)
    }

    #[tokio::test]
    async fn copy_from_weather_csv_with_null_value() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        db.execute(WEATHER_TABLE).await.unwrap();
        let sql = format!(
            "COPY weather FROM '{}' WITH (FORMAT = 'csv', NULL_VALUE = 'NA')",
            weather_csv()
        );
        let Output::AffectedRows(rows) = db.execute(&sql).await.unwrap() else {
            panic!("COPY returned records");
        };
        assert_eq!(rows, 26115);
        assert_eq!(count(&db, "SELECT count(*) FROM weather").await, 26115);
        // `NA` became NULL, not an error or a string.
        assert_eq!(
            count(&db, "SELECT count(*) FROM weather WHERE wind_gust IS NULL").await,
            26115 - 5337
        );
        db.close().await.unwrap();

        // Durable: the rows went through the WAL.
        let db = Database::open(dir.path()).await.unwrap();
        assert_eq!(count(&db, "SELECT count(*) FROM weather").await, 26115);
        db.close().await.unwrap();
    }

    #[tokio::test]
    async fn copy_from_weather_csv_without_null_value_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        db.execute(WEATHER_TABLE).await.unwrap();
        let sql = format!("COPY weather FROM '{}'", weather_csv());
        let err = db.execute(&sql).await.unwrap_err().to_string();
        assert!(err.contains("NA"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert_eq!(count(&db, "SELECT count(*) FROM weather").await, 0);
    }

    #[tokio::test]
    async fn csv_without_header_and_custom_delimiter() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("db")).await.unwrap();
        db.execute(
            "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, PRIMARY KEY (host))",
        )
        .await
        .unwrap();
        let file = dir.path().join("t.txt");
        std::fs::write(
            &file,
            "a;2020-01-01T00:00:00Z;1.5\nb;2020-01-01T00:00:01Z;-\n",
        )
        .unwrap();
        let sql = format!(
            "COPY t FROM '{}' WITH (format = 'CSV', header = 'false', delimiter = ';', null_value = '-')",
            file.display()
        );
        let Output::AffectedRows(rows) = db.execute(&sql).await.unwrap() else {
            panic!("COPY returned records");
        };
        assert_eq!(rows, 2);
        assert_eq!(count(&db, "SELECT count(v) FROM t").await, 1);

        let out = dir.path().join("out").join("t.csv");
        let sql = format!(
            "COPY t TO '{}' WITH (delimiter = '|', header = 'false')",
            out.display()
        );
        db.execute(&sql).await.unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("a|2020-01-01T00:00:00|1.5\n"), "{text}");
    }

    #[test]
    fn parses_copy_statements() {
        use crate::sql::Statement;
        use crate::sql::parse_statement;
        use crate::sql::statement::{CopySource, CopyStatement};

        let Statement::Copy(CopyStatement::To {
            source,
            path,
            options,
        }) = parse_statement(
            "copy table Cpu to '/x/y.csv' with (FORMAT = 'csv', 'Header' = 'false');",
        )
        .unwrap()
        else {
            panic!("not a COPY TO");
        };
        assert_eq!(source, CopySource::Table("cpu".into()));
        assert_eq!(path, "/x/y.csv");
        assert_eq!(options.get("format").map(String::as_str), Some("csv"));
        assert_eq!(options.get("header").map(String::as_str), Some("false"));

        let Statement::Copy(CopyStatement::To { source, .. }) =
            parse_statement("COPY (SELECT 'it''s' AS a) TO 'q.json'").unwrap()
        else {
            panic!("not a COPY TO");
        };
        let CopySource::Query(query) = source else {
            panic!("not a query");
        };
        assert!(query.contains("SELECT 'it''s' AS a"), "{query}");

        assert!(matches!(
            parse_statement("COPY public.t FROM 'f.parquet'").unwrap(),
            Statement::Copy(CopyStatement::From { table, .. }) if table == "t"
        ));
        // DataFusion's syntax is passed through.
        assert!(matches!(
            parse_statement("COPY t TO 'f' STORED AS CSV OPTIONS ('format.has_header' 'true')")
                .unwrap(),
            Statement::Query(_)
        ));
        for bad in [
            "COPY t INTO 'f.csv'",
            "COPY t TO f.csv",
            "COPY t TO 'f.csv' WITH (format 'csv')",
            "COPY t TO 'f.csv' WITH (a = 'b', a = 'c')",
            "COPY (SELECT 1) FROM 'f.csv'",
            "COPY t TO 'f.csv' extra",
        ] {
            assert!(parse_statement(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn row_estimates_for_text_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut text = String::from("host,ts,v\n");
        for i in 0..10_000 {
            text.push_str(&format!("host_{},{},{}.5\n", i % 7, 1_000 + i, i % 100));
        }
        std::fs::write(&path, &text).unwrap();
        let path = path.to_string_lossy().to_string();
        let estimate = super::estimate_rows(&path, &std::collections::BTreeMap::new()).unwrap();
        assert!((9_500..=10_500).contains(&estimate), "{estimate}");

        let small = dir.path().join("small.csv");
        std::fs::write(&small, "a,b\n1,2\n3,4").unwrap();
        let small = small.to_string_lossy().to_string();
        assert_eq!(
            super::estimate_rows(&small, &std::collections::BTreeMap::new()),
            Some(2)
        );
        let parquet =
            std::collections::BTreeMap::from([("format".to_string(), "parquet".to_string())]);
        assert_eq!(super::estimate_rows(&small, &parquet), None);
    }
}
