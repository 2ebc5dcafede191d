//! The public API: open a database directory and execute SQL.
//!
//! A [`Database`] owns the directory lock (`DATA_DIR/LOCK`), the storage [`Engine`], the
//! [`Catalog`] and a DataFusion `SessionContext` in which every catalog table is registered
//! as a [`TsdbTable`] in the default schema (`public`). Statements tsdb parses itself
//! (CREATE/DROP TABLE, DESC, SHOW, ADMIN, COPY) are executed here; everything else goes to
//! DataFusion. DDL is serialised so the catalog and the registrations stay in sync.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::TableReference;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use fs2::FileExt;

use crate::catalog::Catalog;
use crate::catalog::builder::region_metadata;
use crate::engine::metadata::RegionId;
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::query::Progress;
use crate::query::show;
use crate::query::table_provider::{TsdbTable, check_defaults};
use crate::sql::statement::{CopySource, CopyStatement};
use crate::sql::{CreateTable, Statement};

mod admin;
mod alter;
#[cfg(test)]
mod crash_tests;
mod ddl;
mod information_schema;
mod session;
mod show_columns;
mod show_table_status;
mod stream;
mod table_options;
mod views;
pub use stream::{OutputStream, ResultStream};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// What one statement produced.
#[derive(Debug, Clone)]
pub enum Output {
    /// A result set (SELECT, SHOW, DESC, EXPLAIN, ...). `batches` may be empty.
    Records {
        /// Schema of the result, also when there are no rows.
        schema: SchemaRef,
        /// The rows.
        batches: Vec<RecordBatch>,
    },
    /// A statement that returns no rows (DDL, INSERT, DELETE, ADMIN): rows affected.
    AffectedRows(u64),
}

impl Output {
    fn records((schema, batch): show::StringTable) -> Output {
        Output::Records {
            schema,
            batches: vec![batch],
        }
    }
}

/// An open database. One process per data directory (a second open fails with a clear
/// "locked" error). `Send + Sync`: statements may run concurrently from several tasks.
pub struct Database {
    data_dir: PathBuf,
    /// Holds the exclusive lock on `DATA_DIR/LOCK` while open.
    lock_file: File,
    engine: Arc<Engine>,
    catalog: Arc<Catalog>,
    ctx: SessionContext,
    /// Serialises DDL so catalog changes and DataFusion registrations happen together.
    ddl: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Database>();
};

/// What kind of result a DataFusion plan yields.
enum PlanKind {
    /// DML: one `count` row, reported as affected rows.
    Count,
    /// DDL and session statements: no rows.
    NoRows,
    /// A result set.
    Rows,
}

/// A table reference that is never re-parsed (keeps case and dots in names).
fn bare(name: &str) -> TableReference {
    TableReference::bare(name)
}

impl Database {
    /// Opens the database in `path`, creating the directory if missing; replays the WAL.
    ///
    /// # Errors
    /// [`Error::Locked`] if another process has it open, [`Error::Io`] if the directory or
    /// lock file cannot be created, catalog or engine errors if recovery fails.
    pub async fn open(path: impl AsRef<Path>) -> Result<Database> {
        Self::open_with(EngineOptions::new(path.as_ref())).await
    }

