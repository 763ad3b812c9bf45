//! `AccessToken::from_jwt` of any string: never a panic; the error is bounded and never shows
//! the token nor its parts; a token that parses hides itself in `Debug` and expires when its
//! `exp` says.
#![no_main]

use std::sync::LazyLock;

use acs_chat_fuzz::{assert_bounded, assert_hidden};
use acs_chat_protocol::AccessToken;
use libfuzzer_sys::fuzz_target;

/// Every message `from_jwt` has (one input for each way to fail).
static KNOWN: LazyLock<Vec<String>> = LazyLock::new(|| {
    [
        "a.b",                    // not three parts
        "a.!.c",                  // not base64
        "a.YQ.c",                 // not JSON
        "a.e30.c",                // no exp
        "a.eyJleHAiOiJ4In0.c",    // exp not a number
        "a.eyJleHAiOjFlMzAwfQ.c", // out of range
    ]
    .iter()
    .map(|t| AccessToken::from_jwt(*t).expect_err(t).to_string())
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match AccessToken::from_jwt(token) {
        Ok(parsed) => {
            assert_eq!(parsed.secret(), token);
            let debug = format!("{parsed:?}");
            // The same expiry, another token: what Debug shows anyway.
            let twin = format!("{:?}", AccessToken::new("x", parsed.expires_on()));
            for part in token.split('.') {
                assert_hidden(
                    "AccessToken's Debug",
                    &debug,
                    part,
                    8,
                    std::slice::from_ref(&twin),
                );
            }
            assert!(parsed.is_expired(parsed.expires_on()));
        }
        Err(e) => {
            let shown = e.to_string();
            assert_bounded("a token error", &shown);
            assert_hidden("a token error", &shown, token, 8, &KNOWN);
            for part in token.split('.') {
                assert_hidden("a token error", &shown, part, 8, &KNOWN);
            }
        }
    }
});
