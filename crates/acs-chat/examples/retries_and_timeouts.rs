//! Retries, the per-attempt timeout and the overall deadline, against an emulator told to fail.
//!
//! ```sh
//! cargo run -p acs-chat --example retries_and_timeouts
//! ```
//!
//! - `RetryOptions`: how many retries (3), the backoff (full jitter from 800 ms, capped at 60 s)
//!   and the overall deadline of a call (60 s): no call takes longer, retries and waits included.
//! - `attempt_timeout`: a deadline for each attempt, whatever the transport.
//! - A request that may have been processed is never repeated: a message send that failed with a
//!   503 is not retried; a 429 (not processed) is.

mod support;

use std::time::Duration;

use acs_chat::{ChatClient, CommunicationTokenCredential, ErrorKind, RetryOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let emulator = &backend.emulator;
    let (_user, token) = emulator.create_user_and_token()?;
    let client = ChatClient::builder(
        emulator.endpoint(),
        CommunicationTokenCredential::new(token)?,
    )
    .add_root_certificate_pem(emulator.ca_certificate_pem().unwrap_or_default())
    .retry(
        RetryOptions::default()
            .max_retries(4)
            .initial_delay(Duration::from_millis(50))
            .max_delay(Duration::from_secs(2))
            .max_elapsed(Duration::from_secs(10)),
    )
    .attempt_timeout(Duration::from_secs(2))
    .build()?;

    // Two 503s, then success: a GET is retried.
    let thread = client
        .create_chat_thread("Retries", Default::default())
        .await?
        .thread;
    let chat = client.chat_thread_client(&thread.id);
    emulator.faults().fail_next(2, 503);
    let props = chat.get_properties().await?;
    println!("read \"{}\" after two 503s", props.topic);

    // A 503 on a send may come after the message was stored: not retried.
    emulator.faults().fail_next(1, 503);
    let e = chat
        .send_message("hello", Default::default())
        .await
        .unwrap_err();
    println!("send after a 503: {e} (attempts: {})", e.attempts());

    // A 429 says the request was not processed: retried after its Retry-After.
    emulator.faults().fail_next_with_retry_after(1, 429, 1);
    let id = chat.send_message("hello", Default::default()).await?;
    println!("sent {id} after a 429");

    // An attempt that hangs longer than the attempt timeout is abandoned and retried.
    emulator.faults().delay_next(1, Duration::from_secs(5));
    let props = chat.get_properties().await?;
    println!(
        "read \"{}\" after a slow attempt was abandoned",
        props.topic
    );

    // When the failures outlast the retries, the error says so.
    emulator.faults().fail_next(10, 503);
    let e = chat.get_properties().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    println!("gave up: {e}");
    emulator.faults().clear();
    backend.stop().await;
    Ok(())
}
