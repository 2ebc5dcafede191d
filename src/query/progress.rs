//! [`Progress`]: how far the running statement has read, for progress bars.
//!
//! The statement's physical plan is attached when it starts; a snapshot walks the plan's
//! leaves (the scans: region scans, CSV/Parquet/JSON file scans, VALUES) and sums their
//! `output_rows` metric. The total comes from the leaves' row-count statistics, known exactly
//! for Parquet files and VALUES and as an upper bound for region scans; a CSV or JSON file
//! has none, so its progress has no total. Like DuckDB's progress bar, this measures input
//! read, not output produced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// A shared handle the caller keeps while a statement runs (see
/// [`crate::Database::execute_with_progress`]); cloning shares it. Polling is cheap: a walk
/// over the plan's nodes reading atomic counters.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    state: Arc<Mutex<Option<Attached>>>,
    /// A total given by the statement when the plan's statistics have none (a CSV file's
    /// rows estimated from its size); 0 = none.
    estimated_total: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Attached {
    plan: Arc<dyn ExecutionPlan>,
    total_rows: Option<u64>,
}

/// What a running statement has read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Rows produced by the plan's leaf scans so far.
    pub rows: u64,
    /// Rows the leaves will produce in all, if every leaf knows (exactly or as an upper bound).
    pub total_rows: Option<u64>,
}

impl Progress {
    /// A handle with nothing attached yet.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Attaches the plan about to run (replacing an earlier one) and computes its total.
    pub(crate) fn attach(&self, plan: Arc<dyn ExecutionPlan>) {
        let total_rows = leaf_total_rows(plan.as_ref());
        if let Ok(mut state) = self.state.lock() {
            *state = Some(Attached { plan, total_rows });
        }
    }

    /// Sets the total to show when the plan's statistics do not know it.
    pub(crate) fn set_total_estimate(&self, rows: u64) {
        self.estimated_total.store(rows, Ordering::Relaxed);
    }

    /// Rows read so far and the total if known; `None` before a plan runs (DDL, planning).
    pub fn snapshot(&self) -> Option<ProgressSnapshot> {
        let state = self.state.lock().ok()?;
        let attached = state.as_ref()?;
        let rows = leaf_rows(attached.plan.as_ref());
        let estimate = match self.estimated_total.load(Ordering::Relaxed) {
            0 => None,
            rows => Some(rows),
        };
        Some(ProgressSnapshot {
            rows,
            // Estimates can be passed; never show more than 100%.
            total_rows: attached
                .total_rows
                .or(estimate)
                .map(|total| total.max(rows)),
        })
    }
}

fn leaf_rows(plan: &dyn ExecutionPlan) -> u64 {
    let children = plan.children();
    if children.is_empty() {
        return plan
            .metrics()
            .and_then(|metrics| metrics.output_rows())
            .map_or(0, |rows| rows as u64);
    }
    children.iter().map(|child| leaf_rows(child.as_ref())).sum()
}

fn leaf_total_rows(plan: &dyn ExecutionPlan) -> Option<u64> {
    let children = plan.children();
    if children.is_empty() {
        let statistics = StatisticsContext::new()
            .compute(plan, &StatisticsArgs::new())
            .ok()?;
        return statistics.num_rows.get_value().map(|rows| *rows as u64);
    }
    children
        .iter()
        .map(|child| leaf_total_rows(child.as_ref()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    #[tokio::test]
    async fn counts_rows_read_by_the_scans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(dir.path()).await.expect("open");
        db.execute("CREATE TABLE t (h STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, PRIMARY KEY(h))")
            .await
            .expect("create");
        db.execute("INSERT INTO t VALUES ('a', 1, 1.0), ('a', 2, 2.0), ('b', 1, 3.0)")
            .await
            .expect("insert");

        let progress = Progress::new();
        assert_eq!(progress.snapshot(), None);
        // (`v + 0.0`: a filter DataFusion applies, so the scan returns every row.)
        db.execute_with_progress("SELECT count(*) FROM t WHERE v + 0.0 > 1.5", &progress)
            .await
            .expect("query");
        assert_eq!(
            progress.snapshot(),
            Some(ProgressSnapshot {
                rows: 3,
                total_rows: Some(3)
            })
        );

        // A VALUES list planned by DataFusion knows its total (it keeps no row metric).
        let progress = Progress::new();
        db.execute_with_progress(
            "INSERT INTO t SELECT column1, column2, column3 FROM (VALUES ('c', 1, 4.0), ('c', 2, 5.0))",
            &progress,
        )
        .await
        .expect("insert");
        assert_eq!(progress.snapshot().and_then(|s| s.total_rows), Some(2));
        // INSERT ... VALUES of literals skips the planner: there is no plan to report.
        let progress = Progress::new();
        db.execute_with_progress("INSERT INTO t VALUES ('e', 1, 6.0)", &progress)
            .await
            .expect("insert");
        assert_eq!(progress.snapshot(), None);

        // COPY FROM a CSV file: its rows are counted by the file scan, the total estimated
        // from the file's size and its first lines.
        let csv = dir.path().join("rows.csv");
        let mut text = String::from("h,ts,v\n");
        for i in 0..5000 {
            text.push_str(&format!(
                "d,2024-01-01T00:{:02}:{:02},{i}.0\n",
                i / 60 % 60,
                i % 60
            ));
        }
        std::fs::write(&csv, text).expect("write csv");
        let progress = Progress::new();
        let copy = format!("COPY t FROM '{}' WITH (FORMAT = 'csv')", csv.display());
        db.execute_with_progress(&copy, &progress)
            .await
            .expect("copy");
        let snapshot = progress.snapshot().expect("attached");
        assert_eq!(snapshot.rows, 5000);
        let total = snapshot.total_rows.expect("estimated");
        assert!((5000..=5500).contains(&total), "{total}");
        db.close().await.expect("close");
    }
}
