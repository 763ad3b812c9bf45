//! `acs-chat-emulator`: runs the ACS Chat + Identity emulator until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use acs_chat_emulator::{ServeArgs, serve_foreground};
use clap::Parser;

/// A local, in-memory emulator of the Azure Communication Services Chat and Identity services.
#[derive(Debug, Parser)]
#[command(name = "acs-chat-emulator", version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match serve_foreground(Args::parse().serve, "trust it in your client").await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acs-chat-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
