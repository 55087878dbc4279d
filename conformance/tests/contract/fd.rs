//! FD: the host's file descriptors are a runtime-wide budget
//! (`RuntimeConfig::max_guest_descriptors`) that every invocation shares:
//! one may hold at most the budget divided by the pool's slots, so even a
//! full pool of hostile invocations cannot exhaust the process's descriptors.

use serde_json::json;

use super::*;

const WORKSPACE: &str = "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\n";

fn opened(outcome: &Outcome) -> u64 {
    match &outcome.result {
        Ok(v) => v
            .get("opened")
            .or_else(|| v.get("ok"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(|| panic!("unexpected result {v}")),
        Err(f) => panic!("the call failed: {}", f.message()),
    }
}

/// FD-001: Invocations holding files open stop at their share of the runtime's descriptor budget, all at once and each alone; the open fails with an error the guest sees (audited) and the host keeps serving; under the share, opens work.
#[test]
fn fd_001_open_descriptors_stay_within_the_runtime_budget() {
    let state = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(state.path())
        .max_guest_descriptors(64)
        .max_concurrent_invocations(2)
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let skill = runtime
        .load(escape_package(WORKSPACE).path())
        .expect("load");
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::write(workspace.path().join("f"), "x").expect("write");
    let input = json!({"path": "/w/f", "count": 10_000});
    let outcomes = block_on(async {
        let calls: Vec<_> = (0..2)
            .map(|_| {
                let skill = skill.clone();
                let request = Invocation::new("open-many")
                    .input(input.clone())
                    .workspace(workspace.path());
                tokio::spawn(async move { skill.invoke(request).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("join").expect("started"));
        }
        outcomes
    });
    let mut total = 0;
    for outcome in &outcomes {
        let held = opened(outcome);
        assert!(ok_or_err_is_err(outcome), "{:?}", outcome.result);
        assert!((16..32).contains(&held), "held {held} files");
        assert!(denied(outcome, AuditKind::File, "/w/f"));
        total += held;
    }
    assert!(
        total < 64,
        "{total} descriptors held against a budget of 64"
    );
    // Positive control: within the share, every open works.
    let outcome = attempt(
        &skill,
        "open-many",
        json!({"path": "/w/f", "count": 20}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&outcome), json!(20));

    // The default budget (16,384 over 128 slots) holds too.
    let host = Host::new();
    let skill = host.load(&escape_package(WORKSPACE));
    let outcome = attempt(&skill, "open-many", input, Some(workspace.path()));
    assert!(opened(&outcome) < 128);
}

fn ok_or_err_is_err(outcome: &Outcome) -> bool {
    matches!(&outcome.result, Ok(v) if v.get("err").is_some())
}

/// FD-002: Open directory listings count against the invocation's share of the descriptor budget like open files: a call keeping thousands of listings open stops at its share (audited, an error the guest sees); under it, listings work.
#[test]
fn fd_002_open_listings_count_against_the_descriptor_budget() {
    let state = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(state.path())
        .max_guest_descriptors(64)
        .max_concurrent_invocations(2)
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let skill = runtime
        .load(escape_package(WORKSPACE).path())
        .expect("load");
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::write(workspace.path().join("f"), "x").expect("write");
    let outcome = attempt(
        &skill,
        "list-many",
        json!({"dir": "/w", "count": 5_000}),
        Some(workspace.path()),
    );
    assert!(ok_or_err_is_err(&outcome), "{:?}", outcome.result);
    let held = opened(&outcome);
    assert!(held < 32, "held {held} listings against a share of 32");
    assert!(denied(&outcome, AuditKind::File, "/w"));
    // Positive control: within the share, listings work, call after call.
    for _ in 0..3 {
        let outcome = attempt(
            &skill,
            "list-many",
            json!({"dir": "/w", "count": 20}),
            Some(workspace.path()),
        );
        assert_eq!(ok_value(&outcome), json!(20));
    }
}
