//! The Chat API's handlers, one per operation of the generated table, and what they share:
//! bearer-token authentication, page sizes and continuations.
//!
//! Each handler parses the request first, then runs on the store as the caller
//! ([`Service::as_caller`]), then writes the response.

use std::sync::Arc;

use acs_chat_protocol::models::{
    AddChatParticipantsRequest, ChatMessageReadReceiptsCollection, ChatParticipantsCollection,
    ChatRetentionPolicy, ChatThreadsItemCollection, CreateChatThreadRequest,
    SendChatMessageRequest, SendChatMessageResult, SendReadReceiptRequest,
    SendTypingNotificationRequest,
};
use acs_chat_protocol::{CommunicationIdentifier, DateTime, push_path_segment};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::Response;
use serde_json::Value;

use super::json::{
    empty_response, is_blank, json_body_response, json_response, messages_collection_json,
    metadata_patch, optional_string, parse_json, parse_object, with_location,
};
use super::{
    Ctx, DEFAULT_PAGE_SIZE, DEFAULT_PARTICIPANT_PAGE_SIZE, Origin, Result, Service,
    VERIFIED_TOKENS_CAPACITY,
};
use crate::identity::TokenClaims;
use crate::store::{Caller, MessageUpdate, Patch, Store, StoreError, ThreadCursor, ThreadUpdate};

impl Service {
    /// The claims of `token` when its signature is good, remembering the tokens that pass
    /// (see `verified_tokens`).
    fn verified_claims(&self, token: &str) -> Option<Arc<TokenClaims>> {
        let signature = token.rsplit('.').next().unwrap_or(token);
        let mut verified = self
            .verified_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((whole, claims)) = verified.get(signature)
            && whole == token
        {
            return Some(Arc::clone(claims));
        }
        let claims = Arc::new(self.signer.verify(token)?);
        if verified.len() >= VERIFIED_TOKENS_CAPACITY {
            verified.clear();
        }
        verified.insert(
            signature.to_owned(),
            (token.to_owned(), Arc::clone(&claims)),
        );
        Some(claims)
    }

    /// The caller the request's bearer token stands for: 401 without a valid, live token, 403
    /// without a chat scope.
    pub(super) fn authenticate(&self, ctx: &Ctx<'_>) -> Result<Caller> {
        let header = ctx.authorization.ok_or_else(|| {
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
        let claims = self
            .verified_claims(token)
            .ok_or_else(|| StoreError::unauthorized("The access token is not valid."))?;
        let caller = self.transact(ctx, |store| {
            store.authenticate(&claims.token_id, &claims.user_id, ctx.now)
        })?;
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

    /// Runs `f` on the store as the request's caller (authenticated before the handler ran).
    fn as_caller<R>(
        &self,
        ctx: &Ctx<'_>,
        f: impl FnOnce(&mut Store, &Caller) -> Result<R>,
    ) -> Result<R> {
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| StoreError::unauthorized("The request is not authenticated."))?;
        self.transact(ctx, |store| f(store, caller))
    }
}

fn thread_url(ctx: &Ctx<'_>) -> String {
    ThreadUrl::of(ctx).followed_by(&[])
}

/// The URL of a thread, written where it is needed.
struct ThreadUrl<'a> {
    origin: Origin<'a>,
    id: &'a str,
}

impl<'a> ThreadUrl<'a> {
    /// The request's thread.
    fn of(ctx: &'a Ctx<'a>) -> Self {
        Self {
            origin: ctx.origin,
            id: ctx.param("chatThreadId"),
        }
    }

