//! Per-invocation provenance: the origins whose data went into an
//! invocation (network origins it read from, channels it received on).
//!
//! This is provenance per invocation, not taint tracking: if any untrusted
//! origin is listed, a host should treat the whole result as untrusted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Shared record of origins; clones share it.
#[derive(Clone, Default)]
pub(crate) struct Provenance(Arc<Mutex<BTreeSet<String>>>);

impl Provenance {
    /// Notes data read from a network origin (`https://host:port`).
    pub(crate) fn note_origin(&self, origin: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(origin.to_owned());
    }

    /// Notes a message received on a host channel.
    pub(crate) fn note_channel(&self, channel: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(format!("channel:{channel}"));
    }

    /// Notes origins inherited from the skill's `{state}`, as recorded.
    pub(crate) fn inherit(&self, origins: impl IntoIterator<Item = String>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(origins);
    }

    /// The origins, sorted.
    pub(crate) fn origins(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
