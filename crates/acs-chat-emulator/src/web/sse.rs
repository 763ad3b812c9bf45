//! `/_emulator/events`: server-sent events telling the web view that something changed.
//!
//! Each client reads from the publisher's broadcast channels, whose capacity bounds what it
//! can fall behind by: a client that lags past it is disconnected (its browser reconnects
//! and reloads the state). A comment every 15 seconds keeps idle connections open through the
//! server's idle timeout; the stream ends when the server shuts down.

use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;

use acs_chat_events::ChatEvent;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, broadcast, watch};

use crate::events::{DeliveryOutcome, DeliveryReport};

/// How often an idle stream sends a comment.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The body of an event stream.
pub(crate) type SseBody =
    StreamBody<Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>>;

struct Source {
    chat: broadcast::Receiver<ChatEvent>,
    reports: broadcast::Receiver<DeliveryReport>,
    changed: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    heartbeat: tokio::time::Interval,
    started: bool,
    /// A slot of the bounded number of streams, held while this one lasts.
    _slot: OwnedSemaphorePermit,
}

/// An event stream over these receivers.
pub(crate) fn body(
    chat: broadcast::Receiver<ChatEvent>,
    reports: broadcast::Receiver<DeliveryReport>,
    changed: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) -> SseBody {
    let start = tokio::time::Instant::now() + HEARTBEAT;
    let source = Source {
        chat,
        reports,
        changed,
        closing,
        heartbeat: tokio::time::interval_at(start, HEARTBEAT),
        started: false,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(source, |mut s| async move {
        let text = next(&mut s).await?;
        Some((Ok(Frame::data(Bytes::from(text))), s))
    });
    StreamBody::new(Box::pin(stream))
}

/// The next frame's text, or `None` to end the stream.
async fn next(s: &mut Source) -> Option<String> {
    if !s.started {
        s.started = true;
        // Reconnect after 2 seconds when disconnected; tell the page it is live.
        return Some("retry: 2000\n\nevent: ready\ndata: {}\n\n".to_owned());
    }
    if *s.closing.borrow() {
        return None;
    }
    tokio::select! {
        closing = s.closing.changed() => match closing {
            Ok(()) if !*s.closing.borrow() => Some(": \n\n".to_owned()),
            _ => None,
        },
        event = s.chat.recv() => {
            // Lagged or closed: end the stream.
            let event = event.ok()?;
            Some(frame("chat", &json!({"type": event.kind(), "threadId": event.thread_id()})))
        }
        report = s.reports.recv() => {
            let report = report.ok()?;
            let outcome = match report.outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retrying { .. } => "retrying",
                DeliveryOutcome::DeadLettered { .. } => "deadLettered",
            };
            Some(frame("delivery", &json!({"subscription": report.subscription, "outcome": outcome})))
        }
        changed = s.changed.changed() => {
            changed.ok()?;
            Some(frame("subscription", &json!({})))
        }
        _ = s.heartbeat.tick() => Some(": keep-alive\n\n".to_owned()),
    }
}

/// One event: compact JSON has no newline, so one `data:` line.
fn frame(event: &str, data: &serde_json::Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use std::sync::Arc;
    use tokio::sync::Semaphore;

    async fn frames(body: &mut SseBody) -> Option<String> {
        let frame = body.frame().await?.ok()?;
        Some(String::from_utf8(frame.into_data().ok()?.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_client_that_lags_is_disconnected() {
        let (chat, chat_rx) = broadcast::channel(2);
        let (_reports, reports_rx) = broadcast::channel(2);
        let (_changed, changed_rx) = watch::channel(0);
        let (_closing, closing_rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(1));
        let slot = slots.clone().try_acquire_owned().unwrap();
        let mut body = body(chat_rx, reports_rx, changed_rx, closing_rx, slot);
        assert!(frames(&mut body).await.unwrap().contains("event: ready"));
        let event =
            ChatEvent::TypingIndicatorReceived(acs_chat_events::TypingIndicatorReceivedEvent::new(
                "19:t",
                acs_chat_protocol::DateTime::UNIX_EPOCH,
            ));
        chat.send(event.clone()).unwrap();
        assert!(
            frames(&mut body)
                .await
                .unwrap()
                .starts_with("event: chat\n")
        );
        // Three more than the buffer holds before the client reads again: it is dropped.
        for _ in 0..3 {
            chat.send(event.clone()).unwrap();
        }
        assert_eq!(frames(&mut body).await, None);
        drop(body);
        assert!(slots.try_acquire().is_ok(), "its slot is free again");
    }

    #[tokio::test]
    async fn streams_end_when_the_server_closes() {
        let (_chat, chat_rx) = broadcast::channel::<ChatEvent>(2);
        let (_reports, reports_rx) = broadcast::channel(2);
        let (_changed, changed_rx) = watch::channel(0);
        let (closing, closing_rx) = watch::channel(false);
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let mut body = body(chat_rx, reports_rx, changed_rx, closing_rx, slot);
        assert!(frames(&mut body).await.is_some());
        closing.send(true).unwrap();
        assert_eq!(frames(&mut body).await, None);
    }
}
