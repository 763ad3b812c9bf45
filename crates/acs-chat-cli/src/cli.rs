//! The command tree, with the names and flags of `az communication chat` and
//! `az communication identity`.
//!
//! Each option is defined on the command groups it applies to (`global` within the group), so
//! `emulator --help` does not list `--access-token`. Options written before the group
//! (`acs-chat --endpoint URL thread list`) are moved after the command by [`hoist_options`].

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use acs_chat::{CommunicationIdentifier, DateTime};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Azure Communication Services Chat from the terminal, with the commands and flags of
/// `az communication chat`.
#[derive(Debug, Parser)]
#[command(name = "acs-chat", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How to reach the service as a chat user (chat command groups).
///
/// The environment variables are read here rather than by clap, so that a value from the
/// environment is never shown in a usage line as if it had been typed.
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    // `help` rather than a doc comment: rustdoc would read `<resource>` as an HTML tag.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The resource's endpoint, e.g. https://<resource>.communication.azure.com \
                [env: AZURE_COMMUNICATION_ENDPOINT] [default: the endpoint of --connection-string]"
    )]
    endpoint: Option<String>,
    /// A user access token [env: AZURE_COMMUNICATION_ACCESS_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN")]
    access_token: Option<String>,
    /// The resource's connection string, for its endpoint
    /// [env: AZURE_COMMUNICATION_CONNECTION_STRING].
    #[arg(long, global = true, value_name = "CONNECTION_STRING")]
    connection_string: Option<String>,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
}

impl ChatArgs {
    /// `--endpoint`, or `AZURE_COMMUNICATION_ENDPOINT`.
    pub(crate) fn endpoint(&self) -> Option<String> {
        flag_or_env(&self.endpoint, "AZURE_COMMUNICATION_ENDPOINT")
    }

    /// `--access-token`, or `AZURE_COMMUNICATION_ACCESS_TOKEN`.
    pub(crate) fn access_token(&self) -> Option<String> {
        flag_or_env(&self.access_token, "AZURE_COMMUNICATION_ACCESS_TOKEN")
    }

    /// `--connection-string`, or `AZURE_COMMUNICATION_CONNECTION_STRING`.
    pub(crate) fn connection_string(&self) -> Option<String> {
        flag_or_env(&self.connection_string, CONNECTION_STRING_ENV)
    }
}

/// How to reach the service with the resource's key (identity commands).
#[derive(Debug, Args)]
pub(crate) struct IdentityArgs {
    /// The resource's connection string [env: AZURE_COMMUNICATION_CONNECTION_STRING].
    #[arg(long, global = true, value_name = "CONNECTION_STRING")]
    connection_string: Option<String>,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
}

impl IdentityArgs {
    /// `--connection-string`, or `AZURE_COMMUNICATION_CONNECTION_STRING`.
    pub(crate) fn connection_string(&self) -> Option<String> {
        flag_or_env(&self.connection_string, CONNECTION_STRING_ENV)
    }
}

const CONNECTION_STRING_ENV: &str = "AZURE_COMMUNICATION_CONNECTION_STRING";

/// The flag's value, or else the environment variable's when it is set and not empty.
fn flag_or_env<T: Clone + From<String>>(flag: &Option<T>, var: &str) -> Option<T> {
    flag.clone().or_else(|| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(T::from)
    })
}

/// Options of every command that calls the service.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// The api-version to send [default: the client's].
    #[arg(long, global = true, value_name = "VERSION", value_parser = non_empty)]
    pub(crate) api_version: Option<String>,
    /// Also trust this CA certificate (PEM file), e.g. an emulator's [env: ACS_CHAT_CA_CERT].
    #[arg(long, global = true, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Allow a plain http:// endpoint (loopback emulators only).
    #[arg(long, global = true)]
    pub(crate) allow_http: bool,
    /// Give up on a call (retries and waits included) after this many seconds [default: the
    /// client's retry limits only].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) timeout: Option<Duration>,
    /// Trace requests on stderr (operation, status, request id, timing; never the token).
    #[arg(long, global = true)]
    pub(crate) verbose: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

impl CommonArgs {
    /// `--ca-cert`, or `ACS_CHAT_CA_CERT`.
    pub(crate) fn ca_cert(&self) -> Option<PathBuf> {
        flag_or_env(&self.ca_cert, "ACS_CHAT_CA_CERT")
    }
}

