//! The data a store holds for one invocation: WASI context, resource table,
//! limiter, channels, HTTP policy, audit and output budget.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::audit::AuditRecorder;
use crate::capabilities::channels::{ChannelState, ChannelsView};
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::limits::MemoryLimiter;
use crate::invocation::output::OutputBudget;
use crate::provenance::Provenance;

/// Store data for one invocation.
pub(crate) struct InvocationState {
    pub skill: Arc<str>,
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub audit: AuditRecorder,
    pub output: Arc<OutputBudget>,
    pub channels: ChannelState,
    pub http_ctx: WasiHttpCtx,
    pub http: HttpPolicy,
    pub provenance: Provenance,
    pub fs_paths: crate::capabilities::file_audit::DescriptorPaths,
    /// The granted folders and their guest paths, handed out by the
    /// runtime's `get-directories` (the WASI context itself has none).
    pub preopens: Vec<(wasmtime_wasi::filesystem::Dir, String)>,
    /// Bytes written, files created and `{state}` size, charged as they happen.
    pub disk: crate::capabilities::disk::DiskBudget,
    /// The folders and files of a writer's `{state}` copy.
    pub state_tree: crate::capabilities::disk::StateTree,
    /// Files and folders this invocation may hold open at once.
    pub max_descriptors: usize,
    /// Directory listings in progress, streamed.
    pub listings: crate::capabilities::listing::Listings,
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InvocationState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http,
        }
    }
}

impl InvocationState {
    /// The channels capability's view of the store.
    pub(crate) fn channels_view(&mut self) -> ChannelsView<'_> {
        ChannelsView {
            skill: &self.skill,
            channels: &self.channels,
            audit: &self.audit,
            output: &self.output,
            provenance: &self.provenance,
        }
    }
}
