//! [`Error`]: the one error type of the protocol layer, and the retry classifier.
//!
//! Every non-2xx response becomes an [`Error`] of kind [`ErrorKind::Service`] in exactly one
//! function, [`Error::from_response`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::AsHeaderName;
use http::{HeaderMap, Response, StatusCode};

use crate::headers::{CLIENT_REQUEST_ID, MS_CV, REQUEST_ID};

use crate::DateTime;
use crate::models::{CommunicationError, CommunicationErrorResponse};

/// How many bytes of a non-JSON error body are kept for diagnostics.
pub const BODY_SNIPPET_LIMIT: usize = 1024;

/// How many bytes of a service error's code, message or target `Display` shows (escapes
/// included); the whole text stays available through [`ServiceError::error`].
pub const DISPLAY_TEXT_LIMIT: usize = 512;

/// What went wrong, for matching; details are on [`Error`]'s accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The service answered with a non-2xx status; see [`Error::service`].
    Service,
    /// The service answered with a 2xx status the spec does not list for the operation (for
    /// example 200 where only 201 is documented): the response is not trusted to mean success.
    /// [`Error::service`] has the status and keeps the body.
    UnexpectedStatus,
    /// A 2xx body did not parse; see [`Error::json_path`].
    Decode,
    /// An argument cannot be sent (an empty id, a value that is not a valid header, ...).
    InvalidArgument,
    /// The endpoint is not a usable URL.
    InvalidEndpoint,
    /// A URL (a nextLink, or a request being authorized) is not on the endpoint's origin, so
    /// following it would send the token elsewhere.
    ForeignOrigin,
    /// A nextLink is not a URL at all.
    InvalidNextLink,
    /// An access token is malformed (not a JWT with a numeric `exp`), or expired.
    InvalidToken,
    /// An access key or connection string is malformed.
    InvalidCredential,
}

/// Whether and how a failure may be retried. A pure function of the failure: the client's
/// retry policy combines it with the operation's idempotency and its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// 429: the service is throttling; the request was not processed. Retry after the hint.
    Throttled,
    /// 408, 500, 502, 503, 504: a transient failure. The request may or may not have been processed.
    Transient,
    /// Retrying cannot help.
    NotRetryable,
}

/// Classifies a response status.
pub fn classify_status(status: StatusCode) -> RetryClass {
    match status.as_u16() {
        429 => RetryClass::Throttled,
        408 | 500 | 502 | 503 | 504 => RetryClass::Transient,
        _ => RetryClass::NotRetryable,
    }
}

/// A server's hint of when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAfter {
    /// Wait this long (`retry-after-ms`, `x-ms-retry-after-ms`, or `Retry-After: <seconds>`).
    Delay(Duration),
    /// Wait until then (`Retry-After: <HTTP date>`).
    At(DateTime),
}

impl RetryAfter {
    /// Reads the hint from response headers: `retry-after-ms`, then `x-ms-retry-after-ms`, then
    /// `Retry-After` (seconds or an HTTP date). Malformed values are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
            if let Some(ms) = header_str(headers, name).and_then(parse_number) {
                return Some(Self::Delay(Duration::from_secs_f64(ms / 1000.0)));
            }
        }
        let value = header_str(headers, "retry-after")?;
        if let Some(secs) = parse_number(value) {
            return Some(Self::Delay(Duration::from_secs_f64(secs)));
        }
        let at = httpdate::parse_http_date(value.trim()).ok()?;
        DateTime::from_system_time(at).ok().map(Self::At)
    }

    /// The delay this hint asks for, as seen at `now` (a date in the past means zero).
    pub fn delay(&self, now: DateTime) -> Duration {
        match self {
            Self::Delay(d) => *d,
            Self::At(at) => at.saturating_duration_since(now),
        }
    }
}

/// A non-negative, finite number of at most a day's worth of milliseconds or seconds; larger
/// hints are clamped so a hostile header cannot stall a client for ever (the client caps further).
fn parse_number(value: &str) -> Option<f64> {
    let v: f64 = value.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v.min(86_400_000.0))
}

