use std::collections::BTreeMap;
use std::time::Duration;

use acs_chat_protocol::CommunicationIdentifier;
use acs_chat_protocol::models::{
    ChatMessage, ChatMessageType, ChatParticipant, ChatRetentionPolicy, SendChatMessageRequest,
    ThreadCreationDateRetentionPolicy,
};
use proptest::prelude::*;

use super::ids::identifier_model;
use super::*;
use crate::limits::ServiceLimits;

fn t(secs: i64) -> DateTime {
    DateTime::from_unix_timestamp(1_700_000_000 + secs).unwrap()
}

fn ms(millis: i64) -> DateTime {
    DateTime::from_unix_timestamp_nanos(1_700_000_000_000_000_000 + i128::from(millis) * 1_000_000)
        .unwrap()
}

fn user(store: &mut Store) -> Caller {
    Caller::new(store.create_user(), vec!["chat".into()])
}

fn participant(caller: &Caller) -> ChatParticipant {
    ChatParticipant::new(CommunicationIdentifier::communication_user(&caller.user_id))
}

fn thread_with(store: &mut Store, creator: &Caller, others: &[&Caller], now: DateTime) -> String {
    let mut request = CreateChatThreadRequest::new("topic");
    request.participants = Some(others.iter().map(|c| participant(c)).collect());
    let result = store.create_thread(creator, request, None, now).unwrap();
    assert_eq!(result.invalid_participants, None);
    result.chat_thread.unwrap().id
}

fn text(content: &str) -> SendChatMessageRequest {
    SendChatMessageRequest::new(content)
}

fn all_messages(
    store: &mut Store,
    caller: &Caller,
    thread: &str,
    now: DateTime,
) -> Vec<ChatMessage> {
    store
        .list_messages(caller, thread, None, None, 10_000, now)
        .unwrap()
        .items
}

#[test]
fn ids_look_like_the_service() {
    let mut store = Store::new("res", 7);
    let a = user(&mut store);
    assert!(a.user_id.starts_with("8:acs:res_"), "{}", a.user_id);
    assert!(matches!(
        CommunicationIdentifier::from_raw_id(&a.user_id),
        CommunicationIdentifier::CommunicationUser(_)
    ));
    let thread = thread_with(&mut store, &a, &[], t(0));
    assert!(
        thread.starts_with("19:") && thread.ends_with("@thread.v2"),
        "{thread}"
    );
    // Reproducible for a seed, different across seeds.
    assert_eq!(Store::new("res", 7).create_user(), a.user_id);
    assert_ne!(Store::new("res", 8).create_user(), a.user_id);
}

#[test]
fn create_thread_adds_creator_and_a_system_message() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    let props = store.get_thread(&b, &thread, t(1)).unwrap();
    assert_eq!(props.topic, "topic");
    assert_eq!(props.created_on, t(0));
    assert_eq!(
        props.created_by_communication_identifier.raw_id(),
        a.user_id.as_str()
    );
    let participants = store
        .list_participants(&a, &thread, 0, 100, t(1))
        .unwrap()
        .items;
    let ids: Vec<_> = participants
        .iter()
        .map(|p| p.communication_identifier.raw_id().into_owned())
        .collect();
    assert_eq!(ids, vec![a.user_id.clone(), b.user_id.clone()]);
    assert!(participants.iter().all(|p| matches!(
        p.communication_identifier,
        CommunicationIdentifier::CommunicationUser(_)
    )));
    let messages = all_messages(&mut store, &a, &thread, t(1));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, ChatMessageType::ParticipantAdded);
    assert_eq!(messages[0].sequence_id, "1");
    assert_eq!(
        messages[0]
            .content
            .as_ref()
            .unwrap()
            .participants
            .as_ref()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn repeatability_request_id_makes_create_idempotent() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let request = CreateChatThreadRequest::new("once");
    let first = store
        .create_thread(&a, request.clone(), Some("r1"), t(0))
        .unwrap();
    let again = store
        .create_thread(&a, request.clone(), Some("r1"), t(5))
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        store.list_threads(&a, None, None, 100, t(100)).items.len(),
        1
    );
    let other = store.create_thread(
        &a,
        CreateChatThreadRequest::new("different"),
        Some("r1"),
        t(6),
    );
    assert_eq!(other.unwrap_err().status(), 409);
    // Another caller's id space is separate.
    let theirs = store.create_thread(&b, request, Some("r1"), t(7)).unwrap();
    assert_ne!(
        theirs.chat_thread.unwrap().id,
        first.chat_thread.unwrap().id
    );
}

