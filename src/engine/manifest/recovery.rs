//! Opening a manifest: load the newest usable checkpoint, then replay the deltas after it
//! (as in mito2's `manifest/manager.rs::open`). The rules are normative in `docs/FORMAT.md`
//! ("Manifest", "Open and recovery").
//!
//! Invariant: the result is either the state as of the highest version any manifest file
//! names, or an error. A damaged newest checkpoint is bypassed only when an older checkpoint
//! (or delta 0) plus an unbroken run of deltas reaches that version; otherwise the damage is
//! reported. A torn newest delta (an update interrupted before it was durable) is ignored, as
//! a torn WAL tail is. Recovery never deletes or rewrites files; `RegionManifestManager::open`
//! deletes the torn delta and temp files afterwards.

use std::ops::Bound;

use object_store::path::Path;

use super::action::{ManifestAction, RegionManifest};
use super::storage::{self, Listing};
use super::{Error, Result};
use crate::engine::io::ObjectStorage;

/// A manifest loaded from storage.
#[derive(Debug)]
pub(super) struct Recovered {
    /// The state at the latest version.
    pub manifest: RegionManifest,
    /// Version of the checkpoint recovery started from (0 if it replayed from delta 0).
    pub checkpoint_version: u64,
    /// The newest delta, if it was a torn write that recovery ignored (see
    /// [`storage::is_torn_write`]); the caller deletes it.
    pub torn_delta: Option<Path>,
}

/// Takes the newest delta out of `listing` if it is a torn write newer than every checkpoint:
/// an update that a crash interrupted before it was durable, so no acknowledged operation
/// depended on it (like a torn WAL tail). Any other damage stays for recovery to report.
async fn take_torn_newest_delta(
    storage: &ObjectStorage,
    listing: &mut Listing,
) -> Result<Option<Path>> {
    let Some((&version, path)) = listing.deltas.last_key_value() else {
        return Ok(None);
    };
    let newest_checkpoint = listing.checkpoints.last_key_value().map(|(v, _)| *v);
    if newest_checkpoint.is_some_and(|checkpoint| checkpoint >= version) {
        return Ok(None);
    }
    let bytes = storage.get(path).await?;
    if !storage::is_torn_write(storage::FileKind::Delta, &bytes) {
        return Ok(None);
    }
    log::warn!(
        "manifest delta '{path}' ({} bytes) is a torn write of an update that never \
         completed; ignoring it",
        bytes.len()
    );
    let path = path.clone();
    listing.deltas.remove(&version);
    Ok(Some(path))
}

/// Loads the manifest in `dir`; `Ok(None)` if the directory holds no manifest file.
///
/// # Errors
/// [`Error::Storage`]; [`Error::Corruption`] naming the first damaged file that is needed;
/// [`Error::MissingDelta`] for a gap in the delta versions; [`Error::UnsupportedVersion`].
pub(super) async fn recover(storage: &ObjectStorage, dir: &Path) -> Result<Option<Recovered>> {
    let mut listing = storage::list(storage, dir).await?;
    let torn_delta = take_torn_newest_delta(storage, &mut listing).await?;
    let Some(latest) = listing.latest_version() else {
        return Ok(None);
    };
    // The error of the newest damaged checkpoint, reported if no fallback is possible.
    let mut damaged: Option<Error> = None;
    for (&version, path) in listing.checkpoints.iter().rev() {
        match storage::read_checkpoint(storage, path, version).await {
            Ok(manifest) => {
                if let Some(error) = damaged {
                    let from = version.saturating_add(1);
                    if let Some(missing) = listing.first_missing_delta(from, latest) {
                        log::warn!(
                            "cannot fall back to manifest checkpoint '{path}': delta {missing} is gone"
                        );
                        return Err(error);
                    }
                    log::warn!("{error}; falling back to the older checkpoint '{path}'");
                }
                let manifest = replay(storage, dir, &listing, manifest, latest).await?;
                return Ok(Some(Recovered {
                    manifest,
                    checkpoint_version: version,
                    torn_delta,
                }));
            }
            Err(error @ Error::Corruption { .. }) => {
                log::warn!("{error}");
                damaged.get_or_insert(error);
            }
            Err(error) => return Err(error),
        }
    }
    // No usable checkpoint: replay every delta from the creating one (version 0).
    if let Some(missing) = listing.first_missing_delta(0, latest) {
        return Err(damaged.unwrap_or_else(|| Error::MissingDelta {
            dir: dir.to_string(),
            version: missing,
        }));
    }
    if let Some(error) = damaged {
        log::warn!("{error}; replaying every delta of '{dir}' instead");
    }
    let manifest = replay_from_creation(storage, dir, &listing, latest).await?;
    Ok(Some(Recovered {
        manifest,
        checkpoint_version: 0,
        torn_delta,
    }))
}

/// Builds the state from delta 0, which must hold a `Change`, then replays the rest.
async fn replay_from_creation(
    storage: &ObjectStorage,
    dir: &Path,
    listing: &Listing,
    latest: u64,
) -> Result<RegionManifest> {
    let Some(path) = listing.deltas.get(&0) else {
        return Err(Error::MissingDelta {
            dir: dir.to_string(),
            version: 0,
        });
    };
    let actions = storage::read_delta(storage, path, 0).await?;
    let metadata = actions
        .iter()
        .find_map(|action| match action {
            ManifestAction::Change { metadata } => Some(metadata.clone()),
            ManifestAction::Edit(_) => None,
        })
        .ok_or_else(|| Error::Corruption {
            path: path.to_string(),
            reason: "the creating delta holds no Change action (region metadata)".to_string(),
        })?;
    let mut manifest = RegionManifest::new(metadata);
    for action in &actions {
        manifest.apply(action);
    }
    replay(storage, dir, listing, manifest, latest).await
}

/// Applies the deltas after `manifest.manifest_version`, in order, up to `latest`.
async fn replay(
    storage: &ObjectStorage,
    dir: &Path,
    listing: &Listing,
    mut manifest: RegionManifest,
    latest: u64,
) -> Result<RegionManifest> {
    let base = manifest.manifest_version;
    let missing = |version| Error::MissingDelta {
        dir: dir.to_string(),
        version,
    };
    for (&version, path) in listing
        .deltas
        .range((Bound::Excluded(base), Bound::Unbounded))
    {
        // `version > base`, so the increment cannot overflow.
        let expected = manifest.manifest_version.saturating_add(1);
        if version != expected {
            return Err(missing(expected));
        }
        for action in storage::read_delta(storage, path, version).await? {
            manifest.apply(&action);
        }
        manifest.manifest_version = version;
    }
    if manifest.manifest_version < latest {
        return Err(missing(manifest.manifest_version.saturating_add(1)));
    }
    Ok(manifest)
}
