//! Receiving by polling against the emulator: `ChatThreadClient::watch` and `ChatClient::watch`
//! deliver every change exactly once while several senders send, edit and delete at once, and a
//! watch resumed from a saved cursor (mid-poll included) neither repeats nor misses anything.
//!
//! The watches poll every few milliseconds (the pacing of the code under test); every wait for
//! an event is bounded by a deadline, never a sleep.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use acs_chat::models::ChatMessageType;
use acs_chat::{
    ChatEvent, ChatThreadClient, CreateChatThreadOptions, DateTime, ErrorKind,
    UpdateChatMessageOptions, Watch, WatchCursor, WatchOptions,
};
use acs_chat_integration_tests::{World, participant};
use futures::StreamExt as _;

const DEADLINE: Duration = Duration::from_secs(60);

fn fast() -> WatchOptions {
    WatchOptions::default().intervals(Duration::from_millis(2), Duration::from_millis(20))
}

/// The next event, failing the test on an error, the end of the stream or the deadline.
async fn next(watch: &mut Watch) -> ChatEvent {
    match tokio::time::timeout(DEADLINE, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("the watch failed: {e}"),
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no event within {DEADLINE:?}"),
    }
}

/// A key per delivered event: what must be unique.
fn key(event: &ChatEvent) -> (String, String, String) {
    match event {
        ChatEvent::ChatMessageReceived(e) => ("received".into(), e.id.clone(), e.message.clone()),
        ChatEvent::ChatMessageEdited(e) => ("edited".into(), e.id.clone(), e.message.clone()),
        ChatEvent::ChatMessageDeleted(e) => ("deleted".into(), e.id.clone(), String::new()),
        other => (other.kind().to_owned(), format!("{other:?}"), String::new()),
    }
}

/// What a set of events says about the text messages: received, edited (by new content) and
/// deleted ids. Panics on any repeat.
#[derive(Default, Debug)]
struct Seen {
    keys: HashSet<(String, String, String)>,
    received: HashMap<String, String>,
    edited: HashSet<String>,
    deleted: HashSet<String>,
}

impl Seen {
    fn add(&mut self, event: &ChatEvent) {
        assert!(
            self.keys.insert(key(event)),
            "delivered twice: {event:?} (seen {} events)",
            self.keys.len()
        );
        match event {
            ChatEvent::ChatMessageReceived(e) if e.message_type == ChatMessageType::Text => {
                self.received.insert(e.id.clone(), e.message.clone());
            }
            ChatEvent::ChatMessageEdited(e) => {
                assert!(
                    self.received.contains_key(&e.id),
                    "edited before received: {}",
                    e.id
                );
                self.edited.insert(e.id.clone());
            }
            ChatEvent::ChatMessageDeleted(e) => {
                self.deleted.insert(e.id.clone());
            }
            _ => {}
        }
    }
}

async fn thread_with(
    world: &World,
    members: usize,
) -> (Vec<acs_chat_integration_tests::User>, String) {
    let users: Vec<_> = (0..members).map(|_| world.user()).collect();
    let created = users[0]
        .client
        .create_chat_thread(
            "watched",
            CreateChatThreadOptions::default()
                .participants(users.iter().map(|u| participant(&u.id, Some("member")))),
        )
        .await
        .unwrap();
    (users, created.thread.id)
}

