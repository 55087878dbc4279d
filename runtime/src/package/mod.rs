//! A skill package on disk: `SKILL.md` (instructions), `skill.toml`
//! (capabilities; absent for an instruction-only skill) and the component
//! it names. Reading a package validates it; nothing is compiled or run here.

mod combinations;
pub mod findings;
pub mod instructions;
pub mod manifest;
pub mod scripts;
pub mod skill_file;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use findings::FileFinding;
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
    /// The file the instructions were read from, in `root`: `SKILL.md`,
    /// `Skill.md` or `skill.md` (see [`skill_file`]).
    pub instructions_file: &'static str,
    /// The capability manifest, or `None` for an instruction-only skill.
    pub manifest: Option<Manifest>,
    /// Findings about skill.toml (`lethal-trifecta`), located in it.
    pub manifest_findings: Vec<Finding>,
}

impl Package {
    /// Reads a package folder (with or without a trailing `/`), or the
    /// folder of a given `SKILL.md`, `Skill.md` or `skill.md`.
    pub fn read(path: &Path) -> Result<Package, LoadError> {
        Package::read_recording(path, &mut Vec::new())
    }

    /// Reads the package at `path` with `manifest` as its skill.toml instead
    /// of the one in the folder, if any: a reviewed proposal for a package
    /// the reader may not write to (someone else's checkout, a shared
    /// corpus). The package's own files are read where they are. Signatures
    /// and approvals cover the package's own skill.toml, so a package read
    /// this way is for [`crate::Runtime::load_package`], not for admission.
    pub fn read_with_manifest(path: &Path, manifest: &Path) -> Result<Package, LoadError> {
        Package::read_from(path, Some(manifest), &mut Vec::new())
    }

    /// [`Package::read`], recording each file it read (SKILL.md, skill.toml)
    /// with the bytes it parsed, so admission can check that those are the
    /// bytes it verified.
    pub(crate) fn read_recording(
        path: &Path,
        read: &mut Vec<ReadFile>,
    ) -> Result<Package, LoadError> {
        Package::read_from(path, None, read)
    }

    /// [`Package::read_recording`], with the skill.toml at `manifest` when given.
    fn read_from(
        path: &Path,
        manifest: Option<&Path>,
        read: &mut Vec<ReadFile>,
    ) -> Result<Package, LoadError> {
        let named = path
            .file_name()
            .filter(|n| skill_file::is_skill_file_name(n) && !path.is_dir());
        let root = if named.is_some() {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
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
        let choice = skill_file::choose(&root, named);
        let text = read_inside(
            &root,
            Path::new(choice.name),
            instructions::MAX_SKILL_MD_BYTES as u64,
        )?;
        let mut instructions = instructions::parse_bytes(&text.bytes);
        read.push(text);
        instructions.findings.extend(choice.findings);

        let manifest_path = manifest.map_or_else(|| root.join("skill.toml"), Path::to_path_buf);
        let mut manifest_findings = Vec::new();
        let manifest = match fs::symlink_metadata(&manifest_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && manifest.is_none() => None,
            _ => {
                let file = match manifest {
                    None => read_inside(&root, Path::new("skill.toml"), MAX_MANIFEST_BYTES)?,
                    Some(path) => read_outside(path, MAX_MANIFEST_BYTES)?,
                };
                let text =
                    String::from_utf8(file.bytes.to_vec()).map_err(|_| LoadError::Manifest {
                        path: manifest_path.clone(),
                        message: "skill.toml is not valid UTF-8".into(),
                    })?;
                let manifest = Manifest::parse(&text).map_err(|message| LoadError::Manifest {
                    path: manifest_path.clone(),
                    message,
                })?;
                manifest_findings = combinations::scan(&manifest.grants, &text);
                read.push(file);
                Some(manifest)
            }
        };
        // A name that differs is a finding here and a load error in
        // `Skill::load`: inspect shows it, check and run refuse it.
        instructions.check_against(manifest.as_ref().map(|m| (m.name.as_str(), &m.grants)));
        Ok(Package {
            root,
            instructions,
            instructions_file: choice.name,
            manifest,
            manifest_findings,
        })
    }

    /// Every finding about the package, each with its file, worst first.
    pub fn findings(&self) -> Vec<FileFinding> {
        let located = |file: &str, f: &Finding| {
            FileFinding::new(
                f.code,
                f.severity,
                Some(file),
                Some(f.line),
                Some(f.column),
                f.message.clone(),
            )
        };
        let mut all: Vec<FileFinding> = self
            .instructions
            .findings
            .iter()
            .map(|f| located(self.instructions_file, f))
            .chain(
                self.manifest_findings
                    .iter()
                    .map(|f| located("skill.toml", f)),
            )
            .collect();
        findings::sort(&mut all);
        all
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
        self.read_component_file(max_bytes)
            .map(|(path, file)| (path, file.bytes.to_vec()))
    }

    /// [`Package::read_component`], keeping where the bytes were read from.
    pub(crate) fn read_component_file(
        &self,
        max_bytes: u64,
    ) -> Result<(PathBuf, ReadFile), LoadError> {
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
            Ok(file) => Ok((path, file)),
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

/// One file of a package as read: the path it was asked for, the path it
/// resolved to (through symlinks inside the package), and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct ReadFile {
    /// The path asked for, relative to the package folder.
    pub named: PathBuf,
    /// The file actually read, relative to the canonical package folder.
    pub resolved: PathBuf,
    /// Its bytes, exactly as parsed or compiled.
    pub bytes: std::sync::Arc<[u8]>,
}

/// Reads `relative` inside the package folder `root`: a symlink that
/// resolves outside the folder is refused (a downloaded package must not
/// make the runtime read, and echo in errors, the user's other files), and
/// so is anything over `limit` bytes.
fn read_inside(root: &Path, relative: &Path, limit: u64) -> Result<ReadFile, LoadError> {
    let path = root.join(relative);
    let canonical_root = fs::canonicalize(root).map_err(|source| LoadError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let canonical = fs::canonicalize(&path).map_err(|source| LoadError::Read {
        path: path.clone(),
        source,
    })?;
    let Ok(resolved) = canonical.strip_prefix(&canonical_root) else {
        return Err(LoadError::Outside { path });
    };
    let resolved = resolved.to_path_buf();
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
    Ok(ReadFile {
        named: relative.to_path_buf(),
        resolved,
        bytes: read_limited(&canonical, limit)?.into(),
    })
}

/// Reads a regular file given from outside the package (a skill.toml passed
/// with [`Package::read_with_manifest`]), within `limit`.
fn read_outside(path: &Path, limit: u64) -> Result<ReadFile, LoadError> {
    let meta = fs::metadata(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(LoadError::NotAPackage {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    Ok(ReadFile {
        named: path.to_path_buf(),
        resolved: path.to_path_buf(),
        bytes: read_limited(path, limit)?.into(),
    })
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
