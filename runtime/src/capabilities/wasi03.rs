//! WASI 0.3 (async component model) interfaces for skills: the same base
//! set as WASI 0.2 (stdio, environment, clocks, random, a filesystem that
//! reaches only granted folders), from wasmtime-wasi's own p3
//! implementation, over the same store data, so grants, the environment
//! filter, captured output, the memory limiter and the deadline apply alike.
//!
//! The filesystem operations that open, create, write, grow, move or link
//! are shadowed by [`super::file_audit_p3`]: audited like WASI 0.2's, charged
//! to the disk limits before they reach the disk, and kept from changing a
//! committed `{state}` file in place.
//!
//! Not linked: `wasi:sockets@0.3` (never granted, refused at load). The
//! WASI 0.3 HTTP client is linked with a `network` grant by
//! [`super::http_p3`], through the same policy as WASI 0.2's.

use wasmtime::StoreContextMut;
use wasmtime::component::Linker;
use wasmtime_wasi::filesystem::Descriptor;

use crate::invocation::state::InvocationState;

/// The WASI 0.3 preopens interface, whose `get-directories` is replaced.
const PREOPENS: &str = "wasi:filesystem/preopens@0.3.0";
/// The WASI 0.3 filesystem types, whose changing operations are shadowed.
const TYPES: &str = "wasi:filesystem/types@0.3.0";

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
/// own `get-directories` (the guest gets the folders this invocation's
/// grants opened and checked; the WASI context itself holds none) and the
/// shadows of [`super::file_audit_p3`].
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
    super::file_audit_p3::add_to_linker(&mut linker.instance(TYPES)?)?;
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
