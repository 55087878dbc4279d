//! The `files` capability: directories a skill may see, where they come from
//! on the host, and with what access, parsed once into types. Opening them
//! for an invocation is [`super::folders`]' job.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::Grants;
use super::capability::{Capability, GrantEntry, LinkFor};
use crate::invocation::state::InvocationState;

/// How much a file grant allows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// List, stat and read; every write, create, rename or delete fails.
    Read,
    /// Everything `Read` allows, plus creating, writing, renaming and deleting.
    ReadWrite,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        })
    }
}

/// Where a guest directory lives inside the sandbox: absolute, normalised,
/// never containing `..`. It may be `/` itself: the granted folder is then
/// the guest's whole file system (as `wasmtime run --dir DIR::/` and the
/// WASI test suite lay it out), and no other grant can sit beside it.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct GuestPath(String);

impl GuestPath {
    /// Parses `/`, `/notes`, `/data/in`; refuses relative paths, `..` and `.`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "guest path `{text}` must be absolute inside the sandbox, e.g. \"/notes\""
            ));
        }
        let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
        for part in &parts {
            if *part == ".." || *part == "." {
                return Err(format!("guest path `{text}` must not contain `{part}`"));
            }
            if part.contains(['\\', '\0']) {
                return Err(format!("guest path `{text}` contains a backslash or NUL"));
            }
        }
        Ok(GuestPath(format!("/{}", parts.join("/"))))
    }

    /// The path as the guest sees it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is this path or lies below it.
    pub fn contains(&self, other: &GuestPath) -> bool {
        self.0 == "/" || other.0 == self.0 || other.0.starts_with(&format!("{}/", self.0))
    }
}

impl fmt::Display for GuestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_form::text_form!(GuestPath);

/// The host folder a grant is rooted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostBase {
    /// `{state}`: the skill's private folder, created and kept by the runtime.
    State,
    /// `{workspace}`: the folder the host hands over for this invocation.
    Workspace,
}

/// A host folder as the manifest names it: `{state}` or `{workspace}`
/// followed by relative components without `..`. Never an absolute path.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct HostPathTemplate {
    /// The folder it is rooted in.
    pub base: HostBase,
    /// Normal path components below the base (possibly empty).
    pub relative: Vec<String>,
}

impl HostPathTemplate {
    /// Parses `{state}`, `{workspace}/notes`; refuses everything else.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (base, rest) = if let Some(rest) = text.strip_prefix("{state}") {
            (HostBase::State, rest)
        } else if let Some(rest) = text.strip_prefix("{workspace}") {
            (HostBase::Workspace, rest)
        } else if Path::new(text).is_absolute() || text.starts_with('~') {
            return Err(format!(
                "host path `{text}` is absolute: a skill may only name folders under \"{{state}}\" or \"{{workspace}}\""
            ));
        } else {
            return Err(format!(
                "host path `{text}` must start with \"{{state}}\" or \"{{workspace}}\", e.g. \"{{workspace}}/notes\""
            ));
        };
        if !rest.is_empty() && !rest.starts_with('/') {
            return Err(format!(
                "host path `{text}`: expected `/` after the placeholder"
            ));
        }
        let mut relative = Vec::new();
        for component in Path::new(rest.trim_start_matches('/')).components() {
            match component {
                Component::Normal(part) => {
                    let part = part
                        .to_str()
                        .ok_or_else(|| format!("host path `{text}` is not UTF-8"))?;
                    if part.contains(['\\', '\0', '{', '}']) {
                        return Err(format!("host path `{text}` contains `\\`, NUL or a brace"));
                    }
                    relative.push(part.to_owned());
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(format!(
                        "host path `{text}` must not contain `..`: a grant cannot reach outside its base folder"
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "host path `{text}` is not relative to its placeholder"
                    ));
                }
            }
        }
        Ok(HostPathTemplate { base, relative })
    }

    /// The concrete host path under the given base folders.
    pub fn resolve(&self, state: &Path, workspace: &Path) -> PathBuf {
        let mut path = match self.base {
            HostBase::State => state.to_path_buf(),
            HostBase::Workspace => workspace.to_path_buf(),
        };
        path.extend(&self.relative);
        path
    }
}

impl fmt::Display for HostPathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.base {
            HostBase::State => "{state}",
            HostBase::Workspace => "{workspace}",
        })?;
        for part in &self.relative {
            write!(f, "/{part}")?;
        }
        Ok(())
    }
}

crate::text_form::text_form!(HostPathTemplate);

