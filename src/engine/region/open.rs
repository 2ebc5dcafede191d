//! Creating and opening regions: manifest load, orphan SST sweep, WAL replay
//! (mito2's `region/opener.rs`).

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::path::Path;

use crate::engine::error::{Error, Result};
use crate::engine::io::ObjectStorage;
use crate::engine::manifest::{ManifestOptions, RegionManifestManager};
use crate::engine::memtable::Memtable;
use crate::engine::metadata::{RegionId, RegionMetadata};
use crate::engine::options::TableOptionsRef;
use crate::engine::region::version::{Version, VersionControl};
use crate::engine::region::{Region, RegionOptions, WriterState};
use crate::engine::sst::file::{FileHandle, FileId};
use crate::engine::sst::region_dir;
use crate::engine::wal::{Wal, WalOptions};

/// Object prefix of a region's manifest: `regions/{region}/manifest`.
pub fn manifest_dir(region_id: RegionId) -> Path {
    region_dir(region_id).join("manifest")
}

/// The WAL of a region writes through the same file system as its local store.
fn wal_options(storage: &ObjectStorage) -> WalOptions {
    WalOptions {
        file_system: storage.file_system(),
        ..WalOptions::default()
    }
}

impl Region {
    /// Creates a new region: writes its first manifest and an empty WAL.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`], or manifest errors (e.g. the region already exists).
    pub(crate) async fn create(
        storage: ObjectStorage,
        wal_dir: &FsPath,
        metadata: RegionMetadata,
        options: RegionOptions,
        table_options: TableOptionsRef,
    ) -> Result<Region> {
        metadata.validate()?;
        let region_id = metadata.region_id;
        let manifest = RegionManifestManager::create(
            storage.clone(),
            manifest_dir(region_id),
            metadata,
            ManifestOptions::default(),
        )
        .await?;
        let wal = Wal::open(wal_dir, wal_options(&storage))?;
        let memtable = Memtable::new_tracked(
            0,
            manifest.manifest().metadata.clone(),
            Some(options.write_buffer.clone()),
        );
        let seed = Seed {
            files: BTreeMap::new(),
            memtable,
            next_sequence: 1,
            table_options,
        };
        Ok(Self::assemble(storage, wal, manifest, seed, options))
    }

    /// Opens an existing region: loads the manifest, deletes SSTs it does not name (left by
    /// a crash between writing a file and its manifest edit), and replays the WAL after the
    /// flushed sequence into a memtable.
    ///
    /// # Errors
    /// [`Error::RegionNotFound`] if there is no manifest; manifest, WAL (corruption names
    /// the file and offset) and storage errors. Never opens a region partially.
    pub(crate) async fn open(
        storage: ObjectStorage,
        wal_dir: &FsPath,
        region_id: RegionId,
        options: RegionOptions,
        table_options: TableOptionsRef,
    ) -> Result<Region> {
        // Entries an earlier process left unsynced (after a failed fsync) become durable
        // before this one relies on them.
        let sst_dir = region_dir(region_id).join("sst");
        storage
            .sync_dirs(&[manifest_dir(region_id), sst_dir])
            .await?;
        let manifest = RegionManifestManager::open(
            storage.clone(),
            manifest_dir(region_id),
            ManifestOptions::default(),
        )
        .await?
        .ok_or(Error::RegionNotFound(region_id))?;
        let state = manifest.manifest();
        let metadata = state.metadata.clone();
        let files: BTreeMap<_, _> = state
            .files
            .values()
            .map(|meta| {
                (
                    meta.file_id,
                    FileHandle::new(meta.clone(), region_id, storage.clone()),
                )
            })
            .collect();
        let flushed = state.flushed_sequence;
        let mut last_sequence = files
            .values()
            .map(|f| f.meta().max_sequence)
            .fold(flushed, u64::max);
        let memtable =
            Memtable::new_tracked(0, metadata.clone(), Some(options.write_buffer.clone()));
        let wal = Wal::open(wal_dir, wal_options(&storage))?;
        // Sequences are contiguous (a write takes as many as it has rows, and nothing else
        // takes any): the WAL must resume right after the flushed sequence and never jump.
        let mut expected = flushed + 1;
        let stats = wal.replay(flushed, &mut |entry| {
            if entry.sequence > expected {
                return Err(Error::MissingWrites {
                    region_id,
                    first: expected,
                    last: entry.sequence - 1,
                    flushed,
                    wal_dir: wal_dir.to_path_buf(),
                });
            }
            expected = expected.max(entry.last_sequence() + 1);
            memtable.write(&entry.batch, entry.sequence, entry.op_type)?;
            last_sequence = last_sequence.max(entry.last_sequence());
            Ok(())
        })?;
        // Writes acknowledged by the last flush or clean close must all be back; a WAL that
        // ends below them lost its newest segment.
        if state.committed_sequence > last_sequence {
            return Err(Error::MissingWrites {
                region_id,
                first: last_sequence + 1,
                last: state.committed_sequence,
                flushed,
                wal_dir: wal_dir.to_path_buf(),
            });
        }
        // Only now, with the region known to be whole, may unnamed SSTs go (a refused open
        // leaves them for recovery).
        sweep_orphan_ssts(&storage, region_id, &state.files).await?;
        log::info!(
            "region {region_id}: {} files, replayed {} WAL entries ({} rows) after sequence {flushed}",
            files.len(),
            stats.entries,
            stats.rows
        );
        let seed = Seed {
            files,
            memtable,
            next_sequence: last_sequence + 1,
            table_options,
        };
        Ok(Self::assemble(storage, wal, manifest, seed, options))
    }

