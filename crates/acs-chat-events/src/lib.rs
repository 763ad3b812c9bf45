//! Sans-IO chat events for Azure Communication Services (ACS) Chat: learn when a message
//! arrives, from polling or from Event Grid, as one [`ChatEvent`] type.
//!
//! - [`ChatEvent`]: one enum for every chat event, with the names and fields of the JS SDK's
//!   real-time notification events (`chatMessageReceived`, `participantsAdded`, …); one JSON
//!   object per event, tagged by `"type"`.
//! - [`eventgrid`]: the Event Grid and CloudEvents envelopes, the typed `data` of every ACS chat
//!   system event, their mapping onto [`ChatEvent`], and the reverse
//!   ([`eventgrid::event_grid_events`]: the events the service publishes for a change, for an
//!   emulator).
//! - [`webhook`]: [`WebhookHandler`](webhook::WebhookHandler), request in → response to send and
//!   events out; it owns the Event Grid validation and the CloudEvents handshake, the HTTP
//!   server is yours.
//! - [`watch`]: polling as a state machine with time as input:
//!   [`ThreadWatcher`](watch::ThreadWatcher) for a thread and
//!   [`ThreadsWatcher`](watch::ThreadsWatcher) for all threads of a user, each with a
//!   serializable cursor, reporting every change once.
//!
//! Nothing here performs IO, reads a clock or draws random numbers: time (`now`) and event ids
//! come in as arguments. The HTTP types are `http` and `bytes` (re-exported), the models those of
//! [`acs_chat_protocol`].
//!
//! ```
//! use acs_chat_events::ChatEvent;
//! use acs_chat_events::webhook::{Outcome, WebhookHandler};
//! use bytes::Bytes;
//!
//! // An Event Grid delivery, as your HTTP server received it.
//! let request = http::Request::post("/events")
//!     .header("aeg-event-type", "Notification")
//!     .body(Bytes::from_static(br#"[{
//!         "id": "9f1c", "subject": "thread/19:a@thread.v2/sender/8:acs:r_ann/recipient/8:acs:r_bot",
//!         "eventType": "Microsoft.Communication.ChatMessageReceived",
//!         "eventTime": "2024-05-01T10:00:01Z", "dataVersion": "1.0",
//!         "data": {"threadId": "19:a@thread.v2", "messageId": "1714557600000", "type": "Text",
//!                  "messageBody": "hi bot", "composeTime": "2024-05-01T10:00:00Z",
//!                  "senderCommunicationIdentifier": {"rawId": "8:acs:r_ann"},
//!                  "recipientCommunicationIdentifier": {"rawId": "8:acs:r_bot"}}}]"#))?;
//! let handled = WebhookHandler::new().handle(&request);
//! assert_eq!(handled.response.status(), 200); // send it back
//! let Ok(Outcome::Notification { events, .. }) = handled.outcome else { panic!() };
//! let ChatEvent::ChatMessageReceived(m) = &events[0].event else { panic!() };
//! assert_eq!((events[0].id.as_str(), m.message.as_str()), ("9f1c", "hi bot"));
//! # Ok::<(), http::Error>(())
//! ```
//!
//! In scope: the event model, the Event Grid payloads and webhook protocol, and the polling
//! logic. Out of scope: HTTP servers and clients, sleeping, persistence of cursors (they are
//! serde values; store them where you like), and the real-time signaling channel of the
//! official SDKs (a proprietary protocol).

pub use acs_chat_protocol;
pub use acs_chat_protocol::{bytes, http};

mod error;
mod event;
pub mod eventgrid;
pub mod watch;
pub mod webhook;

pub use error::{Error, ErrorKind};
pub use event::{
    ChatEvent, ChatMessageDeletedEvent, ChatMessageEditedEvent, ChatMessageReceivedEvent,
    ChatThreadCreatedEvent, ChatThreadDeletedEvent, ChatThreadPropertiesUpdatedEvent,
    EventParticipant, EventThreadProperties, ParticipantsAddedEvent, ParticipantsRemovedEvent,
    ReadReceiptReceivedEvent, TypingIndicatorReceivedEvent, UnknownEvent,
};

/// The README's examples, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
