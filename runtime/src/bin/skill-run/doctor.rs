//! `skill-run doctor`: the runtime's own canary probes, run on this machine
//! from the binary alone (no checkout, no cargo, no network). Each probe
//! tries an escape through the library exactly as a user's skill would,
//! next to a positive control (the same operation inside the grant), and
//! the report says, line by line, what is confined and what is not.

mod guest;
mod host;
mod network;
mod verdict;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use skill_runtime::{Runtime, RuntimeConfig};

use guest::{Guest, World};
use verdict::{Check, Observed, exit_code};

/// `skill-run doctor --help`: what runs and how to read the report.
pub const LONG_ABOUT: &str = "Run the sandbox's canary probes on this machine and print what is confined and what is not.\n\n\
The probes are small WASI programs embedded in this binary (a preview-1 module, a WASI 0.2 component), each packaged in a temporary folder \
with a SKILL.md and a skill.toml and run through the runtime exactly as your skills are. It first does \
something its grants allow (the control), then tries to get past them: read outside a file grant \
(`..`, an absolute path, a symlink out), write to a read-only grant, see an undeclared environment \
variable, exceed the memory, time, output and disk-write limits, reach a host it was not granted or an \
internal address, open a raw socket. Host checks: the instance pool's address-space reservation, the \
compile cache refusing a folder others can write to, the permissions of your cache folder, and that \
every refusal was audited.\n\n\
Each line starts with `ok`, `NOT CONFINED` (the escape worked), `UNVERIFIED` (the control failed \
too, so the probe proves nothing) or `warn` (still confined, but slower or without a cache). \
Exit status: 0 when everything holds, 1 otherwise. Takes a few seconds; the temporary folder is \
removed before it exits.";

/// Examples for `--help`.
pub const EXAMPLES: &str = "Examples:\n  skill-run doctor\n  skill-run doctor --json | jq '.checks[] | select(.verdict != \"ok\")'";

/// Arguments of `skill-run doctor`.
#[derive(Args)]
pub struct DoctorArgs {
    /// Print one JSON object: {"confined", "elapsed_ms", "checks": [{"id", "tried", "happened", "control", "verdict"}]}.
    #[arg(long)]
    json: bool,
    /// The compile cache folder to inspect [default: the one `run` uses: $SKILL_RUN_CACHE_DIR,
    /// else $XDG_CACHE_HOME/skill-run, else ~/.cache/skill-run].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// Every check, in report order. The probes' folder is gone when this returns.
fn run_checks(args: &DoctorArgs) -> Result<Vec<Check>> {
    let world = World::new()?;
    let private_cache = world.root().join("cache");
    let before = host::virtual_size();
    let runtime =
        Runtime::new(RuntimeConfig::new(world.state_root()).with_compile_cache(&private_cache))
            .context("creating the runtime")?;
    let reserved = before
        .zip(host::virtual_size())
        .map(|(before, after)| after.saturating_sub(before));
    let skill = runtime
        .load(world.package())
        .context("loading the embedded probe (a bug in skill-run: please report it)")?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let guest = Guest {
        skill: &skill,
        world: &world,
        tokio: &tokio,
    };
    let (mut checks, unaudited) = guest.checks()?;
    checks.push(network::policy()?);
    checks.push(network::special_addresses());
    checks.push(network::raw_sockets(&runtime, &world, true)?);
    checks.push(network::component_sockets(&runtime, &world, &tokio)?);
    checks.push(Check::host(
        "audit.denials",
        "find each refused file access above in its invocation's audit events",
        if unaudited.is_empty() {
            Observed::held("every refusal was recorded as a denial")
        } else {
            Observed::failed(format!("NOT RECORDED for {}", unaudited.join(", ")))
        },
    ));
    checks.push(host::pool(&runtime, reserved));
    let first_status = skill.cache_status().clone();
    drop(skill);
    drop(runtime);
    checks.push(host::cache_refusal(&world, &private_cache, &first_status)?);
    let cache_dir = args.cache_dir.clone().or_else(crate::default_cache_dir);
    checks.push(host::cache_folder(cache_dir.as_deref()));
    world.remove()?;
    Ok(checks)
}

pub fn doctor(args: DoctorArgs) -> Result<u8> {
    let started = Instant::now();
    let checks = run_checks(&args)?;
    let elapsed = started.elapsed();
    let code = exit_code(&checks);
    if args.json {
        let doc = serde_json::json!({
            "confined": code == 0,
            "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "checks": checks,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(code);
    }
    println!(
        "skill-run doctor: {} canary probes of the sandbox on this machine",
        checks.len()
    );
    for check in &checks {
        println!("{}", crate::terminal::clean(&check.line()));
    }
    let failed = checks.iter().filter(|c| !c.verdict.holds()).count();
    if failed == 0 {
        println!(
            "All {} checks hold ({:.1} s).",
            checks.len(),
            elapsed.as_secs_f64()
        );
    } else {
        println!(
            "{failed} of {} checks do NOT hold ({:.1} s): see the lines above.",
            checks.len(),
            elapsed.as_secs_f64()
        );
    }
    Ok(code)
}
