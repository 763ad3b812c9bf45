//! Turns hyper, hyper-util, rustls and io errors into [`TransportError`] kinds by walking
//! the source chain.
//!
//! | where | found in the chain | kind |
//! | --- | --- | --- |
//! | connecting (hyper-util `is_connect()`) | our connect deadline | `Timeout`, not sent |
//! | connecting | a `rustls::Error` (certificate, handshake, alert) | `Tls`, not sent |
//! | connecting | an io error of kind `TimedOut` (TCP connect timeout) | `Timeout`, not sent |
//! | connecting | anything else (DNS, refused, reset, bad server name) | `Connect` |
//! | sending (no response yet) | an HTTP/2 `RST_STREAM` with `REFUSED_STREAM`, or the server's `GOAWAY` (the stream is above its last stream id) | `ConnectionLost`, not sent |
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

use super::Origin;
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
    origin: &Origin,
) -> TransportError {
    let root: &(dyn StdError + 'static) = &err;
    if err.is_connect() {
        let (kind, message) = connect_kind(root, origin);
        return TransportError::new(kind, message)
            .with_source(err)
            .mark_request_not_sent();
    }
    if refused_by_server(root) {
        return refused(origin).with_source(err);
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
    TransportError::new(kind, exchange_message(kind, root, origin)).with_source(err)
}

/// The kind and message of a failed connect (TCP and TLS), from the error's chain.
fn connect_kind(root: &(dyn StdError + 'static), origin: &Origin) -> (TransportErrorKind, String) {
    if find::<ConnectTimedOut>(root).is_some() {
        (
            TransportErrorKind::Timeout,
            format!("connecting to {origin} timed out"),
        )
    } else if let Some(tls) = find::<rustls::Error>(root) {
        (TransportErrorKind::Tls, tls_message(tls, origin))
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
    }
}

/// An error of the connector, connecting a lane: what hyper-util reports as a connect error.
pub(super) fn connect_error(err: BoxError, origin: &Origin) -> TransportError {
    let (kind, message) = connect_kind(&*err, origin);
    TransportError::new(kind, message)
        .with_source(err)
        .mark_request_not_sent()
}

/// A failed HTTP/2 handshake on a lane's new connection: nothing was sent.
pub(super) fn handshake_error(err: hyper::Error, origin: &Origin) -> TransportError {
    let root: &(dyn StdError + 'static) = &err;
    let (kind, message) = match find::<rustls::Error>(root) {
        Some(tls) => (TransportErrorKind::Tls, tls_message(tls, origin)),
        None => (
            TransportErrorKind::Connect,
            format!("the HTTP/2 handshake with {origin} failed"),
        ),
    };
    TransportError::new(kind, message)
        .with_source(err)
        .mark_request_not_sent()
}

/// An error of hyper sending on a lane; `not_sent` when hyper gave the request back (the
/// connection refused it before sending anything).
pub(super) fn lane_error(err: hyper::Error, origin: &Origin, not_sent: bool) -> TransportError {
    let root: &(dyn StdError + 'static) = &err;
    if not_sent {
        return TransportError::new(
            TransportErrorKind::ConnectionLost,
            format!("the connection to {origin} closed before the request was sent"),
        )
        .with_source(err)
        .mark_request_not_sent();
    }
    if refused_by_server(root) {
        return refused(origin).with_source(err);
    }
    let kind = exchange_kind(root).unwrap_or(TransportErrorKind::ConnectionLost);
    TransportError::new(kind, exchange_message(kind, root, origin)).with_source(err)
}

/// Whether the server said, before any response, that it did not process the request
/// (RFC 9113 §8.7, <https://www.rfc-editor.org/rfc/rfc9113#section-8.7>): it reset the
/// stream with `REFUSED_STREAM`, or sent a `GOAWAY` whose last stream id is below the
/// stream's. h2 fails exactly those streams with the peer's `GOAWAY` (and a stream opened
/// after it, which never left); a stream the server may have processed fails with a broken
/// pipe when the connection ends (h2 0.4, `Streams::recv_go_away` and `recv_eof`).
fn refused_by_server(root: &(dyn StdError + 'static)) -> bool {
    find::<h2::Error>(root).is_some_and(|e| {
        e.is_remote()
            && (e.is_go_away() || e.is_reset() && e.reason() == Some(h2::Reason::REFUSED_STREAM))
    })
}

/// The error of a request the server refused unprocessed: safe to send again, whatever its
/// method.
fn refused(origin: &Origin) -> TransportError {
    TransportError::new(
        TransportErrorKind::ConnectionLost,
        format!(
            "{origin} refused the request before processing it (HTTP/2 REFUSED_STREAM or GOAWAY); it can be sent again"
        ),
    )
    .mark_request_not_sent()
}

/// What went wrong in a TLS handshake, and what to do about it, in words: the rustls error
/// itself stays reachable through `source()`.
fn tls_message(err: &rustls::Error, origin: &Origin) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = err else {
        return match err {
            rustls::Error::AlertReceived(alert) => {
                format!("{origin} refused the TLS handshake (alert {alert:?})")
            }
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                format!(
                    "{origin} did not answer in TLS (is it a plain-http server? then use an \
                     http:// endpoint, which must be allowed explicitly)"
                )
            }
            _ => format!("TLS handshake with {origin} failed ({err})"),
        };
    };
    match cert {
        C::UnknownIssuer => format!(
            "the certificate of {origin} is not signed by a trusted CA (UnknownIssuer): trust \
             the CA that issued it (add_root_certificate_pem; a local acs-chat emulator names its \
             CA file in its start-up banner)"
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => format!(
            "the certificate of {origin} is not valid for that host name (NotValidForName): \
             connect with a name the certificate lists"
        ),
        C::Expired | C::ExpiredContext { .. } => {
            format!("the certificate of {origin} has expired (Expired)")
        }
        C::NotValidYet | C::NotValidYetContext { .. } => format!(
            "the certificate of {origin} is not valid yet (NotValidYet): check this machine's clock"
        ),
        C::Revoked => format!("the certificate of {origin} is revoked (Revoked)"),
        // webpki reports a CA certificate presented as the server's own as an opaque
        // `Other(CaUsedAsEndEntity)`; its Debug form is the only stable way to see it without
        // depending on webpki directly.
        C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => format!(
            "{origin} presented a CA certificate as its own certificate (CaUsedAsEndEntity), as a \
             self-signed certificate made with `openssl req -x509` is; curl and Python accept \
             that, rustls does not: give the server a certificate issued by a CA (for example \
             with mkcert, or the acs-chat emulator's own), and trust that CA"
        ),
        _ => format!("the certificate of {origin} was refused ({err})"),
    }
}

/// An error while reading the response body (through `Limited`).
pub(super) fn body_error(err: BoxError, origin: &Origin, limit: usize) -> TransportError {
    if err.downcast_ref::<LengthLimitError>().is_some() {
        return body_too_large(origin, limit).with_source(err);
    }
    let kind = exchange_kind(&*err).unwrap_or(TransportErrorKind::ConnectionLost);
    TransportError::new(kind, exchange_message(kind, &*err, origin)).with_source(err)
}

pub(super) fn body_too_large(origin: &Origin, limit: usize) -> TransportError {
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

fn exchange_message(
    kind: TransportErrorKind,
    root: &(dyn StdError + 'static),
    origin: &Origin,
) -> String {
    match kind {
        TransportErrorKind::Tls => match find::<rustls::Error>(root) {
            Some(tls) => tls_message(tls, origin),
            None => format!("TLS failure on the connection to {origin}"),
        },
        TransportErrorKind::Timeout => format!("the exchange with {origin} timed out"),
        // A TLS server answers a plain-http request with a TLS alert, whose first bytes hyper
        // reads as a bad HTTP version.
        TransportErrorKind::InvalidResponse if origin.scheme == http::uri::Scheme::HTTP => {
            format!(
                "{origin} did not answer in plain HTTP (it may speak HTTPS: use an https:// \
                 endpoint)"
            )
        }
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
        let origin = Origin {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static("h:1"),
        };
        let err = body_error(err, &origin, 4);
        assert!(err.is_body_too_large());
        assert!(err.to_string().contains("4 bytes"));
    }
}
