//! Following a nextLink (`NextPage::build_request`) against a fixed endpoint: never a panic; a
//! link is followed only on the endpoint's scheme, host and port, without user info; a refusal
//! is bounded and never shows the link's user-info password.
#![no_main]

use std::sync::LazyLock;

use acs_chat_fuzz::{assert_bounded, assert_hidden};
use acs_chat_protocol::operations::ListChatMessages;
use acs_chat_protocol::{ApiVersion, Endpoint, Operation, RequestContext};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// The fixed words of every refusal (one link for each way to fail).
static KNOWN: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut known = Vec::new();
    for endpoint in [DEFAULT, LOCAL] {
        let ctx = context(endpoint);
        for link in ["http://[", "x", "https://e.example/"] {
            let refused = ListChatMessages::next_page(link).build_request(&ctx);
            known.push(refused.expect_err(link).to_string());
        }
    }
    known
});

const DEFAULT: &str = "https://contoso.communication.azure.com";
const LOCAL: &str = "http://127.0.0.1:10500/prefix";

fn context(endpoint: &str) -> RequestContext {
    let endpoint = Endpoint::parse(endpoint).expect("a valid endpoint");
    RequestContext::new(endpoint, ApiVersion::default())
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The emulator-like endpoint (plain http, a port, a path prefix) instead of the default.
    local: bool,
    link: String,
}

/// The user-info password of `link`, when it has one, and whether it occurs elsewhere in it.
fn password(link: &str) -> Option<(&str, bool)> {
    let (_, after) = link.split_once("://")?;
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    let (user_info, _) = authority.rsplit_once('@')?;
    let (_, password) = user_info.split_once(':')?;
    // With `@` or `:` in it, where the password ends is a matter of reading.
    if password.contains(['@', ':']) {
        return None;
    }
    Some((password, link.matches(password).count() > 1))
}

fuzz_target!(|input: Input| {
    let (endpoint, scheme, host, port) = if input.local {
        (LOCAL, "http", "127.0.0.1", 10500)
    } else {
        (DEFAULT, "https", "contoso.communication.azure.com", 443)
    };
    let ctx = context(endpoint);
    match ListChatMessages::next_page(input.link.as_str()).build_request(&ctx) {
        Ok(request) => {
            let uri = request.uri();
            let authority = uri.authority().expect("an absolute URI").as_str();
            // The endpoint's host, then nothing, `:` or `:<port>`: no user info, no odd port.
            let default = if scheme == "https" { 443 } else { 80 };
            let written_port = match authority.get(host.len()..) {
                Some("" | ":") => Some(default),
                Some(rest) => rest
                    .strip_prefix(':')
                    .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|digits| digits.parse::<u16>().ok()),
                None => None,
            };
            assert!(
                uri.scheme_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                    && authority
                        .get(..host.len())
                        .is_some_and(|h| h.eq_ignore_ascii_case(host))
                    && written_port == Some(port),
                "{:?} was followed to {uri}",
                input.link
            );
            assert_eq!(request.method(), http::Method::GET);
            assert!(request.headers().get(http::header::AUTHORIZATION).is_none());
        }
        Err(e) => {
            let shown = e.to_string();
            assert_bounded("a nextLink error", &shown);
            if let Some((password, false)) = password(&input.link) {
                assert_hidden("a nextLink error", &shown, password, 8, &KNOWN);
            }
        }
    }
});
