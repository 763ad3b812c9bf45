//! HTTP/2 connections the transport holds itself, one per origin: a *lane*.
//!
//! hyper-util's pooled client checks a connection out of its pool for every request, HTTP/2
//! too: a lock, a SipHash of the origin, the connection's `Connected` details copied into
//! the response's extensions, the request future boxed and moved, and the connection
//! handed back. That is about 4 500 instructions a request, 3 % of a whole send-message
//! exchange (client and server) measured with callgrind. An HTTP/2 connection needs none of
//! it: its `SendRequest` is shared by all requests. A lane keeps that `SendRequest` and
//! sends on it directly.
//!
//! What the pool did for HTTP/2 and a lane does too:
//! - one connection per origin, made once even when a burst of requests starts together
//!   (they wait for the first request's connect);
//! - a request that the connection refused before sending anything (it was closing) goes
//!   once more over a new connection, when the refusing connection had served requests
//!   before (a new connection that refuses is an answer, not an accident);
//! - a connection closed by the server or broken is replaced at the next request;
//! - an idle connection is closed after the pool's idle timeout: between one idle timeout
//!   and one idle timeout plus two ticks after its last request ended, a tick being the
//!   smaller of the idle timeout and [`idle_tick`].
//!
//! An origin whose TLS handshake chose HTTP/1.1 (ALPN) is left to hyper-util's pool, which
//! keeps HTTP/1.1 connections, and the connection the lane made to find out is handed to
//! that pool (see [`Parked`]) rather than thrown away.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::Origin;

/// A connection as the connector makes it.
pub(super) type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

type Sender = http2::SendRequest<Full<Bytes>>;

/// How long a connection handed to the pool waits to be taken: the pool connects right after
/// it is parked, so one still there later was not wanted (its request failed before).
const PARKED_FOR: Duration = Duration::from_secs(10);

/// How many origins the lanes remember before forgetting those without a connection.
const PRUNE_AT: usize = 32;

/// The lanes of one transport (shared by its clones).
pub(super) struct Lanes {
    entries: Mutex<Vec<Entry>>,
    next_generation: AtomicU64,
}

/// One origin's lane.
struct Entry {
    scheme: Scheme,
    authority: Authority,
    state: State,
    /// Held by the request that connects, so that a burst makes one connection.
    connecting: Arc<tokio::sync::Mutex<()>>,
}

enum State {
    /// No connection (yet, or any more).
    None,
    Ready(Lane),
    /// The origin chose HTTP/1.1: hyper-util's pool serves it.
    Http1,
}

/// An HTTP/2 connection's sender and what its idle timer reads.
#[derive(Clone)]
pub(super) struct Lane {
    sender: Sender,
    activity: Arc<Activity>,
    /// Which connection this is, so that a request retires only the one it failed on.
    generation: u64,
}

/// What a request should do.
pub(super) enum Route {
    /// Send on this connection (the request is open on it until the guard is dropped).
    Lane(Lane, Open),
    /// Connect first (holding this gate).
    Connect(Arc<tokio::sync::Mutex<()>>),
    /// Leave it to hyper-util's pool.
    Http1,
}

/// Requests started and still open on one connection. Both go up only under the lanes' lock,
/// where the idle check reads them, so that no request starts on a connection the check
/// found idle.
#[derive(Default)]
struct Activity {
    started: AtomicU64,
    open: AtomicUsize,
}

impl Activity {
    /// The count of requests started, when one started since `seen` (that count) or one is
    /// open: the connection is not idle.
    fn busy_since(&self, seen: u64) -> Option<u64> {
        let started = self.started.load(Ordering::Relaxed);
        (started != seen || self.open.load(Ordering::Acquire) != 0).then_some(started)
    }
}

/// A request open on a lane; closes it on drop.
pub(super) struct Open(Arc<Activity>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Release);
    }
}

impl Lane {
    /// Marks a request open on this connection until the returned guard is dropped (called
    /// with the lanes' lock held).
    fn open(&self) -> Open {
        self.activity.started.fetch_add(1, Ordering::Relaxed);
        self.activity.open.fetch_add(1, Ordering::Relaxed);
        Open(Arc::clone(&self.activity))
    }

    pub(super) fn sender(&mut self) -> &mut Sender {
        &mut self.sender
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in this module panics while holding the lock; if something did, the data (a
    // list of senders) is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lanes {
    pub(super) fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            next_generation: AtomicU64::new(0),
        }
    }

