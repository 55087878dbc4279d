//! STATE: a skill's `{state}` changes are committed atomically when an
//! invocation succeeds and discarded when it fails, so a half-written state
//! file can never be observed.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use skill_runtime::LimitKind;

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
    let mut config = RuntimeConfig::new(state);
    if let Ok(cache) = std::env::var("HOST_PROCESS_CACHE") {
        config = config.with_compile_cache(cache);
    }
    let command = std::env::var("HOST_PROCESS_COMMAND").unwrap_or_else(|_| "write-slowly".into());
    let runtime = Runtime::new(config).expect("runtime");
    let skill = runtime.load(package).expect("load");
    let input: serde_json::Value = serde_json::from_str(&input).expect("input");
    let outcome = block_on(skill.invoke(Invocation::new(command).input(input))).expect("start");
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

fn counter(host_state: &std::path::Path) -> u64 {
    fs::read_to_string(host_state.join("escape/current/count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// STATE-004: Concurrent writers of one skill in one process all succeed and none of their updates is lost: each starts from the last committed state.
#[test]
fn state_004_concurrent_writers_in_one_process_lose_nothing() {
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    let readers = host.load(&escape_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read\" }]\n",
    ));
    const WRITERS: u64 = 16;
    let outcomes = block_on(async {
        let mut calls = Vec::new();
        for i in 0..WRITERS {
            let skill = skill.clone();
            calls.push(tokio::spawn(async move {
                skill
                    .invoke(
                        Invocation::new("increment")
                            .input(json!({"path": "/state/count", "pause_ms": 5})),
                    )
                    .await
            }));
            // Readers in between: they pin a version that writers then replace.
            let readers = readers.clone();
            calls.push(tokio::spawn(async move {
                readers
                    .invoke(Invocation::new("read").input(json!({"path": "/state/count"})))
                    .await
            }));
            if i % 4 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("join").expect("started"));
        }
        outcomes
    });
    for outcome in &outcomes {
        let value = match &outcome.result {
            Ok(v) => v.clone(),
            Err(f) => panic!("a call failed: {}", f.message()),
        };
        // A reader sees a whole committed number (or no file yet), never an error.
        if let Some(err) = value.get("err") {
            assert!(
                err.as_str().unwrap_or_default().contains("No such file"),
                "{value}"
            );
        }
    }
    assert_eq!(counter(host.state.path()), WRITERS, "updates were lost");
}

/// STATE-005: 32 host processes writing one skill's state at once all succeed and every update is kept: the writers' lock holds across processes.
#[test]
fn state_005_concurrent_writers_across_processes_lose_nothing() {
    let state = tempfile::tempdir().expect("state");
    let cache = tempfile::tempdir().expect("cache");
    let package = escape_package(&format!("{STATE}[limits]\ntimeout = \"20s\"\n"));
    // Compile once so the 32 hosts load from the cache.
    let warm = Runtime::new(RuntimeConfig::new(state.path()).with_compile_cache(cache.path()))
        .expect("runtime");
    drop(warm.load(package.path()).expect("load"));
    const HOSTS: u64 = 32;
    let children: Vec<_> = (0..HOSTS)
        .map(|_| {
            Command::new(std::env::current_exe().expect("test binary"))
                .args([
                    "--exact",
                    "state::host_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("HOST_PROCESS_PACKAGE", package.path())
                .env("HOST_PROCESS_STATE", state.path())
                .env("HOST_PROCESS_CACHE", cache.path())
                .env("HOST_PROCESS_COMMAND", "increment")
                .env(
                    "HOST_PROCESS_INPUT",
                    json!({"path": "/state/count", "pause_ms": 2}).to_string(),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a host")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "a host failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(counter(state.path()), HOSTS, "updates were lost");
    let work = state.path().join("escape/work");
    assert_eq!(fs::read_dir(work).map(|d| d.count()).unwrap_or(0), 0);
}

#[cfg(unix)]
fn inode(path: &std::path::Path) -> (u64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).expect("metadata");
    (m.ino(), m.mtime())
}

#[cfg(unix)]
/// STATE-006: A writer never changes a committed file in place, by any route (overwrite, append, truncate, set-size, times by path or through a read-only descriptor), even when the call fails; unchanged files are shared, not copied.
#[test]
fn state_006_writers_never_touch_the_committed_files() {
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    for file in ["f", "g", "untouched"] {
        ok_value(&attempt(
            &skill,
            "write",
            json!({"path": format!("/state/{file}"), "content": "committed"}),
            None,
        ));
    }
    // The test keeps its own name for each committed inode.
    let probes = tempfile::tempdir_in(host.state.path()).expect("probes");
    let current = || fs::canonicalize(host.state.path().join("escape/current")).expect("current");
    for file in ["f", "g"] {
        fs::hard_link(current().join(file), probes.path().join(file)).expect("probe");
    }
    let before = inode(&probes.path().join("f"));
    let attempts = [
        ("write", json!({"path": "/state/f", "content": "x"})),
        ("append", json!({"path": "/state/f", "content": "x"})),
        ("truncate", json!({"path": "/state/f"})),
        (
            "disk-write",
            json!({"dir": "/state", "file": "f", "route": "write", "chunk": 3, "count": 1}),
        ),
        (
            "disk-write",
            json!({"dir": "/state", "file": "f", "route": "set-size", "size": 1}),
        ),
        ("touch-at", json!({"dir": "/state", "file": "f"})),
        ("touch-read-only", json!({"dir": "/state", "file": "g"})),
        (
            "write-then-panic",
            json!({"path": "/state/g", "content": "x"}),
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
    let g = inode(&probes.path().join("g"));
    assert_ne!(g.1, 1_000_000, "times were set on the committed g");
    // Positive control: the changes themselves are committed.
    assert_eq!(fs::metadata(current().join("f")).expect("f").len(), 1);
    // An untouched file is the very same inode in the new version.
    let untouched = inode(&current().join("untouched"));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "y"}),
        None,
    ));
    assert_eq!(
        inode(&current().join("untouched")).0,
        untouched.0,
        "copied, not shared"
    );
}

/// STATE-007: Moving or hard-linking a file between `{state}` and another grant is refused (as across devices), so no committed inode escapes into a folder where it could be changed; within `{state}` both work.
#[test]
fn state_007_no_moves_or_links_between_state_and_other_grants() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }, { guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n",
    ));
    let workspace = tempfile::tempdir().expect("workspace");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "committed"}),
        Some(workspace.path()),
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
            Some(workspace.path()),
        );
        let err = err_text(&outcome);
        assert!(
            err.contains("cross-device"),
            "{op} {from_dir} -> {to_dir}: {err}"
        );
        assert!(denied(&outcome, AuditKind::File, to));
    }
    assert!(!workspace.path().join("moved").exists() && !workspace.path().join("linked").exists());
    assert_eq!(committed(&host, "f").as_deref(), Some("committed"));
    assert!(workspace.path().join("w").exists());
    // Positive control: within {state}, moving and linking work.
    for (op, to) in [("link", "linked"), ("move", "moved")] {
        ok_value(&attempt(
            &skill,
            op,
            json!({"from_dir": "/state", "from": "f", "to_dir": "/state", "to": to}),
            Some(workspace.path()),
        ));
    }
    assert_eq!(committed(&host, "moved").as_deref(), Some("committed"));
}

