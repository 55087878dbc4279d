//! P3: WASI 0.3 components (async component model). They get the same
//! base interfaces as WASI 0.2 components, over the same grants, limits
//! and deadlines; WASI 0.3 sockets and HTTP's server side are refused at
//! load (its HTTP client: `http03.rs`).

use std::fs;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skill_runtime::{AuditKind, ComponentFormat, ComponentKind, LimitKind};

use super::*;

const GRANTS: &str = r#"files = [
  { guest = "/rw", host = "{workspace}/rw", access = "read-write" },
  { guest = "/ro", host = "{workspace}/ro", access = "read" },
]
env = ["GRANTED"]
"#;

/// The WASI 0.3 guest with `[capabilities]` text `caps` and more manifest text `extra`.
fn p3_package(caps: &str, extra: &str) -> TempPackage {
    let toml = format!("{}[capabilities]\n{caps}{extra}", skill_table("p3"));
    TempPackage::new("p3", skill_test_artifacts::WASI03, &toml)
}

/// A package whose component is the WAT text `wat`, with `caps`.
fn wat_package(wat: &str, caps: &str) -> TempPackage {
    let package = p3_package(caps, "");
    let bytes = wat::parse_str(wat).expect("valid wat");
    fs::write(package.path().join("skill.wasm"), bytes).expect("write component");
    package
}

/// A workspace with `rw/` and `ro/keep.txt`, and a secret beside them.
fn world() -> tempfile::TempDir {
    let workspace = tempfile::tempdir().expect("workspace");
    fs::create_dir(workspace.path().join("rw")).expect("rw");
    fs::create_dir(workspace.path().join("ro")).expect("ro");
    fs::write(workspace.path().join("ro/keep.txt"), "original").expect("ro file");
    fs::write(workspace.path().join("secret.txt"), CANARY).expect("secret");
    workspace
}

fn limit_kind(outcome: &Outcome) -> LimitKind {
    match failure(outcome) {
        Failure::Limit { kind, .. } => *kind,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// P3-001: A WASI 0.3 command loads as a cli command; its argv is the skill, the command, then the `--` arguments.
#[test]
fn p3_001_component_loads_as_a_command_and_gets_its_arguments() {
    let host = Host::new();
    let skill = host.load(&p3_package("", ""));
    assert_eq!(skill.kind(), ComponentKind::Cli);
    assert_eq!(skill.format(), ComponentFormat::Wasi03);
    assert!(
        skill.imports().iter().any(|i| i.ends_with("@0.3.0")),
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
    assert_eq!(result["args"], json!(["p3", "echo", "--flag", "two words"]));
}

/// P3-002: A WASI 0.3 component cannot read outside its grants (`..`, absolute paths from a granted folder); denials are audited; inside a grant it reads.
#[test]
fn p3_002_reads_outside_grants_are_refused() {
    let (host, workspace) = (Host::new(), world());
    let skill = host.load(&p3_package(GRANTS, ""));
    let ws = Some(workspace.path());
    for path in [
        "/rw/../secret.txt",
        "/ro/../../secret.txt",
        "/rw//etc/passwd",
        "/etc/passwd",
    ] {
        let outcome = attempt(&skill, "read", json!({ "path": path }), ws);
        err_text(&outcome);
        assert_no_canary(&outcome);
        assert!(
            !format!("{:?}", outcome.result).contains("root:"),
            "{path}: {:?}",
            outcome.result
        );
        if path.starts_with("/r") {
            assert!(
                denied(&outcome, AuditKind::File, path),
                "no audited denial for {path}: {:?}",
                outcome.audit
            );
        }
    }
    let outcome = attempt(&skill, "read", json!({"path": "/rw/../secret.txt"}), ws);
    assert!(err_text(&outcome).contains("NotPermitted"), "{outcome:?}");
    // Positive control.
    let outcome = attempt(&skill, "read", json!({"path": "/ro/keep.txt"}), ws);
    assert_eq!(ok_value(&outcome), "original");
}

/// P3-003: A WASI 0.3 component cannot write to a read-only grant (the file is unchanged, the denial audited); a read-write grant takes writes.
#[test]
fn p3_003_writes_to_a_read_only_grant_are_refused() {
    let (host, workspace) = (Host::new(), world());
    let skill = host.load(&p3_package(GRANTS, ""));
    let ws = Some(workspace.path());
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
    let ro = workspace.path().join("ro");
    assert_eq!(
        fs::read_to_string(ro.join("keep.txt")).expect("ro"),
        "original"
    );
    assert!(!ro.join("new.txt").exists());
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/rw/new.txt", "content": "fine"}),
        ws,
    );
    assert_eq!(ok_value(&outcome), true);
    let written = workspace.path().join("rw/new.txt");
    assert_eq!(fs::read_to_string(written).expect("written"), "fine");
}

/// P3-004: A WASI 0.3 component sees only granted environment variables the host has.
#[test]
fn p3_004_only_granted_environment_is_visible() {
    let host = Host::new();
    let env = [
        ("GRANTED".to_owned(), "yes".to_owned()),
        ("HIDDEN".to_owned(), CANARY.to_owned()),
    ];
    let skill = host.load(&p3_package("env = [\"GRANTED\"]\n", ""));
    let outcome = attempt_with(&skill, Invocation::new("env").env(env.clone()), None);
    assert_eq!(ok_value(&outcome), json!({"GRANTED": "yes"}));
    assert_no_canary(&outcome);
    let skill = host.load(&p3_package("", ""));
    let outcome = attempt_with(&skill, Invocation::new("env").env(env), None);
    assert_eq!(ok_value(&outcome), json!({}));
}

/// A component importing `import` (an empty instance) and exporting one function.
fn importing(import: &str) -> String {
    format!(
        r#"(component
            (import "{import}" (instance))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func (export "f") (canon lift (core func $i "f"))))"#
    )
}

