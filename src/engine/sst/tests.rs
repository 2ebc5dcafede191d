//! SST tests: encodings, page index, page-level pruning, on a TSBS-like table (10 string
//! tags, a millisecond time index every 10 s, 10 DOUBLE fields with two decimals).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt8Array,
    UInt64Array,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::metadata::{
    ColumnDataType, ColumnMetadata, RegionId, RegionMetadata, SemanticType,
};
use crate::engine::read::ReadFormat;

pub(crate) const TAGS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];
pub(crate) const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
/// Time between two rows of a host (ms).
pub(crate) const INTERVAL_MS: i64 = 10_000;

/// The TSBS cpu-only schema: 10 tags (primary key in this order), `ts`, 10 fields.
pub(crate) fn tsbs_metadata() -> RegionMetadata {
    let column = |name: &str, column_id, data_type, semantic_type| ColumnMetadata {
        name: name.to_string(),
        column_id,
        data_type,
        semantic_type,
        nullable: semantic_type != SemanticType::Timestamp,
        default: None,
    };
    let mut columns: Vec<ColumnMetadata> = TAGS
        .iter()
        .enumerate()
        .map(|(i, t)| column(t, i as u32, ColumnDataType::String, SemanticType::Tag))
        .collect();
    columns.push(column(
        "ts",
        10,
        ColumnDataType::TimestampMillisecond,
        SemanticType::Timestamp,
    ));
    columns.extend(FIELDS.iter().enumerate().map(|(i, f)| {
        column(
            f,
            11 + i as u32,
            ColumnDataType::Float64,
            SemanticType::Field,
        )
    }));
    RegionMetadata {
        region_id: RegionId::new(1, 0),
        columns,
        primary_key: (0..10).collect(),
        time_index: 10,
        schema_version: 0,
        next_column_id: 0,
    }
}

/// Host names `host_{i}` for `i < hosts`, in SST (byte) order.
pub(crate) fn host_names(hosts: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..hosts).map(|i| format!("host_{i}")).collect();
    names.sort();
    names
}

/// `hosts x rows_per_host` rows in the full read schema of `format` (sorted by tags, then
/// ts), as the flush would write them: one batch per host.
pub(crate) fn tsbs_batches(
    format: &ReadFormat,
    hosts: usize,
    rows_per_host: usize,
) -> Vec<RecordBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut sequence = 0u64;
    host_names(hosts)
        .into_iter()
        .map(|host| {
            let tags: Vec<String> = std::iter::once(host.clone())
                .chain((1..10).map(|t| format!("t{t}_{}", rng.random_range(0..4u32))))
                .collect();
            let mut columns: Vec<ArrayRef> = tags
                .iter()
                .map(|t| {
                    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                        t.as_str(),
                        rows_per_host,
                    ))) as ArrayRef
                })
                .collect();
            columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..rows_per_host as i64).map(|k| k * INTERVAL_MS),
            )));
            for _ in FIELDS {
                let mut v: f64 = rng.random::<f64>() * 100.0;
                let values: Vec<f64> = (0..rows_per_host)
                    .map(|_| {
                        v = (v + rng.random::<f64>() * 2.0 - 1.0).clamp(0.0, 100.0);
                        (v * 100.0).round() / 100.0
                    })
                    .collect();
                columns.push(Arc::new(Float64Array::from(values)));
            }
            columns.push(Arc::new(UInt64Array::from_iter_values(
                sequence..sequence + rows_per_host as u64,
            )));
            sequence += rows_per_host as u64;
            columns.push(Arc::new(UInt8Array::from(vec![1u8; rows_per_host])));
            RecordBatch::try_new(format.schema().clone(), columns).unwrap()
        })
        .collect()
}

use arrow::array::AsArray;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::engine::read::predicate::TagFilter;
use crate::engine::sst::format::{PAGE_ROWS, ROW_GROUP_ROWS};
use crate::engine::sst::reader::{SstReader, load_metadata};
use crate::engine::sst::writer::encode_sst;
use crate::engine::time_range::TimeRange;

/// A page holds at most this many rows (the limit is checked after each 1024-row batch).
const MAX_PAGE_ROWS: usize = PAGE_ROWS + 1023;

fn full_format() -> Arc<ReadFormat> {
    Arc::new(ReadFormat::new(Arc::new(tsbs_metadata()), None))
}

fn encode(format: &ReadFormat, batches: Vec<RecordBatch>) -> Bytes {
    encode_sst(format, batches.into_iter().map(Ok), 0)
        .unwrap()
        .unwrap()
        .bytes
}

