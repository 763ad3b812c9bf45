//! The command tree, with the names and flags of `az communication chat`.

use std::path::PathBuf;

use acs_chat::{CommunicationIdentifier, DateTime};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Azure Communication Services Chat from the terminal, with the commands and flags of
/// `az communication chat`.
#[derive(Debug, Parser)]
#[command(name = "acs-chat", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    // `help` rather than a doc comment: rustdoc would read `<resource>` as an HTML tag.
    #[arg(
        long,
        global = true,
        env = "AZURE_COMMUNICATION_ENDPOINT",
        value_name = "URL",
        help = "The resource's endpoint, e.g. https://<resource>.communication.azure.com \
                [default: the endpoint of --connection-string]"
    )]
    pub(crate) endpoint: Option<String>,
    /// A user access token (chat commands).
    #[arg(
        long,
        global = true,
        env = "AZURE_COMMUNICATION_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) access_token: Option<String>,
    /// The resource's connection string (identity commands).
    #[arg(
        long,
        global = true,
        env = "AZURE_COMMUNICATION_CONNECTION_STRING",
        hide_env_values = true,
        value_name = "CONNECTION_STRING"
    )]
    pub(crate) connection_string: Option<String>,
    /// The api-version to send [default: the client's].
    #[arg(long, global = true, value_name = "VERSION", value_parser = non_empty)]
    pub(crate) api_version: Option<String>,
    /// Also trust this CA certificate (PEM file), e.g. an emulator's.
    #[arg(long, global = true, env = "ACS_CHAT_CA_CERT", value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Allow a plain http:// endpoint (loopback emulators only).
    #[arg(long, global = true)]
    pub(crate) allow_http: bool,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,
    /// Lists: stop after this many items.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) max_items: Option<usize>,
    /// Lists: items per page asked of the service (every page is followed).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) page_size: Option<i32>,
    /// Trace requests on stderr (operation, status, request id, timing; never the token).
    #[arg(long, global = true)]
    pub(crate) verbose: bool,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// JSON, with the REST API's field names.
    Json,
    /// Aligned columns.
    Table,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, delete chat threads and change their topic.
    Thread {
        #[command(subcommand)]
        command: ThreadCommand,
    },
    /// Send, list, get, update and delete messages; read receipts.
    Message {
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Add, list and remove the participants of a thread.
    Participant {
        #[command(subcommand)]
        command: ParticipantCommand,
    },
    /// Typing notifications.
    Typing {
        #[command(subcommand)]
        command: TypingCommand,
    },
    /// Create users and issue their access tokens (needs a connection string).
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Run the local emulator in the foreground until Ctrl-C or SIGTERM.
    Emulator(acs_chat_emulator::ServeArgs),
}

