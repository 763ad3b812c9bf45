//! The Identity API over TLS (HMAC-signed), fault injection, server modes and the binary.

mod support;

use std::time::{Duration, SystemTime};

use acs_chat_emulator::identity::AccessKey;
use acs_chat_emulator::{DEV_ACCESS_KEY, Emulator, tls};
use acs_chat_protocol::identity::{
    CommunicationIdentityTokenScope, CreateUser, CreateUserOptions, DeleteUser,
    IDENTITY_API_VERSION, IssueAccessToken, IssueAccessTokenOptions, RevokeAccessTokens,
    sign_request,
};
use acs_chat_protocol::operations::ListChatThreads;
use acs_chat_protocol::{AccessToken, DateTime, Operation, RequestContext};
use acs_chat_transport::HyperTransport;
use bytes::Bytes;
use http::{Request, Response};
use serde_json::Value;
use support::{Harness, status};

fn now() -> DateTime {
    DateTime::from_system_time(SystemTime::now()).unwrap()
}

fn signed(
    h: &Harness,
    method: &str,
    target: &str,
    body: &str,
    key: &AccessKey,
    at: DateTime,
) -> Request<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(h.url(target))
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    sign_request(&mut request, key, at).unwrap();
    request
}

/// Runs an Identity operation, signed with `key`.
async fn identity<O: Operation>(
    h: &Harness,
    op: &O,
    key: &AccessKey,
) -> Result<O::Output, acs_chat_protocol::Error> {
    let ctx = RequestContext::new(h.ctx.endpoint().clone(), IDENTITY_API_VERSION);
    let mut request = op.build_request(&ctx).unwrap();
    sign_request(&mut request, key, now()).unwrap();
    op.parse_response(h.send(request).await.unwrap())
}

