//! Polling as a state machine: feed it list pages and the time, get each change once.
//!
//! [`ThreadWatcher`] turns the messages of one thread, as `ListChatMessages` returns them, into
//! [`ChatEvent`]s; [`ThreadsWatcher`] does it for every thread of a user, from `ListChatThreads`.
//! Neither performs IO nor reads a clock (quinn-proto style): the caller lists, feeds, and
//! sleeps for the delay it is told, so the same machine runs under tokio, in a test, or in the
//! emulator.
//!
//! # How a poll works
//!
//! The [`ThreadCursor`] holds a *watermark* (the latest change time seen, in the service's
//! clock: `createdOn`, `editedOn` or `deletedOn`), a *floor* (every change before it has been
//! reported) and the `(id, version)` of every message changed since the floor. A poll lists the
//! messages with `startTime` = the floor; afterwards the floor moves up to the watermark minus
//! the *overlap* ([`WatchConfig::overlap`]), and what is older is forgotten. So:
//!
//! - a change is reported when its message is listed in a state that has it and it is at or
//!   after the floor: a new id is `chatMessageReceived` (or, for the system messages
//!   `participantAdded`, `participantRemoved` and `topicUpdated`: `participantsAdded`,
//!   `participantsRemoved`, `chatThreadPropertiesUpdated`), a new `editedOn` (or a new version
//!   with the same `editedOn`) is `chatMessageEdited`, a `deletedOn` is `chatMessageDeleted`;
//! - the `(id, version)` set makes a poll that lists a message again (the overlap, a page that
//!   repeats the end of the previous one, two changes with equal timestamps on either side of a
//!   poll, a restart from a saved cursor) report nothing twice;
//! - only service times are compared with service times: the client's clock (`now`) only sets
//!   delays, so clock skew between client and service changes nothing;
//! - the overlap covers what a listing can miss: a change that becomes visible late, or one made
//!   while the pages of a listing were fetched. **Guarantee:** if every change is visible to
//!   listings within `overlap` of its timestamp, counting the time a listing takes, every change
//!   that a listing shows is reported exactly once, oldest first within a poll, and in order per
//!   message (received, then each edit, then deleted).
//!
//! Polling sees states, not operations: a message edited twice between two polls is one
//! `chatMessageEdited` with the latest content, and an edit overwritten by a deletion before any
//! poll saw it is not reported. A message first seen already edited is reported received (with
//! its current content) and then edited; one first seen deleted, received and then deleted.
//!
//! # Driving it
//!
//! ```
//! use std::time::Duration;
//! use acs_chat_events::ChatEvent;
//! use acs_chat_events::watch::{ThreadCursor, ThreadWatcher, WatchConfig};
//! use acs_chat_protocol::models::{ChatMessage, ChatMessageContent, ChatMessageType};
//! use acs_chat_protocol::{DateTime, Page};
//!
//! // A stand-in for the client's pager: the pages of `ListChatMessages` for a `startTime`,
//! // newest first (acs-chat drives it this way: `ChatThreadClient::watch`, over `list_messages(..).into_pages()`).
//! let mut service: Vec<ChatMessage> = Vec::new();
//! let fetch = |service: &[ChatMessage], start: Option<DateTime>| -> Result<Vec<Page<ChatMessage>>, Duration> {
//!     let mut listed: Vec<ChatMessage> = service.iter()
//!         .filter(|m| start.is_none_or(|s| m.created_on >= s))
//!         .cloned().collect();
//!     listed.reverse();
//!     Ok(listed.chunks(2).map(|c| Page::new(c.to_vec(), None)).collect())
//! };
//! let at = |s: i64| DateTime::from_unix_timestamp(1_714_557_600 + s).unwrap();
//!
//! // Restore the cursor saved last time, or start from the beginning of the thread.
//! let saved: Option<String> = None;
//! let cursor = match saved {
//!     Some(json) => serde_json::from_str(&json)?,
//!     None => ThreadCursor::new(),
//! };
//! let mut watcher = ThreadWatcher::new("19:abc@thread.v2", cursor, WatchConfig::default());
//! let mut received = Vec::new();
//! for round in 0..3 {
//!     // Someone writes between polls.
//!     let mut m = ChatMessage::new(at(round), format!("{round}"), format!("{round}"), ChatMessageType::Text, format!("{round}"));
//!     let mut content = ChatMessageContent::new();
//!     content.message = Some(format!("hello {round}"));
//!     m.content = Some(content);
//!     service.push(m);
//!
//!     let now = at(round); // the client's clock; only delays depend on it
//!     let mut poll = watcher.poll();
//!     match fetch(&service, poll.start_time()) {
//!         Ok(pages) => pages.into_iter().for_each(|page| poll.feed(page.items)),
//!         Err(retry_after) => {
//!             drop(poll); // nothing of a failed listing is kept
//!             let _wait = watcher.throttled(Some(retry_after), now);
//!             continue; // sleep(_wait) in a real loop
//!         }
//!     }
//!     let polled = poll.finish(now);
//!     for event in polled.events {
//!         if let ChatEvent::ChatMessageReceived(m) = event {
//!             received.push(m.message);
//!         }
//!     }
//!     let _saved = serde_json::to_string(watcher.cursor())?; // persist it
//!     assert!(polled.next_poll_in >= Duration::from_secs(1)); // sleep(polled.next_poll_in)
//! }
//! assert_eq!(received, ["hello 0", "hello 1", "hello 2"]);
//! # Ok::<(), serde_json::Error>(())
//! ```

