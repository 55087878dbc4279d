//! One call of a skill's command: a fresh store and instance with exactly
//! the (possibly narrowed) grants, bounded by the limits, and an
//! [`Outcome`] that says how it ended, what it used and what it touched.

mod ending;
mod outcome;
pub(crate) mod output;
pub(crate) mod provenance;
mod request;
mod self_modification;
pub(crate) mod state;

pub use outcome::{Failure, Outcome, Usage};
pub use request::Invocation;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Val;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::capabilities::Grants;
use crate::capabilities::channels::{ChannelState, MemoryChannels};
use crate::capabilities::disk::{DiskBudget, InState, StateTree};
use crate::capabilities::env::visible_env;
use crate::capabilities::files::{Access, HostBase};
use crate::capabilities::folders;
use crate::capabilities::http::{HttpPolicy, ResolvedSecret};
use crate::capabilities::limits::{
    LimitKind, Limits, MAX_COMPONENT_HANDLES, MAX_HTTP_FIELDS_BYTES, MAX_RESOURCE_HANDLES,
    MemoryLimiter, transfer_budget,
};
use crate::capabilities::secrets::{MAX_SECRET_BYTES, Scrubber, SecretSource};
use crate::capabilities::state::{Finished, StateView};
use crate::capabilities::state_origins;
use crate::component::{ComponentKind, values};
use crate::error::InvokeError;
use crate::script_runtime;
use crate::skill::SkillInner;
use ending::{Stopped, classify, cli_result, limit_message, typed_result};
use output::{CapturedOutput, OutputBudget};
use provenance::Provenance;
use state::{InvocationState, LimitFlag};

/// How much of a skill's stderr is kept for the outcome; the rest is
/// counted against `limits.output` and dropped.
const STDERR_KEEP: usize = 64 * 1024;

/// Extra time given to a host call after the deadline before the whole
/// invocation is abandoned (epoch interruption cannot stop a guest that is
/// blocked inside a host call).
const HOST_CALL_GRACE: Duration = Duration::from_millis(200);

enum Call {
    /// The index of the command in the skill's list, and its arguments.
    Typed(usize, Vec<Val>),
    Cli,
}

enum Returned {
    Value(Option<Val>),
    Exited(Result<(), ()>),
}

