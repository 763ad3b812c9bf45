//! Event Grid: the documented chat payloads (the project's own fixtures, modelled on the
//! samples of the Event Grid docs and spec) in both schemas, their mapping onto `ChatEvent`,
//! and the reverse (`event_grid_events`) checked against it.

mod common;

use acs_chat_events::eventgrid::*;
use acs_chat_events::*;
use acs_chat_protocol::models::ChatMessageType;
use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use proptest::prelude::*;
use serde_json::json;

const EG_BATCH: &[u8] = include_bytes!("fixtures/event-grid-chat-batch.json");
const CE_BATCH: &[u8] = include_bytes!("fixtures/cloud-events-chat-batch.json");

const TH: &str = "19:c0ffee0123456789abcdef0123456789@thread.v2";
const ANN: &str = "8:acs:6a1b7c3e-0f42-4d2a-9b1e-2c3d4e5f6a7b_0000001f-0a1b-2c3d-4e5f-000000000a01";
const BOB: &str = "8:acs:6a1b7c3e-0f42-4d2a-9b1e-2c3d4e5f6a7b_0000001f-0a1b-2c3d-4e5f-000000000b02";
const CAT: &str = "8:acs:6a1b7c3e-0f42-4d2a-9b1e-2c3d4e5f6a7b_0000001f-0a1b-2c3d-4e5f-000000000c03";

fn t(s: &str) -> DateTime {
    DateTime::parse(s).unwrap()
}

fn user(raw: &str) -> CommunicationIdentifier {
    CommunicationIdentifier::communication_user(raw)
}

fn mapped(batch: &[Result<Option<ChatEvent>, Error>]) -> Vec<Option<ChatEvent>> {
    batch.iter().map(|r| r.clone().unwrap()).collect()
}

#[test]
fn every_documented_chat_event_maps_and_other_events_are_not_chat_events() {
    let events = parse_event_grid_events(EG_BATCH).unwrap();
    assert_eq!(events.len(), 21);
    let out = mapped(
        &events
            .iter()
            .map(EventGridEvent::to_chat_event)
            .collect::<Vec<_>>(),
    );
    let kinds: Vec<&str> = out
        .iter()
        .map(|e| e.as_ref().map_or("-", |e| e.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            "chatMessageReceived",
            "chatMessageReceived",
            "chatMessageEdited",
            "chatMessageEdited",
            "chatMessageDeleted",
            "chatMessageDeleted",
            "chatThreadCreated",
            "chatThreadCreated",
            "chatThreadDeleted",
            "chatThreadDeleted",
            "chatThreadPropertiesUpdated",
            "chatThreadPropertiesUpdated",
            "participantsAdded",
            "participantsRemoved",
            "participantsAdded",
            "participantsRemoved",
            "typingIndicatorReceived",
            "Microsoft.Communication.ChatAzureBotCommandReceivedInThread",
            "Microsoft.Communication.ChatMemberAddedToThreadWithUser",
            "-",
            "-",
        ]
    );
    // Every chat event is about the thread; user-level ones have their recipient,
    // thread-level ones none.
    for (i, e) in out.iter().take(19).enumerate() {
        let e = e.as_ref().unwrap();
        assert_eq!(e.thread_id(), Some(TH), "{i}");
        let user_level = [0, 2, 4, 6, 8, 10, 12, 13].contains(&i);
        assert_eq!(e.recipient().is_some(), user_level, "{i}: {e:?}");
    }
}

