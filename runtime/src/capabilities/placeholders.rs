//! Secrets exposed as placeholders (`expose = "env"` on a `secrets` entry).
//!
//! The skill's environment holds, under the secret's name, a placeholder
//! made fresh for each invocation from the operating system's CSPRNG
//! (`skill-run-secret-<NAME>-<32 hex digits>`). The skill never holds the
//! value: in each outgoing request the host looks for the placeholders in
//! the method, the URL, every header and the body. A placeholder whose
//! secret applies to the request (its exact host, path prefix, https or a
//! loopback IP literal) is replaced by the value: as is in header values and
//! the body, percent-encoded in the URL (what a script that encoded the real
//! value would have sent). Any other placeholder found (ASCII case ignored)
//! refuses the whole request before a byte of it is sent, audited with the
//! secret, the host and the fix.
//!
//! Bodies: a request that could carry a placeholder it may not is read whole
//! (within `limits.http-request-body`) before it is sent, so a refused
//! request never reaches its server; a body that declares its length is
//! read whole too, so the new `Content-Length` can be written. Any other
//! body (streamed to a secret's host) is rewritten as it streams, holding
//! back a placeholder's length less one byte, so a placeholder split across
//! chunks is still found.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// How every placeholder starts.
pub const PREFIX: &str = "skill-run-secret-";

/// How many random bytes a placeholder carries (written as 32 hex digits).
const RANDOM_BYTES: usize = 16;

/// A fresh placeholder for secret `name`: [`PREFIX`], the name, `-` and 32
/// hex digits from the operating system's CSPRNG. It never contains `value`
/// (ASCII case ignored); `None` when it cannot avoid it (a value that is
/// part of the fixed text) or the OS has no randomness.
pub(crate) fn new_placeholder(name: &str, value: &str) -> Option<String> {
    for _ in 0..8 {
        let mut random = [0u8; RANDOM_BYTES];
        getrandom::fill(&mut random).ok()?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("{PREFIX}{name}-{hex}");
        if !contains_ignore_case(text.as_bytes(), value.as_bytes()) {
            return Some(text);
        }
    }
    None
}

/// Whether `needle` occurs in `haystack`, ASCII case ignored.
pub(crate) fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack
            .windows(needle.len())
            .any(|w| w[0].eq_ignore_ascii_case(&needle[0]) && w.eq_ignore_ascii_case(needle))
}

/// The first position of `needle` in `haystack` (exact bytes).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One placeholder to replace: its text and the secret's value.
#[derive(Clone)]
pub(crate) struct Pair {
    /// The secret's name (for the audit).
    pub secret: String,
    placeholder: Box<[u8]>,
    value: Box<[u8]>,
}

impl Pair {
    /// Replace `placeholder` by `value` (for the secret `secret`).
    pub(crate) fn new(secret: &str, placeholder: &str, value: &str) -> Pair {
        Pair {
            secret: secret.to_owned(),
            placeholder: placeholder.as_bytes().into(),
            value: value.as_bytes().into(),
        }
    }
}

/// The placeholders one request replaces, all found in one pass.
#[derive(Clone, Default)]
pub(crate) struct Substitution(Arc<[Pair]>);

impl Substitution {
    /// Replaces each pair's placeholder by its value.
    pub(crate) fn new(pairs: Vec<Pair>) -> Substitution {
        Substitution(pairs.into())
    }

    /// Whether there is nothing to replace.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The longest placeholder's length.
    fn longest(&self) -> usize {
        self.0
            .iter()
            .map(|p| p.placeholder.len())
            .max()
            .unwrap_or(0)
    }

    /// The earliest complete placeholder in `data` at or after `from`:
    /// its position and pair.
    fn next(&self, data: &[u8], from: usize) -> Option<(usize, &Pair)> {
        let mut at = from;
        while let Some(found) = find(&data[at..], PREFIX.as_bytes()) {
            let start = at + found;
            if let Some(pair) = self
                .0
                .iter()
                .find(|p| data[start..].starts_with(&p.placeholder))
            {
                return Some((start, pair));
            }
            at = start + 1;
        }
        None
    }

