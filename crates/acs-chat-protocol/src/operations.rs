//! Every operation of the Chat API as a value implementing [`Operation`].
//!
//! Threads: [`CreateChatThread`], [`ListChatThreads`], [`GetChatThreadProperties`],
//! [`UpdateChatThreadProperties`], [`DeleteChatThread`]. Messages: [`SendChatMessage`],
//! [`ListChatMessages`], [`GetChatMessage`], [`UpdateChatMessage`], [`DeleteChatMessage`].
//! Participants: [`ListChatParticipants`], [`AddChatParticipants`], [`RemoveChatParticipant`].
//! Receipts and typing: [`SendChatReadReceipt`], [`ListChatReadReceipts`],
//! [`SendTypingNotification`]. Images (api-version 2024-03-15-preview): [`UploadChatImage`],
//! [`GetChatImage`], [`DeleteChatImage`]. Next pages of any list: [`NextPage`].

use bytes::Bytes;
use http::{Request, Response};

use crate::error::parse_json;
use crate::generated::operations as table;
use crate::models::{
    AddChatParticipantsRequest, AddChatParticipantsResult, ChatMessage, ChatMessageReadReceipt,
    ChatParticipant, ChatThreadItem, ChatThreadProperties, CommunicationIdentifierModel,
    CreateChatThreadRequest, CreateChatThreadResult, SendChatMessageRequest, SendChatMessageResult,
    SendReadReceiptRequest, SendTypingNotificationRequest, UpdateChatMessageRequest,
    UpdateChatThreadRequest, UploadChatImageResult,
};
use crate::operation::{RequestParts, check_status};
use crate::paging::parse_page;
use crate::{
    DateTime, Error, Idempotency, NextPage, Operation, OperationInfo, Page, RequestContext,
};

fn expect_empty(response: Response<Bytes>) -> Result<(), Error> {
    check_status(response).map(drop)
}

fn expect_json<T: serde::de::DeserializeOwned>(response: Response<Bytes>) -> Result<T, Error> {
    let response = check_status(response)?;
    parse_json(response.body())
}

macro_rules! list_next_page {
    ($item:ty) => {
        /// The operation that fetches the page at `next_link` of this list.
        pub fn next_page(next_link: impl Into<String>) -> NextPage<$item> {
            NextPage::new(Self::INFO, next_link)
        }
    };
}

/// `POST /chat/threads`: creates a thread. Partial failures (participants that could not be
/// added) are part of the result, in `invalid_participants`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreateChatThread {
    /// The thread to create.
    pub request: CreateChatThreadRequest,
    /// `repeatability-request-id`: with it, repeating the request creates one thread only.
    pub repeatability_request_id: Option<String>,
}

impl CreateChatThread {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::CREATE_CHAT_THREAD;

    /// Creates a thread from its request body.
    pub fn new(request: CreateChatThreadRequest) -> Self {
        Self {
            request,
            repeatability_request_id: None,
        }
    }

    /// Sets the repeatability id (a UUID v4 is recommended).
    pub fn repeatability_request_id(mut self, id: impl Into<String>) -> Self {
        self.repeatability_request_id = Some(id.into());
        self
    }
}

impl Operation for CreateChatThread {
    type Output = CreateChatThreadResult;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(Self::INFO, &[])
            .header(
                "repeatability-request-id",
                self.repeatability_request_id.as_deref(),
            )
            .json(&self.request)?
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        expect_json(response)
    }

    fn idempotency(&self) -> Idempotency {
        if self.repeatability_request_id.is_some() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        }
    }
}

/// `GET /chat/threads`: the caller's threads, newest first, one page.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListChatThreads {
    /// `maxPageSize`.
    pub max_page_size: Option<i32>,
    /// `startTime`: only threads with activity at or after this time.
    pub start_time: Option<DateTime>,
}

impl ListChatThreads {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::LIST_CHAT_THREADS;

