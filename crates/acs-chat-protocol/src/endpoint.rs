//! [`Endpoint`], [`ApiVersion`] and URL building: ids always become exactly one path segment.

use std::borrow::Cow;
use std::fmt;

use http::Uri;
#[cfg(test)]
use percent_encoding::NON_ALPHANUMERIC;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::Error;

/// Everything but RFC 3986 unreserved characters and `@` is encoded in a path segment, so an id
/// can never add a segment (`/`), a query (`?`) or a fragment (`#`). `:` is encoded (`19%3A…`)
/// the way the service itself writes thread ids in `Location` headers.
#[cfg(test)]
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// What is encoded in a query value we build (as [`QUERY_VALUE_KEPT`] does; the tests check they
/// agree).
#[cfg(test)]
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

/// Per thread: the last URI [`Endpoint::uri_for`] built, and a buffer to build the next one in.
struct Recent {
    uri: Option<Uri>,
    spare: String,
}

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = const {
        std::cell::RefCell::new(Recent {
            uri: None,
            spare: String::new(),
        })
    };
}

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
        let bad =
            |why: &str| Error::invalid_endpoint(format!("endpoint `{}` {why}", redact_url(url)));
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
        let port = effective_port(authority, https)
            // Port 0 is no destination: nothing listens there.
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("has an invalid port"))?;
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
        // The common case, a URI built from this endpoint: the same scheme and the very same
        // authority (compared case-insensitively). Anything else takes the full check below.
        let scheme = if self.https {
            &http::uri::Scheme::HTTPS
        } else {
            &http::uri::Scheme::HTTP
        };
        if uri.scheme() == Some(scheme)
            && uri.authority().is_some_and(|a| {
                // A URI built by `uri_for` shares this very authority's bytes: no need to
                // compare them.
                let (a, ours) = (a.as_str(), self.authority.as_str());
                std::ptr::eq(a, ours) || a.eq_ignore_ascii_case(ours)
            })
        {
            return true;
        }
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
        let Some(port) = effective_port(authority, https) else {
            return false;
        };
        https == self.https
            && authority.host().eq_ignore_ascii_case(&self.host)
            && port == self.port
    }

    /// [`Endpoint::is_same_origin`] as a typed error
    /// ([`ErrorKind::ForeignOrigin`](crate::ErrorKind::ForeignOrigin)): checked before any
    /// credential (a bearer token, an HMAC signature) is attached to a request for `uri`.
    pub fn check_origin(&self, uri: &Uri) -> Result<(), Error> {
        if self.is_same_origin(uri) {
            return Ok(());
        }
        // Host and port only: user info in the URI may hold a password.
        let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
        Err(Error::foreign_origin(format!(
            "refusing to send credentials to {}://{}{port} (the endpoint is {self})",
            uri.scheme_str().unwrap_or("?"),
            uri.host().unwrap_or("?"),
        )))
    }

    /// A string to build a path and query in, starting with this endpoint's prefix, with room
    /// for `extra` more bytes (see [`Endpoint::uri_for`]). The thread's spare buffer when it has
    /// one: what the last call to [`Endpoint::uri_for`] on this thread did not keep.
    pub(crate) fn start_path(&self, extra: usize) -> String {
        let mut pq = RECENT
            .try_with(|recent| std::mem::take(&mut recent.borrow_mut().spare))
            .unwrap_or_default();
        pq.reserve(self.prefix.len() + extra);
        pq.push_str(&self.prefix);
        pq
    }

    /// The URI for `path_and_query` (begun with [`Endpoint::start_path`], so it already holds
    /// the prefix), built from the pre-parsed scheme and authority: only the path and query
    /// are parsed, and the string becomes the URI's storage without a copy.
    ///
    /// The last URI built on each thread is kept: when the next one is the same (requests to one
    /// thread's messages, say), it is that URI again, cloned (two reference counts), instead of
    /// parsed, and the string becomes the thread's spare buffer for [`Endpoint::start_path`].
    pub(crate) fn uri_for(&self, mut path_and_query: String) -> Result<Uri, http::Error> {
        let scheme = if self.https {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        };
        let reused = RECENT.try_with(|recent| {
            let mut recent = recent.borrow_mut();
            let Recent { uri, spare } = &mut *recent;
            let uri = uri.as_ref().filter(|uri| {
                uri.path_and_query()
                    .is_some_and(|pq| pq.as_str() == path_and_query)
                    && uri.scheme() == Some(&scheme)
                    && uri.authority().is_some_and(|a| {
                        let (a, ours) = (a.as_str(), self.authority.as_str());
                        std::ptr::eq(a, ours) || a == ours
                    })
            })?;
            let uri = uri.clone();
            if spare.capacity() < path_and_query.capacity() {
                path_and_query.clear();
                std::mem::swap(spare, &mut path_and_query);
            }
            Some(uri)
        });
        if let Ok(Some(uri)) = reused {
            return Ok(uri);
        }
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme);
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(http::uri::PathAndQuery::try_from(path_and_query)?);
        let uri = Uri::from_parts(parts)?;
        let _ = RECENT.try_with(|recent| recent.borrow_mut().uri = Some(uri.clone()));
        Ok(uri)
    }

    /// `scheme://authority` + `path_and_query`, without the prefix (for server-relative links).
    pub(crate) fn origin_url(&self, path_and_query: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.authority, path_and_query)
    }
}

