//! Object storage for SSTs and manifests, as in Tektite: local disk and S3 share one code
//! path through `object_store`.
//!
//! `object_store`'s `LocalFileSystem` (0.13) writes a temp file and renames it into place but
//! never fsyncs, and an fsync after its rename is too late: a power cut between the rename
//! and the fsync leaves the final name pointing at an empty or torn file (seen here on ext4:
//! a 0-byte manifest delta after `FS_IOC_SHUTDOWN`). So on local disk
//! [`ObjectStorage::put_durable`] does the install itself, as RocksDB installs `CURRENT`:
//! write a temp file in the target's directory, fsync it, rename it over the target, fsync the
//! directory ([`write_file_durably`]). Remote stores are durable once `put` returns, and a
//! put there is atomic.

#[cfg(test)]
pub(crate) mod fault;
pub mod fs;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

pub use fs::{FileSystem, FileSystemRef, OsFileSystem, WritableFile};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Errors of object storage operations; each names the object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object store rejected or failed the operation.
    #[error("object storage {op} '{path}': {source}")]
    ObjectStore {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    /// The object does not exist.
    #[error("object '{path}' not found")]
    NotFound { path: String },
    /// A local file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An fsync of a local file or directory failed: the store is poisoned.
    #[error("fsync {path}: {source}")]
    Sync {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier fsync failed, so nothing written since may be durable (and a later
    /// successful fsync would not make it so): the store refuses further installs until the
    /// database is reopened.
    #[error(
        "storage is read-only after a failed fsync ({reason}); reopen the database once the \
         device is healthy"
    )]
    Poisoned { reason: String },
}

/// Result of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A handle to the object store holding SSTs and manifests. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// Set for local stores: writes and deletions go through its file system (durable
    /// installs, and a fault-injecting layer in tests), reads through `store`.
    local: Option<Local>,
    /// Deletions running in the background; closing the engine waits for them.
    background_deletes: Arc<BackgroundDeletes>,
    /// Set (once) by the first failed fsync of a local install; then installs fail.
    poison: Arc<std::sync::OnceLock<String>>,
}

/// The local side of a store on local disk.
#[derive(Clone, Debug)]
struct Local {
    /// Maps object paths to file paths.
    store: Arc<LocalFileSystem>,
    /// Every mutation of the files.
    files: FileSystemRef,
    /// The directory the store is rooted at.
    root: PathBuf,
}

/// Counts deletions started by [`ObjectStorage::delete_in_background`].
#[derive(Debug, Default)]
struct BackgroundDeletes {
    pending: std::sync::atomic::AtomicUsize,
    finished: tokio::sync::Notify,
}

impl ObjectStorage {
    /// A store rooted at the local directory `root` (created if missing), writing through
    /// the operating system's file system.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be created, [`Error::ObjectStore`] if the
    /// store cannot be rooted there.
    pub fn local(root: &FsPath) -> Result<Self> {
        Self::local_with(root, OsFileSystem::shared())
    }

