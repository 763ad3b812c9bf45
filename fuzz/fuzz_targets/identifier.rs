//! Communication identifiers: any string as a raw id (`from_raw_id(x).raw_id() == x`, and the
//! same raw id through the wire shape), and any bytes as the JSON wire shape (what
//! deserializes serializes, deserializes again equal, and is stable from then on).
#![no_main]

use acs_chat_protocol::CommunicationIdentifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data) {
        let id = CommunicationIdentifier::from_raw_id(raw);
        assert_eq!(id.raw_id(), raw);
        assert_eq!(id.to_string(), raw);
        let wire = serde_json::to_value(&id).expect("an identifier serializes");
        let back: CommunicationIdentifier =
            serde_json::from_value(wire.clone()).expect("the wire shape deserializes");
        assert_eq!(back.raw_id(), raw, "{wire}");
        assert_eq!(back.kind(), id.kind(), "{wire}");
    }

    let Ok(id) = serde_json::from_slice::<CommunicationIdentifier>(data) else {
        return;
    };
    // Through text, as it goes over the wire, and through a `Value`.
    let text = serde_json::to_string(&id).expect("an identifier serializes");
    let back: CommunicationIdentifier =
        serde_json::from_str(&text).expect("what was written reads back");
    assert_eq!(back, id, "{text}");
    assert_eq!(back.raw_id(), id.raw_id(), "{text}");
    assert_eq!(back.kind(), id.kind(), "{text}");
    let wire = serde_json::to_value(&id).expect("an identifier serializes");
    let again: CommunicationIdentifier =
        serde_json::from_value(wire.clone()).expect("what was written reads back");
    assert_eq!(again, id, "{wire}");
    assert_eq!(serde_json::to_value(&again).ok(), Some(wire));
});
