//! Unit tests of the gap-filling algorithm ([`SeriesFiller`]) and of [`GapFillExec`] over
//! in-memory input: empty input, rows outside the range, several series across input
//! batches and output chunks, `locf` at the start of a range, `interpolate` between points,
//! NULL values and NULL bins. Expected outputs are hand-computed.

use std::sync::Arc;

use arrow::array::{
    Float64Array, Int64Array, RecordBatch, StringArray, TimestampSecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::expressions::Literal;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr, collect};
use datafusion::prelude::SessionConfig;

use super::algo::{FillParams, FillStrategy, Layout, SeriesFiller};
use super::exec::{Bound, GapFillExec};

/// `host, ts (s), avg (f64), n (i64)`.
fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("avg", DataType::Float64, true),
        Field::new("n", DataType::Int64, false),
    ]))
}

fn batch(rows: &[(&str, Option<i64>, Option<f64>, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(TimestampSecondArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

fn layout(avg: FillStrategy, n: FillStrategy) -> Layout {
    Layout {
        series: vec![0],
        time: 1,
        fill: vec![(2, avg), (3, n)],
    }
}

fn nullable_schema() -> SchemaRef {
    let s = schema();
    let mut fields: Vec<Field> = s.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[2] = fields[2].clone().with_nullable(true);
    fields[3] = fields[3].clone().with_nullable(true);
    Arc::new(Schema::new(fields))
}

/// Runs one series through a filler in chunks of `chunk` rows.
fn fill(
    rows: &[(&str, Option<i64>, Option<f64>, i64)],
    layout: &Layout,
    params: FillParams,
    chunk: usize,
) -> String {
    let mut filler = SeriesFiller::new(nullable_schema(), batch(rows), layout, params).unwrap();
    let mut out = Vec::new();
    while !filler.is_done() {
        out.push(filler.next_chunk(layout, chunk).unwrap());
    }
    pretty_format_batches(&out).unwrap().to_string()
}

fn params(first: i64, last: i64) -> FillParams {
    FillParams {
        stride: 10,
        first_bin: first,
        last_bin: last,
    }
}

fn null_default() -> FillStrategy {
    FillStrategy::Default(ScalarValue::Float64(None))
}

#[test]
fn gaps_get_the_default_and_rows_keep_their_values() {
    let rows = [("a", Some(10), Some(1.0), 2), ("a", Some(40), None, 1)];
    let layout = layout(
        null_default(),
        FillStrategy::Default(ScalarValue::Int64(Some(0))),
    );
    let expected = "\
+------+---------------------+-----+---+
| host | ts                  | avg | n |
+------+---------------------+-----+---+
| a    | 1970-01-01T00:00:00 |     | 0 |
| a    | 1970-01-01T00:00:10 | 1.0 | 2 |
| a    | 1970-01-01T00:00:20 |     | 0 |
| a    | 1970-01-01T00:00:30 |     | 0 |
| a    | 1970-01-01T00:00:40 |     | 1 |
| a    | 1970-01-01T00:00:50 |     | 0 |
+------+---------------------+-----+---+";
    // Every chunk size gives the same rows.
    for chunk in [1, 2, 4, 100] {
        assert_eq!(
            fill(&rows, &layout, params(0, 50), chunk),
            expected,
            "chunk {chunk}"
        );
    }
}

#[test]
fn rows_outside_the_range_widen_the_output() {
    let rows = [("a", Some(0), Some(1.0), 1), ("a", Some(50), Some(2.0), 1)];
    let layout = layout(null_default(), null_default_i64());
    let out = fill(&rows, &layout, params(20, 30), 100);
    let times: Vec<&str> = out
        .lines()
        .skip(3)
        .filter(|l| l.starts_with("| a"))
        .map(|l| &l[9..28])
        .collect();
    assert_eq!(
        times,
        [
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:10",
            "1970-01-01T00:00:20",
            "1970-01-01T00:00:30",
            "1970-01-01T00:00:40",
            "1970-01-01T00:00:50",
        ]
    );
}

fn null_default_i64() -> FillStrategy {
    FillStrategy::Default(ScalarValue::Int64(None))
}

#[test]
fn locf_is_null_before_the_first_value_and_skips_nulls() {
    let rows = [
        ("a", Some(20), Some(5.0), 1),
        ("a", Some(30), None, 1),
        ("a", Some(50), Some(7.0), 1),
    ];
    let layout = layout(FillStrategy::Locf, null_default_i64());
    let expected = "\
+------+---------------------+-----+---+
| host | ts                  | avg | n |
+------+---------------------+-----+---+
| a    | 1970-01-01T00:00:00 |     |   |
| a    | 1970-01-01T00:00:10 |     |   |
| a    | 1970-01-01T00:00:20 | 5.0 | 1 |
| a    | 1970-01-01T00:00:30 | 5.0 | 1 |
| a    | 1970-01-01T00:00:40 | 5.0 |   |
| a    | 1970-01-01T00:00:50 | 7.0 | 1 |
| a    | 1970-01-01T00:00:60 | 7.0 |   |
+------+---------------------+-----+---+";
    let expected = expected.replace("00:00:60", "00:01:00");
    for chunk in [1, 3, 100] {
        assert_eq!(
            fill(&rows, &layout, params(0, 60), chunk),
            expected,
            "chunk {chunk}"
        );
    }
}

#[test]
fn interpolate_draws_lines_between_non_null_points_only() {
    // 1.0 at 10 and 4.0 at 40 (a NULL at 30 in between), 10.0 at 60; nothing after 60.
    let rows = [
        ("a", Some(10), Some(1.0), 1),
        ("a", Some(30), None, 1),
        ("a", Some(40), Some(4.0), 1),
        ("a", Some(60), Some(10.0), 1),
    ];
    let layout = layout(FillStrategy::Interpolate, FillStrategy::Interpolate);
    let expected = "\
+------+---------------------+------+---+
| host | ts                  | avg  | n |
+------+---------------------+------+---+
| a    | 1970-01-01T00:00:00 |      |   |
| a    | 1970-01-01T00:00:10 | 1.0  | 1 |
| a    | 1970-01-01T00:00:20 | 2.0  | 1 |
| a    | 1970-01-01T00:00:30 | 3.0  | 1 |
| a    | 1970-01-01T00:00:40 | 4.0  | 1 |
| a    | 1970-01-01T00:00:50 | 7.0  | 1 |
| a    | 1970-01-01T00:00:60 | 10.0 | 1 |
| a    | 1970-01-01T00:00:70 |      |   |
+------+---------------------+------+---+";
    let expected = expected
        .replace("00:00:60", "00:01:00")
        .replace("00:00:70", "00:01:10");
    for chunk in [1, 2, 5, 100] {
        assert_eq!(
            fill(&rows, &layout, params(0, 70), chunk),
            expected,
            "chunk {chunk}"
        );
    }
}

#[test]
fn interpolate_truncates_integers_toward_zero() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), false),
        Field::new("v", DataType::UInt64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampSecondArray::from(vec![0, 30])),
            Arc::new(UInt64Array::from(vec![0, 10])),
        ],
    )
    .unwrap();
    let layout = Layout {
        series: vec![],
        time: 0,
        fill: vec![(1, FillStrategy::Interpolate)],
    };
    let mut filler = SeriesFiller::new(schema, batch, &layout, params(0, 30)).unwrap();
    let out = filler.next_chunk(&layout, 100).unwrap();
    assert!(filler.is_done());
    let v = out
        .column(1)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    // 10/3 = 3.33 -> 3, 20/3 = 6.67 -> 6.
    assert_eq!(v.values().to_vec(), vec![0, 3, 6, 10]);
}

