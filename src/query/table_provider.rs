//! [`TsdbTable`]: a DataFusion [`TableProvider`] over one region.
//!
//! - `scan` pushes the projection, the time range of time index filters and the limit into
//!   [`RegionScanExec`], split into up to `target_partitions` time partitions. A filter the
//!   time range expresses exactly (`ts >= TIMESTAMP '...' AND ts < ...` on the bare time
//!   index) is pushed down as `Exact`, so DataFusion drops it; other time filters and tag
//!   filters (`tag = 'v'`, `tag IN (...)`: row-group pruning only) are `Inexact`.
//! - `insert_into` writes through a [`RegionSink`]; `DELETE` scans the matching rows and
//!   writes tombstones through one.
//! - Column defaults are the stored SQL text, planned once at construction.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue, not_impl_err};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;

use crate::engine::metadata::{ColumnDataType, RegionMetadataRef};
use crate::engine::region::RegionRef;
use crate::engine::time_range::TimeRange;
use crate::query::error::Error;
use crate::query::field_filter::field_filter;
use crate::query::scan_exec::RegionScanExec;
use crate::query::sink::{RegionSink, SinkOp};
use crate::query::tag_filter::tag_filter;
use crate::query::time_filter::{
    TimeIndex, extract_time_range, is_exact_time_filter, is_time_filter,
};

/// Fewest estimated rows worth a scan partition of their own: one engine read batch
/// (`READ_BATCH_ROWS`); below that a split only adds overhead.
pub const MIN_PARTITION_ROWS: u64 = crate::engine::sst::format::READ_BATCH_ROWS as u64;

/// A tsdb table as seen by DataFusion.
#[derive(Debug)]
pub struct TsdbTable {
    name: String,
    region: RegionRef,
    metadata: RegionMetadataRef,
    schema: SchemaRef,
    /// Planned `DEFAULT` expressions by column name.
    defaults: HashMap<String, Expr>,
}

impl TsdbTable {
    /// A provider for table `name` stored in `region`; `state` plans the column defaults.
    ///
    /// # Errors
    /// [`Error::InvalidDefault`] if a stored default does not plan.
    pub fn try_new(
        name: impl Into<String>,
        region: RegionRef,
        state: &SessionState,
    ) -> Result<Self, Error> {
        let name = name.into();
        let metadata = region.metadata();
        let defaults = plan_defaults(&name, &metadata, state)?;
        Ok(TsdbTable {
            // Every column is reported nullable so that NULLs reach the insert sink, which
            // rejects them with an error naming the column, instead of DataFusion's generic
            // "column2 is declared as non-nullable" raised while building the VALUES batch.
            schema: crate::query::sink::all_nullable(&metadata.arrow_schema()),
            name,
            region,
            metadata,
            defaults,
        })
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The region holding the rows.
    pub fn region(&self) -> &RegionRef {
        &self.region
    }

    /// The region schema.
    pub fn metadata(&self) -> &RegionMetadataRef {
        &self.metadata
    }

    fn time_index(&self) -> TimeIndex<'_> {
        let column = self.metadata.time_index_column();
        let unit = match column.data_type.to_arrow() {
            DataType::Timestamp(unit, _) => unit,
            // validate() guarantees a timestamp; fall back to the default unit.
            _ => TimeUnit::Millisecond,
        };
        TimeIndex {
            name: &column.name,
            unit,
        }
    }

    fn time_range(&self, filters: &[Expr]) -> TimeRange {
        extract_time_range(filters, &self.time_index())
    }

    fn scan_exec(
        &self,
        projection: Option<&Vec<usize>>,
        time_range: TimeRange,
        limit: Option<usize>,
    ) -> Result<RegionScanExec> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        Ok(RegionScanExec::new(
            self.name.clone(),
            self.region.clone(),
            schema,
            projection.cloned(),
            time_range,
            limit,
        ))
    }
}

