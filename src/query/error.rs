//! Errors of the query layer and their conversion to and from [`DataFusionError`].
//!
//! Engine and query errors cross DataFusion as `DataFusionError::External`; [`unwrap_external`]
//! recovers them on the way out so the user sees our message, not DataFusion's wrapping.

use arrow::datatypes::DataType;
use datafusion::error::DataFusionError;

/// Errors raised by tsdb's DataFusion integration (table provider, scan, sinks).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `SET time_zone` with a value that is neither an offset nor a known zone name.
    #[error(
        "Invalid time zone '{value}': expected an offset such as '+08:00', a zone name such \
         as 'Europe/Berlin', 'UTC' or 'SYSTEM'"
    )]
    InvalidTimeZone { value: String },

    /// A row to insert has no time index value.
    #[error("time index column '{column}' of table '{table}' cannot be NULL")]
    NullTimeIndex { table: String, column: String },

    /// A timestamp cannot be represented as a date (beyond about ±262,000 years).
    #[error("timestamp {value} in column '{column}' of table '{table}' is out of range")]
    TimestampOutOfRange {
        table: String,
        column: String,
        value: i64,
    },

    /// A column marked NOT NULL received a NULL.
    #[error("column '{column}' of table '{table}' is NOT NULL but a NULL was inserted")]
    NullInNotNullColumn { table: String, column: String },

    /// An inserted column could not be converted to the column's type.
    #[error("cannot convert column '{column}' of table '{table}' from {from} to {to}: {source}")]
    Cast {
        table: String,
        column: String,
        from: Box<DataType>,
        to: Box<DataType>,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// Rows could not be assembled into a batch of the table's schema.
    #[error("cannot build rows for table '{table}': {source}")]
    Batch {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// The input of an INSERT lacks a column of the table.
    #[error("INSERT into '{table}' has no value for column '{column}'")]
    MissingColumn { table: String, column: String },

    /// A column's stored DEFAULT expression does not parse or plan.
    #[error("invalid DEFAULT for column '{column}' of table '{table}' ({default}): {source}")]
    InvalidDefault {
        table: String,
        column: String,
        default: String,
        #[source]
        source: Box<DataFusionError>,
    },

    /// The storage engine failed.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
}

/// Result of query-layer operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// Wraps an engine error for DataFusion.
pub fn engine_to_datafusion(e: crate::engine::Error) -> DataFusionError {
    DataFusionError::External(Box::new(Error::Engine(e)))
}

/// Either one of our errors that went through DataFusion, or DataFusion's own.
#[derive(Debug)]
pub enum Unwrapped {
    /// A [`Error`] raised inside a plan.
    Query(Error),
    /// Any other DataFusion error (kept whole, with its context).
    DataFusion(DataFusionError),
    /// One of our errors that is still shared with another owner: its message.
    Message(String),
}

/// Looks through DataFusion's `Context`, `Shared` and `External` wrappers for one of our
/// errors; returns DataFusion's error unchanged if there is none.
pub fn unwrap_external(e: DataFusionError) -> Unwrapped {
    if !contains_ours(&e) {
        return Unwrapped::DataFusion(e);
    }
    let mut current = e;
    loop {
        current = match current {
            DataFusionError::Context(_, inner) => *inner,
            DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
                Ok(inner) => inner,
                // Another owner (e.g. a sibling partition) still holds it: keep our message.
                Err(shared) => {
                    return match find_ours(&shared) {
                        Some(ours) => Unwrapped::Message(ours.to_string()),
                        None => Unwrapped::DataFusion(DataFusionError::Shared(shared)),
                    };
                }
            },
            DataFusionError::External(boxed) => match boxed.downcast::<Error>() {
                Ok(ours) => return Unwrapped::Query(*ours),
                Err(other) => match other.downcast::<DataFusionError>() {
                    Ok(inner) => *inner,
                    Err(other) => return Unwrapped::DataFusion(DataFusionError::External(other)),
                },
            },
            other => return Unwrapped::DataFusion(other),
        };
    }
}

/// Our error inside `e`, if any, by reference.
fn find_ours(e: &DataFusionError) -> Option<&Error> {
    match e {
        DataFusionError::Context(_, inner) => find_ours(inner),
        DataFusionError::Shared(inner) => find_ours(inner),
        DataFusionError::External(boxed) => boxed
            .downcast_ref::<Error>()
            .or_else(|| boxed.downcast_ref::<DataFusionError>().and_then(find_ours)),
        _ => None,
    }
}

/// Whether `e` wraps one of our errors (checked first so nothing is unwrapped needlessly).
fn contains_ours(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::Context(_, inner) => contains_ours(inner),
        DataFusionError::Shared(inner) => contains_ours(inner),
        DataFusionError::External(boxed) => {
            boxed.is::<Error>()
                || boxed
                    .downcast_ref::<DataFusionError>()
                    .is_some_and(contains_ours)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_error_survives_context_wrapping() {
        let ours = Error::NullTimeIndex {
            table: "t".into(),
            column: "ts".into(),
        };
        let wrapped = DataFusionError::from(ours).context("DELETE operation on table 't'");
        match unwrap_external(wrapped) {
            Unwrapped::Query(e) => {
                assert_eq!(
                    e.to_string(),
                    "time index column 'ts' of table 't' cannot be NULL"
                )
            }
            other => panic!("not unwrapped: {other:?}"),
        }
        let plain = DataFusionError::Plan("nope".into());
        assert!(matches!(unwrap_external(plain), Unwrapped::DataFusion(_)));
    }

    #[test]
    fn our_error_still_shared_keeps_its_message() {
        let ours = DataFusionError::from(Error::NullTimeIndex {
            table: "t".into(),
            column: "ts".into(),
        });
        let shared = std::sync::Arc::new(ours);
        let _sibling = shared.clone();
        match unwrap_external(DataFusionError::Shared(shared)) {
            Unwrapped::Message(m) => {
                assert_eq!(m, "time index column 'ts' of table 't' cannot be NULL")
            }
            other => panic!("not unwrapped: {other:?}"),
        }
    }
}
