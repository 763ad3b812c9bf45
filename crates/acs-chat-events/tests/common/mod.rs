//! Strategies shared by the property tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use acs_chat_events::*;
use acs_chat_protocol::models::{ChatAttachment, ChatAttachmentType, ChatMessageType};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use proptest::prelude::*;

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{1,12}", ".{0,16}"]
}

/// Whole milliseconds between 2000 and 2100: the precision Event Grid's `version` keeps.
pub fn datetime() -> impl Strategy<Value = DateTime> {
    (946_684_800_000i64..4_102_444_800_000)
        .prop_map(|ms| DateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap())
}

/// Any instant with nanoseconds.
pub fn precise_datetime() -> impl Strategy<Value = DateTime> {
    (0i64..13_569_465_600, 0u32..1_000_000_000).prop_map(|(s, n)| {
        DateTime::from_unix_timestamp_nanos(i128::from(s) * 1_000_000_000 + i128::from(n)).unwrap()
    })
}

pub fn identifier() -> impl Strategy<Value = CommunicationIdentifier> {
    prop_oneof![
        "[a-f0-9]{4}_[a-f0-9]{6}"
            .prop_map(|s| CommunicationIdentifier::communication_user(format!("8:acs:{s}"))),
        "\\+1[0-9]{10}".prop_map(CommunicationIdentifier::phone_number),
        "[a-f0-9]{8}".prop_map(CommunicationIdentifier::microsoft_teams_user),
    ]
}

pub fn metadata() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    proptest::option::of(proptest::collection::btree_map("[a-z]{1,6}", text(), 0..3))
}

pub fn version() -> impl Strategy<Value = Option<String>> {
    proptest::option::of((1u64..u64::from(u32::MAX) * 1000).prop_map(|v| v.to_string()))
}

pub fn message_type() -> impl Strategy<Value = ChatMessageType> {
    prop_oneof![
        Just(ChatMessageType::Text),
        Just(ChatMessageType::Html),
        "[a-z]{3,9}".prop_map(|s| ChatMessageType::from(s.as_str())),
    ]
}

pub fn participant() -> impl Strategy<Value = EventParticipant> {
    (identifier(), proptest::option::of(text()), metadata()).prop_map(|(id, name, metadata)| {
        let mut p = EventParticipant::new(id);
        p.display_name = name;
        p.metadata = metadata;
        p
    })
}

pub fn properties() -> impl Strategy<Value = EventThreadProperties> {
    (proptest::option::of(text()), metadata()).prop_map(|(topic, metadata)| {
        let mut p = EventThreadProperties::default();
        p.topic = topic;
        p.metadata = metadata;
        p
    })
}

pub fn attachments() -> impl Strategy<Value = Option<Vec<ChatAttachment>>> {
    proptest::option::of(proptest::collection::vec(
        ("[a-z0-9]{1,8}", proptest::option::of(text())).prop_map(|(id, name)| {
            let mut a = ChatAttachment::new(id, ChatAttachmentType::File);
            a.name = name;
            a
        }),
        0..2,
    ))
}

pub fn thread_id() -> impl Strategy<Value = String> {
    "19:[a-z0-9]{6}@thread\\.v2"
}

