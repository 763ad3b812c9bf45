//! Receiving by polling: [`ChatThreadClient::watch`](crate::ChatThreadClient::watch) and
//! [`ChatClient::watch`](crate::ChatClient::watch) turn `startTime` listings into a [`Watch`], a
//! `Stream` of [`ChatEvent`]s, with the sans-IO watchers of `acs-chat-events` deciding what is
//! new.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use acs_chat_events::ChatEvent;
use acs_chat_events::watch::{ThreadCursor, ThreadWatcher, ThreadsCursor, ThreadsWatcher};
use acs_chat_protocol::operations::{ListChatMessages, ListChatMessagesOptions, ListChatThreads};
use acs_chat_protocol::{DateTime, Page};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};

use crate::client::pager;
use crate::pipeline::Pipeline;
use crate::{Error, ErrorKind, WatchConfig};

/// Where a watch starts.
#[derive(Debug, Clone, Default)]
enum Start {
    /// Changes from now on (the default).
    #[default]
    Now,
    /// Changes at or after this time (the service's clock).
    Since(DateTime),
    /// Where a saved [`WatchCursor`] stopped.
    Resume(WatchCursor),
}

/// Options of [`ChatThreadClient::watch`](crate::ChatThreadClient::watch) and
/// [`ChatClient::watch`](crate::ChatClient::watch): where to start, and how fast to poll.
///
/// `WatchOptions::default()` starts now, polls every second while the thread is active and
/// backs off to every 30 seconds while it is idle ([`WatchConfig`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WatchOptions {
    start: Start,
    config: WatchConfig,
}

impl WatchOptions {
    /// Changes at or after `time`, instead of from now on (`DateTime::UNIX_EPOCH`: the whole
    /// history).
    pub fn since(mut self, time: DateTime) -> Self {
        self.start = Start::Since(time);
        self
    }

    /// Goes on where a saved cursor ([`Watch::cursor`]) stopped: nothing delivered before is
    /// delivered again, nothing changed since is missed.
    pub fn resume(mut self, cursor: WatchCursor) -> Self {
        self.start = Start::Resume(cursor);
        self
    }

    /// The polling pace and the overlap of listings (see [`WatchConfig`]).
    pub fn config(mut self, config: WatchConfig) -> Self {
        self.config = config;
        self
    }

    /// The shortest delay between two polls (after activity) and the longest (while idle).
    pub fn intervals(mut self, min: Duration, max: Duration) -> Self {
        self.config = self.config.intervals(min, max);
        self
    }
}

/// Where a [`Watch`] stands: plain data (serde), to save and give to
/// [`WatchOptions::resume`] so a restarted application goes on without gaps or repeats.
///
/// It is exact after every event: the watcher's cursor before the poll whose events are being
/// delivered, and which of them were delivered (at most one poll's worth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchCursor {
    scope: Scope,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    delivered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "camelCase")]
enum Scope {
    /// One thread.
    #[serde(rename_all = "camelCase")]
    Thread {
        thread_id: String,
        cursor: ThreadCursor,
    },
    /// Every thread of the user.
    Threads { cursor: ThreadsCursor },
}

/// What identifies an event, to recognise it when a resumed watch derives it again: its kind,
/// thread, and the id and version (or time) of the state it reports.
fn event_key(event: &ChatEvent) -> String {
    let (id, version): (&str, String) = match event {
        ChatEvent::ChatMessageReceived(e) => (&e.id, e.version.clone().unwrap_or_default()),
        ChatEvent::ChatMessageEdited(e) => (&e.id, e.version.clone().unwrap_or_default()),
        ChatEvent::ChatMessageDeleted(e) => (&e.id, e.version.clone().unwrap_or_default()),
        ChatEvent::ChatThreadCreated(e) => ("", e.version.clone().unwrap_or_default()),
        ChatEvent::ChatThreadDeleted(e) => ("", e.deleted_on.to_string()),
        ChatEvent::ChatThreadPropertiesUpdated(e) => ("", e.updated_on.to_string()),
        ChatEvent::ParticipantsAdded(e) => ("", e.added_on.to_string()),
        ChatEvent::ParticipantsRemoved(e) => ("", e.removed_on.to_string()),
        ChatEvent::ReadReceiptReceived(e) => (&e.chat_message_id, e.read_on.to_string()),
        ChatEvent::TypingIndicatorReceived(e) => ("", e.received_on.to_string()),
        _ => ("", String::new()),
    };
    format!(
        "{}|{}|{id}|{version}",
        event.kind(),
        event.thread_id().unwrap_or_default()
    )
}

/// The cursor as the stream's consumer last saw it.
#[derive(Debug)]
struct Progress {
    /// The watcher's cursor before the poll whose events are being delivered (or after the last
    /// poll, when they all were).
    scope: Scope,
    /// The keys of the events of that poll already delivered.
    delivered: Vec<String>,
}

