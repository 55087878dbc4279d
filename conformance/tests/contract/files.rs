//! FS: what a skill can see and change on the host's filesystem.

use std::fs;

use serde_json::json;
use skill_runtime::{AuditKind, Decision, Invocation, InvokeError};

use super::*;

const GRANTS: &str = r#"files = [
  { guest = "/rw", host = "{workspace}/rw", access = "read-write" },
  { guest = "/ro", host = "{workspace}/ro", access = "read" },
]
"#;

/// A workspace with `rw/` and `ro/` folders, a secret beside them and one outside the workspace.
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
        fs::write(workspace.path().join("rw/mine.txt"), "mine").expect("rw file");
        fs::write(workspace.path().join("secret.txt"), CANARY).expect("secret");
        fs::write(outside.path().join("id_rsa"), CANARY).expect("outside secret");
        World { workspace, outside }
    }

    fn ro_file(&self) -> String {
        fs::read_to_string(self.workspace.path().join("ro/keep.txt")).expect("ro file readable")
    }
}

/// FS-001: An absolute host path outside every grant cannot be read.
#[test]
fn fs_001_absolute_path_outside_grants_is_unreadable() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let target = world.outside.path().join("id_rsa");
    let outcome = attempt(
        &skill,
        "read",
        json!({"path": target}),
        Some(world.workspace.path()),
    );
    err_text(&outcome);
    assert_no_canary(&outcome);
    let outcome = attempt(
        &skill,
        "read",
        json!({"path": "/etc/passwd"}),
        Some(world.workspace.path()),
    );
    assert!(
        !format!("{:?}", outcome.result).contains("root:"),
        "read /etc/passwd: {:?}",
        outcome.result
    );
}

/// FS-002: `..` cannot climb out of a grant, and the attempt is audited as a denial.
#[test]
fn fs_002_dotdot_cannot_leave_a_grant_and_is_audited() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    for path in [
        "/rw/../secret.txt",
        "/ro/../../secret.txt",
        "/rw/../../../../../../etc/passwd",
    ] {
        let outcome = attempt(
            &skill,
            "read",
            json!({"path": path}),
            Some(world.workspace.path()),
        );
        err_text(&outcome);
        assert_no_canary(&outcome);
        assert!(
            denied(&outcome, AuditKind::File, ".."),
            "no audited denial for {path}: {:?}",
            outcome.audit
        );
    }
}

/// FS-003: A symlink inside a grant that points outside it is not followed out.
#[test]
fn fs_003_symlink_pointing_out_of_a_grant_is_not_followed() {
    let (host, world) = (Host::new(), World::new());
    let rw = world.workspace.path().join("rw");
    std::os::unix::fs::symlink(world.outside.path().join("id_rsa"), rw.join("link-file"))
        .expect("symlink");
    std::os::unix::fs::symlink(world.outside.path(), rw.join("link-dir")).expect("symlink");
    std::os::unix::fs::symlink("../secret.txt", rw.join("link-relative")).expect("symlink");
    let skill = host.load(&escape_package(GRANTS));
    for path in ["/rw/link-file", "/rw/link-dir/id_rsa", "/rw/link-relative"] {
        let outcome = attempt(
            &skill,
            "read",
            json!({"path": path}),
            Some(world.workspace.path()),
        );
        err_text(&outcome);
        assert_no_canary(&outcome);
    }
    // Writing through the link must not change the file outside either.
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/rw/link-file", "content": "pwned"}),
        Some(world.workspace.path()),
    );
    err_text(&outcome);
    assert_eq!(
        fs::read_to_string(world.outside.path().join("id_rsa")).expect("outside file"),
        CANARY
    );
}

/// FS-004: A read-only grant refuses writes and the host file is unchanged.
#[test]
fn fs_004_read_only_grant_refuses_writes() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let ws = Some(world.workspace.path());
    for (attempt_name, input) in [
        (
            "write",
            json!({"path": "/ro/keep.txt", "content": "changed"}),
        ),
        ("append", json!({"path": "/ro/keep.txt", "content": "more"})),
        ("truncate", json!({"path": "/ro/keep.txt"})),
        ("write", json!({"path": "/ro/new.txt", "content": "new"})),
        ("remove", json!({"path": "/ro/keep.txt"})),
        ("mkdir", json!({"path": "/ro/sub"})),
        (
            "rename",
            json!({"from": "/ro/keep.txt", "to": "/ro/moved.txt"}),
        ),
    ] {
        let outcome = attempt(&skill, attempt_name, input, ws);
        err_text(&outcome);
        assert!(
            outcome
                .audit
                .iter()
                .any(|e| e.kind == AuditKind::File && e.decision == Decision::Deny),
            "{attempt_name}: no denial audited"
        );
    }
    assert_eq!(world.ro_file(), "original");
    let mut names: Vec<_> = fs::read_dir(world.workspace.path().join("ro"))
        .expect("ro")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec!["keep.txt"]);
}

