//! A fault-injecting [`FileSystem`] for tests: simulated power cuts, EIO on sync, ENOSPC.
//!
//! Modelled on RocksDB's `FaultInjectionTestFS` (`utilities/fault_injection_fs.h`) and
//! LevelDB's `FaultInjectionTestEnv` (`db/fault_injection_test.cc`): every mutation happens
//! on a real directory, so the engine's readers (which bypass [`FileSystem`]) see what a page
//! cache would hold, while this layer tracks separately what a power cut would leave.
//!
//! The durability model is POSIX's, with nothing a journaling file system adds:
//! - a file's bytes are durable up to the length it had at its last successful sync; bytes
//!   appended since may survive a cut whole, in part, in part with a zeroed tail, or not at
//!   all (chosen at random at the cut);
//! - a creation, rename or deletion is durable once its directory is synced; the namespace
//!   operations not yet synced survive a cut as a random prefix of their order (a journal
//!   commits them in order);
//! - after a failed sync ("fsyncgate"), nothing written to that file since its last
//!   successful sync ever becomes durable, even if a later sync succeeds.
//!
//! [`FaultInjectionFs::power_cut`] rewrites the directory to one possible post-cut state;
//! the engine must have been dropped first, and is then reopened on the same directory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fs::{FileSystem, WritableFile};

/// The fault to inject; counted over mutations (every call of a [`FileSystem`] or
/// [`WritableFile`] method), numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No fault.
    None,
    /// Power is cut at mutation `at`: it happens in part or not at all (a write writes a
    /// random prefix; other mutations happen or not, at random) and fails, as does every
    /// later mutation, until [`FaultInjectionFs::power_cut`].
    CrashAt(u64),
    /// The first sync (file or directory) at or after mutation `at` fails with EIO.
    SyncErrorAt(u64),
    /// Writes, creations and renames fail with ENOSPC (a write may write a prefix first).
    NoSpace,
    /// As [`Fault::NoSpace`], from mutation `at` on (the disk fills up then).
    NoSpaceFrom(u64),
}

/// A node of the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir,
}

/// A namespace change not yet made durable by a sync of its directory.
#[derive(Debug, Clone)]
enum DirOp {
    Link(PathBuf, Node),
    Unlink(PathBuf),
    UnlinkTree(PathBuf),
    Rename(PathBuf, PathBuf, Node),
}

impl DirOp {
    /// Whether a sync of directory `dir` makes this change durable.
    fn is_in(&self, dir: &Path) -> bool {
        let parent_is = |p: &Path| p.parent() == Some(dir);
        match self {
            DirOp::Link(p, _) | DirOp::Unlink(p) | DirOp::UnlinkTree(p) => parent_is(p),
            DirOp::Rename(from, to, _) => parent_is(from) || parent_is(to),
        }
    }

    fn apply(&self, namespace: &mut BTreeMap<PathBuf, Node>) {
        match self {
            DirOp::Link(p, node) => {
                namespace.insert(p.clone(), *node);
            }
            DirOp::Unlink(p) => {
                namespace.remove(p);
            }
            DirOp::UnlinkTree(p) => namespace.retain(|k, _| !k.starts_with(p)),
            DirOp::Rename(from, to, node) => {
                namespace.remove(from);
                namespace.insert(to.clone(), *node);
            }
        }
    }
}

/// A file's bytes as the page cache holds them, and how many of them are durable.
#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    synced_len: usize,
    /// A sync failed: nothing after `synced_len` ever becomes durable.
    sync_broken: bool,
}

#[derive(Debug)]
struct State {
    next_inode: u64,
    inodes: BTreeMap<u64, Inode>,
    /// The namespace as the running system sees it (paths relative to nothing: absolute).
    live: BTreeMap<PathBuf, Node>,
    /// The namespace after a cut that loses every unsynced change.
    durable: BTreeMap<PathBuf, Node>,
    /// Unsynced namespace changes, in order.
    pending: Vec<DirOp>,
    mutations: u64,
    fault: Fault,
    sync_error_fired: bool,
    crashed: bool,
    rng: ChaCha8Rng,
    /// The last mutations, for a failing test to print.
    trace: std::collections::VecDeque<String>,
}

