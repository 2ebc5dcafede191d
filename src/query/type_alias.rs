//! GreptimeDB's type aliases in casts: `x::TIMESTAMP_MS`, `CAST(x AS Int64)`,
//! `TRY_CAST(x AS UInt8)`, `x::Float64`, `x::DATETIME`. DataFusion's planner does not know these
//! names, so the data type of every cast in the parsed statement is replaced by the standard
//! SQL type DataFusion maps to the same Arrow type, before planning. The SQL text is never
//! rewritten.
//!
//! Design from GreptimeDB's `src/sql/src/statements/transform/type_alias.rs`
//! (`TypeAliasTransformRule`, `get_type_by_alias`, `get_data_type_by_alias_name`), which does the
//! same over its AST (turning the cast into `arrow_cast`); here the replacement is a type
//! DataFusion plans directly (`TIMESTAMP(3)` is `Timestamp(Millisecond)` in DataFusion too).

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, Statement as DfStatement};
use sqlparser::ast::{
    DataType, ExactNumberInfo, Expr, TimezoneInfo, VisitMut, visit_expressions_mut,
};

/// Replaces GreptimeDB type aliases in every cast of `statement` (including under `EXPLAIN`
/// and in `COPY (query) TO`).
pub fn rewrite_statement(statement: &mut DfStatement) {
    match statement {
        DfStatement::Statement(inner) => rewrite(inner.as_mut()),
        DfStatement::Explain(explain) => rewrite_statement(explain.statement.as_mut()),
        DfStatement::CopyTo(copy) => {
            if let CopyToSource::Query(query) = &mut copy.source {
                rewrite(query.as_mut());
            }
        }
        DfStatement::CreateExternalTable(_) | DfStatement::Reset(_) => {}
    }
}

fn rewrite<V: VisitMut>(node: &mut V) {
    let _ = visit_expressions_mut(node, |expr| {
        if let Expr::Cast { data_type, .. } = expr
            && let Some(replacement) = alias_target(data_type)
        {
            *data_type = replacement;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The standard type for a GreptimeDB alias, or `None` if `data_type` is not an alias.
pub fn alias_target(data_type: &DataType) -> Option<DataType> {
    let timestamp = |precision| Some(DataType::Timestamp(Some(precision), TimezoneInfo::None));
    match data_type {
        DataType::Custom(name, args) if name.0.len() == 1 && args.is_empty() => {
            let name = name.0[0].as_ident()?.value.to_ascii_uppercase();
            match name.as_str() {
                "TIMESTAMP_S" | "TIMESTAMP_SEC" | "TIMESTAMPSECOND" => timestamp(0),
                "TIMESTAMP_MS" | "TIMESTAMPMILLISECOND" => timestamp(3),
                "TIMESTAMP_US" | "TIMESTAMPMICROSECOND" => timestamp(6),
                "TIMESTAMP_NS" | "TIMESTAMPNANOSECOND" => timestamp(9),
                "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" => Some(DataType::Text),
                _ => None,
            }
        }
        DataType::Int16 => Some(DataType::SmallInt(None)),
        DataType::Int32 => Some(DataType::Int(None)),
        DataType::Int64 => Some(DataType::BigInt(None)),
        DataType::UInt8 => Some(DataType::TinyIntUnsigned(None)),
        DataType::UInt16 => Some(DataType::SmallIntUnsigned(None)),
        DataType::UInt32 => Some(DataType::IntUnsigned(None)),
        DataType::UInt64 => Some(DataType::BigIntUnsigned(None)),
        DataType::Float32 => Some(DataType::Float(ExactNumberInfo::None)),
        DataType::Float64 => Some(DataType::Double(ExactNumberInfo::None)),
        DataType::Datetime(None) => timestamp(6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = DFParser::parse_sql(sql).unwrap();
        let mut statement = statements.pop_front().unwrap();
        rewrite_statement(&mut statement);
        statement.to_string()
    }

    #[test]
    fn casts_to_aliases_become_standard_types() {
        assert_eq!(
            rewritten("SELECT 1::TIMESTAMP_MS, CAST(2 AS Int64), TRY_CAST('3' AS UInt8)"),
            "SELECT 1::TIMESTAMP(3), CAST(2 AS BIGINT), TRY_CAST('3' AS TINYINT UNSIGNED)"
        );
        assert_eq!(
            rewritten("EXPLAIN SELECT x::timestamp_ns FROM t WHERE y::Float64 > 0"),
            "EXPLAIN SELECT x::TIMESTAMP(9) FROM t WHERE y::DOUBLE > 0"
        );
    }

    #[test]
    fn other_types_are_left_alone() {
        let sql = "SELECT CAST(1 AS BIGINT), CAST('a' AS VARCHAR), CAST(x AS my_type) FROM t";
        assert_eq!(rewritten(sql), sql);
    }
}
