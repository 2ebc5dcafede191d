//! Memtable tests: order, versions, tombstones, time range, sequence bound, accounting, every
//! column type, and a randomized comparison with an in-memory oracle through the merge.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{Float64Type, TimestampMillisecondType};
use rand::{Rng, SeedableRng};

use super::*;
use crate::engine::metadata::{ColumnMetadata, RegionId};
use crate::engine::read::merge::{BatchSource, MergeReader};
use crate::engine::test_util::{cpu_batch as batch, cpu_metadata};

/// `(host, ts, cpu, sequence, op_type)` rows of cpu-schema read batches.
type Row = (String, i64, Option<f64>, u64, u8);

fn collect(batches: impl Iterator<Item = Result<RecordBatch>>) -> Vec<Row> {
    let mut out = Vec::new();
    for batch in batches {
        let batch = batch.unwrap();
        let host = batch.column(0).as_string::<i32>();
        let ts = batch.column(1).as_primitive::<TimestampMillisecondType>();
        let cpu = batch.column(2).as_primitive::<Float64Type>();
        let seq = batch
            .column(3)
            .as_primitive::<arrow::datatypes::UInt64Type>();
        let op = batch
            .column(4)
            .as_primitive::<arrow::datatypes::UInt8Type>();
        for i in 0..batch.num_rows() {
            out.push((
                host.value(i).to_string(),
                ts.value(i),
                cpu.is_valid(i).then(|| cpu.value(i)),
                seq.value(i),
                op.value(i),
            ));
        }
    }
    out
}

fn cpu() -> (Arc<Memtable>, Arc<ReadFormat>) {
    let metadata = Arc::new(cpu_metadata());
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    (Arc::new(Memtable::new(0, metadata)), format)
}

fn row(host: &str, ts: i64, cpu: Option<f64>, seq: u64, op: OpType) -> Row {
    (host.to_string(), ts, cpu, seq, op as u8)
}

#[test]
fn rows_come_in_series_key_order_then_ts_asc_then_sequence_desc() {
    let (memtable, format) = cpu();
    memtable
        .write(
            &batch(&[("b", 2, 1.0), ("a", 3, 2.0), ("b", 1, 3.0), ("a", 3, 4.0)]),
            10,
            OpType::Put,
        )
        .unwrap();
    memtable
        .write(&batch(&[("a", 1, 5.0), ("b", 2, 6.0)]), 20, OpType::Put)
        .unwrap();
    let put = OpType::Put;
    let expected = vec![
        row("a", 1, Some(5.0), 20, put),
        row("a", 3, Some(4.0), 13, put),
        row("a", 3, Some(2.0), 11, put),
        row("b", 1, Some(3.0), 12, put),
        row("b", 2, Some(6.0), 21, put),
        row("b", 2, Some(1.0), 10, put),
    ];
    for batch_size in [1, 2, 4, 100] {
        let rows = collect(memtable.iter(format.clone(), TimeRange::all(), batch_size));
        assert_eq!(rows, expected, "batch size {batch_size}");
    }
    assert_eq!(memtable.num_rows(), 6);
    assert_eq!(memtable.num_series(), 2);
    assert_eq!(memtable.max_sequence(), 21);
    assert_eq!(memtable.time_range(), Some(TimeRange::new(1, 3)));
    assert!(memtable.first_write().is_some());
}

#[test]
fn batches_never_exceed_batch_size_and_span_series() {
    let (memtable, format) = cpu();
    let rows: Vec<(String, i64, f64)> = (0..10)
        .flat_map(|h| (0..3).map(move |t| (format!("h{h}"), t, 1.0)))
        .collect();
    let refs: Vec<(&str, i64, f64)> = rows.iter().map(|(h, t, c)| (h.as_str(), *t, *c)).collect();
    memtable.write(&batch(&refs), 1, OpType::Put).unwrap();
    let sizes: Vec<usize> = memtable
        .iter(format, TimeRange::all(), 7)
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes, vec![7, 7, 7, 7, 2]);
}

#[test]
fn time_major_batches_group_by_series() {
    // Rows in time-major order (every series once per timestamp), as TSBS writes them.
    let (memtable, format) = cpu();
    let hosts = ["c", "a", "b"];
    let rows: Vec<(&str, i64, f64)> = (0..4)
        .flat_map(|t| hosts.iter().map(move |&h| (h, t, t as f64)))
        .collect();
    memtable.write(&batch(&rows), 100, OpType::Put).unwrap();
    assert_eq!(memtable.num_series(), 3);
    let got = collect(memtable.iter(format, TimeRange::all(), 5));
    let keys: Vec<(String, i64)> = got.iter().map(|r| (r.0.clone(), r.1)).collect();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(keys, expected);
    // Row (c, t) was row 3t of the batch.
    assert!(
        got.iter()
            .filter(|r| r.0 == "c")
            .all(|r| r.3 == 100 + 3 * r.1 as u64)
    );
}

