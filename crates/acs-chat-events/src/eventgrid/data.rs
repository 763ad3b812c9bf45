//! The `data` of every ACS chat system event, as Microsoft documents it, and its mapping onto
//! [`ChatEvent`].
//!
//! Sources (the field lists follow the spec; where its own samples disagree, the type says so):
//! - the Event Grid data-plane spec, Azure/azure-rest-api-specs
//!   `specification/eventgrid/data-plane/Microsoft.Communication/stable/2018-01-01/AzureCommunicationServices.json`
//!   (definitions `AcsChat*EventData`, `AcsChatEventBaseProperties`,
//!   `AcsChatEventInThreadBaseProperties`, `AcsChatMessageEventBaseProperties`,
//!   `AcsChatMessageEventInThreadBaseProperties`, `AcsChatThreadEventBaseProperties`,
//!   `AcsChatThreadEventInThreadBaseProperties`, `AcsChatThreadParticipantProperties`) and its
//!   `examples/event-grid-schema/chat_*.json` and `examples/cloud-events-schema/chat_*.json`;
//! - "Azure Communication Services - Chat events",
//!   <https://learn.microsoft.com/azure/event-grid/communication-services-chat-events> (event
//!   types, user-level and thread-level, sample payloads and subjects);
//! - the SDK models generated from that spec, e.g.
//!   <https://learn.microsoft.com/javascript/api/@azure/eventgrid-systemevents/acschatmessagereceivedeventdata>
//!   and the sibling `acschat*eventdata` pages, and `Azure.Messaging.EventGrid.SystemEvents`
//!   (`AcsChatMessageReceivedEventData`, …) in azure-sdk-for-net.
//!
//! Older samples also carry `senderId`, `recipientId`, `createdBy` and `members` (plain raw ids,
//! no longer in the spec); they are ignored, like any member this crate does not model. So are
//! the retired `ChatMemberAddedToThreadWithUser` / `ChatMemberRemovedFromThreadWithUser` events,
//! which arrive as [`AcsChatEventData::Other`].

use std::collections::BTreeMap;

use acs_chat_protocol::models::ChatMessageType;
use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, quote};
use crate::event::*;

/// A participant as chat system events carry it (`AcsChatThreadParticipantProperties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadParticipant {
    /// The name of the user.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// The communication identifier of the user.
    #[serde(rename = "participantCommunicationIdentifier")]
    pub participant_communication_identifier: CommunicationIdentifier,
    /// The metadata of the user.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl AcsChatThreadParticipant {
    /// A participant known by its identifier.
    pub fn new(id: CommunicationIdentifier) -> Self {
        Self {
            display_name: None,
            participant_communication_identifier: id,
            metadata: None,
        }
    }
}

impl From<AcsChatThreadParticipant> for EventParticipant {
    fn from(p: AcsChatThreadParticipant) -> Self {
        let mut e = EventParticipant::new(p.participant_communication_identifier);
        e.display_name = p.display_name;
        e.metadata = p.metadata;
        e
    }
}

impl From<&EventParticipant> for AcsChatThreadParticipant {
    fn from(p: &EventParticipant) -> Self {
        Self {
            display_name: p.display_name.clone(),
            participant_communication_identifier: p.id.clone(),
            metadata: p.metadata.clone(),
        }
    }
}

/// `version`: an int64 in the spec, a numeric string in some documented samples; both are
/// read, a number is written.
mod version {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub(super) fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_i64(*v),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer version, or one written as a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v).map(Some).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.trim().parse().map(Some).map_err(|_| {
                    E::custom(format!("version `{}` is not an integer", super::quote(v)))
                })
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
        }
        d.deserialize_option(V)
    }
}

/// The `data` of `Microsoft.Communication.ChatMessageReceived`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageReceivedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(
        rename = "messageBody",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_body: Option<String>,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The `data` of `Microsoft.Communication.ChatMessageReceivedInThread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageReceivedInThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(rename = "messageBody")]
    pub message_body: String,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The `data` of `Microsoft.Communication.ChatMessageEdited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageEditedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(rename = "messageBody")]
    pub message_body: String,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The time at which the message was edited.
    #[serde(rename = "editTime", default, skip_serializing_if = "Option::is_none")]
    pub edit_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatMessageEditedInThread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageEditedInThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(rename = "messageBody")]
    pub message_body: String,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The time at which the message was edited.
    #[serde(rename = "editTime", default, skip_serializing_if = "Option::is_none")]
    pub edit_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatMessageDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageDeletedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The time at which the message was deleted.
    #[serde(
        rename = "deleteTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatMessageDeletedInThread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatMessageDeletedInThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The time at which the message was deleted.
    #[serde(
        rename = "deleteTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatTypingIndicatorReceivedInThread`.
