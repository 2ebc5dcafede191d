//! Last-row reads: the newest visible row of every series of one SST, without decoding the
//! rows in between (the read behind [`crate::engine::region::SeriesRowSelector::LastRow`]).
//!
//! Modelled on mito2's `LastRowSelector` (`src/mito2/src/read/last_row.rs`), which keeps the
//! last row of each primary key from a sorted stream, and its selector result cache
//! (`src/mito2/src/cache.rs`, `SelectorResultValue`), which keeps that answer per file. mito2
//! still decodes every row once per file to find the keys' ends; tsdb knows them from the
//! SST's series runs (`super::series`), so it decodes:
//! 1. the time index and op type of the last row of every series (a row selection of one row
//!    per series: pages holding no series end are skipped);
//! 2. for the few series whose last row is not visible (a tombstone, or outside the time
//!    range), the time index and op type of that series' other rows, newest first;
//! 3. the requested columns of the chosen rows only.
//!
//! An SST holds each row identity once, so the chosen row is the series' newest visible row.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, RecordBatchOptions, new_null_array};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Int64Type, SchemaRef, UInt8Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelectionPolicy,
};
use parquet::file::metadata::ParquetMetaData;

use crate::engine::cache::CachedSst;
use crate::engine::error::Result;
use crate::engine::metadata::OpType;
use crate::engine::read::{OP_TYPE_COLUMN, ReadFormat};
use crate::engine::sst::series::{self, SERIES_ROWS_KEY, SeriesRuns};
use crate::engine::sst::{Error, catch_decoder_panic};
use crate::engine::time_range::TimeRange;

/// Rows per batch while decoding the internal columns.
const BATCH_ROWS: usize = 8192;

/// The newest visible row (a `Put` with its time index inside `time_range`) of every series of
/// `sst`, in file order, with the columns of `format`'s read schema (columns the file lacks
/// are NULL). One row per series that has a visible row.
///
/// # Errors
/// [`Error::Parquet`] / [`Error::Arrow`] if the file cannot be decoded, [`Error::Invalid`] if
/// it lacks the time index or the op type column.
pub fn read_last_rows(
    sst: &CachedSst,
    format: &ReadFormat,
    time_range: TimeRange,
) -> Result<RecordBatch> {
    let file = FileColumns::new(sst, format)?;
    let ends = series_ends(sst, &file)?;
    let chosen = choose_rows(sst, &file, &ends, time_range)?;
    let batch = read_rows(sst, &file.read_roots, &chosen)?;
    conform(sst, batch, format.schema())
}

/// Where `format`'s columns are in the file (top-level column indexes).
struct FileColumns {
    time_index: usize,
    op_type: usize,
    /// Tag columns present in the file, primary-key order.
    tags: Vec<usize>,
    /// Every column of the read schema the file has, ascending.
    read_roots: Vec<usize>,
}

impl FileColumns {
    fn new(sst: &CachedSst, format: &ReadFormat) -> Result<FileColumns> {
        let schema = sst.metadata.schema();
        let invalid = |what: &str| Error::Invalid {
            path: sst.path.clone(),
            reason: format!("missing the {what} column"),
        };
        let read = format.schema();
        let time_name = read.field(format.time_index_position()).name();
        let time_index = schema
            .index_of(time_name)
            .map_err(|_| invalid("time index"))?;
        let op_type = schema
            .index_of(OP_TYPE_COLUMN)
            .map_err(|_| invalid("op type"))?;
        let metadata = format.metadata();
        let tags = metadata
            .primary_key
            .iter()
            .filter_map(|&k| schema.index_of(&metadata.columns[k].name).ok())
            .collect();
        let mut read_roots: Vec<usize> = read
            .fields()
            .iter()
            .filter_map(|f| schema.index_of(f.name()).ok())
            .collect();
        read_roots.sort_unstable();
        Ok(FileColumns {
            time_index,
            op_type,
            tags,
            read_roots,
        })
    }
}

/// The exclusive end row of every series, from the footer's series runs or, for files
/// written without them, computed from the tag columns.
fn series_ends(sst: &CachedSst, file: &FileColumns) -> Result<Vec<usize>> {
    let metadata = sst.metadata.metadata();
    let num_rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
    let recorded = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == SERIES_ROWS_KEY))
        .and_then(|kv| kv.value.as_deref())
        .and_then(|text| series::decode(text, num_rows));
    let lengths = match recorded {
        Some(lengths) => lengths,
        None => {
            let mut runs = SeriesRuns::new();
            let all = 0..usize::try_from(num_rows).unwrap_or(0);
            for batch in decode(sst, &file.tags, std::slice::from_ref(&all))? {
                runs.push(batch.columns(), batch.num_rows())
                    .map_err(|source| arrow_error(sst, source))?;
            }
            runs.finish()
        }
    };
    let mut end = 0usize;
    Ok(lengths
        .into_iter()
        .map(|length| {
            end += usize::try_from(length).unwrap_or(0);
            end
        })
        .collect())
}

