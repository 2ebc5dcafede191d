//! Column chunk fetches of a scan's SST reads (format version 2, `sst/ranged.rs`): a read
//! is planned first, its chunks are fetched by the scan's prefetch (several files at once)
//! or, failing that, when the read starts.

use std::sync::Arc;

use arrow::array::RecordBatch;

use crate::engine::cache::{CachedSst, SstCache};
use crate::engine::error::Result;
use crate::engine::io::ObjectStorage;
use crate::engine::region::scan_metrics::ScanMetrics;
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::reader::{SstReadPlan, SstReader};

/// Locks `mutex`, recovering from poisoning (the guarded values are plain slots).
pub(super) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The column chunks one planned SST read needs, and once fetched, the SST holding them.
pub(super) struct ChunkFetch {
    pub(super) sst: CachedSst,
    pub(super) chunks: Vec<(usize, usize)>,
    pub(super) fetched: std::sync::Mutex<Option<Result<CachedSst>>>,
}

/// What fetches column chunks for a scan: its cache, store, runtime and counters.
#[derive(Clone)]
pub(super) struct ChunkSource {
    pub(super) cache: Arc<SstCache>,
    pub(super) storage: ObjectStorage,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) metrics: Arc<ScanMetrics>,
}

impl ChunkSource {
    /// [`SstCache::fetch_chunks`], counting the bytes fetched into the scan's metrics.
    pub(super) async fn fetch(
        &self,
        sst: &CachedSst,
        chunks: &[(usize, usize)],
    ) -> Result<CachedSst> {
        let (sst, fetched) = self.cache.fetch_chunks(&self.storage, sst, chunks).await?;
        if fetched > 0 {
            ScanMetrics::add(&self.metrics.bytes_fetched, fetched);
        }
        Ok(sst)
    }
}

/// Where a [`PendingSst`] is.
pub(super) enum PendingState {
    Planned(SstReadPlan),
    Open(SstReader),
    Done,
}

/// An SST read planned but not yet opened: its chunks come from the scan's prefetch
/// (`ReadPlan::prefetch`), or are fetched at the first batch if that did not cover it.
pub(super) struct PendingSst {
    pub(super) state: PendingState,
    pub(super) fetch: Arc<ChunkFetch>,
    pub(super) source: ChunkSource,
}

impl PendingSst {
    fn open(&mut self, plan: SstReadPlan) -> Result<SstReader> {
        let prefetched = lock(&self.fetch.fetched).take();
        let sst = match prefetched {
            Some(result) => result?,
            None => self
                .source
                .runtime
                .block_on(self.source.fetch(&self.fetch.sst, &self.fetch.chunks))?,
        };
        Ok(plan
            .open(sst.data, READ_BATCH_ROWS)?
            .with_scan_metrics(self.source.metrics.clone()))
    }
}

impl Iterator for PendingSst {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match std::mem::replace(&mut self.state, PendingState::Done) {
                PendingState::Planned(plan) => match self.open(plan) {
                    Ok(reader) => self.state = PendingState::Open(reader),
                    Err(e) => return Some(Err(e)),
                },
                PendingState::Open(mut reader) => {
                    let batch = reader.next();
                    if batch.is_some() {
                        self.state = PendingState::Open(reader);
                    }
                    return batch;
                }
                PendingState::Done => return None,
            }
        }
    }
}