/// `--thread` / `-t`.
#[derive(Debug, Args)]
pub(crate) struct ThreadArg {
    /// The thread id.
    #[arg(long = "thread", short = 't', value_name = "ID", value_parser = non_empty)]
    pub(crate) id: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ThreadCommand {
    /// Create a thread (you are its first participant).
    Create {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// An idempotency token: creating again with the same one returns the same thread.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        idempotency_token: Option<String>,
    },
    /// List your threads, most recent first.
    List {
        /// Only threads with a message at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
    },
    /// Delete a thread for everyone.
    Delete {
        #[command(flatten)]
        thread: ThreadArg,
    },
    /// Change a thread's topic.
    UpdateTopic {
        #[command(flatten)]
        thread: ThreadArg,
        /// The new topic.
        #[arg(long)]
        topic: String,
    },
}

/// `--message-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageType {
    /// Plain text.
    Text,
    /// HTML.
    Html,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MessageCommand {
    /// Send a message; prints its id.
    Send {
        #[command(flatten)]
        thread: ThreadArg,
        /// The content.
        #[arg(long)]
        content: String,
        /// The sender's display name.
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// The content type.
        #[arg(long, value_enum, value_name = "TYPE")]
        message_type: Option<MessageType>,
        /// Metadata as key=value pairs.
        #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_key_value)]
        metadata: Vec<(String, String)>,
    },
    /// List a thread's messages, newest first.
    List {
        #[command(flatten)]
        thread: ThreadArg,
        /// Only messages at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
    },
    /// Get one message.
    Get {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
    },
    /// Change a message's content.
    Update {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
        /// The new content.
        #[arg(long)]
        content: String,
    },
    /// Delete a message.
    Delete {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
    },
    /// Read receipts.
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Mark a message (and those before it) as read.
    Send {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
    },
    /// List a thread's read receipts.
    List {
        #[command(flatten)]
        thread: ThreadArg,
        /// Skip this many receipts.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
        skip: Option<i32>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ParticipantCommand {
    /// Add a participant.
    Add {
        #[command(flatten)]
        thread: ThreadArg,
        /// The participant's raw id (8:acs:…, 4:+1…, 8:orgid:…).
        #[arg(long, value_name = "RAW_ID", value_parser = parse_raw_id)]
        user: CommunicationIdentifier,
        /// The participant's display name.
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// Share the history from this time on (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
    },
    /// List a thread's participants.
    List {
        #[command(flatten)]
        thread: ThreadArg,
        /// Skip this many participants.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
        skip: Option<i32>,
    },
    /// Remove a participant.
    Remove {
        #[command(flatten)]
        thread: ThreadArg,
        /// The participant's raw id.
        #[arg(long, value_name = "RAW_ID", value_parser = parse_raw_id)]
        user: CommunicationIdentifier,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TypingCommand {
    /// Tell the other participants you are typing.
    Send {
        #[command(flatten)]
        thread: ThreadArg,
        /// The sender's display name.
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Create a user, and with --scopes a token for it.
    Create {
        /// Also issue a token with these scopes (comma-separated: chat, chat.join, voip, ...).
        #[arg(long, value_name = "SCOPES", value_delimiter = ',', num_args = 1.., value_parser = non_empty)]
        scopes: Vec<String>,
    },
    /// Issue an access token for a user.
    Token {
        /// The user's raw id (8:acs:…).
        #[arg(long, value_name = "RAW_ID", value_parser = parse_raw_id)]
        user: CommunicationIdentifier,
        /// The token's scopes (comma-separated).
        #[arg(long, value_name = "SCOPES", value_delimiter = ',', num_args = 1.., default_value = "chat", value_parser = non_empty)]
        scopes: Vec<String>,
    },
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

fn parse_time(s: &str) -> Result<DateTime, String> {
    DateTime::parse(s).map_err(|e| format!("{e} (expected e.g. 2024-05-01T12:00:00Z)"))
}

/// A raw id: `<prefix>:<rest>`, where the prefix is a number (`8:acs:…`, `4:+1…`,
/// `28:orgid:…`), without spaces.
fn parse_raw_id(s: &str) -> Result<CommunicationIdentifier, String> {
    let hint = "expected a raw id such as 8:acs:<resource>_<user>, 4:+14255550123 or \
                8:orgid:<object id>";
    if s.is_empty() {
        return Err(format!("the raw id is empty ({hint})"));
    }
    let well_formed = match s.split_once(':') {
        Some((prefix, rest)) => {
            !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if well_formed {
        Ok(CommunicationIdentifier::from_raw_id(s))
    } else {
        Err(format!("`{}` is not a raw id ({hint})", s.escape_debug()))
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{}` is not KEY=VALUE", s.escape_debug())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn raw_ids_are_checked_and_classified() {
        assert!(matches!(
            parse_raw_id("8:acs:res_user"),
            Ok(CommunicationIdentifier::CommunicationUser(_))
        ));
        assert!(matches!(
            parse_raw_id("4:+14255550123"),
            Ok(CommunicationIdentifier::PhoneNumber(_))
        ));
        assert!(matches!(
            parse_raw_id("8:orgid:0000"),
            Ok(CommunicationIdentifier::MicrosoftTeamsUser(_))
        ));
        for bad in ["", "alice", ":x", "8:", "x:y", "8:acs: x", "8:acs:\u{1b}"] {
            assert!(parse_raw_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_values_need_a_key() {
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_owned(), "b=c".to_owned()))
        );
        assert_eq!(parse_key_value("a="), Ok(("a".to_owned(), String::new())));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }
}
