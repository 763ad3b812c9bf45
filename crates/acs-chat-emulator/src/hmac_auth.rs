//! The server side of the ACS HMAC-SHA256 request signature, which the Identity API requires.
//!
//! A client signs `METHOD\n<path and query>\n<x-ms-date>;<host>;<x-ms-content-sha256>` with the
//! resource's access key and sends `Authorization: HMAC-SHA256
//! SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>`. The emulator is the
//! only user of the checking side, so it lives here (the client side, `sign_request`, is in
//! `acs_chat_protocol::identity`).

use std::fmt;
use std::time::Duration;

use acs_chat_protocol::DateTime;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use sha2::{Digest, Sha256};

use crate::identity::AccessKey;

/// The headers covered by the signature, in order.
const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

/// How far `x-ms-date` may be from the emulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError(&'static str);

impl SignatureError {
    /// What is wrong, without any secret.
    pub fn message(&self) -> &str {
        self.0
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SignatureError {}

/// `HMAC-SHA256(key)` ready for input.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The access key's bytes (it was decoded from base64 when it was made).
pub(crate) fn key_bytes(key: &AccessKey) -> Vec<u8> {
    STANDARD.decode(key.to_base64()).unwrap_or_default()
}

/// Checks an HMAC-signed request: the `Authorization` scheme, `x-ms-date` (or `Date`) within
/// `max_skew` of `now`, `x-ms-content-sha256` equal to the body's hash, and the signature over
/// the request target exactly as received and `host` (the `Host` header, or the HTTP/2
/// authority). A signature over `host` followed by `/` is accepted too, because the Python SDK
/// signs the endpoint as the user wrote it, trailing slash included. Compared in constant time.
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
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let auth = get("authorization").ok_or(SignatureError("missing Authorization header"))?;
    let rest = auth
        .strip_prefix("HMAC-SHA256 ")
        .ok_or(SignatureError("Authorization is not HMAC-SHA256"))?;
    let (signed, signature) = rest
        .trim()
        .split_once('&')
        .ok_or(SignatureError("malformed HMAC Authorization header"))?;
    if signed.strip_prefix("SignedHeaders=") != Some(SIGNED_HEADERS) {
        return Err(SignatureError(
            "SignedHeaders must be x-ms-date;host;x-ms-content-sha256",
        ));
    }
    let signature = signature
        .strip_prefix("Signature=")
        .ok_or(SignatureError("malformed HMAC Authorization header"))?;
    let expected = STANDARD
        .decode(signature)
        .map_err(|_| SignatureError("the signature is not base64"))?;
    let date = get("x-ms-date")
        .or_else(|| get("date"))
        .ok_or(SignatureError("missing x-ms-date header"))?;
    let sent = httpdate::parse_http_date(date)
        .ok()
        .and_then(|t| DateTime::from_system_time(t).ok())
        .ok_or(SignatureError("x-ms-date is not an HTTP date"))?;
    let skew = now
        .saturating_duration_since(sent)
        .max(sent.saturating_duration_since(now));
    if skew > max_skew {
        return Err(SignatureError(
            "x-ms-date is too far from the server's time",
        ));
    }
    let hash =
        get("x-ms-content-sha256").ok_or(SignatureError("missing x-ms-content-sha256 header"))?;
    if hash != STANDARD.encode(Sha256::digest(body)) {
        return Err(SignatureError(
            "x-ms-content-sha256 does not match the body",
        ));
    }
    let key = key_bytes(key);
    let matches = |host: &str| {
        let mut mac = hmac_sha256(&key);
        mac.update(method.as_str().to_ascii_uppercase().as_bytes());
        mac.update(b"\n");
        mac.update(path_and_query.as_bytes());
        mac.update(b"\n");
        mac.update(format!("{date};{host};{hash}").as_bytes());
        mac.verify_slice(&expected).is_ok()
    };
    if matches(host) || matches(&format!("{host}/")) {
        Ok(())
    } else {
        Err(SignatureError("the signature does not match"))
    }
}

#[cfg(test)]
mod tests {
    use acs_chat_protocol::identity::{
        compute_signature, content_hash, http_date, sign_request, string_to_sign,
    };
    use bytes::Bytes;
    use http::Request;

    use super::*;
    use crate::identity::DEV_ACCESS_KEY;

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
    fn verify_accepts_what_the_client_signs_and_refuses_the_rest() {
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
        let mut other_scheme = good.clone();
        other_scheme
            .headers_mut()
            .insert("authorization", "Bearer x".parse().unwrap());
        assert_eq!(
            check(&other_scheme, b"{}", now),
            Err(SignatureError("Authorization is not HMAC-SHA256"))
        );
    }

    proptest::proptest! {
        /// What `sign_request` signs verifies, for any method, target, body and key; changing
        /// the method, the target, the host, the body or the key, or moving the clock past the
        /// allowed skew, makes it fail.
        #[test]
        fn signed_requests_verify_and_changed_ones_do_not(
            method in proptest::sample::select(vec!["GET", "POST", "PATCH", "DELETE"]),
            target in "/[a-zA-Z0-9/:%._~-]{0,30}(\\?[a-zA-Z0-9=&%-]{0,20})?",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..80),
            at in 0i64..4_000_000_000,
            skew in 0u64..3600,
            change in 0..5u8,
        ) {
            use base64::Engine as _;
            let key = AccessKey::from_base64(&STANDARD.encode(&key)).unwrap();
            let now = DateTime::from_unix_timestamp(at).unwrap();
            let mut request = Request::builder()
                .method(method)
                .uri(format!("https://h.example:8443{target}"))
                .body(Bytes::from(body.clone()))
                .unwrap();
            sign_request(&mut request, &key, now).unwrap();
            let target = request.uri().path_and_query().unwrap().as_str().to_owned();
            let method = request.method().clone();
            let headers = request.headers().clone();
            let verify = |method: &Method, target: &str, host: &str, body: &[u8], key: &AccessKey, at: DateTime| {
                verify_request(method, target, host, &headers, body, key, at, MAX_CLOCK_SKEW)
            };
            let host = "h.example:8443";
            proptest::prop_assert_eq!(verify(&method, &target, host, &body, &key, now), Ok(()));
            let later = now.checked_add(Duration::from_secs(skew)).unwrap();
            proptest::prop_assert_eq!(
                verify(&method, &target, host, &body, &key, later).is_ok(),
                Duration::from_secs(skew) <= MAX_CLOCK_SKEW
            );
            let changed = match change {
                0 => verify(&Method::PUT, &target, host, &body, &key, now),
                1 => verify(&method, &format!("{target}x"), host, &body, &key, now),
                2 => verify(&method, &target, "h.example:8444", &body, &key, now),
                3 => verify(&method, &target, host, &[body.as_slice(), b" "].concat(), &key, now),
                _ => verify(&method, &target, host, &body, &AccessKey::from_base64("b3RoZXI=").unwrap(), now),
            };
            proptest::prop_assert!(changed.is_err());
        }
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
}
