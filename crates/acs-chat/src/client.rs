//! [`ChatClient`] and [`ChatThreadClient`].

use std::fmt;
use std::sync::Arc;

use acs_chat_protocol::models::UploadChatImageResult;
use acs_chat_protocol::models::{
    AddChatParticipantsRequest, ChatMessage, ChatMessageReadReceipt, ChatParticipant,
    ChatThreadItem, ChatThreadProperties, CommunicationError, CreateChatThreadRequest,
    SendChatMessageRequest, SendReadReceiptRequest, SendTypingNotificationRequest,
    UpdateChatMessageRequest, UpdateChatThreadRequest,
};
use acs_chat_protocol::operations::{
    AddChatParticipants, ChatImage, CreateChatThread, DeleteChatImage, DeleteChatMessage,
    DeleteChatThread, GetChatImage, GetChatMessage, GetChatThreadProperties, ImageViewType,
    ListChatMessages, ListChatParticipants, ListChatReadReceipts, ListChatThreads,
    RemoveChatParticipant, SendChatMessage, SendChatReadReceipt, SendTypingNotification,
    UpdateChatMessage, UpdateChatThreadProperties, UploadChatImage,
};
use acs_chat_protocol::{
    ApiVersion, CommunicationIdentifier, Endpoint, NextPage, Operation, Page, RequestContext,
};
use acs_chat_transport::Transport;

use crate::builder::{Common, CustomTransport, DefaultTransport, TransportChoice, common_setters};
use crate::credential::CommunicationTokenCredential;
use crate::options::{
    CreateChatThreadOptions, ListOptions, SendMessageOptions, SkipListOptions,
    TypingNotificationOptions, UpdateChatThreadOptions, UpdateMessageOptions,
};
use crate::pager::{Fetch, Pager};
use crate::pipeline::{Auth, Pipeline};
use crate::{Error, ErrorKind};

macro_rules! client_struct {
    ($(#[$doc:meta])* $name:ident { $($vis:vis $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[cfg(feature = "hyper")]
        pub struct $name<T = acs_chat_transport::HyperTransport> {
            $($vis $field: $ty),*
        }

        $(#[$doc])*
        #[cfg(not(feature = "hyper"))]
        pub struct $name<T> {
            $($vis $field: $ty),*
        }
    };
}

client_struct!(
    /// The entry point of the Chat API for one user: creates, lists and deletes threads, and
    /// hands out a [`ChatThreadClient`] per thread.
    ///
    /// Built with `ChatClient::builder` (feature `hyper`) or [`ChatClientBuilder::new`]. Cheap
    /// to clone (the state is shared), `Send + Sync`. Generic over the [`Transport`]; the
    /// default is acs-chat-transport's `HyperTransport`.
    ///
    /// Every call is retried as [`RetryOptions`](crate::RetryOptions) allow, without ever
    /// repeating a side effect that may have happened, and is traced in an `acs_chat.request`
    /// span.
    ChatClient { pub(crate) pipeline: Arc<Pipeline<T>> }
);

client_struct!(
    /// The operations on one thread: properties, messages, participants, read receipts and
    /// typing notifications. Made by [`ChatClient::chat_thread_client`] (no IO); cheap to clone.
    ChatThreadClient { pipeline: Arc<Pipeline<T>>, thread_id: Arc<str> }
);

impl<T> Clone for ChatClient<T> {
    fn clone(&self) -> Self {
        Self {
            pipeline: Arc::clone(&self.pipeline),
        }
    }
}

impl<T> Clone for ChatThreadClient<T> {
    fn clone(&self) -> Self {
        Self {
            pipeline: Arc::clone(&self.pipeline),
            thread_id: Arc::clone(&self.thread_id),
        }
    }
}

impl<T> fmt::Debug for ChatClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatClient")
            .field("pipeline", &self.pipeline)
            .finish()
    }
}

impl<T> fmt::Debug for ChatThreadClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatThreadClient")
            .field("thread_id", &self.thread_id)
            .field("endpoint", self.pipeline.ctx.endpoint())
            .finish()
    }
}

/// Builds a [`ChatClient`]: endpoint and credential, then optional settings.
pub struct ChatClientBuilder<C = DefaultTransport> {
    endpoint: String,
    credential: CommunicationTokenCredential,
    transport: C,
    common: Common,
}

