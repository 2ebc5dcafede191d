//! Fuzzing of the SST read path (`crate::engine::fuzz`): damaged Parquet files through
//! footer parsing (`load_metadata`, the `tsdb:format_version` key), a full read and a
//! last-row read (the `tsdb:series_rows` key). Every SST read is checked against the CRC-32
//! the manifest records first, so these bytes only reach the decoder through a bug or a
//! hand-crafted file with a matching checksum; it must still not panic or trust a length.
//! `TSDB_FUZZ_CASES=N cargo test --lib fuzz` for a long run.

use super::*;
use crate::engine::cache::CachedSst;
use crate::engine::fuzz;
use crate::engine::metadata::RegionId;
use crate::engine::sst::file::FileId;
use crate::engine::sst::last_row::read_last_rows;
use crate::engine::sst::series;

/// Reads `bytes` as an SST every way the engine does; whether every read succeeded.
fn read_sst(format: &Arc<ReadFormat>, bytes: &[u8]) -> bool {
    let bytes = Bytes::copy_from_slice(bytes);
    let path = "fuzz.parquet".to_string();
    let Ok(metadata) = load_metadata(&path, &bytes) else {
        return false;
    };
    let mut ok = true;
    match SstReader::open_with_metadata(
        path.clone(),
        bytes.clone().into(),
        metadata.clone(),
        format.clone(),
        TimeRange::all(),
        &[],
        1024,
    ) {
        Ok(reader) => {
            // As a scan does: the first error ends the read. The reader must end too.
            for (i, batch) in reader.enumerate() {
                if std::env::var_os("TSDB_FUZZ_REPLAY").is_some() && i < 5 {
                    eprintln!("batch {i}: {:?}", batch.as_ref().map(|b| b.num_rows()));
                }
                assert!(i < 10_000, "the reader does not end");
                ok &= batch.is_ok();
            }
        }
        Err(_) => ok = false,
    }
    let sst = CachedSst {
        region_id: RegionId::new(1, 0),
        file_id: FileId::random(),
        path,
        data: bytes.into(),
        metadata,
        checksums: None,
        fetched_bytes: 0,
    };
    ok & read_last_rows(&sst, format, TimeRange::all()).is_ok()
}

#[test]
fn fuzz_sst_files() {
    let format = full_format();
    let corpus = vec![
        encode(&format, tsbs_batches(&format, 3, 20)).to_vec(),
        encode(&format, tsbs_batches(&format, 1, 4)).to_vec(),
    ];
    fuzz::run("sst", &corpus, 300, |bytes| read_sst(&format, bytes));
}

#[test]
fn fuzz_series_rows_key() {
    let corpus = vec![b"1080,3,1".to_vec(), b"1".to_vec(), b"20,20,20".to_vec()];
    fuzz::run("sst_series_rows", &corpus, 3000, |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        let Some(lengths) = series::decode(text, 60) else {
            return series::decode(text, 1084).is_some() || series::decode(text, 1).is_some();
        };
        assert_eq!(lengths.iter().sum::<u64>(), 60);
        assert!(lengths.iter().all(|&l| l > 0));
        assert!(lengths.len() <= text.len());
        true
    });
}

/// The damage table's "wrong format version" for SSTs (the version is the footer key
/// `tsdb:format_version`, behind the manifest's CRC, so `tests/damage.rs` cannot flip it
/// without also fixing the checksum): a newer, a zero, a non-numeric or a missing version is
/// refused by name before any row is read.
#[test]
fn an_sst_of_a_wrong_format_version_is_refused_by_name() {
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;

    let format = full_format();
    let batches = tsbs_batches(&format, 2, 10);
    for version in [Some("99"), Some("0"), Some("one"), None] {
        let props = WriterProperties::builder()
            .set_key_value_metadata(
                version.map(|v| vec![KeyValue::new("tsdb:format_version".into(), v.to_string())]),
            )
            .build();
        let mut writer =
            ArrowWriter::try_new(Vec::new(), format.schema().clone(), Some(props)).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        let bytes = Bytes::from(writer.into_inner().unwrap());
        let err = load_metadata("regions/1_0/sst/x.parquet", &bytes).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("regions/1_0/sst/x.parquet"), "{message}");
        assert!(
            message.contains("format_version") || message.contains("format version"),
            "{version:?}: {message}"
        );
        assert!(!read_sst(&format, &bytes), "{version:?}");
    }
}
