//! Read receipts and typing notifications.
//! `cargo run -p acs-chat --example receipts_and_typing`.

mod support;

use acs_chat::futures::TryStreamExt as _;
use acs_chat::models::ChatParticipant;
use acs_chat::{CommunicationIdentifier, CreateChatThreadOptions, SendTypingNotificationOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (alice, alice_client) = backend.sign_in().await?;
    let (bob, bob_client) = backend.sign_in().await?;
    let thread_id = alice_client
        .create_chat_thread(
            "Receipts demo",
            CreateChatThreadOptions::default().participants([
                ChatParticipant::new(CommunicationIdentifier::communication_user(&alice))
                    .with_display_name("Alice"),
                ChatParticipant::new(CommunicationIdentifier::communication_user(&bob))
                    .with_display_name("Bob"),
            ]),
        )
        .await?
        .thread
        .id;

    let alice_thread = alice_client.chat_thread_client(&thread_id);
    alice_thread
        .send_typing_notification(
            SendTypingNotificationOptions::default().sender_display_name("Alice"),
        )
        .await?;
    let message_id = alice_thread
        .send_message("Did you see this?", Default::default())
        .await?;

    // Bob reads it.
    let bob_thread = bob_client.chat_thread_client(&thread_id);
    bob_thread.send_read_receipt(&message_id).await?;

    let receipts: Vec<_> = alice_thread
        .list_read_receipts(Default::default())
        .try_collect()
        .await?;
    for r in &receipts {
        println!(
            "{} read {} at {}",
            r.sender_communication_identifier.clone(),
            r.chat_message_id,
            r.read_on
        );
    }
    backend.stop().await;
    Ok(())
}
