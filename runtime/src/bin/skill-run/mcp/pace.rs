//! Where a tool's calls run. Over stdio the server's transport, dispatch and
//! quick calls share one thread (no hand-off between threads per message,
//! which costs more than a typed hello's whole invocation on a loaded
//! machine); a call that may compute for long runs on the worker threads
//! instead, so it cannot hold up the messages and calls of everyone else.
//!
//! A tool earns running inline by being measured: its first
//! [`MEASURED_CALLS`] calls run on the workers, and from then on it runs
//! inline while the moving average of its calls' wall time stays within
//! [`QUICK_LIMIT`]. A single call over [`HEAVY`] (it computed until a
//! limit, say) sends the tool to the workers for good, until its package is
//! reloaded (which makes a new entry). The average, not each call, decides,
//! because on a loaded machine a 30 us call is now and then preempted for
//! milliseconds.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The moving average above which a tool's calls run on the workers.
pub const QUICK_LIMIT: Duration = Duration::from_millis(2);

/// One call longer than this and the tool never runs inline again.
pub const HEAVY: Duration = Duration::from_millis(100);

/// Calls measured (on the workers) before a tool may run inline.
pub const MEASURED_CALLS: u32 = 2;

/// What has been seen of one tool's calls.
#[derive(Debug, Default)]
pub struct Pace {
    measured: AtomicU32,
    /// Exponential moving average of the wall time, in nanoseconds, each
    /// call weighing 1/8.
    average_ns: AtomicU64,
    heavy: AtomicBool,
}

impl Pace {
    /// Whether the next call may run on the dispatching thread.
    pub fn inline(&self) -> bool {
        !self.heavy.load(Ordering::Relaxed)
            && self.measured.load(Ordering::Relaxed) >= MEASURED_CALLS
            && self.average_ns.load(Ordering::Relaxed) <= QUICK_LIMIT.as_nanos() as u64
    }

    /// Records how long a call took. Concurrent calls may lose one
    /// another's update of the average; it is a hint, not an account.
    pub fn record(&self, took: Duration) {
        if took > HEAVY {
            self.heavy.store(true, Ordering::Relaxed);
        }
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let seen = self.measured.load(Ordering::Relaxed);
        let average = if seen == 0 {
            took
        } else {
            let old = self.average_ns.load(Ordering::Relaxed);
            old - old / 8 + took / 8
        };
        self.average_ns.store(average, Ordering::Relaxed);
        if seen < MEASURED_CALLS {
            self.measured.store(seen + 1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_micros(30);

    #[test]
    fn a_tool_runs_inline_only_once_measured_quick() {
        let pace = Pace::default();
        assert!(!pace.inline(), "an unmeasured tool runs on the workers");
        pace.record(QUICK);
        assert!(!pace.inline());
        pace.record(QUICK);
        assert!(pace.inline());
    }

    #[test]
    fn an_occasional_preemption_does_not_move_a_quick_tool() {
        let pace = Pace::default();
        for _ in 0..MEASURED_CALLS {
            pace.record(QUICK);
        }
        pace.record(Duration::from_millis(8));
        assert!(pace.inline(), "one 8 ms call among 30 us ones");
    }

    #[test]
    fn a_tool_that_is_slow_on_average_runs_on_the_workers_until_it_is_quick_again() {
        let pace = Pace::default();
        for _ in 0..20 {
            pace.record(Duration::from_millis(5));
        }
        assert!(!pace.inline());
        for _ in 0..40 {
            pace.record(QUICK);
        }
        assert!(pace.inline());
    }

    #[test]
    fn one_heavy_call_sends_a_tool_to_the_workers_for_good() {
        let pace = Pace::default();
        for _ in 0..MEASURED_CALLS {
            pace.record(QUICK);
        }
        pace.record(HEAVY + Duration::from_millis(1));
        for _ in 0..1000 {
            pace.record(QUICK);
        }
        assert!(!pace.inline());
    }
}
