//! The one place where requests are sent: [`Pipeline::run`] builds, authenticates, sends,
//! classifies, retries and parses.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use acs_chat_protocol::headers::{CLIENT_REQUEST_ID, REQUEST_ID};
use acs_chat_protocol::identity::{AccessKey, sign_request};
use acs_chat_protocol::{DateTime, Operation, RequestContext, RetryAfter, authorize};
use acs_chat_transport::{Transport, TransportError};
use bytes::Bytes;
use futures::future::poll_fn;
use http::header::{HeaderValue, USER_AGENT};
use http::{Request, Response};
use tracing::Instrument as _;

use crate::credential::CommunicationTokenCredential;
use crate::retry::{Decision, Outcome, RetryOptions, Stop, decide};
use crate::runtime::{Runtime, unix_nanos};
use crate::{Error, ErrorKind};

type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Bytes>, TransportError>> + Send + 'a>>;

/// [`Transport`] with its future boxed, so a client holds any transport behind one type.
pub(crate) trait DynTransport: Send + Sync {
    fn send_boxed(&self, request: Request<Bytes>) -> SendFuture<'_>;
}

impl<T: Transport> DynTransport for T {
    fn send_boxed(&self, request: Request<Bytes>) -> SendFuture<'_> {
        Box::pin(self.send(request))
    }
}

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

/// Everything a client needs to run operations; shared by a client and its clones.
pub(crate) struct Pipeline {
    pub(crate) transport: Arc<dyn DynTransport>,
    /// The transport's own bound on an exchange ([`Transport::timeout`]), when the pipeline's
    /// timers run on the same clock (the default runtime's): see [`Pipeline::send`].
    pub(crate) transport_timeout: Option<Duration>,
    pub(crate) ctx: RequestContext,
    pub(crate) auth: Auth,
    pub(crate) retry: RetryOptions,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) runtime: Arc<dyn Runtime>,
    /// Whether `runtime`'s clock is the system clock (the default runtime's), read directly.
    pub(crate) system_clock: bool,
}

