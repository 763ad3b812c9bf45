//! Requests and responses of the reference operations, against the project's own fixtures.

use acs_chat_protocol::models::*;
use acs_chat_protocol::operations::*;
use acs_chat_protocol::{
    AccessToken, ApiVersion, CommunicationIdentifier, DateTime, Endpoint, ErrorKind, Idempotency,
    Operation, RequestContext, authorize,
};
use bytes::Bytes;
use http::{Method, Response};

const ENDPOINT: &str = "https://contoso.communication.azure.com";
const THREAD: &str = "19:uni01_abc@thread.v2";

fn ctx(version: ApiVersion) -> RequestContext {
    RequestContext::new(Endpoint::parse(ENDPOINT).unwrap(), version)
}

fn response(status: u16, body: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn header<'a>(r: &'a http::Request<Bytes>, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn remove_participant_matches_the_reference() {
    let user = CommunicationIdentifier::communication_user("8:acs:res_user1");
    let op = RemoveChatParticipant::new(THREAD, user);
    let mut r = op.build_request(&ctx(ApiVersion::default())).unwrap();
    assert_eq!(r.method(), Method::POST);
    assert_eq!(
        r.uri(),
        "https://contoso.communication.azure.com/chat/threads/19%3Auni01_abc@thread.v2/participants/:remove?api-version=2025-03-15"
    );
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(header(&r, "accept"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"kind": "communicationUser", "rawId": "8:acs:res_user1", "communicationUser": {"id": "8:acs:res_user1"}})
    );
    let token = AccessToken::new("tok.en.x", DateTime::UNIX_EPOCH);
    authorize(&mut r, &Endpoint::parse(ENDPOINT).unwrap(), &token).unwrap();
    assert_eq!(header(&r, "authorization"), Some("Bearer tok.en.x"));
    assert!(
        !format!("{r:?}").contains("tok.en.x"),
        "Debug shows the token"
    );
    assert_eq!(op.idempotency(), Idempotency::NotIdempotent);
    op.parse_response(response(204, "")).unwrap();
}

#[test]
fn list_participants_matches_the_reference() {
    let op = ListChatParticipants::new(
        THREAD,
        ListChatParticipantsOptions::default()
            .max_page_size(2)
            .skip(4),
    );
    let r = op
        .build_request(&ctx(ApiVersion::V2024_03_15_PREVIEW))
        .unwrap();
    assert_eq!(r.method(), Method::GET);
    assert_eq!(
        r.uri(),
        "https://contoso.communication.azure.com/chat/threads/19%3Auni01_abc@thread.v2/participants?maxPageSize=2&skip=4&api-version=2024-03-15-preview"
    );
    assert!(r.body().is_empty());
    assert_eq!(header(&r, "content-type"), None);
    let page = op
        .parse_response(response(
            200,
            r#"{"value":[{"communicationIdentifier":{"rawId":"8:acs:res_a","communicationUser":{"id":"8:acs:res_a"}},"displayName":"Ann","shareHistoryTime":"2024-01-02T03:04:05.1234567Z","metadata":{"role":"host"},"futureField":1}],"nextLink":"https://contoso.communication.azure.com/chat/threads/19:uni01_abc@thread.v2/participants?skip=5&maxPageSize=2&api-version=2024-03-15-preview"}"#,
        ))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let p = &page.items[0];
    assert_eq!(p.display_name.as_deref(), Some("Ann"));
    assert_eq!(
        p.share_history_time.unwrap().to_string(),
        "2024-01-02T03:04:05.1234567Z"
    );
    assert_eq!(p.metadata.as_ref().unwrap()["role"], "host");
    // The next page: the link verbatim (raw `:` and `@`, no second api-version).
    let next = ListChatParticipants::next_page(page.next_link.unwrap());
    let r = next
        .build_request(&ctx(ApiVersion::V2024_03_15_PREVIEW))
        .unwrap();
    assert_eq!(
        r.uri(),
        "https://contoso.communication.azure.com/chat/threads/19:uni01_abc@thread.v2/participants?skip=5&maxPageSize=2&api-version=2024-03-15-preview"
    );
}

#[test]
fn delete_message_matches_the_reference() {
    let op = DeleteChatMessage::new(THREAD, "1593072104708");
    let r = op.build_request(&ctx(ApiVersion::default())).unwrap();
    assert_eq!(r.method(), Method::DELETE);
    assert_eq!(
        r.uri(),
        "https://contoso.communication.azure.com/chat/threads/19%3Auni01_abc@thread.v2/messages/1593072104708?api-version=2025-03-15"
    );
    op.parse_response(response(204, "")).unwrap();
    let e = op
        .parse_response(response(
            404,
            r#"{"error":{"code":"NotFound","message":"Not found."}}"#,
        ))
        .unwrap_err();
    assert_eq!(e.status().unwrap(), 404);
    assert_eq!(e.service().unwrap().code(), Some("NotFound"));
}

