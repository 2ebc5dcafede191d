//! The storage engine: an LSM tree per region, modelled on GreptimeDB's mito2.
//!
//! This module must not import datafusion, sqlparser, clap or rustyline: it is driven only
//! through its public API ([`Engine`], [`region::Region`]).

pub mod cache;
pub mod codec;
pub mod compaction;
pub mod error;
pub mod io;
pub mod manifest;
pub mod memtable;
pub mod metadata;
pub mod options;
pub mod read;
pub mod sst;
pub mod time_range;
pub mod wal;
pub mod write_buffer;

pub mod region;

pub use error::{Error, Result};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use io::ObjectStorage;
use metadata::{RegionId, RegionMetadata};
use region::RegionRef;

/// Engine configuration. Sizes in bytes.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Root directory of the database (WAL, SSTs, manifests).
    pub data_dir: PathBuf,
    /// A region's mutable memtable is frozen and flushed when it holds this many bytes.
    /// Default 64 MiB.
    pub memtable_size_limit_bytes: usize,
    /// A region whose memtable has unflushed rows older than this is flushed by the
    /// background timer (as in Tektite and mito2's `auto_flush_interval`). Default 5 minutes.
    pub auto_flush_interval: Duration,
    /// Budget of the SST data cache: verified SST file bytes kept in memory, shared by all
    /// regions ([`cache::SstCache`]). Default 256 MiB; 0 disables it.
    pub sst_data_cache_bytes: u64,
    /// Budget of the SST metadata cache: parsed Parquet footers and page indexes. Default
    /// 64 MiB; 0 disables it.
    pub sst_meta_cache_bytes: u64,
    /// Budget of the write buffer: memtable bytes (mutable and frozen, as
    /// [`memtable::Memtable::size_bytes`] counts them) of all regions together
    /// ([`write_buffer::WriteBufferManager`]). At half of it the largest regions are flushed;
    /// at all of it writes stall until a flush frees memory; a write that cannot fit is
    /// rejected with [`Error::WriteBufferFull`]. Default 512 MiB; 0 disables it (only the
    /// per-region limits apply).
    pub write_buffer_bytes: usize,
    /// Every mutation of local files (WAL segments, and SSTs, manifests and the catalog on
    /// a local store) goes through it; tests put a fault-injecting layer here
    /// ([`io::fs`]). Default: the operating system's.
    pub file_system: io::FileSystemRef,
    /// The clock TTL expiry is measured against ([`options::SystemClock`] by default; tests
    /// put in a [`options::ManualClock`]).
    pub clock: options::ClockRef,
}

/// Default [`EngineOptions::write_buffer_bytes`]: 512 MiB, room for eight regions at the
/// default `memtable_size_limit_bytes` before writes stall (mito2 defaults to 1 GiB).
pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 512 << 20;

impl EngineOptions {
    /// Defaults for a database in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineOptions {
            data_dir: data_dir.into(),
            memtable_size_limit_bytes: 64 << 20,
            auto_flush_interval: Duration::from_secs(300),
            sst_data_cache_bytes: cache::DEFAULT_DATA_CACHE_BYTES,
            sst_meta_cache_bytes: cache::DEFAULT_META_CACHE_BYTES,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
            file_system: io::OsFileSystem::shared(),
            clock: Arc::new(options::SystemClock),
        }
    }
}

/// The storage engine: hosts regions, each an LSM tree, and a background timer that flushes
/// memtables holding rows older than [`EngineOptions::auto_flush_interval`].
///
/// Layout under `data_dir` (see `docs/FORMAT.md`): `wal/{region}/` holds WAL segments on
/// local disk; SSTs and manifests live in the object store rooted at `data_dir`, under
/// `regions/{region}/`.
#[derive(Debug)]
pub struct Engine {
    regions: Arc<write_buffer::RegionMap>,
    options: Arc<EngineOptions>,
    storage: ObjectStorage,
    cache: Arc<cache::SstCache>,
    write_buffer: write_buffer::WriteBufferManagerRef,
    timer: tokio::task::JoinHandle<()>,
}

/// How often the flush timer looks at the regions.
const TIMER_TICK: Duration = Duration::from_secs(1);

