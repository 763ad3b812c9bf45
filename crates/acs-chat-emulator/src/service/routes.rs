//! Routing: the chat routes are the generated operation table of `acs-chat-protocol` (the same
//! path templates the client builds its requests from), each operation id mapped to its handler;
//! the identity routes, which have no generated table, are a small explicit one. Templates are
//! parsed once.

use std::borrow::Cow;
use std::sync::LazyLock;

use acs_chat_protocol::operations::table as ops;
use http::Method;

use super::{Handler, chat, identity};

/// Which API a route belongs to: it decides the authentication and the api-versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    /// Bearer access tokens.
    Chat,
    /// HMAC-signed requests.
    Identity,
}

/// The handler of each chat operation, by the spec's operation id. An operation of the
/// generated table that is not here is answered with 501 (see the test below).
const CHAT_HANDLERS: &[(&str, Handler)] = &[
    (ops::CREATE_CHAT_THREAD.id, chat::create_thread),
    (ops::LIST_CHAT_THREADS.id, chat::list_threads),
    (ops::GET_CHAT_THREAD_PROPERTIES.id, chat::get_thread),
    (ops::UPDATE_CHAT_THREAD_PROPERTIES.id, chat::update_thread),
    (ops::DELETE_CHAT_THREAD.id, chat::delete_thread),
    (ops::SEND_CHAT_MESSAGE.id, chat::send_message),
    (ops::LIST_CHAT_MESSAGES.id, chat::list_messages),
    (ops::GET_CHAT_MESSAGE.id, chat::get_message),
    (ops::UPDATE_CHAT_MESSAGE.id, chat::update_message),
    (ops::DELETE_CHAT_MESSAGE.id, chat::delete_message),
    (ops::LIST_CHAT_PARTICIPANTS.id, chat::list_participants),
    (ops::ADD_CHAT_PARTICIPANTS.id, chat::add_participants),
    (ops::REMOVE_CHAT_PARTICIPANT.id, chat::remove_participant),
    (ops::SEND_CHAT_READ_RECEIPT.id, chat::send_read_receipt),
    (ops::LIST_CHAT_READ_RECEIPTS.id, chat::list_read_receipts),
    (ops::SEND_TYPING_NOTIFICATION.id, chat::send_typing),
];

/// The operations of the table that the emulator does not serve (the preview image
/// operations): 501.
#[cfg(test)]
const NOT_EMULATED: &[&str] = &[
    ops::UPLOAD_CHAT_IMAGE.id,
    ops::GET_CHAT_IMAGE.id,
    ops::DELETE_CHAT_IMAGE.id,
];

/// The token-minting part of the Identity API (api-version 2023-10-01).
const IDENTITY_ROUTES: &[(Method, &str, Handler)] = &[
    (Method::POST, "/identities", identity::create),
    (Method::DELETE, "/identities/{id}", identity::delete),
    (
        Method::POST,
        "/identities/{id}/:issueAccessToken",
        identity::issue_token,
    ),
    (
        Method::POST,
        "/identities/{id}/:revokeAccessTokens",
        identity::revoke_tokens,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

struct Route {
    method: Method,
    segments: Vec<Segment>,
    api: Api,
    handler: Handler,
}

/// A path template (`/chat/threads/{chatThreadId}`) as segments.
fn parse_template(template: &'static str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            },
        )
        .collect()
}

static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let chat = ops::ALL.iter().map(|info| Route {
        method: info.method.clone(),
        segments: parse_template(info.path),
        api: Api::Chat,
        handler: CHAT_HANDLERS
            .iter()
            .find(|(id, _)| *id == info.id)
            .map_or(chat::not_emulated as Handler, |(_, h)| *h),
    });
    let identity = IDENTITY_ROUTES
        .iter()
        .map(|(method, template, handler)| Route {
            method: method.clone(),
            segments: parse_template(template),
            api: Api::Identity,
            handler: *handler,
        });
    chat.chain(identity).collect()
});

/// A request's route: its handler and the path parameters, percent-decoded.
pub(super) struct Matched<'a> {
    pub(super) api: Api,
    pub(super) handler: Handler,
    pub(super) params: Vec<(&'static str, Cow<'a, str>)>,
}

/// The most segments a route has (`/chat/threads/{id}/participants/:remove` has five).
const MAX_SEGMENTS: usize = 8;

