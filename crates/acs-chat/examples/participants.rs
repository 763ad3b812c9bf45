//! Participants: add (and see which were refused), list, remove.
//! `cargo run -p acs-chat --example participants`.

mod support;

use acs_chat::futures::TryStreamExt as _;
use acs_chat::models::ChatParticipant;
use acs_chat::{CommunicationIdentifier, ListChatParticipantsOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (_alice, client) = backend.sign_in().await?;
    let (bob, _) = backend.sign_in().await?;
    let (carol, _) = backend.sign_in().await?;
    let thread_id = client
        .create_chat_thread("Participants demo", Default::default())
        .await?
        .thread
        .id;
    let thread = client.chat_thread_client(thread_id);

    let bob = CommunicationIdentifier::communication_user(bob);
    let carol = CommunicationIdentifier::communication_user(carol);
    let added = thread
        .add_participants(vec![
            ChatParticipant::new(bob.clone()).with_display_name("Bob"),
            ChatParticipant::new(carol.clone()).with_display_name("Carol"),
        ])
        .await?;
    // Partial failure is part of the result: each refused participant with its error.
    for rejected in &added.rejected_participants {
        println!(
            "not added: {:?}: {}",
            rejected.identifier, rejected.error.message
        );
    }

    let everyone: Vec<_> = thread
        .list_participants(ListChatParticipantsOptions::default().max_page_size(2))
        .try_collect()
        .await?;
    for p in &everyone {
        println!(
            "{} ({})",
            p.communication_identifier.clone(),
            p.display_name.as_deref().unwrap_or("-")
        );
    }

    thread.remove_participant(&carol).await?;
    let left: Vec<_> = thread
        .list_participants(Default::default())
        .try_collect()
        .await?;
    println!("{} participant(s) after removing Carol", left.len());
    backend.stop().await;
    Ok(())
}
