//! `information_schema`: DataFusion's tables, except `columns`, which is GreptimeDB's
//! (`src/catalog/src/system_schema/information_schema/columns.rs`): 24 columns, ordinal
//! positions from 1, the time index `NO` / `TIME INDEX`, column defaults and comments, so it
//! agrees with `DESC`, `SHOW COLUMNS` and `SHOW CREATE TABLE`.
//!
//! DataFusion hard-wires its own provider for the schema name `information_schema` when the
//! session's `information_schema` option is on, so tsdb turns the option off and registers
//! [`InformationSchema`] as the default catalog's `information_schema` schema instead. It
//! holds only weak references (the catalog list owns it; a strong one would be a cycle).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::information_schema::{
    INFORMATION_SCHEMA, INFORMATION_SCHEMA_TABLES, InformationSchemaProvider,
};
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableFunction};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::{Catalog, Table};
use crate::engine::metadata::{ColumnDataType, SemanticType};

/// Name of the table this module answers itself.
const COLUMNS: &str = "columns";

/// GreptimeDB's length of a string column (`character_maximum_length`, `_octet_length`).
const MAX_STRING_LENGTH: i64 = 2_147_483_647;

/// The `information_schema` schema of tsdb's session (see the module docs).
#[derive(Debug)]
pub(super) struct InformationSchema {
    catalog: Weak<Catalog>,
    catalog_list: Weak<dyn CatalogProviderList>,
    table_functions: HashMap<String, Arc<TableFunction>>,
}

