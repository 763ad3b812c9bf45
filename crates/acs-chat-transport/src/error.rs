//! The one error type of the transport layer.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error that can cross threads; the type of [`TransportError`]'s source.
type BoxError = Box<dyn StdError + Send + Sync>;

/// What went wrong while exchanging one request for one response.
///
/// The retry logic of the client decides on these kinds (together with
/// [`TransportError::request_not_sent`]); new kinds may be added, so match with a
/// wildcard arm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// No connection could be established (DNS, TCP refused or reset during connect,
    /// invalid server name). The request never left: safe to retry for any method.
    Connect,
    /// A deadline passed: the connect timeout (the request was not sent, see
    /// [`TransportError::request_not_sent`]) or the whole-request timeout (the request may
    /// have been processed).
    Timeout,
    /// The TLS layer failed: an untrusted or invalid certificate, a handshake failure,
    /// a TLS alert. Not worth retrying with the same configuration.
    Tls,
    /// The connection broke after the request was (maybe) written: the server may
    /// have processed it. Only safe to retry for idempotent requests, unless
    /// [`TransportError::request_not_sent`] says it never got there (a closing connection
    /// gave it back, or an HTTP/2 server refused it unprocessed).
    ConnectionLost,
    /// The response body exceeded the configured limit; reading stopped at the limit.
    BodyTooLarge,
    /// The response was not valid HTTP (a malformed status line, headers or body framing).
    InvalidResponse,
    /// The URI scheme is `http` and plain HTTP was not explicitly allowed.
    InsecureScheme,
    /// The request can not be sent as built (no absolute URI, unsupported scheme, a header
    /// the HTTP stack refuses).
    InvalidRequest,
    /// The transport is misconfigured (bad PEM, no trusted roots, no crypto provider,
    /// no async runtime).
    Config,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Connect => "connect error",
            Self::Timeout => "timed out",
            Self::Tls => "TLS error",
            Self::ConnectionLost => "connection lost",
            Self::BodyTooLarge => "response body too large",
            Self::InvalidResponse => "invalid response",
            Self::InsecureScheme => "insecure scheme refused",
            Self::InvalidRequest => "invalid request",
            Self::Config => "transport configuration error",
            Self::Other => "transport error",
        }
    }

    /// The kinds for which the server can not have seen the request.
    fn implies_not_sent(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::InsecureScheme | Self::InvalidRequest | Self::Config
        )
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The error of a [`Transport`](crate::Transport): a [kind](TransportErrorKind), a
/// context message and, when there is one, the underlying error as
/// [`source()`](StdError::source).
///
/// The message carries context such as the origin (`https://host:port`) and the
/// configured limit; it never contains header values, paths, query strings or other
/// secrets. `Display` shows the kind and the message but not the source: walk
/// [`source()`](StdError::source) to see the underlying hyper, rustls or io error.
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<BoxError>,
    not_sent: bool,
}

impl TransportError {
    /// A new error of `kind` with a context `message` (which must not contain secrets).
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            not_sent: kind.implies_not_sent(),
        }
    }

    /// Attaches the underlying error, returned by [`source()`](StdError::source).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Marks that the server can not have seen the request, whatever the kind (for
    /// example a timeout or a TLS failure while connecting). Transports that know the
    /// request never left should call this so the client may retry any method.
    #[must_use]
    pub fn mark_request_not_sent(mut self) -> Self {
        self.not_sent = true;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The context message (without the source).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// No connection could be established; the request never left, so it is safe to
    /// retry for any method.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }

    /// A connect or request deadline passed. See [`request_not_sent`](Self::request_not_sent)
    /// to tell the two apart.
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
    }

    /// The TLS layer failed (for example an untrusted certificate). Not retryable.
    pub fn is_tls(&self) -> bool {
        self.kind == TransportErrorKind::Tls
    }

    /// The connection broke after the request was (maybe) sent: the server may have
    /// processed it.
    pub fn is_connection_lost(&self) -> bool {
        self.kind == TransportErrorKind::ConnectionLost
    }

    /// The response body exceeded the configured limit.
    pub fn is_body_too_large(&self) -> bool {
        self.kind == TransportErrorKind::BodyTooLarge
    }

    /// `true` when the server can not have seen the request: the kinds
    /// [`Connect`](TransportErrorKind::Connect),
    /// [`InsecureScheme`](TransportErrorKind::InsecureScheme),
    /// [`InvalidRequest`](TransportErrorKind::InvalidRequest) and
    /// [`Config`](TransportErrorKind::Config), and errors marked with
    /// [`mark_request_not_sent`](Self::mark_request_not_sent) (the hyper transport marks
    /// TLS handshake failures, connect timeouts, requests a closing connection gave back,
    /// and HTTP/2 requests the server refused unprocessed: `REFUSED_STREAM`, or above its
    /// `GOAWAY`'s last stream id, RFC 9113 §8.7). A request that was not sent is safe
    /// to retry whatever its method.
    pub fn request_not_sent(&self) -> bool {
        self.not_sent
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("request_not_sent", &self.not_sent)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind.describe())
        } else {
            write!(f, "{}: {}", self.kind.describe(), self.message)
        }
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_does_not_repeat_the_source() {
        let io = std::io::Error::other("socket exploded");
        let err = TransportError::new(TransportErrorKind::Connect, "to https://example.com:443")
            .with_source(io);
        assert_eq!(err.to_string(), "connect error: to https://example.com:443");
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("socket exploded")
        );
    }

    #[test]
    fn not_sent_follows_the_kind_unless_marked() {
        use TransportErrorKind as K;
        for kind in [K::Connect, K::InsecureScheme, K::InvalidRequest, K::Config] {
            assert!(TransportError::new(kind, "").request_not_sent(), "{kind:?}");
        }
        for kind in [
            K::Timeout,
            K::Tls,
            K::ConnectionLost,
            K::BodyTooLarge,
            K::InvalidResponse,
            K::Other,
        ] {
            let err = TransportError::new(kind, "");
            assert!(!err.request_not_sent(), "{kind:?}");
            assert!(err.mark_request_not_sent().request_not_sent(), "{kind:?}");
        }
    }

    #[test]
    fn predicates_match_kinds() {
        use TransportErrorKind as K;
        let e = |k| TransportError::new(k, "m");
        assert!(e(K::Connect).is_connect());
        assert!(e(K::Timeout).is_timeout());
        assert!(e(K::Tls).is_tls());
        assert!(e(K::ConnectionLost).is_connection_lost());
        assert!(e(K::BodyTooLarge).is_body_too_large());
        assert!(!e(K::Other).is_connect());
        assert_eq!(e(K::Other).kind(), K::Other);
        assert_eq!(e(K::Other).message(), "m");
        assert_eq!(e(K::Other).to_string(), "transport error: m");
    }

    #[test]
    fn is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<TransportError>();
    }
}
