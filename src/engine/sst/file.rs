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
    /// CRC-32 (crc32fast) of the whole file, verified when the whole file is read (format
    /// version 1 files, compaction inputs).
    pub crc32: u32,
    /// Where the tail (page index and footer) starts and its CRC-32: set for files of SST
    /// format version 2, whose column chunks are read and verified one by one
    /// (`sst/ranged.rs`); `None` for older files, which are read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<crate::engine::sst::ranged::FooterChecksum>,
}

/// A live SST: its metadata plus deletion-on-last-drop (mito2's `FileHandle` + purger).
/// When compaction replaces a file it calls [`FileHandle::mark_deleted`]; the object is
/// deleted when the last [`crate::engine::region::version::Version`] naming it is dropped,
/// so running scans keep reading it. If no tokio runtime is available at that moment, the
/// file is left for the orphan sweep at the next open. A deleted file's entries leave the
/// SST cache it was read through ([`FileHandle::attach_cache`]) at the same moment.
#[derive(Debug)]
pub struct FileHandle {
    meta: FileMeta,
    region_id: crate::engine::metadata::RegionId,
    storage: crate::engine::io::ObjectStorage,
    deleted: std::sync::atomic::AtomicBool,
    /// The cache that may hold this file (weak: the engine owns the cache).
    cache: std::sync::OnceLock<std::sync::Weak<crate::engine::cache::SstCache>>,
}

/// Shared file handle.
pub type FileHandleRef = std::sync::Arc<FileHandle>;

impl FileHandle {
    /// A handle for a file of `region_id` stored in `storage`.
    pub fn new(
        meta: FileMeta,
        region_id: crate::engine::metadata::RegionId,
        storage: crate::engine::io::ObjectStorage,
    ) -> FileHandleRef {
        std::sync::Arc::new(FileHandle {
            meta,
            region_id,
            storage,
            deleted: std::sync::atomic::AtomicBool::new(false),
            cache: std::sync::OnceLock::new(),
        })
    }

    /// The file's metadata.
    pub fn meta(&self) -> &FileMeta {
        &self.meta
    }

    /// Records that the file is read through `cache`, so that deleting the file drops its
    /// cache entries. Only the first call has an effect (one engine, one cache).
    pub fn attach_cache(&self, cache: &std::sync::Arc<crate::engine::cache::SstCache>) {
        let _ = self.cache.set(std::sync::Arc::downgrade(cache));
    }

    /// Deletes the object once the last reference is dropped. Call only after the manifest
    /// no longer names the file.
    pub fn mark_deleted(&self) {
        self.deleted
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for FileHandle {
    fn drop(&mut self) {
        if !self.deleted.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if let Some(cache) = self.cache.get().and_then(std::sync::Weak::upgrade) {
            cache.remove_file(self.region_id, self.meta.file_id);
        }
        let path = crate::engine::sst::sst_path(self.region_id, self.meta.file_id);
        self.storage.delete_in_background(path);
    }
}
