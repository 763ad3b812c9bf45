//! JSON bodies: responses (including the error shape) and request parsing that names the field
//! at fault.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Result;
use crate::store::{MetadataPatch, Patch, StoreError};

/// A JSON response with `value` as its body.
pub(super) fn json_response<T: serde::Serialize>(status: u16, value: &T) -> Response<Bytes> {
    json_body_response(status, serde_json::to_vec(value).unwrap_or_default())
}

/// A JSON response with `body`, already JSON.
pub(super) fn json_body_response(status: u16, body: Vec<u8>) -> Response<Bytes> {
    let mut response = response(status, Bytes::from(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A response with `body` and a header map with room for every header a response gets
/// (`Content-Type`, `Location`, `Retry-After`, the request ids, `MS-CV`, and hyper's
/// `Content-Length`), so that none of them makes it grow.
fn response(status: u16, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    *response.headers_mut() = HeaderMap::with_capacity(8);
    response
}

/// The JSON of a `ChatMessagesCollection` (as `serde_json::to_vec` writes it) from the JSON of
/// its messages.
pub(super) fn messages_collection_json(messages: &[Bytes], next_link: Option<&str>) -> Vec<u8> {
    let size = messages.iter().map(|m| m.len() + 1).sum::<usize>()
        + next_link.map_or(0, |l| l.len() + 16)
        + 16;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(br#"{"value":["#);
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(message);
    }
    body.push(b']');
    if let Some(link) = next_link {
        body.extend_from_slice(br#","nextLink":"#);
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, link);
    }
    body.push(b'}');
    body
}

/// A response without a body.
pub(super) fn empty_response(status: u16) -> Response<Bytes> {
    response(status, Bytes::new())
}

/// The error response for `error`: `{"error": {...}}`, plus `Retry-After` when it has one (a
/// throttled request, or an injected failure).
pub fn error_response(error: &StoreError) -> Response<Bytes> {
    let mut response = json_response(error.status(), &error.to_model());
    if let Some(secs) = error.retry_after_seconds() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `response` with a `Location` header (left out when `location` is not a header value).
pub(super) fn with_location(mut response: Response<Bytes>, location: String) -> Response<Bytes> {
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(location)) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

/// Whether a body is empty or only whitespace.
pub(super) fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Parses a JSON body; errors name the field at fault.
pub(super) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    if is_blank(body) {
        return Err(StoreError::bad_request(
            what,
            format!("The request body ({what}) is required."),
        ));
    }
    // A body that parses (nearly all) needs no path; one that does not is parsed again,
    // tracking the path, for the error (the same parse, so the same error).
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            StoreError::bad_request(what, format!("Invalid request body: {inner}"))
        } else {
            StoreError::bad_request(&path, format!("Invalid request body at `{path}`: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| StoreError::bad_request(what, format!("Invalid request body: {e}")))?;
    Ok(value)
}

/// Parses a JSON object body (a merge patch).
pub(super) fn parse_object(body: &[u8], what: &str) -> Result<serde_json::Map<String, Value>> {
    match parse_json::<Value>(body, what)? {
        Value::Object(map) => Ok(map),
        _ => Err(StoreError::bad_request(
            what,
            "Invalid request body: expected a JSON object.",
        )),
    }
}

/// The `metadata` member of a merge patch.
pub(super) fn metadata_patch(value: Option<&Value>) -> Result<Patch<MetadataPatch>> {
    match value {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), Some(s.clone()))),
                Value::Null => Ok((k.clone(), None)),
                _ => Err(StoreError::bad_request(
                    &format!("metadata.{k}"),
                    format!("Invalid request body at `metadata.{k}`: expected a string or null."),
                )),
            })
            .collect::<Result<BTreeMap<_, _>>>()
            .map(Patch::Set),
        Some(_) => Err(StoreError::bad_request(
            "metadata",
            "Invalid request body at `metadata`: expected an object or null.",
        )),
    }
}

/// A string member of a merge patch (`null` and missing are `None`).
pub(super) fn optional_string(
    map: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<String>> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(StoreError::bad_request(
            name,
            format!("Invalid request body at `{name}`: expected a string."),
        )),
    }
}
