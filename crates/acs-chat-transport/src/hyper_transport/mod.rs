//! The default transport: hyper 1 over hyper-rustls; HTTP/2 connections held directly (one
//! per origin, see [`lanes`]), HTTP/1.1 by hyper-util's pooled client.

mod classify;
mod connect;
mod lanes;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response, Uri, Version};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;

use self::connect::TimeoutConnector;
use self::lanes::{Lane, Lanes, Open, Parked, Route};
use crate::{Transport, TransportError, TransportErrorKind};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_MAX_RESPONSE_BODY_SIZE: usize = 32 * 1024 * 1024;
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Which HTTP versions the transport offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocols {
    /// HTTP/2 or HTTP/1.1, negotiated by ALPN (plain HTTP: HTTP/1.1).
    Negotiate,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (ALPN `h2`; prior knowledge over plain HTTP).
    Http2,
}

/// Everything configurable except the root certificates; `Debug` shows it all.
#[derive(Debug, Clone)]
struct Settings {
    connect_timeout: Duration,
    request_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    max_response_body_size: usize,
    allow_http: bool,
    protocols: Protocols,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: usize::MAX,
            max_response_body_size: DEFAULT_MAX_RESPONSE_BODY_SIZE,
            allow_http: false,
            protocols: Protocols::Negotiate,
        }
    }
}

/// The default [`Transport`]: hyper 1 over rustls.
///
/// - HTTP/2 and HTTP/1.1 negotiated by ALPN; [`Response::version`] tells which one was used.
/// - HTTP/2 requests to one origin share one connection, from the first burst on: the
///   transport holds that connection itself and sends on it directly (cheaper per request
///   than a pool checkout), replaces it when it closes, and closes it once idle for the
///   [pool idle timeout](HyperTransportBuilder::pool_idle_timeout). A request the connection
///   refused unsent, because it was closing, goes again on a new one. A request the server
///   refused unprocessed (`REFUSED_STREAM`, or above the last stream id of its `GOAWAY`)
///   fails with [`request_not_sent`](crate::TransportError::request_not_sent) set, so that
///   the caller may send it again whatever its method.
/// - HTTP/1.1 connections are kept alive and reused by hyper-util's pool (with the same idle
///   timeout); TCP_NODELAY is set.
/// - TLS by rustls with certificate verification always on: the roots of the enabled
///   root features plus any added with
///   [`add_root_certificate_pem`](HyperTransportBuilder::add_root_certificate_pem).
/// - HTTPS only, unless [`allow_http`](HyperTransportBuilder::allow_http) is set.
/// - A connect timeout (TCP and TLS handshake), a whole-request timeout (until the last
///   byte of the body) and a response body limit.
///
/// Cloning is cheap and clones share the connections. Requests must be sent from
/// within a Tokio runtime with IO and time enabled; outside of one `send` fails with a
/// [`Config`](TransportErrorKind::Config) error.
///
/// The request's HTTP version is ignored (the connection decides), and hyper adds the
/// `host` header.
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

struct Inner {
    /// hyper-util's pooled client: HTTP/1.1, and everything when lanes are off.
    client: Client<TimeoutConnector, Full<Bytes>>,
    /// HTTP/2 connections held by the transport itself (see [`lanes`]); `None` when only
    /// HTTP/1.1 is spoken or connections are not reused.
    lanes: Option<Arc<Lanes>>,
    /// The client's connector, for the lanes' connections.
    connector: TimeoutConnector,
    settings: Settings,
    added_roots: usize,
}

impl HyperTransport {
    /// A transport with the default settings. Fails only when no crypto provider or no
    /// trusted roots are available (see the crate's features).
    pub fn new() -> Result<Self, TransportError> {
        Self::builder().build()
    }

