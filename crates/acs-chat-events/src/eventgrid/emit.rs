//! From a [`ChatEvent`] to the Event Grid events the service would publish for it.
//!
//! Which events, and their subjects, follow "Azure Communication Services - Chat events"
//! (<https://learn.microsoft.com/azure/event-grid/communication-services-chat-events>): user-level
//! events go to every participant but the one who acted, once each; thread-level events are
//! published once. The subjects are the documented samples', verbatim (including the lower-case
//! `participantadded` / `participantremoved` of the thread-level participant events).

use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use serde_json::{Map, Value};

use super::EventGridEvent;
use super::data::*;
use crate::event::*;

/// Where and when emitted events come from: the envelope values that are not in the
/// [`ChatEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventSource {
    /// The resource path Event Grid writes in `topic` (CloudEvents: `source`), e.g.
    /// `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Communication/communicationServices/{name}`.
    pub topic: String,
    /// The `eventTime` of every event (and the `createTime` of a created thread whose event has
    /// no `created_on`).
    pub event_time: DateTime,
    /// The `transactionId` written in every event's data, if any.
    pub transaction_id: Option<String>,
}

impl EventSource {
    /// A source without a transaction id.
    pub fn new(topic: impl Into<String>, event_time: DateTime) -> Self {
        Self {
            topic: topic.into(),
            event_time,
            transaction_id: None,
        }
    }

    /// Sets the transaction id.
    pub fn transaction_id(mut self, id: impl Into<String>) -> Self {
        self.transaction_id = Some(id.into());
        self
    }
}

/// The Event Grid events ACS publishes when `event` happens in a thread whose participants
/// are `participants`: the thread-level event(s), then the user-level one for each participant
/// except the actor (the sender, creator, deleter, editor, adder or remover; duplicates by raw
/// id count once). Each event's id comes from `new_id`, so the caller decides how ids are made
/// (this crate draws no random numbers).
///
/// | `ChatEvent` | thread-level | user-level (per recipient) |
/// |---|---|---|
/// | `chatMessageReceived` | `ChatMessageReceivedInThread` | `ChatMessageReceived` |
/// | `chatMessageEdited` | `ChatMessageEditedInThread` | `ChatMessageEdited` |
/// | `chatMessageDeleted` | `ChatMessageDeletedInThread` | `ChatMessageDeleted` |
/// | `typingIndicatorReceived` | `ChatTypingIndicatorReceivedInThread` | — |
/// | `chatThreadCreated` | `ChatThreadCreated` | `ChatThreadCreatedWithUser` |
/// | `chatThreadDeleted` | `ChatThreadDeleted` | `ChatThreadWithUserDeleted` |
/// | `chatThreadPropertiesUpdated` | `ChatThreadPropertiesUpdated` | `ChatThreadPropertiesUpdatedPerUser` |
/// | `participantsAdded` | `ChatThreadParticipantAdded` per participant | `ChatParticipantAddedToThreadWithUser` per participant |
/// | `participantsRemoved` | `ChatThreadParticipantRemoved` per participant | `ChatParticipantRemovedFromThreadWithUser` per participant |
///
/// A read receipt and an unknown event have no Event Grid event; nor has an event without the
/// actor Event Grid requires (a message without a sender, a thread change without who made
/// it): those give an empty list. For `participantsRemoved`, pass the participants before the
/// removal, so that the removed users hear of it.
pub fn event_grid_events(
    event: &ChatEvent,
    participants: &[CommunicationIdentifier],
    source: &EventSource,
    new_id: impl FnMut() -> String,
) -> Vec<EventGridEvent> {
    let mut out = Out {
        source,
        new_id,
        events: Vec::new(),
    };
    match event {
        ChatEvent::ChatMessageReceived(e) => message_received(e, participants, &mut out),
        ChatEvent::ChatMessageEdited(e) => message_edited(e, participants, &mut out),
        ChatEvent::ChatMessageDeleted(e) => message_deleted(e, participants, &mut out),
        ChatEvent::TypingIndicatorReceived(e) => typing(e, &mut out),
        ChatEvent::ChatThreadCreated(e) => thread_created(e, participants, &mut out),
        ChatEvent::ChatThreadDeleted(e) => thread_deleted(e, participants, &mut out),
        ChatEvent::ChatThreadPropertiesUpdated(e) => thread_updated(e, participants, &mut out),
        ChatEvent::ParticipantsAdded(e) => participants_added(e, participants, &mut out),
        ChatEvent::ParticipantsRemoved(e) => participants_removed(e, participants, &mut out),
        ChatEvent::ReadReceiptReceived(_) | ChatEvent::Unknown(_) => {}
    }
    out.events
}

