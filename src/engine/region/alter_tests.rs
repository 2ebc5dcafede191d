//! `Region::alter` end to end: schema mapping of old SSTs by column id (added, dropped,
//! re-added, modified columns), the flush before the change, durability across reopen,
//! compaction writing the new schema, writes of the old schema refused.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use futures::TryStreamExt;

use crate::engine::metadata::{
    ColumnDataType, ColumnMetadata, RegionId, RegionMetadata, SemanticType,
};
use crate::engine::read::compat;
use crate::engine::region::{RegionRef, ScanRequest};
use crate::engine::sst::reader::{fetch_sst, load_metadata};
use crate::engine::test_util::{cpu_batch, cpu_metadata};
use crate::engine::{Engine, EngineOptions};

/// `host` tag, `ts`, then `mem` BIGINT (id 3, default 7) instead of `cpu`, which was dropped.
fn altered(old: &RegionMetadata) -> RegionMetadata {
    let mut new = old.clone();
    new.columns.remove(2);
    new.columns.push(ColumnMetadata {
        name: "mem".into(),
        column_id: 3,
        data_type: ColumnDataType::Int64,
        semantic_type: SemanticType::Field,
        nullable: true,
        default: Some("7".into()),
    });
    new.schema_version = old.schema_version + 1;
    new.next_column_id = 4;
    new
}

fn new_batch(metadata: &RegionMetadata, rows: &[(&str, i64, Option<i64>)]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.1),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(metadata.arrow_schema(), columns).unwrap()
}

async fn rows(region: &RegionRef) -> Vec<(String, i64, Option<i64>)> {
    let (_, stream) = region.scan(ScanRequest::default()).unwrap();
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let host = b.column(0).as_string::<i32>();
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        let mem = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            let value = (!mem.is_null(i)).then(|| mem.value(i));
            out.push((host.value(i).to_string(), ts.value(i), value));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn old_ssts_read_under_the_new_schema_across_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let id = RegionId::new(1, 0);
    let new = altered(&cpu_metadata());
    {
        let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
        let region = engine.create_region(cpu_metadata()).await.unwrap();
        region
            .write(cpu_batch(&[("a", 1, 1.5), ("b", 2, 2.5)]))
            .await
            .unwrap();
        region.flush().await.unwrap();
        // Still in the memtable when the ALTER comes: it is flushed first.
        region.write(cpu_batch(&[("c", 3, 3.5)])).await.unwrap();
        region.alter(new.clone()).await.unwrap();
        // The delta holding the change is of format version 2, which older builds refuse.
        let mut deltas = region
            .storage
            .list(&super::open::manifest_dir(id))
            .await
            .unwrap();
        deltas.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let newest = region.storage.get(&deltas.last().unwrap().0).await.unwrap();
        assert_eq!(&newest[..6], b"TSMD\x02\x00");
        assert_eq!(region.version().files.len(), 2);
        assert!(region.version().mutable.is_empty());
        assert_eq!(*region.metadata(), new);
        // A batch of the old schema no longer fits.
        assert!(region.write(cpu_batch(&[("d", 4, 4.5)])).await.is_err());
        region
            .write(new_batch(&new, &[("a", 1, Some(10)), ("e", 5, None)]))
            .await
            .unwrap();
        let expected = vec![
            ("a".to_string(), 1, Some(10)),
            ("b".to_string(), 2, Some(7)),
            ("c".to_string(), 3, Some(7)),
            ("e".to_string(), 5, None),
        ];
        assert_eq!(rows(&region).await, expected);
        engine.close().await.unwrap();
    }
    // The change is in the manifest, the write after it in the WAL.
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.open_region(id).await.unwrap();
    assert_eq!(*region.metadata(), new);
    let expected = vec![
        ("a".to_string(), 1, Some(10)),
        ("b".to_string(), 2, Some(7)),
        ("c".to_string(), 3, Some(7)),
        ("e".to_string(), 5, None),
    ];
    assert_eq!(rows(&region).await, expected);
    region.flush().await.unwrap();
    region.compact().await.unwrap();
    // Compaction output is written under the new schema: its footer names `mem`, not `cpu`.
    let version = region.version();
    assert_eq!(version.files.len(), 1);
    let meta = version.files.values().next().unwrap().meta().clone();
    let bytes = fetch_sst(&region.storage, id, &meta).await.unwrap();
    let footer = load_metadata("compacted", &bytes).unwrap();
    assert_eq!(compat::file_metadata(&footer), Some(new.clone()));
    assert_eq!(rows(&region).await, expected);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn modified_types_are_cast_and_refused_evolutions_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineOptions::new(dir.path())).await.unwrap();
    let region = engine.create_region(cpu_metadata()).await.unwrap();
    region.write(cpu_batch(&[("a", 1, 1.5)])).await.unwrap();
    region.flush().await.unwrap();
    let old = cpu_metadata();

    // Not the next schema version / the time index changed / a tag became a field.
    let mut skipped = old.clone();
    skipped.schema_version = 5;
    assert!(region.alter(skipped).await.is_err());
    let mut ts_changed = old.clone();
    ts_changed.schema_version = 1;
    ts_changed.columns[1].data_type = ColumnDataType::TimestampSecond;
    assert!(region.alter(ts_changed).await.is_err());
    let mut reused = altered(&old);
    reused.columns[2].column_id = 2;
    reused.columns[2].data_type = ColumnDataType::Float64;
    reused.columns.push(ColumnMetadata {
        column_id: 1,
        ..reused.columns[2].clone()
    });
    assert!(region.alter(reused).await.is_err());
    assert_eq!(*region.metadata(), old);

    // cpu DOUBLE -> STRING: the old file's values are cast at read.
    let mut as_text = old.clone();
    as_text.schema_version = 1;
    as_text.columns[2].data_type = ColumnDataType::String;
    region.alter(as_text.clone()).await.unwrap();
    let (_, stream) = region.scan(ScanRequest::default()).unwrap();
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    assert_eq!(batches[0].column(2).as_string::<i32>().value(0), "1.5");
    // And back to DOUBLE.
    let mut back = as_text.clone();
    back.schema_version = 2;
    back.columns[2].data_type = ColumnDataType::Float64;
    region.alter(back).await.unwrap();
    let (_, stream) = region.scan(ScanRequest::default()).unwrap();
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    let cpu = batches[0].column(2).as_primitive::<Float64Type>();
    assert_eq!(cpu.value(0), 1.5);
    // `cpu` dropped, `load DOUBLE` added: a batch of the old schema has the same types, and
    // is refused by its column names.
    let mut load = (*region.metadata()).clone();
    load.schema_version += 1;
    load.columns[2].name = "load".into();
    load.columns[2].column_id = 3;
    load.next_column_id = 4;
    region.alter(load).await.unwrap();
    let err = region
        .write(cpu_batch(&[("x", 9, 9.0)]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not the table's column 'load'"), "{err}");
    engine.close().await.unwrap();
}
