//! The baseline: a bare hyper-util client over hyper-rustls, sending requests byte-identical to
//! acs-chat's (built once with acs-chat-protocol's operations and `authorize`, plus the two
//! headers acs-chat adds), and the check that they are identical.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use acs_chat::{ChatClientBuilder, CommunicationTokenCredential};
use acs_chat_protocol::operations::{ListChatMessages, ListChatMessagesOptions, SendChatMessage};
use acs_chat_protocol::{AccessToken, ApiVersion, Endpoint, Operation, RequestContext, authorize};
use acs_chat_transport::TransportError;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, USER_AGENT};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::common::{PlainPage, PlainSendResult};
use crate::fixtures::{LIST_PAGE_SIZE, SEND_RESPONSE, SENT_CONTENT, THREAD, TOKEN, last_page};
use crate::{BoxError, Op, Protocol, client_driver};

/// The bare client.
pub(crate) type RawClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// hyper-util's pooled client over hyper-rustls (ring), trusting only `ca_pem`, speaking
/// only `protocol`, with TCP_NODELAY like acs-chat-transport. Nothing else is configured.
pub(crate) fn client(ca_pem: &str, protocol: Protocol) -> Result<RawClient, BoxError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only();
    let https = match protocol {
        Protocol::Http2 => https.enable_http2().wrap_connector(http),
        Protocol::Http1 => https.enable_http1().wrap_connector(http),
    };
    Ok(Client::builder(TokioExecutor::new())
        .http2_only(protocol == Protocol::Http2)
        .build(https))
}

/// What the *raw+decode* variant does with a 2xx body: `serde_json` into the plain types.
pub(crate) type Decode = fn(&[u8]) -> Result<(), BoxError>;

/// Decodes a send-message 201 into [`PlainSendResult`].
pub(crate) fn decode_send(body: &[u8]) -> Result<(), BoxError> {
    let result: PlainSendResult = serde_json::from_slice(body)?;
    std::hint::black_box(result);
    Ok(())
}

/// Decodes a list-messages page into [`PlainPage`].
pub(crate) fn decode_list(body: &[u8]) -> Result<(), BoxError> {
    let page: PlainPage = serde_json::from_slice(body)?;
    std::hint::black_box(page);
    Ok(())
}

/// A request to send again and again, and the status it must get.
#[derive(Debug)]
pub(crate) struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    expect: StatusCode,
    /// Distinct client request ids, used in turn (see [`request_ids`]).
    ids: Vec<HeaderValue>,
    next_id: AtomicUsize,
}

/// The client request id header.
const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";

/// How many distinct client request ids the raw requests cycle through.
const DISTINCT_IDS: usize = 1024;

/// acs-chat sends a fresh UUID v4 on every request, which HPACK (HTTP/2 header compression)
/// cannot index away, so the raw requests carry distinct ids too: 1024 UUID v4s made once,
/// used in turn (far more than the ~45 such entries the 4 KiB HPACK table can hold, so none is
/// ever sent as an index), so that the wire bytes match while the raw client pays nothing to
/// make them. Static header values: cloning one costs nothing.
fn request_ids() -> Vec<HeaderValue> {
    (0..DISTINCT_IDS)
        .map(|_| {
            let id: &'static str = Box::leak(
                uuid::Builder::from_random_bytes(fastrand::u128(..).to_ne_bytes())
                    .into_uuid()
                    .to_string()
                    .into_boxed_str(),
            );
            HeaderValue::from_static(id)
        })
        .collect()
}

