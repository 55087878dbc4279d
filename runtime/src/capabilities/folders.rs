//! The host folders behind `files` grants: opened inside their base folder,
//! kept open between invocations where that is safe, and handed to each
//! invocation as wasmtime-wasi directory handles.
//!
//! Opening is the security step. A grant's folder is opened through its base
//! with cap-std, so a symlink on the way that leaves the base is refused, and
//! the guest is given that very handle (through the runtime's own
//! `wasi:filesystem/preopens.get-directories`), never a path that could be
//! swapped after the check.
//!
//! Reuse is only a shortcut past opening again. A `{workspace}` folder that
//! was opened and checked is kept in a [`FolderCache`] with the identity
//! (device and inode) of its base and of itself. The next invocation that
//! names the same base path and folder reuses the handle only if the base
//! path still names the same base folder and the folder is still, without a
//! symlink at its end, that same folder inside it (looked up beneath the
//! kept base handle, so the lookup itself cannot leave the base). Anything
//! else (moved, replaced, deleted, now a symlink) is a miss and the folder is
//! opened and checked from scratch. A handle given out is therefore always
//! one that passed the full check, and the guest only ever reaches the
//! folder its grant names now. `{state}` folders are never reused: a writer
//! gets a fresh private copy each time, and the committed folder changes
//! with every commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::{FsPerms, OpenMode};

use super::files::{Access, FileGrant, HostBase};

/// How many folders a [`FolderCache`] keeps open by default. Each entry holds
/// at most two descriptors (the folder and its base).
pub const DEFAULT_FOLDER_CACHE_ENTRIES: usize = 64;

/// A folder's identity on the host: (device, inode). Directories cannot be
/// hard-linked, and an inode cannot be reused while a handle to it is open,
/// so equal identities mean the same folder.
type Identity = (u64, u64);

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    metadata.is_dir().then(|| (metadata.dev(), metadata.ino()))
}

#[cfg(unix)]
fn cap_identity(metadata: &cap_std::fs::Metadata) -> Option<Identity> {
    use cap_std::fs::MetadataExt;
    metadata.is_dir().then(|| (metadata.dev(), metadata.ino()))
}

/// Without inode numbers nothing can be recognised, so nothing is reused.
#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<Identity> {
    None
}

#[cfg(not(unix))]
fn cap_identity(_: &cap_std::fs::Metadata) -> Option<Identity> {
    None
}

/// Which folder an entry is: the base path as the host gave it and the
/// grant's components below it.
#[derive(Clone, PartialEq, Eq, Hash)]
struct FolderKey {
    base: PathBuf,
    relative: Vec<String>,
}

/// An opened, checked folder.
#[derive(Clone)]
struct OpenedFolder {
    /// Identity of the base folder when it was opened.
    base_identity: Identity,
    /// The base folder, to look the grant's components up beneath it again;
    /// `None` when the grant is the base itself.
    base: Option<Arc<cap_std::fs::Dir>>,
    /// Identity of the granted folder.
    identity: Identity,
    /// The granted folder as wasmtime-wasi serves it (read-only; each
    /// invocation sets its own access on a clone).
    dir: Dir,
}

impl OpenedFolder {
    /// Whether `base_path` and the grant's components still name this folder.
    fn still_named_by(&self, base_path: &Path, relative: &[String]) -> bool {
        let base_now = std::fs::metadata(base_path).ok().and_then(|m| identity(&m));
        if base_now != Some(self.base_identity) {
            return false;
        }
        match &self.base {
            None => true,
            Some(base) => {
                let relative: PathBuf = relative.iter().collect();
                base.symlink_metadata(&relative)
                    .ok()
                    .and_then(|m| cap_identity(&m))
                    == Some(self.identity)
            }
        }
    }
}

/// An entry and when it was last used, for eviction.
struct Entry {
    folder: OpenedFolder,
    last_used: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<FolderKey, Entry>,
    clock: u64,
}

/// Checked `{workspace}` folders kept open between invocations, shared by
/// every skill of a runtime, at most `capacity` of them (the least recently
/// used goes first). See the module documentation for when an entry is
/// reused. A capacity of 0 keeps nothing: every invocation opens its folders.
pub(crate) struct FolderCache {
    entries: Mutex<Entries>,
    capacity: usize,
}

impl FolderCache {
    pub(crate) fn new(capacity: usize) -> Self {
        FolderCache {
            entries: Mutex::default(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &FolderKey) -> Option<OpenedFolder> {
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.map.get_mut(key)?;
        entry.last_used = now;
        Some(entry.folder.clone())
    }

    fn put(&self, key: FolderKey, folder: OpenedFolder) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&key) {
            let oldest = entries
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.map.remove(&oldest);
            }
        }
        entries.map.insert(
            key,
            Entry {
                folder,
                last_used: now,
            },
        );
    }

    fn forget(&self, key: &FolderKey) {
        self.lock().map.remove(key);
    }

    /// How many folders are kept open.
    #[cfg(all(test, unix))]
    fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// The folder for `key`, reused if it is still the one the path names,
    /// else opened and checked (and kept).
    fn folder(&self, key: FolderKey, blocking: bool) -> Result<OpenedFolder, String> {
        if let Some(folder) = self.get(&key) {
            if folder.still_named_by(&key.base, &key.relative) {
                return Ok(folder);
            }
            self.forget(&key);
        }
        let folder = open_checked(&key.base, &key.relative, false, blocking)?;
        self.put(key, folder.clone());
        Ok(folder)
    }
}