fn resolve(skill: &SkillInner, request: &Invocation) -> Result<(String, Call), InvokeError> {
    let available = || {
        skill
            .commands
            .iter()
            .map(|c| c.info.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if script_runtime::is_script(&skill.manifest) {
        let command = request.command.as_deref();
        let script = script_runtime::script_path(&skill.package.root, command)
            .map_err(|reason| script_runtime::bad_script(&skill.name, command, reason))?;
        return Ok((script, Call::Cli));
    }
    if skill.kind == ComponentKind::Cli {
        return Ok((
            request.command.clone().unwrap_or_else(|| "main".into()),
            Call::Cli,
        ));
    }
    let index = match &request.command {
        Some(name) => skill
            .commands
            .iter()
            .position(|c| c.info.name == *name || c.info.export == *name)
            .ok_or_else(|| InvokeError::UnknownCommand {
                skill: skill.name.to_string(),
                command: name.clone(),
                available: available(),
            })?,
        None if skill.commands.len() == 1 => 0,
        None => {
            return Err(InvokeError::CommandRequired {
                skill: skill.name.to_string(),
                available: available(),
            });
        }
    };
    let command = &skill.commands[index];
    let bad = |reason: String| InvokeError::BadInput {
        skill: skill.name.to_string(),
        command: command.info.name.clone(),
        reason,
    };
    if !request.args.is_empty() {
        return Err(bad(
            "arguments after `--` are for wasi:cli/command programs; a typed command takes its input as JSON (--input)".into(),
        ));
    }
    if let Some(reason) = &command.info.uncallable {
        return Err(InvokeError::Uncallable {
            skill: skill.name.to_string(),
            command: command.info.name.clone(),
            reason: reason.clone(),
        });
    }
    let object = match &request.input {
        Value::Object(o) => o.clone(),
        Value::Null => Default::default(),
        other if command.params.len() == 1 => {
            // One parameter: the bare value is accepted as a shorthand.
            serde_json::Map::from_iter([(command.params[0].0.clone(), other.clone())])
        }
        _ => {
            return Err(bad(
                "$: expected an object with one key per parameter".into()
            ));
        }
    };
    let Val::Record(fields) = values::record_from_json(
        &object,
        command.params.iter().map(|(n, t)| (n.as_str(), t.clone())),
        "$",
    )
    .map_err(bad)?
    else {
        return Err(bad("$: expected an object".into()));
    };
    let params = fields.into_iter().map(|(_, v)| v).collect();
    Ok((command.info.name.clone(), Call::Typed(index, params)))
}

/// The grants and limits for this call: the manifest's, narrowed and
/// lowered by the host, never widened.
fn effective_grants_and_limits(
    skill: &SkillInner,
    request: &Invocation,
) -> Result<(Grants, Limits), InvokeError> {
    let grants = match &request.grants {
        Some(narrow) => {
            narrow
                .check_within(&skill.manifest.grants)
                .map_err(|entry| InvokeError::WidenedGrant {
                    skill: skill.name.to_string(),
                    entry,
                })?;
            narrow.clone()
        }
        None => skill.manifest.grants.clone(),
    };
    if grants
        .files
        .iter()
        .any(|f| f.host.base == HostBase::Workspace)
        && request.workspace.is_none()
    {
        return Err(InvokeError::NoWorkspace {
            skill: skill.name.to_string(),
        });
    }
    let limits = request
        .limits
        .map_or(skill.limits, |l| skill.limits.min(&l));
    Ok((grants, limits))
}

/// What one invocation's WASI context is made of, besides the skill and the request.
struct WasiInputs<'a> {
    grants: &'a Grants,
    command: &'a str,
    /// The input JSON, for a `wasi:cli/command`.
    stdin: Option<Vec<u8>>,
    stdout: &'a CapturedOutput,
    stderr: &'a CapturedOutput,
    /// The folder backing `{state}` grants for this call.
    state_dir: &'a Path,
}

/// The WASI context (arguments `[skill, command]`, the granted environment,
/// captured stdout and stderr, and stdin for a `wasi:cli/command`) and the
/// granted folders, which the runtime's own `get-directories` hands out.
/// Each granted variable and folder is audited.
fn wasi_context(
    skill: &SkillInner,
    request: &Invocation,
    inputs: WasiInputs<'_>,
    audit: &AuditRecorder,
) -> Result<(wasmtime_wasi::WasiCtx, Vec<(Dir, String)>), InvokeError> {
    let WasiInputs {
        grants,
        command,
        stdin,
        stdout,
        stderr,
        state_dir,
    } = inputs;
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_blocking_current_thread(skill.blocking_file_io);
    let script = script_runtime::is_script(&skill.manifest);
    if script {
        // The runner runs argv[1]; the script sees [argv[1], ARG...].
        let script_path = script_runtime::guest_script(command);
        builder.args(&[skill.name.as_ref(), script_path.as_str()]);
        builder.initial_cwd(script_runtime::working_folder(grants));
    } else {
        builder.args(&[skill.name.as_ref(), command]);
    }
    builder.args(&request.args);
    if let Some(input) = stdin {
        builder.stdin(MemoryInputPipe::new(input));
    }
    for granted in &grants.env {
        let reason = if request.env.contains_key(granted.as_str()) {
            "granted in [capabilities].env; passed through"
        } else {
            "granted in [capabilities].env; the host does not set it"
        };
        audit.record(
            AuditKind::Env,
            granted.as_str(),
            Decision::Allow,
            reason,
            None,
        );
    }
    builder.envs(&visible_env(&grants.env, &request.env));
    let bases = folders::Bases {
        state: state_dir,
        workspace: request.workspace.as_deref(),
        blocking: skill.blocking_file_io,
    };
    let mut preopens = folders::open_grants(&skill.folders, &grants.files, &bases).map_err(
        |(grant, reason)| InvokeError::Preopen {
            skill: skill.name.to_string(),
            guest: grant.guest.to_string(),
            host: grant.host.to_string(),
            reason,
        },
    )?;
    if script {
        // After the grants, so each grant keeps its index among the preopens.
        let package = script_runtime::package_preopen(&skill.package.root, skill.blocking_file_io)
            .map_err(|reason| InvokeError::Preopen {
                skill: skill.name.to_string(),
                guest: script_runtime::PACKAGE_GUEST_PATH.into(),
                host: skill.package.root.display().to_string(),
                reason,
            })?;
        preopens.push(package);
    }
    for grant in &grants.files {
        let reason = format!("granted {} on {}", grant.access, grant.host);
        audit.record(
            AuditKind::File,
            grant.guest.as_str(),
            Decision::Allow,
            &reason,
            None,
        );
    }
    Ok((builder.build(), preopens))
}

/// Refuses a `{workspace}` grant whose folder overlaps the runtime's state root.
fn refuse_workspace_over_state(
    skill: &SkillInner,
    grants: &Grants,
    workspace: Option<&std::path::Path>,
) -> Result<(), InvokeError> {
    let Some(workspace) = workspace else {
        return Ok(());
    };
    for grant in grants
        .files
        .iter()
        .filter(|f| f.host.base == HostBase::Workspace)
    {
        let mut folder = workspace.to_path_buf();
        folder.extend(&grant.host.relative);
        if skill.state.overlaps(&folder) {
            return Err(InvokeError::Preopen {
                skill: skill.name.to_string(),
                guest: grant.guest.to_string(),
                host: grant.host.to_string(),
                reason: format!(
                    "{} overlaps the runtime's state folder; give a workspace outside it",
                    folder.display()
                ),
            });
        }
    }
    Ok(())
}

/// The `{state}` folder for this call, if any grant uses it: the committed
/// folder for readers, a private copy for writers.
async fn begin_state(
    skill: &SkillInner,
    grants: &Grants,
    limits: &Limits,
    id: u64,
) -> Result<Option<StateView>, InvokeError> {
    let state_grants: Vec<_> = grants
        .files
        .iter()
        .filter(|f| f.host.base == HostBase::State)
        .collect();
    let Some(first) = state_grants.first() else {
        return Ok(None);
    };
    let writes = state_grants.iter().any(|f| f.access == Access::ReadWrite);
    skill
        .state
        .begin(id, writes, limits)
        .await
        .map(Some)
        .map_err(|e| InvokeError::Preopen {
            skill: skill.name.to_string(),
            guest: first.guest.to_string(),
            host: first.host.to_string(),
            reason: format!("cannot prepare the skill's state folder: {e}"),
        })
}

/// The disk budget for this call, and the folders of its writable `{state}`
/// copy (each `{state}` grant's preopened folder), by open handle.
fn disk_accounting(
    grants: &Grants,
    limits: &Limits,
    view: Option<&StateView>,
    preopens: &[(Dir, String)],
    flag: &LimitFlag,
) -> (DiskBudget, StateTree) {
    let Some(view) = view.filter(|v| v.is_writer()) else {
        return (
            DiskBudget::new(limits, None, 0, flag.clone()),
            StateTree::default(),
        );
    };
    let mut tree = StateTree::default();
    for (grant, (dir, _)) in grants.files.iter().zip(preopens) {
        if grant.host.base == HostBase::State {
            tree.add(&dir.dir, InState::Dir);
        }
    }
    let budget = DiskBudget::new(limits, Some(view.dir.clone()), view.size, flag.clone());
    (budget, tree)
}

/// The declared secrets with the host's values (only declared names are
/// asked for), and a scrubber for those values. Values under 4 bytes are
/// not used (scrubbing them would mangle ordinary output), nor values over
/// 4 KiB (no header holds one).
fn resolve_secrets(
    grants: &Grants,
    source: Option<&dyn SecretSource>,
) -> (Vec<ResolvedSecret>, Scrubber) {
    let secrets: Vec<ResolvedSecret> = grants
        .secrets
        .iter()
        .map(|grant| ResolvedSecret {
            value: source
                .and_then(|s| s.secret(grant.name.as_str()))
                .filter(|v| (4..=MAX_SECRET_BYTES).contains(&v.len())),
            grant: grant.clone(),
        })
        .collect();
    let scrubber = Scrubber::new(secrets.iter().filter_map(|s| s.value.clone()).collect());
    (secrets, scrubber)
}

/// Runs one invocation of `skill`.
pub(crate) async fn run(
    skill: &SkillInner,
    request: Invocation,
    id: u64,
) -> Result<Outcome, InvokeError> {
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
    let script = script_runtime::is_script(&skill.manifest);
    let stdin = matches!(call, Call::Cli).then(|| {
        if script {
            script_runtime::stdin(&request.input)
        } else {
            serde_json::to_vec(&request.input).unwrap_or_default()
        }
    });
    refuse_workspace_over_state(skill, &grants, request.workspace.as_deref())?;
    // A writer waits for its turn on the state before it takes a pool slot,
    // so queued writers never hold slots other skills could use.
    let state_view = begin_state(skill, &grants, &limits, id).await?;
    // The semaphore is never closed; a slot is held until the outcome is made.
    let _slot = skill.slots.acquire().await.ok();
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

    let call_and_keep_store = async {
        let returned = call_component(&mut store, skill, call).await;
        (store, returned)
    };
    let finished =
        tokio::time::timeout(limits.timeout.0 + HOST_CALL_GRACE, call_and_keep_store).await;
    let wall_time = started.elapsed();

    let fail_limit = |kind: LimitKind| Failure::Limit {
        kind,
        message: limit_message(&name, kind, &limits),
    };
    let (peak_memory, mut result) = match finished {
        Err(_elapsed) => (0, Err(fail_limit(LimitKind::Timeout))),
        Ok((mut store, returned)) => {
            crate::capabilities::file_audit::settle_streams(store.data_mut()).await;
            let peak = store.data().limiter.peak() as u64;
            let hit = store.data().limiter.hit;
            let result = match returned {
                Ok(Returned::Value(value)) => typed_result(&name, &command_name, value, &budget),
                Ok(Returned::Exited(Ok(()))) => Ok(cli_result(&stdout)),
                Ok(Returned::Exited(Err(()))) => Err(Stopped::Failed(Failure::SkillError {
                    message: format!("skill `{name}` command `{command_name}` returned an error"),
                    value: None,
                })),
                Err(error)
                    if error
                        .downcast_ref::<wasmtime_wasi::I32Exit>()
                        .is_some_and(|e| e.0 == 0) =>
                {
                    Ok(cli_result(&stdout))
                }
                Err(error)
                    if script && error.downcast_ref::<wasmtime_wasi::I32Exit>().is_some() =>
                {
                    let status = error
                        .downcast_ref::<wasmtime_wasi::I32Exit>()
                        .map_or(1, |e| e.0);
                    // A MemoryError the script died of is the memory limit.
                    match hit {
                        Some(kind) => Err(Stopped::Limit(kind)),
                        None => Err(Stopped::Failed(script_runtime::exited(
                            &name,
                            &command_name,
                            status,
                        ))),
                    }
                }
                Err(error) => Err(classify(&name, &command_name, &error, hit, &stderr)),
            };
            let result = result.map_err(|stopped| match stopped {
                Stopped::Limit(kind) => fail_limit(kind),
                Stopped::Failed(failure) => failure,
            });
            (peak, result)
        }
    };
    // State changes become visible only when the invocation succeeded and
    // its {state} fits its limits as a whole.
    if let Some(view) = state_view {
        let mut succeeded = result.is_ok() && limit_flag.get().is_none();
        // Record where the data that may now be in the state came from
        // before the state becomes visible (under the writers' lock, which
        // the view still holds, so concurrent writers cannot lose an origin).
        let writes = grants
            .files
            .iter()
            .any(|f| f.host.base == HostBase::State && f.access == Access::ReadWrite);
        if succeeded
            && writes
            && let Err(e) = state_origins::add(skill.state.root(), &provenance.origins())
        {
            let message = format!(
                "skill `{name}` finished but its {{state}} origins could not be saved: {e}"
            );
            audit.record(AuditKind::File, "{state}", Decision::Deny, &message, None);
            result = Err(Failure::Trap { cause: message });
            succeeded = false;
        }
        match skill.state.finish(view, succeeded, limits).await {
            Finished::Committed | Finished::Discarded => {}
            Finished::Over(kind) => limit_flag.set(kind),
            Finished::Failed(e) => {
                let message =
                    format!("skill `{name}` finished but its {{state}} could not be saved: {e}");
                audit.record(AuditKind::File, "{state}", Decision::Deny, &message, None);
                result = Err(Failure::Trap { cause: message });
            }
        }
    }
    if let Some(kind) = limit_flag.get()
        && !matches!(result, Err(Failure::Limit { .. }))
    {
        result = Err(fail_limit(kind));
    }
    if let Err(Failure::Limit { kind, message }) = &result {
        let target = kind.manifest_key().unwrap_or("runtime");
        audit.record(AuditKind::Limit, target, Decision::Deny, message, None);
    }
    // The invocation itself was allowed; how it ended is in the reason. Denials
    // (capabilities, limits) are their own events above.
    let reason = match &result {
        Ok(_) => "completed".to_owned(),
        Err(f) => format!("failed: {}", f.message()),
    };
    audit.record(
        AuditKind::Invoke,
        &command_name,
        Decision::Allow,
        &reason,
        Some(budget.used()),
    );

    let (out_bytes, _) = stdout.contents();
    let (err_bytes, stderr_dropped) = stderr.contents();
    // The skill never saw a secret, but nothing it returns may carry one either.
    let scrub_text = |bytes: &[u8]| scrubber.text(&String::from_utf8_lossy(bytes)).into_owned();
    let result = result
        .map(|v| scrubber.json(v))
        .map_err(|failure| match failure {
            Failure::SkillError { message, value } => Failure::SkillError {
                message: scrubber.text(&message).into_owned(),
                value: value.map(|v| scrubber.json(v)),
            },
            Failure::Trap { cause } => Failure::Trap {
                cause: scrubber.text(&cause).into_owned(),
            },
            limit => limit,
        });
    Ok(Outcome {
        skill: name.to_string(),
        command: command_name,
        stdout: if skill.kind == ComponentKind::Typed || script {
            scrub_text(&out_bytes)
        } else {
            String::new()
        },
        stderr: scrub_text(&err_bytes),
        stderr_dropped,
        result,
        audit: audit.take(),
        usage: Usage {
            wall_time,
            peak_memory,
            output_bytes: budget.used(),
        },
        origins: provenance.origins(),
    })
}

async fn call_component(
    store: &mut Store<InvocationState>,
    skill: &SkillInner,
    call: Call,
) -> wasmtime::Result<Returned> {
    match call {
        Call::Cli if skill.cli03_pre.is_some() => {
            let pre = skill
                .cli03_pre
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("component is not a wasi:cli/command"))?;
            let command = pre.instantiate_async(&mut *store).await?;
            let exited = store
                .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
                .await??;
            Ok(Returned::Exited(exited))
        }
        Call::Cli => {
            let pre = skill
                .cli_pre
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("component is not a wasi:cli/command"))?;
            let command = pre.instantiate_async(&mut *store).await?;
            let exited = command.wasi_cli_run().call_run(&mut *store).await?;
            Ok(Returned::Exited(exited))
        }
        Call::Typed(index, params) => {
            let command = &skill.commands[index];
            let instance = skill.pre.instantiate_async(&mut *store).await?;
            let func = instance
                .get_func(&mut *store, command.index)
                .ok_or_else(|| {
                    wasmtime::format_err!("export `{}` is missing", command.info.export)
                })?;
            let mut results = vec![Val::Bool(false); usize::from(command.result.is_some())];
            func.call_async(&mut *store, &params, &mut results).await?;
            Ok(Returned::Value(results.pop()))
        }
    }
}
