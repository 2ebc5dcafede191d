//! `SHOW CREATE TABLE`: renders a table's schema in GreptimeDB's normalised shape.
//!
//! ```text
//! CREATE TABLE IF NOT EXISTS "t" (
//!   "host" STRING NULL,
//!   "ts" TIMESTAMP(3) NOT NULL,
//!   "cpu" DOUBLE NULL DEFAULT 0,
//!   TIME INDEX ("ts"),
//!   PRIMARY KEY ("host")
//! )
//!
//! ENGINE=mito
//! WITH(
//!   ttl = '7d'
//! )
//! ```
//! Identifiers are always double-quoted; option keys are bare unless they contain characters
//! other than letters, digits and `_` (e.g. `'compaction.type'`); values are single-quoted.
//! Without options the text ends with `ENGINE=mito\n`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::metadata::RegionMetadata;

/// The `CREATE TABLE` statement that recreates `table_name` with `metadata` and `options`.
pub fn create_table_sql(
    table_name: &str,
    metadata: &RegionMetadata,
    options: &BTreeMap<String, String>,
) -> String {
    create_table_sql_with_comments(table_name, metadata, options, &BTreeMap::new())
}

/// As [`create_table_sql`], with column comments by column id: `"c" DOUBLE NULL DEFAULT 0
/// COMMENT 'text'` (GreptimeDB's order: nullability, default, comment; from
/// `src/query/src/sql/show_create_table.rs`, `create_column`).
pub fn create_table_sql_with_comments(
    table_name: &str,
    metadata: &RegionMetadata,
    options: &BTreeMap<String, String>,
    column_comments: &BTreeMap<u32, String>,
) -> String {
    let mut lines: Vec<String> = metadata
        .columns
        .iter()
        .map(|column| {
            let mut line = format!(
                "  {} {} {}",
                quote_ident(&column.name),
                column.data_type.sql_name(),
                if column.nullable { "NULL" } else { "NOT NULL" }
            );
            if let Some(default) = &column.default {
                let _ = write!(line, " DEFAULT {default}");
            }
            if let Some(comment) = column_comments.get(&column.column_id) {
                let _ = write!(line, " COMMENT {}", quote_string(comment));
            }
            line
        })
        .collect();
    if let Some(ts) = metadata.columns.get(metadata.time_index) {
        lines.push(format!("  TIME INDEX ({})", quote_ident(&ts.name)));
    }
    let keys: Vec<String> = metadata
        .primary_key
        .iter()
        .filter_map(|&i| metadata.columns.get(i))
        .map(|c| quote_ident(&c.name))
        .collect();
    if !keys.is_empty() {
        lines.push(format!("  PRIMARY KEY ({})", keys.join(", ")));
    }
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{}\n)\n\nENGINE=mito\n",
        quote_ident(table_name),
        lines.join(",\n")
    );
    if !options.is_empty() {
        let entries: Vec<String> = options
            .iter()
            .map(|(key, value)| format!("  {} = {}", option_key(key), quote_string(value)))
            .collect();
        let _ = write!(sql, "WITH(\n{}\n)", entries.join(",\n"));
    }
    sql
}

/// `"name"`, doubling any `"` inside.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'value'`, doubling any `'` inside.
fn quote_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A bare key if it is a plain word, else a quoted one.
fn option_key(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        key.to_string()
    } else {
        quote_string(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metadata::{ColumnDataType, ColumnMetadata, RegionId, SemanticType};
    use crate::sql::{Statement, parse_statement};

    fn column(
        name: &str,
        t: ColumnDataType,
        s: SemanticType,
        default: Option<&str>,
    ) -> ColumnMetadata {
        ColumnMetadata {
            name: name.into(),
            column_id: 0,
            data_type: t,
            semantic_type: s,
            nullable: s != SemanticType::Timestamp,
            default: default.map(str::to_string),
        }
    }

    fn metadata() -> RegionMetadata {
        RegionMetadata {
            region_id: RegionId::new(1, 0),
            columns: vec![
                column("host", ColumnDataType::String, SemanticType::Tag, None),
                column(
                    "ts",
                    ColumnDataType::TimestampMillisecond,
                    SemanticType::Timestamp,
                    None,
                ),
                column(
                    "cpu",
                    ColumnDataType::Float64,
                    SemanticType::Field,
                    Some("0"),
                ),
            ],
            primary_key: vec![0],
            time_index: 1,
            schema_version: 0,
            next_column_id: 0,
        }
    }

    #[test]
    fn renders_greptime_shape_without_options() {
        let sql = create_table_sql("t", &metadata(), &BTreeMap::new());
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS \"t\" (\n  \"host\" STRING NULL,\n  \"ts\" TIMESTAMP(3) NOT NULL,\n  \"cpu\" DOUBLE NULL DEFAULT 0,\n  TIME INDEX (\"ts\"),\n  PRIMARY KEY (\"host\")\n)\n\nENGINE=mito\n"
        );
    }

    #[test]
    fn renders_options_and_quotes() {
        let mut metadata = metadata();
        metadata.primary_key.clear();
        metadata.columns[0].semantic_type = SemanticType::Field;
        metadata.columns[0].name = "Ho\"st".into();
        let options = BTreeMap::from([
            ("ttl".to_string(), "7d".to_string()),
            ("compaction.type".to_string(), "tw'cs".to_string()),
        ]);
        let sql = create_table_sql("My Table", &metadata, &options);
        assert!(
            sql.starts_with(
                "CREATE TABLE IF NOT EXISTS \"My Table\" (\n  \"Ho\"\"st\" STRING NULL,"
            )
        );
        assert!(!sql.contains("PRIMARY KEY"));
        assert!(
            sql.ends_with("ENGINE=mito\nWITH(\n  'compaction.type' = 'tw''cs',\n  ttl = '7d'\n)")
        );
    }

    #[test]
    fn output_parses_back_to_the_same_table() {
        let options = BTreeMap::from([("compaction.type".to_string(), "twcs".to_string())]);
        let sql = create_table_sql("Cpu", &metadata(), &options);
        let Statement::CreateTable(create) = parse_statement(&sql).unwrap() else {
            panic!("not a CREATE TABLE: {sql}");
        };
        assert_eq!(create.name, "Cpu");
        assert!(create.if_not_exists);
        assert_eq!(create.time_index, 1);
        assert_eq!(create.primary_key, vec![0]);
        assert_eq!(create.engine.as_deref(), Some("mito"));
        assert_eq!(create.options, options);
        let names: Vec<_> = create.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["host", "ts", "cpu"]);
        assert_eq!(create.columns[2].default.as_deref(), Some("0"));
        assert!(!create.columns[1].nullable);
    }
}
