//! Receiving from Event Grid: [`EventGridListener`], a small hardened HTTP server for webhook
//! deliveries, as a `Stream` of the chat events they carry.
//!
//! The protocol (subscription validation, the CloudEvents handshake, the Event Grid and
//! CloudEvents schemas) is [`WebhookHandler`]'s; this is the server around it: connection and
//! body limits, deadlines, duplicate suppression, and an acknowledgement only once an event is
//! queued for the application (Event Grid redelivers what was not acknowledged).
//!
//! References followed: Event Grid webhook delivery and validation
//! (<https://learn.microsoft.com/azure/event-grid/webhook-event-delivery>), its retry policy
//! (<https://learn.microsoft.com/azure/event-grid/delivery-and-retry>: a `503` or a timeout is
//! retried, a `400`/`413` is not), and the ACS chat event schemas
//! (<https://learn.microsoft.com/azure/event-grid/communication-services-chat-events>).

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use acs_chat_events::webhook::{Outcome, ReceivedEvent, WebhookHandler};
use bytes::Bytes;
use futures::Stream;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::{Error, ErrorKind};

/// The defaults of [`EventGridListenerBuilder`].
const DEFAULT_MAX_CONNECTIONS: usize = 64;
const DEFAULT_QUEUE: usize = 1024;
const DEFAULT_DEDUP: usize = 10_000;
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Event Grid waits 30 s for an answer; give up on queueing a little before.
const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP server for Event Grid webhook deliveries of ACS chat events, and a `Stream` of the
/// events it received (each [`ReceivedEvent`] carries the envelope's id and the
/// [`ChatEvent`](crate::ChatEvent)).
///
/// Give Event Grid its [`url`](Self::url) (through a tunnel or a reverse proxy that terminates
/// TLS: Event Grid delivers to public HTTPS endpoints only), or point the emulator's webhook
/// delivery at it. It answers the subscription validation and the CloudEvents handshake
/// itself, accepts both schemas, and acknowledges a delivery only once its events are queued
/// for the application: when the application does not keep up, the delivery is answered `503`
/// after a while and Event Grid delivers it again. An event delivered again (same id) is
/// yielded once, within the last 10 000 ids.
///
/// Limits: 64 connections at once, bodies of [`WebhookHandler::body_limit`] bytes, 30 s to
/// send the headers and 30 s for the body, 1024 events queued. It serves until dropped.
///
/// ```no_run
/// # async fn f() -> Result<(), acs_chat::Error> {
/// use acs_chat::futures::StreamExt as _;
/// use acs_chat::{ChatEvent, EventGridListener};
///
/// let mut events = EventGridListener::bind("127.0.0.1:8080").await?;
/// println!("deliver to {}", events.url());
/// while let Some(received) = events.next().await {
///     if let ChatEvent::ChatMessageReceived(message) = &received.event {
///         println!("{}", message.message);
///     }
/// }
/// # Ok(()) }
/// ```
pub struct EventGridListener {
    local_addr: SocketAddr,
    path: String,
    events: mpsc::Receiver<ReceivedEvent>,
    server: JoinHandle<()>,
}

impl fmt::Debug for EventGridListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventGridListener")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for EventGridListener {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl EventGridListener {
    /// A listener on `addr` with the defaults (use port 0 for any free port).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs) -> Result<Self, Error> {
        Self::builder().bind(addr).await
    }

    /// A builder, to set the handler (allowed origins, body limit), a secret and the limits.
    pub fn builder() -> EventGridListenerBuilder {
        EventGridListenerBuilder::default()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL to deliver to (`http://`; a secret set on the builder is not in it).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.local_addr, self.path)
    }
}

impl Stream for EventGridListener {
    type Item = ReceivedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Builds an [`EventGridListener`].
#[derive(Debug, Clone)]
pub struct EventGridListenerBuilder {
    handler: WebhookHandler,
    secret: Option<String>,
    max_connections: usize,
    queue: usize,
    dedup: usize,
    read_timeout: Duration,
    queue_timeout: Duration,
}

impl Default for EventGridListenerBuilder {
    fn default() -> Self {
        Self {
            handler: WebhookHandler::new(),
            secret: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            queue: DEFAULT_QUEUE,
            dedup: DEFAULT_DEDUP,
            read_timeout: DEFAULT_READ_TIMEOUT,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
        }
    }
}

impl EventGridListenerBuilder {
    /// The protocol handler (allowed handshake origins, rate, body limit).
    pub fn handler(mut self, handler: WebhookHandler) -> Self {
        self.handler = handler;
        self
    }

