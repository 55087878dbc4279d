//! The `secrets` capability as declared: which secret may be added to
//! requests for which host, in which header and format.
//!
//! Values are never part of a skill's environment, files or memory: the host
//! adds them to matching outgoing requests. Injection happens in the network
//! capability (see `network`), which is the only place requests leave.

use serde::Deserialize;

use super::env::EnvName;

/// One `secrets` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// The secret's name; the CLI reads the environment variable of that name.
    pub name: EnvName,
    /// The exact host (no wildcard) whose requests receive it.
    #[serde(deserialize_with = "exact_host")]
    pub host: String,
    /// The request header it is written into.
    #[serde(deserialize_with = "header_name")]
    pub header: String,
    /// How the value is written; `{}` stands for the value. Default `{}`.
    #[serde(default = "plain_format", deserialize_with = "format_with_placeholder")]
    pub format: String,
}

fn plain_format() -> String {
    "{}".into()
}

fn exact_host<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match url::Host::parse(&text) {
        Ok(url::Host::Domain(domain)) if !domain.contains('*') => Ok(domain),
        Ok(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        _ => Err(serde::de::Error::custom(format!(
            "secret host `{text}` must be one exact host name, e.g. \"api.example.com\" (no scheme, path or wildcard)"
        ))),
    }
}

fn header_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if text.is_empty() || !text.chars().all(token) {
        return Err(serde::de::Error::custom(format!(
            "`{text}` is not an HTTP header name"
        )));
    }
    Ok(text)
}

fn format_with_placeholder<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.matches("{}").count() != 1 || text.contains(['\r', '\n']) {
        return Err(serde::de::Error::custom(format!(
            "secret format `{text}` must contain `{{}}` exactly once and no line breaks, e.g. \"Bearer {{}}\""
        )));
    }
    Ok(text)
}
