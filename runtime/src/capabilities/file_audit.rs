//! Audit for filesystem operations. wasmtime-wasi enforces the grants
//! (cap-std confines every path to its preopen, read-only preopens refuse
//! writes); this module shadows the path-taking `wasi:filesystem/types`
//! functions in a skill's linker, calls wasmtime-wasi's own implementation,
//! and records what was asked and what the sandbox answered, so escapes
//! and writes to read-only grants show up in the audit log.

use std::collections::HashMap;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, ErrorCode, Host, HostDescriptor, OpenFlags,
    PathFlags,
};

use crate::audit::{AuditKind, Decision};
use crate::invocation::state::InvocationState;

/// Guest paths of the descriptors an invocation has opened, by resource
/// index, so audit events name `/notes/a.md` rather than `a.md`. Labels
/// only: nothing is decided from them.
#[derive(Default)]
pub(crate) struct DescriptorPaths(HashMap<u32, String>);

impl DescriptorPaths {
    /// Names descriptor `fd` by its guest path.
    pub(crate) fn label(&mut self, fd: u32, guest: String) {
        self.0.insert(fd, guest);
    }

    /// The guest path of `path` taken relative to descriptor `fd`.
    pub(crate) fn join(&self, fd: u32, path: &str) -> String {
        match self.0.get(&fd) {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), path),
            None => path.to_owned(),
        }
    }
}

const TYPES: &str = "wasi:filesystem/types@0.2.12";
const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

/// The decision and reason for an operation's result.
fn judge<T>(result: &Result<T, ErrorCode>, write: bool) -> (Decision, String) {
    match result {
        Ok(_) => (Decision::Allow, "inside a granted folder".into()),
        Err(ErrorCode::NotPermitted) => (
            Decision::Deny,
            "the path leaves the granted folder (through `..`, an absolute path or a symlink); only folders in [capabilities].files are reachable".into(),
        ),
        Err(ErrorCode::ReadOnly | ErrorCode::Access) if write => (
            Decision::Deny,
            "the folder is granted read-only; use access = \"read-write\" in [capabilities].files to allow changes".into(),
        ),
        Err(ErrorCode::Access) => (Decision::Deny, "access denied by the sandbox".into()),
        Err(code) => (Decision::Allow, format!("allowed, but failed: {code:?}")),
    }
}

fn record<T>(
    state: &mut InvocationState,
    op: &str,
    target: &str,
    result: &Result<T, ErrorCode>,
    write: bool,
) {
    let (decision, reason) = judge(result, write);
    state.audit.record(
        AuditKind::File,
        target,
        decision,
        &format!("{op}: {reason}"),
        None,
    );
}

fn convert<T>(
    state: &mut InvocationState,
    result: Result<T, FsError>,
) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(Host::convert_error_code(&mut state.filesystem(), e)?)),
    }
}

