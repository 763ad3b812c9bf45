//! The [`Operation`] trait: a value that builds a request and parses its response.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response};

use crate::endpoint::{fill_path, push_query_value};
use crate::{AccessToken, ApiVersion, Endpoint, Error};

/// Static facts about one operation, generated from the spec (see `operation_table`).
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
    /// The documented success statuses.
    pub success: &'static [u16],
    /// Whether the operation returns pages (`value` + `nextLink`).
    pub pageable: bool,
    /// Whether the operation exists only in api-version 2024-03-15-preview.
    pub preview_only: bool,
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
/// user access token, send it with any HTTP stack, and hand the response to
/// [`parse_response`](Operation::parse_response). Building is repeatable (for retries).
pub trait Operation {
    /// What a successful response turns into.
    type Output;

    /// The operation's static facts.
    fn info(&self) -> &'static OperationInfo;

    /// Builds the request (without `Authorization`; see [`authorize`]).
    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error>;

    /// Turns the response into the typed result, or the typed error for a non-2xx status.
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
    token: &str,
) -> Result<(), Error> {
    endpoint.check_origin(request.uri())?;
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
        Error::invalid_token("the access token contains bytes not allowed in a header")
    })?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

/// [`authorize`] with an [`AccessToken`], whose header value is built once and shared by every
/// request that uses the token.
pub fn authorize_token(
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

/// The pieces of one request, assembled by [`RequestParts::build`].
pub(crate) struct RequestParts<'a> {
    pub(crate) info: &'static OperationInfo,
    pub(crate) path: &'a [(&'a str, &'a str)],
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) headers: Vec<(HeaderName, String)>,
    pub(crate) accept: &'static str,
}

impl<'a> RequestParts<'a> {
    pub(crate) fn new(info: &'static OperationInfo, path: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            info,
            path,
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            accept: "application/json",
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: Option<String>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v));
        }
        self
    }

    pub(crate) fn json<T: serde::Serialize>(mut self, body: &T) -> Result<Self, Error> {
        // Most bodies are small; starting at 256 bytes saves the first few regrowths.
        let mut bytes = Vec::with_capacity(256);
        serde_json::to_writer(&mut bytes, body).map_err(|e| {
            Error::invalid_argument(format!("request body does not serialize: {e}"))
        })?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    pub(crate) fn header(mut self, name: &'static str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.headers
                .push((HeaderName::from_static(name), v.to_owned()));
        }
        self
    }

    pub(crate) fn build(self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        let endpoint = ctx.endpoint();
        // One string for the whole path and query, which becomes the URI without a copy.
        let mut pq = endpoint.start_path(self.info.path.len() + 96);
        fill_path(&mut pq, self.info.path, self.path)?;
        pq.push('?');
        for (name, value) in &self.query {
            pq.push_str(name);
            pq.push('=');
            push_query_value(&mut pq, value);
            pq.push('&');
        }
        pq.push_str("api-version=");
        push_query_value(&mut pq, ctx.api_version().as_str());
        let uri = endpoint
            .uri_for(pq)
            .map_err(|e| Error::invalid_argument(format!("cannot build the request URL: {e}")))?;
        let content_type = match (&self.body, self.info.content_type) {
            (Some(_), Some(ct)) => Some(ct),
            _ => None,
        };
        let mut request = Request::new(self.body.unwrap_or_default());
        *request.method_mut() = self.info.method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        // Room for these and for what a client adds (request id, User-Agent, Authorization).
        headers.reserve(self.headers.len() + 5);
        headers.insert(ACCEPT, HeaderValue::from_static(self.accept));
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (name, value) in self.headers {
            let value = HeaderValue::try_from(value).map_err(|_| {
                Error::invalid_argument(format!("{name} is not a valid header value"))
            })?;
            headers.append(name, value);
        }
        Ok(request)
    }
}

/// Non-2xx → [`Error::from_response`]; 2xx → the response.
pub(crate) fn check_status(response: Response<Bytes>) -> Result<Response<Bytes>, Error> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(Error::from_response(&response))
    }
}
