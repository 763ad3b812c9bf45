//! The Chat API over real TLS, driven with acs-chat-protocol operations and acs-chat-transport.

mod support;

use std::time::Duration;

use acs_chat_emulator::Emulator;
use acs_chat_protocol::models::{
    ChatMessageType, ChatParticipant, CreateChatThreadRequest, SendChatMessageRequest,
    SendTypingNotificationRequest, UpdateChatMessageRequest, UpdateChatThreadRequest,
};
use acs_chat_protocol::operations::*;
use acs_chat_protocol::{CommunicationIdentifier, Operation, encode_path_segment};
use bytes::Bytes;
use http::{Method, Request};
use support::{Harness, code, status};

fn participant(user_id: &str) -> ChatParticipant {
    ChatParticipant::new(CommunicationIdentifier::communication_user(user_id))
}

async fn new_thread(h: &Harness, token: &str, others: &[&str]) -> String {
    let mut request = CreateChatThreadRequest::new("lunch");
    request.participants = Some(others.iter().map(|id| participant(id)).collect());
    let result = h
        .call(
            &{
                let mut op = CreateChatThread::new("", Default::default());
                op.body = request;
                op
            },
            token,
        )
        .await
        .unwrap();
    assert_eq!(result.invalid_participants, None);
    result.chat_thread.unwrap().id
}

async fn send_text(h: &Harness, token: &str, thread: &str, text: &str) -> String {
    let op = SendChatMessage::new(thread, text, Default::default());
    h.call(&op, token).await.unwrap().id
}

#[tokio::test]
async fn every_operation_happy_path() {
    let h = Harness::start().await;
    let (alice, alice_token) = h.user();
    let (bob, bob_token) = h.user();
    let (carol, carol_token) = h.user();

    // Create (201 + Location), get, update, list threads.
    let mut request = CreateChatThreadRequest::new("lunch");
    request.participants = Some(vec![participant(&alice), participant(&bob)]);
    let create = {
        let mut op = CreateChatThread::new("", Default::default());
        op.body = request;
        op
    };
    let response = h.raw(&create, &alice_token).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let thread = create
        .parse_response(response)
        .unwrap()
        .chat_thread
        .unwrap();
    assert_eq!(
        location,
        h.url(&format!(
            "/chat/threads/{}",
            encode_path_segment(&thread.id)
        ))
    );
    assert_eq!(
        thread.created_by_communication_identifier.raw_id(),
        alice.as_str()
    );
    let id = thread.id.clone();
    let props = h
        .call(&GetChatThreadProperties::new(&id), &bob_token)
        .await
        .unwrap();
    assert_eq!(props.topic, "lunch");
    let mut update = UpdateChatThreadRequest::new();
    update.topic = Some("dinner".into());
    h.call(
        &{
            let mut op = UpdateChatThreadProperties::new(&id, Default::default());
            op.body = update;
            op
        },
        &bob_token,
    )
    .await
    .unwrap();
    let threads = h
        .call(&ListChatThreads::new(Default::default()), &bob_token)
        .await
        .unwrap();
    assert_eq!(threads.items.len(), 1);
    assert_eq!(threads.items[0].topic, "dinner");
    assert!(threads.items[0].last_message_received_on.is_some());

    // Messages: send (201 + Location), get, update, list.
    let mut send = SendChatMessageRequest::new("<b>hi</b>");
    send.kind = Some(ChatMessageType::Html);
    send.sender_display_name = Some("Alice".into());
    let op = {
        let mut op = SendChatMessage::new(&id, "", Default::default());
        op.body = send;
        op
    };
    let response = h.raw(&op, &alice_token).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let message_id = op.parse_response(response).unwrap().id;
    assert!(
        location.ends_with(&format!("/messages/{message_id}")),
        "{location}"
    );
    let message = h
        .call(&GetChatMessage::new(&id, &message_id), &bob_token)
        .await
        .unwrap();
    assert_eq!(message.kind, ChatMessageType::Html);
    assert_eq!(message.sender_display_name.as_deref(), Some("Alice"));
    assert_eq!(
        message.sender_communication_identifier,
        Some(CommunicationIdentifier::communication_user(&alice))
    );
    let mut edit = UpdateChatMessageRequest::new();
    edit.content = Some("<b>hello</b>".into());
    h.call(
        &{
            let mut op = UpdateChatMessage::new(&id, &message_id, Default::default());
            op.body = edit;
            op
        },
        &alice_token,
    )
    .await
    .unwrap();
    let page = h
        .call(&ListChatMessages::new(&id, Default::default()), &bob_token)
        .await
        .unwrap();
    let kinds: Vec<ChatMessageType> = page.items.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ChatMessageType::Html,
            ChatMessageType::TopicUpdated,
            ChatMessageType::ParticipantAdded
        ]
    );
    assert!(page.items[0].edited_on.is_some());

    // Participants: add, list (paged by skip), remove.
    let add = AddChatParticipants::new(&id, vec![participant(&carol)]);
    let response = h.raw(&add, &alice_token).await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        add.parse_response(response).unwrap().invalid_participants,
        None
    );
    let first = h
        .call(
            &ListChatParticipants::new(
                &id,
                ListChatParticipantsOptions::default().max_page_size(2),
            ),
            &carol_token,
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let next = first.next_link.expect("a second page");
    let second = h
        .call(&ListChatParticipants::next_page(next), &carol_token)
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_link, None);

    // Read receipts and typing.
    h.call(&SendChatReadReceipt::new(&id, &message_id), &bob_token)
        .await
        .unwrap();
    let receipts = h
        .call(
            &ListChatReadReceipts::new(&id, Default::default()),
            &alice_token,
        )
        .await
        .unwrap();
    assert_eq!(receipts.items.len(), 1);
    assert_eq!(receipts.items[0].chat_message_id, message_id);
    h.call(
        &SendTypingNotification::new(&id, Default::default()),
        &bob_token,
    )
    .await
    .unwrap();
    let mut typing = SendTypingNotificationRequest::new();
    typing.sender_display_name = Some("Bob".into());
    h.call(
        &{
            let mut op = SendTypingNotification::new(&id, Default::default());
            op.body = Some(typing);
            op
        },
        &bob_token,
    )
    .await
    .unwrap();

    // Remove a participant: they lose access.
    let carol_id = CommunicationIdentifier::communication_user(&carol);
    h.call(&RemoveChatParticipant::new(&id, carol_id), &alice_token)
        .await
        .unwrap();
    let e = h
        .call(&GetChatThreadProperties::new(&id), &carol_token)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);

    // Delete the message, then the thread: 404 for everyone afterwards.
    h.call(&DeleteChatMessage::new(&id, &message_id), &alice_token)
        .await
        .unwrap();
    let deleted = h
        .call(&GetChatMessage::new(&id, &message_id), &bob_token)
        .await
        .unwrap();
    assert!(deleted.deleted_on.is_some());
    h.call(&DeleteChatThread::new(&id), &bob_token)
        .await
        .unwrap();
    for token in [&alice_token, &bob_token] {
        let e = h
            .call(&GetChatThreadProperties::new(&id), token)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 404);
        let e = h
            .call(&ListChatMessages::new(&id, Default::default()), token)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 404);
    }
    // Still listed, with its deletedOn, as the service lists deleted threads.
    let listed = h
        .call(&ListChatThreads::new(Default::default()), &alice_token)
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert!(listed[0].deleted_on.is_some());
    h.emulator.shutdown().await;
}

