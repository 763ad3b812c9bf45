//! Requests are logged with method, path, status and duration, never tokens or signatures.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use acs_chat_protocol::identity::{CreateUser, IDENTITY_API_VERSION, sign_request};
use acs_chat_protocol::operations::ListChatThreads;
use acs_chat_protocol::{DateTime, Operation, RequestContext};
use support::Harness;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_requests_without_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::start().await;
    let (_, token) = h.user();
    h.call(&ListChatThreads::new(), &token).await.unwrap();
    let _ = h.call(&ListChatThreads::new(), "bogus-token").await;
    let ctx = RequestContext::new(h.ctx.endpoint().clone(), IDENTITY_API_VERSION);
    let op = CreateUser::new();
    let mut request = op.build_request(&ctx).unwrap();
    let now = DateTime::from_system_time(std::time::SystemTime::now()).unwrap();
    sign_request(
        &mut request,
        &acs_chat_protocol::identity::AccessKey::from_base64(h.emulator.access_key()).unwrap(),
        now,
    )
    .unwrap();
    let signature = request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    op.parse_response(h.send(request).await.unwrap()).unwrap();
    let access_key = h.emulator.access_key().to_owned();
    h.emulator.shutdown().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("method=GET path=/chat/threads status=200"),
        "{logs}"
    );
    assert!(logs.contains("status=401"), "{logs}");
    assert!(
        logs.contains("method=POST path=/identities status=201"),
        "{logs}"
    );
    assert!(logs.contains("duration_ms="), "{logs}");
    for secret in [
        token.as_str(),
        "bogus-token",
        &signature,
        access_key.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {logs}"
        );
    }
}
