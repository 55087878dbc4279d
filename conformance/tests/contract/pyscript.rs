//! PYS: the Python script runtime. A `runtime = "python"` skill's script
//! (`conformance/script-guests/hostile-script/scripts/hostile.py`) runs
//! unmodified in the shared CPython runner and tries to escape it: files
//! outside its grants, the read-only package, processes, sockets, memory,
//! time. Each case asserts the attempt was stopped and nothing leaked, and
//! has its positive control (the granted thing works).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use skill_runtime::capabilities::sockets::SOCKETS_DENIED;
use skill_runtime::script_runtime::PROCESSES_DENIED;
use skill_runtime::{ByteSize, InvokeError, LimitKind, TimeLimit};

use super::*;

const SCRIPT: &str = "scripts/hostile.py";

/// A loaded script skill: its package copy, runtime and workspace.
struct Loaded {
    _host: Host,
    skill: Skill,
    package: tempfile::TempDir,
    workspace: tempfile::TempDir,
    /// A file outside every grant, holding the canary.
    outside: PathBuf,
}

fn manifest() -> String {
    "[skill]\nname = \"hostile-script\"\nversion = \"0.1.0\"\nruntime = \"python\"\n\
     [capabilities]\n\
     files = [\n  { guest = \"/data\", host = \"{workspace}/data\", access = \"read\" },\n  \
     { guest = \"/work\", host = \"{workspace}/work\", access = \"read-write\" },\n]\n\
     network = [\"http://allowed.test/\"]\n\
     env = [\"LANG\"]\n\
     [limits]\nmemory = \"256 MiB\"\ntimeout = \"30s\"\noutput = \"4 MiB\"\n"
        .into()
}

/// A runtime that has the Python runner, with the shared compile cache.
pub(super) fn python_host() -> Host {
    let state = tempfile::tempdir().expect("state folder");
    let config = RuntimeConfig::new(state.path())
        .with_compile_cache(shared_compile_cache())
        .with_python_runner(skill_test_artifacts::PYTHON_RUNNER);
    let runtime = Runtime::new(config).expect("runtime");
    Host { runtime, state }
}

pub(super) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn py() -> &'static Loaded {
    static CELL: OnceLock<Loaded> = OnceLock::new();
    CELL.get_or_init(|| {
        let package = tempfile::tempdir().expect("package");
        copy_tree(
            &Path::new(skill_test_artifacts::WORKSPACE)
                .join("conformance/script-guests/hostile-script"),
            package.path(),
        );
        std::fs::write(package.path().join("skill.toml"), manifest()).expect("manifest");
        let host = python_host();
        let skill = host
            .runtime
            .load(package.path())
            .unwrap_or_else(|e| panic!("loading the script skill: {e}"));
        let workspace = tempfile::tempdir().expect("workspace");
        for folder in ["data", "work"] {
            std::fs::create_dir(workspace.path().join(folder)).expect("grant folder");
        }
        std::fs::write(workspace.path().join("data/readme.txt"), "granted text").expect("write");
        let outside = workspace.path().join("secret.txt");
        std::fs::write(&outside, CANARY).expect("write");
        Loaded {
            _host: host,
            skill,
            package,
            workspace,
            outside,
        }
    })
}

impl Loaded {
    fn run_with(&self, args: &[&str], configure: impl FnOnce(Invocation) -> Invocation) -> Outcome {
        let request = configure(Invocation::new(SCRIPT).args(args.iter().copied()));
        attempt_with(&self.skill, request, Some(self.workspace.path()))
    }

    fn run(&self, args: &[&str]) -> Outcome {
        self.run_with(args, |r| r)
    }
}

/// The JSON line a case printed, from a run that ended with status 0.
pub(super) fn printed(outcome: &Outcome) -> Value {
    assert!(
        outcome.result.is_ok(),
        "the script failed: {:?}\nstderr: {}",
        outcome.result,
        outcome.stderr
    );
    let line = outcome.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", outcome.stdout))
}

