//! The engine's error type. Each subsystem has its own typed error (`wal::Error`,
//! `manifest::Error`, `io::Error`, `sst::Error`) that is wrapped here with `#[from]`.

use std::path::PathBuf;

use crate::engine::metadata::RegionId;

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Write-ahead log failure (I/O, corruption, poisoned writer).
    #[error(transparent)]
    Wal(#[from] crate::engine::wal::Error),

    /// Manifest failure (I/O, corruption, unsupported version).
    #[error(transparent)]
    Manifest(#[from] crate::engine::manifest::Error),

    /// Object storage failure.
    #[error(transparent)]
    Storage(#[from] crate::engine::io::Error),

    /// SST read or write failure (boxed: it is the largest variant).
    #[error(transparent)]
    Sst(Box<crate::engine::sst::Error>),

    /// Region metadata breaks an invariant.
    #[error("invalid metadata for region {region_id}: {reason}")]
    InvalidMetadata { region_id: RegionId, reason: String },

    /// No open region has this id.
    #[error("region {0} not found")]
    RegionNotFound(RegionId),

    /// A region with this id already exists.
    #[error("region {0} already exists")]
    RegionExists(RegionId),

    /// A write request does not fit the region schema or the row model.
    #[error("invalid write to region {region_id}: {reason}")]
    InvalidWrite { region_id: RegionId, reason: String },

    /// The engine's write buffer (the memtable budget shared by all regions,
    /// `EngineOptions::write_buffer_bytes`) cannot take the write; nothing of it was
    /// written. See `engine/write_buffer.rs` for the policy.
    #[error(
        "write to region {region_id} rejected: the write buffer holds {used} of its {budget} byte budget (write_buffer_bytes) and {reason}; the write needs about {requested} bytes"
    )]
    WriteBufferFull {
        region_id: RegionId,
        /// Estimated bytes of the write.
        requested: usize,
        /// Memtable bytes in use when it was rejected.
        used: usize,
        /// The budget in bytes.
        budget: usize,
        /// Why it cannot wait for room.
        reason: &'static str,
    },

    /// Opening a region found acknowledged writes in neither its SSTs nor its WAL: sequence
    /// numbers are contiguous, so a WAL that resumes above the manifest's flushed sequence
    /// (or jumps) means a manifest delta or a WAL segment was lost. Nothing was changed on
    /// disk (no orphan SST was deleted); see docs/RELIABILITY.md "Damaged files".
    #[error(
        "region {region_id} cannot be opened without losing data: writes with sequence numbers {first}..={last} are in neither its manifest's SSTs (flushed up to {flushed}) nor its WAL (a manifest file or a WAL segment of {wal_dir} was lost or damaged); restore the region's manifest and WAL from a backup"
    )]
    MissingWrites {
        region_id: RegionId,
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number.
        last: u64,
        /// The manifest's flushed sequence.
        flushed: u64,
        /// The WAL directory.
        wal_dir: PathBuf,
    },

    /// An Arrow compute or conversion failed while `context`.
    #[error("{context}: {source}")]
    Arrow {
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A previous write or fsync failed; the engine refuses writes until it is reopened
    /// (after a failed fsync the page cache can no longer be trusted; see "fsyncgate").
    #[error(
        "the database refuses writes after an earlier I/O failure ({reason}); reopen it to recover from the WAL"
    )]
    Poisoned { reason: String },

    /// Another process holds the data directory.
    #[error("data directory {path} is locked by another process")]
    Locked { path: PathBuf },

    /// A local file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The engine is shutting down or a background worker has stopped.
    #[error("engine worker stopped: {0}")]
    WorkerStopped(String),

    /// A task was cancelled because the runtime is shutting down (after the engine closed);
    /// what it did is recovered like a crash at the next open.
    #[error("engine shutting down: {0} task cancelled")]
    ShuttingDown(&'static str),
}

/// Result of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::engine::sst::Error> for Error {
    fn from(error: crate::engine::sst::Error) -> Self {
        Error::Sst(Box::new(error))
    }
}
