//! Reading SSTs written under an older schema (mito2's `read/compat.rs`).
//!
//! `ALTER TABLE` changes a region's metadata without rewriting its files: every SST keeps the
//! metadata it was written with in its footer (`tsdb:region_metadata`, docs/FORMAT.md), and
//! a read maps the file's columns to the current ones **by column id**:
//! - a column the file holds (same id) is read from it, cast to the current type if
//!   `MODIFY COLUMN` changed it (Arrow's safe cast: a value that does not convert is NULL, as
//!   in GreptimeDB);
//! - a column the file predates (added later, or dropped and added again under the same name:
//!   a new id) is filled with the column's default, or NULL without one;
//! - a column dropped since is not read.
//!
//! Memtables need none of this: an alter flushes them first (as mito2's `handle_alter`), so
//! every memtable and every WAL entry after the flushed sequence has the current schema.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, UInt32Array, new_null_array};
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use crate::engine::metadata::{ColumnMetadata, RegionMetadata};
use crate::engine::read::ReadFormat;
use crate::engine::sst::format::REGION_METADATA_KEY;

/// The region metadata an SST was written with (its footer's `tsdb:region_metadata`), or
/// `None` if the footer has none or it does not parse.
pub fn file_metadata(parquet: &ArrowReaderMetadata) -> Option<RegionMetadata> {
    let text = parquet
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == REGION_METADATA_KEY)?
        .value
        .as_deref()?;
    serde_json::from_str(text).ok()
}

/// Whether an SST written with `file` must be read through a column-id mapping under
/// `current`: its schema version differs. A region never altered (version 0) needs none.
pub fn needs_compat(current: &RegionMetadata, file: Option<&RegionMetadata>) -> bool {
    current.schema_version != 0 && file.is_some_and(|f| f.schema_version != current.schema_version)
}

/// Where each user column of a read format comes from in one SST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSource {
    /// The file's column of this name, already in the current type.
    File(String),
    /// The file's column of this name, stored in another type: cast at read.
    Cast(String),
    /// The file predates the column: filled with its default (or NULL).
    Default,
}

/// For every user column of `format` (read-schema order), where an SST written with `file`
/// keeps it. Without a mapping (`file` is `None` or of the current schema version) every
/// column is looked up by its own name.
pub fn column_sources(format: &ReadFormat, file: Option<&RegionMetadata>) -> Vec<ColumnSource> {
    let current = format.metadata();
    let mapped = file.filter(|f| needs_compat(current, Some(f)));
    format
        .read_columns()
        .iter()
        .map(|&i| {
            let column = &current.columns[i];
            let Some(file) = mapped else {
                return ColumnSource::File(column.name.clone());
            };
            match file.column_by_id(column.column_id) {
                Some(old) if old.data_type == column.data_type => {
                    ColumnSource::File(old.name.clone())
                }
                Some(old) => ColumnSource::Cast(old.name.clone()),
                None => ColumnSource::Default,
            }
        })
        .collect()
}

/// `rows` copies of `column`'s default value for rows written before the column existed:
/// NULL without a default; `now()` / `current_timestamp` evaluate to the current time (as
/// GreptimeDB's `create_default_vector`); a literal is cast from its text (a quoted string
/// unquoted; an integer on a timestamp column is in the column's unit). A default that does
/// not convert gives NULL (the SQL layer checked it when the column was added).
pub fn default_array(column: &ColumnMetadata, rows: usize) -> ArrayRef {
    let data_type = column.data_type.to_arrow();
    let one = column
        .default
        .as_deref()
        .and_then(|text| default_value(text, &data_type));
    match one {
        Some(one) if one.len() == 1 && rows > 0 => {
            let indices = UInt32Array::from(vec![0u32; rows]);
            arrow::compute::take(one.as_ref(), &indices, None)
                .unwrap_or_else(|_| new_null_array(&data_type, rows))
        }
        _ => new_null_array(&data_type, rows),
    }
}

