//! [`ChatEvent`]: what happened in a chat, whatever told us.
//!
//! The variants and their fields follow the real-time notification events of the official
//! JavaScript SDK (`@azure/communication-chat`, which re-exports them from
//! `@azure/communication-signaling`), as its reference documents them:
//! <https://learn.microsoft.com/javascript/api/@azure/communication-chat/chatmessagereceivedevent>
//! and the sibling pages `chatmessageeditedevent`, `chatmessagedeletedevent`,
//! `typingindicatorreceivedevent`, `readreceiptreceivedevent`, `chatthreadcreatedevent`,
//! `chatthreaddeletedevent`, `chatthreadpropertiesupdatedevent`, `participantsaddedevent` and
//! `participantsremovedevent`; the event names are the SDK's `ChatEventId`s
//! (`sdk/communication/communication-chat/src/models/events.ts` in Azure/azure-sdk-for-js).
//!
//! Where this crate differs from the JS interfaces, on purpose:
//! - one JSON object per event, tagged by `"type"` (the JS event name); the JS message events
//!   also have a `type` (the message type), which is therefore written `"messageType"` here;
//! - identifiers are [`CommunicationIdentifier`]s, written in the REST API's identifier shape
//!   (`kind`, `rawId`, `communicationUser`, …), and timestamps are [`DateTime`]s;
//! - a field that one of the sources (polling, Event Grid) cannot always fill is an `Option`
//!   (the sender of a system message, the version of a thread, who created a thread seen by
//!   polling, …) rather than an invented value;
//! - every event has an optional `recipient` (the JS thread events have none): Event Grid's
//!   user-level events are addressed to one user, and the mapping keeps who.

use std::collections::BTreeMap;

use acs_chat_protocol::models::{
    ChatAttachment, ChatMessage, ChatMessageType, ChatParticipant, ChatRetentionPolicy,
};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Something that happened in a chat thread: a message received, edited or deleted, a typing
/// indicator, a read receipt, a thread created, updated or deleted, participants added or
/// removed; or an event of a kind this version does not know, kept as it came.
///
/// Serialized, an event is one JSON object: `"type"` is the JS SDK's event name
/// (`chatMessageReceived`, …) and the other members are the event's fields in camelCase.
/// Deserializing is the inverse; an unknown `"type"` gives [`ChatEvent::Unknown`].
///
/// ```
/// use acs_chat_events::ChatEvent;
///
/// let event: ChatEvent = serde_json::from_str(r#"{
///     "type": "chatMessageReceived",
///     "threadId": "19:abc@thread.v2",
///     "id": "1700000000000",
///     "version": "1700000000000",
///     "messageType": "text",
///     "message": "hello",
///     "sender": {"rawId": "8:acs:r_u", "communicationUser": {"id": "8:acs:r_u"}},
///     "senderDisplayName": "Ann",
///     "createdOn": "2024-01-01T10:00:00Z"
/// }"#)?;
/// let ChatEvent::ChatMessageReceived(received) = &event else { unreachable!() };
/// assert_eq!(received.message, "hello");
/// assert_eq!(event.kind(), "chatMessageReceived");
/// assert_eq!(event.thread_id(), Some("19:abc@thread.v2"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// `chatMessageReceived`: a message arrived.
    ChatMessageReceived(ChatMessageReceivedEvent),
    /// `chatMessageEdited`: a message was edited.
    ChatMessageEdited(ChatMessageEditedEvent),
    /// `chatMessageDeleted`: a message was deleted.
    ChatMessageDeleted(ChatMessageDeletedEvent),
    /// `typingIndicatorReceived`: someone is typing.
    TypingIndicatorReceived(TypingIndicatorReceivedEvent),
    /// `readReceiptReceived`: someone read up to a message.
    ReadReceiptReceived(ReadReceiptReceivedEvent),
    /// `chatThreadCreated`: a thread was created (or, seen by polling, appeared).
    ChatThreadCreated(ChatThreadCreatedEvent),
    /// `chatThreadDeleted`: a thread was deleted.
    ChatThreadDeleted(ChatThreadDeletedEvent),
    /// `chatThreadPropertiesUpdated`: the topic or metadata of a thread changed.
    ChatThreadPropertiesUpdated(ChatThreadPropertiesUpdatedEvent),
    /// `participantsAdded`: participants joined a thread.
    ParticipantsAdded(ParticipantsAddedEvent),
    /// `participantsRemoved`: participants left or were removed.
    ParticipantsRemoved(ParticipantsRemovedEvent),
    /// An event of a kind this version does not know, kept whole.
    Unknown(UnknownEvent),
}

