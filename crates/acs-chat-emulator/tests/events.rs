//! Events: the in-process stream, and webhook deliveries as Event Grid makes them (handshake,
//! headers, retries, dead-lettering, the outbox across restarts), received with
//! `acs_chat_events::webhook::WebhookHandler`.

mod support;

use std::time::Duration;

use acs_chat_emulator::{
    DeliveryOptions, DeliveryOutcome, DeliveryReport, Emulator, EmulatorBuilder, EventSchema,
    Lagged,
};
use acs_chat_events::ChatEvent;
use acs_chat_events::webhook::Outcome;
use acs_chat_protocol::CommunicationIdentifier;
use acs_chat_protocol::models::{
    ChatParticipant, CreateChatThreadRequest, SendTypingNotificationRequest,
    UpdateChatMessageRequest, UpdateChatThreadRequest,
};
use acs_chat_protocol::operations::*;
use futures_util::StreamExt as _;
use http::Method;
use support::Harness;
use support::webhook::{Answer, Webhook};
use tokio::sync::oneshot;

fn participant(user_id: &str) -> ChatParticipant {
    ChatParticipant::new(CommunicationIdentifier::communication_user(user_id))
}

/// Fast retries, so that tests do not wait.
fn fast() -> DeliveryOptions {
    DeliveryOptions::default()
        .first_retry(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(4))
}

async fn create_thread(h: &Harness, token: &str, topic: &str, others: &[&str]) -> String {
    let mut op = CreateChatThread::new("", Default::default());
    op.body = CreateChatThreadRequest::new(topic);
    op.body.participants = Some(others.iter().map(|id| participant(id)).collect());
    h.call(&op, token).await.unwrap().chat_thread.unwrap().id
}

async fn send(h: &Harness, token: &str, thread: &str, text: &str) -> String {
    h.call(
        &SendChatMessage::new(thread, text, Default::default()),
        token,
    )
    .await
    .unwrap()
    .id
}

/// Waits for `n` reports of final outcomes (delivered or dead-lettered).
async fn finals(
    reports: &mut (impl futures_util::Stream<Item = Result<DeliveryReport, Lagged>> + Unpin),
    n: usize,
) -> Vec<DeliveryReport> {
    let mut out = Vec::new();
    while out.len() < n {
        let report = tokio::time::timeout(Duration::from_secs(60), reports.next())
            .await
            .expect("no delivery report within a minute")
            .expect("reports ended")
            .expect("no lag");
        if !matches!(report.outcome, DeliveryOutcome::Retrying { .. }) {
            out.push(report);
        }
    }
    out
}

/// Creates a thread with participants, sends, edits and deletes a message, adds and removes a
/// participant, changes the topic, types, reads and deletes the thread. Returns the users
/// (a, b, c) and the thread.
async fn conversation(h: &Harness) -> (String, String, String, String) {
    let (a, a_token) = h.user();
    let (b, _) = h.user();
    let (c, c_token) = h.user();
    let thread = create_thread(h, &a_token, "plans", &[&b]).await;
    let message = send(h, &a_token, &thread, "hello").await;
    let mut op = UpdateChatMessage::new(&thread, &message, Default::default());
    op.body = UpdateChatMessageRequest::new();
    op.body.content = Some("hello!".into());
    h.call(&op, &a_token).await.unwrap();
    h.call(&DeleteChatMessage::new(&thread, &message), &a_token)
        .await
        .unwrap();
    h.call(
        &AddChatParticipants::new(&thread, vec![participant(&c)]),
        &a_token,
    )
    .await
    .unwrap();
    h.call(
        &RemoveChatParticipant::new(&thread, CommunicationIdentifier::communication_user(&b)),
        &a_token,
    )
    .await
    .unwrap();
    let mut op = UpdateChatThreadProperties::new(&thread, Default::default());
    op.body = UpdateChatThreadRequest::new();
    op.body.topic = Some("new plans".into());
    h.call(&op, &a_token).await.unwrap();
    let mut op = SendTypingNotification::new(&thread, Default::default());
    let mut typing = SendTypingNotificationRequest::new();
    typing.sender_display_name = Some("Carol".into());
    op.body = Some(typing);
    h.call(&op, &c_token).await.unwrap();
    let later = send(h, &c_token, &thread, "bye").await;
    h.call(&SendChatReadReceipt::new(&thread, &later), &a_token)
        .await
        .unwrap();
    h.call(&DeleteChatThread::new(&thread), &a_token)
        .await
        .unwrap();
    (a, b, c, thread)
}