/// Mutations kept in the trace.
const TRACE_LEN: usize = 400;

/// What a mutation may do under the current fault.
enum Outcome {
    /// Go ahead.
    Proceed,
    /// The power is cut during this mutation.
    Cut,
}

fn power_cut_error() -> io::Error {
    io::Error::other("simulated power cut")
}

/// The kinds of mutation, for deciding which faults apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Adds bytes or names (ENOSPC applies).
    Allocate,
    /// A file or directory sync (EIO applies).
    Sync,
    /// Removes or shrinks.
    Release,
}

impl State {
    fn note(&mut self, what: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(what);
    }

    fn begin(&mut self, kind: Kind, what: impl FnOnce() -> String) -> io::Result<Outcome> {
        if self.crashed {
            return Err(power_cut_error());
        }
        self.mutations += 1;
        let what = format!("#{} {}", self.mutations, what());
        self.note(what);
        match self.fault {
            Fault::CrashAt(at) if self.mutations >= at => {
                self.crashed = true;
                Ok(Outcome::Cut)
            }
            Fault::SyncErrorAt(at)
                if kind == Kind::Sync && self.mutations >= at && !self.sync_error_fired =>
            {
                self.sync_error_fired = true;
                self.note("  (EIO)".into());
                Err(io::Error::from_raw_os_error(5)) // EIO
            }
            Fault::NoSpace if kind == Kind::Allocate => {
                Err(io::Error::from_raw_os_error(28)) // ENOSPC
            }
            Fault::NoSpaceFrom(at) if kind == Kind::Allocate && self.mutations >= at => {
                Err(io::Error::from_raw_os_error(28)) // ENOSPC
            }
            _ => Ok(Outcome::Proceed),
        }
    }

    /// For a mutation cut by the power: whether it reached the page cache anyway.
    fn cut_mutation_happens(&mut self) -> bool {
        self.rng.random_bool(0.5)
    }

    fn inode_of(&self, path: &Path) -> io::Result<u64> {
        match self.live.get(path) {
            Some(Node::File(inode)) => Ok(*inode),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not a file", path.display()),
            )),
        }
    }
}

/// A fault-injecting [`FileSystem`] over the real directory `root` (module docs).
#[derive(Debug, Clone)]
pub(crate) struct FaultInjectionFs {
    root: PathBuf,
    state: Arc<Mutex<State>>,
}

