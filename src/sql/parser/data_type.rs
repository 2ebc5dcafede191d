//! Column types of `CREATE TABLE`: GreptimeDB's SQL type names and aliases mapped to the
//! [`ColumnDataType`]s a region can store. Types GreptimeDB knows but tsdb's storage engine
//! cannot store yet (`DECIMAL(p, s)`, `INTERVAL`, `TIME`, vectors)
//! are rejected naming the type, the column and the reason: the memtable and SST code keep one
//! value vector per stored type, and these have none.
//!
//! The aliases follow GreptimeDB's `src/sql/src/statements/transform/type_alias.rs`:
//! `TIMESTAMP_S`/`_SEC`/`_MS`/`_US`/`_NS` and `TimestampSecond` ... `TimestampNanosecond`,
//! `INT2`/`INT4`/`INT8` (Postgres: `INT8` is `BIGINT`), `INT16`/`INT32`/`INT64`,
//! `UINT8`..`UINT64`, `FLOAT4`/`FLOAT8`, `FLOAT32`/`FLOAT64`, `TINYTEXT`/`MEDIUMTEXT`/`LONGTEXT`,
//! and `DATETIME` (GreptimeDB's alias for `TIMESTAMP(6)`). `DATE` is days since 1970-01-01
//! (Arrow `Date32`); `BINARY`, `VARBINARY`, `BLOB` (and its MySQL sizes), `BYTEA` are bytes
//! (Arrow `Binary`, GreptimeDB's `Binary`). Both can be tags or fields, never the time index.
//! `JSON` is the JSON text (Arrow `Utf8`), checked on every write. Casts in queries use the same names:
//! see `crate::query::type_alias`.

use sqlparser::tokenizer::Token;

use super::{Ctx, found};
use crate::engine::metadata::ColumnDataType;
use crate::sql::error::{Error, Result};

/// Parses the type of column `column` of table `table`: a name, optional `(n[, m])`, and the
/// suffixes `UNSIGNED` (integers) or `PRECISION` (after `DOUBLE`).
pub(super) fn parse(ctx: &mut Ctx<'_>, table: &str, column: &str) -> Result<ColumnDataType> {
    let token = ctx.parser.next_token();
    let Token::Word(word) = &token.token else {
        let what = format!("a data type for column '{column}'");
        return Err(ctx.error_at(found(&what, &token), &token));
    };
    let name = word.value.to_ascii_uppercase();
    let mut args = Vec::new();
    if ctx.parser.consume_token(&Token::LParen) {
        loop {
            let arg = ctx.parser.next_token();
            match &arg.token {
                Token::Number(number, _) => args.push(number.clone()),
                _ => {
                    let what = format!("a number in the parameters of type {name}");
                    return Err(ctx.error_at(found(&what, &arg), &arg));
                }
            }
            if ctx.parser.consume_token(&Token::RParen) {
                break;
            }
            ctx.expect_token(&Token::Comma, "',' or ')'")?;
        }
    }
    // The type as written, for messages.
    let mut spelled = if args.is_empty() {
        word.value.clone()
    } else {
        format!("{}({})", word.value, args.join(","))
    };
    if name == "DOUBLE" && ctx.parse_words(&["PRECISION"]) {
        spelled.push_str(" PRECISION");
    }
    let unsigned = ctx.parse_words(&["UNSIGNED"]);
    let data_type = map_type(&name, &args, unsigned).map_err(|problem| {
        Error::invalid_ddl(match problem {
            Problem::Unsupported => format!(
                "Unsupported data type '{spelled}' for column '{column}' in table '{table}'; \
                 supported types: STRING, BOOLEAN, TINYINT/SMALLINT/INT/BIGINT [UNSIGNED], \
                 FLOAT, DOUBLE, TIMESTAMP[(0|3|6|9)]"
            ),
            Problem::NotStorable => format!(
                "Data type '{spelled}' of column '{column}' in table '{table}' is a GreptimeDB \
                 type that tsdb's storage engine cannot store yet; supported types: STRING, \
                 BOOLEAN, TINYINT/SMALLINT/INT/BIGINT [UNSIGNED], FLOAT, DOUBLE, \
                 TIMESTAMP[(0|3|6|9)]"
            ),
            Problem::Parameters => format!(
                "Invalid parameters in data type '{spelled}' for column '{column}' in table \
                 '{table}'"
            ),
            Problem::Precision(precision) => format!(
                "Invalid timestamp precision {precision} for column '{column}' in table \
                 '{table}'; expected 0 (seconds), 3 (milliseconds), 6 (microseconds) or 9 \
                 (nanoseconds)"
            ),
            Problem::Unsigned => format!(
                "UNSIGNED is only valid for integer types, but column '{column}' in table \
                 '{table}' has type {spelled}"
            ),
        })
    })?;
    Ok(data_type)
}