#[test]
fn versions_and_tombstones_are_kept() {
    let (memtable, format) = cpu();
    memtable
        .write(&batch(&[("a", 1, 1.0)]), 1, OpType::Put)
        .unwrap();
    memtable
        .write(&batch(&[("a", 1, 2.0)]), 2, OpType::Put)
        .unwrap();
    memtable
        .write(&batch(&[("a", 1, 99.0), ("z", 4, 0.0)]), 3, OpType::Delete)
        .unwrap();
    let rows = collect(memtable.iter(format, TimeRange::all(), 10));
    assert_eq!(
        rows,
        vec![
            row("a", 1, None, 3, OpType::Delete),
            row("a", 1, Some(2.0), 2, OpType::Put),
            row("a", 1, Some(1.0), 1, OpType::Put),
            row("z", 4, None, 4, OpType::Delete),
        ]
    );
}

#[test]
fn time_range_and_sequence_bound_filter_rows() {
    let (memtable, format) = cpu();
    memtable
        .write(
            &batch(&[("a", 1, 1.0), ("a", 5, 2.0), ("a", 9, 3.0), ("b", 20, 4.0)]),
            1,
            OpType::Put,
        )
        .unwrap();
    memtable
        .write(&batch(&[("a", 5, 7.0)]), 5, OpType::Put)
        .unwrap();
    let rows = collect(memtable.iter(format.clone(), TimeRange::new(2, 9), 10));
    assert_eq!(
        rows,
        vec![
            row("a", 5, Some(7.0), 5, OpType::Put),
            row("a", 5, Some(2.0), 2, OpType::Put),
            row("a", 9, Some(3.0), 3, OpType::Put),
        ]
    );
    let rows = collect(memtable.iter_at(format.clone(), TimeRange::all(), 10, Some(2)));
    assert_eq!(
        rows,
        vec![
            row("a", 1, Some(1.0), 1, OpType::Put),
            row("a", 5, Some(2.0), 2, OpType::Put),
        ]
    );
    assert!(collect(memtable.iter_at(format.clone(), TimeRange::all(), 10, Some(0))).is_empty());
    assert_eq!(
        collect(memtable.iter_at(format, TimeRange::all(), 10, Some(5))).len(),
        5
    );
}

#[test]
fn empty_batch_writes_nothing() {
    let (memtable, format) = cpu();
    memtable.write(&batch(&[]), 1, OpType::Put).unwrap();
    assert!(memtable.is_empty());
    assert_eq!(memtable.max_sequence(), 0);
    assert_eq!(memtable.time_range(), None);
    assert_eq!(memtable.num_series(), 0);
    assert_eq!(memtable.iter(format, TimeRange::all(), 10).count(), 0);
}

#[test]
fn invalid_batches_are_rejected_before_anything_is_inserted() {
    let (memtable, _) = cpu();
    let wrong = RecordBatch::try_new(
        Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("host", arrow::datatypes::DataType::Utf8, true),
            arrow::datatypes::Field::new("ts", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("cpu", arrow::datatypes::DataType::Float64, true),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(Float64Array::from(vec![1.0])),
        ],
    )
    .unwrap();
    assert!(matches!(
        memtable.write(&wrong, 1, OpType::Put),
        Err(Error::InvalidWrite { .. })
    ));
    assert!(memtable.is_empty());
}

#[test]
fn nullable_fields_and_tags_round_trip() {
    let (memtable, format) = cpu();
    let input = RecordBatch::try_new(
        cpu_metadata().arrow_schema(),
        vec![
            Arc::new(StringArray::from(vec![None, Some("a"), None])),
            Arc::new(TimestampMillisecondArray::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![Some(1.0), None, None])),
        ],
    )
    .unwrap();
    memtable.write(&input, 1, OpType::Put).unwrap();
    let out: Vec<RecordBatch> = memtable
        .iter(format, TimeRange::all(), 10)
        .map(Result::unwrap)
        .collect();
    let out = &out[0];
    // The NULL host sorts first.
    let hosts = out.column(0).as_string::<i32>();
    assert!(hosts.is_null(0) && hosts.is_null(1) && hosts.value(2) == "a");
    let cpu = out.column(2).as_primitive::<Float64Type>();
    assert_eq!(cpu.value(0), 1.0);
    assert!(cpu.is_null(1) && cpu.is_null(2));
    assert_eq!(memtable.num_series(), 2);
}

