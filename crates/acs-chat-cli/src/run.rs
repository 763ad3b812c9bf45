//! Running a parsed command: build the client from the global options, make the call, print.

use std::error::Error as _;
use std::io;
use std::net::IpAddr;

use acs_chat::models::{
    AddChatParticipantsResult, ChatMessageType, CommunicationError, CreateChatThreadResult,
};
use acs_chat::{
    ChatClient, CommunicationIdentifier, CommunicationTokenCredential, CreateChatThreadOptions,
    Endpoint, ErrorKind, IdentityClient, ListOptions, Pager, RejectedParticipant,
    SendMessageOptions, SkipListOptions, TokenScope, TypingNotificationOptions,
    UpdateMessageOptions, participant,
};
use acs_chat_protocol::identity::ConnectionString;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;

use crate::Failure;
use crate::cli::{
    Cli, Command, GlobalArgs, IdentityCommand, MessageCommand, MessageType, ParticipantCommand,
    ReceiptCommand, ThreadCommand, TypingCommand,
};
use crate::output::{self, Column, render, sanitize, write_stderr, write_stdout};

pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    let g = &cli.global;
    match cli.command {
        Command::Thread { command } => thread(g, command).await,
        Command::Message { command } => message(g, command).await,
        Command::Participant { command } => participants(g, command).await,
        Command::Typing {
            command:
                TypingCommand::Send {
                    thread,
                    display_name,
                },
        } => {
            let mut options = TypingNotificationOptions::new();
            if let Some(name) = display_name {
                options = options.sender_display_name(name);
            }
            let client = make_chat_client(g)?.chat_thread_client(thread.id);
            client
                .send_typing_notification(options)
                .await
                .map_err(call_failed)
        }
        Command::Identity { command } => identity(g, command).await,
        Command::Emulator(args) => crate::emulator::run(args).await,
    }
}

async fn thread(g: &GlobalArgs, command: ThreadCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    match command {
        ThreadCommand::Create {
            topic,
            idempotency_token,
        } => {
            let mut options = CreateChatThreadOptions::new();
            if let Some(id) = idempotency_token {
                options = options.repeatability_request_id(id);
            }
            let created = client
                .create_chat_thread(topic, options)
                .await
                .map_err(call_failed)?;
            let mut result = CreateChatThreadResult::default();
            result.chat_thread = Some(created.thread);
            result.invalid_participants = invalid(&created.rejected_participants);
            print(g, &result, output::THREAD_CREATED)
        }
        ThreadCommand::List { start_time } => {
            let mut options = list_options(g);
            if let Some(t) = start_time {
                options = options.start_time(t);
            }
            let threads = collect(client.list_chat_threads(options), g.max_items).await?;
            print(g, &threads, output::THREADS)
        }
        ThreadCommand::Delete { thread } => client
            .delete_chat_thread(&thread.id)
            .await
            .map_err(call_failed),
        ThreadCommand::UpdateTopic { thread, topic } => client
            .chat_thread_client(thread.id)
            .update_topic(topic)
            .await
            .map_err(call_failed),
    }
}

