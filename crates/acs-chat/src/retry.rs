//! [`RetryOptions`] and the pure retry decision.

use std::time::Duration;

use acs_chat_protocol::{DateTime, Idempotency, RetryAfter, RetryClass, classify_status};
use acs_chat_transport::TransportErrorKind;
use http::StatusCode;

/// How failed requests are retried.
///
/// Defaults: 3 retries, exponential backoff with full jitter (a random delay between zero and
/// `initial_delay * 2^retry`, capped at `max_delay`), base 800 ms, cap 60 s, and an overall
/// deadline of 60 s per call (as azure_core's `max_total_elapsed`), so no call, however the
/// network or the service misbehaves, takes longer than a minute unless asked to. A server hint
/// (`retry-after-ms`, `x-ms-retry-after-ms`, `Retry-After` in seconds or as an HTTP date)
/// replaces the backoff, capped at `max_delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryOptions {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: u32,
    /// The backoff base.
    pub initial_delay: Duration,
    /// The longest wait between two attempts (also caps server hints).
    pub max_delay: Duration,
    /// The overall deadline of one call, retries and waits included: a retry that would start
    /// after it is not made, and a request in flight when it runs out is abandoned (the call
    /// fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)). Default 60 s; `None`
    /// (see [`no_deadline`](Self::no_deadline)) leaves only the attempt and transport
    /// timeouts.
    pub max_elapsed: Option<Duration>,
    /// Full jitter (default `true`): each backoff is drawn uniformly between zero and its
    /// ceiling, so clients that failed together do not retry together. `false` waits the
    /// ceiling itself (deterministic, for tests).
    pub jitter: bool,
}

/// The default overall deadline of one call ([`RetryOptions::max_elapsed`]).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            max_elapsed: Some(DEFAULT_DEADLINE),
            jitter: true,
        }
    }
}

impl RetryOptions {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets [`initial_delay`](Self::initial_delay).
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Sets [`max_elapsed`](Self::max_elapsed).
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = Some(d);
        self
    }

    /// Sets [`jitter`](Self::jitter).
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// The random factor of the next backoff: uniform in `[0, 1)` with jitter, 1 without.
    pub(crate) fn jitter_sample(&self) -> f64 {
        if self.jitter { fastrand::f64() } else { 1.0 }
    }

    /// No overall deadline (only the attempt and transport timeouts bound a call).
    pub fn no_deadline(mut self) -> Self {
        self.max_elapsed = None;
        self
    }

    /// The full-jitter backoff before retry number `retry` (1-based), for a `jitter` in `[0, 1]`.
    pub(crate) fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let ceiling = self
            .initial_delay
            .checked_mul(exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        // `mul_f64` panics when the product does not fit (a `max_delay` near `Duration::MAX`).
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * jitter).unwrap_or(ceiling)
    }
}

/// What one attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// The service answered with a status that is not a documented success.
    Status {
        status: StatusCode,
        retry_after: Option<RetryAfter>,
    },
    /// The transport failed with this kind; `true` when the request provably was not sent.
    Transport(TransportErrorKind, bool),
    /// The client's per-attempt timeout passed; the request may have been processed.
    AttemptTimeout,
}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Retrying cannot help (a 4xx, a TLS failure, ...).
    NotRetryable,
    /// Retrying could duplicate a side effect: the request may have been processed.
    NotSafe,
    /// `max_retries` retries were made.
    AttemptsExhausted,
    /// The wait would end after the overall time budget.
    BudgetExhausted,
}

/// The decision after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then send again.
    Retry(Duration),
    /// Give up with the attempt's error.
    Stop(Stop),
}

/// Whether a failure can be retried, given whether repeating the request is safe.
fn retryable(outcome: &Outcome, idempotency: Idempotency) -> Result<(), Stop> {
    let safe = idempotency == Idempotency::Idempotent;
    let guard = |ok: bool| if ok { Ok(()) } else { Err(Stop::NotSafe) };
    match outcome {
        Outcome::Status { status, .. } => match classify_status(*status) {
            // 429: the request was not processed.
            RetryClass::Throttled => Ok(()),
            RetryClass::Transient => guard(safe),
            _ => Err(Stop::NotRetryable),
        },
        Outcome::Transport(kind, not_sent) => match kind {
            // The connection was never established.
            TransportErrorKind::Connect => Ok(()),
            TransportErrorKind::Timeout | TransportErrorKind::ConnectionLost => {
                guard(safe || *not_sent)
            }
            _ => Err(Stop::NotRetryable),
        },
        Outcome::AttemptTimeout => guard(safe),
    }
}