    /// Opens the database in `options.data_dir` with these engine options (budgets such as
    /// `write_buffer_bytes`, `sst_data_cache_bytes`); otherwise as [`Database::open`].
    ///
    /// # Errors
    /// As [`Database::open`].
    pub async fn open_with(options: EngineOptions) -> Result<Database> {
        let data_dir = options.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| Error::Io {
            op: "create data directory",
            path: data_dir.clone(),
            source,
        })?;
        let lock_path = data_dir.join(LOCK_FILE);
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| Error::Io {
                op: "open lock file",
                path: lock_path.clone(),
                source,
            })?;
        if let Err(e) = lock_file.try_lock_exclusive() {
            if e.kind() == fs2::lock_contended_error().kind()
                || e.kind() == std::io::ErrorKind::WouldBlock
            {
                return Err(Error::Locked { path: data_dir });
            }
            return Err(Error::Io {
                op: "lock",
                path: lock_path,
                source: e,
            });
        }

        let engine = Arc::new(Engine::open(options).await?);
        let catalog = Arc::new(Catalog::open(engine.clone(), engine.storage().clone()).await?);

        let ctx = crate::query::session::new_session();
        let state = ctx.state();
        let information_schema = information_schema::InformationSchema::new(
            &catalog,
            state.catalog_list(),
            state.table_functions().clone(),
        );
        let default_catalog = &state.config().options().catalog.default_catalog;
        if let Some(df_catalog) = ctx.catalog(default_catalog) {
            df_catalog.register_schema(
                datafusion::catalog::information_schema::INFORMATION_SCHEMA,
                Arc::new(information_schema),
            )?;
        }
        for table in catalog.tables() {
            let provider = TsdbTable::try_new(table.name.clone(), table.region, &state)?;
            ctx.register_table(bare(&table.name), Arc::new(provider))?;
        }
        let db = Database {
            data_dir,
            lock_file,
            engine,
            catalog,
            ctx,
            ddl: tokio::sync::Mutex::new(()),
        };
        db.register_views().await;
        Ok(db)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The catalog of tables.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The storage engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The DataFusion session (e.g. to register more tables or functions).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// Executes exactly one SQL statement (a trailing `;` is allowed).
    ///
    /// # Errors
    /// Parse errors, [`Error::TableNotFound`], [`Error::TableAlreadyExists`], planning and
    /// execution errors.
    pub async fn execute(&self, sql: &str) -> Result<Output> {
        self.execute_with_progress(sql, &Progress::new()).await
    }

    /// Executes one SQL statement, attaching its plan to `progress` so another task can poll
    /// how many input rows it has read (see [`Progress`]).
    ///
    /// # Errors
    /// As [`Database::execute`].
    pub async fn execute_with_progress(&self, sql: &str, progress: &Progress) -> Result<Output> {
        let statement = crate::sql::parse_statement(sql)?;
        self.execute_statement_with_progress(statement, progress)
            .await
    }

    /// Executes one parsed statement.
    ///
    /// # Errors
    /// As [`Database::execute`].
    pub async fn execute_statement(&self, statement: Statement) -> Result<Output> {
        self.execute_statement_with_progress(statement, &Progress::new())
            .await
    }

    /// Executes one parsed statement, reporting to `progress`.
    ///
    /// Dropping the returned future cancels the statement (Ctrl-C in the shell). A query stops
    /// reading; an `INSERT`, `DELETE` or `COPY FROM` keeps the batches already written (each
    /// batch is written whole or not at all). The engine's own steps (WAL append with its
    /// memtable insert, flush, compaction) finish in the background, so nothing is left half
    /// done. DDL and `ADMIN` should not be cancelled: see [`Statement::is_cancel_safe`].
    ///
    /// # Errors
    /// As [`Database::execute`].
    pub async fn execute_statement_with_progress(
        &self,
        statement: Statement,
        progress: &Progress,
    ) -> Result<Output> {
        match statement {
            Statement::CreateTable(create) => self.create_table(create).await,
            Statement::CreateTableLike {
                name,
                source,
                if_not_exists,
            } => self.create_table_like(name, &source, if_not_exists).await,
            Statement::DropTable { names, if_exists } => self.drop_tables(&names, if_exists).await,
            Statement::CreateView {
                name,
                or_replace,
                if_not_exists,
                columns,
                query,
                definition,
            } => {
                let info = crate::catalog::ViewInfo {
                    definition,
                    query,
                    columns,
                    created_at_ms: self.engine.clock().now_ms(),
                };
                self.create_view(name, info, or_replace, if_not_exists)
                    .await
            }
            Statement::DropView { names, if_exists } => self.drop_views(&names, if_exists).await,
            Statement::ShowViews { like } => self.show_views(like.as_deref()),
            Statement::ShowColumns { table, full, like } => {
                self.show_columns(&table, full, like.as_deref()).await
            }
            Statement::ShowIndex { table } => self.show_index(&table).await,
            Statement::ShowCreateView { view } => self.show_create_view(&view),
            Statement::Describe { table } => self.describe(&table).await,
            Statement::ShowTables { like } => self.show_tables(like.as_deref()),
            Statement::ShowTableStatus { like, filter } => {
                self.show_table_status(like.as_deref(), filter.as_deref())
                    .await
            }
            Statement::ShowCreateTable { table } => self.show_create_table(&table).await,
            Statement::Admin(function) => self.admin(function).await,
            Statement::Copy(copy) => self.copy(copy, progress).await,
            Statement::SetTimeZone { value } => self.set_time_zone(&value),
            Statement::ShowVariables { name } => self.show_variables(&name),
            Statement::AlterTableOptions(alter) => self.alter_table_options(alter).await,
            Statement::Truncate { table } => self.truncate_table(&table).await,
            Statement::AlterTable(alter) => self.alter_table(alter).await,
            Statement::Query(text) => match self.insert_values(&text).await {
                Some(output) => output,
                None => self.plan_query(&text, progress).await?.run().await,
            },
        }
    }

    /// `INSERT ... VALUES` of literals into our table skips DataFusion's planner: the result,
    /// or `None` if `text` is not such an insert.
    async fn insert_values(&self, text: &str) -> Option<Result<Output>> {
        let lookup = |name: &str| self.catalog.table(name).map(|table| table.region);
        let zone = self.time_zone();
        Some(
            match crate::query::insert_values::plan(text, lookup, &zone)? {
                Ok(insert) => insert
                    .region
                    .write(insert.batch)
                    .await
                    .map(|rows| Output::AffectedRows(rows as u64))
                    .map_err(Error::from),
                Err(e) => Err(e.into()),
            },
        )
    }

    /// Splits `sql` into statements and executes them in order; stops at the first error.
    ///
    /// # Errors
    /// The first statement's error.
    pub async fn execute_script(&self, sql: &str) -> Result<Vec<Output>> {
        let mut outputs = Vec::new();
        for statement in crate::sql::split_statements(sql)? {
            outputs.push(self.execute(&statement).await?);
        }
        Ok(outputs)
    }

    /// Names of the user tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.catalog.table_names()
    }

    /// Flushes nothing extra (writes are already durable), stops background work and releases
    /// the directory lock.
    ///
    /// # Errors
    /// An engine error while closing; the lock is released in any case.
    pub async fn close(self) -> Result<()> {
        let result = self.engine.close().await;
        // Closing the file releases the lock too; unlock explicitly to report nothing odd.
        if let Err(e) = FileExt::unlock(&self.lock_file) {
            log::warn!("unlocking {}: {e}", self.data_dir.join(LOCK_FILE).display());
        }
        result.map_err(Error::from)
    }

    async fn create_table(&self, create: CreateTable) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        if self.catalog.table(&create.name).is_some() || self.ctx.table_exist(bare(&create.name))? {
            if create.if_not_exists {
                return Ok(Output::AffectedRows(0));
            }
            return Err(Error::TableAlreadyExists { name: create.name });
        }
        // Validate everything that can fail before the region is created.
        let probe = Arc::new(region_metadata(
            &crate::catalog::without_comment(&create),
            RegionId::new(0, 0),
        )?);
        for text in create.columns.iter().filter_map(|c| c.default.as_deref()) {
            crate::sql::check_expression_depth(text)?;
        }
        let state = self.ctx.state();
        check_defaults(&create.name, &probe, &state)?;

        let table = self.catalog.create_table(&create).await?;
        let provider = TsdbTable::try_new(table.name.clone(), table.region, &state)?;
        self.ctx
            .register_table(bare(&table.name), Arc::new(provider))?;
        self.register_views().await;
        Ok(Output::AffectedRows(0))
    }

    async fn drop_tables(&self, names: &[String], if_exists: bool) -> Result<Output> {
        let _ddl = self.ddl.lock().await;
        if let Some(view) = names.iter().find(|n| self.catalog.view(n).is_some()) {
            return Err(Error::Unsupported {
                statement: "DROP TABLE",
                reason: format!("'{view}' is a view: use DROP VIEW"),
            });
        }
        if !if_exists {
            for name in names {
                if self.catalog.table(name).is_none() && !self.ctx.table_exist(bare(name))? {
                    return Err(Error::TableNotFound { name: name.clone() });
                }
            }
        }
        for name in names {
            if self.catalog.table(name).is_some() {
                self.catalog.drop_table(name).await?;
                self.ctx.deregister_table(bare(name))?;
            } else if self.ctx.table_exist(bare(name))? {
                self.ctx.deregister_table(bare(name))?;
            }
        }
        self.register_views().await;
        Ok(Output::AffectedRows(0))
    }

    async fn describe(&self, name: &str) -> Result<Output> {
        if let Some(table) = self.catalog.table(name) {
            return Ok(Output::records(show::describe(&table.region.metadata())?));
        }
        match self.ctx.table_provider(bare(name)).await {
            Ok(provider) => Ok(Output::records(show::describe_arrow(&provider.schema())?)),
            Err(_) => Err(Error::TableNotFound {
                name: name.to_string(),
            }),
        }
    }

    fn show_tables(&self, like: Option<&str>) -> Result<Output> {
        let mut names = self.catalog.table_names();
        let catalog_name = self
            .ctx
            .state()
            .config()
            .options()
            .catalog
            .default_catalog
            .clone();
        if let Some(schema) = self
            .ctx
            .catalog(&catalog_name)
            .and_then(|c| c.schema(show::DEFAULT_SCHEMA))
        {
            names.extend(schema.table_names());
        }
        Ok(Output::records(show::show_tables(names, like)?))
    }

    async fn show_create_table(&self, name: &str) -> Result<Output> {
        if let Some(table) = self.catalog.table(name) {
            let metadata = table.region.metadata();
            let sql = crate::sql::create_table_sql_with_comments(
                name,
                &metadata,
                &table.info.options,
                &table.info.column_comments,
            );
            return Ok(Output::records(show::show_create_table(name, &sql)?));
        }
        let provider =
            self.ctx
                .table_provider(bare(name))
                .await
                .map_err(|_| Error::TableNotFound {
                    name: name.to_string(),
                })?;
        match provider.get_table_definition() {
            Some(sql) => Ok(Output::records(show::show_create_table(name, sql)?)),
            None => Err(Error::Unsupported {
                statement: "SHOW CREATE TABLE",
                reason: format!("table '{name}' has no stored definition"),
            }),
        }
    }

    /// `COPY ... TO` / `COPY ... FROM` (see [`crate::query::copy`]).
    async fn copy(&self, copy: CopyStatement, progress: &Progress) -> Result<Output> {
        match copy {
            CopyStatement::To {
                source,
                path,
                options,
            } => {
                let df = match source {
                    CopySource::Table(name) => {
                        if !self.ctx.table_exist(bare(&name))? {
                            return Err(Error::TableNotFound { name });
                        }
                        self.ctx.table(bare(&name)).await?
                    }
                    CopySource::Query(query) => {
                        crate::sql::check_expression_depth(&query)?;
                        self.ctx.sql(&query).await?
                    }
                };
                let rows = crate::query::copy::copy_to(df, &path, &options).await?;
                Ok(Output::AffectedRows(rows))
            }
            CopyStatement::From {
                table,
                path,
                options,
            } => {
                let Some(info) = self.catalog.table(&table) else {
                    if self.ctx.table_exist(bare(&table))? {
                        return Err(Error::Unsupported {
                            statement: "COPY",
                            reason: format!("table '{table}' is not stored by tsdb"),
                        });
                    }
                    return Err(Error::TableNotFound { name: table });
                };
                let metadata = info.region.metadata();
                let schema = metadata.arrow_schema();
                let time_index = metadata.time_index_column().name.clone();
                if let Some(rows) = crate::query::copy::estimate_rows(&path, &options) {
                    progress.set_total_estimate(rows);
                }
                let (columns, df) = crate::query::copy::read_for_table(
                    &self.ctx,
                    &table,
                    &schema,
                    &time_index,
                    &path,
                    &options,
                )
                .await?;
                let view = crate::query::copy::TempView::register(&self.ctx, df)?;
                let quoted: Vec<String> = columns
                    .iter()
                    .map(|c| crate::query::copy::quote_ident(c))
                    .collect();
                let sql = format!(
                    "INSERT INTO {} ({}) SELECT {} FROM {}",
                    crate::query::copy::quote_ident(&table),
                    quoted.join(", "),
                    quoted.join(", "),
                    crate::query::copy::quote_ident(&view.name),
                );
                let output = match self.plan_query(&sql, progress).await {
                    Ok(planned) => planned.run().await,
                    Err(e) => Err(e),
                };
                drop(view);
                output.map_err(|e| match e {
                    Error::DataFusion(e) if e.to_string().contains("Cast error") => {
                        Error::Unsupported {
                            statement: "COPY",
                            reason: format!(
                                "loading '{path}' into table '{table}': {e} (a CSV's \
                                 placeholder for missing values can be read as NULL with \
                                 WITH (NULL_VALUE = '...'))"
                            ),
                        }
                    }
                    other => other,
                })
            }
        }
    }

    /// Plans a statement with DataFusion (logical and physical plan) and attaches the plan to
    /// `progress`.
    async fn plan_query(&self, text: &str, progress: &Progress) -> Result<PlannedQuery> {
        // Operator chains deep enough to overflow DataFusion's recursion are refused first.
        crate::sql::check_expression_depth(text)?;
        let state = self.ctx.state();
        let planned = async {
            let dialect = state.config().options().sql_parser.dialect;
            let mut statement = state.sql_to_statement(text, &dialect)?;
            crate::query::type_alias::rewrite_statement(&mut statement);
            state.statement_to_plan(statement).await
        };
        let plan = match planned.await {
            Ok(plan) => plan,
            Err(err) => {
                // A syntax error (possibly wrapped in a diagnostic or context) becomes ours,
                // with its position.
                let parse_error = find_parser_error(&err);
                return Err(match parse_error {
                    Some(parse_error) => {
                        crate::sql::Error::from_sqlparser(parse_error, text).into()
                    }
                    None => err.into(),
                });
            }
        };
        let kind = match &plan {
            LogicalPlan::Dml(_) | LogicalPlan::Copy(_) => PlanKind::Count,
            LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => PlanKind::NoRows,
            _ => PlanKind::Rows,
        };
        let df = self.ctx.execute_logical_plan(plan).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let task_ctx = Arc::new(df.task_ctx());
        let physical = df.create_physical_plan().await?;
        progress.attach(physical.clone());
        Ok(PlannedQuery {
            kind,
            schema,
            physical,
            task_ctx,
        })
    }
}

