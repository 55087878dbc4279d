//! The Python script runtime: `runtime = "python"` skills run their `.py`
//! scripts in one shared CPython component (the *runner*, built once with
//! componentize-py from `script-runner/python/`), compiled once and kept in
//! the compile cache like any component. Each invocation is a fresh
//! instance with exactly the manifest's grants; on top of them the runner
//! sees the package read-only at [`PACKAGE_GUEST_PATH`]: a private copy
//! taken when the skill is loaded (see [`PackageSnapshot`]), so a script
//! changed on disk afterwards is not what runs.
//!
//! This module owns what differs from a component skill: where the runner
//! comes from, which script a command names, the runner's arguments, stdin
//! and working folder, the package mount, the exit status, and the
//! `sandbox` interface through which the runner reports the processes and
//! sockets a script tried to use (audited as denied).

mod snapshot;

pub(crate) use snapshot::PackageSnapshot;

use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use wasmtime::component::Linker;
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::{FsPerms, OpenMode};

use crate::audit::{AuditKind, Decision};
use crate::capabilities::Grants;
use crate::capabilities::capability::{Capability, LinkFor};
use crate::capabilities::files::{Access, HostBase};
use crate::config::RuntimeConfig;
use crate::error::{InvokeError, LoadError};
use crate::invocation::Failure;
use crate::invocation::state::InvocationState;
use crate::package::{Executable, Manifest, Package, ScriptRuntime};

/// Where a script skill's package folder appears inside the sandbox,
/// read-only. A script `scripts/draw.py` runs as `/skill/scripts/draw.py`.
pub const PACKAGE_GUEST_PATH: &str = "/skill";

/// The runner's own interface package (see `script-runner/python/wit`).
pub(crate) const SANDBOX_PACKAGE: &str = "skill-run:python-runner";
const SANDBOX_INTERFACE: &str = "skill-run:python-runner/sandbox@0.1.0";

/// The largest runner component accepted (the runner is the host's own
/// file, but a wrong path must not make it read a disk image).
const MAX_RUNNER_BYTES: u64 = 256 << 20;

/// Why a script cannot start a program, as audited.
pub const PROCESSES_DENIED: &str = "processes do not exist in the skill-run sandbox: a script runs as WebAssembly and cannot start programs";

/// Whether `manifest` is a script skill this runtime runs.
pub(crate) fn is_script(manifest: &Manifest) -> bool {
    matches!(
        manifest.executable,
        Executable::Script(ScriptRuntime::Python)
    )
}