/// Reads every batch; returns the rows of `host` and the reader's metrics.
fn read(
    bytes: &Bytes,
    time_range: TimeRange,
    filters: &[TagFilter],
    host: &str,
) -> (usize, crate::engine::sst::reader::SstReadMetrics) {
    let format = full_format();
    let mut reader = SstReader::open_filtered(
        "test.parquet".to_string(),
        bytes.clone(),
        format.clone(),
        time_range,
        filters,
        8192,
    )
    .unwrap();
    let mut matching = 0;
    for batch in reader.by_ref() {
        let batch = batch.unwrap();
        let hosts = batch.column(0).as_string::<i32>();
        let ts = batch
            .column(format.time_index_position())
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        matching += (0..batch.num_rows())
            .filter(|&i| hosts.value(i) == host && time_range.contains(ts.value(i)))
            .count();
    }
    (matching, reader.metrics())
}

fn host_filter(host: &str) -> TagFilter {
    TagFilter {
        column: "hostname".to_string(),
        values: vec![host.to_string()],
    }
}

/// docs/FORMAT.md "SST", writer properties: LZ4_RAW everywhere, dictionary for tags and
/// fields, DELTA_BINARY_PACKED without dictionary for ts and `__sequence`, a page index, and
/// pages of at most `PAGE_ROWS` (+ one write batch) rows.
#[test]
fn encodings_codec_and_page_index() {
    let format = full_format();
    let bytes = encode(&format, tsbs_batches(&format, 100, 1000));
    let metadata = load_metadata("test.parquet", &bytes).unwrap();
    let parquet = metadata.metadata();
    assert_eq!(
        parquet.num_row_groups(),
        100_000usize.div_ceil(ROW_GROUP_ROWS)
    );
    let column_index = parquet.column_index().expect("column index written");
    let offset_index = parquet.offset_index().expect("offset index written");
    for (rg, group) in parquet.row_groups().iter().enumerate() {
        for (leaf, chunk) in group.columns().iter().enumerate() {
            let name = chunk.column_path().string();
            assert_eq!(chunk.compression(), Compression::LZ4_RAW, "{name}");
            let encodings: Vec<Encoding> = chunk.encodings().collect();
            if name == "ts" || name == "__sequence" {
                assert!(chunk.dictionary_page_offset().is_none(), "{name}");
                assert!(encodings.contains(&Encoding::DELTA_BINARY_PACKED), "{name}");
            } else if name != "__op_type" {
                assert!(chunk.dictionary_page_offset().is_some(), "{name}");
                assert!(encodings.contains(&Encoding::RLE_DICTIONARY), "{name}");
            }
            assert!(!column_index[rg].is_empty());
            let pages = offset_index[rg][leaf].page_locations();
            let rows = group.num_rows() as usize;
            assert!(pages.len() >= rows.div_ceil(MAX_PAGE_ROWS), "{name}");
            for pair in pages.windows(2) {
                let page_rows = (pair[1].first_row_index - pair[0].first_row_index) as usize;
                assert!(page_rows <= MAX_PAGE_ROWS, "{name}: {page_rows}");
            }
        }
    }
}

/// A one-host query decodes the host's pages only: at most two pages' rows out of 100,000.
#[test]
fn tag_filter_decodes_only_the_pages_of_one_host() {
    let format = full_format();
    let bytes = encode(&format, tsbs_batches(&format, 100, 1000));
    let host = host_names(100)[42].clone();
    let (all_rows, metrics) = read(&bytes, TimeRange::all(), &[], &host);
    assert_eq!(all_rows, 1000);
    assert_eq!(metrics.rows_decoded, 100_000);
    let (rows, metrics) = read(&bytes, TimeRange::all(), &[host_filter(&host)], &host);
    assert_eq!(rows, 1000, "every row of the host is read");
    assert_eq!(metrics.row_groups_read, 1);
    assert_eq!(metrics.rows_decoded, metrics.rows_selected);
    assert!(
        metrics.rows_decoded <= 2 * MAX_PAGE_ROWS,
        "decoded {} rows",
        metrics.rows_decoded
    );
    // A host that is not in the file: nothing at all is decoded.
    let (rows, metrics) = read(&bytes, TimeRange::all(), &[host_filter("host_x")], "host_x");
    assert_eq!((rows, metrics.rows_decoded), (0, 0));
    // IN lists select the pages of each value.
    let other = host_names(100)[90].clone();
    let both = TagFilter {
        column: "hostname".to_string(),
        values: vec![host.clone(), other.clone()],
    };
    assert_eq!(
        read(&bytes, TimeRange::all(), std::slice::from_ref(&both), &host).0,
        1000
    );
    assert_eq!(read(&bytes, TimeRange::all(), &[both], &other).0, 1000);
    // A filter on a column the file lacks (added later) prunes nothing.
    let missing = TagFilter {
        column: "added_later".to_string(),
        values: vec!["x".to_string()],
    };
    let (rows, metrics) = read(&bytes, TimeRange::all(), &[missing], &host);
    assert_eq!((rows, metrics.rows_decoded), (1000, 100_000));
}

