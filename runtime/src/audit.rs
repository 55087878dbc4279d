//! Audit events: one record per capability use or denial, kept per
//! invocation, bounded in number, and optionally streamed to the host as
//! they happen so nothing is lost if the host stops mid-way.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

/// How many events one invocation keeps. Past this, a single `audit`
/// event says how many were dropped, so a skill looping over denied calls
/// cannot grow host memory without bound.
pub const MAX_EVENTS_PER_INVOCATION: usize = 4096;

/// The most bytes of one event's `target` or `reason` that are kept; the
/// rest is cut and its length noted, so a 60 KB URL costs about 1 KiB.
pub const MAX_FIELD_BYTES: usize = 1024;

/// The most bytes of `target` and `reason` one invocation's events may
/// hold together. Past it, events are counted as dropped, like events past
/// [`MAX_EVENTS_PER_INVOCATION`].
pub const MAX_AUDIT_BYTES: usize = 1 << 20;

/// `text` cut to [`MAX_FIELD_BYTES`] at a character boundary, with a note
/// of how much was cut.
fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_FIELD_BYTES {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = MAX_FIELD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}… ({} more bytes not kept)",
        &text[..end],
        text.len() - end
    ))
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A package refused at load: its manifest, component or imports.
    Load,
    /// A folder grant, or a filesystem operation.
    File,
    /// An environment variable passed through or withheld.
    Env,
    /// A channel message.
    Channel,
    /// An outgoing HTTP request.
    Network,
    /// A resource limit.
    Limit,
    /// The invocation itself: which command ran and how it ended.
    Invoke,
    /// The audit log itself (events dropped past the cap).
    Audit,
    /// A script tried to start a process (there are none in the sandbox).
    Process,
}

impl AuditKind {
    /// The kind as its audit JSON writes it (`"network"`, `"process"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Load => "load",
            AuditKind::File => "file",
            AuditKind::Env => "env",
            AuditKind::Channel => "channel",
            AuditKind::Network => "network",
            AuditKind::Limit => "limit",
            AuditKind::Invoke => "invoke",
            AuditKind::Audit => "audit",
            AuditKind::Process => "process",
        }
    }
}

/// Whether the action went ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Decision {
    /// It was allowed.
    Allow,
    /// It was refused.
    Deny,
}

/// One audit record, written as one JSON line by the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// When, as RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The skill's name.
    pub skill: String,
    /// Which invocation of the runtime (0 for load-time events).
    pub invocation: u64,
    /// What the event is about.
    pub kind: AuditKind,
    /// What was used or asked for: a guest path, URL, channel, variable, limit.
    pub target: String,
    /// Allowed or denied.
    pub decision: Decision,
    /// Why, in words that name the grant or the fix.
    pub reason: String,
    /// Bytes involved, where that means something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl AuditEvent {
    /// An event stamped with the current time.
    pub fn now(
        skill: &str,
        invocation: u64,
        kind: AuditKind,
        target: &str,
        decision: Decision,
        reason: &str,
        bytes: Option<u64>,
    ) -> Self {
        AuditEvent {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            skill: skill.to_owned(),
            invocation,
            kind,
            target: target.to_owned(),
            decision,
            reason: reason.to_owned(),
            bytes,
        }
    }
}

/// Receives audit events as they happen (the CLI writes them to a file).
pub type AuditSink = Arc<dyn Fn(&AuditEvent) + Send + Sync>;

#[derive(Default)]
struct Recorded {
    events: Vec<AuditEvent>,
    dropped: u64,
    /// Bytes of `target` and `reason` kept so far.
    bytes: usize,
}

/// Collects one invocation's events. Cheap to clone; clones share the log.
#[derive(Clone)]
pub(crate) struct AuditRecorder {
    scrubber: crate::capabilities::secrets::Scrubber,
    skill: Arc<str>,
    invocation: u64,
    recorded: Arc<Mutex<Recorded>>,
    sink: Option<AuditSink>,
}

impl AuditRecorder {
    pub(crate) fn new(skill: Arc<str>, invocation: u64, sink: Option<AuditSink>) -> Self {
        AuditRecorder {
            scrubber: Default::default(),
            skill,
            invocation,
            recorded: Arc::default(),
            sink,
        }
    }

