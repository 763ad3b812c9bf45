//! Running a parsed command: build the client from the command group's options, make the
//! call, print.

use std::net::IpAddr;

use acs_chat::models::ChatParticipant;
use acs_chat::models::{
    AddChatParticipantsResult, ChatMessageType, ChatRetentionPolicy, CommunicationError,
    CreateChatThreadResult, NoneRetentionPolicy, ThreadCreationDateRetentionPolicy,
};
use acs_chat::{
    AccessToken, ChatClient, CommunicationTokenCredential, ConnectionString,
    CreateChatThreadOptions, Endpoint, ErrorKind, IdentityClient, ListChatMessagesOptions,
    ListChatParticipantsOptions, ListChatReadReceiptsOptions, ListChatThreadsOptions,
    RejectedParticipant, RetryOptions, SendChatMessageOptions, SendTypingNotificationOptions,
    TokenScope, UpdateChatMessageOptions, UpdateChatThreadPropertiesOptions,
};
use serde_json::json;

use crate::cli::{
    ChatArgs, Cli, Command, CommonArgs, EventsCommand, IdentityArgs, IdentityCommand,
    MessageCommand, MessageType, ParticipantCommand, ReceiptCommand, RetentionArgs, ThreadCommand,
    TokenArgs, TokenCommand, TypingCommand, UserCommand,
};
use crate::failure::{Failure, call_failed, describe, note_plain_http};
use crate::output::{self, Printer, write_stderr};
use crate::text::{redact_url, sanitize};

pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Thread { service, command } => thread(&service, command).await,
        Command::Message { service, command } => message(&service, command).await,
        Command::Participant { service, command } => participants(&service, command).await,
        Command::Typing {
            service,
            command:
                TypingCommand::Send {
                    thread,
                    display_name,
                },
        } => {
            let mut options = SendTypingNotificationOptions::default();
            if let Some(name) = display_name {
                options = options.sender_display_name(name);
            }
            let client = make_chat_client(&service)?.chat_thread_client(thread.id);
            client
                .send_typing_notification(options)
                .await
                .map_err(call_failed)
        }
        Command::Identity { service, command } => identity(&service, command).await,
        Command::Events { command } => match command {
            EventsCommand::Watch { service, watch } => {
                let client = make_chat_client(&service)?;
                crate::events::watch(&service, client, None, watch).await
            }
            EventsCommand::Listen {
                host,
                port,
                secret,
                max_events,
                output,
                ..
            } => {
                let secret = EventsCommand::secret(&secret);
                crate::events::listen((host, port).into(), secret, max_events, &output).await
            }
        },
        Command::Emulator { serve, .. } => crate::emulator::run(serve).await,
        Command::Completions { .. } => Ok(()),
    }
}

fn metadata_map(
    pairs: Vec<(String, String)>,
) -> Option<std::collections::BTreeMap<String, String>> {
    // A later pair with the same key wins.
    (!pairs.is_empty()).then(|| pairs.into_iter().collect())
}

fn retention_policy(r: &RetentionArgs) -> Option<ChatRetentionPolicy> {
    if r.no_retention_policy {
        return Some(ChatRetentionPolicy::None(NoneRetentionPolicy::new()));
    }
    r.delete_after_days.map(|days| {
        ChatRetentionPolicy::ThreadCreationDate(ThreadCreationDateRetentionPolicy::new(days))
    })
}

async fn thread(g: &ChatArgs, command: ThreadCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    let out = Printer::new(&g.common.output);
    match command {
        ThreadCommand::Create {
            topic,
            idempotency_token,
            metadata,
            retention,
        } => {
            let mut options = CreateChatThreadOptions::default();
            if let Some(id) = idempotency_token {
                options = options.repeatability_request_id(id);
            }
            options.metadata = metadata_map(metadata.metadata);
            options.retention_policy = retention_policy(&retention);
            let created = client
                .create_chat_thread(topic, options)
                .await
                .map_err(call_failed)?;
            let mut result = CreateChatThreadResult::default();
            result.chat_thread = Some(created.thread);
            result.invalid_participants = invalid(&created.rejected_participants);
            out.one(&result, &output::THREAD_CREATED)
        }
        ThreadCommand::Show { thread } => {
            let properties = client
                .chat_thread_client(thread.id)
                .get_properties()
                .await
                .map_err(call_failed)?;
            out.one(&properties, &output::THREAD)
        }
        ThreadCommand::List { start_time, list } => {
            let mut options = ListChatThreadsOptions::default();
            options.max_page_size = list.page_size;
            options.start_time = start_time;
            out.list(
                client.list_chat_threads(options),
                &output::THREADS,
                list.max_items,
            )
            .await
        }
        ThreadCommand::Update {
            thread,
            topic,
            metadata,
            retention,
        } => {
            let mut options = UpdateChatThreadPropertiesOptions::default();
            options.topic = topic;
            options.metadata = metadata_map(metadata);
            options.retention_policy = retention_policy(&retention);
            client
                .chat_thread_client(thread.id)
                .update_properties(options)
                .await
                .map_err(call_failed)
        }
        ThreadCommand::UpdateTopic { thread, topic } => client
            .chat_thread_client(thread.id)
            .update_topic(topic)
            .await
            .map_err(call_failed),
        ThreadCommand::Delete { thread } => client
            .delete_chat_thread(&thread.id)
            .await
            .map_err(call_failed),
    }
}