/// Three senders send 20 messages each at once, each editing every third and deleting every
/// fifth of theirs: the watch (started before) sees each message received once, each deletion
/// once, and each edit once unless a deletion overwrote it before a poll saw it (polling sees
/// states: an edited-then-deleted message may be reported received and deleted only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_watch_delivers_concurrent_changes_exactly_once() {
    let world = World::start().await;
    let (users, thread_id) = thread_with(&world, 4).await;
    let watcher = users[3].client.chat_thread_client(&thread_id);
    let mut watch = watcher.watch(fast()).await.unwrap();

    let mut senders = Vec::new();
    for (s, user) in users[..3].iter().enumerate() {
        let thread = user.client.chat_thread_client(&thread_id);
        senders.push(tokio::spawn(async move {
            let (mut sent, mut edited, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..20 {
                let id = thread
                    .send_message(format!("s{s} m{i}"), Default::default())
                    .await
                    .unwrap();
                if i % 3 == 0 {
                    thread
                        .update_message(
                            &id,
                            UpdateChatMessageOptions::default().content(format!("s{s} m{i} v2")),
                        )
                        .await
                        .unwrap();
                    edited.push(id.clone());
                }
                if i % 5 == 1 {
                    thread.delete_message(&id).await.unwrap();
                    deleted.push(id.clone());
                }
                sent.push(id);
            }
            (sent, edited, deleted)
        }));
    }
    // Read while they send.
    let mut seen = Seen::default();
    let mut expected: Option<(HashSet<String>, HashSet<String>, HashSet<String>)> = None;
    let done = |seen: &Seen, e: &(HashSet<String>, HashSet<String>, HashSet<String>)| {
        e.0.iter().all(|id| seen.received.contains_key(id))
            && e.1.difference(&e.2).all(|id| seen.edited.contains(id))
            && e.2.is_subset(&seen.deleted)
    };
    loop {
        if expected.is_none() && senders.iter().all(|s| s.is_finished()) {
            let mut all = (HashSet::new(), HashSet::new(), HashSet::new());
            for sender in senders.drain(..) {
                let (s, e, d) = sender.await.unwrap();
                all.0.extend(s);
                all.1.extend(e);
                all.2.extend(d);
            }
            expected = Some(all);
        }
        if let Some(e) = &expected
            && done(&seen, e)
        {
            break;
        }
        let event = if expected.is_none() {
            // Do not block on the watch while the senders may still be running: a bounded
            // wait, then check them again.
            match tokio::time::timeout(Duration::from_millis(200), watch.next()).await {
                Ok(Some(Ok(event))) => event,
                Ok(other) => panic!("the watch stopped: {other:?}"),
                Err(_) => continue,
            }
        } else {
            next(&mut watch).await
        };
        seen.add(&event);
    }
    let (sent, edited, deleted) = expected.unwrap();
    assert_eq!(sent.len(), 60);
    // Nothing else: exactly the messages sent (no system message: the thread existed before
    // the watch started).
    let received: HashSet<String> = seen.received.keys().cloned().collect();
    assert_eq!(received, sent);
    let kept_edits: HashSet<String> = edited.difference(&deleted).cloned().collect();
    assert!(
        seen.edited.is_superset(&kept_edits) && seen.edited.is_subset(&edited),
        "edited {:?}, seen {:?}",
        edited,
        seen.edited
    );
    assert_eq!(seen.deleted, deleted);
    // Contents: as sent (or as edited, when the first poll saw the edit), never another's.
    for (id, content) in &seen.received {
        if !deleted.contains(id) {
            assert!(content.starts_with('s'), "{id}: {content}");
        }
    }
}

/// The events of the whole history, in the order a watch from the epoch delivers them, with
/// the cursor after each.
async fn history(
    thread: &ChatThreadClient,
    options: WatchOptions,
    count: usize,
) -> Vec<(ChatEvent, WatchCursor)> {
    let mut watch = thread.watch(options).await.unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        let event = next(&mut watch).await;
        out.push((event, watch.cursor()));
    }
    out
}

/// A watch stopped after any event and resumed from its saved cursor (through JSON) delivers
/// exactly the rest, when the cursor is mid-poll too (many events from one listing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_watch_neither_repeats_nor_misses() {
    let world = World::start().await;
    let (users, thread_id) = thread_with(&world, 2).await;
    let thread = users[0].client.chat_thread_client(&thread_id);
    for i in 0..12 {
        thread
            .send_message(format!("m{i}"), Default::default())
            .await
            .unwrap();
    }
    thread.update_topic("renamed").await.unwrap();
    // 1 participants added (creation), 12 messages, 1 topic update.
    let from_epoch = || fast().since(DateTime::UNIX_EPOCH);
    let all = history(&thread, from_epoch(), 14).await;
    let kinds: Vec<&str> = all.iter().map(|(e, _)| e.kind()).collect();
    assert_eq!(kinds[0], "participantsAdded", "{kinds:?}");
    assert_eq!(kinds[13], "chatThreadPropertiesUpdated", "{kinds:?}");
    let keys: Vec<_> = all.iter().map(|(e, _)| key(e)).collect();

    for stop in [0, 1, 5, 12] {
        let cursor = all[stop].1.clone();
        let saved = serde_json::to_string(&cursor).unwrap();
        let cursor: WatchCursor = serde_json::from_str(&saved).unwrap();
        let rest = history(&thread, fast().resume(cursor), 13 - stop).await;
        let rest_keys: Vec<_> = rest.iter().map(|(e, _)| key(e)).collect();
        assert_eq!(rest_keys, keys[stop + 1..], "resumed after event {stop}");
    }

    // Changes after the cursor are delivered after a resume too.
    let last = all[13].1.clone();
    let id = thread
        .send_message("after", Default::default())
        .await
        .unwrap();
    let more = history(&thread, fast().resume(last), 1).await;
    assert!(
        matches!(&more[0].0, ChatEvent::ChatMessageReceived(m) if m.id == id && m.message == "after"),
        "{:?}",
        more[0].0
    );
}

