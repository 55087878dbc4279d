//! LOAD: what is refused before anything runs.

use std::fs;

use skill_runtime::{CacheStatus, LoadError};

use super::*;

fn package_with_bytes(name: &str, bytes: &[u8], capabilities: &str) -> TempPackage {
    let package = TempPackage::new(
        name,
        skill_test_artifacts::HELLO,
        &format!("{}{capabilities}", skill_table(name)),
    );
    fs::write(package.path().join("skill.wasm"), bytes).expect("write component");
    package
}

fn component_importing(interface: &str) -> Vec<u8> {
    wat::parse_str(format!(r#"(component (import "{interface}" (instance)))"#)).expect("valid wat")
}

/// LOAD-001: A file that is not WebAssembly is refused with what it is.
#[test]
fn load_001_junk_is_refused() {
    let host = Host::new();
    let err = host.load_err(&package_with_bytes("junk", b"#!/bin/sh\nrm -rf ~\n", ""));
    assert!(matches!(err, LoadError::InvalidComponent { .. }), "{err}");
    assert!(
        err.to_string().contains("not a WebAssembly binary"),
        "{err}"
    );
}

/// LOAD-002: A truncated component is refused, not half-loaded.
#[test]
fn load_002_truncated_component_is_refused() {
    let host = Host::new();
    let bytes = fs::read(skill_test_artifacts::HELLO).expect("hello");
    for cut in [9, bytes.len() / 2, bytes.len() - 1] {
        let err = host.load_err(&package_with_bytes("cut", &bytes[..cut], ""));
        assert!(
            matches!(err, LoadError::InvalidComponent { .. }),
            "cut at {cut}: {err}"
        );
    }
}

/// LOAD-003: A core module that is not a WASI preview-1 command (a foreign import, no `_start`) is refused with the fix; a preview-1 command is adapted.
#[test]
fn load_003_core_module_is_refused_with_the_fix() {
    let host = Host::new();
    let core = wat::parse_str(r#"(module (import "env" "f" (func)) (func (export "_start")))"#)
        .expect("wat");
    let err = host.load_err(&package_with_bytes("core", &core, ""));
    assert!(
        err.to_string().contains("`env::f`") && err.to_string().contains("wasm32-wasip2"),
        "{err}"
    );
    let library = wat::parse_str(r#"(module (func (export "f")))"#).expect("wat");
    let err = host.load_err(&package_with_bytes("core", &library, ""));
    assert!(err.to_string().contains("_start"), "{err}");
    // A preview-1 command (here one importing nothing) is adapted at load.
    let command =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
            .expect("wat");
    let package = package_with_bytes("core", &command, "");
    let skill = host
        .runtime
        .load(package.path())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        skill.format(),
        skill_runtime::ComponentFormat::Preview1Module
    );
}

/// LOAD-004: Importing wasi:http without a network grant is refused, naming the interface and the key.
#[test]
fn load_004_http_import_without_network_is_refused() {
    let host = Host::new();
    let err = host.load_err(&package_with_bytes(
        "http",
        &component_importing("wasi:http/outgoing-handler@0.2.0"),
        "",
    ));
    let text = err.to_string();
    assert!(
        matches!(err, LoadError::NotGranted { key: "network", .. }),
        "{text}"
    );
    assert!(
        text.contains("wasi:http/outgoing-handler@0.2.0")
            && text.contains("[capabilities].network"),
        "{text}"
    );
}

/// LOAD-005: A real program using raw sockets loads (as componentize-py's libc does), with or without a network grant, and lists wasi:sockets as always denied, never as granted; SOCK-001 runs it.
#[test]
fn load_005_sockets_load_as_always_denied() {
    let host = Host::new();
    for capabilities in ["", "[capabilities]\nnetwork = [\"http://127.0.0.1:22/\"]\n"] {
        let package = TempPackage::new(
            "sockets",
            skill_test_artifacts::SOCKETS,
            &format!("{}{capabilities}", skill_table("sockets")),
        );
        let skill = host.load(&package);
        assert!(
            !skill.denied_imports().is_empty()
                && skill
                    .denied_imports()
                    .iter()
                    .all(|i| i.starts_with("wasi:sockets/")),
            "{:?}",
            skill.denied_imports()
        );
        assert!(
            skill
                .imports()
                .iter()
                .all(|i| !i.starts_with("wasi:sockets/")),
            "{:?}",
            skill.imports()
        );
    }
}

/// LOAD-006: The channels interface needs a channels grant.
#[test]
fn load_006_channels_import_without_grant_is_refused() {
    let host = Host::new();
    let package = TempPackage::new(
        "escape",
        skill_test_artifacts::ESCAPE,
        &skill_table("escape"),
    );
    let err = host.load_err(&package);
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
}

/// LOAD-007: Interfaces the runtime does not know are refused.
#[test]
fn load_007_unknown_import_is_refused() {
    let host = Host::new();
    let err = host.load_err(&package_with_bytes(
        "odd",
        &component_importing("evil:host/exec"),
        "",
    ));
    assert!(matches!(err, LoadError::Unavailable { .. }), "{err}");
}

/// LOAD-008: Components over the size limit are refused without being read whole.
#[test]
fn load_008_oversized_component_is_refused() {
    let state = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(state.path())
        .max_component_size(skill_runtime::ByteSize(1024))
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let package = TempPackage::new("hello", skill_test_artifacts::HELLO, &skill_table("hello"));
    let err = runtime.load(package.path()).expect_err("too large");
    assert!(
        matches!(err, LoadError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
}

/// LOAD-009: A component path that leaves the package through a symlink is refused.
#[test]
fn load_009_component_symlinked_outside_the_package_is_refused() {
    let host = Host::new();
    let package = TempPackage::new("hello", skill_test_artifacts::HELLO, &skill_table("hello"));
    fs::remove_file(package.path().join("skill.wasm")).expect("remove");
    std::os::unix::fs::symlink(
        skill_test_artifacts::HELLO,
        package.path().join("skill.wasm"),
    )
    .expect("symlink");
    assert!(matches!(
        host.load_err(&package),
        LoadError::ComponentOutside { .. }
    ));
}

/// LOAD-010: A manifest with a typo, an escaping path or a limit above the host's ceiling is refused with its location.
#[test]
fn load_010_bad_manifests_are_refused_precisely() {
    let host = Host::new();
    let typo = TempPackage::new(
        "hello",
        skill_test_artifacts::HELLO,
        &format!("{}[capabilities]\nnetwrok = []\n", skill_table("hello")),
    );
    let err = host.load_err(&typo).to_string();
    assert!(err.contains("netwrok") && err.contains("line 6"), "{err}");
    let above = TempPackage::new(
        "hello",
        skill_test_artifacts::HELLO,
        &format!("{}[limits]\nmemory = \"8 GiB\"\n", skill_table("hello")),
    );
    assert!(matches!(
        host.load_err(&above),
        LoadError::AboveCeiling { key: "memory", .. }
    ));
    let mismatch = TempPackage::new(
        "hello",
        skill_test_artifacts::HELLO,
        &skill_table("other-name"),
    );
    assert!(matches!(
        host.load_err(&mismatch),
        LoadError::NameMismatch { .. }
    ));
}

/// LOAD-011: A secret for a host that no network grant names is refused at load.
#[test]
fn load_011_secrets_for_ungranted_hosts_are_refused() {
    let host = Host::new();
    let toml = format!(
        "{}[capabilities]\nnetwork = [\"https://api.example.com/\"]\nsecrets = [{{ name = \"API_KEY\", host = \"evil.example\", header = \"Authorization\", format = \"Bearer {{}}\" }}]\n",
        skill_table("hello")
    );
    let err = host.load_err(&TempPackage::new(
        "hello",
        skill_test_artifacts::HELLO,
        &toml,
    ));
    assert!(matches!(err, LoadError::Manifest { .. }), "{err}");
    assert!(err.to_string().contains("evil.example"), "{err}");
}

/// LOAD-012: SKILL.md or skill.toml symlinked to a file outside the package is refused, and its content is not echoed.
#[test]
fn load_012_package_files_symlinked_outside_are_refused_without_echo() {
    let host = Host::new();
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("id_rsa");
    fs::write(&secret, format!("name = \"{CANARY}\"\n")).expect("secret");
    for file in ["skill.toml", "SKILL.md"] {
        let package = TempPackage::new("hello", skill_test_artifacts::HELLO, &skill_table("hello"));
        fs::remove_file(package.path().join(file)).expect("remove");
        std::os::unix::fs::symlink(&secret, package.path().join(file)).expect("symlink");
        let err = host.load_err(&package);
        assert!(matches!(err, LoadError::Outside { .. }), "{file}: {err}");
        assert!(
            !format!("{err} {err:?}").contains(CANARY),
            "{file}: the outside file leaked into the error"
        );
    }
}

/// LOAD-013: A corrupt, truncated or foreign compile-cache entry, or any entry in a cache folder other users can write, is detected and recompiled, never executed; a valid one is used.
#[test]
fn load_013_bad_cache_entries_are_recompiled_not_trusted() {
    let cache = tempfile::tempdir().expect("cache");
    let state = tempfile::tempdir().expect("state");
    let package = TempPackage::example("hello", skill_test_artifacts::HELLO);
    let load = || {
        let config = RuntimeConfig::new(state.path()).with_compile_cache(cache.path());
        let runtime = Runtime::new(config).expect("runtime");
        let skill = runtime.load(package.path()).expect("load");
        let outcome = block_on(
            skill.invoke(Invocation::new("greet").input(serde_json::json!({"name": "Ada"}))),
        )
        .expect("started");
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        skill.cache_status().clone()
    };
    assert_eq!(load(), CacheStatus::Miss);
    assert_eq!(load(), CacheStatus::Hit);
    let code = fs::read_dir(cache.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cached component");
    let sum = code.with_extension("blake3");
    let good = fs::read(&code).expect("cached code");

    // One flipped bit in the machine code.
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    fs::write(&code, &flipped).expect("corrupt");
    let status = load();
    assert!(
        matches!(&status, CacheStatus::Replaced(why) if why.contains("corrupt")),
        "{status:?}"
    );
    assert_eq!(
        fs::read(&code).expect("replaced"),
        good,
        "the entry was rewritten"
    );

    // Cut short.
    fs::write(&code, &good[..good.len() / 3]).expect("truncate");
    assert!(matches!(load(), CacheStatus::Replaced(_)));

    // Checksum lost.
    fs::remove_file(&sum).expect("remove checksum");
    assert!(matches!(load(), CacheStatus::Replaced(why) if why.contains("checksum")));

    // Foreign: compiled by an engine with other settings, with a matching
    // checksum, as a shared or copied cache folder could hold.
    let mut other = wasmtime::Config::new();
    other.wasm_component_model(true).epoch_interruption(false);
    let foreign = wasmtime::Engine::new(&other)
        .expect("engine")
        .precompile_component(&fs::read(skill_test_artifacts::HELLO).expect("hello"))
        .expect("precompile");
    fs::write(&code, &foreign).expect("foreign code");
    fs::write(&sum, blake3::hash(&foreign).to_hex().as_bytes()).expect("foreign checksum");
    let status = load();
    assert!(
        matches!(&status, CacheStatus::Replaced(why) if why.contains("wasmtime refused")),
        "{status:?}"
    );
    assert_eq!(load(), CacheStatus::Hit);

    // A cache folder others can write to is not trusted, even with valid entries.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let status = load();
    assert!(
        matches!(&status, CacheStatus::Replaced(why) | CacheStatus::NotStored(why) if why.contains("writable by other users")),
        "{status:?}"
    );
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(load(), CacheStatus::Hit);
}

/// LOAD-030: A compile-cache entry changed without changing its length (its first byte, its last byte, bytes between) is refused by its BLAKE3 checksum and recompiled, never run; the rewritten entry is used next time.
#[test]
fn load_030_same_length_tampering_anywhere_in_a_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().expect("cache");
    let state = tempfile::tempdir().expect("state");
    let package = TempPackage::example("hello", skill_test_artifacts::HELLO);
    let load = || {
        let config = RuntimeConfig::new(state.path()).with_compile_cache(cache.path());
        let runtime = Runtime::new(config).expect("runtime");
        let skill = runtime.load(package.path()).expect("load");
        let outcome = block_on(
            skill.invoke(Invocation::new("greet").input(serde_json::json!({"name": "Ada"}))),
        )
        .expect("started");
        assert_eq!(
            outcome.result.as_ref().expect("greeting"),
            &serde_json::json!("Hello, Ada.")
        );
        skill.cache_status().clone()
    };
    assert_eq!(load(), CacheStatus::Miss);
    let code = fs::read_dir(cache.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cached component");
    let good = fs::read(&code).expect("cached code");
    assert_eq!(
        fs::read_to_string(code.with_extension("blake3"))
            .expect("checksum")
            .trim(),
        blake3::hash(&good).to_hex().as_str(),
        "the checksum file holds the BLAKE3 of the compiled code"
    );
    assert_eq!(load(), CacheStatus::Hit);
    let len = good.len();
    for offset in [0, len / 4, 3 * len / 4, len - 1] {
        // The same length, and for most bytes still what wasmtime's own
        // header, version and settings checks accept: only the checksum tells.
        let mut tampered = good.clone();
        tampered[offset] ^= 0x01;
        fs::write(&code, &tampered).expect("tamper");
        let status = load();
        assert!(
            matches!(&status, CacheStatus::Replaced(why) if why.contains("corrupt")),
            "byte {offset} of {len}: {status:?}"
        );
        assert_eq!(
            fs::read(&code).expect("replaced"),
            good,
            "byte {offset}: the entry was rewritten"
        );
        assert_eq!(
            load(),
            CacheStatus::Hit,
            "byte {offset}: the rewritten entry is used"
        );
    }
}
