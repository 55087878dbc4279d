//! ISO: invocations and skills cannot see each other's memory or state
//! unless they share a grant.

use serde_json::json;

use super::*;

/// ISO-001: Every invocation starts from fresh memory: nothing a previous or concurrent invocation wrote is visible.
#[test]
fn iso_001_invocations_do_not_share_memory() {
    let host = Host::new();
    let skill = host.load(&TempPackage::new(
        "types",
        skill_test_artifacts::TYPES,
        &skill_table("types"),
    ));
    for _ in 0..3 {
        assert_eq!(
            attempt(&skill, "bump", json!({}), None)
                .result
                .expect("bump"),
            json!(1)
        );
    }
    let results = block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let skill = skill.clone();
                tokio::spawn(async move { skill.invoke(Invocation::new("bump")).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("task").expect("start").result.expect("bump"));
        }
        results
    });
    assert!(results.iter().all(|r| *r == json!(1)), "{results:?}");
}

/// ISO-002: Two skills sharing one runtime see only their own state folders.
#[test]
fn iso_002_skills_do_not_share_state() {
    let host = Host::new();
    let grant = "files = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n";
    let channels = "channels = [{ name = \"out\", direction = \"send\" }]\n";
    let one = host.load(&TempPackage::new(
        "one",
        skill_test_artifacts::ESCAPE,
        &format!("{}[capabilities]\n{channels}{grant}", skill_table("one")),
    ));
    let two = host.load(&TempPackage::new(
        "two",
        skill_test_artifacts::ESCAPE,
        &format!("{}[capabilities]\n{channels}{grant}", skill_table("two")),
    ));
    ok_value(&attempt(
        &one,
        "write",
        json!({"path": "/state/secret", "content": CANARY}),
        None,
    ));
    let outcome = attempt(&two, "list", json!({"path": "/state"}), None);
    assert_eq!(ok_value(&outcome), json!([]));
    let outcome = attempt(
        &two,
        "read",
        json!({"path": "/state/../one/current/secret"}),
        None,
    );
    err_text(&outcome);
    assert_no_canary(&outcome);
}
