//! Builds the engine's [`RegionMetadata`] from a parsed `CREATE TABLE`.

use crate::catalog::error::{Error, Result};
use std::collections::BTreeMap;

use crate::engine::metadata::{ColumnMetadata, RegionId, RegionMetadata, SemanticType};
use crate::engine::options::{self, TableOptions};
use crate::sql::CreateTable;

/// The storage engine tables are created with (GreptimeDB's default).
pub const DEFAULT_ENGINE: &str = "mito";

/// Table options tsdb honours, with the values it accepts (`None`: any value
/// [`TableOptions::from_map`] accepts). Other mito options parse (so GreptimeDB DDL reads
/// cleanly) but are refused here rather than stored and ignored: a `write_buffer_size` that
/// silently does nothing would be worse than an error.
const SUPPORTED_OPTIONS: &[(&str, Option<&[&str]>)] = &[
    ("compaction.type", Some(&["twcs"])),
    (options::TTL_KEY, None),
    (options::APPEND_MODE_KEY, None),
    (options::MERGE_MODE_KEY, None),
];

/// The keys of [`SUPPORTED_OPTIONS`], for messages.
const SUPPORTED_LIST: &str = "compaction.type = 'twcs', ttl, append_mode, merge_mode";

/// Checks `options` of table `name`: only [`SUPPORTED_OPTIONS`], with valid values and
/// combinations. Returns the engine's options and the map to store, its values normalised
/// (`ttl` humanised as GreptimeDB shows it, `'7d'` → `'7days'`; `append_mode` and
/// `merge_mode` lower-case).
///
/// # Errors
/// [`Error::InvalidTable`] naming the option; for `append_mode` with `merge_mode =
/// 'last_non_null'` GreptimeDB's "Invalid region options, only last_row merge_mode is
/// allowed when append_mode is enabled".
pub fn table_options(
    name: &str,
    options: &BTreeMap<String, String>,
) -> Result<(TableOptions, BTreeMap<String, String>)> {
    let invalid = |reason: String| Error::InvalidTable {
        name: name.to_string(),
        reason,
    };
    for (key, value) in options {
        let supported = SUPPORTED_OPTIONS
            .iter()
            .find(|(k, _)| k == key)
            .is_some_and(|(_, values)| {
                values.is_none_or(|values| values.iter().any(|v| v.eq_ignore_ascii_case(value)))
            });
        if !supported {
            return Err(invalid(format!(
                "table option {key} = '{value}' is not supported yet (supported: \
                 {SUPPORTED_LIST})"
            )));
        }
    }
    let parsed = TableOptions::from_map(options).map_err(|reason| {
        if reason.starts_with("only last_row") {
            invalid(format!("Invalid region options, {reason}"))
        } else {
            invalid(reason)
        }
    })?;
    let mut stored = options.clone();
    let normalised = parsed.to_map();
    for (key, value) in stored.iter_mut() {
        match normalised.get(key) {
            Some(v) => *value = v.clone(),
            None => *value = value.to_ascii_lowercase(),
        }
    }
    Ok((parsed, stored))
}

fn check_options(create: &CreateTable) -> Result<()> {
    table_options(&create.name, &create.options).map(|_| ())
}

/// Prefix of the names the engine uses for its own columns in SSTs and scans
/// (`engine::read::SEQUENCE_COLUMN` `__sequence`, `OP_TYPE_COLUMN` `__op_type`; mito2 uses
/// `__primary_key`, `__table_id`, `__tsid` too). A user column named `__sequence` was
/// accepted before and made the table's first SST unreadable.
pub const RESERVED_COLUMN_PREFIX: &str = "__";

/// Table and column names must be non-empty, and column names must not start with
/// [`RESERVED_COLUMN_PREFIX`].
fn check_names(create: &CreateTable) -> Result<()> {
    let invalid = |reason: String| Error::InvalidTable {
        name: create.name.clone(),
        reason,
    };
    if create.name.is_empty() {
        return Err(invalid("a table name cannot be empty".to_string()));
    }
    for def in &create.columns {
        if def.name.is_empty() {
            return Err(invalid("a column name cannot be empty".to_string()));
        }
        if def.name.starts_with(RESERVED_COLUMN_PREFIX) {
            return Err(invalid(format!(
                "column name '{}' is reserved: names starting with '{RESERVED_COLUMN_PREFIX}' \
                 are the storage engine's own columns",
                def.name
            )));
        }
    }
    Ok(())
}

