//! The one place where requests are sent: authentication, headers, timeouts, retries, tracing.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use acs_chat_protocol::identity::{AccessKey, sign_request};
use acs_chat_protocol::{Endpoint, Idempotency, Operation, RequestContext, authorize_token};
use acs_chat_transport::Transport;
use bytes::Bytes;
use futures::future::{Either, select};
use http::header::{HeaderName, HeaderValue, USER_AGENT};
use http::{Request, Response};
use tracing::Instrument as _;

use crate::credential::CommunicationTokenCredential;
use crate::retry::{Decision, Outcome, RetryOptions, Stop, decide};
use crate::runtime::{Clock, Jitter, Sleep};
use crate::{Error, ErrorKind};

/// The header that carries the client request id.
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// How requests are authenticated.
#[derive(Clone)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <user access token>`.
    Bearer(CommunicationTokenCredential),
    /// ACS HMAC-SHA256 with the resource's access key.
    AccessKey(AccessKey),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(c) => f.debug_tuple("Bearer").field(c).finish(),
            Self::AccessKey(_) => f.write_str("AccessKey(<redacted>)"),
        }
    }
}

/// The settings shared by every client.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) retry: RetryOptions,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sleep: Arc<dyn Sleep>,
    pub(crate) jitter: Arc<dyn Jitter>,
    pub(crate) user_agent: HeaderValue,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// The User-Agent: `[<application id> ]acs-chat/<version> (<os>; <arch>)`.
pub(crate) fn user_agent(application_id: Option<&str>) -> Result<HeaderValue, Error> {
    let base = format!(
        "acs-chat/{} ({}; {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let value = match application_id {
        None => base,
        Some(id) => {
            if id.is_empty() || id.len() > 24 || !id.chars().all(|c| c.is_ascii_graphic()) {
                return Err(Error::invalid_argument(
                    "the application id must be 1 to 24 printable ASCII characters without spaces",
                ));
            }
            format!("{id} {base}")
        }
    };
    HeaderValue::try_from(value)
        .map_err(|_| Error::invalid_argument("the User-Agent is not a valid header value"))
}

/// Sends operations: one per logical call, with retries.
pub(crate) struct Pipeline<T> {
    pub(crate) transport: T,
    pub(crate) ctx: RequestContext,
    pub(crate) auth: Auth,
    pub(crate) settings: Settings,
}

impl<T> fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("endpoint", self.ctx.endpoint())
            .field("api_version", self.ctx.api_version())
            .field("auth", &self.auth)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

enum Sent {
    Response(Response<Bytes>),
    Transport(acs_chat_transport::TransportError),
    AttemptTimeout,
    BudgetTimeout,
}

