//! The file-system mutations the engine makes on local disk, behind one trait so that a test
//! can put a fault-injecting layer under the whole engine (RocksDB's `FileSystem` /
//! `FaultInjectionTestFS`, `utilities/fault_injection_fs.h`; LevelDB's
//! `FaultInjectionTestEnv`, `db/fault_injection_test.cc`).
//!
//! Only mutations go through [`FileSystem`]: creating, writing and syncing files, renames,
//! deletions, directory creation and directory syncs. Reads (WAL replay, SSTs and manifests
//! through `object_store`, directory listings) go to the operating system directly: they see
//! what the page cache holds, which is exactly the state a fault-injecting layer keeps on disk
//! while it tracks separately what would survive a power cut.
//!
//! Every WAL segment, SST, manifest file and catalog write of a local database goes through
//! the [`FileSystemRef`] of its [`crate::engine::EngineOptions`]; the production
//! implementation is [`OsFileSystem`].

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// A file opened for appending by [`FileSystem::create_new`].
pub trait WritableFile: Send + Debug {
    /// Appends all of `bytes` at the end of the file.
    ///
    /// # Errors
    /// The operating system's error; the file may then hold any prefix of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Makes the file's data durable (`fdatasync`): what was written survives a power cut.
    ///
    /// # Errors
    /// The operating system's error; after one, nothing written since the last successful
    /// sync may be assumed durable, and (Linux, "fsyncgate") a later successful sync does
    /// not make it so.
    fn sync_data(&mut self) -> io::Result<()>;

    /// Makes the file's data and metadata durable (`fsync`).
    ///
    /// # Errors
    /// As [`WritableFile::sync_data`].
    fn sync_all(&mut self) -> io::Result<()>;
}

/// The engine's mutations of a local file system. `Send + Sync`; shared by every region.
///
/// Durability is POSIX's: file data is durable after a sync of the file; a creation, rename
/// or deletion is durable after a sync of its directory ([`FileSystem::sync_dir`]).
pub trait FileSystem: Send + Sync + Debug {
    /// Creates `path`, which must not exist (`O_CREAT | O_EXCL`), for appending.
    ///
    /// # Errors
    /// `AlreadyExists` if it exists; the operating system's error.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Renames `from` to `to`, replacing `to` atomically if it exists.
    ///
    /// # Errors
    /// The operating system's error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Deletes the file `path`.
    ///
    /// # Errors
    /// `NotFound` if it does not exist; the operating system's error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Deletes the directory `path` with everything under it.
    ///
    /// # Errors
    /// `NotFound` if it does not exist; the operating system's error.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;

    /// Creates the directory `path`, whose parent must exist.
    ///
    /// # Errors
    /// `AlreadyExists` if it exists; the operating system's error.
    fn create_dir(&self, path: &Path) -> io::Result<()>;

    /// Syncs the directory `path`, making creations, renames and deletions in it durable.
    ///
    /// # Errors
    /// The operating system's error.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// Cuts the existing file `path` to `len` bytes and syncs it (`fsync`).
    ///
    /// # Errors
    /// The operating system's error.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
}

/// A shared [`FileSystem`].
pub type FileSystemRef = Arc<dyn FileSystem>;

/// The operating system's file system (`std::fs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFileSystem;

impl OsFileSystem {
    /// [`OsFileSystem`] as a [`FileSystemRef`].
    pub fn shared() -> FileSystemRef {
        Arc::new(OsFileSystem)
    }
}

/// A [`File`] of the operating system.
#[derive(Debug)]
struct OsFile(File);

impl WritableFile for OsFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }
}

impl FileSystem for OsFileSystem {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(OsFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }
}
