//! [`WebhookHandler`]: a sans-IO Event Grid webhook. Request in; response to send and chat
//! events out.
//!
//! The HTTP server is yours: read the body (at most [`WebhookHandler::body_limit`] bytes), hand
//! the request over, send [`Handled::response`] back, then act on [`Handled::outcome`].
//!
//! What it answers, after Event Grid's "Receive events at an HTTP endpoint" and "Webhook event
//! delivery" (<https://learn.microsoft.com/azure/event-grid/receive-events>,
//! <https://learn.microsoft.com/azure/event-grid/end-point-validation-event-grid-events-schema>,
//! <https://learn.microsoft.com/azure/event-grid/end-point-validation-cloud-events-schema>) and the
//! CloudEvents HTTP webhook spec
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/http-webhook.md#4-abuse-protection>):
//!
//! | request | response |
//! |---|---|
//! | `OPTIONS` with `WebHook-Request-Origin` (CloudEvents abuse protection) | `200`, `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate`; `403` for an origin not on the allowed list |
//! | `POST`, `aeg-event-type: SubscriptionValidation`, a `Microsoft.EventGrid.SubscriptionValidationEvent` | `200 {"validationResponse": "<validationCode>"}` |
//! | `POST`, Event Grid schema (`aeg-event-type: Notification`) | `200`; the chat events out, other events counted as ignored |
//! | `POST`, `application/cloudevents-batch+json` or `application/cloudevents+json` | the same, for CloudEvents |
//! | anything malformed | `400` (or `405`, `413`, `415`) with `{"error": {"code", "message"}}` and the [`Error`] |
//!
//! Deliveries are at least once: dedupe on [`ReceivedEvent::id`].
//!
//! ```
//! use acs_chat_events::webhook::{Outcome, WebhookHandler};
//! use bytes::Bytes;
//!
//! let handler = WebhookHandler::new();
//! let request = http::Request::post("/events")
//!     .header("aeg-event-type", "SubscriptionValidation")
//!     .header("content-type", "application/json")
//!     .body(Bytes::from_static(br#"[{"id": "1", "subject": "", "eventTime": "2024-05-01T09:00:00Z",
//!         "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "dataVersion": "1",
//!         "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}]"#))?;
//! let handled = handler.handle(&request);
//! assert_eq!(handled.response.status(), 200);
//! assert_eq!(&handled.response.body()[..], br#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#);
//! assert!(matches!(handled.outcome, Ok(Outcome::Validated { .. })));
//! # Ok::<(), http::Error>(())
//! ```

use acs_chat_protocol::DateTime;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::ChatEvent;
use crate::error::{Error, ErrorKind, quote};
use crate::eventgrid::{
    CloudEvent, EventGridEvent, parse_cloud_event, parse_cloud_events, parse_event_grid_events,
};

/// The body limit by default: 1 MiB, Event Grid's maximum batch size.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The Event Grid event type of a subscription validation.
pub const SUBSCRIPTION_VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

const AEG_EVENT_TYPE: HeaderName = HeaderName::from_static("aeg-event-type");
const REQUEST_ORIGIN: HeaderName = HeaderName::from_static("webhook-request-origin");
const ALLOWED_ORIGIN: HeaderName = HeaderName::from_static("webhook-allowed-origin");
const ALLOWED_RATE: HeaderName = HeaderName::from_static("webhook-allowed-rate");
const CE_BATCH: &str = "application/cloudevents-batch+json";
const CE_SINGLE: &str = "application/cloudevents+json";

/// A sans-IO webhook for Event Grid deliveries of ACS chat events (Event Grid schema or
/// CloudEvents 1.0).
#[derive(Debug, Clone)]
pub struct WebhookHandler {
    allowed_origins: Option<Vec<String>>,
    allowed_rate: Option<u32>,
    body_limit: usize,
}

impl Default for WebhookHandler {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`WebhookHandler::handle`] made of a request.
#[derive(Debug)]
#[non_exhaustive]
pub struct Handled {
    /// The response to send, whatever happened.
    pub response: Response<Bytes>,
    /// What the request was, or why it was refused (the response then says it too).
    pub outcome: Result<Outcome, Error>,
}

