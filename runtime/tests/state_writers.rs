//! The issue-18 reproduction, as a user runs it: many `skill-run run`
//! processes writing one skill's state at once. Writers take turns (a lock
//! that holds across processes), so every call succeeds and the notes
//! example's counter counts every note.

use std::path::Path;
use std::process::{Command, Stdio};

use skill_test_artifacts::TempPackage;

fn skill_run(state: &Path, workspace: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skill-run"));
    command
        .current_dir(workspace)
        .env("SKILL_RUN_STATE", state)
        .env("SKILL_RUN_CACHE_DIR", state.join("compile-cache"));
    command
}

#[test]
fn thirty_two_concurrent_runs_of_notes_add_keep_every_update() {
    let state = tempfile::tempdir().expect("state");
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir(workspace.path().join("notes")).expect("notes");
    let notes = TempPackage::example("notes", skill_test_artifacts::NOTES);
    let package = notes.path();
    let package = package.to_str().expect("utf-8 path");
    let add = |title: &str| {
        let mut command = skill_run(state.path(), workspace.path());
        command.args([
            "run",
            package,
            "add",
            "--input",
            &format!(r#"{{"title": "{title}", "body": "b"}}"#),
        ]);
        command
    };
    // The first run fills the compile cache.
    let first = add("first").output().expect("skill-run runs");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    const RUNS: usize = 32;
    let children: Vec<_> = (0..RUNS)
        .map(|i| {
            add(&format!("note {i}"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn skill-run")
        })
        .collect();
    let mut failed = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        if !out.status.success() {
            failed.push((
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {RUNS} runs failed: {failed:?}",
        failed.len()
    );
    let counter = std::fs::read_to_string(state.path().join("notes/current/notes-added"))
        .expect("the counter is committed");
    assert_eq!(
        counter.trim(),
        (RUNS + 1).to_string(),
        "committed updates were lost"
    );
    let notes = std::fs::read_dir(workspace.path().join("notes"))
        .expect("notes")
        .count();
    assert_eq!(notes, RUNS + 1);
}

#[test]
fn a_disk_limit_is_exit_3_naming_the_key() {
    let state = tempfile::tempdir().expect("state");
    let workspace = tempfile::tempdir().expect("workspace");
    let toml = format!(
        "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\nfiles = [{{ guest = \"/w\", host = \"{{workspace}}\", access = \"read-write\" }}]\n[limits]\ndisk-write = \"64 KiB\"\n",
        skill_test_artifacts::skill_table("escape")
    );
    let escape = TempPackage::new("escape", skill_test_artifacts::ESCAPE, &toml);
    let package = escape.path();
    let run = |count: u32| {
        skill_run(state.path(), workspace.path())
            .args([
                "run",
                package.to_str().expect("utf-8 path"),
                "disk-write",
                "--input",
                &format!(
                    r#"{{"dir": "/w", "file": "big", "route": "stream", "chunk": 4096, "count": {count}}}"#
                ),
            ])
            .output()
            .expect("skill-run runs")
    };
    let out = run(64);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("limits.disk-write = 64 KiB"), "{stderr}");
    assert!(std::fs::metadata(workspace.path().join("big")).map_or(0, |m| m.len()) <= 64 * 1024);
    let out = run(8);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
