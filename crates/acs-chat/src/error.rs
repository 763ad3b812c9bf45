//! [`Error`]: the one error type of the client.

use std::error::Error as StdError;
use std::fmt;

use acs_chat_protocol::ServiceError;
use acs_chat_transport::TransportError;
use http::StatusCode;

/// What went wrong, for matching; details are on [`Error`]'s accessors and its
/// [`source()`](StdError::source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The service answered with a non-2xx status: see [`Error::status`], [`Error::code`],
    /// [`Error::message`], [`Error::request_id`] and [`Error::service_error`].
    Service,
    /// The service answered with a 2xx status the spec does not document for the operation:
    /// not trusted to mean success. [`Error::status`] and [`Error::service_error`] (with the
    /// whole body) tell what came.
    UnexpectedStatus,
    /// The transport failed (connect, TLS, connection lost, ...): see [`Error::transport_error`].
    Transport,
    /// A client-side deadline passed: the per-attempt timeout, or the overall time budget while a
    /// request was in flight.
    Timeout,
    /// The service sent a nextLink that points away from the endpoint's origin; it was not
    /// followed, so the token was not sent there.
    ForeignNextLink,
    /// The service (or a continuation) gave a nextLink that is not a URL.
    InvalidNextLink,
    /// The service sent a nextLink that the list had already followed: following it would
    /// never end.
    PagingLoop,
    /// The list reached its page cap ([`Pager::max_pages`](crate::Pager::max_pages)).
    PageLimit,
    /// The credential failed: a malformed or expired token, a refresher that failed or returned
    /// an expired token, a malformed access key or connection string.
    Credential,
    /// An argument or a builder setting cannot be used (an empty id, a bad endpoint, plain
    /// `http` without `allow_insecure_http`, ...).
    InvalidArgument,
    /// A 2xx response body did not parse.
    Decode,
    /// A local resource failed: an [`EventGridListener`](crate::EventGridListener) could not
    /// bind its address.
    Io,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Service => "the service returned an error",
            Self::UnexpectedStatus => "the service returned an undocumented status",
            Self::Transport => "the request could not be completed",
            Self::Timeout => "the request timed out",
            Self::ForeignNextLink => "refused to follow a nextLink to another origin",
            Self::InvalidNextLink => "the nextLink is not a valid URL",
            Self::PagingLoop => "the nextLinks loop",
            Self::PageLimit => "the list reached its page cap",
            Self::Credential => "the credential failed",
            Self::InvalidArgument => "invalid argument",
            Self::Decode => "the response body did not parse",
            Self::Io => "a local resource failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

enum Source {
    None,
    Protocol(acs_chat_protocol::Error),
    Transport(TransportError),
    Other(BoxError),
}