/// How results are printed.
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,
    /// A JMESPath query applied to the result before it is printed (e.g. "[].id"); a list is
    /// then read whole, up to --max-items or 10000 items.
    #[arg(long, global = true, value_name = "JMESPATH", value_parser = parse_query)]
    pub(crate) query: Option<String>,
}

/// `--max-items` and `--page-size`, on list commands.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ListArgs {
    /// Stop after this many items.
    #[arg(long, value_name = "N")]
    pub(crate) max_items: Option<usize>,
    /// Items per page asked of the service (every page is followed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) page_size: Option<i32>,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// JSON, with the REST API's field names.
    Json,
    /// JSON, colored on a terminal.
    Jsonc,
    /// Aligned columns, for people.
    Table,
    /// Values only, tab-separated, one line per item (no header).
    Tsv,
    /// YAML.
    Yaml,
    /// YAML, colored on a terminal.
    Yamlc,
    /// Nothing (the exit code tells how it went).
    None,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, show, list, update and delete chat threads.
    Thread {
        #[command(flatten)]
        service: ChatArgs,
        #[command(subcommand)]
        command: ThreadCommand,
    },
    /// Send, list, get, update and delete messages; read receipts.
    Message {
        #[command(flatten)]
        service: ChatArgs,
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Add, list and remove the participants of a thread.
    Participant {
        #[command(flatten)]
        service: ChatArgs,
        #[command(subcommand)]
        command: ParticipantCommand,
    },
    /// Typing notifications.
    Typing {
        #[command(flatten)]
        service: ChatArgs,
        #[command(subcommand)]
        command: TypingCommand,
    },
    /// Receive chat events as they happen: by polling (`watch`) or from Event Grid (`listen`),
    /// one line per event.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Create and delete users, issue and revoke their access tokens (needs a connection
    /// string), as `az communication identity`.
    Identity {
        #[command(flatten)]
        service: IdentityArgs,
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Run the local emulator in the foreground until Ctrl-C or SIGTERM.
    Emulator {
        #[command(flatten)]
        serve: acs_chat_emulator::ServeArgs,
        /// Log every request in detail on stderr.
        #[arg(long)]
        verbose: bool,
    },
    /// Print a shell completion script, e.g. `acs-chat completions bash > ~/.bash_completion.d/acs-chat`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--thread` / `-t`.
#[derive(Debug, Args)]
pub(crate) struct ThreadArg {
    /// The thread id.
    #[arg(long = "thread", short = 't', value_name = "ID", value_parser = non_empty)]
    pub(crate) id: String,
}

/// `--metadata`.
#[derive(Debug, Args)]
pub(crate) struct MetadataArg {
    /// Metadata as key=value pairs (a later pair with the same key wins).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_key_value)]
    pub(crate) metadata: Vec<(String, String)>,
}

/// The retention policy of a thread.
#[derive(Debug, Args)]
pub(crate) struct RetentionArgs {
    /// Delete the thread this many days after its creation.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) delete_after_days: Option<i32>,
    /// Keep the thread until it is deleted (the retention policy `none`).
    #[arg(long, conflicts_with = "delete_after_days")]
    pub(crate) no_retention_policy: bool,
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
        #[command(flatten)]
        metadata: MetadataArg,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Show a thread's properties (topic, creator, metadata, retention policy).
    #[command(visible_alias = "get")]
    Show {
        #[command(flatten)]
        thread: ThreadArg,
    },
    /// List your threads, most recent first.
    List {
        /// Only threads with a message at or after this time (UTC unless it has an offset).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Change a thread's topic, metadata or retention policy (what is not given stays).
    #[command(group(ArgGroup::new("change").required(true).multiple(true)
        .args(["topic", "metadata", "delete_after_days", "no_retention_policy"])))]
    Update {
        #[command(flatten)]
        thread: ThreadArg,
        /// The new topic.
        #[arg(long)]
        topic: Option<String>,
        /// The new metadata (replaces the thread's metadata).
        #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_key_value)]
        metadata: Vec<(String, String)>,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Change a thread's topic.
    UpdateTopic {
        #[command(flatten)]
        thread: ThreadArg,
        /// The new topic.
        #[arg(long)]
        topic: String,
    },
    /// Delete a thread for everyone.
    Delete {
        #[command(flatten)]
        thread: ThreadArg,
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
        #[command(flatten)]
        metadata: MetadataArg,
    },
    /// List a thread's messages, newest first.
    List {
        #[command(flatten)]
        thread: ThreadArg,
        /// Only messages at or after this time (UTC unless it has an offset).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get one message.
    Get {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
    },
    /// Change a message's content or metadata.
    #[command(group(ArgGroup::new("change").required(true).multiple(true)
        .args(["content", "metadata"])))]
    Update {
        #[command(flatten)]
        thread: ThreadArg,
        /// The message id.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        message_id: String,
        /// The new content.
        #[arg(long)]
        content: Option<String>,
        /// The new metadata (replaces the message's metadata).
        #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_key_value)]
        metadata: Vec<(String, String)>,
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
    /// Print the thread's changes as they happen (messages received, edited and deleted,
    /// participants and topic), one line per event, until Ctrl-C, SIGTERM or --max-events.
    Watch {
        #[command(flatten)]
        thread: ThreadArg,
        #[command(flatten)]
        watch: WatchArgs,
    },
}

