//! Views that persist: `CREATE [OR REPLACE] VIEW`, `DROP VIEW`, `SHOW VIEWS`,
//! `SHOW CREATE VIEW`, in GreptimeDB's syntax and output
//! (`tests/cases/standalone/common/view/{create,show_create,view}.result`).
//!
//! A view is stored in the catalog as its query text (see `docs/FORMAT.md`, "Catalog") and
//! registered in DataFusion as a `ViewTable` over the planned query. The plan binds the tables
//! it reads, so every view is planned again whenever the set of tables changes (open,
//! CREATE/DROP TABLE, CREATE/DROP VIEW). A view whose query no longer plans (a table it reads
//! was dropped) stays in the catalog but is not registered: selecting from it is "table not
//! found" until the table is back, as in GreptimeDB.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, col};

use super::{Database, Output, bare};
use crate::catalog::ViewInfo;
use crate::error::{Error, Result};
use crate::query::show;

/// The column of `SHOW VIEWS` (GreptimeDB's `src/query/src/sql.rs`, `VIEWS_COLUMN`).
const VIEWS_COLUMN: &str = "Views";

impl Database {
    /// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(columns)] AS query`.
    ///
    /// # Errors
    /// [`Error::TableAlreadyExists`] if a table has the name (also with `OR REPLACE` or
    /// `IF NOT EXISTS`, as GreptimeDB); "View already exists" for an existing view without
    /// either; a planning error if the query does not plan (nothing is stored then).
    pub(super) async fn create_view(
        &self,
        name: String,
        info: ViewInfo,
        replace: bool,
        if_not_exists: bool,
    ) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        let is_view = self.catalog.view(&name).is_some();
        if self.catalog.table(&name).is_some() || (!is_view && self.ctx.table_exist(bare(&name))?) {
            return Err(Error::TableAlreadyExists { name });
        }
        if is_view && if_not_exists {
            return Ok(Output::AffectedRows(0));
        }
        // The query must plan now; a view that cannot be read is not created.
        let plan = self.view_plan(&info).await?;
        self.catalog
            .create_view(&name, info.clone(), replace)
            .await?;
        let _ = self.ctx.deregister_table(bare(&name))?;
        self.ctx.register_table(
            bare(&name),
            Arc::new(ViewTable::new(plan, Some(info.definition))),
        )?;
        self.register_views().await;
        Ok(Output::AffectedRows(0))
    }

    /// `DROP VIEW [IF EXISTS] a[, b]`.
    ///
    /// # Errors
    /// "View not found" for a missing view (without `IF EXISTS`), naming a table if `name` is
    /// one.
    pub(super) async fn drop_views(&self, names: &[String], if_exists: bool) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        if !if_exists {
            for name in names {
                if self.catalog.view(name).is_none() {
                    return Err(view_not_found(name, self.catalog.table(name).is_some()));
                }
            }
        }
        for name in names {
            if self.catalog.view(name).is_some() {
                self.catalog.drop_view(name).await?;
                self.ctx.deregister_table(bare(name))?;
            }
        }
        self.register_views().await;
        Ok(Output::AffectedRows(0))
    }

    /// `SHOW VIEWS [LIKE 'pattern']`: one column, `Views`, sorted.
    pub(super) fn show_views(&self, like: Option<&str>) -> Result<Output> {
        let rows: Vec<Vec<String>> = self
            .catalog
            .views()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| like.is_none_or(|pattern| show::like_matches(pattern, name)))
            .map(|name| vec![name])
            .collect();
        Ok(Output::records(show::string_table(&[VIEWS_COLUMN], &rows)?))
    }

    /// `SHOW CREATE VIEW v`: columns `View`, `Create View`.
    ///
    /// # Errors
    /// "View not found: v".
    pub(super) fn show_create_view(&self, name: &str) -> Result<Output> {
        let Some(info) = self.catalog.view(name) else {
            return Err(view_not_found(name, self.catalog.table(name).is_some()));
        };
        Ok(Output::records(show::string_table(
            &["View", "Create View"],
            &[vec![name.to_string(), info.definition]],
        )?))
    }

    /// Plans every view of the catalog again and (re-)registers it; one that does not plan
    /// is deregistered. Views over views are planned in passes until nothing changes.
    pub(super) async fn register_views(&self) {
        let views = self.catalog.views();
        let mut pending: Vec<(String, ViewInfo)> = views;
        for (name, _) in &pending {
            let _ = self.ctx.deregister_table(bare(name));
        }
        loop {
            let mut failed = Vec::new();
            let before = pending.len();
            for (name, info) in pending {
                match self.view_plan(&info).await {
                    Ok(plan) => {
                        let view = ViewTable::new(plan, Some(info.definition.clone()));
                        if let Err(e) = self.ctx.register_table(bare(&name), Arc::new(view)) {
                            log::warn!("view '{name}' could not be registered: {e}");
                        }
                    }
                    Err(e) => failed.push((name, info, e)),
                }
            }
            if failed.is_empty() || failed.len() == before {
                for (name, _, e) in failed {
                    log::warn!("view '{name}' cannot be planned and is not readable: {e}");
                }
                return;
            }
            pending = failed
                .into_iter()
                .map(|(name, info, _)| (name, info))
                .collect();
        }
    }

    /// The logical plan of a view: its query, with the declared column names if any.
    async fn view_plan(&self, info: &ViewInfo) -> Result<LogicalPlan> {
        crate::sql::check_expression_depth(&info.query)?;
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let mut statement = state.sql_to_statement(&info.query, &dialect)?;
        crate::query::type_alias::rewrite_statement(&mut statement);
        let plan = state.statement_to_plan(statement).await?;
        if info.columns.is_empty() {
            return Ok(plan);
        }
        let fields = plan.schema().fields().len();
        if fields != info.columns.len() {
            return Err(Error::Unsupported {
                statement: "CREATE VIEW",
                reason: format!(
                    "column count mismatch, columns: {}, values: {fields}",
                    info.columns.len()
                ),
            });
        }
        let exprs: Vec<_> = plan
            .schema()
            .columns()
            .into_iter()
            .zip(&info.columns)
            .map(|(column, name)| col(column).alias(name))
            .collect();
        Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
    }
}

/// "View not found: v" (with a hint when `v` is a table).
fn view_not_found(name: &str, is_table: bool) -> Error {
    let hint = if is_table {
        format!(" ('{name}' is a table: use DROP TABLE)")
    } else {
        String::new()
    };
    Error::Catalog(crate::catalog::Error::ViewNotFound {
        name: format!("{name}{hint}"),
    })
}
