//! P3: WASI 0.3 components (async component model). They get the same
//! base interfaces as WASI 0.2 components, over the same grants, limits
//! and deadlines; WASI 0.3 sockets and HTTP's server side are refused at
//! load (its HTTP client: `http03.rs`).

use std::fs;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skill_runtime::{AuditKind, ComponentFormat, ComponentKind, LimitKind, Runtime, RuntimeConfig};

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

/// A read-write `{state}` grant at `/state`.
const STATE: &str =
    "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n";
/// A read-write `{workspace}` grant at `/w`.
const WORKSPACE: &str =
    "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n";

/// The committed `{state}` file `file` of the `p3` skill, if there is one.
fn committed(host: &Host, file: &str) -> Option<String> {
    fs::read_to_string(host.state.path().join("p3/current").join(file)).ok()
}

fn size_of(path: &std::path::Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The limit an invocation stopped at, and its message.
fn limit_of(outcome: &Outcome) -> (LimitKind, String) {
    match failure(outcome) {
        Failure::Limit { kind, message } => (*kind, message.clone()),
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// A host whose runtime does file I/O on the invoking thread
/// (`blocking_file_io`, the default) or off it, on blocking threads.
fn host_with(blocking: bool) -> Host {
    let state = tempfile::tempdir().expect("state folder");
    let config = RuntimeConfig::builder(state.path())
        .blocking_file_io(blocking)
        .build()
        .with_compile_cache(shared_compile_cache());
    let runtime = Runtime::new(config).expect("runtime");
    Host { runtime, state }
}

/// `count` chunks of `chunk` bytes to `file` in `dir` by `route`.
fn disk_write(route: &str, dir: &str, file: &str, chunk: u64, count: u64) -> Value {
    json!({"dir": dir, "file": file, "route": route, "chunk": chunk, "count": count})
}

/// P3-010: A WASI 0.3 component may hold a read-write `{state}` grant: a successful write is committed, and a change in place (overwrite, append, truncate) followed by a trap or the skill's own error is discarded, leaving the committed file as it was and no work copy behind; a change in place that succeeds is committed.
#[test]
fn p3_010_read_write_state_commits_successes_and_discards_failures() {
    let host = Host::new();
    let skill = host.load(&p3_package(STATE, ""));
    assert_eq!(skill.format(), ComponentFormat::Wasi03);
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "good"}),
        None,
    );
    assert_eq!(ok_value(&outcome), true);
    assert_eq!(committed(&host, "f").as_deref(), Some("good"));
    for how in ["overwrite", "append", "truncate"] {
        for then in ["panic", "fail"] {
            let outcome = attempt(
                &skill,
                "write-then",
                json!({"path": "/state/f", "how": how, "content": "BAD", "then": then}),
                None,
            );
            assert!(
                outcome.result.is_err(),
                "{how} then {then} should fail: {:?}",
                outcome.result
            );
            assert_eq!(
                committed(&host, "f").as_deref(),
                Some("good"),
                "{how} then {then} reached the committed state"
            );
        }
    }
    let work = host.state.path().join("p3/work");
    assert_eq!(
        fs::read_dir(work).map(|d| d.count()).unwrap_or(0),
        0,
        "work copies left behind"
    );
    // Positive control: the same change in place, when the call succeeds.
    let outcome = attempt(
        &skill,
        "overwrite",
        json!({"path": "/state/f", "content": "GO"}),
        None,
    );
    assert_eq!(ok_value(&outcome), true);
    assert_eq!(committed(&host, "f").as_deref(), Some("GOod"));
    // A read-only {state} grant reads the committed state.
    let ro = host.load(&p3_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read\" }]\n",
        "",
    ));
    let outcome = attempt(&ro, "read", json!({"path": "/state/f"}), None);
    assert_eq!(ok_value(&outcome), "GOod");
}

