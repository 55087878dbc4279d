//! The compile cache: compiled components kept on disk so a skill loads in
//! milliseconds instead of being compiled again.
//!
//! An entry is two files named by the cache key, which is a BLAKE3 hash over
//! the component's bytes, this crate's version and the engine's
//! compatibility hash (wasmtime's version, target and settings):
//! `<key>.cwasm` is what wasmtime serialised, `<key>.blake3` the BLAKE3
//! checksum of that file. A load checks the checksum first and lets wasmtime
//! check the version and settings; an entry failing either is recompiled and
//! replaced, never executed. Both files are written to a temporary name and
//! renamed into place, so a reader sees a whole entry or none.
//!
//! BLAKE3 rather than SHA-256 because both hashes are on the path of every
//! load: the compiled code of a Python or JavaScript skill is 20-35 MB, and
//! BLAKE3 (SIMD, several GB/s) checks it in a few milliseconds where
//! SHA-256 took tens. The checked file is then mapped by wasmtime rather
//! than read, and must still be the very file that was checked.

#![allow(unsafe_code)]

use std::fs::File;
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::files_on_disk::write_atomically;

/// Names the key scheme, so entries written under an earlier one (SHA-256
/// keys and checksums) are never looked up, let alone trusted.
const KEY_SCHEME: &[u8] = b"skill-run compile cache, blake3 keys and checksums";

/// The checksum file's extension.
const CHECKSUM_EXTENSION: &str = "blake3";

/// What the cache did for one load.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
#[non_exhaustive]
pub enum CacheStatus {
    /// No cache configured: the component was compiled.
    Disabled,
    /// A valid entry was loaded.
    Hit,
    /// There was no entry: the component was compiled and stored.
    Miss,
    /// An entry existed but was refused (the reason says why): the component
    /// was compiled again and the entry replaced.
    Replaced(String),
    /// The component was compiled but could not be stored (the reason says
    /// why); the skill works, the next load compiles again.
    NotStored(String),
}

/// A folder of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into BLAKE3, so the engine's compatibility hash
/// becomes part of a key that is stable across processes.
struct KeyHasher<'a>(&'a mut blake3::Hasher);

