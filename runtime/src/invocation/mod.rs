//! One call of a skill's command: a fresh store and instance with exactly
//! the (possibly narrowed) grants, bounded by the limits, and an
//! [`Outcome`] that says how it ended, what it used and what it touched.

mod ending;
mod finish;
mod outcome;
pub(crate) mod output;
mod prepare;
mod request;
mod self_modification;
pub(crate) mod state;

pub use outcome::{Failure, Outcome, Usage};
pub use request::Invocation;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Val;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::capabilities::Grants;
use crate::capabilities::disk::{DiskBudget, InState, StateTree};
use crate::capabilities::env::visible_env;
use crate::capabilities::files::{Access, HostBase};
use crate::capabilities::folders;
use crate::capabilities::http::ResolvedSecret;
use crate::capabilities::limits::LimitFlag;
use crate::capabilities::limits::{LimitKind, Limits};
use crate::capabilities::placeholders;
use crate::capabilities::secrets::{MAX_SECRET_BYTES, Scrubber, SecretSource};
use crate::capabilities::state::StateView;
use crate::component::{ComponentKind, values};
use crate::error::InvokeError;
use crate::script_runtime;
use crate::skill::SkillInner;
use ending::{Stopped, classify, cli_result, typed_result};
use output::CapturedOutput;
use prepare::Context;
use state::InvocationState;

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

/// Where a script skill's scripts are read from: the copy of its package
/// taken at load (the package folder only if there is none).
fn script_root(skill: &SkillInner) -> &std::path::Path {
    skill
        .script_package
        .as_deref()
        .map_or(skill.package.root.as_path(), |s| s.path())
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
        let script = script_runtime::script_path(script_root(skill), command)
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
            "arguments after `--` are for wasi:cli/command programs; a typed command takes its input as JSON, as the invocation's input".into(),
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
    /// The secrets, with the placeholders of those exposed through the environment.
    secrets: &'a [ResolvedSecret],
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
        secrets,
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
    for secret in secrets.iter().filter(|s| s.grant.exposed_in_env()) {
        let name = secret.grant.name.as_str();
        let reason = match (&secret.placeholder, &secret.value) {
            (Some(placeholder), _) => {
                builder.env(name, placeholder);
                format!(
                    "secret {name} exposed as a placeholder, replaced by its value only in requests for {} (the skill never sees the value)",
                    secret.grant.host
                )
            }
            (None, None) => format!(
                "secret {name} is exposed through the environment, but the host supplied no value; not set"
            ),
            (None, Some(_)) => format!(
                "secret {name} is exposed through the environment, but no placeholder could be made that does not contain its value; not set"
            ),
        };
        audit.record(AuditKind::Env, name, Decision::Allow, &reason, None);
    }
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
        let package = script_runtime::package_preopen(script_root(skill), skill.blocking_file_io)
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
        .map(|grant| {
            let value = source
                .and_then(|s| s.secret(grant.name.as_str()))
                .filter(|v| (4..=MAX_SECRET_BYTES).contains(&v.len()));
            // A fresh placeholder per invocation, only for a value the host has.
            let placeholder = value
                .as_deref()
                .filter(|_| grant.exposed_in_env())
                .and_then(|v| placeholders::new_placeholder(grant.name.as_str(), v));
            ResolvedSecret {
                value,
                placeholder,
                grant: grant.clone(),
            }
        })
        .collect();
    let scrubber = Scrubber::new(secrets.iter().filter_map(|s| s.value.clone()).collect());
    (secrets, scrubber)
}

/// Runs one invocation of `skill`: prepare (checks, grants, store),
/// execute (the call, within its timeout), finish (state, audit, outcome).
pub(crate) async fn run(
    skill: &SkillInner,
    request: Invocation,
    id: u64,
) -> Result<Outcome, InvokeError> {
    let (context, store, call) = prepare::prepare(skill, request, id).await?;
    let ended = execute(&context, store, call).await;
    Ok(finish::finish(context, ended).await)
}

/// Runs the prepared call within its timeout: how it ended, its peak
/// memory and its wall time.
async fn execute(context: &Context<'_>, mut store: Store<InvocationState>, call: Call) -> Ended {
    let Context {
        skill,
        name,
        command_name,
        limits,
        budget,
        stdout,
        stderr,
        started,
        ..
    } = context;

    let call_and_keep_store = async {
        let returned = call_component(&mut store, skill, call).await;
        (store, returned)
    };
    let finished =
        tokio::time::timeout(limits.timeout.0 + HOST_CALL_GRACE, call_and_keep_store).await;
    let wall_time = started.elapsed();

    let fail_limit = |kind: LimitKind| context.fail_limit(kind);
    let (peak_memory, result) = match finished {
        Err(_elapsed) => (0, Err(fail_limit(LimitKind::Timeout))),
        Ok((mut store, returned)) => {
            crate::capabilities::file_audit::settle_streams(store.data_mut()).await;
            let peak = store.data().limiter.peak() as u64;
            let hit = store.data().limiter.hit;
            let result = match returned {
                Ok(Returned::Value(value)) => typed_result(name, command_name, value, budget),
                Ok(Returned::Exited(Ok(()))) => Ok(cli_result(stdout)),
                Ok(Returned::Exited(Err(()))) => Err(Stopped::Failed(Failure::SkillError {
                    message: format!("skill `{name}` command `{command_name}` returned an error"),
                    value: None,
                })),
                Err(error)
                    if error
                        .downcast_ref::<wasmtime_wasi::I32Exit>()
                        .is_some_and(|e| e.0 == 0) =>
                {
                    Ok(cli_result(stdout))
                }
                Err(error)
                    if script_runtime::is_script(&skill.manifest)
                        && error.downcast_ref::<wasmtime_wasi::I32Exit>().is_some() =>
                {
                    let status = error
                        .downcast_ref::<wasmtime_wasi::I32Exit>()
                        .map_or(1, |e| e.0);
                    // A MemoryError the script died of is the memory limit.
                    match hit {
                        Some(kind) => Err(Stopped::Limit(kind)),
                        None => Err(Stopped::Failed(script_runtime::exited(
                            name,
                            command_name,
                            status,
                        ))),
                    }
                }
                Err(error) => Err(classify(name, command_name, &error, hit, stderr)),
            };
            let result = result.map_err(|stopped| match stopped {
                Stopped::Limit(kind) => fail_limit(kind),
                Stopped::Failed(failure) => failure,
            });
            (peak, result)
        }
    };
    Ended {
        result,
        peak_memory,
        wall_time,
    }
}

/// How a call ended, before its `{state}` is committed or discarded.
struct Ended {
    result: Result<Value, Failure>,
    peak_memory: u64,
    wall_time: Duration,
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
