//! [`ThreadsWatcher`]: every thread of a user, from `ListChatThreads`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::ChatThreadItem;
use serde::{Deserialize, Serialize};

use super::{Pace, ThreadCursor, ThreadWatcher, WatchConfig};
use crate::event::*;

/// What a [`ThreadsWatcher`] remembers, to resume: the thread list's watermark and every
/// thread's [`ThreadCursor`]. Serialize it after each round.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadsCursor {
    /// The `startTime` of the next thread listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<DateTime>,
    /// The latest `lastMessageReceivedOn` seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermark: Option<DateTime>,
    /// For a watch that starts at a time: that time (the first listing then only learns the
    /// threads, quietly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<DateTime>,
    /// Whether the first listing is done.
    #[serde(default)]
    listed: bool,
    /// Every thread seen, deleted ones included (so that they are not reported again).
    #[serde(default)]
    threads: BTreeMap<String, ThreadEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadEntry {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    cursor: ThreadCursor,
}

impl ThreadsCursor {
    /// From the beginning: every thread is reported created and its whole history received.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes at or after `start` (service time): the first listing learns the threads that
    /// exist without reporting them, and their messages are watched from `start`; a thread
    /// that appears after it is reported created.
    pub fn since(start: DateTime) -> Self {
        Self {
            start: Some(start),
            ..Self::default()
        }
    }

    /// How many threads are known (deleted ones included).
    pub fn threads(&self) -> usize {
        self.threads.len()
    }
}

/// Watches every thread of a user: which threads changed, from the thread list's
/// `lastMessageReceivedOn`, and each of those with its own [`ThreadWatcher`].
///
/// A round: [`poll_threads`](Self::poll_threads), list threads with its
/// [`start_time`](ThreadListPoll::start_time), feed the pages,
/// [`finish`](ThreadListPoll::finish): `chatThreadCreated` for a thread not seen before,
/// `chatThreadDeleted` for a `deletedOn`, and the threads [`due`](ThreadsPolled::due) for a
/// message poll; poll each of those through [`thread_mut`](Self::thread_mut) (a failed one stays
/// due). Then save [`cursor`](Self::cursor) and sleep [`ThreadsPolled::next_poll_in`].
///
/// A thread is polled when its `lastMessageReceivedOn` moves (a new message, including the
/// system messages of participant and topic changes), and once more an overlap later by the
/// caller's clock, for a message that came with the same timestamp or became visible late. An edit or a deletion in a thread that gets
/// no new message is seen at the thread's next poll; poll quiet threads now and then through
/// [`thread_mut`](Self::thread_mut) for a bound on that. A thread that answers `404` is gone:
/// [`thread_gone`](Self::thread_gone) reports it deleted.
///
/// ```
/// use acs_chat_events::watch::{ThreadsCursor, ThreadsWatcher, WatchConfig};
/// use acs_chat_protocol::models::{ChatMessage, ChatMessageType, ChatThreadItem};
/// use acs_chat_protocol::{DateTime, Page};
///
/// let at = |s: i64| DateTime::from_unix_timestamp(1_714_557_600 + s).unwrap();
/// // Stand-ins for the client's pagers over ListChatThreads and ListChatMessages.
/// let list_threads = |_start: Option<DateTime>| -> Vec<Page<ChatThreadItem>> {
///     let mut t = ChatThreadItem::new("19:a@thread.v2", "Plans");
///     t.last_message_received_on = Some(at(5));
///     vec![Page::new(vec![t], None)]
/// };
/// let list_messages = |thread: &str, _start: Option<DateTime>| -> Vec<Page<ChatMessage>> {
///     let m = ChatMessage::new(at(5), "1", "1", ChatMessageType::Text, "1");
///     vec![Page::new(vec![m], None)]
/// };
///
/// let mut watcher = ThreadsWatcher::new(ThreadsCursor::new(), WatchConfig::default());
/// let now = at(10); // the client's clock
/// let mut list = watcher.poll_threads();
/// for page in list_threads(list.start_time()) {
///     list.feed(page.items);
/// }
/// let round = list.finish(now);
/// let mut events = round.events; // chatThreadCreated
/// for id in &round.due {
///     let Some(thread) = watcher.thread_mut(id) else { continue };
///     let mut poll = thread.poll();
///     for page in list_messages(id, poll.start_time()) {
///         poll.feed(page.items);
///     }
///     events.extend(poll.finish(now).events); // a listing error: drop `poll`, it stays due
/// }
/// let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
/// assert_eq!(kinds, ["chatThreadCreated", "chatMessageReceived"]);
/// let _saved = serde_json::to_string(&watcher.cursor())?;
/// // sleep(round.next_poll_in), then the next round.
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ThreadsWatcher {
    floor: Option<DateTime>,
    watermark: Option<DateTime>,
    start: Option<DateTime>,
    listed: bool,
    threads: BTreeMap<String, (ThreadWatcher, bool)>,
    config: WatchConfig,
    pace: Pace,
}