/// P3-005: WASI 0.3 sockets and the server side of WASI 0.3 HTTP (`handler`, release candidates) are refused at load, naming the import, even with a network grant; wasi:http@0.2 under the grant loads.
#[test]
fn p3_005_wasi_03_sockets_and_http_server_are_refused_at_load() {
    let host = Host::new();
    let network = "network = [\"https://api.example.com/\"]\n";
    for import in [
        "wasi:http/handler@0.3.0-rc-2025-09-16",
        "wasi:http/handler@0.3.0",
        "wasi:http/types@0.3.0-rc-2025-09-16",
        "wasi:sockets/types@0.3.0",
    ] {
        let error = host
            .load_err(&wat_package(&importing(import), network))
            .to_string();
        assert!(error.contains(import), "{error}");
        assert!(error.contains("p3"), "the error names the skill: {error}");
    }
    // Positive control: the same shape importing WASI 0.2 HTTP loads under the grant.
    let skill = host.load(&wat_package(&importing("wasi:http/types@0.2.6"), network));
    assert_eq!(skill.format(), ComponentFormat::Wasi02);
}

/// P3-006: A WASI 0.3 memory bomb stops at `limits.memory` (exit 3); a small allocation works.
#[test]
fn p3_006_memory_bomb_stops_at_the_limit() {
    let host = Host::new();
    let skill = host.load(&p3_package("", "[limits]\nmemory = \"32 MiB\"\n"));
    let outcome = attempt(&skill, "alloc", json!({"mib": 4096}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Memory);
    assert!(matches!(failure(&outcome), Failure::Limit { .. }));
    assert!(outcome.usage.peak_memory <= 32 << 20);
    let outcome = attempt(&skill, "alloc", json!({"mib": 4}), None);
    assert_eq!(ok_value(&outcome), 4);
}

/// P3-007: The deadline bounds a WASI 0.3 component both spinning and waiting in an async host call; a short wait finishes.
#[test]
fn p3_007_timeout_stops_spinning_and_async_waits() {
    let host = Host::new();
    let skill = host.load(&p3_package("", "[limits]\ntimeout = \"300ms\"\n"));
    for (attempt_name, input) in [("spin", json!({})), ("sleep", json!({"ms": 60_000}))] {
        let started = Instant::now();
        let outcome = attempt(&skill, attempt_name, input, None);
        assert_eq!(limit_kind(&outcome), LimitKind::Timeout, "{attempt_name}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{attempt_name} took {:?}",
            started.elapsed()
        );
    }
    let outcome = attempt(&skill, "sleep", json!({"ms": 10}), None);
    assert_eq!(ok_value(&outcome), true);
}

/// P3-008: A typed export that is an async function is a command like any other.
#[test]
fn p3_008_async_typed_export_is_a_command() {
    let host = Host::new();
    let skill = host.load(&wat_package(
        r#"(component
            (core module $m
                (import "" "task.return" (func $return (param i32)))
                (func (export "double") (param i32) (result i32)
                    (call $return (i32.mul (local.get 0) (i32.const 2)))
                    (i32.const 0))
                (func (export "callback") (param i32 i32 i32) (result i32) unreachable))
            (core func $return (canon task.return (result u32)))
            (core instance $i (instantiate $m
                (with "" (instance (export "task.return" (func $return))))))
            (func (export "double") async (param "n" u32) (result u32)
                (canon lift (core func $i "double") async (callback (core func $i "callback")))))"#,
        "",
    ));
    assert_eq!(skill.kind(), ComponentKind::Typed);
    assert_eq!(skill.format(), ComponentFormat::Wasi03);
    let command = &skill.commands()[0];
    assert_eq!(command.name, "double");
    assert_eq!(command.uncallable, None);
    let outcome = attempt_with(
        &skill,
        Invocation::new("double").input(json!({"n": 21})),
        None,
    );
    assert_eq!(outcome.result.clone().expect("called"), json!(42));
}

