//! chat-protocol (work in progress).
