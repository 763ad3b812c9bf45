//! The retry matrix through the client: each status and transport failure × each method class.

use super::methods::every_call;
use super::*;

/// (method name, whether its class retries on a possibly-processed failure)
fn idempotent(name: &str) -> bool {
    // create_chat_thread always carries a repeatability id; GET, PATCH and DELETE are safe.
    !matches!(
        name,
        "send_message"
            | "add_participants"
            | "remove_participant"
            | "send_typing_notification"
            | "send_read_receipt"
    )
}

fn status_fallback(status: u16) -> fn() -> Canned {
    match status {
        408 => || Ok(response(408, "", &[])),
        429 => || Ok(response(429, "", &[])),
        500 => || Ok(response(500, "", &[])),
        502 => || Ok(response(502, "", &[])),
        503 => || Ok(response(503, "", &[])),
        504 => || Ok(response(504, "", &[])),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn status_matrix_for_every_method() {
    for status in [408, 429, 500, 502, 503, 504] {
        let mock = Mock::new();
        mock.always(status_fallback(status));
        let clock = clock();
        let c = client(&mock, &clock);
        for (name, fut) in every_call(&c) {
            let before = mock.count();
            let slept = clock.sleeps().len();
            let e = fut.await.unwrap_err();
            let attempts = mock.count() - before;
            let retried = status == 429 || idempotent(name);
            assert_eq!(attempts, if retried { 4 } else { 1 }, "{name} {status}");
            assert_eq!(e.attempts() as usize, attempts, "{name} {status}");
            assert_eq!(e.status().unwrap().as_u16(), status);
            if retried {
                // full jitter at factor 1: the exponential ceiling
                assert_eq!(
                    clock.sleeps()[slept..],
                    [
                        Duration::from_millis(800),
                        Duration::from_millis(1600),
                        Duration::from_millis(3200)
                    ],
                    "{name} {status}"
                );
            }
        }
    }
}

fn transport_failure(kind: TransportErrorKind, not_sent: bool) -> fn() -> Canned {
    use TransportErrorKind as K;
    match (kind, not_sent) {
        (K::Connect, _) => || Err(TransportError::new(K::Connect, "refused")),
        (K::Timeout, false) => || Err(TransportError::new(K::Timeout, "request timeout")),
        (K::Timeout, true) => {
            || Err(TransportError::new(K::Timeout, "connect timeout").mark_request_not_sent())
        }
        (K::ConnectionLost, _) => || Err(TransportError::new(K::ConnectionLost, "reset")),
        (K::Tls, _) => || Err(TransportError::new(K::Tls, "bad cert").mark_request_not_sent()),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn transport_matrix_for_every_method() {
    use TransportErrorKind as K;
    // (kind, not sent, retried for idempotent, retried for the other POSTs)
    let cases = [
        (K::Connect, false, true, true),
        (K::Timeout, true, true, true),
        (K::Timeout, false, true, false),
        (K::ConnectionLost, false, true, false),
        (K::Tls, true, false, false),
    ];
    for (kind, not_sent, idem_retry, post_retry) in cases {
        let mock = Mock::new();
        mock.always(transport_failure(kind, not_sent));
        let c = client(&mock, &clock());
        for (name, fut) in every_call(&c) {
            let before = mock.count();
            let e = fut.await.unwrap_err();
            let retried = if idempotent(name) {
                idem_retry
            } else {
                post_retry
            };
            assert_eq!(
                mock.count() - before,
                if retried { 4 } else { 1 },
                "{name} {kind:?} not_sent={not_sent}"
            );
            assert_eq!(e.kind(), ErrorKind::Transport);
            assert_eq!(e.transport_error().unwrap().kind(), kind);
        }
    }
}

#[tokio::test]
async fn create_thread_retries_with_the_same_repeatability_and_client_request_ids() {
    let mock = Mock::new();
    mock.reply(503, "")
        .push(Err(TransportError::new(
            TransportErrorKind::ConnectionLost,
            "reset",
        )))
        .reply(
            201,
            &json!({"chatThread": {
                "id": THREAD, "topic": "t", "createdOn": "2026-03-01T12:00:00Z",
                "createdByCommunicationIdentifier": {"rawId": "8:acs:me"}}})
            .to_string(),
        );
    let c = client(&mock, &clock());
    c.create_chat_thread("t", CreateChatThreadOptions::default())
        .await
        .unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    for name in ["repeatability-request-id", "x-ms-client-request-id"] {
        let first = header(&reqs[0], name).unwrap();
        assert!(
            reqs.iter().all(|r| header(r, name) == Some(first)),
            "{name}"
        );
    }
    assert_eq!(reqs[0].body(), reqs[2].body());
}

#[tokio::test]
async fn retry_after_in_all_three_forms_is_honoured() {
    let clock = clock();
    let date = httpdate_at(&clock, 9);
    let mock = Mock::new();
    mock.push(Ok(response(429, "", &[("retry-after", "7")])))
        .push(Ok(response(503, "", &[("retry-after-ms", "250")])))
        .push(Ok(response(503, "", &[("x-ms-retry-after-ms", "1500")])))
        .reply(204, "");
    let c = client(&mock, &clock);
    c.delete_chat_thread(THREAD).await.unwrap();
    assert_eq!(
        clock.sleeps(),
        [
            Duration::from_secs(7),
            Duration::from_millis(250),
            Duration::from_millis(1500)
        ]
    );
    // an HTTP date, relative to the (manual) clock
    let start = clock.now();
    let mock = Mock::new();
    mock.push(Ok(response(429, "", &[("retry-after", date.as_str())])))
        .reply(204, "");
    let c = client(&mock, &clock);
    c.delete_chat_thread(THREAD).await.unwrap();
    let slept = *clock.sleeps().last().unwrap();
    let expected = DateTime::parse(&date_rfc3339(&date))
        .unwrap()
        .saturating_duration_since(start);
    assert_eq!(slept, expected);
}

fn httpdate_at(clock: &ManualClock, secs_from_now: u64) -> String {
    let t = clock
        .now()
        .checked_add(Duration::from_secs(secs_from_now))
        .unwrap();
    acs_chat_protocol::identity::http_date(t)
}

fn date_rfc3339(http_date: &str) -> String {
    // Round-trip through the protocol's own parser of Retry-After.
    let mut headers = http::HeaderMap::new();
    headers.insert("retry-after", http_date.parse().unwrap());
    match acs_chat_protocol::RetryAfter::from_headers(&headers).unwrap() {
        acs_chat_protocol::RetryAfter::At(t) => t.to_rfc3339(),
        other => panic!("not a date: {other:?}"),
    }
}

#[tokio::test]
async fn retry_after_is_capped_by_max_delay() {
    let clock = clock();
    let mock = Mock::new();
    mock.push(Ok(response(429, "", &[("retry-after", "3600")])))
        .reply(204, "");
    let c = client_with(&mock, &clock, |b| {
        b.retry(retry().max_delay(Duration::from_secs(5)))
    });
    c.delete_chat_thread(THREAD).await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
}

#[tokio::test]
async fn the_time_budget_stops_retries() {
    let clock = clock();
    let mock = Mock::new();
    mock.always(|| Ok(response(503, "", &[])));
    // 0.8 + 1.6 = 2.4 s fit in 3 s; the third wait (3.2 s) would not
    let c = client_with(&mock, &clock, |b| {
        b.retry(retry().max_retries(10).max_elapsed(Duration::from_secs(3)))
    });
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(mock.count(), 3);
    assert!(e.is_budget_exhausted());
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.attempts(), 3);
    assert!(e.to_string().contains("time budget exhausted"), "{e}");
}

#[tokio::test]
async fn the_attempt_timeout_applies_to_any_transport() {
    let clock = clock();
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&attempts);
    // a transport that never answers
    let never = move |_r: Request<Bytes>| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        futures::future::pending::<Canned>()
    };
    let c = ChatClientBuilder::new(
        ENDPOINT,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .runtime(clock.clone())
    .retry(retry())
    .attempt_timeout(Duration::from_secs(10))
    .transport(never)
    .build()
    .unwrap();
    let t = c.chat_thread_client(THREAD);
    let e = t.get_message("m1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.is_timeout());
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 4);
    // a POST that timed out may have been processed: not retried
    let e = t
        .send_message("x", SendChatMessageOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 5);
}

#[tokio::test]
async fn the_budget_also_bounds_a_request_in_flight() {
    let clock = clock();
    let never = |_r: Request<Bytes>| futures::future::pending::<Canned>();
    let c = ChatClientBuilder::new(
        ENDPOINT,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .runtime(clock.clone())
    .retry(retry().max_elapsed(Duration::from_secs(30)))
    .transport(never)
    .build()
    .unwrap();
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.is_budget_exhausted());
    assert_eq!(clock.sleeps(), [Duration::from_secs(30)]);
}

#[tokio::test]
async fn by_default_a_hanging_request_and_a_throttling_loop_end_within_a_minute() {
    // A request that never answers: the default deadline abandons it at 60 s.
    let clock = clock();
    let never = |_r: Request<Bytes>| futures::future::pending::<Canned>();
    let c = ChatClientBuilder::new(
        ENDPOINT,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .runtime(clock.clone())
    .transport(never)
    .build()
    .unwrap();
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.is_budget_exhausted());
    assert_eq!(clock.sleeps(), [DEFAULT_DEADLINE]);

    // A service that answers 429 with Retry-After: 50 every time: one wait, then the next
    // would pass the deadline, so the call stops after 50 s instead of waiting 3 × 50 s.
    let mock = Mock::new();
    for _ in 0..4 {
        mock.push(Ok(response(429, "", &[("retry-after", "50")])));
    }
    let clock = super::clock();
    let c = client(&mock, &clock);
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert!(e.is_budget_exhausted());
    assert_eq!(clock.sleeps(), [Duration::from_secs(50)]);
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn an_expired_static_token_fails_before_any_request() {
    let mock = Mock::new();
    let expired = jwt(DateTime::from_unix_timestamp(1_000_000_000).unwrap(), "old");
    let c = ChatClientBuilder::new(
        ENDPOINT,
        CommunicationTokenCredential::new(expired.clone()).unwrap(),
    )
    .transport(mock.transport())
    .build()
    .unwrap();
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    assert!(!e.to_string().contains(&expired));
    assert!(!format!("{e:?}").contains(&expired));
    assert_eq!(mock.count(), 0);
}

#[tokio::test]
async fn a_token_refresh_counts_against_the_budget() {
    let clock = clock();
    let never = |_r: Request<Bytes>| futures::future::pending::<Canned>();
    // No initial token: the first call waits for a refresh that takes 20 s of the 30 s budget,
    // so the request in flight gets the 10 s that are left.
    let refresh_clock = clock.clone();
    let credential = CommunicationTokenCredential::builder(move || {
        refresh_clock.advance(Duration::from_secs(20));
        std::future::ready(Ok::<_, std::io::Error>(token()))
    })
    .build()
    .unwrap();
    let c = ChatClientBuilder::new(ENDPOINT, credential)
        .runtime(clock.clone())
        .retry(retry().max_elapsed(Duration::from_secs(30)))
        .transport(never)
        .build()
        .unwrap();
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert!(e.is_budget_exhausted());
    assert_eq!(clock.sleeps(), [Duration::from_secs(10)]);
    // The token is now cached: the next call does not wait, and gets the whole budget.
    let e = c.delete_chat_thread(THREAD).await.unwrap_err();
    assert!(e.is_budget_exhausted());
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(10), Duration::from_secs(30)]
    );
}

/// A loopback HTTP/1.1 server that accepts connections and never answers (it keeps them open
/// until the test process ends).
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
    });
    endpoint
}