async fn message(g: &GlobalArgs, command: MessageCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    match command {
        MessageCommand::Send {
            thread,
            content,
            display_name,
            message_type,
            metadata,
        } => {
            let mut options = SendMessageOptions::new();
            if let Some(name) = display_name {
                options = options.sender_display_name(name);
            }
            if let Some(kind) = message_type {
                options = options.kind(match kind {
                    MessageType::Text => ChatMessageType::Text,
                    MessageType::Html => ChatMessageType::Html,
                });
            }
            if !metadata.is_empty() {
                // A later pair with the same key wins.
                options.metadata = Some(metadata.into_iter().collect());
            }
            let id = client
                .chat_thread_client(thread.id)
                .send_message(content, options)
                .await
                .map_err(call_failed)?;
            print(g, &json!({ "id": id }), output::MESSAGE_ID)
        }
        MessageCommand::List { thread, start_time } => {
            let mut options = list_options(g);
            if let Some(t) = start_time {
                options = options.start_time(t);
            }
            let pager = client.chat_thread_client(thread.id).list_messages(options);
            let messages = collect(pager, g.max_items).await?;
            print(g, &messages, output::MESSAGES)
        }
        MessageCommand::Get { thread, message_id } => {
            let message = client
                .chat_thread_client(thread.id)
                .get_message(&message_id)
                .await
                .map_err(call_failed)?;
            print(g, &message, output::MESSAGES)
        }
        MessageCommand::Update {
            thread,
            message_id,
            content,
        } => client
            .chat_thread_client(thread.id)
            .update_message(&message_id, UpdateMessageOptions::new().content(content))
            .await
            .map_err(call_failed),
        MessageCommand::Delete { thread, message_id } => client
            .chat_thread_client(thread.id)
            .delete_message(&message_id)
            .await
            .map_err(call_failed),
        MessageCommand::Receipt {
            command: ReceiptCommand::Send { thread, message_id },
        } => client
            .chat_thread_client(thread.id)
            .send_read_receipt(&message_id)
            .await
            .map_err(call_failed),
        MessageCommand::Receipt {
            command: ReceiptCommand::List { thread, skip },
        } => {
            let pager = client
                .chat_thread_client(thread.id)
                .list_read_receipts(skip_options(g, skip));
            let receipts = collect(pager, g.max_items).await?;
            print(g, &receipts, output::RECEIPTS)
        }
    }
}

async fn participants(g: &GlobalArgs, command: ParticipantCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    match command {
        ParticipantCommand::Add {
            thread,
            user,
            display_name,
            start_time,
        } => {
            let mut p = participant(&user, display_name.as_deref());
            p.share_history_time = start_time;
            let added = client
                .chat_thread_client(thread.id)
                .add_participants(vec![p])
                .await
                .map_err(call_failed)?;
            let mut result = AddChatParticipantsResult::default();
            result.invalid_participants = invalid(&added.rejected_participants);
            print(g, &result, output::INVALID_PARTICIPANTS)?;
            match added.rejected_participants.first() {
                None => Ok(()),
                Some(rejected) => Err(Failure::Runtime(sanitize(&format!(
                    "{} was not added: {}: {}",
                    user.raw_id(),
                    rejected.error.code,
                    rejected.error.message
                )))),
            }
        }
        ParticipantCommand::List { thread, skip } => {
            let pager = client
                .chat_thread_client(thread.id)
                .list_participants(skip_options(g, skip));
            let participants = collect(pager, g.max_items).await?;
            print(g, &participants, output::PARTICIPANTS)
        }
        ParticipantCommand::Remove { thread, user } => client
            .chat_thread_client(thread.id)
            .remove_participant(&user)
            .await
            .map_err(call_failed),
    }
}

async fn identity(g: &GlobalArgs, command: IdentityCommand) -> Result<(), Failure> {
    let client = identity_client(g)?;
    match command {
        IdentityCommand::Create { scopes } if scopes.is_empty() => {
            let user = client.create_user().await.map_err(call_failed)?;
            print(g, &json!({ "identity": { "id": user.id } }), output::USER)
        }
        IdentityCommand::Create { scopes } => {
            let created = client
                .create_user_and_token(&token_scopes(scopes), None)
                .await
                .map_err(call_failed)?;
            let result = json!({
                "identity": { "id": created.user.id },
                "accessToken": created.token,
            });
            print(g, &result, output::USER)
        }
        IdentityCommand::Token { user, scopes } => {
            let CommunicationIdentifier::CommunicationUser(user) = user else {
                return Err(Failure::Usage(format!(
                    "--user: tokens are issued for ACS users (8:acs:…), not `{}`",
                    sanitize(&user.raw_id())
                )));
            };
            let token = client
                .get_token(&user.id, &token_scopes(scopes), None)
                .await
                .map_err(call_failed)?;
            print(g, &token, output::TOKEN)
        }
    }
}