/// The error of every client call.
///
/// `Display` says what failed and why, once: the operation, then the service's status, code,
/// message and request id (bounded and escaped), or the transport's or the credential's
/// explanation, then the number of attempts. [`source()`](StdError::source) is the underlying
/// cause that `Display` does not already say (for example the rustls error under a TLS
/// failure), so a printed cause chain never repeats itself. The layer's own error values stay
/// reachable through [`service_error`](Self::service_error),
/// [`transport_error`](Self::transport_error) and [`protocol_error`](Self::protocol_error).
/// Nothing here ever contains an access token.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    operation: Option<&'static str>,
    attempts: u32,
    budget_exhausted: bool,
    source: Source,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                operation: None,
                attempts: 0,
                budget_exhausted: false,
                source: Source::None,
            }),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn credential(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Credential, message)
    }

    pub(crate) fn credential_with_source(message: impl Into<String>, source: BoxError) -> Self {
        let mut e = Self::new(ErrorKind::Credential, message);
        e.inner.source = Source::Other(source);
        e
    }

    pub(crate) fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    pub(crate) fn from_transport(e: TransportError) -> Self {
        // The message is the transport error's own text; `source()` skips to its cause, so a
        // printed chain says each thing once.
        let mut err = Self::new(ErrorKind::Transport, e.to_string());
        err.inner.source = Source::Transport(e);
        err
    }

    pub(crate) fn from_protocol(e: acs_chat_protocol::Error) -> Self {
        use acs_chat_protocol::ErrorKind as P;
        let kind = match e.kind() {
            P::Service => ErrorKind::Service,
            P::UnexpectedStatus => ErrorKind::UnexpectedStatus,
            P::Decode => ErrorKind::Decode,
            P::ForeignOrigin => ErrorKind::ForeignNextLink,
            P::InvalidNextLink => ErrorKind::InvalidNextLink,
            P::InvalidToken | P::InvalidCredential => ErrorKind::Credential,
            _ => ErrorKind::InvalidArgument,
        };
        // The protocol's messages never contain a token, and the parts of a response they show
        // are bounded and escaped (see `ServiceError`'s Display).
        let mut err = Self::new(kind, e.to_string());
        err.inner.source = Source::Protocol(e);
        err
    }

    pub(crate) fn with_operation(mut self, operation: &'static str) -> Self {
        self.inner.operation = Some(operation);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32, budget_exhausted: bool) -> Self {
        self.inner.attempts = attempts;
        self.inner.budget_exhausted = budget_exhausted;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The operation that failed (the spec's operationId, e.g. `ChatThread_SendChatMessage`),
    /// when the error came from a call.
    pub fn operation(&self) -> Option<&'static str> {
        self.inner.operation
    }

    /// How many requests were sent for the call (0 when it failed before the first one).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Whether retrying stopped because the next retry would have passed the overall time
    /// budget ([`RetryOptions::max_elapsed`](crate::RetryOptions::max_elapsed)).
    pub fn is_budget_exhausted(&self) -> bool {
        self.inner.budget_exhausted
    }

    /// The service's error details, for [`ErrorKind::Service`] and
    /// [`ErrorKind::UnexpectedStatus`].
    pub fn service_error(&self) -> Option<&ServiceError> {
        match &self.inner.source {
            Source::Protocol(p) => p.service(),
            _ => None,
        }
    }

    /// The HTTP status, for [`ErrorKind::Service`].
    pub fn status(&self) -> Option<StatusCode> {
        self.service_error().map(ServiceError::status)
    }

    /// The service's error code (e.g. `Forbidden`), for [`ErrorKind::Service`].
    pub fn code(&self) -> Option<&str> {
        self.service_error().and_then(ServiceError::code)
    }

    /// The service's error message, for [`ErrorKind::Service`].
    pub fn message(&self) -> Option<&str> {
        self.service_error().and_then(ServiceError::message)
    }

    /// The service's request id (`x-ms-request-id`), for [`ErrorKind::Service`].
    pub fn request_id(&self) -> Option<&str> {
        self.service_error().and_then(ServiceError::request_id)
    }

    /// The transport's error, for [`ErrorKind::Transport`].
    pub fn transport_error(&self) -> Option<&TransportError> {
        match &self.inner.source {
            Source::Transport(t) => Some(t),
            _ => None,
        }
    }

    /// The protocol layer's error, when the failure came from building a request or parsing a
    /// response.
    pub fn protocol_error(&self) -> Option<&acs_chat_protocol::Error> {
        match &self.inner.source {
            Source::Protocol(p) => Some(p),
            _ => None,
        }
    }

    /// Whether a client-side deadline or the transport's own timeout passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
            || self
                .transport_error()
                .is_some_and(TransportError::is_timeout)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(op) = self.inner.operation {
            d.field("operation", &op);
        }
        d.field("attempts", &self.inner.attempts);
        if self.inner.budget_exhausted {
            d.field("budget_exhausted", &true);
        }
        match &self.inner.source {
            Source::None => {}
            Source::Protocol(p) => {
                d.field("source", p);
            }
            Source::Transport(t) => {
                d.field("source", t);
            }
            Source::Other(o) => {
                d.field("source", o);
            }
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.inner.operation {
            write!(f, "{op}: ")?;
        }
        f.write_str(&self.inner.message)?;
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts", self.inner.attempts)?;
            if self.inner.budget_exhausted {
                f.write_str(", time budget exhausted")?;
            }
            f.write_str(")")?;
        } else if self.inner.budget_exhausted {
            f.write_str(" (time budget exhausted)")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // The protocol and transport errors' own text is this error's message: skip to what
        // they wrap.
        match &self.inner.source {
            Source::None => None,
            Source::Protocol(p) => p.source(),
            Source::Transport(t) => t.source(),
            Source::Other(o) => Some(o.as_ref()),
        }
    }
}

impl From<acs_chat_protocol::Error> for Error {
    fn from(e: acs_chat_protocol::Error) -> Self {
        Self::from_protocol(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Self::from_transport(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acs_chat_transport::TransportErrorKind;
    use bytes::Bytes;

    fn service(status: u16) -> acs_chat_protocol::Error {
        let r = http::Response::builder()
            .status(status)
            .header("x-ms-request-id", "rid-7")
            .body(Bytes::from_static(
                br#"{"error":{"code":"Forbidden","message":"not allowed"}}"#,
            ))
            .unwrap();
        acs_chat_protocol::Error::from_response(&r)
    }

    #[test]
    fn service_errors_expose_status_code_message_and_request_id() {
        let e = Error::from(service(403))
            .with_operation("ChatThread_GetChatMessage")
            .with_attempts(1, false);
        assert_eq!(e.kind(), ErrorKind::Service);
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
        assert_eq!(e.code(), Some("Forbidden"));
        assert_eq!(e.message(), Some("not allowed"));
        assert_eq!(e.request_id(), Some("rid-7"));
        assert!(e.transport_error().is_none());
        assert_eq!(
            e.to_string(),
            "ChatThread_GetChatMessage: service returned 403 Forbidden: Forbidden: not allowed \
             [x-ms-request-id rid-7]"
        );
        // Nothing below says it again.
        assert!(e.source().is_none());
    }

    #[test]
    fn transport_errors_are_reachable_and_classified() {
        let t = TransportError::new(TransportErrorKind::Timeout, "https://h:443");
        let e = Error::from(t).with_attempts(4, true);
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.is_timeout());
        assert!(e.transport_error().unwrap().is_timeout());
        assert!(e.status().is_none());
        assert_eq!(
            e.to_string(),
            "timed out: https://h:443 (after 4 attempts, time budget exhausted)"
        );
        assert!(e.is_budget_exhausted());
        assert_eq!(e.attempts(), 4);
    }

    #[test]
    fn a_cause_chain_says_each_thing_once() {
        let io = std::io::Error::other("handshake alert 48");
        let t = TransportError::new(TransportErrorKind::Tls, "the certificate was refused")
            .with_source(io);
        let e = Error::from(t).with_operation("ChatThread_SendChatMessage");
        let mut chain = vec![e.to_string()];
        let mut next = e.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        assert_eq!(
            chain,
            [
                "ChatThread_SendChatMessage: TLS error: the certificate was refused",
                "handshake alert 48"
            ]
        );
    }
}
