//! Event Grid: the two envelopes, the typed ACS chat system events, and both directions of the
//! mapping onto [`ChatEvent`].
//!
//! Envelopes: the Event Grid schema ([`EventGridEvent`]:
//! <https://learn.microsoft.com/azure/event-grid/event-schema>) and CloudEvents 1.0 in its JSON
//! format ([`CloudEvent`]: <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md>,
//! <https://learn.microsoft.com/azure/event-grid/cloud-event-schema>); a batch is a JSON array of
//! either. The `data` of every chat event type is typed in [`AcsChatEventData`].
//!
//! ```
//! use acs_chat_events::eventgrid::parse_event_grid_events;
//! use acs_chat_events::ChatEvent;
//!
//! let body = br#"[{
//!   "id": "5b3c9a2e-0d1f-4e8b-9c7a-1f2e3d4c5b6a", "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Communication/communicationServices/contoso",
//!   "subject": "thread/19:a@thread.v2/sender/8:acs:r_ann/recipient/8:acs:r_bot",
//!   "eventType": "Microsoft.Communication.ChatMessageReceived",
//!   "eventTime": "2024-05-01T10:00:01.5Z", "dataVersion": "1.0", "metadataVersion": "1",
//!   "data": {
//!     "threadId": "19:a@thread.v2", "messageId": "1714557600000", "version": 1714557600000,
//!     "type": "Text", "messageBody": "hello", "composeTime": "2024-05-01T10:00:00Z",
//!     "senderDisplayName": "Ann",
//!     "senderCommunicationIdentifier": {"rawId": "8:acs:r_ann", "communicationUser": {"id": "8:acs:r_ann"}},
//!     "recipientCommunicationIdentifier": {"rawId": "8:acs:r_bot", "communicationUser": {"id": "8:acs:r_bot"}}
//!   }
//! }]"#;
//! let events = parse_event_grid_events(body)?;
//! let Some(ChatEvent::ChatMessageReceived(m)) = events[0].to_chat_event()? else { panic!() };
//! assert_eq!(m.message, "hello");
//! assert_eq!(m.recipient.unwrap().raw_id(), "8:acs:r_bot");
//! # Ok::<(), acs_chat_events::Error>(())
//! ```

mod data;
mod emit;

pub use data::*;
pub use emit::{EventSource, event_grid_events};

use acs_chat_protocol::DateTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ChatEvent;
use crate::error::{Error, quote};

/// The CloudEvents spec version this crate reads and writes.
pub const CLOUD_EVENTS_SPEC_VERSION: &str = "1.0";

/// An event in the Event Grid schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventGridEvent {
    /// Unique per event (deliveries are at least once: the id is what deduplicates).
    pub id: String,
    /// The source's resource path (set by Event Grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The publisher's path to the subject (`thread/{threadId}/sender/{rawId}/…` for chat).
    pub subject: String,
    /// The event type (`Microsoft.Communication.ChatMessageReceived`, …).
    pub event_type: String,
    /// When the publisher generated the event.
    pub event_time: DateTime,
    /// The event's data.
    #[serde(default)]
    pub data: Value,
    /// The schema version of the data (`1.0` for chat events).
    #[serde(default)]
    pub data_version: String,
    /// The schema version of the envelope (set by Event Grid, `1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<String>,
}

impl EventGridEvent {
    /// An event with data version `1.0`, metadata version `1` and no topic.
    pub fn new(
        id: impl Into<String>,
        subject: impl Into<String>,
        event_type: impl Into<String>,
        event_time: DateTime,
        data: Value,
    ) -> Self {
        Self {
            id: id.into(),
            topic: None,
            subject: subject.into(),
            event_type: event_type.into(),
            event_time,
            data,
            data_version: "1.0".into(),
            metadata_version: Some("1".into()),
        }
    }

    /// The typed chat data: `Ok(None)` when this is not a chat event.
    pub fn chat_data(&self) -> Result<Option<AcsChatEventData>, Error> {
        AcsChatEventData::parse(&self.event_type, self.data.clone())
    }

