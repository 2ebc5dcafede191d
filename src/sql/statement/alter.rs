//! `ALTER TABLE` column changes and table rename (GreptimeDB's
//! `src/sql/src/statements/alter.rs`; table options are a statement of their own).

use crate::engine::metadata::ColumnDataType;

use super::ColumnDef;

/// A parsed `ALTER TABLE t <operation>`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    /// The table (unquoted identifiers lower-cased).
    pub table: String,
    /// What to change.
    pub operation: AlterTableOperation,
}

/// One `ALTER TABLE` operation.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterTableOperation {
    /// `ADD [COLUMN] [IF NOT EXISTS] <column_def> [FIRST | AFTER c] [, ADD ...]`.
    AddColumns(Vec<AddColumn>),
    /// `DROP COLUMN c`.
    DropColumn {
        /// The column to drop.
        name: String,
    },
    /// `MODIFY COLUMN c <type>`.
    ModifyColumnType {
        /// The column to change.
        name: String,
        /// Its new type.
        data_type: ColumnDataType,
    },
    /// `MODIFY COLUMN c SET DEFAULT v [, MODIFY COLUMN d SET DEFAULT w ...]` (`Some(text)`),
    /// `MODIFY COLUMN c DROP DEFAULT [, ...]` (`None`).
    SetDefaults(Vec<(String, Option<String>)>),
    /// `RENAME [TO] new_name`.
    RenameTable {
        /// The table's new name.
        new_name: String,
    },
}

/// One `ADD COLUMN` of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddColumn {
    /// The column (a tag with `PRIMARY KEY`, else a field).
    pub column: ColumnDef,
    /// Where it goes in the table's column order; `None` = last.
    pub location: Option<AddColumnLocation>,
    /// `IF NOT EXISTS`: an existing column of that name is not an error.
    pub if_not_exists: bool,
}

/// `FIRST` or `AFTER c` of an `ADD COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddColumnLocation {
    /// Before every other column.
    First,
    /// Right after the named column.
    After(String),
}
