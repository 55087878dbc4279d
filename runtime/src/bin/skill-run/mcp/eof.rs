//! Stdin that says when it ends: a client that closes our stdin is gone,
//! so its calls still running are cancelled at once instead of finishing
//! (and committing state) for nobody.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// Wraps a reader; cancels `ended` when it reaches end of file or fails.
pub struct EofSignal<R> {
    inner: R,
    ended: CancellationToken,
}

impl<R> EofSignal<R> {
    /// Watches `inner`.
    pub fn new(inner: R, ended: CancellationToken) -> Self {
        EofSignal { inner, ended }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                self.ended.cancel();
            }
            Poll::Ready(Err(_)) => self.ended.cancel(),
            _ => {}
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn end_of_input_cancels_the_token_and_data_does_not() {
        let ended = CancellationToken::new();
        let mut reader = EofSignal::new(&b"abc"[..], ended.clone());
        let mut buf = [0u8; 2];
        assert_eq!(reader.read(&mut buf).await.expect("read"), 2);
        assert!(!ended.is_cancelled());
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.expect("read");
        assert_eq!(rest, b"c");
        assert!(ended.is_cancelled());
    }
}
