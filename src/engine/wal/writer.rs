//! The writer thread (`tsdb-wal-writer`): the only code that writes to the active segment.
//!
//! Group commit: the thread blocks for one request, drains every request already queued,
//! appends the queued frames to the active segment with one `write_all`, calls `sync_data`
//! once, and only then acknowledges them. Requests are handled in queue order, so a roll
//! separates the appends queued before it from those queued after it.
//!
//! Group window: a writer acknowledged by one sync can only rejoin a sync that has not started
//! yet, so if the next sync started at the first request, writers that each wait for their
//! commit would split into two groups taking turns (each writer in every other sync: half the
//! commits per sync). After a sync, the writer therefore expects the writers it acknowledged
//! plus those that queued during the sync, and waits for that many appends until as long
//! after the end of the last sync as that sync took (at most [`MAX_GROUP_WAIT`]). Gathering
//! everyone pays when they return sooner than one sync would take; when they do not (the
//! window expires unfilled: slow writers, or one that stopped), the next
//! [`WINDOW_BACKOFF_GROUPS`] syncs start at once, as without the window, then it is tried
//! again. A lone writer (one acknowledged, nobody queued) never waits. This is MySQL's
//! `binlog_group_commit_sync_delay` / `binlog_group_commit_sync_no_delay_count` pair
//! (`sql/binlog.cc`, `MYSQL_BIN_LOG::ordered_commit`), with the count and the delay taken
//! from the last sync instead of settings.
//!
//! Poisoning: after any failed write, fsync or segment creation the thread refuses all
//! further work with [`Error::Poisoned`] (after a failed fsync the page cache can no longer be
//! trusted). A panic of the thread poisons the WAL too (see [`PoisonDart`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::engine::io::{FileSystemRef, WritableFile};
use crate::engine::metadata::SequenceNumber;

use super::segment::{self, SegmentId};
use super::{Error, Result};

/// Upper bound of the group window, whatever the last sync took (a stalled disk must not
/// make every later commit wait that long too).
const MAX_GROUP_WAIT: Duration = Duration::from_millis(10);

/// Syncs that start at once after a group window expired unfilled.
const WINDOW_BACKOFF_GROUPS: u32 = 8;

/// A request to the writer thread; each carries the channel its result is sent on.
pub(crate) enum Request {
    /// Append one encoded frame holding rows up to `last_sequence`.
    Append {
        frame: Vec<u8>,
        last_sequence: SequenceNumber,
        ack: oneshot::Sender<Result<()>>,
    },
    /// Make later appends go to a new segment.
    Roll { ack: oneshot::Sender<Result<()>> },
}

/// The segments of the log, as tracked in memory.
#[derive(Debug)]
pub(crate) struct Segments {
    /// Closed segments: id -> highest sequence they hold (`None` if they hold no entry).
    pub closed: BTreeMap<SegmentId, Option<SequenceNumber>>,
    /// The segment appends go to.
    pub active: SegmentId,
    /// Highest sequence in the active segment.
    pub active_max: Option<SequenceNumber>,
    /// Highest sequence ever logged (including segments deleted since open).
    pub max_sequence: Option<SequenceNumber>,
}

/// State shared by the [`super::Wal`] handle and its writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The directory holding the segments.
    pub dir: PathBuf,
    /// Every mutation of the segments goes through it.
    pub files: FileSystemRef,
    /// Segment bookkeeping; the writer updates it after each sync and roll.
    pub segments: Mutex<Segments>,
    /// Set (once) to the reason of the first failure; then every append fails.
    pub poison: OnceLock<String>,
    /// Number of `sync_data` calls on segments (for group-commit tests and metrics).
    pub syncs: AtomicU64,
}

impl Shared {
    /// Poisons the WAL; the first reason wins.
    pub fn poison(&self, reason: String) {
        log::error!("WAL in {} is poisoned: {reason}", self.dir.display());
        let _ = self.poison.set(reason);
    }