/// Opens `relative` inside `base_path` with cap-std (a symlink leaving the
/// base fails the open) and records both identities. With `create`, missing
/// folders below the base are made first.
fn open_checked(
    base_path: &Path,
    relative: &[String],
    create: bool,
    blocking: bool,
) -> Result<OpenedFolder, String> {
    let base = cap_std::fs::Dir::open_ambient_dir(base_path, cap_std::ambient_authority())
        .map_err(|e| format!("cannot open {}: {e}", base_path.display()))?;
    let base_identity = base
        .dir_metadata()
        .ok()
        .and_then(|m| cap_identity(&m))
        .unwrap_or_default();
    if relative.is_empty() {
        return Ok(OpenedFolder {
            base_identity,
            base: None,
            identity: base_identity,
            dir: wasi_dir(base, blocking),
        });
    }
    let path: PathBuf = relative.iter().collect();
    if create {
        base.create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    }
    let dir = base.open_dir(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{} does not exist under {}; create the folder or change the grant",
                path.display(),
                base_path.display()
            )
        } else {
            format!(
                "{} cannot be opened inside {} ({e}); a folder reached through a symlink that leaves its base is refused",
                path.display(),
                base_path.display()
            )
        }
    })?;
    let identity = dir
        .dir_metadata()
        .ok()
        .and_then(|m| cap_identity(&m))
        .unwrap_or_default();
    Ok(OpenedFolder {
        base_identity,
        base: Some(Arc::new(base)),
        identity,
        dir: wasi_dir(dir, blocking),
    })
}

fn wasi_dir(dir: cap_std::fs::Dir, blocking: bool) -> Dir {
    Dir::new(
        dir.into_std_file(),
        FsPerms::ReadOnly,
        OpenMode::READ,
        blocking,
    )
}

/// The handle for one grant, with the grant's access.
fn with_access(mut dir: Dir, access: Access) -> Dir {
    (dir.perms, dir.open_mode) = match access {
        Access::Read => (FsPerms::ReadOnly, OpenMode::READ),
        Access::ReadWrite => (FsPerms::ReadWrite, OpenMode::READ | OpenMode::WRITE),
    };
    dir
}

/// Where an invocation's grants are rooted on the host.
pub(crate) struct Bases<'a> {
    /// The folder behind `{state}` for this call (a private copy for writers).
    pub state: &'a Path,
    /// The host's `{workspace}`, if it gave one.
    pub workspace: Option<&'a Path>,
    /// Whether filesystem calls may block the invoking thread.
    pub blocking: bool,
}

/// The directory handles for `grants`, each with its guest path, in grant
/// order. `{workspace}` folders come from `cache` when it still holds them;
/// `{state}` folders are opened (and created below the state folder) every
/// time. The error names the grant that could not be opened and why.
pub(crate) fn open_grants(
    cache: &FolderCache,
    grants: &[FileGrant],
    bases: &Bases<'_>,
) -> Result<Vec<(Dir, String)>, (FileGrant, String)> {
    let mut opened = Vec::with_capacity(grants.len());
    for grant in grants {
        let fail = |reason: String| (grant.clone(), reason);
        let folder = match grant.host.base {
            // Created and versioned by the state store before the call.
            HostBase::State => {
                open_checked(bases.state, &grant.host.relative, true, bases.blocking)
            }
            HostBase::Workspace => {
                let workspace = bases
                    .workspace
                    .ok_or_else(|| fail("the host gave no workspace folder".into()))?;
                let key = FolderKey {
                    base: workspace.to_path_buf(),
                    relative: grant.host.relative.clone(),
                };
                cache.folder(key, bases.blocking)
            }
        }
        .map_err(fail)?;
        opened.push((
            with_access(folder.dir, grant.access),
            grant.guest.as_str().to_owned(),
        ));
    }
    Ok(opened)
}

