//! PY: a hostile Python skill (componentize-py, CPython inside the
//! component) attempts the main escape classes in Python's own idioms:
//! `open`, `os.environ`, `urllib`, `socket`, huge lists, `while True`,
//! `print`. Each case has its positive control: the same idiom on what is
//! granted works.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use skill_runtime::capabilities::sockets::SOCKETS_DENIED;
use skill_runtime::{AuditKind, ByteSize, LimitKind, TimeLimit};

use super::scripted::{self, Counting, Loaded, skill_error, value};
use super::*;

static PY: OnceLock<Loaded> = OnceLock::new();

fn py() -> &'static Loaded {
    scripted::load_once(&PY, "hostile-py", skill_test_artifacts::HOSTILE_PY)
}

fn limit_of(outcome: &Outcome) -> LimitKind {
    match failure(outcome) {
        Failure::Limit { kind, .. } => *kind,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// PY-001: Python's `open()` cannot read outside its grants (absolute path, `..`), the attempt is audited; a granted file reads.
#[test]
fn py_001_open_outside_the_grant_is_denied() {
    let py = py();
    let outside = py.outside.display().to_string();
    for path in [outside.as_str(), "/data/../secret.txt", "/etc/passwd", "/"] {
        let outcome = py.call("read-text", json!({"path": path}));
        let err = skill_error(&outcome);
        assert!(
            err.contains("Error"),
            "{path}: expected an OSError, got {err}"
        );
        assert_no_canary(&outcome);
    }
    let outcome = py.call("read-text", json!({"path": "/data/../secret.txt"}));
    assert!(
        denied(&outcome, AuditKind::File, "/data"),
        "{:?}",
        outcome.audit
    );
    assert_eq!(
        value(&py.call("read-text", json!({"path": "/data/readme.txt"}))),
        "granted text"
    );
    let names = value(&py.call("list-dir", json!({"path": "/data"})));
    assert_eq!(names, json!(["readme.txt"]));
}

/// PY-002: Writing a read-only grant from Python fails and the host file is unchanged; a read-write grant takes the write.
#[test]
fn py_002_writing_a_read_only_grant_fails() {
    let py = py();
    let readme = py.workspace.path().join("data/readme.txt");
    let outcome = py.call(
        "write-text",
        json!({"path": "/data/readme.txt", "text": "overwritten"}),
    );
    let err = skill_error(&outcome);
    assert!(err.contains("Error"), "{err}");
    let outcome = py.call("write-text", json!({"path": "/data/new.txt", "text": "x"}));
    skill_error(&outcome);
    assert_eq!(
        std::fs::read_to_string(&readme).expect("readme"),
        "granted text"
    );
    assert!(!py.workspace.path().join("data/new.txt").exists());
    assert_eq!(
        value(&py.call(
            "write-text",
            json!({"path": "/work/py-002.txt", "text": "kept"})
        )),
        "kept"
    );
    assert_eq!(
        std::fs::read_to_string(py.workspace.path().join("work/py-002.txt")).expect("written"),
        "kept"
    );
}

/// PY-003: `os.environ` holds only granted names the host has; an undeclared variable holding a secret is not there.
#[test]
fn py_003_undeclared_environment_is_invisible() {
    let py = py();
    let env = || {
        vec![
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("SECRET_TOKEN".to_owned(), CANARY.to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ]
    };
    let outcome = py.call_with("env-names", json!({}), |r| r.env(env()));
    assert_eq!(value(&outcome), json!(["LANG"]));
    let outcome = py.call_with("env-var", json!({"name": "SECRET_TOKEN"}), |r| r.env(env()));
    assert_eq!(value(&outcome), Value::Null);
    assert_no_canary(&outcome);
    let outcome = py.call_with("env-var", json!({"name": "LANG"}), |r| r.env(env()));
    assert_eq!(value(&outcome), "C.UTF-8");
}

/// PY-004: An HTTP request to a host the manifest does not grant is refused before it leaves (the server sees nothing); the granted origin answers.
#[test]
fn py_004_undeclared_host_is_refused() {
    let _quiet = no_load_spike();
    let py = py();
    let (granted, other) = (Counting::start("from granted"), Counting::start(CANARY));
    let outcome = py.call_with("fetch", json!({"url": format!("{}/x", other.url())}), |r| {
        r.network_override(granted.granted_override())
    });
    assert_eq!(skill_error(&outcome), "HttpError: HttpRequestDenied");
    assert!(
        denied(&outcome, AuditKind::Network, "127.0.0.1"),
        "{:?}",
        outcome.audit
    );
    assert_no_canary(&outcome);
    let outcome = py.call_with(
        "fetch",
        json!({"url": format!("{}/hello", scripted::GRANTED_ORIGIN)}),
        |r| r.network_override(granted.granted_override()),
    );
    assert_eq!(value(&outcome), "from granted");
    assert_eq!(other.connections.load(Ordering::SeqCst), 0);
    assert!(
        granted.requests.lock().expect("requests")[0].starts_with("GET /hello "),
        "{:?}",
        granted.requests
    );
}

/// PY-005: `socket` and `urllib` (raw sockets) fail with PermissionError, are audited with the fix, and reach nothing, even towards the granted origin.
#[test]
fn py_005_raw_sockets_are_denied() {
    let _quiet = no_load_spike();
    let py = py();
    let server = Counting::start(CANARY);
    let outcome = py.call(
        "tcp-connect",
        json!({"host": "127.0.0.1", "port": server.port}),
    );
    let err = skill_error(&outcome);
    assert!(err.contains("PermissionError"), "{err}");
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.target.contains("create-tcp-socket") && e.reason == SOCKETS_DENIED),
        "{:?}",
        outcome.audit
    );
    // urllib resolves the name first: the lookup is denied too.
    let outcome = py.call_with(
        "urlopen",
        json!({"url": format!("{}/", server.url())}),
        |r| r.network_override(server.granted_override()),
    );
    skill_error(&outcome);
    assert_no_canary(&outcome);
    let outcome = py.call("dns-lookup", json!({"host": "localhost"}));
    skill_error(&outcome);
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.target.contains("resolve-addresses localhost")),
        "{:?}",
        outcome.audit
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
    // Positive control: the same server through wasi:http and the grant.
    let outcome = py.call_with(
        "fetch",
        json!({"url": format!("{}/", scripted::GRANTED_ORIGIN)}),
        |r| r.network_override(server.granted_override()),
    );
    assert_eq!(value(&outcome), CANARY);
}

