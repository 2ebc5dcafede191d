//! Turns DataFusion filter expressions on the time index into a [`TimeRange`] the engine can
//! prune with.
//!
//! The range is always a *superset* of the rows the filters select (filters are pushed down
//! as `Inexact`, so DataFusion re-applies them). Recognised shapes, on the time index column
//! `ts` (optionally wrapped in a lossless cast to a finer timestamp unit):
//! `ts >= lit`, `ts > lit`, `ts < lit`, `ts <= lit`, `ts = lit` (either side),
//! `ts BETWEEN lo AND hi`, and `AND`/`OR` combinations of those. Literals may be timestamps of
//! any unit (converted to the column's unit with rounding that keeps the range a superset) or
//! integers (taken as raw values in the column's unit).

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::engine::time_range::TimeRange;

/// The time index column a filter is matched against.
#[derive(Debug, Clone)]
pub struct TimeIndex<'a> {
    /// Column name.
    pub name: &'a str,
    /// Unit of the stored values.
    pub unit: TimeUnit,
}

/// Intersects the ranges of every filter that constrains the time index; filters that do not
/// are ignored. Returns [`TimeRange::all`] when none does.
pub fn extract_time_range(filters: &[Expr], time_index: &TimeIndex<'_>) -> TimeRange {
    filters
        .iter()
        .filter_map(|f| time_range_of(f, time_index))
        .fold(TimeRange::all(), |acc, r| acc.intersect(&r))
}

/// Whether `expr` is a filter this module turns into a range.
pub fn is_time_filter(expr: &Expr, time_index: &TimeIndex<'_>) -> bool {
    time_range_of(expr, time_index).is_some()
}

/// Whether the engine's time range for `expr` selects exactly the rows `expr` does, so the
/// filter can be pushed down as `Exact` (the engine filters rows by the range in every read
/// path: `read/unique.rs`, `read/merge.rs`, the memtable iterator). True for comparisons and
/// `BETWEEN` of the bare time index column with timestamp literals (their unit conversion is
/// exact, see [`bound`]), `AND`s of those, and `OR`s of those whose ranges overlap or touch.
/// Not for integer literals (DataFusion's meaning of the comparison decides), casts of the
/// column (the cast could fail or overflow where the range cannot), or `AND` with another
/// predicate.
pub fn is_exact_time_filter(expr: &Expr, time_index: &TimeIndex<'_>) -> bool {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => {
                is_exact_time_filter(left, time_index) && is_exact_time_filter(right, time_index)
            }
            Operator::Or => {
                if !(is_exact_time_filter(left, time_index)
                    && is_exact_time_filter(right, time_index))
                {
                    return false;
                }
                match (
                    time_range_of(left, time_index),
                    time_range_of(right, time_index),
                ) {
                    (Some(l), Some(r)) => {
                        l.is_empty() || r.is_empty() || touches(&l, &r) || touches(&r, &l)
                    }
                    _ => false,
                }
            }
            _ => {
                exact_comparison(left, right, time_index)
                    && comparison(left, *op, right, time_index).is_some()
            }
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            exact_comparison(expr, low, time_index)
                && exact_comparison(expr, high, time_index)
                && time_range_of_between(expr, low, high, time_index).is_some()
        }
        _ => false,
    }
}

/// Whether `a` and `b` overlap or `b` starts right after `a` ends (their union has no gap).
fn touches(a: &TimeRange, b: &TimeRange) -> bool {
    a.min <= b.min && i128::from(b.min) <= i128::from(a.max) + 1
}

/// `left`/`right` are the bare time index column and a timestamp literal (either order).
fn exact_comparison(left: &Expr, right: &Expr, time_index: &TimeIndex<'_>) -> bool {
    let bare = |e: &Expr| matches!(e, Expr::Column(c) if c.name == time_index.name);
    let timestamp = |e: &Expr| literal(e).is_some_and(|l| l.unit.is_some());
    (bare(left) && timestamp(right)) || (timestamp(left) && bare(right))
}

fn time_range_of_between(
    expr: &Expr,
    low: &Expr,
    high: &Expr,
    time_index: &TimeIndex<'_>,
) -> Option<TimeRange> {
    let lo = comparison(expr, Operator::GtEq, low, time_index)?;
    let hi = comparison(expr, Operator::LtEq, high, time_index)?;
    Some(lo.intersect(&hi))
}