/// P3-009: Inside its grants a WASI 0.3 component sees standard WASI: a few dozen filesystem, clock, random, environment and stdio operations give the same results as under plain wasmtime.
#[test]
fn p3_009_standard_operations_match_plain_wasmtime() {
    let env = [
        ("GRANTED".to_owned(), "value".to_owned()),
        ("HIDDEN".to_owned(), "nope".to_owned()),
    ];
    let ours = {
        let (host, workspace) = (Host::new(), world());
        let skill = host.load(&p3_package(GRANTS, ""));
        let outcome = attempt_with(
            &skill,
            Invocation::new("ops").env(env.clone()),
            Some(workspace.path()),
        );
        outcome.result.clone().expect("ops ran")
    };
    let plain = {
        let workspace = world();
        block_on(plain::run_wasi03(
            skill_test_artifacts::WASI03,
            &workspace,
            &["p3", "ops"],
            &[("GRANTED", "value")],
            b"{}",
        ))
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
    assert_eq!(ours["read back"], json!({"ok": "hello"}));
    assert_eq!(ours["env GRANTED"], json!("value"));
    assert_eq!(ours["env HIDDEN"], Value::Null);
    assert_ne!(ours["write ro"].get("err"), None);
}

/// The guest under wasmtime's own WASI 0.3 (and 0.2, for anything the Rust
/// standard library imports), with equivalent preopens.
mod plain {
    use serde_json::Value;
    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime::{Config, Engine, Store};
    use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
    use wasmtime_wasi::p3::bindings::Command;
    use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

    struct State {
        ctx: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.ctx,
                table: &mut self.table,
            }
        }
    }

    pub async fn run_wasi03(
        component: &str,
        workspace: &tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: &[u8],
    ) -> Value {
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        let engine = Engine::new(&config).expect("engine");
        let component = Component::from_file(&engine, component).expect("component");
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
        let state = State {
            ctx: builder.build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&engine, state);
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link p2");
        wasmtime_wasi::p3::add_to_linker(&mut linker).expect("link p3");
        let command = Command::instantiate_async(&mut store, &component, &linker)
            .await
            .expect("instance");
        let exited = store
            .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
            .await
            .expect("run_concurrent")
            .expect("run");
        assert_eq!(exited, Ok(()), "the guest failed under plain wasmtime");
        serde_json::from_slice(&stdout.contents()).expect("JSON on stdout")
    }
}

/// P3-010: A WASI 0.3 component with a read-write `{state}` grant is refused at load (its filesystem calls bypass the state's copy-on-write and disk limits); a read-only `{state}` grant loads.
#[test]
fn p3_010_read_write_state_is_refused_for_wasi_03() {
    let host = Host::new();
    let rw = p3_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n",
        "",
    );
    let error = host.load_err(&rw).to_string();
    assert!(
        error.contains("wasi:filesystem") && error.contains("{state}") && error.contains("read"),
        "{error}"
    );
    // Positive control: the same component with a read-only {state} grant runs.
    let ro = p3_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read\" }]\n",
        "",
    );
    let skill = host.load(&ro);
    let outcome = attempt(&skill, "read", json!({"path": "/state/missing.txt"}), None);
    err_text(&outcome);
}
