//! `acs-chat`: Azure Communication Services Chat from the terminal, with the commands and flags
//! of `az communication chat`, on top of `acs-chat`.
//!
//! Exit codes: 0 success; 1 the call failed at run time (the service or the network refused,
//! or the client refused to go on); 2 a usage error (a missing or malformed argument).

use std::io::{self, IsTerminal as _};
use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod emulator;
mod output;
mod run;

use cli::{Cli, Command};
use output::write_stderr;

/// Why a command did not succeed.
#[derive(Debug)]
enum Failure {
    /// A missing or malformed argument: exit 2.
    Usage(String),
    /// The call failed at run time: exit 1.
    Runtime(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    init_tracing(
        cli.global.verbose,
        matches!(cli.command, Command::Emulator(_)),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            write_stderr(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            write_stderr(&format!("error: {message}"));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            write_stderr(&format!("error: {message}"));
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr: with `--verbose`, the client's request traces (they never contain a token);
/// for `emulator`, its request log.
fn init_tracing(verbose: bool, emulator: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::prelude::*;

    if !verbose && !emulator {
        return;
    }
    let mut filter = Targets::new();
    if verbose {
        filter = filter
            .with_target("acs_chat", LevelFilter::DEBUG)
            .with_target("acs_chat_transport", LevelFilter::DEBUG);
    }
    if emulator {
        let level = if verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        };
        filter = filter.with_target("acs_chat_emulator", level);
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .with_span_events(FmtSpan::CLOSE);
    // Fails only when a subscriber is already set, which cannot happen here.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}
