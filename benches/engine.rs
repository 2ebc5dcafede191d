//! Criterion micro-benchmarks of storage-engine parts on a TSBS-like `cpu` region
//! (10 string tags, a millisecond time index, 10 DOUBLE fields), 1000-row batches:
//!
//! - `memtable/insert`: `Memtable::write` of one batch into an empty memtable;
//! - `wal/append_fsync`: `Wal::append` of one batch (one frame + one fsync) in a tempdir;
//! - `sst/encode` and `sst/read`: Parquet SST encoding of 10,000 sorted rows, and reading
//!   them back with `SstReader`;
//! - `merge/two_sources`: `MergeReader` over two overlapping sorted sources of 10,000 rows
//!   (every row also in the other source with an older sequence), i.e. the dedup merge of a
//!   region scan;
//! - `database/insert_1000` and `database/scan_merge`: the same through the public
//!   `tsdb::Database` API (an INSERT statement with WAL fsync; a `count(*)` scan over an SST
//!   plus a memtable overwriting half of its rows).
//!
//! `cargo bench --bench engine` (add a filter such as `-- memtable` to run one group).

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use criterion::{Criterion, criterion_group, criterion_main};
use tsdb::Database;
use tsdb::engine::memtable::Memtable;
use tsdb::engine::metadata::{
    ColumnDataType, ColumnMetadata, OpType, RegionId, RegionMetadata, RegionMetadataRef,
    SemanticType,
};
use tsdb::engine::read::ReadFormat;
use tsdb::engine::read::merge::MergeReader;
use tsdb::engine::sst::reader::SstReader;
use tsdb::engine::sst::writer::encode_sst;
use tsdb::engine::time_range::TimeRange;
use tsdb::engine::wal::{Wal, WalEntry, WalOptions};

const TAGS: usize = 10;
const FIELDS: usize = 10;
const BATCH: usize = 1000;

fn cpu_metadata() -> RegionMetadataRef {
    let column = |name: String, column_id, data_type, semantic_type| ColumnMetadata {
        name,
        column_id,
        data_type,
        semantic_type,
        nullable: semantic_type != SemanticType::Timestamp,
        default: None,
    };
    let mut columns = Vec::new();
    for t in 0..TAGS {
        columns.push(column(
            format!("tag{t}"),
            t as u32,
            ColumnDataType::String,
            SemanticType::Tag,
        ));
    }
    columns.push(column(
        "ts".to_string(),
        TAGS as u32,
        ColumnDataType::TimestampMillisecond,
        SemanticType::Timestamp,
    ));
    for f in 0..FIELDS {
        columns.push(column(
            format!("usage_{f}"),
            (TAGS + 1 + f) as u32,
            ColumnDataType::Float64,
            SemanticType::Field,
        ));
    }
    Arc::new(RegionMetadata {
        region_id: RegionId::new(1, 0),
        columns,
        primary_key: (0..TAGS).collect(),
        time_index: TAGS,
        schema_version: 0,
        next_column_id: 0,
    })
}

/// `rows` rows in time-major order over `hosts` hosts, starting at tick `first_tick`.
fn cpu_batch(
    metadata: &RegionMetadata,
    hosts: usize,
    first_tick: usize,
    rows: usize,
) -> RecordBatch {
    let host = |r: usize| (first_tick * hosts + r) % hosts;
    let tick = |r: usize| (first_tick * hosts + r) / hosts;
    let mut columns: Vec<ArrayRef> = Vec::new();
    for t in 0..TAGS {
        columns.push(Arc::new(StringArray::from_iter_values(
            (0..rows).map(|r| format!("tag{t}_value_{}", host(r))),
        )));
    }
    columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
        (0..rows).map(|r| 1_451_606_400_000 + tick(r) as i64 * 10_000),
    )));
    for f in 0..FIELDS {
        columns.push(Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|r| ((r * 31 + f * 7) % 10_000) as f64 / 100.0),
        )));
    }
    RecordBatch::try_new(metadata.arrow_schema(), columns).expect("batch matches the schema")
}

/// A memtable holding `rows` rows (100 hosts), starting at sequence `sequence`.
fn filled_memtable(metadata: &RegionMetadataRef, rows: usize, sequence: u64) -> Arc<Memtable> {
    let memtable = Arc::new(Memtable::new(1, metadata.clone()));
    let batch = cpu_batch(metadata, 100, 0, rows);
    memtable
        .write(&batch, sequence, OpType::Put)
        .expect("memtable write");
    memtable
}

fn sorted_batches(memtable: &Arc<Memtable>, format: &Arc<ReadFormat>) -> Vec<RecordBatch> {
    memtable
        .iter(format.clone(), TimeRange::all(), 8192)
        .collect::<Result<Vec<_>, _>>()
        .expect("memtable scan")
}

