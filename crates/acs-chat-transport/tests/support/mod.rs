//! Loopback servers for the transport tests: a TLS server (hyper, HTTP/1.1 and HTTP/2 by
//! ALPN) and raw TLS / TCP servers that misbehave on purpose. Every server binds
//! 127.0.0.1:0, counts accepted TCP connections and lives as long as the test's runtime.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::body::{Body, Frame};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub(crate) const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
pub(crate) const H1_ONLY: &[&[u8]] = &[b"http/1.1"];

/// A CA and a server certificate it issued for 127.0.0.1 and localhost, made at test time.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl Pki {
    pub(crate) fn new() -> Self {
        Self::issued_for(&["127.0.0.1", "localhost"])
    }

    /// A CA and a server certificate for `names` (DNS names or IP addresses).
    pub(crate) fn issued_for(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "acs-chat-transport test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf_params = CertificateParams::new(names).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
            chain: vec![leaf.der().clone()],
            key: leaf_key.serialize_der(),
        }
    }

    /// A self-signed server certificate (no CA), like a local emulator's.
    pub(crate) fn self_signed() -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Pki {
            ca_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }

    /// A self-signed CA certificate used as the server's own, as `openssl req -x509` makes.
    pub(crate) fn ca_as_end_entity() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }

    pub(crate) fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// A running loopback server.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Connections whose handling ended (closed by either side).
    closed: Arc<watch::Sender<usize>>,
    state: Arc<State>,
}

/// What the handler shares across connections.
#[derive(Default)]
struct State {
    requests: AtomicUsize,
    /// The same count, to wait on.
    arrived: watch::Sender<usize>,
    /// How many `/together/N/...` requests have arrived.
    together: watch::Sender<usize>,
}

impl Server {
    pub(crate) fn https(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub(crate) fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// TCP connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests that reached the HTTP handler so far (hyper servers only).
    pub(crate) fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests have reached the handler (at most 20 s).
    pub(crate) async fn wait_requests(&self, n: usize) {
        wait_for(&self.state.arrived, n, "requests").await;
    }

    /// Waits until `n` connections have been closed (at most 20 s).
    pub(crate) async fn wait_closed(&self, n: usize) {
        wait_for(&self.closed, n, "closed connections").await;
    }
}

async fn wait_for(count: &watch::Sender<usize>, n: usize, what: &str) {
    let mut seen = count.subscribe();
    tokio::time::timeout(Duration::from_secs(20), seen.wait_for(|c| *c >= n))
        .await
        .unwrap_or_else(|_| panic!("fewer than {n} {what} after 20 s"))
        .expect("the server is running");
}

/// A response body that sends a few bytes, then fails: hyper aborts the response (HTTP/1:
/// closes the connection; HTTP/2: resets the stream).
struct PartialThenError {
    sent: bool,
}

impl Body for PartialThenError {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.sent {
            std::task::Poll::Ready(Some(Err(std::io::Error::other("handler gave up"))))
        } else {
            self.sent = true;
            std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial")))))
        }
    }
}

/// The well-behaved handler: 200, the request's HTTP version in `x-served-version`,
/// the path as body; `/size/N` answers N bytes; `/abort` breaks off its body; `/together/N/...` answers once N such
/// requests are in flight at the same time.
async fn handler(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<BoxBody<Bytes, std::io::Error>>, Infallible> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.arrived.send_modify(|count| *count += 1);
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/together/") {
        let n: usize = rest.split('/').next().unwrap().parse().unwrap();
        let mut arrived = state.together.subscribe();
        state.together.send_modify(|count| *count += 1);
        arrived.wait_for(|count| *count >= n).await.unwrap();
    }
    let body = if path == "/abort" {
        BoxBody::new(PartialThenError { sent: false })
    } else {
        let bytes = match path.strip_prefix("/size/") {
            Some(n) => Bytes::from(vec![b'x'; n.parse().unwrap()]),
            None => Bytes::from(path),
        };
        BoxBody::new(Full::new(bytes).map_err(|never| match never {}))
    };
    let response = Response::builder()
        .header("x-served-version", format!("{:?}", request.version()))
        .body(body)
        .unwrap();
    Ok(response)
}

async fn serve_hyper<IO>(io: IO, state: Arc<State>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| handler(req, state.clone()));
    // Errors (a client that goes away) end the connection; nothing to report.
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service)
        .await;
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts connections and hands each to `on_connection` in its own task.
async fn spawn_acceptor<F, Fut>(on_connection: F) -> Server
where
    F: Fn(TcpStream, Arc<State>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = listen().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(watch::Sender::new(0));
    let state = Arc::new(State::default());
    let server = Server {
        addr,
        accepted: accepted.clone(),
        closed: closed.clone(),
        state: state.clone(),
    };
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let connection = on_connection(tcp, state.clone());
            let closed = closed.clone();
            tokio::spawn(async move {
                connection.await;
                closed.send_modify(|count| *count += 1);
            });
        }
    });
    server
}

/// An HTTPS server (hyper) offering `alpn`.
pub(crate) async fn https_server(pki: &Pki, alpn: &[&[u8]]) -> Server {
    let acceptor = pki.acceptor(alpn);
    spawn_acceptor(move |tcp, state| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                serve_hyper(tls, state).await;
            }
        }
    })
    .await
}