impl Hasher for KeyHasher<'_> {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl CompileCache {
    /// A cache in `dir` (created on first store, owner-only).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into() }
    }

    /// The folder holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of `wasm` compiled by `engine`, as hex.
    pub(crate) fn key(engine: &Engine, wasm: &[u8]) -> String {
        let mut key = blake3::Hasher::new();
        key.update(KEY_SCHEME);
        key.update(&[0]);
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        key.update(&[0]);
        std::hash::Hash::hash(
            &engine.precompile_compatibility_hash(),
            &mut KeyHasher(&mut key),
        );
        key.update(&[0]);
        key.update(wasm);
        key.finalize().to_hex().to_string()
    }

    fn entry(&self, key: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{key}.cwasm")),
            self.dir.join(format!("{key}.{CHECKSUM_EXTENSION}")),
        )
    }

    /// The cached component for `wasm`, or `compile`'s result stored for next
    /// time. Errors from `compile` are returned as they are; cache trouble
    /// never fails a load, it only shows in the status.
    pub(crate) fn load_or_compile<E>(
        &self,
        engine: &Engine,
        wasm: &[u8],
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, CacheStatus), E> {
        let key = Self::key(engine, wasm);
        let refused = match self.load(engine, &key) {
            Ok(Some(component)) => return Ok((component, CacheStatus::Hit)),
            Ok(None) => None,
            Err(reason) => Some(reason),
        };
        let component = compile()?;
        let status = match (self.store(&key, &component), refused) {
            (Err(e), _) => CacheStatus::NotStored(e),
            (Ok(()), Some(reason)) => CacheStatus::Replaced(reason),
            (Ok(()), None) => CacheStatus::Miss,
        };
        Ok((component, status))
    }

    /// `Ok(None)` when there is no entry, `Err` when there is one that must
    /// not be used.
    fn load(&self, engine: &Engine, key: &str) -> Result<Option<Component>, String> {
        let (code_path, sum_path) = self.entry(key);
        if !self.dir.exists() {
            return Ok(None);
        }
        check_private(&self.dir)?;
        let expected = match std::fs::read_to_string(&sum_path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if code_path.exists() {
                    Err("its checksum file is missing".into())
                } else {
                    Ok(None)
                };
            }
            Err(e) => return Err(format!("its checksum cannot be read: {e}")),
        };
        let code =
            File::open(&code_path).map_err(|e| format!("the compiled code cannot be read: {e}"))?;
        let (actual, length) =
            checksum(&code).map_err(|e| format!("the compiled code cannot be read: {e}"))?;
        if actual != expected {
            return Err(format!(
                "the compiled code is corrupt or truncated ({length} bytes, checksum {} instead of {})",
                &actual[..12],
                expected.get(..12).unwrap_or(&expected)
            ));
        }
        // SAFETY: wasmtime executes the machine code in this file. It was
        // written by `store` below from `Component::serialize` and its
        // checksum was just verified, so it is what this engine produced;
        // wasmtime itself refuses files from another version, target or
        // setting (handled as a refused entry). Entries are replaced by
        // rename, never rewritten in place, so the mapping stays whole, and
        // `same_file` below refuses the component unless the file wasmtime
        // opened by path is still the one whose checksum was verified.
        let component =
            unsafe { Component::deserialize_file(engine, &code_path) }.map_err(|e| {
                format!(
                    "wasmtime refused it: {}",
                    super::first_line(&format!("{e:#}"))
                )
            })?;
        same_file(&code, &code_path)?;
        Ok(Some(component))
    }

    fn store(&self, key: &str, component: &Component) -> Result<(), String> {
        let code = component
            .serialize()
            .map_err(|e| format!("cannot serialise the compiled component: {e:#}"))?;
        create_private_dir(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        check_private(&self.dir)?;
        let (code_path, sum_path) = self.entry(key);
        // The checksum goes last: until it lands, a reader sees no entry
        // (or the previous, consistent one).
        write_atomically(&code_path, &code)?;
        write_atomically(&sum_path, blake3::hash(&code).to_hex().as_bytes())
    }
}

/// The BLAKE3 checksum of `file`'s bytes as hex, and how many there were;
/// read in large blocks so the hash runs on its widest SIMD path and the
/// file is never held in memory whole.
fn checksum(mut file: &File) -> std::io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut block = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&block[..n]);
        length += n as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), length))
}

/// Refuses the entry unless `path` still names `checked`, the file whose
/// checksum was verified: an entry renamed into place after the check
/// (another process storing the same key) is not the file that was checked.
#[cfg(unix)]
fn same_file(checked: &File, path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let was = checked
        .metadata()
        .map_err(|e| format!("the compiled code cannot be read: {e}"))?;
    let now = std::fs::metadata(path)
        .map_err(|e| format!("the compiled code was removed while it loaded: {e}"))?;
    if (was.dev(), was.ino(), was.len()) != (now.dev(), now.ino(), now.len()) {
        return Err("the compiled code was replaced while it loaded".into());
    }
    Ok(())
}

#[cfg(not(unix))]
fn same_file(_checked: &File, _path: &Path) -> Result<(), String> {
    Ok(())
}

/// Whoever can write to the cache folder can make this process run their
/// machine code, checksum or not: it must be ours and writable by no one else.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "the cache folder {} is writable by other users; make it private (chmod 700) or pass --no-cache",
            dir.display()
        ));
    }
    // /proc/self belongs to this process's effective user.
    if let Ok(me) = std::fs::metadata("/proc/self")
        && me.uid() != meta.uid()
    {
        return Err(format!(
            "the cache folder {} belongs to another user; use your own (--cache-dir) or pass --no-cache",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> Result<(), String> {
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
