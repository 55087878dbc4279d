//! The `secrets` capability as declared: which secret may be added to
//! requests for which host, in which header and format, and whether the
//! skill sees a placeholder for it in its environment (`expose = "env"`).
//!
//! Values are never part of a skill's environment, files or memory: the host
//! adds them to matching outgoing requests, or writes them over their
//! placeholder in requests to their host (see `placeholders`). Both happen
//! in the network capability (see `http`), the only place requests leave.

use serde::Deserialize;

use super::Grants;
use super::capability::{Capability, GrantEntry, check_unique};
use super::env::EnvName;

/// One `secrets` entry, parsed once when the manifest is read: the header
/// name is a real header name, the host one exact host, the path prefix
/// matched on whole segments like a network grant's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// The secret's name; the CLI reads the environment variable of that name.
    pub name: EnvName,
    /// The exact host (no wildcard) whose requests receive it.
    pub host: SecretHost,
    /// Only requests whose path lies under this prefix get it (all paths
    /// when absent). Matched on whole segments: `/api` covers `/api/x`,
    /// never `/apix`.
    #[serde(default, deserialize_with = "path_prefix")]
    pub path: Option<String>,
    /// The request header it is written into. Optional only for a secret
    /// exposed through the environment (its placeholder says where it goes).
    #[serde(default)]
    pub header: Option<SecretHeader>,
    /// How the value is written into `header`; `{}` stands for the value.
    /// Default `{}`.
    #[serde(default)]
    pub format: SecretFormat,
    /// `expose = "env"`: the skill's environment holds a variable of the
    /// secret's name whose value is a per-invocation placeholder, which the
    /// host replaces by the value in requests to the secret's host only.
    #[serde(default)]
    pub expose: Option<SecretExposure>,
}

/// How a secret is shown to the skill besides the host adding it itself.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SecretExposure {
    /// An environment variable of the secret's name holds a placeholder.
    Env,
}

impl SecretExposure {
    /// The manifest's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretExposure::Env => "env",
        }
    }
}

impl SecretGrant {
    /// Whether the skill's environment holds a placeholder for this secret.
    pub fn exposed_in_env(&self) -> bool {
        self.expose == Some(SecretExposure::Env)
    }

    /// The checks across keys of one entry, for the manifest parser: a
    /// secret needs a `header` unless it is exposed through the
    /// environment, and a `format` only means something with a `header`.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if self.header.is_none() && !self.exposed_in_env() {
            return Err(format!(
                "capabilities.secrets: secret `{name}` has no `header`, so it would never be sent; add header = \"Authorization\" (and a format such as \"Bearer {{}}\"), or expose = \"env\" to give the skill a placeholder it can put in its requests"
            ));
        }
        if self.header.is_none() && self.format != SecretFormat::default() {
            return Err(format!(
                "capabilities.secrets: secret `{name}` has a `format` but no `header`; add the header the format is for, or remove the format"
            ));
        }
        Ok(())
    }

    /// Whether a request to `url` receives this secret: its host is this
    /// host exactly, and its path lies under the prefix.
    pub fn applies_to(&self, url: &url::Url) -> bool {
        url.host().is_some_and(|h| self.host.matches(&h))
            && self
                .path
                .as_deref()
                .is_none_or(|p| super::network::path_under(p, url.path()))
    }
}

/// One exact host: a lower-case domain name or an IP address.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHost(String);

impl SecretHost {
    /// Parses `api.example.com` or an IP address; no scheme, path or wildcard.
    pub fn parse(text: &str) -> Result<Self, String> {
        match url::Host::parse(text) {
            Ok(url::Host::Domain(domain)) if !domain.contains('*') && !domain.is_empty() => {
                Ok(SecretHost(domain))
            }
            Ok(url::Host::Ipv4(ip)) => Ok(SecretHost(ip.to_string())),
            Ok(url::Host::Ipv6(ip)) => Ok(SecretHost(ip.to_string())),
            _ => Err(format!(
                "secret host `{text}` must be one exact host name, e.g. \"api.example.com\" (no scheme, path or wildcard)"
            )),
        }
    }

    /// Whether `host` is this host (names compared after normalisation, IPs as IPs).
    pub fn matches(&self, host: &url::Host<&str>) -> bool {
        match host {
            url::Host::Domain(d) => d.eq_ignore_ascii_case(&self.0),
            url::Host::Ipv4(ip) => self.0.parse::<std::net::Ipv4Addr>().is_ok_and(|m| m == *ip),
            url::Host::Ipv6(ip) => self.0.parse::<std::net::Ipv6Addr>().is_ok_and(|m| m == *ip),
        }
    }
}

impl std::ops::Deref for SecretHost {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_form::text_form!(SecretHost);

/// A request header name, parsed once; shown as written.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHeader {
    name: http::HeaderName,
    written: String,
}

impl SecretHeader {
    /// Parses an HTTP header name (a token: letters, digits, ``!#$%&'*+-.^_`|~``).
    pub fn parse(text: &str) -> Result<Self, String> {
        http::HeaderName::from_bytes(text.as_bytes())
            .map(|name| SecretHeader {
                name,
                written: text.to_owned(),
            })
            .map_err(|_| format!("`{text}` is not an HTTP header name"))
    }

    /// The parsed name.
    pub fn name(&self) -> &http::HeaderName {
        &self.name
    }

