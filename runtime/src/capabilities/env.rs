//! The `env` capability: environment variable names passed through from the
//! host. Nothing else of the host environment reaches a skill.

use std::collections::BTreeMap;
use std::fmt;

use super::Grants;
use super::capability::{Capability, GrantEntry, check_unique};

/// A validated environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl EnvName {
    /// Parses a variable name such as `LANG`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || text.len() > 256 {
            return Err(format!(
                "`{text}` is not an environment variable name: use letters, digits and `_`, not starting with a digit"
            ));
        }
        Ok(EnvName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_form::text_form!(EnvName);

/// The variables a skill sees: the granted names the host actually has.
/// Everything else the host offers is dropped here.
pub(crate) fn visible_env(
    granted: &[EnvName],
    host_env: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    granted
        .iter()
        .filter_map(|name| {
            host_env
                .get(name.as_str())
                .map(|v| (name.0.clone(), v.clone()))
        })
        .collect()
}

/// The `env` capability: no interface of its own (the environment is part
/// of `wasi:cli`), only which names the invocation's environment holds.
pub(crate) struct Env;

impl Capability for Env {
    fn key(&self) -> &'static str {
        "env"
    }

    fn validate(&self, grants: &Grants) -> Result<(), String> {
        check_unique("env", grants.env.iter().map(EnvName::as_str))
    }

    fn outside(&self, narrow: &Grants, wide: &Grants, out: &mut Vec<GrantEntry>) {
        out.extend(
            narrow
                .env
                .iter()
                .filter(|e| !wide.env.contains(e))
                .map(|e| GrantEntry::Env(e.clone())),
        );
    }

    fn describe(&self, grants: &Grants, lines: &mut Vec<String>) {
        lines.extend(
            grants
                .env
                .iter()
                .map(|e| format!("read environment variable {e} if the host sets it")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_validated() {
        assert!(EnvName::parse("LANG").is_ok());
        assert!(EnvName::parse("_X1").is_ok());
        for bad in ["", "1A", "A-B", "A=B", "PATH "] {
            assert!(EnvName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_granted_names_the_host_has_are_visible() {
        let host: BTreeMap<String, String> = [("LANG", "C"), ("HOME", "/root"), ("PATH", "/bin")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let granted = vec![
            EnvName::parse("LANG").expect("valid"),
            EnvName::parse("TZ").expect("valid"),
        ];
        assert_eq!(
            visible_env(&granted, &host),
            vec![("LANG".to_string(), "C".to_string())]
        );
    }
}
