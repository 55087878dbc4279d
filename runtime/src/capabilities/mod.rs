//! Capabilities: what a skill may touch. One module per capability parses
//! its part of `skill.toml` into types; this module gathers them into
//! [`Grants`], decides which WIT interfaces each grant allows a component to
//! import, and links exactly those into a skill's linker.

pub mod channels;
pub(crate) mod disk;
pub mod env;
pub(crate) mod file_audit;
mod file_audit_p3;
pub mod files;
pub(crate) mod folders;
pub mod http;
mod http_client;
pub(crate) mod http_p3;
pub mod limits;
pub(crate) mod listing;
pub mod network;
pub(crate) mod placeholders;
mod request_body;
mod request_check;
mod response_body;
mod scrubber;
pub mod secrets;
pub mod sockets;
pub mod special_addresses;
pub(crate) mod state;
pub(crate) mod state_origins;
pub(crate) mod tree_walk;
pub(crate) mod wasi03;

pub use request_check::denial as request_denial;

use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

use crate::invocation::state::InvocationState;
use channels::ChannelGrant;
use env::EnvName;
use files::FileGrant;
use network::NetworkGrant;
use secrets::SecretGrant;

/// Everything a skill may reach, as typed values. [`Grants::default`] grants
/// nothing: no hosts, folders, channels, variables or secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// URL prefixes for outgoing HTTP.
    #[serde(default)]
    pub network: Vec<NetworkGrant>,
    /// Folders shown to the guest.
    #[serde(default)]
    pub files: Vec<FileGrant>,
    /// Named message channels.
    #[serde(default)]
    pub channels: Vec<ChannelGrant>,
    /// Environment variable names passed through when the host has them.
    #[serde(default)]
    pub env: Vec<EnvName>,
    /// Secrets the host adds to matching requests.
    #[serde(default)]
    pub secrets: Vec<SecretGrant>,
}

impl Grants {
    /// Checks that `self` allows nothing `wider` does not: every entry of
    /// `self` must fit inside an entry of `wider`. The error names the first
    /// entry that would widen the grant.
    pub fn check_within(&self, wider: &Grants) -> Result<(), String> {
        match self.outside(wider).into_iter().next() {
            Some(entry) => Err(entry),
            None => Ok(()),
        }
    }

    /// Every entry of `self` that no entry of `wider` covers, each as
    /// `key: entry` (e.g. `network: https://evil.example/`).
    pub fn outside(&self, wider: &Grants) -> Vec<String> {
        let mut outside = Vec::new();
        for f in &self.files {
            if !wider.files.iter().any(|w| f.is_within(w)) {
                outside.push(format!("files: {} -> {} ({})", f.guest, f.host, f.access));
            }
        }
        for n in &self.network {
            if !wider.network.iter().any(|w| n.is_within(w)) {
                outside.push(format!("network: {n}"));
            }
        }
        for c in &self.channels {
            if !wider.channels.iter().any(|w| c.is_within(w)) {
                outside.push(format!("channels: {} ({})", c.name, c.direction));
            }
        }
        for e in &self.env {
            if !wider.env.contains(e) {
                outside.push(format!("env: {e}"));
            }
        }
        for s in &self.secrets {
            if !wider.secrets.contains(s) {
                outside.push(format!("secrets: {} for {}", s.name, s.host));
            }
        }
        outside
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        *self == Grants::default()
    }

    /// One plain-English line per grant, for people deciding whether to run a skill.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for n in &self.network {
            lines.push(format!("send HTTP requests to {n}"));
        }
        for f in &self.files {
            let verb = match f.access {
                files::Access::Read => "read",
                files::Access::ReadWrite => "read and change",
            };
            lines.push(format!(
                "{verb} files in {} (seen inside as {})",
                f.host, f.guest
            ));
        }
        for c in &self.channels {
            let what = match c.direction {
                channels::Direction::Send => "send messages on",
                channels::Direction::Receive => "receive messages from",
                channels::Direction::Both => "send and receive messages on",
            };
            lines.push(format!("{what} channel `{}`", c.name));
        }
        for e in &self.env {
            lines.push(format!("read environment variable {e} if the host sets it"));
        }
        for s in &self.secrets {
            let scope = match &s.path {
                Some(path) => format!("{}{path}", s.host),
                None => s.host.to_string(),
            };
            if let Some(header) = &s.header {
                lines.push(format!(
                    "have the host add secret {} to requests for {} (header {header}); the skill never sees it",
                    s.name, s.host
                ));
            }
            if s.exposed_in_env() {
                lines.push(format!(
                    "see a placeholder for secret {} in environment variable {}, which the host replaces by the value only in requests for {scope}; the skill never sees the value",
                    s.name, s.name
                ));
            }
        }
        lines
    }
}

