//! Bounded output: the byte budget behind `limits.output`, and the stdout /
//! stderr streams that spend it. The host never holds more than the budget,
//! whatever the skill writes.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::capabilities::limits::LimitKind;

/// The trap payload when a skill runs into a limit; the invocation maps it
/// to [`crate::Failure::Limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitExceeded(pub LimitKind);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} limit exceeded", self.0)
    }
}

impl std::error::Error for LimitExceeded {}

/// How many bytes a skill may still emit.
#[derive(Debug)]
pub(crate) struct OutputBudget {
    limit: u64,
    used: AtomicU64,
}

impl OutputBudget {
    pub(crate) fn new(limit: u64) -> Arc<Self> {
        Arc::new(OutputBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Spends `n` bytes, or fails with [`LimitExceeded`] when that would go
    /// over the limit (and then spends nothing).
    pub(crate) fn consume(&self, n: u64) -> Result<(), LimitExceeded> {
        let mut used = self.used.load(Ordering::SeqCst);
        loop {
            let next = used.saturating_add(n);
            if next > self.limit {
                return Err(LimitExceeded(LimitKind::Output));
            }
            match self
                .used
                .compare_exchange(used, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(actual) => used = actual,
            }
        }
    }

    /// Bytes spent so far.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }
}

/// A captured stdout or stderr. Every byte spends the shared budget; at most
/// `keep` bytes are held, the rest counted and dropped.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    keep: usize,
    truncated: Arc<AtomicU64>,
    budget: Arc<OutputBudget>,
}

impl CapturedOutput {
    pub(crate) fn new(budget: Arc<OutputBudget>, keep: usize) -> Self {
        CapturedOutput {
            buffer: Arc::default(),
            keep,
            truncated: Arc::default(),
            budget,
        }
    }

    /// What was kept, and how many bytes were dropped past `keep`.
    pub(crate) fn contents(&self) -> (Vec<u8>, u64) {
        let buffer = self
            .buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (buffer, self.truncated.load(Ordering::SeqCst))
    }

    fn write_bytes(&self, bytes: &[u8]) -> Result<(), LimitExceeded> {
        self.budget.consume(bytes.len() as u64)?;
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.keep.saturating_sub(buffer.len());
        let kept = room.min(bytes.len());
        buffer.extend_from_slice(&bytes[..kept]);
        self.truncated
            .fetch_add((bytes.len() - kept) as u64, Ordering::SeqCst);
        Ok(())
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        // A trap, not an error the guest could swallow and keep writing past.
        self.write_bytes(&bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            self.write_bytes(buf)
                .map(|()| buf.len())
                .map_err(std::io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_the_write_that_would_cross_the_limit() {
        let budget = OutputBudget::new(10);
        assert!(budget.consume(6).is_ok());
        assert_eq!(budget.consume(5), Err(LimitExceeded(LimitKind::Output)));
        assert!(budget.consume(4).is_ok());
        assert_eq!(budget.used(), 10);
    }

    #[test]
    fn capture_keeps_at_most_keep_bytes_but_counts_all() {
        let budget = OutputBudget::new(100);
        let out = CapturedOutput::new(budget.clone(), 4);
        assert!(out.write_bytes(b"hello world").is_ok());
        let (kept, dropped) = out.contents();
        assert_eq!(kept, b"hell");
        assert_eq!(dropped, 7);
        assert_eq!(budget.used(), 11);
    }
}
