//! chat-client (work in progress).
