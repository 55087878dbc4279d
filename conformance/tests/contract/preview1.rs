//! P1: WASI preview-1 core modules. They are adapted to components at load
//! and then confined exactly like any component: the same grants, limits
//! and audit, whatever ABI the toolchain emitted.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skill_runtime::{AuditKind, CacheStatus, ComponentFormat, ComponentKind, LimitKind};

use super::*;

const GRANTS: &str = r#"files = [
  { guest = "/rw", host = "{workspace}/rw", access = "read-write" },
  { guest = "/ro", host = "{workspace}/ro", access = "read" },
]
env = ["GRANTED"]
"#;

/// The preview-1 guest with `[capabilities]` text `caps` and more manifest text `extra`.
fn p1_package(caps: &str, extra: &str) -> TempPackage {
    let toml = format!("{}[capabilities]\n{caps}{extra}", skill_table("p1"));
    TempPackage::new("p1", skill_test_artifacts::PREVIEW1, &toml)
}

/// A package whose component file is the core module `wat`.
fn wat_module_package(wat: &str) -> TempPackage {
    let package = p1_package("", "");
    let bytes = wat::parse_str(wat).expect("valid wat");
    fs::write(package.path().join("skill.wasm"), bytes).expect("write module");
    package
}

/// A workspace with `rw/` and `ro/keep.txt`, a secret beside them and one outside.
struct World {
    workspace: tempfile::TempDir,
    outside: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let workspace = tempfile::tempdir().expect("workspace");
        let outside = tempfile::tempdir().expect("outside");
        fs::create_dir(workspace.path().join("rw")).expect("rw");
        fs::create_dir(workspace.path().join("ro")).expect("ro");
        fs::write(workspace.path().join("ro/keep.txt"), "original").expect("ro file");
        fs::write(workspace.path().join("secret.txt"), CANARY).expect("secret");
        fs::write(outside.path().join("id_rsa"), CANARY).expect("outside secret");
        World { workspace, outside }
    }
}

fn limit_kind(outcome: &Outcome) -> LimitKind {
    match failure(outcome) {
        Failure::Limit { kind, .. } => *kind,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// P1-001: A preview-1 module loads as a cli command; its argv is the skill, the command, then the `--` arguments.
#[test]
fn p1_001_module_loads_as_a_command_and_gets_its_arguments() {
    let host = Host::new();
    let skill = host.load(&p1_package("", ""));
    assert_eq!(skill.kind(), ComponentKind::Cli);
    assert_eq!(skill.format(), ComponentFormat::Preview1Module);
    assert!(
        skill.imports().iter().all(|i| i.starts_with("wasi:")),
        "{:?}",
        skill.imports()
    );
    let outcome = attempt_with(
        &skill,
        Invocation::new("echo")
            .input(json!({"x": 1}))
            .args(["--flag", "two words"]),
        None,
    );
    let result = outcome.result.clone().expect("echo ran");
    assert_eq!(result["ok"], json!({"x": 1}));
    assert_eq!(result["args"], json!(["p1", "echo", "--flag", "two words"]));
}

/// P1-002: A preview-1 module cannot read outside its grants (absolute paths, `..`); denials are audited; inside a grant it reads.
#[test]
fn p1_002_reads_outside_grants_are_refused_and_audited() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&p1_package(GRANTS, ""));
    let ws = Some(world.workspace.path());
    let outside = world.outside.path().join("id_rsa");
    for path in [
        outside.display().to_string(),
        "/etc/passwd".into(),
        "/rw/../secret.txt".into(),
        "/ro/../../secret.txt".into(),
    ] {
        let outcome = attempt(&skill, "read", json!({ "path": path }), ws);
        err_text(&outcome);
        assert_no_canary(&outcome);
        assert!(
            !format!("{:?}", outcome.result).contains("root:"),
            "{path}: {:?}",
            outcome.result
        );
        if path.contains("..") {
            assert!(
                denied(&outcome, AuditKind::File, ".."),
                "no audited denial for {path}: {:?}",
                outcome.audit
            );
        }
    }
    // Positive control: the granted file is readable.
    let outcome = attempt(&skill, "read", json!({"path": "/ro/keep.txt"}), ws);
    assert_eq!(ok_value(&outcome), "original");
}

