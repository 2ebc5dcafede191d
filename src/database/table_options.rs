//! `ALTER TABLE t SET/UNSET` of table options and `TRUNCATE TABLE t`
//! (the catalog does the work: `catalog/alter_options.rs`).

use super::{Database, Output, bare};
use crate::error::{Error, Result};
use crate::sql::AlterTableOptions;

impl Database {
    /// `ALTER TABLE t SET 'k' = 'v'` / `UNSET 'k'`.
    pub(super) async fn alter_table_options(&self, alter: AlterTableOptions) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        self.check_stored(&alter.table, "ALTER TABLE")?;
        self.catalog
            .alter_table_options(&alter.table, &alter.change)
            .await?;
        Ok(Output::AffectedRows(0))
    }

    /// `TRUNCATE [TABLE] t`.
    pub(super) async fn truncate_table(&self, table: &str) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        self.check_stored(table, "TRUNCATE")?;
        self.catalog.truncate_table(table).await?;
        Ok(Output::AffectedRows(0))
    }

    /// `Ok` if `table` is a tsdb table; else not found, or unsupported for a table
    /// DataFusion knows (an external table).
    fn check_stored(&self, table: &str, statement: &'static str) -> Result<()> {
        if self.catalog.table(table).is_some() {
            return Ok(());
        }
        if self.ctx.table_exist(bare(table))? {
            return Err(Error::Unsupported {
                statement,
                reason: format!("table '{table}' is not stored by tsdb"),
            });
        }
        Err(Error::TableNotFound {
            name: table.to_string(),
        })
    }
}
