//! Events: what the emulator publishes when the chat changes, as the real resource does.
//!
//! Every chat operation's changes (the store's journal, [`Change`](crate::store::Change))
//! become [`ChatEvent`]s, and those become the Event Grid events ACS publishes
//! ([`acs_chat_events::eventgrid::event_grid_events`]: thread-level once, user-level once per
//! participant but the actor). They go to:
//!
//! - in-process subscribers: [`RunningEmulator::events`](crate::RunningEmulator::events), a
//!   [`EventStream`] of every [`ChatEvent`] (read receipts included, which Event Grid does not
//!   publish), with a bounded buffer;
//! - webhook subscriptions ([`EventSubscription`], `--event-webhook`): validated with Event
//!   Grid's handshake, then delivered at least once, retried with exponential backoff, and
//!   dead-lettered (one warning) when refused, out of attempts or out of time
//!   ([`DeliveryOptions`]). With a data directory the events of a request commit in the same
//!   SQLite transaction as its changes (a transactional outbox), so none is lost on a crash.
//!
//! Delivery never slows the chat API: it runs in background tasks, from bounded queues.

mod changes;
mod queue;
mod worker;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use acs_chat_events::ChatEvent;
use acs_chat_events::eventgrid::{EventGridEvent, EventSource, event_grid_events};
use acs_chat_protocol::DateTime;
use futures_util::Stream;
use tokio::sync::{Notify, broadcast, watch};

pub(crate) use changes::{Emitted, chat_events};
pub(crate) use queue::{AttemptResult, Finished, Queue};
pub(crate) use worker::spawn_workers;

/// The `topic` of the events (Event Grid writes the resource's path there).
pub const EVENT_TOPIC: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/acs-chat-emulator/providers/Microsoft.Communication/communicationServices/acs-chat-emulator";

/// The origin the CloudEvents handshake announces (`WebHook-Request-Origin`), Event Grid's.
pub const WEBHOOK_REQUEST_ORIGIN: &str = "eventgrid.azure.net";

/// The in-process buffer of [`RunningEmulator::events`](crate::RunningEmulator::events) by
/// default: a subscriber this many events behind loses the oldest.
pub const DEFAULT_EVENT_BUFFER: usize = 1024;

/// Deliveries remembered per subscription for the web view.
const RECENT_DELIVERIES: usize = 100;

/// The schema of webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[non_exhaustive]
pub enum EventSchema {
    /// The Event Grid schema: a JSON array of events, validated with a
    /// `SubscriptionValidationEvent`.
    #[default]
    #[value(name = "eventgrid")]
    EventGrid,
    /// CloudEvents 1.0 (`application/cloudevents+json`), validated with the `OPTIONS`
    /// handshake.
    #[value(name = "cloudevents")]
    CloudEvents,
}

impl fmt::Display for EventSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EventGrid => "eventgrid",
            Self::CloudEvents => "cloudevents",
        })
    }
}

/// A webhook event subscription: where to deliver, in which schema, under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSubscription {
    name: String,
    endpoint: String,
    schema: Option<EventSchema>,
    /// Why the builder's URL was refused (reported at start).
    invalid: Option<String>,
}

impl EventSubscription {
    pub(crate) fn invalid(error: String) -> Self {
        Self {
            name: String::new(),
            endpoint: String::new(),
            schema: None,
            invalid: Some(error),
        }
    }

    pub(crate) fn invalid_reason(&self) -> Option<&str> {
        self.invalid.as_deref()
    }

