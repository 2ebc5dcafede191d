//! Flush: frozen memtables → level-0 SSTs → manifest edit → version → WAL obsoletion
//! (mito2's `flush.rs`; the order is RELIABILITY.md rule 2).

use std::sync::Arc;

use crate::engine::error::{Error, Result};
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::region::Region;
use crate::engine::sst::file::FileHandle;
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::writer::{encode_sst, store_sst};
use crate::engine::time_range::TimeRange;

impl Region {
    /// Writes every frozen memtable to an SST, records them in one manifest edit, then
    /// installs the new version and drops WAL segments the flush made obsolete.
    ///
    /// Runs in a task of its own, so a caller that stops waiting (a cancelled statement)
    /// cannot interrupt it between writing SSTs and recording them in the manifest.
    pub(crate) async fn flush_immutables(self: &Arc<Self>) -> Result<()> {
        let region = self.clone();
        crate::engine::run_to_completion(
            "flush",
            async move { region.flush_immutables_now().await },
        )
        .await
    }

    async fn flush_immutables_now(self: &Arc<Self>) -> Result<()> {
        let _flush = self.flush_lock.lock().await;
        let version = self.version.current();
        if version.immutables.is_empty() || self.is_closed() {
            return Ok(());
        }
        let format = Arc::new(ReadFormat::new(version.metadata.clone(), None));
        let mut files = Vec::new();
        let mut flushed_ids = Vec::new();
        let mut flushed_sequence = version.flushed_sequence;
        for memtable in &version.immutables {
            let source: BatchSource =
                Box::new(memtable.iter(format.clone(), TimeRange::all(), READ_BATCH_ROWS));
            let format = format.clone();
            // Dedup inside the memtable but keep tombstones: they hide rows in older files.
            let encoded = tokio::task::spawn_blocking(move || {
                let merged = MergeReader::new(
                    format.clone(),
                    vec![source],
                    TimeRange::all(),
                    false,
                    READ_BATCH_ROWS,
                )?;
                encode_sst(&format, merged, 0)
            })
            .await
            .map_err(|e| Error::WorkerStopped(format!("flush task: {e}")))??;
            if let Some(encoded) = encoded {
                files.push(store_sst(&self.storage, &version.metadata, encoded).await?);
            }
            flushed_ids.push(memtable.id());
            flushed_sequence = flushed_sequence.max(memtable.max_sequence());
        }
        let edit = RegionEdit {
            files_to_add: files.clone(),
            files_to_remove: Vec::new(),
            flushed_sequence: Some(flushed_sequence),
            compaction_time_window: None,
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