#[test]
fn patch_operations_use_merge_patch_and_omit_unset_fields() {
    let options = UpdateChatThreadPropertiesOptions::default().topic("New topic");
    let r = UpdateChatThreadProperties::new(THREAD, options)
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert_eq!(r.method(), Method::PATCH);
    assert_eq!(
        header(&r, "content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(r.body().as_ref(), br#"{"topic":"New topic"}"#);
    let r = UpdateChatMessage::new(
        THREAD,
        "1",
        UpdateChatMessageOptions::default().content("edited"),
    )
    .build_request(&ctx(ApiVersion::default()))
    .unwrap();
    assert_eq!(
        header(&r, "content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(r.body().as_ref(), br#"{"content":"edited"}"#);
}

#[test]
fn create_thread_carries_repeatability_id_and_partial_failures() {
    let op = CreateChatThread::new(
        "Lunch",
        CreateChatThreadOptions::default()
            .repeatability_request_id("b7c4f2a0-8e4f-4a8e-9a59-8c2cbbf3e0a1"),
    );
    assert_eq!(op.idempotency(), Idempotency::Idempotent);
    let r = op.build_request(&ctx(ApiVersion::default())).unwrap();
    assert_eq!(
        header(&r, "repeatability-request-id"),
        Some("b7c4f2a0-8e4f-4a8e-9a59-8c2cbbf3e0a1")
    );
    let result = op
        .parse_response(response(
            201,
            r#"{"chatThread":{"id":"19:x@thread.v2","topic":"Lunch","createdOn":"2024-05-01T10:00:00.0000000Z","createdByCommunicationIdentifier":{"rawId":"8:acs:r_u","communicationUser":{"id":"8:acs:r_u"}},"retentionPolicy":{"kind":"threadCreationDate","deleteThreadAfterDays":40}},"invalidParticipants":[{"target":"8:acs:r_bad","code":"404","message":"Not found"}]}"#,
        ))
        .unwrap();
    let thread = result.chat_thread.unwrap();
    assert_eq!(thread.id, "19:x@thread.v2");
    assert!(matches!(
        thread.retention_policy,
        Some(ChatRetentionPolicy::ThreadCreationDate(ref p)) if p.delete_thread_after_days == 40
    ));
    let invalid = result.invalid_participants.unwrap();
    assert_eq!(invalid[0].target.as_deref(), Some("8:acs:r_bad"));
    assert_eq!(invalid[0].code, "404");
    assert_eq!(
        CreateChatThread::new("x", Default::default()).idempotency(),
        Idempotency::NotIdempotent
    );
}

#[test]
fn open_enums_keep_unknown_values() {
    let m: ChatMessage = serde_json::from_str(
        r#"{"id":"1","type":"pollCreated","sequenceId":"1","version":"1","createdOn":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(m.kind, ChatMessageType::UnknownValue("pollCreated".into()));
    assert_eq!(serde_json::to_value(&m.kind).unwrap(), "pollCreated");
    let p: ChatRetentionPolicy =
        serde_json::from_str(r#"{"kind":"afterLastMessage","days":3}"#).unwrap();
    assert_eq!(
        p.kind(),
        RetentionPolicyKind::UnknownValue("afterLastMessage".into())
    );
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"days":3,"kind":"afterLastMessage"}"#
    );
}

#[test]
fn a_2xx_body_that_does_not_parse_names_the_path() {
    let e = ListChatMessages::new(THREAD, Default::default())
        .parse_response(response(
            200,
            r#"{"value":[{"id":"1","type":"text","sequenceId":"1","version":"1","createdOn":"not a date"}]}"#,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.json_path(), Some("value[0].createdOn"));
}

/// Found by the `parse_response` fuzz target: a date that did not parse was quoted whole in the
/// decode error (a response's content in an error, however long).
#[test]
fn a_date_that_does_not_parse_is_not_quoted_in_the_error() {
    let date = "2020-06-10T05:50:49Z".repeat(250);
    let e = GetChatThreadProperties::new(THREAD)
        .parse_response(response(
            200,
            &format!(r#"{{"id":"19:a@thread.v2","createdOn":"{date}"}}"#),
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.json_path(), Some("createdOn"));
    let shown = e.to_string();
    assert!(!shown.contains("2020-06-10"), "{shown}");
    assert!(shown.len() < 256, "{shown}");
}

#[test]
fn foreign_next_links_and_requests_are_refused() {
    let next =
        ListChatMessages::next_page("https://evil.example/chat/threads/x/messages?syncState=1");
    let e = next.build_request(&ctx(ApiVersion::default())).unwrap_err();
    assert!(e.is_foreign_origin());
    let mut r = http::Request::get("https://evil.example/x")
        .body(Bytes::new())
        .unwrap();
    let token = AccessToken::new("t", DateTime::UNIX_EPOCH);
    let e = authorize(&mut r, &Endpoint::parse(ENDPOINT).unwrap(), &token).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ForeignOrigin);
    assert!(r.headers().get("authorization").is_none());
    // odd startTime values are sent without re-encoding what is already valid
    let next = ListChatMessages::next_page(
        "https://contoso.communication.azure.com/chat/threads/19:a@thread.v2/messages?syncState=3e47&startTime=1/1/1970 12:00:00 AM +00:00&maxPageSize=5&api-version=2025-03-15",
    );
    let r = next.build_request(&ctx(ApiVersion::default())).unwrap();
    assert_eq!(
        r.uri(),
        "https://contoso.communication.azure.com/chat/threads/19:a@thread.v2/messages?syncState=3e47&startTime=1/1/1970%2012:00:00%20AM%20+00:00&maxPageSize=5&api-version=2025-03-15"
    );
}

/// Found by the `next_link` fuzz target: the refusal showed the link's authority whole, user
/// info (a password) included, and however long it was.
#[test]
fn a_refused_next_link_shows_neither_user_info_nor_an_unbounded_host() {
    let refuse = |link: String| {
        let e = ListChatMessages::next_page(link)
            .build_request(&ctx(ApiVersion::default()))
            .unwrap_err();
        assert!(e.is_foreign_origin());
        e.to_string()
    };
    let shown = refuse("https://user:hunter2hunter2@evil.example:8443/x".into());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("https://***@evil.example:8443"), "{shown}");
    let shown = refuse(format!("https://{}.evil.example/x", "a".repeat(5000)));
    assert!(shown.len() < 1024, "{} bytes", shown.len());
}

#[test]
fn empty_ids_are_invalid_arguments() {
    let e = GetChatMessage::new("", "1")
        .build_request(&ctx(ApiVersion::default()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn typing_without_a_body_sends_none() {
    let r = SendTypingNotification::new(THREAD, Default::default())
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert!(r.body().is_empty());
    assert_eq!(header(&r, "content-type"), None);
    let options = SendTypingNotificationOptions::default().sender_display_name("Bob");
    let r = SendTypingNotification::new(THREAD, options)
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert_eq!(r.body().as_ref(), br#"{"senderDisplayName":"Bob"}"#);
}

#[test]
fn a_status_the_spec_does_not_list_is_an_error_that_keeps_the_body() {
    // SendChatMessage documents 201 only: a 200 is not trusted to mean the message was sent.
    let op = SendChatMessage::new(THREAD, "hi", Default::default());
    let e = op
        .parse_response(response(200, r#"{"id":"1"}"#))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedStatus);
    assert_eq!(e.status(), Some(http::StatusCode::OK));
    assert_eq!(e.service().unwrap().body().as_ref(), br#"{"id":"1"}"#);
    assert!(e.to_string().contains("does not document"), "{e}");
    // A non-2xx is a service error, with its body kept too.
    let e = op
        .parse_response(response(
            409,
            r#"{"error":{"code":"Conflict","message":"no"}}"#,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert!(e.service().unwrap().body().starts_with(b"{\"error\""));
    op.parse_response(response(201, r#"{"id":"1"}"#)).unwrap();
}

#[test]
fn identity_requests_are_generated_and_tokens_never_shown() {
    use acs_chat_protocol::identity::*;
    let ctx = RequestContext::new(
        Endpoint::parse("https://x.communication.azure.com").unwrap(),
        IDENTITY_API_VERSION,
    );
    let r = IssueAccessToken::new(
        "8:acs:r_u",
        vec![CommunicationIdentityTokenScope::Chat],
        IssueAccessTokenOptions::default().expires_in_minutes(60),
    )
    .build_request(&ctx)
    .unwrap();
    assert_eq!(
        r.uri(),
        "https://x.communication.azure.com/identities/8%3Aacs%3Ar_u/:issueAccessToken?api-version=2023-10-01"
    );
    assert_eq!(
        r.body().as_ref(),
        br#"{"scopes":["chat"],"expiresInMinutes":60}"#
    );
    // No options: no body at all, as the service accepts (and the official SDKs send empty).
    let r = CreateUser::new(Default::default())
        .build_request(&ctx)
        .unwrap();
    assert!(r.body().is_empty());
    let result = CreateUser::new(Default::default())
        .parse_response(response(
            201,
            r#"{"identity":{"id":"8:acs:r_u"},"accessToken":{"token":"t.t.t","expiresOn":"2023-10-10T21:39:39.3244584+00:00"}}"#,
        ))
        .unwrap();
    assert_eq!(result.identity.id, "8:acs:r_u");
    assert!(!format!("{result:?}").contains("t.t.t"));
    assert_eq!(
        RevokeAccessTokens::new("u").idempotency(),
        Idempotency::Idempotent
    );
    // Arguments in the spec's `required` order: appId, token, userId.
    let exchange = ExchangeTeamsUserAccessToken::new("app", "aad.token.x", "user");
    assert!(!format!("{exchange:?}").contains("aad.token.x"));
}