fn bench_memtable(c: &mut Criterion) {
    let metadata = cpu_metadata();
    let batch = cpu_batch(&metadata, 100, 0, BATCH);
    c.bench_function("memtable/insert_1000_rows", |b| {
        b.iter(|| {
            let memtable = Memtable::new(1, metadata.clone());
            memtable
                .write(black_box(&batch), 1, OpType::Put)
                .expect("memtable write");
            black_box(memtable.num_rows())
        })
    });
}

fn bench_wal(c: &mut Criterion) {
    let metadata = cpu_metadata();
    let batch = cpu_batch(&metadata, 100, 0, BATCH);
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open wal");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut sequence = 1;
    let mut group = c.benchmark_group("wal");
    group.sample_size(20);
    group.bench_function("append_fsync_1000_rows", |b| {
        b.iter(|| {
            let entry = WalEntry {
                sequence,
                op_type: OpType::Put,
                batch: batch.clone(),
            };
            sequence += BATCH as u64;
            runtime.block_on(wal.append(entry)).expect("wal append");
        })
    });
    group.finish();
    wal.close().expect("close wal");
}

fn bench_sst(c: &mut Criterion) {
    let metadata = cpu_metadata();
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    let memtable = filled_memtable(&metadata, 10 * BATCH, 1);
    let batches = sorted_batches(&memtable, &format);
    let mut group = c.benchmark_group("sst");
    group.sample_size(20);
    group.bench_function("encode_10000_rows", |b| {
        b.iter(|| {
            let sst = encode_sst(&format, batches.iter().cloned().map(Ok), 0)
                .expect("encode")
                .expect("non-empty");
            black_box(sst.bytes.len())
        })
    });
    let sst = encode_sst(&format, batches.iter().cloned().map(Ok), 0)
        .expect("encode")
        .expect("non-empty");
    group.bench_function("read_10000_rows", |b| {
        b.iter(|| {
            let reader = SstReader::open(
                "bench.parquet".to_string(),
                sst.bytes.clone(),
                format.clone(),
                TimeRange::all(),
                8192,
            )
            .expect("open sst");
            let rows: usize = reader.map(|b| b.expect("read").num_rows()).sum();
            black_box(rows)
        })
    });
    group.finish();
}

fn bench_merge(c: &mut Criterion) {
    let metadata = cpu_metadata();
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    // The same 10,000 identities twice: an older version and a newer one.
    let older = sorted_batches(&filled_memtable(&metadata, 10 * BATCH, 1), &format);
    let newer = sorted_batches(&filled_memtable(&metadata, 10 * BATCH, 100_000), &format);
    c.bench_function("merge/two_sources_10000_rows", |b| {
        b.iter(|| {
            let sources: Vec<Box<dyn Iterator<Item = _> + Send>> = vec![
                Box::new(older.clone().into_iter().map(Ok)),
                Box::new(newer.clone().into_iter().map(Ok)),
            ];
            let reader = MergeReader::new(format.clone(), sources, TimeRange::all(), true, 8192)
                .expect("merge reader");
            let rows: usize = reader.map(|b| b.expect("merge").num_rows()).sum();
            black_box(rows)
        })
    });
}

fn insert_statement(first_tick: usize, hosts: usize, rows: usize) -> String {
    let mut sql = String::from("INSERT INTO cpu VALUES ");
    for r in 0..rows {
        let host = (first_tick * hosts + r) % hosts;
        let tick = (first_tick * hosts + r) / hosts;
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "('host_{host}', {}, {}, {})",
            1_451_606_400_000 + tick as i64 * 10_000,
            (r % 100) as f64 + 0.5,
            (r % 37) as f64 + 0.25
        ));
    }
    sql
}

fn bench_database(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = runtime
        .block_on(Database::open(dir.path()))
        .expect("open database");
    runtime
        .block_on(db.execute(
            "CREATE TABLE cpu (hostname STRING, ts TIMESTAMP TIME INDEX, usage_user DOUBLE, \
             usage_system DOUBLE, PRIMARY KEY (hostname))",
        ))
        .expect("create table");
    let mut tick = 0;
    let mut group = c.benchmark_group("database");
    group.sample_size(20);
    group.bench_function("insert_1000_rows", |b| {
        b.iter(|| {
            let sql = insert_statement(tick, 100, BATCH);
            tick += BATCH / 100;
            runtime.block_on(db.execute(&sql)).expect("insert")
        })
    });
    // Scan: everything so far in one SST, then half of the rows overwritten in the memtable.
    runtime
        .block_on(db.execute("ADMIN flush_table('cpu')"))
        .expect("flush");
    for t in (0..tick / 2).step_by(BATCH / 100) {
        runtime
            .block_on(db.execute(&insert_statement(t, 100, BATCH)))
            .expect("overwrite");
    }
    group.bench_function("scan_merge_count", |b| {
        b.iter(|| {
            runtime
                .block_on(db.execute("SELECT count(*), max(usage_user) FROM cpu"))
                .expect("scan")
        })
    });
    group.finish();
    runtime.block_on(db.close()).expect("close");
}

criterion_group!(
    benches,
    bench_memtable,
    bench_wal,
    bench_sst,
    bench_merge,
    bench_database
);
criterion_main!(benches);
