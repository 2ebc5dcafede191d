//! Region metadata: the schema of a region in the `tag..., ts -> field...` row model
//! (as in GreptimeDB mito2's `RegionMetadata`).
//!
//! Invariants, checked by [`RegionMetadata::validate`]:
//! - exactly one column is the time index and its type is a timestamp; it is never nullable;
//! - tag columns (the primary key) are listed in `primary_key` in key order;
//! - column names are unique; column ids are unique.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};

/// Identifies a region: `(table_id << 32) | region_number`, as in GreptimeDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegionId(pub u64);

impl RegionId {
    /// Builds the id of region `region_number` of table `table_id`.
    pub fn new(table_id: u32, region_number: u32) -> Self {
        RegionId((u64::from(table_id) << 32) | u64::from(region_number))
    }

    /// The table this region belongs to.
    pub fn table_id(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The region's number within its table.
    pub fn region_number(self) -> u32 {
        (self.0 & 0xffff_ffff) as u32
    }
}

impl std::fmt::Display for RegionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.table_id(), self.region_number())
    }
}

/// Monotonic version of every row written to a region; later writes win.
pub type SequenceNumber = u64;

/// Kind of a mutation (values as in mito2's WAL: Delete = 0, Put = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum OpType {
    /// A tombstone for the row identity `(tags, ts)`.
    Delete = 0,
    /// Insert or overwrite the row identity `(tags, ts)`.
    Put = 1,
}

impl OpType {
    /// Decodes the on-disk byte; `None` for an unknown value.
    pub fn from_u8(value: u8) -> Option<OpType> {
        match value {
            0 => Some(OpType::Delete),
            1 => Some(OpType::Put),
            _ => None,
        }
    }
}

/// Role of a column in the row model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SemanticType {
    /// Part of the primary key (series identity).
    Tag,
    /// A measured value.
    Field,
    /// The time index.
    Timestamp,
}

impl SemanticType {
    /// Name as printed by `DESC TABLE` (`TAG`, `FIELD`, `TIMESTAMP`).
    pub fn as_str(self) -> &'static str {
        match self {
            SemanticType::Tag => "TAG",
            SemanticType::Field => "FIELD",
            SemanticType::Timestamp => "TIMESTAMP",
        }
    }
}

/// Column types a region can store. Names follow GreptimeDB's `ConcreteDataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnDataType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    String,
    TimestampSecond,
    TimestampMillisecond,
    TimestampMicrosecond,
    TimestampNanosecond,
    /// Days since 1970-01-01 (Arrow `Date32`), GreptimeDB's `Date`.
    Date,
    /// Variable-length bytes (Arrow `Binary`), GreptimeDB's `Binary` (`VARBINARY`, `BLOB`).
    Binary,
    /// JSON text (Arrow `Utf8`), GreptimeDB's `Json`: every value written must parse as JSON
    /// (`memtable::validate_batch`). [`ColumnDataType::from_arrow`] never gives it (a `Utf8`
    /// column of a DataFusion table is a `String`).
    Json,
}

impl ColumnDataType {
    /// The Arrow type used in memtables, SSTs and query results.
    pub fn to_arrow(self) -> DataType {
        match self {
            ColumnDataType::Boolean => DataType::Boolean,
            ColumnDataType::Int8 => DataType::Int8,
            ColumnDataType::Int16 => DataType::Int16,
            ColumnDataType::Int32 => DataType::Int32,
            ColumnDataType::Int64 => DataType::Int64,
            ColumnDataType::UInt8 => DataType::UInt8,
            ColumnDataType::UInt16 => DataType::UInt16,
            ColumnDataType::UInt32 => DataType::UInt32,
            ColumnDataType::UInt64 => DataType::UInt64,
            ColumnDataType::Float32 => DataType::Float32,
            ColumnDataType::Float64 => DataType::Float64,
            ColumnDataType::String | ColumnDataType::Json => DataType::Utf8,
            ColumnDataType::TimestampSecond => DataType::Timestamp(TimeUnit::Second, None),
            ColumnDataType::TimestampMillisecond => {
                DataType::Timestamp(TimeUnit::Millisecond, None)
            }
            ColumnDataType::TimestampMicrosecond => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            ColumnDataType::TimestampNanosecond => DataType::Timestamp(TimeUnit::Nanosecond, None),
            ColumnDataType::Date => DataType::Date32,
            ColumnDataType::Binary => DataType::Binary,
        }
    }

