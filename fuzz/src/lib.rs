//! What the fuzz targets share: the bound every error text must keep, whatever the input.

use acs_chat_protocol::{BODY_SNIPPET_LIMIT, DISPLAY_TEXT_LIMIT};

/// No error's `Display` (nor a redacted URL) may be this long or longer, whatever the input:
/// a hostile response, link or command-line argument must not flood a log or a terminal.
pub const DISPLAY_BOUND: usize = 4096;

/// The bound of a service error's `Display` (`Error::from_response`): the service's error code,
/// message and target ([`DISPLAY_TEXT_LIMIT`] bytes each, escapes included) or the body snippet
/// ([`BODY_SNIPPET_LIMIT`]), the request id (128), each with a note of the full size when cut,
/// and the fixed text around them: under [`DISPLAY_BOUND`].
pub const SERVICE_DISPLAY_BOUND: usize =
    max(3 * DISPLAY_TEXT_LIMIT, BODY_SNIPPET_LIMIT) + 128 + 512;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// Panics when `text` is [`DISPLAY_BOUND`] bytes or longer.
pub fn assert_bounded(what: &str, text: &str) {
    assert_bounded_by(what, text, DISPLAY_BOUND);
}

/// Panics when `text` is `bound` bytes or longer.
pub fn assert_bounded_by(what: &str, text: &str, bound: usize) {
    assert!(
        text.len() < bound,
        "{what} is {} bytes (bound {bound}): {}…",
        text.len(),
        text.chars().take(200).collect::<String>()
    );
}

/// Panics when `text` contains `secret`: only for secrets of at least `min` bytes (shorter
/// ones occur in any text by chance) that are not part of one of the `known` texts (the
/// fixed messages of the parser under test: the fuzzer finds them and offers them as input).
pub fn assert_hidden(what: &str, text: &str, secret: &str, min: usize, known: &[String]) {
    if secret.len() >= min && !known.iter().any(|k| k.contains(secret)) {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret:?}: {text}"
        );
    }
}