    /// [`Error::Poisoned`] if the WAL is poisoned.
    pub fn check_poisoned(&self) -> Result<()> {
        match self.poison.get() {
            Some(reason) => Err(Error::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Locks the segment table (a panic while it was held cannot leave it inconsistent:
    /// every update is a single assignment or insert).
    pub fn segments(&self) -> MutexGuard<'_, Segments> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Poisons the WAL if the writer thread unwinds.
struct PoisonDart(Arc<Shared>);

impl Drop for PoisonDart {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison("the WAL writer thread panicked".to_string());
        }
    }
}

/// The group window (module doc): how many appends the next sync waits for, and until when.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupWindow {
    /// Appends expected in the next group: the last group plus those queued during its sync.
    pub expected: usize,
    /// How long the last successful sync took, and when it ended.
    last_sync: Option<(Duration, Instant)>,
    /// Groups left that start at once, after a window that expired unfilled.
    backoff: u32,
}

impl GroupWindow {
    /// After a sync of `group` appends (`synced`: how long it took and when it ended, `None`
    /// if it failed or there was nothing to sync) during which `queued` more were enqueued.
    pub fn after_sync(&mut self, group: usize, queued: usize, synced: Option<(Duration, Instant)>) {
        self.expected = group + queued;
        if synced.is_some() {
            self.last_sync = synced;
        }
    }

    /// Until when a group of `pending` appends waits for more, `None` to sync at once.
    pub fn deadline(&mut self, pending: usize) -> Option<Instant> {
        if pending >= self.expected {
            return None;
        }
        if self.backoff > 0 {
            self.backoff -= 1;
            return None;
        }
        let (took, ended) = self.last_sync?;
        Some(ended + took.min(MAX_GROUP_WAIT))
    }

    /// The window expired before the expected appends came.
    pub fn expired(&mut self) {
        self.backoff = WINDOW_BACKOFF_GROUPS;
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    segment_size_limit_bytes: u64,
    file: Box<dyn WritableFile>,
    path: PathBuf,
    id: SegmentId,
    /// Bytes written to the active segment (header included).
    len: u64,
    /// Frames queued for the next `write_all`.
    pending: Vec<u8>,
    pending_acks: Vec<oneshot::Sender<Result<()>>>,
    pending_max: Option<SequenceNumber>,
}

impl Writer {
    /// A writer appending to the freshly created, header-only segment `id`.
    pub fn new(
        shared: Arc<Shared>,
        segment_size_limit_bytes: u64,
        file: Box<dyn WritableFile>,
        path: PathBuf,
        id: SegmentId,
    ) -> Self {
        Writer {
            shared,
            segment_size_limit_bytes,
            file,
            path,
            id,
            len: crate::engine::codec::FILE_HEADER_LEN as u64,
            pending: Vec::new(),
            pending_acks: Vec::new(),
            pending_max: None,
        }
    }

    /// The thread body: runs until every sender is dropped and the queue is drained.
    pub fn run(mut self, requests: Receiver<Request>) {
        let _dart = PoisonDart(self.shared.clone());
        let mut window = GroupWindow::default();
        loop {
            if self.pending_acks.is_empty() {
                match requests.recv() {
                    Ok(first) => self.handle(first),
                    Err(_) => return, // every sender dropped, queue drained
                }
            }
            self.drain(&requests);
            if let Some(deadline) = window.deadline(self.pending_acks.len()) {
                while self.pending_acks.len() < window.expected {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match requests.recv_timeout(left) {
                        Ok(request) => {
                            self.handle(request);
                            self.drain(&requests);
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            window.expired();
                            break;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
            let group = self.pending_acks.len();
            let started = Instant::now();
            let synced = self.flush().then(|| (started.elapsed(), Instant::now()));
            // Those that queued during the sync are the next group's start.
            self.drain(&requests);
            window.after_sync(group, self.pending_acks.len(), synced);
        }
    }

    /// Handles every request already queued.
    fn drain(&mut self, requests: &Receiver<Request>) {
        while let Ok(request) = requests.try_recv() {
            self.handle(request);
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Append {
                frame,
                last_sequence,
                ack,
            } => {
                if let Err(e) = self.shared.check_poisoned() {
                    let _ = ack.send(Err(e));
                    return;
                }
                let holds_entries = self.holds_entries() || !self.pending_acks.is_empty();
                let new_len = self.len + self.pending.len() as u64 + frame.len() as u64;
                if holds_entries && new_len > self.segment_size_limit_bytes {
                    self.flush();
                    if let Err(e) = self.roll() {
                        let _ = ack.send(Err(e));
                        return;
                    }
                }
                self.pending.extend_from_slice(&frame);
                self.pending_acks.push(ack);
                self.pending_max = self.pending_max.max(Some(last_sequence));
            }
            Request::Roll { ack } => {
                self.flush();
                let result = if self.holds_entries() {
                    self.roll()
                } else {
                    // Nothing was appended to the active segment: it already is a new one.
                    self.shared.check_poisoned()
                };
                let _ = ack.send(result);
            }
        }
    }

    /// Whether the active segment holds a written entry.
    fn holds_entries(&self) -> bool {
        self.len > crate::engine::codec::FILE_HEADER_LEN as u64
    }

    /// Writes and syncs the pending frames, then acknowledges them. Returns whether it synced.
    fn flush(&mut self) -> bool {
        if self.pending_acks.is_empty() {
            return false;
        }
        let result = self.shared.check_poisoned().and_then(|()| {
            self.file
                .write_all(&self.pending)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| {
                    let reason = format!(
                        "write or fsync of WAL segment {} failed: {e}",
                        self.path.display()
                    );
                    self.shared.poison(reason.clone());
                    Error::Poisoned { reason }
                })
        });
        if result.is_ok() {
            self.shared.syncs.fetch_add(1, Ordering::Relaxed);
            self.len += self.pending.len() as u64;
            let mut segments = self.shared.segments();
            segments.active_max = segments.active_max.max(self.pending_max);
            segments.max_sequence = segments.max_sequence.max(self.pending_max);
        }
        for ack in self.pending_acks.drain(..) {
            let reply = match &result {
                Ok(()) => Ok(()),
                Err(_) => self.shared.check_poisoned(),
            };
            let _ = ack.send(reply);
        }
        self.pending.clear();
        self.pending_max = None;
        result.is_ok()
    }

    /// Closes the active segment and creates the next one. Pending frames must be flushed.
    fn roll(&mut self) -> Result<()> {
        self.shared.check_poisoned()?;
        let id = self.id + 1;
        let (file, path) =
            segment::create_segment(self.shared.files.as_ref(), &self.shared.dir, id).map_err(
                |e| {
                    let reason = format!("creating the next WAL segment failed: {e}");
                    self.shared.poison(reason.clone());
                    Error::Poisoned { reason }
                },
            )?;
        {
            let mut segments = self.shared.segments();
            let closed_max = segments.active_max.take();
            let closed_id = segments.active;
            segments.closed.insert(closed_id, closed_max);
            segments.active = id;
        }
        log::debug!("WAL rolled to segment {}", path.display());
        self.file = file;
        self.path = path;
        self.id = id;
        self.len = crate::engine::codec::FILE_HEADER_LEN as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_window_waits_for_the_acknowledged_writers_and_those_that_queued() {
        let t0 = Instant::now();
        let sync = |micros| Some((Duration::from_micros(micros), t0));
        let mut window = GroupWindow::default();
        // A lone writer: one acknowledged, nobody queued during the sync. Its next append
        // alone fills the group, so it never waits.
        window.after_sync(1, 0, sync(130));
        assert_eq!(window.deadline(1), None);
        // Two halves taking turns (4 synced, 4 queued meanwhile): the next sync waits for all
        // eight, until as long after the last sync's end as it took.
        window.after_sync(4, 4, sync(150));
        assert_eq!(window.expected, 8);
        assert_eq!(window.deadline(8), None);
        assert_eq!(window.deadline(4), Some(t0 + Duration::from_micros(150)));
        // A failed sync keeps the last timing; a stalled disk is capped.
        window.after_sync(8, 0, None);
        assert_eq!(window.deadline(4), Some(t0 + Duration::from_micros(150)));
        window.after_sync(8, 0, sync(2_000_000));
        assert_eq!(window.deadline(4), Some(t0 + MAX_GROUP_WAIT));
        // An expired window: the next groups start at once, then the window is tried again.
        window.expired();
        for _ in 0..WINDOW_BACKOFF_GROUPS {
            assert_eq!(window.deadline(4), None);
        }
        assert_eq!(window.deadline(4), Some(t0 + MAX_GROUP_WAIT));
    }
}
