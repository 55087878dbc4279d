//! SELF: a skill can never change its own package. A call whose writable
//! grant contains the package folder (the default when `run` starts inside
//! the package with a read-write `{workspace}` grant) is refused before it
//! starts, through the embedding API, so the CLI, bench and MCP all get it.

use serde_json::json;
use skill_runtime::{Invocation, InvokeError};

use super::{Host, attempt, block_on, escape_package, ok_value};

const RW_WORKSPACE: &str =
    "files = [{ guest = \"/ws\", host = \"{workspace}\", access = \"read-write\" }]\n";

/// SELF-001: With a read-write `{workspace}` grant on a folder containing the package, the call is refused and skill.toml is untouched; with the workspace elsewhere the same write works.
#[test]
fn self_001_a_skill_cannot_rewrite_its_own_manifest() {
    let host = Host::new();
    let package = escape_package(RW_WORKSPACE);
    let skill = host.load(&package);
    let manifest = package.path().join("skill.toml");
    let before = std::fs::read_to_string(&manifest).expect("manifest");
    let forged = format!("{before}env = [\"AWS_SECRET_ACCESS_KEY\"]\n");
    for workspace in [package.path(), package.path().join("..")] {
        let request = Invocation::new("write")
            .input(json!({"path": "/ws/skill.toml", "content": forged}))
            .workspace(&workspace);
        match block_on(skill.invoke(request)) {
            Err(e @ InvokeError::SelfModification { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("/ws")
                        && text.contains("a workspace folder that does not contain the package"),
                    "{text}"
                );
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(outcome) => panic!(
                "the call ran with its package writable: {:?}",
                outcome.result
            ),
        }
    }
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("manifest"),
        before
    );
    // Positive control: a workspace beside the package is writable as granted.
    let elsewhere = tempfile::tempdir().expect("workspace");
    let outcome = attempt(
        &skill,
        "write",
        json!({"path": "/ws/notes.txt", "content": "hello"}),
        Some(elsewhere.path()),
    );
    assert_eq!(ok_value(&outcome), json!(true));
    assert_eq!(
        std::fs::read_to_string(elsewhere.path().join("notes.txt")).expect("written"),
        "hello"
    );
    // A read-only grant on the package folder is no risk and runs.
    let reader = escape_package(
        "files = [{ guest = \"/ws\", host = \"{workspace}\", access = \"read\" }]\n",
    );
    let skill = host.load(&reader);
    let outcome = attempt(
        &skill,
        "read",
        json!({"path": "/ws/skill.toml"}),
        Some(&reader.path()),
    );
    assert!(
        ok_value(&outcome)
            .as_str()
            .is_some_and(|t| t.contains("[skill]"))
    );
}