/// A participant as the events carry it (the signaling SDK's `ChatParticipant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventParticipant {
    /// Who.
    pub id: CommunicationIdentifier,
    /// The display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// From when the thread's history is shared with the participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_history_time: Option<DateTime>,
    /// The participant's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl EventParticipant {
    /// A participant known only by its identifier.
    pub fn new(id: CommunicationIdentifier) -> Self {
        Self {
            id,
            display_name: None,
            share_history_time: None,
            metadata: None,
        }
    }
}

impl From<CommunicationIdentifier> for EventParticipant {
    fn from(id: CommunicationIdentifier) -> Self {
        Self::new(id)
    }
}

impl From<ChatParticipant> for EventParticipant {
    fn from(p: ChatParticipant) -> Self {
        Self {
            id: p.communication_identifier,
            display_name: p.display_name,
            share_history_time: p.share_history_time,
            metadata: p.metadata,
        }
    }
}

/// The properties of a thread as the events carry them (the signaling SDK's
/// `ChatThreadProperties`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventThreadProperties {
    /// The topic, when the source said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The thread's metadata, when the source said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl EventThreadProperties {
    /// Properties with a topic.
    pub fn with_topic(topic: impl Into<String>) -> Self {
        Self {
            topic: Some(topic.into()),
            metadata: None,
        }
    }
}

/// `chatMessageReceived`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatMessageReceivedEvent {
    /// The thread.
    pub thread_id: String,
    /// The message id (server generated).
    pub id: String,
    /// The message's version (an epoch time in milliseconds, as a string), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The message type (`text`, `html`, …; the JS SDK's `type`).
    pub message_type: ChatMessageType,
    /// The content (empty when the source had none).
    pub message: String,
    /// The message's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Attachments (Teams interop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<ChatAttachment>>,
    /// Who sent it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CommunicationIdentifier>,
    /// The sender's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_display_name: Option<String>,
    /// When the message arrived at the service (service time).
    pub created_on: DateTime,
    /// The user this event was delivered for (Event Grid's user-level events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatMessageReceivedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        id: impl Into<String>,
        message_type: ChatMessageType,
        message: impl Into<String>,
        created_on: DateTime,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            id: id.into(),
            version: None,
            message_type,
            message: message.into(),
            metadata: None,
            attachments: None,
            sender: None,
            sender_display_name: None,
            created_on,
            recipient: None,
        }
    }

    /// The event for a message as the REST API lists it (its current content and version).
    pub fn from_message(thread_id: impl Into<String>, message: &ChatMessage) -> Self {
        let content = message.content.as_ref();
        Self {
            thread_id: thread_id.into(),
            id: message.id.clone(),
            version: Some(message.version.clone()),
            message_type: message.kind.clone(),
            message: content.and_then(|c| c.message.clone()).unwrap_or_default(),
            metadata: message.metadata.clone(),
            attachments: content.and_then(|c| c.attachments.clone()),
            sender: message.sender_communication_identifier.clone(),
            sender_display_name: message.sender_display_name.clone(),
            created_on: message.created_on,
            recipient: None,
        }
    }
}