    /// A subscription delivering to `url` (`http://` or `https://`), named after it
    /// (`WEBHOOK-<8 hex digits of a hash of the URL>`, so that a restart with the same URL
    /// finds its undelivered events), in the builder's schema. `NAME=URL` names it `NAME`
    /// (letters, digits and `-`, as Event Grid's subscription names).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, url) = match text.split_once('=') {
            Some((name, url))
                if !name.is_empty()
                    && name.len() <= 64
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && (url.starts_with("http://") || url.starts_with("https://")) =>
            {
                (Some(name.to_ascii_uppercase()), url)
            }
            _ => (None, text),
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
        }
        let name = name.unwrap_or_else(|| {
            use sha2::Digest as _;
            let hash = sha2::Sha256::digest(url.as_bytes());
            format!(
                "WEBHOOK-{:02X}{:02X}{:02X}{:02X}",
                hash[0], hash[1], hash[2], hash[3]
            )
        });
        Ok(Self {
            name,
            endpoint: url.to_owned(),
            schema: None,
            invalid: None,
        })
    }

    /// Delivers in `schema` (default: the builder's, [`EventSchema::EventGrid`] unless set).
    pub fn schema(mut self, schema: EventSchema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The name (`aeg-subscription-name`, upper case as Event Grid sends it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The webhook's URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The schema, when set on the subscription.
    pub fn schema_kind(&self) -> Option<EventSchema> {
        self.schema
    }
}

/// `url` without its query and user info (which may carry secrets such as a function key),
/// for logs and the banner.
pub fn redacted_url(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let host = uri.host().unwrap_or_default();
            let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
            let query = if uri.query().is_some() { "?…" } else { "" };
            format!(
                "{}://{host}{port}{}{query}",
                uri.scheme_str().unwrap_or("http"),
                uri.path()
            )
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// How webhook deliveries are made, retried and bounded.
///
/// The defaults follow Event Grid's retry policy
/// (<https://learn.microsoft.com/azure/event-grid/delivery-and-retry>): at most 30 attempts
/// and a time to live of 1440 minutes, a 30-second wait for an answer, and 400, 401, 403 and
/// 413 never retried. The retry schedule is faster than Event Grid's (10 s, 30 s, 1 min,
/// 5 min, …): exponential from 1 second, doubling, at most 5 minutes apart, so that local
/// development does not wait.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryOptions {
    /// Attempts per event, the first included (Event Grid: 1 to 30, default 30).
    pub max_attempts: u32,
    /// How long an event may wait for delivery, from when it was published (Event Grid: 1 to
    /// 1440 minutes, default 1440).
    pub event_ttl: Duration,
    /// The delay before the first retry; each next one doubles (default 1 s).
    pub first_retry: Duration,
    /// The longest delay between two attempts (default 5 min).
    pub max_retry_delay: Duration,
    /// How long to wait for a webhook's answer (Event Grid: 30 s).
    pub response_timeout: Duration,
    /// Events waiting per subscription at most; a full queue dead-letters its oldest
    /// (default 10 000).
    pub queue_capacity: usize,
    /// Deliveries in flight per subscription at most (default 8; one per thread at a time).
    pub max_in_flight: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            max_attempts: 30,
            event_ttl: Duration::from_secs(1440 * 60),
            first_retry: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(5 * 60),
            response_timeout: Duration::from_secs(30),
            queue_capacity: 10_000,
            max_in_flight: 8,
        }
    }
}

impl DeliveryOptions {
    /// Sets [`Self::max_attempts`].
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets [`Self::event_ttl`].
    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.event_ttl = ttl;
        self
    }

    /// Sets [`Self::first_retry`].
    pub fn first_retry(mut self, delay: Duration) -> Self {
        self.first_retry = delay;
        self
    }

    /// Sets [`Self::max_retry_delay`].
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// Sets [`Self::response_timeout`].
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Sets [`Self::queue_capacity`].
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }

    /// Sets [`Self::max_in_flight`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// The delay after `attempts` failed attempts: `first_retry · 2^(attempts-1)`, at most
    /// `max_retry_delay`.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.first_retry
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_retry_delay)
    }
}

