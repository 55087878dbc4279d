//! GRANT: a host narrows what the manifest grants per call; it can never widen it.

use std::fs;

use serde_json::json;
use skill_runtime::{Grants, InvokeError, capabilities::files::Access};

use super::*;

const GRANTS: &str = r#"files = [{ guest = "/rw", host = "{workspace}/rw", access = "read-write" }]
env = ["LANG"]
"#;

fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("workspace");
    fs::create_dir(ws.path().join("rw")).expect("rw");
    fs::write(ws.path().join("rw/file.txt"), "original").expect("file");
    ws
}

/// GRANT-001: A host can narrow a read-write grant to read-only for one call; writes then fail and the file is unchanged.
#[test]
fn grant_001_host_narrows_access_for_a_call() {
    let (host, ws) = (Host::new(), workspace());
    let skill = host.load(&escape_package(GRANTS));
    let mut narrow = skill.manifest().grants.clone();
    narrow.files[0].access = Access::Read;
    let request = Invocation::new("write")
        .input(json!({"path": "/rw/file.txt", "content": "changed"}))
        .grants(narrow);
    err_text(&attempt_with(&skill, request, Some(ws.path())));
    assert_eq!(
        fs::read_to_string(ws.path().join("rw/file.txt")).expect("file"),
        "original"
    );
    // The next call without narrowing has the manifest's grant again.
    ok_value(&attempt(
        &skill,
        "write",
        json!({"path": "/rw/file.txt", "content": "changed"}),
        Some(ws.path()),
    ));
}

/// GRANT-004: A folder kept open after a read-write call is read-only in a later call the host narrowed; the file is unchanged.
#[test]
fn grant_004_reused_folder_takes_each_calls_own_access() {
    let (host, ws) = (Host::new(), workspace());
    let skill = host.load(&escape_package(GRANTS));
    let write = |content: &str| {
        Invocation::new("write").input(json!({"path": "/rw/file.txt", "content": content}))
    };
    ok_value(&attempt_with(&skill, write("first"), Some(ws.path())));
    let mut narrow = skill.manifest().grants.clone();
    narrow.files[0].access = Access::Read;
    err_text(&attempt_with(
        &skill,
        write("narrowed").grants(narrow),
        Some(ws.path()),
    ));
    assert_eq!(
        fs::read_to_string(ws.path().join("rw/file.txt")).expect("file"),
        "first"
    );
}

/// GRANT-002: A host can drop grants entirely for a call.
#[test]
fn grant_002_host_drops_grants() {
    let (host, ws) = (Host::new(), workspace());
    let skill = host.load(&escape_package(GRANTS));
    let mut narrow = skill.manifest().grants.clone();
    narrow.files.clear();
    narrow.env.clear();
    let outcome = attempt_with(
        &skill,
        Invocation::new("env")
            .grants(narrow.clone())
            .env([("LANG".into(), "C".into())]),
        Some(ws.path()),
    );
    assert_eq!(ok_value(&outcome), json!({}));
    err_text(&attempt_with(
        &skill,
        Invocation::new("read")
            .input(json!({"path": "/rw/file.txt"}))
            .grants(narrow),
        Some(ws.path()),
    ));
}

/// GRANT-003: Grants wider than the manifest are refused before anything runs.
#[test]
fn grant_003_widening_is_refused() {
    let (host, ws) = (Host::new(), workspace());
    let skill = host.load(&escape_package(GRANTS));
    let wider: Grants =
        toml_grants(r#"files = [{ guest = "/rw", host = "{workspace}", access = "read-write" }]"#);
    let err = block_on(skill.invoke(Invocation::new("list").grants(wider).workspace(ws.path())))
        .expect_err("widened");
    assert!(matches!(err, InvokeError::WidenedGrant { .. }), "{err}");
    let mut more_env = skill.manifest().grants.clone();
    more_env
        .env
        .push(skill_runtime::capabilities::env::EnvName::parse("HOME").expect("name"));
    let err = block_on(skill.invoke(Invocation::new("env").grants(more_env))).expect_err("widened");
    assert!(err.to_string().contains("env: HOME"), "{err}");
}

fn toml_grants(text: &str) -> Grants {
    let mut grants = Grants::default();
    let skill = escape_package(text);
    let host = Host::new();
    grants.files = host.load(&skill).manifest().grants.files.clone();
    grants
}
