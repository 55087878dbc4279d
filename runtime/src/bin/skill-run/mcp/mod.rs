//! `skill-run mcp`: every command of every skill under the PATHs becomes an
//! MCP tool, run in a fresh, grant-limited instance per call; each skill's
//! SKILL.md is offered as a prompt and as resources. Stdio by default,
//! Streamable HTTP with `--http`.

mod annotations;
pub mod bench;
mod calls;
mod catalog;
mod http;
mod instructions;
mod naming;
mod pace;
mod results;
mod server;
mod stdin;
mod watch;
mod wit_docs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::trust::TrustedKeys;
use skill_runtime::{NetworkOverride, Runtime};
use tokio_util::sync::CancellationToken;

use crate::{RuntimeArgs, runtime_config};
use catalog::{Catalog, Policy};
use server::{Peers, SkillServer};

/// Arguments of `skill-run mcp`.
#[derive(Args)]
pub struct McpArgs {
    /// Package folders, or folders whose subfolders are packages.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (ADDR: HOST:PORT, or a port on 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// With --http: clients must send `Authorization: Bearer <the token in FILE>`.
    #[arg(long, value_name = "FILE", requires = "http")]
    token: Option<PathBuf>,
    /// With --http: also accept this `Host` header value (repeatable; loopback names always are).
    #[arg(long = "allow-host", value_name = "HOST", requires = "http")]
    allow_hosts: Vec<String>,
    /// With --http: also accept requests from this browser `Origin` (repeatable; loopback origins always are).
    #[arg(long = "allow-origin", value_name = "ORIGIN", requires = "http")]
    allow_origins: Vec<String>,
    /// Append audit events of every call to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Serve only packages signed by this key, or by any *.pub in this folder (repeatable).
    #[arg(long = "trust", value_name = "KEY.pub|DIR")]
    trust: Vec<PathBuf>,
    /// Serve only skills approved in this lock file, asking for nothing beyond their approval.
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,
    /// With --lock: also refuse a package that changed at all since approval.
    #[arg(long, requires = "lock")]
    frozen: bool,
    /// The folder `{workspace}` grants refer to [default: the current folder].
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Send a granted origin's requests elsewhere: FROM=TO (tests and walkthroughs; grants,
    /// limits and secrets still apply to FROM). Repeatable.
    #[arg(long = "network-override", value_name = "FROM=TO")]
    network_overrides: Vec<String>,
    /// How often packages are checked for changes on disk, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
    watch_interval_ms: u64,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn policy(args: &McpArgs) -> Result<Policy> {
    let keys = if args.trust.is_empty() {
        None
    } else {
        let mut keys = TrustedKeys::default();
        for path in &args.trust {
            keys.add_path(path)?;
        }
        Some(keys)
    };
    Ok(Policy {
        keys,
        lock: args.lock.clone(),
        frozen: args.frozen,
    })
}

fn overrides(args: &McpArgs) -> Result<Vec<NetworkOverride>> {
    args.network_overrides
        .iter()
        .map(|spec| {
            let Some((from, to)) = spec.split_once('=') else {
                bail!("--network-override takes FROM=TO, got `{spec}`");
            };
            NetworkOverride::parse(from, to).map_err(anyhow::Error::msg)
        })
        .collect()
}

/// Resolves when the process is asked to stop (SIGTERM, or Ctrl-C).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs `skill-run mcp` until the client goes away (stdio EOF) or SIGTERM.
pub fn mcp(args: McpArgs) -> Result<u8> {
    for path in &args.paths {
        if !path.is_dir() {
            bail!(
                "{} is not a folder: give package folders, or folders whose subfolders are packages",
                path.display()
            );
        }
    }
    let policy = policy(&args)?;
    let overrides = overrides(&args)?;
    let http = args.http.as_deref().map(http::parse_addr).transpose()?;
    let token = args.token.as_deref().map(http::read_token).transpose()?;
    let workspace = match &args.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("finding the current folder for {workspace}")?,
    };
    let audit = args
        .audit
        .as_deref()
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(|f| Arc::new(std::sync::Mutex::new(f)))
                .with_context(|| format!("opening the audit log {}", path.display()))
        })
        .transpose()?;

    let runtime = Runtime::new(runtime_config(&args.runtime))?;
    let max_admitted = runtime.config().max_concurrent_invocations() as usize * 8;
    let (watcher, snapshot, refused) = watch::Watcher::start(runtime, args.paths.clone(), policy);
    watch::report_refused(&refused);
    if snapshot.packages.is_empty() {
        bail!(
            "no package could be served from {}; the reasons are above",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let clashes: Vec<&(PathBuf, String)> = refused
        .iter()
        .filter(|(_, reason)| {
            reason.contains("two tools would be named") || reason.contains("is also named")
        })
        .collect();
    if let Some((dir, reason)) = clashes.first() {
        bail!("cannot serve {}: {reason}", dir.display());
    }
    say_err!(
        "skill-run mcp: serving {} tools from {} skills",
        snapshot.tools.len(),
        snapshot.packages.len()
    );

    let catalog = Arc::new(Catalog::new(snapshot));
    let peers = Arc::new(Peers::default());
    let stopping = CancellationToken::new();
    // Over stdio, the transport, rmcp's dispatch and quick calls share the
    // main thread (see `pace`); the workers run everything else. Over HTTP,
    // connections are many and every task runs on the workers.
    let workers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let front = match http {
        Some(_) => None,
        None => Some(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(stdin::await_next_message_briefly)
                .build()
                .context("starting the async runtime")?,
        ),
    };
    let calls = Arc::new(calls::Calls {
        env: std::env::vars().collect(),
        workspace,
        audit,
        overrides,
        workers: front.as_ref().map(|_| workers.handle().clone()),
    });
    let server = SkillServer::new(
        catalog.clone(),
        calls,
        peers.clone(),
        max_admitted,
        stopping.clone(),
    );

    let every = Duration::from_millis(args.watch_interval_ms);
    let outcome = front.as_ref().unwrap_or(&workers).block_on(async move {
        let watching = tokio::spawn(watch::run(watcher, catalog, peers, every));
        let served = match http {
            Some(addr) => {
                let options = http::HttpOptions {
                    addr,
                    token,
                    allowed_hosts: args.allow_hosts.clone(),
                    allowed_origins: args.allow_origins.clone(),
                };
                let shutdown = stopping.clone();
                tokio::select! {
                    served = http::serve(server, options, shutdown) => served,
                    () = terminated() => {
                        stopping.cancel();
                        Ok(())
                    }
                }
            }
            None => serve_stdio(server, stopping).await,
        };
        watching.abort();
        served
    });
    // Blocked stdin reads and package loads must not hold the exit.
    if let Some(front) = front {
        front.shutdown_timeout(Duration::from_secs(2));
    }
    workers.shutdown_timeout(Duration::from_secs(2));
    outcome.map(|()| 0)
}

/// Serves one client on stdin/stdout until EOF or SIGTERM. Either one
/// cancels the calls still running, so none commits state afterwards.
async fn serve_stdio(server: SkillServer, stopping: CancellationToken) -> Result<()> {
    // Non-blocking pipes where stdin and stdout are FIFOs (as MCP clients
    // launch servers): no thread hand-off per message.
    let (reader, writer) = rmcp::transport::io::stdio_pipes();
    let stdin = stdin::StdinFilter::new(reader, stopping.clone());
    let running = rmcp::serve_server(server, (stdin, writer))
        .await
        .context("starting the MCP session on stdio")?;
    let ct = running.cancellation_token();
    tokio::select! {
        quit = running.waiting() => {
            quit.context("the MCP session on stdio failed")?;
        }
        () = terminated() => {
            stopping.cancel();
            ct.cancel();
        }
    }
    stopping.cancel();
    Ok(())
}
