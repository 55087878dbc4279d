//! ENV: what a skill sees of the host environment and arguments.

use serde_json::json;
use skill_runtime::{AuditKind, Invocation};

use super::*;

fn host_env() -> Vec<(String, String)> {
    [
        ("HOME", "/root"),
        ("PATH", "/usr/bin"),
        ("AWS_SECRET_ACCESS_KEY", CANARY),
        ("LANG", "en_GB.UTF-8"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}

/// ENV-001: Only granted variable names the host has are visible; nothing else of the host environment is.
#[test]
fn env_001_only_granted_names_are_visible() {
    let host = Host::new();
    let skill = host.load(&escape_package("env = [\"LANG\", \"TZ\"]\n"));
    let outcome = attempt_with(&skill, Invocation::new("env").env(host_env()), None);
    assert_eq!(ok_value(&outcome), json!({"LANG": "en_GB.UTF-8"}));
    assert_no_canary(&outcome);
    assert!(outcome.audit.iter().any(|e| e.kind == AuditKind::Env
        && e.target == "TZ"
        && e.reason.contains("does not set")));
}

/// ENV-002: Without an env grant the environment is empty, whatever the host passes.
#[test]
fn env_002_no_grant_means_empty_environment() {
    let host = Host::new();
    let skill = host.load(&escape_package(""));
    let outcome = attempt_with(&skill, Invocation::new("env").env(host_env()), None);
    assert_eq!(ok_value(&outcome), json!({}));
    assert_no_canary(&outcome);
}

/// ENV-003: A `wasi:cli/command` skill gets exactly two arguments, its name and the command, and the input on stdin.
#[test]
fn env_003_cli_skill_gets_name_command_and_stdin_only() {
    let host = Host::new();
    let skill = host.load(&escape_package(""));
    let outcome = attempt(&skill, "echo", json!({"x": [1, 2]}), None);
    let value = outcome.result.clone().expect("echo succeeds");
    assert_eq!(value["args"], json!(["escape", "echo"]));
    assert_eq!(value["ok"], json!({"x": [1, 2]}));
}
