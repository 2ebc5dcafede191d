//! The read path: which columns a read needs ([`ReadFormat`]) and the merge of sorted
//! sources into one deduplicated stream ([`merge::MergeReader`]).
//!
//! Every source (memtable iterator, SST reader) yields batches in the *read schema*: the
//! needed user columns in table order, then `__sequence` (UInt64) and `__op_type` (UInt8),
//! sorted by `(tags in primary-key order, ts asc, sequence desc)`.

pub mod compat;
pub mod merge;
pub mod predicate;
pub mod unique;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::engine::metadata::{RegionMetadataRef, SemanticType};

/// Name of the internal sequence column in read batches and SSTs.
pub const SEQUENCE_COLUMN: &str = "__sequence";
/// Name of the internal op type column in read batches and SSTs.
pub const OP_TYPE_COLUMN: &str = "__op_type";

/// Where a read column's values live in a memtable row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// The k-th tag (primary-key order).
    Tag(usize),
    /// The time index.
    TimeIndex,
    /// The k-th field (`RegionMetadata::field_indexes()` order).
    Field(usize),
}

/// The columns a read produces: all tags and the time index (needed to merge and
/// deduplicate) plus the requested fields, then the internal columns.
#[derive(Debug)]
pub struct ReadFormat {
    metadata: RegionMetadataRef,
    /// User column indexes (table order) present in read batches.
    read_columns: Vec<usize>,
    column_sources: Vec<ColumnSource>,
    schema: SchemaRef,
    /// Positions in the read schema of the tags (primary-key order) then the time index.
    key_positions: Vec<usize>,
}

impl ReadFormat {
    /// The format for reading `projection` (user column indexes; `None` = all columns).
    /// Indexes out of range are ignored.
    pub fn new(metadata: RegionMetadataRef, projection: Option<&[usize]>) -> Self {
        let read_columns: Vec<usize> = (0..metadata.columns.len())
            .filter(|&i| {
                metadata.columns[i].semantic_type != SemanticType::Field
                    || projection.is_none_or(|p| p.contains(&i))
            })
            .collect();
        Self::with_columns(metadata, read_columns)
    }

    /// The format for reading `projection` and the time index only: for a source whose rows
    /// need no merge (an SST overlapping nothing else), so the other tags are not decoded.
    /// Its [`ReadFormat::key_positions`] name only the projected tags: never merge with it.
    pub fn without_unprojected_tags(metadata: RegionMetadataRef, projection: &[usize]) -> Self {
        let read_columns: Vec<usize> = (0..metadata.columns.len())
            .filter(|&i| i == metadata.time_index || projection.contains(&i))
            .collect();
        Self::with_columns(metadata, read_columns)
    }

    fn with_columns(metadata: RegionMetadataRef, read_columns: Vec<usize>) -> Self {
        let field_indexes = metadata.field_indexes();
        let column_sources = read_columns
            .iter()
            .map(|&i| match metadata.columns[i].semantic_type {
                SemanticType::Tag => ColumnSource::Tag(
                    metadata
                        .primary_key
                        .iter()
                        .position(|&k| k == i)
                        .unwrap_or(0),
                ),
                SemanticType::Timestamp => ColumnSource::TimeIndex,
                SemanticType::Field => {
                    ColumnSource::Field(field_indexes.iter().position(|&k| k == i).unwrap_or(0))
                }
            })
            .collect();
        let mut fields: Vec<Field> = read_columns
            .iter()
            .map(|&i| {
                let column = &metadata.columns[i];
                // Tombstones carry no field values, so fields are nullable internally.
                let nullable = column.semantic_type != SemanticType::Timestamp;
                Field::new(&column.name, column.data_type.to_arrow(), nullable)
            })
            .collect();
        fields.push(Field::new(SEQUENCE_COLUMN, DataType::UInt64, false));
        fields.push(Field::new(OP_TYPE_COLUMN, DataType::UInt8, false));
        let position = |column: usize| read_columns.iter().position(|&c| c == column);
        let mut key_positions: Vec<usize> = metadata
            .primary_key
            .iter()
            .filter_map(|&k| position(k))
            .collect();
        key_positions.push(position(metadata.time_index).unwrap_or(0));
        ReadFormat {
            schema: Arc::new(Schema::new(fields)),
            metadata,
            read_columns,
            column_sources,
            key_positions,
        }
    }

    /// The region schema.
    pub fn metadata(&self) -> &RegionMetadataRef {
        &self.metadata
    }

    /// User column indexes present in read batches, in table order.
    pub fn read_columns(&self) -> &[usize] {
        &self.read_columns
    }

    /// For each read column, where a memtable row keeps it.
    pub fn column_sources(&self) -> &[ColumnSource] {
        &self.column_sources
    }

    /// The read schema (read columns, `__sequence`, `__op_type`).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Positions of the row-identity columns: tags in key order, then the time index.
    pub fn key_positions(&self) -> &[usize] {
        &self.key_positions
    }

    /// Position of the time index column in the read schema.
    pub fn time_index_position(&self) -> usize {
        self.key_positions.last().copied().unwrap_or(0)
    }

    /// Position of `__sequence`.
    pub fn sequence_position(&self) -> usize {
        self.read_columns.len()
    }

    /// Position of `__op_type`.
    pub fn op_type_position(&self) -> usize {
        self.read_columns.len() + 1
    }

    /// Position in the read schema of user column `column`, if read.
    pub fn position_of(&self, column: usize) -> Option<usize> {
        self.read_columns.iter().position(|&c| c == column)
    }
}