/// What became of one webhook delivery: see [`RunningEmulator::delivery_reports`](crate::RunningEmulator::delivery_reports).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The subscription's name.
    pub subscription: String,
    /// The event's id.
    pub event_id: String,
    /// The event's type (`Microsoft.Communication.ChatMessageReceived`, …).
    pub event_type: String,
    /// The event's subject.
    pub subject: String,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// When (wall clock).
    pub at: DateTime,
}

/// What happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Delivered (a 2xx answer) after this many attempts.
    Delivered {
        /// Attempts made, this one included.
        attempts: u32,
    },
    /// Failed; will be tried again.
    Retrying {
        /// Attempts made so far.
        attempts: u32,
        /// Why the last one failed.
        error: String,
    },
    /// Given up (logged as a warning): refused, out of attempts, out of time, or pushed out
    /// of a full queue.
    DeadLettered {
        /// Attempts made.
        attempts: u32,
        /// Why.
        reason: String,
    },
}

/// Where a subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionState {
    /// The handshake has not succeeded yet; events wait.
    Validating {
        /// Handshakes tried.
        attempts: u32,
        /// Why the last one failed, if one did.
        last_error: Option<String>,
    },
    /// Validated: events are delivered.
    Validated,
}

/// A subscription's state and recent deliveries (for the web view and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionStatus {
    /// The subscription's name.
    pub name: String,
    /// Its webhook URL.
    pub endpoint: String,
    /// Its schema.
    pub schema: EventSchema,
    /// Validated or not.
    pub state: SubscriptionState,
    /// Events waiting (being retried included).
    pub queued: usize,
    /// Events delivered since the start.
    pub delivered: u64,
    /// Events dead-lettered since the start.
    pub dead_lettered: u64,
    /// The latest deliveries, newest first (at most 100), each with its latest outcome.
    pub recent: Vec<DeliveryReport>,
}

/// A subscription's queue and status, shared by the service (which queues) and its worker
/// (which delivers).
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) config: EventSubscription,
    pub(crate) schema: EventSchema,
    pub(crate) options: DeliveryOptions,
    /// The validation code of this run (also accepted on the validation URL).
    pub(crate) validation_code: String,
    pub(crate) validated: AtomicBool,
    /// Wakes the delivering worker: an event was queued, or it was validated.
    pub(crate) wake: Notify,
    /// Wakes the validating worker: the validation URL was visited.
    pub(crate) validation: Notify,
    shared: Mutex<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) state: SubscriptionState,
    pub(crate) delivered: u64,
    pub(crate) dead_lettered: u64,
    recent: VecDeque<DeliveryReport>,
    /// Whether the last push found the queue full (so one warning per overflow).
    overflowing: bool,
}

