//! What happens to a request body on its way out: it is cut at
//! `limits.http-request-body`. The first byte over the limit ends the
//! body with an error (the server sees an unfinished request, never a
//! complete one over the limit) and flags the limit, so the invocation
//! ends with exit 3.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::limits::LimitKind;
use crate::capabilities::limits::LimitFlag;

/// A request body cut at `limit` bytes.
pub(crate) struct LimitedRequestBody {
    inner: WasiBody,
    remaining: u64,
    limit: u64,
    flag: LimitFlag,
}

impl LimitedRequestBody {
    pub(crate) fn new(inner: WasiBody, limit: u64, flag: LimitFlag) -> Self {
        LimitedRequestBody {
            inner,
            remaining: limit,
            limit,
            flag,
        }
    }
}

impl Body for LimitedRequestBody {
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
                    this.flag.set(LimitKind::HttpRequestBody);
                    return Poll::Ready(Some(Err(HttpError::HttpRequestBodySize(Some(
                        this.limit,
                    )))));
                }
                this.remaining -= size;
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
