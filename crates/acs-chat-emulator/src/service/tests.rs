use acs_chat_protocol::AccessToken;
use acs_chat_protocol::models::{ChatMessage, ChatMessagesCollection};
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::*;
use acs_chat_protocol::encode_path_segment;
use acs_chat_protocol::identity::sign_request;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::identity::DEV_ACCESS_KEY;

const HOST: &str = "127.0.0.1:10500";

fn now() -> DateTime {
    DateTime::from_unix_timestamp(1_750_000_000).unwrap()
}

fn key() -> AccessKey {
    AccessKey::from_base64(DEV_ACCESS_KEY).unwrap()
}

fn service() -> Service {
    Service::new(Store::new("res", 1), key(), true, HOST)
}

fn signed_with(
    method: &str,
    target: &str,
    body: &str,
    key: &AccessKey,
    at: DateTime,
) -> Request<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("https://{HOST}{target}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    sign_request(&mut request, key, at).unwrap();
    request
}

fn signed(method: &str, target: &str, body: &str) -> Request<Bytes> {
    signed_with(method, target, body, &key(), now())
}

fn bearer(method: &str, target: &str, token: &str, body: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(target)
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

/// Creates a thread (`body` is its request) at api-version 2025-03-15; returns its id.
fn create_thread(s: &Service, token: &str, body: &str) -> String {
    create_thread_at(s, token, "2025-03-15", body)
}

/// [`create_thread`] at `api_version`.
fn create_thread_at(s: &Service, token: &str, api_version: &str, request: &str) -> String {
    let target = format!("/chat/threads?api-version={api_version}");
    let r = s.handle(&bearer("POST", &target, token, request), now());
    assert_eq!(r.status(), 201, "{}", body(&r));
    body(&r)["chatThread"]["id"].as_str().unwrap().to_owned()
}

fn body(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn user_and_token(service: &Service) -> (String, String) {
    let user = service.create_user();
    let (token, _) = service
        .issue_token(&user, &["chat"], Duration::from_secs(3600), now())
        .unwrap();
    (user, token)
}

#[test]
fn create_identity_accepts_empty_null_and_missing_fields() {
    let s = service();
    for request in [
        "",
        "{}",
        r#"{"createTokenWithScopes": null, "expiresInMinutes": null}"#,
    ] {
        let r = s.handle(
            &signed("POST", "/identities?api-version=2023-10-01", request),
            now(),
        );
        assert_eq!(r.status(), 201, "{request}: {:?}", r.body());
        let v = body(&r);
        assert!(
            v["identity"]["id"]
                .as_str()
                .unwrap()
                .starts_with("8:acs:res_")
        );
        assert!(v.get("accessToken").is_none());
        assert!(r.headers().get("location").is_some());
    }
}

#[test]
fn create_identity_with_a_token() {
    let s = service();
    let r = s.handle(
        &signed(
            "POST",
            "/identities?api-version=2025-06-30",
            r#"{"createTokenWithScopes": ["chat"], "expiresInMinutes": 60}"#,
        ),
        now(),
    );
    assert_eq!(r.status(), 201);
    let v = body(&r);
    let token = v["accessToken"]["token"].as_str().unwrap();
    let expires = v["accessToken"]["expiresOn"].as_str().unwrap();
    assert_eq!(expires, "2025-06-15T16:06:40.0000000+00:00");
    let parsed = AccessToken::from_jwt(token).unwrap();
    assert_eq!(parsed.expires_on(), DateTime::parse(expires).unwrap());
    assert_eq!(
        parsed.expires_on().unix_timestamp(),
        now().unix_timestamp() + 3600
    );
}

#[test]
fn expires_in_minutes_is_validated() {
    let s = service();
    for minutes in [59, 1441, -1] {
        let request =
            format!(r#"{{"createTokenWithScopes": ["chat"], "expiresInMinutes": {minutes}}}"#);
        let r = s.handle(
            &signed("POST", "/identities?api-version=2023-10-01", &request),
            now(),
        );
        assert_eq!(r.status(), 400);
        let v = body(&r);
        assert_eq!(v["error"]["code"], "ValidationError");
        assert_eq!(v["error"]["target"], "ExpiresInMinutes");
        assert_eq!(
            v["error"]["message"],
            format!(
                "ExpiresInMinutes value {minutes} is invalid. Value must be within the [60, 1440] interval."
            )
        );
    }
}

#[test]
fn issue_revoke_and_delete_with_encoded_or_raw_ids() {
    let s = service();
    let r = s.handle(
        &signed("POST", "/identities?api-version=2023-10-01", ""),
        now(),
    );
    let id = body(&r)["identity"]["id"].as_str().unwrap().to_owned();
    let encoded = encode_path_segment(&id).into_owned();
    assert!(encoded.contains("%3A"));
    for segment in [encoded.as_str(), id.as_str()] {
        let target = format!("/identities/{segment}/:issueAccessToken?api-version=2023-10-01");
        let r = s.handle(
            &signed(
                "POST",
                &target,
                r#"{"scopes": ["chat"], "expiresInMinutes": 1440}"#,
            ),
            now(),
        );
        assert_eq!(r.status(), 200, "{segment}");
        let v = body(&r);
        assert!(AccessToken::from_jwt(v["token"].as_str().unwrap()).is_ok());
    }
    let target = format!("/identities/{encoded}/:issueAccessToken?api-version=2023-10-01");
    for missing in [r#"{"scopes": null, "expiresInMinutes": null}"#, "{}"] {
        let r = s.handle(&signed("POST", &target, missing), now());
        assert_eq!(r.status(), 400);
        assert_eq!(
            body(&r)["error"]["message"],
            "Scopes: The Scopes field is required."
        );
    }
    let revoke = format!("/identities/{encoded}/:revokeAccessTokens?api-version=2023-10-01");
    assert_eq!(s.handle(&signed("POST", &revoke, ""), now()).status(), 204);
    let delete = format!("/identities/{id}?api-version=2023-10-01");
    assert_eq!(
        s.handle(&signed("DELETE", &delete, ""), now()).status(),
        204
    );
    assert_eq!(
        s.handle(&signed("DELETE", &delete, ""), now()).status(),
        404
    );
    assert_eq!(s.handle(&signed("POST", &revoke, ""), now()).status(), 404);
}

#[test]
fn hmac_failures_are_401() {
    let s = service();
    let target = "/identities?api-version=2023-10-01";
    let wrong = AccessKey::from_base64(&STANDARD.encode("not the key")).unwrap();
    let r = s.handle(&signed_with("POST", target, "{}", &wrong, now()), now());
    assert_eq!(r.status(), 401);
    assert_eq!(body(&r)["error"]["code"], "Unauthorized");
    let stale = now().checked_sub(Duration::from_secs(16 * 60)).unwrap();
    assert_eq!(
        s.handle(&signed_with("POST", target, "{}", &key(), stale), now())
            .status(),
        401
    );
    let mut tampered = signed("POST", target, "{}");
    *tampered.body_mut() = Bytes::from_static(br#"{"createTokenWithScopes":["chat"]}"#);
    assert_eq!(s.handle(&tampered, now()).status(), 401);
    let unsigned = Request::builder()
        .method("POST")
        .uri(target)
        .body(Bytes::new())
        .unwrap();
    assert_eq!(s.handle(&unsigned, now()).status(), 401);
    // A signed request with an api-version the Identity service never had.
    let r = s.handle(
        &signed("POST", "/identities?api-version=1999-01-01", ""),
        now(),
    );
    assert_eq!(
        (r.status().as_u16(), body(&r)["error"]["code"].clone()),
        (400, json!("UnsupportedApiVersion"))
    );
}

#[test]
fn chat_auth_failures() {
    let s = service();
    let (user, token) = user_and_token(&s);
    let list = "/chat/threads?api-version=2025-03-15";
    let no_header = Request::builder().uri(list).body(Bytes::new()).unwrap();
    assert_eq!(s.handle(&no_header, now()).status(), 401);
    assert_eq!(
        s.handle(&bearer("GET", list, "not-a-jwt", ""), now())
            .status(),
        401
    );
    // A well-formed token signed with another key (another emulator) is unknown here.
    let other = Service::new(
        Store::new("res", 1),
        AccessKey::from_base64("b3RoZXI=").unwrap(),
        true,
        HOST,
    );
    let (_, foreign) = user_and_token(&other);
    assert_eq!(
        s.handle(&bearer("GET", list, &foreign, ""), now()).status(),
        401
    );
    // Tampering with the payload breaks the signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1].insert(0, 'e');
    assert_eq!(
        s.handle(&bearer("GET", list, &parts.join("."), ""), now())
            .status(),
        401
    );
    assert_eq!(
        s.handle(&bearer("GET", list, &token, ""), now()).status(),
        200
    );
    let (expired, _) = s
        .issue_token(&user, &["chat"], Duration::ZERO, now())
        .unwrap();
    let r = s.handle(&bearer("GET", list, &expired, ""), now());
    assert_eq!(r.status(), 401);
    assert_eq!(
        body(&r)["error"]["message"],
        "The access token has expired."
    );
    let (voip, _) = s
        .issue_token(&user, &["voip"], Duration::from_secs(60), now())
        .unwrap();
    assert_eq!(
        s.handle(&bearer("GET", list, &voip, ""), now()).status(),
        403
    );
    s.with_store(|st| st.revoke_tokens(&user)).unwrap();
    assert_eq!(
        s.handle(&bearer("GET", list, &token, ""), now()).status(),
        401
    );
}

#[test]
fn remembered_tokens_are_still_checked_for_tampering_expiry_and_revocation() {
    let s = service();
    let (user, token) = user_and_token(&s);
    let list = "/chat/threads?api-version=2025-03-15";
    let status = |token: &str, at: DateTime| s.handle(&bearer("GET", list, token, ""), at).status();
    // Twice: the second time the token is remembered.
    assert_eq!(status(&token, now()), 200);
    assert_eq!(status(&token, now()), 200);
    // A remembered token with a changed signature or payload is another token: refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let first = parts[2].remove(0);
    parts[2].insert(0, if first == 'A' { 'B' } else { 'A' });
    assert_eq!(status(&parts.join("."), now()), 401);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1].insert(0, 'e');
    assert_eq!(status(&parts.join("."), now()), 401);
    // Expiry is the store's business, checked on every request.
    assert_eq!(
        status(
            &token,
            now().checked_add(Duration::from_secs(3600)).unwrap()
        ),
        401
    );
    // More tokens than the cache holds: it starts over, and every token still works.
    let many: Vec<String> = (0..VERIFIED_TOKENS_CAPACITY + 10)
        .map(|_| {
            s.issue_token(&user, &["chat"], Duration::from_secs(3600), now())
                .unwrap()
                .0
        })
        .collect();
    for t in &many {
        assert_eq!(status(t, now()), 200);
    }
    assert_eq!(status(&token, now()), 200);
    assert_eq!(status(&many[0], now()), 200);
    s.with_store(|st| st.revoke_tokens(&user)).unwrap();
    assert_eq!(status(&token, now()), 401);
    assert_eq!(status(&many[0], now()), 401);
}

#[test]
fn routes_versions_and_bodies() {
    let s = service();
    let (_, token) = user_and_token(&s);
    let r = s.handle(
        &bearer("GET", "/chat/nothing?api-version=2025-03-15", &token, ""),
        now(),
    );
    assert_eq!(r.status(), 404);
    assert_eq!(body(&r)["error"]["code"], "NotFound");
    assert_eq!(
        s.handle(
            &bearer("PUT", "/chat/threads?api-version=2025-03-15", &token, ""),
            now()
        )
        .status(),
        404
    );
    assert_eq!(
        s.handle(
            &bearer(
                "GET",
                "/chat/threads/%FF?api-version=2025-03-15",
                &token,
                ""
            ),
            now()
        )
        .status(),
        404
    );
    let r = s.handle(&bearer("GET", "/chat/threads", &token, ""), now());
    assert_eq!(body(&r)["error"]["code"], "MissingApiVersionParameter");
    for version in CHAT_API_VERSIONS {
        let target = format!("/chat/threads?api-version={version}");
        assert_eq!(
            s.handle(&bearer("GET", &target, &token, ""), now())
                .status(),
            200,
            "{version}"
        );
    }
    let create = "/chat/threads?api-version=2025-03-15";
    let r = s.handle(&bearer("POST", create, &token, "{not json"), now());
    assert_eq!(r.status(), 400);
    let r = s.handle(
        &bearer("POST", create, &token, r#"{"participants": []}"#),
        now(),
    );
    assert_eq!(r.status(), 400);
    assert!(
        body(&r)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topic"),
        "{:?}",
        body(&r)
    );
    let r = s.handle(
        &bearer(
            "POST",
            create,
            &token,
            r#"{"topic": "t", "participants": [{"displayName": "x"}]}"#,
        ),
        now(),
    );
    assert_eq!(r.status(), 400);
    let v = body(&r);
    assert_eq!(v["error"]["target"], "participants[0]");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("communicationIdentifier")
    );
    let r = s.handle(
        &bearer("POST", create, &token, r#"{"topic": "t"} trailing"#),
        now(),
    );
    assert_eq!(r.status(), 400);
    let r = s.handle(&bearer("POST", create, &token, ""), now());
    assert_eq!(r.status(), 400);
}

#[test]
fn create_send_and_page_through_next_links() {
    let s = service();
    let (_, token) = user_and_token(&s);
    let r = s.handle(
        &bearer(
            "POST",
            "/chat/threads?api-version=2025-03-15",
            &token,
            r#"{"topic": "paging"}"#,
        ),
        now(),
    );
    assert_eq!(r.status(), 201);
    let thread = body(&r)["chatThread"]["id"].as_str().unwrap().to_owned();
    let location = r.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!(
            "https://{HOST}/chat/threads/{}",
            encode_path_segment(&thread)
        )
    );
    let messages = format!(
        "/chat/threads/{}/messages?api-version=2025-03-15",
        encode_path_segment(&thread)
    );
    for i in 0..25 {
        let r = s.handle(
            &bearer(
                "POST",
                &messages,
                &token,
                &format!(r#"{{"content": "m{i}"}}"#),
            ),
            now(),
        );
        assert_eq!(r.status(), 201);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with(body(&r)["id"].as_str().unwrap())
        );
    }
    let mut target = format!("{messages}&maxPageSize=7");
    let mut pages = 0;
    let mut seen = Vec::new();
    loop {
        let r = s.handle(&bearer("GET", &target, &token, ""), now());
        assert_eq!(r.status(), 200);
        let v = body(&r);
        seen.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["sequenceId"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match v["nextLink"].as_str() {
            Some(link) => {
                let origin = format!("https://{HOST}");
                target = link.strip_prefix(&origin).unwrap().to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (1..=26).rev().map(|n: u32| n.to_string()).collect();
    assert_eq!(seen, expected);
    // A forged continuation is a 400, not a panic: not base64, another listing's, or with a
    // part that does not parse.
    let threads = "/chat/threads?api-version=2025-03-15";
    for (list, state) in [
        (messages.as_str(), "%%%".to_owned()),
        (messages.as_str(), chat::encode_state("t1|1|x|-")),
        (messages.as_str(), chat::encode_state("m1|x|-")),
        (messages.as_str(), chat::encode_state("m1|1|x")),
        (threads, chat::encode_state("m1|1|-")),
        (threads, chat::encode_state("t1|-|x|-")),
        (threads, chat::encode_state("t1|1|x|y")),
    ] {
        let r = s.handle(
            &bearer("GET", &format!("{list}&syncState={state}"), &token, ""),
            now(),
        );
        assert_eq!(r.status(), 400, "{list} {state}");
        assert_eq!(body(&r)["error"]["target"], "syncState");
    }
    let r = s.handle(
        &bearer("GET", &format!("{messages}&maxPageSize=0"), &token, ""),
        now(),
    );
    assert_eq!(r.status(), 400);
}

/// `serde_json::to_vec` of a `ChatMessagesCollection`, the way the service wrote it before it
/// joined the messages' JSON itself.
fn serialized_collection(messages: Vec<ChatMessage>, next_link: Option<String>) -> Vec<u8> {
    let mut page = ChatMessagesCollection::new(messages);
    page.next_link = next_link;
    serde_json::to_vec(&page).unwrap()
}

#[test]
fn listed_messages_are_serialized_as_before_and_follow_edits_and_deletes() {
    let s = service();
    let (user, token) = user_and_token(&s);
    let caller = Caller::new(user, vec!["chat".into()]);
    let thread = create_thread(&s, &token, r#"{"topic": "cache"}"#);
    let messages = format!("/chat/threads/{}/messages", encode_path_segment(&thread));
    let send = |content: &str| {
        let r = s.handle(
            &bearer(
                "POST",
                &format!("{messages}?api-version=2025-03-15"),
                &token,
                &format!(r#"{{"content": "{content}", "metadata": {{"k": "v"}}}}"#),
            ),
            now(),
        );
        assert_eq!(r.status(), 201);
        body(&r)["id"].as_str().unwrap().to_owned()
    };
    let first = send(r#"one \"quoted\" \u00e9"#);
    let second = send("two");
    // Each listing's body is exactly the serialization of what the store holds now.
    let check = |size: usize| -> Value {
        let target = format!("{messages}?api-version=2025-03-15&maxPageSize={size}");
        let r = s.handle(&bearer("GET", &target, &token, ""), now());
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let v = body(&r);
        let next_link = v["nextLink"].as_str().map(str::to_owned);
        let listing = s
            .with_store(|st| st.list_messages(&caller, &thread, None, None, size, now()))
            .unwrap();
        assert_eq!(listing.next.is_some(), next_link.is_some());
        assert_eq!(
            String::from_utf8(r.body().to_vec()).unwrap(),
            String::from_utf8(serialized_collection(listing.items, next_link)).unwrap()
        );
        v
    };
    for size in [1, 2, 20] {
        check(size);
        check(size);
    }
    let listed = check(20);
    assert_eq!(listed["value"][1]["content"]["message"], "one \"quoted\" é");
    // An edit after the messages were listed shows in the next listing.
    let patch = s.handle(
        &bearer(
            "PATCH",
            &format!("{messages}/{first}?api-version=2025-03-15"),
            &token,
            r#"{"content": "uno", "metadata": {"k": null, "n": "1"}}"#,
        ),
        now(),
    );
    assert_eq!(patch.status(), 204);
    let v = check(20);
    assert_eq!(v["value"][1]["content"]["message"], "uno");
    assert_eq!(v["value"][1]["metadata"], json!({"n": "1"}));
    assert!(v["value"][1]["editedOn"].is_string());
    assert_ne!(v["value"][1]["version"], listed["value"][1]["version"]);
    // So does a delete.
    let delete = s.handle(
        &bearer(
            "DELETE",
            &format!("{messages}/{second}?api-version=2025-03-15"),
            &token,
            "",
        ),
        now(),
    );
    assert_eq!(delete.status(), 204);
    for size in [1, 2, 20] {
        check(size);
    }
    let v = check(20);
    assert_eq!(v["value"][0]["content"]["message"], "");
    assert!(v["value"][0]["deletedOn"].is_string());
    assert!(v["value"][0].get("metadata").is_none());
    assert_eq!(v["value"][1]["content"]["message"], "uno");
}

proptest! {
    #[test]
    fn messages_collection_json_is_serde_json_of_the_collection(
        contents in proptest::collection::vec(".{0,12}", 0..4),
        next_link in proptest::option::of(".{0,40}"),
    ) {
        let messages: Vec<ChatMessage> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut m = ChatMessage::new(
                    now(),
                    i.to_string(),
                    i.to_string(),
                    acs_chat_protocol::models::ChatMessageType::Text,
                    i.to_string(),
                );
                m.sender_display_name = Some(c.clone());
                m
            })
            .collect();
        let parts: Vec<Bytes> = messages
            .iter()
            .map(|m| Bytes::from(serde_json::to_vec(m).unwrap()))
            .collect();
        prop_assert_eq!(
            json::messages_collection_json(&parts, next_link.as_deref()),
            serialized_collection(messages, next_link)
        );
    }
}

#[test]
fn update_thread_is_a_merge_patch() {
    let s = service();
    let (_, token) = user_and_token(&s);
    let thread = create_thread(
        &s,
        &token,
        r#"{"topic": "a", "metadata": {"k1": "v1", "k2": "v2"}}"#,
    );
    let target = format!("/chat/threads/{thread}?api-version=2025-03-15");
    let r = s.handle(
        &bearer(
            "PATCH",
            &target,
            &token,
            r#"{"metadata": {"k1": null, "k3": "v3"}}"#,
        ),
        now(),
    );
    assert_eq!(r.status(), 204);
    let v = body(&s.handle(&bearer("GET", &target, &token, ""), now()));
    assert_eq!(v["topic"], "a");
    assert_eq!(v["metadata"], json!({"k2": "v2", "k3": "v3"}));
    let r = s.handle(&bearer("PATCH", &target, &token, r#"{"topic": 5}"#), now());
    assert_eq!(
        (r.status().as_u16(), body(&r)["error"]["target"].clone()),
        (400, json!("topic"))
    );
    let r = s.handle(&bearer("PATCH", &target, &token, "[]"), now());
    assert_eq!(r.status(), 400);
}

// ---- properties ------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// JWT payloads never contain `-` or `_` (the Python SDK decodes them with the standard
    /// alphabet), and every token parses with `AccessToken::from_jwt`.
    #[test]
    fn token_payloads_are_standard_base64(
        seed in any::<u128>(),
        users in 1usize..20,
        scopes in prop::sample::subsequence(TOKEN_SCOPES.to_vec(), 1..=TOKEN_SCOPES.len()),
        minutes in 60u64..=1440,
        at in 0i64..4_000_000_000,
    ) {
        let s = Service::new(Store::new(uuid::Uuid::from_u128(seed).to_string(), seed), key(), true, HOST);
        let at = DateTime::from_unix_timestamp(at).unwrap();
        for _ in 0..users {
            let user = s.create_user();
            let (token, expires) = s.issue_token(&user, &scopes, Duration::from_secs(minutes * 60), at).unwrap();
            let payload = token.split('.').nth(1).unwrap();
            prop_assert!(!payload.contains(['-', '_']), "{}", payload);
            prop_assert_eq!(AccessToken::from_jwt(token.clone()).unwrap().expires_on(), expires);
            let std = STANDARD.decode(format!("{payload}{}", "=".repeat((4 - payload.len() % 4) % 4))).unwrap();
            let claims: Value = serde_json::from_slice(&std).unwrap();
            prop_assert_eq!(claims["exp"].as_i64(), Some(expires.unix_timestamp()));
        }
    }

    /// Nothing a client sends makes the service panic.
    #[test]
    fn any_request_gets_a_response(
        method in prop::sample::select(vec!["GET", "POST", "PATCH", "DELETE", "PUT"]),
        path in prop::collection::vec(
            prop::sample::select(vec![
                "chat", "threads", "identities", "messages", "participants", ":add", ":remove",
                "readReceipts", "typing", "%3A", "%FF", "", "19:x@thread.v2", "1", ":issueAccessToken",
            ]),
            0..6,
        ),
        query in "[a-zA-Z=&%0-9-]{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..64),
        with_token in any::<bool>(),
    ) {
        let s = service();
        let (_, token) = user_and_token(&s);
        let target = format!("/{}?{query}&api-version=2025-03-15", path.join("/"));
        let mut builder = Request::builder().method(method).uri(target.as_str());
        if with_token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = builder.body(Bytes::from(body)).unwrap();
        let response = s.handle(&request, now());
        let status = response.status().as_u16();
        prop_assert!((200..300).contains(&status) || serde_json::from_slice::<Value>(response.body()).is_ok_and(|v| v["error"]["code"].is_string()));
    }
}

#[test]
fn next_links_survive_a_client_re_encoding_their_query() {
    // azure-core (Python) splits the nextLink's query, re-quotes each value and sets
    // api-version again; the link must still work.
    let s = service();
    let (_, token) = user_and_token(&s);
    let thread = create_thread_at(&s, &token, "2024-03-07", r#"{"topic": "t"}"#);
    let messages = format!("/chat/threads/{thread}/messages?api-version=2024-03-07");
    for _ in 0..3 {
        s.handle(
            &bearer("POST", &messages, &token, r#"{"content": "x"}"#),
            now(),
        );
    }
    let r = s.handle(
        &bearer("GET", &format!("{messages}&maxPageSize=2"), &token, ""),
        now(),
    );
    let link = body(&r)["nextLink"].as_str().unwrap().to_owned();
    let (path, query) = link
        .strip_prefix(&format!("https://{HOST}"))
        .unwrap()
        .split_once('?')
        .unwrap();
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("api-version="))
        .collect();
    pairs.reverse();
    let rebuilt = format!("{path}?{}&api-version=2024-03-07", pairs.join("&"));
    let r = s.handle(&bearer("GET", &rebuilt, &token, ""), now());
    assert_eq!(r.status(), 200);
    let v = body(&r);
    let seqs: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sequenceId"].as_str().unwrap())
        .collect();
    assert_eq!(seqs, ["2", "1"]);
}

#[test]
fn accepts_what_the_python_sdk_signs() {
    // NOTES vector computed with the Python SDK's policy: key "pw==", date
    // "Wed, 13 Apr 2022 18:09:12 GMT", host contoso.communicationservices.azure.com.
    let key = AccessKey::from_base64("pw==").unwrap();
    let s = Service::new(Store::new("res", 1), key, true, HOST);
    let at = DateTime::parse("2022-04-13T18:09:12Z").unwrap();
    let body = r#"{"createTokenWithScopes": ["chat"]}"#;
    let request = Request::builder()
        .method("POST")
        .uri("/identities?api-version=2023-10-01")
        .header("host", "contoso.communicationservices.azure.com")
        .header("x-ms-date", "Wed, 13 Apr 2022 18:09:12 GMT")
        .header("x-ms-content-sha256", "kWpGozyV35fifbpKdY8mbdG64VG0Pdq5upzo7YKAFM0=")
        .header(
            "authorization",
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=gnpdpDf+VBAfSLBmhmxRU3zWUTeRARHuXFVXi3e710E=",
        )
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap();
    let r = s.handle(&request, at);
    assert_eq!(r.status(), 201, "{:?}", r.body());
    assert!(body_has_token(&r));
}

fn body_has_token(r: &Response<Bytes>) -> bool {
    body(r)["accessToken"]["token"].is_string()
}

/// Dates that parse as RFC 3339 but fall outside what the service can hold (a year past 9999
/// once converted to UTC) must not take the service down: the request is refused (400, or 500
/// while the date parser itself panics) and the next requests are served.
#[test]
fn out_of_range_dates_do_not_take_the_service_down() {
    const LATE: &str = "9999-12-31T23:59:59-23:59";
    let s = service();
    let (user, token) = user_and_token(&s);
    let (other, _) = user_and_token(&s);
    let create = "/chat/threads?api-version=2025-03-15";
    let thread = encode_path_segment(&create_thread(&s, &token, r#"{"topic": "t"}"#)).into_owned();
    let bodies_and_targets = [
        (
            "POST",
            create.to_owned(),
            format!(
                r#"{{"topic": "t", "participants": [{{"communicationIdentifier": {{"rawId": "{other}"}}, "shareHistoryTime": "{LATE}"}}]}}"#
            ),
        ),
        (
            "POST",
            format!("/chat/threads/{thread}/participants/:add?api-version=2025-03-15"),
            format!(
                r#"{{"participants": [{{"communicationIdentifier": {{"rawId": "{other}"}}, "shareHistoryTime": "{LATE}"}}]}}"#
            ),
        ),
        (
            "GET",
            format!("/chat/threads/{thread}/messages?api-version=2025-03-15&startTime={LATE}"),
            String::new(),
        ),
        (
            "GET",
            format!("/chat/threads?api-version=2025-03-15&startTime={LATE}"),
            String::new(),
        ),
    ];
    for (method, target, request) in bodies_and_targets {
        let r = s.handle(&bearer(method, &target, &token, &request), now());
        assert!(
            matches!(r.status().as_u16(), 400 | 500),
            "{method} {target}: {}",
            r.status()
        );
        assert!(body(&r)["error"]["code"].is_string(), "{:?}", r.body());
        // The service, and the store under its lock, go on.
        let r = s.handle(&bearer("GET", create, &token, ""), now());
        assert_eq!(r.status(), 200);
        assert!(s.with_store(|st| st.user_exists(&user)));
    }
}

#[test]
fn a_panic_is_a_500_for_that_request_alone() {
    let s = service();
    let (_, token) = user_and_token(&s);
    let list = bearer("GET", "/chat/threads?api-version=2025-03-15", &token, "");
    let r = s.handle_inner(&list, now(), true);
    assert_eq!(r.status(), 500);
    assert_eq!(body(&r)["error"]["code"], "InternalServerError");
    assert!(r.headers().contains_key("x-ms-request-id"));
    // The store was locked when it panicked: it is taken over, with its state.
    assert_eq!(s.handle(&list, now()).status(), 200);
    assert_eq!(s.handle(&list, now()).status(), 200);
}

#[test]
fn handle_refuses_bodies_over_the_limit() {
    let s = service();
    let (_, token) = user_and_token(&s);
    let big = format!(r#"{{"topic": "{}"}}"#, "x".repeat(crate::MAX_BODY_BYTES));
    let r = s.handle(
        &bearer("POST", "/chat/threads?api-version=2025-03-15", &token, &big),
        now(),
    );
    assert_eq!(r.status(), 413);
    assert_eq!(body(&r)["error"]["code"], "RequestEntityTooLarge");
}

#[test]
fn page_size_bounds_come_from_the_limits_and_typing_names_are_checked() {
    let mut store = Store::new("res", 1);
    store.set_limits(ServiceLimits {
        max_page_size: 5,
        max_display_name_chars: 3,
        ..ServiceLimits::default()
    });
    let s = Service::new(store, key(), true, HOST);
    let (_, token) = user_and_token(&s);
    let list = |size: &str| {
        s.handle(
            &bearer(
                "GET",
                &format!("/chat/threads?api-version=2025-03-15&maxPageSize={size}"),
                &token,
                "",
            ),
            now(),
        )
    };
    assert_eq!(list("5").status(), 200);
    for size in ["6", "0", "-1", "x"] {
        let r = list(size);
        assert_eq!(r.status(), 400, "{size}");
        assert_eq!(body(&r)["error"]["target"], "maxPageSize");
        assert_eq!(
            body(&r)["error"]["message"],
            format!("maxPageSize must be an integer from 1 to 5, not `{size}`.")
        );
    }
    let thread = encode_path_segment(&create_thread(&s, &token, r#"{"topic": "t"}"#)).into_owned();
    let typing = format!("/chat/threads/{thread}/typing?api-version=2025-03-15");
    let r = s.handle(
        &bearer("POST", &typing, &token, r#"{"senderDisplayName": "four"}"#),
        now(),
    );
    assert_eq!(
        (r.status().as_u16(), body(&r)["error"]["target"].clone()),
        (400, json!("SenderDisplayName"))
    );
    let r = s.handle(
        &bearer("POST", &typing, &token, r#"{"senderDisplayName": "abc"}"#),
        now(),
    );
    assert_eq!(r.status(), 200);
}

proptest! {
    #[test]
    fn request_ids_are_written_as_before(n in any::<u64>()) {
        let (id, cv) = (request_id(n), correlation_vector(n));
        prop_assert_eq!(
            id.to_str().unwrap(),
            format!("00000000-0000-4000-8000-{:012x}", n & 0xffff_ffff_ffff)
        );
        prop_assert_eq!(cv.to_str().unwrap(), format!("emulator.{n}"));
    }
}

#[test]
fn request_ids_at_the_edges() {
    assert_eq!(
        request_id(0).to_str().unwrap(),
        "00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(correlation_vector(0).to_str().unwrap(), "emulator.0");
    assert_eq!(
        correlation_vector(u64::MAX).to_str().unwrap(),
        format!("emulator.{}", u64::MAX)
    );
}

/// With a data directory, a change that cannot be written is a 500 and is undone; the next
/// ones are written again once the database takes them.
#[test]
fn a_change_the_database_refuses_is_a_500_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    let s = crate::Emulator::builder()
        .data_dir(dir.path())
        .service()
        .unwrap();
    let (_, token) = user_and_token(&s);
    let thread = create_thread(&s, &token, r#"{"topic": "refused"}"#);
    let messages = format!(
        "/chat/threads/{}/messages?api-version=2025-03-15",
        encode_path_segment(&thread)
    );
    let send = |content: &str| {
        s.handle(
            &bearer(
                "POST",
                &messages,
                &token,
                &format!(r#"{{"content": "{content}"}}"#),
            ),
            now(),
        )
    };
    // The contents of the thread's messages, newest first.
    let listed = |s: &Service| -> Vec<String> {
        let r = s.handle(&bearer("GET", &messages, &token, ""), now());
        assert_eq!(r.status(), 200);
        body(&r)["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["content"]["message"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(send("kept").status(), 201);

    s.execute_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    );
    let r = send("refused");
    assert_eq!(r.status(), 500);
    assert_eq!(body(&r)["error"]["code"], "InternalServerError");
    assert!(r.headers().get("x-ms-request-id").is_some());
    assert_eq!(listed(&s), ["kept"], "the refused message is undone");

    s.execute_sql("DROP TRIGGER refuse;");
    assert_eq!(send("written").status(), 201);
    assert_eq!(listed(&s), ["written", "kept"]);
    drop(s);
    // What was acknowledged is what a restart serves.
    let restarted = crate::Emulator::builder()
        .data_dir(dir.path())
        .service()
        .unwrap();
    assert_eq!(listed(&restarted), ["written", "kept"]);
}