/// `chatMessageEdited`: the received event's fields and when it was edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatMessageEditedEvent {
    /// The thread.
    pub thread_id: String,
    /// The message id.
    pub id: String,
    /// The message's version after the edit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The message type.
    pub message_type: ChatMessageType,
    /// The content after the edit.
    pub message: String,
    /// The metadata after the edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Attachments (Teams interop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<ChatAttachment>>,
    /// Who sent the message, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CommunicationIdentifier>,
    /// The sender's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_display_name: Option<String>,
    /// When the message was first received (service time).
    pub created_on: DateTime,
    /// When it was edited (service time).
    pub edited_on: DateTime,
    /// The user this event was delivered for (Event Grid's user-level events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatMessageEditedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        id: impl Into<String>,
        message_type: ChatMessageType,
        message: impl Into<String>,
        created_on: DateTime,
        edited_on: DateTime,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            id: id.into(),
            version: None,
            message_type,
            message: message.into(),
            metadata: None,
            attachments: None,
            sender: None,
            sender_display_name: None,
            created_on,
            edited_on,
            recipient: None,
        }
    }

    /// The event for a listed message that has an `editedOn`, or `None` when it has none.
    pub fn from_message(thread_id: impl Into<String>, message: &ChatMessage) -> Option<Self> {
        let edited_on = message.edited_on?;
        let r = ChatMessageReceivedEvent::from_message(thread_id, message);
        Some(Self {
            thread_id: r.thread_id,
            id: r.id,
            version: r.version,
            message_type: r.message_type,
            message: r.message,
            metadata: r.metadata,
            attachments: r.attachments,
            sender: r.sender,
            sender_display_name: r.sender_display_name,
            created_on: r.created_on,
            edited_on,
            recipient: None,
        })
    }
}

/// `chatMessageDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatMessageDeletedEvent {
    /// The thread.
    pub thread_id: String,
    /// The message id.
    pub id: String,
    /// The message's version after the deletion, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The message type.
    pub message_type: ChatMessageType,
    /// Who sent the message, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CommunicationIdentifier>,
    /// The sender's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_display_name: Option<String>,
    /// When the message was first received (service time).
    pub created_on: DateTime,
    /// When it was deleted (service time).
    pub deleted_on: DateTime,
    /// The user this event was delivered for (Event Grid's user-level events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatMessageDeletedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        id: impl Into<String>,
        message_type: ChatMessageType,
        created_on: DateTime,
        deleted_on: DateTime,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            id: id.into(),
            version: None,
            message_type,
            sender: None,
            sender_display_name: None,
            created_on,
            deleted_on,
            recipient: None,
        }
    }

    /// The event for a listed message that has a `deletedOn`, or `None` when it has none.
    pub fn from_message(thread_id: impl Into<String>, message: &ChatMessage) -> Option<Self> {
        let deleted_on = message.deleted_on?;
        Some(Self {
            thread_id: thread_id.into(),
            id: message.id.clone(),
            version: Some(message.version.clone()),
            message_type: message.kind.clone(),
            sender: message.sender_communication_identifier.clone(),
            sender_display_name: message.sender_display_name.clone(),
            created_on: message.created_on,
            deleted_on,
            recipient: None,
        })
    }
}

/// `typingIndicatorReceived`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TypingIndicatorReceivedEvent {
    /// The thread.
    pub thread_id: String,
    /// The indicator's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the indicator arrived at the service.
    pub received_on: DateTime,
    /// Who is typing, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CommunicationIdentifier>,
    /// Their display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_display_name: Option<String>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl TypingIndicatorReceivedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(thread_id: impl Into<String>, received_on: DateTime) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            received_on,
            sender: None,
            sender_display_name: None,
            recipient: None,
        }
    }
}

/// `readReceiptReceived`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReadReceiptReceivedEvent {
    /// The thread.
    pub thread_id: String,
    /// The id of the last message read.
    pub chat_message_id: String,
    /// When it was read.
    pub read_on: DateTime,
    /// Who read it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CommunicationIdentifier>,
    /// Their display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_display_name: Option<String>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ReadReceiptReceivedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        chat_message_id: impl Into<String>,
        read_on: DateTime,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            chat_message_id: chat_message_id.into(),
            read_on,
            sender: None,
            sender_display_name: None,
            recipient: None,
        }
    }
}

