//! `ConnectionString::parse` of any string: never a panic; its error and its `Debug` never show
//! the access key and are bounded; what parses writes back (`to_secret_string`) to text that
//! parses to the same connection string.
#![no_main]

use std::sync::LazyLock;

use acs_chat_fuzz::{assert_bounded, assert_hidden};
use acs_chat_protocol::identity::ConnectionString;
use libfuzzer_sys::fuzz_target;

/// Every message `parse` has (one input for each way to fail; the endpoint's own errors quote
/// the endpoint, so only their fixed words matter), and a `Debug`.
static KNOWN: LazyLock<Vec<String>> = LazyLock::new(|| {
    let key = ";accesskey=cHc=";
    let mut inputs = vec![
        "x".to_owned(),
        "accesskey=cHc=".to_owned(),
        "endpoint=https://h".to_owned(),
        "endpoint=https://h;accesskey=!".to_owned(),
        "endpoint=https://h;accesskey=".to_owned(),
    ];
    for endpoint in [
        "h",
        "ftp://h",
        "https://h?x",
        "https://u@h",
        "https://h:x",
        "/x",
    ] {
        inputs.push(format!("endpoint={endpoint}{key}"));
    }
    let mut known: Vec<String> = inputs
        .iter()
        .map(|t| ConnectionString::parse(t).expect_err(t).to_string())
        .collect();
    known.push(format!(
        "{:?}",
        ConnectionString::parse("endpoint=https://h;accesskey=cHc=")
    ));
    known
});

/// The access key of `text` as the parser finds it (the last `accesskey=` pair), and whether
/// it occurs elsewhere in `text` (then an error quoting the endpoint may show it by chance).
fn access_key(text: &str) -> Option<(&str, bool)> {
    let pairs: Vec<&str> = text.split(';').collect();
    let (i, key) = pairs.iter().enumerate().rev().find_map(|(i, pair)| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("accesskey")
            .then(|| (i, value.trim()))
    })?;
    let elsewhere = pairs
        .iter()
        .enumerate()
        .any(|(j, pair)| j != i && pair.contains(key));
    Some((key, elsewhere))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = access_key(text);
    match ConnectionString::parse(text) {
        Ok(connection) => {
            let debug = format!("{connection:?}");
            if let Some((key, false)) = key {
                assert_hidden("ConnectionString's Debug", &debug, key, 8, &KNOWN);
            }
            let written = connection.to_secret_string();
            let again = ConnectionString::parse(&written)
                .unwrap_or_else(|e| panic!("{text:?} was written as {written:?}: {e}"));
            assert!(again == connection, "{text:?} was written as {written:?}");
        }
        Err(e) => {
            let shown = e.to_string();
            assert_bounded("a connection string error", &shown);
            if let Some((key, false)) = key {
                assert_hidden("a connection string error", &shown, key, 8, &KNOWN);
            }
        }
    }
});
