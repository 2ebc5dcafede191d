//! Errors of the write-ahead log.

use std::path::PathBuf;

use crate::engine::codec::DecodeError;
use crate::engine::metadata::SequenceNumber;

/// What is wrong with damaged bytes in a segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// The segment header is missing, truncated, or has the wrong magic or version.
    #[error("bad segment header: {0}")]
    Header(#[source] DecodeError),
    /// A frame is damaged (bad checksum, impossible length, or truncated) before the tail.
    #[error("damaged frame: {0}")]
    Frame(#[source] DecodeError),
    /// A frame has a record type this build does not know.
    #[error("unknown record type {0}")]
    UnknownRecordType(u8),
    /// An entry payload is shorter than its fixed header.
    #[error("entry payload of {len} bytes is shorter than its 9-byte header")]
    ShortPayload { len: usize },
    /// An entry has an op type byte that is neither Delete (0) nor Put (1).
    #[error("unknown op type {0}")]
    UnknownOpType(u8),
    /// The entry's Arrow IPC stream cannot be decoded.
    #[error("undecodable Arrow IPC stream: {0}")]
    Ipc(#[source] arrow::error::ArrowError),
    /// The entry's Arrow IPC stream holds other than exactly one record batch.
    #[error("Arrow IPC stream holds {found} record batches, expected 1")]
    BatchCount { found: usize },
    /// The entry's Arrow IPC stream does not end with the end-of-stream marker.
    #[error("Arrow IPC stream lacks its end-of-stream marker")]
    MissingEndOfStream,
}

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("WAL: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A segment is damaged somewhere other than a torn tail. The WAL refuses to open; restore
    /// the file from a backup, or move it away to accept losing its entries.
    #[error("WAL segment {path} is corrupt at byte offset {offset}: {reason}")]
    Corruption {
        path: PathBuf,
        /// Byte offset in the file of the damaged header (0) or frame.
        offset: u64,
        #[source]
        reason: CorruptionKind,
    },
    /// An earlier write or fsync failed; no more appends are accepted. Reopen the region to
    /// recover the acknowledged entries from the log.
    #[error(
        "the WAL refuses writes after an earlier failure ({reason}); reopen the region to recover"
    )]
    Poisoned { reason: String },
    /// An entry's batch could not be encoded as Arrow IPC.
    #[error("cannot encode WAL entry with sequence {sequence}: {source}")]
    Encode {
        sequence: SequenceNumber,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// An entry's encoded payload is larger than a frame may carry (1 GiB), in bytes. Split
    /// the write into smaller batches.
    #[error(
        "WAL entry with sequence {sequence} encodes to {bytes} bytes, more than a frame may hold"
    )]
    EntryTooLarge {
        sequence: SequenceNumber,
        bytes: u64,
    },
    /// An append reuses a sequence number the log already held when it was opened: the
    /// caller did not resume sequences after [`super::Wal::max_sequence`].
    #[error(
        "WAL append with sequence {sequence} does not follow the recovered sequence {recovered}"
    )]
    SequenceRegression {
        sequence: SequenceNumber,
        recovered: SequenceNumber,
    },
    /// `apply` failed during [`super::Wal::replay`] on the entry starting at `sequence`.
    #[error("applying WAL entry with sequence {sequence} failed: {source}")]
    Apply {
        sequence: SequenceNumber,
        #[source]
        source: Box<crate::engine::Error>,
    },
    /// The WAL has been closed, or its writer thread has stopped.
    #[error("the WAL writer has stopped")]
    WriterStopped,
}

impl Error {
    /// Whether this error reports damaged bytes on disk.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
