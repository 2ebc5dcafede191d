//! A region: one LSM tree (WAL, memtables, SSTs, manifest) holding rows of one schema in the
//! row model `tag..., ts -> field...` (mito2's `MitoRegion`).
//!
//! Write path: validate → wait for room in the engine's write buffer (no lock held;
//! [`crate::engine::write_buffer`]) → take the writer lock → assign sequences → submit to
//! the WAL → release the lock → wait for the fsync (writes waiting together share one: group
//! commit) → insert into the mutable memtable (the writes of a group in parallel) → wait until
//! every earlier sequence is inserted → advance the committed sequence (scans see memtable
//! rows only up to it, so never half a write). A write is acknowledged only after that, so acknowledged means durable. When the mutable memtable passes its size
//! limit it is frozen (and the WAL rolled to a new segment) under the writer lock, and a
//! background flush turns it into an SST. After each write the engine's write buffer may
//! freeze and flush the regions with the largest memtables.
//!
//! Lock order: `writer` before `insert_gate` (a write holds the gate's read side while it
//! waits for its turn on the committed sequence), `flush_lock` before `manifest`; `VersionControl`'s lock is
//! only held for pointer swaps.

mod alter;
#[cfg(test)]
mod alter_tests;
mod flush;
mod open;
mod scan;
pub mod scan_metrics;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod stripe_tests;
mod truncate;
pub mod version;

pub use alter::check_evolution;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use futures::stream::BoxStream;

use crate::engine::error::Result;
use crate::engine::io::ObjectStorage;
use crate::engine::manifest::RegionManifestManager;
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::memtable::{Memtable, validate_batch};
use crate::engine::metadata::{OpType, RegionId, RegionMetadataRef, SequenceNumber};
pub use crate::engine::read::predicate::{CompareOp, FieldFilter, TagFilter};
use crate::engine::time_range::TimeRange;
use crate::engine::wal::{Wal, WalEntry};
use crate::engine::write_buffer::{FlushGuard, WriteBufferManagerRef};
use version::{VersionControl, VersionRef};

/// At most this many frozen memtables wait for flush; a write beyond it flushes first
/// (write stall, as in RocksDB's `max_write_buffer_number`).
const MAX_IMMUTABLE_MEMTABLES: usize = 4;

/// What a scan reads.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Indexes (into the region's columns, table order) of the columns to return, in that
    /// order; `None` for all.
    pub projection: Option<Vec<usize>>,
    /// Only rows whose time index is inside this range (time index unit) are returned.
    pub time_range: TimeRange,
    /// Stop after this many rows (a hint: more may be returned).
    pub limit: Option<usize>,
    /// Tag predicates used to skip SST row groups (a hint: rows that do not match may still
    /// be returned, so the caller applies them too).
    pub tag_filters: Vec<TagFilter>,
    /// Comparisons of float fields, applied exactly: only rows passing all of them are
    /// returned (SSTs that need no merge apply them while decoding, so other columns are
    /// decoded only for passing rows). Their columns need not be projected.
    pub field_filters: Vec<FieldFilter>,
    /// Return only some rows of each series (see [`SeriesRowSelector`]); `None` for all rows.
    pub series_row_selector: Option<SeriesRowSelector>,
    /// Counts what the scan reads into these counters, if given.
    pub metrics: Option<Arc<scan_metrics::ScanMetrics>>,
    /// Read this snapshot ([`Region::snapshot`]) instead of taking one when the scan starts:
    /// the partitions of one query share one, so they see the same writes and agree on the
    /// sources they split between them.
    pub snapshot: Option<ScanSnapshot>,
    /// Read only this stripe's share of the sources (see [`Stripe`]); `None` for all.
    pub stripe: Option<Stripe>,
    /// A further bound on the rows wanted, known only when the scan starts (DataFusion's
    /// dynamic filters): rows outside it may be left out. Unlike `time_range` it does not
    /// choose the sources a stripe shares, so stripes narrowed differently still agree.
    pub dynamic_range: Option<TimeRange>,
}

/// The state a scan reads, captured at once: the committed sequence, then the version (so
/// every row at or below the sequence is in the version's memtables or files) and the TTL
/// cut-off of that moment. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ScanSnapshot {
    committed: SequenceNumber,
    version: VersionRef,
    expire_before: Option<i64>,
    /// Time range of the version's mutable memtable, then of each immutable one (`None` if
    /// empty), as they were: the mutable one keeps growing with writes above `committed`, and
    /// every stripe must group the sources alike.
    memtable_ranges: Vec<Option<TimeRange>>,
}

