//! Threads: create (with participants, metadata and a retention policy), read, update, list,
//! delete. Runs against the embedded emulator: `cargo run -p acs-chat --example threads`.

mod support;

use acs_chat::futures::TryStreamExt as _;
use acs_chat::models::{ChatParticipant, ChatRetentionPolicy, ThreadCreationDateRetentionPolicy};
use acs_chat::{
    CommunicationIdentifier, CreateChatThreadOptions, UpdateChatThreadPropertiesOptions,
};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (alice, client) = backend.sign_in().await?;
    let (bob, _) = backend.sign_in().await?;

    // A retried create makes one thread: every attempt sends the same repeatability id.
    let created = client
        .create_chat_thread(
            "Release planning",
            CreateChatThreadOptions::default()
                .participants([
                    ChatParticipant::new(CommunicationIdentifier::communication_user(&alice))
                        .with_display_name("Alice"),
                    ChatParticipant::new(CommunicationIdentifier::communication_user(&bob))
                        .with_display_name("Bob"),
                ])
                .metadata("project", "acs-chat")
                .retention_policy(ChatRetentionPolicy::ThreadCreationDate(
                    ThreadCreationDateRetentionPolicy::new(90),
                )),
        )
        .await?;
    let thread_id = created.thread.id.clone();
    println!(
        "created {thread_id} ({} rejected)",
        created.rejected_participants.len()
    );

    let thread = client.chat_thread_client(&thread_id);
    thread.update_topic("Release planning (Q3)").await?;
    thread
        .update_properties(UpdateChatThreadPropertiesOptions::default().metadata("owner", "alice"))
        .await?;
    let props = thread.get_properties().await?;
    println!("topic: {}, metadata: {:?}", props.topic, props.metadata);

    let threads: Vec<_> = client
        .list_chat_threads(Default::default())
        .try_collect()
        .await?;
    println!("alice is in {} thread(s)", threads.len());
    assert!(threads.iter().any(|t| t.id == thread_id));

    client.delete_chat_thread(&thread_id).await?;
    println!("deleted {thread_id}");
    backend.stop().await;
    Ok(())
}
