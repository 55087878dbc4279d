//! ADMIT: `Runtime::admit` checks a package's signature and approval on the
//! bytes it reads once, and loads those bytes: a package changed on disk is
//! refused, and a component swapped while it is admitted is never what runs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use skill_runtime::trust::{self, Approvals, TrustError, TrustedKeys};
use skill_runtime::{AdmitError, Package, TrustPolicy};

use super::*;

/// A signed `hello` package and the key that signed it, trusted.
fn signed_hello() -> (TempPackage, TrustedKeys, tempfile::TempDir) {
    let keys_dir = tempfile::tempdir().expect("keys");
    let package = TempPackage::new(
        "victim",
        skill_test_artifacts::HELLO,
        &skill_table("victim"),
    );
    let key = keys_dir.path().join("author");
    let mut keys = TrustedKeys::default();
    keys.add(trust::generate_key(&key).expect("key"));
    trust::sign_package(&package.path(), &key).expect("sign");
    (package, keys, keys_dir)
}

fn commands(skill: &Skill) -> Vec<String> {
    let mut names: Vec<String> = skill.commands().into_iter().map(|c| c.name).collect();
    names.sort();
    names
}

fn approvals_of(package: &Path, lock: &Path) -> Approvals {
    let mut approvals = Approvals::open(lock).expect("lock");
    approvals
        .approve(&Package::read(package).expect("read"))
        .expect("approve");
    approvals
}

/// ADMIT-001: A component changed after signing is refused by admission, naming the file, and nothing is loaded; the untouched signed package is admitted and runs.
#[test]
fn admit_001_tampered_component_is_refused_and_signed_one_runs() {
    let host = Host::new();
    let (package, keys, _keys) = signed_hello();
    let policy = TrustPolicy::default().signed_by(keys);
    let admitted = host
        .runtime
        .admit(package.path(), &policy)
        .expect("the signed package is admitted");
    assert!(admitted.signer.is_some());
    let skill = admitted.into_skill().expect("skill");
    let outcome = attempt(&skill, "greet", json!({"name": "Ada"}), None);
    assert!(outcome.result.expect("greet").to_string().contains("Ada"));

    std::fs::copy(
        skill_test_artifacts::TYPES,
        package.path().join("skill.wasm"),
    )
    .expect("swap");
    match host.runtime.admit(package.path(), &policy) {
        Err(AdmitError::Untrusted(TrustError::Tampered { changes, .. })) => {
            assert_eq!(changes, ["skill.wasm changed"]);
        }
        other => panic!("a tampered package must be refused, got {other:?}"),
    }
    // Without a policy the same folder loads: the refusal came from the check.
    let unchecked = host.runtime.admit(package.path(), &TrustPolicy::default());
    assert!(
        commands(&unchecked.expect("loads").into_skill().expect("skill")).contains(&"bump".into())
    );
}

/// ADMIT-002: A package asking for a capability beyond its approval is refused with the capability named; frozen, a changed package is refused; the approved package is admitted.
#[test]
fn admit_002_capability_growth_and_frozen_change_are_refused() {
    let host = Host::new();
    let package = TempPackage::new(
        "victim",
        skill_test_artifacts::HELLO,
        &skill_table("victim"),
    );
    let lock_dir = tempfile::tempdir().expect("lock dir");
    let lock = lock_dir.path().join("skills.lock");
    let approvals = approvals_of(&package.path(), &lock);
    let frozen = TrustPolicy::default()
        .approved_in(approvals.clone())
        .frozen(true);
    assert!(host.runtime.admit(package.path(), &frozen).is_ok());

    std::fs::write(package.path().join("notes.txt"), "a harmless change").expect("write");
    assert!(matches!(
        host.runtime.admit(package.path(), &frozen),
        Err(AdmitError::Untrusted(TrustError::DigestChanged { .. }))
    ));
    let thawed = TrustPolicy::default().approved_in(approvals.clone());
    assert!(
        host.runtime.admit(package.path(), &thawed).is_ok(),
        "not frozen, a change that asks for nothing new is admitted"
    );

    let grown = format!(
        "{}[capabilities]\nenv = [\"HOME\"]\n",
        skill_table("victim")
    );
    std::fs::write(package.path().join("skill.toml"), grown).expect("write");
    match host.runtime.admit(package.path(), &thawed) {
        Err(AdmitError::Untrusted(TrustError::CapabilityGrowth { growth, .. })) => {
            assert!(growth.iter().any(|g| g.contains("HOME")), "{growth:?}");
        }
        other => panic!("growth must be refused, got {other:?}"),
    }
}

/// ADMIT-003: While a writer keeps swapping the component between the signed one and another, every admission either is refused or loads the signed component: never the other one.
#[test]
fn admit_003_component_swapped_during_admission_never_runs() {
    let host = Host::new();
    let (package, keys, _keys) = signed_hello();
    let root = package.path();
    let good = std::fs::read(root.join("skill.wasm")).expect("read");
    let evil = std::fs::read(skill_test_artifacts::TYPES).expect("read");
    let staging = tempfile::tempdir_in(root.parent().expect("parent")).expect("staging");
    // Control: the other component really loads from this folder.
    std::fs::write(staging.path().join("evil.wasm"), &evil).expect("write");
    let policy = TrustPolicy::default().signed_by(keys);
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root, dir) = (stop.clone(), root.clone(), staging.path().to_path_buf());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let bytes = if n.is_multiple_of(2) { &evil } else { &good };
                let next = dir.join(format!("next-{n}"));
                std::fs::write(&next, bytes).expect("stage");
                std::fs::rename(&next, root.join("skill.wasm")).expect("swap");
                n += 1;
            }
            n
        })
    };
    let (mut admitted, mut refused) = (0, 0);
    for _ in 0..30 {
        match host.runtime.admit(&root, &policy) {
            Ok(a) => {
                let skill = a.into_skill().expect("skill");
                assert_eq!(commands(&skill), ["count", "divide", "greet"]);
                admitted += 1;
            }
            Err(
                AdmitError::Untrusted(TrustError::Tampered { .. }) | AdmitError::Changed { .. },
            ) => refused += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.join().expect("swapper");
    assert!(swaps > 0, "the writer never swapped");
    assert_eq!(admitted + refused, 30);
    // Control: left holding the other component, the folder loads it when unchecked.
    std::fs::write(
        root.join("skill.wasm"),
        std::fs::read(staging.path().join("evil.wasm")).expect("read"),
    )
    .expect("write");
    let unchecked = host.runtime.load(&root).expect("loads");
    assert!(commands(&unchecked).contains(&"bump".into()));
}
