//! Fuzzing of the WAL decoders (`crate::engine::fuzz`): whole segments through the frame scan
//! open and replay use, and entry payloads (with a valid frame checksum) through the Arrow
//! IPC entry decoder. `TSDB_FUZZ_CASES=N cargo test --lib fuzz` for a long run.

use arrow::array::{BooleanArray, Int64Array, TimestampNanosecondArray, UInt64Array};

use super::*;
use crate::engine::fuzz;

/// A batch of other column types than [`batch`]: integers, booleans, nanosecond times.
fn other_types_batch(rows: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        Field::new("__sequence", DataType::UInt64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            (0..rows as i64)
                .map(|i| (i % 5 != 0).then_some(i * 7 - 3))
                .collect::<Int64Array>(),
        ),
        Arc::new(
            (0..rows)
                .map(|i| (i % 3 != 0).then_some(i % 2 == 0))
                .collect::<BooleanArray>(),
        ),
        Arc::new(TimestampNanosecondArray::from_iter_values(
            (0..rows as i64).map(|i| i * 1_000_000_007),
        )),
        Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn corpus_entries() -> Vec<WalEntry> {
    let mut entries: Vec<WalEntry> = [1, 7, 40]
        .iter()
        .map(|&rows| entry(rows as u64, rows))
        .collect();
    entries.push(entry(100, 0));
    entries.push(WalEntry {
        sequence: 200,
        op_type: OpType::Put,
        batch: other_types_batch(9),
    });
    entries
}

fn segment_of(entries: &[WalEntry]) -> Vec<u8> {
    let mut bytes = Vec::new();
    codec::encode_header(&mut bytes, segment::MAGIC, segment::FORMAT_VERSION);
    for e in entries {
        bytes.extend_from_slice(&entry::encode_entry_frame(e).unwrap());
    }
    bytes
}

/// Scans `bytes` as the newest segment (torn tail tolerated) and as an older one, decoding
/// every frame as replay does. A torn tail must be exactly what the strict scan rejects:
/// the bytes before it scan cleanly. Returns whether the strict scan accepted the segment.
fn scan_segment(bytes: &[u8]) -> bool {
    let path = Path::new("fuzz.wal");
    let mut decode = |offset: u64, record_type: u8, payload: &[u8]| {
        decode_frame_entry(path, offset, record_type, payload).map(|_| ())
    };
    let tolerant = segment::scan(path, bytes, true, &mut decode);
    let strict = segment::scan(path, bytes, false, &mut decode);
    match tolerant {
        Ok(ScanEnd::TornTail { valid_len }) => {
            let valid = &bytes[..usize::try_from(valid_len).unwrap()];
            let before = segment::scan(path, valid, false, &mut decode);
            assert!(
                matches!(before, Ok(ScanEnd::Clean)),
                "the bytes before a torn tail at {valid_len} do not scan cleanly: {before:?}"
            );
            assert!(strict.is_err(), "a torn tail the strict scan accepts");
        }
        Ok(ScanEnd::TornHeader) => assert!(bytes.len() <= codec::FILE_HEADER_LEN),
        Ok(ScanEnd::Clean) => assert!(matches!(strict, Ok(ScanEnd::Clean))),
        Err(_) => assert!(
            strict.is_err(),
            "the tolerant scan refused what the strict one took"
        ),
    }
    strict.is_ok()
}

#[test]
fn fuzz_wal_segments() {
    let entries = corpus_entries();
    let corpus = vec![
        segment_of(&entries),
        segment_of(&entries[..1]),
        segment_of(&entries[3..]),
        segment_of(&[]),
    ];
    let summary = fuzz::run("wal_segment", &corpus, 3000, scan_segment);
    assert!(summary.accepted > 0);
}

/// Decodes an entry payload; an accepted entry must encode and decode to itself.
fn decode_payload(payload: &[u8]) -> bool {
    let Ok(decoded) = entry::decode_entry(payload) else {
        return false;
    };
    let frame = entry::encode_entry_frame(&decoded).unwrap();
    let again = codec::decode_frame(&frame).unwrap();
    let twice = entry::decode_entry(again.payload).unwrap();
    assert_eq!(
        (twice.sequence, twice.op_type),
        (decoded.sequence, decoded.op_type)
    );
    assert_eq!(twice.batch, decoded.batch);
    true
}

#[test]
fn fuzz_wal_entry_payloads() {
    let corpus: Vec<Vec<u8>> = corpus_entries()
        .iter()
        .map(|e| {
            let frame = entry::encode_entry_frame(e).unwrap();
            codec::decode_frame(&frame).unwrap().payload.to_vec()
        })
        .collect();
    let summary = fuzz::run("wal_entry", &corpus, 3000, decode_payload);
    assert!(summary.accepted > 0);
}
