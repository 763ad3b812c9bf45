//! [`IdentityClient`]: creates ACS users and mints their access tokens, for server-side code
//! holding the resource's connection string.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use acs_chat_protocol::identity::{
    CommunicationIdentityAccessToken, CommunicationIdentityTokenScope, ConnectionString,
    CreateUser, CreateUserOptions, DeleteUser, ExchangeTeamsUserAccessToken, IDENTITY_API_VERSION,
    IssueAccessToken, IssueAccessTokenOptions, RevokeAccessTokens,
};
use acs_chat_protocol::{AccessToken, CommunicationUserIdentifier, Operation};

use crate::builder::{Config, config_setters};
use crate::pipeline::{Auth, Pipeline};
use crate::{Error, ErrorKind};

/// The Identity API: create users, issue and revoke their tokens, delete users, exchange a
/// Teams user's Entra ID token.
///
/// Built from a connection string (`endpoint=https://…;accesskey=<base64>`); every request is
/// signed with the access key (HMAC-SHA256) at the runtime's time. Retries follow the chat
/// client's rules. Cheap to clone.
#[derive(Clone)]
pub struct IdentityClient {
    pipeline: Arc<Pipeline>,
}

impl fmt::Debug for IdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClient")
            .field("pipeline", &self.pipeline)
            .finish()
    }
}

/// Builds an [`IdentityClient`].
pub struct IdentityClientBuilder {
    connection_string: Result<ConnectionString, Error>,
    config: Config,
}

impl fmt::Debug for IdentityClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClientBuilder")
            .field(
                "endpoint",
                &self.connection_string.as_ref().ok().map(|c| c.endpoint()),
            )
            .field("config", &self.config)
            .finish()
    }
}

impl IdentityClientBuilder {
    /// A builder from a connection string (`endpoint=https://…;accesskey=<base64>`). A
    /// malformed one fails at [`build`](Self::build) with
    /// [`ErrorKind::Credential`], without the key in the message.
    pub fn new(connection_string: &str) -> Self {
        Self::with(ConnectionString::parse(connection_string).map_err(Error::from))
    }

    /// A builder from a parsed connection string.
    pub fn from_connection_string(connection_string: ConnectionString) -> Self {
        Self::with(Ok(connection_string))
    }

    fn with(connection_string: Result<ConnectionString, Error>) -> Self {
        Self {
            connection_string,
            config: Config::default(),
        }
    }

    config_setters!();

    /// Builds the client (see [`ChatClientBuilder::build`](crate::ChatClientBuilder::build)
    /// for the failures).
    pub fn build(self) -> Result<IdentityClient, Error> {
        let connection = self.connection_string?;
        let endpoint = connection.endpoint().to_string();
        let auth = Auth::AccessKey(connection.access_key().clone());
        let pipeline = self.config.build(&endpoint, auth, IDENTITY_API_VERSION)?;
        Ok(IdentityClient {
            pipeline: Arc::new(pipeline),
        })
    }
}

/// A user and a token, from [`IdentityClient::create_user_and_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserAndToken {
    /// The user.
    pub user: CommunicationUserIdentifier,
    /// Its token and expiry (`Debug` hides the token).
    pub token: AccessToken,
}

/// A token's validity as the service takes it: whole minutes in `[60, 1440]` (the spec's
/// `expiresInMinutes` bounds).
fn expires_in_minutes(validity: Option<Duration>) -> Result<Option<i32>, Error> {
    let Some(validity) = validity else {
        return Ok(None);
    };
    let secs = validity.as_secs();
    if validity.subsec_nanos() != 0 || secs % 60 != 0 || !(60 * 60..=1440 * 60).contains(&secs) {
        return Err(Error::invalid_argument(format!(
            "a token's validity must be whole minutes from 1 hour to 24 hours, not {validity:?}"
        )));
    }
    Ok(i32::try_from(secs / 60).ok())
}

fn access_token(token: CommunicationIdentityAccessToken) -> AccessToken {
    AccessToken::new(token.token, token.expires_on)
}

impl IdentityClient {
    /// A builder from a connection string.
    pub fn builder(connection_string: &str) -> IdentityClientBuilder {
        IdentityClientBuilder::new(connection_string)
    }

    async fn run<O: Operation + Sync>(&self, op: O) -> Result<O::Output, Error> {
        self.pipeline.run(&op, None).await
    }

    /// Creates a user.
    pub async fn create_user(&self) -> Result<CommunicationUserIdentifier, Error> {
        let result = self.run(CreateUser::new(Default::default())).await?;
        Ok(CommunicationUserIdentifier::new(result.identity.id))
    }

    /// Creates a user and a token for it with `scopes`, valid for `validity` (whole minutes
    /// from 1 to 24 hours; the service's default, 24 hours, when `None`).
    pub async fn create_user_and_token(
        &self,
        scopes: &[CommunicationIdentityTokenScope],
        validity: Option<Duration>,
    ) -> Result<UserAndToken, Error> {
        let mut options = CreateUserOptions::default().create_token_with_scopes(scopes.to_vec());
        options.expires_in_minutes = expires_in_minutes(validity)?;
        let op = CreateUser::new(options);
        let result = self.run(op).await?;
        let token = result.access_token.ok_or_else(|| {
            Error::new(
                ErrorKind::Decode,
                "the service created a user but returned no token",
            )
            .with_operation(CreateUser::INFO.id)
        })?;
        Ok(UserAndToken {
            user: CommunicationUserIdentifier::new(result.identity.id),
            token: access_token(token),
        })
    }

    /// Issues a token for `user_id` with `scopes`, valid for `validity` (see
    /// [`create_user_and_token`](Self::create_user_and_token)).
    pub async fn get_token(
        &self,
        user_id: &str,
        scopes: &[CommunicationIdentityTokenScope],
        validity: Option<Duration>,
    ) -> Result<AccessToken, Error> {
        let mut options = IssueAccessTokenOptions::default();
        options.expires_in_minutes = expires_in_minutes(validity)?;
        let op = IssueAccessToken::new(user_id, scopes.to_vec(), options);
        Ok(access_token(self.run(op).await?))
    }

    /// Revokes every token of `user_id`.
    pub async fn revoke_tokens(&self, user_id: &str) -> Result<(), Error> {
        self.run(RevokeAccessTokens::new(user_id)).await
    }

    /// Deletes `user_id` (and revokes its tokens).
    pub async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        self.run(DeleteUser::new(user_id)).await
    }

    /// Exchanges a Teams user's Entra ID access token for an ACS access token (`app_id`: the
    /// Entra application's client id, `user_id`: the Teams user's object id).
    pub async fn exchange_teams_token(
        &self,
        entra_token: &str,
        app_id: &str,
        user_id: &str,
    ) -> Result<AccessToken, Error> {
        let op = ExchangeTeamsUserAccessToken::new(app_id, entra_token, user_id);
        Ok(access_token(self.run(op).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_whole_minutes_between_one_hour_and_a_day() {
        assert_eq!(expires_in_minutes(None).unwrap(), None);
        let m = |secs| expires_in_minutes(Some(Duration::from_secs(secs)));
        assert_eq!(m(3600).unwrap(), Some(60));
        assert_eq!(m(86_400).unwrap(), Some(1440));
        for bad in [0, 59 * 60, 3601, 86_460, u64::MAX] {
            let e = m(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(expires_in_minutes(Some(Duration::new(3600, 1))).is_err());
    }
}
