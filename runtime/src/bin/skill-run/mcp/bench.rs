//! `skill-run bench --mcp`: the round trip of `tools/call` through a
//! `skill-run mcp` child over stdio, as a client sees it (JSON-RPC framing,
//! the pipe, the server's dispatch and the invocation), with `concurrency`
//! calls kept in flight.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use super::naming::tool_name;

/// What is measured.
pub struct McpBench<'a> {
    /// The package folder.
    pub package: &'a Path,
    /// The skill's name.
    pub skill: &'a str,
    /// The command.
    pub command: &'a str,
    /// Its arguments.
    pub input: &'a Value,
    /// Calls timed.
    pub invocations: u32,
    /// Calls in flight at once.
    pub concurrency: u32,
    /// Extra `skill-run mcp` arguments (state, cache, workspace).
    pub server_args: Vec<String>,
}

#[derive(Deserialize)]
struct Reply {
    id: Option<u64>,
    result: Option<ReplyResult>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ReplyResult {
    #[serde(rename = "isError")]
    is_error: Option<bool>,
}

/// CPU time used so far by every thread of process `pid` (this process
/// when `None`), in nanoseconds, from `/proc/PID/task/*/schedstat` (Linux;
/// 0 elsewhere). Unlike latency, it hardly depends on what else the
/// machine is running.
pub fn cpu_ns(pid: Option<u32>) -> u64 {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}/task"),
        None => "/proc/self/task".to_owned(),
    };
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// What a timed round measured.
pub struct Figures {
    /// Round-trip latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Calls per second.
    pub per_sec: f64,
    /// CPU time of the server (all its threads) per call.
    pub server_cpu: Duration,
    /// CPU time of this client per call (writing, reading, framing).
    pub client_cpu: Duration,
}

/// Latencies of `count` calls with `concurrency` in flight, and the wall time.
fn round(
    stdin: &mut impl Write,
    stdout: &mut impl BufRead,
    request: &dyn Fn(u64) -> String,
    first_id: u64,
    count: u32,
    concurrency: u32,
) -> Result<(Vec<Duration>, Duration)> {
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(count as usize);
    let mut next = first_id;
    let end = first_id + u64::from(count);
    let started = Instant::now();
    let mut line = String::new();
    let send = |id: u64, sent: &mut HashMap<u64, Instant>, stdin: &mut dyn Write| -> Result<()> {
        sent.insert(id, Instant::now());
        stdin
            .write_all(request(id).as_bytes())
            .and_then(|()| stdin.flush())
            .context("writing to the MCP server")
    };
    while next < end && sent.len() < concurrency as usize {
        send(next, &mut sent, stdin)?;
        next += 1;
    }
    while !sent.is_empty() {
        line.clear();
        if stdout
            .read_line(&mut line)
            .context("reading from the MCP server")?
            == 0
        {
            bail!("the MCP server closed its output");
        }
        let reply: Reply = serde_json::from_str(&line).with_context(|| {
            format!("the MCP server sent something that is not JSON-RPC: {line}")
        })?;
        let Some(id) = reply.id else { continue };
        let Some(begun) = sent.remove(&id) else {
            continue;
        };
        latencies.push(begun.elapsed());
        if reply.error.is_some() || reply.result.and_then(|r| r.is_error) != Some(false) {
            bail!("a call failed, so the figures would not mean anything: {line}");
        }
        if next < end {
            send(next, &mut sent, stdin)?;
            next += 1;
        }
    }
    Ok((latencies, started.elapsed()))
}

/// Runs the benchmark.
pub fn run(bench: &McpBench<'_>) -> Result<Figures> {
    let exe = std::env::current_exe().context("finding skill-run itself")?;
    let mut child = Command::new(exe)
        .arg("mcp")
        .arg(bench.package)
        .args(&bench.server_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `skill-run mcp`")?;
    let mut stdin = child.stdin.take().context("the server's stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("the server's stdout")?);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "skill-run bench", "version": env!("CARGO_PKG_VERSION")}}});
    writeln!(stdin, "{init}").context("writing to the MCP server")?;
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .context("reading the MCP server's initialize answer")?;
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )?;
    let tool = tool_name(bench.skill, bench.command).map_err(anyhow::Error::msg)?;
    let arguments = bench.input.to_string();
    let request = move |id: u64| {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":{},\"arguments\":{arguments}}}}}\n",
            Value::String(tool.clone())
        )
    };
    let warm_up = (bench.invocations / 10).clamp(1, 200);
    round(
        &mut stdin,
        &mut stdout,
        &request,
        1,
        warm_up,
        bench.concurrency,
    )?;
    let server = Some(child.id());
    let (server_before, client_before) = (cpu_ns(server), cpu_ns(None));
    let (mut latencies, wall) = round(
        &mut stdin,
        &mut stdout,
        &request,
        1 + u64::from(warm_up),
        bench.invocations,
        bench.concurrency,
    )?;
    let (server_after, client_after) = (cpu_ns(server), cpu_ns(None));
    drop(stdin);
    let _ = child.wait();
    latencies.sort_unstable();
    let per_call = |ns: u64| Duration::from_nanos(ns / u64::from(bench.invocations.max(1)));
    Ok(Figures {
        latencies,
        per_sec: f64::from(bench.invocations) / wall.as_secs_f64(),
        server_cpu: per_call(server_after.saturating_sub(server_before)),
        client_cpu: per_call(client_after.saturating_sub(client_before)),
    })
}
