//! Client tests over an in-memory transport with a manual clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_chat_transport::{TransportError, TransportErrorKind};
use bytes::Bytes;
use futures::StreamExt as _;
use http::{Request, Response};
use serde_json::{Value, json};

use crate::credential::tests::{jwt, t0};
pub(crate) use crate::runtime::Runtime;
use crate::testing::ManualClock;
use crate::*;

mod identity;
mod methods;
mod paging;
mod retries;

pub(crate) const ENDPOINT: &str = "https://contoso.communication.azure.com";
pub(crate) const THREAD: &str = "19:abc@thread.v2";
pub(crate) const THREAD_PATH: &str = "/chat/threads/19%3Aabc@thread.v2";

type Canned = Result<Response<Bytes>, TransportError>;

/// A replay transport: records every request, answers with the canned responses in order.
#[derive(Default)]
pub(crate) struct Mock {
    requests: Mutex<Vec<Request<Bytes>>>,
    responses: Mutex<VecDeque<Canned>>,
    /// Once the queue is empty, answer with this forever (for retry tests).
    fallback: Mutex<Option<fn() -> Canned>>,
}

impl Mock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn push(&self, r: Canned) -> &Self {
        self.responses.lock().unwrap().push_back(r);
        self
    }

    pub(crate) fn reply(&self, status: u16, body: &str) -> &Self {
        self.push(Ok(response(status, body, &[])))
    }

    pub(crate) fn always(&self, f: fn() -> Canned) {
        *self.fallback.lock().unwrap() = Some(f);
    }

    pub(crate) fn requests(&self) -> Vec<Request<Bytes>> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn answer(&self, request: Request<Bytes>) -> Canned {
        self.requests.lock().unwrap().push(request);
        if let Some(r) = self.responses.lock().unwrap().pop_front() {
            return r;
        }
        match *self.fallback.lock().unwrap() {
            Some(f) => f(),
            None => Err(TransportError::new(
                TransportErrorKind::Other,
                "mock: no canned response left",
            )),
        }
    }

    pub(crate) fn transport(
        self: &Arc<Self>,
    ) -> impl Fn(Request<Bytes>) -> std::future::Ready<Canned> + Send + Sync + 'static {
        let mock = Arc::clone(self);
        move |request| std::future::ready(mock.answer(request))
    }
}