#[test]
fn fields_map_as_documented() {
    let events = parse_event_grid_events(EG_BATCH).unwrap();
    let get = |i: usize| events[i].to_chat_event().unwrap().unwrap();

    let ChatEvent::ChatMessageReceived(m) = get(0) else {
        panic!()
    };
    assert_eq!(m.id, "1714557600123");
    assert_eq!(m.version.as_deref(), Some("1714557600123"));
    assert_eq!(m.message_type, ChatMessageType::Text);
    assert_eq!(m.message, "Hello Bob");
    assert_eq!(m.metadata.unwrap()["lang"], "en");
    assert_eq!(m.sender, Some(user(ANN)));
    assert_eq!(m.sender_display_name.as_deref(), Some("Ann"));
    assert_eq!(m.created_on, t("2024-05-01T10:00:00.123Z"));
    assert_eq!(m.recipient, Some(user(BOB)));
    // The thread-level twin: the version was a string there, the time had an offset.
    let ChatEvent::ChatMessageReceived(m2) = get(1) else {
        panic!()
    };
    assert_eq!(m2.version.as_deref(), Some("1714557600123"));
    assert_eq!(m2.created_on, m.created_on);
    assert_eq!(m2.recipient, None);

    let ChatEvent::ChatMessageEdited(e) = get(2) else {
        panic!()
    };
    assert_eq!(e.message, "Hello, Bob");
    assert_eq!(e.edited_on, t("2024-05-01T10:01:00Z"));
    assert_eq!(e.version.as_deref(), Some("1714557660000"));

    let ChatEvent::ChatMessageDeleted(d) = get(5) else {
        panic!()
    };
    assert_eq!(d.deleted_on, t("2024-05-01T10:02:00Z"));
    assert_eq!(d.sender, Some(user(ANN)));

    let ChatEvent::ChatThreadCreated(c) = get(6) else {
        panic!()
    };
    assert_eq!(c.properties.topic.as_deref(), Some("Release planning"));
    assert_eq!(c.properties.metadata.unwrap()["team"], "core");
    assert_eq!(c.created_on, Some(t("2024-05-01T09:59:00Z")));
    assert_eq!(c.created_by.unwrap().id, user(ANN));
    assert_eq!(c.participants.len(), 2);
    assert_eq!(c.participants[0].display_name.as_deref(), Some("Ann"));
    assert_eq!(c.participants[0].metadata.as_ref().unwrap()["role"], "lead");
    assert_eq!(c.version.as_deref(), Some("1714557540000"));

    let ChatEvent::ChatThreadDeleted(d) = get(9) else {
        panic!()
    };
    assert_eq!(d.deleted_on, t("2024-05-01T12:00:00.1234567Z"));
    assert_eq!(d.deleted_by.unwrap().id, user(ANN));

    let ChatEvent::ChatThreadPropertiesUpdated(u) = get(10) else {
        panic!()
    };
    assert_eq!(u.properties.topic.as_deref(), Some("Release planning (v2)"));
    assert_eq!(u.updated_on, t("2024-05-01T10:30:00Z"));
    assert_eq!(u.updated_by.unwrap().id, user(BOB));
    assert_eq!(u.recipient, Some(user(ANN)));

    let ChatEvent::ParticipantsAdded(a) = get(14) else {
        panic!()
    };
    assert_eq!(a.added_on, t("2024-05-01T10:40:00Z"));
    assert_eq!(a.participants_added.len(), 1);
    assert_eq!(a.participants_added[0].id, user(CAT));
    assert_eq!(
        a.participants_added[0].metadata.as_ref().unwrap()["team"],
        "qa"
    );
    assert_eq!(a.added_by.unwrap().id, user(ANN));

    let ChatEvent::ParticipantsRemoved(r) = get(13) else {
        panic!()
    };
    assert_eq!(r.removed_on, t("2024-05-01T10:50:00Z"));
    assert_eq!(
        r.participants_removed[0].display_name.as_deref(),
        Some("Cat")
    );

    // The typing indicator's documented data has no time: the envelope's is used.
    let ChatEvent::TypingIndicatorReceived(ty) = get(16) else {
        panic!()
    };
    assert_eq!(ty.received_on, t("2024-05-01T10:55:00.25Z"));
    assert_eq!(ty.sender, Some(user(BOB)));
    assert_eq!(ty.sender_display_name.as_deref(), Some("Bob"));

    // Not mapped: kept whole under their event type.
    let ChatEvent::Unknown(bot) = get(17) else {
        panic!()
    };
    assert_eq!(bot.fields["data"]["messageBody"], "/deploy staging");
    assert_eq!(
        serde_json::from_value::<ChatEvent>(serde_json::to_value(get(17)).unwrap()).unwrap(),
        get(17)
    );
}

#[test]
fn the_typed_data_keeps_what_the_chat_event_does_not() {
    let events = parse_event_grid_events(EG_BATCH).unwrap();
    let Some(AcsChatEventData::ChatMessageReceived(d)) = events[0].chat_data().unwrap() else {
        panic!()
    };
    assert_eq!(d.transaction_id.as_deref(), Some("tx/1.1"));
    assert_eq!(d.kind, "Text");
    let Some(AcsChatEventData::Other { event_type, data }) = events[18].chat_data().unwrap() else {
        panic!()
    };
    assert_eq!(
        event_type,
        "Microsoft.Communication.ChatMemberAddedToThreadWithUser"
    );
    assert_eq!(data["memberAdded"]["displayName"], "Cat");
    assert!(events[19].chat_data().unwrap().is_none());
    // Typed data writes back what it read (unknown members such as `senderId` aside).
    for e in &events[..17] {
        let typed = e.chat_data().unwrap().unwrap();
        let again = AcsChatEventData::parse(e.event_type.as_str(), typed.to_value())
            .unwrap()
            .unwrap();
        assert_eq!(again, typed);
    }
}