/// P3-017: Bytes a WASI 0.3 component writes past `limits.disk-write` stop it as that limit (exit 3, naming the key) by every route — `write-via-stream`, `append-via-stream`, a stream starting 1 GiB past the end, `set-size` — with file I/O on and off the invoking thread, and the host file holds no more than the limit; under it, writes land with their exact content.
#[test]
fn p3_017_bytes_written_past_disk_write_stop_the_skill() {
    for blocking in [true, false] {
        let host = host_with(blocking);
        let skill = host.load(&p3_package(WORKSPACE, "[limits]\ndisk-write = \"1 MiB\"\n"));
        let workspace = tempfile::tempdir().expect("workspace");
        let ws = Some(workspace.path());
        let attacks = [
            (
                "stream.bin",
                disk_write("stream", "/w", "stream.bin", 65536, 64),
            ),
            (
                "append.bin",
                disk_write("append", "/w", "append.bin", 65536, 64),
            ),
            (
                "far.bin",
                json!({"dir": "/w", "file": "far.bin", "route": "stream", "chunk": 1, "count": 1, "offset": 1u64 << 30}),
            ),
            (
                "grown.bin",
                json!({"dir": "/w", "file": "grown.bin", "route": "set-size", "size": 1u64 << 30}),
            ),
        ];
        for (file, input) in attacks {
            let outcome = attempt(&skill, "disk-write", input, ws);
            let (kind, message) = limit_of(&outcome);
            assert_eq!(kind, LimitKind::DiskWrite, "{file} (blocking {blocking})");
            assert!(
                message.contains("limits.disk-write = 1 MiB"),
                "{file}: {message}"
            );
            assert!(denied(&outcome, AuditKind::Limit, "limits.disk-write"));
            let on_disk = size_of(&workspace.path().join(file));
            assert!(
                on_disk <= 1 << 20,
                "{file} put {on_disk} bytes on disk (blocking {blocking})"
            );
        }
        // Positive controls: half the limit by each stream route, whole.
        for route in ["stream", "append"] {
            let file = format!("half-{route}.bin");
            let outcome = attempt(
                &skill,
                "disk-write",
                disk_write(route, "/w", &file, 65536, 8),
                ws,
            );
            assert_eq!(ok_value(&outcome), json!(512 * 1024), "{route}");
            let bytes = fs::read(workspace.path().join(&file)).expect("written");
            assert_eq!(bytes.len(), 512 * 1024, "{route}");
            assert!(bytes.iter().all(|b| *b == b'x'), "{route}");
        }
        let outcome = attempt(
            &skill,
            "write",
            json!({"path": "/w/exact.txt", "content": "hello, p3"}),
            ws,
        );
        assert_eq!(ok_value(&outcome), true);
        let outcome = attempt(
            &skill,
            "append",
            json!({"path": "/w/exact.txt", "content": ", again"}),
            ws,
        );
        assert_eq!(ok_value(&outcome), true);
        let exact = fs::read_to_string(workspace.path().join("exact.txt")).expect("exact");
        assert_eq!(exact, "hello, p3, again", "blocking {blocking}");
    }
}

/// P3-018: Files, folders and symlinks a WASI 0.3 component creates past `limits.disk-files` stop it as that limit, and no more than the limit exist on the host; under it, creation works, and opening an existing file with `create` is not counted.
#[test]
fn p3_018_entries_created_past_disk_files_stop_the_skill() {
    let host = Host::new();
    let skill = host.load(&p3_package(WORKSPACE, "[limits]\ndisk-files = 50\n"));
    for kind in ["file", "dir", "symlink"] {
        let workspace = tempfile::tempdir().expect("workspace");
        let outcome = attempt(
            &skill,
            "disk-create",
            json!({"dir": "/w", "kind": kind, "prefix": "e", "count": 100_000}),
            Some(workspace.path()),
        );
        let (limit, message) = limit_of(&outcome);
        assert_eq!(limit, LimitKind::DiskFiles, "{kind}");
        assert!(message.contains("limits.disk-files = 50"), "{message}");
        let made = fs::read_dir(workspace.path()).expect("list").count();
        assert_eq!(made, 50, "{kind}: {made} entries on the host");
        // Positive control: exactly the limit is fine.
        let fresh = tempfile::tempdir().expect("workspace");
        let ok = attempt(
            &skill,
            "disk-create",
            json!({"dir": "/w", "kind": kind, "prefix": "e", "count": 50}),
            Some(fresh.path()),
        );
        assert_eq!(ok_value(&ok), json!(50), "{kind}");
    }
    let workspace = tempfile::tempdir().expect("workspace");
    for _ in 0..3 {
        let ok = attempt(
            &skill,
            "disk-create",
            json!({"dir": "/w", "kind": "file", "prefix": "same", "count": 40}),
            Some(workspace.path()),
        );
        assert_eq!(ok_value(&ok), json!(40));
    }
}

