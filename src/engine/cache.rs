//! The SST cache: verified file bytes and parsed Parquet metadata per file, each an LRU with a
//! byte budget, shared by all regions of an [`crate::engine::Engine`].
//!
//! Modelled on mito2's `CacheManager` (`src/mito2/src/cache.rs`: an SST meta cache of parsed
//! `ParquetMetaData` plus a page cache, both `moka` caches weighed in bytes). tsdb caches whole
//! files instead of pages because every read verifies the file's CRC-32 against the manifest
//! (docs/FORMAT.md "SST", "Checksum"): a cached file was verified once, so the second scan of
//! a file neither re-reads, re-checksums nor re-parses its footer and page index.
//!
//! SSTs are immutable and file ids are never reused, so entries never go stale. A file that
//! compaction replaced leaves the cache when its last `FileHandle` drops (scans attach the
//! cache to the handles they read), and [`SstCache::remove_region`] drops a dropped
//! region's entries.

mod lru;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use crate::engine::error::Result;
use crate::engine::io::ObjectStorage;
use crate::engine::metadata::RegionId;
use crate::engine::read::ReadFormat;
use crate::engine::region::scan_metrics::ScanMetrics;
use crate::engine::sst::file::{FileId, FileMeta};
use crate::engine::sst::last_row::read_last_rows;
use crate::engine::sst::reader::{fetch_sst, load_metadata};
use crate::engine::sst::sst_path;
use crate::engine::time_range::TimeRange;
use lru::WeightedLru;

/// Default budget of cached SST bytes: 256 MiB.
pub const DEFAULT_DATA_CACHE_BYTES: u64 = 256 << 20;
/// Default budget of cached parsed SST metadata: 64 MiB.
pub const DEFAULT_META_CACHE_BYTES: u64 = 64 << 20;
/// Budget of cached last-row results ([`SstCache::last_rows`]): 32 MiB.
pub const LAST_ROW_CACHE_BYTES: u64 = 32 << 20;

type Key = (RegionId, FileId);

/// Counters and sizes of an [`SstCache`]; counters count since the engine opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads of a file whose bytes were cached.
    pub data_hits: u64,
    /// Reads that fetched the file from storage.
    pub data_misses: u64,
    /// Reads of a file whose parsed metadata was cached.
    pub meta_hits: u64,
    /// Reads that parsed the footer and page index.
    pub meta_misses: u64,
    /// Bytes fetched from storage (and checksummed) by reads through the cache.
    pub bytes_fetched: u64,
    /// Files whose bytes were evicted to stay within the data budget.
    pub data_evictions: u64,
    /// Files whose metadata was evicted to stay within the metadata budget.
    pub meta_evictions: u64,
    /// Bytes of cached file data now (at most the data budget).
    pub data_bytes: u64,
    /// Estimated bytes of cached metadata now (at most the metadata budget).
    pub meta_bytes: u64,
    /// Files whose bytes are cached now.
    pub data_entries: usize,
    /// Files whose metadata is cached now.
    pub meta_entries: usize,
    /// Last-row reads answered from the cache.
    pub last_row_hits: u64,
    /// Last-row reads that decoded the file.
    pub last_row_misses: u64,
    /// Bytes of cached last-row results now (at most [`LAST_ROW_CACHE_BYTES`]).
    pub last_row_bytes: u64,
}

/// A verified SST ready to open with
/// [`crate::engine::sst::reader::SstReader::open_with_metadata`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CachedSst {
    /// The region the file belongs to.
    pub region_id: RegionId,
    /// The file.
    pub file_id: FileId,
    /// Object path, for error messages.
    pub path: String,
    /// The whole file, CRC-32 and size checked against the manifest.
    pub bytes: Bytes,
    /// Parsed footer with the page index (if the file has one).
    pub metadata: ArrowReaderMetadata,
    /// Bytes fetched from storage to produce this handle: 0 when the file was cached.
    pub fetched_bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    data_hits: AtomicU64,
    data_misses: AtomicU64,
    meta_hits: AtomicU64,
    meta_misses: AtomicU64,
    bytes_fetched: AtomicU64,
    data_evictions: AtomicU64,
    meta_evictions: AtomicU64,
    last_row_hits: AtomicU64,
    last_row_misses: AtomicU64,
}

