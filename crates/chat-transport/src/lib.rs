//! chat-transport (work in progress).
