//! Replaces secret values, and the encodings of them a server plausibly
//! applies, in whatever flows back to a skill or out of the runtime.
//!
//! The scrubber must not be an oracle. A skill that can make a server
//! reflect its own text (an echo endpoint, a 404 page quoting the path)
//! must learn nothing from scrubbing unless it already sent the whole
//! secret. So it never acts on partial matches: a streamed body is held
//! back by a fixed window (the longest pattern, less one byte) whatever
//! the bytes are, and only complete matches are replaced, always by the
//! same marker. What a skill sees of a chunk's size, and when, depends on
//! the server's chunks and complete matches only. Matching is one
//! Aho-Corasick pass (linear in the input, whatever it holds).
//!
//! Encodings covered, for each value: the value itself and reversed,
//! ASCII case ignored throughout (so upper-cased and upper-hex forms
//! too); hex; base64 and base64url at each of the three alignments a
//! value can have inside a longer encoded text, padded or not; URL
//! percent-encoding (reserved bytes only, or every byte; `+` for space);
//! JSON string escaping (also with `\/` and with every non-alphanumeric
//! byte as `\u00XX`); and HTML entities. A server that applies any other
//! transformation (encryption, compression, a hash, interleaving) hands
//! back something this cannot recognise: that is outside what a sandbox
//! can see, and the README says so.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::secrets::REDACTED;

/// Encoded forms shorter than this are not scrubbed: they would redact
/// ordinary text. (Values under 4 bytes are refused as secrets.)
const MIN_PATTERN: usize = 4;

/// The longest secret value used: longer ones are refused (not sent) so
/// the scrubber's patterns stay small.
pub(crate) const MAX_SECRET_BYTES: usize = 4096;

struct Patterns {
    automaton: AhoCorasick,
    /// The longest pattern, in bytes.
    longest: usize,
}

/// Replaces secrets (see the module documentation). Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Scrubber(Option<Arc<Patterns>>);

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64 characters that depend only on `value`'s bytes when it sits
/// `offset` bytes (0..3) into a longer encoded text.
fn base64_aligned(value: &[u8], offset: usize, alphabet: &[u8; 64]) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(value);
    let (start, end) = (offset, offset + value.len());
    let mut out = String::new();
    for (g, group) in padded.chunks(3).enumerate() {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // Character j of group g depends on these byte positions.
        let needs: [&[usize]; 4] = [&[0], &[0, 1], &[1, 2], &[2]];
        for (j, need) in needs.iter().enumerate() {
            let inside = need.iter().all(|k| (start..end).contains(&(3 * g + k)));
            if inside {
                out.push(alphabet[((v >> (18 - 6 * j)) & 63) as usize] as char);
            }
        }
    }
    out
}