#[tokio::test]
async fn unauthorized_requests_get_401() {
    let h = Harness::start().await;
    let (alice, token) = h.user();
    let thread = new_thread(&h, &token, &[]).await;
    let op = GetChatThreadProperties::new(&thread);

    // Missing Authorization.
    let response = h.send(op.build_request(&h.ctx).unwrap()).await.unwrap();
    assert_eq!(response.status(), 401);
    let e = op.parse_response(response).unwrap_err();
    assert_eq!(code(&e), "Unauthorized");
    // Malformed and unknown tokens.
    assert_eq!(status(&h.call(&op, "garbage").await.unwrap_err()), 401);
    let other = Emulator::builder()
        .access_key("b3RoZXIga2V5")
        .http(true)
        .start()
        .await
        .unwrap();
    let (_, foreign) = other.create_user_and_token().unwrap();
    assert_eq!(status(&h.call(&op, &foreign).await.unwrap_err()), 401);
    // Expired.
    let (expired, _) = h
        .emulator
        .issue_token(&alice, &["chat"], Duration::ZERO)
        .unwrap();
    assert_eq!(status(&h.call(&op, &expired).await.unwrap_err()), 401);
    // Revoked (in-process; the HTTP path is covered by identity_over_tls).
    h.call(&op, &token).await.unwrap();
    h.emulator
        .service()
        .with_store(|s| s.revoke_tokens(&alice))
        .unwrap();
    assert_eq!(status(&h.call(&op, &token).await.unwrap_err()), 401);
}