#[test]
fn cloud_events_carry_the_same_events() {
    let eg = parse_event_grid_events(EG_BATCH).unwrap();
    let ce = parse_cloud_events(CE_BATCH).unwrap();
    assert_eq!(eg.len(), ce.len());
    for (a, b) in eg.iter().zip(&ce) {
        assert_eq!(
            a.to_chat_event().unwrap(),
            b.to_chat_event().unwrap(),
            "{}",
            a.id
        );
        assert_eq!(&a.to_cloud_event(), b);
    }
    // One event in structured mode; `specVersion` as a documented sample spells it.
    let one = json!({
        "specVersion": "1.0", "id": "x", "source": "/s", "type": "Microsoft.Communication.ChatThreadDeleted",
        "time": "2024-05-01T12:00:01Z",
        "data": {"threadId": TH, "deletedByCommunicationIdentifier": {"rawId": ANN}}
    });
    let e = parse_cloud_event(one.to_string().as_bytes()).unwrap();
    let Some(ChatEvent::ChatThreadDeleted(d)) = e.to_chat_event().unwrap() else {
        panic!()
    };
    assert_eq!(d.deleted_on, t("2024-05-01T12:00:01Z"));
}

#[test]
fn malformed_payloads_are_typed_errors_naming_the_event() {
    let err = parse_event_grid_events(b"{}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedBody);
    assert_eq!(err.event_index(), None);
    let err = parse_event_grid_events(br#"[{"id": "a"}]"#).unwrap_err();
    assert_eq!(
        (err.kind(), err.event_index()),
        (ErrorKind::MalformedBody, Some(0))
    );
    let err = parse_cloud_events(
        br#"[{"specversion":"1.0","id":"a","source":"s","type":"t"},{"specversion":"0.3","id":"b","source":"s","type":"t"}]"#,
    )
    .unwrap_err();
    assert_eq!(
        (err.kind(), err.event_index()),
        (ErrorKind::MalformedBody, Some(1))
    );
    assert!(err.to_string().contains("0.3"), "{err}");

    // A known chat type whose data misses a required member.
    let mut events = parse_event_grid_events(EG_BATCH).unwrap();
    events[0].data.as_object_mut().unwrap().remove("messageId");
    let err = events[0].to_chat_event().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidEventData);
    assert!(err.to_string().contains("messageId"), "{err}");
    events[1].data["version"] = json!("v2");
    assert_eq!(
        events[1].to_chat_event().unwrap_err().kind(),
        ErrorKind::InvalidEventData
    );
}

#[test]
fn a_message_is_published_once_per_thread_and_once_per_other_participant() {
    let mut m = ChatMessageReceivedEvent::new(
        TH,
        "1714557600123",
        ChatMessageType::Text,
        "hi",
        t("2024-05-01T10:00:00Z"),
    );
    m.sender = Some(user(ANN));
    m.version = Some("1714557600123".into());
    let source = EventSource::new(
        "/subscriptions/s/…/communicationServices/contoso",
        t("2024-05-01T10:00:01Z"),
    )
    .transaction_id("tx");
    let mut n = 0;
    let events = event_grid_events(
        &m.clone().into(),
        &[user(ANN), user(BOB), user(CAT), user(BOB)],
        &source,
        || {
            n += 1;
            format!("id-{n}")
        },
    );
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.id.as_str(), e.event_type.as_str(), e.subject.as_str()))
        .collect();
    let s = |rest: &str| format!("thread/{TH}/sender/{ANN}{rest}");
    assert_eq!(
        summary,
        [
            (
                "id-1",
                "Microsoft.Communication.ChatMessageReceivedInThread",
                s("").as_str()
            ),
            (
                "id-2",
                "Microsoft.Communication.ChatMessageReceived",
                s(&format!("/recipient/{BOB}")).as_str()
            ),
            (
                "id-3",
                "Microsoft.Communication.ChatMessageReceived",
                s(&format!("/recipient/{CAT}")).as_str()
            ),
        ]
    );
    assert_eq!(
        events[1].data["recipientCommunicationIdentifier"]["rawId"],
        BOB
    );
    assert_eq!(events[1].data["version"], 1714557600123i64);
    assert_eq!(events[1].data["type"], "Text");
    assert_eq!(events[1].data["transactionId"], "tx");
    assert_eq!(
        events[1].topic.as_deref(),
        Some("/subscriptions/s/…/communicationServices/contoso")
    );
    // Without a sender there is nothing Event Grid could carry.
    m.sender = None;
    assert!(event_grid_events(&m.into(), &[user(BOB)], &source, String::new).is_empty());
}