    /// Lists with the service's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `maxPageSize`.
    pub fn max_page_size(mut self, n: i32) -> Self {
        self.max_page_size = Some(n);
        self
    }

    /// Sets `startTime`.
    pub fn start_time(mut self, t: DateTime) -> Self {
        self.start_time = Some(t);
        self
    }

    list_next_page!(ChatThreadItem);
}

impl Operation for ListChatThreads {
    type Output = Page<ChatThreadItem>;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(Self::INFO, &[])
            .query("maxPageSize", self.max_page_size.map(|n| n.to_string()))
            .query("startTime", self.start_time.map(|t| t.to_string()))
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        parse_page(response)
    }
}

macro_rules! thread_op {
    (
        $(#[$doc:meta])*
        $name:ident, $info:ident, $output:ty, $parse:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub struct $name {
            /// The thread id.
            pub chat_thread_id: String,
        }

        impl $name {
            /// The operation's spec facts.
            pub const INFO: &'static OperationInfo = &table::$info;

            /// The operation on `chat_thread_id`.
            pub fn new(chat_thread_id: impl Into<String>) -> Self {
                Self { chat_thread_id: chat_thread_id.into() }
            }
        }

        impl Operation for $name {
            type Output = $output;

            fn info(&self) -> &'static OperationInfo {
                Self::INFO
            }

            fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
                RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)]).build(ctx)
            }

            fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
                $parse(response)
            }
        }
    };
}

thread_op!(
    /// `GET /chat/threads/{chatThreadId}`: a thread's properties.
    GetChatThreadProperties, GET_CHAT_THREAD_PROPERTIES, ChatThreadProperties, expect_json
);
thread_op!(
    /// `DELETE /chat/threads/{chatThreadId}`: deletes a thread for everyone.
    DeleteChatThread, DELETE_CHAT_THREAD, (), expect_empty
);

/// `PATCH /chat/threads/{chatThreadId}` (merge-patch): updates topic, metadata or retention
/// policy. Unset fields are not sent, so they are left as they are.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpdateChatThreadProperties {
    /// The thread id.
    pub chat_thread_id: String,
    /// The fields to change.
    pub request: UpdateChatThreadRequest,
}

impl UpdateChatThreadProperties {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::UPDATE_CHAT_THREAD_PROPERTIES;

    /// Updates `chat_thread_id` with `request`.
    pub fn new(chat_thread_id: impl Into<String>, request: UpdateChatThreadRequest) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            request,
        }
    }
}

impl Operation for UpdateChatThreadProperties {
    type Output = ();

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)])
            .json(&self.request)?
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<(), Error> {
        expect_empty(response)
    }
}

/// `POST /chat/threads/{chatThreadId}/messages`: sends a message; the result has its id.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SendChatMessage {
    /// The thread id.
    pub chat_thread_id: String,
    /// The message.
    pub request: SendChatMessageRequest,
}

impl SendChatMessage {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::SEND_CHAT_MESSAGE;

    /// Sends `request` to `chat_thread_id`.
    pub fn new(chat_thread_id: impl Into<String>, request: SendChatMessageRequest) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            request,
        }
    }
}

impl Operation for SendChatMessage {
    type Output = SendChatMessageResult;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)])
            .json(&self.request)?
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        expect_json(response)
    }
}

/// `GET /chat/threads/{chatThreadId}/messages`: one page of messages, newest first.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListChatMessages {
    /// The thread id.
    pub chat_thread_id: String,
    /// `maxPageSize` (the service caps it at 200).
    pub max_page_size: Option<i32>,
    /// `startTime`: only messages after this time.
    pub start_time: Option<DateTime>,
}

impl ListChatMessages {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::LIST_CHAT_MESSAGES;

    /// Lists the messages of `chat_thread_id`.
    pub fn new(chat_thread_id: impl Into<String>) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            max_page_size: None,
            start_time: None,
        }
    }

    /// Sets `maxPageSize`.
    pub fn max_page_size(mut self, n: i32) -> Self {
        self.max_page_size = Some(n);
        self
    }

    /// Sets `startTime`.
    pub fn start_time(mut self, t: DateTime) -> Self {
        self.start_time = Some(t);
        self
    }

    list_next_page!(ChatMessage);
}