mod threads;

pub use threads::{ThreadListPoll, ThreadsCursor, ThreadsPolled, ThreadsWatcher};

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{ChatMessage, ChatMessageType};
use serde::{Deserialize, Serialize};

use crate::event::*;

/// Tuning of a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchConfig {
    /// How far below the watermark each listing starts (default 30 s): longer than a change
    /// can take to become visible to listings plus the time a listing takes.
    pub overlap: Duration,
    /// The delay after a poll that found something (default 1 s).
    pub min_interval: Duration,
    /// The longest delay while idle (default 30 s).
    pub max_interval: Duration,
    /// How much the delay grows after each idle poll (default 2).
    pub backoff_factor: u32,
    /// At most this many `(id, version)` kept (default 10 000). Past it, the oldest are
    /// forgotten and the floor rises above them: a change that became visible later than that
    /// could then be missed. Tens of changes per overlap are normal; this bounds a flood.
    pub max_seen: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(30),
            min_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            backoff_factor: 2,
            max_seen: 10_000,
        }
    }
}

impl WatchConfig {
    /// Sets [`overlap`](Self::overlap).
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// Sets [`min_interval`](Self::min_interval) and [`max_interval`](Self::max_interval) (the
    /// larger of the two is the maximum).
    pub fn intervals(mut self, min: Duration, max: Duration) -> Self {
        self.min_interval = min.min(max);
        self.max_interval = min.max(max);
        self
    }

    /// Sets [`backoff_factor`](Self::backoff_factor) (at least 1).
    pub fn backoff_factor(mut self, factor: u32) -> Self {
        self.backoff_factor = factor.max(1);
        self
    }

    /// Sets [`max_seen`](Self::max_seen) (at least 1).
    pub fn max_seen(mut self, max: usize) -> Self {
        self.max_seen = max.max(1);
        self
    }
}

/// The adaptive delay: the minimum after activity, growing while idle, never below a
/// throttling deadline.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    interval: Duration,
    not_before: Option<DateTime>,
}

impl Pace {
    pub(crate) fn new(config: &WatchConfig) -> Self {
        Self {
            interval: config.min_interval,
            not_before: None,
        }
    }

    fn grow(&mut self, config: &WatchConfig) {
        self.interval = self
            .interval
            .saturating_mul(config.backoff_factor.max(1))
            .clamp(
                config.min_interval,
                config.max_interval.max(config.min_interval),
            );
    }

