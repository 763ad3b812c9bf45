//! [`AccessKey`] and [`ConnectionString`]: the resource's secret, as the official SDKs read it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Endpoint, Error};

pub(crate) type HmacSha256 = Hmac<Sha256>;

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

    pub(crate) fn mac(&self) -> HmacSha256 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
