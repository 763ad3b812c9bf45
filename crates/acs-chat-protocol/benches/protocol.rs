//! Protocol benchmarks: building a send-message request, and parsing a list-messages page of 200
//! (and of 20) realistic messages next to a baseline in the same run: `serde_json` parsing the same bytes into
//! a minimal plain struct of the same shape (strings for timestamps and enums).
//!
//! `cargo xtask bench` runs this and reports our/baseline.

use std::hint::black_box;

use acs_chat_protocol::models::ChatMessage;
use acs_chat_protocol::operations::{ListChatMessages, SendChatMessage, SendChatMessageOptions};
use acs_chat_protocol::{
    AccessToken, ApiVersion, Endpoint, Operation, Page, RequestContext, authorize,
};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;

use common::PlainPage;

/// A page of `n` messages like the service sends, with a nextLink (see [`common::message`]).
fn page_of(n: usize) -> Vec<u8> {
    format!(
        r#"{{"value":[{}],"nextLink":"https://contoso.communication.azure.com/chat/threads/19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2/messages?syncState=3e47000000000000&startTime=0&maxPageSize={n}&api-version=2025-03-15"}}"#,
        common::messages(n)
    )
    .into_bytes()
}

fn benches(c: &mut Criterion) {
    let endpoint = Endpoint::parse("https://contoso.communication.azure.com").unwrap();
    let ctx = RequestContext::new(endpoint.clone(), ApiVersion::default());

    let token = AccessToken::from_jwt("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig").unwrap();
    c.bench_function("build_send_message_request", |b| {
        b.iter(|| {
            let op = SendChatMessage::new(
                "19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2",
                "Let's meet at noon to go over the open issues.",
                SendChatMessageOptions::default().sender_display_name("Alex Smith"),
            );
            let mut request = op.build_request(black_box(&ctx)).unwrap();
            authorize(&mut request, &endpoint, &token).unwrap();
            black_box(request)
        })
    });

    let op = ListChatMessages::new(
        "19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2",
        Default::default(),
    );
    // The service's largest page, and the size most clients ask for.
    for n in [200, 20] {
        let body = Bytes::from(page_of(n));
        let mut group = c.benchmark_group(format!("parse_list_messages_{n}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("acs_chat_protocol", |b| {
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
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