fn header_str(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The details of a response whose status is not a documented success.
#[derive(Clone, PartialEq)]
pub struct ServiceError {
    status: StatusCode,
    body: Bytes,
    error: Option<CommunicationError>,
    body_snippet: Option<String>,
    request_id: Option<String>,
    ms_cv: Option<String>,
    client_request_id: Option<String>,
    retry_after: Option<RetryAfter>,
}

impl ServiceError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The service's error, when the body was a `CommunicationErrorResponse`.
    pub fn error(&self) -> Option<&CommunicationError> {
        self.error.as_ref()
    }

    /// The service's error code (e.g. `Unauthorized`, `Forbidden`, `TooManyRequests`).
    pub fn code(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.code.as_str())
    }

    /// The service's error message.
    pub fn message(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }

    /// The whole body, as received (bounded by the transport's response limit).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Up to [`BODY_SNIPPET_LIMIT`] bytes of the body (lossy UTF-8), when it was not a service error.
    pub fn body_snippet(&self) -> Option<&str> {
        self.body_snippet.as_deref()
    }

    /// `x-ms-request-id`, the service's id for the request.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// `MS-CV`, the correlation vector.
    pub fn ms_cv(&self) -> Option<&str> {
        self.ms_cv.as_deref()
    }

    /// `x-ms-client-request-id` as echoed by the service.
    pub fn client_request_id(&self) -> Option<&str> {
        self.client_request_id.as_deref()
    }

    /// The retry hint, if the response carried one.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// How the status classifies for retries.
    pub fn retry_class(&self) -> RetryClass {
        classify_status(self.status)
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("status", &self.status)
            .field("error", &self.error)
            .field("body_snippet", &self.body_snippet)
            .field("request_id", &self.request_id)
            .field("ms_cv", &self.ms_cv)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

/// `Display` says the status, the service's code, message and target, and the request id.
/// Text from the response is bounded ([`DISPLAY_TEXT_LIMIT`] bytes each, with the full size
/// said) and control characters (C0, C1 and bidirectional overrides) are escaped, so that a
/// hostile response can neither flood a log nor rewrite the terminal it is printed on.
impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service returned {}", self.status)?;
        if let Some(e) = &self.error {
            f.write_str(": ")?;
            write_bounded(f, &e.code, DISPLAY_TEXT_LIMIT)?;
            f.write_str(": ")?;
            write_bounded(f, &e.message, DISPLAY_TEXT_LIMIT)?;
            if let Some(target) = &e.target {
                f.write_str(" (target ")?;
                write_bounded(f, target, DISPLAY_TEXT_LIMIT)?;
                f.write_str(")")?;
            }
        } else if let Some(snippet) = self.body_snippet.as_deref().filter(|s| !s.is_empty()) {
            f.write_str(": ")?;
            write_bounded(f, snippet, BODY_SNIPPET_LIMIT)?;
        }
        if let Some(id) = &self.request_id {
            f.write_str(" [x-ms-request-id ")?;
            write_bounded(f, id, 128)?;
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// Writes at most `limit` bytes of `text` (counted as written: an escaped character counts its
/// escape), escaping control and bidirectional-formatting characters, and says how long the
/// text was when it is cut.
pub(crate) fn write_bounded(f: &mut impl fmt::Write, text: &str, limit: usize) -> fmt::Result {
    let mut written = 0;
    let mut escape = String::new();
    for (i, c) in text.char_indices() {
        escape.clear();
        let piece: &str = if is_dangerous(c) {
            use fmt::Write as _;
            let _ = write!(escape, "{}", c.escape_unicode());
            &escape
        } else {
            &text[i..i + c.len_utf8()]
        };
        if written + piece.len() > limit {
            return write!(f, "… ({} bytes in all)", text.len());
        }
        f.write_str(piece)?;
        written += piece.len();
    }
    Ok(())
}

/// C0 and C1 controls, and the characters that reorder or hide text on a terminal.
pub(crate) fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
                | '\u{061C}' | '\u{FEFF}'
        )
}

