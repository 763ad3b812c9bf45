//! Every operation's `parse_response` (chat, identity and the next pages of the lists) and
//! `Error::from_response` on any status, headers and body: never a panic, and no error's
//! `Display` reaches its bound, whatever the body (`SERVICE_DISPLAY_BOUND` for a service error,
//! `DISPLAY_BOUND` for the others).
#![no_main]

use std::sync::Once;
use std::time::Duration;

use acs_chat_fuzz::{SERVICE_DISPLAY_BOUND, assert_bounded, assert_bounded_by};
use acs_chat_protocol::identity::{self, CommunicationIdentityTokenScope};
use acs_chat_protocol::models::ImageViewType;
use acs_chat_protocol::operations::{self as ops, *};
use acs_chat_protocol::{
    CommunicationIdentifier, DateTime, Error, Operation, OperationInfo, RetryAfter,
};
use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use libfuzzer_sys::fuzz_target;

/// Slices, not vectors, for bytes: the body is the rest of the input as it is.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    operation: u8,
    status: Status,
    headers: Vec<(Name, &'a [u8])>,
    body: &'a [u8],
}

#[derive(Arbitrary, Debug)]
enum Status {
    /// One of the operation's documented success statuses.
    Success(u8),
    Any(u16),
}

#[derive(Arbitrary, Debug)]
enum Name {
    RetryAfter,
    RetryAfterMs,
    XMsRetryAfterMs,
    XMsRequestId,
    MsCv,
    XMsClientRequestId,
    ContentType,
    Other(String),
}

impl Name {
    fn header(&self) -> Option<HeaderName> {
        let name = match self {
            Self::RetryAfter => "retry-after",
            Self::RetryAfterMs => "retry-after-ms",
            Self::XMsRetryAfterMs => "x-ms-retry-after-ms",
            Self::XMsRequestId => "x-ms-request-id",
            Self::MsCv => "ms-cv",
            Self::XMsClientRequestId => "x-ms-client-request-id",
            Self::ContentType => "content-type",
            Self::Other(name) => return HeaderName::try_from(name.as_str()).ok(),
        };
        Some(HeaderName::from_static(name))
    }
}

type Parse = fn(Response<Bytes>) -> Result<(), Error>;

fn parse<O: Operation>(op: O, response: Response<Bytes>) -> Result<(), Error> {
    op.parse_response(response).map(drop)
}

const T: &str = "19:t@thread.v2";
const LINK: &str = "https://contoso.communication.azure.com/chat/threads?syncState=x";