/// A last-row result: a file and the read schema it was produced in (`name:type,...`).
type LastRowKey = (RegionId, FileId, String);

/// SST data and metadata caches with byte budgets; see the module docs.
pub struct SstCache {
    data: Mutex<WeightedLru<Key, Bytes>>,
    /// Files being fetched now, each with a gate the other readers of the file wait at: the
    /// stripes of one query read the same files at once, and must not fetch them twice.
    loading: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    meta: Mutex<WeightedLru<Key, ArrowReaderMetadata>>,
    /// Newest visible row of every series of a file, for a read schema: mito2's selector
    /// result cache (`src/mito2/src/cache.rs`, `SelectorResultValue`).
    last_rows: Mutex<WeightedLru<LastRowKey, RecordBatch>>,
    counters: Counters,
}

impl std::fmt::Debug for SstCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The right to load one file, held while fetching it. Dropping it (loaded, failed or
/// cancelled) retires the file's gate, so later readers go straight to the cache; waiters
/// already queued on the gate re-check the cache when they get it.
struct LoadingGate<'a> {
    loading: &'a Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    key: Key,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for LoadingGate<'_> {
    fn drop(&mut self) {
        lock(self.loading).remove(&self.key);
    }
}

/// Locks `mutex`, recovering from poisoning: the LRU's invariants hold between calls, and a
/// panic elsewhere must not disable reads.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SstCache {
    /// A cache keeping at most `data_bytes` of file bytes and about `meta_bytes` of parsed
    /// metadata (by `ParquetMetaData::memory_size`). A budget of 0 disables that cache.
    pub fn new(data_bytes: u64, meta_bytes: u64) -> Self {
        SstCache {
            data: Mutex::new(WeightedLru::new(data_bytes)),
            loading: Mutex::new(HashMap::new()),
            meta: Mutex::new(WeightedLru::new(meta_bytes)),
            last_rows: Mutex::new(WeightedLru::new(LAST_ROW_CACHE_BYTES)),
            counters: Counters::default(),
        }
    }

    /// The bytes and parsed metadata of SST `meta` of `region_id`: from the cache, else
    /// fetched, verified ([`fetch_sst`]), parsed ([`load_metadata`]) and cached. Concurrent
    /// misses of one file fetch it once: the later ones wait for the first and then find it
    /// cached (unless the data budget is too small to keep it: then they fetch it too).
    ///
    /// # Errors
    /// As [`fetch_sst`] and [`load_metadata`]; nothing is cached then.
    pub async fn get(
        &self,
        storage: &ObjectStorage,
        region_id: RegionId,
        meta: &FileMeta,
    ) -> Result<CachedSst> {
        let key = (region_id, meta.file_id);
        let path = sst_path(region_id, meta.file_id).to_string();
        let mut cached = lock(&self.data).get(&key);
        let gate = if cached.is_none() {
            let gate = lock(&self.loading).entry(key).or_default().clone();
            let guard = LoadingGate {
                loading: &self.loading,
                key,
                _held: gate.lock_owned().await,
            };
            cached = lock(&self.data).get(&key);
            Some(guard)
        } else {
            None
        };
        let mut fetched_bytes = 0;
        let bytes = match cached {
            Some(bytes) => {
                self.counters.data_hits.fetch_add(1, Ordering::Relaxed);
                bytes
            }
            None => {
                self.counters.data_misses.fetch_add(1, Ordering::Relaxed);
                let bytes = fetch_sst(storage, region_id, meta).await?;
                fetched_bytes = bytes.len() as u64;
                self.counters
                    .bytes_fetched
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let evicted = lock(&self.data).insert(key, bytes.clone(), bytes.len() as u64);
                self.counters
                    .data_evictions
                    .fetch_add(evicted, Ordering::Relaxed);
                bytes
            }
        };
        let cached = lock(&self.meta).get(&key);
        let metadata = match cached {
            Some(metadata) => {
                self.counters.meta_hits.fetch_add(1, Ordering::Relaxed);
                metadata
            }
            None => {
                self.counters.meta_misses.fetch_add(1, Ordering::Relaxed);
                let metadata = match load_metadata(&path, &bytes) {
                    Ok(metadata) => metadata,
                    Err(e) => {
                        // Verified bytes that do not parse: keep no part of the file.
                        lock(&self.data).remove(&key);
                        return Err(e);
                    }
                };
                let weight = metadata.metadata().memory_size() as u64;
                let evicted = lock(&self.meta).insert(key, metadata.clone(), weight);
                self.counters
                    .meta_evictions
                    .fetch_add(evicted, Ordering::Relaxed);
                metadata
            }
        };
        // Bytes and metadata are cached now: later readers need not wait.
        drop(gate);
        Ok(CachedSst {
            region_id,
            file_id: meta.file_id,
            path,
            bytes,
            metadata,
            fetched_bytes,
        })
    }

    /// The newest visible row of every series of `sst` in the read schema of `format`, for
    /// a read whose time range covers the whole file (so the answer depends on nothing else):
    /// from the cache, else read ([`read_last_rows`]) and cached.
    ///
    /// Counts the hit or the read in `metrics`.
    ///
    /// # Errors
    /// As [`read_last_rows`]; nothing is cached then.
    pub fn last_rows(
        &self,
        sst: &CachedSst,
        format: &ReadFormat,
        metrics: &ScanMetrics,
    ) -> Result<RecordBatch> {
        let schema: Vec<String> = format
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        let key = (sst.region_id, sst.file_id, schema.join(","));
        if let Some(batch) = lock(&self.last_rows).get(&key) {
            self.counters.last_row_hits.fetch_add(1, Ordering::Relaxed);
            ScanMetrics::add(&metrics.last_row_hits, 1);
            return Ok(batch);
        }
        ScanMetrics::add(&metrics.last_row_reads, 1);
        self.counters
            .last_row_misses
            .fetch_add(1, Ordering::Relaxed);
        let batch = read_last_rows(sst, format, TimeRange::all())?;
        let weight = batch.get_array_memory_size() as u64;
        lock(&self.last_rows).insert(key, batch.clone(), weight);
        Ok(batch)
    }

    /// Drops the entries of one file (it is being deleted).
    pub fn remove_file(&self, region_id: RegionId, file_id: FileId) {
        lock(&self.data).remove(&(region_id, file_id));
        lock(&self.meta).remove(&(region_id, file_id));
        lock(&self.last_rows).retain(|(region, file, _)| (*region, *file) != (region_id, file_id));
    }

    /// Drops every entry of `region_id` (its files are being deleted).
    pub fn remove_region(&self, region_id: RegionId) {
        lock(&self.data).retain(|(region, _)| *region != region_id);
        lock(&self.meta).retain(|(region, _)| *region != region_id);
        lock(&self.last_rows).retain(|(region, _, _)| *region != region_id);
    }

    /// Counters and current sizes.
    pub fn stats(&self) -> CacheStats {
        let (data_bytes, data_entries) = {
            let data = lock(&self.data);
            (data.used(), data.len())
        };
        let (meta_bytes, meta_entries) = {
            let meta = lock(&self.meta);
            (meta.used(), meta.len())
        };
        let last_row_bytes = lock(&self.last_rows).used();
        let c = &self.counters;
        CacheStats {
            data_hits: c.data_hits.load(Ordering::Relaxed),
            data_misses: c.data_misses.load(Ordering::Relaxed),
            meta_hits: c.meta_hits.load(Ordering::Relaxed),
            meta_misses: c.meta_misses.load(Ordering::Relaxed),
            bytes_fetched: c.bytes_fetched.load(Ordering::Relaxed),
            data_evictions: c.data_evictions.load(Ordering::Relaxed),
            meta_evictions: c.meta_evictions.load(Ordering::Relaxed),
            data_bytes,
            meta_bytes,
            data_entries,
            meta_entries,
            last_row_hits: c.last_row_hits.load(Ordering::Relaxed),
            last_row_misses: c.last_row_misses.load(Ordering::Relaxed),
            last_row_bytes,
        }
    }
}

#[cfg(test)]
mod tests;
