//! [`Endpoint`], [`ApiVersion`] and URL building: ids always become exactly one path segment.

use std::borrow::Cow;
use std::fmt;

use http::Uri;
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Error;

/// Everything but RFC 3986 unreserved characters and `@` is encoded in a path segment, so an id
/// can never add a segment (`/`), a query (`?`) or a fragment (`#`). `:` is encoded (`19%3A…`)
/// the way the service itself writes thread ids in `Location` headers.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// What is encoded in a query value we build.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

/// Bytes that cannot appear in a request target at all. A nextLink is sent verbatim except for
/// these (a space in an odd `startTime` becomes `%20`); existing escapes are never touched.
const NOT_IN_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The ACS resource endpoint, e.g. `https://contoso.communication.azure.com`.
///
/// It may carry a trailing slash or a path prefix (for a proxy or a gateway); it may not carry
/// user info, a query or a fragment. The scheme is `https`, or `http` for a loopback emulator
/// (whether plain http is allowed is the transport's decision).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    https: bool,
    /// Lower-cased, parsed once, so request URIs are built without reparsing it.
    authority: http::uri::Authority,
    host: String,
    port: u16,
    prefix: String,
}

impl Endpoint {
    /// Parses and validates an endpoint URL.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid_endpoint(format!("endpoint `{url}` {why}"));
        if url.contains(['?', '#']) {
            return Err(bad("must not have a query or a fragment"));
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| bad("is not a valid absolute URL"))?;
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            Some(_) => return Err(bad("must use https (or http for a local emulator)")),
            None => {
                return Err(bad(
                    "must be an absolute URL such as https://<resource>.communication.azure.com",
                ));
            }
        };
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not contain user info"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_string();
        let lowered = authority.as_str().to_ascii_lowercase();
        let authority = http::uri::Authority::try_from(lowered.as_str())
            .map_err(|_| bad("has an invalid host"))?;
        Ok(Self {
            https,
            authority,
            host,
            port,
            prefix,
        })
    }

    /// Whether the endpoint uses TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The host, lower-cased (an IPv6 literal keeps its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The effective port (443 / 80 when not written).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix without a trailing slash (empty for most endpoints).
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `uri` has this endpoint's origin: the same scheme, host and effective port.
    pub fn is_same_origin(&self, uri: &Uri) -> bool {
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return false,
        };
        let Some(authority) = uri.authority() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        https == self.https
            && authority.host().eq_ignore_ascii_case(&self.host)
            && port == self.port
    }

    /// The URI for `path_and_query` (which starts with `/`) under this endpoint and its prefix,
    /// built from the pre-parsed scheme and authority: only the path and query are parsed.
    pub(crate) fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let mut pq = String::with_capacity(self.prefix.len() + path_and_query.len());
        pq.push_str(&self.prefix);
        pq.push_str(path_and_query);
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(if self.https {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        });
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(http::uri::PathAndQuery::try_from(pq)?);
        Ok(Uri::from_parts(parts)?)
    }

    /// `scheme://authority` + `path_and_query`, without the prefix (for server-relative links).
    pub(crate) fn origin_url(&self, path_and_query: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.authority, path_and_query)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme(), self.authority, self.prefix)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `api-version` query parameter. Any string is accepted; the known ones have constants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiVersion(Cow<'static, str>);

impl ApiVersion {
    /// `2025-03-15`, the newest stable version and the default.
    pub const V2025_03_15: ApiVersion = ApiVersion(Cow::Borrowed("2025-03-15"));
    /// `2024-03-15-preview`: adds the image operations and attachments on send/update.
    pub const V2024_03_15_PREVIEW: ApiVersion = ApiVersion(Cow::Borrowed("2024-03-15-preview"));
    /// `2024-03-07`, the version the Python SDK sends.
    pub const V2024_03_07: ApiVersion = ApiVersion(Cow::Borrowed("2024-03-07"));

    /// `2023-10-01`, the Identity API version the official SDKs send (see `identity`).
    pub const V2023_10_01_IDENTITY: ApiVersion = ApiVersion(Cow::Borrowed("2023-10-01"));

    /// Any other version string.
    pub fn new(version: impl Into<Cow<'static, str>>) -> Self {
        Self(version.into())
    }

    /// The version string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::V2025_03_15
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiVersion({})", self.0)
    }
}

