//! Admission: one call that reads a package once, checks its signature and
//! approval against the bytes it read, and loads the component from those
//! same bytes. Verifying a folder and then loading it again from disk let a
//! file swapped in between run unverified; here nothing is read twice.

mod resolve;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::LoadError;
use crate::files_on_disk::sha256_hex;
use crate::package::{Executable, Package, ReadFile};
use crate::runtime::Runtime;
use crate::skill::Skill;
use crate::trust::digest::slash_path;
use crate::trust::signing::{read_signature, verify_signature};
use crate::trust::{ApprovalCheck, Approvals, PackageDigest, TrustError, TrustedKeys, Verified};

/// What a package must show before [`Runtime::admit`] loads it. The
/// default asks for nothing: any package that loads is admitted.
///
/// ```no_run
/// # fn demo(runtime: &skill_runtime::Runtime) -> Result<(), Box<dyn std::error::Error>> {
/// use skill_runtime::trust::{Approvals, TrustedKeys};
/// use skill_runtime::TrustPolicy;
///
/// let mut keys = TrustedKeys::default();
/// keys.add_path("keys/alice.pub".as_ref())?;
/// let policy = TrustPolicy::default()
///     .signed_by(keys)
///     .approved_in(Approvals::open("skills.lock".as_ref())?)
///     .frozen(true);
/// let skill = runtime.admit("skills/notes", &policy)?.into_skill()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    keys: Option<TrustedKeys>,
    lock: Option<Approvals>,
    frozen: bool,
}

impl TrustPolicy {
    /// Admit only packages intact and signed by one of `keys` (none given:
    /// no signature is asked for; an empty set admits nothing).
    pub fn signed_by(mut self, keys: TrustedKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Admit only skills approved in `approvals` that ask for no capability
    /// or limit beyond their approval. Instruction-only packages run no code
    /// and are admitted without one.
    pub fn approved_in(mut self, approvals: Approvals) -> Self {
        self.lock = Some(approvals);
        self
    }

    /// With an approval required: also refuse a package that changed at all
    /// since it was approved (default: a change asking for nothing new is
    /// admitted and reported in [`Admitted::approval`]).
    pub fn frozen(mut self, frozen: bool) -> Self {
        self.frozen = frozen;
        self
    }

    /// Whether admission needs the package's digest.
    fn needs_digest(&self, package: &Package) -> bool {
        self.keys.is_some() || (self.lock.is_some() && package.manifest.is_some())
    }
}

/// A package that passed its [`TrustPolicy`], loaded from the bytes that
/// were checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admitted {
    /// The package as read (SKILL.md and skill.toml, the bytes checked).
    pub package: Package,
    /// The loaded skill; `None` for an instruction-only package.
    pub skill: Option<Skill>,
    /// Who signed it, when the policy asked for a signature.
    pub signer: Option<Verified>,
    /// What the approval check found, when the policy asked for one.
    pub approval: Option<ApprovalCheck>,
}

impl Admitted {
    /// The loaded skill, or [`LoadError::InstructionOnly`] when the package
    /// has no component to run.
    pub fn into_skill(self) -> Result<Skill, LoadError> {
        let name = self.package.name();
        self.skill.ok_or(LoadError::InstructionOnly { skill: name })
    }
}

/// Why a package was not admitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The policy refused it: unsigned, tampered with, unknown key, not
    /// approved, asking for more than approved, or changed while frozen.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
    /// It could not be read, validated or loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A file changed between being read and being checked, so the bytes
    /// read are not provably the ones on disk that were listed.
    #[error(
        "package {}: {file} changed while it was being admitted ({why}); nothing from it was loaded. Admit it again once nothing is writing to it",
        package.display()
    )]
    Changed {
        /// The package folder.
        package: PathBuf,
        /// The file, relative to the package.
        file: String,
        /// What did not match.
        why: &'static str,
    },
}

/// Points in [`Runtime::admit`] at which a test may act on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Every byte that will be used has been read; nothing is hashed yet.
    Read,
    /// The policy's checks passed; nothing is loaded yet.
    Verified,
}

impl Runtime {
    /// Reads the package at `path` (a folder or its SKILL.md) once, checks it
    /// against `policy` and loads the component from the bytes that were
    /// checked: a file changed on disk after it was read is never what runs.
    ///
    /// SKILL.md, skill.toml and the component are read once, within the
    /// runtime's size limits; when the policy needs the package's digest,
    /// every other file is hashed in the same pass, and the digest covers
    /// the bytes held, not a second read.
    pub fn admit(
        &self,
        path: impl AsRef<Path>,
        policy: &TrustPolicy,
    ) -> Result<Admitted, AdmitError> {
        self.admit_with(path.as_ref(), policy, &mut |_| {})
    }

