//! Page-level pruning: turns the time range and tag filters of a read into a Parquet
//! [`RowSelection`] from the page index (column index min/max, offset index row offsets), so
//! rows of pages that cannot match are never decompressed or decoded.
//!
//! Rows are sorted by `(tags, ts)`, so one series' rows are contiguous and span one or two
//! pages of each column: `host = 'x'` selects those pages' rows only. This is the page step of
//! mito2's pruning (`src/mito2/src/sst/parquet/row_selection.rs`, `row_group.rs`, which use
//! DataFusion's `PagePruningAccessPlanFilter`); tsdb has no DataFusion in the engine, so the
//! two predicates it knows are evaluated directly on `StatisticsConverter`'s page arrays.
//!
//! The selection is a superset of the matching rows (callers still filter): pages without
//! statistics, or whose statistics cannot be read, are kept. Selecting whole pages of every
//! predicate column and intersecting them keeps each selected row whole (all its columns),
//! and never splits a row identity's versions, which share tags and ts.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type, Schema};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::ParquetMetaData;

use crate::engine::read::predicate::TagFilter;
use crate::engine::time_range::TimeRange;

/// Row groups to read and the rows to decode in them.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePlan {
    /// Row group indexes, ascending; groups with no selected row are left out.
    pub row_groups: Vec<usize>,
    /// Rows of `row_groups` (in order, concatenated) to decode; `None` = all of them.
    pub selection: Option<RowSelection>,
}

/// Which pages of one column may hold matching rows: `keep(mins, maxes, page)`.
type PageTest<'a> = Box<dyn Fn(&ArrayRef, &ArrayRef, usize) -> bool + 'a>;

/// Plans the read of `row_groups` (already pruned by row-group statistics) of a file with
/// `metadata` and Arrow schema `schema`: rows of pages whose `ts_column` min/max lie outside
/// `time_range`, or whose tag min/max rule out every value of a `tag_filters` entry, are
/// skipped. Without a page index (files written without page statistics) every row is read.
pub fn plan_pages(
    metadata: &ParquetMetaData,
    schema: &Schema,
    row_groups: Vec<usize>,
    ts_column: &str,
    time_range: TimeRange,
    tag_filters: &[TagFilter],
) -> PagePlan {
    let (Some(column_index), Some(offset_index)) =
        (metadata.column_index(), metadata.offset_index())
    else {
        return PagePlan {
            row_groups,
            selection: None,
        };
    };
    let mut tests: Vec<(StatisticsConverter<'_>, PageTest<'_>)> = Vec::new();
    if time_range != TimeRange::all()
        && let Ok(converter) =
            StatisticsConverter::try_new(ts_column, schema, metadata.file_metadata().schema_descr())
    {
        tests.push((
            converter,
            Box::new(move |mins, maxes, page| time_page_may_match(mins, maxes, page, time_range)),
        ));
    }
    for filter in tag_filters {
        if let Ok(converter) = StatisticsConverter::try_new(
            &filter.column,
            schema,
            metadata.file_metadata().schema_descr(),
        ) {
            tests.push((
                converter,
                Box::new(move |mins, maxes, page| tag_page_may_match(mins, maxes, page, filter)),
            ));
        }
    }
    if tests.is_empty() {
        return PagePlan {
            row_groups,
            selection: None,
        };
    }
    let mut kept_groups = Vec::with_capacity(row_groups.len());
    let mut selectors: Vec<RowSelector> = Vec::new();
    let mut pruned = false;
    for rg in row_groups {
        let Some(num_rows) = metadata
            .row_groups()
            .get(rg)
            .and_then(|g| usize::try_from(g.num_rows()).ok())
        else {
            continue;
        };
        let mut group: Option<RowSelection> = None;
        for (converter, test) in &tests {
            let Some(column) =
                page_selection(converter, test, column_index, offset_index, rg, num_rows)
            else {
                continue;
            };
            group = Some(match group {
                Some(selection) => selection.intersection(&column),
                None => column,
            });
        }
        let Some(group) = group else {
            kept_groups.push(rg);
            selectors.push(RowSelector::select(num_rows));
            continue;
        };
        let selected = group.row_count();
        if selected < num_rows {
            pruned = true;
        }
        if selected == 0 {
            continue;
        }
        kept_groups.push(rg);
        let covered: usize = group.iter().map(|s| s.row_count).sum();
        selectors.extend(group.iter().copied());
        if covered < num_rows {
            selectors.push(RowSelector::skip(num_rows - covered));
        }
    }
    PagePlan {
        row_groups: kept_groups,
        selection: pruned.then(|| RowSelection::from(selectors)),
    }
}

