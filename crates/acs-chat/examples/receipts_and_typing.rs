//! Read receipts and typing notifications.
//! `cargo run -p acs-chat --example receipts_and_typing`.

mod support;

use acs_chat::{
    CommunicationIdentifier, CreateChatThreadOptions, SendMessageOptions, SkipListOptions,
    TypingNotificationOptions, participant,
};
use futures::TryStreamExt as _;

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (alice, alice_client) = backend.sign_in().await?;
    let (bob, bob_client) = backend.sign_in().await?;
    let thread_id = alice_client
        .create_chat_thread(
            "Receipts demo",
            CreateChatThreadOptions::new()
                .participant(participant(
                    &CommunicationIdentifier::communication_user(&alice),
                    Some("Alice"),
                ))
                .participant(participant(
                    &CommunicationIdentifier::communication_user(&bob),
                    Some("Bob"),
                )),
        )
        .await?
        .thread
        .id;

    let alice_thread = alice_client.chat_thread_client(&thread_id);
    alice_thread
        .send_typing_notification(TypingNotificationOptions::new().sender_display_name("Alice"))
        .await?;
    let message_id = alice_thread
        .send_message("Did you see this?", SendMessageOptions::new())
        .await?;

    // Bob reads it.
    let bob_thread = bob_client.chat_thread_client(&thread_id);
    bob_thread.send_read_receipt(&message_id).await?;

    let receipts: Vec<_> = alice_thread
        .list_read_receipts(SkipListOptions::new())
        .try_collect()
        .await?;
    for r in &receipts {
        println!(
            "{} read {} at {}",
            CommunicationIdentifier::from_model(&r.sender_communication_identifier),
            r.chat_message_id,
            r.read_on
        );
    }
    backend.stop().await;
    Ok(())
}
