//! What an invocation may make the host's disk hold: `limits.disk-write`
//! (bytes written to files), `limits.disk-files` (files, folders and links
//! created) and `limits.state-size` (the size of `{state}`), each charged as
//! the write or creation happens, before it reaches the disk. Going past one
//! stops the guest with a trap that the invocation reports as that limit.
//!
//! Writes reach files through three routes of WASI 0.2's `wasi:filesystem`:
//! `descriptor.write`, and the output streams of `write-via-stream` and
//! `append-via-stream`. The runtime shadows the first (see `file_audit`) and
//! wraps every stream the other two return in a [`MeteredStream`], so each
//! byte is charged whichever route the guest uses. WASI 0.3 has only the two
//! stream routes, which take the guest's `stream<u8>`: the runtime consumes
//! it itself, charging each chunk through a [`WriteMeter`] before writing it
//! (see `file_audit_p3`).
//!
//! The `{state}` size is the sum of its files' sizes. It starts at the size of
//! the committed state and grows by what each write adds past a file's end
//! (an overwrite inside a file adds nothing). Deletions are not tracked as
//! they happen, so this is an upper bound; when it passes the limit the work
//! copy is measured again (at most [`MAX_REMEASURES`] times per invocation)
//! and only a real excess stops the guest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamError, StreamResult};

use super::limits::{LimitKind, Limits};
use crate::capabilities::limits::LimitFlag;

/// How many times one invocation may have its `{state}` measured again after
/// its running estimate went past `limits.state-size`; after that the
/// estimate stands. Each measure walks the work copy.
pub(crate) const MAX_REMEASURES: u32 = 8;

#[derive(Debug)]
struct Usage {
    written: u64,
    created: u64,
    state: u64,
    remeasures: u32,
    /// Resource reps of the file write streams handed out, to settle their
    /// pending writes before `{state}` is committed.
    streams: Vec<u32>,
}

/// One invocation's disk budget, shared by the filesystem shadows and the
/// streams they wrap.
#[derive(Clone)]
pub(crate) struct DiskBudget {
    inner: Arc<Mutex<Usage>>,
    max_written: u64,
    max_created: u64,
    max_state: u64,
    /// The work copy of `{state}`, to measure again; `None` when the
    /// invocation cannot write its state.
    state_dir: Option<PathBuf>,
    flag: LimitFlag,
    /// Held (shared) by each WASI 0.3 file write running on a background
    /// thread, so that [`DiskBudget::settle_writes`] can wait for them.
    writes: Arc<tokio::sync::RwLock<()>>,
}

impl DiskBudget {
    /// A budget for `limits`, with `state_size` bytes already in a writable
    /// `{state}` at `state_dir`.
    pub(crate) fn new(
        limits: &Limits,
        state_dir: Option<PathBuf>,
        state_size: u64,
        flag: LimitFlag,
    ) -> Self {
        DiskBudget {
            inner: Arc::new(Mutex::new(Usage {
                written: 0,
                created: 0,
                state: state_size,
                remeasures: 0,
                streams: Vec::new(),
            })),
            max_written: limits.disk_write.0,
            max_created: limits.disk_files,
            max_state: limits.state_size.0,
            state_dir,
            flag,
            writes: Arc::default(),
        }
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn exceeded(&self, kind: LimitKind) -> wasmtime::Error {
        self.flag.set(kind);
        let key = kind.manifest_key().unwrap_or("limits");
        wasmtime::format_err!("the skill went past {key}")
    }

    /// Charges `bytes` written, of which `state_growth` enlarge `{state}`.
    /// `Err` is the trap to return: the write must not happen.
    pub(crate) fn charge_write(&self, bytes: u64, state_growth: u64) -> wasmtime::Result<()> {
        let mut usage = self.usage();
        // `{state}` first: the more particular limit names the cause.
        let mut state = usage.state;
        if state_growth > 0 {
            state = usage.state.saturating_add(state_growth);
            if state > self.max_state {
                let measured = match &self.state_dir {
                    Some(dir) if usage.remeasures < MAX_REMEASURES => {
                        usage.remeasures += 1;
                        tree_size(dir).ok()
                    }
                    _ => None,
                };
                match measured.map(|m| m.saturating_add(state_growth)) {
                    Some(real) if real <= self.max_state => state = real,
                    _ => {
                        drop(usage);
                        return Err(self.exceeded(LimitKind::StateSize));
                    }
                }
            }
        }
        let written = usage.written.saturating_add(bytes);
        if written > self.max_written {
            drop(usage);
            return Err(self.exceeded(LimitKind::DiskWrite));
        }
        usage.state = state;
        usage.written = written;
        Ok(())
    }

    /// Remembers the write stream `rep`; forgets those `live` says are gone
    /// when there are many.
    pub(crate) fn record_stream(&self, rep: u32, live: impl Fn(u32) -> bool) {
        let mut usage = self.usage();
        if usage.streams.len() >= 64 && usage.streams.len().is_power_of_two() {
            usage.streams.retain(|r| live(*r));
        }
        usage.streams.push(rep);
    }

    /// The write streams handed out, forgotten here.
    pub(crate) fn take_streams(&self) -> Vec<u32> {
        std::mem::take(&mut self.usage().streams)
    }

    /// A token a background file write holds until it has landed; `None`
    /// once [`DiskBudget::settle_writes`] has begun (the guest is no longer
    /// running then).
    pub(crate) fn write_token(&self) -> Option<tokio::sync::OwnedRwLockReadGuard<()>> {
        self.writes.clone().try_read_owned().ok()
    }

    /// Waits until every background file write holding a
    /// [`DiskBudget::write_token`] has landed (a dropped stream does not
    /// stop a write already handed to a thread, which would otherwise land
    /// after `{state}` was committed).
    pub(crate) async fn settle_writes(&self) {
        drop(self.writes.clone().write_owned().await);
    }

    /// Charges one file, folder or link about to be created.
    pub(crate) fn charge_create(&self) -> wasmtime::Result<()> {
        let mut usage = self.usage();
        if usage.created >= self.max_created {
            drop(usage);
            return Err(self.exceeded(LimitKind::DiskFiles));
        }
        usage.created += 1;
        Ok(())
    }

    /// Bytes written and entries created so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> (u64, u64) {
        let usage = self.usage();
        (usage.written, usage.created)
    }
}

