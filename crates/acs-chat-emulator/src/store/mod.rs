//! The emulator's state: a pure, in-memory state machine.
//!
//! [`Store`] holds users, access-token records, threads, messages, participants and read
//! receipts. It performs no IO and reads no clock: every method that depends on time takes
//! `now`, and ids come from a seed given to [`Store::new`]. The HTTP layer
//! ([`Service`](crate::Service)) translates requests into calls on the store, and
//! [`StoreError`]s into error responses.
//!
//! Semantics (the real service documents few of them; where this is an inference it says so):
//! - Threads: the creator always becomes a participant; creating a thread records one
//!   `participantAdded` system message listing the initial participants. Deleting a thread
//!   removes it for everyone (later calls: 404). A `threadCreationDate` retention policy deletes
//!   the thread once `deleteThreadAfterDays` have passed.
//! - Messages: ids are numeric strings that grow (milliseconds since the epoch, bumped to stay
//!   unique); `sequenceId` counts the thread's messages from 1; `version` is the id of the last
//!   change. Deleted messages stay in listings with `deletedOn` set and their text removed, so a
//!   client that syncs sees the deletion. Listing is newest first (by `sequenceId`); `startTime`
//!   keeps the messages created, edited or deleted at or after it; a participant sees only the
//!   messages created at or after their `shareHistoryTime` (default: the epoch, all history).
//! - Participants: only users created by this emulator (and not deleted) can be added; others
//!   come back in `invalidParticipants` (`404 Not found` for unknown ACS users, `403 Permissions
//!   check failed` for other identifier kinds), and the valid ones are added.
//! - Throttling (off unless [`Store::set_throttle`]): sending, editing and deleting messages is
//!   limited per thread to 10 per 10 seconds and 30 per minute, the documented limits.
//! - Limits ([`ServiceLimits`], cited there): content, metadata, topic and display-name sizes
//!   and participant counts are checked before anything changes (400 `ValidationError`).
//!
//! Every change of the state is recorded as a [`Change`]: [`Store::take_changes`] hands them
//! over, in order, so that a layer under the store (persistence) can write exactly what changed,
//! and events can be made from them.

mod errors;
mod ids;
mod messages;
mod participants;
mod receipts;
mod threads;
mod users;
mod validate;

use std::collections::{BTreeMap, HashSet};

// The store's maps are looked up on every request (threads, tokens): foldhash, seeded per
// process, instead of SipHash (about 270 instructions less per lookup of an id).
use foldhash::HashMap;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{
    ChatParticipant, ChatRetentionPolicy, CreateChatThreadRequest, CreateChatThreadResult,
};

pub use errors::StoreError;

use crate::limits::ServiceLimits;
pub(crate) use ids::Ids;
pub(crate) use messages::StoredMessage;
pub(crate) use threads::Thread;
pub(crate) use users::TokenRecord;

/// Token lifetime bounds in minutes (the Identity API's `expiresInMinutes` range).
pub const TOKEN_MINUTES_RANGE: std::ops::RangeInclusive<i64> = 60..=1440;
/// Retention policy bounds in days (documented: automatic deletion between 30 and 90 days).
pub const RETENTION_DAYS_RANGE: std::ops::RangeInclusive<i32> = 30..=90;

/// Who is calling: the user an access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's raw id (`8:acs:…`).
    pub user_id: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// A caller acting as `user_id` with `scopes`.
    pub fn new(user_id: impl Into<String>, scopes: Vec<String>) -> Self {
        Self {
            user_id: user_id.into(),
            scopes,
        }
    }
}

/// A token issued by [`Store::issue_token`]: what the JWT carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenGrant {
    /// The token's unique id (a claim of the JWT).
    pub token_id: String,
    /// The user the token was issued to.
    pub user_id: String,
    /// The scopes.
    pub scopes: Vec<String>,
    /// When it was issued.
    pub issued_at: DateTime,
    /// When it expires.
    pub expires_on: DateTime,
}