/// A region with tags of three types and one field of every [`ColumnDataType`].
fn all_types_metadata() -> RegionMetadata {
    let all = [
        ColumnDataType::Boolean,
        ColumnDataType::Int8,
        ColumnDataType::Int16,
        ColumnDataType::Int32,
        ColumnDataType::Int64,
        ColumnDataType::UInt8,
        ColumnDataType::UInt16,
        ColumnDataType::UInt32,
        ColumnDataType::UInt64,
        ColumnDataType::Float32,
        ColumnDataType::Float64,
        ColumnDataType::String,
        ColumnDataType::TimestampSecond,
        ColumnDataType::TimestampMillisecond,
        ColumnDataType::TimestampMicrosecond,
        ColumnDataType::TimestampNanosecond,
    ];
    let column = |name: String, data_type, semantic_type| ColumnMetadata {
        column_id: 0,
        name,
        data_type,
        semantic_type,
        nullable: semantic_type != SemanticType::Timestamp,
        default: None,
    };
    let mut columns = vec![
        column("t_str".into(), ColumnDataType::String, SemanticType::Tag),
        column("t_int".into(), ColumnDataType::Int32, SemanticType::Tag),
        column(
            "ts".into(),
            ColumnDataType::TimestampNanosecond,
            SemanticType::Timestamp,
        ),
        column("t_bool".into(), ColumnDataType::Boolean, SemanticType::Tag),
    ];
    columns.extend(
        all.iter()
            .map(|&t| column(format!("f_{}", t.name()), t, SemanticType::Field)),
    );
    for (i, c) in columns.iter_mut().enumerate() {
        c.column_id = i as u32;
    }
    let metadata = RegionMetadata {
        region_id: RegionId::new(2, 0),
        columns,
        primary_key: vec![0, 1, 3],
        time_index: 2,
        schema_version: 0,
        next_column_id: 0,
    };
    metadata.validate().unwrap();
    metadata
}

#[test]
fn every_column_type_round_trips() {
    let metadata = Arc::new(all_types_metadata());
    let schema = metadata.arrow_schema();
    // Rows: two series ("b", 1, true) and ("a", -5, NULL); row 2 is out of ts order.
    let ints = Int64Array::from(vec![Some(1), None, Some(-3), Some(4), Some(100)]);
    let columns: Vec<ArrayRef> = metadata
        .columns
        .iter()
        .map(|c| match c.name.as_str() {
            "t_str" => Arc::new(StringArray::from(vec!["b", "a", "b", "a", "b"])) as ArrayRef,
            "t_int" => cast(
                &Int64Array::from(vec![1, -5, 1, -5, 1]),
                &c.data_type.to_arrow(),
            )
            .unwrap(),
            "t_bool" => Arc::new(arrow::array::BooleanArray::from(vec![
                Some(true),
                None,
                Some(true),
                None,
                Some(true),
            ])),
            "ts" => Arc::new(arrow::array::TimestampNanosecondArray::from(vec![
                10, 10, 5, 20, 30,
            ])),
            _ => cast(&ints, &c.data_type.to_arrow()).unwrap(),
        })
        .collect();
    let input = RecordBatch::try_new(schema, columns).unwrap();
    let memtable = Arc::new(Memtable::new(0, metadata.clone()));
    memtable.write(&input, 1, OpType::Put).unwrap();
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    let out: Vec<RecordBatch> = memtable
        .iter(format.clone(), TimeRange::all(), 100)
        .map(Result::unwrap)
        .collect();
    assert_eq!(out.len(), 1);
    // Series ("a", -5, NULL) first (rows 1, 3), then ("b", 1, true) sorted by ts (2, 0, 4).
    let order = arrow::array::UInt32Array::from(vec![1, 3, 2, 0, 4]);
    for (i, column) in input.columns().iter().enumerate() {
        let expected = take(column.as_ref(), &order, None).unwrap();
        let position = format.position_of(i).unwrap();
        assert_eq!(
            out[0].column(position).to_data(),
            expected.to_data(),
            "column {}",
            metadata.columns[i].name
        );
    }
    let sequences = out[0].column(format.sequence_position());
    let expected = arrow::array::UInt64Array::from(vec![2, 4, 3, 1, 5]);
    assert_eq!(sequences.to_data(), expected.to_data());

    // A projection reads only the projected field (tags and ts always).
    let format = Arc::new(ReadFormat::new(metadata.clone(), Some(&[5])));
    let out: Vec<RecordBatch> = memtable
        .iter(format.clone(), TimeRange::all(), 2)
        .map(Result::unwrap)
        .collect();
    assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    assert_eq!(out[0].num_columns(), 4 + 1 + 2);
}

#[test]
fn region_without_tags_is_one_series() {
    let mut metadata = cpu_metadata();
    metadata.columns[0].semantic_type = SemanticType::Field;
    metadata.primary_key.clear();
    metadata.validate().unwrap();
    let metadata = Arc::new(metadata);
    let memtable = Arc::new(Memtable::new(0, metadata.clone()));
    memtable
        .write(&batch(&[("x", 3, 1.0), ("y", 1, 2.0)]), 1, OpType::Put)
        .unwrap();
    assert_eq!(memtable.num_series(), 1);
    let format = Arc::new(ReadFormat::new(metadata, None));
    let rows = collect(memtable.iter(format, TimeRange::all(), 10));
    assert_eq!(
        rows,
        vec![
            row("y", 1, Some(2.0), 2, OpType::Put),
            row("x", 3, Some(1.0), 1, OpType::Put)
        ]
    );
}