/// The range selected by `expr`, or `None` if `expr` is not (entirely) a time index filter.
pub fn time_range_of(expr: &Expr, time_index: &TimeIndex<'_>) -> Option<TimeRange> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => {
                // For AND, a side we cannot use is simply not a constraint.
                let l = time_range_of(left, time_index);
                let r = time_range_of(right, time_index);
                match (l, r) {
                    (Some(l), Some(r)) => Some(l.intersect(&r)),
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    (None, None) => None,
                }
            }
            Operator::Or => {
                let l = time_range_of(left, time_index)?;
                let r = time_range_of(right, time_index)?;
                Some(union(l, r))
            }
            _ => comparison(left, *op, right, time_index),
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => time_range_of_between(expr, low, high, time_index),
        _ => None,
    }
}

/// The union of two ranges, where an empty range contributes nothing.
pub(crate) fn union(a: TimeRange, b: TimeRange) -> TimeRange {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b,
        (_, true) => a,
        _ => a.union(&b),
    }
}

/// `left op right` where one side is the time index and the other a literal.
fn comparison(
    left: &Expr,
    op: Operator,
    right: &Expr,
    time_index: &TimeIndex<'_>,
) -> Option<TimeRange> {
    if let (Some(()), Some(value)) = (column_ref(left, time_index), literal(right)) {
        return bound(op, value, time_index.unit);
    }
    if let (Some(value), Some(())) = (literal(left), column_ref(right, time_index)) {
        return bound(swap(op)?, value, time_index.unit);
    }
    None
}

/// `a op b` ⟺ `b swap(op) a`.
fn swap(op: Operator) -> Option<Operator> {
    Some(match op {
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        Operator::Eq => Operator::Eq,
        _ => return None,
    })
}

/// Matches the time index column, bare or cast losslessly (to a timestamp unit at least as
/// fine as the column's, which only multiplies values).
fn column_ref(expr: &Expr, time_index: &TimeIndex<'_>) -> Option<()> {
    match expr {
        Expr::Column(c) if c.name == time_index.name => Some(()),
        Expr::Cast(cast) => lossless_cast(&cast.expr, cast.field.data_type(), time_index),
        Expr::TryCast(cast) => lossless_cast(&cast.expr, cast.field.data_type(), time_index),
        _ => None,
    }
}

fn lossless_cast(inner: &Expr, to: &DataType, time_index: &TimeIndex<'_>) -> Option<()> {
    match to {
        DataType::Timestamp(unit, _) if per_second(*unit) >= per_second(time_index.unit) => {
            column_ref(inner, time_index)
        }
        _ => None,
    }
}

/// A literal's value: `(raw value, unit)`; integers have no unit (the column's is used).
#[derive(Debug, Clone, Copy)]
struct LiteralValue {
    value: i64,
    unit: Option<TimeUnit>,
}

fn literal(expr: &Expr) -> Option<LiteralValue> {
    match expr {
        Expr::Literal(scalar, _) => scalar_literal(scalar),
        _ => None,
    }
}

/// The range of time index values `ts` (stored in `column_unit`) with `ts op scalar`, for a
/// timestamp scalar of any unit; `None` for other scalars and operators. For physical
/// expressions (dynamic filters), where integers cannot meet a timestamp column.
pub(crate) fn scalar_bound(
    op: Operator,
    scalar: &ScalarValue,
    column_unit: TimeUnit,
) -> Option<TimeRange> {
    let literal = scalar_literal(scalar).filter(|l| l.unit.is_some())?;
    bound(op, literal, column_unit)
}

/// `a op b` ⟺ `b op' a`: the operator seen from the other side, for comparisons.
pub(crate) fn swap_comparison(op: Operator) -> Option<Operator> {
    swap(op)
}

fn scalar_literal(scalar: &ScalarValue) -> Option<LiteralValue> {
    let (value, unit) = match scalar {
        ScalarValue::TimestampSecond(Some(v), _) => (*v, Some(TimeUnit::Second)),
        ScalarValue::TimestampMillisecond(Some(v), _) => (*v, Some(TimeUnit::Millisecond)),
        ScalarValue::TimestampMicrosecond(Some(v), _) => (*v, Some(TimeUnit::Microsecond)),
        ScalarValue::TimestampNanosecond(Some(v), _) => (*v, Some(TimeUnit::Nanosecond)),
        ScalarValue::Int8(Some(v)) => (i64::from(*v), None),
        ScalarValue::Int16(Some(v)) => (i64::from(*v), None),
        ScalarValue::Int32(Some(v)) => (i64::from(*v), None),
        ScalarValue::Int64(Some(v)) => (*v, None),
        ScalarValue::UInt8(Some(v)) => (i64::from(*v), None),
        ScalarValue::UInt16(Some(v)) => (i64::from(*v), None),
        ScalarValue::UInt32(Some(v)) => (i64::from(*v), None),
        ScalarValue::UInt64(Some(v)) => (i64::try_from(*v).ok()?, None),
        _ => return None,
    };
    Some(LiteralValue { value, unit })
}