/// `chatThreadCreated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatThreadCreatedEvent {
    /// The thread.
    pub thread_id: String,
    /// The thread's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When it was created, when known (polling sees only that a thread appeared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<DateTime>,
    /// Its topic and metadata.
    pub properties: EventThreadProperties,
    /// Its participants, as far as the source said (empty when unknown).
    #[serde(default)]
    pub participants: Vec<EventParticipant>,
    /// Who created it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<EventParticipant>,
    /// Its retention policy, when the source said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<ChatRetentionPolicy>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatThreadCreatedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(thread_id: impl Into<String>, properties: EventThreadProperties) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            created_on: None,
            properties,
            participants: Vec::new(),
            created_by: None,
            retention_policy: None,
            recipient: None,
        }
    }
}

/// `chatThreadDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatThreadDeletedEvent {
    /// The thread.
    pub thread_id: String,
    /// The thread's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When it was deleted.
    pub deleted_on: DateTime,
    /// Who deleted it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<EventParticipant>,
    /// Why, when the source said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatThreadDeletedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(thread_id: impl Into<String>, deleted_on: DateTime) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            deleted_on,
            deleted_by: None,
            reason: None,
            recipient: None,
        }
    }
}

/// `chatThreadPropertiesUpdated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatThreadPropertiesUpdatedEvent {
    /// The thread.
    pub thread_id: String,
    /// The thread's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The properties after the update.
    pub properties: EventThreadProperties,
    /// When they were updated.
    pub updated_on: DateTime,
    /// Who updated them, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<EventParticipant>,
    /// The retention policy, when the source said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<ChatRetentionPolicy>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ChatThreadPropertiesUpdatedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        properties: EventThreadProperties,
        updated_on: DateTime,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            properties,
            updated_on,
            updated_by: None,
            retention_policy: None,
            recipient: None,
        }
    }
}

/// `participantsAdded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ParticipantsAddedEvent {
    /// The thread.
    pub thread_id: String,
    /// The thread's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When they were added.
    pub added_on: DateTime,
    /// Who was added.
    pub participants_added: Vec<EventParticipant>,
    /// Who added them, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<EventParticipant>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ParticipantsAddedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        added_on: DateTime,
        participants_added: Vec<EventParticipant>,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            added_on,
            participants_added,
            added_by: None,
            recipient: None,
        }
    }
}

/// `participantsRemoved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ParticipantsRemovedEvent {
    /// The thread.
    pub thread_id: String,
    /// The thread's version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When they were removed.
    pub removed_on: DateTime,
    /// Who was removed.
    pub participants_removed: Vec<EventParticipant>,
    /// Who removed them, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<EventParticipant>,
    /// The user this event was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<CommunicationIdentifier>,
}

impl ParticipantsRemovedEvent {
    /// An event from its required fields; the optional ones are unset.
    pub fn new(
        thread_id: impl Into<String>,
        removed_on: DateTime,
        participants_removed: Vec<EventParticipant>,
    ) -> Self {
        Self {
            thread_id: thread_id.into(),
            version: None,
            removed_on,
            participants_removed,
            removed_by: None,
            recipient: None,
        }
    }
}

/// An event of a kind this version does not know: its `"type"` and its other members.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The event's type name (a JS event name, or an Event Grid event type this version does
    /// not map, e.g. `Microsoft.Communication.ChatAzureBotCommandReceivedInThread`).
    pub kind: String,
    /// The other members, as they came (for an Event Grid event: its `data`).
    pub fields: Map<String, Value>,
}

impl UnknownEvent {
    /// An unknown event.
    pub fn new(kind: impl Into<String>, fields: Map<String, Value>) -> Self {
        Self {
            kind: kind.into(),
            fields,
        }
    }
}