fn json(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn identity_over_tls() {
    let h = Harness::start().await;
    let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
    assert_eq!(h.emulator.access_key(), DEV_ACCESS_KEY);
    assert_eq!(
        h.emulator.connection_string(),
        format!(
            "endpoint={};accesskey={DEV_ACCESS_KEY}",
            h.emulator.endpoint()
        )
    );

    let created = identity(
        &h,
        &CreateUser::new(
            CreateUserOptions::default()
                .create_token_with_scopes([CommunicationIdentityTokenScope::Chat])
                .expires_in_minutes(60),
        ),
        &key,
    )
    .await
    .unwrap();
    let user = created.identity.id.clone();
    assert!(user.starts_with("8:acs:"));
    let token = created.access_token.unwrap();
    let parsed = AccessToken::from_jwt(token.token.clone()).unwrap();
    assert_eq!(parsed.expires_on(), token.expires_on);
    h.call(&ListChatThreads::new(Default::default()), &token.token)
        .await
        .unwrap();

    // The wire form of expiresOn, like the real service.
    let create = "/identities?api-version=2023-10-01";
    let body = r#"{"createTokenWithScopes": ["chat"], "expiresInMinutes": 60}"#;
    let r = h
        .send(signed(&h, "POST", create, body, &key, now()))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let expires_on = json(&r)["accessToken"]["expiresOn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(expires_on.ends_with(".0000000+00:00"), "{expires_on}");

    // Issue another token, then revoke them all.
    let second = identity(
        &h,
        &IssueAccessToken::new(
            &user,
            vec![CommunicationIdentityTokenScope::Chat],
            IssueAccessTokenOptions::default().expires_in_minutes(1440),
        ),
        &key,
    )
    .await
    .unwrap();
    h.call(&ListChatThreads::new(Default::default()), &second.token)
        .await
        .unwrap();
    identity(&h, &RevokeAccessTokens::new(&user), &key)
        .await
        .unwrap();
    for t in [&token.token, &second.token] {
        let e = h
            .call(&ListChatThreads::new(Default::default()), t)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 401);
    }
    identity(&h, &DeleteUser::new(&user), &key).await.unwrap();
    let e = identity(
        &h,
        &IssueAccessToken::new(
            &user,
            vec![CommunicationIdentityTokenScope::Chat],
            Default::default(),
        ),
        &key,
    )
    .await
    .unwrap_err();
    assert_eq!(status(&e), 404);
    // Without a token, and with an out-of-range lifetime.
    let plain = identity(&h, &CreateUser::new(Default::default()), &key)
        .await
        .unwrap();
    assert!(plain.access_token.is_none());
    let e = identity(
        &h,
        &CreateUser::new(
            CreateUserOptions::default()
                .create_token_with_scopes([CommunicationIdentityTokenScope::Chat])
                .expires_in_minutes(59),
        ),
        &key,
    )
    .await
    .unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(
        e.service()
            .and_then(|s| s.error())
            .and_then(|e| e.target.as_deref()),
        Some("ExpiresInMinutes")
    );
}

#[tokio::test]
async fn identity_rejects_bad_signatures() {
    let h = Harness::start().await;
    let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
    let wrong = AccessKey::from_base64("d3Jvbmcga2V5").unwrap();
    let create = "/identities?api-version=2023-10-01";
    let r = h
        .send(signed(&h, "POST", create, "{}", &wrong, now()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(&r)["error"]["code"], "Unauthorized");
    let stale = now().checked_sub(Duration::from_secs(20 * 60)).unwrap();
    assert_eq!(
        h.send(signed(&h, "POST", create, "{}", &key, stale))
            .await
            .unwrap()
            .status(),
        401
    );
    let mut tampered = signed(&h, "POST", create, "{}", &key, now());
    *tampered.body_mut() = Bytes::from_static(b"{\"createTokenWithScopes\":[\"chat\"]}");
    assert_eq!(h.send(tampered).await.unwrap().status(), 401);
    let unsigned = Request::builder()
        .method("POST")
        .uri(h.url(create))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(h.send(unsigned).await.unwrap().status(), 401);
    // The correctly signed request works.
    assert_eq!(
        h.send(signed(&h, "POST", create, "{}", &key, now()))
            .await
            .unwrap()
            .status(),
        201
    );
}

#[tokio::test]
async fn injected_faults() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let faults = h.emulator.faults();
    faults.fail_next(1, 503);
    faults.fail_next_with_retry_after(1, 429, 2);
    let r = h
        .raw(&ListChatThreads::new(Default::default()), &token)
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(json(&r)["error"]["code"], "ServiceUnavailable");
    let r = h
        .raw(&ListChatThreads::new(Default::default()), &token)
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(faults.pending(), 0);
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();

    faults.drop_next(1);
    let request = h.request(&ListChatThreads::new(Default::default()), &token);
    assert!(h.send(request).await.is_err(), "the connection is dropped");
    faults.delay_next(1, Duration::from_millis(50));
    let started = std::time::Instant::now();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
    faults.fail_next(3, 500);
    faults.clear();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn http1_and_http2_clients() {
    let emulator = Emulator::builder().start().await.unwrap();
    let pem = emulator.ca_certificate_pem().unwrap();
    let (_, token) = emulator.create_user_and_token().unwrap();
    let transport = |builder: acs_chat_transport::HyperTransportBuilder| {
        builder
            .add_root_certificate_pem(pem.as_bytes())
            .unwrap()
            .build()
            .unwrap()
    };
    let h = Harness::over(emulator, transport(HyperTransport::builder().http1_only()));
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    let h = Harness::over(
        h.emulator,
        transport(HyperTransport::builder().http2_only()),
    );
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn plain_http_mode() {
    let h = Harness::with(Emulator::builder().http(true)).await;
    assert!(h.emulator.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(h.emulator.ca_certificate_pem(), None);
    let (_, token) = h.user();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_given_certificate_is_served() {
    let generated = tls::generate().unwrap();
    let emulator = Emulator::builder()
        .tls_pem(generated.chain_pem.clone(), generated.key_pem.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(emulator.ca_certificate_pem(), None);
    let transport = HyperTransport::builder()
        .add_root_certificate_pem(generated.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let h = Harness::over(emulator, transport);
    let (_, token) = h.user();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    // Bad PEM is a start error, not a panic.
    let e = Emulator::builder()
        .tls_pem("nope", "nope")
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("TLS"), "{e}");
    let e = Emulator::builder()
        .access_key("not base64!")
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("access-key"), "{e}");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails() {
    let emulator = Emulator::builder().start().await.unwrap();
    let other = tls::generate().unwrap();
    let transport = HyperTransport::builder()
        .add_root_certificate_pem(other.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let h = Harness::over(emulator, transport);
    let (_, token) = h.user();
    let request = h.request(&ListChatThreads::new(Default::default()), &token);
    assert!(h.send(request).await.is_err());
}

#[tokio::test]
async fn shutdown_stops_the_listener() {
    let emulator = Emulator::builder().http(true).start().await.unwrap();
    let addr = emulator.local_addr();
    tokio::net::TcpStream::connect(addr).await.unwrap();
    emulator.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_prints_its_endpoint_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let ca_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("emulator-ca-{}.pem", std::process::id()));
    let data_home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_acs-chat-emulator"))
        .args(["--port", "0", "--ca-out"])
        .arg(&ca_path)
        .env("XDG_DATA_HOME", data_home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("CA certificate:");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let value = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().split(' ').next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no `{prefix}` in {lines:?}"))
    };
    let endpoint = value("endpoint:");
    assert!(
        endpoint.starts_with("https://127.0.0.1:") && endpoint.ends_with('/'),
        "{endpoint}"
    );
    assert_eq!(
        value("connection string:"),
        format!("endpoint={endpoint};accesskey={DEV_ACCESS_KEY}")
    );
    let pem = std::fs::read(&ca_path).unwrap();
    // The CA is kept in the user's data directory; --ca-out is a copy.
    let kept = data_home.path().join("acs-chat-emulator").join("ca.pem");
    assert_eq!(std::fs::read(kept).unwrap(), pem);
    let transport = HyperTransport::builder()
        .add_root_certificate_pem(&pem)
        .unwrap()
        .build()
        .unwrap();
    let request = Request::get(format!("{endpoint}chat/threads?api-version=2025-03-15"))
        .body(Bytes::new())
        .unwrap();
    let response = acs_chat_transport::Transport::send(&transport, request)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_file(ca_path);
}

#[tokio::test]
async fn an_injected_panic_is_a_500_and_the_emulator_goes_on() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    let thread = acs_chat_protocol::operations::CreateChatThread::new(
        "before the panic",
        Default::default(),
    );
    h.call(&thread, &token).await.unwrap();
    h.emulator.faults().panic_next(1);
    let r = h
        .raw(&ListChatThreads::new(Default::default()), &token)
        .await;
    assert_eq!(r.status(), 500);
    let page = h
        .call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].topic, "before the panic");
}
