//! The network side: a hyper 1 server (HTTP/1.1 and HTTP/2) over TCP, with TLS from
//! tokio-rustls, graceful shutdown, a request body limit, fault injection and request logs.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use acs_chat_protocol::DateTime;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Either, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::conn::{ChunkedBody, Watchdog};
use crate::events::{
    DEFAULT_EVENT_BUFFER, DeliveryOptions, EventSchema, EventStream, EventSubscription, Publisher,
    ReportStream, Subscription, SubscriptionStatus,
};
use crate::faults::{Fault, FaultInjector, describe};
use crate::identity::{AccessKey, DEV_ACCESS_KEY, TokenSigner};
use crate::limits::{ConnectionLimits, ServiceLimits};
use crate::persist::{Db, PersistError};
use crate::service::{Service, body_too_large, error_response};
use crate::store::{Store, StoreError};
use crate::tls::{self, LocalCa};
use crate::web::{SseBody, Web, WebResponse};

/// Request bodies larger than this are refused with 413, by default
/// ([`ConnectionLimits::max_body_bytes`]).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default port of the binary.
pub const DEFAULT_PORT: u16 = 10500;

/// Why the emulator could not start or do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorError(String);

impl EmulatorError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmulatorError {}

impl From<StoreError> for EmulatorError {
    fn from(e: StoreError) -> Self {
        Self(e.to_string())
    }
}

/// The entry point: `Emulator::builder()…start().await`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: 127.0.0.1, an ephemeral port (0), the development access
    /// key, HTTPS with a generated certificate, no throttling.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator.
