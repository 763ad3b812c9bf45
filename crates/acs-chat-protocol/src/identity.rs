//! The token-minting part of the ACS Identity API, and ACS HMAC-SHA256 request signing.
//!
//! Server-side code mints user access tokens with the resource's access key: every request is
//! signed with [`sign_request`] (the scheme of the official SDKs: `HMAC-SHA256
//! SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=…` over
//! `METHOD\n<path and query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`). [`verify_request`] is
//! the other side, for servers such as the local emulator.
//!
//! The operations ([`CreateUser`], [`IssueAccessToken`], [`RevokeAccessTokens`], [`DeleteUser`])
//! implement [`Operation`]; build them with a [`RequestContext`] whose api-version is
//! [`IDENTITY_API_VERSION`].

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, Method, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::parse_json;
use crate::operation::{RequestParts, check_status};
use crate::{
    ApiVersion, DateTime, Endpoint, Error, Idempotency, Operation, OperationInfo, RequestContext,
};

/// The Identity api-version the official SDKs send.
pub const IDENTITY_API_VERSION: ApiVersion = ApiVersion::V2023_10_01_IDENTITY;

/// The headers covered by the signature, in order.
pub const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

type HmacSha256 = Hmac<Sha256>;

/// A resource access key (the base64 secret of a connection string). Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    bytes: Vec<u8>,
}

impl AccessKey {
    /// Decodes a base64 key.
    pub fn from_base64(key: &str) -> Result<Self, Error> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| Error::invalid_credential("the access key is not valid base64"))?;
        if bytes.is_empty() {
            return Err(Error::invalid_credential("the access key is empty"));
        }
        Ok(Self { bytes })
    }

    /// The key in base64 (a secret: print it only where the user asked for it).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.bytes).unwrap_or_else(|_| unreachable!())
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// `endpoint=https://<resource>.communication.azure.com/;accesskey=<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    endpoint: Endpoint,
    access_key: AccessKey,
}