fn err_of(v: &Value) -> &str {
    v["err"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a refusal, got {v}"))
}

/// PYS-001: A script runs unmodified: argv is [script, ARG...], stdin and stdout as under python3, only the granted environment, the package read-only at /skill, the working folder the read-write {workspace} grant, a fresh `random` seed per instance.
#[test]
fn pys_001_script_runs_like_python3() {
    let py = py();
    let run = || {
        py.run_with(&["hello", "a b", "--flag"], |r| {
            r.input(Value::String("line one\nline two\n".into())).env([
                ("LANG".to_owned(), "C.UTF-8".to_owned()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), CANARY.to_owned()),
            ])
        })
    };
    let first = run();
    let out = printed(&first);
    assert_eq!(
        out["argv"],
        json!(["/skill/scripts/hostile.py", "hello", "a b", "--flag"])
    );
    assert_eq!(out["stdin"], "line one\nline two\n");
    assert_eq!(out["env"], json!({"LANG": "C.UTF-8"}), "only granted names");
    assert_eq!(out["cwd"], "/work");
    assert_eq!(out["skill_md"], "---");
    assert_no_canary(&first);
    let second = printed(&run());
    assert_ne!(
        out["random"], second["random"],
        "random is reseeded per instance, not frozen in the snapshot"
    );
}

/// PYS-002: A script cannot read outside its grants (a host path, `..` out of a grant, the workspace root), and nothing leaks; a granted file reads.
#[test]
fn pys_002_reading_outside_the_grants_fails() {
    let py = py();
    let outside = py.outside.display().to_string();
    let paths = [
        outside.as_str(),
        "/data/../secret.txt",
        "/skill/../secret.txt",
        "/etc/passwd",
        "secret.txt",
        "../secret.txt",
    ];
    let mut args = vec!["read"];
    args.extend(paths);
    args.push("/data/readme.txt");
    let outcome = py.run(&args);
    let out = printed(&outcome);
    for path in paths {
        let err = err_of(&out[path]);
        assert!(err.contains("Error"), "{path}: {err}");
    }
    assert_eq!(out["/data/readme.txt"]["ok"], "granted text");
    assert_no_canary(&outcome);
}

/// PYS-003: The package folder is read-only: writing, creating or deleting under /skill fails and the package is unchanged; the read-write grant takes the write.
#[test]
fn pys_003_the_package_is_read_only() {
    let py = py();
    let before = std::fs::read(py.package.path().join(SCRIPT)).expect("script");
    let outcome = py.run(&[
        "write",
        "/skill/scripts/hostile.py",
        "/skill/new.py",
        "/work/out.txt",
    ]);
    let out = printed(&outcome);
    for path in ["/skill/scripts/hostile.py", "/skill/new.py"] {
        let err = err_of(&out[path]);
        assert!(
            err.contains("PermissionError") || err.contains("OSError") || err.contains("Error"),
            "{path}: {err}"
        );
    }
    assert_eq!(out["/work/out.txt"]["ok"], "written by the script");
    assert_eq!(
        std::fs::read_to_string(py.workspace.path().join("work/out.txt")).expect("written"),
        "written by the script"
    );
    let removed = printed(&py.run(&["remove", "/skill/SKILL.md"]));
    err_of(&removed["/skill/SKILL.md"]);
    assert!(py.package.path().join("SKILL.md").is_file());
    assert_eq!(
        std::fs::read(py.package.path().join(SCRIPT)).expect("script"),
        before
    );
    assert!(!py.package.path().join("new.py").exists());
}

/// PYS-004: subprocess, os.system, os.popen, os.fork, os.exec* and os.posix_spawn raise an exception saying processes do not exist in the sandbox, each attempt audited; nothing runs, and the script carries on.
#[test]
fn pys_004_starting_a_process_fails_and_is_audited() {
    let py = py();
    let marker = py.workspace.path().join("work/ran");
    let outside = py.outside.display().to_string();
    let outcome = py.run(&["process", &outside, marker.to_str().expect("utf-8")]);
    let out = printed(&outcome);
    for call in [
        "run",
        "check_output",
        "system",
        "popen",
        "fork",
        "execv",
        "spawn",
    ] {
        let err = err_of(&out[call]);
        assert!(
            err.contains("SandboxError") && err.contains("processes do not exist"),
            "{call}: {err}"
        );
    }
    assert_eq!(out["after"], "still running");
    assert!(!marker.exists(), "a process ran");
    assert_no_canary(&outcome);
    for target in [
        "subprocess.Popen(cat",
        "os.system(touch",
        "os.fork",
        "os.execv",
    ] {
        assert!(
            outcome.audit.iter().any(|e| e.kind == AuditKind::Process
                && e.decision == Decision::Deny
                && e.target.contains(target)
                && e.reason == PROCESSES_DENIED),
            "{target} not audited: {:#?}",
            outcome.audit
        );
    }
}