    /// Every placeholder in `data` replaced by its value (`encode` writes
    /// a value), up to the end of the last one: what was written, how much
    /// of `data` it covers, and the secrets replaced; `None` when there is
    /// none.
    fn rewrite(
        &self,
        data: &[u8],
        encode: impl Fn(&[u8], &mut Vec<u8>),
    ) -> Option<(Vec<u8>, usize, Vec<String>)> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        let mut copied = 0;
        while let Some((start, pair)) = self.next(data, copied) {
            out.extend_from_slice(&data[copied..start]);
            encode(&pair.value, &mut out);
            if !names.contains(&pair.secret) {
                names.push(pair.secret.clone());
            }
            copied = start + pair.placeholder.len();
        }
        (!names.is_empty()).then_some((out, copied, names))
    }

    /// All of `data` rewritten, or `None` when it holds no placeholder.
    fn rewrite_all(
        &self,
        data: &[u8],
        encode: impl Fn(&[u8], &mut Vec<u8>),
    ) -> Option<(Vec<u8>, Vec<String>)> {
        let (mut out, copied, names) = self.rewrite(data, encode)?;
        out.extend_from_slice(&data[copied..]);
        Some((out, names))
    }

    /// `data` with every placeholder replaced by its value as is (headers,
    /// bodies), and the secrets replaced; `None` when there is none.
    pub(crate) fn replace(&self, data: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
        self.rewrite_all(data, |value, out| out.extend_from_slice(value))
    }

    /// A URL with every placeholder replaced by its value percent-encoded
    /// (every byte but `A-Z a-z 0-9 - . _ ~`), so a value cannot add a
    /// path segment, a query parameter or a fragment; `None` when there is
    /// none.
    pub(crate) fn replace_in_url(&self, url: &str) -> Option<(String, Vec<String>)> {
        let (bytes, names) = self.rewrite_all(url.as_bytes(), |value, out| {
            for &b in value {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("%{b:02X}").as_bytes());
                }
            }
        })?;
        // Only ASCII was added to a string, and whole placeholders (ASCII)
        // were removed, so this is still UTF-8.
        String::from_utf8(bytes).ok().map(|text| (text, names))
    }
}

/// Hears, once, the names of the secrets a streamed body first replaced.
pub(crate) type OnReplace = Box<dyn FnOnce(&[String]) + Send>;

/// A request body whose placeholders are replaced as it streams: each
/// chunk is appended to what was held back, every complete placeholder is
/// replaced, and the last (longest placeholder - 1) bytes are held back,
/// since a placeholder may continue in the next chunk.
pub(crate) struct SubstituteBody {
    inner: WasiBody,
    substitution: Substitution,
    held: BytesMut,
    /// Called once, with the secrets' names, when a first placeholder is replaced.
    on_replace: Option<OnReplace>,
    ended: bool,
}

impl SubstituteBody {
    /// `inner` with `substitution` applied; `on_replace` hears of the first
    /// replacement.
    pub(crate) fn new(inner: WasiBody, substitution: Substitution, on_replace: OnReplace) -> Self {
        SubstituteBody {
            inner,
            substitution,
            held: BytesMut::new(),
            on_replace: Some(on_replace),
            ended: false,
        }
    }

    /// What may go out of `held` now (all of it at the end).
    fn release(&mut self, end: bool) -> Bytes {
        let data = self.held.split().freeze();
        let (mut out, copied) = match self
            .substitution
            .rewrite(&data, |value, out| out.extend_from_slice(value))
        {
            Some((out, copied, names)) => {
                if let Some(note) = self.on_replace.take() {
                    note(&names);
                }
                (out, copied)
            }
            None => (Vec::new(), 0),
        };
        let rest = &data[copied..];
        let keep = if end {
            0
        } else {
            rest.len()
                .min(self.substitution.longest().saturating_sub(1))
        };
        out.extend_from_slice(&rest[..rest.len() - keep]);
        self.held.extend_from_slice(&rest[rest.len() - keep..]);
        Bytes::from(out)
    }
}

impl Body for SubstituteBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.held.extend_from_slice(&data);
                        let out = this.release(false);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        // Trailers: the data held back goes first, then
                        // the trailers with their placeholders replaced.
                        this.ended = true;
                        let out = this.release(true);
                        let mut trailers = frame.into_trailers().unwrap_or_default();
                        replace_in_headers(&this.substitution, &mut trailers);
                        if out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                        }
                        // One frame per poll: the trailers follow at the
                        // next poll through a fresh inner body.
                        let tail = http_body_util::Empty::<Bytes>::new()
                            .map_err(|never| match never {})
                            .with_trailers(async move { Some(Ok(trailers)) });
                        this.inner = http_body_util::BodyExt::boxed_unsync(tail);
                        this.ended = false;
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                },
                Poll::Ready(None) => {
                    this.ended = true;
                    let out = this.release(true);
                    if out.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.held.is_empty() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        // The length changes wherever a placeholder is replaced.
        http_body::SizeHint::default()
    }
}

