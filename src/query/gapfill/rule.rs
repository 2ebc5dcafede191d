//! `HandleGapFill`: the analyzer rule that turns `date_bin_gapfill` into a `GapFill` node.
//!
//! For an aggregate grouping by `date_bin_gapfill(stride, ts[, origin])` (exactly once, at the
//! top of its GROUP BY expression) it
//! 1. replaces the marker by DataFusion's `date_bin` (keeping the column's name),
//! 2. finds the query's time range on `ts` in the filters below the aggregate
//!    (`ts >= a`, `ts > a`, `ts <= b`, `ts < b`, `ts BETWEEN a AND b`, either side, through
//!    projections, subquery aliases, sorts and limits, and in a scan's pushed filters); both
//!    ends are required and must not reference columns,
//! 3. puts a [`GapFill`] node above the aggregate: the other grouping columns are the series,
//!    every aggregate column is filled with NULL (or the aggregate's default, `count`'s 0).
//!
//! A projection directly above a `GapFill` node has its `locf(col)` / `interpolate(col)` calls
//! replaced by `col` (under the call's name) and the node's strategy for `col` set. Any
//! marker left anywhere else is a planning error. The rule runs after DataFusion's type
//! coercion, so the range bounds are already of the time column's type.
//!
//! Design and error messages from InfluxDB 3's `iox_query/src/analyzer/handle_gapfill.rs` and
//! `handle_gapfill/range_predicate.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{
    Transformed, TreeNode, TreeNodeRecursion, TreeNodeRewriter, TreeNodeVisitor,
};
use datafusion::common::{Column, DFSchema, ExprSchema, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::{Alias, ScalarFunction};
use datafusion::logical_expr::utils::{expr_to_columns, split_conjunction};
use datafusion::logical_expr::{
    Aggregate, Between, BinaryExpr, Cast, Expr, ExprSchemable, Extension, LogicalPlan, Operator,
    Projection,
};
use datafusion::optimizer::AnalyzerRule;

use super::algo::{FillStrategy, check_interpolable};
use super::node::{FillExpr, GapFill, RangeBound};
use super::udf::{DateBinGapfill, INTERPOLATE, LOCF};

/// The analyzer rule; see the module docs.
#[derive(Debug, Default)]
pub struct HandleGapFill;

impl AnalyzerRule for HandleGapFill {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(handle).map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tsdb_handle_gap_fill"
    }
}

fn handle(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let result = match plan {
        LogicalPlan::Aggregate(aggregate) => handle_aggregate(aggregate)?,
        LogicalPlan::Projection(projection) => handle_projection(projection)?,
        other => Transformed::no(other),
    };
    check_node(&result.data)?;
    Ok(result)
}

/// The marker functions, as found in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    DateBinGapfill,
    Locf,
    Interpolate,
}

fn marker(expr: &Expr) -> Option<Marker> {
    let Expr::ScalarFunction(ScalarFunction { func, .. }) = expr else {
        return None;
    };
    if func.inner().is::<DateBinGapfill>() {
        return Some(Marker::DateBinGapfill);
    }
    match func.name() {
        LOCF => Some(Marker::Locf),
        INTERPOLATE => Some(Marker::Interpolate),
        _ => None,
    }
}

fn markers(expr: &Expr) -> Result<Vec<Marker>> {
    struct Finder(Vec<Marker>);
    impl<'n> TreeNodeVisitor<'n> for Finder {
        type Node = Expr;
        fn f_down(&mut self, node: &'n Expr) -> Result<TreeNodeRecursion> {
            self.0.extend(marker(node));
            Ok(TreeNodeRecursion::Continue)
        }
    }
    let mut finder = Finder(Vec::new());
    expr.visit(&mut finder)?;
    Ok(finder.0)
}

/// Refuses a marker left in a node the rule did not rewrite.
fn check_node(plan: &LogicalPlan) -> Result<()> {
    for expr in plan.expressions() {
        if let Some(found) = markers(&expr)?.first() {
            return Err(DataFusionError::Plan(match found {
                Marker::DateBinGapfill => {
                    "date_bin_gapfill may only be used as a GROUP BY expression".to_string()
                }
                Marker::Locf => {
                    "locf may only be used in the SELECT list of a gap-filling query".to_string()
                }
                Marker::Interpolate => {
                    "interpolate may only be used in the SELECT list of a gap-filling query"
                        .to_string()
                }
            }));
        }
    }
    Ok(())
}

