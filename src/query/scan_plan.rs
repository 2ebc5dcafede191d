//! Plan-time facts about a region scan, read from the region's current [`Version`] (metadata
//! only, no I/O): the sources a time range touches, the row-count, byte-size and time-index
//! statistics DataFusion plans with, and the split of a time range into disjoint partitions of
//! balanced row counts.
//!
//! DataFusion estimates a join side and an aggregate's output from its input's
//! `num_rows` and `total_byte_size` (`datafusion-physical-optimizer` `join_selection.rs`
//! compares byte sizes first, then rows; `datafusion-physical-plan` `aggregates/mod.rs`
//! scales the byte size of its input). Every value here is `Inexact`: the scan deduplicates
//! and drops tombstones, and rows may be written between planning and execution.
//!
//! [`Version`]: crate::engine::region::version::Version

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};

use crate::engine::region::RegionRef;
use crate::engine::time_range::TimeRange;

/// Assumed bytes per value of a variable-width column (strings, binary): offsets plus a short
/// tag value. Only relative sizes matter to the planner.
const VARIABLE_WIDTH_BYTES: usize = 16;

/// A memtable or SST of the current version: its time range and rows (before
/// deduplication, tombstones included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceExtent {
    /// Smallest and largest time index value of the source.
    pub range: TimeRange,
    /// Rows in the source.
    pub rows: u64,
}

/// The non-empty memtables and the SSTs of `region`'s current version.
pub fn source_extents(region: &RegionRef) -> Vec<SourceExtent> {
    let version = region.version();
    let memtables = std::iter::once(&version.mutable)
        .chain(version.immutables.iter())
        .filter_map(|m| {
            m.time_range().map(|range| SourceExtent {
                range,
                rows: m.num_rows() as u64,
            })
        });
    let files = version.files.values().map(|f| SourceExtent {
        range: f.meta().time_range,
        rows: f.meta().num_rows,
    });
    memtables.chain(files).collect()
}

/// Rows of `sources` overlapping `range`, each source counted in proportion to the share of
/// its time range inside `range` (rows assumed uniform over time). Rounded up, so a range that
/// touches a source is never estimated at zero rows.
pub fn estimated_rows(sources: &[SourceExtent], range: TimeRange) -> u64 {
    let rows: f64 = sources.iter().map(|s| weight_in(s, range)).sum();
    rows.ceil() as u64
}

/// The rows of `source` in `range`, pro rata by time.
fn weight_in(source: &SourceExtent, range: TimeRange) -> f64 {
    if !source.range.overlaps(&range) {
        return 0.0;
    }
    let inside = source.range.intersect(&range);
    let span = width(source.range);
    source.rows as f64 * width(inside) / span
}

/// Number of timestamps in a non-empty range, as f64 (exact enough for weights).
fn width(range: TimeRange) -> f64 {
    (i128::from(range.max) - i128::from(range.min) + 1) as f64
}

/// The smallest and largest timestamp any source may hold inside `range`, or `None` if no
/// source overlaps it.
pub fn time_bounds(sources: &[SourceExtent], range: TimeRange) -> Option<TimeRange> {
    sources
        .iter()
        .filter(|s| s.range.overlaps(&range))
        .map(|s| s.range.intersect(&range))
        .reduce(|a, b| a.union(&b))
}

