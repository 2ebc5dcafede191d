//! The engine's write buffer: one memtable budget in bytes shared by every region of an
//! [`Engine`](crate::engine::Engine) (mito2's `WriteBufferManagerImpl` in `flush.rs`, itself
//! after RocksDB's `WriteBufferManager`; the worker side follows mito2's
//! `worker/handle_flush.rs::flush_regions_on_engine_full` and `worker/handle_write.rs`).
//!
//! **Accounting.** Every memtable reports the heap bytes it allocates
//! ([`Memtable::size_bytes`](crate::engine::memtable::Memtable::size_bytes)) through its
//! [`MemtableTracker`]: they are *reserved* (counted in `used` and in `mutable`). When the
//! region freezes the memtable for flush its bytes are *scheduled to free* (they leave
//! `mutable`, stay in `used`), and when the flush installs its SSTs they are *freed* (they
//! leave `used`). A memtable dropped without a flush (region closed or dropped) is freed on
//! drop. A scan still reading a flushed memtable keeps its memory alive a little longer than
//! the accounting says; the budget tracks memtables the engine still has to write out.
//!
//! **Policy** (all sizes in bytes; `budget` = [`EngineOptions::write_buffer_bytes`],
//! 0 disables all of it):
//! - *Flush* ([`WriteBufferManager::should_flush_engine`]): when `mutable >= budget / 2` or
//!   `used >= budget`, after a write, the regions with the most memtable bytes are flushed
//!   first until the bytes left (less those of regions whose engine flush already runs,
//!   which are not picked again) are below `budget / 2`. Per-region triggers (size, age, manual,
//!   too many frozen memtables) work as before.
//! - *Stall* ([`WriteBufferManager::admit`]): a write is admitted when `used < budget` and
//!   `used + estimate <= 2 * budget` (the hard cap, mito2's default
//!   `global_write_buffer_reject_size`), `estimate` being the batch's Arrow memory size.
//!   Otherwise it asks for flushes and waits (a [`tokio::sync::Notify`], no polling) until a
//!   flush installs or ends, then checks again. It holds no region lock while it waits, and
//!   writes already admitted keep going into their region's fresh mutable memtable while the
//!   frozen ones flush.
//! - *Reject* ([`Error::WriteBufferFull`]): a write whose estimate alone exceeds the hard cap
//!   is rejected at once; a stalled write is rejected when nothing can free memory (no flush
//!   running and none could be started) or when a flush failed while it waited. Nothing of
//!   a rejected write is stored; the caller may retry.
//!
//! The checks are not atomic with the inserts: concurrent writes admitted together can take
//! `used` past the budget by about one batch each, as in mito2.
//!
//! [`EngineOptions::write_buffer_bytes`]: crate::engine::EngineOptions::write_buffer_bytes

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::{Notify, watch};

use crate::engine::error::{Error, Result};
use crate::engine::metadata::RegionId;
use crate::engine::region::RegionRef;

/// The engine's open regions, as the engine holds them.
pub type RegionMap = RwLock<HashMap<RegionId, RegionRef>>;

/// Shared handle of a [`WriteBufferManager`].
pub type WriteBufferManagerRef = Arc<WriteBufferManager>;

/// Global memtable budget of an engine; see the module docs for the policy.
#[derive(Debug)]
pub struct WriteBufferManager {
    /// Bytes all memtables may hold before writes stall; 0 = no budget.
    budget: usize,
    /// Mutable memtable bytes that trigger an engine flush (`budget / 2`).
    mutable_limit: usize,
    /// Bytes a write may never take the buffer past (`2 * budget`).
    hard_cap: usize,
    /// Bytes of all tracked memtables (mutable and frozen, not yet flushed).
    used: AtomicUsize,
    /// Bytes of mutable memtables (not yet scheduled to free).
    mutable: AtomicUsize,
    /// Flushes running (any trigger), see [`WriteBufferManager::begin_flush`].
    flushes_in_flight: AtomicUsize,
    /// Flushes that ended with an error, ever.
    flush_failures: AtomicU64,
    /// Largest `used` seen.
    peak: AtomicUsize,
    /// Writes waiting in [`WriteBufferManager::admit`] now.
    stalled: watch::Sender<usize>,
    /// Writes that ever waited (mito2's `WRITE_STALL_TOTAL`) and were rejected.
    stalls_total: AtomicU64,
    rejects_total: AtomicU64,
    /// Woken when memory is freed or a flush ends.
    changed: Notify,
    /// The engine's regions, to pick flushes from.
    regions: Weak<RegionMap>,
}

