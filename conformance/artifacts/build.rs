//! Builds the guest components with their own target directory (so this
//! nested cargo never waits on the outer one's lock) and writes their paths
//! into `artifacts.rs`. Runs once per test build, not once per test.

use std::path::PathBuf;
use std::process::Command;

/// Guest packages: (cargo package, constant name, artifact file).
const GUESTS: &[(&str, &str, &str)] = &[
    ("hello", "HELLO", "hello.wasm"),
    ("notes", "NOTES", "notes.wasm"),
    ("moltbook", "MOLTBOOK", "moltbook.wasm"),
    ("guest-escape", "ESCAPE", "guest-escape.wasm"),
    ("guest-types", "TYPES", "guest_types.wasm"),
    ("guest-sockets", "SOCKETS", "guest-sockets.wasm"),
    ("guest-http", "HTTP", "guest-http.wasm"),
    ("guest-net", "NET", "guest-net.wasm"),
    ("guest-wasi03", "WASI03", "guest_wasi03.wasm"),
    ("guest-slow", "SLOW", "guest-slow.wasm"),
];

/// Guests built for `wasm32-wasip1`: WASI preview-1 core modules, which the
/// runtime adapts to components at load.
const PREVIEW1_GUESTS: &[(&str, &str, &str)] =
    &[("guest-preview1", "PREVIEW1", "guest-preview1.wasm")];

/// Makes sure a wasm target's standard library is installed for the
/// toolchain building us. rust-toolchain.toml lists it, but rustup only
/// installs listed targets by itself when auto-install is on; a fresh
/// machine must still pass `cargo test` alone.
fn ensure_wasm_target(target: &str) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if sysroot.is_some_and(|s| s.join("lib/rustlib").join(target).is_dir()) {
        return;
    }
    println!(
        "cargo:warning=installing the {target} target with rustup (listed in rust-toolchain.toml)"
    );
    let installed = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        panic!(
            "the {target} target is missing and rustup could not install it: run `rustup target add {target}`"
        );
    }
}

/// Builds `guests` for `target` into `target_dir`.
fn build_guests(
    root: &std::path::Path,
    target_dir: &std::path::Path,
    target: &str,
    guests: &[(&str, &str, &str)],
) {
    ensure_wasm_target(target);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--target", target, "--target-dir"])
        .arg(target_dir);
    for (package, _, _) in guests {
        command.args(["-p", package]);
    }
    // The outer build's flags and target settings are for the host, not the guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the guest components");
    if !status.success() {
        panic!(
            "building the {target} guests failed (errors above). If the {target} target is missing, run: rustup target add {target}"
        );
    }
}

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let target_dir = root.join("target/wasm-guests");
    for watched in [
        "examples",
        "conformance/guests",
        "skill-sdk/src",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    build_guests(&root, &target_dir, "wasm32-wasip2", GUESTS);
    build_guests(&root, &target_dir, "wasm32-wasip1", PREVIEW1_GUESTS);

    let mut code = String::new();
    let built = GUESTS
        .iter()
        .map(|g| ("wasm32-wasip2", g))
        .chain(PREVIEW1_GUESTS.iter().map(|g| ("wasm32-wasip1", g)));
    for (target, (package, constant, file)) in built {
        let path = target_dir.join(target).join("release").join(file);
        assert!(
            path.exists(),
            "guest `{package}` built but {} is missing",
            path.display()
        );
        code.push_str(&format!(
            "/// The built `{package}` component.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    code.push_str(&format!(
        "/// The workspace root.\npub const WORKSPACE: &str = {:?};\n",
        root.display().to_string()
    ));
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("artifacts.rs");
    std::fs::write(dest, code).expect("writing artifacts.rs");
}