impl Subscription {
    pub(crate) fn new(
        config: EventSubscription,
        default_schema: EventSchema,
        options: DeliveryOptions,
    ) -> Self {
        Self {
            schema: config.schema.unwrap_or(default_schema),
            config,
            validation_code: uuid::Uuid::new_v4().to_string(),
            validated: AtomicBool::new(false),
            wake: Notify::new(),
            validation: Notify::new(),
            shared: Mutex::new(Shared {
                queue: Queue::new(options.clone()),
                state: SubscriptionState::Validating {
                    attempts: 0,
                    last_error: None,
                },
                delivered: 0,
                dead_lettered: 0,
                recent: VecDeque::new(),
                overflowing: false,
            }),
            options,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.config.name()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the subscription validated (the handshake or the validation URL).
    pub(crate) fn set_validated(&self) {
        if !self.validated.swap(true, Ordering::SeqCst) {
            self.lock().state = SubscriptionState::Validated;
            tracing::info!(
                subscription = self.name(),
                endpoint = %redacted_url(self.config.endpoint()),
                "event subscription validated"
            );
        }
        self.validation.notify_one();
        self.wake.notify_one();
    }

    pub(crate) fn status(&self) -> SubscriptionStatus {
        let shared = self.lock();
        SubscriptionStatus {
            name: self.name().to_owned(),
            endpoint: self.config.endpoint().to_owned(),
            schema: self.schema,
            state: shared.state.clone(),
            queued: shared.queue.len(),
            delivered: shared.delivered,
            dead_lettered: shared.dead_lettered,
            recent: shared.recent.iter().cloned().collect(),
        }
    }
}

impl Shared {
    /// Remembers `report` as the latest outcome of its event.
    pub(crate) fn record(&mut self, report: &DeliveryReport) {
        match &report.outcome {
            DeliveryOutcome::Delivered { .. } => self.delivered += 1,
            DeliveryOutcome::DeadLettered { .. } => self.dead_lettered += 1,
            DeliveryOutcome::Retrying { .. } => {}
        }
        self.recent.retain(|r| r.event_id != report.event_id);
        self.recent.push_front(report.clone());
        self.recent.truncate(RECENT_DELIVERIES);
    }
}

/// Who hears of what the service does: in-process subscribers and the webhook subscriptions.
#[derive(Debug)]
pub(crate) struct Publisher {
    chat: broadcast::Sender<ChatEvent>,
    reports: broadcast::Sender<DeliveryReport>,
    /// Bumped when a subscription's state changes (for the web view).
    changed: watch::Sender<u64>,
    subscriptions: Vec<Arc<Subscription>>,
}

/// One Event Grid event to queue for each subscription, with its thread.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) thread: String,
    pub(crate) event: Arc<EventGridEvent>,
}

impl Default for Publisher {
    fn default() -> Self {
        Self::new(DEFAULT_EVENT_BUFFER, Vec::new())
    }
}

impl Publisher {
    pub(crate) fn new(buffer: usize, subscriptions: Vec<Arc<Subscription>>) -> Self {
        Self {
            chat: broadcast::channel(buffer.max(1)).0,
            reports: broadcast::channel(buffer.max(1)).0,
            changed: watch::channel(0).0,
            subscriptions,
        }
    }

    pub(crate) fn subscriptions(&self) -> &[Arc<Subscription>] {
        &self.subscriptions
    }

    /// Whether anyone hears of the chat events now: an in-process subscriber (the web view's
    /// included) or a webhook subscription. When no one does, the events are not made.
    pub(crate) fn listened(&self) -> bool {
        !self.subscriptions.is_empty() || self.chat.receiver_count() > 0
    }

    /// The Event Grid events of `emitted` (none when no webhook is subscribed).
    pub(crate) fn outgoing(&self, emitted: &[Emitted], now: DateTime) -> Vec<Outgoing> {
        if self.subscriptions.is_empty() {
            return Vec::new();
        }
        let source = EventSource::new(EVENT_TOPIC, now);
        emitted
            .iter()
            .flat_map(|e| {
                let thread = e.event.thread_id().unwrap_or_default().to_owned();
                event_grid_events(&e.event, &e.audience, &source, || {
                    uuid::Uuid::new_v4().to_string()
                })
                .into_iter()
                .map(move |event| Outgoing {
                    thread: thread.clone(),
                    event: Arc::new(event),
                })
            })
            .collect()
    }

    /// Publishes what committed: the chat events to in-process subscribers, and `outgoing`
    /// to every subscription's queue (`rows[i][j]`: the outbox row of subscription `i`'s
    /// copy of event `j`, when persisted). Returns the outbox rows of events pushed out of
    /// full queues (dead-lettered), to delete.
    pub(crate) fn publish(
        &self,
        emitted: Vec<Emitted>,
        outgoing: &[Outgoing],
        rows: Option<&[Vec<i64>]>,
    ) -> Vec<i64> {
        for e in emitted {
            // No subscriber is not an error.
            let _ = self.chat.send(e.event);
        }
        let mut evicted_rows = Vec::new();
        let now = Instant::now();
        for (i, sub) in self.subscriptions.iter().enumerate() {
            if outgoing.is_empty() {
                continue;
            }
            let mut shared = sub.lock();
            for (j, out) in outgoing.iter().enumerate() {
                let row = rows.and_then(|r| r.get(i)).and_then(|r| r.get(j)).copied();
                let evicted = shared
                    .queue
                    .push(row, out.thread.clone(), out.event.clone(), now);
                if let Some(evicted) = evicted {
                    evicted_rows.extend(evicted.row);
                    self.evicted(sub, &mut shared, &evicted);
                } else {
                    shared.overflowing = false;
                }
            }
            drop(shared);
            sub.wake.notify_one();
        }
        evicted_rows
    }

