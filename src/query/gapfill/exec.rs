//! `GapFillExec`: the physical gap-filling operator and its stream.
//!
//! Input: the aggregate's rows, hash-partitioned by the series columns (one partition without
//! them) and sorted by series columns then time bin, both required from DataFusion's
//! enforcement rules. Each partition's stream cuts its input into series (Arrow row format
//! on the series columns), buffers the rows of the series being read, and hands every
//! complete series to a [`SeriesFiller`], which produces output in batches of at most the
//! session's `batch_size` rows. Memory: the open series, the complete series of the last
//! input batch and one output batch, counted in a `MemoryReservation`. Design from InfluxDB 3's
//! `iox_query/src/exec/gapfill/{mod.rs, stream.rs, params.rs, buffered_input.rs}`; buffering
//! whole series (rather than InfluxDB's row-window cursor) makes `interpolate` a look-up of
//! the next non-NULL row.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, OrderingRequirements, PhysicalSortExpr,
};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PhysicalExpr, PlanProperties,
};
use futures::{Stream, StreamExt, ready};

use super::algo::{FillParams, FillStrategy, Layout, SeriesFiller, check_interpolable};

/// One end of the time range as a physical expression.
#[derive(Debug, Clone)]
pub struct Bound {
    /// Evaluates to the bound (no column references).
    pub expr: Arc<dyn PhysicalExpr>,
    /// Whether the bound itself is in the range.
    pub inclusive: bool,
}

