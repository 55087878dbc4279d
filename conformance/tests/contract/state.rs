//! STATE: a skill's `{state}` changes are committed atomically when an
//! invocation succeeds and discarded when it fails, so a half-written state
//! file can never be observed.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

const STATE: &str =
    "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n";

fn committed(host: &Host, file: &str) -> Option<String> {
    fs::read_to_string(host.state.path().join("escape/current").join(file)).ok()
}

/// STATE-001: A successful invocation's changes are committed.
#[test]
fn state_001_success_commits() {
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "v1"}),
        None,
    ));
    assert_eq!(committed(&host, "f").as_deref(), Some("v1"));
}

/// STATE-002: Writes followed by a trap, a timeout or the skill's own error are discarded.
#[test]
fn state_002_failures_discard_their_writes() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{STATE}[limits]\ntimeout = \"300ms\"\n"
    )));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "good"}),
        None,
    ));
    for (name, input) in [
        (
            "write-then-panic",
            json!({"path": "/state/f", "content": "after a panic"}),
        ),
        (
            "write-then-spin",
            json!({"path": "/state/f", "content": "after a timeout"}),
        ),
        ("alloc", json!({"mib": 4096})),
    ] {
        let outcome = attempt(&skill, name, input, None);
        assert!(outcome.result.is_err(), "{name} should fail");
        assert_eq!(
            committed(&host, "f").as_deref(),
            Some("good"),
            "{name} leaked its write"
        );
    }
    let work = host.state.path().join("escape/work");
    assert_eq!(
        fs::read_dir(work).map(|d| d.count()).unwrap_or(0),
        0,
        "work copies left behind"
    );
}

/// STATE-003: A host killed at a random point mid-invocation leaves the old state or the complete new one, never a part.
#[test]
fn state_003_host_killed_mid_write_never_leaves_half_a_file() {
    let state = tempfile::tempdir().expect("state");
    let package = escape_package(&format!("{STATE}[limits]\ntimeout = \"20s\"\n"));
    // The child is this test binary running only `host_process`, a host that
    // runs one invocation and can be killed like any other process.
    let run = |content: &str, chunks: u32| {
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "state::host_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HOST_PROCESS_PACKAGE", package.path())
            .env("HOST_PROCESS_STATE", state.path())
            .env(
                "HOST_PROCESS_INPUT",
                json!({"path": "/state/f", "content": content, "chunks": chunks, "pause_ms": 20})
                    .to_string(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn skill-run")
    };
    let current = || fs::read_to_string(state.path().join("escape/current/f")).unwrap_or_default();
    assert!(run("a", 5).wait().expect("wait").success());
    assert_eq!(current(), "aaaaa");
    // Kill at spread-out points of a ~1 s invocation; each must leave "aaaaa" or "b" x 50.
    for (i, delay_ms) in [30u64, 150, 300, 450, 700, 900].into_iter().enumerate() {
        let mut child = run("b", 50);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let seen = current();
        assert!(
            seen == "aaaaa" || seen == "b".repeat(50),
            "kill #{i} after {delay_ms} ms left {seen:?}"
        );
    }
    let started = Instant::now();
    assert!(
        run("c", 1).wait().expect("wait").success(),
        "the skill still runs after the kills"
    );
    assert_eq!(current(), "c");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Not a case: the host process STATE-003 starts and kills. Does nothing
/// unless started that way.
#[test]
fn host_process() {
    let (Ok(package), Ok(state), Ok(input)) = (
        std::env::var("HOST_PROCESS_PACKAGE"),
        std::env::var("HOST_PROCESS_STATE"),
        std::env::var("HOST_PROCESS_INPUT"),
    ) else {
        return;
    };
    let runtime = Runtime::new(RuntimeConfig::new(state)).expect("runtime");
    let skill = runtime.load(package).expect("load");
    let input: serde_json::Value = serde_json::from_str(&input).expect("input");
    let outcome =
        block_on(skill.invoke(Invocation::new("write-slowly").input(input))).expect("start");
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}
