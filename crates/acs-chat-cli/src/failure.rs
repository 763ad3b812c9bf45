//! Why a command did not succeed, and how that is told on stderr: what failed, why, and what
//! to do about it, bounded and without secrets.

use std::error::Error as _;
use std::sync::atomic::{AtomicBool, Ordering};

use acs_chat::{ErrorKind, TransportErrorKind};

use crate::text::{bounded, redact, sanitize};

/// The most bytes of a service's error message that are printed.
const MAX_SERVICE_MESSAGE: usize = 1024;
/// The most bytes of any error line that are printed.
const MAX_ERROR_LINE: usize = 4096;

/// Whether the endpoint in use is plain `http://` (set once, when the client is built), so a
/// garbled answer can be explained by a server that speaks HTTPS.
static PLAIN_HTTP: AtomicBool = AtomicBool::new(false);

/// Remembers that the endpoint is plain `http://`.
pub(crate) fn note_plain_http(plain: bool) {
    PLAIN_HTTP.store(plain, Ordering::Relaxed);
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A missing or malformed argument: exit 2.
    Usage(String),
    /// The call failed at run time: exit 1.
    Runtime(String),
}

impl Failure {
    /// The exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) => 1,
        }
    }

    /// The `error: …` line for stderr: escaped, bounded, secrets redacted.
    pub(crate) fn line(&self) -> String {
        let (Self::Usage(m) | Self::Runtime(m)) = self;
        format!("error: {}", printable(m))
    }
}

/// `text` made fit for stderr: secrets redacted, unsafe characters escaped, length bounded.
pub(crate) fn printable(text: &str) -> String {
    bounded(&sanitize(&redact(text)), MAX_ERROR_LINE).into_owned()
}

/// [`printable`] line by line (clap's usage errors span several lines).
pub(crate) fn printable_multiline(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

/// A failed call: exit 1, or 2 when the client refused an argument.
pub(crate) fn call_failed(e: acs_chat::Error) -> Failure {
    let message = describe(&e);
    if e.kind() == ErrorKind::InvalidArgument {
        Failure::Usage(message)
    } else {
        Failure::Runtime(message)
    }
}

/// `<status> <code>: <message> (request id <id>)` for the service's errors; otherwise what
/// failed and why, down the source chain, and a hint when there is one. Never contains a token
/// (no error of the client or the protocol does).
pub(crate) fn describe(e: &acs_chat::Error) -> String {
    let mut text = String::new();
    if let (ErrorKind::Service, Some(status)) = (e.kind(), e.status()) {
        text.push_str(status.as_str());
        if let Some(code) = e.code() {
            text.push(' ');
            text.push_str(code);
        }
        if let Some(message) = e.message() {
            text.push_str(": ");
            text.push_str(&bounded(message, MAX_SERVICE_MESSAGE));
        }
        let mut notes = Vec::new();
        if let Some(id) = e.request_id() {
            notes.push(format!("request id {id}"));
        }
        if e.attempts() > 1 {
            notes.push(format!("after {} attempts", e.attempts()));
        }
        if e.is_budget_exhausted() {
            notes.push("the --timeout would have passed before the next retry".to_owned());
        }
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join(", ")));
        }
    } else if let Some(t) = e.transport_error() {
        // `<operation>: <kind> (after N attempts): <context>: <root cause>`; the layers in
        // between (hyper's "client error (Connect)", ...) only repeat the kind.
        text.push_str(&e.to_string());
        if !t.message().is_empty() {
            text.push_str(": ");
            text.push_str(t.message());
        }
        let mut root = t.source();
        while let Some(next) = root.and_then(|s| s.source()) {
            root = Some(next);
        }
        if let Some(root) = root {
            text.push_str(": ");
            text.push_str(&root.to_string());
        }
        if let Some(hint) = transport_hint(t.kind()) {
            text.push_str(" (hint: ");
            text.push_str(hint);
            text.push(')');
        }
    } else {
        text.push_str(&e.to_string());
        let mut source = e.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !text.contains(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            source = s.source();
        }
        if e.kind() == ErrorKind::Timeout {
            text.push_str(" (hint: a longer --timeout gives the call more time)");
        }
    }
    sanitize(&text).into_owned()
}

/// What the user can do about a transport failure, from its kind (not its text).
fn transport_hint(kind: TransportErrorKind) -> Option<&'static str> {
    let plain_http = PLAIN_HTTP.load(Ordering::Relaxed);
    match kind {
        TransportErrorKind::Tls => Some(
            "the server's certificate is not trusted here; for an emulator or a private CA, \
             pass its CA certificate with --ca-cert <PEM> or ACS_CHAT_CA_CERT \
             (`acs-chat emulator` prints the path of its CA file when it starts)",
        ),
        TransportErrorKind::InvalidResponse | TransportErrorKind::ConnectionLost if plain_http => {
            Some(
                "the server did not answer in plain HTTP: it probably speaks HTTPS, as \
                 `acs-chat emulator` does unless started with --http; use an https:// \
                 endpoint without --allow-http",
            )
        }
        _ => None,
    }
}