/// One of `count` disjoint shares of a scan: stripes `0..count` of one request on one
/// [`ScanSnapshot`] return every row exactly once between them. The sources are grouped into
/// runs of overlapping time ranges (in time order, numbered from 0); run `r` made of one SST
/// gives its row group `j` to stripe `(r + j) % count`, any other run goes whole to stripe
/// `r % count`. So a few large files still split evenly over the partitions of a query,
/// which a cut by time cannot do (a file's row groups each span its whole time range): the
/// row-group ranges of mito2's `PartitionRange` (`src/mito2/src/read/range.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    /// This stripe, below `count`.
    pub index: usize,
    /// Stripes in all, at least 1.
    pub count: usize,
}

impl Stripe {
    /// Whether this stripe reads the part numbered `ordinal` (a run, or a run plus a row group).
    pub fn takes(&self, ordinal: usize) -> bool {
        self.count <= 1 || ordinal % self.count == self.index
    }
}

/// Which rows of each series (rows sharing all tag values) a scan may leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRowSelector {
    /// The scan returns, of every series, its newest visible row in the time range, plus at
    /// most a few older rows of it (each the newest of its series within one run of
    /// overlapping sources, or at the end of a batch). Enough for `max(ts)` per series or per
    /// group of series, or any "newest row per group" question, and far cheaper: an SST
    /// overlapping nothing decodes one row per series (mito2's `LastRowSelector`, with its
    /// selector result cache: `src/mito2/src/read/last_row.rs`).
    LastRow,
}

impl Default for ScanRequest {
    fn default() -> Self {
        ScanRequest {
            projection: None,
            time_range: TimeRange::all(),
            limit: None,
            tag_filters: Vec::new(),
            field_filters: Vec::new(),
            series_row_selector: None,
            metrics: None,
            snapshot: None,
            stripe: None,
            dynamic_range: None,
        }
    }
}

/// Sorted, deduplicated rows of a scan, in batches of at most 8192 rows.
pub type RecordBatchStream = BoxStream<'static, Result<RecordBatch>>;

/// A region handle; cheap to clone.
pub type RegionRef = Arc<Region>;

/// Per-region tuning, derived from the engine options.
#[derive(Debug, Clone)]
pub struct RegionOptions {
    /// Freeze the mutable memtable once it holds this many bytes.
    pub memtable_size_limit_bytes: usize,
    /// Flush a memtable whose first row is older than this.
    pub auto_flush_interval: Duration,
    /// SST bytes and metadata cache, shared by the engine's regions; scans read through it.
    pub sst_cache: Arc<crate::engine::cache::SstCache>,
    /// The engine's write buffer: memtables reserve their bytes in it, writes wait in it
    /// while it is full.
    pub write_buffer: WriteBufferManagerRef,
    /// The engine's clock: TTL expiry is measured against it.
    pub clock: crate::engine::options::ClockRef,
}

#[derive(Debug)]
struct WriterState {
    next_sequence: SequenceNumber,
    next_memtable_id: u64,
}

/// One LSM tree.
#[derive(Debug)]
pub struct Region {
    pub(crate) region_id: RegionId,
    pub(crate) storage: ObjectStorage,
    pub(crate) wal: Wal,
    pub(crate) version: VersionControl,
    writer: tokio::sync::Mutex<WriterState>,
    /// Read-held by each write from WAL submission until its memtable insert; write-held
    /// by a freeze.
    insert_gate: Arc<tokio::sync::RwLock<()>>,
    /// Largest sequence such that it and every earlier write are in the memtables
    /// ([`Region::committed_sequence`]). Writes insert in sequence order and advance it;
    /// scans capture it before the version and read memtables only up to it.
    committed: tokio::sync::watch::Sender<SequenceNumber>,
    /// The first sequence of the first write whose WAL append failed (`u64::MAX` if none):
    /// the WAL is poisoned from there on, so only sequences below it are durable, while
    /// `committed` moves past failed writes too.
    wal_failed_at: std::sync::atomic::AtomicU64,
    /// Serialises flushes and compactions (structural changes of the file set).
    pub(crate) flush_lock: tokio::sync::Mutex<()>,
    pub(crate) manifest: tokio::sync::Mutex<RegionManifestManager>,
    options: RegionOptions,
    /// Set by [`Region::close`]: background flushes and compactions no longer start.
    pub(crate) closed: std::sync::atomic::AtomicBool,
    /// Set while a flush the write buffer asked for runs
    /// ([`Region::schedule_engine_flush`]), so it picks the region only once.
    engine_flush_pending: std::sync::atomic::AtomicBool,
}