#[cfg(unix)]
fn inode(path: &std::path::Path) -> (u64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).expect("metadata");
    (m.ino(), m.mtime())
}

#[cfg(unix)]
/// P3-019: A WASI 0.3 writer never changes a committed `{state}` file in place, by any route (overwrite and append through streams, truncate, `set-size`, times by path or through a read-only descriptor), even when the call traps; the changes themselves are committed.
#[test]
fn p3_019_writers_never_touch_the_committed_files() {
    let host = Host::new();
    let skill = host.load(&p3_package(STATE, ""));
    for file in ["f", "g"] {
        ok_value(&attempt(
            &skill,
            "write",
            json!({"path": format!("/state/{file}"), "content": "committed"}),
            None,
        ));
    }
    // The test keeps its own name for each committed inode.
    let probes = tempfile::tempdir_in(host.state.path()).expect("probes");
    let current = || fs::canonicalize(host.state.path().join("p3/current")).expect("current");
    for file in ["f", "g"] {
        fs::hard_link(current().join(file), probes.path().join(file)).expect("probe");
    }
    let before = inode(&probes.path().join("f"));
    let attempts = [
        ("overwrite", json!({"path": "/state/f", "content": "x"})),
        ("append", json!({"path": "/state/f", "content": "x"})),
        ("truncate", json!({"path": "/state/f"})),
        ("disk-write", disk_write("stream", "/state", "f", 3, 1)),
        (
            "disk-write",
            json!({"dir": "/state", "file": "f", "route": "set-size", "size": 1}),
        ),
        ("touch-at", json!({"dir": "/state", "file": "f"})),
        ("touch-read-only", json!({"dir": "/state", "file": "g"})),
        (
            "write-then",
            json!({"path": "/state/g", "how": "overwrite", "content": "x", "then": "panic"}),
        ),
    ];
    for (name, input) in attempts {
        let _ = attempt(&skill, name, input, None);
        for file in ["f", "g"] {
            assert_eq!(
                fs::read_to_string(probes.path().join(file)).expect("probe"),
                "committed",
                "{name} changed the committed {file}"
            );
        }
        assert_eq!(
            inode(&probes.path().join("f")),
            before,
            "{name} touched f's inode"
        );
    }
    assert_ne!(
        inode(&probes.path().join("g")).1,
        1_000_000,
        "times were set on the committed g"
    );
    // Positive control: the changes themselves are committed (f ends one
    // byte long, with the time touch-at set), g as it was.
    let f = current().join("f");
    assert_eq!(fs::read_to_string(&f).expect("f"), "x");
    assert_eq!(inode(&f).1, 1_000_000);
    assert_eq!(committed(&host, "g").as_deref(), Some("committed"));
}

/// P3-020: Growing `{state}` past `limits.state-size` from a WASI 0.3 component (a stream, an append, `set-size`) stops it as that limit and the state stays as it was; rewriting a file in place is not growth, and a state under the limit commits.
#[test]
fn p3_020_state_size_is_enforced() {
    let host = Host::new();
    let skill = host.load(&p3_package(STATE, "[limits]\nstate-size = \"256 KiB\"\n"));
    let state_file = |file: &str| size_of(&host.state.path().join("p3/current").join(file));
    ok_value(&attempt(
        &skill,
        "disk-write",
        disk_write("stream", "/state", "a", 4096, 32),
        None,
    ));
    assert_eq!(state_file("a"), 128 * 1024);
    // The same 128 KiB rewritten five times: 640 KiB written, no growth.
    for _ in 0..5 {
        ok_value(&attempt(
            &skill,
            "disk-write",
            disk_write("stream", "/state", "a", 4096, 32),
            None,
        ));
    }
    for (route, file) in [("stream", "b"), ("append", "a")] {
        let outcome = attempt(
            &skill,
            "disk-write",
            disk_write(route, "/state", file, 4096, 64),
            None,
        );
        let (kind, message) = limit_of(&outcome);
        assert_eq!(kind, LimitKind::StateSize, "{route}");
        assert!(message.contains("limits.state-size = 256 KiB"), "{message}");
        assert_eq!(state_file("a"), 128 * 1024, "{route} changed the state");
        assert_eq!(state_file("b"), 0, "{route} left b in the state");
    }
    let outcome = attempt(
        &skill,
        "disk-write",
        json!({"dir": "/state", "file": "sparse", "route": "set-size", "size": 1u64 << 40}),
        None,
    );
    assert_eq!(limit_of(&outcome).0, LimitKind::StateSize);
    assert_eq!(state_file("sparse"), 0);
    // Positive control: growth up to the limit commits.
    ok_value(&attempt(
        &skill,
        "disk-write",
        disk_write("stream", "/state", "b", 4096, 31),
        None,
    ));
    assert_eq!(state_file("b"), 124 * 1024);
}

