//! [`ChatImage`]: what the image download returns.

use bytes::Bytes;

/// An image's bytes and media type (`GetChatImage`, api-version 2024-03-15-preview).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatImage {
    /// The `Content-Type` the service sent (e.g. `image/png`).
    pub content_type: Option<String>,
    /// The image.
    pub data: Bytes,
}

impl ChatImage {
    /// An image from its media type and bytes.
    pub fn new(content_type: Option<String>, data: Bytes) -> Self {
        Self { content_type, data }
    }
}