/// A client over the default transport, or over a `HyperTransport` of the caller's (`given`).
fn hyper_transport_client(
    endpoint: &str,
    request_timeout: Duration,
    max_elapsed: Duration,
    given: bool,
) -> ChatThreadClient {
    let builder = ChatClientBuilder::new(
        endpoint,
        CommunicationTokenCredential::new(token()).unwrap(),
    )
    .allow_insecure_http(true)
    .retry(RetryOptions::default().max_elapsed(max_elapsed));
    let builder = if given {
        builder.transport(
            HyperTransport::builder()
                .allow_http(true)
                .request_timeout(request_timeout)
                .build()
                .unwrap(),
        )
    } else {
        builder.request_timeout(request_timeout)
    };
    builder.build().unwrap().chat_thread_client(THREAD)
}

#[tokio::test]
async fn a_request_timeout_equal_to_the_deadline_ends_the_call_as_the_transports_timeout() {
    // With the default transport or a HyperTransport given to the builder, the pipeline sets no
    // timer of its own then (the transport's fires no later). Before, both
    // timers fired in the same tick and the transport's, polled first, won: 197 times in 200,
    // measured; the other 3 its timer was a tick earlier and the deadline's Timeout won.
    let endpoint = silent_server();
    let timeout = Duration::from_millis(100);
    for i in 0..6 {
        let t = hyper_transport_client(&endpoint, timeout, timeout, i % 2 == 1);
        // The transport's bound is known, so the pipeline leaves its own timer out.
        assert_eq!(t.pipeline.transport_timeout, Some(timeout));
        let e = t
            .send_message("x", SendChatMessageOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        assert_eq!(
            e.transport_error().map(TransportError::kind),
            Some(TransportErrorKind::Timeout),
            "{e}"
        );
        assert!(!e.is_budget_exhausted(), "{e}");
    }
}

#[tokio::test]
async fn a_deadline_shorter_than_the_default_transports_timeout_is_kept() {
    let endpoint = silent_server();
    for given in [false, true] {
        let t = hyper_transport_client(
            &endpoint,
            Duration::from_secs(60),
            Duration::from_millis(100),
            given,
        );
        let call = t.send_message("x", SendChatMessageOptions::default());
        let e = tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("the deadline was left out")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.is_budget_exhausted(), "{e}");
    }
}
