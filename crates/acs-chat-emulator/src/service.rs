//! HTTP routing: `http::Request<Bytes>` in, `http::Response<Bytes>` out, over a [`Store`].
//!
//! [`Service::handle`] is synchronous and takes `now`, so it is tested without sockets or a
//! clock. The server ([`crate::RunningEmulator`]) adds the body limit, fault injection and
//! logging around it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use acs_chat_protocol::models::{
    AddChatParticipantsRequest, ChatMessageReadReceiptsCollection, ChatParticipantsCollection,
    ChatRetentionPolicy, ChatThreadsItemCollection, CommunicationIdentifierModel,
    CreateChatThreadRequest, SendChatMessageRequest, SendChatMessageResult, SendReadReceiptRequest,
    SendTypingNotificationRequest,
};
use acs_chat_protocol::{DateTime, encode_path_segment};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::identity::{
    AccessKey, MAX_CLOCK_SKEW, TokenClaims, TokenSigner, format_expires_on, verify_request,
};
use crate::store::{
    Caller, MessageUpdate, MetadataPatch, Patch, Store, StoreError, TOKEN_MINUTES_RANGE,
    ThreadCursor, ThreadUpdate,
};

/// Chat api-versions accepted (every published one; the Python SDK sends 2024-03-07).
pub const CHAT_API_VERSIONS: &[&str] = &[
    "2020-09-21-preview2",
    "2020-11-01-preview3",
    "2021-01-27-preview4",
    "2021-03-01-preview5",
    "2021-03-07",
    "2021-04-05-preview6",
    "2021-09-07",
    "2021-10-01-preview7",
    "2022-04-21-preview8",
    "2023-11-07",
    "2024-03-07",
    "2024-03-15-preview",
    "2025-03-15",
];

/// Identity api-versions accepted (the SDKs send 2023-10-01).
pub const IDENTITY_API_VERSIONS: &[&str] = &[
    "2021-03-07",
    "2021-10-31-preview",
    "2021-11-01",
    "2022-06-01",
    "2022-10-01",
    "2023-10-01",
    "2025-06-30",
    "2026-09-23",
];

/// Token scopes the Identity API knows.
pub const TOKEN_SCOPES: &[&str] = &[
    "chat",
    "voip",
    "chat.join",
    "chat.join.limited",
    "voip.join",
];

/// Default page size of list threads and list messages (the service does not document its own).
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Default page size of list participants and list read receipts.
pub const DEFAULT_PARTICIPANT_PAGE_SIZE: usize = 100;
/// `maxPageSize` is capped at this (the documented ListMessages page size limit).
pub const MAX_PAGE_SIZE: usize = 200;
/// The default token lifetime (24 hours, as the Identity service).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// At most this many verified tokens are remembered (the cache is emptied when full).
const VERIFIED_TOKENS_CAPACITY: usize = 1024;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The emulated service: a [`Store`] behind the wire protocol.
#[derive(Debug)]
pub struct Service {
    store: Mutex<Store>,
    key: AccessKey,
    signer: TokenSigner,
    https: bool,
    default_authority: String,
    requests: std::sync::atomic::AtomicU64,
    /// Tokens whose signature checked out, with their claims. Checking a signature depends only
    /// on the token and the signing key (fixed for the service), so a remembered result is the
    /// result `verify` would give again; revocation and expiry are checked by the store on
    /// every request.
    verified_tokens: Mutex<HashMap<String, TokenClaims>>,
}

struct Ctx<'a> {
    query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    origin: String,
    body: &'a [u8],
    repeatability: Option<&'a str>,
    now: DateTime,
}

impl Ctx<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| &**v)
    }
}

fn json_response<T: serde::Serialize>(status: u16, value: &T) -> Response<Bytes> {
    json_body_response(status, serde_json::to_vec(value).unwrap_or_default())
}