/// P1-003: A preview-1 module cannot write to a read-only grant (the file is unchanged, the denial audited); a read-write grant takes writes.
#[test]
fn p1_003_writes_to_a_read_only_grant_are_refused() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&p1_package(GRANTS, ""));
    let ws = Some(world.workspace.path());
    for path in ["/ro/keep.txt", "/ro/new.txt"] {
        let outcome = attempt(
            &skill,
            "write",
            json!({"path": path, "content": "pwned"}),
            ws,
        );
        err_text(&outcome);
        assert!(
            denied(&outcome, AuditKind::File, path),
            "no audited denial for {path}: {:?}",
            outcome.audit
        );
    }
    let ro = world.workspace.path().join("ro");
    assert_eq!(
        fs::read_to_string(ro.join("keep.txt")).expect("ro"),
        "original"
    );
    assert!(!ro.join("new.txt").exists());
    // Positive control.
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/rw/new.txt", "content": "fine"}),
        ws,
    );
    assert_eq!(ok_value(&outcome), true);
    let written = world.workspace.path().join("rw/new.txt");
    assert_eq!(fs::read_to_string(written).expect("written"), "fine");
}

/// P1-004: A preview-1 module sees only granted environment variables the host has.
#[test]
fn p1_004_only_granted_environment_is_visible() {
    let host = Host::new();
    let skill = host.load(&p1_package("env = [\"GRANTED\"]\n", ""));
    let env = [
        ("GRANTED".to_owned(), "yes".to_owned()),
        ("HIDDEN".to_owned(), CANARY.to_owned()),
        ("HOME".to_owned(), "/root".to_owned()),
    ];
    let outcome = attempt_with(&skill, Invocation::new("env").env(env.clone()), None);
    assert_eq!(ok_value(&outcome), json!({"GRANTED": "yes"}));
    assert_no_canary(&outcome);
    // Without the grant, nothing at all.
    let skill = host.load(&p1_package("", ""));
    let outcome = attempt_with(&skill, Invocation::new("env").env(env), None);
    assert_eq!(ok_value(&outcome), json!({}));
}

