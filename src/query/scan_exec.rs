//! [`RegionScanExec`]: the DataFusion leaf that streams a region scan.
//!
//! Bounded, incremental, one or more partitions. Usually partition `i` scans the `i`-th of
//! disjoint, ordered sub-ranges of the request's time range whose union is the whole range
//! (chosen at planning by [`split_time_range`]: cut only between runs of overlapping sources,
//! about the same rows each). A row has one timestamp, so exactly one partition returns it; a
//! memtable or SST that overlaps two sub-ranges at execution (written after planning) is read
//! by both, each keeping only its own rows (the engine applies the time range exactly). When
//! no cut between runs balances the partitions ([`split_is_uneven`]: a few large files),
//! partition `i` instead reads stripe `i` of the whole range ([`Stripe`]: row groups of
//! single-file runs dealt round, other runs whole). No output ordering is declared.
//!
//! All partitions read one [`ScanSnapshot`], taken when the first of them starts, so a query
//! sees the same writes in every partition and stripes agree on the sources they share out.
//! `execute` calls [`Region::scan`] and forwards its batches as they come. Engine errors
//! become `DataFusionError::External` (see [`super::error`]).
//!
//! Statistics (row count, byte size, time-index bounds; all inexact) come from the version's
//! metadata: see [`super::scan_plan`].
//!
//! [`Region::scan`]: crate::engine::region::Region::scan

use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::Statistics;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::DynamicFilterTracking;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::engine::region::scan_metrics::ScanMetrics;
use crate::engine::region::{
    FieldFilter, RegionRef, ScanRequest, ScanSnapshot, SeriesRowSelector, Stripe, TagFilter,
};
use crate::engine::time_range::TimeRange;
use crate::query::dynamic_filter::dynamic_time_range;
use crate::query::error::engine_to_datafusion;
use crate::query::scan_plan::{scan_statistics, source_extents, split_is_uneven, split_time_range};

