//! Threads: creation (with its repeatability id), listing, properties, deletion and the
//! retention policy.

use std::collections::VecDeque;
use std::time::Duration;

use foldhash::HashMap;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{
    ChatMessage, ChatMessageContent, ChatMessageReadReceipt, ChatMessageType, ChatParticipant,
    ChatRetentionPolicy, ChatThreadItem, ChatThreadProperties, CreateChatThreadRequest,
    CreateChatThreadResult,
};

use super::ids::{identifier_model, normalize};
use super::messages::StoredMessage;
use super::validate::{apply_metadata, check_retention};
use super::{
    Caller, Change, Listing, MAX_LISTED_DELETED_THREADS, Patch, Store, StoreError, ThreadCursor,
    ThreadUpdate, Tombstone,
};

/// A thread and everything in it.
#[derive(Debug, Clone)]
pub(crate) struct Thread {
    pub(crate) props: ChatThreadProperties,
    /// (raw id, participant), in the order they were added.
    pub(crate) participants: Vec<(String, ChatParticipant)>,
    /// In sequence order.
    pub(crate) messages: Vec<StoredMessage>,
    /// (reader's raw id, their latest receipt), in the order of their first receipt.
    pub(crate) receipts: Vec<(String, ChatMessageReadReceipt)>,
    pub(crate) last_message_received_on: DateTime,
    pub(crate) next_seq: u64,
    /// Times of the recent message operations, for throttling (not persisted).
    pub(crate) recent_ops: VecDeque<DateTime>,
}

impl Thread {
    /// An empty thread with these properties.
    pub(crate) fn new(props: ChatThreadProperties) -> Self {
        Self {
            last_message_received_on: props.created_on,
            props,
            participants: Vec::new(),
            messages: Vec::new(),
            receipts: Vec::new(),
            next_seq: 1,
            recent_ops: VecDeque::new(),
        }
    }

    /// Whether a `threadCreationDate` retention policy has run out at `now`.
    fn expired(&self, now: DateTime) -> bool {
        match &self.props.retention_policy {
            Some(ChatRetentionPolicy::ThreadCreationDate(p)) => {
                let days = u64::try_from(p.delete_thread_after_days).unwrap_or(0);
                days.checked_mul(86_400)
                    .and_then(|secs| self.props.created_on.checked_add(Duration::from_secs(secs)))
                    .is_some_and(|end| end <= now)
            }
            _ => false,
        }
    }

    pub(crate) fn participant(&self, raw_id: &str) -> Option<&ChatParticipant> {
        self.participants
            .iter()
            .find(|(id, _)| id == raw_id)
            .map(|(_, p)| p)
    }

    /// The message `id`, searching from the newest (message ids are unique, and the message a
    /// change names is nearly always one of the last), so that finding the message just
    /// sent does not grow with the thread.
    pub(crate) fn message_by_id(&self, id: &str) -> Option<&StoredMessage> {
        self.messages.iter().rev().find(|m| m.message().id == id)
    }

    /// Appends a message with id (and version) `id` and the next sequence number, recording it
    /// in `changes`.
    pub(super) fn push_message(
        &mut self,
        id: u64,
        sender: Option<String>,
        message: ChatMessage,
        changes: &mut Vec<Change>,
    ) {
        self.last_message_received_on = message.created_on;
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut message = message;
        message.id = id.to_string();
        message.sequence_id = seq.to_string();
        message.version.clone_from(&message.id);
        changes.push(Change::MessageAdded {
            thread_id: self.props.id.clone(),
            message_id: message.id.clone(),
        });
        self.messages.push(StoredMessage::new(seq, sender, message));
    }

    /// Appends a system message (`participantAdded`, `participantRemoved`, `topicUpdated`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn system_message(
        &mut self,
        id: u64,
        kind: ChatMessageType,
        initiator: &str,
        participants: Option<Vec<ChatParticipant>>,
        topic: Option<String>,
        now: DateTime,
        changes: &mut Vec<Change>,
    ) {
        let mut content = ChatMessageContent::new();
        content.initiator_communication_identifier = Some(identifier_model(initiator));
        content.participants = participants;
        content.topic = topic;
        let mut message = ChatMessage::new(now, "", "", kind, "");
        message.content = Some(content);
        self.push_message(id, None, message, changes);
    }
}

impl Store {
    /// Deletes the thread `thread_id` if its retention policy has run out at `now`.
    pub(super) fn expire_thread(&mut self, thread_id: &str, now: DateTime) {
        if self.threads.get(thread_id).is_some_and(|t| t.expired(now)) {
            self.remove_thread(thread_id, None, now);
        }
    }