impl Operation for ListChatMessages {
    type Output = Page<ChatMessage>;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)])
            .query("maxPageSize", self.max_page_size.map(|n| n.to_string()))
            .query("startTime", self.start_time.map(|t| t.to_string()))
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        parse_page(response)
    }
}

macro_rules! message_op {
    (
        $(#[$doc:meta])*
        $name:ident, $info:ident, $output:ty, $parse:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub struct $name {
            /// The thread id.
            pub chat_thread_id: String,
            /// The message id.
            pub chat_message_id: String,
        }

        impl $name {
            /// The operation's spec facts.
            pub const INFO: &'static OperationInfo = &table::$info;

            /// The operation on message `chat_message_id` of `chat_thread_id`.
            pub fn new(chat_thread_id: impl Into<String>, chat_message_id: impl Into<String>) -> Self {
                Self { chat_thread_id: chat_thread_id.into(), chat_message_id: chat_message_id.into() }
            }
        }

        impl Operation for $name {
            type Output = $output;

            fn info(&self) -> &'static OperationInfo {
                Self::INFO
            }

            fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
                RequestParts::new(
                    Self::INFO,
                    &[("chatThreadId", &self.chat_thread_id), ("chatMessageId", &self.chat_message_id)],
                )
                .build(ctx)
            }

            fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
                $parse(response)
            }
        }
    };
}

message_op!(
    /// `GET /chat/threads/{chatThreadId}/messages/{chatMessageId}`: one message.
    GetChatMessage, GET_CHAT_MESSAGE, ChatMessage, expect_json
);
message_op!(
    /// `DELETE /chat/threads/{chatThreadId}/messages/{chatMessageId}`: deletes a message (204).
    DeleteChatMessage, DELETE_CHAT_MESSAGE, (), expect_empty
);

/// `PATCH /chat/threads/{chatThreadId}/messages/{chatMessageId}` (merge-patch): edits a message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpdateChatMessage {
    /// The thread id.
    pub chat_thread_id: String,
    /// The message id.
    pub chat_message_id: String,
    /// The fields to change.
    pub request: UpdateChatMessageRequest,
}

impl UpdateChatMessage {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::UPDATE_CHAT_MESSAGE;

    /// Updates message `chat_message_id` of `chat_thread_id`.
    pub fn new(
        chat_thread_id: impl Into<String>,
        chat_message_id: impl Into<String>,
        request: UpdateChatMessageRequest,
    ) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            chat_message_id: chat_message_id.into(),
            request,
        }
    }
}

impl Operation for UpdateChatMessage {
    type Output = ();

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(
            Self::INFO,
            &[
                ("chatThreadId", &self.chat_thread_id),
                ("chatMessageId", &self.chat_message_id),
            ],
        )
        .json(&self.request)?
        .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<(), Error> {
        expect_empty(response)
    }
}

macro_rules! skip_list_op {
    (
        $(#[$doc:meta])*
        $name:ident, $info:ident, $item:ty
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub struct $name {
            /// The thread id.
            pub chat_thread_id: String,
            /// `maxPageSize`.
            pub max_page_size: Option<i32>,
            /// `skip`: how many items to skip.
            pub skip: Option<i32>,
        }

        impl $name {
            /// The operation's spec facts.
            pub const INFO: &'static OperationInfo = &table::$info;

            /// Lists for `chat_thread_id`.
            pub fn new(chat_thread_id: impl Into<String>) -> Self {
                Self { chat_thread_id: chat_thread_id.into(), max_page_size: None, skip: None }
            }

            /// Sets `maxPageSize`.
            pub fn max_page_size(mut self, n: i32) -> Self {
                self.max_page_size = Some(n);
                self
            }

            /// Sets `skip`.
            pub fn skip(mut self, n: i32) -> Self {
                self.skip = Some(n);
                self
            }

            list_next_page!($item);
        }

        impl Operation for $name {
            type Output = Page<$item>;

            fn info(&self) -> &'static OperationInfo {
                Self::INFO
            }

            fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
                RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)])
                    .query("maxPageSize", self.max_page_size.map(|n| n.to_string()))
                    .query("skip", self.skip.map(|n| n.to_string()))
                    .build(ctx)
            }

            fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
                parse_page(response)
            }
        }
    };
}

