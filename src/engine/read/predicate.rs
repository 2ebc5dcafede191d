//! [`TagFilter`]: tag predicates a scan pushes into the engine, used to skip SST row groups.
//!
//! Rows in an SST are sorted by tags, so a row group covers a narrow range of the first tags
//! and its Parquet min/max statistics rule most groups out for `host = 'x'` or
//! `host IN (...)`. Pruning is the only effect: the rows of the groups that are read are not
//! filtered here, so callers still apply the predicate (DataFusion does, as the filter is
//! pushed down "inexact"). Pruning before the merge is safe because every version of a row
//! and its tombstones share its tags, hence the same row-group ranges.

use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

/// `column IN (values)` on a string tag column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// Name of the tag column.
    pub column: String,
    /// The accepted values (one for `=`).
    pub values: Vec<String>,
}

impl TagFilter {
    /// Whether a row group whose column chunk has these statistics may hold a matching row (true when the statistics are missing or not byte-array min/max).
    fn may_match(&self, statistics: Option<&Statistics>) -> bool {
        let Some(Statistics::ByteArray(stats)) = statistics else {
            return true;
        };
        let (Some(min), Some(max)) = (stats.min_opt(), stats.max_opt()) else {
            return true;
        };
        // Truncated statistics still bound the values: min is a prefix, max rounded up.
        self.values
            .iter()
            .any(|value| min.data() <= value.as_bytes() && value.as_bytes() <= max.data())
    }
}

/// Whether row group `row_group` may hold rows matching every filter. `leaf_of` maps a column
/// name to its leaf column index in the file; a column the file lacks prunes nothing.
pub fn row_group_may_match(
    row_group: &RowGroupMetaData,
    filters: &[TagFilter],
    leaf_of: impl Fn(&str) -> Option<usize>,
) -> bool {
    filters.iter().all(|filter| {
        let statistics = leaf_of(&filter.column)
            .and_then(|leaf| row_group.columns().get(leaf))
            .and_then(|chunk| chunk.statistics());
        filter.may_match(statistics)
    })
}

#[cfg(test)]
mod tests {
    use parquet::data_type::ByteArray;

    use super::*;

    fn stats(min: &str, max: &str) -> Statistics {
        Statistics::byte_array(
            Some(ByteArray::from(min)),
            Some(ByteArray::from(max)),
            None,
            Some(0),
            false,
        )
    }

    #[test]
    fn row_groups_outside_the_values_are_ruled_out() {
        let filter = TagFilter {
            column: "host".to_string(),
            values: vec!["host_7".to_string(), "host_70".to_string()],
        };
        assert!(filter.may_match(Some(&stats("host_6", "host_8"))));
        assert!(filter.may_match(Some(&stats("host_7", "host_7"))));
        assert!(!filter.may_match(Some(&stats("host_0", "host_69"))));
        assert!(!filter.may_match(Some(&stats("host_71", "host_9"))));
        // Without usable statistics nothing is ruled out.
        assert!(filter.may_match(None));
        assert!(filter.may_match(Some(&Statistics::int64(
            Some(1),
            Some(2),
            None,
            Some(0),
            false
        ))));
    }
}