impl FaultInjectionFs {
    /// Tracks `root` (created if missing): what is there now counts as durable. `seed`
    /// drives every random choice (torn writes, what a cut keeps).
    pub fn new(root: &Path, seed: u64) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let mut state = State {
            next_inode: 1,
            inodes: BTreeMap::new(),
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            pending: Vec::new(),
            mutations: 0,
            fault: Fault::None,
            sync_error_fired: false,
            crashed: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            trace: Default::default(),
        };
        scan_into(root, &mut state)?;
        state.durable = state.live.clone();
        Ok(FaultInjectionFs {
            root: root.to_path_buf(),
            state: Arc::new(Mutex::new(state)),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the fault; mutation numbers count from the fs's creation.
    pub fn set_fault(&self, fault: Fault) {
        let mut state = self.state();
        state.fault = fault;
        state.sync_error_fired = false;
    }

    /// Mutations so far.
    pub fn mutations(&self) -> u64 {
        self.state().mutations
    }

    /// The last mutations (and cuts), oldest first, one per line.
    pub fn trace(&self) -> String {
        let state = self.state();
        state.trace.iter().map(|s| format!("  {s}\n")).collect()
    }

    /// Whether the power was cut (every mutation fails since).
    pub fn crashed(&self) -> bool {
        self.state().crashed
    }

    /// Cuts the power (if [`Fault::CrashAt`] did not already) and rewrites `root` to one
    /// state a cut could leave (module docs). Afterwards everything on disk is durable, no
    /// fault is set and the fs can be used again. Whoever used the fs must be gone: their
    /// open files are replaced.
    pub fn power_cut(&self) -> io::Result<()> {
        let mut state = self.state();
        state.crashed = true;
        let mut namespace = state.durable.clone();
        let pending = std::mem::take(&mut state.pending);
        let kept = state.rng.random_range(0..=pending.len());
        let note = format!(
            "power cut: {kept} of {} unsynced namespace changes kept: {:?}",
            pending.len(),
            &pending[..kept]
        );
        state.note(note);
        for op in &pending[..kept] {
            op.apply(&mut namespace);
        }
        // A name survives only under directories that survived.
        let dirs: std::collections::BTreeSet<PathBuf> = namespace
            .iter()
            .filter(|(_, node)| **node == Node::Dir)
            .map(|(p, _)| p.clone())
            .collect();
        let root = self.root.clone();
        namespace.retain(|path, _| {
            path.ancestors()
                .skip(1)
                .take_while(|a| *a != root)
                .all(|a| dirs.contains(a))
        });
        // Each file keeps its synced bytes and maybe some of the rest.
        let mut inodes = BTreeMap::new();
        for node in namespace.values() {
            let Node::File(id) = *node else { continue };
            if inodes.contains_key(&id) {
                continue;
            }
            let inode = state.inodes.get(&id).cloned().unwrap_or_default();
            let synced = inode.synced_len.min(inode.data.len());
            let unsynced = inode.data.len() - synced;
            let mut data = inode.data[..synced].to_vec();
            let path = namespace
                .iter()
                .find(|(_, n)| **n == Node::File(id))
                .map(|(p, _)| p.display().to_string())
                .unwrap_or_default();
            if !inode.sync_broken && unsynced > 0 {
                match state.rng.random_range(0..4) {
                    0 | 1 => {}
                    2 => data.extend_from_slice(&inode.data[synced..]),
                    _ => {
                        let keep = state.rng.random_range(0..=unsynced);
                        data.extend_from_slice(&inode.data[synced..synced + keep]);
                        if state.rng.random_bool(0.5) {
                            let zeroed = state.rng.random_range(0..=keep.min(64));
                            let len = data.len();
                            data[len - zeroed..].fill(0);
                        }
                    }
                }
            }
            if data.len() != inode.data.len() {
                let note = format!(
                    "power cut: {path} keeps {} of {} bytes ({synced} synced)",
                    data.len(),
                    inode.data.len()
                );
                state.note(note);
            }
            inodes.insert(
                id,
                Inode {
                    synced_len: data.len(),
                    data,
                    sync_broken: false,
                },
            );
        }
        // Rewrite the directory.
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        for (path, node) in &namespace {
            match node {
                Node::Dir => std::fs::create_dir_all(path)?,
                Node::File(id) => {
                    let data = inodes.get(id).map(|i| i.data.as_slice()).unwrap_or(&[]);
                    std::fs::write(path, data)?;
                }
            }
        }
        state.inodes = inodes;
        state.live = namespace.clone();
        state.durable = namespace;
        state.fault = Fault::None;
        state.crashed = false;
        Ok(())
    }
}

/// Records every file and directory under `dir` as live, files with their current bytes.
fn scan_into(dir: &Path, state: &mut State) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            state.live.insert(path.clone(), Node::Dir);
            scan_into(&path, state)?;
        } else {
            let data = std::fs::read(&path)?;
            let id = state.next_inode;
            state.next_inode += 1;
            state.inodes.insert(
                id,
                Inode {
                    synced_len: data.len(),
                    data,
                    sync_broken: false,
                },
            );
            state.live.insert(path, Node::File(id));
        }
    }
    Ok(())
}

/// A file created through a [`FaultInjectionFs`].
#[derive(Debug)]
struct FaultFile {
    file: std::fs::File,
    path: PathBuf,
    inode: u64,
    state: Arc<Mutex<State>>,
}

impl FaultFile {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.state();
        let inode = self.inode;
        let outcome = state.begin(Kind::Sync, || format!("sync {}", self.path.display()));
        match outcome {
            Ok(Outcome::Proceed) => {
                if let Some(node) = state.inodes.get_mut(&inode)
                    && !node.sync_broken
                {
                    node.synced_len = node.data.len();
                }
                Ok(())
            }
            Ok(Outcome::Cut) => {
                state.note("  (cut)".into());
                Err(power_cut_error())
            }
            Err(e) => {
                if let Some(node) = state.inodes.get_mut(&inode) {
                    node.sync_broken = true;
                }
                Err(e)
            }
        }
    }
}

