//! AUD: the audit log is bounded whatever a skill does: one event's fields,
//! the bytes per invocation, and denied requests, which count against
//! `limits.http-requests` like sent ones.

use serde_json::json;
use skill_runtime::{AuditKind, Decision, Failure, Invocation, LimitKind};

use super::loopback::{Loopback, Seen, response};
use super::secrets::net_package;
use super::{Host, attempt_with, failure};

/// AUD-001: 1,500 denied requests with 60 KB paths cost a bounded audit log (each field about 1 KiB, at most 1 MiB per invocation) and end at `limits.http-requests`; a granted request before them is audited in full.
#[test]
fn aud_001_a_flood_of_denied_requests_cannot_amplify_the_audit_log() {
    let host = Host::new();
    let server = Loopback::start(
        "127.0.0.1",
        Box::new(|_: &Seen| vec![response("200 OK", "", b"ok")]),
    );
    let skill = host.load(&net_package(
        &format!("\"{}/ok/\"", server.origin()),
        "[limits]\nhttp-requests = 1000\nmemory = \"16 MiB\"\noutput = \"1 KiB\"\ntimeout = \"60s\"\n",
    ));
    let streamed = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let counter = streamed.clone();
    let sink: skill_runtime::AuditSink = std::sync::Arc::new(move |event| {
        let line = serde_json::to_string(event).unwrap_or_default();
        *counter.lock().expect("lock") += line.len();
    });
    let outcome = attempt_with(
        &skill,
        Invocation::new("main")
            .input(json!({
                "requests": [{"method": "GET", "url": format!("{}/ok/first", server.origin())}],
                "flood": {"url": format!("{}/denied/", server.origin()), "pad": 60_000, "count": 1500},
                "summary": true,
            }))
            .audit_sink(sink),
        None,
    );
    assert!(
        matches!(
            failure(&outcome),
            Failure::Limit {
                kind: LimitKind::HttpRequests,
                ..
            }
        ),
        "{:?}",
        outcome.result
    );
    let kept: usize = outcome
        .audit
        .iter()
        .map(|e| e.target.len() + e.reason.len())
        .sum();
    assert!(
        kept <= (1 << 20) + 4096,
        "{kept} bytes of audit fields kept"
    );
    assert!(
        outcome
            .audit
            .iter()
            .all(|e| e.target.len() <= 1100 && e.reason.len() <= 1100),
        "an event field was not bounded"
    );
    let written = *streamed.lock().expect("lock");
    assert!(written < 3 << 20, "{written} bytes of audit were streamed");
    let denials = outcome
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::Network && e.decision == Decision::Deny)
        .count();
    assert!(denials >= 100, "only {denials} denials were audited");
    // The granted request reached the server and is audited in full; no flood path did.
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{} requests reached the server", seen.len());
    assert!(
        outcome.audit.iter().any(|e| e.decision == Decision::Allow
            && e.target == format!("{}/ok/first", server.origin()))
    );
}
