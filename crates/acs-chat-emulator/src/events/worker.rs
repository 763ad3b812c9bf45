//! The delivery worker of one subscription: the handshake, then attempts from its [`Queue`],
//! over HTTP, in a background task.
//!
//! What goes on the wire follows Event Grid's webhook delivery:
//! <https://learn.microsoft.com/azure/event-grid/webhook-event-delivery> (validation),
//! <https://learn.microsoft.com/azure/event-grid/end-point-validation-cloud-events-schema>
//! (the CloudEvents `OPTIONS` handshake),
//! <https://learn.microsoft.com/azure/event-grid/delivery-and-retry> (headers, retries).

use std::sync::Arc;
use std::time::Instant;

use acs_chat_events::eventgrid::EventGridEvent;
use acs_chat_transport::{HyperTransport, Transport as _};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::queue::Attempt;
use super::{
    AttemptResult, DeliveryOutcome, DeliveryReport, EventSchema, Finished, Subscription,
    SubscriptionState, WEBHOOK_REQUEST_ORIGIN,
};
use crate::Service;
use crate::server::wall_clock;

/// Starts one worker per subscription of `service`; `endpoint` is the emulator's (for the
/// validation URL). The tasks end when aborted.
pub(crate) fn spawn_workers(
    service: &Arc<Service>,
    endpoint: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    let subscriptions = service.publisher().subscriptions().to_vec();
    subscriptions
        .into_iter()
        .filter_map(|sub| {
            let transport = HyperTransport::builder()
                .allow_http(true)
                .request_timeout(sub.options.response_timeout)
                .connect_timeout(sub.options.response_timeout)
                .max_response_body_size(64 * 1024)
                .build();
            match transport {
                Ok(transport) => {
                    let worker = Worker {
                        sub,
                        service: service.clone(),
                        transport,
                        validation_url: String::new(),
                    };
                    let worker = worker.with_endpoint(endpoint);
                    Some(tokio::spawn(worker.run()))
                }
                Err(e) => {
                    tracing::warn!(subscription = sub.name(), error = %e, "no HTTP client for the webhook: its events are not delivered");
                    None
                }
            }
        })
        .collect()
}

struct Worker {
    sub: Arc<Subscription>,
    service: Arc<Service>,
    transport: HyperTransport,
    validation_url: String,
}