/// PY-006: Python holding ever more memory stops at `limits.memory` (host-lowered), never past it; the next call starts fresh and works.
#[test]
fn py_006_memory_bomb_stops_at_the_limit() {
    let py = py();
    let limits = py.limits(|l| l.memory = ByteSize::mib(96));
    let outcome = py.call_with("hoard", json!({"mib": 1024}), |r| r.limits(limits));
    // CPython may turn a refused memory.grow into MemoryError (an uncaught
    // exception traps) or the limiter stops it: either way it never got
    // past the limit and did not succeed.
    assert!(outcome.result.is_err(), "{:?}", outcome.result);
    assert!(
        outcome.usage.peak_memory <= 96 << 20,
        "peak {}",
        outcome.usage.peak_memory
    );
    let outcome = py.call_with("hoard", json!({"mib": 8}), |r| r.limits(limits));
    assert_eq!(value(&outcome), 8);
}

/// PY-007: `while True: pass` is stopped at `limits.timeout`; the skill answers the next call.
#[test]
fn py_007_endless_loop_is_stopped_at_the_timeout() {
    let py = py();
    let limits = py.limits(|l| l.timeout = TimeLimit(Duration::from_millis(1500)));
    let started = Instant::now();
    let outcome = py.call_with("loop-forever", json!({}), |r| r.limits(limits));
    assert_eq!(limit_of(&outcome), LimitKind::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(value(&py.call("env-names", json!({}))), json!([]));
}

/// PY-008: `print` in a loop stops at `limits.output`; the host keeps no more than the limit.
#[test]
fn py_008_huge_output_stops_at_the_limit() {
    let py = py();
    let limits = py.limits(|l| l.output = ByteSize::mib(1));
    let outcome = py.call_with("shout", json!({"mib": 64}), |r| r.limits(limits));
    assert_eq!(limit_of(&outcome), LimitKind::Output);
    assert!(
        outcome.stdout.len() + outcome.stderr.len() <= 1 << 20,
        "{} bytes kept",
        outcome.stdout.len() + outcome.stderr.len()
    );
    let outcome = py.call_with("shout", json!({"mib": 0}), |r| r.limits(limits));
    assert_eq!(value(&outcome), 0);
}

/// PY-009: A channel the manifest does not declare is denied to Python and the host handler never sees it; the declared one delivers.
#[test]
fn py_009_undeclared_channel_is_denied() {
    let py = py();
    let channels = scripted::channels();
    let ch = channels.clone();
    let outcome = py.call_with(
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
    let outcome = py.call_with(
        "say",
        json!({"channel": "out", "message": "hello"}),
        move |r| r.channels(ch),
    );
    value(&outcome);
    let sent = channels.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message, "hello");
}

/// PY-010: A Python component whose world imports wasi:http and channels is refused at load without those grants, naming the interface and the key.
#[test]
fn py_010_wrong_world_for_the_manifest_is_refused_at_load() {
    let host = scripted::cached_host();
    let no_network = scripted::manifest("hostile-py").replace(
        &format!("network = [\"{}/\"]\n", scripted::GRANTED_ORIGIN),
        "",
    );
    let package = TempPackage::new("hostile-py", skill_test_artifacts::HOSTILE_PY, &no_network);
    let err = host.load_err(&package);
    assert!(
        matches!(err, LoadError::NotGranted { key: "network", .. })
            && err.to_string().contains("wasi:http/"),
        "{err}"
    );
    let no_channels = scripted::manifest("hostile-py").replace(
        "channels = [{ name = \"out\", direction = \"send\" }]\n",
        "",
    );
    let package = TempPackage::new("hostile-py", skill_test_artifacts::HOSTILE_PY, &no_channels);
    let err = host.load_err(&package);
    assert!(
        matches!(
            err,
            LoadError::NotGranted {
                key: "channels",
                ..
            }
        ) && err.to_string().contains("skills:runtime/channels"),
        "{err}"
    );
}