fn json_body_response(status: u16, body: Vec<u8>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The JSON of a `ChatMessagesCollection` (as `serde_json::to_vec` writes it) from the JSON of
/// its messages.
fn messages_collection_json(messages: &[Bytes], next_link: Option<&str>) -> Vec<u8> {
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

fn empty_response(status: u16) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
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

fn with_location(mut response: Response<Bytes>, location: &str) -> Response<Bytes> {
    if let Ok(v) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

fn not_found_route() -> StoreError {
    StoreError::new(404, "NotFound", "The requested resource was not found.")
}

fn parse_query(query: Option<&str>) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let d = |s| percent_decode_str(s).decode_utf8_lossy();
            (d(k), d(v))
        })
        .collect()
}

fn check_api_version(ctx: &Ctx<'_>, allowed: &[&str]) -> Result<()> {
    match ctx.query("api-version") {
        None => Err(StoreError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .with_target("api-version")),
        Some(v) if allowed.contains(&v) => Ok(()),
        Some(v) => Err(StoreError::new(
            400,
            "UnsupportedApiVersion",
            format!(
                "The HTTP resource does not support the api-version '{v}'. Supported versions: {}.",
                allowed.join(", ")
            ),
        )
        .with_target("api-version")),
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Parses a JSON body; errors name the field at fault.
fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    if is_blank(body) {
        return Err(StoreError::bad_request(
            what,
            format!("The request body ({what}) is required."),
        ));
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

fn parse_object(body: &[u8], what: &str) -> Result<serde_json::Map<String, Value>> {
    match parse_json::<Value>(body, what)? {
        Value::Object(map) => Ok(map),
        _ => Err(StoreError::bad_request(
            what,
            "Invalid request body: expected a JSON object.",
        )),
    }
}

fn metadata_patch(value: Option<&Value>) -> Result<Patch<MetadataPatch>> {
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

fn optional_string(map: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(StoreError::bad_request(
            name,
            format!("Invalid request body at `{name}`: expected a string."),
        )),
    }
}

fn page_size(ctx: &Ctx<'_>, default: usize) -> Result<usize> {
    match ctx.query("maxPageSize") {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE)),
            _ => Err(StoreError::bad_request(
                "maxPageSize",
                format!("maxPageSize must be a positive integer, not `{v}`."),
            )),
        },
    }
}

fn skip_param(ctx: &Ctx<'_>) -> Result<usize> {
    match ctx.query("skip") {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<usize>().map_err(|_| {
            StoreError::bad_request(
                "skip",
                format!("skip must be a non-negative integer, not `{v}`."),
            )
        }),
    }
}

fn start_time(ctx: &Ctx<'_>) -> Result<Option<DateTime>> {
    match ctx.query("startTime") {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse(v).map(Some).map_err(|_| {
            StoreError::bad_request(
                "startTime",
                format!("startTime must be an RFC 3339 date-time, not `{v}`."),
            )
        }),
    }
}

fn encode_state(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn invalid_sync_state() -> StoreError {
    StoreError::bad_request("syncState", "The continuation (syncState) is not valid.")
}

fn decode_state(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>> {
    let Some(state) = ctx.query("syncState") else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(state)
        .map_err(|_| invalid_sync_state())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_sync_state())?;
    Ok(Some(text.split('|').map(str::to_owned).collect()))
}

fn time_to_state(t: Option<DateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.unix_timestamp_nanos().to_string())
}

fn time_from_state(s: &str) -> Option<Option<DateTime>> {
    if s == "-" {
        return Some(None);
    }
    s.parse::<i128>()
        .ok()
        .and_then(|n| DateTime::from_unix_timestamp_nanos(n).ok())
        .map(Some)
}

#[derive(Deserialize)]
struct CreateIdentityBody {
    #[serde(rename = "createTokenWithScopes", default)]
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresInMinutes", default)]
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize)]
struct IssueTokenBody {
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresInMinutes", default)]
    expires_in_minutes: Option<i64>,
}