/// A watch from now delivers nothing of the past; a cursor of one thread is refused for
/// another; a deleted thread ends the watch with an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_now_cursor_scope_and_end() {
    let world = World::start().await;
    let (users, thread_id) = thread_with(&world, 2).await;
    let thread = users[0].client.chat_thread_client(&thread_id);
    thread
        .send_message("before", Default::default())
        .await
        .unwrap();
    let mut watch = users[1]
        .client
        .chat_thread_client(&thread_id)
        .watch(fast())
        .await
        .unwrap();
    let id = thread
        .send_message("after", Default::default())
        .await
        .unwrap();
    match next(&mut watch).await {
        ChatEvent::ChatMessageReceived(m) => {
            assert_eq!((m.id.as_str(), m.message.as_str()), (id.as_str(), "after"));
        }
        other => panic!("{other:?}"),
    }

    let other = users[0]
        .client
        .create_chat_thread("other", Default::default())
        .await
        .unwrap();
    let err = users[0]
        .client
        .chat_thread_client(&other.thread.id)
        .watch(WatchOptions::default().resume(watch.cursor()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = users[0]
        .client
        .watch(WatchOptions::default().resume(watch.cursor()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    users[0]
        .client
        .delete_chat_thread(&thread_id)
        .await
        .unwrap();
    let end = tokio::time::timeout(DEADLINE, async {
        let mut items = Vec::new();
        while let Some(item) = watch.next().await {
            items.push(item);
        }
        items
    })
    .await
    .expect("the watch ends");
    let last = end.last().expect("an error before the end");
    let err = last.as_ref().unwrap_err();
    assert!(err.status().is_some_and(|s| s == 403 || s == 404), "{err}");
}

/// `ChatClient::watch` sees threads created and deleted and the messages of every thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_watch_covers_every_thread() {
    let world = World::start().await;
    let alice = world.user();
    let bob = world.user();
    let (_, existing) = {
        let created = alice
            .client
            .create_chat_thread(
                "existing",
                CreateChatThreadOptions::default()
                    .participants([participant(&alice.id, None), participant(&bob.id, None)]),
            )
            .await
            .unwrap();
        ((), created.thread.id)
    };
    let mut watch = bob.client.watch(fast()).await.unwrap();

    let created = alice
        .client
        .create_chat_thread(
            "new",
            CreateChatThreadOptions::default()
                .participants([participant(&alice.id, None), participant(&bob.id, None)]),
        )
        .await
        .unwrap();
    let new = created.thread.id;
    let in_existing = alice
        .client
        .chat_thread_client(&existing)
        .send_message("to existing", Default::default())
        .await
        .unwrap();
    let in_new = alice
        .client
        .chat_thread_client(&new)
        .send_message("to new", Default::default())
        .await
        .unwrap();

    let mut seen = Seen::default();
    let mut created_seen = false;
    while !(created_seen
        && seen.received.contains_key(&in_existing)
        && seen.received.contains_key(&in_new))
    {
        let event = next(&mut watch).await;
        if let ChatEvent::ChatThreadCreated(e) = &event {
            assert_eq!(e.thread_id, new);
            created_seen = true;
        }
        seen.add(&event);
    }
    assert_eq!(seen.received[&in_existing], "to existing");
    assert_eq!(seen.received[&in_new], "to new");

    alice.client.delete_chat_thread(&new).await.unwrap();
    loop {
        let event = next(&mut watch).await;
        seen.add(&event);
        if let ChatEvent::ChatThreadDeleted(e) = &event {
            assert_eq!(e.thread_id, new);
            break;
        }
    }
}

/// Throttled polls (429s beyond the client's retries) are items, not the end: the watch
/// pauses, polls again, and still delivers each change once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_watch_reports_it_and_goes_on() {
    let world = World::start().await;
    let (users, thread_id) = thread_with(&world, 2).await;
    let thread = users[0].client.chat_thread_client(&thread_id);
    let mut watch = users[1]
        .client
        .chat_thread_client(&thread_id)
        .watch(fast())
        .await
        .unwrap();
    let id = thread
        .send_message("hello", Default::default())
        .await
        .unwrap();
    // The watch's next poll: its first attempt and the client's 3 retries are refused.
    world.emulator.faults().fail_next(4, 429);
    let item = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .expect("an item")
        .expect("the watch goes on");
    let e = item.expect_err("the throttled poll is reported");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429), "{e}");
    assert_eq!(world.emulator.faults().pending(), 0);
    match next(&mut watch).await {
        ChatEvent::ChatMessageReceived(m) => assert_eq!((m.id, m.message), (id, "hello".into())),
        other => panic!("{other:?}"),
    }
    // Nothing twice: the next change is the next event.
    let id = thread
        .send_message("again", Default::default())
        .await
        .unwrap();
    match next(&mut watch).await {
        ChatEvent::ChatMessageReceived(m) => assert_eq!(m.id, id),
        other => panic!("{other:?}"),
    }
}