#[test]
fn non_participants_get_403_and_deleted_threads_404() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[], t(0));
    assert_eq!(
        store.get_thread(&b, &thread, t(1)).unwrap_err().status(),
        403
    );
    assert_eq!(
        store
            .send_message(&b, &thread, text("x"), t(1))
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        store
            .get_thread(&a, "19:nope@thread.v2", t(1))
            .unwrap_err()
            .status(),
        404
    );
    store.delete_thread(&a, &thread, t(2)).unwrap();
    assert!(store.is_thread_deleted(&thread));
    assert_eq!(
        store.get_thread(&a, &thread, t(3)).unwrap_err().status(),
        404
    );
    assert_eq!(
        store
            .send_message(&a, &thread, text("x"), t(3))
            .unwrap_err()
            .status(),
        404
    );
    // Listed with its deletedOn only (see the test below).
    let listed = store.list_threads(&a, None, None, 100, t(100)).items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].deleted_on, Some(t(2)));
}

#[test]
fn message_ids_sequence_ids_and_versions_grow() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let thread = thread_with(&mut store, &a, &[], t(0));
    let m1 = store.send_message(&a, &thread, text("one"), t(1)).unwrap();
    let m2 = store.send_message(&a, &thread, text("two"), t(1)).unwrap();
    assert!(m2.parse::<u64>().unwrap() > m1.parse::<u64>().unwrap());
    let before = store.get_message(&a, &thread, &m1, t(2)).unwrap();
    assert_eq!(before.sequence_id, "2");
    assert_eq!(before.version, m1);
    let update = MessageUpdate {
        content: Some("uno".into()),
        ..MessageUpdate::default()
    };
    store
        .update_message(&a, &thread, &m1, update, t(3))
        .unwrap();
    let after = store.get_message(&a, &thread, &m1, t(3)).unwrap();
    assert_eq!(after.content.unwrap().message.as_deref(), Some("uno"));
    assert_eq!(after.edited_on, Some(t(3)));
    assert!(after.version.parse::<u64>().unwrap() > m2.parse::<u64>().unwrap());
    store.delete_message(&a, &thread, &m2, t(4)).unwrap();
    let deleted = store.get_message(&a, &thread, &m2, t(4)).unwrap();
    assert_eq!(deleted.deleted_on, Some(t(4)));
    assert_eq!(deleted.content.unwrap().message.as_deref(), Some(""));
    // Newest first.
    let listed: Vec<String> = all_messages(&mut store, &a, &thread, t(5))
        .into_iter()
        .map(|m| m.sequence_id)
        .collect();
    assert_eq!(listed, ["3", "2", "1"]);
}

#[test]
fn messages_carry_the_normalised_sender_identifier() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let b = user(&mut store);
    let c = user(&mut store);
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    store
        .add_participants(&a, &thread, vec![participant(&c)], t(0))
        .unwrap();
    for who in [&a, &b, &c] {
        let id = store.send_message(who, &thread, text("hi"), t(1)).unwrap();
        let m = store.get_message(who, &thread, &id, t(1)).unwrap();
        assert_eq!(
            m.sender_communication_identifier,
            Some(identifier_model(&who.user_id))
        );
        assert_eq!(m.version, m.id);
    }
}

#[test]
fn only_the_sender_edits_or_deletes() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    let m = store.send_message(&a, &thread, text("mine"), t(1)).unwrap();
    let edit = MessageUpdate {
        content: Some("theirs".into()),
        ..MessageUpdate::default()
    };
    assert_eq!(
        store
            .update_message(&b, &thread, &m, edit, t(2))
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        store
            .delete_message(&b, &thread, &m, t(2))
            .unwrap_err()
            .status(),
        403
    );
    // System messages have no sender: nobody edits them.
    let system = all_messages(&mut store, &a, &thread, t(2)).pop().unwrap();
    assert_eq!(
        store
            .delete_message(&a, &thread, &system.id, t(2))
            .unwrap_err()
            .status(),
        403
    );
    store.delete_message(&a, &thread, &m, t(3)).unwrap();
    store.delete_message(&a, &thread, &m, t(4)).unwrap();
}