/// Scans one region: projection, time range and limit are pushed into the engine.
#[derive(Debug, Clone)]
pub struct RegionScanExec {
    table: String,
    region: RegionRef,
    /// Indexes into the table's columns; `None` for all.
    projection: Option<Vec<usize>>,
    time_range: TimeRange,
    /// Disjoint, ordered sub-ranges of `time_range` covering it: one per output partition.
    /// When `striped`, every entry is `time_range` and partition `i` reads stripe `i`.
    partitions: Vec<TimeRange>,
    striped: bool,
    /// Taken by the first partition to start, read by all (see the module docs).
    snapshot: Arc<OnceLock<ScanSnapshot>>,
    /// Name and unit of the time index column (for statistics and dynamic filters).
    time_index: String,
    time_unit: TimeUnit,
    /// Dynamic filters from operators above (used to narrow the time range at first poll).
    dynamic_filters: Vec<Arc<dyn PhysicalExpr>>,
    limit: Option<usize>,
    /// Tag predicates the engine uses to skip SST row groups (DataFusion still filters rows).
    tag_filters: Vec<TagFilter>,
    /// Field comparisons the engine applies exactly (while decoding SSTs where it can).
    field_filters: Vec<FieldFilter>,
    /// Rows of each series the engine may leave out (set by [`super::last_row`]).
    series_row_selector: Option<SeriesRowSelector>,
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
        let metadata = region.metadata();
        let column = metadata.time_index_column();
        let time_index = column.name.clone();
        let time_unit = match column.data_type.to_arrow() {
            DataType::Timestamp(unit, _) => unit,
            // validate() guarantees a timestamp; fall back to the default unit.
            _ => TimeUnit::Millisecond,
        };
        RegionScanExec {
            table: table.into(),
            region,
            projection,
            time_range,
            partitions: vec![time_range],
            striped: false,
            snapshot: Arc::new(OnceLock::new()),
            time_index,
            time_unit,
            dynamic_filters: Vec::new(),
            limit,
            tag_filters: Vec::new(),
            field_filters: Vec::new(),
            series_row_selector: None,
            properties: Arc::new(properties(&schema, 1)),
            schema,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Splits the scan into up to `target` partitions of at least `min_rows` estimated rows
    /// each, by time, or into `target` stripes when no cut by time balances them (see the
    /// module docs). A scan with a limit stays one partition (it reads little, and one
    /// partition stops after `limit` rows).
    pub fn with_partitions(mut self, target: usize, min_rows: u64) -> Self {
        if self.limit.is_some() || target <= 1 || self.time_range.is_empty() {
            return self;
        }
        let sources = source_extents(&self.region);
        let split = split_time_range(&sources, self.time_range, target, min_rows);
        if split_is_uneven(&sources, self.time_range, &split, target, min_rows) {
            self.partitions = vec![self.time_range; target];
            self.striped = true;
        } else {
            self.partitions = split;
        }
        self.properties = Arc::new(properties(&self.schema, self.partitions.len()));
        self
    }

    /// Whether partition `i` reads stripe `i` of the whole time range (else a time range).
    pub fn is_striped(&self) -> bool {
        self.striped
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

    /// Also pushes `field_filters` into the engine, which applies them exactly (while decoding
    /// SSTs read without the merge, after it otherwise).
    pub fn with_field_filters(mut self, field_filters: Vec<FieldFilter>) -> Self {
        self.field_filters = field_filters;
        self
    }

    /// Lets the engine return only some rows of each series (see [`SeriesRowSelector`]):
    /// only for consumers that need no more, as [`super::last_row`] decides.
    pub fn with_series_row_selector(mut self, selector: SeriesRowSelector) -> Self {
        self.series_row_selector = Some(selector);
        self
    }

    /// The field comparisons pushed into the engine.
    pub fn field_filters(&self) -> &[FieldFilter] {
        &self.field_filters
    }

    /// The selector pushed into the engine, if any.
    pub fn series_row_selector(&self) -> Option<SeriesRowSelector> {
        self.series_row_selector
    }

    /// The region scanned.
    pub fn region(&self) -> &RegionRef {
        &self.region
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
                if !self.dynamic_filters.is_empty() {
                    write!(f, ", dynamic_filters={}", self.dynamic_filters.len())?;
                }
                if self.partitions.len() > 1 {
                    write!(f, ", partitions={}", self.partitions.len())?;
                    if self.striped {
                        write!(f, " (striped)")?;
                    }
                }
                if let Some(limit) = self.limit {
                    write!(f, ", limit={limit}")?;
                }
                for filter in &self.field_filters {
                    write!(
                        f,
                        ", filter_by={} {:?} {}",
                        filter.column, filter.op, filter.value
                    )?;
                }
                if self.series_row_selector == Some(SeriesRowSelector::LastRow) {
                    write!(f, ", selector=last_row")?;
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
        let stats = scan_statistics(&self.schema, &self.time_index, &sources, range, self.limit);
        if self.striped && args.partition().is_some() {
            // A stripe holds about an equal share of the whole range's rows.
            let share = self.partitions.len().max(1);
            return Ok(Arc::new(Statistics {
                num_rows: stats.num_rows.map(|rows| rows.div_ceil(share)),
                total_byte_size: stats.total_byte_size.map(|bytes| bytes.div_ceil(share)),
                ..stats
            }));
        }
        Ok(Arc::new(stats))
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

    /// Accepts dynamic filters (hash join bounds, TopK thresholds) offered after planning, for
    /// time-range pruning only: every filter is reported unsupported, so DataFusion keeps
    /// applying it above the scan (see [`super::dynamic_filter`]).
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let dynamic: Vec<Arc<dyn PhysicalExpr>> = if phase == FilterPushdownPhase::Post {
            child_pushdown_result
                .parent_filters
                .iter()
                .map(|f| Arc::clone(&f.filter))
                .filter(|f| DynamicFilterTracking::classify(f).contains_dynamic_filter())
                .collect()
        } else {
            Vec::new()
        };
        let propagation = FilterPushdownPropagation::all_unsupported(child_pushdown_result);
        if dynamic.is_empty() {
            return Ok(propagation);
        }
        let mut node = self.clone();
        node.dynamic_filters.extend(dynamic);
        Ok(propagation.with_updated_node(Arc::new(node)))
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
        let snapshot = self.snapshot.get_or_init(|| self.region.snapshot()).clone();
        let stripe = self.striped.then_some(Stripe {
            index: partition,
            count: self.partitions.len(),
        });
        let request = ScanRequest {
            projection: self.projection.clone(),
            time_range,
            limit: self.limit,
            tag_filters: self.tag_filters.clone(),
            field_filters: self.field_filters.clone(),
            series_row_selector: self.series_row_selector,
            metrics: None,
            snapshot: Some(snapshot),
            stripe,
            dynamic_range: None,
        };
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let recorder = EngineMetricsRecorder::new(&self.metrics, partition);
        if self.dynamic_filters.is_empty() {
            let stream = open_scan(&self.region, request, schema.clone(), baseline, recorder)?;
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)));
        }
        // Open the engine scan at the first poll, with the dynamic filters' state then.
        let filters = self.dynamic_filters.clone();
        let (region, out_schema) = (self.region.clone(), schema.clone());
        let (time_index, unit) = (self.time_index.clone(), self.time_unit);
        let stream = futures::stream::once(async move {
            let mut request = request;
            let dynamic = dynamic_time_range(&filters, &time_index, unit);
            if request.time_range.intersect(&dynamic).is_empty() {
                return Ok(futures::stream::empty().boxed());
            }
            request.dynamic_range = Some(dynamic);
            open_scan(&region, request, out_schema, baseline, recorder)
        })
        .try_flatten()
        .boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The engine's [`ScanMetrics`] of one partition as DataFusion counters (`sst_files`,
/// `sst_cache_hits`, `rows_decoded`, ...: shown by `EXPLAIN ANALYZE`), copied when the
/// partition's stream ends.
struct EngineMetricsRecorder {
    engine: Arc<ScanMetrics>,
    counters: Vec<Count>,
}

impl EngineMetricsRecorder {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let engine = Arc::new(ScanMetrics::default());
        let counters = engine
            .values()
            .iter()
            .map(|(name, _)| MetricBuilder::new(metrics).counter(*name, partition))
            .collect();
        EngineMetricsRecorder { engine, counters }
    }

    fn record(&self) {
        for (counter, (_, value)) in self.counters.iter().zip(self.engine.values()) {
            counter.add(usize::try_from(value).unwrap_or(usize::MAX));
        }
    }
}

/// Starts `region.scan(request)` and adapts its batches to `schema`, counting output rows
/// and, at the end, what the engine read (`recorder`).
fn open_scan(
    region: &RegionRef,
    mut request: ScanRequest,
    schema: SchemaRef,
    baseline: BaselineMetrics,
    recorder: EngineMetricsRecorder,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    request.metrics = Some(recorder.engine.clone());
    let (engine_schema, stream) = region.scan(request).map_err(engine_to_datafusion)?;
    // A plan made before an ALTER TABLE must not re-label columns of the new schema.
    let same_columns = engine_schema.fields().len() == schema.fields().len()
        && engine_schema
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if !same_columns {
        return Err(DataFusionError::Execution(format!(
            "table of region {} was altered after this query was planned; run it again",
            region.region_id()
        )));
    }
    let finished = futures::stream::once(async move {
        recorder.record();
    })
    .filter_map(|()| futures::future::ready(None));
    let stream = stream
        .map_err(engine_to_datafusion)
        .inspect_ok(move |batch| baseline.record_output(batch.num_rows()))
        .and_then(move |batch| {
            // Re-label batches whose schema differs only in metadata or nullability flags.
            let result = if batch.schema() == schema {
                Ok(batch)
            } else {
                let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                RecordBatch::try_new_with_options(
                    schema.clone(),
                    batch.columns().to_vec(),
                    &options,
                )
                .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))
            };
            futures::future::ready(result)
        })
        .chain(finished)
        .boxed();
    Ok(stream)
}
