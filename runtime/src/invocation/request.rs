//! [`Invocation`]: what a host asks for when it runs a command, built with
//! builder methods whose defaults grant nothing beyond the manifest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::audit::AuditSink;
use crate::capabilities::Grants;
use crate::capabilities::channels::ChannelHandler;
use crate::capabilities::limits::Limits;
use crate::capabilities::network::NetworkOverride;
use crate::capabilities::secrets::SecretSource;

/// A request to run one command. Built with [`Invocation::new`] and the
/// builder methods; by default the host narrows nothing, gives no
/// workspace, no environment and a channel handler that holds no messages.
#[derive(Clone)]
pub struct Invocation {
    pub(crate) command: Option<String>,
    pub(crate) input: Value,
    pub(crate) args: Vec<String>,
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) grants: Option<Grants>,
    pub(crate) limits: Option<Limits>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) channels: Option<Arc<dyn ChannelHandler>>,
    pub(crate) audit_sink: Option<AuditSink>,
    pub(crate) secrets: Option<Arc<dyn SecretSource>>,
    pub(crate) overrides: Vec<NetworkOverride>,
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
            args: Vec::new(),
            workspace: None,
            grants: None,
            limits: None,
            env: BTreeMap::new(),
            channels: None,
            audit_sink: None,
            secrets: None,
            overrides: Vec::new(),
        }
    }

    /// The JSON input: an object with one key per parameter for typed
    /// commands; any JSON for a `wasi:cli/command`, given on its stdin.
    pub fn input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }

    /// Arguments for a `wasi:cli/command` (or preview-1) program: its argv is
    /// the skill's name, the command's name, then these. A typed command
    /// takes none (the call fails with [`crate::InvokeError::BadInput`]).
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
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

    /// Where the values of the skill's declared secrets come from. Only
    /// declared names are asked for; values go into matching requests only
    /// and are scrubbed from everything that flows back.
    pub fn secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Sends requests for one origin to another (tests, local walkthroughs).
    /// Grants, limits and secrets still apply to the URL the skill asked for.
    pub fn network_override(mut self, redirect: NetworkOverride) -> Self {
        self.overrides.push(redirect);
        self
    }

    /// Receives each audit event as it happens, besides the outcome's list.
    pub fn audit_sink(mut self, sink: AuditSink) -> Self {
        self.audit_sink = Some(sink);
        self
    }
}