async fn message(g: &ChatArgs, command: MessageCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    let out = Printer::new(&g.common.output);
    match command {
        MessageCommand::Send {
            thread,
            content,
            display_name,
            message_type,
            metadata,
        } => {
            let mut options = SendChatMessageOptions::default();
            if let Some(name) = display_name {
                options = options.sender_display_name(name);
            }
            if let Some(kind) = message_type {
                options = options.kind(match kind {
                    MessageType::Text => ChatMessageType::Text,
                    MessageType::Html => ChatMessageType::Html,
                });
            }
            options.metadata = metadata_map(metadata.metadata);
            let id = client
                .chat_thread_client(thread.id)
                .send_message(content, options)
                .await
                .map_err(call_failed)?;
            out.one(&json!({ "id": id }), &output::MESSAGE_ID)
        }
        MessageCommand::List {
            thread,
            start_time,
            list,
        } => {
            let mut options = ListChatMessagesOptions::default();
            options.max_page_size = list.page_size;
            options.start_time = start_time;
            let pager = client.chat_thread_client(thread.id).list_messages(options);
            out.list(pager, &output::MESSAGES, list.max_items).await
        }
        MessageCommand::Get { thread, message_id } => {
            let message = client
                .chat_thread_client(thread.id)
                .get_message(&message_id)
                .await
                .map_err(call_failed)?;
            out.one(&message, &output::MESSAGES)
        }
        MessageCommand::Update {
            thread,
            message_id,
            content,
            metadata,
        } => {
            let mut options = UpdateChatMessageOptions::default();
            options.content = content;
            options.metadata = metadata_map(metadata);
            client
                .chat_thread_client(thread.id)
                .update_message(&message_id, options)
                .await
                .map_err(call_failed)
        }
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
            command: ReceiptCommand::List { thread, skip, list },
        } => {
            let mut options = ListChatReadReceiptsOptions::default();
            options.max_page_size = list.page_size;
            options.skip = skip;
            let pager = client
                .chat_thread_client(thread.id)
                .list_read_receipts(options);
            out.list(pager, &output::RECEIPTS, list.max_items).await
        }
        MessageCommand::Watch { thread, watch } => {
            crate::events::watch(g, client, Some(thread.id), watch).await
        }
    }
}

async fn participants(g: &ChatArgs, command: ParticipantCommand) -> Result<(), Failure> {
    let client = make_chat_client(g)?;
    let out = Printer::new(&g.common.output);
    match command {
        ParticipantCommand::Add {
            thread,
            user,
            display_name,
            start_time,
            metadata,
        } => {
            let mut p = ChatParticipant::new(user.clone());
            p.display_name = display_name;
            p.share_history_time = start_time;
            p.metadata = metadata_map(metadata.metadata);
            let added = client
                .chat_thread_client(thread.id)
                .add_participants(vec![p])
                .await
                .map_err(call_failed)?;
            let mut result = AddChatParticipantsResult::default();
            result.invalid_participants = invalid(&added.rejected_participants);
            out.one(&result, &output::INVALID_PARTICIPANTS)?;
            match added.rejected_participants.first() {
                None => Ok(()),
                Some(rejected) => Err(Failure::Runtime(format!(
                    "{} was not added: {}: {}",
                    user.raw_id(),
                    rejected.error.code,
                    rejected.error.message
                ))),
            }
        }
        ParticipantCommand::List { thread, skip, list } => {
            let mut options = ListChatParticipantsOptions::default();
            options.max_page_size = list.page_size;
            options.skip = skip;
            let pager = client
                .chat_thread_client(thread.id)
                .list_participants(options);
            out.list(pager, &output::PARTICIPANTS, list.max_items).await
        }
        ParticipantCommand::Remove { thread, user } => client
            .chat_thread_client(thread.id)
            .remove_participant(&user)
            .await
            .map_err(call_failed),
    }
}

