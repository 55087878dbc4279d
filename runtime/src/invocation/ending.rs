//! How an invocation ended: a typed result or a command's stdout turned into
//! JSON, or a wasmtime error classified as a limit, a skill error or a trap,
//! with a one-line message that names the limit and the key to raise.

use serde_json::Value;
use wasmtime::Trap;
use wasmtime::component::Val;

use super::outcome::Failure;
use super::output::{CapturedOutput, LimitExceeded, OutputBudget};
use crate::capabilities::limits::{
    LimitKind, Limits, MAX_INSTANCES, MAX_MEMORIES, MAX_RESOURCE_HANDLES, MAX_TABLE_ELEMENTS,
    MAX_TABLES,
};
use crate::component::values;

/// Why an invocation did not produce a result.
pub(crate) enum Stopped {
    /// A limit was hit; the message is made where the limits are known.
    Limit(LimitKind),
    /// The skill failed on its own.
    Failed(Failure),
}

/// A typed command's return value as JSON; a top-level `err` is the skill
/// failing. The JSON result spends the output budget like printed output.
pub(crate) fn typed_result(
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
pub(crate) fn cli_result(stdout: &CapturedOutput) -> Value {
    let (bytes, _) = stdout.contents();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// wasmtime's message when a store's component handles reach
/// `set_max_component_handles` (its error type is private).
const WASMTIME_HANDLE_LIMIT: &str = "store handle limit exceeded";
/// wasmtime's message when instantiation passes the limiter's instance,
/// table or memory count.
const WASMTIME_COUNT_LIMIT: &str = "resource limit exceeded: ";
/// wasmtime's message when lifting data from the guest runs out of
/// `set_hostcall_fuel` (its error type is private).
const WASMTIME_TRANSFER_LIMIT: &str = "fuel allocated for hostcalls has been exhausted";

/// Turns a wasmtime error (other than a clean `exit(0)`) into a limit (`Ok`)
/// or a failure (`Err`).
pub(crate) fn classify(
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
            || e.to_string().contains(WASMTIME_HANDLE_LIMIT)
            || e.to_string().contains(WASMTIME_COUNT_LIMIT)
    }) {
        return Stopped::Limit(LimitKind::Table);
    }
    if error
        .chain()
        .any(|e| e.to_string().contains(WASMTIME_TRANSFER_LIMIT))
    {
        return Stopped::Limit(LimitKind::Output);
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

/// One line naming the limit, its value and the manifest key that raises it.
pub(crate) fn limit_message(skill: &str, kind: LimitKind, limits: &Limits) -> String {
    let (what, value) = match kind {
        LimitKind::Memory => ("ran out of memory", limits.memory.to_string()),
        LimitKind::Timeout => ("ran out of time", limits.timeout.to_string()),
        LimitKind::Output => (
            "produced too much output (stdout, stderr, channel messages and the result count together)",
            limits.output.to_string(),
        ),
        LimitKind::HttpRequests => (
            "sent too many HTTP requests",
            limits.http_requests.to_string(),
        ),
        LimitKind::HttpResponse => (
            "received an HTTP response larger than allowed",
            limits.http_response.to_string(),
        ),
        LimitKind::DiskWrite => (
            "wrote more bytes to files than allowed",
            limits.disk_write.to_string(),
        ),
        LimitKind::DiskFiles => (
            "created more files, folders or links than allowed",
            limits.disk_files.to_string(),
        ),
        LimitKind::StateSize => (
            "grew its {state} folder past its size limit",
            limits.state_size.to_string(),
        ),
        LimitKind::HttpRequestBody => (
            "sent an HTTP request body larger than allowed",
            limits.http_request_body.to_string(),
        ),
        LimitKind::StateFiles => (
            "left more files, folders or links in its {state} folder than allowed",
            limits.state_files.to_string(),
        ),
        LimitKind::Table => {
            return format!(
                "skill `{skill}` went past a fixed cap of the runtime: at most {MAX_RESOURCE_HANDLES} live resource handles (open files, streams, HTTP objects, its own resources), {MAX_TABLE_ELEMENTS} table elements, {MAX_INSTANCES} core instances, {MAX_TABLES} tables and {MAX_MEMORIES} memories; these are not configurable"
            );
        }
    };
    let key = kind.manifest_key().unwrap_or("limits");
    format!(
        "skill `{skill}` {what}: {key} = {value} (raise it in skill.toml's [limits] if the skill needs more)"
    )
}
