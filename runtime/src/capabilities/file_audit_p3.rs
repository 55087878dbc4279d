//! The WASI 0.3 filesystem shadows: what `file_audit` does for WASI 0.2,
//! over wasmtime-wasi's own p3 filesystem. Each shadow checks, charges and
//! audits, then calls wasmtime-wasi's implementation (which confines every
//! path to its preopen), except the two stream writes, which the runtime
//! carries out itself so that every byte is charged before it is written.
//!
//! - Disk limits (see `disk`): `open-at` with `create` (of a file that is
//!   not there yet), `create-directory-at`, `symlink-at` and `link-at` are
//!   charged to `limits.disk-files`; the bytes of `write-via-stream` and
//!   `append-via-stream` (and the gap a write past a file's end leaves) and
//!   the growth of `set-size` to `limits.disk-write`, and in `{state}` to
//!   `limits.state-size`, all before they reach the disk. Going past one
//!   traps the guest and the invocation reports the limit.
//! - `{state}` copy-on-write (see `state`): a shared file gets its own inode
//!   before it is opened for writing or truncated, or has its times set by
//!   path; times are never set through a descriptor opened read-only in
//!   `{state}`; nothing is renamed or linked between `{state}` and another
//!   grant. Descriptors opened through a `{state}` folder are tracked in the
//!   invocation's `StateTree`, as WASI 0.2's are.
//! - Audit: opens (every read, write, create and truncate), folder creation
//!   and removal, deletions, renames, links and times set by path; stat and
//!   readlink are confined the same way but not audited one by one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Accessor, FutureReader, LinkerInstance, Resource, Source, StreamConsumer, StreamReader,
    StreamResult,
};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p3::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptorWithStore, NewTimestamp, OpenFlags, PathFlags,
};
use wasmtime_wasi::p3::filesystem::FilesystemResult;

use super::disk::{DiskBudget, InState, WriteMeter};
use super::file_audit::{
    Ended, again, file_of, give_own_copy, record_cross_state, state_dir, verdict, within_budget,
};
use crate::audit::{AuditKind, Decision};
use crate::invocation::state::InvocationState;

/// The most bytes one write takes from a guest's stream before it is
/// charged and written (wasmtime-wasi's own buffer size for file streams).
const CHUNK: usize = 8192;

/// wasmtime-wasi's WASI 0.3 filesystem over this invocation's store.
fn wasi(accessor: &Accessor<InvocationState>) -> Accessor<InvocationState, WasiFilesystem> {
    accessor.with_getter::<WasiFilesystem>(<InvocationState as WasiFilesystemView>::filesystem)
}

/// wasmtime-wasi's result as the guest sees it; `Err` is a trap.
fn lower<T>(result: FilesystemResult<T>) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(e.downcast()?)),
    }
}

/// The decision and reason for a WASI 0.3 operation's result.
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

/// Shadows the WASI 0.3 filesystem operations that open, create, write,
/// grow, move or link, in `types` (`wasi:filesystem/types@0.3.0`, with
/// shadowing allowed). Call after wasmtime-wasi's p3 filesystem is linked.
pub(crate) fn add_to_linker(
    types: &mut LinkerInstance<'_, InvocationState>,
) -> wasmtime::Result<()> {
    add_open(types)?;
    add_path_ops(types)?;
    add_moves_and_links(types)?;
    add_writes(types)?;
    Ok(())
}