    /// Accepts only requests whose query has `code=<secret>` (put it in the subscription's
    /// endpoint URL); others get `401`. Without it, anyone who can reach the port can post
    /// events.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The most connections served at once (64); more are closed on accept.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// The most events queued for the application (1024): a delivery waits for room, and is
    /// answered `503` (to be delivered again) if none frees up in 20 s.
    pub fn queue(mut self, events: usize) -> Self {
        self.queue = events.max(1);
        self
    }

    /// How many recent event ids are remembered to drop redeliveries (10 000).
    pub fn dedup_window(mut self, ids: usize) -> Self {
        self.dedup = ids;
        self
    }

    /// How long a client may take to send the headers, and the body, of a request (30 s each).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How long a delivery waits for room in the queue before it is answered `503` (20 s;
    /// Event Grid waits 30 s for an answer).
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// Binds `addr` and starts serving (on the current tokio runtime).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the address cannot be bound.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> Result<EventGridListener, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen: {e}")))?;
        let (tx, rx) = mpsc::channel(self.queue);
        let state = Arc::new(State {
            handler: self.handler,
            secret: self.secret,
            events: tx,
            seen: Mutex::new(Seen::new(self.dedup)),
            read_timeout: self.read_timeout,
            queue_timeout: self.queue_timeout,
        });
        let server = tokio::spawn(serve(listener, state, self.max_connections));
        Ok(EventGridListener {
            local_addr,
            path: "/".to_owned(),
            events: rx,
            server,
        })
    }
}

struct State {
    handler: WebhookHandler,
    secret: Option<String>,
    events: mpsc::Sender<ReceivedEvent>,
    seen: Mutex<Seen>,
    read_timeout: Duration,
    queue_timeout: Duration,
}

/// The ids of the last events queued, bounded.
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Seen {
    fn new(cap: usize) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.cap == 0 || !self.ids.insert(id.to_owned()) {
            return;
        }
        self.order.push_back(id.to_owned());
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(target: "acs_chat::listener", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(target: "acs_chat::listener", "too many connections: closing one");
            continue;
        };
        let state = Arc::clone(&state);
        let read_timeout = state.read_timeout;
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(target: "acs_chat::listener", error = %e, "connection ended");
            }
            drop(permit);
        });
    }
}

fn respond(status: u16, body: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn handle(state: &State, request: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    if let Some(secret) = &state.secret {
        let given = request
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("code="));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), secret.as_bytes())) {
            return respond(401, "a code query parameter with the secret is required\n");
        }
    }
    let (parts, body) = request.into_parts();
    let limit = state.handler.body_limit();
    let body =
        match tokio::time::timeout(state.read_timeout, Limited::new(body, limit).collect()).await {
            Err(_) => return respond(408, "the body took too long\n"),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return respond(413, "the body is too large\n");
            }
            Ok(Err(_)) => return respond(400, "the body could not be read\n"),
            Ok(Ok(collected)) => collected.to_bytes(),
        };
    let request = http::Request::from_parts(parts, body);
    let handled = state.handler.handle(&request);
    match handled.outcome {
        Ok(Outcome::Notification { events, ignored }) => {
            tracing::debug!(
                target: "acs_chat::listener",
                events = events.len(),
                ignored,
                "delivery"
            );
            for event in events {
                let duplicate = state
                    .seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&event.id);
                if duplicate {
                    continue;
                }
                let id = event.id.clone();
                match tokio::time::timeout(state.queue_timeout, state.events.send(event)).await {
                    Ok(Ok(())) => state
                        .seen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(&id),
                    // The application stopped reading (the stream was dropped): the server
                    // is going away too.
                    Ok(Err(_)) => return respond(503, "not receiving\n"),
                    // The queue stayed full: Event Grid delivers the batch again later (what
                    // was queued is then dropped as a duplicate).
                    Err(_) => return respond(503, "busy: deliver again later\n"),
                }
            }
        }
        Ok(other) => {
            tracing::info!(target: "acs_chat::listener", outcome = ?other, "handshake");
        }
        Err(error) => {
            tracing::info!(target: "acs_chat::listener", error = %error, "refused a request");
        }
    }
    let (parts, body) = handled.response.into_parts();
    http::Response::from_parts(parts, Full::new(body))
}

/// Compares without returning early on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_are_bounded_and_forget_the_oldest() {
        let mut seen = Seen::new(2);
        seen.insert("a");
        seen.insert("b");
        seen.insert("a");
        assert!(seen.contains("a") && seen.contains("b"));
        seen.insert("c");
        assert!(!seen.contains("a") && seen.contains("b") && seen.contains("c"));
        assert_eq!(seen.order.len(), 2);
        let mut off = Seen::new(0);
        off.insert("a");
        assert!(!off.contains("a"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