#[test]
fn share_history_time_limits_what_a_participant_sees() {
    let mut store = Store::new("res", 1);
    let (a, b, c) = (user(&mut store), user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[], t(0));
    let old = store.send_message(&a, &thread, text("old"), t(10)).unwrap();
    let mut pb = participant(&b);
    pb.share_history_time = Some(t(20));
    let pc = participant(&c); // no shareHistoryTime: all history
    store
        .add_participants(&a, &thread, vec![pb, pc], t(30))
        .unwrap();
    let new = store.send_message(&a, &thread, text("new"), t(40)).unwrap();
    let seen_by_b: Vec<String> = all_messages(&mut store, &b, &thread, t(50))
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(seen_by_b.contains(&new));
    assert!(!seen_by_b.contains(&old));
    assert_eq!(
        store
            .get_message(&b, &thread, &old, t(50))
            .unwrap_err()
            .status(),
        404
    );
    let seen_by_c = all_messages(&mut store, &c, &thread, t(50));
    assert!(seen_by_c.iter().any(|m| m.id == old));
}

#[test]
fn invalid_participants_come_back_and_limits_hold() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let b = user(&mut store);
    let thread = thread_with(&mut store, &a, &[], t(0));
    let unknown = ChatParticipant::new(CommunicationIdentifier::communication_user(
        "8:acs:res_unknown",
    ));
    let phone = ChatParticipant::new(CommunicationIdentifier::phone_number("+14255550123"));
    let empty = ChatParticipant::new(CommunicationIdentifier::from_raw_id(""));
    let result = store
        .add_participants(
            &a,
            &thread,
            vec![unknown, participant(&b), phone, empty],
            t(1),
        )
        .unwrap();
    let invalid = result.invalid_participants.unwrap();
    let codes: Vec<&str> = invalid.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["404", "403", "400"]);
    assert_eq!(invalid[0].target.as_deref(), Some("8:acs:res_unknown"));
    assert_eq!(
        store
            .list_participants(&a, &thread, 0, 100, t(2))
            .unwrap()
            .items
            .len(),
        2
    );

    let many: Vec<Caller> = (0..260).map(|_| user(&mut store)).collect();
    let batch =
        |range: std::ops::Range<usize>| many[range].iter().map(participant).collect::<Vec<_>>();
    assert_eq!(
        store
            .add_participants(&a, &thread, batch(0..201), t(3))
            .unwrap_err()
            .status(),
        400
    );
    assert!(
        store
            .add_participants(&a, &thread, batch(0..200), t(3))
            .unwrap()
            .invalid_participants
            .is_none()
    );
    let over = store
        .add_participants(&a, &thread, batch(200..260), t(4))
        .unwrap();
    assert_eq!(over.invalid_participants.unwrap().len(), 60 - 48);
    let count = store
        .list_participants(&a, &thread, 0, 1000, t(5))
        .unwrap()
        .items
        .len();
    assert_eq!(count, ServiceLimits::default().max_participants_per_thread);
}

#[test]
fn removing_a_participant_takes_their_access_away() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    let who = CommunicationIdentifier::communication_user(&b.user_id);
    store.remove_participant(&a, &thread, &who, t(1)).unwrap();
    assert_eq!(
        store.get_thread(&b, &thread, t(2)).unwrap_err().status(),
        403
    );
    let last = all_messages(&mut store, &a, &thread, t(2)).remove(0);
    assert_eq!(last.kind, ChatMessageType::ParticipantRemoved);
    // Removing again is a no-op.
    store.remove_participant(&a, &thread, &who, t(3)).unwrap();
}

