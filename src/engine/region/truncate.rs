//! `TRUNCATE TABLE` (mito2's `worker/handle_truncate.rs`) and changes of the table options
//! (`ALTER TABLE ... SET/UNSET`, mito2's `handle_alter_region_options`).
//!
//! Truncation removes every row written so far, durably:
//! 1. under `writer` and the `insert_gate` write guard (no write is between sequence
//!    assignment and memtable insert), the truncated sequence is the last one assigned;
//! 2. under `flush_lock` (no flush or compaction runs) and `manifest`: one `RegionEdit`
//!    removing every SST and raising `flushed_sequence` to the truncated sequence. mito2
//!    writes a `Truncate` action carrying `truncated_sequence`; an `Edit` states the same
//!    with the manifest format older builds read (FORMAT.md "Manifest");
//! 3. the version swaps to no files and a fresh, empty memtable (the old memtables' bytes
//!    leave the write buffer), the SSTs are marked deleted (removed when the last scan
//!    holding them ends);
//! 4. the WAL rolls to a new segment and every segment at or below the truncated sequence
//!    is deleted. A crash after step 2 replays nothing of them anyway: replay starts after
//!    the manifest's `flushed_sequence`.

use std::sync::Arc;

use crate::engine::error::Result;
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::memtable::Memtable;
use crate::engine::metadata::SequenceNumber;
use crate::engine::options::{TableOptions, TableOptionsRef};
use crate::engine::region::Region;

impl Region {
    /// Removes every row of the region durably (see the module docs). Returns the
    /// truncated sequence: every write at or below it is gone.
    ///
    /// # Errors
    /// Manifest errors (nothing changed then), WAL errors rolling the log (the rows are
    /// gone already; the segments are deleted by the next flush's obsoletion).
    pub async fn truncate(self: &Arc<Self>) -> Result<SequenceNumber> {
        let region = self.clone();
        crate::engine::run_to_completion("truncate", async move { region.truncate_now().await })
            .await
    }

    async fn truncate_now(self: &Arc<Self>) -> Result<SequenceNumber> {
        let mut writer = self.writer.lock().await;
        let _no_writes_in_flight = self.insert_gate.write().await;
        let _flush = self.flush_lock.lock().await;
        let truncated = writer.next_sequence.saturating_sub(1);
        let version = self.version.current();
        let edit = RegionEdit {
            files_to_add: Vec::new(),
            files_to_remove: version.files.values().map(|f| f.meta().clone()).collect(),
            flushed_sequence: Some(truncated),
            compaction_time_window: None,
            committed_sequence: None,
        };
        self.manifest
            .lock()
            .await
            .update(vec![ManifestAction::Edit(edit)])
            .await?;
        let id = writer.next_memtable_id;
        writer.next_memtable_id += 1;
        let fresh = Arc::new(Memtable::new_tracked(
            id,
            version.metadata.clone(),
            Some(self.options.write_buffer.clone()),
        ));
        self.version.apply(|v| {
            let mut next = v.clone();
            next.mutable = fresh;
            next.immutables.clear();
            next.files.clear();
            next.flushed_sequence = next.flushed_sequence.max(truncated);
            next
        });
        for file in version.files.values() {
            file.mark_deleted();
        }
        version.mutable.on_freeze();
        version.mutable.on_flushed();
        for memtable in &version.immutables {
            memtable.on_flushed();
        }
        self.wal.roll().await?;
        let region = self.clone();
        match tokio::task::spawn_blocking(move || region.wal.obsolete(truncated)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!(
                "region {}: could not remove truncated WAL segments: {e}",
                self.region_id
            ),
            Err(e) => log::warn!("region {}: WAL obsoletion task failed: {e}", self.region_id),
        }
        log::info!(
            "region {} truncated up to sequence {truncated}",
            self.region_id
        );
        Ok(truncated)
    }

    /// The table options in effect.
    pub fn table_options(&self) -> TableOptionsRef {
        self.version.current().options.clone()
    }

    /// Replaces the table options (ALTER TABLE ... SET / UNSET). Takes effect for scans,
    /// flushes and compactions that start afterwards; the caller persists them (catalog).
    /// Under `flush_lock`, so no flush or compaction is half-way under the old ones.
    pub async fn set_table_options(&self, options: TableOptions) {
        let _flush = self.flush_lock.lock().await;
        let options = Arc::new(options);
        self.version.apply(|v| {
            let mut next = v.clone();
            next.options = options;
            next
        });
    }

    /// The smallest time index value not expired under the region's TTL now (see
    /// [`TableOptions::expire_before`]); `None` when nothing expires.
    pub(crate) fn expire_before(&self, options: &TableOptions) -> Option<i64> {
        let unit = crate::engine::compaction::window::units_per_second(
            self.metadata().time_index_column().data_type,
        );
        options.expire_before(self.options.clock.now_ms(), unit)
    }
}
