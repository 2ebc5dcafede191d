//! The write-ahead log of one region: a directory of numbered segment files, appended to by
//! one writer thread with group commit, replayed on open, trimmed after flushes.
//!
//! The byte layout and the recovery rules are normative in `docs/FORMAT.md` (`## WAL`).
//!
//! Invariants:
//! - an append is acknowledged only after its frame is written and `sync_data` returned;
//! - after any failed write, fsync or segment creation the WAL is poisoned: every later
//!   append fails with [`Error::Poisoned`] until the WAL is reopened (and replayed);
//! - log order is the order in which appends (and rolls) reach the writer queue; the caller
//!   must enqueue entries in sequence order (the region worker does) so that replay returns
//!   sequences in increasing order;
//! - [`Wal::open`] always starts a new, empty active segment; segments that existed before are
//!   closed and are what [`Wal::replay`] reads;
//! - [`Wal::obsolete`] never deletes the active segment.

mod entry;
mod error;
mod segment;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;

use crate::engine::io::{FileSystemRef, OsFileSystem};
use crate::engine::metadata::{OpType, SequenceNumber};

pub use error::{CorruptionKind, Error};
use segment::{ScanEnd, SegmentId};
use writer::{Request, Segments, Shared, Writer};

/// Options of a [`Wal`].
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Roll to a new segment once appending an entry would make the active segment larger
    /// than this, in bytes (a segment holding a single larger entry is allowed). Smaller
    /// segments let [`Wal::obsolete`] free space sooner at the cost of more files.
    /// Default 64 MiB.
    pub segment_size_limit_bytes: u64,
    /// Every creation, write, sync and deletion of a segment goes through it (reads do
    /// not). Default: the operating system's.
    pub file_system: FileSystemRef,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_limit_bytes: 64 << 20,
            file_system: OsFileSystem::shared(),
        }
    }
}

/// One logged mutation: rows of `batch` get sequences `sequence, sequence+1, ...` in row order.
#[derive(Debug, Clone)]
pub struct WalEntry {
    /// Sequence number of the first row.
    pub sequence: SequenceNumber,
    /// Whether the rows are puts or deletes.
    pub op_type: OpType,
    /// The rows, in the region's write schema.
    pub batch: RecordBatch,
}

impl WalEntry {
    /// Sequence of the last row: `sequence + num_rows - 1`, or `sequence` for an empty batch.
    pub fn last_sequence(&self) -> SequenceNumber {
        let rows = self.batch.num_rows() as u64;
        self.sequence.saturating_add(rows.saturating_sub(1))
    }
}

/// What [`Wal::replay`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Entries passed to `apply`.
    pub entries: u64,
    /// Rows in those entries.
    pub rows: u64,
    /// Bytes of torn tail cut from the newest segment when the WAL was opened.
    pub truncated_tail_bytes: u64,
}

