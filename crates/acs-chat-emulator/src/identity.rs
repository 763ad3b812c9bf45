//! The emulator's access key and access tokens.
//!
//! Requests to the Identity API are signed with the resource's access key (checked by
//! [`crate::hmac_auth`]). Access tokens are JWTs signed with HS256 under a key derived from the access key. Their
//! payload is compact JSON without `>`, `?` or `~`, so its base64url form never contains `-` or
//! `_` and decodes the same with the standard alphabet (which the Python SDK uses).

use std::fmt;

use acs_chat_protocol::DateTime;
pub use acs_chat_protocol::identity::AccessKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::hmac_auth::{hmac_sha256 as mac, key_bytes};
use crate::store::TokenGrant;

/// The well-known development access key, used when none is given (like Azurite's account key
/// for Storage). It is public: never use it for anything but local development and tests.
pub const DEV_ACCESS_KEY: &str = "YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ==";

/// The claims of an emulator token. `exp` is what the official SDKs read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    skypeid: String,
    scp: u32,
    csi: String,
    exp: i64,
    #[serde(rename = "acsScope")]
    acs_scope: String,
    #[serde(rename = "resourceId")]
    resource_id: String,
    #[serde(rename = "resourceLocation")]
    resource_location: String,
    iat: i64,
    tid: String,
    #[serde(default)]
    pad: String,
}

/// What a verified token says: whose it is and its id in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user's raw id.
    pub user_id: String,
    /// The token id.
    pub token_id: String,
    /// The expiry (`exp`).
    pub expires_on: DateTime,
}

/// Mints and verifies the emulator's access tokens (HS256 JWTs).
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(<redacted>)")
    }
}

const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl TokenSigner {
    /// A signer whose key is derived from the access key.
    pub fn new(access_key: &AccessKey) -> Self {
        let mut mac = mac(&key_bytes(access_key));
        mac.update(b"acs-chat-emulator access token signing key v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// A signer with this key (a key kept from an earlier run).
    pub(crate) fn from_key(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// The signing key, to keep it across restarts.
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    fn signature(&self, signing_input: &str) -> String {
        let mut mac = mac(&self.key);
        mac.update(signing_input.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The JWT for a grant.
    pub fn mint(&self, grant: &TokenGrant, resource_id: &str) -> String {
        let user = &grant.user_id;
        let iat = grant.issued_at.unix_timestamp();
        let mut claims = Claims {
            skypeid: user.strip_prefix("8:").unwrap_or(user).to_owned(),
            scp: 1792,
            csi: iat.to_string(),
            exp: grant.expires_on.unix_timestamp(),
            acs_scope: grant.scopes.join(","),
            resource_id: resource_id.to_owned(),
            resource_location: "emulator".to_owned(),
            iat,
            tid: grant.token_id.clone(),
            pad: String::new(),
        };
        let header = URL_SAFE_NO_PAD.encode(JWT_HEADER);
        // Nearly always the first try: the payload has no `>`, `?` or `~` unless a scope does.
        let mut payload = String::new();
        for attempt in 0..64u32 {
            let json = serde_json::to_vec(&claims).unwrap_or_default();
            payload = URL_SAFE_NO_PAD.encode(json);
            if !payload.contains(['-', '_']) {
                break;
            }
            claims.pad = "x".repeat(attempt as usize + 1);
        }
        let signing_input = format!("{header}.{payload}");
        let signature = self.signature(&signing_input);
        format!("{signing_input}.{signature}")
    }

    /// Checks a token's signature and reads its claims (expiry is the store's business).
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let provided = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = mac(&self.key);
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&provided).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        Some(TokenClaims {
            user_id: format!("8:{}", claims.skypeid),
            token_id: claims.tid,
            expires_on: DateTime::from_unix_timestamp(claims.exp).ok()?,
        })
    }
}

/// `expiresOn` the way the Identity service writes it: 7 fractional digits and `+00:00`
/// (`2023-10-10T21:39:39.3244584+00:00`).
pub fn format_expires_on(t: DateTime) -> String {
    let mut text = t.to_rfc3339_fixed(7);
    text.pop(); // the `Z`
    text.push_str("+00:00");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_on_format() {
        let t = DateTime::parse("2023-10-10T21:39:39.3244584Z").unwrap();
        assert_eq!(format_expires_on(t), "2023-10-10T21:39:39.3244584+00:00");
        assert_eq!(
            format_expires_on(DateTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.0000000+00:00"
        );
    }
}
