//! Nothing a client does with its connection can crash, hang or flood the emulator: hundreds
//! of idle, slow and non-reading connections are open while a normal client is served, and the
//! server closes each of them on its own; connections over the cap are refused with one warning.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_chat_emulator::{ConnectionLimits, Emulator};
use acs_chat_protocol::operations::{ListChatMessages, ListChatMessagesOptions, SendChatMessage};
use support::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The soft limit on open files, from /proc (1024 when it cannot be read).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

fn small_limits() -> ConnectionLimits {
    let mut limits = ConnectionLimits::default();
    limits.header_read_timeout = Duration::from_secs(3);
    limits.body_read_timeout = Duration::from_secs(3);
    limits.idle_timeout = Duration::from_secs(3);
    limits
}

/// Reads until the server closes the connection (end of stream or reset); the guard only
/// keeps a broken server from hanging the test.
async fn closed_by_server(mut stream: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let wait = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .expect("the server closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_client_is_served_among_hundreds_of_hostile_connections() {
    // Each connection costs two descriptors in this process (client and server side).
    let per_kind = ((open_files_limit().saturating_sub(200)) / 8).min(100);
    assert!(per_kind >= 10, "too few file descriptors for this test");
    let h = Harness::with(
        Emulator::builder()
            .http(true)
            .connection_limits(small_limits()),
    )
    .await;
    let addr: SocketAddr = h.emulator.local_addr();
    let (_, token) = h.user();
    let thread = h.new_thread(&token, "big").await;
    for _ in 0..20 {
        let op = SendChatMessage::new(&thread, "x".repeat(20_000), Default::default());
        h.call(&op, &token).await.unwrap();
    }
    let listing = format!(
        "GET /chat/threads/{}/messages?api-version=2025-03-15&maxPageSize=50 HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\r\n",
        acs_chat_protocol::encode_path_segment(&thread)
    );

    let mut hostile = Vec::new();
    for _ in 0..per_kind {
        // Idle: connects and says nothing.
        hostile.push(TcpStream::connect(addr).await.unwrap());
        // Slowloris: half a request head.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /chat/threads?api-version=2025-03-15 HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        hostile.push(s);
        // Slow body: a head announcing 1000 bytes, then 10.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /chat/threads?api-version=2025-03-15 HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789")
            .await
            .unwrap();
        hostile.push(s);
        // Never reads: pipelines requests for ~400 KB pages and reads nothing back.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(listing.repeat(8).as_bytes()).await.unwrap();
        hostile.push(s);
    }

    // A normal client, meanwhile.
    let op = SendChatMessage::new(&thread, "still here", Default::default());
    h.call(&op, &token).await.unwrap();
    let page = h
        .call(
            &ListChatMessages::new(&thread, ListChatMessagesOptions::default().max_page_size(1)),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(
        page.items[0].content.as_ref().unwrap().message.as_deref(),
        Some("still here")
    );

    // The server drops every hostile connection by itself.
    let mut closing: tokio::task::JoinSet<()> = hostile.into_iter().map(closed_by_server).collect();
    while let Some(done) = closing.join_next().await {
        done.unwrap();
    }
    // And still serves.
    h.call(&op, &token).await.unwrap();
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn connections_over_the_cap_are_closed_with_one_warning() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut limits = ConnectionLimits::default();
    limits.max_connections = 3;
    let emulator = Emulator::builder()
        .http(true)
        .connection_limits(limits)
        .start()
        .await
        .unwrap();
    let addr = emulator.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // A full exchange proves the server took the connection in.
        s.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 404");
        held.push(s);
    }
    for _ in 0..5 {
        let over = TcpStream::connect(addr).await.unwrap();
        closed_by_server(over).await;
    }
    drop(held);
    emulator.shutdown().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        logs.matches("connection limit reached").count(),
        1,
        "{logs}"
    );
}

/// A client that reads no response body (its HTTP/2 window is 0, so no DATA frame can reach
/// it): a small response (a send-message 201) does not keep its connection's response permit
/// while it waits for the client, so with a single permit the connection's next requests are
/// still answered. (A large response keeps its permit until it is read: what bounds the memory
/// a non-reading client can hold.) That the permit is given back before the response waits for
/// its write too is `a_small_response_waiting_for_its_write_leaves_the_connection_to_others`,
/// in the crate's own tests.
#[tokio::test]
async fn unread_small_responses_do_not_hold_up_the_connection() {
    let mut limits = ConnectionLimits::default();
    limits.max_responses_per_connection = 1;
    let h = Harness::with(Emulator::builder().http(true).connection_limits(limits)).await;
    let (_, token) = h.user();
    let thread = h.new_thread(&token, "unread").await;

    let tcp = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(0)
            .initial_connection_window_size(0)
            .handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut unread = Vec::new();
    for i in 0..3 {
        let op = SendChatMessage::new(&thread, format!("message {i}"), Default::default());
        let request = h.request(&op, &token).map(http_body_util::Full::new);
        let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
            .await
            .expect("answered although the earlier bodies are unread")
            .unwrap();
        assert_eq!(response.status(), 201);
        unread.push(response);
    }
    // The messages were sent, as a normal client sees.
    let page = h
        .call(&ListChatMessages::new(&thread, Default::default()), &token)
        .await
        .unwrap();
    let texts = page
        .items
        .iter()
        .filter_map(|m| m.content.as_ref()?.message.clone())
        .filter(|t| t.starts_with("message "))
        .count();
    assert_eq!(texts, 3);
}
