//! The [`Operation`] trait, and what the generated operations are built from: the request
//! builder, the status check and the response parsers.

use std::fmt::{self, Write as _};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::endpoint::{push_path_segment, push_query_value};
use crate::error::{parse_json_body, parse_json_body_seed};
use crate::image::ChatImage;
use crate::paging::{Page, RawPage, RawPageSeed};
use crate::{AccessToken, ApiVersion, Endpoint, Error};

/// Static facts about one operation, generated from the spec (see `operations::table` and
/// `identity::table`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The spec's operationId, e.g. `ChatThread_SendChatMessage`.
    pub id: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path template, e.g. `/chat/threads/{chatThreadId}/messages`.
    pub path: &'static str,
    /// The request body's media type, when the operation has a body.
    pub content_type: Option<&'static str>,
    /// The `Accept` header: the media types the spec says the operation produces.
    pub accept: &'static str,
    /// The documented success statuses; any other status is an error.
    pub success: &'static [u16],
    /// Whether the operation returns pages (`value` + `nextLink`).
    pub pageable: bool,
    /// Whether the operation exists only in api-version 2024-03-15-preview.
    pub preview_only: bool,
}

impl OperationInfo {
    /// Whether `status` is one of the documented success statuses.
    pub fn is_success(&self, status: StatusCode) -> bool {
        self.success.contains(&status.as_u16())
    }
}

/// Whether repeating a request can duplicate a side effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Idempotency {
    /// Repeating it is safe (GET, PATCH, DELETE, and create-thread with a repeatability id).
    Idempotent,
    /// Repeating it may act twice (the other POSTs): retry only when the request provably was
    /// not processed.
    NotIdempotent,
}

/// Where and how requests are sent: the endpoint and the api-version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    endpoint: Endpoint,
    api_version: ApiVersion,
}

impl RequestContext {
    /// A context for `endpoint` and `api_version`.
    pub fn new(endpoint: Endpoint, api_version: ApiVersion) -> Self {
        Self {
            endpoint,
            api_version,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The api-version.
    pub fn api_version(&self) -> &ApiVersion {
        &self.api_version
    }
}

/// One operation of the API, as a value: sans-IO, so it runs in any runtime.
///
/// Call order: [`build_request`](Operation::build_request), then [`authorize`] the request with a
/// user access token (or sign it with an access key, see `identity::sign_request`), send it with
/// any HTTP stack, and hand the response to [`parse_response`](Operation::parse_response).
/// Building is repeatable (for retries).
pub trait Operation {
    /// What a successful response turns into.
    type Output;

    /// The operation's static facts.
    fn info(&self) -> &'static OperationInfo;

    /// Builds the request (without `Authorization`; see [`authorize`]).
    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error>;

    /// Turns the response into the typed result: a documented success status parses, anything
    /// else is the typed error ([`Error::from_response`]).
    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error>;

    /// Whether the request may be repeated without duplicating a side effect.
    fn idempotency(&self) -> Idempotency {
        if self.info().method == Method::POST {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        }
    }
}

/// Adds `Authorization: Bearer <token>` (marked sensitive, so it never shows in `Debug`), after
/// checking that the request goes to the endpoint's origin: a token is never sent elsewhere.
pub fn authorize(
    request: &mut Request<Bytes>,
    endpoint: &Endpoint,
    token: &AccessToken,
) -> Result<(), Error> {
    endpoint.check_origin(request.uri())?;
    let value = token.bearer_header().ok_or_else(|| {
        Error::invalid_token("the access token contains bytes not allowed in a header")
    })?;
    request.headers_mut().insert(AUTHORIZATION, value.clone());
    Ok(())
}

/// Builds one request, piece by piece, for the generated operations: the path and query go into
/// one string that becomes the URI without a copy.
pub(crate) struct RequestBuilder<'a> {
    ctx: &'a RequestContext,
    info: &'static OperationInfo,
    path_and_query: String,
    in_query: bool,
    request: Request<Bytes>,
}

impl<'a> RequestBuilder<'a> {
    pub(crate) fn new(ctx: &'a RequestContext, info: &'static OperationInfo) -> Self {
        let mut request = Request::new(Bytes::new());
        *request.method_mut() = info.method.clone();
        // Room for these and for what a client adds (request id, User-Agent, Authorization).
        request.headers_mut().reserve(6);
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(info.accept));
        Self {
            ctx,
            info,
            path_and_query: ctx.endpoint().start_path(info.path.len() + 96),
            in_query: false,
            request,
        }
    }

