//! The statements tsdb handles itself. Everything else (SELECT, INSERT, DELETE, EXPLAIN,
//! CREATE EXTERNAL TABLE, ...) is passed to DataFusion as [`Statement::Query`].

use std::collections::BTreeMap;

use crate::engine::metadata::{ColumnDataType, SemanticType};

mod alter;
pub use alter::{AddColumn, AddColumnLocation, AlterTable, AlterTableOperation};

/// One parsed SQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE TABLE` in GreptimeDB's dialect.
    CreateTable(CreateTable),
    /// `CREATE TABLE [IF NOT EXISTS] name LIKE source` (GreptimeDB): a new, empty table with
    /// `source`'s columns, keys, defaults, comments and options.
    CreateTableLike {
        /// The new table.
        name: String,
        /// The table whose definition is copied.
        source: String,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
    },
    /// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(columns)] AS query`.
    CreateView {
        /// The view's name.
        name: String,
        /// `OR REPLACE`: an existing view of this name is replaced.
        or_replace: bool,
        /// `IF NOT EXISTS`: an existing view is kept unchanged.
        if_not_exists: bool,
        /// Column names given after the name, empty if none.
        columns: Vec<String>,
        /// The query (`SELECT ...`), as sqlparser renders it.
        query: String,
        /// The whole statement as sqlparser renders it (what `SHOW CREATE VIEW` prints).
        definition: String,
    },
    /// `DROP VIEW [IF EXISTS] a[, b]`.
    DropView {
        /// Views to drop, in order.
        names: Vec<String>,
        /// `IF EXISTS` was given: missing views are not an error.
        if_exists: bool,
    },
    /// `SHOW VIEWS [LIKE 'pattern']`.
    ShowViews {
        /// The `LIKE` pattern, if given.
        like: Option<String>,
    },
    /// `SHOW CREATE VIEW v`.
    ShowCreateView {
        /// The view whose definition to show.
        view: String,
    },
    /// `SHOW [FULL] COLUMNS FROM t [LIKE 'pattern']`.
    ShowColumns {
        /// The table.
        table: String,
        /// `FULL`: also `Collation`, `Comment`, `Privileges`.
        full: bool,
        /// The `LIKE` pattern on column names, if given.
        like: Option<String>,
    },
    /// `SHOW INDEX FROM t`.
    ShowIndex {
        /// The table.
        table: String,
    },
    /// `DROP TABLE [IF EXISTS] a[, b]`.
    DropTable {
        /// Tables to drop, in order.
        names: Vec<String>,
        /// `IF EXISTS` was given: missing tables are not an error.
        if_exists: bool,
    },
    /// `DESC|DESCRIBE [TABLE] t`.
    Describe {
        /// The table to describe.
        table: String,
    },
    /// `SHOW TABLES [LIKE 'pattern']`.
    ShowTables {
        /// The `LIKE` pattern (`%` and `_` wildcards), if given.
        like: Option<String>,
    },
    /// `SHOW TABLE STATUS [{FROM | IN} public] [LIKE 'pattern' | WHERE expr]`: MySQL's table
    /// status rows.
    ShowTableStatus {
        /// The `LIKE` pattern on table names (`%` and `_` wildcards), if given.
        like: Option<String>,
        /// The `WHERE` condition on the status columns (case-insensitive names, as MySQL),
        /// rendered from its parsed form, if given.
        filter: Option<String>,
    },
    /// `SHOW CREATE TABLE t`.
    ShowCreateTable {
        /// The table whose `CREATE TABLE` to show.
        table: String,
    },
    /// `ADMIN function('table', ...)`.
    Admin(AdminFunction),
    /// `ALTER TABLE t ADD/DROP/MODIFY COLUMN ..., RENAME ...` (column changes, table rename).
    AlterTable(AlterTable),
    /// `COPY [TABLE] t TO|FROM 'path' [WITH (..)]`, `COPY (query) TO 'path' [WITH (..)]`.
    Copy(CopyStatement),
    /// `SET [SESSION | LOCAL] time_zone = 'zone'` (also `TIMEZONE`, `TIME ZONE`, `TO`):
    /// GreptimeDB's session time zone.
    SetTimeZone {
        /// The zone as written (validated when executed).
        value: String,
    },
    /// `SHOW VARIABLES name` (`time_zone`, `system_time_zone`).
    ShowVariables {
        /// The variable, lower-cased.
        name: String,
    },
    /// `ALTER TABLE t SET 'k' = 'v'[, ..]` / `ALTER TABLE t UNSET 'k'[, ..]` (table options).
    AlterTableOptions(AlterTableOptions),
    /// `TRUNCATE [TABLE] t`.
    Truncate {
        /// The table to empty.
        table: String,
    },
    /// Anything else: the statement text, executed by DataFusion.
    Query(String),
}

/// GreptimeDB's `ALTER TABLE t SET ..` / `UNSET ..` of table options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterTableOptions {
    /// The table.
    pub table: String,
    /// What changes.
    pub change: OptionChange,
}