#[test]
fn topic_update_records_a_system_message_and_metadata_merges() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let thread = thread_with(&mut store, &a, &[], t(0));
    let mut patch = MetadataPatch::new();
    patch.insert("k".into(), Some("v".into()));
    patch.insert("gone".into(), None);
    let update = ThreadUpdate {
        topic: Some("new topic".into()),
        metadata: Patch::Set(patch),
        retention_policy: Patch::Keep,
    };
    store.update_thread(&a, &thread, update, t(1)).unwrap();
    let props = store.get_thread(&a, &thread, t(1)).unwrap();
    assert_eq!(props.topic, "new topic");
    assert_eq!(
        props.metadata,
        Some(BTreeMap::from([("k".to_owned(), "v".to_owned())]))
    );
    let latest = all_messages(&mut store, &a, &thread, t(1)).remove(0);
    assert_eq!(latest.kind, ChatMessageType::TopicUpdated);
    assert_eq!(latest.content.unwrap().topic.as_deref(), Some("new topic"));
    let big = MetadataPatch::from([("k".to_owned(), Some("x".repeat(1100)))]);
    let update = ThreadUpdate {
        metadata: Patch::Set(big),
        ..ThreadUpdate::default()
    };
    assert_eq!(
        store
            .update_thread(&a, &thread, update, t(2))
            .unwrap_err()
            .status(),
        400
    );
}

/// The status and target of a refused call.
fn refused<T: std::fmt::Debug>(result: Result<T, StoreError>) -> (u16, String) {
    let e = result.unwrap_err();
    (e.status(), e.target().unwrap_or_default().to_owned())
}

#[test]
fn every_documented_limit_is_refused_naming_the_field() {
    let limits = ServiceLimits::default();
    assert_eq!(limits.max_message_content_bytes, 28 * 1024);
    assert_eq!(limits.max_metadata_bytes, 1024);
    assert_eq!(limits.max_participants_per_thread, 250);
    assert_eq!(limits.max_participants_per_call, 200);
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let thread = thread_with(&mut store, &a, &[], t(0));
    let at = |n: usize| "x".repeat(n);
    // Content: 28 KiB passes, one byte more does not (as a send and as an edit).
    let ok = store
        .send_message(&a, &thread, text(&at(28 * 1024)), t(1))
        .unwrap();
    let over = text(&at(28 * 1024 + 1));
    assert_eq!(
        refused(store.send_message(&a, &thread, over, t(1))),
        (400, "Content".into())
    );
    let edit = MessageUpdate {
        content: Some(at(28 * 1024 + 1)),
        ..MessageUpdate::default()
    };
    assert_eq!(
        refused(store.update_message(&a, &thread, &ok, edit, t(1))),
        (400, "Content".into())
    );
    // Metadata: 1024 bytes of keys and values, on threads, messages and participants.
    let metadata = |n: usize| BTreeMap::from([("k".to_owned(), at(n - 1))]);
    let mut request = CreateChatThreadRequest::new("t");
    request.metadata = Some(metadata(1024));
    store
        .create_thread(&a, request.clone(), None, t(2))
        .unwrap();
    request.metadata = Some(metadata(1025));
    assert_eq!(
        refused(store.create_thread(&a, request, None, t(2))),
        (400, "Metadata".into())
    );
    let mut message = text("m");
    message.metadata = Some(metadata(1025));
    assert_eq!(
        refused(store.send_message(&a, &thread, message, t(2))),
        (400, "Metadata".into())
    );
    let b = user(&mut store);
    let mut p = participant(&b);
    p.metadata = Some(metadata(1025));
    assert_eq!(
        refused(store.add_participants(&a, &thread, vec![p], t(2))),
        (400, "Participants[0].Metadata".into())
    );
    // Topic (250 characters, an inference) and display names (256, an inference).
    let topic = |n: usize| CreateChatThreadRequest::new("é".repeat(n));
    store.create_thread(&a, topic(250), None, t(3)).unwrap();
    assert_eq!(
        refused(store.create_thread(&a, topic(251), None, t(3))),
        (400, "Topic".into())
    );
    let update = ThreadUpdate {
        topic: Some(at(251)),
        ..ThreadUpdate::default()
    };
    assert_eq!(
        refused(store.update_thread(&a, &thread, update, t(3))),
        (400, "Topic".into())
    );
    let mut named = text("m");
    named.sender_display_name = Some(at(257));
    assert_eq!(
        refused(store.send_message(&a, &thread, named, t(3))),
        (400, "SenderDisplayName".into())
    );
    let mut p = participant(&b);
    p.display_name = Some(at(257));
    assert_eq!(
        refused(store.add_participants(&a, &thread, vec![p], t(3))),
        (400, "Participants[0].DisplayName".into())
    );
    // Nothing refused changed anything.
    let messages = all_messages(&mut store, &a, &thread, t(4));
    assert_eq!(messages.len(), 2, "the system message and the 28 KiB one");
}

