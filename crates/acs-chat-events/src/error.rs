//! [`Error`]: why a request or a payload was refused.

use std::fmt;

use http::StatusCode;

/// At most this many characters of any text an error quotes (a parser's message, a header
/// value); longer text is cut and the cut said.
pub(crate) const QUOTE_LIMIT: usize = 256;

/// Why a webhook request or an Event Grid / CloudEvents payload was refused.
///
/// [`kind`](Self::kind) says what went wrong, [`event_index`](Self::event_index) which event of
/// a batch, and [`status`](Self::status) the HTTP status the webhook answers with. `Display` is
/// one bounded line; quoted input is cut at 256 characters and control characters are escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    index: Option<usize>,
}

/// What kind of [`Error`] this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is larger than the handler accepts (`413`).
    BodyTooLarge,
    /// The body is not JSON, or not the expected shape: a batch that is not an array, an event
    /// without its envelope members, a validation event without a code (`400`).
    MalformedBody,
    /// An event of a known chat type whose `data` does not fit its documented schema (`400`).
    InvalidEventData,
    /// The method is neither `POST` (deliveries) nor `OPTIONS` (the CloudEvents handshake)
    /// (`405`).
    MethodNotAllowed,
    /// A header the request needs is missing or not valid text (`400`).
    MissingHeader,
    /// The CloudEvents handshake came from an origin that is not allowed (`403`).
    OriginNotAllowed,
    /// The content type is not one the handler reads (`415`).
    UnsupportedMediaType,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            index: None,
        }
    }

    pub(crate) fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MalformedBody, message)
    }

    pub(crate) fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidEventData, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The position (from 0) of the offending event in its batch, when one event is at fault.
    pub fn event_index(&self) -> Option<usize> {
        self.index
    }

    /// The status the webhook handler answers this error with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::OriginNotAllowed => StatusCode::FORBIDDEN,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::MalformedBody | ErrorKind::InvalidEventData | ErrorKind::MissingHeader => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// A stable code for the kind, as the webhook writes it in its error body.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::BodyTooLarge => "BodyTooLarge",
            ErrorKind::MalformedBody => "MalformedBody",
            ErrorKind::InvalidEventData => "InvalidEventData",
            ErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ErrorKind::MissingHeader => "MissingHeader",
            ErrorKind::OriginNotAllowed => "OriginNotAllowed",
            ErrorKind::UnsupportedMediaType => "UnsupportedMediaType",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "event #{i}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

/// `text` for an error message: at most [`QUOTE_LIMIT`] characters (the cut said), control and
/// bidi characters escaped.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(QUOTE_LIMIT) + 16);
    for (count, c) in text.chars().enumerate() {
        if count == QUOTE_LIMIT {
            out.push_str(&format!("… ({} characters in all)", text.chars().count()));
            return out;
        }
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_bounded_and_escaped() {
        assert_eq!(quote("a\nb\u{202e}c"), "a\\nb\\u{202e}c");
        let long = "x".repeat(1000);
        let q = quote(&long);
        assert!(q.starts_with(&"x".repeat(QUOTE_LIMIT)));
        assert!(q.ends_with("(1000 characters in all)"), "{q}");
        assert!(q.chars().count() < QUOTE_LIMIT + 40);
    }

    #[test]
    fn display_names_the_event_and_status_follows_the_kind() {
        let e = Error::malformed("not an array").at(3);
        assert_eq!(e.to_string(), "event #3: not an array");
        assert_eq!(e.event_index(), Some(3));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            Error::new(ErrorKind::BodyTooLarge, "").status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            Error::new(ErrorKind::OriginNotAllowed, "").status(),
            StatusCode::FORBIDDEN
        );
    }
}
