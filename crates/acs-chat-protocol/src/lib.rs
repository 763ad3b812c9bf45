//! Sans-IO protocol layer for the Azure Communication Services (ACS) Chat REST API.
//!
//! Every operation of the API is a value implementing [`Operation`]: it builds an
//! `http::Request<Bytes>` and parses an `http::Response<Bytes>` into a typed result or an
//! [`Error`]. Nothing here performs IO, reads a clock, draws random numbers or reads the
//! environment: time and ids come in as arguments, so the crate runs in any runtime.
//!
//! ```
//! use acs_chat_protocol::operations::DeleteChatMessage;
//! use acs_chat_protocol::{authorize, ApiVersion, Endpoint, Operation, RequestContext};
//!
//! let endpoint = Endpoint::parse("https://contoso.communication.azure.com")?;
//! let ctx = RequestContext::new(endpoint.clone(), ApiVersion::default());
//! let op = DeleteChatMessage::new("19:abc@thread.v2", "1593072104708");
//! let mut request = op.build_request(&ctx)?;
//! authorize(&mut request, &endpoint, "<user access token>")?;
//! assert_eq!(
//!     request.uri(),
//!     "https://contoso.communication.azure.com/chat/threads/19%3Aabc@thread.v2/messages/1593072104708?api-version=2025-03-15"
//! );
//! // ... send it with any HTTP client, then:
//! let response = http::Response::builder().status(204).body(bytes::Bytes::new())?;
//! op.parse_response(response)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In scope: request building, response parsing, errors and retry classification, paging links,
//! identifiers, access-token expiry, and the models generated from the official spec
//! (`cargo xtask codegen`). Out of scope: sending requests, retries, token refresh (see
//! `acs-chat-transport` and `acs-chat`).

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod auth;
mod datetime;
mod endpoint;
mod error;
mod generated;
mod identifier;
pub mod identity;
mod operation;
pub mod operations;
mod paging;
mod serde_util;

pub use auth::AccessToken;
pub use datetime::{DateTime, DateTimeError};
pub use endpoint::{ApiVersion, Endpoint, encode_path_segment, redact_url};
pub use error::{
    BODY_SNIPPET_LIMIT, DISPLAY_TEXT_LIMIT, Error, ErrorKind, RetryAfter, RetryClass, ServiceError,
    classify_status,
};
pub use identifier::{
    CommunicationIdentifier, CommunicationUserIdentifier, MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier, PhoneNumberIdentifier, TeamsExtensionUserIdentifier,
    UnknownIdentifier,
};
pub use operation::{
    Idempotency, Operation, OperationInfo, RequestContext, authorize, authorize_token,
};
pub use paging::{NextPage, Page, next_link_uri};

/// The wire models, generated from the official spec by `cargo xtask codegen`.
pub mod models {
    pub use crate::generated::models::*;
}

/// The operation table generated from the spec: one [`OperationInfo`] per operation.
pub mod operation_table {
    pub use crate::generated::operations::*;
}
