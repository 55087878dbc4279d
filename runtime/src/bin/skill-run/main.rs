//! `skill-run`: load, check, inspect, build and run sandboxed skills.
//!
//! Thin: it parses arguments, calls the `skill_runtime` library, prints.
//! Exit codes: 0 success; 1 the skill failed; 2 bad usage or an invalid
//! package; 3 a limit was hit.

#[macro_use]
mod terminal;

mod bench;
mod build;
mod doctor;
mod init;
mod inspect;
mod lifecycle;
mod mcp;
mod run;
mod sarif;
mod scaffold;
mod script_run;
mod shipped;
mod toolchain;
mod trust;
mod vendor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use skill_runtime::{CacheStatus, RuntimeConfig, Skill};

/// Exit code: the skill failed (its own error, or a trap).
const EXIT_SKILL_FAILED: u8 = 1;
/// Exit code: bad usage, or an invalid package.
const EXIT_INVALID: u8 = 2;
/// Exit code: the skill ran into one of its limits (time, memory, output...).
const EXIT_LIMIT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "skill-run",
    version,
    about = "Run AI-agent skills in a WebAssembly sandbox that reaches only what each skill's manifest grants.",
    long_about = "Run AI-agent skills in a WebAssembly sandbox.\n\n\
A skill package is a folder with SKILL.md (instructions for the agent, read as data, never run), \
skill.toml (the capabilities the skill may use) and a WASI component. At run time the component can \
reach only the files, network hosts, channels, environment variables and secrets that skill.toml \
declares; everything else is denied and recorded in the audit log.\n\n\
Exit codes: 0 success, 1 the skill failed, 2 bad usage or invalid package, 3 a limit was hit.",
    after_help = "Examples:\n  \
skill-run inspect examples/hello\n  \
skill-run run examples/hello greet --input '{\"name\": \"Ada\"}'\n  \
skill-run run examples/notes add --input '{\"title\": \"todo\", \"body\": \"milk\"}' --workspace . --audit audit.jsonl\n  \
skill-run new my-skill && skill-run build my-skill\n  \
skill-run keygen --out me.key && skill-run sign my-skill --key me.key\n  \
skill-run run my-skill --trust me.key.pub --lock skills.lock\n  \
skill-run diff old/moltbook new/moltbook\n  \
skill-run bench examples/hello greet --input '{\"name\": \"Ada\"}' -n 20000 --concurrency 2"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one command of a skill and print its result as JSON on stdout.
    Run(run::RunArgs),
    /// Validate a package (manifest, SKILL.md, component, imports): exit 0, or 2 with the reason.
    Check {
        /// The package folder.
        package: PathBuf,
        /// Use FILE as the package's skill.toml (e.g. a reviewed `skill-run init --print` proposal).
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Show what a skill says, what it offers and what it could touch, before running it.
    Inspect(inspect::InspectArgs),
    /// Write a proposed skill.toml for a skill that ships scripts and has none, from a scan of them.
    Init(init::InitArgs),
    /// Install a script skill's requirements into its package's vendor/ folder, as pure-Python wheels only.
    Vendor(vendor::VendorArgs),
    /// Create a new Rust skill in a new folder, ready for `skill-run build`.
    New(scaffold::NewArgs),
    /// Build a Rust, Python or JavaScript skill into the component skill.toml names.
    Build(build::BuildArgs),
    /// Time many invocations of one command in this process: latency percentiles (us), invocations per second, memory.
    Bench(bench::BenchArgs),
    /// Make an Ed25519 key pair for signing skills: OUT (secret, owner-only) and OUT.pub.
    Keygen(trust::KeygenArgs),
    /// Sign a package: writes skill.sig over the digest of every file in it.
    Sign(trust::SignArgs),
    /// Check that a package is intact and signed by a trusted key: exit 0, or 2 with the reason.
    Verify(trust::VerifyArgs),
    /// Record a reviewed package's digest and exact capabilities in a lock file.
    Approve(trust::ApproveArgs),
    /// What changed between two versions of a skill: capabilities, instructions, component.
    Diff(lifecycle::DiffArgs),
    /// Run the scheduled command of each skill whose [schedule] is due, once.
    Heartbeat(lifecycle::HeartbeatArgs),
    /// Serve every command of every skill under PATH as an MCP tool (stdio, or Streamable HTTP with --http).
    Mcp(mcp::McpArgs),
    /// Run the sandbox's canary probes on this machine: what is confined and what is not (exit 1 if anything is not).
    #[command(long_about = doctor::LONG_ABOUT, after_help = doctor::EXAMPLES)]
    Doctor(doctor::DoctorArgs),
}

