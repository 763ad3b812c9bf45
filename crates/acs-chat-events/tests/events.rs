//! `ChatEvent` serialization: one JSON object per event, `"type"` the JS event name.

mod common;

use acs_chat_events::ChatEvent;
use proptest::prelude::*;
use serde_json::Value;

proptest! {
    #[test]
    fn json_round_trips(event in common::chat_event()) {
        let json = serde_json::to_value(&event).unwrap();
        let Value::Object(map) = &json else { panic!("not an object: {json}") };
        prop_assert_eq!(map.get("type").and_then(Value::as_str), Some(event.kind()));
        prop_assert!(map.keys().all(|k| !k.contains('_')), "{:?}", map.keys());
        let back: ChatEvent = serde_json::from_value(json.clone()).unwrap();
        prop_assert_eq!(&back, &event);
        // And through text.
        let text = serde_json::to_string(&event).unwrap();
        prop_assert_eq!(serde_json::from_str::<ChatEvent>(&text).unwrap(), event);
    }

    #[test]
    fn any_json_parses_or_errors_and_what_parses_round_trips(json in any_json()) {
        if let Ok(event) = serde_json::from_value::<ChatEvent>(json) {
            let again = serde_json::to_value(&event).unwrap();
            prop_assert_eq!(serde_json::from_value::<ChatEvent>(again).unwrap(), event);
        }
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("chatMessageReceived".to_owned()),
            Just("participantsAdded".to_owned()),
            Just("2024-01-01T00:00:00Z".to_owned()),
            ".{0,8}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("threadId".to_owned()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
