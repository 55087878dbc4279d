//! `skill-run run`: one invocation, its result on stdout, its channel
//! messages and audit events where the user asked for them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::{
    AuditEvent, Failure, Invocation, InvokeError, MemoryChannels, NetworkOverride, Runtime,
    SecretMap, SentMessage,
};

use crate::trust::{self, Refusal, TrustArgs};
use crate::{
    EXIT_INVALID, EXIT_LIMIT, EXIT_SKILL_FAILED, RuntimeArgs, report_cache, runtime_config,
};

/// Arguments of `skill-run run`.
#[derive(Args)]
pub struct RunArgs {
    /// The package folder (SKILL.md, skill.toml, the component).
    package: PathBuf,
    /// The command to run; may be left out when the skill has only one.
    command: Option<String>,
    /// Use FILE as the package's skill.toml (e.g. a reviewed `skill-run init --print` proposal
    /// for a package you do not want to write to). Not with --trust or --lock: their checks
    /// cover the package's own skill.toml.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trust", "lock"])]
    manifest: Option<PathBuf>,
    /// The input as JSON: an object with one key per parameter.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input JSON from a file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    input_file: Option<PathBuf>,
    /// The folder `{workspace}` grants refer to [default: the current folder].
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Append audit events to FILE as JSON lines (one per capability use or denial).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Write sent channel messages to FILE as JSON lines instead of stderr.
    #[arg(long, value_name = "FILE")]
    channel_log: Option<PathBuf>,
    /// Queue a message for the skill to receive: NAME=TEXT (repeatable).
    #[arg(long = "message", value_name = "NAME=TEXT")]
    messages: Vec<String>,
    /// Send a granted origin's requests elsewhere: FROM=TO, e.g.
    /// https://www.moltbook.com=http://127.0.0.1:8080 (tests and walkthroughs; grants,
    /// limits and secrets still apply to FROM). Repeatable.
    #[arg(long = "network-override", value_name = "FROM=TO")]
    network_overrides: Vec<String>,
    /// Print one JSON object instead of the bare result: {"ok", "result" or "error", "untrusted", "origins", "usage", "denied"}.
    #[arg(long)]
    json: bool,
    /// Arguments after `--`: a wasi:cli/command (or preview-1) program sees
    /// them in its argv after the skill and command names.
    #[arg(last = true, value_name = "ARG")]
    args: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn read_input(args: &RunArgs) -> Result<serde_json::Value> {
    let text = match (&args.input, &args.input_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path == Path::new("-") => {
            std::io::read_to_string(std::io::stdin()).context("reading the input from stdin")?
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the input file {}", path.display()))?,
        (None, None) => return Ok(serde_json::Value::Object(Default::default())),
    };
    serde_json::from_str(&text).context(
        "--input is not valid JSON; quote it for your shell, e.g. --input '{\"name\": \"Ada\"}'",
    )
}

/// A JSON-lines writer shared by callbacks.
fn jsonl_file(path: &Path) -> Result<Arc<Mutex<File>>> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(Mutex::new(file)))
}

fn write_line(file: &Mutex<File>, value: &impl serde::Serialize) {
    let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(line) = serde_json::to_string(value) {
        // A full disk must not crash the run; the outcome still reports the events.
        let _ = writeln!(file, "{line}");
    }
}

