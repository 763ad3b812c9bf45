//! [`ChatClient`] and [`ChatThreadClient`].

use std::fmt;
use std::sync::Arc;

use acs_chat_protocol::models::{
    ChatMessage, ChatMessageReadReceipt, ChatParticipant, ChatThreadItem, ChatThreadProperties,
    CommunicationError, ImageViewType, UploadChatImageResult,
};
use acs_chat_protocol::operations::{
    AddChatParticipants, ChatImage, CreateChatThread, CreateChatThreadOptions, DeleteChatImage,
    DeleteChatMessage, DeleteChatThread, GetChatImage, GetChatMessage, GetChatThreadProperties,
    ListChatMessages, ListChatMessagesOptions, ListChatParticipants, ListChatParticipantsOptions,
    ListChatReadReceipts, ListChatReadReceiptsOptions, ListChatThreads, ListChatThreadsOptions,
    RemoveChatParticipant, SendChatMessage, SendChatMessageOptions, SendChatReadReceipt,
    SendTypingNotification, SendTypingNotificationOptions, UpdateChatMessage,
    UpdateChatMessageOptions, UpdateChatThreadProperties, UpdateChatThreadPropertiesOptions,
    UploadChatImage, UploadChatImageOptions,
};
use acs_chat_protocol::{ApiVersion, CommunicationIdentifier, Endpoint, NextPage, Operation, Page};

use crate::builder::{Config, config_setters};
use crate::credential::CommunicationTokenCredential;
use crate::pager::Pager;
use crate::pipeline::{Auth, Pipeline};
use crate::watch::{Watch, WatchOptions};
use crate::{Error, ErrorKind};

/// The entry point of the Chat API for one user: creates, lists and deletes threads, and hands
/// out a [`ChatThreadClient`] per thread.
///
/// Built with [`ChatClient::builder`]. Cheap to clone (the state is shared), `Send + Sync`, and
/// of the same type whatever transport and runtime it was built with.
///
/// Every call is retried as [`RetryOptions`](crate::RetryOptions) allow, without ever repeating
/// a side effect that may have happened, ends by its deadline, and is traced in an
/// `acs_chat.request` span.
#[derive(Clone)]
pub struct ChatClient {
    pub(crate) pipeline: Arc<Pipeline>,
}

/// The operations on one thread: properties, messages, participants, read receipts, typing
/// notifications and images. Made by [`ChatClient::chat_thread_client`] (no IO); cheap to clone.
#[derive(Clone)]
pub struct ChatThreadClient {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) thread_id: Arc<str>,
}

impl fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatClient")
            .field("pipeline", &self.pipeline)
            .finish()
    }
}

impl fmt::Debug for ChatThreadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatThreadClient")
            .field("thread_id", &self.thread_id)
            .field("endpoint", self.pipeline.ctx.endpoint())
            .finish()
    }
}

/// Builds a [`ChatClient`]: the endpoint and the credential, then optional settings.
#[derive(Debug)]
pub struct ChatClientBuilder {
    endpoint: String,
    credential: CommunicationTokenCredential,
    config: Config,
}

impl ChatClientBuilder {
    /// A builder for the resource at `endpoint` (`https://<resource>.communication.azure.com`)
    /// acting as the user of `credential`.
    pub fn new(endpoint: impl Into<String>, credential: CommunicationTokenCredential) -> Self {
        Self {
            endpoint: endpoint.into(),
            credential,
            config: Config::default(),
        }
    }

    config_setters!();

