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
    /// Only requests whose path starts with this prefix get it (all paths when absent).
    #[serde(default, deserialize_with = "path_prefix")]
    pub path: Option<String>,
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

fn path_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    if !text.starts_with('/') || text.contains("..") || super::network::hides_separators(&text) {
        return Err(serde::de::Error::custom(format!(
            "secret path `{text}` must be an absolute path prefix such as \"/api/v1/\""
        )));
    }
    Ok(Some(text))
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

/// Replaces secret values in everything that flows back to a component or
/// out of the runtime. Values shorter than 4 bytes are not scrubbed (they
/// would redact ordinary text) and are refused as secrets instead.
#[derive(Clone, Default)]
pub(crate) struct Scrubber(std::sync::Arc<Vec<String>>);

impl Scrubber {
    pub(crate) fn new(values: Vec<String>) -> Self {
        Scrubber(std::sync::Arc::new(values))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The longest secret, in bytes (what a streaming scrubber must hold back).
    pub(crate) fn longest(&self) -> usize {
        self.0.iter().map(String::len).max().unwrap_or(0)
    }

    /// Whether `tail` is the beginning (but not the whole) of some secret.
    pub(crate) fn prefixes_match(&self, tail: &[u8]) -> bool {
        self.0
            .iter()
            .any(|s| s.len() > tail.len() && s.as_bytes().starts_with(tail))
    }

    /// `text` with every secret replaced.
    pub(crate) fn text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.0.iter().any(|s| text.contains(s.as_str())) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for secret in self.0.iter() {
            out = out.replace(secret.as_str(), REDACTED);
        }
        std::borrow::Cow::Owned(out)
    }

    /// `bytes` with every secret replaced.
    pub(crate) fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for secret in self.0.iter() {
            let needle = secret.as_bytes();
            if needle.is_empty() {
                continue;
            }
            let mut replaced = Vec::with_capacity(out.len());
            let mut i = 0;
            while i < out.len() {
                if out[i..].starts_with(needle) {
                    replaced.extend_from_slice(REDACTED.as_bytes());
                    i += needle.len();
                } else {
                    replaced.push(out[i]);
                    i += 1;
                }
            }
            out = replaced;
        }
        out
    }

    /// A JSON value with secrets replaced in every string.
    pub(crate) fn json(&self, value: serde_json::Value) -> serde_json::Value {
        if self.is_empty() {
            return value;
        }
        let text = value.to_string();
        if !self.0.iter().any(|s| text.contains(s.as_str())) {
            return value;
        }
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(self.text(&s).into_owned()),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(|v| self.json(v)).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k).into_owned(), self.json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubber_replaces_every_occurrence_in_text_bytes_and_json() {
        let s = Scrubber::new(vec!["s3cr3t-value".into()]);
        assert_eq!(
            s.text("Bearer s3cr3t-value and s3cr3t-value"),
            "Bearer [redacted] and [redacted]"
        );
        assert_eq!(s.bytes(b"xs3cr3t-valuex"), b"x[redacted]x");
        let v = serde_json::json!({"k": ["s3cr3t-value"], "s3cr3t-value": 1});
        assert_eq!(
            s.json(v),
            serde_json::json!({"k": ["[redacted]"], "[redacted]": 1})
        );
    }

    #[test]
    fn secret_map_debug_shows_names_only() {
        let m = SecretMap::new([("API_KEY".to_string(), "value-123".to_string())]);
        assert!(!format!("{m:?}").contains("value-123"));
    }
}
