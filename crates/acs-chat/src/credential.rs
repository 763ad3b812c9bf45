//! [`CommunicationTokenCredential`]: a user access token, refreshed on demand or proactively.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use acs_chat_protocol::{AccessToken, DateTime};
use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::{BoxFuture, Either, Shared};

use crate::Error;
use crate::runtime::{Runtime, system_now, system_unix_nanos, unix_nanos};

/// A token with less life than this left is refreshed before it is used.
pub const ON_DEMAND_REFRESH_WINDOW: Duration = Duration::from_secs(2 * 60);

/// With proactive refresh, a token is refreshed this long before it expires.
pub const PROACTIVE_REFRESH_WINDOW: Duration = Duration::from_secs(10 * 60);

/// After a failed proactive refresh, the next one waits at least this long.
const PROACTIVE_RETRY_FLOOR: Duration = Duration::from_secs(30);

/// The shortest wait between two proactive refreshes.
const PROACTIVE_FLOOR: Duration = Duration::from_secs(1);

type BoxError = Box<dyn StdError + Send + Sync>;

/// Fetches a fresh user access token (a JWT), typically from the application's own backend.
///
/// Implemented for every closure `Fn() -> impl Future<Output = Result<String, E>>` where `E`
/// converts into `Box<dyn Error + Send + Sync>`.
pub trait TokenRefresher: Send + Sync {
    /// Returns a new token.
    fn refresh(&self) -> BoxFuture<'static, Result<String, BoxError>>;
}

impl<F, Fut, E> TokenRefresher for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn refresh(&self) -> BoxFuture<'static, Result<String, BoxError>> {
        let fut = self();
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// Why a refresh failed; cloneable so every waiter of a shared refresh gets it.
#[derive(Clone)]
struct RefreshFailure {
    message: &'static str,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl RefreshFailure {
    fn into_error(self) -> Error {
        match self.source {
            Some(source) => Error::credential_with_source(self.message, Box::new(source)),
            None => Error::credential(self.message),
        }
    }
}

type RefreshFuture = Shared<BoxFuture<'static, Result<AccessToken, RefreshFailure>>>;

/// A user access token for the Chat API, with its expiry read from the JWT's `exp` claim.
///
/// - [`CommunicationTokenCredential::new`]: a static token; once it has expired, calls fail
///   with [`ErrorKind::Credential`](crate::ErrorKind::Credential).
/// - [`CommunicationTokenCredential::builder`]: a [`TokenRefresher`] that is called when the
///   token has less than [`ON_DEMAND_REFRESH_WINDOW`] (2 minutes) of life left, and, with
///   [`refresh_proactively`](CredentialBuilder::refresh_proactively), in the background
///   [`PROACTIVE_REFRESH_WINDOW`] (10 minutes) before it expires — or, when a fresh token is
///   already inside that window, at half of its remaining life.
///
/// At most one refresh is in flight: concurrent callers share it. A refresher that returns a
/// malformed or already-expired token is an error for the callers waiting on it (the refresher
/// is not called again in a loop). The token never appears in `Debug`, logs or errors.
///
/// The credential runs on the [`Runtime`] of the first client built with it: its clock tells
/// token expiry, and the proactive refresh runs there, from the moment that client is built.
/// Until then it reads the system clock.
///
/// Cheap to clone; clones share the token. Dropping the last clone stops the proactive refresh.
#[derive(Clone)]
pub struct CommunicationTokenCredential {
    inner: Arc<Inner>,
}

struct Inner {
    refresher: Option<Box<dyn TokenRefresher>>,
    proactive: bool,
    state: Mutex<State>,
    // Dropped with `Inner`: wakes the proactive task so it ends.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

#[derive(Default)]
struct State {
    /// The runtime of the first client built with the credential.
    runtime: Option<Arc<dyn Runtime>>,
    /// Whether `runtime` has a clock of its own (not the system clock, which the default
    /// runtime reads and which is read until a runtime is bound).
    runtime_clock: bool,
    token: Option<AccessToken>,
    /// While the clock reads at most this (nanoseconds since the Unix epoch), `token` can be
    /// used without a refresh: what [`CommunicationTokenCredential::usable`] checks on every call,
    /// as one clock read and one comparison.
    usable_until: i128,
    in_flight: Option<(u64, RefreshFuture)>,
    next_refresh_id: u64,
}

impl fmt::Debug for CommunicationTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("CommunicationTokenCredential")
            .field("token", &state.token) // AccessToken's Debug shows only the expiry
            .field("refreshable", &self.inner.refresher.is_some())
            .field("refreshing", &state.in_flight.is_some())
            .finish()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn now(&self) -> DateTime {
        self.runtime.as_ref().map_or_else(system_now, |r| r.now())
    }

