//! The webhook handler: both handshakes, notifications in both schemas, and refusals.

mod common;

use acs_chat_events::eventgrid::{EventSource, event_grid_events};
use acs_chat_events::webhook::*;
use acs_chat_events::{ChatEvent, ErrorKind};
use acs_chat_protocol::DateTime;
use bytes::Bytes;
use http::{Method, Request};
use proptest::prelude::*;
use serde_json::{Value, json};

const EG_BATCH: &[u8] = include_bytes!("fixtures/event-grid-chat-batch.json");
const CE_BATCH: &[u8] = include_bytes!("fixtures/cloud-events-chat-batch.json");
const VALIDATION: &[u8] = include_bytes!("fixtures/subscription-validation.json");

fn post(headers: &[(&str, &str)], body: &[u8]) -> Request<Bytes> {
    let mut r = Request::post("/api/events");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Bytes::copy_from_slice(body)).unwrap()
}

fn body_json(h: &Handled) -> Value {
    serde_json::from_slice(h.response.body()).unwrap()
}

fn refused(h: &Handled) -> ErrorKind {
    let err = h.outcome.as_ref().unwrap_err();
    assert_eq!(h.response.status(), err.status());
    assert_eq!(body_json(h)["error"]["code"], err.code());
    assert_eq!(body_json(h)["error"]["message"], err.to_string());
    err.kind()
}

