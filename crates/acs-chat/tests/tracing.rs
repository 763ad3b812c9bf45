//! Logs at every level never contain the token or message content (its own process, so the
//! global subscriber sees every event).

use std::sync::{Arc, Mutex};

use acs_chat::{ChatClientBuilder, CommunicationTokenCredential, SendChatMessageOptions};
use bytes::Bytes;
use http::{Request, Response};

// {"exp": 32503680000}
const TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2lnbmF0dXJlLXNlY3JldA";

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn traces_never_contain_the_token_or_content() {
    let buf = Buf::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let calls = Arc::new(Mutex::new(0));
    let transport = {
        let calls = calls.clone();
        move |_r: Request<Bytes>| {
            let n = {
                let mut c = calls.lock().unwrap();
                *c += 1;
                *c
            };
            async move {
                let status = if n == 1 { 429 } else { 201 };
                Ok(Response::builder()
                    .status(status)
                    .header("x-ms-request-id", format!("req-{n}"))
                    .header("retry-after-ms", "0")
                    .body(Bytes::from_static(br#"{"id":"m1"}"#))
                    .unwrap())
            }
        }
    };
    let credential = CommunicationTokenCredential::new(TOKEN).unwrap();
    let client = ChatClientBuilder::new("https://contoso.communication.azure.com", credential)
        .transport(transport)
        .build()
        .unwrap();
    let id = client
        .chat_thread_client("19:abc@thread.v2")
        .send_message("top-secret-content", SendChatMessageOptions::default())
        .await
        .unwrap();
    assert_eq!(id, "m1");

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ChatThread_SendChatMessage"), "{logs}");
    assert!(logs.contains("19:abc@thread.v2"), "{logs}");
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("req-2"), "{logs}");
    assert!(!logs.contains("top-secret-content"), "{logs}");
    assert!(!logs.contains("c2lnbmF0dXJlLXNlY3JldA"), "{logs}");
    assert!(!logs.contains("eyJ"), "{logs}");
    // The span's outcome is recorded once: no line repeats a field after the retry.
    for line in logs.lines() {
        assert!(line.matches("status=").count() <= 1, "{line}");
        assert!(line.matches("attempts=").count() <= 1, "{line}");
    }
    assert!(
        logs.contains("attempts=2 status=201 request_id=\"req-2\""),
        "{logs}"
    );
}
