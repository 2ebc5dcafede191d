//! Manifest actions and the state they build (as in mito2's `manifest/action.rs`).
//!
//! A [`RegionManifest`] is the fold of every [`ManifestAction`] ever written for a region, in
//! version order. Applying an action is infallible and deterministic, so replaying the same
//! deltas always yields the same state. Invariant: `flushed_sequence` never decreases.
//!
//! The JSON shapes are normative in `docs/FORMAT.md` (section "Manifest"); persisted structs
//! only ever gain `#[serde(default)]` fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::metadata::{RegionMetadata, RegionMetadataRef, SequenceNumber};
use crate::engine::sst::file::{FileId, FileMeta};

/// One change to a region's manifest. Persisted (JSON, externally tagged:
/// `{"Change": {...}}` / `{"Edit": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ManifestAction {
    /// The region's schema is now `metadata` (region creation, ALTER).
    Change {
        /// The complete new metadata; replaces the old one.
        metadata: RegionMetadata,
    },
    /// SSTs were added and/or removed (flush, compaction, truncation).
    Edit(RegionEdit),
}

/// A change to the set of SSTs, plus the flush and compaction bookkeeping that goes with it.
/// Persisted: new fields must be `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionEdit {
    /// SSTs that become part of the region (already durable in the store).
    #[serde(default)]
    pub files_to_add: Vec<FileMeta>,
    /// SSTs that leave the region, matched by `file_id` (unknown ids are ignored).
    #[serde(default)]
    pub files_to_remove: Vec<FileMeta>,
    /// Every row with a sequence number `<=` this is in an SST; `None` leaves it unchanged.
    /// Applied as `max(old, new)`: it never goes backwards.
    #[serde(default)]
    pub flushed_sequence: Option<SequenceNumber>,
    /// Time window compaction buckets files by, in the time index unit; `None` leaves it
    /// unchanged.
    #[serde(default)]
    pub compaction_time_window: Option<i64>,
    /// Every write with a sequence number `<=` this had been acknowledged (so was in the
    /// WAL or an SST) when the edit was written: flushes and clean closes record it, and
    /// opening the region refuses a WAL that ends below it (a deleted newest segment).
    /// `None` leaves it unchanged; applied as `max(old, new)`.
    #[serde(default)]
    pub committed_sequence: Option<SequenceNumber>,
}

/// The state of a region's manifest at one version: schema, live SSTs and flush position.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionManifest {
    /// The region's current schema.
    pub metadata: RegionMetadataRef,
    /// The live SSTs, by id.
    pub files: BTreeMap<FileId, FileMeta>,
    /// Every row with a sequence number `<=` this is in an SST (WAL replay starts after it).
    pub flushed_sequence: SequenceNumber,
    /// Compaction time window in the time index unit, once one has been chosen.
    pub compaction_time_window: Option<i64>,
    /// Every write at or below this was acknowledged by the time of the last flush or clean
    /// close (see [`RegionEdit::committed_sequence`]); 0 if none was recorded.
    pub committed_sequence: SequenceNumber,
    /// Version of the last delta applied (0 = the creating delta).
    pub manifest_version: u64,
}

impl RegionManifest {
    /// The manifest of a region that has just been created with `metadata`, at version 0.
    pub fn new(metadata: RegionMetadata) -> Self {
        RegionManifest {
            metadata: Arc::new(metadata),
            files: BTreeMap::new(),
            flushed_sequence: 0,
            compaction_time_window: None,
            committed_sequence: 0,
            manifest_version: 0,
        }
    }

