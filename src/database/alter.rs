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
            // Views bind the providers they read: plan them again (database/views.rs).
            self.register_views().await;
            return Ok(Output::AffectedRows(0));
        }
        let current = table.region.metadata();
        let Some(next) = altered_metadata(name, &current, &alter.operation)? else {
            return Ok(Output::AffectedRows(0));
        };
        // Defaults are checked before anything changes (as CREATE TABLE does).
        let defaults: Vec<&str> = match &alter.operation {
            AlterTableOperation::AddColumns(columns) => columns
                .iter()
                .filter_map(|c| c.column.default.as_deref())
                .collect(),
            AlterTableOperation::SetDefaults(defaults) => {
                defaults.iter().filter_map(|(_, d)| d.as_deref()).collect()
            }
            _ => Vec::new(),
        };
        for text in defaults {
            crate::sql::check_expression_depth(text)?;
        }
        check_defaults(name, &Arc::new(next.clone()), &state)?;
        // Comments live in the catalog, keyed by column id: recorded once the region's
        // schema (which assigns the ids) is durable.
        let comments: Vec<(u32, Option<String>)> = match &alter.operation {
            AlterTableOperation::AddColumns(columns) => columns
                .iter()
                .filter_map(|c| {
                    let comment = c.column.comment.clone()?;
                    let added = next.columns.iter().find(|m| m.name == c.column.name)?;
                    current
                        .columns
                        .iter()
                        .all(|m| m.column_id != added.column_id)
                        .then_some((added.column_id, Some(comment)))
                })
                .collect(),
            AlterTableOperation::DropColumn { name: column } => current
                .columns
                .iter()
                .filter(|m| &m.name == column)
                .map(|m| (m.column_id, None))
                .collect(),
            _ => Vec::new(),
        };
        table.region.alter(next).await?;
        if !comments.is_empty() {
            self.catalog.set_column_comments(name, &comments).await?;
        }
        self.ctx.deregister_table(bare(name))?;
        let provider = TsdbTable::try_new(table.name.clone(), table.region.clone(), &state)?;
        self.ctx.register_table(bare(name), Arc::new(provider))?;
        self.register_views().await;
        Ok(Output::AffectedRows(0))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use crate::database::{Database, Output};

    async fn text(db: &Database, sql: &str) -> String {
        match db.execute(sql).await.unwrap() {
            Output::Records { batches, .. } => batches
                .iter()
                .flat_map(|b| {
                    let column = b.column(b.num_columns() - 1).as_string::<i32>().clone();
                    (0..b.num_rows()).map(move |i| column.value(i).to_string())
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Output::AffectedRows(n) => n.to_string(),
        }
    }

    /// `SHOW CREATE TABLE` and the DataFusion schema follow an ALTER at once (the slt format
    /// cannot hold SHOW CREATE's blank lines).
    #[tokio::test]
    async fn show_create_and_select_star_follow_the_alter() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        db.execute("CREATE TABLE t (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v DOUBLE)")
            .await
            .unwrap();
        db.execute(
            "ALTER TABLE t ADD COLUMN dc STRING DEFAULT 'east' PRIMARY KEY, ADD COLUMN n INT FIRST",
        )
        .await
        .unwrap();
        db.execute("ALTER TABLE t DROP COLUMN v").await.unwrap();
        let sql = text(&db, "SHOW CREATE TABLE t").await;
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS \"t\" (\n  \"n\" INT NULL,\n  \"host\" STRING NULL,\n  \
             \"ts\" TIMESTAMP(3) NOT NULL,\n  \"dc\" STRING NULL DEFAULT 'east',\n  \
             TIME INDEX (\"ts\"),\n  PRIMARY KEY (\"host\", \"dc\")\n)\n\nENGINE=mito\n"
        );
        let Output::Records { schema, .. } = db.execute("SELECT * FROM t").await.unwrap() else {
            panic!("SELECT returns rows");
        };
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["n", "host", "ts", "dc"]);
        db.close().await.unwrap();
    }
}
