//! The client's seams to time, timers, tasks and randomness: [`Clock`], [`Sleep`], [`Spawn`]
//! and [`Jitter`], with defaults on `SystemTime`, tokio and `fastrand`, and a
//! [`ManualClock`](crate::testing::ManualClock) for tests.

use std::fmt;
use std::time::{Duration, SystemTime};

use acs_chat_protocol::DateTime;
use futures::future::BoxFuture;

/// Tells the time. Injected so that token expiry and `Retry-After` dates are testable.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime;
}

/// Waits. Injected so that backoff and proactive token refresh are testable without waiting.
pub trait Sleep: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Runs a background task (the credential's proactive refresh).
pub trait Spawn: Send + Sync + fmt::Debug {
    /// Runs `task` in the background; returns `false` when it cannot (no runtime).
    fn spawn(&self, task: BoxFuture<'static, ()>) -> bool;
}

/// Draws the random factor of backoff jitter.
pub trait Jitter: Send + Sync + fmt::Debug {
    /// A number in `[0, 1)`.
    fn sample(&self) -> f64;
}

/// The system clock (`SystemTime::now`).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime {
        // SystemTime::now() is always representable (it is between 1970 and 9999 on any sane
        // machine); fall back to the epoch rather than panic.
        DateTime::from_system_time(SystemTime::now()).unwrap_or(DateTime::UNIX_EPOCH)
    }
}

/// `tokio::time::sleep` (needs a tokio runtime with the timer enabled).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// `tokio::spawn` on the current runtime, when there is one.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TokioSpawn;

impl Spawn for TokioSpawn {
    fn spawn(&self, task: BoxFuture<'static, ()>) -> bool {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                drop(handle.spawn(task));
                true
            }
            Err(_) => false,
        }
    }
}

/// Uniform jitter from `fastrand`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn sample(&self) -> f64 {
        fastrand::f64()
    }
}

/// A fixed jitter factor (tests, or a deterministic backoff); clamped to `[0, 1]`.
#[derive(Debug, Clone, Copy)]
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn sample(&self) -> f64 {
        if self.0.is_nan() {
            0.0
        } else {
            self.0.clamp(0.0, 1.0)
        }
    }
}