/// The time from `started` to `now` (nanoseconds since the epoch); zero when the clock went back.
fn since(started: i128, now: i128) -> Duration {
    Duration::from_nanos(u64::try_from(now.saturating_sub(started).max(0)).unwrap_or(u64::MAX))
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("endpoint", self.ctx.endpoint())
            .field("api_version", self.ctx.api_version())
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

/// What the call's span records when it ends.
struct Summary {
    started: DateTime,
    attempts: u32,
    status: Option<u16>,
    request_id: Option<String>,
}

/// What one attempt ended with.
enum Sent {
    Response(Response<Bytes>),
    Transport(TransportError),
    AttemptTimeout,
    BudgetTimeout,
}

impl Pipeline {
    /// Runs `op`: builds the request, authenticates it, sends it, and either parses a
    /// documented success or decides from the raw outcome (status and retry hint, transport
    /// failure, timeout) whether to retry, as the operation's idempotency and
    /// [`RetryOptions`] allow. Traced in one `acs_chat.request` span.
    pub(crate) async fn run<O: Operation + Sync>(
        &self,
        op: &O,
        thread_id: Option<&str>,
    ) -> Result<O::Output, Error> {
        let info = op.info();
        // A UUID v4 from the thread-local fastrand generator: a correlation id, not a secret,
        // so it need not cost a getrandom system call per request (the repeatability id of
        // create-thread, which must be unique for all time, uses the OS generator). Formatted on
        // the stack; the header value is its only heap copy.
        let mut buffer = uuid::Uuid::encode_buffer();
        let client_request_id: &str =
            uuid::Builder::from_random_bytes(fastrand::u128(..).to_ne_bytes())
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut buffer);
        // The span's outcome fields are recorded once, when the call ends (a formatter that appends
        // recorded values would otherwise repeat them after each retry); the attempts' details
        // are in their events.
        let span = tracing::info_span!(
            "acs_chat.request",
            operation = info.id,
            thread_id = thread_id.unwrap_or(""),
            client_request_id = client_request_id,
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let mut summary = (!span.is_disabled()).then(|| Summary {
            started: self.runtime.now(),
            attempts: 0,
            status: None,
            request_id: None,
        });
        let result = self
            .attempts(op, client_request_id, summary.as_mut())
            .instrument(span.clone())
            .await
            .map_err(|e| e.with_operation(info.id));
        if let Some(summary) = summary {
            span.record("attempts", summary.attempts);
            if let Some(status) = summary.status {
                span.record("status", status);
            }
            if let Some(id) = &summary.request_id {
                span.record("request_id", id.as_str());
            }
            let took = self
                .runtime
                .now()
                .saturating_duration_since(summary.started);
            span.record("duration_ms", took.as_millis() as u64);
            span.in_scope(|| match &result {
                Ok(_) => tracing::debug!("done"),
                Err(e) => tracing::debug!(error = %e, "failed"),
            });
        }
        result
    }

    async fn attempts<O: Operation + Sync>(
        &self,
        op: &O,
        client_request_id: &str,
        mut summary: Option<&mut Summary>,
    ) -> Result<O::Output, Error> {
        let info = op.info();
        let idempotency = op.idempotency();
        let runtime = &*self.runtime;
        // The clock is read when the call starts, before each retry and when a call fails; the
        // start as nanoseconds since the epoch, which the default runtime's clock gives without
        // calendar arithmetic.
        let started = unix_nanos(runtime, self.system_clock);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if let Some(summary) = summary.as_deref_mut() {
                summary.attempts = attempt;
            }
            let mut request = op.build_request(&self.ctx)?;
            // Made for each attempt: a clone of a header value made from a string would be
            // another allocation anyway (its bytes are shared on the first clone).
            let request_id = HeaderValue::from_str(client_request_id)
                .map_err(|_| Error::invalid_argument("bad client request id"))?;
            let headers = request.headers_mut();
            headers.insert(CLIENT_REQUEST_ID, request_id);
            headers.insert(USER_AGENT, self.user_agent.clone());
            let waited = self.authenticate(&mut request).await?;
            // The first attempt starts at `started`, unless it waited for a token refresh,
            // which counts against the deadline.
            let elapsed = if attempt == 1 && !waited {
                Duration::ZERO
            } else {
                since(started, unix_nanos(runtime, self.system_clock))
            };
            tracing::debug!(
                attempt,
                method = %request.method(),
                path = request.uri().path(),
                "sending request"
            );
            let sent = self.send(request, elapsed).await;
            // Decide on the raw outcome; the error is made only when the call fails or a retry
            // is logged.
            let (outcome, error) = match sent {
                Sent::Response(response) => {
                    let status = response.status();
                    let service_request_id = response
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok());
                    if let Some(summary) = summary.as_deref_mut() {
                        summary.status = Some(status.as_u16());
                        summary.request_id = service_request_id.map(str::to_owned);
                    }
                    tracing::debug!(
                        attempt,
                        status = status.as_u16(),
                        request_id = service_request_id.unwrap_or(""),
                        "response"
                    );
                    if info.is_success(status) {
                        // A body that does not parse is not retried: it would not parse again.
                        return op
                            .parse_response(response)
                            .map_err(|e| Error::from(e).with_attempts(attempt, false));
                    }
                    let retry_after = RetryAfter::from_headers(response.headers());
                    let error = match op.parse_response(response) {
                        Err(e) => Error::from(e),
                        // Unreachable for generated operations (a status that is not a success
                        // never parses); kept total for hand-written ones.
                        Ok(_) => Error::new(
                            ErrorKind::Decode,
                            format!("status {status} parsed as a success"),
                        ),
                    };
                    (
                        Outcome::Status {
                            status,
                            retry_after,
                        },
                        error,
                    )
                }
                Sent::Transport(e) => {
                    let error = Error::from_transport(e);
                    let outcome = match error.transport_error() {
                        Some(t) => Outcome::Transport(t.kind(), t.request_not_sent()),
                        None => Outcome::AttemptTimeout,
                    };
                    (outcome, error)
                }
                Sent::AttemptTimeout => (
                    Outcome::AttemptTimeout,
                    Error::timeout(format!(
                        "no response within the attempt timeout of {:?}",
                        self.attempt_timeout.unwrap_or_default()
                    )),
                ),
                Sent::BudgetTimeout => {
                    return Err(Error::timeout(
                        "the call's deadline passed (RetryOptions::max_elapsed)",
                    )
                    .with_attempts(attempt, true));
                }
            };
            let now = runtime.now();
            let decision = decide(
                attempt,
                &outcome,
                idempotency,
                &self.retry,
                now,
                since(started, now.unix_timestamp_nanos()),
                self.retry.jitter_sample(),
            );
            match decision {
                Decision::Retry(delay) => {
                    tracing::info!(
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "retrying"
                    );
                    runtime.sleep(delay).await;
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
                authorize(request, self.ctx.endpoint(), &token)?;
                Ok(waited)
            }
            Auth::AccessKey(key) => {
                self.ctx.endpoint().check_origin(request.uri())?;
                sign_request(request, key, self.runtime.now())?;
                Ok(false)
            }
        }
    }

    /// Sends one request, bounded by the attempt timeout and what is left of the deadline.
    ///
    /// One timer per request where two would race to the same end: when the transport ends an
    /// exchange by itself ([`Transport::timeout`], e.g. `HyperTransport`'s request timeout) no
    /// later than this limit, on the same clock (the default runtime's), the pipeline sets no
    /// timer. At a tie the transport's timeout is what ended the request before too: both
    /// timers fired in the same tick, and the transport's, polled first, won.
    /// Otherwise the timer starts once the transport has been polled and is still pending, so a
    /// transport that answers at once needs none.
    async fn send(&self, request: Request<Bytes>, elapsed: Duration) -> Sent {
        let budget_left = self.retry.max_elapsed.map(|b| b.saturating_sub(elapsed));
        if budget_left == Some(Duration::ZERO) {
            return Sent::BudgetTimeout;
        }
        // (how long, whether it is the deadline rather than the attempt timeout)
        let limit = match (self.attempt_timeout, budget_left) {
            (Some(a), Some(b)) if b < a => Some((b, true)),
            (Some(a), _) => Some((a, false)),
            (None, Some(b)) => Some((b, true)),
            (None, None) => None,
        }
        .filter(|&(duration, _)| self.transport_timeout.is_none_or(|t| t > duration));
        // Boxed even for the default transport: its future is large, and every future around it
        // would grow by as much and be copied at that size (measured: more than the allocation).
        let mut send = pin!(self.transport.send_boxed(request));
        let sent = |result: Result<Response<Bytes>, TransportError>| match result {
            Ok(response) => Sent::Response(response),
            Err(e) => Sent::Transport(e),
        };
        let Some((duration, is_deadline)) = limit else {
            return sent(send.await);
        };
        // Started at the first poll that finds the transport pending: tokio's own sleep, unboxed,
        // on the default runtime; the runtime's otherwise.
        #[cfg(feature = "tokio")]
        let mut tokio_timer = pin!(None::<tokio::time::Sleep>);
        let mut runtime_timer: Option<crate::runtime::BoxFuture> = None;
        poll_fn(|cx| {
            if let Poll::Ready(result) = send.as_mut().poll(cx) {
                return Poll::Ready(sent(result));
            }
            #[cfg_attr(not(feature = "tokio"), allow(unused_labels))]
            let fired = 'fired: {
                #[cfg(feature = "tokio")]
                if self.system_clock {
                    if tokio_timer.is_none() {
                        tokio_timer.set(Some(tokio::time::sleep(duration)));
                    }
                    if let Some(timer) = tokio_timer.as_mut().as_pin_mut() {
                        break 'fired timer.poll(cx);
                    }
                }
                runtime_timer
                    .get_or_insert_with(|| self.runtime.sleep(duration))
                    .as_mut()
                    .poll(cx)
            };
            fired.map(|()| {
                if is_deadline {
                    Sent::BudgetTimeout
                } else {
                    Sent::AttemptTimeout
                }
            })
        })
        .await
    }
}