/// Within one series, pages are in time order: a narrow time range decodes one or two pages.
#[test]
fn time_range_decodes_only_overlapping_pages() {
    let format = full_format();
    let bytes = encode(&format, tsbs_batches(&format, 1, 50_000));
    let host = host_names(1)[0].clone();
    let range = TimeRange::new(30_000 * INTERVAL_MS, 30_099 * INTERVAL_MS);
    let (rows, metrics) = read(&bytes, range, &[], &host);
    assert_eq!(rows, 100);
    assert!(metrics.rows_decoded <= 2 * MAX_PAGE_ROWS, "{metrics:?}");
    // Time range and tag filter intersect.
    let (rows, metrics) = read(&bytes, range, &[host_filter(&host)], &host);
    assert_eq!(rows, 100);
    assert!(metrics.rows_decoded <= 2 * MAX_PAGE_ROWS, "{metrics:?}");
}

/// Files written before this encoding (ZSTD, no field dictionaries, chunk statistics only, so
/// no column index) read the same; nothing is pruned inside their row groups.
#[test]
fn files_without_page_index_are_read_whole() {
    let format = full_format();
    let batches = tsbs_batches(&format, 20, 500);
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
            "tsdb:format_version".to_string(),
            "1".to_string(),
        )]));
    for field in FIELDS {
        props = props.set_column_dictionary_enabled(field.into(), false);
    }
    let mut writer =
        ArrowWriter::try_new(Vec::new(), format.schema().clone(), Some(props.build())).unwrap();
    for batch in &batches {
        writer.write(batch).unwrap();
    }
    let bytes = Bytes::from(writer.into_inner().unwrap());
    let host = host_names(20)[3].clone();
    let (rows, metrics) = read(&bytes, TimeRange::all(), &[host_filter(&host)], &host);
    assert_eq!(rows, 500);
    assert_eq!(metrics.rows_decoded, 10_000);
}

/// A field filter drops failing rows while decoding: the reader returns exactly the rows
/// whose value passes (NULLs never do), and decodes no others.
#[test]
fn field_filters_keep_only_passing_rows() {
    use arrow::array::Array;

    use crate::engine::read::predicate::{CompareOp, FieldFilter};

    let format = full_format();
    let batches = tsbs_batches(&format, 20, 500);
    let user = format.position_of(TAGS.len() + 1).unwrap(); // usage_user, after ts
    let expected: usize = batches
        .iter()
        .map(|b| {
            let values = b
                .column(user)
                .as_primitive::<arrow::datatypes::Float64Type>();
            values
                .iter()
                .filter(|v| v.is_some_and(|v| v > 90.0))
                .count()
        })
        .sum();
    assert!(expected > 0 && expected < 10_000, "{expected}");
    let bytes = encode(&format, batches);
    let filter = FieldFilter {
        column: FIELDS[0].to_string(),
        op: CompareOp::Gt,
        value: 90.0,
    };
    let path = "test.parquet".to_string();
    let metadata = load_metadata(&path, &bytes).unwrap();
    let mut reader = SstReader::open_with_field_filters(
        path,
        bytes.into(),
        metadata,
        format.clone(),
        TimeRange::all(),
        &[],
        &[filter],
        &|_| true,
        4096,
    )
    .unwrap();
    let mut rows = 0;
    for batch in reader.by_ref() {
        let batch = batch.unwrap();
        let values = batch
            .column(user)
            .as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(values.null_count(), 0);
        assert!(values.values().iter().all(|&v| v > 90.0));
        rows += batch.num_rows();
    }
    assert_eq!(rows, expected);
    assert_eq!(reader.metrics().rows_decoded, expected);
}
mod fuzz;
mod ranged;
