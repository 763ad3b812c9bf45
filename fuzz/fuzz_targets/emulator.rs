//! A few arbitrary requests (method, path, query, headers, body; with a valid bearer token or
//! HMAC signature sometimes, so the store is reached) through a fresh emulator's
//! `Service::handle`. Never a panic: the service turns a panic into a 500, and this in-memory,
//! fault-free service has no other 500 (no database to fail, no injected faults), so a 500
//! fails the target. Every response is bounded (64 KiB plus 8 bytes per byte of requests so
//! far: JSON escaping makes at most 6 of one) and every error has the service's error shape.
#![no_main]

use std::time::Duration;

use acs_chat_emulator::{DEV_ACCESS_KEY, Emulator, Service};
use acs_chat_protocol::DateTime;
use acs_chat_protocol::identity::{AccessKey, sign_request};
use acs_chat_protocol::models::CommunicationErrorResponse;
use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const MAX_REQUESTS: usize = 8;
const AUTHORITY: &str = "127.0.0.1:10500";

#[derive(Arbitrary, Debug)]
struct Req<'a> {
    method: Verb,
    path: Path,
    api_version: Version,
    query: Vec<(Query, String)>,
    auth: Auth<'a>,
    headers: Vec<(String, &'a [u8])>,
    body: Body<'a>,
    /// Seconds since the previous request (up to 100 days).
    later: u32,
}

#[derive(Arbitrary, Debug)]
enum Verb {
    Get,
    Post,
    Patch,
    Delete,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Path {
    Threads,
    Thread(Id),
    Messages(Id),
    Message(Id, Id),
    Participants(Id),
    AddParticipants(Id),
    RemoveParticipant(Id),
    ReadReceipts(Id),
    Typing(Id),
    Images(Id),
    Identities,
    Identity(Id),
    IssueToken(Id),
    RevokeTokens(Id),
    Raw(String),
}

/// An id: one the conversation made so far, or any text.
#[derive(Arbitrary, Debug, Clone)]
enum Id {
    Thread,
    Message,
    Me,
    Other,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Version {
    Chat,
    Preview,
    Identity,
    Missing,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Query {
    MaxPageSize,
    Skip,
    StartTime,
    SyncState,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Auth<'a> {
    /// The first user's token.
    Me,
    /// The second user's token.
    Other,
    /// Signed with the access key.
    Hmac,
    None,
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
enum Body<'a> {
    Empty,
    Raw(&'a [u8]),
    Json(Json),
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Id(Id),
    /// Seconds since the epoch, as an RFC 3339 date.
    Date(i64),
    /// `{"communicationUser": {"id": …}}`
    User(Id),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Topic,
    Participants,
    CommunicationIdentifier,
    DisplayName,
    ShareHistoryTime,
    Metadata,
    RetentionPolicy,
    Kind,
    DeleteThreadAfterDays,
    Content,
    SenderDisplayName,
    Type,
    ChatMessageId,
    Attachments,
    CreateTokenWithScopes,
    ExpiresInMinutes,
    Scopes,
    RawId,
    CommunicationUser,
    Id,
    Other(String),
}

impl Key {
    fn name(&self) -> &str {
        match self {
            Self::Topic => "topic",
            Self::Participants => "participants",
            Self::CommunicationIdentifier => "communicationIdentifier",
            Self::DisplayName => "displayName",
            Self::ShareHistoryTime => "shareHistoryTime",
            Self::Metadata => "metadata",
            Self::RetentionPolicy => "retentionPolicy",
            Self::Kind => "kind",
            Self::DeleteThreadAfterDays => "deleteThreadAfterDays",
            Self::Content => "content",
            Self::SenderDisplayName => "senderDisplayName",
            Self::Type => "type",
            Self::ChatMessageId => "chatMessageId",
            Self::Attachments => "attachments",
            Self::CreateTokenWithScopes => "createTokenWithScopes",
            Self::ExpiresInMinutes => "expiresInMinutes",
            Self::Scopes => "scopes",
            Self::RawId => "rawId",
            Self::CommunicationUser => "communicationUser",
            Self::Id => "id",
            Self::Other(name) => name,
        }
    }
}

/// What the conversation has made so far.
struct World {
    service: Service,
    me: (String, String),
    other: (String, String),
    thread: String,
    message: String,
}

impl World {
    fn id(&self, id: &Id) -> String {
        match id {
            Id::Thread => self.thread.clone(),
            Id::Message => self.message.clone(),
            Id::Me => self.me.0.clone(),
            Id::Other => self.other.0.clone(),
            Id::Raw(text) => text.clone(),
        }
    }

    fn json(&self, json: &Json, depth: u8) -> Value {
        if depth > 8 {
            return Value::Null;
        }
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(n) => json!(n),
            Json::Float(f) => json!(f),
            Json::Str(s) => json!(s),
            Json::Id(id) => json!(self.id(id)),
            Json::Date(secs) => {
                DateTime::from_unix_timestamp(*secs).map_or(Value::Null, |t| json!(t.to_string()))
            }
            Json::User(id) => json!({"communicationUser": {"id": self.id(id)}}),
            Json::Array(items) => items.iter().map(|j| self.json(j, depth + 1)).collect(),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, j)| (k.name().to_owned(), self.json(j, depth + 1)))
                    .collect(),
            ),
        }
    }

