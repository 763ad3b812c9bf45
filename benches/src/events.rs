//! Section 5, receiving: how long a message takes from `send_message` to the receiver's stream,
//! by polling (`ChatThreadClient::watch`, `ChatClient::watch`) and by Event Grid delivery (the
//! emulator's webhook into an `EventGridListener`), and what an idle watcher costs in requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_chat::events::watch::{ThreadCursor, ThreadWatcher, ThreadsCursor, ThreadsWatcher};
use acs_chat::futures::{Stream, StreamExt as _};
use acs_chat::models::ChatParticipant;
use acs_chat::{
    ChatClient, ChatEvent, CommunicationIdentifier, CommunicationTokenCredential,
    CreateChatThreadOptions, DateTime, EventGridListener, WatchConfig, WatchOptions,
};
use acs_chat_emulator::{Emulator, RunningEmulator};

use crate::{BoxError, Plan, fmt_duration};

type Events = std::pin::Pin<Box<dyn Stream<Item = ChatEvent> + Send>>;

/// One way of receiving, measured.
struct Source {
    name: String,
    config: String,
    latencies: Vec<Duration>,
    missed: usize,
}

/// A client of the emulator for a new user.
fn client(emulator: &RunningEmulator) -> Result<(CommunicationIdentifier, ChatClient), BoxError> {
    let (user, token) = emulator.create_user_and_token()?;
    let ca = emulator.ca_certificate_pem().ok_or("no CA")?;
    let client = ChatClient::builder(
        emulator.endpoint(),
        CommunicationTokenCredential::new(token)?,
    )
    .add_root_certificate_pem(ca)
    .build()?;
    Ok((CommunicationIdentifier::communication_user(user), client))
}

