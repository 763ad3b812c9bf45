//! IdentityClient: signed requests, identity api-version, non-idempotent POSTs.

use acs_chat_protocol::identity::{
    AccessKey, compute_signature, content_hash, http_date, string_to_sign,
};

use super::*;

const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw=="; // "secret-key-bytes"

fn identity_client(mock: &Arc<Mock>, clock: &ManualClock) -> IdentityClient {
    IdentityClientBuilder::new(&format!("endpoint={ENDPOINT}/;accesskey={KEY}"))
        .runtime(clock.clone())
        .retry(retry())
        .transport(mock.transport())
        .build()
        .unwrap()
}

#[tokio::test]
async fn requests_are_signed_at_the_clock_time_with_the_identity_api_version() {
    let mock = Mock::new();
    let clock = clock();
    mock.reply(
        201,
        r#"{"identity":{"id":"8:acs:r_u1"},"accessToken":{"token":"tok","expiresOn":"2026-03-02T12:00:00Z"}}"#,
    );
    let c = identity_client(&mock, &clock);
    let created = c
        .create_user_and_token(
            &[TokenScope::Chat, TokenScope::Voip],
            Some(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(created.user.id, "8:acs:r_u1");
    assert_eq!(created.token.secret(), "tok");
    assert!(!format!("{created:?}").contains("tok\""));

    let req = &mock.requests()[0];
    assert_eq!(req.method(), "POST");
    assert_eq!(
        req.uri().to_string(),
        format!("{ENDPOINT}/identities?api-version=2023-10-01")
    );
    assert_eq!(
        body_json(req),
        json!({"createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60})
    );
    assert!(
        header(req, "authorization")
            .unwrap()
            .starts_with("HMAC-SHA256 ")
    );
    assert!(req.headers()["authorization"].is_sensitive());
    assert!(header(req, "x-ms-client-request-id").is_some());
    // the signature verifies with the key at the clock's time
    let key = AccessKey::from_base64(KEY).unwrap();
    let to_sign = string_to_sign(
        req.method().as_str(),
        req.uri().path_and_query().unwrap().as_str(),
        &http_date(clock.now()),
        req.uri().authority().unwrap().as_str(),
        &content_hash(req.body()),
    );
    assert_eq!(
        header(req, "x-ms-date"),
        Some(http_date(clock.now()).as_str())
    );
    assert_eq!(
        header(req, "authorization"),
        Some(
            format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={}",
                compute_signature(&key, &to_sign)
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn every_identity_method() {
    let mock = Mock::new();
    let c = identity_client(&mock, &clock());
    mock.reply(201, r#"{"identity":{"id":"8:acs:r_u2"}}"#);
    assert_eq!(c.create_user().await.unwrap().id, "8:acs:r_u2");
    mock.reply(200, r#"{"token":"t2","expiresOn":"2026-03-02T12:00:00Z"}"#);
    let t = c
        .get_token("8:acs:r_u2", &[TokenScope::ChatJoin], None)
        .await
        .unwrap();
    assert_eq!(t.secret(), "t2");
    mock.reply(204, "");
    c.revoke_tokens("8:acs:r_u2").await.unwrap();
    mock.reply(204, "");
    c.delete_user("8:acs:r_u2").await.unwrap();
    let reqs = mock.requests();
    let got: Vec<_> = reqs
        .iter()
        .map(|r| (r.method().to_string(), r.uri().path().to_owned()))
        .collect();
    assert_eq!(
        got,
        [
            ("POST".into(), "/identities".into()),
            (
                "POST".into(),
                "/identities/8%3Aacs%3Ar_u2/:issueAccessToken".into()
            ),
            (
                "POST".into(),
                "/identities/8%3Aacs%3Ar_u2/:revokeAccessTokens".into()
            ),
            ("DELETE".into(), "/identities/8%3Aacs%3Ar_u2".into()),
        ]
    );
    assert_eq!(body_json(&reqs[1]), json!({"scopes": ["chat.join"]}));
}

#[tokio::test]
async fn creating_a_user_is_not_retried_after_a_503_but_revoke_and_delete_are() {
    let mock = Mock::new();
    mock.always(|| Ok(response(503, "", &[])));
    let c = identity_client(&mock, &clock());
    // A 503 may come after the user was made: not retried.
    c.create_user().await.unwrap_err();
    assert_eq!(mock.count(), 1);
    // Revoking twice revokes once (the spec's operation says so): retried like the DELETE.
    c.revoke_tokens("8:acs:r_u").await.unwrap_err();
    assert_eq!(mock.count(), 5);
    c.delete_user("8:acs:r_u").await.unwrap_err();
    assert_eq!(mock.count(), 9);
    // 429 and connect failures are retried for POSTs too
    let mock = Mock::new();
    mock.reply(429, "")
        .push(Err(TransportError::new(
            TransportErrorKind::Connect,
            "refused",
        )))
        .reply(201, r#"{"identity":{"id":"8:acs:r_u3"}}"#);
    let c = identity_client(&mock, &clock());
    c.create_user().await.unwrap();
    assert_eq!(mock.count(), 3);
}

#[test]
fn malformed_connection_strings_are_credential_errors_without_the_key() {
    let mock = Mock::new();
    for bad in [
        "endpoint=https://x.communication.azure.com/;accesskey=***not base64***",
        "accesskey=c2VjcmV0",
        "",
    ] {
        let e = IdentityClientBuilder::new(bad)
            .transport(mock.transport())
            .build()
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Credential | ErrorKind::InvalidArgument),
            "{bad}: {e:?}"
        );
        assert!(!e.to_string().contains("not base64***"), "{e}");
    }
}