/// STATE-008: Work copies left by killed hosts are reclaimed when the state is next opened for writing; a copy still held by a live writer is never removed.
#[test]
fn state_008_leaked_work_copies_are_reclaimed_and_live_ones_kept() {
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "v1"}),
        None,
    ));
    let work = host.state.path().join("escape/work");
    let leaked = work.join("7-99999-0-0");
    fs::create_dir_all(&leaked).expect("leaked");
    fs::write(leaked.join("big"), vec![0u8; 1 << 20]).expect("write");
    let live = work.join("8-99998-0-0");
    fs::create_dir_all(&live).expect("live");
    fs::write(live.join("mine"), "in use").expect("write");
    let holder = fs::File::open(&live).expect("open");
    holder.try_lock().expect("lock the live copy");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "v2"}),
        None,
    ));
    assert!(!leaked.exists(), "a leaked copy was kept");
    assert_eq!(
        fs::read_to_string(live.join("mine")).ok().as_deref(),
        Some("in use"),
        "a live copy was removed"
    );
    // Old versions that nobody reads are gone too: one version remains.
    let versions = fs::read_dir(host.state.path().join("escape/versions"))
        .expect("versions")
        .count();
    assert_eq!(versions, 1);
    assert_eq!(committed(&host, "f").as_deref(), Some("v2"));
}