async fn identity(g: &IdentityArgs, command: IdentityCommand) -> Result<(), Failure> {
    let client = identity_client(g)?;
    let out = Printer::new(&g.common.output);
    match command {
        IdentityCommand::User {
            command: UserCommand::Create,
        } => {
            let user = client.create_user().await.map_err(call_failed)?;
            out.one(&json!({ "identity": { "id": user.id } }), &output::USER)
        }
        IdentityCommand::User {
            command: UserCommand::Delete { userid },
        } => client.delete_user(&userid).await.map_err(call_failed),
        IdentityCommand::Token(TokenArgs {
            command:
                Some(TokenCommand::Issue {
                    scope,
                    userid,
                    expires_in,
                }),
            ..
        }) => {
            let scopes = token_scopes(scope);
            let expires_in = validity(expires_in)?;
            // As `az communication identity token issue`: one shape with or without --userid.
            let (user_id, token) = match userid {
                Some(id) => {
                    let token = client
                        .get_token(&id, &scopes, expires_in)
                        .await
                        .map_err(call_failed)?;
                    (id, token)
                }
                None => {
                    let created = client
                        .create_user_and_token(&scopes, expires_in)
                        .await
                        .map_err(call_failed)?;
                    (created.user.id, created.token)
                }
            };
            let result = json!({
                "user_id": user_id,
                "token": token.secret(),
                "expires_on": token.expires_on(),
            });
            out.one(&result, &output::ISSUED_TOKEN)
        }
        IdentityCommand::Token(TokenArgs {
            command: Some(TokenCommand::Revoke { userid }),
            ..
        }) => client.revoke_tokens(&userid).await.map_err(call_failed),
        // The old forms: `identity token --user ID [--scopes …]`, `identity create [--scopes …]`.
        IdentityCommand::Token(TokenArgs {
            command: None,
            user,
            scopes,
        }) => {
            let Some(user) = user else {
                return Err(Failure::Usage(
                    "identity token: say `issue` or `revoke` (e.g. `acs-chat identity token \
                     issue --scope chat`)"
                        .into(),
                ));
            };
            let token = client
                .get_token(&user, &token_scopes(scopes), None)
                .await
                .map_err(call_failed)?;
            out.one(&token_json(&token), &output::TOKEN)
        }
        IdentityCommand::Create { scopes } if scopes.is_empty() => {
            let user = client.create_user().await.map_err(call_failed)?;
            out.one(&json!({ "identity": { "id": user.id } }), &output::USER)
        }
        IdentityCommand::Create { scopes } => {
            let created = client
                .create_user_and_token(&token_scopes(scopes), None)
                .await
                .map_err(call_failed)?;
            let result = json!({
                "identity": { "id": created.user.id },
                "accessToken": token_json(&created.token),
            });
            out.one(&result, &output::USER)
        }
    }
}

fn token_scopes(scopes: Vec<String>) -> Vec<TokenScope> {
    scopes
        .into_iter()
        .map(|s| TokenScope::from(s.trim()))
        .collect()
}

/// `--expires-in` minutes as the client takes them.
fn validity(minutes: Option<i32>) -> Result<Option<std::time::Duration>, Failure> {
    minutes
        .map(|m| {
            u64::try_from(m)
                .map(|m| std::time::Duration::from_secs(m * 60))
                .map_err(|_| {
                    Failure::Usage(format!("--expires-in: {m} is not a number of minutes"))
                })
        })
        .transpose()
}

/// A token as the Identity API writes it.
fn token_json(token: &AccessToken) -> serde_json::Value {
    json!({ "token": token.secret(), "expiresOn": token.expires_on() })
}

fn invalid(rejected: &[RejectedParticipant]) -> Option<Vec<CommunicationError>> {
    (!rejected.is_empty()).then(|| rejected.iter().map(|r| r.error.clone()).collect())
}

/// `message` with every copy of the user's `url` redacted (user info, query values): errors
/// that quote a malformed URL must not repeat a password or a signature.
fn hide_url(message: &str, url: &str) -> String {
    if url.is_empty() {
        return message.to_owned();
    }
    message.replace(url, &redact_url(url))
}

/// The text of the `endpoint=` in a connection string, to hide it in errors.
fn endpoint_in(connection_string: &str) -> &str {
    connection_string
        .split(';')
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim().eq_ignore_ascii_case("endpoint").then(|| v.trim())
        })
        .unwrap_or("")
}