fn token_scopes(scopes: Vec<String>) -> Vec<TokenScope> {
    scopes
        .into_iter()
        .map(|s| match s.trim() {
            "chat" => TokenScope::Chat,
            "chat.join" => TokenScope::ChatJoin,
            "chat.join.limited" => TokenScope::ChatJoinLimited,
            "voip" => TokenScope::Voip,
            "voip.join" => TokenScope::VoipJoin,
            other => TokenScope::Other(other.to_owned()),
        })
        .collect()
}

fn list_options(g: &GlobalArgs) -> ListOptions {
    let mut options = ListOptions::new();
    if let Some(n) = g.page_size {
        options = options.page_size(n);
    }
    options
}

fn skip_options(g: &GlobalArgs, skip: Option<i32>) -> SkipListOptions {
    let mut options = SkipListOptions::new();
    if let Some(n) = g.page_size {
        options = options.page_size(n);
    }
    if let Some(n) = skip {
        options = options.skip(n);
    }
    options
}

/// Follows every page (each fetched only when needed), up to `max` items.
async fn collect<T>(mut pager: Pager<T>, max: Option<usize>) -> Result<Vec<T>, Failure> {
    let mut items = Vec::new();
    while max.is_none_or(|max| items.len() < max) {
        match pager.next().await {
            None => break,
            Some(item) => items.push(item.map_err(call_failed)?),
        }
    }
    Ok(items)
}

fn invalid(rejected: &[RejectedParticipant]) -> Option<Vec<CommunicationError>> {
    (!rejected.is_empty()).then(|| rejected.iter().map(|r| r.error.clone()).collect())
}

fn print<T: Serialize>(g: &GlobalArgs, value: &T, columns: &[Column]) -> Result<(), Failure> {
    let text = render(value, g.output, columns)
        .map_err(|e| Failure::Runtime(format!("cannot format the result: {e}")))?;
    match write_stdout(&text) {
        // The reader went away (`| head`): nothing left to tell.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(format!("cannot write the output: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// The chat client from `--endpoint` (or the connection string's endpoint) and
/// `--access-token`.
fn make_chat_client(g: &GlobalArgs) -> Result<ChatClient, Failure> {
    let endpoint = match (&g.endpoint, &g.connection_string) {
        (Some(url), _) => {
            let endpoint =
                Endpoint::parse(url).map_err(|e| Failure::Usage(format!("--endpoint: {e}")))?;
            check_endpoint(g, &endpoint, "--endpoint")?;
            url.clone()
        }
        (None, Some(cs)) => {
            let cs = parse_connection_string(cs)?;
            check_endpoint(g, cs.endpoint(), "--connection-string")?;
            cs.endpoint().to_string()
        }
        (None, None) => {
            return Err(Failure::Usage(
                "no endpoint: pass --endpoint <URL> or set AZURE_COMMUNICATION_ENDPOINT".into(),
            ));
        }
    };
    let Some(token) = &g.access_token else {
        return Err(Failure::Usage(
            "no access token: pass --access-token <TOKEN> or set \
             AZURE_COMMUNICATION_ACCESS_TOKEN (`acs-chat identity token --user <RAW_ID>` issues one)"
                .into(),
        ));
    };
    // The credential's errors never contain the token.
    let credential = CommunicationTokenCredential::new(token.trim())
        .map_err(|e| Failure::Usage(format!("--access-token: {}", describe(&e))))?;
    let mut builder = ChatClient::builder(endpoint, credential).allow_insecure_http(g.allow_http);
    if let Some(version) = &g.api_version {
        builder = builder.api_version(version.clone());
    }
    if let Some(pem) = ca_cert(g)? {
        builder = builder.add_root_certificate_pem(pem);
    }
    let client = builder.build().map_err(|e| build_failed(g, &e))?;
    if g.verbose {
        write_stderr(&format!(
            "acs-chat: endpoint {}, api-version {}",
            client.endpoint(),
            client.api_version()
        ));
    }
    Ok(client)
}

/// The identity client from `--connection-string`.
fn identity_client(g: &GlobalArgs) -> Result<IdentityClient, Failure> {
    let Some(text) = &g.connection_string else {
        return Err(Failure::Usage(
            "identity commands need the resource's connection string: pass \
             --connection-string or set AZURE_COMMUNICATION_CONNECTION_STRING"
                .into(),
        ));
    };
    let cs = parse_connection_string(text)?;
    check_endpoint(g, cs.endpoint(), "--connection-string")?;
    let mut builder = IdentityClient::builder(text).allow_insecure_http(g.allow_http);
    if let Some(version) = &g.api_version {
        builder = builder.api_version(version.clone());
    }
    if let Some(pem) = ca_cert(g)? {
        builder = builder.add_root_certificate_pem(pem);
    }
    builder.build().map_err(|e| build_failed(g, &e))
}

/// A client that cannot be built from the options: a usage error. The endpoint was checked
/// before, so a transport error here is about the `--ca-cert` file.
fn build_failed(g: &GlobalArgs, e: &acs_chat::Error) -> Failure {
    match (&g.ca_cert, e.kind()) {
        (Some(path), ErrorKind::Transport) => {
            Failure::Usage(format!("--ca-cert {}: {}", path.display(), describe(e)))
        }
        _ => Failure::Usage(describe(e)),
    }
}

fn parse_connection_string(text: &str) -> Result<ConnectionString, Failure> {
    // The protocol's errors never contain the access key.
    ConnectionString::parse(text).map_err(|e| Failure::Usage(format!("--connection-string: {e}")))
}

/// Plain http only with `--allow-http` and only to a loopback address.
fn check_endpoint(g: &GlobalArgs, endpoint: &Endpoint, flag: &str) -> Result<(), Failure> {
    if endpoint.is_https() {
        return Ok(());
    }
    if !g.allow_http {
        return Err(Failure::Usage(format!(
            "{flag}: {endpoint} uses plain http, which would send credentials in clear text \
             (pass --allow-http for an emulator on a loopback address)"
        )));
    }
    let host = endpoint
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(Failure::Usage(format!(
            "{flag}: --allow-http is for emulators on a loopback address, and {host} is not one"
        )));
    }
    Ok(())
}

fn ca_cert(g: &GlobalArgs) -> Result<Option<Vec<u8>>, Failure> {
    g.ca_cert
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| Failure::Usage(format!("--ca-cert {}: {e}", path.display())))
        })
        .transpose()
}

