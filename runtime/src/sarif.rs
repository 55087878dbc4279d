//! SARIF 2.1.0 (the OASIS Static Analysis Results Interchange Format) from
//! findings, so they show up in code scanning and editors: one run, one
//! result per finding, rule ids that are the finding codes, and physical
//! locations (file, line, column in Unicode code points).
//!
//! It takes the generic [`FileFinding`] list, whatever scanner produced it;
//! codes outside [`RULES`] get a rule of their own.

use std::path::{Component, Path};

use serde_json::{Value, json};

use crate::package::Severity;
use crate::package::findings::{FileFinding, RULES};

/// The schema a log names in `$schema`.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The findings of one package, and the folder it was read from (as given).
#[derive(Debug, Clone)]
pub struct Scanned<'a> {
    /// The package folder, relative or absolute, as the user named it.
    pub root: &'a Path,
    /// Its findings.
    pub findings: &'a [FileFinding],
}

/// A package that could not be read at all.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// The path the user gave.
    pub path: &'a Path,
    /// Why, in words.
    pub message: String,
}

/// SARIF's `level` for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The SARIF log for `scanned` packages, by the tool `skill-run` at
/// `version`; `failures` become error notifications and mark the run's
/// invocation unsuccessful.
pub fn log(scanned: &[Scanned<'_>], failures: &[Failure<'_>], version: &str) -> Value {
    let mut rules: Vec<Value> = RULES
        .iter()
        .map(|r| rule_json(r.code, r.summary, r.severity))
        .collect();
    let mut rule_ids: Vec<String> = RULES.iter().map(|r| r.code.to_owned()).collect();
    let mut results = Vec::new();
    for package in scanned {
        for f in package.findings {
            let index = match rule_ids.iter().position(|id| *id == f.code) {
                Some(i) => i,
                None => {
                    rule_ids.push(f.code.clone());
                    rules.push(rule_json(&f.code, &f.code, f.severity));
                    rule_ids.len() - 1
                }
            };
            let mut location =
                json!({ "artifactLocation": { "uri": uri(package.root, f.file.as_deref()) } });
            if let Some(line) = f.line.filter(|l| *l >= 1) {
                let mut region = json!({ "startLine": line });
                if let Some(column) = f.column.filter(|c| *c >= 1) {
                    region["startColumn"] = json!(column);
                }
                location["region"] = region;
            }
            results.push(json!({
                "ruleId": f.code,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [{ "physicalLocation": location }],
            }));
        }
    }
    let notifications: Vec<Value> = failures
        .iter()
        .map(|f| {
            json!({
                "level": "error",
                "message": { "text": f.message },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri(f.path, None) } } }],
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "skill-run",
                "version": version,
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": failures.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn rule_json(code: &str, summary: &str, severity: Severity) -> Value {
    json!({
        "id": code,
        "shortDescription": { "text": summary },
        "defaultConfiguration": { "level": level(severity) },
    })
}

/// A URI reference for `file` in the package at `root`: relative (with `/`
/// and percent-encoding) when `root` is relative, `file:` when absolute.
pub fn uri(root: &Path, file: Option<&str>) -> String {
    let path = match file {
        Some(file) => root.join(file),
        None => root.to_path_buf(),
    };
    if path.is_absolute()
        && let Ok(url) = url::Url::from_file_path(&path)
    {
        return url.to_string();
    }
    let segments: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(encode(&part.to_string_lossy())),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    let joined = segments.join("/");
    match (joined.is_empty(), file) {
        (true, _) => "./".to_owned(),
        (false, None) => format!("{joined}/"),
        (false, Some(_)) => joined,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_when_the_root_is_and_encoded() {
        assert_eq!(
            uri(Path::new("skills/a b/"), Some("SKILL.md")),
            "skills/a%20b/SKILL.md"
        );
        assert_eq!(uri(Path::new("./x"), Some("skill.toml")), "x/skill.toml");
        assert_eq!(uri(Path::new("../shared/x:y"), None), "../shared/x%3Ay/");
        assert_eq!(uri(Path::new("."), None), "./");
        assert!(
            uri(Path::new("/tmp/p q"), Some("SKILL.md")).starts_with("file:///tmp/p%20q/SKILL.md")
        );
    }

    #[test]
    fn one_result_per_finding_with_rule_indexes_and_regions() {
        let findings = [
            FileFinding::new(
                "load-time-command",
                Severity::Error,
                Some("SKILL.md"),
                Some(7),
                Some(3),
                "runs id",
            ),
            FileFinding::new(
                "script-starts-process",
                Severity::Warning,
                Some("scripts/x.py"),
                Some(2),
                None,
                "x",
            ),
            FileFinding::new(
                "invalid-component",
                Severity::Error,
                Some("skill.toml"),
                None,
                None,
                "bad",
            ),
        ];
        let log = log(
            &[Scanned {
                root: Path::new("pkg"),
                findings: &findings,
            }],
            &[],
            "0.1.0",
        );
        let run = &log["runs"][0];
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["ruleId"], "load-time-command");
        assert_eq!(
            run["tool"]["driver"]["rules"]
                [results[0]["ruleIndex"].as_u64().expect("index") as usize]["id"],
            "load-time-command"
        );
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 7, "startColumn": 3})
        );
        // A code from another scanner gets its own rule.
        let i = results[1]["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][i]["id"],
            "script-starts-process"
        );
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "pkg/scripts/x.py"
        );
        assert!(
            results[2]["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }
}
