//! One call of a skill's command: a fresh store and instance with exactly
//! the (possibly narrowed) grants, bounded by the limits, and an
//! [`Outcome`] that says how it ended, what it used and what it touched.

pub(crate) mod output;
pub(crate) mod provenance;
pub(crate) mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use crate::audit::{AuditEvent, AuditKind, AuditRecorder, AuditSink, Decision};
use crate::capabilities::Grants;
use crate::capabilities::channels::{ChannelHandler, ChannelState, MemoryChannels};
use crate::capabilities::env::visible_env;
use crate::capabilities::files::{self, HostBase};
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::limits::{
    LimitKind, Limits, MAX_HTTP_FIELDS_BYTES, MAX_RESOURCE_HANDLES, MemoryLimiter,
};
use crate::component::{Command, ComponentKind, values};
use crate::error::InvokeError;
use crate::skill::SkillInner;
use output::{CapturedOutput, LimitExceeded, OutputBudget};
use provenance::Provenance;
use state::{InvocationState, LimitFlag};

/// How much of a skill's stderr is kept for the outcome; the rest is
/// counted against `limits.output` and dropped.
const STDERR_KEEP: usize = 64 * 1024;

/// Extra time given to a host call after the deadline before the whole
/// invocation is abandoned (epoch interruption cannot stop a guest that is
/// blocked inside a host call).
const HOST_CALL_GRACE: Duration = Duration::from_millis(200);

/// A request to run one command. Built with [`Invocation::new`] and the
/// builder methods; by default the host narrows nothing, gives no
/// workspace, no environment and a channel handler that holds no messages.
#[derive(Clone)]
pub struct Invocation {
    pub(crate) command: Option<String>,
    pub(crate) input: Value,
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) grants: Option<Grants>,
    pub(crate) limits: Option<Limits>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) channels: Option<Arc<dyn ChannelHandler>>,
    pub(crate) audit_sink: Option<AuditSink>,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("command", &self.command)
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

impl Invocation {
    /// Runs `command`. For a `wasi:cli/command` component any name is
    /// accepted and passed as its first argument.
    pub fn new(command: impl Into<String>) -> Self {
        Invocation {
            command: Some(command.into()),
            ..Self::default_command()
        }
    }

    /// Runs the skill's only command (or `main` for a `wasi:cli/command`).
    pub fn default_command() -> Self {
        Invocation {
            command: None,
            input: Value::Object(Default::default()),
            workspace: None,
            grants: None,
            limits: None,
            env: BTreeMap::new(),
            channels: None,
            audit_sink: None,
        }
    }

    /// The JSON input: an object with one key per parameter for typed
    /// commands; any JSON for a `wasi:cli/command`, given on its stdin.
    pub fn input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }

    /// The folder `{workspace}` grants refer to.
    pub fn workspace(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workspace = Some(dir.into());
        self
    }

    /// Narrower grants for this call. Must lie within the manifest's, or the
    /// call fails with [`InvokeError::WidenedGrant`].
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = Some(grants);
        self
    }

    /// Lower limits for this call; each is the smaller of these and the manifest's.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The host environment the `env` grant draws from. Only granted names
    /// are passed on; everything else here is dropped.
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = vars.into_iter().collect();
        self
    }

    /// Where channel messages go and come from.
    pub fn channels(mut self, handler: Arc<dyn ChannelHandler>) -> Self {
        self.channels = Some(handler);
        self
    }

    /// Receives each audit event as it happens, besides the outcome's list.
    pub fn audit_sink(mut self, sink: AuditSink) -> Self {
        self.audit_sink = Some(sink);
        self
    }
}

/// How a started invocation failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "failure", rename_all = "kebab-case")]
pub enum Failure {
    /// The skill reported an error: an `err` result, a non-zero exit.
    SkillError {
        /// One line for people.
        message: String,
        /// The error value, for typed commands returning `result`.
        value: Option<Value>,
    },
    /// The skill trapped (a panic, stack overflow, bad memory access).
    Trap {
        /// One line: what happened.
        cause: String,
    },
    /// The skill ran into a limit.
    Limit {
        /// Which one.
        kind: LimitKind,
        /// One line naming the limit, its value and how to raise it.
        message: String,
    },
}