fn message_received<F: FnMut() -> String>(
    e: &ChatMessageReceivedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(sender) = &e.sender else {
        return;
    };
    let kind = message_type_to_wire(&e.message_type);
    let thread = AcsChatMessageReceivedInThreadEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        message_id: e.id.clone(),
        sender_communication_identifier: sender.clone(),
        sender_display_name: e.sender_display_name.clone(),
        compose_time: Some(e.created_on),
        kind: kind.clone(),
        version: int(&e.version),
        message_body: e.message.clone(),
        metadata: e.metadata.clone(),
    };
    out.push(message_subject(&e.thread_id, sender, None), thread.into());
    for r in recipients(participants, sender) {
        let user = AcsChatMessageReceivedEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            message_id: e.id.clone(),
            sender_communication_identifier: sender.clone(),
            sender_display_name: e.sender_display_name.clone(),
            compose_time: Some(e.created_on),
            kind: kind.clone(),
            version: int(&e.version),
            message_body: Some(e.message.clone()),
            metadata: e.metadata.clone(),
        };
        out.push(message_subject(&e.thread_id, sender, Some(r)), user.into());
    }
}

fn message_edited<F: FnMut() -> String>(
    e: &ChatMessageEditedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(sender) = &e.sender else {
        return;
    };
    let kind = message_type_to_wire(&e.message_type);
    let thread = AcsChatMessageEditedInThreadEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        message_id: e.id.clone(),
        sender_communication_identifier: sender.clone(),
        sender_display_name: e.sender_display_name.clone(),
        compose_time: Some(e.created_on),
        kind: kind.clone(),
        version: int(&e.version),
        message_body: e.message.clone(),
        metadata: e.metadata.clone(),
        edit_time: Some(e.edited_on),
    };
    out.push(message_subject(&e.thread_id, sender, None), thread.into());
    for r in recipients(participants, sender) {
        let user = AcsChatMessageEditedEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            message_id: e.id.clone(),
            sender_communication_identifier: sender.clone(),
            sender_display_name: e.sender_display_name.clone(),
            compose_time: Some(e.created_on),
            kind: kind.clone(),
            version: int(&e.version),
            message_body: e.message.clone(),
            metadata: e.metadata.clone(),
            edit_time: Some(e.edited_on),
        };
        out.push(message_subject(&e.thread_id, sender, Some(r)), user.into());
    }
}

fn message_deleted<F: FnMut() -> String>(
    e: &ChatMessageDeletedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(sender) = &e.sender else {
        return;
    };
    let kind = message_type_to_wire(&e.message_type);
    let thread = AcsChatMessageDeletedInThreadEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        message_id: e.id.clone(),
        sender_communication_identifier: sender.clone(),
        sender_display_name: e.sender_display_name.clone(),
        compose_time: Some(e.created_on),
        kind: kind.clone(),
        version: int(&e.version),
        delete_time: Some(e.deleted_on),
    };
    out.push(message_subject(&e.thread_id, sender, None), thread.into());
    for r in recipients(participants, sender) {
        let user = AcsChatMessageDeletedEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            message_id: e.id.clone(),
            sender_communication_identifier: sender.clone(),
            sender_display_name: e.sender_display_name.clone(),
            compose_time: Some(e.created_on),
            kind: kind.clone(),
            version: int(&e.version),
            delete_time: Some(e.deleted_on),
        };
        out.push(message_subject(&e.thread_id, sender, Some(r)), user.into());
    }
}