/// One value of a default expression's text, as `data_type`.
fn default_value(text: &str, data_type: &DataType) -> Option<ArrayRef> {
    let text = text.trim();
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if compact == "null" {
        return None;
    }
    if matches!(
        compact.as_str(),
        "now()" | "current_timestamp" | "current_timestamp()" | "localtimestamp"
    ) {
        let DataType::Timestamp(unit, _) = data_type else {
            return None;
        };
        let now = chrono::Utc::now();
        let value = match unit {
            TimeUnit::Second => now.timestamp(),
            TimeUnit::Millisecond => now.timestamp_millis(),
            TimeUnit::Microsecond => now.timestamp_micros(),
            TimeUnit::Nanosecond => now.timestamp_nanos_opt()?,
        };
        let array: ArrayRef = Arc::new(Int64Array::from(vec![value]));
        return arrow::compute::cast(&array, data_type).ok();
    }
    let literal = match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => text.to_string(),
    };
    if matches!(data_type, DataType::Timestamp(..))
        && let Ok(raw) = literal.parse::<i64>()
    {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![raw]));
        return arrow::compute::cast(&array, data_type).ok();
    }
    let array: ArrayRef = Arc::new(StringArray::from(vec![literal]));
    let cast = arrow::compute::cast(&array, data_type).ok()?;
    (cast.null_count() == 0).then_some(cast)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metadata::{ColumnDataType, SemanticType};
    use crate::engine::test_util::cpu_metadata;
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int32Type, TimestampMillisecondType};

    fn column(data_type: ColumnDataType, default: Option<&str>) -> ColumnMetadata {
        ColumnMetadata {
            name: "c".to_string(),
            column_id: 9,
            data_type,
            semantic_type: SemanticType::Field,
            nullable: true,
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn defaults_fill_old_rows() {
        let ints = default_array(&column(ColumnDataType::Int32, Some("3")), 2);
        assert_eq!(ints.as_primitive::<Int32Type>().values(), &[3, 3]);
        let negative = default_array(&column(ColumnDataType::Float64, Some("-1.5")), 1);
        assert_eq!(negative.as_primitive::<Float64Type>().value(0), -1.5);
        let text = default_array(&column(ColumnDataType::String, Some("'it''s'")), 1);
        assert_eq!(text.as_string::<i32>().value(0), "it's");
        let flag = default_array(&column(ColumnDataType::Boolean, Some("true")), 1);
        assert!(flag.as_boolean().value(0));
        let ts = default_array(&column(ColumnDataType::TimestampMillisecond, Some("-3")), 1);
        assert_eq!(ts.as_primitive::<TimestampMillisecondType>().value(0), -3);
        let ts = default_array(
            &column(
                ColumnDataType::TimestampMillisecond,
                Some("'1970-01-01 00:00:01'"),
            ),
            1,
        );
        assert_eq!(ts.as_primitive::<TimestampMillisecondType>().value(0), 1000);
        let now = default_array(
            &column(ColumnDataType::TimestampMillisecond, Some("now()")),
            1,
        );
        assert!(now.as_primitive::<TimestampMillisecondType>().value(0) > 1_600_000_000_000);
    }

    #[test]
    fn missing_or_unconvertible_defaults_are_null() {
        assert_eq!(
            default_array(&column(ColumnDataType::Int32, None), 3).null_count(),
            3
        );
        let bad = default_array(&column(ColumnDataType::Int32, Some("'x'")), 2);
        assert_eq!(bad.null_count(), 2);
        assert_eq!(
            default_array(&column(ColumnDataType::Int32, Some("3")), 0).len(),
            0
        );
    }

    #[test]
    fn columns_map_by_id() {
        let mut old = cpu_metadata();
        old.columns.push(ColumnMetadata {
            name: "mem".to_string(),
            column_id: 3,
            data_type: ColumnDataType::Int64,
            semantic_type: SemanticType::Field,
            nullable: true,
            default: None,
        });
        let mut new = old.clone();
        new.schema_version = 1;
        // `cpu` dropped and added again: a new id, so the file's `cpu` is another column.
        new.columns[2].column_id = old.next_column_id();
        // `mem` changed type.
        new.columns[3].data_type = ColumnDataType::Float64;
        let new = Arc::new(new);
        let format = ReadFormat::new(new.clone(), None);
        let sources = column_sources(&format, Some(&old));
        assert_eq!(
            sources,
            vec![
                ColumnSource::File("host".to_string()),
                ColumnSource::File("ts".to_string()),
                ColumnSource::Default,
                ColumnSource::Cast("mem".to_string()),
            ]
        );
        // A file of the current version is read by name.
        assert!(
            column_sources(&format, Some(&new))
                .iter()
                .all(|s| matches!(s, ColumnSource::File(_)))
        );
        // A region never altered maps nothing.
        assert!(!needs_compat(&old, Some(&old)));
    }
}
