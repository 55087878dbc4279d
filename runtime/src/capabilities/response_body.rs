//! What happens to a response body on its way to a skill: it is cut at
//! `limits.http-response`, and, for responses from a host a secret is
//! declared for, secret values are replaced as it streams. Values split
//! across chunks are found too: a fixed window of trailing bytes (the
//! scrubber's longest pattern, less one) is held back whatever the bytes
//! are, so how a body is chunked never tells whether it ends with the
//! beginning of a secret.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::secrets::Scrubber;

/// Ends a body with an error, and flags the limit, once more than `limit`
/// bytes have come through.
pub(crate) struct LimitedBody {
    inner: WasiBody,
    remaining: u64,
    limit: u64,
    flag: crate::capabilities::limits::LimitFlag,
}

impl LimitedBody {
    pub(crate) fn new(
        inner: WasiBody,
        limit: u64,
        flag: crate::capabilities::limits::LimitFlag,
    ) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            limit,
            flag,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let size = frame.data_ref().map_or(0, |d| d.len() as u64);
                if size > this.remaining {
                    this.flag
                        .set(crate::capabilities::limits::LimitKind::HttpResponse);
                    return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                        this.limit,
                    )))));
                }
                this.remaining -= size;
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }
}

/// Wraps a response body; see the module documentation.
pub(crate) struct ScrubBody {
    inner: WasiBody,
    scrubber: Scrubber,
    pending: Vec<u8>,
    finished: bool,
}

impl ScrubBody {
    pub(crate) fn new(inner: WasiBody, scrubber: Scrubber) -> Self {
        ScrubBody {
            inner,
            scrubber,
            pending: Vec::new(),
            finished: false,
        }
    }
}

impl Body for ScrubBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        loop {
            if this.finished {
                if this.pending.is_empty() {
                    return Poll::Ready(None);
                }
                let (rest, _) = this
                    .scrubber
                    .stream(&std::mem::take(&mut this.pending), true);
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.finished = true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.pending.extend_from_slice(&data);
                        let (out, used) = this.scrubber.stream(&this.pending, false);
                        this.pending.drain(..used);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                    }
                    Err(frame) => {
                        // Trailers: values scrubbed like headers.
                        let frame = match frame.into_trailers() {
                            Ok(mut trailers) => {
                                this.scrubber.headers(&mut trailers);
                                Frame::trailers(trailers)
                            }
                            Err(other) => other,
                        };
                        return Poll::Ready(Some(Ok(frame.map_data(|d: Bytes| d))));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use http_body_util::BodyExt;

    use super::*;

    /// A body that yields the given chunks.
    struct Chunks(VecDeque<&'static [u8]>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = HttpError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|c| Ok(Frame::data(Bytes::from_static(c)))),
            )
        }
    }

    fn scrubbed(chunks: &[&'static [u8]]) -> Vec<u8> {
        let inner = Chunks(chunks.iter().copied().collect()).boxed_unsync();
        let body = ScrubBody::new(inner, Scrubber::new(vec!["TOPSECRET".into()]));
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt")
            .block_on(body.collect());
        collected.expect("body").to_bytes().to_vec()
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_replaced() {
        assert_eq!(scrubbed(&[b"key=TOP", b"SEC", b"RET;"]), b"key=[redacted];");
        assert_eq!(scrubbed(&[b"TOPSECRETTOPSECRET"]), b"[redacted][redacted]");
        assert_eq!(scrubbed(&[b"TOPSE", b"CRAP and TOP"]), b"TOPSECRAP and TOP");
    }

    /// The sizes of the chunks a skill receives.
    fn chunk_sizes(chunks: &[&'static [u8]]) -> Vec<usize> {
        let inner = Chunks(chunks.iter().copied().collect()).boxed_unsync();
        let mut body = ScrubBody::new(inner, Scrubber::new(vec!["TOPSECRET".into()]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let mut sizes = Vec::new();
        while let Some(frame) = runtime.block_on(body.frame()) {
            sizes.push(frame.expect("frame").into_data().map_or(0, |d| d.len()));
        }
        sizes
    }

    #[test]
    fn chunking_does_not_tell_a_prefix_of_a_secret_from_other_bytes() {
        let padding: &'static [u8] = &[b'.'; 300];
        for candidate in [&b"T"[..], b"TOP", b"TOPSECRE", b"xxxxxxxx", b"Q"] {
            let leaked: &'static [u8] = Box::leak(candidate.to_vec().into_boxed_slice());
            let reference = chunk_sizes(&[padding, &b"zzzzzzzz"[..leaked.len()], b"end"]);
            assert_eq!(
                chunk_sizes(&[padding, leaked, b"end"]),
                reference,
                "{:?}",
                String::from_utf8_lossy(candidate)
            );
        }
    }
}