/// The (event type, subject) pairs Event Grid sends for [`conversation`], in order.
fn expected(a: &str, b: &str, c: &str, t: &str) -> Vec<(String, String)> {
    let ms = "Microsoft.Communication.";
    [
        ("ChatThreadCreated", format!("thread/{t}/createdBy/{a}")),
        (
            "ChatThreadCreatedWithUser",
            format!("thread/{t}/createdBy/{a}/recipient/{b}"),
        ),
        (
            "ChatMessageReceivedInThread",
            format!("thread/{t}/sender/{a}"),
        ),
        (
            "ChatMessageReceived",
            format!("thread/{t}/sender/{a}/recipient/{b}"),
        ),
        (
            "ChatMessageEditedInThread",
            format!("thread/{t}/sender/{a}"),
        ),
        (
            "ChatMessageEdited",
            format!("thread/{t}/sender/{a}/recipient/{b}"),
        ),
        (
            "ChatMessageDeletedInThread",
            format!("thread/{t}/sender/{a}"),
        ),
        (
            "ChatMessageDeleted",
            format!("thread/{t}/sender/{a}/recipient/{b}"),
        ),
        (
            "ChatThreadParticipantAdded",
            format!("thread/{t}/participantadded/{c}"),
        ),
        (
            "ChatParticipantAddedToThreadWithUser",
            format!("thread/{t}/participantAdded/{c}/recipient/{b}"),
        ),
        (
            "ChatParticipantAddedToThreadWithUser",
            format!("thread/{t}/participantAdded/{c}/recipient/{c}"),
        ),
        (
            "ChatThreadParticipantRemoved",
            format!("thread/{t}/participantremoved/{b}"),
        ),
        (
            "ChatParticipantRemovedFromThreadWithUser",
            format!("thread/{t}/participantRemoved/{b}/recipient/{c}"),
        ),
        (
            "ChatParticipantRemovedFromThreadWithUser",
            format!("thread/{t}/participantRemoved/{b}/recipient/{b}"),
        ),
        (
            "ChatThreadPropertiesUpdated",
            format!("thread/{t}/editedBy/{a}"),
        ),
        (
            "ChatThreadPropertiesUpdatedPerUser",
            format!("thread/{t}/editedBy/{a}/recipient/{c}"),
        ),
        (
            "ChatTypingIndicatorReceivedInThread",
            format!("thread/{t}/sender/{c}"),
        ),
        (
            "ChatMessageReceivedInThread",
            format!("thread/{t}/sender/{c}"),
        ),
        (
            "ChatMessageReceived",
            format!("thread/{t}/sender/{c}/recipient/{a}"),
        ),
        ("ChatThreadDeleted", format!("thread/{t}/deletedBy/{a}")),
        (
            "ChatThreadWithUserDeleted",
            format!("thread/{t}/deletedBy/{a}/recipient/{c}"),
        ),
    ]
    .into_iter()
    .map(|(kind, subject)| (format!("{ms}{kind}"), subject))
    .collect()
}

