//! Noticing packages that change on disk: a cheap fingerprint (names,
//! sizes, modification times) of every package folder, compared on a timer.
//! A changed, added or removed package is admitted and loaded again; the
//! others are kept as they are. Polling rather than inotify: it works the
//! same on every filesystem and costs a few `stat`s per package per tick.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use skill_runtime::Runtime;

use super::catalog::{self, Catalog, Policy, Served};
use super::server::Peers;

/// Entries looked at per package; a folder with more is fingerprinted by
/// its first ones (a package is at most a few files).
const MAX_ENTRIES: usize = 4096;
/// Folder depth looked at.
const MAX_DEPTH: usize = 8;

/// A fingerprint of a package folder's tree.
pub fn fingerprint(dir: &Path) -> u64 {
    let mut entries = Vec::new();
    walk(dir, Path::new(""), 0, &mut entries);
    entries.sort();
    let mut hasher = DefaultHasher::new();
    entries.hash(&mut hasher);
    hasher.finish()
}

fn walk(dir: &Path, relative: &Path, depth: usize, out: &mut Vec<(PathBuf, u64, u128, bool)>) {
    if depth > MAX_DEPTH || out.len() >= MAX_ENTRIES {
        return;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let path = relative.join(entry.file_name());
        out.push((path.clone(), meta.len(), modified, meta.is_dir()));
        if meta.is_dir() {
            walk(&entry.path(), &path, depth + 1, out);
        }
    }
}

/// What the watcher knows about each package folder.
struct Known {
    fingerprint: u64,
    /// The loaded package, or why it is not served.
    loaded: Result<Arc<Served>, String>,
}

/// Loads the packages at `dirs` (fingerprinting each before and after, so
/// one that changed while it loaded is loaded again next tick).
fn load_all(
    runtime: &Runtime,
    dirs: &[PathBuf],
    policy: &Policy,
) -> BTreeMap<PathBuf, (u64, Result<Served, String>)> {
    let mut out = BTreeMap::new();
    for dir in dirs {
        let before = fingerprint(dir);
        let loaded = catalog::load(runtime, dir, policy);
        let after = fingerprint(dir);
        // 0 is never a real fingerprint worth keeping: it forces a reload.
        let mark = if before == after { before } else { 0 };
        out.insert(dir.clone(), (mark, loaded));
    }
    out
}

/// Serves the packages under `paths` and keeps them current.
pub struct Watcher {
    runtime: Runtime,
    paths: Vec<PathBuf>,
    policy: Policy,
    known: BTreeMap<PathBuf, Known>,
}

impl Watcher {
    /// Loads every package once. Returns the watcher, the first snapshot's
    /// parts and every package refused (folder, reason).
    pub fn start(
        runtime: Runtime,
        paths: Vec<PathBuf>,
        policy: Policy,
    ) -> (Watcher, catalog::Snapshot, Vec<(PathBuf, String)>) {
        let dirs = catalog::discover(&paths);
        let mut watcher = Watcher {
            runtime,
            paths,
            policy,
            known: BTreeMap::new(),
        };
        let (snapshot, refused) =
            watcher.absorb(load_all(&watcher.runtime, &dirs, &watcher.policy));
        (watcher, snapshot, refused)
    }

    /// Records freshly loaded packages and builds the snapshot of all
    /// known ones; a package refused for a name clash is remembered as such.
    fn absorb(
        &mut self,
        fresh: BTreeMap<PathBuf, (u64, Result<Served, String>)>,
    ) -> (catalog::Snapshot, Vec<(PathBuf, String)>) {
        let mut refused = Vec::new();
        for (dir, (fingerprint, loaded)) in fresh {
            if let Err(reason) = &loaded {
                refused.push((dir.clone(), reason.clone()));
            }
            self.known.insert(
                dir,
                Known {
                    fingerprint,
                    loaded: loaded.map(Arc::new),
                },
            );
        }
        // Packages loaded earlier keep their place: assemble in folder order.
        let served: Vec<Arc<Served>> = self
            .known
            .values()
            .filter_map(|k| k.loaded.as_ref().ok().cloned())
            .collect();
        let (snapshot, clashes) = catalog::assemble_shared(served);
        for (dir, reason) in &clashes {
            if let Some(known) = self.known.get_mut(dir) {
                known.loaded = Err(reason.clone());
            }
        }
        refused.extend(clashes);
        (snapshot, refused)
    }

    /// One look at the disk: reloads what changed and returns the new
    /// snapshot when anything did, with the packages refused this time.
    pub fn tick(&mut self) -> Option<(catalog::Snapshot, Vec<(PathBuf, String)>)> {
        let dirs = catalog::discover(&self.paths);
        let removed: Vec<PathBuf> = self
            .known
            .keys()
            .filter(|d| !dirs.contains(d))
            .cloned()
            .collect();
        let changed: Vec<PathBuf> = dirs
            .iter()
            .filter(|d| {
                self.known
                    .get(*d)
                    .is_none_or(|k| k.fingerprint == 0 || k.fingerprint != fingerprint(d))
            })
            .cloned()
            .collect();
        if removed.is_empty() && changed.is_empty() {
            return None;
        }
        for dir in &removed {
            say_err!(
                "skill-run mcp: {} is gone; its tools are withdrawn",
                dir.display()
            );
            self.known.remove(dir);
        }
        // A package refused for a clash may fit now that another changed.
        let retry: Vec<PathBuf> = self
            .known
            .iter()
            .filter(|(_, k)| k.loaded.is_err())
            .map(|(d, _)| d.clone())
            .filter(|d| !changed.contains(d))
            .collect();
        let mut fresh = load_all(&self.runtime, &changed, &self.policy);
        for dir in &changed {
            if let Some((_, Ok(served))) = fresh.get(dir) {
                say_err!(
                    "skill-run mcp: reloaded skill `{}` from {}",
                    served.name,
                    dir.display()
                );
            }
        }
        fresh.extend(load_all(&self.runtime, &retry, &self.policy));
        Some(self.absorb(fresh))
    }
}

/// Logs why each package is not served.
pub fn report_refused(refused: &[(PathBuf, String)]) {
    for (dir, reason) in refused {
        say_err!("skill-run mcp: not serving {}: {reason}", dir.display());
    }
}

/// Looks at the disk every `every` until the process ends, swapping in a
/// new snapshot and telling clients when the served set changed.
pub async fn run(mut watcher: Watcher, catalog: Arc<Catalog>, peers: Arc<Peers>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        // Loading compiles components: keep it off the async workers.
        let result = tokio::task::spawn_blocking(move || {
            let update = watcher.tick();
            (watcher, update)
        })
        .await;
        let Ok((back, update)) = result else {
            say_err!("skill-run mcp: the package watcher failed; packages are no longer reloaded");
            return;
        };
        watcher = back;
        let Some((snapshot, refused)) = update else {
            continue;
        };
        report_refused(&refused);
        catalog.replace(snapshot);
        peers.notify_changed().await;
    }
}
