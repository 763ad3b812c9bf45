//! [`AccessToken`]: a user access token and its expiry, read from the JWT's `exp` claim.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use crate::{DateTime, Error};

const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An ACS user access token with its expiry.
///
/// The token is a secret: `Debug` and `Display` never show it; only [`AccessToken::secret`]
/// hands it out, for the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq)]
struct Inner {
    token: String,
    expires_on: DateTime,
    /// `Bearer <token>`, built once (sensitive); `None` when the token has bytes a header cannot
    /// carry, which [`crate::authorize_token`] reports.
    bearer: Option<HeaderValue>,
}

impl AccessToken {
    /// A token with a known expiry.
    pub fn new(token: impl Into<String>, expires_on: DateTime) -> Self {
        let token = token.into();
        let bearer = HeaderValue::try_from(format!("Bearer {token}"))
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Self {
            inner: Arc::new(Inner {
                token,
                expires_on,
                bearer,
            }),
        }
    }

    /// Reads the expiry from the JWT's `exp` claim (seconds since the epoch). The official SDKs
    /// read only that claim; the signature is not (and cannot be) checked by a client.
    ///
    /// Fails with [`ErrorKind::InvalidToken`](crate::ErrorKind::InvalidToken) when the token is not
    /// three dot-separated parts, the payload is not base64 JSON, or `exp` is missing or not a number.
    /// The message never contains the token.
    pub fn from_jwt(token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();
        let expires_on = jwt_expiry(&token)?;
        Ok(Self::new(token, expires_on))
    }

    /// The `Authorization` header value (`Bearer <token>`, marked sensitive), built once.
    pub(crate) fn bearer_header(&self) -> Option<&HeaderValue> {
        self.inner.bearer.as_ref()
    }

    /// The token itself, for the `Authorization` header.
    pub fn secret(&self) -> &str {
        &self.inner.token
    }

    /// When the token expires.
    pub fn expires_on(&self) -> DateTime {
        self.inner.expires_on
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: DateTime) -> bool {
        self.inner.expires_on <= now
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.inner.expires_on)
            .finish()
    }
}

fn jwt_expiry(token: &str) -> Result<DateTime, Error> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::invalid_token(
            "the access token is not a JWT (three dot-separated parts)",
        ));
    };
    let bytes = URL_SAFE_LENIENT
        .decode(payload)
        .or_else(|_| STANDARD_LENIENT.decode(payload))
        .map_err(|_| Error::invalid_token("the access token's payload is not base64"))?;
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<serde_json::Number>,
    }
    let claims: Claims = serde_json::from_slice(&bytes)
        .map_err(|_| Error::invalid_token("the access token's payload is not a JSON object"))?;
    let exp = claims
        .exp
        .ok_or_else(|| Error::invalid_token("the access token has no `exp` claim"))?;
    let seconds = exp
        .as_i64()
        .or_else(|| exp.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or_else(|| Error::invalid_token("the access token's `exp` claim is not a number"))?;
    DateTime::from_unix_timestamp(seconds)
        .map_err(|_| Error::invalid_token("the access token's `exp` claim is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The token the official SDKs' own tests use: {"exp": 32503680000}.
    const SDK_TEST_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjMyNTAzNjgwMDAwfQ.9i7FNNHHJT8cOzo-yrAUJyBSfJ-tPPk2emcHavOEpWc";

    #[test]
    fn reads_exp() {
        let t = AccessToken::from_jwt(SDK_TEST_TOKEN).unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 32_503_680_000);
        assert!(!format!("{t:?}").contains("eyJ"));
    }

    #[test]
    fn malformed_tokens_are_errors_without_the_token() {
        for bad in [
            "abc",
            "a.b",
            "a.b.c",
            "a.e30.c",
            "a.eyJleHAiOiJ4In0.c",
            "a.b.c.d",
        ] {
            let e = AccessToken::from_jwt(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidToken, "{bad}");
            assert!(!e.to_string().contains(bad) || bad.len() < 4, "{e}");
        }
    }
}
