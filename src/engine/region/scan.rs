//! Scans: memtables and SSTs overlapping the requested time range, merged and
//! deduplicated, projected, streamed in batches (mito2's `SeqScan`).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::cmp::gt_eq;
use arrow::compute::kernels::partition::partition;
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use futures::{StreamExt, TryStreamExt};

use crate::engine::cache::{CachedSst, SstCache};
use crate::engine::error::{Error, Result};
use crate::engine::io::ObjectStorage;
use crate::engine::memtable::MemtableRef;
use crate::engine::metadata::{OpType, SequenceNumber};
use crate::engine::options::DedupMode;
use crate::engine::read::OP_TYPE_COLUMN;
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::read::unique::UniqueSource;
use crate::engine::read::{ReadFormat, compat};
use crate::engine::region::scan_metrics::ScanMetrics;
use crate::engine::region::{
    FieldFilter, RecordBatchStream, Region, ScanRequest, SeriesRowSelector, Stripe, TagFilter,
};
use crate::engine::sst::file::FileMeta;
use crate::engine::sst::format::READ_BATCH_ROWS;
use crate::engine::sst::last_row::read_last_rows;
use crate::engine::sst::ranged::chunk_range;
use crate::engine::sst::reader::SstReadPlan;
use fetch::{ChunkFetch, ChunkSource, PendingSst, PendingState, lock};

mod fetch;
use crate::engine::time_range::TimeRange;
use parquet::file::statistics::Statistics;

/// Batches in flight between the scan thread and the consumer.
const CHANNEL_BATCHES: usize = 4;
/// SSTs of one scan fetched (read, checksummed, footer parsed) at the same time.
const FETCH_CONCURRENCY: usize = 8;
/// At most this many bytes of column chunks are fetched ahead of reading (64 MiB).
const PREFETCH_BYTES: u64 = 64 << 20;

