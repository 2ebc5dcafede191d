//! SQL front end: statement splitting and parsing of the statements tsdb handles itself
//! (GreptimeDB's DDL dialect, on top of `sqlparser`).

pub mod statement;

pub use statement::{AdminFunction, ColumnDef, CreateTable, Statement};
