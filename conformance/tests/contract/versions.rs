//! VER: every WASI 0.2.x minor version the toolchains emit (componentize-py
//! 0.25 imports 0.2.9, ComponentizeJS 0.23 imports 0.2.10, Rust's std 0.2.x)
//! loads against the runtime's 0.2.12 interfaces, and the grant checks apply
//! at every version.

use serde_json::json;

use super::*;

/// A component importing `wasi:random/random` and `wasi:clocks/monotonic-clock`
/// at `version`, exporting `roll` (random u64) and `now` (monotonic instant),
/// plus whatever `extra` imports.
fn component_at(version: &str, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (import "wasi:random/random@{version}" (instance $r
                (export "get-random-u64" (func (result u64)))))
            (import "wasi:clocks/monotonic-clock@{version}" (instance $c
                (export "now" (func (result u64)))))
            {extra}
            (alias export $r "get-random-u64" (func $rand))
            (alias export $c "now" (func $now))
            (core func $rand_core (canon lower (func $rand)))
            (core func $now_core (canon lower (func $now)))
            (core module $m
                (import "host" "rand" (func $rand (result i64)))
                (import "host" "now" (func $now (result i64)))
                (func (export "roll") (result i64) call $rand)
                (func (export "now") (result i64) call $now))
            (core instance $host (export "rand" (func $rand_core)) (export "now" (func $now_core)))
            (core instance $i (instantiate $m (with "host" (instance $host))))
            (func (export "roll") (result u64) (canon lift (core func $i "roll")))
            (func (export "now") (result u64) (canon lift (core func $i "now")))
        )"#
    ))
    .expect("valid wat")
}

fn package_at(version: &str, extra_imports: &str, capabilities: &str) -> TempPackage {
    let package = TempPackage::new(
        "versions",
        skill_test_artifacts::HELLO,
        &format!("{}{capabilities}", skill_table("versions")),
    );
    std::fs::write(
        package.path().join("skill.wasm"),
        component_at(version, extra_imports),
    )
    .expect("write component");
    package
}

/// VER-001: Components importing WASI 0.2.0 through 0.2.12 load and their calls reach the real host functions.
#[test]
fn ver_001_every_wasi_0_2_minor_version_loads_and_runs() {
    let host = Host::new();
    for minor in 0..=12 {
        let version = format!("0.2.{minor}");
        let skill = host.load(&package_at(&version, "", ""));
        assert!(
            skill
                .imports()
                .contains(&format!("wasi:random/random@{version}")),
            "{version}: {:?}",
            skill.imports()
        );
        let rolls: Vec<Value> = (0..2)
            .map(|_| ok_result(&attempt(&skill, "roll", json!({}), None)))
            .collect();
        assert!(
            rolls[0].is_u64() && rolls[0] != rolls[1],
            "{version}: {rolls:?}"
        );
        let now = ok_result(&attempt(&skill, "now", json!({}), None));
        assert!(now.as_u64().is_some_and(|n| n > 0), "{version}: {now}");
    }
}

/// VER-002: At every 0.2.x version, wasi:http still needs a network grant and channels a channels grant; with the grant it loads.
#[test]
fn ver_002_grant_checks_hold_at_every_version() {
    let host = Host::new();
    for minor in [0, 6, 9, 10, 12] {
        let version = format!("0.2.{minor}");
        let http = format!(
            r#"(import "wasi:http/types@{version}" (instance (export "fields" (type (sub resource)))))"#
        );
        let err = host.load_err(&package_at(&version, &http, ""));
        assert!(
            matches!(err, LoadError::NotGranted { key: "network", .. })
                && err
                    .to_string()
                    .contains(&format!("wasi:http/types@{version}")),
            "{version}: {err}"
        );
        let granted = package_at(
            &version,
            &http,
            "[capabilities]\nnetwork = [\"https://api.example.com/\"]\n",
        );
        assert!(host.runtime.load(granted.path()).is_ok(), "{version}");
    }
    let channels = r#"(import "skills:runtime/channels@0.1.0" (instance))"#;
    let err = host.load_err(&package_at("0.2.9", channels, ""));
    assert!(
        matches!(
            err,
            LoadError::NotGranted {
                key: "channels",
                ..
            }
        ),
        "{err}"
    );
    // Not 0.2: a WASI 0.1-era name or a prerelease is not silently matched.
    let err = host.load_err(&package_at("0.2.0-rc-2023-10-18", "", ""));
    assert!(err.to_string().contains("0.2.0-rc-2023-10-18"), "{err}");
}

fn ok_result(outcome: &Outcome) -> Value {
    match &outcome.result {
        Ok(v) => v.clone(),
        Err(e) => panic!("call failed: {e:?}"),
    }
}