///
/// The spec marks `messageId`, `type`, `transactionId` and `messageBody` required, but its own
/// samples of this event carry only the sender, the thread and the transaction id: they are
/// optional here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatTypingIndicatorReceivedInThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The chat message id.
    #[serde(rename = "messageId", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(
        rename = "messageBody",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_body: Option<String>,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The `data` of `Microsoft.Communication.ChatAzureBotCommandReceivedInThread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatAzureBotCommandReceivedInThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The chat message id.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The communication identifier of the sender.
    #[serde(rename = "senderCommunicationIdentifier")]
    pub sender_communication_identifier: CommunicationIdentifier,
    /// The display name of the sender.
    #[serde(
        rename = "senderDisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_display_name: Option<String>,
    /// The original compose time of the message.
    #[serde(
        rename = "composeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compose_time: Option<DateTime>,
    /// The type of the message (`Text`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the message.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The body of the chat message.
    #[serde(rename = "messageBody")]
    pub message_body: String,
    /// The chat message metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The `data` of `Microsoft.Communication.ChatThreadCreatedWithUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadCreatedWithUserEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who created the thread.
    #[serde(rename = "createdByCommunicationIdentifier")]
    pub created_by_communication_identifier: CommunicationIdentifier,
    /// The thread properties (`topic`, …).
    #[serde(rename = "properties")]
    pub properties: Map<String, Value>,
    /// The thread metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The participants of the thread.
    #[serde(rename = "participants")]
    pub participants: Vec<AcsChatThreadParticipant>,
}

/// The `data` of `Microsoft.Communication.ChatThreadCreated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadCreatedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who created the thread.
    #[serde(rename = "createdByCommunicationIdentifier")]
    pub created_by_communication_identifier: CommunicationIdentifier,
    /// The thread properties (`topic`, …).
    #[serde(rename = "properties")]
    pub properties: Map<String, Value>,
    /// The thread metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The participants of the thread.
    #[serde(rename = "participants")]
    pub participants: Vec<AcsChatThreadParticipant>,
}

/// The `data` of `Microsoft.Communication.ChatThreadWithUserDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadWithUserDeletedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who deleted the thread.
    #[serde(rename = "deletedByCommunicationIdentifier")]
    pub deleted_by_communication_identifier: CommunicationIdentifier,
    /// The deletion time of the thread.
    #[serde(
        rename = "deleteTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatThreadDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadDeletedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who deleted the thread.
    #[serde(rename = "deletedByCommunicationIdentifier")]
    pub deleted_by_communication_identifier: CommunicationIdentifier,
    /// The deletion time of the thread.
    #[serde(
        rename = "deleteTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_time: Option<DateTime>,
}

/// The `data` of `Microsoft.Communication.ChatThreadPropertiesUpdatedPerUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadPropertiesUpdatedPerUserEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who updated the thread properties.
    #[serde(rename = "editedByCommunicationIdentifier")]
    pub edited_by_communication_identifier: CommunicationIdentifier,
    /// The time at which the properties of the thread were updated.
    #[serde(rename = "editTime", default, skip_serializing_if = "Option::is_none")]
    pub edit_time: Option<DateTime>,
    /// The thread metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The thread properties (`topic`, …).
    #[serde(rename = "properties")]
    pub properties: Map<String, Value>,
}

