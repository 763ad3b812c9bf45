use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::FutureExt as _;

use super::*;
use crate::ErrorKind;
use crate::testing::ManualClock;

/// Runs a credential on a manual clock, as a client built with it would.
trait On {
    fn on(self, clock: ManualClock) -> Self;
}

impl On for CommunicationTokenCredential {
    fn on(self, clock: ManualClock) -> Self {
        let runtime: Arc<dyn Runtime> = Arc::new(clock);
        self.bind_runtime(&runtime, false).unwrap();
        self
    }
}

pub(crate) fn t0() -> DateTime {
    DateTime::parse("2026-03-01T12:00:00Z").unwrap()
}

/// An unsigned JWT that expires at `exp`, with a marker to tell tokens apart.
pub(crate) fn jwt(exp: DateTime, marker: &str) -> String {
    let payload = format!(r#"{{"exp":{},"m":"{marker}"}}"#, exp.unix_timestamp());
    format!(
        "eyJhbGciOiJub25lIn0.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(payload)
    )
}

fn at(clock: &ManualClock, secs: u64) -> DateTime {
    clock.now().checked_add(Duration::from_secs(secs)).unwrap()
}

/// A refresher that hands out tokens valid `life` from the clock's now, counting its calls.
fn counting_refresher(
    clock: ManualClock,
    life: Duration,
    calls: Arc<AtomicUsize>,
) -> impl TokenRefresher + 'static {
    move || {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let token = jwt(clock.now().checked_add(life).unwrap(), &format!("r{n}"));
        async move { Ok::<_, std::io::Error>(token) }
    }
}

#[test]
fn malformed_tokens_are_rejected_at_creation_without_echoing_them() {
    for bad in ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30.c2ln"] {
        let e = CommunicationTokenCredential::new(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential);
        assert!(!e.to_string().contains(bad), "{e}");
        let e = CommunicationTokenCredential::builder(|| async {
            Ok::<_, std::io::Error>(String::new())
        })
        .initial_token(bad)
        .build()
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Credential);
    }
}

#[tokio::test]
async fn static_token_is_used_until_it_expires() {
    let token = jwt(t0(), "static");
    // A static credential reads its client's clock: a manual one here.
    let clock = ManualClock::new(t0().checked_sub(Duration::from_secs(60)).unwrap());
    let c = CommunicationTokenCredential::new(token.clone())
        .unwrap()
        .on(clock.clone());
    // one minute left: still handed out (there is nothing to refresh with)
    assert_eq!(c.get_token().await.unwrap().secret(), token);
    clock.advance(Duration::from_secs(60));
    let e = c.get_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert!(e.to_string().contains("expired"));
}

