//! JS: a hostile JavaScript skill (ComponentizeJS, SpiderMonkey inside the
//! component) attempts the main escape classes in the idioms it has: the
//! SDK's file helpers over wasi:filesystem, the environment, `fetch`, a raw
//! TCP socket, huge typed arrays, `for (;;)`, `console.log`. Each case has
//! its positive control.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use skill_runtime::capabilities::sockets::SOCKETS_DENIED;
use skill_runtime::{AuditKind, ByteSize, LimitKind, TimeLimit};

use super::scripted::{self, Counting, Loaded, skill_error, value};
use super::*;

static JS: OnceLock<Loaded> = OnceLock::new();

fn js() -> &'static Loaded {
    scripted::load_once(&JS, "hostile-js", skill_test_artifacts::HOSTILE_JS)
}

fn limit_of(outcome: &Outcome) -> LimitKind {
    match failure(outcome) {
        Failure::Limit { kind, .. } => *kind,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// JS-001: JavaScript cannot read outside its grants (absolute path, `..`), the attempt is audited; a granted file reads.
#[test]
fn js_001_reading_outside_the_grant_is_denied() {
    let js = js();
    let outside = js.outside.display().to_string();
    for path in [outside.as_str(), "/data/../secret.txt", "/etc/passwd"] {
        let outcome = js.call("read-text", json!({"path": path}));
        let err = skill_error(&outcome);
        assert!(err.starts_with("FsError"), "{path}: {err}");
        assert_no_canary(&outcome);
    }
    let outcome = js.call("read-text", json!({"path": "/data/../secret.txt"}));
    assert!(
        denied(&outcome, AuditKind::File, "/data"),
        "{:?}",
        outcome.audit
    );
    assert_eq!(
        value(&js.call("read-text", json!({"path": "/data/readme.txt"}))),
        "granted text"
    );
}

/// JS-002: Writing a read-only grant from JavaScript fails and the host file is unchanged; a read-write grant takes the write.
#[test]
fn js_002_writing_a_read_only_grant_fails() {
    let js = js();
    let readme = js.workspace.path().join("data/readme.txt");
    for path in ["/data/readme.txt", "/data/new.txt"] {
        let outcome = js.call("write-text", json!({"path": path, "text": "overwritten"}));
        assert!(skill_error(&outcome).starts_with("FsError"), "{path}");
    }
    assert_eq!(
        std::fs::read_to_string(&readme).expect("readme"),
        "granted text"
    );
    assert!(!js.workspace.path().join("data/new.txt").exists());
    assert_eq!(
        value(&js.call(
            "write-text",
            json!({"path": "/work/js-002.txt", "text": "kept"})
        )),
        "kept"
    );
    assert_eq!(
        std::fs::read_to_string(js.workspace.path().join("work/js-002.txt")).expect("written"),
        "kept"
    );
}

/// JS-003: The environment holds only granted names the host has; an undeclared variable holding a secret is not there.
#[test]
fn js_003_undeclared_environment_is_invisible() {
    let js = js();
    let env = || {
        vec![
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("SECRET_TOKEN".to_owned(), CANARY.to_owned()),
        ]
    };
    assert_eq!(
        value(&js.call_with("env-names", json!({}), |r| r.env(env()))),
        json!(["LANG"])
    );
    let outcome = js.call_with("env-var", json!({"name": "SECRET_TOKEN"}), |r| r.env(env()));
    assert_eq!(value(&outcome), Value::Null);
    assert_no_canary(&outcome);
    assert_eq!(
        value(&js.call_with("env-var", json!({"name": "LANG"}), |r| r.env(env()))),
        "C.UTF-8"
    );
}

/// JS-004: `fetch` to a host the manifest does not grant is refused before it leaves (the server sees nothing); the granted origin answers.
#[test]
fn js_004_fetch_to_an_undeclared_host_is_refused() {
    let _quiet = no_load_spike();
    let js = js();
    let (granted, other) = (Counting::start("from granted"), Counting::start(CANARY));
    let outcome = js.call_with(
        "fetch-text",
        json!({"url": format!("{}/x", other.url())}),
        |r| r.network_override(granted.granted_override()),
    );
    skill_error(&outcome);
    assert!(
        denied(&outcome, AuditKind::Network, "127.0.0.1"),
        "{:?}",
        outcome.audit
    );
    assert_no_canary(&outcome);
    let outcome = js.call_with(
        "fetch-text",
        json!({"url": format!("{}/hello", scripted::GRANTED_ORIGIN)}),
        |r| r.network_override(granted.granted_override()),
    );
    assert_eq!(value(&outcome), "from granted");
    assert_eq!(other.connections.load(Ordering::SeqCst), 0);
}

/// JS-005: A raw TCP socket from JavaScript fails with access-denied, is audited with the fix, and the listener sees nothing.
#[test]
fn js_005_raw_sockets_are_denied() {
    let _quiet = no_load_spike();
    let js = js();
    let server = Counting::start(CANARY);
    let outcome = js.call(
        "tcp-connect",
        json!({"host": "127.0.0.1", "port": server.port}),
    );
    let err = skill_error(&outcome);
    assert!(err.contains("access-denied"), "{err}");
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.target.contains("create-tcp-socket") && e.reason == SOCKETS_DENIED),
        "{:?}",
        outcome.audit
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
    // Positive control: the same server through fetch and the grant.
    let outcome = js.call_with(
        "fetch-text",
        json!({"url": format!("{}/", scripted::GRANTED_ORIGIN)}),
        |r| r.network_override(server.granted_override()),
    );
    assert_eq!(value(&outcome), CANARY);
}

/// JS-006: JavaScript holding ever more memory stops at `limits.memory` (host-lowered), never past it; the next call works.
#[test]
fn js_006_memory_bomb_stops_at_the_limit() {
    let js = js();
    let limits = js.limits(|l| l.memory = ByteSize::mib(96));
    let outcome = js.call_with("hoard", json!({"mib": 1024}), |r| r.limits(limits));
    assert!(outcome.result.is_err(), "{:?}", outcome.result);
    assert!(
        outcome.usage.peak_memory <= 96 << 20,
        "peak {}",
        outcome.usage.peak_memory
    );
    assert_eq!(
        value(&js.call_with("hoard", json!({"mib": 8}), |r| r.limits(limits))),
        8
    );
}

/// JS-007: `for (;;) {}` is stopped at `limits.timeout`; the skill answers the next call.
#[test]
fn js_007_endless_loop_is_stopped_at_the_timeout() {
    let js = js();
    let limits = js.limits(|l| l.timeout = TimeLimit(Duration::from_millis(1500)));
    let started = Instant::now();
    let outcome = js.call_with("loop-forever", json!({}), |r| r.limits(limits));
    assert_eq!(limit_of(&outcome), LimitKind::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(value(&js.call("env-names", json!({}))), json!([]));
}

/// JS-008: `console.log` in a loop stops at `limits.output`; the host keeps no more than the limit.
#[test]
fn js_008_huge_output_stops_at_the_limit() {
    let js = js();
    let limits = js.limits(|l| l.output = ByteSize::mib(1));
    let outcome = js.call_with("shout", json!({"mib": 64}), |r| r.limits(limits));
    assert_eq!(limit_of(&outcome), LimitKind::Output);
    assert!(outcome.stdout.len() + outcome.stderr.len() <= 1 << 20);
    assert_eq!(
        value(&js.call_with("shout", json!({"mib": 0}), |r| r.limits(limits))),
        0
    );
}

/// JS-009: A channel the manifest does not declare is denied to JavaScript and the host handler never sees it; the declared one delivers.
#[test]
fn js_009_undeclared_channel_is_denied() {
    let js = js();
    let channels = scripted::channels();
    let ch = channels.clone();
    let outcome = js.call_with(
        "say",
        json!({"channel": "elsewhere", "message": CANARY}),
        move |r| r.channels(ch),
    );
    assert!(
        skill_error(&outcome).contains("denied"),
        "{:?}",
        outcome.result
    );
    assert!(channels.sent().is_empty());
    let ch = channels.clone();
    value(&js.call_with(
        "say",
        json!({"channel": "out", "message": "hello"}),
        move |r| r.channels(ch),
    ));
    assert_eq!(channels.sent().len(), 1);
}

/// JS-010: A JavaScript component built with fetch (wasi:http) is refused at load without a network grant, naming the interface and the key.
#[test]
fn js_010_wrong_world_for_the_manifest_is_refused_at_load() {
    let host = scripted::cached_host();
    let no_network = scripted::manifest("hostile-js").replace(
        &format!("network = [\"{}/\"]\n", scripted::GRANTED_ORIGIN),
        "",
    );
    let package = TempPackage::new("hostile-js", skill_test_artifacts::HOSTILE_JS, &no_network);
    let err = host.load_err(&package);
    assert!(
        matches!(err, LoadError::NotGranted { key: "network", .. })
            && err.to_string().contains("wasi:http/"),
        "{err}"
    );
}
