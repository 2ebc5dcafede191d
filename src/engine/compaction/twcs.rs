//! The time-window compaction strategy (TWCS, as in Cassandra and GreptimeDB mito2's
//! `compaction/twcs.rs`). The picker is pure: it looks at `FileMeta`s only and does no I/O, so
//! it is tested on synthetic inputs.
//!
//! 1. Files are assigned to time windows by their largest timestamp (mito2's
//!    `assign_to_windows`).
//! 2. Windows whose files' time ranges overlap are joined into one cluster (a connected
//!    component of the interval-overlap graph). Flush and compaction write files that lie
//!    inside one window, so a cluster spans several windows only when a file does (an SST
//!    written before windowed flushes, or with another window size); mito2 instead keeps such
//!    windows apart and only refuses to drop tombstones (`window_has_overlap`), which leaves
//!    the overlap in place.
//! 3. A cluster is merged when its files overlap (more than one sorted run), when one window
//!    has piled up `trigger_file_num` files, or, with `force` (`ADMIN compact_table`), when it
//!    holds two files or a file straddling a window boundary. The runner writes one output per
//!    window ([`super::split`]), so afterwards the files of a cluster are pairwise disjoint.
//!
//! Tombstones are dropped only if every file overlapping the inputs is an input (mito2's
//! `overlaps_files_left_behind`; checked by the runner, since [`MAX_INPUT_FILES`] may cut a
//! cluster).

use std::collections::BTreeMap;

use crate::engine::compaction::window::window_start;
use crate::engine::sst::file::FileMeta;
use crate::engine::time_range::TimeRange;

/// At most this many input files per compaction task (mito2's `DEFAULT_MAX_INPUT_FILE_NUM`).
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

/// One merge to run: `inputs` become one file per window holding their rows.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionTask {
    /// Starts (time index unit, aligned to the window size) of the windows the inputs are
    /// assigned to by their largest timestamp, ascending.
    pub windows: Vec<i64>,
    /// Files to merge, oldest data first; one file only if it straddles a window boundary.
    pub inputs: Vec<FileMeta>,
}

/// Picks compaction tasks (pure function of its inputs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TwcsPicker {
    /// Tuning.
    pub options: TwcsOptions,
}

/// The files assigned to one window.
struct Bucket {
    start: i64,
    range: TimeRange,
    files: Vec<FileMeta>,
}

impl TwcsPicker {
    /// The tasks for `files` with window size `window` (time index unit, > 0). Tasks are
    /// disjoint: no file is the input of two tasks, and no two tasks' inputs overlap in time.
    pub fn pick(&self, files: &[FileMeta], window: i64, force: bool) -> Vec<CompactionTask> {
        let window = window.max(1);
        let mut tasks = Vec::new();
        for cluster in clusters(assign_to_windows(files, window)) {
            let mut inputs: Vec<FileMeta> = cluster
                .iter()
                .flat_map(|b| b.files.iter().cloned())
                .collect();
            let straddles = inputs.iter().any(|f| {
                window_start(f.time_range.min, window) != window_start(f.time_range.max, window)
            });
            let crowded = cluster
                .iter()
                .any(|b| b.files.len() >= self.options.trigger_file_num.max(2));
            let wanted = if inputs.len() >= 2 {
                force || crowded || has_overlap(&mut inputs)
            } else {
                force && straddles
            };
            if !wanted {
                continue;
            }
            // Oldest data first so a capped task still merges adjacent files.
            inputs.sort_by_key(|f| (f.time_range.min, f.max_sequence));
            inputs.truncate(MAX_INPUT_FILES);
            tasks.push(CompactionTask {
                windows: cluster.iter().map(|b| b.start).collect(),
                inputs,
            });
        }
        tasks
    }
}

/// Buckets `files` by the window of their largest timestamp, in window order.
fn assign_to_windows(files: &[FileMeta], window: i64) -> Vec<Bucket> {
    let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
    for file in files {
        let start = window_start(file.time_range.max, window);
        let bucket = buckets.entry(start).or_insert_with(|| Bucket {
            start,
            range: file.time_range,
            files: Vec::new(),
        });
        bucket.range = bucket.range.union(&file.time_range);
        bucket.files.push(file.clone());
    }
    buckets.into_values().collect()
}

/// Groups buckets whose time ranges overlap, directly or through others (a sweep over the
/// ranges sorted by start), each group in window order.
fn clusters(mut buckets: Vec<Bucket>) -> Vec<Vec<Bucket>> {
    buckets.sort_by_key(|b| (b.range.min, b.start));
    let mut clusters: Vec<(i64, Vec<Bucket>)> = Vec::new();
    for bucket in buckets {
        match clusters.last_mut() {
            Some((max, cluster)) if bucket.range.min <= *max => {
                *max = (*max).max(bucket.range.max);
                cluster.push(bucket);
            }
            _ => clusters.push((bucket.range.max, vec![bucket])),
        }
    }
    clusters
        .into_iter()
        .map(|(_, mut cluster)| {
            cluster.sort_by_key(|b| b.start);
            cluster
        })
        .collect()
}