impl WritableFile for FaultFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut state = self.state();
        let what = || format!("write {} bytes to {}", bytes.len(), self.path.display());
        let (len, result) = match state.begin(Kind::Allocate, what) {
            Ok(Outcome::Proceed) => (bytes.len(), Ok(())),
            Ok(Outcome::Cut) => (
                state.rng.random_range(0..=bytes.len()),
                Err(power_cut_error()),
            ),
            Err(e) => (state.rng.random_range(0..=bytes.len()), Err(e)),
        };
        let part = &bytes[..len];
        if let Some(node) = state.inodes.get_mut(&self.inode) {
            node.data.extend_from_slice(part);
        }
        drop(state);
        self.file.write_all(part)?;
        result
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync()
    }
}

impl FaultInjectionFs {
    /// Runs namespace mutation `op` on the real directory and records `change` for it.
    fn namespace_op(
        &self,
        kind: Kind,
        what: impl FnOnce() -> String,
        op: impl FnOnce() -> io::Result<()>,
        change: impl FnOnce(&mut State) -> io::Result<DirOp>,
    ) -> io::Result<()> {
        let mut state = self.state();
        let cut = match state.begin(kind, what)? {
            Outcome::Proceed => false,
            Outcome::Cut => {
                if !state.cut_mutation_happens() {
                    return Err(power_cut_error());
                }
                true
            }
        };
        let dir_op = change(&mut state)?;
        op()?;
        dir_op.apply(&mut state.live);
        state.pending.push(dir_op);
        if cut {
            return Err(power_cut_error());
        }
        Ok(())
    }
}