impl WriteBufferManager {
    /// A manager with a budget of `budget_bytes` (0: no budget, only accounting) over the
    /// regions in `regions` (an empty `Weak` for none).
    pub fn new(budget_bytes: usize, regions: Weak<RegionMap>) -> Self {
        WriteBufferManager {
            budget: budget_bytes,
            mutable_limit: budget_bytes / 2,
            hard_cap: budget_bytes.saturating_mul(2),
            used: AtomicUsize::new(0),
            mutable: AtomicUsize::new(0),
            flushes_in_flight: AtomicUsize::new(0),
            flush_failures: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            stalled: watch::Sender::new(0),
            stalls_total: AtomicU64::new(0),
            rejects_total: AtomicU64::new(0),
            changed: Notify::new(),
            regions,
        }
    }

    /// The budget in bytes (0: none).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes of all memtables not yet flushed (mutable and frozen).
    pub fn memory_usage(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Bytes of mutable memtables.
    pub fn mutable_usage(&self) -> usize {
        self.mutable.load(Ordering::Acquire)
    }

    /// Flushes running now.
    pub fn flushes_in_flight(&self) -> usize {
        self.flushes_in_flight.load(Ordering::Acquire)
    }

    /// The largest [`Self::memory_usage`] seen since the manager was created.
    pub fn peak_usage(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// Writes waiting for room now; a receiver to watch the count.
    pub fn stalled_writes(&self) -> watch::Receiver<usize> {
        self.stalled.subscribe()
    }

    /// Writes that had to wait for room, since the manager was created.
    pub fn stalls_total(&self) -> u64 {
        self.stalls_total.load(Ordering::Acquire)
    }

    /// Writes rejected with [`Error::WriteBufferFull`], since the manager was created.
    pub fn rejects_total(&self) -> u64 {
        self.rejects_total.load(Ordering::Acquire)
    }

    /// Waits until no flush runs (flushes started meanwhile included).
    pub async fn wait_for_flushes(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.flushes_in_flight() == 0 {
                return;
            }
            changed.await;
        }
    }

    /// Whether the engine should flush regions: mutable bytes at half the budget or all
    /// bytes at the budget. Always false without a budget.
    pub fn should_flush_engine(&self) -> bool {
        self.budget > 0
            && (self.mutable_usage() >= self.mutable_limit || self.memory_usage() >= self.budget)
    }

    /// Whether a write would stall now (all bytes at or over the budget).
    pub fn should_stall(&self) -> bool {
        self.budget > 0 && self.memory_usage() >= self.budget
    }

    /// Counts `bytes` newly allocated by a mutable memtable.
    pub(crate) fn reserve_mem(&self, bytes: usize) {
        self.mutable.fetch_add(bytes, Ordering::AcqRel);
        self.reserve_frozen_mem(bytes);
    }

    /// Counts `bytes` newly allocated by a frozen memtable (only in `used`).
    fn reserve_frozen_mem(&self, bytes: usize) {
        let used = self.used.fetch_add(bytes, Ordering::AcqRel) + bytes;
        self.peak.fetch_max(used, Ordering::AcqRel);
    }

    /// A memtable of `bytes` was frozen: they will be freed by its flush.
    pub(crate) fn schedule_free_mem(&self, bytes: usize) {
        self.mutable.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// `bytes` of a frozen memtable were freed; wakes stalled writes.
    pub(crate) fn free_mem(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Marks a flush as running until the guard is dropped (then stalled writes wake). Take
    /// it before the flush task is spawned, so a stalled write that just asked for flushes
    /// sees them.
    pub(crate) fn begin_flush(self: &Arc<Self>) -> FlushGuard {
        self.flushes_in_flight.fetch_add(1, Ordering::AcqRel);
        FlushGuard {
            manager: self.clone(),
            failed: false,
        }
    }

    /// Waits until a write of about `estimate` bytes to `region_id` fits the budget, asking
    /// for flushes meanwhile. Returns at once without a budget.
    ///
    /// # Errors
    /// [`Error::WriteBufferFull`] if the write can never fit (over the hard cap alone), if
    /// nothing can free memory, or if a flush failed while it waited.
    pub async fn admit(self: &Arc<Self>, region_id: RegionId, estimate: usize) -> Result<()> {
        if self.budget == 0 {
            return Ok(());
        }
        let full = |reason: &'static str| {
            self.rejects_total.fetch_add(1, Ordering::AcqRel);
            Error::WriteBufferFull {
                region_id,
                requested: estimate,
                used: self.memory_usage(),
                budget: self.budget,
                reason,
            }
        };
        if estimate > self.hard_cap {
            return Err(full(
                "the write alone exceeds the hard cap of twice the budget",
            ));
        }
        let failures = self.flush_failures.load(Ordering::Acquire);
        let mut stalled = None;
        loop {
            // Registered before the check, so a free between the check and the wait wakes it.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let used = self.memory_usage();
            if used < self.budget && used.saturating_add(estimate) <= self.hard_cap {
                return Ok(());
            }
            if self.flush_failures.load(Ordering::Acquire) != failures {
                return Err(full("a flush failed while the write waited"));
            }
            self.flush_engine_now();
            if self.flushes_in_flight() == 0 {
                return Err(full("no flush can free memtable memory"));
            }
            if stalled.is_none() {
                log::debug!(
                    "write to region {region_id} stalls: {used} of {} write buffer bytes used",
                    self.budget
                );
                self.stalls_total.fetch_add(1, Ordering::AcqRel);
                stalled = Some(StallCount::new(&self.stalled));
            }
            changed.await;
        }
    }

    /// Flushes the regions with the largest memtables if [`Self::should_flush_engine`].
    /// Cheap when under the limits (two atomic loads); called after every write.
    pub fn maybe_flush_engine(self: &Arc<Self>) {
        if self.should_flush_engine() {
            self.flush_engine_now();
        }
    }

    /// Starts background flushes of the largest regions ([`pick_flushes`]) whose engine
    /// flush is not already running.
    fn flush_engine_now(self: &Arc<Self>) {
        let Some(regions) = self.regions.upgrade() else {
            return;
        };
        let open: Vec<RegionRef> = match regions.read() {
            Ok(map) => map.values().cloned().collect(),
            Err(_) => return,
        };
        drop(regions);
        let mut candidates = Vec::new();
        // Bytes the engine flushes already running will free.
        let mut being_freed = 0usize;
        for region in open.iter().filter(|r| !r.is_closed()) {
            let version = region.version();
            let bytes = version.mutable.size_bytes()
                + version
                    .immutables
                    .iter()
                    .map(|m| m.size_bytes())
                    .sum::<usize>();
            if region.engine_flush_pending() {
                being_freed += bytes;
            } else if !version.mutable.is_empty() || !version.immutables.is_empty() {
                candidates.push((region.region_id(), bytes));
            }
        }
        let usage = self.memory_usage().saturating_sub(being_freed);
        let picked = pick_flushes(candidates, usage, self.mutable_limit);
        for id in picked {
            if let Some(region) = open.iter().find(|r| r.region_id() == id) {
                log::debug!(
                    "write buffer: {} of {} bytes used, flushing region {id}",
                    self.memory_usage(),
                    self.budget
                );
                region.schedule_engine_flush(self.begin_flush());
            }
        }
    }
}

/// Which regions to flush, largest first: `candidates` are `(region, memtable bytes)`,
/// `usage` the bytes used now (less what running flushes free); regions are taken while the
/// bytes left are at or above `target`. Ties go to the smaller region id, so the order is
/// deterministic.
pub(crate) fn pick_flushes(
    mut candidates: Vec<(RegionId, usize)>,
    usage: usize,
    target: usize,
) -> Vec<RegionId> {
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut left = usage;
    let mut picked = Vec::new();
    for (id, bytes) in candidates {
        if left < target {
            break;
        }
        picked.push(id);
        left = left.saturating_sub(bytes);
    }
    picked
}

/// Counts a write as stalled while it lives.
struct StallCount<'a>(&'a watch::Sender<usize>);

impl<'a> StallCount<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        StallCount(count)
    }
}

