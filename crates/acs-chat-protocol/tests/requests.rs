//! Requests and responses of the reference operations, against the project's own fixtures.

use acs_chat_protocol::models::*;
use acs_chat_protocol::operations::*;
use acs_chat_protocol::{
    ApiVersion, CommunicationIdentifier, Endpoint, ErrorKind, Idempotency, Operation,
    RequestContext, authorize,
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
    let op = RemoveChatParticipant::new(THREAD, user.to_model());
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
        serde_json::json!({"rawId": "8:acs:res_user1", "communicationUser": {"id": "8:acs:res_user1"}})
    );
    authorize(&mut r, &Endpoint::parse(ENDPOINT).unwrap(), "tok.en.x").unwrap();
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
    let op = ListChatParticipants::new(THREAD).max_page_size(2).skip(4);
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
    let mut req = UpdateChatThreadRequest::new();
    req.topic = Some("New topic".into());
    let r = UpdateChatThreadProperties::new(THREAD, req)
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert_eq!(r.method(), Method::PATCH);
    assert_eq!(
        header(&r, "content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(r.body().as_ref(), br#"{"topic":"New topic"}"#);
    let mut req = UpdateChatMessageRequest::new();
    req.content = Some("edited".into());
    let r = UpdateChatMessage::new(THREAD, "1", req)
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
    let op = CreateChatThread::new(CreateChatThreadRequest::new("Lunch"))
        .repeatability_request_id("b7c4f2a0-8e4f-4a8e-9a59-8c2cbbf3e0a1");
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
        CreateChatThread::new(CreateChatThreadRequest::new("x")).idempotency(),
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
    let e = ListChatMessages::new(THREAD)
        .parse_response(response(
            200,
            r#"{"value":[{"id":"1","type":"text","sequenceId":"1","version":"1","createdOn":"not a date"}]}"#,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.json_path(), Some("value[0].createdOn"));
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
    let e = authorize(&mut r, &Endpoint::parse(ENDPOINT).unwrap(), "t").unwrap_err();
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

#[test]
fn empty_ids_are_invalid_arguments() {
    let e = GetChatMessage::new("", "1")
        .build_request(&ctx(ApiVersion::default()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn typing_without_a_body_sends_none() {
    let r = SendTypingNotification::new(THREAD)
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert!(r.body().is_empty());
    assert_eq!(header(&r, "content-type"), None);
    let mut body = SendTypingNotificationRequest::new();
    body.sender_display_name = Some("Bob".into());
    let r = SendTypingNotification::new(THREAD)
        .request(body)
        .build_request(&ctx(ApiVersion::default()))
        .unwrap();
    assert_eq!(r.body().as_ref(), br#"{"senderDisplayName":"Bob"}"#);
}