/// The `data` of `Microsoft.Communication.ChatThreadPropertiesUpdated`.
///
/// The spec marks `metadata` required; the documented sample has none, so it is optional here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatThreadPropertiesUpdatedEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The communication identifier of the user who updated the thread properties.
    #[serde(rename = "editedByCommunicationIdentifier")]
    pub edited_by_communication_identifier: CommunicationIdentifier,
    /// The time at which the properties of the thread were updated.
    #[serde(rename = "editTime", default, skip_serializing_if = "Option::is_none")]
    pub edit_time: Option<DateTime>,
    /// The thread properties (`topic`, …).
    #[serde(rename = "properties")]
    pub properties: Map<String, Value>,
    /// The thread metadata.
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The `data` of `Microsoft.Communication.ChatParticipantAddedToThreadWithUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatParticipantAddedToThreadWithUserEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The time at which the user was added to the thread.
    #[serde(rename = "time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime>,
    /// The communication identifier of the user who added the user.
    #[serde(rename = "addedByCommunicationIdentifier")]
    pub added_by_communication_identifier: CommunicationIdentifier,
    /// The details of the user who was added.
    #[serde(rename = "participantAdded")]
    pub participant_added: AcsChatThreadParticipant,
}

/// The `data` of `Microsoft.Communication.ChatParticipantRemovedFromThreadWithUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatParticipantRemovedFromThreadWithUserEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The communication identifier of the target user.
    #[serde(
        rename = "recipientCommunicationIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_communication_identifier: Option<CommunicationIdentifier>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    /// The time at which the user was removed from the thread.
    #[serde(rename = "time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime>,
    /// The communication identifier of the user who removed the user.
    #[serde(rename = "removedByCommunicationIdentifier")]
    pub removed_by_communication_identifier: CommunicationIdentifier,
    /// The details of the user who was removed.
    #[serde(rename = "participantRemoved")]
    pub participant_removed: AcsChatThreadParticipant,
}

/// The `data` of `Microsoft.Communication.ChatThreadParticipantAdded`.
///
/// `createTime` is not in the spec's definition but is in the documented sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatParticipantAddedToThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The time at which the user was added to the thread.
    #[serde(rename = "time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime>,
    /// The communication identifier of the user who added the user.
    #[serde(rename = "addedByCommunicationIdentifier")]
    pub added_by_communication_identifier: CommunicationIdentifier,
    /// The details of the user who was added.
    #[serde(rename = "participantAdded")]
    pub participant_added: AcsChatThreadParticipant,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
}

/// The `data` of `Microsoft.Communication.ChatThreadParticipantRemoved`.
///
/// `createTime` is not in the spec's definition but is in the documented sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsChatParticipantRemovedFromThreadEventData {
    /// The chat thread id.
    #[serde(rename = "threadId")]
    pub thread_id: String,
    /// The transaction id, used as a correlation vector.
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The original creation time of the thread.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime>,
    /// The time at which the user was removed from the thread.
    #[serde(rename = "time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime>,
    /// The communication identifier of the user who removed the user.
    #[serde(rename = "removedByCommunicationIdentifier")]
    pub removed_by_communication_identifier: CommunicationIdentifier,
    /// The details of the user who was removed.
    #[serde(rename = "participantRemoved")]
    pub participant_removed: AcsChatThreadParticipant,
    /// The version of the thread.
    #[serde(
        rename = "version",
        default,
        with = "version",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
}

/// The prefix of every ACS chat event type.
pub(crate) const CHAT_PREFIX: &str = "Microsoft.Communication.Chat";

macro_rules! chat_events {
    ($($variant:ident($ty:ident) = $name:literal, $doc:literal;)*) => {
        /// The typed `data` of an ACS chat system event, by event type.
        ///
        /// Every `Microsoft.Communication.Chat*` type the docs list has a variant;
        /// [`Other`](Self::Other) keeps one this version does not model (the retired
        /// `ChatMember…` events, or one added tomorrow) with its `data` as it came.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum AcsChatEventData {
            $(
                #[doc = concat!("`", $name, "`: ", $doc)]
                $variant($ty),
            )*
            /// A `Microsoft.Communication.Chat*` event type this version does not model.
            Other {
                /// The event type.
                event_type: String,
                /// Its `data`, as it came.
                data: Value,
            },
        }

        impl AcsChatEventData {
            /// Reads the `data` of an event of type `event_type`: `Ok(None)` when it is not a
            /// chat event (`Microsoft.Communication.Chat*`), an [`Error`] of kind
            /// [`InvalidEventData`](crate::ErrorKind::InvalidEventData) when it is a known chat
            /// type whose data does not fit.
            pub fn parse(event_type: &str, data: Value) -> Result<Option<Self>, Error> {
                fn typed<T: serde::de::DeserializeOwned>(name: &str, data: Value) -> Result<T, Error> {
                    serde_json::from_value(data).map_err(|e| {
                        Error::invalid_data(format!("the data of {name} does not fit its schema: {}", quote(&e.to_string())))
                    })
                }
                Ok(Some(match event_type {
                    $($name => Self::$variant(typed($name, data)?),)*
                    other if other.starts_with(CHAT_PREFIX) => Self::Other {
                        event_type: other.to_owned(),
                        data,
                    },
                    _ => return Ok(None),
                }))
            }

            /// The event type (`Microsoft.Communication.ChatMessageReceived`, …).
            pub fn event_type(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $name,)*
                    Self::Other { event_type, .. } => event_type,
                }
            }

            /// The `data` as JSON.
            pub fn to_value(&self) -> Value {
                match self {
                    // Serializing these plain structs to a `Value` cannot fail.
                    $(Self::$variant(d) => serde_json::to_value(d).unwrap_or(Value::Null),)*
                    Self::Other { data, .. } => data.clone(),
                }
            }
        }

        $(
            impl From<$ty> for AcsChatEventData {
                fn from(d: $ty) -> Self {
                    Self::$variant(d)
                }
            }
        )*
    };
}