impl Drop for StallCount<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A running flush (see [`WriteBufferManager::begin_flush`]); dropping it ends it.
#[derive(Debug)]
pub(crate) struct FlushGuard {
    manager: WriteBufferManagerRef,
    failed: bool,
}

impl FlushGuard {
    /// Records the flush's outcome: a failure rejects the writes stalled meanwhile.
    pub(crate) fn finish<T>(mut self, result: &Result<T>) {
        self.failed = matches!(result, Err(e) if !matches!(e, Error::ShuttingDown(_)));
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if self.failed {
            self.manager.flush_failures.fetch_add(1, Ordering::AcqRel);
        }
        self.manager
            .flushes_in_flight
            .fetch_sub(1, Ordering::AcqRel);
        self.manager.changed.notify_waiters();
    }
}

/// A memtable's share of the write buffer (mito2's `AllocTracker`): what it reserved, whether
/// it is frozen, whether it was freed. Without a manager it counts nothing.
#[derive(Debug, Default)]
pub struct MemtableTracker {
    manager: Option<WriteBufferManagerRef>,
    state: Mutex<TrackerState>,
}

#[derive(Debug, Default)]
struct TrackerState {
    /// Bytes counted in the manager's `used`.
    used: usize,
    /// Bytes counted in the manager's `mutable`.
    mutable: usize,
    frozen: bool,
    freed: bool,
}