/// What a component import needs, decided from its interface name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportNeed {
    /// Always linked: stdio, clocks, random, I/O, and a filesystem API that
    /// reaches nothing without `files` grants (no preopens).
    Base,
    /// Needs a `network` grant.
    Network,
    /// Needs a `channels` grant.
    Channels,
    /// Linked so that it loads, but every operation is denied and audited
    /// (`wasi:sockets`: raw sockets are never granted).
    AlwaysDenied,
    /// Never available to skills; the string says why and what to use instead.
    Unavailable(&'static str),
}

/// Classifies an import by its interface name (`wasi:http/types@0.2.3`).
pub(crate) fn import_need(name: &str) -> ImportNeed {
    let interface = name.split('@').next().unwrap_or(name);
    let package = interface.split('/').next().unwrap_or(interface);
    match package {
        "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli" | "wasi:filesystem" => {
            ImportNeed::Base
        }
        "wasi:http" => ImportNeed::Network,
        "skills:runtime" if interface == "skills:runtime/channels" => ImportNeed::Channels,
        sockets::PACKAGE => ImportNeed::AlwaysDenied,
        // The Python runner's own interface; linked only for script skills.
        crate::script_runtime::SANDBOX_PACKAGE => ImportNeed::Base,
        _ => ImportNeed::Unavailable("this runtime does not provide it to skills"),
    }
}

/// Builds the linker for one skill: the base interfaces always (WASI 0.3's
/// too on the `concurrent` engine), and each capability's interfaces only
/// when the grants include it. Nothing else is linked, so an import the
/// manifest did not grant cannot even instantiate.
pub(crate) fn build_linker(
    engine: &wasmtime::Engine,
    grants: &Grants,
    concurrent: bool,
) -> wasmtime::Result<Linker<InvocationState>> {
    let mut linker = Linker::new(engine);
    link_base(&mut linker)?;
    file_audit::add_to_linker(&mut linker)?;
    sockets::add_to_linker(&mut linker)?;
    if concurrent {
        wasi03::add_to_linker(&mut linker)?;
    }
    if !grants.channels.is_empty() {
        crate::bindings::skills::runtime::channels::add_to_linker::<_, HasSelf<InvocationState>>(
            &mut linker,
            |s| s,
        )?;
    }
    if !grants.network.is_empty() {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        if concurrent {
            http_p3::add_to_linker(&mut linker)?;
        }
    }
    Ok(linker)
}

/// Gives `wasi:io` its view of the store: the resource table.
struct HasIo;

impl wasmtime::component::HasData for HasIo {
    type Data<'a> = &'a mut wasmtime::component::ResourceTable;
}

/// The interfaces every skill gets. This is wasmtime-wasi's own list less
/// `wasi:sockets` (linked separately, every operation denied): a skill's
/// only way out is the HTTP capability.
fn link_base(l: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    type T = InvocationState;
    use wasmtime_wasi_io::bindings::wasi::io as wasi_io;
    wasi_io::error::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi_io::poll::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi_io::streams::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi::clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    wasi::clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    wasi::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasi::filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasi::random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_classified_by_interface() {
        assert_eq!(import_need("wasi:cli/stdout@0.2.0"), ImportNeed::Base);
        assert_eq!(
            import_need("wasi:filesystem/preopens@0.2.6"),
            ImportNeed::Base
        );
        assert_eq!(
            import_need("wasi:http/outgoing-handler@0.2.0"),
            ImportNeed::Network
        );
        assert_eq!(
            import_need("skills:runtime/channels@0.1.0"),
            ImportNeed::Channels
        );
        for version in ["0.2.0", "0.2.9", "0.2.12"] {
            assert_eq!(
                import_need(&format!("wasi:sockets/tcp@{version}")),
                ImportNeed::AlwaysDenied
            );
        }
        assert!(matches!(
            import_need("evil:host/exec"),
            ImportNeed::Unavailable(_)
        ));
        assert!(matches!(
            import_need("skills:runtime/other@0.1.0"),
            ImportNeed::Unavailable(_)
        ));
    }

    #[test]
    fn narrowing_is_accepted_and_widening_is_named() {
        let wide: Grants = toml::from_str(
            r#"files = [{ guest = "/n", host = "{workspace}/n", access = "read-write" }]
               env = ["LANG"]"#,
        )
        .expect("valid");
        let mut narrow = wide.clone();
        narrow.files[0].access = files::Access::Read;
        narrow.env.clear();
        assert!(narrow.check_within(&wide).is_ok());
        let mut widened = wide.clone();
        widened.env.push(EnvName::parse("HOME").expect("valid"));
        assert_eq!(widened.check_within(&wide), Err("env: HOME".into()));
    }
}
