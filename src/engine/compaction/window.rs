//! The region's time window: the bucket size both flush (one SST per window) and TWCS
//! compaction (one merge per window) cut the time index by.
//!
//! Design from GreptimeDB mito2: `compaction/buckets.rs` (`infer_time_bucket`, the
//! `TIME_BUCKETS` ladder 1h, 2h, 12h, 1d, 1w) and `memtable/time_partition.rs` (memtables
//! partitioned by that window). Unlike mito2, which picks the smallest bucket covering the
//! whole span (one window), tsdb picks the smallest bucket that cuts the span into at most
//! [`MAX_INFERRED_WINDOWS`] windows, so a few hours of data get hour-sized files that time
//! filters can skip. Once chosen, the window is recorded in the manifest
//! (`RegionEdit::compaction_time_window`) and never inferred again.

use crate::engine::metadata::ColumnDataType;
use crate::engine::time_range::TimeRange;

/// Candidate window sizes in seconds: 1h, 2h, 12h, 1d, 1w (mito2's `TIME_BUCKETS`).
pub const WINDOW_LADDER_SECONDS: [i64; 5] = [3600, 7200, 43_200, 86_400, 604_800];

/// An inferred window cuts the data seen so far into at most this many windows (unless the
/// span exceeds this many weeks, the largest step).
pub const MAX_INFERRED_WINDOWS: i64 = 16;

/// Time index units per second for a time index of `data_type` (1000 for milliseconds, the
/// default for anything that is not a timestamp type).
pub fn units_per_second(data_type: ColumnDataType) -> i64 {
    match data_type {
        ColumnDataType::TimestampSecond => 1,
        ColumnDataType::TimestampMicrosecond => 1_000_000,
        ColumnDataType::TimestampNanosecond => 1_000_000_000,
        _ => 1000,
    }
}

/// The window (time index unit) for data spanning `span`: the smallest ladder step `w` with
/// `span.max - span.min < w * MAX_INFERRED_WINDOWS`, else one week. E.g. 3 h of data -> 1 h
/// windows (3 of them), 24 h -> 2 h (12), 10 days -> 1 day. `units_per_second` converts
/// the ladder's seconds into the time index unit.
pub fn infer_window(span: TimeRange, units_per_second: i64) -> i64 {
    let width = if span.is_empty() {
        0
    } else {
        span.max.saturating_sub(span.min)
    };
    let step = |s: i64| s.saturating_mul(units_per_second).max(1);
    WINDOW_LADDER_SECONDS
        .iter()
        .map(|s| step(*s))
        .find(|w| width < w.saturating_mul(MAX_INFERRED_WINDOWS))
        .unwrap_or_else(|| step(WINDOW_LADDER_SECONDS[4]))
}

/// Start of the window of size `window` (> 0) holding `ts`: `ts` rounded down to a multiple
/// of `window` (works for negative timestamps; saturates at `i64::MIN`).
pub fn window_start(ts: i64, window: i64) -> i64 {
    let window = window.max(1);
    ts.div_euclid(window).saturating_mul(window)
}

/// The closed time range `[start, start + window - 1]` of the window starting at `start`.
pub fn window_range(start: i64, window: i64) -> TimeRange {
    TimeRange::new(start, start.saturating_add(window.max(1) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn tsbs_spans_get_a_handful_of_windows() {
        // 3 h (1000 hosts x 3 h): 1 h windows.
        assert_eq!(infer_window(TimeRange::new(0, 3 * HOUR_MS), 1000), HOUR_MS);
        // A first flush of 20 minutes: 1 h.
        assert_eq!(infer_window(TimeRange::new(0, HOUR_MS / 3), 1000), HOUR_MS);
        // 24 h (100 hosts x 24 h): 2 h windows.
        assert_eq!(
            infer_window(TimeRange::new(0, 24 * HOUR_MS), 1000),
            2 * HOUR_MS
        );
        // 10 days: 1 day; a year: 1 week (the largest step).
        assert_eq!(
            infer_window(TimeRange::new(0, 240 * HOUR_MS), 1000),
            24 * HOUR_MS
        );
        assert_eq!(
            infer_window(TimeRange::new(0, 365 * 24 * HOUR_MS), 1000),
            7 * 24 * HOUR_MS
        );
        // Seconds and nanoseconds scale the ladder.
        assert_eq!(infer_window(TimeRange::new(0, 10), 1), 3600);
        assert_eq!(
            infer_window(TimeRange::new(i64::MIN, i64::MAX), 1_000_000_000),
            604_800 * 1_000_000_000
        );
    }

    #[test]
    fn window_start_rounds_down() {
        assert_eq!(window_start(0, 10), 0);
        assert_eq!(window_start(9, 10), 0);
        assert_eq!(window_start(10, 10), 10);
        assert_eq!(window_start(-1, 10), -10);
        assert_eq!(window_start(i64::MIN, 10), i64::MIN);
        assert_eq!(window_range(10, 10), TimeRange::new(10, 19));
    }
}