impl MemtableTracker {
    /// A tracker reporting to `manager`.
    pub fn new(manager: Option<WriteBufferManagerRef>) -> Self {
        MemtableTracker {
            manager,
            state: Mutex::new(TrackerState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The memtable allocated `bytes` more.
    pub fn on_allocation(&self, bytes: usize) {
        let Some(manager) = &self.manager else {
            return;
        };
        if bytes == 0 {
            return;
        }
        let mut state = self.state();
        if state.freed {
            return;
        }
        state.used += bytes;
        if state.frozen {
            manager.reserve_frozen_mem(bytes);
        } else {
            state.mutable += bytes;
            manager.reserve_mem(bytes);
        }
    }

    /// The memtable was frozen for flush: its bytes are scheduled to free. Idempotent.
    pub fn on_freeze(&self) {
        let Some(manager) = &self.manager else {
            return;
        };
        let mut state = self.state();
        if !state.frozen {
            state.frozen = true;
            manager.schedule_free_mem(std::mem::take(&mut state.mutable));
        }
    }

    /// The memtable was flushed (or is dropped): its bytes leave the buffer. Idempotent.
    pub fn on_free(&self) {
        self.on_freeze();
        let Some(manager) = &self.manager else {
            return;
        };
        let mut state = self.state();
        if !state.freed {
            state.freed = true;
            manager.free_mem(std::mem::take(&mut state.used));
        }
    }
}

impl Drop for MemtableTracker {
    fn drop(&mut self) {
        self.on_free();
    }
}

#[cfg(test)]
mod tests;