#[test]
fn answers_the_event_grid_subscription_validation() {
    let h = WebhookHandler::new().handle(&post(
        &[
            ("aeg-event-type", "SubscriptionValidation"),
            ("content-type", "application/json; charset=utf-8"),
        ],
        VALIDATION,
    ));
    assert_eq!(h.response.status(), 200);
    assert_eq!(
        body_json(&h),
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
    assert_eq!(h.response.headers()["content-type"], "application/json");
    let Ok(Outcome::Validated {
        validation_code,
        validation_url,
    }) = h.outcome
    else {
        panic!()
    };
    assert_eq!(validation_code, "512d38b6-c7b8-40c8-89fe-f46f9e9622b6");
    assert!(
        validation_url
            .unwrap()
            .starts_with("https://rp-eastus2.eventgrid.azure.net")
    );

    // Without the header (a proxy dropped it) the validation event is still answered.
    let h = WebhookHandler::new().handle(&post(&[], VALIDATION));
    assert!(matches!(h.outcome, Ok(Outcome::Validated { .. })));

    // A validation without its code, or a validation header without a validation event.
    let mut bad: Value = serde_json::from_slice(VALIDATION).unwrap();
    bad[0]["data"]
        .as_object_mut()
        .unwrap()
        .remove("validationCode");
    let h = WebhookHandler::new().handle(&post(
        &[("aeg-event-type", "SubscriptionValidation")],
        bad.to_string().as_bytes(),
    ));
    assert_eq!(refused(&h), ErrorKind::MalformedBody);
    assert_eq!(h.outcome.unwrap_err().event_index(), Some(0));
    let h = WebhookHandler::new().handle(&post(
        &[("aeg-event-type", "SubscriptionValidation")],
        b"[]",
    ));
    assert_eq!(refused(&h), ErrorKind::MalformedBody);
}

fn options(origin: Option<&str>) -> Request<Bytes> {
    let mut r = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/events");
    if let Some(o) = origin {
        r = r.header("WebHook-Request-Origin", o);
    }
    r.body(Bytes::new()).unwrap()
}

#[test]
fn grants_the_cloud_events_handshake_to_allowed_origins() {
    let h = WebhookHandler::new().handle(&options(Some("eventgrid.azure.net")));
    assert_eq!(h.response.status(), 200);
    assert_eq!(
        h.response.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net"
    );
    assert_eq!(h.response.headers()["webhook-allowed-rate"], "*");
    assert_eq!(
        h.outcome.unwrap(),
        Outcome::HandshakeGranted {
            origin: "eventgrid.azure.net".into()
        }
    );

    let strict = WebhookHandler::new()
        .allowed_origins(["EventGrid.Azure.net"])
        .allowed_rate(120);
    let h = strict.handle(&options(Some("eventgrid.azure.net")));
    assert_eq!(h.response.status(), 200);
    assert_eq!(h.response.headers()["webhook-allowed-rate"], "120");
    let h = strict.handle(&options(Some("attacker.example")));
    assert_eq!(refused(&h), ErrorKind::OriginNotAllowed);
    assert_eq!(h.response.status(), 403);
    assert!(h.response.headers().get("webhook-allowed-origin").is_none());
    let h = strict.handle(&options(None));
    assert_eq!(refused(&h), ErrorKind::MissingHeader);
}

fn chat_events(h: Handled) -> (Vec<ReceivedEvent>, usize) {
    assert_eq!(h.response.status(), 200, "{:?}", h.outcome);
    assert!(h.response.body().is_empty());
    match h.outcome.unwrap() {
        Outcome::Notification { events, ignored } => (events, ignored),
        other => panic!("{other:?}"),
    }
}

#[test]
fn notifications_give_the_chat_events_and_count_the_others() {
    let (events, ignored) = chat_events(WebhookHandler::new().handle(&post(
        &[
            ("aeg-event-type", "Notification"),
            ("content-type", "application/json"),
        ],
        EG_BATCH,
    )));
    assert_eq!((events.len(), ignored), (19, 2));
    assert_eq!(events[0].id, "7e570001-0000-4000-8000-000000000001");
    assert_eq!(
        events[0].event_type,
        "Microsoft.Communication.ChatMessageReceived"
    );
    assert!(
        events[0]
            .subject
            .as_deref()
            .unwrap()
            .starts_with("thread/19:c0ffee")
    );
    assert_eq!(
        events[0].time,
        Some(DateTime::parse("2024-05-01T10:00:00.9Z").unwrap())
    );
    assert_eq!(events[0].event.kind(), "chatMessageReceived");

    // The same events as CloudEvents, batched or one at a time.
    let (ce_events, ce_ignored) = chat_events(WebhookHandler::new().handle(&post(
        &[(
            "content-type",
            "application/cloudevents-batch+json; charset=utf-8",
        )],
        CE_BATCH,
    )));
    assert_eq!(ce_ignored, 2);
    assert_eq!(ce_events, events);
    let all: Vec<Value> = serde_json::from_slice(CE_BATCH).unwrap();
    let (one, ignored) = chat_events(WebhookHandler::new().handle(&post(
        &[("content-type", "application/cloudevents+json")],
        all[2].to_string().as_bytes(),
    )));
    assert_eq!((one.as_slice(), ignored), (&events[2..3], 0));
    // And told apart by their shape when no header says which.
    let (sniffed, _) = chat_events(WebhookHandler::new().handle(&post(&[], CE_BATCH)));
    assert_eq!(sniffed, events);
    let (sniffed, _) = chat_events(WebhookHandler::new().handle(&post(&[], EG_BATCH)));
    assert_eq!(sniffed, events);
}

#[test]
fn refuses_what_it_cannot_read() {
    let handler = WebhookHandler::new().body_limit_bytes(64);
    let h = handler.handle(&post(&[("aeg-event-type", "Notification")], &[b' '; 65]));
    assert_eq!(refused(&h), ErrorKind::BodyTooLarge);
    assert_eq!(h.response.status(), 413);
    let h = handler.handle(&post(&[("aeg-event-type", "Notification")], b"[1, 2"));
    assert_eq!(refused(&h), ErrorKind::MalformedBody);
    let h = handler.handle(&post(
        &[("aeg-event-type", "Notification")],
        br#"{"id": "x"}"#,
    ));
    assert_eq!(refused(&h), ErrorKind::MalformedBody);
    let h = handler.handle(&post(&[("content-type", "text/plain")], b"[]"));
    assert_eq!(refused(&h), ErrorKind::UnsupportedMediaType);
    assert_eq!(h.response.status(), 415);
    let get = Request::get("/api/events").body(Bytes::new()).unwrap();
    let h = handler.handle(&get);
    assert_eq!(refused(&h), ErrorKind::MethodNotAllowed);
    assert_eq!(h.response.headers()["allow"], "POST, OPTIONS");

    // A chat event whose data does not fit: the whole batch is refused, naming the event.
    let mut batch: Vec<Value> = serde_json::from_slice(EG_BATCH).unwrap();
    batch[4]["data"]["senderCommunicationIdentifier"] = json!("8:acs:not-an-object");
    let h = WebhookHandler::new().handle(&post(
        &[("aeg-event-type", "Notification")],
        &serde_json::to_vec(&batch).unwrap(),
    ));
    assert_eq!(refused(&h), ErrorKind::InvalidEventData);
    assert_eq!(h.outcome.unwrap_err().event_index(), Some(4));

    // Header values that are not text.
    let mut r = post(&[], b"[]");
    r.headers_mut().insert(
        "aeg-event-type",
        http::HeaderValue::from_bytes(b"\xff").unwrap(),
    );
    assert_eq!(
        refused(&WebhookHandler::new().handle(&r)),
        ErrorKind::MissingHeader
    );
}

proptest! {
    /// What `event_grid_events` publishes, the handler receives unchanged, in both schemas.
    #[test]
    fn published_events_arrive_as_they_were_sent(
        events in proptest::collection::vec(common::chat_event(), 1..4),
        participants in proptest::collection::vec(common::identifier(), 1..4),
        now in common::datetime(),
    ) {
        let source = EventSource::new("/subscriptions/s", now);
        let mut n = 0;
        let mut published = Vec::new();
        for e in &events {
            published.extend(event_grid_events(e, &participants, &source, || { n += 1; format!("e{n}") }));
        }
        let handler = WebhookHandler::new();
        let (got, ignored) = chat_events(handler.handle(&post(&[("aeg-event-type", "Notification")], &serde_json::to_vec(&published).unwrap())));
        prop_assert_eq!(ignored, 0);
        prop_assert_eq!(got.len(), published.len());
        for (g, p) in got.iter().zip(&published) {
            prop_assert_eq!(&g.id, &p.id);
            prop_assert_eq!(Some(g.event.clone()), p.to_chat_event().unwrap());
        }
        let ce: Vec<_> = published.iter().map(|e| e.to_cloud_event()).collect();
        let (got_ce, _) = chat_events(handler.handle(&post(&[("content-type", "application/cloudevents-batch+json")], &serde_json::to_vec(&ce).unwrap())));
        prop_assert_eq!(got_ce, got);
    }

    /// Whatever comes in, the handler answers: never a panic, a known status, and a refusal
    /// always says why.
    #[test]
    fn any_request_gets_an_answer(
        method in prop_oneof![Just(Method::POST), Just(Method::OPTIONS), Just(Method::GET), Just(Method::PUT)],
        aeg in proptest::option::of(prop_oneof![Just("Notification"), Just("SubscriptionValidation"), Just("SubscriptionDeletion")]),
        content_type in proptest::option::of(prop_oneof![
            Just("application/json"), Just("application/cloudevents+json"),
            Just("application/cloudevents-batch+json"), Just("text/plain"), Just("application/xml"),
        ]),
        origin in proptest::option::of("[a-z.]{1,20}"),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            Just(EG_BATCH.to_vec()), Just(CE_BATCH.to_vec()), Just(VALIDATION.to_vec()),
            Just(b"[]".to_vec()), Just(b"{}".to_vec()), Just(b"[{}]".to_vec()), Just(b"null".to_vec()),
            Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        ],
        limit in prop_oneof![Just(16usize), Just(DEFAULT_BODY_LIMIT)],
    ) {
        let mut r = Request::builder().method(method.clone()).uri("/hook");
        if let Some(a) = aeg { r = r.header("aeg-event-type", a); }
        if let Some(c) = content_type { r = r.header("content-type", c); }
        if let Some(o) = &origin { r = r.header("webhook-request-origin", o.as_str()); }
        let request = r.body(Bytes::from(body.clone())).unwrap();
        let h = WebhookHandler::new().body_limit_bytes(limit).handle(&request);
        let status = h.response.status().as_u16();
        prop_assert!([200, 400, 403, 405, 413, 415].contains(&status), "{}", status);
        match &h.outcome {
            Ok(_) => prop_assert_eq!(status, 200),
            Err(e) => {
                prop_assert_eq!(h.response.status(), e.status());
                prop_assert!(e.to_string().chars().count() < 600, "{}", e);
            }
        }
        if method == Method::OPTIONS {
            prop_assert_eq!(status == 200, origin.is_some());
        }
        if body.len() > limit && method == Method::POST {
            prop_assert_eq!(status, 413);
        }
    }
}

#[test]
fn a_notification_of_only_other_events_is_accepted_and_ignored() {
    let batch: Vec<Value> = serde_json::from_slice(EG_BATCH).unwrap();
    let others = serde_json::to_vec(&batch[19..]).unwrap();
    let (events, ignored) = chat_events(
        WebhookHandler::new().handle(&post(&[("aeg-event-type", "Notification")], &others)),
    );
    assert!(events.is_empty());
    assert_eq!(ignored, 2);
    // A deleted-message event in a batch of one.
    let one = serde_json::to_vec(&batch[4..5]).unwrap();
    let (events, _) = chat_events(
        WebhookHandler::new().handle(&post(&[("aeg-event-type", "Notification")], &one)),
    );
    assert!(matches!(events[0].event, ChatEvent::ChatMessageDeleted(_)));
}
