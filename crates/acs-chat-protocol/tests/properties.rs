//! Property tests of acs-chat-protocol: paths, models, parsers, nextLinks, identifiers, timestamps,
//! connection strings, endpoints, tokens and retry hints.

use std::collections::BTreeMap;

use acs_chat_protocol::identity::ConnectionString;
use acs_chat_protocol::models::*;
use acs_chat_protocol::operations::*;
use acs_chat_protocol::{
    AccessToken, ApiVersion, CommunicationIdentifier, DateTime, Endpoint, ErrorKind, Operation,
    RequestContext, RetryAfter, redact_url,
};
use base64::Engine as _;
use bytes::Bytes;
use http::Response;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::json;

fn ctx() -> RequestContext {
    RequestContext::new(
        Endpoint::parse("https://contoso.communication.azure.com/").unwrap(),
        ApiVersion::default(),
    )
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8().unwrap().into_owned()
}

// ---------- strategies ----------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,24}", "[a-zA-Z0-9 :@/?#%&=+._-]{0,24}"]
}

fn datetime() -> impl Strategy<Value = DateTime> {
    // year 1970..=2400, any nanosecond
    (0i64..13_569_465_600, 0u32..1_000_000_000).prop_map(|(s, n)| {
        DateTime::from_unix_timestamp_nanos(i128::from(s) * 1_000_000_000 + i128::from(n)).unwrap()
    })
}

fn metadata() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    proptest::option::of(proptest::collection::btree_map(text(), text(), 0..4))
}

fn cloud() -> impl Strategy<Value = CommunicationCloudEnvironment> {
    prop_oneof![
        Just(CommunicationCloudEnvironment::Public),
        Just(CommunicationCloudEnvironment::Dod),
        Just(CommunicationCloudEnvironment::Gcch),
        "x[a-z]{1,8}".prop_map(CommunicationCloudEnvironment::UnknownValue),
    ]
}

