//! Reads an SST: verifies its checksum, prunes row groups by the time index's and tags'
//! Parquet statistics and pages by the page index (`page_prune`), and yields batches in a
//! [`ReadFormat`]'s schema.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, new_null_array};
use arrow::datatypes::DataType;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions,
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter, RowSelection,
    RowSelectionPolicy,
};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::reader::ChunkReader;
use parquet::file::statistics::Statistics;

use crate::engine::error::Result;
use crate::engine::io::ObjectStorage;
use crate::engine::metadata::{ColumnMetadata, RegionId};
use crate::engine::read::predicate::{FieldFilter, TagFilter, row_group_may_match};
use crate::engine::read::{ReadFormat, compat};
use crate::engine::region::scan_metrics::ScanMetrics;
use crate::engine::sst::file::FileMeta;
use crate::engine::sst::format::{FORMAT_VERSION, FORMAT_VERSION_KEY};
use crate::engine::sst::page_prune::plan_pages;
use crate::engine::sst::ranged::{CHUNK_CRC32_KEY, ChunkChecksums, SstData};
use crate::engine::sst::{Error, catch_decoder_panic, sst_path};
use crate::engine::time_range::TimeRange;

/// Fetches an SST's bytes and checks them against the manifest's size and CRC-32.
///
/// # Errors
/// [`Error::Missing`] if the object is gone, [`Error::ChecksumMismatch`] if it was damaged.
pub async fn fetch_sst(
    storage: &ObjectStorage,
    region_id: RegionId,
    meta: &FileMeta,
) -> Result<Bytes> {
    let path = sst_path(region_id, meta.file_id);
    let bytes = storage.get(&path).await.map_err(|source| Error::Missing {
        path: path.to_string(),
        source,
    })?;
    let actual = crc32fast::hash(&bytes);
    if actual != meta.crc32 || bytes.len() as u64 != meta.file_size_bytes {
        return Err(Error::ChecksumMismatch {
            path: path.to_string(),
            expected: meta.crc32,
            actual,
            size: bytes.len() as u64,
            expected_size: meta.file_size_bytes,
        }
        .into());
    }
    Ok(bytes)
}

/// Parses the footer and page index of verified SST `bytes` and checks the tsdb format
/// version. The result is what [`crate::engine::cache::SstCache`] keeps per file, so a
/// second read of a file parses nothing.
///
/// # Errors
/// [`Error::Parquet`] for an unreadable footer, [`Error::Invalid`] for a file without
/// `tsdb:format_version` or of a newer format version.
pub fn load_metadata<R: ChunkReader>(path: &str, bytes: &R) -> Result<ArrowReaderMetadata> {
    catch_decoder_panic(path, || load_metadata_unguarded(path, bytes))
}

/// The column chunk checksums of a file whose metadata [`load_metadata`] parsed: `None`
/// for a format version 1 file (it has none; it is read whole).
///
/// # Errors
/// [`Error::Invalid`] if a version 2 file lacks `tsdb:chunk_crc32` or it does not match the
/// file's row groups and columns.
pub fn chunk_checksums(
    path: &str,
    metadata: &ArrowReaderMetadata,
) -> Result<Option<ChunkChecksums>> {
    let kv = |key: &str| {
        metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kvs| kvs.iter().find(|kv| kv.key == key))
            .and_then(|kv| kv.value.as_deref())
    };
    let invalid = |reason: String| Error::Invalid {
        path: path.to_string(),
        reason,
    };
    let version = kv(FORMAT_VERSION_KEY)
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if version < 2 {
        return Ok(None);
    }
    let text = kv(CHUNK_CRC32_KEY).ok_or_else(|| {
        invalid(format!(
            "format version {version} without {CHUNK_CRC32_KEY}"
        ))
    })?;
    ChunkChecksums::parse(text, metadata.metadata())
        .map(Some)
        .map_err(|reason| invalid(reason).into())
}