/// Every kind of event, with or without a recipient.
/// Boxed at each level: the nested tuple strategies otherwise need deep stacks in debug
/// builds.
pub fn chat_event() -> BoxedStrategy<ChatEvent> {
    let received = (
        thread_id(),
        "[0-9]{13}",
        version(),
        message_type(),
        text(),
        metadata(),
        attachments(),
        proptest::option::of(identifier()),
        proptest::option::of(text()),
        datetime(),
    )
        .prop_map(|(th, id, v, ty, msg, md, att, sender, name, at)| {
            let mut e = ChatMessageReceivedEvent::new(th, id, ty, msg, at);
            e.version = v;
            e.metadata = md;
            e.attachments = att;
            e.sender = sender;
            e.sender_display_name = name;
            ChatEvent::from(e)
        })
        .boxed();
    let edited = (
        thread_id(),
        "[0-9]{13}",
        version(),
        message_type(),
        text(),
        metadata(),
        proptest::option::of(identifier()),
        proptest::option::of(text()),
        datetime(),
        datetime(),
    )
        .prop_map(|(th, id, v, ty, msg, md, sender, name, at, ed)| {
            let mut e = ChatMessageEditedEvent::new(th, id, ty, msg, at, ed);
            e.version = v;
            e.metadata = md;
            e.sender = sender;
            e.sender_display_name = name;
            ChatEvent::from(e)
        })
        .boxed();
    let deleted = (
        thread_id(),
        "[0-9]{13}",
        version(),
        message_type(),
        proptest::option::of(identifier()),
        proptest::option::of(text()),
        datetime(),
        datetime(),
    )
        .prop_map(|(th, id, v, ty, sender, name, at, del)| {
            let mut e = ChatMessageDeletedEvent::new(th, id, ty, at, del);
            e.version = v;
            e.sender = sender;
            e.sender_display_name = name;
            ChatEvent::from(e)
        })
        .boxed();
    let typing = (
        thread_id(),
        version(),
        datetime(),
        proptest::option::of(identifier()),
        proptest::option::of(text()),
    )
        .prop_map(|(th, v, at, sender, name)| {
            let mut e = TypingIndicatorReceivedEvent::new(th, at);
            e.version = v;
            e.sender = sender;
            e.sender_display_name = name;
            ChatEvent::from(e)
        })
        .boxed();
    let receipt = (
        thread_id(),
        "[0-9]{13}",
        datetime(),
        proptest::option::of(identifier()),
    )
        .prop_map(|(th, id, at, sender)| {
            let mut e = ReadReceiptReceivedEvent::new(th, id, at);
            e.sender = sender;
            ChatEvent::from(e)
        })
        .boxed();
    let created = (
        thread_id(),
        version(),
        proptest::option::of(datetime()),
        properties(),
        proptest::collection::vec(participant(), 0..3),
        proptest::option::of(participant()),
    )
        .prop_map(|(th, v, at, props, parts, by)| {
            let mut e = ChatThreadCreatedEvent::new(th, props);
            e.version = v;
            e.created_on = at;
            e.participants = parts;
            e.created_by = by;
            ChatEvent::from(e)
        })
        .boxed();
    let thread_deleted = (
        thread_id(),
        version(),
        datetime(),
        proptest::option::of(participant()),
    )
        .prop_map(|(th, v, at, by)| {
            let mut e = ChatThreadDeletedEvent::new(th, at);
            e.version = v;
            e.deleted_by = by;
            ChatEvent::from(e)
        })
        .boxed();
    let updated = (
        thread_id(),
        version(),
        properties(),
        datetime(),
        proptest::option::of(participant()),
    )
        .prop_map(|(th, v, props, at, by)| {
            let mut e = ChatThreadPropertiesUpdatedEvent::new(th, props, at);
            e.version = v;
            e.updated_by = by;
            ChatEvent::from(e)
        })
        .boxed();
    let added = (
        thread_id(),
        version(),
        datetime(),
        proptest::collection::vec(participant(), 1..3),
        proptest::option::of(participant()),
    )
        .prop_map(|(th, v, at, parts, by)| {
            let mut e = ParticipantsAddedEvent::new(th, at, parts);
            e.version = v;
            e.added_by = by;
            ChatEvent::from(e)
        })
        .boxed();
    let removed = (
        thread_id(),
        version(),
        datetime(),
        proptest::collection::vec(participant(), 1..3),
        proptest::option::of(participant()),
    )
        .prop_map(|(th, v, at, parts, by)| {
            let mut e = ParticipantsRemovedEvent::new(th, at, parts);
            e.version = v;
            e.removed_by = by;
            ChatEvent::from(e)
        })
        .boxed();
    let any = prop_oneof![
        received,
        edited,
        deleted,
        typing,
        receipt,
        created,
        thread_deleted,
        updated,
        added,
        removed
    ];
    (any, proptest::option::of(identifier()))
        .prop_map(|(e, r)| e.with_recipient(r))
        .boxed()
}