/// Identifiers as the wire has them (every kind, with and without `kind`/`rawId`, an unknown
/// kind with its own member), read through `CommunicationIdentifier`.
fn identifier_model() -> impl Strategy<Value = CommunicationIdentifier> {
    (
        proptest::option::of(text()),
        0..6u8,
        text(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(cloud()),
    )
        .prop_map(|(raw, which, id, flag, cloud)| {
            let cloud = cloud.map(|c| c.to_string());
            let mut m = serde_json::Map::new();
            if let Some(raw) = raw {
                m.insert("rawId".into(), json!(raw));
            }
            match which {
                0 => {
                    m.insert("kind".into(), json!("communicationUser"));
                    m.insert("communicationUser".into(), json!({"id": id}));
                }
                1 => {
                    m.insert(
                        "phoneNumber".into(),
                        json!({"value": id, "isAnonymous": flag}),
                    );
                }
                2 => {
                    m.insert(
                        "microsoftTeamsUser".into(),
                        json!({"userId": id, "isAnonymous": flag, "cloud": cloud}),
                    );
                }
                3 => {
                    m.insert(
                        "microsoftTeamsApp".into(),
                        json!({"appId": id, "cloud": cloud}),
                    );
                }
                4 => {
                    m.insert("kind".into(), json!("futureKind"));
                    m.insert("futureKind".into(), json!({"userId": id, "cloud": cloud}));
                }
                _ => {}
            }
            serde_json::from_value(serde_json::Value::Object(m)).unwrap()
        })
}

fn participant() -> impl Strategy<Value = ChatParticipant> {
    (
        identifier_model(),
        proptest::option::of(text()),
        proptest::option::of(datetime()),
        metadata(),
    )
        .prop_map(|(id, name, share, metadata)| {
            let mut p = ChatParticipant::new(id);
            p.display_name = name;
            p.share_history_time = share;
            p.metadata = metadata;
            p
        })
}

fn message_type() -> impl Strategy<Value = ChatMessageType> {
    prop_oneof![
        Just(ChatMessageType::Text),
        Just(ChatMessageType::Html),
        Just(ChatMessageType::TopicUpdated),
        Just(ChatMessageType::ParticipantAdded),
        Just(ChatMessageType::ParticipantRemoved),
        "z[a-zA-Z]{1,10}".prop_map(ChatMessageType::UnknownValue),
    ]
}

fn attachment() -> impl Strategy<Value = ChatAttachment> {
    (
        text(),
        prop_oneof![
            Just(ChatAttachmentType::Image),
            Just(ChatAttachmentType::File),
            Just(ChatAttachmentType::UnknownValue("inlineImage".into()))
        ],
        proptest::option::of(text()),
    )
        .prop_map(|(id, kind, url)| {
            let mut a = ChatAttachment::new(id, kind);
            a.url = url;
            a
        })
}

fn message() -> impl Strategy<Value = ChatMessage> {
    (
        (
            text(),
            message_type(),
            "[0-9]{1,6}",
            "[0-9]{1,13}",
            datetime(),
        ),
        proptest::option::of((
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(proptest::collection::vec(participant(), 0..3)),
            proptest::option::of(proptest::collection::vec(attachment(), 0..2)),
            proptest::option::of(identifier_model()),
        )),
        proptest::option::of(identifier_model()),
        (
            proptest::option::of(datetime()),
            proptest::option::of(datetime()),
            metadata(),
            proptest::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (id, kind, seq, version, created),
                content,
                sender,
                (deleted, edited, metadata, name),
            )| {
                let mut m = ChatMessage::new(created, id, seq, kind, version);
                m.content =
                    content.map(|(message, topic, participants, attachments, initiator)| {
                        let mut c = ChatMessageContent::new();
                        c.message = message;
                        c.topic = topic;
                        c.participants = participants;
                        c.attachments = attachments;
                        c.initiator_communication_identifier = initiator;
                        c
                    });
                m.sender_communication_identifier = sender;
                m.deleted_on = deleted;
                m.edited_on = edited;
                m.metadata = metadata;
                m.sender_display_name = name;
                m
            },
        )
}

fn retention() -> impl Strategy<Value = ChatRetentionPolicy> {
    prop_oneof![
        Just(ChatRetentionPolicy::None(NoneRetentionPolicy::new())),
        any::<i32>().prop_map(|d| ChatRetentionPolicy::ThreadCreationDate(
            ThreadCreationDateRetentionPolicy::new(d)
        )),
        ("q[a-z]{1,8}", any::<i32>()).prop_map(|(k, n)| {
            let mut map = serde_json::Map::new();
            map.insert("kind".into(), k.into());
            map.insert("n".into(), n.into());
            ChatRetentionPolicy::UnknownValue(map)
        }),
    ]
}

fn thread() -> impl Strategy<Value = ChatThreadProperties> {
    (
        text(),
        text(),
        datetime(),
        identifier_model(),
        proptest::option::of(datetime()),
        metadata(),
        proptest::option::of(retention()),
    )
        .prop_map(|(id, topic, created, by, deleted, metadata, retention)| {
            let mut t = ChatThreadProperties::new(by, created, id, topic);
            t.deleted_on = deleted;
            t.metadata = metadata;
            t.retention_policy = retention;
            t
        })
}

fn error() -> impl Strategy<Value = CommunicationError> {
    let leaf = (text(), text(), proptest::option::of(text())).prop_map(|(c, m, t)| {
        let mut e = CommunicationError::new(c, m);
        e.target = t;
        e
    });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            text(),
            text(),
            proptest::option::of(proptest::collection::vec(inner.clone(), 0..3)),
            proptest::option::of(inner),
        )
            .prop_map(|(c, m, details, innererror)| {
                let mut e = CommunicationError::new(c, m);
                e.details = details;
                e.inner_error = innererror.map(Box::new);
                e
            })
    })
}

fn roundtrip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &T,
) {
    let json = serde_json::to_vec(v).unwrap();
    let back: T = serde_json::from_slice(&json).unwrap();
    assert_eq!(&back, v, "{}", String::from_utf8_lossy(&json));
}