/// The chat client from `--endpoint` (or the connection string's endpoint) and
/// `--access-token`.
fn make_chat_client(g: &ChatArgs) -> Result<ChatClient, Failure> {
    let c = &g.common;
    let endpoint = match (&g.endpoint(), &g.connection_string()) {
        (Some(url), _) => {
            let endpoint = Endpoint::parse(url).map_err(|e| {
                Failure::Usage(format!("--endpoint: {}", hide_url(&e.to_string(), url)))
            })?;
            check_endpoint(c, &endpoint, "--endpoint")?;
            endpoint
        }
        (None, Some(cs)) => {
            let cs = parse_connection_string(cs)?;
            check_endpoint(c, cs.endpoint(), "--connection-string")?;
            cs.endpoint().clone()
        }
        (None, None) => {
            return Err(Failure::Usage(
                "no endpoint: pass --endpoint <URL> or set AZURE_COMMUNICATION_ENDPOINT".into(),
            ));
        }
    };
    let Some(token) = &g.access_token() else {
        return Err(Failure::Usage(
            "no access token: pass --access-token <TOKEN> or set \
             AZURE_COMMUNICATION_ACCESS_TOKEN (`acs-chat identity token issue --scope chat` \
             issues one)"
                .into(),
        ));
    };
    // The credential's errors never contain the token.
    let credential = CommunicationTokenCredential::new(token.trim())
        .map_err(|e| Failure::Usage(format!("--access-token: {}", describe(&e))))?;
    let mut builder = ChatClient::builder(endpoint.to_string(), credential)
        .allow_insecure_http(c.allow_http)
        .retry(retry_options(c));
    if let Some(version) = &c.api_version {
        builder = builder.api_version(version.clone());
    }
    if let Some(pem) = ca_cert(c)? {
        builder = builder.add_root_certificate_pem(pem);
    }
    let client = builder.build().map_err(|e| build_failed(c, &e))?;
    if c.verbose {
        write_stderr(&format!(
            "acs-chat: endpoint {}, api-version {}",
            client.endpoint(),
            client.api_version()
        ));
    }
    Ok(client)
}

/// The identity client from `--connection-string`.
fn identity_client(g: &IdentityArgs) -> Result<IdentityClient, Failure> {
    let c = &g.common;
    let Some(text) = &g.connection_string() else {
        return Err(Failure::Usage(
            "identity commands need the resource's connection string: pass \
             --connection-string or set AZURE_COMMUNICATION_CONNECTION_STRING"
                .into(),
        ));
    };
    let cs = parse_connection_string(text)?;
    check_endpoint(c, cs.endpoint(), "--connection-string")?;
    let mut builder = acs_chat::IdentityClientBuilder::from_connection_string(cs)
        .allow_insecure_http(c.allow_http)
        .retry(retry_options(c));
    if let Some(version) = &c.api_version {
        builder = builder.api_version(version.clone());
    }
    if let Some(pem) = ca_cert(c)? {
        builder = builder.add_root_certificate_pem(pem);
    }
    builder.build().map_err(|e| build_failed(c, &e))
}

/// The client's retry rules, with `--timeout` as the budget of each call.
fn retry_options(c: &CommonArgs) -> RetryOptions {
    let options = RetryOptions::default();
    match c.timeout {
        Some(budget) => options.max_elapsed(budget),
        None => options,
    }
}

/// A client that cannot be built from the options: a usage error. The endpoint was checked
/// before, so a transport error here is about the `--ca-cert` file.
fn build_failed(c: &CommonArgs, e: &acs_chat::Error) -> Failure {
    // The client names the setting it refused: the CLI names its own flag instead.
    let about_ca = e.to_string().starts_with("add_root_certificate_pem: ");
    match (&c.ca_cert(), e.kind()) {
        (Some(path), ErrorKind::Transport) => {
            Failure::Usage(format!("--ca-cert {}: {}", path.display(), describe(e)))
        }
        (Some(path), ErrorKind::InvalidArgument) if about_ca => {
            let why = describe(e);
            let why = why.trim_start_matches("add_root_certificate_pem: ");
            Failure::Usage(format!("--ca-cert {}: {why}", path.display()))
        }
        _ => Failure::Usage(describe(e)),
    }
}

fn parse_connection_string(text: &str) -> Result<ConnectionString, Failure> {
    // The protocol's errors never contain the access key; the endpoint is hidden here.
    ConnectionString::parse(text).map_err(|e| {
        Failure::Usage(format!(
            "--connection-string: {}",
            hide_url(&e.to_string(), endpoint_in(text))
        ))
    })
}

/// Plain http only with `--allow-http` and only to a loopback address.
fn check_endpoint(c: &CommonArgs, endpoint: &Endpoint, flag: &str) -> Result<(), Failure> {
    note_plain_http(!endpoint.is_https());
    if endpoint.is_https() {
        return Ok(());
    }
    if !c.allow_http {
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
            "{flag}: --allow-http is for emulators on a loopback address, and {} is not one",
            sanitize(host)
        )));
    }
    Ok(())
}

fn ca_cert(c: &CommonArgs) -> Result<Option<Vec<u8>>, Failure> {
    c.ca_cert()
        .map(|path| {
            std::fs::read(&path)
                .map_err(|e| Failure::Usage(format!("--ca-cert {}: {e}", path.display())))
        })
        .transpose()
}
