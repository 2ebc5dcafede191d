//! Encoding of one [`WalEntry`] as the payload of a WAL frame.
//!
//! The byte layout is normative in `docs/FORMAT.md` (`## WAL`); the constants below are the
//! numbers that section states, and the `format_spec` test asserts them.

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamDecoder;
use arrow::ipc::writer::StreamWriter;

use crate::engine::codec;
use crate::engine::metadata::{OpType, SequenceNumber};

use super::{CorruptionKind, Error, Result, WalEntry};

/// Record type of a frame holding one entry.
pub(crate) const RECORD_TYPE_ENTRY: u8 = 1;
/// Bytes of the first-row sequence number at the start of an entry payload.
pub(crate) const SEQUENCE_LEN: usize = 8;
/// Bytes of the op type that follows the sequence.
pub(crate) const OP_TYPE_LEN: usize = 1;
/// Bytes before the Arrow IPC stream in an entry payload.
pub(crate) const ENTRY_HEADER_LEN: usize = SEQUENCE_LEN + OP_TYPE_LEN;

/// The Arrow IPC end-of-stream marker (continuation marker, zero metadata length) that ends
/// every entry payload.
pub(crate) const IPC_END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Encodes `entry` as one complete frame (prefix, payload, CRC), ready to be appended to a
/// segment.
///
/// # Errors
/// [`Error::Encode`] if Arrow cannot write the batch, [`Error::EntryTooLarge`] if the payload
/// exceeds the codec's frame limit.
pub(crate) fn encode_entry_frame(entry: &WalEntry) -> Result<Vec<u8>> {
    let mut payload = Vec::with_capacity(ENTRY_HEADER_LEN + entry.batch.get_array_memory_size());
    payload.extend_from_slice(&entry.sequence.to_le_bytes());
    payload.push(entry.op_type as u8);
    let encode_err = |source| Error::Encode {
        sequence: entry.sequence,
        source,
    };
    let mut writer =
        StreamWriter::try_new(&mut payload, entry.batch.schema_ref()).map_err(encode_err)?;
    writer.write(&entry.batch).map_err(encode_err)?;
    writer.finish().map_err(encode_err)?;
    drop(writer);

    let mut frame =
        Vec::with_capacity(codec::FRAME_PREFIX_LEN + payload.len() + codec::FRAME_SUFFIX_LEN);
    codec::encode_frame(&mut frame, RECORD_TYPE_ENTRY, &payload).map_err(|_| {
        Error::EntryTooLarge {
            sequence: entry.sequence,
            bytes: payload.len() as u64,
        }
    })?;
    Ok(frame)
}

/// Reads the sequence number of an entry payload without decoding the batch.
pub(crate) fn peek_sequence(payload: &[u8]) -> Result<SequenceNumber, CorruptionKind> {
    let bytes: [u8; SEQUENCE_LEN] = payload
        .get(..SEQUENCE_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(CorruptionKind::ShortPayload { len: payload.len() })?;
    Ok(SequenceNumber::from_le_bytes(bytes))
}

/// Decodes an entry payload (the bytes inside a frame of type [`RECORD_TYPE_ENTRY`]).
///
/// # Errors
/// A [`CorruptionKind`] saying what is wrong: short payload, unknown op type, or an Arrow
/// IPC stream that does not hold exactly one record batch.
pub(crate) fn decode_entry(payload: &[u8]) -> Result<WalEntry, CorruptionKind> {
    let sequence = peek_sequence(payload)?;
    let op_byte = payload
        .get(SEQUENCE_LEN)
        .copied()
        .ok_or(CorruptionKind::ShortPayload { len: payload.len() })?;
    let op_type = OpType::from_u8(op_byte).ok_or(CorruptionKind::UnknownOpType(op_byte))?;
    let ipc = payload.get(ENTRY_HEADER_LEN..).unwrap_or_default();
    if !ipc.ends_with(&IPC_END_OF_STREAM) {
        return Err(CorruptionKind::MissingEndOfStream);
    }
    // arrow-ipc 59 panics on some malformed metadata (e.g. `unimplemented!` for unknown
    // types); a frame whose CRC is valid should never hold such bytes, but a decoder must not
    // panic on them either.
    let batch = std::panic::catch_unwind(|| decode_single_batch(ipc)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(CorruptionKind::Ipc(ArrowError::IpcError(format!(
            "the Arrow IPC decoder panicked: {message}"
        ))))
    })?;
    Ok(WalEntry {
        sequence,
        op_type,
        batch,
    })
}

/// Decodes an Arrow IPC stream that must hold exactly one record batch followed by the
/// end-of-stream marker. Uses the push-based [`StreamDecoder`] over one in-memory buffer: unlike
/// `StreamReader`, it never allocates a message body from a length field it has not seen
/// enough bytes for (a damaged body length would otherwise abort the process on allocation).
fn decode_single_batch(ipc: &[u8]) -> Result<RecordBatch, CorruptionKind> {
    // A fresh buffer is 64-byte aligned, so Arrow can use the column buffers without copying.
    let mut buffer = Buffer::from_slice_ref(ipc);
    let mut decoder = StreamDecoder::new();
    let batch = decoder
        .decode(&mut buffer)
        .map_err(CorruptionKind::Ipc)?
        .ok_or(CorruptionKind::BatchCount { found: 0 })?;
    // What is left must be exactly the end-of-stream marker: more bytes after it are an
    // error of the decoder, a second batch is returned.
    if decoder
        .decode(&mut buffer)
        .map_err(CorruptionKind::Ipc)?
        .is_some()
    {
        return Err(CorruptionKind::BatchCount { found: 2 });
    }
    decoder.finish().map_err(CorruptionKind::Ipc)?;
    Ok(batch)
}
