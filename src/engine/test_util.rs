//! Fixtures shared by the engine's tests: the `cpu` region of the docs
//! (`host` tag, `ts` millisecond time index, `cpu` DOUBLE field).

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};

use crate::engine::metadata::{
    ColumnDataType, ColumnMetadata, RegionId, RegionMetadata, SemanticType,
};

/// Region 1_0 with columns `host STRING` (tag), `ts TIMESTAMP(3)` (time index), `cpu DOUBLE`.
pub fn cpu_metadata() -> RegionMetadata {
    let column = |name: &str, column_id, data_type, semantic_type| ColumnMetadata {
        name: name.to_string(),
        column_id,
        data_type,
        semantic_type,
        nullable: semantic_type != SemanticType::Timestamp,
        default: None,
    };
    RegionMetadata {
        region_id: RegionId::new(1, 0),
        columns: vec![
            column("host", 0, ColumnDataType::String, SemanticType::Tag),
            column(
                "ts",
                1,
                ColumnDataType::TimestampMillisecond,
                SemanticType::Timestamp,
            ),
            column("cpu", 2, ColumnDataType::Float64, SemanticType::Field),
        ],
        primary_key: vec![0],
        time_index: 1,
        schema_version: 0,
        next_column_id: 0,
    }
}

/// A batch of `(host, ts in ms, cpu)` rows in [`cpu_metadata`]'s schema.
pub fn cpu_batch(rows: &[(&str, i64, f64)]) -> RecordBatch {
    RecordBatch::try_new(
        cpu_metadata().arrow_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.1),
            )),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .expect("fixture batch matches the fixture schema")
}

/// Every row a scan of `region` returns, as `(host, ts in ms, cpu)` in scan order, for
/// regions of [`cpu_metadata`]'s schema.
pub async fn scan_cpu_rows(
    region: &crate::engine::region::RegionRef,
    request: crate::engine::region::ScanRequest,
) -> Vec<(String, i64, f64)> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, TimestampMillisecondType};
    use futures::TryStreamExt;
    let (_, stream) = region.scan(request).expect("scan starts");
    let batches: Vec<RecordBatch> = stream.try_collect().await.expect("scan succeeds");
    let mut rows = Vec::new();
    for b in batches {
        let host = b.column(0).as_string::<i32>();
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        let cpu = b.column(2).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            rows.push((host.value(i).to_string(), ts.value(i), cpu.value(i)));
        }
    }
    rows
}
