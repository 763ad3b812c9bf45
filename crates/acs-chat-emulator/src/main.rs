//! `acs-chat-emulator`: runs the ACS Chat + Identity emulator until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use acs_chat_emulator::{ServeArgs, init_logging, serve_foreground};
use clap::Parser;

/// A local, in-memory emulator of the Azure Communication Services Chat and Identity services.
#[derive(Debug, Parser)]
#[command(name = "acs-chat-emulator", version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
    /// Log every request on stderr (the same as --log-level debug).
    #[arg(long, short = 'v')]
    verbose: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let started = match init_logging(args.serve.log_level.as_deref(), args.verbose) {
        Ok(()) => serve_foreground(args.serve, "trust it in your client").await,
        Err(e) => Err(e),
    };
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acs-chat-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