    /// The delay after a poll that was active or idle.
    pub(crate) fn after_poll(
        &mut self,
        active: bool,
        now: DateTime,
        config: &WatchConfig,
    ) -> Duration {
        if active {
            self.interval = config.min_interval;
        } else {
            self.grow(config);
        }
        let mut delay = self.interval;
        if let Some(deadline) = self.not_before {
            let wait = deadline.saturating_duration_since(now);
            if wait.is_zero() {
                self.not_before = None;
            }
            delay = delay.max(wait);
        }
        delay
    }

    /// The delay after a `429`/`503`: at least `retry_after` when the service said one, else
    /// the backed-off interval.
    pub(crate) fn throttled(
        &mut self,
        retry_after: Option<Duration>,
        now: DateTime,
        config: &WatchConfig,
    ) -> Duration {
        self.grow(config);
        let wait = retry_after
            .unwrap_or(self.interval)
            .max(config.min_interval);
        self.not_before = now.checked_add(wait);
        wait
    }
}

/// What a watcher remembers of one thread, to resume without gaps or repeats: serialize it
/// (serde) after each poll, and start the next watcher from it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadCursor {
    /// Every change before it has been reported (or predates the watch); `None`: from the
    /// beginning of the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<DateTime>,
    /// The latest change time seen (service time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermark: Option<DateTime>,
    /// The messages changed at or after the floor, by id.
    #[serde(default)]
    seen: BTreeMap<String, Seen>,
    /// The thread list's `lastMessageReceivedOn` last known ([`ThreadsWatcher`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activity: Option<DateTime>,
    /// The `activity` the last successful poll covered ([`ThreadsWatcher`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    covered: Option<DateTime>,
    /// When (client clock) to poll once more after `covered` moved: a message with the same
    /// `lastMessageReceivedOn`, or one that became visible late, would not move `activity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recheck_at: Option<DateTime>,
}

/// One message as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    version: String,
    /// Its latest change time.
    modified: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edited_on: Option<DateTime>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl ThreadCursor {
    /// From the beginning of the thread: the first poll reports its whole history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes at or after `start` (a service time; with only the client's clock, subtract a
    /// margin for skew).
    pub fn since(start: DateTime) -> Self {
        Self {
            floor: Some(start),
            ..Self::default()
        }
    }

    /// The `startTime` of the next listing: the floor (`None`: list everything).
    pub fn start_time(&self) -> Option<DateTime> {
        self.floor
    }

    /// The latest change time seen (service time).
    pub fn watermark(&self) -> Option<DateTime> {
        self.watermark
    }

    /// How many messages changed since the floor are remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// The latest change of a message: its `deletedOn`, `editedOn` or `createdOn`.
pub(crate) fn last_modified(m: &ChatMessage) -> DateTime {
    [Some(m.created_on), m.edited_on, m.deleted_on]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(m.created_on)
}

/// Watches one thread: each change of its messages becomes one [`ChatEvent`].
///
/// Call order: [`poll`](Self::poll), list messages with [`MessagePoll::start_time`] and
/// [`feed`](MessagePoll::feed) every page, [`finish`](MessagePoll::finish) with the time, act on
/// the events, save [`cursor`](Self::cursor), sleep [`Polled::next_poll_in`]. A poll dropped
/// without `finish` (the listing failed) changes nothing. On `429`/`503`, ask
/// [`throttled`](Self::throttled) how long to wait.
#[derive(Debug, Clone)]
pub struct ThreadWatcher {
    thread_id: String,
    cursor: ThreadCursor,
    config: WatchConfig,
    pace: Pace,
}

/// A poll in progress: the pages of one listing go in, the events come out of
/// [`finish`](Self::finish).
#[derive(Debug)]
#[must_use = "a poll reports nothing until finish"]
pub struct MessagePoll<'a> {
    watcher: &'a mut ThreadWatcher,
    start_time: Option<DateTime>,
    activity: Option<DateTime>,
    /// The latest state of each message listed, and the order it came in.
    observed: HashMap<String, (ChatMessage, usize)>,
    fed: usize,
}

/// What a finished poll gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Polled {
    /// The new events, oldest first (by service time; a message's own events in their order).
    pub events: Vec<ChatEvent>,
    /// How long to wait before the next poll.
    pub next_poll_in: Duration,
}