async fn webhook_receives_what_event_grid_sends(schema: EventSchema) {
    let mut hook = Webhook::start().await;
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(format!("bot={}", hook.url))
            .event_schema(schema),
    )
    .await;
    let mut reports = h.emulator.delivery_reports();

    // The handshake comes first.
    let first = hook.next().await;
    match schema {
        EventSchema::EventGrid => {
            assert_eq!(first.method, Method::POST);
            assert_eq!(first.header("aeg-event-type"), "SubscriptionValidation");
            assert!(
                matches!(
                    first.outcome,
                    Ok(Outcome::Validated {
                        validation_url: Some(_),
                        ..
                    })
                ),
                "{first:?}"
            );
        }
        _ => {
            assert_eq!(first.method, Method::OPTIONS);
            assert_eq!(
                first.header("webhook-request-origin"),
                "eventgrid.azure.net"
            );
            assert!(
                matches!(first.outcome, Ok(Outcome::HandshakeGranted { .. })),
                "{first:?}"
            );
        }
    }

    let (a, b, c, thread) = conversation(&h).await;
    let expected = expected(&a, &b, &c, &thread);
    let delivered = finals(&mut reports, expected.len()).await;
    assert!(
        delivered
            .iter()
            .all(|r| r.outcome == DeliveryOutcome::Delivered { attempts: 1 }),
        "{delivered:?}"
    );
    let mut got = Vec::new();
    let mut ids = std::collections::HashSet::new();
    while let Ok(r) = hook.received.try_recv() {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.header("aeg-event-type"), "Notification");
        assert_eq!(r.header("aeg-subscription-name"), "BOT");
        assert_eq!(r.header("aeg-delivery-count"), "0");
        match schema {
            EventSchema::EventGrid => {
                assert!(r.header("content-type").starts_with("application/json"));
                assert_eq!(r.header("aeg-data-version"), "1.0");
                assert_eq!(r.header("aeg-metadata-version"), "1");
            }
            _ => {
                assert!(
                    r.header("content-type")
                        .starts_with("application/cloudevents+json")
                );
                assert_eq!(r.header("aeg-metadata-version"), "1.0");
            }
        }
        let (id, kind, subject) = r.event();
        assert!(ids.insert(id), "event ids are unique");
        got.push((kind, subject));
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_webhook_receives_what_event_grid_sends_in_its_schema() {
    webhook_receives_what_event_grid_sends(EventSchema::EventGrid).await;
}

#[tokio::test]
async fn a_webhook_receives_what_event_grid_sends_as_cloud_events() {
    webhook_receives_what_event_grid_sends(EventSchema::CloudEvents).await;
}

#[tokio::test]
async fn validation_and_deliveries_are_retried_with_a_growing_delivery_count() {
    let mut hook = Webhook::start().await;
    hook.then_handshake(Answer::Status(500)); // the first handshake
    hook.then(Answer::Status(500))
        .then(Answer::Status(503))
        .then(Answer::Status(429));
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(&hook.url)
            .event_delivery(fast()),
    )
    .await;
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    create_thread(&h, &token, "alone", &[]).await; // one event: ChatThreadCreated
    let delivered = finals(&mut reports, 1).await;
    assert_eq!(
        delivered[0].outcome,
        DeliveryOutcome::Delivered { attempts: 4 }
    );

    let handshakes = [hook.next().await, hook.next().await];
    assert!(handshakes[0].outcome.is_ok() && handshakes[1].outcome.is_ok());
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let r = hook.next().await;
        attempts.push((r.event().0, r.header("aeg-delivery-count").to_owned()));
    }
    let id = attempts[0].0.clone();
    assert_eq!(
        attempts,
        ["0", "1", "2", "3"].map(|n| (id.clone(), n.to_owned()))
    );
    assert!(hook.received.try_recv().is_err());
}

