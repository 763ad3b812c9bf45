//! A test harness: an emulator on 127.0.0.1:0 and a acs-chat-transport client that trusts its CA.

#![allow(dead_code, unreachable_pub)]

pub mod webhook;

use acs_chat_emulator::{Emulator, EmulatorBuilder, RunningEmulator};
use acs_chat_protocol::{ApiVersion, Endpoint, Operation, RequestContext, authorize};
use acs_chat_transport::{HyperTransport, Transport, TransportError};
use bytes::Bytes;
use http::{Request, Response};

pub struct Harness {
    pub emulator: RunningEmulator,
    pub transport: HyperTransport,
    pub ctx: RequestContext,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Emulator::builder()).await
    }

    pub async fn with(builder: EmulatorBuilder) -> Self {
        let emulator = builder.start().await.expect("emulator starts");
        let mut transport = HyperTransport::builder();
        match emulator.ca_certificate_pem() {
            Some(pem) => transport = transport.add_root_certificate_pem(pem.as_bytes()).unwrap(),
            None => {
                // acs-chat-transport wants a root even for plain http: give it an unrelated one.
                let unused = acs_chat_emulator::tls::generate().unwrap().ca_pem;
                transport = transport
                    .allow_http(true)
                    .add_root_certificate_pem(unused.as_bytes())
                    .unwrap();
            }
        }
        Self::over(emulator, transport.build().unwrap())
    }

    pub fn over(emulator: RunningEmulator, transport: HyperTransport) -> Self {
        let endpoint = Endpoint::parse(&emulator.endpoint()).unwrap();
        let ctx = RequestContext::new(endpoint, ApiVersion::default());
        Self {
            emulator,
            transport,
            ctx,
        }
    }

    /// A new user with a 24-hour chat token.
    pub fn user(&self) -> (String, String) {
        self.emulator.create_user_and_token().unwrap()
    }

    /// Creates a thread with `topic` as the holder of `token`; returns its id.
    pub async fn new_thread(&self, token: &str, topic: &str) -> String {
        let op = acs_chat_protocol::operations::CreateChatThread::new(topic, Default::default());
        self.call(&op, token)
            .await
            .expect("the thread is created")
            .chat_thread
            .expect("the result has the thread")
            .id
    }

    pub fn request<O: Operation>(&self, op: &O, token: &str) -> Request<Bytes> {
        let mut request = op.build_request(&self.ctx).unwrap();
        authorize(
            &mut request,
            self.ctx.endpoint(),
            &acs_chat_protocol::AccessToken::new(token, acs_chat_protocol::DateTime::UNIX_EPOCH),
        )
        .unwrap();
        request
    }

    pub async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        self.transport.send(request).await
    }

    pub async fn raw<O: Operation>(&self, op: &O, token: &str) -> Response<Bytes> {
        self.send(self.request(op, token)).await.expect("transport")
    }

    pub async fn call<O: Operation>(
        &self,
        op: &O,
        token: &str,
    ) -> Result<O::Output, acs_chat_protocol::Error> {
        op.parse_response(self.raw(op, token).await)
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.emulator.endpoint().trim_end_matches('/'),
            path_and_query
        )
    }
}

pub fn status(error: &acs_chat_protocol::Error) -> u16 {
    error.status().map_or(0, |s| s.as_u16())
}

pub fn code(error: &acs_chat_protocol::Error) -> String {
    error
        .service()
        .and_then(|s| s.code())
        .unwrap_or_default()
        .to_owned()
}