    /// The inverse of [`ColumnDataType::to_arrow`]; `None` for types a region cannot store.
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Boolean => ColumnDataType::Boolean,
            DataType::Int8 => ColumnDataType::Int8,
            DataType::Int16 => ColumnDataType::Int16,
            DataType::Int32 => ColumnDataType::Int32,
            DataType::Int64 => ColumnDataType::Int64,
            DataType::UInt8 => ColumnDataType::UInt8,
            DataType::UInt16 => ColumnDataType::UInt16,
            DataType::UInt32 => ColumnDataType::UInt32,
            DataType::UInt64 => ColumnDataType::UInt64,
            DataType::Float32 => ColumnDataType::Float32,
            DataType::Float64 => ColumnDataType::Float64,
            DataType::Utf8 => ColumnDataType::String,
            DataType::Timestamp(TimeUnit::Second, None) => ColumnDataType::TimestampSecond,
            DataType::Timestamp(TimeUnit::Millisecond, None) => {
                ColumnDataType::TimestampMillisecond
            }
            DataType::Timestamp(TimeUnit::Microsecond, None) => {
                ColumnDataType::TimestampMicrosecond
            }
            DataType::Timestamp(TimeUnit::Nanosecond, None) => ColumnDataType::TimestampNanosecond,
            DataType::Date32 => ColumnDataType::Date,
            DataType::Binary => ColumnDataType::Binary,
            _ => return None,
        })
    }

    /// Whether stored values of this type can be read as `to` after `ALTER TABLE ... MODIFY
    /// COLUMN` (old SSTs are cast on read, nothing is rewritten): Arrow can cast between the
    /// two, and `to` is not `Json` unless this is (other values were never checked as JSON).
    pub fn can_modify_to(self, to: ColumnDataType) -> bool {
        let unchecked_json = to == ColumnDataType::Json && self != ColumnDataType::Json;
        !unchecked_json && arrow::compute::can_cast_types(&self.to_arrow(), &to.to_arrow())
    }

    /// Whether this is one of the timestamp types (a time index must be).
    pub fn is_timestamp(self) -> bool {
        matches!(
            self,
            ColumnDataType::TimestampSecond
                | ColumnDataType::TimestampMillisecond
                | ColumnDataType::TimestampMicrosecond
                | ColumnDataType::TimestampNanosecond
        )
    }

    /// GreptimeDB's name for the type, as shown by `DESC TABLE` (e.g. `Float64`, `String`).
    pub fn name(self) -> &'static str {
        match self {
            ColumnDataType::Boolean => "Boolean",
            ColumnDataType::Int8 => "Int8",
            ColumnDataType::Int16 => "Int16",
            ColumnDataType::Int32 => "Int32",
            ColumnDataType::Int64 => "Int64",
            ColumnDataType::UInt8 => "UInt8",
            ColumnDataType::UInt16 => "UInt16",
            ColumnDataType::UInt32 => "UInt32",
            ColumnDataType::UInt64 => "UInt64",
            ColumnDataType::Float32 => "Float32",
            ColumnDataType::Float64 => "Float64",
            ColumnDataType::String => "String",
            ColumnDataType::TimestampSecond => "TimestampSecond",
            ColumnDataType::TimestampMillisecond => "TimestampMillisecond",
            ColumnDataType::TimestampMicrosecond => "TimestampMicrosecond",
            ColumnDataType::TimestampNanosecond => "TimestampNanosecond",
            ColumnDataType::Date => "Date",
            ColumnDataType::Binary => "Binary",
            ColumnDataType::Json => "Json",
        }
    }

    /// SQL spelling used by `SHOW CREATE TABLE` (e.g. `DOUBLE`, `TIMESTAMP(3)`).
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnDataType::Boolean => "BOOLEAN",
            ColumnDataType::Int8 => "TINYINT",
            ColumnDataType::Int16 => "SMALLINT",
            ColumnDataType::Int32 => "INT",
            ColumnDataType::Int64 => "BIGINT",
            ColumnDataType::UInt8 => "TINYINT UNSIGNED",
            ColumnDataType::UInt16 => "SMALLINT UNSIGNED",
            ColumnDataType::UInt32 => "INT UNSIGNED",
            ColumnDataType::UInt64 => "BIGINT UNSIGNED",
            ColumnDataType::Float32 => "FLOAT",
            ColumnDataType::Float64 => "DOUBLE",
            ColumnDataType::String => "STRING",
            ColumnDataType::TimestampSecond => "TIMESTAMP(0)",
            ColumnDataType::TimestampMillisecond => "TIMESTAMP(3)",
            ColumnDataType::TimestampMicrosecond => "TIMESTAMP(6)",
            ColumnDataType::TimestampNanosecond => "TIMESTAMP(9)",
            ColumnDataType::Date => "DATE",
            ColumnDataType::Binary => "VARBINARY",
            ColumnDataType::Json => "JSON",
        }
    }
}

/// Checks that `text` is one JSON value, as every value of a [`ColumnDataType::Json`] column
/// (written or a default) must be.
///
/// # Errors
/// serde_json's error, with the line and column of the problem.
pub fn check_json_text(text: &str) -> std::result::Result<(), serde_json::Error> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map(|_| ())
}