/// STATE-009: A folder of another grant that takes the inode number of a closed `{state}` folder is not treated as `{state}`: linking a committed file into it and moving a file from it into `{state}` are refused, and nothing reaches the committed state.
#[test]
fn state_009_a_reused_inode_number_does_not_make_a_folder_state() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }, { guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n",
    ));
    // Beside the state (the same disk where temporary folders share one),
    // so that inode numbers can be reused between the two.
    let workspace =
        tempfile::tempdir_in(host.state.path().parent().expect("parent")).expect("workspace");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "committed"}),
        Some(workspace.path()),
    ));
    let outcome = attempt(
        &skill,
        "inode-reuse",
        json!({"state": "/state", "other": "/w", "tries": 50}),
        Some(workspace.path()),
    );
    let report = outcome.result.clone().expect("the attempt ran");
    assert!(report.get("err").is_none(), "{report}");
    eprintln!("inode reuse: {report}");
    let link = report["link"].as_str().unwrap_or_default();
    let rename = report["rename"].as_str().unwrap_or_default();
    assert!(
        link.contains("cross-device"),
        "link was not refused: {report}"
    );
    assert!(
        rename.contains("cross-device"),
        "move was not refused: {report}"
    );
    assert!(denied(&outcome, AuditKind::File, "x"));
    assert_ne!(
        report["write"],
        json!("ok"),
        "wrote through the link: {report}"
    );
    // Nothing reached the committed state, and the big file stayed where it was.
    assert_eq!(committed(&host, "f").as_deref(), Some("committed"));
    assert!(
        committed(&host, "big").is_none(),
        "a workspace file moved into {{state}}"
    );
    assert!(
        fs::read_dir(workspace.path())
            .expect("ws")
            .flatten()
            .all(|e| !e.path().join("x").exists())
    );
    // Positive control: the same folder of the workspace takes a file
    // written through it, and linking within {state} works.
    assert_eq!(report["big"], json!("ok"), "{report}");
    ok_value(&attempt(
        &skill,
        "link",
        json!({"from_dir": "/state", "from": "f", "to_dir": "/state", "to": "g"}),
        Some(workspace.path()),
    ));
    assert_eq!(committed(&host, "g").as_deref(), Some("committed"));
}

/// STATE-010: Deeply nested `{state}` folders with the longest names cannot brick the state (later writers still start), and a `{state}` nested deeper than 32 folders is refused at commit, leaving the state as it was.
#[test]
fn state_010_deep_long_named_folders_neither_brick_nor_commit_past_the_cap() {
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    let write = |content: &str| {
        attempt(
            &skill,
            "write",
            json!({"path": "/state/f", "content": content}),
            None,
        )
    };
    ok_value(&write("v1"));
    // 17 levels of 255 characters: the absolute path is past PATH_MAX.
    let deep = attempt(
        &skill,
        "deep",
        json!({"dir": "/state", "top": "a", "len": 255, "depth": 17}),
        None,
    );
    assert_eq!(ok_value(&deep), json!(17));
    // Positive control and the attack's aim: the next writers still start
    // and commit, and the deep tree is carried over.
    ok_value(&write("v2"));
    ok_value(&write("v3"));
    assert_eq!(committed(&host, "f").as_deref(), Some("v3"));
    // Read back level by level through open handles (/proc/self/fd keeps
    // each path short).
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let current = host.state.path().join("escape/current/a");
        let mut dir = fs::File::open(current).expect("a");
        for _ in 1..17 {
            let next = format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), "n".repeat(255));
            dir = fs::File::open(next).expect("level");
        }
        let leaf = format!("/proc/self/fd/{}/leaf", dir.as_raw_fd());
        assert_eq!(fs::read_to_string(leaf).expect("leaf"), "bottom");
    }

    // Past the cap: the call fails at commit and nothing of it is kept.
    let outcome = attempt(
        &skill,
        "deep",
        json!({"dir": "/state", "top": "b", "len": 8, "depth": 40}),
        None,
    );
    match failure(&outcome) {
        Failure::Trap { cause } => assert!(cause.contains("deeper than 32"), "{cause}"),
        other => panic!("expected the commit to be refused, got {other:?}"),
    }
    assert!(
        committed(&host, "b").is_none(),
        "the too-deep tree was committed"
    );
    ok_value(&write("v4"));
    assert_eq!(committed(&host, "f").as_deref(), Some("v4"));
}

