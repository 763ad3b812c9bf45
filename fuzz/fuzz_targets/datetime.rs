//! `DateTime::parse` of any string: never a panic; what parses is in years 0000..=9999, formats
//! back (trimmed, fixed-digit and JSON) to text that re-parses to the same instant.
#![no_main]

use acs_chat_fuzz::assert_bounded;
use acs_chat_protocol::DateTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let t = match DateTime::parse(text) {
        Ok(t) => t,
        Err(e) => {
            assert_bounded("a DateTime error", &e.to_string());
            return;
        }
    };
    let shown = t.to_string();
    assert_eq!(DateTime::parse(&shown), Ok(t), "{text:?} shown as {shown}");
    assert_eq!(DateTime::parse(&t.to_rfc3339_fixed(9)), Ok(t), "{text:?}");
    // Fewer digits truncate: never later, less than a millisecond earlier with 3 digits.
    let millis = DateTime::parse(&t.to_rfc3339_fixed(3)).expect("3 digits re-parse");
    assert!(millis <= t && t.saturating_duration_since(millis).as_nanos() < 1_000_000);
    let json = serde_json::to_string(&t).expect("a DateTime serializes");
    assert_eq!(
        serde_json::from_str::<DateTime>(&json).ok(),
        Some(t),
        "{json}"
    );
    assert_eq!(
        DateTime::from_unix_timestamp_nanos(t.unix_timestamp_nanos()),
        Ok(t)
    );
});
