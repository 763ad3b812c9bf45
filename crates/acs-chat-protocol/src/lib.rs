//! Sans-IO protocol layer for the Azure Communication Services (ACS) Chat REST API.
//!
//! Every operation of the API is a value implementing [`Operation`], generated from the official
//! spec: it builds an `http::Request<Bytes>` and parses an `http::Response<Bytes>` into a typed
//! result or an [`Error`]. Nothing here performs IO, reads a clock, draws random numbers or reads
//! the environment: time and ids come in as arguments, so the crate runs in any runtime.
//!
//! ```
//! use acs_chat_protocol::operations::{SendChatMessage, SendChatMessageOptions};
//! use acs_chat_protocol::{authorize, AccessToken, ApiVersion, Endpoint, Operation, RequestContext};
//!
//! let endpoint = Endpoint::parse("https://contoso.communication.azure.com")?;
//! let ctx = RequestContext::new(endpoint.clone(), ApiVersion::default());
//! let op = SendChatMessage::new(
//!     "19:abc@thread.v2",
//!     "hello",
//!     SendChatMessageOptions::default().sender_display_name("Ann"),
//! );
//! let mut request = op.build_request(&ctx)?;
//! # let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2ln";
//! authorize(&mut request, &endpoint, &AccessToken::from_jwt(jwt)?)?;
//! assert_eq!(
//!     request.uri(),
//!     "https://contoso.communication.azure.com/chat/threads/19%3Aabc@thread.v2/messages?api-version=2025-03-15"
//! );
//! // ... send it with any HTTP client, then:
//! let response = http::Response::builder()
//!     .status(201)
//!     .body(bytes::Bytes::from_static(br#"{"id":"1700000000000"}"#))?;
//! assert_eq!(op.parse_response(response)?.id, "1700000000000");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`operations`]: the chat operations (16 of api-version 2025-03-15, 3 image operations of
//!   2024-03-15-preview), each with its options type, and the operation table.
//! - [`models`]: the wire models. Identifiers are [`CommunicationIdentifier`] wherever the wire
//!   has a `CommunicationIdentifierModel`.
//! - [`identity`]: the Identity API (users and tokens) and HMAC request signing.
//! - [`Page`] and [`NextPage`]: paging by `nextLink`, verbatim and same-origin only.
//!
//! In scope: request building, response parsing, errors and retry classification, paging links,
//! identifiers, access-token expiry, and the models generated from the official spec
//! (`cargo xtask codegen`). Out of scope: sending requests, retries, token refresh (see the
//! `acs-chat` crate).

pub use bytes;
pub use http;

mod auth;
mod datetime;
mod endpoint;
mod error;
mod generated;
pub mod headers;
mod identifier;
pub mod identity;
mod image;
mod models_ext;
mod operation;
mod paging;
mod serde_util;

pub use auth::AccessToken;
pub use datetime::{DateTime, DateTimeError};
pub use endpoint::{ApiVersion, Endpoint, encode_path_segment, push_path_segment, redact_url};
pub use error::{
    BODY_SNIPPET_LIMIT, DISPLAY_TEXT_LIMIT, Error, ErrorKind, RetryAfter, RetryClass, ServiceError,
    classify_status,
};
pub use identifier::{
    CommunicationIdentifier, CommunicationUserIdentifier, MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier, PhoneNumberIdentifier, TeamsExtensionUserIdentifier,
    UnknownIdentifier,
};
pub use operation::{Idempotency, Operation, OperationInfo, RequestContext, authorize};
pub use paging::{NextPage, Page};

pub mod models {
    //! The wire models of the Chat API, generated from the official spec by `cargo xtask codegen`.
    pub use crate::generated::models::*;
}

pub mod operations {
    //! Every Chat operation as a value implementing [`Operation`](crate::Operation), generated from
    //! the official spec: each has `new(required parameters…, options)`, an options type with its
    //! optional parameters (`…Options`, `Default`), and `INFO`, its entry of the operation [`table`].
    //!
    //! Threads: [`CreateChatThread`], [`ListChatThreads`], [`GetChatThreadProperties`],
    //! [`UpdateChatThreadProperties`], [`DeleteChatThread`]. Messages: [`SendChatMessage`],
    //! [`ListChatMessages`], [`GetChatMessage`], [`UpdateChatMessage`], [`DeleteChatMessage`].
    //! Participants: [`ListChatParticipants`], [`AddChatParticipants`], [`RemoveChatParticipant`].
    //! Receipts and typing: [`SendChatReadReceipt`], [`ListChatReadReceipts`],
    //! [`SendTypingNotification`]. Images (api-version 2024-03-15-preview): [`UploadChatImage`],
    //! [`GetChatImage`] (returns a [`ChatImage`]), [`DeleteChatImage`]. The next page of any list:
    //! [`NextPage`](crate::NextPage).
    pub use crate::generated::operations::*;
    pub use crate::image::ChatImage;
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