    /// Deletes a thread, `by` a participant or (`None`) by its retention policy.
    fn remove_thread(&mut self, thread_id: &str, by: Option<&str>, now: DateTime) {
        let removed = self.threads.remove(thread_id);
        let participants: Vec<String> = removed
            .as_ref()
            .map(|t| t.participants.iter().map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        if let Some(thread) = removed {
            self.tombstones.insert(
                thread_id.to_owned(),
                Tombstone {
                    topic: thread.props.topic,
                    deleted_on: now,
                    last_message_received_on: thread.last_message_received_on,
                    members: participants.clone(),
                },
            );
            if self.tombstones.len() > MAX_LISTED_DELETED_THREADS {
                let oldest = self
                    .tombstones
                    .iter()
                    .min_by(|a, b| (a.1.deleted_on, a.0).cmp(&(b.1.deleted_on, b.0)))
                    .map(|(id, _)| id.clone());
                if let Some(oldest) = oldest {
                    self.tombstones.remove(&oldest);
                }
            }
        }
        self.deleted_threads.insert(thread_id.to_owned());
        self.record(Change::ThreadDeleted {
            thread_id: thread_id.to_owned(),
            by: by.map(str::to_owned),
            participants,
        });
    }

    /// The thread `thread_id`, when it exists (404) and the caller is a participant (403);
    /// a thread whose retention policy ran out is deleted first.
    pub(super) fn thread(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<&mut Thread, StoreError> {
        self.expire_thread(thread_id, now);
        Self::lookup(&mut self.threads, caller, thread_id)
    }

    /// [`Self::thread`] without the retention check (done before), borrowing only the threads,
    /// for methods that change other fields of the store meanwhile.
    pub(super) fn lookup<'a>(
        threads: &'a mut HashMap<String, Thread>,
        caller: &Caller,
        thread_id: &str,
    ) -> Result<&'a mut Thread, StoreError> {
        let thread = threads
            .get_mut(thread_id)
            .ok_or_else(|| StoreError::not_found(format!("Thread `{thread_id}` was not found.")))?;
        if thread.participant(&caller.user_id).is_none() {
            return Err(StoreError::forbidden());
        }
        Ok(thread)
    }

    /// Creates a thread. With a `repeatability_request_id` already used by this caller with the
    /// same request, returns the first result instead of creating another thread (409 when the
    /// request differs).
    pub fn create_thread(
        &mut self,
        caller: &Caller,
        request: CreateChatThreadRequest,
        repeatability_request_id: Option<&str>,
        now: DateTime,
    ) -> Result<CreateChatThreadResult, StoreError> {
        let key = repeatability_request_id.map(|id| (caller.user_id.clone(), id.to_owned()));
        if let Some(key) = &key
            && let Some((first, result)) = self.repeatability.get(key)
        {
            return if *first == request {
                Ok(result.clone())
            } else {
                Err(StoreError::new(
                    409,
                    "Conflict",
                    "The repeatability-request-id was already used with a different request.",
                ))
            };
        }
        self.limits.check_topic(&request.topic)?;
        self.limits
            .check_metadata("Metadata", request.metadata.as_ref())?;
        check_retention(request.retention_policy.as_ref())?;
        let requested = request.participants.as_deref().unwrap_or_default();
        self.limits.check_participants(requested)?;
        // The creator first, with what the request says about them.
        let creator_entry = requested.iter().find(|p| {
            normalize(&p.communication_identifier).is_some_and(|(raw, _)| raw == caller.user_id)
        });
        let mut creator = ChatParticipant::new(identifier_model(&caller.user_id));
        if let Some(entry) = creator_entry {
            creator.display_name = entry.display_name.clone();
            creator.metadata = entry.metadata.clone();
            creator.share_history_time = entry.share_history_time;
        }
        creator.share_history_time =
            Some(creator.share_history_time.unwrap_or(DateTime::UNIX_EPOCH));
        let existing = vec![(caller.user_id.clone(), creator)];
        let (added, invalid) =
            Self::sort_participants(&self.users, &self.limits, &existing, requested);
        let mut participants = existing;
        participants.extend(added);

        let thread_id = format!("19:{}@thread.v2", self.ids.next_uuid().simple());
        let mut props = ChatThreadProperties::new(
            identifier_model(&caller.user_id),
            now,
            thread_id.clone(),
            request.topic.clone(),
        );
        props.metadata = request.metadata.clone().filter(|m| !m.is_empty());
        props.retention_policy = request.retention_policy.clone();
        self.record(Change::ThreadCreated {
            thread_id: thread_id.clone(),
        });
        self.record(Change::ParticipantsAdded {
            thread_id: thread_id.clone(),
            user_ids: participants.iter().map(|(id, _)| id.clone()).collect(),
            by: caller.user_id.clone(),
        });
        let mut thread = Thread::new(props.clone());
        thread.participants = participants;
        let all: Vec<ChatParticipant> =
            thread.participants.iter().map(|(_, p)| p.clone()).collect();
        let id = self.ids.next_time_id(now);
        thread.system_message(
            id,
            ChatMessageType::ParticipantAdded,
            &caller.user_id,
            Some(all),
            None,
            now,
            &mut self.changes,
        );
        self.threads.insert(thread_id, thread);

        let mut result = CreateChatThreadResult::new();
        result.chat_thread = Some(props);
        result.invalid_participants = (!invalid.is_empty()).then_some(invalid);
        if let Some((user_id, request_id)) = key {
            self.record(Change::RepeatabilityRecorded {
                user_id: user_id.clone(),
                request_id: request_id.clone(),
            });
            self.repeatability
                .insert((user_id, request_id), (request, result.clone()));
        }
        Ok(result)
    }