/// The runner component a `runtime = "python"` skill runs in: the host's,
/// read within [`MAX_RUNNER_BYTES`]. A script skill's file grants may not use
/// the guest path of the package mount.
pub(crate) fn runner(
    package: &Package,
    manifest: &Manifest,
    config: &RuntimeConfig,
) -> Result<(PathBuf, Arc<[u8]>), LoadError> {
    let skill = package.name();
    let fail = |reason: String| LoadError::ScriptRunner {
        skill: skill.clone(),
        reason,
    };
    let mount = crate::capabilities::files::GuestPath::parse(PACKAGE_GUEST_PATH)
        .expect("the package mount is a valid guest path");
    if let Some(grant) = manifest
        .grants
        .files
        .iter()
        .find(|g| g.guest.contains(&mount) || mount.contains(&g.guest))
    {
        return Err(fail(format!(
            "its files grant `{}` uses {PACKAGE_GUEST_PATH}, where the package itself is mounted read-only; give the grant another guest path",
            grant.guest
        )));
    }
    let Some(path) = config.python_runner() else {
        return Err(fail(
            "this runtime has no Python runner component configured (`RuntimeConfig::with_python_runner`); `scripts/install-toolchains python` builds one into target/toolchains/python-runner/runner.wasm".into(),
        ));
    };
    let size = std::fs::metadata(path)
        .map_err(|e| {
            fail(format!(
                "cannot read the Python runner {}: {e}; run `scripts/install-toolchains python` to build it",
                path.display()
            ))
        })?
        .len();
    if size > MAX_RUNNER_BYTES {
        return Err(fail(format!(
            "the Python runner {} is {size} bytes, more than the {MAX_RUNNER_BYTES} accepted",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        fail(format!(
            "cannot read the Python runner {}: {e}",
            path.display()
        ))
    })?;
    Ok((path.to_path_buf(), bytes.into()))
}

/// The script a command names, checked: a relative `.py` path made of plain
/// names that is a regular file inside the package (symlinks leaving it are
/// refused). Returns the path relative to the package, `/`-separated.
pub(crate) fn script_path(root: &Path, command: Option<&str>) -> Result<String, String> {
    let Some(command) = command else {
        return Err(
            "name the script to run, relative to the package: `skill-run run PKG scripts/NAME.py [-- ARG...]`".into(),
        );
    };
    let relative = Path::new(command);
    let mut parts = Vec::new();
    for part in relative.components() {
        match part {
            PathPart::Normal(name) => match name.to_str() {
                Some(name) => parts.push(name),
                None => return Err("the script path is not UTF-8".into()),
            },
            PathPart::CurDir => {}
            PathPart::ParentDir | PathPart::RootDir | PathPart::Prefix(_) => {
                return Err(format!(
                    "`{command}` leaves the package: a script is named by its path inside the package, e.g. scripts/draw.py"
                ));
            }
        }
    }
    let Some(file) = parts.last() else {
        return Err("the script path is empty".into());
    };
    if !file.ends_with(".py") || file.len() == 3 {
        return Err(format!(
            "`{command}` is not a Python script (.py): a `runtime = \"python\"` skill runs only its .py files"
        ));
    }
    let joined = parts.join("/");
    let canonical_root =
        std::fs::canonicalize(root).map_err(|e| format!("cannot read the package folder: {e}"))?;
    let canonical = std::fs::canonicalize(root.join(&joined))
        .map_err(|_| format!("the package has no script `{joined}`"))?;
    if !canonical.starts_with(&canonical_root) {
        return Err(format!(
            "`{joined}` resolves outside the package (a symlink): a skill may only run its own scripts"
        ));
    }
    if !canonical.is_file() {
        return Err(format!("`{joined}` is not a file"));
    }
    Ok(joined)
}

/// The runner's `argv[1]`: where the script is inside the sandbox.
pub(crate) fn guest_script(script: &str) -> String {
    format!("{PACKAGE_GUEST_PATH}/{script}")
}

/// The script's working folder: the first read-write `{workspace}` grant's
/// guest path, else the first `{workspace}` grant's, else the package.
pub(crate) fn working_folder(grants: &Grants) -> String {
    let workspace = |rw: bool| {
        grants
            .files
            .iter()
            .find(|g| g.host.base == HostBase::Workspace && (!rw || g.access == Access::ReadWrite))
    };
    workspace(true)
        .or_else(|| workspace(false))
        .map_or_else(|| PACKAGE_GUEST_PATH.to_owned(), |g| g.guest.to_string())
}

/// The script's stdin: a JSON string's text as it is, nothing for `null`
/// or `{}` (the default input), other JSON as JSON.
pub(crate) fn stdin(input: &Value) -> Vec<u8> {
    match input {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Null => Vec::new(),
        Value::Object(o) if o.is_empty() => Vec::new(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// The package folder, read-only, for [`PACKAGE_GUEST_PATH`].
pub(crate) fn package_preopen(root: &Path, blocking: bool) -> Result<(Dir, String), String> {
    let dir = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
        .map_err(|e| format!("cannot open the package folder {}: {e}", root.display()))?;
    Ok((
        Dir::new(
            dir.into_std_file(),
            FsPerms::ReadOnly,
            OpenMode::READ,
            blocking,
        ),
        PACKAGE_GUEST_PATH.to_owned(),
    ))
}

/// How a script that ended with a non-zero status failed: a skill error
/// whose value is `{"exit_status": N}` (see [`Failure::exit_status`]).
pub(crate) fn exited(skill: &str, script: &str, status: i32) -> Failure {
    Failure::SkillError {
        message: format!("skill `{skill}` script `{script}` exited with status {status}"),
        value: Some(serde_json::json!({ "exit_status": status })),
    }
}

/// Refuses an invocation of a script skill whose command is not a script.
pub(crate) fn bad_script(skill: &str, command: Option<&str>, reason: String) -> InvokeError {
    InvokeError::BadInput {
        skill: skill.to_owned(),
        command: command.unwrap_or("(none)").to_owned(),
        reason,
    }
}

/// The Python runner's own `sandbox` interface: each report of a process or
/// a socket the script tried becomes a denied audit event. Linked for
/// script skills only (the runner's `wasi:http` comes from
/// [`crate::capabilities::http::Network`]).
pub(crate) struct Sandbox;

impl Capability for Sandbox {
    fn key(&self) -> &'static str {
        "runtime"
    }

    fn answers(&self, package: &str, _interface: &str) -> bool {
        package == SANDBOX_PACKAGE
    }

    fn link(
        &self,
        linker: &mut Linker<InvocationState>,
        for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        if !for_.script {
            return Ok(());
        }
        let mut instance = linker.instance(SANDBOX_INTERFACE)?;
        instance.func_wrap(
            "denied",
            |store: wasmtime::StoreContextMut<'_, InvocationState>,
             (what, detail): (String, String)| {
                let (kind, reason) = match what.as_str() {
                    "socket" => (
                        AuditKind::Network,
                        crate::capabilities::sockets::SOCKETS_DENIED,
                    ),
                    _ => (AuditKind::Process, PROCESSES_DENIED),
                };
                store
                    .data()
                    .audit
                    .record(kind, &detail, Decision::Deny, reason, None);
                Ok(())
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("scripts")).expect("mkdir");
        std::fs::write(dir.path().join("scripts/draw.py"), "print(1)\n").expect("write");
        std::fs::write(dir.path().join("scripts/notes.txt"), "x").expect("write");
        dir
    }

    #[test]
    fn a_script_inside_the_package_is_accepted() {
        let dir = package();
        assert_eq!(
            script_path(dir.path(), Some("scripts/draw.py")),
            Ok("scripts/draw.py".into())
        );
        assert_eq!(
            script_path(dir.path(), Some("./scripts/./draw.py")),
            Ok("scripts/draw.py".into())
        );
    }

    #[test]
    fn paths_leaving_the_package_or_not_python_are_refused() {
        let dir = package();
        for bad in [
            "../draw.py",
            "scripts/../../x.py",
            "/etc/x.py",
            "scripts/notes.txt",
            "scripts/missing.py",
            ".py",
            "",
        ] {
            assert!(
                script_path(dir.path(), Some(bad)).is_err(),
                "{bad} was accepted"
            );
        }
        assert!(script_path(dir.path(), None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_package_is_refused() {
        let dir = package();
        let outside = tempfile::tempdir().expect("dir");
        std::fs::write(outside.path().join("evil.py"), "print(2)").expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("evil.py"),
            dir.path().join("scripts/evil.py"),
        )
        .expect("symlink");
        let err = script_path(dir.path(), Some("scripts/evil.py")).expect_err("refused");
        assert!(err.contains("outside the package"), "{err}");
    }

    #[test]
    fn stdin_is_the_text_given() {
        assert_eq!(stdin(&Value::String("a\nb".into())), b"a\nb");
        assert!(stdin(&serde_json::json!({})).is_empty());
        assert_eq!(stdin(&serde_json::json!([1])), b"[1]");
    }
}