/// The error of the protocol layer.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<ServiceError>,
    json_path: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                service: None,
                json_path: None,
                source: None,
            }),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn invalid_endpoint(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidEndpoint, message)
    }

    pub(crate) fn foreign_origin(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ForeignOrigin, message)
    }

    pub(crate) fn invalid_next_link(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidNextLink, message)
    }

    pub(crate) fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidToken, message)
    }

    pub(crate) fn invalid_credential(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidCredential, message)
    }

    pub(crate) fn decode(path: String, message: String) -> Self {
        let mut e = Self::new(ErrorKind::Decode, message);
        e.inner.json_path = Some(path);
        e
    }

    /// Turns a response whose status is not a documented success into an error: the service
    /// error when the body is one, a bounded snippet otherwise, the whole body, the request ids
    /// and the retry hints. A 2xx is [`ErrorKind::UnexpectedStatus`], anything else
    /// [`ErrorKind::Service`]. The one place where that happens.
    pub fn from_response(response: &Response<Bytes>) -> Self {
        let headers = response.headers();
        let body = response.body();
        let error = serde_json::from_slice::<CommunicationErrorResponse>(body)
            .ok()
            .map(|r| r.error);
        let body_snippet = if error.is_none() {
            Some(snippet(body))
        } else {
            None
        };
        let service = ServiceError {
            status: response.status(),
            body: body.clone(),
            error,
            body_snippet,
            request_id: header_str(headers, REQUEST_ID).map(str::to_owned),
            ms_cv: header_str(headers, MS_CV).map(str::to_owned),
            client_request_id: header_str(headers, CLIENT_REQUEST_ID).map(str::to_owned),
            retry_after: RetryAfter::from_headers(headers),
        };
        let kind = if response.status().is_success() {
            ErrorKind::UnexpectedStatus
        } else {
            ErrorKind::Service
        };
        let message = match kind {
            ErrorKind::UnexpectedStatus => {
                format!("{service} (a status the spec does not document for this operation)")
            }
            _ => service.to_string(),
        };
        let mut e = Self::new(kind, message);
        e.inner.service = Some(service);
        e
    }

    /// Adds a source error.
    #[allow(dead_code)]
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The service's error details, for [`ErrorKind::Service`].
    pub fn service(&self) -> Option<&ServiceError> {
        self.inner.service.as_ref()
    }

    /// The HTTP status, for [`ErrorKind::Service`].
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.service.as_ref().map(|s| s.status)
    }

    /// The JSON path that failed to parse, for [`ErrorKind::Decode`] (e.g. `value[3].createdOn`).
    pub fn json_path(&self) -> Option<&str> {
        self.inner.json_path.as_deref()
    }

    /// How the failure classifies for retries; only service errors can be retryable here
    /// (transport failures are classified by the transport layer).
    pub fn retry_class(&self) -> RetryClass {
        self.inner
            .service
            .as_ref()
            .map_or(RetryClass::NotRetryable, ServiceError::retry_class)
    }

    /// Whether a nextLink or request URL pointed away from the endpoint's origin.
    pub fn is_foreign_origin(&self) -> bool {
        self.inner.kind == ErrorKind::ForeignOrigin
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(s) = &self.inner.service {
            d.field("service", s);
        }
        if let Some(p) = &self.inner.json_path {
            d.field("json_path", p);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.inner.kind, &self.inner.json_path) {
            (ErrorKind::Decode, Some(path)) => {
                // The path has the response's map keys in it: bounded and escaped like the
                // service's texts (the whole path stays available from `json_path`).
                f.write_str("response body did not parse at `")?;
                write_bounded(f, path, DISPLAY_TEXT_LIMIT)?;
                write!(f, "`: {}", self.inner.message)
            }
            _ => f.write_str(&self.inner.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// At most [`BODY_SNIPPET_LIMIT`] bytes, cut on a character boundary, lossy UTF-8.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_SNIPPET_LIMIT)]);
    let mut text = text.into_owned();
    if body.len() > BODY_SNIPPET_LIMIT {
        text.push('…');
    }
    text
}

/// Parses a 2xx JSON body. The fast path is plain serde_json; only when that fails is the body
/// parsed again to find the JSON path of the failure. Quoted values are removed from the message
/// so that a response's content (or a token) never ends up in an error.
pub(crate) fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    parse_json_body_seed(body, std::marker::PhantomData::<T>)
}

/// [`parse_json_body`] with a seed (which must deserialize like `T`'s own impl, for the error
/// path).
///
/// The body is checked as UTF-8 once, as a whole, and parsed as a `str`: serde_json then skips
/// the check it otherwise makes of every string (`from_slice`), which costs several times more
/// over many short strings. A body that is not UTF-8 goes through `from_slice`, which fails
/// with the error it always did.
pub(crate) fn parse_json_body_seed<T, S>(body: &[u8], seed: S) -> Result<T, Error>
where
    T: serde::de::DeserializeOwned,
    S: for<'de> serde::de::DeserializeSeed<'de, Value = T>,
{
    let parsed = match std::str::from_utf8(body) {
        Ok(text) => from_reader(serde_json::Deserializer::from_str(text), seed),
        Err(_) => from_reader(serde_json::Deserializer::from_slice(body), seed),
    };
    match parsed {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let path = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => e.path().to_string(),
                Ok(_) => ".".to_string(),
            };
            Err(Error::decode(path, redact(&first.to_string())))
        }
    }
}