/// acs-chat's User-Agent without an application id.
fn user_agent() -> String {
    format!(
        "acs-chat/{} ({}; {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

impl Template {
    fn new<O: Operation>(op: &O, endpoint: &str, expect: StatusCode) -> Result<Self, BoxError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let ctx = RequestContext::new(endpoint.clone(), ApiVersion::default());
        let mut request = op.build_request(&ctx)?;
        let ids = request_ids();
        let headers = request.headers_mut();
        headers.insert(CLIENT_REQUEST_ID, ids[0].clone());
        headers.insert(USER_AGENT, HeaderValue::try_from(user_agent())?);
        authorize(&mut request, &endpoint, &AccessToken::from_jwt(TOKEN)?)?;
        let (parts, body) = request.into_parts();
        Ok(Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            expect,
            ids,
            next_id: AtomicUsize::new(0),
        })
    }

    /// The send-message request of the benchmarks.
    pub(crate) fn send_message(endpoint: &str) -> Result<Self, BoxError> {
        let op = SendChatMessage::new(THREAD, SENT_CONTENT, Default::default());
        Self::new(&op, endpoint, StatusCode::CREATED)
    }

    /// The list-messages request of the benchmarks (first page, `maxPageSize` 20).
    pub(crate) fn list_messages(endpoint: &str) -> Result<Self, BoxError> {
        let options = ListChatMessagesOptions::default().max_page_size(LIST_PAGE_SIZE as i32);
        let op = ListChatMessages::new(THREAD, options);
        Self::new(&op, endpoint, StatusCode::OK)
    }

    /// A fresh copy of the request.
    fn request<B>(&self, body: impl FnOnce(Bytes) -> B) -> Request<B> {
        let mut request = Request::new(body(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        let mut headers = self.headers.clone();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = headers.get_mut(CLIENT_REQUEST_ID) {
            *id = self.ids[n % self.ids.len()].clone();
        }
        *request.headers_mut() = headers;
        request
    }

    /// Sends it through acs-chat-transport's `HyperTransport` alone (no acs-chat); the status
    /// must be the expected one.
    pub(crate) async fn send_transport(
        &self,
        transport: &acs_chat_transport::HyperTransport,
    ) -> Result<(), BoxError> {
        use acs_chat_transport::Transport as _;
        let response = transport.send(self.request(|b| b)).await?;
        if response.status() != self.expect {
            return Err(format!("transport request got {}", response.status()).into());
        }
        Ok(())
    }

    /// Sends it and reads the whole body, as acs-chat-transport does; the status must be the
    /// expected one.
    pub(crate) async fn send(
        &self,
        client: &RawClient,
        decode: Option<Decode>,
    ) -> Result<(), BoxError> {
        let response = client.request(self.request(Full::new)).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != self.expect {
            return Err(format!("raw request got {status}: {body:?}").into());
        }
        match decode {
            Some(decode) => decode(&body),
            None => Ok(()),
        }
    }

    /// Differences with a request acs-chat built (the client request id's value aside,
    /// which is random), as text; empty when byte-identical.
    fn differences(&self, other: &Request<Bytes>) -> Vec<String> {
        let mut diff = Vec::new();
        if self.method != *other.method() {
            diff.push(format!("method {} vs {}", self.method, other.method()));
        }
        if self.uri != *other.uri() {
            diff.push(format!("URI {} vs {}", self.uri, other.uri()));
        }
        if self.body != *other.body() {
            diff.push(format!("body {:?} vs {:?}", self.body, other.body()));
        }
        let ours: Vec<_> = self.headers.iter().collect();
        let theirs: Vec<_> = other.headers().iter().collect();
        let same = ours.len() == theirs.len()
            && ours.iter().zip(&theirs).all(|((n1, v1), (n2, v2))| {
                n1 == n2
                    && v1.is_sensitive() == v2.is_sensitive()
                    && (v1 == v2 || (n1.as_str() == CLIENT_REQUEST_ID && v1.len() == v2.len()))
            });
        if !same {
            diff.push(format!("headers {ours:?} vs {theirs:?}"));
        }
        diff
    }
}

/// Runs acs-chat's send-message and list-messages over a transport that records the
/// requests, and checks that the raw templates match them. Returns the list of differences
/// (empty when byte-identical).
pub(crate) async fn verify(endpoint: &str) -> Result<Vec<String>, BoxError> {
    let seen: Arc<Mutex<Vec<Request<Bytes>>>> = Arc::default();
    let recorder = {
        let seen = Arc::clone(&seen);
        move |request: Request<Bytes>| {
            let body = if request.method() == Method::POST {
                (
                    StatusCode::CREATED,
                    Bytes::from_static(SEND_RESPONSE.as_bytes()),
                )
            } else {
                (StatusCode::OK, Bytes::from(last_page(1)))
            };
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(request);
            async move {
                let mut response = Response::new(body.1);
                *response.status_mut() = body.0;
                Ok::<_, TransportError>(response)
            }
        }
    };
    let credential = CommunicationTokenCredential::new(TOKEN)?;
    let client = ChatClientBuilder::new(endpoint, credential)
        .transport(recorder)
        .build()?;
    // Exactly the calls the client variant makes.
    let thread = client.chat_thread_client(THREAD);
    for op in Op::ALL {
        client_driver(thread.clone(), op)().await?;
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let [send, list] = <[Request<Bytes>; 2]>::try_from(seen)
        .map_err(|seen| format!("acs-chat sent {} requests, not 2", seen.len()))?;
    let mut diff = Template::send_message(endpoint)?.differences(&send);
    diff.extend(Template::list_messages(endpoint)?.differences(&list));
    Ok(diff)
}
