//! Result sets of tsdb's own informational statements (`DESC`, `SHOW TABLES`,
//! `SHOW CREATE TABLE`), in GreptimeDB's column layout.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::engine::metadata::{RegionMetadata, SemanticType};

/// The schema holding user tables.
pub const DEFAULT_SCHEMA: &str = "public";

/// A result set of string columns: `(schema, batch)`.
pub type StringTable = (SchemaRef, RecordBatch);

/// Builds a result set whose columns are all non-null strings.
///
/// # Errors
/// An Arrow error if the rows do not all have `names.len()` values.
pub fn string_table(
    names: &[&str],
    rows: &[Vec<String>],
) -> Result<StringTable, arrow::error::ArrowError> {
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|i| {
            let values: Vec<&str> = rows
                .iter()
                .map(|r| r.get(i).map(String::as_str).unwrap_or_default())
                .collect();
            Arc::new(StringArray::from(values)) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, batch))
}

/// Column names of `DESC TABLE`.
pub const DESCRIBE_COLUMNS: [&str; 6] =
    ["Column", "Type", "Key", "Null", "Default", "Semantic Type"];

/// `DESC TABLE` of a tsdb table: one row per column in table order.
///
/// # Errors
/// An Arrow error (not expected for well-formed input).
pub fn describe(metadata: &RegionMetadata) -> Result<StringTable, arrow::error::ArrowError> {
    let rows: Vec<Vec<String>> = metadata
        .columns
        .iter()
        .map(|c| {
            let key = match c.semantic_type {
                SemanticType::Tag | SemanticType::Timestamp => "PRI",
                SemanticType::Field => "",
            };
            vec![
                c.name.clone(),
                c.data_type.name().to_string(),
                key.to_string(),
                if c.nullable { "YES" } else { "NO" }.to_string(),
                c.default.clone().unwrap_or_default(),
                c.semantic_type.as_str().to_string(),
            ]
        })
        .collect();
    string_table(&DESCRIBE_COLUMNS, &rows)
}

/// `DESC TABLE` of a table DataFusion owns (e.g. an external CSV table): every column is a
/// FIELD; the type is the Arrow type.
///
/// # Errors
/// An Arrow error (not expected).
pub fn describe_arrow(schema: &Schema) -> Result<StringTable, arrow::error::ArrowError> {
    let rows: Vec<Vec<String>> = schema
        .fields()
        .iter()
        .map(|f| {
            vec![
                f.name().clone(),
                f.data_type().to_string(),
                String::new(),
                if f.is_nullable() { "YES" } else { "NO" }.to_string(),
                String::new(),
                SemanticType::Field.as_str().to_string(),
            ]
        })
        .collect();
    string_table(&DESCRIBE_COLUMNS, &rows)
}

/// `SHOW TABLES [LIKE pattern]`: the names (sorted, deduplicated) matching `like`.
///
/// # Errors
/// An Arrow error (not expected).
pub fn show_tables(
    mut names: Vec<String>,
    like: Option<&str>,
) -> Result<StringTable, arrow::error::ArrowError> {
    names.sort();
    names.dedup();
    let rows: Vec<Vec<String>> = names
        .into_iter()
        .filter(|n| like.is_none_or(|p| like_matches(p, n)))
        .map(|n| vec![n])
        .collect();
    let column = format!("Tables_in_{DEFAULT_SCHEMA}");
    string_table(&[column.as_str()], &rows)
}

/// `SHOW CREATE TABLE`: columns `Table`, `Create Table`.
///
/// # Errors
/// An Arrow error (not expected).
pub fn show_create_table(name: &str, sql: &str) -> Result<StringTable, arrow::error::ArrowError> {
    string_table(
        &["Table", "Create Table"],
        &[vec![name.to_string(), sql.to_string()]],
    )
}

/// SQL `LIKE`: `%` matches any run, `_` one character, `\` escapes the next character.
/// Case-sensitive, like DataFusion's `LIKE`.
pub fn like_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    like_from(&pattern, &text)
}

fn like_from(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => {
            (0..=text.len()).any(|i| like_from(rest, text.get(i..).unwrap_or_default()))
        }
        Some(('_', rest)) => text
            .split_first()
            .is_some_and(|(_, text_rest)| like_from(rest, text_rest)),
        Some(('\\', rest)) if !rest.is_empty() => match (rest.split_first(), text.split_first()) {
            (Some((p, p_rest)), Some((t, t_rest))) => p == t && like_from(p_rest, t_rest),
            _ => false,
        },
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, text_rest)| p == t && like_from(rest, text_rest)),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use super::*;
    use crate::engine::metadata::{ColumnDataType, ColumnMetadata, RegionId};

    fn column_values(batch: &RecordBatch, i: usize) -> Vec<String> {
        batch
            .column(i)
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn describe_renders_greptime_shape() {
        let col = |name: &str, id, t, s, nullable, default: Option<&str>| ColumnMetadata {
            name: name.into(),
            column_id: id,
            data_type: t,
            semantic_type: s,
            nullable,
            default: default.map(String::from),
        };
        let metadata = RegionMetadata {
            region_id: RegionId::new(1, 0),
            columns: vec![
                col(
                    "host",
                    0,
                    ColumnDataType::String,
                    SemanticType::Tag,
                    true,
                    None,
                ),
                col(
                    "ts",
                    1,
                    ColumnDataType::TimestampMillisecond,
                    SemanticType::Timestamp,
                    false,
                    None,
                ),
                col(
                    "cpu",
                    2,
                    ColumnDataType::Float64,
                    SemanticType::Field,
                    true,
                    Some("0"),
                ),
            ],
            primary_key: vec![0],
            time_index: 1,
            schema_version: 0,
            next_column_id: 0,
        };
        let (schema, batch) = describe(&metadata).unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, DESCRIBE_COLUMNS);
        assert_eq!(column_values(&batch, 0), ["host", "ts", "cpu"]);
        assert_eq!(
            column_values(&batch, 1),
            ["String", "TimestampMillisecond", "Float64"]
        );
        assert_eq!(column_values(&batch, 2), ["PRI", "PRI", ""]);
        assert_eq!(column_values(&batch, 3), ["YES", "NO", "YES"]);
        assert_eq!(column_values(&batch, 4), ["", "", "0"]);
        assert_eq!(column_values(&batch, 5), ["TAG", "TIMESTAMP", "FIELD"]);
    }

    #[test]
    fn show_tables_sorts_and_filters() {
        let names = vec!["b".to_string(), "a".to_string(), "cpu_2".to_string()];
        let (schema, batch) = show_tables(names.clone(), None).unwrap();
        assert_eq!(schema.field(0).name(), "Tables_in_public");
        assert_eq!(column_values(&batch, 0), ["a", "b", "cpu_2"]);
        let (_, batch) = show_tables(names, Some("cpu%")).unwrap();
        assert_eq!(column_values(&batch, 0), ["cpu_2"]);
    }

    #[test]
    fn like_semantics() {
        assert!(like_matches("%", ""));
        assert!(like_matches("a%", "abc"));
        assert!(like_matches("%c", "abc"));
        assert!(like_matches("a_c", "abc"));
        assert!(!like_matches("a_c", "abbc"));
        assert!(like_matches("%b%", "abc"));
        assert!(!like_matches("A%", "abc"));
        assert!(like_matches("cpu\\_%", "cpu_2"));
        assert!(!like_matches("cpu\\_%", "cpux2"));
        assert!(like_matches("exact", "exact"));
        assert!(!like_matches("exact", "exactly"));
    }
}
