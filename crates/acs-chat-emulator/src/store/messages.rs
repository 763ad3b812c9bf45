//! Messages: sending, listing (newest first, with `startTime` and `shareHistoryTime`), editing
//! and deleting, and the per-thread rate limits.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Duration;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{
    ChatMessage, ChatMessageContent, ChatMessageType, SendChatMessageRequest,
};
use bytes::Bytes;

use crate::limits::ServiceLimits;

use super::ids::identifier_model;
use super::threads::Thread;
use super::validate::{apply_metadata, ceil_secs};
use super::{Caller, Change, Listing, MessageUpdate, Store, StoreError};

/// A message of a thread, with its JSON, made the first time it is needed and forgotten
/// at every change (the message can only be changed through [`Self::message_mut`]).
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub(crate) seq: u64,
    pub(crate) sender: Option<String>,
    message: ChatMessage,
    json: OnceLock<Bytes>,
}

/// The room a message's JSON is first written into: a text message from a user (its ids,
/// times and sender's identifier twice) takes about 450 bytes.
const JSON_CAPACITY: usize = 640;

impl StoredMessage {
    pub(crate) fn new(seq: u64, sender: Option<String>, message: ChatMessage) -> Self {
        Self {
            seq,
            sender,
            message,
            json: OnceLock::new(),
        }
    }

    pub(crate) fn message(&self) -> &ChatMessage {
        &self.message
    }

    /// The message, to change; forgets its JSON.
    pub(crate) fn message_mut(&mut self) -> &mut ChatMessage {
        self.json = OnceLock::new();
        &mut self.message
    }

    /// The message as JSON (`serde_json::to_vec` of it).
    pub(crate) fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                // Written into room for a typical message (serde_json starts with 128 bytes
                // and doubles), then cut to its length, so that it is kept without a second
                // allocation for `Bytes`'s shared header.
                let mut json = Vec::with_capacity(JSON_CAPACITY);
                if serde_json::to_writer(&mut json, &self.message).is_err() {
                    json.clear();
                }
                Bytes::from(json.into_boxed_slice())
            })
            .clone()
    }

    pub(crate) fn last_modified(&self) -> DateTime {
        let m = &self.message;
        [Some(m.created_on), m.edited_on, m.deleted_on]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(m.created_on)
    }
}