impl Failure {
    /// The `skill-run` exit code: 1 for a skill failure, 3 for a limit.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::SkillError { .. } | Failure::Trap { .. } => 1,
            Failure::Limit { .. } => 3,
        }
    }

    /// One line for people.
    pub fn message(&self) -> &str {
        match self {
            Failure::SkillError { message, .. } | Failure::Limit { message, .. } => message,
            Failure::Trap { cause } => cause,
        }
    }
}

/// What an invocation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Wall-clock time from instantiation to the end.
    #[serde(serialize_with = "as_micros", rename = "wall_time_us")]
    pub wall_time: Duration,
    /// The most linear memory held at once, in bytes.
    pub peak_memory: u64,
    /// Bytes emitted: stdout, stderr, channel messages and the JSON result.
    pub output_bytes: u64,
}

fn as_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// How an invocation ended, with everything it did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The skill.
    pub skill: String,
    /// The command that ran.
    pub command: String,
    /// The result as JSON, or how it failed.
    pub result: Result<Value, Failure>,
    /// What a typed command printed on stdout (a `wasi:cli/command`'s stdout
    /// is its result instead).
    pub stdout: String,
    /// What it printed on stderr, up to 64 KiB.
    pub stderr: String,
    /// Bytes of stderr dropped past 64 KiB.
    pub stderr_dropped: u64,
    /// Every capability use and denial, in order.
    pub audit: Vec<AuditEvent>,
    /// Resources used.
    pub usage: Usage,
    /// Origins whose data went into this invocation (network origins read,
    /// channels received on). Non-empty means: treat the result as untrusted.
    pub origins: Vec<String>,
}

enum Call {
    Typed(Box<Command>, Vec<Val>),
    Cli,
}

/// Why an invocation did not produce a result.
enum Stopped {
    /// A limit was hit; the message is made where the limits are known.
    Limit(LimitKind),
    /// The skill failed on its own.
    Failed(Failure),
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
    if skill.kind == ComponentKind::Cli {
        return Ok((
            request.command.clone().unwrap_or_else(|| "main".into()),
            Call::Cli,
        ));
    }
    let command = match &request.command {
        Some(name) => skill
            .commands
            .iter()
            .find(|c| c.info.name == *name || c.info.export == *name)
            .ok_or_else(|| InvokeError::UnknownCommand {
                skill: skill.name.to_string(),
                command: name.clone(),
                available: available(),
            })?,
        None if skill.commands.len() == 1 => &skill.commands[0],
        None => {
            return Err(InvokeError::CommandRequired {
                skill: skill.name.to_string(),
                available: available(),
            });
        }
    };
    let bad = |reason: String| InvokeError::BadInput {
        skill: skill.name.to_string(),
        command: command.info.name.clone(),
        reason,
    };
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
    Ok((
        command.info.name.clone(),
        Call::Typed(Box::new(command.clone()), params),
    ))
}