    /// Where a request to `origin` goes now.
    pub(super) fn route(&self, origin: &Origin) -> Route {
        let mut entries = lock(&self.entries);
        let entry = match entries.iter_mut().position(|e| e.is(origin)) {
            Some(i) => &mut entries[i],
            None => {
                if entries.len() >= PRUNE_AT {
                    // Origins without a connection and without a request connecting to them
                    // are forgotten (an HTTP/1.1 one is found out again, at the cost of a
                    // connection the pool then takes), so that the list does not grow with
                    // every origin ever asked for.
                    entries.retain(|e| {
                        matches!(e.state, State::Ready(_)) || Arc::strong_count(&e.connecting) > 1
                    });
                }
                entries.push(Entry {
                    scheme: origin.scheme.clone(),
                    authority: origin.authority.clone(),
                    state: State::None,
                    connecting: Arc::new(tokio::sync::Mutex::new(())),
                });
                entries.last_mut().expect("just pushed")
            }
        };
        match &entry.state {
            State::Ready(lane) if !lane.sender.is_closed() => {
                let open = lane.open();
                Route::Lane(lane.clone(), open)
            }
            State::Http1 => Route::Http1,
            State::Ready(_) | State::None => {
                entry.state = State::None;
                Route::Connect(Arc::clone(&entry.connecting))
            }
        }
    }

    /// Retires the connection of `generation` for `origin` (a request failed on it), unless it
    /// was replaced already.
    pub(super) fn retire(&self, origin: &Origin, generation: u64) {
        forget_lane(&mut lock(&self.entries), origin, generation);
    }

    /// Remembers that `origin` chose HTTP/1.1.
    pub(super) fn set_http1(&self, origin: &Origin) {
        self.set(origin, State::Http1);
    }

    /// Makes an HTTP/2 connection of `stream` (the handshake, then the connection's own task)
    /// and installs it as `origin`'s lane, with the caller's request open on it.
    /// `idle_timeout` closes it once unused; `request_timeout` is what each request's own
    /// timer is set to (see [`idle_tick`]).
    pub(super) async fn open_lane(
        self: &Arc<Self>,
        origin: &Origin,
        stream: Stream,
        idle_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<(Lane, Open), hyper::Error> {
        let (sender, connection) = http2::Builder::new(BoxingExecutor)
            .timer(TokioTimer::new())
            .handshake(stream)
            .await?;
        let lane = Lane {
            sender,
            activity: Arc::new(Activity::default()),
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
        };
        let mut entries = lock(&self.entries);
        let open = lane.open();
        if let Some(entry) = entries.iter_mut().find(|e| e.is(origin)) {
            entry.state = State::Ready(lane.clone());
        }
        drop(entries);
        let idle = IdleCheck {
            lanes: Arc::downgrade(self),
            origin: origin.clone(),
            generation: lane.generation,
            activity: Arc::clone(&lane.activity),
        };
        spawn_connection(connection, idle, idle_timeout, idle_tick(request_timeout));
        Ok((lane, open))
    }

    /// Whether the connection `idle` watches is idle: no request started since `seen` (the
    /// count it returns otherwise) and none open. An idle connection stops being its origin's
    /// lane here, under the lock requests start under, so none starts on it afterwards.
    fn check_idle(&self, idle: &IdleCheck, seen: u64) -> Result<(), u64> {
        let mut entries = lock(&self.entries);
        if let Some(started) = idle.activity.busy_since(seen) {
            return Err(started);
        }
        forget_lane(&mut entries, &idle.origin, idle.generation);
        Ok(())
    }

    fn set(&self, origin: &Origin, state: State) {
        let mut entries = lock(&self.entries);
        if let Some(entry) = entries.iter_mut().find(|e| e.is(origin)) {
            entry.state = state;
        }
    }
}

/// `origin` has no lane any more if its lane is still the connection of `generation` (a newer
/// one stays).
fn forget_lane(entries: &mut [Entry], origin: &Origin, generation: u64) {
    if let Some(entry) = entries.iter_mut().find(|e| e.is(origin))
        && matches!(&entry.state, State::Ready(lane) if lane.generation == generation)
    {
        entry.state = State::None;
    }
}

impl Entry {
    fn is(&self, origin: &Origin) -> bool {
        self.authority == origin.authority && self.scheme == origin.scheme
    }
}

/// Spawns hyper's futures boxed, as hyper-util's pooled client does. hyper spawns one future
/// per HTTP/2 request (it answers the caller when the response arrives); tokio copies a
/// future three times on its way into a task, so a small box is cheaper than that future.
#[derive(Clone, Copy)]
struct BoxingExecutor;

impl<F> hyper::rt::Executor<F> for BoxingExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(tokio::spawn(Box::pin(future)));
    }
}

/// What a connection's idle timer checks: which lane it is, and its requests.
struct IdleCheck {
    lanes: Weak<Lanes>,
    origin: Origin,
    generation: u64,
    activity: Arc<Activity>,
}

/// The shortest time between two idle checks (an idle timeout of zero would otherwise check
/// without pause while a request is open).
const MIN_IDLE_CHECK: Duration = Duration::from_millis(1);