/// Splits `range` into at most `partitions` disjoint, ordered sub-ranges whose union is
/// `range`, cutting only between runs of overlapping sources (the groups `Region::scan`
/// merges), so no memtable or SST is read by two partitions: SST rows are sorted by tags
/// first, so a row group spans the file's whole time range and a cut inside a file would make
/// both partitions decode all of it. Cuts are the run gaps closest to equal shares of the
/// estimated rows; a sub-range with fewer than `min_rows` rows is merged into its neighbour.
/// Returns `[range]` when no cut qualifies (one partition wanted, one run, too few rows).
///
/// The first and last sub-ranges keep `range`'s own ends (possibly unbounded), so rows written
/// after planning outside the sources' current extent are still read by exactly one partition.
pub fn split_time_range(
    sources: &[SourceExtent],
    range: TimeRange,
    partitions: usize,
    min_rows: u64,
) -> Vec<TimeRange> {
    if partitions <= 1 {
        return vec![range];
    }
    // Runs of overlapping sources inside `range`: (start, end, rows), in time order.
    let mut clipped: Vec<(TimeRange, f64)> = sources
        .iter()
        .filter(|s| s.range.overlaps(&range))
        .map(|s| (s.range.intersect(&range), weight_in(s, range)))
        .collect();
    clipped.sort_by_key(|(r, _)| r.min);
    let mut runs: Vec<(TimeRange, f64)> = Vec::new();
    for (r, rows) in clipped {
        match runs.last_mut() {
            Some((run, run_rows)) if r.min <= run.max => {
                *run = run.union(&r);
                *run_rows += rows;
            }
            _ => runs.push((r, rows)),
        }
    }
    if runs.len() < 2 {
        return vec![range];
    }
    let total: f64 = runs.iter().map(|(_, rows)| rows).sum();
    // cut[i]: rows before the gap after run i, for the gaps between runs.
    let mut cumulative = Vec::with_capacity(runs.len() - 1);
    let mut acc = 0.0;
    for (_, rows) in &runs[..runs.len() - 1] {
        acc += rows;
        cumulative.push(acc);
    }
    let mut cuts: Vec<usize> = Vec::new();
    for k in 1..partitions {
        let target = total * k as f64 / partitions as f64;
        let best = (0..cumulative.len()).min_by(|&a, &b| {
            (cumulative[a] - target)
                .abs()
                .total_cmp(&(cumulative[b] - target).abs())
        });
        if let Some(best) = best
            && cuts.last().is_none_or(|&last| best > last)
        {
            cuts.push(best);
        }
    }
    // Drop cuts that leave a partition below `min_rows` (the last one is checked at the end).
    let floor = min_rows as f64;
    let mut kept: Vec<usize> = Vec::with_capacity(cuts.len());
    let mut before = 0.0;
    for cut in cuts {
        if cumulative[cut] - before >= floor && total - cumulative[cut] >= floor {
            kept.push(cut);
            before = cumulative[cut];
        }
    }
    if kept.is_empty() {
        return vec![range];
    }
    let mut out = Vec::with_capacity(kept.len() + 1);
    let mut min = range.min;
    for cut in kept {
        let start = runs[cut + 1].0.min;
        out.push(TimeRange::new(min, start - 1));
        min = start;
    }
    out.push(TimeRange::new(min, range.max));
    out
}

/// Whether `split` (partitions of `range` from [`split_time_range`]) is too uneven to use:
/// its largest partition holds over a quarter more than an equal share of `partitions`, and
/// there are rows for at least two partitions of `min_rows`. A few large files are so (three
/// one-hour files on two partitions: two files and one); stripes by row group then balance.
pub fn split_is_uneven(
    sources: &[SourceExtent],
    range: TimeRange,
    split: &[TimeRange],
    partitions: usize,
    min_rows: u64,
) -> bool {
    let total = estimated_rows(sources, range);
    if partitions < 2 || total < min_rows.saturating_mul(2) {
        return false;
    }
    let largest = split
        .iter()
        .map(|part| estimated_rows(sources, *part))
        .max()
        .unwrap_or(total);
    largest.saturating_mul(4 * partitions as u64) > total.saturating_mul(5)
}

/// Estimated bytes per row of `schema` in Arrow memory.
fn row_width(schema: &Schema) -> usize {
    schema
        .fields()
        .iter()
        .map(|f| {
            f.data_type()
                .primitive_width()
                .unwrap_or(match f.data_type() {
                    DataType::Boolean => 1,
                    _ => VARIABLE_WIDTH_BYTES,
                })
        })
        .sum()
}