#[test]
fn interpolate_refuses_strings() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), false),
        Field::new("v", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampSecondArray::from(vec![0])),
            Arc::new(StringArray::from(vec!["x"])),
        ],
    )
    .unwrap();
    let layout = Layout {
        series: vec![],
        time: 0,
        fill: vec![(1, FillStrategy::Interpolate)],
    };
    let err = SeriesFiller::new(schema, batch, &layout, params(0, 0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported data type Utf8 for interpolation gap filling"),
        "{err}"
    );
}

#[test]
fn null_bins_pass_through_first() {
    let rows = [("a", None, Some(9.0), 3), ("a", Some(10), Some(1.0), 1)];
    let layout = layout(FillStrategy::Locf, null_default_i64());
    let expected = "\
+------+---------------------+-----+---+
| host | ts                  | avg | n |
+------+---------------------+-----+---+
| a    |                     | 9.0 | 3 |
| a    | 1970-01-01T00:00:00 |     |   |
| a    | 1970-01-01T00:00:10 | 1.0 | 1 |
| a    | 1970-01-01T00:00:20 | 1.0 |   |
+------+---------------------+-----+---+";
    assert_eq!(fill(&rows, &layout, params(0, 20), 100), expected);
}

#[test]
fn a_bin_off_the_grid_is_an_error() {
    let rows = [("a", Some(15), Some(1.0), 1)];
    let layout = layout(null_default(), null_default_i64());
    let mut filler =
        SeriesFiller::new(nullable_schema(), batch(&rows), &layout, params(0, 20)).unwrap();
    let err = filler.next_chunk(&layout, 100).unwrap_err();
    assert!(
        err.to_string().contains("unexpected time bin value"),
        "{err}"
    );
}

