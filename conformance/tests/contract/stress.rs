//! STRESS: many invocations at once, well-behaved and hostile mixed.

use std::sync::Arc;

use serde_json::{Value, json};
use skill_runtime::LimitKind;
use tokio::sync::Semaphore;

use super::*;

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// STRESS-001: 1,000 invocations, 64 in flight, a fifth of them well-behaved: every good one returns the right result, every hostile one is contained, and host memory stays bounded.
#[test]
fn stress_001_thousand_mixed_invocations_with_64_in_flight() {
    let _alone = load_spike();
    let host = Host::new();
    let hello = host.load(&TempPackage::example("hello", skill_test_artifacts::HELLO));
    let hostile = host.load(&escape_package(
        "[limits]\nmemory = \"8 MiB\"\ntimeout = \"200ms\"\noutput = \"64 KiB\"\n",
    ));
    let before = peak_rss();
    let outcomes = block_on(async {
        let gate = Arc::new(Semaphore::new(64));
        let mut tasks = Vec::new();
        for i in 0..1000u32 {
            let (hello, hostile, gate) = (hello.clone(), hostile.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = gate.acquire_owned().await.expect("semaphore");
                let (kind, request) = match i % 5 {
                    0 => (
                        "good",
                        Invocation::new("greet").input(json!({"name": format!("n{i}")})),
                    ),
                    1 => (
                        "memory",
                        Invocation::new("alloc").input(json!({"mib": 1024})),
                    ),
                    2 => ("time", Invocation::new("spin")),
                    3 => (
                        "output",
                        Invocation::new("print").input(json!({"kib": 100_000})),
                    ),
                    _ => (
                        "escape",
                        Invocation::new("read").input(json!({"path": "/etc/passwd"})),
                    ),
                };
                let skill = if kind == "good" { hello } else { hostile };
                (i, kind, skill.invoke(request).await)
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task"));
        }
        outcomes
    });
    let mut counts = std::collections::BTreeMap::new();
    for (i, kind, outcome) in outcomes {
        let outcome = outcome.unwrap_or_else(|e| panic!("invocation {i} did not start: {e}"));
        match kind {
            "good" => assert_eq!(outcome.result, Ok(json!(format!("Hello, n{i}.")))),
            "memory" => assert!(
                matches!(
                    outcome.result,
                    Err(Failure::Limit {
                        kind: LimitKind::Memory,
                        ..
                    })
                ),
                "{i}: {:?}",
                outcome.result
            ),
            "time" => assert!(
                matches!(
                    outcome.result,
                    Err(Failure::Limit {
                        kind: LimitKind::Timeout,
                        ..
                    })
                ),
                "{i}: {:?}",
                outcome.result
            ),
            "output" => assert!(
                matches!(
                    outcome.result,
                    Err(Failure::Limit {
                        kind: LimitKind::Output,
                        ..
                    })
                ),
                "{i}: {:?}",
                outcome.result
            ),
            _ => assert!(
                matches!(&outcome.result, Ok(Value::Object(o)) if o.contains_key("err")),
                "{i}: {:?}",
                outcome.result
            ),
        }
        *counts.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(counts.values().sum::<i32>(), 1000);
    let grown = peak_rss().saturating_sub(before);
    // 64 in flight x (8 MiB memory + 64 KiB output) is about 520 MiB at worst.
    assert!(
        grown < 1536 << 20,
        "peak resident memory grew by {} MiB",
        grown >> 20
    );
}