/// The rows of row group `rg` (`num_rows` rows) in pages of `converter`'s column that pass
/// `test`; `None` if the column has no usable page index in this group.
fn page_selection(
    converter: &StatisticsConverter<'_>,
    test: &PageTest<'_>,
    column_index: &parquet::file::metadata::ParquetColumnIndex,
    offset_index: &parquet::file::metadata::ParquetOffsetIndex,
    rg: usize,
    num_rows: usize,
) -> Option<RowSelection> {
    let leaf = converter.parquet_column_index()?;
    let pages = offset_index.get(rg)?.get(leaf)?.page_locations();
    column_index.get(rg)?.get(leaf)?;
    if pages.is_empty() {
        return None;
    }
    let mins = converter
        .data_page_mins(column_index, offset_index, [&rg])
        .ok()?;
    let maxes = converter
        .data_page_maxes(column_index, offset_index, [&rg])
        .ok()?;
    if mins.len() != pages.len() || maxes.len() != pages.len() {
        return None;
    }
    // Timestamps are compared as i64: cast once per row group, not once per page.
    let (mins, maxes) = if mins.data_type().is_temporal() {
        (
            arrow::compute::cast(&mins, &DataType::Int64).ok()?,
            arrow::compute::cast(&maxes, &DataType::Int64).ok()?,
        )
    } else {
        (mins, maxes)
    };
    let mut selectors = Vec::with_capacity(pages.len());
    let mut expected_start = 0usize;
    for (page, location) in pages.iter().enumerate() {
        let start = usize::try_from(location.first_row_index).ok()?;
        let end = match pages.get(page + 1) {
            Some(next) => usize::try_from(next.first_row_index).ok()?,
            None => num_rows,
        };
        // A damaged offset index (gaps, overlaps, rows past the group) prunes nothing.
        if start != expected_start || end < start || end > num_rows {
            return None;
        }
        expected_start = end;
        let len = end - start;
        selectors.push(if test(&mins, &maxes, page) {
            RowSelector::select(len)
        } else {
            RowSelector::skip(len)
        });
    }
    Some(RowSelection::from(selectors))
}

/// Whether a time-index page with these min/max (any timestamp unit or Int64; scans pass
/// Int64, which [`page_selection`] casts to once per row group) overlaps `range`. Unknown
/// statistics keep the page.
fn time_page_may_match(mins: &ArrayRef, maxes: &ArrayRef, page: usize, range: TimeRange) -> bool {
    let as_i64 = |array: &ArrayRef| -> Option<i64> {
        if page >= array.len() || array.is_null(page) {
            return None;
        }
        if let Some(values) = array.as_primitive_opt::<Int64Type>() {
            return Some(values.value(page));
        }
        let value = arrow::compute::cast(&array.slice(page, 1), &DataType::Int64).ok()?;
        let value = value.as_primitive_opt::<Int64Type>()?;
        (!value.is_empty() && value.is_valid(0)).then(|| value.value(0))
    };
    match (as_i64(mins), as_i64(maxes)) {
        (Some(min), Some(max)) => TimeRange::new(min, max).overlaps(&range),
        _ => true,
    }
}

/// Whether a tag page with these min/max may hold one of `filter`'s values. Byte-array page
/// statistics may be truncated (min a prefix, max rounded up); both still bound the values.
fn tag_page_may_match(mins: &ArrayRef, maxes: &ArrayRef, page: usize, filter: &TagFilter) -> bool {
    let (Some(mins), Some(maxes)) = (mins.as_string_opt::<i32>(), maxes.as_string_opt::<i32>())
    else {
        return true;
    };
    if mins.is_null(page) || maxes.is_null(page) {
        return true;
    }
    let (min, max) = (mins.value(page), maxes.value(page));
    filter
        .values
        .iter()
        .any(|value| min <= value.as_str() && value.as_str() <= max)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};

    use super::*;

    #[test]
    fn time_pages_outside_the_range_are_skipped_unknown_ones_kept() {
        let mins: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![
            Some(0),
            Some(100),
            None,
        ]));
        let maxes: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![
            Some(99),
            Some(199),
            Some(299),
        ]));
        let range = TimeRange::new(150, 160);
        assert!(!time_page_may_match(&mins, &maxes, 0, range));
        assert!(time_page_may_match(&mins, &maxes, 1, range));
        assert!(time_page_may_match(&mins, &maxes, 2, range), "no min: kept");
    }

    #[test]
    fn tag_pages_bound_the_values() {
        let filter = TagFilter {
            column: "host".to_string(),
            values: vec!["h5".to_string(), "h7".to_string()],
        };
        let mins: ArrayRef = Arc::new(StringArray::from(vec![Some("h0"), Some("h6"), None]));
        let maxes: ArrayRef = Arc::new(StringArray::from(vec![Some("h4"), Some("h8"), None]));
        assert!(!tag_page_may_match(&mins, &maxes, 0, &filter));
        assert!(tag_page_may_match(&mins, &maxes, 1, &filter));
        assert!(
            tag_page_may_match(&mins, &maxes, 2, &filter),
            "no statistics: kept"
        );
        // Statistics of another type prune nothing.
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        assert!(tag_page_may_match(&ints, &ints, 0, &filter));
    }
}
