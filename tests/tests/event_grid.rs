//! Event Grid end to end: the emulator delivers a scripted conversation's events to an
//! `EventGridListener` (after the validation handshake), as Event Grid would — each change once
//! for the thread and once per recipient — and a receiver that answers `503` for a while still
//! gets every event exactly once (the emulator retries, the listener drops redeliveries).

use std::collections::BTreeMap;
use std::time::Duration;

use acs_chat::events::webhook::ReceivedEvent;
use acs_chat::futures::StreamExt as _;
use acs_chat::models::ChatParticipant;
use acs_chat::{
    ChatClient, CommunicationIdentifier, CommunicationTokenCredential, CreateChatThreadOptions,
    EventGridListener, UpdateChatMessageOptions,
};
use acs_chat_emulator::{DeliveryOptions, Emulator, RunningEmulator};

const DEADLINE: Duration = Duration::from_secs(60);

fn user(emulator: &RunningEmulator) -> (CommunicationIdentifier, ChatClient) {
    let (id, token) = emulator.create_user_and_token().unwrap();
    let client = ChatClient::builder(
        emulator.endpoint(),
        CommunicationTokenCredential::new(token).unwrap(),
    )
    .add_root_certificate_pem(emulator.ca_certificate_pem().unwrap())
    .build()
    .unwrap();
    (CommunicationIdentifier::communication_user(id), client)
}

/// Runs the conversation: Ann creates a thread with Bob, sends, edits and deletes a message,
/// renames the thread, adds and removes Cy, types, then deletes the thread.
async fn conversation(emulator: &RunningEmulator) {
    let (ann_id, ann) = user(emulator);
    let (bob_id, _bob) = user(emulator);
    let (cy_id, _cy) = user(emulator);
    let thread = ann
        .create_chat_thread(
            "Plans",
            CreateChatThreadOptions::default().participants([
                ChatParticipant::new(ann_id).with_display_name("Ann"),
                ChatParticipant::new(bob_id).with_display_name("Bob"),
            ]),
        )
        .await
        .unwrap()
        .thread
        .id;
    let t = ann.chat_thread_client(&thread);
    let id = t.send_message("hello", Default::default()).await.unwrap();
    t.update_message(&id, UpdateChatMessageOptions::default().content("hello!"))
        .await
        .unwrap();
    t.delete_message(&id).await.unwrap();
    t.update_topic("Plans (v2)").await.unwrap();
    t.add_participants([ChatParticipant::new(cy_id.clone())])
        .await
        .unwrap();
    t.remove_participant(&cy_id).await.unwrap();
    t.send_typing_notification(Default::default())
        .await
        .unwrap();
    ann.delete_chat_thread(&thread).await.unwrap();
}

/// What Event Grid sends for [`conversation`], by event type: thread-level events once,
/// user-level ones for every participant but the actor (Bob, and Cy while a member or being
/// removed).
fn expected() -> BTreeMap<&'static str, usize> {
    [
        ("Microsoft.Communication.ChatThreadCreated", 1),
        ("Microsoft.Communication.ChatThreadCreatedWithUser", 1),
        ("Microsoft.Communication.ChatMessageReceivedInThread", 1),
        ("Microsoft.Communication.ChatMessageReceived", 1),
        ("Microsoft.Communication.ChatMessageEditedInThread", 1),
        ("Microsoft.Communication.ChatMessageEdited", 1),
        ("Microsoft.Communication.ChatMessageDeletedInThread", 1),
        ("Microsoft.Communication.ChatMessageDeleted", 1),
        ("Microsoft.Communication.ChatThreadPropertiesUpdated", 1),
        (
            "Microsoft.Communication.ChatThreadPropertiesUpdatedPerUser",
            1,
        ),
        ("Microsoft.Communication.ChatThreadParticipantAdded", 1),
        (
            "Microsoft.Communication.ChatParticipantAddedToThreadWithUser",
            2,
        ),
        ("Microsoft.Communication.ChatThreadParticipantRemoved", 1),
        (
            "Microsoft.Communication.ChatParticipantRemovedFromThreadWithUser",
            2,
        ),
        (
            "Microsoft.Communication.ChatTypingIndicatorReceivedInThread",
            1,
        ),
        ("Microsoft.Communication.ChatThreadDeleted", 1),
        ("Microsoft.Communication.ChatThreadWithUserDeleted", 1),
    ]
    .into_iter()
    .collect()
}

/// Reads events until `want` of them came, with a deadline; then none more within a short
/// while is not checked (at-least-once delivery is deduplicated by the listener by id).
async fn receive(listener: &mut EventGridListener, want: usize) -> Vec<ReceivedEvent> {
    let mut got = Vec::new();
    while got.len() < want {
        match tokio::time::timeout(DEADLINE, listener.next()).await {
            Ok(Some(event)) => got.push(event),
            Ok(None) => panic!("the listener stopped"),
            Err(_) => panic!(
                "{} of {want} events within {DEADLINE:?}: {:?}",
                got.len(),
                got.iter().map(|e| &e.event_type).collect::<Vec<_>>()
            ),
        }
    }
    got
}

fn by_type(events: &[ReceivedEvent]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.event_type.as_str()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_conversation_arrives_as_event_grid_sends_it() {
    let mut listener = EventGridListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = Emulator::builder()
        .port(0)
        .event_webhook(listener.url())
        .start()
        .await
        .unwrap();
    conversation(&emulator).await;
    let want: usize = expected().values().sum();
    let events = receive(&mut listener, want).await;
    assert_eq!(by_type(&events), expected());
    // Every user-level event names its recipient in its subject; thread-level ones do not.
    for e in &events {
        let subject = e.subject.as_deref().unwrap_or_default();
        assert!(subject.starts_with("thread/"), "{subject}");
        assert_eq!(
            subject.contains("/recipient/"),
            e.event.recipient().is_some(),
            "{} {subject}",
            e.event_type
        );
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_for_a_while_still_gets_everything_once() {
    // Room for one event and a short wait for more: most deliveries are answered 503 until
    // the test reads, and the emulator delivers them again.
    let mut listener = EventGridListener::builder()
        .queue(1)
        .queue_timeout(Duration::from_millis(20))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let emulator = Emulator::builder()
        .port(0)
        .event_webhook(listener.url())
        .event_delivery(
            DeliveryOptions::default()
                .first_retry(Duration::from_millis(50))
                .max_retry_delay(Duration::from_millis(200)),
        )
        .start()
        .await
        .unwrap();
    conversation(&emulator).await;
    let want: usize = expected().values().sum();
    let events = receive(&mut listener, want).await;
    assert_eq!(by_type(&events), expected());
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), want, "an event came twice");
    emulator.shutdown().await;
}