/// A timestamp literal of `unit` and `tz`.
fn timestamp_scalar(unit: TimeUnit, tz: Option<Arc<str>>, v: i64) -> ScalarValue {
    match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(v), tz),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(v), tz),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), tz),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), tz),
    }
}

/// Statistics of a scan producing `schema` over `range` of `sources`, at most `limit` rows:
/// `num_rows` and `total_byte_size` (`Inexact`), and for the time index column (named
/// `time_index`, if projected) its bounds and no nulls.
pub fn scan_statistics(
    schema: &Schema,
    time_index: &str,
    sources: &[SourceExtent],
    range: TimeRange,
    limit: Option<usize>,
) -> Statistics {
    let empty = range.is_empty() || limit == Some(0);
    let rows = if empty {
        0
    } else {
        usize::try_from(estimated_rows(sources, range)).unwrap_or(usize::MAX)
    };
    let rows = limit.map_or(rows, |limit| rows.min(limit));
    let mut stats = Statistics::new_unknown(schema)
        .with_num_rows(Precision::Inexact(rows))
        .with_total_byte_size(Precision::Inexact(rows.saturating_mul(row_width(schema))));
    let bounds = if empty {
        None
    } else {
        time_bounds(sources, range)
    };
    if let (Ok(index), Some(bounds)) = (schema.index_of(time_index), bounds)
        && let DataType::Timestamp(unit, tz) = schema.field(index).data_type()
    {
        let scalar = |v: i64| timestamp_scalar(*unit, tz.clone(), v);
        stats.column_statistics[index] = ColumnStatistics::new_unknown()
            .with_min_value(Precision::Inexact(scalar(bounds.min)))
            .with_max_value(Precision::Inexact(scalar(bounds.max)))
            .with_null_count(Precision::Exact(0));
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(min: i64, max: i64, rows: u64) -> SourceExtent {
        SourceExtent {
            range: TimeRange::new(min, max),
            rows,
        }
    }

    #[test]
    fn rows_are_prorated_by_time() {
        let sources = [src(0, 99, 100), src(100, 199, 1000)];
        assert_eq!(estimated_rows(&sources, TimeRange::all()), 1100);
        assert_eq!(estimated_rows(&sources, TimeRange::new(0, 49)), 50);
        assert_eq!(estimated_rows(&sources, TimeRange::new(50, 149)), 550);
        assert_eq!(estimated_rows(&sources, TimeRange::new(200, 300)), 0);
        assert_eq!(
            time_bounds(&sources, TimeRange::new(50, 1000)),
            Some(TimeRange::new(50, 199))
        );
        assert_eq!(time_bounds(&sources, TimeRange::new(500, 1000)), None);
    }

    #[test]
    fn split_is_disjoint_covering_and_balanced() {
        // Ten files of one hour each, equal rows: four partitions of 2-3 whole files.
        let hour = 3_600_000;
        let sources: Vec<_> = (0..10)
            .map(|h| src(h * hour, (h + 1) * hour - 1, 1000))
            .collect();
        let parts = split_time_range(&sources, TimeRange::all(), 4, 100);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].min, i64::MIN);
        assert_eq!(parts[3].max, i64::MAX);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].max + 1, pair[1].min, "{parts:?}");
            // Cuts fall between files.
            assert_eq!(pair[1].min % hour, 0, "{parts:?}");
        }
        for part in &parts {
            let rows = estimated_rows(&sources, *part);
            assert!((2000..=3000).contains(&rows), "{part:?}: {rows}");
        }
        // Skewed rows: the cut that best balances, still between files.
        let sources = [src(0, 99, 100), src(100, 199, 100), src(200, 299, 1000)];
        let parts = split_time_range(&sources, TimeRange::new(0, 299), 2, 0);
        assert_eq!(
            parts,
            vec![TimeRange::new(0, 199), TimeRange::new(200, 299)]
        );
        // A memtable overlapping a file joins its run: the cut is not inside either.
        let sources = [src(0, 99, 100), src(100, 199, 100), src(150, 250, 100)];
        let parts = split_time_range(&sources, TimeRange::all(), 2, 0);
        assert_eq!(parts[0].max, 99, "{parts:?}");
    }

    #[test]
    fn uneven_splits_are_found() {
        let hour = 3_600_000;
        let files = |n: i64| -> Vec<SourceExtent> {
            (0..n)
                .map(|h| src(h * hour, (h + 1) * hour - 1, 360_000))
                .collect()
        };
        let all = TimeRange::all();
        // Three equal files on two partitions: 2:1.
        let three = files(3);
        let split = split_time_range(&three, all, 2, 8192);
        assert_eq!(split.len(), 2);
        assert!(split_is_uneven(&three, all, &split, 2, 8192));
        // Four files split 2:2, twenty-four 12:12.
        for n in [4, 24] {
            let sources = files(n);
            let split = split_time_range(&sources, all, 2, 8192);
            assert!(!split_is_uneven(&sources, all, &split, 2, 8192), "{n}");
        }
        // One file cannot be cut by time at all; too few rows never count as uneven.
        let one = files(1);
        assert!(split_is_uneven(&one, all, &[all], 2, 8192));
        let small = [src(0, 99, 100)];
        assert!(!split_is_uneven(&small, all, &[all], 2, 8192));
        assert!(!split_is_uneven(&three, all, &split, 1, 8192));
    }

    #[test]
    fn split_falls_back_to_one_range() {
        let sources = [src(0, 99, 100), src(100, 199, 100)];
        let all = TimeRange::all();
        assert_eq!(split_time_range(&sources, all, 1, 0), vec![all]);
        // A side below min_rows.
        assert_eq!(split_time_range(&sources, all, 4, 101), vec![all]);
        assert_eq!(split_time_range(&sources, all, 4, 100).len(), 2);
        // No source in range.
        let r = TimeRange::new(500, 600);
        assert_eq!(split_time_range(&sources, r, 4, 0), vec![r]);
        // One run (one file, or overlapping files) is never cut.
        let one = [src(0, 99, 1000)];
        assert_eq!(split_time_range(&one, all, 4, 0), vec![all]);
        let overlapping = [src(0, 99, 1000), src(50, 150, 1000)];
        assert_eq!(split_time_range(&overlapping, all, 4, 0), vec![all]);
    }

    #[test]
    fn statistics_bound_rows_bytes_and_time() {
        use arrow::datatypes::Field;
        let schema = Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("v", DataType::Float64, true),
        ]);
        let sources = [src(0, 99, 100), src(100, 199, 100)];
        let stats = scan_statistics(&schema, "ts", &sources, TimeRange::new(50, 500), None);
        assert_eq!(stats.num_rows, Precision::Inexact(150));
        assert_eq!(stats.total_byte_size, Precision::Inexact(150 * 32));
        let ts = &stats.column_statistics[1];
        assert_eq!(
            ts.min_value,
            Precision::Inexact(ScalarValue::TimestampMillisecond(Some(50), None))
        );
        assert_eq!(
            ts.max_value,
            Precision::Inexact(ScalarValue::TimestampMillisecond(Some(199), None))
        );
        assert_eq!(
            stats.column_statistics[0].min_value,
            Precision::Absent,
            "tags have no bounds"
        );
        let limited = scan_statistics(&schema, "ts", &sources, TimeRange::all(), Some(10));
        assert_eq!(limited.num_rows, Precision::Inexact(10));
        let empty = scan_statistics(&schema, "ts", &sources, TimeRange::new(5, 1), None);
        assert_eq!(empty.num_rows, Precision::Inexact(0));
        assert_eq!(empty.column_statistics[1].min_value, Precision::Absent);
    }
}
