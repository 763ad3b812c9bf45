//! chat-emulator (work in progress).