    fn path(&self, path: &Path) -> String {
        let seg = |id: &Id| acs_chat_protocol::encode_path_segment(&self.id(id)).into_owned();
        match path {
            Path::Threads => "/chat/threads".into(),
            Path::Thread(t) => format!("/chat/threads/{}", seg(t)),
            Path::Messages(t) => format!("/chat/threads/{}/messages", seg(t)),
            Path::Message(t, m) => format!("/chat/threads/{}/messages/{}", seg(t), seg(m)),
            Path::Participants(t) => format!("/chat/threads/{}/participants", seg(t)),
            Path::AddParticipants(t) => format!("/chat/threads/{}/participants/:add", seg(t)),
            Path::RemoveParticipant(t) => {
                format!("/chat/threads/{}/participants/:remove", seg(t))
            }
            Path::ReadReceipts(t) => format!("/chat/threads/{}/readReceipts", seg(t)),
            Path::Typing(t) => format!("/chat/threads/{}/typing", seg(t)),
            Path::Images(t) => format!("/chat/threads/{}/images", seg(t)),
            Path::Identities => "/identities".into(),
            Path::Identity(u) => format!("/identities/{}", seg(u)),
            Path::IssueToken(u) => format!("/identities/{}/:issueAccessToken", seg(u)),
            Path::RevokeTokens(u) => format!("/identities/{}/:revokeAccessTokens", seg(u)),
            Path::Raw(text) => text.clone(),
        }
    }

    fn request(&self, req: &Req<'_>, now: DateTime) -> Option<Request<Bytes>> {
        let method = match &req.method {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
            Verb::Other(m) => Method::from_bytes(m.as_bytes()).ok()?,
        };
        let mut target = self.path(&req.path);
        let mut query: Vec<String> = Vec::new();
        match &req.api_version {
            Version::Chat => query.push("api-version=2025-03-15".into()),
            Version::Preview => query.push("api-version=2024-03-15-preview".into()),
            Version::Identity => query.push("api-version=2023-10-01".into()),
            Version::Missing => {}
            Version::Raw(v) => query.push(format!("api-version={v}")),
        }
        for (name, value) in &req.query {
            let name = match name {
                Query::MaxPageSize => "maxPageSize",
                Query::Skip => "skip",
                Query::StartTime => "startTime",
                Query::SyncState => "syncState",
                Query::Other(name) => name,
            };
            query.push(format!("{name}={value}"));
        }
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let body = match &req.body {
            Body::Empty => Vec::new(),
            Body::Raw(bytes) => bytes.to_vec(),
            Body::Json(json) => serde_json::to_vec(&self.json(json, 0)).ok()?,
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("https://{AUTHORITY}{target}"))
            .body(Bytes::from(body))
            .ok()?;
        for (name, value) in &req.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_bytes(value)) {
                request.headers_mut().append(n, v);
            }
        }
        let bearer = |token: &str| HeaderValue::try_from(format!("Bearer {token}")).ok();
        let auth = match &req.auth {
            Auth::Me => bearer(&self.me.1),
            Auth::Other => bearer(&self.other.1),
            Auth::Hmac => {
                let key = AccessKey::from_base64(DEV_ACCESS_KEY).expect("the development key");
                sign_request(&mut request, &key, now).ok()?;
                None
            }
            Auth::None => None,
            Auth::Raw(bytes) => HeaderValue::from_bytes(bytes).ok(),
        };
        if let Some(auth) = auth {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, auth);
        }
        Some(request)
    }

    /// Remembers the ids a response made.
    fn learn(&mut self, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Some(id) = value["chatThread"]["id"].as_str() {
            self.thread = id.to_owned();
        }
        if let Some(id) = value["id"].as_str() {
            self.message = id.to_owned();
        }
    }
}

fn size(request: &Request<Bytes>) -> usize {
    request.uri().to_string().len()
        + request.body().len()
        + request
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum::<usize>()
}

fuzz_target!(|requests: Vec<Req<'_>>| {
    let mut now = DateTime::from_unix_timestamp(1_750_000_000).expect("in range");
    let service = Emulator::builder()
        .seed(1)
        .service()
        .expect("a fault-free in-memory service");
    let ttl = Duration::from_secs(400 * 86_400);
    let user = || {
        let id = service.create_user();
        let (token, _) = service
            .issue_token(&id, &["chat"], ttl, now)
            .expect("a token for a new user");
        (id, token)
    };
    let (me, other) = (user(), user());
    let mut world = World {
        service,
        me,
        other,
        thread: "19:none@thread.v2".into(),
        message: "0".into(),
    };
    let mut sent = 0;
    for req in requests.iter().take(MAX_REQUESTS) {
        let later = Duration::from_secs(u64::from(req.later % (100 * 86_400)));
        now = now.checked_add(later).expect("in range");
        let Some(request) = world.request(req, now) else {
            continue;
        };
        sent += size(&request);
        let response = world.service.handle(&request, now);
        let status = response.status();
        assert_ne!(status, 500, "a caught panic: {:?}", response.body());
        let bound = 64 * 1024 + 8 * sent;
        assert!(
            response.body().len() <= bound,
            "a response of {} bytes to {sent} bytes of requests",
            response.body().len()
        );
        assert!(response.headers().contains_key("x-ms-request-id"));
        if status.is_client_error() || status.is_server_error() {
            let parsed = serde_json::from_slice::<CommunicationErrorResponse>(response.body());
            assert!(parsed.is_ok(), "{status}: {:?}", response.body());
        }
        world.learn(response.body());
    }
});