/// The route of `method` and `path`, or `None` (404): a parameter must be a non-empty segment
/// of valid UTF-8 once decoded. The path is split once; literal segments are compared as sent
/// first, and decoded only when they hold a `%`; the parameters are decoded only for the route
/// that matches.
pub(super) fn find<'a>(method: &Method, path: &'a str) -> Option<Matched<'a>> {
    let rest = path.strip_prefix('/')?;
    let mut segments = [""; MAX_SEGMENTS];
    let mut count = 0;
    let mut start = 0;
    for (i, &b) in rest.as_bytes().iter().enumerate() {
        if b == b'/' {
            *segments.get_mut(count)? = &rest[start..i];
            count += 1;
            start = i + 1;
        }
    }
    *segments.get_mut(count)? = &rest[start..];
    count += 1;
    let segments = &segments[..count];
    ROUTES.iter().find_map(|route| {
        if route.method != method || route.segments.len() != count {
            return None;
        }
        for (template, segment) in route.segments.iter().zip(segments) {
            match template {
                Segment::Literal(l) if l == segment => {}
                Segment::Literal(l) if segment.contains('%') => {
                    if decode(segment)? != *l {
                        return None;
                    }
                }
                Segment::Param(_) if !segment.is_empty() => {}
                _ => return None,
            }
        }
        let mut params = Vec::with_capacity(2);
        for (template, segment) in route.segments.iter().zip(segments) {
            if let Segment::Param(name) = template {
                params.push((*name, decode(segment)?));
            }
        }
        Some(Matched {
            api: route.api,
            handler: route.handler,
            params,
        })
    })
}

/// `segment` percent-decoded, or `None` when that is not UTF-8: what
/// `percent_decode_str(segment).decode_utf8()` gives (a `%` without two hex digits after it
/// stays as it is), in one pass that copies the runs between escapes (every request to a
/// thread decodes its id, `19%3A…%40thread.v2`).
fn decode(segment: &str) -> Option<Cow<'_, str>> {
    let bytes = segment.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%') else {
        return Some(Cow::Borrowed(segment));
    };
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits: at most 0xff.
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;

    proptest::proptest! {
        /// `decode` is `percent_decode_str(..).decode_utf8()`.
        #[test]
        fn decode_is_percent_decode(s in "(%[0-9a-fA-F]{0,2}|%[g-z%]|[a-z:@.]|\\PC)*") {
            let theirs = percent_decode_str(&s).decode_utf8().ok();
            proptest::prop_assert_eq!(decode(&s), theirs);
        }
    }

    #[test]
    fn every_generated_operation_is_handled_or_declared_not_emulated() {
        for info in ops::ALL {
            let handled = CHAT_HANDLERS.iter().any(|(id, _)| *id == info.id);
            let declared = NOT_EMULATED.contains(&info.id);
            assert!(
                handled != declared,
                "{}: handled {handled}, declared not emulated {declared}",
                info.id
            );
        }
        assert_eq!(CHAT_HANDLERS.len() + NOT_EMULATED.len(), ops::ALL.len());
        // `find` splits a path into at most this many segments.
        assert!(ROUTES.iter().all(|r| r.segments.len() <= MAX_SEGMENTS));
    }

    #[test]
    fn templates_match_with_decoded_parameters() {
        let m = find(&Method::GET, "/chat/threads/19%3Aa%40thread.v2/messages/42").unwrap();
        assert_eq!(m.api, Api::Chat);
        assert_eq!(
            m.params,
            [
                ("chatThreadId", Cow::Borrowed("19:a@thread.v2")),
                ("chatMessageId", Cow::Borrowed("42"))
            ]
        );
        let m = find(&Method::POST, "/identities/8:acs:x/:issueAccessToken").unwrap();
        assert_eq!(m.api, Api::Identity);
        assert_eq!(m.params, [("id", Cow::Borrowed("8:acs:x"))]);
        // A literal segment matches percent-encoded too.
        let m = find(&Method::POST, "/identities/8%3Aacs%3Ax/%3AissueAccessToken").unwrap();
        assert_eq!(m.params, [("id", Cow::Borrowed("8:acs:x"))]);
        for (method, path) in [
            (Method::PUT, "/chat/threads"),
            (Method::GET, "/chat/threads/"),
            (Method::GET, "/chat/threads//messages"),
            (Method::GET, "/chat/threads/%FF"),
            (Method::GET, "chat/threads"),
            (Method::POST, "/chat/threads/t/participants/:other"),
            (Method::POST, "/chat/threads/t/participants/%3Aother"),
            (Method::GET, "/a/b/c/d/e/f/g/h/i/j"),
        ] {
            assert!(find(&method, path).is_none(), "{method} {path}");
        }
    }
}