pub fn run(args: RunArgs) -> Result<u8> {
    let mut input = read_input(&args)?;
    let policy = trust::policy(&args.trust)?;
    let runtime = Runtime::new(runtime_config(&args.runtime))?;
    let audit_file = args.audit.as_deref().map(jsonl_file).transpose()?;
    let admitted = match &args.manifest {
        Some(manifest) => skill_runtime::Package::read_with_manifest(&args.package, manifest)
            .and_then(|package| runtime.load_package(package))
            .map_err(Refusal::Load),
        None => trust::admit(&runtime, &args.package, &policy),
    };
    let skill = match admitted {
        Ok(skill) => {
            report_cache(&skill);
            skill
        }
        Err(Refusal::Refused(code)) => return Ok(code),
        Err(Refusal::Load(error)) => {
            if let Some(file) = &audit_file {
                let name = args
                    .package
                    .file_name()
                    .map_or("?".into(), |n| n.to_string_lossy().into_owned());
                let event = AuditEvent::now(
                    &name,
                    0,
                    skill_runtime::AuditKind::Load,
                    &args.package.display().to_string(),
                    skill_runtime::Decision::Deny,
                    &error.to_string(),
                    None,
                );
                write_line(file, &event);
            }
            return Err(anyhow::Error::new(error)
                .context(format!("loading skill from {}", args.package.display())));
        }
    };

    let script = skill.manifest().is_script();
    if script && args.input.is_none() && args.input_file.is_none() {
        input = crate::script_run::stdin_input()?;
    }
    let channels = MemoryChannels::new();
    let channels = match &args.channel_log {
        Some(path) => {
            let file = jsonl_file(path)?;
            channels.on_send(move |m: &SentMessage| write_line(&file, m))
        }
        None => channels.on_send(|m: &SentMessage| {
            if let Ok(line) = serde_json::to_string(m) {
                eprintln!("{line}");
            }
        }),
    };
    for message in &args.messages {
        let Some((name, text)) = message.split_once('=') else {
            bail!("--message takes NAME=TEXT, got `{message}`");
        };
        channels.push_incoming(name, text);
    }

    let workspace = match &args.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("finding the current folder for {workspace}")?,
    };
    let mut request = match &args.command {
        Some(command) => Invocation::new(command),
        None => Invocation::default_command(),
    }
    .input(input)
    .args(args.args.iter().cloned())
    .workspace(workspace)
    .env(std::env::vars())
    .channels(Arc::new(channels))
    // Each declared secret comes from the environment variable of its name.
    .secrets(Arc::new(SecretMap::new(
        skill.manifest().grants.secrets.iter().filter_map(|s| {
            std::env::var(s.name.as_str())
                .ok()
                .map(|v| (s.name.to_string(), v))
        }),
    )));
    for spec in &args.network_overrides {
        let Some((from, to)) = spec.split_once('=') else {
            bail!("--network-override takes FROM=TO, got `{spec}`");
        };
        request =
            request.network_override(NetworkOverride::parse(from, to).map_err(anyhow::Error::msg)?);
    }
    if let Some(file) = audit_file {
        request = request.audit_sink(Arc::new(move |e: &AuditEvent| write_line(&file, e)));
    }

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = match tokio.block_on(skill.invoke(request)) {
        Ok(outcome) => outcome,
        Err(error) => {
            let hint = match &error {
                // The library says the input is JSON; on the command line that is --input.
                InvokeError::BadInput { .. } if !args.args.is_empty() => {
                    " (with skill-run: --input JSON)"
                }
                _ => "",
            };
            eprintln!("error: {}{hint}", invoke_error(&error));
            return Ok(EXIT_INVALID);
        }
    };

    if script && !args.json {
        return Ok(crate::script_run::finish(&outcome));
    }
    if !outcome.stdout.is_empty() && !script {
        eprint!("{}", indent("skill stdout", &outcome.stdout));
    }
    if !outcome.stderr.is_empty() {
        eprint!("{}", indent("skill stderr", &outcome.stderr));
        if outcome.stderr_dropped > 0 {
            eprintln!(
                "  [skill stderr: {} more bytes dropped]",
                outcome.stderr_dropped
            );
        }
    }
    if !outcome.origins.is_empty() {
        eprintln!(
            "untrusted data: this result contains data from {}",
            outcome.origins.join(", ")
        );
    }
    let denied = outcome
        .audit
        .iter()
        .filter(|e| e.decision == skill_runtime::Decision::Deny)
        .count();
    if args.json {
        let mut doc = serde_json::json!({
            "ok": outcome.result.is_ok(),
            "skill": outcome.skill,
            "command": outcome.command,
            "untrusted": outcome.is_untrusted(),
            "origins": outcome.origins,
            "usage": outcome.usage,
            "denied": denied,
        });
        match &outcome.result {
            Ok(value) => doc["result"] = value.clone(),
            Err(failure) => doc["error"] = serde_json::to_value(failure).unwrap_or_default(),
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(match &outcome.result {
            Ok(_) => 0,
            Err(failure) => exit_code(failure),
        });
    }
    match &outcome.result {
        Ok(value) => {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
            );
            eprintln!(
                "ok: `{}` {} in {:.1} ms, {} audit events ({denied} denied)",
                outcome.skill,
                outcome.command,
                outcome.usage.wall_time.as_secs_f64() * 1000.0,
                outcome.audit.len()
            );
            Ok(0)
        }
        Err(failure) => {
            if let Failure::SkillError {
                value: Some(value), ..
            } = failure
            {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "error": value }))
                        .unwrap_or_default()
                );
            }
            eprintln!("error: {}", failure.message());
            let code = exit_code(failure);
            Ok(code)
        }
    }
}

/// The exit code for a failed invocation: 3 for a limit, 1 otherwise.
pub fn exit_code(failure: &Failure) -> u8 {
    match failure {
        Failure::Limit { .. } => EXIT_LIMIT,
        _ => EXIT_SKILL_FAILED,
    }
}

/// An invocation that could not start, with the flag that fixes it.
pub fn invoke_error(error: &InvokeError) -> String {
    match error {
        InvokeError::SelfModification { .. } => {
            format!("{error} (with skill-run: --workspace DIR, a folder outside the package)")
        }
        _ => error.to_string(),
    }
}

fn indent(label: &str, text: &str) -> String {
    let mut out = format!("[{label}]\n");
    for line in text.lines() {
        out.push_str("  ");
        out.push_str(&crate::terminal::clean(line));
        out.push('\n');
    }
    out
}
