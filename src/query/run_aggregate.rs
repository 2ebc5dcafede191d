//! Run-aware grouped `sum` and `avg` over `DOUBLE`: DataFusion's own functions, with a
//! groups accumulator that folds each run of consecutive rows of one group in a register.
//!
//! A region scan returns rows sorted by `(tags, ts)` within each run of sources, so a
//! `GROUP BY host, date_trunc('hour', ts)` sees hundreds of consecutive rows of the same
//! group. DataFusion's `AvgGroupsAccumulator` (`datafusion-functions-aggregate`
//! `average.rs`) adds every row into `sums[group]` and `counts[group]` in memory; on such
//! input each addition waits for the previous store to the same slot (store-to-load
//! forwarding plus the add's latency), and `NullState::accumulate` was 20% of the CPU of
//! TSBS double-groupby-all here. [`RunAwareAccumulator`] finds the runs of equal group
//! indexes, sums each run in eight independent lanes (vectorized) and hands the per-run
//! partial results to
//! DataFusion's accumulator (`merge_batch` with `(count, sum)` states for `avg`,
//! `update_batch` with one value per run for `sum`), which then does one memory update per
//! run. Batches whose runs are short (on average under [`MIN_AVERAGE_RUN`] rows), that have
//! nulls or a `FILTER`, go to DataFusion's accumulator unchanged.
//!
//! Results: a run's values are summed in lanes first and then added to the group's sum, so
//! the rounding of a float sum can differ in the last bits from DataFusion's row-at-a-time
//! order (as it already differs between partitionings; lane sums are as accurate or more). Everything else — name, aliases, signature,
//! type coercion, state fields, statistics, the row accumulator, `DISTINCT` — is DataFusion's
//! function's, delegated.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, UInt64Array};
use arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::{average::avg_udaf, sum::sum_udaf};
use datafusion::logical_expr::expr::{
    AggregateFunction, AggregateFunctionParams, WindowFunctionParams,
};
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, Expr, GroupsAccumulator,
    Operator, ReversedUDAF, SetMonotonicity, Signature, StatisticsArgs,
};

/// Batches whose runs of equal group indexes are shorter than this on average are passed to
/// DataFusion's accumulator as they are (folding short runs costs more than it saves).
pub const MIN_AVERAGE_RUN: usize = 8;

/// Which partial result a run is folded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fold {
    /// `sum`: one value per run, given to `update_batch`.
    Sum,
    /// `avg`: `(count, sum)` per run, given to `merge_batch` as the function's state.
    Avg,
}

/// DataFusion's `sum` or `avg` with a [`RunAwareAccumulator`] for `DOUBLE` input.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RunAwareAggregate {
    inner: Arc<AggregateUDF>,
    fold: Fold,
}

/// `sum` and `avg`, to register in place of DataFusion's (same names and aliases).
pub fn functions() -> Vec<AggregateUDF> {
    [(sum_udaf(), Fold::Sum), (avg_udaf(), Fold::Avg)]
        .into_iter()
        .map(|(inner, fold)| AggregateUDF::new_from_impl(RunAwareAggregate { inner, fold }))
        .collect()
}

impl RunAwareAggregate {
    fn inner(&self) -> &Arc<dyn AggregateUDFImpl> {
        self.inner.inner()
    }

    /// Whether `args` is the case the run-aware accumulator handles: one `DOUBLE` argument,
    /// not `DISTINCT`.
    fn folds(&self, args: &AccumulatorArgs) -> bool {
        !args.is_distinct
            && args.expr_fields.len() == 1
            && args.expr_fields[0].data_type() == &DataType::Float64
    }
}

impl AggregateUDFImpl for RunAwareAggregate {
    fn name(&self) -> &str {
        self.inner().name()
    }

    fn aliases(&self) -> &[String] {
        self.inner().aliases()
    }

