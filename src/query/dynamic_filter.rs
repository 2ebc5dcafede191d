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
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, CaseExpr, Column, IsNullExpr, Literal};
use datafusion::physical_expr_common::physical_expr::snapshot_physical_expr;

use crate::engine::time_range::TimeRange;
use crate::query::time_filter::{scalar_bound, swap_comparison, union};

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
                Some(union(l, r))
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
    // A partitioned hash join: `CASE hash % n WHEN 0 THEN bounds_0 ... ELSE false END`. A row
    // passes through one branch, so the union of the branches' ranges bounds it.
    if let Some(case) = expr.downcast_ref::<CaseExpr>() {
        let mut covered = empty();
        for (_when, then) in case.when_then_expr() {
            covered = union(covered, physical_time_range(then, name, unit)?);
        }
        // No ELSE yields NULL: the row is dropped.
        if let Some(otherwise) = case.else_expr() {
            covered = union(covered, physical_time_range(otherwise, name, unit)?);
        }
        return Some(covered);
    }
    if let Some(lit) = expr.downcast_ref::<Literal>()
        && matches!(
            lit.value(),
            ScalarValue::Boolean(Some(false)) | ScalarValue::Boolean(None)
        )
    {
        return Some(empty());
    }
    // The time index is never NULL: `ts IS NULL` selects nothing.
    if let Some(is_null) = expr.downcast_ref::<IsNullExpr>()
        && is_column(is_null.arg(), name)
    {
        return Some(empty());
    }
    None
}

/// The range no row is in.
fn empty() -> TimeRange {
    TimeRange::new(i64::MAX, i64::MIN)
}

fn is_column(expr: &Arc<dyn PhysicalExpr>, name: &str) -> bool {
    expr.downcast_ref::<Column>()
        .is_some_and(|c| c.name() == name)
}

#[cfg(test)]
mod tests {
    use datafusion::physical_expr::expressions::{binary, case, col, is_null, lit};

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
        // Partitioned join: CASE over per-partition bounds, ELSE false.
        let bounds = |lo, hi| {
            cmp(
                cmp(c("ts"), Operator::GtEq, ts(lo)),
                Operator::And,
                cmp(c("ts"), Operator::LtEq, ts(hi)),
            )
        };
        let when = |v: i64| lit(ScalarValue::Int64(Some(v)));
        let partitioned = case(
            Some(c("ts")),
            vec![(when(0), bounds(10, 20)), (when(1), bounds(30, 40))],
            Some(lit(false)),
        )
        .unwrap();
        assert_eq!(
            physical_time_range(&partitioned, "ts", unit),
            Some(TimeRange::new(10, 40))
        );
        // A branch that does not constrain ts makes the whole CASE unconstrained.
        let open = case(
            Some(c("ts")),
            vec![(when(0), bounds(10, 20)), (when(1), lit(true))],
            None,
        )
        .unwrap();
        assert_eq!(physical_time_range(&open, "ts", unit), None);
    }
}
