//! From the store's journal ([`Change`]s) to the [`ChatEvent`]s the service would publish.

use std::collections::HashSet;

use acs_chat_events::{
    ChatEvent, ChatMessageDeletedEvent, ChatMessageEditedEvent, ChatMessageReceivedEvent,
    ChatThreadCreatedEvent, ChatThreadDeletedEvent, ChatThreadPropertiesUpdatedEvent,
    EventParticipant, EventThreadProperties, ParticipantsAddedEvent, ParticipantsRemovedEvent,
    ReadReceiptReceivedEvent, TypingIndicatorReceivedEvent,
};
use acs_chat_protocol::models::ChatThreadProperties;
use acs_chat_protocol::{CommunicationIdentifier, DateTime};

use crate::store::{Change, Store, Thread};

/// One thing that happened, and who the service tells about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Emitted {
    /// The event, thread-level (no recipient).
    pub(crate) event: ChatEvent,
    /// The thread's participants as they were when it happened (before a removal or the
    /// deletion of the thread), for the user-level Event Grid events.
    pub(crate) audience: Vec<CommunicationIdentifier>,
}

/// The events of `changes` (one request's, in order), reading the state after them from
/// `store`; `now` is when they happened.
///
/// A new thread gives `chatThreadCreated` alone (not also `participantsAdded` for its first
/// participants); system messages give no `chatMessageReceived` (their change is told by its
/// own event); identity changes give nothing.
pub(crate) fn chat_events(changes: &[Change], store: &Store, now: DateTime) -> Vec<Emitted> {
    let mut created: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for change in changes {
        let emitted = match change {
            Change::ThreadCreated { thread_id } => {
                created.insert(thread_id);
                store.threads.get(thread_id).map(thread_created)
            }
            Change::ParticipantsAdded {
                thread_id,
                user_ids,
                by,
            } if !created.contains(thread_id.as_str()) => store
                .threads
                .get(thread_id)
                .map(|t| participants_added(t, user_ids, by, now)),
            Change::ParticipantRemoved {
                thread_id,
                participant,
                by,
                ..
            } => store.threads.get(thread_id).map(|t| {
                let mut event = ParticipantsRemovedEvent::new(
                    thread_id.clone(),
                    now,
                    vec![participant.clone().into()],
                );
                event.version = Some(version(now));
                event.removed_by = Some(member(t, by));
                let mut audience = audience(t);
                audience.push(participant.communication_identifier.clone());
                Emitted {
                    event: ChatEvent::ParticipantsRemoved(event),
                    audience,
                }
            }),
            Change::MessageAdded {
                thread_id,
                message_id,
            } => store.threads.get(thread_id).and_then(|t| {
                let m = t.message_by_id(message_id)?;
                m.sender.as_ref()?;
                let event = ChatMessageReceivedEvent::from_message(thread_id.clone(), m.message());
                Some(emitted(t, ChatEvent::ChatMessageReceived(event)))
            }),
            Change::MessageUpdated {
                thread_id,
                message_id,
                deleted,
            } => store.threads.get(thread_id).and_then(|t| {
                let m = t.message_by_id(message_id)?;
                let event = if *deleted {
                    ChatEvent::ChatMessageDeleted(ChatMessageDeletedEvent::from_message(
                        thread_id.clone(),
                        m.message(),
                    )?)
                } else {
                    ChatEvent::ChatMessageEdited(ChatMessageEditedEvent::from_message(
                        thread_id.clone(),
                        m.message(),
                    )?)
                };
                Some(emitted(t, event))
            }),
            Change::ThreadUpdated { thread_id, by } => store.threads.get(thread_id).map(|t| {
                let mut event = ChatThreadPropertiesUpdatedEvent::new(
                    thread_id.clone(),
                    properties(&t.props),
                    now,
                );
                event.version = Some(version(now));
                event.updated_by = Some(member(t, by));
                event.retention_policy.clone_from(&t.props.retention_policy);
                emitted(t, ChatEvent::ChatThreadPropertiesUpdated(event))
            }),
            Change::ThreadDeleted {
                thread_id,
                by,
                participants,
            } => {
                let mut event = ChatThreadDeletedEvent::new(thread_id.clone(), now);
                event.version = Some(version(now));
                event.deleted_by = by
                    .as_deref()
                    .map(|by| EventParticipant::new(CommunicationIdentifier::from_raw_id(by)));
                if by.is_none() {
                    event.reason = Some("retentionPolicy".to_owned());
                }
                Some(Emitted {
                    event: ChatEvent::ChatThreadDeleted(event),
                    audience: participants
                        .iter()
                        .map(|p| CommunicationIdentifier::from_raw_id(p))
                        .collect(),
                })
            }
            Change::ReadReceiptSent { thread_id, user_id } => {
                store.threads.get(thread_id).and_then(|t| {
                    let (_, receipt) = t.receipts.iter().find(|(who, _)| who == user_id)?;
                    let mut event = ReadReceiptReceivedEvent::new(
                        thread_id.clone(),
                        receipt.chat_message_id.clone(),
                        receipt.read_on,
                    );
                    let reader = member(t, user_id);
                    event.sender = Some(reader.id);
                    event.sender_display_name = reader.display_name;
                    Some(emitted(t, ChatEvent::ReadReceiptReceived(event)))
                })
            }
            Change::TypingSent {
                thread_id,
                user_id,
                sender_display_name,
            } => store.threads.get(thread_id).map(|t| {
                let mut event = TypingIndicatorReceivedEvent::new(thread_id.clone(), now);
                event.version = Some(version(now));
                event.sender = Some(member(t, user_id).id);
                event.sender_display_name.clone_from(sender_display_name);
                emitted(t, ChatEvent::TypingIndicatorReceived(event))
            }),
            _ => None,
        };
        out.extend(emitted);
    }
    out
}

