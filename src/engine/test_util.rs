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
