//! Fault injection for client tests: fail, delay or drop the next requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One injected fault, applied to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and an error body (and `Retry-After` when set), without
    /// touching the state.
    Fail {
        /// The HTTP status.
        status: u16,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Close the connection without an answer (the request is not handled).
    Drop,
    /// Panic while handling the request, holding the store: the request gets a 500 and the
    /// emulator goes on (tests its panic isolation).
    Panic,
}

/// A queue of faults shared with a running emulator: each request takes the next fault, if
/// any. Clones share the queue.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<VecDeque<Fault>>,
    /// The queue's length, written under its lock: a request finds an empty queue without
    /// taking the lock (every request looks, from every worker thread).
    len: AtomicUsize,
}

/// The queue, locked; `len` is brought up to date when it is let go.
struct Locked<'a> {
    queue: MutexGuard<'a, VecDeque<Fault>>,
    len: &'a AtomicUsize,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.len.store(self.queue.len(), Ordering::Release);
    }
}

impl FaultInjector {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Locked<'_> {
        Locked {
            queue: self
                .shared
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            len: &self.shared.len,
        }
    }

    fn push_n(&self, n: usize, fault: Fault) {
        self.lock().queue.extend(std::iter::repeat_n(fault, n));
    }

    /// Queues one fault.
    pub fn push(&self, fault: Fault) {
        self.push_n(1, fault);
    }

    /// The next `n` requests fail with `status` (e.g. 503).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.push_n(
            n,
            Fault::Fail {
                status,
                retry_after: None,
            },
        );
    }

    /// The next `n` requests fail with `status` and `Retry-After: <seconds>`.
    pub fn fail_next_with_retry_after(&self, n: usize, status: u16, seconds: u64) {
        self.push_n(
            n,
            Fault::Fail {
                status,
                retry_after: Some(seconds),
            },
        );
    }

    /// The next `n` requests are delayed by `delay`.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.push_n(n, Fault::Delay(delay));
    }

    /// The next `n` requests get their connection closed without an answer.
    pub fn drop_next(&self, n: usize) {
        self.push_n(n, Fault::Drop);
    }

    /// The next `n` requests panic inside the emulator (each answered with a 500).
    pub fn panic_next(&self, n: usize) {
        self.push_n(n, Fault::Panic);
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.lock().queue.clear();
    }

    /// How many faults are still queued.
    pub fn pending(&self) -> usize {
        self.lock().queue.len()
    }

    pub(crate) fn take(&self) -> Option<Fault> {
        if self.shared.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.lock().queue.pop_front()
    }
}

/// The error code and message of an injected failure with `status`.
pub(crate) fn describe(status: u16) -> (&'static str, &'static str) {
    match status {
        429 => ("TooManyRequests", "Rate limit exceeded."),
        500 => (
            "InternalServerError",
            "An internal server error occurred (injected).",
        ),
        502 => ("BadGateway", "Bad gateway (injected)."),
        503 => (
            "ServiceUnavailable",
            "The server is currently unable to handle the request.",
        ),
        504 => ("GatewayTimeout", "Gateway timeout (injected)."),
        _ => ("InjectedFault", "A fault was injected into this request."),
    }
}
