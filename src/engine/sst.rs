//! SSTs: immutable Parquet files of rows sorted by `(tags, ts, sequence desc)`, written by
//! flush and compaction. The layout is specified in `docs/FORMAT.md` ("SST").

pub mod file;
pub mod format;
pub mod last_row;
pub mod page_prune;
pub mod ranged;
pub mod reader;
pub mod series;
pub mod writer;

use object_store::path::Path;

use crate::engine::metadata::RegionId;
use file::FileId;

/// SST errors; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's bytes do not match the checksum the manifest recorded.
    #[error(
        "SST '{path}' is corrupt: CRC-32 {actual:#010x} does not match the manifest's {expected:#010x} (size {size} bytes, expected {expected_size})"
    )]
    ChecksumMismatch {
        path: String,
        expected: u32,
        actual: u32,
        size: u64,
        expected_size: u64,
    },
    /// A byte range of the file (a column chunk, or the tail with the footer) does not match
    /// its checksum (format version 2: `sst/ranged.rs`).
    #[error(
        "SST '{path}' is corrupt: {what} (bytes {start}..{end}) has CRC-32 {actual:#010x}, expected {expected:#010x}"
    )]
    RangeChecksumMismatch {
        path: String,
        what: String,
        start: u64,
        end: u64,
        expected: u32,
        actual: u32,
    },
    /// The Parquet reader or writer failed.
    #[error("SST '{path}': {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow conversion failed.
    #[error("SST '{path}': {source}")]
    Arrow {
        path: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The file is readable but not a tsdb SST this build understands.
    #[error("SST '{path}' is invalid: {reason}")]
    Invalid { path: String, reason: String },
    /// A region referenced a file that is missing from storage.
    #[error("SST '{path}' named by the manifest is missing: {source}")]
    Missing {
        path: String,
        #[source]
        source: crate::engine::io::Error,
    },
}

/// Result of SST operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs a Parquet decoding step `f` of the SST at `path`, turning a panic of the decoder into
/// [`Error::Invalid`] naming the file. parquet 59 panics on some malformed files instead of
/// returning an error (found by `fuzz_sst_files`, e.g. "Decoder for dict should have been
/// set" for a dictionary-encoded page without its dictionary page). SSTs are CRC-checked
/// before decoding, so only a bug or a crafted file reaches this, but a damaged file must be
/// an error, never a crash of the process (as the WAL's Arrow IPC decoding, `wal/entry.rs`).
///
/// # Errors
/// `f`'s error, or [`Error::Invalid`] if it panicked.
pub(crate) fn catch_decoder_panic<T>(
    path: &str,
    f: impl FnOnce() -> crate::engine::error::Result<T>,
) -> crate::engine::error::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Invalid {
            path: path.to_string(),
            reason: format!("the Parquet decoder panicked (damaged file?): {message}"),
        }
        .into())
    })
}

/// Directory (object prefix) of a region: `regions/{table_id}_{region_number}`.
pub fn region_dir(region_id: RegionId) -> Path {
    Path::from(format!("regions/{region_id}"))
}

/// Object path of an SST: `regions/{region}/sst/{file_id}.parquet`.
pub fn sst_path(region_id: RegionId, file_id: FileId) -> Path {
    Path::from(format!("regions/{region_id}/sst/{file_id}.parquet"))
}

#[cfg(test)]
pub(crate) mod tests;