impl<C: fmt::Debug> fmt::Debug for ChatClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential)
            .field("transport", &self.transport)
            .field("common", &self.common)
            .finish()
    }
}

impl ChatClientBuilder {
    /// A builder for the resource at `endpoint` (`https://<resource>.communication.azure.com`)
    /// acting as the user of `credential`.
    pub fn new(endpoint: impl Into<String>, credential: CommunicationTokenCredential) -> Self {
        Self {
            endpoint: endpoint.into(),
            credential,
            transport: DefaultTransport,
            common: Common::default(),
        }
    }
}

impl<C> ChatClientBuilder<C> {
    /// Sends requests with `transport` (any [`Transport`], e.g. a closure) instead of the
    /// default one.
    pub fn transport<T: Transport + 'static>(
        self,
        transport: T,
    ) -> ChatClientBuilder<CustomTransport<T>> {
        ChatClientBuilder {
            endpoint: self.endpoint,
            credential: self.credential,
            transport: CustomTransport(transport),
            common: self.common,
        }
    }

    common_setters!();
}

impl<C: TransportChoice> ChatClientBuilder<C> {
    /// Builds the client. Fails with [`ErrorKind::InvalidArgument`] for a malformed endpoint, a
    /// plain-`http` endpoint without [`allow_insecure_http`](Self::allow_insecure_http), or a bad
    /// application id, and with [`ErrorKind::Transport`] when the default transport cannot be
    /// set up.
    pub fn build(self) -> Result<ChatClient<C::Transport>, Error> {
        let (endpoint, settings) = self.common.finish(&self.endpoint)?;
        let transport = self.transport.into_transport(&self.common.transport)?;
        let api_version = self.common.api_version.clone().unwrap_or_default();
        Ok(ChatClient {
            pipeline: Arc::new(Pipeline {
                transport,
                ctx: RequestContext::new(endpoint, api_version),
                auth: Auth::Bearer(self.credential),
                settings,
            }),
        })
    }
}

#[cfg(feature = "hyper")]
impl ChatClient {
    /// A builder for the resource at `endpoint` acting as the user of `credential`, with the
    /// default transport unless [`transport`](ChatClientBuilder::transport) is called.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), acs_chat::Error> {
    /// use acs_chat::{ChatClient, CommunicationTokenCredential};
    /// let credential = CommunicationTokenCredential::new("<user access token>")?;
    /// let client = ChatClient::builder("https://contoso.communication.azure.com", credential)
    ///     .application_id("my-app")
    ///     .build()?;
    /// let thread = client.create_chat_thread("Standup", Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(
        endpoint: impl Into<String>,
        credential: CommunicationTokenCredential,
    ) -> ChatClientBuilder {
        ChatClientBuilder::new(endpoint, credential)
    }
}

/// A created thread: its properties and the participants the service refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedChatThread {
    /// The thread.
    pub thread: ChatThreadProperties,
    /// The participants that could not be added, each with its error.
    pub rejected_participants: Vec<RejectedParticipant>,
}

/// The result of [`ChatThreadClient::add_participants`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddParticipantsResult {
    /// The participants that could not be added, each with its error (the others were added).
    pub rejected_participants: Vec<RejectedParticipant>,
}

/// A participant the service refused to add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectedParticipant {
    /// The participant, read from the error's `target` (its raw id), when the service named it.
    pub identifier: Option<CommunicationIdentifier>,
    /// Why it was refused.
    pub error: CommunicationError,
}

fn rejected(errors: Option<Vec<CommunicationError>>) -> Vec<RejectedParticipant> {
    errors
        .unwrap_or_default()
        .into_iter()
        .map(|error| RejectedParticipant {
            identifier: error
                .target
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(CommunicationIdentifier::from_raw_id),
            error,
        })
        .collect()
}

fn pager<T, O, I>(pipeline: &Arc<Pipeline<T>>, first: O, thread_id: Option<Arc<str>>) -> Pager<I>
where
    T: Transport + 'static,
    O: Operation<Output = Page<I>> + Clone + Send + Sync + 'static,
    NextPage<I>: Operation<Output = Page<I>> + Send + Sync,
    I: Send + 'static,
{
    let pipeline = Arc::clone(pipeline);
    let fetch: Fetch<I> = Arc::new(move |link: Option<String>| {
        let pipeline = Arc::clone(&pipeline);
        let first = first.clone();
        let thread_id = thread_id.clone();
        Box::pin(async move {
            match link {
                None => pipeline.execute(&first, thread_id.as_deref()).await,
                Some(link) => {
                    let next = NextPage::<I>::new(first.info(), link);
                    pipeline.execute(&next, thread_id.as_deref()).await
                }
            }
        })
    });
    Pager::new(fetch)
}

