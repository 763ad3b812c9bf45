//! [`IdentityClient`]: creates ACS users and mints their access tokens, for server-side code
//! holding the resource's connection string.

use std::fmt;
use std::sync::Arc;

use acs_chat_protocol::identity::{
    ConnectionString, CreateUser, CreateUserResult, DeleteUser, IDENTITY_API_VERSION,
    IdentityAccessToken, IssueAccessToken, RevokeAccessTokens,
};
use acs_chat_protocol::{CommunicationUserIdentifier, Idempotency, Operation, RequestContext};
use acs_chat_transport::Transport;
use http::Method;

use crate::Error;
use crate::builder::{Common, CustomTransport, DefaultTransport, TransportChoice, common_setters};
use crate::pipeline::{Auth, Pipeline};

/// The scopes a token can be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenScope {
    /// `chat`: full chat access.
    Chat,
    /// `chat.join`: join existing chats only.
    ChatJoin,
    /// `chat.join.limited`: join chats, without adding or removing participants.
    ChatJoinLimited,
    /// `voip`: calling.
    Voip,
    /// `voip.join`: join existing calls only.
    VoipJoin,
    /// Another scope, as the service spells it.
    Other(String),
}

impl TokenScope {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Chat => "chat",
            Self::ChatJoin => "chat.join",
            Self::ChatJoinLimited => "chat.join.limited",
            Self::Voip => "voip",
            Self::VoipJoin => "voip.join",
            Self::Other(s) => s,
        }
    }
}

fn scope_strings(scopes: &[TokenScope]) -> Vec<String> {
    scopes.iter().map(|s| s.as_str().to_owned()).collect()
}

/// The Identity API: create users, issue and revoke their tokens, delete users.
///
/// Built from a connection string (`endpoint=https://…;accesskey=<base64>`); every request is
/// signed with the access key (HMAC-SHA256) at the injectable clock's time. Retries follow the
/// chat client's rules, and every POST (create, issue, revoke) is treated as not idempotent:
/// retried only when the failure proves it was not processed. Cheap to clone.
#[cfg(feature = "hyper")]
pub struct IdentityClient<T = acs_chat_transport::HyperTransport> {
    pipeline: Arc<Pipeline<T>>,
}

/// The Identity API: create users, issue and revoke their tokens, delete users (see the `hyper`
/// build's documentation).
#[cfg(not(feature = "hyper"))]
pub struct IdentityClient<T> {
    pipeline: Arc<Pipeline<T>>,
}

impl<T> Clone for IdentityClient<T> {
    fn clone(&self) -> Self {
        Self {
            pipeline: Arc::clone(&self.pipeline),
        }
    }
}

impl<T> fmt::Debug for IdentityClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClient")
            .field("pipeline", &self.pipeline)
            .finish()
    }
}

/// Builds an [`IdentityClient`].
pub struct IdentityClientBuilder<C = DefaultTransport> {
    connection_string: Result<ConnectionString, Error>,
    transport: C,
    common: Common,
}

impl<C: fmt::Debug> fmt::Debug for IdentityClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClientBuilder")
            .field(
                "endpoint",
                &self.connection_string.as_ref().ok().map(|c| c.endpoint()),
            )
            .field("transport", &self.transport)
            .field("common", &self.common)
            .finish()
    }
}

impl IdentityClientBuilder {
    /// A builder from a connection string (`endpoint=https://…;accesskey=<base64>`). A
    /// malformed one fails at [`build`](Self::build) with
    /// [`ErrorKind::Credential`](crate::ErrorKind::Credential), without the key in the message.
    pub fn new(connection_string: &str) -> Self {
        Self {
            connection_string: ConnectionString::parse(connection_string).map_err(Error::from),
            transport: DefaultTransport,
            common: Common::default(),
        }
    }

    /// A builder from a parsed connection string.
    pub fn from_connection_string(connection_string: ConnectionString) -> Self {
        Self {
            connection_string: Ok(connection_string),
            transport: DefaultTransport,
            common: Common::default(),
        }
    }
}