/// The retry decision after attempt number `attempt` (1-based) failed with `outcome`.
///
/// Pure: the time since the call started (`elapsed`), the current time (for `Retry-After`
/// dates) and the jitter factor come in as arguments.
pub(crate) fn decide(
    attempt: u32,
    outcome: &Outcome,
    idempotency: Idempotency,
    options: &RetryOptions,
    now: DateTime,
    elapsed: Duration,
    jitter: f64,
) -> Decision {
    if let Err(stop) = retryable(outcome, idempotency) {
        return Decision::Stop(stop);
    }
    if attempt > options.max_retries {
        return Decision::Stop(Stop::AttemptsExhausted);
    }
    let hint = match outcome {
        Outcome::Status { retry_after, .. } => *retry_after,
        _ => None,
    };
    let delay = match hint {
        Some(hint) => hint.delay(now).min(options.max_delay),
        None => options.backoff(attempt, jitter),
    };
    if let Some(budget) = options.max_elapsed
        && elapsed.saturating_add(delay) >= budget
    {
        return Decision::Stop(Stop::BudgetExhausted);
    }
    Decision::Retry(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Idempotency::{Idempotent, NotIdempotent};

    fn now() -> DateTime {
        DateTime::parse("2026-01-01T00:00:00Z").unwrap()
    }

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            status: StatusCode::from_u16(code).unwrap(),
            retry_after: None,
        }
    }

    fn first(outcome: &Outcome, idem: Idempotency) -> Decision {
        decide(
            1,
            outcome,
            idem,
            &RetryOptions::default(),
            now(),
            Duration::ZERO,
            1.0,
        )
    }

    const FIRST_BACKOFF: Decision = Decision::Retry(Duration::from_millis(800));

    #[test]
    fn backoff_never_panics_on_extreme_settings() {
        let huge = RetryOptions::default()
            .initial_delay(Duration::MAX)
            .max_delay(Duration::MAX);
        for retry in [0, 1, 2, 31, 32, 64, u32::MAX] {
            for jitter in [0.0, 0.5, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                let d = huge.backoff(retry, jitter);
                assert!(d <= Duration::MAX);
            }
        }
        assert_eq!(huge.backoff(1, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn the_default_deadline_is_a_minute_and_can_be_lifted() {
        assert_eq!(RetryOptions::default().max_elapsed, Some(DEFAULT_DEADLINE));
        assert_eq!(DEFAULT_DEADLINE, Duration::from_secs(60));
        assert_eq!(RetryOptions::default().no_deadline().max_elapsed, None);
    }

    #[test]
    fn status_matrix() {
        for code in [408, 500, 502, 503, 504] {
            assert_eq!(first(&status(code), Idempotent), FIRST_BACKOFF, "{code}");
            assert_eq!(
                first(&status(code), NotIdempotent),
                Decision::Stop(Stop::NotSafe),
                "{code}"
            );
        }
        for idem in [Idempotent, NotIdempotent] {
            assert_eq!(first(&status(429), idem), FIRST_BACKOFF);
            for code in [400, 401, 403, 404, 409, 412, 413, 501, 505] {
                assert_eq!(
                    first(&status(code), idem),
                    Decision::Stop(Stop::NotRetryable),
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn transport_matrix() {
        use TransportErrorKind as K;
        let e = |k| acs_chat_transport::TransportError::new(k, "x");
        // (kind, marked not sent, retried when idempotent, retried when not idempotent)
        let cases = [
            (K::Connect, false, true, true),
            (K::Timeout, false, true, false),
            (K::Timeout, true, true, true),
            (K::ConnectionLost, false, true, false),
            (K::ConnectionLost, true, true, true),
            (K::Tls, true, false, false),
            (K::BodyTooLarge, false, false, false),
            (K::InvalidResponse, false, false, false),
            (K::InsecureScheme, false, false, false),
            (K::InvalidRequest, false, false, false),
            (K::Config, false, false, false),
            (K::Other, false, false, false),
        ];
        for (kind, not_sent, idem_retry, post_retry) in cases {
            let mut err = e(kind);
            if not_sent {
                err = err.mark_request_not_sent();
            }
            let outcome = Outcome::Transport(err.kind(), err.request_not_sent());
            assert_eq!(
                first(&outcome, Idempotent) == FIRST_BACKOFF,
                idem_retry,
                "{kind:?} idempotent"
            );
            assert_eq!(
                first(&outcome, NotIdempotent) == FIRST_BACKOFF,
                post_retry,
                "{kind:?} not idempotent"
            );
        }
        assert_eq!(first(&Outcome::AttemptTimeout, Idempotent), FIRST_BACKOFF);
        assert_eq!(
            first(&Outcome::AttemptTimeout, NotIdempotent),
            Decision::Stop(Stop::NotSafe)
        );
    }

    #[test]
    fn exponential_backoff_with_full_jitter_and_cap() {
        let o = RetryOptions::default().max_retries(20).no_deadline();
        let d = |attempt, jitter| {
            decide(
                attempt,
                &status(503),
                Idempotent,
                &o,
                now(),
                Duration::ZERO,
                jitter,
            )
        };
        assert_eq!(d(1, 1.0), Decision::Retry(Duration::from_millis(800)));
        assert_eq!(d(2, 1.0), Decision::Retry(Duration::from_millis(1600)));
        assert_eq!(d(3, 1.0), Decision::Retry(Duration::from_millis(3200)));
        assert_eq!(d(3, 0.5), Decision::Retry(Duration::from_millis(1600)));
        assert_eq!(d(3, 0.0), Decision::Retry(Duration::ZERO));
        assert_eq!(d(8, 1.0), Decision::Retry(Duration::from_secs(60)));
        assert_eq!(d(20, 1.0), Decision::Retry(Duration::from_secs(60)));
        assert_eq!(o.backoff(40, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn attempts_are_limited() {
        let o = RetryOptions::default();
        let d = |attempt| {
            decide(
                attempt,
                &status(503),
                Idempotent,
                &o,
                now(),
                Duration::ZERO,
                1.0,
            )
        };
        assert!(matches!(d(3), Decision::Retry(_)));
        assert_eq!(d(4), Decision::Stop(Stop::AttemptsExhausted));
        let none = RetryOptions::none();
        assert_eq!(
            decide(
                1,
                &status(503),
                Idempotent,
                &none,
                now(),
                Duration::ZERO,
                1.0
            ),
            Decision::Stop(Stop::AttemptsExhausted)
        );
    }

    #[test]
    fn retry_after_in_all_forms_is_honoured_and_capped() {
        let o = RetryOptions::default().max_delay(Duration::from_secs(30));
        let with = |hint| Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(hint),
        };
        let d = |out: &Outcome| decide(1, out, NotIdempotent, &o, now(), Duration::ZERO, 0.0);
        // seconds, milliseconds (either header): the hint replaces the backoff
        assert_eq!(
            d(&with(RetryAfter::Delay(Duration::from_secs(7)))),
            Decision::Retry(Duration::from_secs(7))
        );
        assert_eq!(
            d(&with(RetryAfter::Delay(Duration::from_millis(250)))),
            Decision::Retry(Duration::from_millis(250))
        );
        // an HTTP date, relative to now
        let at = now().checked_add(Duration::from_secs(12)).unwrap();
        assert_eq!(
            d(&with(RetryAfter::At(at))),
            Decision::Retry(Duration::from_secs(12))
        );
        // a date in the past: retry at once
        let past = now().checked_sub(Duration::from_secs(12)).unwrap();
        assert_eq!(
            d(&with(RetryAfter::At(past))),
            Decision::Retry(Duration::ZERO)
        );
        // capped by max_delay
        assert_eq!(
            d(&with(RetryAfter::Delay(Duration::from_secs(3600)))),
            Decision::Retry(Duration::from_secs(30))
        );
    }

    #[test]
    fn budget_stops_a_retry_that_would_end_after_it() {
        let o = RetryOptions::default().max_elapsed(Duration::from_secs(10));
        let d = |elapsed| decide(1, &status(503), Idempotent, &o, now(), elapsed, 1.0);
        assert_eq!(
            d(Duration::from_secs(9)),
            Decision::Retry(Duration::from_millis(800))
        );
        assert_eq!(
            d(Duration::from_millis(9_200)),
            Decision::Stop(Stop::BudgetExhausted)
        );
        // a hint past the budget stops at once
        let long = Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(RetryAfter::Delay(Duration::from_secs(20))),
        };
        assert_eq!(
            decide(1, &long, Idempotent, &o, now(), Duration::ZERO, 1.0),
            Decision::Stop(Stop::BudgetExhausted)
        );
        // not retryable wins over the budget
        assert_eq!(
            decide(
                1,
                &status(404),
                Idempotent,
                &o,
                now(),
                Duration::from_secs(60),
                1.0
            ),
            Decision::Stop(Stop::NotRetryable)
        );
    }
}