impl Worker {
    fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.validation_url = format!(
            "{}/_emulator/subscriptions/{}/validate?code={}",
            endpoint.trim_end_matches('/'),
            self.sub.name(),
            self.sub.validation_code
        );
        self
    }

    async fn run(self) {
        self.validate().await;
        self.deliver().await;
    }

    /// Repeats the handshake, with backoff, until it succeeds (or the validation URL is
    /// visited). Warns once when it fails.
    async fn validate(&self) {
        let sub = &self.sub;
        let mut attempts = 0u32;
        let mut warned = false;
        while !sub.validated.load(std::sync::atomic::Ordering::SeqCst) {
            attempts = attempts.saturating_add(1);
            match self.handshake().await {
                Ok(()) => break,
                Err(error) => {
                    if !warned {
                        tracing::warn!(
                            subscription = sub.name(),
                            endpoint = %super::redacted_url(sub.config.endpoint()),
                            %error,
                            "the event subscription did not validate; retrying with backoff, its events wait"
                        );
                        warned = true;
                    } else {
                        tracing::debug!(subscription = sub.name(), %error, attempts, "validation failed");
                    }
                    sub.lock().state = SubscriptionState::Validating {
                        attempts,
                        last_error: Some(error),
                    };
                    self.service.publisher().changed();
                    let delay = sub.options.retry_delay(attempts);
                    // The validation URL wakes us too.
                    let _ = tokio::time::timeout(delay, sub.validation.notified()).await;
                }
            }
        }
        sub.set_validated();
        self.service.publisher().changed();
    }

    /// Sends one handshake request; a failure or a non-2xx answer is the error, said as
    /// "`what` was answered <status>".
    async fn send_expecting_success(
        &self,
        request: Request<Bytes>,
        what: &str,
    ) -> Result<http::Response<Bytes>, String> {
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(format!("{what} was answered {}", response.status()))
        }
    }

    async fn handshake(&self) -> Result<(), String> {
        let sub = &self.sub;
        match sub.schema {
            EventSchema::EventGrid => {
                let event = json!([{
                    "id": uuid::Uuid::new_v4().to_string(),
                    "topic": super::EVENT_TOPIC,
                    "subject": "",
                    "data": {
                        "validationCode": sub.validation_code,
                        "validationUrl": self.validation_url,
                    },
                    "eventType": acs_chat_events::webhook::SUBSCRIPTION_VALIDATION_EVENT,
                    "eventTime": wall_clock().to_string(),
                    "metadataVersion": "1",
                    "dataVersion": "2",
                }]);
                let request = self
                    .request(Method::POST)
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .header("aeg-event-type", "SubscriptionValidation")
                    .header("aeg-delivery-count", "0")
                    .header("aeg-data-version", "2")
                    .header("aeg-metadata-version", "1")
                    .body(Bytes::from(event.to_string()))
                    .map_err(|e| e.to_string())?;
                let response = self
                    .send_expecting_success(request, "the validation")
                    .await?;
                let answer: Option<Value> = serde_json::from_slice(response.body()).ok();
                let code = answer
                    .as_ref()
                    .and_then(|v| v.get("validationResponse"))
                    .and_then(Value::as_str);
                // Or validated through the URL meanwhile.
                if code == Some(sub.validation_code.as_str())
                    || sub.validated.load(std::sync::atomic::Ordering::SeqCst)
                {
                    Ok(())
                } else {
                    Err(
                        "the answer has no matching validationResponse (and the validation URL was not visited)"
                            .to_owned(),
                    )
                }
            }
            EventSchema::CloudEvents => {
                let request = self
                    .request(Method::OPTIONS)
                    .header("webhook-request-origin", WEBHOOK_REQUEST_ORIGIN)
                    .body(Bytes::new())
                    .map_err(|e| e.to_string())?;
                let response = self.send_expecting_success(request, "OPTIONS").await?;
                let allowed = response
                    .headers()
                    .get("webhook-allowed-origin")
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim);
                match allowed {
                    Some(o) if o == "*" || o.eq_ignore_ascii_case(WEBHOOK_REQUEST_ORIGIN) => Ok(()),
                    Some(_) => Err(format!(
                        "WebHook-Allowed-Origin does not allow {WEBHOOK_REQUEST_ORIGIN}"
                    )),
                    None => Err("the answer to OPTIONS has no WebHook-Allowed-Origin".to_owned()),
                }
            }
        }
    }

    fn request(&self, method: Method) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(self.sub.config.endpoint())
            .header(
                http::header::USER_AGENT,
                "acs-chat-emulator (Event Grid emulation)",
            )
    }

    /// Delivers from the queue until aborted.
    async fn deliver(self) {
        let sub = self.sub.clone();
        let mut running: JoinSet<(u64, AttemptResult)> = JoinSet::new();
        loop {
            let (attempts, next) = {
                let mut shared = sub.lock();
                let attempts = shared.queue.due(Instant::now());
                (attempts, shared.queue.next_due())
            };
            for attempt in attempts {
                let request = self.notification(&attempt);
                let transport = self.transport.clone();
                running.spawn(async move {
                    let result = match request {
                        Ok(request) => send(&transport, request).await,
                        Err(e) => AttemptResult::Refused(e),
                    };
                    (attempt.seq, result)
                });
            }
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(done) = running.join_next() => {
                    if let Ok((seq, result)) = done {
                        self.finished(seq, result);
                    }
                }
                () = sub.wake.notified() => {}
                () = sleep => {}
            }
        }
    }

    fn finished(&self, seq: u64, result: AttemptResult) {
        let sub = &self.sub;
        let finished = sub.lock().queue.finish(seq, result, Instant::now());
        let report = |event: &EventGridEvent, outcome| DeliveryReport {
            subscription: sub.name().to_owned(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            subject: event.subject.clone(),
            outcome,
            at: wall_clock(),
        };
        let (report, row) = match finished {
            Finished::Gone => return,
            Finished::Delivered(p) => (
                report(
                    &p.event,
                    DeliveryOutcome::Delivered {
                        attempts: p.attempts,
                    },
                ),
                p.row,
            ),
            Finished::Retrying {
                row,
                event,
                attempts,
                error,
                delay,
            } => {
                tracing::debug!(subscription = sub.name(), event_id = %event.id, attempts, %error, ?delay, "delivery failed; retrying");
                if let Some(row) = row {
                    self.service.outbox_attempted(row, attempts);
                }
                (
                    report(&event, DeliveryOutcome::Retrying { attempts, error }),
                    None,
                )
            }
            Finished::DeadLettered(p, reason) => {
                tracing::warn!(
                    subscription = sub.name(),
                    event_id = %p.event.id,
                    event_type = %p.event.event_type,
                    attempts = p.attempts,
                    %reason,
                    "event dead-lettered"
                );
                (
                    report(
                        &p.event,
                        DeliveryOutcome::DeadLettered {
                            attempts: p.attempts,
                            reason,
                        },
                    ),
                    p.row,
                )
            }
        };
        sub.lock().record(&report);
        if let Some(row) = row {
            self.service.outbox_done(&[row]);
        }
        self.service.publisher().report(report);
    }

    /// The request of one delivery attempt.
    fn notification(&self, attempt: &Attempt) -> Result<Request<Bytes>, String> {
        let sub = &self.sub;
        let event = &attempt.event;
        let builder = self
            .request(Method::POST)
            .header("aeg-event-type", "Notification")
            .header("aeg-subscription-name", sub.name())
            .header("aeg-delivery-count", attempt.delivery_count.to_string());
        let (builder, body) = match sub.schema {
            EventSchema::EventGrid => {
                let body = serde_json::to_vec(&[&**event]).map_err(|e| e.to_string())?;
                let builder = builder
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .header("aeg-data-version", event.data_version.as_str())
                    .header(
                        "aeg-metadata-version",
                        event.metadata_version.as_deref().unwrap_or("1"),
                    );
                (builder, body)
            }
            EventSchema::CloudEvents => {
                let cloud = event.to_cloud_event();
                let body = serde_json::to_vec(&cloud).map_err(|e| e.to_string())?;
                let builder = builder
                    .header(CONTENT_TYPE, "application/cloudevents+json; charset=utf-8")
                    .header("aeg-metadata-version", cloud.specversion.as_str());
                (builder, body)
            }
        };
        builder.body(Bytes::from(body)).map_err(|e| e.to_string())
    }
}

/// One attempt: a 2xx delivers; 400, 401, 403 and 413 are not retried (Event Grid's
/// documented webhook errors without retry); anything else, no answer in time or no
/// connection is retried.
async fn send(transport: &HyperTransport, request: Request<Bytes>) -> AttemptResult {
    match transport.send(request).await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                AttemptResult::Delivered
            } else if matches!(
                status,
                StatusCode::BAD_REQUEST
                    | StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::PAYLOAD_TOO_LARGE
            ) {
                AttemptResult::Refused(format!("the webhook answered {status}"))
            } else {
                AttemptResult::Retry(format!("the webhook answered {status}"))
            }
        }
        Err(e) => AttemptResult::Retry(e.to_string()),
    }
}
