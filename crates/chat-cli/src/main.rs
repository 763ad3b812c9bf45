//! acs-chat command line.
fn main() {}
