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
use crate::engine::sst::Error as SstError;
use crate::engine::sst::file::{FileId, FileMeta};
use crate::engine::sst::last_row::read_last_rows;
use crate::engine::sst::ranged::{ChunkChecksums, SstData, chunk_range, verify_range};
use crate::engine::sst::reader::{chunk_checksums, fetch_sst, load_metadata};
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
/// What a loading gate guards: a file's tail or whole bytes ([`WHOLE_FILE`]`.0`), or the
/// column chunks of one of its row groups.
type GateKey = (RegionId, FileId, u32);
/// A cached byte range of a file: a column chunk `(row group, leaf column)`, or
/// [`WHOLE_FILE`] for a whole file.
type ChunkKey = (RegionId, FileId, u32, u32);
/// A verified range held: its start and bytes.
type HeldRange = (u64, Bytes);
/// A column chunk to fetch: row group, leaf column, byte range.
type MissingChunk = (usize, usize, std::ops::Range<u64>);
/// A row group or column index as a key part; an index beyond `u32` (never in a Parquet
/// file) maps to the one below [`WHOLE_FILE`].
fn key_index(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX - 1)
}
/// The chunk coordinates of a whole file in a [`ChunkKey`].
const WHOLE_FILE: (u32, u32) = (u32::MAX, u32::MAX);

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
    /// The verified bytes held: the whole file (format version 1, CRC-32 and size checked
    /// against the manifest), or for a version 2 file the column chunks fetched so far by
    /// [`SstCache::fetch_chunks`] (none from [`SstCache::get`]).
    pub data: SstData,
    /// Parsed footer with the page index (if the file has one).
    pub metadata: ArrowReaderMetadata,
    /// The column chunk checksums of a version 2 file (verified with the footer).
    pub checksums: Option<Arc<ChunkChecksums>>,
    /// Bytes fetched from storage to produce this handle: 0 when the file was cached.
    pub fetched_bytes: u64,
}

/// Parsed metadata of one file as cached.
#[derive(Debug, Clone)]
struct SstMeta {
    metadata: ArrowReaderMetadata,
    checksums: Option<Arc<ChunkChecksums>>,
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
    data: Mutex<WeightedLru<ChunkKey, Bytes>>,
    /// Files being fetched now, each with a gate the other readers of the file wait at: the
    /// stripes of one query read the same files at once, and must not fetch them twice.
    loading: Mutex<HashMap<GateKey, Arc<tokio::sync::Mutex<()>>>>,
    meta: Mutex<WeightedLru<Key, SstMeta>>,
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
    loading: &'a Mutex<HashMap<GateKey, Arc<tokio::sync::Mutex<()>>>>,
    key: GateKey,
    gate: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for LoadingGate<'_> {
    fn drop(&mut self) {
        // Only this gate: a waiter that got it after the map's entry was retired must not
        // retire a newer gate another loader of the file holds now.
        let mut loading = lock(self.loading);
        if loading
            .get(&self.key)
            .is_some_and(|gate| Arc::ptr_eq(gate, &self.gate))
        {
            loading.remove(&self.key);
        }
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

    /// The parsed metadata of SST `meta` of `region_id` and, for a format version 1 file,
    /// its bytes: from the cache, else fetched, verified and cached. A version 1 file
    /// (`meta.footer` unset) is fetched whole and checked against the whole-file CRC-32
    /// ([`fetch_sst`]); of a version 2 file only the tail (page index and footer) is fetched
    /// and checked against `meta.footer`, and the column chunks a read needs come from
    /// [`SstCache::fetch_chunks`]. Concurrent misses of one file fetch it once: the later
    /// ones wait for the first and then find it cached (unless the budget is too small to
    /// keep it: then they fetch it too).
    ///
    /// # Errors
    /// As [`fetch_sst`] and [`load_metadata`], [`SstError::RangeChecksumMismatch`] for a
    /// damaged tail; nothing is cached then.
    pub async fn get(
        &self,
        storage: &ObjectStorage,
        region_id: RegionId,
        meta: &FileMeta,
    ) -> Result<CachedSst> {
        let key = (region_id, meta.file_id);
        let path = sst_path(region_id, meta.file_id).to_string();
        let whole_key = (region_id, meta.file_id, WHOLE_FILE.0, WHOLE_FILE.1);
        let cached = |cache: &Self| match meta.footer {
            None => lock(&cache.data).get(&whole_key).is_some(),
            Some(_) => lock(&cache.meta).contains(&key),
        };
        let gate = if cached(self) {
            None
        } else {
            Some(self.gate((region_id, meta.file_id, WHOLE_FILE.0)).await)
        };
        let mut fetched_bytes = 0;
        let whole = match meta.footer {
            None => lock(&self.data).get(&whole_key),
            Some(_) => None,
        };
        // Looked up once: an entry seen here and evicted before a second look would leave
        // a version 2 file's metadata to be parsed from a tail never fetched.
        let cached = lock(&self.meta).get(&key);
        let data = match meta.footer {
            None => match whole {
                Some(bytes) => {
                    self.counters.data_hits.fetch_add(1, Ordering::Relaxed);
                    SstData::whole(bytes)
                }
                None => {
                    self.counters.data_misses.fetch_add(1, Ordering::Relaxed);
                    let bytes = fetch_sst(storage, region_id, meta).await?;
                    fetched_bytes = bytes.len() as u64;
                    self.insert_data(whole_key, bytes.clone());
                    SstData::whole(bytes)
                }
            },
            Some(footer) => match cached {
                Some(_) => SstData::ranges(meta.file_size_bytes, Vec::new()),
                None => {
                    let tail = self
                        .fetch_verified(
                            storage,
                            &path,
                            footer.offset..meta.file_size_bytes,
                            footer.crc32,
                            "the tail (page index and footer)",
                        )
                        .await?;
                    fetched_bytes = tail.len() as u64;
                    SstData::ranges(meta.file_size_bytes, vec![(footer.offset, tail)])
                }
            },
        };
        let SstMeta {
            metadata,
            checksums,
        } = match cached {
            Some(cached) => {
                self.counters.meta_hits.fetch_add(1, Ordering::Relaxed);
                cached
            }
            None => {
                self.counters.meta_misses.fetch_add(1, Ordering::Relaxed);
                let parsed = load_metadata(&path, &data).and_then(|metadata| {
                    let checksums = match meta.footer {
                        Some(_) => Some(Arc::new(chunk_checksums(&path, &metadata)?.ok_or_else(
                            || SstError::Invalid {
                                path: path.clone(),
                                reason: "the manifest records a footer checksum, but the file has no chunk checksums".to_string(),
                            },
                        )?)),
                        None => None,
                    };
                    Ok(SstMeta { metadata, checksums })
                });
                let parsed = match parsed {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        // Verified bytes that do not parse: keep no part of the file.
                        lock(&self.data).remove(&whole_key);
                        return Err(e);
                    }
                };
                let weight = parsed.metadata.metadata().memory_size() as u64;
                let evicted = lock(&self.meta).insert(key, parsed.clone(), weight);
                self.counters
                    .meta_evictions
                    .fetch_add(evicted, Ordering::Relaxed);
                parsed
            }
        };
        // Bytes and metadata are cached now: later readers need not wait.
        drop(gate);
        let data = match meta.footer {
            // The tail is parsed: a read needs only column chunks.
            Some(_) => SstData::ranges(meta.file_size_bytes, Vec::new()),
            None => data,
        };
        Ok(CachedSst {
            region_id,
            file_id: meta.file_id,
            path,
            data,
            metadata,
            checksums,
            fetched_bytes,
        })
    }