/// Every operation with its table entry (a list's next page has its list's); `check_complete`
/// makes sure that no operation of the generated tables is missing.
const OPERATIONS: &[(&OperationInfo, Parse)] = &[
    (&ops::table::ADD_CHAT_PARTICIPANTS, |r| {
        parse(AddChatParticipants::new(T, vec![]), r)
    }),
    (&ops::table::DELETE_CHAT_IMAGE, |r| {
        parse(DeleteChatImage::new(T, "i"), r)
    }),
    (&ops::table::DELETE_CHAT_MESSAGE, |r| {
        parse(DeleteChatMessage::new(T, "1"), r)
    }),
    (&ops::table::GET_CHAT_IMAGE, |r| {
        parse(GetChatImage::new(T, "i", ImageViewType::Small), r)
    }),
    (&ops::table::GET_CHAT_MESSAGE, |r| {
        parse(GetChatMessage::new(T, "1"), r)
    }),
    (&ops::table::GET_CHAT_THREAD_PROPERTIES, |r| {
        parse(GetChatThreadProperties::new(T), r)
    }),
    (&ops::table::LIST_CHAT_MESSAGES, |r| {
        parse(ListChatMessages::new(T, Default::default()), r)
    }),
    (&ops::table::LIST_CHAT_MESSAGES, |r| {
        parse(ListChatMessages::next_page(LINK), r)
    }),
    (&ops::table::LIST_CHAT_PARTICIPANTS, |r| {
        parse(ListChatParticipants::new(T, Default::default()), r)
    }),
    (&ops::table::LIST_CHAT_PARTICIPANTS, |r| {
        parse(ListChatParticipants::next_page(LINK), r)
    }),
    (&ops::table::LIST_CHAT_READ_RECEIPTS, |r| {
        parse(ListChatReadReceipts::new(T, Default::default()), r)
    }),
    (&ops::table::LIST_CHAT_READ_RECEIPTS, |r| {
        parse(ListChatReadReceipts::next_page(LINK), r)
    }),
    (&ops::table::REMOVE_CHAT_PARTICIPANT, |r| {
        let who = CommunicationIdentifier::from_raw_id("8:acs:r_u");
        parse(RemoveChatParticipant::new(T, who), r)
    }),
    (&ops::table::SEND_CHAT_MESSAGE, |r| {
        parse(SendChatMessage::new(T, "m", Default::default()), r)
    }),
    (&ops::table::SEND_CHAT_READ_RECEIPT, |r| {
        parse(SendChatReadReceipt::new(T, "1"), r)
    }),
    (&ops::table::SEND_TYPING_NOTIFICATION, |r| {
        parse(SendTypingNotification::new(T, Default::default()), r)
    }),
    (&ops::table::UPDATE_CHAT_MESSAGE, |r| {
        parse(UpdateChatMessage::new(T, "1", Default::default()), r)
    }),
    (&ops::table::UPDATE_CHAT_THREAD_PROPERTIES, |r| {
        parse(UpdateChatThreadProperties::new(T, Default::default()), r)
    }),
    (&ops::table::UPLOAD_CHAT_IMAGE, |r| {
        parse(UploadChatImage::new(T, Bytes::new(), Default::default()), r)
    }),
    (&ops::table::CREATE_CHAT_THREAD, |r| {
        parse(CreateChatThread::new("topic", Default::default()), r)
    }),
    (&ops::table::DELETE_CHAT_THREAD, |r| {
        parse(DeleteChatThread::new(T), r)
    }),
    (&ops::table::LIST_CHAT_THREADS, |r| {
        parse(ListChatThreads::new(Default::default()), r)
    }),
    (&ops::table::LIST_CHAT_THREADS, |r| {
        parse(ListChatThreads::next_page(LINK), r)
    }),
    (&identity::table::CREATE_USER, |r| {
        parse(identity::CreateUser::new(Default::default()), r)
    }),
    (&identity::table::DELETE_USER, |r| {
        parse(identity::DeleteUser::new("8:acs:r_u"), r)
    }),
    (&identity::table::EXCHANGE_TEAMS_USER_ACCESS_TOKEN, |r| {
        parse(
            identity::ExchangeTeamsUserAccessToken::new("a", "t", "u"),
            r,
        )
    }),
    (&identity::table::ISSUE_ACCESS_TOKEN, |r| {
        let scopes = vec![CommunicationIdentityTokenScope::Chat];
        parse(
            identity::IssueAccessToken::new("8:acs:r_u", scopes, Default::default()),
            r,
        )
    }),
    (&identity::table::REVOKE_ACCESS_TOKENS, |r| {
        parse(identity::RevokeAccessTokens::new("8:acs:r_u"), r)
    }),
];

fn check_complete() {
    for info in ops::table::ALL.iter().chain(identity::table::ALL) {
        assert!(
            OPERATIONS.iter().any(|(op, _)| op.id == info.id),
            "{} is not fuzzed: add it to OPERATIONS",
            info.id
        );
    }
}

static COMPLETE: Once = Once::new();

fuzz_target!(|input: Input<'_>| {
    COMPLETE.call_once(check_complete);
    let (info, parse) = OPERATIONS[usize::from(input.operation) % OPERATIONS.len()];
    let status = match input.status {
        Status::Success(i) => info.success[usize::from(i) % info.success.len()],
        Status::Any(s) => s,
    };
    let Ok(status) = StatusCode::from_u16(status) else {
        return;
    };
    let mut response = Response::new(Bytes::copy_from_slice(input.body));
    *response.status_mut() = status;
    for (name, value) in &input.headers {
        if let (Some(name), Ok(value)) = (name.header(), HeaderValue::from_bytes(value)) {
            response.headers_mut().append(name, value);
        }
    }

    let error = Error::from_response(&response);
    let shown = error.to_string();
    assert_bounded_by(
        "Error::from_response's Display",
        &shown,
        SERVICE_DISPLAY_BOUND,
    );
    // A delay is clamped (to 86 400 000 ms, or as many seconds for `Retry-After`); a date
    // is any date.
    match RetryAfter::from_headers(response.headers()) {
        Some(RetryAfter::Delay(d)) => assert!(d <= Duration::from_secs(86_400_000), "{d:?}"),
        Some(at) => drop(at.delay(DateTime::UNIX_EPOCH)),
        None => {}
    }
    match parse(response) {
        // A service error is the one above.
        Err(e) if e.service().is_some() => assert_eq!(e.to_string(), shown),
        Err(e) => assert_bounded(&format!("{}'s error", info.id), &e.to_string()),
        Ok(()) => {}
    }
});