fn thread_created(t: &Thread) -> Emitted {
    let mut event = ChatThreadCreatedEvent::new(t.props.id.clone(), properties(&t.props));
    event.version = Some(version(t.props.created_on));
    event.created_on = Some(t.props.created_on);
    event.participants = t
        .participants
        .iter()
        .map(|(_, p)| p.clone().into())
        .collect();
    let creator = t.props.created_by_communication_identifier.raw_id();
    event.created_by = Some(member(t, &creator));
    event.retention_policy.clone_from(&t.props.retention_policy);
    emitted(t, ChatEvent::ChatThreadCreated(event))
}

fn participants_added(t: &Thread, user_ids: &[String], by: &str, now: DateTime) -> Emitted {
    let added = t
        .participants
        .iter()
        .filter(|(id, _)| user_ids.contains(id))
        .map(|(_, p)| p.clone().into())
        .collect();
    let mut event = ParticipantsAddedEvent::new(t.props.id.clone(), now, added);
    event.version = Some(version(now));
    event.added_by = Some(member(t, by));
    emitted(t, ChatEvent::ParticipantsAdded(event))
}

fn emitted(t: &Thread, event: ChatEvent) -> Emitted {
    Emitted {
        event,
        audience: audience(t),
    }
}

fn audience(t: &Thread) -> Vec<CommunicationIdentifier> {
    t.participants
        .iter()
        .map(|(_, p)| p.communication_identifier.clone())
        .collect()
}

/// The participant `raw_id` of the thread (with their display name), or just the identifier.
fn member(t: &Thread, raw_id: &str) -> EventParticipant {
    t.participant(raw_id).map_or_else(
        || EventParticipant::new(CommunicationIdentifier::from_raw_id(raw_id)),
        |p| p.clone().into(),
    )
}

fn properties(props: &ChatThreadProperties) -> EventThreadProperties {
    let mut p = EventThreadProperties::with_topic(props.topic.clone());
    p.metadata.clone_from(&props.metadata);
    p
}

/// A version as the service writes them: milliseconds since the epoch.
fn version(at: DateTime) -> String {
    (at.unix_timestamp_nanos() / 1_000_000).to_string()
}
