//! The ACS HMAC-SHA256 request signature (server side) and the emulator's access tokens.
//!
//! Requests to the Identity API are signed with the resource's access key (see
//! [`acs_chat_protocol::identity`], which computes and checks the signature; this module adds the
//! emulator's leniency for the Python SDK's trailing-slash host).
//!
//! Access tokens are JWTs signed with HS256 under a key derived from the access key. Their
//! payload is compact JSON without `>`, `?` or `~`, so its base64url form never contains `-` or
//! `_` and decodes the same with the standard alphabet (which the Python SDK uses).

use std::fmt;
use std::time::Duration;

use acs_chat_protocol::DateTime;
pub use acs_chat_protocol::identity::AccessKey;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::store::TokenGrant;

type HmacSha256 = Hmac<Sha256>;

/// The well-known development access key, used when none is given (like Azurite's account key
/// for Storage). It is public: never use it for anything but local development and tests.
pub const DEV_ACCESS_KEY: &str = "YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ==";

/// How far `x-ms-date` may be from the emulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError(String);

impl SignatureError {
    /// What is wrong, without any secret.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignatureError {}

/// Verifies an HMAC-signed request with [`acs_chat_protocol::identity::verify_request`]. `host` is
/// the request's authority (the `Host` header, or `:authority` in HTTP/2); a signature over
/// `host` followed by `/` is accepted too, because the Python SDK signs the endpoint as the user
/// wrote it, trailing slash included.
#[allow(clippy::too_many_arguments)]
pub fn verify_request(
    method: &Method,
    path_and_query: &str,
    host: &str,
    headers: &HeaderMap,
    body: &[u8],
    key: &AccessKey,
    now: DateTime,
    max_skew: Duration,
) -> Result<(), SignatureError> {
    let verify = |host: &str| {
        acs_chat_protocol::identity::verify_request(
            method,
            path_and_query,
            host,
            headers,
            body,
            key,
            now,
            max_skew,
        )
    };
    match verify(host) {
        Ok(()) => Ok(()),
        Err(first) => verify(&format!("{host}/")).map_err(|_| SignatureError(first.to_string())),
    }
}

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
        let secret = STANDARD.decode(access_key.to_base64()).unwrap_or_default();
        let mut mac = mac(&secret);
        mac.update(b"acs-chat-emulator access token signing key v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
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
    use acs_chat_protocol::identity::{
        compute_signature, content_hash, http_date, sign_request, string_to_sign,
    };
    use bytes::Bytes;
    use http::Request;

    use super::*;

    fn at(secs: i64) -> DateTime {
        DateTime::from_unix_timestamp(secs).unwrap()
    }

    fn key() -> AccessKey {
        AccessKey::from_base64(DEV_ACCESS_KEY).unwrap()
    }

    fn signed(key: &AccessKey, body: &'static [u8], now: DateTime) -> Request<Bytes> {
        let mut request = Request::post("https://h:1/identities?api-version=2023-10-01")
            .body(Bytes::from_static(body))
            .unwrap();
        sign_request(&mut request, key, now).unwrap();
        request
    }

    fn check(request: &Request<Bytes>, body: &[u8], now: DateTime) -> Result<(), SignatureError> {
        let target = request.uri().path_and_query().unwrap().as_str();
        verify_request(
            &Method::POST,
            target,
            "h:1",
            request.headers(),
            body,
            &key(),
            now,
            MAX_CLOCK_SKEW,
        )
    }

    #[test]
    fn verify_accepts_good_and_refuses_bad() {
        let other = AccessKey::from_base64("b3RoZXI=").unwrap();
        let now = at(1_700_000_000);
        let good = signed(&key(), b"{}", now);
        assert_eq!(check(&good, b"{}", now), Ok(()));
        assert!(check(&good, b"{ }", now).is_err(), "tampered body");
        assert!(
            check(&signed(&other, b"{}", now), b"{}", now).is_err(),
            "wrong key"
        );
        assert!(
            check(&good, b"{}", at(1_700_000_000 + 16 * 60)).is_err(),
            "stale date"
        );
        assert!(check(&good, b"{}", at(1_700_000_000 + 14 * 60)).is_ok());
        let mut missing = good.clone();
        missing.headers_mut().remove("x-ms-date");
        assert!(check(&missing, b"{}", now).is_err());
    }

    #[test]
    fn trailing_slash_host_variant_is_accepted() {
        let now = at(1_700_000_000);
        let date = http_date(now);
        let hash = content_hash(b"");
        let target = "/identities/x?api-version=2023-10-01";
        let signature = compute_signature(
            &key(),
            &string_to_sign("DELETE", target, &date, "127.0.0.1:9/", &hash),
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-date", date.parse().unwrap());
        headers.insert("x-ms-content-sha256", hash.parse().unwrap());
        let auth = format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        );
        headers.insert("authorization", auth.parse().unwrap());
        let verify = |host: &str| {
            verify_request(
                &Method::DELETE,
                target,
                host,
                &headers,
                b"",
                &key(),
                now,
                MAX_CLOCK_SKEW,
            )
        };
        assert_eq!(verify("127.0.0.1:9"), Ok(()));
        assert!(verify("127.0.0.1:8").is_err());
    }

    #[test]
    fn expires_on_format() {
        let t = DateTime::parse("2023-10-10T21:39:39.3244584Z").unwrap();
        assert_eq!(format_expires_on(t), "2023-10-10T21:39:39.3244584+00:00");
        assert_eq!(
            format_expires_on(at(0)),
            "1970-01-01T00:00:00.0000000+00:00"
        );
    }
}
