//! The library's top-level error: what [`crate::Database`] returns. Every `Display` is one
//! line naming the problem (the shell prints `Error: {e}`).

use std::path::PathBuf;

use datafusion::error::DataFusionError;

use crate::query::error::{Unwrapped, unwrap_external};

/// Errors returned by [`crate::Database`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Storage engine failure.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    /// A failure of ours raised inside a running query plan, reported by its message (the
    /// typed error is still shared with another part of the plan).
    #[error("{message}")]
    Execution { message: String },

    /// Query planning or execution failure reported by DataFusion.
    #[error(transparent)]
    DataFusion(Box<DataFusionError>),

    /// The SQL text does not parse or is not valid tsdb SQL.
    #[error(transparent)]
    Sql(#[from] crate::sql::Error),

    /// Catalog failure (damaged or unwritable catalog file, invalid table definition).
    #[error(transparent)]
    Catalog(crate::catalog::Error),

    /// A failure inside tsdb's query layer (e.g. a NULL time index on INSERT).
    #[error(transparent)]
    Query(crate::query::Error),

    /// No table has this name.
    #[error("Table not found: {name}")]
    TableNotFound { name: String },

    /// A table with this name exists.
    #[error("Table already exists: {name}")]
    TableAlreadyExists { name: String },

    /// Another process has the data directory open.
    #[error("data directory {} is locked by another process", path.display())]
    Locked { path: PathBuf },

    /// A local file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A statement is valid SQL but cannot be applied to its target.
    #[error("{statement}: {reason}")]
    Unsupported {
        statement: &'static str,
        reason: String,
    },
}

/// Result of library operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<DataFusionError> for Error {
    /// Recovers tsdb's own errors that travelled through DataFusion as `External`.
    fn from(e: DataFusionError) -> Self {
        match unwrap_external(e) {
            Unwrapped::Query(q) => Error::from(q),
            Unwrapped::DataFusion(e) => Error::DataFusion(Box::new(e)),
            Unwrapped::Message(message) => Error::Execution { message },
        }
    }
}

impl From<crate::query::Error> for Error {
    fn from(e: crate::query::Error) -> Self {
        match e {
            crate::query::Error::Engine(e) => Error::Engine(e),
            other => Error::Query(other),
        }
    }
}

impl From<crate::catalog::Error> for Error {
    fn from(e: crate::catalog::Error) -> Self {
        match e {
            crate::catalog::Error::TableExists { name } => Error::TableAlreadyExists { name },
            crate::catalog::Error::TableNotFound { name } => Error::TableNotFound { name },
            crate::catalog::Error::Engine(e) => Error::Engine(e),
            other => Error::Catalog(other),
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::DataFusion(Box::new(DataFusionError::ArrowError(Box::new(e), None)))
    }
}
