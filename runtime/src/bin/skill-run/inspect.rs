//! `skill-run inspect` and `skill-run check`: what a package says and what it
//! could touch, before anything runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};
use skill_runtime::package::Severity;
use skill_runtime::{FileFinding, Grants, Package, Runtime};

use crate::{EXIT_INVALID, RuntimeArgs, report_cache, runtime_config, shipped};

/// Arguments of `skill-run inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Package folders, or their SKILL.md (or Skill.md, skill.md) files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print JSON instead of a report: one object, or an array of them for several paths (shape in the README).
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print SARIF 2.1.0 instead: one run, one result per finding, for code scanning and editors.
    #[arg(long)]
    sarif: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Builds the inspect document (its shape is documented in the README).
/// Loading the component is part of it: a component that would be refused
/// at run time is reported as a finding.
pub(crate) fn document(path: &Path, runtime_args: &RuntimeArgs) -> Result<Value> {
    let package = Package::read(path)
        .with_context(|| format!("reading the skill package at {}", path.display()))?;
    // One list, as `--json` prints it and SARIF reads it back: SKILL.md and
    // skill.toml findings, then the scanner's findings about shipped scripts.
    let mut findings: Vec<Value> = package.findings().iter().map(|f| json!(f)).collect();
    let scripts = package.scripts();
    findings.extend(scripts.findings.iter().map(|f| json!(f)));
    let (grants, limits, component) = match &package.manifest {
        None => (Grants::default(), None, Value::Null),
        Some(manifest) => {
            let runtime = Runtime::new(runtime_config(runtime_args))?;
            let component = match runtime.load_package(package.clone()) {
                Ok(skill) => json!({
                    "path": manifest.component().map(|c| c.as_path()),
                    "runtime": crate::script_run::runtime_name(manifest),
                    "kind": skill.kind(),
                    "format": skill.format(),
                    "format_description": skill.format().describe(),
                    "imports": skill.imports(),
                    "always_denied": skill.denied_imports(),
                    "commands": skill.commands(),
                }),
                Err(skill_runtime::LoadError::ScriptRuntimeUnavailable { runtime, .. }) => {
                    json!({"path": null, "runtime": runtime, "available": false})
                }
                Err(error @ skill_runtime::LoadError::ScriptRunner { .. }) => {
                    json!({"path": null, "runtime": crate::script_run::runtime_name(manifest), "available": false, "error": error.to_string()})
                }
                Err(error) => {
                    let code = match error {
                        skill_runtime::LoadError::NameMismatch { .. } => None, // already a SKILL.md finding
                        _ => Some("invalid-component"),
                    };
                    if let Some(code) = code {
                        findings.insert(
                            0,
                            json!(FileFinding::new(
                                code,
                                Severity::Error,
                                Some("skill.toml"),
                                None,
                                None,
                                error.to_string(),
                            )),
                        );
                    }
                    json!({"path": manifest.component().map(|c| c.as_path()), "error": error.to_string()})
                }
            };
            let l = manifest.limits;
            let limits = json!({
                "memory": l.memory.to_string(), "timeout": l.timeout.to_string(),
                "output": l.output.to_string(), "http-requests": l.http_requests, "http-response": l.http_response.to_string(), "http-request-body": l.http_request_body.to_string(),
                "disk-write": l.disk_write.to_string(), "disk-files": l.disk_files, "state-size": l.state_size.to_string(), "state-files": l.state_files,
            });
            (manifest.grants.clone(), Some(limits), component)
        }
    };
    // Worst first across SKILL.md, skill.toml and script findings (stable).
    findings.sort_by_key(|f| match f["severity"].as_str() {
        Some("error") => 0,
        Some("warning") => 1,
        _ => 2,
    });
    let body = &package.instructions.body;
    Ok(json!({
        "name": package.name(),
        "description": package.instructions.description(),
        "version": package.manifest.as_ref().map(|m| m.version.clone()),
        "path": package.root,
        "instruction_only": package.manifest.is_none(),
        "frontmatter": package.instructions.frontmatter,
        "instructions": {
            "sections": body.sections,
            "paragraphs": body.paragraphs,
            "code_blocks": body.code_blocks,
            "links": body.links,
            "hosts": body.hosts,
            "references": body.references,
            "text": body.text,
        },
        // The manifest's own form (the library's `Serialize`): a network entry
        // is a URL string or `{ url, methods }`; a secret's `path`, `header`
        // and `expose` are null when the manifest leaves them out.
        "capabilities": serde_json::to_value(&grants)?,
        // An unconfined script comes first: nothing else in the summary applies to it.
        "capabilities_in_words": scripts.statement.iter().cloned().chain(grants.describe()).collect::<Vec<_>>(),
        "limits": limits,
        "component": component,
        "findings": findings,
        "scripts": scripts,
    }))
}

