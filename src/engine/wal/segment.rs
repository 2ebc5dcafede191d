//! Segment files: naming, creation, and the frame scan used by open (validate and repair)
//! and by replay (decode).
//!
//! Invariant: a segment file exists under its final name only after its header has been
//! written and both the file and the directory have been fsynced, except for a crash in the
//! middle of [`create_segment`], which can leave the newest segment empty or with a partial
//! header; open removes such a segment.

use std::path::{Path, PathBuf};

use crate::engine::codec::{self, DecodeError};
use crate::engine::io::{FileSystem, WritableFile};

use super::{CorruptionKind, Error, Result};

/// Magic bytes at the start of every segment.
pub(crate) const MAGIC: [u8; 4] = *b"TSWL";
/// Format version written in new segments, and the highest one this build reads.
pub(crate) const FORMAT_VERSION: u16 = 1;
/// File-name extension of segments.
pub(crate) const EXTENSION: &str = "wal";
/// Decimal digits of the zero-padded id in a segment's file name.
pub(crate) const ID_DIGITS: usize = 20;

/// Position of a segment in the log; ids increase, the newest segment is the active one.
pub(crate) type SegmentId = u64;

/// The file name of segment `id`, e.g. `00000000000000000001.wal`.
pub(crate) fn file_name(id: SegmentId) -> String {
    format!("{id:0width$}.{EXTENSION}", width = ID_DIGITS)
}

/// Parses a segment file name; `None` for any other file.
pub(crate) fn parse_file_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    if digits.len() != ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Lists the segments in `dir`, oldest first. Files with other names are ignored.
///
/// # Errors
/// [`Error::Io`] if the directory cannot be read.
pub(crate) fn list(dir: &Path) -> Result<Vec<(SegmentId, PathBuf)>> {
    let io = |source| Error::Io {
        op: "list directory",
        path: dir.to_path_buf(),
        source,
    };
    let mut segments = Vec::new();
    for dir_entry in std::fs::read_dir(dir).map_err(io)? {
        let dir_entry = dir_entry.map_err(io)?;
        let name = dir_entry.file_name();
        if let Some(id) = name.to_str().and_then(parse_file_name) {
            segments.push((id, dir_entry.path()));
        }
    }
    segments.sort_unstable_by_key(|(id, _)| *id);
    Ok(segments)
}

/// Creates segment `id` in `dir` holding only the header, and makes its creation durable
/// (fsync of the file, then of the directory). Returns the file, positioned after the header.
///
/// # Errors
/// [`Error::Io`]; the segment must then be treated as not created.
pub(crate) fn create_segment(
    files: &dyn FileSystem,
    dir: &Path,
    id: SegmentId,
) -> Result<(Box<dyn WritableFile>, PathBuf)> {
    let path = dir.join(file_name(id));
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    let mut file = files
        .create_new(&path)
        .map_err(io("create segment", &path))?;
    let mut header = Vec::with_capacity(codec::FILE_HEADER_LEN);
    codec::encode_header(&mut header, MAGIC, FORMAT_VERSION);
    file.write_all(&header)
        .map_err(io("write header of", &path))?;
    file.sync_all().map_err(io("fsync", &path))?;
    sync_dir(files, dir)?;
    Ok((file, path))
}

/// fsyncs directory `dir`, making file creations and deletions in it durable.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub(crate) fn sync_dir(files: &dyn FileSystem, dir: &Path) -> Result<()> {
    crate::engine::io::sync_dir(files, dir)
        .map_err(|e| from_storage_error(e, "fsync directory", dir))
}

/// Creates `dir` and its missing ancestors durably (see
/// [`crate::engine::io::create_dir_all_durably`]).
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub(crate) fn create_dir_all(files: &dyn FileSystem, dir: &Path) -> Result<()> {
    crate::engine::io::create_dir_all_durably(files, dir)
        .map_err(|e| from_storage_error(e, "create directory", dir))
}

/// A local file-system error of `engine::io` as a WAL error.
fn from_storage_error(error: crate::engine::io::Error, op: &'static str, dir: &Path) -> Error {
    match error {
        crate::engine::io::Error::Io { op, path, source } => Error::Io { op, path, source },
        crate::engine::io::Error::Sync { path, source } => Error::Io {
            op: "fsync directory",
            path,
            source,
        },
        other => Error::Io {
            op,
            path: dir.to_path_buf(),
            source: std::io::Error::other(other),
        },
    }
}

/// Reads a whole segment file.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        op: "read segment",
        path: path.to_path_buf(),
        source,
    })
}

/// How a scan of a segment's bytes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// Every byte belongs to the header or to a valid frame.
    Clean,
    /// The file is shorter than the header and its bytes are a prefix of a valid header: a
    /// crash while creating the segment. Only reported when tolerating a torn tail.
    TornHeader,
    /// The bytes from `valid_len` on are a torn tail (see [`is_torn_tail`]). Only reported
    /// when tolerating a torn tail.
    TornTail { valid_len: u64 },
}

/// Called with `(offset, record type, payload)` for each valid frame of a segment.
pub(crate) type FrameVisitor<'a> = dyn FnMut(u64, u8, &[u8]) -> Result<()> + 'a;

