//! Any `Transport` works, including a plain closure: here a fake service with canned answers
//! that throttles the first request, to show the retry and the injected backoff.
//! `cargo run -p acs-chat --example custom_transport` (no network, no emulator).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acs_chat::{
    ChatClientBuilder, CommunicationTokenCredential, RetryOptions, SendChatMessageOptions,
    TransportError,
};
use bytes::Bytes;
use http::{Request, Response};

// A JWT whose `exp` is in the year 3000 (the client reads only `exp`).
const TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2ln";

#[tokio::main]
async fn main() -> Result<(), acs_chat::Error> {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let transport = move |request: Request<Bytes>| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        println!(
            "-> {} {} (client request id {:?})",
            request.method(),
            request.uri(),
            request.headers().get("x-ms-client-request-id")
        );
        async move {
            let response = if n == 0 {
                // 429: the request was not processed, so even a POST is retried.
                Response::builder()
                    .status(429)
                    .header("retry-after-ms", "50")
                    .body(Bytes::new())
            } else {
                Response::builder()
                    .status(201)
                    .header("content-type", "application/json")
                    .body(Bytes::from_static(br#"{"id":"1727000000000"}"#))
            };
            response.map_err(|e| {
                TransportError::new(acs_chat::TransportErrorKind::Other, e.to_string())
            })
        }
    };

    let client = ChatClientBuilder::new(
        "https://contoso.communication.azure.com",
        CommunicationTokenCredential::new(TOKEN)?,
    )
    .transport(transport)
    .retry(
        RetryOptions::default()
            .max_retries(2)
            .max_elapsed(Duration::from_secs(10)),
    )
    .build()?;

    let id = client
        .chat_thread_client("19:demo@thread.v2")
        .send_message("hello through a closure", SendChatMessageOptions::default())
        .await?;
    println!(
        "sent {id} after {} attempt(s)",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}