#[tokio::test]
async fn non_participants_get_403_and_senders_alone_edit() {
    let h = Harness::start().await;
    let (_, alice_token) = h.user();
    let (bob, bob_token) = h.user();
    let (_, eve_token) = h.user();
    let thread = new_thread(&h, &alice_token, &[&bob]).await;
    let e = h
        .call(
            &ListChatMessages::new(&thread, Default::default()),
            &eve_token,
        )
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (403, "Forbidden"));
    let e = h
        .call(
            &SendChatMessage::new(&thread, "x", Default::default()),
            &eve_token,
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);

    let message = send_text(&h, &alice_token, &thread, "alice's").await;
    let mut edit = UpdateChatMessageRequest::new();
    edit.content = Some("bob was here".into());
    let e = h
        .call(
            &{
                let mut op = UpdateChatMessage::new(&thread, &message, Default::default());
                op.body = edit.clone();
                op
            },
            &bob_token,
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    let e = h
        .call(&DeleteChatMessage::new(&thread, &message), &bob_token)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    h.call(
        &{
            let mut op = UpdateChatMessage::new(&thread, &message, Default::default());
            op.body = edit;
            op
        },
        &alice_token,
    )
    .await
    .unwrap();
    h.call(&DeleteChatMessage::new(&thread, &message), &alice_token)
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_requests_get_400_413_and_404() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let thread = new_thread(&h, &token, &[]).await;
    let raw = |method: Method, path: &str, body: Bytes| {
        Request::builder()
            .method(method)
            .uri(h.url(path))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    let messages = format!(
        "/chat/threads/{}/messages?api-version=2025-03-15",
        encode_path_segment(&thread)
    );
    let json =
        |r: &http::Response<Bytes>| serde_json::from_slice::<serde_json::Value>(r.body()).unwrap();

    let r = h
        .send(raw(
            Method::POST,
            &messages,
            Bytes::from_static(b"{\"content\": "),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(&r)["error"]["code"], "BadRequest");
    let r = h
        .send(raw(
            Method::POST,
            &messages,
            Bytes::from_static(b"{\"type\": \"text\"}"),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        json(&r)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`content`")
    );

    // The documented 28 KB content limit, and the 1 MiB body limit.
    let big = format!("{{\"content\": \"{}\"}}", "x".repeat(28 * 1024 + 1));
    let r = h
        .send(raw(Method::POST, &messages, Bytes::from(big)))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(&r)["error"]["code"], "ValidationError");
    assert_eq!(json(&r)["error"]["target"], "Content");
    let huge = Bytes::from(vec![b' '; acs_chat_emulator::MAX_BODY_BYTES + 1]);
    let r = h.send(raw(Method::POST, &messages, huge)).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(json(&r)["error"]["code"], "RequestEntityTooLarge");

    // Unknown routes.
    for path in [
        "/",
        "/chat",
        "/chat/threads/x/unknown?api-version=2025-03-15",
        "/identities/x/y",
    ] {
        let r = h.send(raw(Method::GET, path, Bytes::new())).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(json(&r)["error"]["code"], "NotFound");
    }
}

#[tokio::test]
async fn throttling_returns_429_with_retry_after() {
    let h = Harness::with(Emulator::builder().throttle(true)).await;
    let (_, token) = h.user();
    let thread = new_thread(&h, &token, &[]).await;
    for i in 0..10 {
        send_text(&h, &token, &thread, &format!("m{i}")).await;
    }
    let op = SendChatMessage::new(&thread, "one too many", Default::default());
    let response = h.raw(&op, &token).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let e = op.parse_response(response).unwrap_err();
    assert_eq!(code(&e), "TooManyRequests");
    // Reads are not limited.
    h.call(&ListChatMessages::new(&thread, Default::default()), &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn repeatability_request_id_creates_one_thread() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let op = CreateChatThread::new(
        "once",
        CreateChatThreadOptions::default()
            .repeatability_request_id("4c8d3cd6-1e4c-4d2c-9a9d-6b1f7f2a9e10"),
    );
    let first = h.call(&op, &token).await.unwrap();
    let second = h.call(&op, &token).await.unwrap();
    assert_eq!(
        first.chat_thread.unwrap().id,
        second.chat_thread.unwrap().id
    );
    assert_eq!(
        h.call(&ListChatThreads::new(Default::default()), &token)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let without = CreateChatThread::new("once", Default::default());
    h.call(&without, &token).await.unwrap();
    h.call(&without, &token).await.unwrap();
    assert_eq!(
        h.call(&ListChatThreads::new(Default::default()), &token)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
}

#[tokio::test]
async fn paging_follows_next_links_verbatim() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let thread = new_thread(&h, &token, &[]).await;
    let mut sent = Vec::new();
    for i in 0..95 {
        sent.push(send_text(&h, &token, &thread, &format!("m{i}")).await);
    }
    let mut page = h
        .call(
            &ListChatMessages::new(
                &thread,
                ListChatMessagesOptions::default().max_page_size(10),
            ),
            &token,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut pages = 1;
    loop {
        ids.extend(
            page.items
                .iter()
                .filter(|m| m.kind == ChatMessageType::Text)
                .map(|m| m.id.clone()),
        );
        let Some(link) = page.next_link.take() else {
            break;
        };
        assert!(
            link.starts_with(&h.emulator.endpoint().trim_end_matches('/').to_owned()),
            "{link}"
        );
        assert!(link.contains("syncState="), "{link}");
        page = h
            .call(&ListChatMessages::next_page(link), &token)
            .await
            .unwrap();
        pages += 1;
    }
    assert_eq!(pages, 10);
    sent.reverse();
    assert_eq!(ids, sent);

    // 200 is the largest page; over it is a 400 that names the bounds. Threads page too.
    let big = h
        .call(
            &ListChatMessages::new(
                &thread,
                ListChatMessagesOptions::default().max_page_size(200),
            ),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(big.items.len(), 96);
    for size in [0, 201, 1000] {
        let error = h
            .call(
                &ListChatMessages::new(
                    &thread,
                    ListChatMessagesOptions::default().max_page_size(size),
                ),
                &token,
            )
            .await
            .unwrap_err();
        assert_eq!(
            (status(&error), code(&error)),
            (400, "ValidationError".into())
        );
        let service = error.service().unwrap().error().unwrap();
        assert_eq!(service.target.as_deref(), Some("maxPageSize"));
        assert!(
            service.message.contains("from 1 to 200"),
            "{}",
            service.message
        );
    }
    for _ in 0..6 {
        new_thread(&h, &token, &[]).await;
    }
    let mut page = h
        .call(
            &ListChatThreads::new(ListChatThreadsOptions::default().max_page_size(2)),
            &token,
        )
        .await
        .unwrap();
    let mut seen = page.items.len();
    while let Some(link) = page.next_link.take() {
        page = h
            .call(&ListChatThreads::next_page(link), &token)
            .await
            .unwrap();
        seen += page.items.len();
    }
    assert_eq!(seen, 7);
}

#[tokio::test]
async fn share_history_time_hides_earlier_messages() {
    let h = Harness::start().await;
    let (_, alice_token) = h.user();
    let (bob, bob_token) = h.user();
    let (carol, carol_token) = h.user();
    let thread = new_thread(&h, &alice_token, &[]).await;
    let before = send_text(&h, &alice_token, &thread, "before").await;
    let created = h
        .call(&GetChatMessage::new(&thread, &before), &alice_token)
        .await
        .unwrap()
        .created_on;
    let later = created.checked_add(Duration::from_millis(1)).unwrap();
    let mut with_limit = participant(&bob);
    with_limit.share_history_time = Some(later);
    let add = AddChatParticipants::new(&thread, vec![with_limit, participant(&carol)]);
    h.call(&add, &alice_token).await.unwrap();
    let e = h
        .call(&GetChatMessage::new(&thread, &before), &bob_token)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let bob_sees = h
        .call(
            &ListChatMessages::new(&thread, Default::default()),
            &bob_token,
        )
        .await
        .unwrap();
    assert!(bob_sees.items.iter().all(|m| m.id != before));
    assert!(
        bob_sees
            .items
            .iter()
            .any(|m| m.kind == ChatMessageType::ParticipantAdded)
    );
    let carol_sees = h
        .call(
            &ListChatMessages::new(&thread, Default::default()),
            &carol_token,
        )
        .await
        .unwrap();
    assert!(carol_sees.items.iter().any(|m| m.id == before));
    // startTime filters too.
    let recent = h
        .call(
            &ListChatMessages::new(
                &thread,
                ListChatMessagesOptions::default().start_time(later),
            ),
            &carol_token,
        )
        .await
        .unwrap();
    assert!(recent.items.iter().all(|m| m.id != before));
}

#[tokio::test]
async fn invalid_participants_are_reported_and_others_added() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let (bob, _) = h.user();
    let thread = new_thread(&h, &token, &[]).await;
    let add = AddChatParticipants::new(
        &thread,
        vec![
            participant("8:acs:00000000-0000-0000-0000-000000000000_nobody"),
            participant(&bob),
        ],
    );
    let result = h.call(&add, &token).await.unwrap();
    let invalid = result.invalid_participants.unwrap();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].code, "404");
    let all = h
        .call(
            &ListChatParticipants::new(&thread, Default::default()),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
}
