//! [`ConnectionLimits`]: what one client may hold of the server (time, connections, memory).

use std::time::Duration;

/// Limits on connections, so that no client can crash, hang or flood the emulator: slow or
/// idle clients are dropped after a timeout, the number of connections is capped, and a client
/// that never reads its responses holds at most a bounded amount of memory.
///
/// The defaults suit a local emulator shared by a test suite: generous for real clients (the
/// official SDKs keep connections alive in a pool and send small requests), tight enough that
/// a stuck or hostile client cannot pin resources for long.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// Time for the TLS handshake, and for each HTTP/1.1 request head: from when the server
    /// starts waiting for it (the connection's start, or the end of the previous response)
    /// until the whole head is in. So it is also how long an idle HTTP/1.1 keep-alive
    /// connection stays open. Default 30 s.
    pub header_read_timeout: Duration,
    /// Time to receive a request's whole body once its head is in (else 408). Default 30 s.
    pub body_read_timeout: Duration,
    /// A connection on which no byte moves in either direction for this long while the server
    /// waits on the client (an idle HTTP/2 connection, a stalled body, a client that stopped
    /// reading its response) is closed. Default 60 s.
    pub idle_timeout: Duration,
    /// At most this many connections at once; more are closed as soon as they are accepted,
    /// with one warning each time the cap is reached. Default 1024.
    pub max_connections: usize,
    /// Request bodies larger than this are refused with 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Responses larger than 16 KiB of one connection in memory at once (produced but not
    /// yet handed to the socket); further requests of the connection wait. With the response
    /// written in small chunks as the client reads, a client that never reads holds at most
    /// this many large responses, and one small response (16 KiB at most) per stream it may
    /// open ([`Self::http2_max_concurrent_streams`]). Default 4.
    pub max_responses_per_connection: usize,
    /// HTTP/2: streams a client may open at once. Default 100, the least RFC 9113 (§6.5.2)
    /// recommends "so as to not unnecessarily limit parallelism".
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2: the largest header list accepted (bytes, as HPACK counts them). Default 64 KiB.
    pub http2_max_header_list_size: u32,
    /// HTTP/1.1: the largest request head (buffer) accepted; larger heads get 431. Default
    /// 64 KiB.
    pub http1_max_head_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_body_bytes: crate::MAX_BODY_BYTES,
            max_responses_per_connection: 4,
            http2_max_concurrent_streams: 100,
            http2_max_header_list_size: 64 * 1024,
            http1_max_head_bytes: 64 * 1024,
        }
    }
}

/// The service's own limits, enforced with its error shape (400 `ValidationError` naming the
/// field). Where Microsoft publishes a figure the default is that figure, cited; where it does
/// not, the default is an inference, said so.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceLimits {
    /// A message's content, in bytes (UTF-8). Default 28 KiB: "Message Size | 28 KB" in the
    /// Chat "Size Limits" table of
    /// <https://learn.microsoft.com/azure/communication-services/concepts/service-limits>.
    pub max_message_content_bytes: usize,
    /// Metadata of a thread, a participant or a message: keys and values together, in bytes.
    /// Default 1024: the spec (2025-03-15) describes thread and participant `metadata` as
    /// "The total size of all metadata pairs can be up to 1KB in size."; applying it to message
    /// metadata too is an inference (the spec gives no figure for it).
    pub max_metadata_bytes: usize,
    /// Participants of a thread. Default 250: "Number of participants in thread | 250" (same
    /// page), and "Chat threads have between 0 and 250 users as participants" in
    /// <https://learn.microsoft.com/azure/communication-services/concepts/chat/concepts>.
    pub max_participants_per_thread: usize,
    /// Participants in one create-thread or add-participants call. Default 200: "Batch of
    /// participants - CreateThread | 200" and "Batch of participants - AddParticipant | 200"
    /// (same page).
    pub max_participants_per_call: usize,
    /// A thread topic, in characters. Default 250, an inference: ACS publishes no figure; a
    /// Microsoft Teams chat topic (ACS threads are Teams chat threads) takes at most 250
    /// characters.
    pub max_topic_chars: usize,
    /// A display name (a participant's, a message's or a typing notification's sender), in
    /// characters. Default 256, an inference: ACS publishes no figure.
    pub max_display_name_chars: usize,
    /// The largest `maxPageSize` of every listing; outside 1..=this is 400. Default 200:
    /// "Page size - ListMessages | 200" (same page); using it for the other listings, which
    /// have no published figure, is an inference.
    pub max_page_size: usize,
    /// Message operations (send, edit, delete) per thread in 10 seconds, with throttling on.
    /// Default 10: "Send message / update message / delete message | per Chat thread | 10 |
    /// 30" in the Chat "Rate Limits" table (same page).
    pub message_ops_per_10_seconds: usize,
    /// Message operations per thread in a minute, with throttling on. Default 30 (same row).
    pub message_ops_per_minute: usize,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        Self {
            max_message_content_bytes: 28 * 1024,
            max_metadata_bytes: 1024,
            max_participants_per_thread: 250,
            max_participants_per_call: 200,
            max_topic_chars: 250,
            max_display_name_chars: 256,
            max_page_size: 200,
            message_ops_per_10_seconds: 10,
            message_ops_per_minute: 30,
        }
    }
}
