//! `skill.toml`: the only place capabilities come from. Parsed strictly
//! (unknown keys are errors) into typed grants and limits; every error names
//! the file, line and column, the key and what is allowed.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::capabilities::Grants;
use crate::capabilities::limits::{Limits, LimitsSection, TimeLimit};

/// A skill name as the Agent Skills format defines it: 1 to 64 lowercase
/// letters, digits and single hyphens, not starting or ending with a hyphen.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SkillName(String);

impl SkillName {
    /// Parses a name such as `moltbook` or `pdf-tools`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !text.starts_with('-')
            && !text.ends_with('-')
            && !text.contains("--");
        if !ok {
            return Err(format!(
                "`{text}` is not a skill name: use 1 to 64 lowercase letters, digits and single hyphens, e.g. \"pdf-tools\""
            ));
        }
        Ok(SkillName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SkillName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_form::text_form!(SkillName);

/// The component's path inside the package: relative, no `..`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComponentPath(PathBuf);

impl ComponentPath {
    /// Parses `skill.wasm`, `bin/skill.wasm`; refuses absolute paths and `..`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let path = Path::new(text);
        if text.is_empty() {
            return Err("component path is empty: name the .wasm file, e.g. \"skill.wasm\"".into());
        }
        for part in path.components() {
            match part {
                Component::Normal(_) | Component::CurDir => {}
                _ => {
                    return Err(format!(
                        "component path `{text}` must stay inside the package folder (relative, no `..`)"
                    ));
                }
            }
        }
        Ok(ComponentPath(path.to_path_buf()))
    }

    /// The relative path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for ComponentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

crate::text_form::text_form!(ComponentPath);

fn version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let core = text.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(serde::de::Error::custom(format!(
            "`{text}` is not a version: use MAJOR.MINOR.PATCH, e.g. \"0.1.0\""
        )));
    }
    Ok(text)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    skill: SkillSection,
    #[serde(default)]
    capabilities: Grants,
    #[serde(default)]
    limits: LimitsSection,
    schedule: Option<ScheduleSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleSection {
    every: TimeLimit,
    command: String,
    #[serde(default)]
    input: Option<toml::Value>,
}

/// `[schedule]`: a heartbeat, a command the host runs on its own every so often.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// How often (`every = "4h"`).
    pub every: std::time::Duration,
    /// The command to run.
    pub command: String,
    /// Its input (`input = { ... }`), as JSON; `{}` when absent.
    pub input: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkillSectionFile {
    name: SkillName,
    #[serde(deserialize_with = "version")]
    version: String,
    component: Option<ComponentPath>,
    runtime: Option<ScriptRuntime>,
}

/// `[skill]`, with exactly one of `component` and `runtime` (checked while
/// parsing, so the error points at the table).
#[derive(Debug, Deserialize)]
#[serde(try_from = "SkillSectionFile")]
struct SkillSection {
    name: SkillName,
    version: String,
    executable: Executable,
}

impl TryFrom<SkillSectionFile> for SkillSection {
    type Error = String;

    fn try_from(file: SkillSectionFile) -> Result<Self, String> {
        let executable = match (file.component, file.runtime) {
            (Some(component), None) => Executable::Component(component),
            (None, Some(runtime)) => Executable::Script(runtime),
            (Some(_), Some(_)) => {
                return Err("[skill]: give either `component` (a .wasm file) or `runtime` (\"python\" for a script skill), not both".into());
            }
            (None, None) => {
                return Err("missing field `component` (the skill's .wasm file, e.g. component = \"skill.wasm\"); a script skill says runtime = \"python\" instead".into());
            }
        };
        Ok(SkillSection {
            name: file.name,
            version: file.version,
            executable,
        })
    }
}

/// `[skill].runtime`: the interpreter a script skill's scripts are meant
/// to run in, in place of a `component` of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ScriptRuntime {
    /// `runtime = "python"`: the package's `.py` scripts.
    Python,
    /// `runtime = "javascript"`: the package's `.js`/`.mjs`/`.cjs`/`.ts` scripts.
    Javascript,
    /// `runtime = "shell"`: the package's shell scripts.
    Shell,
}

