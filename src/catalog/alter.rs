//! `ALTER TABLE` column changes → the table's next [`RegionMetadata`], with GreptimeDB's
//! rules and wording (`src/table/src/metadata.rs`: `add_columns`, `remove_columns`,
//! `modify_column_types`; `src/store-api/src/metadata.rs`: `RegionMetadataBuilder::alter`).
//!
//! - `ADD COLUMN`: a new id (never one a dropped column had), nullable or with a default
//!   (old rows read as the default); `FIRST` / `AFTER c` place it (several FIRST or AFTER
//!   the same column end up in reverse order, as in GreptimeDB); a tag (`PRIMARY KEY`) is
//!   appended to the end of the primary key; `IF NOT EXISTS` skips a column of that name
//!   and type.
//! - `DROP COLUMN`: never a tag or the time index.
//! - `MODIFY COLUMN c type`: a nullable field only, to a type Arrow can cast the old one to
//!   (values are cast at read; one that does not convert reads as NULL).
//! - `MODIFY COLUMN c SET DEFAULT v` / `DROP DEFAULT` (not on a NOT NULL column): later
//!   inserts, and rows of files that predate the column, use the new default (as mito2's
//!   compat reader, which fills missing columns with the current default).

use crate::catalog::builder::RESERVED_COLUMN_PREFIX;
use crate::catalog::error::{Error, Result};
use crate::engine::metadata::{ColumnMetadata, RegionMetadata, SemanticType};
use crate::sql::statement::{AddColumn, AddColumnLocation, AlterTableOperation};

