//! The `channels` capability: named message channels between a skill and its
//! host. The manifest declares names and directions; the host supplies a
//! [`ChannelHandler`] that delivers and feeds messages; this module checks
//! every call against the grants, audits it, and counts it against
//! `limits.output`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::Grants;
use super::capability::{Capability, GrantEntry, LinkFor, check_unique};
use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::bindings::skills::runtime::channels::{ChannelError, Host};
use crate::invocation::output::OutputBudget;
use crate::invocation::state::InvocationState;
use crate::provenance::Provenance;

/// The largest single message, either way. Larger sends are refused with
/// `too-large`; a host handler's larger message is refused as a host fault.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Which way messages may flow on a channel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Skill to host.
    Send,
    /// Host to skill.
    Receive,
    /// Both ways.
    Both,
}

impl Direction {
    fn allows_send(self) -> bool {
        matches!(self, Direction::Send | Direction::Both)
    }

    fn allows_receive(self) -> bool {
        matches!(self, Direction::Receive | Direction::Both)
    }

    fn is_within(self, wider: Direction) -> bool {
        self == wider || wider == Direction::Both
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Send => "send",
            Direction::Receive => "receive",
            Direction::Both => "both",
        })
    }
}

/// A channel name: lowercase letters, digits, `-`, `_` and `.`, 1 to 64 long.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelName(String);

impl ChannelName {
    /// Parses a channel name such as `feed`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !ok {
            return Err(format!(
                "`{text}` is not a channel name: use 1 to 64 lowercase letters, digits, `-`, `_` or `.`"
            ));
        }
        Ok(ChannelName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_form::text_form!(ChannelName);

/// One `channels` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelGrant {
    /// The channel's name.
    pub name: ChannelName,
    /// Which way messages may flow.
    pub direction: Direction,
}

impl ChannelGrant {
    /// Whether `self` allows no more than `wider`.
    pub fn is_within(&self, wider: &ChannelGrant) -> bool {
        self.name == wider.name && self.direction.is_within(wider.direction)
    }
}

/// Where a host's channel messages go and come from.
///
/// The runtime calls a handler only for channels and directions the skill
/// was granted; a handler never sees a denied call.
#[async_trait::async_trait]
pub trait ChannelHandler: Send + Sync {
    /// Deliver `message`, sent by `skill` on `channel`.
    async fn send(&self, skill: &str, channel: &str, message: &str) -> Result<(), String>;
    /// The next message waiting for `skill` on `channel`, if any.
    async fn receive(&self, skill: &str, channel: &str) -> Result<Option<String>, String>;
}

/// A message a skill sent, as [`MemoryChannels`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentMessage {
    /// The sending skill.
    pub skill: String,
    /// The channel.
    pub channel: String,
    /// The text.
    pub message: String,
}

/// Called with each message a skill sends.
type OnSend = Box<dyn Fn(&SentMessage) + Send + Sync>;

/// An in-memory [`ChannelHandler`]: queued messages to hand to skills, and
/// the messages they sent. Optionally calls a function for each sent message
/// as it arrives (the CLI prints them that way).
#[derive(Default)]
pub struct MemoryChannels {
    inbox: Mutex<HashMap<String, VecDeque<String>>>,
    sent: Mutex<Vec<SentMessage>>,
    on_send: Option<OnSend>,
}

impl fmt::Debug for MemoryChannels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryChannels").finish_non_exhaustive()
    }
}

impl MemoryChannels {
    /// An empty set of channels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `f` with every message a skill sends, as it is sent.
    pub fn on_send(mut self, f: impl Fn(&SentMessage) + Send + Sync + 'static) -> Self {
        self.on_send = Some(Box::new(f));
        self
    }

    /// Queues `message` for a skill to receive on `channel`.
    pub fn push_incoming(&self, channel: &str, message: impl Into<String>) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox
            .entry(channel.to_owned())
            .or_default()
            .push_back(message.into());
    }

    /// Every message sent so far, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl ChannelHandler for MemoryChannels {
    async fn send(&self, skill: &str, channel: &str, message: &str) -> Result<(), String> {
        let sent = SentMessage {
            skill: skill.into(),
            channel: channel.into(),
            message: message.into(),
        };
        if let Some(f) = &self.on_send {
            f(&sent);
        }
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sent);
        Ok(())
    }

    async fn receive(&self, _skill: &str, channel: &str) -> Result<Option<String>, String> {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inbox.get_mut(channel).and_then(VecDeque::pop_front))
    }
}

