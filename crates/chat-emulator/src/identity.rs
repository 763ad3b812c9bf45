//! Access keys, the ACS HMAC-SHA256 request signature, and the emulator's access tokens.
//!
//! Requests to the Identity API are signed with the resource's access key:
//! `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<sig>`
//! where `<sig>` is `base64(HMAC-SHA256(base64decode(key), METHOD + "\n" + <request-target as
//! received> + "\n" + <x-ms-date> + ";" + <host> + ";" + <x-ms-content-sha256>))` and
//! `x-ms-content-sha256` is `base64(SHA-256(body))`.
//!
//! Access tokens are JWTs signed with HS256 under a key derived from the access key. Their
//! payload is compact JSON without `>`, `?` or `~`, so its base64url form never contains `-` or
//! `_` and decodes the same with the standard alphabet (which the Python SDK uses).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chat_protocol::DateTime;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::TokenGrant;

type HmacSha256 = Hmac<Sha256>;

/// The well-known development access key, used when none is given (like Azurite's account key
/// for Storage). It is public: never use it for anything but local development and tests.
pub const DEV_ACCESS_KEY: &str = "YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ==";

/// How far `x-ms-date` may be from the emulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// A resource access key: the bytes behind its base64 text.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    text: String,
    bytes: Vec<u8>,
}

/// The error of [`AccessKey::from_base64`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAccessKey;

impl fmt::Display for InvalidAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the access key is not non-empty base64")
    }
}

impl std::error::Error for InvalidAccessKey {}

impl AccessKey {
    /// Parses a base64 key (standard alphabet, padded, as the Azure portal shows them).
    pub fn from_base64(text: &str) -> Result<Self, InvalidAccessKey> {
        let text = text.trim();
        let bytes = STANDARD.decode(text).map_err(|_| InvalidAccessKey)?;
        if bytes.is_empty() {
            return Err(InvalidAccessKey);
        }
        Ok(Self {
            text: text.to_owned(),
            bytes,
        })
    }

