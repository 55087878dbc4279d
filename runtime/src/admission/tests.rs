//! Admission against a package that changes under it: a component swapped
//! after it was verified, before it was read, and a link switched between
//! reading and hashing. Each attack is stopped, and each has a control
//! showing the swap was real.

use std::path::Path;

use serde_json::json;
use skill_test_artifacts::{HELLO, TYPES, TempPackage, skill_table};

use super::{AdmitError, Stage, TrustPolicy};
use crate::trust::{self, ApprovalCheck, Approvals, TrustError, TrustedKeys};
use crate::{Invocation, Package, Runtime, RuntimeConfig, Skill};

struct Fixture {
    runtime: Runtime,
    package: TempPackage,
    keys: TrustedKeys,
    _home: tempfile::TempDir,
}

/// A signed package whose component is `hello`; the signing key is trusted.
fn signed_hello(component: &str) -> Fixture {
    let home = tempfile::tempdir().expect("home");
    let config =
        RuntimeConfig::new(home.path().join("state")).with_compile_cache(home.path().join("cache"));
    let runtime = Runtime::new(config).expect("runtime");
    let mut table = skill_table("victim");
    if component != "skill.wasm" {
        table = table.replace("skill.wasm", component);
    }
    let package = TempPackage::new("victim", HELLO, &table);
    let key = home.path().join("key");
    let mut keys = TrustedKeys::default();
    keys.add(trust::generate_key(&key).expect("key"));
    if component != "skill.wasm" {
        // `component` is a link to skill.wasm; the evil bytes sit beside it, signed too.
        std::os::unix::fs::symlink("skill.wasm", package.path().join(component)).expect("link");
        std::fs::copy(TYPES, package.path().join("evil.wasm")).expect("copy");
    }
    trust::sign_package(&package.path(), &key).expect("sign");
    Fixture {
        runtime,
        package,
        keys,
        _home: home,
    }
}

fn command_names(skill: &Skill) -> Vec<String> {
    let mut names: Vec<String> = skill.commands().into_iter().map(|c| c.name).collect();
    names.sort();
    names
}

fn greet(skill: &Skill) -> serde_json::Value {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    tokio
        .block_on(skill.invoke(Invocation::new("greet").input(json!({"name": "Ada"}))))
        .expect("invoke")
        .result
        .expect("greet")
}

fn swap_in_evil(package: &Path) {
    std::fs::copy(TYPES, package.join("skill.wasm")).expect("swap");
}

fn approved(package: &Path) -> Approvals {
    let mut approvals = Approvals::open(&package.join("never-saved.lock")).expect("lock");
    approvals
        .approve(&Package::read(package).expect("read"))
        .expect("approve");
    approvals
}

/// The attack the CLI was open to: verify, then the component is replaced,
/// then the folder is loaded. Admission runs the verified bytes.
#[test]
fn admit_runs_the_verified_bytes_when_the_component_is_swapped_after_verification() {
    let f = signed_hello("skill.wasm");
    let path = f.package.path();
    let policy = TrustPolicy::default().signed_by(f.keys.clone());
    let admitted = f
        .runtime
        .admit_with(&path, &policy, &mut |stage| {
            if stage == Stage::Verified {
                swap_in_evil(&path);
            }
        })
        .expect("admitted");
    assert!(admitted.signer.is_some());
    let skill = admitted.into_skill().expect("skill");
    assert_eq!(command_names(&skill), ["count", "divide", "greet"]);
    assert!(greet(&skill).to_string().contains("Ada"));
    // Control: the swap happened, and loading the folder again (what
    // `verify` followed by `load` did) would have run the other component.
    assert!(command_names(&f.runtime.load(&path).expect("load")).contains(&"bump".to_owned()));
    assert!(matches!(
        f.runtime.admit(&path, &policy),
        Err(AdmitError::Untrusted(TrustError::Tampered { .. }))
    ));
}

/// The same attack against an approval: the approved bytes are what runs.
#[test]
fn admit_runs_the_approved_bytes_when_the_component_is_swapped_after_the_approval_check() {
    let f = signed_hello("skill.wasm");
    let path = f.package.path();
    let policy = TrustPolicy::default()
        .approved_in(approved(&path))
        .frozen(true);
    let admitted = f
        .runtime
        .admit_with(&path, &policy, &mut |stage| {
            if stage == Stage::Verified {
                swap_in_evil(&path);
            }
        })
        .expect("admitted");
    assert!(matches!(
        admitted.approval,
        Some(ApprovalCheck::Unchanged { .. })
    ));
    assert!(
        greet(&admitted.into_skill().expect("skill"))
            .to_string()
            .contains("Ada")
    );
    // Control: frozen, the swapped package is refused.
    assert!(matches!(
        f.runtime.admit(&path, &policy),
        Err(AdmitError::Untrusted(TrustError::DigestChanged { .. }))
    ));
}

/// Swapped before admission reads it: the digest covers what was read, so
/// the signature does not hold and nothing loads.
#[test]
fn admit_refuses_a_component_swapped_before_it_is_read() {
    let f = signed_hello("skill.wasm");
    let path = f.package.path();
    let policy = TrustPolicy::default().signed_by(f.keys.clone());
    let mut stages = Vec::new();
    let admitted = f.runtime.admit_with(&path, &policy, &mut |stage| {
        if stage == Stage::Read {
            // Too late to change what was read: the bytes held are hello's.
            swap_in_evil(&path);
        }
        stages.push(stage);
    });
    // Hashing held bytes, not the disk, means the signature still holds for
    // what was read, and what was read is what runs.
    let skill = admitted.expect("admitted").into_skill().expect("skill");
    assert!(greet(&skill).to_string().contains("Ada"));
    assert_eq!(stages, [Stage::Read, Stage::Verified]);
    // Now the disk holds the evil component before anything is read.
    match f.runtime.admit(&path, &policy) {
        Err(AdmitError::Untrusted(TrustError::Tampered { changes, .. })) => {
            assert_eq!(changes, ["skill.wasm changed"]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A component reached through a link: switching the link to another
/// (signed) file after the read is refused, because the listing that was
/// verified no longer leads the manifest's name to the bytes that were read.
#[test]
fn admit_refuses_a_link_switched_between_reading_and_hashing() {
    let f = signed_hello("linked.wasm");
    let path = f.package.path();
    let policy = TrustPolicy::default().approved_in(approved(&path));
    // Control: through the link as signed, the package is admitted and runs hello.
    let fine = f.runtime.admit(&path, &policy).expect("admitted");
    assert!(
        greet(&fine.into_skill().expect("skill"))
            .to_string()
            .contains("Ada")
    );
    let refused = f.runtime.admit_with(&path, &policy, &mut |stage| {
        if stage == Stage::Read {
            let link = path.join("linked.wasm");
            std::fs::remove_file(&link).expect("unlink");
            std::os::unix::fs::symlink("evil.wasm", &link).expect("relink");
        }
    });
    match refused {
        Err(AdmitError::Changed { file, .. }) => assert_eq!(file, "linked.wasm"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// With nothing to check, admission is a plain load of bytes read once.
#[test]
fn admit_without_a_policy_loads_and_reports_no_checks() {
    let f = signed_hello("skill.wasm");
    let admitted = f
        .runtime
        .admit(f.package.path(), &TrustPolicy::default())
        .expect("admitted");
    assert!(admitted.signer.is_none() && admitted.approval.is_none());
    assert_eq!(
        command_names(admitted.skill.as_ref().expect("skill")),
        ["count", "divide", "greet"]
    );
}