/// What one invocation knows about channels.
pub(crate) struct ChannelState {
    pub grants: Vec<ChannelGrant>,
    pub handler: Arc<dyn ChannelHandler>,
    /// Secret values never leave through a channel.
    pub scrubber: super::secrets::Scrubber,
}

impl ChannelState {
    fn direction_of(&self, channel: &str) -> Option<Direction> {
        self.grants
            .iter()
            .find(|g| g.name.as_str() == channel)
            .map(|g| g.direction)
    }
}

fn denial_reason(skill: &str, channel: &str, wanted: &str, granted: Option<Direction>) -> String {
    match granted {
        None => format!(
            "skill `{skill}` may not {wanted} on channel `{channel}`: it is not declared; add {{ name = \"{channel}\", direction = \"{wanted}\" }} to [capabilities].channels in skill.toml"
        ),
        Some(direction) => format!(
            "skill `{skill}` may not {wanted} on channel `{channel}`: it is declared with direction = \"{direction}\"; use \"both\" in skill.toml to allow {wanted}"
        ),
    }
}

/// What the channel host functions see of the store: the channel state
/// and the parts of the invocation a message touches, nothing else.
pub(crate) struct ChannelsView<'a> {
    /// The skill, for the handler and the audit.
    pub skill: &'a str,
    /// The granted channels and the host's handler.
    pub channels: &'a ChannelState,
    /// Where each send and receive is recorded.
    pub audit: &'a AuditRecorder,
    /// A message sent spends the output budget.
    pub output: &'a OutputBudget,
    /// A message received is an origin of the result.
    pub provenance: &'a Provenance,
}

/// Selects [`ChannelsView`] as the data the channel bindings see.
struct HasChannels;

impl wasmtime::component::HasData for HasChannels {
    type Data<'a> = ChannelsView<'a>;
}

impl Host for ChannelsView<'_> {
    async fn send(
        &mut self,
        channel: String,
        message: String,
    ) -> wasmtime::Result<Result<(), ChannelError>> {
        let skill = self.skill;
        let granted = self.channels.direction_of(&channel);
        let target = display_name(&channel);
        if !granted.is_some_and(Direction::allows_send) {
            let reason = denial_reason(skill, &target, "send", granted);
            self.audit.record(
                AuditKind::Channel,
                &target,
                Decision::Deny,
                &reason,
                Some(message.len() as u64),
            );
            return Ok(Err(ChannelError::Denied(reason)));
        }
        if message.len() > MAX_MESSAGE_BYTES {
            let reason = format!(
                "message of {} bytes is over the {MAX_MESSAGE_BYTES}-byte limit",
                message.len()
            );
            self.audit.record(
                AuditKind::Channel,
                &target,
                Decision::Deny,
                &reason,
                Some(message.len() as u64),
            );
            return Ok(Err(ChannelError::TooLarge(MAX_MESSAGE_BYTES as u64)));
        }
        let message = self.channels.scrubber.text(&message).into_owned();
        // A flood of messages is output like any other: it spends the same budget.
        self.output.consume(message.len() as u64)?;
        let result = self.channels.handler.send(skill, &channel, &message).await;
        let (decision, reason) = match &result {
            Ok(()) => (Decision::Allow, "sent".to_owned()),
            Err(e) => (Decision::Allow, format!("host handler failed: {e}")),
        };
        self.audit.record(
            AuditKind::Channel,
            &target,
            decision,
            &reason,
            Some(message.len() as u64),
        );
        Ok(result.map_err(ChannelError::Failed))
    }

    async fn receive(
        &mut self,
        channel: String,
    ) -> wasmtime::Result<Result<Option<String>, ChannelError>> {
        let skill = self.skill;
        let granted = self.channels.direction_of(&channel);
        let target = display_name(&channel);
        if !granted.is_some_and(Direction::allows_receive) {
            let reason = denial_reason(skill, &target, "receive", granted);
            self.audit
                .record(AuditKind::Channel, &target, Decision::Deny, &reason, None);
            return Ok(Err(ChannelError::Denied(reason)));
        }
        let result = self.channels.handler.receive(skill, &channel).await;
        match result {
            Ok(Some(message)) if message.len() > MAX_MESSAGE_BYTES => {
                let reason = format!(
                    "host offered a message of {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit",
                    message.len()
                );
                self.audit.record(
                    AuditKind::Channel,
                    &target,
                    Decision::Deny,
                    &reason,
                    Some(message.len() as u64),
                );
                Ok(Err(ChannelError::Failed(reason)))
            }
            Ok(message) => {
                let bytes = message.as_ref().map(|m| m.len() as u64);
                let reason = if message.is_some() {
                    "received"
                } else {
                    "nothing waiting"
                };
                self.audit
                    .record(AuditKind::Channel, &target, Decision::Allow, reason, bytes);
                if message.is_some() {
                    self.provenance.note_channel(&channel);
                }
                Ok(Ok(message))
            }
            Err(e) => {
                let reason = format!("host handler failed: {e}");
                self.audit
                    .record(AuditKind::Channel, &target, Decision::Allow, &reason, None);
                Ok(Err(ChannelError::Failed(e)))
            }
        }
    }
}

