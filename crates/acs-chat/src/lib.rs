//! Async clients for the Azure Communication Services (ACS) Chat REST API: the one crate an
//! application depends on (plus its async runtime, tokio by default).
//!
//! - [`ChatClient`]: create, list and delete threads; [`ChatThreadClient`] (from
//!   [`ChatClient::chat_thread_client`]): properties, messages, participants, read receipts,
//!   typing notifications and images of one thread.
//! - [`CommunicationTokenCredential`]: a user access token, static or refreshed (on demand, and
//!   optionally in the background), with at most one refresh in flight.
//! - [`IdentityClient`]: server-side user and token management with the resource's
//!   [`ConnectionString`].
//! - Every call is retried by one loop ([`RetryOptions`]) that never repeats a side effect that
//!   may have happened, and ends by a deadline (60 s by default); list calls return a lazy,
//!   resumable [`Pager`].
//! - Receiving: [`ChatThreadClient::watch`] and [`ChatClient::watch`] poll into a stream of
//!   [`ChatEvent`]s (resumable from a saved cursor); [`EventGridListener`] receives the same
//!   events from Event Grid webhook deliveries.
//! - One error type, [`Error`], with an [`ErrorKind`] to match on.
//!
//! Each method takes its required parameters and an options value generated from the spec
//! (`…Options`, every field optional: pass `Default::default()`). The clients are plain types:
//! the transport (hyper + rustls by default, or anything implementing [`Transport`], a closure
//! included) and the [`Runtime`] (tokio by default) are chosen on the builder.
//!
//! ```
//! use acs_chat::bytes::Bytes;
//! use acs_chat::http::{Request, Response};
//! use acs_chat::{ChatClient, CommunicationTokenCredential};
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
//! let client = ChatClient::builder("https://contoso.communication.azure.com", credential)
//!     .transport(transport)
//!     .build()?;
//! let thread = client.chat_thread_client("19:abc@thread.v2");
//! let id = thread.send_message("hello", Default::default()).await?;
//! assert_eq!(id, "1700000000000");
//! # Ok::<(), acs_chat::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `tokio` | yes | [`TokioRuntime`], the default [`Runtime`] |
//! | `hyper` | yes | the default transport: hyper 1 + hyper-util + rustls (needs `tokio`); [`EventGridListener`] |
//! | `webpki-roots` | yes | the default transport trusts the Mozilla roots (compiled in) |
//! | `native-roots` | no | the default transport trusts the platform's roots |
//! | `ring` | yes | rustls crypto provider: ring |
//! | `aws-lc-rs` | no | rustls crypto provider: aws-lc-rs (needs cmake and a C compiler) |
//!
//! With default features off, nothing async-runtime specific is compiled: give the builder a
//! [`Transport`] and a [`Runtime`].
//!
//! # Tracing
//!
//! Every call is one `acs_chat.request` span (operation, thread id, client request id, attempt,
//! status, the service's request id, duration) with `debug` events per attempt and an `info`
//! event per retry; tokens and message content never appear. `RUST_LOG=acs_chat=debug` shows
//! them with any `tracing` subscriber.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The `bytes` crate, for bodies.
pub use acs_chat_protocol::bytes;
/// The `http` crate, whose request and response types the [`Transport`] seam uses.
pub use acs_chat_protocol::http;
/// The `futures` crate: [`Pager`] is a `futures::Stream`, consumed with `StreamExt` or
/// `TryStreamExt` (`use acs_chat::futures::TryStreamExt as _;`).
pub use futures;

mod builder;
mod client;
mod credential;
mod error;
mod identity;
#[cfg(feature = "hyper")]
mod listener;
mod pager;
mod pipeline;
mod retry;
mod runtime;
pub mod testing;
mod watch;

pub use client::{
    AddParticipantsResult, ChatClient, ChatClientBuilder, ChatThreadClient, CreatedChatThread,
    RejectedParticipant,
};
pub use credential::{
    CommunicationTokenCredential, CredentialBuilder, ON_DEMAND_REFRESH_WINDOW,
    PROACTIVE_REFRESH_WINDOW, TokenRefresher,
};
pub use error::{Error, ErrorKind};
pub use identity::{IdentityClient, IdentityClientBuilder, UserAndToken};
#[cfg(feature = "hyper")]
pub use listener::{EventGridListener, EventGridListenerBuilder};
pub use pager::{Continuation, DEFAULT_MAX_PAGES, Pager, Pages};
pub use retry::{DEFAULT_DEADLINE, RetryOptions};
#[cfg(feature = "tokio")]
pub use runtime::TokioRuntime;
pub use runtime::{BoxFuture, Runtime};
pub use watch::{Watch, WatchCursor, WatchOptions};

pub use acs_chat_protocol::identity::{
    CommunicationIdentityTokenScope as TokenScope, ConnectionString,
};
pub use acs_chat_protocol::operations::{
    ChatImage, CreateChatThreadOptions, ListChatMessagesOptions, ListChatParticipantsOptions,
    ListChatReadReceiptsOptions, ListChatThreadsOptions, SendChatMessageOptions,
    SendTypingNotificationOptions, UpdateChatMessageOptions, UpdateChatThreadPropertiesOptions,
    UploadChatImageOptions,
};
pub use acs_chat_protocol::{
    AccessToken, ApiVersion, CommunicationIdentifier, CommunicationUserIdentifier, DateTime,
    DateTimeError, Endpoint, MicrosoftTeamsAppIdentifier, MicrosoftTeamsUserIdentifier, Page,
    PhoneNumberIdentifier, ServiceError, TeamsExtensionUserIdentifier, UnknownIdentifier,
};
#[cfg(feature = "hyper")]
pub use acs_chat_transport::{HyperTransport, HyperTransportBuilder};
pub use acs_chat_transport::{Transport, TransportError, TransportErrorKind};

/// Receiving: [`ChatEvent`], one type for what polling ([`ChatThreadClient::watch`],
/// [`ChatClient::watch`]) and Event Grid ([`events::webhook`]) deliver, and the sans-IO parts
/// underneath (the `acs-chat-events` crate).
pub mod events {
    pub use acs_chat_events::*;
}
pub use acs_chat_events::ChatEvent;
pub use acs_chat_events::watch::WatchConfig;

/// The wire models: threads, messages, participants, read receipts, errors (generated from the
/// official spec).
pub mod models {
    pub use acs_chat_protocol::models::*;
}

#[cfg(test)]
mod tests;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The repository README's examples, compiled as doctests too.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct RepositoryReadmeDoctests;
