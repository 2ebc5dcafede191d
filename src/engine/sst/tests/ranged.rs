//! Ranged reads (format version 2): a read fetches the tail and the column chunks it decodes,
//! each verified on its own; version 1 files are still read whole.

use std::sync::Arc;

use arrow::array::RecordBatch;

use super::{tsbs_batches, tsbs_metadata};
use crate::engine::cache::{CachedSst, SstCache};
use crate::engine::io::ObjectStorage;
use crate::engine::metadata::RegionId;
use crate::engine::read::ReadFormat;
use crate::engine::read::predicate::TagFilter;
use crate::engine::sst::file::FileMeta;
use crate::engine::sst::format::ROW_GROUP_ROWS;
use crate::engine::sst::reader::{SstReadPlan, load_metadata};
use crate::engine::sst::sst_path;
use crate::engine::sst::writer::{encode_sst_version, store_sst};
use crate::engine::time_range::TimeRange;

fn region() -> RegionId {
    RegionId::new(1, 0)
}
const HOSTS: usize = 300;
/// Three row groups (102,400, 102,400 and 5,200 rows): 300 hosts x 700 rows.
const ROWS: usize = 700;

async fn stored(dir: &std::path::Path, version: u32) -> (ObjectStorage, FileMeta, Arc<ReadFormat>) {
    let metadata = Arc::new(tsbs_metadata());
    let format = Arc::new(ReadFormat::new(metadata.clone(), None));
    let batches = tsbs_batches(&format, HOSTS, ROWS);
    let sst = encode_sst_version(&format, batches.into_iter().map(Ok), 0, version)
        .unwrap()
        .unwrap();
    assert!(sst.meta.num_row_groups >= 2);
    let storage = ObjectStorage::local(dir).unwrap();
    let meta = store_sst(&storage, &metadata, sst).await.unwrap();
    (storage, meta, format)
}

/// Reads one host's rows the way a scan does: plan on the metadata, fetch the chunks, decode.
async fn read_host(
    cache: &SstCache,
    storage: &ObjectStorage,
    meta: &FileMeta,
    format: &Arc<ReadFormat>,
    host: &str,
) -> crate::engine::error::Result<(Vec<RecordBatch>, u64)> {
    let sst: CachedSst = cache.get(storage, region(), meta).await?;
    let plan = SstReadPlan::new(
        sst.path.clone(),
        sst.metadata.clone(),
        format.clone(),
        TimeRange::all(),
        &[TagFilter {
            column: "hostname".to_string(),
            values: vec![host.to_string()],
        }],
        &[],
        &|_| true,
    )?;
    let (sst_with_chunks, chunk_bytes) = cache.fetch_chunks(storage, &sst, &plan.chunks()).await?;
    let batches = plan
        .open(sst_with_chunks.data, 8192)?
        .collect::<crate::engine::error::Result<Vec<_>>>()?;
    Ok((batches, sst.fetched_bytes + chunk_bytes))
}

/// A cache with room for every file of these tests.
fn fresh_cache() -> SstCache {
    SstCache::new(64 << 20, 64 << 20)
}

/// A host of the first row group.
fn host() -> String {
    super::host_names(HOSTS)[3].clone()
}

fn host_rows(batches: &[RecordBatch], host: &str) -> usize {
    batches
        .iter()
        .map(|b| {
            let hosts = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .unwrap();
            hosts.iter().filter(|h| *h == Some(host)).count()
        })
        .sum()
}

#[tokio::test]
async fn a_one_host_read_fetches_the_tail_and_one_row_groups_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, meta, format) = stored(dir.path(), 2).await;
    assert!(meta.footer.is_some());
    let cache = fresh_cache();
    let host = host();
    let (batches, fetched) = read_host(&cache, &storage, &meta, &format, &host)
        .await
        .unwrap();
    assert_eq!(host_rows(&batches, &host), ROWS);
    // The host lies in the first row group: under half the rows, and the tail.
    const { assert!(ROW_GROUP_ROWS < HOSTS * ROWS) };
    assert!(
        fetched < meta.file_size_bytes * 6 / 10,
        "fetched {fetched} of {} bytes",
        meta.file_size_bytes
    );
    // Read again: nothing is fetched.
    let (again, fetched_again) = read_host(&cache, &storage, &meta, &format, &host)
        .await
        .unwrap();
    assert_eq!(again, batches);
    assert_eq!(fetched_again, 0);
    let stats = cache.stats();
    assert_eq!((stats.data_misses, stats.data_hits), (1, 1));
    assert_eq!((stats.meta_misses, stats.meta_hits), (1, 1));
}

