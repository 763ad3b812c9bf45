//! `acs-chat emulator`: the acs-chat-emulator library in the foreground, like `acs-chat-emulator`.

use acs_chat_emulator::{ServeArgs, ServeError, serve_foreground};

use crate::Failure;

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    serve_foreground(args, "pass it with --ca-cert")
        .await
        .map_err(|e| match e {
            ServeError::Usage(m) => Failure::Usage(m),
            other => Failure::Runtime(other.to_string()),
        })
}
