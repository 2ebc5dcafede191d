//! [`RunGroupedAggregateExec`]: a partial aggregate that finds each row's group once per run
//! of equal group keys instead of once per row, and [`RunGroupingRule`], which puts it in
//! place of DataFusion's partial `AggregateExec` over a region scan.
//!
//! A region scan returns the rows of each run of sources sorted by `(tags, ts)`, so under
//! `GROUP BY hostname, date_trunc('hour', ts)` the rows of one group come together, hundreds
//! in a row. DataFusion's partial aggregate (`GroupValuesColumn::intern`,
//! `datafusion-physical-plan` `aggregates/group_values/multi_group_by/`) hashes and compares
//! every row's key: about a third of the CPU of TSBS double-groupby-1 here. This operator
//! cuts each batch into runs of equal keys (arrow's `partition`, vectorized comparisons of
//! neighbours), looks up one key per run ([`RowConverter`] bytes in a hash map), and feeds
//! DataFusion's own groups accumulators with the per-row group indexes, so the partial
//! states, and the final aggregate above, are DataFusion's.
//!
//! Correct for any input order: a group split over several runs just gets one index found
//! several times. The rule applies only where runs are long because the engine sorts that way
//! (keys made of tags and truncations of the time index, over the scan or filters on it), a single
//! group set, and aggregates without `DISTINCT`, `ORDER BY` or `FILTER`. At most
//! [`MAX_GROUPS`] groups are held: beyond, the partial states are emitted and it starts over
//! (a partial aggregate may emit a group more than once; the final one merges them).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::kernels::partition::partition;
use arrow::compute::take;
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimeUnit};
use arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use crate::query::scan_exec::RegionScanExec;

/// Groups held before the partial states are emitted and the operator starts over.
pub const MAX_GROUPS: usize = 1 << 16;

/// Puts a [`RunGroupedAggregateExec`] in place of every partial `AggregateExec` whose input is
/// a [`RegionScanExec`] and whose keys come in runs (see the module docs).
#[derive(Debug, Default)]
pub struct RunGroupingRule;

impl PhysicalOptimizerRule for RunGroupingRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !qualifies(aggregate) {
                return Ok(Transformed::no(node));
            }
            let exec = RunGroupedAggregateExec::new(Arc::new(aggregate.clone()));
            Ok(Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "run_grouping"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `aggregate` is a partial aggregate the run-grouped one can replace with long runs.
fn qualifies(aggregate: &AggregateExec) -> bool {
    // The scan, maybe below filters that keep its columns (a tag filter DataFusion applies).
    let mut below = aggregate.input();
    while let Some(filter) = below.downcast_ref::<FilterExec>() {
        if filter.projection().is_some() {
            return false;
        }
        below = filter.input();
    }
    let Some(scan) = below.downcast_ref::<RegionScanExec>() else {
        return false;
    };
    let group_by = aggregate.group_expr();
    if *aggregate.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.expr().is_empty()
        || aggregate.limit_options().is_some()
        || !aggregate.dynamic_expressions_produced().is_empty()
        || aggregate.filter_expr().iter().any(Option::is_some)
    {
        return false;
    }
    let metadata = scan.region().metadata();
    let time_index = metadata.time_index_column().name.clone();
    let input_schema = aggregate.input_schema();
    let keys_ok = group_by.expr().iter().all(|(expr, _)| {
        let Ok(data_type) = expr.data_type(&input_schema) else {
            return false;
        };
        round_trips(&data_type)
            && clustered_key(expr.as_ref(), &|name| metadata.is_tag(name), &time_index)
    });
    keys_ok
        && aggregate.aggr_expr().iter().all(|a| {
            !a.is_distinct() && a.order_bys().is_empty() && a.groups_accumulator_supported()
        })
}

/// Key types whose [`RowConverter`] round trip gives the same type back.
fn round_trips(data_type: &DataType) -> bool {
    data_type.is_primitive()
        || matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Boolean | DataType::Binary
        )
}