impl FileSystem for FaultInjectionFs {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut file = None;
        let mut id = 0;
        self.namespace_op(
            Kind::Allocate,
            || format!("create {}", path.display()),
            || {
                file = Some(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)?,
                );
                Ok(())
            },
            |state| {
                id = state.next_inode;
                state.next_inode += 1;
                state.inodes.insert(id, Inode::default());
                Ok(DirOp::Link(path.to_path_buf(), Node::File(id)))
            },
        )?;
        let file = file.ok_or_else(power_cut_error)?;
        Ok(Box::new(FaultFile {
            file,
            path: path.to_path_buf(),
            inode: id,
            state: self.state.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.namespace_op(
            Kind::Allocate,
            || format!("rename {} to {}", from.display(), to.display()),
            || std::fs::rename(from, to),
            |state| {
                let node = state.inode_of(from).map(Node::File)?;
                Ok(DirOp::Rename(from.to_path_buf(), to.to_path_buf(), node))
            },
        )
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.namespace_op(
            Kind::Release,
            || format!("remove {}", path.display()),
            || std::fs::remove_file(path),
            |state| {
                state.inode_of(path)?;
                Ok(DirOp::Unlink(path.to_path_buf()))
            },
        )
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.namespace_op(
            Kind::Release,
            || format!("remove tree {}", path.display()),
            || std::fs::remove_dir_all(path),
            |state| match state.live.get(path) {
                Some(Node::Dir) => Ok(DirOp::UnlinkTree(path.to_path_buf())),
                _ => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is not a directory", path.display()),
                )),
            },
        )
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.namespace_op(
            Kind::Allocate,
            || format!("create dir {}", path.display()),
            || std::fs::create_dir(path),
            |_| Ok(DirOp::Link(path.to_path_buf(), Node::Dir)),
        )
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        match state.begin(Kind::Sync, || format!("sync dir {}", path.display()))? {
            Outcome::Cut => Err(power_cut_error()),
            Outcome::Proceed => {
                let pending = std::mem::take(&mut state.pending);
                let (synced, rest): (Vec<DirOp>, Vec<DirOp>) =
                    pending.into_iter().partition(|op| op.is_in(path));
                for op in &synced {
                    op.apply(&mut state.durable);
                }
                state.pending = rest;
                Ok(())
            }
        }
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state();
        let id = state.inode_of(path)?;
        match state.begin(Kind::Release, || {
            format!("truncate {} to {len}", path.display())
        })? {
            Outcome::Cut => Err(power_cut_error()),
            Outcome::Proceed => {
                let file = std::fs::OpenOptions::new().write(true).open(path)?;
                file.set_len(len)?;
                if let Some(inode) = state.inodes.get_mut(&id) {
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    inode.data.truncate(len);
                    if !inode.sync_broken {
                        inode.synced_len = inode.data.len();
                    } else {
                        inode.synced_len = inode.synced_len.min(inode.data.len());
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    /// What a sync made durable survives every cut; what it did not may vanish.
    #[test]
    fn a_cut_keeps_synced_bytes_and_synced_names() {
        for seed in 0..50 {
            let tmp = tempfile::tempdir().unwrap();
            let fs = FaultInjectionFs::new(tmp.path(), seed).unwrap();
            let a = tmp.path().join("a");
            let mut file = fs.create_new(&a).unwrap();
            file.write_all(b"synced").unwrap();
            file.sync_data().unwrap();
            fs.sync_dir(tmp.path()).unwrap();
            file.write_all(b"-unsynced").unwrap();
            let b = tmp.path().join("b");
            let mut other = fs.create_new(&b).unwrap();
            other.write_all(b"never synced").unwrap();
            other.sync_data().unwrap();
            drop((file, other));
            fs.power_cut().unwrap();
            let after = read(&a).unwrap();
            assert!(after.starts_with(b"synced"), "seed {seed}: {after:?}");
            assert!(b"synced-unsynced".len() >= after.len());
            // `b`'s name was never synced: it may or may not be there, and if it is, its
            // synced bytes are whole.
            if let Some(bytes) = read(&b) {
                assert_eq!(bytes, b"never synced", "seed {seed}");
            }
        }
    }

    #[test]
    fn a_rename_is_durable_only_after_the_directory_sync() {
        // Without the directory sync a cut keeps the old name or the new one: both happen.
        let mut unsynced_outcomes = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let tmp = tempfile::tempdir().unwrap();
            let old = tmp.path().join("old");
            std::fs::write(&old, b"x").unwrap();
            let fs = FaultInjectionFs::new(tmp.path(), seed).unwrap();
            let new = tmp.path().join("new");
            fs.rename(&old, &new).unwrap();
            let synced = seed % 2 == 0;
            if synced {
                fs.sync_dir(tmp.path()).unwrap();
            }
            fs.power_cut().unwrap();
            // Exactly one of the names survives, never both, never neither.
            assert_ne!(old.exists(), new.exists(), "seed {seed}");
            if synced {
                assert!(new.exists(), "seed {seed}");
            } else {
                unsynced_outcomes.insert(new.exists());
            }
        }
        assert_eq!(unsynced_outcomes.len(), 2, "{unsynced_outcomes:?}");
    }

    #[test]
    fn a_failed_sync_makes_nothing_since_durable_and_a_cut_fails_everything_after() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = FaultInjectionFs::new(tmp.path(), 7).unwrap();
        let path = tmp.path().join("f");
        let mut file = fs.create_new(&path).unwrap();
        fs.sync_dir(tmp.path()).unwrap();
        file.write_all(b"lost").unwrap();
        fs.set_fault(Fault::SyncErrorAt(fs.mutations() + 1));
        assert_eq!(file.sync_data().unwrap_err().raw_os_error(), Some(5));
        file.sync_data().unwrap();
        drop(file);
        fs.power_cut().unwrap();
        assert_eq!(read(&path).unwrap(), b"");

        fs.set_fault(Fault::CrashAt(fs.mutations() + 2));
        let mut file = fs.create_new(&tmp.path().join("g")).unwrap();
        assert!(file.write_all(b"cut").is_err());
        assert!(fs.crashed());
        assert!(file.sync_data().is_err());
        assert!(fs.create_dir(&tmp.path().join("d")).is_err());
    }

    #[test]
    fn no_space_refuses_allocations_only() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("old"), b"x").unwrap();
        let fs = FaultInjectionFs::new(tmp.path(), 1).unwrap();
        fs.set_fault(Fault::NoSpace);
        let error = fs.create_new(&tmp.path().join("new")).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(28));
        fs.remove_file(&tmp.path().join("old")).unwrap();
        fs.sync_dir(tmp.path()).unwrap();
        fs.set_fault(Fault::None);
        fs.power_cut().unwrap();
        assert!(!tmp.path().join("old").exists());
    }
}