/// FS-005: Files cannot be moved or hard-linked between a read-only and a read-write grant.
#[test]
fn fs_005_no_rename_or_hard_link_across_grants() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let ws = Some(world.workspace.path());
    // A hard link into /rw would let the skill write the read-only file through /rw.
    let outcome = attempt(
        &skill,
        "hard-link",
        json!({"from": "/ro/keep.txt", "to": "/rw/alias.txt"}),
        ws,
    );
    err_text(&outcome);
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/rw/alias.txt", "content": "changed"}),
        ws,
    );
    ok_value(&outcome);
    assert_eq!(world.ro_file(), "original");
    // Moving the read-only file out, or a new file in, is refused too.
    err_text(&attempt(
        &skill,
        "rename",
        json!({"from": "/ro/keep.txt", "to": "/rw/stolen.txt"}),
        ws,
    ));
    err_text(&attempt(
        &skill,
        "rename",
        json!({"from": "/rw/mine.txt", "to": "/ro/planted.txt"}),
        ws,
    ));
    assert_eq!(world.ro_file(), "original");
    assert!(!world.workspace.path().join("ro/planted.txt").exists());
}

/// FS-006: Inside a read-write grant, reads and writes work and land in the host folder.
#[test]
fn fs_006_read_write_grant_works_for_granted_paths() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let ws = Some(world.workspace.path());
    assert_eq!(
        ok_value(&attempt(
            &skill,
            "write",
            json!({"path": "/rw/new.txt", "content": "hello"}),
            ws
        )),
        true
    );
    assert_eq!(
        fs::read_to_string(world.workspace.path().join("rw/new.txt")).expect("written"),
        "hello"
    );
    assert_eq!(
        ok_value(&attempt(
            &skill,
            "read",
            json!({"path": "/ro/keep.txt"}),
            ws
        )),
        "original"
    );
    assert_eq!(
        ok_value(&attempt(&skill, "list", json!({"path": "/rw"}), ws)),
        json!(["mine.txt", "new.txt"])
    );
    let outcome = attempt(&skill, "read", json!({"path": "/rw/mine.txt"}), ws);
    assert!(outcome.audit.iter().any(|e| e.kind == AuditKind::File
        && e.target == "/rw/mine.txt"
        && e.decision == Decision::Allow));
}

/// FS-007: With no file grants, the skill sees no filesystem at all.
#[test]
fn fs_007_no_grants_means_no_filesystem() {
    let host = Host::new();
    let skill = host.load(&escape_package(""));
    for path in ["/", ".", "/tmp", "/etc"] {
        err_text(&attempt(&skill, "list", json!({"path": path}), None));
    }
    err_text(&attempt(
        &skill,
        "read",
        json!({"path": "/etc/hostname"}),
        None,
    ));
    // wasi-libc reports `/` when the host sets no working directory: not the host's.
    let host_cwd = std::env::current_dir().expect("cwd").display().to_string();
    assert_ne!(
        ok_value(&attempt(&skill, "cwd", json!({}), None)),
        serde_json::Value::String(host_cwd)
    );
}

/// FS-008: A grant whose host folder is a symlink leaving the workspace is refused before the skill runs.
#[test]
fn fs_008_granted_folder_that_is_a_symlink_out_is_refused() {
    let (host, world) = (Host::new(), World::new());
    fs::remove_dir_all(world.workspace.path().join("rw")).expect("remove rw");
    std::os::unix::fs::symlink(world.outside.path(), world.workspace.path().join("rw"))
        .expect("symlink");
    let skill = host.load(&escape_package(GRANTS));
    let error = block_on(
        skill.invoke(
            Invocation::new("list")
                .input(json!({"path": "/rw"}))
                .workspace(world.workspace.path()),
        ),
    )
    .expect_err("a symlinked grant must be refused");
    assert!(matches!(error, InvokeError::Preopen { .. }), "{error}");
    assert!(error.to_string().contains("/rw"), "{error}");
}