#[tokio::test]
async fn refreshes_on_demand_only_inside_the_two_minute_window() {
    let clock = ManualClock::new(t0());
    let calls = Arc::new(AtomicUsize::new(0));
    let initial = jwt(at(&clock, 3 * 60), "initial");
    let c = CommunicationTokenCredential::builder(counting_refresher(
        clock.clone(),
        Duration::from_secs(3600),
        calls.clone(),
    ))
    .initial_token(initial.clone())
    .build()
    .unwrap()
    .on(clock.clone());

    assert_eq!(c.get_token().await.unwrap().secret(), initial);
    clock.advance(Duration::from_secs(60)); // exactly 2 minutes left: still fine
    assert_eq!(c.get_token().await.unwrap().secret(), initial);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    clock.advance(Duration::from_secs(1)); // 1:59 left: refresh
    let fresh = c.get_token().await.unwrap();
    assert_ne!(fresh.secret(), initial);
    assert_eq!(fresh.expires_on(), at(&clock, 3600));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // and the fresh token is kept
    assert_eq!(c.get_token().await.unwrap().secret(), fresh.secret());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_an_initial_token_the_first_call_refreshes() {
    let clock = ManualClock::new(t0());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = CommunicationTokenCredential::builder(counting_refresher(
        clock.clone(),
        Duration::from_secs(3600),
        calls.clone(),
    ))
    .build()
    .unwrap()
    .on(clock.clone());
    c.get_token().await.unwrap();
    c.get_token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_calls_share_one_refresh() {
    let clock = ManualClock::new(t0());
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = oneshot::channel::<()>();
    let gate = gate.shared();
    let refresher = {
        let calls = calls.clone();
        let clock = clock.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            let gate = gate.clone();
            let token = jwt(at(&clock, 3600), "shared");
            async move {
                let _ = gate.await;
                Ok::<_, std::io::Error>(token)
            }
        }
    };
    let c = CommunicationTokenCredential::builder(refresher)
        .initial_token(jwt(at(&clock, 60), "expiring"))
        .build()
        .unwrap()
        .on(clock.clone());
    let mut all = futures::future::join_all((0..100).map(|_| {
        let c = c.clone();
        async move { c.get_token().await }
    }));
    // Everyone is waiting on the one refresh...
    assert!((&mut all).now_or_never().is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // ...which, once it returns, serves them all.
    release.send(()).unwrap();
    let tokens = all.await;
    assert_eq!(tokens.len(), 100);
    let first = tokens[0].as_ref().unwrap().secret().to_owned();
    assert!(tokens.iter().all(|t| t.as_ref().unwrap().secret() == first));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refresher_returning_an_expired_token_is_an_error_not_a_loop() {
    let clock = ManualClock::new(t0());
    let calls = Arc::new(AtomicUsize::new(0));
    let stale = jwt(t0().checked_sub(Duration::from_secs(1)).unwrap(), "stale");
    let refresher = {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            let stale = stale.clone();
            async move { Ok::<_, std::io::Error>(stale) }
        }
    };
    let c = CommunicationTokenCredential::builder(refresher)
        .build()
        .unwrap()
        .on(clock.clone());
    let e = c.get_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert!(e.to_string().contains("already expired"), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // the next call tries again, once
    c.get_token().await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refresher_failures_are_credential_errors_with_a_source() {
    let clock = ManualClock::new(t0());
    let c = CommunicationTokenCredential::builder(|| async {
        Err::<String, _>(std::io::Error::other("backend down"))
    })
    .build()
    .unwrap()
    .on(clock);
    let e = c.get_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert_eq!(
        std::error::Error::source(&e).unwrap().to_string(),
        "backend down"
    );
    // a malformed refreshed token, too
    let c = CommunicationTokenCredential::builder(|| async {
        Ok::<_, std::io::Error>("garbage".to_owned())
    })
    .build()
    .unwrap();
    let e = c.get_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert!(!format!("{e:?}").contains("garbage"));
}

#[test]
fn the_token_never_shows_in_debug() {
    let token = jwt(t0(), "secret-marker");
    let c = CommunicationTokenCredential::new(token.clone()).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains(&token), "{debug}");
    assert!(!debug.contains("eyJ"), "{debug}");
    let b =
        CommunicationTokenCredential::builder(|| async { Ok::<_, std::io::Error>(String::new()) })
            .initial_token(token.clone());
    assert!(!format!("{b:?}").contains("eyJ"));
}

#[test]
fn proactive_schedule_rule() {
    let now = t0();
    let exp = |mins: u64| now.checked_add(Duration::from_secs(mins * 60)).unwrap();
    // outside the window: wait until the token enters it
    assert_eq!(
        next_proactive_refresh(now, exp(60)),
        Duration::from_secs(50 * 60)
    );
    assert_eq!(
        next_proactive_refresh(now, exp(11)),
        Duration::from_secs(60)
    );
    // inside it: half the remaining life
    assert_eq!(
        next_proactive_refresh(now, exp(10)),
        Duration::from_secs(5 * 60)
    );
    assert_eq!(
        next_proactive_refresh(now, exp(8)),
        Duration::from_secs(4 * 60)
    );
    // expired: now
    assert_eq!(next_proactive_refresh(exp(8), now), Duration::ZERO);
}

#[test]
fn proactive_refresh_runs_ten_minutes_before_expiry_then_at_half_life() {
    let clock = ManualClock::new(t0());
    clock.set_auto_advance(false);
    let calls = Arc::new(AtomicUsize::new(0));
    // every refreshed token lives 8 minutes: already inside the 10-minute window
    let c = CommunicationTokenCredential::builder(counting_refresher(
        clock.clone(),
        Duration::from_secs(8 * 60),
        calls.clone(),
    ))
    .initial_token(jwt(at(&clock, 30 * 60), "initial"))
    .refresh_proactively(true)
    .build()
    .unwrap()
    .on(clock.clone());

    clock.run_tasks();
    assert_eq!(clock.sleeps(), [Duration::from_secs(20 * 60)]);
    clock.advance(Duration::from_secs(20 * 60 - 1));
    clock.run_tasks();
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    clock.advance(Duration::from_secs(1));
    clock.run_tasks();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let token = c.inner.lock().token.clone().unwrap();
    assert_eq!(token.expires_on(), at(&clock, 8 * 60));
    // the fresh token is inside the window: next refresh at half its life
    assert_eq!(clock.sleeps()[1], Duration::from_secs(4 * 60));
    clock.advance(Duration::from_secs(4 * 60));
    clock.run_tasks();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // dropping the credential ends the task
    assert_eq!(clock.pending_tasks(), 1);
    drop(c);
    clock.run_tasks();
    assert_eq!(clock.pending_tasks(), 0);
}

#[cfg(feature = "tokio")]
#[test]
fn proactive_refresh_needs_a_runtime_that_can_spawn() {
    // Tokio's runtime outside of any tokio runtime cannot spawn: binding (building a client)
    // fails, instead of silently never refreshing.
    let c =
        CommunicationTokenCredential::builder(|| async { Ok::<_, std::io::Error>(String::new()) })
            .refresh_proactively(true)
            .build()
            .unwrap();
    let runtime: Arc<dyn Runtime> = Arc::new(crate::TokioRuntime);
    let e = c.bind_runtime(&runtime, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    let e = crate::ChatClient::builder("https://contoso.communication.azure.com", c)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
}

#[test]
fn a_credential_stays_on_its_first_clients_runtime() {
    let first = ManualClock::new(t0());
    let second = ManualClock::new(t0().checked_add(Duration::from_secs(3600)).unwrap());
    let c = CommunicationTokenCredential::new(jwt(at(&first, 1800), "t"))
        .unwrap()
        .on(first.clone());
    let runtime: Arc<dyn Runtime> = Arc::new(second);
    c.bind_runtime(&runtime, false).unwrap();
    // Still the first clock: at the second's time the token would have expired.
    assert!(c.cached_token().is_some());
}
