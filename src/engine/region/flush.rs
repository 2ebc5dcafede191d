//! Flush: frozen memtables → level-0 SSTs, one per time window → manifest edit → version →
//! WAL obsoletion (mito2's `flush.rs`; the order is RELIABILITY.md rule 2).
//!
//! The frozen memtables are merged into one sorted stream and cut at the region's time
//! window boundaries (`compaction::split`; mito2 gets the same from its time-partitioned
//! memtables, `memtable/time_partition.rs`), so no flushed SST straddles a window and
//! compaction can keep the files of different windows disjoint. The window is the
//! manifest's `compaction_time_window`; the first flush of a region without one infers it
//! from the data's span (`compaction::window::infer_window`) and records it in its edit.

use std::sync::Arc;

use crate::engine::compaction::region_window;
use crate::engine::compaction::split::encode_by_window;
use crate::engine::compaction::window::units_per_second;
use crate::engine::error::{Error, Result};
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::region::Region;
use crate::engine::sst::file::FileHandle;
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::writer::store_sst;

impl Region {
    /// Writes the frozen memtables as level-0 SSTs, one per time window their rows fall in,
    /// records them all in one manifest edit, then
    /// installs the new version and drops WAL segments the flush made obsolete.
    ///
    /// Runs in a task of its own, so a caller that stops waiting (a cancelled statement)
    /// cannot interrupt it between writing SSTs and recording them in the manifest.
    pub(crate) async fn flush_immutables(self: &Arc<Self>) -> Result<()> {
        let region = self.clone();
        let running = self.options.write_buffer.begin_flush();
        crate::engine::run_to_completion("flush", async move {
            let result = region.flush_immutables_now().await;
            running.finish(&result);
            result
        })
        .await
    }

    async fn flush_immutables_now(self: &Arc<Self>) -> Result<()> {
        let _flush = self.flush_lock.lock().await;
        let version = self.version.current();
        if version.immutables.is_empty() || self.is_closed() {
            return Ok(());
        }
        let metadata = version.metadata.clone();
        let format = Arc::new(ReadFormat::new(metadata.clone(), None));
        let recorded = self.manifest.lock().await.manifest().compaction_time_window;
        let span = version
            .immutables
            .iter()
            .filter_map(|m| m.time_range())
            .chain(version.files.values().map(|f| f.meta().time_range))
            .reduce(|a, b| a.union(&b));
        let unit = units_per_second(metadata.time_index_column().data_type);
        let (window, inferred) = region_window(recorded, span, unit);
        let memtables = version.immutables.clone();
        let dedup = version.options.dedup_mode();
        let flushed = memtables.clone();
        let flushed_ids: Vec<_> = memtables.iter().map(|m| m.id()).collect();
        let flushed_sequence = memtables
            .iter()
            .map(|m| m.max_sequence())
            .fold(version.flushed_sequence, u64::max);
        // All frozen memtables merge into one stream (the newest version of each row wins,
        // tombstones are kept: they hide rows in older files), cut into one SST per window.
        let encoded = tokio::task::spawn_blocking(move || {
            encode_by_window(&format, window, 0, |range| {
                let sources: Vec<BatchSource> = memtables
                    .iter()
                    .map(|m| {
                        Box::new(m.iter(format.clone(), range, READ_BATCH_ROWS)) as BatchSource
                    })
                    .collect();
                Ok(Box::new(
                    MergeReader::new(format.clone(), sources, range, false, READ_BATCH_ROWS)?
                        .with_dedup(dedup),
                ) as BatchSource)
            })
        })
        .await
        .map_err(|e| Error::WorkerStopped(format!("flush task: {e}")))??;
        let mut files = Vec::with_capacity(encoded.len());
        for sst in encoded {
            files.push(store_sst(&self.storage, &metadata, sst).await?);
        }
        let edit = RegionEdit {
            files_to_add: files.clone(),
            files_to_remove: Vec::new(),
            flushed_sequence: Some(flushed_sequence),
            compaction_time_window: inferred.then_some(window),
            committed_sequence: Some(self.durable_sequence()),
        };
        self.manifest
            .lock()
            .await
            .update(vec![ManifestAction::Edit(edit)])
            .await?;
        let handles = files
            .into_iter()
            .map(|meta| FileHandle::new(meta, self.region_id, self.storage.clone()))
            .collect();
        self.version
            .apply_flush(&flushed_ids, handles, flushed_sequence);
        // Their rows are in SSTs now: the write buffer takes their bytes back (a scan still
        // reading them keeps them alive until it ends) and stalled writes wake.
        for memtable in &flushed {
            memtable.on_flushed();
        }
        // Deleting segments and fsyncing the directory block: keep them off the runtime.
        let region = self.clone();
        match tokio::task::spawn_blocking(move || region.wal.obsolete(flushed_sequence)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!(
                "region {}: could not remove obsolete WAL segments: {e}",
                self.region_id
            ),
            Err(e) => log::warn!("region {}: WAL obsoletion task failed: {e}", self.region_id),
        }
        log::debug!(
            "region {} flushed up to sequence {flushed_sequence}",
            self.region_id
        );
        // Runs after this flush releases the flush lock.
        let region = self.clone();
        tokio::spawn(async move {
            match crate::engine::compaction::maybe_compact_region(&region).await {
                Ok(()) | Err(Error::ShuttingDown(_)) => {}
                Err(e) => log::error!("compaction of region {} failed: {e}", region.region_id),
            }
        });
        Ok(())
    }
}
