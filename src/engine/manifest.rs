//! The region manifest: the only record of which SSTs a region has and up to which sequence
//! its rows are flushed (as in GreptimeDB mito2's `manifest/`).
//!
//! The manifest is a log of numbered delta files, one per [`RegionManifestManager::update`],
//! plus periodic checkpoints holding the whole state, all in one directory of the object
//! store. The byte layout and the recovery rules are normative in `docs/FORMAT.md`
//! ("Manifest").
//!
//! Invariants:
//! - the in-memory state changes only after the delta that records it is durable, so the
//!   state in memory is always one a reopen would reproduce;
//! - versions are dense: every update writes version `previous + 1`;
//! - files are deleted only once a durable checkpoint supersedes them;
//! - `flushed_sequence` never decreases.
//!
//! Updates take `&mut self`: the caller serialises them (the region's structural-change lock).

mod action;
mod recovery;
mod storage;
#[cfg(test)]
mod tests;

use object_store::path::Path;

pub use action::{ManifestAction, RegionEdit, RegionManifest};
pub use storage::{
    ALTERED_FORMAT_VERSION, CHECKPOINT_MAGIC, CHECKPOINT_SUFFIX, DELTA_MAGIC, DELTA_SUFFIX,
    FORMAT_VERSION, RECORD_TYPE_JSON,
};

use crate::engine::io::ObjectStorage;
use crate::engine::metadata::{RegionId, RegionMetadata};

/// Errors of manifest operations; each names the file or directory involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing, listing or deleting a manifest file failed.
    #[error(transparent)]
    Storage(#[from] crate::engine::io::Error),

    /// A manifest file that is needed does not decode (bad header, checksum mismatch, invalid
    /// JSON, inconsistent content).
    #[error(
        "manifest file '{path}' is corrupt ({reason}); the region cannot be opened until the \
         file is restored from a backup"
    )]
    Corruption {
        /// The damaged file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A manifest file was written by a newer format version.
    #[error(
        "manifest file '{path}' has format version {found} but this build reads up to \
         {supported}; open it with a newer tsdb"
    )]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// Version in its header.
        found: u16,
        /// Highest version this build reads.
        supported: u16,
    },

    /// The manifest state could not be encoded as JSON.
    #[error("cannot encode manifest file '{path}': {source}")]
    Serialize {
        /// The file being written.
        path: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// The encoded manifest file exceeds the largest frame payload.
    #[error("manifest file '{path}' would hold {len} bytes, more than one frame can carry")]
    TooLarge {
        /// The file being written.
        path: String,
        /// Payload size in bytes.
        len: usize,
    },

    /// A delta that recovery needs does not exist (files were deleted or lost).
    #[error(
        "manifest in '{dir}' is missing delta version {version}; the region cannot be opened \
         until the file is restored"
    )]
    MissingDelta {
        /// The manifest directory.
        dir: String,
        /// The first version that is missing.
        version: u64,
    },

    /// [`RegionManifestManager::create`] found an existing manifest.
    #[error("a manifest already exists in '{dir}'; open it instead of creating one")]
    AlreadyExists {
        /// The manifest directory.
        dir: String,
    },

    /// A `Change` action names a different region than the manifest's.
    #[error("manifest of region {expected} cannot take metadata of region {found}")]
    RegionMismatch {
        /// The manifest's region.
        expected: RegionId,
        /// The region the action names.
        found: RegionId,
    },

    /// The manifest version cannot be incremented.
    #[error("manifest in '{dir}' reached the largest version")]
    VersionOverflow {
        /// The manifest directory.
        dir: String,
    },
}

/// Result of manifest operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Manifest options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestOptions {
    /// A checkpoint is written when this many versions have passed since the last one.
    /// Default 10. Smaller values make opens faster and updates costlier (a checkpoint
    /// rewrites the whole file list); 0 and 1 both checkpoint after every update.
    pub checkpoint_distance: u64,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        ManifestOptions {
            checkpoint_distance: 10,
        }
    }
}

/// Owns a region's manifest directory: applies updates durably and checkpoints.
#[derive(Debug)]
pub struct RegionManifestManager {
    storage: ObjectStorage,
    dir: Path,
    options: ManifestOptions,
    manifest: RegionManifest,
    /// Version of the newest durable checkpoint (0 if none: version 0 is the creating delta).
    last_checkpoint_version: u64,
}

