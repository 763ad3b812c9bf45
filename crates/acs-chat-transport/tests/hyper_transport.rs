//! The default transport against servers on 127.0.0.1 spun up by each test.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use acs_chat_transport::{HyperTransport, Transport, TransportError, TransportErrorKind};
use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use support::{H1_ONLY, H2_AND_H1, Pki, Server};

/// A transport trusting the test CA.
fn trusting(pki: &Pki) -> acs_chat_transport::HyperTransportBuilder {
    HyperTransport::builder()
        .add_root_certificate_pem(pki.ca_pem.as_bytes())
        .unwrap()
}

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

/// Awaits `fut`, failing the test instead of hanging if it takes more than `bound`.
async fn within<T>(bound: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(bound, fut)
        .await
        .expect("the transport did not return within the bound")
}

async fn send_ok(transport: &impl Transport, uri: &str) -> Response<Bytes> {
    let response = within(Duration::from_secs(20), transport.send(get(uri)))
        .await
        .unwrap_or_else(|e| panic!("request to {uri} failed: {e:?}"));
    assert_eq!(response.status(), StatusCode::OK);
    response
}

async fn send_err(transport: &impl Transport, uri: &str) -> TransportError {
    send_err_within(Duration::from_secs(20), transport, uri).await
}

/// A GET that must fail within `bound` (timeout tests set it just above their timeout).
async fn send_err_within(bound: Duration, transport: &impl Transport, uri: &str) -> TransportError {
    match within(bound, transport.send(get(uri))).await {
        Ok(response) => panic!("expected an error, got {response:?}"),
        Err(e) => e,
    }
}

fn served_version(response: &Response<Bytes>) -> &str {
    response.headers()["x-served-version"].to_str().unwrap()
}

// ---- protocol negotiation --------------------------------------------------------------

#[tokio::test]
async fn negotiates_http2_when_the_server_offers_it() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).build().unwrap();

    let response = send_ok(&transport, &server.https("/hello")).await;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(served_version(&response), "HTTP/2.0");
    assert_eq!(response.body(), "/hello");
}

#[tokio::test]
async fn falls_back_to_http1_when_the_server_offers_only_http1() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).build().unwrap();

    let response = send_ok(&transport, &server.https("/hello")).await;
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(served_version(&response), "HTTP/1.1");
    assert_eq!(response.body(), "/hello");
}

#[tokio::test]
async fn http1_only_does_not_offer_h2() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).http1_only().build().unwrap();

    let response = send_ok(&transport, &server.https("/")).await;
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(served_version(&response), "HTTP/1.1");
}

#[tokio::test]
async fn the_request_version_does_not_force_a_protocol() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).build().unwrap();

    let mut request = get(&server.https("/"));
    *request.version_mut() = Version::HTTP_2;
    let response = within(Duration::from_secs(20), transport.send(request))
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
}

// ---- connection reuse ------------------------------------------------------------------

/// 100 sequential requests over HTTP/1.1 to one origin.
async fn sequential_http1_requests(pki: &Pki, server: &Server) {
    let transport = trusting(pki).build().unwrap();
    for i in 0..100 {
        let response = send_ok(&transport, &server.https(&format!("/{i}"))).await;
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(response.body(), format!("/{i}").as_str());
    }
    assert_eq!(server.requests(), 100);
}

#[tokio::test]
async fn sequential_http1_requests_reuse_one_connection() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    sequential_http1_requests(&pki, &server).await;
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_http1_requests_reuse_connections_on_a_multi_thread_runtime() {
    // hyper-util hands an HTTP/1 connection back to the pool from a separate task once the
    // body is read. On a multi-thread runtime the next request can start before that task
    // ran; the pool then races its checkout against a new connect, and the loser's
    // connection joins the pool. So a few connections, never one per request.
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    sequential_http1_requests(&pki, &server).await;
    assert!(server.accepted() <= 10, "{} connections", server.accepted());
}

