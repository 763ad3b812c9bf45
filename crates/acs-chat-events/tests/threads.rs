//! The watcher of all a user's threads, against a model of the thread list.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use acs_chat_events::ChatEvent;
use acs_chat_events::watch::{ThreadsCursor, ThreadsWatcher, WatchConfig};
use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{ChatMessage, ChatMessageType, ChatThreadItem};
use proptest::prelude::*;

const BASE_MS: i64 = 1_714_557_600_000;

fn at(ms: u64) -> DateTime {
    DateTime::from_unix_timestamp_nanos(i128::from(BASE_MS + ms as i64) * 1_000_000).unwrap()
}

/// The client's clock: a day behind the service's (both move at the same pace).
fn client_clock(service_ms: u64) -> DateTime {
    at(service_ms)
        .checked_sub(Duration::from_secs(86_400))
        .unwrap()
}

#[derive(Debug, Clone, Default)]
struct Thread {
    id: String,
    last: u64,
    deleted: Option<u64>,
    messages: Vec<(String, u64)>,
}

#[derive(Debug, Default)]
struct Model {
    now: u64,
    threads: Vec<Thread>,
}

impl Model {
    fn item(&self, t: &Thread) -> ChatThreadItem {
        let mut item = ChatThreadItem::new(&t.id, format!("topic of {}", t.id));
        item.last_message_received_on = Some(at(t.last));
        item.deleted_on = t.deleted.map(at);
        item
    }