/// Result of WAL operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The write-ahead log of one region. `Send + Sync`; appends may come from many tasks.
pub struct Wal {
    shared: Arc<Shared>,
    sender: Mutex<Option<std::sync::mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Segments that existed at open, oldest first: what replay reads.
    recovered: Vec<(SegmentId, PathBuf)>,
    /// Highest sequence in the log at open.
    recovered_max: Option<SequenceNumber>,
    truncated_tail_bytes: u64,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let segments = self.shared.segments();
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("active_segment", &segments.active)
            .field("closed_segments", &segments.closed.len())
            .field("max_sequence", &segments.max_sequence)
            .field("poisoned", &self.shared.poison.get())
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens (creating if missing) the WAL in local directory `dir`: validates all segments,
    /// repairs a torn tail of the newest one (see `docs/FORMAT.md`), creates a new active
    /// segment and starts the writer thread. Blocks on file I/O; reads every segment once.
    ///
    /// # Errors
    /// [`Error::Corruption`] if any segment is damaged other than by a torn tail, [`Error::Io`]
    /// if the directory or a segment cannot be read, repaired or created.
    pub fn open(dir: &Path, options: WalOptions) -> Result<Wal> {
        // Durably: the segments' directory entry must survive a power cut with them.
        let files = options.file_system.clone();
        segment::create_dir_all(files.as_ref(), dir)?;
        // Entries an earlier process left unsynced (after a failed fsync) become durable
        // before anything relies on them: the segments, and the directory's own entry.
        segment::sync_dir(files.as_ref(), dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            segment::sync_dir(files.as_ref(), parent)?;
        }
        let mut found = segment::list(dir)?;
        let mut closed = std::collections::BTreeMap::new();
        let mut max_sequence: Option<SequenceNumber> = None;
        let mut truncated_tail_bytes = 0;
        let last_id = found.last().map(|(id, _)| *id);
        let mut removed_last = false;
        for (id, path) in &found {
            let is_last = Some(*id) == last_id;
            let bytes = segment::read(path)?;
            let mut segment_max: Option<SequenceNumber> = None;
            let end = segment::scan(
                path,
                &bytes,
                is_last,
                &mut |offset, record_type, payload| {
                    let entry = decode_frame_entry(path, offset, record_type, payload)?;
                    segment_max = segment_max.max(Some(entry.last_sequence()));
                    Ok(())
                },
            )?;
            match end {
                ScanEnd::Clean
                    if is_last && bytes.len() == crate::engine::codec::FILE_HEADER_LEN =>
                {
                    // The previous active segment never received an entry.
                    segment::remove(files.as_ref(), path)?;
                    segment::sync_dir(files.as_ref(), dir)?;
                    removed_last = true;
                    continue;
                }
                ScanEnd::Clean => {}
                ScanEnd::TornHeader => {
                    log::warn!(
                        "WAL segment {} has a partial header ({} bytes) from an interrupted creation; deleting it",
                        path.display(),
                        bytes.len()
                    );
                    truncated_tail_bytes += bytes.len() as u64;
                    segment::remove(files.as_ref(), path)?;
                    segment::sync_dir(files.as_ref(), dir)?;
                    removed_last = true;
                    continue;
                }
                ScanEnd::TornTail { valid_len } => {
                    let cut = (bytes.len() as u64).saturating_sub(valid_len);
                    log::warn!(
                        "WAL segment {} ends with a torn write: truncating {cut} bytes at offset {valid_len}",
                        path.display()
                    );
                    segment::truncate(files.as_ref(), path, valid_len)?;
                    truncated_tail_bytes += cut;
                }
            }
            closed.insert(*id, segment_max);
            max_sequence = max_sequence.max(segment_max);
        }
        if removed_last {
            found.pop();
        }

        let active = last_id.map_or(1, |id| id.saturating_add(1));
        let (file, path) = segment::create_segment(files.as_ref(), dir, active)?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            files,
            segments: Mutex::new(Segments {
                closed,
                active,
                active_max: None,
                max_sequence,
            }),
            poison: OnceLock::new(),
            syncs: AtomicU64::new(0),
        });
        let (sender, receiver) = std::sync::mpsc::channel();
        let writer = Writer::new(
            shared.clone(),
            options.segment_size_limit_bytes,
            file,
            path.clone(),
            active,
        );
        let handle = std::thread::Builder::new()
            .name("tsdb-wal-writer".to_string())
            .spawn(move || writer.run(receiver))
            .map_err(|source| Error::Io {
                op: "spawn writer thread for",
                path,
                source,
            })?;
        Ok(Wal {
            shared,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            recovered: found,
            recovered_max: max_sequence,
            truncated_tail_bytes,
        })
    }

    /// Calls `apply` for every entry with `last_sequence() > after`, in log order, reading the
    /// segments that existed at open. Called once, before the first append. Blocks on file I/O.
    ///
    /// # Errors
    /// [`Error::Apply`] wrapping the first error of `apply` (replay stops there; nothing is
    /// skipped), [`Error::Corruption`] or [`Error::Io`] if a segment cannot be read.
    pub fn replay(
        &self,
        after: SequenceNumber,
        apply: &mut dyn FnMut(WalEntry) -> std::result::Result<(), crate::engine::Error>,
    ) -> Result<ReplayStats> {
        let mut stats = ReplayStats {
            truncated_tail_bytes: self.truncated_tail_bytes,
            ..ReplayStats::default()
        };
        for (id, path) in &self.recovered {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                // Deleted by `obsolete`: every entry in it was flushed.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && !self.shared.segments().closed.contains_key(id) =>
                {
                    continue;
                }
                Err(source) => {
                    return Err(Error::Io {
                        op: "read segment",
                        path: path.clone(),
                        source,
                    });
                }
            };
            segment::scan(path, &bytes, false, &mut |offset, record_type, payload| {
                let entry = decode_frame_entry(path, offset, record_type, payload)?;
                if entry.last_sequence() <= after {
                    return Ok(());
                }
                let sequence = entry.sequence;
                let rows = entry.batch.num_rows() as u64;
                apply(entry).map_err(|source| Error::Apply {
                    sequence,
                    source: Box::new(source),
                })?;
                stats.entries += 1;
                stats.rows += rows;
                Ok(())
            })?;
        }
        Ok(stats)
    }

    /// Appends `entry` and returns once it is fsynced. Concurrent appends are group-committed:
    /// the writer thread writes all queued entries and syncs once. The entry is encoded on the
    /// calling task. If the future is dropped before it completes, the entry may or may not be
    /// logged.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if this or an earlier write or fsync failed (every later append
    /// fails too), [`Error::Encode`] / [`Error::EntryTooLarge`] if the batch cannot be encoded,
    /// [`Error::SequenceRegression`] if `entry.sequence` is not above every sequence the log
    /// held at open, [`Error::WriterStopped`] after [`Wal::close`].
    pub async fn append(&self, entry: WalEntry) -> Result<()> {
        self.submit(&entry)?.wait().await
    }

    /// Enqueues `entry` for the writer thread and returns at once; the returned ticket
    /// resolves when the entry is durable. Entries are written in submission order, so a
    /// caller that submits under its own lock and waits after releasing it lets concurrent
    /// writers share one fsync (group commit).
    ///
    /// # Errors
    /// As [`Wal::append`], for the checks made before enqueueing.
    pub fn submit(&self, entry: &WalEntry) -> Result<AppendTicket> {
        self.shared.check_poisoned()?;
        if let Some(recovered) = self.recovered_max.filter(|max| entry.sequence <= *max) {
            return Err(Error::SequenceRegression {
                sequence: entry.sequence,
                recovered,
            });
        }
        let frame = entry::encode_entry_frame(entry)?;
        let (ack, done) = oneshot::channel();
        self.send(Request::Append {
            frame,
            last_sequence: entry.last_sequence(),
            ack,
        })?;
        Ok(AppendTicket {
            done,
            shared: self.shared.clone(),
        })
    }

    /// Makes later appends go to a new segment (called when a memtable is frozen), so that
    /// the current segment can be deleted once that memtable is flushed. Ordered with appends:
    /// appends enqueued before go to the old segment. A no-op if the active segment holds no
    /// entry.
    ///
    /// # Errors
    /// [`Error::Poisoned`] (creating the segment failed now or something failed earlier),
    /// [`Error::WriterStopped`] after [`Wal::close`].
    pub async fn roll(&self) -> Result<()> {
        self.shared.check_poisoned()?;
        let (ack, done) = oneshot::channel();
        self.send(Request::Roll { ack })?;
        done.await.map_err(|_| self.stopped())?
    }

    /// Deletes closed segments whose entries all have sequence <= `flushed` (called after a
    /// flush's manifest edit is durable), then fsyncs the directory. Never deletes the active
    /// segment. Blocks on file I/O.
    ///
    /// # Errors
    /// [`Error::Io`] if a segment cannot be deleted (it stays tracked, a later call retries) or
    /// the directory cannot be synced.
    pub fn obsolete(&self, flushed: SequenceNumber) -> Result<()> {
        let victims: Vec<(SegmentId, Option<SequenceNumber>)> = {
            let mut segments = self.shared.segments();
            let ids: Vec<SegmentId> = segments
                .closed
                .iter()
                .filter(|(_, max)| max.is_none_or(|max| max <= flushed))
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| segments.closed.remove(&id).map(|max| (id, max)))
                .collect()
        };
        if victims.is_empty() {
            return Ok(());
        }
        let mut first_error = None;
        for (id, max) in victims {
            let path = self.shared.dir.join(segment::file_name(id));
            match segment::remove(self.shared.files.as_ref(), &path) {
                Ok(()) => log::debug!("deleted obsolete WAL segment {}", path.display()),
                Err(e) => {
                    self.shared.segments().closed.insert(id, max);
                    first_error.get_or_insert(e);
                }
            }
        }
        segment::sync_dir(self.shared.files.as_ref(), &self.shared.dir)?;
        first_error.map_or(Ok(()), Err)
    }

    /// Stops the writer thread after it has written and acknowledged every queued append.
    /// Later appends fail with [`Error::WriterStopped`]. Idempotent; also done on drop. Blocks
    /// until the thread exits.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if the writer thread panicked.
    pub fn close(&self) -> Result<()> {
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            return Err(Error::Poisoned {
                reason: "the WAL writer thread panicked".to_string(),
            });
        }
        Ok(())
    }

    /// The highest sequence the log holds (from open and from appends since), `None` if it
    /// never held an entry. New sequences must start above it.
    pub fn max_sequence(&self) -> Option<SequenceNumber> {
        self.shared.segments().max_sequence
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Number of `sync_data` calls made by the writer since open (one per group commit).
    pub fn sync_count(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    fn send(&self, request: Request) -> Result<()> {
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        match sender.as_ref() {
            Some(sender) => sender.send(request).map_err(|_| self.stopped()),
            None => Err(Error::WriterStopped),
        }
    }

    /// The error for a writer that went away: poisoned if it failed, else stopped.
    fn stopped(&self) -> Error {
        self.shared
            .check_poisoned()
            .err()
            .unwrap_or(Error::WriterStopped)
    }
}

// Regions share their WAL across tasks and threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
};

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing the WAL in {}: {e}", self.shared.dir.display());
        }
    }
}

/// Decodes the entry in the frame at `offset` of segment `path`.
fn decode_frame_entry(
    path: &Path,
    offset: u64,
    record_type: u8,
    payload: &[u8],
) -> Result<WalEntry> {
    let corruption = |reason| Error::Corruption {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    if record_type != entry::RECORD_TYPE_ENTRY {
        return Err(corruption(CorruptionKind::UnknownRecordType(record_type)));
    }
    entry::decode_entry(payload).map_err(corruption)
}

/// Resolves when a submitted entry is durable; see [`Wal::submit`].
#[derive(Debug)]
#[must_use = "an entry is acknowledged only once its ticket resolves"]
pub struct AppendTicket {
    done: oneshot::Receiver<Result<()>>,
    shared: Arc<writer::Shared>,
}

impl AppendTicket {
    /// Waits until the entry is fsynced.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if the write or fsync failed, [`Error::WriterStopped`] if the
    /// writer stopped first.
    pub async fn wait(self) -> Result<()> {
        match self.done.await {
            Ok(result) => result,
            Err(_) => Err(self
                .shared
                .check_poisoned()
                .err()
                .unwrap_or(Error::WriterStopped)),
        }
    }
}