#[derive(Clone)]
pub struct EmulatorBuilder {
    host: String,
    port: u16,
    access_key: String,
    http: bool,
    tls_pem: Option<(String, String)>,
    throttle: bool,
    seed: Option<u128>,
    limits: ConnectionLimits,
    service_limits: ServiceLimits,
    data_dir: Option<PathBuf>,
    ca_dir: Option<PathBuf>,
    webhooks: Vec<EventSubscription>,
    event_schema: EventSchema,
    delivery: DeliveryOptions,
    event_buffer: usize,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("http", &self.http)
            .field("tls_pem", &self.tls_pem.is_some())
            .field("throttle", &self.throttle)
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            access_key: DEV_ACCESS_KEY.to_owned(),
            http: false,
            tls_pem: None,
            throttle: false,
            seed: None,
            limits: ConnectionLimits::default(),
            service_limits: ServiceLimits::default(),
            data_dir: None,
            ca_dir: None,
            webhooks: Vec::new(),
            event_schema: EventSchema::EventGrid,
            delivery: DeliveryOptions::default(),
            event_buffer: DEFAULT_EVENT_BUFFER,
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on (default `127.0.0.1`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port (default 0: any free port; see [`RunningEmulator::endpoint`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The access key, base64 (default [`DEV_ACCESS_KEY`]).
    pub fn access_key(mut self, key: impl Into<String>) -> Self {
        self.access_key = key.into();
        self
    }

    /// Serve plain HTTP instead of HTTPS (loopback use only; the official chat SDKs refuse to
    /// send tokens over plain HTTP).
    pub fn http(mut self, http: bool) -> Self {
        self.http = http;
        self
    }

    /// Serve HTTPS with this certificate chain and private key (PEM) instead of a generated one.
    pub fn tls_pem(
        mut self,
        cert_chain_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Self {
        self.tls_pem = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

    /// Enforce the documented per-thread message rate limits with 429 + `Retry-After`.
    pub fn throttle(mut self, throttle: bool) -> Self {
        self.throttle = throttle;
        self
    }

    /// The limits on connections: timeouts, connection cap, body size, memory per connection
    /// (default: [`ConnectionLimits::default`]).
    pub fn connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The service's limits: message, metadata, topic and display-name sizes, participants,
    /// page sizes, rate limits (default: [`ServiceLimits::default`], the documented ones).
    pub fn service_limits(mut self, limits: ServiceLimits) -> Self {
        self.service_limits = limits;
        self
    }

    /// Keeps the state (users, token revocations and the token signing key, threads,
    /// messages, participants, read receipts) in SQLite in `dir`, and the generated CA there
    /// too: a restart on the same directory serves the same state with the same ids, and the
    /// tokens and certificates it issued still work. Default: in memory only.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Keeps the generated CA in `dir` (`ca.pem`, `ca-key.pem`) and reuses it at the next
    /// start, so that clients that trusted it keep working. Default: the data directory if
    /// there is one, else a new CA for each emulator ([`tls::default_ca_dir`] is where the
    /// binary keeps it).
    pub fn ca_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.ca_dir = Some(dir.into());
        self
    }

    /// Delivers every event to a webhook, as an Event Grid subscription would (repeat for
    /// several): `url`, or `NAME=url` to name the subscription (see
    /// [`EventSubscription::parse`]). Fails at [`start`](Self::start) when it is not an http
    /// or https URL.
    pub fn event_webhook(mut self, url: impl AsRef<str>) -> Self {
        match EventSubscription::parse(url.as_ref()) {
            Ok(sub) => self.webhooks.push(sub),
            Err(e) => self.invalid_webhook(e),
        }
        self
    }

    /// Adds a webhook subscription built with [`EventSubscription::parse`].
    pub fn event_subscription(mut self, subscription: EventSubscription) -> Self {
        self.webhooks.push(subscription);
        self
    }

    /// The schema of the webhooks that do not set their own (default
    /// [`EventSchema::EventGrid`]).
    pub fn event_schema(mut self, schema: EventSchema) -> Self {
        self.event_schema = schema;
        self
    }

    /// How webhook deliveries are retried and bounded (default
    /// [`DeliveryOptions::default`], Event Grid's retry policy).
    pub fn event_delivery(mut self, options: DeliveryOptions) -> Self {
        self.delivery = options;
        self
    }

    /// The buffer of each in-process subscriber ([`RunningEmulator::events`]): a
    /// subscriber this many events behind loses the oldest (default
    /// [`DEFAULT_EVENT_BUFFER`](crate::events::DEFAULT_EVENT_BUFFER)).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events.max(1);
        self
    }

    fn invalid_webhook(&mut self, error: String) {
        // Reported by `start` (and `service`): a builder method does not fail.
        self.webhooks.push(EventSubscription::invalid(error));
    }

    /// Fixes the seed of generated ids (default: random).
    pub fn seed(mut self, seed: u128) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The service this builder configures, without a server: one request in, one response
    /// out ([`Service::handle`]), for tests and fuzzers that need no sockets. Links in
    /// responses use the request's `Host`, or `host:port` of this builder.
    pub fn service(&self) -> Result<Service, EmulatorError> {
        self.make_service(format!("{}:{}", self.host, self.port))
    }

    fn make_service(&self, authority: String) -> Result<Service, EmulatorError> {
        let key = AccessKey::from_base64(&self.access_key)
            .map_err(|_| EmulatorError::new("--access-key: the access key is not base64"))?;
        let new_store = || {
            let seed = self.seed.unwrap_or_else(|| uuid::Uuid::new_v4().as_u128());
            let resource_id = uuid::Builder::from_random_bytes(seed.rotate_left(64).to_be_bytes())
                .into_uuid()
                .to_string();
            Store::new(resource_id, seed)
        };
        let (mut store, db) = match &self.data_dir {
            None => (new_store(), None),
            Some(dir) => {
                let persisted = |e: PersistError| EmulatorError::new(format!("--data-dir: {e}"));
                let mut db = Db::open(dir).map_err(persisted)?;
                match db.load().map_err(persisted)? {
                    Some(loaded) => (
                        loaded.store,
                        Some((db, TokenSigner::from_key(loaded.signing_key))),
                    ),
                    None => {
                        let store = new_store();
                        let signer = TokenSigner::new(&key);
                        db.init(&store, signer.key()).map_err(persisted)?;
                        (store, Some((db, signer)))
                    }
                }
            }
        };
        store.set_throttle(self.throttle);
        store.set_limits(self.service_limits.clone());
        let mut subscriptions = Vec::new();
        for sub in &self.webhooks {
            if let Some(error) = sub.invalid_reason() {
                return Err(EmulatorError::new(format!("--event-webhook: {error}")));
            }
            if subscriptions
                .iter()
                .any(|s: &Arc<Subscription>| s.name() == sub.name())
            {
                return Err(EmulatorError::new(format!(
                    "--event-webhook: two subscriptions are named {}",
                    sub.name()
                )));
            }
            subscriptions.push(Arc::new(Subscription::new(
                sub.clone(),
                self.event_schema,
                self.delivery.clone(),
            )));
        }
        let mut service = Service::new(store, key, !self.http, authority);
        service.set_publisher(Publisher::new(self.event_buffer, subscriptions));
        service.set_max_body_bytes(self.limits.max_body_bytes);
        if let Some((db, signer)) = db {
            service.set_database(db, signer);
        }
        Ok(service)
    }

    /// Binds, and serves in a background task of the current Tokio runtime.
    pub async fn start(self) -> Result<RunningEmulator, EmulatorError> {
        let key_text = self.access_key.trim().to_owned();
        let mut ca_path = None;
        let (acceptor, ca_pem) = if self.http {
            (None, None)
        } else {
            let (chain, key_pem, ca) = match self.tls_pem.clone() {
                Some((chain, key_pem)) => (chain, key_pem, None),
                None => {
                    let certificate =
                        |e: tls::TlsError| EmulatorError::new(format!("certificate: {e}"));
                    let ca = match self.ca_dir.as_ref().or(self.data_dir.as_ref()) {
                        Some(dir) => {
                            ca_path = Some(LocalCa::cert_path(dir));
                            LocalCa::load_or_create(dir).map_err(certificate)?
                        }
                        None => LocalCa::generate().map_err(certificate)?,
                    };
                    let generated = ca.server_certificate().map_err(certificate)?;
                    (
                        generated.chain_pem,
                        generated.key_pem,
                        Some(generated.ca_pem),
                    )
                }
            };
            let config = tls::server_config(&chain, &key_pem)
                .map_err(|e| EmulatorError::new(format!("TLS: {e}")))?;
            (Some(TlsAcceptor::from(config)), ca)
        };
        let bind_host = self.host.trim_start_matches('[').trim_end_matches(']');
        let listener = TcpListener::bind((bind_host, self.port))
            .await
            .map_err(|e| {
                EmulatorError::new(format!("cannot listen on {}:{}: {e}", self.host, self.port))
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| EmulatorError::new(format!("local address: {e}")))?;
        let host = match bind_host.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            Ok(IpAddr::V4(ip)) => ip.to_string(),
            Err(_) => bind_host.to_owned(),
        };
        let authority = format!("{host}:{}", local_addr.port());
        let scheme = if self.http { "http" } else { "https" };
        let endpoint = format!("{scheme}://{authority}/");
        let service = Arc::new(self.make_service(authority)?);
        service.requeue_outbox();
        let workers = crate::events::spawn_workers(&service, &endpoint);
        let faults = FaultInjector::new();
        let (closing, closing_rx) = watch::channel(false);
        let web_token = service.web_token();
        let state = Arc::new(ServerState {
            service: service.clone(),
            faults: faults.clone(),
            limits: self.limits.clone(),
            web: Web::new(web_token.clone(), closing_rx),
            closing,
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, acceptor, state, shutdown_rx));
        tracing::info!(%endpoint, "acs-chat-emulator listening");
        Ok(RunningEmulator {
            endpoint,
            local_addr,
            key_text,
            service,
            faults,
            ca_pem,
            ca_path,
            shutdown: Some(shutdown_tx),
            task: Some(task),
            workers,
            web_token,
        })
    }
}

/// A started emulator. Dropping it stops the server (without waiting); call
/// [`shutdown`](Self::shutdown) to wait until it has stopped.
pub struct RunningEmulator {
    endpoint: String,
    local_addr: SocketAddr,
    key_text: String,
    service: Arc<Service>,
    faults: FaultInjector,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The webhook delivery workers.
    workers: Vec<JoinHandle<()>>,
    web_token: String,
}

impl fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The endpoint, e.g. `https://127.0.0.1:10500/`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The access key (base64).
    pub fn access_key(&self) -> &str {
        &self.key_text
    }

    /// `endpoint=https://127.0.0.1:<port>/;accesskey=<key>`, for the official SDKs'
    /// `from_connection_string`.
    pub fn connection_string(&self) -> String {
        format!("endpoint={};accesskey={}", self.endpoint, self.key_text)
    }

    /// The CA certificate (PEM) to trust, when the emulator generated its certificate.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The file of the CA certificate, when the emulator keeps its generated CA in a directory
    /// ([`EmulatorBuilder::ca_dir`], [`EmulatorBuilder::data_dir`]).
    pub fn ca_certificate_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// Creates a user in-process; returns its raw id (`8:acs:…`).
    pub fn create_user(&self) -> String {
        self.service.create_user()
    }

    /// Issues a token in-process: the JWT and its expiry. Unlike the Identity API, any `ttl` is
    /// allowed (zero gives a token that is already expired).
    pub fn issue_token(
        &self,
        user_id: &str,
        scopes: &[&str],
        ttl: Duration,
    ) -> Result<(String, DateTime), EmulatorError> {
        Ok(self
            .service
            .issue_token(user_id, scopes, ttl, wall_clock())?)
    }

    /// Creates a user with a 24-hour `chat` token: (user id, token).
    pub fn create_user_and_token(&self) -> Result<(String, String), EmulatorError> {
        let user = self.create_user();
        let (token, _) = self.issue_token(&user, &["chat"], Duration::from_secs(24 * 3600))?;
        Ok((user, token))
    }

    /// The fault injector of this server.
    pub fn faults(&self) -> FaultInjector {
        self.faults.clone()
    }

    /// The service, to inspect or change the state in-process.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The live web view, `https://<endpoint>/_emulator/?token=…` (the token lets it be
    /// opened from any address; loopback clients need none). See [`crate::web`].
    pub fn web_view_url(&self) -> String {
        format!("{}_emulator/?token={}", self.endpoint, self.web_token)
    }

    /// Every chat event from now on, in order, without HTTP: a `Stream` of
    /// `Result<ChatEvent, Lagged>` (see [`EventStream`]). Subscribe before acting, to see
    /// what the action publishes.
    pub fn events(&self) -> EventStream {
        self.service.events()
    }

    /// What becomes of each webhook delivery from now on (delivered, retrying,
    /// dead-lettered), as a `Stream` (see [`ReportStream`]).
    pub fn delivery_reports(&self) -> ReportStream {
        self.service.publisher().subscribe_reports()
    }

    /// The webhook subscriptions: validated or not, queued, delivered and dead-lettered
    /// counts, the latest deliveries.
    pub fn event_subscriptions(&self) -> Vec<SubscriptionStatus> {
        self.service
            .publisher()
            .subscriptions()
            .iter()
            .map(|s| s.status())
            .collect()
    }

    /// Stops accepting connections, lets open requests finish (up to 5 seconds), and waits.
    /// Deliveries in flight stop; with a data directory their events are still in the
    /// outbox and are delivered after the next start.
    pub async fn shutdown(mut self) {
        for worker in &self.workers {
            worker.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The current time in 100-nanosecond ticks, the service's resolution (at most 7 fractional
/// digits on the wire, which every SDK's date parser accepts).
pub(crate) fn wall_clock() -> DateTime {
    let nanos = DateTime::from_system_time(SystemTime::now())
        .unwrap_or(DateTime::UNIX_EPOCH)
        .unix_timestamp_nanos();
    DateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(100))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

struct ServerState {
    service: Arc<Service>,
    faults: FaultInjector,
    limits: ConnectionLimits,
    web: Web,
    /// Set when the server shuts down (ends the web view's event streams).
    closing: watch::Sender<bool>,
}

/// A response body: a buffered one written in chunks, or an event stream.
type ServerBody = Either<ChunkedBody, SseBody>;

/// The error that makes hyper close a connection without answering (an injected drop).
#[derive(Debug)]
struct DroppedConnection;

impl fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped")
    }
}

impl std::error::Error for DroppedConnection {}

/// A response body this small does not count against
/// [`ConnectionLimits::max_responses_per_connection`].
const SMALL_RESPONSE_BYTES: usize = 16 * 1024;

impl ServerState {
    async fn respond(
        &self,
        request: Request<Incoming>,
        permits: Arc<Semaphore>,
        peer: SocketAddr,
    ) -> Result<Response<ServerBody>, DroppedConnection> {
        // Wait until the connection has room for one more response in memory (given back
        // at once for a small response: see `respond_inner`).
        let mut permit = permits.acquire_owned().await.ok();
        if crate::web::is_web_path(request.uri().path()) {
            return Ok(match self.web.handle(&self.service, &request, peer) {
                WebResponse::Full(r) => r.map(|body| Either::Left(ChunkedBody::new(body, permit))),
                WebResponse::Stream(r) => r.map(Either::Right),
            });
        }
        if !tracing::enabled!(tracing::Level::DEBUG) {
            // No request log: nothing to time or keep for it.
            let response = self.respond_inner(request, &mut permit).await;
            return response.map(|r| r.map(|body| Either::Left(ChunkedBody::new(body, permit))));
        }
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self.respond_inner(request, &mut permit).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &response {
            Ok(r) => tracing::debug!(
                %method,
                %path,
                status = r.status().as_u16(),
                duration_ms = elapsed_ms,
                "request"
            ),
            Err(_) => tracing::debug!(%method, %path, duration_ms = elapsed_ms, "request dropped"),
        }
        response.map(|r| r.map(|body| Either::Left(ChunkedBody::new(body, permit))))
    }

    /// The response to `request`. `permit` (the connection's room for one response in
    /// memory, taken before the body is read) is given back as soon as the response is made
    /// if it is small ([`SMALL_RESPONSE_BYTES`]): such a response (a send-message 201, an
    /// error) then waits for its write and for the socket without keeping the connection's
    /// other requests waiting, which is what lets concurrent writes go in one transaction.
    /// What a client that never reads can hold is still bounded: the large responses by the
    /// permits, the small ones by the streams it may open at once.
    async fn respond_inner(
        &self,
        request: Request<Incoming>,
        permit: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<Response<Bytes>, DroppedConnection> {
        let fault = self.faults.take();
        match fault {
            Some(Fault::Drop) => return Err(DroppedConnection),
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::Fail {
                status,
                retry_after,
            }) => {
                let (code, message) = describe(status);
                let mut error = StoreError::new(status, code, message);
                if let Some(secs) = retry_after {
                    error = error.with_retry_after(secs);
                }
                return Ok(error_response(&error));
            }
            Some(Fault::Panic) | None => {}
        }
        let limit = self.limits.max_body_bytes;
        let too_large = || Ok(error_response(&body_too_large(limit)));
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return too_large();
        }
        let (parts, body) = request.into_parts();
        let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
        // A body that has arrived with its headers (nearly every one) is taken without
        // setting a timer; only one still on its way is read under the deadline.
        let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
        let read = match first {
            Poll::Ready(read) => Ok(read),
            Poll::Pending => tokio::time::timeout(self.limits.body_read_timeout, collect).await,
        };
        let body = match read {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
            Ok(Err(_)) => return Err(DroppedConnection),
            Err(_) => {
                return Ok(error_response(&StoreError::new(
                    408,
                    "RequestTimeout",
                    "The request body was not received in time.",
                )));
            }
        };
        let request = Request::from_parts(parts, body);
        let panic = fault == Some(Fault::Panic);
        let (mut response, seq) = self.service.handle_unwritten(&request, wall_clock(), panic);
        if response.body().len() <= SMALL_RESPONSE_BYTES {
            *permit = None;
        }
        // With a data directory: wait (without a thread) until what the request changed or
        // saw is written, with the changes of the other requests meanwhile.
        if let Some(seq) = seq
            && !self.service.written(seq).await
        {
            response = Service::not_saved_response();
        }
        Ok(self.service.finish(&request, response))
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<ServerState>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(state.limits.max_connections));
    let mut at_capacity = false;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else {
                    // Out of file descriptors and the like: back off a little.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Ok(slot) = connections.clone().try_acquire_owned() else {
                    if !at_capacity {
                        tracing::warn!(
                            max_connections = state.limits.max_connections,
                            "connection limit reached: new connections are closed until some end"
                        );
                        at_capacity = true;
                    }
                    drop(tcp);
                    continue;
                };
                at_capacity = false;
                let _ = tcp.set_nodelay(true);
                let tcp = Watchdog::new(tcp, state.limits.idle_timeout);
                let state = state.clone();
                let tls = tls.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _slot = slot;
                    match tls {
                        Some(acceptor) => {
                            let timeout = state.limits.header_read_timeout;
                            let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp)).await;
                            if let Ok(Ok(stream)) = handshake {
                                serve_connection(TokioIo::new(stream), state, watcher, peer).await;
                            }
                        }
                        None => serve_connection(TokioIo::new(tcp), state, watcher, peer).await,
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = state.closing.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

async fn serve_connection<I>(io: I, state: Arc<ServerState>, watcher: Watcher, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let limits = state.limits.clone();
    let permits = Arc::new(Semaphore::new(limits.max_responses_per_connection.max(1)));
    let service = service_fn(move |request| {
        let state = state.clone();
        let permits = permits.clone();
        async move { state.respond(request, permits, peer).await }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.http1_max_head_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_header_list_size(limits.http2_max_header_list_size);
    let connection = builder.serve_connection(io, service).into_owned();
    let _ = watcher.watch(connection).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper_util::rt::TokioExecutor;
    use tokio::net::TcpStream;

    /// A small response gives its connection's response permit back before it waits for its
    /// change to be written, so that the connection's other requests are not held up by that
    /// write (with a permit of one here, held until the write, the next request would wait).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_response_waiting_for_its_write_leaves_the_connection_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ConnectionLimits {
            max_responses_per_connection: 1,
            ..ConnectionLimits::default()
        };
        let emulator = Emulator::builder()
            .http(true)
            .data_dir(dir.path())
            .connection_limits(limits)
            .start()
            .await
            .unwrap();
        let (_, token) = emulator.create_user_and_token().unwrap();
        let tcp = TcpStream::connect(emulator.local_addr()).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = |method: &str, target: &str, body: &'static str| {
            Request::builder()
                .method(method)
                .uri(format!("http://{}{target}", emulator.local_addr()))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap()
        };
        let created = sender
            .send_request(request(
                "POST",
                "/chat/threads?api-version=2025-03-15",
                r#"{"topic": "held"}"#,
            ))
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created = created.into_body().collect().await.unwrap().to_bytes();
        let created: serde_json::Value = serde_json::from_slice(&created).unwrap();
        let thread = created["chatThread"]["id"].as_str().unwrap();
        let messages = format!(
            "/chat/threads/{}/messages?api-version=2025-03-15",
            acs_chat_protocol::encode_path_segment(thread)
        );

        let gate = &emulator.service().write_gate;
        let held = gate.gate.write().await;
        let sent =
            tokio::spawn(sender.send_request(request("POST", &messages, r#"{"content": "x"}"#)));
        // The message's response is made and waits for its write.
        gate.a_request_waits().await;
        let other = tokio::time::timeout(
            Duration::from_secs(30),
            sender.send_request(request("GET", "/not-a-route", "")),
        )
        .await
        .expect("answered while the other request waits for its write")
        .unwrap();
        assert_eq!(other.status(), 404);
        assert!(!sent.is_finished(), "the message's write was held");
        drop(held);
        let sent = tokio::time::timeout(Duration::from_secs(30), sent)
            .await
            .expect("answered once its write is let through")
            .unwrap()
            .unwrap();
        assert_eq!(sent.status(), 201);
    }
}