#[test]
fn size_counts_column_capacities_and_series() {
    let (memtable, _) = cpu();
    let empty = memtable.size_bytes();
    let hosts: Vec<String> = (0..100).map(|h| format!("host_{h}")).collect();
    for t in 0..100 {
        let rows: Vec<(&str, i64, f64)> = hosts.iter().map(|h| (h.as_str(), t, 1.0)).collect();
        memtable
            .write(&batch(&rows), 1 + t as u64 * 100, OpType::Put)
            .unwrap();
    }
    // Per row: ts 8 + sequence 8 + op type 1 + cpu 8 bytes, in vectors that at most double.
    let rows = 100 * 100;
    let used = memtable.size_bytes() - empty;
    assert!(used >= rows * 25, "{used} bytes");
    assert!(used <= rows * 25 * 2 + 100 * 200, "{used} bytes");
    // The accounting equals the sum of the series' capacities plus the per-series overhead.
    let map = memtable.read_map();
    let capacities: usize = map.values().map(|s| s.read().heap_bytes()).sum();
    let keys: usize = map.keys().map(|k| k.len()).sum();
    let per_series = 2 * ARC_HEADER_BYTES + std::mem::size_of::<Series>() + MAP_ENTRY_BYTES;
    assert_eq!(used, capacities + keys + 100 * per_series);
}

/// Random writes, overwrites and deletes into several memtables, read back through the merge,
/// against a `BTreeMap` oracle of the newest version of each identity.
#[test]
fn randomized_against_an_oracle() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let metadata = Arc::new(cpu_metadata());
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    for case in 0..300 {
        let mut memtables = vec![Arc::new(Memtable::new(0, metadata.clone()))];
        // (sequence, host, ts, value or None for a delete), in sequence order.
        let mut ops: Vec<(u64, String, i64, Option<f64>)> = Vec::new();
        let mut sequence = 1u64;
        let hosts = rng.random_range(1..6);
        for _ in 0..rng.random_range(1..12) {
            if rng.random_bool(0.2) {
                memtables.push(Arc::new(Memtable::new(
                    memtables.len() as u64,
                    metadata.clone(),
                )));
            }
            let delete = rng.random_bool(0.25);
            let n = rng.random_range(0..20);
            let rows: Vec<(String, i64, f64)> = (0..n)
                .map(|_| {
                    (
                        format!("h{}", rng.random_range(0..hosts)),
                        rng.random_range(-5..15),
                        f64::from(rng.random_range(0..1000)),
                    )
                })
                .collect();
            let refs: Vec<(&str, i64, f64)> =
                rows.iter().map(|(h, t, v)| (h.as_str(), *t, *v)).collect();
            let op = if delete { OpType::Delete } else { OpType::Put };
            memtables
                .last()
                .unwrap()
                .write(&batch(&refs), sequence, op)
                .unwrap();
            for (i, (h, t, v)) in rows.into_iter().enumerate() {
                ops.push((sequence + i as u64, h, t, (!delete).then_some(v)));
            }
            sequence += n as u64;
        }
        let bound = rng.random_range(0..=sequence);
        let range = if rng.random_bool(0.5) {
            TimeRange::all()
        } else {
            let a = rng.random_range(-6..16);
            TimeRange::new(a, a + rng.random_range(0..10))
        };
        let mut oracle: BTreeMap<(String, i64), Option<f64>> = BTreeMap::new();
        for (seq, h, t, v) in &ops {
            if *seq <= bound {
                oracle.insert((h.clone(), *t), *v);
            }
        }
        let expected: Vec<(String, i64, Option<f64>)> = oracle
            .into_iter()
            .filter(|((_, t), v)| v.is_some() && range.contains(*t))
            .map(|((h, t), v)| (h, t, v))
            .collect();
        let batch_size = rng.random_range(1..8);
        let sources: Vec<BatchSource> = memtables
            .iter()
            .map(|m| {
                Box::new(m.iter_at(format.clone(), range, batch_size, Some(bound))) as BatchSource
            })
            .collect();
        let merged = MergeReader::new(format.clone(), sources, range, true, batch_size).unwrap();
        let got: Vec<(String, i64, Option<f64>)> = collect(merged)
            .into_iter()
            .map(|(h, t, v, _, _)| (h, t, v))
            .collect();
        assert_eq!(got, expected, "case {case}, bound {bound}, range {range:?}");
    }
}
