//! The realistic chat messages the benchmarks parse, and the baseline types: the same shape as
//! acs-chat-protocol's models with plain types (strings for timestamps and enums), for `serde_json`.
//!
//! Shared by acs-chat-protocol's criterion benches and the end-to-end `acs-chat-bench` (which includes
//! this file by path), so that both measure the same bytes.

#![allow(dead_code)] // each includer uses a part

use std::collections::HashMap;

use serde::Deserialize;

fn user(n: usize) -> String {
    format!(
        r#"{{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081","communicationUser":{{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081"}}}}"#
    )
}

/// Message number `i` of a page, as the service sends it: mostly text messages with metadata,
/// some html, and the system messages a thread accumulates (topic updated, participant added),
/// with the service's 7-digit fractional timestamps.
pub(crate) fn message(i: usize) -> String {
    let seq = 100_000 - i;
    let ts = format!(
        "2024-06-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        1 + i % 28,
        i % 24,
        i % 60,
        (i * 7) % 60,
        i * 4231 % 10_000_000
    );
    match i % 10 {
        0 => format!(
            r#"{{"id":"17{i:011}","type":"topicUpdated","sequenceId":"{seq}","version":"17{i:011}","content":{{"topic":"Release planning {i}","initiatorCommunicationIdentifier":{u}}},"createdOn":"{ts}"}}"#,
            u = user(i % 7)
        ),
        5 => format!(
            r#"{{"id":"17{i:011}","type":"participantAdded","sequenceId":"{seq}","version":"17{i:011}","content":{{"participants":[{{"communicationIdentifier":{u},"displayName":"Guest {i}","shareHistoryTime":"{ts}"}}],"initiatorCommunicationIdentifier":{u2}}},"createdOn":"{ts}"}}"#,
            u = user(i % 5),
            u2 = user(i % 3)
        ),
        3 => format!(
            r#"{{"id":"17{i:011}","type":"html","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"<p>Status update {i}: the <b>build</b> is green &amp; the release notes are <a href=\"https://example.com/notes/{i}\">here</a>.</p>"}},"senderDisplayName":"Jane Doe","createdOn":"{ts}","editedOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"priority":"high","tags":"release,build","amsreferences":"[]"}}}}"#,
            u = user(i % 7)
        ),
        _ => format!(
            r#"{{"id":"17{i:011}","type":"text","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"Message number {i}: let's meet at noon to go over the open issues and decide what ships this week."}},"senderDisplayName":"Alex Smith","createdOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"client":"web","locale":"en-US"}}}}"#,
            u = user(i % 7)
        ),
    }
}

/// Messages `0..n`, comma-separated (the inside of a page's `value` array).
pub(crate) fn messages(n: usize) -> String {
    let items: Vec<String> = (0..n).map(message).collect();
    items.join(",")
}

/// The body of a send-message 201, as plain types.
#[derive(Deserialize)]
pub(crate) struct PlainSendResult {
    pub(crate) id: String,
}

#[derive(Deserialize)]
pub(crate) struct PlainPage {
    pub(crate) value: Vec<PlainMessage>,
    #[serde(rename = "nextLink")]
    pub(crate) next_link: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PlainMessage {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(rename = "sequenceId")]
    pub(crate) sequence_id: String,
    pub(crate) version: String,
    pub(crate) content: Option<PlainContent>,
    #[serde(rename = "senderDisplayName")]
    pub(crate) sender_display_name: Option<String>,
    #[serde(rename = "createdOn")]
    pub(crate) created_on: String,
    #[serde(rename = "senderCommunicationIdentifier")]
    pub(crate) sender: Option<PlainIdentifier>,
    #[serde(rename = "deletedOn")]
    pub(crate) deleted_on: Option<String>,
    #[serde(rename = "editedOn")]
    pub(crate) edited_on: Option<String>,
    pub(crate) metadata: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
pub(crate) struct PlainContent {
    pub(crate) message: Option<String>,
    pub(crate) topic: Option<String>,
    pub(crate) participants: Option<Vec<PlainParticipant>>,
    #[serde(rename = "initiatorCommunicationIdentifier")]
    pub(crate) initiator: Option<PlainIdentifier>,
}

#[derive(Deserialize)]
pub(crate) struct PlainParticipant {
    #[serde(rename = "communicationIdentifier")]
    pub(crate) id: PlainIdentifier,
    #[serde(rename = "displayName")]
    pub(crate) display_name: Option<String>,
    #[serde(rename = "shareHistoryTime")]
    pub(crate) share_history_time: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PlainIdentifier {
    #[serde(rename = "rawId")]
    pub(crate) raw_id: Option<String>,
    #[serde(rename = "communicationUser")]
    pub(crate) communication_user: Option<PlainUser>,
}

#[derive(Deserialize)]
pub(crate) struct PlainUser {
    pub(crate) id: String,
}