/// One `files` entry: a host folder shown to the guest at `guest`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileGrant {
    /// Where the guest sees the folder.
    pub guest: GuestPath,
    /// Which host folder it is.
    pub host: HostPathTemplate,
    /// What the guest may do there.
    pub access: Access,
}

impl FileGrant {
    /// Whether `self` allows no more than `wider` does: same folder, same or
    /// lower access. Used to check that a host only narrows grants.
    pub fn is_within(&self, wider: &FileGrant) -> bool {
        self.guest == wider.guest && self.host == wider.host && self.access <= wider.access
    }
}

/// Checks grants that are fine alone but not together: two grants for one
/// guest path, or one guest path nested in another.
pub(crate) fn check_file_grants(grants: &[FileGrant]) -> Result<(), String> {
    for (i, a) in grants.iter().enumerate() {
        for b in &grants[i + 1..] {
            if a.guest.contains(&b.guest) || b.guest.contains(&a.guest) {
                return Err(format!(
                    "capabilities.files: guest paths `{}` and `{}` overlap; give each grant its own folder",
                    a.guest, b.guest
                ));
            }
        }
    }
    Ok(())
}

/// The `files` capability: `wasi:filesystem`, which every skill may import
/// (with no grant it has no folders), its path-taking operations shadowed
/// by audited ones ([`super::file_audit`]) that hand out only the folders
/// the invocation opened and checked ([`super::folders`]).
pub(crate) struct Files;

impl Capability for Files {
    fn key(&self) -> &'static str {
        "files"
    }

    fn answers(&self, package: &str, _interface: &str) -> bool {
        package == "wasi:filesystem"
    }

    fn validate(&self, grants: &Grants) -> Result<(), String> {
        check_file_grants(&grants.files)
    }

    fn link(
        &self,
        linker: &mut wasmtime::component::Linker<InvocationState>,
        _for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        super::file_audit::add_to_linker(linker)
    }

    fn outside(&self, narrow: &Grants, wide: &Grants, out: &mut Vec<GrantEntry>) {
        out.extend(
            narrow
                .files
                .iter()
                .filter(|f| !wide.files.iter().any(|w| f.is_within(w)))
                .map(|f| GrantEntry::Files(f.clone())),
        );
    }

    fn describe(&self, grants: &Grants, lines: &mut Vec<String>) {
        for f in &grants.files {
            let verb = match f.access {
                Access::Read => "read",
                Access::ReadWrite => "read and change",
            };
            lines.push(format!(
                "{verb} files in {} (seen inside as {})",
                f.host, f.guest
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_path_is_normalised_and_must_be_absolute() {
        assert_eq!(
            GuestPath::parse("/notes/").map(|p| p.0),
            Ok("/notes".into())
        );
        assert_eq!(GuestPath::parse("//a//b").map(|p| p.0), Ok("/a/b".into()));
        assert!(GuestPath::parse("notes").is_err());
        assert_eq!(GuestPath::parse("/").map(|p| p.0), Ok("/".into()));
        assert_eq!(GuestPath::parse("///").map(|p| p.0), Ok("/".into()));
        let root = GuestPath::parse("/").expect("root");
        let data = GuestPath::parse("/data").expect("data");
        assert!(root.contains(&data) && root.contains(&root) && !data.contains(&root));
        assert!(GuestPath::parse("/a/../b").is_err());
    }

    #[test]
    fn host_path_refuses_absolute_home_and_parent_paths() {
        for bad in [
            "/etc",
            "~/.ssh",
            "{workspace}/../x",
            "{state}/a/../../b",
            "notes",
            "{workspace}x",
            "{home}",
        ] {
            assert!(HostPathTemplate::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn host_path_resolves_under_its_base() {
        let t = HostPathTemplate::parse("{workspace}/notes/./daily").expect("valid");
        assert_eq!(t.relative, vec!["notes", "daily"]);
        assert_eq!(
            t.resolve(Path::new("/s"), Path::new("/w")),
            PathBuf::from("/w/notes/daily")
        );
        assert_eq!(t.to_string(), "{workspace}/notes/daily");
    }

    #[test]
    fn overlapping_guest_paths_are_refused() {
        let grant = |g: &str| FileGrant {
            guest: GuestPath::parse(g).expect("valid"),
            host: HostPathTemplate::parse("{state}").expect("valid"),
            access: Access::Read,
        };
        assert!(check_file_grants(&[grant("/a"), grant("/a/b")]).is_err());
        assert!(check_file_grants(&[grant("/a"), grant("/ab")]).is_ok());
    }
}
