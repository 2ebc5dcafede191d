//! [`ScanMetrics`]: what one scan read, counted while it reads, for `EXPLAIN ANALYZE`.
//!
//! The engine cannot use DataFusion's metric types, so a scan counts into these atomics and
//! the query layer copies them into its `ExecutionPlanMetricsSet` when the scan's stream ends
//! (as mito2's `ScanMetricsSet` in `src/mito2/src/read/scan_util.rs` feeds its `PartitionMetrics`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one scan (one partition of a `RegionScanExec`); shared with the caller.
#[derive(Debug, Default)]
pub struct ScanMetrics {
    /// SSTs the scan opened (after time-range pruning of whole files).
    pub files: AtomicU64,
    /// SST reads answered by the SST cache (no fetch, no checksum, no footer parse).
    pub cache_hits: AtomicU64,
    /// SST reads that fetched the file from storage.
    pub cache_misses: AtomicU64,
    /// Bytes fetched from storage (cache misses).
    pub bytes_fetched: AtomicU64,
    /// Row groups of the files read, before pruning.
    pub row_groups_total: AtomicU64,
    /// Row groups left after time and tag statistics pruned the others.
    pub row_groups_read: AtomicU64,
    /// Rows of the pages left after page-index pruning.
    pub rows_selected: AtomicU64,
    /// Rows decoded from SSTs.
    pub rows_decoded: AtomicU64,
    /// Files whose newest rows per series came from the last-row cache.
    pub last_row_hits: AtomicU64,
    /// Files whose newest rows per series were read ([`super::SeriesRowSelector::LastRow`]).
    pub last_row_reads: AtomicU64,
}

impl ScanMetrics {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters by name, in display order: `(name, value)`.
    pub fn values(&self) -> [(&'static str, u64); 10] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("sst_files", get(&self.files)),
            ("sst_cache_hits", get(&self.cache_hits)),
            ("sst_cache_misses", get(&self.cache_misses)),
            ("sst_bytes_fetched", get(&self.bytes_fetched)),
            ("row_groups_total", get(&self.row_groups_total)),
            ("row_groups_read", get(&self.row_groups_read)),
            ("rows_selected", get(&self.rows_selected)),
            ("rows_decoded", get(&self.rows_decoded)),
            ("last_row_cache_hits", get(&self.last_row_hits)),
            ("last_row_reads", get(&self.last_row_reads)),
        ]
    }
}
