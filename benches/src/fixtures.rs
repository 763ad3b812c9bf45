//! The canned bodies: realistic chat messages as the service sends them (the same as
//! acs-chat-protocol's criterion benches, see [`crate::common`]), and the ids and tokens the
//! benchmarks use.

/// A JWT-shaped token whose payload is `{"exp":32503680000}` (year 3000): acs-chat reads
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

/// The message id in [`SEND_RESPONSE`].
pub(crate) const SENT_MESSAGE_ID: &str = "1700000000123";

/// `{"value":[` and `n` messages, without the closing `]` and `}`, so a nextLink can follow.
pub(crate) fn page_prefix(n: usize) -> String {
    format!(r#"{{"value":[{}"#, crate::common::messages(n))
}

/// A whole page of `n` messages without a nextLink.
pub(crate) fn last_page(n: usize) -> String {
    format!("{}]}}", page_prefix(n))
}
