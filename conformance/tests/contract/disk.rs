//! DISK: what a skill can make the host's disk hold is bounded by
//! `limits.disk-write` (bytes written per call), `limits.disk-files` (files,
//! folders and links created per call) and `limits.state-size` (the size of
//! `{state}`), each enforced as the write happens, whatever route it takes.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use skill_runtime::{ByteSize, LimitKind, Limits};

use super::*;

const WORKSPACE: &str =
    "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read-write\" }]\n";
const STATE: &str =
    "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n";

fn limit_of(outcome: &Outcome) -> (LimitKind, String) {
    match failure(outcome) {
        Failure::Limit { kind, message } => (*kind, message.clone()),
        other => panic!("expected a limit, got {other:?}"),
    }
}

fn size_of(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn write(route: &str, dir: &str, file: &str, kib: u64) -> Value {
    json!({"dir": dir, "file": file, "route": route, "chunk": 4096, "count": kib / 4})
}

/// DISK-001: Bytes written past `limits.disk-write` stop the skill by every write route (descriptor write, write stream, append stream); the host file holds no more than the limit; under it, writes work.
#[test]
fn disk_001_bytes_written_are_capped_on_every_route() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{WORKSPACE}[limits]\ndisk-write = \"1 MiB\"\n"
    )));
    let workspace = tempfile::tempdir().expect("workspace");
    for route in ["write", "stream", "append"] {
        let file = format!("{route}.bin");
        let outcome = attempt(
            &skill,
            "disk-write",
            write(route, "/w", &file, 4096),
            Some(workspace.path()),
        );
        let (kind, message) = limit_of(&outcome);
        assert_eq!(kind, LimitKind::DiskWrite, "{route}");
        assert!(
            message.contains("limits.disk-write = 1 MiB"),
            "{route}: {message}"
        );
        let on_disk = size_of(&workspace.path().join(&file));
        assert!(on_disk <= 1 << 20, "{route} put {on_disk} bytes on disk");
        assert!(denied(&outcome, AuditKind::Limit, "limits.disk-write"));

        // Positive control: half the limit is fine by the same route.
        let ok = attempt(
            &skill,
            "disk-write",
            write(route, "/w", &format!("small-{file}"), 512),
            Some(workspace.path()),
        );
        assert_eq!(ok_value(&ok), json!(512 * 1024), "{route}");
    }
}

/// DISK-002: Creating files, folders or symlinks past `limits.disk-files` stops the skill; no more than the limit exist on the host; under it, creation works.
#[test]
fn disk_002_files_created_are_capped() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{WORKSPACE}[limits]\ndisk-files = 50\n"
    )));
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

        let fresh = tempfile::tempdir().expect("workspace");
        let ok = attempt(
            &skill,
            "disk-create",
            json!({"dir": "/w", "kind": kind, "prefix": "e", "count": 50}),
            Some(fresh.path()),
        );
        assert_eq!(ok_value(&ok), json!(50), "{kind}");
    }
    // Opening an existing file with `create` creates nothing and is not counted.
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

/// DISK-003: Growing `{state}` past `limits.state-size` stops the skill and the state stays as it was; rewriting a file in place does not count as growth, and a state under the limit commits.
#[test]
fn disk_003_state_size_is_capped_and_the_state_kept() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{STATE}[limits]\nstate-size = \"256 KiB\"\n"
    )));
    let committed = |file: &str| size_of(&host.state.path().join("escape/current").join(file));
    ok_value(&attempt(
        &skill,
        "disk-write",
        write("stream", "/state", "a", 128),
        None,
    ));
    assert_eq!(committed("a"), 128 * 1024);
    // The same 128 KiB rewritten five times: 640 KiB written, no growth.
    for route in ["write", "stream", "write", "stream", "write"] {
        ok_value(&attempt(
            &skill,
            "disk-write",
            write(route, "/state", "a", 128),
            None,
        ));
    }
    for (route, file) in [("write", "b"), ("stream", "c"), ("append", "a")] {
        let outcome = attempt(
            &skill,
            "disk-write",
            write(route, "/state", file, 256),
            None,
        );
        let (kind, message) = limit_of(&outcome);
        assert_eq!(kind, LimitKind::StateSize, "{route}");
        assert!(message.contains("limits.state-size = 256 KiB"), "{message}");
        assert_eq!(committed("a"), 128 * 1024, "{route} changed the state");
        if file != "a" {
            assert_eq!(committed(file), 0, "{route} left {file} in the state");
        }
    }
    // A sparse file: set-size past the limit is growth too.
    let outcome = attempt(
        &skill,
        "disk-write",
        json!({"dir": "/state", "file": "sparse", "route": "set-size", "size": 1u64 << 40}),
        None,
    );
    assert_eq!(limit_of(&outcome).0, LimitKind::StateSize);
    assert_eq!(committed("sparse"), 0);
}