fn load_metadata_unguarded<R: ChunkReader>(path: &str, bytes: &R) -> Result<ArrowReaderMetadata> {
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let metadata = ArrowReaderMetadata::load(bytes, options).map_err(|source| Error::Parquet {
        path: path.to_string(),
        source,
    })?;
    let invalid = |reason: String| Error::Invalid {
        path: path.to_string(),
        reason,
    };
    let version = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == FORMAT_VERSION_KEY))
        .and_then(|kv| kv.value.as_deref())
        .ok_or_else(|| invalid(format!("missing {FORMAT_VERSION_KEY}")))?;
    let version = version.parse::<u32>().map_err(|_| {
        invalid(format!(
            "{FORMAT_VERSION_KEY} '{}' is not a format version",
            version.chars().take(40).collect::<String>()
        ))
    })?;
    if version == 0 || version > FORMAT_VERSION {
        return Err(invalid(format!(
            "format version {version} is newer than this build reads ({FORMAT_VERSION})"
        ))
        .into());
    }
    Ok(metadata)
}

/// What one [`SstReader`] read, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SstReadMetrics {
    /// Row groups in the file.
    pub row_groups_total: usize,
    /// Row groups left after row-group and page pruning.
    pub row_groups_read: usize,
    /// Rows of the read row groups that page pruning selected (all of them without pruning).
    pub rows_selected: usize,
    /// Rows decoded so far (yielded by the Parquet reader).
    pub rows_decoded: usize,
}

/// Batches of one SST in a read format; see [`SstReader::open`].
pub struct SstReader {
    path: String,
    inner: ParquetRecordBatchReader,
    format: Arc<ReadFormat>,
    /// For each read-schema column: its index in the projected file batch, or `None` if the
    /// file predates the column (filled from `fills`).
    mapping: Vec<Option<usize>>,
    /// For each user column of the read schema, its current metadata: the type a column
    /// stored in another type is cast to, the default a missing column is filled with.
    fills: Vec<Option<ColumnMetadata>>,
    metrics: SstReadMetrics,
    /// The scan's counters, fed as this reader decodes.
    scan_metrics: Option<Arc<ScanMetrics>>,
    /// Set after the first error: the Parquet decoder's state is unknown, so the reader ends.
    broken: bool,
}

impl SstReader {
    /// Opens verified SST `bytes` for reading `format`'s columns of the row groups whose
    /// time range overlaps `time_range`.
    ///
    /// # Errors
    /// [`Error::Parquet`] for an unreadable file, [`Error::Invalid`] for a file of an
    /// unsupported format version or without the internal columns.
    pub fn open(
        path: String,
        bytes: Bytes,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
    ) -> Result<SstReader> {
        Self::open_filtered(path, bytes, format, time_range, &[], batch_size)
    }

    /// As [`SstReader::open`], also skipping row groups and pages whose tag statistics rule
    /// out every `tag_filters` match (rows of the pages read are not filtered: see
    /// [`TagFilter`]).
    ///
    /// # Errors
    /// As [`SstReader::open`].
    pub fn open_filtered(
        path: String,
        bytes: Bytes,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        tag_filters: &[TagFilter],
        batch_size: usize,
    ) -> Result<SstReader> {
        let metadata = load_metadata(&path, &bytes)?;
        Self::open_with_metadata(
            path,
            SstData::whole(bytes),
            metadata,
            format,
            time_range,
            tag_filters,
            batch_size,
        )
    }

    /// As [`SstReader::open_filtered`] with `metadata` already parsed by [`load_metadata`]
    /// (e.g. cached). Row groups are pruned by the time index's and the tags' row-group
    /// statistics, then pages by the page index ([`plan_pages`]): only the selected rows are
    /// decoded ([`SstReader::metrics`]).
    ///
    /// # Errors
    /// [`Error::Parquet`] if the reader cannot be built, [`Error::Invalid`] for a file
    /// without the time index or internal columns.
    pub fn open_with_metadata(
        path: String,
        data: SstData,
        metadata: ArrowReaderMetadata,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        tag_filters: &[TagFilter],
        batch_size: usize,
    ) -> Result<SstReader> {
        Self::open_with_field_filters(
            path,
            data,
            metadata,
            format,
            time_range,
            tag_filters,
            &[],
            &|_| true,
            batch_size,
        )
    }

