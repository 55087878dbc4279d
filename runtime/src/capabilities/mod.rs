//! Capabilities: what a skill may touch. One module per capability parses
//! its part of `skill.toml` into types and implements the steps of
//! [`capability::Capability`] (check the manifest, answer imports, link,
//! name and describe its grants); this module gathers the grants into
//! [`Grants`], whose methods loop over the registered capabilities.

pub(crate) mod base;
pub(crate) mod capability;
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

pub use capability::GrantEntry;

use serde::Deserialize;

use channels::ChannelGrant;
use env::EnvName;
use files::FileGrant;
use network::NetworkGrant;
use secrets::SecretGrant;

/// Everything a skill may reach, as typed values. [`Grants::default`] grants
/// nothing: no hosts, folders, channels, variables or secrets.
///
/// It serialises in the manifest's own form (`[capabilities]` of
/// `skill.toml`), which is also what `inspect --json` shows and what the
/// lock file records; reading that form back gives the same grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
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
            Some(entry) => Err(entry.to_string()),
            None => Ok(()),
        }
    }

    /// Every entry of `self` that no entry of `wider` covers, in the order
    /// of [`Grants::describe`]; each displays as `key: entry` (for example
    /// `network: https://evil.example/`).
    pub fn outside(&self, wider: &Grants) -> Vec<GrantEntry> {
        let mut outside = Vec::new();
        for capability in capability::CAPABILITIES {
            capability.outside(self, wider, &mut outside);
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
        for capability in capability::CAPABILITIES {
            capability.describe(self, &mut lines);
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
