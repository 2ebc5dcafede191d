//! Scans: memtables and SSTs overlapping the requested time range, merged and
//! deduplicated, projected, streamed in batches (mito2's `SeqScan`).

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use futures::StreamExt;

use crate::engine::error::{Error, Result};
use crate::engine::read::ReadFormat;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::region::{RecordBatchStream, Region, ScanRequest};
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::reader::{SstReader, fetch_sst};
use crate::engine::sst::sst_path;
use crate::engine::time_range::TimeRange;

/// Batches in flight between the scan thread and the consumer.
const CHANNEL_BATCHES: usize = 4;

impl Region {
    /// An upper bound on the rows a scan of `time_range` reads from the current version
    /// (memtables whose time range overlaps it, plus SSTs whose time range overlaps it),
    /// before deduplication. Cheap (metadata only); used for progress and planner statistics.
    pub fn estimated_rows(&self, time_range: TimeRange) -> u64 {
        let version = self.version.current();
        let memtables = std::iter::once(&version.mutable)
            .chain(version.immutables.iter())
            .filter(|m| m.time_range().is_some_and(|r| r.overlaps(&time_range)))
            .map(|m| m.num_rows() as u64);
        let files = version
            .files
            .values()
            .filter(|f| f.meta().time_range.overlaps(&time_range))
            .map(|f| f.meta().num_rows);
        memtables.chain(files).sum()
    }

    /// Scans the region: rows sorted by `(tags, ts)`, the newest version of each row, no
    /// deleted rows, only `request.projection` columns. Files and row groups outside the
    /// time range are not read. Work happens on a blocking thread; dropping the stream
    /// cancels it.
    ///
    /// # Errors
    /// The stream yields SST errors (missing file, checksum mismatch) naming the file.
    pub fn scan(self: &Arc<Self>, request: ScanRequest) -> Result<(SchemaRef, RecordBatchStream)> {
        let version = self.version.current();
        let metadata = version.metadata.clone();
        let user_schema = metadata.arrow_schema();
        let projection: Vec<usize> = match &request.projection {
            Some(p) => p.clone(),
            None => (0..metadata.columns.len()).collect(),
        };
        let output_schema =
            Arc::new(
                user_schema
                    .project(&projection)
                    .map_err(|source| Error::Arrow {
                        context: "projecting the scan schema".to_string(),
                        source,
                    })?,
            );
        let format = Arc::new(ReadFormat::new(metadata.clone(), Some(&projection)));
        let positions: Vec<usize> = projection
            .iter()
            .filter_map(|&c| format.position_of(c))
            .collect();
        let time_range = request.time_range;
        let files: Vec<_> = version
            .files
            .values()
            .filter(|f| f.meta().time_range.overlaps(&time_range))
            .cloned()
            .collect();
        let storage = self.storage.clone();
        let region_id = self.region_id;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(CHANNEL_BATCHES);
        let schema = output_schema.clone();
        tokio::spawn(async move {
            let mut ssts = Vec::with_capacity(files.len());
            for file in &files {
                match fetch_sst(&storage, region_id, file.meta()).await {
                    Ok(bytes) => ssts.push((sst_path(region_id, file.meta().file_id), bytes)),
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            let task = tokio::task::spawn_blocking(move || {
                // `version` keeps memtables and SST handles alive until the scan ends.
                let mut sources: Vec<BatchSource> = Vec::new();
                for memtable in std::iter::once(&version.mutable).chain(&version.immutables) {
                    if memtable
                        .time_range()
                        .is_some_and(|r| r.overlaps(&time_range))
                    {
                        sources.push(Box::new(memtable.iter(
                            format.clone(),
                            time_range,
                            READ_BATCH_ROWS,
                        )));
                    }
                }
                for (path, bytes) in ssts {
                    match SstReader::open(
                        path.to_string(),
                        bytes,
                        format.clone(),
                        time_range,
                        READ_BATCH_ROWS,
                    ) {
                        Ok(reader) => sources.push(Box::new(reader)),
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    }
                }
                let merged =
                    match MergeReader::new(format, sources, time_range, true, READ_BATCH_ROWS) {
                        Ok(merged) => merged,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    };
                let mut remaining = request.limit.unwrap_or(usize::MAX);
                for batch in merged {
                    if remaining == 0 {
                        break;
                    }
                    let item = batch.and_then(|b| {
                        let columns = positions.iter().map(|&p| b.column(p).clone()).collect();
                        // Explicit row count: `count(*)` projects no column at all.
                        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                        RecordBatch::try_new_with_options(schema.clone(), columns, &options)
                            .map_err(|source| Error::Arrow {
                                context: "scan output schema".to_string(),
                                source,
                            })
                    });
                    let failed = item.is_err();
                    if let Ok(b) = &item {
                        remaining = remaining.saturating_sub(b.num_rows());
                    }
                    // A closed channel means the consumer is gone: stop reading.
                    if tx.blocking_send(item).is_err() || failed {
                        break;
                    }
                }
            });
            let _ = task.await;
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed();
        Ok((output_schema, stream))
    }
}
