//! sqllogictest driver over [`crate::Database`]: [`SltDatabase`] implements
//! [`sqllogictest::AsyncDB`], and [`run_slt_file`] runs one `.slt` file against a data directory.
//!
//! Value formatting (what `.slt` expectations must contain):
//! - NULL is `NULL`; the empty string is `(empty)`;
//! - integers and decimals print as-is; floats use Rust's shortest round-trip `Display`
//!   (`2` not `2.0`, `0.1`, `1e-7` is `0.0000001`), NaN is `NaN`, infinities `inf`/`-inf`;
//! - booleans `true`/`false`; timestamps ISO 8601 without a zone, `2013-01-01T06:00:00`, with a
//!   fraction only when it is non-zero (`2013-01-01T06:00:00.250`);
//! - column types: `T` text, `I` integer, `R` float/decimal, `?` anything else (timestamps,
//!   booleans, ...). Column types are checked strictly.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::database::{Database, Output};

/// Same layout as the shell's CSV/table output.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A [`Database`] as a sqllogictest connection. Clones share the database, so `connection`
/// records in a file see the same data.
#[derive(Clone)]
pub struct SltDatabase {
    db: Arc<Database>,
}

impl SltDatabase {
    /// Wraps an open database.
    pub fn new(db: Database) -> SltDatabase {
        SltDatabase { db: Arc::new(db) }
    }

    /// Wraps a shared database.
    pub fn from_shared(db: Arc<Database>) -> SltDatabase {
        SltDatabase { db }
    }

    /// The wrapped database.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }
}

/// Errors of [`SltDatabase::run`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SltError {
    /// The statement failed in the database.
    #[error(transparent)]
    Database(#[from] crate::Error),
    /// The result could not be formatted as text.
    #[error("cannot format the result: {0}")]
    Format(#[from] ArrowError),
}

#[async_trait]
impl sqllogictest::AsyncDB for SltDatabase {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        match self.db.execute(sql).await? {
            Output::AffectedRows(rows) => Ok(DBOutput::StatementComplete(rows)),
            Output::Records { schema, batches } => {
                let types = schema
                    .fields()
                    .iter()
                    .map(|field| column_type(field.data_type()))
                    .collect();
                let rows = format_rows(&batches)?;
                Ok(DBOutput::Rows { types, rows })
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "tsdb"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The sqllogictest type letter of an Arrow type.
pub fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => DefaultColumnType::FloatingPoint,
        DataType::Dictionary(_, value) => column_type(value),
        _ => DefaultColumnType::Any,
    }
}

/// Formats result rows as sqllogictest text (see the module docs for the conventions).
pub fn format_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, ArrowError> {
    let options = FormatOptions::new()
        .with_null("NULL")
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_display_error(false);
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let mut values = Vec::with_capacity(formatters.len());
            for (column, formatter) in batch.columns().iter().zip(&formatters) {
                values.push(format_value(column.as_ref(), formatter, row)?);
            }
            rows.push(values);
        }
    }
    Ok(rows)
}

fn format_value(
    column: &dyn Array,
    formatter: &ArrayFormatter<'_>,
    row: usize,
) -> Result<String, ArrowError> {
    if column.is_null(row) {
        return Ok(String::from("NULL"));
    }
    let text = match column.data_type() {
        DataType::Float64 => column.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Float32 => column.as_primitive::<Float32Type>().value(row).to_string(),
        DataType::Float16 => column.as_primitive::<Float16Type>().value(row).to_string(),
        _ => formatter.value(row).try_to_string()?,
    };
    Ok(if text.is_empty() {
        String::from("(empty)")
    } else {
        text
    })
}

/// Why [`run_slt_file`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The data directory could not be opened.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The data directory.
        path: String,
        /// The cause.
        source: crate::Error,
    },
    /// A record failed (the message names the file and line).
    #[error("{0}")]
    Test(Box<sqllogictest::TestError>),
    /// Closing the database failed after the file ran.
    #[error("cannot close database {path}: {source}")]
    Close {
        /// The data directory.
        path: String,
        /// The cause.
        source: crate::Error,
    },
}

/// The line that restarts the database in a `.slt` file (close, then open the same
/// directory again), like GreptimeDB's `-- SQLNESS ARG restart=true`: what follows runs
/// against the reopened database (catalog, manifests and WAL replayed from disk).
pub const RESTART_DIRECTIVE: &str = "restart";

