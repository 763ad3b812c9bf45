//! The live web view, `/_emulator/`: threads, participants, messages, read receipts and
//! webhook deliveries, server-rendered, kept current by server-sent events.
//!
//! | route | what |
//! |---|---|
//! | `GET /_emulator/` | the page (readable without JavaScript) |
//! | `GET /_emulator/state` | its `<main>` content, which the page's script fetches again on every event |
//! | `GET /_emulator/events` | `text/event-stream`: `ready`, then `chat`, `delivery` and `subscription` events |
//! | `GET /_emulator/app.js`, `app.css` | the script and the style (no data; served to anyone) |
//! | `GET /_emulator/subscriptions/{name}/validate?code=…` | the validation URL of an Event Grid validation event (the code is the secret) |
//!
//! Access: from a loopback peer address, or with `?token=<web token>` from anywhere, where the
//! web token is HMAC-SHA256 of the access key over `acs-chat-emulator web view` (hex): it
//! proves knowledge of the key without revealing it, and grants nothing else
//! ([`crate::RunningEmulator::web_view_url`] carries it). The page shows no token, key or
//! signature; every value from users is escaped, and a strict Content-Security-Policy allows
//! only the emulator's own script and style.

mod render;
mod sse;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use tokio::sync::{Semaphore, watch};

use crate::Service;
pub(crate) use sse::SseBody;

/// The path prefix of the web view.
pub const PREFIX: &str = "/_emulator";

/// Event streams open at once at most; more get 503.
const MAX_STREAMS: usize = 32;

/// What the web view answers.
pub(crate) enum WebResponse {
    /// A whole response.
    Full(Response<Bytes>),
    /// An event stream.
    Stream(Response<SseBody>),
}

/// The web view of one server.
pub(crate) struct Web {
    token: String,
    streams: Arc<Semaphore>,
    closing: watch::Receiver<bool>,
}

/// Whether `path` belongs to the web view.
pub(crate) fn is_web_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_emulator/")
}

/// Whether a request from `peer` with this query may see the web view.
pub(crate) fn allowed(peer: IpAddr, query: Option<&str>, token: &str) -> bool {
    if peer.to_canonical().is_loopback() {
        return true;
    }
    let given = query_param(query, "token").unwrap_or_default();
    // Compare without leaking where they differ.
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

impl Web {
    pub(crate) fn new(token: String, closing: watch::Receiver<bool>) -> Self {
        Self {
            token,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            closing,
        }
    }

    /// Answers a request under [`PREFIX`] from `peer`. Never panics.
    pub(crate) fn handle<B>(
        &self,
        service: &Service,
        request: &Request<B>,
        peer: SocketAddr,
    ) -> WebResponse {
        let path = request.uri().path();
        let query = request.uri().query();
        let rest = path.strip_prefix(PREFIX).unwrap_or_default();
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return WebResponse::Full(text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"));
        }
        // Public: no data in them, or a secret of their own.
        match rest {
            "/app.js" => {
                return WebResponse::Full(asset(
                    include_str!("app.js"),
                    "text/javascript; charset=utf-8",
                ));
            }
            "/app.css" => {
                return WebResponse::Full(asset(
                    include_str!("app.css"),
                    "text/css; charset=utf-8",
                ));
            }
            _ => {}
        }
        if let Some(name) = rest
            .strip_prefix("/subscriptions/")
            .and_then(|r| r.strip_suffix("/validate"))
        {
            return WebResponse::Full(validate(service, name, query));
        }
        if !allowed(peer.ip(), query, &self.token) {
            return WebResponse::Full(text(
                StatusCode::FORBIDDEN,
                "The web view is served to loopback clients, or with ?token= (see RunningEmulator::web_view_url or the banner).\n",
            ));
        }
        match rest {
            "" => {
                let location = match query {
                    Some(q) => format!("{PREFIX}/?{q}"),
                    None => format!("{PREFIX}/"),
                };
                let mut r = text(StatusCode::FOUND, "");
                if let Ok(v) = HeaderValue::try_from(location) {
                    r.headers_mut().insert(LOCATION, v);
                }
                WebResponse::Full(r)
            }
            "/" => WebResponse::Full(html(render::page(&state(service)))),
            "/state" => WebResponse::Full(html(state(service))),
            "/events" => self.events(service),
            _ => WebResponse::Full(text(StatusCode::NOT_FOUND, "Not found\n")),
        }
    }

    fn events(&self, service: &Service) -> WebResponse {
        let Ok(slot) = self.streams.clone().try_acquire_owned() else {
            return WebResponse::Full(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many event streams are open.\n",
            ));
        };
        let (chat, reports, changed) = service.publisher().subscribe_raw();
        let body = sse::body(chat, reports, changed, self.closing.clone(), slot);
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        WebResponse::Stream(response)
    }
}

fn state(service: &Service) -> String {
    let subscriptions: Vec<_> = service
        .publisher()
        .subscriptions()
        .iter()
        .map(|s| s.status())
        .collect();
    service.read_store(|store| render::state(store, &subscriptions))
}

/// The validation URL: validates the subscription `name` when `code` is its code.
fn validate(service: &Service, name: &str, query: Option<&str>) -> Response<Bytes> {
    let code = query_param(query, "code").unwrap_or_default();
    let found = service.publisher().subscriptions().iter().find(|s| {
        s.name().eq_ignore_ascii_case(name)
            && s.validation_code.len() == code.len()
            && s.validation_code
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    match found {
        Some(sub) => {
            sub.set_validated();
            service.publisher().changed();
            text(StatusCode::OK, "The subscription is validated.\n")
        }
        None => text(StatusCode::NOT_FOUND, "No subscription with this code.\n"),
    }
}

fn secure(response: &mut Response<Bytes>) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
}

fn html(body: String) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(&mut r);
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from_static(body.as_bytes()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure(&mut r);
    r
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from_static(body.as_bytes()));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_peers_or_the_token_get_in() {
        let token = "ab12";
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(allowed(peer.parse().unwrap(), None, token), "{peer}");
        }
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!allowed(remote, None, token));
        assert!(!allowed(remote, Some("token=ab13"), token));
        assert!(!allowed(remote, Some("token=ab1"), token));
        assert!(!allowed(remote, Some("key=ab12"), token));
        assert!(allowed(remote, Some("x=1&token=ab12"), token));
        assert!(!allowed("::ffff:192.0.2.7".parse().unwrap(), None, token));
    }
}
