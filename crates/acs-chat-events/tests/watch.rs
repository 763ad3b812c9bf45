//! The polling watcher against a model of the service: random sends, edits and deletes, with
//! equal timestamps, changes that become visible late, changes made while a listing pages
//! through, pages that repeat the previous page's last message, listings that fail half-way,
//! restarts from a serialized cursor, and a client clock that has nothing to do with the
//! service's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use acs_chat_events::ChatEvent;
use acs_chat_events::watch::{ThreadCursor, ThreadWatcher, WatchConfig};
use acs_chat_protocol::models::{ChatMessage, ChatMessageContent, ChatMessageType};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};
use proptest::prelude::*;

const THREAD: &str = "19:model@thread.v2";
/// The watcher's overlap, and the bounds that keep every change within it: a change becomes
/// visible at most `MAX_LAG` after its timestamp, and a listing takes at most
/// `MAX_GAPS * MAX_BETWEEN * MAX_STEP`.
const OVERLAP_MS: u64 = 1000;
const MAX_LAG: u64 = 300;
const MAX_STEP: u64 = 50;
const MAX_BETWEEN: usize = 4;
const MAX_GAPS: usize = 2;
const BASE_MS: i64 = 1_714_557_600_000;

fn at(ms: u64) -> DateTime {
    DateTime::from_unix_timestamp_nanos(i128::from(BASE_MS + ms as i64) * 1_000_000).unwrap()
}

fn ms(t: DateTime) -> u64 {
    (t.unix_timestamp_nanos() / 1_000_000 - i128::from(BASE_MS)) as u64
}

// ---------- the model service ----------

#[derive(Debug, Clone)]
struct State {
    version: u64,
    created: u64,
    edited: Option<u64>,
    deleted: Option<u64>,
    text: String,
    visible_at: u64,
}

#[derive(Debug, Clone)]
struct Msg {
    id: String,
    seq: u64,
    states: Vec<State>,
}

#[derive(Debug, Default)]
struct Service {
    now: u64,
    next_version: u64,
    msgs: Vec<Msg>,
}

#[derive(Debug, Clone)]
enum Mutation {
    Send { step: u64, lag: u64 },
    Edit { pick: usize, step: u64, lag: u64 },
    Delete { pick: usize, step: u64, lag: u64 },
}

impl Service {
    fn apply(&mut self, m: &Mutation) {
        match *m {
            Mutation::Send { step, lag } => {
                self.now += step;
                self.next_version += 1;
                let seq = self.msgs.len() as u64 + 1;
                self.msgs.push(Msg {
                    id: format!("m{seq}"),
                    seq,
                    states: vec![State {
                        version: self.next_version,
                        created: self.now,
                        edited: None,
                        deleted: None,
                        text: format!("m{seq} v{}", self.next_version),
                        visible_at: self.now + lag,
                    }],
                });
            }
            Mutation::Edit { pick, step, lag } | Mutation::Delete { pick, step, lag } => {
                if self.msgs.is_empty() {
                    return;
                }
                let i = pick % self.msgs.len();
                let last = self.msgs[i].states.last().unwrap().clone();
                if last.deleted.is_some() {
                    return;
                }
                self.now += step;
                self.next_version += 1;
                let mut s = State {
                    version: self.next_version,
                    visible_at: self.now + lag,
                    ..last
                };
                if matches!(m, Mutation::Edit { .. }) {
                    s.edited = Some(self.now);
                    s.text = format!("{} v{}", self.msgs[i].id, self.next_version);
                } else {
                    s.deleted = Some(self.now);
                    s.text.clear();
                }
                self.msgs[i].states.push(s);
            }
        }
    }

    /// A message as a listing at the current time shows it: its latest visible state.
    fn visible(&self, msg: &Msg) -> Option<ChatMessage> {
        let s = msg.states.iter().rev().find(|s| s.visible_at <= self.now)?;
        let mut m = ChatMessage::new(
            at(s.created),
            msg.id.clone(),
            msg.seq.to_string(),
            ChatMessageType::Text,
            s.version.to_string(),
        );
        m.edited_on = s.edited.map(at);
        m.deleted_on = s.deleted.map(at);
        if s.deleted.is_none() {
            let mut c = ChatMessageContent::new();
            c.message = Some(s.text.clone());
            m.content = Some(c);
        }
        m.sender_communication_identifier =
            Some(CommunicationIdentifier::communication_user("8:acs:r_ann"));
        Some(m)
    }

