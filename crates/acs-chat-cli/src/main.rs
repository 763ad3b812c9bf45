//! `acs-chat`: Azure Communication Services Chat from the terminal, with the commands and flags
//! of `az communication chat`, on top of `acs-chat`.
//!
//! Exit codes: 0 success; 1 the call failed at run time (the service or the network refused,
//! or the client refused to go on); 2 a usage error (a missing or malformed argument).

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

mod cli;
mod emulator;
mod events;
mod failure;
mod logging;
mod output;
mod run;
mod text;

use cli::{Cli, Command};
use failure::Failure;
use output::write_stderr;

fn main() -> ExitCode {
    let args = cli::hoist_options(std::env::args_os().collect());
    let cli = match Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // Help and version: stdout, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors quote values: redact them (secrets in URLs) and escape them.
            let text = e.render().to_string();
            let text = failure::printable_multiline(&text);
            write_stderr(text.trim_end());
            return ExitCode::from(2);
        }
    };
    if let Command::Completions { shell } = cli.command {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "acs-chat", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let (verbose, emulator) = match &cli.command {
        Command::Emulator { verbose, .. } => (*verbose, true),
        Command::Thread { service, .. }
        | Command::Message { service, .. }
        | Command::Participant { service, .. }
        | Command::Typing { service, .. } => (service.common.verbose, false),
        Command::Identity { service, .. } => (service.common.verbose, false),
        Command::Events { command } => match command {
            cli::EventsCommand::Watch { service, .. } => (service.common.verbose, false),
            cli::EventsCommand::Listen { verbose, .. } => (*verbose, false),
        },
        Command::Completions { .. } => (false, false),
    };
    if let Command::Emulator { serve, verbose } = &cli.command {
        // The emulator's own logging: --log-level, --verbose, RUST_LOG, or the startup line
        // and warnings (as `acs-chat-emulator` logs).
        if let Err(e) = acs_chat_emulator::init_logging(serve.log_level.as_deref(), *verbose) {
            return exit(&Failure::Usage(e.to_string()));
        }
    }
    let settings = logging::LogSettings {
        verbose,
        max_retries: acs_chat::RetryOptions::default().max_retries,
    };
    if !emulator && let Err(message) = logging::init(settings) {
        return exit(&Failure::Usage(message));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return exit(&Failure::Runtime(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    match runtime.block_on(run::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => exit(&failure),
    }
}

fn exit(failure: &Failure) -> ExitCode {
    write_stderr(&failure.line());
    ExitCode::from(failure.exit_code())
}