    /// A builder to adjust timeouts, the pool, limits and trust.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder {
            settings: Settings::default(),
            extra_roots: Vec::new(),
        }
    }

    /// The origin (`scheme://host[:port]`, without user info) for messages, after checking
    /// the URI can be sent.
    fn check_uri(&self, uri: &Uri) -> Result<Origin, TransportError> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                "the request URI must be absolute (scheme and host)",
            ));
        };
        // Two cheap clones (the path and query, a fresh buffer, are not copied).
        let origin = Origin {
            scheme: scheme.clone(),
            authority: authority.clone(),
        };
        if *scheme == Scheme::HTTPS {
            Ok(origin)
        } else if *scheme == Scheme::HTTP {
            if self.inner.settings.allow_http {
                Ok(origin)
            } else {
                Err(TransportError::new(
                    TransportErrorKind::InsecureScheme,
                    format!(
                        "refusing plain http:// to {origin}; use https, or allow_http(true) \
                         for a loopback emulator"
                    ),
                ))
            }
        } else {
            Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                format!("unsupported URI scheme `{scheme}` (only https and http)"),
            ))
        }
    }

    async fn execute(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let origin = self.check_uri(request.uri())?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportError::new(
                TransportErrorKind::Config,
                "HyperTransport must be used from within a Tokio runtime",
            ));
        }
        let settings = &self.inner.settings;
        let (mut parts, body) = request.into_parts();
        // The connection (ALPN) decides the version; hyper-util rejects an HTTP/2 request
        // on an HTTP/1 connection.
        parts.version = Version::HTTP_11;
        let request = Request::from_parts(parts, Full::new(body));

        let exchange = async {
            // The lane's request stays open (for its idle timer) until the body is read.
            let (response, _open) = match &self.inner.lanes {
                Some(lanes) if self.lane_applies(&origin) => {
                    self.send_on_lane(lanes, request, &origin).await?
                }
                _ => (self.send_pooled(request, &origin).await?, None),
            };
            read_body(response, settings.max_response_body_size, &origin).await
        };
        match tokio::time::timeout(settings.request_timeout, exchange).await {
            Ok(result) => result,
            Err(elapsed) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!(
                    "no complete response from {origin} within {:?}",
                    settings.request_timeout
                ),
            )
            .with_source(elapsed)),
        }
    }

    /// Whether a request to `origin` goes by a lane: over TLS unless only HTTP/1.1 is spoken
    /// (ALPN then tells), and over plain HTTP only when HTTP/2 is spoken by prior knowledge.
    fn lane_applies(&self, origin: &Origin) -> bool {
        match self.inner.settings.protocols {
            Protocols::Http2 => true,
            Protocols::Negotiate => origin.scheme == Scheme::HTTPS,
            Protocols::Http1 => false,
        }
    }

    /// Sends by hyper-util's pooled client.
    async fn send_pooled(
        &self,
        request: Request<Full<Bytes>>,
        origin: &Origin,
    ) -> Result<Response<Incoming>, TransportError> {
        self.inner
            .client
            .request(request)
            .await
            .map_err(|e| classify::send_error(e, origin))
    }

    /// Sends on `origin`'s lane, connecting it first when there is none; by the pool when the
    /// origin chose HTTP/1.1.
    async fn send_on_lane(
        &self,
        lanes: &Arc<Lanes>,
        mut request: Request<Full<Bytes>>,
        origin: &Origin,
    ) -> Result<(Response<Incoming>, Option<Open>), TransportError> {
        // A request that a connection which had served others refused unsent goes again
        // (at most twice, on new connections).
        let mut retries = 0;
        loop {
            let (mut lane, open, reused) = match lanes.route(origin) {
                Route::Lane(lane, open) => (lane, open, true),
                Route::Http1 => return Ok((self.send_pooled(request, origin).await?, None)),
                Route::Connect(gate) => {
                    // The gate is let go before anything is sent, so that a burst waits only
                    // for the connect, not for the first request's answer.
                    let connected = {
                        let _connecting = gate.lock().await;
                        // Another request may have connected while this one waited.
                        match lanes.route(origin) {
                            Route::Lane(lane, open) => Some((lane, open, true)),
                            Route::Http1 => None,
                            // Boxed: connecting is rare, and its future (the TLS and HTTP/2
                            // handshakes) would make every request's future as large.
                            Route::Connect(_) => Box::pin(self.connect_lane(lanes, origin))
                                .await?
                                .map(|(lane, open)| (lane, open, false)),
                        }
                    };
                    match connected {
                        Some(connected) => connected,
                        None => return Ok((self.send_pooled(request, origin).await?, None)),
                    }
                }
            };
            match lane.sender().try_send_request(request).await {
                Ok(response) => return Ok((response, Some(open))),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => {
                        lanes.retire(origin, lane.generation());
                        if reused && retries < 2 {
                            retries += 1;
                            request = unsent;
                            continue;
                        }
                        return Err(classify::lane_error(e.into_error(), origin, true));
                    }
                    None => return Err(classify::lane_error(e.into_error(), origin, false)),
                },
            }
        }
    }

    /// Connects to `origin` and makes the connection its lane, with the request open on it;
    /// `None` when the origin chose HTTP/1.1 by ALPN (the connection is then parked for the
    /// pool to take).
    async fn connect_lane(
        &self,
        lanes: &Arc<Lanes>,
        origin: &Origin,
    ) -> Result<Option<(Lane, Open)>, TransportError> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(origin.scheme.clone());
        parts.authority = Some(origin.authority.clone());
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        let uri = Uri::from_parts(parts).map_err(|e| {
            TransportError::new(TransportErrorKind::InvalidRequest, "bad origin").with_source(e)
        })?;
        let mut connector = self.inner.connector.clone();
        let stream = async {
            std::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut connector, cx))
                .await?;
            tower_service::Service::call(&mut connector, uri).await
        }
        .await
        .map_err(|e| classify::connect_error(e, origin))?;
        let settings = &self.inner.settings;
        if settings.protocols != Protocols::Http2 && !stream.connected().is_negotiated_h2() {
            self.inner.connector.parked.park(origin, stream);
            lanes.set_http1(origin);
            return Ok(None);
        }
        lanes
            .open_lane(
                origin,
                stream,
                settings.pool_idle_timeout,
                settings.request_timeout,
            )
            .await
            .map(Some)
            .map_err(|e| classify::handshake_error(e, origin))
    }
}