/// A statement planned by DataFusion, not yet run.
struct PlannedQuery {
    kind: PlanKind,
    /// Schema of the result rows.
    schema: SchemaRef,
    physical: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    task_ctx: Arc<datafusion::execution::TaskContext>,
}

impl PlannedQuery {
    /// Runs the plan to completion, collecting its batches.
    async fn run(self) -> Result<Output> {
        let batches = datafusion::physical_plan::collect(self.physical, self.task_ctx).await?;
        match self.kind {
            PlanKind::Count => Ok(Output::AffectedRows(sum_counts(&batches)?)),
            PlanKind::NoRows => Ok(Output::AffectedRows(0)),
            PlanKind::Rows => Ok(Output::Records {
                schema: self.schema,
                batches,
            }),
        }
    }
}

/// The `sqlparser` error somewhere in `err`'s source chain, if any.
fn find_parser_error(
    err: &datafusion::error::DataFusionError,
) -> Option<&sqlparser::parser::ParserError> {
    let mut current: &(dyn std::error::Error + 'static) = err;
    loop {
        if let Some(parse_error) = current.downcast_ref::<sqlparser::parser::ParserError>() {
            return Some(parse_error);
        }
        current = current.source()?;
    }
}

/// Sums the first column (the `count` of a DML plan) over `batches`.
pub(crate) fn sum_counts(batches: &[RecordBatch]) -> Result<u64> {
    let mut total = 0u64;
    for batch in batches {
        let Some(column) = batch.columns().first() else {
            continue;
        };
        let column = arrow::compute::cast(column, &DataType::UInt64)?;
        if let Some(counts) = column.as_any().downcast_ref::<UInt64Array>() {
            total = counts
                .iter()
                .flatten()
                .fold(total, |acc, v| acc.saturating_add(v));
        }
    }
    Ok(total)
}