/// Replaces placeholders in every value of `headers` (a value that would
/// no longer be a valid header value is left as it was). The secrets
/// replaced, and the names of headers whose new value is invalid.
pub(crate) fn replace_in_headers(
    substitution: &Substitution,
    headers: &mut http::HeaderMap,
) -> (Vec<String>, Vec<String>) {
    let (mut replaced, mut invalid) = (Vec::new(), Vec::new());
    if substitution.is_empty() {
        return (replaced, invalid);
    }
    for (name, value) in headers.iter_mut() {
        let Some((bytes, names)) = substitution.replace(value.as_bytes()) else {
            continue;
        };
        match http::HeaderValue::from_bytes(&bytes) {
            Ok(mut new) => {
                new.set_sensitive(true);
                *value = new;
                for n in names {
                    if !replaced.contains(&n) {
                        replaced.push(n);
                    }
                }
            }
            Err(_) => invalid.push(name.to_string()),
        }
    }
    (replaced, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "skill-run-secret-KEY-0123456789abcdef0123456789abcdef";
    const Q: &str = "skill-run-secret-OTHER-fedcba9876543210fedcba9876543210";

    fn substitution() -> Substitution {
        Substitution::new(vec![
            Pair::new("KEY", P, "real-value-1"),
            Pair::new("OTHER", Q, "v2"),
        ])
    }

    #[test]
    fn placeholders_are_fresh_fixed_length_and_never_hold_the_value() {
        let a = new_placeholder("KEY", "s3cr3t-value").expect("random");
        let b = new_placeholder("KEY", "s3cr3t-value").expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + "KEY-".len() + 32);
        assert_eq!(a.len(), b.len());
        assert!(a.starts_with("skill-run-secret-KEY-"));
        assert!(a[PREFIX.len() + 4..].bytes().all(|c| c.is_ascii_hexdigit()));
        // A value that is part of the fixed text cannot be avoided.
        assert!(new_placeholder("KEY", "run-secret").is_none());
        assert!(new_placeholder("KEY", "SKILL-RUN").is_none());
    }

    #[test]
    fn several_occurrences_and_both_secrets_are_replaced() {
        let text = format!("a {P} b {Q}{P} c skill-run-secret-KEY-short {P}");
        let (out, names) = substitution().replace(text.as_bytes()).expect("found");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "a real-value-1 b v2real-value-1 c skill-run-secret-KEY-short real-value-1"
        );
        assert_eq!(names, vec!["KEY".to_string(), "OTHER".to_string()]);
        assert!(substitution().replace(b"nothing here").is_none());
        // Case matters for replacement (detection of foreign ones ignores it).
        assert!(
            substitution()
                .replace(P.to_lowercase().as_bytes())
                .is_none()
        );
        assert!(contains_ignore_case(
            format!("x{}y", P.to_uppercase()).as_bytes(),
            P.as_bytes()
        ));
        assert!(!contains_ignore_case(
            b"skill-run-secret-KEY-",
            P.as_bytes()
        ));
    }

    #[test]
    fn a_value_in_a_url_is_percent_encoded() {
        let s = Substitution::new(vec![Pair::new("KEY", P, "a/b?c=d&e#f g")]);
        let (url, _) = s
            .replace_in_url(&format!("https://h.example/x/{P}?k={P}"))
            .expect("found");
        assert_eq!(
            url,
            "https://h.example/x/a%2Fb%3Fc%3Dd%26e%23f%20g?k=a%2Fb%3Fc%3Dd%26e%23f%20g"
        );
    }

    /// A body of ready frames.
    struct Frames(std::collections::VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = HttpError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn stream(chunks: Vec<&'static [u8]>, trailers: bool) -> (Vec<u8>, Option<http::HeaderMap>) {
        let mut frames: std::collections::VecDeque<Frame<Bytes>> = chunks
            .into_iter()
            .map(|c| Frame::data(Bytes::from_static(c)))
            .collect();
        if trailers {
            let mut t = http::HeaderMap::new();
            t.insert("x-sig", P.parse().expect("value"));
            frames.push_back(Frame::trailers(t));
        }
        let body = SubstituteBody::new(
            Frames(frames).boxed_unsync(),
            substitution(),
            Box::new(|_| {}),
        );
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio")
            .block_on(async {
                let collected = body.collect().await.expect("body");
                let trailers = collected.trailers().cloned();
                (collected.to_bytes().to_vec(), trailers)
            })
    }

    #[test]
    fn a_placeholder_split_across_chunks_is_replaced() {
        let p: &'static [u8] = P.as_bytes();
        // Split at every position, and one byte per chunk.
        for cut in 1..p.len() {
            let (first, second) = p.split_at(cut);
            let (out, _) = stream(vec![b"<<", first, second, b">>"], false);
            assert_eq!(out, b"<<real-value-1>>", "cut at {cut}");
        }
        let bytes: Vec<&'static [u8]> = p.chunks(1).collect();
        let (out, _) = stream(bytes, false);
        assert_eq!(out, b"real-value-1");
        // Text that only starts like a placeholder is released whole at the end.
        let (out, _) = stream(vec![b"abc skill-run-secret-KE"], false);
        assert_eq!(out, b"abc skill-run-secret-KE");
        // Trailers come after the data held back, replaced too.
        let (out, trailers) = stream(vec![b"x", &p[..10]], true);
        assert_eq!(out, [b"x", &p[..10]].concat());
        assert_eq!(trailers.expect("trailers")["x-sig"], "real-value-1");
    }
}
