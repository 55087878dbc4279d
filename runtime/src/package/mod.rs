//! A skill package on disk: `SKILL.md` (instructions), `skill.toml`
//! (capabilities; absent for an instruction-only skill) and the component
//! it names. Reading a package validates it; nothing is compiled or run here.

pub mod instructions;
pub mod manifest;
pub mod scripts;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use instructions::{Finding, Instructions, Severity};
pub use manifest::{Executable, Manifest, Schedule, ScriptRuntime, SkillName};

use crate::error::LoadError;

/// The largest `skill.toml` read, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024;

/// A package read from disk and validated.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package folder.
    pub root: PathBuf,
    /// What SKILL.md says.
    pub instructions: Instructions,
    /// The capability manifest, or `None` for an instruction-only skill.
    pub manifest: Option<Manifest>,
}

impl Package {
    /// Reads a package folder, or the folder of a given SKILL.md.
    pub fn read(path: &Path) -> Result<Package, LoadError> {
        let root = if path.file_name().is_some_and(|n| n == "SKILL.md") {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        } else {
            path.to_path_buf()
        };
        let meta = fs::metadata(&root).map_err(|source| LoadError::Read {
            path: root.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(LoadError::NotAPackage {
                path: root,
                reason: "not a folder: give the package folder or its SKILL.md".into(),
            });
        }
        let text = read_inside(
            &root,
            Path::new("SKILL.md"),
            instructions::MAX_SKILL_MD_BYTES as u64,
        )?;
        let mut instructions = instructions::parse_bytes(&text);

        let manifest_path = root.join("skill.toml");
        let manifest = match fs::symlink_metadata(&manifest_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            _ => {
                let bytes = read_inside(&root, Path::new("skill.toml"), MAX_MANIFEST_BYTES)?;
                let text = String::from_utf8(bytes).map_err(|_| LoadError::Manifest {
                    path: manifest_path.clone(),
                    message: "skill.toml is not valid UTF-8".into(),
                })?;
                let manifest = Manifest::parse(&text).map_err(|message| LoadError::Manifest {
                    path: manifest_path.clone(),
                    message,
                })?;
                Some(manifest)
            }
        };
        // A name that differs is a finding here and a load error in
        // `Skill::load`: inspect shows it, check and run refuse it.
        instructions.check_against(manifest.as_ref().map(|m| (m.name.as_str(), &m.grants)));
        Ok(Package {
            root,
            instructions,
            manifest,
        })
    }

    /// The skill's name: the manifest's, else SKILL.md's, else the folder's.
    pub fn name(&self) -> String {
        if let Some(m) = &self.manifest {
            return m.name.to_string();
        }
        self.instructions
            .name()
            .map(str::to_owned)
            .or_else(|| {
                self.root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "unnamed".into())
    }

    /// Reads the component's bytes, refusing a path that leaves the package
    /// folder through a symlink and a file over `max_bytes`.
    pub fn read_component(&self, max_bytes: u64) -> Result<(PathBuf, Vec<u8>), LoadError> {
        let name = self.name();
        let manifest = self.manifest.as_ref().ok_or(LoadError::InstructionOnly {
            skill: name.clone(),
        })?;
        let relative = match &manifest.executable {
            manifest::Executable::Component(path) => path.as_path(),
            manifest::Executable::Script(runtime) => {
                return Err(LoadError::ScriptRuntimeUnavailable {
                    skill: name,
                    runtime: *runtime,
                });
            }
        };
        let path = self.root.join(relative);
        match read_inside(&self.root, relative, max_bytes) {
            Ok(bytes) => Ok((path, bytes)),
            Err(LoadError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(LoadError::ComponentMissing { skill: name, path })
            }
            Err(LoadError::Outside { .. }) => {
                Err(LoadError::ComponentOutside { skill: name, path })
            }
            Err(other) => Err(other),
        }
    }
}

/// Reads `relative` inside the package folder `root`: a symlink that
/// resolves outside the folder is refused (a downloaded package must not
/// make the runtime read, and echo in errors, the user's other files), and
/// so is anything over `limit` bytes.
fn read_inside(root: &Path, relative: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let path = root.join(relative);
    let canonical_root = fs::canonicalize(root).map_err(|source| LoadError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let canonical = fs::canonicalize(&path).map_err(|source| LoadError::Read {
        path: path.clone(),
        source,
    })?;
    if !canonical.starts_with(&canonical_root) {
        return Err(LoadError::Outside { path });
    }
    if !fs::metadata(&canonical)
        .map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?
        .is_file()
    {
        return Err(LoadError::NotAPackage {
            path,
            reason: "not a regular file".into(),
        });
    }
    read_limited(&canonical, limit)
}

/// Reads a file, refusing anything larger than `limit` without reading it all.
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let file = fs::File::open(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}