/// P1-005: A preview-1 module cannot reach a host: socket calls beyond preview 1 (WasmEdge's `sock_open`/`sock_connect`) are refused at load by name; the same module without them loads.
#[test]
fn p1_005_socket_extensions_are_refused_at_load() {
    let host = Host::new();
    let with_sockets = r#"(module
        (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "sock_connect" (func (param i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") i32.const 0 call $exit))"#;
    let error = host.load_err(&wat_module_package(with_sockets)).to_string();
    assert!(error.contains("sock_open"), "{error}");
    assert!(error.contains("p1"), "the error names the skill: {error}");
    // Positive control: without the socket imports the module loads and runs.
    let plain = r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") i32.const 0 call $exit))"#;
    let skill = host.load(&wat_module_package(plain));
    let outcome = attempt_with(&skill, Invocation::default_command(), None);
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

/// P1-006: A core module importing anything but `wasi_snapshot_preview1` is refused at load, naming the import.
#[test]
fn p1_006_foreign_imports_are_refused_by_name() {
    let host = Host::new();
    let error = host
        .load_err(&wat_module_package(
            r#"(module
                (import "env" "system" (func (param i32) (result i32)))
                (memory (export "memory") 1)
                (func (export "_start")))"#,
        ))
        .to_string();
    assert!(error.contains("`env::system`"), "{error}");
    assert!(error.contains("wasi_snapshot_preview1"), "{error}");
    let error = host
        .load_err(&wat_module_package(
            r#"(module (memory (export "memory") 1) (func (export "add")))"#,
        ))
        .to_string();
    assert!(error.contains("_start"), "{error}");
}

/// P1-007: A preview-1 memory bomb stops at `limits.memory` (exit 3); a small allocation works.
#[test]
fn p1_007_memory_bomb_stops_at_the_limit() {
    let host = Host::new();
    let skill = host.load(&p1_package("", "[limits]\nmemory = \"32 MiB\"\n"));
    let outcome = attempt(&skill, "alloc", json!({"mib": 4096}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Memory);
    assert!(matches!(failure(&outcome), Failure::Limit { .. }));
    assert!(outcome.usage.peak_memory <= 32 << 20);
    assert!(denied(&outcome, AuditKind::Limit, "limits.memory"));
    let outcome = attempt(&skill, "alloc", json!({"mib": 4}), None);
    assert_eq!(ok_value(&outcome), 4);
}

/// P1-008: A preview-1 endless loop is stopped at `limits.timeout`; a quick command finishes.
#[test]
fn p1_008_endless_loop_is_stopped_at_the_timeout() {
    let host = Host::new();
    let skill = host.load(&p1_package("", "[limits]\ntimeout = \"300ms\"\n"));
    let started = Instant::now();
    let outcome = attempt(&skill, "spin", json!({}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let outcome = attempt(&skill, "echo", json!({}), None);
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

/// P1-009: An adapted module is kept in the compile cache under its own bytes: the second load is a hit.
#[test]
fn p1_009_adapted_module_is_cached() {
    let state = tempfile::tempdir().expect("state");
    let cache = tempfile::tempdir().expect("cache");
    let config = RuntimeConfig::new(state.path()).with_compile_cache(cache.path().join("c"));
    let runtime = Runtime::new(config).expect("runtime");
    let package = p1_package("", "");
    let first = runtime.load(package.path()).expect("first load");
    assert_eq!(first.cache_status(), &CacheStatus::Miss);
    let second = runtime.load(package.path()).expect("second load");
    assert_eq!(second.cache_status(), &CacheStatus::Hit);
    assert_eq!(second.format(), ComponentFormat::Preview1Module);
    let outcome = attempt(&second, "echo", json!({"n": 2}), None);
    assert_eq!(ok_value(&outcome), json!({"n": 2}));
}

/// P1-010: Inside its grants a preview-1 module sees standard WASI: a few dozen filesystem, clock, random, environment and stdio operations give the same results as under plain wasmtime.
#[test]
fn p1_010_standard_operations_match_plain_wasmtime() {
    let env = [
        ("GRANTED".to_owned(), "value".to_owned()),
        ("HIDDEN".to_owned(), "nope".to_owned()),
    ];
    let ours = {
        let (host, world) = (Host::new(), World::new());
        let skill = host.load(&p1_package(GRANTS, ""));
        let outcome = attempt_with(
            &skill,
            Invocation::new("ops").env(env.clone()),
            Some(world.workspace.path()),
        );
        outcome.result.clone().expect("ops ran")
    };
    let plain = {
        let world = World::new();
        plain::run_preview1(
            skill_test_artifacts::PREVIEW1,
            &world.workspace,
            &["p1", "ops"],
            &[("GRANTED", "value")],
            b"{}",
        )
    };
    let ours = ours.as_object().expect("an object of results");
    let plain = plain.as_object().expect("an object of results");
    assert!(ours.len() >= 40, "only {} operations ran", ours.len());
    let differ: Vec<String> = ours
        .iter()
        .filter(|(k, v)| plain.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: ours {v}, plain {:?}", plain.get(k)))
        .collect();
    assert!(differ.is_empty(), "results differ:\n{}", differ.join("\n"));
    assert_eq!(ours.len(), plain.len());
    // The run did something real, not only errors.
    assert_eq!(ours["read back"], json!({"ok": "hello"}));
    assert_eq!(ours["env GRANTED"], json!("value"));
    assert_eq!(ours["env HIDDEN"], Value::Null);
    assert_ne!(ours["write ro"].get("err"), None);
}

/// The same guests under wasmtime's own WASI, configured as its CLI would
/// be with equivalent preopens: the reference for "standard semantics".
mod plain {
    use serde_json::Value;
    use wasmtime::{Engine, Linker, Module, Store};
    use wasmtime_wasi::p1::WasiP1Ctx;
    use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
    use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

    /// Runs a preview-1 module with `/rw` read-write and `/ro` read-only
    /// under `workspace`, returning its stdout as JSON.
    pub fn run_preview1(
        module: &str,
        workspace: &tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: &[u8],
    ) -> Value {
        let engine = Engine::default();
        let module = Module::from_file(&engine, module).expect("module");
        let stdout = MemoryOutputPipe::new(1 << 20);
        let mut builder = WasiCtxBuilder::new();
        builder
            .args(args)
            .envs(env)
            .stdin(MemoryInputPipe::new(stdin.to_vec()))
            .stdout(stdout.clone())
            .preopened_dir(workspace.path().join("rw"), "/rw", FsPerms::ReadWrite)
            .expect("rw preopen")
            .preopened_dir(workspace.path().join("ro"), "/ro", FsPerms::ReadOnly)
            .expect("ro preopen");
        let mut store = Store::new(&engine, builder.build_p1());
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t).expect("link");
        let instance = linker.instantiate(&mut store, &module).expect("instance");
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .expect("_start");
        if let Err(e) = start.call(&mut store, ()) {
            let clean = e
                .downcast_ref::<wasmtime_wasi::I32Exit>()
                .is_some_and(|x| x.0 == 0);
            assert!(clean, "the guest failed under plain wasmtime: {e:#}");
        }
        serde_json::from_slice(&stdout.contents()).expect("JSON on stdout")
    }
}
