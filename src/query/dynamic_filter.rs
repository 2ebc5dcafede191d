//! Time ranges from DataFusion's dynamic filters: predicates an operator fills in while the
//! query runs, such as a hash join's bounds of its build side
//! (`datafusion-physical-plan` `joins/hash_join/shared_bounds.rs`: `col >= min AND col <= max
//! AND ...`) or a TopK's current threshold (`ts IS NULL OR ts > v`). [`RegionScanExec`]
//! accepts them for pruning only (the `FilterExec` above it still applies them) and takes a
//! snapshot when its stream is first polled: a hash join polls its probe side only after the
//! build side is complete, so lastpoint's probe scan reads just the newest timestamps.
//!
//! Like `time_filter`, the range is a superset of the rows the predicate keeps; a conjunct this
//! module does not understand constrains nothing.
//!
//! [`RegionScanExec`]: super::RegionScanExec

use std::sync::Arc;

use arrow::datatypes::TimeUnit;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, IsNullExpr, Literal};
use datafusion::physical_expr_common::physical_expr::snapshot_physical_expr;

use crate::engine::time_range::TimeRange;
use crate::query::time_filter::{scalar_bound, swap_comparison};

/// The time range the current state of `filters` allows for the time index column `name`
/// (values in `unit`): the intersection over all filters, [`TimeRange::all`] if none
/// constrains it. A filter whose snapshot fails constrains nothing.
pub fn dynamic_time_range(
    filters: &[Arc<dyn PhysicalExpr>],
    name: &str,
    unit: TimeUnit,
) -> TimeRange {
    filters
        .iter()
        .filter_map(|f| snapshot_physical_expr(Arc::clone(f)).ok())
        .filter_map(|f| physical_time_range(&f, name, unit))
        .fold(TimeRange::all(), |acc, r| acc.intersect(&r))
}

/// The range `expr` allows for column `name`, `None` if it does not constrain it.
pub fn physical_time_range(
    expr: &Arc<dyn PhysicalExpr>,
    name: &str,
    unit: TimeUnit,
) -> Option<TimeRange> {
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        let (left, op, right) = (binary.left(), *binary.op(), binary.right());
        return match op {
            Operator::And => {
                let l = physical_time_range(left, name, unit);
                let r = physical_time_range(right, name, unit);
                match (l, r) {
                    (Some(l), Some(r)) => Some(l.intersect(&r)),
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    (None, None) => None,
                }
            }
            Operator::Or => {
                let l = physical_time_range(left, name, unit)?;
                let r = physical_time_range(right, name, unit)?;
                Some(match (l.is_empty(), r.is_empty()) {
                    (true, _) => r,
                    (_, true) => l,
                    _ => l.union(&r),
                })
            }
            _ => {
                if is_column(left, name)
                    && let Some(lit) = right.downcast_ref::<Literal>()
                {
                    scalar_bound(op, lit.value(), unit)
                } else if is_column(right, name)
                    && let Some(lit) = left.downcast_ref::<Literal>()
                {
                    scalar_bound(swap_comparison(op)?, lit.value(), unit)
                } else {
                    None
                }
            }
        };
    }
    // The time index is never NULL: `ts IS NULL` selects nothing.
    if let Some(is_null) = expr.downcast_ref::<IsNullExpr>()
        && is_column(is_null.arg(), name)
    {
        return Some(TimeRange::new(i64::MAX, i64::MIN));
    }
    None
}

fn is_column(expr: &Arc<dyn PhysicalExpr>, name: &str) -> bool {
    expr.downcast_ref::<Column>()
        .is_some_and(|c| c.name() == name)
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;
    use datafusion::physical_expr::expressions::{binary, col, is_null, lit};

    use super::*;

    fn ts(v: i64) -> Arc<dyn PhysicalExpr> {
        lit(ScalarValue::TimestampMillisecond(Some(v), None))
    }

    #[test]
    fn join_bounds_and_topk_thresholds() {
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        let c = |name: &str| col(name, &schema).unwrap();
        let cmp = |l, op, r| binary(l, op, r, &schema).unwrap();
        // host >= 'a' AND host <= 'z' AND ts >= 10 AND ts <= 20
        let host = cmp(
            cmp(c("host"), Operator::GtEq, lit("a")),
            Operator::And,
            cmp(c("host"), Operator::LtEq, lit("z")),
        );
        let time = cmp(
            cmp(c("ts"), Operator::GtEq, ts(10)),
            Operator::And,
            cmp(ts(20), Operator::GtEq, c("ts")),
        );
        let join = cmp(host.clone(), Operator::And, time);
        let unit = TimeUnit::Millisecond;
        assert_eq!(
            physical_time_range(&join, "ts", unit),
            Some(TimeRange::new(10, 20))
        );
        assert_eq!(physical_time_range(&host, "ts", unit), None);
        // TopK: ts IS NULL OR ts > 100.
        let topk = cmp(
            is_null(c("ts")).unwrap(),
            Operator::Or,
            cmp(c("ts"), Operator::Gt, ts(100)),
        );
        assert_eq!(
            physical_time_range(&topk, "ts", unit),
            Some(TimeRange::new(101, i64::MAX))
        );
        // OR with a side that does not constrain ts constrains nothing.
        let mixed = cmp(host, Operator::Or, cmp(c("ts"), Operator::Gt, ts(100)));
        assert_eq!(physical_time_range(&mixed, "ts", unit), None);
        assert_eq!(
            dynamic_time_range(&[join, topk], "ts", unit),
            TimeRange::new(101, 20)
        );
        assert_eq!(dynamic_time_range(&[], "ts", unit), TimeRange::all());
    }
}