/// DISK-004: A host lowers the disk limits per call below the manifest's; it cannot raise them.
#[test]
fn disk_004_host_lowers_disk_limits() {
    let host = Host::new();
    let skill = host.load(&escape_package(WORKSPACE));
    let workspace = tempfile::tempdir().expect("workspace");
    let lower = Limits {
        disk_write: ByteSize(64 * 1024),
        disk_files: 3,
        ..Limits::default_ceiling()
    };
    let outcome = attempt_with(
        &skill,
        Invocation::new("disk-write")
            .input(write("write", "/w", "f", 128))
            .limits(lower),
        Some(workspace.path()),
    );
    assert_eq!(limit_of(&outcome).0, LimitKind::DiskWrite);
    assert!(size_of(&workspace.path().join("f")) <= 64 * 1024);
    let outcome = attempt_with(
        &skill,
        Invocation::new("disk-create")
            .input(json!({"dir": "/w", "kind": "file", "prefix": "n", "count": 10}))
            .limits(lower),
        Some(workspace.path()),
    );
    assert_eq!(limit_of(&outcome).0, LimitKind::DiskFiles);
    // The manifest's limit still applies when the host asks for more.
    let small = host.load(&escape_package(&format!(
        "{WORKSPACE}[limits]\ndisk-write = \"1 MiB\"\n"
    )));
    let outcome = attempt_with(
        &small,
        Invocation::new("disk-write")
            .input(write("stream", "/w", "g", 2048))
            .limits(Limits::default_ceiling()),
        Some(workspace.path()),
    );
    assert_eq!(limit_of(&outcome).0, LimitKind::DiskWrite);
    assert!(size_of(&workspace.path().join("g")) <= 1 << 20);
}

#[cfg(unix)]
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).map(|m| m.blocks() * 512).unwrap_or(0)
}

#[cfg(unix)]
/// DISK-005: A write past a file's end is charged the gap it leaves, and growing a file with set-size is charged in every grant, so sparse writes (one byte every 4 KiB, one byte at 1 GiB) cannot make the disk hold more than `limits.disk-write`; sequential small writes are charged only their bytes.
#[test]
fn disk_005_sparse_writes_and_set_size_are_charged_their_gaps() {
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "{WORKSPACE}[limits]\ndisk-write = \"1 MiB\"\n"
    )));
    let workspace = tempfile::tempdir().expect("workspace");
    let attacks = [
        (
            "sparse.bin",
            json!({"dir": "/w", "file": "sparse.bin", "route": "sparse", "chunk": 1, "stride": 4096, "count": 10_000}),
        ),
        (
            "far.bin",
            json!({"dir": "/w", "file": "far.bin", "route": "write", "chunk": 1, "count": 1, "offset": 1u64 << 30}),
        ),
        (
            "far-stream.bin",
            json!({"dir": "/w", "file": "far-stream.bin", "route": "stream", "chunk": 1, "count": 1, "offset": 1u64 << 30}),
        ),
        (
            "grown.bin",
            json!({"dir": "/w", "file": "grown.bin", "route": "set-size", "size": 1u64 << 30}),
        ),
    ];
    for (file, input) in attacks {
        let outcome = attempt(&skill, "disk-write", input, Some(workspace.path()));
        let (kind, message) = limit_of(&outcome);
        assert_eq!(kind, LimitKind::DiskWrite, "{file}: {message}");
        let path = workspace.path().join(file);
        assert!(
            size_of(&path) <= (1 << 20) + 4096,
            "{file}: {} bytes long",
            size_of(&path)
        );
        assert!(
            allocated(&path) <= (1 << 20) + 8192,
            "{file}: {} bytes allocated",
            allocated(&path)
        );
    }
    // Positive controls: 1,000 one-byte writes in a row cost 1,000 bytes,
    // and growing a file by 512 KiB fits.
    let ok = attempt(
        &skill,
        "disk-write",
        json!({"dir": "/w", "file": "seq.bin", "route": "sparse", "chunk": 1, "stride": 1, "count": 1000}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&ok), json!(1000));
    let ok = attempt(
        &skill,
        "disk-write",
        json!({"dir": "/w", "file": "half.bin", "route": "set-size", "size": 512 * 1024}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&ok), json!(512 * 1024));
}

/// DISK-006: Giving a shared `{state}` file its own copy before a write is charged to `limits.disk-write` before the copy is made: opening a 2 MiB committed file for writing under a 1 MiB limit stops the skill, leaves the state as it was and no copy behind; a small file's copy fits.
#[test]
fn disk_006_copies_before_a_write_are_charged() {
    let host = Host::new();
    let roomy = host.load(&escape_package(STATE));
    ok_value(&roomy_write(&roomy, "big", 2048));
    ok_value(&roomy_write(&roomy, "small", 4));
    let tight = host.load(&escape_package(&format!(
        "{STATE}[limits]\ndisk-write = \"1 MiB\"\n"
    )));
    let outcome = attempt(
        &tight,
        "append",
        json!({"path": "/state/big", "content": "x"}),
        None,
    );
    let (kind, message) = limit_of(&outcome);
    assert_eq!(kind, LimitKind::DiskWrite, "{message}");
    let current = host.state.path().join("escape/current");
    assert_eq!(size_of(&current.join("big")), 2048 * 1024);
    let leftovers = fs::read_dir(host.state.path().join("escape"))
        .expect("state")
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().contains("skill-run-copy"))
        .count();
    assert_eq!(leftovers, 0, "a copy was left behind");
    // Positive control: the small file's copy fits.
    ok_value(&attempt(
        &tight,
        "append",
        json!({"path": "/state/small", "content": "x"}),
        None,
    ));
    assert_eq!(size_of(&current.join("small")), 4 * 1024 + 1);
}

fn roomy_write(skill: &Skill, file: &str, kib: u64) -> Outcome {
    attempt(
        skill,
        "disk-write",
        write("write", "/state", file, kib),
        None,
    )
}