impl Region {
    /// The region id.
    pub fn region_id(&self) -> RegionId {
        self.region_id
    }

    /// The region schema.
    pub fn metadata(&self) -> RegionMetadataRef {
        self.version.current().metadata.clone()
    }

    /// The current snapshot of memtables and files.
    pub fn version(&self) -> VersionRef {
        self.version.current()
    }

    /// Writes `batch` (schema = `metadata().arrow_schema()`, columns in table order) as Put
    /// rows. Returns the row count once the rows are durable in the WAL and visible to scans.
    ///
    /// # Errors
    /// [`crate::engine::Error::InvalidWrite`] if the batch does not fit the schema (nothing
    /// is written), [`crate::engine::Error::WriteBufferFull`] if the engine's memtable budget
    /// cannot take it (nothing is written; see [`crate::engine::write_buffer`]), WAL errors
    /// (the WAL is then poisoned and refuses later writes).
    ///
    /// Cancel-safe: if the future is dropped after the batch was handed to the WAL, the write
    /// still completes (WAL and memtable) in the background; before that, nothing is written.
    pub async fn write(self: &Arc<Self>, batch: RecordBatch) -> Result<usize> {
        self.write_op(batch, OpType::Put).await
    }

    /// Writes tombstones for the row identities `(tags, ts)` in `batch` (same schema as
    /// [`Region::write`]; field columns are ignored). Returns the number of tombstones.
    ///
    /// # Errors
    /// As [`Region::write`].
    pub async fn delete(self: &Arc<Self>, batch: RecordBatch) -> Result<usize> {
        self.write_op(batch, OpType::Delete).await
    }