/// Where a watch starts and when it stops.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Start at this time instead of now (UTC unless it has an offset; 1970-01-01: the whole
    /// history).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) since: Option<DateTime>,
    /// Stop after this many events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_events: Option<u64>,
    /// Save where the watch stands in this file after every event, and resume from it when it
    /// exists (nothing is printed twice or missed across restarts; --since is then ignored).
    #[arg(long, value_name = "FILE")]
    pub(crate) cursor_file: Option<PathBuf>,
    /// The shortest and the longest pause between two polls, in seconds [default: 1 and 30].
    #[arg(long, value_name = "SECONDS", num_args = 2, value_parser = parse_seconds)]
    pub(crate) poll_interval: Vec<Duration>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Print the changes in every thread of the user as they happen, one line per event,
    /// until Ctrl-C, SIGTERM or --max-events.
    Watch {
        #[command(flatten)]
        service: ChatArgs,
        #[command(flatten)]
        watch: WatchArgs,
    },
    /// Receive Event Grid webhook deliveries (ACS chat events; Event Grid or CloudEvents
    /// schema) on a local port and print each event once, one line per event, until Ctrl-C,
    /// SIGTERM or --max-events. Event Grid delivers to public HTTPS endpoints only: expose the
    /// port through a tunnel, or point the emulator's --event-webhook at it.
    Listen {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
        host: IpAddr,
        /// The port (0: any free port, printed on stderr).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Require `?code=SECRET` in the delivery URL (put it in the subscription's endpoint)
        /// [env: ACS_CHAT_WEBHOOK_SECRET].
        #[arg(long, value_name = "SECRET")]
        secret: Option<String>,
        /// Stop after this many events.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        max_events: Option<u64>,
        /// Trace requests on stderr.
        #[arg(long, global = true)]
        verbose: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
}