const MESSAGE_RECEIVED: &str = "chatMessageReceived";
const MESSAGE_EDITED: &str = "chatMessageEdited";
const MESSAGE_DELETED: &str = "chatMessageDeleted";
const TYPING: &str = "typingIndicatorReceived";
const READ_RECEIPT: &str = "readReceiptReceived";
const THREAD_CREATED: &str = "chatThreadCreated";
const THREAD_DELETED: &str = "chatThreadDeleted";
const THREAD_UPDATED: &str = "chatThreadPropertiesUpdated";
const PARTICIPANTS_ADDED: &str = "participantsAdded";
const PARTICIPANTS_REMOVED: &str = "participantsRemoved";

impl ChatEvent {
    /// The event's name: the JS SDK's (`chatMessageReceived`, …), or an unknown event's
    /// `"type"`.
    pub fn kind(&self) -> &str {
        match self {
            Self::ChatMessageReceived(_) => MESSAGE_RECEIVED,
            Self::ChatMessageEdited(_) => MESSAGE_EDITED,
            Self::ChatMessageDeleted(_) => MESSAGE_DELETED,
            Self::TypingIndicatorReceived(_) => TYPING,
            Self::ReadReceiptReceived(_) => READ_RECEIPT,
            Self::ChatThreadCreated(_) => THREAD_CREATED,
            Self::ChatThreadDeleted(_) => THREAD_DELETED,
            Self::ChatThreadPropertiesUpdated(_) => THREAD_UPDATED,
            Self::ParticipantsAdded(_) => PARTICIPANTS_ADDED,
            Self::ParticipantsRemoved(_) => PARTICIPANTS_REMOVED,
            Self::Unknown(u) => &u.kind,
        }
    }

    /// The thread the event is about (for an unknown event: its `threadId` member, if a
    /// string).
    pub fn thread_id(&self) -> Option<&str> {
        Some(match self {
            Self::ChatMessageReceived(e) => &e.thread_id,
            Self::ChatMessageEdited(e) => &e.thread_id,
            Self::ChatMessageDeleted(e) => &e.thread_id,
            Self::TypingIndicatorReceived(e) => &e.thread_id,
            Self::ReadReceiptReceived(e) => &e.thread_id,
            Self::ChatThreadCreated(e) => &e.thread_id,
            Self::ChatThreadDeleted(e) => &e.thread_id,
            Self::ChatThreadPropertiesUpdated(e) => &e.thread_id,
            Self::ParticipantsAdded(e) => &e.thread_id,
            Self::ParticipantsRemoved(e) => &e.thread_id,
            Self::Unknown(u) => return u.fields.get("threadId").and_then(Value::as_str),
        })
    }

    /// The user the event was delivered for, when it was addressed to one.
    pub fn recipient(&self) -> Option<&CommunicationIdentifier> {
        match self {
            Self::ChatMessageReceived(e) => e.recipient.as_ref(),
            Self::ChatMessageEdited(e) => e.recipient.as_ref(),
            Self::ChatMessageDeleted(e) => e.recipient.as_ref(),
            Self::TypingIndicatorReceived(e) => e.recipient.as_ref(),
            Self::ReadReceiptReceived(e) => e.recipient.as_ref(),
            Self::ChatThreadCreated(e) => e.recipient.as_ref(),
            Self::ChatThreadDeleted(e) => e.recipient.as_ref(),
            Self::ChatThreadPropertiesUpdated(e) => e.recipient.as_ref(),
            Self::ParticipantsAdded(e) => e.recipient.as_ref(),
            Self::ParticipantsRemoved(e) => e.recipient.as_ref(),
            Self::Unknown(_) => None,
        }
    }