impl<T: Transport + 'static> ChatClient<T> {
    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        self.pipeline.endpoint()
    }

    /// The api-version sent.
    pub fn api_version(&self) -> &ApiVersion {
        self.pipeline.ctx.api_version()
    }

    /// A client for the thread `thread_id` (no IO).
    pub fn chat_thread_client(&self, thread_id: impl Into<String>) -> ChatThreadClient<T> {
        ChatThreadClient {
            pipeline: Arc::clone(&self.pipeline),
            thread_id: Arc::from(thread_id.into()),
        }
    }

    /// Creates a thread with `topic`. The request always carries a `repeatability-request-id`
    /// (the caller's or a fresh UUID v4), the same on every retry, so a retried create makes one
    /// thread. Participants the service refused are listed in the result.
    pub async fn create_chat_thread(
        &self,
        topic: impl Into<String>,
        options: CreateChatThreadOptions,
    ) -> Result<CreatedChatThread, Error> {
        let mut request = CreateChatThreadRequest::new(topic);
        request.participants = (!options.participants.is_empty()).then_some(options.participants);
        request.metadata = options.metadata;
        request.retention_policy = options.retention_policy;
        let id = options
            .repeatability_request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let op = CreateChatThread::new(request).repeatability_request_id(id);
        let result = self.pipeline.execute(&op, None).await?;
        let thread = result.chat_thread.ok_or_else(|| {
            Error::new(
                ErrorKind::Decode,
                "the service created a thread but did not return it",
            )
            .with_operation(op.info().id)
        })?;
        Ok(CreatedChatThread {
            thread,
            rejected_participants: rejected(result.invalid_participants),
        })
    }

    /// The user's threads, most recent first, as a lazy [`Pager`].
    pub fn list_chat_threads(&self, options: ListOptions) -> Pager<ChatThreadItem> {
        let mut op = ListChatThreads::new();
        op.start_time = options.start_time;
        op.max_page_size = options.page_size;
        pager(&self.pipeline, op, None)
    }

    /// Deletes a thread for every participant.
    pub async fn delete_chat_thread(&self, thread_id: &str) -> Result<(), Error> {
        let op = DeleteChatThread::new(thread_id);
        self.pipeline.execute(&op, Some(thread_id)).await
    }
}