    /// `sst` with the column `chunks` (`(row group, leaf column)`) held, and the bytes that
    /// had to be fetched for them: cached chunks are used as they are, the others fetched
    /// in one ranged request, checked against the file's chunk checksums and cached. A
    /// whole file (format version 1) is returned as it is.
    ///
    /// # Errors
    /// [`SstError::RangeChecksumMismatch`] naming the damaged chunk, [`SstError::Invalid`]
    /// for a chunk the file does not have, storage errors.
    pub async fn fetch_chunks(
        &self,
        storage: &ObjectStorage,
        sst: &CachedSst,
        chunks: &[(usize, usize)],
    ) -> Result<(CachedSst, u64)> {
        if sst.data.is_whole() || chunks.is_empty() {
            return Ok((sst.clone(), 0));
        }
        let invalid = |reason: String| SstError::Invalid {
            path: sst.path.clone(),
            reason,
        };
        let checksums = sst.checksums.as_ref().ok_or_else(|| {
            invalid("no chunk checksums to verify a ranged read with".to_string())
        })?;
        let metadata = sst.metadata.metadata();
        let chunk_key =
            |rg: usize, leaf: usize| (sst.region_id, sst.file_id, key_index(rg), key_index(leaf));
        let lookup = || -> Result<(Vec<HeldRange>, Vec<MissingChunk>)> {
            let mut held = Vec::with_capacity(chunks.len());
            let mut missing = Vec::new();
            let mut data = lock(&self.data);
            for &(rg, leaf) in chunks {
                let range = chunk_range(metadata, rg, leaf)
                    .ok_or_else(|| invalid(format!("no column chunk {leaf} in row group {rg}")))?;
                match data.get(&chunk_key(rg, leaf)) {
                    Some(bytes) => held.push((range.start, bytes)),
                    None => missing.push((rg, leaf, range)),
                }
            }
            Ok((held, missing))
        };
        let (mut held, mut missing) = lookup()?;
        // Concurrent readers of the same chunks fetch them once: each takes the gates of the
        // row groups it misses chunks of, in ascending order (so two readers never wait for
        // each other's), then looks again. Stripes reading other row groups go on.
        let mut gates = Vec::new();
        if !missing.is_empty() {
            let mut row_groups: Vec<u32> =
                missing.iter().map(|(rg, _, _)| key_index(*rg)).collect();
            row_groups.sort_unstable();
            row_groups.dedup();
            for rg in row_groups {
                gates.push(self.gate((sst.region_id, sst.file_id, rg)).await);
            }
            (held, missing) = lookup()?;
        }
        if missing.is_empty() {
            self.counters.data_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((
                CachedSst {
                    data: SstData::ranges(parquet::file::reader::Length::len(&sst.data), held),
                    fetched_bytes: 0,
                    ..sst.clone()
                },
                0,
            ));
        }
        self.counters.data_misses.fetch_add(1, Ordering::Relaxed);
        let path = sst_path(sst.region_id, sst.file_id);
        let ranges: Vec<_> = missing.iter().map(|(_, _, range)| range.clone()).collect();
        let fetched =
            storage
                .get_ranges(&path, &ranges)
                .await
                .map_err(|source| SstError::Missing {
                    path: sst.path.clone(),
                    source,
                })?;
        if fetched.len() != missing.len() {
            return Err(invalid(format!(
                "the store returned {} of {} requested ranges",
                fetched.len(),
                missing.len()
            ))
            .into());
        }
        let mut fetched_bytes = 0;
        for ((rg, leaf, range), bytes) in missing.into_iter().zip(fetched) {
            let expected = checksums.get(rg, leaf).ok_or_else(|| {
                invalid(format!(
                    "no checksum for column chunk {leaf} of row group {rg}"
                ))
            })?;
            verify_range(
                &sst.path,
                || {
                    let schema = metadata.file_metadata().schema_descr();
                    format!(
                        "column chunk '{}' of row group {rg}",
                        schema.column(leaf).name()
                    )
                },
                &range,
                &bytes,
                expected,
            )?;
            fetched_bytes += bytes.len() as u64;
            self.insert_data(chunk_key(rg, leaf), bytes.clone());
            held.push((range.start, bytes));
        }
        self.counters
            .bytes_fetched
            .fetch_add(fetched_bytes, Ordering::Relaxed);
        Ok((
            CachedSst {
                data: SstData::ranges(parquet::file::reader::Length::len(&sst.data), held),
                fetched_bytes,
                ..sst.clone()
            },
            fetched_bytes,
        ))
    }