    fn schema_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner().schema_name(params)
    }

    fn human_display(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner().human_display(params)
    }

    fn window_function_schema_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.inner().window_function_schema_name(params)
    }

    fn display_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner().display_name(params)
    }

    fn window_function_display_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.inner().window_function_display_name(params)
    }

    fn signature(&self) -> &Signature {
        self.inner().signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner().return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner().return_field(arg_fields)
    }

    fn is_nullable(&self) -> bool {
        self.inner().is_nullable()
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner().accumulator(acc_args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner().state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let folds = self.folds(&args);
        let inner = self.inner().create_groups_accumulator(args)?;
        Ok(if folds {
            Box::new(RunAwareAccumulator {
                inner,
                fold: self.fold,
            })
        } else {
            inner
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner().create_sliding_accumulator(args)
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Arc::clone(self.inner()).with_beneficial_ordering(beneficial_ordering)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner().order_sensitivity()
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner().simplify()
    }

    fn simplify_expr_op_literal(
        &self,
        agg_function: &AggregateFunction,
        arg: &Expr,
        op: Operator,
        lit: &Expr,
        arg_is_left: bool,
    ) -> Result<Option<Expr>> {
        self.inner()
            .simplify_expr_op_literal(agg_function, arg, op, lit, arg_is_left)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner().reverse_expr()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner().coerce_types(arg_types)
    }

    fn is_descending(&self) -> Option<bool> {
        self.inner().is_descending()
    }

    fn value_from_stats(&self, statistics_args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner().value_from_stats(statistics_args)
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner().default_value(data_type)
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.inner().supports_null_handling_clause()
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner().supports_within_group_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner().documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner().set_monotonicity(data_type)
    }
}

/// DataFusion's groups accumulator for `sum` / `avg` of `DOUBLE`, fed one partial result per
/// run of equal group indexes (see the module docs).
pub struct RunAwareAccumulator {
    inner: Box<dyn GroupsAccumulator>,
    fold: Fold,
}

/// Per-run partial results of one batch: the group, the sum of the run's values and its row
/// count, one entry per run of equal group indexes.
#[derive(Debug, Default, PartialEq)]
struct Runs {
    groups: Vec<usize>,
    sums: Vec<f64>,
    counts: Vec<u64>,
}

/// Runs checked before deciding whether the batch's runs are long enough.
const PROBE_RUNS: usize = 16;

/// Folds `values` by runs of equal `group_indices` (same length): one pass that finds each
/// run's end and sums its values in 8 independent lanes ([`sum_lanes`]). `None` when the runs
/// average under [`MIN_AVERAGE_RUN`] rows (decided after the first [`PROBE_RUNS`] runs, and
/// again at the end), so the caller hands the batch to DataFusion's accumulator instead.
fn fold_runs(group_indices: &[usize], values: &[f64]) -> Option<Runs> {
    let n = group_indices.len();
    if n == 0 || values.len() != n {
        return None;
    }
    let mut runs = Runs::default();
    let mut start = 0;
    while start < n {
        let group = group_indices[start];
        let end = start
            + group_indices[start..]
                .iter()
                .position(|g| *g != group)
                .unwrap_or(n - start);
        runs.groups.push(group);
        runs.sums.push(sum_lanes(&values[start..end]));
        runs.counts.push((end - start) as u64);
        if runs.groups.len() == PROBE_RUNS && end < PROBE_RUNS * MIN_AVERAGE_RUN {
            return None;
        }
        start = end;
    }
    (runs.groups.len() * MIN_AVERAGE_RUN <= n).then_some(runs)
}

/// The sum of `values` in 8 lanes (each a sequential sum of every 8th value), added
/// pairwise at the end: independent chains the compiler vectorizes, instead of one chain of
/// dependent additions.
fn sum_lanes(values: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    for (lane, v) in lanes.iter_mut().zip(tail) {
        *lane += v;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

impl GroupsAccumulator for RunAwareAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let plain = opt_filter.is_none()
            && values.len() == 1
            && values[0].data_type() == &DataType::Float64
            && values[0].null_count() == 0
            && values[0].len() == group_indices.len();
        let runs = plain
            .then(|| {
                fold_runs(
                    group_indices,
                    values[0].as_primitive::<Float64Type>().values(),
                )
            })
            .flatten();
        let Some(runs) = runs else {
            return self
                .inner
                .update_batch(values, group_indices, opt_filter, total_num_groups);
        };
        let sums: ArrayRef = Arc::new(Float64Array::from(runs.sums));
        match self.fold {
            Fold::Sum => self
                .inner
                .update_batch(&[sums], &runs.groups, None, total_num_groups),
            Fold::Avg => {
                let counts: ArrayRef = Arc::new(UInt64Array::from(runs.counts));
                self.inner
                    .merge_batch(&[counts, sums], &runs.groups, total_num_groups)
            }
        }
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.inner.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner.convert_to_state(values, opt_filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

#[cfg(test)]
mod tests;