/// `n` requests in flight at the same time (the server answers none before all `n`
/// arrived), all over HTTP/2.
async fn concurrent_requests(transport: &HyperTransport, server: &Server, n: usize) {
    concurrent_requests_over(transport, server, n, Version::HTTP_2).await;
}

/// `n` requests in flight at the same time, all answered over `version`.
async fn concurrent_requests_over(
    transport: &HyperTransport,
    server: &Server,
    n: usize,
    version: Version,
) {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let transport = transport.clone();
        let path = format!("/together/{n}/{i}");
        let uri = server.https(&path);
        tasks.spawn(async move {
            let response = send_ok(&transport, &uri).await;
            assert_eq!(response.version(), version);
            assert_eq!(response.body(), path.as_str());
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_http2_requests_share_one_connection() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).build().unwrap();

    send_ok(&transport, &server.https("/warm-up")).await;
    concurrent_requests(&transport, &server, 50).await;
    assert_eq!(server.requests(), 51);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn http2_only_shares_one_connection_from_the_first_burst() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).http2_only().build().unwrap();

    concurrent_requests(&transport, &server, 50).await;
    assert_eq!(server.requests(), 50);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn no_idle_connections_means_no_reuse() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).pool_max_idle_per_host(0).build().unwrap();

    for _ in 0..3 {
        send_ok(&transport, &server.https("/")).await;
    }
    assert_eq!(server.accepted(), 3);
}

#[tokio::test]
async fn clones_share_the_pool() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).build().unwrap();
    let shared = Arc::new(transport.clone());

    send_ok(&transport, &server.https("/a")).await;
    send_ok(&transport.clone(), &server.https("/b")).await;
    send_ok(&shared, &server.https("/c")).await;
    assert_eq!(server.accepted(), 1);
}

// ---- HTTP/2 lanes -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiated_http2_shares_one_connection_from_the_first_burst() {
    // The first request connects; the others of the burst wait for it and share its
    // connection once ALPN chose h2.
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).build().unwrap();

    concurrent_requests(&transport, &server, 50).await;
    assert_eq!(server.requests(), 50);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_an_http1_origin_is_served_by_the_pool() {
    // The first request's connection found out the origin speaks HTTP/1.1 and was handed to
    // the pool, which sends the first request on it; the others go to the pool at once. All
    // eight are held at the server together, so they need eight connections: not nine.
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).build().unwrap();

    concurrent_requests_over(&transport, &server, 8, Version::HTTP_11).await;
    assert_eq!(server.requests(), 8);
    assert_eq!(server.accepted(), 8);
}

#[tokio::test]
async fn an_http2_connection_the_server_closes_is_replaced() {
    let pki = Pki::new();
    let server = support::https_server_closing_after_each_request(&pki).await;
    let transport = trusting(&pki).build().unwrap();

    for i in 0..5 {
        let response = send_ok(&transport, &server.https(&format!("/{i}"))).await;
        assert_eq!(response.version(), Version::HTTP_2);
        // The next request meets a connection the server has closed.
        server.wait_closed(i + 1).await;
    }
    assert_eq!(server.requests(), 5);
    assert_eq!(server.accepted(), 5);
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki)
        .pool_idle_timeout(Duration::from_millis(50))
        .build()
        .unwrap();

    send_ok(&transport, &server.https("/a")).await;
    server.wait_closed(1).await;
    let response = send_ok(&transport, &server.https("/b")).await;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_zero_idle_timeout_closes_each_http2_connection_once_unused() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki)
        .pool_idle_timeout(Duration::ZERO)
        .build()
        .unwrap();

    for i in 0..3 {
        send_ok(&transport, &server.https(&format!("/{i}"))).await;
        server.wait_closed(i + 1).await;
    }
    assert_eq!(server.accepted(), 3);
}

