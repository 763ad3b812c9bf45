//! Options of the client calls: every field optional, set with chained setters.

use std::collections::BTreeMap;

use acs_chat_protocol::models::{ChatMessageType, ChatParticipant, ChatRetentionPolicy};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};

/// Options of [`ChatClient::create_chat_thread`](crate::ChatClient::create_chat_thread).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateChatThreadOptions {
    /// The first participants.
    pub participants: Vec<ChatParticipant>,
    /// Name/value metadata of the thread (up to 1 KB in all).
    pub metadata: Option<BTreeMap<String, String>>,
    /// When the service deletes the thread.
    pub retention_policy: Option<ChatRetentionPolicy>,
    /// The `repeatability-request-id`; a fresh UUID v4 when unset. It is the same on every retry,
    /// so a retried create makes one thread.
    pub repeatability_request_id: Option<String>,
}

impl CreateChatThreadOptions {
    /// No participants, no metadata, no retention policy, a generated repeatability id.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a participant.
    pub fn participant(mut self, participant: ChatParticipant) -> Self {
        self.participants.push(participant);
        self
    }

    /// Sets the participants.
    pub fn participants(mut self, participants: Vec<ChatParticipant>) -> Self {
        self.participants = participants;
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the retention policy.
    pub fn retention_policy(mut self, policy: ChatRetentionPolicy) -> Self {
        self.retention_policy = Some(policy);
        self
    }

    /// Sets the repeatability id (the caller's own idempotency key).
    pub fn repeatability_request_id(mut self, id: impl Into<String>) -> Self {
        self.repeatability_request_id = Some(id.into());
        self
    }
}

/// Options of [`ChatClient::list_chat_threads`](crate::ChatClient::list_chat_threads) and
/// [`ChatThreadClient::list_messages`](crate::ChatThreadClient::list_messages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only items at or after this time.
    pub start_time: Option<DateTime>,
    /// Items per page (`maxPageSize`).
    pub page_size: Option<i32>,
}

impl ListOptions {
    /// The service's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the start time.
    pub fn start_time(mut self, t: DateTime) -> Self {
        self.start_time = Some(t);
        self
    }

    /// Sets the page size.
    pub fn page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }
}

/// Options of [`ChatThreadClient::list_participants`](crate::ChatThreadClient::list_participants)
/// and [`ChatThreadClient::list_read_receipts`](crate::ChatThreadClient::list_read_receipts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkipListOptions {
    /// Items per page (`maxPageSize`).
    pub page_size: Option<i32>,
    /// Items to skip at the start (`skip`).
    pub skip: Option<i32>,
}

impl SkipListOptions {
    /// The service's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size.
    pub fn page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }

    /// Sets how many items to skip.
    pub fn skip(mut self, n: i32) -> Self {
        self.skip = Some(n);
        self
    }
}

/// What [`ChatThreadClient::update_properties`](crate::ChatThreadClient::update_properties)
/// changes: a merge-patch, so unset fields are not sent and stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateChatThreadOptions {
    /// The new topic.
    pub topic: Option<String>,
    /// The new metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// The new retention policy.
    pub retention_policy: Option<ChatRetentionPolicy>,
}

impl UpdateChatThreadOptions {
    /// Changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the topic.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the retention policy.
    pub fn retention_policy(mut self, policy: ChatRetentionPolicy) -> Self {
        self.retention_policy = Some(policy);
        self
    }
}

/// Options of [`ChatThreadClient::send_message`](crate::ChatThreadClient::send_message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendMessageOptions {
    /// `text` (the service's default) or `html`.
    pub kind: Option<ChatMessageType>,
    /// The sender's display name.
    pub sender_display_name: Option<String>,
    /// Name/value metadata of the message.
    pub metadata: Option<BTreeMap<String, String>>,
}

impl SendMessageOptions {
    /// A text message without display name or metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the content as HTML.
    pub fn html(mut self) -> Self {
        self.kind = Some(ChatMessageType::Html);
        self
    }

    /// Sets the message type (`text` or `html`).
    pub fn kind(mut self, kind: ChatMessageType) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Sets the sender's display name.
    pub fn sender_display_name(mut self, name: impl Into<String>) -> Self {
        self.sender_display_name = Some(name.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
}

/// What [`ChatThreadClient::update_message`](crate::ChatThreadClient::update_message) changes:
/// a merge-patch, so unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateMessageOptions {
    /// The new content.
    pub content: Option<String>,
    /// The new metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

impl UpdateMessageOptions {
    /// Changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the content.
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
}

/// Options of
/// [`ChatThreadClient::send_typing_notification`](crate::ChatThreadClient::send_typing_notification).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypingNotificationOptions {
    /// The sender's display name.
    pub sender_display_name: Option<String>,
}

impl TypingNotificationOptions {
    /// No display name (no body is sent).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sender's display name.
    pub fn sender_display_name(mut self, name: impl Into<String>) -> Self {
        self.sender_display_name = Some(name.into());
        self
    }
}

/// A participant, for [`CreateChatThreadOptions::participant`] and
/// [`ChatThreadClient::add_participants`](crate::ChatThreadClient::add_participants).
pub fn participant(
    identifier: &CommunicationIdentifier,
    display_name: Option<&str>,
) -> ChatParticipant {
    let mut p = ChatParticipant::new(identifier.to_model());
    p.display_name = display_name.map(str::to_owned);
    p
}