    /// A store rooted at the local directory `root` (created if missing) whose writes and
    /// deletions go through `files`.
    ///
    /// # Errors
    /// As [`ObjectStorage::local`].
    pub fn local_with(root: &FsPath, files: FileSystemRef) -> Result<Self> {
        create_dir_all_durably(files.as_ref(), root)?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|source| Error::ObjectStore {
            op: "open",
            path: root.display().to_string(),
            source,
        })?;
        let fs = Arc::new(fs);
        Ok(ObjectStorage {
            store: fs.clone(),
            local: Some(Local {
                store: fs,
                files,
                // As `LocalFileSystem` resolves paths: absolute, symlinks resolved.
                root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            }),
            background_deletes: Arc::default(),
            poison: Arc::default(),
        })
    }

    /// A store over any `object_store` backend (S3, memory, ...). Writes are durable when
    /// the backend's `put` returns.
    pub fn remote(store: Arc<dyn ObjectStore>) -> Self {
        ObjectStorage {
            store,
            local: None,
            background_deletes: Arc::default(),
            poison: Arc::default(),
        }
    }

    /// The underlying store, for readers that stream ranges.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The file system local writes go through; the operating system's for remote stores
    /// (whose only local files are the WAL's).
    pub fn file_system(&self) -> FileSystemRef {
        match &self.local {
            Some(local) => local.files.clone(),
            None => OsFileSystem::shared(),
        }
    }

    /// The local file of object `path`, `None` for remote stores.
    fn local_file(&self, path: &Path) -> Result<Option<(PathBuf, FileSystemRef)>> {
        let Some(local) = &self.local else {
            return Ok(None);
        };
        let file = local
            .store
            .path_to_filesystem(path)
            .map_err(|source| map_err("resolve", path, source))?;
        Ok(Some((file, local.files.clone())))
    }

    /// Writes `bytes` to `path` atomically (readers, and recovery after a power cut, see the
    /// old object or the whole new one) and durably (on local disk: [`write_file_durably`],
    /// temp file fsynced before the rename, directory fsynced after it).
    ///
    /// A failed fsync poisons the store (PostgreSQL's answer to "fsyncgate": after a failed
    /// fsync the kernel may have dropped the dirty pages, and a retry that succeeds proves
    /// nothing): every later install fails with [`Error::Poisoned`] until the store is
    /// opened again, and opening a region syncs its directories again
    /// ([`ObjectStorage::sync_dirs`]).
    ///
    /// # Errors
    /// [`Error::ObjectStore`], [`Error::Io`], [`Error::Sync`] or [`Error::Poisoned`]; after
    /// an error the object holds its old content or the new one, and must not be referenced
    /// by a new manifest edit.
    pub async fn put_durable(&self, path: &Path, bytes: Bytes) -> Result<()> {
        if let Some(reason) = self.poison.get() {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let Some((file, files)) = self.local_file(path)? else {
            self.store
                .put(path, PutPayload::from_bytes(bytes))
                .await
                .map_err(|source| Error::ObjectStore {
                    op: "put",
                    path: path.to_string(),
                    source,
                })?;
            return Ok(());
        };
        let result =
            tokio::task::spawn_blocking(move || write_file_durably(files.as_ref(), &file, &bytes))
                .await
                .map_err(|e| Error::Io {
                    op: "install (task)",
                    path: PathBuf::from(path.to_string()),
                    source: std::io::Error::other(e),
                })?;
        if let Err(Error::Sync { path, source }) = &result {
            let reason = format!("fsync {}: {source}", path.display());
            log::error!("object storage is poisoned: {reason}");
            let _ = self.poison.set(reason);
        }
        result
    }

    /// On local disk, fsyncs the directories of the objects `prefixes` (those that exist)
    /// and each of their ancestors up to the store's root, so that directory entries a
    /// failed fsync of an earlier process left unsynced become durable before anything
    /// relies on them. A no-op for remote stores.
    ///
    /// # Errors
    /// [`Error::Sync`] naming the directory.
    pub async fn sync_dirs(&self, prefixes: &[Path]) -> Result<()> {
        let Some(local) = &self.local else {
            return Ok(());
        };
        let root = local.root.clone();
        let mut dirs = std::collections::BTreeSet::new();
        for prefix in prefixes {
            let dir = local
                .store
                .path_to_filesystem(prefix)
                .map_err(|source| map_err("resolve", prefix, source))?;
            for ancestor in dir.ancestors() {
                if !ancestor.starts_with(&root) {
                    break;
                }
                dirs.insert(ancestor.to_path_buf());
            }
        }
        let files = local.files.clone();
        tokio::task::spawn_blocking(move || {
            // Deepest first: a directory's own entry is synced after its content.
            for dir in dirs.iter().rev().filter(|d| d.is_dir()) {
                sync_dir(files.as_ref(), dir)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Io {
            op: "sync directories (task)",
            path: root,
            source: std::io::Error::other(e),
        })?
    }

    /// Deletes the temp files an interrupted [`ObjectStorage::put_durable`] left directly
    /// under `prefix` (names ending in [`TEMP_SUFFIX`]); called at open, after the manifest or
    /// catalog that lives there was read. Returns how many were deleted.
    ///
    /// # Errors
    /// [`Error::ObjectStore`] if listing or deleting fails.
    pub async fn sweep_temp_files(&self, prefix: &Path) -> Result<usize> {
        let mut deleted = 0;
        for (path, _) in self.list(prefix).await? {
            if path.filename().is_some_and(is_temp_file_name) {
                log::warn!("deleting {path}, left by an interrupted write");
                self.delete(&path).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Reads the whole object.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist, else [`Error::ObjectStore`].
    pub async fn get(&self, path: &Path) -> Result<Bytes> {
        let result = self
            .store
            .get(path)
            .await
            .map_err(|source| map_err("get", path, source))?;
        result
            .bytes()
            .await
            .map_err(|source| map_err("read", path, source))
    }

    /// Reads byte ranges of the object (object_store coalesces nearby ranges into one
    /// request), each returned in full.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the object does not exist, else [`Error::ObjectStore`] (also
    /// for a range past the object's end).
    pub async fn get_ranges(
        &self,
        path: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<Bytes>> {
        self.store
            .get_ranges(path, ranges)
            .await
            .map_err(|source| map_err("read ranges of", path, source))
    }

    /// Deletes the object; deleting a missing object is not an error.
    ///
    /// # Errors
    /// [`Error::ObjectStore`].
    pub async fn delete(&self, path: &Path) -> Result<()> {
        if let Some((file, files)) = self.local_file(path)? {
            return match files.remove_file(&file) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Io {
                    op: "delete",
                    path: file,
                    source,
                }),
            };
        }
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(map_err("delete", path, source)),
        }
    }

    /// Deletes `path` in a background task (for callers that cannot wait, such as a `Drop`);
    /// a failure is logged. [`ObjectStorage::wait_background_deletes`] waits for it. Does
    /// nothing outside a tokio runtime (the file is then an orphan, swept at the next open).
    pub fn delete_in_background(&self, path: Path) {
        use std::sync::atomic::Ordering;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.background_deletes
            .pending
            .fetch_add(1, Ordering::AcqRel);
        let storage = self.clone();
        runtime.spawn(async move {
            if let Err(e) = storage.delete(&path).await {
                log::warn!("could not delete {path}: {e}");
            }
            let deletes = &storage.background_deletes;
            deletes.pending.fetch_sub(1, Ordering::AcqRel);
            deletes.finished.notify_waiters();
        });
    }

    /// Waits until every deletion started by [`ObjectStorage::delete_in_background`] ended.
    pub async fn wait_background_deletes(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let finished = self.background_deletes.finished.notified();
            if self.background_deletes.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            finished.await;
        }
    }

    /// Lists the objects under `prefix` (recursively), as `(path, size in bytes)`.
    ///
    /// # Errors
    /// [`Error::ObjectStore`].
    pub async fn list(&self, prefix: &Path) -> Result<Vec<(Path, u64)>> {
        let objects: Vec<_> = self
            .store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(|source| map_err("list", prefix, source))?;
        Ok(objects.into_iter().map(|o| (o.location, o.size)).collect())
    }

    /// Deletes every object under `prefix`, then (for local stores) the empty directories.
    ///
    /// # Errors
    /// [`Error::ObjectStore`] or [`Error::Io`].
    pub async fn delete_prefix(&self, prefix: &Path) -> Result<()> {
        for (path, _) in self.list(prefix).await? {
            self.delete(&path).await?;
        }
        if let Some((dir, files)) = self.local_file(prefix)? {
            match files.remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        op: "remove directory",
                        path: dir,
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

fn map_err(op: &'static str, path: &Path, source: object_store::Error) -> Error {
    match source {
        object_store::Error::NotFound { .. } => Error::NotFound {
            path: path.to_string(),
        },
        source => Error::ObjectStore {
            op,
            path: path.to_string(),
            source,
        },
    }
}

/// Suffix of the temp files [`write_file_durably`] installs from.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Whether `name` is the name of a temp file of [`write_file_durably`]:
/// `.{target name}.{uuid}.tmp`.
pub fn is_temp_file_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Installs `bytes` as the file `target` so that after a crash at any point the name holds
/// either its old content (or does not exist) or all of `bytes`: creates missing parent
/// directories durably, writes `.{name}.{uuid}.tmp` beside the target, fsyncs it, renames it
/// over the target, fsyncs the directory. On error the temp file is removed when possible (a
/// crash leaves it for [`ObjectStorage::sweep_temp_files`]).
///
/// # Errors
/// [`Error::Io`] naming the file or directory that failed.
pub fn write_file_durably(files: &dyn FileSystem, target: &FsPath, bytes: &[u8]) -> Result<()> {
    let io = |op, path: &FsPath| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(Error::Io {
            op: "install",
            path: target.to_path_buf(),
            source: std::io::Error::other("the path has no parent directory or file name"),
        });
    };
    create_dir_all_durably(files, dir)?;
    let temp = dir.join(format!(
        ".{}.{}{TEMP_SUFFIX}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = files
        .create_new(&temp)
        .map_err(io("create", &temp))
        .and_then(|mut file| {
            file.write_all(bytes).map_err(io("write", &temp))?;
            file.sync_all().map_err(|source| Error::Sync {
                path: temp.clone(),
                source,
            })
        })
        .and_then(|()| {
            files
                .rename(&temp, target)
                .map_err(io("rename into", target))
        });
    if let Err(e) = written {
        let _ = files.remove_file(&temp);
        return Err(e);
    }
    sync_dir(files, dir)
}

/// Creates `dir` and its missing ancestors, and makes each creation durable by fsyncing the
/// parent of every directory it created (a new directory's entry lives in its parent).
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn create_dir_all_durably(files: &dyn FileSystem, dir: &FsPath) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor {
        if path.as_os_str().is_empty() || path.is_dir() {
            break;
        }
        missing.push(path);
        cursor = path.parent();
    }
    for created in missing.iter().rev() {
        match files.create_dir(created) {
            Ok(()) => {}
            // Created meanwhile by someone else (another region's install).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && created.is_dir() => {}
            Err(source) => {
                return Err(Error::Io {
                    op: "create directory",
                    path: created.to_path_buf(),
                    source,
                });
            }
        }
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(files, parent)?;
        }
    }
    Ok(())
}

/// fsyncs a directory, making creations, renames and deletions in it durable.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn sync_dir(files: &dyn FileSystem, dir: &FsPath) -> Result<()> {
    files.sync_dir(dir).map_err(|source| Error::Sync {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &FsPath) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The install creates missing directories, replaces the old content whole and leaves no
    /// temp file behind (object_store's own put would leave `name#N` staging files on a crash
    /// and rename before any fsync).
    #[tokio::test]
    async fn put_durable_installs_through_a_synced_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let storage = ObjectStorage::local(tmp.path()).unwrap();
        let path = Path::from("a/b/c/file.json");
        storage
            .put_durable(&path, Bytes::from_static(b"first"))
            .await
            .unwrap();
        storage
            .put_durable(&path, Bytes::from_static(b"second, longer"))
            .await
            .unwrap();
        assert_eq!(
            storage.get(&path).await.unwrap().as_ref(),
            b"second, longer"
        );
        assert_eq!(names(&tmp.path().join("a/b/c")), ["file.json"]);
    }

    #[tokio::test]
    async fn sweep_removes_only_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let storage = ObjectStorage::local(tmp.path()).unwrap();
        let dir = tmp.path().join("m");
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            ".00000000000000000003.json.4f2a.tmp",
            "00000000000000000002.json",
            "notes.tmp",
            ".hidden",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let deleted = storage.sweep_temp_files(&Path::from("m")).await.unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(
            names(&dir),
            [".hidden", "00000000000000000002.json", "notes.tmp"]
        );
    }

    #[test]
    fn a_failed_install_leaves_the_old_file_and_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("x");
        // A directory where the file should go: the rename fails.
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"keep").unwrap();
        let error = write_file_durably(&OsFileSystem, &target, b"new").unwrap_err();
        assert!(error.to_string().contains("rename"), "{error}");
        assert_eq!(names(tmp.path()), ["x"]);
        assert!(target.join("inside").exists());
    }
}