    /// As [`SstReader::open_with_metadata`], also dropping rows that fail a `field_filters`
    /// comparison while decoding (parquet's `RowFilter`: the filtered columns are decoded
    /// first, the others only for the rows that pass). Only for a file whose rows need no
    /// merge: an older version of a row must not be kept because its newer one was dropped.
    /// A filter on a column the file lacks, or that is not Float64 in it, is ignored. Only
    /// the row groups (by index in the file) for which `wanted` holds are read: a scan's
    /// stripe ([`crate::engine::region::Stripe`]).
    ///
    /// # Errors
    /// As [`SstReader::open_with_metadata`].
    #[allow(clippy::too_many_arguments)]
    pub fn open_with_field_filters(
        path: String,
        data: SstData,
        metadata: ArrowReaderMetadata,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        tag_filters: &[TagFilter],
        field_filters: &[FieldFilter],
        wanted: &dyn Fn(usize) -> bool,
        batch_size: usize,
    ) -> Result<SstReader> {
        SstReadPlan::new(
            path,
            metadata,
            format,
            time_range,
            tag_filters,
            field_filters,
            wanted,
        )?
        .open(data, batch_size)
    }

    /// Also counts into `scan_metrics`: the pruning outcome now, decoded rows as they come.
    pub fn with_scan_metrics(mut self, scan_metrics: Arc<ScanMetrics>) -> Self {
        let m = &self.metrics;
        ScanMetrics::add(&scan_metrics.row_groups_total, m.row_groups_total as u64);
        ScanMetrics::add(&scan_metrics.row_groups_read, m.row_groups_read as u64);
        ScanMetrics::add(&scan_metrics.rows_selected, m.rows_selected as u64);
        self.scan_metrics = Some(scan_metrics);
        self
    }

    /// What this reader pruned and decoded so far.
    pub fn metrics(&self) -> SstReadMetrics {
        self.metrics
    }

    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = self.format.schema();
        let arrow_err = |source| Error::Arrow {
            path: self.path.clone(),
            source,
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (k, (index, field)) in self.mapping.iter().zip(schema.fields()).enumerate() {
            let fill = self.fills.get(k).and_then(Option::as_ref);
            let column = match (index.and_then(|i| batch.columns().get(i)), fill) {
                (Some(column), _) if column.data_type() == field.data_type() => column.clone(),
                // MODIFY COLUMN: stored in the old type, cast at read (NULL where a value
                // does not convert, as GreptimeDB's compat reader).
                (Some(column), _) => {
                    arrow::compute::cast(column, field.data_type()).map_err(arrow_err)?
                }
                (None, Some(column)) => compat::default_array(column, batch.num_rows()),
                (None, None) => new_null_array(field.data_type(), batch.num_rows()),
            };
            columns.push(column);
        }
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| arrow_err(source).into())
    }
}

/// A planned read of one SST ([`SstReadPlan::new`]): which row groups, rows and columns,
/// decided from the file's metadata alone, so a ranged read can fetch just those column
/// chunks before decoding ([`SstReadPlan::chunks`], [`SstReadPlan::open`]).
pub struct SstReadPlan {
    path: String,
    metadata: ArrowReaderMetadata,
    format: Arc<ReadFormat>,
    mapping: Vec<Option<usize>>,
    fills: Vec<Option<ColumnMetadata>>,
    /// Root columns of the file to decode, ascending.
    roots: Vec<usize>,
    /// Decode-time filters with the file column they read.
    field_filters: Vec<(usize, FieldFilter)>,
    row_groups: Vec<usize>,
    selection: Option<RowSelection>,
    metrics: SstReadMetrics,
}

