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

/// What failed and why, as the client says it (the operation, the service's status, code,
/// message and request id, or the transport's explanation, each bounded), then the root cause
/// and a hint when there is one. Never contains a token (no error of the client does).
pub(crate) fn describe(e: &acs_chat::Error) -> String {
    if let Some(service) = e.service_error() {
        return describe_service(e, service);
    }
    let mut text = e.to_string();
    // The client's message already says what each layer would; its root cause may add the
    // operating system's words ("Connection refused").
    let mut root = e.source();
    while let Some(next) = root.and_then(|s| s.source()) {
        root = Some(next);
    }
    if let Some(root) = root {
        text.push_str(": ");
        text.push_str(&root.to_string());
    }
    let hint = match e.transport_error() {
        Some(t) => transport_hint(t.kind()),
        None if e.kind() == ErrorKind::Timeout || e.is_budget_exhausted() => {
            Some("a longer --timeout gives the call more time")
        }
        None => None,
    };
    if let Some(hint) = hint {
        text.push_str(" (hint: ");
        text.push_str(hint);
        text.push(')');
    }
    sanitize(&bounded(&text, MAX_ERROR_LINE)).into_owned()
}

/// `<status> <code>: <message> (request id <id>, after N attempts)`, the way az prints the
/// service's errors (the operation id, which the library's message starts with, is left out).
fn describe_service(e: &acs_chat::Error, service: &acs_chat::ServiceError) -> String {
    let mut text = service.status().as_str().to_owned();
    if let Some(code) = service.code() {
        text.push(' ');
        text.push_str(code);
    }
    if let Some(message) = service.message() {
        text.push_str(": ");
        text.push_str(&bounded(message, MAX_SERVICE_MESSAGE));
    }
    let mut notes = Vec::new();
    if e.kind() == ErrorKind::UnexpectedStatus {
        notes.push("a status the API does not document for this operation".to_owned());
    }
    if let Some(id) = service.request_id() {
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
    sanitize(&bounded(&text, MAX_ERROR_LINE)).into_owned()
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
