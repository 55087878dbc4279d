//! WASI 0.3 (async component model) interfaces for skills: the same base
//! set as WASI 0.2 (stdio, environment, clocks, random, a filesystem that
//! reaches only granted folders), from wasmtime-wasi's own p3
//! implementation, over the same store data, so grants, the environment
//! filter, captured output, the memory limiter and the deadline apply alike.
//!
//! Opening a path (`open-at`: every read, write, create and truncate) is
//! audited like WASI 0.2's, escapes and writes to read-only grants as
//! denials; the other path operations are confined the same way but not
//! audited one by one.
//!
//! Not linked: `wasi:sockets@0.3` (never granted, refused at load). The
//! WASI 0.3 HTTP client is linked with a `network` grant by
//! [`super::http_p3`], through the same policy as WASI 0.2's.

use wasmtime::StoreContextMut;
use wasmtime::component::{Accessor, Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p3::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptorWithStore, OpenFlags, PathFlags,
};

use crate::audit::{AuditKind, Decision};
use crate::invocation::state::InvocationState;

/// The WASI 0.3 preopens interface, whose `get-directories` is replaced.
const PREOPENS: &str = "wasi:filesystem/preopens@0.3.0";
/// The WASI 0.3 filesystem types, whose `open-at` is audited.
const TYPES: &str = "wasi:filesystem/types@0.3.0";

/// The decision and reason for an `open-at` result.
fn judge(result: &Result<Resource<Descriptor>, ErrorCode>, write: bool) -> (Decision, String) {
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

/// Why a WASI 0.3 import is refused at load, if it is.
pub(crate) fn refused(name: &str) -> Option<&'static str> {
    let package = name.split('/').next().unwrap_or(name);
    match package {
        "wasi:http" if !super::http_p3::INTERFACES.contains(&name) => Some(
            "of WASI 0.3 HTTP this runtime links only the client side, wasi:http/types@0.3.0 and wasi:http/client@0.3.0 (under a [capabilities].network grant); build the skill against those (a skill does not serve HTTP)",
        ),
        "wasi:sockets" => Some(
            "raw sockets are never granted to skills; make HTTP requests through wasi:http with a [capabilities].network grant",
        ),
        _ => None,
    }
}

/// Links WASI 0.3 cli, clocks, random and filesystem, with the runtime's
/// own `get-directories`: the guest gets the folders this invocation's
/// grants opened and checked (the WASI context itself holds none).
pub(crate) fn add_to_linker(linker: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p3::cli::add_to_linker(linker)?;
    wasmtime_wasi::p3::clocks::add_to_linker(linker)?;
    wasmtime_wasi::p3::random::add_to_linker(linker)?;
    wasmtime_wasi::p3::filesystem::add_to_linker(linker)?;
    linker.allow_shadowing(true);
    linker.instance(PREOPENS)?.func_wrap(
        "get-directories",
        |mut store: StoreContextMut<'_, InvocationState>, (): ()| {
            let state = store.data_mut();
            let mut dirs = Vec::with_capacity(state.preopens.len());
            for (dir, guest) in &state.preopens {
                let fd = state.table.push(Descriptor::Dir(dir.clone()))?;
                state.fs_paths.set_label(fd.rep(), guest.clone());
                dirs.push((fd, guest.clone()));
            }
            Ok((dirs,))
        },
    )?;
    linker.instance(TYPES)?.func_wrap_concurrent(
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
                let target = accessor.with(|mut store| store.get().fs_paths.join(fd.rep(), &path));
                // The same share of the runtime's descriptor budget as WASI
                // 0.2 opens (an over-budget open is audited there).
                let over_budget = accessor.with(|mut store| {
                    crate::capabilities::file_audit::within_budget(store.get(), "open", &target)
                        .is_err()
                });
                if over_budget {
                    return Ok((Err(ErrorCode::Quota),));
                }
                let fs = accessor.with_getter::<WasiFilesystem>(
                    <InvocationState as WasiFilesystemView>::filesystem,
                );
                let result = <WasiFilesystem as HostDescriptorWithStore<InvocationState>>::open_at(
                    &fs, fd, path_flags, path, oflags, flags,
                )
                .await;
                let result = match result {
                    Ok(new) => Ok(new),
                    Err(e) => Err(e.downcast()?),
                };
                let (decision, reason) = judge(&result, write);
                let op = if write { "open for writing" } else { "open" };
                accessor.with(|mut store| {
                    let state = store.get();
                    if let Ok(new) = &result {
                        state.fs_paths.set_label(new.rep(), target.clone());
                    }
                    state.audit.record(
                        AuditKind::File,
                        &target,
                        decision,
                        &format!("{op}: {reason}"),
                        None,
                    );
                });
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
    fn http_servers_and_sockets_are_refused_other_packages_are_not() {
        assert!(refused("wasi:http/handler@0.3.0-rc-2025-09-16").is_some());
        assert!(refused("wasi:http/handler@0.3.0").is_some());
        assert!(refused("wasi:http/types@0.3.0-rc-2025-09-16").is_some());
        assert!(refused("wasi:http/types@0.3.0").is_none());
        assert!(refused("wasi:http/client@0.3.0").is_none());
        assert!(refused("wasi:sockets/types@0.3.0").is_some());
        assert!(refused("wasi:filesystem/types@0.3.0").is_none());
        assert!(refused("wasi:cli/stdout@0.3.0").is_none());
    }
}