    /// Waits for and holds the loading gate of `key`.
    async fn gate(&self, key: GateKey) -> LoadingGate<'_> {
        let gate = lock(&self.loading).entry(key).or_default().clone();
        LoadingGate {
            loading: &self.loading,
            key,
            gate: gate.clone(),
            _held: gate.lock_owned().await,
        }
    }

    /// Fetches `range` of the object at `path` and checks it against `expected` (CRC-32).
    async fn fetch_verified(
        &self,
        storage: &ObjectStorage,
        path: &str,
        range: std::ops::Range<u64>,
        expected: u32,
        what: &str,
    ) -> Result<Bytes> {
        let object = object_store::path::Path::from(path);
        let bytes = storage
            .get_ranges(&object, std::slice::from_ref(&range))
            .await
            .map_err(|source| SstError::Missing {
                path: path.to_string(),
                source,
            })?
            .pop()
            .unwrap_or_default();
        verify_range(path, || what.to_string(), &range, &bytes, expected)?;
        self.counters
            .bytes_fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    /// Caches verified `bytes` under `key`, counting evictions.
    fn insert_data(&self, key: ChunkKey, bytes: Bytes) {
        let weight = bytes.len() as u64;
        let evicted = lock(&self.data).insert(key, bytes, weight);
        self.counters
            .data_evictions
            .fetch_add(evicted, Ordering::Relaxed);
    }

    /// The newest visible row of every series of `sst` in the read schema of `format`, for
    /// a read whose time range covers the whole file (so the answer depends on nothing else):
    /// from the cache, else read ([`read_last_rows`]) from `fill()` (`sst` with the column
    /// chunks the read needs: [`SstCache::fetch_chunks`]) and cached.
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
        fill: impl FnOnce() -> Result<CachedSst>,
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
        let batch = read_last_rows(&fill()?, format, TimeRange::all())?;
        let weight = batch.get_array_memory_size() as u64;
        lock(&self.last_rows).insert(key, batch.clone(), weight);
        Ok(batch)
    }

    /// Drops the entries of one file (it is being deleted).
    pub fn remove_file(&self, region_id: RegionId, file_id: FileId) {
        lock(&self.data).retain(|(region, file, _, _)| (*region, *file) != (region_id, file_id));
        lock(&self.meta).remove(&(region_id, file_id));
        lock(&self.last_rows).retain(|(region, file, _)| (*region, *file) != (region_id, file_id));
    }

    /// Drops every entry of `region_id` (its files are being deleted).
    pub fn remove_region(&self, region_id: RegionId) {
        lock(&self.data).retain(|(region, _, _, _)| *region != region_id);
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
