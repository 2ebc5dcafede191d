//! Series runs of an SST: how many consecutive rows each series (one combination of tag
//! values) has, in file order.
//!
//! SST rows are sorted by `(tags, ts)`, so every series is one run of rows. The writer counts
//! the runs as it writes ([`SeriesRuns`]) and records them in the footer under
//! [`SERIES_ROWS_KEY`] (docs/FORMAT.md "Series runs"), so that a last-row read
//! (`super::last_row`) finds the newest row of every series without decoding any tag. Files
//! written before the key existed get their runs computed from the tag columns on read.
//!
//! This is tsdb's form of what mito2 gets from its encoded primary-key column
//! (`src/mito2/src/read/last_row.rs` selects the last row where the key changes).

use arrow::array::{Array, ArrayRef};
use arrow::compute::concat;
use arrow::compute::kernels::partition::partition;
use arrow::error::ArrowError;

/// Footer key-value metadata key of the series runs: decimal row counts separated by `,`,
/// one per series in file order, summing to the file's row count.
pub const SERIES_ROWS_KEY: &str = "tsdb:series_rows";

/// Counts the series runs of sorted batches, across batch boundaries.
#[derive(Debug, Default)]
pub struct SeriesRuns {
    /// Rows of each run so far.
    lengths: Vec<u64>,
    /// The tag values of the last row seen (1-row arrays), to continue a run into the next
    /// batch.
    last: Option<Vec<ArrayRef>>,
}

impl SeriesRuns {
    /// No rows yet.
    pub fn new() -> Self {
        SeriesRuns::default()
    }

    /// Adds the next `rows` rows, whose tag columns (primary-key order, all the same length)
    /// are `tags`; with no tags every row belongs to one series.
    ///
    /// # Errors
    /// Arrow errors comparing the columns (e.g. columns of different types between batches).
    pub fn push(&mut self, tags: &[ArrayRef], rows: usize) -> Result<(), ArrowError> {
        if rows == 0 {
            return Ok(());
        }
        if tags.is_empty() {
            match self.lengths.last_mut() {
                Some(length) => *length += rows as u64,
                None => self.lengths.push(rows as u64),
            }
            return Ok(());
        }
        let ranges = partition(tags)?.ranges();
        let continues = match &self.last {
            Some(last) => {
                // The previous row and this batch's first row, as 2-row columns.
                let mut pair = Vec::with_capacity(tags.len());
                for (previous, column) in last.iter().zip(tags) {
                    pair.push(concat(&[previous.as_ref(), column.slice(0, 1).as_ref()])?);
                }
                partition(&pair)?.len() == 1
            }
            None => false,
        };
        for (i, range) in ranges.iter().enumerate() {
            let length = range.len() as u64;
            match self.lengths.last_mut() {
                Some(last) if i == 0 && continues => *last += length,
                _ => self.lengths.push(length),
            }
        }
        self.last = Some(tags.iter().map(|c| c.slice(rows - 1, 1)).collect());
        Ok(())
    }

    /// Rows of each series run, in order.
    pub fn finish(self) -> Vec<u64> {
        self.lengths
    }
}

/// The [`SERIES_ROWS_KEY`] value of `lengths`.
pub fn encode(lengths: &[u64]) -> String {
    let mut text = String::with_capacity(lengths.len() * 5);
    for (i, length) in lengths.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&length.to_string());
    }
    text
}

/// Parses a [`SERIES_ROWS_KEY`] value; `None` if it is malformed, has a zero-length run or
/// does not sum to `num_rows` (the reader then computes the runs from the tags).
pub fn decode(text: &str, num_rows: u64) -> Option<Vec<u64>> {
    if text.is_empty() {
        return (num_rows == 0).then(Vec::new);
    }
    let mut lengths = Vec::new();
    let mut total = 0u64;
    for part in text.split(',') {
        let length: u64 = part.parse().ok()?;
        if length == 0 {
            return None;
        }
        total = total.checked_add(length)?;
        lengths.push(length);
    }
    (total == num_rows).then_some(lengths)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;

    use super::*;

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn runs_continue_across_batches_and_nulls_are_one_value() {
        let mut runs = SeriesRuns::new();
        let a = strings(&[Some("a"), Some("a"), Some("b")]);
        let x = strings(&[Some("x"), Some("y"), Some("y")]);
        runs.push(&[a, x], 3).unwrap();
        // Continues (b, y), then a NULL host twice (one series), then c.
        let a = strings(&[Some("b"), None, None, Some("c")]);
        let x = strings(&[Some("y"), Some("y"), Some("y"), Some("y")]);
        runs.push(&[a, x], 4).unwrap();
        assert_eq!(runs.finish(), vec![1, 1, 2, 2, 1]);
    }

    #[test]
    fn a_new_series_at_a_batch_boundary_starts_a_run() {
        let mut runs = SeriesRuns::new();
        runs.push(&[strings(&[Some("a"), Some("a")])], 2).unwrap();
        runs.push(&[strings(&[Some("b")])], 1).unwrap();
        assert_eq!(runs.finish(), vec![2, 1]);
    }

    #[test]
    fn no_tags_is_one_series() {
        let mut runs = SeriesRuns::new();
        runs.push(&[], 5).unwrap();
        runs.push(&[], 2).unwrap();
        assert_eq!(runs.finish(), vec![7]);
    }

    #[test]
    fn encode_decode_round_trip_and_rejects_bad_text() {
        let lengths = vec![1080, 3, 1];
        assert_eq!(encode(&lengths), "1080,3,1");
        assert_eq!(decode("1080,3,1", 1084), Some(lengths));
        assert_eq!(decode("", 0), Some(vec![]));
        assert_eq!(decode("1080,3,1", 1085), None);
        assert_eq!(decode("1,0,2", 3), None);
        assert_eq!(decode("1,x", 2), None);
        assert_eq!(decode("", 3), None);
    }
}
