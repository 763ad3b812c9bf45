//! Every method builds the right request and maps every documented status.

use futures::future::BoxFuture;

use super::*;
use crate::models::{ChatMessageType, ChatRetentionPolicy, ThreadCreationDateRetentionPolicy};

const API: &str = "api-version=2025-03-15";

fn user(id: &str) -> CommunicationIdentifier {
    CommunicationIdentifier::communication_user(id)
}

/// One future per client method, each reduced to `Result<(), Error>`.
pub(crate) fn every_call(
    c: &ChatClient,
) -> Vec<(&'static str, BoxFuture<'static, Result<(), Error>>)> {
    let c = c.clone();
    let t = c.chat_thread_client(THREAD);
    macro_rules! call {
        ($name:literal, |$c:ident, $t:ident| $body:expr) => {{
            let $c = c.clone();
            let $t = t.clone();
            let fut: BoxFuture<'static, Result<(), Error>> =
                Box::pin(async move { $body.await.map(drop) });
            ($name, fut)
        }};
    }
    vec![
        call!("create_chat_thread", |c, _t| c.create_chat_thread(
            "topic",
            CreateChatThreadOptions::default()
        )),
        call!("list_chat_threads", |c, _t| async move {
            c.list_chat_threads(Default::default())
                .into_pages()
                .next()
                .await
                .unwrap()
        }),
        call!("delete_chat_thread", |c, _t| c.delete_chat_thread(THREAD)),
        call!("get_properties", |_c, t| t.get_properties()),
        call!("update_topic", |_c, t| t.update_topic("new")),
        call!("send_message", |_c, t| t
            .send_message("hi", SendChatMessageOptions::default())),
        call!("get_message", |_c, t| t.get_message("m1")),
        call!("list_messages", |_c, t| async move {
            t.list_messages(Default::default())
                .into_pages()
                .next()
                .await
                .unwrap()
        }),
        call!("update_message", |_c, t| t.update_message(
            "m1",
            UpdateChatMessageOptions::default().content("x")
        )),
        call!("delete_message", |_c, t| t.delete_message("m1")),
        call!("add_participants", |_c, t| t
            .add_participants(vec![participant(&user("8:acs:u1"), None)])),
        call!("list_participants", |_c, t| async move {
            t.list_participants(Default::default())
                .into_pages()
                .next()
                .await
                .unwrap()
        }),
        call!("remove_participant", |_c, t| async move {
            t.remove_participant(&user("8:acs:u1")).await
        }),
        call!("send_typing_notification", |_c, t| t
            .send_typing_notification(
                SendTypingNotificationOptions::default()
            )),
        call!("send_read_receipt", |_c, t| t.send_read_receipt("m1")),
        call!("list_read_receipts", |_c, t| async move {
            t.list_read_receipts(Default::default())
                .into_pages()
                .next()
                .await
                .unwrap()
        }),
    ]
}

#[tokio::test]
async fn every_documented_error_status_maps_to_a_service_error() {
    for status in [400, 401, 403, 404, 409, 412, 413] {
        let mock = Mock::new();
        let c = client(&mock, &clock());
        let calls = every_call(&c);
        for (name, fut) in calls {
            let code = format!("Code{status}");
            mock.push(Ok(response(
                status,
                &error_body(&code),
                &[("x-ms-request-id", "rid-1")],
            )));
            let before = mock.count();
            let e = fut.await.unwrap_err();
            assert_eq!(mock.count() - before, 1, "{name} {status}: not retried");
            assert_eq!(e.kind(), ErrorKind::Service, "{name} {status}");
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{name}");
            assert_eq!(e.code(), Some(code.as_str()), "{name}");
            assert_eq!(e.message(), Some(format!("{code} happened").as_str()));
            assert_eq!(e.request_id(), Some("rid-1"), "{name}");
            assert_eq!(e.attempts(), 1);
            assert!(e.operation().is_some(), "{name}");
        }
    }
}