/// P3-021: A WASI 0.3 component cannot move or hard-link a file between `{state}` and another grant (refused as across devices, audited), so no committed inode escapes where it could be changed; within `{state}` both work.
#[test]
fn p3_021_no_moves_or_links_between_state_and_other_grants() {
    let host = Host::new();
    let skill = host.load(&p3_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }, { guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n",
        "",
    ));
    let workspace = tempfile::tempdir().expect("workspace");
    let ws = Some(workspace.path());
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "committed"}),
        ws,
    ));
    fs::write(workspace.path().join("w"), "workspace").expect("write");
    for (op, from_dir, from, to_dir, to) in [
        ("move", "/state", "f", "/w", "moved"),
        ("link", "/state", "f", "/w", "linked"),
        ("move", "/w", "w", "/state", "moved"),
        ("link", "/w", "w", "/state", "linked"),
    ] {
        let outcome = attempt(
            &skill,
            op,
            json!({"from_dir": from_dir, "from": from, "to_dir": to_dir, "to": to}),
            ws,
        );
        let err = err_text(&outcome);
        assert!(
            err.contains("CrossDevice"),
            "{op} {from_dir} -> {to_dir}: {err}"
        );
        assert!(denied(&outcome, AuditKind::File, to), "{:?}", outcome.audit);
    }
    assert!(!workspace.path().join("moved").exists() && !workspace.path().join("linked").exists());
    assert_eq!(committed(&host, "f").as_deref(), Some("committed"));
    assert!(committed(&host, "moved").is_none() && committed(&host, "linked").is_none());
    // Positive control: within {state}, linking and moving work.
    for (op, to) in [("link", "linked"), ("move", "moved")] {
        ok_value(&attempt(
            &skill,
            op,
            json!({"from_dir": "/state", "from": "f", "to_dir": "/state", "to": to}),
            ws,
        ));
    }
    assert_eq!(committed(&host, "moved").as_deref(), Some("committed"));
    assert_eq!(committed(&host, "linked").as_deref(), Some("committed"));
}

/// P3-022: Giving a shared `{state}` file its own copy before a WASI 0.3 write is charged to `limits.disk-write` before the copy is made: appending to a 2 MiB committed file under a 1 MiB limit stops the skill as that limit, leaves the state as it was and no copy behind; a small file's copy fits and the append is committed.
#[test]
fn p3_022_copies_before_a_state_write_are_charged() {
    let host = Host::new();
    let roomy = host.load(&p3_package(STATE, ""));
    ok_value(&attempt(
        &roomy,
        "disk-write",
        disk_write("stream", "/state", "big", 65536, 32),
        None,
    ));
    ok_value(&attempt(
        &roomy,
        "disk-write",
        disk_write("stream", "/state", "small", 4096, 1),
        None,
    ));
    let tight = host.load(&p3_package(STATE, "[limits]\ndisk-write = \"1 MiB\"\n"));
    let outcome = attempt(
        &tight,
        "append",
        json!({"path": "/state/big", "content": "x"}),
        None,
    );
    let (kind, message) = limit_of(&outcome);
    assert_eq!(kind, LimitKind::DiskWrite, "{message}");
    let current = host.state.path().join("p3/current");
    assert_eq!(size_of(&current.join("big")), 2048 * 1024);
    let leftovers = fs::read_dir(host.state.path().join("p3"))
        .expect("state")
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().contains("skill-run-copy"))
        .count();
    assert_eq!(leftovers, 0, "a copy was left behind");
    // Positive control: the small file's copy fits, and the append lands.
    let outcome = attempt(
        &tight,
        "append",
        json!({"path": "/state/small", "content": "y"}),
        None,
    );
    assert_eq!(ok_value(&outcome), true);
    let small = fs::read(current.join("small")).expect("small");
    assert_eq!(small.len(), 4097);
    assert_eq!(small.last(), Some(&b'y'));
}
