//! [`StoreError`]: the failure of a store operation, with the HTTP status and error body it maps to.

use std::fmt;

use acs_chat_protocol::models::{CommunicationError, CommunicationErrorResponse};

/// The failure of a store operation, with the HTTP status and error body it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    status: u16,
    code: String,
    message: String,
    target: Option<String>,
    retry_after: Option<u64>,
}

impl StoreError {
    /// An error with a status, a code and a message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            target: None,
            retry_after: None,
        }
    }

    /// Sets the `target` of the error body (the field at fault).
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub(crate) fn bad_request(target: &str, message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message).with_target(target)
    }

    pub(crate) fn validation(target: &str, message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message).with_target(target)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(
            403,
            "Forbidden",
            "User is not allowed to perform specified action.",
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    /// Sets the seconds of the response's `Retry-After` header.
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(super) fn throttled(retry_after: u64) -> Self {
        Self::new(429, "TooManyRequests", "Rate limit exceeded.")
            .with_retry_after(retry_after.max(1))
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error code of the body.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message of the body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The target of the body, when a field is at fault.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Seconds to wait, for a 429.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after
    }

    /// The `{"error": {...}}` body.
    pub fn to_model(&self) -> CommunicationErrorResponse {
        let mut error = CommunicationError::new(self.code.clone(), self.message.clone());
        error.target = self.target.clone();
        CommunicationErrorResponse::new(error)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for StoreError {}
