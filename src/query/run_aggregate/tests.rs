//! The run-aware accumulators against DataFusion's own, on the same batches, and the SQL
//! functions against a plain DataFusion session.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{MIN_AVERAGE_RUN, fold_runs, functions, sum_lanes};

/// A groups accumulator of `udaf` over one nullable DOUBLE argument.
fn accumulator(udaf: &datafusion::logical_expr::AggregateUDF) -> Box<dyn GroupsAccumulator> {
    let schema = Schema::new(vec![Field::new("v", DataType::Float64, true)]);
    let expr = datafusion::physical_expr::expressions::col("v", &schema).unwrap();
    let return_field = Arc::new(Field::new("out", DataType::Float64, true));
    let expr_field = Arc::new(Field::new("v", DataType::Float64, true));
    let args = datafusion::logical_expr::function::AccumulatorArgs {
        return_field,
        schema: &schema,
        ignore_nulls: false,
        order_bys: &[],
        is_reversed: false,
        name: "out",
        is_distinct: false,
        exprs: &[expr],
        expr_fields: &[expr_field],
    };
    udaf.create_groups_accumulator(args).unwrap()
}

/// Batches of sorted group indexes (long runs), shuffled ones (short runs), with nulls and
/// with a filter, as `(values, groups, filter)`.
fn batches(
    rng: &mut ChaCha8Rng,
    groups: usize,
) -> Vec<(ArrayRef, Vec<usize>, Option<BooleanArray>)> {
    let mut out = Vec::new();
    for case in 0..8 {
        let len = rng.random_range(1..3000);
        let mut indexes: Vec<usize> = (0..len).map(|_| rng.random_range(0..groups)).collect();
        if case % 2 == 0 {
            indexes.sort_unstable();
        }
        let values: Vec<Option<f64>> = (0..len)
            .map(|_| {
                let v = rng.random_range(-100.0..100.0);
                (case != 4 || rng.random_range(0..10) > 0).then_some(v)
            })
            .collect();
        let filter = (case == 6)
            .then(|| BooleanArray::from((0..len).map(|i| i % 3 != 0).collect::<Vec<_>>()));
        out.push((
            Arc::new(Float64Array::from(values)) as ArrayRef,
            indexes,
            filter,
        ));
    }
    out
}

/// `sum` and `avg` give DataFusion's results (to rounding) on every kind of batch, through
/// update, state/merge (a partial then final aggregate) and evaluate.
#[test]
fn same_results_as_datafusions_accumulators() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let ours = functions();
    let theirs = [
        datafusion::functions_aggregate::sum::sum_udaf(),
        datafusion::functions_aggregate::average::avg_udaf(),
    ];
    for (ours, theirs) in ours.iter().zip(theirs.iter()) {
        for round in 0..20 {
            let groups = 1 + round * 7;
            let (mut a, mut b) = (accumulator(ours), accumulator(theirs));
            let (mut final_a, mut final_b) = (accumulator(ours), accumulator(theirs));
            for (values, indexes, filter) in batches(&mut rng, groups) {
                let total = groups;
                a.update_batch(
                    std::slice::from_ref(&values),
                    &indexes,
                    filter.as_ref(),
                    total,
                )
                .unwrap();
                b.update_batch(&[values], &indexes, filter.as_ref(), total)
                    .unwrap();
            }
            let all: Vec<usize> = (0..groups).collect();
            let (state_a, state_b) = (a.state(EmitTo::All).unwrap(), b.state(EmitTo::All).unwrap());
            final_a.merge_batch(&state_a, &all, groups).unwrap();
            final_b.merge_batch(&state_b, &all, groups).unwrap();
            let x = final_a.evaluate(EmitTo::All).unwrap();
            let y = final_b.evaluate(EmitTo::All).unwrap();
            let (x, y) = (
                x.as_primitive::<Float64Type>(),
                y.as_primitive::<Float64Type>(),
            );
            assert_eq!(x.len(), y.len());
            for i in 0..x.len() {
                assert_eq!(x.is_null(i), y.is_null(i), "{} group {i}", ours.name());
                if x.is_valid(i) {
                    let (p, q) = (x.value(i), y.value(i));
                    assert!(
                        (p - q).abs() <= 1e-9 * q.abs().max(1.0),
                        "{} group {i}: {p} vs {q}",
                        ours.name()
                    );
                }
            }
        }
    }
}

#[test]
fn runs_are_folded_only_when_long() {
    let groups: Vec<usize> = [vec![3; 20], vec![1; 20], vec![3; 8]].concat();
    let values: Vec<f64> = (0..48).map(f64::from).collect();
    let runs = fold_runs(&groups, &values).unwrap();
    assert_eq!(runs.groups, [3, 1, 3]);
    assert_eq!(runs.counts, [20, 20, 8]);
    assert_eq!(runs.sums, [190.0, 590.0, (40..48).sum::<i32>() as f64]);
    let short: Vec<usize> = (0..64).map(|i| i % 2).collect();
    assert_eq!(fold_runs(&short, &values[..0]), None);
    assert_eq!(fold_runs(&short, &vec![1.0; 64]), None);
    assert_eq!(fold_runs(&[], &[]), None);
    // Long runs first, then short ones: decided at the end.
    let mixed: Vec<usize> = (0..200).map(|i| if i < 160 { i / 40 } else { i }).collect();
    assert_eq!(fold_runs(&mixed, &vec![1.0; 200]), None);
    let one = fold_runs(&[5; MIN_AVERAGE_RUN], &[0.5; MIN_AVERAGE_RUN]).unwrap();
    assert_eq!(
        (one.groups, one.sums, one.counts),
        (vec![5], vec![4.0], vec![8])
    );
}

#[test]
fn lane_sums_add_every_value() {
    for n in 0..40 {
        let values: Vec<f64> = (0..n).map(|i| f64::from(i) * 0.5).collect();
        assert_eq!(sum_lanes(&values), values.iter().sum::<f64>(), "{n} values");
    }
}

/// Through SQL: `sum`, `avg`, the `mean` alias, integer input (coerced), `DISTINCT` and
/// `FILTER` agree with a plain DataFusion session on sorted input with long runs.
#[tokio::test]
async fn sql_results_match_plain_datafusion() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let rows = 5000;
    let host: Vec<String> = (0..rows).map(|i| format!("h{}", i / 500)).collect();
    let n: Vec<i64> = (0..rows).map(|i| i % 17).collect();
    let v: Vec<Option<f64>> = (0..rows)
        .map(|i| (i % 101 != 0).then_some(i as f64 * 0.25))
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(host)),
            Arc::new(Int64Array::from(n)),
            Arc::new(Float64Array::from(v)),
        ],
    )
    .unwrap();
    let sql = "SELECT host, sum(v), avg(v), mean(v), avg(n), sum(DISTINCT v), \
               avg(v) FILTER (WHERE n > 3) FROM t GROUP BY host ORDER BY host";
    let mut outputs = Vec::new();
    for ctx in [crate::query::session::new_session(), SessionContext::new()] {
        let table = MemTable::try_new(schema.clone(), vec![vec![batch.clone()]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        outputs.push(
            arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0].contains("h9"), "{}", outputs[0]);
}
