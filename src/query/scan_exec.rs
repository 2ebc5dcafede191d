//! [`RegionScanExec`]: the DataFusion leaf that streams a region scan.
//!
//! Bounded, incremental, one or more partitions: partition `i` scans the `i`-th of disjoint,
//! ordered sub-ranges of the request's time range whose union is the whole range (chosen at
//! planning by [`split_time_range`] so each holds about the same rows). A row has one
//! timestamp, so exactly one partition returns it; a memtable or SST overlapping two
//! sub-ranges is read by both, each keeping only its own rows (the engine applies the time
//! range exactly). No output ordering is declared. `execute` calls [`Region::scan`] (which
//! snapshots the region) and forwards its batches as they come. Engine errors become
//! `DataFusionError::External` (see [`super::error`]).
//!
//! Statistics (row count, byte size, time-index bounds; all inexact) come from the version's
//! metadata: see [`super::scan_plan`].
//!
//! [`Region::scan`]: crate::engine::region::Region::scan

use std::fmt;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
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
use crate::query::scan_plan::{scan_statistics, source_extents, split_time_range};

/// Scans one region: projection, time range and limit are pushed into the engine.
#[derive(Debug)]
pub struct RegionScanExec {
    table: String,
    region: RegionRef,
    /// Indexes into the table's columns; `None` for all.
    projection: Option<Vec<usize>>,
    time_range: TimeRange,
    /// Disjoint, ordered sub-ranges of `time_range` covering it: one per output partition.
    partitions: Vec<TimeRange>,
    /// Name of the time index column (for its statistics).
    time_index: String,
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
        let time_index = region.metadata().time_index_column().name.clone();
        RegionScanExec {
            table: table.into(),
            region,
            projection,
            time_range,
            partitions: vec![time_range],
            time_index,
            limit,
            tag_filters: Vec::new(),
            properties: Arc::new(properties(&schema, 1)),
            schema,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Splits the scan into up to `target` partitions of at least `min_rows` estimated rows
    /// each, by time (see the module docs). A scan with a limit stays one partition (it reads
    /// little, and one partition stops after `limit` rows).
    pub fn with_partitions(mut self, target: usize, min_rows: u64) -> Self {
        if self.limit.is_some() || target <= 1 || self.time_range.is_empty() {
            return self;
        }
        let sources = source_extents(&self.region);
        self.partitions = split_time_range(&sources, self.time_range, target, min_rows);
        self.properties = Arc::new(properties(&self.schema, self.partitions.len()));
        self
    }

    /// The time ranges of the output partitions, in partition order.
    pub fn partitions(&self) -> &[TimeRange] {
        &self.partitions
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

    fn partition_range(&self, partition: usize) -> Result<&TimeRange> {
        self.partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "RegionScanExec has {} partitions, got partition {partition}",
                self.partitions.len()
            ))
        })
    }

    /// The row limit hint pushed into the engine.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }
}

/// Plan properties of a scan with `partitions` output partitions and no known ordering.
fn properties(schema: &SchemaRef, partitions: usize) -> PlanProperties {
    PlanProperties::new(
        EquivalenceProperties::new(schema.clone()),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    )
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
                if self.partitions.len() > 1 {
                    write!(f, ", partitions={}", self.partitions.len())?;
                }
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

    /// Row count and byte size (estimated pro rata from the memtables and SSTs overlapping
    /// the partition's time range, before deduplication and capped by the limit) and the time
    /// index's bounds; all inexact. `None` = the whole scan.
    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let range = match args.partition() {
            None => self.time_range,
            Some(partition) => *self.partition_range(partition)?,
        };
        let sources = source_extents(&self.region);
        Ok(Arc::new(scan_statistics(
            &self.schema,
            &self.time_index,
            &sources,
            range,
            self.limit,
        )))
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
        let time_range = *self.partition_range(partition)?;
        let schema = self.schema.clone();
        if time_range.is_empty() || self.limit == Some(0) {
            let empty = futures::stream::empty();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, empty)));
        }
        let request = ScanRequest {
            projection: self.projection.clone(),
            time_range,
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