/// A stream of [`ChatEvent`]s from polling: every change once, in order per thread, from the
/// start the [`WatchOptions`] set. Made by
/// [`ChatThreadClient::watch`](crate::ChatThreadClient::watch) (one thread) and
/// [`ChatClient::watch`](crate::ChatClient::watch) (every thread of the user).
///
/// Lazy: it polls only while it is being read, sleeping between polls on the client's runtime
/// as the activity says (fast while active, backing off while idle, at least what a 429's
/// `Retry-After` asks). A failed poll is an `Err` item, and the stream goes on after a pause;
/// it ends after an error that polling again cannot fix (the thread is gone, the credential is
/// refused). [`cursor`](Self::cursor) says where it stands, exactly, after every event.
///
/// What polling can see: the states of messages, not every operation (two edits between polls
/// are one `chatMessageEdited`), and no typing indicators or read receipts; Event Grid (see
/// [`events::webhook`](crate::events::webhook)) delivers those. A change is seen when the
/// service lists it with `startTime` (a listing starts an overlap before the latest change seen,
/// 30 s by default, so a change that shows up late is not missed).
pub struct Watch {
    stream: BoxStream<'static, Result<ChatEvent, Error>>,
    progress: Arc<Mutex<Progress>>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("delivered", &lock(&self.progress).delivered.len())
            .finish_non_exhaustive()
    }
}

fn lock(progress: &Mutex<Progress>) -> MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch {
    /// Where the watch stands: after the last event it yielded. Save it (serde) and resume
    /// with [`WatchOptions::resume`].
    pub fn cursor(&self) -> WatchCursor {
        let progress = lock(&self.progress);
        WatchCursor {
            scope: progress.scope.clone(),
            delivered: progress.delivered.clone(),
        }
    }
}

impl Stream for Watch {
    type Item = Result<ChatEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

/// The watcher a watch drives.
enum Watcher {
    Thread(ThreadWatcher),
    Threads(ThreadsWatcher),
}

impl Watcher {
    fn scope(&self) -> Scope {
        match self {
            Self::Thread(w) => Scope::Thread {
                thread_id: w.thread_id().to_owned(),
                cursor: w.cursor().clone(),
            },
            Self::Threads(w) => Scope::Threads { cursor: w.cursor() },
        }
    }
}

/// What a failed poll means for the watch.
fn is_final(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Credential | ErrorKind::InvalidArgument
    ) || error
        .status()
        .is_some_and(|s| matches!(s.as_u16(), 401 | 403 | 404))
}

/// The state of the stream between two items.
struct Driver {
    pipeline: Arc<Pipeline>,
    watcher: Watcher,
    progress: Arc<Mutex<Progress>>,
    /// Events of the current poll still to deliver.
    pending: VecDeque<ChatEvent>,
    /// The watcher's cursor after the current poll (what the progress becomes once `pending`
    /// is drained).
    after: Option<Scope>,
    /// Keys delivered before a resume, to drop when the first poll derives them again.
    resumed: HashSet<String>,
    /// Whether the first poll's events are only learnt, not delivered (a watch from now: the
    /// first poll happens in `watch`).
    quiet_first: bool,
    /// Wait this long before the next poll.
    delay: Option<Duration>,
    done: bool,
}