/// For every series (given by its end row), the row of its newest visible row, ascending.
fn choose_rows(
    sst: &CachedSst,
    file: &FileColumns,
    ends: &[usize],
    time_range: TimeRange,
) -> Result<Vec<usize>> {
    let internal = [file.time_index, file.op_type];
    let last_rows: Vec<Range<usize>> = ends.iter().map(|&end| end - 1..end).collect();
    let (ts, ops) = time_and_op(sst, file, &decode(sst, &internal, &last_rows)?)?;
    let visible = |ts: i64, op: u8| time_range.contains(ts) && op == OpType::Put as u8;
    let mut chosen: Vec<Option<usize>> = Vec::with_capacity(ends.len());
    let mut hidden = Vec::new();
    for (k, &end) in ends.iter().enumerate() {
        if ts
            .get(k)
            .zip(ops.get(k))
            .is_some_and(|(&t, &o)| visible(t, o))
        {
            chosen.push(Some(end - 1));
        } else {
            chosen.push(None);
            hidden.push(k);
        }
    }
    if !hidden.is_empty() {
        // The other rows of those series: the newest visible one, if any.
        let start = |k: usize| if k == 0 { 0 } else { ends[k - 1] };
        let ranges: Vec<Range<usize>> = hidden
            .iter()
            .map(|&k| start(k)..ends[k] - 1)
            .filter(|r| !r.is_empty())
            .collect();
        let (ts, ops) = time_and_op(sst, file, &decode(sst, &internal, &ranges)?)?;
        let mut offset = 0usize;
        for range in &ranges {
            let k = ends.partition_point(|&end| end <= range.start);
            let newest = (0..range.len()).rev().find(|&i| {
                let at = offset + i;
                ts.get(at)
                    .zip(ops.get(at))
                    .is_some_and(|(&t, &o)| visible(t, o))
            });
            if let (Some(i), Some(slot)) = (newest, chosen.get_mut(k)) {
                *slot = Some(range.start + i);
            }
            offset += range.len();
        }
    }
    Ok(chosen.into_iter().flatten().collect())
}

/// The time index (as i64) and op type of `batches` (those two file columns), concatenated.
fn time_and_op(
    sst: &CachedSst,
    file: &FileColumns,
    batches: &[RecordBatch],
) -> Result<(Vec<i64>, Vec<u8>)> {
    let schema = sst.metadata.schema();
    let (time_name, op_name) = (
        schema.field(file.time_index).name(),
        schema.field(file.op_type).name(),
    );
    let mut ts = Vec::new();
    let mut ops = Vec::new();
    for batch in batches {
        let (Some(t), Some(o)) = (
            batch.column_by_name(time_name),
            batch.column_by_name(op_name),
        ) else {
            continue;
        };
        let t = arrow::compute::cast(t, &DataType::Int64).map_err(|e| arrow_error(sst, e))?;
        ts.extend(t.as_primitive::<Int64Type>().values().iter().copied());
        let o = o
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| Error::Invalid {
                path: sst.path.clone(),
                reason: format!("{OP_TYPE_COLUMN} is not UInt8"),
            })?;
        ops.extend(o.values().iter().copied());
    }
    Ok((ts, ops))
}

/// Columns `roots` of the rows `chosen` (ascending), as one batch in file column order.
fn read_rows(sst: &CachedSst, roots: &[usize], chosen: &[usize]) -> Result<RecordBatch> {
    let ranges: Vec<Range<usize>> = chosen.iter().map(|&row| row..row + 1).collect();
    let batches = decode(sst, roots, &ranges)?;
    let schema = match batches.first() {
        Some(batch) => batch.schema(),
        None => Arc::new(
            sst.metadata
                .schema()
                .project(roots)
                .map_err(|e| arrow_error(sst, e))?,
        ),
    };
    concat_batches(&schema, &batches).map_err(|e| arrow_error(sst, e).into())
}

/// Decodes columns `roots` of the rows in `ranges` (absolute, ascending, disjoint): only
/// row groups holding some of them are opened, and pages holding none are skipped.
fn decode(sst: &CachedSst, roots: &[usize], ranges: &[Range<usize>]) -> Result<Vec<RecordBatch>> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let parquet_error = |source| Error::Parquet {
        path: sst.path.clone(),
        source,
    };
    let (row_groups, selection) = selection(sst.metadata.metadata(), ranges);
    let builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(sst.data.clone(), sst.metadata.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(row_groups)
        .with_row_selection(selection)
        .with_row_selection_policy(RowSelectionPolicy::Selectors)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_error)?;
    catch_decoder_panic(&sst.path, || {
        reader
            .map(|batch| batch.map_err(|e| arrow_error(sst, e).into()))
            .collect()
    })
}

/// The row groups that hold rows of `ranges` and the selection of those rows relative to
/// them (a range may cross row groups).
fn selection(metadata: &ParquetMetaData, ranges: &[Range<usize>]) -> (Vec<usize>, RowSelection) {
    let mut row_groups = Vec::new();
    let mut relative = Vec::new();
    let (mut group_start, mut selected_rows, mut i) = (0usize, 0usize, 0usize);
    for (group, rg) in metadata.row_groups().iter().enumerate() {
        let rows = usize::try_from(rg.num_rows()).unwrap_or(0);
        let group_end = group_start + rows;
        let mut used = false;
        while let Some(range) = ranges.get(i) {
            if range.start >= group_end {
                break;
            }
            let (start, end) = (range.start.max(group_start), range.end.min(group_end));
            if start < end {
                let base = selected_rows + start - group_start;
                relative.push(base..base + (end - start));
                used = true;
            }
            if range.end <= group_end {
                i += 1;
            } else {
                break;
            }
        }
        if used {
            row_groups.push(group);
            selected_rows += rows;
        }
        group_start = group_end;
    }
    let selection = RowSelection::from_consecutive_ranges(relative.into_iter(), selected_rows);
    (row_groups, selection)
}

/// `batch` (file columns) under the read `schema`: columns by name, NULL for missing ones.
fn conform(sst: &CachedSst, batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => column.clone(),
            None => new_null_array(field.data_type(), rows),
        })
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(|e| {
        // A file column whose type differs from the region's (not produced by tsdb).
        arrow_error(sst, e).into()
    })
}

fn arrow_error(sst: &CachedSst, source: arrow::error::ArrowError) -> Error {
    Error::Arrow {
        path: sst.path.clone(),
        source,
    }
}

#[cfg(test)]
mod tests;