/// A thread listing in progress.
#[derive(Debug)]
#[must_use = "a poll reports nothing until finish"]
pub struct ThreadListPoll<'a> {
    watcher: &'a mut ThreadsWatcher,
    start_time: Option<DateTime>,
    observed: HashMap<String, ChatThreadItem>,
}

/// What a finished thread listing gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadsPolled {
    /// Threads created (first seen) and deleted, oldest first.
    pub events: Vec<ChatEvent>,
    /// The threads to poll for messages now, most recently active first.
    pub due: Vec<String>,
    /// How long to wait before the next round.
    pub next_poll_in: Duration,
}

impl ThreadsWatcher {
    /// A watcher resuming at `cursor`.
    pub fn new(cursor: ThreadsCursor, config: WatchConfig) -> Self {
        let threads = cursor
            .threads
            .into_iter()
            .map(|(id, entry)| {
                let w = ThreadWatcher::new(id.clone(), entry.cursor, config.clone());
                (id, (w, entry.deleted))
            })
            .collect();
        Self {
            floor: cursor.floor,
            watermark: cursor.watermark,
            start: cursor.start,
            listed: cursor.listed,
            threads,
            pace: Pace::new(&config),
            config,
        }
    }

    /// The cursor to save (the threads' cursors included).
    pub fn cursor(&self) -> ThreadsCursor {
        ThreadsCursor {
            floor: self.floor,
            watermark: self.watermark,
            start: self.start,
            listed: self.listed,
            threads: self
                .threads
                .iter()
                .map(|(id, (w, deleted))| {
                    let entry = ThreadEntry {
                        deleted: *deleted,
                        cursor: w.cursor().clone(),
                    };
                    (id.clone(), entry)
                })
                .collect(),
        }
    }

    /// Starts a thread listing.
    pub fn poll_threads(&mut self) -> ThreadListPoll<'_> {
        ThreadListPoll {
            start_time: self.floor,
            watcher: self,
            observed: HashMap::new(),
        }
    }

    /// The watcher of a thread that is known and not deleted.
    pub fn thread_mut(&mut self, thread_id: &str) -> Option<&mut ThreadWatcher> {
        match self.threads.get_mut(thread_id) {
            Some((w, false)) => Some(w),
            _ => None,
        }
    }

    /// The threads known and not deleted.
    pub fn thread_ids(&self) -> impl Iterator<Item = &str> {
        self.threads
            .iter()
            .filter(|(_, (_, deleted))| !deleted)
            .map(|(id, _)| id.as_str())
    }

    /// The threads due for a message poll at `now` (the caller's clock), most recently active
    /// first: those whose `lastMessageReceivedOn` moved since their last poll, and, once, each
    /// polled thread an overlap after that poll (a message with the same
    /// `lastMessageReceivedOn`, or one that became visible late, does not move it).
    pub fn due(&self, now: DateTime) -> Vec<String> {
        let mut due: Vec<(&str, Option<DateTime>)> = self
            .threads
            .iter()
            .filter(|(_, (w, deleted))| !deleted && w.is_due(now))
            .map(|(id, (w, _))| (id.as_str(), w.cursor().activity))
            .collect();
        due.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        due.into_iter().map(|(id, _)| id.to_owned()).collect()
    }

    /// A known thread answered `404`: it is reported deleted, once, at `now` (the caller's
    /// clock: the service did not say when). `None` if it was unknown or already deleted.
    pub fn thread_gone(&mut self, thread_id: &str, now: DateTime) -> Option<ChatEvent> {
        match self.threads.get_mut(thread_id) {
            Some((_, deleted @ false)) => {
                *deleted = true;
                Some(ChatThreadDeletedEvent::new(thread_id, now).into())
            }
            _ => None,
        }
    }

    /// The service answered `429` (or `503`) to the thread listing: how long to wait.
    pub fn throttled(&mut self, retry_after: Option<Duration>, now: DateTime) -> Duration {
        self.pace.throttled(retry_after, now, &self.config)
    }
}