fn add_open(types: &mut LinkerInstance<'_, InvocationState>) -> wasmtime::Result<()> {
    types.func_wrap_concurrent(
        "[method]descriptor.open-at",
        |accessor: &Accessor<InvocationState>,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::pin(async move {
                let write = flags.contains(DescriptorFlags::WRITE)
                    || oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE);
                let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
                type Checked = Result<(String, Option<Arc<std::fs::File>>), ErrorCode>;
                let checked = accessor.with(|mut store| -> wasmtime::Result<Checked> {
                    let state = store.get();
                    let target = state.fs_paths.join(fd.rep(), &path);
                    // The same share of the runtime's descriptor budget as
                    // WASI 0.2 opens (an over-budget open is audited there).
                    if within_budget(state, "open", &target).is_err() {
                        return Ok(Err(ErrorCode::Quota));
                    }
                    let in_state = state_dir(state, &fd);
                    if write && !give_own_copy(state, in_state.as_ref(), &path, follow, &target)? {
                        return Ok(Err(ErrorCode::Io));
                    }
                    Ok(Ok((target, in_state)))
                })?;
                let (target, in_state) = match checked {
                    Ok(checked) => checked,
                    Err(code) => return Ok((Err(code),)),
                };
                let fs = wasi(accessor);
                if oflags.contains(OpenFlags::CREATE) {
                    let exists = !oflags.contains(OpenFlags::EXCLUSIVE)
                        && <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::stat_at(
                            &fs,
                            again(&fd),
                            path_flags,
                            path.clone(),
                        )
                        .await
                        .is_ok();
                    if !exists {
                        accessor.with(|mut store| store.get().disk.charge_create())?;
                    }
                }
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::open_at(
                        &fs, fd, path_flags, path, oflags, flags,
                    )
                    .await,
                )?;
                accessor.with(|mut store| {
                    let state = store.get();
                    if let Ok(new) = &result {
                        state.fs_paths.set_label(new.rep(), target.clone());
                        // A handle opened through a {state} folder is in
                        // {state} for as long as it is open, and only then.
                        if in_state.is_some() {
                            let opened = match state.table.get(new) {
                                Ok(Descriptor::Dir(d)) => Some((d.dir.clone(), InState::Dir)),
                                Ok(Descriptor::File(f)) if write => {
                                    Some((f.file.clone(), InState::Writable))
                                }
                                Ok(Descriptor::File(f)) => {
                                    Some((f.file.clone(), InState::ReadOnly))
                                }
                                Err(_) => None,
                            };
                            if let Some((handle, kind)) = opened {
                                state.state_tree.add(&handle, kind);
                            }
                        }
                    }
                    let op = if write { "open for writing" } else { "open" };
                    record(state, op, &target, &result, write);
                });
                Ok((result,))
            })
        },
    )
}