/// The port of `authority` (`host`, `host:` or `host:<digits>`), the scheme's default when it
/// has none; `None` when something else follows the host. `http` reads a port that is not a
/// number (`:x`, `:99999`, `:443*`) as no port at all, and lets text follow a bracketed host
/// (`[::1]x`): neither may fall back to the default port.
fn effective_port(authority: &http::uri::Authority, https: bool) -> Option<u16> {
    match authority.as_str().get(authority.host().len()..)? {
        "" | ":" => Some(if https { 443 } else { 80 }),
        rest => rest
            .strip_prefix(':')
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok()),
    }
}

/// `url` fit to be shown: user info and the values of query parameters and the fragment are
/// replaced with `***` (they can carry a password or a SAS signature), control and bidi
/// characters are escaped, and the result is bounded (256 characters, with the full size said).
///
/// ```
/// use acs_chat_protocol::redact_url;
/// assert_eq!(
///     redact_url("https://user:pass@host.example/x?sig=abc&se=2026"),
///     "https://***@host.example/x?sig=***&se=***"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, _)) => (rest, Some("***")),
        None => (url, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(url.len().min(300));
    let (scheme, after_scheme) = match rest.split_once("://") {
        Some((scheme, after)) => (Some(scheme), after),
        None => (None, rest),
    };
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    let authority_end = after_scheme.find('/').unwrap_or(after_scheme.len());
    let (authority, path) = after_scheme.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str("***@");
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) => {
                    out.push_str(name);
                    out.push_str("=***");
                }
                None => out.push_str(pair),
            }
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    let mut shown = String::with_capacity(out.len().min(300));
    let _ = crate::error::write_bounded(&mut shown, &out, 256);
    shown
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

/// Percent-encodes `id` as one path segment (what the operations do to every path parameter):
/// `/`, `?`, `#`, `%`, `:` and the other reserved bytes are escaped, and `.` and `..` are
/// encoded too, so that no server or proxy treats them as dot-segments.
pub fn encode_path_segment(id: &str) -> Cow<'_, str> {
    if let Some(encoded) = dot_segment(id) {
        return Cow::Borrowed(encoded);
    }
    if id.bytes().all(|b| SEGMENT_KEPT[usize::from(b)]) {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() + 8);
    push_encoded(&mut out, id, &SEGMENT_KEPT);
    Cow::Owned(out)
}

/// `.` and `..` encoded (percent-encoding leaves dots alone).
fn dot_segment(id: &str) -> Option<&'static str> {
    match id {
        "." => Some("%2E"),
        ".." => Some("%2E%2E"),
        _ => None,
    }
}

/// Appends `value`, percent-encoded as a query value, to `out`.
pub(crate) fn push_query_value(out: &mut String, value: &str) {
    push_encoded(out, value, &QUERY_VALUE_KEPT);
}

/// Appends `id`, percent-encoded as one path segment, to `out`: what
/// [`encode_path_segment`] returns, without a `String` of its own.
pub fn push_path_segment(out: &mut String, id: &str) {
    match dot_segment(id) {
        Some(encoded) => out.push_str(encoded),
        None => push_encoded(out, id, &SEGMENT_KEPT),
    }
}