/// Base64 of the value on its own, with `=` padding.
fn base64_padded(value: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for group in value.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for j in 0..4 {
            if j <= group.len() {
                out.push(alphabet[((v >> (18 - 6 * j)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent(value: &str, keep: impl Fn(u8) -> bool, space_plus: bool) -> String {
    value
        .bytes()
        .map(|b| match b {
            b' ' if space_plus => "+".to_owned(),
            b if keep(b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Every form of `value` that is scrubbed.
fn variants(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut out = vec![value.to_owned(), value.chars().rev().collect()];
    out.push(bytes.iter().map(|b| format!("{b:02x}")).collect());
    for alphabet in [STD, URL_SAFE] {
        for offset in 0..3 {
            out.push(base64_aligned(bytes, offset, alphabet));
        }
        out.push(base64_padded(bytes, alphabet));
    }
    out.push(percent(value, unreserved, false));
    out.push(percent(value, unreserved, true));
    out.push(percent(value, |_| false, false));
    if let Ok(json) = serde_json::to_string(value) {
        let inner = &json[1..json.len() - 1];
        out.push(inner.to_owned());
        out.push(inner.replace('/', "\\/"));
    }
    out.push(
        value
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    let mut units = [0u16; 2];
                    c.encode_utf16(&mut units)
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect()
                }
            })
            .collect(),
    );
    out.push(
        value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;"),
    );
    out.retain(|p| p.len() >= MIN_PATTERN);
    out.sort();
    out.dedup();
    out
}

impl Scrubber {
    /// A scrubber for `values` and their encodings.
    pub(crate) fn new(values: Vec<String>) -> Self {
        let patterns: Vec<String> = values
            .iter()
            .filter(|v| v.len() >= MIN_PATTERN)
            .flat_map(|v| variants(v))
            .collect();
        if patterns.is_empty() {
            return Scrubber(None);
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&patterns);
        // Secret values are at most MAX_SECRET_BYTES, so the patterns are
        // a few hundred kilobytes at most, far inside the automaton's limits.
        let automaton = automaton.expect("secret patterns fit aho-corasick's limits");
        Scrubber(Some(Arc::new(Patterns { automaton, longest })))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// How many trailing bytes a stream must hold back: the longest
    /// pattern less one, whatever the bytes are.
    pub(crate) fn window(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.longest.saturating_sub(1))
    }

    /// Scrubs the part of `buffer` that can be decided now: everything
    /// but the last [`Scrubber::window`] bytes, or all of it when the
    /// stream has `finished`. Returns the output and how many bytes of
    /// `buffer` it used.
    pub(crate) fn stream(&self, buffer: &[u8], finished: bool) -> (Vec<u8>, usize) {
        let Some(patterns) = &self.0 else {
            return (buffer.to_vec(), buffer.len());
        };
        let safe = if finished {
            buffer.len()
        } else {
            buffer.len().saturating_sub(self.window())
        };
        let mut out = Vec::with_capacity(safe);
        let mut used = 0;
        for m in patterns.automaton.find_iter(buffer) {
            // A match starting inside the decided part lies wholly in the
            // buffer (no pattern is longer than the window plus one).
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&buffer[used..m.start()]);
            out.extend_from_slice(REDACTED.as_bytes());
            used = m.end();
        }
        if used < safe {
            out.extend_from_slice(&buffer[used..safe]);
            used = safe;
        }
        (out, used)
    }

    /// `bytes` with every secret replaced.
    #[cfg(test)]
    pub(crate) fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.stream(bytes, true).0
    }

    /// `text` with every secret replaced.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.0 {
            Some(p) if p.automaton.is_match(text) => Cow::Owned(
                p.automaton
                    .replace_all(text, &[REDACTED].repeat(p.automaton.patterns_len())),
            ),
            _ => Cow::Borrowed(text),
        }
    }

    /// A JSON value with secrets replaced in every string and key.
    pub(crate) fn json(&self, value: serde_json::Value) -> serde_json::Value {
        let Some(patterns) = &self.0 else {
            return value;
        };
        if !patterns.automaton.is_match(&value.to_string()) {
            return value;
        }
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(self.text(&s).into_owned()),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(|v| self.json(v)).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k).into_owned(), self.json(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// Scrubs a header map in place: names holding a secret are dropped,
    /// and values are scrubbed as one text, in order, so a secret split
    /// across consecutive headers is found too (each part is redacted).
    pub(crate) fn headers(&self, headers: &mut http::HeaderMap) {
        let Some(patterns) = &self.0 else { return };
        let names: Vec<http::HeaderName> = headers.keys().cloned().collect();
        for name in names {
            if patterns.automaton.is_match(name.as_str()) {
                headers.remove(&name);
            }
        }
        // Every value, in order, and where it sits in the joined text.
        let mut joined = Vec::new();
        let mut spans = Vec::new();
        for (name, value) in headers.iter() {
            let start = joined.len();
            joined.extend_from_slice(value.as_bytes());
            spans.push((name.clone(), start, joined.len()));
        }
        let hits: Vec<(usize, usize)> = patterns
            .automaton
            .find_iter(&joined)
            .map(|m| (m.start(), m.end()))
            .collect();
        if hits.is_empty() {
            return;
        }
        let mut rebuilt = http::HeaderMap::with_capacity(headers.len());
        for (name, start, end) in spans {
            let original = &joined[start..end];
            let mut value = Vec::with_capacity(original.len());
            let mut at = start;
            for &(hs, he) in hits.iter().filter(|(hs, he)| *hs < end && *he > start) {
                let (hs, he) = (hs.max(start), he.min(end));
                if hs > at {
                    value.extend_from_slice(&joined[at..hs]);
                }
                value.extend_from_slice(REDACTED.as_bytes());
                at = at.max(he);
            }
            if at < end {
                value.extend_from_slice(&joined[at..end]);
            }
            let value = http::HeaderValue::from_bytes(&value)
                .unwrap_or_else(|_| http::HeaderValue::from_static(REDACTED));
            rebuilt.append(name, value);
        }
        *headers = rebuilt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubber_replaces_every_occurrence_in_text_bytes_and_json() {
        let s = Scrubber::new(vec!["s3cr3t-value".into()]);
        assert_eq!(
            s.text("Bearer s3cr3t-value and s3cr3t-value"),
            "Bearer [redacted] and [redacted]"
        );
        assert_eq!(s.bytes(b"xs3cr3t-valuex"), b"x[redacted]x");
        let v = serde_json::json!({"k": ["s3cr3t-value"], "s3cr3t-value": 1});
        assert_eq!(
            s.json(v),
            serde_json::json!({"k": ["[redacted]"], "[redacted]": 1})
        );
    }

    #[test]
    fn base64_forms_at_every_alignment_are_found() {
        let secret = "sk_live/7Qx9+key";
        let s = Scrubber::new(vec![secret.into()]);
        for prefix in ["", "a", "ab", "Bearer "] {
            let text = format!("{prefix}{secret}");
            let encoded = base64_padded(text.as_bytes(), STD);
            let scrubbed = s.text(&encoded).into_owned();
            assert!(
                scrubbed.contains(REDACTED),
                "{prefix:?}: {encoded} -> {scrubbed}"
            );
        }
    }

    #[test]
    fn streaming_holds_a_fixed_window_whatever_the_bytes() {
        let s = Scrubber::new(vec!["TOPSECRET".into()]);
        let window = s.window();
        for tail in [&b"TOPSE"[..], b"zzzzz", b"TOPSECRE"] {
            let mut buffer = b"0123456789".repeat(20);
            buffer.extend_from_slice(tail);
            let (out, used) = s.stream(&buffer, false);
            assert_eq!(used, buffer.len() - window, "{tail:?}");
            assert_eq!(out.len(), used);
        }
    }

    #[test]
    fn a_secret_split_across_headers_is_redacted_in_each_part() {
        let s = Scrubber::new(vec!["abcdef123456".into()]);
        let mut headers = http::HeaderMap::new();
        headers.insert("x-a", http::HeaderValue::from_static("abcdef"));
        headers.insert("x-b", http::HeaderValue::from_static("123456"));
        headers.insert("x-c", http::HeaderValue::from_static("plain"));
        s.headers(&mut headers);
        assert_eq!(headers["x-a"], REDACTED);
        assert_eq!(headers["x-b"], REDACTED);
        assert_eq!(headers["x-c"], "plain");
    }
}