skip_list_op!(
    /// `GET /chat/threads/{chatThreadId}/participants`: one page of participants.
    ListChatParticipants, LIST_CHAT_PARTICIPANTS, ChatParticipant
);
skip_list_op!(
    /// `GET /chat/threads/{chatThreadId}/readReceipts`: one page of read receipts.
    ListChatReadReceipts, LIST_CHAT_READ_RECEIPTS, ChatMessageReadReceipt
);

macro_rules! thread_body_op {
    (
        $(#[$doc:meta])*
        $name:ident, $info:ident, $field:ident: $body:ty, $output:ty, $parse:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub struct $name {
            /// The thread id.
            pub chat_thread_id: String,
            /// The request body.
            pub $field: $body,
        }

        impl $name {
            /// The operation's spec facts.
            pub const INFO: &'static OperationInfo = &table::$info;

            /// The operation on `chat_thread_id` with its body.
            pub fn new(chat_thread_id: impl Into<String>, $field: $body) -> Self {
                Self { chat_thread_id: chat_thread_id.into(), $field }
            }
        }

        impl Operation for $name {
            type Output = $output;

            fn info(&self) -> &'static OperationInfo {
                Self::INFO
            }

            fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
                RequestParts::new(Self::INFO, &[("chatThreadId", &self.chat_thread_id)])
                    .json(&self.$field)?
                    .build(ctx)
            }

            fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
                $parse(response)
            }
        }
    };
}

thread_body_op!(
    /// `POST /chat/threads/{chatThreadId}/participants/:add`: adds participants; those that
    /// could not be added come back in `invalid_participants`, the others are added.
    AddChatParticipants, ADD_CHAT_PARTICIPANTS, request: AddChatParticipantsRequest,
    AddChatParticipantsResult, expect_json
);
thread_body_op!(
    /// `POST /chat/threads/{chatThreadId}/participants/:remove`: removes one participant; the
    /// body is its `CommunicationIdentifierModel` (204).
    RemoveChatParticipant, REMOVE_CHAT_PARTICIPANT, participant: CommunicationIdentifierModel,
    (), expect_empty
);
thread_body_op!(
    /// `POST /chat/threads/{chatThreadId}/readReceipts`: marks a message as read (200, no body).
    SendChatReadReceipt, SEND_CHAT_READ_RECEIPT, request: SendReadReceiptRequest, (), expect_empty
);

/// `POST /chat/threads/{chatThreadId}/typing`: a typing notification (200, no body). The body
/// is optional; without one, none is sent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SendTypingNotification {
    /// The thread id.
    pub chat_thread_id: String,
    /// The optional body (the sender's display name).
    pub request: Option<SendTypingNotificationRequest>,
}

impl SendTypingNotification {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::SEND_TYPING_NOTIFICATION;

    /// A typing notification on `chat_thread_id`, without a body.
    pub fn new(chat_thread_id: impl Into<String>) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            request: None,
        }
    }

    /// Sets the body.
    pub fn request(mut self, request: SendTypingNotificationRequest) -> Self {
        self.request = Some(request);
        self
    }
}

impl Operation for SendTypingNotification {
    type Output = ();

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        let path = [("chatThreadId", self.chat_thread_id.as_str())];
        let parts = RequestParts::new(Self::INFO, &path);
        match &self.request {
            Some(body) => parts.json(body)?.build(ctx),
            None => parts.build(ctx),
        }
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<(), Error> {
        expect_empty(response)
    }
}