impl ConnectionString {
    /// Parses a connection string: `;`-separated `key=value` pairs, keys case-insensitive, in
    /// any order. The error never contains the key.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut endpoint = None;
        let mut key = None;
        for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                Error::invalid_credential("the connection string is not `endpoint=…;accesskey=…`")
            })?;
            match name.trim().to_ascii_lowercase().as_str() {
                "endpoint" => endpoint = Some(value.trim()),
                "accesskey" => key = Some(value.trim()),
                _ => {}
            }
        }
        let endpoint = endpoint
            .ok_or_else(|| Error::invalid_credential("the connection string has no `endpoint=`"))?;
        let key = key.ok_or_else(|| {
            Error::invalid_credential("the connection string has no `accesskey=`")
        })?;
        Ok(Self {
            endpoint: Endpoint::parse(endpoint)?,
            access_key: AccessKey::from_base64(key)?,
        })
    }

    /// A connection string from its parts.
    pub fn new(endpoint: Endpoint, access_key: AccessKey) -> Self {
        Self {
            endpoint,
            access_key,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The access key.
    pub fn access_key(&self) -> &AccessKey {
        &self.access_key
    }

    /// The connection string's text, with the key in it (a secret).
    pub fn to_secret_string(&self) -> String {
        format!(
            "endpoint={}/;accesskey={}",
            self.endpoint,
            self.access_key.to_base64()
        )
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .finish()
    }
}

/// `base64(sha256(body))`, the `x-ms-content-sha256` header.
pub fn content_hash(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// The string the signature covers.
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    content_hash: &str,
) -> String {
    format!(
        "{}\n{path_and_query}\n{date};{host};{content_hash}",
        method.to_ascii_uppercase()
    )
}

/// `base64(HMAC-SHA256(key, string_to_sign))`.
pub fn compute_signature(key: &AccessKey, string_to_sign: &str) -> String {
    let mut mac = key.mac();
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// An RFC 1123 date (`Wed, 13 Apr 2022 18:09:12 GMT`), the `x-ms-date` header.
pub fn http_date(now: DateTime) -> String {
    httpdate::fmt_http_date(now.to_system_time())
}

/// Signs `request` with the access key at time `now`: sets `x-ms-date`,
/// `x-ms-content-sha256` and `Authorization` (marked sensitive). The host is the request URI's
/// authority, which is what an HTTP client sends as `Host`.
pub fn sign_request(
    request: &mut Request<Bytes>,
    key: &AccessKey,
    now: DateTime,
) -> Result<(), Error> {
    let host = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| Error::invalid_argument("cannot sign a request without a host"))?;
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let date = http_date(now);
    let hash = content_hash(request.body());
    let to_sign = string_to_sign(
        request.method().as_str(),
        &path_and_query,
        &date,
        &host,
        &hash,
    );
    let signature = compute_signature(key, &to_sign);
    let headers = request.headers_mut();
    let header = |v: String| {
        HeaderValue::try_from(v).map_err(|_| Error::invalid_argument("unsendable header value"))
    };
    headers.insert("x-ms-date", header(date)?);
    headers.insert("x-ms-content-sha256", header(hash)?);
    let mut auth = header(format!(
        "HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}"
    ))?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    Ok(())
}

/// Checks an HMAC-signed request, for a server: the `Authorization` scheme, `x-ms-date` within
/// `max_skew` of `now`, `x-ms-content-sha256` equal to the body's hash, and the signature over
/// the request target exactly as received and `host` (the `Host` header, or the HTTP/2
/// authority). Compared in constant time.
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
) -> Result<(), Error> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let unauthorized = |why: &str| Error::invalid_credential(why.to_owned());
    let auth = get("authorization").ok_or_else(|| unauthorized("missing Authorization header"))?;
    let rest = auth
        .strip_prefix("HMAC-SHA256 ")
        .ok_or_else(|| unauthorized("Authorization is not HMAC-SHA256"))?;
    let (signed, signature) = rest
        .trim()
        .split_once('&')
        .ok_or_else(|| unauthorized("malformed HMAC Authorization header"))?;
    if signed.strip_prefix("SignedHeaders=") != Some(SIGNED_HEADERS) {
        return Err(unauthorized(
            "SignedHeaders must be x-ms-date;host;x-ms-content-sha256",
        ));
    }
    let signature = signature
        .strip_prefix("Signature=")
        .ok_or_else(|| unauthorized("malformed HMAC Authorization header"))?;
    let date = get("x-ms-date")
        .or_else(|| get("date"))
        .ok_or_else(|| unauthorized("missing x-ms-date header"))?;
    let sent = httpdate::parse_http_date(date)
        .ok()
        .and_then(|t| DateTime::from_system_time(t).ok())
        .ok_or_else(|| unauthorized("x-ms-date is not an HTTP date"))?;
    let skew = now
        .saturating_duration_since(sent)
        .max(sent.saturating_duration_since(now));
    if skew > max_skew {
        return Err(unauthorized("x-ms-date is too far from the server's time"));
    }
    let hash = get("x-ms-content-sha256")
        .ok_or_else(|| unauthorized("missing x-ms-content-sha256 header"))?;
    if hash != content_hash(body) {
        return Err(unauthorized("x-ms-content-sha256 does not match the body"));
    }
    let to_sign = string_to_sign(method.as_str(), path_and_query, date, host, hash);
    let expected = STANDARD
        .decode(signature)
        .map_err(|_| unauthorized("the signature is not base64"))?;
    let mut mac = key.mac();
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| unauthorized("the signature does not match"))
}

/// An identity (an ACS user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommunicationIdentity {
    /// The user's raw id, `8:acs:<resource>_<id>`.
    pub id: String,
}

impl CommunicationIdentity {
    /// An identity.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// A user access token as the Identity API returns it. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdentityAccessToken {
    /// The token (a JWT).
    pub token: String,
    /// When it expires.
    #[serde(rename = "expiresOn")]
    pub expires_on: DateTime,
}

impl IdentityAccessToken {
    /// A token.
    pub fn new(token: impl Into<String>, expires_on: DateTime) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }
}

impl fmt::Debug for IdentityAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityAccessToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// The body of `POST /identities`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateUserRequest {
    /// Scopes of a token to create with the user (`chat`, `voip`, `chat.join`, …).
    #[serde(
        rename = "createTokenWithScopes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_token_with_scopes: Option<Vec<String>>,
    /// The token's validity, 60 to 1440 minutes (default 1440).
    #[serde(
        rename = "expiresInMinutes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_minutes: Option<i32>,
}

/// The body of `POST /identities/{id}/:issueAccessToken`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssueAccessTokenRequest {
    /// The token's scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The token's validity, 60 to 1440 minutes (default 1440).
    #[serde(
        rename = "expiresInMinutes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_minutes: Option<i32>,
}

/// The result of `POST /identities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateUserResult {
    /// The new user.
    pub identity: CommunicationIdentity,
    /// Its token, when scopes were requested.
    #[serde(
        rename = "accessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<IdentityAccessToken>,
}

impl CreateUserResult {
    /// A result.
    pub fn new(identity: CommunicationIdentity, access_token: Option<IdentityAccessToken>) -> Self {
        Self {
            identity,
            access_token,
        }
    }
}

