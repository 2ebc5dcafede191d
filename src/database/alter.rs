//! `ALTER TABLE`: column changes (rules in [`crate::catalog::alter`], storage side in
//! `engine/region/alter.rs`) and table rename (the catalog only). Either way the table's
//! DataFusion provider is registered again, so `DESC`, `SHOW CREATE TABLE` and `SELECT *`
//! see the change at once.

use std::sync::Arc;

use super::{Database, Output, bare};
use crate::catalog::alter::altered_metadata;
use crate::error::{Error, Result};
use crate::query::table_provider::{TsdbTable, check_defaults};
use crate::sql::statement::{AlterTable, AlterTableOperation};

impl Database {
    pub(super) async fn alter_table(&self, alter: AlterTable) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        let name = alter.table.as_str();
        let Some(table) = self.catalog.table(name) else {
            if self.ctx.table_exist(bare(name))? {
                return Err(Error::Unsupported {
                    statement: "ALTER TABLE",
                    reason: format!("table '{name}' is not stored by tsdb"),
                });
            }
            return Err(Error::TableNotFound {
                name: name.to_string(),
            });
        };
        let state = self.ctx.state();
        if let AlterTableOperation::RenameTable { new_name } = &alter.operation {
            if self.catalog.table(new_name).is_some() || self.ctx.table_exist(bare(new_name))? {
                return Err(Error::TableAlreadyExists {
                    name: new_name.clone(),
                });
            }
            let renamed = self.catalog.rename_table(name, new_name).await?;
            self.ctx.deregister_table(bare(name))?;
            let provider = TsdbTable::try_new(renamed.name.clone(), renamed.region, &state)?;
            self.ctx
                .register_table(bare(&renamed.name), Arc::new(provider))?;
            return Ok(Output::AffectedRows(0));
        }
        let current = table.region.metadata();
        let Some(next) = altered_metadata(name, &current, &alter.operation)? else {
            return Ok(Output::AffectedRows(0));
        };
        // Defaults are checked before anything changes (as CREATE TABLE does).
        if let AlterTableOperation::AddColumns(columns) = &alter.operation {
            for text in columns.iter().filter_map(|c| c.column.default.as_deref()) {
                crate::sql::check_expression_depth(text)?;
            }
        }
        check_defaults(name, &Arc::new(next.clone()), &state)?;
        table.region.alter(next).await?;
        self.ctx.deregister_table(bare(name))?;
        let provider = TsdbTable::try_new(table.name.clone(), table.region.clone(), &state)?;
        self.ctx.register_table(bare(name), Arc::new(provider))?;
        Ok(Output::AffectedRows(0))
    }
}
