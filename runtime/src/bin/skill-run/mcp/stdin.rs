//! Stdin as the MCP session reads it, with two jobs the SDK leaves to us:
//! a line that is not JSON (or not a JSON object) becomes a request the
//! server answers with a JSON-RPC error (-32700 / -32600) instead of being
//! dropped silently; and the end of input is signalled, so calls of a
//! client that closed our stdin are cancelled at once instead of finishing
//! (and committing state) for nobody.

use std::pin::Pin;
use std::task::{Context, Poll};

use serde_json::json;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// The method of the stand-in request for a bad line.
pub const BAD_INPUT_METHOD: &str = "skill-run/bad-input";

/// Lines longer than this are passed through unchecked (the SDK drops
/// lines over its own 16 MiB limit).
const MAX_CHECKED_LINE: usize = 16 * 1024 * 1024;

/// How long the stdio dispatch thread watches stdin before it sleeps.
const WATCH_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(250);

/// Called when the stdio dispatch thread has nothing left to run, just
/// before it sleeps in `epoll_wait`: watches stdin for up to
/// [`WATCH_BEFORE_SLEEP`] (asking the kernel how many bytes are waiting,
/// without reading them) and returns as soon as the client has written, so
/// the thread finds the next request without going to sleep and being woken
/// for it. A client that sends its next request within that time (one call
/// in flight, answered and followed at once) is served without a sleep and
/// wake-up per message, which on a virtual machine cost tens of
/// microseconds; an idle client costs 250 us of spinning per park, and the
/// thread parks about once a second then. The price: a result that a
/// worker thread finishes during the watch is sent when the watch ends, at
/// most 250 us late; calls run there only for a tool not yet measured quick
/// (its first two calls) or slower than 2 ms on average.
pub fn await_next_message_briefly() {
    #[cfg(target_os = "linux")]
    {
        let stdin = std::io::stdin();
        let started = std::time::Instant::now();
        while started.elapsed() < WATCH_BEFORE_SLEEP {
            match rustix::io::ioctl_fionread(&stdin) {
                Ok(0) => std::hint::spin_loop(),
                // Data waiting, or stdin is not something this can ask.
                _ => return,
            }
        }
    }
}

/// Wraps a reader; see the module docs.
pub struct StdinFilter<R> {
    inner: R,
    ended: CancellationToken,
    /// The incomplete line read so far.
    pending: Vec<u8>,
    /// Bytes ready for the reader, from `out_pos` on.
    out: Vec<u8>,
    out_pos: usize,
    /// Passing an over-long line through until its newline.
    passing: bool,
    eof: bool,
    bad_lines: u64,
}

impl<R> StdinFilter<R> {
    /// Filters `inner`; cancels `ended` at its end.
    pub fn new(inner: R, ended: CancellationToken) -> Self {
        StdinFilter {
            inner,
            ended,
            pending: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            passing: false,
            eof: false,
            bad_lines: 0,
        }
    }

    /// Appends the line itself to `out`, or a stand-in request for the
    /// error it deserves.
    fn check(out: &mut Vec<u8>, bad_lines: &mut u64, line: &[u8]) {
        let text = line.trim_ascii();
        if text.is_empty() {
            out.extend_from_slice(line);
            return;
        }
        let error = match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
            Ok(_) if text.first() == Some(&b'{') => {
                out.extend_from_slice(line);
                return;
            }
            Ok(_) => (
                -32600,
                "invalid request: a JSON-RPC message must be a JSON object".to_owned(),
            ),
            Err(e) => (-32700, format!("parse error: the line is not JSON ({e})")),
        };
        *bad_lines += 1;
        let mut stand_in = json!({
            "jsonrpc": "2.0",
            "id": format!("skill-run-bad-input-{bad_lines}"),
            "method": BAD_INPUT_METHOD,
            "params": {"code": error.0, "message": error.1},
        })
        .to_string()
        .into_bytes();
        stand_in.push(b'\n');
        out.append(&mut stand_in);
    }

    /// Moves complete lines from `pending` to `out`.
    fn take_lines(&mut self) {
        loop {
            if self.passing {
                match self.pending.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.out.extend(self.pending.drain(..=i));
                        self.passing = false;
                    }
                    None => {
                        self.out.append(&mut self.pending);
                        return;
                    }
                }
                continue;
            }
            match self.pending.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    Self::check(&mut self.out, &mut self.bad_lines, &self.pending[..=i]);
                    self.pending.drain(..=i);
                }
                None => {
                    if self.pending.len() > MAX_CHECKED_LINE {
                        self.out.append(&mut self.pending);
                        self.passing = true;
                    }
                    return;
                }
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StdinFilter<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                this.ended.cancel();
                if this.pending.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                // A last line without its newline.
                let line = std::mem::take(&mut this.pending);
                if this.passing {
                    this.out.extend(line);
                } else {
                    Self::check(&mut this.out, &mut this.bad_lines, &line);
                }
                continue;
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.ended.cancel();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => this.eof = true,
                Poll::Ready(Ok(())) => {
                    this.pending.extend_from_slice(read.filled());
                    this.take_lines();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn filtered(input: &[u8]) -> (String, bool) {
        let ended = CancellationToken::new();
        let mut reader = StdinFilter::new(input, ended.clone());
        let mut out = String::new();
        reader.read_to_string(&mut out).await.expect("read");
        (out, ended.is_cancelled())
    }

    #[tokio::test]
    async fn good_lines_pass_unchanged_and_the_end_is_signalled() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n\n";
        let (out, ended) = filtered(input).await;
        assert_eq!(out.as_bytes(), input);
        assert!(ended);
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_becomes_a_parse_error_request() {
        let (out, _) = filtered(b"{oops\n[1,2]\n{\"id\":2}").await;
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(lines[0]["method"], BAD_INPUT_METHOD);
        assert_eq!(lines[0]["params"]["code"], -32700);
        assert_eq!(lines[1]["params"]["code"], -32600);
        assert_eq!(lines[2]["id"], 2);
    }
}
