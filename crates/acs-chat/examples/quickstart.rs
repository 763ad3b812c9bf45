//! The quickstart: a whole conversation through `acs-chat`, over HTTPS.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! By default it starts the local emulator in-process (no Azure account needed). With
//! `AZURE_COMMUNICATION_CONNECTION_STRING` set, it runs the same story against that real
//! ACS resource instead.

use std::error::Error;

use std::time::Duration;

use acs_chat::futures::StreamExt;
use acs_chat::models::{ChatMessageType, ChatParticipant};
use acs_chat::{
    ChatClient, CommunicationIdentifier, CommunicationTokenCredential, ConnectionString,
    CreateChatThreadOptions, IdentityClient, ListChatMessagesOptions, SendChatMessageOptions,
    SendTypingNotificationOptions, TokenScope, UpdateChatMessageOptions,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // 1. Where to talk to: a real resource, or the embedded emulator.
    let (connection_string, ca_pem, emulator) =
        match std::env::var("AZURE_COMMUNICATION_CONNECTION_STRING") {
            Ok(cs) => {
                println!("Using the ACS resource from AZURE_COMMUNICATION_CONNECTION_STRING");
                (cs, None, None)
            }
            Err(_) => {
                let emulator = acs_chat_emulator::Emulator::builder()
                    .port(0)
                    .start()
                    .await?;
                println!("Started the local emulator at {}", emulator.endpoint());
                (
                    emulator.connection_string(),
                    emulator.ca_certificate_pem(),
                    Some(emulator),
                )
            }
        };

    // 2. Mint two users with chat tokens (what your server side does with the access key).
    let mut identity = IdentityClient::builder(&connection_string);
    if let Some(pem) = &ca_pem {
        identity = identity.add_root_certificate_pem(pem.clone());
    }
    let identity = identity.build()?;
    let an_hour = Some(Duration::from_secs(3600));
    let alice = identity
        .create_user_and_token(&[TokenScope::Chat], an_hour)
        .await?;
    let bob = identity
        .create_user_and_token(&[TokenScope::Chat], an_hour)
        .await?;
    println!(
        "Created users\n  Alice {}\n  Bob   {}",
        alice.user.id, bob.user.id
    );

    // 3. One ChatClient per user (what each user's app does with its token).
    let endpoint = ConnectionString::parse(&connection_string)?
        .endpoint()
        .to_string();
    let client_for = |token: &str| -> Result<ChatClient, acs_chat::Error> {
        let credential = CommunicationTokenCredential::new(token)?;
        let mut builder =
            ChatClient::builder(endpoint.clone(), credential).application_id("quickstart");
        if let Some(pem) = &ca_pem {
            builder = builder.add_root_certificate_pem(pem.clone());
        }
        builder.build()
    };
    let alice_client = client_for(alice.token.secret())?;
    let bob_client = client_for(bob.token.secret())?;
    let alice_id = CommunicationIdentifier::from(alice.user.clone());
    let bob_id = CommunicationIdentifier::from(bob.user.clone());

    // 4. Alice creates a thread.
    let created = alice_client
        .create_chat_thread(
            "Lunch plans",
            CreateChatThreadOptions::default()
                .participants([ChatParticipant::new(alice_id.clone()).with_display_name("Alice")])
                .metadata("team", "quickstart"),
        )
        .await?;
    let thread_id = created.thread.id.clone();
    println!(
        "Alice created the thread \"{}\" ({thread_id})",
        created.thread.topic
    );
    let alice_thread = alice_client.chat_thread_client(&thread_id);
    let bob_thread = bob_client.chat_thread_client(&thread_id);

    // 5. She adds Bob.
    let added = alice_thread
        .add_participants(vec![
            ChatParticipant::new(bob_id.clone()).with_display_name("Bob"),
        ])
        .await?;
    println!(
        "Alice added Bob ({} rejected)",
        added.rejected_participants.len()
    );

    // 6. Messages: send, edit, delete.
    let hello = alice_thread
        .send_message(
            "Hi Bob, lunch at noon?",
            SendChatMessageOptions::default().sender_display_name("Alice"),
        )
        .await?;
    println!("Alice sent message {hello}");
    bob_thread
        .send_typing_notification(
            SendTypingNotificationOptions::default().sender_display_name("Bob"),
        )
        .await?;
    println!("Bob is typing…");
    let reply = bob_thread
        .send_message(
            "<p>Sure, <b>the usual place</b>?</p>",
            SendChatMessageOptions::default()
                .kind(ChatMessageType::Html)
                .sender_display_name("Bob"),
        )
        .await?;
    println!("Bob replied with message {reply}");
    bob_thread.send_read_receipt(&hello).await?;
    println!("Bob marked Alice's message as read");
    alice_thread
        .update_message(
            &hello,
            UpdateChatMessageOptions::default().content("Hi Bob, lunch at 12:30?"),
        )
        .await?;
    println!("Alice edited her message");
    let oops = alice_thread
        .send_message("(sent to the wrong thread)", Default::default())
        .await?;
    alice_thread.delete_message(&oops).await?;
    println!("Alice sent and deleted message {oops}");
    let edited = alice_thread.get_message(&hello).await?;
    println!(
        "Message {hello} now reads {:?} (edited on {})",
        edited.content.and_then(|c| c.message).unwrap_or_default(),
        edited.edited_on.map(|t| t.to_string()).unwrap_or_default()
    );

    // 7. Read the conversation back, two messages per page (the pager follows nextLink lazily).
    println!("The thread, newest first (pages of 2):");
    let mut pages = alice_thread
        .list_messages(ListChatMessagesOptions::default().max_page_size(2))
        .into_pages();
    let mut page_number = 0;
    while let Some(page) = pages.next().await {
        page_number += 1;
        for m in page?.items {
            let text = m
                .content
                .as_ref()
                .map(|c| {
                    let names = c.participants.iter().flatten();
                    let names: Vec<_> = names.filter_map(|p| p.display_name.clone()).collect();
                    c.message
                        .clone()
                        .or(c.topic.clone())
                        .unwrap_or_else(|| names.join(", "))
                })
                .unwrap_or_default();
            let deleted = if m.deleted_on.is_some() {
                " (deleted)"
            } else {
                ""
            };
            println!(
                "  page {page_number}: #{} {} {text:?}{deleted}",
                m.sequence_id, m.kind
            );
        }
    }
    let receipts: Vec<_> = alice_thread
        .list_read_receipts(Default::default())
        .collect()
        .await;
    println!("Read receipts: {}", receipts.len());
    let participants: Vec<_> = alice_thread
        .list_participants(Default::default())
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "Participants: {}",
        participants
            .iter()
            .map(|p| p.display_name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 8. Bob leaves (any listed participant's identifier can be passed back as it is), and
    //    Alice deletes the thread.
    let bob_listed = participants
        .iter()
        .find(|p| p.communication_identifier == bob_id)
        .ok_or("Bob is not listed")?;
    alice_thread
        .remove_participant(&bob_listed.communication_identifier)
        .await?;
    println!("Alice removed Bob");
    alice_client.delete_chat_thread(&thread_id).await?;
    println!("Alice deleted the thread");
    match bob_thread.get_properties().await {
        Err(e) => println!(
            "Bob can no longer read it: {}",
            e.status().map_or(0, |s| s.as_u16())
        ),
        Ok(_) => println!("unexpected: Bob can still read the thread"),
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
        println!("Stopped the emulator. Done.");
    }
    Ok(())
}