impl ScriptRuntime {
    /// The value as written in `skill.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptRuntime::Python => "python",
            ScriptRuntime::Javascript => "javascript",
            ScriptRuntime::Shell => "shell",
        }
    }
}

impl fmt::Display for ScriptRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a skill runs: its own component, or its scripts in a script runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Executable {
    /// `component = "x.wasm"`.
    Component(ComponentPath),
    /// `runtime = "python"`: no component of its own.
    Script(ScriptRuntime),
}

/// A validated `skill.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `[skill].name`; equal to SKILL.md's `name`.
    pub name: SkillName,
    /// `[skill].version`.
    pub version: String,
    /// `[skill].component` (relative to the package folder) or `[skill].runtime`.
    pub executable: Executable,
    /// `[capabilities]`.
    pub grants: Grants,
    /// `[limits]` over the defaults.
    pub limits: Limits,
    /// `[limits]` as written, what an approval records.
    pub(crate) limits_written: LimitsSection,
    /// `[schedule]`, if the skill has a heartbeat.
    pub schedule: Option<Schedule>,
}

impl Manifest {
    /// The component's path, or `None` for a script skill.
    pub fn component(&self) -> Option<&ComponentPath> {
        match &self.executable {
            Executable::Component(path) => Some(path),
            Executable::Script(_) => None,
        }
    }

    /// Whether it is a script skill (`runtime = ...` instead of `component`).
    pub fn is_script(&self) -> bool {
        matches!(self.executable, Executable::Script(_))
    }