    /// The same event addressed to `recipient` (an unknown event is returned unchanged).
    pub fn with_recipient(mut self, recipient: Option<CommunicationIdentifier>) -> Self {
        match &mut self {
            Self::ChatMessageReceived(e) => e.recipient = recipient,
            Self::ChatMessageEdited(e) => e.recipient = recipient,
            Self::ChatMessageDeleted(e) => e.recipient = recipient,
            Self::TypingIndicatorReceived(e) => e.recipient = recipient,
            Self::ReadReceiptReceived(e) => e.recipient = recipient,
            Self::ChatThreadCreated(e) => e.recipient = recipient,
            Self::ChatThreadDeleted(e) => e.recipient = recipient,
            Self::ChatThreadPropertiesUpdated(e) => e.recipient = recipient,
            Self::ParticipantsAdded(e) => e.recipient = recipient,
            Self::ParticipantsRemoved(e) => e.recipient = recipient,
            Self::Unknown(_) => {}
        }
        self
    }
}

fn fields_of<T: Serialize, E: serde::ser::Error>(inner: &T) -> Result<Map<String, Value>, E> {
    match serde_json::to_value(inner).map_err(E::custom)? {
        Value::Object(map) => Ok(map),
        _ => Err(E::custom("an event serializes to a JSON object")),
    }
}

impl Serialize for ChatEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = match self {
            Self::ChatMessageReceived(e) => fields_of(e)?,
            Self::ChatMessageEdited(e) => fields_of(e)?,
            Self::ChatMessageDeleted(e) => fields_of(e)?,
            Self::TypingIndicatorReceived(e) => fields_of(e)?,
            Self::ReadReceiptReceived(e) => fields_of(e)?,
            Self::ChatThreadCreated(e) => fields_of(e)?,
            Self::ChatThreadDeleted(e) => fields_of(e)?,
            Self::ChatThreadPropertiesUpdated(e) => fields_of(e)?,
            Self::ParticipantsAdded(e) => fields_of(e)?,
            Self::ParticipantsRemoved(e) => fields_of(e)?,
            Self::Unknown(u) => {
                if u.fields.contains_key("type") {
                    return Err(S::Error::custom(
                        "an unknown event's fields cannot have a `type` member",
                    ));
                }
                u.fields.clone()
            }
        };
        map.insert("type".into(), Value::String(self.kind().to_owned()));
        map.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ChatEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        let kind = match map.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(D::Error::custom("an event's `type` must be a string")),
            None => return Err(D::Error::missing_field("type")),
        };
        fn parse<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            kind: &str,
            map: Map<String, Value>,
        ) -> Result<T, E> {
            serde_json::from_value(Value::Object(map))
                .map_err(|e| E::custom(format!("{kind}: {e}")))
        }
        Ok(match kind.as_str() {
            MESSAGE_RECEIVED => Self::ChatMessageReceived(parse(&kind, map)?),
            MESSAGE_EDITED => Self::ChatMessageEdited(parse(&kind, map)?),
            MESSAGE_DELETED => Self::ChatMessageDeleted(parse(&kind, map)?),
            TYPING => Self::TypingIndicatorReceived(parse(&kind, map)?),
            READ_RECEIPT => Self::ReadReceiptReceived(parse(&kind, map)?),
            THREAD_CREATED => Self::ChatThreadCreated(parse(&kind, map)?),
            THREAD_DELETED => Self::ChatThreadDeleted(parse(&kind, map)?),
            THREAD_UPDATED => Self::ChatThreadPropertiesUpdated(parse(&kind, map)?),
            PARTICIPANTS_ADDED => Self::ParticipantsAdded(parse(&kind, map)?),
            PARTICIPANTS_REMOVED => Self::ParticipantsRemoved(parse(&kind, map)?),
            _ => Self::Unknown(UnknownEvent { kind, fields: map }),
        })
    }
}

macro_rules! from_variant {
    ($($ty:ident => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for ChatEvent {
            fn from(e: $ty) -> Self {
                Self::$variant(e)
            }
        }
    )*};
}