/// `POST /chat/threads/{chatThreadId}/images` (2024-03-15-preview, Teams interop threads):
/// uploads an image as `application/octet-stream`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UploadChatImage {
    /// The thread id.
    pub chat_thread_id: String,
    /// The image bytes (jpeg, png, gif, heic, webp).
    pub image: Bytes,
    /// `image-filename`.
    pub image_filename: Option<String>,
}

impl UploadChatImage {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::UPLOAD_CHAT_IMAGE;

    /// Uploads `image` to `chat_thread_id`.
    pub fn new(chat_thread_id: impl Into<String>, image: impl Into<Bytes>) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            image: image.into(),
            image_filename: None,
        }
    }

    /// Sets `image-filename`.
    pub fn image_filename(mut self, name: impl Into<String>) -> Self {
        self.image_filename = Some(name.into());
        self
    }
}

impl Operation for UploadChatImage {
    type Output = UploadChatImageResult;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        let path = [("chatThreadId", self.chat_thread_id.as_str())];
        let mut parts = RequestParts::new(Self::INFO, &path)
            .header("image-filename", self.image_filename.as_deref());
        parts.body = Some(self.image.clone());
        parts.build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        expect_json(response)
    }
}

/// Which rendition of an image [`GetChatImage`] fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageViewType {
    /// The original image.
    Original,
    /// A small preview.
    Small,
}

impl ImageViewType {
    /// The path value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Small => "small",
        }
    }
}

/// An image's bytes and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatImage {
    /// The `Content-Type` the service sent (e.g. `image/png`).
    pub content_type: Option<String>,
    /// The image.
    pub data: Bytes,
}

/// `GET /chat/threads/{chatThreadId}/images/{imageId}/view/{imageViewType}` (2024-03-15-preview).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GetChatImage {
    /// The thread id.
    pub chat_thread_id: String,
    /// The image id.
    pub image_id: String,
    /// The rendition.
    pub view: ImageViewType,
}

impl GetChatImage {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::GET_CHAT_IMAGE;

    /// Fetches `view` of `image_id` in `chat_thread_id`.
    pub fn new(
        chat_thread_id: impl Into<String>,
        image_id: impl Into<String>,
        view: ImageViewType,
    ) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            image_id: image_id.into(),
            view,
        }
    }
}

impl Operation for GetChatImage {
    type Output = ChatImage;

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        let path = [
            ("chatThreadId", self.chat_thread_id.as_str()),
            ("imageId", self.image_id.as_str()),
            ("imageViewType", self.view.as_str()),
        ];
        let mut parts = RequestParts::new(Self::INFO, &path);
        parts.accept = "image/*, application/json";
        parts.build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        let response = check_status(response)?;
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ChatImage {
            content_type,
            data: response.into_body(),
        })
    }
}

/// `DELETE /chat/threads/{chatThreadId}/images/{imageId}` (2024-03-15-preview).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeleteChatImage {
    /// The thread id.
    pub chat_thread_id: String,
    /// The image id.
    pub image_id: String,
}

impl DeleteChatImage {
    /// The operation's spec facts.
    pub const INFO: &'static OperationInfo = &table::DELETE_CHAT_IMAGE;

    /// Deletes `image_id` from `chat_thread_id`.
    pub fn new(chat_thread_id: impl Into<String>, image_id: impl Into<String>) -> Self {
        Self {
            chat_thread_id: chat_thread_id.into(),
            image_id: image_id.into(),
        }
    }
}

impl Operation for DeleteChatImage {
    type Output = ();

    fn info(&self) -> &'static OperationInfo {
        Self::INFO
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(
            Self::INFO,
            &[
                ("chatThreadId", &self.chat_thread_id),
                ("imageId", &self.image_id),
            ],
        )
        .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<(), Error> {
        expect_empty(response)
    }
}
