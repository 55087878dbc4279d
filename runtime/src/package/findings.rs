//! Findings about a package as one list, each with the file it is in: the
//! shape `inspect --json` prints and SARIF is made from, whichever scanner
//! found it. [`RULES`] is the catalogue of codes the runtime emits.

use serde::{Deserialize, Serialize};

use super::Severity;

/// A finding located in a file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFinding {
    /// Stable identifier (see [`RULES`]; other scanners may add codes).
    pub code: String,
    /// How serious it is.
    pub severity: Severity,
    /// The file, relative to the package folder with `/` separators
    /// (`SKILL.md`, `skill.toml`); `None` for the package as a whole.
    #[serde(default)]
    pub file: Option<String>,
    /// 1-based line, when known.
    #[serde(default)]
    pub line: Option<usize>,
    /// 1-based column in characters (Unicode code points), when known.
    #[serde(default)]
    pub column: Option<usize>,
    /// What was found, in words.
    pub message: String,
}

impl FileFinding {
    /// A finding in `file`.
    pub fn new(
        code: impl Into<String>,
        severity: Severity,
        file: Option<&str>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> FileFinding {
        FileFinding {
            code: code.into(),
            severity,
            file: file.map(str::to_owned),
            line,
            column,
            message: message.into(),
        }
    }
}

/// One finding code: its default severity and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The stable code.
    pub code: &'static str,
    /// Its usual severity (a finding may be milder, e.g. a narrow pattern).
    pub severity: Severity,
    /// One sentence on what it means.
    pub summary: &'static str,
}

const fn rule(code: &'static str, severity: Severity, summary: &'static str) -> Rule {
    Rule {
        code,
        severity,
        summary,
    }
}