/// STATE-011: `{state}` holds at most `limits.state-files` files, folders and links across calls, and symlinks count toward `limits.state-size`: a call leaving more is stopped naming the key and its changes discarded; a host's lower limit also stops a writer from starting; under the limits, writes commit.
#[test]
fn state_011_state_entries_and_symlinks_are_capped_across_calls() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{STATE}[limits]\nstate-files = 50\nstate-size = \"1 KiB\"\n"
    )));
    let create = |kind: &str, prefix: &str, count: u64| {
        attempt(
            &skill,
            "disk-create",
            json!({"dir": "/state", "kind": kind, "prefix": prefix, "count": count}),
            None,
        )
    };
    let entries = || {
        fs::read_dir(host.state.path().join("escape/current"))
            .expect("current")
            .count()
    };
    // Empty files and folders cost no bytes, but each is an entry.
    assert_eq!(ok_value(&create("file", "a", 30)), json!(30));
    assert_eq!(ok_value(&create("dir", "b", 10)), json!(10));
    assert_eq!(entries(), 40);
    let outcome = create("file", "c", 20);
    match failure(&outcome) {
        Failure::Limit { kind, message } => {
            assert_eq!(*kind, LimitKind::StateFiles);
            assert!(message.contains("limits.state-files = 50"), "{message}");
        }
        other => panic!("expected limits.state-files, got {other:?}"),
    }
    assert!(denied(&outcome, AuditKind::Limit, "limits.state-files"));
    assert_eq!(entries(), 40, "the refused call's files were committed");
    // Symlinks are entries and their targets are bytes: 9 x "target" fits,
    // but their bytes and 160 more do not fit in 1 KiB.
    assert_eq!(ok_value(&create("symlink", "s", 9)), json!(9));
    assert_eq!(entries(), 49);
    let many = host.load(&escape_package(&format!(
        "{STATE}[limits]\nstate-size = \"1 KiB\"\n"
    )));
    let outcome = attempt(
        &many,
        "disk-create",
        json!({"dir": "/state", "kind": "symlink", "prefix": "t", "count": 200}),
        None,
    );
    match failure(&outcome) {
        Failure::Limit { kind, .. } => assert_eq!(*kind, LimitKind::StateSize),
        other => panic!("expected limits.state-size, got {other:?}"),
    }
    // A host's lower limit refuses the writer before it copies anything.
    let lower = skill_runtime::Limits {
        state_files: 10,
        ..skill_runtime::Limits::default_ceiling()
    };
    let err = block_on(
        skill.invoke(
            Invocation::new("write")
                .input(json!({"path": "/state/f", "content": "x"}))
                .limits(lower),
        ),
    )
    .expect_err("a writer over the host's state-files limit must not start");
    assert!(err.to_string().contains("limits.state-files = 10"), "{err}");
    assert_eq!(entries(), 49);
}

#[cfg(unix)]
/// STATE-012: A descriptor opened read-only in `{state}` can never set times, even after a write elsewhere gave the file its own inode and left the descriptor on the committed one: the committed file's times stay as they were.
#[test]
fn state_012_a_read_descriptor_kept_across_the_break_cannot_touch_the_committed_file() {
    use std::os::unix::fs::MetadataExt;
    let host = Host::new();
    let skill = host.load(&escape_package(STATE));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "committed"}),
        None,
    ));
    // An open handle, not a second name: the committed inode keeps one link.
    let held = fs::File::open(host.state.path().join("escape/current/f")).expect("open");
    let before = held.metadata().expect("stat").mtime();
    let outcome = attempt(
        &skill,
        "touch-across-break",
        json!({"dir": "/state", "file": "f"}),
        None,
    );
    let err = err_text(&outcome);
    assert!(err.contains("not-permitted"), "{err}");
    assert!(denied(&outcome, AuditKind::File, "/state/f"));
    let after = held.metadata().expect("stat");
    assert_eq!(after.mtime(), before, "the committed file's times changed");
    assert_ne!(after.mtime(), 1_000_000);
    let mut content = String::new();
    std::io::Read::read_to_string(&mut &held, &mut content).expect("read");
    assert_eq!(content, "committed");
    // Positive control: setting times by path works on the call's own copy.
    ok_value(&attempt(
        &skill,
        "touch-at",
        json!({"dir": "/state", "file": "f"}),
        None,
    ));
    let current = fs::metadata(host.state.path().join("escape/current/f")).expect("f");
    assert_eq!(current.mtime(), 1_000_000);
}

