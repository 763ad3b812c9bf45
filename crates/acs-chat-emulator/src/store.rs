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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use acs_chat_protocol::models::{
    AddChatParticipantsResult, ChatMessage, ChatMessageContent, ChatMessageReadReceipt,
    ChatMessageType, ChatParticipant, ChatRetentionPolicy, ChatThreadItem, ChatThreadProperties,
    CommunicationError, CommunicationErrorResponse, CommunicationIdentifierModel,
    CommunicationIdentifierModelKind, CreateChatThreadRequest, CreateChatThreadResult,
    SendChatMessageRequest,
};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};

/// At most this many participants in a thread (documented service limit).
pub const MAX_PARTICIPANTS_PER_THREAD: usize = 250;
/// At most this many participants in one create-thread or add-participants call (documented).
pub const MAX_PARTICIPANTS_PER_CALL: usize = 200;
/// Thread and participant metadata: at most this many bytes of keys and values in total.
pub const MAX_METADATA_BYTES: usize = 1024;
/// A message's content: at most this many bytes (the documented 28 KB).
pub const MAX_MESSAGE_CONTENT_BYTES: usize = 28 * 1024;
/// Message operations (send, edit, delete) allowed per thread in 10 seconds with throttling on.
pub const MESSAGE_OPS_PER_10_SECONDS: usize = 10;
/// Message operations allowed per thread in a minute with throttling on.
pub const MESSAGE_OPS_PER_MINUTE: usize = 30;
/// Token lifetime bounds in minutes (the Identity API's `expiresInMinutes` range).
pub const TOKEN_MINUTES_RANGE: std::ops::RangeInclusive<i64> = 60..=1440;
/// Retention policy bounds in days (documented: automatic deletion between 30 and 90 days).
pub const RETENTION_DAYS_RANGE: std::ops::RangeInclusive<i32> = 30..=90;

/// The failure of a store operation, with the HTTP status and error body it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    status: u16,
    code: String,
    message: String,
    target: Option<String>,
    retry_after: Option<u64>,
}