/// A request the handler accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// An Event Grid subscription validation, answered with its code.
    Validated {
        /// The code sent back.
        validation_code: String,
        /// The URL that validates the subscription by a GET instead, when Event Grid sent one.
        validation_url: Option<String>,
    },
    /// The CloudEvents abuse-protection handshake, granted to `origin`.
    HandshakeGranted {
        /// The sender's origin (`eventgrid.azure.net` for Event Grid).
        origin: String,
    },
    /// A delivery of events.
    Notification {
        /// The chat events, in the order of the batch.
        events: Vec<ReceivedEvent>,
        /// How many events of the batch were not chat events (and were skipped).
        ignored: usize,
    },
}

/// A chat event as delivered, with what identifies the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedEvent {
    /// The envelope's id: the same event delivered again has the same id.
    pub id: String,
    /// The Event Grid event type (`Microsoft.Communication.ChatMessageReceived`, …).
    pub event_type: String,
    /// The envelope's subject.
    pub subject: Option<String>,
    /// The envelope's time.
    pub time: Option<DateTime>,
    /// The event.
    pub event: ChatEvent,
}

impl WebhookHandler {
    /// A handler that grants the handshake to any origin, allows any rate and reads bodies up to
    /// [`DEFAULT_BODY_LIMIT`].
    pub fn new() -> Self {
        Self {
            allowed_origins: None,
            allowed_rate: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Grants the CloudEvents handshake only to these origins (compared without regard to
    /// ASCII case; Event Grid's is `eventgrid.azure.net`).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Answers the handshake with this rate (requests per minute) instead of `*` (any).
    pub fn allowed_rate(mut self, per_minute: u32) -> Self {
        self.allowed_rate = Some(per_minute);
        self
    }

    /// Refuses bodies longer than `bytes` (`413`).
    pub fn body_limit_bytes(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The body limit: read at most this many bytes (and one more, to tell a longer body) from
    /// the connection.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Handles one request. Never panics; every refusal is a response and an [`Error`].
    pub fn handle(&self, request: &Request<Bytes>) -> Handled {
        match self.dispatch(request) {
            Ok((response, outcome)) => Handled {
                response,
                outcome: Ok(outcome),
            },
            Err(error) => Handled {
                response: error_response(&error),
                outcome: Err(error),
            },
        }
    }

    fn dispatch(&self, request: &Request<Bytes>) -> Result<(Response<Bytes>, Outcome), Error> {
        if request.method() == Method::OPTIONS {
            return self.handshake(request);
        }
        if request.method() != Method::POST {
            return Err(Error::new(
                ErrorKind::MethodNotAllowed,
                format!(
                    "{} is not allowed: events are POSTed, the handshake is OPTIONS",
                    quote(request.method().as_str())
                ),
            ));
        }
        let body = request.body();
        if body.len() > self.body_limit {
            return Err(Error::new(
                ErrorKind::BodyTooLarge,
                format!(
                    "the body has {} bytes, more than the {} accepted",
                    body.len(),
                    self.body_limit
                ),
            ));
        }
        let media = media_type(request)?;
        match media.as_deref() {
            Some(CE_BATCH) => return notification(parse_cloud_events(body)?.iter().map(cloud)),
            Some(CE_SINGLE) => return notification([cloud(&parse_cloud_event(body)?)]),
            _ => {}
        }
        match header(request, &AEG_EVENT_TYPE)? {
            Some(kind) => event_grid(body, kind.eq_ignore_ascii_case("SubscriptionValidation")),
            // No header: tell the schemas apart by the body.
            None => {
                let value: Value = serde_json::from_slice(body).map_err(|e| {
                    Error::malformed(format!("the body is not JSON: {}", quote(&e.to_string())))
                })?;
                let is_cloud_event =
                    |v: &Value| v.get("specversion").is_some() || v.get("specVersion").is_some();
                match &value {
                    Value::Array(items) if items.first().is_some_and(is_cloud_event) => {
                        notification(parse_cloud_events(body)?.iter().map(cloud))
                    }
                    Value::Object(_) if is_cloud_event(&value) => {
                        notification([cloud(&parse_cloud_event(body)?)])
                    }
                    _ => event_grid(body, false),
                }
            }
        }
    }

    fn handshake(&self, request: &Request<Bytes>) -> Result<(Response<Bytes>, Outcome), Error> {
        let Some(origin) = header(request, &REQUEST_ORIGIN)? else {
            return Err(Error::new(
                ErrorKind::MissingHeader,
                "an OPTIONS request needs WebHook-Request-Origin (the CloudEvents handshake)",
            ));
        };
        if let Some(allowed) = &self.allowed_origins
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
        {
            return Err(Error::new(
                ErrorKind::OriginNotAllowed,
                format!("the origin `{}` is not allowed", quote(origin)),
            ));
        }
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        if let Some(value) = request.headers().get(&REQUEST_ORIGIN) {
            headers.insert(ALLOWED_ORIGIN, value.clone());
        }
        let rate = match self.allowed_rate {
            Some(n) => HeaderValue::from(n),
            None => HeaderValue::from_static("*"),
        };
        headers.insert(ALLOWED_RATE, rate);
        Ok((
            response,
            Outcome::HandshakeGranted {
                origin: origin.to_owned(),
            },
        ))
    }
}

/// A header as text: `None` when absent, an error when not visible ASCII.
fn header<'a>(request: &'a Request<Bytes>, name: &HeaderName) -> Result<Option<&'a str>, Error> {
    request
        .headers()
        .get(name)
        .map(|v| {
            v.to_str().map(str::trim).map_err(|_| {
                Error::new(
                    ErrorKind::MissingHeader,
                    format!("the {name} header is not valid text"),
                )
            })
        })
        .transpose()
}

/// The media type, lower case and without parameters; `None` without a `Content-Type`. Types
/// other than JSON ones are refused.
fn media_type(request: &Request<Bytes>) -> Result<Option<String>, Error> {
    let Some(value) = header(request, &CONTENT_TYPE)? else {
        return Ok(None);
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = media == "application/json" || media == "text/json" || media.ends_with("+json");
    if json {
        Ok(Some(media))
    } else {
        Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            format!("the content type `{}` is not JSON", quote(value)),
        ))
    }
}

/// An Event Grid batch: a validation if it has a validation event (which `validation`, from the
/// header, requires), else a notification.
fn event_grid(body: &[u8], validation: bool) -> Result<(Response<Bytes>, Outcome), Error> {
    let events = parse_event_grid_events(body)?;
    if let Some((i, validation)) = events
        .iter()
        .enumerate()
        .find(|(_, e)| e.event_type == SUBSCRIPTION_VALIDATION_EVENT)
    {
        let text = |key: &str| validation.data.get(key).and_then(Value::as_str);
        let Some(code) = text("validationCode") else {
            return Err(Error::malformed(
                "a subscription validation event without a validationCode",
            )
            .at(i));
        };
        let body = json!({ "validationResponse": code }).to_string();
        let mut response = Response::new(Bytes::from(body));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok((
            response,
            Outcome::Validated {
                validation_code: code.to_owned(),
                validation_url: text("validationUrl").map(str::to_owned),
            },
        ));
    }
    if validation {
        return Err(Error::malformed(format!(
            "aeg-event-type is SubscriptionValidation but no event is a {SUBSCRIPTION_VALIDATION_EVENT}"
        )));
    }
    notification(events.iter().map(event_grid_parts))
}

/// What a delivered event is made of, whichever the envelope.
type Parts = (
    String,
    String,
    Option<String>,
    Option<DateTime>,
    Result<Option<ChatEvent>, Error>,
);

fn event_grid_parts(e: &EventGridEvent) -> Parts {
    (
        e.id.clone(),
        e.event_type.clone(),
        Some(e.subject.clone()),
        Some(e.event_time),
        e.to_chat_event(),
    )
}

fn cloud(e: &CloudEvent) -> Parts {
    (
        e.id.clone(),
        e.event_type.clone(),
        e.subject.clone(),
        e.time,
        e.to_chat_event(),
    )
}

fn notification(
    parts: impl IntoIterator<Item = Parts>,
) -> Result<(Response<Bytes>, Outcome), Error> {
    let mut events = Vec::new();
    let mut ignored = 0;
    for (i, (id, event_type, subject, time, event)) in parts.into_iter().enumerate() {
        match event.map_err(|e| e.at(i))? {
            Some(event) => events.push(ReceivedEvent {
                id,
                event_type,
                subject,
                time,
                event,
            }),
            None => ignored += 1,
        }
    }
    Ok((
        Response::new(Bytes::new()),
        Outcome::Notification { events, ignored },
    ))
}

fn error_response(error: &Error) -> Response<Bytes> {
    let body = json!({"error": {"code": error.code(), "message": error.to_string()}}).to_string();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if error.status() == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    }
    response
}