impl EventsCommand {
    /// `--secret`, or `ACS_CHAT_WEBHOOK_SECRET`.
    pub(crate) fn secret(secret: &Option<String>) -> Option<String> {
        flag_or_env(secret, "ACS_CHAT_WEBHOOK_SECRET")
    }
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
        #[command(flatten)]
        list: ListArgs,
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
        /// Share the history from this time on (UTC unless it has an offset).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_time: Option<DateTime>,
        #[command(flatten)]
        metadata: MetadataArg,
    },
    /// List a thread's participants.
    List {
        #[command(flatten)]
        thread: ThreadArg,
        /// Skip this many participants.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
        skip: Option<i32>,
        #[command(flatten)]
        list: ListArgs,
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

/// `--scope`: token scopes, space- or comma-separated.
const SCOPE_HELP: &str =
    "The token's scopes: chat, chat.join, chat.join.limited, voip, voip.join (several allowed)";

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Create and delete users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Issue and revoke access tokens.
    #[command(args_conflicts_with_subcommands = true)]
    Token(TokenArgs),
    /// Create a user, and with --scopes a token for it (use `user create` or `token issue`).
    #[command(hide = true)]
    Create {
        /// Also issue a token with these scopes.
        #[arg(long, value_name = "SCOPES", value_delimiter = ',', num_args = 1.., value_parser = non_empty)]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; prints its id.
    Create,
    /// Delete a user, revoke its tokens and delete its data.
    Delete {
        /// The user's id (8:acs:…).
        #[arg(long, value_name = "ID", value_parser = parse_acs_user)]
        userid: String,
    },
}

/// `identity token`: `issue` / `revoke`, or the old form `identity token --user ID`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    pub(crate) command: Option<TokenCommand>,
    /// The user's raw id (the old form of `token issue --userid`).
    #[arg(long, value_name = "RAW_ID", value_parser = parse_acs_user, hide = true)]
    pub(crate) user: Option<String>,
    /// The token's scopes (the old form of `token issue --scope`).
    #[arg(long, value_name = "SCOPES", value_delimiter = ',', num_args = 1.., default_value = "chat", value_parser = non_empty, hide = true)]
    pub(crate) scopes: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue an access token for a user; without --userid, for a new user (as az does).
    Issue {
        #[arg(long, short = 's', value_name = "SCOPE", required = true, num_args = 1.., value_delimiter = ',', value_parser = non_empty, help = SCOPE_HELP)]
        scope: Vec<String>,
        /// The user's id (8:acs:…) [default: a new user].
        #[arg(long, short = 'u', value_name = "ID", value_parser = parse_acs_user)]
        userid: Option<String>,
        /// The token's lifetime in minutes, 60 to 1440 [default: the service's, 1440].
        #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(i32).range(60..=1440))]
        expires_in: Option<i32>,
    },
    /// Revoke every access token of a user.
    Revoke {
        /// The user's id (8:acs:…).
        #[arg(long, short = 'u', value_name = "ID", value_parser = parse_acs_user)]
        userid: String,
    },
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

/// A point in time, read as UTC unless it carries an offset: RFC 3339
/// (`2024-05-01T12:00:00Z`), or what `az` shows (`2022-07-14T10:21`, `2022-07-14`), with `T` or
/// a space between date and time.
pub(crate) fn parse_time(s: &str) -> Result<DateTime, String> {
    let hint = "expected e.g. 2024-05-01T12:00:00Z, 2022-07-14T10:21 or 2022-07-14, read as UTC";
    let text = s.trim();
    let digits = |t: &str, at: &[usize]| {
        at.iter()
            .all(|&i| t.as_bytes().get(i).is_some_and(u8::is_ascii_digit))
    };
    let date_only = text.len() == 10 && digits(text, &[0, 1, 2, 3, 5, 6, 8, 9]);
    let mut full = if date_only {
        format!("{text}T00:00:00")
    } else {
        text.replacen(' ', "T", 1)
    };
    // `YYYY-MM-DDTHH:MM`: add the seconds.
    if full.len() == 16 && digits(&full, &[11, 12, 14, 15]) {
        full.push_str(":00");
    }
    // No offset: UTC.
    let time = full.get(11..).unwrap_or("");
    if !time.is_empty() && !time.contains(['Z', 'z', '+', '-']) {
        full.push('Z');
    }
    DateTime::parse(&full)
        .map_err(|_| format!("`{}` is not a date-time ({hint})", s.escape_debug()))
}

/// `--timeout`: positive seconds, fractions allowed.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .and_then(|n| Duration::try_from_secs_f64(n).ok())
        .ok_or_else(|| "expected a positive number of seconds, e.g. 30 or 2.5".to_owned())
}