    /// A literal part of the path.
    pub(crate) fn literal(&mut self, text: &str) {
        self.path_and_query.push_str(text);
    }

    /// A path parameter, percent-encoded as exactly one segment; an empty one is an error.
    pub(crate) fn segment(&mut self, name: &str, value: &str) -> Result<(), Error> {
        if value.is_empty() {
            return Err(Error::invalid_argument(format!("{name} must not be empty")));
        }
        push_path_segment(&mut self.path_and_query, value);
        Ok(())
    }

    /// A query parameter, when it has a value.
    pub(crate) fn query(&mut self, name: &str, value: Option<&impl fmt::Display>) {
        let Some(value) = value else {
            return;
        };
        self.path_and_query
            .push(if self.in_query { '&' } else { '?' });
        self.in_query = true;
        self.path_and_query.push_str(name);
        self.path_and_query.push('=');
        // Written through the encoder: no intermediate string.
        let _ = write!(QueryValue(&mut self.path_and_query), "{value}");
    }

    /// A header, when it has a value.
    pub(crate) fn header(&mut self, name: &'static str, value: Option<&str>) -> Result<(), Error> {
        if let Some(value) = value {
            let value = HeaderValue::try_from(value).map_err(|_| {
                Error::invalid_argument(format!("{name} is not a valid header value"))
            })?;
            self.request
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
        Ok(())
    }

    /// A JSON body.
    pub(crate) fn json<T: serde::Serialize + ?Sized>(&mut self, body: &T) -> Result<(), Error> {
        let body = json_body(body).map_err(|e| {
            Error::invalid_argument(format!("request body does not serialize: {e}"))
        })?;
        self.bytes(body);
        Ok(())
    }

    /// A body as it is (with the operation's media type).
    pub(crate) fn bytes(&mut self, body: Bytes) {
        if let Some(content_type) = self.info.content_type {
            self.request
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        *self.request.body_mut() = body;
    }

    /// Adds the api-version and the URI.
    pub(crate) fn finish(mut self) -> Result<Request<Bytes>, Error> {
        let ctx = self.ctx;
        let api_version = ctx.api_version().as_str();
        self.path_and_query.push_str(if self.in_query {
            "&api-version="
        } else {
            "?api-version="
        });
        push_query_value(&mut self.path_and_query, api_version);
        let uri = self
            .ctx
            .endpoint()
            .uri_for(self.path_and_query)
            .map_err(|e| Error::invalid_argument(format!("cannot build the request URL: {e}")))?;
        *self.request.uri_mut() = uri;
        Ok(self.request)
    }
}

/// Bodies up to this size are copied out of the thread's spare buffer (see [`json_body`]);
/// larger ones take the buffer with them.
const COPIED_BODY: usize = 4096;

thread_local! {
    /// The buffer JSON bodies are written in, kept from one request to the next.
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `body` as JSON. Written in the thread's spare buffer and, when small (most bodies are),
/// copied out once at its exact size: one allocation, where a `Vec` with room to spare becomes
/// a `Bytes` with a second one (the shared header that keeps its capacity).
fn json_body<T: serde::Serialize + ?Sized>(body: &T) -> Result<Bytes, serde_json::Error> {
    let mut buffer = BODY.try_with(|b| b.take()).unwrap_or_default();
    buffer.clear();
    buffer.reserve(256);
    let written = serde_json::to_writer(&mut buffer, body);
    if written.is_ok() && buffer.len() > COPIED_BODY {
        return Ok(Bytes::from(buffer));
    }
    let bytes = written.map(|()| Bytes::copy_from_slice(&buffer));
    if buffer.capacity() <= 4 * COPIED_BODY {
        let _ = BODY.try_with(|b| b.replace(buffer));
    }
    bytes
}

/// A `fmt::Write` that percent-encodes what is written as a query value.
struct QueryValue<'a>(&'a mut String);

impl fmt::Write for QueryValue<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_query_value(self.0, s);
        Ok(())
    }
}