/// Opens (or creates) the database in `db_dir`, runs the sqllogictest file `path` against it,
/// and closes the database. Stops at the first failing record. A line holding only
/// [`RESTART_DIRECTIVE`] closes and reopens the database at that point.
pub async fn run_slt_file(
    db_dir: impl AsRef<Path>,
    path: impl AsRef<Path>,
) -> Result<(), RunError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).ok();
    let segments = text.as_deref().map(split_restarts).unwrap_or_default();
    if segments.len() <= 1 {
        return run_segment(db_dir.as_ref(), Script::File(path)).await;
    }
    for segment in &segments {
        run_segment(db_dir.as_ref(), Script::Text(segment)).await?;
    }
    Ok(())
}

/// The parts of a `.slt` text between [`RESTART_DIRECTIVE`] lines, each padded with the
/// blank lines before it so that error messages keep the file's line numbers.
fn split_restarts(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim() == RESTART_DIRECTIVE {
            segments.push(std::mem::take(&mut current));
            current = "\n".repeat(number + 1);
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    segments.push(current);
    segments
}

enum Script<'a> {
    File(&'a Path),
    Text(&'a str),
}

async fn run_segment(db_dir: &Path, script: Script<'_>) -> Result<(), RunError> {
    let db = Database::open(db_dir)
        .await
        .map_err(|source| RunError::Open {
            path: db_dir.display().to_string(),
            source,
        })?;
    let shared = Arc::new(db);
    let result = {
        let for_runner = shared.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let db = for_runner.clone();
            async move { Ok(SltDatabase::from_shared(db)) }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        let result = match script {
            Script::File(path) => runner.run_file_async(path).await,
            Script::Text(text) => runner.run_script_async(text).await,
        };
        runner.shutdown_async().await;
        result
    };
    // The runner and its connections are gone, so this is the last reference.
    if let Ok(db) = Arc::try_unwrap(shared) {
        db.close().await.map_err(|source| RunError::Close {
            path: db_dir.display().to_string(),
            source,
        })?;
    }
    result.map_err(|err| RunError::Test(Box::new(err)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Float32Array, Float64Array, Int32Array, StringArray,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn restart_lines_split_the_file_and_keep_line_numbers() {
        let segments = split_restarts("statement ok\nSELECT 1\n\nrestart\nquery I\nSELECT 2\n");
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0], "statement ok\nSELECT 1\n\n");
        assert_eq!(segments[1], "\n\n\n\nquery I\nSELECT 2\n");
        assert_eq!(split_restarts("query I\nSELECT 1\n").len(), 1);
    }

    #[test]
    fn values_follow_the_slt_conventions() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
            Field::new("g", DataType::Float32, true),
            Field::new("i", DataType::Int32, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some(""), None, Some("a b")])),
                Arc::new(Float64Array::from(vec![Some(2.0), Some(0.1), None])),
                Arc::new(Float32Array::from(vec![Some(1.5), None, Some(f32::NAN)])),
                Arc::new(Int32Array::from(vec![Some(-3), None, Some(7)])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
                Arc::new(TimestampMillisecondArray::from(vec![
                    Some(1_357_020_000_000),
                    Some(1_357_020_000_250),
                    None,
                ])),
            ],
        )
        .unwrap();
        let rows = format_rows(&[batch]).unwrap();
        assert_eq!(
            rows[0],
            ["(empty)", "2", "1.5", "-3", "true", "2013-01-01T06:00:00"]
        );
        assert_eq!(
            rows[1],
            [
                "NULL",
                "0.1",
                "NULL",
                "NULL",
                "false",
                "2013-01-01T06:00:00.250"
            ]
        );
        assert_eq!(rows[2], ["a b", "NULL", "NaN", "7", "NULL", "NULL"]);
    }

    #[test]
    fn column_types() {
        assert_eq!(column_type(&DataType::Utf8), DefaultColumnType::Text);
        assert_eq!(column_type(&DataType::Utf8View), DefaultColumnType::Text);
        assert_eq!(column_type(&DataType::UInt64), DefaultColumnType::Integer);
        assert_eq!(
            column_type(&DataType::Float32),
            DefaultColumnType::FloatingPoint
        );
        assert_eq!(
            column_type(&DataType::Decimal128(10, 2)),
            DefaultColumnType::FloatingPoint
        );
        assert_eq!(column_type(&DataType::Boolean), DefaultColumnType::Any);
        assert_eq!(
            column_type(&DataType::Timestamp(TimeUnit::Millisecond, None)),
            DefaultColumnType::Any
        );
    }
}