/// One page of a listing and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listing<T, C> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The continuation of the next page, when there is one.
    pub next: Option<C>,
}

/// Where the next page of threads starts: after this (`lastMessageReceivedOn`, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCursor {
    /// The last returned thread's `lastMessageReceivedOn`.
    pub last_message_received_on: DateTime,
    /// The last returned thread's id.
    pub id: String,
}

/// A JSON merge-patch value of one field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not in the patch: unchanged.
    #[default]
    Keep,
    /// `null` in the patch: removed.
    Clear,
    /// A value in the patch.
    Set(T),
}

/// A metadata patch: keys mapped to a new value, or to `None` to remove them.
pub type MetadataPatch = BTreeMap<String, Option<String>>;

/// The changes of an update-thread call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ThreadUpdate {
    /// A new topic.
    pub topic: Option<String>,
    /// Metadata changes.
    pub metadata: Patch<MetadataPatch>,
    /// A new (or no) retention policy.
    pub retention_policy: Patch<ChatRetentionPolicy>,
}

/// The changes of an update-message call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MessageUpdate {
    /// New content.
    pub content: Option<String>,
    /// Metadata changes.
    pub metadata: Patch<MetadataPatch>,
}

/// One change of the store's state, recorded by the method that made it (see
/// [`Store::take_changes`]). Each names what changed; the new state is read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A user was created.
    UserCreated {
        /// The user's raw id.
        user_id: String,
    },
    /// A user was deleted, with their tokens.
    UserDeleted {
        /// The user's raw id.
        user_id: String,
    },
    /// A token was issued.
    TokenIssued {
        /// The token's id.
        token_id: String,
    },
    /// Every token of a user was revoked.
    TokensRevoked {
        /// The user's raw id.
        user_id: String,
    },
    /// A thread was created (its participants and first message follow as their own changes).
    ThreadCreated {
        /// The thread's id.
        thread_id: String,
    },
    /// A thread's properties (topic, metadata, retention policy) changed.
    ThreadUpdated {
        /// The thread's id.
        thread_id: String,
        /// The raw id of the participant who changed them.
        by: String,
    },
    /// A thread was deleted, by a participant or by its retention policy.
    ThreadDeleted {
        /// The thread's id.
        thread_id: String,
        /// The raw id of the participant who deleted it; `None` when its retention policy
        /// did.
        by: Option<String>,
        /// The raw ids of its participants when it was deleted (who hears of it).
        participants: Vec<String>,
    },
    /// A message (a user's or a system message) was added to a thread.
    MessageAdded {
        /// The thread's id.
        thread_id: String,
        /// The message's id.
        message_id: String,
    },
    /// A message was edited or deleted.
    MessageUpdated {
        /// The thread's id.
        thread_id: String,
        /// The message's id.
        message_id: String,
        /// Whether this change deleted it (else it was edited).
        deleted: bool,
    },
    /// Participants were added to a thread.
    ParticipantsAdded {
        /// The thread's id.
        thread_id: String,
        /// The raw ids of the participants added.
        user_ids: Vec<String>,
        /// The raw id of the participant who added them (the creator, for a new thread).
        by: String,
    },
    /// A participant was removed from a thread.
    ParticipantRemoved {
        /// The thread's id.
        thread_id: String,
        /// The raw id of the participant removed.
        user_id: String,
        /// The participant as it was in the thread.
        participant: ChatParticipant,
        /// The raw id of the participant who removed them (themselves, when they left).
        by: String,
    },
    /// A participant's read receipt was set.
    ReadReceiptSent {
        /// The thread's id.
        thread_id: String,
        /// The reader's raw id.
        user_id: String,
    },
    /// A participant sent a typing notification. Nothing in the state changes: it is
    /// recorded so that its event is published.
    TypingSent {
        /// The thread's id.
        thread_id: String,
        /// The raw id of who is typing.
        user_id: String,
        /// The display name the notification gave.
        sender_display_name: Option<String>,
    },
    /// A create-thread request with a repeatability id was recorded.
    RepeatabilityRecorded {
        /// The caller's raw id.
        user_id: String,
        /// The `repeatability-request-id`.
        request_id: String,
    },
}