#[test]
fn limits_are_configurable() {
    let mut store = Store::new("res", 1);
    store.set_limits(ServiceLimits {
        max_message_content_bytes: 5,
        max_topic_chars: 3,
        max_participants_per_thread: 2,
        max_participants_per_call: 1,
        message_ops_per_10_seconds: 0,
        ..ServiceLimits::default()
    });
    let a = user(&mut store);
    let b = user(&mut store);
    let c = user(&mut store);
    assert_eq!(
        refused(store.create_thread(&a, CreateChatThreadRequest::new("four"), None, t(0))),
        (400, "Topic".into())
    );
    let thread = store
        .create_thread(&a, CreateChatThreadRequest::new("one"), None, t(0))
        .unwrap()
        .chat_thread
        .unwrap()
        .id;
    assert_eq!(
        refused(store.add_participants(&a, &thread, vec![participant(&b), participant(&c)], t(1))),
        (400, "Participants".into())
    );
    store
        .add_participants(&a, &thread, vec![participant(&b)], t(1))
        .unwrap();
    let full = store
        .add_participants(&a, &thread, vec![participant(&c)], t(1))
        .unwrap();
    assert_eq!(full.invalid_participants.unwrap().len(), 1);
    assert_eq!(
        refused(store.send_message(&a, &thread, text("sixsix"), t(2))),
        (400, "Content".into())
    );
    // A zero rate limit with throttling on refuses every message operation, without panicking.
    store.set_throttle(true);
    let e = store
        .send_message(&a, &thread, text("ok"), t(2))
        .unwrap_err();
    assert_eq!(e.status(), 429);
}

#[test]
fn throttling_follows_the_documented_limits() {
    let mut store = Store::new("res", 1);
    store.set_throttle(true);
    let a = user(&mut store);
    let thread = thread_with(&mut store, &a, &[], t(0));
    for _ in 0..10 {
        store.send_message(&a, &thread, text("x"), t(1)).unwrap();
    }
    let e = store
        .send_message(&a, &thread, text("x"), t(3))
        .unwrap_err();
    assert_eq!((e.status(), e.retry_after_seconds()), (429, Some(8)));
    // Ten seconds later the window has room again; 30 per minute still applies.
    for i in 0..10 {
        store
            .send_message(&a, &thread, text("x"), t(11 + i / 9))
            .unwrap();
    }
    for _ in 0..10 {
        store.send_message(&a, &thread, text("x"), t(25)).unwrap();
    }
    let e = store
        .send_message(&a, &thread, text("x"), t(40))
        .unwrap_err();
    assert_eq!((e.status(), e.retry_after_seconds()), (429, Some(21)));
    store.send_message(&a, &thread, text("x"), t(61)).unwrap();
    // Other threads are not affected.
    let other = thread_with(&mut store, &a, &[], t(40));
    store.send_message(&a, &other, text("x"), t(40)).unwrap();
}