/// Ticks per second of a unit.
fn per_second(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// The range of column values `ts` (in `column_unit`) with `ts op literal`.
///
/// Works in i128 so no intermediate step can overflow. When the column is coarser than the
/// literal (a factor `k`), `ts * k op v` is solved exactly: strict bounds first become
/// non-strict in the literal's (finer) unit, then `ts >= ceil(v / k)` or `ts <= floor(v / k)`.
fn bound(op: Operator, literal: LiteralValue, column_unit: TimeUnit) -> Option<TimeRange> {
    let literal_unit = literal.unit.unwrap_or(column_unit);
    let v = i128::from(literal.value);
    let (col, lit) = (per_second(column_unit), per_second(literal_unit));
    // Lower and upper bounds in the column unit; `None` = unbounded.
    let (lower, upper) = if col >= lit {
        // Column finer or equal: the literal converts exactly.
        let exact = v * (col / lit);
        match op {
            Operator::GtEq => (Some(exact), None),
            Operator::Gt => (Some(exact + 1), None),
            Operator::LtEq => (None, Some(exact)),
            Operator::Lt => (None, Some(exact - 1)),
            Operator::Eq => (Some(exact), Some(exact)),
            _ => return None,
        }
    } else {
        let k = lit / col;
        let ceil = |x: i128| x.div_euclid(k) + i128::from(x.rem_euclid(k) != 0);
        let floor = |x: i128| x.div_euclid(k);
        match op {
            Operator::GtEq => (Some(ceil(v)), None),
            Operator::Gt => (Some(ceil(v + 1)), None),
            Operator::LtEq => (None, Some(floor(v))),
            Operator::Lt => (None, Some(floor(v - 1))),
            Operator::Eq => (Some(ceil(v)), Some(floor(v))),
            _ => return None,
        }
    };
    Some(to_time_range(lower, upper))
}

/// Clamps i128 bounds into an i64 [`TimeRange`]; a bound beyond i64 makes the range empty.
fn to_time_range(lower: Option<i128>, upper: Option<i128>) -> TimeRange {
    const EMPTY: TimeRange = TimeRange {
        min: i64::MAX,
        max: i64::MIN,
    };
    let min = match lower {
        None => i64::MIN,
        Some(l) if l > i128::from(i64::MAX) => return EMPTY,
        Some(l) => i64::try_from(l).unwrap_or(i64::MIN),
    };
    let max = match upper {
        None => i64::MAX,
        Some(u) if u < i128::from(i64::MIN) => return EMPTY,
        Some(u) => i64::try_from(u).unwrap_or(i64::MAX),
    };
    TimeRange::new(min, max)
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{cast, col, lit};

    use super::*;

    const MS: TimeIndex<'static> = TimeIndex {
        name: "ts",
        unit: TimeUnit::Millisecond,
    };
    const SEC: TimeIndex<'static> = TimeIndex {
        name: "ts",
        unit: TimeUnit::Second,
    };

    fn ts_ms(v: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(Some(v), None))
    }
    fn ts_ns(v: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(Some(v), None))
    }
    fn ts_s(v: i64) -> Expr {
        lit(ScalarValue::TimestampSecond(Some(v), Some("+00:00".into())))
    }
    fn range(filters: &[Expr], ti: &TimeIndex<'_>) -> (i64, i64) {
        let r = extract_time_range(filters, ti);
        (r.min, r.max)
    }

    #[test]
    fn simple_comparisons_same_unit() {
        assert_eq!(range(&[col("ts").gt_eq(ts_ms(10))], &MS), (10, i64::MAX));
        assert_eq!(range(&[col("ts").gt(ts_ms(10))], &MS), (11, i64::MAX));
        assert_eq!(range(&[col("ts").lt(ts_ms(10))], &MS), (i64::MIN, 9));
        assert_eq!(range(&[col("ts").lt_eq(ts_ms(10))], &MS), (i64::MIN, 10));
        assert_eq!(range(&[col("ts").eq(ts_ms(10))], &MS), (10, 10));
    }

    #[test]
    fn literal_on_the_left_is_flipped() {
        assert_eq!(range(&[ts_ms(10).lt(col("ts"))], &MS), (11, i64::MAX));
        assert_eq!(range(&[ts_ms(10).gt_eq(col("ts"))], &MS), (i64::MIN, 10));
    }

    #[test]
    fn conjunctions_and_multiple_filters_intersect() {
        let f = col("ts").gt_eq(ts_ms(10)).and(col("ts").lt(ts_ms(20)));
        assert_eq!(range(&[f], &MS), (10, 19));
        let fs = [col("ts").gt_eq(ts_ms(10)), col("ts").lt_eq(ts_ms(15))];
        assert_eq!(range(&fs, &MS), (10, 15));
        // A non-time conjunct does not spoil the time conjunct.
        let f = col("ts").gt_eq(ts_ms(10)).and(col("host").eq(lit("a")));
        assert_eq!(range(&[f], &MS), (10, i64::MAX));
    }

    #[test]
    fn between_and_or() {
        let f = col("ts").between(ts_ms(5), ts_ms(7));
        assert_eq!(range(&[f], &MS), (5, 7));
        let f = col("ts").not_between(ts_ms(5), ts_ms(7));
        assert!(!is_time_filter(&f, &MS));
        let f = col("ts").lt(ts_ms(0)).or(col("ts").gt(ts_ms(100)));
        assert_eq!(range(&[f], &MS), (i64::MIN, i64::MAX));
        let f = col("ts").eq(ts_ms(3)).or(col("ts").eq(ts_ms(9)));
        assert_eq!(range(&[f], &MS), (3, 9));
        // OR with a non-time side is not a time filter.
        let f = col("ts").eq(ts_ms(3)).or(col("host").eq(lit("a")));
        assert!(!is_time_filter(&f, &MS));
        assert_eq!(range(&[f], &MS), (i64::MIN, i64::MAX));
    }

    #[test]
    fn finer_literal_rounds_outward() {
        // 1.5 ms in ns against a ms column.
        assert_eq!(
            range(&[col("ts").gt_eq(ts_ns(1_500_000))], &MS),
            (2, i64::MAX)
        );
        assert_eq!(range(&[col("ts").gt(ts_ns(1_500_000))], &MS), (2, i64::MAX));
        assert_eq!(range(&[col("ts").gt(ts_ns(2_000_000))], &MS), (3, i64::MAX));
        assert_eq!(
            range(&[col("ts").gt_eq(ts_ns(2_000_000))], &MS),
            (2, i64::MAX)
        );
        assert_eq!(
            range(&[col("ts").lt_eq(ts_ns(1_500_000))], &MS),
            (i64::MIN, 1)
        );
        assert_eq!(range(&[col("ts").lt(ts_ns(2_000_000))], &MS), (i64::MIN, 1));
        assert_eq!(range(&[col("ts").lt(ts_ns(2_000_001))], &MS), (i64::MIN, 2));
        // Negative values round with floor/ceil, not truncation.
        assert_eq!(
            range(&[col("ts").gt_eq(ts_ns(-1_500_000))], &MS),
            (-1, i64::MAX)
        );
        assert_eq!(
            range(&[col("ts").lt_eq(ts_ns(-1_500_000))], &MS),
            (i64::MIN, -2)
        );
        // Equality to a value between two ticks selects nothing.
        assert!(extract_time_range(&[col("ts").eq(ts_ns(1_500_000))], &MS).is_empty());
        assert_eq!(range(&[col("ts").eq(ts_ns(3_000_000))], &MS), (3, 3));
    }

    #[test]
    fn coarser_literal_is_exact() {
        assert_eq!(range(&[col("ts").gt_eq(ts_s(2))], &MS), (2000, i64::MAX));
        assert_eq!(range(&[col("ts").gt(ts_s(2))], &MS), (2001, i64::MAX));
        assert_eq!(range(&[col("ts").lt(ts_s(2))], &MS), (i64::MIN, 1999));
        assert_eq!(range(&[col("ts").gt_eq(ts_ms(2500))], &SEC), (3, i64::MAX));
    }

    #[test]
    fn integers_are_raw_column_units() {
        assert_eq!(range(&[col("ts").gt_eq(lit(42i64))], &SEC), (42, i64::MAX));
        assert_eq!(range(&[col("ts").lt(lit(7i32))], &MS), (i64::MIN, 6));
        assert_eq!(
            range(&[col("ts").lt(lit(u64::MAX))], &MS),
            (i64::MIN, i64::MAX)
        );
    }

    #[test]
    fn overflow_saturates_or_empties() {
        // ts > i64::MAX selects nothing.
        assert!(extract_time_range(&[col("ts").gt(lit(i64::MAX))], &MS).is_empty());
        assert!(extract_time_range(&[col("ts").lt(lit(i64::MIN))], &MS).is_empty());
        // A huge second literal against a ns column overflows i64: nothing is that late.
        let ns = TimeIndex {
            name: "ts",
            unit: TimeUnit::Nanosecond,
        };
        assert!(extract_time_range(&[col("ts").gt_eq(ts_s(i64::MAX / 2))], &ns).is_empty());
        assert_eq!(
            range(&[col("ts").lt_eq(ts_s(i64::MAX / 2))], &ns),
            (i64::MIN, i64::MAX)
        );
    }

    #[test]
    fn other_columns_and_shapes_are_ignored() {
        assert!(!is_time_filter(&col("other").gt(ts_ms(1)), &MS));
        assert!(!is_time_filter(&col("ts").not_eq(ts_ms(1)), &MS));
        assert!(!is_time_filter(&col("ts").gt(col("ts")), &MS));
        assert!(!is_time_filter(
            &col("ts").gt(lit(ScalarValue::Int64(None))),
            &MS
        ));
        assert!(!is_time_filter(&col("ts").is_null(), &MS));
    }

    #[test]
    fn exact_filters_are_bare_column_against_timestamps() {
        let exact = |e: Expr| is_exact_time_filter(&e, &MS);
        assert!(exact(col("ts").gt_eq(ts_ms(10))));
        assert!(exact(ts_ms(10).lt(col("ts"))));
        assert!(exact(col("ts").eq(ts_ms(10))));
        assert!(exact(col("ts").between(ts_ms(5), ts_ms(7))));
        assert!(exact(
            col("ts").gt_eq(ts_ms(10)).and(col("ts").lt(ts_ms(20)))
        ));
        // Other units convert exactly (ceil/floor solve the inequality).
        assert!(exact(col("ts").gt(ts_ns(1_500_000))));
        assert!(exact(col("ts").lt(ts_s(2))));
        // OR is exact only without a gap between the two ranges.
        assert!(exact(
            col("ts").lt(ts_ms(10)).or(col("ts").gt_eq(ts_ms(10)))
        ));
        assert!(exact(col("ts").lt_eq(ts_ms(10)).or(col("ts").eq(ts_ms(5)))));
        assert!(!exact(col("ts").lt(ts_ms(0)).or(col("ts").gt(ts_ms(100)))));
        assert!(!exact(col("ts").eq(ts_ms(3)).or(col("ts").eq(ts_ms(9)))));
        // Inexact: another predicate, integers, casts, negation, other operators.
        assert!(!exact(
            col("ts").gt_eq(ts_ms(10)).and(col("host").eq(lit("a")))
        ));
        assert!(!exact(col("ts").gt_eq(lit(10i64))));
        let as_ns = cast(col("ts"), DataType::Timestamp(TimeUnit::Nanosecond, None));
        assert!(!exact(as_ns.gt_eq(ts_ns(1))));
        assert!(!exact(col("ts").not_between(ts_ms(5), ts_ms(7))));
        assert!(!exact(col("ts").not_eq(ts_ms(1))));
        assert!(!exact(col("other").gt(ts_ms(1))));
    }

    #[test]
    fn lossless_casts_of_the_column_are_accepted() {
        let as_ns = cast(col("ts"), DataType::Timestamp(TimeUnit::Nanosecond, None));
        assert_eq!(range(&[as_ns.gt_eq(ts_ns(1_500_000))], &MS), (2, i64::MAX));
        let as_s = cast(col("ts"), DataType::Timestamp(TimeUnit::Second, None));
        assert!(!is_time_filter(&as_s.gt_eq(ts_s(1)), &MS));
        let as_int = cast(col("ts"), DataType::Int64);
        assert!(!is_time_filter(&as_int.gt_eq(lit(1i64)), &MS));
    }
}