/// STATE-013: Writers waiting for their turn on a skill's state hold no slot of the runtime's pool: with two slots and three slow writers queued on one state, another skill's call still runs at once; every writer's update is kept.
#[test]
fn state_013_queued_writers_hold_no_pool_slots() {
    // Timing-sensitive: not while the stress case loads the machine.
    let _quiet = no_load_spike();
    let root = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(root.path())
        .max_concurrent_invocations(2)
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let writer = runtime.load(escape_package(STATE).path()).expect("load");
    let other = runtime.load(escape_package("").path()).expect("load");
    const PAUSE_MS: u64 = 2_000;
    let (others_time, outcomes) = block_on(async {
        let mut calls = Vec::new();
        for _ in 0..3 {
            let skill = writer.clone();
            calls.push(tokio::spawn(async move {
                skill
                    .invoke(
                        Invocation::new("increment")
                            .input(json!({"path": "/state/count", "pause_ms": PAUSE_MS})),
                    )
                    .await
            }));
        }
        // Let the writers start and queue on the state.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let outcome = other
            .invoke(Invocation::new("read").input(json!({"path": "/nothing"})))
            .await
            .expect("started");
        let took = started.elapsed();
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("join").expect("started"));
        }
        (took, outcomes)
    });
    assert!(
        others_time < Duration::from_millis(PAUSE_MS / 2),
        "another skill waited {others_time:?} behind queued writers"
    );
    for outcome in &outcomes {
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }
    // Positive control: the writers took turns and lost nothing.
    let count = fs::read_to_string(root.path().join("escape/current/count")).expect("count");
    assert_eq!(count.trim(), "3");
}

#[cfg(unix)]
/// STATE-014: A `{workspace}` overlapping the runtime's state folder is refused before the skill runs, and a `current` link not pointing at `versions/<name>` is never read from or removed; with a workspace elsewhere, calls run.
#[test]
fn state_014_no_workspace_over_the_state_and_no_foreign_current() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }, { guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n",
    ));
    let elsewhere = tempfile::tempdir().expect("workspace");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "committed"}),
        Some(elsewhere.path()),
    ));
    for over in [
        host.state.path().to_path_buf(),
        host.state.path().join("escape"),
        host.state.path().parent().expect("parent").to_path_buf(),
    ] {
        let err = block_on(
            skill.invoke(
                Invocation::new("write")
                    .input(json!({"path": "/w/escape/current/f", "content": "pwned"}))
                    .workspace(&over),
            ),
        )
        .expect_err("a workspace over the state must be refused");
        assert!(err.to_string().contains("overlaps"), "{err}");
    }
    assert_eq!(committed(&host, "f").as_deref(), Some("committed"));

    // `current` repointed at a folder outside the state: never used, never removed.
    let victim = tempfile::tempdir().expect("victim");
    fs::write(victim.path().join("keep"), "mine").expect("write");
    let current = host.state.path().join("escape/current");
    let saved = fs::read_link(&current).expect("link");
    fs::remove_file(&current).expect("unlink");
    std::os::unix::fs::symlink(victim.path(), &current).expect("repoint");
    let err = block_on(
        skill.invoke(
            Invocation::new("write")
                .input(json!({"path": "/state/f", "content": "x"}))
                .workspace(elsewhere.path()),
        ),
    )
    .expect_err("a foreign current must not be used");
    assert!(err.to_string().contains("not made by skill-run"), "{err}");
    assert_eq!(
        fs::read_to_string(victim.path().join("keep"))
            .ok()
            .as_deref(),
        Some("mine")
    );
    // Positive control: with `current` restored, calls run and commit.
    fs::remove_file(&current).expect("unlink");
    std::os::unix::fs::symlink(saved, &current).expect("restore");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/f", "content": "v2"}),
        Some(elsewhere.path()),
    ));
    assert_eq!(committed(&host, "f").as_deref(), Some("v2"));
}

/// STATE-015: With file I/O off the invoking thread (`blocking_file_io = false`), a write still in flight when the skill returns lands before `{state}` is committed: the committed file is whole at once and never changes afterwards.
#[test]
fn state_015_writes_in_flight_land_before_the_commit() {
    let root = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(root.path())
        .blocking_file_io(false)
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let skill = runtime.load(escape_package(STATE).path()).expect("load");
    for n in 0..5 {
        let file = format!("f{n}");
        let outcome = attempt(
            &skill,
            "stream-and-return",
            json!({"dir": "/state", "file": file, "bytes": 1u64 << 20}),
            None,
        );
        let written = ok_value(&outcome).as_u64().expect("bytes");
        assert!(written > 0);
        let path = root.path().join("escape/current").join(&file);
        let at_once = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            at_once, written,
            "call {n}: committed {at_once} of {written} bytes"
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(fs::metadata(&path).expect("f").len(), written);
    }
}