// ---------- properties ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any non-empty id is exactly one path segment that decodes back to the id.
    #[test]
    fn ids_are_exactly_one_segment(thread_id in ".{1,40}", message_id in ".{1,40}") {
        let r = GetChatMessage::new(thread_id.clone(), message_id.clone()).build_request(&ctx()).unwrap();
        let uri = r.uri();
        let segments: Vec<&str> = uri.path().split('/').collect();
        prop_assert_eq!(segments.len(), 6, "{}", uri);
        prop_assert_eq!(&segments[..3], &["", "chat", "threads"]);
        prop_assert_eq!(segments[4], "messages");
        prop_assert_eq!(decode(segments[3]), thread_id);
        prop_assert_eq!(decode(segments[5]), message_id);
        prop_assert_eq!(uri.query(), Some("api-version=2025-03-15"));
        prop_assert!(!uri.to_string().contains('#'));
        prop_assert!(segments[3] != "." && segments[3] != "..");
    }

    /// The same holds behind an endpoint with a path prefix, for the `:remove` action path.
    #[test]
    fn prefix_and_action_segments(thread_id in ".{1,40}") {
        let ctx = RequestContext::new(Endpoint::parse("https://gw.example/acs/").unwrap(), ApiVersion::default());
        let r = RemoveChatParticipant::new(thread_id.clone(), CommunicationIdentifier::communication_user("8:acs:x"))
            .build_request(&ctx).unwrap();
        let segments: Vec<&str> = r.uri().path().split('/').collect();
        prop_assert_eq!(segments.len(), 7);
        prop_assert_eq!(&segments[..4], &["", "acs", "chat", "threads"]);
        prop_assert_eq!(decode(segments[4]), thread_id);
        prop_assert_eq!(&segments[5..], &["participants", ":remove"]);
    }

    #[test]
    fn message_round_trips(m in message()) { roundtrip(&m); }

    #[test]
    fn thread_round_trips(t in thread()) { roundtrip(&t); }

    #[test]
    fn participant_and_receipt_round_trip(p in participant(), id in text(), at in datetime(), by in identifier_model()) {
        roundtrip(&p);
        roundtrip(&ChatMessageReadReceipt::new(id, at, by));
    }

    #[test]
    fn request_models_round_trip(topic in text(), ps in proptest::collection::vec(participant(), 0..4), md in metadata(), r in proptest::option::of(retention()), content in text(), kind in proptest::option::of(message_type())) {
        let mut c = CreateChatThreadRequest::new(topic.clone());
        c.participants = Some(ps.clone());
        c.metadata = md.clone();
        c.retention_policy = r.clone();
        roundtrip(&c);
        let mut u = UpdateChatThreadRequest::new();
        u.topic = Some(topic);
        u.metadata = md.clone();
        u.retention_policy = r;
        roundtrip(&u);
        let mut s = SendChatMessageRequest::new(content);
        s.kind = kind;
        s.metadata = md;
        roundtrip(&s);
        roundtrip(&AddChatParticipantsRequest::new(ps));
    }

    #[test]
    fn errors_round_trip(e in error()) {
        roundtrip(&e);
        roundtrip(&CommunicationErrorResponse::new(e.clone()));
        let mut r = CreateChatThreadResult::new();
        r.invalid_participants = Some(vec![e]);
        roundtrip(&r);
    }

    /// No bytes, with any status, make a parser panic.
    #[test]
    fn parsers_never_panic_on_bytes(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        parse_everything(status, Bytes::from(body));
    }

    /// Nor does any JSON value (including the right shapes with wrong types).
    #[test]
    fn parsers_never_panic_on_json(status in prop_oneof![Just(200u16), Just(201), Just(204), 400u16..600], value in json_value()) {
        parse_everything(status, Bytes::from(serde_json::to_vec(&value).unwrap()));
        let wrapped = serde_json::json!({"value": [value.clone()], "nextLink": value.clone()});
        parse_everything(status, Bytes::from(serde_json::to_vec(&wrapped).unwrap()));
        let error = serde_json::json!({"error": value});
        parse_everything(status, Bytes::from(serde_json::to_vec(&error).unwrap()));
    }

    /// A nextLink is followed only when it is on the endpoint's scheme, host and port.
    #[test]
    fn next_link_origin_check(
        scheme in prop_oneof![Just("https"), Just("HTTPS"), Just("http"), Just("ftp")],
        host in prop_oneof![Just("contoso.communication.azure.com"), Just("CONTOSO.communication.azure.com"), Just("evil.example"), Just("contoso.communication.azure.com.evil.example")],
        port in proptest::option::of(prop_oneof![Just(443u16), Just(80u16), Just(8443u16)]),
        userinfo in any::<bool>(),
        path in "[a-zA-Z0-9/:@?=&%. _-]{0,40}",
    ) {
        let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
        let user = if userinfo { "user@" } else { "" };
        let link = format!("{scheme}://{user}{host}{port_part}/{path}");
        let same = scheme.eq_ignore_ascii_case("https")
            && host.eq_ignore_ascii_case("contoso.communication.azure.com")
            && port.unwrap_or(443) == 443
            && !userinfo;
        match next_link_uri(&link) {
            Ok(uri) => {
                prop_assert!(same, "followed {link}");
                prop_assert!(ctx().endpoint().is_same_origin(&uri));
            }
            Err(e) => {
                prop_assert!(!same, "refused {link}: {e}");
                prop_assert!(matches!(e.kind(), ErrorKind::ForeignOrigin | ErrorKind::InvalidNextLink));
            }
        }
    }

    /// Arbitrary strings as nextLinks never panic and are never followed off-origin.
    #[test]
    fn next_link_arbitrary(link in ".{0,80}") {
        if let Ok(uri) = next_link_uri(&link) {
            prop_assert!(ctx().endpoint().is_same_origin(&uri));
        }
    }

    #[test]
    fn raw_ids_round_trip(raw in prop_oneof![".{0,30}", "(4:|8:acs:|8:orgid:|8:dod:|8:gcch:|8:teamsvisitor:|28:orgid:|28:gcch:|8:spool:|8:gcch-acs:)[a-z0-9_+-]{0,20}"]) {
        let id = CommunicationIdentifier::from_raw_id(&raw);
        prop_assert_eq!(id.raw_id(), raw.as_str());
        // and through the wire shape
        let back: CommunicationIdentifier =
            serde_json::from_value(serde_json::to_value(&id).unwrap()).unwrap();
        prop_assert_eq!(back.raw_id(), raw);
    }

    #[test]
    fn datetimes_round_trip(t in datetime()) {
        prop_assert_eq!(DateTime::parse(&t.to_string()).unwrap(), t);
    }

    /// parse ∘ format is the identity over the whole supported range (years 0000..=9999), for
    /// both the trimmed and the fixed-digit forms.
    #[test]
    fn datetimes_round_trip_over_the_whole_range(
        nanos in DateTime::parse("0000-01-01T00:00:00Z").unwrap().unix_timestamp_nanos()
            ..=DateTime::parse("9999-12-31T23:59:59.999999999Z").unwrap().unix_timestamp_nanos()
    ) {
        let t = DateTime::from_unix_timestamp_nanos(nanos).unwrap();
        prop_assert_eq!(DateTime::parse(&t.to_string()).unwrap(), t);
        prop_assert_eq!(DateTime::parse(&t.to_rfc3339_fixed(9)).unwrap(), t);
    }

    /// Any string either parses or is an error, never a panic; RFC 3339-shaped strings with any
    /// offset included, and what parses is in range and formats back to the same instant.
    #[test]
    fn any_string_parses_or_is_an_error(
        text in prop_oneof![
            ".{0,40}",
            "[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,12})?([Zz]|[+-][0-2][0-9]:[0-5][0-9])",
        ]
    ) {
        if let Ok(t) = DateTime::parse(&text) {
            prop_assert_eq!(DateTime::parse(&t.to_string()).unwrap(), t);
        }
    }
}