    /// One page, newest first by sequence, below `before` (like the emulator's continuation).
    fn page(&self, start: Option<DateTime>, before: u64, size: usize) -> Vec<ChatMessage> {
        let mut out = Vec::new();
        for msg in self.msgs.iter().rev().filter(|m| m.seq < before) {
            if let Some(m) = self.visible(msg) {
                let modified = [Some(m.created_on), m.edited_on, m.deleted_on]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap();
                if start.is_none_or(|s| modified >= s) {
                    out.push(m);
                    if out.len() == size {
                        break;
                    }
                }
            }
        }
        out
    }
}

// ---------- the script ----------

#[derive(Debug, Clone)]
enum Op {
    Mutate(Mutation),
    Poll {
        page_size: usize,
        repeat_last: bool,
        /// Mutations made before the 2nd, 3rd… page is fetched.
        between: Vec<Vec<Mutation>>,
        /// Fail (drop the poll) after this many pages.
        fail_after: Option<usize>,
        /// The client's clock, off the service's by this much.
        skew_ms: i64,
    },
    Restart,
    Tick(u64),
}

fn mutation(max_lag: u64) -> impl Strategy<Value = Mutation> {
    let step = prop_oneof![Just(0u64), 0..=MAX_STEP];
    prop_oneof![
        3 => (step.clone(), 0..=max_lag).prop_map(|(step, lag)| Mutation::Send { step, lag }),
        2 => (any::<usize>(), step.clone(), 0..=max_lag).prop_map(|(pick, step, lag)| Mutation::Edit { pick, step, lag }),
        1 => (any::<usize>(), step, 0..=max_lag).prop_map(|(pick, step, lag)| Mutation::Delete { pick, step, lag }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => mutation(MAX_LAG).prop_map(Op::Mutate),
        4 => (
            1usize..5,
            any::<bool>(),
            proptest::collection::vec(proptest::collection::vec(mutation(MAX_LAG), 0..=MAX_BETWEEN), 0..=MAX_GAPS),
            proptest::option::weighted(0.15, 0usize..3),
            -86_400_000i64..86_400_000,
        )
            .prop_map(|(page_size, repeat_last, between, fail_after, skew_ms)| Op::Poll { page_size, repeat_last, between, fail_after, skew_ms }),
        1 => Just(Op::Restart),
        1 => (0u64..2 * OVERLAP_MS).prop_map(Op::Tick),
    ]
}

struct Harness {
    service: Service,
    watcher: ThreadWatcher,
    config: WatchConfig,
    /// Every event, with the poll it came from.
    events: Vec<(usize, ChatEvent)>,
    polls: usize,
    /// `(id, version)` of the edited, undeleted states the watcher was fed in finished polls.
    fed_edits: BTreeSet<(String, String)>,
}

impl Harness {
    fn new(service: Service, cursor: ThreadCursor) -> Self {
        let config = WatchConfig::default()
            .overlap(Duration::from_millis(OVERLAP_MS))
            .intervals(Duration::from_millis(100), Duration::from_secs(5));
        Self {
            watcher: ThreadWatcher::new(THREAD, cursor, config.clone()),
            service,
            config,
            events: Vec::new(),
            polls: 0,
            fed_edits: BTreeSet::new(),
        }
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Mutate(m) => self.service.apply(m),
            Op::Tick(dt) => self.service.now += dt,
            Op::Restart => {
                let json = serde_json::to_string(self.watcher.cursor()).unwrap();
                let cursor: ThreadCursor = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(&cursor, self.watcher.cursor());
                self.watcher = ThreadWatcher::new(THREAD, cursor, self.config.clone());
            }
            Op::Poll {
                page_size,
                repeat_last,
                between,
                fail_after,
                skew_ms,
            } => {
                let mut poll = self.watcher.poll();
                let start = poll.start_time();
                let mut before = u64::MAX;
                let mut fed: BTreeMap<String, ChatMessage> = BTreeMap::new();
                let mut pages = 0;
                loop {
                    if pages > 0
                        && let Some(muts) = between.get(pages - 1)
                    {
                        for m in muts {
                            self.service.apply(m);
                        }
                    }
                    if *fail_after == Some(pages) {
                        drop(poll);
                        return Ok(()); // nothing of a failed listing may count
                    }
                    let page = self.service.page(start, before, *page_size);
                    pages += 1;
                    for m in &page {
                        if fed
                            .get(&m.id)
                            .is_none_or(|old| modified(old) <= modified(m))
                        {
                            fed.insert(m.id.clone(), m.clone());
                        }
                    }
                    let (len, last_seq) = match page.last() {
                        Some(last) => (page.len(), last.sequence_id.parse::<u64>().unwrap()),
                        None => break,
                    };
                    poll.feed(page);
                    if len < *page_size {
                        break;
                    }
                    // The next page; it may start again with this page's last message.
                    before = if *repeat_last && len > 1 {
                        last_seq + 1
                    } else {
                        last_seq
                    };
                }
                let now = DateTime::from_unix_timestamp_nanos(
                    at(self.service.now).unix_timestamp_nanos() + i128::from(*skew_ms) * 1_000_000,
                )
                .unwrap();
                let polled = poll.finish(now);
                prop_assert!(polled.next_poll_in >= Duration::from_millis(100));
                prop_assert!(polled.next_poll_in <= Duration::from_secs(5));
                // Within a poll, oldest first.
                let times: Vec<DateTime> = polled.events.iter().map(time_of).collect();
                prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "{:?}", times);
                self.polls += 1;
                for e in polled.events {
                    self.events.push((self.polls, e));
                }
                for m in fed.values() {
                    if m.edited_on.is_some() && m.deleted_on.is_none() {
                        self.fed_edits.insert((m.id.clone(), m.version.clone()));
                    }
                }
            }
        }
        Ok(())
    }
}