/// A tag column, or `date_trunc` / `date_bin` of the time index (constant other arguments):
/// keys that stay equal over a series' consecutive rows.
fn clustered_key(expr: &dyn PhysicalExpr, is_tag: &dyn Fn(&str) -> bool, time_index: &str) -> bool {
    if let Some(column) = expr.downcast_ref::<Column>() {
        return is_tag(column.name());
    }
    let Some(function) = expr.downcast_ref::<ScalarFunctionExpr>() else {
        return false;
    };
    if !matches!(function.name(), "date_trunc" | "date_bin") {
        return false;
    }
    let mut columns = Vec::new();
    for arg in function.args() {
        let _ = arg.apply(|e| {
            if let Some(column) = e.downcast_ref::<Column>() {
                columns.push(column.name().to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    columns.len() == 1 && columns[0] == time_index
}

/// DataFusion's partial aggregate `aggregate`, run with one key lookup per run of equal keys.
#[derive(Debug)]
pub struct RunGroupedAggregateExec {
    aggregate: Arc<AggregateExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl RunGroupedAggregateExec {
    /// Runs `aggregate` (a partial aggregate: see [`RunGroupingRule`]) this way.
    pub fn new(aggregate: Arc<AggregateExec>) -> Self {
        RunGroupedAggregateExec {
            aggregate,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for RunGroupedAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        let aggregates: Vec<&str> = self
            .aggregate
            .aggr_expr()
            .iter()
            .map(|a| a.name())
            .collect();
        write!(
            f,
            "RunGroupedAggregateExec: mode=Partial, gby=[{}], aggr=[{}]",
            keys.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for RunGroupedAggregateExec {
    fn name(&self) -> &str {
        "RunGroupedAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate).replace_children(children, options)?;
        let Some(aggregate) = aggregate.downcast_ref::<AggregateExec>() else {
            return Err(DataFusionError::Internal(
                "RunGroupedAggregateExec: the aggregate changed kind".into(),
            ));
        };
        Ok(Arc::new(RunGroupedAggregateExec::new(Arc::new(
            aggregate.clone(),
        ))))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.aggregate.input().execute(partition, context)?;
        let state = StreamState {
            input: Some(input),
            grouping: RunGrouping::new(&self.aggregate)?,
            baseline: BaselineMetrics::new(&self.metrics, partition),
        };
        let stream = futures::stream::unfold(state, |mut state| async move {
            let result = state.next().await?;
            Some((result, state))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.aggregate.schema(),
            stream,
        )))
    }
}

/// The input and the groups of one partition's stream.
struct StreamState {
    /// `None` once the input has ended or failed.
    input: Option<SendableRecordBatchStream>,
    grouping: RunGrouping,
    baseline: BaselineMetrics,
}

impl StreamState {
    /// The next output batch: partial states emitted at [`MAX_GROUPS`], or at the end.
    async fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            let input = self.input.as_mut()?;
            let pushed = match input.next().await {
                Some(Ok(batch)) => {
                    let _timer = self.baseline.elapsed_compute().timer();
                    self.grouping.push(&batch)
                }
                Some(Err(e)) => Err(e),
                None => {
                    self.input = None;
                    let _timer = self.baseline.elapsed_compute().timer();
                    self.grouping.finish()
                }
            };
            match pushed {
                Ok(None) => continue,
                Ok(Some(batch)) => {
                    self.baseline.record_output(batch.num_rows());
                    return Some(Ok(batch));
                }
                Err(e) => {
                    self.input = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The groups found so far (their keys in row format, and an index by key bytes) and
/// DataFusion's accumulators of the aggregates over them.
struct RunGrouping {
    schema: SchemaRef,
    keys: Vec<Key>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    converter: RowConverter,
    /// Key of group `i` at row `i`.
    groups: Rows,
    index: HashMap<Box<[u8]>, usize>,
    /// Scratch: the group of every row of the batch being added.
    group_indices: Vec<usize>,
}

impl RunGrouping {
    fn new(aggregate: &AggregateExec) -> Result<Self> {
        let input_schema = aggregate.input_schema();
        let keys: Vec<Arc<dyn PhysicalExpr>> = aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(expr, _)| Arc::clone(expr))
            .collect();
        let fields = keys
            .iter()
            .map(|k| k.data_type(&input_schema).map(SortField::new))
            .collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(fields)?;
        let aggregates: &[Arc<AggregateFunctionExpr>] = aggregate.aggr_expr();
        Ok(RunGrouping {
            schema: aggregate.schema(),
            arguments: aggregates.iter().map(|a| a.expressions()).collect(),
            accumulators: aggregates
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
            groups: converter.empty_rows(0, 0),
            converter,
            keys: keys
                .into_iter()
                .map(|expr| Key::new(expr, &input_schema))
                .collect(),
            index: HashMap::new(),
            group_indices: Vec::new(),
        })
    }

    /// Adds `batch`; returns the partial states if [`MAX_GROUPS`] groups are now held.
    fn push(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(None);
        }
        let keys = self
            .keys
            .iter()
            .map(|k| k.evaluate(batch))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let runs = partition(&keys)?.ranges();
        let starts = UInt32Array::from_iter_values(runs.iter().map(|r| r.start as u32));
        let firsts = keys
            .iter()
            .map(|k| take(k.as_ref(), &starts, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let run_keys = self.converter.convert_columns(&firsts)?;
        self.group_indices.clear();
        for (i, run) in runs.iter().enumerate() {
            let key = run_keys.row(i);
            let group = match self.index.get(key.as_ref()) {
                Some(&group) => group,
                None => {
                    let group = self.groups.num_rows();
                    self.groups.push(key);
                    self.index.insert(key.as_ref().into(), group);
                    group
                }
            };
            self.group_indices
                .extend(std::iter::repeat_n(group, run.end - run.start));
        }
        let total_groups = self.groups.num_rows();
        for (accumulator, arguments) in self.accumulators.iter_mut().zip(&self.arguments) {
            let values = arguments
                .iter()
                .map(|a| a.evaluate(batch).and_then(|v| v.into_array(rows)))
                .collect::<Result<Vec<ArrayRef>>>()?;
            accumulator.update_batch(&values, &self.group_indices, None, total_groups)?;
        }
        if total_groups >= MAX_GROUPS {
            return self.emit().map(Some);
        }
        Ok(None)
    }

    /// The partial states of the groups held, if any, at the end of the input.
    fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.groups.num_rows() == 0 {
            return Ok(None);
        }
        self.emit().map(Some)
    }

    /// Every group's key and partial states, in the partial aggregate's schema; starts over.
    fn emit(&mut self) -> Result<RecordBatch> {
        let mut columns = self.converter.convert_rows(&self.groups)?;
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        self.groups = self.converter.empty_rows(0, 0);
        self.index.clear();
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// A group key and how it is computed.
enum Key {
    /// Any expression, evaluated by DataFusion.
    Expr(Arc<dyn PhysicalExpr>),
    /// `date_trunc` of a time-zone-less timestamp column (`column` in the batch) to a unit of
    /// fixed length, `step` of the column's unit: DataFusion's fine-granularity result
    /// (`v - v.rem_euclid(step)`, `datafusion-functions` `date_trunc.rs`), computed with one
    /// division per bucket instead of one per row (the rows of a series come in time order).
    Bucket {
        column: usize,
        step: i64,
        data_type: DataType,
    },
}

impl Key {
    fn new(expr: Arc<dyn PhysicalExpr>, schema: &arrow::datatypes::Schema) -> Key {
        let bucket = expr
            .downcast_ref::<ScalarFunctionExpr>()
            .filter(|f| f.name() == "date_trunc")
            .and_then(|f| match f.args() {
                [granularity, column] => {
                    let granularity = granularity.downcast_ref::<Literal>()?;
                    let column = column.downcast_ref::<Column>()?;
                    Some((granularity.value().clone(), column.index()))
                }
                _ => None,
            })
            .and_then(|(granularity, column)| {
                let (ScalarValue::Utf8(Some(granularity))
                | ScalarValue::Utf8View(Some(granularity))
                | ScalarValue::LargeUtf8(Some(granularity))) = granularity
                else {
                    return None;
                };
                let data_type = schema.fields().get(column)?.data_type().clone();
                let DataType::Timestamp(unit, None) = &data_type else {
                    return None;
                };
                let step = fixed_step(*unit, &granularity.to_lowercase())?;
                Some(Key::Bucket {
                    column,
                    step,
                    data_type,
                })
            });
        bucket.unwrap_or(Key::Expr(expr))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        match self {
            Key::Expr(expr) => expr.evaluate(batch)?.into_array(batch.num_rows()),
            Key::Bucket {
                column,
                step,
                data_type,
            } => {
                let column = batch.column(*column);
                let timestamps = arrow::compute::cast(column, &DataType::Int64)?;
                let timestamps = timestamps.as_primitive::<Int64Type>();
                let buckets = Int64Array::new(
                    buckets(timestamps.values(), *step).into(),
                    column.nulls().cloned(),
                );
                Ok(arrow::compute::cast(&buckets, data_type)?)
            }
        }
    }
}

/// The length of `granularity` in `unit`, for the granularities of fixed length in UTC that
/// are coarser than the unit (as DataFusion's fast path).
fn fixed_step(unit: TimeUnit, granularity: &str) -> Option<i64> {
    let seconds = match granularity {
        "second" => 1,
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        _ => return None,
    };
    let per_second = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    (seconds * per_second > 1).then_some(seconds * per_second)
}

/// `v - v.rem_euclid(step)` for every value, dividing only when a value leaves the bucket
/// of the one before it. (A wrapped `i64::MIN` bucket is below its value: the next value
/// is then outside it and divides again, so the results stay exact.)
fn buckets(values: &[i64], step: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(values.len());
    // The current bucket [start, end); empty at first.
    let (mut start, mut end) = (1_i64, 0_i64);
    for &v in values {
        if v < start || v >= end {
            // Wrapping at i64::MIN, as DataFusion's (release) arithmetic does.
            start = v.wrapping_sub(v.rem_euclid(step));
            end = start.saturating_add(step);
        }
        out.push(start);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_the_division() {
        let step = 60_000;
        let values: Vec<i64> = [
            0, 1, 59_999, 60_000, -1, -60_000, -60_001, 5, 119_999, 120_000,
        ]
        .into_iter()
        .chain((0..500).map(|i| i * 7_919 - 1_000_000))
        .chain([i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1])
        .collect();
        let expected: Vec<i64> = values
            .iter()
            .map(|v| v.wrapping_sub(v.rem_euclid(step)))
            .collect();
        assert_eq!(buckets(&values, step), expected);
        assert_eq!(fixed_step(TimeUnit::Millisecond, "hour"), Some(3_600_000));
        assert_eq!(fixed_step(TimeUnit::Second, "second"), None);
        assert_eq!(fixed_step(TimeUnit::Second, "week"), None);
    }
}