impl RegionManifestManager {
    /// Creates the manifest of a new region in `dir` (a prefix in the store, e.g.
    /// `regions/1_0/manifest`): durably writes delta 0 holding a `Change` with `metadata`.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] if `dir` already holds a manifest file; [`Error::Storage`].
    pub async fn create(
        storage: ObjectStorage,
        dir: Path,
        metadata: RegionMetadata,
        options: ManifestOptions,
    ) -> Result<Self> {
        if !storage::list(&storage, &dir).await?.is_empty() {
            return Err(Error::AlreadyExists {
                dir: dir.to_string(),
            });
        }
        let actions = [ManifestAction::Change {
            metadata: metadata.clone(),
        }];
        storage::write_delta(&storage, &dir, 0, &actions).await?;
        Ok(RegionManifestManager {
            storage,
            dir,
            options,
            manifest: RegionManifest::new(metadata),
            last_checkpoint_version: 0,
        })
    }

    /// Loads the latest checkpoint and replays the deltas after it. `Ok(None)` if `dir` holds
    /// no manifest file (other objects, such as temp files, are ignored).
    ///
    /// # Errors
    /// [`Error::Corruption`] naming a damaged file that is needed, [`Error::MissingDelta`],
    /// [`Error::UnsupportedVersion`], [`Error::Storage`]. Never an empty manifest in place of
    /// a damaged one.
    pub async fn open(
        storage: ObjectStorage,
        dir: Path,
        options: ManifestOptions,
    ) -> Result<Option<Self>> {
        let Some(recovered) = recovery::recover(&storage, &dir).await? else {
            return Ok(None);
        };
        // The state is known now: files no version needs can go. A torn newest delta would
        // otherwise be overwritten by the next update, which writes the same version.
        if let Some(torn) = &recovered.torn_delta {
            storage.delete(torn).await?;
        }
        storage.sweep_temp_files(&dir).await?;
        Ok(Some(RegionManifestManager {
            storage,
            dir,
            options,
            manifest: recovered.manifest,
            last_checkpoint_version: recovered.checkpoint_version,
        }))
    }

    /// Durably writes one delta holding `actions` (all or nothing), then applies them in
    /// memory; returns the new manifest version. Writes a checkpoint when due; a failed
    /// checkpoint is logged and retried on the next update (the delta is already durable).
    ///
    /// # Errors
    /// [`Error::RegionMismatch`] for a `Change` of another region; [`Error::Storage`] if the
    /// delta cannot be written, in which case the in-memory state is unchanged (the file may
    /// or may not exist; the next update overwrites it).
    pub async fn update(&mut self, actions: Vec<ManifestAction>) -> Result<u64> {
        let expected = self.manifest.metadata.region_id;
        for action in &actions {
            if let ManifestAction::Change { metadata } = action
                && metadata.region_id != expected
            {
                return Err(Error::RegionMismatch {
                    expected,
                    found: metadata.region_id,
                });
            }
        }
        let version = self
            .manifest
            .manifest_version
            .checked_add(1)
            .ok_or_else(|| Error::VersionOverflow {
                dir: self.dir.to_string(),
            })?;
        storage::write_delta(&self.storage, &self.dir, version, &actions).await?;
        for action in &actions {
            self.manifest.apply(action);
        }
        self.manifest.manifest_version = version;
        if version.saturating_sub(self.last_checkpoint_version) >= self.options.checkpoint_distance
        {
            self.checkpoint().await;
        }
        Ok(version)
    }

    /// The current state.
    pub fn manifest(&self) -> &RegionManifest {
        &self.manifest
    }

    /// The manifest directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Version of the newest checkpoint this manager wrote or opened from (0 if none).
    pub fn last_checkpoint_version(&self) -> u64 {
        self.last_checkpoint_version
    }

    /// Writes a checkpoint of the current state, then deletes the files it supersedes.
    /// Failures are logged, not returned: the deltas stay and the next update retries.
    async fn checkpoint(&mut self) {
        let version = self.manifest.manifest_version;
        if let Err(e) = storage::write_checkpoint(&self.storage, &self.dir, &self.manifest).await {
            log::warn!(
                "manifest checkpoint at version {version} in '{}' failed (retried on the next \
                 update): {e}",
                self.dir
            );
            return;
        }
        self.last_checkpoint_version = version;
        self.purge(version).await;
    }

    /// Deletes the deltas `<= version` and the checkpoints `< version`, oldest first, so
    /// that an interrupted purge leaves a contiguous suffix of the history.
    async fn purge(&self, version: u64) {
        let listing = match storage::list(&self.storage, &self.dir).await {
            Ok(listing) => listing,
            Err(e) => {
                log::warn!(
                    "cannot list '{}' to delete old manifest files: {e}",
                    self.dir
                );
                return;
            }
        };
        let mut obsolete: Vec<(u64, &Path)> = listing
            .deltas
            .range(..=version)
            .chain(listing.checkpoints.range(..version))
            .map(|(v, path)| (*v, path))
            .collect();
        obsolete.sort_by_key(|(v, _)| *v);
        for (_, path) in obsolete {
            if let Err(e) = self.storage.delete(path).await {
                log::warn!("cannot delete superseded manifest file '{path}': {e}");
            }
        }
    }
}