fn modified(m: &ChatMessage) -> DateTime {
    [Some(m.created_on), m.edited_on, m.deleted_on]
        .into_iter()
        .flatten()
        .max()
        .unwrap()
}

fn time_of(e: &ChatEvent) -> DateTime {
    match e {
        ChatEvent::ChatMessageReceived(e) => e.created_on,
        ChatEvent::ChatMessageEdited(e) => e.edited_on,
        ChatEvent::ChatMessageDeleted(e) => e.deleted_on,
        other => panic!("unexpected {other:?}"),
    }
}

/// `(kind, id, version-or-empty)` of a message event.
fn key(e: &ChatEvent) -> (&'static str, String, String) {
    match e {
        ChatEvent::ChatMessageReceived(e) => ("received", e.id.clone(), String::new()),
        ChatEvent::ChatMessageEdited(e) => ("edited", e.id.clone(), e.version.clone().unwrap()),
        ChatEvent::ChatMessageDeleted(e) => ("deleted", e.id.clone(), String::new()),
        other => panic!("unexpected {other:?}"),
    }
}

/// Every check on a finished script: sound, exactly once, complete, in order per message.
fn check(h: &Harness, floor0: Option<u64>) -> Result<(), TestCaseError> {
    let in_scope = |t: u64| floor0.is_none_or(|f| t >= f);
    let by_id: BTreeMap<&str, &Msg> = h.service.msgs.iter().map(|m| (m.id.as_str(), m)).collect();

    // Sound: every event is a real change of the model, in scope.
    for (_, e) in &h.events {
        let (kind, id, version) = key(e);
        let msg = by_id.get(id.as_str()).copied();
        prop_assert!(msg.is_some(), "no message {}", id);
        let msg = msg.unwrap();
        let first = &msg.states[0];
        match e {
            ChatEvent::ChatMessageReceived(r) => {
                prop_assert_eq!(ms(r.created_on), first.created);
                prop_assert!(in_scope(first.created));
                prop_assert_eq!(r.thread_id.as_str(), THREAD);
            }
            ChatEvent::ChatMessageEdited(ed) => {
                let state = msg.states.iter().find(|s| s.version.to_string() == version);
                prop_assert!(state.is_some(), "no version {} of {}", version, id);
                let state = state.unwrap();
                prop_assert_eq!(state.edited.map(at), Some(ed.edited_on));
                prop_assert_eq!(&state.text, &ed.message);
                prop_assert!(in_scope(state.edited.unwrap()));
            }
            ChatEvent::ChatMessageDeleted(d) => {
                let deleted = msg.states.last().unwrap().deleted;
                prop_assert_eq!(deleted.map(at), Some(d.deleted_on));
                prop_assert!(in_scope(deleted.unwrap()));
            }
            _ => unreachable!(),
        }
        let _ = kind;
    }

    // Exactly once.
    let keys: Vec<_> = h.events.iter().map(|(_, e)| key(e)).collect();
    let unique: BTreeSet<_> = keys.iter().cloned().collect();
    prop_assert_eq!(unique.len(), keys.len(), "repeated events: {:?}", keys);

    // Complete: every creation and deletion in scope, and every edit a listing showed.
    for msg in &h.service.msgs {
        let first = &msg.states[0];
        let last = msg.states.last().unwrap();
        if in_scope(first.created) {
            prop_assert!(
                unique.contains(&("received", msg.id.clone(), String::new())),
                "{} not received",
                msg.id
            );
        }
        if let Some(d) = last.deleted
            && in_scope(d)
        {
            prop_assert!(
                unique.contains(&("deleted", msg.id.clone(), String::new())),
                "{} not deleted",
                msg.id
            );
        }
        if last.deleted.is_none()
            && let Some(e) = last.edited
            && in_scope(e)
        {
            prop_assert!(
                unique.contains(&("edited", msg.id.clone(), last.version.to_string())),
                "last edit of {} missing",
                msg.id
            );
        }
    }
    let edited: BTreeSet<(String, String)> = unique
        .iter()
        .filter(|k| k.0 == "edited")
        .map(|k| (k.1.clone(), k.2.clone()))
        .collect();
    let expected_edits: BTreeSet<(String, String)> = h
        .fed_edits
        .iter()
        .filter(|(id, v)| {
            let state = by_id[id.as_str()]
                .states
                .iter()
                .find(|s| s.version.to_string() == *v)
                .unwrap();
            in_scope(state.edited.unwrap())
        })
        .cloned()
        .collect();
    prop_assert_eq!(edited, expected_edits);

    // In order per message: received, edits by time, deleted.
    for msg in &h.service.msgs {
        let mine: Vec<&ChatEvent> = h
            .events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| key(e).1 == msg.id)
            .collect();
        let ranks: Vec<u8> = mine
            .iter()
            .map(|e| match key(e).0 {
                "received" => 0,
                "edited" => 1,
                _ => 2,
            })
            .collect();
        prop_assert!(
            ranks.windows(2).all(|w| w[0] <= w[1]),
            "{}: {:?}",
            msg.id,
            ranks
        );
        let edit_times: Vec<DateTime> = mine
            .iter()
            .filter(|e| key(e).0 == "edited")
            .map(|e| time_of(e))
            .collect();
        prop_assert!(edit_times.windows(2).all(|w| w[0] <= w[1]));
    }
    Ok(())
}