// The cases build symlinks and compare inode numbers: unix only.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::capabilities::files::{GuestPath, HostPathTemplate};

    fn grant(host: &str) -> FileGrant {
        FileGrant {
            guest: GuestPath::parse("/g").expect("valid"),
            host: HostPathTemplate::parse(host).expect("valid"),
            access: Access::Read,
        }
    }

    fn identity_at(path: &Path) -> Identity {
        identity(&std::fs::metadata(path).expect("stat")).expect("a folder")
    }

    fn identity_of(dir: &Dir) -> Identity {
        identity(&dir.dir.metadata().expect("metadata")).expect("a folder")
    }

    fn bases(workspace: &Path) -> Bases<'_> {
        Bases {
            state: Path::new("/nonexistent-state"),
            workspace: Some(workspace),
            blocking: true,
        }
    }

    fn open_one(cache: &FolderCache, host: &str, workspace: &Path) -> Result<Identity, String> {
        open_grants(cache, &[grant(host)], &bases(workspace))
            .map(|mut opened| identity_of(&opened.remove(0).0))
            .map_err(|(_, reason)| reason)
    }

    #[test]
    fn a_reused_folder_is_the_one_the_path_names_now() {
        let ws = tempfile::tempdir().expect("dir");
        std::fs::create_dir(ws.path().join("notes")).expect("mkdir");
        let cache = FolderCache::new(8);
        let first = open_one(&cache, "{workspace}/notes", ws.path()).expect("opens");
        assert_eq!(
            open_one(&cache, "{workspace}/notes", ws.path()),
            Ok(first),
            "reused"
        );
        assert_eq!(cache.len(), 1);

        // Replaced by another folder: the new one is opened, not the kept one.
        std::fs::rename(ws.path().join("notes"), ws.path().join("old")).expect("rename");
        std::fs::create_dir(ws.path().join("notes")).expect("mkdir");
        let second = open_one(&cache, "{workspace}/notes", ws.path()).expect("opens");
        assert_ne!(second, first);
        assert_eq!(second, identity_at(&ws.path().join("notes")));
    }

    #[test]
    fn a_kept_folder_swapped_for_a_symlink_out_of_the_base_is_refused() {
        let ws = tempfile::tempdir().expect("dir");
        let outside = tempfile::tempdir().expect("dir");
        std::fs::create_dir(ws.path().join("notes")).expect("mkdir");
        let cache = FolderCache::new(8);
        open_one(&cache, "{workspace}/notes", ws.path()).expect("opens");

        // The kept folder moves out of the workspace and a symlink to it takes
        // its place: the path still reaches the same inode, but only through a
        // link that leaves the base, which a fresh open refuses.
        let moved = outside.path().join("notes");
        std::fs::rename(ws.path().join("notes"), &moved).expect("move out");
        std::os::unix::fs::symlink(&moved, ws.path().join("notes")).expect("symlink");
        let refused = open_one(&cache, "{workspace}/notes", ws.path());
        assert!(
            refused.as_ref().is_err_and(|r| r.contains("symlink")),
            "{refused:?}"
        );
        assert_eq!(cache.len(), 0, "the stale entry is dropped");
    }

    #[test]
    fn a_workspace_swapped_for_another_is_not_served_from_the_cache() {
        let root = tempfile::tempdir().expect("dir");
        for ws in ["a", "b"] {
            std::fs::create_dir_all(root.path().join(ws).join("notes")).expect("mkdir");
        }
        let link = root.path().join("ws");
        std::os::unix::fs::symlink(root.path().join("a"), &link).expect("symlink");
        let cache = FolderCache::new(8);
        let in_a = open_one(&cache, "{workspace}/notes", &link).expect("opens");
        std::fs::remove_file(&link).expect("unlink");
        std::os::unix::fs::symlink(root.path().join("b"), &link).expect("symlink");
        let in_b = open_one(&cache, "{workspace}/notes", &link).expect("opens");
        assert_ne!(in_a, in_b);
        let whole = open_one(&cache, "{workspace}", &link).expect("opens");
        assert_eq!(whole, identity_at(&root.path().join("b")));
    }

    #[test]
    fn the_cache_keeps_at_most_its_capacity_and_zero_keeps_nothing() {
        let root = tempfile::tempdir().expect("dir");
        let cache = FolderCache::new(2);
        for ws in ["a", "b", "c"] {
            std::fs::create_dir_all(root.path().join(ws)).expect("mkdir");
            open_one(&cache, "{workspace}", &root.path().join(ws)).expect("opens");
        }
        assert_eq!(cache.len(), 2);
        let none = FolderCache::new(0);
        open_one(&none, "{workspace}", &root.path().join("a")).expect("opens");
        assert_eq!(none.len(), 0);
    }

    #[test]
    fn each_invocation_gets_its_own_access_on_a_shared_folder() {
        let ws = tempfile::tempdir().expect("dir");
        let cache = FolderCache::new(8);
        let bases = bases(ws.path());
        let mut writable = grant("{workspace}");
        writable.access = Access::ReadWrite;
        let rw = open_grants(&cache, &[writable], &bases).expect("opens");
        let ro = open_grants(&cache, &[grant("{workspace}")], &bases).expect("opens");
        assert_eq!(rw[0].0.perms, FsPerms::ReadWrite);
        assert_eq!(ro[0].0.perms, FsPerms::ReadOnly);
        assert!(Arc::ptr_eq(&rw[0].0.dir, &ro[0].0.dir), "one descriptor");
    }
}