chat_events! {
    ChatMessageReceived(AcsChatMessageReceivedEventData) = "Microsoft.Communication.ChatMessageReceived", "a message was received, for one user (user-level).";
    ChatMessageReceivedInThread(AcsChatMessageReceivedInThreadEventData) = "Microsoft.Communication.ChatMessageReceivedInThread", "a message was received in a thread (thread-level).";
    ChatMessageEdited(AcsChatMessageEditedEventData) = "Microsoft.Communication.ChatMessageEdited", "a message was edited, for one user (user-level).";
    ChatMessageEditedInThread(AcsChatMessageEditedInThreadEventData) = "Microsoft.Communication.ChatMessageEditedInThread", "a message was edited in a thread (thread-level).";
    ChatMessageDeleted(AcsChatMessageDeletedEventData) = "Microsoft.Communication.ChatMessageDeleted", "a message was deleted, for one user (user-level).";
    ChatMessageDeletedInThread(AcsChatMessageDeletedInThreadEventData) = "Microsoft.Communication.ChatMessageDeletedInThread", "a message was deleted in a thread (thread-level).";
    ChatTypingIndicatorReceivedInThread(AcsChatTypingIndicatorReceivedInThreadEventData) = "Microsoft.Communication.ChatTypingIndicatorReceivedInThread", "someone is typing in a thread (thread-level).";
    ChatAzureBotCommandReceivedInThread(AcsChatAzureBotCommandReceivedInThreadEventData) = "Microsoft.Communication.ChatAzureBotCommandReceivedInThread", "a bot command was received in a thread (thread-level).";
    ChatThreadCreatedWithUser(AcsChatThreadCreatedWithUserEventData) = "Microsoft.Communication.ChatThreadCreatedWithUser", "a thread was created with a user (user-level).";
    ChatThreadCreated(AcsChatThreadCreatedEventData) = "Microsoft.Communication.ChatThreadCreated", "a thread was created (thread-level).";
    ChatThreadWithUserDeleted(AcsChatThreadWithUserDeletedEventData) = "Microsoft.Communication.ChatThreadWithUserDeleted", "a thread with a user was deleted (user-level).";
    ChatThreadDeleted(AcsChatThreadDeletedEventData) = "Microsoft.Communication.ChatThreadDeleted", "a thread was deleted (thread-level).";
    ChatThreadPropertiesUpdatedPerUser(AcsChatThreadPropertiesUpdatedPerUserEventData) = "Microsoft.Communication.ChatThreadPropertiesUpdatedPerUser", "a thread's properties were updated, for one user (user-level).";
    ChatThreadPropertiesUpdated(AcsChatThreadPropertiesUpdatedEventData) = "Microsoft.Communication.ChatThreadPropertiesUpdated", "a thread's properties were updated (thread-level).";
    ChatParticipantAddedToThreadWithUser(AcsChatParticipantAddedToThreadWithUserEventData) = "Microsoft.Communication.ChatParticipantAddedToThreadWithUser", "a participant was added to a thread with a user (user-level).";
    ChatParticipantRemovedFromThreadWithUser(AcsChatParticipantRemovedFromThreadWithUserEventData) = "Microsoft.Communication.ChatParticipantRemovedFromThreadWithUser", "a participant was removed from a thread with a user (user-level).";
    ChatThreadParticipantAdded(AcsChatParticipantAddedToThreadEventData) = "Microsoft.Communication.ChatThreadParticipantAdded", "a participant was added to a thread (thread-level).";
    ChatThreadParticipantRemoved(AcsChatParticipantRemovedFromThreadEventData) = "Microsoft.Communication.ChatThreadParticipantRemoved", "a participant was removed from a thread (thread-level).";
}

