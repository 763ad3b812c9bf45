//! Tracing: every call is one `acs_chat.request` span, with `debug` events per attempt and an
//! `info` event per retry. Tokens and message content never appear.
//!
//! ```sh
//! RUST_LOG=acs_chat=debug cargo run -p acs-chat --example tracing
//! ```
//!
//! `RUST_LOG=acs_chat=debug` shows the client's events only; `RUST_LOG=debug` would add every
//! frame of the HTTP/2 stack underneath.

mod support;

use std::time::Duration;

use acs_chat::{ChatClient, CommunicationTokenCredential, RetryOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "acs_chat=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let backend = support::Backend::start().await?;
    let emulator = &backend.emulator;
    let (_user, token) = emulator.create_user_and_token()?;
    let client = ChatClient::builder(
        emulator.endpoint(),
        CommunicationTokenCredential::new(token)?,
    )
    .add_root_certificate_pem(emulator.ca_certificate_pem().unwrap_or_default())
    .retry(RetryOptions::default().initial_delay(Duration::from_millis(10)))
    .build()?;
    let thread = client
        .create_chat_thread("Traced", Default::default())
        .await?
        .thread;
    let chat = client.chat_thread_client(&thread.id);
    // One retried call, to see the `retrying` event and the span's outcome.
    emulator.faults().fail_next(1, 503);
    chat.get_properties().await?;
    chat.send_message("not in the logs", Default::default())
        .await?;
    backend.stop().await;
    Ok(())
}
