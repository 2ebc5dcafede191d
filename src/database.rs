//! The public API: open a database directory and execute SQL.
//! CONTRACT PLACEHOLDER: bodies are being written.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::Result;

/// What one statement produced.
#[derive(Debug, Clone)]
pub enum Output {
    /// A result set (SELECT, SHOW, DESC, EXPLAIN, ...). `batches` may be empty.
    Records {
        /// Schema of the result, also when there are no rows.
        schema: SchemaRef,
        /// The rows.
        batches: Vec<RecordBatch>,
    },
    /// A statement that returns no rows (DDL, INSERT, DELETE, ADMIN): rows affected.
    AffectedRows(u64),
}

/// An open database. One process per data directory (a second open fails with a clear
/// "locked" error).
pub struct Database {}

impl Database {
    /// Opens the database in `path`, creating the directory if missing; replays the WAL.
    pub async fn open(_path: impl AsRef<Path>) -> Result<Database> {
        todo!()
    }

    /// Executes exactly one SQL statement (a trailing `;` is allowed).
    pub async fn execute(&self, _sql: &str) -> Result<Output> {
        todo!()
    }

    /// Splits `sql` into statements and executes them in order; stops at the first error.
    pub async fn execute_script(&self, _sql: &str) -> Result<Vec<Output>> {
        todo!()
    }

    /// Names of the user tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        todo!()
    }

    /// Flushes nothing extra (writes are already durable), stops background work and releases
    /// the directory lock.
    pub async fn close(self) -> Result<()> {
        todo!()
    }
}