/// Buffers the body, failing as soon as it would exceed `limit`.
async fn read_body(
    response: Response<Incoming>,
    limit: usize,
    origin: &Origin,
) -> Result<Response<Bytes>, TransportError> {
    let (parts, body) = response.into_parts();
    // A declared length over the limit fails before reading anything. (hyper reports an
    // empty size for bodiless responses such as HEAD, 204 and 304.)
    let declared = body.size_hint().lower();
    if usize::try_from(declared).map_or(true, |declared| declared > limit) {
        return Err(classify::body_too_large(origin, limit));
    }
    let collected = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| classify::body_error(e, origin, limit))?;
    Ok(Response::from_parts(parts, collected.to_bytes()))
}

impl Transport for HyperTransport {
    fn send(
        &self,
        request: Request<Bytes>,
    ) -> impl Future<Output = Result<Response<Bytes>, TransportError>> + Send {
        self.execute(request)
    }

    /// The [whole-request timeout](HyperTransportBuilder::request_timeout).
    fn timeout(&self) -> Option<Duration> {
        Some(self.inner.settings.request_timeout)
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("settings", &self.inner.settings)
            .field("added_root_certificates", &self.inner.added_roots)
            .finish_non_exhaustive()
    }
}

/// Configures a [`HyperTransport`]; from [`HyperTransport::builder`].
///
/// Every setting has a production default, so `HyperTransport::builder().build()` is the
/// same as [`HyperTransport::new`]. There is deliberately no way to switch certificate
/// verification off: to trust a local emulator's self-signed certificate, add it (or its
/// CA) with [`add_root_certificate_pem`](Self::add_root_certificate_pem).
#[must_use]
pub struct HyperTransportBuilder {
    settings: Settings,
    extra_roots: Vec<CertificateDer<'static>>,
}

