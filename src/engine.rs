//! The storage engine: an LSM tree per region, modelled on GreptimeDB's mito2.
//!
//! This module must not import datafusion, sqlparser, clap or rustyline: it is driven only
//! through its public API ([`Engine`], [`region::Region`]).

pub mod codec;
pub mod error;
pub mod io;
pub mod manifest;
pub mod metadata;
pub mod sst;
pub mod time_range;
pub mod wal;

pub use error::{Error, Result};
pub mod region;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use metadata::{RegionId, RegionMetadata};
use region::RegionRef;

/// Engine configuration. Sizes in bytes.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Root directory of the database (WAL, SSTs, manifests).
    pub data_dir: PathBuf,
    /// A region's mutable memtable is frozen and flushed when it holds this many bytes.
    /// Default 64 MiB.
    pub memtable_size_limit_bytes: usize,
    /// A region whose memtable has unflushed rows older than this is flushed by the
    /// background timer (as in Tektite and mito2's `auto_flush_interval`). Default 5 minutes.
    pub auto_flush_interval: Duration,
}

impl EngineOptions {
    /// Defaults for a database in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineOptions {
            data_dir: data_dir.into(),
            memtable_size_limit_bytes: 64 << 20,
            auto_flush_interval: Duration::from_secs(300),
        }
    }
}

/// The storage engine: hosts regions. CONTRACT PLACEHOLDER: bodies are being written.
#[derive(Debug)]
pub struct Engine {
    #[allow(dead_code)]
    regions: RwLock<HashMap<RegionId, RegionRef>>,
    #[allow(dead_code)]
    options: Arc<EngineOptions>,
}

impl Engine {
    /// Opens the engine over `options.data_dir`; regions are opened with [`Engine::open_region`].
    pub async fn open(_options: EngineOptions) -> Result<Engine> {
        todo!()
    }

    /// Creates a new, empty region and opens it.
    pub async fn create_region(&self, _metadata: RegionMetadata) -> Result<RegionRef> {
        todo!()
    }

    /// Opens an existing region: loads its manifest and replays its WAL.
    pub async fn open_region(&self, _region_id: RegionId) -> Result<RegionRef> {
        todo!()
    }

    /// Closes and deletes a region with all its files.
    pub async fn drop_region(&self, _region_id: RegionId) -> Result<()> {
        todo!()
    }

    /// Ids of the regions that exist on storage (open or not).
    pub async fn list_regions(&self) -> Result<Vec<RegionId>> {
        todo!()
    }

    /// An open region.
    pub fn region(&self, _region_id: RegionId) -> Option<RegionRef> {
        todo!()
    }

    /// Stops background work and closes every region.
    pub async fn close(&self) -> Result<()> {
        todo!()
    }
}
