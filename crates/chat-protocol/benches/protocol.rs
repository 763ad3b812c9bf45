//! Protocol benchmarks: building a send-message request, and parsing a list-messages page of 200
//! realistic messages next to a baseline in the same run: `serde_json` parsing the same bytes into
//! a minimal plain struct of the same shape (strings for timestamps and enums).
//!
//! `cargo xtask bench` runs this and reports our/baseline.

use std::collections::HashMap;
use std::hint::black_box;

use bytes::Bytes;
use chat_protocol::models::{ChatMessage, SendChatMessageRequest};
use chat_protocol::operations::{ListChatMessages, SendChatMessage};
use chat_protocol::{ApiVersion, Endpoint, Operation, Page, RequestContext, authorize};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

/// A page of 200 messages like the service sends: text and html messages with metadata, and
/// system messages (topic updated, participant added/removed), 7-digit fractional timestamps.
pub fn page_of_200() -> Vec<u8> {
    let user = |n: usize| {
        format!(
            r#"{{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081","communicationUser":{{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081"}}}}"#
        )
    };
    let mut items = Vec::new();
    for i in 0..200usize {
        let seq = 1000 - i;
        let ts = format!(
            "2024-06-{:02}T{:02}:{:02}:{:02}.{:07}Z",
            1 + i % 28,
            i % 24,
            i % 60,
            (i * 7) % 60,
            i * 4231 % 10_000_000
        );
        let item = match i % 10 {
            0 => format!(
                r#"{{"id":"17{i:011}","type":"topicUpdated","sequenceId":"{seq}","version":"17{i:011}","content":{{"topic":"Release planning {i}","initiatorCommunicationIdentifier":{u}}},"createdOn":"{ts}"}}"#,
                u = user(i % 7)
            ),
            5 => format!(
                r#"{{"id":"17{i:011}","type":"participantAdded","sequenceId":"{seq}","version":"17{i:011}","content":{{"participants":[{{"communicationIdentifier":{u},"displayName":"Guest {i}","shareHistoryTime":"{ts}"}}],"initiatorCommunicationIdentifier":{u2}}},"createdOn":"{ts}"}}"#,
                u = user(i % 5),
                u2 = user(i % 3)
            ),
            3 => format!(
                r#"{{"id":"17{i:011}","type":"html","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"<p>Status update {i}: the <b>build</b> is green &amp; the release notes are <a href=\"https://example.com/notes/{i}\">here</a>.</p>"}},"senderDisplayName":"Jane Doe","createdOn":"{ts}","editedOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"priority":"high","tags":"release,build","amsreferences":"[]"}}}}"#,
                u = user(i % 7)
            ),
            _ => format!(
                r#"{{"id":"17{i:011}","type":"text","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"Message number {i}: let's meet at noon to go over the open issues and decide what ships this week."}},"senderDisplayName":"Alex Smith","createdOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"client":"web","locale":"en-US"}}}}"#,
                u = user(i % 7)
            ),
        };
        items.push(item);
    }
    format!(
        r#"{{"value":[{}],"nextLink":"https://contoso.communication.azure.com/chat/threads/19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2/messages?syncState=3e47000000000000&startTime=0&maxPageSize=200&api-version=2025-03-15"}}"#,
        items.join(",")
    )
    .into_bytes()
}

// The baseline: the same shape, plain types.
#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainPage {
    value: Vec<PlainMessage>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainMessage {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "sequenceId")]
    sequence_id: String,
    version: String,
    content: Option<PlainContent>,
    #[serde(rename = "senderDisplayName")]
    sender_display_name: Option<String>,
    #[serde(rename = "createdOn")]
    created_on: String,
    #[serde(rename = "senderCommunicationIdentifier")]
    sender: Option<PlainIdentifier>,
    #[serde(rename = "deletedOn")]
    deleted_on: Option<String>,
    #[serde(rename = "editedOn")]
    edited_on: Option<String>,
    metadata: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainContent {
    message: Option<String>,
    topic: Option<String>,
    participants: Option<Vec<PlainParticipant>>,
    #[serde(rename = "initiatorCommunicationIdentifier")]
    initiator: Option<PlainIdentifier>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainParticipant {
    #[serde(rename = "communicationIdentifier")]
    id: PlainIdentifier,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "shareHistoryTime")]
    share_history_time: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainIdentifier {
    #[serde(rename = "rawId")]
    raw_id: Option<String>,
    #[serde(rename = "communicationUser")]
    communication_user: Option<PlainUser>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainUser {
    id: String,
}

fn benches(c: &mut Criterion) {
    let endpoint = Endpoint::parse("https://contoso.communication.azure.com").unwrap();
    let ctx = RequestContext::new(endpoint.clone(), ApiVersion::default());

    c.bench_function("build_send_message_request", |b| {
        b.iter(|| {
            let mut req =
                SendChatMessageRequest::new("Let's meet at noon to go over the open issues.");
            req.sender_display_name = Some("Alex Smith".into());
            let op =
                SendChatMessage::new("19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2", req);
            let mut request = op.build_request(black_box(&ctx)).unwrap();
            authorize(
                &mut request,
                &endpoint,
                "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig",
            )
            .unwrap();
            black_box(request)
        })
    });

    let body = Bytes::from(page_of_200());
    let op = ListChatMessages::new("19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2");
    let mut group = c.benchmark_group("parse_list_messages_200");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chat_protocol", |b| {
        b.iter(|| {
            let response = http::Response::builder()
                .status(200)
                .body(body.clone())
                .unwrap();
            let page: Page<ChatMessage> = op.parse_response(black_box(response)).unwrap();
            black_box(page)
        })
    });
    group.bench_function("serde_json_plain_baseline", |b| {
        b.iter(|| {
            let page: PlainPage = serde_json::from_slice(black_box(&body)).unwrap();
            black_box(page)
        })
    });
    group.finish();
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
