//! The gap-filling algorithm, one series at a time.
//!
//! A [`SeriesFiller`] holds the aggregated rows of one series (one value of the series
//! columns), sorted by time bin (NULL bins first), and produces its gap-filled rows in
//! chunks of at most `max_rows`: every bin from `min(first_bin, first row)` to
//! `max(last_bin, last row)` in steps of `stride`, each either the input row of that bin or a
//! new row whose series columns repeat the series' values and whose aggregate columns are
//! filled by their [`FillStrategy`]. Rows with a NULL bin are passed through first. Rows
//! outside the query's range are kept (the output grows to cover them), as InfluxDB 3's
//! `DateBinGapExpander::get_bounds` does.
//!
//! Per series the work and memory are linear in its input rows plus the rows of the chunk
//! being built; a huge range is produced chunk by chunk, never materialised at once.
//! Semantics follow InfluxDB 3's `iox_query/src/exec/gapfill/algo.rs` and
//! `algo/interpolate.rs`:
//! - `Default(v)`: gaps get `v` (NULL, or the aggregate's default such as `count`'s 0);
//!   input rows keep their value, NULL included.
//! - `Locf` (InfluxDB's `PrevNullAsMissing`): gaps and NULL values get the series' last
//!   non-NULL value before them; NULL before the series' first non-NULL value.
//! - `Interpolate` (`LinearInterpolate`): gaps and NULL values between two non-NULL values of
//!   the series get the straight line through them at their time; NULL before the first and
//!   after the last non-NULL value. Integers are computed in `f64` and truncated toward zero.

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{cast, interleave, take};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};

/// How the gaps of one aggregate column are filled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum FillStrategy {
    /// Gaps get this value (a NULL of the column's type, or e.g. `count`'s 0).
    Default(ScalarValue),
    /// Last observation carried forward (`locf`): NULLs count as missing.
    Locf,
    /// Linear interpolation between the neighbouring non-NULL values (`interpolate`).
    Interpolate,
}

impl FillStrategy {
    /// `expr` as shown in EXPLAIN: `LOCF(expr)`, `INTERPOLATE(expr)`, `COALESCE(expr, v)`.
    pub fn display_with(&self, expr: &dyn std::fmt::Display) -> String {
        match self {
            FillStrategy::Locf => format!("LOCF({expr})"),
            FillStrategy::Interpolate => format!("INTERPOLATE({expr})"),
            FillStrategy::Default(v) if v.is_null() => expr.to_string(),
            FillStrategy::Default(v) => format!("COALESCE({expr}, {v})"),
        }
    }
}

/// Which input column plays which part, by index in the (input = output) schema.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Columns whose values identify a series (repeated into gap rows).
    pub series: Vec<usize>,
    /// The time bin column (a timestamp).
    pub time: usize,
    /// The aggregate columns and how each is filled.
    pub fill: Vec<(usize, FillStrategy)>,
}

/// The evaluated bounds of the output, in the time column's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillParams {
    /// Distance between bins, > 0.
    pub stride: i64,
    /// The first bin of the query's range.
    pub first_bin: i64,
    /// The last bin of the query's range (inclusive).
    pub last_bin: i64,
}

/// One output row: an input row, or a gap at `ts` before input row `next_row`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Row(usize),
    Gap { ts: i64, next_row: usize },
}

/// Produces the gap-filled rows of one series; see the module docs.
#[derive(Debug)]
pub struct SeriesFiller {
    /// The output schema (the input's, with fill columns nullable).
    schema: SchemaRef,
    batch: RecordBatch,
    /// The time bins as raw i64 (NULL kept).
    times: Int64Array,
    stride: i64,
    next_row: usize,
    /// The next bin to produce; `None` once past the end (or on overflow).
    next_bin: Option<i64>,
    end_bin: i64,
    /// Per fill column: the last input row with a non-NULL value (locf, interpolate).
    prev_valid: Vec<Option<usize>>,
    /// Per interpolated column: for each row `i` (and `n`), the first row `>= i` with a
    /// non-NULL value and bin; empty for other strategies.
    next_valid: Vec<Vec<Option<usize>>>,
}