/// The message type of an Event Grid payload (`Text`, `Html`, `RichText/Html`, …) as the REST
/// API's open enum.
pub(crate) fn message_type_from_wire(kind: &str) -> ChatMessageType {
    if kind.eq_ignore_ascii_case("text") {
        ChatMessageType::Text
    } else if kind.eq_ignore_ascii_case("html") || kind.eq_ignore_ascii_case("richtext/html") {
        ChatMessageType::Html
    } else {
        ChatMessageType::from(kind)
    }
}

/// The inverse of [`message_type_from_wire`]: `Text` and `Html` as the samples write them,
/// other types as the REST API does.
pub(crate) fn message_type_to_wire(kind: &ChatMessageType) -> String {
    match kind {
        ChatMessageType::Text => "Text".to_owned(),
        ChatMessageType::Html => "Html".to_owned(),
        other => other.as_str().to_owned(),
    }
}

fn when(
    time: Option<DateTime>,
    event_time: Option<DateTime>,
    what: &str,
) -> Result<DateTime, Error> {
    time.or(event_time).ok_or_else(|| {
        Error::invalid_data(format!("the event has no {what} and its envelope no time"))
    })
}

fn properties(
    props: &Map<String, Value>,
    metadata: Option<BTreeMap<String, String>>,
) -> EventThreadProperties {
    EventThreadProperties {
        topic: props
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata,
    }
}

fn v(version: Option<i64>) -> Option<String> {
    version.map(|v| v.to_string())
}