/// Runs one invocation of `skill`.
pub(crate) async fn run(
    skill: &SkillInner,
    request: Invocation,
    id: u64,
) -> Result<Outcome, InvokeError> {
    let name = skill.name.clone();
    let grants = match &request.grants {
        Some(narrow) => {
            narrow
                .check_within(&skill.manifest.grants)
                .map_err(|entry| InvokeError::WidenedGrant {
                    skill: name.to_string(),
                    entry,
                })?;
            narrow.clone()
        }
        None => skill.manifest.grants.clone(),
    };
    let limits = request
        .limits
        .map_or(skill.limits, |l| skill.limits.min(&l));
    let (command_name, call) = resolve(skill, &request)?;
    if grants
        .files
        .iter()
        .any(|f| f.host.base == HostBase::Workspace)
        && request.workspace.is_none()
    {
        return Err(InvokeError::NoWorkspace {
            skill: name.to_string(),
        });
    }

    let audit = AuditRecorder::new(name.clone(), id, request.audit_sink.clone());
    let budget = OutputBudget::new(limits.output.0);
    let keep_stdout = usize::try_from(limits.output.0).unwrap_or(usize::MAX);
    let stdout = CapturedOutput::new(budget.clone(), keep_stdout);
    let stderr = CapturedOutput::new(budget.clone(), STDERR_KEEP);

    let mut builder = WasiCtxBuilder::new();
    builder.stdout(stdout.clone()).stderr(stderr.clone());
    builder.args(&[name.as_ref(), command_name.as_str()]);
    if matches!(call, Call::Cli) {
        let input = serde_json::to_vec(&request.input).unwrap_or_default();
        builder.stdin(MemoryInputPipe::new(input));
    }
    for granted in &grants.env {
        let present = request.env.contains_key(granted.as_str());
        let reason = if present {
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
    let handles = files::preopen(
        &mut builder,
        &grants.files,
        &skill.state_dir,
        request.workspace.as_deref(),
    )
    .map_err(|(grant, reason)| InvokeError::Preopen {
        skill: name.to_string(),
        guest: grant.guest.to_string(),
        host: grant.host.to_string(),
        reason,
    })?;
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
    let wasi = builder.build();
    drop(handles);

    let limit_flag = LimitFlag::default();
    let provenance = Provenance::default();
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
            sent: Arc::default(),
            deadline: started + limits.timeout.0,
            audit: audit.clone(),
            limit: limit_flag.clone(),
            provenance: provenance.clone(),
        },
        provenance: provenance.clone(),
        fs_paths: Default::default(),
    };
    let mut store = Store::new(skill.component.engine(), state);
    store.limiter(|s| &mut s.limiter);
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
        Ok((store, returned)) => {
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
                Err(error) => Err(classify(&name, &command_name, &error, hit, &stderr)),
            };
            let result = result.map_err(|stopped| match stopped {
                Stopped::Limit(kind) => fail_limit(kind),
                Stopped::Failed(failure) => failure,
            });
            (peak, result)
        }
    };
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
    Ok(Outcome {
        skill: name.to_string(),
        command: command_name,
        stdout: if skill.kind == ComponentKind::Typed {
            String::from_utf8_lossy(&out_bytes).into_owned()
        } else {
            String::new()
        },
        stderr: String::from_utf8_lossy(&err_bytes).into_owned(),
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
        Call::Cli => {
            let pre = skill
                .cli_pre
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("component is not a wasi:cli/command"))?;
            let command = pre.instantiate_async(&mut *store).await?;
            let exited = command.wasi_cli_run().call_run(&mut *store).await?;
            Ok(Returned::Exited(exited))
        }
        Call::Typed(command, params) => {
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

/// A typed command's return value as JSON; a top-level `err` is the skill
/// failing. The JSON result spends the output budget like printed output.
fn typed_result(
    skill: &str,
    command: &str,
    value: Option<Val>,
    budget: &OutputBudget,
) -> Result<Value, Stopped> {
    let json = match value {
        None => Value::Null,
        Some(Val::Result(Err(e))) => {
            let value = e.as_deref().map(values::to_json);
            let shown = value.as_ref().map_or("no details".into(), |v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let message = format!(
                "skill `{skill}` command `{command}` failed: {}",
                crate::component::first_line(&shown)
            );
            return Err(Stopped::Failed(Failure::SkillError { message, value }));
        }
        Some(Val::Result(Ok(v))) => v.as_deref().map_or(Value::Null, values::to_json),
        Some(v) => values::to_json(&v),
    };
    let size = serde_json::to_vec(&json)
        .map(|v| v.len() as u64)
        .unwrap_or(u64::MAX);
    budget
        .consume(size)
        .map_err(|LimitExceeded(kind)| Stopped::Limit(kind))?;
    Ok(json)
}

/// A `wasi:cli/command`'s stdout as its result: JSON when it parses, else text.
fn cli_result(stdout: &CapturedOutput) -> Value {
    let (bytes, _) = stdout.contents();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Turns a wasmtime error (other than a clean `exit(0)`) into a limit (`Ok`)
/// or a failure (`Err`).
fn classify(
    skill: &str,
    command: &str,
    error: &wasmtime::Error,
    hit: Option<LimitKind>,
    stderr: &CapturedOutput,
) -> Stopped {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Stopped::Failed(Failure::SkillError {
            message: format!(
                "skill `{skill}` command `{command}` exited with status {}",
                exit.0
            ),
            value: None,
        });
    }
    if let Some(LimitExceeded(kind)) = error.downcast_ref::<LimitExceeded>() {
        return Stopped::Limit(*kind);
    }
    if let Some(kind) = hit {
        return Stopped::Limit(kind);
    }
    if error.chain().any(|e| {
        e.downcast_ref::<wasmtime::component::ResourceTableError>()
            .is_some()
    }) {
        return Stopped::Limit(LimitKind::Table);
    }
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return Stopped::Limit(LimitKind::Timeout);
    }
    let what = match trap {
        Some(Trap::StackOverflow) => "stack overflow (the skill recursed too deeply)".to_owned(),
        Some(Trap::UnreachableCodeReached) => match panic_message(stderr) {
            Some(panic) => format!("it panicked: {panic}"),
            None => "it hit `unreachable` (a Rust panic or abort)".to_owned(),
        },
        // Rust and C guests keep their stack in linear memory below the data,
        // so running off it is an out-of-bounds access rather than call-stack exhaustion.
        Some(Trap::MemoryOutOfBounds) => {
            "out-of-bounds memory access (most often a stack overflow in the skill's own stack)"
                .to_owned()
        }
        Some(Trap::IntegerDivisionByZero) => "integer division by zero".to_owned(),
        Some(other) => other.to_string(),
        None => crate::component::first_line(&error.root_cause().to_string()),
    };
    Stopped::Failed(Failure::Trap {
        cause: format!("skill `{skill}` command `{command}` trapped: {what}"),
    })
}

/// The `panicked at …` line a Rust guest writes to stderr before aborting.
fn panic_message(stderr: &CapturedOutput) -> Option<String> {
    let (bytes, _) = stderr.contents();
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines().skip_while(|l| !l.contains("panicked at"));
    let at = lines.next()?;
    let message = lines.next().unwrap_or("").trim();
    Some(crate::component::first_line(&format!(
        "{message} ({})",
        at.trim()
            .trim_start_matches("thread 'main' ")
            .trim_end_matches(':')
    )))
}

fn limit_message(skill: &str, kind: LimitKind, limits: &Limits) -> String {
    match kind {
        LimitKind::Memory => format!(
            "skill `{skill}` ran out of memory: limits.memory = {} (raise it in skill.toml's [limits] if the skill needs more)",
            limits.memory
        ),
        LimitKind::Timeout => format!(
            "skill `{skill}` ran out of time: limits.timeout = {} (raise it in skill.toml's [limits] if the skill needs more)",
            limits.timeout
        ),
        LimitKind::Output => format!(
            "skill `{skill}` produced too much output: limits.output = {} across stdout, stderr, channel messages and the result (raise it in skill.toml's [limits])",
            limits.output
        ),
        LimitKind::HttpRequests => format!(
            "skill `{skill}` sent too many HTTP requests: limits.http-requests = {} (raise it in skill.toml's [limits])",
            limits.http_requests
        ),
        LimitKind::Table => format!(
            "skill `{skill}` held too many resource handles (at most {MAX_RESOURCE_HANDLES} open files, streams or HTTP objects) or grew tables past the runtime's fixed caps; these are not configurable"
        ),
    }
}
