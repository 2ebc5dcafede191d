//! [`TagFilter`]: tag predicates a scan pushes into the engine, used to skip SST row groups;
//! [`FieldFilter`]: comparisons of float fields with constants, evaluated while an SST is
//! decoded so that the other columns are decoded only for matching rows.
//!
//! Rows in an SST are sorted by tags, so a row group covers a narrow range of the first tags
//! and its Parquet min/max statistics rule most groups out for `host = 'x'` or
//! `host IN (...)`. Pruning is the only effect: the rows of the groups that are read are not
//! filtered here, so callers still apply the predicate (DataFusion does, as the filter is
//! pushed down "inexact"). Pruning before the merge is safe because every version of a row
//! and its tombstones share its tags, hence the same row-group ranges.

use arrow::array::{Array, BooleanArray, Float64Array};
use arrow::compute::kernels::cmp::{eq, gt, gt_eq, lt, lt_eq, neq};
use arrow::compute::prep_null_mask_filter;
use arrow::error::ArrowError;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

/// A comparison operator of a [`FieldFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
}

/// `column op value` on a DOUBLE field: a hint like [`TagFilter`] (rows that fail it may still
/// be returned, so callers apply it too), used only where no other version of a row can exist
/// (an SST read without the merge: mito2 applies field filters after its merge for the same
/// reason, `src/mito2/src/read/prune.rs`). Evaluated with arrow's comparison kernels, as
/// DataFusion evaluates the same predicate, so NaN and -0.0 compare alike; NULL never matches.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    /// Name of the field column (Float64).
    pub column: String,
    /// The comparison.
    pub op: CompareOp,
    /// The constant on the right-hand side.
    pub value: f64,
}

impl FieldFilter {
    /// Which rows of `values` (a Float64 array) satisfy the filter (NULL: false).
    ///
    /// # Errors
    /// An arrow error if `values` is not Float64.
    pub fn evaluate(&self, values: &dyn Array) -> Result<BooleanArray, ArrowError> {
        let constant = Float64Array::new_scalar(self.value);
        let values: &dyn arrow::array::Datum = &values;
        let mask = match self.op {
            CompareOp::Lt => lt(values, &constant),
            CompareOp::LtEq => lt_eq(values, &constant),
            CompareOp::Gt => gt(values, &constant),
            CompareOp::GtEq => gt_eq(values, &constant),
            CompareOp::Eq => eq(values, &constant),
            CompareOp::NotEq => neq(values, &constant),
        }?;
        Ok(if mask.null_count() > 0 {
            prep_null_mask_filter(&mask)
        } else {
            mask
        })
    }
}

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