#[test]
fn thread_and_participant_events_use_the_documented_subjects() {
    let source = EventSource::new("/t", t("2024-05-01T10:00:00Z"));
    let mut added = ParticipantsAddedEvent::new(
        TH,
        t("2024-05-01T10:40:00Z"),
        vec![EventParticipant::new(user(CAT))],
    );
    added.added_by = Some(EventParticipant::new(user(ANN)));
    let events = event_grid_events(
        &added.into(),
        &[user(ANN), user(BOB), user(CAT)],
        &source,
        String::new,
    );
    let subjects: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("thread/{TH}/participantadded/{CAT}"),
            format!("thread/{TH}/participantAdded/{CAT}/recipient/{BOB}"),
            format!("thread/{TH}/participantAdded/{CAT}/recipient/{CAT}"),
        ]
    );
    let mut created = ChatThreadCreatedEvent::new(TH, EventThreadProperties::with_topic("Plans"));
    created.created_by = Some(EventParticipant::new(user(ANN)));
    let events = event_grid_events(
        &created.into(),
        &[user(ANN), user(BOB)],
        &source,
        String::new,
    );
    assert_eq!(events[0].subject, format!("thread/{TH}/createdBy/{ANN}"));
    assert_eq!(
        events[1].subject,
        format!("thread/{TH}/createdBy/{ANN}/recipient/{BOB}")
    );
    assert_eq!(
        events[1].event_type,
        "Microsoft.Communication.ChatThreadCreatedWithUser"
    );
    // No `created_on`: the source's time is the creation time.
    assert_eq!(events[0].data["createTime"], "2024-05-01T10:00:00Z");
    assert_eq!(events[0].data["properties"]["topic"], "Plans");
    // A read receipt has no Event Grid event.
    let receipt = ReadReceiptReceivedEvent::new(TH, "1", t("2024-05-01T10:00:00Z"));
    assert!(event_grid_events(&receipt.into(), &[user(ANN)], &source, String::new).is_empty());
}

// ---------- the round trip ----------

