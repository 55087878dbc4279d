//! Audit for filesystem operations. wasmtime-wasi enforces the grants
//! (cap-std confines every path to its preopen, read-only preopens refuse
//! writes); this module shadows the path-taking `wasi:filesystem/types`
//! functions in a skill's linker, calls wasmtime-wasi's own implementation,
//! and records what was asked and what the sandbox answered, so escapes
//! and writes to read-only grants show up in the audit log.
//!
//! The same shadows enforce the disk limits (see `disk`) and keep a writer's
//! `{state}` copy from touching the committed version it shares files with
//! (see `state`): a shared file gets its own inode before it is opened for
//! writing, and nothing is renamed or linked between `{state}` and another
//! grant. The WASI 0.3 filesystem has the same shadows in `file_audit_p3`,
//! which shares this module's `{state}` helpers.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, ErrorCode, Host, HostDescriptor, NewTimestamp,
    OpenFlags, PathFlags,
};
use wasmtime_wasi_io::streams::DynOutputStream;

use super::disk::{InState, MeteredStream, growth};
use super::state::break_link;
use crate::audit::{AuditKind, Decision};
use crate::invocation::state::InvocationState;

/// Guest paths of the descriptors an invocation has opened, by resource
/// index, so audit events name `/notes/a.md` rather than `a.md`. Labels
/// only: nothing is decided from them.
#[derive(Default)]
pub(crate) struct DescriptorPaths(HashMap<u32, String>);

impl DescriptorPaths {
    /// How many of the descriptors opened so far are still open; forgets
    /// the ones the guest closed.
    pub(crate) fn live(&mut self, table: &wasmtime::component::ResourceTable) -> usize {
        self.0
            .retain(|rep, _| table.get(&Resource::<Descriptor>::new_borrow(*rep)).is_ok());
        self.0.len()
    }

    /// The guest path of descriptor `fd`, or `?` if it is not known.
    pub(crate) fn label(&self, fd: u32) -> String {
        self.0.get(&fd).cloned().unwrap_or_else(|| "?".into())
    }

    /// Names descriptor `fd` by its guest path.
    pub(crate) fn set_label(&mut self, fd: u32, guest: String) {
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

/// How a filesystem operation ended, as the audit tells it; WASI 0.2 and
/// WASI 0.3 each map their own error codes onto it.
pub(crate) enum Ended<'a> {
    /// It succeeded.
    Done,
    /// The path left the granted folder.
    LeftGrant,
    /// Refused as read-only or not accessible.
    Refused,
    /// It failed for a reason of its own (not a sandbox decision).
    Failed(&'a dyn std::fmt::Debug),
}

/// The decision and reason for an operation that ended as `ended`.
pub(crate) fn verdict(ended: Ended<'_>, write: bool) -> (Decision, String) {
    match ended {
        Ended::Done => (Decision::Allow, "inside a granted folder".into()),
        // WASI answers a change in a read-only folder with the same code
        // as an escape, so a refused change says both.
        Ended::LeftGrant if write => (
            Decision::Deny,
            "the folder is read-only (the package at /skill always is; a grant is, unless access = \"read-write\" in [capabilities].files), or the path leaves the granted folder (through `..`, an absolute path or a symlink)".into(),
        ),
        Ended::LeftGrant => (
            Decision::Deny,
            "the path leaves the granted folder (through `..`, an absolute path or a symlink); only folders in [capabilities].files are reachable".into(),
        ),
        Ended::Refused if write => (
            Decision::Deny,
            "the folder is granted read-only; use access = \"read-write\" in [capabilities].files to allow changes".into(),
        ),
        Ended::Refused => (Decision::Deny, "access denied by the sandbox".into()),
        Ended::Failed(code) => (Decision::Allow, format!("allowed, but failed: {code:?}")),
    }
}

/// The decision and reason for a WASI 0.2 operation's result.
fn judge<T>(result: &Result<T, ErrorCode>, write: bool) -> (Decision, String) {
    let ended = match result {
        Ok(_) => Ended::Done,
        Err(ErrorCode::NotPermitted) => Ended::LeftGrant,
        Err(ErrorCode::ReadOnly) if write => Ended::Refused,
        Err(ErrorCode::Access) => Ended::Refused,
        Err(code) => Ended::Failed(code),
    };
    verdict(ended, write)
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

pub(crate) fn convert<T>(
    state: &mut InvocationState,
    result: Result<T, FsError>,
) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(Host::convert_error_code(&mut state.filesystem(), e)?)),
    }
}

