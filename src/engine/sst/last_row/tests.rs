//! Last-row reads of one SST: recorded and computed series runs, tombstones, time ranges,
//! the result cache.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt8Array};
use arrow::datatypes::TimestampMillisecondType;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::read_last_rows;
use crate::engine::cache::{CachedSst, SstCache};
use crate::engine::metadata::RegionId;
use crate::engine::read::ReadFormat;
use crate::engine::sst::file::FileId;
use crate::engine::sst::reader::load_metadata;
use crate::engine::sst::series::SERIES_ROWS_KEY;
use crate::engine::sst::tests::{INTERVAL_MS, tsbs_batches, tsbs_metadata};
use crate::engine::sst::writer::encode_sst;
use crate::engine::time_range::TimeRange;

const HOSTS: usize = 20;
const ROWS: usize = 500;

fn format() -> Arc<ReadFormat> {
    Arc::new(ReadFormat::new(Arc::new(tsbs_metadata()), None))
}

/// TSBS batches (one per host) whose host 3's newest row is a tombstone.
fn batches(format: &ReadFormat) -> Vec<RecordBatch> {
    let mut batches = tsbs_batches(format, HOSTS, ROWS);
    let host = &mut batches[3];
    let mut ops = vec![1u8; ROWS];
    ops[ROWS - 1] = 0;
    let mut columns: Vec<ArrayRef> = host.columns().to_vec();
    columns[format.op_type_position()] = Arc::new(UInt8Array::from(ops));
    *host = RecordBatch::try_new(host.schema(), columns).unwrap();
    batches
}

fn cached(bytes: Bytes) -> CachedSst {
    CachedSst {
        region_id: RegionId::new(1, 0),
        file_id: FileId::random(),
        path: "test.parquet".to_string(),
        fetched_bytes: 0,
        metadata: load_metadata("test.parquet", &bytes).unwrap(),
        checksums: None,
        data: bytes.into(),
    }
}

/// The fixture batches as tsdb writes an SST.
fn encoded(format: &ReadFormat) -> CachedSst {
    let sst = encode_sst(format, batches(format).into_iter().map(Ok), 0).unwrap();
    cached(sst.unwrap().bytes)
}

/// The time index (ms) of each row of `batch`, and the host of each row.
fn rows(format: &ReadFormat, batch: &RecordBatch) -> Vec<(String, i64)> {
    let ts = batch
        .column(format.time_index_position())
        .as_primitive::<TimestampMillisecondType>();
    let hosts = batch.column(0).as_string::<i32>();
    (0..batch.num_rows())
        .map(|i| (hosts.value(i).to_string(), ts.value(i)))
        .collect()
}

fn expected(newest: i64, host_3: i64) -> Vec<(String, i64)> {
    crate::engine::sst::tests::host_names(HOSTS)
        .into_iter()
        .enumerate()
        .map(|(i, host)| (host, if i == 3 { host_3 } else { newest }))
        .collect()
}

#[test]
fn newest_visible_row_of_every_series_from_the_recorded_runs() {
    let format = format();
    let sst = encoded(&format);
    let runs = sst
        .metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == SERIES_ROWS_KEY).cloned())
        .and_then(|kv| kv.value)
        .unwrap();
    assert_eq!(runs.split(',').count(), HOSTS);
    let last = (ROWS as i64 - 1) * INTERVAL_MS;
    let batch = read_last_rows(&sst, &format, TimeRange::all()).unwrap();
    // Host 3's newest row is deleted: the row before it is its newest visible one.
    assert_eq!(rows(&format, &batch), expected(last, last - INTERVAL_MS));
    // Every column of the chosen rows is there, and they are puts.
    assert_eq!(batch.num_columns(), format.schema().fields().len());
    assert_eq!(batch.column(format.op_type_position()).null_count(), 0);
    // A time range ending mid-series: the newest row inside it.
    let cut = 250 * INTERVAL_MS;
    let batch = read_last_rows(&sst, &format, TimeRange::new(0, cut)).unwrap();
    assert_eq!(rows(&format, &batch), expected(cut, cut));
    // A time range after every row: nothing.
    let batch = read_last_rows(&sst, &format, TimeRange::new(last + 1, i64::MAX)).unwrap();
    assert_eq!(batch.num_rows(), 0);
}

#[test]
fn files_without_recorded_runs_compute_them_from_the_tags() {
    let format = format();
    // As tsdb wrote SSTs before the series runs were recorded: the version key only.
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "tsdb:format_version".to_string(),
            "1".to_string(),
        )]))
        .build();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), format.schema().clone(), Some(props)).unwrap();
    for batch in batches(&format) {
        writer.write(&batch).unwrap();
    }
    let sst = cached(Bytes::from(writer.into_inner().unwrap()));
    let last = (ROWS as i64 - 1) * INTERVAL_MS;
    let batch = read_last_rows(&sst, &format, TimeRange::all()).unwrap();
    assert_eq!(rows(&format, &batch), expected(last, last - INTERVAL_MS));
}

#[test]
fn the_cache_answers_a_second_read_of_a_file() {
    let format = format();
    let sst = encoded(&format);
    let cache = SstCache::new(1 << 20, 1 << 20);
    let metrics = crate::engine::region::scan_metrics::ScanMetrics::default();
    let first = cache
        .last_rows(&sst, &format, &metrics, || Ok(sst.clone()))
        .unwrap();
    let second = cache
        .last_rows(&sst, &format, &metrics, || Ok(sst.clone()))
        .unwrap();
    assert_eq!(first, second);
    let stats = cache.stats();
    assert_eq!((stats.last_row_misses, stats.last_row_hits), (1, 1));
    assert!(stats.last_row_bytes > 0);
    let counted = metrics.values();
    assert!(counted.contains(&("last_row_cache_hits", 1)), "{counted:?}");
    assert!(counted.contains(&("last_row_reads", 1)), "{counted:?}");
    // Another read schema is another answer.
    let hosts_only = Arc::new(ReadFormat::without_unprojected_tags(
        Arc::new(tsbs_metadata()),
        &[0],
    ));
    let narrow = cache
        .last_rows(&sst, &hosts_only, &metrics, || Ok(sst.clone()))
        .unwrap();
    assert_eq!(narrow.num_rows(), HOSTS);
    assert_eq!(cache.stats().last_row_misses, 2);
    cache.remove_file(sst.region_id, sst.file_id);
    assert_eq!(cache.stats().last_row_bytes, 0);
}