impl InformationSchema {
    /// A schema over tsdb's `catalog` and DataFusion's `catalog_list` (for the tables tsdb
    /// does not own: views, external tables); `table_functions` are listed in `routines`.
    pub(super) fn new(
        catalog: &Arc<Catalog>,
        catalog_list: &Arc<dyn CatalogProviderList>,
        table_functions: HashMap<String, Arc<TableFunction>>,
    ) -> Self {
        InformationSchema {
            catalog: Arc::downgrade(catalog),
            catalog_list: Arc::downgrade(catalog_list),
            table_functions,
        }
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        INFORMATION_SCHEMA_TABLES
            .iter()
            .map(|t| (*t).to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(catalog_list) = self.catalog_list.upgrade() else {
            return Ok(None);
        };
        if name.eq_ignore_ascii_case(COLUMNS) {
            return Ok(Some(Arc::new(ColumnsTable {
                catalog: self.catalog.clone(),
                catalog_list: Arc::downgrade(&catalog_list),
                schema: columns_schema(),
            })));
        }
        InformationSchemaProvider::new(catalog_list)
            .with_table_functions(self.table_functions.clone())
            .table(name)
            .await
    }

    fn table_exist(&self, name: &str) -> bool {
        INFORMATION_SCHEMA_TABLES.contains(&name.to_ascii_lowercase().as_str())
    }
}

/// `information_schema.columns` in GreptimeDB's 24-column layout.
fn columns_schema() -> SchemaRef {
    let string = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let int = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    Arc::new(Schema::new(vec![
        string("table_catalog", false),
        string("table_schema", false),
        string("table_name", false),
        string("column_name", false),
        int("ordinal_position", false),
        int("character_maximum_length", true),
        int("character_octet_length", true),
        int("numeric_precision", true),
        int("numeric_scale", true),
        int("datetime_precision", true),
        string("character_set_name", true),
        string("collation_name", true),
        string("column_key", false),
        string("extra", false),
        string("privileges", false),
        string("generation_expression", false),
        string("greptime_data_type", false),
        string("data_type", false),
        string("semantic_type", false),
        string("column_default", true),
        string("is_nullable", false),
        string("column_type", false),
        string("column_comment", true),
        int("srs_id", true),
    ]))
}

/// `information_schema.columns`: built from the catalogs when scanned, so it always shows
/// the current schemas.
#[derive(Debug)]
struct ColumnsTable {
    catalog: Weak<Catalog>,
    catalog_list: Weak<dyn CatalogProviderList>,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for ColumnsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = self.rows().await?;
        let batch = rows.finish(&self.schema)?;
        MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

impl ColumnsTable {
    /// One row per column of every table of every schema but `information_schema`, sorted
    /// by catalog, schema and table name, then ordinal position.
    async fn rows(&self) -> Result<ColumnRows> {
        let mut rows = ColumnRows::default();
        let (Some(catalog_list), Some(catalog)) =
            (self.catalog_list.upgrade(), self.catalog.upgrade())
        else {
            return Ok(rows);
        };
        for (catalog_name, schema_name, schema) in user_schemas(catalog_list.as_ref()) {
            let mut table_names = schema.table_names();
            table_names.sort();
            for table_name in table_names {
                let location = Location {
                    catalog: &catalog_name,
                    schema: &schema_name,
                    table: &table_name,
                };
                let tsdb_table = (schema_name == crate::query::show::DEFAULT_SCHEMA)
                    .then(|| catalog.table(&table_name))
                    .flatten();
                if let Some(table) = tsdb_table {
                    push_tsdb_table(&mut rows, &location, &table);
                } else if let Some(provider) = schema.table(&table_name).await? {
                    push_arrow_table(&mut rows, &location, &provider.schema());
                }
            }
        }
        Ok(rows)
    }
}

/// Every schema of every catalog but `information_schema`, as (catalog name, schema name,
/// schema), sorted by name.
fn user_schemas(
    catalog_list: &dyn CatalogProviderList,
) -> Vec<(String, String, Arc<dyn SchemaProvider>)> {
    let mut out = Vec::new();
    for catalog_name in catalog_list.catalog_names() {
        let Some(catalog) = catalog_list.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            if schema_name == INFORMATION_SCHEMA {
                continue;
            }
            if let Some(schema) = catalog.schema(&schema_name) {
                out.push((catalog_name.clone(), schema_name, schema));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// The columns of a tsdb table: types, keys, defaults and comments from its catalog entry.
fn push_tsdb_table(rows: &mut ColumnRows, location: &Location<'_>, table: &Table) {
    let metadata = table.region.metadata();
    for (i, column) in metadata.columns.iter().enumerate() {
        let described = Described {
            name: &column.name,
            data_type: TypeName::Known(column.data_type),
            semantic_type: column.semantic_type,
            default: column.default.as_deref(),
            nullable: column.nullable,
            comment: table
                .info
                .column_comments
                .get(&column.column_id)
                .map(String::as_str),
        };
        rows.push(location, i, &described);
    }
}

/// The columns of a table tsdb does not own (a view, an external table): every one a FIELD.
fn push_arrow_table(rows: &mut ColumnRows, location: &Location<'_>, schema: &SchemaRef) {
    for (i, field) in schema.fields().iter().enumerate() {
        let described = Described {
            name: field.name(),
            data_type: ColumnDataType::from_arrow(field.data_type()).map_or_else(
                || TypeName::Arrow(field.data_type().to_string()),
                TypeName::Known,
            ),
            semantic_type: SemanticType::Field,
            default: None,
            nullable: field.is_nullable(),
            comment: None,
        };
        rows.push(location, i, &described);
    }
}

/// Where a column is.
struct Location<'a> {
    catalog: &'a str,
    schema: &'a str,
    table: &'a str,
}

/// A column's type: one tsdb stores, or an Arrow type only DataFusion tables have.
enum TypeName {
    Known(ColumnDataType),
    Arrow(String),
}

/// What `information_schema.columns` says of one column.
struct Described<'a> {
    name: &'a str,
    data_type: TypeName,
    semantic_type: SemanticType,
    default: Option<&'a str>,
    nullable: bool,
    comment: Option<&'a str>,
}

/// The columns of `information_schema.columns` being built (the constant ones are filled
/// in by [`ColumnRows::finish`]).
#[derive(Default)]
struct ColumnRows {
    catalog: StringBuilder,
    schema: StringBuilder,
    table: StringBuilder,
    column: StringBuilder,
    ordinal: Int64Builder,
    character_maximum_length: Int64Builder,
    character_octet_length: Int64Builder,
    numeric_precision: Int64Builder,
    numeric_scale: Int64Builder,
    datetime_precision: Int64Builder,
    character_set: StringBuilder,
    collation: StringBuilder,
    column_key: StringBuilder,
    greptime_data_type: StringBuilder,
    data_type: StringBuilder,
    semantic_type: StringBuilder,
    default: StringBuilder,
    nullable: StringBuilder,
    comment: StringBuilder,
    len: usize,
}

impl ColumnRows {
    /// Appends the column at `index` (0-based; shown from 1) of `location`.
    fn push(&mut self, location: &Location<'_>, index: usize, column: &Described<'_>) {
        self.catalog.append_value(location.catalog);
        self.schema.append_value(location.schema);
        self.table.append_value(location.table);
        self.column.append_value(column.name);
        self.ordinal
            .append_value(i64::try_from(index).map_or(i64::MAX, |i| i.saturating_add(1)));
        let known = match &column.data_type {
            TypeName::Known(t) => Some(*t),
            TypeName::Arrow(_) => None,
        };
        let is_string = known == Some(ColumnDataType::String);
        let string_length = is_string.then_some(MAX_STRING_LENGTH);
        self.character_maximum_length.append_option(string_length);
        self.character_octet_length.append_option(string_length);
        self.numeric_precision
            .append_option(known.and_then(numeric_precision));
        self.numeric_scale
            .append_option(known.and_then(numeric_scale));
        self.datetime_precision
            .append_option(known.and_then(datetime_precision));
        self.character_set
            .append_option(is_string.then_some("utf8"));
        self.collation
            .append_option(is_string.then_some("utf8_bin"));
        self.column_key.append_value(match column.semantic_type {
            SemanticType::Tag => "PRI",
            SemanticType::Timestamp => "TIME INDEX",
            SemanticType::Field => "",
        });
        let (greptime_type, sql_type) = match &column.data_type {
            TypeName::Known(t) => (t.name().to_string(), t.sql_name().to_lowercase()),
            TypeName::Arrow(name) => (name.clone(), name.clone()),
        };
        self.greptime_data_type.append_value(&greptime_type);
        self.data_type.append_value(&sql_type);
        self.semantic_type
            .append_value(column.semantic_type.as_str());
        self.default.append_option(column.default);
        self.nullable
            .append_value(if column.nullable { "YES" } else { "NO" });
        self.comment.append_option(column.comment);
        self.len += 1;
    }

    /// The batch in `schema`'s column order (from [`columns_schema`]).
    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let constant = |value: &str| {
            let mut builder = StringBuilder::new();
            for _ in 0..self.len {
                builder.append_value(value);
            }
            Arc::new(builder.finish()) as ArrayRef
        };
        let (empty, privileges) = (constant(""), constant("select,insert"));
        let mut srs_id = Int64Builder::new();
        srs_id.append_nulls(self.len);
        let data_type: ArrayRef = Arc::new(self.data_type.finish());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.catalog.finish()),
            Arc::new(self.schema.finish()),
            Arc::new(self.table.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.ordinal.finish()),
            Arc::new(self.character_maximum_length.finish()),
            Arc::new(self.character_octet_length.finish()),
            Arc::new(self.numeric_precision.finish()),
            Arc::new(self.numeric_scale.finish()),
            Arc::new(self.datetime_precision.finish()),
            Arc::new(self.character_set.finish()),
            Arc::new(self.collation.finish()),
            Arc::new(self.column_key.finish()),
            empty.clone(),
            privileges,
            empty,
            Arc::new(self.greptime_data_type.finish()),
            data_type.clone(),
            Arc::new(self.semantic_type.finish()),
            Arc::new(self.default.finish()),
            Arc::new(self.nullable.finish()),
            data_type,
            Arc::new(self.comment.finish()),
            Arc::new(srs_id.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))
    }
}