/// The host folder behind `fd` if it is a folder of the writer's `{state}` copy.
pub(crate) fn state_dir(
    state: &InvocationState,
    fd: &Resource<Descriptor>,
) -> Option<Arc<std::fs::File>> {
    match state.table.get(fd) {
        Ok(Descriptor::Dir(d)) if state.state_tree.has_dir(&d.dir) => Some(d.dir.clone()),
        _ => None,
    }
}

/// The host file behind `fd`, and how it was opened in the writer's `{state}` copy.
pub(crate) fn file_of(
    state: &InvocationState,
    fd: &Resource<Descriptor>,
) -> Option<(Arc<std::fs::File>, Option<InState>)> {
    match state.table.get(fd) {
        Ok(Descriptor::File(f)) => Some((f.file.clone(), state.state_tree.get(&f.file))),
        _ => None,
    }
}

/// `Err` (audited) when the invocation already holds its share of the
/// runtime's descriptor budget in open files, folders and listings, so `op`
/// on `target` must not open another host handle.
pub(crate) fn within_budget(
    state: &mut InvocationState,
    op: &str,
    target: &str,
) -> Result<(), ErrorCode> {
    let held = state.fs_paths.live(&state.table) + state.listings.live(&state.table);
    if held < state.max_descriptors {
        return Ok(());
    }
    let reason = format!(
        "{op}: this invocation holds {} open files, folders and listings, its share of the runtime's descriptor budget (RuntimeConfig::max_guest_descriptors); close one first",
        state.max_descriptors
    );
    state
        .audit
        .record(AuditKind::File, target, Decision::Deny, &reason, None);
    Err(ErrorCode::Quota)
}