#[tokio::test]
async fn a_400_is_not_retried_and_failures_dead_letter_after_bounded_attempts() {
    let mut hook = Webhook::start().await;
    hook.then(Answer::Status(400))
        .then(Answer::Status(500))
        .then(Answer::Status(500))
        .then(Answer::Status(500));
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(&hook.url)
            .event_delivery(fast().max_attempts(3)),
    )
    .await;
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    create_thread(&h, &token, "one", &[]).await;
    let first = finals(&mut reports, 1).await;
    assert!(
        matches!(&first[0].outcome, DeliveryOutcome::DeadLettered { attempts: 1, reason } if reason.contains("400")),
        "{first:?}"
    );
    create_thread(&h, &token, "two", &[]).await;
    let second = finals(&mut reports, 1).await;
    assert!(
        matches!(
            &second[0].outcome,
            DeliveryOutcome::DeadLettered { attempts: 3, .. }
        ),
        "{second:?}"
    );
    hook.next().await; // the handshake
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(hook.next().await.header("aeg-delivery-count").to_owned());
    }
    assert_eq!(counts, ["0", "0", "1", "2"]);
    assert!(hook.received.try_recv().is_err(), "nothing more");
    let status = &h.emulator.event_subscriptions()[0];
    assert_eq!(
        (status.delivered, status.dead_lettered, status.queued),
        (0, 2, 0)
    );
}

#[tokio::test]
async fn a_webhook_that_never_answers_does_not_slow_the_api() {
    let mut hook = Webhook::start().await;
    let (release, hang) = oneshot::channel();
    hook.then(Answer::Hang(hang));
    let h = Harness::with(Emulator::builder().event_webhook(&hook.url)).await;
    let (_, token) = h.user();
    let thread = create_thread(&h, &token, "busy", &[]).await;
    hook.next().await; // the handshake
    let blocked = hook.next().await; // the first delivery, now hanging
    assert_eq!(blocked.header("aeg-event-type"), "Notification");
    // While the webhook holds that delivery, the API answers every call.
    for i in 0..20 {
        send(&h, &token, &thread, &format!("message {i}")).await;
    }
    let listed = h
        .call(&ListChatMessages::new(&thread, Default::default()), &token)
        .await
        .unwrap();
    assert!(listed.items.len() >= 20);
    assert!(!release.is_closed(), "the webhook is still blocked");
    // The thread's later events wait behind the blocked one (in order per thread).
    assert!(hook.received.try_recv().is_err());
    let status = &h.emulator.event_subscriptions()[0];
    assert_eq!(status.queued, 21, "{status:?}");
    drop(release);
}

#[tokio::test]
async fn the_outbox_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let down = Webhook::start().await;
    for _ in 0..50 {
        down.then(Answer::Status(503));
    }
    let slow = DeliveryOptions::default().first_retry(Duration::from_secs(3600));
    let builder = |url: &str| {
        Emulator::builder()
            .data_dir(dir.path())
            .event_webhook(format!("bot={url}"))
    };
    let h = Harness::with(builder(&down.url).event_delivery(slow)).await;
    let (_, token) = h.user();
    let (other, _) = h.user();
    let mut reports = h.emulator.delivery_reports();
    let thread = create_thread(&h, &token, "kept", &[&other]).await;
    // Two events (thread-level, and the other user's): the first failed and waits 5 minutes
    // for its retry, the second waits behind it (same thread).
    let r = reports.next().await.unwrap().unwrap();
    assert!(
        matches!(r.outcome, DeliveryOutcome::Retrying { .. }),
        "{r:?}"
    );
    assert_eq!(h.emulator.event_subscriptions()[0].queued, 2);
    h.emulator.shutdown().await;

    let mut up = Webhook::start().await;
    let h = Harness::with(builder(&up.url)).await;
    let mut reports = h.emulator.delivery_reports();
    let delivered = finals(&mut reports, 2).await;
    assert!(
        delivered
            .iter()
            .all(|r| matches!(r.outcome, DeliveryOutcome::Delivered { .. }))
    );
    up.next().await; // the handshake
    let got = [up.next().await, up.next().await];
    let subjects: Vec<String> = got.iter().map(|r| r.event().2).collect();
    assert!(subjects[0].starts_with(&format!("thread/{thread}/createdBy/")));
    assert!(subjects[1].ends_with(&format!("/recipient/{other}")));
    // The attempts made before the restart count on.
    assert_eq!(got[0].header("aeg-delivery-count"), "1");
    assert_eq!(got[1].header("aeg-delivery-count"), "0");
    // Delivered events leave the outbox: a third start delivers nothing again.
    h.emulator.shutdown().await;
    let mut again = Webhook::start().await;
    let h = Harness::with(builder(&again.url)).await;
    again.next().await; // the handshake
    let (_, token) = h.user();
    create_thread(&h, &token, "fresh", &[]).await;
    let (_, _, subject) = again.next().await.event();
    assert!(!subject.contains(&thread), "{subject}");
}

