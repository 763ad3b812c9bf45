//! Messages: send (text and HTML, with a display name and metadata), get, edit, delete, list.
//! `cargo run -p acs-chat --example messages`.

mod support;

use acs_chat::futures::TryStreamExt as _;
use acs_chat::models::ChatMessageType;
use acs_chat::{SendChatMessageOptions, UpdateChatMessageOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (_alice, client) = backend.sign_in().await?;
    let thread_id = client
        .create_chat_thread("Messages demo", Default::default())
        .await?
        .thread
        .id;
    let thread = client.chat_thread_client(thread_id);

    // A send is never repeated after a failure that may have delivered it.
    let hello = thread
        .send_message(
            "Hello, world",
            SendChatMessageOptions::default()
                .sender_display_name("Alice")
                .metadata("lang", "en"),
        )
        .await?;
    let html = thread
        .send_message(
            "<b>bold</b> move",
            SendChatMessageOptions::default().kind(ChatMessageType::Html),
        )
        .await?;

    let message = thread.get_message(&html).await?;
    assert_eq!(message.kind, ChatMessageType::Html);

    thread
        .update_message(
            &hello,
            UpdateChatMessageOptions::default().content("Hello, everyone"),
        )
        .await?;
    thread.delete_message(&html).await?;

    let messages: Vec<_> = thread
        .list_messages(Default::default())
        .try_collect()
        .await?;
    for m in messages.iter().filter(|m| m.kind == ChatMessageType::Text) {
        let text = m.content.as_ref().and_then(|c| c.message.as_deref());
        println!("{} {:?} edited={}", m.id, text, m.edited_on.is_some());
    }
    backend.stop().await;
    Ok(())
}
