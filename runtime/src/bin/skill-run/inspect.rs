//! `skill-run inspect` and `skill-run check`: what a package says and what it
//! could touch, before anything runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};
use skill_runtime::{Grants, Package, Runtime};

use crate::{EXIT_INVALID, RuntimeArgs, report_cache, runtime_config};

/// Arguments of `skill-run inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// A package folder, or a SKILL.md file.
    path: PathBuf,
    /// Print one JSON document instead of a report (shape in the README).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn grants_json(grants: &Grants) -> Value {
    json!({
        "network": grants.network.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "files": grants.files.iter().map(|f| json!({"guest": f.guest.as_str(), "host": f.host.to_string(), "access": f.access})).collect::<Vec<_>>(),
        "channels": grants.channels.iter().map(|c| json!({"name": c.name.as_str(), "direction": c.direction})).collect::<Vec<_>>(),
        "env": grants.env.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "secrets": grants.secrets.iter().map(|s| json!({"name": s.name.as_str(), "host": s.host, "header": s.header})).collect::<Vec<_>>(),
    })
}

/// Builds the inspect document (its shape is documented in the README).
/// Loading the component is part of it: a component that would be refused
/// at run time is reported as a finding.
fn document(path: &Path, runtime_args: &RuntimeArgs) -> Result<Value> {
    let package = Package::read(path)
        .with_context(|| format!("reading the skill package at {}", path.display()))?;
    let mut findings: Vec<Value> = package
        .instructions
        .findings
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            v["file"] = json!("SKILL.md");
            v
        })
        .collect();
    let (grants, limits, component) = match &package.manifest {
        None => (Grants::default(), None, Value::Null),
        Some(manifest) => {
            let runtime = Runtime::new(runtime_config(runtime_args))?;
            let component = match runtime.load_package(package.clone()) {
                Ok(skill) => json!({
                    "path": manifest.component.as_path(),
                    "kind": skill.kind(),
                    "imports": skill.imports(),
                    "commands": skill.commands(),
                }),
                Err(error) => {
                    let code = match error {
                        skill_runtime::LoadError::NameMismatch { .. } => None, // already a SKILL.md finding
                        _ => Some("invalid-component"),
                    };
                    if let Some(code) = code {
                        findings.insert(0, json!({"code": code, "severity": "error", "file": "skill.toml", "line": null, "column": null, "message": error.to_string()}));
                    }
                    json!({"path": manifest.component.as_path(), "error": error.to_string()})
                }
            };
            let l = manifest.limits;
            let limits = json!({
                "memory": l.memory.to_string(), "timeout": l.timeout.to_string(),
                "output": l.output.to_string(), "http-requests": l.http_requests, "http-response": l.http_response.to_string(),
                "disk-write": l.disk_write.to_string(), "disk-files": l.disk_files, "state-size": l.state_size.to_string(), "state-files": l.state_files,
            });
            (manifest.grants.clone(), Some(limits), component)
        }
    };
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
        "capabilities": grants_json(&grants),
        "capabilities_in_words": grants.describe(),
        "limits": limits,
        "component": component,
        "findings": findings,
    }))
}

pub fn inspect(args: InspectArgs) -> Result<u8> {
    let doc = document(&args.path, &args.runtime)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    println!(
        "Skill {}{}",
        text(&doc["name"]),
        doc["version"]
            .as_str()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    println!(
        "  {}",
        if doc["description"].is_null() {
            "(no description)".into()
        } else {
            text(&doc["description"])
        }
    );
    println!();
    let words = doc["capabilities_in_words"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if words.is_empty() {
        println!(
            "It can touch: nothing outside itself (no files, network, channels, environment or secrets)."
        );
    } else {
        println!("It can:");
        for w in words {
            println!("  - {}", text(&w));
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
        println!(
            "Limits: memory {}, timeout {}, output {}{http}",
            text(&limits["memory"]),
            text(&limits["timeout"]),
            text(&limits["output"])
        );
    }
    println!();
    match doc["component"].as_object() {
        None => println!("Instruction-only skill: no component, nothing to run."),
        Some(c) if c.contains_key("error") => {
            println!("Component: cannot be loaded (see findings).")
        }
        Some(c) => {
            println!(
                "Component: {} ({})",
                c["path"].as_str().unwrap_or(""),
                text(&c["kind"])
            );
            for command in c["commands"].as_array().cloned().unwrap_or_default() {
                println!("  command {}", text(&command["name"]));
                println!("    input:  {}", command["input_schema"]);
                println!("    output: {}", command["output_schema"]);
                if let Some(why) = command["uncallable"].as_str() {
                    println!("    cannot be called from JSON: {why}");
                }
            }
            if c["kind"] == "cli" {
                println!(
                    "  a wasi:cli/command: input JSON on stdin, the command name as its first argument"
                );
            }
            println!(
                "  imports: {}",
                c["imports"]
                    .as_array()
                    .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            );
        }
    }
    let ins = &doc["instructions"];
    let count = |key: &str| ins[key].as_array().map_or(0, Vec::len);
    println!();
    println!(
        "Instructions (data for the agent, never run): {} sections, {} code blocks, {} links",
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
        println!("  hosts named: {}", list("hosts", "host"));
    }
    if count("references") > 0 {
        println!("  bundled files referenced: {}", list("references", "path"));
    }
    let mut findings = doc["findings"].as_array().cloned().unwrap_or_default();
    if !findings.is_empty() {
        println!();
        println!("Findings (worst first):");
        let rank = |f: &Value| match f["severity"].as_str() {
            Some("error") => 0,
            Some("warning") => 1,
            _ => 2,
        };
        findings.sort_by_key(|f| (rank(f), f["line"].as_u64().unwrap_or(0)));
        for f in findings {
            let at = f["line"]
                .as_u64()
                .map(|l| format!("{}:{l}: ", text(&f["file"])))
                .unwrap_or_default();
            println!(
                "  {} [{}] {at}{}",
                text(&f["severity"]),
                text(&f["code"]),
                text(&f["message"])
            );
        }
    }
    Ok(0)
}

pub fn check(package: &Path, runtime_args: &RuntimeArgs) -> Result<u8> {
    let runtime = Runtime::new(runtime_config(runtime_args))?;
    match runtime.load(package) {
        Ok(skill) => {
            report_cache(&skill);
            println!(
                "ok: skill `{}` is valid ({} commands, {} imports, all granted)",
                skill.name(),
                skill.commands().len(),
                skill.imports().len()
            );
            Ok(0)
        }
        Err(skill_runtime::LoadError::InstructionOnly { skill }) => {
            println!("ok: skill `{skill}` is instruction-only (SKILL.md, no skill.toml)");
            Ok(0)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(EXIT_INVALID)
        }
    }
}
