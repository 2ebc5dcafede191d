//! `SHOW [FULL] COLUMNS FROM t` and `SHOW INDEX FROM t` in GreptimeDB's shape
//! (`tests/cases/standalone/common/show/show_columns.result`, `show_index.result`): columns
//! sorted by name; `Type` the lower-case SQL type, `Greptime_type` the type `DESC` shows; the
//! time index `NO` / `TIME INDEX`, agreeing with `DESC`.

use super::{Database, Output};
use crate::engine::metadata::{ColumnDataType, SemanticType};
use crate::error::{Error, Result};
use crate::query::show;

const COLUMNS: [&str; 7] = [
    "Field",
    "Type",
    "Null",
    "Key",
    "Default",
    "Extra",
    "Greptime_type",
];
const FULL_COLUMNS: [&str; 10] = [
    "Field",
    "Type",
    "Collation",
    "Null",
    "Key",
    "Default",
    "Comment",
    "Privileges",
    "Extra",
    "Greptime_type",
];
const INDEX_COLUMNS: [&str; 15] = [
    "Table",
    "Non_unique",
    "Key_name",
    "Seq_in_index",
    "Column_name",
    "Collation",
    "Cardinality",
    "Sub_part",
    "Packed",
    "Null",
    "Index_type",
    "Comment",
    "Index_comment",
    "Visible",
    "Expression",
];

/// One column as `SHOW COLUMNS` describes it.
struct Described {
    name: String,
    sql_type: String,
    greptime_type: String,
    nullable: bool,
    key: &'static str,
    default: String,
    comment: String,
    is_string: bool,
}

impl Database {
    /// `SHOW [FULL] COLUMNS FROM t [LIKE 'pattern']`.
    ///
    /// # Errors
    /// [`Error::TableNotFound`].
    pub(super) async fn show_columns(
        &self,
        table: &str,
        full: bool,
        like: Option<&str>,
    ) -> Result<Output> {
        let mut columns = self.described_columns(table).await?;
        columns.retain(|c| like.is_none_or(|pattern| show::like_matches(pattern, &c.name)));
        columns.sort_by(|a, b| a.name.cmp(&b.name));
        let yes_no = |nullable: bool| if nullable { "YES" } else { "NO" }.to_string();
        let rows: Vec<Vec<String>> = columns
            .into_iter()
            .map(|c| {
                let collation = if c.is_string { "utf8_bin" } else { "" }.to_string();
                if full {
                    vec![
                        c.name,
                        c.sql_type,
                        collation,
                        yes_no(c.nullable),
                        c.key.to_string(),
                        c.default,
                        c.comment,
                        "select,insert".to_string(),
                        String::new(),
                        c.greptime_type,
                    ]
                } else {
                    vec![
                        c.name,
                        c.sql_type,
                        yes_no(c.nullable),
                        c.key.to_string(),
                        c.default,
                        String::new(),
                        c.greptime_type,
                    ]
                }
            })
            .collect();
        let names: &[&str] = if full { &FULL_COLUMNS } else { &COLUMNS };
        Ok(Output::records(show::string_table(names, &rows)?))
    }

    /// `SHOW INDEX FROM t`: the primary key's columns (`PRIMARY`), then the time index
    /// (`TIME INDEX`). A view or a DataFusion table has none.
    ///
    /// # Errors
    /// [`Error::TableNotFound`].
    pub(super) async fn show_index(&self, name: &str) -> Result<Output> {
        let mut rows = Vec::new();
        if let Some(table) = self.catalog.table(name) {
            let metadata = table.region.metadata();
            let row =
                |non_unique: &str, key: &str, seq: usize, column: &str, null: &str, kind: &str| {
                    let mut row = vec![String::new(); INDEX_COLUMNS.len()];
                    row[0] = name.to_string();
                    row[1] = non_unique.to_string();
                    row[2] = key.to_string();
                    row[3] = seq.to_string();
                    row[4] = column.to_string();
                    row[5] = "A".to_string();
                    row[9] = null.to_string();
                    row[10] = kind.to_string();
                    row[13] = "YES".to_string();
                    row
                };
            for (seq, &i) in metadata.primary_key.iter().enumerate() {
                if let Some(column) = metadata.columns.get(i) {
                    let null = if column.nullable { "YES" } else { "" };
                    rows.push(row("0", "PRIMARY", seq + 1, &column.name, null, "PRIMARY"));
                }
            }
            let ts = metadata.time_index_column();
            rows.push(row("1", "TIME INDEX", 1, &ts.name, "", "TIME"));
        } else if !self.ctx.table_exist(super::bare(name))? {
            return Err(Error::TableNotFound {
                name: name.to_string(),
            });
        }
        Ok(Output::records(show::string_table(&INDEX_COLUMNS, &rows)?))
    }

    /// The columns of a tsdb table, of a DataFusion table (all fields), or none for a view
    /// (GreptimeDB lists no columns for a view).
    async fn described_columns(&self, name: &str) -> Result<Vec<Described>> {
        if let Some(table) = self.catalog.table(name) {
            let metadata = table.region.metadata();
            return Ok(metadata
                .columns
                .iter()
                .map(|c| Described {
                    name: c.name.clone(),
                    sql_type: c.data_type.sql_name().to_lowercase(),
                    greptime_type: c.data_type.name().to_string(),
                    nullable: c.nullable,
                    key: match c.semantic_type {
                        SemanticType::Tag => "PRI",
                        SemanticType::Timestamp => "TIME INDEX",
                        SemanticType::Field => "",
                    },
                    default: c.default.clone().unwrap_or_default(),
                    comment: table
                        .info
                        .column_comments
                        .get(&c.column_id)
                        .cloned()
                        .unwrap_or_default(),
                    is_string: c.data_type == ColumnDataType::String,
                })
                .collect());
        }
        if self.catalog.view(name).is_some() {
            return Ok(Vec::new());
        }
        let provider = self
            .ctx
            .table_provider(super::bare(name))
            .await
            .map_err(|_| Error::TableNotFound {
                name: name.to_string(),
            })?;
        Ok(provider
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let known = ColumnDataType::from_arrow(f.data_type());
                Described {
                    name: f.name().clone(),
                    sql_type: known.map_or_else(
                        || f.data_type().to_string(),
                        |t| t.sql_name().to_lowercase(),
                    ),
                    greptime_type: known
                        .map_or_else(|| f.data_type().to_string(), |t| t.name().to_string()),
                    nullable: f.is_nullable(),
                    key: "",
                    default: String::new(),
                    comment: String::new(),
                    is_string: known == Some(ColumnDataType::String),
                }
            })
            .collect())
    }
}