fn unwrap_alias(mut expr: &Expr) -> &Expr {
    while let Expr::Alias(Alias { expr: inner, .. }) = expr {
        expr = inner;
    }
    expr
}

fn handle_aggregate(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let mut found = None;
    let mut count = 0;
    for (i, expr) in aggregate.group_expr.iter().enumerate() {
        let n = markers(expr)?
            .iter()
            .filter(|m| **m == Marker::DateBinGapfill)
            .count();
        if n > 0 {
            found = Some(i);
            count += n;
        }
    }
    let index = match (count, found) {
        (0, _) | (_, None) => return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate))),
        (1, Some(i)) => i,
        _ => {
            return Err(DataFusionError::Plan(
                "DATE_BIN_GAPFILL specified more than once".into(),
            ));
        }
    };
    let Expr::ScalarFunction(call) = unwrap_alias(&aggregate.group_expr[index]) else {
        return Err(DataFusionError::Plan(
            "DATE_BIN_GAPFILL must be a top-level expression in the GROUP BY clause when gap \
             filling. It cannot be part of another expression or cast"
                .into(),
        ));
    };
    let Some(marker_udf) = call.func.inner().downcast_ref::<DateBinGapfill>() else {
        return Err(DataFusionError::Plan(
            "DATE_BIN_GAPFILL must be a top-level expression in the GROUP BY clause when gap \
             filling. It cannot be part of another expression or cast"
                .into(),
        ));
    };
    let args = call.args.clone();
    if !(2..=3).contains(&args.len()) {
        return Err(DataFusionError::Plan(format!(
            "DATE_BIN_GAPFILL expects 2 or 3 arguments, got {}",
            args.len()
        )));
    }
    let stride = args[0].clone();
    validate_scalar("stride argument to DATE_BIN_GAPFILL", &stride)?;
    let origin = args.get(2).cloned();
    if let Some(origin) = &origin {
        validate_scalar("origin argument to DATE_BIN_GAPFILL", origin)?;
    }
    let source = source_column(&args[1])?;
    let (start, end) = find_time_range(aggregate.input.as_ref(), &source)?;
    let (start, end) = match (start, end) {
        (None, None) => {
            return Err(DataFusionError::Plan(
                "gap-filling query is missing both upper and lower time bounds".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(DataFusionError::Plan(
                "gap-filling query is missing lower time bound".into(),
            ));
        }
        (Some(_), None) => {
            return Err(DataFusionError::Plan(
                "gap-filling query is missing upper time bound".into(),
            ));
        }
        (Some(start), Some(end)) => (start, end),
    };
    validate_scalar("lower time bound", &start.expr)?;
    validate_scalar("upper time bound", &end.expr)?;

    // The aggregate with date_bin in place of the marker, under the marker's name, so the
    // aggregate's schema (and everything above it) is unchanged.
    let name = aggregate.group_expr[index].schema_name().to_string();
    let date_bin = Expr::ScalarFunction(ScalarFunction {
        func: marker_udf.date_bin().clone(),
        args,
    })
    .alias(name);
    let mut group_expr = aggregate.group_expr.clone();
    group_expr[index] = date_bin;
    let schema = aggregate.schema.clone();
    let new_aggregate = Aggregate::try_new_with_schema(
        aggregate.input.clone(),
        group_expr,
        aggregate.aggr_expr.clone(),
        schema.clone(),
    )?;

    let group_count = aggregate.group_expr.len();
    let columns: Vec<Column> = schema.columns();
    if columns.len() != group_count + aggregate.aggr_expr.len() {
        return Err(DataFusionError::Plan(
            "gap filling does not support grouping sets".into(),
        ));
    }
    let series = (0..group_count)
        .filter(|i| *i != index)
        .map(|i| columns[i].clone())
        .collect();
    let fill = aggregate
        .aggr_expr
        .iter()
        .zip(&columns[group_count..])
        .map(|(expr, column)| {
            Ok(FillExpr {
                column: column.clone(),
                strategy: FillStrategy::Default(default_fill(expr, &schema, column)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let node = GapFill::try_new(
        Arc::new(LogicalPlan::Aggregate(new_aggregate)),
        series,
        columns[index].clone(),
        stride,
        origin,
        fill,
        start,
        end,
    )?;
    Ok(Transformed::yes(LogicalPlan::Extension(Extension {
        node: Arc::new(node),
    })))
}

/// What a gap row holds in an aggregate column by default: the aggregate's value for no
/// rows if it has one (`count`: 0), else NULL (InfluxDB's `default_return_value_for_aggr_fn`).
fn default_fill(expr: &Expr, schema: &DFSchema, column: &Column) -> Result<ScalarValue> {
    let data_type = schema.field_from_column(column)?.data_type().clone();
    match unwrap_alias(expr) {
        Expr::AggregateFunction(function) => function.func.default_value(&data_type),
        _ => ScalarValue::try_from(&data_type),
    }
}

fn validate_scalar(what: &str, expr: &Expr) -> Result<()> {
    let mut columns = HashSet::new();
    expr_to_columns(expr, &mut columns)?;
    if columns.is_empty() {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "{what} for gap fill query must evaluate to a scalar"
        )))
    }
}

fn source_column(expr: &Expr) -> Result<Column> {
    match unwrap_alias(expr) {
        Expr::Column(column) => Ok(column.clone()),
        Expr::Cast(Cast { expr, .. }) => source_column(expr),
        _ => Err(DataFusionError::Plan(
            "DATE_BIN_GAPFILL requires a column as the source argument".into(),
        )),
    }
}

/// The lower and upper bounds on `column` in the filters of `plan` and below it.
fn find_time_range(
    plan: &LogicalPlan,
    column: &Column,
) -> Result<(Option<RangeBound>, Option<RangeBound>)> {
    let mut range = TimeRange {
        column: column.clone(),
        start: None,
        end: None,
    };
    plan.visit(&mut range)?;
    Ok((range.start, range.end))
}

struct TimeRange {
    column: Column,
    start: Option<RangeBound>,
    end: Option<RangeBound>,
}

impl TimeRange {
    fn is_time(&self, expr: &Expr) -> bool {
        match unwrap_alias(expr) {
            Expr::Column(c) => {
                c.name == self.column.name
                    && (c.relation.is_none()
                        || self.column.relation.is_none()
                        || c.relation == self.column.relation)
            }
            Expr::Cast(Cast { expr, .. }) => self.is_time(expr),
            _ => false,
        }
    }

    fn add(&mut self, predicate: &Expr) {
        let bound = |expr: &Expr, inclusive| {
            Some(RangeBound {
                expr: expr.clone(),
                inclusive,
            })
        };
        match predicate {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, other) = if self.is_time(left) {
                    (*op, right.as_ref())
                } else if self.is_time(right) {
                    match op.swap() {
                        Some(op) => (op, left.as_ref()),
                        None => return,
                    }
                } else {
                    return;
                };
                match op {
                    Operator::Lt => self.end = bound(other, false),
                    Operator::LtEq => self.end = bound(other, true),
                    Operator::Gt => self.start = bound(other, false),
                    Operator::GtEq => self.start = bound(other, true),
                    _ => {}
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if self.is_time(expr) => {
                self.start = bound(low, true);
                self.end = bound(high, true);
            }
            _ => {}
        }
    }
}

impl<'n> TreeNodeVisitor<'n> for TimeRange {
    type Node = LogicalPlan;

    fn f_down(&mut self, plan: &'n LogicalPlan) -> Result<TreeNodeRecursion> {
        match plan {
            LogicalPlan::Projection(p) => {
                let Ok(index) = p.schema.index_of_column(&self.column) else {
                    return Ok(TreeNodeRecursion::Stop);
                };
                match unwrap_alias(&p.expr[index]) {
                    Expr::Column(c) => {
                        self.column = c.clone();
                        Ok(TreeNodeRecursion::Continue)
                    }
                    _ => Ok(TreeNodeRecursion::Stop),
                }
            }
            LogicalPlan::Filter(f) => {
                for predicate in split_conjunction(&f.predicate) {
                    self.add(predicate);
                }
                Ok(TreeNodeRecursion::Continue)
            }
            LogicalPlan::TableScan(scan) => {
                for predicate in scan.filters.iter().flat_map(split_conjunction) {
                    self.add(predicate);
                }
                Ok(TreeNodeRecursion::Continue)
            }
            LogicalPlan::SubqueryAlias(_) => {
                self.column.relation = None;
                Ok(TreeNodeRecursion::Continue)
            }
            LogicalPlan::Sort(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Distinct(_) => Ok(TreeNodeRecursion::Continue),
            _ => Ok(TreeNodeRecursion::Stop),
        }
    }
}

fn handle_projection(projection: Projection) -> Result<Transformed<LogicalPlan>> {
    let gap_fill = match projection.input.as_ref() {
        LogicalPlan::Extension(Extension { node }) => node.as_any().downcast_ref::<GapFill>(),
        _ => None,
    };
    let Some(gap_fill) = gap_fill else {
        return Ok(Transformed::no(LogicalPlan::Projection(projection)));
    };
    let mut rewriter = FillRewriter { found: Vec::new() };
    let exprs = projection
        .expr
        .iter()
        .map(|e| e.clone().rewrite(&mut rewriter).map(|t| t.data))
        .collect::<Result<Vec<_>>>()?;
    let mut node = gap_fill.clone();
    let mut seen = HashSet::new();
    for (arg, strategy, name) in rewriter.found {
        let column = match unwrap_alias(&arg) {
            Expr::Column(column) => column.clone(),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "{name} must be called on an aggregate column in a gap-filling query"
                )));
            }
        };
        if !seen.insert(column.clone()) {
            return Err(DataFusionError::NotImplemented(
                "multiple fill strategies for the same column".into(),
            ));
        }
        if strategy == FillStrategy::Interpolate {
            check_interpolable(&arg.get_type(node.input.schema())?)?;
        }
        if node.replace_strategy(&column, strategy).is_none() {
            return Err(DataFusionError::Plan(format!(
                "{name} must be called on an aggregate column in a gap-filling query"
            )));
        }
    }
    let node = GapFill::try_new(
        node.input.clone(),
        node.series.clone(),
        node.time.clone(),
        node.stride.clone(),
        node.origin.clone(),
        node.fill.clone(),
        node.start.clone(),
        node.end.clone(),
    )?;
    let input = Arc::new(LogicalPlan::Extension(Extension {
        node: Arc::new(node),
    }));
    // Rebuilt even without fill calls: the node made the aggregate columns nullable.
    Ok(Transformed::yes(LogicalPlan::Projection(
        Projection::try_new(exprs, input)?,
    )))
}

/// Replaces `locf(x)` / `interpolate(x)` by `x` under the call's name, noting each.
struct FillRewriter {
    found: Vec<(Expr, FillStrategy, &'static str)>,
}

impl TreeNodeRewriter for FillRewriter {
    type Node = Expr;

    fn f_up(&mut self, expr: Expr) -> Result<Transformed<Expr>> {
        let (strategy, name) = match marker(&expr) {
            Some(Marker::Locf) => (FillStrategy::Locf, LOCF),
            Some(Marker::Interpolate) => (FillStrategy::Interpolate, INTERPOLATE),
            _ => return Ok(Transformed::no(expr)),
        };
        let alias = expr.schema_name().to_string();
        let Expr::ScalarFunction(ScalarFunction { mut args, .. }) = expr else {
            return Ok(Transformed::no(expr));
        };
        if args.len() != 1 {
            return Err(DataFusionError::Plan(format!(
                "{name} expects exactly one argument"
            )));
        }
        let arg = args.remove(0);
        self.found.push((arg.clone(), strategy, name));
        Ok(Transformed::yes(arg.alias(alias)))
    }
}