impl Driver {
    /// The next item: a pending event, or the events of the next poll.
    async fn next(mut self) -> Option<(Result<ChatEvent, Error>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                let mut progress = lock(&self.progress);
                progress.delivered.push(event_key(&event));
                if self.pending.is_empty()
                    && let Some(after) = self.after.take()
                {
                    progress.scope = after;
                    progress.delivered.clear();
                }
                drop(progress);
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            if let Some(delay) = self.delay.take() {
                self.pipeline.runtime.sleep(delay).await;
            }
            let before = self.watcher.scope();
            match self.poll().await {
                Ok((events, next)) => {
                    self.delay = Some(next);
                    let resumed = std::mem::take(&mut self.resumed);
                    let events: VecDeque<ChatEvent> = events
                        .into_iter()
                        .filter(|e| !resumed.contains(&event_key(e)))
                        .collect();
                    let after = self.watcher.scope();
                    let mut progress = lock(&self.progress);
                    if events.is_empty() {
                        *progress = Progress {
                            scope: after,
                            delivered: Vec::new(),
                        };
                    } else {
                        // The keys a resume dropped count as delivered for this poll too.
                        *progress = Progress {
                            scope: before,
                            delivered: resumed.into_iter().collect(),
                        };
                        self.after = Some(after);
                    }
                    drop(progress);
                    self.pending = events;
                }
                Err(error) => {
                    let now = self.pipeline.runtime.now();
                    let retry_after = error
                        .service_error()
                        .and_then(|s| s.retry_after())
                        .map(|r| r.delay(now));
                    self.delay = Some(match &mut self.watcher {
                        Watcher::Thread(w) => w.throttled(retry_after, now),
                        Watcher::Threads(w) => w.throttled(retry_after, now),
                    });
                    self.done = is_final(&error);
                    return Some((Err(error), self));
                }
            }
        }
    }

    /// One poll: list, feed, finish. The watcher keeps nothing of a poll that failed.
    async fn poll(&mut self) -> Result<(Vec<ChatEvent>, Duration), Error> {
        let pipeline = Arc::clone(&self.pipeline);
        match &mut self.watcher {
            Watcher::Thread(watcher) => {
                let polled = poll_thread(&pipeline, watcher).await?;
                Ok(polled)
            }
            Watcher::Threads(watcher) => {
                let mut list = watcher.poll_threads();
                let mut options = crate::ListChatThreadsOptions::default();
                options.start_time = list.start_time();
                let mut pages = pager(&pipeline, ListChatThreads::new(options), None).into_pages();
                while let Some(page) = pages.next().await {
                    list.feed(page?.items);
                }
                let round = list.finish(pipeline.runtime.now());
                let mut events = round.events;
                for thread_id in round.due {
                    let Some(thread) = watcher.thread_mut(&thread_id) else {
                        continue;
                    };
                    match poll_thread(&pipeline, thread).await {
                        Ok((found, _)) => events.extend(found),
                        // The user left the thread, or it is gone: no more polling it.
                        Err(e) if e.status().is_some_and(|s| matches!(s.as_u16(), 403 | 404)) => {
                            let now = pipeline.runtime.now();
                            events.extend(watcher.thread_gone(&thread_id, now));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok((events, round.next_poll_in))
            }
        }
    }
}

/// Lists one thread's messages from the watcher's start time, page by page, and finishes the
/// poll.
async fn poll_thread(
    pipeline: &Arc<Pipeline>,
    watcher: &mut ThreadWatcher,
) -> Result<(Vec<ChatEvent>, Duration), Error> {
    let thread_id: Arc<str> = Arc::from(watcher.thread_id());
    let mut poll = watcher.poll();
    let mut options = ListChatMessagesOptions::default();
    options.start_time = poll.start_time();
    options.max_page_size = Some(200);
    let op = ListChatMessages::new(&*thread_id, options);
    let mut pages = pager(pipeline, op, Some(thread_id)).into_pages();
    while let Some(page) = pages.next().await {
        let page: Page<_> = page?;
        poll.feed(page.items);
    }
    let polled = poll.finish(pipeline.runtime.now());
    Ok((polled.events, polled.next_poll_in))
}

/// Starts a watch of one thread (`Some`) or of every thread.
pub(crate) async fn watch(
    pipeline: &Arc<Pipeline>,
    thread_id: Option<&str>,
    options: WatchOptions,
) -> Result<Watch, Error> {
    let config = options.config;
    let overlap = config.overlap;
    let from_now = || {
        let now = pipeline.runtime.now();
        now.checked_sub(overlap).unwrap_or(now)
    };
    let mut resumed = HashSet::new();
    let mut quiet_first = false;
    let watcher = match (thread_id, options.start) {
        (Some(id), Start::Now) => {
            quiet_first = true;
            Watcher::Thread(ThreadWatcher::new(
                id,
                ThreadCursor::since(from_now()),
                config,
            ))
        }
        (Some(id), Start::Since(t)) => {
            Watcher::Thread(ThreadWatcher::new(id, ThreadCursor::since(t), config))
        }
        (None, Start::Now) => {
            quiet_first = true;
            Watcher::Threads(ThreadsWatcher::new(
                ThreadsCursor::since(from_now()),
                config,
            ))
        }
        (None, Start::Since(t)) => {
            Watcher::Threads(ThreadsWatcher::new(ThreadsCursor::since(t), config))
        }
        (thread, Start::Resume(cursor)) => {
            resumed = cursor.delivered.into_iter().collect();
            match (thread, cursor.scope) {
                (Some(id), Scope::Thread { thread_id, cursor }) if id == thread_id => {
                    Watcher::Thread(ThreadWatcher::new(thread_id, cursor, config))
                }
                (None, Scope::Threads { cursor }) => {
                    Watcher::Threads(ThreadsWatcher::new(cursor, config))
                }
                _ => {
                    return Err(Error::invalid_argument(
                        "the cursor is from a watch of another thread (or of all threads)",
                    ));
                }
            }
        }
    };
    let progress = Arc::new(Mutex::new(Progress {
        scope: watcher.scope(),
        delivered: resumed.iter().cloned().collect(),
    }));
    let driver = Driver {
        pipeline: Arc::clone(pipeline),
        watcher,
        progress: Arc::clone(&progress),
        pending: VecDeque::new(),
        after: None,
        resumed,
        quiet_first,
        delay: None,
        done: false,
    };
    let mut driver = driver;
    if std::mem::take(&mut driver.quiet_first) {
        // "Now" is when this returns: what the first listing shows is the baseline, learnt
        // and not delivered, so a change made after `watch` returned is always delivered.
        driver.poll().await?;
        lock(&progress).scope = driver.watcher.scope();
    }
    let stream = futures::stream::unfold(driver, Driver::next).boxed();
    Ok(Watch { stream, progress })
}