/// `POST /identities`.
pub const CREATE_USER: OperationInfo = OperationInfo {
    id: "CommunicationIdentity_Create",
    method: Method::POST,
    path: "/identities",
    content_type: Some("application/json"),
    success: &[201],
    pageable: false,
    preview_only: false,
};
/// `POST /identities/{id}/:issueAccessToken`.
pub const ISSUE_ACCESS_TOKEN: OperationInfo = OperationInfo {
    id: "CommunicationIdentity_IssueAccessToken",
    method: Method::POST,
    path: "/identities/{id}/:issueAccessToken",
    content_type: Some("application/json"),
    success: &[200],
    pageable: false,
    preview_only: false,
};
/// `POST /identities/{id}/:revokeAccessTokens`.
pub const REVOKE_ACCESS_TOKENS: OperationInfo = OperationInfo {
    id: "CommunicationIdentity_RevokeAccessTokens",
    method: Method::POST,
    path: "/identities/{id}/:revokeAccessTokens",
    content_type: None,
    success: &[204],
    pageable: false,
    preview_only: false,
};
/// `DELETE /identities/{id}`.
pub const DELETE_USER: OperationInfo = OperationInfo {
    id: "CommunicationIdentity_Delete",
    method: Method::DELETE,
    path: "/identities/{id}",
    content_type: None,
    success: &[204],
    pageable: false,
    preview_only: false,
};

fn expect_json<T: serde::de::DeserializeOwned>(response: Response<Bytes>) -> Result<T, Error> {
    let response = check_status(response)?;
    parse_json(response.body())
}

/// `POST /identities`: creates a user, optionally with a token.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateUser {
    /// The body.
    pub request: CreateUserRequest,
}

impl CreateUser {
    /// A user without a token.
    pub fn new() -> Self {
        Self::default()
    }

    /// A user and a token with these scopes.
    pub fn with_token(scopes: Vec<String>, expires_in_minutes: Option<i32>) -> Self {
        Self {
            request: CreateUserRequest {
                create_token_with_scopes: Some(scopes),
                expires_in_minutes,
            },
        }
    }
}

impl Operation for CreateUser {
    type Output = CreateUserResult;

    fn info(&self) -> &'static OperationInfo {
        &CREATE_USER
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(&CREATE_USER, &[])
            .json(&self.request)?
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        expect_json(response)
    }
}

/// `POST /identities/{id}/:issueAccessToken`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssueAccessToken {
    /// The user.
    pub user_id: String,
    /// The body.
    pub request: IssueAccessTokenRequest,
}

impl IssueAccessToken {
    /// A token for `user_id` with `scopes`.
    pub fn new(user_id: impl Into<String>, scopes: Vec<String>) -> Self {
        Self {
            user_id: user_id.into(),
            request: IssueAccessTokenRequest {
                scopes,
                expires_in_minutes: None,
            },
        }
    }

    /// Sets the validity (60 to 1440 minutes).
    pub fn expires_in_minutes(mut self, minutes: i32) -> Self {
        self.request.expires_in_minutes = Some(minutes);
        self
    }
}

impl Operation for IssueAccessToken {
    type Output = IdentityAccessToken;

    fn info(&self) -> &'static OperationInfo {
        &ISSUE_ACCESS_TOKEN
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        RequestParts::new(&ISSUE_ACCESS_TOKEN, &[("id", &self.user_id)])
            .json(&self.request)?
            .build(ctx)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {
        expect_json(response)
    }
}

macro_rules! user_op {
    ($(#[$doc:meta])* $name:ident, $info:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub struct $name {
            /// The user.
            pub user_id: String,
        }

        impl $name {
            /// The operation on `user_id`.
            pub fn new(user_id: impl Into<String>) -> Self {
                Self { user_id: user_id.into() }
            }
        }

        impl Operation for $name {
            type Output = ();

            fn info(&self) -> &'static OperationInfo {
                &$info
            }

            fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
                RequestParts::new(&$info, &[("id", &self.user_id)]).build(ctx)
            }

            fn parse_response(&self, response: Response<Bytes>) -> Result<(), Error> {
                check_status(response).map(drop)
            }

            fn idempotency(&self) -> Idempotency {
                Idempotency::Idempotent
            }
        }
    };
}