pub(crate) fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if !body.is_empty() {
        b = b.header("content-type", "application/json");
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

pub(crate) fn error_body(code: &str) -> String {
    json!({"error": {"code": code, "message": format!("{code} happened")}}).to_string()
}

/// A token that expires in the year 3000.
pub(crate) fn token() -> String {
    jwt(
        DateTime::from_unix_timestamp(32_503_680_000).unwrap(),
        "user",
    )
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::new(t0())
}

/// Retry options without jitter: every backoff is its ceiling, so tests can assert it.
pub(crate) fn retry() -> RetryOptions {
    RetryOptions::default().jitter(false)
}

/// A client over `mock`, with the manual clock and no jitter.
pub(crate) fn client_with(
    mock: &Arc<Mock>,
    clock: &ManualClock,
    f: impl FnOnce(ChatClientBuilder) -> ChatClientBuilder,
) -> ChatClient {
    let credential = CommunicationTokenCredential::new(token()).unwrap();
    f(ChatClientBuilder::new(ENDPOINT, credential)
        .runtime(clock.clone())
        .retry(retry()))
    .transport(mock.transport())
    .build()
    .unwrap()
}

pub(crate) fn client(mock: &Arc<Mock>, clock: &ManualClock) -> ChatClient {
    client_with(mock, clock, |b| b)
}

/// A participant with an optional display name.
pub(crate) fn participant(
    id: &CommunicationIdentifier,
    name: Option<&str>,
) -> models::ChatParticipant {
    let mut p = models::ChatParticipant::new(id.clone());
    p.display_name = name.map(str::to_owned);
    p
}

pub(crate) fn body_json(request: &Request<Bytes>) -> Value {
    serde_json::from_slice(request.body()).unwrap()
}

pub(crate) fn header<'a>(request: &'a Request<Bytes>, name: &str) -> Option<&'a str> {
    request.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_attempt_carries_client_request_id_user_agent_and_token() {
    let mock = Mock::new();
    mock.reply(503, "").reply(503, "").reply(204, "");
    let clock = clock();
    let c = client_with(&mock, &clock, |b| b.application_id("my-app"));
    c.delete_chat_thread(THREAD).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let id = header(&requests[0], "x-ms-client-request-id")
        .unwrap()
        .to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let ua = format!(
        "my-app acs-chat/{} ({}; {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    for r in &requests {
        assert_eq!(header(r, "x-ms-client-request-id"), Some(id.as_str()));
        assert_eq!(header(r, "user-agent"), Some(ua.as_str()));
        assert_eq!(
            header(r, "authorization"),
            Some(format!("Bearer {}", token()).as_str())
        );
        assert!(r.headers()["authorization"].is_sensitive());
    }
    // a new call gets a new id
    mock.reply(204, "");
    c.delete_chat_thread(THREAD).await.unwrap();
    assert_ne!(
        header(&mock.requests()[3], "x-ms-client-request-id"),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn user_agent_without_application_id() {
    let mock = Mock::new();
    mock.reply(204, "");
    let c = client(&mock, &clock());
    c.delete_chat_thread(THREAD).await.unwrap();
    let ua = header(&mock.requests()[0], "user-agent")
        .unwrap()
        .to_owned();
    assert!(
        ua.starts_with(&format!("acs-chat/{} (", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
}

#[test]
fn builder_validates_endpoint_http_and_application_id() {
    let mock = Mock::new();
    let cred = || CommunicationTokenCredential::new(token()).unwrap();
    let build = |endpoint: &str, f: fn(ChatClientBuilder) -> ChatClientBuilder| {
        f(ChatClientBuilder::new(endpoint, cred()))
            .transport(mock.transport())
            .build()
            .map(drop)
    };
    let e = build("http://127.0.0.1:8080", |b| b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("allow_insecure_http"), "{e}");
    build("http://127.0.0.1:8080", |b| b.allow_insecure_http(true)).unwrap();
    assert_eq!(
        build("not a url", |b| b).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    for bad in ["", "has space", "way-too-long-application-id-here"] {
        let e = ChatClientBuilder::new(ENDPOINT, cred())
            .application_id(bad)
            .transport(mock.transport())
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    assert_eq!(mock.count(), 0);
}

#[test]
fn clients_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    let mock = Mock::new();
    let c = client(&mock, &clock());
    fn check<T: Send + Sync + Clone>(_: &T) {}
    check(&c);
    check(&c.chat_thread_client(THREAD));
    assert_send_sync::<CommunicationTokenCredential>();
    let c2 = c.clone();
    assert!(Arc::ptr_eq(&c.pipeline, &c2.pipeline));
}

#[cfg(feature = "hyper")]
#[test]
fn default_transport_needs_no_ceremony() {
    let credential = CommunicationTokenCredential::new(token()).unwrap();
    let client: ChatClient = ChatClient::builder(ENDPOINT, credential).build().unwrap();
    assert_eq!(client.api_version().as_str(), "2025-03-15");
    let debug = format!("{client:?}");
    assert!(!debug.contains("eyJ"), "{debug}");
}

#[tokio::test]
async fn the_client_refreshes_an_expiring_token_before_sending() {
    let clock = clock();
    let refreshed = jwt(
        t0().checked_add(Duration::from_secs(3600)).unwrap(),
        "fresh",
    );
    let expiring = jwt(t0().checked_add(Duration::from_secs(60)).unwrap(), "old");
    let credential = CommunicationTokenCredential::builder({
        let refreshed = refreshed.clone();
        move || {
            let t = refreshed.clone();
            async move { Ok::<_, std::io::Error>(t) }
        }
    })
    .initial_token(expiring)
    .build()
    .unwrap();
    let mock = Mock::new();
    mock.reply(204, "");
    let c = ChatClientBuilder::new(ENDPOINT, credential)
        .runtime(clock.clone())
        .transport(mock.transport())
        .build()
        .unwrap();
    c.delete_chat_thread(THREAD).await.unwrap();
    assert_eq!(
        header(&mock.requests()[0], "authorization"),
        Some(format!("Bearer {refreshed}").as_str())
    );
}

#[tokio::test]
async fn a_failing_refresher_fails_the_call_before_any_request() {
    let mock = Mock::new();
    let credential = CommunicationTokenCredential::builder(|| async {
        Err::<String, _>(std::io::Error::other("identity backend down"))
    })
    .build()
    .unwrap();
    let c = ChatClientBuilder::new(ENDPOINT, credential)
        .transport(mock.transport())
        .build()
        .unwrap();
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert_eq!(e.operation(), Some("Chat_DeleteChatThread"));
    assert_eq!(mock.count(), 0);
}

/// The transport is not a type parameter: a client over a closure and one over the default
/// transport are the same type (they fit in one array) and talk to the same endpoint.
#[cfg(feature = "hyper")]
#[test]
fn a_client_over_a_closure_has_the_type_of_one_over_the_default_transport() {
    let mock = Mock::new();
    let clients: [ChatClient; 2] = [
        client(&mock, &clock()),
        ChatClient::builder(
            ENDPOINT,
            CommunicationTokenCredential::new(token()).unwrap(),
        )
        .runtime(clock())
        .build()
        .unwrap(),
    ];
    let host = ENDPOINT
        .trim_start_matches("https://")
        .trim_end_matches('/');
    for c in &clients {
        assert!(format!("{c:?}").contains(host), "{c:?}");
    }
}

#[cfg(feature = "hyper")]
#[test]
fn a_bad_root_certificate_is_an_invalid_argument_on_every_builder() {
    let chat = ChatClient::builder(
        ENDPOINT,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .runtime(clock())
    .add_root_certificate_pem("not a pem")
    .build()
    .unwrap_err();
    let identity = IdentityClient::builder(&format!("endpoint={ENDPOINT}/;accesskey=cHc="))
        .runtime(clock())
        .add_root_certificate_pem("not a pem")
        .build()
        .unwrap_err();
    for e in [chat, identity] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("add_root_certificate_pem"), "{e}");
    }
}

#[test]
fn default_transport_settings_with_a_custom_transport_are_refused() {
    let mock = Mock::new();
    let e = ChatClient::builder(
        ENDPOINT,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .runtime(clock())
    .transport(mock.transport())
    .connect_timeout(Duration::from_secs(1))
    .build()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