/// Why a type name was not accepted.
enum Problem {
    /// Not a type tsdb can store.
    Unsupported,
    /// A GreptimeDB type the engine has no storage for.
    NotStorable,
    /// Wrong number or value of `(..)` parameters.
    Parameters,
    /// `TIMESTAMP(p)` with `p` not one of 0, 3, 6, 9.
    Precision(String),
    /// `UNSIGNED` after a non-integer type.
    Unsigned,
}

/// Maps an upper-cased type name with its parameters to a column type.
fn map_type(
    name: &str,
    args: &[String],
    unsigned: bool,
) -> std::result::Result<ColumnDataType, Problem> {
    use ColumnDataType as T;
    let integer = |signed: T, unsigned_type: T| {
        // MySQL-style display widths such as INT(11) are accepted and ignored.
        if args.len() > 1 {
            Err(Problem::Parameters)
        } else if unsigned {
            Ok(unsigned_type)
        } else {
            Ok(signed)
        }
    };
    let plain = |data_type: T| {
        if !args.is_empty() {
            Err(Problem::Parameters)
        } else if unsigned {
            Err(Problem::Unsigned)
        } else {
            Ok(data_type)
        }
    };
    match name {
        "STRING" | "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" => {
            if unsigned {
                Err(Problem::Unsigned)
            } else if args.len() > 1 {
                Err(Problem::Parameters)
            } else {
                Ok(T::String)
            }
        }
        "BOOLEAN" | "BOOL" => plain(T::Boolean),
        "TINYINT" => integer(T::Int8, T::UInt8),
        "SMALLINT" | "INT2" | "INT16" => integer(T::Int16, T::UInt16),
        "INT" | "INTEGER" | "INT4" | "INT32" => integer(T::Int32, T::UInt32),
        "BIGINT" | "INT8" | "INT64" => integer(T::Int64, T::UInt64),
        "UINT8" => integer(T::UInt8, T::UInt8),
        "UINT16" => integer(T::UInt16, T::UInt16),
        "UINT32" => integer(T::UInt32, T::UInt32),
        "UINT64" => integer(T::UInt64, T::UInt64),
        "FLOAT" | "FLOAT4" | "FLOAT32" => plain(T::Float32),
        "DOUBLE" | "FLOAT8" | "FLOAT64" => plain(T::Float64),
        "TIMESTAMP" => {
            if unsigned {
                return Err(Problem::Unsigned);
            }
            match args {
                [] => Ok(T::TimestampMillisecond),
                [precision] => match precision.as_str() {
                    "0" => Ok(T::TimestampSecond),
                    "3" => Ok(T::TimestampMillisecond),
                    "6" => Ok(T::TimestampMicrosecond),
                    "9" => Ok(T::TimestampNanosecond),
                    other => Err(Problem::Precision(other.to_string())),
                },
                _ => Err(Problem::Parameters),
            }
        }
        "TIMESTAMP_S" | "TIMESTAMP_SEC" | "TIMESTAMPSECOND" => plain(T::TimestampSecond),
        "TIMESTAMP_MS" | "TIMESTAMPMILLISECOND" => plain(T::TimestampMillisecond),
        "TIMESTAMP_US" | "TIMESTAMPMICROSECOND" | "DATETIME" => plain(T::TimestampMicrosecond),
        "TIMESTAMP_NS" | "TIMESTAMPNANOSECOND" => plain(T::TimestampNanosecond),
        "DATE" => plain(T::Date),
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BYTEA" => {
            plain(T::Binary)
        }
        "JSON" => plain(T::Json),
        "DECIMAL" | "NUMERIC" | "INTERVAL" | "VECTOR" | "TIME" => Err(Problem::NotStorable),
        _ => Err(Problem::Unsupported),
    }
}
