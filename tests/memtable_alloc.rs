//! `Memtable::size_bytes` against the heap bytes a counting global allocator sees the
//! memtable allocate: TSBS-like rows (string tags, f64 fields, some NULLs, a string field),
//! written in time-major batches. The two must agree within 10%.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use tsdb::engine::memtable::Memtable;
use tsdb::engine::metadata::{
    ColumnDataType, ColumnMetadata, OpType, RegionId, RegionMetadata, SemanticType,
};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as requested.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TAGS: usize = 10;
const FIELDS: usize = 10;

fn metadata() -> RegionMetadata {
    let column = |name: String, data_type, semantic_type| ColumnMetadata {
        name,
        column_id: 0,
        data_type,
        semantic_type,
        nullable: semantic_type != SemanticType::Timestamp,
        default: None,
    };
    let mut columns: Vec<ColumnMetadata> = (0..TAGS)
        .map(|i| column(format!("tag{i}"), ColumnDataType::String, SemanticType::Tag))
        .collect();
    columns.push(column(
        "ts".into(),
        ColumnDataType::TimestampMillisecond,
        SemanticType::Timestamp,
    ));
    columns.extend((0..FIELDS).map(|i| {
        column(
            format!("f{i}"),
            ColumnDataType::Float64,
            SemanticType::Field,
        )
    }));
    columns.push(column(
        "note".into(),
        ColumnDataType::String,
        SemanticType::Field,
    ));
    for (i, c) in columns.iter_mut().enumerate() {
        c.column_id = i as u32;
    }
    RegionMetadata {
        region_id: RegionId::new(1, 0),
        columns,
        primary_key: (0..TAGS).collect(),
        time_index: TAGS,
        schema_version: 0,
        next_column_id: 0,
    }
}

/// `hosts` series x `steps` timestamps in time-major batches of `batch_rows`.
fn batches(
    metadata: &RegionMetadata,
    hosts: usize,
    steps: usize,
    batch_rows: usize,
) -> Vec<RecordBatch> {
    let schema = metadata.arrow_schema();
    let rows: Vec<(usize, usize)> = (0..steps)
        .flat_map(|t| (0..hosts).map(move |h| (h, t)))
        .collect();
    rows.chunks(batch_rows)
        .map(|chunk| {
            let mut columns: Vec<ArrayRef> = (0..TAGS)
                .map(|i| {
                    Arc::new(StringArray::from_iter_values(
                        chunk
                            .iter()
                            .map(|(h, _)| format!("tag{i}_value_{}", h % (10 + i * 100))),
                    )) as ArrayRef
                })
                .collect();
            columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
                chunk.iter().map(|(_, t)| *t as i64 * 10_000),
            )));
            for f in 0..FIELDS {
                columns.push(Arc::new(Float64Array::from_iter(
                    chunk
                        .iter()
                        .map(|(h, t)| ((h + t + f) % 17 != 0).then_some((h * t) as f64)),
                )));
            }
            columns.push(Arc::new(StringArray::from_iter(
                chunk
                    .iter()
                    .map(|(h, t)| (t % 3 == 0).then(|| format!("note {h}"))),
            )));
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect()
}

#[test]
fn size_bytes_matches_the_allocator_within_ten_percent() {
    let metadata = Arc::new(metadata());
    for (hosts, steps) in [(1000, 60), (50, 2000)] {
        let batches = batches(&metadata, hosts, steps, 8192);
        let before = LIVE.load(Ordering::Relaxed);
        let memtable = Memtable::new(0, metadata.clone());
        let mut sequence = 1;
        for batch in &batches {
            memtable.write(batch, sequence, OpType::Put).unwrap();
            sequence += batch.num_rows() as u64;
        }
        let allocated = (LIVE.load(Ordering::Relaxed) - before) as f64;
        let counted = memtable.size_bytes() as f64;
        let error = (counted - allocated).abs() / allocated;
        assert!(
            error < 0.10,
            "{hosts} hosts x {steps}: size_bytes {counted} vs allocated {allocated} ({:.1}% off)",
            error * 100.0
        );
        assert_eq!(memtable.num_rows(), hosts * steps);
        drop(memtable);
    }
}
