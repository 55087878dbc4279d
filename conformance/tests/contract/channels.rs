//! CH: named channels between a skill and its host.

use serde_json::json;
use skill_runtime::{AuditKind, ChannelHandler, Invocation, LimitKind, MemoryChannels};

use super::*;

const GRANTS: &str = "channels = [{ name = \"out\", direction = \"send\" }, { name = \"in\", direction = \"receive\" }]\n";

fn run(
    skill: &Skill,
    name: &str,
    input: serde_json::Value,
    channels: &Arc<MemoryChannels>,
) -> Outcome {
    let handler: Arc<dyn ChannelHandler> = channels.clone();
    attempt_with(
        skill,
        Invocation::new(name).input(input).channels(handler),
        None,
    )
}

/// CH-001: A message on a declared send channel reaches the host's handler and is audited.
#[test]
fn ch_001_declared_send_is_delivered() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    let skill = host.load(&escape_package(GRANTS));
    let outcome = run(
        &skill,
        "send",
        json!({"channel": "out", "message": "hi"}),
        &ch,
    );
    assert_eq!(ok_value(&outcome), true);
    let sent = ch.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].skill.as_str(),
            sent[0].channel.as_str(),
            sent[0].message.as_str()
        ),
        ("escape", "out", "hi")
    );
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.kind == AuditKind::Channel && e.target == "out" && e.bytes == Some(2))
    );
}

/// CH-002: An undeclared channel is denied with the fix, audited, and the host handler never sees it.
#[test]
fn ch_002_undeclared_channel_is_denied() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    let skill = host.load(&escape_package(GRANTS));
    let outcome = run(
        &skill,
        "send",
        json!({"channel": "exfil", "message": CANARY}),
        &ch,
    );
    let err = err_text(&outcome);
    assert!(
        err.contains("not declared") && err.contains("[capabilities].channels"),
        "{err}"
    );
    assert!(denied(&outcome, AuditKind::Channel, "exfil"));
    assert!(ch.sent().is_empty());
}

/// CH-003: A channel cannot be used against its declared direction.
#[test]
fn ch_003_wrong_direction_is_denied() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    ch.push_incoming("out", "not for you");
    let skill = host.load(&escape_package(GRANTS));
    let err = err_text(&run(&skill, "receive", json!({"channel": "out"}), &ch));
    assert!(err.contains("direction = \"send\""), "{err}");
    let err = err_text(&run(
        &skill,
        "send",
        json!({"channel": "in", "message": "x"}),
        &ch,
    ));
    assert!(err.contains("direction = \"receive\""), "{err}");
    assert!(ch.sent().is_empty());
}

/// CH-004: A declared receive channel hands over the host's queued messages in order, then none; the origin is recorded.
#[test]
fn ch_004_declared_receive_works() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    ch.push_incoming("in", "first");
    ch.push_incoming("in", "second");
    let skill = host.load(&escape_package(GRANTS));
    let outcome = run(&skill, "receive", json!({"channel": "in"}), &ch);
    assert_eq!(ok_value(&outcome), "first");
    assert_eq!(outcome.origins, vec!["channel:in".to_owned()]);
    assert_eq!(
        ok_value(&run(&skill, "receive", json!({"channel": "in"}), &ch)),
        "second"
    );
    assert_eq!(
        ok_value(&run(&skill, "receive", json!({"channel": "in"}), &ch)),
        serde_json::Value::Null
    );
}

/// CH-005: A flood of messages spends the output budget and stops at the limit.
#[test]
fn ch_005_message_flood_hits_the_output_limit() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    let skill = host.load(&escape_package(&format!(
        "{GRANTS}[limits]\noutput = \"64 KiB\"\n"
    )));
    let outcome = run(
        &skill,
        "send-many",
        json!({"channel": "out", "count": 100_000, "size": 1024}),
        &ch,
    );
    assert!(
        matches!(
            failure(&outcome),
            Failure::Limit {
                kind: LimitKind::Output,
                ..
            }
        ),
        "{:?}",
        outcome.result
    );
    let delivered: usize = ch.sent().iter().map(|m| m.message.len()).sum();
    assert!(delivered <= 64 * 1024, "{delivered} bytes got through");
}

/// CH-006: Messages over the per-message size are refused as too large.
#[test]
fn ch_006_oversized_message_is_refused() {
    let (host, ch) = (Host::new(), Arc::new(MemoryChannels::new()));
    let skill = host.load(&escape_package(&format!(
        "{GRANTS}[limits]\noutput = \"4 MiB\"\n"
    )));
    let outcome = run(
        &skill,
        "send-many",
        json!({"channel": "out", "count": 1, "size": 1024 * 1024}),
        &ch,
    );
    assert_eq!(ok_value(&outcome), 0);
    assert!(ch.sent().is_empty());
}

/// A host handler that never answers.
struct Stuck;

#[async_trait::async_trait]
impl ChannelHandler for Stuck {
    async fn send(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        std::future::pending().await
    }
    async fn receive(&self, _: &str, _: &str) -> Result<Option<String>, String> {
        std::future::pending().await
    }
}

/// CH-007: A guest blocked in a host call that never returns is still stopped at `limits.timeout`.
#[test]
fn ch_007_a_stuck_host_call_is_cut_at_the_timeout() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{GRANTS}[limits]\ntimeout = \"300ms\"\n"
    )));
    let started = std::time::Instant::now();
    let request = Invocation::new("receive")
        .input(json!({"channel": "in"}))
        .channels(Arc::new(Stuck));
    let outcome = attempt_with(&skill, request, None);
    assert!(
        matches!(
            failure(&outcome),
            Failure::Limit {
                kind: LimitKind::Timeout,
                ..
            }
        ),
        "{:?}",
        outcome.result
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}