/// Lists until quiet: everything visible, then a poll that must find nothing new.
fn settle(h: &mut Harness) -> Result<(), TestCaseError> {
    h.service.now += MAX_LAG + 1;
    let clean = Op::Poll {
        page_size: 3,
        repeat_last: false,
        between: vec![],
        fail_after: None,
        skew_ms: 0,
    };
    h.run(&clean)?;
    let before = h.events.len();
    h.run(&clean)?;
    prop_assert_eq!(
        h.events.len(),
        before,
        "a quiet poll reported {:?}",
        &h.events[before..]
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Every change a listing shows is reported exactly once, in order per message, whatever
    /// the page boundaries, overlaps, late visibility, failures, restarts and clock skew.
    #[test]
    fn every_change_exactly_once(
        history in proptest::collection::vec(mutation(0), 0..6),
        from_start in any::<bool>(),
        back in 0u64..200,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        // Some history before the watch; then watch from the beginning or from a time.
        let mut service = Service::default();
        for m in &history {
            service.apply(m);
        }
        let floor0 = (!from_start).then(|| service.now.saturating_sub(back));
        let cursor = floor0.map_or_else(ThreadCursor::new, |f| ThreadCursor::since(at(f)));
        let mut h = Harness::new(service, cursor);
        for op in &ops {
            h.run(op)?;
        }
        settle(&mut h)?;
        check(&h, floor0)?;
    }

    /// Polling after every change (no late visibility) reports exactly the change log, in
    /// order, even with equal timestamps, repeated page ends and restarts.
    #[test]
    fn one_poll_per_change_is_the_change_log(
        steps in proptest::collection::vec(
            (mutation(0), 1usize..4, any::<bool>(), any::<bool>(), -86_400_000i64..86_400_000), 1..30),
    ) {
        let mut h = Harness::new(Service::default(), ThreadCursor::new());
        let mut log: Vec<(&'static str, String, String)> = Vec::new();
        for (m, page_size, repeat_last, restart, skew_ms) in &steps {
            let before: usize = h.service.msgs.iter().map(|m| m.states.len()).sum();
            h.service.apply(m);
            let after: usize = h.service.msgs.iter().map(|m| m.states.len()).sum();
            if after > before {
                let changed = h.service.msgs.iter().find(|msg| msg.states.last().unwrap().version == h.service.next_version).unwrap();
                let s = changed.states.last().unwrap();
                log.push(match m {
                    Mutation::Send { .. } => ("received", changed.id.clone(), String::new()),
                    Mutation::Edit { .. } => ("edited", changed.id.clone(), s.version.to_string()),
                    Mutation::Delete { .. } => ("deleted", changed.id.clone(), String::new()),
                });
            }
            if *restart {
                h.run(&Op::Restart)?;
            }
            h.run(&Op::Poll { page_size: *page_size, repeat_last: *repeat_last, between: vec![], fail_after: None, skew_ms: *skew_ms })?;
        }
        let got: Vec<_> = h.events.iter().map(|(_, e)| key(e)).collect();
        prop_assert_eq!(got, log);
    }
}

// ---------- unit cases ----------

fn message(id: &str, seq: u64, created: u64, version: u64) -> ChatMessage {
    let mut m = ChatMessage::new(
        at(created),
        id,
        seq.to_string(),
        ChatMessageType::Text,
        version.to_string(),
    );
    let mut c = ChatMessageContent::new();
    c.message = Some(format!("{id} v{version}"));
    m.content = Some(c);
    m
}

fn kinds(events: &[ChatEvent]) -> Vec<&str> {
    events.iter().map(ChatEvent::kind).collect()
}

#[test]
fn a_message_first_seen_edited_is_received_then_edited_and_edits_of_old_messages_are_edits() {
    let mut w = ThreadWatcher::new(
        THREAD,
        ThreadCursor::since(at(1000)),
        WatchConfig::default(),
    );
    let mut fresh = message("new", 2, 1500, 3);
    fresh.edited_on = Some(at(1600));
    let mut old = message("old", 1, 10, 4);
    old.edited_on = Some(at(1700));
    let mut poll = w.poll();
    assert_eq!(poll.start_time(), Some(at(1000)));
    poll.feed([fresh, old]);
    let polled = poll.finish(at(0));
    assert_eq!(
        kinds(&polled.events),
        [
            "chatMessageReceived",
            "chatMessageEdited",
            "chatMessageEdited"
        ]
    );
    let ChatEvent::ChatMessageEdited(e) = &polled.events[2] else {
        panic!()
    };
    assert_eq!(e.id, "old");
    assert_eq!(w.cursor().watermark(), Some(at(1700)));
}

#[test]
fn system_messages_are_thread_events() {
    let mut w = ThreadWatcher::new(THREAD, ThreadCursor::new(), WatchConfig::default());
    let ann = CommunicationIdentifier::communication_user("8:acs:r_ann");
    let bob = CommunicationIdentifier::communication_user("8:acs:r_bob");
    let mut added = ChatMessage::new(at(1), "1", "1", ChatMessageType::ParticipantAdded, "1");
    let mut c = ChatMessageContent::new();
    c.participants = Some(vec![acs_chat_protocol::models::ChatParticipant::new(
        bob.clone(),
    )]);
    c.initiator_communication_identifier = Some(ann.clone());
    added.content = Some(c);
    let mut topic = ChatMessage::new(at(2), "2", "2", ChatMessageType::TopicUpdated, "2");
    let mut c = ChatMessageContent::new();
    c.topic = Some("Plans".into());
    topic.content = Some(c);
    let removed = ChatMessage::new(at(3), "3", "3", ChatMessageType::ParticipantRemoved, "3");
    let mut poll = w.poll();
    poll.feed([removed, topic, added]);
    let events = poll.finish(at(0)).events;
    assert_eq!(
        kinds(&events),
        [
            "participantsAdded",
            "chatThreadPropertiesUpdated",
            "participantsRemoved"
        ]
    );
    let ChatEvent::ParticipantsAdded(a) = &events[0] else {
        panic!()
    };
    assert_eq!(a.participants_added[0].id, bob);
    assert_eq!(a.added_by.as_ref().unwrap().id, ann);
    let ChatEvent::ChatThreadPropertiesUpdated(u) = &events[1] else {
        panic!()
    };
    assert_eq!(u.properties.topic.as_deref(), Some("Plans"));
}

#[test]
fn a_stale_state_after_a_newer_one_reports_nothing() {
    let mut w = ThreadWatcher::new(THREAD, ThreadCursor::new(), WatchConfig::default());
    let v1 = message("a", 1, 100, 1);
    let mut v2 = v1.clone();
    v2.version = "2".into();
    v2.edited_on = Some(at(200));
    let mut poll = w.poll();
    poll.feed([v2]);
    assert_eq!(
        kinds(&poll.finish(at(0)).events),
        ["chatMessageReceived", "chatMessageEdited"]
    );
    // A lagging replica lists the older state.
    let mut poll = w.poll();
    poll.feed([v1]);
    assert!(poll.finish(at(0)).events.is_empty());
}

#[test]
fn the_delay_backs_off_while_idle_and_honours_retry_after() {
    let config = WatchConfig::default().intervals(Duration::from_secs(1), Duration::from_secs(8));
    let mut w = ThreadWatcher::new(THREAD, ThreadCursor::new(), config);
    let mut delays = Vec::new();
    for _ in 0..5 {
        delays.push(w.poll().finish(at(0)).next_poll_in.as_secs());
    }
    assert_eq!(delays, [2, 4, 8, 8, 8]);
    let mut poll = w.poll();
    poll.feed([message("a", 1, 5, 1)]);
    assert_eq!(poll.finish(at(0)).next_poll_in, Duration::from_secs(1));
    // 429 with Retry-After: 20 s; the next poll, 5 s later, still waits the rest.
    assert_eq!(
        w.throttled(Some(Duration::from_secs(20)), at(0)),
        Duration::from_secs(20)
    );
    assert_eq!(
        w.poll().finish(at(5_000)).next_poll_in,
        Duration::from_secs(15)
    );
    assert_eq!(
        w.poll().finish(at(25_000)).next_poll_in,
        Duration::from_secs(8)
    );
    // Without Retry-After: the backed-off interval.
    assert_eq!(w.throttled(None, at(30_000)), Duration::from_secs(8));
}

#[test]
fn the_seen_set_is_bounded() {
    let config = WatchConfig::default()
        .overlap(Duration::from_secs(3600))
        .max_seen(10);
    let mut w = ThreadWatcher::new(THREAD, ThreadCursor::new(), config);
    let mut poll = w.poll();
    poll.feed((1..=25).map(|i| message(&format!("m{i}"), i, i * 10, i)));
    assert_eq!(poll.finish(at(0)).events.len(), 25);
    assert!(w.cursor().remembered() <= 10);
    // The floor rose above what was forgotten: those messages, listed again, are not news.
    assert!(w.start_time() > Some(at(150)), "{:?}", w.start_time());
    let mut poll = w.poll();
    poll.feed((1..=25).map(|i| message(&format!("m{i}"), i, i * 10, i)));
    assert!(poll.finish(at(0)).events.is_empty());
}

#[test]
fn the_cursor_is_plain_json() {
    let mut w = ThreadWatcher::new(THREAD, ThreadCursor::since(at(0)), WatchConfig::default());
    let mut poll = w.poll();
    let mut m = message("a", 1, 100, 7);
    m.edited_on = Some(at(150));
    poll.feed([m]);
    let _ = poll.finish(at(0));
    let json = serde_json::to_value(w.cursor()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "floor": "2024-05-01T10:00:00Z",
            "watermark": "2024-05-01T10:00:00.15Z",
            "seen": {"a": {"version": "7", "modified": "2024-05-01T10:00:00.15Z", "editedOn": "2024-05-01T10:00:00.15Z"}}
        })
    );
}