#[test]
fn tokens_expire_and_are_revoked() {
    let mut store = Store::new("res", 1);
    let id = store.create_user();
    let grant = store
        .issue_token(&id, vec!["chat".into()], Duration::from_secs(3600), t(0))
        .unwrap();
    assert!(store.authenticate(&grant.token_id, &id, t(10)).is_ok());
    assert_eq!(
        store
            .authenticate(&grant.token_id, &id, t(3600))
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(
        store
            .authenticate(&grant.token_id, "8:acs:other", t(10))
            .unwrap_err()
            .status(),
        401
    );
    store.revoke_tokens(&id).unwrap();
    assert_eq!(
        store
            .authenticate(&grant.token_id, &id, t(10))
            .unwrap_err()
            .status(),
        401
    );
    let again = store
        .issue_token(&id, vec!["chat".into()], Duration::from_secs(3600), t(20))
        .unwrap();
    assert!(store.authenticate(&again.token_id, &id, t(20)).is_ok());
    store.delete_user(&id).unwrap();
    assert_eq!(
        store
            .authenticate(&again.token_id, &id, t(21))
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(store.delete_user(&id).unwrap_err().status(), 404);
    assert_eq!(
        store
            .issue_token(&id, vec![], Duration::ZERO, t(22))
            .unwrap_err()
            .status(),
        404
    );
}

#[test]
fn retention_policy_deletes_the_thread() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let mut request = CreateChatThreadRequest::new("short-lived");
    request.retention_policy = Some(ChatRetentionPolicy::ThreadCreationDate(
        ThreadCreationDateRetentionPolicy::new(30),
    ));
    let thread = store
        .create_thread(&a, request, None, t(0))
        .unwrap()
        .chat_thread
        .unwrap()
        .id;
    assert!(store.get_thread(&a, &thread, t(29 * 86_400)).is_ok());
    assert_eq!(
        store
            .get_thread(&a, &thread, t(30 * 86_400))
            .unwrap_err()
            .status(),
        404
    );
    let mut bad = CreateChatThreadRequest::new("bad");
    bad.retention_policy = Some(ChatRetentionPolicy::ThreadCreationDate(
        ThreadCreationDateRetentionPolicy::new(7),
    ));
    assert_eq!(
        store
            .create_thread(&a, bad, None, t(0))
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn list_threads_newest_first_with_start_time_and_paging() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let t1 = thread_with(&mut store, &a, &[], t(0));
    let t2 = thread_with(&mut store, &a, &[], t(10));
    let _theirs = thread_with(&mut store, &b, &[], t(15));
    let t3 = thread_with(&mut store, &a, &[], t(20));
    store.send_message(&a, &t1, text("bump"), t(30)).unwrap();
    let page = store.list_threads(&a, None, None, 2, t(40));
    let ids: Vec<_> = page.items.iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids, [t1.clone(), t3.clone()]);
    assert_eq!(page.items[0].last_message_received_on, Some(t(30)));
    let next = store.list_threads(&a, None, page.next.as_ref(), 2, t(40));
    assert_eq!(
        next.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        [t2]
    );
    assert_eq!(next.next, None);
    let recent = store.list_threads(&a, Some(t(20)), None, 10, t(40));
    assert_eq!(recent.items.len(), 2);
}

#[test]
fn deleted_threads_stay_listed_for_their_participants_with_deleted_on() {
    let mut store = Store::new("res", 1);
    let (a, b, c) = (user(&mut store), user(&mut store), user(&mut store));
    let kept = thread_with(&mut store, &a, &[&b], t(0));
    let gone = thread_with(&mut store, &a, &[&b], t(10));
    store.delete_thread(&b, &gone, t(50)).unwrap();
    let page = store.list_threads(&a, None, None, 10, t(60));
    let items: Vec<_> = page
        .items
        .iter()
        .map(|i| (i.id.clone(), i.deleted_on))
        .collect();
    // Most recent activity first: the deletion counts as activity.
    assert_eq!(items, [(gone.clone(), Some(t(50))), (kept.clone(), None)]);
    assert_eq!(page.items[0].last_message_received_on, Some(t(10)));
    // A startTime after the last message but before the deletion still shows it.
    let recent = store.list_threads(&b, Some(t(40)), None, 10, t(60));
    assert_eq!(recent.items.len(), 1);
    assert_eq!(recent.items[0].id, gone);
    // Not to someone who was never in it; and it stays gone for every other operation.
    assert!(
        store
            .list_threads(&c, None, None, 10, t(60))
            .items
            .is_empty()
    );
    assert_eq!(
        store.get_thread(&a, &gone, t(60)).unwrap_err().status(),
        404
    );
    // Paging walks both kinds.
    let first = store.list_threads(&a, None, None, 1, t(60));
    let second = store.list_threads(&a, None, first.next.as_ref(), 1, t(60));
    assert_eq!(first.items[0].id, gone);
    assert_eq!(second.items[0].id, kept);
    assert_eq!(second.next, None);
}

#[test]
fn listed_deleted_threads_are_bounded() {
    let mut store = Store::new("res", 1);
    let a = user(&mut store);
    let over = MAX_LISTED_DELETED_THREADS + 3;
    let mut first = None;
    for i in 0..over {
        let at = t(i64::try_from(i).unwrap());
        let id = thread_with(&mut store, &a, &[], at);
        store.delete_thread(&a, &id, at).unwrap();
        first.get_or_insert(id);
    }
    assert_eq!(store.tombstones.len(), MAX_LISTED_DELETED_THREADS);
    assert!(!store.tombstones.contains_key(first.as_ref().unwrap()));
    assert!(store.is_thread_deleted(first.as_ref().unwrap()));
}

#[test]
fn read_receipts_one_per_reader() {
    let mut store = Store::new("res", 1);
    let (a, b) = (user(&mut store), user(&mut store));
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    let m1 = store.send_message(&a, &thread, text("1"), t(1)).unwrap();
    let m2 = store.send_message(&a, &thread, text("2"), t(2)).unwrap();
    store.send_read_receipt(&b, &thread, &m1, t(3)).unwrap();
    store.send_read_receipt(&b, &thread, &m2, t(4)).unwrap();
    store.send_read_receipt(&a, &thread, &m2, t(5)).unwrap();
    assert_eq!(
        store
            .send_read_receipt(&a, &thread, "42", t(5))
            .unwrap_err()
            .status(),
        404
    );
    let page = store.list_read_receipts(&a, &thread, 0, 1, t(6)).unwrap();
    assert_eq!(page.items[0].chat_message_id, m2);
    assert_eq!(page.items[0].read_on, t(4));
    assert_eq!(page.next, Some(1));
    let rest = store.list_read_receipts(&a, &thread, 1, 1, t(6)).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next, None);
}

