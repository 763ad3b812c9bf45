//! The canned bodies: realistic chat messages as the service sends them, and the ids and
//! tokens the benchmarks use.

/// A JWT-shaped token whose payload is `{"exp":32503680000}` (year 3000): chat-client reads
/// the expiry and never needs to refresh it. The canned server does not look at it.
pub(crate) const TOKEN: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjMyNTAzNjgwMDAwfQ.sig";

/// The thread the send-message and list-messages points use.
pub(crate) const THREAD: &str = "19:meeting_453dafb77b26481ea2e73bcada0324af@thread.v2";

/// Messages per page of the list-messages throughput points.
pub(crate) const LIST_PAGE_SIZE: usize = 20;

/// Messages per page of the paging run (the service's maximum).
pub(crate) const PAGING_PAGE_SIZE: usize = 200;

/// The thread id whose list the canned server answers with `pages` pages of
/// [`PAGING_PAGE_SIZE`] messages, chained by nextLinks.
pub(crate) fn paging_thread(pages: usize) -> String {
    format!("19:{PAGING_MARKER}{pages}@thread.v2")
}

/// What marks a paging thread's id.
pub(crate) const PAGING_MARKER: &str = "paging-";

/// The content of the messages the benchmarks send.
pub(crate) const SENT_CONTENT: &str = "Let's meet at noon to go over the open issues.";

/// The body of a send-message 201.
pub(crate) const SEND_RESPONSE: &str = r#"{"id":"1700000000123"}"#;

fn user(n: usize) -> String {
    format!(
        r#"{{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081","communicationUser":{{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0000001{n:x}-14a2-493b-8a72-5a3a0d000081"}}}}"#
    )
}

/// Message number `i` of a page: mostly text messages with metadata, some html, and the
/// system messages a thread accumulates (topic updated, participant added), with the
/// service's 7-digit fractional timestamps.
fn message(i: usize) -> String {
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
            r#"{{"id":"17{i:011}","type":"html","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"<p>Status update {i}: the <b>build</b> is green &amp; the release notes are <a href=\"https://example.com/notes/{i}\">here</a>.</p>"}},"senderDisplayName":"Jane Doe","createdOn":"{ts}","editedOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"priority":"high","tags":"release,build"}}}}"#,
            u = user(i % 7)
        ),
        _ => format!(
            r#"{{"id":"17{i:011}","type":"text","sequenceId":"{seq}","version":"17{i:011}","content":{{"message":"Message number {i}: let's meet at noon to go over the open issues and decide what ships this week."}},"senderDisplayName":"Alex Smith","createdOn":"{ts}","senderCommunicationIdentifier":{u},"metadata":{{"client":"web","locale":"en-US"}}}}"#,
            u = user(i % 7)
        ),
    }
}

/// `{"value":[` and `n` messages, without the closing `]` and `}`, so a nextLink can follow.
pub(crate) fn page_prefix(n: usize) -> String {
    let items: Vec<String> = (0..n).map(message).collect();
    format!(r#"{{"value":[{}"#, items.join(","))
}

/// A whole page of `n` messages without a nextLink.
pub(crate) fn last_page(n: usize) -> String {
    format!("{}]}}", page_prefix(n))
}