impl Region {
    /// Scans the region: the newest version of each row, no deleted rows, only
    /// `request.projection` columns. Rows come in runs of sources with overlapping time ranges,
    /// in time order, each run sorted by `(tags, ts)` (no global order is promised). Files and
    /// row groups and pages outside the time range, or ruled out by `request.tag_filters`, are
    /// not decoded. SSTs are read through the engine's [`crate::engine::cache::SstCache`],
    /// up to `FETCH_CONCURRENCY` (8) at a time.
    /// Work happens on a blocking thread; dropping the stream cancels it.
    ///
    /// # Errors
    /// The stream yields SST errors (missing file, checksum mismatch) naming the file.
    pub fn scan(self: &Arc<Self>, request: ScanRequest) -> Result<(SchemaRef, RecordBatchStream)> {
        // The snapshot: the committed sequence first, then the version, so every row at or
        // below it is in this version's memtables or files, and rows above it (writes still
        // being inserted, maybe half) are skipped in the memtables. SSTs hold only whole writes.
        let snapshot = request.snapshot.clone().unwrap_or_else(|| self.snapshot());
        let committed = snapshot.committed;
        let version = snapshot.version.clone();
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
        // The columns read: the projection plus the fields filtered on (dropped at output).
        let filter_columns: Vec<(usize, FieldFilter)> = request
            .field_filters
            .iter()
            .filter_map(|f| Some((metadata.column_index(&f.column)?, f.clone())))
            .collect();
        let mut read_projection = projection.clone();
        for (index, _) in &filter_columns {
            if !read_projection.contains(index) {
                read_projection.push(*index);
            }
        }
        let format = Arc::new(ReadFormat::new(metadata.clone(), Some(&read_projection)));
        // TTL: rows older than `now - ttl` are invisible at once, on every read path (the
        // range bounds file selection, the merge and the unique and last-row reads alike).
        let time_range =
            crate::engine::compaction::unexpired(request.time_range, snapshot.expire_before);
        // `source_range` chooses the memtables and files, `time_range` the rows. A dynamic
        // bound narrows both, except for a stripe: stripes number the runs of the sources, so
        // they must all choose them by the same range.
        let (source_range, time_range) = match (request.dynamic_range, request.stripe) {
            (None, _) => (time_range, time_range),
            (Some(dynamic), None) => {
                let narrowed = time_range.intersect(&dynamic);
                (narrowed, narrowed)
            }
            (Some(dynamic), Some(_)) => (time_range, time_range.intersect(&dynamic)),
        };
        if time_range.is_empty() {
            return Ok((output_schema, futures::stream::empty().boxed()));
        }
        let dedup = version.options.dedup_mode();
        let files: Vec<_> = version
            .files
            .values()
            .filter(|f| f.meta().time_range.overlaps(&source_range))
            .cloned()
            .collect();
        let stripe = request.stripe;
        let memtable_ranges = snapshot.memtable_ranges.clone();
        let storage = self.storage.clone();
        let chunk_storage = self.storage.clone();
        let region_id = self.region_id;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(CHANNEL_BATCHES);
        let schema = output_schema.clone();
        let cache = self.options.sst_cache.clone();
        let fetch_cache = cache.clone();
        let metrics = request.metrics.clone().unwrap_or_default();
        let fetch_metrics = metrics.clone();
        tokio::spawn(async move {
            // Files are fetched (or found in the cache) concurrently, each in a task of its own
            // so checksums and footer parsing use several cores; results stay in file order.
            for file in &files {
                file.attach_cache(&cache);
            }
            let metas: Vec<FileMeta> = files.iter().map(|f| f.meta().clone()).collect();
            let fetched = futures::stream::iter(metas.into_iter().map(move |meta| {
                let (storage, cache) = (storage.clone(), fetch_cache.clone());
                let metrics = fetch_metrics.clone();
                tokio::spawn(async move {
                    let sst = cache.get(&storage, region_id, &meta).await?;
                    ScanMetrics::add(&metrics.files, 1);
                    if sst.fetched_bytes == 0 {
                        ScanMetrics::add(&metrics.cache_hits, 1);
                    } else {
                        ScanMetrics::add(&metrics.cache_misses, 1);
                        ScanMetrics::add(&metrics.bytes_fetched, sst.fetched_bytes);
                    }
                    Ok::<_, Error>((meta.time_range, sst))
                })
            }))
            .buffered(FETCH_CONCURRENCY)
            .map(|joined| match joined {
                Ok(fetched) => fetched,
                Err(e) => Err(Error::WorkerStopped(format!("SST fetch task: {e}"))),
            })
            .try_collect::<Vec<_>>()
            .await;
            let ssts = match fetched {
                Ok(ssts) => ssts,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let panic_tx = tx.clone();
            let runtime = tokio::runtime::Handle::current();
            let task = tokio::task::spawn_blocking(move || {
                // `version` keeps memtables and SST handles alive until the scan ends.
                let mut inputs = Vec::new();
                let memtables = std::iter::once(&version.mutable).chain(&version.immutables);
                for (memtable, range) in memtables.zip(&memtable_ranges) {
                    if let Some(range) = *range
                        && range.overlaps(&source_range)
                    {
                        inputs.push(ScanInput {
                            range,
                            data: InputData::Memtable(memtable.clone()),
                        });
                    }
                }
                for (range, sst) in ssts {
                    inputs.push(ScanInput {
                        range,
                        data: InputData::Sst(sst),
                    });
                }
                let plan = ReadPlan {
                    merge_format: format,
                    unique_format: Arc::new(ReadFormat::without_unprojected_tags(
                        metadata.clone(),
                        &read_projection,
                    )),
                    projection,
                    schema: schema.clone(),
                    time_range,
                    tag_filters: request.tag_filters,
                    field_filters: request.field_filters,
                    filter_columns,
                    committed,
                    dedup,
                    stripe,
                    selector: request.series_row_selector,
                    cache,
                    storage: chunk_storage,
                    runtime,
                    pending: std::sync::Mutex::new(Vec::new()),
                    metrics,
                };
                let merged = match plan.read(inputs) {
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
                    let item = batch;
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
            // A panic in the reader must not end the stream as if the scan were complete.
            if let Err(e) = task.await {
                let _ = panic_tx
                    .send(Err(Error::WorkerStopped(format!("scan task failed: {e}"))))
                    .await;
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed();
        Ok((output_schema, stream))
    }
}

/// One source of a scan, not yet opened, and the time range its rows lie in.
struct ScanInput {
    range: TimeRange,
    data: InputData,
}

enum InputData {
    /// May hold several versions of a row.
    Memtable(MemtableRef),
    /// A verified SST (bytes and parsed metadata): each identity at most once.
    Sst(CachedSst),
}

/// How a scan turns its inputs into output batches.
struct ReadPlan {
    /// All tags, the time index and the projected fields (the merge compares identities).
    merge_format: Arc<ReadFormat>,
    /// Only the projected columns and the time index: for SSTs read without the merge.
    unique_format: Arc<ReadFormat>,
    /// User column indexes of the output, in output order.
    projection: Vec<usize>,
    schema: SchemaRef,
    time_range: TimeRange,
    /// Prune SST row groups by tag statistics (rows are not filtered).
    tag_filters: Vec<TagFilter>,
    /// Drop failing rows while decoding SSTs read without the merge.
    field_filters: Vec<FieldFilter>,
    /// Memtable rows above this sequence are not visible (not yet committed).
    committed: SequenceNumber,
    /// How versions of one identity merge (the table's append and merge modes).
    dedup: DedupMode,
    /// `field_filters` with the index of their column (exact: applied to every output row).
    filter_columns: Vec<(usize, FieldFilter)>,
    /// The share of the runs (and of single-SST runs' row groups) this scan reads.
    stripe: Option<Stripe>,
    /// Rows of each series the scan may leave out.
    selector: Option<SeriesRowSelector>,
    /// Where last-row results of whole files and fetched column chunks are kept.
    cache: Arc<SstCache>,
    /// Where the SSTs are (ranged reads of column chunks).
    storage: ObjectStorage,
    /// The runtime the scan's blocking thread fetches chunks on.
    runtime: tokio::runtime::Handle,
    /// SST reads opened but not yet fetched, for [`ReadPlan::prefetch`].
    pending: std::sync::Mutex<Vec<Arc<ChunkFetch>>>,
    /// What the scan read.
    metrics: Arc<ScanMetrics>,
}

impl ReadPlan {
    /// Groups `inputs` into runs whose time ranges overlap (a sweep over ranges sorted by
    /// start) and reads the groups one after another: a group of one SST passes through
    /// ([`UniqueSource`]) reading only the projected columns, any other group goes through the
    /// k-way merge. Rows of different groups cannot share an identity (their timestamps
    /// differ), so no merge is needed across groups; the output is sorted by `(tags, ts)`
    /// within each group only, which is all the scan promises.
    fn read(self, mut inputs: Vec<ScanInput>) -> Result<BatchSource> {
        inputs.sort_by_key(|input| input.range.min);
        let mut groups: Vec<Vec<ScanInput>> = Vec::new();
        let mut group_max = i64::MIN;
        for input in inputs {
            match groups.last_mut() {
                Some(group) if input.range.min <= group_max => {
                    group_max = group_max.max(input.range.max);
                    group.push(input);
                }
                _ => {
                    group_max = input.range.max;
                    groups.push(vec![input]);
                }
            }
        }
        let plan = Arc::new(self);
        let mut readers: Vec<BatchSource> = Vec::with_capacity(groups.len());
        for (ordinal, mut group) in groups.into_iter().enumerate() {
            let group_range = group
                .iter()
                .map(|input| input.range)
                .reduce(|a, b| a.union(&b));
            if !group_range.is_some_and(|range| range.overlaps(&plan.time_range)) {
                continue;
            }
            // The last-row reader maps columns by name: a file written under an older schema
            // goes through the merge (which reads it by column id) instead.
            let last_row_file = plan.selector == Some(SeriesRowSelector::LastRow);
            let plain_file = match group.as_slice() {
                [
                    ScanInput {
                        data: InputData::Sst(sst),
                        ..
                    },
                ] => {
                    !last_row_file
                        || plan.merge_format.metadata().schema_version == 0
                        || !compat::needs_compat(
                            plan.merge_format.metadata(),
                            compat::file_metadata(&sst.metadata).as_ref(),
                        )
                }
                _ => false,
            };
            let (format, rows): (&Arc<ReadFormat>, BatchSource) = match group.as_mut_slice() {
                [
                    ScanInput {
                        data: InputData::Sst(sst),
                        range,
                    },
                ] if last_row_file && plain_file => {
                    if !plan.takes_whole(ordinal) {
                        continue;
                    }
                    let format = &plan.unique_format;
                    let rows = plan.last_rows_in_range(sst, *range, format)?;
                    (format, Box::new(std::iter::once(Ok(rows))) as BatchSource)
                }
                [
                    ScanInput {
                        data: InputData::Sst(sst),
                        range,
                    },
                ] if plain_file => {
                    let format = &plan.unique_format;
                    // Each row of the file is its identity's only version in this run.
                    let stripe = plan.stripe;
                    let wanted =
                        move |row_group: usize| stripe.is_none_or(|s| s.takes(ordinal + row_group));
                    let may_delete = may_hold_tombstones(sst);
                    let reader =
                        plan.open_sst(sst.clone(), format, &plan.field_filters, &wanted)?;
                    let rows = UniqueSource::new(reader, format, plan.time_range)
                        .knowing(*range, may_delete);
                    (format, Box::new(rows))
                }
                _ => {
                    if !plan.takes_whole(ordinal) {
                        continue;
                    }
                    let format = &plan.merge_format;
                    let mut sources = Vec::with_capacity(group.len());
                    for input in group {
                        sources.push(match input.data {
                            InputData::Memtable(memtable) => Box::new(memtable.iter_at(
                                format.clone(),
                                plan.time_range,
                                READ_BATCH_ROWS,
                                Some(plan.committed),
                            ))
                                as BatchSource,
                            InputData::Sst(sst) => plan.open_sst(sst, format, &[], &|_| true)?,
                        });
                    }
                    let merged = MergeReader::new(
                        format.clone(),
                        sources,
                        plan.time_range,
                        true,
                        READ_BATCH_ROWS,
                    )?
                    .with_dedup(plan.dedup);
                    let rows: BatchSource = match plan.selector {
                        Some(SeriesRowSelector::LastRow) => {
                            let tags = format.key_positions();
                            let tags = tags[..tags.len().saturating_sub(1)].to_vec();
                            Box::new(merged.map(move |batch| {
                                batch.and_then(|b| last_of_each_series(&b, &tags))
                            }))
                        }
                        None => Box::new(merged),
                    };
                    (format, rows)
                }
            };
            let positions: Vec<usize> = plan
                .projection
                .iter()
                .filter_map(|&c| format.position_of(c))
                .collect();
            let schema = plan.schema.clone();
            // Field filters hold exactly on every path: decoding already applied them to a
            // file read without the merge (where the file holds the column as it is now);
            // merged rows, memtable rows and columns filled or cast for older files are
            // filtered here, on the values the query sees.
            let filters: Vec<(usize, FieldFilter)> = plan
                .filter_columns
                .iter()
                .filter_map(|(column, f)| Some((format.position_of(*column)?, f.clone())))
                .collect();
            readers.push(Box::new(rows.map(move |batch| {
                batch
                    .and_then(|b| keep_matching(b, &filters))
                    .and_then(|b| to_output(&b, &positions, &schema))
            })));
        }
        plan.prefetch();
        Ok(Box::new(readers.into_iter().flatten()))
    }

    /// The newest visible row of every series of `sst` (time range `file_range`) inside the
    /// scan's time range. A file's whole answer is cached; for a range that does not cover
    /// the file it still answers when no series' newest row is past the range's end: a newest
    /// row inside the range is the newest there, one before its start means the series has
    /// no row in the range (lastpoint's probe side, narrowed to the newest timestamps by the
    /// join's dynamic filter, is served so). Otherwise the file is read for the range.
    fn last_rows_in_range(
        &self,
        sst: &CachedSst,
        file_range: TimeRange,
        format: &ReadFormat,
    ) -> Result<RecordBatch> {
        let whole = self.cache.last_rows(sst, format, &self.metrics, || {
            self.with_columns(sst, format)
        })?;
        if self.time_range.intersect(&file_range) == file_range {
            return Ok(whole);
        }
        let arrow_error = |source| Error::Arrow {
            context: "filtering cached last rows".to_string(),
            source,
        };
        let ts = arrow::compute::cast(
            whole.column(format.time_index_position()),
            &arrow::datatypes::DataType::Int64,
        )
        .map_err(arrow_error)?;
        let ts = ts.as_primitive::<arrow::datatypes::Int64Type>();
        if arrow::compute::max(ts).is_some_and(|max| max > self.time_range.max) {
            ScanMetrics::add(&self.metrics.last_row_reads, 1);
            return read_last_rows(&self.with_columns(sst, format)?, format, self.time_range);
        }
        let inside =
            gt_eq(ts, &Int64Array::new_scalar(self.time_range.min)).map_err(arrow_error)?;
        filter_record_batch(&whole, &inside).map_err(arrow_error)
    }

    /// Whether this scan reads run `ordinal` when the run is read whole (see [`Stripe`]).
    fn takes_whole(&self, ordinal: usize) -> bool {
        self.stripe.is_none_or(|s| s.takes(ordinal))
    }

    /// A reader of `sst`'s row groups for which `wanted` holds (and that pruning keeps):
    /// the read is planned on the file's metadata, then only the column chunks it decodes
    /// are fetched (format version 2; a version 1 file is held whole).
    fn open_sst(
        &self,
        sst: CachedSst,
        format: &Arc<ReadFormat>,
        field_filters: &[FieldFilter],
        wanted: &dyn Fn(usize) -> bool,
    ) -> Result<BatchSource> {
        let plan = SstReadPlan::new(
            sst.path.clone(),
            sst.metadata.clone(),
            format.clone(),
            self.time_range,
            &self.tag_filters,
            field_filters,
            wanted,
        )?;
        let fetch = Arc::new(ChunkFetch {
            chunks: plan.chunks(),
            sst,
            fetched: std::sync::Mutex::new(None),
        });
        lock(&self.pending).push(fetch.clone());
        Ok(Box::new(PendingSst {
            state: PendingState::Planned(plan),
            fetch,
            source: self.chunk_source(),
        }))
    }

    /// What a [`PendingSst`] fetches its chunks with, if the prefetch has not.
    fn chunk_source(&self) -> ChunkSource {
        ChunkSource {
            cache: self.cache.clone(),
            storage: self.storage.clone(),
            runtime: self.runtime.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// Fetches the column chunks of the SST reads opened so far, up to
    /// [`FETCH_CONCURRENCY`] files at a time, so a scan of many cold files does not fetch
    /// and verify them one after another. Only the first reads' chunks, up to
    /// [`PREFETCH_BYTES`] in all, so a scan of a large table holds a bounded part of it;
    /// later reads fetch their own when they start.
    fn prefetch(&self) {
        let mut pending = std::mem::take(&mut *lock(&self.pending));
        let mut budget = PREFETCH_BYTES;
        let within = pending
            .iter()
            .take_while(|fetch| {
                let metadata = fetch.sst.metadata.metadata();
                let bytes: u64 = fetch
                    .chunks
                    .iter()
                    .filter_map(|&(rg, leaf)| chunk_range(metadata, rg, leaf))
                    .map(|r| r.end - r.start)
                    .sum();
                let fits = bytes <= budget;
                budget = budget.saturating_sub(bytes);
                fits
            })
            .count();
        pending.truncate(within);
        if pending.is_empty() {
            return;
        }
        let source = self.chunk_source();
        self.runtime.block_on(
            futures::stream::iter(pending.into_iter().map(|fetch| {
                let source = source.clone();
                async move {
                    let result = source.fetch(&fetch.sst, &fetch.chunks).await;
                    *lock(&fetch.fetched) = Some(result);
                }
            }))
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect::<()>(),
        );
    }

    /// `sst` holding every row group's chunks of the columns of `format` and of the tags
    /// (by name): what a last-row read may decode (the tags when the file's series runs
    /// must be computed from them).
    fn with_columns(&self, sst: &CachedSst, format: &ReadFormat) -> Result<CachedSst> {
        let metadata = sst.metadata.metadata();
        let schema = metadata.file_metadata().schema_descr();
        let region = format.metadata();
        let leaves: Vec<usize> = (0..schema.num_columns())
            .filter(|&leaf| {
                let root = schema.get_column_root(leaf).name();
                format.schema().fields().iter().any(|f| f.name() == root)
                    || region
                        .primary_key
                        .iter()
                        .any(|&i| region.columns.get(i).is_some_and(|c| c.name == root))
            })
            .collect();
        let chunks: Vec<(usize, usize)> = (0..metadata.num_row_groups())
            .flat_map(|rg| leaves.iter().map(move |&leaf| (rg, leaf)))
            .collect();
        self.fetch_chunks(sst, &chunks)
    }

    /// [`SstCache::fetch_chunks`] from the scan's blocking thread, counting fetched bytes.
    fn fetch_chunks(&self, sst: &CachedSst, chunks: &[(usize, usize)]) -> Result<CachedSst> {
        let source = self.chunk_source();
        self.runtime.block_on(source.fetch(sst, chunks))
    }
}

/// Whether `sst` may hold a tombstone: unless the statistics of its op type column say that
/// every row group holds puts only.
fn may_hold_tombstones(sst: &CachedSst) -> bool {
    let metadata = sst.metadata.metadata();
    let schema = metadata.file_metadata().schema_descr();
    let Some(column) =
        (0..schema.num_columns()).find(|&i| schema.column(i).name() == OP_TYPE_COLUMN)
    else {
        return true;
    };
    let put = OpType::Put as i32;
    !metadata.row_groups().iter().all(|rg| {
        matches!(
            rg.columns().get(column).and_then(|c| c.statistics()),
            Some(Statistics::Int32(s)) if s.min_opt() == Some(&put) && s.max_opt() == Some(&put)
        )
    })
}

/// The last row of every run of equal tag values (`tag_positions` in `batch`) of a sorted,
/// deduplicated, visible `batch`: a series continuing into the next batch keeps one row here
/// too, which [`SeriesRowSelector::LastRow`] allows.
fn last_of_each_series(batch: &RecordBatch, tag_positions: &[usize]) -> Result<RecordBatch> {
    let arrow_error = |source| Error::Arrow {
        context: "selecting the last row of each series".to_string(),
        source,
    };
    if batch.num_rows() == 0 {
        return Ok(batch.clone());
    }
    let tags: Vec<ArrayRef> = tag_positions
        .iter()
        .map(|&p| batch.column(p).clone())
        .collect();
    let last_rows: Vec<u32> = if tags.is_empty() {
        vec![(batch.num_rows() - 1) as u32]
    } else {
        partition(&tags)
            .map_err(arrow_error)?
            .ranges()
            .iter()
            .map(|r| (r.end - 1) as u32)
            .collect()
    };
    let indices = UInt32Array::from(last_rows);
    let columns = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(arrow_error)?;
    let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
    RecordBatch::try_new_with_options(batch.schema(), columns, &options).map_err(arrow_error)
}

/// The rows of `batch` passing every filter (`(position in the batch, filter)`).
fn keep_matching(batch: RecordBatch, filters: &[(usize, FieldFilter)]) -> Result<RecordBatch> {
    let arrow_error = |source| Error::Arrow {
        context: "applying a field filter".to_string(),
        source,
    };
    let mut keep: Option<arrow::array::BooleanArray> = None;
    for (position, filter) in filters {
        let mask = filter
            .evaluate(batch.column(*position).as_ref())
            .map_err(arrow_error)?;
        keep = Some(match keep {
            None => mask,
            Some(keep) => arrow::compute::and(&keep, &mask).map_err(arrow_error)?,
        });
    }
    match keep {
        Some(keep) if keep.true_count() < batch.num_rows() => {
            filter_record_batch(&batch, &keep).map_err(arrow_error)
        }
        _ => Ok(batch),
    }
}

/// The output columns (`positions` in the read batch) under the output `schema`.
fn to_output(batch: &RecordBatch, positions: &[usize], schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = positions.iter().map(|&p| batch.column(p).clone()).collect();
    // Explicit row count: `count(*)` projects no column at all.
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(|source| {
        Error::Arrow {
            context: "scan output schema".to_string(),
            source,
        }
    })
}
