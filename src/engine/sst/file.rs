//! SST file identity and the metadata the manifest keeps for each file (as in mito2's
//! `sst/file.rs`).

use serde::{Deserialize, Serialize};

use crate::engine::metadata::SequenceNumber;
use crate::engine::time_range::TimeRange;

/// Unique id of an SST file; also its file name stem (`{file_id}.parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileId(pub uuid::Uuid);

impl FileId {
    /// A new random id.
    pub fn random() -> Self {
        FileId(uuid::Uuid::new_v4())
    }

    /// Parses the textual form (a hyphenated UUID).
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text).ok().map(FileId)
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// What the manifest records about one SST. Persisted (JSON in manifest files): new fields
/// must be `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// File id; the object is `{region_dir}/sst/{file_id}.parquet`.
    pub file_id: FileId,
    /// 0 for flushed files, 1 for compaction output.
    pub level: u8,
    /// Smallest and largest time index value in the file (time index unit).
    pub time_range: TimeRange,
    /// File size in bytes.
    pub file_size_bytes: u64,
    /// Rows in the file, tombstones included.
    pub num_rows: u64,
    /// Parquet row groups in the file.
    pub num_row_groups: u64,
    /// Largest sequence number of any row in the file.
    pub max_sequence: SequenceNumber,
    /// CRC-32 (crc32fast) of the whole file, verified when the file is read.
    pub crc32: u32,
}