from_variant! {
    ChatMessageReceivedEvent => ChatMessageReceived,
    ChatMessageEditedEvent => ChatMessageEdited,
    ChatMessageDeletedEvent => ChatMessageDeleted,
    TypingIndicatorReceivedEvent => TypingIndicatorReceived,
    ReadReceiptReceivedEvent => ReadReceiptReceived,
    ChatThreadCreatedEvent => ChatThreadCreated,
    ChatThreadDeletedEvent => ChatThreadDeleted,
    ChatThreadPropertiesUpdatedEvent => ChatThreadPropertiesUpdated,
    ParticipantsAddedEvent => ParticipantsAdded,
    ParticipantsRemovedEvent => ParticipantsRemoved,
    UnknownEvent => Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn the_type_member_is_the_js_event_name_and_fields_are_camel_case() {
        let mut e = ChatMessageEditedEvent::new(
            "19:t@thread.v2",
            "1",
            ChatMessageType::Html,
            "<p>hi</p>",
            t("2024-01-01T00:00:00Z"),
            t("2024-01-01T00:00:05Z"),
        );
        e.sender = Some(CommunicationIdentifier::communication_user("8:acs:r_u"));
        e.sender_display_name = Some("Ann".into());
        let json = serde_json::to_value(ChatEvent::from(e)).unwrap();
        assert_eq!(
            json,
            json!({
                "type": "chatMessageEdited",
                "threadId": "19:t@thread.v2",
                "id": "1",
                "messageType": "html",
                "message": "<p>hi</p>",
                "sender": {"kind": "communicationUser", "rawId": "8:acs:r_u", "communicationUser": {"id": "8:acs:r_u"}},
                "senderDisplayName": "Ann",
                "createdOn": "2024-01-01T00:00:00Z",
                "editedOn": "2024-01-01T00:00:05Z"
            })
        );
    }

    #[test]
    fn unknown_types_are_kept_whole() {
        let json = json!({"type": "streamingChatMessageStarted", "threadId": "t", "n": [1, 2]});
        let e: ChatEvent = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(e.kind(), "streamingChatMessageStarted");
        assert_eq!(e.thread_id(), Some("t"));
        assert!(matches!(e, ChatEvent::Unknown(_)));
        assert_eq!(serde_json::to_value(&e).unwrap(), json);
    }

    #[test]
    fn malformed_events_are_errors() {
        for bad in [
            json!({"threadId": "t"}),
            json!({"type": 5}),
            json!({"type": "chatMessageReceived", "threadId": "t"}),
            json!({"type": "chatThreadDeleted", "threadId": "t", "deletedOn": "yesterday"}),
            json!([]),
        ] {
            assert!(
                serde_json::from_value::<ChatEvent>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let clash = UnknownEvent::new("x", json!({"type": "y"}).as_object().unwrap().clone());
        assert!(serde_json::to_value(ChatEvent::Unknown(clash)).is_err());
    }

    #[test]
    fn from_message_takes_the_listed_state() {
        let mut m = ChatMessage::new(
            t("2024-01-01T00:00:00Z"),
            "1",
            "3",
            ChatMessageType::Text,
            "1700",
        );
        let received = ChatMessageReceivedEvent::from_message("th", &m);
        assert_eq!(received.message, "");
        assert_eq!(received.version.as_deref(), Some("1700"));
        assert!(ChatMessageEditedEvent::from_message("th", &m).is_none());
        assert!(ChatMessageDeletedEvent::from_message("th", &m).is_none());
        m.edited_on = Some(t("2024-01-01T00:01:00Z"));
        m.deleted_on = Some(t("2024-01-01T00:02:00Z"));
        let edited = ChatMessageEditedEvent::from_message("th", &m).unwrap();
        assert_eq!(edited.edited_on, t("2024-01-01T00:01:00Z"));
        let deleted = ChatMessageDeletedEvent::from_message("th", &m).unwrap();
        assert_eq!(deleted.deleted_on, t("2024-01-01T00:02:00Z"));
    }
}
