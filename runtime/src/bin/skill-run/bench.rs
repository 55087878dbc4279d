//! `skill-run bench`: many invocations of one command in this process, with
//! latency percentiles, throughput and memory figures.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use skill_runtime::{Invocation, Runtime, Skill};

use crate::{EXIT_SKILL_FAILED, RuntimeArgs, report_cache, runtime_config};

/// Arguments of `skill-run bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// The package folder.
    package: PathBuf,
    /// The command to run; may be left out when the skill has only one.
    command: Option<String>,
    /// The input as JSON, the same for every invocation.
    #[arg(long, default_value = "{}")]
    input: String,
    /// How many invocations to time (after a short warm-up), 1 to 10,000,000.
    #[arg(short = 'n', long = "invocations", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    invocations: u32,
    /// How many run at once, 1 to 1,024.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    /// The folder `{workspace}` grants refer to [default: the current folder].
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Print one JSON object: p50_us, p90_us, p99_us, max_us, per_sec and the memory figures.
    #[arg(long)]
    json: bool,
    /// Also time the same call as an MCP `tools/call` through a `skill-run mcp` child on stdio
    /// (reported under "mcp", with its p50 overhead over the bare invocation).
    #[arg(long)]
    mcp: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Resident memory of this process and its peak so far, in bytes (Linux; zeros elsewhere).
fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The 1, 5 and 15 minute load averages (Linux; empty elsewhere): figures
/// from a shared machine mean little without them.
fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The value at `fraction` of sorted `samples` (nearest rank).
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0
}

