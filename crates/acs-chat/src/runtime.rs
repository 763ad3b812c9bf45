//! [`Runtime`]: the client's one seam to the async runtime (time, timers, background tasks), with
//! [`TokioRuntime`] behind the default `tokio` feature.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use acs_chat_protocol::DateTime;

/// A boxed future of a background task or a timer.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What the clients need from an async runtime: the time, a timer and a way to run a task in the
/// background. Retry backoff, timeouts, `Retry-After` dates, token expiry and the credential's
/// proactive refresh all go through it, so a test can drive them with a manual clock
/// ([`ManualClock`](crate::testing::ManualClock)) and an application can run the clients on any
/// executor.
///
/// [`TokioRuntime`] (feature `tokio`, on by default) is used unless
/// [`ChatClientBuilder::runtime`](crate::ChatClientBuilder::runtime) says otherwise.
pub trait Runtime: Send + Sync + fmt::Debug + 'static {
    /// The current time (the wall clock; token expiry and `Retry-After` dates are wall-clock
    /// times). The default reads `SystemTime::now`.
    fn now(&self) -> DateTime {
        system_now()
    }

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture;

    /// Runs `task` in the background; `false` when it cannot (no runtime is running).
    fn spawn(&self, task: BoxFuture) -> bool;
}

/// `SystemTime::now` as a [`DateTime`] (a clock before 1970 or after 9999 reads as the epoch
/// rather than panicking).
pub(crate) fn system_now() -> DateTime {
    DateTime::from_system_time(SystemTime::now()).unwrap_or(DateTime::UNIX_EPOCH)
}

/// `SystemTime::now` as nanoseconds since the Unix epoch (a clock before 1970 reads as the epoch):
/// one clock read and no calendar arithmetic, for the checks made on every call.
pub(crate) fn system_unix_nanos() -> i128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// `runtime`'s clock as nanoseconds since the Unix epoch. `system` says that the clock is
/// `SystemTime` (the default runtime's): it is then read directly, without going through a
/// [`DateTime`].
pub(crate) fn unix_nanos(runtime: &dyn Runtime, system: bool) -> i128 {
    if system {
        system_unix_nanos()
    } else {
        runtime.now().unix_timestamp_nanos()
    }
}

/// The tokio runtime the calls run on: `tokio::time::sleep` and `tokio::spawn` on the current
/// runtime (which must have its timer enabled).
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TokioRuntime;

#[cfg(feature = "tokio")]
impl Runtime for TokioRuntime {
    fn sleep(&self, duration: Duration) -> BoxFuture {
        Box::pin(tokio::time::sleep(duration))
    }

    fn spawn(&self, task: BoxFuture) -> bool {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                drop(handle.spawn(task));
                true
            }
            Err(_) => false,
        }
    }
}

/// The runtime a builder uses unless told otherwise.
pub(crate) fn default_runtime() -> Option<std::sync::Arc<dyn Runtime>> {
    #[cfg(feature = "tokio")]
    {
        Some(std::sync::Arc::new(TokioRuntime))
    }
    #[cfg(not(feature = "tokio"))]
    {
        None
    }
}