/// The gap-filling operator; see the module docs.
#[derive(Debug)]
pub struct GapFillExec {
    input: Arc<dyn ExecutionPlan>,
    layout: Layout,
    stride: Arc<dyn PhysicalExpr>,
    origin: Option<Arc<dyn PhysicalExpr>>,
    start: Bound,
    end: Bound,
    schema: SchemaRef,
    date_bin: Arc<ScalarUDF>,
    sort: LexOrdering,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl GapFillExec {
    /// The operator over `input` (the aggregate), with columns by index.
    ///
    /// # Errors
    /// If the time column is not a timestamp or an interpolated column is not numeric.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        series: Vec<usize>,
        time: usize,
        fill: Vec<(usize, FillStrategy)>,
        stride: Arc<dyn PhysicalExpr>,
        origin: Option<Arc<dyn PhysicalExpr>>,
        start: Bound,
        end: Bound,
    ) -> Result<Self> {
        let in_schema = input.schema();
        let field = |i: usize| -> Result<&Arc<Field>> {
            in_schema.fields().get(i).ok_or_else(|| {
                DataFusionError::Internal(format!("GapFillExec: no input column {i}"))
            })
        };
        for &column in series.iter().chain(fill.iter().map(|(c, _)| c)) {
            field(column)?;
        }
        if !matches!(field(time)?.data_type(), DataType::Timestamp(..)) {
            return Err(DataFusionError::Plan(format!(
                "DATE_BIN_GAPFILL needs a timestamp, got {}",
                field(time)?.data_type()
            )));
        }
        for (column, strategy) in &fill {
            if *strategy == FillStrategy::Interpolate {
                check_interpolable(field(*column)?.data_type())?;
            }
        }
        let column_expr = |i: usize| -> Result<Arc<dyn PhysicalExpr>> {
            Ok(Arc::new(Column::new(field(i)?.name(), i)))
        };
        let sort = series
            .iter()
            .chain(std::iter::once(&time))
            .map(|&i| {
                Ok(PhysicalSortExpr {
                    expr: column_expr(i)?,
                    options: SortOptions::default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sort = LexOrdering::new(sort)
            .ok_or_else(|| DataFusionError::Internal("GapFillExec: empty sort".into()))?;
        let mut fields: Vec<Arc<Field>> = in_schema.fields().iter().cloned().collect();
        for (column, _) in &fill {
            fields[*column] = Arc::new(fields[*column].as_ref().clone().with_nullable(true));
        }
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            in_schema.metadata().clone(),
        ));
        let eq = match input.output_ordering() {
            Some(ordering) => EquivalenceProperties::new_with_orderings(
                schema.clone(),
                std::iter::once(ordering.iter().cloned()),
            ),
            None => EquivalenceProperties::new(schema.clone()),
        };
        let properties = Arc::new(PlanProperties::new(
            eq,
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        ));
        Ok(GapFillExec {
            input,
            layout: Layout { series, time, fill },
            stride,
            origin,
            start,
            end,
            schema,
            date_bin: datafusion::functions::datetime::date_bin(),
            sort,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// Evaluates stride, origin and range into bins of the time column's unit.
    fn params(&self, context: &TaskContext) -> Result<FillParams> {
        let DataType::Timestamp(unit, tz) = self.schema.field(self.layout.time).data_type() else {
            return Err(DataFusionError::Internal("GapFillExec: time type".into()));
        };
        let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
        let scalar = |e: &Arc<dyn PhysicalExpr>| -> Result<ScalarValue> {
            match e.evaluate(&empty)? {
                ColumnarValue::Scalar(v) => Ok(v),
                ColumnarValue::Array(a) if a.len() == 1 => ScalarValue::try_from_array(&a, 0),
                ColumnarValue::Array(_) => Err(DataFusionError::Plan(
                    "gap filling arguments must evaluate to a scalar".into(),
                )),
            }
        };
        let stride_value = scalar(&self.stride)?;
        let stride = stride_in_unit(&stride_value, *unit)?;
        let origin = self.origin.as_ref().map(scalar).transpose()?;
        let time_type = DataType::Timestamp(*unit, tz.clone());
        let bound = |b: &Bound, what: &str| -> Result<i64> {
            let v = scalar(&b.expr)?.cast_to(&time_type)?;
            timestamp_value(&v)?.ok_or_else(|| {
                DataFusionError::Plan(format!("{what} time bound of a gap-filling query is NULL"))
            })
        };
        let mut first = bound(&self.start, "lower")?;
        if !self.start.inclusive {
            first = first.saturating_add(1);
        }
        let mut last = bound(&self.end, "upper")?;
        if !self.end.inclusive {
            last = last.saturating_sub(1);
        }
        let bin = |ts: i64| -> Result<i64> {
            let mut args = vec![
                ColumnarValue::Scalar(stride_value.clone()),
                ColumnarValue::Scalar(timestamp_scalar(ts, *unit, tz.clone())),
            ];
            args.extend(origin.clone().map(ColumnarValue::Scalar));
            let arg_fields = args
                .iter()
                .enumerate()
                .map(|(i, a)| Arc::new(Field::new(format!("a{i}"), a.data_type(), true)))
                .collect();
            let result = self.date_bin.invoke_with_args(ScalarFunctionArgs {
                args,
                arg_fields,
                number_rows: 1,
                return_field: Arc::new(Field::new("bin", time_type.clone(), true)),
                config_options: context.session_config().options().clone(),
            })?;
            match result {
                ColumnarValue::Scalar(v) => timestamp_value(&v)?,
                ColumnarValue::Array(a) => timestamp_value(&ScalarValue::try_from_array(&a, 0)?)?,
            }
            .ok_or_else(|| DataFusionError::Execution("date_bin returned NULL".into()))
        };
        Ok(FillParams {
            stride,
            first_bin: bin(first)?,
            last_bin: bin(last)?,
        })
    }
}

/// The stride in units of the time column.
fn stride_in_unit(stride: &ScalarValue, unit: TimeUnit) -> Result<i64> {
    let nanos: i128 = match stride {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds)
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            i128::from(v.days) * 86_400_000_000_000 + i128::from(v.milliseconds) * 1_000_000
        }
        ScalarValue::IntervalMonthDayNano(Some(_)) | ScalarValue::IntervalYearMonth(Some(_)) => {
            return Err(DataFusionError::Plan(
                "gap filling does not support month intervals".into(),
            ));
        }
        _ => {
            return Err(DataFusionError::Plan(
                "gap filling expects a stride parameter to be a scalar interval".into(),
            ));
        }
    };
    let per_unit: i128 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    if nanos <= 0 || nanos % per_unit != 0 {
        return Err(DataFusionError::Plan(format!(
            "gap filling stride must be a positive whole number of the time column's unit \
             ({unit:?})"
        )));
    }
    i64::try_from(nanos / per_unit)
        .map_err(|_| DataFusionError::Plan("gap filling stride is too large".into()))
}

fn timestamp_value(v: &ScalarValue) -> Result<Option<i64>> {
    match v {
        ScalarValue::TimestampSecond(v, _)
        | ScalarValue::TimestampMillisecond(v, _)
        | ScalarValue::TimestampMicrosecond(v, _)
        | ScalarValue::TimestampNanosecond(v, _) => Ok(*v),
        other => Err(DataFusionError::Plan(format!(
            "gap filling argument must be a scalar timestamp, got {}",
            other.data_type()
        ))),
    }
}

fn timestamp_scalar(v: i64, unit: TimeUnit, tz: Option<Arc<str>>) -> ScalarValue {
    match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(v), tz),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(v), tz),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), tz),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), tz),
    }
}