/// Runs `count` invocations, `concurrency` at a time; their latencies and the wall time.
async fn drive(
    skill: &Skill,
    request: &Invocation,
    count: u32,
    concurrency: u32,
) -> Result<(Vec<Duration>, Duration)> {
    let next = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (skill, request, next) = (skill.clone(), request.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let begun = Instant::now();
                let outcome = skill.invoke(request.clone()).await?;
                latencies.push(begun.elapsed());
                if let Err(failure) = outcome.result {
                    bail!(
                        "an invocation failed, so the figures would not mean anything: {}",
                        failure.message()
                    );
                }
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(count as usize);
    for worker in workers {
        latencies.extend(worker.await.context("a benchmark worker stopped")??);
    }
    Ok((latencies, started.elapsed()))
}

pub fn bench(args: BenchArgs) -> Result<u8> {
    let input: Value = serde_json::from_str(&args.input).context(
        "--input is not valid JSON; quote it for your shell, e.g. --input '{\"name\": \"Ada\"}'",
    )?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let runtime = Runtime::new(runtime_config(&args.runtime))?;
    let (rss_before_load, _) = resident();
    let load_started = Instant::now();
    // No trust flags here: admitted with the default policy, read once.
    let skill = runtime
        .admit(&args.package, &skill_runtime::TrustPolicy::default())
        .map_err(anyhow::Error::new)
        .and_then(|admitted| Ok(admitted.into_skill()?))
        .with_context(|| format!("loading skill from {}", args.package.display()))?;
    let load_time = load_started.elapsed();
    report_cache(&skill);
    let command = match (&args.command, skill.commands().as_slice()) {
        (Some(c), _) => c.clone(),
        (None, [only]) => only.name.clone(),
        (None, _) => bail!(
            "skill `{}` has several commands (or is a wasi:cli/command): name the one to benchmark",
            skill.name()
        ),
    };
    let workspace = match &args.workspace {
        Some(w) => w.clone(),
        None => std::env::current_dir().context("reading the current folder")?,
    };
    let request = Invocation::new(&command)
        .input(input.clone())
        .workspace(workspace);

    let warm_up = (args.invocations / 10).clamp(1, 200);
    let figures = tokio.block_on(async {
        drive(&skill, &request, warm_up, args.concurrency).await?;
        let (rss_idle, hwm_idle) = resident();
        let cpu_before = crate::mcp::bench::cpu_ns(None);
        let (mut latencies, wall) =
            drive(&skill, &request, args.invocations, args.concurrency).await?;
        let cpu = crate::mcp::bench::cpu_ns(None).saturating_sub(cpu_before);
        let (_, hwm_run) = resident();
        latencies.sort_unstable();
        anyhow::Ok((latencies, wall, rss_idle, hwm_idle, hwm_run, cpu))
    });
    let (latencies, wall, rss_idle, hwm_idle, hwm_run, cpu) = match figures {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_SKILL_FAILED);
        }
    };
    let per_sec = f64::from(args.invocations) / wall.as_secs_f64();
    // Memory: what loading the skill added, and how far the peak rose above
    // the idle level per invocation in flight. Resident-set figures are
    // rough (allocator caches, lazily touched pages) but comparable between runs.
    let idle_skill = rss_idle.saturating_sub(rss_before_load);
    let per_in_flight =
        hwm_run.saturating_sub(hwm_idle.max(rss_idle)) / u64::from(args.concurrency.max(1));
    let report = json!({
        "skill": skill.name(),
        "command": command,
        "invocations": args.invocations,
        "concurrency": args.concurrency,
        "p50_us": micros(percentile(&latencies, 0.50)),
        "p90_us": micros(percentile(&latencies, 0.90)),
        "p99_us": micros(percentile(&latencies, 0.99)),
        "max_us": micros(percentile(&latencies, 1.0)),
        "per_sec": per_sec.round(),
        "load_ms": (load_time.as_secs_f64() * 1e4).round() / 10.0,
        "cache": skill.cache_status(),
        "loaded_skill_bytes": idle_skill,
        "in_flight_bytes": per_in_flight,
        "cpu_us_per_call": micros(Duration::from_nanos(cpu / u64::from(args.invocations))),
    });
    let mut report = report;
    if args.mcp {
        let mcp = mcp_figures(&args, skill.name(), &command, &input)?;
        let overhead =
            mcp["p50_us"].as_f64().unwrap_or(0.0) - report["p50_us"].as_f64().unwrap_or(0.0);
        report["mcp_overhead_p50_us"] = json!((overhead * 10.0).round() / 10.0);
        report["mcp"] = mcp;
    }
    report["load_average"] = json!(load_average());
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} {}: {} invocations, {} at a time\n  latency  p50 {} us  p90 {} us  p99 {} us  max {} us\n  throughput  {} invocations/s\n  load  {} ms ({})\n  memory  loaded skill ~{} KiB, per invocation in flight ~{} KiB (resident set)",
            skill.name(),
            command,
            args.invocations,
            args.concurrency,
            report["p50_us"],
            report["p90_us"],
            report["p99_us"],
            report["max_us"],
            report["per_sec"],
            report["load_ms"],
            report["cache"]["status"].as_str().unwrap_or("?"),
            idle_skill / 1024,
            per_in_flight / 1024,
        );
        if args.mcp {
            println!(
                "  over MCP (tools/call on stdio)  p50 {} us  p90 {} us  p99 {} us  {} calls/s  (p50 +{} us)\n  CPU per call  bare {} us; over MCP server {} us, client {} us",
                report["mcp"]["p50_us"],
                report["mcp"]["p90_us"],
                report["mcp"]["p99_us"],
                report["mcp"]["per_sec"],
                report["mcp_overhead_p50_us"],
                report["cpu_us_per_call"],
                report["mcp"]["server_cpu_us_per_call"],
                report["mcp"]["client_cpu_us_per_call"],
            );
        }
        println!("  load average afterwards  {}", report["load_average"]);
    }
    Ok(0)
}

/// The same call through `skill-run mcp` on stdio.
fn mcp_figures(args: &BenchArgs, skill: &str, command: &str, input: &Value) -> Result<Value> {
    let mut server_args = Vec::new();
    if let Some(dir) = &args.runtime.state_dir {
        server_args.extend(["--state-dir".to_owned(), dir.display().to_string()]);
    }
    if args.runtime.no_cache {
        server_args.push("--no-cache".to_owned());
    }
    if let Some(dir) = &args.runtime.cache_dir {
        server_args.extend(["--cache-dir".to_owned(), dir.display().to_string()]);
    }
    if let Some(dir) = &args.workspace {
        server_args.extend(["--workspace".to_owned(), dir.display().to_string()]);
    }
    let figures = crate::mcp::bench::run(&crate::mcp::bench::McpBench {
        package: &args.package,
        skill,
        command,
        input,
        invocations: args.invocations,
        concurrency: args.concurrency,
        server_args,
    })?;
    let latencies = &figures.latencies;
    Ok(json!({
        "p50_us": micros(percentile(latencies, 0.50)),
        "p90_us": micros(percentile(latencies, 0.90)),
        "p99_us": micros(percentile(latencies, 0.99)),
        "max_us": micros(percentile(latencies, 1.0)),
        "per_sec": figures.per_sec.round(),
        "server_cpu_us_per_call": micros(figures.server_cpu),
        "client_cpu_us_per_call": micros(figures.client_cpu),
    }))
}