/// The URI a nextLink is followed at, or why it is not.
fn next_link_uri(link: &str) -> Result<http::Uri, acs_chat_protocol::Error> {
    ListChatMessages::next_page(link)
        .build_request(&ctx())
        .map(|r| r.uri().clone())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2020-06-06T05:55:41.6460000Z")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("value".to_string()),
                    Just("nextLink".to_string()),
                    Just("kind".to_string()),
                    Just("createdOn".to_string()),
                    Just("chatThread".to_string()),
                    Just("code".to_string()),
                    Just("message".to_string()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Feeds one response to every operation's parser.
fn parse_everything(status: u16, body: Bytes) {
    let response = || {
        Response::builder()
            .status(status)
            .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
            .body(body.clone())
            .unwrap()
    };
    let t = "19:t@thread.v2";
    fn d<T: Default>() -> T {
        T::default()
    }
    let who = CommunicationIdentifier::from_raw_id("8:acs:x");
    let _ = CreateChatThread::new("x", d()).parse_response(response());
    let _ = ListChatThreads::new(d()).parse_response(response());
    let _ = GetChatThreadProperties::new(t).parse_response(response());
    let _ = UpdateChatThreadProperties::new(t, d()).parse_response(response());
    let _ = DeleteChatThread::new(t).parse_response(response());
    let _ = SendChatMessage::new(t, "m", d()).parse_response(response());
    let _ = ListChatMessages::new(t, d()).parse_response(response());
    let _ = GetChatMessage::new(t, "1").parse_response(response());
    let _ = UpdateChatMessage::new(t, "1", d()).parse_response(response());
    let _ = DeleteChatMessage::new(t, "1").parse_response(response());
    let _ = ListChatParticipants::new(t, d()).parse_response(response());
    let _ = AddChatParticipants::new(t, vec![]).parse_response(response());
    let _ = RemoveChatParticipant::new(t, who).parse_response(response());
    let _ = SendChatReadReceipt::new(t, "1").parse_response(response());
    let _ = ListChatReadReceipts::new(t, d()).parse_response(response());
    let _ = SendTypingNotification::new(t, d()).parse_response(response());
    let _ = UploadChatImage::new(t, Bytes::new(), d()).parse_response(response());
    let _ = GetChatImage::new(t, "i", ImageViewType::Small).parse_response(response());
    let _ = DeleteChatImage::new(t, "i").parse_response(response());
    let _ = ListChatMessages::next_page("https://contoso.communication.azure.com/x")
        .parse_response(response());
    use acs_chat_protocol::identity;
    let _ = identity::CreateUser::new(d()).parse_response(response());
    let _ = identity::IssueAccessToken::new("u", vec![], d()).parse_response(response());
    let _ = identity::RevokeAccessTokens::new("u").parse_response(response());
    let _ = identity::DeleteUser::new("u").parse_response(response());
    let _ = identity::ExchangeTeamsUserAccessToken::new("t", "a", "u").parse_response(response());
    let _ = acs_chat_protocol::Error::from_response(&response());
}

// ---------- credentials, endpoints, tokens and retry hints ----------

/// A key that no error text contains by chance: a fixed marker and 9..32 random bytes, in
/// base64.
fn access_key() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 9..32).prop_map(|mut bytes| {
        bytes.splice(0..0, *b"\xfb\xffKEY");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    })
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}(\\.[a-z0-9-]{1,8}){0,3}",
        "[A-Z][a-zA-Z0-9]{0,8}\\.example",
        Just("127.0.0.1".to_string()),
        Just("[::1]".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A connection string parses in any order, key case and spacing, and writes back to one
    /// that parses the same; neither its `Debug` nor any error shows the key.
    #[test]
    fn connection_strings_round_trip_and_hide_the_key(
        https in any::<bool>(),
        host in host(),
        port in proptest::option::of(any::<u16>()),
        prefix in "(/[a-z0-9]{1,6}){0,2}/?",
        key in access_key(),
        key_first in any::<bool>(),
        upper in any::<bool>(),
        space in prop_oneof![Just(""), Just(" "), Just("\t")],
    ) {
        let scheme = if https { "https" } else { "http" };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let (e, k) = if upper { ("Endpoint", "AccessKey") } else { ("endpoint", "accesskey") };
        let endpoint = format!("{e}={space}{scheme}://{host}{port}{prefix}{space}");
        let access = format!("{k}={space}{key}");
        let text = if key_first { format!("{access};{endpoint};") } else { format!("{endpoint};{access}") };
        let parsed = ConnectionString::parse(&text).unwrap();
        prop_assert_eq!(parsed.access_key().to_base64(), key.clone());
        prop_assert_eq!(parsed.endpoint().is_https(), https);
        let debug = format!("{parsed:?}");
        prop_assert!(!debug.contains(&key));
        prop_assert_eq!(ConnectionString::parse(&parsed.to_secret_string()).unwrap(), parsed);
        // Broken in each way it can be: the key never shows, nor a password or a query value
        // in the endpoint (letters and digits of the key: `/` would end the user info).
        let secret: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
        for broken in [
            format!("{endpoint};{k}={key}!"),
            format!("{e}=ftp://{host};{access}"),
            format!("{e}={scheme}://u:{secret}@{host};{access}"),
            format!("{e}={scheme}://{host}/?sig={secret};{access}"),
            access.clone(),
            format!("{access};{endpoint};oops"),
        ] {
            let err = ConnectionString::parse(&broken).unwrap_err().to_string();
            prop_assert!(!err.contains(&key) && !err.contains(&secret), "{}: {}", broken, err);
        }
    }

    /// Any text as a connection string or an endpoint: an error or a value, never a panic, and
    /// errors are bounded.
    #[test]
    fn any_text_is_a_connection_string_or_an_error(text in ".{0,80}", long in 0usize..3) {
        let text = text.repeat(1 + long * 100);
        if let Err(e) = ConnectionString::parse(&text) {
            prop_assert!(e.to_string().len() < 1024, "{}", e);
        }
        match Endpoint::parse(&text) {
            Ok(endpoint) => prop_assert_eq!(Endpoint::parse(&endpoint.to_string()).unwrap(), endpoint),
            Err(e) => prop_assert!(e.to_string().len() < 4096, "{}", e),
        }
        prop_assert!(redact_url(&text).len() < 4096);
    }

    /// An endpoint keeps its scheme, host (lower-cased), port and prefix, and writes back to
    /// one that parses the same; user info, a query or a fragment are refused, and neither the
    /// error nor `redact_url` shows the password or the query values.
    #[test]
    fn endpoints_round_trip_and_never_show_secrets(
        https in any::<bool>(),
        host in host(),
        port in proptest::option::of(any::<u16>()),
        prefix in "(/[a-zA-Z0-9._~-]{1,6}){0,3}/?",
        secret in "[a-zA-Z0-9]{12,20}",
        form in 0..4u8,
    ) {
        let scheme = if https { "https" } else { "http" };
        let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("{scheme}://{host}{port_text}{prefix}");
        let endpoint = Endpoint::parse(&url).unwrap();
        prop_assert_eq!(endpoint.host(), host.to_ascii_lowercase());
        prop_assert_eq!(endpoint.port(), port.unwrap_or(if https { 443 } else { 80 }));
        prop_assert_eq!(endpoint.path_prefix(), prefix.trim_end_matches('/'));
        prop_assert_eq!(Endpoint::parse(&endpoint.to_string()).unwrap(), endpoint);
        let with_secret = match form {
            0 => format!("{scheme}://user:{secret}@{host}{port_text}{prefix}"),
            1 => format!("{url}?a=1&sig={secret}"),
            2 => format!("{url}#{secret}"),
            _ => format!("{scheme}://{secret}@{host}{port_text}{prefix}?x={secret}#f"),
        };
        let err = Endpoint::parse(&with_secret).unwrap_err().to_string();
        prop_assert!(!err.contains(&secret), "{}", err);
        prop_assert!(!redact_url(&with_secret).contains(&secret));
    }

    /// `exp` is read from any JWT payload that has one: in range it is the expiry, out of range
    /// or not a number it is an error; the error never shows the token.
    #[test]
    fn jwt_expiry_is_read_and_errors_never_show_the_token(
        exp in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            (-62_167_219_200i64..253_402_300_800).prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            Just("\"soon\"".to_string()),
            Just("null".to_string()),
        ],
        extra in "[a-z]{0,8}",
        signature in "[a-zA-Z0-9_-]{16,43}",
        padded in any::<bool>(),
    ) {
        let payload = format!(r#"{{"{extra}x":1,"exp":{exp}}}"#);
        let payload = if padded {
            base64::engine::general_purpose::URL_SAFE.encode(&payload)
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&payload)
        };
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.{signature}");
        let expected = exp.parse::<i64>().ok()
            .or_else(|| exp.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
            .and_then(|s| DateTime::from_unix_timestamp(s).ok());
        match (AccessToken::from_jwt(token.clone()), expected) {
            (Ok(t), Some(at)) => {
                prop_assert_eq!(t.expires_on(), at);
                let debug = format!("{t:?}");
                prop_assert!(!debug.contains(&signature));
            }
            (Err(e), None) => {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidToken);
                let shown = e.to_string();
                prop_assert!(!shown.contains(&signature) && !shown.contains(&payload), "{}", shown);
            }
            (got, expected) => prop_assert!(false, "{}: {:?}, expected {:?}", token, got.map(|t| t.expires_on()), expected),
        }
    }

    /// Retry hints: a number of milliseconds (or seconds for `Retry-After`) is a delay clamped
    /// to 86 400 000 units, an HTTP date is a date, and anything else is no hint, never a panic.
    #[test]
    fn retry_hints(
        name in prop_oneof![Just("retry-after-ms"), Just("x-ms-retry-after-ms"), Just("retry-after")],
        value in prop_oneof![
            (0u64..200_000_000).prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            "[ -~]{0,30}",
            Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
        ],
    ) {
        let mut headers = http::HeaderMap::new();
        let Ok(v) = http::HeaderValue::try_from(value.as_str()) else { return Ok(()) };
        headers.insert(name, v);
        let hint = RetryAfter::from_headers(&headers);
        let number = value.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        let unit = if name == "retry-after" { 1.0 } else { 0.001 };
        match (hint, number) {
            (Some(RetryAfter::Delay(d)), Some(n)) => {
                let want = n.min(86_400_000.0) * unit;
                prop_assert!((d.as_secs_f64() - want).abs() <= want * 1e-9 + 1e-6, "{}: {:?}", value, d);
            }
            (Some(RetryAfter::At(_)), None) => prop_assert_eq!(name, "retry-after"),
            (None, None) => {}
            (hint, _) => prop_assert!(false, "{} = {}: {:?}", name, value, hint),
        }
    }
}