impl ThreadWatcher {
    /// A watcher of `thread_id` resuming at `cursor`.
    pub fn new(thread_id: impl Into<String>, cursor: ThreadCursor, config: WatchConfig) -> Self {
        let pace = Pace::new(&config);
        Self {
            thread_id: thread_id.into(),
            cursor,
            config,
            pace,
        }
    }

    /// The thread.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    /// The cursor to save.
    pub fn cursor(&self) -> &ThreadCursor {
        &self.cursor
    }

    /// The `startTime` the next listing should use.
    pub fn start_time(&self) -> Option<DateTime> {
        self.cursor.floor
    }

    /// Starts a poll.
    pub fn poll(&mut self) -> MessagePoll<'_> {
        MessagePoll {
            start_time: self.cursor.floor,
            activity: self.cursor.activity,
            watcher: self,
            observed: HashMap::new(),
            fed: 0,
        }
    }

    /// The service answered `429` (or `503`): how long to wait, at least `retry_after` when it
    /// said one. The next poll's delay honours it too.
    pub fn throttled(&mut self, retry_after: Option<Duration>, now: DateTime) -> Duration {
        self.pace.throttled(retry_after, now, &self.config)
    }

    pub(crate) fn set_activity(&mut self, activity: Option<DateTime>) {
        if activity > self.cursor.activity {
            self.cursor.activity = activity;
        }
    }

    /// Whether the thread list showed activity this watcher has not polled since, or the
    /// re-check after the last such poll is due.
    pub(crate) fn is_due(&self, now: DateTime) -> bool {
        self.cursor.activity > self.cursor.covered
            || self.cursor.recheck_at.is_some_and(|t| now >= t)
    }

    /// When a re-check is pending: its time (client clock).
    pub(crate) fn recheck_at(&self) -> Option<DateTime> {
        self.cursor.recheck_at
    }
}