/// Plans every column's `DEFAULT` text into an [`Expr`] (no column references allowed).
///
/// # Errors
/// [`Error::InvalidDefault`] naming the column.
pub fn plan_defaults(
    table: &str,
    metadata: &RegionMetadataRef,
    state: &SessionState,
) -> Result<HashMap<String, Expr>, Error> {
    let empty = DFSchema::empty();
    let mut defaults = HashMap::new();
    for column in &metadata.columns {
        if let Some(text) = &column.default {
            let expr = state.create_logical_expr(text, &empty).map_err(|source| {
                Error::InvalidDefault {
                    table: table.to_string(),
                    column: column.name.clone(),
                    default: text.clone(),
                    source: Box::new(source),
                }
            })?;
            defaults.insert(column.name.clone(), expr);
        }
    }
    Ok(defaults)
}

/// [`plan_defaults`] plus, for `CREATE TABLE`, a check that each default fits its column:
/// the default is cast to the column type and constant-folded (as an `INSERT` that omits the
/// column would), so `DOUBLE DEFAULT 'abc'` is refused at `CREATE` rather than failing every
/// later `INSERT`. Not run at open: a table stored before this check still opens.
///
/// # Errors
/// [`Error::InvalidDefault`] naming the column.
pub fn check_defaults(
    table: &str,
    metadata: &RegionMetadataRef,
    state: &SessionState,
) -> Result<(), Error> {
    use datafusion::logical_expr::simplify::SimplifyContext;
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    let defaults = plan_defaults(table, metadata, state)?;
    let empty = Arc::new(DFSchema::empty());
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(empty.clone())
            .with_current_time()
            .build(),
    );
    for column in &metadata.columns {
        let (Some(expr), Some(text)) = (defaults.get(&column.name), &column.default) else {
            continue;
        };
        let invalid = |source| Error::InvalidDefault {
            table: table.to_string(),
            column: column.name.clone(),
            default: text.clone(),
            source: Box::new(source),
        };
        let cast = datafusion::logical_expr::cast(expr.clone(), column.data_type.to_arrow());
        let value = simplifier.simplify(cast).map_err(invalid)?;
        // A JSON column's default must be JSON, as every value written is (the engine checks
        // writes; a default fills old rows on read without passing that check).
        if column.data_type == ColumnDataType::Json
            && let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &value
            && let Err(e) = crate::engine::metadata::check_json_text(text)
        {
            return Err(invalid(datafusion::error::DataFusionError::Plan(format!(
                "the default of a JSON column must be valid JSON ({e})"
            ))));
        }
    }
    Ok(())
}

#[async_trait]
impl TableProvider for TsdbTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let tag_filters = filters
            .iter()
            .filter_map(|f| tag_filter(f, &self.metadata))
            .collect();
        let field_filters = filters
            .iter()
            .filter_map(|f| field_filter(f, &self.metadata))
            .collect();
        let exec = self
            .scan_exec(projection, self.time_range(filters), limit)?
            .with_tag_filters(tag_filters)
            .with_field_filters(field_filters)
            .with_partitions(state.config().target_partitions(), MIN_PARTITION_ROWS);
        Ok(Arc::new(exec))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let time_index = self.time_index();
        Ok(filters
            .iter()
            .map(|f| {
                if is_exact_time_filter(f, &time_index) || field_filter(f, &self.metadata).is_some()
                {
                    TableProviderFilterPushDown::Exact
                } else if is_time_filter(f, &time_index) || tag_filter(f, &self.metadata).is_some()
                {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return not_impl_err!("{insert_op} is not supported for table '{}'", self.name);
        }
        let sink = RegionSink::new(
            self.name.clone(),
            self.region.clone(),
            self.metadata.clone(),
            SinkOp::Insert,
        );
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    async fn delete_from(
        &self,
        state: &dyn Session,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan: Arc<dyn ExecutionPlan> =
            Arc::new(self.scan_exec(None, self.time_range(&filters), None)?);
        let input = match conjunction(filters) {
            Some(predicate) => {
                let df_schema = DFSchema::try_from(self.schema.clone())?;
                let predicate = state.create_physical_expr(predicate, &df_schema)?;
                Arc::new(FilterExec::try_new(predicate, scan)?) as Arc<dyn ExecutionPlan>
            }
            None => scan,
        };
        let sink = RegionSink::new(
            self.name.clone(),
            self.region.clone(),
            self.metadata.clone(),
            SinkOp::Delete,
        );
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}