/// `serde_json::from_str`/`from_slice` with a seed: the value, then only whitespace.
fn from_reader<'de, R, S>(
    mut de: serde_json::Deserializer<R>,
    seed: S,
) -> Result<S::Value, serde_json::Error>
where
    R: serde_json::de::Read<'de>,
    S: serde::de::DeserializeSeed<'de>,
{
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Replaces the contents of every `"..."` in a serde message with `…`.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Bytes> {
        let mut b = Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Bytes::from(body.to_owned())).unwrap()
    }

    #[test]
    fn service_error_with_body_and_ids() {
        let r = response(
            403,
            &[("x-ms-request-id", "req-1"), ("MS-CV", "cv.1")],
            r#"{"error":{"code":"Forbidden","message":"User is not allowed to perform specified action.","target":"thread","details":[{"code":"a","message":"b"}],"innererror":{"code":"inner","message":"m"}}}"#,
        );
        let e = Error::from_response(&r);
        assert_eq!(e.kind(), ErrorKind::Service);
        let s = e.service().unwrap();
        assert_eq!(s.status(), StatusCode::FORBIDDEN);
        assert_eq!(s.code(), Some("Forbidden"));
        assert_eq!(s.error().unwrap().details.as_ref().unwrap().len(), 1);
        assert_eq!(
            s.error().unwrap().inner_error.as_ref().unwrap().code,
            "inner"
        );
        assert_eq!(s.request_id(), Some("req-1"));
        assert_eq!(s.ms_cv(), Some("cv.1"));
        assert_eq!(e.retry_class(), RetryClass::NotRetryable);
        assert!(e.to_string().contains("Forbidden"));
        assert!(e.to_string().contains("req-1"));
    }

    /// Escapes count against the bound: text made only of characters that are escaped (10
    /// bytes each) cannot make `Display` ten times longer.
    #[test]
    fn escaped_text_is_bounded_by_what_is_written() {
        let controls = "\\u0001".repeat(5000);
        let body = format!(
            r#"{{"error":{{"code":"{controls}","message":"{controls}","target":"{controls}"}}}}"#
        );
        let e = Error::from_response(&response(
            400,
            &[("x-ms-request-id", &"r".repeat(5000))],
            &body,
        ));
        let shown = e.to_string();
        assert!(
            shown.len() < 3 * DISPLAY_TEXT_LIMIT + 300,
            "{} bytes: {shown}",
            shown.len()
        );
        assert!(shown.contains("\\u{1}"), "{shown}");
        assert!(!shown.chars().any(is_dangerous), "{shown}");
        assert!(shown.contains("(5000 bytes in all)"), "{shown}");
    }

    #[test]
    fn display_is_bounded_and_escapes_terminal_controls() {
        let huge = "x".repeat(20 * 1024 * 1024);
        let body = format!(
            r#"{{"error":{{"code":"BadRequest","message":"{huge}","target":"\u202eevil\u009b2J"}}}}"#
        );
        let e = Error::from_response(&response(400, &[], &body));
        let shown = e.to_string();
        assert!(
            shown.len() < 2 * DISPLAY_TEXT_LIMIT,
            "{} bytes",
            shown.len()
        );
        assert!(shown.contains("(20971520 bytes in all)"), "{shown}");
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\u{9b}'),
            "{shown}"
        );
        assert!(shown.contains("\\u{202e}evil\\u{9b}2J"), "{shown}");
        // The whole message is still there for code that wants it.
        assert_eq!(e.service().unwrap().message().unwrap().len(), huge.len());
    }

    #[test]
    fn non_json_error_keeps_a_bounded_snippet() {
        let body = "x".repeat(5000);
        let e = Error::from_response(&response(502, &[], &body));
        let s = e.service().unwrap();
        assert!(s.error().is_none());
        assert!(s.body_snippet().unwrap().len() <= BODY_SNIPPET_LIMIT + '…'.len_utf8());
        assert_eq!(e.retry_class(), RetryClass::Transient);
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse("2015-10-21T07:28:00Z").unwrap();
        let h = |k: &str, v: &str| response(429, &[(k, v)], "").headers().clone();
        assert_eq!(
            RetryAfter::from_headers(&h("retry-after", "7")),
            Some(RetryAfter::Delay(Duration::from_secs(7)))
        );
        assert_eq!(
            RetryAfter::from_headers(&h("retry-after-ms", "250")),
            Some(RetryAfter::Delay(Duration::from_millis(250)))
        );
        assert_eq!(
            RetryAfter::from_headers(&h("x-ms-retry-after-ms", "1500")),
            Some(RetryAfter::Delay(Duration::from_millis(1500)))
        );
        let at =
            RetryAfter::from_headers(&h("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")).unwrap();
        assert_eq!(at.delay(now), Duration::from_secs(30));
        assert_eq!(RetryAfter::from_headers(&h("retry-after", "soon")), None);
        assert_eq!(RetryAfter::from_headers(&h("retry-after", "-5")), None);
        // retry-after-ms wins over Retry-After
        let both = response(429, &[("retry-after", "9"), ("retry-after-ms", "10")], "");
        assert_eq!(
            RetryAfter::from_headers(both.headers()),
            Some(RetryAfter::Delay(Duration::from_millis(10)))
        );
    }

    #[test]
    fn classifier() {
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS),
            RetryClass::Throttled
        );
        for s in [408, 500, 502, 503, 504] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                RetryClass::Transient
            );
        }
        for s in [400, 401, 403, 404, 409, 413, 501] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                RetryClass::NotRetryable
            );
        }
    }

    /// Found by the `parse_response` fuzz target: a map key in the path of a decode error
    /// made its `Display` as long as the key.
    #[test]
    fn decode_error_path_is_bounded_and_escaped() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            metadata: std::collections::BTreeMap<String, String>,
        }
        let key = format!("\\u202e{}", "k".repeat(5000));
        let body = format!(r#"{{"metadata":{{"{key}":1}}}}"#);
        let e = parse_json_body::<Outer>(body.as_bytes()).unwrap_err();
        // The whole path is still there for code that wants it.
        assert_eq!(
            e.json_path(),
            Some(format!("metadata.\u{202e}{}", "k".repeat(5000)).as_str())
        );
        let shown = e.to_string();
        assert!(
            shown.len() < 2 * DISPLAY_TEXT_LIMIT,
            "{} bytes",
            shown.len()
        );
        assert!(
            !shown.contains('\u{202e}') && shown.contains("\\u{202e}"),
            "{shown}"
        );
    }

    #[test]
    fn decode_error_names_path_and_hides_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            value: Vec<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            n: i32,
        }
        let e =
            parse_json_body::<Outer>(br#"{"value":[{"n":1},{"n":"secret-token"}]}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert_eq!(e.json_path(), Some("value[1].n"));
        assert!(!e.to_string().contains("secret-token"), "{e}");
    }
}