    /// The thread list for `start`, most recent first, in pages.
    fn list(&self, start: Option<DateTime>, page: usize) -> Vec<Vec<ChatThreadItem>> {
        let mut items: Vec<ChatThreadItem> = self
            .threads
            .iter()
            .map(|t| self.item(t))
            .filter(|i| start.is_none_or(|s| i.last_message_received_on >= Some(s)))
            .collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.last_message_received_on));
        items.chunks(page.max(1)).map(<[_]>::to_vec).collect()
    }

    fn messages(&self, thread: &str, start: Option<DateTime>) -> Vec<ChatMessage> {
        let t = self.threads.iter().find(|t| t.id == thread).unwrap();
        t.messages
            .iter()
            .rev()
            .filter(|(_, c)| start.is_none_or(|s| at(*c) >= s))
            .map(|(id, c)| {
                ChatMessage::new(
                    at(*c),
                    id.clone(),
                    id.clone(),
                    ChatMessageType::Text,
                    id.clone(),
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    NewThread(u64),
    Send(usize, u64),
    Delete(usize, u64),
    Round {
        page: usize,
        fail: Option<usize>,
    },
    /// Time passes, with nothing happening.
    Wait(u64),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let step = prop_oneof![Just(0u64), 0u64..200];
    prop_oneof![
        2 => step.clone().prop_map(Op::NewThread),
        4 => (any::<usize>(), step.clone()).prop_map(|(i, s)| Op::Send(i, s)),
        1 => (any::<usize>(), step).prop_map(|(i, s)| Op::Delete(i, s)),
        3 => (1usize..4, proptest::option::weighted(0.2, any::<usize>()))
            .prop_map(|(page, fail)| Op::Round { page, fail }),
        1 => (0u64..2000).prop_map(Op::Wait),
        1 => Just(Op::Restart),
    ]
}

struct Harness {
    model: Model,
    watcher: ThreadsWatcher,
    config: WatchConfig,
    events: Vec<ChatEvent>,
}

impl Harness {
    fn new(cursor: ThreadsCursor) -> Self {
        let config = WatchConfig::default().overlap(Duration::from_millis(500));
        Self {
            model: Model::default(),
            watcher: ThreadsWatcher::new(cursor, config.clone()),
            config,
            events: Vec::new(),
        }
    }

    fn run(&mut self, op: &Op) {
        let m = &mut self.model;
        match *op {
            Op::Wait(dt) => m.now += dt,
            Op::NewThread(step) => {
                m.now += step;
                let id = format!("19:t{}@thread.v2", m.threads.len());
                m.threads.push(Thread {
                    id,
                    last: m.now,
                    ..Thread::default()
                });
            }
            Op::Send(i, step) | Op::Delete(i, step) => {
                let n = m.threads.len();
                if n == 0 || m.threads[i % n].deleted.is_some() {
                    return;
                }
                m.now += step;
                let now = m.now;
                let t = &mut m.threads[i % n];
                t.last = now;
                if matches!(op, Op::Send(..)) {
                    t.messages
                        .push((format!("{}-{}", t.id, t.messages.len()), now));
                } else {
                    t.deleted = Some(now);
                }
            }
            Op::Restart => {
                let json = serde_json::to_string(&self.watcher.cursor()).unwrap();
                let cursor: ThreadsCursor = serde_json::from_str(&json).unwrap();
                assert_eq!(cursor, self.watcher.cursor());
                self.watcher = ThreadsWatcher::new(cursor, self.config.clone());
            }
            Op::Round { page, fail } => {
                let now = client_clock(m.now);
                let mut list = self.watcher.poll_threads();
                for items in self.model.list(list.start_time(), page) {
                    list.feed(items);
                }
                let polled = list.finish(now);
                self.events.extend(polled.events);
                assert_eq!(polled.due, self.watcher.due(now));
                for (k, id) in polled.due.iter().enumerate() {
                    let w = self.watcher.thread_mut(id).unwrap();
                    let mut poll = w.poll();
                    let messages = self.model.messages(id, poll.start_time());
                    if fail.is_some_and(|f| f % polled.due.len() == k) {
                        drop(poll); // this thread's listing failed: it stays due
                        continue;
                    }
                    poll.feed(messages);
                    self.events.extend(poll.finish(now).events);
                }
            }
        }
    }
}

proptest! {
    /// Each thread is reported created once and deleted once, and each of its messages
    /// received once, across failures and restarts; nothing stays due once polled.
    #[test]
    fn every_thread_and_message_once(ops in proptest::collection::vec(op(), 1..40)) {
        let mut h = Harness::new(ThreadsCursor::new());
        for op in &ops {
            h.run(op);
        }
        // Settle: a round, then the re-checks an overlap later.
        h.run(&Op::Round { page: 10, fail: None });
        h.run(&Op::Wait(1000));
        h.run(&Op::Round { page: 10, fail: None });
        let later = client_clock(h.model.now + 3_600_000);
        prop_assert!(h.watcher.due(later).is_empty());

        let mut created = BTreeMap::new();
        let mut deleted = BTreeMap::new();
        let mut received = BTreeSet::new();
        for e in &h.events {
            match e {
                ChatEvent::ChatThreadCreated(c) => *created.entry(c.thread_id.clone()).or_insert(0) += 1,
                ChatEvent::ChatThreadDeleted(d) => *deleted.entry(d.thread_id.clone()).or_insert(0) += 1,
                ChatEvent::ChatMessageReceived(m) => prop_assert!(received.insert(m.id.clone()), "{} twice", m.id),
                other => prop_assert!(false, "{other:?}"),
            }
        }
        prop_assert!(created.values().chain(deleted.values()).all(|n| *n == 1), "{:?} {:?}", created, deleted);
        for t in &h.model.threads {
            prop_assert_eq!(deleted.contains_key(&t.id), t.deleted.is_some(), "{}", t.id);
            if t.deleted.is_none() {
                prop_assert!(created.contains_key(&t.id), "{} not created", t.id);
                for (id, _) in &t.messages {
                    prop_assert!(received.contains(id), "{} not received", id);
                }
            }
        }
    }
}

fn kinds(events: &[ChatEvent]) -> Vec<&str> {
    events.iter().map(ChatEvent::kind).collect()
}

#[test]
fn a_watch_from_a_time_learns_existing_threads_quietly() {
    let mut model = Model::default();
    for (i, last) in [(0, 100u64), (1, 900), (2, 1200)] {
        model.threads.push(Thread {
            id: format!("t{i}"),
            last,
            ..Thread::default()
        });
    }
    let mut w = ThreadsWatcher::new(ThreadsCursor::since(at(1000)), WatchConfig::default());
    let mut list = w.poll_threads();
    assert_eq!(list.start_time(), None);
    for p in model.list(None, 2) {
        list.feed(p);
    }
    let polled = list.finish(at(0));
    assert!(polled.events.is_empty());
    // Only the thread active since the start needs a look, from the start.
    assert_eq!(polled.due, ["t2"]);
    assert_eq!(w.thread_mut("t2").unwrap().start_time(), Some(at(1000)));
    assert_eq!(w.cursor().threads(), 3);

    // A thread that appears afterwards is new.
    model.threads.push(Thread {
        id: "t3".into(),
        last: 1300,
        ..Thread::default()
    });
    let mut list = w.poll_threads();
    assert_eq!(
        list.start_time(),
        Some(at(1200).checked_sub(Duration::from_secs(30)).unwrap())
    );
    for p in model.list(list.start_time(), 5) {
        list.feed(p);
    }
    let polled = list.finish(at(0));
    assert_eq!(kinds(&polled.events), ["chatThreadCreated"]);
    let ChatEvent::ChatThreadCreated(c) = &polled.events[0] else {
        panic!()
    };
    assert_eq!(c.properties.topic.as_deref(), Some("topic of t3"));
    assert_eq!(polled.due, ["t3", "t2"]);
}

#[test]
fn a_thread_that_is_gone_is_reported_deleted_once() {
    let mut w = ThreadsWatcher::new(ThreadsCursor::new(), WatchConfig::default());
    let mut list = w.poll_threads();
    list.feed([ChatThreadItem::new("t", "x")]);
    assert_eq!(kinds(&list.finish(at(0)).events), ["chatThreadCreated"]);
    assert_eq!(w.thread_ids().collect::<Vec<_>>(), ["t"]);
    let gone = w.thread_gone("t", at(5)).unwrap();
    assert_eq!(gone.kind(), "chatThreadDeleted");
    assert!(w.thread_gone("t", at(6)).is_none());
    assert!(w.thread_mut("t").is_none());
    assert!(w.thread_gone("unknown", at(6)).is_none());
    // Listed again later with a deletedOn: already reported.
    let mut list = w.poll_threads();
    let mut item = ChatThreadItem::new("t", "x");
    item.deleted_on = Some(at(4));
    list.feed([item]);
    assert!(list.finish(at(0)).events.is_empty());
}

#[test]
fn the_thread_list_backs_off_while_quiet_and_honours_retry_after() {
    let config = WatchConfig::default().intervals(Duration::from_secs(2), Duration::from_secs(16));
    let mut w = ThreadsWatcher::new(ThreadsCursor::new(), config);
    let delays: Vec<u64> = (0..4)
        .map(|_| w.poll_threads().finish(at(0)).next_poll_in.as_secs())
        .collect();
    assert_eq!(delays, [4, 8, 16, 16]);
    assert_eq!(
        w.throttled(Some(Duration::from_secs(60)), at(0)),
        Duration::from_secs(60)
    );
    assert_eq!(
        w.poll_threads().finish(at(10_000)).next_poll_in,
        Duration::from_secs(50)
    );
}

#[test]
fn a_message_with_the_same_last_message_time_is_found_by_the_recheck() {
    let config = WatchConfig::default().overlap(Duration::from_secs(2));
    let mut w = ThreadsWatcher::new(ThreadsCursor::new(), config);
    let mut model = Model::default();
    model.threads.push(Thread {
        id: "t".into(),
        last: 0,
        ..Thread::default()
    });
    model.threads[0].messages.push(("a".into(), 0));
    let round = |w: &mut ThreadsWatcher, model: &Model, now: DateTime| -> Vec<ChatEvent> {
        let mut list = w.poll_threads();
        for p in model.list(list.start_time(), 10) {
            list.feed(p);
        }
        let polled = list.finish(now);
        let mut events = polled.events;
        for id in &polled.due {
            let mut poll = w.thread_mut(id).unwrap().poll();
            poll.feed(model.messages(id, poll.start_time()));
            events.extend(poll.finish(now).events);
        }
        events
    };
    assert_eq!(
        kinds(&round(&mut w, &model, at(0))),
        ["chatThreadCreated", "chatMessageReceived"]
    );
    // A second message in the same millisecond: `lastMessageReceivedOn` does not move.
    model.threads[0].messages.push(("b".into(), 0));
    assert!(round(&mut w, &model, at(1000)).is_empty());
    assert_eq!(w.due(at(1999)), Vec::<String>::new());
    assert_eq!(w.due(at(2000)), ["t"]);
    let events = round(&mut w, &model, at(2000));
    assert_eq!(kinds(&events), ["chatMessageReceived"]);
    // Re-checked once: nothing is due any more.
    assert!(w.due(at(100_000)).is_empty());
}