fn token_ttl(minutes: Option<i64>) -> Result<Duration> {
    match minutes {
        None => Ok(DEFAULT_TOKEN_TTL),
        Some(m) if TOKEN_MINUTES_RANGE.contains(&m) => {
            Ok(Duration::from_secs(u64::try_from(m).unwrap_or(0) * 60))
        }
        Some(m) => Err(StoreError::validation(
            "ExpiresInMinutes",
            format!(
                "ExpiresInMinutes value {m} is invalid. Value must be within the [{}, {}] interval.",
                TOKEN_MINUTES_RANGE.start(),
                TOKEN_MINUTES_RANGE.end()
            ),
        )),
    }
}

fn check_scopes(scopes: &[String], target: &str) -> Result<()> {
    match scopes.iter().find(|s| !TOKEN_SCOPES.contains(&s.as_str())) {
        Some(bad) => Err(StoreError::validation(
            target,
            format!(
                "The scope `{bad}` is not valid; valid scopes are {}.",
                TOKEN_SCOPES.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

impl Service {
    /// A service over `store`, verifying HMAC signatures and signing tokens with `key`.
    /// `https` and `default_authority` (`host:port`) build absolute links when a request has no
    /// usable `Host`.
    pub fn new(
        store: Store,
        key: AccessKey,
        https: bool,
        default_authority: impl Into<String>,
    ) -> Self {
        Self {
            signer: TokenSigner::new(&key),
            store: Mutex::new(store),
            key,
            https,
            default_authority: default_authority.into(),
            requests: std::sync::atomic::AtomicU64::new(0),
            verified_tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the store (for in-process setup and inspection).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut store)
    }

    /// Creates a user; returns its raw id.
    pub fn create_user(&self) -> String {
        self.with_store(Store::create_user)
    }

    /// Issues a token for `user_id`: the JWT and its expiry.
    pub fn issue_token(
        &self,
        user_id: &str,
        scopes: &[&str],
        ttl: Duration,
        now: DateTime,
    ) -> Result<(String, DateTime)> {
        self.with_store(|store| {
            let grant = store.issue_token(
                user_id,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
                ttl,
                now,
            )?;
            Ok((
                self.signer.mint(&grant, store.resource_id()),
                grant.expires_on,
            ))
        })
    }

    fn authority<'a>(&'a self, request: &'a Request<Bytes>) -> &'a str {
        let from_uri = request.uri().authority().map(http::uri::Authority::as_str);
        let from_host = || {
            request
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        };
        from_uri
            .or_else(from_host)
            .unwrap_or(&self.default_authority)
    }

    /// Handles one request at `now`. Never panics; every failure is an error response.
    ///
    /// Every response carries an `x-ms-request-id` (and `MS-CV`) like the service's, and echoes
    /// `x-ms-client-request-id` when the request had one.
    pub fn handle(&self, request: &Request<Bytes>, now: DateTime) -> Response<Bytes> {
        let mut response = match self.route(request, now) {
            Ok(response) => response,
            Err(error) => error_response(&error),
        };
        let n = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        let request_id = format!("00000000-0000-4000-8000-{:012x}", n & 0xffff_ffff_ffff);
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::try_from(request_id) {
            headers.insert("x-ms-request-id", v);
        }
        if let Ok(v) = HeaderValue::try_from(format!("emulator.{n}")) {
            headers.insert("ms-cv", v);
        }
        if let Some(v) = request.headers().get("x-ms-client-request-id") {
            headers.insert("x-ms-client-request-id", v.clone());
        }
        response
    }

    fn route(&self, request: &Request<Bytes>, now: DateTime) -> Result<Response<Bytes>> {
        let path = request.uri().path();
        let segments: Vec<Cow<'_, str>> = path
            .strip_prefix('/')
            .ok_or_else(not_found_route)?
            .split('/')
            .map(|s| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map_err(|_| not_found_route())
            })
            .collect::<Result<_>>()?;
        let authority = self.authority(request);
        let scheme = if self.https { "https://" } else { "http://" };
        let ctx = Ctx {
            query: parse_query(request.uri().query()),
            origin: [scheme, authority].concat(),
            body: request.body(),
            repeatability: request
                .headers()
                .get("repeatability-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty()),
            now,
        };
        let segs: Vec<&str> = segments.iter().map(|s| &**s).collect();
        match segs.as_slice() {
            ["identities", rest @ ..] => {
                let op = match (request.method(), rest) {
                    (&Method::POST, []) => IdentityOp::Create,
                    (&Method::DELETE, [id]) => IdentityOp::Delete(id),
                    (&Method::POST, [id, ":issueAccessToken"]) => IdentityOp::Issue(id),
                    (&Method::POST, [id, ":revokeAccessTokens"]) => IdentityOp::Revoke(id),
                    _ => return Err(not_found_route()),
                };
                let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
                verify_request(
                    request.method(),
                    target,
                    authority,
                    request.headers(),
                    request.body(),
                    &self.key,
                    now,
                    MAX_CLOCK_SKEW,
                )
                .map_err(|e| StoreError::unauthorized(e.message()))?;
                check_api_version(&ctx, IDENTITY_API_VERSIONS)?;
                self.identity(&ctx, op)
            }
            ["chat", "threads", rest @ ..] => {
                let op = ChatOp::parse(request.method(), rest).ok_or_else(not_found_route)?;
                check_api_version(&ctx, CHAT_API_VERSIONS)?;
                let header = request.headers().get(AUTHORIZATION);
                self.chat(&ctx, header, op)
            }
            _ => Err(not_found_route()),
        }
    }

    // ---- identity ------------------------------------------------------------------------

    fn identity(&self, ctx: &Ctx<'_>, op: IdentityOp<'_>) -> Result<Response<Bytes>> {
        match op {
            IdentityOp::Create => {
                let body: Option<CreateIdentityBody> = if is_blank(ctx.body) {
                    None
                } else {
                    parse_json(ctx.body, "body")?
                };
                let (scopes, minutes) = body
                    .map(|b| (b.scopes.unwrap_or_default(), b.expires_in_minutes))
                    .unwrap_or_default();
                check_scopes(&scopes, "CreateTokenWithScopes")?;
                let ttl = token_ttl(minutes)?;
                self.with_store(|store| {
                    let id = store.create_user();
                    let mut result = json!({ "identity": { "id": id } });
                    if !scopes.is_empty() {
                        let grant = store.issue_token(&id, scopes, ttl, ctx.now)?;
                        result["accessToken"] = json!({
                            "token": self.signer.mint(&grant, store.resource_id()),
                            "expiresOn": format_expires_on(grant.expires_on),
                        });
                    }
                    let location =
                        format!("{}/identities/{}", ctx.origin, encode_path_segment(&id));
                    Ok(with_location(json_response(201, &result), &location))
                })
            }
            IdentityOp::Issue(id) => {
                let body: IssueTokenBody = parse_json(ctx.body, "body")?;
                let scopes = body.scopes.filter(|s| !s.is_empty()).ok_or_else(|| {
                    StoreError::validation("Scopes", "Scopes: The Scopes field is required.")
                })?;
                check_scopes(&scopes, "Scopes")?;
                let ttl = token_ttl(body.expires_in_minutes)?;
                self.with_store(|store| {
                    let grant = store.issue_token(id, scopes, ttl, ctx.now)?;
                    Ok(json_response(
                        200,
                        &json!({
                            "token": self.signer.mint(&grant, store.resource_id()),
                            "expiresOn": format_expires_on(grant.expires_on),
                        }),
                    ))
                })
            }
            IdentityOp::Revoke(id) => {
                self.with_store(|store| store.revoke_tokens(id))?;
                Ok(empty_response(204))
            }
            IdentityOp::Delete(id) => {
                self.with_store(|store| store.delete_user(id))?;
                Ok(empty_response(204))
            }
        }
    }

    // ---- chat ----------------------------------------------------------------------------

    /// `f` of the claims of `token` when its signature is good ([`TokenSigner::verify`]),
    /// remembering the tokens that pass (see `verified_tokens`).
    fn with_verified_token<R>(&self, token: &str, f: impl FnOnce(&TokenClaims) -> R) -> Option<R> {
        let mut verified = self
            .verified_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(claims) = verified.get(token) {
            return Some(f(claims));
        }
        let claims = self.signer.verify(token)?;
        let result = f(&claims);
        if verified.len() >= VERIFIED_TOKENS_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims);
        Some(result)
    }

    fn authenticate(
        &self,
        store: &mut Store,
        header: Option<&HeaderValue>,
        now: DateTime,
    ) -> Result<Caller> {
        let header = header.ok_or_else(|| {
            StoreError::unauthorized("The Authorization header (Bearer <access token>) is missing.")
        })?;
        let value = header
            .to_str()
            .map_err(|_| StoreError::unauthorized("The Authorization header is malformed."))?;
        let token = match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
            _ => {
                return Err(StoreError::unauthorized(
                    "The Authorization header must be `Bearer <access token>`.",
                ));
            }
        };
        let caller = self
            .with_verified_token(token, |claims| {
                store.authenticate(&claims.token_id, &claims.user_id, now)
            })
            .ok_or_else(|| StoreError::unauthorized("The access token is not valid."))??;
        if !caller
            .scopes
            .iter()
            .any(|s| s == "chat" || s.starts_with("chat."))
        {
            return Err(StoreError::new(
                403,
                "Forbidden",
                "The access token does not have the `chat` scope.",
            ));
        }
        Ok(caller)
    }

    fn thread_url(&self, ctx: &Ctx<'_>, thread_id: &str) -> String {
        format!(
            "{}/chat/threads/{}",
            ctx.origin,
            encode_path_segment(thread_id)
        )
    }

    fn chat(
        &self,
        ctx: &Ctx<'_>,
        header: Option<&HeaderValue>,
        op: ChatOp<'_>,
    ) -> Result<Response<Bytes>> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = &mut *store;
        let caller = self.authenticate(store, header, ctx.now)?;
        let now = ctx.now;
        let version = ctx.query("api-version").unwrap_or_default();
        match op {
            ChatOp::CreateThread => {
                let request: CreateChatThreadRequest =
                    parse_json(ctx.body, "createChatThreadRequest")?;
                let result = store.create_thread(&caller, request, ctx.repeatability, now)?;
                let location = result
                    .chat_thread
                    .as_ref()
                    .map(|t| self.thread_url(ctx, &t.id))
                    .unwrap_or_default();
                Ok(with_location(json_response(201, &result), &location))
            }
            ChatOp::ListThreads => {
                let size = page_size(ctx, DEFAULT_PAGE_SIZE)?;
                let (start, cursor) = match decode_state(ctx)?.as_deref() {
                    None => (start_time(ctx)?, None),
                    Some([tag, ts, id, start]) if tag == "t1" => {
                        let last = time_from_state(ts)
                            .flatten()
                            .ok_or_else(invalid_sync_state)?;
                        let start = time_from_state(start).ok_or_else(invalid_sync_state)?;
                        (
                            start,
                            Some(ThreadCursor {
                                last_message_received_on: last,
                                id: id.clone(),
                            }),
                        )
                    }
                    Some(_) => return Err(invalid_sync_state()),
                };
                let listing = store.list_threads(&caller, start, cursor.as_ref(), size, now);
                let mut page = ChatThreadsItemCollection::new(listing.items);
                page.next_link = listing.next.map(|c| {
                    let state = encode_state(&format!(
                        "t1|{}|{}|{}",
                        c.last_message_received_on.unix_timestamp_nanos(),
                        c.id,
                        time_to_state(start)
                    ));
                    format!(
                        "{}/chat/threads?syncState={state}&maxPageSize={size}&api-version={version}",
                        ctx.origin
                    )
                });
                Ok(json_response(200, &page))
            }
            ChatOp::GetThread(id) => {
                let props = store.get_thread(&caller, id, now)?;
                Ok(json_response(200, &props))
            }
            ChatOp::UpdateThread(id) => {
                let map = parse_object(ctx.body, "updateChatThreadRequest")?;
                let retention_policy = match map.get("retentionPolicy") {
                    None => Patch::Keep,
                    Some(Value::Null) => Patch::Clear,
                    Some(v) => Patch::Set(
                        serde_json::from_value::<ChatRetentionPolicy>(v.clone()).map_err(|e| {
                            StoreError::bad_request(
                                "retentionPolicy",
                                format!("Invalid request body at `retentionPolicy`: {e}"),
                            )
                        })?,
                    ),
                };
                let update = ThreadUpdate {
                    topic: optional_string(&map, "topic")?,
                    metadata: metadata_patch(map.get("metadata"))?,
                    retention_policy,
                };
                store.update_thread(&caller, id, update, now)?;
                Ok(empty_response(204))
            }
            ChatOp::DeleteThread(id) => {
                store.delete_thread(&caller, id, now)?;
                Ok(empty_response(204))
            }
            ChatOp::SendMessage(id) => {
                let request: SendChatMessageRequest =
                    parse_json(ctx.body, "sendChatMessageRequest")?;
                let message_id = store.send_message(&caller, id, request, now)?;
                let location = format!(
                    "{}/chat/threads/{}/messages/{message_id}",
                    ctx.origin,
                    encode_path_segment(id)
                );
                Ok(with_location(
                    json_response(201, &SendChatMessageResult::new(message_id)),
                    &location,
                ))
            }
            ChatOp::ListMessages(id) => {
                let size = page_size(ctx, DEFAULT_PAGE_SIZE)?;
                let (start, before) = match decode_state(ctx)?.as_deref() {
                    None => (start_time(ctx)?, None),
                    Some([tag, seq, start]) if tag == "m1" => {
                        let seq = seq.parse::<u64>().map_err(|_| invalid_sync_state())?;
                        let start = time_from_state(start).ok_or_else(invalid_sync_state)?;
                        (start, Some(seq))
                    }
                    Some(_) => return Err(invalid_sync_state()),
                };
                let listing = store.list_messages_json(&caller, id, start, before, size, now)?;
                let next_link = listing.next.map(|seq| {
                    let state = encode_state(&format!("m1|{seq}|{}", time_to_state(start)));
                    format!(
                        "{}/messages?syncState={state}&maxPageSize={size}&api-version={version}",
                        self.thread_url(ctx, id)
                    )
                });
                Ok(json_body_response(
                    200,
                    messages_collection_json(&listing.items, next_link.as_deref()),
                ))
            }
            ChatOp::GetMessage(id, message_id) => {
                let message = store.get_message(&caller, id, message_id, now)?;
                Ok(json_response(200, &message))
            }
            ChatOp::UpdateMessage(id, message_id) => {
                let map = parse_object(ctx.body, "updateChatMessageRequest")?;
                let update = MessageUpdate {
                    content: optional_string(&map, "content")?,
                    metadata: metadata_patch(map.get("metadata"))?,
                };
                store.update_message(&caller, id, message_id, update, now)?;
                Ok(empty_response(204))
            }
            ChatOp::DeleteMessage(id, message_id) => {
                store.delete_message(&caller, id, message_id, now)?;
                Ok(empty_response(204))
            }
            ChatOp::ListParticipants(id) => {
                let size = page_size(ctx, DEFAULT_PARTICIPANT_PAGE_SIZE)?;
                let skip = skip_param(ctx)?;
                let listing = store.list_participants(&caller, id, skip, size, now)?;
                let mut page = ChatParticipantsCollection::new(listing.items);
                page.next_link = listing.next.map(|skip| {
                    format!(
                        "{}/participants?skip={skip}&maxPageSize={size}&api-version={version}",
                        self.thread_url(ctx, id)
                    )
                });
                Ok(json_response(200, &page))
            }
            ChatOp::AddParticipants(id) => {
                let request: AddChatParticipantsRequest =
                    parse_json(ctx.body, "addChatParticipantsRequest")?;
                let result = store.add_participants(&caller, id, request.participants, now)?;
                Ok(json_response(201, &result))
            }
            ChatOp::RemoveParticipant(id) => {
                let who: CommunicationIdentifierModel =
                    parse_json(ctx.body, "participantCommunicationIdentifier")?;
                store.remove_participant(&caller, id, &who, now)?;
                Ok(empty_response(204))
            }
            ChatOp::SendReadReceipt(id) => {
                let request: SendReadReceiptRequest =
                    parse_json(ctx.body, "sendReadReceiptRequest")?;
                store.send_read_receipt(&caller, id, &request.chat_message_id, now)?;
                Ok(empty_response(200))
            }
            ChatOp::ListReadReceipts(id) => {
                let size = page_size(ctx, DEFAULT_PARTICIPANT_PAGE_SIZE)?;
                let skip = skip_param(ctx)?;
                let listing = store.list_read_receipts(&caller, id, skip, size, now)?;
                let mut page = ChatMessageReadReceiptsCollection::new(listing.items);
                page.next_link = listing.next.map(|skip| {
                    format!(
                        "{}/readReceipts?skip={skip}&maxPageSize={size}&api-version={version}",
                        self.thread_url(ctx, id)
                    )
                });
                Ok(json_response(200, &page))
            }
            ChatOp::Typing(id) => {
                if !is_blank(ctx.body) {
                    let _: SendTypingNotificationRequest =
                        parse_json(ctx.body, "sendTypingNotificationRequest")?;
                }
                store.send_typing(&caller, id, now)?;
                Ok(empty_response(200))
            }
        }
    }
}

enum IdentityOp<'a> {
    Create,
    Delete(&'a str),
    Issue(&'a str),
    Revoke(&'a str),
}

enum ChatOp<'a> {
    CreateThread,
    ListThreads,
    GetThread(&'a str),
    UpdateThread(&'a str),
    DeleteThread(&'a str),
    SendMessage(&'a str),
    ListMessages(&'a str),
    GetMessage(&'a str, &'a str),
    UpdateMessage(&'a str, &'a str),
    DeleteMessage(&'a str, &'a str),
    ListParticipants(&'a str),
    AddParticipants(&'a str),
    RemoveParticipant(&'a str),
    SendReadReceipt(&'a str),
    ListReadReceipts(&'a str),
    Typing(&'a str),
}

impl<'a> ChatOp<'a> {
    fn parse(method: &Method, rest: &[&'a str]) -> Option<Self> {
        let op = match (method.as_str(), rest) {
            ("POST", []) => Self::CreateThread,
            ("GET", []) => Self::ListThreads,
            (_, ["", ..]) => return None,
            ("GET", [id]) => Self::GetThread(id),
            ("PATCH", [id]) => Self::UpdateThread(id),
            ("DELETE", [id]) => Self::DeleteThread(id),
            ("POST", [id, "messages"]) => Self::SendMessage(id),
            ("GET", [id, "messages"]) => Self::ListMessages(id),
            ("GET", [id, "messages", m]) => Self::GetMessage(id, m),
            ("PATCH", [id, "messages", m]) => Self::UpdateMessage(id, m),
            ("DELETE", [id, "messages", m]) => Self::DeleteMessage(id, m),
            ("GET", [id, "participants"]) => Self::ListParticipants(id),
            ("POST", [id, "participants", ":add"]) => Self::AddParticipants(id),
            ("POST", [id, "participants", ":remove"]) => Self::RemoveParticipant(id),
            ("POST", [id, "readReceipts"]) => Self::SendReadReceipt(id),
            ("GET", [id, "readReceipts"]) => Self::ListReadReceipts(id),
            ("POST", [id, "typing"]) => Self::Typing(id),
            _ => return None,
        };
        Some(op)
    }
}

#[cfg(test)]
mod tests;
