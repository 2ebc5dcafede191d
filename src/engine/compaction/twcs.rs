//! The time-window compaction strategy (TWCS, as in Cassandra and GreptimeDB mito2's
//! `compaction/twcs.rs`): SSTs are bucketed into time windows by their largest timestamp;
//! inside a window, files whose time ranges overlap (more than one sorted run) or that have
//! piled up past a trigger count are merged into one file. The picker is pure: it looks at
//! `FileMeta`s only and does no I/O, so it is tested on synthetic inputs.

use std::collections::BTreeMap;

use crate::engine::sst::file::FileMeta;

/// Candidate window sizes in seconds: 1h, 2h, 12h, 1d, 1w (mito2's inference ladder).
const WINDOW_LADDER_SECONDS: [i64; 5] = [3600, 7200, 43_200, 86_400, 604_800];
/// At most this many input files per compaction task.
pub const MAX_INPUT_FILES: usize = 32;

/// TWCS tuning.
#[derive(Debug, Clone, Copy)]
pub struct TwcsOptions {
    /// A window with at least this many non-overlapping files is merged. Default 4.
    pub trigger_file_num: usize,
}

impl Default for TwcsOptions {
    fn default() -> Self {
        TwcsOptions {
            trigger_file_num: 4,
        }
    }
}

/// One merge to run: `inputs` become one level-1 file.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionTask {
    /// Start of the window (time index unit), aligned to the window size.
    pub window_start: i64,
    /// Files to merge, at least two.
    pub inputs: Vec<FileMeta>,
}

/// Picks compaction tasks (pure function of its inputs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TwcsPicker {
    /// Tuning.
    pub options: TwcsOptions,
}

impl TwcsPicker {
    /// The window size: `configured` if set, else inferred from `files` as the smallest
    /// ladder step covering their whole time span, capped at one week. `units_per_second`
    /// converts seconds into the time index unit (1000 for milliseconds).
    pub fn window_size(configured: Option<i64>, files: &[FileMeta], units_per_second: i64) -> i64 {
        if let Some(window) = configured.filter(|w| *w > 0) {
            return window;
        }
        let min = files.iter().map(|f| f.time_range.min).min().unwrap_or(0);
        let max = files.iter().map(|f| f.time_range.max).max().unwrap_or(0);
        let span = max.saturating_sub(min);
        WINDOW_LADDER_SECONDS
            .iter()
            .map(|s| s.saturating_mul(units_per_second))
            .find(|w| *w > span)
            .unwrap_or(WINDOW_LADDER_SECONDS[4].saturating_mul(units_per_second))
    }

    /// The tasks for `files` with window size `window`. With `force` (a manual
    /// `ADMIN compact_table`), every window holding two or more files is merged.
    pub fn pick(&self, files: &[FileMeta], window: i64, force: bool) -> Vec<CompactionTask> {
        let window = window.max(1);
        let mut buckets: BTreeMap<i64, Vec<FileMeta>> = BTreeMap::new();
        for file in files {
            let start = file
                .time_range
                .max
                .div_euclid(window)
                .saturating_mul(window);
            buckets.entry(start).or_default().push(file.clone());
        }
        let mut tasks = Vec::new();
        for (window_start, mut bucket) in buckets {
            if bucket.len() < 2 {
                continue;
            }
            let overlapping = has_overlap(&mut bucket);
            if force || overlapping || bucket.len() >= self.options.trigger_file_num {
                // Oldest data first so a capped task still merges adjacent files.
                bucket.sort_by_key(|f| (f.time_range.min, f.max_sequence));
                bucket.truncate(MAX_INPUT_FILES);
                tasks.push(CompactionTask {
                    window_start,
                    inputs: bucket,
                });
            }
        }
        tasks
    }
}

/// Whether any two files' time ranges overlap (more than one sorted run).
fn has_overlap(files: &mut [FileMeta]) -> bool {
    files.sort_by_key(|f| f.time_range.min);
    files
        .windows(2)
        .any(|pair| matches!(pair, [a, b] if a.time_range.overlaps(&b.time_range)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sst::file::FileId;
    use crate::engine::time_range::TimeRange;

    fn file(min: i64, max: i64) -> FileMeta {
        FileMeta {
            file_id: FileId::random(),
            level: 0,
            time_range: TimeRange::new(min, max),
            file_size_bytes: 100,
            num_rows: 10,
            num_row_groups: 1,
            max_sequence: 1,
            crc32: 0,
        }
    }

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn infers_the_smallest_covering_window() {
        let files = [file(0, HOUR_MS / 2)];
        assert_eq!(TwcsPicker::window_size(None, &files, 1000), HOUR_MS);
        let files = [file(0, 30 * HOUR_MS)];
        assert_eq!(
            TwcsPicker::window_size(None, &files, 1000),
            7 * 24 * HOUR_MS
        );
        assert_eq!(TwcsPicker::window_size(Some(5), &files, 1000), 5);
    }

    #[test]
    fn merges_overlapping_runs_only_within_a_window() {
        let picker = TwcsPicker::default();
        // Window 0: two overlapping files. Window 1: one file.
        let files = [file(0, 10), file(5, 20), file(HOUR_MS, HOUR_MS + 5)];
        let tasks = picker.pick(&files, HOUR_MS, false);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].window_start, 0);
        assert_eq!(tasks[0].inputs.len(), 2);
    }

    #[test]
    fn non_overlapping_files_wait_for_the_trigger_unless_forced() {
        let picker = TwcsPicker::default();
        let files = [file(0, 1), file(2, 3), file(4, 5)];
        assert!(picker.pick(&files, HOUR_MS, false).is_empty());
        assert_eq!(picker.pick(&files, HOUR_MS, true).len(), 1);
        let files = [file(0, 1), file(2, 3), file(4, 5), file(6, 7)];
        assert_eq!(picker.pick(&files, HOUR_MS, false)[0].inputs.len(), 4);
    }

    #[test]
    fn negative_timestamps_bucket_correctly() {
        let picker = TwcsPicker::default();
        let tasks = picker.pick(&[file(-10, -5), file(-7, -1)], HOUR_MS, false);
        assert_eq!(tasks[0].window_start, -HOUR_MS);
    }
}