/// The metadata of `table` after `operation` (schema version + 1), or `None` when it
/// changes nothing (every `ADD COLUMN IF NOT EXISTS` column exists, `MODIFY` to the same
/// type). `RENAME` changes no metadata and gives `None`.
///
/// # Errors
/// [`Error::ColumnExists`], [`Error::ColumnNotFound`], [`Error::RemoveIndexColumn`] and
/// [`Error::InvalidAlter`] with GreptimeDB's messages.
pub fn altered_metadata(
    table: &str,
    current: &RegionMetadata,
    operation: &AlterTableOperation,
) -> Result<Option<RegionMetadata>> {
    let mut next = current.clone();
    let changed = match operation {
        AlterTableOperation::AddColumns(columns) => add_columns(table, &mut next, columns)?,
        AlterTableOperation::DropColumn { name } => {
            drop_column(table, &mut next, name)?;
            true
        }
        AlterTableOperation::ModifyColumnType { name, data_type } => {
            let index = column_index(table, current, name)?;
            let column = &mut next.columns[index];
            let invalid = |reason: String| Error::InvalidAlter {
                table: table.to_string(),
                reason,
            };
            match column.semantic_type {
                SemanticType::Tag => {
                    return Err(invalid(format!(
                        "Not allowed to change primary key index column '{name}'"
                    )));
                }
                SemanticType::Timestamp => {
                    return Err(invalid(format!(
                        "Not allowed to change timestamp index column '{name}' datatype"
                    )));
                }
                SemanticType::Field => {}
            }
            if !column.data_type.can_modify_to(*data_type) {
                return Err(invalid(format!(
                    "column '{name}' cannot be cast automatically to type '{}'",
                    data_type.name()
                )));
            }
            if !column.nullable {
                return Err(invalid(format!(
                    "column '{name}' must be nullable to ensure safe conversion."
                )));
            }
            let changed = column.data_type != *data_type;
            column.data_type = *data_type;
            changed
        }
        AlterTableOperation::SetDefaults(defaults) => {
            let mut changed = false;
            for (name, default) in defaults {
                let index = column_index(table, current, name)?;
                let column = &mut next.columns[index];
                if default.is_none() && !column.nullable {
                    return Err(Error::InvalidAlter {
                        table: table.to_string(),
                        reason: format!(
                            "column {name} is not nullable and `default` cannot be dropped"
                        ),
                    });
                }
                changed |= column.default != *default;
                column.default = default.clone();
            }
            changed
        }
        AlterTableOperation::RenameTable { .. } => false,
    };
    if !changed {
        return Ok(None);
    }
    next.schema_version = current.schema_version + 1;
    next.validate().map_err(|e| Error::InvalidAlter {
        table: table.to_string(),
        reason: match e {
            crate::engine::Error::InvalidMetadata { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    Ok(Some(next))
}

fn column_index(table: &str, metadata: &RegionMetadata, name: &str) -> Result<usize> {
    metadata
        .column_index(name)
        .ok_or_else(|| Error::ColumnNotFound {
            table: table.to_string(),
            column: name.to_string(),
        })
}

/// Adds `columns`; false if all of them existed (`IF NOT EXISTS`).
fn add_columns(table: &str, metadata: &mut RegionMetadata, columns: &[AddColumn]) -> Result<bool> {
    let invalid = |reason: String| Error::InvalidAlter {
        table: table.to_string(),
        reason,
    };
    let mut next_id = metadata.next_column_id();
    let mut added = Vec::new();
    let tag_ids: Vec<u32> = metadata
        .primary_key
        .iter()
        .map(|&k| metadata.columns[k].column_id)
        .collect();
    let mut new_tag_ids = Vec::new();
    for add in columns {
        let def = &add.column;
        if let Some(existing) = metadata.column(&def.name) {
            if added.contains(&def.name) {
                return Err(invalid(format!("add column {} more than once", def.name)));
            }
            if !add.if_not_exists {
                return Err(Error::ColumnExists {
                    table: table.to_string(),
                    column: def.name.clone(),
                });
            }
            if existing.data_type != def.data_type {
                return Err(invalid(format!(
                    "column {} already exists with different type {}",
                    def.name,
                    existing.data_type.name()
                )));
            }
            continue;
        }
        if def.name.is_empty() || def.name.starts_with(RESERVED_COLUMN_PREFIX) {
            return Err(invalid(format!(
                "column name '{}' is reserved or empty: names starting with \
                 '{RESERVED_COLUMN_PREFIX}' are the storage engine's own columns",
                def.name
            )));
        }
        if !def.nullable && def.default.is_none() {
            return Err(invalid(format!("no default value for column {}", def.name)));
        }
        let column = ColumnMetadata {
            name: def.name.clone(),
            column_id: next_id,
            data_type: def.data_type,
            semantic_type: def.semantic_type,
            nullable: def.nullable,
            default: def.default.clone(),
        };
        let position = match &add.location {
            None => metadata.columns.len(),
            Some(AddColumnLocation::First) => 0,
            Some(AddColumnLocation::After(after)) => {
                metadata.column_index(after).ok_or_else(|| {
                    invalid(format!(
                        "column {after} not found, failed to add column {} after it",
                        def.name
                    ))
                })? + 1
            }
        };
        if def.semantic_type == SemanticType::Tag {
            new_tag_ids.push(next_id);
        }
        let ts_id = metadata.time_index_column().column_id;
        metadata.columns.insert(position, column);
        metadata.time_index = metadata
            .columns
            .iter()
            .position(|c| c.column_id == ts_id)
            .unwrap_or(metadata.time_index);
        added.push(def.name.clone());
        next_id = next_id
            .checked_add(1)
            .ok_or_else(|| invalid("no column ids left".to_string()))?;
    }
    if added.is_empty() {
        return Ok(false);
    }
    let position_of = |id: u32, columns: &[ColumnMetadata]| {
        columns.iter().position(|c| c.column_id == id).unwrap_or(0)
    };
    metadata.primary_key = tag_ids
        .iter()
        .chain(&new_tag_ids)
        .map(|&id| position_of(id, &metadata.columns))
        .collect();
    metadata.next_column_id = next_id;
    Ok(true)
}

fn drop_column(table: &str, metadata: &mut RegionMetadata, name: &str) -> Result<()> {
    let index = column_index(table, metadata, name)?;
    if metadata.columns[index].semantic_type != SemanticType::Field {
        return Err(Error::RemoveIndexColumn {
            table: table.to_string(),
            column: name.to_string(),
        });
    }
    // Recorded so the dropped id is never handed out again.
    metadata.next_column_id = metadata.next_column_id();
    let ids = |m: &RegionMetadata, indexes: &[usize]| -> Vec<u32> {
        indexes.iter().map(|&k| m.columns[k].column_id).collect()
    };
    let tag_ids = ids(metadata, &metadata.primary_key);
    let ts_id = metadata.time_index_column().column_id;
    metadata.columns.remove(index);
    let position_of = |id: u32| {
        metadata
            .columns
            .iter()
            .position(|c| c.column_id == id)
            .unwrap_or(0)
    };
    let primary_key = tag_ids.iter().map(|&id| position_of(id)).collect();
    let time_index = position_of(ts_id);
    metadata.primary_key = primary_key;
    metadata.time_index = time_index;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metadata::ColumnDataType;
    use crate::engine::region::check_evolution;
    use crate::engine::test_util::cpu_metadata;
    use crate::sql::ColumnDef;

    fn add(
        name: &str,
        semantic_type: SemanticType,
        location: Option<AddColumnLocation>,
    ) -> AddColumn {
        AddColumn {
            column: ColumnDef {
                name: name.to_string(),
                data_type: ColumnDataType::String,
                semantic_type,
                nullable: true,
                default: None,
                comment: None,
            },
            location,
            if_not_exists: false,
        }
    }

    fn names(m: &RegionMetadata) -> Vec<&str> {
        m.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn add_places_columns_and_appends_tags() {
        let old = cpu_metadata();
        let op = AlterTableOperation::AddColumns(vec![
            add("a", SemanticType::Field, Some(AddColumnLocation::First)),
            add("b", SemanticType::Field, Some(AddColumnLocation::First)),
            add(
                "dc",
                SemanticType::Tag,
                Some(AddColumnLocation::After("host".into())),
            ),
            add("z", SemanticType::Field, None),
        ]);
        let new = altered_metadata("cpu", &old, &op).unwrap().unwrap();
        assert_eq!(names(&new), ["b", "a", "host", "dc", "ts", "cpu", "z"]);
        assert_eq!(new.time_index, 4);
        let tags: Vec<&str> = new
            .primary_key
            .iter()
            .map(|&k| new.columns[k].name.as_str())
            .collect();
        assert_eq!(tags, ["host", "dc"]);
        assert_eq!(new.schema_version, 1);
        let ids: Vec<u32> = new.columns.iter().map(|c| c.column_id).collect();
        assert_eq!(ids, [4, 3, 0, 5, 1, 2, 6]);
        check_evolution(&old, &new).unwrap();
    }

    #[test]
    fn dropped_ids_are_never_reused() {
        let old = cpu_metadata();
        let dropped = altered_metadata(
            "cpu",
            &old,
            &AlterTableOperation::DropColumn { name: "cpu".into() },
        )
        .unwrap()
        .unwrap();
        check_evolution(&old, &dropped).unwrap();
        assert_eq!(names(&dropped), ["host", "ts"]);
        let readded = altered_metadata(
            "cpu",
            &dropped,
            &AlterTableOperation::AddColumns(vec![add("cpu", SemanticType::Field, None)]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(readded.column("cpu").unwrap().column_id, 3);
        check_evolution(&dropped, &readded).unwrap();
        // The JSON round trip keeps the high-water mark.
        let json = serde_json::to_string(&readded).unwrap();
        let back: RegionMetadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back.next_column_id(), 4);
    }

    #[test]
    fn refuses_what_greptimedb_refuses() {
        let old = cpu_metadata();
        let err =
            |op: AlterTableOperation| altered_metadata("cpu", &old, &op).unwrap_err().to_string();
        assert_eq!(
            err(AlterTableOperation::DropColumn {
                name: "host".into()
            }),
            "Not allowed to remove index column host from table cpu"
        );
        assert_eq!(
            err(AlterTableOperation::DropColumn { name: "ts".into() }),
            "Not allowed to remove index column ts from table cpu"
        );
        assert_eq!(
            err(AlterTableOperation::DropColumn {
                name: "nope".into()
            }),
            "Column nope not exists in table cpu"
        );
        assert_eq!(
            err(AlterTableOperation::AddColumns(vec![add(
                "cpu",
                SemanticType::Field,
                None
            )])),
            "Column cpu already exists in table cpu"
        );
        let mut not_null = add("k", SemanticType::Field, None);
        not_null.column.nullable = false;
        assert_eq!(
            err(AlterTableOperation::AddColumns(vec![not_null])),
            "Invalid alter table(cpu) request: no default value for column k"
        );
        assert_eq!(
            err(AlterTableOperation::ModifyColumnType {
                name: "host".into(),
                data_type: ColumnDataType::Int32
            }),
            "Invalid alter table(cpu) request: Not allowed to change primary key index column 'host'"
        );
        assert_eq!(
            err(AlterTableOperation::ModifyColumnType {
                name: "ts".into(),
                data_type: ColumnDataType::Int64
            }),
            "Invalid alter table(cpu) request: Not allowed to change timestamp index column 'ts' datatype"
        );
        let mut if_not_exists = add("cpu", SemanticType::Field, None);
        if_not_exists.if_not_exists = true;
        assert!(
            err(AlterTableOperation::AddColumns(vec![if_not_exists.clone()]))
                .contains("already exists with different type Float64")
        );
        if_not_exists.column.data_type = ColumnDataType::Float64;
        let op = AlterTableOperation::AddColumns(vec![if_not_exists]);
        assert_eq!(altered_metadata("cpu", &old, &op).unwrap(), None);
    }
}