    /// Applies one action in memory (does not change `manifest_version`).
    ///
    /// A `Change` replaces the metadata. An `Edit` adds `files_to_add`, then removes
    /// `files_to_remove` by id, raises `flushed_sequence` to `max(old, new)` and sets
    /// `compaction_time_window` if given.
    pub fn apply(&mut self, action: &ManifestAction) {
        match action {
            ManifestAction::Change { metadata } => {
                self.metadata = Arc::new(metadata.clone());
            }
            ManifestAction::Edit(edit) => {
                for file in &edit.files_to_add {
                    self.files.insert(file.file_id, file.clone());
                }
                for file in &edit.files_to_remove {
                    self.files.remove(&file.file_id);
                }
                if let Some(sequence) = edit.flushed_sequence {
                    self.flushed_sequence = self.flushed_sequence.max(sequence);
                }
                if let Some(window) = edit.compaction_time_window {
                    self.compaction_time_window = Some(window);
                }
                if let Some(sequence) = edit.committed_sequence {
                    self.committed_sequence = self.committed_sequence.max(sequence);
                }
            }
        }
    }
}

/// Payload of a delta file, as written.
#[derive(Debug, Serialize)]
pub(super) struct DeltaRef<'a> {
    /// The delta's version; must equal the version in its file name.
    pub version: u64,
    /// Actions in the order they are applied.
    pub actions: &'a [ManifestAction],
}

/// Payload of a delta file, as read.
#[derive(Debug, Deserialize)]
pub(super) struct Delta {
    /// The delta's version; must equal the version in its file name.
    pub version: u64,
    /// Actions in the order they are applied.
    pub actions: Vec<ManifestAction>,
}

/// Payload of a checkpoint file, as written.
#[derive(Debug, Serialize)]
pub(super) struct CheckpointRef<'a> {
    /// The manifest version the checkpoint captures.
    pub version: u64,
    /// Region metadata at that version.
    pub metadata: &'a RegionMetadata,
    /// Live SSTs in ascending `file_id` order.
    pub files: Vec<&'a FileMeta>,
    /// Flushed sequence at that version.
    pub flushed_sequence: SequenceNumber,
    /// Compaction time window at that version.
    pub compaction_time_window: Option<i64>,
    /// Committed sequence recorded at that version.
    pub committed_sequence: SequenceNumber,
}

impl<'a> CheckpointRef<'a> {
    /// The checkpoint payload of `manifest`.
    pub fn from_manifest(manifest: &'a RegionManifest) -> Self {
        CheckpointRef {
            version: manifest.manifest_version,
            metadata: &manifest.metadata,
            files: manifest.files.values().collect(),
            flushed_sequence: manifest.flushed_sequence,
            compaction_time_window: manifest.compaction_time_window,
            committed_sequence: manifest.committed_sequence,
        }
    }
}

/// Payload of a checkpoint file, as read.
#[derive(Debug, Deserialize)]
pub(super) struct Checkpoint {
    /// The manifest version the checkpoint captures.
    pub version: u64,
    /// Region metadata at that version.
    pub metadata: RegionMetadata,
    /// Live SSTs.
    #[serde(default)]
    pub files: Vec<FileMeta>,
    /// Flushed sequence at that version.
    #[serde(default)]
    pub flushed_sequence: SequenceNumber,
    /// Compaction time window at that version.
    #[serde(default)]
    pub compaction_time_window: Option<i64>,
    /// Committed sequence recorded at that version (0 in checkpoints written before it was).
    #[serde(default)]
    pub committed_sequence: SequenceNumber,
}

impl Checkpoint {
    /// The state the checkpoint holds; `Err(file_id)` if a file id appears twice.
    pub fn into_manifest(self) -> Result<RegionManifest, FileId> {
        let mut files = BTreeMap::new();
        for file in self.files {
            let file_id = file.file_id;
            if files.insert(file_id, file).is_some() {
                return Err(file_id);
            }
        }
        Ok(RegionManifest {
            metadata: Arc::new(self.metadata),
            files,
            flushed_sequence: self.flushed_sequence,
            compaction_time_window: self.compaction_time_window,
            committed_sequence: self.committed_sequence,
            manifest_version: self.version,
        })
    }
}
