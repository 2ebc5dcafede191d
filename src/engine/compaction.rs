//! Compaction: runs the [`twcs::TwcsPicker`]'s tasks — merge the input SSTs through the
//! read path's merge/dedup, write one level-1 SST per time window the merged rows fall in
//! ([`split`]), swap them in with one manifest edit, and delete the inputs once no reader
//! holds them (`FileHandle::mark_deleted` after the edit is durable). With a TTL, SSTs whose
//! rows have all expired are dropped first, and a merge leaves expired rows out.
//!
//! The window size is the manifest's `compaction_time_window` (chosen by the first flush),
//! else inferred from the files ([`window::infer_window`]) and recorded by the edit.

pub mod split;
pub mod twcs;
pub mod window;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::error::{Error, Result};
use crate::engine::manifest::{ManifestAction, RegionEdit};
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::region::Region;
use crate::engine::sst::file::{FileHandle, FileMeta};
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::ranged::SstData;
use crate::engine::sst::reader::{SstReader, fetch_sst, load_metadata};
use crate::engine::sst::sst_path;
use crate::engine::sst::writer::store_sst;
use crate::engine::time_range::TimeRange;
use twcs::{CompactionTask, TwcsPicker};

/// A manual compaction repeats the pick until nothing is left to do, at most this many
/// times (more than one round only when a window holds over `MAX_INPUT_FILES` files).
const MAX_FORCED_ROUNDS: usize = 8;

/// Compacts `region` (manual compaction: every window with two or more files is merged, and
/// files straddling a window boundary are cut), repeating until the picker finds nothing.
///
/// # Errors
/// Storage, SST or manifest errors; the input files stay in place then.
pub async fn compact_region(region: &Arc<Region>) -> Result<()> {
    run(region, true).await
}

/// Compacts `region` once if the picker finds work without forcing (after a flush).
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
    crate::engine::run_to_completion("compaction", async move {
        let _flush = region.flush_lock.lock().await;
        remove_expired(&region).await?;
        let rounds = if force { MAX_FORCED_ROUNDS } else { 1 };
        for _ in 0..rounds {
            if !compact_once(&region, force).await? {
                break;
            }
        }
        Ok(())
    })
    .await
}

/// The region's time window (time index unit): `recorded` (the manifest's) if set, else
/// inferred from `span`, the time range of the data seen so far (flush: frozen memtables and
/// SSTs; compaction: SSTs). Returns the window and whether it was newly inferred.
pub(crate) fn region_window(
    recorded: Option<i64>,
    span: Option<TimeRange>,
    units_per_second: i64,
) -> (i64, bool) {
    match recorded.filter(|w| *w > 0) {
        Some(window) => (window, false),
        None => (
            window::infer_window(span.unwrap_or(TimeRange::new(0, 0)), units_per_second),
            true,
        ),
    }
}

/// TTL: removes every SST whose rows have all expired (its largest timestamp is below
/// `now - ttl`) with one manifest edit, before any merge (mito2's
/// `compaction::get_expired_ssts`). Under the flush lock. Returns how many files went.
///
/// # Errors
/// Manifest errors; the files stay then (their rows are invisible to scans anyway).
pub(crate) async fn remove_expired(region: &Arc<Region>) -> Result<usize> {
    if region.is_closed() {
        return Ok(0);
    }
    let version = region.version.current();
    let Some(cut) = region.expire_before(&version.options) else {
        return Ok(0);
    };
    let expired: Vec<FileMeta> = version
        .files
        .values()
        .map(|f| f.meta().clone())
        .filter(|f| cut == i64::MAX || f.time_range.max < cut)
        .collect();
    if expired.is_empty() {
        return Ok(0);
    }
    install(region, &version, Vec::new(), &expired, None).await?;
    log::info!(
        "region {}: removed {} SSTs past the TTL",
        region.region_id,
        expired.len()
    );
    Ok(expired.len())
}

