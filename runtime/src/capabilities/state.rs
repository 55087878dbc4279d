//! A skill's `{state}` folder, versioned so that an invocation's changes
//! become visible all at once when it succeeds, and never when it fails.
//!
//! Layout under `<state_root>/<skill>/`:
//! `current` is a symlink to `versions/<n>`, the state every invocation
//! starts from; `lock` is the writers' lock file; `work/<id>` are writers'
//! private copies.
//!
//! **Writers take turns.** An invocation that may write holds an exclusive
//! lock on `lock` (an `flock`, so it holds across processes and is released
//! by the kernel when a host dies) from before it reads `current` until it
//! has committed or discarded. Each writer therefore starts from the last
//! committed state and no successful call's write is lost. Waiting is async
//! and bounded by [`WRITER_WAIT`].
//!
//! **Copies cost what a call changes.** A writer's copy is a tree of new
//! folders whose files are hard links to the committed ones, so making it
//! costs one link per file, whatever the files hold. The filesystem shadows
//! break a link ([`break_link`]) before the guest opens a shared file for
//! writing, so the committed inode is never modified; a call that changes
//! one small file copies one small file.
//!
//! **Commit is one rename.** On success the copy is renamed into
//! `versions/<id>` and `current` is replaced by one atomic rename of a new
//! symlink. A trap, a limit, a timeout or a host crash leaves `current` as it
//! was, so a half-written state file can never be observed.
//!
//! **Nothing in use is removed.** A reader holds a shared lock on the version
//! folder it reads; an old version is removed only by whoever gets an
//! exclusive lock on it without waiting. A writer holds an exclusive lock on
//! its work copy; work copies left by killed hosts (no lock held) are
//! reclaimed by the next writer.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::limits::{LimitKind, Limits};
use super::tree_walk::{WalkError, link_tree, measure};

/// How long a writer waits for the writers before it, beyond the longest
/// time one of them may run (the runtime's timeout ceiling), before giving up.
pub(crate) const WRITER_WAIT: Duration = Duration::from_secs(60);

/// How many times a reader retries when the version it found was replaced
/// before it could pin it.
const PIN_ATTEMPTS: usize = 1_000;