    /// The [`ChatEvent`] this is: `Ok(None)` when it is not a chat event.
    pub fn to_chat_event(&self) -> Result<Option<ChatEvent>, Error> {
        self.chat_data()?
            .map(|d| d.to_chat_event(Some(self.event_time)))
            .transpose()
    }

    /// The same event as a CloudEvent: `source` is the topic (empty when there is none),
    /// `type` the event type, `time` the event time; the data is JSON.
    pub fn to_cloud_event(&self) -> CloudEvent {
        CloudEvent {
            specversion: CLOUD_EVENTS_SPEC_VERSION.into(),
            id: self.id.clone(),
            source: self.topic.clone().unwrap_or_default(),
            event_type: self.event_type.clone(),
            subject: Some(self.subject.clone()),
            time: Some(self.event_time),
            datacontenttype: Some("application/json".into()),
            dataschema: None,
            data: Some(self.data.clone()),
        }
    }
}

/// A CloudEvents 1.0 event in the JSON format (structured mode).
///
/// `data_base64` (binary data) is not read: such an event has no [`data`](Self::data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CloudEvent {
    /// The CloudEvents version, `1.0` (also read from `specVersion`, as one documented sample
    /// writes it).
    #[serde(alias = "specVersion")]
    pub specversion: String,
    /// Unique per source (what deduplicates).
    pub id: String,
    /// The source (for ACS: the resource path).
    pub source: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The subject (`thread/{threadId}/…` for chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime>,
    /// The media type of `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    /// The schema of `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// The data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl CloudEvent {
    /// The typed chat data: `Ok(None)` when this is not a chat event.
    pub fn chat_data(&self) -> Result<Option<AcsChatEventData>, Error> {
        AcsChatEventData::parse(&self.event_type, self.data.clone().unwrap_or(Value::Null))
    }

    /// The [`ChatEvent`] this is: `Ok(None)` when it is not a chat event.
    pub fn to_chat_event(&self) -> Result<Option<ChatEvent>, Error> {
        self.chat_data()?
            .map(|d| d.to_chat_event(self.time))
            .transpose()
    }
}

fn check_cloud_event(event: CloudEvent) -> Result<CloudEvent, Error> {
    if event.specversion == CLOUD_EVENTS_SPEC_VERSION {
        Ok(event)
    } else {
        Err(Error::malformed(format!(
            "CloudEvents specversion `{}` is not {CLOUD_EVENTS_SPEC_VERSION}",
            quote(&event.specversion)
        )))
    }
}

fn batch<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<Vec<T>, Error> {
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        Error::malformed(format!(
            "the body is not a JSON array of {what}: {}",
            quote(&e.to_string())
        ))
    })?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| one(item, what).map_err(|e| e.at(i)))
        .collect()
}

fn one<T: DeserializeOwned>(item: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(item)
        .map_err(|e| Error::malformed(format!("not one of {what}: {}", quote(&e.to_string()))))
}

/// Reads a batch in the Event Grid schema (a JSON array of events).
pub fn parse_event_grid_events(body: &[u8]) -> Result<Vec<EventGridEvent>, Error> {
    batch(body, "Event Grid events")
}

/// Reads a CloudEvents batch (`application/cloudevents-batch+json`: a JSON array of events).
pub fn parse_cloud_events(body: &[u8]) -> Result<Vec<CloudEvent>, Error> {
    batch::<CloudEvent>(body, "CloudEvents")?
        .into_iter()
        .enumerate()
        .map(|(i, e)| check_cloud_event(e).map_err(|e| e.at(i)))
        .collect()
}

/// Reads one CloudEvent in structured mode (`application/cloudevents+json`).
pub fn parse_cloud_event(body: &[u8]) -> Result<CloudEvent, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Error::malformed(format!(
            "the body is not a JSON CloudEvent: {}",
            quote(&e.to_string())
        ))
    })?;
    check_cloud_event(one(value, "CloudEvents")?)
}
