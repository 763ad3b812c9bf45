//! The connector: hyper-rustls over hyper-util's TCP connector, with one deadline over
//! TCP connect and TLS handshake together.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::lanes::Parked;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The connect deadline (TCP + TLS) passed. Found by the classifier in the source chain.
#[derive(Debug)]
pub(super) struct ConnectTimedOut(pub(super) Duration);

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connect (TCP and TLS handshake) took longer than {:?}",
            self.0
        )
    }
}

impl StdError for ConnectTimedOut {}

/// Wraps the HTTPS connector so that the connect timeout also covers the TLS handshake
/// (hyper-util's own connect timeout only covers TCP).
#[derive(Clone)]
pub(super) struct TimeoutConnector {
    pub(super) inner: HttpsConnector<HttpConnector>,
    pub(super) timeout: Duration,
    /// Connections made by a lane to an origin that chose HTTP/1.1, taken before connecting.
    pub(super) parked: Parked,
}

impl tower_service::Service<Uri> for TimeoutConnector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        if let Some(stream) = self.parked.take(&dst) {
            return Box::pin(std::future::ready(Ok(stream)));
        }
        let connecting = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_elapsed) => Err(Box::new(ConnectTimedOut(timeout)) as BoxError),
            }
        })
    }
}