/// One column of a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMetadata {
    /// Column name as stored (unquoted identifiers are lower-cased by the SQL layer).
    pub name: String,
    /// Stable id, never reused within a region (survives renames and drops of other columns).
    pub column_id: u32,
    /// Stored type.
    pub data_type: ColumnDataType,
    /// Role in the row model.
    pub semantic_type: SemanticType,
    /// Whether NULL is allowed (always false for the time index).
    pub nullable: bool,
    /// Default value as SQL expression text (e.g. `0`, `'x'`, `now()`); evaluated by the SQL layer.
    #[serde(default)]
    pub default: Option<String>,
}

/// Schema of a region: columns in table order plus the row-model roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionMetadata {
    /// Which region this describes.
    pub region_id: RegionId,
    /// Columns in table (user-visible) order.
    pub columns: Vec<ColumnMetadata>,
    /// Indexes into `columns` of the tag columns, in primary-key order.
    pub primary_key: Vec<usize>,
    /// Index into `columns` of the time index.
    pub time_index: usize,
    /// Bumped on every schema change (`ALTER TABLE`, a manifest `Change` action).
    #[serde(default)]
    pub schema_version: u64,
    /// The id the next added column gets, so that ids of dropped columns are never reused
    /// (old SSTs keep their data under those ids). 0 = not recorded (metadata written before
    /// the first ALTER): [`RegionMetadata::next_column_id`] then uses the largest id + 1.
    /// Omitted from the JSON while 0, so unaltered metadata serialises as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub next_column_id: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Shared, immutable region metadata.
pub type RegionMetadataRef = Arc<RegionMetadata>;

impl RegionMetadata {
    /// Checks the invariants in the module docs.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] naming the broken rule.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::InvalidMetadata {
            region_id: self.region_id,
            reason,
        };
        let mut names = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for column in &self.columns {
            if !names.insert(column.name.as_str()) {
                return Err(invalid(format!("duplicate column name '{}'", column.name)));
            }
            if !ids.insert(column.column_id) {
                return Err(invalid(format!("duplicate column id {}", column.column_id)));
            }
        }
        let time_index = self
            .columns
            .get(self.time_index)
            .ok_or_else(|| invalid("time index out of range".to_string()))?;
        let mut keys = std::collections::HashSet::new();
        for &key in &self.primary_key {
            if key >= self.columns.len() {
                return Err(invalid(format!(
                    "primary key column index {key} out of range ({} columns)",
                    self.columns.len()
                )));
            }
            if !keys.insert(key) {
                return Err(invalid(format!("primary key names column {key} twice")));
            }
            if key == self.time_index {
                return Err(invalid(
                    "the time index cannot be a primary key column".into(),
                ));
            }
        }
        if !time_index.data_type.is_timestamp()
            || time_index.semantic_type != SemanticType::Timestamp
        {
            return Err(invalid(format!(
                "time index '{}' must be a timestamp column",
                time_index.name
            )));
        }
        if time_index.nullable {
            return Err(invalid("time index must be NOT NULL".to_string()));
        }
        for (i, column) in self.columns.iter().enumerate() {
            let is_key = self.primary_key.contains(&i);
            let expected = if i == self.time_index {
                SemanticType::Timestamp
            } else if is_key {
                SemanticType::Tag
            } else {
                SemanticType::Field
            };
            if column.semantic_type != expected {
                return Err(invalid(format!(
                    "column '{}' has semantic type {:?}, expected {:?}",
                    column.name, column.semantic_type, expected
                )));
            }
        }
        Ok(())
    }

    /// The id an added column gets: never one a current or dropped column had.
    pub fn next_column_id(&self) -> u32 {
        let after_max = self
            .columns
            .iter()
            .map(|c| c.column_id.saturating_add(1))
            .max()
            .unwrap_or(0);
        self.next_column_id.max(after_max)
    }

    /// The column whose id is `column_id`.
    pub fn column_by_id(&self, column_id: u32) -> Option<&ColumnMetadata> {
        self.columns.iter().find(|c| c.column_id == column_id)
    }

    /// The time index column.
    pub fn time_index_column(&self) -> &ColumnMetadata {
        #[expect(
            clippy::indexing_slicing,
            reason = "validate() checks time_index is in range"
        )]
        &self.columns[self.time_index]
    }

    /// Index of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnMetadata> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `name` is a tag column.
    pub fn is_tag(&self, name: &str) -> bool {
        self.column(name)
            .is_some_and(|c| c.semantic_type == SemanticType::Tag)
    }

    /// Indexes of the field columns, in table order.
    pub fn field_indexes(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.semantic_type == SemanticType::Field)
            .map(|(i, _)| i)
            .collect()
    }

    /// The user-visible Arrow schema: columns in table order. The time index is non-nullable.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type.to_arrow(), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_id_round_trips() {
        let id = RegionId::new(7, 3);
        assert_eq!(id.table_id(), 7);
        assert_eq!(id.region_number(), 3);
        assert_eq!(id.to_string(), "7_3");
    }

    #[test]
    fn validate_rejects_bad_time_index() {
        let mut metadata = crate::engine::test_util::cpu_metadata();
        metadata.validate().unwrap();
        metadata.time_index = 2;
        assert!(metadata.validate().is_err());
    }
}