/// What survives a trip through Event Grid: the event as `to_chat_event` gives it back for a
/// delivery to `recipient`.
fn through_event_grid(
    event: &ChatEvent,
    recipient: Option<&CommunicationIdentifier>,
    source: &EventSource,
) -> Vec<ChatEvent> {
    let who =
        |p: &Option<EventParticipant>| p.as_ref().map(|p| EventParticipant::new(p.id.clone()));
    let strip = |p: &EventParticipant| {
        let mut q = EventParticipant::new(p.id.clone());
        q.display_name = p.display_name.clone();
        q.metadata = p.metadata.clone();
        q
    };
    let r = recipient.cloned();
    match event.clone() {
        ChatEvent::ChatMessageReceived(mut e) => {
            e.attachments = None;
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ChatMessageEdited(mut e) => {
            e.attachments = None;
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ChatMessageDeleted(mut e) => {
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::TypingIndicatorReceived(mut e) => {
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ChatThreadCreated(mut e) => {
            e.created_on = Some(e.created_on.unwrap_or(source.event_time));
            e.participants = e.participants.iter().map(strip).collect();
            e.created_by = who(&e.created_by);
            e.retention_policy = None;
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ChatThreadDeleted(mut e) => {
            e.deleted_by = who(&e.deleted_by);
            e.reason = None;
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ChatThreadPropertiesUpdated(mut e) => {
            e.updated_by = who(&e.updated_by);
            e.retention_policy = None;
            e.recipient = r;
            vec![e.into()]
        }
        ChatEvent::ParticipantsAdded(e) => e
            .participants_added
            .iter()
            .map(|p| {
                let mut one = e.clone();
                one.participants_added = vec![strip(p)];
                one.added_by = who(&e.added_by);
                one.recipient = r.clone();
                one.into()
            })
            .collect(),
        ChatEvent::ParticipantsRemoved(e) => e
            .participants_removed
            .iter()
            .map(|p| {
                let mut one = e.clone();
                one.participants_removed = vec![strip(p)];
                one.removed_by = who(&e.removed_by);
                one.recipient = r.clone();
                one.into()
            })
            .collect(),
        _ => vec![],
    }
}

fn actor(event: &ChatEvent) -> Option<CommunicationIdentifier> {
    match event {
        ChatEvent::ChatMessageReceived(e) => e.sender.clone(),
        ChatEvent::ChatMessageEdited(e) => e.sender.clone(),
        ChatEvent::ChatMessageDeleted(e) => e.sender.clone(),
        ChatEvent::TypingIndicatorReceived(e) => e.sender.clone(),
        ChatEvent::ChatThreadCreated(e) => e.created_by.as_ref().map(|p| p.id.clone()),
        ChatEvent::ChatThreadDeleted(e) => e.deleted_by.as_ref().map(|p| p.id.clone()),
        ChatEvent::ChatThreadPropertiesUpdated(e) => e.updated_by.as_ref().map(|p| p.id.clone()),
        ChatEvent::ParticipantsAdded(e) => e.added_by.as_ref().map(|p| p.id.clone()),
        ChatEvent::ParticipantsRemoved(e) => e.removed_by.as_ref().map(|p| p.id.clone()),
        _ => None,
    }
}

proptest! {
    #[test]
    fn emitted_events_map_back_to_the_event(
        event in common::chat_event(),
        participants in proptest::collection::vec(common::identifier(), 0..4),
        now in common::datetime(),
    ) {
        let source = EventSource::new("/subscriptions/s", now).transaction_id("tx");
        let mut n = 0;
        let emitted = event_grid_events(&event, &participants, &source, || { n += 1; n.to_string() });

        // The expected deliveries: thread-level first, then each other participant, per item.
        let Some(actor) = actor(&event) else {
            prop_assert!(emitted.is_empty());
            return Ok(());
        };
        let mut others: Vec<CommunicationIdentifier> = Vec::new();
        for p in &participants {
            if *p != actor && !others.contains(p) {
                others.push(p.clone());
            }
        }
        let user_level = !matches!(event, ChatEvent::TypingIndicatorReceived(_));
        let thread_level = through_event_grid(&event, None, &source);
        let mut expected = Vec::new();
        for (i, one) in thread_level.iter().enumerate() {
            expected.push(one.clone());
            if user_level {
                for r in &others {
                    expected.push(through_event_grid(&event, Some(r), &source)[i].clone());
                }
            }
        }

        // Through JSON, in both envelopes.
        let body = serde_json::to_vec(&emitted).unwrap();
        let back = parse_event_grid_events(&body).unwrap();
        let got: Vec<ChatEvent> = back.iter().map(|e| e.to_chat_event().unwrap().unwrap()).collect();
        prop_assert_eq!(&got, &expected);
        let ce: Vec<CloudEvent> = emitted.iter().map(EventGridEvent::to_cloud_event).collect();
        let ce = parse_cloud_events(&serde_json::to_vec(&ce).unwrap()).unwrap();
        let got: Vec<ChatEvent> = ce.iter().map(|e| e.to_chat_event().unwrap().unwrap()).collect();
        prop_assert_eq!(&got, &expected);

        // Ids come from the caller, subjects name the thread.
        let ids: Vec<String> = emitted.iter().map(|e| e.id.clone()).collect();
        let want: Vec<String> = (1..=emitted.len()).map(|i| i.to_string()).collect();
        prop_assert_eq!(ids, want);
        for e in &emitted {
            let prefix = format!("thread/{}/", event.thread_id().unwrap());
            prop_assert!(e.subject.starts_with(&prefix));
            prop_assert_eq!(e.subject.ends_with(&format!("/recipient/{}", e.data["recipientCommunicationIdentifier"]["rawId"].as_str().unwrap_or("\u{0}"))),
                e.data.get("recipientCommunicationIdentifier").is_some());
        }
    }

    #[test]
    fn any_data_under_a_chat_type_maps_or_errors(
        kind in prop_oneof![
            Just("Microsoft.Communication.ChatMessageReceived"),
            Just("Microsoft.Communication.ChatThreadCreated"),
            Just("Microsoft.Communication.ChatThreadParticipantAdded"),
            Just("Microsoft.Communication.ChatTypingIndicatorReceivedInThread"),
        ],
        data in proptest::collection::btree_map(
            prop_oneof![Just("threadId"), Just("messageId"), Just("type"), Just("senderCommunicationIdentifier"), Just("version"), Just("composeTime")],
            prop_oneof![Just(json!("x")), Just(json!(5)), Just(json!({"rawId": "8:acs:a_b"})), Just(json!("2024-01-01T00:00:00Z")), Just(json!(null))],
            0..6,
        ),
        time in proptest::option::of(common::datetime()),
    ) {
        let data = serde_json::Value::Object(data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        match AcsChatEventData::parse(kind, data) {
            Ok(Some(d)) => {
                prop_assert_eq!(d.event_type(), kind);
                if let Err(e) = d.to_chat_event(time) {
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidEventData);
                    prop_assert!(time.is_none());
                }
            }
            Ok(None) => prop_assert!(false, "a chat type is a chat event"),
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidEventData),
        }
    }
}