impl HyperTransportBuilder {
    /// The deadline for TCP connect and TLS handshake together. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The deadline for the whole exchange: connect (or wait for a pooled connection),
    /// send, response headers and the complete body. Default 60 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// How long an unused connection stays open. Default 90 s. (An HTTP/2 connection is
    /// closed between one and two idle timeouts after its last request ended.)
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.pool_idle_timeout = timeout;
        self
    }

    /// The most idle HTTP/1.1 connections kept per origin. Default unlimited (bounded by
    /// use); `0` disables connection reuse, HTTP/2 included (every request connects).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.settings.pool_max_idle_per_host = max;
        self
    }

    /// The largest response body accepted, in bytes. A larger body fails with
    /// [`BodyTooLarge`](TransportErrorKind::BodyTooLarge) without being buffered past the
    /// limit (immediately when `content-length` declares it). Default 32 MiB.
    pub fn max_response_body_size(mut self, bytes: usize) -> Self {
        self.settings.max_response_body_size = bytes;
        self
    }

    /// Also trusts the certificates in `pem` (one or more `CERTIFICATE` blocks) as roots,
    /// on top of the root features; this is how to trust a local emulator's self-signed
    /// certificate or a private CA. Fails with a [`Config`](TransportErrorKind::Config)
    /// error when a block is malformed or there is no certificate at all.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, TransportError> {
        let certs = tls::parse_pem_certificates(pem)?;
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// Allows plain `http://` URIs (meant for an emulator on loopback). Default `false`:
    /// they fail with [`InsecureScheme`](TransportErrorKind::InsecureScheme) before any
    /// connection is made.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.settings.allow_http = allow;
        self
    }

    /// Only speaks HTTP/2 (ALPN `h2` over TLS, prior knowledge over plain HTTP), so even
    /// the first burst of concurrent requests shares one connection. Default: negotiate.
    /// Overrides [`http1_only`](Self::http1_only).
    pub fn http2_only(mut self) -> Self {
        self.settings.protocols = Protocols::Http2;
        self
    }

    /// Only speaks HTTP/1.1. Default: negotiate. Overrides [`http2_only`](Self::http2_only).
    pub fn http1_only(mut self) -> Self {
        self.settings.protocols = Protocols::Http1;
        self
    }

    /// Builds the transport. Fails with a [`Config`](TransportErrorKind::Config) error when
    /// there is no crypto provider or no trusted root certificate.
    pub fn build(self) -> Result<HyperTransport, TransportError> {
        let settings = self.settings;
        let tls_config = tls::client_config(&self.extra_roots)?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_keepalive(Some(TCP_KEEPALIVE));

        let schemes = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls_config);
        let schemes = if settings.allow_http {
            schemes.https_or_http()
        } else {
            schemes.https_only()
        };
        let https = match settings.protocols {
            Protocols::Negotiate => schemes.enable_http1().enable_http2().wrap_connector(http),
            Protocols::Http1 => schemes.enable_http1().wrap_connector(http),
            Protocols::Http2 => schemes.enable_http2().wrap_connector(http),
        };
        let connector = TimeoutConnector {
            inner: https,
            timeout: settings.connect_timeout,
            parked: Parked::default(),
        };
        let lanes = (settings.protocols != Protocols::Http1 && settings.pool_max_idle_per_host > 0)
            .then(|| Arc::new(Lanes::new()));

        let mut client = Client::builder(TokioExecutor::new());
        client
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .http2_only(settings.protocols == Protocols::Http2);
        let client = client.build(connector.clone());

        Ok(HyperTransport {
            inner: Arc::new(Inner {
                client,
                lanes,
                connector,
                added_roots: self.extra_roots.len(),
                settings,
            }),
        })
    }
}

impl fmt::Debug for HyperTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransportBuilder")
            .field("settings", &self.settings)
            .field("added_root_certificates", &self.extra_roots.len())
            .finish()
    }
}

/// `scheme://host[:port]` of a request (never user info, path or query), formatted only when a
/// message needs it, so the happy path does not pay for it.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    scheme: Scheme,
    authority: http::uri::Authority,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme.as_str();
        let host = self.authority.host();
        match self.authority.port_u16() {
            Some(port) => write!(f, "{scheme}://{host}:{port}"),
            None => write!(f, "{scheme}://{host}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(allow_http: bool) -> HyperTransport {
        HyperTransport::builder()
            .allow_http(allow_http)
            .build()
            .expect("default build")
    }

    #[test]
    fn origin_has_no_user_info_path_or_query() {
        let uri: Uri = "https://user:secret@example.com:8443/chat?token=abc"
            .parse()
            .unwrap();
        let origin = transport(false).check_uri(&uri).unwrap();
        assert_eq!(origin.to_string(), "https://example.com:8443");
    }

    #[test]
    fn uri_checks() {
        let t = transport(false);
        let kind = |u: &str| t.check_uri(&u.parse().unwrap()).unwrap_err().kind();
        assert_eq!(
            kind("http://127.0.0.1/"),
            TransportErrorKind::InsecureScheme
        );
        assert_eq!(kind("/relative"), TransportErrorKind::InvalidRequest);
        assert_eq!(
            kind("ftp://example.com/"),
            TransportErrorKind::InvalidRequest
        );
        assert!(
            transport(true)
                .check_uri(&"http://127.0.0.1/".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn debug_shows_settings_only() {
        let t = HyperTransport::builder()
            .request_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let debug = format!("{t:?}");
        assert!(debug.contains("request_timeout: 5s"), "{debug}");
        assert!(debug.contains("allow_http: false"), "{debug}");
    }

    #[test]
    fn sending_outside_a_runtime_is_a_config_error() {
        let t = transport(false);
        let request = Request::get("https://example.invalid/")
            .body(Bytes::new())
            .unwrap();
        let fut = t.send(request);
        // Poll once by hand: the check happens before any IO.
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Err(e)) => assert_eq!(e.kind(), TransportErrorKind::Config),
            other => panic!("expected a Config error, got {other:?}"),
        }
    }
}