/// Runs a [`GapFillExec`] over `partition` (sorted by host, ts) with output batches of
/// `batch_size` rows; range `[start, end)` in seconds, stride 10 s.
async fn run_exec(partition: Vec<RecordBatch>, batch_size: usize, start: i64, end: i64) -> String {
    let input = MemorySourceConfig::try_new_exec(&[partition], schema(), None).unwrap();
    let ts = |v| -> Arc<dyn PhysicalExpr> {
        Arc::new(Literal::new(ScalarValue::TimestampSecond(Some(v), None)))
    };
    let exec = GapFillExec::try_new(
        input,
        vec![0],
        1,
        vec![
            (2, FillStrategy::Locf),
            (3, FillStrategy::Default(ScalarValue::Int64(Some(0)))),
        ],
        Arc::new(Literal::new(ScalarValue::new_interval_mdn(
            0,
            0,
            10_000_000_000,
        ))),
        None,
        Bound {
            expr: ts(start),
            inclusive: true,
        },
        Bound {
            expr: ts(end),
            inclusive: false,
        },
    )
    .unwrap();
    let context = Arc::new(
        TaskContext::default()
            .with_session_config(SessionConfig::new().with_batch_size(batch_size)),
    );
    let exec: Arc<dyn ExecutionPlan> = Arc::new(exec);
    let batches = collect(exec, context).await.unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= batch_size));
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn several_series_across_input_batches_and_output_chunks() {
    // Series b spans two input batches; c has one row at the start of the range.
    let input = vec![
        batch(&[("a", Some(10), Some(1.0), 1), ("b", Some(0), Some(2.0), 2)]),
        batch(&[("b", Some(20), Some(3.0), 1), ("c", Some(0), None, 5)]),
    ];
    let expected = "\
+------+---------------------+-----+---+
| host | ts                  | avg | n |
+------+---------------------+-----+---+
| a    | 1970-01-01T00:00:00 |     | 0 |
| a    | 1970-01-01T00:00:10 | 1.0 | 1 |
| a    | 1970-01-01T00:00:20 | 1.0 | 0 |
| b    | 1970-01-01T00:00:00 | 2.0 | 2 |
| b    | 1970-01-01T00:00:10 | 2.0 | 0 |
| b    | 1970-01-01T00:00:20 | 3.0 | 1 |
| c    | 1970-01-01T00:00:00 |     | 5 |
| c    | 1970-01-01T00:00:10 |     | 0 |
| c    | 1970-01-01T00:00:20 |     | 0 |
+------+---------------------+-----+---+";
    for batch_size in [1, 2, 4, 8192] {
        assert_eq!(
            run_exec(input.clone(), batch_size, 0, 30).await,
            expected,
            "batch size {batch_size}"
        );
    }
}

#[tokio::test]
async fn empty_input_gives_no_rows() {
    assert_eq!(run_exec(vec![], 8192, 0, 30).await, "++\n++");
    assert_eq!(run_exec(vec![batch(&[])], 8192, 0, 30).await, "++\n++");
}

#[tokio::test]
async fn a_lower_bound_inside_a_bin_starts_at_that_bin() {
    // [5, 30): bins from date_bin(5) = 0 to date_bin(29) = 20: 0, 10, 20.
    let input = vec![batch(&[("a", Some(10), Some(1.0), 1)])];
    let out = run_exec(input, 8192, 5, 30).await;
    assert_eq!(
        out.lines().filter(|l| l.starts_with("| a")).count(),
        3,
        "{out}"
    );
}

/// The analyzer rule puts `GapFill` between the projection and the aggregate, and the
/// physical plan sorts the aggregate's output by series then time for `GapFillExec`.
#[tokio::test]
async fn the_rule_puts_gap_fill_above_the_aggregate() {
    let ctx = crate::query::session::new_session();
    let table =
        datafusion::datasource::MemTable::try_new(schema(), vec![vec![batch(&[])]]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    let df = ctx
        .sql(
            "EXPLAIN SELECT host, date_bin_gapfill(INTERVAL '10 seconds', ts) AS b, \
             locf(avg(avg)) FROM t WHERE ts >= '1970-01-01T00:00:00' \
             AND ts < '1970-01-01T00:01:00' GROUP BY host, b",
        )
        .await
        .unwrap();
    let text = pretty_format_batches(&df.collect().await.unwrap())
        .unwrap()
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    let gap_fill = lines
        .iter()
        .position(|l| l.contains("GapFill: series=[t.host]"));
    let gap_fill = gap_fill.unwrap_or_else(|| panic!("no GapFill in\n{text}"));
    assert!(lines[gap_fill - 1].contains("Projection:"), "{text}");
    assert!(
        lines[gap_fill + 1].contains("Aggregate: groupBy=[[t.host, date_bin("),
        "{text}"
    );
    assert!(
        lines[gap_fill].contains("fill=[LOCF(avg(t.avg))]"),
        "{text}"
    );
    let exec = lines
        .iter()
        .position(|l| l.contains("GapFillExec: series=[host]"));
    let exec = exec.unwrap_or_else(|| panic!("no GapFillExec in\n{text}"));
    assert!(
        lines[exec + 1].contains("SortExec: expr=[host@0 ASC"),
        "{text}"
    );
}