impl StoreError {
    /// An error with a status, a code and a message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            target: None,
            retry_after: None,
        }
    }

    /// Sets the `target` of the error body (the field at fault).
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub(crate) fn bad_request(target: &str, message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message).with_target(target)
    }

    pub(crate) fn validation(target: &str, message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message).with_target(target)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(
            403,
            "Forbidden",
            "User is not allowed to perform specified action.",
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    pub(crate) fn too_large(target: &str, message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message).with_target(target)
    }

    /// Sets the seconds of the response's `Retry-After` header.
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn throttled(retry_after: u64) -> Self {
        Self::new(429, "TooManyRequests", "Rate limit exceeded.")
            .with_retry_after(retry_after.max(1))
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error code of the body.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message of the body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The target of the body, when a field is at fault.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Seconds to wait, for a 429.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after
    }

    /// The `{"error": {...}}` body.
    pub fn to_model(&self) -> CommunicationErrorResponse {
        let mut error = CommunicationError::new(self.code.clone(), self.message.clone());
        error.target = self.target.clone();
        CommunicationErrorResponse::new(error)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for StoreError {}

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

#[derive(Debug, Clone)]
struct TokenRecord {
    user_id: String,
    expires_on: DateTime,
    scopes: Vec<String>,
}

mod stored {
    use std::sync::OnceLock;

    use acs_chat_protocol::DateTime;
    use acs_chat_protocol::models::ChatMessage;
    use bytes::Bytes;

    /// A message of a thread, with its JSON, made the first time it is needed and forgotten
    /// at every change (the message can only be changed through [`Self::message_mut`]).
    #[derive(Debug, Clone)]
    pub(super) struct StoredMessage {
        pub(super) seq: u64,
        pub(super) sender: Option<String>,
        message: ChatMessage,
        json: OnceLock<Bytes>,
    }

    impl StoredMessage {
        pub(super) fn new(seq: u64, sender: Option<String>, message: ChatMessage) -> Self {
            Self {
                seq,
                sender,
                message,
                json: OnceLock::new(),
            }
        }

        pub(super) fn message(&self) -> &ChatMessage {
            &self.message
        }

        /// The message, to change; forgets its JSON.
        pub(super) fn message_mut(&mut self) -> &mut ChatMessage {
            self.json = OnceLock::new();
            &mut self.message
        }

        /// The message as JSON (`serde_json::to_vec` of it).
        pub(super) fn json(&self) -> Bytes {
            self.json
                .get_or_init(|| Bytes::from(serde_json::to_vec(&self.message).unwrap_or_default()))
                .clone()
        }

        pub(super) fn last_modified(&self) -> DateTime {
            let m = &self.message;
            [Some(m.created_on), m.edited_on, m.deleted_on]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(m.created_on)
        }
    }
}

use stored::StoredMessage;

#[derive(Debug, Clone)]
struct Thread {
    props: ChatThreadProperties,
    participants: Vec<(String, ChatParticipant)>,
    messages: Vec<StoredMessage>,
    receipts: Vec<(String, ChatMessageReadReceipt)>,
    last_message_received_on: DateTime,
    next_seq: u64,
    recent_ops: VecDeque<DateTime>,
}

impl Thread {
    /// Whether a `threadCreationDate` retention policy has run out at `now`.
    fn expired(&self, now: DateTime) -> bool {
        match &self.props.retention_policy {
            Some(ChatRetentionPolicy::ThreadCreationDate(p)) => {
                let days = u64::try_from(p.delete_thread_after_days).unwrap_or(0);
                self.props
                    .created_on
                    .checked_add(Duration::from_secs(86_400 * days))
                    .is_some_and(|end| end <= now)
            }
            _ => false,
        }
    }

    fn participant(&self, raw_id: &str) -> Option<&ChatParticipant> {
        self.participants
            .iter()
            .find(|(id, _)| id == raw_id)
            .map(|(_, p)| p)
    }

    fn push_message(&mut self, id: u64, sender: Option<String>, message: ChatMessage) {
        self.last_message_received_on = message.created_on;
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut message = message;
        message.id = id.to_string();
        message.sequence_id = seq.to_string();
        message.version.clone_from(&message.id);
        self.messages.push(StoredMessage::new(seq, sender, message));
    }

    fn system_message(
        &mut self,
        id: u64,
        kind: ChatMessageType,
        initiator: &str,
        participants: Option<Vec<ChatParticipant>>,
        topic: Option<String>,
        now: DateTime,
    ) {
        let mut content = ChatMessageContent::new();
        content.initiator_communication_identifier = Some(identifier_model(initiator));
        content.participants = participants;
        content.topic = topic;
        let mut message = ChatMessage::new(now, "", "", kind, "");
        message.content = Some(content);
        self.push_message(id, None, message);
    }
}

/// Ids that grow: milliseconds since the epoch, bumped by one when two fall in the same
/// millisecond (or the clock steps back).
#[derive(Debug, Clone, Default)]
struct IdClock {
    last: u64,
}

impl IdClock {
    fn next(&mut self, now: DateTime) -> u64 {
        let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.last = ms.max(self.last + 1);
        self.last
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The normalised response form of an identifier: `kind`, `rawId` and the kind's member.
pub(crate) fn identifier_model(raw_id: &str) -> CommunicationIdentifierModel {
    let id = CommunicationIdentifier::from_raw_id(raw_id);
    let mut m = id.to_model();
    m.kind = Some(id.kind());
    m
}

fn normalize(model: &CommunicationIdentifierModel) -> Option<(String, CommunicationIdentifier)> {
    let id = CommunicationIdentifier::from_model(model);
    let raw = id.raw_id();
    (!raw.is_empty()).then_some((raw, id))
}

fn metadata_size(metadata: &BTreeMap<String, String>) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn check_metadata(
    target: &str,
    metadata: Option<&BTreeMap<String, String>>,
) -> Result<(), StoreError> {
    match metadata {
        Some(m) if metadata_size(m) > MAX_METADATA_BYTES => Err(StoreError::validation(
            target,
            format!(
                "{target} must not exceed {MAX_METADATA_BYTES} bytes in total (keys and values)."
            ),
        )),
        _ => Ok(()),
    }
}

fn check_retention(policy: Option<&ChatRetentionPolicy>) -> Result<(), StoreError> {
    match policy {
        None | Some(ChatRetentionPolicy::None(_)) => Ok(()),
        Some(ChatRetentionPolicy::ThreadCreationDate(p)) => {
            if RETENTION_DAYS_RANGE.contains(&p.delete_thread_after_days) {
                Ok(())
            } else {
                Err(StoreError::validation(
                    "RetentionPolicy.DeleteThreadAfterDays",
                    format!(
                        "deleteThreadAfterDays value {} is invalid. Value must be within the [{}, {}] interval.",
                        p.delete_thread_after_days,
                        RETENTION_DAYS_RANGE.start(),
                        RETENTION_DAYS_RANGE.end()
                    ),
                ))
            }
        }
        Some(_) => Err(StoreError::validation(
            "RetentionPolicy.Kind",
            "retentionPolicy.kind must be `threadCreationDate` or `none`.",
        )),
    }
}

fn apply_metadata(current: &mut Option<BTreeMap<String, String>>, patch: &Patch<MetadataPatch>) {
    match patch {
        Patch::Keep => {}
        Patch::Clear => *current = None,
        Patch::Set(changes) => {
            let map = current.get_or_insert_with(BTreeMap::new);
            for (k, v) in changes {
                match v {
                    Some(v) => {
                        map.insert(k.clone(), v.clone());
                    }
                    None => {
                        map.remove(k);
                    }
                }
            }
            if map.is_empty() {
                *current = None;
            }
        }
    }
}

fn check_content(content: &str) -> Result<(), StoreError> {
    if content.len() > MAX_MESSAGE_CONTENT_BYTES {
        Err(StoreError::too_large(
            "Content",
            format!(
                "The message content is {} bytes; the limit is {MAX_MESSAGE_CONTENT_BYTES} bytes.",
                content.len()
            ),
        ))
    } else {
        Ok(())
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The in-memory state of one emulated ACS resource. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Store {
    resource_id: String,
    seed: u128,
    counter: u64,
    ids: IdClock,
    throttle: bool,
    users: HashSet<String>,
    tokens: HashMap<String, TokenRecord>,
    threads: HashMap<String, Thread>,
    deleted_threads: HashSet<String>,
    repeatability: HashMap<(String, String), (CreateChatThreadRequest, CreateChatThreadResult)>,
}

impl Store {
    /// An empty store for the resource `resource_id`; `seed` makes the generated ids (users,
    /// threads, tokens) unique to this store and reproducible in tests.
    pub fn new(resource_id: impl Into<String>, seed: u128) -> Self {
        Self {
            resource_id: resource_id.into(),
            seed,
            counter: 0,
            ids: IdClock::default(),
            throttle: false,
            users: HashSet::new(),
            tokens: HashMap::new(),
            threads: HashMap::new(),
            deleted_threads: HashSet::new(),
            repeatability: HashMap::new(),
        }
    }

    /// The resource id that user ids carry (`8:acs:<resource id>_<uuid>`).
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// Turns the per-thread message rate limits on or off.
    pub fn set_throttle(&mut self, on: bool) {
        self.throttle = on;
    }

    fn next_uuid(&mut self) -> uuid::Uuid {
        self.counter += 1;
        let n = self.counter;
        let hi = splitmix(self.seed as u64 ^ n);
        let lo = splitmix((self.seed >> 64) as u64 ^ n.rotate_left(29) ^ 0xA5A5_5A5A);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    // ---- identity ------------------------------------------------------------------------

    /// Creates a user and returns its raw id, `8:acs:<resource id>_<uuid>`.
    pub fn create_user(&mut self) -> String {
        loop {
            let uuid = self.next_uuid();
            let id = format!("8:acs:{}_{uuid}", self.resource_id);
            if self.users.insert(id.clone()) {
                return id;
            }
        }
    }

    /// Whether `user_id` is a live user of this resource.
    pub fn user_exists(&self, user_id: &str) -> bool {
        self.users.contains(user_id)
    }

    fn require_user(&self, user_id: &str) -> Result<(), StoreError> {
        if self.users.contains(user_id) {
            Ok(())
        } else {
            Err(StoreError::not_found(format!(
                "Identity `{user_id}` was not found."
            )))
        }
    }

    /// Deletes a user and revokes its tokens. Its threads and messages stay.
    pub fn delete_user(&mut self, user_id: &str) -> Result<(), StoreError> {
        self.require_user(user_id)?;
        self.users.remove(user_id);
        self.tokens.retain(|_, t| t.user_id != user_id);
        Ok(())
    }

    /// Records a token for `user_id`, valid for `ttl` from `now`.
    pub fn issue_token(
        &mut self,
        user_id: &str,
        scopes: Vec<String>,
        ttl: Duration,
        now: DateTime,
    ) -> Result<TokenGrant, StoreError> {
        self.require_user(user_id)?;
        // Whole seconds, so that `expiresOn` and the JWT's `exp` agree.
        let expires_on = now
            .checked_add(ttl)
            .and_then(|t| DateTime::from_unix_timestamp(t.unix_timestamp()).ok())
            .ok_or_else(|| {
                StoreError::validation("ExpiresInMinutes", "The token lifetime is out of range.")
            })?;
        let token_id = self.next_uuid().simple().to_string();
        self.tokens.insert(
            token_id.clone(),
            TokenRecord {
                user_id: user_id.to_owned(),
                expires_on,
                scopes: scopes.clone(),
            },
        );
        Ok(TokenGrant {
            token_id,
            user_id: user_id.to_owned(),
            scopes,
            issued_at: now,
            expires_on,
        })
    }

    /// Revokes every token of `user_id`.
    pub fn revoke_tokens(&mut self, user_id: &str) -> Result<(), StoreError> {
        self.require_user(user_id)?;
        self.tokens.retain(|_, t| t.user_id != user_id);
        Ok(())
    }

    /// The caller a token (by its id, for the user it names) stands for at `now`: 401 when the
    /// token is unknown, revoked, of a deleted user, or expired.
    pub fn authenticate(
        &mut self,
        token_id: &str,
        user_id: &str,
        now: DateTime,
    ) -> Result<Caller, StoreError> {
        let record = self
            .tokens
            .get(token_id)
            .filter(|t| t.user_id == user_id)
            .ok_or_else(|| {
                StoreError::unauthorized("The access token is not valid or was revoked.")
            })?;
        if record.expires_on <= now {
            return Err(StoreError::unauthorized("The access token has expired."));
        }
        Ok(Caller::new(record.user_id.clone(), record.scopes.clone()))
    }

    // ---- threads -------------------------------------------------------------------------

    fn thread_mut<'a>(
        threads: &'a mut HashMap<String, Thread>,
        deleted: &mut HashSet<String>,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<&'a mut Thread, StoreError> {
        let expired = threads.get(thread_id).is_some_and(|t| t.expired(now));
        if expired {
            threads.remove(thread_id);
            deleted.insert(thread_id.to_owned());
        }
        let thread = threads
            .get_mut(thread_id)
            .ok_or_else(|| StoreError::not_found(format!("Thread `{thread_id}` was not found.")))?;
        if thread.participant(&caller.user_id).is_none() {
            return Err(StoreError::forbidden());
        }
        Ok(thread)
    }

    /// [`Self::thread_mut`] on this store, for methods that need nothing else of it meanwhile.
    fn thread(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<&mut Thread, StoreError> {
        Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )
    }

    /// Checks a participant to add (`users`: the live users); `Ok` is the normalised (raw id,
    /// participant).
    fn check_participant(
        users: &HashSet<String>,
        p: &ChatParticipant,
    ) -> Result<(String, ChatParticipant), CommunicationError> {
        let Some((raw, id)) = normalize(&p.communication_identifier) else {
            return Err(CommunicationError::new(
                "400",
                "The participant's communicationIdentifier is missing.",
            ));
        };
        let invalid = |code: &str, message: &str| {
            let mut e = CommunicationError::new(code, message);
            e.target = Some(raw.clone());
            e
        };
        match id.kind() {
            CommunicationIdentifierModelKind::CommunicationUser => {
                if !users.contains(&raw) {
                    return Err(invalid("404", "Not found"));
                }
            }
            _ => return Err(invalid("403", "Permissions check failed")),
        }
        if p.metadata
            .as_ref()
            .is_some_and(|m| metadata_size(m) > MAX_METADATA_BYTES)
        {
            return Err(invalid(
                "400",
                "Participant metadata must not exceed 1024 bytes in total.",
            ));
        }
        let mut stored = ChatParticipant::new(identifier_model(&raw));
        stored.display_name = p.display_name.clone();
        stored.metadata = p.metadata.clone();
        stored.share_history_time = Some(p.share_history_time.unwrap_or(DateTime::UNIX_EPOCH));
        Ok((raw, stored))
    }

    /// Validates participants to add to a thread that has `existing` participants: the valid
    /// new ones, and the invalid ones as errors.
    fn sort_participants(
        users: &HashSet<String>,
        existing: &[(String, ChatParticipant)],
        requested: &[ChatParticipant],
    ) -> (Vec<(String, ChatParticipant)>, Vec<CommunicationError>) {
        let mut added: Vec<(String, ChatParticipant)> = Vec::new();
        let mut invalid = Vec::new();
        for p in requested {
            match Self::check_participant(users, p) {
                Ok((raw, stored)) => {
                    if existing
                        .iter()
                        .chain(added.iter())
                        .any(|(id, _)| *id == raw)
                    {
                        continue;
                    }
                    if existing.len() + added.len() >= MAX_PARTICIPANTS_PER_THREAD {
                        let mut e = CommunicationError::new(
                            "400",
                            format!(
                                "The thread has reached its limit of {MAX_PARTICIPANTS_PER_THREAD} participants."
                            ),
                        );
                        e.target = Some(raw);
                        invalid.push(e);
                        continue;
                    }
                    added.push((raw, stored));
                }
                Err(e) => invalid.push(e),
            }
        }
        (added, invalid)
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
        if request.topic.trim().is_empty() {
            return Err(StoreError::validation(
                "Topic",
                "The topic must not be empty.",
            ));
        }
        check_metadata("Metadata", request.metadata.as_ref())?;
        check_retention(request.retention_policy.as_ref())?;
        let requested = request.participants.as_deref().unwrap_or_default();
        if requested.len() > MAX_PARTICIPANTS_PER_CALL {
            return Err(StoreError::validation(
                "Participants",
                format!(
                    "At most {MAX_PARTICIPANTS_PER_CALL} participants can be added in one call."
                ),
            ));
        }
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
        if creator
            .metadata
            .as_ref()
            .is_some_and(|m| metadata_size(m) > MAX_METADATA_BYTES)
        {
            return Err(StoreError::validation(
                "Participants.Metadata",
                "Participant metadata must not exceed 1024 bytes in total.",
            ));
        }
        creator.share_history_time =
            Some(creator.share_history_time.unwrap_or(DateTime::UNIX_EPOCH));
        let existing = vec![(caller.user_id.clone(), creator)];
        let (added, invalid) = Self::sort_participants(&self.users, &existing, requested);
        let mut participants = existing;
        participants.extend(added);

        let thread_id = format!("19:{}@thread.v2", self.next_uuid().simple());
        let mut props = ChatThreadProperties::new(
            identifier_model(&caller.user_id),
            now,
            thread_id.clone(),
            request.topic.clone(),
        );
        props.metadata = request.metadata.clone().filter(|m| !m.is_empty());
        props.retention_policy = request.retention_policy.clone();
        let mut thread = Thread {
            props: props.clone(),
            participants,
            messages: Vec::new(),
            receipts: Vec::new(),
            last_message_received_on: now,
            next_seq: 1,
            recent_ops: VecDeque::new(),
        };
        let all: Vec<ChatParticipant> =
            thread.participants.iter().map(|(_, p)| p.clone()).collect();
        let id = self.ids.next(now);
        thread.system_message(
            id,
            ChatMessageType::ParticipantAdded,
            &caller.user_id,
            Some(all),
            None,
            now,
        );
        self.threads.insert(thread_id, thread);

        let mut result = CreateChatThreadResult::new();
        result.chat_thread = Some(props);
        result.invalid_participants = (!invalid.is_empty()).then_some(invalid);
        if let Some(key) = key {
            self.repeatability.insert(key, (request, result.clone()));
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
            self.threads.remove(&id);
            self.deleted_threads.insert(id);
        }
        let mut mine: Vec<&Thread> = self
            .threads
            .values()
            .filter(|t| t.participant(&caller.user_id).is_some())
            .filter(|t| start_time.is_none_or(|s| t.last_message_received_on >= s))
            .collect();
        mine.sort_by(|a, b| {
            (b.last_message_received_on, &b.props.id)
                .cmp(&(a.last_message_received_on, &a.props.id))
        });
        let start = match after {
            None => 0,
            Some(c) => mine
                .iter()
                .position(|t| {
                    (t.last_message_received_on, &t.props.id) < (c.last_message_received_on, &c.id)
                })
                .unwrap_or(mine.len()),
        };
        let rest = &mine[start..];
        let take = max_page_size.max(1);
        let page = &rest[..take.min(rest.len())];
        let items = page
            .iter()
            .map(|t| {
                let mut item = ChatThreadItem::new(t.props.id.clone(), t.props.topic.clone());
                item.last_message_received_on = Some(t.last_message_received_on);
                item
            })
            .collect();
        let next = (rest.len() > take).then(|| {
            let last = page[page.len() - 1];
            ThreadCursor {
                last_message_received_on: last.last_message_received_on,
                id: last.props.id.clone(),
            }
        });
        Listing { items, next }
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
        let thread = Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )?;
        let mut metadata = thread.props.metadata.clone();
        apply_metadata(&mut metadata, &update.metadata);
        check_metadata("Metadata", metadata.as_ref())?;
        if update.topic.as_ref().is_some_and(|t| t.trim().is_empty()) {
            return Err(StoreError::validation(
                "Topic",
                "The topic must not be empty.",
            ));
        }
        thread.props.metadata = metadata;
        match update.retention_policy {
            Patch::Keep => {}
            Patch::Clear => thread.props.retention_policy = None,
            Patch::Set(p) => thread.props.retention_policy = Some(p),
        }
        if let Some(topic) = update.topic
            && topic != thread.props.topic
        {
            thread.props.topic = topic.clone();
            let id = self.ids.next(now);
            thread.system_message(
                id,
                ChatMessageType::TopicUpdated,
                &caller.user_id,
                None,
                Some(topic),
                now,
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
        self.threads.remove(thread_id);
        self.deleted_threads.insert(thread_id.to_owned());
        Ok(())
    }

    /// Whether a thread was deleted (by a participant or its retention policy).
    pub fn is_thread_deleted(&self, thread_id: &str) -> bool {
        self.deleted_threads.contains(thread_id)
    }

    // ---- messages ------------------------------------------------------------------------

    fn rate_check(
        throttle: bool,
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
        if in_ten.len() >= MESSAGE_OPS_PER_10_SECONDS {
            let oldest = in_ten[in_ten.len() - MESSAGE_OPS_PER_10_SECONDS];
            let wait = ten.saturating_sub(now.saturating_duration_since(oldest));
            return Err(StoreError::throttled(ceil_secs(wait)));
        }
        if ops.len() >= MESSAGE_OPS_PER_MINUTE {
            let oldest = ops[ops.len() - MESSAGE_OPS_PER_MINUTE];
            let wait = minute.saturating_sub(now.saturating_duration_since(oldest));
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
        check_content(&request.content)?;
        let throttle = self.throttle;
        let thread = Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )?;
        Self::rate_check(throttle, &mut thread.recent_ops, now)?;
        let mut message = ChatMessage::new(now, "", "", kind, "");
        let mut content = ChatMessageContent::new();
        content.message = Some(request.content);
        message.content = Some(content);
        message.sender_display_name = request.sender_display_name;
        // The caller is a participant (`thread_mut` checked), stored with
        // `identifier_model(&caller.user_id)`.
        message.sender_communication_identifier =
            Some(thread.participant(&caller.user_id).map_or_else(
                || identifier_model(&caller.user_id),
                |p| p.communication_identifier.clone(),
            ));
        message.metadata = request.metadata.filter(|m| !m.is_empty());
        let id = self.ids.next(now);
        thread.push_message(id, Some(caller.user_id.clone()), message);
        Ok(id.to_string())
    }

    fn visible_from(thread: &Thread, caller: &Caller) -> DateTime {
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
    fn find_message(
        thread: &Thread,
        caller: &Caller,
        message_id: &str,
    ) -> Result<usize, StoreError> {
        let from = Self::visible_from(thread, caller);
        thread
            .messages
            .iter()
            .position(|m| m.message().id == message_id && m.message().created_on >= from)
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
            check_content(content)?;
        }
        let throttle = self.throttle;
        let thread = Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )?;
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
        Self::rate_check(throttle, &mut thread.recent_ops, now)?;
        let version = self.ids.next(now);
        let m = thread.messages[i].message_mut();
        if let Some(content) = update.content {
            m.content
                .get_or_insert_with(ChatMessageContent::new)
                .message = Some(content);
        }
        apply_metadata(&mut m.metadata, &update.metadata);
        m.edited_on = Some(now);
        m.version = version.to_string();
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
        let thread = Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )?;
        let i = Self::find_message(thread, caller, message_id)?;
        let message = &thread.messages[i];
        if message.sender.as_deref() != Some(caller.user_id.as_str()) {
            return Err(StoreError::forbidden());
        }
        if message.message().deleted_on.is_some() {
            return Ok(());
        }
        Self::rate_check(throttle, &mut thread.recent_ops, now)?;
        let version = self.ids.next(now);
        let m = thread.messages[i].message_mut();
        if let Some(content) = m.content.as_mut() {
            content.message = Some(String::new());
        }
        m.metadata = None;
        m.deleted_on = Some(now);
        m.version = version.to_string();
        Ok(())
    }

    // ---- participants --------------------------------------------------------------------

    /// A page of participants, in the order they were added, from position `skip`.
    pub fn list_participants(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        skip: usize,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<ChatParticipant, usize>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Ok(skip_page(
            thread.participants.iter().map(|(_, p)| p),
            thread.participants.len(),
            skip,
            max_page_size,
        ))
    }

    /// Adds participants; invalid ones come back in `invalidParticipants`, the others are
    /// added (existing ones are left as they are). Records a `participantAdded` message.
    pub fn add_participants(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        participants: Vec<ChatParticipant>,
        now: DateTime,
    ) -> Result<AddChatParticipantsResult, StoreError> {
        if participants.len() > MAX_PARTICIPANTS_PER_CALL {
            return Err(StoreError::validation(
                "Participants",
                format!(
                    "At most {MAX_PARTICIPANTS_PER_CALL} participants can be added in one call."
                ),
            ));
        }
        if participants.is_empty() {
            return Err(StoreError::validation(
                "Participants",
                "At least one participant is required.",
            ));
        }
        let thread = Self::thread_mut(
            &mut self.threads,
            &mut self.deleted_threads,
            caller,
            thread_id,
            now,
        )?;
        let (added, invalid) =
            Self::sort_participants(&self.users, &thread.participants, &participants);
        if !added.is_empty() {
            let id = self.ids.next(now);
            let list = added.iter().map(|(_, p)| p.clone()).collect();
            thread.participants.extend(added);
            thread.system_message(
                id,
                ChatMessageType::ParticipantAdded,
                &caller.user_id,
                Some(list),
                None,
                now,
            );
        }
        let mut result = AddChatParticipantsResult::new();
        result.invalid_participants = (!invalid.is_empty()).then_some(invalid);
        Ok(result)
    }

    /// Removes a participant (any participant may remove any other, or themselves); records a
    /// `participantRemoved` message. Removing someone who is not a participant changes nothing.
    pub fn remove_participant(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        participant: &CommunicationIdentifierModel,
        now: DateTime,
    ) -> Result<(), StoreError> {
        let Some((raw, _)) = normalize(participant) else {
            return Err(StoreError::validation(
                "RawId",
                "The identifier of the participant to remove is missing.",
            ));
        };
        let id = self.ids.next(now);
        let thread = self.thread(caller, thread_id, now)?;
        let Some(pos) = thread.participants.iter().position(|(id, _)| *id == raw) else {
            return Ok(());
        };
        let (_, removed) = thread.participants.remove(pos);
        thread.system_message(
            id,
            ChatMessageType::ParticipantRemoved,
            &caller.user_id,
            Some(vec![removed]),
            None,
            now,
        );
        Ok(())
    }

    // ---- receipts and typing -------------------------------------------------------------

    /// Records that the caller read up to `message_id` (one receipt per reader, the latest).
    pub fn send_read_receipt(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        message_id: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Self::find_message(thread, caller, message_id)?;
        let receipt =
            ChatMessageReadReceipt::new(message_id, now, identifier_model(&caller.user_id));
        match thread
            .receipts
            .iter_mut()
            .find(|(who, _)| *who == caller.user_id)
        {
            Some((_, r)) => *r = receipt,
            None => thread.receipts.push((caller.user_id.clone(), receipt)),
        }
        Ok(())
    }

    /// A page of read receipts from position `skip`.
    pub fn list_read_receipts(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        skip: usize,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<ChatMessageReadReceipt, usize>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Ok(skip_page(
            thread.receipts.iter().map(|(_, r)| r),
            thread.receipts.len(),
            skip,
            max_page_size,
        ))
    }

    /// A typing notification: accepted from participants, not stored.
    pub fn send_typing(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        self.thread(caller, thread_id, now).map(drop)
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
