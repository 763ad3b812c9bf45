//! A credential that refreshes its token: from your backend, on demand, and (optionally) in the
//! background before it expires.
//!
//! ```sh
//! cargo run -p acs-chat --example refreshing_credential
//! ```
//!
//! The refresher is any `Fn() -> impl Future<Output = Result<String, E>>`. Here it asks an
//! `IdentityClient` (standing in for your own backend, which would hold the connection string)
//! for a new token. The first token is issued to expire in 90 seconds: inside the two-minute
//! on-demand window, so the first call refreshes it before sending.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acs_chat::{ChatClient, CommunicationTokenCredential, TokenScope};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let user = backend.identity.create_user().await?;
    // A short-lived token, as a backend might hand out first.
    let (first, _) = backend
        .emulator
        .issue_token(&user.id, &["chat"], Duration::from_secs(90))?;

    let refreshes = Arc::new(AtomicUsize::new(0));
    let credential = CommunicationTokenCredential::builder({
        let identity = backend.identity.clone();
        let user_id = user.id.clone();
        let refreshes = Arc::clone(&refreshes);
        move || {
            // Called when the token nears expiry; at most one call is in flight.
            let identity = identity.clone();
            let user_id = user_id.clone();
            refreshes.fetch_add(1, Ordering::SeqCst);
            async move {
                let token = identity
                    .get_token(
                        &user_id,
                        &[TokenScope::Chat],
                        Some(Duration::from_secs(3600)),
                    )
                    .await?;
                Ok::<_, acs_chat::Error>(token.secret().to_owned())
            }
        }
    })
    .initial_token(first)
    // Also refresh in the background, 10 minutes before expiry, on the client's runtime.
    .refresh_proactively(true)
    .build()?;

    let mut builder = ChatClient::builder(backend.emulator.endpoint(), credential.clone());
    if let Some(ca) = backend.emulator.ca_certificate_pem() {
        builder = builder.add_root_certificate_pem(ca);
    }
    let client = builder.build()?;
    let created = client
        .create_chat_thread("Refreshing", Default::default())
        .await?;
    println!(
        "created {} after {} refresh(es); the token now expires at {}",
        created.thread.id,
        refreshes.load(Ordering::SeqCst),
        credential.get_token().await?.expires_on()
    );
    backend.stop().await;
    Ok(())
}