/// A loopback listener that counts the connections it accepts.
fn listener() -> (u16, std::sync::Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut s) = stream {
                let _ = s.read(&mut [0; 16]);
            }
        }
    });
    (port, accepted)
}

/// PYS-005: socket.socket, socket.create_connection and the raw _socket module cannot open a socket: an exception names the fix, each attempt is audited, and the loopback listener sees no connection; the same listener takes a connection from the host (positive control).
#[test]
fn pys_005_opening_a_socket_fails_and_is_audited() {
    let py = py();
    let (port, accepted) = listener();
    let outcome = py.run(&["socket", &port.to_string()]);
    let out = printed(&outcome);
    for call in ["create_connection", "socket"] {
        let err = err_of(&out[call]);
        assert!(err.contains("raw sockets do not exist"), "{call}: {err}");
    }
    err_of(&out["raw"]);
    assert_eq!(out["after"], "still running");
    let socket_denials = outcome
        .audit
        .iter()
        .filter(|e| {
            e.kind == AuditKind::Network
                && e.decision == Decision::Deny
                && e.reason == SOCKETS_DENIED
        })
        .count();
    assert!(socket_denials >= 3, "{:#?}", outcome.audit);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a connection got out");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the listener works");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// PYS-006: A script allocating without bound stops at limits.memory (a limit, exit 3) and the host survives; an allocation within the limit succeeds.