/// When whoever reads our stdout goes away (`skill-run diff … | head`),
/// `println!` panics; stop quietly instead, as other Unix tools do (status
/// 141, as if killed by SIGPIPE). SIGPIPE itself stays ignored, so a server
/// closing an HTTP connection can never kill the process.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check {
            package,
            manifest,
            runtime,
        } => inspect::check(&package, manifest.as_deref(), &runtime),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Init(args) => init::init(args),
        Command::Vendor(args) => vendor::vendor(args),
        Command::New(args) => scaffold::new(args),
        Command::Build(args) => build::build(args),
        Command::Bench(args) => bench::bench(args),
        Command::Keygen(args) => trust::keygen(args),
        Command::Sign(args) => trust::sign(args),
        Command::Verify(args) => trust::verify(args),
        Command::Approve(args) => trust::approve(args),
        Command::Diff(args) => lifecycle::diff(args),
        Command::Heartbeat(args) => lifecycle::heartbeat(args),
        Command::Mcp(args) => mcp::mcp(args),
        Command::Doctor(args) => doctor::doctor(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            say_err!("error: {error:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Where skill state lives unless `--state-dir` says otherwise:
/// `$SKILL_RUN_STATE`, else `$XDG_DATA_HOME/skill-run/state`, else
/// `~/.local/share/skill-run/state`, else `.skill-run/state`.
fn default_state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKILL_RUN_STATE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("skill-run/state");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/share/skill-run/state");
    }
    PathBuf::from(".skill-run/state")
}

/// Where compiled components are kept unless `--cache-dir` says otherwise:
/// `$SKILL_RUN_CACHE_DIR`, else `$XDG_CACHE_HOME/skill-run`, else
/// `$HOME/.cache/skill-run`. (The library reads no environment: it is
/// given this folder.)
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var("SKILL_RUN_CACHE_DIR").map(PathBuf::from).or_else(|| {
        var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|base| base.join("skill-run"))
    })
}

/// Where skill state and compiled components are kept: flags every
/// subcommand that loads a skill shares.
#[derive(Args, Clone, Default)]
pub struct RuntimeArgs {
    /// Where skills keep `{state}` (and the runtime its heartbeat records)
    /// [default: $SKILL_RUN_STATE, else ~/.local/share/skill-run/state].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Compile the component even if a compiled copy is cached, and do not store one.
    #[arg(long)]
    no_cache: bool,
    /// Keep compiled components in DIR [default: $SKILL_RUN_CACHE_DIR, else
    /// $XDG_CACHE_HOME/skill-run, else ~/.cache/skill-run].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
}

/// The runtime settings every subcommand shares.
fn runtime_config(args: &RuntimeArgs) -> RuntimeConfig {
    let config = RuntimeConfig::new(args.state_dir.clone().unwrap_or_else(default_state_root))
        .with_python_runner(script_run::python_runner());
    if args.no_cache {
        return config;
    }
    match args.cache_dir.clone().or_else(default_cache_dir) {
        Some(dir) => config.with_compile_cache(dir),
        None => config,
    }
}

/// Tells the user on stderr when the cache refused an entry or could not store one.
fn report_cache(skill: &Skill) {
    match skill.cache_status() {
        CacheStatus::Replaced(why) => eprintln!(
            "warning: the cached compilation of `{}` was not used ({why}); it was compiled again and replaced",
            skill.name()
        ),
        CacheStatus::NotStored(why) => eprintln!(
            "warning: `{}` was compiled but not cached ({why}); pass --no-cache to stop trying",
            skill.name()
        ),
        // Disabled, a hit or a miss: nothing to warn about.
        _ => {}
    }
}
