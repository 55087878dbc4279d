//! A response body that replaces secret values as it streams, including
//! values split across chunks: it holds back only the tail that could still
//! be the start of a secret.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::secrets::Scrubber;

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

/// How many trailing bytes of `data` could begin a secret (and so must wait).
fn partial_tail(data: &[u8], scrubber: &Scrubber) -> usize {
    let longest = scrubber.longest();
    (1..longest.min(data.len() + 1))
        .rev()
        .find(|&k| scrubber.prefixes_match(&data[data.len() - k..]))
        .unwrap_or(0)
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
                let rest = this.scrubber.bytes(&std::mem::take(&mut this.pending));
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.finished = true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.pending.extend_from_slice(&data);
                        let scrubbed = this.scrubber.bytes(&this.pending);
                        let hold = partial_tail(&scrubbed, &this.scrubber);
                        let emit = scrubbed.len() - hold;
                        this.pending = scrubbed[emit..].to_vec();
                        if emit > 0 {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                                &scrubbed[..emit],
                            )))));
                        }
                    }
                    Err(frame) => {
                        // Trailers: values scrubbed like headers.
                        let frame = match frame.into_trailers() {
                            Ok(mut trailers) => {
                                super::http::scrub_headers(&mut trailers, &this.scrubber);
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
}