/// The longest the idle timer of a connection sleeps at a time: half the request timeout (at
/// least a second), so that while a connection is up, the runtime always has a timer due
/// before any new request's deadline.
///
/// Each request is bounded by a tokio timer. Tokio wakes the thread parked on the timer
/// driver whenever a timer is registered that is due before every other one, or when no
/// other one is registered (`reregister` in tokio's `runtime/time/mod.rs`, which unparks when
/// the new timer is earlier than the driver's `next_wake`, and `next_wake` is `None` when the
/// driver parked without timers). With one request in flight, the previous request's timer is
/// gone when the next one is set, so every request woke a parked worker for nothing: two
/// system calls (a futex and an `epoll_wait`) per request, measured with `strace -c` (15.3 →
/// 13.4, raw hyper-util 13.4). The idle timer, always due sooner, keeps that from happening;
/// it costs one wake-up every tick while the connection is up.
pub(super) fn idle_tick(request_timeout: Duration) -> Duration {
    (request_timeout / 2).max(Duration::from_secs(1))
}

/// Runs an HTTP/2 connection in a task of its own until it ends, or until it has been idle (no
/// request started and none open) for a whole `idle_timeout`; dropping it then closes it.
///
/// The idle timer is a second task that tells the first through a oneshot channel: the
/// connection's task, woken several times a request, then polls a channel (an atomic load)
/// rather than a timer. It wakes at least every `tick` (see [`idle_tick`]) and counts the
/// time without activity from the first wake that found none.
fn spawn_connection<C>(connection: C, idle: IdleCheck, idle_timeout: Duration, tick: Duration)
where
    C: Future + Send + 'static,
{
    let (mut close, closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut connection = pin!(connection);
        let mut closed = closed;
        // Ends with the connection, or when told to close (or the idle task is gone).
        std::future::poll_fn(|cx| {
            if connection.as_mut().poll(cx).is_ready() || Pin::new(&mut closed).poll(cx).is_ready()
            {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    });
    let period = idle_timeout.max(MIN_IDLE_CHECK);
    tokio::spawn(async move {
        // The request that made the connection is open on it already.
        let mut seen = idle.activity.started.load(Ordering::Relaxed);
        // How long no request has been seen starting or open, counted from the first tick
        // that saw none (`None`: the last tick saw one, which may have ended just after it).
        let mut quiet: Option<Duration> = None;
        loop {
            let wait = match quiet {
                None => period.min(tick),
                Some(quiet) => period.saturating_sub(quiet).clamp(MIN_IDLE_CHECK, tick),
            };
            let mut sleep = pin!(tokio::time::sleep(wait));
            // Ends early when the connection's task has ended (it dropped the receiver).
            let connection_ended = std::future::poll_fn(|cx| {
                if close.poll_closed(cx).is_ready() {
                    Poll::Ready(true)
                } else {
                    sleep.as_mut().poll(cx).map(|()| false)
                }
            })
            .await;
            if connection_ended {
                return;
            }
            if let Some(started) = idle.activity.busy_since(seen) {
                seen = started;
                quiet = None;
                continue;
            }
            let counted = quiet.map_or(Duration::ZERO, |quiet| quiet + wait);
            quiet = Some(counted);
            if counted < period {
                continue;
            }
            // The transport is gone: its senders are dropped, and hyper ends the connection
            // once its requests are done.
            let Some(lanes) = idle.lanes.upgrade() else {
                return;
            };
            match lanes.check_idle(&idle, seen) {
                Ok(()) => {
                    let _ = close.send(());
                    return;
                }
                Err(started) => {
                    seen = started;
                    quiet = None;
                }
            }
        }
    });
}

/// Connections a lane made to an origin that chose HTTP/1.1, for hyper-util's pool to take
/// through the connector instead of connecting again.
#[derive(Clone, Default)]
pub(super) struct Parked(Arc<Mutex<Vec<ParkedStream>>>);

/// A parked connection: its origin, when it was parked, the connection.
type ParkedStream = (Scheme, Authority, Instant, Stream);

impl Parked {
    pub(super) fn park(&self, origin: &Origin, stream: Stream) {
        lock(&self.0).push((
            origin.scheme.clone(),
            origin.authority.clone(),
            Instant::now(),
            stream,
        ));
    }

    /// A connection parked for `uri`'s origin, if there is one that is still fresh.
    pub(super) fn take(&self, uri: &http::Uri) -> Option<Stream> {
        let mut parked = lock(&self.0);
        if parked.is_empty() {
            return None;
        }
        parked.retain(|(.., at, _)| at.elapsed() < PARKED_FOR);
        let i = parked.iter().position(|(scheme, authority, ..)| {
            uri.scheme() == Some(scheme) && uri.authority() == Some(authority)
        })?;
        Some(parked.swap_remove(i).3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(port: u16) -> Origin {
        Origin {
            scheme: Scheme::HTTPS,
            authority: Authority::try_from(format!("h.example:{port}")).unwrap(),
        }
    }

    #[test]
    fn origins_without_a_connection_are_forgotten() {
        let lanes = Lanes::new();
        // One origin is being connected to (its gate is held): it is kept.
        let Route::Connect(held) = lanes.route(&origin(1)) else {
            panic!("a new origin connects first");
        };
        for port in 2..1000 {
            assert!(matches!(lanes.route(&origin(port)), Route::Connect(_)));
        }
        let entries = lock(&lanes.entries);
        assert!(entries.len() <= PRUNE_AT, "{} origins", entries.len());
        assert!(entries.iter().any(|e| e.is(&origin(1))));
        drop(held);
    }

    /// A connection that never ends by itself and tells `ended` when (in the runtime's
    /// clock) its task dropped it.
    fn connection(ended: tokio::sync::oneshot::Sender<tokio::time::Instant>) -> impl Future {
        struct Guard(Option<tokio::sync::oneshot::Sender<tokio::time::Instant>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(ended) = self.0.take() {
                    let _ = ended.send(tokio::time::Instant::now());
                }
            }
        }
        let guard = Guard(Some(ended));
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
    }

    /// An idle check for a connection to `origin` in `lanes` (whose entry has none, so the
    /// check closes what it watches once idle) and the activity its requests would record.
    fn ready_lane(lanes: &Arc<Lanes>, origin: &Origin) -> (IdleCheck, Arc<Activity>) {
        let _ = lanes.route(origin);
        let activity = Arc::new(Activity::default());
        let idle = IdleCheck {
            lanes: Arc::downgrade(lanes),
            origin: origin.clone(),
            generation: 7,
            activity: Arc::clone(&activity),
        };
        (idle, activity)
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_closes_one_idle_timeout_after_its_last_request_though_ticks_are_shorter()
     {
        let lanes = Arc::new(Lanes::new());
        let (idle, activity) = ready_lane(&lanes, &origin(1));
        let (ended, when) = tokio::sync::oneshot::channel();
        let start = tokio::time::Instant::now();
        let idle_timeout = Duration::from_secs(10);
        let tick = Duration::from_secs(3);
        spawn_connection(connection(ended), idle, idle_timeout, tick);
        // A request at 5 s, which ended before the next tick: the tick at 6 s sees it, the
        // one at 9 s none; the connection closes when that quiet has lasted 10 s.
        tokio::time::sleep(Duration::from_secs(5)).await;
        activity.started.fetch_add(1, Ordering::Relaxed);
        let closed = when.await.expect("the connection is closed") - start;
        assert_eq!(closed, Duration::from_secs(19), "closed after {closed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_request_keeps_its_connection_across_ticks() {
        let lanes = Arc::new(Lanes::new());
        let (idle, activity) = ready_lane(&lanes, &origin(1));
        let (ended, mut when) = tokio::sync::oneshot::channel();
        let start = tokio::time::Instant::now();
        let tick = Duration::from_secs(3);
        // One request open from the start for 40 s, four idle timeouts.
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.open.fetch_add(1, Ordering::Relaxed);
        spawn_connection(connection(ended), idle, Duration::from_secs(10), tick);
        tokio::time::sleep(Duration::from_secs(40)).await;
        assert!(when.try_recv().is_err(), "closed with a request open");
        activity.open.fetch_sub(1, Ordering::Relaxed);
        // The tick at 42 s finds it closed: 10 s later the check closes the connection.
        let closed = when.await.expect("the connection is closed") - start;
        assert_eq!(closed, Duration::from_secs(52), "closed after {closed:?}");
    }

    #[test]
    fn the_idle_tick_is_due_before_a_new_request_deadline() {
        for timeout in [2, 5, 60, 3600] {
            let timeout = Duration::from_secs(timeout);
            assert!(idle_tick(timeout) < timeout, "{timeout:?}");
        }
        // A short request timeout does not make the idle timer spin.
        assert_eq!(idle_tick(Duration::from_millis(10)), Duration::from_secs(1));
    }

    #[test]
    fn an_http1_origin_stays_http1_until_many_origins_push_it_out() {
        let lanes = Lanes::new();
        let _ = lanes.route(&origin(1));
        lanes.set_http1(&origin(1));
        for port in 2..u16::try_from(PRUNE_AT).unwrap() {
            let _ = lanes.route(&origin(port));
        }
        assert!(matches!(lanes.route(&origin(1)), Route::Http1));
        for port in 1000..1100 {
            let _ = lanes.route(&origin(port));
        }
        assert!(matches!(lanes.route(&origin(1)), Route::Connect(_)));
    }
}