/// Thread-level only: the docs list no user-level typing event.
fn typing<F: FnMut() -> String>(e: &TypingIndicatorReceivedEvent, out: &mut Out<'_, F>) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(sender) = &e.sender else {
        return;
    };
    let thread = AcsChatTypingIndicatorReceivedInThreadEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        message_id: None,
        sender_communication_identifier: sender.clone(),
        sender_display_name: e.sender_display_name.clone(),
        compose_time: Some(e.received_on),
        kind: None,
        version: int(&e.version),
        message_body: None,
        metadata: None,
    };
    out.push(message_subject(&e.thread_id, sender, None), thread.into());
}

fn thread_created<F: FnMut() -> String>(
    e: &ChatThreadCreatedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(by) = &e.created_by else {
        return;
    };
    let by = &by.id;
    let props = properties_map(&e.properties);
    let members: Vec<AcsChatThreadParticipant> = e.participants.iter().map(Into::into).collect();
    let create_time = Some(e.created_on.unwrap_or(source.event_time));
    let thread = AcsChatThreadCreatedEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        create_time,
        version: int(&e.version),
        created_by_communication_identifier: by.clone(),
        properties: props.clone(),
        metadata: e.properties.metadata.clone(),
        participants: members.clone(),
    };
    out.push(
        actor_subject(&e.thread_id, "createdBy", by, None),
        thread.into(),
    );
    for r in recipients(participants, by) {
        let user = AcsChatThreadCreatedWithUserEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            create_time,
            version: int(&e.version),
            created_by_communication_identifier: by.clone(),
            properties: props.clone(),
            metadata: e.properties.metadata.clone(),
            participants: members.clone(),
        };
        out.push(
            actor_subject(&e.thread_id, "createdBy", by, Some(r)),
            user.into(),
        );
    }
}

fn thread_deleted<F: FnMut() -> String>(
    e: &ChatThreadDeletedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(by) = &e.deleted_by else {
        return;
    };
    let by = &by.id;
    let thread = AcsChatThreadDeletedEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        create_time: None,
        version: int(&e.version),
        deleted_by_communication_identifier: by.clone(),
        delete_time: Some(e.deleted_on),
    };
    out.push(
        actor_subject(&e.thread_id, "deletedBy", by, None),
        thread.into(),
    );
    for r in recipients(participants, by) {
        let user = AcsChatThreadWithUserDeletedEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            create_time: None,
            version: int(&e.version),
            deleted_by_communication_identifier: by.clone(),
            delete_time: Some(e.deleted_on),
        };
        out.push(
            actor_subject(&e.thread_id, "deletedBy", by, Some(r)),
            user.into(),
        );
    }
}

fn thread_updated<F: FnMut() -> String>(
    e: &ChatThreadPropertiesUpdatedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(by) = &e.updated_by else {
        return;
    };
    let by = &by.id;
    let props = properties_map(&e.properties);
    let thread = AcsChatThreadPropertiesUpdatedEventData {
        thread_id: e.thread_id.clone(),
        transaction_id: tx(),
        create_time: None,
        version: int(&e.version),
        edited_by_communication_identifier: by.clone(),
        edit_time: Some(e.updated_on),
        properties: props.clone(),
        metadata: e.properties.metadata.clone(),
    };
    out.push(
        actor_subject(&e.thread_id, "editedBy", by, None),
        thread.into(),
    );
    for r in recipients(participants, by) {
        let user = AcsChatThreadPropertiesUpdatedPerUserEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            recipient_communication_identifier: Some(r.clone()),
            create_time: None,
            version: int(&e.version),
            edited_by_communication_identifier: by.clone(),
            edit_time: Some(e.updated_on),
            metadata: e.properties.metadata.clone(),
            properties: props.clone(),
        };
        out.push(
            actor_subject(&e.thread_id, "editedBy", by, Some(r)),
            user.into(),
        );
    }
}

