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

use acs_chat::{
    ChatClient, CommunicationIdentifier, CommunicationTokenCredential, CreateChatThreadOptions,
    IdentityClient, ListOptions, SendMessageOptions, SkipListOptions, TokenScope,
    TypingNotificationOptions, UpdateMessageOptions, participant,
};
use futures::StreamExt;

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
    let alice = identity
        .create_user_and_token(&[TokenScope::Chat], Some(60))
        .await?;
    let bob = identity
        .create_user_and_token(&[TokenScope::Chat], Some(60))
        .await?;
    println!(
        "Created users\n  Alice {}\n  Bob   {}",
        alice.user.id, bob.user.id
    );

    // 3. One ChatClient per user (what each user's app does with its token).
    let endpoint = acs_chat_protocol::identity::ConnectionString::parse(&connection_string)?
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
    let alice_client = client_for(&alice.token.token)?;
    let bob_client = client_for(&bob.token.token)?;
    let alice_id = CommunicationIdentifier::communication_user(alice.user.id.clone());
    let bob_id = CommunicationIdentifier::communication_user(bob.user.id.clone());

    // 4. Alice creates a thread.
    let created = alice_client
        .create_chat_thread(
            "Lunch plans",
            CreateChatThreadOptions::new()
                .participant(participant(&alice_id, Some("Alice")))
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
        .add_participants(vec![participant(&bob_id, Some("Bob"))])
        .await?;
    println!(
        "Alice added Bob ({} rejected)",
        added.rejected_participants.len()
    );

    // 6. Messages: send, edit, delete.
    let hello = alice_thread
        .send_message(
            "Hi Bob, lunch at noon?",
            SendMessageOptions::new().sender_display_name("Alice"),
        )
        .await?;
    println!("Alice sent message {hello}");
    bob_thread
        .send_typing_notification(TypingNotificationOptions::new().sender_display_name("Bob"))
        .await?;
    println!("Bob is typing…");
    let reply = bob_thread
        .send_message(
            "<p>Sure, <b>the usual place</b>?</p>",
            SendMessageOptions::new().html().sender_display_name("Bob"),
        )
        .await?;
    println!("Bob replied with message {reply}");
    bob_thread.send_read_receipt(&hello).await?;
    println!("Bob marked Alice's message as read");
    alice_thread
        .update_message(
            &hello,
            UpdateMessageOptions::new().content("Hi Bob, lunch at 12:30?"),
        )
        .await?;
    println!("Alice edited her message");
    let oops = alice_thread
        .send_message("(sent to the wrong thread)", SendMessageOptions::new())
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
        .list_messages(ListOptions::new().page_size(2))
        .by_page();
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
        .list_read_receipts(SkipListOptions::new())
        .collect()
        .await;
    println!("Read receipts: {}", receipts.len());
    let participants: Vec<_> = alice_thread
        .list_participants(SkipListOptions::new())
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

    // 8. Bob leaves, and Alice deletes the thread.
    alice_thread.remove_participant(&bob_id).await?;
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
