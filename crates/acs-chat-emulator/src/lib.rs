//! A local, in-memory, wire-compatible emulator of the Azure Communication Services (ACS) Chat
//! service and of the token-minting part of the Identity service.
//!
//! Our tests, our users' tests and the official SDKs (Python `azure-communication-chat` /
//! `azure-communication-identity`, JS `@azure/communication-chat` /
//! `@azure/communication-identity`) run against it unchanged, apart from the endpoint and
//! trusting its certificate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use acs_chat_emulator::Emulator;
//!
//! let emulator = Emulator::builder().port(0).start().await?;
//! let endpoint = emulator.endpoint(); // https://127.0.0.1:<port>/
//! let ca_pem = emulator.ca_certificate_pem(); // trust this in the client
//! let (user, token) = emulator.create_user_and_token()?;
//! // ... drive it with any client, then:
//! emulator.shutdown().await;
//! # let _ = (endpoint, ca_pem, user, token); Ok(()) }
//! ```
//!
//! # The development access key
//!
//! Unless told otherwise (`--access-key`, [`EmulatorBuilder::access_key`]) the emulator uses a
//! well-known, public development key, like Azurite's account key for Storage:
//!
//! ```text
//! YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ==
//! ```
//!
//! ([`DEV_ACCESS_KEY`]; it is base64 of `acs-chat-emulator-well-known-development-key!!`.)
//! The connection string is `endpoint=https://127.0.0.1:<port>/;accesskey=<key>`.
//!
//! # What it serves
//!
//! - Identity (HMAC-SHA256 signed with the access key): `POST /identities`,
//!   `POST /identities/{id}/:issueAccessToken`, `POST /identities/{id}/:revokeAccessTokens`,
//!   `DELETE /identities/{id}`.
//! - Chat (Bearer access token): the 16 operations of api-version 2025-03-15 (every published
//!   api-version is accepted). See [`store`] for the semantics and [`service`] for paging.
//!
//! # Layers
//!
//! [`store::Store`] is a pure state machine (time passed in) that records every change it makes,
//! [`service::Service`] maps
//! `http::Request<Bytes>` to `http::Response<Bytes>` over it (no sockets), and
//! [`RunningEmulator`] serves it with hyper over TLS (tokio-rustls, ring).
//!
//! State is in memory, or in SQLite with [`EmulatorBuilder::data_dir`] ([`persist`]).
//!
//! # Events
//!
//! Every chat operation publishes its events ([`events`]): to in-process subscribers
//! ([`RunningEmulator::events`], a stream of [`acs_chat_events::ChatEvent`]) and to webhook
//! subscriptions ([`EmulatorBuilder::event_webhook`]), which get what Event Grid would send —
//! the validation handshake first, then every event at least once, retried with backoff,
//! from a transactional outbox when persisted.
//!
//! Out of scope: image operations of 2024-03-15-preview, Teams interop.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod conn;
pub mod events;
mod faults;
mod foreground;
pub mod hmac_auth;
pub mod identity;
mod limits;
pub mod persist;
mod server;
pub mod service;
pub mod store;
pub mod tls;
pub mod web;

pub use events::{
    DeliveryOptions, DeliveryOutcome, DeliveryReport, EventSchema, EventStream, EventSubscription,
    Lagged, ReportStream, SubscriptionState, SubscriptionStatus,
};
pub use faults::{Fault, FaultInjector};
pub use foreground::{DEFAULT_LOG_FILTER, ServeArgs, ServeError, init_logging, serve_foreground};
pub use identity::DEV_ACCESS_KEY;
pub use limits::{ConnectionLimits, ServiceLimits};
pub use server::{
    DEFAULT_PORT, Emulator, EmulatorBuilder, EmulatorError, MAX_BODY_BYTES, RunningEmulator,
};
pub use service::Service;
pub use store::Store;

/// The README's examples, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