fn participants_added<F: FnMut() -> String>(
    e: &ParticipantsAddedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(by) = &e.added_by else {
        return;
    };
    let by = &by.id;
    for p in &e.participants_added {
        let thread = AcsChatParticipantAddedToThreadEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            create_time: None,
            time: Some(e.added_on),
            added_by_communication_identifier: by.clone(),
            participant_added: p.into(),
            version: int(&e.version),
        };
        out.push(
            actor_subject(&e.thread_id, "participantadded", &p.id, None),
            thread.into(),
        );
        for r in recipients(participants, by) {
            let user = AcsChatParticipantAddedToThreadWithUserEventData {
                thread_id: e.thread_id.clone(),
                transaction_id: tx(),
                recipient_communication_identifier: Some(r.clone()),
                create_time: None,
                version: int(&e.version),
                time: Some(e.added_on),
                added_by_communication_identifier: by.clone(),
                participant_added: p.into(),
            };
            out.push(
                actor_subject(&e.thread_id, "participantAdded", &p.id, Some(r)),
                user.into(),
            );
        }
    }
}

fn participants_removed<F: FnMut() -> String>(
    e: &ParticipantsRemovedEvent,
    participants: &[CommunicationIdentifier],
    out: &mut Out<'_, F>,
) {
    let source = out.source;
    let tx = || source.transaction_id.clone();
    let Some(by) = &e.removed_by else {
        return;
    };
    let by = &by.id;
    for p in &e.participants_removed {
        let thread = AcsChatParticipantRemovedFromThreadEventData {
            thread_id: e.thread_id.clone(),
            transaction_id: tx(),
            create_time: None,
            time: Some(e.removed_on),
            removed_by_communication_identifier: by.clone(),
            participant_removed: p.into(),
            version: int(&e.version),
        };
        out.push(
            actor_subject(&e.thread_id, "participantremoved", &p.id, None),
            thread.into(),
        );
        for r in recipients(participants, by) {
            let user = AcsChatParticipantRemovedFromThreadWithUserEventData {
                thread_id: e.thread_id.clone(),
                transaction_id: tx(),
                recipient_communication_identifier: Some(r.clone()),
                create_time: None,
                version: int(&e.version),
                time: Some(e.removed_on),
                removed_by_communication_identifier: by.clone(),
                participant_removed: p.into(),
            };
            out.push(
                actor_subject(&e.thread_id, "participantRemoved", &p.id, Some(r)),
                user.into(),
            );
        }
    }
}

struct Out<'a, F> {
    source: &'a EventSource,
    new_id: F,
    events: Vec<EventGridEvent>,
}

impl<F: FnMut() -> String> Out<'_, F> {
    fn push(&mut self, subject: String, data: AcsChatEventData) {
        let mut event = EventGridEvent::new(
            (self.new_id)(),
            subject,
            data.event_type(),
            self.source.event_time,
            data.to_value(),
        );
        event.topic = Some(self.source.topic.clone());
        self.events.push(event);
    }
}

/// Everyone in `participants` but `actor`, each raw id once, in order.
fn recipients<'a>(
    participants: &'a [CommunicationIdentifier],
    actor: &CommunicationIdentifier,
) -> Vec<&'a CommunicationIdentifier> {
    let mut out: Vec<&CommunicationIdentifier> = Vec::new();
    for p in participants {
        if p != actor && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// `thread/{threadId}/sender/{rawId}`, and `/recipient/{rawId}` for a user-level event.
fn message_subject(
    thread_id: &str,
    sender: &CommunicationIdentifier,
    recipient: Option<&CommunicationIdentifier>,
) -> String {
    actor_subject(thread_id, "sender", sender, recipient)
}

/// `thread/{threadId}/{role}/{rawId}`, and `/recipient/{rawId}` for a user-level event.
fn actor_subject(
    thread_id: &str,
    role: &str,
    actor: &CommunicationIdentifier,
    recipient: Option<&CommunicationIdentifier>,
) -> String {
    let mut s = format!("thread/{thread_id}/{role}/{}", actor.raw_id());
    if let Some(r) = recipient {
        s.push_str("/recipient/");
        s.push_str(&r.raw_id());
    }
    s
}

fn int(version: &Option<String>) -> Option<i64> {
    version.as_deref().and_then(|v| v.trim().parse().ok())
}

fn properties_map(p: &EventThreadProperties) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(topic) = &p.topic {
        map.insert("topic".into(), Value::String(topic.clone()));
    }
    map
}