impl Store {
    pub(super) fn rate_check(
        throttle: bool,
        limits: &ServiceLimits,
        ops: &mut VecDeque<DateTime>,
        now: DateTime,
    ) -> Result<(), StoreError> {
        if !throttle {
            return Ok(());
        }
        let minute = Duration::from_secs(60);
        let ten = Duration::from_secs(10);
        while ops
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= minute)
        {
            ops.pop_front();
        }
        let in_ten: Vec<DateTime> = ops
            .iter()
            .copied()
            .filter(|t| now.saturating_duration_since(*t) < ten)
            .collect();
        // With `limit` operations in the window, the `limit`-th newest must leave it first
        // (with a limit of 0, nothing passes).
        let wait = |window: Duration, times: &[DateTime], limit: usize| {
            if times.len() < limit {
                return None;
            }
            let elapsed = times
                .len()
                .checked_sub(limit)
                .and_then(|i| times.get(i))
                .map_or(Duration::ZERO, |oldest| {
                    now.saturating_duration_since(*oldest)
                });
            Some(window.saturating_sub(elapsed))
        };
        let all: Vec<DateTime> = ops.iter().copied().collect();
        if let Some(wait) = wait(ten, &in_ten, limits.message_ops_per_10_seconds)
            .or_else(|| wait(minute, &all, limits.message_ops_per_minute))
        {
            return Err(StoreError::throttled(ceil_secs(wait)));
        }
        ops.push_back(now);
        Ok(())
    }

    /// Sends a text or html message; returns its id.
    pub fn send_message(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        request: SendChatMessageRequest,
        now: DateTime,
    ) -> Result<String, StoreError> {
        let kind = request.kind.clone().unwrap_or(ChatMessageType::Text);
        if !matches!(kind, ChatMessageType::Text | ChatMessageType::Html) {
            return Err(StoreError::validation(
                "Type",
                format!("Messages of type `{kind}` cannot be sent; use `text` or `html`."),
            ));
        }
        self.limits.check_content(&request.content)?;
        self.limits
            .check_display_name("SenderDisplayName", request.sender_display_name.as_deref())?;
        self.limits
            .check_metadata("Metadata", request.metadata.as_ref())?;
        let throttle = self.throttle;
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        Self::rate_check(throttle, &self.limits, &mut thread.recent_ops, now)?;
        let mut message = ChatMessage::new(now, "", "", kind, "");
        let mut content = ChatMessageContent::new();
        content.message = Some(request.content);
        message.content = Some(content);
        message.sender_display_name = request.sender_display_name;
        // The caller is a participant (`lookup` checked), stored with
        // `identifier_model(&caller.user_id)`.
        message.sender_communication_identifier =
            Some(thread.participant(&caller.user_id).map_or_else(
                || identifier_model(&caller.user_id),
                |p| p.communication_identifier.clone(),
            ));
        message.metadata = request.metadata.filter(|m| !m.is_empty());
        let id = self.ids.next_time_id(now);
        thread.push_message(id, Some(caller.user_id.clone()), message, &mut self.changes);
        Ok(id.to_string())
    }

    pub(super) fn visible_from(thread: &Thread, caller: &Caller) -> DateTime {
        thread
            .participant(&caller.user_id)
            .and_then(|p| p.share_history_time)
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// A page of messages, newest first, starting below sequence number `before_seq`.
    pub fn list_messages(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        start_time: Option<DateTime>,
        before_seq: Option<u64>,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<ChatMessage, u64>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        let page = Self::message_page(thread, caller, start_time, before_seq, max_page_size);
        Ok(Listing {
            items: page
                .items
                .into_iter()
                .map(|m| m.message().clone())
                .collect(),
            next: page.next,
        })
    }

    /// [`Self::list_messages`], each message as its JSON (`serde_json::to_vec` of it), which is
    /// made once per version of a message.
    pub fn list_messages_json(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        start_time: Option<DateTime>,
        before_seq: Option<u64>,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<Bytes, u64>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        let page = Self::message_page(thread, caller, start_time, before_seq, max_page_size);
        Ok(Listing {
            items: page.items.into_iter().map(StoredMessage::json).collect(),
            next: page.next,
        })
    }

    fn message_page<'a>(
        thread: &'a Thread,
        caller: &Caller,
        start_time: Option<DateTime>,
        before_seq: Option<u64>,
        max_page_size: usize,
    ) -> Listing<&'a StoredMessage, u64> {
        let from = Self::visible_from(thread, caller);
        let take = max_page_size.max(1);
        let mut matching = thread
            .messages
            .iter()
            .rev()
            .filter(|m| before_seq.is_none_or(|b| m.seq < b))
            .filter(|m| m.message().created_on >= from)
            .filter(|m| start_time.is_none_or(|s| m.last_modified() >= s));
        let items: Vec<&StoredMessage> = matching.by_ref().take(take).collect();
        let more = matching.next().is_some();
        let next = if more {
            items.last().map(|m| m.seq)
        } else {
            None
        };
        Listing { items, next }
    }

    /// The position in `thread.messages` of a message the caller can see.
    pub(super) fn find_message(
        thread: &Thread,
        caller: &Caller,
        message_id: &str,
    ) -> Result<usize, StoreError> {
        let from = Self::visible_from(thread, caller);
        thread
            .messages
            .iter()
            // From the newest: ids are unique, and recent messages are the usual targets.
            .rposition(|m| m.message().id == message_id && m.message().created_on >= from)
            .ok_or_else(|| StoreError::not_found(format!("Message `{message_id}` was not found.")))
    }

    /// One message.
    pub fn get_message(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        message_id: &str,
        now: DateTime,
    ) -> Result<ChatMessage, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        let i = Self::find_message(thread, caller, message_id)?;
        Ok(thread.messages[i].message().clone())
    }

    /// Edits a message; only its sender may.
    pub fn update_message(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        message_id: &str,
        update: MessageUpdate,
        now: DateTime,
    ) -> Result<(), StoreError> {
        if let Some(content) = &update.content {
            self.limits.check_content(content)?;
        }
        let throttle = self.throttle;
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        let i = Self::find_message(thread, caller, message_id)?;
        let message = &thread.messages[i];
        if message.sender.as_deref() != Some(caller.user_id.as_str()) {
            return Err(StoreError::forbidden());
        }
        if message.message().deleted_on.is_some() {
            return Err(StoreError::not_found(format!(
                "Message `{message_id}` was deleted."
            )));
        }
        let mut metadata = message.message().metadata.clone();
        apply_metadata(&mut metadata, &update.metadata);
        self.limits.check_metadata("Metadata", metadata.as_ref())?;
        Self::rate_check(throttle, &self.limits, &mut thread.recent_ops, now)?;
        let version = self.ids.next_time_id(now);
        let m = thread.messages[i].message_mut();
        if let Some(content) = update.content {
            m.content
                .get_or_insert_with(ChatMessageContent::new)
                .message = Some(content);
        }
        m.metadata = metadata;
        m.edited_on = Some(now);
        m.version = version.to_string();
        self.changes.push(Change::MessageUpdated {
            thread_id: thread_id.to_owned(),
            message_id: message_id.to_owned(),
            deleted: false,
        });
        Ok(())
    }

    /// Deletes a message; only its sender may. Deleting it again changes nothing.
    pub fn delete_message(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        message_id: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        let throttle = self.throttle;
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        let i = Self::find_message(thread, caller, message_id)?;
        let message = &thread.messages[i];
        if message.sender.as_deref() != Some(caller.user_id.as_str()) {
            return Err(StoreError::forbidden());
        }
        if message.message().deleted_on.is_some() {
            return Ok(());
        }
        Self::rate_check(throttle, &self.limits, &mut thread.recent_ops, now)?;
        let version = self.ids.next_time_id(now);
        let m = thread.messages[i].message_mut();
        if let Some(content) = m.content.as_mut() {
            content.message = Some(String::new());
        }
        m.metadata = None;
        m.deleted_on = Some(now);
        m.version = version.to_string();
        self.changes.push(Change::MessageUpdated {
            thread_id: thread_id.to_owned(),
            message_id: message_id.to_owned(),
            deleted: true,
        });
        Ok(())
    }
}
