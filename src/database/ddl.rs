//! `CREATE TABLE t2 LIKE t1` (GreptimeDB's `tests/cases/standalone/common/create/create.sql`):
//! the new table gets `t1`'s columns (types, nullability, defaults, comments), time index,
//! primary key and table options (`comment` included), and none of its rows.

use super::{Database, Output};
use crate::engine::metadata::RegionMetadata;
use crate::error::{Error, Result};
use crate::sql::{ColumnDef, CreateTable};

impl Database {
    /// `CREATE TABLE [IF NOT EXISTS] name LIKE source`.
    ///
    /// # Errors
    /// [`Error::TableNotFound`] for a missing `source`; [`Error::Unsupported`] if `source` is
    /// not a tsdb table (a DataFusion table has no time index to copy); as `CREATE TABLE`
    /// otherwise ([`Error::TableAlreadyExists`] without `IF NOT EXISTS`).
    pub(super) async fn create_table_like(
        &self,
        name: String,
        source: &str,
        if_not_exists: bool,
    ) -> Result<Output> {
        let Some(table) = self.catalog.table(source) else {
            if self.ctx.table_exist(super::bare(source))? {
                return Err(Error::Unsupported {
                    statement: "CREATE TABLE ... LIKE",
                    reason: format!("table '{source}' is not stored by tsdb"),
                });
            }
            return Err(Error::TableNotFound {
                name: source.to_string(),
            });
        };
        let metadata = table.region.metadata();
        let create = create_like(name, if_not_exists, &metadata, &table.info);
        self.create_table(create).await
    }
}

/// The `CREATE TABLE` that recreates `metadata`'s schema under `name`.
fn create_like(
    name: String,
    if_not_exists: bool,
    metadata: &RegionMetadata,
    info: &crate::catalog::TableInfo,
) -> CreateTable {
    let columns = metadata
        .columns
        .iter()
        .map(|column| ColumnDef {
            name: column.name.clone(),
            data_type: column.data_type,
            semantic_type: column.semantic_type,
            nullable: column.nullable,
            default: column.default.clone(),
            comment: info.column_comments.get(&column.column_id).cloned(),
        })
        .collect();
    CreateTable {
        name,
        if_not_exists,
        columns,
        time_index: metadata.time_index,
        primary_key: metadata.primary_key.clone(),
        engine: None,
        options: info.options.clone(),
    }
}