    /// Parses the text of a `skill.toml`. The error is the full message,
    /// with line, column and the offending text.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let file: ManifestFile = toml::from_str(text).map_err(|e| e.to_string())?;
        crate::capabilities::capability::validate(&file.capabilities)?;
        let schedule = match file.schedule {
            None => None,
            Some(s) => {
                if s.every.0 < std::time::Duration::from_secs(60) {
                    return Err(format!(
                        "schedule.every: `{}` is too often; a heartbeat runs at most once a minute",
                        s.every
                    ));
                }
                let input = match s.input {
                    None => serde_json::Value::Object(Default::default()),
                    Some(v) => serde_json::to_value(v)
                        .map_err(|e| format!("schedule.input: cannot be turned into JSON: {e}"))?,
                };
                Some(Schedule {
                    every: s.every.0,
                    command: s.command,
                    input,
                })
            }
        };
        Ok(Manifest {
            name: file.skill.name,
            version: file.skill.version,
            executable: file.skill.executable,
            grants: file.capabilities,
            limits: Limits::from_section(&file.limits),
            limits_written: file.limits,
            schedule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "[skill]\nname = \"notes\"\nversion = \"0.1.0\"\ncomponent = \"notes.wasm\"\n";

    #[test]
    fn minimal_manifest_grants_nothing_and_uses_default_limits() {
        let m = Manifest::parse(MINIMAL).expect("valid");
        assert!(m.grants.is_empty());
        assert_eq!(m.limits, Limits::default());
    }

    #[test]
    fn a_typo_in_a_key_is_an_error_with_its_location() {
        let text = format!("{MINIMAL}[capabilities]\nnetwrok = [\"https://a.example/\"]\n");
        let err = Manifest::parse(&text).expect_err("typo must fail");
        assert!(err.contains("netwrok"), "{err}");
        assert!(err.contains("line 6"), "{err}");
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn escaping_paths_and_bad_access_are_errors() {
        for (snippet, expect) in [
            (
                "files = [{ guest = \"/n\", host = \"/etc\", access = \"read\" }]",
                "absolute",
            ),
            (
                "files = [{ guest = \"/n\", host = \"{workspace}/../x\", access = \"read\" }]",
                "..",
            ),
            (
                "files = [{ guest = \"/n\", host = \"{state}\", access = \"rw\" }]",
                "read-write",
            ),
        ] {
            let err = Manifest::parse(&format!("{MINIMAL}[capabilities]\n{snippet}\n"))
                .expect_err(snippet);
            assert!(err.contains(expect), "{err}");
        }
        let err = Manifest::parse(&MINIMAL.replace("notes.wasm", "../x.wasm")).expect_err("escape");
        assert!(err.contains("inside the package"), "{err}");
    }

    #[test]
    fn schedule_reads_every_command_and_input() {
        let text = format!(
            "{MINIMAL}[schedule]\nevery = \"4h\"\ncommand = \"feed\"\ninput = {{ limit = 10, sort = \"new\" }}\n"
        );
        let schedule = Manifest::parse(&text)
            .expect("valid")
            .schedule
            .expect("schedule");
        assert_eq!(schedule.every, std::time::Duration::from_secs(4 * 3600));
        assert_eq!(schedule.command, "feed");
        assert_eq!(
            schedule.input,
            serde_json::json!({"limit": 10, "sort": "new"})
        );
        let err = Manifest::parse(&text.replace("4h", "5s")).expect_err("too often");
        assert!(err.contains("at most once a minute"), "{err}");
        let err = Manifest::parse(&text.replace("every", "evry")).expect_err("typo");
        assert!(err.contains("evry"), "{err}");
    }

    #[test]
    fn a_script_skill_names_a_runtime_instead_of_a_component() {
        let script = MINIMAL.replace("component = \"notes.wasm\"", "runtime = \"python\"");
        let m = Manifest::parse(&script).expect("valid");
        assert_eq!(m.executable, Executable::Script(ScriptRuntime::Python));
        assert!(m.component().is_none());
        let both = format!("{MINIMAL}runtime = \"python\"\n");
        assert!(
            Manifest::parse(&both)
                .expect_err("both")
                .contains("not both")
        );
        let neither = MINIMAL.replace("component = \"notes.wasm\"\n", "");
        assert!(
            Manifest::parse(&neither)
                .expect_err("neither")
                .contains("missing field `component`")
        );
        let unknown = MINIMAL.replace("component = \"notes.wasm\"", "runtime = \"cobol\"");
        let err = Manifest::parse(&unknown).expect_err("unknown runtime");
        assert!(err.contains("cobol") && err.contains("python"), "{err}");
    }

    #[test]
    fn secrets_must_go_to_a_granted_host() {
        let text = format!(
            "{MINIMAL}[capabilities]\nnetwork = [\"https://api.example.com/v1/\"]\nsecrets = [{{ name = \"K\", host = \"evil.example\", header = \"Authorization\" }}]\n"
        );
        assert!(
            Manifest::parse(&text)
                .expect_err("ungranted")
                .contains("evil.example")
        );
        let ok = text.replace("evil.example", "api.example.com");
        assert!(Manifest::parse(&ok).is_ok());
    }

    #[test]
    fn a_secret_may_be_exposed_as_a_placeholder_without_a_header() {
        let with = |entry: &str| {
            format!(
                "{MINIMAL}[capabilities]\nnetwork = [\"https://api.example.com/\"]\nsecrets = [{{ name = \"K\", host = \"api.example.com\", {entry} }}]\n"
            )
        };
        let m = Manifest::parse(&with("expose = \"env\"")).expect("placeholder only");
        let secret = &m.grants.secrets[0];
        assert!(secret.exposed_in_env() && secret.header.is_none());
        let both = with("header = \"Authorization\", format = \"Bearer {}\", expose = \"env\"");
        assert!(
            Manifest::parse(&both).expect("both").grants.secrets[0]
                .header
                .is_some()
        );
        // An unknown value is refused where it is written.
        let err = Manifest::parse(&with("expose = \"file\"")).expect_err("unknown");
        assert!(
            err.contains("file") && err.contains("`env`") && err.contains("line 7"),
            "{err}"
        );
        // Neither a header nor a placeholder: it could never be sent.
        let err = Manifest::parse(&with("format = \"{}\"")).expect_err("neither");
        assert!(
            err.contains("secret `K` has no `header`") && err.contains("expose = \"env\""),
            "{err}"
        );
        let err = Manifest::parse(&with("expose = \"env\", format = \"Bearer {}\""))
            .expect_err("format without header");
        assert!(err.contains("has a `format` but no `header`"), "{err}");
        // The placeholder carries the secret's name: still never also an env grant.
        let err = Manifest::parse(
            &with("expose = \"env\"").replace("secrets =", "env = [\"K\"]\nsecrets ="),
        )
        .expect_err("both env and secret");
        assert!(err.contains("both a secret and an env name"), "{err}");
    }
}