impl<C> IdentityClientBuilder<C> {
    /// Sends requests with `transport` instead of the default one.
    pub fn transport<T: Transport + 'static>(
        self,
        transport: T,
    ) -> IdentityClientBuilder<CustomTransport<T>> {
        IdentityClientBuilder {
            connection_string: self.connection_string,
            transport: CustomTransport(transport),
            common: self.common,
        }
    }

    common_setters!();
}

impl<C: TransportChoice> IdentityClientBuilder<C> {
    /// Builds the client.
    pub fn build(self) -> Result<IdentityClient<C::Transport>, Error> {
        let connection = self.connection_string?;
        let endpoint = connection.endpoint().to_string();
        let (endpoint, settings) = self.common.finish(&endpoint)?;
        let transport = self.transport.into_transport(&self.common.transport)?;
        let api_version = self
            .common
            .api_version
            .clone()
            .unwrap_or(IDENTITY_API_VERSION);
        Ok(IdentityClient {
            pipeline: Arc::new(Pipeline {
                transport,
                ctx: RequestContext::new(endpoint, api_version),
                auth: Auth::AccessKey(connection.access_key().clone()),
                settings,
            }),
        })
    }
}

#[cfg(feature = "hyper")]
impl IdentityClient<acs_chat_transport::HyperTransport> {
    /// A builder from a connection string, with the default transport unless
    /// [`transport`](IdentityClientBuilder::transport) is called.
    pub fn builder(connection_string: &str) -> IdentityClientBuilder {
        IdentityClientBuilder::new(connection_string)
    }
}

/// A user and a token, from [`IdentityClient::create_user_and_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserAndToken {
    /// The user.
    pub user: CommunicationUserIdentifier,
    /// Its token (`Debug` hides it).
    pub token: IdentityAccessToken,
}

impl<T: Transport + 'static> IdentityClient<T> {
    async fn run<O: Operation + Sync>(&self, op: O) -> Result<O::Output, Error> {
        // POSTs are never assumed idempotent here, whatever the operation says.
        let idempotency = if op.info().method == Method::POST {
            Idempotency::NotIdempotent
        } else {
            op.idempotency()
        };
        self.pipeline.execute_as(&op, idempotency, None).await
    }

    /// Creates a user.
    pub async fn create_user(&self) -> Result<CommunicationUserIdentifier, Error> {
        let result: CreateUserResult = self.run(CreateUser::new()).await?;
        Ok(CommunicationUserIdentifier {
            id: result.identity.id,
        })
    }

    /// Creates a user and a token for it with `scopes`, valid `expires_in_minutes` (60 to 1440;
    /// the service's default, 1440, when `None`).
    pub async fn create_user_and_token(
        &self,
        scopes: &[TokenScope],
        expires_in_minutes: Option<i32>,
    ) -> Result<UserAndToken, Error> {
        let op = CreateUser::with_token(scope_strings(scopes), expires_in_minutes);
        let id = op.info().id;
        let result = self.run(op).await?;
        let token = result.access_token.ok_or_else(|| {
            Error::new(
                crate::ErrorKind::Decode,
                "the service created a user but returned no token",
            )
            .with_operation(id)
        })?;
        Ok(UserAndToken {
            user: CommunicationUserIdentifier {
                id: result.identity.id,
            },
            token,
        })
    }

    /// Issues a token for `user_id` with `scopes`.
    pub async fn get_token(
        &self,
        user_id: &str,
        scopes: &[TokenScope],
        expires_in_minutes: Option<i32>,
    ) -> Result<IdentityAccessToken, Error> {
        let mut op = IssueAccessToken::new(user_id, scope_strings(scopes));
        if let Some(m) = expires_in_minutes {
            op = op.expires_in_minutes(m);
        }
        self.run(op).await
    }

    /// Revokes every token of `user_id`.
    pub async fn revoke_tokens(&self, user_id: &str) -> Result<(), Error> {
        self.run(RevokeAccessTokens::new(user_id)).await
    }

    /// Deletes `user_id` (and revokes its tokens).
    pub async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        self.run(DeleteUser::new(user_id)).await
    }
}