/// The schema of region `region_id` for `create`: column ids `0..n` in declaration order.
///
/// # Errors
/// [`Error::InvalidTable`] if the engine is not `mito` or the schema breaks a region
/// invariant (see [`RegionMetadata::validate`]).
pub fn region_metadata(create: &CreateTable, region_id: RegionId) -> Result<RegionMetadata> {
    let invalid = |reason: String| Error::InvalidTable {
        name: create.name.clone(),
        reason,
    };
    if let Some(engine) = &create.engine
        && !engine.eq_ignore_ascii_case(DEFAULT_ENGINE)
    {
        return Err(invalid(format!(
            "unsupported engine '{engine}' (only {DEFAULT_ENGINE})"
        )));
    }
    check_options(create)?;
    check_names(create)?;
    if create.columns.is_empty() {
        return Err(invalid(
            "a table needs at least a time index column".to_string(),
        ));
    }
    let mut columns = Vec::with_capacity(create.columns.len());
    for (i, def) in create.columns.iter().enumerate() {
        let column_id = u32::try_from(i).map_err(|_| invalid("too many columns".to_string()))?;
        let semantic_type = if i == create.time_index {
            SemanticType::Timestamp
        } else if create.primary_key.contains(&i) {
            SemanticType::Tag
        } else {
            SemanticType::Field
        };
        columns.push(ColumnMetadata {
            name: def.name.clone(),
            column_id,
            data_type: def.data_type,
            semantic_type,
            nullable: def.nullable && semantic_type != SemanticType::Timestamp,
            default: def.default.clone(),
        });
    }
    let metadata = RegionMetadata {
        region_id,
        columns,
        primary_key: create.primary_key.clone(),
        time_index: create.time_index,
        schema_version: 0,
        next_column_id: 0,
    };
    metadata.validate().map_err(|e| match e {
        crate::engine::Error::InvalidMetadata { reason, .. } => invalid(reason),
        other => invalid(other.to_string()),
    })?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::metadata::ColumnDataType;
    use crate::sql::ColumnDef;

    fn def(name: &str, data_type: ColumnDataType, semantic_type: SemanticType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            data_type,
            semantic_type,
            nullable: semantic_type != SemanticType::Timestamp,
            default: None,
            comment: None,
        }
    }

    fn create() -> CreateTable {
        CreateTable {
            name: "cpu".into(),
            if_not_exists: false,
            columns: vec![
                def("host", ColumnDataType::String, SemanticType::Tag),
                def(
                    "ts",
                    ColumnDataType::TimestampMillisecond,
                    SemanticType::Timestamp,
                ),
                def("usage", ColumnDataType::Float64, SemanticType::Field),
            ],
            time_index: 1,
            primary_key: vec![0],
            engine: None,
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn refuses_options_it_would_not_honour() {
        let mut with_buffer = create();
        with_buffer
            .options
            .insert("write_buffer_size".into(), "1MB".into());
        let message = region_metadata(&with_buffer, RegionId::new(5, 0))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("write_buffer_size = '1MB' is not supported yet"),
            "{message}"
        );
        let mut with_ttl = create();
        with_ttl.options.insert("ttl".into(), "7d".into());
        region_metadata(&with_ttl, RegionId::new(5, 0)).unwrap();
        let (parsed, stored) = table_options("cpu", &with_ttl.options).unwrap();
        assert!(parsed.ttl.is_some());
        assert_eq!(stored.get("ttl").map(String::as_str), Some("7days"));
        let mut both = create();
        both.options.insert("append_mode".into(), "true".into());
        both.options
            .insert("merge_mode".into(), "last_non_null".into());
        let message = region_metadata(&both, RegionId::new(5, 0))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(
                "Invalid region options, only last_row merge_mode is allowed when append_mode \
                 is enabled"
            ),
            "{message}"
        );
        let mut twcs = create();
        twcs.options.insert("compaction.type".into(), "twcs".into());
        region_metadata(&twcs, RegionId::new(5, 0)).unwrap();
    }

    #[test]
    fn builds_valid_metadata() {
        let m = region_metadata(&create(), RegionId::new(5, 0)).unwrap();
        assert_eq!(m.region_id, RegionId::new(5, 0));
        let ids: Vec<u32> = m.columns.iter().map(|c| c.column_id).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(m.columns[0].semantic_type, SemanticType::Tag);
        assert_eq!(m.columns[1].semantic_type, SemanticType::Timestamp);
        assert!(!m.columns[1].nullable);
        assert_eq!(m.columns[2].semantic_type, SemanticType::Field);
    }

    #[test]
    fn rejects_bad_tables() {
        let mut c = create();
        c.time_index = 2;
        let err = region_metadata(&c, RegionId::new(1, 0)).unwrap_err();
        assert!(err.to_string().contains("invalid table 'cpu'"), "{err}");
        let mut c = create();
        c.columns[2].name = "host".into();
        assert!(region_metadata(&c, RegionId::new(1, 0)).is_err());
        let mut c = create();
        c.engine = Some("file".into());
        assert!(region_metadata(&c, RegionId::new(1, 0)).is_err());
    }

    #[test]
    fn rejects_empty_and_reserved_names() {
        let mut c = create();
        c.name = String::new();
        let err = region_metadata(&c, RegionId::new(1, 0)).unwrap_err();
        assert!(
            err.to_string().contains("table name cannot be empty"),
            "{err}"
        );
        let mut c = create();
        c.columns[2].name = String::new();
        let err = region_metadata(&c, RegionId::new(1, 0)).unwrap_err();
        assert!(
            err.to_string().contains("column name cannot be empty"),
            "{err}"
        );
        for name in [
            crate::engine::read::SEQUENCE_COLUMN,
            crate::engine::read::OP_TYPE_COLUMN,
            "__anything",
        ] {
            let mut c = create();
            c.columns[2].name = name.into();
            let err = region_metadata(&c, RegionId::new(1, 0)).unwrap_err();
            assert!(err.to_string().contains("is reserved"), "{err}");
        }
    }
}