user_op!(
    /// `POST /identities/{id}/:revokeAccessTokens`: revokes every token of a user (idempotent).
    RevokeAccessTokens,
    REVOKE_ACCESS_TOKENS
);
user_op!(
    /// `DELETE /identities/{id}`: deletes a user and revokes its tokens.
    DeleteUser,
    DELETE_USER
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The official test vectors (azure-sdk-for-python `test_hmac.py`): key `pw==`, date mocked
    /// to `Wed, 13 Apr 2022 18:09:12 GMT`, host `contoso.communicationservices.azure.com`.
    const DATE: &str = "Wed, 13 Apr 2022 18:09:12 GMT";
    const HOST: &str = "contoso.communicationservices.azure.com";

    fn key() -> AccessKey {
        AccessKey::from_base64("pw==").unwrap()
    }

    #[test]
    fn official_hmac_vectors() {
        assert_eq!(
            compute_signature(&key(), "banana"),
            "88EC05aAS9iXnaimtNO78JLjiPtfWryQB/5QYEzEsu8="
        );
        assert_eq!(
            compute_signature(&key(), "😀"),
            "1rudJKjn2Zi+3hRrBG29wIF6pD6YyAeQR1ZcFtXoKAU="
        );
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
            let to_sign = string_to_sign("GET", path, DATE, HOST, &empty);
            assert_eq!(compute_signature(&key(), &to_sign), expected, "{path}");
        }
    }

    #[test]
    fn sign_request_matches_vectors_and_verifies() {
        let now = DateTime::from_system_time(httpdate::parse_http_date(DATE).unwrap()).unwrap();
        assert_eq!(http_date(now), DATE);
        let mut request = Request::get(format!("https://{HOST}/testPath?testQuery=yes"))
            .body(Bytes::new())
            .unwrap();
        sign_request(&mut request, &key(), now).unwrap();
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.ends_with("Signature=il99+rd6V5O136roX/zVePCNle78HmvC4B7tu9zRH3I="));
        assert!(!format!("{request:?}").contains("il99"));
        let skew = Duration::from_secs(15 * 60);
        let verify = |body: &[u8], k: &AccessKey, at: DateTime| {
            verify_request(
                request.method(),
                "/testPath?testQuery=yes",
                HOST,
                request.headers(),
                body,
                k,
                at,
                skew,
            )
        };
        verify(b"", &key(), now).unwrap();
        assert!(verify(b"x", &key(), now).is_err());
        assert!(verify(b"", &AccessKey::from_base64("cHc=").unwrap(), now).is_err());
        let late = now.checked_add(Duration::from_secs(16 * 60)).unwrap();
        assert!(verify(b"", &key(), late).is_err());
    }

    #[test]
    fn computed_vector_for_create_user() {
        // From the identity notes: computed with the official Python policy, same key/date/host.
        let body = br#"{"createTokenWithScopes": ["chat"]}"#;
        let hash = content_hash(body);
        assert_eq!(hash, "kWpGozyV35fifbpKdY8mbdG64VG0Pdq5upzo7YKAFM0=");
        let to_sign = string_to_sign(
            "POST",
            "/identities?api-version=2023-10-01",
            DATE,
            HOST,
            &hash,
        );
        assert_eq!(
            compute_signature(&key(), &to_sign),
            "gnpdpDf+VBAfSLBmhmxRU3zWUTeRARHuXFVXi3e710E="
        );
    }

    #[test]
    fn connection_strings() {
        let c =
            ConnectionString::parse("endpoint=https://x.communication.azure.com/;accesskey=pw==")
                .unwrap();
        assert_eq!(c.endpoint().host(), "x.communication.azure.com");
        let c = ConnectionString::parse("AccessKey=pw==;Endpoint=http://127.0.0.1:10500").unwrap();
        assert!(!c.endpoint().is_https());
        assert!(!format!("{c:?}").contains("pw=="));
        for bad in [
            "",
            "endpoint=https://x",
            "accesskey=pw==",
            "endpoint=x;accesskey=pw==",
            "endpoint=https://x;accesskey=%%%",
        ] {
            let e = ConnectionString::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("pw=="), "{e}");
        }
    }

    #[test]
    fn identity_requests() {
        let ctx = RequestContext::new(
            Endpoint::parse("https://x.communication.azure.com").unwrap(),
            IDENTITY_API_VERSION,
        );
        let r = IssueAccessToken::new("8:acs:r_u", vec!["chat".into()])
            .build_request(&ctx)
            .unwrap();
        assert_eq!(
            r.uri(),
            "https://x.communication.azure.com/identities/8%3Aacs%3Ar_u/:issueAccessToken?api-version=2023-10-01"
        );
        assert_eq!(r.body().as_ref(), br#"{"scopes":["chat"]}"#);
        let r = CreateUser::new().build_request(&ctx).unwrap();
        assert_eq!(r.body().as_ref(), b"{}");
        let result = CreateUser::new()
            .parse_response(
                Response::builder()
                    .status(201)
                    .body(Bytes::from_static(br#"{"identity":{"id":"8:acs:r_u"},"accessToken":{"token":"t.t.t","expiresOn":"2023-10-10T21:39:39.3244584+00:00"}}"#))
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(result.identity.id, "8:acs:r_u");
        assert!(!format!("{result:?}").contains("t.t.t"));
    }
}