    /// The key as base64 (what goes into a connection string).
    pub fn as_base64(&self) -> &str {
        &self.text
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.bytes).unwrap_or_else(|_| unreachable!())
    }

    /// `base64(HMAC-SHA256(key, text))`.
    pub fn sign(&self, text: &str) -> String {
        let mut mac = self.mac();
        mac.update(text.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// `base64(SHA-256(body))`, the `x-ms-content-sha256` header.
pub fn content_hash(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// The string an HMAC request signature covers.
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    content_hash: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{date};{host};{content_hash}")
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, SignatureError> {
    headers
        .get(name)
        .ok_or_else(|| SignatureError(format!("The `{name}` header is missing.")))?
        .to_str()
        .map_err(|_| SignatureError(format!("The `{name}` header is not ASCII.")))
}

/// Verifies an HMAC-signed request. `host` is the request's authority (the `Host` header, or
/// `:authority` in HTTP/2); a signature over `host` followed by `/` is accepted too, because the
/// Python SDK signs the endpoint as the user wrote it, trailing slash included.
#[allow(clippy::too_many_arguments)]
pub fn verify_request(
    method: &str,
    path_and_query: &str,
    host: &str,
    headers: &HeaderMap,
    body: &[u8],
    key: &AccessKey,
    now: DateTime,
    max_skew: Duration,
) -> Result<(), SignatureError> {
    let authorization = header(headers, "authorization")?;
    let (scheme, params) = authorization
        .split_once(' ')
        .ok_or_else(|| SignatureError("The Authorization header is malformed.".into()))?;
    if !scheme.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(SignatureError(
            "The Authorization header must use the HMAC-SHA256 scheme.".into(),
        ));
    }
    let mut signed_headers = None;
    let mut signature = None;
    for part in params.trim().split('&') {
        match part.split_once('=') {
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(signed_headers), Some(signature)) = (signed_headers, signature) else {
        return Err(SignatureError(
            "The Authorization header needs SignedHeaders and Signature.".into(),
        ));
    };
    if !signed_headers.eq_ignore_ascii_case("x-ms-date;host;x-ms-content-sha256") {
        return Err(SignatureError(
            "SignedHeaders must be x-ms-date;host;x-ms-content-sha256.".into(),
        ));
    }
    let date = header(headers, "x-ms-date")?;
    let hash = header(headers, "x-ms-content-sha256")?;
    let sent = httpdate::parse_http_date(date)
        .map_err(|_| SignatureError("x-ms-date is not an RFC 1123 date.".into()))?;
    let sent = DateTime::from_system_time(sent)
        .map_err(|_| SignatureError("x-ms-date is out of range.".into()))?;
    if sent.saturating_duration_since(now) > max_skew
        || now.saturating_duration_since(sent) > max_skew
    {
        return Err(SignatureError(
            "x-ms-date is more than 15 minutes away from the server's clock.".into(),
        ));
    }
    if hash != content_hash(body) {
        return Err(SignatureError(
            "x-ms-content-sha256 does not match the request body.".into(),
        ));
    }
    let provided = STANDARD
        .decode(signature)
        .map_err(|_| SignatureError("The signature is not base64.".into()))?;
    let with_slash = format!("{host}/");
    for signed_host in [host, with_slash.as_str()] {
        let mut mac = key.mac();
        mac.update(string_to_sign(method, path_and_query, date, signed_host, hash).as_bytes());
        if mac.verify_slice(&provided).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError("The request signature is not valid.".into()))
}

/// Signs a request the way the SDKs do (for tests and tools): returns the `x-ms-date`,
/// `x-ms-content-sha256` and `Authorization` header values.
pub fn sign_request(
    method: &str,
    path_and_query: &str,
    host: &str,
    body: &[u8],
    key: &AccessKey,
    now: DateTime,
) -> [(&'static str, String); 3] {
    let date = httpdate::fmt_http_date(now.to_system_time());
    let hash = content_hash(body);
    let signature = key.sign(&string_to_sign(method, path_and_query, &date, host, &hash));
    [
        ("x-ms-date", date),
        ("x-ms-content-sha256", hash),
        (
            "authorization",
            format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
            ),
        ),
    ]
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
    key: AccessKey,
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
        let mut mac = access_key.mac();
        mac.update(b"acs-chat-emulator access token signing key v1");
        let derived = mac.finalize().into_bytes().to_vec();
        Self {
            key: AccessKey {
                text: String::new(),
                bytes: derived,
            },
        }
    }

    fn signature(&self, signing_input: &str) -> String {
        let mut mac = self.key.mac();
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
        let mut mac = self.key.mac();
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
    let odt = t.to_offset_date_time();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}+00:00",
        odt.year(),
        u8::from(odt.month()),
        odt.day(),
        odt.hour(),
        odt.minute(),
        odt.second(),
        odt.nanosecond() / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime {
        DateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn official_python_sdk_vectors() {
        // azure-sdk-for-python identity tests/test_hmac.py: key "pw==".
        let key = AccessKey::from_base64("pw==").unwrap();
        assert_eq!(
            key.sign("banana"),
            "88EC05aAS9iXnaimtNO78JLjiPtfWryQB/5QYEzEsu8="
        );
        let date = "Wed, 13 Apr 2022 18:09:12 GMT";
        let host = "contoso.communicationservices.azure.com";
        let empty = content_hash(b"");
        assert_eq!(empty, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        for (path, expected) in [
            ("/", "88MDmJhUR3m5QhFxb8ztShsSwlGrg7g/6XPnWf7QEO4="),
            ("/testPath", "RoCrHjw7fb9fpHSbqvRUY2xa8RBS0YvI1cxI1x8AS38="),
            (
                "/testPath?testQuery=yes",
                "il99+rd6V5O136roX/zVePCNle78HmvC4B7tu9zRH3I=",
            ),
        ] {
            assert_eq!(
                key.sign(&string_to_sign("GET", path, date, host, &empty)),
                expected
            );
        }
    }

    fn signed(key: &AccessKey, body: &[u8], now: DateTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in sign_request(
            "POST",
            "/identities?api-version=2023-10-01",
            "h:1",
            body,
            key,
            now,
        ) {
            headers.insert(name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn verify_accepts_good_and_refuses_bad() {
        let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
        let other = AccessKey::from_base64("b3RoZXI=").unwrap();
        let now = at(1_700_000_000);
        let path = "/identities?api-version=2023-10-01";
        let ok = |h: &HeaderMap, body: &[u8], t| {
            verify_request("POST", path, "h:1", h, body, &key, t, MAX_CLOCK_SKEW)
        };
        let h = signed(&key, b"{}", now);
        assert_eq!(ok(&h, b"{}", now), Ok(()));
        assert!(ok(&h, b"{ }", now).is_err(), "tampered body");
        assert!(
            ok(&signed(&other, b"{}", now), b"{}", now).is_err(),
            "wrong key"
        );
        assert!(
            ok(&h, b"{}", at(1_700_000_000 + 16 * 60)).is_err(),
            "stale date"
        );
        assert!(ok(&h, b"{}", at(1_700_000_000 + 14 * 60)).is_ok());
        let mut missing = h.clone();
        missing.remove("x-ms-date");
        assert!(ok(&missing, b"{}", now).is_err());
        assert!(
            verify_request(
                "POST",
                "/identities?api-version=2023-10-02",
                "h:1",
                &h,
                b"{}",
                &key,
                now,
                MAX_CLOCK_SKEW
            )
            .is_err()
        );
    }

    #[test]
    fn trailing_slash_host_variant_is_accepted() {
        let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
        let now = at(1_700_000_000);
        let mut headers = HeaderMap::new();
        for (name, value) in sign_request(
            "DELETE",
            "/identities/x?api-version=2023-10-01",
            "127.0.0.1:9/",
            b"",
            &key,
            now,
        ) {
            headers.insert(name, value.parse().unwrap());
        }
        assert_eq!(
            verify_request(
                "DELETE",
                "/identities/x?api-version=2023-10-01",
                "127.0.0.1:9",
                &headers,
                b"",
                &key,
                now,
                MAX_CLOCK_SKEW
            ),
            Ok(())
        );
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