/// An HTTPS server (hyper, HTTP/2 only) that closes each connection gracefully (GOAWAY)
/// after its first request: the request is answered, then the connection ends.
pub(crate) async fn https_server_closing_after_each_request(pki: &Pki) -> Server {
    let acceptor = pki.acceptor(&[b"h2"]);
    spawn_acceptor(move |tcp, state| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let (answered, mut first) = tokio::sync::mpsc::unbounded_channel::<()>();
            let service = service_fn(move |req| {
                let _ = answered.send(());
                handler(req, state.clone())
            });
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = first.recv() => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    })
    .await
}

/// A plain-HTTP server (hyper).
pub(crate) async fn http_server() -> Server {
    spawn_acceptor(serve_hyper).await
}

/// A TLS server (HTTP/1.1 by ALPN) whose connections are handled by `behaviour` with the
/// raw decrypted stream.
pub(crate) async fn raw_tls_server<F, Fut>(pki: &Pki, behaviour: F) -> Server
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let acceptor = pki.acceptor(H1_ONLY);
    spawn_acceptor(move |tcp, _| {
        let acceptor = acceptor.clone();
        let behaviour = behaviour.clone();
        async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                behaviour(tls).await;
            }
        }
    })
    .await
}

/// A TCP server whose connections are handled by `behaviour` (no TLS).
pub(crate) async fn raw_tcp_server<F, Fut>(behaviour: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    spawn_acceptor(move |tcp, _| behaviour(tcp)).await
}

/// What [`h2c_server_answering`] answers to the first request's `HEADERS`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum H2Answer {
    /// `RST_STREAM` with this error code on the request's stream; the connection stays open.
    Reset(u32),
    /// `GOAWAY` (`NO_ERROR`) whose last stream id is the request's own (`processed`) or 0,
    /// then the server's end of the connection is shut (it reads on, so no TCP reset).
    GoAway { processed: bool },
}

/// An HTTP/2 server by prior knowledge on plain TCP, its frames written here
/// (<https://www.rfc-editor.org/rfc/rfc9113#section-4>): it answers only as `answer` says.
pub(crate) async fn h2c_server_answering(answer: H2Answer) -> Server {
    raw_tcp_server(move |tcp| h2c_answer(tcp, answer)).await
}

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
pub(crate) fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// HTTP/2 frame types (RFC 9113 §6).
pub(crate) const H2_HEADERS: u8 = 0x1;
pub(crate) const H2_RST_STREAM: u8 = 0x3;
pub(crate) const H2_SETTINGS: u8 = 0x4;
pub(crate) const H2_GOAWAY: u8 = 0x7;

/// A frame read from the client: (type, flags, stream id); `None` once the connection ends.
pub(crate) async fn h2_read_frame(tcp: &mut TcpStream) -> Option<(u8, u8, u32)> {
    let mut head = [0u8; 9];
    tcp.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], stream))
}

/// Reads the client's connection preface and sends the server's `SETTINGS` (`settings`:
/// identifier, value pairs); false if the connection ended.
pub(crate) async fn h2_accept(tcp: &mut TcpStream, settings: &[(u16, u32)]) -> bool {
    let mut preface = [0u8; 24];
    let mut payload = Vec::new();
    for (id, value) in settings {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    tcp.read_exact(&mut preface).await.is_ok()
        && tcp
            .write_all(&h2_frame(H2_SETTINGS, 0, 0, &payload))
            .await
            .is_ok()
}

/// The `SETTINGS` acknowledgement.
pub(crate) fn h2_settings_ack() -> Vec<u8> {
    h2_frame(H2_SETTINGS, 0x1, 0, &[])
}

/// A `GOAWAY` (`NO_ERROR`) with this last stream id.
pub(crate) fn h2_goaway(last: u32) -> Vec<u8> {
    let mut payload = last.to_be_bytes().to_vec();
    payload.extend_from_slice(&0u32.to_be_bytes());
    h2_frame(H2_GOAWAY, 0, 0, &payload)
}

/// A `200` response without a body on `stream` (`:status: 200` is entry 8 of HPACK's static
/// table, RFC 7541 Appendix A; flags `END_STREAM | END_HEADERS`).
pub(crate) fn h2_ok(stream: u32) -> Vec<u8> {
    h2_frame(H2_HEADERS, 0x5, stream, &[0x88])
}

async fn h2c_answer(mut tcp: TcpStream, answer: H2Answer) {
    if !h2_accept(&mut tcp, &[]).await {
        return;
    }
    while let Some((kind, flags, stream)) = h2_read_frame(&mut tcp).await {
        let reply = match (kind, answer) {
            (H2_SETTINGS, _) if flags & 0x1 == 0 => h2_settings_ack(),
            (H2_HEADERS, H2Answer::Reset(code)) => {
                h2_frame(H2_RST_STREAM, 0, stream, &code.to_be_bytes())
            }
            (H2_HEADERS, H2Answer::GoAway { processed }) => {
                h2_goaway(if processed { stream } else { 0 })
            }
            _ => continue,
        };
        if tcp.write_all(&reply).await.is_err() {
            return;
        }
        if kind == H2_HEADERS {
            if matches!(answer, H2Answer::GoAway { .. }) {
                let _ = tcp.shutdown().await;
            }
            return hold_open(tcp).await;
        }
    }
}

/// Reads until the end of the request head (requests in these tests have no body).
pub(crate) async fn read_request_head<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads and discards until the peer closes: holds the connection open without answering.
pub(crate) async fn hold_open<S: AsyncRead + Unpin>(mut stream: S) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// An address where nothing listens (bound, then released).
pub(crate) async fn closed_port() -> SocketAddr {
    let (listener, addr) = listen().await;
    drop(listener);
    addr
}