    async fn write_op(self: &Arc<Self>, batch: RecordBatch, op_type: OpType) -> Result<usize> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(0);
        }
        let validated = self.metadata();
        validate_batch(&validated, &batch, op_type)?;
        // A batch built for the schema before an ALTER (same types, other columns) must not be
        // taken for the new one: its column names are those of the schema it was built for.
        let schema = batch.schema();
        if let Some((field, column)) = schema
            .fields()
            .iter()
            .zip(&validated.columns)
            .find(|(field, column)| field.name() != &column.name)
        {
            return Err(crate::engine::Error::InvalidWrite {
                region_id: self.region_id,
                reason: format!(
                    "batch column '{}' is not the table's column '{}' (the table was altered; \
                     run the statement again)",
                    field.name(),
                    column.name
                ),
            });
        }
        let table_options = self.table_options();
        if table_options.is_instant() {
            // `ttl = 'instant'`: GreptimeDB discards the rows on insert and reports none.
            return Ok(0);
        }
        if op_type == OpType::Delete && table_options.append_mode {
            // Append mode keeps every version and never merges them, so a tombstone could
            // not hide the rows it names: refuse instead of accepting a no-op.
            return Err(crate::engine::Error::InvalidWrite {
                region_id: self.region_id,
                reason: "DELETE is not supported on a table with append_mode = 'true' \
                         (rows are never merged, so a tombstone cannot hide them)"
                    .to_string(),
            });
        }
        // Stalls (holding no lock) while the engine's memtables are over budget.
        self.options
            .write_buffer
            .admit(self.region_id, batch.get_array_memory_size())
            .await?;
        if self.version.current().immutables.len() >= MAX_IMMUTABLE_MEMTABLES {
            self.flush_immutables().await?;
        }
        let mut writer = self.writer.lock().await;
        // An ALTER (which holds the writer lock) may have changed the schema since the batch
        // was validated: a batch of the old schema must not reach the new memtable.
        if self.version.current().metadata.schema_version != validated.schema_version {
            return Err(crate::engine::Error::InvalidWrite {
                region_id: self.region_id,
                reason: "the table was altered while the write waited; run it again".into(),
            });
        }
        // Held until the rows are in the memtable: a freeze waits for in-flight writes, so
        // every row at or below a frozen memtable's sequences is in that memtable.
        let in_flight = self.insert_gate.clone().read_owned().await;
        let sequence = writer.next_sequence;
        let entry = WalEntry {
            sequence,
            op_type,
            batch,
        };
        let ticket = self.wal.submit(&entry)?;
        writer.next_sequence += rows as u64;
        // Waiting outside the writer lock lets concurrent writes share one fsync.
        drop(writer);
        // Once submitted, the entry will reach the WAL whatever the caller does; finish in a
        // task of its own so a cancelled caller cannot leave an entry in the WAL that is
        // missing from the memtable (it would reappear only after a restart).
        let region = self.clone();
        let full = crate::engine::run_to_completion("write", async move {
            let _in_flight = in_flight;
            // Insert as soon as the entry is durable, concurrently with the other writes of
            // its group commit: the rows stay invisible until the committed sequence passes
            // them (scans read memtables only up to it), and the memtable sorts by sequence
            // at read time, so insert order does not matter. The gate guard keeps the mutable
            // memtable from being frozen meanwhile.
            let durable = ticket.wait().await;
            if durable.is_err() {
                region
                    .wal_failed_at
                    .fetch_min(sequence, std::sync::atomic::Ordering::AcqRel);
            }
            // A panic must not skip the commit below (later writes would wait forever).
            let inserted =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<bool> {
                    durable?;
                    let version = region.version.current();
                    version.mutable.write(&entry.batch, sequence, op_type)?;
                    Ok(version.mutable.size_bytes() >= region.options.memtable_size_limit_bytes)
                }))
                .unwrap_or_else(|_| {
                    Err(crate::engine::Error::WorkerStopped(
                        "memtable insert panicked".to_string(),
                    ))
                });
            // Writes commit in sequence order: wait until every earlier write is inserted
            // (WAL acks arrive in submission order and the inserts run in parallel, so this
            // wait is short), then advance the committed sequence past this one, even if it
            // failed (its rows are then in no memtable) so later writes do not wait forever.
            let mut committed = region.committed.subscribe();
            let _ = committed
                .wait_for(|&c| c.saturating_add(1) >= sequence)
                .await;
            let last = sequence + rows as u64 - 1;
            region.committed.send_modify(|c| *c = (*c).max(last));
            inserted
        })
        .await?;
        if full {
            let mut writer = self.writer.lock().await;
            let still_full = self.version.current().mutable.size_bytes()
                >= self.options.memtable_size_limit_bytes;
            if still_full {
                self.freeze(&mut writer).await?;
                self.schedule_flush();
            }
        }
        self.options.write_buffer.maybe_flush_engine();
        Ok(rows)
    }

    /// Number of WAL `sync_data` calls since the region was opened: one per group commit,
    /// so with concurrent writers it is below the number of acknowledged writes (a figure for
    /// tests and the commit benchmark, `benches/tsbs/library.rs`).
    pub fn wal_sync_count(&self) -> u64 {
        self.wal.sync_count()
    }

    /// The committed sequence: every write at or below it is completely in the memtables,
    /// none above it is visible to scans. Scans read memtables up to it.
    pub fn committed_sequence(&self) -> SequenceNumber {
        *self.committed.borrow()
    }

    /// What a scan starting now reads (see [`ScanSnapshot`]).
    pub fn snapshot(&self) -> ScanSnapshot {
        let committed = self.committed_sequence();
        let version = self.version.current();
        let expire_before = self.expire_before(&version.options);
        let memtable_ranges = std::iter::once(&version.mutable)
            .chain(&version.immutables)
            .map(|m| m.time_range())
            .collect();
        ScanSnapshot {
            committed,
            version,
            expire_before,
            memtable_ranges,
        }
    }

    /// Every write at or below this sequence was acknowledged: it is in the WAL (or an SST).
    /// The committed sequence, except after a failed WAL append (which the committed
    /// sequence moves past so later writes do not wait). Recorded in the manifest by flushes
    /// and clean closes ([`crate::engine::manifest::RegionEdit::committed_sequence`]).
    pub fn durable_sequence(&self) -> SequenceNumber {
        let failed_at = self
            .wal_failed_at
            .load(std::sync::atomic::Ordering::Acquire);
        self.committed_sequence().min(failed_at.saturating_sub(1))
    }

    /// Freezes the mutable memtable (if it has rows): later writes go to a new memtable and
    /// a new WAL segment. Requires the writer lock (the guard is the proof).
    async fn freeze(&self, writer: &mut tokio::sync::MutexGuard<'_, WriterState>) -> Result<()> {
        let _no_writes_in_flight = self.insert_gate.write().await;
        let version = self.version.current();
        if version.mutable.is_empty() {
            return Ok(());
        }
        self.wal.roll().await?;
        let id = writer.next_memtable_id;
        writer.next_memtable_id += 1;
        self.version.freeze(Arc::new(Memtable::new_tracked(
            id,
            version.metadata.clone(),
            Some(self.options.write_buffer.clone()),
        )));
        // No insert is in flight (gate held): its bytes are final until the flush frees them.
        version.mutable.on_freeze();
        Ok(())
    }

    /// Flushes all memtables to SSTs and waits until the manifest names them.
    ///
    /// # Errors
    /// Storage, SST or manifest errors; the data stays in the memtables and WAL then.
    pub async fn flush(self: &Arc<Self>) -> Result<()> {
        let region = self.clone();
        crate::engine::run_to_completion("flush", async move {
            {
                let mut writer = region.writer.lock().await;
                region.freeze(&mut writer).await?;
            }
            region.flush_immutables().await
        })
        .await
    }

    /// Flushes if the mutable memtable's oldest row is older than the auto-flush interval.
    pub(crate) async fn flush_if_stale(self: &Arc<Self>) -> Result<()> {
        let stale = self
            .version
            .current()
            .mutable
            .first_write()
            .is_some_and(|t| t.elapsed() >= self.options.auto_flush_interval);
        if stale { self.flush().await } else { Ok(()) }
    }

    fn schedule_flush(self: &Arc<Self>) {
        let region = self.clone();
        // Counted as running from now, so a write stalled on the write buffer waits for it.
        let running = self.options.write_buffer.begin_flush();
        tokio::spawn(async move {
            let _running = running;
            match region.flush_immutables().await {
                Ok(()) | Err(crate::engine::Error::ShuttingDown(_)) => {}
                Err(e) => log::error!(
                    "background flush of region {} failed: {e}",
                    region.region_id
                ),
            }
        });
    }

    /// Compacts the region's SSTs with TWCS and waits for the result.
    ///
    /// # Errors
    /// Storage, SST or manifest errors; the old files stay in place then.
    pub async fn compact(self: &Arc<Self>) -> Result<()> {
        crate::engine::compaction::compact_region(self).await
    }

    /// Whether a flush asked for by the write buffer is running.
    pub(crate) fn engine_flush_pending(&self) -> bool {
        self.engine_flush_pending
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Freezes and flushes the region in the background because the engine's write buffer
    /// is over its limits (mito2's `FlushReason::EngineFull`); `running` counts it as a
    /// running flush until it ends. Does nothing if such a flush is already running.
    pub(crate) fn schedule_engine_flush(self: &Arc<Self>, running: FlushGuard) {
        use std::sync::atomic::Ordering;
        if self.engine_flush_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let region = self.clone();
        tokio::spawn(async move {
            // A region closed (dropped) meanwhile has nothing to free here.
            let result = if region.is_closed() {
                Ok(())
            } else {
                region.flush().await
            };
            // Cleared before `running` wakes stalled writes, so they may pick it again.
            region.engine_flush_pending.store(false, Ordering::Release);
            match &result {
                Ok(()) | Err(crate::engine::Error::ShuttingDown(_)) => {}
                Err(e) => log::error!(
                    "write-buffer flush of region {} failed: {e}",
                    region.region_id
                ),
            }
            running.finish(&result);
        });
    }

    /// Whether [`Region::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits for a running flush or compaction, stops new ones, and stops the WAL writer.
    /// Unflushed rows stay in the WAL for the next open.
    ///
    /// # Errors
    /// WAL close errors.
    pub async fn close(&self) -> Result<()> {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let _flush = self.flush_lock.lock().await;
        self.wal.close()?;
        // Record what was acknowledged, so that a WAL segment lost while the database is
        // closed is an error at the next open instead of silently missing rows. Best effort:
        // a failure only loses that check.
        let committed = self.durable_sequence();
        let mut manifest = self.manifest.lock().await;
        if committed > manifest.manifest().committed_sequence {
            let edit = RegionEdit {
                committed_sequence: Some(committed),
                ..RegionEdit::default()
            };
            if let Err(e) = manifest.update(vec![ManifestAction::Edit(edit)]).await {
                log::warn!(
                    "region {}: could not record the committed sequence at close: {e}",
                    self.region_id
                );
            }
        }
        Ok(())
    }
}
