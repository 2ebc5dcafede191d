//! [`RegionScanExec`]: the DataFusion leaf that streams a region scan.
//!
//! One partition, bounded, incremental: `execute` calls [`Region::scan`] (which snapshots the
//! region) and forwards its batches as they come. Engine errors become
//! `DataFusionError::External` (see [`super::error`]).
//!
//! [`Region::scan`]: crate::engine::region::Region::scan

use std::fmt;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use crate::engine::region::{RegionRef, ScanRequest, TagFilter};
use crate::engine::time_range::TimeRange;
use crate::query::error::engine_to_datafusion;

/// Scans one region: projection, time range and limit are pushed into the engine.
#[derive(Debug)]
pub struct RegionScanExec {
    table: String,
    region: RegionRef,
    /// Indexes into the table's columns; `None` for all.
    projection: Option<Vec<usize>>,
    time_range: TimeRange,
    limit: Option<usize>,
    /// Tag predicates the engine uses to skip SST row groups (DataFusion still filters rows).
    tag_filters: Vec<TagFilter>,
    /// Schema of the output (the projected table schema).
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    /// `output_rows` and `elapsed_compute`: shown by EXPLAIN ANALYZE, polled for progress.
    metrics: ExecutionPlanMetricsSet,
}

impl RegionScanExec {
    /// A scan of `region` (table `table`) producing `schema`, which must be the table schema
    /// projected by `projection`.
    pub fn new(
        table: impl Into<String>,
        region: RegionRef,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        time_range: TimeRange,
        limit: Option<usize>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        RegionScanExec {
            table: table.into(),
            region,
            projection,
            time_range,
            limit,
            tag_filters: Vec::new(),
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Also pushes `tag_filters` into the engine (for row-group pruning only).
    pub fn with_tag_filters(mut self, tag_filters: Vec<TagFilter>) -> Self {
        self.tag_filters = tag_filters;
        self
    }

    /// The time range pushed into the engine.
    pub fn time_range(&self) -> TimeRange {
        self.time_range
    }

    /// The column indexes pushed into the engine (`None` = all).
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// The row limit hint pushed into the engine.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }
}

impl DisplayAs for RegionScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let range = if self.time_range == TimeRange::all() {
            "all".to_string()
        } else if self.time_range.is_empty() {
            "empty".to_string()
        } else {
            let bound = |v: i64, unbounded: i64| {
                if v == unbounded {
                    String::new()
                } else {
                    v.to_string()
                }
            };
            format!(
                "[{}, {}]",
                bound(self.time_range.min, i64::MIN),
                bound(self.time_range.max, i64::MAX)
            )
        };
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "RegionScanExec: table={}, projection=[{}], time_range={}",
                    self.table,
                    columns.join(", "),
                    range
                )?;
                if let Some(limit) = self.limit {
                    write!(f, ", limit={limit}")?;
                }
                for filter in &self.tag_filters {
                    write!(
                        f,
                        ", prune_by={} IN ({})",
                        filter.column,
                        filter.values.join(", ")
                    )?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "table={}", self.table)?;
                writeln!(f, "projection=[{}]", columns.join(", "))?;
                write!(f, "time_range={range}")
            }
        }
    }
}

impl ExecutionPlan for RegionScanExec {
    fn name(&self) -> &str {
        "RegionScanExec"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// Row count: inexact, the engine's upper bound for the time range (rows in overlapping
    /// memtables and SSTs, before deduplication and the limit).
    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        if let Some(partition) = args.partition()
            && partition != 0
        {
            return datafusion::common::internal_err!(
                "RegionScanExec has one partition, got partition {partition}"
            );
        }
        let rows = if self.time_range.is_empty() || self.limit == Some(0) {
            0
        } else {
            usize::try_from(self.region.estimated_rows(self.time_range)).unwrap_or(usize::MAX)
        };
        let rows = self.limit.map_or(rows, |limit| rows.min(limit));
        Ok(Arc::new(
            Statistics::new_unknown(&self.schema).with_num_rows(Precision::Inexact(rows)),
        ))
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return datafusion::common::internal_err!(
                "RegionScanExec has one partition, got partition {partition}"
            );
        }
        let schema = self.schema.clone();
        if self.time_range.is_empty() || self.limit == Some(0) {
            let empty = futures::stream::empty();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, empty)));
        }
        let request = ScanRequest {
            projection: self.projection.clone(),
            time_range: self.time_range,
            limit: self.limit,
            tag_filters: self.tag_filters.clone(),
        };
        let (_engine_schema, stream) = self.region.scan(request).map_err(engine_to_datafusion)?;
        let out_schema = schema.clone();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = stream
            .map_err(engine_to_datafusion)
            .inspect_ok(move |batch| baseline.record_output(batch.num_rows()))
            .and_then(move |batch| {
                // Re-label batches whose schema differs only in metadata or nullability flags.
                let result = if batch.schema() == out_schema {
                    Ok(batch)
                } else {
                    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                    RecordBatch::try_new_with_options(
                        out_schema.clone(),
                        batch.columns().to_vec(),
                        &options,
                    )
                    .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))
                };
                futures::future::ready(result)
            })
            .boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