/// Every code the runtime emits, in a fixed order (SARIF rule indexes follow it).
pub const RULES: &[Rule] = &[
    rule(
        "load-time-command",
        Severity::Error,
        "A `!`cmd`` span or ```! block that an agent runs in a shell while it loads the skill, before the model reads it.",
    ),
    rule(
        "agent-hooks",
        Severity::Error,
        "Frontmatter `hooks`: shell commands the agent runs on PreToolUse, PostToolUse, Stop and other events.",
    ),
    rule(
        "shell-preapproved",
        Severity::Error,
        "`allowed-tools` pre-approves a shell (`Bash`, `Bash(*)`), or shell commands matching a pattern.",
    ),
    rule(
        "agent-permissions",
        Severity::Error,
        "A frontmatter `permissions` block that changes what the agent may do without asking.",
    ),
    rule(
        "mcp-server",
        Severity::Warning,
        "An MCP server launch spec (command, args, env) or remote MCP server in the frontmatter or its `metadata`.",
    ),
    rule(
        "context-fork",
        Severity::Warning,
        "`context: fork`: the skill runs in a sub-agent whose steps the main conversation does not show.",
    ),
    rule(
        "hidden-hooks",
        Severity::Warning,
        "`disable-model-invocation: true` together with `hooks`: shell commands the model never sees.",
    ),
    rule(
        "lethal-trifecta",
        Severity::Warning,
        "skill.toml grants private data, untrusted input and a way out together.",
    ),
    rule(
        "padding",
        Severity::Warning,
        "Long runs of blank lines, spaces or invisible characters between visible text.",
    ),
    rule(
        "remote-script",
        Severity::Error,
        "A download piped into a shell or interpreter.",
    ),
    rule(
        "remote-instructions",
        Severity::Warning,
        "Fetch something and follow it; a download written over the skill's own instruction files.",
    ),
    rule(
        "hidden-comment",
        Severity::Warning,
        "Text a reader of the rendered page does not see: HTML comments, `[//]: #` lines, hidden HTML.",
    ),
    rule(
        "bidi-control",
        Severity::Error,
        "A bidirectional control character, which makes text read differently from how it runs.",
    ),
    rule(
        "zero-width",
        Severity::Warning,
        "An invisible (zero-width or tag) character.",
    ),
    rule(
        "secret-request",
        Severity::Warning,
        "Names a file that holds secrets, or asks to send or paste a key, token or password.",
    ),
    rule(
        "undeclared-host",
        Severity::Warning,
        "A host the instructions name that no network grant covers.",
    ),
    rule(
        "name-mismatch",
        Severity::Error,
        "SKILL.md and skill.toml name the skill differently.",
    ),
    rule(
        "invalid-name",
        Severity::Warning,
        "The frontmatter's `name` is missing or not a valid skill name.",
    ),
    rule(
        "missing-description",
        Severity::Warning,
        "The frontmatter has no `description`.",
    ),
    rule(
        "invalid-frontmatter",
        Severity::Warning,
        "The frontmatter is missing, unclosed, not valid YAML or not a mapping.",
    ),
    rule(
        "invalid-encoding",
        Severity::Warning,
        "The file is not valid UTF-8.",
    ),
    rule(
        "skill-file-name",
        Severity::Info,
        "The instructions file is named `Skill.md` or `skill.md` rather than `SKILL.md`.",
    ),
    rule(
        "several-skill-files",
        Severity::Warning,
        "More than one of `SKILL.md`, `Skill.md`, `skill.md` exists; one was chosen.",
    ),
    rule(
        "invalid-component",
        Severity::Error,
        "The component would be refused at load.",
    ),
    // The script scanner's codes (`package::scripts::code`): about the files
    // a package ships, each located in its own file.
    rule(
        "unconfined-scripts",
        Severity::Warning,
        "The package ships scripts or binaries that nothing confines: an agent that runs them runs them with the user's rights.",
    ),
    rule(
        "script-runs-process",
        Severity::Warning,
        "A script starts other programs (subprocess, os.system, child_process, backticks).",
    ),
    rule(
        "script-network",
        Severity::Warning,
        "A script uses the network (an HTTP client, sockets, a server, curl or wget).",
    ),
    rule(
        "script-host",
        Severity::Info,
        "A script names a host in a URL.",
    ),
    rule(
        "script-sends-credentials",
        Severity::Warning,
        "A script sends credentials in a request header.",
    ),
    rule(
        "script-reads-env",
        Severity::Info,
        "A script reads an environment variable.",
    ),
    rule(
        "script-reads-secret",
        Severity::Warning,
        "A script reads a secret-looking environment variable, or the whole environment.",
    ),
    rule(
        "script-path-outside",
        Severity::Warning,
        "A script names a path outside the package (home folder, absolute path, temp folder).",
    ),
    rule(
        "script-sensitive-path",
        Severity::Error,
        "A script names a credential store (`~/.ssh`, `.aws/credentials`, `.netrc`, keychains).",
    ),
    rule(
        "script-writes-files",
        Severity::Info,
        "A script writes, moves or deletes files.",
    ),
    rule(
        "script-installs-packages",
        Severity::Warning,
        "A script installs packages or code at run time (pip/npm install, a download piped into a shell).",
    ),
    rule(
        "script-third-party-import",
        Severity::Info,
        "A script imports a package that is neither the standard library nor part of the package.",
    ),
    rule(
        "script-dynamic-code",
        Severity::Warning,
        "A script evaluates code built at run time (eval, exec, new Function, source).",
    ),
    rule(
        "script-not-scanned",
        Severity::Warning,
        "A script was listed but not read (too large, not text, or no scanner for its language).",
    ),
    rule(
        "script-findings-truncated",
        Severity::Warning,
        "A script has more findings than are listed for one file.",
    ),
    rule(
        "bundled-binary",
        Severity::Warning,
        "A native executable or library (ELF, Mach-O, PE) ships with the package.",
    ),
    rule(
        "bundled-archive",
        Severity::Warning,
        "An archive ships with the package; its contents are not inspected.",
    ),
    rule(
        "bundled-wasm",
        Severity::Warning,
        "A WebAssembly file that skill.toml does not name as the component.",
    ),
    rule(
        "package-walk-truncated",
        Severity::Warning,
        "The package walk stopped at a limit; files past it are not listed.",
    ),
    rule(
        "package-cache-skipped",
        Severity::Info,
        "A folder tagged as a cache (`CACHEDIR.TAG`) was not listed.",
    ),
];

/// The rule for `code`, if the runtime emits it.
pub fn rule_for(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// Sorts worst first, then by file, line and column.
pub fn sort(findings: &mut [FileFinding]) {
    findings.sort_by(|a, b| {
        (a.severity, &a.file, a.line, a.column, &a.code)
            .cmp(&(b.severity, &b.file, b.line, b.column, &b.code))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "{} twice", r.code);
            assert!(
                r.code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.code
            );
        }
    }

    #[test]
    fn the_inspect_json_shape_reads_back() {
        let f: FileFinding = serde_json::from_value(serde_json::json!({
            "code": "invalid-component", "severity": "error", "file": "skill.toml",
            "line": null, "column": null, "message": "m"
        }))
        .expect("reads");
        assert_eq!((f.file.as_deref(), f.line), (Some("skill.toml"), None));
    }

    #[test]
    fn every_script_scanner_code_has_a_rule() {
        for code in crate::package::scripts::code::ALL {
            assert!(rule_for(code).is_some(), "{code} is not in RULES");
        }
    }
}