/// `--query`: must compile.
fn parse_query(s: &str) -> Result<String, String> {
    jmespath::compile(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not a JMESPath expression: {e}"))
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

/// An ACS user's id (`8:acs:…`): tokens are issued for these only.
fn parse_acs_user(s: &str) -> Result<String, String> {
    match parse_raw_id(s)? {
        CommunicationIdentifier::CommunicationUser(user) => Ok(user.id),
        _ => Err(format!(
            "`{}` is not an ACS user: tokens are issued for ACS users (8:acs:…)",
            s.escape_debug()
        )),
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{}` is not KEY=VALUE", s.escape_debug())),
    }
}

/// Moves the options written before the command group to the end of the command line, where
/// the group's options are known: `acs-chat -o table thread list` is
/// `acs-chat thread list -o table`. Anything it does not recognise is left for clap to report.
pub(crate) fn hoist_options(args: Vec<OsString>) -> Vec<OsString> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut end = 1;
    while let Some(arg) = args.get(end).and_then(|a| a.to_str()) {
        let takes_value = match option_name(arg) {
            Some((name, attached)) => match takes_value(&command, name) {
                Some(takes) => takes && !attached,
                None => return args,
            },
            None => break,
        };
        end += if takes_value { 2 } else { 1 };
    }
    if end == 1 || end >= args.len() {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    out.push(args[0].clone());
    out.extend_from_slice(&args[end..]);
    out.extend_from_slice(&args[1..end]);
    out
}

/// `--name` / `--name=v` / `-x` / `-xv`: the name and whether a value is attached.
fn option_name(arg: &str) -> Option<(&str, bool)> {
    if let Some(long) = arg.strip_prefix("--") {
        if long.is_empty() {
            return None;
        }
        return Some(match long.split_once('=') {
            Some((name, _)) => (name, true),
            None => (long, false),
        });
    }
    let short = arg.strip_prefix('-')?;
    let first = short.chars().next()?;
    Some((&short[..first.len_utf8()], short.len() > first.len_utf8()))
}

/// Whether the option `name` (long or short) takes a value, for the first command in the
/// tree that has it; `None` when no command has it, or for help and version (kept in place).
fn takes_value(command: &clap::Command, name: &str) -> Option<bool> {
    if matches!(name, "help" | "h" | "version" | "V") {
        return None;
    }
    let found = command.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_short().is_some_and(|s| s.to_string() == name)
    });
    if let Some(arg) = found {
        return Some(arg.get_action().takes_values());
    }
    command
        .get_subcommands()
        .find_map(|sub| takes_value(sub, name))
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
        assert_eq!(parse_acs_user("8:acs:r_u").as_deref(), Ok("8:acs:r_u"));
        assert!(parse_acs_user("4:+14255550123").is_err());
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

    #[test]
    fn times_are_rfc_3339_or_what_az_shows_read_as_utc() {
        let t = |s: &str| parse_time(s).map(|t| t.to_string());
        assert_eq!(t("2022-07-14T10:21").as_deref(), Ok("2022-07-14T10:21:00Z"));
        assert_eq!(t("2022-07-14 10:21").as_deref(), Ok("2022-07-14T10:21:00Z"));
        assert_eq!(
            t("2022-07-14T10:21:05").as_deref(),
            Ok("2022-07-14T10:21:05Z")
        );
        assert_eq!(t("2022-07-14").as_deref(), Ok("2022-07-14T00:00:00Z"));
        assert_eq!(
            t("2024-05-01T12:00:00Z").as_deref(),
            Ok("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            t("2024-05-01T12:00:00+02:00").as_deref(),
            Ok("2024-05-01T10:00:00Z")
        );
        for bad in [
            "yesterday",
            "2022-13-01",
            "2022-07-14T25:00",
            "",
            "14/07/2022",
        ] {
            assert!(t(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seconds_are_positive() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "-1", "NaN", "inf", "soon", "1e300"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn options_before_the_group_move_to_the_end() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            hoist_options(os(&[
                "acs-chat",
                "--endpoint",
                "u",
                "-o",
                "table",
                "--verbose",
                "thread",
                "list"
            ])),
            os(&[
                "acs-chat",
                "thread",
                "list",
                "--endpoint",
                "u",
                "-o",
                "table",
                "--verbose"
            ])
        );
        assert_eq!(
            hoist_options(os(&[
                "acs-chat",
                "--output=tsv",
                "-otable",
                "thread",
                "list"
            ])),
            os(&["acs-chat", "thread", "list", "--output=tsv", "-otable"])
        );
        // Nothing to move, help, unknown options: unchanged.
        for args in [
            &["acs-chat", "thread", "list"][..],
            &["acs-chat", "--help"],
            &["acs-chat", "--version", "thread"],
            &["acs-chat", "--nonsense", "thread", "list"],
            &["acs-chat", "--endpoint"],
        ] {
            assert_eq!(hoist_options(os(args)), os(args));
        }
    }
}