#[tokio::test]
async fn in_process_subscribers_see_every_chat_event_in_order() {
    let h = Harness::start().await;
    let mut events = h.emulator.events();
    let (a, b, c, thread) = conversation(&h).await;
    let mut kinds = Vec::new();
    loop {
        let event = events.next().await.unwrap().unwrap();
        assert_eq!(event.thread_id(), Some(thread.as_str()));
        kinds.push(event.kind().to_owned());
        if let ChatEvent::ChatThreadDeleted(deleted) = &event {
            assert_eq!(
                deleted
                    .deleted_by
                    .as_ref()
                    .map(|p| p.id.raw_id().into_owned()),
                Some(a.clone())
            );
            break;
        }
        if let ChatEvent::ParticipantsRemoved(removed) = &event {
            assert_eq!(removed.participants_removed[0].id.raw_id(), b);
        }
        if let ChatEvent::TypingIndicatorReceived(typing) = &event {
            assert_eq!(typing.sender.as_ref().unwrap().raw_id(), c);
            assert_eq!(typing.sender_display_name.as_deref(), Some("Carol"));
        }
    }
    assert_eq!(
        kinds,
        [
            "chatThreadCreated",
            "chatMessageReceived",
            "chatMessageEdited",
            "chatMessageDeleted",
            "participantsAdded",
            "participantsRemoved",
            "chatThreadPropertiesUpdated",
            "typingIndicatorReceived",
            "chatMessageReceived",
            "readReceiptReceived",
            "chatThreadDeleted",
        ]
    );
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_what_it_missed() {
    let h = Harness::with(Emulator::builder().event_buffer(2)).await;
    let mut events = h.emulator.events();
    let (_, token) = h.user();
    let thread = create_thread(&h, &token, "chatty", &[]).await;
    for i in 0..4 {
        send(&h, &token, &thread, &i.to_string()).await;
    }
    // Five events into a buffer of two: the three oldest are gone.
    assert_eq!(events.next().await.unwrap(), Err(Lagged { missed: 3 }));
    let ChatEvent::ChatMessageReceived(m) = events.next().await.unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(m.message, "2");
}

#[tokio::test]
async fn a_bad_webhook_url_is_refused_at_start() {
    let error = Emulator::builder()
        .event_webhook("ftp://example.invalid/")
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--event-webhook"), "{error}");
    let _: EmulatorBuilder = Emulator::builder();
}

/// Spawns the binary on `dir` delivering to `webhook`; returns it and its endpoint.
#[cfg(unix)]
fn spawn_binary(dir: &std::path::Path, webhook: &str) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_acs-chat-emulator"))
        .args([
            "--port",
            "0",
            "--log-level",
            "off",
            "--event-webhook",
            webhook,
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut endpoint = None;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(e) = line.strip_prefix("endpoint:") {
            endpoint = Some(e.trim().to_owned());
        }
        if line.starts_with("event webhook:") {
            break;
        }
        line.clear();
    }
    let Some(endpoint) = endpoint else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the emulator printed no endpoint");
    };
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, endpoint)
}