impl ThreadListPoll<'_> {
    /// The `startTime` to list threads with (`None`: no `startTime`).
    pub fn start_time(&self) -> Option<DateTime> {
        self.start_time
    }

    /// Feeds the threads of one page.
    pub fn feed(&mut self, threads: impl IntoIterator<Item = ChatThreadItem>) {
        for t in threads {
            match self.observed.get(&t.id) {
                Some(old)
                    if (old.last_message_received_on, old.deleted_on)
                        > (t.last_message_received_on, t.deleted_on) => {}
                _ => {
                    self.observed.insert(t.id.clone(), t);
                }
            }
        }
    }

    /// Ends the listing: created and deleted threads, the threads due, the delay.
    pub fn finish(self, now: DateTime) -> ThreadsPolled {
        let ThreadListPoll {
            watcher, observed, ..
        } = self;
        // Announce new threads unless this is the quiet first listing of a watch from a time.
        let announce = watcher.listed || watcher.start.is_none();
        let mut items: Vec<ChatThreadItem> = observed.into_values().collect();
        items.sort_by(|a, b| {
            (a.last_message_received_on, &a.id).cmp(&(b.last_message_received_on, &b.id))
        });
        let mut events: Vec<(Option<DateTime>, ChatEvent)> = Vec::new();
        for item in items {
            watcher.watermark = watcher.watermark.max(item.last_message_received_on);
            let config = &watcher.config;
            let entry = watcher.threads.entry(item.id.clone()).or_insert_with(|| {
                let cursor = match (announce, watcher.start) {
                    (false, Some(start)) => ThreadCursor::since(start),
                    _ => ThreadCursor::new(),
                };
                let mut w = ThreadWatcher::new(item.id.clone(), cursor, config.clone());
                if announce {
                    let properties = EventThreadProperties::with_topic(&item.topic);
                    let created = ChatThreadCreatedEvent::new(&item.id, properties);
                    events.push((item.last_message_received_on, created.into()));
                } else if item.last_message_received_on < watcher.start {
                    // Quiet since before the watch began: nothing to poll yet.
                    w.set_activity(item.last_message_received_on);
                    w.cursor.covered = w.cursor.activity;
                }
                (w, false)
            });
            let (w, deleted) = entry;
            if *deleted {
                continue;
            }
            match item.deleted_on {
                Some(at) => {
                    *deleted = true;
                    if announce {
                        events.push((Some(at), ChatThreadDeletedEvent::new(&item.id, at).into()));
                    }
                }
                None => w.set_activity(item.last_message_received_on),
            }
        }
        events.sort_by_key(|e| e.0);
        watcher.listed = true;
        if let Some(lowered) = watcher
            .watermark
            .and_then(|w| w.checked_sub(watcher.config.overlap))
        {
            watcher.floor = watcher.floor.max(Some(lowered));
        }
        let due = watcher.due(now);
        let events: Vec<ChatEvent> = events.into_iter().map(|(_, e)| e).collect();
        let active = !events.is_empty() || !due.is_empty();
        let mut next_poll_in = watcher.pace.after_poll(active, now, &watcher.config);
        // Come back in time for the earliest pending re-check.
        let recheck = watcher
            .threads
            .values()
            .filter(|(_, deleted)| !deleted)
            .filter_map(|(w, _)| w.recheck_at())
            .min();
        if let Some(t) = recheck {
            let wait = t
                .saturating_duration_since(now)
                .max(watcher.config.min_interval);
            next_poll_in = next_poll_in.min(wait);
        }
        ThreadsPolled {
            events,
            due,
            next_poll_in,
        }
    }
}