/// The first result of a create-thread call with a repeatability id, by (caller, request id).
pub(crate) type Repeatability =
    HashMap<(String, String), (CreateChatThreadRequest, CreateChatThreadResult)>;

/// How many deleted threads stay in their participants' thread lists (with `deletedOn`), the
/// most recently deleted first. The service lists deleted threads with their `deletedOn` (seen
/// in the wild: azure-sdk-for-java#47688); for how long is not documented, so this bound is an
/// inference of ours.
pub const MAX_LISTED_DELETED_THREADS: usize = 10_000;

/// What the thread list still shows of a deleted thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub(crate) topic: String,
    pub(crate) deleted_on: DateTime,
    pub(crate) last_message_received_on: DateTime,
    /// The raw ids of its participants when it was deleted.
    pub(crate) members: Vec<String>,
}

impl Tombstone {
    /// When it last changed: the order and `startTime` key of the thread list.
    pub(crate) fn activity(&self) -> DateTime {
        self.last_message_received_on.max(self.deleted_on)
    }
}

/// The in-memory state of one emulated ACS resource. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) resource_id: String,
    pub(crate) ids: Ids,
    throttle: bool,
    limits: ServiceLimits,
    pub(crate) users: HashSet<String>,
    pub(crate) tokens: HashMap<String, TokenRecord>,
    pub(crate) threads: HashMap<String, Thread>,
    pub(crate) deleted_threads: HashSet<String>,
    /// The deleted threads the thread list still shows (at most
    /// [`MAX_LISTED_DELETED_THREADS`]).
    pub(crate) tombstones: HashMap<String, Tombstone>,
    pub(crate) repeatability: Repeatability,
    changes: Vec<Change>,
}

impl Store {
    /// An empty store for the resource `resource_id`; `seed` makes the generated ids (users,
    /// threads, tokens) unique to this store and reproducible in tests.
    pub fn new(resource_id: impl Into<String>, seed: u128) -> Self {
        Self {
            resource_id: resource_id.into(),
            ids: Ids::new(seed),
            throttle: false,
            limits: ServiceLimits::default(),
            users: HashSet::new(),
            tokens: HashMap::default(),
            threads: HashMap::default(),
            deleted_threads: HashSet::new(),
            tombstones: HashMap::default(),
            repeatability: HashMap::default(),
            changes: Vec::new(),
        }
    }

    /// The resource id that user ids carry (`8:acs:<resource id>_<uuid>`).
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// The limits the store enforces (default: [`ServiceLimits::default`]).
    pub fn set_limits(&mut self, limits: ServiceLimits) {
        self.limits = limits;
    }

    /// The limits the store enforces.
    pub fn limits(&self) -> &ServiceLimits {
        &self.limits
    }

    /// Turns the per-thread message rate limits on or off.
    pub fn set_throttle(&mut self, on: bool) {
        self.throttle = on;
    }

    /// Takes the configuration (throttling, limits) of `other`, for a store loaded from disk.
    pub(crate) fn configure_like(&mut self, other: &Store) {
        self.throttle = other.throttle;
        self.limits = other.limits.clone();
    }

    fn record(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// The changes made since the last call, oldest first. A failed call may have changed
    /// something too (a thread whose retention policy ran out is deleted on the way).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }
}

/// A page of `max_page_size` (at least 1) items from position `skip` of a list of `len` items,
/// with the position of the next page when there is one.
fn skip_page<'a, T: Clone + 'a>(
    values: impl Iterator<Item = &'a T>,
    len: usize,
    skip: usize,
    max_page_size: usize,
) -> Listing<T, usize> {
    let items: Vec<T> = values
        .skip(skip)
        .take(max_page_size.max(1))
        .cloned()
        .collect();
    let end = skip.saturating_add(items.len());
    Listing {
        items,
        next: (end < len).then_some(end),
    }
}

#[cfg(test)]
mod tests;