/// A channel name as it may appear in logs: a hostile name cannot inject
/// line breaks or control characters into audit output or a terminal.
fn display_name(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(128)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if name.chars().count() > 128 {
        shown.push('…');
    }
    shown
}

/// The `channels` capability: `skills:runtime/channels`, linked only when
/// some channel is granted, each message judged by [`ChannelsView`].
pub(crate) struct Channels;

impl Capability for Channels {
    fn key(&self) -> &'static str {
        "channels"
    }

    fn answers(&self, _package: &str, interface: &str) -> bool {
        interface == "skills:runtime/channels"
    }

    fn allows_imports(&self, for_: &LinkFor<'_>) -> bool {
        !for_.grants.channels.is_empty()
    }

    fn validate(&self, grants: &Grants) -> Result<(), String> {
        check_unique("channels", grants.channels.iter().map(|c| c.name.as_str()))
    }

    fn link(
        &self,
        linker: &mut wasmtime::component::Linker<InvocationState>,
        for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        if self.allows_imports(for_) {
            crate::bindings::skills::runtime::channels::add_to_linker::<_, HasChannels>(
                linker,
                InvocationState::channels_view,
            )?;
        }
        Ok(())
    }

    fn outside(&self, narrow: &Grants, wide: &Grants, out: &mut Vec<GrantEntry>) {
        out.extend(
            narrow
                .channels
                .iter()
                .filter(|c| !wide.channels.iter().any(|w| c.is_within(w)))
                .map(|c| GrantEntry::Channel(c.clone())),
        );
    }

    fn describe(&self, grants: &Grants, lines: &mut Vec<String>) {
        for c in &grants.channels {
            let what = match c.direction {
                Direction::Send => "send messages on",
                Direction::Receive => "receive messages from",
                Direction::Both => "send and receive messages on",
            };
            lines.push(format!("{what} channel `{}`", c.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_validated() {
        assert!(ChannelName::parse("feed").is_ok());
        assert!(ChannelName::parse("Feed").is_err());
        assert!(ChannelName::parse("").is_err());
        assert!(ChannelName::parse("a\nb").is_err());
    }

    #[test]
    fn directions_narrow_only_towards_one_way() {
        assert!(Direction::Send.is_within(Direction::Both));
        assert!(!Direction::Both.is_within(Direction::Send));
        assert!(!Direction::Receive.is_within(Direction::Send));
    }

    #[test]
    fn display_name_neutralises_control_characters() {
        assert_eq!(display_name("a\nb"), "a\u{fffd}b");
        assert!(display_name(&"x".repeat(1000)).ends_with('…'));
    }
}
