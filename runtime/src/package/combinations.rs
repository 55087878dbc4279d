//! Findings about what a manifest's grants allow *together*. Each grant
//! may be fine alone; private data, untrusted input and a way out in one
//! skill (the "lethal trifecta") let text the skill reads instruct it to
//! send the private data away.

use crate::capabilities::Grants;
use crate::capabilities::channels::Direction;
use crate::capabilities::files::HostBase;

use super::{Finding, Severity};

/// The `lethal-trifecta` finding for `grants`, if they combine all three
/// parts; located at `[capabilities]` in `manifest_text`.
pub(crate) fn scan(grants: &Grants, manifest_text: &str) -> Vec<Finding> {
    let mut private = Vec::new();
    for f in &grants.files {
        if f.host.base == HostBase::Workspace {
            private.push(format!("files `{}` ({})", f.host, f.access));
        }
    }
    for s in &grants.secrets {
        private.push(format!(
            "secret `{}`, which acts as you at {}",
            s.name.as_str(),
            s.host
        ));
    }
    let network: Vec<String> = grants
        .network
        .iter()
        .map(|n| format!("network `{n}`"))
        .collect();
    let channels = |want: fn(Direction) -> bool| {
        grants
            .channels
            .iter()
            .filter(|c| want(c.direction))
            .map(|c| format!("channel `{}` ({})", c.name.as_str(), c.direction))
            .collect::<Vec<_>>()
    };
    let untrusted: Vec<String> = network
        .iter()
        .cloned()
        .chain(channels(|d| {
            matches!(d, Direction::Receive | Direction::Both)
        }))
        .collect();
    let way_out: Vec<String> = network
        .iter()
        .cloned()
        .chain(channels(|d| matches!(d, Direction::Send | Direction::Both)))
        .collect();
    if private.is_empty() || untrusted.is_empty() || way_out.is_empty() {
        return Vec::new();
    }
    let list = |items: &[String]| {
        let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
        match items.len().saturating_sub(3) {
            0 => shown.join(", "),
            more => format!("{} and {more} more", shown.join(", ")),
        }
    };
    let line = manifest_text
        .lines()
        .position(|l| l.trim() == "[capabilities]")
        .map_or(1, |i| i + 1);
    vec![Finding::new(
        "lethal-trifecta",
        Severity::Warning,
        line,
        1,
        format!(
            "the grants combine private data ({}), untrusted input ({}) and a way out ({}): text the skill reads can tell it to send that data out. Drop one of the three, or narrow the grants so none of the inputs reaches a place the data can leave by",
            list(&private),
            list(&untrusted),
            list(&way_out)
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(toml_text: &str) -> Grants {
        toml::from_str(toml_text).expect("grants parse")
    }

    #[test]
    fn workspace_plus_network_is_a_trifecta_named_in_words() {
        let text = "files = [{ guest = \"/notes\", host = \"{workspace}/notes\", access = \"read\" }]\nnetwork = [\"https://api.example.com/\"]\n";
        let f = scan(&grants(text), "[skill]\nname = \"x\"\n\n[capabilities]\n");
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].code, f[0].line), ("lethal-trifecta", 4));
        assert!(
            f[0].message.contains("files `{workspace}/notes` (read)"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("network `https://api.example.com/`"));
    }

    #[test]
    fn a_secret_with_a_receive_and_a_send_channel_is_a_trifecta() {
        let text = concat!(
            "network = [\"https://api.example.com/\"]\n",
            "secrets = [{ name = \"KEY\", host = \"api.example.com\", header = \"Authorization\" }]\n",
        );
        assert_eq!(scan(&grants(text), "").len(), 1);
        let channels = "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\nchannels = [{ name = \"in\", direction = \"receive\" }, { name = \"out\", direction = \"send\" }]\n";
        assert_eq!(scan(&grants(channels), "").len(), 1);
    }

    #[test]
    fn read_only_grants_and_missing_parts_are_not_a_trifecta() {
        for text in [
            // Only read grants: private data, nothing in, nothing out.
            "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\n",
            // State is the skill's own, not the user's private data.
            "files = [{ guest = \"/s\", host = \"{state}\", access = \"read-write\" }]\nnetwork = [\"https://a.example/\"]\n",
            // Untrusted input, but no way out.
            "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\nchannels = [{ name = \"in\", direction = \"receive\" }]\n",
            // A way out, but no untrusted input.
            "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\nchannels = [{ name = \"out\", direction = \"send\" }]\n",
            "network = [\"https://a.example/\"]\n",
        ] {
            assert!(scan(&grants(text), "").is_empty(), "{text}");
        }
    }
}
