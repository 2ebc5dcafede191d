//! Compaction: runs the [`twcs::TwcsPicker`]'s tasks — merge the input SSTs through the
//! read path's merge/dedup, write one level-1 SST per task, swap them in with one manifest
//! edit, and delete the inputs once no reader holds them.

pub mod twcs;

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::error::{Error, Result};
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::metadata::ColumnDataType;
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::region::Region;
use crate::engine::sst::file::{FileHandle, FileMeta};
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::reader::{SstReader, fetch_sst};
use crate::engine::sst::sst_path;
use crate::engine::sst::writer::{encode_sst, store_sst};
use crate::engine::time_range::TimeRange;
use twcs::{CompactionTask, TwcsPicker};

/// Time index units per second.
fn units_per_second(data_type: ColumnDataType) -> i64 {
    match data_type {
        ColumnDataType::TimestampSecond => 1,
        ColumnDataType::TimestampMicrosecond => 1_000_000,
        ColumnDataType::TimestampNanosecond => 1_000_000_000,
        _ => 1000,
    }
}

/// Compacts `region` (manual compaction: every window with two or more files is merged).
///
/// # Errors
/// Storage, SST or manifest errors; the input files stay in place then.
pub async fn compact_region(region: &Arc<Region>) -> Result<()> {
    run(region, true).await
}

/// Compacts `region` if the picker finds work without forcing (after a flush).
///
/// # Errors
/// As [`compact_region`].
pub async fn maybe_compact_region(region: &Arc<Region>) -> Result<()> {
    run(region, false).await
}

/// Runs the compaction in a task of its own: a caller that stops waiting (a cancelled
/// statement) cannot interrupt it between writing SSTs and recording them in the manifest.
async fn run(region: &Arc<Region>, force: bool) -> Result<()> {
    let region = region.clone();
    crate::engine::run_to_completion("compaction", async move { compact(&region, force).await })
        .await
}

async fn compact(region: &Arc<Region>, force: bool) -> Result<()> {
    let _flush = region.flush_lock.lock().await;
    if region.is_closed() {
        return Ok(());
    }
    let version = region.version.current();
    let metadata = version.metadata.clone();
    let files: Vec<FileMeta> = version.files.values().map(|f| f.meta().clone()).collect();
    let configured = region
        .manifest
        .lock()
        .await
        .manifest()
        .compaction_time_window;
    let unit = units_per_second(metadata.time_index_column().data_type);
    let window = TwcsPicker::window_size(configured, &files, unit);
    let tasks = TwcsPicker::default().pick(&files, window, force);
    if tasks.is_empty() {
        return Ok(());
    }
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for task in tasks {
        let drop_tombstones = covers_all_overlapping(&task, &files);
        let mut sources: Vec<BatchSource> = Vec::new();
        for input in &task.inputs {
            let bytes = fetch_sst(&region.storage, region.region_id, input).await?;
            let path = sst_path(region.region_id, input.file_id).to_string();
            sources.push(Box::new(SstReader::open(
                path,
                bytes,
                format.clone(),
                TimeRange::all(),
                READ_BATCH_ROWS,
            )?));
        }
        let task_format = format.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let merged = MergeReader::new(
                task_format.clone(),
                sources,
                TimeRange::all(),
                drop_tombstones,
                READ_BATCH_ROWS,
            )?;
            encode_sst(&task_format, merged, 1)
        })
        .await
        .map_err(|e| Error::WorkerStopped(format!("compaction task: {e}")))??;
        if let Some(encoded) = encoded {
            added.push(store_sst(&region.storage, &metadata, encoded).await?);
        }
        removed.extend(task.inputs);
    }
    let edit = RegionEdit {
        files_to_add: added.clone(),
        files_to_remove: removed.clone(),
        flushed_sequence: None,
        compaction_time_window: Some(window),
    };
    region
        .manifest
        .lock()
        .await
        .update(vec![ManifestAction::Edit(edit)])
        .await?;
    let removed_ids: Vec<_> = removed.iter().map(|f| f.file_id).collect();
    for id in &removed_ids {
        if let Some(handle) = version.files.get(id) {
            handle.mark_deleted();
        }
    }
    let handles = added
        .into_iter()
        .map(|meta| FileHandle::new(meta, region.region_id, region.storage.clone()))
        .collect();
    region.version.apply_compaction(&removed_ids, handles);
    log::debug!(
        "region {}: compacted {} files",
        region.region_id,
        removed_ids.len()
    );
    Ok(())
}

/// Tombstones may be dropped only if every file overlapping the task's time range is an
/// input: otherwise a tombstone may still hide an older row in a file left out.
fn covers_all_overlapping(task: &CompactionTask, files: &[FileMeta]) -> bool {
    let Some(range) = task
        .inputs
        .iter()
        .map(|f| f.time_range)
        .reduce(|a, b| a.union(&b))
    else {
        return false;
    };
    let inputs: HashSet<_> = task.inputs.iter().map(|f| f.file_id).collect();
    files
        .iter()
        .filter(|f| f.time_range.overlaps(&range))
        .all(|f| inputs.contains(&f.file_id))
}