    /// Queues events read back from the outbox at start.
    /// Queues events read back from the outbox at start, with the attempts already made and
    /// their age (from their `eventTime`), so that attempts and the time to live go on where
    /// they were; an event whose time to live ran out while the emulator was down is
    /// dead-lettered. Returns the rows to delete.
    pub(crate) fn requeue(&self, sub: &Subscription, rows: Vec<(i64, Outgoing, u32)>) -> Vec<i64> {
        let now = Instant::now();
        let wall = crate::server::wall_clock().unix_timestamp_nanos();
        let mut shared = sub.lock();
        let mut done_rows = Vec::new();
        for (row, out, attempts) in rows {
            let age_nanos = wall.saturating_sub(out.event.event_time.unix_timestamp_nanos());
            let age = Duration::from_nanos(u64::try_from(age_nanos).unwrap_or(0));
            if age >= sub.options.event_ttl {
                done_rows.push(row);
                let report = DeliveryReport {
                    subscription: sub.name().to_owned(),
                    event_id: out.event.id.clone(),
                    event_type: out.event.event_type.clone(),
                    subject: out.event.subject.clone(),
                    outcome: DeliveryOutcome::DeadLettered {
                        attempts,
                        reason: "its time to live ran out while the emulator was stopped"
                            .to_owned(),
                    },
                    at: crate::server::wall_clock(),
                };
                tracing::warn!(
                    subscription = sub.name(),
                    event_id = %out.event.id,
                    event_type = %out.event.event_type,
                    attempts,
                    reason = "time to live ran out while stopped",
                    "event dead-lettered"
                );
                shared.record(&report);
                let _ = self.reports.send(report);
                continue;
            }
            let queued_at = now.checked_sub(age).unwrap_or(now);
            let evicted = shared.queue.push_restored(
                Some(row),
                out.thread,
                out.event,
                attempts,
                queued_at,
                now,
            );
            if let Some(evicted) = evicted {
                done_rows.extend(evicted.row);
                self.evicted(sub, &mut shared, &evicted);
            }
        }
        drop(shared);
        sub.wake.notify_one();
        done_rows
    }

    fn evicted(&self, sub: &Subscription, shared: &mut Shared, evicted: &queue::Pending) {
        if !shared.overflowing {
            tracing::warn!(
                subscription = sub.name(),
                capacity = sub.options.queue_capacity,
                "event queue full: the oldest events are dead-lettered to make room"
            );
            shared.overflowing = true;
        }
        let report = DeliveryReport {
            subscription: sub.name().to_owned(),
            event_id: evicted.event.id.clone(),
            event_type: evicted.event.event_type.clone(),
            subject: evicted.event.subject.clone(),
            outcome: DeliveryOutcome::DeadLettered {
                attempts: evicted.attempts,
                reason: "pushed out of the full queue".to_owned(),
            },
            at: crate::server::wall_clock(),
        };
        shared.record(&report);
        let _ = self.reports.send(report);
    }

