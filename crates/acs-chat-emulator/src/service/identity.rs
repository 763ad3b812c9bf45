//! The Identity API's handlers: create a user (optionally with a token), issue a token, revoke
//! tokens, delete a user. The request signature and api-version are checked before them.

use std::time::Duration;

use acs_chat_protocol::encode_path_segment;
use bytes::Bytes;
use http::Response;
use serde::Deserialize;
use serde_json::json;

use super::json::{empty_response, is_blank, json_response, parse_json, with_location};
use super::{Ctx, DEFAULT_TOKEN_TTL, Result, Service, TOKEN_SCOPES};
use crate::identity::format_expires_on;
use crate::store::{StoreError, TOKEN_MINUTES_RANGE};

#[derive(Deserialize)]
struct CreateIdentityBody {
    #[serde(rename = "createTokenWithScopes", default)]
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresInMinutes", default)]
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize)]
struct IssueTokenBody {
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresInMinutes", default)]
    expires_in_minutes: Option<i64>,
}

fn token_ttl(minutes: Option<i64>) -> Result<Duration> {
    match minutes {
        None => Ok(DEFAULT_TOKEN_TTL),
        Some(m) if TOKEN_MINUTES_RANGE.contains(&m) => {
            Ok(Duration::from_secs(m.unsigned_abs() * 60))
        }
        Some(m) => Err(StoreError::validation(
            "ExpiresInMinutes",
            format!(
                "ExpiresInMinutes value {m} is invalid. Value must be within the [{}, {}] interval.",
                TOKEN_MINUTES_RANGE.start(),
                TOKEN_MINUTES_RANGE.end()
            ),
        )),
    }
}

fn check_scopes(scopes: &[String], target: &str) -> Result<()> {
    match scopes.iter().find(|s| !TOKEN_SCOPES.contains(&s.as_str())) {
        Some(bad) => Err(StoreError::validation(
            target,
            format!(
                "The scope `{bad}` is not valid; valid scopes are {}.",
                TOKEN_SCOPES.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// `POST /identities`
pub(super) fn create(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let body: Option<CreateIdentityBody> = if is_blank(ctx.body) {
        None
    } else {
        parse_json(ctx.body, "body")?
    };
    let (scopes, minutes) = body
        .map(|b| (b.scopes.unwrap_or_default(), b.expires_in_minutes))
        .unwrap_or_default();
    check_scopes(&scopes, "CreateTokenWithScopes")?;
    let ttl = token_ttl(minutes)?;
    s.transact(ctx, |store| {
        let id = store.create_user();
        let mut result = json!({ "identity": { "id": id } });
        if !scopes.is_empty() {
            let grant = store.issue_token(&id, scopes, ttl, ctx.now)?;
            result["accessToken"] = json!({
                "token": s.signer.mint(&grant, store.resource_id()),
                "expiresOn": format_expires_on(grant.expires_on),
            });
        }
        let location = format!("{}/identities/{}", ctx.origin, encode_path_segment(&id));
        Ok(with_location(json_response(201, &result), location))
    })
}

/// `POST /identities/{id}/:issueAccessToken`
pub(super) fn issue_token(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    let body: IssueTokenBody = parse_json(ctx.body, "body")?;
    let scopes = body
        .scopes
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::validation("Scopes", "Scopes: The Scopes field is required."))?;
    check_scopes(&scopes, "Scopes")?;
    let ttl = token_ttl(body.expires_in_minutes)?;
    s.transact(ctx, |store| {
        let grant = store.issue_token(ctx.param("id"), scopes, ttl, ctx.now)?;
        Ok(json_response(
            200,
            &json!({
                "token": s.signer.mint(&grant, store.resource_id()),
                "expiresOn": format_expires_on(grant.expires_on),
            }),
        ))
    })
}

/// `POST /identities/{id}/:revokeAccessTokens`
pub(super) fn revoke_tokens(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    s.transact(ctx, |store| store.revoke_tokens(ctx.param("id")))?;
    Ok(empty_response(204))
}

/// `DELETE /identities/{id}`
pub(super) fn delete(s: &Service, ctx: &Ctx<'_>) -> Result<Response<Bytes>> {
    s.transact(ctx, |store| store.delete_user(ctx.param("id")))?;
    Ok(empty_response(204))
}
