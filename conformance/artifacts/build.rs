//! Builds the guest components with their own target directory (so this
//! nested cargo never waits on the outer one's lock) and writes their paths
//! into `artifacts.rs`. Runs once per test build, not once per test.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The same code `skill-run build` drives componentize-py and ComponentizeJS with.
#[allow(dead_code)]
#[path = "../../runtime/src/bin/skill-run/toolchain.rs"]
mod toolchain;

use toolchain::{Language, Layout};

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
    ("guest-http03", "HTTP03", "guest_http03.wasm"),
    ("guest-slow", "SLOW", "guest-slow.wasm"),
];

/// Guests built for `wasm32-wasip1`: WASI preview-1 core modules, which the
/// runtime adapts to components at load.
const PREVIEW1_GUESTS: &[(&str, &str, &str)] =
    &[("guest-preview1", "PREVIEW1", "guest-preview1.wasm")];

/// Python and JavaScript guests: (folder, constant name, whether their
/// manifest grants network, so JavaScript keeps `fetch`).
const SCRIPT_GUESTS: &[(&str, &str, bool)] = &[
    ("examples/forecast", "FORECAST_PY", true),
    ("conformance/script-guests/hostile-py", "HOSTILE_PY", true),
    ("conformance/script-guests/hostile-js", "HOSTILE_JS", true),
    ("examples/digest", "DIGEST_JS", false),
    // The Python script runtime's runner (`runtime = "python"` skills).
    ("script-runner/python", "PYTHON_RUNNER", false),
];

/// Every file under `dir` (sorted), fed to `hasher` with its path.
fn hash_tree(dir: &Path, hasher: &mut impl Hasher) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Only what goes into the component: not docs (a README edit must
        // not rebuild and recompile every guest), not build outputs.
        if name.ends_with(".wasm")
            || name.ends_with(".md")
            || name == "__pycache__"
            || name == "node_modules"
        {
            continue;
        }
        if path.is_dir() {
            hash_tree(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            path.hash(hasher);
            bytes.hash(hasher);
        }
    }
}

/// Builds each Python and JavaScript guest once: the component is kept
/// under `target/wasm-guests/script/` keyed by a hash of its sources, the
/// SDK, the WIT and the toolchain version, so an unchanged guest is never
/// rebuilt (componentize-py takes about 10 s per guest).
fn build_script_guests(root: &Path, target_dir: &Path, code: &mut String) {
    let layout = Layout::new(root.to_path_buf(), None);
    let mut installed = false;
    let out_dir = target_dir.join("script");
    std::fs::create_dir_all(&out_dir).expect("creating target/wasm-guests/script");
    for (folder, constant, network) in SCRIPT_GUESTS {
        let dir = root.join(folder);
        let language = Language::detect(&dir)
            .unwrap_or_else(|| panic!("{folder} has neither app.py nor app.js"));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hash_tree(&dir, &mut hasher);
        for shared in [
            "wit",
            "skill-sdk/python",
            "skill-sdk/js",
            "skill-sdk/wit",
            "runtime/src/bin/skill-run/toolchain.rs",
        ] {
            let p = root.join(shared);
            if p.is_dir() {
                hash_tree(&p, &mut hasher);
            } else if let Ok(bytes) = std::fs::read(&p) {
                bytes.hash(&mut hasher);
            }
        }
        (
            toolchain::COMPONENTIZE_PY,
            toolchain::COMPONENTIZE_JS,
            network,
        )
            .hash(&mut hasher);
        let name = folder.rsplit('/').next().unwrap_or(folder);
        let path = out_dir.join(format!("{name}-{:016x}.wasm", hasher.finish()));
        if !path.is_file() {
            if !installed && layout.check_installed(language).is_err() {
                println!(
                    "cargo:warning=installing the pinned Python and JavaScript toolchains (scripts/install-toolchains)"
                );
                let ok = Command::new(root.join("scripts/install-toolchains"))
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "scripts/install-toolchains failed (errors above)");
                installed = true;
            }
            let staging = out_dir.join(format!("{name}.staging"));
            let partial = out_dir.join(format!("{name}.partial.wasm"));
            let mut command = layout
                .command(language, &dir, &partial, &staging, *network)
                .unwrap_or_else(|e| panic!("building {folder}: {e}"));
            let output = command
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", language.toolchain()));
            if !output.status.success() {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                panic!(
                    "building {folder} with {} failed:\n{}",
                    language.toolchain(),
                    layout.explain(language, &dir, &staging, &text)
                );
            }
            // Older builds of this guest are stale now.
            for old in std::fs::read_dir(&out_dir).into_iter().flatten().flatten() {
                let file = old.file_name().to_string_lossy().into_owned();
                if file.starts_with(&format!("{name}-")) && file.ends_with(".wasm") {
                    let _ = std::fs::remove_file(old.path());
                }
            }
            std::fs::rename(&partial, &path).expect("keeping the built guest");
            let _ = std::fs::remove_dir_all(&staging);
        }
        code.push_str(&format!(
            "/// The built `{folder}` component ({}).\npub const {constant}: &str = {:?};\n",
            language.toolchain(),
            path.display().to_string()
        ));
    }
}

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
        "conformance/script-guests",
        "script-runner",
        "skill-sdk/src",
        "skill-sdk/python",
        "skill-sdk/js",
        "skill-sdk/wit",
        "wit",
        "Cargo.lock",
        "scripts/install-toolchains",
        "runtime/src/bin/skill-run/toolchain.rs",
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
    build_script_guests(&root, &target_dir, &mut code);
    code.push_str(&format!(
        "/// The workspace root.\npub const WORKSPACE: &str = {:?};\n",
        root.display().to_string()
    ));
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("artifacts.rs");
    std::fs::write(dest, code).expect("writing artifacts.rs");
}