/// FS-009: `{state}` is private to the skill, created by the runtime, and kept between invocations.
#[test]
fn fs_009_state_is_private_and_persists() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        r#"files = [{ guest = "/state", host = "{state}", access = "read-write" }]"#,
    ));
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/state/counter", "content": "1"}),
        None,
    ));
    assert_eq!(
        ok_value(&attempt(
            &skill,
            "read",
            json!({"path": "/state/counter"}),
            None
        )),
        "1"
    );
    let on_disk = host.state.path().join("escape/current/counter");
    assert_eq!(fs::read_to_string(&on_disk).expect("state file"), "1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(host.state.path().join("escape"))
            .expect("state dir")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "state folder is readable by others: {mode:o}"
        );
    }
    // Another skill's state is a different folder: it cannot see this file.
    let other = TempPackage::new(
        "other",
        skill_test_artifacts::ESCAPE,
        &format!(
            "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\nfiles = [{{ guest = \"/state\", host = \"{{state}}\", access = \"read-write\" }}]\n",
            skill_table("other")
        ),
    );
    let other = host.load(&other);
    err_text(&attempt(
        &other,
        "read",
        json!({"path": "/state/counter"}),
        None,
    ));
}

/// FS-010: A `{workspace}` grant without a workspace from the host is an error, not a guess.
#[test]
fn fs_010_workspace_grant_needs_a_workspace() {
    let host = Host::new();
    let skill = host.load(&escape_package(GRANTS));
    let error = block_on(skill.invoke(Invocation::new("list"))).expect_err("no workspace");
    assert!(matches!(error, InvokeError::NoWorkspace { .. }), "{error}");
}

/// FS-011: A very long path is refused cleanly, not a crash.
#[test]
fn fs_011_very_long_paths_are_refused_cleanly() {
    let host = Host::new();
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir(workspace.path().join("rw")).expect("rw");
    let skill = host.load(&escape_package(
        "files = [{ guest = \"/rw\", host = \"{workspace}/rw\", access = \"read-write\" }]\n",
    ));
    let long = format!("/rw/{}", "a/".repeat(20_000));
    err_text(&attempt(
        &skill,
        "read",
        json!({"path": long.clone()}),
        Some(workspace.path()),
    ));
    err_text(&attempt(
        &skill,
        "write",
        json!({"path": format!("/rw/{}", "x".repeat(100_000)), "content": "x"}),
        Some(workspace.path()),
    ));
    assert!(
        attempt(
            &skill,
            "list",
            json!({"path": "/rw"}),
            Some(workspace.path())
        )
        .result
        .is_ok()
    );
}

/// FS-012: A granted folder kept open between calls is refused once it is swapped for a symlink out of the workspace, even one leading back to the same folder.
#[test]
fn fs_012_kept_folder_swapped_for_a_symlink_out_is_refused() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let ws = world.workspace.path();
    let read_ro = || {
        block_on(
            skill.invoke(
                Invocation::new("read")
                    .input(json!({"path": "/ro/keep.txt"}))
                    .workspace(ws),
            ),
        )
    };
    assert_eq!(ok_value(&read_ro().expect("started")), "original");

    // The very folder the runtime keeps open moves out of the workspace and a
    // symlink to it takes its place: a fresh open would refuse this route.
    let moved = world.outside.path().join("ro");
    fs::rename(ws.join("ro"), &moved).expect("move ro out");
    std::os::unix::fs::symlink(&moved, ws.join("ro")).expect("symlink");
    let error = read_ro().expect_err("a grant reached through a symlink out must be refused");
    assert!(matches!(error, InvokeError::Preopen { .. }), "{error}");

    // A symlink to another folder outside, holding a secret: refused, and
    // nothing of it reaches the skill.
    fs::remove_file(ws.join("ro")).expect("unlink");
    std::os::unix::fs::symlink(world.outside.path(), ws.join("ro")).expect("symlink");
    let error = block_on(
        skill.invoke(
            Invocation::new("read")
                .input(json!({"path": "/ro/id_rsa"}))
                .workspace(ws),
        ),
    )
    .expect_err("refused");
    assert!(matches!(error, InvokeError::Preopen { .. }), "{error}");
    assert!(!error.to_string().contains(CANARY), "{error}");
}