impl MessagePoll<'_> {
    /// The `startTime` to list with (`None`: no `startTime`).
    pub fn start_time(&self) -> Option<DateTime> {
        self.start_time
    }

    /// Feeds the messages of one page (any order; a message listed twice keeps its latest
    /// state).
    pub fn feed(&mut self, messages: impl IntoIterator<Item = ChatMessage>) {
        for m in messages {
            self.fed += 1;
            let order = self.fed;
            match self.observed.get(&m.id) {
                Some((old, _)) if last_modified(old) > last_modified(&m) => {}
                _ => {
                    self.observed.insert(m.id.clone(), (m, order));
                }
            }
        }
    }

    /// Ends the poll: the new events, and the delay before the next one. `now` is the caller's
    /// clock and only sets the delay.
    pub fn finish(self, now: DateTime) -> Polled {
        let MessagePoll {
            watcher,
            start_time,
            activity,
            observed,
            ..
        } = self;
        let floor = start_time;
        let at_or_after_floor = |t: DateTime| floor.is_none_or(|f| t >= f);
        let cursor = &mut watcher.cursor;
        let thread_id = watcher.thread_id.as_str();

        let mut observed: Vec<(ChatMessage, usize)> = observed.into_values().collect();
        observed.sort_by_key(|(_, order)| *order);
        let mut found: Vec<(DateTime, u64, u8, String, ChatEvent)> = Vec::new();
        let mut newest = cursor.watermark;
        for (m, _) in observed {
            let modified = last_modified(&m);
            newest = newest.max(Some(modified));
            if !at_or_after_floor(modified) {
                continue; // all its changes are before the floor
            }
            let known = cursor.seen.get(&m.id);
            if let Some(s) = known
                && (modified < s.modified || m.version == s.version)
            {
                continue; // nothing new, or an older state than the one seen
            }
            let seq = m.sequence_id.trim().parse::<u64>().unwrap_or(u64::MAX);
            let mut report = |at: DateTime, rank: u8, event: ChatEvent| {
                found.push((at, seq, rank, m.id.clone(), event));
            };
            if known.is_none() && at_or_after_floor(m.created_on) {
                report(m.created_on, 0, created_event(thread_id, &m));
            }
            let system = is_system(&m.kind);
            if !system
                && m.deleted_on.is_none()
                && let Some(edited) = m.edited_on
                && at_or_after_floor(edited)
                && known.is_none_or(|s| !s.deleted && s.edited_on <= Some(edited))
                && let Some(e) = ChatMessageEditedEvent::from_message(thread_id, &m)
            {
                report(edited, 1, e.into());
            }
            if !system
                && let Some(deleted) = m.deleted_on
                && at_or_after_floor(deleted)
                && known.is_none_or(|s| !s.deleted)
                && let Some(e) = ChatMessageDeletedEvent::from_message(thread_id, &m)
            {
                report(deleted, 2, e.into());
            }
            cursor.seen.insert(
                m.id.clone(),
                Seen {
                    version: m.version.clone(),
                    modified,
                    edited_on: m.edited_on,
                    deleted: m.deleted_on.is_some(),
                },
            );
        }
        found.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
        let events: Vec<ChatEvent> = found.into_iter().map(|f| f.4).collect();

        // Move the floor up to the watermark minus the overlap, and forget what is below it.
        cursor.watermark = newest;
        let mut new_floor = floor;
        if let Some(lowered) = newest.and_then(|w| w.checked_sub(watcher.config.overlap)) {
            new_floor = new_floor.max(Some(lowered));
        }
        if cursor.seen.len() > watcher.config.max_seen {
            let mut times: Vec<DateTime> = cursor.seen.values().map(|s| s.modified).collect();
            times.sort();
            let evicted = times[cursor.seen.len() - watcher.config.max_seen - 1];
            let above = evicted
                .checked_add(Duration::from_nanos(1))
                .unwrap_or(evicted);
            new_floor = new_floor.max(Some(above));
        }
        cursor.floor = new_floor;
        if let Some(f) = new_floor {
            cursor.seen.retain(|_, s| s.modified >= f);
        }
        if activity > cursor.covered {
            cursor.covered = activity;
            cursor.recheck_at = now.checked_add(watcher.config.overlap);
        } else if cursor.recheck_at.is_some_and(|t| now >= t) {
            cursor.recheck_at = None;
        }

        let next_poll_in = watcher
            .pace
            .after_poll(!events.is_empty(), now, &watcher.config);
        Polled {
            events,
            next_poll_in,
        }
    }
}

fn is_system(kind: &ChatMessageType) -> bool {
    matches!(
        kind,
        ChatMessageType::ParticipantAdded
            | ChatMessageType::ParticipantRemoved
            | ChatMessageType::TopicUpdated
    )
}

/// The event for a message's creation: a system message is the thread change it records.
fn created_event(thread_id: &str, m: &ChatMessage) -> ChatEvent {
    let content = m.content.as_ref();
    let initiator = content
        .and_then(|c| c.initiator_communication_identifier.clone())
        .map(EventParticipant::new);
    let participants = || -> Vec<EventParticipant> {
        content
            .and_then(|c| c.participants.clone())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect()
    };
    match m.kind {
        ChatMessageType::ParticipantAdded => {
            let mut e = ParticipantsAddedEvent::new(thread_id, m.created_on, participants());
            e.version = Some(m.version.clone());
            e.added_by = initiator;
            e.into()
        }
        ChatMessageType::ParticipantRemoved => {
            let mut e = ParticipantsRemovedEvent::new(thread_id, m.created_on, participants());
            e.version = Some(m.version.clone());
            e.removed_by = initiator;
            e.into()
        }
        ChatMessageType::TopicUpdated => {
            let properties = EventThreadProperties {
                topic: content.and_then(|c| c.topic.clone()),
                metadata: None,
            };
            let mut e = ChatThreadPropertiesUpdatedEvent::new(thread_id, properties, m.created_on);
            e.version = Some(m.version.clone());
            e.updated_by = initiator;
            e.into()
        }
        _ => ChatMessageReceivedEvent::from_message(thread_id, m).into(),
    }
}