    /// The caller's threads, most recent activity first; `start_time` keeps the threads with a
    /// message at or after it.
    pub fn list_threads(
        &mut self,
        caller: &Caller,
        start_time: Option<DateTime>,
        after: Option<&ThreadCursor>,
        max_page_size: usize,
        now: DateTime,
    ) -> Listing<ChatThreadItem, ThreadCursor> {
        let expired: Vec<String> = self
            .threads
            .values()
            .filter(|t| t.expired(now))
            .map(|t| t.props.id.clone())
            .collect();
        for id in expired {
            self.remove_thread(&id, None, now);
        }
        // The caller's threads, and the deleted ones it was in (with `deletedOn`), ordered and
        // filtered by their latest activity: a message, or the deletion.
        let live = self
            .threads
            .values()
            .filter(|t| t.participant(&caller.user_id).is_some())
            .map(|t| {
                let mut item = ChatThreadItem::new(t.props.id.clone(), t.props.topic.clone());
                item.last_message_received_on = Some(t.last_message_received_on);
                (t.last_message_received_on, item)
            });
        let deleted = self
            .tombstones
            .iter()
            .filter(|(_, t)| t.members.contains(&caller.user_id))
            .map(|(id, t)| {
                let mut item = ChatThreadItem::new(id.clone(), t.topic.clone());
                item.last_message_received_on = Some(t.last_message_received_on);
                item.deleted_on = Some(t.deleted_on);
                (t.activity(), item)
            });
        let mut mine: Vec<(DateTime, ChatThreadItem)> = live
            .chain(deleted)
            .filter(|(activity, _)| start_time.is_none_or(|s| *activity >= s))
            .collect();
        mine.sort_by(|a, b| (b.0, &b.1.id).cmp(&(a.0, &a.1.id)));
        let start = match after {
            None => 0,
            Some(c) => mine
                .iter()
                .position(|(activity, t)| (*activity, &t.id) < (c.last_message_received_on, &c.id))
                .unwrap_or(mine.len()),
        };
        let take = max_page_size.max(1);
        let more = mine.len() - start > take;
        let page: Vec<(DateTime, ChatThreadItem)> =
            mine.into_iter().skip(start).take(take).collect();
        let next = match page.last() {
            Some((activity, last)) if more => Some(ThreadCursor {
                last_message_received_on: *activity,
                id: last.id.clone(),
            }),
            _ => None,
        };
        Listing {
            items: page.into_iter().map(|(_, item)| item).collect(),
            next,
        }
    }

    /// A thread's properties.
    pub fn get_thread(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<ChatThreadProperties, StoreError> {
        self.thread(caller, thread_id, now).map(|t| t.props.clone())
    }

    /// Updates topic, metadata or retention policy; a new topic records a `topicUpdated`
    /// system message.
    pub fn update_thread(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        update: ThreadUpdate,
        now: DateTime,
    ) -> Result<(), StoreError> {
        if let Patch::Set(p) = &update.retention_policy {
            check_retention(Some(p))?;
        }
        if let Some(topic) = &update.topic {
            self.limits.check_topic(topic)?;
        }
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        let mut metadata = thread.props.metadata.clone();
        apply_metadata(&mut metadata, &update.metadata);
        self.limits.check_metadata("Metadata", metadata.as_ref())?;
        thread.props.metadata = metadata;
        match update.retention_policy {
            Patch::Keep => {}
            Patch::Clear => thread.props.retention_policy = None,
            Patch::Set(p) => thread.props.retention_policy = Some(p),
        }
        self.changes.push(Change::ThreadUpdated {
            thread_id: thread_id.to_owned(),
            by: caller.user_id.clone(),
        });
        if let Some(topic) = update.topic
            && topic != thread.props.topic
        {
            thread.props.topic = topic.clone();
            let id = self.ids.next_time_id(now);
            thread.system_message(
                id,
                ChatMessageType::TopicUpdated,
                &caller.user_id,
                None,
                Some(topic),
                now,
                &mut self.changes,
            );
        }
        Ok(())
    }

    /// Deletes a thread for everyone.
    pub fn delete_thread(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        self.thread(caller, thread_id, now)?;
        self.remove_thread(thread_id, Some(&caller.user_id), now);
        Ok(())
    }

    /// Whether a thread was deleted (by a participant or its retention policy).
    pub fn is_thread_deleted(&self, thread_id: &str) -> bool {
        self.deleted_threads.contains(thread_id)
    }
}