/// Whether any two files' time ranges overlap (more than one sorted run).
fn has_overlap(files: &mut [FileMeta]) -> bool {
    files.sort_by_key(|f| (f.time_range.min, f.time_range.max));
    let mut max = None;
    for file in files.iter() {
        if max.is_some_and(|m| file.time_range.min <= m) {
            return true;
        }
        max = Some(max.map_or(file.time_range.max, |m: i64| m.max(file.time_range.max)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sst::file::FileId;

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
            footer: None,
        }
    }

    const HOUR: i64 = 3_600_000;

    fn ranges(task: &CompactionTask) -> Vec<(i64, i64)> {
        task.inputs
            .iter()
            .map(|f| (f.time_range.min, f.time_range.max))
            .collect()
    }

    #[test]
    fn merges_overlapping_runs_only_within_a_window() {
        let picker = TwcsPicker::default();
        // Window 0: two overlapping files. Window 1: one file.
        let files = [file(0, 10), file(5, 20), file(HOUR, HOUR + 5)];
        let tasks = picker.pick(&files, HOUR, false);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].windows, vec![0]);
        assert_eq!(ranges(&tasks[0]), vec![(0, 10), (5, 20)]);
    }

    #[test]
    fn non_overlapping_files_wait_for_the_trigger_unless_forced() {
        let picker = TwcsPicker::default();
        let files = [file(0, 1), file(2, 3), file(4, 5)];
        assert!(picker.pick(&files, HOUR, false).is_empty());
        assert_eq!(picker.pick(&files, HOUR, true).len(), 1);
        let files = [file(0, 1), file(2, 3), file(4, 5), file(6, 7)];
        assert_eq!(picker.pick(&files, HOUR, false)[0].inputs.len(), 4);
        // One file per window, none straddling: nothing to do even when forced.
        let files = [file(0, 1), file(HOUR, HOUR + 1)];
        assert!(picker.pick(&files, HOUR, true).is_empty());
    }

    /// The layout a CSV load read as two interleaved partitions used to leave: files bucketed
    /// by their largest timestamp into different windows but overlapping each other. They
    /// form one task, whose output the runner cuts per window.
    #[test]
    fn files_overlapping_across_windows_are_merged_together() {
        let picker = TwcsPicker::default();
        let files = [
            file(0, HOUR + HOUR / 2),
            file(HOUR / 2, 2 * HOUR + 10),
            file(5 * HOUR, 5 * HOUR + 1),
        ];
        let tasks = picker.pick(&files, HOUR, false);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].windows, vec![HOUR, 2 * HOUR]);
        assert_eq!(tasks[0].inputs.len(), 2);
        // A chain: a overlaps b, b overlaps c, a and c do not.
        let files = [
            file(0, HOUR + 1),
            file(HOUR, 2 * HOUR + 1),
            file(2 * HOUR, 2 * HOUR + 2),
        ];
        let tasks = picker.pick(&files, HOUR, false);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].inputs.len(), 3);
    }

    #[test]
    fn a_lone_file_straddling_windows_is_cut_only_when_forced() {
        let picker = TwcsPicker::default();
        let files = [file(0, 3 * HOUR)];
        assert!(picker.pick(&files, HOUR, false).is_empty());
        let tasks = picker.pick(&files, HOUR, true);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].windows, vec![3 * HOUR]);
    }

    #[test]
    fn tasks_are_disjoint_and_capped() {
        let picker = TwcsPicker::default();
        let mut files: Vec<_> = (0..40).map(|i| file(i, i + 100)).collect();
        files.push(file(HOUR, HOUR + 1));
        files.push(file(HOUR + 1, HOUR + 2));
        let tasks = picker.pick(&files, HOUR, false);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].inputs.len(), MAX_INPUT_FILES);
        assert_eq!(tasks[0].inputs[0].time_range.min, 0);
        assert_eq!(
            ranges(&tasks[1]),
            vec![(HOUR, HOUR + 1), (HOUR + 1, HOUR + 2)]
        );
    }

    #[test]
    fn negative_timestamps_bucket_correctly() {
        let picker = TwcsPicker::default();
        let tasks = picker.pick(&[file(-10, -5), file(-7, -1)], HOUR, false);
        assert_eq!(tasks[0].windows, vec![-HOUR]);
    }
}
