//! Provenance that survives `{state}`: data a skill fetched in one call,
//! stored in its state and returned by a later call must come back marked
//! with where it came from. A sidecar file in the skill's state root (next
//! to the versions, never visible to the guest) lists every origin whose
//! data went into a call that committed state; a call that sees the state
//! inherits them. The list only grows: state cannot tell which bytes came
//! from where, so an origin stays until the skill's state is removed.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// The sidecar's name in the state root.
const FILE: &str = "origins.json";

/// The origins recorded for the state under `root` (none when the file is
/// missing; an unreadable file is an error, never "none").
pub(crate) fn read(root: &Path) -> io::Result<BTreeSet<String>> {
    match std::fs::read(root.join(FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

/// Adds `origins` to the list for the state under `root`.
pub(crate) fn add(root: &Path, origins: &[String]) -> io::Result<()> {
    if origins.is_empty() {
        return Ok(());
    }
    let mut all = read(root)?;
    let before = all.len();
    all.extend(origins.iter().cloned());
    if all.len() == before && root.join(FILE).exists() {
        return Ok(());
    }
    std::fs::create_dir_all(root)?;
    let bytes = serde_json::to_vec(&all).map_err(io::Error::other)?;
    crate::files_on_disk::write_atomically(&root.join(FILE), &bytes).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_accumulate_and_survive_a_reread() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(read(dir.path()).expect("empty").is_empty());
        add(dir.path(), &["https://a.example".into()]).expect("add");
        add(
            dir.path(),
            &["channel:feed".into(), "https://a.example".into()],
        )
        .expect("add");
        let got: Vec<String> = read(dir.path()).expect("read").into_iter().collect();
        assert_eq!(got, vec!["channel:feed", "https://a.example"]);
        std::fs::write(dir.path().join(FILE), b"not json").expect("write");
        assert!(
            read(dir.path()).is_err(),
            "a damaged list must not read as empty"
        );
    }
}
