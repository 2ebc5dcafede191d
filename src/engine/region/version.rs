//! [`Version`]: an immutable snapshot of a region's memtables and SSTs, and
//! [`VersionControl`], which holds the current one (mito2's `region/version.rs`).
//!
//! Readers clone the current `Arc<Version>` under a short read lock and then work without
//! locks; the snapshot keeps its memtables and SST handles alive (an SST replaced by
//! compaction is deleted only when the last snapshot naming it is dropped). Changes (freeze,
//! flush, compaction) build a new `Version` and swap it in under the write lock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::engine::memtable::{MemtableId, MemtableRef};
use crate::engine::metadata::{RegionMetadataRef, SequenceNumber};
use crate::engine::options::TableOptionsRef;
use crate::engine::sst::file::{FileHandleRef, FileId};

/// A consistent view of a region.
#[derive(Debug, Clone)]
pub struct Version {
    /// Schema.
    pub metadata: RegionMetadataRef,
    /// The memtable receiving writes.
    pub mutable: MemtableRef,
    /// Frozen memtables waiting for flush, oldest first.
    pub immutables: Vec<MemtableRef>,
    /// SSTs named by the manifest.
    pub files: BTreeMap<FileId, FileHandleRef>,
    /// Every row with a sequence at or below this is in `files` (or was truncated).
    pub flushed_sequence: SequenceNumber,
    /// The table options in effect (TTL, append mode, merge mode; mito2 keeps its
    /// `RegionOptions` in the version too). Changed by `ALTER TABLE ... SET`.
    pub options: TableOptionsRef,
}

/// Shared version handle.
pub type VersionRef = Arc<Version>;

/// Holds the current [`Version`].
#[derive(Debug)]
pub struct VersionControl {
    current: RwLock<VersionRef>,
}

impl VersionControl {
    /// Starts at `version`.
    pub fn new(version: Version) -> Self {
        VersionControl {
            current: RwLock::new(Arc::new(version)),
        }
    }

    /// The current snapshot.
    pub fn current(&self) -> VersionRef {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the current version with `change(current)`.
    pub fn apply(&self, change: impl FnOnce(&Version) -> Version) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = change(&guard);
        *guard = Arc::new(next);
    }

    /// Freezes the mutable memtable (if it has rows) and installs `new_mutable`.
    pub fn freeze(&self, new_mutable: MemtableRef) {
        self.apply(|v| {
            let mut next = v.clone();
            if !v.mutable.is_empty() {
                next.immutables.push(v.mutable.clone());
            }
            next.mutable = new_mutable;
            next
        });
    }

    /// Installs a finished flush: drops the flushed memtables, adds their SSTs.
    pub fn apply_flush(
        &self,
        flushed: &[MemtableId],
        files: Vec<FileHandleRef>,
        flushed_sequence: SequenceNumber,
    ) {
        self.apply(|v| {
            let mut next = v.clone();
            next.immutables.retain(|m| !flushed.contains(&m.id()));
            for file in files {
                next.files.insert(file.meta().file_id, file);
            }
            next.flushed_sequence = next.flushed_sequence.max(flushed_sequence);
            next
        });
    }

    /// Installs a finished compaction: removes the inputs, adds the outputs.
    pub fn apply_compaction(&self, removed: &[FileId], added: Vec<FileHandleRef>) {
        self.apply(|v| {
            let mut next = v.clone();
            for id in removed {
                next.files.remove(id);
            }
            for file in added {
                next.files.insert(file.meta().file_id, file);
            }
            next
        });
    }
}