/// Decimal digits of an integer or float type, as GreptimeDB reports them
/// (`ConcreteDataType::numeric_precision`).
fn numeric_precision(data_type: ColumnDataType) -> Option<i64> {
    Some(match data_type {
        ColumnDataType::Int8 | ColumnDataType::UInt8 => 3,
        ColumnDataType::Int16 | ColumnDataType::UInt16 => 5,
        ColumnDataType::Int32 | ColumnDataType::UInt32 => 10,
        ColumnDataType::Int64 => 19,
        ColumnDataType::UInt64 => 20,
        ColumnDataType::Float32 => 12,
        ColumnDataType::Float64 => 22,
        _ => return None,
    })
}

/// 0 for integer types; none for floats and the rest (GreptimeDB's `numeric_scale`).
fn numeric_scale(data_type: ColumnDataType) -> Option<i64> {
    matches!(
        data_type,
        ColumnDataType::Int8
            | ColumnDataType::Int16
            | ColumnDataType::Int32
            | ColumnDataType::Int64
            | ColumnDataType::UInt8
            | ColumnDataType::UInt16
            | ColumnDataType::UInt32
            | ColumnDataType::UInt64
    )
    .then_some(0)
}

/// Fractional second digits of a timestamp type.
fn datetime_precision(data_type: ColumnDataType) -> Option<i64> {
    Some(match data_type {
        ColumnDataType::TimestampSecond => 0,
        ColumnDataType::TimestampMillisecond => 3,
        ColumnDataType::TimestampMicrosecond => 6,
        ColumnDataType::TimestampNanosecond => 9,
        _ => return None,
    })
}
