//! `diff` (what changed between two versions of a skill) and `heartbeat`
//! (run the skills whose schedule is due).

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use skill_runtime::trust::{Change, ChangeKind, PackageDiff};
use skill_runtime::{Package, Runtime, Skill};

use crate::trust::{self, Refusal, TrustArgs};
use crate::{EXIT_SKILL_FAILED, RuntimeArgs, runtime_config};

/// Arguments of `skill-run diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The version you have (a package folder or its SKILL.md).
    old: PathBuf,
    /// The version on offer.
    new: PathBuf,
    /// Print one JSON object: {"capabilities": [...], "instructions": [...], "component": [...]}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Arguments of `skill-run heartbeat`.
#[derive(Args)]
pub struct HeartbeatArgs {
    /// Skill package folders; each with a [schedule] that is due is run once.
    #[arg(required = true)]
    packages: Vec<PathBuf>,
    /// The folder `{workspace}` grants refer to (skills with such grants are skipped without it).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Run every scheduled skill now, due or not.
    #[arg(long)]
    force: bool,
    /// Print one JSON line per skill instead of a report.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn load_for_diff(runtime: &Runtime, path: &std::path::Path) -> Result<(Package, Option<Skill>)> {
    let package = Package::read(path)
        .with_context(|| format!("reading the skill package at {}", path.display()))?;
    let skill = match &package.manifest {
        Some(_) => Some(
            runtime
                .load_package(package.clone())
                .with_context(|| format!("loading the component of {}", path.display()))?,
        ),
        None => None,
    };
    Ok((package, skill))
}

fn print_part(title: &str, changes: &[Change]) {
    say!("{title}");
    if changes.is_empty() {
        say!("  (no change)");
    }
    for c in changes {
        let mark = match c.kind {
            ChangeKind::Granted
            | ChangeKind::Added
            | ChangeKind::Raised
            | ChangeKind::NewFinding => "+",
            ChangeKind::Removed | ChangeKind::Lowered | ChangeKind::ResolvedFinding => "-",
            ChangeKind::Widened => "^",
            ChangeKind::Narrowed => "v",
            _ => "~",
        };
        say!("  {mark} {:<16} {}", c.kind, c.what);
    }
}

pub fn diff(args: DiffArgs) -> Result<u8> {
    let runtime = Runtime::new(runtime_config(&args.runtime))?;
    let (old, old_skill) = load_for_diff(&runtime, &args.old)?;
    let (new, new_skill) = load_for_diff(&runtime, &args.new)?;
    let diff = PackageDiff::between(&old, &new, old_skill.as_ref(), new_skill.as_ref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
        return Ok(0);
    }
    say!("{} -> {}", args.old.display(), args.new.display());
    print_part("Capabilities", &diff.capabilities);
    print_part("Instructions", &diff.instructions);
    print_part("Component", &diff.component);
    Ok(0)
}

pub fn heartbeat(args: HeartbeatArgs) -> Result<u8> {
    let policy = trust::policy(&args.trust)?;
    let runtime = Runtime::new(runtime_config(&args.runtime))?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut worst = 0;
    for path in &args.packages {
        let report = |status: &str, detail: serde_json::Value| {
            if args.json {
                say!(
                    "{}",
                    json!({"package": path, "status": status, "detail": detail})
                );
            } else {
                let text = detail
                    .as_str()
                    .map_or_else(|| detail.to_string(), str::to_owned);
                say!(
                    "{}: {status}{}",
                    path.display(),
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                );
            }
        };
        // One broken package does not stop the others' heartbeats.
        let skill = match trust::admit(&runtime, path, &policy) {
            Ok(skill) => skill,
            Err(Refusal::Refused(code)) => {
                worst = worst.max(code);
                report("refused", json!("see the error above"));
                continue;
            }
            Err(Refusal::Load(e)) => {
                worst = worst.max(crate::EXIT_INVALID);
                report("not loaded", json!(e.to_string()));
                continue;
            }
        };
        let now = SystemTime::now();
        match runtime.heartbeat_due_in(&skill, now) {
            None => {
                report("no schedule", json!(""));
                continue;
            }
            Some(wait) if !wait.is_zero() && !args.force => {
                report(
                    "not due",
                    json!(format!("next run in {}", humantime::format_duration(wait))),
                );
                continue;
            }
            Some(_) => {}
        }
        match tokio.block_on(runtime.run_heartbeat(&skill, args.workspace.clone())) {
            Ok(Some(outcome)) => {
                let ok = outcome.result.is_ok();
                if !ok {
                    worst = worst.max(EXIT_SKILL_FAILED);
                }
                // Whatever the heartbeat fetched is data for the agent, fenced
                // and labelled with where it came from: never new instructions.
                let detail = if args.json {
                    json!({"ok": ok, "untrusted": outcome.is_untrusted(), "origins": outcome.origins, "for_model": outcome.for_model()})
                } else {
                    json!(format!("\n{}", outcome.for_model()))
                };
                report(if ok { "ran" } else { "failed" }, detail);
            }
            Ok(None) => report("no schedule", json!("")),
            Err(e) => {
                worst = worst.max(crate::EXIT_INVALID);
                report("not run", json!(crate::run::invoke_error(&e)));
            }
        }
    }
    Ok(worst)
}
