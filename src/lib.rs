//! tsdb: an embedded time-series database with a SQL shell.

#![deny(unsafe_code)]

pub mod catalog;
pub mod database;
pub mod engine;
pub mod error;
pub mod query;
pub mod slt;
pub mod sql;

pub use database::{Database, Output, OutputStream, ResultStream};
pub use error::{Error, Result};
pub use query::{Progress, ProgressSnapshot};