impl Engine {
    /// Opens the engine over `options.data_dir` (created if missing); regions are opened with
    /// [`Engine::open_region`]. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Storage`] if the directory cannot be used.
    pub async fn open(options: EngineOptions) -> Result<Engine> {
        let storage = ObjectStorage::local_with(&options.data_dir, options.file_system.clone())?;
        let regions: Arc<write_buffer::RegionMap> = Arc::default();
        let write_buffer = Arc::new(write_buffer::WriteBufferManager::new(
            options.write_buffer_bytes,
            Arc::downgrade(&regions),
        ));
        let timer_regions = Arc::downgrade(&regions);
        let timer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TIMER_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(regions) = timer_regions.upgrade() else {
                    return;
                };
                let open: Vec<RegionRef> = match regions.read() {
                    Ok(map) => map.values().cloned().collect(),
                    Err(_) => return,
                };
                drop(regions);
                for region in open {
                    if let Err(e) = region.flush_if_stale().await {
                        log::error!("timed flush of region {} failed: {e}", region.region_id());
                    }
                }
            }
        });
        let cache = Arc::new(cache::SstCache::new(
            options.sst_data_cache_bytes,
            options.sst_meta_cache_bytes,
        ));
        Ok(Engine {
            regions,
            options: Arc::new(options),
            storage,
            cache,
            write_buffer,
            timer,
        })
    }

    fn region_options(&self) -> region::RegionOptions {
        region::RegionOptions {
            memtable_size_limit_bytes: self.options.memtable_size_limit_bytes,
            auto_flush_interval: self.options.auto_flush_interval,
            sst_cache: self.cache.clone(),
            write_buffer: self.write_buffer.clone(),
            clock: self.options.clock.clone(),
        }
    }

    /// The object store holding the regions' SSTs and manifests (and the catalog).
    pub fn storage(&self) -> &ObjectStorage {
        &self.storage
    }

    /// The engine's clock (TTL expiry is measured against it).
    pub fn clock(&self) -> &options::ClockRef {
        &self.options.clock
    }

    /// The write buffer shared by the engine's regions: memtable bytes in use, mutable
    /// bytes, flushes running.
    pub fn write_buffer(&self) -> &write_buffer::WriteBufferManagerRef {
        &self.write_buffer
    }

    /// Hit, miss, byte and eviction counters and current sizes of the SST cache shared by
    /// the engine's regions.
    pub fn cache_stats(&self) -> cache::CacheStats {
        self.cache.stats()
    }

    fn wal_dir(&self, region_id: RegionId) -> PathBuf {
        self.options
            .data_dir
            .join("wal")
            .join(region_id.to_string())
    }

    fn insert(&self, region: RegionRef) -> RegionRef {
        if let Ok(mut map) = self.regions.write() {
            map.insert(region.region_id(), region.clone());
        }
        region
    }

    /// Creates a new, empty region and opens it.
    ///
    /// # Errors
    /// [`Error::RegionExists`] if the region is open; invalid metadata; storage errors.
    pub async fn create_region(&self, metadata: RegionMetadata) -> Result<RegionRef> {
        self.create_region_with(metadata, options::TableOptions::default())
            .await
    }

    /// Creates a new, empty region with `table_options` (TTL, append and merge mode) and
    /// opens it. The options are not persisted by the region: the caller keeps them (the
    /// catalog) and passes them again to [`Engine::open_region_with`].
    ///
    /// # Errors
    /// As [`Engine::create_region`].
    pub async fn create_region_with(
        &self,
        metadata: RegionMetadata,
        table_options: options::TableOptions,
    ) -> Result<RegionRef> {
        let region_id = metadata.region_id;
        if self.region(region_id).is_some() {
            return Err(Error::RegionExists(region_id));
        }
        let region = region::Region::create(
            self.storage.clone(),
            &self.wal_dir(region_id),
            metadata,
            self.region_options(),
            Arc::new(table_options),
        )
        .await?;
        Ok(self.insert(Arc::new(region)))
    }

    /// Opens an existing region: loads its manifest and replays its WAL. Returns the open
    /// region if it already is. If the replayed rows take the engine's write buffer over its
    /// limits, the largest regions are flushed in the background.
    ///
    /// # Errors
    /// [`Error::RegionNotFound`]; corruption and storage errors naming the file.
    pub async fn open_region(&self, region_id: RegionId) -> Result<RegionRef> {
        self.open_region_with(region_id, options::TableOptions::default())
            .await
    }

    /// Opens an existing region with `table_options` (as [`Engine::open_region`]); the
    /// options are in force before the WAL replay can trigger a flush.
    ///
    /// # Errors
    /// As [`Engine::open_region`].
    pub async fn open_region_with(
        &self,
        region_id: RegionId,
        table_options: options::TableOptions,
    ) -> Result<RegionRef> {
        if let Some(region) = self.region(region_id) {
            return Ok(region);
        }
        let region = region::Region::open(
            self.storage.clone(),
            &self.wal_dir(region_id),
            region_id,
            self.region_options(),
            Arc::new(table_options),
        )
        .await?;
        let region = self.insert(Arc::new(region));
        self.write_buffer.maybe_flush_engine();
        Ok(region)
    }

    /// Closes (if open) and deletes a region with all its files: manifest and SSTs, then
    /// the WAL. Works on partially created regions too.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn drop_region(&self, region_id: RegionId) -> Result<()> {
        let removed = self
            .regions
            .write()
            .ok()
            .and_then(|mut map| map.remove(&region_id));
        if let Some(region) = removed {
            region.close().await?;
        }
        self.cache.remove_region(region_id);
        self.storage
            .delete_prefix(&sst::region_dir(region_id))
            .await?;
        let wal_dir = self.wal_dir(region_id);
        match self.options.file_system.remove_dir_all(&wal_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    op: "remove WAL directory",
                    path: wal_dir,
                    source,
                });
            }
        }
        Ok(())
    }

    /// Ids of the regions that exist on storage (open or not), from `regions/*/` and
    /// `wal/*/`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list_regions(&self) -> Result<Vec<RegionId>> {
        let mut ids = std::collections::BTreeSet::new();
        let root = object_store::path::Path::from("regions");
        for (path, _) in self.storage.list(&root).await? {
            if let Some(id) = path
                .parts()
                .nth(1)
                .and_then(|p| parse_region_dir(p.as_ref()))
            {
                ids.insert(id);
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.options.data_dir.join("wal")) {
            for entry in entries.flatten() {
                if let Some(id) = entry.file_name().to_str().and_then(parse_region_dir) {
                    ids.insert(id);
                }
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Whether a region on storage (open or not) may hold rows: any object under
    /// `regions/{region}/` other than manifest delta 0 (written at creation) and temp files,
    /// or any WAL segment longer than its 6-byte header. A region left by a `CREATE TABLE`
    /// interrupted before its catalog write holds none. Reads only listings and sizes.
    ///
    /// # Errors
    /// Storage errors listing the region's objects or its WAL directory.
    pub async fn region_holds_data(&self, region_id: RegionId) -> Result<bool> {
        let created_only = |name: &str| {
            name == "00000000000000000000.json" || name.starts_with('.') || name.contains('#')
        };
        for (path, _) in self.storage.list(&sst::region_dir(region_id)).await? {
            if !path.filename().is_some_and(created_only) {
                return Ok(true);
            }
        }
        let wal_dir = self.wal_dir(region_id);
        let entries = match std::fs::read_dir(&wal_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(Error::Io {
                    op: "list WAL directory",
                    path: wal_dir,
                    source,
                });
            }
        };
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                op: "list WAL directory",
                path: wal_dir.clone(),
                source,
            })?;
            let len = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
            if len > codec::FILE_HEADER_LEN as u64 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// An open region.
    pub fn region(&self, region_id: RegionId) -> Option<RegionRef> {
        self.regions.read().ok()?.get(&region_id).cloned()
    }

    /// Stops the flush timer and closes every region (their WAL writers stop after draining).
    /// Unflushed rows stay in the WAL and are replayed at the next open.
    ///
    /// # Errors
    /// The first WAL close error.
    pub async fn close(&self) -> Result<()> {
        self.timer.abort();
        let regions: Vec<RegionRef> = match self.regions.write() {
            Ok(mut map) => map.drain().map(|(_, r)| r).collect(),
            Err(_) => Vec::new(),
        };
        for region in regions {
            region.close().await?;
        }
        // SSTs freed by compaction are deleted in the background: finish before shutdown.
        self.storage.wait_background_deletes().await;
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.timer.abort();
    }
}

/// Parses a region directory name `{table_id}_{region_number}`.
fn parse_region_dir(name: &str) -> Option<RegionId> {
    let (table, number) = name.split_once('_')?;
    Some(RegionId::new(table.parse().ok()?, number.parse().ok()?))
}

/// Runs `work` in a task of its own and waits for it.
///
/// Engine steps that must not stop half-way (WAL append + memtable insert, flush, compaction:
/// each writes files and then records them) run through this, so dropping the caller's future
/// (a cancelled statement, Ctrl-C in the shell) detaches the step instead of interrupting it.
///
/// # Errors
/// `work`'s error, [`Error::WorkerStopped`] if the task panicked, [`Error::ShuttingDown`] if
/// the runtime is shutting down.
pub(crate) async fn run_to_completion<T, F>(what: &'static str, work: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(work).await.map_err(|e| {
        if e.is_cancelled() {
            Error::ShuttingDown(what)
        } else {
            Error::WorkerStopped(format!("{what} task: {e}"))
        }
    })?
}

#[cfg(test)]
pub(crate) mod fuzz;
#[cfg(test)]
mod options_tests;
#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;