/// The bytes [`SEGMENT`] leaves alone, as a table (see [`push_encoded`]).
const SEGMENT_KEPT: [bool; 256] = kept(b"-._~@");

/// The bytes [`QUERY_VALUE`] leaves alone, as a table.
const QUERY_VALUE_KEPT: [bool; 256] = kept(b"-._~:@");

/// ASCII letters and digits, and `extra`: what a `NON_ALPHANUMERIC.remove(..)` set keeps.
const fn kept(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// What `out.extend(utf8_percent_encode(s, set))` does for the set whose kept bytes are `kept`,
/// in one pass over the bytes, copying the runs that need no escape as they are: several times
/// cheaper than the iterator, and every request encodes its ids.
fn push_encoded(out: &mut String, s: &str, kept: &[bool; 256]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(s.len());
    let mut run = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if kept[usize::from(b)] {
            continue;
        }
        // The run holds kept (ASCII) bytes only, so both ends are character boundaries.
        if run < i {
            out.push_str(&s[run..i]);
        }
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
        run = i + 1;
    }
    if run < s.len() {
        out.push_str(&s[run..]);
    }
}

/// Makes a service-provided link sendable without re-encoding it: only bytes that cannot appear
/// in a URI at all (controls, space, `"<>\^`{|}`, non-ASCII) are percent-encoded.
pub(crate) fn requote(link: &str) -> Cow<'_, str> {
    utf8_percent_encode(link, NOT_IN_URI).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass encoder writes what `percent_encoding` writes with the same set.
        #[test]
        fn push_encoded_is_utf8_percent_encode(s in "\\PC*|[ -~]*|.*") {
            for (set, kept) in [(SEGMENT, &SEGMENT_KEPT), (QUERY_VALUE, &QUERY_VALUE_KEPT)] {
                let mut ours = String::from("x");
                push_encoded(&mut ours, &s, kept);
                let theirs = format!("x{}", utf8_percent_encode(&s, set));
                proptest::prop_assert_eq!(ours, theirs);
            }
        }

        /// `encode_path_segment` (borrowing when nothing needs escaping) and
        /// `push_path_segment` write the segment set's encoding, dot segments apart.
        #[test]
        fn encode_path_segment_is_the_segment_set(s in "\\PC*|[ -~]*|[a-z.]{0,3}") {
            let expected = match s.as_str() {
                "." => "%2E".to_owned(),
                ".." => "%2E%2E".to_owned(),
                _ => utf8_percent_encode(&s, SEGMENT).to_string(),
            };
            let encoded = encode_path_segment(&s);
            proptest::prop_assert_eq!(&*encoded, expected.as_str());
            proptest::prop_assert_eq!(matches!(encoded, Cow::Borrowed(_)), expected == s || s == "." || s == "..");
            let mut pushed = String::from("x");
            push_path_segment(&mut pushed, &s);
            proptest::prop_assert_eq!(pushed, format!("x{expected}"));
        }
    }

    #[test]
    fn push_encoded_matches_the_sets_byte_by_byte() {
        for c in (0..=0x7f_u8).map(char::from).chain(['é', '€', '😀']) {
            let s = c.to_string();
            for (set, kept) in [(SEGMENT, &SEGMENT_KEPT), (QUERY_VALUE, &QUERY_VALUE_KEPT)] {
                let mut ours = String::new();
                push_encoded(&mut ours, &s, kept);
                assert_eq!(ours, utf8_percent_encode(&s, set).to_string(), "{c:?}");
            }
        }
    }

    #[test]
    fn errors_never_echo_user_info_or_query_values() {
        for url in [
            "https://user:hunter2@contoso.example",
            "https://contoso.example/?sig=hunter2",
            "https://contoso.example/x?a=1&sig=hunter2#hunter2",
            "ftp://user:hunter2@contoso.example/",
            "contoso.example?sig=hunter2",
        ] {
            let err = Endpoint::parse(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{url}: {err}");
            assert!(err.contains("***"), "{url}: {err}");
        }
        assert_eq!(
            redact_url("https://a:b@h.example:8443/p?x=1&flag&sig=2#frag"),
            "https://***@h.example:8443/p?x=***&flag&sig=***#***"
        );
        assert_eq!(redact_url("https://h.example/p"), "https://h.example/p");
        let long = format!("https://h.example/{}", "a".repeat(10_000));
        assert!(redact_url(&long).len() < 400);
        assert_eq!(
            redact_url("https://h.example/\u{202e}"),
            "https://h.example/\\u{202e}"
        );
    }

    #[test]
    fn endpoint_forms() {
        let e = Endpoint::parse("https://Contoso.Communication.Azure.com/").unwrap();
        assert_eq!(e.to_string(), "https://contoso.communication.azure.com");
        assert_eq!(e.port(), 443);
        let e = Endpoint::parse("https://gw.example.com:8443/acs/chat/").unwrap();
        assert_eq!(e.path_prefix(), "/acs/chat");
        let mut pq = e.start_path(0);
        pq.push_str("/chat/threads?a=b");
        assert_eq!(
            e.uri_for(pq).unwrap(),
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

    /// Found by the `endpoint` fuzz target: `http` reads a port that is not a number as no
    /// port (and lets text follow a bracketed host), and the endpoint went to the default port
    /// instead.
    #[test]
    fn a_port_that_is_not_a_number_is_refused() {
        for bad in [
            "https://h.example:x",
            "https://h.example:99999",
            "https://h.example:-1",
            "https://h.example:1x/p",
            "http://[::1]:x",
            "http://[::1]x:80",
            "https://[]50e:8960",
            "https://h.example:+1",
            "https://h.example:0",
            "http://127.0.0.1:00",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid port"), "{bad}: {err}");
        }
        assert_eq!(Endpoint::parse("https://h.example:").unwrap().port(), 443);
        assert_eq!(Endpoint::parse("http://[::1]:8080").unwrap().port(), 8080);
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
        // A port and plain http (the loopback emulator).
        let e = Endpoint::parse("http://127.0.0.1:8080/prefix").unwrap();
        for u in ["http://127.0.0.1:8080/x", "HTTP://127.0.0.1:8080"] {
            assert!(e.is_same_origin(&u.parse().unwrap()), "{u}");
        }
        let e2 = Endpoint::parse("https://contoso.example").unwrap();
        let err = e2
            .check_origin(&"https://user:secret@evil.example:8443/x".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ForeignOrigin);
        assert_eq!(
            err.to_string(),
            "refusing to send credentials to https://evil.example:8443 \
             (the endpoint is https://contoso.example)"
        );
        assert!(
            e2.check_origin(&"https://contoso.example/x".parse().unwrap())
                .is_ok()
        );
        for u in [
            "https://127.0.0.1:8080/x",
            "http://127.0.0.1/x",
            "http://127.0.0.1:80/x",
            "http://localhost:8080/x",
            "http://u@127.0.0.1:8080/x",
        ] {
            assert!(!e.is_same_origin(&u.parse().unwrap()), "{u}");
        }
    }

    /// Found by the `next_link` fuzz target: a link whose port is not a number
    /// (`:443*`) counted as the default port, and was followed.
    #[test]
    fn a_port_that_is_not_a_number_is_another_origin() {
        let e = Endpoint::parse("https://contoso.example").unwrap();
        for u in [
            "https://contoso.example:443*/x",
            "https://contoso.example:x/x",
            "https://contoso.example:99999/x",
            "https://contoso.example:+443/x",
        ] {
            assert!(!e.is_same_origin(&u.parse().unwrap()), "{u}");
        }
        assert!(e.is_same_origin(&"https://contoso.example:/x".parse().unwrap()));
    }

    fn segment(id: &str) -> String {
        let mut out = String::new();
        push_path_segment(&mut out, id);
        out
    }

    #[test]
    fn path_segments() {
        assert_eq!(segment("19:abc@thread.v2"), "19%3Aabc@thread.v2");
        assert_eq!(segment("1/2?x#y"), "1%2F2%3Fx%23y");
        assert_eq!(segment("."), "%2E");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("..."), "...");
        assert_eq!(segment("a b%c"), "a%20b%25c");
        assert_eq!(segment("-._~"), "-._~");
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