impl From<&'static str> for ApiVersion {
    fn from(value: &'static str) -> Self {
        Self(Cow::Borrowed(value))
    }
}

impl From<String> for ApiVersion {
    fn from(value: String) -> Self {
        Self(Cow::Owned(value))
    }
}

/// Percent-encodes one path segment. `.` and `..` are encoded too, so that no server or proxy
/// treats them as dot-segments.
pub fn encode_path_segment(id: &str) -> Cow<'_, str> {
    match id {
        "." => Cow::Borrowed("%2E"),
        ".." => Cow::Borrowed("%2E%2E"),
        _ => utf8_percent_encode(id, SEGMENT).into(),
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode_query_value(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, QUERY_VALUE).into()
}

/// Fills a path template (`/chat/threads/{chatThreadId}`) with encoded, non-empty ids.
pub(crate) fn fill_path(template: &str, params: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| Error::invalid_argument(format!("bad path template {template}")))?;
        let name = &rest[start + 1..end];
        let value = params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| Error::invalid_argument(format!("missing path parameter {name}")))?;
        if value.is_empty() {
            return Err(Error::invalid_argument(format!("{name} must not be empty")));
        }
        out.push_str(&encode_path_segment(value));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Makes a service-provided link sendable without re-encoding it: only bytes that cannot appear
/// in a URI at all (controls, space, `"<>\^`{|}`, non-ASCII) are percent-encoded.
pub(crate) fn requote(link: &str) -> Cow<'_, str> {
    utf8_percent_encode(link, NOT_IN_URI).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let e = Endpoint::parse("https://Contoso.Communication.Azure.com/").unwrap();
        assert_eq!(e.to_string(), "https://contoso.communication.azure.com");
        assert_eq!(e.port(), 443);
        let e = Endpoint::parse("https://gw.example.com:8443/acs/chat/").unwrap();
        assert_eq!(e.path_prefix(), "/acs/chat");
        assert_eq!(
            e.uri("/chat/threads?a=b").unwrap(),
            "https://gw.example.com:8443/acs/chat/chat/threads?a=b"
        );
        let e = Endpoint::parse("http://127.0.0.1:10500").unwrap();
        assert!(!e.is_https());
        for bad in [
            "",
            "contoso.communication.azure.com",
            "ftp://x.example",
            "https://user:pw@x.example",
            "https://x.example/?a=b",
            "https://x.example/#f",
            "https:///path",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin() {
        let e = Endpoint::parse("https://contoso.example").unwrap();
        let yes = [
            "https://contoso.example/x",
            "https://CONTOSO.example:443/x",
            "HTTPS://contoso.example",
        ];
        for u in yes {
            assert!(e.is_same_origin(&u.parse().unwrap()), "{u}");
        }
        let no = [
            "http://contoso.example/x",
            "https://contoso.example:444/x",
            "https://evil.example/x",
            "https://contoso.example.evil.example/x",
            "/relative",
            "https://contoso.example@evil.example/x",
        ];
        for u in no {
            assert!(!e.is_same_origin(&u.parse().unwrap()), "{u}");
        }
    }

    #[test]
    fn path_segments() {
        assert_eq!(
            fill_path(
                "/chat/threads/{chatThreadId}/messages/{chatMessageId}",
                &[
                    ("chatThreadId", "19:abc@thread.v2"),
                    ("chatMessageId", "1/2?x#y")
                ]
            )
            .unwrap(),
            "/chat/threads/19%3Aabc@thread.v2/messages/1%2F2%3Fx%23y"
        );
        assert_eq!(fill_path("/t/{id}", &[("id", "..")]).unwrap(), "/t/%2E%2E");
        assert!(fill_path("/t/{id}", &[("id", "")]).is_err());
    }

    #[test]
    fn requote_keeps_escapes_and_reserved() {
        assert_eq!(
            requote(
                "https://h/chat/threads/19:a@thread.v2/messages?startTime=1/1/1970 12:00:00 AM +00:00&syncState=a%2Bb"
            ),
            "https://h/chat/threads/19:a@thread.v2/messages?startTime=1/1/1970%2012:00:00%20AM%20+00:00&syncState=a%2Bb"
        );
    }
}