/// Sends `count` messages `gap` apart as `sender` into `thread`, while `events` is read; the
/// latency of each is from the start of its `send_message` call to the moment the receiver's
/// stream yields it (each message is matched by its content).
async fn measure(
    sender: &ChatClient,
    thread: &str,
    mut events: Events,
    count: usize,
    gap: Duration,
) -> Result<(Vec<Duration>, usize), BoxError> {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let received: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let reader = tokio::spawn({
        let sent = Arc::clone(&sent);
        let received = Arc::clone(&received);
        async move {
            while let Some(event) = events.next().await {
                let now = Instant::now();
                if let ChatEvent::ChatMessageReceived(m) = event
                    && let Some(at) = sent.lock().unwrap().remove(&m.message)
                {
                    received.lock().unwrap().push(now - at);
                }
            }
        }
    });
    let thread = sender.chat_thread_client(thread);
    for i in 0..count {
        let text = format!("latency probe {i}");
        sent.lock().unwrap().insert(text.clone(), Instant::now());
        thread.send_message(text, Default::default()).await?;
        tokio::time::sleep(gap).await;
    }
    // What has not arrived within 35 s more (longer than the longest idle interval) is missed.
    let deadline = Instant::now() + Duration::from_secs(35);
    while !sent.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    let missed = sent.lock().unwrap().len();
    let mut latencies = received.lock().unwrap().clone();
    latencies.sort();
    Ok((latencies, missed))
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Polls per minute of an idle watcher with `config`, from the watchers' own pacing (sans-IO:
/// the state machines run on a simulated clock for an hour with nothing to find).
fn idle_requests_per_minute(config: &WatchConfig) -> (f64, f64) {
    let start = DateTime::from_unix_timestamp(1_700_000_000).unwrap_or(DateTime::UNIX_EPOCH);
    let hour = Duration::from_secs(3600);
    let mut thread = ThreadWatcher::new(
        "19:idle@thread.v2",
        ThreadCursor::since(start),
        config.clone(),
    );
    let (mut now, mut polls) = (start, 0u64);
    while now.saturating_duration_since(start) < hour {
        let polled = thread.poll().finish(now);
        polls += 1;
        now = now.checked_add(polled.next_poll_in).unwrap_or(now);
    }
    let thread_rate = polls as f64 / 60.0;
    let mut threads = ThreadsWatcher::new(ThreadsCursor::since(start), config.clone());
    let (mut now, mut requests) = (start, 0u64);
    while now.saturating_duration_since(start) < hour {
        let round = threads.poll_threads().finish(now);
        requests += 1 + round.due.len() as u64;
        now = now.checked_add(round.next_poll_in).unwrap_or(now);
    }
    (thread_rate, requests as f64 / 60.0)
}

pub(crate) async fn section(plan: &Plan) -> Result<String, BoxError> {
    let (count, gap) = if plan.quick {
        (3, Duration::from_millis(50))
    } else {
        (30, Duration::from_millis(700))
    };
    let mut sources = Vec::new();

    // Polling, default pacing and a fast one.
    for (name, options, config) in [
        (
            "polling, `ChatThreadClient::watch`",
            WatchOptions::default(),
            "default pacing (1 s after activity, backing off ×2 to 30 s)",
        ),
        (
            "polling, `ChatThreadClient::watch`",
            WatchOptions::default().intervals(Duration::from_millis(100), Duration::from_secs(2)),
            "`intervals(100 ms, 2 s)`",
        ),
        (
            "polling, `ChatClient::watch` (every thread)",
            WatchOptions::default().intervals(Duration::from_millis(100), Duration::from_secs(2)),
            "`intervals(100 ms, 2 s)`",
        ),
    ] {
        let emulator = Emulator::builder().port(0).start().await?;
        let (alice_id, alice) = client(&emulator)?;
        let (bob_id, bob) = client(&emulator)?;
        let thread = alice
            .create_chat_thread(
                "latency",
                CreateChatThreadOptions::default()
                    .participants([ChatParticipant::new(alice_id), ChatParticipant::new(bob_id)]),
            )
            .await?
            .thread
            .id;
        let events: Events = if name.contains("ChatClient") {
            Box::pin(
                bob.watch(options)
                    .await?
                    .filter_map(|e| async move { e.ok() }),
            )
        } else {
            Box::pin(
                bob.chat_thread_client(&thread)
                    .watch(options)
                    .await?
                    .filter_map(|e| async move { e.ok() }),
            )
        };
        eprintln!("acs-chat-bench: receiving, {name}, {config}");
        let (latencies, missed) = measure(&alice, &thread, events, count, gap).await?;
        sources.push(Source {
            name: name.to_owned(),
            config: config.to_owned(),
            latencies,
            missed,
        });
        emulator.shutdown().await;
    }

    // Event Grid: the emulator delivers to a listener.
    {
        let listener = EventGridListener::bind("127.0.0.1:0").await?;
        let emulator = Emulator::builder()
            .port(0)
            .event_webhook(listener.url())
            .start()
            .await?;
        let (alice_id, alice) = client(&emulator)?;
        let (bob_id, _bob) = client(&emulator)?;
        let thread = alice
            .create_chat_thread(
                "latency",
                CreateChatThreadOptions::default().participants([
                    ChatParticipant::new(alice_id),
                    ChatParticipant::new(bob_id.clone()),
                ]),
            )
            .await?
            .thread
            .id;
        // The copy addressed to Bob (each recipient gets one).
        let events: Events = Box::pin(listener.filter_map(move |r| {
            let bob = bob_id.clone();
            async move {
                match &r.event {
                    ChatEvent::ChatMessageReceived(m) if m.recipient.as_ref() == Some(&bob) => {
                        Some(r.event)
                    }
                    _ => None,
                }
            }
        }));
        eprintln!("acs-chat-bench: receiving, Event Grid webhook");
        let (latencies, missed) = measure(&alice, &thread, events, count, gap).await?;
        sources.push(Source {
            name: "Event Grid: the emulator's webhook delivery into `EventGridListener`".to_owned(),
            config: "Event Grid schema, HTTP/1.1 on loopback".to_owned(),
            latencies,
            missed,
        });
        emulator.shutdown().await;
    }

    let mut out = String::from(
        "\n## 5. Receiving\n\nFrom the start of `send_message` (Alice) to the event on the receiver's stream \
         (Bob), on the in-process emulator: ",
    );
    out.push_str(&format!(
        "{count} messages {} ms apart per source, each source on a fresh emulator.\n\n",
        gap.as_millis()
    ));
    out.push_str("| source | pacing | received | p50 | p99 | max |\n|---|---|---|---|---|---|\n");
    for s in &sources {
        out.push_str(&format!(
            "| {} | {} | {}/{} | {} | {} | {} |\n",
            s.name,
            s.config,
            s.latencies.len(),
            s.latencies.len() + s.missed,
            fmt_duration(quantile(&s.latencies, 0.5)),
            fmt_duration(quantile(&s.latencies, 0.99)),
            fmt_duration(s.latencies.last().copied().unwrap_or_default()),
        ));
    }
    let default = WatchConfig::default();
    let (thread_rate, all_rate) = idle_requests_per_minute(&default);
    let fast = WatchConfig::default().intervals(Duration::from_millis(100), Duration::from_secs(2));
    let (fast_thread, fast_all) = idle_requests_per_minute(&fast);
    out.push_str(&format!(
        "\nAn idle watcher's cost, from the watchers' own pacing (the sans-IO state machines run \
         for a simulated hour with nothing to find): `ChatThreadClient::watch` **{thread_rate:.1} \
         requests/min** with the default pacing ({fast_thread:.1} with `intervals(100 ms, 2 s)`); \
         `ChatClient::watch` **{all_rate:.1} requests/min** ({fast_all:.1}), one thread listing \
         per round whatever the number of threads (a thread's messages are listed only when the \
         listing shows activity in it). Event Grid costs the receiver no requests.\n"
    ));
    Ok(out)
}