/// A documented success status → the response; anything else → the error, which keeps the
/// body ([`Error::from_response`]). The one place where a status decides.
pub(crate) fn check_status(
    info: &OperationInfo,
    response: Response<Bytes>,
) -> Result<Response<Bytes>, Error> {
    if info.is_success(response.status()) {
        Ok(response)
    } else {
        Err(Error::from_response(&response))
    }
}

/// A response without a body.
pub(crate) fn parse_empty(info: &OperationInfo, response: Response<Bytes>) -> Result<(), Error> {
    check_status(info, response).map(drop)
}

/// A JSON response.
pub(crate) fn parse_json<T: DeserializeOwned>(
    info: &OperationInfo,
    response: Response<Bytes>,
) -> Result<T, Error> {
    let response = check_status(info, response)?;
    parse_json_body(response.body())
}

/// One page of a list: `value` and `nextLink` (an empty link counts as none).
pub(crate) fn parse_page<T: DeserializeOwned>(
    info: &OperationInfo,
    response: Response<Bytes>,
) -> Result<Page<T>, Error> {
    let response = check_status(info, response)?;
    let body = response.body();
    let raw: RawPage<T> = parse_json_body_seed(body, RawPageSeed::for_body(body.len()))?;
    Ok(Page::new(
        raw.value,
        raw.next_link.filter(|link| !link.is_empty()),
    ))
}

/// Binary data and its media type.
pub(crate) fn parse_image(
    info: &OperationInfo,
    response: Response<Bytes>,
) -> Result<ChatImage, Error> {
    let response = check_status(info, response)?;
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(ChatImage::new(content_type, response.into_body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_small_and_large_are_what_serde_json_writes() {
        for len in [0, 10, 400, 4_000, 4_096, 5_000, 100_000, 10] {
            let body = serde_json::json!({ "content": "é\"x".repeat(len / 4), "n": len });
            assert_eq!(
                json_body(&body).unwrap(),
                serde_json::to_vec(&body).unwrap(),
                "{len}"
            );
        }
    }

    #[test]
    fn a_reused_uri_is_the_one_for_the_same_endpoint_and_path() {
        let a = Endpoint::parse("https://a.example").unwrap();
        let b = Endpoint::parse("http://a.example").unwrap();
        let c = Endpoint::parse("https://c.example:8443/prefix").unwrap();
        let uri = |e: &Endpoint, path: &str| {
            let mut pq = e.start_path(0);
            pq.push_str(path);
            e.uri_for(pq).unwrap().to_string()
        };
        for _ in 0..2 {
            assert_eq!(uri(&a, "/x?v=1"), "https://a.example/x?v=1");
            assert_eq!(uri(&a, "/x?v=1"), "https://a.example/x?v=1");
            assert_eq!(uri(&b, "/x?v=1"), "http://a.example/x?v=1");
            assert_eq!(uri(&c, "/x?v=1"), "https://c.example:8443/prefix/x?v=1");
            assert_eq!(uri(&a, "/x?v=2"), "https://a.example/x?v=2");
            assert_eq!(uri(&a.clone(), "/x?v=2"), "https://a.example/x?v=2");
            assert_eq!(uri(&a, "/x"), "https://a.example/x");
        }
    }
}