impl DisplayAs for GapFillExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let name = |i: usize| self.schema.field(i).name().clone();
        let series: Vec<String> = self.layout.series.iter().map(|&i| name(i)).collect();
        let fill: Vec<String> = self
            .layout
            .fill
            .iter()
            .map(|(i, s)| s.display_with(&name(*i)))
            .collect();
        write!(
            f,
            "GapFillExec: series=[{}], time={}, stride={}, fill=[{}], range={}{}, {}{}",
            series.join(", "),
            name(self.layout.time),
            self.stride,
            fill.join(", "),
            if self.start.inclusive { "[" } else { "(" },
            self.start.expr,
            self.end.expr,
            if self.end.inclusive { "]" } else { ")" },
        )
    }
}

impl ExecutionPlan for GapFillExec {
    fn name(&self) -> &str {
        "GapFillExec"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        if self.layout.series.is_empty() {
            vec![Distribution::SinglePartition]
        } else {
            let exprs = self
                .layout
                .series
                .iter()
                .map(|&i| {
                    Arc::new(Column::new(self.schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>
                })
                .collect();
            vec![Distribution::KeyPartitioned(exprs)]
        }
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![Some(OrderingRequirements::new(self.sort.clone().into()))]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Ok([input]) = <[Arc<dyn ExecutionPlan>; 1]>::try_from(children) else {
            return Err(DataFusionError::Internal(
                "GapFillExec: expected one child".into(),
            ));
        };
        Ok(Arc::new(GapFillExec::try_new(
            input,
            self.layout.series.clone(),
            self.layout.time,
            self.layout.fill.clone(),
            self.stride.clone(),
            self.origin.clone(),
            self.start.clone(),
            self.end.clone(),
        )?))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut exprs = vec![&self.stride, &self.start.expr, &self.end.expr];
        exprs.extend(self.origin.as_ref());
        for e in exprs {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let params = self.params(&context)?;
        let reservation = MemoryConsumer::new(format!("GapFillExec[{partition}]"))
            .register(context.memory_pool());
        let batch_size = context.session_config().batch_size().max(1);
        let input = self.input.execute(partition, context)?;
        let converter = if self.layout.series.is_empty() {
            None
        } else {
            let fields = self
                .layout
                .series
                .iter()
                .map(|&i| SortField::new(self.schema.field(i).data_type().clone()))
                .collect();
            Some(RowConverter::new(fields)?)
        };
        Ok(Box::pin(GapFillStream {
            schema: self.schema.clone(),
            input,
            layout: self.layout.clone(),
            params,
            batch_size,
            converter,
            current: Vec::new(),
            current_key: None,
            current_bytes: 0,
            ready: VecDeque::new(),
            filler: None,
            input_done: false,
            reservation,
            metrics: BaselineMetrics::new(&self.metrics, partition),
        }))
    }
}

/// The per-partition stream; see the module docs.
struct GapFillStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    layout: Layout,
    params: FillParams,
    batch_size: usize,
    /// Row format of the series columns; `None` without series columns (one series).
    converter: Option<RowConverter>,
    /// Slices of the series being read.
    current: Vec<RecordBatch>,
    current_key: Option<OwnedRow>,
    /// Estimated bytes of `current` (pro rata of the input batches they slice).
    current_bytes: usize,
    /// Complete series waiting for output.
    ready: VecDeque<RecordBatch>,
    /// The series being output.
    filler: Option<SeriesFiller>,
    input_done: bool,
    reservation: MemoryReservation,
    metrics: BaselineMetrics,
}

impl GapFillStream {
    /// Cuts `batch` into series, closing the open series when a new one starts.
    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let bytes = batch.get_array_memory_size();
        let share = |rows: usize| bytes.saturating_mul(rows) / n;
        let Some(converter) = &self.converter else {
            self.current.push(batch);
            self.current_bytes += share(n);
            return self.account();
        };
        let columns: Vec<ArrayRef> = self
            .layout
            .series
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let rows = converter.convert_columns(&columns)?;
        let mut start = 0;
        for i in 1..=n {
            if i < n && rows.row(i) == rows.row(i - 1) {
                continue;
            }
            let key = rows.row(start);
            if self.current_key.as_ref().is_some_and(|k| k.row() != key) {
                self.close_series()?;
            }
            if self.current_key.is_none() {
                self.current_key = Some(key.owned());
            }
            self.current.push(batch.slice(start, i - start));
            self.current_bytes += share(i - start);
            start = i;
        }
        self.account()
    }

    /// Moves the open series to `ready` as one batch.
    fn close_series(&mut self) -> Result<()> {
        self.current_key = None;
        if self.current.is_empty() {
            return Ok(());
        }
        let batch = arrow::compute::concat_batches(&self.current[0].schema(), &self.current)?;
        self.current.clear();
        self.current_bytes = 0;
        self.ready.push_back(batch);
        Ok(())
    }

    fn account(&mut self) -> Result<()> {
        let ready: usize = self.ready.iter().map(|b| b.get_array_memory_size()).sum();
        self.reservation.try_resize(self.current_bytes + ready)?;
        Ok(())
    }

    /// Up to `batch_size` rows from the complete series, or `None` if there are none.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        let mut chunks = Vec::new();
        let mut rows = 0;
        while rows < self.batch_size {
            if self.filler.is_none() {
                let Some(series) = self.ready.pop_front() else {
                    break;
                };
                self.filler = Some(SeriesFiller::new(
                    self.schema.clone(),
                    series,
                    &self.layout,
                    self.params,
                )?);
            }
            let Some(filler) = self.filler.as_mut() else {
                break;
            };
            let chunk = filler.next_chunk(&self.layout, self.batch_size - rows)?;
            if filler.is_done() || chunk.num_rows() == 0 {
                self.filler = None;
            }
            rows += chunk.num_rows();
            if chunk.num_rows() > 0 {
                chunks.push(chunk);
            }
        }
        self.account()?;
        match chunks.len() {
            0 => Ok(None),
            1 => Ok(chunks.pop()),
            _ => Ok(Some(arrow::compute::concat_batches(
                &chunks[0].schema(),
                &chunks,
            )?)),
        }
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RecordBatch>>> {
        loop {
            match self.emit() {
                Ok(Some(batch)) => return Poll::Ready(Some(Ok(batch))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            if self.input_done {
                return Poll::Ready(None);
            }
            match ready!(self.input.poll_next_unpin(cx)) {
                Some(Ok(batch)) => {
                    if let Err(e) = self.push(batch) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    self.input_done = true;
                    if let Err(e) = self.close_series() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}

impl Stream for GapFillStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.poll_inner(cx);
        self.metrics.record_poll(poll)
    }
}

impl RecordBatchStream for GapFillStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