/// Shadows the path-taking operations with audited ones. Call after the
/// base WASI interfaces are linked.
pub(crate) fn add_to_linker(linker: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut preopens = linker.instance(PREOPENS)?;
    preopens.func_wrap_async(
        "get-directories",
        |mut store: StoreContextMut<'_, InvocationState>, (): ()| {
            Box::new(async move {
                let state = store.data_mut();
                let mut dirs = Vec::with_capacity(state.preopens.len());
                for (dir, guest) in &state.preopens {
                    let fd = state.table.push(Descriptor::Dir(dir.clone()))?;
                    state.fs_paths.0.insert(fd.rep(), guest.clone());
                    dirs.push((fd, guest.clone()));
                }
                Ok((dirs,))
            })
        },
    )?;

    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let target = state.fs_paths.join(fd.rep(), &path);
                let write = flags.contains(DescriptorFlags::WRITE)
                    || oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE);
                let result = HostDescriptor::open_at(
                    &mut state.filesystem(),
                    fd,
                    path_flags,
                    path,
                    oflags,
                    flags,
                )
                .await;
                let result = convert(state, result)?;
                if let Ok(new) = &result {
                    state.fs_paths.0.insert(new.rep(), target.clone());
                }
                record(
                    state,
                    if write { "open for writing" } else { "open" },
                    &target,
                    &result,
                    write,
                );
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, path_flags, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let target = state.fs_paths.join(fd.rep(), &path);
                let result: Result<DescriptorStat, FsError> =
                    HostDescriptor::stat_at(&mut state.filesystem(), fd, path_flags, path).await;
                let result = convert(state, result)?;
                record(state, "stat", &target, &result, false);
                Ok((result,))
            })
        },
    )?;

    /// The operations that take one descriptor and one path.
    macro_rules! path_op {
        ($name:literal, $method:ident, $op:literal, $write:literal) => {
            types.func_wrap_async(
                $name,
                |mut store: StoreContextMut<'_, InvocationState>,
                 (fd, path): (Resource<Descriptor>, String)| {
                    Box::new(async move {
                        let state = store.data_mut();
                        let target = state.fs_paths.join(fd.rep(), &path);
                        let result =
                            HostDescriptor::$method(&mut state.filesystem(), fd, path).await;
                        let result = convert(state, result)?;
                        record(state, $op, &target, &result, $write);
                        Ok((result,))
                    })
                },
            )?;
        };
    }
    path_op!(
        "[method]descriptor.create-directory-at",
        create_directory_at,
        "create folder",
        true
    );
    path_op!(
        "[method]descriptor.remove-directory-at",
        remove_directory_at,
        "remove folder",
        true
    );
    path_op!(
        "[method]descriptor.unlink-file-at",
        unlink_file_at,
        "delete",
        true
    );
    path_op!(
        "[method]descriptor.readlink-at",
        readlink_at,
        "read link",
        false
    );

    types.func_wrap_async(
        "[method]descriptor.rename-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, old, new_fd, new): (Resource<Descriptor>, String, Resource<Descriptor>, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let target = format!("{} -> {}", state.fs_paths.join(fd.rep(), &old), state.fs_paths.join(new_fd.rep(), &new));
                let result = HostDescriptor::rename_at(&mut state.filesystem(), fd, old, new_fd, new).await;
                let result = convert(state, result)?;
                record(state, "rename", &target, &result, true);
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, flags, old, new_fd, new): (
            Resource<Descriptor>,
            PathFlags,
            String,
            Resource<Descriptor>,
            String,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let target = format!(
                    "{} -> {}",
                    state.fs_paths.join(fd.rep(), &old),
                    state.fs_paths.join(new_fd.rep(), &new)
                );
                let result =
                    HostDescriptor::link_at(&mut state.filesystem(), fd, flags, old, new_fd, new)
                        .await;
                let result = convert(state, result)?;
                record(state, "hard link", &target, &result, true);
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, old, new): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let target = format!("{} -> {old}", state.fs_paths.join(fd.rep(), &new));
                let result =
                    HostDescriptor::symlink_at(&mut state.filesystem(), fd, old, new).await;
                let result = convert(state, result)?;
                record(state, "symlink", &target, &result, true);
                Ok((result,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_read_only_writes_are_denials_other_errors_are_not() {
        assert_eq!(
            judge::<()>(&Err(ErrorCode::NotPermitted), false).0,
            Decision::Deny
        );
        assert_eq!(
            judge::<()>(&Err(ErrorCode::ReadOnly), true).0,
            Decision::Deny
        );
        assert_eq!(
            judge::<()>(&Err(ErrorCode::NoEntry), false).0,
            Decision::Allow
        );
        assert_eq!(judge::<()>(&Ok(()), true).0, Decision::Allow);
    }

    #[test]
    fn descriptor_paths_join_under_their_preopen() {
        let mut paths = DescriptorPaths::default();
        paths.0.insert(3, "/notes".into());
        assert_eq!(paths.join(3, "a.md"), "/notes/a.md");
        assert_eq!(paths.join(9, "a.md"), "a.md");
    }
}