/// The size of the tree at `dir` as `limits.state-size` counts it.
fn tree_size(dir: &Path) -> std::io::Result<u64> {
    Ok(super::tree_walk::measure(dir, u64::MAX)?.bytes)
}

/// What an open descriptor in a writer's `{state}` copy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InState {
    /// A folder of the copy.
    Dir,
    /// A file opened for writing (its link was broken first, so it is ours).
    Writable,
    /// A file opened only for reading: it may share its inode with the
    /// committed version for as long as it stays open.
    ReadOnly,
}

/// The open descriptors of an invocation's writable `{state}` work copy:
/// the `{state}` grants' preopens, and whatever the guest opened through
/// them. The filesystem shadows ask it whether a descriptor lies in
/// `{state}`, to break hard links before a write (see `state`), to refuse
/// moves and links across grants and to charge `limits.state-size`.
///
/// Membership belongs to the open handle, never to a (device, inode) pair:
/// a file system reuses a freed inode number at once, so an identity seen
/// in `{state}` may name a folder of another grant a moment later. Each
/// entry is keyed by the address of the handle's `Arc` and keeps a `Weak`
/// to it, which keeps that address from being reused by another handle
/// while the entry exists; entries whose handle was closed are dropped.
#[derive(Default)]
pub(crate) struct StateTree {
    open: HashMap<usize, (Weak<std::fs::File>, InState)>,
    /// Prune closed handles when `open` reaches this many entries.
    prune_at: usize,
}

fn key(handle: &Arc<std::fs::File>) -> usize {
    Arc::as_ptr(handle) as usize
}

impl StateTree {
    /// What the open handle `handle` is in the work copy, if anything.
    pub(crate) fn get(&self, handle: &Arc<std::fs::File>) -> Option<InState> {
        // Our `Weak` keeps the allocation alive, so an equal address is the
        // very same handle.
        self.open
            .get(&key(handle))
            .filter(|(weak, _)| weak.strong_count() > 0)
            .map(|(_, kind)| *kind)
    }

    /// Whether the open folder `dir` is in the work copy.
    pub(crate) fn has_dir(&self, dir: &Arc<std::fs::File>) -> bool {
        self.get(dir) == Some(InState::Dir)
    }

    /// Records a handle opened inside the work copy (or one of its preopens).
    pub(crate) fn add(&mut self, opened: &Arc<std::fs::File>, kind: InState) {
        if self.open.len() >= self.prune_at {
            self.open.retain(|_, (weak, _)| weak.strong_count() > 0);
            self.prune_at = (self.open.len() * 2).max(64);
        }
        self.open
            .insert(key(opened), (Arc::downgrade(opened), kind));
    }
}

/// What writes through one stream to a file cost: every byte, and the gap a
/// write past the file's end leaves, charged to the invocation's
/// [`DiskBudget`] before the bytes are written. Shared by WASI 0.2's
/// [`MeteredStream`] and WASI 0.3's stream writer (see `file_audit_p3`).
pub(crate) struct WriteMeter {
    budget: DiskBudget,
    /// The file, to learn its size, and whether it lies in `{state}`.
    file: Option<(Arc<std::fs::File>, bool)>,
    /// Where the next byte lands; `None` for an appending stream.
    position: Option<u64>,
}