    fn assemble(
        storage: ObjectStorage,
        wal: Wal,
        manifest: RegionManifestManager,
        seed: Seed,
        options: RegionOptions,
    ) -> Region {
        let Seed {
            files,
            memtable,
            next_sequence,
            table_options,
        } = seed;
        let state = manifest.manifest();
        let version = Version {
            metadata: state.metadata.clone(),
            mutable: Arc::new(memtable),
            immutables: Vec::new(),
            files,
            flushed_sequence: state.flushed_sequence,
            options: table_options,
        };
        Region {
            region_id: state.metadata.region_id,
            storage,
            wal,
            version: VersionControl::new(version),
            writer: tokio::sync::Mutex::new(WriterState {
                next_sequence,
                next_memtable_id: 1,
            }),
            insert_gate: Arc::new(tokio::sync::RwLock::new(())),
            committed: tokio::sync::watch::Sender::new(next_sequence.saturating_sub(1)),
            wal_failed_at: std::sync::atomic::AtomicU64::new(u64::MAX),
            flush_lock: tokio::sync::Mutex::new(()),
            manifest: tokio::sync::Mutex::new(manifest),
            options,
            closed: std::sync::atomic::AtomicBool::new(false),
            engine_flush_pending: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// What a created or opened region starts with besides its manifest.
struct Seed {
    files: BTreeMap<FileId, crate::engine::sst::file::FileHandleRef>,
    memtable: Memtable,
    next_sequence: u64,
    table_options: TableOptionsRef,
}

/// Deletes objects under the region's `sst/` prefix that the manifest does not name.
async fn sweep_orphan_ssts(
    storage: &ObjectStorage,
    region_id: RegionId,
    named: &BTreeMap<FileId, crate::engine::sst::file::FileMeta>,
) -> Result<()> {
    let prefix = region_dir(region_id).join("sst");
    for (path, _) in storage.list(&prefix).await? {
        let stem = path
            .filename()
            .and_then(|name| name.strip_suffix(".parquet"))
            .and_then(FileId::parse);
        let orphan = match stem {
            Some(id) => !named.contains_key(&id),
            // Not an SST name (e.g. a temp file of an interrupted put).
            None => true,
        };
        if orphan {
            log::warn!("region {region_id}: deleting {path}, which no manifest names");
            storage.delete(&path).await?;
        }
    }
    Ok(())
}
