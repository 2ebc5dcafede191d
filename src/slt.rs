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
use crate::engine::options::{Clock, ManualClock, SystemClock};

/// Same layout as the shell's CSV/table output.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A [`Database`] as a sqllogictest connection. Clones share the database, so `connection`
/// records in a file see the same data.
///
/// Besides SQL, a `statement ok` record may hold one of these directives (files run by
/// [`run_slt_file`] only):
/// - `.restart`: closes the database and opens it again from its directory (WAL replay,
///   manifests, catalog), as a process restart would;
/// - `.clock set 2024-01-01T00:00:00Z` / `.clock advance 2h`: moves the engine's clock
///   (TTL expiry is measured against it; it starts at the wall-clock time and survives
///   `.restart`). SQL's `now()` keeps the wall clock.
#[derive(Clone)]
pub struct SltDatabase {
    slot: Arc<Slot>,
}

struct Slot {
    db: tokio::sync::RwLock<Option<Arc<Database>>>,
    /// How to open the database again (`.restart`).
    reopen: Option<crate::engine::EngineOptions>,
    /// The engine's clock (`.clock`).
    clock: Option<Arc<ManualClock>>,
}

impl SltDatabase {
    /// Wraps an open database (no `.restart` or `.clock` directives).
    pub fn new(db: Database) -> SltDatabase {
        Self::from_shared(Arc::new(db))
    }

    /// Wraps a shared database (no `.restart` or `.clock` directives).
    pub fn from_shared(db: Arc<Database>) -> SltDatabase {
        SltDatabase {
            slot: Arc::new(Slot {
                db: tokio::sync::RwLock::new(Some(db)),
                reopen: None,
                clock: None,
            }),
        }
    }

    /// The wrapped database (`None` after a failed `.restart`).
    pub async fn database(&self) -> Option<Arc<Database>> {
        self.slot.db.read().await.clone()
    }

    /// Runs a `.restart` or `.clock` directive.
    async fn directive(&self, text: &str) -> Result<(), SltError> {
        let bad = |m: String| SltError::Directive(m);
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some(".restart"), None) => {
                let options = self.slot.reopen.clone().ok_or_else(|| {
                    bad(".restart needs a database opened by run_slt_file".into())
                })?;
                let mut slot = self.slot.db.write().await;
                if let Some(db) = slot.take() {
                    let db = Arc::try_unwrap(db)
                        .map_err(|_| bad(".restart while another statement runs".into()))?;
                    db.close().await?;
                }
                *slot = Some(Arc::new(Database::open_with(options).await?));
                Ok(())
            }
            (Some(".clock"), Some(action)) => {
                let clock =
                    self.slot.clock.as_ref().ok_or_else(|| {
                        bad(".clock needs a database opened by run_slt_file".into())
                    })?;
                let arg: Vec<&str> = words.collect();
                let arg = arg.join(" ");
                match action {
                    "set" => {
                        let at = chrono::DateTime::parse_from_rfc3339(arg.trim())
                            .map_err(|e| bad(format!(".clock set '{arg}': {e}")))?;
                        clock.set(at.timestamp_millis());
                    }
                    "advance" => {
                        let by = humantime::parse_duration(arg.trim())
                            .map_err(|e| bad(format!(".clock advance '{arg}': {e}")))?;
                        clock.advance(by);
                    }
                    other => return Err(bad(format!("unknown .clock action '{other}'"))),
                }
                Ok(())
            }
            _ => Err(bad(format!(
                "unknown directive '{text}' (known: .restart, .clock set <RFC 3339>, \
                 .clock advance <duration>)"
            ))),
        }
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
    /// A `.restart` / `.clock` directive failed or is unknown.
    #[error("directive: {0}")]
    Directive(String),
}

#[async_trait]
impl sqllogictest::AsyncDB for SltDatabase {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let text = sql.trim();
        if text.starts_with('.') {
            self.directive(text).await?;
            return Ok(DBOutput::StatementComplete(0));
        }
        let db = self
            .database()
            .await
            .ok_or_else(|| SltError::Directive("the database is closed".into()))?;
        match db.execute(sql).await? {
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

/// Opens (or creates) the database in `db_dir`, runs the sqllogictest file `path` against it,
/// and closes the database. Stops at the first failing record.
pub async fn run_slt_file(
    db_dir: impl AsRef<Path>,
    path: impl AsRef<Path>,
) -> Result<(), RunError> {
    let db_dir = db_dir.as_ref();
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let mut options = crate::engine::EngineOptions::new(db_dir);
    options.clock = clock.clone();
    let db = Database::open_with(options.clone())
        .await
        .map_err(|source| RunError::Open {
            path: db_dir.display().to_string(),
            source,
        })?;
    let connection = SltDatabase {
        slot: Arc::new(Slot {
            db: tokio::sync::RwLock::new(Some(Arc::new(db))),
            reopen: Some(options),
            clock: Some(clock),
        }),
    };
    let result = {
        let for_runner = connection.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let db = for_runner.clone();
            async move { Ok(db) }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        let result = runner.run_file_async(path.as_ref()).await;
        runner.shutdown_async().await;
        result
    };
    // The runner and its connections are gone, so this is the last reference.
    let db = connection.slot.db.write().await.take();
    if let Some(db) = db
        && let Ok(db) = Arc::try_unwrap(db)
    {
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