#[tokio::test]
async fn an_open_request_keeps_its_http2_connection_past_the_idle_timeout() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let idle = Duration::from_millis(50);
    let transport = trusting(&pki).pool_idle_timeout(idle).build().unwrap();

    // A is answered only once B arrives too.
    let a = tokio::spawn({
        let transport = transport.clone();
        let uri = server.https("/together/2/a");
        async move { transport.send(get(&uri)).await }
    });
    server.wait_requests(1).await;
    // A clock: another transport's connection, closed four idle timeouts after its request.
    // By then the first connection's idle timer has looked at it several times, with A open
    // and no request started since.
    let clock = trusting(&pki).pool_idle_timeout(idle * 4).build().unwrap();
    send_ok(&clock, &server.https("/clock")).await;
    server.wait_closed(1).await;

    send_ok(&transport, &server.https("/together/2/b")).await;
    let a = within(Duration::from_secs(20), a).await.unwrap();
    assert_eq!(a.expect("A was answered").body(), "/together/2/a");
    // A and B shared the first connection; the clock had its own.
    assert_eq!(server.accepted(), 2);
}

// ---- trust -----------------------------------------------------------------------------

#[tokio::test]
async fn an_untrusted_ca_is_rejected_and_trusting_it_makes_the_call_pass() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;

    let default = HyperTransport::new().unwrap();
    let err = send_err(&default, &server.https("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::Tls, "{err:?}");
    assert!(err.is_tls());
    // The message says what is wrong and what to do, once (the source is not repeated).
    let message = err.to_string();
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    assert!(message.contains("add_root_certificate_pem"), "{message}");
    assert!(err.request_not_sent());
    assert_eq!(server.requests(), 0);
    // The rustls error is reachable through source().
    let mut source = std::error::Error::source(&err);
    let mut found = false;
    while let Some(e) = source {
        found |= format!("{e:?}").contains("UnknownIssuer");
        source = e.source();
    }
    assert!(
        found,
        "the rustls error should be in the source chain: {err:?}"
    );

    // A different CA does not help either.
    let other = Pki::new();
    let err = send_err(&trusting(&other).build().unwrap(), &server.https("/")).await;
    assert!(err.is_tls(), "{err:?}");

    let trusting_transport = trusting(&pki).build().unwrap();
    send_ok(&trusting_transport, &server.https("/")).await;
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_self_signed_emulator_certificate_can_be_trusted() {
    let pki = Pki::self_signed();
    let server = support::https_server(&pki, H2_AND_H1).await;

    let err = send_err(&HyperTransport::new().unwrap(), &server.https("/")).await;
    assert!(err.is_tls(), "{err:?}");

    send_ok(&trusting(&pki).build().unwrap(), &server.https("/")).await;
}

#[tokio::test]
async fn a_ca_certificate_used_as_the_servers_own_is_explained() {
    // What `openssl req -x509` makes: curl and Python accept it as a trusted self-signed
    // certificate; rustls refuses it even when trusted, so the message must say why.
    let pki = Pki::ca_as_end_entity();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let err = send_err(&trusting(&pki).build().unwrap(), &server.https("/")).await;
    assert!(err.is_tls(), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("CaUsedAsEndEntity"), "{message}");
    assert!(message.contains("openssl req -x509"), "{message}");
    assert!(message.contains("issued by a CA"), "{message}");
}

#[tokio::test]
async fn the_certificate_must_match_the_host() {
    // Same server, reached by a name that is not in its certificate.
    let pki = Pki::issued_for(&["127.0.0.1"]);
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).build().unwrap();

    send_ok(&transport, &server.https("/")).await;
    let by_name = format!("https://localhost:{}/", server.addr.port());
    let err = send_err(&transport, &by_name).await;
    assert!(err.is_tls(), "{err:?}");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
    assert!(
        err.to_string().contains("not valid for that host name"),
        "{err}"
    );
    assert_eq!(server.requests(), 1);
}

#[test]
fn bad_pem_is_a_config_error() {
    let err = HyperTransport::builder()
        .add_root_certificate_pem(b"not pem at all")
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Config);
    assert!(err.request_not_sent());

    let truncated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    let err = HyperTransport::builder()
        .add_root_certificate_pem(truncated.as_bytes())
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Config);

    let garbage_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let result = HyperTransport::builder()
        .add_root_certificate_pem(garbage_der.as_bytes())
        .and_then(|b| b.build());
    assert_eq!(result.unwrap_err().kind(), TransportErrorKind::Config);
}

