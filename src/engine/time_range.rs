//! Time ranges over the time index, in the time index column's own unit.

use serde::{Deserialize, Serialize};

/// A closed interval `[min, max]` of timestamps (in the time index's unit), e.g. the range an
/// SST covers. Used for file pruning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// Smallest timestamp, inclusive.
    pub min: i64,
    /// Largest timestamp, inclusive.
    pub max: i64,
}

impl TimeRange {
    /// The interval `[min, max]`.
    pub fn new(min: i64, max: i64) -> Self {
        TimeRange { min, max }
    }

    /// Every timestamp.
    pub fn all() -> Self {
        TimeRange {
            min: i64::MIN,
            max: i64::MAX,
        }
    }

    /// Whether the interval contains no timestamp.
    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// Whether the two intervals share at least one timestamp.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.min <= other.max && other.min <= self.max
    }

    /// Whether `ts` is inside the interval.
    pub fn contains(&self, ts: i64) -> bool {
        self.min <= ts && ts <= self.max
    }

    /// The intersection of both intervals (possibly empty).
    pub fn intersect(&self, other: &TimeRange) -> TimeRange {
        TimeRange {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// The smallest interval covering both.
    pub fn union(&self, other: &TimeRange) -> TimeRange {
        TimeRange {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_inclusive() {
        assert!(TimeRange::new(0, 10).overlaps(&TimeRange::new(10, 20)));
        assert!(!TimeRange::new(0, 9).overlaps(&TimeRange::new(10, 20)));
        assert!(!TimeRange::new(5, 1).overlaps(&TimeRange::all()));
    }
}
