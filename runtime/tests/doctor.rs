//! `skill-run doctor` as a user runs it: every canary probe holds on this
//! machine, the report names each one, and nothing is left behind. (That a
//! probe whose escape succeeds is reported NOT CONFINED with exit 1 is
//! tested on the verdict logic itself, in the binary's unit tests:
//! `cargo test -p runtime --bin skill-run doctor::`.)

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Every check the doctor runs on Linux, in report order.
const CHECKS: [&str; 17] = [
    "files.dotdot",
    "files.absolute",
    "files.symlink",
    "files.read-only",
    "env.undeclared",
    "limits.memory",
    "limits.timeout",
    "limits.output",
    "limits.disk-write",
    "network.undeclared-host",
    "network.private-addresses",
    "network.raw-sockets",
    "network.component-sockets",
    "audit.denials",
    "host.pool",
    "host.cache-refusal",
    "host.cache-folder",
];

/// Runs `skill-run doctor ARGS` with its own temporary folder and cache home.
fn doctor(args: &[&str], tmp: &Path, cache_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .arg("doctor")
        .args(args)
        .env("TMPDIR", tmp)
        .env("XDG_CACHE_HOME", cache_home)
        .env_remove("SKILL_RUN_CACHE_DIR")
        .output()
        .expect("skill-run runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn doctor_finds_every_probe_confined_and_leaves_nothing_behind() {
    let (tmp, cache_home) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("cache"),
    );
    let output = doctor(&["--json"], tmp.path(), cache_home.path());
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(report["confined"], true, "{stdout}");
    let checks = report["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, CHECKS, "{stdout}");
    for check in checks {
        assert_eq!(check["verdict"], "ok", "{check}");
        assert!(
            !check["tried"].as_str().unwrap_or_default().is_empty(),
            "{check}"
        );
        assert!(
            !check["happened"].as_str().unwrap_or_default().is_empty(),
            "{check}"
        );
    }
    // Every escape probe ran its positive control too.
    for check in checks.iter().filter(|c| {
        let id = c["id"].as_str().unwrap_or_default();
        id.starts_with("files.") || id.starts_with("limits.") || id == "env.undeclared"
    }) {
        assert!(check["control"].is_string(), "no control: {check}");
    }
    let pool = &checks[14]["happened"];
    assert!(
        pool.as_str().unwrap_or_default().contains("reserved"),
        "{pool}"
    );
    let elapsed = report["elapsed_ms"].as_u64().expect("elapsed_ms");
    assert!(elapsed < 60_000, "doctor took {elapsed} ms");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    assert!(
        !cache_home.path().join("skill-run").exists(),
        "doctor must not write to the user's compile cache"
    );
}

#[test]
fn doctor_prints_one_line_per_check_and_a_verdict() {
    let (tmp, cache_home) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("cache"),
    );
    let output = doctor(&[], tmp.path(), cache_home.path());
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for id in CHECKS {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{stdout}"));
        assert!(line.starts_with("ok "), "{line}");
    }
    assert!(
        stdout.contains(&format!("All {} checks hold", CHECKS.len())),
        "{stdout}"
    );
    assert!(!stdout.contains("NOT CONFINED"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn doctor_warns_about_a_cache_folder_others_can_write_to() {
    use std::os::unix::fs::PermissionsExt;
    let (tmp, cache) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("cache"),
    );
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let dir = cache.path().display().to_string();
    let output = doctor(&["--json", "--cache-dir", &dir], tmp.path(), cache.path());
    let stdout = text(&output.stdout);
    // Still confined: the runtime refuses such a folder, it does not use it.
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let check = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "host.cache-folder"))
        .expect("the cache folder check");
    assert_eq!(check["verdict"], "warn", "{check}");
    let happened = check["happened"].as_str().unwrap_or_default();
    assert!(
        happened.contains("777") && happened.contains("chmod 700"),
        "{happened}"
    );
}

#[test]
fn doctor_help_explains_the_verdicts_and_the_exit_status() {
    let output = Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .args(["doctor", "--help"])
        .output()
        .expect("skill-run runs");
    let help = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    for needle in [
        "NOT CONFINED",
        "UNVERIFIED",
        "control",
        "Exit status",
        "--json",
    ] {
        assert!(
            help.contains(needle),
            "--help does not mention {needle}:\n{help}"
        );
    }
}
