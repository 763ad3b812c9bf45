//! Identity: users and the records of the access tokens issued to them.

use std::time::Duration;

use acs_chat_protocol::DateTime;

use super::{Caller, Change, Store, StoreError, TokenGrant};

/// What the store remembers of an issued token (the JWT itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRecord {
    pub(crate) user_id: String,
    pub(crate) expires_on: DateTime,
    pub(crate) scopes: Vec<String>,
}

impl Store {
    /// Creates a user and returns its raw id, `8:acs:<resource id>_<uuid>`.
    pub fn create_user(&mut self) -> String {
        loop {
            let uuid = self.ids.next_uuid();
            let id = format!("8:acs:{}_{uuid}", self.resource_id);
            if self.users.insert(id.clone()) {
                self.record(Change::UserCreated {
                    user_id: id.clone(),
                });
                return id;
            }
        }
    }

    /// Whether `user_id` is a live user of this resource.
    pub fn user_exists(&self, user_id: &str) -> bool {
        self.users.contains(user_id)
    }

    fn require_user(&self, user_id: &str) -> Result<(), StoreError> {
        if self.users.contains(user_id) {
            Ok(())
        } else {
            Err(StoreError::not_found(format!(
                "Identity `{user_id}` was not found."
            )))
        }
    }

    /// Deletes a user and revokes its tokens. Its threads and messages stay.
    pub fn delete_user(&mut self, user_id: &str) -> Result<(), StoreError> {
        self.require_user(user_id)?;
        self.users.remove(user_id);
        self.tokens.retain(|_, t| t.user_id != user_id);
        self.record(Change::UserDeleted {
            user_id: user_id.to_owned(),
        });
        Ok(())
    }

    /// Records a token for `user_id`, valid for `ttl` from `now`.
    pub fn issue_token(
        &mut self,
        user_id: &str,
        scopes: Vec<String>,
        ttl: Duration,
        now: DateTime,
    ) -> Result<TokenGrant, StoreError> {
        self.require_user(user_id)?;
        // Whole seconds, so that `expiresOn` and the JWT's `exp` agree.
        let expires_on = now
            .checked_add(ttl)
            .and_then(|t| DateTime::from_unix_timestamp(t.unix_timestamp()).ok())
            .ok_or_else(|| {
                StoreError::validation("ExpiresInMinutes", "The token lifetime is out of range.")
            })?;
        let token_id = self.ids.next_uuid().simple().to_string();
        self.tokens.insert(
            token_id.clone(),
            TokenRecord {
                user_id: user_id.to_owned(),
                expires_on,
                scopes: scopes.clone(),
            },
        );
        self.record(Change::TokenIssued {
            token_id: token_id.clone(),
        });
        Ok(TokenGrant {
            token_id,
            user_id: user_id.to_owned(),
            scopes,
            issued_at: now,
            expires_on,
        })
    }

    /// Revokes every token of `user_id`.
    pub fn revoke_tokens(&mut self, user_id: &str) -> Result<(), StoreError> {
        self.require_user(user_id)?;
        self.tokens.retain(|_, t| t.user_id != user_id);
        self.record(Change::TokensRevoked {
            user_id: user_id.to_owned(),
        });
        Ok(())
    }

    /// The caller a token (by its id, for the user it names) stands for at `now`: 401 when the
    /// token is unknown, revoked, of a deleted user, or expired.
    pub fn authenticate(
        &self,
        token_id: &str,
        user_id: &str,
        now: DateTime,
    ) -> Result<Caller, StoreError> {
        let record = self
            .tokens
            .get(token_id)
            .filter(|t| t.user_id == user_id)
            .ok_or_else(|| {
                StoreError::unauthorized("The access token is not valid or was revoked.")
            })?;
        if record.expires_on <= now {
            return Err(StoreError::unauthorized("The access token has expired."));
        }
        Ok(Caller::new(record.user_id.clone(), record.scopes.clone()))
    }
}