impl<T: Transport> Pipeline<T> {
    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.ctx.endpoint()
    }

    /// Runs `op` with its own idempotency.
    pub(crate) async fn execute<O: Operation + Sync>(
        &self,
        op: &O,
        thread_id: Option<&str>,
    ) -> Result<O::Output, Error> {
        self.execute_as(op, op.idempotency(), thread_id).await
    }

    /// Runs `op`, retrying as `idempotency` allows.
    pub(crate) async fn execute_as<O: Operation + Sync>(
        &self,
        op: &O,
        idempotency: Idempotency,
        thread_id: Option<&str>,
    ) -> Result<O::Output, Error> {
        let info = op.info();
        // A UUID v4 from the thread-local fastrand generator: a correlation id, not a secret,
        // so it need not cost a getrandom system call per request (the repeatability id of
        // create-thread, which must be unique for all time, still uses the OS generator).
        // Formatted on the stack; the header value is its only heap copy.
        let mut buffer = uuid::Uuid::encode_buffer();
        let client_request_id: &str =
            uuid::Builder::from_random_bytes(fastrand::u128(..).to_ne_bytes())
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut buffer);
        let span = tracing::info_span!(
            "acs_chat.request",
            operation = info.id,
            thread_id = thread_id.unwrap_or(""),
            client_request_id = client_request_id,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let request_id_header = HeaderValue::from_str(client_request_id)
            .map_err(|_| Error::invalid_argument("bad client request id"))?;
        self.run(op, idempotency, request_id_header, &span)
            .instrument(span.clone())
            .await
            .map_err(|e| e.with_operation(info.id))
    }

    async fn run<O: Operation + Sync>(
        &self,
        op: &O,
        idempotency: Idempotency,
        request_id_header: HeaderValue,
        span: &tracing::Span,
    ) -> Result<O::Output, Error> {
        let settings = &self.settings;
        // The clock is read when the call starts, before each retry, and after a response
        // only when it is needed (a failure, or a span that records the duration).
        let started = settings.clock.now();
        let record_duration = !span.is_disabled();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let mut request = op.build_request(&self.ctx).map_err(Error::from)?;
            let headers = request.headers_mut();
            headers.insert(CLIENT_REQUEST_ID, request_id_header.clone());
            headers.insert(USER_AGENT, settings.user_agent.clone());
            let waited = self.authenticate(&mut request).await?;

            // The first attempt starts at `started`, unless it waited for a token refresh,
            // which counts against the budget.
            let elapsed = if attempt == 1 && !waited {
                Duration::ZERO
            } else {
                settings.clock.now().saturating_duration_since(started)
            };
            tracing::debug!(
                attempt,
                method = %request.method(),
                path = request.uri().path(),
                "sending request"
            );
            let sent = self.send(request, elapsed).await;
            if record_duration {
                let took = settings.clock.now().saturating_duration_since(started);
                span.record("duration_ms", took.as_millis() as u64);
            }
            let error = match sent {
                Sent::Response(response) => {
                    span.record("status", response.status().as_u16());
                    if let Some(id) = response
                        .headers()
                        .get("x-ms-request-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        span.record("request_id", id);
                    }
                    tracing::debug!(attempt, status = response.status().as_u16(), "response");
                    match op.parse_response(response) {
                        Ok(output) => return Ok(output),
                        Err(e) => e,
                    }
                    .into()
                }
                Sent::Transport(e) => Error::from_transport(e),
                Sent::AttemptTimeout => Error::timeout(format!(
                    "no response within the attempt timeout of {:?}",
                    settings.attempt_timeout.unwrap_or_default()
                )),
                Sent::BudgetTimeout => {
                    return Err(Error::timeout("the overall time budget ran out")
                        .with_attempts(attempt, true));
                }
            };
            let now = settings.clock.now();
            let outcome = match (error.kind(), error.service_error(), error.transport_error()) {
                (ErrorKind::Service, Some(s), _) => Outcome::Status {
                    status: s.status(),
                    retry_after: s.retry_after(),
                },
                (ErrorKind::Transport, _, Some(t)) => Outcome::Transport(t),
                (ErrorKind::Timeout, _, _) => Outcome::AttemptTimeout,
                // Decode errors, refused links, ...: retrying cannot help.
                _ => return Err(error.with_attempts(attempt, false)),
            };
            let decision = decide(
                attempt,
                &outcome,
                idempotency,
                &settings.retry,
                now,
                now.saturating_duration_since(started),
                settings.jitter.sample(),
            );
            match decision {
                Decision::Retry(delay) => {
                    tracing::info!(
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "retrying"
                    );
                    settings.sleep.sleep(delay).await;
                }
                Decision::Stop(stop) => {
                    if stop == Stop::NotSafe {
                        tracing::debug!(
                            attempt,
                            "not retrying: the request may have been processed"
                        );
                    }
                    return Err(error.with_attempts(attempt, stop == Stop::BudgetExhausted));
                }
            }
        }
    }

    /// Authenticates `request`; `true` when it had to wait for a token refresh.
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<bool, Error> {
        match &self.auth {
            Auth::Bearer(credential) => {
                let (token, waited) = match credential.cached_token() {
                    Some(token) => (token, false),
                    None => (credential.get_token().await?, true),
                };
                authorize_token(request, self.ctx.endpoint(), &token).map_err(Error::from)?;
                Ok(waited)
            }
            Auth::AccessKey(key) => {
                self.ctx.endpoint().check_origin(request.uri())?;
                sign_request(request, key, self.settings.clock.now()).map_err(Error::from)?;
                Ok(false)
            }
        }
    }

    /// Sends one request, bounded by the attempt timeout and what is left of the budget.
    async fn send(&self, request: Request<Bytes>, elapsed: Duration) -> Sent {
        let settings = &self.settings;
        let budget_left = settings
            .retry
            .max_elapsed
            .map(|b| b.saturating_sub(elapsed));
        if budget_left == Some(Duration::ZERO) {
            return Sent::BudgetTimeout;
        }
        // (how long, whether it is the budget rather than the attempt timeout)
        let limit = match (settings.attempt_timeout, budget_left) {
            (Some(a), Some(b)) if b < a => Some((b, true)),
            (Some(a), _) => Some((a, false)),
            (None, Some(b)) => Some((b, true)),
            (None, None) => None,
        };
        let send = pin!(self.transport.send(request));
        let result = match limit {
            None => send.await,
            Some((duration, is_budget)) => {
                match select(send, settings.sleep.sleep(duration)).await {
                    Either::Left((result, _)) => result,
                    Either::Right(((), _)) if is_budget => return Sent::BudgetTimeout,
                    Either::Right(((), _)) => return Sent::AttemptTimeout,
                }
            }
        };
        match result {
            Ok(response) => Sent::Response(response),
            Err(e) => Sent::Transport(e),
        }
    }
}