fn add_path_ops(types: &mut LinkerInstance<'_, InvocationState>) -> wasmtime::Result<()> {
    /// The operations that take one descriptor and one path and change
    /// the folder: audited, and charged to `limits.disk-files` if they
    /// create an entry.
    macro_rules! path_op {
        ($name:literal, $method:ident, $op:literal, $creates:literal) => {
            types.func_wrap_concurrent(
                $name,
                |accessor: &Accessor<InvocationState>,
                 (fd, path): (Resource<Descriptor>, String)| {
                    Box::pin(async move {
                        let target =
                            accessor.with(|mut store| store.get().fs_paths.join(fd.rep(), &path));
                        if $creates {
                            accessor.with(|mut store| store.get().disk.charge_create())?;
                        }
                        let result = lower(
                            <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::$method(
                                &wasi(accessor),
                                fd,
                                path,
                            )
                            .await,
                        )?;
                        accessor.with(|mut store| record(store.get(), $op, &target, &result, true));
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
        false
    );
    path_op!(
        "[method]descriptor.unlink-file-at",
        unlink_file_at,
        "delete",
        false
    );

    types.func_wrap_concurrent(
        "[method]descriptor.symlink-at",
        |accessor: &Accessor<InvocationState>,
         (fd, old, new): (Resource<Descriptor>, String, String)| {
            Box::pin(async move {
                let target = accessor.with(|mut store| {
                    let state = store.get();
                    let target = format!("{} -> {old}", state.fs_paths.join(fd.rep(), &new));
                    state.disk.charge_create().map(|()| target)
                })?;
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::symlink_at(
                        &wasi(accessor),
                        fd,
                        old,
                        new,
                    )
                    .await,
                )?;
                accessor.with(|mut store| record(store.get(), "symlink", &target, &result, true));
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_concurrent(
        "[method]descriptor.set-times-at",
        |accessor: &Accessor<InvocationState>,
         (fd, path_flags, path, atime, mtime): (
            Resource<Descriptor>,
            PathFlags,
            String,
            NewTimestamp,
            NewTimestamp,
        )| {
            Box::pin(async move {
                let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
                let (target, own) = accessor.with(|mut store| -> wasmtime::Result<_> {
                    let state = store.get();
                    let target = state.fs_paths.join(fd.rep(), &path);
                    let in_state = state_dir(state, &fd);
                    let own = give_own_copy(state, in_state.as_ref(), &path, follow, &target)?;
                    Ok((target, own))
                })?;
                if !own {
                    return Ok((Err(ErrorCode::Io),));
                }
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::set_times_at(
                        &wasi(accessor),
                        fd,
                        path_flags,
                        path,
                        atime,
                        mtime,
                    )
                    .await,
                )?;
                accessor.with(|mut store| record(store.get(), "set times", &target, &result, true));
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_concurrent(
        "[method]descriptor.set-times",
        |accessor: &Accessor<InvocationState>,
         (fd, atime, mtime): (Resource<Descriptor>, NewTimestamp, NewTimestamp)| {
            Box::pin(async move {
                // A file opened only for reading in {state} may share its
                // inode with the committed version, or did when it was
                // opened: its times are never ours to set.
                let refused = accessor.with(|mut store| {
                    let state = store.get();
                    if let Some((_, Some(InState::ReadOnly))) = file_of(state, &fd) {
                        let target = state.fs_paths.label(fd.rep());
                        state.audit.record(
                            AuditKind::File,
                            &target,
                            Decision::Deny,
                            "set times: the file was opened read-only in {state}; open it for writing to change its times",
                            None,
                        );
                        return true;
                    }
                    false
                });
                if refused {
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::set_times(
                        &wasi(accessor),
                        fd,
                        atime,
                        mtime,
                    )
                    .await,
                )?;
                Ok((result,))
            })
        },
    )?;
    Ok(())
}

fn add_moves_and_links(types: &mut LinkerInstance<'_, InvocationState>) -> wasmtime::Result<()> {
    types.func_wrap_concurrent(
        "[method]descriptor.rename-at",
        |accessor: &Accessor<InvocationState>,
         (fd, old, new_fd, new): (Resource<Descriptor>, String, Resource<Descriptor>, String)| {
            Box::pin(async move {
                let (target, across) = accessor.with(|mut store| {
                    let state = store.get();
                    let target = format!(
                        "{} -> {}",
                        state.fs_paths.join(fd.rep(), &old),
                        state.fs_paths.join(new_fd.rep(), &new)
                    );
                    let across =
                        state_dir(state, &fd).is_some() != state_dir(state, &new_fd).is_some();
                    if across {
                        record_cross_state(state, "rename", &target);
                    }
                    (target, across)
                });
                if across {
                    return Ok((Err(ErrorCode::CrossDevice),));
                }
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::rename_at(
                        &wasi(accessor),
                        fd,
                        old,
                        new_fd,
                        new,
                    )
                    .await,
                )?;
                accessor.with(|mut store| record(store.get(), "rename", &target, &result, true));
                Ok((result,))
            })
        },
    )?;
    types.func_wrap_concurrent(
        "[method]descriptor.link-at",
        |accessor: &Accessor<InvocationState>,
         (fd, flags, old, new_fd, new): (
            Resource<Descriptor>,
            PathFlags,
            String,
            Resource<Descriptor>,
            String,
        )| {
            Box::pin(async move {
                let checked = accessor.with(|mut store| -> wasmtime::Result<_> {
                    let state = store.get();
                    let target = format!(
                        "{} -> {}",
                        state.fs_paths.join(fd.rep(), &old),
                        state.fs_paths.join(new_fd.rep(), &new)
                    );
                    let in_state = state_dir(state, &fd).is_some();
                    if in_state != state_dir(state, &new_fd).is_some() {
                        record_cross_state(state, "hard link", &target);
                        return Ok(None);
                    }
                    state.disk.charge_create()?;
                    Ok(Some((target, in_state)))
                })?;
                let Some((target, in_state)) = checked else {
                    return Ok((Err(ErrorCode::CrossDevice),));
                };
                let fs = wasi(accessor);
                if in_state
                    && let Ok(stat) =
                        <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::stat_at(
                            &fs,
                            again(&fd),
                            flags,
                            old.clone(),
                        )
                        .await
                {
                    // Another name for a file adds its size to {state}.
                    accessor.with(|mut store| store.get().disk.charge_write(0, stat.size))?;
                }
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::link_at(
                        &fs, fd, flags, old, new_fd, new,
                    )
                    .await,
                )?;
                accessor.with(|mut store| record(store.get(), "hard link", &target, &result, true));
                Ok((result,))
            })
        },
    )?;
    Ok(())
}

fn add_writes(types: &mut LinkerInstance<'_, InvocationState>) -> wasmtime::Result<()> {
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |store: StoreContextMut<'_, InvocationState>,
         (fd, data, offset): (Resource<Descriptor>, StreamReader<u8>, u64)| {
            write_via_stream(store, fd, data, Some(offset))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.append-via-stream",
        |store: StoreContextMut<'_, InvocationState>,
         (fd, data): (Resource<Descriptor>, StreamReader<u8>)| {
            write_via_stream(store, fd, data, None)
        },
    )?;
    types.func_wrap_concurrent(
        "[method]descriptor.set-size",
        |accessor: &Accessor<InvocationState>, (fd, size): (Resource<Descriptor>, u64)| {
            Box::pin(async move {
                // Growing a file by set-size leaves a gap the file system
                // may fill later: it is charged as written, in every grant.
                accessor.with(|mut store| {
                    let state = store.get();
                    match file_of(state, &fd) {
                        Some((file, kind)) => {
                            let now = file.metadata().map(|m| m.len()).unwrap_or(0);
                            let grows = size.saturating_sub(now);
                            state
                                .disk
                                .charge_write(grows, if kind.is_some() { grows } else { 0 })
                        }
                        None => Ok(()),
                    }
                })?;
                let result = lower(
                    <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::set_size(
                        &wasi(accessor),
                        fd,
                        size,
                    )
                    .await,
                )?;
                Ok((result,))
            })
        },
    )?;
    Ok(())
}

/// `write-via-stream` (at `position`) and `append-via-stream` (`None`):
/// the guest's stream goes to a [`StreamWriter`], which charges each chunk
/// before it writes it. Refusals are wasmtime-wasi's, reported the same
/// way (through the returned future).
fn write_via_stream(
    mut store: StoreContextMut<'_, InvocationState>,
    fd: Resource<Descriptor>,
    mut data: StreamReader<u8>,
    position: Option<u64>,
) -> wasmtime::Result<(FutureReader<Result<(), ErrorCode>>,)> {
    let (result_tx, result_rx) = oneshot::channel();
    let state = store.data_mut();
    let file = match state.table.get(&fd)? {
        Descriptor::File(f) if f.perms.write_not_permitted() => Err(ErrorCode::NotPermitted),
        Descriptor::File(f) => Ok(f.file.clone()),
        Descriptor::Dir(_) => Err(ErrorCode::BadDescriptor),
    };
    match file {
        Ok(file) => {
            let in_state = state.state_tree.get(&file).is_some();
            let writer = StreamWriter {
                meter: WriteMeter::new(
                    state.disk.clone(),
                    Some((file.clone(), in_state)),
                    position,
                ),
                budget: state.disk.clone(),
                file,
                blocking: state.listings.blocking(),
                result: Some(result_tx),
                task: None,
            };
            data.pipe(&mut store, writer)?;
        }
        Err(code) => {
            data.close(&mut store)?;
            let _ = result_tx.send(Err(code));
        }
    }
    Ok((FutureReader::new(&mut store, result_rx)?,))
}

/// The consumer of a guest's `stream<u8>` to a file: takes at most [`CHUNK`]
/// bytes at a time, charges them to the invocation's [`DiskBudget`] (with
/// the gap a write past the end leaves) and only then writes them, at the
/// stream's position or at the end. A charge over a limit traps the guest
/// before the chunk reaches the disk, as WASI 0.2's `MeteredStream` does.
///
/// With `RuntimeConfig::blocking_file_io` on, the chunk is written on the
/// executor thread; otherwise on a blocking thread that holds a
/// [`DiskBudget::write_token`], so the invocation waits for it before
/// `{state}` is committed.
struct StreamWriter {
    file: Arc<std::fs::File>,
    meter: WriteMeter,
    budget: DiskBudget,
    blocking: bool,
    /// Where the stream's outcome goes (the future `write-via-stream` returned).
    result: Option<oneshot::Sender<Result<(), ErrorCode>>>,
    /// A chunk being written on a blocking thread, and its length.
    task: Option<(JoinHandle<io::Result<()>>, usize)>,
}

impl StreamWriter {
    fn close(&mut self, result: Result<(), ErrorCode>) {
        if let Some(tx) = self.result.take() {
            let _ = tx.send(result);
        }
    }

    /// What a chunk of `len` bytes, written with `written`, makes of the stream.
    fn written<D: 'static>(
        &mut self,
        src: &mut wasmtime::component::DirectSource<'_, D>,
        written: io::Result<()>,
        len: usize,
    ) -> StreamResult {
        match written {
            Ok(()) => {
                let len = len.min(src.remaining().len());
                src.mark_read(len);
                StreamResult::Completed
            }
            Err(e) => {
                self.close(Err(e.into()));
                StreamResult::Dropped
            }
        }
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        self.close(Ok(()));
    }
}

impl<D: 'static> StreamConsumer<D> for StreamWriter {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        // A chunk handed to a thread cannot be called back, so a cancelled
        // write still waits for it (and then reports it written).
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut src = src.as_direct(store);
        let me = &mut *self;
        if me.task.is_none() {
            let remaining = src.remaining();
            let len = remaining.len().min(CHUNK);
            if len == 0 {
                return Poll::Ready(Ok(StreamResult::Completed));
            }
            let at = me.meter.position();
            if let Err(trap) = me.meter.charge(len as u64) {
                me.close(Err(ErrorCode::Quota));
                return Poll::Ready(Err(trap));
            }
            if me.blocking {
                let written = write_chunk(&me.file, &remaining[..len], at);
                return Poll::Ready(Ok(me.written(&mut src, written, len)));
            }
            let chunk = remaining[..len].to_vec();
            let file = me.file.clone();
            let token = me.budget.write_token();
            let task = tokio::task::spawn_blocking(move || {
                let _landing = token;
                write_chunk(&file, &chunk, at)
            });
            me.task = Some((task, len));
        }
        let Some((task, len)) = me.task.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Completed));
        };
        let len = *len;
        let joined = ready!(Pin::new(task).poll(cx));
        me.task = None;
        let written = joined.unwrap_or_else(|e| Err(io::Error::other(e)));
        Poll::Ready(Ok(me.written(&mut src, written, len)))
    }
}

/// Writes all of `bytes` to `file` at `at`, or at its end when `at` is `None`.
fn write_chunk(file: &std::fs::File, bytes: &[u8], at: Option<u64>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        match at {
            Some(at) => file.write_all_at(bytes, at),
            None => append(file, bytes),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, bytes, at);
        Err(io::Error::other(
            "WASI 0.3 file writes are supported on unix hosts only",
        ))
    }
}

/// Appends all of `bytes` to `file` as one `pwritev2(RWF_APPEND)` per
/// write, as wasmtime-wasi does (the file was not opened for appending);
/// where the kernel lacks it, at the end the file has now.
#[cfg(unix)]
fn append(file: &std::fs::File, mut bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    while !bytes.is_empty() {
        #[cfg(target_os = "linux")]
        {
            use rustix::io::{Errno, ReadWriteFlags, pwritev2};
            match pwritev2(file, &[io::IoSlice::new(bytes)], 0, ReadWriteFlags::APPEND) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bytes = &bytes[n..];
                    continue;
                }
                Err(Errno::NOSYS | Errno::NOTSUP) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let end = file.metadata()?.len();
        let n = file.write_at(bytes, end)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
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
    }

    #[cfg(unix)]
    #[test]
    fn chunks_land_at_their_offset_or_at_the_end() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").expect("write");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        write_chunk(&file, b"J", Some(0)).expect("at 0");
        write_chunk(&file, b", world", None).expect("append");
        assert_eq!(std::fs::read(&path).expect("read"), b"Jello, world");
    }
}
