//! `EventGridListener` over real sockets: validation, deliveries in both schemas, duplicates,
//! the secret, limits (body, connections, slow clients) and backpressure answered `503`.
#![cfg(feature = "hyper")]

use std::time::Duration;

use acs_chat::events::webhook::WebhookHandler;
use acs_chat::futures::StreamExt as _;
use acs_chat::{ChatEvent, EventGridListener};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(30);

/// Sends one HTTP/1.1 request (`Connection: close`) and returns the status and body.
async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(DEADLINE, stream.read_to_string(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn message_event(id: &str, body: &str) -> String {
    format!(
        r#"[{{"id": "{id}", "subject": "thread/19:a@thread.v2/sender/8:acs:r_ann/recipient/8:acs:r_bot",
        "eventType": "Microsoft.Communication.ChatMessageReceived",
        "eventTime": "2024-05-01T10:00:01Z", "dataVersion": "1.0",
        "data": {{"threadId": "19:a@thread.v2", "messageId": "1714557600000", "type": "Text",
                 "messageBody": "{body}", "composeTime": "2024-05-01T10:00:00Z",
                 "senderCommunicationIdentifier": {{"rawId": "8:acs:r_ann"}},
                 "recipientCommunicationIdentifier": {{"rawId": "8:acs:r_bot"}}}}}}]"#
    )
}

const NOTIFICATION: (&str, &str) = ("aeg-event-type", "Notification");

/// Delivers one message event (Event Grid schema) with id `id`; returns the status.
async fn deliver(addr: std::net::SocketAddr, id: &str, body: &str) -> u16 {
    post(addr, "/", &[NOTIFICATION], &message_event(id, body))
        .await
        .0
}

async fn next_message(listener: &mut EventGridListener) -> (String, String) {
    let received = tokio::time::timeout(DEADLINE, listener.next())
        .await
        .expect("an event in time")
        .expect("the listener goes on");
    match received.event {
        ChatEvent::ChatMessageReceived(m) => (received.id, m.message),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn validation_deliveries_and_duplicates() {
    let mut listener = EventGridListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr();
    assert_eq!(listener.url(), format!("http://{addr}/"));

    let (status, body) = post(
        addr,
        "/",
        &[("aeg-event-type", "SubscriptionValidation")],
        r#"[{"id": "v1", "subject": "", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2024-05-01T10:00:00Z", "dataVersion": "1",
            "data": {"validationCode": "512d38b6"}}]"#,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#""validationResponse":"512d38b6""#),
        "{body}"
    );

    assert_eq!(deliver(addr, "e1", "one").await, 200);
    // Event Grid delivers again (same id): acknowledged, not yielded twice.
    assert_eq!(deliver(addr, "e1", "one").await, 200);
    assert_eq!(deliver(addr, "e2", "two").await, 200);
    assert_eq!(
        next_message(&mut listener).await,
        ("e1".into(), "one".into())
    );
    assert_eq!(
        next_message(&mut listener).await,
        ("e2".into(), "two".into())
    );

    // CloudEvents: the handshake, then a single event.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"OPTIONS / HTTP/1.1\r\nhost: x\r\nwebhook-request-origin: eventgrid.azure.net\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("webhook-allowed-origin: eventgrid.azure.net"),
        "{response}"
    );
    let cloud = r#"{"specversion": "1.0", "id": "c1", "source": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Communication/communicationServices/z",
        "type": "Microsoft.Communication.ChatMessageReceived", "subject": "thread/19:a@thread.v2/sender/8:acs:r_ann/recipient/8:acs:r_bot",
        "time": "2024-05-01T10:00:01Z",
        "data": {"threadId": "19:a@thread.v2", "messageId": "1714557600001", "type": "Text",
                 "messageBody": "three", "composeTime": "2024-05-01T10:00:00Z",
                 "senderCommunicationIdentifier": {"rawId": "8:acs:r_ann"},
                 "recipientCommunicationIdentifier": {"rawId": "8:acs:r_bot"}}}"#;
    let (status, _) = post(
        addr,
        "/",
        &[("content-type", "application/cloudevents+json")],
        cloud,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_message(&mut listener).await,
        ("c1".into(), "three".into())
    );

    // Not JSON: 400, nothing yielded.
    let (status, _) = post(addr, "/", &[NOTIFICATION], "{not json").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_secret_is_required_when_set() {
    let mut listener = EventGridListener::builder()
        .secret("s3cret")
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr();
    for path in ["/", "/?code=wrong", "/?code=s3cre", "/?x=s3cret"] {
        let (status, _) = post(addr, path, &[NOTIFICATION], &message_event("e1", "one")).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = post(
        addr,
        "/events?a=1&code=s3cret",
        &[NOTIFICATION],
        &message_event("e1", "one"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(next_message(&mut listener).await.1, "one");
}

#[tokio::test]
async fn limits_bodies_connections_and_slow_clients() {
    let listener = EventGridListener::builder()
        .handler(WebhookHandler::new().body_limit_bytes(1024))
        .max_connections(2)
        .read_timeout(Duration::from_millis(200))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr();

    let big = message_event("e1", &"x".repeat(2000));
    assert_eq!(post(addr, "/", &[NOTIFICATION], &big).await.0, 413);

    // A client that never finishes its headers is cut off at the read timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, slow.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    // A body that stops halfway is answered 408 at the read timeout.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\naeg-event-type: Notification\r\ncontent-length: 100\r\n\r\n[{")
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stalled.read_to_end(&mut response))
        .await
        .expect("the server answers")
        .ok();
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_unanswered() {
    let listener = EventGridListener::builder()
        .max_connections(2)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr();
    // Two idle connections hold both slots: a third is closed at once, unanswered.
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .ok();
    let mut out = Vec::new();
    let read = tokio::time::timeout(DEADLINE, c.read_to_end(&mut out))
        .await
        .expect("closed");
    assert!(
        read.is_err() || out.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_so_event_grid_delivers_again() {
    let mut listener = EventGridListener::builder()
        .queue(1)
        .queue_timeout(Duration::from_millis(100))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr();
    assert_eq!(deliver(addr, "e1", "one").await, 200);
    // Nobody reads: the second cannot be queued.
    assert_eq!(deliver(addr, "e2", "two").await, 503);
    assert_eq!(next_message(&mut listener).await.1, "one");
    // Delivered again, it goes through.
    assert_eq!(deliver(addr, "e2", "two").await, 200);
    assert_eq!(next_message(&mut listener).await.1, "two");
}