#[cfg(unix)]
#[tokio::test]
async fn undelivered_events_survive_kill_9() {
    use acs_chat_protocol::{AccessToken, DateTime, Endpoint, Operation as _, RequestContext};
    use acs_chat_transport::{HyperTransport, Transport as _};

    let dir = tempfile::tempdir().unwrap();
    // A user and a token, kept in the data directory.
    let emulator = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let (_, token) = emulator.create_user_and_token().unwrap();
    emulator.shutdown().await;

    let mut down = Webhook::start().await;
    for _ in 0..1000 {
        down.then(Answer::Status(503));
    }
    let (mut child, endpoint) = spawn_binary(dir.path(), &format!("bot={}", down.url));
    let transport = HyperTransport::builder()
        .add_root_certificate_pem(&std::fs::read(dir.path().join("ca.pem")).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let endpoint = Endpoint::parse(&endpoint).unwrap();
    let ctx = RequestContext::new(endpoint.clone(), Default::default());
    let op = CreateChatThread::new("survivor", Default::default());
    let mut request = op.build_request(&ctx).unwrap();
    acs_chat_protocol::authorize(
        &mut request,
        &endpoint,
        &AccessToken::new(&token, DateTime::UNIX_EPOCH),
    )
    .unwrap();
    let thread = op
        .parse_response(transport.send(request).await.unwrap())
        .unwrap()
        .chat_thread
        .unwrap()
        .id;
    down.next().await; // the handshake
    let (id, _, subject) = down.next().await.event(); // refused with 503
    assert!(subject.contains(&thread));
    child.kill().unwrap();
    child.wait().unwrap();

    let mut up = Webhook::start().await;
    let (mut child, _) = spawn_binary(dir.path(), &format!("bot={}", up.url));
    up.next().await; // the handshake
    let (again, kind, _) = up.next().await.event();
    assert_eq!(
        (again, kind.as_str()),
        (id, "Microsoft.Communication.ChatThreadCreated"),
        "the same event, from the outbox"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_validation_url_validates_a_webhook_that_does_not_echo_the_code() {
    let mut hook = Webhook::start().await;
    // The webhook acknowledges the validation without its code: Event Grid's manual
    // validation, where someone visits the validation URL instead.
    hook.then_handshake(Answer::Status(200));
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(&hook.url)
            // The next handshake would be an hour away: only the URL can validate it.
            .event_delivery(DeliveryOptions::default().first_retry(Duration::from_secs(3600))),
    )
    .await;
    let first = hook.next().await;
    let Ok(Outcome::Validated {
        validation_url: Some(url),
        ..
    }) = first.outcome
    else {
        panic!("{first:?}")
    };
    assert!(url.starts_with(&h.emulator.endpoint()), "{url}");
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    create_thread(&h, &token, "waiting", &[]).await;
    let status = &h.emulator.event_subscriptions()[0];
    assert!(
        matches!(
            status.state,
            acs_chat_emulator::SubscriptionState::Validating { .. }
        ),
        "{status:?}"
    );
    // A wrong code validates nothing.
    let wrong = url.replace("code=", "code=0");
    let get = |u: &str| http::Request::get(u).body(bytes::Bytes::new()).unwrap();
    assert_eq!(h.send(get(&wrong)).await.unwrap().status(), 404);
    assert_eq!(h.send(get(&url)).await.unwrap().status(), 200);
    let delivered = finals(&mut reports, 1).await;
    assert_eq!(
        delivered[0].outcome,
        DeliveryOutcome::Delivered { attempts: 1 }
    );
    assert_eq!(hook.next().await.header("aeg-event-type"), "Notification");
}

#[tokio::test]
async fn a_webhook_that_times_out_is_retried() {
    let mut hook = Webhook::start().await;
    // The first delivery never gets an answer (the sender is kept): only the response
    // timeout ends it.
    let (_keep, hang) = oneshot::channel();
    hook.then(Answer::Hang(hang));
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(&hook.url)
            .event_delivery(fast().response_timeout(Duration::from_millis(200))),
    )
    .await;
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    create_thread(&h, &token, "slow", &[]).await;
    let retrying = reports.next().await.unwrap().unwrap();
    assert!(
        matches!(&retrying.outcome, DeliveryOutcome::Retrying { attempts: 1, error } if error.contains("no complete response")),
        "{retrying:?}"
    );
    let delivered = finals(&mut reports, 1).await;
    assert_eq!(
        delivered[0].outcome,
        DeliveryOutcome::Delivered { attempts: 2 }
    );
    hook.next().await; // the handshake
    let counts =
        [hook.next().await, hook.next().await].map(|r| r.header("aeg-delivery-count").to_owned());
    assert_eq!(counts, ["0", "1"]);
}

#[tokio::test]
async fn a_full_queue_dead_letters_its_oldest_events() {
    let mut hook = Webhook::start().await;
    let (release, hang) = oneshot::channel();
    hook.then(Answer::Hang(hang));
    let h = Harness::with(
        Emulator::builder()
            .event_webhook(&hook.url)
            .event_delivery(fast().queue_capacity(3)),
    )
    .await;
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    let thread = create_thread(&h, &token, "full", &[]).await;
    hook.next().await; // the handshake
    hook.next().await; // the thread's creation, now hanging: everything else waits
    for i in 0..4 {
        send(&h, &token, &thread, &i.to_string()).await;
    }
    // 1 + 4 events in a queue of 3: the two oldest made room.
    let dropped = finals(&mut reports, 2).await;
    for r in &dropped {
        assert!(
            matches!(&r.outcome, DeliveryOutcome::DeadLettered { reason, .. } if reason.contains("full queue")),
            "{r:?}"
        );
    }
    assert_eq!(
        dropped[0].event_type,
        "Microsoft.Communication.ChatThreadCreated"
    );
    assert_eq!(h.emulator.event_subscriptions()[0].queued, 3);
    // Released, the hanging attempt finds its event gone; the three newest are delivered.
    drop(release);
    let delivered = finals(&mut reports, 3).await;
    assert!(
        delivered
            .iter()
            .all(|r| matches!(r.outcome, DeliveryOutcome::Delivered { .. }))
    );
    let status = &h.emulator.event_subscriptions()[0];
    assert_eq!(
        (status.delivered, status.dead_lettered, status.queued),
        (3, 2, 0)
    );
}

#[tokio::test]
async fn events_whose_time_to_live_ran_out_while_stopped_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let down = Webhook::start().await;
    down.then(Answer::Status(503));
    let builder = |url: &str, options: DeliveryOptions| {
        Emulator::builder()
            .data_dir(dir.path())
            .event_webhook(format!("bot={url}"))
            .event_delivery(options)
    };
    let slow = DeliveryOptions::default().first_retry(Duration::from_secs(3600));
    let h = Harness::with(builder(&down.url, slow)).await;
    let mut reports = h.emulator.delivery_reports();
    let (_, token) = h.user();
    create_thread(&h, &token, "stale", &[]).await;
    let r = reports.next().await.unwrap().unwrap();
    assert!(
        matches!(r.outcome, DeliveryOutcome::Retrying { .. }),
        "{r:?}"
    );
    h.emulator.shutdown().await;

    // Restarted with a time to live shorter than the time it was stopped.
    let up = Webhook::start().await;
    let tiny = DeliveryOptions::default().event_ttl(Duration::from_nanos(1));
    let h = Harness::with(builder(&up.url, tiny)).await;
    let status = &h.emulator.event_subscriptions()[0];
    assert_eq!((status.queued, status.dead_lettered), (0, 1), "{status:?}");
    assert!(
        matches!(&status.recent[0].outcome, DeliveryOutcome::DeadLettered { attempts: 1, reason } if reason.contains("time to live")),
        "{status:?}"
    );
    h.emulator.shutdown().await;
    // And it left the outbox.
    let h = Harness::with(builder(&up.url, DeliveryOptions::default())).await;
    assert_eq!(h.emulator.event_subscriptions()[0].queued, 0);
}