/// One pick and its tasks, under the flush lock. Returns whether anything was compacted.
async fn compact_once(region: &Arc<Region>, force: bool) -> Result<bool> {
    if region.is_closed() {
        return Ok(false);
    }
    let version = region.version.current();
    let metadata = version.metadata.clone();
    let files: Vec<FileMeta> = version.files.values().map(|f| f.meta().clone()).collect();
    let recorded = region
        .manifest
        .lock()
        .await
        .manifest()
        .compaction_time_window;
    let span = files
        .iter()
        .map(|f| f.time_range)
        .reduce(|a, b| a.union(&b));
    let unit = window::units_per_second(metadata.time_index_column().data_type);
    let (window, _) = region_window(recorded, span, unit);
    let tasks = TwcsPicker::default().pick(&files, window, force);
    if tasks.is_empty() {
        return Ok(false);
    }
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for task in tasks {
        let drop_tombstones = covers_all_overlapping(&task, &files);
        let mut inputs = Vec::with_capacity(task.inputs.len());
        for input in &task.inputs {
            let bytes = fetch_sst(&region.storage, region.region_id, input).await?;
            let path = sst_path(region.region_id, input.file_id).to_string();
            // Parsed once: the window passes below each open every input again. Inputs are
            // not put in the SST cache, which they would only fill before being deleted.
            let metadata = load_metadata(&path, &bytes)?;
            inputs.push((path, bytes, metadata));
        }
        let task_format = format.clone();
        let dedup = version.options.dedup_mode();
        // TTL: rows below the cut are invisible to every read already; the merge leaves them
        // out of its outputs too, so a window's merged file no longer stores them. (Tombstones
        // below the cut go with them: the rows they hide share their timestamp.)
        let expire_before = region.expire_before(&version.options);
        let encoded = tokio::task::spawn_blocking(move || {
            split::encode_by_window(&task_format, window, 1, |range| {
                let range = unexpired(range, expire_before);
                let mut sources: Vec<BatchSource> = Vec::with_capacity(inputs.len());
                for (path, bytes, metadata) in &inputs {
                    sources.push(Box::new(SstReader::open_with_metadata(
                        path.clone(),
                        SstData::whole(bytes.clone()),
                        metadata.clone(),
                        task_format.clone(),
                        range,
                        &[],
                        READ_BATCH_ROWS,
                    )?));
                }
                Ok(Box::new(
                    MergeReader::new(
                        task_format.clone(),
                        sources,
                        range,
                        drop_tombstones,
                        READ_BATCH_ROWS,
                    )?
                    .with_dedup(dedup),
                ) as BatchSource)
            })
        })
        .await
        .map_err(|e| Error::WorkerStopped(format!("compaction task: {e}")))??;
        for sst in encoded {
            added.push(store_sst(&region.storage, &metadata, sst).await?);
        }
        removed.extend(task.inputs);
    }
    let outputs = added.len();
    install(region, &version, added, &removed, Some(window)).await?;
    log::debug!(
        "region {}: compacted {} files into {outputs} (window {window})",
        region.region_id,
        removed.len(),
    );
    Ok(true)
}

/// The one install path of compaction and TTL expiry: one manifest edit adding `added` and
/// removing `removed` (and recording `window` if given), then the removed SSTs are marked
/// for deletion (their files go once no scan reads them) and the version swaps them.
///
/// # Errors
/// Manifest errors; nothing changed then.
async fn install(
    region: &Arc<Region>,
    version: &crate::engine::region::version::Version,
    added: Vec<FileMeta>,
    removed: &[FileMeta],
    window: Option<i64>,
) -> Result<()> {
    let edit = RegionEdit {
        files_to_add: added.clone(),
        files_to_remove: removed.to_vec(),
        compaction_time_window: window,
        ..RegionEdit::default()
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
    Ok(())
}

/// The part of `range` at or above `expire_before` (the TTL cut, time index unit; `None`: no
/// TTL); empty if the whole range has expired (`Some(i64::MAX)`: `ttl = 'instant'`).
pub(crate) fn unexpired(range: TimeRange, expire_before: Option<i64>) -> TimeRange {
    match expire_before {
        Some(i64::MAX) => TimeRange::new(i64::MAX, i64::MIN),
        Some(cut) => TimeRange::new(range.min.max(cut), range.max),
        None => range,
    }
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