    /// The URL with `tail` after it (`["/messages/", id]`), written in one `String` (every
    /// message sent gets its `Location`).
    fn followed_by(&self, tail: &[&str]) -> String {
        const PATH: &str = "/chat/threads/";
        let mut url = String::with_capacity(
            self.origin.scheme.len()
                + self.origin.authority.len()
                + PATH.len()
                + self.id.len() * 3
                + tail.iter().map(|t| t.len()).sum::<usize>(),
        );
        url.push_str(self.origin.scheme);
        url.push_str(self.origin.authority);
        url.push_str(PATH);
        push_path_segment(&mut url, self.id);
        for part in tail {
            url.push_str(part);
        }
        url
    }
}

/// `maxPageSize`: `default` when absent, else within `1..=max` (400 naming the bounds).
fn page_size(ctx: &Ctx<'_>, default: usize, max: usize) -> Result<usize> {
    match ctx.query("maxPageSize") {
        None | Some("") => Ok(default.min(max)),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(StoreError::validation(
                "maxPageSize",
                format!("maxPageSize must be an integer from 1 to {max}, not `{v}`."),
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

pub(super) fn encode_state(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn invalid_sync_state() -> StoreError {
    StoreError::bad_request("syncState", "The continuation (syncState) is not valid.")
}

/// The fields of the `syncState` continuation, when the request has one.
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

/// `POST /chat/threads`
pub(super) fn create_thread(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let request: CreateChatThreadRequest = parse_json(ctx.body, "createChatThreadRequest")?;
    let result = s.as_caller(ctx, |store, caller| {
        store.create_thread(caller, request, ctx.repeatability, ctx.now)
    })?;
    let location = result
        .chat_thread
        .as_ref()
        .map(|t| {
            ThreadUrl {
                origin: ctx.origin,
                id: &t.id,
            }
            .followed_by(&[])
        })
        .unwrap_or_default();
    Ok(with_location(json_response(201, &result), location))
}

/// `GET /chat/threads`
pub(super) fn list_threads(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let size = page_size(ctx, DEFAULT_PAGE_SIZE, s.limits.max_page_size)?;
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
    let listing = s.as_caller(ctx, |store, caller| {
        Ok(store.list_threads(caller, start, cursor.as_ref(), size, ctx.now))
    })?;
    let mut page = ChatThreadsItemCollection::new(listing.items);
    page.next_link = listing.next.map(|c| {
        let state = encode_state(&format!(
            "t1|{}|{}|{}",
            c.last_message_received_on.unix_timestamp_nanos(),
            c.id,
            time_to_state(start)
        ));
        format!(
            "{}/chat/threads?syncState={state}&maxPageSize={size}&api-version={}",
            ctx.origin,
            ctx.api_version()
        )
    });
    Ok(json_response(200, &page))
}

/// `GET /chat/threads/{chatThreadId}`
pub(super) fn get_thread(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let id = ctx.param("chatThreadId");
    let props = s.as_caller(ctx, |store, caller| store.get_thread(caller, id, ctx.now))?;
    Ok(json_response(200, &props))
}

/// `PATCH /chat/threads/{chatThreadId}`
pub(super) fn update_thread(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
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
    let id = ctx.param("chatThreadId");
    s.as_caller(ctx, |store, caller| {
        store.update_thread(caller, id, update, ctx.now)
    })?;
    Ok(empty_response(204))
}

/// `DELETE /chat/threads/{chatThreadId}`
pub(super) fn delete_thread(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let id = ctx.param("chatThreadId");
    s.as_caller(ctx, |store, caller| {
        store.delete_thread(caller, id, ctx.now)
    })?;
    Ok(empty_response(204))
}

/// `POST /chat/threads/{chatThreadId}/messages`
pub(super) fn send_message(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let request: SendChatMessageRequest = parse_json(ctx.body, "sendChatMessageRequest")?;
    let id = ctx.param("chatThreadId");
    let message_id = s.as_caller(ctx, |store, caller| {
        store.send_message(caller, id, request, ctx.now)
    })?;
    let location = ThreadUrl::of(ctx).followed_by(&["/messages/", &message_id]);
    Ok(with_location(
        json_response(201, &SendChatMessageResult::new(message_id)),
        location,
    ))
}

/// `GET /chat/threads/{chatThreadId}/messages`
pub(super) fn list_messages(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let size = page_size(ctx, DEFAULT_PAGE_SIZE, s.limits.max_page_size)?;
    let (start, before) = match decode_state(ctx)?.as_deref() {
        None => (start_time(ctx)?, None),
        Some([tag, seq, start]) if tag == "m1" => {
            let seq = seq.parse::<u64>().map_err(|_| invalid_sync_state())?;
            let start = time_from_state(start).ok_or_else(invalid_sync_state)?;
            (start, Some(seq))
        }
        Some(_) => return Err(invalid_sync_state()),
    };
    let id = ctx.param("chatThreadId");
    let listing = s.as_caller(ctx, |store, caller| {
        store.list_messages_json(caller, id, start, before, size, ctx.now)
    })?;
    let next_link = listing.next.map(|seq| {
        let state = encode_state(&format!("m1|{seq}|{}", time_to_state(start)));
        format!(
            "{}/messages?syncState={state}&maxPageSize={size}&api-version={}",
            thread_url(ctx),
            ctx.api_version()
        )
    });
    Ok(json_body_response(
        200,
        messages_collection_json(&listing.items, next_link.as_deref()),
    ))
}

/// `GET /chat/threads/{chatThreadId}/messages/{chatMessageId}`
pub(super) fn get_message(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let (id, message_id) = (ctx.param("chatThreadId"), ctx.param("chatMessageId"));
    let message = s.as_caller(ctx, |store, caller| {
        store.get_message(caller, id, message_id, ctx.now)
    })?;
    Ok(json_response(200, &message))
}

/// `PATCH /chat/threads/{chatThreadId}/messages/{chatMessageId}`
pub(super) fn update_message(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let map = parse_object(ctx.body, "updateChatMessageRequest")?;
    let update = MessageUpdate {
        content: optional_string(&map, "content")?,
        metadata: metadata_patch(map.get("metadata"))?,
    };
    let (id, message_id) = (ctx.param("chatThreadId"), ctx.param("chatMessageId"));
    s.as_caller(ctx, |store, caller| {
        store.update_message(caller, id, message_id, update, ctx.now)
    })?;
    Ok(empty_response(204))
}

/// `DELETE /chat/threads/{chatThreadId}/messages/{chatMessageId}`
pub(super) fn delete_message(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let (id, message_id) = (ctx.param("chatThreadId"), ctx.param("chatMessageId"));
    s.as_caller(ctx, |store, caller| {
        store.delete_message(caller, id, message_id, ctx.now)
    })?;
    Ok(empty_response(204))
}

/// `GET /chat/threads/{chatThreadId}/participants`
pub(super) fn list_participants(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let size = page_size(ctx, DEFAULT_PARTICIPANT_PAGE_SIZE, s.limits.max_page_size)?;
    let skip = skip_param(ctx)?;
    let id = ctx.param("chatThreadId");
    let listing = s.as_caller(ctx, |store, caller| {
        store.list_participants(caller, id, skip, size, ctx.now)
    })?;
    let mut page = ChatParticipantsCollection::new(listing.items);
    page.next_link = listing.next.map(|skip| {
        format!(
            "{}/participants?skip={skip}&maxPageSize={size}&api-version={}",
            thread_url(ctx),
            ctx.api_version()
        )
    });
    Ok(json_response(200, &page))
}

/// `POST /chat/threads/{chatThreadId}/participants/:add`
pub(super) fn add_participants(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let request: AddChatParticipantsRequest = parse_json(ctx.body, "addChatParticipantsRequest")?;
    let id = ctx.param("chatThreadId");
    let result = s.as_caller(ctx, |store, caller| {
        store.add_participants(caller, id, request.participants, ctx.now)
    })?;
    Ok(json_response(201, &result))
}

/// `POST /chat/threads/{chatThreadId}/participants/:remove`
pub(super) fn remove_participant(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let who: CommunicationIdentifier = parse_json(ctx.body, "participantCommunicationIdentifier")?;
    let id = ctx.param("chatThreadId");
    s.as_caller(ctx, |store, caller| {
        store.remove_participant(caller, id, &who, ctx.now)
    })?;
    Ok(empty_response(204))
}

/// `POST /chat/threads/{chatThreadId}/readReceipts`
pub(super) fn send_read_receipt(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let request: SendReadReceiptRequest = parse_json(ctx.body, "sendReadReceiptRequest")?;
    let id = ctx.param("chatThreadId");
    s.as_caller(ctx, |store, caller| {
        store.send_read_receipt(caller, id, &request.chat_message_id, ctx.now)
    })?;
    Ok(empty_response(200))
}

/// `GET /chat/threads/{chatThreadId}/readReceipts`
pub(super) fn list_read_receipts(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let size = page_size(ctx, DEFAULT_PARTICIPANT_PAGE_SIZE, s.limits.max_page_size)?;
    let skip = skip_param(ctx)?;
    let id = ctx.param("chatThreadId");
    let listing = s.as_caller(ctx, |store, caller| {
        store.list_read_receipts(caller, id, skip, size, ctx.now)
    })?;
    let mut page = ChatMessageReadReceiptsCollection::new(listing.items);
    page.next_link = listing.next.map(|skip| {
        format!(
            "{}/readReceipts?skip={skip}&maxPageSize={size}&api-version={}",
            thread_url(ctx),
            ctx.api_version()
        )
    });
    Ok(json_response(200, &page))
}

/// `POST /chat/threads/{chatThreadId}/typing`
pub(super) fn send_typing(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let mut display_name = None;
    if !is_blank(ctx.body) {
        let request: SendTypingNotificationRequest =
            parse_json(ctx.body, "sendTypingNotificationRequest")?;
        s.limits
            .check_display_name("SenderDisplayName", request.sender_display_name.as_deref())?;
        display_name = request.sender_display_name;
    }
    let id = ctx.param("chatThreadId");
    s.as_caller(ctx, |store, caller| {
        store.send_typing(caller, id, display_name, ctx.now)
    })?;
    Ok(empty_response(200))
}

/// An operation of the spec that the emulator does not serve (the preview image operations).
pub(super) fn not_emulated(_: &Service, _: &Ctx<'_>) -> Result<Response<Bytes>> {
    Err(StoreError::new(
        501,
        "NotImplemented",
        "The emulator does not serve this operation.",
    ))
}