    /// [`State::now`] as nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> i128 {
        self.runtime
            .as_deref()
            .map_or_else(system_unix_nanos, |runtime| {
                unix_nanos(runtime, !self.runtime_clock)
            })
    }

    /// Keeps `token`, and until when it is usable: while it has at least
    /// [`ON_DEMAND_REFRESH_WINDOW`] of life left, or, for a static token (no refresher), until
    /// it expires.
    fn set_token(&mut self, token: AccessToken, refreshable: bool) {
        let expires = token.expires_on().unix_timestamp_nanos();
        self.usable_until = if refreshable {
            expires - ON_DEMAND_REFRESH_WINDOW.as_nanos() as i128
        } else {
            expires - 1
        };
        self.token = Some(token);
    }
}

impl CommunicationTokenCredential {
    /// A static token. Fails with [`ErrorKind::Credential`](crate::ErrorKind::Credential) when the
    /// token is not a JWT with a numeric `exp` claim (the message never contains the token).
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        let token = parse_token(token.into(), "the access token")?;
        Ok(Self::from_parts(None, Some(token), false))
    }

    fn from_parts(
        refresher: Option<Box<dyn TokenRefresher>>,
        token: Option<AccessToken>,
        proactive: bool,
    ) -> Self {
        let mut state = State::default();
        if let Some(token) = token {
            state.set_token(token, refresher.is_some());
        }
        Self {
            inner: Arc::new(Inner {
                refresher,
                proactive,
                state: Mutex::new(state),
                stop: Mutex::new(None),
            }),
        }
    }

    /// Runs the credential on `runtime` unless it already runs on another one (a credential
    /// shared by several clients stays on the first one's), and starts the proactive refresh
    /// there when it was asked for. `system_clock`: the runtime's clock is the system clock (the
    /// default runtime), which is then read directly.
    pub(crate) fn bind_runtime(
        &self,
        runtime: &Arc<dyn Runtime>,
        system_clock: bool,
    ) -> Result<(), Error> {
        let mut state = self.inner.lock();
        if state.runtime.is_some() {
            return Ok(());
        }
        if self.inner.proactive {
            let (stop_tx, stop_rx) = oneshot::channel();
            let task = proactive_loop(Arc::downgrade(&self.inner), Arc::clone(runtime), stop_rx);
            if !runtime.spawn(Box::pin(task)) {
                return Err(Error::credential(
                    "proactive token refresh needs an async runtime to run on (none is running)",
                ));
            }
            *self.inner.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop_tx);
        }
        state.runtime = Some(Arc::clone(runtime));
        state.runtime_clock = !system_clock;
        Ok(())
    }

    /// A credential that gets its tokens from `refresher`.
    pub fn builder(refresher: impl TokenRefresher + 'static) -> CredentialBuilder {
        CredentialBuilder {
            refresher: Box::new(refresher),
            initial_token: None,
            proactive: false,
        }
    }

    /// A token with at least [`ON_DEMAND_REFRESH_WINDOW`] of life left, refreshing first when
    /// needed (for a static token: the token while it has not expired).
    pub async fn get_token(&self) -> Result<AccessToken, Error> {
        let refresh = {
            let mut state = self.inner.lock();
            if let Some(token) = self.usable(&state) {
                return Ok(token);
            }
            if self.inner.refresher.is_none() {
                return Err(Error::credential(
                    "the access token has expired and the credential has no refresher",
                ));
            }
            self.start_or_join(&mut state)
        };
        refresh.await.map_err(RefreshFailure::into_error)
    }

    /// The token, when it can be used without a refresh: the fast path of [`get_token`], which
    /// never waits (`None`: call [`get_token`]).
    ///
    /// [`get_token`]: Self::get_token
    pub(crate) fn cached_token(&self) -> Option<AccessToken> {
        self.usable(&self.inner.lock())
    }

    /// The token in `state`, when it has at least [`ON_DEMAND_REFRESH_WINDOW`] of life left (for
    /// a static token: when it has not expired).
    fn usable(&self, state: &State) -> Option<AccessToken> {
        let token = state.token.as_ref()?;
        (state.now_nanos() <= state.usable_until).then(|| token.clone())
    }

    /// The refresh in flight, or a new one. The refresher is called when the new refresh is
    /// first polled, outside the state lock, so a refresher may use the credential freely.
    fn start_or_join(&self, state: &mut State) -> RefreshFuture {
        if let Some((_, fut)) = &state.in_flight {
            return fut.clone();
        }
        let id = state.next_refresh_id;
        state.next_refresh_id += 1;
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let fut = async move {
            let call = match weak.upgrade().as_deref().map(|i| &i.refresher) {
                Some(Some(refresher)) => refresher.refresh(),
                _ => {
                    return Err(RefreshFailure {
                        message: "the credential has no refresher",
                        source: None,
                    });
                }
            };
            tracing::debug!("refreshing the access token");
            let result = match call.await {
                Ok(token) => {
                    let now = weak.upgrade().map_or_else(system_now, |i| i.lock().now());
                    validate_refreshed(token, now)
                }
                Err(e) => Err(RefreshFailure {
                    message: "the token refresher failed",
                    source: Some(Arc::from(e)),
                }),
            };
            if let Some(inner) = weak.upgrade() {
                let mut state = inner.lock();
                if state.in_flight.as_ref().is_some_and(|(i, _)| *i == id) {
                    state.in_flight = None;
                }
                if let Ok(token) = &result {
                    let refreshable = inner.refresher.is_some();
                    state.set_token(token.clone(), refreshable);
                }
            }
            result
        }
        .boxed()
        .shared();
        state.in_flight = Some((id, fut.clone()));
        fut
    }

    /// One step of the proactive refresh: the refresh to await, unless the token was renewed
    /// meanwhile.
    fn proactive_refresh(&self) -> Option<RefreshFuture> {
        let mut state = self.inner.lock();
        let now = state.now();
        if let Some(t) = &state.token
            && t.expires_on().saturating_duration_since(now) > PROACTIVE_REFRESH_WINDOW
        {
            return None;
        }
        Some(self.start_or_join(&mut state))
    }

    fn expires_on(&self) -> Option<DateTime> {
        self.inner
            .lock()
            .token
            .as_ref()
            .map(AccessToken::expires_on)
    }
}

