//! acs-chat-emulator binary.
fn main() {}
