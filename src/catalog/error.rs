//! Errors of the catalog.

use crate::engine::codec::DecodeError;

/// What is wrong with a damaged catalog file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// Header or frame damage (magic, version, length, checksum, truncation).
    #[error("{0}")]
    Framing(DecodeError),
    /// The frame has an unknown record type.
    #[error("unexpected record type {0}")]
    RecordType(u8),
    /// Bytes follow the single frame.
    #[error("{0} unexpected bytes after the catalog record")]
    TrailingBytes(usize),
    /// The payload is not the expected JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The content contradicts itself.
    #[error("inconsistent content: {0}")]
    Invalid(String),
}

/// Errors of catalog operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog file is damaged. The database refuses to open rather than start empty.
    #[error(
        "catalog file '{path}' is corrupt: {kind}; restore it from a backup (the table data is untouched)"
    )]
    Corruption { path: String, kind: CorruptionKind },

    /// The catalog file has a format version this build does not read (written by a newer
    /// tsdb). Not damage: open it with a build that supports the version.
    #[error(
        "catalog file '{path}' has format version {found} but this build reads up to \
         {supported}; open it with a newer tsdb"
    )]
    NewerVersion {
        path: String,
        found: u16,
        supported: u16,
    },

    /// There is no catalog file, but regions on storage hold rows (SSTs, manifest edits or
    /// WAL entries): the catalog was lost or deleted. The database refuses to open rather
    /// than drop the regions as leftovers of an interrupted CREATE TABLE; nothing was changed.
    #[error(
        "catalog file '{path}' is missing, but region(s) {} hold data; refusing to open so \
         that they are not dropped (nothing was changed). Restore '{path}' from a backup; to \
         start an empty database here instead, move the regions/ and wal/ directories away",
        display_regions(regions)
    )]
    MissingCatalog {
        path: String,
        regions: Vec<crate::engine::metadata::RegionId>,
    },

    /// The catalog could not be serialised.
    #[error("cannot encode the catalog: {reason}")]
    Encode { reason: String },

    /// Reading or writing the catalog file failed.
    #[error("catalog storage: {0}")]
    Storage(#[from] crate::engine::io::Error),

    /// The storage engine failed during a catalog operation.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    /// A table with this name exists.
    #[error("Table already exists: {name}")]
    TableExists { name: String },

    /// No table has this name.
    #[error("Table not found: {name}")]
    TableNotFound { name: String },

    /// A view with this name exists.
    #[error("View already exists: {name}")]
    ViewExists { name: String },

    /// No view has this name.
    #[error("View not found: {name}")]
    ViewNotFound { name: String },

    /// Every table id has been used.
    #[error("no table ids left (next_table_id is {next})")]
    TableIdsExhausted { next: u32 },

    /// A CREATE TABLE describes a schema the engine cannot store.
    #[error("invalid table '{name}': {reason}")]
    InvalidTable { name: String, reason: String },

    /// `ALTER TABLE ... ADD COLUMN` of a column that exists (GreptimeDB's wording).
    #[error("Column {column} already exists in table {table}")]
    ColumnExists { table: String, column: String },

    /// `ALTER TABLE` names a column the table does not have (GreptimeDB's wording).
    #[error("Column {column} not exists in table {table}")]
    ColumnNotFound { table: String, column: String },

    /// `ALTER TABLE ... DROP COLUMN` of a tag or the time index (GreptimeDB's wording).
    #[error("Not allowed to remove index column {column} from table {table}")]
    RemoveIndexColumn { table: String, column: String },

    /// Any other `ALTER TABLE` GreptimeDB refuses, in its wording.
    #[error("Invalid alter table({table}) request: {reason}")]
    InvalidAlter { table: String, reason: String },
}

fn display_regions(regions: &[crate::engine::metadata::RegionId]) -> String {
    let names: Vec<String> = regions.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// Result of catalog operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
