//! The package a script skill runs, copied once when the skill is loaded.
//!
//! A component skill runs bytes the runtime holds (read once, checked, then
//! compiled); a script skill's scripts are read by the runner while it runs.
//! Mounting the live package folder would let anything that can write there
//! (a `git pull`, an editor, another skill with a read-write grant over the
//! folder the package lives in) change a script after the package was
//! verified and approved, and have it run with this skill's grants. So the
//! package is copied into a private folder at load, the signature and
//! approval are checked against that copy (see [`crate::Runtime::admit`]),
//! and every invocation mounts the copy.

use std::path::Path;

use crate::capabilities::tree_walk::copy_tree;
use crate::error::LoadError;

/// The most a script package may hold, in bytes of its files: it is copied
/// at load. Large enough for vendored pure-Python packages.
pub(crate) const MAX_SNAPSHOT_BYTES: u64 = 256 << 20;
/// The most files, folders and links a script package may hold (the
/// package digest's own cap).
pub(crate) const MAX_SNAPSHOT_ENTRIES: u64 = 10_000;
/// Left out of the copy wherever met (the package digest leaves it out too).
const SKIPPED: &[&str] = &[".git"];

/// A private, independent copy of a script package, removed when the last
/// skill holding it is dropped.
#[derive(Debug)]
pub(crate) struct PackageSnapshot {
    dir: tempfile::TempDir,
}

impl PackageSnapshot {
    /// Copies the package at `root` for skill `skill`.
    pub(crate) fn take(skill: &str, root: &Path) -> Result<PackageSnapshot, LoadError> {
        let fail = |reason: String| LoadError::ScriptRunner {
            skill: skill.to_owned(),
            reason,
        };
        let dir = tempfile::Builder::new()
            .prefix("skill-run-package-")
            .tempdir()
            .map_err(|e| {
                fail(format!(
                    "cannot make the private copy of the package its scripts run from: {e}"
                ))
            })?;
        copy_tree(
            root,
            dir.path(),
            SKIPPED,
            MAX_SNAPSHOT_ENTRIES,
            MAX_SNAPSHOT_BYTES,
        )
        .map_err(|e| {
            fail(format!(
                "cannot copy the package {} to run its scripts from the copy: {e} (a script package may hold at most {MAX_SNAPSHOT_BYTES} bytes in {MAX_SNAPSHOT_ENTRIES} files)",
                root.display()
            ))
        })?;
        Ok(PackageSnapshot { dir })
    }

    /// The copy's folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}
