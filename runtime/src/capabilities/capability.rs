//! The steps every capability goes through, and the one list of them.
//!
//! A capability is a plain struct in its own module that implements
//! [`Capability`]: it checks its part of the manifest, says which imports it
//! answers and whether the grants allow them, links its host functions, and
//! names and describes its grants. The manifest check, the import check at
//! load, the linker, `inspect`'s words, `diff` and the lock file's growth
//! check all loop over [`CAPABILITIES`] instead of naming capabilities, so
//! adding one means writing its module and registering it here in one line
//! (plus its field in [`Grants`], which is the manifest's shape).
//!
//! This is Spin's `Factor` (`validate` / `link` / `prepare`) without the
//! generics: every capability links into the same store type.

use std::fmt;

use wasmtime::component::Linker;

use super::Grants;
use super::channels::ChannelGrant;
use super::env::EnvName;
use super::files::FileGrant;
use super::network::NetworkGrant;
use super::secrets::SecretGrant;
use crate::invocation::state::InvocationState;

/// What a skill's linker is built for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkFor<'a> {
    /// The skill's grants, as narrowed at load.
    pub grants: &'a Grants,
    /// The component uses WASI 0.3 (the `concurrent` engine).
    pub concurrent: bool,
    /// The component is the host's Python runner for a script skill.
    pub script: bool,
}

/// One capability's lifecycle. Every step has a default that does nothing,
/// so a capability implements only the steps it has.
pub(crate) trait Capability: Sync {
    /// Its manifest key (`network`), or what it is for the interfaces that
    /// need no grant (`base`): the key named when an import is not granted.
    fn key(&self) -> &'static str;

    /// Whether it answers an import of `interface` (`wasi:http/types`, no
    /// version) from `package` (`wasi:http`).
    fn answers(&self, _package: &str, _interface: &str) -> bool {
        false
    }

    /// Whether its imports are linked only so that every use is refused
    /// and audited (raw sockets).
    fn always_denied(&self) -> bool {
        false
    }

    /// Whether a skill linked `for_` may import what it answers; `false`
    /// refuses the component at load, naming [`Capability::key`].
    fn allows_imports(&self, _for_: &LinkFor<'_>) -> bool {
        true
    }

    /// Checks its part of the manifest, and how it fits the rest.
    fn validate(&self, _grants: &Grants) -> Result<(), String> {
        Ok(())
    }

    /// Links its host functions into a skill's linker.
    fn link(
        &self,
        _linker: &mut Linker<InvocationState>,
        _for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        Ok(())
    }

    /// Adds every entry of `narrow` that no entry of `wide` covers.
    fn outside(&self, _narrow: &Grants, _wide: &Grants, _out: &mut Vec<GrantEntry>) {}

    /// Adds one plain-English line per grant, for people deciding whether
    /// to run a skill.
    fn describe(&self, _grants: &Grants, _lines: &mut Vec<String>) {}
}

/// Every capability, in the order the manifest, `inspect` and the linker
/// go through them. The base interfaces come first: the file capability
/// shadows some of them.
pub(crate) const CAPABILITIES: &[&dyn Capability] = &[
    &super::base::Base,
    &super::http::Network,
    &super::files::Files,
    &super::channels::Channels,
    &super::env::Env,
    &super::secrets::Secrets,
    &super::sockets::Sockets,
    &crate::script_runtime::Sandbox,
];

/// One grant, typed: what [`Grants::outside`] returns, what `diff` compares
/// and what the lock file's growth check names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantEntry {
    /// A `network` prefix.
    Network(NetworkGrant),
    /// A `files` folder.
    Files(FileGrant),
    /// A `channels` entry.
    Channel(ChannelGrant),
    /// An `env` name.
    Env(EnvName),
    /// A `secrets` entry.
    Secret(SecretGrant),
}

impl GrantEntry {
    /// The manifest key it is written under.
    pub fn key(&self) -> &'static str {
        match self {
            GrantEntry::Network(_) => "network",
            GrantEntry::Files(_) => "files",
            GrantEntry::Channel(_) => "channels",
            GrantEntry::Env(_) => "env",
            GrantEntry::Secret(_) => "secrets",
        }
    }

    /// Whether both entries are about the same thing (the same URL prefix,
    /// guest folder, channel, variable or secret), whatever else differs:
    /// a change to such an entry widens or narrows it rather than granting
    /// or removing something.
    pub fn same_subject(&self, other: &GrantEntry) -> bool {
        match (self, other) {
            (GrantEntry::Network(a), GrantEntry::Network(b)) => a.same_prefix(b),
            (GrantEntry::Files(a), GrantEntry::Files(b)) => a.guest == b.guest,
            (GrantEntry::Channel(a), GrantEntry::Channel(b)) => a.name == b.name,
            (GrantEntry::Env(a), GrantEntry::Env(b)) => a == b,
            (GrantEntry::Secret(a), GrantEntry::Secret(b)) => a.name == b.name,
            _ => false,
        }
    }
}

impl fmt::Display for GrantEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.key())?;
        match self {
            GrantEntry::Network(n) => write!(f, "{n}"),
            GrantEntry::Files(g) => write!(f, "{} -> {} ({})", g.guest, g.host, g.access),
            GrantEntry::Channel(c) => write!(f, "{} ({})", c.name, c.direction),
            GrantEntry::Env(e) => write!(f, "{e}"),
            GrantEntry::Secret(s) => write!(f, "{} for {}", s.name, s.host),
        }
    }
}

