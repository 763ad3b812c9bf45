//! The canned server: HTTPS on 127.0.0.1 (tokio-rustls + hyper, a self-signed rcgen
//! certificate made at start) answering with precomputed bodies, so that it is never the
//! bottleneck.
//!
//! - `POST /chat/threads/{id}/messages`: 201 `{"id":"…"}`.
//! - `GET /chat/threads/{id}/messages`: 200, a page of [`LIST_PAGE_SIZE`] messages without a
//!   nextLink; for the thread [`paging_thread`](crate::fixtures::paging_thread)`(pages)`, page `syncState` (0 when absent) of
//!   `pages` pages of [`PAGING_PAGE_SIZE`] messages, each with a nextLink to the next page on
//!   this server's origin except the last.
//!
//! The request body is read (to keep the connection clean) but never parsed.
//!
//! [`Shape::Service`] also answers with the headers the service (and the emulator) sends: on
//! every response `x-ms-request-id` and `MS-CV`, the request's `x-ms-client-request-id`
//! echoed, and on a send-message 201 the new message's `Location`. Their values are fixed
//! (canned); only the echo is per request. It is the baseline the emulator is compared with,
//! so that the comparison measures the emulator's work rather than a difference in the bytes
//! on the wire.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use acs_chat_protocol::headers::{CLIENT_REQUEST_ID, MS_CV, REQUEST_ID};
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::BoxError;
use crate::fixtures::{
    LIST_PAGE_SIZE, PAGING_MARKER, PAGING_PAGE_SIZE, SEND_RESPONSE, SENT_MESSAGE_ID, THREAD,
    last_page, page_prefix,
};

/// Which headers the canned server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `Content-Type` only.
    Bare,
    /// Also the service's response headers (see the module documentation).
    Service,
}

/// The fixed values of [`Shape::Service`]'s headers.
struct ServiceHeaders {
    request_id: HeaderValue,
    ms_cv: HeaderValue,
    /// The sent message's URL on this server, for [`THREAD`].
    location: HeaderValue,
}

/// A running canned server; stops when dropped.
pub(crate) struct CannedServer {
    endpoint: String,
    ca_pem: String,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

struct State {
    origin: String,
    send_body: Bytes,
    list_body: Bytes,
    paging_prefix: Bytes,
    service: Option<ServiceHeaders>,
    requests: AtomicU64,
}

impl CannedServer {
    /// Generates a certificate for 127.0.0.1 and localhost, binds 127.0.0.1:0 and serves in
    /// a task of the current runtime, answering with the headers of `shape`.
    pub(crate) async fn start(shape: Shape) -> Result<Self, BoxError> {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".into()])?;
        let ca_pem = certified.cert.pem();
        let cert = CertificateDer::from(certified.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let origin = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let service = match shape {
            Shape::Bare => None,
            Shape::Service => Some(ServiceHeaders {
                request_id: HeaderValue::from_static("00000000-0000-4000-8000-000000000001"),
                ms_cv: HeaderValue::from_static("emulator.1"),
                location: HeaderValue::try_from(format!(
                    "{origin}/chat/threads/{}/messages/{SENT_MESSAGE_ID}",
                    acs_chat_protocol::encode_path_segment(THREAD)
                ))?,
            }),
        };
        let state = Arc::new(State {
            origin: origin.clone(),
            send_body: Bytes::from_static(SEND_RESPONSE.as_bytes()),
            list_body: Bytes::from(last_page(LIST_PAGE_SIZE)),
            paging_prefix: Bytes::from(page_prefix(PAGING_PAGE_SIZE)),
            service,
            requests: AtomicU64::new(0),
        });
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&state), rx));
        Ok(Self {
            endpoint: origin,
            ca_pem,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The self-signed certificate, to trust as a root.
    pub(crate) fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Requests answered so far.
    pub(crate) fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting and waits for the accept loop to end.
    pub(crate) async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(state.respond(request).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

impl State {
    async fn respond(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let echo = request.headers().get(CLIENT_REQUEST_ID).cloned();
        let is_post = request.method() == Method::POST;
        let mut response = self.answer(request).await;
        if let Some(service) = &self.service {
            let created = is_post && response.status() == StatusCode::CREATED;
            let headers = response.headers_mut();
            headers.insert(REQUEST_ID, service.request_id.clone());
            headers.insert(MS_CV, service.ms_cv.clone());
            if let Some(echo) = echo {
                headers.insert(CLIENT_REQUEST_ID, echo);
            }
            if created {
                headers.insert(LOCATION, service.location.clone());
            }
        }
        response
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        // Drain the (small) body so the connection stays clean; it is never parsed.
        if body.collect().await.is_err() {
            return json(StatusCode::BAD_REQUEST, Bytes::new());
        }
        let thread = parts
            .uri
            .path()
            .strip_prefix("/chat/threads/")
            .and_then(|rest| rest.strip_suffix("/messages"));
        let Some(thread) = thread else {
            return json(StatusCode::NOT_FOUND, Bytes::new());
        };
        match parts.method {
            Method::POST => json(StatusCode::CREATED, self.send_body.clone()),
            Method::GET => match paging_pages(thread) {
                Some(pages) => {
                    let page = parts
                        .uri
                        .query()
                        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("syncState=")))
                        .and_then(|n| n.parse::<usize>().ok())
                        .unwrap_or(0);
                    json(StatusCode::OK, self.paging_page(thread, page, pages))
                }
                None => json(StatusCode::OK, self.list_body.clone()),
            },
            _ => json(StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
        }
    }

    /// Page `page` of `pages`: the shared 200 messages, then a nextLink unless it is the last.
    fn paging_page(&self, thread: &str, page: usize, pages: usize) -> Bytes {
        let mut body = BytesMut::with_capacity(self.paging_prefix.len() + 256);
        body.extend_from_slice(&self.paging_prefix);
        if page + 1 < pages {
            let link = format!(
                r#"],"nextLink":"{}/chat/threads/{thread}/messages?syncState={}&maxPageSize={PAGING_PAGE_SIZE}&api-version=2025-03-15"}}"#,
                self.origin,
                page + 1
            );
            body.extend_from_slice(link.as_bytes());
        } else {
            body.extend_from_slice(b"]}");
        }
        body.freeze()
    }
}

/// The page count of a paging thread (its id as it appears, percent-encoded, in the path).
fn paging_pages(thread_segment: &str) -> Option<usize> {
    let (_, rest) = thread_segment.split_once(PAGING_MARKER)?;
    rest.split('@').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_paging_threads() {
        assert_eq!(paging_pages("19%3Apaging-500@thread.v2"), Some(500));
        assert_eq!(paging_pages("19:paging-10@thread.v2"), Some(10));
        assert_eq!(
            paging_pages("19%3Ameeting_453dafb77b26481ea2e73bcada0324af@thread.v2"),
            None
        );
    }
}