// ---- schemes ---------------------------------------------------------------------------

#[tokio::test]
async fn plain_http_is_refused_by_default_and_works_when_allowed() {
    let server = support::http_server().await;

    let err = send_err(&HyperTransport::new().unwrap(), &server.http("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::InsecureScheme);
    assert!(err.request_not_sent());
    assert!(err.to_string().contains("allow_http"), "{err}");
    assert_eq!(server.accepted(), 0);

    let allowed = HyperTransport::builder().allow_http(true).build().unwrap();
    let response = send_ok(&allowed, &server.http("/plain")).await;
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.body(), "/plain");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn relative_and_foreign_uris_are_invalid_requests() {
    let transport = HyperTransport::new().unwrap();
    for uri in ["/relative/path", "ftp://127.0.0.1/file"] {
        let err = send_err(&transport, uri).await;
        assert_eq!(err.kind(), TransportErrorKind::InvalidRequest, "{uri}");
        assert!(err.request_not_sent());
    }
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let server = support::http_server().await;
    let err = send_err(&HyperTransport::new().unwrap(), &server.https("/")).await;
    assert!(err.is_tls(), "{err:?}");
    assert!(err.request_not_sent());
    assert!(err.to_string().contains("did not answer in TLS"), "{err}");
}

#[tokio::test]
async fn plain_http_to_an_https_server_says_it_may_speak_https() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let allowed = HyperTransport::builder().allow_http(true).build().unwrap();
    let err = send_err(&allowed, &server.http("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::InvalidResponse, "{err:?}");
    assert!(err.to_string().contains("it may speak HTTPS"), "{err}");
}

// ---- HTTP/2 streams the server refused ----------------------------------------------------

/// The error of one GET to a prior-knowledge HTTP/2 server answering `answer`.
async fn h2c_error(answer: support::H2Answer) -> TransportError {
    let server = support::h2c_server_answering(answer).await;
    let transport = HyperTransport::builder()
        .allow_http(true)
        .http2_only()
        .build()
        .unwrap();
    send_err(&transport, &server.http("/refused")).await
}

#[tokio::test]
async fn a_stream_the_server_refused_is_marked_not_sent() {
    // RST_STREAM with REFUSED_STREAM (0x7): "prior to any processing" (RFC 9113 §8.7).
    let err = h2c_error(support::H2Answer::Reset(0x7)).await;
    assert_eq!(err.kind(), TransportErrorKind::ConnectionLost, "{err:?}");
    assert!(err.request_not_sent(), "{err:?}");
    assert!(err.to_string().contains("before processing it"), "{err}");
}

#[tokio::test]
async fn a_stream_above_the_servers_goaway_is_marked_not_sent() {
    let err = h2c_error(support::H2Answer::GoAway { processed: false }).await;
    assert_eq!(err.kind(), TransportErrorKind::ConnectionLost, "{err:?}");
    assert!(err.request_not_sent(), "{err:?}");
}

#[tokio::test]
async fn a_stream_the_server_may_have_processed_is_not_marked_not_sent() {
    // Reset with INTERNAL_ERROR (0x2), or covered by the GOAWAY's last stream id and then
    // cut off: the server may have acted on the request.
    for answer in [
        support::H2Answer::Reset(0x2),
        support::H2Answer::GoAway { processed: true },
    ] {
        let err = h2c_error(answer).await;
        assert_eq!(
            err.kind(),
            TransportErrorKind::ConnectionLost,
            "{answer:?}: {err:?}"
        );
        assert!(!err.request_not_sent(), "{answer:?}: {err:?}");
    }
}

/// Polls `fut` once (and drops what it would return: it is not ready yet in these tests).
async fn poll_once<F: Future>(mut fut: std::pin::Pin<&mut F>) {
    std::future::poll_fn(|cx| {
        assert!(
            fut.as_mut().poll(cx).is_pending(),
            "ready on its first poll"
        );
        std::task::Poll::Ready(())
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_a_closing_connection_gave_back_unsent_goes_again_on_a_new_one() {
    use support::{H2_HEADERS, H2_SETTINGS, h2_accept, h2_goaway, h2_ok, h2_read_frame};
    use tokio::sync::{Notify, oneshot};

    // The first connection allows one stream at a time (SETTINGS_MAX_CONCURRENT_STREAMS = 1).
    // A opens it; B then waits in h2 for a stream, and C in hyper's queue behind B. The server
    // goes away (its last stream A) and answers A: the connection ends with C never sent, and
    // hyper gives C back; the transport sends it again on a new connection, whose server
    // answers everything.
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (ready, first_ready) = oneshot::channel::<()>();
    let ready = Arc::new(std::sync::Mutex::new(Some(ready)));
    let go = Arc::new(Notify::new());
    let server = {
        let (connections, go) = (Arc::clone(&connections), Arc::clone(&go));
        support::raw_tcp_server(move |mut tcp| {
            let first = connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            let (ready, go) = (ready.lock().unwrap().take(), Arc::clone(&go));
            async move {
                let settings: &[(u16, u32)] = if first { &[(0x3, 1)] } else { &[] };
                if !h2_accept(&mut tcp, settings).await {
                    return;
                }
                let (mut opened, mut acked) = (None, false);
                while let Some((kind, flags, stream)) = h2_read_frame(&mut tcp).await {
                    let reply = match kind {
                        H2_SETTINGS if flags & 0x1 == 0 => support::h2_settings_ack(),
                        // The client applied the server's settings.
                        H2_SETTINGS => {
                            acked = true;
                            Vec::new()
                        }
                        H2_HEADERS if first => {
                            opened = Some(stream);
                            Vec::new()
                        }
                        H2_HEADERS => h2_ok(stream),
                        _ => Vec::new(),
                    };
                    if tcp.write_all(&reply).await.is_err() {
                        return;
                    }
                    if opened.is_some() && acked {
                        break;
                    }
                }
                let (Some(a), Some(ready)) = (opened, ready) else {
                    return;
                };
                let _ = ready.send(());
                go.notified().await;
                let mut frames = h2_goaway(a);
                frames.extend_from_slice(&h2_ok(a));
                if tcp.write_all(&frames).await.is_ok() {
                    support::hold_open(tcp).await;
                }
            }
        })
        .await
    };
    let transport = HyperTransport::builder()
        .allow_http(true)
        .http2_only()
        .build()
        .unwrap();
    let uri = server.http("/");
    let a = tokio::spawn({
        let (transport, uri) = (transport.clone(), uri.clone());
        async move { transport.send(get(&uri)).await }
    });
    within(Duration::from_secs(20), first_ready)
        .await
        .expect("the server saw A");
    let mut b = std::pin::pin!(transport.send(get(&uri)));
    let mut c = std::pin::pin!(transport.send(get(&uri)));
    // A request is handed to the connection on its first poll.
    poll_once(b.as_mut()).await;
    poll_once(c.as_mut()).await;
    go.notify_one();

    let bound = Duration::from_secs(20);
    let a = within(bound, a).await.unwrap().expect("A was answered");
    assert_eq!(a.status(), StatusCode::OK);
    let c = within(bound, c).await.expect("C went again");
    assert_eq!(c.status(), StatusCode::OK);
    // B either waited in the queue with C (and went again too), or had its stream, above the
    // GOAWAY's last one: refused unprocessed.
    if let Err(e) = within(bound, b).await {
        assert!(e.request_not_sent(), "{e:?}");
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "C went on a second connection"
    );
}

// ---- connect failures and timeouts ------------------------------------------------------

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let addr = support::closed_port().await;
    let err = send_err(&HyperTransport::new().unwrap(), &format!("https://{addr}/")).await;
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err:?}");
    assert!(err.is_connect());
    assert!(err.request_not_sent());
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn a_stalled_tls_handshake_trips_the_connect_timeout() {
    // Accepts TCP, never answers the ClientHello.
    let server = support::raw_tcp_server(support::hold_open).await;
    let connect_timeout = Duration::from_millis(200);
    let transport = HyperTransport::builder()
        .connect_timeout(connect_timeout)
        .request_timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let err = send_err_within(connect_timeout * 10, &transport, &server.https("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err:?}");
    assert!(
        err.request_not_sent(),
        "a connect timeout is before the request"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_trips_the_request_timeout() {
    let pki = Pki::new();
    let server = support::raw_tls_server(&pki, support::hold_open).await;
    let request_timeout = Duration::from_millis(300);
    let transport = trusting(&pki)
        .request_timeout(request_timeout)
        .build()
        .unwrap();
    // The bound it declares is the one that ends the exchange (also through an `Arc`).
    assert_eq!(transport.timeout(), Some(request_timeout));
    assert_eq!(Arc::new(transport.clone()).timeout(), Some(request_timeout));

    let err = send_err_within(request_timeout * 10, &transport, &server.https("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err:?}");
    assert!(err.is_timeout());
    assert!(!err.request_not_sent(), "the request was sent");
}

#[tokio::test]
async fn a_body_that_never_finishes_trips_the_request_timeout() {
    let pki = Pki::new();
    let server = support::raw_tls_server(&pki, |mut tls| async move {
        support::read_request_head(&mut tls).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst bytes";
        if tls.write_all(head).await.is_ok() && tls.flush().await.is_ok() {
            support::hold_open(tls).await;
        }
    })
    .await;
    let request_timeout = Duration::from_millis(300);
    let transport = trusting(&pki)
        .request_timeout(request_timeout)
        .build()
        .unwrap();

    let err = send_err_within(request_timeout * 10, &transport, &server.https("/")).await;
    assert!(err.is_timeout(), "{err:?}");
}

// ---- broken responses --------------------------------------------------------------------

/// The error of a GET to a TLS server that answers `response` and closes the connection
/// (after a TLS close_notify if `close_notify`).
async fn error_after_response(response: &'static [u8], close_notify: bool) -> TransportError {
    let pki = Pki::new();
    let server = support::raw_tls_server(&pki, move |mut tls| async move {
        support::read_request_head(&mut tls).await;
        let _ = tls.write_all(response).await;
        let _ = tls.flush().await;
        if close_notify {
            let _ = tls.shutdown().await;
        }
        // Dropping the stream closes the TCP connection.
    })
    .await;
    send_err(&trusting(&pki).build().unwrap(), &server.https("/")).await
}

#[tokio::test]
async fn closing_mid_body_is_connection_lost_not_a_truncated_success() {
    for close_notify in [true, false] {
        let err = error_after_response(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part of it",
            close_notify,
        )
        .await;
        assert_eq!(err.kind(), TransportErrorKind::ConnectionLost, "{err:?}");
        assert!(err.is_connection_lost());
        assert!(!err.request_not_sent());
        assert!(std::error::Error::source(&err).is_some());
    }
}

#[tokio::test]
async fn a_response_aborted_mid_body_is_connection_lost_over_http1_and_http2() {
    for (alpn, version) in [(H1_ONLY, "HTTP/1.1"), (H2_AND_H1, "HTTP/2")] {
        let pki = Pki::new();
        let server = support::https_server(&pki, alpn).await;
        let err = send_err(&trusting(&pki).build().unwrap(), &server.https("/abort")).await;
        assert_eq!(
            err.kind(),
            TransportErrorKind::ConnectionLost,
            "{version}: {err:?}"
        );
        assert!(!err.request_not_sent(), "{version}");
        assert_eq!(server.requests(), 1, "{version}");
    }
}

#[tokio::test]
async fn closing_mid_chunked_body_is_connection_lost() {
    let err = error_after_response(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
        true,
    )
    .await;
    assert_eq!(err.kind(), TransportErrorKind::ConnectionLost, "{err:?}");
}

#[tokio::test]
async fn closing_before_the_response_is_connection_lost() {
    let err = error_after_response(b"", true).await;
    assert_eq!(err.kind(), TransportErrorKind::ConnectionLost, "{err:?}");
    assert!(!err.request_not_sent());
}

#[tokio::test]
async fn garbage_is_an_invalid_response() {
    let err = error_after_response(b"HELLO THERE\r\n\r\n", true).await;
    assert_eq!(err.kind(), TransportErrorKind::InvalidResponse, "{err:?}");
}

#[tokio::test]
async fn bad_chunk_framing_is_an_invalid_response() {
    let err = error_after_response(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        true,
    )
    .await;
    assert_eq!(err.kind(), TransportErrorKind::InvalidResponse, "{err:?}");
}

// ---- body limit ----------------------------------------------------------------------------

#[tokio::test]
async fn a_body_at_the_limit_passes_and_one_byte_more_is_too_large() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki)
        .max_response_body_size(16 * 1024)
        .build()
        .unwrap();

    let response = send_ok(&transport, &server.https("/size/16384")).await;
    assert_eq!(response.body().len(), 16 * 1024);

    let err = send_err(&transport, &server.https("/size/16385")).await;
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge, "{err:?}");
    assert!(err.is_body_too_large());
    assert!(err.to_string().contains("16384"), "{err}");
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_too_large() {
    // Chunked, no content-length: the limit has to be enforced while reading. The server
    // offers far more than the limit; the client must stop without reading it all.
    let pki = Pki::new();
    let server = support::raw_tls_server(&pki, |mut tls| async move {
        support::read_request_head(&mut tls).await;
        if tls
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        let chunk = format!("1000\r\n{}\r\n", "y".repeat(0x1000));
        for _ in 0..1024 {
            // 4 MiB in total, unless the client hangs up first.
            if tls.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = tls.write_all(b"0\r\n\r\n").await;
        let _ = tls.flush().await;
    })
    .await;
    let transport = trusting(&pki)
        .max_response_body_size(64 * 1024)
        .build()
        .unwrap();

    let err = send_err(&transport, &server.https("/")).await;
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge, "{err:?}");
}

#[tokio::test]
async fn head_responses_with_a_large_content_length_are_fine() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H1_ONLY).await;
    let transport = trusting(&pki).max_response_body_size(10).build().unwrap();
    let request = Request::head(server.https("/size/100"))
        .body(Bytes::new())
        .unwrap();
    let response = within(Duration::from_secs(20), transport.send(request))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().is_empty());
}

// ---- the seam --------------------------------------------------------------------------

#[tokio::test]
async fn hyper_transport_works_behind_generic_code_and_closures() {
    let pki = Pki::new();
    let server = support::https_server(&pki, H2_AND_H1).await;
    let transport = trusting(&pki).build().unwrap();

    // A closure wrapping the transport (for example to add a header) is a transport too.
    let with_header = |mut request: Request<Bytes>| {
        request
            .headers_mut()
            .insert("x-test", http::HeaderValue::from_static("1"));
        transport.send(request)
    };
    send_ok(&with_header, &server.https("/")).await;
    send_ok(&Arc::new(transport.clone()), &server.https("/")).await;
}

#[test]
fn debug_output_has_no_secrets() {
    let pki = Pki::new();
    let builder = trusting(&pki);
    let debug = format!("{builder:?}");
    // The builder holds the roots as DER (never the PEM text), which rustls-pki-types
    // prints in hex; a certificate is a DER SEQUENCE, so it would start with 0x30.
    assert!(!debug.contains("0x30"), "{debug}");
    assert!(debug.contains("added_root_certificates: 1"), "{debug}");
}
