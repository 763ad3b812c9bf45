//! `IdentityClient` on its own: what a backend does with the resource's connection string —
//! create users, issue and revoke their tokens, delete them.
//!
//! ```sh
//! cargo run -p acs-chat --example identity
//! # or against a real resource:
//! AZURE_COMMUNICATION_CONNECTION_STRING='endpoint=https://…;accesskey=…' cargo run -p acs-chat --example identity
//! ```

use std::time::Duration;

use acs_chat::{IdentityClient, TokenScope};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // A real resource's connection string, or the embedded emulator's.
    let (connection_string, ca, emulator) =
        match std::env::var("AZURE_COMMUNICATION_CONNECTION_STRING") {
            Ok(cs) => (cs, None, None),
            Err(_) => {
                let emulator = acs_chat_emulator::Emulator::builder()
                    .port(0)
                    .start()
                    .await?;
                let ca = emulator.ca_certificate_pem();
                (emulator.connection_string(), ca, Some(emulator))
            }
        };
    let mut builder = IdentityClient::builder(&connection_string);
    if let Some(ca) = ca {
        builder = builder.add_root_certificate_pem(ca);
    }
    let identity = builder.build()?;

    // A user alone, then a token for it: chat, valid one hour (whole minutes, 1 to 24 hours).
    let user = identity.create_user().await?;
    let token = identity
        .get_token(
            &user.id,
            &[TokenScope::Chat],
            Some(Duration::from_secs(3600)),
        )
        .await?;
    println!("user {} has a token until {}", user.id, token.expires_on());

    // A user and a token in one call (the service's default validity, 24 hours).
    let both = identity
        .create_user_and_token(&[TokenScope::Chat, TokenScope::Voip], None)
        .await?;
    println!(
        "user {} has a token until {}",
        both.user.id,
        both.token.expires_on()
    );
    // `Debug` never shows a token.
    println!("{both:?}");

    // A validity the service does not take is refused before anything is sent.
    let refused = identity
        .get_token(&user.id, &[TokenScope::Chat], Some(Duration::from_secs(90)))
        .await
        .unwrap_err();
    println!("refused: {refused}");

    // Revoke every token of a user, then delete it (and its tokens).
    identity.revoke_tokens(&user.id).await?;
    identity.delete_user(&user.id).await?;
    identity.delete_user(&both.user.id).await?;
    println!("revoked and deleted");
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}