pub fn inspect(args: InspectArgs) -> Result<u8> {
    if args.sarif {
        return crate::sarif::report(&args.paths, &args.runtime);
    }
    let mut docs = Vec::new();
    let mut failed = false;
    for path in &args.paths {
        match document(path, &args.runtime) {
            Ok(doc) => docs.push(doc),
            Err(error) => {
                say_err!("error: {error:#}");
                failed = true;
            }
        }
    }
    if args.json {
        match docs.as_slice() {
            [doc] if args.paths.len() == 1 => println!("{}", serde_json::to_string_pretty(doc)?),
            [] => {}
            _ => println!("{}", serde_json::to_string_pretty(&docs)?),
        }
    } else {
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 {
                say!();
                say!("{}", "-".repeat(72));
            }
            print_report(doc);
        }
    }
    Ok(if failed { EXIT_INVALID } else { 0 })
}

/// Prints one inspect document as a report for a person.
fn print_report(doc: &Value) {
    // Values from the package stay on their line, whatever they contain.
    let text = |v: &Value| crate::terminal::one_line(v.as_str().unwrap_or(""));
    say!(
        "Skill {}{}",
        text(&doc["name"]),
        doc["version"]
            .as_str()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    say!(
        "  {}",
        if doc["description"].is_null() {
            "(no description)".into()
        } else {
            text(&doc["description"])
        }
    );
    say!();
    if let Some(note) = outside_the_sandbox(doc) {
        say!("{note}");
        say!();
    }
    let words = doc["capabilities_in_words"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if words.is_empty() {
        say!(
            "It can touch: nothing outside itself (no files, network, channels, environment or secrets)."
        );
    } else {
        say!("It can:");
        for w in words {
            say!("  - {}", text(&w));
        }
    }
    if let Some(limits) = doc["limits"].as_object() {
        let granted_network = doc["capabilities"]["network"]
            .as_array()
            .is_some_and(|n| !n.is_empty());
        let http = if granted_network {
            format!(", {} HTTP requests", limits["http-requests"])
        } else {
            String::new()
        };
        say!(
            "Limits: memory {}, timeout {}, output {}{http}",
            text(&limits["memory"]),
            text(&limits["timeout"]),
            text(&limits["output"])
        );
    }
    say!();
    match doc["component"].as_object() {
        None if shipped::ships_files(doc) => {}
        None => say!("Instruction-only skill: no component, nothing to run."),
        // A script skill runs in the runner; its scripts are reported above.
        Some(c) if c.get("runtime").is_some_and(|r| !r.is_null()) => {}
        Some(c) if c.contains_key("error") => {
            say!("Component: cannot be loaded (see findings).")
        }
        Some(c) => {
            say!(
                "Component: {} ({}; {})",
                c["path"].as_str().unwrap_or(""),
                text(&c["kind"]),
                text(&c["format_description"])
            );
            for command in c["commands"].as_array().cloned().unwrap_or_default() {
                say!("  command {}", text(&command["name"]));
                say!("    input:  {}", command["input_schema"]);
                say!("    output: {}", command["output_schema"]);
                if let Some(why) = command["uncallable"].as_str() {
                    say!("    cannot be called from JSON: {why}");
                }
            }
            if c["kind"] == "cli" {
                say!(
                    "  a wasi:cli/command: input JSON on stdin, the command name as its first argument"
                );
            }
            say!(
                "  imports: {}",
                c["imports"]
                    .as_array()
                    .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            );
            if let Some(denied) = c["always_denied"].as_array().filter(|a| !a.is_empty()) {
                println!(
                    "  imported but always denied: {} ({})",
                    denied.iter().map(text).collect::<Vec<_>>().join(", "),
                    skill_runtime::capabilities::sockets::SOCKETS_DENIED
                );
            }
        }
    }
    shipped::render(doc);
    let ins = &doc["instructions"];
    let count = |key: &str| ins[key].as_array().map_or(0, Vec::len);
    say!();
    say!(
        "Instructions (data for the agent; this runtime never runs them): {} sections, {} code blocks, {} links",
        count("sections"),
        count("code_blocks"),
        count("links")
    );
    let list = |key: &str, field: &str| {
        ins[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| text(&v[field]))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    if count("hosts") > 0 {
        say!("  hosts named: {}", list("hosts", "host"));
    }
    if count("references") > 0 {
        say!("  bundled files referenced: {}", list("references", "path"));
    }
    let mut findings = doc["findings"].as_array().cloned().unwrap_or_default();
    // Script findings are listed under their file above.
    findings.retain(|f| !shipped::is_script_finding(f));
    if !findings.is_empty() {
        say!();
        say!("Findings (worst first):");
        let rank = |f: &Value| match f["severity"].as_str() {
            Some("error") => 0,
            Some("warning") => 1,
            _ => 2,
        };
        findings.sort_by_key(|f| (rank(f), f["line"].as_u64().unwrap_or(0)));
        for f in findings {
            let at = match (f["line"].as_u64(), f["column"].as_u64()) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}: ", text(&f["file"])),
                (Some(l), None) => format!("{}:{l}: ", text(&f["file"])),
                _ => String::new(),
            };
            say!(
                "  {} [{}] {at}{}",
                text(&f["severity"]),
                text(&f["code"]),
                text(&f["message"])
            );
        }
    }
}

/// What the agent that loads the skill would do on the user's machine,
/// which no grant below limits: said first, so the summary of grants is not
/// read as the whole story.
fn outside_the_sandbox(doc: &Value) -> Option<String> {
    let findings = doc["findings"].as_array()?;
    let mut what: Vec<&str> = Vec::new();
    for (code, words) in [
        ("load-time-command", "runs shell commands while loading it"),
        ("agent-hooks", "runs shell commands from its hooks"),
        (
            "shell-preapproved",
            "may run shell commands without asking you",
        ),
        ("agent-permissions", "gets wider permissions"),
        ("mcp-server", "may start MCP servers"),
    ] {
        if findings.iter().any(|f| f["code"] == code) && !what.contains(&words) {
            what.push(words);
        }
    }
    (!what.is_empty()).then(|| {
        format!(
            "Outside this sandbox: an agent that loads this skill {}, with your rights (see findings). The grants below do not limit that.",
            what.join(", ")
        )
    })
}

pub fn check(package: &Path, manifest: Option<&Path>, runtime_args: &RuntimeArgs) -> Result<u8> {
    let runtime = Runtime::new(runtime_config(runtime_args))?;
    let loaded = match manifest {
        Some(manifest) => Package::read_with_manifest(package, manifest)
            .and_then(|package| runtime.load_package(package)),
        None => runtime.load(package),
    };
    match loaded {
        Ok(skill) if skill.manifest().is_script() => {
            report_cache(&skill);
            say!(
                "ok: skill `{}` is a valid script skill (runtime = \"python\"): `skill-run run {} scripts/NAME.py` runs one of its .py scripts in the sandboxed Python runner, with the package read-only at {} and exactly its grants",
                skill.name(),
                package.display(),
                skill_runtime::script_runtime::PACKAGE_GUEST_PATH
            );
        }
        Ok(skill) => {
            report_cache(&skill);
            say!(
                "ok: skill `{}` is valid: a {} ({}), {} commands, {} imports, all granted",
                skill.name(),
                skill.format(),
                match skill.kind() {
                    skill_runtime::ComponentKind::Typed => "typed",
                    skill_runtime::ComponentKind::Cli => "cli",
                    _ => "other",
                },
                skill.commands().len(),
                skill.imports().len()
            );
            if !skill.denied_imports().is_empty() {
                say!(
                    "note: it also imports {} interfaces whose every operation is denied: {}",
                    skill.denied_imports().len(),
                    skill_runtime::capabilities::sockets::SOCKETS_DENIED
                );
            }
        }
        Err(skill_runtime::LoadError::InstructionOnly { skill }) => {
            say!("ok: skill `{skill}` is instruction-only (SKILL.md, no skill.toml)");
        }
        Err(error @ skill_runtime::LoadError::ScriptRunner { .. }) => {
            say!("ok: a valid script skill, but `skill-run run` cannot run it here: {error}");
        }
        Err(skill_runtime::LoadError::ScriptRuntimeUnavailable { skill, runtime }) => {
            say!(
                "ok: skill `{skill}` is a valid script skill (runtime = \"{runtime}\"); that runtime is not available yet, so `skill-run run` refuses it"
            );
        }
        Err(error) => {
            say_err!("error: {error}");
            return Ok(EXIT_INVALID);
        }
    }
    let reread = match manifest {
        Some(manifest) => Package::read_with_manifest(package, manifest),
        None => Package::read(package),
    };
    if let Ok(package) = reread {
        shipped::check_note(&package.scripts());
    }
    Ok(0)
}
