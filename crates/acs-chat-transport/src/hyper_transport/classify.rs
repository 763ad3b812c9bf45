//! Turns hyper, hyper-util, rustls and io errors into [`TransportError`] kinds by walking
//! the source chain.
//!
//! | where | found in the chain | kind |
//! | --- | --- | --- |
//! | connecting (hyper-util `is_connect()`) | our connect deadline | `Timeout`, not sent |
//! | connecting | a `rustls::Error` (certificate, handshake, alert) | `Tls`, not sent |
//! | connecting | an io error of kind `TimedOut` (TCP connect timeout) | `Timeout`, not sent |
//! | connecting | anything else (DNS, refused, reset, bad server name) | `Connect` |
//! | sending / receiving | a `rustls::Error` | `Tls` |
//! | sending / receiving | a hyper timeout | `Timeout` |
//! | sending / receiving | a hyper parse error | `InvalidResponse` |
//! | sending / receiving | a hyper user error | `InvalidRequest` |
//! | sending / receiving | an io error of kind `InvalidData`/`InvalidInput` (bad body framing) | `InvalidResponse` |
//! | sending / receiving | anything else (closed, reset, incomplete message, h2 reset) | `ConnectionLost` |
//! | body | `http_body_util::LengthLimitError` | `BodyTooLarge` |

use std::error::Error as StdError;
use std::io;

use http_body_util::LengthLimitError;

use super::connect::ConnectTimedOut;
use crate::{TransportError, TransportErrorKind};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The next error in the chain. `io::Error::source()` skips the error it wraps (it
/// returns that error's source), so look inside io errors with `get_ref()` first.
fn next_in_chain<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        return Some(inner);
    }
    err.source()
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e: &&'a (dyn StdError + 'static)| {
        next_in_chain(*e)
    })
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(err).find_map(|e| e.downcast_ref::<T>())
}

fn has_io_kind(err: &(dyn StdError + 'static), kinds: &[io::ErrorKind]) -> bool {
    chain(err)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|io| kinds.contains(&io.kind()))
}

/// An error of `hyper_util`'s client (connect, send, or the response head).
pub(super) fn send_error(
    err: hyper_util::client::legacy::Error,
    origin: &dyn std::fmt::Display,
) -> TransportError {
    let root: &(dyn StdError + 'static) = &err;
    if err.is_connect() {
        let (kind, message) = if find::<ConnectTimedOut>(root).is_some() {
            (
                TransportErrorKind::Timeout,
                format!("connecting to {origin} timed out"),
            )
        } else if find::<rustls::Error>(root).is_some() {
            (
                TransportErrorKind::Tls,
                format!("TLS handshake with {origin} failed"),
            )
        } else if has_io_kind(root, &[io::ErrorKind::TimedOut]) {
            (
                TransportErrorKind::Timeout,
                format!("TCP connect to {origin} timed out"),
            )
        } else {
            (
                TransportErrorKind::Connect,
                format!("could not connect to {origin}"),
            )
        };
        return TransportError::new(kind, message)
            .with_source(err)
            .mark_request_not_sent();
    }
    let kind = exchange_kind(root).unwrap_or_else(|| {
        // hyper-util reports its own request checks (absolute URI, HTTP version,
        // method) without a source; its Display is "client error (UserXxx)". The
        // transport validates requests before they get there, so this is a fallback.
        if err.to_string().contains("User") {
            TransportErrorKind::InvalidRequest
        } else {
            TransportErrorKind::ConnectionLost
        }
    });
    TransportError::new(kind, message_for(kind, origin)).with_source(err)
}

/// An error while reading the response body (through `Limited`).
pub(super) fn body_error(
    err: BoxError,
    origin: &dyn std::fmt::Display,
    limit: usize,
) -> TransportError {
    if err.downcast_ref::<LengthLimitError>().is_some() {
        return body_too_large(origin, limit).with_source(err);
    }
    let kind = exchange_kind(&*err).unwrap_or(TransportErrorKind::ConnectionLost);
    TransportError::new(kind, message_for(kind, origin)).with_source(err)
}

pub(super) fn body_too_large(origin: &dyn std::fmt::Display, limit: usize) -> TransportError {
    TransportError::new(
        TransportErrorKind::BodyTooLarge,
        format!("the response body from {origin} exceeds the limit of {limit} bytes"),
    )
}

/// The kind of an error after the connection was established, if the chain tells.
fn exchange_kind(root: &(dyn StdError + 'static)) -> Option<TransportErrorKind> {
    if find::<rustls::Error>(root).is_some() {
        return Some(TransportErrorKind::Tls);
    }
    let hyper_err = find::<hyper::Error>(root)?;
    let kind = if hyper_err.is_timeout() {
        TransportErrorKind::Timeout
    } else if hyper_err.is_parse() {
        TransportErrorKind::InvalidResponse
    } else if hyper_err.is_user() {
        TransportErrorKind::InvalidRequest
    } else if has_io_kind(
        root,
        &[io::ErrorKind::InvalidData, io::ErrorKind::InvalidInput],
    ) {
        // hyper's HTTP/1 body decoder: bad chunk size, bad chunk terminator.
        TransportErrorKind::InvalidResponse
    } else {
        TransportErrorKind::ConnectionLost
    };
    Some(kind)
}

fn message_for(kind: TransportErrorKind, origin: &dyn std::fmt::Display) -> String {
    match kind {
        TransportErrorKind::Tls => format!("TLS failure on the connection to {origin}"),
        TransportErrorKind::Timeout => format!("the exchange with {origin} timed out"),
        TransportErrorKind::InvalidResponse => format!("{origin} sent a malformed response"),
        TransportErrorKind::InvalidRequest => {
            format!("the HTTP stack refused the request to {origin}")
        }
        _ => format!("the connection to {origin} broke after the request was sent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_wrapped_rustls_errors_are_found() {
        // tokio-rustls wraps rustls errors in io errors, hyper-rustls wraps those again.
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = io::Error::new(io::ErrorKind::InvalidData, tls);
        let outer: BoxError = Box::new(io::Error::other(inner));
        assert!(find::<rustls::Error>(&*outer).is_some());
        assert_eq!(exchange_kind(&*outer), Some(TransportErrorKind::Tls));
    }

    #[test]
    fn chain_without_hyper_error_has_no_exchange_kind() {
        let err: BoxError = Box::new(io::Error::new(io::ErrorKind::InvalidData, "x"));
        assert_eq!(exchange_kind(&*err), None);
    }

    #[test]
    fn length_limit_is_body_too_large() {
        use http_body_util::{BodyExt, Full, Limited};
        let body = Limited::new(Full::new(bytes::Bytes::from_static(b"0123456789")), 4);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let err = rt.block_on(body.collect()).expect_err("over the limit");
        let err = body_error(err, &"https://h:1", 4);
        assert!(err.is_body_too_large());
        assert!(err.to_string().contains("4 bytes"));
    }
}