// ---- property test: any interleaving of sends, edits and deletes keeps listing consistent ----

#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    Edit(usize, usize),
    Delete(usize, usize),
    Tick(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Send),
        1 => (0..3usize, any::<usize>()).prop_map(|(u, m)| Op::Edit(u, m)),
        2 => (0..3usize, any::<usize>()).prop_map(|(u, m)| Op::Delete(u, m)),
        1 => (0..2000u16).prop_map(Op::Tick),
    ]
}

#[derive(Debug, Clone)]
struct Expected {
    id: String,
    sender: Option<usize>,
    deleted: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn listing_stays_consistent(
        ops in prop::collection::vec(op(), 0..120),
        page_size in 1usize..12,
        sends_while_paging in prop::collection::vec(0..3usize, 0..20),
    ) {
        let mut store = Store::new("res", 3);
        let users: Vec<Caller> = (0..3).map(|_| user(&mut store)).collect();
        let thread = thread_with(&mut store, &users[0], &[&users[1], &users[2]], ms(0));
        let first = all_messages(&mut store, &users[0], &thread, ms(0)).remove(0);
        let mut expected = vec![Expected { id: first.id, sender: None, deleted: false }];
        let mut clock = 0i64;
        for op in ops {
            match op {
                Op::Tick(d) => clock += i64::from(d),
                Op::Send(u) => {
                    let id = store.send_message(&users[u], &thread, text("m"), ms(clock)).unwrap();
                    expected.push(Expected { id, sender: Some(u), deleted: false });
                }
                Op::Edit(u, pick) | Op::Delete(u, pick) => {
                    let target = expected[pick % expected.len()].clone();
                    let is_delete = matches!(op, Op::Delete(..));
                    let result = if is_delete {
                        store.delete_message(&users[u], &thread, &target.id, ms(clock))
                    } else {
                        let update = MessageUpdate { content: Some("e".into()), ..MessageUpdate::default() };
                        store.update_message(&users[u], &thread, &target.id, update, ms(clock))
                    };
                    match (target.sender == Some(u), target.deleted, is_delete) {
                        (false, _, _) => prop_assert_eq!(result.unwrap_err().status(), 403),
                        (true, true, false) => prop_assert_eq!(result.unwrap_err().status(), 404),
                        (true, _, true) => {
                            prop_assert!(result.is_ok());
                            let pos = expected.iter().position(|e| e.id == target.id).unwrap();
                            expected[pos].deleted = true;
                        }
                        (true, false, false) => prop_assert!(result.is_ok()),
                    }
                }
            }
        }
        // Page through every message, sending more between pages: the pages hold exactly the
        // messages that existed when paging started, newest first, each once.
        let mut seen: Vec<ChatMessage> = Vec::new();
        let mut cursor = None;
        let mut extra = sends_while_paging.into_iter();
        loop {
            let page = store
                .list_messages(&users[1], &thread, None, cursor, page_size, ms(clock))
                .unwrap();
            prop_assert!(page.items.len() <= page_size);
            seen.extend(page.items);
            if let Some(u) = extra.next() {
                store.send_message(&users[u], &thread, text("late"), ms(clock)).unwrap();
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let seqs: Vec<u64> = seen.iter().map(|m| m.sequence_id.parse().unwrap()).collect();
        let expected_seqs: Vec<u64> = (1..=expected.len() as u64).rev().collect();
        prop_assert_eq!(&seqs, &expected_seqs);
        for (m, e) in seen.iter().rev().zip(&expected) {
            prop_assert_eq!(&m.id, &e.id);
            prop_assert_eq!(m.deleted_on.is_some(), e.deleted);
        }
        // Ids grow with the sequence; versions never precede ids.
        let ids: Vec<u64> = seen.iter().rev().map(|m| m.id.parse().unwrap()).collect();
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(seen.iter().all(|m| m.version.parse::<u64>().unwrap() >= m.id.parse::<u64>().unwrap()));
    }
}

#[test]
fn each_mutation_records_what_changed() {
    let mut store = Store::new("res", 9);
    let a = user(&mut store);
    let b = user(&mut store);
    store.take_changes();
    let thread = thread_with(&mut store, &a, &[&b], t(0));
    let changes = store.take_changes();
    assert!(
        matches!(
            changes.as_slice(),
            [
                Change::ThreadCreated { thread_id: t1 },
                Change::ParticipantsAdded { thread_id: t2, user_ids, by },
                Change::MessageAdded { thread_id: t3, .. },
            ] if [t1, t2, t3].iter().all(|t| **t == thread)
                && *user_ids == [a.user_id.clone(), b.user_id.clone()]
                && *by == a.user_id
        ),
        "{changes:?}"
    );
    let id = store.send_message(&b, &thread, text("hi"), t(1)).unwrap();
    assert_eq!(
        store.take_changes(),
        [Change::MessageAdded {
            thread_id: thread.clone(),
            message_id: id.clone()
        }]
    );
    // A refused call changes nothing.
    assert!(store.delete_message(&a, &thread, &id, t(2)).is_err());
    assert_eq!(store.take_changes(), []);
    store.delete_message(&b, &thread, &id, t(2)).unwrap();
    store.send_read_receipt(&a, &thread, &id, t(3)).unwrap();
    store
        .remove_participant(&a, &thread, &participant(&b).communication_identifier, t(4))
        .unwrap();
    let changes = store.take_changes();
    assert_eq!(
        changes[..3],
        [
            Change::MessageUpdated {
                thread_id: thread.clone(),
                message_id: id,
                deleted: true,
            },
            Change::ReadReceiptSent {
                thread_id: thread.clone(),
                user_id: a.user_id.clone()
            },
            Change::ParticipantRemoved {
                thread_id: thread.clone(),
                user_id: b.user_id.clone(),
                participant: {
                    let mut stored = participant(&b);
                    stored.share_history_time = Some(DateTime::UNIX_EPOCH);
                    stored
                },
                by: a.user_id.clone(),
            },
        ]
    );
    assert!(
        matches!(changes[3], Change::MessageAdded { .. }),
        "{changes:?}"
    );
    store
        .send_typing(&a, &thread, Some("Ann".into()), t(5))
        .unwrap();
    assert_eq!(
        store.take_changes(),
        [Change::TypingSent {
            thread_id: thread.clone(),
            user_id: a.user_id.clone(),
            sender_display_name: Some("Ann".into()),
        }]
    );
    store.delete_thread(&a, &thread, t(5)).unwrap();
    assert_eq!(
        store.take_changes(),
        [Change::ThreadDeleted {
            thread_id: thread,
            by: Some(a.user_id.clone()),
            participants: vec![a.user_id.clone()],
        }]
    );
}
