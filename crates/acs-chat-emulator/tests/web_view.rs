//! The web view over HTTP: what the page shows (escaped), its headers, and the event stream.

mod support;

use acs_chat_emulator::{DEV_ACCESS_KEY, Emulator};
use acs_chat_protocol::CommunicationIdentifier;
use acs_chat_protocol::models::{ChatParticipant, CreateChatThreadRequest, SendChatMessageRequest};
use acs_chat_protocol::operations::*;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use support::Harness;

const EVIL_TOPIC: &str = "<script>document.title='pwned'</script>";

async fn get(h: &Harness, path: &str) -> http::Response<Bytes> {
    let request = Request::get(h.url(path)).body(Bytes::new()).unwrap();
    h.send(request).await.unwrap()
}

#[tokio::test]
async fn the_page_shows_threads_and_messages_escaped_and_no_secrets() {
    let h = Harness::start().await;
    let (ann, ann_token) = h.user();
    let (bob, _) = h.user();
    let mut op = CreateChatThread::new("", Default::default());
    op.body = CreateChatThreadRequest::new(EVIL_TOPIC);
    let mut bob_p = ChatParticipant::new(CommunicationIdentifier::communication_user(&bob));
    bob_p.display_name = Some("<b>Bob</b>".into());
    op.body.participants = Some(vec![bob_p]);
    let thread = h
        .call(&op, &ann_token)
        .await
        .unwrap()
        .chat_thread
        .unwrap()
        .id;
    let mut send = SendChatMessage::new(&thread, "", Default::default());
    send.body = SendChatMessageRequest::new("<img src=x onerror=alert(1)> & hi");
    send.body.sender_display_name = Some("Ann \"the\" admin".into());
    let message = h.call(&send, &ann_token).await.unwrap().id;
    h.call(&DeleteChatMessage::new(&thread, &message), &ann_token)
        .await
        .unwrap();
    h.call(
        &SendChatMessage::new(&thread, "<i>second</i>", Default::default()),
        &ann_token,
    )
    .await
    .unwrap();

    let page = get(&h, "/_emulator/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let body = std::str::from_utf8(page.body()).unwrap();
    assert!(
        body.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains(EVIL_TOPIC));
    assert!(body.contains("&lt;b&gt;Bob&lt;/b&gt;"));
    assert!(body.contains("&lt;i&gt;second&lt;/i&gt;"));
    assert!(!body.contains("<img"), "the deleted message's text is gone");
    assert!(body.contains("deleted"));
    assert!(body.contains(&ann) && body.contains(&thread));
    // No token, key or signature.
    assert!(!body.contains(&ann_token));
    assert!(!body.contains(DEV_ACCESS_KEY));
    assert!(!body.contains(h.emulator.web_view_url().split("token=").nth(1).unwrap()));
    // The fragment the script fetches is the same content.
    let state = get(&h, "/_emulator/state").await;
    assert!(
        std::str::from_utf8(state.body())
            .unwrap()
            .contains("&lt;i&gt;second&lt;/i&gt;")
    );
    // The script and the style; unknown routes.
    assert_eq!(get(&h, "/_emulator/app.js").await.status(), 200);
    assert_eq!(get(&h, "/_emulator/app.css").await.status(), 200);
    assert_eq!(get(&h, "/_emulator/nope").await.status(), 404);
    let redirect = get(&h, "/_emulator?token=x").await;
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "/_emulator/?token=x");
}

#[tokio::test]
async fn the_event_stream_tells_what_changed() {
    let h = Harness::with(Emulator::builder().http(true)).await;
    let (_, token) = h.user();
    let tcp = tokio::net::TcpStream::connect(h.emulator.local_addr())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get("/_emulator/events")
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let mut body = response.into_body();
    let mut text = String::new();
    let mut read_until = async |needle: &str, text: &mut String| {
        while !text.contains(needle) {
            let frame = body.frame().await.expect("the stream goes on").unwrap();
            if let Ok(data) = frame.into_data() {
                text.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    };
    read_until("event: ready\n", &mut text).await;
    let mut op = CreateChatThread::new("", Default::default());
    op.body = CreateChatThreadRequest::new("live");
    let thread = h.call(&op, &token).await.unwrap().chat_thread.unwrap().id;
    read_until("\"chatThreadCreated\"", &mut text).await;
    let line = text
        .lines()
        .find(|l| l.contains("chatThreadCreated"))
        .unwrap();
    assert!(line.starts_with("data: {"), "{text}");
    assert!(
        line.contains(&format!("\"threadId\":\"{thread}\"")),
        "{line}"
    );
    assert!(text.contains("event: chat\ndata: "), "{text}");
}