/// Walks the frames of the segment `bytes` read from `path`, calling `visit(offset, record
/// type, payload)` for each valid frame in order (`offset` = byte offset of the frame in the
/// file).
///
/// With `tolerate_torn_tail` (the newest segment at open), damage that can only be an
/// interrupted append ends the scan with [`ScanEnd::TornTail`] or [`ScanEnd::TornHeader`];
/// otherwise all damage is an error.
///
/// # Errors
/// [`Error::Corruption`] naming `path` and the offset of the bad header or frame; errors
/// returned by `visit`.
pub(crate) fn scan(
    path: &Path,
    bytes: &[u8],
    tolerate_torn_tail: bool,
    visit: &mut FrameVisitor<'_>,
) -> Result<ScanEnd> {
    let corruption = |offset: usize, reason| Error::Corruption {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if let Err(err) = codec::decode_header(bytes, MAGIC, FORMAT_VERSION) {
        if tolerate_torn_tail && is_header_prefix(bytes) {
            return Ok(ScanEnd::TornHeader);
        }
        return Err(corruption(0, CorruptionKind::Header(err)));
    }
    let mut offset = codec::FILE_HEADER_LEN;
    while let Some(rest) = bytes.get(offset..).filter(|rest| !rest.is_empty()) {
        match codec::decode_frame(rest) {
            Ok(frame) => {
                visit(offset as u64, frame.record_type, frame.payload)?;
                offset += frame.encoded_len;
            }
            Err(err) if tolerate_torn_tail && is_torn_tail(rest, &err) => {
                return Ok(ScanEnd::TornTail {
                    valid_len: offset as u64,
                });
            }
            Err(err) => return Err(corruption(offset, CorruptionKind::Frame(err))),
        }
    }
    Ok(ScanEnd::Clean)
}

/// Whether `bytes`, which do not start with a valid header, could be a header interrupted
/// while written: at most a header long, and each byte either the header's or zero (a file
/// system may show unsynced blocks of a file as zeros after a power cut). Frames are only
/// appended after [`create_segment`] synced the header, so such a segment never held one.
fn is_header_prefix(bytes: &[u8]) -> bool {
    let mut header = Vec::with_capacity(codec::FILE_HEADER_LEN);
    codec::encode_header(&mut header, MAGIC, FORMAT_VERSION);
    bytes.len() <= header.len()
        && bytes
            .iter()
            .zip(&header)
            .all(|(byte, expected)| byte == expected || *byte == 0)
}

/// Whether the frame that fails with `err` at the start of `rest` (which runs to the end of
/// the file) is a torn tail: the frame is truncated; or its checksum or length is bad and
/// the end its length field claims reaches or passes the end of the file; or its checksum
/// is bad and every byte from where its checksum should be to the end of the file is zero
/// (the append stopped inside the frame and the file system shows the unwritten blocks as
/// zeros, which can also cut the length field short); or every byte from the frame on is
/// zero (space the file system allocated but never filled). In every case no valid frame
/// may start anywhere after the damaged one: a damaged length field in the middle of the log
/// must not hide acknowledged frames behind it.
pub(crate) fn is_torn_tail(rest: &[u8], err: &DecodeError) -> bool {
    looks_torn(rest, err) && !has_valid_frame_after_start(rest)
}

fn looks_torn(rest: &[u8], err: &DecodeError) -> bool {
    match err {
        DecodeError::Truncated { .. } => true,
        DecodeError::ChecksumMismatch { .. } | DecodeError::LengthTooLarge { .. } => {
            let claimed_len = rest
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .map_or(0, |len| len as usize);
            let body_end = codec::FRAME_PREFIX_LEN.saturating_add(claimed_len);
            let claimed_end = body_end.saturating_add(codec::FRAME_SUFFIX_LEN);
            let zeros_from =
                |start: usize| rest.get(start..).is_some_and(|t| t.iter().all(|&b| b == 0));
            claimed_end >= rest.len()
                || zeros_from(0)
                || (matches!(err, DecodeError::ChecksumMismatch { .. }) && zeros_from(body_end))
        }
        _ => false,
    }
}

/// Whether a frame with a valid checksum starts at any offset of `rest` after the first.
/// Only offsets whose record-type byte is an entry's are checksummed: without that, a
/// damaged length early in a large segment made this check CRC most of the segment at
/// every offset (seconds for a few MiB; found by the decoder fuzzer).
fn has_valid_frame_after_start(rest: &[u8]) -> bool {
    (1..rest.len()).any(|start| {
        rest.get(start..).is_some_and(|tail| {
            tail.get(4) == Some(&super::entry::RECORD_TYPE_ENTRY)
                && codec::decode_frame(tail).is_ok()
        })
    })
}

/// Cuts the segment at `path` to `len` bytes and fsyncs it.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn truncate(files: &dyn FileSystem, path: &Path, len: u64) -> Result<()> {
    files.truncate(path, len).map_err(|source| Error::Io {
        op: "truncate",
        path: path.to_path_buf(),
        source,
    })
}

/// Deletes the segment at `path`; a missing file is not an error.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn remove(files: &dyn FileSystem, path: &Path) -> Result<()> {
    match files.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            op: "delete segment",
            path: path.to_path_buf(),
            source,
        }),
    }
}