#[tokio::test]
async fn a_non_json_error_body_is_still_a_service_error() {
    let mock = Mock::new();
    mock.reply(502, "<html>bad gateway</html>");
    let c = client_with(&mock, &clock(), |b| b.retry(RetryOptions::none()));
    let e = c
        .chat_thread_client(THREAD)
        .get_message("m1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status().unwrap().as_u16(), 502);
    assert_eq!(e.code(), None);
    assert!(
        e.service_error()
            .unwrap()
            .body_snippet()
            .unwrap()
            .contains("bad gateway")
    );
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error_and_not_retried() {
    let mock = Mock::new();
    mock.reply(200, r#"{"id": 5}"#);
    let c = client(&mock, &clock());
    let e = c
        .chat_thread_client(THREAD)
        .get_message("m1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(mock.count(), 1);
}

fn thread_props() -> Value {
    json!({
        "id": THREAD, "topic": "Standup", "createdOn": "2026-03-01T12:00:00Z",
        "createdByCommunicationIdentifier": {"rawId": "8:acs:me", "communicationUser": {"id": "8:acs:me"}}
    })
}

#[tokio::test]
async fn create_chat_thread_request_and_partial_failures() {
    let mock = Mock::new();
    mock.reply(
        201,
        &json!({
            "chatThread": thread_props(),
            "invalidParticipants": [{"code": "403", "message": "Permissions check failed", "target": "8:acs:bad"}]
        })
        .to_string(),
    );
    let c = client(&mock, &clock());
    let created = c
        .create_chat_thread(
            "Standup",
            CreateChatThreadOptions::default()
                .participants([
                    participant(&user("8:acs:good"), Some("Good")),
                    participant(&user("8:acs:bad"), None),
                ])
                .metadata("team", "core")
                .retention_policy(ChatRetentionPolicy::ThreadCreationDate(
                    ThreadCreationDateRetentionPolicy::new(30),
                ))
                .repeatability_request_id("rep-1"),
        )
        .await
        .unwrap();
    assert_eq!(created.thread.id, THREAD);
    assert_eq!(created.rejected_participants.len(), 1);
    let r = &created.rejected_participants[0];
    assert_eq!(r.identifier, Some(user("8:acs:bad")));
    assert_eq!(r.error.message, "Permissions check failed");

    let req = &mock.requests()[0];
    assert_eq!(req.method(), "POST");
    assert_eq!(
        req.uri().to_string(),
        format!("{ENDPOINT}/chat/threads?{API}")
    );
    assert_eq!(header(req, "repeatability-request-id"), Some("rep-1"));
    assert_eq!(header(req, "content-type"), Some("application/json"));
    let body = body_json(req);
    assert_eq!(body["topic"], "Standup");
    assert_eq!(body["metadata"], json!({"team": "core"}));
    assert_eq!(
        body["retentionPolicy"],
        json!({"kind": "threadCreationDate", "deleteThreadAfterDays": 30})
    );
    assert_eq!(body["participants"].as_array().unwrap().len(), 2);
    assert_eq!(body["participants"][0]["displayName"], "Good");
    assert_eq!(
        body["participants"][0]["communicationIdentifier"]["rawId"],
        "8:acs:good"
    );
}

#[tokio::test]
async fn create_chat_thread_without_options_sends_a_fresh_repeatability_id() {
    let mock = Mock::new();
    let ok = json!({ "chatThread": thread_props() }).to_string();
    mock.reply(201, &ok).reply(201, &ok);
    let c = client(&mock, &clock());
    c.create_chat_thread("t", CreateChatThreadOptions::default())
        .await
        .unwrap();
    c.create_chat_thread("t", CreateChatThreadOptions::default())
        .await
        .unwrap();
    let reqs = mock.requests();
    let ids: Vec<_> = reqs
        .iter()
        .map(|r| header(r, "repeatability-request-id").unwrap().to_owned())
        .collect();
    assert_eq!(uuid::Uuid::parse_str(&ids[0]).unwrap().get_version_num(), 4);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(body_json(&reqs[0]), json!({"topic": "t"}));
}

#[tokio::test]
async fn list_chat_threads_request() {
    let mock = Mock::new();
    mock.reply(200, r#"{"value":[{"id":"19:t1@thread.v2","topic":"a"}]}"#);
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .list_chat_threads(
            ListChatThreadsOptions::default()
                .max_page_size(5)
                .start_time(t0()),
        )
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().topic, "a");
    let req = &mock.requests()[0];
    assert_eq!(req.method(), "GET");
    assert_eq!(
        req.uri().to_string(),
        format!("{ENDPOINT}/chat/threads?maxPageSize=5&startTime=2026-03-01T12:00:00Z&{API}")
    );
}

#[tokio::test]
async fn thread_methods_build_the_right_requests() {
    let mock = Mock::new();
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    assert_eq!(t.thread_id(), THREAD);
    let base = format!("{ENDPOINT}{THREAD_PATH}");

    mock.reply(204, "");
    c.delete_chat_thread(THREAD).await.unwrap();
    mock.reply(200, &thread_props().to_string());
    assert_eq!(t.get_properties().await.unwrap().topic, "Standup");
    mock.reply(204, "");
    t.update_topic("New topic").await.unwrap();
    mock.reply(204, "");
    t.update_properties(UpdateChatThreadPropertiesOptions::default().metadata("k", "v"))
        .await
        .unwrap();
    mock.reply(201, r#"{"id":"m9"}"#);
    let id = t
        .send_message(
            "<b>hi</b>",
            SendChatMessageOptions::default()
                .kind(ChatMessageType::Html)
                .sender_display_name("Ann")
                .metadata("a", "b"),
        )
        .await
        .unwrap();
    assert_eq!(id, "m9");
    mock.reply(
        200,
        r#"{"id":"m9","type":"html","sequenceId":"3","version":"1","createdOn":"2026-03-01T12:00:00Z","content":{"message":"<b>hi</b>"}}"#,
    );
    let m = t.get_message("m9").await.unwrap();
    assert_eq!(m.kind, ChatMessageType::Html);
    mock.reply(204, "");
    t.update_message("m9", UpdateChatMessageOptions::default().content("edited"))
        .await
        .unwrap();
    mock.reply(204, "");
    t.delete_message("m9").await.unwrap();
    mock.reply(201, "{}");
    let added = t
        .add_participants(vec![participant(&user("8:acs:u2"), Some("U2"))])
        .await
        .unwrap();
    assert!(added.rejected_participants.is_empty());
    mock.reply(204, "");
    t.remove_participant(&user("8:acs:u2")).await.unwrap();
    mock.reply(200, "");
    t.send_typing_notification(SendTypingNotificationOptions::default())
        .await
        .unwrap();
    mock.reply(200, "");
    t.send_typing_notification(SendTypingNotificationOptions::default().sender_display_name("Ann"))
        .await
        .unwrap();
    mock.reply(200, "");
    t.send_read_receipt("m9").await.unwrap();
    mock.reply(200, r#"{"value":[]}"#);
    t.list_messages(ListChatMessagesOptions::default().max_page_size(2))
        .into_pages()
        .next()
        .await
        .unwrap()
        .unwrap();
    mock.reply(200, r#"{"value":[]}"#);
    t.list_participants(
        ListChatParticipantsOptions::default()
            .max_page_size(3)
            .skip(1),
    )
    .into_pages()
    .next()
    .await
    .unwrap()
    .unwrap();
    mock.reply(200, r#"{"value":[]}"#);
    t.list_read_receipts(ListChatReadReceiptsOptions::default().skip(4))
        .into_pages()
        .next()
        .await
        .unwrap()
        .unwrap();

    let expected: Vec<(&str, String, Option<Value>)> = vec![
        ("DELETE", format!("{base}?{API}"), None),
        ("GET", format!("{base}?{API}"), None),
        (
            "PATCH",
            format!("{base}?{API}"),
            Some(json!({"topic": "New topic"})),
        ),
        (
            "PATCH",
            format!("{base}?{API}"),
            Some(json!({"metadata": {"k": "v"}})),
        ),
        (
            "POST",
            format!("{base}/messages?{API}"),
            Some(
                json!({"content": "<b>hi</b>", "type": "html", "senderDisplayName": "Ann", "metadata": {"a": "b"}}),
            ),
        ),
        ("GET", format!("{base}/messages/m9?{API}"), None),
        (
            "PATCH",
            format!("{base}/messages/m9?{API}"),
            Some(json!({"content": "edited"})),
        ),
        ("DELETE", format!("{base}/messages/m9?{API}"), None),
        (
            "POST",
            format!("{base}/participants/:add?{API}"),
            Some(
                json!({"participants": [{"communicationIdentifier": {"rawId": "8:acs:u2", "communicationUser": {"id": "8:acs:u2"}}, "displayName": "U2"}]}),
            ),
        ),
        (
            "POST",
            format!("{base}/participants/:remove?{API}"),
            Some(json!({"rawId": "8:acs:u2", "communicationUser": {"id": "8:acs:u2"}})),
        ),
        ("POST", format!("{base}/typing?{API}"), None),
        (
            "POST",
            format!("{base}/typing?{API}"),
            Some(json!({"senderDisplayName": "Ann"})),
        ),
        (
            "POST",
            format!("{base}/readReceipts?{API}"),
            Some(json!({"chatMessageId": "m9"})),
        ),
        ("GET", format!("{base}/messages?maxPageSize=2&{API}"), None),
        (
            "GET",
            format!("{base}/participants?maxPageSize=3&skip=1&{API}"),
            None,
        ),
        ("GET", format!("{base}/readReceipts?skip=4&{API}"), None),
    ];
    let reqs = mock.requests();
    assert_eq!(reqs.len(), expected.len());
    for (req, (method, uri, body)) in reqs.iter().zip(expected) {
        assert_eq!(req.method().as_str(), method, "{uri}");
        assert_eq!(req.uri().to_string(), uri);
        match body {
            None => assert!(req.body().is_empty(), "{uri}: {:?}", req.body()),
            Some(expected) => {
                // the participant model may carry a `kind`; compare what we set
                let actual = body_json(req);
                for (k, v) in expected.as_object().unwrap() {
                    assert_json_includes(&actual[k], v, &uri);
                }
                let ct = if method == "PATCH" {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                assert_eq!(header(req, "content-type"), Some(ct), "{uri}");
            }
        }
    }
}

/// Every field of `expected` is in `actual` with the same value (recursively).
fn assert_json_includes(actual: &Value, expected: &Value, ctx: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, v) in e {
                assert_json_includes(&a[k], v, ctx);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{ctx}");
            for (a, e) in a.iter().zip(e) {
                assert_json_includes(a, e, ctx);
            }
        }
        _ => assert_eq!(actual, expected, "{ctx}"),
    }
}

#[tokio::test]
async fn update_properties_is_a_merge_patch() {
    let mock = Mock::new();
    mock.reply(204, "").reply(204, "");
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    t.update_properties(UpdateChatThreadPropertiesOptions::default())
        .await
        .unwrap();
    t.update_message("m1", UpdateChatMessageOptions::default().metadata("k", "v"))
        .await
        .unwrap();
    let reqs = mock.requests();
    assert_eq!(body_json(&reqs[0]), json!({}));
    assert_eq!(body_json(&reqs[1]), json!({"metadata": {"k": "v"}}));
}

#[tokio::test]
async fn add_participants_lists_each_rejected_participant() {
    let mock = Mock::new();
    mock.reply(
        201,
        r#"{"invalidParticipants":[
            {"code":"403","message":"Permissions check failed","target":"8:acs:x"},
            {"code":"404","message":"Not found","target":"4:+14255550123"},
            {"code":"400","message":"no target"}]}"#,
    );
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    let r = t
        .add_participants(vec![
            participant(&user("8:acs:x"), None),
            participant(&CommunicationIdentifier::phone_number("+14255550123"), None),
        ])
        .await
        .unwrap();
    let rejected = &r.rejected_participants;
    assert_eq!(rejected.len(), 3);
    assert_eq!(rejected[0].identifier, Some(user("8:acs:x")));
    assert_eq!(rejected[0].error.code, "403");
    assert_eq!(
        rejected[1]
            .identifier
            .as_ref()
            .map(|i| i.raw_id().into_owned()),
        Some("4:+14255550123".to_owned())
    );
    assert_eq!(rejected[2].identifier, None);

    // nothing to add: a typed error, no request
    let e = t.add_participants(vec![]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn bad_ids_are_typed_errors_without_a_request() {
    let mock = Mock::new();
    let c = client(&mock, &clock());
    let e = c.chat_thread_client("").get_properties().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = c
        .chat_thread_client(THREAD)
        .get_message("")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.attempts(), 0);
    assert_eq!(mock.count(), 0);
}

#[tokio::test]
async fn preview_image_operations() {
    let mock = Mock::new();
    let clock = clock();
    let c = client_with(&mock, &clock, |b| b.api_version("2024-03-15-preview"));
    let t = c.chat_thread_client(THREAD);
    mock.reply(
        201,
        r#"{"id":"img1","attachmentType":"image","name":"a.png"}"#,
    );
    let up = t
        .upload_image(
            Bytes::from_static(b"\x89PNG"),
            UploadChatImageOptions::default().image_filename("a.png"),
        )
        .await
        .unwrap();
    assert_eq!(up.id, "img1");
    mock.push(Ok(Response::builder()
        .status(200)
        .header("content-type", "image/png")
        .body(Bytes::from_static(b"\x89PNG"))
        .unwrap()));
    let img = t
        .get_image("img1", models::ImageViewType::Small)
        .await
        .unwrap();
    assert_eq!(img.content_type.as_deref(), Some("image/png"));
    assert_eq!(&img.data[..], b"\x89PNG");
    mock.reply(204, "");
    t.delete_image("img1").await.unwrap();
    let reqs = mock.requests();
    let base = format!("{ENDPOINT}{THREAD_PATH}/images");
    let api = "api-version=2024-03-15-preview";
    assert_eq!(reqs[0].method(), "POST");
    assert_eq!(reqs[0].uri().to_string(), format!("{base}?{api}"));
    assert_eq!(header(&reqs[0], "image-filename"), Some("a.png"));
    assert_eq!(&reqs[0].body()[..], b"\x89PNG");
    assert_eq!(
        reqs[1].uri().to_string(),
        format!("{base}/img1/view/small?{api}")
    );
    assert_eq!(reqs[2].method(), "DELETE");
    assert_eq!(reqs[2].uri().to_string(), format!("{base}/img1?{api}"));

    // an upload that may have been stored is not repeated
    mock.reply(503, "");
    t.upload_image(Bytes::from_static(b"x"), Default::default())
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 4);
}