impl SstReadPlan {
    /// Plans a read of `format`'s columns of the row groups of a file (`metadata`) for
    /// which `wanted` holds and that the time range, `tag_filters` (row-group and page
    /// statistics) keep; `field_filters` become decode-time row filters. See
    /// [`SstReader::open_with_field_filters`].
    ///
    /// # Errors
    /// [`Error::Invalid`] for a file without the time index or internal columns.
    pub fn new(
        path: String,
        metadata: ArrowReaderMetadata,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        tag_filters: &[TagFilter],
        field_filters: &[FieldFilter],
        wanted: &dyn Fn(usize) -> bool,
    ) -> Result<SstReadPlan> {
        let invalid = |reason: String| Error::Invalid {
            path: path.clone(),
            reason,
        };
        // Columns by id: a file written before an ALTER may lack columns, hold them in
        // another type, or hold a dropped column under a name now reused (read/compat.rs).
        // (Parsed only for a region that was ever altered: others read every file by name.)
        let file_metadata = (format.metadata().schema_version != 0)
            .then(|| compat::file_metadata(&metadata))
            .flatten();
        let sources = compat::column_sources(&format, file_metadata.as_ref());
        let file_schema = metadata.schema().clone();
        // The file column name of each read-schema column (user columns, then internal).
        let file_names: Vec<Option<String>> = sources
            .iter()
            .map(|source| match source {
                compat::ColumnSource::File(name) | compat::ColumnSource::Cast(name) => {
                    Some(name.clone())
                }
                compat::ColumnSource::Default => None,
            })
            .chain(
                format.schema().fields()[sources.len()..]
                    .iter()
                    .map(|f| Some(f.name().clone())),
            )
            .collect();
        // Filters only on columns the file holds as they are now (same id and type).
        let unchanged = |name: &str| {
            format
                .read_columns()
                .iter()
                .zip(&sources)
                .any(|(&i, source)| {
                    format.metadata().columns[i].name == name
                        && *source == compat::ColumnSource::File(name.to_string())
                })
        };
        let tag_filters: Vec<TagFilter> = tag_filters
            .iter()
            .filter(|f| unchanged(&f.column))
            .cloned()
            .collect();
        let tag_filters = tag_filters.as_slice();
        let field_filters: Vec<&FieldFilter> = field_filters
            .iter()
            .filter(|f| unchanged(&f.column))
            .collect();
        let mut roots = Vec::new();
        for name in file_names.iter().flatten() {
            if let Ok(index) = file_schema.index_of(name) {
                roots.push(index);
            }
        }
        roots.sort_unstable();
        let mapping: Vec<Option<usize>> = file_names
            .iter()
            .map(|name| {
                name.as_ref()
                    .and_then(|name| file_schema.index_of(name).ok())
                    .and_then(|index| roots.iter().position(|&r| r == index))
            })
            .collect();
        let fills: Vec<Option<ColumnMetadata>> = format
            .read_columns()
            .iter()
            .map(|&i| Some(format.metadata().columns[i].clone()))
            .chain(std::iter::repeat(None))
            .take(file_names.len())
            .collect();
        for position in [
            format.time_index_position(),
            format.sequence_position(),
            format.op_type_position(),
        ] {
            if mapping.get(position).copied().flatten().is_none() {
                return Err(invalid("missing a key or internal column".to_string()).into());
            }
        }
        let ts_name = format
            .schema()
            .field(format.time_index_position())
            .name()
            .clone();
        let ts_leaf = file_schema.index_of(&ts_name).ok();
        let parquet_metadata = metadata.metadata().clone();
        let row_groups: Vec<usize> = parquet_metadata
            .row_groups()
            .iter()
            .enumerate()
            .filter(|&(i, _)| wanted(i))
            .filter(|(_, rg)| {
                let stats = ts_leaf
                    .and_then(|leaf| rg.columns().get(leaf))
                    .and_then(|c| c.statistics());
                match stats {
                    Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                        (Some(&min), Some(&max)) => TimeRange::new(min, max).overlaps(&time_range),
                        _ => true,
                    },
                    _ => true,
                }
            })
            .filter(|(_, rg)| {
                row_group_may_match(rg, tag_filters, |name| file_schema.index_of(name).ok())
            })
            .map(|(i, _)| i)
            .collect();
        let plan = plan_pages(
            &parquet_metadata,
            &file_schema,
            row_groups,
            &ts_name,
            time_range,
            tag_filters,
        );
        let group_rows: usize = plan
            .row_groups
            .iter()
            .filter_map(|&rg| parquet_metadata.row_groups().get(rg))
            .map(|rg| usize::try_from(rg.num_rows()).unwrap_or(0))
            .sum();
        let metrics = SstReadMetrics {
            // Of this reader's share: the row groups `wanted` gives it.
            row_groups_total: (0..parquet_metadata.num_row_groups())
                .filter(|&i| wanted(i))
                .count(),
            row_groups_read: plan.row_groups.len(),
            rows_selected: plan
                .selection
                .as_ref()
                .map_or(group_rows, RowSelection::row_count),
            rows_decoded: 0,
        };
        let field_filters: Vec<(usize, FieldFilter)> = field_filters
            .iter()
            .filter_map(|filter| {
                let index = file_schema.index_of(&filter.column).ok()?;
                (file_schema.field(index).data_type() == &DataType::Float64)
                    .then(|| (index, (*filter).clone()))
            })
            .collect();
        Ok(SstReadPlan {
            path,
            metadata,
            format,
            mapping,
            fills,
            roots,
            field_filters,
            row_groups: plan.row_groups,
            selection: plan.selection,
            metrics,
        })
    }

    /// The column chunks the read decodes, as `(row group, leaf column)`: what a ranged
    /// read must fetch ([`crate::engine::cache::SstCache::fetch_chunks`]).
    pub fn chunks(&self) -> Vec<(usize, usize)> {
        let schema = self.metadata.parquet_schema();
        let leaves: Vec<usize> = (0..schema.num_columns())
            .filter(|&leaf| {
                let root = schema.get_column_root_idx(leaf);
                self.roots.contains(&root) || self.field_filters.iter().any(|(i, _)| *i == root)
            })
            .collect();
        self.row_groups
            .iter()
            .flat_map(|&rg| leaves.iter().map(move |&leaf| (rg, leaf)))
            .collect()
    }

    /// Opens the planned read over `data`, which must hold [`SstReadPlan::chunks`] (or the
    /// whole file).
    ///
    /// # Errors
    /// [`Error::Parquet`] if the reader cannot be built.
    pub fn open(self, data: SstData, batch_size: usize) -> Result<SstReader> {
        let SstReadPlan {
            path,
            metadata,
            format,
            mapping,
            fills,
            roots,
            field_filters,
            row_groups,
            selection,
            metrics,
        } = self;
        let parquet_err = |source| Error::Parquet {
            path: path.clone(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(data, metadata);
        let mut predicates: Vec<Box<dyn ArrowPredicate>> = Vec::new();
        for (index, filter) in field_filters {
            let column = ProjectionMask::roots(builder.parquet_schema(), [index]);
            predicates.push(Box::new(ArrowPredicateFn::new(
                column,
                move |batch| match batch.columns().first() {
                    Some(values) => filter.evaluate(values.as_ref()),
                    None => Ok(BooleanArray::from(vec![true; batch.num_rows()])),
                },
            )));
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let builder = if predicates.is_empty() {
            builder
        } else {
            builder.with_row_filter(RowFilter::new(predicates))
        };
        let mut builder = builder
            .with_projection(mask)
            .with_row_groups(row_groups)
            .with_batch_size(batch_size.max(1));
        if let Some(selection) = selection {
            // Page-sized runs: skip by selectors (whole pages are then never decoded).
            builder = builder
                .with_row_selection(selection)
                .with_row_selection_policy(RowSelectionPolicy::Selectors);
        }
        let inner = builder.build().map_err(parquet_err)?;
        Ok(SstReader {
            path,
            inner,
            format,
            mapping,
            fills,
            metrics,
            scan_metrics: None,
            broken: false,
        })
    }
}

impl Iterator for SstReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            return None;
        }
        let inner = &mut self.inner;
        let batch = match catch_decoder_panic(&self.path, || Ok(inner.next())) {
            Ok(batch) => batch?,
            Err(panicked) => {
                self.broken = true;
                return Some(Err(panicked));
            }
        };
        if let Ok(batch) = &batch {
            self.metrics.rows_decoded += batch.num_rows();
            if let Some(scan) = &self.scan_metrics {
                ScanMetrics::add(&scan.rows_decoded, batch.num_rows() as u64);
            }
        }
        let result = batch
            .map_err(|source| {
                Error::Arrow {
                    path: self.path.clone(),
                    source,
                }
                .into()
            })
            .and_then(|batch| self.convert(batch));
        // After a decoding error (or panic) the Parquet reader may return the same error on
        // every later call and never end (found by fuzzing): one error ends the stream.
        self.broken = result.is_err();
        Some(result)
    }
}
