//! Async clients for the Azure Communication Services (ACS) Chat REST API.
//!
//! - [`ChatClient`]: create, list and delete threads; [`ChatThreadClient`] (from
//!   [`ChatClient::chat_thread_client`]): properties, messages, participants, read receipts and
//!   typing notifications of one thread.
//! - [`CommunicationTokenCredential`]: a user access token, static or refreshed (on demand, and
//!   optionally in the background), with at most one refresh in flight.
//! - [`IdentityClient`]: server-side user and token management with the resource's connection
//!   string.
//! - Every call is retried by one loop ([`RetryOptions`]) that never repeats a side effect that
//!   may have happened; list calls return a lazy, resumable [`Pager`].
//! - One error type, [`Error`], with an [`ErrorKind`] to match on.
//!
//! The clients are generic over [`Transport`]: acs-chat-transport's
//! hyper + rustls transport by default (feature `hyper`), or anything implementing the trait,
//! including a plain closure, which is how the tests and examples run without a network.
//!
//! ```
//! use bytes::Bytes;
//! use acs_chat::{ChatClientBuilder, CommunicationTokenCredential, SendMessageOptions};
//! use http::{Request, Response};
//!
//! # const TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2ln";
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A fake service: every request gets a message id back.
//! let transport = |_request: Request<Bytes>| async {
//!     Ok(Response::builder()
//!         .status(201)
//!         .body(Bytes::from_static(br#"{"id":"1700000000000"}"#))
//!         .unwrap())
//! };
//! let credential = CommunicationTokenCredential::new(TOKEN)?;
//! let client = ChatClientBuilder::new("https://contoso.communication.azure.com", credential)
//!     .transport(transport)
//!     .build()?;
//! let thread = client.chat_thread_client("19:abc@thread.v2");
//! let id = thread.send_message("hello", SendMessageOptions::new()).await?;
//! assert_eq!(id, "1700000000000");
//! # Ok::<(), acs_chat::Error>(())
//! # }).unwrap();
//! ```
//!
//! Out of scope: real-time notifications (the official SDKs' signaling/trouter connection).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod client;
mod credential;
mod error;
mod identity;
mod options;
mod pager;
mod pipeline;
mod retry;
pub mod runtime;
pub mod testing;

pub use builder::{CustomTransport, DefaultTransport, TransportChoice, TransportConfig};
pub use client::{
    AddParticipantsResult, ChatClient, ChatClientBuilder, ChatThreadClient, CreatedChatThread,
    RejectedParticipant,
};
pub use credential::{
    CommunicationTokenCredential, CredentialBuilder, ON_DEMAND_REFRESH_WINDOW,
    PROACTIVE_REFRESH_WINDOW, TokenRefresher, next_proactive_refresh,
};
pub use error::{Error, ErrorKind};
pub use identity::{IdentityClient, IdentityClientBuilder, TokenScope, UserAndToken};
pub use options::{
    CreateChatThreadOptions, ListOptions, SendMessageOptions, SkipListOptions,
    TypingNotificationOptions, UpdateChatThreadOptions, UpdateMessageOptions, participant,
};
pub use pager::{Continuation, DEFAULT_MAX_PAGES, Pager, Pages};
pub use retry::{DEFAULT_DEADLINE, RetryOptions};

/// The protocol crate's types that appear in this crate's API.
pub use acs_chat_protocol::operations::{ChatImage, ImageViewType};
pub use acs_chat_protocol::{
    ApiVersion, CommunicationIdentifier, CommunicationUserIdentifier, DateTime, Endpoint, Page,
    ServiceError, models,
};
/// The transport seam.
pub use acs_chat_transport::{Transport, TransportError, TransportErrorKind};

#[cfg(test)]
mod tests;