/// A failed call: exit 1, or 2 when the client refused an argument.
fn call_failed(e: acs_chat::Error) -> Failure {
    let message = describe(&e);
    if e.kind() == ErrorKind::InvalidArgument {
        Failure::Usage(message)
    } else {
        Failure::Runtime(message)
    }
}

/// `<status> <code>: <message> (request id <id>)` for the service's errors; otherwise what
/// failed and why, down the source chain. Never contains a token (no error of the client or
/// the protocol does).
fn describe(e: &acs_chat::Error) -> String {
    let mut text = String::new();
    if let (ErrorKind::Service, Some(status)) = (e.kind(), e.status()) {
        text.push_str(status.as_str());
        if let Some(code) = e.code() {
            text.push(' ');
            text.push_str(code);
        }
        if let Some(message) = e.message() {
            text.push_str(": ");
            text.push_str(message);
        }
        let mut notes = Vec::new();
        if let Some(id) = e.request_id() {
            notes.push(format!("request id {id}"));
        }
        if e.attempts() > 1 {
            notes.push(format!("after {} attempts", e.attempts()));
        }
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join(", ")));
        }
    } else if let Some(t) = e.transport_error() {
        // `<operation>: <kind>: <context> (after N attempts): <root cause>`; the layers in
        // between (hyper's "client error (Connect)", ...) only repeat the kind.
        text.push_str(&e.to_string());
        let mut root = t.source();
        while let Some(next) = root.and_then(|s| s.source()) {
            root = Some(next);
        }
        if let Some(root) = root {
            text.push_str(": ");
            text.push_str(&root.to_string());
        }
    } else {
        text.push_str(&e.to_string());
        let mut source = e.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !text.contains(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            source = s.source();
        }
    }
    sanitize(&text)
}
