//! The HTTP transport seam of the ACS Chat SDK.
//!
//! The client builds `http::Request<Bytes>` values and parses `http::Response<Bytes>`
//! values; how the bytes travel is up to a [`Transport`]: one async method, a request
//! in, a fully buffered response (or a [`TransportError`]) out.
//!
//! - Bring your own HTTP stack by implementing [`Transport`] for your client, or just
//!   pass a closure: every `Fn(Request<Bytes>) -> impl Future<Output = Result<Response<Bytes>,
//!   TransportError>>` is a transport. Without the `hyper` feature this crate compiles no
//!   hyper, hyper-util, hyper-rustls or rustls.
//! - Or use the default, `HyperTransport` (feature `hyper`, on by default): hyper 1 and
//!   rustls, HTTP/1.1 and HTTP/2 by ALPN (one HTTP/2 connection per origin, held by the
//!   transport; HTTP/1.1 in hyper-util's pool), HTTPS only unless
//!   plain HTTP is explicitly allowed, connect and whole-request timeouts and a response
//!   body limit.
//!
//! # Example: a closure transport
//!
//! ```
//! use bytes::Bytes;
//! use acs_chat_transport::{Transport, TransportError, TransportErrorKind};
//! use http::{Request, Response, StatusCode};
//!
//! // A fake service that answers every GET with the request path and refuses the rest.
//! let fake = |request: Request<Bytes>| async move {
//!     if request.method() != http::Method::GET {
//!         return Err(TransportError::new(TransportErrorKind::Connect, "fake: GET only"));
//!     }
//!     let body = Bytes::from(request.uri().path().to_owned());
//!     Ok(Response::builder()
//!         .status(StatusCode::OK)
//!         .body(body)
//!         .expect("a valid response"))
//! };
//!
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     // A minimal executor so the example does not need a runtime.
//! #     use std::task::{Context, Poll, Waker};
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = Context::from_waker(Waker::noop());
//! #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! // Anything generic over `T: Transport` accepts the closure.
//! async fn fetch(transport: &impl Transport, uri: &str) -> Result<Bytes, TransportError> {
//!     let request = Request::get(uri).body(Bytes::new()).expect("a valid request");
//!     Ok(transport.send(request).await?.into_body())
//! }
//!
//! let body = block_on(fetch(&fake, "https://example.invalid/chat/threads")).unwrap();
//! assert_eq!(body, "/chat/threads");
//! ```
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `hyper` | yes | `HyperTransport`, the default transport |
//! | `webpki-roots` | yes | trust the Mozilla root program (compiled in) |
//! | `native-roots` | no | trust the platform's root certificates |
//! | `ring` | yes | rustls crypto provider: ring (preferred when both are on) |
//! | `aws-lc-rs` | no | rustls crypto provider: aws-lc-rs |
//!
//! With `hyper` but neither provider feature, the process-wide rustls provider
//! (`CryptoProvider::install_default`) is used, and building the transport fails with a
//! [`Config`](TransportErrorKind::Config) error if none is installed.
//!
//! # Scope
//!
//! In scope: moving one request and one buffered response, classifying failures so a
//! retry policy can act on them. Out of scope: retries, redirects, authentication,
//! cookies, proxies and streaming bodies; those belong to the client (or are not needed
//! by the Chat API).
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};

mod error;
#[cfg(feature = "hyper")]
mod hyper_transport;

pub use error::{TransportError, TransportErrorKind};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use hyper_transport::{HyperTransport, HyperTransportBuilder};

/// Sends one HTTP request and returns the whole response.
///
/// The response body is fully buffered. Implementations report failures as a
/// [`TransportError`] whose [kind](TransportErrorKind) tells whether the request may
/// have reached the server; a response with any status code (including 4xx and 5xx) is
/// an `Ok`.
///
/// Implemented for closures `Fn(Request<Bytes>) -> Fut` (where `Fut` is a `Send` future of
/// `Result<Response<Bytes>, TransportError>`) and for `Arc<T>` where `T: Transport`.
/// A shared reference to a transport is a transport when the transport is a closure;
/// for other types write `|request| transport.send(request)`.
pub trait Transport: Send + Sync {
    /// Sends `request` (its URI must be absolute) and waits for the complete response.
    fn send(
        &self,
        request: Request<Bytes>,
    ) -> impl Future<Output = Result<Response<Bytes>, TransportError>> + Send;

    /// The longest one exchange can take: every [`send`](Self::send) future ends, with a
    /// [`Timeout`](TransportErrorKind::Timeout) error at the latest, within this long of its
    /// first poll, timed by the Tokio runtime it runs on. `None` (the default) when the
    /// transport does not bound it.
    ///
    /// A caller that races `send` against a Tokio timer of its own can leave that timer out
    /// when it is no shorter, saving a timer per request (the acs-chat client does).
    fn timeout(&self) -> Option<Duration> {
        None
    }
}

impl<F, Fut> Transport for F
where
    F: Fn(Request<Bytes>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Response<Bytes>, TransportError>> + Send,
{
    fn send(
        &self,
        request: Request<Bytes>,
    ) -> impl Future<Output = Result<Response<Bytes>, TransportError>> + Send {
        self(request)
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(
        &self,
        request: Request<Bytes>,
    ) -> impl Future<Output = Result<Response<Bytes>, TransportError>> + Send {
        (**self).send(request)
    }

    fn timeout(&self) -> Option<Duration> {
        (**self).timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_transport<T: Transport>(_: &T) {}

    async fn echo(request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        Ok(Response::new(request.into_body()))
    }

    #[test]
    fn closures_fns_and_arcs_are_transports() {
        let closure = |_req: Request<Bytes>| async { Ok(Response::new(Bytes::new())) };
        assert_transport(&closure);
        assert_transport(&&closure);
        assert_transport(&echo);
        assert_transport(&Arc::new(echo));
        assert_transport(&Arc::new(Arc::new(closure)));
        // A closure does not bound an exchange by itself.
        assert_eq!(closure.timeout(), None);
        assert_eq!(Arc::new(echo).timeout(), None);
    }
}

/// The README's examples, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
