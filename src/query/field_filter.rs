//! Recognises comparisons of DOUBLE fields with constants (`usage_user > 90.0`,
//! `90.0 <= usage_user`, ...) that DataFusion can push into a region scan as engine
//! [`FieldFilter`]s: SSTs read without the merge then decode the other columns only for rows
//! that pass, and the engine applies them to every other row it returns, so they are pushed
//! down `Exact` and DataFusion drops its `FilterExec` (arrow's comparison kernels on both
//! sides: the same NaN and NULL semantics).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::engine::metadata::{ColumnDataType, RegionMetadata, SemanticType};
use crate::engine::region::{CompareOp, FieldFilter};

/// The engine filter for `expr`, if it compares a DOUBLE field of `metadata` with a DOUBLE
/// literal.
pub fn field_filter(expr: &Expr, metadata: &RegionMetadata) -> Option<FieldFilter> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    let op = compare_op(*op)?;
    let (column, value, op) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(column), other) => (column, double_literal(other)?, op),
        (other, Expr::Column(column)) => (column, double_literal(other)?, flipped(op)),
        _ => return None,
    };
    let is_double_field = metadata.column(&column.name).is_some_and(|c| {
        c.semantic_type == SemanticType::Field && c.data_type == ColumnDataType::Float64
    });
    is_double_field.then(|| FieldFilter {
        column: column.name.clone(),
        op,
        value,
    })
}

fn compare_op(op: Operator) -> Option<CompareOp> {
    Some(match op {
        Operator::Lt => CompareOp::Lt,
        Operator::LtEq => CompareOp::LtEq,
        Operator::Gt => CompareOp::Gt,
        Operator::GtEq => CompareOp::GtEq,
        Operator::Eq => CompareOp::Eq,
        Operator::NotEq => CompareOp::NotEq,
        _ => return None,
    })
}

/// `value op column` as `column op' value`.
fn flipped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::LtEq => CompareOp::GtEq,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::GtEq => CompareOp::LtEq,
        CompareOp::Eq => CompareOp::Eq,
        CompareOp::NotEq => CompareOp::NotEq,
    }
}

fn double_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Literal(ScalarValue::Float64(Some(value)), _) => Some(*value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;
    use crate::engine::test_util::cpu_metadata;

    #[test]
    fn comparisons_of_double_fields_with_double_literals() {
        let metadata = cpu_metadata();
        let filter = |op, value| {
            Some(FieldFilter {
                column: "cpu".to_string(),
                op,
                value,
            })
        };
        assert_eq!(
            field_filter(&col("cpu").gt(lit(90.0)), &metadata),
            filter(CompareOp::Gt, 90.0)
        );
        // A literal on the left flips the comparison.
        assert_eq!(
            field_filter(&lit(90.0).lt_eq(col("cpu")), &metadata),
            filter(CompareOp::GtEq, 90.0)
        );
        assert_eq!(
            field_filter(&col("cpu").not_eq(lit(1.5)), &metadata),
            filter(CompareOp::NotEq, 1.5)
        );
        // Not a double literal, not a field, not a comparison.
        assert_eq!(field_filter(&col("cpu").gt(lit(90i64)), &metadata), None);
        assert_eq!(field_filter(&col("host").eq(lit(1.0)), &metadata), None);
        assert_eq!(
            field_filter(&(col("cpu") + lit(1.0)).gt(lit(2.0)), &metadata),
            None
        );
        assert_eq!(field_filter(&col("cpu").gt(col("cpu")), &metadata), None);
    }
}