impl WriteMeter {
    /// A meter for writes at `position` (or appends) to `file`, given with
    /// whether it lies in `{state}`.
    pub(crate) fn new(
        budget: DiskBudget,
        file: Option<(Arc<std::fs::File>, bool)>,
        position: Option<u64>,
    ) -> Self {
        WriteMeter {
            budget,
            file,
            position,
        }
    }

    /// Where the next byte lands; `None` for an appending stream.
    pub(crate) fn position(&self) -> Option<u64> {
        self.position
    }

    /// Charges the next `len` bytes and moves past them. `Err` is the trap
    /// of a limit: those bytes must not be written.
    pub(crate) fn charge(&mut self, len: u64) -> wasmtime::Result<()> {
        let (cost, state_growth) = match (&self.file, self.position) {
            (None, _) => (len, 0),
            (Some((_, in_state)), None) => (len, if *in_state { len } else { 0 }),
            (Some((file, in_state)), Some(at)) => {
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                let end = growth(at, len, size);
                (len.max(end), if *in_state { end } else { 0 })
            }
        };
        self.budget.charge_write(cost, state_growth)?;
        if let Some(at) = &mut self.position {
            *at = at.saturating_add(len);
        }
        Ok(())
    }
}

/// An output stream to a file that charges every byte to the invocation's
/// [`DiskBudget`] before the wrapped stream sees it, and the gap a write
/// past the file's end leaves.
pub(crate) struct MeteredStream {
    inner: Box<dyn OutputStream>,
    meter: WriteMeter,
}

impl MeteredStream {
    /// Wraps `inner`, which writes at `position` (or appends) to `file`,
    /// given with whether it lies in `{state}`.
    pub(crate) fn new(
        inner: Box<dyn OutputStream>,
        budget: DiskBudget,
        file: Option<(Arc<std::fs::File>, bool)>,
        position: Option<u64>,
    ) -> Self {
        MeteredStream {
            inner,
            meter: WriteMeter::new(budget, file, position),
        }
    }

    fn charge(&mut self, len: u64) -> StreamResult<()> {
        self.meter.charge(len).map_err(StreamError::Trap)
    }
}

/// Bytes `write` would add past the end of a `size`-byte file at `offset`.
pub(crate) fn growth(offset: u64, len: u64, size: u64) -> u64 {
    offset.saturating_add(len).saturating_sub(size)
}

#[async_trait::async_trait]
impl Pollable for MeteredStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait::async_trait]
impl OutputStream for MeteredStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len() as u64)?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len() as u64)?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.charge(nelem as u64)?;
        self.inner.write_zeroes(nelem)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::limits::ByteSize;

    fn limits(written: u64, files: u64, state: u64) -> Limits {
        Limits {
            disk_write: ByteSize(written),
            disk_files: files,
            state_size: ByteSize(state),
            ..Limits::default()
        }
    }

    #[test]
    fn writes_past_disk_write_are_refused_and_flagged() {
        let flag = LimitFlag::default();
        let budget = DiskBudget::new(&limits(10, 5, 100), None, 0, flag.clone());
        assert!(budget.charge_write(10, 0).is_ok());
        assert!(budget.charge_write(1, 0).is_err());
        assert_eq!(flag.get(), Some(LimitKind::DiskWrite));
        assert_eq!(budget.used(), (10, 0));
    }

    #[test]
    fn creations_past_disk_files_are_refused() {
        let flag = LimitFlag::default();
        let budget = DiskBudget::new(&limits(10, 2, 100), None, 0, flag.clone());
        assert!(budget.charge_create().is_ok());
        assert!(budget.charge_create().is_ok());
        assert!(budget.charge_create().is_err());
        assert_eq!(flag.get(), Some(LimitKind::DiskFiles));
    }

    #[test]
    fn state_growth_is_measured_again_before_it_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a"), [0u8; 40]).expect("write");
        let flag = LimitFlag::default();
        // The estimate says 90 bytes are in state, the folder really holds 40.
        let budget = DiskBudget::new(
            &limits(1000, 5, 100),
            Some(dir.path().to_owned()),
            90,
            flag.clone(),
        );
        assert!(budget.charge_write(50, 50).is_ok(), "40 + 50 fits in 100");
        std::fs::write(dir.path().join("b"), [0u8; 50]).expect("write");
        assert!(budget.charge_write(20, 20).is_err(), "90 + 20 does not");
        assert_eq!(flag.get(), Some(LimitKind::StateSize));
    }

    #[test]
    fn only_bytes_past_the_end_grow_a_file() {
        assert_eq!(growth(0, 10, 100), 0);
        assert_eq!(growth(95, 10, 100), 5);
        assert_eq!(growth(200, 10, 100), 110);
    }
}