/// A borrow of the same descriptor, to pass to a second host call.
pub(crate) fn again(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

const CROSS_STATE: &str = "moving or linking between {state} and another grant is refused (as across devices): copy the file instead";

/// Audits a refusal to rename or link between `{state}` and another grant.
pub(crate) fn record_cross_state(state: &mut InvocationState, op: &str, target: &str) {
    state.audit.record(
        AuditKind::File,
        target,
        Decision::Deny,
        &format!("{op}: {CROSS_STATE}"),
        None,
    );
}

/// Audits a refusal to rename or link between `{state}` and another grant,
/// and gives WASI 0.2's error code for it.
fn refuse_cross_state(state: &mut InvocationState, op: &str, target: &str) -> ErrorCode {
    record_cross_state(state, op, target);
    ErrorCode::CrossDevice
}

/// Gives a shared file in the `{state}` copy its own inode before it changes,
/// charging the copy to `limits.disk-write`. `Ok(false)` (audited) when that
/// failed and the change must not happen; `Err` is the trap of a limit.
/// Nothing to do when `dir` (the `{state}` folder `path` is taken in) is `None`.
pub(crate) fn give_own_copy(
    state: &mut InvocationState,
    dir: Option<&Arc<std::fs::File>>,
    path: &str,
    follow: bool,
    target: &str,
) -> wasmtime::Result<bool> {
    let Some(dir) = dir else { return Ok(true) };
    let mut trap = None;
    let disk = state.disk.clone();
    let result = break_link(dir, path, follow, &mut |len| {
        disk.charge_write(len, 0).map_err(|e| {
            trap = Some(e);
            std::io::Error::other("limits.disk-write")
        })
    });
    if let Some(trap) = trap {
        return Err(trap);
    }
    if let Err(e) = result {
        state.audit.record(
            AuditKind::File,
            target,
            Decision::Deny,
            &format!("cannot give the file its own copy in {{state}} before changing it: {e}"),
            None,
        );
        return Ok(false);
    }
    Ok(true)
}

/// [`give_own_copy`] with WASI 0.2's error code.
fn unshare(
    state: &mut InvocationState,
    dir: Option<&Arc<std::fs::File>>,
    path: &str,
    follow: bool,
    target: &str,
) -> wasmtime::Result<Result<(), ErrorCode>> {
    Ok(if give_own_copy(state, dir, path, follow, target)? {
        Ok(())
    } else {
        Err(ErrorCode::Io)
    })
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
                if let Err(code) = within_budget(state, "open", &target) {
                    return Ok((Err(code),));
                }
                let in_state = state_dir(state, &fd);
                if write {
                    let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
                    if let Err(code) = unshare(state, in_state.as_ref(), &path, follow, &target)? {
                        return Ok((Err(code),));
                    }
                }
                if oflags.contains(OpenFlags::CREATE) {
                    let exists = !oflags.contains(OpenFlags::EXCLUSIVE)
                        && HostDescriptor::stat_at(
                            &mut state.filesystem(),
                            again(&fd),
                            path_flags,
                            path.clone(),
                        )
                        .await
                        .is_ok();
                    if !exists {
                        state.disk.charge_create()?;
                    }
                }
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
                    // A handle opened through a {state} folder is in {state}
                    // for as long as it is open, and only then.
                    if in_state.is_some() {
                        let (handle, kind) = match state.table.get(new) {
                            Ok(Descriptor::Dir(d)) => (d.dir.clone(), InState::Dir),
                            Ok(Descriptor::File(f)) if write => (f.file.clone(), InState::Writable),
                            Ok(Descriptor::File(f)) => (f.file.clone(), InState::ReadOnly),
                            Err(_) => return Ok((result,)),
                        };
                        state.state_tree.add(&handle, kind);
                    }
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
        ($name:literal, $method:ident, $op:literal, $write:literal, $creates:literal) => {
            types.func_wrap_async(
                $name,
                |mut store: StoreContextMut<'_, InvocationState>,
                 (fd, path): (Resource<Descriptor>, String)| {
                    Box::new(async move {
                        let state = store.data_mut();
                        let target = state.fs_paths.join(fd.rep(), &path);
                        if $creates {
                            state.disk.charge_create()?;
                        }
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
        true,
        true
    );
    path_op!(
        "[method]descriptor.remove-directory-at",
        remove_directory_at,
        "remove folder",
        true,
        false
    );
    path_op!(
        "[method]descriptor.unlink-file-at",
        unlink_file_at,
        "delete",
        true,
        false
    );
    path_op!(
        "[method]descriptor.readlink-at",
        readlink_at,
        "read link",
        false,
        false
    );

    types.func_wrap_async(
        "[method]descriptor.rename-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, old, new_fd, new): (Resource<Descriptor>, String, Resource<Descriptor>, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let target = format!("{} -> {}", state.fs_paths.join(fd.rep(), &old), state.fs_paths.join(new_fd.rep(), &new));
                if state_dir(state, &fd).is_some() != state_dir(state, &new_fd).is_some() {
                    return Ok((Err(refuse_cross_state(state, "rename", &target)),));
                }
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
                let in_state = state_dir(state, &fd);
                if in_state.is_some() != state_dir(state, &new_fd).is_some() {
                    return Ok((Err(refuse_cross_state(state, "hard link", &target)),));
                }
                state.disk.charge_create()?;
                if in_state.is_some()
                    && let Ok(stat) = HostDescriptor::stat_at(
                        &mut state.filesystem(),
                        again(&fd),
                        flags,
                        old.clone(),
                    )
                    .await
                {
                    // Another name for a file adds its size to {state}.
                    state.disk.charge_write(0, stat.size)?;
                }
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
                state.disk.charge_create()?;
                let result =
                    HostDescriptor::symlink_at(&mut state.filesystem(), fd, old, new).await;
                let result = convert(state, result)?;
                record(state, "symlink", &target, &result, true);
                Ok((result,))
            })
        },
    )?;
    add_write_shadows(&mut types)?;
    super::listing::add_to_linker(&mut types)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The operations that write to a file or change it: each is charged to
/// the disk budget, and in `{state}` never reaches a shared inode.
fn add_write_shadows(
    types: &mut wasmtime::component::LinkerInstance<'_, InvocationState>,
) -> wasmtime::Result<()> {
    types.func_wrap_async(
        "[method]descriptor.write",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, buf, offset): (Resource<Descriptor>, Vec<u8>, u64)| {
            Box::new(async move {
                let state = store.data_mut();
                let len = buf.len() as u64;
                // A write past the end also costs the gap it leaves: the
                // file system may allocate a block for every byte written
                // sparsely, so the gap is charged as if written.
                let (cost, grows) = match file_of(state, &fd) {
                    Some((file, kind)) => {
                        let end =
                            growth(offset, len, file.metadata().map(|m| m.len()).unwrap_or(0));
                        (len.max(end), if kind.is_some() { end } else { 0 })
                    }
                    None => (len, 0),
                };
                state.disk.charge_write(cost, grows)?;
                let result = HostDescriptor::write(&mut state.filesystem(), fd, buf, offset).await;
                Ok((convert(state, result)?,))
            })
        },
    )?;

    /// `write-via-stream` and `append-via-stream`: the stream is wrapped so
    /// that every byte written through it is charged.
    macro_rules! stream_op {
        ($name:literal, ($($arg:ident: $ty:ty),*), $call:expr, $position:expr) => {
            types.func_wrap_async(
                $name,
                |mut store: StoreContextMut<'_, InvocationState>,
                 (fd, $($arg,)*): (Resource<Descriptor>, $($ty,)*)| {
                    Box::new(async move {
                        let state = store.data_mut();
                        let file = file_of(state, &fd);
                        let result = $call(&mut state.filesystem(), fd $(, $arg)*);
                        let stream = match convert(state, result)? {
                            Ok(stream) => stream,
                            Err(code) => return Ok((Err(code),)),
                        };
                        let inner: DynOutputStream = state.table.delete(stream)?;
                        let metered: DynOutputStream = Box::new(MeteredStream::new(
                            inner,
                            state.disk.clone(),
                            file.map(|(f, kind)| (f, kind.is_some())),
                            $position,
                        ));
                        let stream = state.table.push(metered)?;
                        let table = &state.table;
                        state.disk.record_stream(stream.rep(), |rep| {
                            table.get(&Resource::<DynOutputStream>::new_borrow(rep)).is_ok()
                        });
                        Ok((Ok(stream),))
                    })
                },
            )?;
        };
    }
    stream_op!(
        "[method]descriptor.write-via-stream",
        (offset: u64),
        HostDescriptor::write_via_stream,
        Some(offset)
    );
    stream_op!(
        "[method]descriptor.append-via-stream",
        (),
        HostDescriptor::append_via_stream,
        None
    );

    types.func_wrap_async(
        "[method]descriptor.set-size",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, size): (Resource<Descriptor>, u64)| {
            Box::new(async move {
                let state = store.data_mut();
                // Growing a file by set-size leaves a gap the file system
                // may fill later: it is charged as written, in every grant.
                if let Some((file, kind)) = file_of(state, &fd) {
                    let now = file.metadata().map(|m| m.len()).unwrap_or(0);
                    let grows = size.saturating_sub(now);
                    state
                        .disk
                        .charge_write(grows, if kind.is_some() { grows } else { 0 })?;
                }
                let result = HostDescriptor::set_size(&mut state.filesystem(), fd, size).await;
                Ok((convert(state, result)?,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.set-times-at",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, path_flags, path, atime, mtime): (
            Resource<Descriptor>,
            PathFlags,
            String,
            NewTimestamp,
            NewTimestamp,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let target = state.fs_paths.join(fd.rep(), &path);
                let in_state = state_dir(state, &fd);
                let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
                if let Err(code) = unshare(state, in_state.as_ref(), &path, follow, &target)? {
                    return Ok((Err(code),));
                }
                let result = HostDescriptor::set_times_at(
                    &mut state.filesystem(),
                    fd,
                    path_flags,
                    path,
                    atime,
                    mtime,
                )
                .await;
                let result = convert(state, result)?;
                record(state, "set times", &target, &result, true);
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.set-times",
        |mut store: StoreContextMut<'_, InvocationState>,
         (fd, atime, mtime): (Resource<Descriptor>, NewTimestamp, NewTimestamp)| {
            Box::new(async move {
                let state = store.data_mut();
                // A file opened only for reading in {state} may share its
                // inode with the committed version, or did when it was
                // opened (a later write elsewhere breaks the link, not this
                // handle's inode): its times are never ours to set.
                if let Some((_, Some(InState::ReadOnly))) = file_of(state, &fd) {
                    let target = state.fs_paths.label(fd.rep());
                    state.audit.record(
                        AuditKind::File,
                        &target,
                        Decision::Deny,
                        "set times: the file was opened read-only in {state}; open it for writing to change its times",
                        None,
                    );
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let result =
                    HostDescriptor::set_times(&mut state.filesystem(), fd, atime, mtime).await;
                Ok((convert(state, result)?,))
            })
        },
    )?;
    Ok(())
}

/// Waits for the writes still in flight on the file streams the guest left
/// open (with `RuntimeConfig::blocking_file_io` off, a stream's write runs
/// on a background thread and would otherwise land after `{state}` was
/// committed, or be cancelled half-done). Called when the guest has
/// returned; closes those streams.
pub(crate) async fn settle_streams(state: &mut InvocationState) {
    // WASI 0.3 writes handed to a background thread (see `file_audit_p3`).
    state.disk.settle_writes().await;
    for rep in state.disk.take_streams() {
        if let Ok(mut stream) = state
            .table
            .delete::<DynOutputStream>(Resource::new_own(rep))
        {
            // A file stream is ready once its write has landed.
            stream.ready().await;
            stream.cancel().await;
        }
    }
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
        let (_, change) = judge::<()>(&Err(ErrorCode::NotPermitted), true);
        assert!(change.starts_with("the folder is read-only"), "{change}");
        let (_, read) = judge::<()>(&Err(ErrorCode::NotPermitted), false);
        assert!(read.starts_with("the path leaves"), "{read}");
    }

    #[test]
    fn descriptor_paths_join_under_their_preopen() {
        let mut paths = DescriptorPaths::default();
        paths.0.insert(3, "/notes".into());
        assert_eq!(paths.join(3, "a.md"), "/notes/a.md");
        assert_eq!(paths.join(9, "a.md"), "a.md");
    }
}