/// A change of table options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionChange {
    /// `SET 'k' = 'v', ..`: keys lower-cased, values as written (`NULL` is the empty string,
    /// as in GreptimeDB).
    Set(Vec<(String, String)>),
    /// `UNSET 'k', ..`: keys lower-cased.
    Unset(Vec<String>),
}

impl Statement {
    /// Whether dropping the statement's future part-way is harmless: queries, DML and `COPY`
    /// (see [`crate::Database::execute_statement_with_progress`]). DDL and `ADMIN` change the
    /// catalog or run engine maintenance and should run to the end once started.
    pub fn is_cancel_safe(&self) -> bool {
        matches!(
            self,
            Statement::Query(_)
                | Statement::Copy(_)
                | Statement::Describe { .. }
                | Statement::ShowTables { .. }
                | Statement::ShowTableStatus { .. }
                | Statement::ShowCreateTable { .. }
                | Statement::ShowViews { .. }
                | Statement::ShowColumns { .. }
                | Statement::ShowIndex { .. }
                | Statement::ShowCreateView { .. }
                | Statement::SetTimeZone { .. }
                | Statement::ShowVariables { .. }
        )
    }
}

/// Administrative functions called with `ADMIN name(args)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminFunction {
    /// `ADMIN flush_table('t')`: flush the table's memtables to SSTs.
    FlushTable {
        /// The table to flush.
        table: String,
    },
    /// `ADMIN compact_table('t')`: compact the table's SSTs.
    CompactTable {
        /// The table to compact.
        table: String,
    },
    /// `ADMIN flush_region(id)`: flush one region, by GreptimeDB's region id
    /// `(table_id << 32) | region_number` (tsdb's `RegionId` is the same number).
    FlushRegion {
        /// The region id.
        region_id: u64,
    },
    /// `ADMIN compact_region(id)`: compact one region.
    CompactRegion {
        /// The region id.
        region_id: u64,
    },
}

impl std::fmt::Display for AdminFunction {
    /// The call as GreptimeDB names its result column: `ADMIN flush_table('cpu')`,
    /// `ADMIN flush_region(4398046511104)`. A table name that is not all lower-case is
    /// double-quoted inside the string, as it has to be written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table_arg = |table: &str| {
            let plain = table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            let name = if plain {
                table.to_string()
            } else {
                format!("\"{}\"", table.replace('"', "\"\""))
            };
            format!("'{}'", name.replace('\'', "''"))
        };
        match self {
            AdminFunction::FlushTable { table } => {
                write!(f, "ADMIN flush_table({})", table_arg(table))
            }
            AdminFunction::CompactTable { table } => {
                write!(f, "ADMIN compact_table({})", table_arg(table))
            }
            AdminFunction::FlushRegion { region_id } => {
                write!(f, "ADMIN flush_region({region_id})")
            }
            AdminFunction::CompactRegion { region_id } => {
                write!(f, "ADMIN compact_region({region_id})")
            }
        }
    }
}

/// A validated `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    /// Table name (unquoted identifiers lower-cased).
    pub name: String,
    /// `IF NOT EXISTS` was given.
    pub if_not_exists: bool,
    /// Columns in declaration order.
    pub columns: Vec<ColumnDef>,
    /// Index into `columns` of the time index.
    pub time_index: usize,
    /// Indexes into `columns` of the primary key (tag) columns, in key order.
    pub primary_key: Vec<usize>,
    /// `ENGINE = x` if given (only `mito` is accepted).
    pub engine: Option<String>,
    /// `WITH (k = v, ...)` options, keys lower-cased.
    pub options: BTreeMap<String, String>,
}

/// One column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name (unquoted identifiers lower-cased).
    pub name: String,
    /// Stored type.
    pub data_type: ColumnDataType,
    /// Tag, field or timestamp.
    pub semantic_type: SemanticType,
    /// NULL allowed (false for the time index and `NOT NULL` columns).
    pub nullable: bool,
    /// `DEFAULT expr` as SQL text, e.g. `0`, `'idle'`, `now()`.
    pub default: Option<String>,
    /// `COMMENT 'text'`.
    pub comment: Option<String>,
}

/// GreptimeDB's `COPY` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyStatement {
    /// `COPY [TABLE] t TO 'path' [WITH (..)]` or `COPY (query) TO 'path' [WITH (..)]`.
    To {
        /// What to export.
        source: CopySource,
        /// The file to write.
        path: String,
        /// `WITH (k = 'v', ...)` options, keys lower-cased.
        options: BTreeMap<String, String>,
    },
    /// `COPY [TABLE] t FROM 'path' [WITH (..)]`.
    From {
        /// The table to load into.
        table: String,
        /// The file to read.
        path: String,
        /// `WITH (k = 'v', ...)` options, keys lower-cased.
        options: BTreeMap<String, String>,
    },
}

/// What `COPY ... TO` exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A table (all its columns).
    Table(String),
    /// A query's text, executed by DataFusion.
    Query(String),
}
