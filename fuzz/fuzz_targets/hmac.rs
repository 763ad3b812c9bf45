//! The emulator's HMAC-SHA256 request verification (`hmac_auth::verify_request`, public) on any
//! method, target, host, headers and body: never a panic. A request signed by the client side
//! (`identity::sign_request`) verifies; changing any signed part of it (method, target, host,
//! body, key, a signed header) or moving the clock past the allowed skew makes it fail; other
//! headers do not matter.
#![no_main]

use std::time::Duration;

use acs_chat_emulator::DEV_ACCESS_KEY;
use acs_chat_emulator::hmac_auth::{MAX_CLOCK_SKEW, verify_request};
use acs_chat_protocol::DateTime;
use acs_chat_protocol::identity::{AccessKey, sign_request};
use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: Verb,
    target: String,
    host: String,
    body: &'a [u8],
    /// The access key's bytes; the development key when empty.
    key: &'a [u8],
    /// Seconds after 2023-11-14T22:13:20Z.
    at: u32,
    case: Case<'a>,
}

#[derive(Arbitrary, Debug)]
enum Verb {
    Get,
    Post,
    Delete,
    Patch,
    Other(String),
}

impl Verb {
    fn method(&self) -> Option<Method> {
        match self {
            Self::Get => Some(Method::GET),
            Self::Post => Some(Method::POST),
            Self::Delete => Some(Method::DELETE),
            Self::Patch => Some(Method::PATCH),
            Self::Other(m) => Method::from_bytes(m.as_bytes()).ok(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Case<'a> {
    /// Any headers.
    Headers(Vec<(String, &'a [u8])>),
    /// Signed by the client side, then changed (or not).
    Signed(Option<Change<'a>>),
}

#[derive(Arbitrary, Debug)]
enum Change<'a> {
    Method(Verb),
    Target(String),
    Host(String),
    Body(&'a [u8]),
    /// Flip one bit of the key (byte index, bit).
    Key(u16, u8),
    /// Verify this many seconds later (or earlier).
    Clock(i32),
    /// Flip bits of one byte of a signed header (0 Authorization, 1 x-ms-date,
    /// 2 x-ms-content-sha256): (header, byte index, mask).
    Corrupt(u8, u16, u8),
    /// Drop a signed header.
    Drop(u8),
    /// Add or replace a header that is not signed.
    Unsigned(String, &'a [u8]),
}

const SIGNED: [&str; 3] = ["authorization", "x-ms-date", "x-ms-content-sha256"];

fn key_from(bytes: &[u8]) -> AccessKey {
    if bytes.is_empty() {
        AccessKey::from_base64(DEV_ACCESS_KEY).expect("the development key")
    } else {
        AccessKey::from_base64(&STANDARD.encode(bytes)).expect("non-empty base64 is a key")
    }
}

fuzz_target!(|input: Input<'_>| {
    let Some(method) = input.method.method() else {
        return;
    };
    let now = DateTime::from_unix_timestamp(1_700_000_000 + i64::from(input.at)).expect("in range");
    let key = key_from(input.key);
    let verify = |method: &Method,
                  target: &str,
                  host: &str,
                  headers: &HeaderMap,
                  body: &[u8],
                  key: &AccessKey,
                  now: DateTime| {
        verify_request(
            method,
            target,
            host,
            headers,
            body,
            key,
            now,
            MAX_CLOCK_SKEW,
        )
    };

    let change = match input.case {
        Case::Headers(headers) => {
            let mut map = HeaderMap::new();
            for (name, value) in &headers {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_bytes(value))
                {
                    map.append(n, v);
                }
            }
            let _ = verify(
                &method,
                &input.target,
                &input.host,
                &map,
                input.body,
                &key,
                now,
            );
            return;
        }
        Case::Signed(change) => change,
    };

    let Ok(mut request) = Request::builder()
        .method(method.clone())
        .uri(format!("https://{}{}", input.host, input.target))
        .body(Bytes::copy_from_slice(input.body))
    else {
        return;
    };
    if sign_request(&mut request, &key, now).is_err() {
        return;
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let Some(host) = request.uri().authority().map(|a| a.as_str().to_owned()) else {
        return;
    };
    let (mut method, mut target, mut host, mut headers, mut body, mut key, mut at) = (
        method,
        target,
        host,
        request.headers().clone(),
        request.body().to_vec(),
        key,
        now,
    );
    let expect_ok = match change {
        None => true,
        Some(Change::Method(verb)) => {
            let Some(m) = verb.method() else { return };
            let same = m.as_str().eq_ignore_ascii_case(method.as_str());
            method = m;
            same
        }
        Some(Change::Target(t)) => {
            let same = t == target;
            target = t;
            same
        }
        Some(Change::Host(h)) => {
            let same = h == host;
            host = h;
            same
        }
        Some(Change::Body(b)) => {
            let same = b == body;
            body = b.to_vec();
            same
        }
        Some(Change::Key(index, bit)) => {
            let mut bytes = STANDARD.decode(key.to_base64()).expect("base64");
            let i = usize::from(index) % bytes.len();
            bytes[i] ^= 1 << (bit % 8);
            key = key_from(&bytes);
            false
        }
        Some(Change::Clock(seconds)) => {
            let d = Duration::from_secs(u64::from(seconds.unsigned_abs()));
            at = if seconds < 0 {
                now.checked_sub(d)
            } else {
                now.checked_add(d)
            }
            .expect("in range");
            d <= MAX_CLOCK_SKEW
        }
        Some(Change::Corrupt(which, index, mask)) => {
            let name = SIGNED[usize::from(which) % SIGNED.len()];
            let mut value = headers[name].as_bytes().to_vec();
            let i = usize::from(index) % value.len();
            value[i] ^= mask;
            let Ok(value) = HeaderValue::from_bytes(&value) else {
                return;
            };
            headers.insert(name, value);
            mask == 0
        }
        Some(Change::Drop(which)) => {
            headers.remove(SIGNED[usize::from(which) % SIGNED.len()]);
            false
        }
        Some(Change::Unsigned(name, value)) => {
            let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::from_bytes(value))
            else {
                return;
            };
            if SIGNED.contains(&name.as_str()) {
                return;
            }
            headers.insert(name, value);
            true
        }
    };
    let result = verify(&method, &target, &host, &headers, &body, &key, at);
    assert_eq!(result.is_ok(), expect_ok, "{result:?}");
});
