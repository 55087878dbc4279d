//! Running one `tools/call`: the invocation a tool's command gets (the
//! workspace, the environment, declared secrets, the audit log) and its
//! outcome as a tool result. Where the invocation runs is [`super::pace`]'s
//! call.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::model::{CallToolResult, JsonObject};
use serde_json::Value;
use skill_runtime::{
    AuditEvent, Invocation, MemoryChannels, NetworkOverride, SecretMap, SentMessage,
};

use super::catalog::ToolEntry;
use super::results::{refused, tool_result};

/// The largest arguments object accepted, serialized: a model that sends
/// more is told so instead of the skill parsing megabytes.
pub const MAX_ARGUMENTS_BYTES: usize = 4 * 1024 * 1024;

/// What every call shares.
pub struct Calls {
    /// The server's environment, read once; each skill gets only the names it is granted.
    pub env: Vec<(String, String)>,
    /// The folder `{workspace}` grants refer to.
    pub workspace: PathBuf,
    /// Where audit events go, as JSON lines.
    pub audit: Option<Arc<Mutex<File>>>,
    /// Granted origins sent elsewhere (tests and walkthroughs).
    pub overrides: Vec<NetworkOverride>,
    /// Worker threads for calls not known to be quick, when the server's
    /// dispatch runs on a single thread (stdio); `None`: calls run where
    /// they are dispatched.
    pub workers: Option<tokio::runtime::Handle>,
}

/// A task on the workers that is aborted when the call is dropped (the
/// client cancelled, or the server stops), as an inline call would be.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts serialized bytes without keeping them.
#[derive(Default)]
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_line(file: &Mutex<File>, value: &impl serde::Serialize) {
    use std::io::Write;
    let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(line) = serde_json::to_string(value) {
        // A full disk must not end the server; the result still carries the reason.
        let _ = writeln!(file, "{line}");
    }
}

impl Calls {
    fn invocation(&self, entry: &ToolEntry, arguments: JsonObject) -> Invocation {
        let skill = &entry.skill;
        let request = match &entry.command {
            Some(command) => Invocation::new(command),
            None => Invocation::default_command(),
        };
        // Sent messages go to stderr: stdout may be the MCP transport.
        let channels = MemoryChannels::new().on_send(|m: &SentMessage| {
            if let Ok(line) = serde_json::to_string(m) {
                eprintln!("{line}");
            }
        });
        let secrets = SecretMap::new(skill.manifest().grants.secrets.iter().filter_map(|s| {
            std::env::var(s.name.as_str())
                .ok()
                .map(|v| (s.name.to_string(), v))
        }));
        let granted_env = &skill.manifest().grants.env;
        let mut request = request
            .input(Value::Object(arguments))
            .workspace(self.workspace.clone())
            // Only the granted names: the runtime filters too, but copying
            // the whole environment on every call is wasted work.
            .env(
                self.env
                    .iter()
                    .filter(|(name, _)| granted_env.iter().any(|e| e.as_str() == name))
                    .cloned(),
            )
            .channels(Arc::new(channels))
            .secrets(Arc::new(secrets));
        for over in &self.overrides {
            request = request.network_override(over.clone());
        }
        if let Some(file) = &self.audit {
            let file = file.clone();
            request = request.audit_sink(Arc::new(move |e: &AuditEvent| write_line(&file, e)));
        }
        request
    }

    /// Runs `entry`'s command with `arguments`. Every ending is a tool
    /// result: a call that cannot start (bad arguments) is an `isError`
    /// result the model can act on.
    pub async fn call(&self, entry: &ToolEntry, arguments: JsonObject) -> CallToolResult {
        let skill = entry.skill.name();
        let mut counter = Counter::default();
        let size =
            serde_json::to_writer(&mut counter, &arguments).map_or(usize::MAX, |()| counter.0);
        if size > MAX_ARGUMENTS_BYTES {
            return refused(
                skill,
                &format!(
                    "the arguments are {size} bytes, more than the {MAX_ARGUMENTS_BYTES} bytes a call may carry"
                ),
            );
        }
        let request = self.invocation(entry, arguments);
        let started = Instant::now();
        let invoked = match self.workers.as_ref().filter(|_| !entry.pace.inline()) {
            Some(workers) => {
                let runner = entry.skill.clone();
                let mut task =
                    AbortOnDrop(workers.spawn(async move { runner.invoke(request).await }));
                match (&mut task.0).await {
                    Ok(invoked) => invoked,
                    Err(stopped) => {
                        return refused(
                            skill,
                            &format!("the call stopped unexpectedly: {stopped}"),
                        );
                    }
                }
            }
            None => entry.skill.invoke(request).await,
        };
        entry.pace.record(started.elapsed());
        match invoked {
            Ok(outcome) => tool_result(&outcome, entry.shape),
            Err(error) => refused(skill, &error.to_string()),
        }
    }
}
