//! The WASI 0.3 HTTP client (`wasi:http/client@0.3.0` and its
//! `wasi:http/types@0.3.0`), linked only with a `network` grant and only on
//! the engine with the async component model.
//!
//! wasmtime-wasi-http's p3 client hands every request it builds to the same
//! [`wasmtime_wasi_http::WasiHttpHooks::send_request`] as the WASI 0.2
//! client, and this runtime's hooks are [`super::http::HttpPolicy`]: a WASI
//! 0.3 request passes exactly the same steps (authorise, resolve, send,
//! wrap), so the same URL grants and methods, special-address and user-info
//! refusals, secrets and their placeholders, scrubbing, request/response limits, connection cap,
//! deadline, audit and provenance apply. Headers are filtered by the same
//! hooks too (a guest cannot set `Host` or hop-by-hop headers).

use wasmtime::component::Linker;

use crate::invocation::state::InvocationState;

/// The WASI 0.3 HTTP interfaces this module links. Any other `wasi:http`
/// 0.3 import (the server side, a release candidate) is refused at load.
pub(crate) const INTERFACES: [&str; 2] = ["wasi:http/types@0.3.0", "wasi:http/client@0.3.0"];

/// Links the WASI 0.3 HTTP client over the invocation's HTTP view (its
/// hooks are the invocation's [`super::http::HttpPolicy`]).
pub(crate) fn add_to_linker(linker: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p3::add_to_linker(linker)
}
