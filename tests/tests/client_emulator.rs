//! `acs-chat` against the emulator over real TLS: every operation, the documented error
//! paths, paging across many pages, idempotent create, retries on injected faults.

use acs_chat::models::{ChatMessageType, ChatRetentionPolicy, ThreadCreationDateRetentionPolicy};
use acs_chat::{
    CommunicationIdentifier, Continuation, CreateChatThreadOptions, ErrorKind,
    ListChatMessagesOptions, ListChatParticipantsOptions, RetryOptions, SendChatMessageOptions,
    SendTypingNotificationOptions, UpdateChatMessageOptions, UpdateChatThreadPropertiesOptions,
};
use acs_chat_integration_tests::{World, participant};
use futures::{StreamExt, TryStreamExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_end_to_end() {
    let world = World::start().await;
    let alice = world.user();
    let bob = world.user();

    // create thread with participants, metadata and a retention policy
    let created = alice
        .client
        .create_chat_thread(
            "Design review",
            CreateChatThreadOptions::default()
                .participants([participant(&alice.id, Some("Alice"))])
                .metadata("project", "acs")
                .retention_policy(ChatRetentionPolicy::ThreadCreationDate(
                    ThreadCreationDateRetentionPolicy::new(30),
                )),
        )
        .await
        .unwrap();
    assert!(created.rejected_participants.is_empty());
    let thread_id = created.thread.id.clone();
    assert!(thread_id.starts_with("19:"), "{thread_id}");
    let t = alice.client.chat_thread_client(&thread_id);

    // get properties
    let props = t.get_properties().await.unwrap();
    assert_eq!(props.topic, "Design review");
    assert_eq!(props.metadata.as_ref().unwrap()["project"], "acs");
    assert!(matches!(
        props.retention_policy,
        Some(ChatRetentionPolicy::ThreadCreationDate(ref p)) if p.delete_thread_after_days == 30
    ));
    assert_eq!(props.created_by_communication_identifier.clone(), alice.id);

    // update topic and properties (merge-patch keeps the metadata)
    t.update_topic("Design review (v2)").await.unwrap();
    t.update_properties(UpdateChatThreadPropertiesOptions::default().metadata("stage", "2"))
        .await
        .unwrap();
    let props = t.get_properties().await.unwrap();
    assert_eq!(props.topic, "Design review (v2)");
    assert_eq!(props.metadata.as_ref().unwrap()["stage"], "2");

    // add participants: one valid, one that cannot exist
    let added = t
        .add_participants(vec![
            participant(&bob.id, Some("Bob")),
            participant(
                &CommunicationIdentifier::communication_user("8:acs:nobody_nowhere"),
                None,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(added.rejected_participants.len(), 1, "{added:?}");
    assert_eq!(
        added.rejected_participants[0]
            .identifier
            .as_ref()
            .map(|i| i.raw_id()),
        Some("8:acs:nobody_nowhere".into())
    );

    // list participants with page size and skip
    let all: Vec<_> = t
        .list_participants(ListChatParticipantsOptions::default().max_page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let skipped: Vec<_> = t
        .list_participants(ListChatParticipantsOptions::default().skip(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(skipped.len(), 1);

    // messages: text with metadata, html; get; update; delete
    let first = t
        .send_message(
            "hello",
            SendChatMessageOptions::default()
                .sender_display_name("Alice")
                .metadata("k", "v"),
        )
        .await
        .unwrap();
    let bt = bob.client.chat_thread_client(&thread_id);
    let second = bt
        .send_message(
            "<p>hi</p>",
            SendChatMessageOptions::default().kind(ChatMessageType::Html),
        )
        .await
        .unwrap();
    let m = t.get_message(&first).await.unwrap();
    assert_eq!(m.kind, ChatMessageType::Text);
    assert_eq!(
        m.content.as_ref().unwrap().message.as_deref(),
        Some("hello")
    );
    assert_eq!(m.metadata.as_ref().unwrap()["k"], "v");
    assert_eq!(m.sender_display_name.as_deref(), Some("Alice"));
    assert_eq!(
        t.get_message(&second).await.unwrap().kind,
        ChatMessageType::Html
    );
    t.update_message(
        &first,
        UpdateChatMessageOptions::default().content("hello, edited"),
    )
    .await
    .unwrap();
    let m = t.get_message(&first).await.unwrap();
    assert_eq!(m.content.unwrap().message.as_deref(), Some("hello, edited"));
    assert!(m.edited_on.is_some());
    // only the sender may edit or delete
    let e = bt
        .update_message(
            &first,
            UpdateChatMessageOptions::default().content("hijack"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    bt.delete_message(&second).await.unwrap();
    assert!(t.get_message(&second).await.unwrap().deleted_on.is_some());

    // typing and read receipts
    bt.send_typing_notification(
        SendTypingNotificationOptions::default().sender_display_name("Bob"),
    )
    .await
    .unwrap();
    t.send_typing_notification(SendTypingNotificationOptions::default())
        .await
        .unwrap();
    bt.send_read_receipt(&first).await.unwrap();
    let receipts: Vec<_> = t
        .list_read_receipts(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].chat_message_id, first);
    assert_eq!(receipts[0].sender_communication_identifier.clone(), bob.id);

    // system messages: topic updated, participant added
    let messages: Vec<_> = t
        .list_messages(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.kind == ChatMessageType::TopicUpdated)
    );
    assert!(
        messages
            .iter()
            .any(|m| m.kind == ChatMessageType::ParticipantAdded)
    );

    // list threads: the thread, with lastMessageReceivedOn
    let threads: Vec<_> = bob
        .client
        .list_chat_threads(Default::default())
        .try_collect()
        .await
        .unwrap();
    let item = threads
        .iter()
        .find(|i| i.id == thread_id)
        .expect("bob sees the thread");
    assert!(item.last_message_received_on.is_some());

    // remove participant: bob can no longer read
    t.remove_participant(&bob.id).await.unwrap();
    let e = bt.get_properties().await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    assert!(
        t.list_messages(Default::default())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .iter()
            .any(|m| m.kind == ChatMessageType::ParticipantRemoved)
    );

    // delete thread: 404 afterwards
    alice.client.delete_chat_thread(&thread_id).await.unwrap();
    let e = t.get_properties().await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(e.kind(), ErrorKind::Service);
    world.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_error_paths() {
    let world = World::start().await;
    let alice = world.user();
    let outsider = world.user();
    let thread = alice
        .client
        .create_chat_thread("errors", CreateChatThreadOptions::default())
        .await
        .unwrap()
        .thread
        .id;

    // 401: a well-formed JWT the emulator did not sign
    let forged = world.client(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjMyNTAzNjgwMDAwfQ.9i7FNNHHJT8cOzo-yrAUJyBSfJ-tPPk2emcHavOEpWc",
        RetryOptions::none(),
    );
    let e = forged
        .chat_thread_client(&thread)
        .get_properties()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(e.code(), Some("Unauthorized"));
    assert!(!e.to_string().contains("eyJ"), "{e}");

    // 403: not a participant
    let e = outsider
        .client
        .chat_thread_client(&thread)
        .send_message("let me in", SendChatMessageOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    assert!(e.request_id().is_some_and(|id| id.len() == 36), "{e}");

    // 404: unknown thread
    let e = alice
        .client
        .chat_thread_client("19:doesnotexist@thread.v2")
        .get_properties()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));

    // 400: a message over the 28 KB content limit
    let e = alice
        .client
        .chat_thread_client(&thread)
        .send_message("x".repeat(29 * 1024), SendChatMessageOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    assert_eq!(e.code(), Some("ValidationError"), "{e}");

    // 400: metadata over 1 KB
    let e = alice
        .client
        .chat_thread_client(&thread)
        .update_properties(
            UpdateChatThreadPropertiesOptions::default().metadata("big", "y".repeat(2000)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    world.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_returns_429_with_retry_after() {
    let world = World::start_with(true).await;
    let alice = world.user();
    let no_retries = world.client(&alice.token, RetryOptions::none());
    let thread = no_retries
        .create_chat_thread("busy", CreateChatThreadOptions::default())
        .await
        .unwrap()
        .thread
        .id;
    let t = no_retries.chat_thread_client(&thread);
    let mut throttled = None;
    for i in 0..12 {
        match t
            .send_message(format!("m{i}"), SendChatMessageOptions::default())
            .await
        {
            Ok(_) => {}
            Err(e) => {
                throttled = Some((i, e));
                break;
            }
        }
    }
    let (i, e) = throttled.expect("the 11th message in 10 s is throttled");
    assert_eq!(i, 10, "10 messages per 10 s pass");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
    let hint = e.service_error().and_then(|s| s.retry_after());
    assert!(hint.is_some(), "429 carries Retry-After");
    world.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_across_many_pages_and_resuming() {
    let world = World::start().await;
    let alice = world.user();
    let thread = alice
        .client
        .create_chat_thread("long", CreateChatThreadOptions::default())
        .await
        .unwrap()
        .thread
        .id;
    let t = alice.client.chat_thread_client(&thread);
    for i in 0..45 {
        t.send_message(format!("message {i}"), SendChatMessageOptions::default())
            .await
            .unwrap();
    }
    // whole pages of 7
    let pages: Vec<_> = t
        .list_messages(ListChatMessagesOptions::default().max_page_size(7))
        .into_pages()
        .try_collect()
        .await
        .unwrap();
    let texts: Vec<_> = pages
        .iter()
        .flat_map(|p| p.items.iter())
        .filter(|m| m.kind == ChatMessageType::Text)
        .collect();
    assert_eq!(texts.len(), 45);
    assert!(pages.len() >= 7, "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.items.len() <= 7));
    // newest first, strictly decreasing sequence ids, nothing twice
    let seqs: Vec<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter())
        .map(|m| m.sequence_id.parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    // stop after 10 items, resume from the continuation, get the rest exactly once
    let mut pager = t.list_messages(ListChatMessagesOptions::default().max_page_size(7));
    let mut first_part = Vec::new();
    for _ in 0..10 {
        first_part.push(pager.next().await.unwrap().unwrap().sequence_id);
    }
    let continuation: Continuation = pager.continuation().expect("more to come");
    drop(pager);
    let rest: Vec<_> = t
        .list_messages(ListChatMessagesOptions::default().max_page_size(7))
        .resume(continuation)
        .map_ok(|m| m.sequence_id)
        .try_collect()
        .await
        .unwrap();
    let mut all = first_part;
    all.extend(rest);
    let expected: Vec<String> = seqs.iter().map(u64::to_string).collect();
    assert_eq!(all, expected);
    world.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_the_same_repeatability_id_is_idempotent() {
    let world = World::start().await;
    let alice = world.user();
    let options = || {
        CreateChatThreadOptions::default()
            .repeatability_request_id("8d3c1a6e-5f7b-4f39-9c1e-3e2d4b5a6c7d")
    };
    let a = alice
        .client
        .create_chat_thread("once", options())
        .await
        .unwrap();
    let b = alice
        .client
        .create_chat_thread("once", options())
        .await
        .unwrap();
    assert_eq!(a.thread.id, b.thread.id);
    let threads: Vec<_> = alice
        .client
        .list_chat_threads(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(threads.iter().filter(|t| t.topic == "once").count(), 1);
    // a different id creates another thread
    let c = alice
        .client
        .create_chat_thread("once", CreateChatThreadOptions::default())
        .await
        .unwrap();
    assert_ne!(c.thread.id, a.thread.id);
    world.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_recover_from_injected_faults() {
    let world = World::start().await;
    let alice = world.user();
    let thread = alice
        .client
        .create_chat_thread("faults", CreateChatThreadOptions::default())
        .await
        .unwrap()
        .thread
        .id;
    let t = alice.client.chat_thread_client(&thread);
    // two 503s, then success: a GET retries through them
    world.emulator.faults().fail_next(2, 503);
    assert_eq!(t.get_properties().await.unwrap().topic, "faults");
    // a dropped connection on a GET is retried too
    world.emulator.faults().drop_next(1);
    assert_eq!(t.get_properties().await.unwrap().topic, "faults");
    // a 503 on send-message (a POST that may have been processed) is not retried
    world.emulator.faults().fail_next(1, 503);
    let e = t
        .send_message("maybe once", SendChatMessageOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.attempts(), 1);
    // a 429 on send-message is retried (the request was not processed)
    world
        .emulator
        .faults()
        .fail_next_with_retry_after(1, 429, 0);
    t.send_message("after throttling", SendChatMessageOptions::default())
        .await
        .unwrap();
    let texts: Vec<_> = t
        .list_messages(Default::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == ChatMessageType::Text)
        .collect();
    assert_eq!(texts.len(), 1, "exactly one message was stored");
    world.emulator.shutdown().await;
}