    /// Replaces secret values in every event recorded from now on.
    pub(crate) fn scrub_with(&mut self, scrubber: crate::capabilities::secrets::Scrubber) {
        self.scrubber = scrubber;
    }

    /// Records one event (or counts it as dropped past the cap).
    pub(crate) fn record(
        &self,
        kind: AuditKind,
        target: &str,
        decision: Decision,
        reason: &str,
        bytes: Option<u64>,
    ) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        if recorded.events.len() >= MAX_EVENTS_PER_INVOCATION {
            recorded.dropped += 1;
            return;
        }
        // Scrub, then cut: cutting first could leave the start of a secret.
        let target = bounded(&self.scrubber.text(target)).into_owned();
        let reason = bounded(&self.scrubber.text(reason)).into_owned();
        if recorded.bytes + target.len() + reason.len() > MAX_AUDIT_BYTES {
            recorded.dropped += 1;
            return;
        }
        recorded.bytes += target.len() + reason.len();
        let event = AuditEvent::now(
            &self.skill,
            self.invocation,
            kind,
            &target,
            decision,
            &reason,
            bytes,
        );
        if let Some(sink) = &self.sink {
            sink(&event);
        }
        recorded.events.push(event);
    }

    /// Every event so far, with a closing note when some were dropped.
    pub(crate) fn take(&self) -> Vec<AuditEvent> {
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        let mut events = std::mem::take(&mut recorded.events);
        if recorded.dropped > 0 {
            let reason = format!(
                "{} further events were dropped after the first {} (at most {MAX_EVENTS_PER_INVOCATION} events and {MAX_AUDIT_BYTES} bytes per invocation)",
                recorded.dropped,
                events.len()
            );
            let event = AuditEvent::now(
                &self.skill,
                self.invocation,
                AuditKind::Audit,
                "audit-log",
                Decision::Deny,
                &reason,
                None,
            );
            if let Some(sink) = &self.sink {
                sink(&event);
            }
            events.push(event);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_json_ones() {
        for kind in [
            AuditKind::Load,
            AuditKind::File,
            AuditKind::Env,
            AuditKind::Channel,
            AuditKind::Network,
            AuditKind::Limit,
            AuditKind::Invoke,
            AuditKind::Audit,
            AuditKind::Process,
        ] {
            assert_eq!(serde_json::to_value(kind).expect("json"), kind.as_str());
        }
    }

    #[test]
    fn recorder_caps_events_and_reports_the_drop() {
        let recorder = AuditRecorder::new("s".into(), 1, None);
        for _ in 0..MAX_EVENTS_PER_INVOCATION + 10 {
            recorder.record(AuditKind::Channel, "x", Decision::Deny, "r", None);
        }
        let events = recorder.take();
        assert_eq!(events.len(), MAX_EVENTS_PER_INVOCATION + 1);
        assert!(
            events
                .last()
                .is_some_and(|e| e.reason.starts_with("10 further events"))
        );
    }

    #[test]
    fn recorder_bounds_each_field_and_the_bytes_per_invocation() {
        let recorder = AuditRecorder::new("s".into(), 1, None);
        let long = "x".repeat(60_000);
        for _ in 0..2000 {
            recorder.record(AuditKind::Network, &long, Decision::Deny, &long, None);
        }
        let events = recorder.take();
        let kept: usize = events.iter().map(|e| e.target.len() + e.reason.len()).sum();
        assert!(kept <= MAX_AUDIT_BYTES + 1024, "{kept} bytes kept");
        assert!(events[0].target.len() < MAX_FIELD_BYTES + 64);
        assert!(
            events[0].target.ends_with("(58976 more bytes not kept)"),
            "{}",
            &events[0].target[1000..]
        );
        assert!(
            events
                .last()
                .is_some_and(|e| e.kind == AuditKind::Audit && e.reason.contains("dropped"))
        );
    }

    #[test]
    fn events_serialise_as_flat_json() {
        let e = AuditEvent::now(
            "notes",
            3,
            AuditKind::File,
            "/notes/a",
            Decision::Allow,
            "granted",
            Some(5),
        );
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(json["kind"], "file");
        assert_eq!(json["decision"], "allow");
        assert_eq!(json["bytes"], 5);
    }
}
