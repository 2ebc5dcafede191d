//! [`IntegerTimestampComparison`]: lets SQL compare a timestamp column with an integer, as
//! GreptimeDB does (`WHERE ts >= 1000`, `ts BETWEEN 0 AND 5000`, `ts IN (1, 2)`). The integer
//! is the raw value in the column's unit. DataFusion's own type coercion rejects
//! `Timestamp >= Int64`, so this analyzer rule runs before it and turns such integer literals
//! into timestamp literals of the column's type.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule; see the module docs.
#[derive(Debug, Default)]
pub struct IntegerTimestampComparison;

impl AnalyzerRule for IntegerTimestampComparison {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let schema = if plan.inputs().is_empty() {
                plan.schema().as_ref().clone()
            } else {
                merge_schema(&plan.inputs())
            };
            plan.map_expressions(|expr| expr.transform_up(|e| rewrite(e, &schema)))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tsdb_integer_timestamp_comparison"
    }
}

/// The type of a timestamp column reference, else `None`.
fn timestamp_column(expr: &Expr, schema: &DFSchema) -> Option<(TimeUnit, Option<Arc<str>>)> {
    if !matches!(expr, Expr::Column(_)) {
        return None;
    }
    match expr.get_type(schema).ok()? {
        DataType::Timestamp(unit, tz) => Some((unit, tz)),
        _ => None,
    }
}

/// `lit` as a timestamp literal of `(unit, tz)` if it is an integer literal.
fn as_timestamp(lit: &Expr, (unit, tz): &(TimeUnit, Option<Arc<str>>)) -> Option<Expr> {
    let Expr::Literal(scalar, _) = lit else {
        return None;
    };
    let value = match scalar {
        ScalarValue::Int8(v) => v.map(i64::from),
        ScalarValue::Int16(v) => v.map(i64::from),
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::Int64(v) => *v,
        ScalarValue::UInt8(v) => v.map(i64::from),
        ScalarValue::UInt16(v) => v.map(i64::from),
        ScalarValue::UInt32(v) => v.map(i64::from),
        ScalarValue::UInt64(v) => match v {
            Some(v) => Some(i64::try_from(*v).ok()?),
            None => None,
        },
        _ => return None,
    };
    let tz = tz.clone();
    let scalar = match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(value, tz),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(value, tz),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(value, tz),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(value, tz),
    };
    Some(Expr::Literal(scalar, None))
}

fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            if let Some(t) = timestamp_column(&left, schema)
                && let Some(new_right) = as_timestamp(&right, &t)
            {
                Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    left,
                    op,
                    Box::new(new_right),
                )))
            } else if let Some(t) = timestamp_column(&right, schema)
                && let Some(new_left) = as_timestamp(&left, &t)
            {
                Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(new_left),
                    op,
                    right,
                )))
            } else {
                Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right }))
            }
        }
        Expr::Between(between) => match timestamp_column(&between.expr, schema) {
            Some(t) => {
                let low = as_timestamp(&between.low, &t);
                let high = as_timestamp(&between.high, &t);
                if low.is_none() && high.is_none() {
                    Transformed::no(Expr::Between(between))
                } else {
                    Transformed::yes(Expr::Between(Between {
                        low: Box::new(low.unwrap_or(*between.low)),
                        high: Box::new(high.unwrap_or(*between.high)),
                        ..between
                    }))
                }
            }
            None => Transformed::no(Expr::Between(between)),
        },
        Expr::InList(in_list) => match timestamp_column(&in_list.expr, schema) {
            Some(t) if in_list.list.iter().any(|e| as_timestamp(e, &t).is_some()) => {
                let list = in_list
                    .list
                    .into_iter()
                    .map(|e| as_timestamp(&e, &t).unwrap_or(e))
                    .collect();
                Transformed::yes(Expr::InList(InList {
                    expr: in_list.expr,
                    list,
                    negated: in_list.negated,
                }))
            }
            _ => Transformed::no(Expr::InList(in_list)),
        },
        other => Transformed::no(other),
    })
}

/// DataFusion's default analyzer rules with [`IntegerTimestampComparison`] inserted before
/// type coercion.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = datafusion::optimizer::Analyzer::new().rules;
    let position = rules
        .iter()
        .position(|r| r.name() == "type_coercion")
        .unwrap_or(0);
    rules.insert(position, Arc::new(IntegerTimestampComparison));
    rules
}
