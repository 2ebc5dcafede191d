//! Recognises tag predicates DataFusion can push into a region scan: `tag = 'v'`,
//! `'v' = tag` and `tag IN ('a', 'b')` on string tags. They become engine [`TagFilter`]s that
//! skip SST row groups; the filters stay "inexact", so DataFusion still applies them to the rows.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::engine::metadata::{ColumnDataType, RegionMetadata, SemanticType};
use crate::engine::region::TagFilter;

/// The engine filter for `expr`, if it is a supported predicate on a string tag of `metadata`.
pub fn tag_filter(expr: &Expr, metadata: &RegionMetadata) -> Option<TagFilter> {
    let (column, values) = match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(column), other) | (other, Expr::Column(column)) => {
                (column, vec![string_literal(other)?])
            }
            _ => return None,
        },
        Expr::InList(list) if !list.negated => {
            let Expr::Column(column) = list.expr.as_ref() else {
                return None;
            };
            let values = list
                .list
                .iter()
                .map(string_literal)
                .collect::<Option<Vec<_>>>()?;
            (column, values)
        }
        _ => return None,
    };
    let is_string_tag = metadata.column(&column.name).is_some_and(|c| {
        c.semantic_type == SemanticType::Tag && c.data_type == ColumnDataType::String
    });
    is_string_tag.then(|| TagFilter {
        column: column.name.clone(),
        values,
    })
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(value))
            | ScalarValue::LargeUtf8(Some(value))
            | ScalarValue::Utf8View(Some(value)),
            _,
        ) => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, in_list, lit};

    use super::*;
    use crate::engine::test_util::cpu_metadata;

    #[test]
    fn equality_and_in_lists_on_string_tags() {
        let metadata = cpu_metadata();
        let tag = metadata.columns[metadata.primary_key[0]].name.clone();
        let expected = |values: &[&str]| {
            Some(TagFilter {
                column: tag.clone(),
                values: values.iter().map(|v| v.to_string()).collect(),
            })
        };
        assert_eq!(
            tag_filter(&col(&tag).eq(lit("a")), &metadata),
            expected(&["a"])
        );
        assert_eq!(
            tag_filter(&lit("a").eq(col(&tag)), &metadata),
            expected(&["a"])
        );
        assert_eq!(
            tag_filter(
                &in_list(col(&tag), vec![lit("a"), lit("b")], false),
                &metadata
            ),
            expected(&["a", "b"])
        );
        // Not pushed: NOT IN, non-literals, other operators, fields, unknown columns.
        assert_eq!(
            tag_filter(&in_list(col(&tag), vec![lit("a")], true), &metadata),
            None
        );
        assert_eq!(tag_filter(&col(&tag).eq(col(&tag)), &metadata), None);
        assert_eq!(tag_filter(&col(&tag).gt(lit("a")), &metadata), None);
        assert_eq!(tag_filter(&col("cpu").eq(lit("a")), &metadata), None);
        assert_eq!(tag_filter(&col("nope").eq(lit("a")), &metadata), None);
    }
}