impl<T: Transport + 'static> ChatThreadClient<T> {
    /// The thread id.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    async fn run<O: Operation + Sync>(&self, op: O) -> Result<O::Output, Error> {
        self.pipeline.execute(&op, Some(&self.thread_id)).await
    }

    /// The thread's properties.
    pub async fn get_properties(&self) -> Result<ChatThreadProperties, Error> {
        self.run(GetChatThreadProperties::new(&*self.thread_id))
            .await
    }

    /// Changes the topic.
    pub async fn update_topic(&self, topic: impl Into<String>) -> Result<(), Error> {
        self.update_properties(UpdateChatThreadOptions::new().topic(topic))
            .await
    }

    /// Changes topic, metadata and retention policy (a merge-patch: unset fields are not sent).
    pub async fn update_properties(&self, options: UpdateChatThreadOptions) -> Result<(), Error> {
        let mut request = UpdateChatThreadRequest::new();
        request.topic = options.topic;
        request.metadata = options.metadata;
        request.retention_policy = options.retention_policy;
        self.run(UpdateChatThreadProperties::new(&*self.thread_id, request))
            .await
    }

    /// Sends a message; returns its id. Retried only when the failure proves it was not
    /// processed (no connection, or 429), so a message is never sent twice.
    pub async fn send_message(
        &self,
        content: impl Into<String>,
        options: SendMessageOptions,
    ) -> Result<String, Error> {
        let mut request = SendChatMessageRequest::new(content);
        request.kind = options.kind;
        request.sender_display_name = options.sender_display_name;
        request.metadata = options.metadata;
        let result = self
            .run(SendChatMessage::new(&*self.thread_id, request))
            .await?;
        Ok(result.id)
    }

    /// One message.
    pub async fn get_message(&self, message_id: &str) -> Result<ChatMessage, Error> {
        self.run(GetChatMessage::new(&*self.thread_id, message_id))
            .await
    }

    /// The thread's messages, newest first, as a lazy [`Pager`].
    pub fn list_messages(&self, options: ListOptions) -> Pager<ChatMessage> {
        let mut op = ListChatMessages::new(&*self.thread_id);
        op.start_time = options.start_time;
        op.max_page_size = options.page_size;
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// Edits a message (a merge-patch: unset fields are not sent).
    pub async fn update_message(
        &self,
        message_id: &str,
        options: UpdateMessageOptions,
    ) -> Result<(), Error> {
        let mut request = UpdateChatMessageRequest::new();
        request.content = options.content;
        request.metadata = options.metadata;
        self.run(UpdateChatMessage::new(
            &*self.thread_id,
            message_id,
            request,
        ))
        .await
    }

    /// Deletes a message.
    pub async fn delete_message(&self, message_id: &str) -> Result<(), Error> {
        self.run(DeleteChatMessage::new(&*self.thread_id, message_id))
            .await
    }

    /// Adds participants. Those the service refused are listed in the result with their error;
    /// the others were added.
    pub async fn add_participants(
        &self,
        participants: Vec<ChatParticipant>,
    ) -> Result<AddParticipantsResult, Error> {
        if participants.is_empty() {
            return Err(Error::invalid_argument("no participants to add"));
        }
        let request = AddChatParticipantsRequest::new(participants);
        let result = self
            .run(AddChatParticipants::new(&*self.thread_id, request))
            .await?;
        Ok(AddParticipantsResult {
            rejected_participants: rejected(result.invalid_participants),
        })
    }

    /// The thread's participants, as a lazy [`Pager`].
    pub fn list_participants(&self, options: SkipListOptions) -> Pager<ChatParticipant> {
        let mut op = ListChatParticipants::new(&*self.thread_id);
        op.max_page_size = options.page_size;
        op.skip = options.skip;
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// Removes a participant.
    pub async fn remove_participant(
        &self,
        participant: &CommunicationIdentifier,
    ) -> Result<(), Error> {
        self.run(RemoveChatParticipant::new(
            &*self.thread_id,
            participant.to_model(),
        ))
        .await
    }

    /// Tells the other participants that the user is typing.
    pub async fn send_typing_notification(
        &self,
        options: TypingNotificationOptions,
    ) -> Result<(), Error> {
        let mut op = SendTypingNotification::new(&*self.thread_id);
        if let Some(name) = options.sender_display_name {
            let mut body = SendTypingNotificationRequest::new();
            body.sender_display_name = Some(name);
            op = op.request(body);
        }
        self.run(op).await
    }

    /// Marks the message `message_id` (and those before it) as read.
    pub async fn send_read_receipt(&self, message_id: &str) -> Result<(), Error> {
        self.run(SendChatReadReceipt::new(
            &*self.thread_id,
            SendReadReceiptRequest::new(message_id),
        ))
        .await
    }

    /// The thread's read receipts, as a lazy [`Pager`].
    pub fn list_read_receipts(&self, options: SkipListOptions) -> Pager<ChatMessageReadReceipt> {
        let mut op = ListChatReadReceipts::new(&*self.thread_id);
        op.max_page_size = options.page_size;
        op.skip = options.skip;
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// Uploads an image to a Teams-interop thread (api-version `2024-03-15-preview` only: build
    /// the client with `.api_version("2024-03-15-preview")`). Not retried after a failure that
    /// may have stored it.
    pub async fn upload_image(
        &self,
        image: impl Into<bytes::Bytes>,
        filename: Option<&str>,
    ) -> Result<UploadChatImageResult, Error> {
        let mut op = UploadChatImage::new(&*self.thread_id, image);
        if let Some(name) = filename {
            op = op.image_filename(name);
        }
        self.run(op).await
    }

    /// Downloads an image (api-version `2024-03-15-preview` only).
    pub async fn get_image(&self, image_id: &str, view: ImageViewType) -> Result<ChatImage, Error> {
        self.run(GetChatImage::new(&*self.thread_id, image_id, view))
            .await
    }

    /// Deletes an image (api-version `2024-03-15-preview` only).
    pub async fn delete_image(&self, image_id: &str) -> Result<(), Error> {
        self.run(DeleteChatImage::new(&*self.thread_id, image_id))
            .await
    }
}
