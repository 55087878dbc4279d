//! The security contract. Each test is one case: its name starts with the
//! case ID, its doc comment is the promise, and it asserts both the outcome
//! and the state of the world outside the sandbox.

mod admission;
mod audit_bounds;
mod catalog;
mod channels;
mod dir;
mod disk;
mod env;
mod fd;
mod files;
mod grants;
mod heap;
mod http03;
mod isolation;
mod javascript;
mod limits;
mod load;
mod loopback;
mod moltbook;
mod network;
mod placeholders;
mod preview1;
mod provenance;
mod pyscript;
mod python;
mod scripted;
mod scripts;
mod secrets;
mod self_modification;
mod smuggling;
mod sockets;
mod state;
mod stress;
mod types;
mod versions;
mod wasi03;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use skill_runtime::{
    AuditKind, Decision, Failure, Invocation, LoadError, Outcome, Runtime, RuntimeConfig, Skill,
};
use skill_test_artifacts::{TempPackage, skill_table};

/// A runtime whose skill state lives in its own temporary folder.
pub struct Host {
    pub runtime: Runtime,
    pub state: tempfile::TempDir,
}

#[allow(clippy::new_without_default)]
impl Host {
    pub fn new() -> Host {
        let state = tempfile::tempdir().expect("state folder");
        let config = RuntimeConfig::new(state.path()).with_compile_cache(shared_compile_cache());
        let runtime = Runtime::new(config).expect("runtime");
        Host { runtime, state }
    }

    pub fn load(&self, package: &TempPackage) -> Skill {
        self.runtime
            .load(package.path())
            .unwrap_or_else(|e| panic!("load failed: {e}"))
    }

    pub fn load_err(&self, package: &TempPackage) -> LoadError {
        match self.runtime.load(package.path()) {
            Ok(skill) => panic!("skill {} loaded but should have been refused", skill.name()),
            Err(e) => e,
        }
    }
}

/// One compile cache for every `Host` in this test process, so each guest is
/// compiled by Cranelift once per run instead of once per case. The cache key
/// covers the component's bytes and the engine's settings, so sharing it
/// changes no case's behaviour; LOAD-013 keeps a cache of its own.
pub fn shared_compile_cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| tempfile::tempdir().expect("compile cache folder"))
        .path()
}

/// The escape guest with `extra` appended to its manifest. It always
/// imports the channels interface, so a channel is granted unless the
/// caller's manifest text replaces the default.
pub fn escape_package(extra: &str) -> TempPackage {
    let channels = if extra.contains("channels") {
        ""
    } else {
        "channels = [{ name = \"out\", direction = \"send\" }]\n"
    };
    let toml = format!("{}[capabilities]\n{channels}{extra}", skill_table("escape"));
    TempPackage::new("escape", skill_test_artifacts::ESCAPE, &toml)
}

/// Runs one attempt of the escape guest.
pub fn attempt(skill: &Skill, name: &str, input: Value, workspace: Option<&Path>) -> Outcome {
    attempt_with(skill, Invocation::new(name).input(input), workspace)
}

pub fn attempt_with(skill: &Skill, request: Invocation, workspace: Option<&Path>) -> Outcome {
    let request = match workspace {
        Some(w) => request.workspace(w),
        None => request,
    };
    block_on(skill.invoke(request)).unwrap_or_else(|e| panic!("invocation did not start: {e}"))
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio")
        .block_on(f)
}

/// The `ok` value of an escape attempt that completed, or panics with the outcome.
pub fn ok_value(outcome: &Outcome) -> Value {
    match &outcome.result {
        Ok(v) if v.get("ok").is_some() => v["ok"].clone(),
        other => panic!(
            "expected an ok attempt, got {other:?}\nstderr: {}",
            outcome.stderr
        ),
    }
}

/// The `err` text of an escape attempt the sandbox refused, or panics.
pub fn err_text(outcome: &Outcome) -> String {
    match &outcome.result {
        Ok(v) if v.get("err").is_some() => v["err"].as_str().unwrap_or_default().to_owned(),
        other => panic!("expected the sandbox to refuse the attempt, got {other:?}"),
    }
}

/// Whether the audit log has a denial of `kind` whose target contains `target`.
pub fn denied(outcome: &Outcome, kind: AuditKind, target: &str) -> bool {
    outcome
        .audit
        .iter()
        .any(|e| e.kind == kind && e.decision == Decision::Deny && e.target.contains(target))
}

/// The failure of an invocation that should have failed.
pub fn failure(outcome: &Outcome) -> &Failure {
    outcome
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("expected a failure, got {:?}", outcome.result))
}

/// STRESS-001 saturates both cores, so it never runs while a
/// timing-sensitive case (a loopback server) does. Quiet holders wait only
/// for a stress run in progress, never for one that is waiting, so a case
/// may hold several (two servers) without deadlock.
struct LoadGate {
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

static GATE: LoadGate = LoadGate {
    state: std::sync::Mutex::new((0, false)),
    changed: std::sync::Condvar::new(),
};

/// Held while a timing-sensitive case runs.
pub struct Quiet;

impl Drop for Quiet {
    fn drop(&mut self) {
        let mut state = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        GATE.changed.notify_all();
    }
}

pub fn no_load_spike() -> Quiet {
    let mut state = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
    while state.1 {
        state = GATE.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
    state.0 += 1;
    Quiet
}

/// Held by the stress case: no quiet case runs meanwhile.
pub struct LoadSpike;

impl Drop for LoadSpike {
    fn drop(&mut self) {
        let mut state = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = false;
        GATE.changed.notify_all();
    }
}

pub fn load_spike() -> LoadSpike {
    let mut state = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
    while state.0 > 0 || state.1 {
        state = GATE.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
    state.1 = true;
    LoadSpike
}

/// A value that must never appear anywhere a skill's results flow.
pub const CANARY: &str = "CANARY-7f3a9c-do-not-leak";

/// Asserts the canary is nowhere in the outcome: result, stdout, stderr, audit.
pub fn assert_no_canary(outcome: &Outcome) {
    let everything = format!(
        "{:?} {} {} {:?}",
        outcome.result, outcome.stdout, outcome.stderr, outcome.audit
    );
    assert!(
        !everything.contains(CANARY),
        "the canary leaked: {everything}"
    );
}