    /// [`Runtime::admit`], calling `at` at each [`Stage`].
    pub(crate) fn admit_with(
        &self,
        path: &Path,
        policy: &TrustPolicy,
        at: &mut dyn FnMut(Stage),
    ) -> Result<Admitted, AdmitError> {
        let mut read = Vec::new();
        let package = match Package::read_recording(path, &mut read) {
            Ok(package) => package,
            Err(load) => {
                // A package that is refused anyway is reported as refused,
                // as before: the signature is looked at first.
                if let Some(keys) = &policy.keys
                    && let Some(root) = package_root(path)
                {
                    crate::trust::verify_package(&root, keys)?;
                }
                return Err(load.into());
            }
        };
        // Read now, reported when the component is needed, so the order of
        // load errors is the one `Runtime::load` gives.
        let component = match &package.manifest {
            Some(manifest) if matches!(manifest.executable, Executable::Component(_)) => {
                Some(package.read_component_file(self.config().max_component_size().0))
            }
            _ => None,
        };
        if let Some(Ok((_, file))) = &component {
            read.push(file.clone());
        }
        // A script skill's scripts are read while it runs, so it runs from a
        // copy taken now, and the digest is the copy's: the bytes checked
        // are the bytes that run.
        let snapshot = match &package.manifest {
            Some(manifest) if crate::script_runtime::is_script(manifest) => Some(
                crate::script_runtime::PackageSnapshot::take(&package.name(), &package.root)?,
            ),
            _ => None,
        };
        at(Stage::Read);
        let (mut signer, mut approval) = (None, None);
        if policy.needs_digest(&package) {
            let hashed_root = snapshot
                .as_ref()
                .map_or(package.root.as_path(), |s| s.path());
            let digest = held_digest(&package.root, hashed_root, &read)?;
            if let Some(keys) = &policy.keys {
                let text = read_signature(&package.root)?;
                signer = Some(verify_signature(&package.root, &text, keys, || {
                    Ok(digest.clone())
                })?);
            }
            if let Some(lock) = &policy.lock
                && package.manifest.is_some()
            {
                approval =
                    Some(lock.check_digest(&package, policy.frozen, || Ok(digest.digest()))?);
            }
        }
        at(Stage::Verified);
        let skill = match (&package.manifest, component) {
            (None, _) => None,
            (Some(_), component) => Some(self.load_with(
                package.clone(),
                move |package| {
                    match component {
                        Some(read) => read.map(|(path, file)| (path, file.bytes)),
                        // A script runtime: nothing is read, and the error is
                        // the one `Runtime::load` gives.
                        None => package
                            .read_component_file(0)
                            .map(|(path, file)| (path, file.bytes)),
                    }
                },
                snapshot,
            )?),
        };
        Ok(Admitted {
            package,
            skill,
            signer,
            approval,
        })
    }
}

/// The digest of the package at `root` over the bytes in `read` (hashed
/// from memory) and every other file (hashed from disk under `hashed`: the
/// package folder itself, or the copy a script skill runs from), refusing a
/// held file that the walk did not find where and as it was read.
fn held_digest(root: &Path, hashed: &Path, read: &[ReadFile]) -> Result<PackageDigest, AdmitError> {
    let held: HashMap<String, Arc<[u8]>> = read
        .iter()
        .map(|f| (slash_path(&f.resolved), f.bytes.clone()))
        .collect();
    let (digest, links) = PackageDigest::of_read(hashed, &held)?;
    let canonical_root = std::fs::canonicalize(root).map_err(|source| LoadError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    for file in read {
        let resolved = slash_path(&file.resolved);
        let changed = |why| AdmitError::Changed {
            package: root.to_path_buf(),
            file: slash_path(&file.named),
            why,
        };
        match digest.files.get(&resolved) {
            Some(entry) if entry.size != "link" && entry.sha256 == sha256_hex(&file.bytes) => {}
            _ => return Err(changed("the file read is no longer a file of the package")),
        }
        if resolve::through_links(&file.named, &links, &canonical_root).as_deref()
            != Some(resolved.as_str())
        {
            return Err(changed("its links now lead to another file"));
        }
    }
    Ok(digest)
}

/// The folder of the package at `path` (a folder or its SKILL.md), as
/// [`Package::read`] finds it.
fn package_root(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.to_path_buf());
    }
    path.parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .map(Path::to_path_buf)
}
