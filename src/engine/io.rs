//! Object storage for SSTs and manifests, as in Tektite: local disk and S3 share one code
//! path through `object_store`.
//!
//! `object_store`'s `LocalFileSystem` (0.13) writes a temp file and renames it into place but
//! never fsyncs. [`ObjectStorage::put_durable`] closes that gap for local stores: after the
//! put it fsyncs the file and then its directory, so a file is durable before any manifest
//! names it. Remote stores are durable once `put` returns.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

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
    /// A local fsync or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A handle to the object store holding SSTs and manifests. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// Set for local stores: used to fsync files and directories after writes.
    local: Option<Arc<LocalFileSystem>>,
    /// Deletions running in the background; closing the engine waits for them.
    background_deletes: Arc<BackgroundDeletes>,
}

/// Counts deletions started by [`ObjectStorage::delete_in_background`].
#[derive(Debug, Default)]
struct BackgroundDeletes {
    pending: std::sync::atomic::AtomicUsize,
    finished: tokio::sync::Notify,
}

impl ObjectStorage {
    /// A store rooted at the local directory `root` (created if missing).
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be created, [`Error::ObjectStore`] if the
    /// store cannot be rooted there.
    pub fn local(root: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            op: "create directory",
            path: root.to_path_buf(),
            source,
        })?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|source| Error::ObjectStore {
            op: "open",
            path: root.display().to_string(),
            source,
        })?;
        let fs = Arc::new(fs);
        Ok(ObjectStorage {
            store: fs.clone(),
            local: Some(fs),
            background_deletes: Arc::default(),
        })
    }

    /// A store over any `object_store` backend (S3, memory, ...). Writes are durable when
    /// the backend's `put` returns.
    pub fn remote(store: Arc<dyn ObjectStore>) -> Self {
        ObjectStorage {
            store,
            local: None,
            background_deletes: Arc::default(),
        }
    }

    /// The underlying store, for readers that stream ranges.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Writes `bytes` to `path` atomically (readers see the old object or the new one) and
    /// durably: on local disk the file and its directory are fsynced before this returns.
    ///
    /// # Errors
    /// [`Error::ObjectStore`] or [`Error::Io`]; after an error the object may or may not exist
    /// and must not be referenced.
    pub async fn put_durable(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| Error::ObjectStore {
                op: "put",
                path: path.to_string(),
                source,
            })?;
        if let Some(local) = &self.local {
            let file = local
                .path_to_filesystem(path)
                .map_err(|source| Error::ObjectStore {
                    op: "resolve",
                    path: path.to_string(),
                    source,
                })?;
            tokio::task::spawn_blocking(move || sync_file_and_parent(&file))
                .await
                .map_err(|e| Error::Io {
                    op: "fsync (task)",
                    path: PathBuf::from(path.to_string()),
                    source: std::io::Error::other(e),
                })??;
        }
        Ok(())
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

    /// Deletes the object; deleting a missing object is not an error.
    ///
    /// # Errors
    /// [`Error::ObjectStore`].
    pub async fn delete(&self, path: &Path) -> Result<()> {
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
        if let Some(local) = &self.local {
            let dir = local
                .path_to_filesystem(prefix)
                .map_err(|source| map_err("resolve", prefix, source))?;
            match std::fs::remove_dir_all(&dir) {
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

/// fsyncs `file`, then its parent directory so that the rename that created it is durable.
///
/// # Errors
/// [`Error::Io`] naming the file or directory.
pub fn sync_file_and_parent(file: &FsPath) -> Result<()> {
    let io = |op, path: &FsPath| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .map_err(io("fsync", file))?;
    if let Some(parent) = file.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// fsyncs a directory, making creations, renames and deletions in it durable.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn sync_dir(dir: &FsPath) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::Io {
            op: "fsync directory",
            path: dir.to_path_buf(),
            source,
        })
}
