//! SQL front end: statement splitting and parsing of the statements tsdb handles itself
//! (GreptimeDB's DDL dialect, on top of `sqlparser`).
//!
//! - [`splitter`]: cut a script or a stream into statements at `;` outside quotes/comments.
//! - [`parser`]: [`parse_statement`] turns one statement into a [`Statement`]; everything tsdb
//!   does not handle itself is passed through as [`Statement::Query`] for DataFusion.
//! - `depth`: [`check_expression_depth`] bounds operator nesting before DataFusion plans a
//!   statement (deep chains overflow its recursive walks).
//! - [`display`]: [`create_table_sql`] renders `SHOW CREATE TABLE`.

mod depth;
pub mod display;
pub mod error;
pub mod parser;
pub mod splitter;
pub mod statement;

pub use depth::{MAX_EXPRESSION_DEPTH, check_expression_depth};
pub use display::{create_table_sql, create_table_sql_with_comments};
pub use error::{Error, Result, Unterminated};
pub use parser::parse_statement;
pub use splitter::{StatementSplitter, split_statements};
pub use statement::{
    AdminFunction, AlterTableOptions, ColumnDef, CreateTable, OptionChange, Statement,
};