#[test]
fn pys_006_memory_bomb_stops_at_the_limit() {
    let py = py();
    let limits = skill_runtime::Limits {
        memory: ByteSize::mib(128),
        ..py.skill.manifest().limits
    };
    let outcome = py.run_with(&["memory", "4096"], |r| r.limits(limits));
    match failure(&outcome) {
        Failure::Limit { kind, .. } => assert_eq!(*kind, LimitKind::Memory),
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert!(outcome.usage.peak_memory <= 128 << 20);
    let fits = printed(&py.run_with(&["memory", "16"], |r| r.limits(limits)));
    assert_eq!(fits["allocated_mib"], 16);
}

/// PYS-007: An endless loop stops at limits.timeout (a limit) close to the deadline; a short loop completes.
#[test]
fn pys_007_endless_loop_stops_at_the_timeout() {
    let py = py();
    let limits = skill_runtime::Limits {
        timeout: TimeLimit(std::time::Duration::from_secs(2)),
        ..py.skill.manifest().limits
    };
    let started = std::time::Instant::now();
    let outcome = py.run_with(&["loop", "-1"], |r| r.limits(limits));
    match failure(&outcome) {
        Failure::Limit { kind, .. } => assert_eq!(*kind, LimitKind::Timeout),
        other => panic!("expected the timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let done = printed(&py.run_with(&["loop", "1000"], |r| r.limits(limits)));
    assert_eq!(done["looped"], 1000);
}

/// PYS-008: sys.exit(N) ends the run with exit status N (its output kept), an uncaught exception with status 1 and the traceback on stderr, as under python3.
#[test]
fn pys_008_exit_status_is_the_scripts() {
    let py = py();
    let exited = py.run(&["exit", "3"]);
    assert_eq!(
        failure(&exited).exit_status(),
        Some(3),
        "{:?}",
        exited.result
    );
    assert_eq!(exited.stdout, "before exit\n");
    let raised = py.run(&["raise"]);
    assert_eq!(failure(&raised).exit_status(), Some(1));
    assert!(
        raised.stderr.contains("Traceback") && raised.stderr.contains("on purpose"),
        "{}",
        raised.stderr
    );
    let fine = py.run(&["exit", "0"]);
    assert!(fine.result.is_ok(), "{:?}", fine.result);
}

/// PYS-009: Only the package's own .py scripts run: a path leaving the package, an absolute path, a file that is not .py, a missing script or a symlink out of the package is refused before anything starts.
#[test]
fn pys_009_only_the_packages_scripts_run() {
    let py = py();
    let outside = tempfile::tempdir().expect("outside");
    let evil = outside.path().join("evil.py");
    std::fs::write(&evil, format!("print({CANARY:?})\n")).expect("write");
    // The symlink is in the package when it is loaded, so it is in the copy
    // the scripts run from.
    let (_host, linked, _package) = script_package(&manifest(), |root| {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&evil, root.join("scripts/link.py")).expect("symlink");
    });
    let evil_path = evil.display().to_string();
    for (skill, command) in [
        (&py.skill, "../evil.py"),
        (&py.skill, "scripts/../../evil.py"),
        (&py.skill, evil_path.as_str()),
        (&py.skill, "SKILL.md"),
        (&py.skill, "scripts/missing.py"),
        (&linked, "scripts/link.py"),
    ] {
        let request = Invocation::new(command).workspace(py.workspace.path());
        match block_on(skill.invoke(request)) {
            Err(InvokeError::BadInput { reason, .. }) => {
                assert!(!reason.contains(CANARY), "{reason}");
            }
            Err(other) => panic!("{command}: wrong refusal {other}"),
            Ok(outcome) => panic!("{command} ran: {:?}", outcome.stdout),
        }
    }
    // Positive control: the linked skill runs its own script.
    let own = attempt_with(
        &linked,
        Invocation::new(SCRIPT).args(["hash"]),
        Some(py.workspace.path()),
    );
    assert!(own.result.is_ok(), "{:?} {}", own.result, own.stderr);
}

/// A script package from the hostile script guest with `manifest`, changed
/// by `prepare` before it is loaded, on a runtime of its own.
fn script_package(manifest: &str, prepare: impl FnOnce(&Path)) -> (Host, Skill, tempfile::TempDir) {
    let package = tempfile::tempdir().expect("package");
    copy_tree(
        &Path::new(skill_test_artifacts::WORKSPACE)
            .join("conformance/script-guests/hostile-script"),
        package.path(),
    );
    std::fs::write(package.path().join("skill.toml"), manifest).expect("manifest");
    prepare(package.path());
    let host = python_host();
    let skill = host
        .runtime
        .load(package.path())
        .unwrap_or_else(|e| panic!("loading the script skill: {e}"));
    (host, skill, package)
}

/// PYS-011: A script skill runs the package as it was when loaded and admitted: a script rewritten, added or replaced on disk afterwards (by a `git pull`, or another skill with a read-write grant over the folder) never runs, and reading it from /skill gives the checked bytes; admitting again sees the change (refused once signed), and a fresh load runs it.
#[test]
fn pys_011_a_script_changed_after_admission_is_not_what_runs() {
    use skill_runtime::TrustPolicy;
    use skill_runtime::trust::{self, TrustedKeys};
    let original = "print('the checked script')\n";
    let (host, _, package) = script_package(&manifest(), |root| {
        std::fs::write(root.join("scripts/tell.py"), original).expect("script");
    });
    let keys_dir = tempfile::tempdir().expect("keys");
    let key = keys_dir.path().join("author");
    let mut keys = TrustedKeys::default();
    keys.add(trust::generate_key(&key).expect("key"));
    trust::sign_package(package.path(), &key).expect("sign");
    let policy = TrustPolicy::default().signed_by(keys);
    let skill = host
        .runtime
        .admit(package.path(), &policy)
        .expect("the signed package is admitted")
        .into_skill()
        .expect("skill");
    let workspace = tempfile::tempdir().expect("workspace");
    for folder in ["data", "work"] {
        std::fs::create_dir(workspace.path().join(folder)).expect("grant folder");
    }
    let run = |skill: &Skill, script: &str, args: &[&str]| {
        attempt_with(
            skill,
            Invocation::new(script).args(args.iter().copied()),
            Some(workspace.path()),
        )
    };
    let before = run(&skill, "scripts/tell.py", &[]);
    assert_eq!(
        before.stdout.trim(),
        "the checked script",
        "{}",
        before.stderr
    );

    // After admission: the script is rewritten and a new one appears.
    let hostile = format!("print({CANARY:?})\n");
    std::fs::write(package.path().join("scripts/tell.py"), &hostile).expect("rewrite");
    std::fs::write(package.path().join("scripts/added.py"), &hostile).expect("add");
    let after = run(&skill, "scripts/tell.py", &[]);
    assert_eq!(
        after.stdout.trim(),
        "the checked script",
        "{}",
        after.stderr
    );
    assert!(!after.stdout.contains(CANARY) && !after.stderr.contains(CANARY));
    match block_on(skill.invoke(Invocation::new("scripts/added.py").workspace(workspace.path()))) {
        Err(InvokeError::BadInput { reason, .. }) => assert!(!reason.contains(CANARY), "{reason}"),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(outcome) => panic!("a script added after admission ran: {:?}", outcome.stdout),
    }
    let read = printed(&run(&skill, SCRIPT, &["read", "/skill/scripts/tell.py"]));
    let text = read["/skill/scripts/tell.py"]["ok"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("the checked script") && !text.contains(CANARY),
        "{read}"
    );

    // The change is real: admitting again refuses it, and a plain load runs it.
    let again = host.runtime.admit(package.path(), &policy);
    assert!(again.is_err(), "the changed package was admitted");
    let reloaded = host.runtime.load(package.path()).expect("load");
    let changed = run(&reloaded, "scripts/tell.py", &[]);
    assert_eq!(changed.stdout.trim(), CANARY, "{}", changed.stderr);
}

/// PYS-010: urllib.request and http.client work unmodified through wasi:http under the network grant (a granted origin, sent to a loopback server), and a URL outside the grant fails with the fix and is audited, the server seeing only the granted requests; a script skill without a network grant loads, and each request is denied.
#[test]
fn pys_010_stdlib_http_goes_through_the_network_grant() {
    let py = py();
    let _quiet = no_load_spike();
    let server = super::scripted::Counting::start("hello from the mock");
    let to_mock = |r: Invocation| {
        r.network_override(
            skill_runtime::NetworkOverride::parse("http://allowed.test", &server.url())
                .expect("override"),
        )
    };
    let outcome = py.run_with(
        &[
            "urllib",
            "http://allowed.test/data",
            "http://denied.test/data",
            &format!("{}/data", server.url()),
        ],
        to_mock,
    );
    let out = printed(&outcome);
    assert_eq!(
        out["http://allowed.test/data"]["ok"],
        json!([200, "hello from the mock"])
    );
    for url in [
        "http://denied.test/data".to_owned(),
        format!("{}/data", server.url()),
    ] {
        let err = err_of(&out[url.as_str()]);
        assert!(
            err.contains("URLError") && err.contains("HttpRequestDenied"),
            "{url}: {err}"
        );
    }
    assert!(
        denied(&outcome, AuditKind::Network, "denied.test"),
        "{:#?}",
        outcome.audit
    );
    let client = printed(&py.run_with(&["http.client", "allowed.test", "denied.test"], to_mock));
    assert_eq!(
        client["allowed.test"]["ok"],
        json!([200, "hello from the mock"])
    );
    assert!(err_of(&client["denied.test"]).contains("HttpRequestDenied"));
    let requests = server.requests.lock().expect("requests").clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests.iter().all(|r| r.starts_with("GET /data")),
        "{requests:?}"
    );

    // The same script in a skill with no network grant: it loads, and every
    // request is refused before anything is sent.
    let package = tempfile::tempdir().expect("package");
    copy_tree(
        &Path::new(skill_test_artifacts::WORKSPACE)
            .join("conformance/script-guests/hostile-script"),
        package.path(),
    );
    std::fs::write(
        package.path().join("skill.toml"),
        "[skill]\nname = \"hostile-script\"\nversion = \"0.1.0\"\nruntime = \"python\"\n",
    )
    .expect("manifest");
    let host = python_host();
    let offline = host
        .runtime
        .load(package.path())
        .expect("loads without network");
    let outcome = attempt_with(
        &offline,
        to_mock(Invocation::new(SCRIPT).args(["urllib", "http://allowed.test/data"])),
        None,
    );
    let out = printed(&outcome);
    let err = err_of(&out["http://allowed.test/data"]);
    assert!(err.contains("HttpRequestDenied"), "{err}");
    assert!(
        denied(&outcome, AuditKind::Network, "allowed.test"),
        "{:#?}",
        outcome.audit
    );
    assert_eq!(server.requests.lock().expect("requests").len(), 2);
}