    /// Tells the web view that a subscription's state changed.
    pub(crate) fn changed(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Tells report subscribers (after [`Shared::record`]).
    pub(crate) fn report(&self, report: DeliveryReport) {
        let _ = self.reports.send(report);
    }

    /// Raw receivers of everything, for the web view's server-sent events.
    pub(crate) fn subscribe_raw(
        &self,
    ) -> (
        broadcast::Receiver<ChatEvent>,
        broadcast::Receiver<DeliveryReport>,
        watch::Receiver<u64>,
    ) {
        (
            self.chat.subscribe(),
            self.reports.subscribe(),
            self.changed.subscribe(),
        )
    }

    /// A new in-process subscription to the chat events.
    pub(crate) fn subscribe(&self) -> EventStream {
        EventStream::new(self.chat.subscribe())
    }

    /// A new in-process subscription to the delivery reports.
    pub(crate) fn subscribe_reports(&self) -> ReportStream {
        ReportStream::new(self.reports.subscribe())
    }
}

/// A subscriber fell behind by more than its buffer: it missed `missed` items (the oldest);
/// the stream goes on with the next ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged {
    /// How many were missed.
    pub missed: u64,
}

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the subscriber fell behind and missed {} events",
            self.missed
        )
    }
}

impl std::error::Error for Lagged {}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Lagged>> + Send>>;

fn receiver_stream<T: Clone + Send + 'static>(rx: broadcast::Receiver<T>) -> Boxed<T> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(item) => Some((Ok(item), rx)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some((Err(Lagged { missed }), rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }))
}

/// Every [`ChatEvent`] the emulator publishes from the moment of subscribing, in order
/// (thread-level: no recipient). A subscriber more than the buffer behind
/// ([`EmulatorBuilder::event_buffer`](crate::EmulatorBuilder::event_buffer)) gets one
/// `Err(Lagged)` for the events it missed, then the next ones. Ends when the emulator is
/// dropped.
pub struct EventStream {
    inner: Boxed<ChatEvent>,
}

impl EventStream {
    fn new(rx: broadcast::Receiver<ChatEvent>) -> Self {
        Self {
            inner: receiver_stream(rx),
        }
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<ChatEvent, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Every [`DeliveryReport`] from the moment of subscribing; lags like [`EventStream`].
pub struct ReportStream {
    inner: Boxed<DeliveryReport>,
}

impl ReportStream {
    fn new(rx: broadcast::Receiver<DeliveryReport>) -> Self {
        Self {
            inner: receiver_stream(rx),
        }
    }
}

impl fmt::Debug for ReportStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportStream").finish_non_exhaustive()
    }
}

impl Stream for ReportStream {
    type Item = Result<DeliveryReport, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_named_or_named_after_their_url() {
        let named = EventSubscription::parse("bot-1=https://example.com/hook?code=a=b").unwrap();
        assert_eq!(named.name(), "BOT-1");
        assert_eq!(named.endpoint(), "https://example.com/hook?code=a=b");
        let unnamed = EventSubscription::parse("http://127.0.0.1:9/hook?x=1").unwrap();
        assert!(unnamed.name().starts_with("WEBHOOK-"), "{}", unnamed.name());
        assert_eq!(unnamed.name().len(), "WEBHOOK-".len() + 8);
        assert_eq!(
            EventSubscription::parse("http://127.0.0.1:9/hook?x=1").unwrap(),
            unnamed,
            "the same URL, the same name"
        );
        for bad in [
            "ftp://x/",
            "not a url",
            "bot=ftp://x/",
            "/relative",
            "http://",
        ] {
            assert!(EventSubscription::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_shown_without_query_or_user_info() {
        assert_eq!(
            redacted_url("https://user:pw@example.com:8443/api/hook?code=secret"),
            "https://example.com:8443/api/hook?…"
        );
        assert_eq!(redacted_url("http://127.0.0.1/x"), "http://127.0.0.1/x");
    }

    #[test]
    fn the_retry_delay_doubles_up_to_its_bound() {
        let o = DeliveryOptions::default();
        let secs: Vec<u64> = (1..=12).map(|n| o.retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(o.retry_delay(u32::MAX), Duration::from_secs(300));
    }
}