/// How loading treats one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportVerdict {
    /// Linked: the capability that answers it is granted, or needs no grant.
    Linked,
    /// Linked so that it loads, but every operation is denied and audited.
    AlwaysDenied,
    /// Refused: the capability with this manifest key is not granted.
    NotGranted(&'static str),
    /// Refused: no capability answers it; the string says why.
    Unavailable(&'static str),
}

/// How loading treats the import `name` (`wasi:http/types@0.2.3`) of a
/// skill linked `for_`: asked of the capability that answers it.
pub(crate) fn judge_import(name: &str, for_: &LinkFor<'_>) -> ImportVerdict {
    let interface = name.split('@').next().unwrap_or(name);
    let package = interface.split('/').next().unwrap_or(interface);
    match CAPABILITIES.iter().find(|c| c.answers(package, interface)) {
        None => ImportVerdict::Unavailable("this runtime does not provide it to skills"),
        Some(c) if c.always_denied() => ImportVerdict::AlwaysDenied,
        Some(c) if c.allows_imports(for_) => ImportVerdict::Linked,
        Some(c) => ImportVerdict::NotGranted(c.key()),
    }
}

/// Checks every capability's part of a manifest's grants, in order; the
/// first problem is the error.
pub(crate) fn validate(grants: &Grants) -> Result<(), String> {
    CAPABILITIES.iter().try_for_each(|c| c.validate(grants))
}

/// Builds the linker for one skill: each capability links what it provides
/// (the base interfaces always, the others only when granted). Nothing
/// else is linked, so an import the manifest did not grant cannot even
/// instantiate.
pub(crate) fn build_linker(
    engine: &wasmtime::Engine,
    for_: &LinkFor<'_>,
) -> wasmtime::Result<Linker<InvocationState>> {
    let mut linker = Linker::new(engine);
    for capability in CAPABILITIES {
        capability.link(&mut linker, for_)?;
    }
    Ok(linker)
}

/// Refuses a name declared twice under `capabilities.{key}`.
pub(crate) fn check_unique<'a>(
    key: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(format!("capabilities.{key}: `{name}` is declared twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(name: &str, grants: &Grants, script: bool) -> ImportVerdict {
        judge_import(
            name,
            &LinkFor {
                grants,
                concurrent: false,
                script,
            },
        )
    }

    #[test]
    fn imports_are_judged_by_the_capability_that_answers_them() {
        let none = Grants::default();
        let granted: Grants = toml::from_str(
            r#"network = ["https://api.example.com/"]
               channels = [{ name = "feed", direction = "send" }]"#,
        )
        .expect("valid");
        for base in [
            "wasi:cli/stdout@0.2.0",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:io/streams@0.2.0",
            "wasi:clocks/monotonic-clock@0.3.0",
        ] {
            assert_eq!(judge(base, &none, false), ImportVerdict::Linked, "{base}");
        }
        assert_eq!(
            judge("wasi:http/outgoing-handler@0.2.0", &none, false),
            ImportVerdict::NotGranted("network")
        );
        assert_eq!(
            judge("wasi:http/outgoing-handler@0.2.0", &granted, false),
            ImportVerdict::Linked
        );
        // The Python runner imports wasi:http whatever the skill's grants;
        // each request is then judged by the (empty) network grant.
        assert_eq!(
            judge("wasi:http/types@0.2.3", &none, true),
            ImportVerdict::Linked
        );
        assert_eq!(
            judge("skills:runtime/channels@0.1.0", &none, false),
            ImportVerdict::NotGranted("channels")
        );
        assert_eq!(
            judge("skills:runtime/channels@0.1.0", &granted, false),
            ImportVerdict::Linked
        );
        for version in ["0.2.0", "0.2.9", "0.2.12", "0.3.0"] {
            assert_eq!(
                judge(&format!("wasi:sockets/tcp@{version}"), &granted, false),
                ImportVerdict::AlwaysDenied
            );
        }
        for other in [
            "evil:host/exec",
            "skills:runtime/other@0.1.0",
            "wasi:nn/graph@0.2.0",
        ] {
            assert!(
                matches!(judge(other, &granted, true), ImportVerdict::Unavailable(_)),
                "{other}"
            );
        }
    }

    #[test]
    fn every_capability_key_is_distinct() {
        let mut keys: Vec<_> = CAPABILITIES.iter().map(|c| c.key()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "two capabilities share a key");
    }

    #[test]
    fn entries_about_the_same_thing_are_told_apart_from_new_ones() {
        let old: Grants = toml::from_str(
            r#"network = [{ url = "https://api.example.com/v1", methods = ["GET"] }]
               files = [{ guest = "/n", host = "{workspace}/n", access = "read" }]"#,
        )
        .expect("valid");
        let new: Grants = toml::from_str(
            r#"network = ["https://api.example.com/v1", "https://other.example/"]
               files = [{ guest = "/n", host = "{workspace}/n", access = "read-write" }]"#,
        )
        .expect("valid");
        let grown = new.outside(&old);
        let shown: Vec<String> = grown.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "network: https://api.example.com/v1",
                "network: https://other.example/",
                "files: /n -> {workspace}/n (read-write)",
            ]
        );
        let before = old.outside(&Grants::default());
        let widened: Vec<bool> = grown
            .iter()
            .map(|g| before.iter().any(|b| b.same_subject(g)))
            .collect();
        assert_eq!(widened, [true, false, true]);
    }
}