/// FS-013: A granted folder or workspace replaced on the host between calls is never served from a stale handle: the next call reads and writes the new one.
#[test]
fn fs_013_replaced_folders_are_not_served_stale() {
    let (host, world) = (Host::new(), World::new());
    let skill = host.load(&escape_package(GRANTS));
    let ws = world.workspace.path();
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/rw/first.txt", "content": "1"}),
        Some(ws),
    ));

    // `rw` renamed away and a new, empty `rw` made in its place.
    fs::rename(ws.join("rw"), ws.join("rw.old")).expect("rename");
    fs::create_dir(ws.join("rw")).expect("new rw");
    let listed = ok_value(&attempt(&skill, "list", json!({"path": "/rw"}), Some(ws)));
    assert_eq!(listed, json!([]), "the old folder was served");
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/rw/second.txt", "content": "2"}),
        Some(ws),
    ));
    assert!(ws.join("rw/second.txt").exists(), "the write was lost");
    assert!(
        !ws.join("rw.old/second.txt").exists(),
        "written to the old folder"
    );

    // The workspace path itself switched to another folder (a symlink retargeted).
    let root = tempfile::tempdir().expect("root");
    for (name, content) in [("a", "from a"), ("b", "from b")] {
        fs::create_dir_all(root.path().join(name).join("ro")).expect("ro");
        fs::create_dir_all(root.path().join(name).join("rw")).expect("rw");
        fs::write(root.path().join(name).join("ro/keep.txt"), content).expect("file");
    }
    let link = root.path().join("workspace");
    std::os::unix::fs::symlink(root.path().join("a"), &link).expect("symlink");
    let read = |path: &str| ok_value(&attempt(&skill, "read", json!({"path": path}), Some(&link)));
    assert_eq!(read("/ro/keep.txt"), "from a");
    fs::remove_file(&link).expect("unlink");
    std::os::unix::fs::symlink(root.path().join("b"), &link).expect("symlink");
    assert_eq!(read("/ro/keep.txt"), "from b");
}

/// FS-014: A read-write `{workspace}` grant at guest path `/` (the layout of `wasmtime run --dir DIR::/` and the WASI test suite) is the guest's whole file system, for a WASI 0.2 component, a preview-1 module and a WASI 0.3 component alike: `/a.txt` and `/sub/../a.txt` reach the workspace's file and writes land there, while `..` above the root, a symlink out and a host path reach nothing, and no canary leaks; a second grant beside `/` is refused at load.
#[test]
fn fs_014_a_grant_at_the_root_is_the_whole_file_system_and_nothing_more() {
    let host = Host::new();
    let base = tempfile::tempdir().expect("base");
    let workspace = base.path().join("ws");
    fs::create_dir_all(workspace.join("sub")).expect("workspace");
    fs::write(workspace.join("a.txt"), "root file").expect("a.txt");
    fs::write(base.path().join("secret.txt"), CANARY).expect("secret beside the workspace");
    #[cfg(unix)]
    std::os::unix::fs::symlink("../secret.txt", workspace.join("link")).expect("symlink");
    let grant = "files = [{ guest = \"/\", host = \"{workspace}\", access = \"read-write\" }]\n";
    let secret = base.path().join("secret.txt").display().to_string();
    // The WASI 0.2 guest also sends on a channel, so it needs one granted.
    let channel = "channels = [{ name = \"out\", direction = \"send\" }]\n";
    for (kind, component, extra) in [
        ("wasi-0.2", skill_test_artifacts::ESCAPE, channel),
        ("preview-1", skill_test_artifacts::PREVIEW1, ""),
        ("wasi-0.3", skill_test_artifacts::WASI03, ""),
    ] {
        let name = format!("root-{}", kind.replace('.', ""));
        let package = TempPackage::new(
            &name,
            component,
            &format!("{}[capabilities]\n{extra}{grant}", skill_table(&name)),
        );
        let skill = host.load(&package);
        let ws = Some(workspace.as_path());
        for path in ["/a.txt", "/sub/../a.txt"] {
            let outcome = attempt(&skill, "read", json!({ "path": path }), ws);
            assert_eq!(ok_value(&outcome), "root file", "{kind} {path}");
        }
        let file = format!("/written-by-{kind}.txt");
        let outcome = attempt(&skill, "write", json!({"path": file, "content": kind}), ws);
        assert_eq!(ok_value(&outcome), true, "{kind}");
        assert_eq!(
            fs::read_to_string(workspace.join(&file[1..])).expect("written on the host"),
            kind
        );
        for path in [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/link",
            secret.as_str(),
        ] {
            let outcome = attempt(&skill, "read", json!({ "path": path }), ws);
            err_text(&outcome);
            assert_no_canary(&outcome);
        }
        assert!(!base.path().join(format!("written-by-{kind}.txt")).exists());
    }
    // `/` holds every other guest path, so a grant beside it overlaps.
    let beside = TempPackage::new(
        "root-beside",
        skill_test_artifacts::ESCAPE,
        &format!(
            "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\nfiles = [\n  {{ guest = \"/\", host = \"{{workspace}}\", access = \"read\" }},\n  {{ guest = \"/data\", host = \"{{workspace}}/data\", access = \"read\" }},\n]\n",
            skill_table("root-beside")
        ),
    );
    let error = host
        .runtime
        .load(beside.path())
        .expect_err("overlapping grants are refused");
    assert!(error.to_string().contains("overlap"), "{error}");
}
