//! The interfaces every skill gets without a grant: stdio and the rest of
//! `wasi:cli`, clocks, random and `wasi:io` (and WASI 0.3's, on the
//! `concurrent` engine). None of them reaches anything outside the
//! invocation: the environment holds only granted names and the
//! filesystem only granted folders (see [`super::files`]).

use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

use super::capability::{Capability, LinkFor};
use crate::invocation::state::InvocationState;

/// The base interfaces, linked for every skill.
pub(crate) struct Base;

impl Capability for Base {
    fn key(&self) -> &'static str {
        "base"
    }

    fn answers(&self, package: &str, _interface: &str) -> bool {
        matches!(
            package,
            "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli"
        )
    }

    fn link(
        &self,
        linker: &mut Linker<InvocationState>,
        for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        link_p2(linker)?;
        if for_.concurrent {
            super::wasi03::add_to_linker(linker)?;
        }
        Ok(())
    }
}

/// Gives `wasi:io` its view of the store: the resource table.
struct HasIo;

impl wasmtime::component::HasData for HasIo {
    type Data<'a> = &'a mut wasmtime::component::ResourceTable;
}

/// wasmtime-wasi's own WASI 0.2 list less `wasi:sockets` (linked
/// separately, every operation denied): a skill's only way out is the HTTP
/// capability. The filesystem is linked here and its path-taking
/// operations shadowed by [`super::files::Files`].
fn link_p2(l: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    type T = InvocationState;
    use wasmtime_wasi_io::bindings::wasi::io as wasi_io;
    wasi_io::error::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi_io::poll::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi_io::streams::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    wasi::clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    wasi::clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    wasi::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasi::filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasi::random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    wasi::cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasi::cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}