    /// The name as written in the manifest.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl PartialEq for SecretHeader {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for SecretHeader {}

impl std::hash::Hash for SecretHeader {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for SecretHeader {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SecretHeader {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.as_str().cmp(other.name.as_str())
    }
}

impl std::fmt::Display for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

crate::text_form::text_form!(SecretHeader);

/// How a value is written into its header: the text before and after `{}`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SecretFormat {
    before: String,
    after: String,
}

impl SecretFormat {
    /// Parses `"Bearer {}"`: `{}` exactly once, no line breaks.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once("{}") {
            Some((before, after))
                if !after.contains("{}") && !text.contains(['\r', '\n', '\0']) =>
            {
                Ok(SecretFormat {
                    before: before.to_owned(),
                    after: after.to_owned(),
                })
            }
            _ => Err(format!(
                "secret format `{text}` must contain `{{}}` exactly once and no line breaks, e.g. \"Bearer {{}}\""
            )),
        }
    }

    /// `value` written in this format.
    pub fn apply(&self, value: &str) -> String {
        format!("{}{value}{}", self.before, self.after)
    }
}

impl std::fmt::Display for SecretFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{{}}{}", self.before, self.after)
    }
}

crate::text_form::text_form!(SecretFormat);

fn path_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    if !text.starts_with('/') || text.contains("..") || super::network::hides_separators(&text) {
        return Err(serde::de::Error::custom(format!(
            "secret path `{text}` must be an absolute path prefix such as \"/api/v1/\""
        )));
    }
    Ok(Some(text))
}

/// Where a host's secret values come from. The runtime asks only for the
/// names a skill's manifest declares.
pub trait SecretSource: Send + Sync {
    /// The value of secret `name`, if the host has it.
    fn secret(&self, name: &str) -> Option<String>;
}

/// A fixed set of secret values.
#[derive(Default)]
pub struct SecretMap(std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values never appear in logs.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretMap {
    /// Secrets from name/value pairs.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        SecretMap(pairs.into_iter().collect())
    }
}

impl SecretSource for SecretMap {
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// The text that replaces a secret wherever it would flow back.
pub const REDACTED: &str = "[redacted]";

pub(crate) use super::scrubber::{MAX_SECRET_BYTES, Scrubber};

/// The `secrets` capability: no interface of its own; the HTTP capability
/// adds each secret to requests for its host, and a secret exposed as
/// `env` shows the skill a placeholder ([`super::placeholders`]).
pub(crate) struct Secrets;

impl Capability for Secrets {
    fn key(&self) -> &'static str {
        "secrets"
    }

    fn validate(&self, grants: &Grants) -> Result<(), String> {
        check_unique("secrets", grants.secrets.iter().map(|s| s.name.as_str()))?;
        for secret in &grants.secrets {
            secret.check()?;
        }
        if let Some(both) = grants.secrets.iter().find(|s| grants.env.contains(&s.name)) {
            return Err(format!(
                "capabilities: `{}` is both a secret and an env name; a secret's value is never passed as an environment variable; remove it from env (expose = \"env\" on the secret gives the skill a placeholder under that name instead)",
                both.name
            ));
        }
        if let Some(s) = grants
            .secrets
            .iter()
            .find(|s| !grants.network.iter().any(|n| n.covers_host(&s.host)))
        {
            return Err(format!(
                "capabilities.secrets: secret `{}` is for host `{}`, which no [capabilities].network grant names; add that host to network or fix the secret's host",
                s.name, s.host
            ));
        }
        Ok(())
    }

    fn outside(&self, narrow: &Grants, wide: &Grants, out: &mut Vec<GrantEntry>) {
        out.extend(
            narrow
                .secrets
                .iter()
                .filter(|s| !wide.secrets.contains(s))
                .map(|s| GrantEntry::Secret(s.clone())),
        );
    }

    fn describe(&self, grants: &Grants, lines: &mut Vec<String>) {
        for s in &grants.secrets {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(toml_text: &str) -> Result<SecretGrant, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn test_secret_grant_is_parsed_once_into_types() {
        let g = grant("name = \"K\"\nhost = \"API.Example.com\"\npath = \"/api/v1\"\nheader = \"Authorization\"\nformat = \"Bearer {}\"")
            .expect("valid");
        assert_eq!(g.host.to_string(), "api.example.com");
        assert_eq!(
            g.header.as_ref().map(SecretHeader::name),
            Some(&http::header::AUTHORIZATION)
        );
        assert_eq!(g.format.apply("v"), "Bearer v");
        let url = |t: &str| url::Url::parse(t).expect("url");
        assert!(g.applies_to(&url("https://api.example.com/api/v1/x")));
        assert!(g.applies_to(&url("https://api.example.com/api/v1")));
        assert!(!g.applies_to(&url("https://api.example.com/api/v1-internal/x")));
        assert!(!g.applies_to(&url("https://other.example.com/api/v1/x")));
        assert!(grant("name = \"K\"\nhost = \"*.example.com\"\nheader = \"A\"").is_err());
        assert!(grant("name = \"K\"\nhost = \"a.example\"\nheader = \"Bad Header\"").is_err());
        assert!(
            grant("name = \"K\"\nhost = \"a.example\"\nheader = \"A\"\nformat = \"{}{}\"").is_err()
        );
    }

    #[test]
    fn secret_map_debug_shows_names_only() {
        let m = SecretMap::new([("API_KEY".to_string(), "value-123".to_string())]);
        assert!(!format!("{m:?}").contains("value-123"));
    }
}