impl AcsChatEventData {
    /// The [`ChatEvent`] this system event is: user-level events keep their recipient,
    /// thread-level ones have none. A timestamp the data lacks (the spec makes them all
    /// optional) is taken from `event_time`, the envelope's; without either, the result is an
    /// [`InvalidEventData`](crate::ErrorKind::InvalidEventData) error. A bot command, and any
    /// type in [`Other`](Self::Other), is a [`ChatEvent::Unknown`] named by its event type, with
    /// the `threadId` and the whole `data` as its fields.
    pub fn to_chat_event(&self, event_time: Option<DateTime>) -> Result<ChatEvent, Error> {
        Ok(match self {
            Self::ChatMessageReceived(d) => {
                let mut e = ChatMessageReceivedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    d.message_body.clone().unwrap_or_default(),
                    when(d.compose_time, event_time, "composeTime")?,
                );
                e.version = v(d.version);
                e.metadata = d.metadata.clone();
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatMessageReceivedInThread(d) => {
                let mut e = ChatMessageReceivedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    d.message_body.clone(),
                    when(d.compose_time, event_time, "composeTime")?,
                );
                e.version = v(d.version);
                e.metadata = d.metadata.clone();
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.into()
            }
            Self::ChatMessageEdited(d) => {
                let mut e = ChatMessageEditedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    d.message_body.clone(),
                    when(d.compose_time, event_time, "composeTime")?,
                    when(d.edit_time, event_time, "editTime")?,
                );
                e.version = v(d.version);
                e.metadata = d.metadata.clone();
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatMessageEditedInThread(d) => {
                let mut e = ChatMessageEditedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    d.message_body.clone(),
                    when(d.compose_time, event_time, "composeTime")?,
                    when(d.edit_time, event_time, "editTime")?,
                );
                e.version = v(d.version);
                e.metadata = d.metadata.clone();
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.into()
            }
            Self::ChatMessageDeleted(d) => {
                let mut e = ChatMessageDeletedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    when(d.compose_time, event_time, "composeTime")?,
                    when(d.delete_time, event_time, "deleteTime")?,
                );
                e.version = v(d.version);
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatMessageDeletedInThread(d) => {
                let mut e = ChatMessageDeletedEvent::new(
                    &d.thread_id,
                    &d.message_id,
                    message_type_from_wire(&d.kind),
                    when(d.compose_time, event_time, "composeTime")?,
                    when(d.delete_time, event_time, "deleteTime")?,
                );
                e.version = v(d.version);
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.into()
            }
            Self::ChatTypingIndicatorReceivedInThread(d) => {
                let mut e = TypingIndicatorReceivedEvent::new(
                    &d.thread_id,
                    when(d.compose_time, event_time, "composeTime")?,
                );
                e.version = v(d.version);
                e.sender = Some(d.sender_communication_identifier.clone());
                e.sender_display_name = d.sender_display_name.clone();
                e.into()
            }
            Self::ChatAzureBotCommandReceivedInThread(d) => unknown(
                self.event_type(),
                serde_json::to_value(d).unwrap_or(Value::Null),
            ),
            Self::ChatThreadCreatedWithUser(d) => {
                let mut e = ChatThreadCreatedEvent::new(
                    &d.thread_id,
                    properties(&d.properties, d.metadata.clone()),
                );
                e.version = v(d.version);
                e.created_on = d.create_time.or(event_time);
                e.participants = d.participants.iter().cloned().map(Into::into).collect();
                e.created_by = Some(d.created_by_communication_identifier.clone().into());
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatThreadCreated(d) => {
                let mut e = ChatThreadCreatedEvent::new(
                    &d.thread_id,
                    properties(&d.properties, d.metadata.clone()),
                );
                e.version = v(d.version);
                e.created_on = d.create_time.or(event_time);
                e.participants = d.participants.iter().cloned().map(Into::into).collect();
                e.created_by = Some(d.created_by_communication_identifier.clone().into());
                e.into()
            }
            Self::ChatThreadWithUserDeleted(d) => {
                let mut e = ChatThreadDeletedEvent::new(
                    &d.thread_id,
                    when(d.delete_time, event_time, "deleteTime")?,
                );
                e.version = v(d.version);
                e.deleted_by = Some(d.deleted_by_communication_identifier.clone().into());
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatThreadDeleted(d) => {
                let mut e = ChatThreadDeletedEvent::new(
                    &d.thread_id,
                    when(d.delete_time, event_time, "deleteTime")?,
                );
                e.version = v(d.version);
                e.deleted_by = Some(d.deleted_by_communication_identifier.clone().into());
                e.into()
            }
            Self::ChatThreadPropertiesUpdatedPerUser(d) => {
                let mut e = ChatThreadPropertiesUpdatedEvent::new(
                    &d.thread_id,
                    properties(&d.properties, d.metadata.clone()),
                    when(d.edit_time, event_time, "editTime")?,
                );
                e.version = v(d.version);
                e.updated_by = Some(d.edited_by_communication_identifier.clone().into());
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatThreadPropertiesUpdated(d) => {
                let mut e = ChatThreadPropertiesUpdatedEvent::new(
                    &d.thread_id,
                    properties(&d.properties, d.metadata.clone()),
                    when(d.edit_time, event_time, "editTime")?,
                );
                e.version = v(d.version);
                e.updated_by = Some(d.edited_by_communication_identifier.clone().into());
                e.into()
            }
            Self::ChatParticipantAddedToThreadWithUser(d) => {
                let mut e = ParticipantsAddedEvent::new(
                    &d.thread_id,
                    when(d.time, event_time, "time")?,
                    vec![d.participant_added.clone().into()],
                );
                e.version = v(d.version);
                e.added_by = Some(d.added_by_communication_identifier.clone().into());
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatParticipantRemovedFromThreadWithUser(d) => {
                let mut e = ParticipantsRemovedEvent::new(
                    &d.thread_id,
                    when(d.time, event_time, "time")?,
                    vec![d.participant_removed.clone().into()],
                );
                e.version = v(d.version);
                e.removed_by = Some(d.removed_by_communication_identifier.clone().into());
                e.recipient = d.recipient_communication_identifier.clone();
                e.into()
            }
            Self::ChatThreadParticipantAdded(d) => {
                let mut e = ParticipantsAddedEvent::new(
                    &d.thread_id,
                    when(d.time, event_time, "time")?,
                    vec![d.participant_added.clone().into()],
                );
                e.version = v(d.version);
                e.added_by = Some(d.added_by_communication_identifier.clone().into());
                e.into()
            }
            Self::ChatThreadParticipantRemoved(d) => {
                let mut e = ParticipantsRemovedEvent::new(
                    &d.thread_id,
                    when(d.time, event_time, "time")?,
                    vec![d.participant_removed.clone().into()],
                );
                e.version = v(d.version);
                e.removed_by = Some(d.removed_by_communication_identifier.clone().into());
                e.into()
            }
            Self::Other { event_type, data } => unknown(event_type, data.clone()),
        })
    }
}

/// An event this crate does not map: `threadId` (when the data has one) and the whole `data`.
fn unknown(event_type: &str, data: Value) -> ChatEvent {
    let mut fields = Map::new();
    if let Some(thread) = data.get("threadId").filter(|t| t.is_string()) {
        fields.insert("threadId".to_owned(), thread.clone());
    }
    fields.insert("data".to_owned(), data);
    ChatEvent::Unknown(UnknownEvent::new(event_type, fields))
}