impl SeriesFiller {
    /// A filler over `batch`, the rows of one series sorted by time bin (NULLs first),
    /// producing batches of `schema` (the batch's columns, fill columns nullable).
    ///
    /// # Errors
    /// If the time column is not a timestamp, or an interpolated column is not numeric.
    pub fn new(
        schema: SchemaRef,
        batch: RecordBatch,
        layout: &Layout,
        params: FillParams,
    ) -> Result<Self> {
        let time = batch.column(layout.time);
        if !matches!(time.data_type(), DataType::Timestamp(..)) {
            return Err(DataFusionError::Execution(format!(
                "gap filling needs a timestamp time column, got {}",
                time.data_type()
            )));
        }
        let times = cast(time, &DataType::Int64)?;
        let times = times
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| DataFusionError::Internal("time bins as Int64".into()))?
            .clone();
        let mut first = None;
        let mut last = None;
        for t in times.iter().flatten() {
            first.get_or_insert(t);
            last = Some(t);
        }
        let start = first.map_or(params.first_bin, |t| t.min(params.first_bin));
        let end_bin = last.map_or(params.last_bin, |t| t.max(params.last_bin));
        let n = batch.num_rows();
        let mut next_valid = Vec::with_capacity(layout.fill.len());
        for (column, strategy) in &layout.fill {
            if *strategy != FillStrategy::Interpolate {
                next_valid.push(Vec::new());
                continue;
            }
            let values = batch.column(*column);
            check_interpolable(values.data_type())?;
            let mut next = vec![None; n + 1];
            for i in (0..n).rev() {
                next[i] = if values.is_valid(i) && times.is_valid(i) {
                    Some(i)
                } else {
                    next[i + 1]
                };
            }
            next_valid.push(next);
        }
        Ok(SeriesFiller {
            schema,
            batch,
            times,
            stride: params.stride,
            next_row: 0,
            next_bin: Some(start),
            end_bin,
            prev_valid: vec![None; layout.fill.len()],
            next_valid,
        })
    }

    /// Whether every row of the series has been produced.
    pub fn is_done(&self) -> bool {
        self.next_row >= self.batch.num_rows() && self.next_bin.is_none_or(|b| b > self.end_bin)
    }

    /// The next at most `max_rows` (>= 1) rows of the series, in the input's schema.
    ///
    /// # Errors
    /// If an input bin is not on the stride's grid ("unexpected time bin value"), or an
    /// Arrow kernel fails.
    pub fn next_chunk(&mut self, layout: &Layout, max_rows: usize) -> Result<RecordBatch> {
        let slots = self.plan(max_rows.max(1))?;
        let schema = self.schema.clone();
        let mut columns: Vec<Option<ArrayRef>> = vec![None; schema.fields().len()];

        let times: Int64Array = slots
            .iter()
            .map(|slot| match *slot {
                Slot::Row(row) => self.times.is_valid(row).then(|| self.times.value(row)),
                Slot::Gap { ts, .. } => Some(ts),
            })
            .collect();
        let time_type = schema.field(layout.time).data_type();
        columns[layout.time] = Some(cast(&times, time_type)?);

        let firsts = UInt32Array::from(vec![0u32; slots.len()]);
        for &column in &layout.series {
            columns[column] = Some(take(self.batch.column(column), &firsts, None)?);
        }
        for (k, (column, strategy)) in layout.fill.iter().enumerate() {
            let values = self.batch.column(*column).clone();
            let values = &values;
            let filled = match strategy {
                FillStrategy::Default(value) => fill_default(values, &slots, value)?,
                FillStrategy::Locf => self.fill_locf(k, values, &slots)?,
                FillStrategy::Interpolate => self.fill_interpolate(k, values, &slots)?,
            };
            columns[*column] = Some(filled);
        }
        let columns = columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                // A column that is neither series, time nor fill: repeat it like a series
                // column (every column of an aggregate's output is one of the three).
                c.map_or_else(|| Ok(take(self.batch.column(i), &firsts, None)?), Ok)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// The next at most `max_rows` output slots; advances the cursor.
    fn plan(&mut self, max_rows: usize) -> Result<Vec<Slot>> {
        let n = self.batch.num_rows();
        let mut slots = Vec::with_capacity(max_rows.min(4096));
        while slots.len() < max_rows {
            if self.next_row < n && self.times.is_null(self.next_row) {
                slots.push(Slot::Row(self.next_row));
                self.next_row += 1;
                continue;
            }
            let bin = match self.next_bin {
                Some(bin) if bin <= self.end_bin => bin,
                _ => {
                    self.next_bin = None;
                    // Only reachable past an i64 overflow: keep the rows rather than drop them.
                    if self.next_row < n {
                        slots.push(Slot::Row(self.next_row));
                        self.next_row += 1;
                        continue;
                    }
                    break;
                }
            };
            if self.next_row < n {
                let ts = self.times.value(self.next_row);
                if ts == bin {
                    slots.push(Slot::Row(self.next_row));
                    self.next_row += 1;
                } else if ts < bin {
                    return Err(DataFusionError::Execution(
                        "DATE_BIN_GAPFILL: unexpected time bin value".to_string(),
                    ));
                } else {
                    slots.push(Slot::Gap {
                        ts: bin,
                        next_row: self.next_row,
                    });
                }
            } else {
                slots.push(Slot::Gap {
                    ts: bin,
                    next_row: n,
                });
            }
            self.next_bin = bin.checked_add(self.stride);
        }
        Ok(slots)
    }

    fn fill_locf(&mut self, k: usize, values: &ArrayRef, slots: &[Slot]) -> Result<ArrayRef> {
        let mut prev = self.prev_valid[k];
        let indices: UInt32Array = slots
            .iter()
            .map(|slot| match *slot {
                Slot::Row(row) if self.times.is_null(row) => Some(row),
                Slot::Row(row) if values.is_valid(row) => {
                    prev = Some(row);
                    Some(row)
                }
                Slot::Row(_) | Slot::Gap { .. } => prev,
            })
            .map(|row| row.map(index_u32).transpose())
            .collect::<Result<_>>()?;
        self.prev_valid[k] = prev;
        Ok(take(values, &indices, None)?)
    }

    fn fill_interpolate(
        &mut self,
        k: usize,
        values: &ArrayRef,
        slots: &[Slot],
    ) -> Result<ArrayRef> {
        let as_f64 = cast(values, &DataType::Float64)?;
        let as_f64 = as_f64
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| DataFusionError::Internal("interpolation as Float64".into()))?;
        let next_valid = &self.next_valid[k];
        let mut prev = self.prev_valid[k];
        let mut computed: Vec<Option<f64>> = Vec::new();
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(slots.len());
        for slot in slots {
            let (ts, next) = match *slot {
                Slot::Row(row) if self.times.is_null(row) => {
                    picks.push((0, row));
                    continue;
                }
                Slot::Row(row) if values.is_valid(row) => {
                    prev = Some(row);
                    picks.push((0, row));
                    continue;
                }
                Slot::Row(row) => (self.times.value(row), next_valid[row + 1]),
                Slot::Gap { ts, next_row } => (ts, next_valid[next_row]),
            };
            let value = match (prev, next) {
                (Some(p), Some(q)) => {
                    let (x0, y0) = (self.times.value(p), as_f64.value(p));
                    let (x1, y1) = (self.times.value(q), as_f64.value(q));
                    let slope = (y1 - y0) / (x1 - x0) as f64;
                    Some(slope * (ts - x0) as f64 + y0)
                }
                _ => None,
            };
            picks.push((1, computed.len()));
            computed.push(value);
        }
        self.prev_valid[k] = prev;
        let computed = cast(&Float64Array::from(computed), values.data_type())?;
        Ok(interleave(&[values.as_ref(), computed.as_ref()], &picks)?)
    }
}

fn fill_default(values: &ArrayRef, slots: &[Slot], value: &ScalarValue) -> Result<ArrayRef> {
    let value = if value.data_type() == *values.data_type() {
        value.clone()
    } else if value.is_null() {
        ScalarValue::try_from(values.data_type())?
    } else {
        value.cast_to(values.data_type())?
    };
    let fill = value.to_array_of_size(1)?;
    let picks: Vec<(usize, usize)> = slots
        .iter()
        .map(|slot| match *slot {
            Slot::Row(row) => (0, row),
            Slot::Gap { .. } => (1, 0),
        })
        .collect();
    Ok(interleave(&[values.as_ref(), fill.as_ref()], &picks)?)
}

/// Refuses types `interpolate` cannot compute (InfluxDB's message).
///
/// # Errors
/// For anything but integers, unsigned integers and floats.
pub fn check_interpolable(data_type: &DataType) -> Result<()> {
    if data_type.is_integer() || data_type.is_floating() {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "unsupported data type {data_type} for interpolation gap filling"
        )))
    }
}

fn index_u32(row: usize) -> Result<u32> {
    u32::try_from(row).map_err(|_| {
        DataFusionError::Execution(format!(
            "gap filling: series of more than {} rows",
            u32::MAX
        ))
    })
}