    /// Builds the client. Fails with [`ErrorKind::InvalidArgument`] for a malformed endpoint, a
    /// plain-`http` endpoint without [`allow_insecure_http`](Self::allow_insecure_http), a bad
    /// application id or root certificate, or no transport or runtime (default features off and
    /// none given); with [`ErrorKind::Transport`] when the default transport cannot be set up;
    /// with [`ErrorKind::Credential`] when the credential's proactive refresh cannot start.
    pub fn build(self) -> Result<ChatClient, Error> {
        let pipeline = self.config.build(
            &self.endpoint,
            Auth::Bearer(self.credential),
            ApiVersion::default(),
        )?;
        Ok(ChatClient {
            pipeline: Arc::new(pipeline),
        })
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

/// A lazy pager over the list operation `first` and its next pages.
pub(crate) fn pager<O, I>(
    pipeline: &Arc<Pipeline>,
    first: O,
    thread_id: Option<Arc<str>>,
) -> Pager<I>
where
    O: Operation<Output = Page<I>> + Send + Sync + 'static,
    NextPage<I>: Operation<Output = Page<I>> + Send + Sync,
    I: Send + 'static,
{
    let pipeline = Arc::clone(pipeline);
    let first = Arc::new(first);
    Pager::new(Arc::new(move |link: Option<String>| {
        let pipeline = Arc::clone(&pipeline);
        let first = Arc::clone(&first);
        let thread_id = thread_id.clone();
        Box::pin(async move {
            match link {
                None => pipeline.run(&*first, thread_id.as_deref()).await,
                Some(link) => {
                    let next = NextPage::<I>::new(first.info(), link);
                    pipeline.run(&next, thread_id.as_deref()).await
                }
            }
        })
    }))
}

impl ChatClient {
    /// A builder for the resource at `endpoint` acting as the user of `credential`.
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

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        self.pipeline.ctx.endpoint()
    }

    /// The api-version sent.
    pub fn api_version(&self) -> &ApiVersion {
        self.pipeline.ctx.api_version()
    }

    /// A client for the thread `thread_id` (no IO).
    pub fn chat_thread_client(&self, thread_id: impl Into<String>) -> ChatThreadClient {
        ChatThreadClient {
            pipeline: Arc::clone(&self.pipeline),
            thread_id: Arc::from(thread_id.into()),
        }
    }

    /// Creates a thread with `topic`. The request always carries a `repeatability-request-id`
    /// (the caller's, or a fresh UUID v4), the same on every retry, so a retried create makes
    /// one thread. Participants the service refused are listed in the result.
    pub async fn create_chat_thread(
        &self,
        topic: impl Into<String>,
        mut options: CreateChatThreadOptions,
    ) -> Result<CreatedChatThread, Error> {
        options
            .repeatability_request_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
        let op = CreateChatThread::new(topic, options);
        let result = self.pipeline.run(&op, None).await?;
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
    pub fn list_chat_threads(&self, options: ListChatThreadsOptions) -> Pager<ChatThreadItem> {
        pager(&self.pipeline, ListChatThreads::new(options), None)
    }

    /// Every change in every thread of the user, as a [`Watch`] stream of
    /// [`ChatEvent`](crate::ChatEvent)s, by polling: threads created and deleted, and each
    /// thread's messages as [`ChatThreadClient::watch`] sees them (a thread is polled when the
    /// listing says it had activity).
    ///
    /// ```no_run
    /// # async fn f(client: acs_chat::ChatClient) -> Result<(), acs_chat::Error> {
    /// use acs_chat::futures::StreamExt as _;
    ///
    /// let mut events = client.watch(Default::default()).await?;
    /// while let Some(event) = events.next().await {
    ///     println!("{:?}", event?);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// From now on (the changes after `watch` returns) by default: the first listing happens
    /// here, as the baseline.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when a resumed cursor is from a watch of one thread; the
    /// first listing's error, for a watch from now.
    pub async fn watch(&self, options: WatchOptions) -> Result<Watch, Error> {
        crate::watch::watch(&self.pipeline, None, options).await
    }

    /// Deletes a thread for every participant.
    pub async fn delete_chat_thread(&self, thread_id: &str) -> Result<(), Error> {
        let op = DeleteChatThread::new(thread_id);
        self.pipeline.run(&op, Some(thread_id)).await
    }
}

impl ChatThreadClient {
    /// The thread id.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    async fn run<O: Operation + Sync>(&self, op: O) -> Result<O::Output, Error> {
        self.pipeline.run(&op, Some(&self.thread_id)).await
    }

    fn id(&self) -> &str {
        &self.thread_id
    }

    /// The thread's properties.
    pub async fn get_properties(&self) -> Result<ChatThreadProperties, Error> {
        self.run(GetChatThreadProperties::new(self.id())).await
    }

    /// Changes the topic.
    pub async fn update_topic(&self, topic: impl Into<String>) -> Result<(), Error> {
        self.update_properties(UpdateChatThreadPropertiesOptions::default().topic(topic))
            .await
    }

    /// Changes topic, metadata and retention policy (a merge-patch: unset fields are not sent).
    pub async fn update_properties(
        &self,
        options: UpdateChatThreadPropertiesOptions,
    ) -> Result<(), Error> {
        self.run(UpdateChatThreadProperties::new(self.id(), options))
            .await
    }

    /// Sends a message; returns its id. Retried only when the failure proves it was not
    /// processed (no connection, or 429), so a message is never sent twice.
    pub async fn send_message(
        &self,
        content: impl Into<String>,
        options: SendChatMessageOptions,
    ) -> Result<String, Error> {
        let result = self
            .run(SendChatMessage::new(self.id(), content, options))
            .await?;
        Ok(result.id)
    }

    /// One message.
    pub async fn get_message(&self, message_id: &str) -> Result<ChatMessage, Error> {
        self.run(GetChatMessage::new(self.id(), message_id)).await
    }

    /// The thread's messages, newest first, as a lazy [`Pager`].
    pub fn list_messages(&self, options: ListChatMessagesOptions) -> Pager<ChatMessage> {
        let op = ListChatMessages::new(self.id(), options);
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// The thread's changes as a [`Watch`] stream of [`ChatEvent`](crate::ChatEvent)s, by
    /// polling the message listing with `startTime`: messages received, edited and deleted,
    /// and the system messages as participant and topic events, each once, oldest first.
    ///
    /// From now on by default (the changes after `watch` returns: the first listing happens
    /// here, as the baseline); [`WatchOptions::since`] starts earlier and
    /// [`WatchOptions::resume`] goes on from a saved [`Watch::cursor`].
    ///
    /// ```no_run
    /// # async fn f(thread: acs_chat::ChatThreadClient) -> Result<(), acs_chat::Error> {
    /// use acs_chat::futures::StreamExt as _;
    /// use acs_chat::{ChatEvent, WatchOptions};
    ///
    /// let mut events = thread.watch(WatchOptions::default()).await?;
    /// while let Some(event) = events.next().await {
    ///     if let ChatEvent::ChatMessageReceived(message) = event? {
    ///         println!("{}: {}", message.sender_display_name.unwrap_or_default(), message.message);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when a resumed cursor is from a watch of another thread
    /// or of every thread; the first listing's error, for a watch from now (403 or 404: the
    /// thread is not the user's, or gone).
    pub async fn watch(&self, options: WatchOptions) -> Result<Watch, Error> {
        crate::watch::watch(&self.pipeline, Some(self.id()), options).await
    }

    /// Edits a message (a merge-patch: unset fields are not sent).
    pub async fn update_message(
        &self,
        message_id: &str,
        options: UpdateChatMessageOptions,
    ) -> Result<(), Error> {
        self.run(UpdateChatMessage::new(self.id(), message_id, options))
            .await
    }

    /// Deletes a message.
    pub async fn delete_message(&self, message_id: &str) -> Result<(), Error> {
        self.run(DeleteChatMessage::new(self.id(), message_id))
            .await
    }

    /// Adds participants. Those the service refused are listed in the result with their error;
    /// the others were added.
    pub async fn add_participants(
        &self,
        participants: impl IntoIterator<Item = ChatParticipant>,
    ) -> Result<AddParticipantsResult, Error> {
        let participants: Vec<ChatParticipant> = participants.into_iter().collect();
        if participants.is_empty() {
            return Err(Error::invalid_argument("no participants to add"));
        }
        let result = self
            .run(AddChatParticipants::new(self.id(), participants))
            .await?;
        Ok(AddParticipantsResult {
            rejected_participants: rejected(result.invalid_participants),
        })
    }

    /// The thread's participants, as a lazy [`Pager`].
    pub fn list_participants(
        &self,
        options: ListChatParticipantsOptions,
    ) -> Pager<ChatParticipant> {
        let op = ListChatParticipants::new(self.id(), options);
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// Removes a participant: any identifier, including one read from a listed participant or a
    /// message's sender.
    pub async fn remove_participant(
        &self,
        participant: &CommunicationIdentifier,
    ) -> Result<(), Error> {
        self.run(RemoveChatParticipant::new(self.id(), participant.clone()))
            .await
    }

    /// Tells the other participants that the user is typing.
    pub async fn send_typing_notification(
        &self,
        options: SendTypingNotificationOptions,
    ) -> Result<(), Error> {
        self.run(SendTypingNotification::new(self.id(), options))
            .await
    }

    /// Marks the message `message_id` (and those before it) as read.
    pub async fn send_read_receipt(&self, message_id: &str) -> Result<(), Error> {
        self.run(SendChatReadReceipt::new(self.id(), message_id))
            .await
    }

    /// The thread's read receipts, as a lazy [`Pager`].
    pub fn list_read_receipts(
        &self,
        options: ListChatReadReceiptsOptions,
    ) -> Pager<ChatMessageReadReceipt> {
        let op = ListChatReadReceipts::new(self.id(), options);
        pager(&self.pipeline, op, Some(Arc::clone(&self.thread_id)))
    }

    /// Uploads an image to a Teams-interop thread (api-version `2024-03-15-preview` only: build
    /// the client with `.api_version("2024-03-15-preview")`). Not retried after a failure that
    /// may have stored it.
    pub async fn upload_image(
        &self,
        image: impl Into<bytes::Bytes>,
        options: UploadChatImageOptions,
    ) -> Result<UploadChatImageResult, Error> {
        self.run(UploadChatImage::new(self.id(), image, options))
            .await
    }

    /// Downloads an image (api-version `2024-03-15-preview` only).
    pub async fn get_image(&self, image_id: &str, view: ImageViewType) -> Result<ChatImage, Error> {
        self.run(GetChatImage::new(self.id(), image_id, view)).await
    }

    /// Deletes an image (api-version `2024-03-15-preview` only).
    pub async fn delete_image(&self, image_id: &str) -> Result<(), Error> {
        self.run(DeleteChatImage::new(self.id(), image_id)).await
    }
}
