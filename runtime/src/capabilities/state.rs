//! A skill's `{state}` folder, versioned so that an invocation's changes
//! become visible all at once when it succeeds, and never when it fails.
//!
//! Layout under `<state_root>/<skill>/`:
//! `current` is a symlink to `versions/<n>`, the state every invocation
//! starts from. An invocation that may write gets a private copy in
//! `work/<id>`; on success the copy is renamed into `versions/<id>` and
//! `current` is replaced by one atomic rename of a new symlink. A trap, a
//! limit, a timeout or a host crash leaves `current` as it was, so a
//! half-written state file can never be observed. Concurrent invocations of
//! one skill each start from the state current when they began; the last to
//! succeed wins, whole-state.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Work copies older than this are from crashed hosts and are removed.
const STALE_WORK: Duration = Duration::from_secs(24 * 3600);

/// The versioned state folder of one skill.
#[derive(Debug, Clone)]
pub(crate) struct StateStore {
    root: PathBuf,
}

/// An invocation's view of the state: the folder to preopen, and whether it
/// is a private copy to commit or discard.
#[derive(Debug)]
pub(crate) struct StateView {
    pub dir: PathBuf,
    work: Option<PathBuf>,
}

/// Creates a folder (and its parents) readable only by the owner.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

impl StateStore {
    pub(crate) fn new(root: PathBuf) -> Self {
        StateStore { root }
    }

    /// The skill's state root (every version, and sidecar files).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding the committed state (what `current` points to).
    pub(crate) fn current(&self) -> io::Result<PathBuf> {
        let link = self.root.join("current");
        match fs::read_link(&link) {
            Ok(target) => Ok(self.root.join(target)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let first = self.root.join("versions/0");
                create_private_dir(&first)?;
                self.point_current_at("versions/0", "init")?;
                Ok(first)
            }
            Err(e) => Err(e),
        }
    }

    /// Atomically makes `current` point at `target` (relative to the root).
    fn point_current_at(&self, target: &str, tag: &str) -> io::Result<()> {
        let temporary = self.root.join(format!("current.{tag}.tmp"));
        let _ = fs::remove_file(&temporary);
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &temporary)?;
        #[cfg(not(unix))]
        return Err(io::Error::other("versioned skill state needs symlinks"));
        fs::rename(&temporary, self.root.join("current"))
    }

    /// The state for one invocation. Read-only use sees the committed
    /// folder itself; a writer gets a private copy.
    pub(crate) fn begin(&self, invocation: u64, writes: bool) -> io::Result<StateView> {
        create_private_dir(&self.root)?;
        let current = self.current()?;
        if !writes {
            return Ok(StateView {
                dir: current,
                work: None,
            });
        }
        let work_root = self.root.join("work");
        create_private_dir(&work_root)?;
        self.remove_stale_work(&work_root);
        let nonce = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let work = work_root.join(format!("{invocation}-{}-{nonce}", std::process::id()));
        copy_tree(&current, &work)?;
        Ok(StateView {
            dir: work.clone(),
            work: Some(work),
        })
    }

    /// Makes an invocation's changes the current state.
    pub(crate) fn commit(&self, view: StateView) -> io::Result<()> {
        let Some(work) = view.work else { return Ok(()) };
        let name = work
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = format!("versions/{name}");
        let previous = fs::read_link(self.root.join("current")).ok();
        fs::rename(&work, self.root.join(&version))?;
        self.point_current_at(&version, &name)?;
        if let Some(previous) = previous
            && previous != Path::new(&version)
        {
            // Best effort: another invocation may still be copying from it.
            let _ = fs::remove_dir_all(self.root.join(previous));
        }
        Ok(())
    }

    /// Drops an invocation's changes.
    pub(crate) fn discard(&self, view: StateView) {
        if let Some(work) = view.work {
            let _ = fs::remove_dir_all(work);
        }
    }

    fn remove_stale_work(&self, work_root: &Path) {
        let Ok(entries) = fs::read_dir(work_root) else {
            return;
        };
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_WORK));
            if stale {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Copies a folder tree; symlinks are copied as links, not followed.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    create_private_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_copy_becomes_current_and_a_discarded_one_does_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"));
        let first = store.begin(1, true).expect("begin");
        fs::write(first.dir.join("count"), "1").expect("write");
        store.commit(first).expect("commit");
        assert_eq!(
            fs::read_to_string(store.current().expect("current").join("count")).expect("read"),
            "1"
        );

        let second = store.begin(2, true).expect("begin");
        fs::write(second.dir.join("count"), "half-writ").expect("write");
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
    fn readers_see_the_committed_folder_without_a_copy() {
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::new(dir.path().join("skill"));
        let view = store.begin(1, false).expect("begin");
        assert_eq!(view.dir, store.current().expect("current"));
    }
}
