//! Preparing one invocation: the grants and limits it runs with, the
//! checks that refuse it before anything runs, its audit, output and
//! `{state}`, a slot in the pool, and a store holding all of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::SemaphorePermit;
use wasmtime::Store;

use super::output::{CapturedOutput, OutputBudget};
use super::state::InvocationState;
use super::{
    Call, Invocation, STDERR_KEEP, WasiInputs, begin_state, disk_accounting,
    effective_grants_and_limits, refuse_workspace_over_state, resolve, resolve_secrets,
    self_modification, wasi_context,
};
use crate::audit::AuditRecorder;
use crate::capabilities::Grants;
use crate::capabilities::channels::{ChannelState, MemoryChannels};
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::limits::{
    LimitFlag, LimitKind, Limits, MAX_COMPONENT_HANDLES, MAX_HTTP_FIELDS_BYTES,
    MAX_RESOURCE_HANDLES, MemoryLimiter, transfer_budget,
};
use crate::capabilities::secrets::Scrubber;
use crate::capabilities::state::StateView;
use crate::capabilities::state_origins;
use crate::error::InvokeError;
use crate::invocation::Failure;
use crate::provenance::Provenance;
use crate::skill::SkillInner;

/// What the phases of one invocation share once it is prepared.
pub(super) struct Context<'a> {
    pub skill: &'a SkillInner,
    pub name: Arc<str>,
    pub command_name: String,
    pub grants: Grants,
    pub limits: Limits,
    pub audit: AuditRecorder,
    pub budget: Arc<OutputBudget>,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    pub scrubber: Scrubber,
    pub state_view: Option<StateView>,
    pub limit_flag: LimitFlag,
    pub provenance: Provenance,
    /// The pool slot, held until the outcome is made.
    pub slot: Option<SemaphorePermit<'a>>,
    /// When the store was made: the start of the timeout and of wall time.
    pub started: Instant,
}

impl Context<'_> {
    /// The failure for running into `kind`, naming the limit and how to raise it.
    pub fn fail_limit(&self, kind: LimitKind) -> Failure {
        Failure::Limit {
            kind,
            message: super::ending::limit_message(&self.name, kind, &self.limits),
        }
    }
}

/// Checks and sets up one invocation of `skill`: `Err` when it cannot start.
pub(super) async fn prepare<'a>(
    skill: &'a SkillInner,
    request: Invocation,
    id: u64,
) -> Result<(Context<'a>, Store<InvocationState>, Call), InvokeError> {
    let name = skill.name.clone();
    let (grants, limits) = effective_grants_and_limits(skill, &request)?;
    self_modification::check(
        &name,
        &skill.package.root,
        &grants,
        request.workspace.as_deref(),
        Some(skill.state.root()),
    )?;
    let (command_name, call) = resolve(skill, &request)?;

    let (secrets, scrubber) = resolve_secrets(&grants, request.secrets.as_deref());
    let mut audit = AuditRecorder::new(name.clone(), id, request.audit_sink.clone());
    audit.scrub_with(scrubber.clone());
    let budget = OutputBudget::new(limits.output.0);
    let keep_stdout = usize::try_from(limits.output.0).unwrap_or(usize::MAX);
    let stdout = CapturedOutput::new(budget.clone(), keep_stdout);
    let stderr = CapturedOutput::new(budget.clone(), STDERR_KEEP);
    let stdin = matches!(call, Call::Cli).then(|| {
        if crate::script_runtime::is_script(&skill.manifest) {
            crate::script_runtime::stdin(&request.input)
        } else {
            serde_json::to_vec(&request.input).unwrap_or_default()
        }
    });
    refuse_workspace_over_state(skill, &grants, request.workspace.as_deref())?;
    // A writer waits for its turn on the state before it takes a pool slot,
    // so queued writers never hold slots other skills could use.
    let state_view = begin_state(skill, &grants, &limits, id).await?;
    // The semaphore is never closed; a slot is held until the outcome is made.
    let slot = skill.slots.acquire().await.ok();
    let state_dir = state_view
        .as_ref()
        .map_or_else(PathBuf::new, |s| s.dir.clone());
    let inputs = WasiInputs {
        grants: &grants,
        command: &command_name,
        stdin,
        stdout: &stdout,
        stderr: &stderr,
        state_dir: &state_dir,
        secrets: &secrets,
    };
    let (wasi, preopens) = wasi_context(skill, &request, inputs, &audit)?;

    let limit_flag = LimitFlag::default();
    let (disk, state_tree) = disk_accounting(
        &grants,
        &limits,
        state_view.as_ref(),
        &preopens,
        &limit_flag,
    );
    let provenance = Provenance::default();
    // Data read from {state} carries the origins of whatever wrote it.
    if state_view.is_some() {
        let inherited =
            state_origins::read(skill.state.root()).map_err(|e| InvokeError::Preopen {
                skill: name.to_string(),
                guest: "{state}".into(),
                host: skill.state.root().display().to_string(),
                reason: format!("cannot read the provenance of its state: {e}"),
            })?;
        provenance.inherit(inherited);
    }
    let started = Instant::now();
    let state = InvocationState {
        skill: name.clone(),
        wasi,
        table: {
            let mut table = wasmtime::component::ResourceTable::new();
            table.set_max_capacity(MAX_RESOURCE_HANDLES);
            table
        },
        limiter: MemoryLimiter::new(limits.memory),
        audit: audit.clone(),
        output: budget.clone(),
        channels: ChannelState {
            grants: grants.channels.clone(),
            handler: request
                .channels
                .clone()
                .unwrap_or_else(|| Arc::new(MemoryChannels::new())),
            scrubber: scrubber.clone(),
        },
        http_ctx: {
            let mut ctx = wasmtime_wasi_http::WasiHttpCtx::new();
            ctx.set_field_size_limit(MAX_HTTP_FIELDS_BYTES);
            ctx
        },
        http: HttpPolicy {
            skill: name.clone(),
            grants: grants.network.clone().into(),
            max_requests: limits.http_requests,
            max_response: limits.http_response.0,
            max_request_body: limits.http_request_body.0,
            sent: Arc::default(),
            deadline: started + limits.timeout.0,
            audit: audit.clone(),
            limit: limit_flag.clone(),
            provenance: provenance.clone(),
            secrets: secrets.into(),
            scrubber: scrubber.clone(),
            overrides: request.overrides.clone().into(),
            connections: Default::default(),
        },
        provenance: provenance.clone(),
        fs_paths: Default::default(),
        preopens,
        disk,
        state_tree,
        max_descriptors: skill.max_descriptors,
        listings: crate::capabilities::listing::Listings::new(
            skill.state.clone(),
            skill.blocking_file_io,
        ),
    };
    let mut store = Store::new(skill.component.engine(), state);
    store.limiter(|s| &mut s.limiter);
    store.set_hostcall_fuel(transfer_budget(limits.output));
    store.set_max_component_handles(MAX_COMPONENT_HANDLES);
    store.set_epoch_deadline(crate::runtime::epoch_ticks(limits.timeout.0));
    store.epoch_deadline_trap();
    let context = Context {
        skill,
        name,
        command_name,
        grants,
        limits,
        audit,
        budget,
        stdout,
        stderr,
        scrubber,
        state_view,
        limit_flag,
        provenance,
        slot,
        started,
    };
    Ok((context, store, call))
}
