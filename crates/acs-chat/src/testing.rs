//! Test helpers: [`ManualClock`], a [`Runtime`] whose time moves only when told to, so retry
//! backoff, timeouts and token refresh can be tested without waiting in real time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use acs_chat_protocol::DateTime;

use crate::runtime::{BoxFuture, Runtime};

/// A clock that moves only when told to.
///
/// - `now` returns the current manual time.
/// - `sleep` records every duration slept ([`sleeps`](Self::sleeps)); a sleep starts when it is
///   first polled. In *auto-advance* mode (the default) a sleep moves the clock forward by its
///   duration and completes at once, like tokio's paused time; otherwise it completes once
///   [`advance`](Self::advance) has moved the clock past its deadline.
/// - `spawn` keeps spawned tasks; [`run_tasks`](Self::run_tasks) polls them once.
///
/// Give it to a client with [`ChatClientBuilder::runtime`](crate::ChatClientBuilder::runtime).
///
/// Cheap to clone; clones share the time.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<State>>,
}

struct State {
    now: DateTime,
    auto_advance: bool,
    sleeps: Vec<Duration>,
    wakers: Vec<Waker>,
    tasks: Vec<BoxFuture>,
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("ManualClock")
            .field("now", &s.now)
            .field("auto_advance", &s.auto_advance)
            .field("sleeps", &s.sleeps)
            .field("tasks", &s.tasks.len())
            .finish()
    }
}

impl ManualClock {
    /// A clock at `now`, in auto-advance mode.
    pub fn new(now: DateTime) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                now,
                auto_advance: true,
                sleeps: Vec::new(),
                wakers: Vec::new(),
                tasks: Vec::new(),
            })),
        }
    }

    /// Whether a sleep advances the clock by itself (default `true`).
    pub fn set_auto_advance(&self, auto: bool) {
        self.lock().auto_advance = auto;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward and wakes the sleeps whose deadline has come.
    pub fn advance(&self, by: Duration) {
        let wakers = {
            let mut s = self.lock();
            s.now = s.now.checked_add(by).unwrap_or(s.now);
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Every duration slept so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// How many spawned tasks are still pending.
    pub fn pending_tasks(&self) -> usize {
        self.lock().tasks.len()
    }

    /// Polls every spawned task once (with a no-op waker), keeping those still pending.
    pub fn run_tasks(&self) {
        let mut tasks = std::mem::take(&mut self.lock().tasks);
        let mut cx = Context::from_waker(Waker::noop());
        tasks.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
        let mut s = self.lock();
        tasks.append(&mut s.tasks);
        s.tasks = tasks;
    }
}

impl Runtime for ManualClock {
    fn now(&self) -> DateTime {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture {
        Box::pin(ManualSleep {
            clock: self.clone(),
            duration,
            deadline: None,
        })
    }

    fn spawn(&self, task: BoxFuture) -> bool {
        self.lock().tasks.push(task);
        true
    }
}

/// Starts (is recorded, and advances the clock in auto-advance mode) when first polled, so a
/// timeout that loses a race against a ready response leaves no trace.
struct ManualSleep {
    clock: ManualClock,
    duration: Duration,
    deadline: Option<DateTime>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let clock = self.clock.clone();
        let mut s = clock.lock();
        let deadline = match self.deadline {
            Some(d) => d,
            None => {
                s.sleeps.push(self.duration);
                let d = s.now.checked_add(self.duration).unwrap_or(s.now);
                if s.auto_advance {
                    s.now = s.now.max(d);
                }
                self.deadline = Some(d);
                d
            }
        };
        if s.now >= deadline {
            Poll::Ready(())
        } else {
            s.wakers.push(cx.waker().clone());
            Poll::Pending
        }
    }
}