#[tokio::test]
async fn a_damaged_chunk_or_tail_is_refused_naming_what_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, meta, format) = stored(dir.path(), 2).await;
    let file = dir
        .path()
        .join(sst_path(region(), meta.file_id).to_string());
    let original = std::fs::read(&file).unwrap();
    let metadata = load_metadata("x", &bytes::Bytes::from(original.clone())).unwrap();
    let host = host();

    // A byte of the first row group's usage_user chunk (leaf 11).
    let chunk = metadata.metadata().row_group(0).column(11).byte_range();
    let mut damaged = original.clone();
    damaged[(chunk.0 + chunk.1 / 2) as usize] ^= 0x10;
    std::fs::write(&file, &damaged).unwrap();
    let error = read_host(&fresh_cache(), &storage, &meta, &format, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&meta.file_id.to_string())
            && error.contains("column chunk 'usage_user' of row group 0")
            && error.contains("CRC-32"),
        "{error}"
    );
    // A read of other columns does not need that chunk and is not refused.
    let (batches, _) = {
        let hosts_only = Arc::new(ReadFormat::without_unprojected_tags(
            format.metadata().clone(),
            &[0],
        ));
        read_host(&fresh_cache(), &storage, &meta, &hosts_only, &host)
            .await
            .unwrap()
    };
    assert_eq!(host_rows(&batches, &host), ROWS);

    // A byte of the page index, in the tail.
    let mut damaged = original.clone();
    let footer = meta.footer.unwrap();
    damaged[footer.offset as usize + 10] ^= 0x10;
    std::fs::write(&file, &damaged).unwrap();
    let error = read_host(&fresh_cache(), &storage, &meta, &format, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&meta.file_id.to_string()) && error.contains("the tail"),
        "{error}"
    );

    // A truncated file.
    std::fs::write(&file, &original[..original.len() - 100]).unwrap();
    assert!(
        read_host(&fresh_cache(), &storage, &meta, &format, &host)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn format_version_1_files_are_read_whole_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, meta, format) = stored(dir.path(), 1).await;
    assert!(meta.footer.is_none());
    let cache = fresh_cache();
    let host = host();
    let (batches, fetched) = read_host(&cache, &storage, &meta, &format, &host)
        .await
        .unwrap();
    assert_eq!(host_rows(&batches, &host), ROWS);
    assert_eq!(fetched, meta.file_size_bytes);

    // Damage anywhere in a version 1 file is caught by the whole-file CRC.
    let file = dir
        .path()
        .join(sst_path(region(), meta.file_id).to_string());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let error = read_host(&fresh_cache(), &storage, &meta, &format, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("CRC-32"), "{error}");
}

#[test]
fn chunk_checksums_round_trip_and_refuse_a_wrong_shape() {
    let metadata = Arc::new(tsbs_metadata());
    let format = ReadFormat::new(metadata, None);
    let sst = encode_sst_version(
        &format,
        tsbs_batches(&format, 4, 10).into_iter().map(Ok),
        0,
        2,
    )
    .unwrap()
    .unwrap();
    let parsed = load_metadata("x", &sst.bytes).unwrap();
    let checksums = crate::engine::sst::reader::chunk_checksums("x", &parsed)
        .unwrap()
        .unwrap();
    let text = checksums.encode();
    use crate::engine::sst::ranged::ChunkChecksums;
    assert_eq!(
        ChunkChecksums::parse(&text, parsed.metadata()).unwrap(),
        checksums
    );
    let (start, len) = parsed.metadata().row_group(0).column(0).byte_range();
    assert_eq!(
        checksums.get(0, 0),
        Some(crc32fast::hash(
            &sst.bytes[start as usize..(start + len) as usize]
        ))
    );
    assert!(ChunkChecksums::parse(&format!("{text};{text}"), parsed.metadata()).is_err());
    assert!(ChunkChecksums::parse(&text.replacen(',', ";", 1), parsed.metadata()).is_err());
    assert!(
        ChunkChecksums::parse(
            &text.replacen(|c: char| c.is_ascii_hexdigit(), "g", 1),
            parsed.metadata()
        )
        .is_err()
    );
    assert!(ChunkChecksums::parse("", parsed.metadata()).is_err());
}