/// The versioned state folder of one skill.
#[derive(Clone)]
pub(crate) struct StateStore {
    root: PathBuf,
    /// How long a writer waits for its turn.
    writer_wait: Duration,
    /// An empty folder beside the state, for streamed listings (see `listing`).
    empty: Arc<OnceLock<Option<wasmtime_wasi::filesystem::Dir>>>,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// An invocation's view of the state: the folder to preopen, whether it is a
/// private copy to commit or discard, and the locks that keep it safe.
#[derive(Debug)]
pub(crate) struct StateView {
    pub dir: PathBuf,
    /// The size of the state this view started from (its files' sizes);
    /// measured only for writers.
    pub size: u64,
    work: Option<PathBuf>,
    /// A shared lock on the version read, or the exclusive lock on the work copy.
    _pin: File,
    /// The writers' lock, held by a writer until it commits or discards.
    _writer: Option<File>,
}

impl StateView {
    /// Whether this is a writer's private copy.
    pub(crate) fn is_writer(&self) -> bool {
        self.work.is_some()
    }
}

/// Creates a folder (and its parents) readable only by the owner.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// A name no other invocation, thread or process uses.
fn unique(invocation: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{invocation}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    let locked = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match locked {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

impl StateStore {
    /// The state at `root` of a skill whose invocations run for at most
    /// `longest_run` each.
    pub(crate) fn new(root: PathBuf, longest_run: Duration) -> Self {
        StateStore {
            root,
            writer_wait: longest_run.saturating_add(WRITER_WAIT),
            empty: Arc::default(),
        }
    }

    /// The runtime's empty folder for this skill (`<root>/empty`), opened
    /// once; `None` if it cannot be made, and listings are then wasmtime-wasi's.
    pub(crate) fn empty_dir(&self, blocking: bool) -> Option<wasmtime_wasi::filesystem::Dir> {
        self.empty
            .get_or_init(|| super::listing::open_empty(&self.root.join("empty"), blocking).ok())
            .clone()
    }

    /// Where `current` points, relative to the root; creates an empty first
    /// version if there is none yet. Creating the link is atomic and never
    /// replaces one, so it cannot undo a concurrent commit.
    fn current_name(&self) -> io::Result<PathBuf> {
        let link = self.root.join("current");
        loop {
            match fs::read_link(&link) {
                Ok(target) => return version_name(target),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    create_private_dir(&self.root.join("versions/0"))?;
                    #[cfg(unix)]
                    match std::os::unix::fs::symlink("versions/0", &link) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e),
                    }
                    #[cfg(not(unix))]
                    return Err(io::Error::other("versioned skill state needs symlinks"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The skill's state root (every version, and sidecar files).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the host folder `folder` is the runtime's state root, inside
    /// it or holds it: such a `{workspace}` would let a skill reach the
    /// state store's own files (versions, work copies, locks) around the
    /// versioning.
    pub(crate) fn overlaps(&self, folder: &Path) -> bool {
        let runtime_root = self.root.parent().unwrap_or(&self.root);
        let (Ok(folder), Ok(root)) = (folder.canonicalize(), runtime_root.canonicalize()) else {
            return false;
        };
        folder.starts_with(&root) || root.starts_with(&folder)
    }

    /// The folder holding the committed state (what `current` points to).
    pub(crate) fn current(&self) -> io::Result<PathBuf> {
        create_private_dir(&self.root)?;
        Ok(self.root.join(self.current_name()?))
    }

    /// Atomically makes `current` point at `target` (relative to the root).
    fn point_current_at(&self, target: &Path, tag: &str) -> io::Result<()> {
        let temporary = self.root.join(format!("current.{tag}.tmp"));
        let _ = fs::remove_file(&temporary);
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &temporary)?;
        #[cfg(not(unix))]
        return Err(io::Error::other("versioned skill state needs symlinks"));
        fs::rename(&temporary, self.root.join("current"))
    }

    /// The committed version, pinned by a shared lock so that no commit
    /// removes it while it is read.
    fn pin_current(&self) -> io::Result<(PathBuf, File)> {
        for _ in 0..PIN_ATTEMPTS {
            let name = self.current_name()?;
            let dir = self.root.join(&name);
            let handle = match File::open(&dir) {
                Ok(h) => h,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // Someone removing it holds it exclusively: it is no longer current.
            if !try_lock(&handle, false)? {
                continue;
            }
            if self.current_name()? == name {
                return Ok((dir, handle));
            }
        }
        Err(io::Error::other(
            "the committed state kept changing while it was being opened; try again",
        ))
    }

    /// Waits (without blocking the executor) for the writers' lock.
    async fn lock_writers(&self) -> io::Result<File> {
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("lock"))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if try_lock(&lock, true)? {
                return Ok(lock);
            }
            if started.elapsed() > self.writer_wait {
                return Err(io::Error::other(format!(
                    "other invocations have been writing this skill's state for over {} s (writers of one skill's state take turns)",
                    self.writer_wait.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// The state for one invocation. Read-only use sees the committed
    /// folder itself; a writer waits for its turn, then gets a copy whose
    /// files are hard links to the committed ones.
    ///
    /// A writer's copy is refused when the committed state is already past
    /// `limits` (a host lowered them): copying it is bounded by
    /// `limits.state-files`, and the copy could never be committed.
    pub(crate) async fn begin(
        &self,
        invocation: u64,
        writes: bool,
        limits: &Limits,
    ) -> io::Result<StateView> {
        create_private_dir(&self.root)?;
        if !writes {
            let (dir, pin) = self.pin_current()?;
            return Ok(StateView {
                dir,
                size: 0,
                work: None,
                _pin: pin,
                _writer: None,
            });
        }
        let writer = self.lock_writers().await?;
        // Copying is file system work: off the async threads.
        let store = self.clone();
        let limits = *limits;
        let (work, size) = blocking(move || store.copy_current(invocation, &limits)).await?;
        let pin = File::open(&work)?;
        try_lock(&pin, true)?;
        Ok(StateView {
            dir: work.clone(),
            size,
            work: Some(work),
            _pin: pin,
            _writer: Some(writer),
        })
    }

    /// A new work copy of the committed state, and the committed state's
    /// size. Called holding the writers' lock, so `current` cannot change.
    fn copy_current(&self, invocation: u64, limits: &Limits) -> io::Result<(PathBuf, u64)> {
        let current = self.root.join(self.current_name()?);
        let work_root = self.root.join("work");
        create_private_dir(&work_root)?;
        self.reclaim(&work_root);
        let work = work_root.join(unique(invocation));
        create_private_dir(&work)?;
        let linked = link_tree(&current, &work, limits.state_files).and_then(|usage| {
            if usage.bytes > limits.state_size.0 {
                Err(WalkError::Io(io::Error::other(format!(
                    "the committed state holds {usage_bytes} bytes, more than limits.state-size = {}",
                    limits.state_size,
                    usage_bytes = usage.bytes
                ))))
            } else {
                Ok(usage)
            }
        });
        match linked {
            Ok(usage) => Ok((work, usage.bytes)),
            Err(e) => {
                let _ = fs::remove_dir_all(&work);
                Err(match e {
                    WalkError::TooMany(max) => io::Error::other(format!(
                        "the committed state holds more than {max} files, folders and links (limits.state-files = {max}); raise it in skill.toml's [limits] or empty the state"
                    )),
                    other => other.into(),
                })
            }
        }
    }

    /// Ends an invocation's use of the state, on a blocking thread: a
    /// writer's copy that `succeeded` is checked against `limits` and
    /// committed if it fits; anything else is discarded.
    pub(crate) async fn finish(
        &self,
        view: StateView,
        succeeded: bool,
        limits: Limits,
    ) -> Finished {
        let store = self.clone();
        blocking(move || {
            if !succeeded {
                store.discard(view);
                return Finished::Discarded;
            }
            match store.check(&view, &limits) {
                Ok(None) => match store.commit(view) {
                    Ok(()) => Finished::Committed,
                    Err(e) => Finished::Failed(e),
                },
                Ok(Some(kind)) => {
                    store.discard(view);
                    Finished::Over(kind)
                }
                Err(e) => {
                    store.discard(view);
                    Finished::Failed(e)
                }
            }
        })
        .await
    }

    /// Whether a writer's copy fits `limits` as a whole: its size, its
    /// entries and its depth, measured again before it may be committed.
    /// `Ok(Some(kind))` names the limit it is past; `Err` is why it cannot
    /// be committed at all.
    fn check(&self, view: &StateView, limits: &Limits) -> io::Result<Option<LimitKind>> {
        let Some(work) = &view.work else {
            return Ok(None);
        };
        match measure(work, limits.state_files) {
            Ok(usage) if usage.bytes > limits.state_size.0 => Ok(Some(LimitKind::StateSize)),
            Ok(_) => Ok(None),
            Err(WalkError::TooMany(_)) => Ok(Some(LimitKind::StateFiles)),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes an invocation's changes the current state.
    pub(crate) fn commit(&self, view: StateView) -> io::Result<()> {
        let Some(work) = &view.work else {
            return Ok(());
        };
        let name = work
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = PathBuf::from("versions").join(&name);
        let previous = fs::read_link(self.root.join("current"))
            .ok()
            .and_then(|p| version_name(p).ok());
        fs::rename(work, self.root.join(&version))?;
        self.point_current_at(&version, &name)?;
        if let Some(previous) = previous
            && previous != version
        {
            remove_if_unused(&self.root.join(previous));
        }
        drop(view);
        Ok(())
    }

    /// Drops an invocation's changes.
    pub(crate) fn discard(&self, view: StateView) {
        if let Some(work) = &view.work {
            let _ = fs::remove_dir_all(work);
        }
    }

    /// Removes what killed hosts left behind: work copies nobody holds, and
    /// versions other than the current one that no reader holds. Called by a
    /// writer holding the writers' lock, so no other writer is running.
    fn reclaim(&self, work_root: &Path) {
        if let Ok(entries) = fs::read_dir(work_root) {
            for entry in entries.flatten() {
                remove_if_unused(&entry.path());
            }
        }
        let current = fs::read_link(self.root.join("current")).ok();
        if let Ok(entries) = fs::read_dir(self.root.join("versions")) {
            for entry in entries.flatten() {
                let name = PathBuf::from("versions").join(entry.file_name());
                if Some(&name) != current.as_ref() {
                    remove_if_unused(&entry.path());
                }
            }
        }
    }
}

/// `target` if it is `versions/<one name>`, the only thing `current` may
/// point to: anything else (an absolute path, `..`, a deeper path) was not
/// written by the runtime and is never read from or removed.
fn version_name(target: PathBuf) -> io::Result<PathBuf> {
    use std::path::Component;
    let mut parts = target.components();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Component::Normal(versions)), Some(Component::Normal(_)), None)
            if versions == "versions" =>
        {
            Ok(target)
        }
        _ => Err(io::Error::other(format!(
            "the state's `current` link points at {}, not at a folder of versions/; it was not made by skill-run",
            target.display()
        ))),
    }
}

/// How an invocation's use of the state ended.
#[derive(Debug)]
pub(crate) enum Finished {
    /// The copy is the current state now (or there was no copy).
    Committed,
    /// The copy was dropped: the invocation failed.
    Discarded,
    /// The copy was dropped: it is past this limit.
    Over(LimitKind),
    /// The copy could not be committed, and was dropped.
    Failed(io::Error),
}

/// Runs `f` where blocking the thread is fine.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Removes the folder `dir` if nobody holds a lock on it; a folder in use is
/// left for a later writer to reclaim.
fn remove_if_unused(dir: &Path) {
    let Ok(handle) = File::open(dir) else { return };
    if try_lock(&handle, true).unwrap_or(false) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Gives the file `path` (beneath the open folder `dir`, following a final
/// symlink when `follow`) its own inode if it shares one with another name,
/// by copying it and renaming the copy over it. Called before a file in a
/// writer's work copy is opened for writing or has its times set, so the
/// committed version it was linked from never changes. Confined like the
/// guest's own access: every path is resolved beneath `dir` by cap-std.
///
/// `charge` is told the copy's size before anything is written and may
/// refuse it. The copy is created under an unpredictable name, exclusively,
/// so nothing planted beforehand (such as a link to another committed file)
/// is ever written through.
pub(crate) fn break_link(
    dir: &File,
    path: &str,
    follow: bool,
    charge: &mut dyn FnMut(u64) -> io::Result<()>,
) -> io::Result<()> {
    #[cfg(unix)]
    {
        use cap_std::fs::{MetadataExt, OpenOptions};
        let dir = cap_std::fs::Dir::from_std_file(dir.try_clone()?);
        let real = if follow {
            match dir.canonicalize(path) {
                Ok(p) => p,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        } else {
            PathBuf::from(path)
        };
        let metadata = match dir.symlink_metadata(&real) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if !metadata.is_file() || metadata.nlink() <= 1 {
            return Ok(());
        }
        charge(metadata.len())?;
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let copy = real.with_file_name(format!(
            ".skill-run-copy-{}",
            crate::files_on_disk::hex(&random)
        ));
        let mut source = dir.open(&real)?;
        let mut target = dir.open_with(&copy, OpenOptions::new().write(true).create_new(true))?;
        let copied = io::copy(&mut source, &mut target)
            .and_then(|_| target.set_permissions(metadata.permissions()))
            .and_then(|()| dir.rename(&copy, &dir, &real));
        if let Err(e) = copied {
            let _ = dir.remove_file(&copy);
            return Err(e);
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, path, follow, charge);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio")
            .block_on(f)
    }

    /// Writes as a guest's write reaches the disk: through the shadow that
    /// first gives a shared file its own inode.
    fn guest_write(dir: &Path, name: &str, content: &str) {
        break_link(&File::open(dir).expect("open"), name, true, &mut |_| Ok(())).expect("break");
        fs::write(dir.join(name), content).expect("write");
    }

    #[test]
    fn a_committed_copy_becomes_current_and_a_discarded_one_does_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"), Duration::ZERO);
        let first = block_on(store.begin(1, true, &Limits::default())).expect("begin");
        fs::write(first.dir.join("count"), "1").expect("write");
        store.commit(first).expect("commit");
        assert_eq!(
            fs::read_to_string(store.current().expect("current").join("count")).expect("read"),
            "1"
        );

        let second = block_on(store.begin(2, true, &Limits::default())).expect("begin");
        assert_eq!(second.size, 1);
        guest_write(&second.dir, "count", "half-writ");
        store.discard(second);
        assert_eq!(
            fs::read_to_string(store.current().expect("current").join("count")).expect("read"),
            "1"
        );
        assert_eq!(
            fs::read_dir(dir.path().join("skill/work"))
                .expect("work")
                .count(),
            0
        );
    }

    #[test]
    fn current_may_only_point_at_one_version_folder() {
        assert!(version_name("versions/7".into()).is_ok());
        for bad in [
            "/etc",
            "versions/../../x",
            "versions/a/b",
            "../versions/1",
            "versions",
        ] {
            assert!(version_name(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn readers_see_the_committed_folder_without_a_copy() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"), Duration::ZERO);
        let view = block_on(store.begin(1, false, &Limits::default())).expect("begin");
        assert_eq!(view.dir, store.current().expect("current"));
    }

    #[test]
    fn a_version_being_read_survives_a_commit_and_goes_with_the_next_writer() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"), Duration::ZERO);
        let w = block_on(store.begin(1, true, &Limits::default())).expect("begin");
        fs::write(w.dir.join("f"), "old").expect("write");
        store.commit(w).expect("commit");
        let reader = block_on(store.begin(2, false, &Limits::default())).expect("begin");
        let w = block_on(store.begin(3, true, &Limits::default())).expect("begin");
        guest_write(&w.dir, "f", "new");
        store.commit(w).expect("commit");
        assert_eq!(
            fs::read_to_string(reader.dir.join("f")).expect("still there"),
            "old"
        );
        let old = reader.dir.clone();
        drop(reader);
        let w = block_on(store.begin(4, true, &Limits::default())).expect("begin");
        assert!(!old.exists(), "an unused old version is reclaimed");
        store.discard(w);
    }

    #[test]
    fn work_copies_of_dead_writers_are_reclaimed_and_live_ones_are_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"), Duration::ZERO);
        let leaked = dir.path().join("skill/work/leaked");
        create_private_dir(&leaked).expect("mkdir");
        fs::write(leaked.join("big"), "x").expect("write");
        let held = dir.path().join("skill/work/held");
        create_private_dir(&held).expect("mkdir");
        let holder = File::open(&held).expect("open");
        assert!(try_lock(&holder, true).expect("lock"));
        let w = block_on(store.begin(1, true, &Limits::default())).expect("begin");
        assert!(!leaked.exists());
        assert!(held.exists());
        store.discard(w);
    }

    #[test]
    fn a_linked_file_gets_its_own_inode_before_it_is_written() {
        let dir = tempfile::tempdir().expect("dir");
        let work = dir.path().join("work");
        create_private_dir(&work).expect("mkdir");
        fs::write(dir.path().join("committed"), "v1").expect("write");
        fs::hard_link(dir.path().join("committed"), work.join("f")).expect("link");
        let handle = File::open(&work).expect("open");
        break_link(&handle, "f", true, &mut |_| Ok(())).expect("break");
        fs::write(work.join("f"), "v2").expect("write");
        assert_eq!(
            fs::read_to_string(dir.path().join("committed")).expect("read"),
            "v1"
        );
        // The path is confined like the guest's: nothing outside is touched.
        fs::hard_link(dir.path().join("committed"), dir.path().join("other")).expect("link");
        assert!(break_link(&handle, "../other", true, &mut |_| Ok(())).is_err());
        assert!(break_link(&handle, "../other", false, &mut |_| Ok(())).is_err());
    }
}