/// How long to wait before the next proactive refresh of a token that expires at `expires_on`:
/// until it enters the [`PROACTIVE_REFRESH_WINDOW`], or, when it is already inside, half of its
/// remaining life.
pub(crate) fn next_proactive_refresh(now: DateTime, expires_on: DateTime) -> Duration {
    let left = expires_on.saturating_duration_since(now);
    if left <= PROACTIVE_REFRESH_WINDOW {
        left / 2
    } else {
        left - PROACTIVE_REFRESH_WINDOW
    }
}

fn parse_token(token: String, what: &'static str) -> Result<AccessToken, Error> {
    AccessToken::from_jwt(token).map_err(|e| {
        // The protocol's message names the defect, never the token.
        Error::credential(format!("{what} is malformed: {e}"))
    })
}

fn validate_refreshed(token: String, now: DateTime) -> Result<AccessToken, RefreshFailure> {
    let token = AccessToken::from_jwt(token).map_err(|e| RefreshFailure {
        message: "the token refresher returned a malformed token",
        source: Some(Arc::new(e)),
    })?;
    if token.is_expired(now) {
        return Err(RefreshFailure {
            message: "the token refresher returned a token that has already expired",
            source: None,
        });
    }
    Ok(token)
}

/// Builds a refreshing [`CommunicationTokenCredential`].
pub struct CredentialBuilder {
    refresher: Box<dyn TokenRefresher>,
    initial_token: Option<String>,
    proactive: bool,
}

impl fmt::Debug for CredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialBuilder")
            .field(
                "initial_token",
                &self.initial_token.as_ref().map(|_| "<redacted>"),
            )
            .field("refresh_proactively", &self.proactive)
            .finish()
    }
}

impl CredentialBuilder {
    /// A token to use until it needs a refresh (otherwise the first call refreshes).
    pub fn initial_token(mut self, token: impl Into<String>) -> Self {
        self.initial_token = Some(token.into());
        self
    }

    /// Refresh in the background before the token expires (default `false`). The refresh runs
    /// on the runtime of the first client built with the credential, from then on; building
    /// that client fails when its runtime cannot spawn the task.
    pub fn refresh_proactively(mut self, yes: bool) -> Self {
        self.proactive = yes;
        self
    }

    /// Builds the credential. Fails with [`ErrorKind::Credential`](crate::ErrorKind::Credential)
    /// when the initial token is malformed.
    pub fn build(self) -> Result<CommunicationTokenCredential, Error> {
        let token = self
            .initial_token
            .map(|t| parse_token(t, "the initial access token"))
            .transpose()?;
        Ok(CommunicationTokenCredential::from_parts(
            Some(self.refresher),
            token,
            self.proactive,
        ))
    }
}

async fn proactive_loop(
    weak: Weak<Inner>,
    runtime: Arc<dyn Runtime>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut failed = false;
    loop {
        let delay = {
            let Some(inner) = weak.upgrade() else { return };
            let credential = CommunicationTokenCredential { inner };
            let now = runtime.now();
            let delay = credential
                .expires_on()
                .map_or(Duration::ZERO, |exp| next_proactive_refresh(now, exp));
            let floor = if failed {
                PROACTIVE_RETRY_FLOOR
            } else {
                PROACTIVE_FLOOR
            };
            delay.max(floor)
        };
        tracing::trace!(
            delay_ms = delay.as_millis() as u64,
            "next proactive token refresh"
        );
        match futures::future::select(runtime.sleep(delay), &mut stop).await {
            Either::Left(((), _)) => {}
            Either::Right(_) => return,
        }
        let Some(inner) = weak.upgrade() else { return };
        let credential = CommunicationTokenCredential { inner };
        let refresh = credential.proactive_refresh();
        drop(credential);
        failed = match refresh {
            None => false,
            Some(refresh) => match refresh.await {
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e.into_error(), "proactive token refresh failed");
                    true
                }
            },
        };
    }
}

#[cfg(test)]
pub(crate) mod tests;
