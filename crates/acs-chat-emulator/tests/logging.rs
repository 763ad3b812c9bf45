//! Requests are logged with method, path, status and duration, never tokens or signatures.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use acs_chat_protocol::identity::{CreateUser, IDENTITY_API_VERSION, sign_request};
use acs_chat_protocol::operations::ListChatThreads;
use acs_chat_protocol::{DateTime, Operation, RequestContext};
use support::Harness;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_requests_without_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::start().await;
    let (_, token) = h.user();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    let _ = h
        .call(&ListChatThreads::new(Default::default()), "bogus-token")
        .await;
    let ctx = RequestContext::new(h.ctx.endpoint().clone(), IDENTITY_API_VERSION);
    let op = CreateUser::new(Default::default());
    let mut request = op.build_request(&ctx).unwrap();
    let now = DateTime::from_system_time(std::time::SystemTime::now()).unwrap();
    sign_request(
        &mut request,
        &acs_chat_protocol::identity::AccessKey::from_base64(h.emulator.access_key()).unwrap(),
        now,
    )
    .unwrap();
    let signature = request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    op.parse_response(h.send(request).await.unwrap()).unwrap();
    let access_key = h.emulator.access_key().to_owned();
    h.emulator.shutdown().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("method=GET path=/chat/threads status=200"),
        "{logs}"
    );
    assert!(logs.contains("status=401"), "{logs}");
    assert!(
        logs.contains("method=POST path=/identities status=201"),
        "{logs}"
    );
    assert!(logs.contains("duration_ms="), "{logs}");
    for secret in [
        token.as_str(),
        "bogus-token",
        &signature,
        access_key.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {logs}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_library_installs_no_global_subscriber() {
    let h = Harness::start().await;
    let (_, token) = h.user();
    h.call(&ListChatThreads::new(Default::default()), &token)
        .await
        .unwrap();
    h.emulator.shutdown().await;
    // A global subscriber would be the default of a new thread.
    let global = std::thread::spawn(|| {
        tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
    })
    .join()
    .unwrap();
    assert!(!global);
}

/// Runs the binary (plain HTTP, any port) with `args` and `env`, sends it one request, stops it
/// with SIGTERM and returns what it wrote on stderr.
#[cfg(unix)]
fn binary_stderr(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let mut command = Command::new(env!("CARGO_BIN_EXE_acs-chat-emulator"));
    command
        .args(["--port", "0", "--http"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut endpoint = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if let Some(e) = line.strip_prefix("endpoint:") {
            endpoint = e.trim().to_owned();
            break;
        }
        line.clear();
    }
    let authority = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&authority).unwrap();
    Write::write_all(
        &mut stream,
        format!("GET /chat/threads?api-version=2025-03-15 HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success());
    stderr
}

#[cfg(unix)]
#[test]
fn the_binary_logs_one_startup_line_by_default_and_requests_at_debug() {
    let quiet = binary_stderr(&[], &[]);
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    assert!(quiet.contains("acs-chat-emulator listening"), "{quiet}");
    for (args, env) in [
        (&["--log-level", "debug"][..], &[][..]),
        (&["--verbose"][..], &[][..]),
        (&[][..], &[("RUST_LOG", "acs_chat_emulator=debug")][..]),
    ] {
        let verbose = binary_stderr(args, env);
        assert!(
            verbose.contains("method=GET path=/chat/threads status=401"),
            "{args:?} {env:?}: {verbose}"
        );
    }
    let silent = binary_stderr(&["--log-level", "off"], &[]);
    assert_eq!(silent, "");
    // --log-level wins over RUST_LOG.
    let warn_only = binary_stderr(&["--log-level", "warn"], &[("RUST_LOG", "debug")]);
    assert_eq!(warn_only, "");
}
