//! A bot that answers every message in its threads: the receiving side of a chat app, end to end
//! on the embedded emulator.
//!
//! ```sh
//! cargo run --example echo_bot                     # the bot learns of messages by polling
//! cargo run --example echo_bot -- --source webhook # from Event Grid deliveries (the emulator's)
//! ```
//!
//! The bot sees every thread it is in (`ChatClient::watch`, or an `EventGridListener` the
//! emulator delivers to as Event Grid would) and answers each message from someone else with an
//! echo. A person (Alice) writes three messages and watches her thread for the answers; the
//! example ends once all three came back.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use acs_chat::futures::{Stream, StreamExt as _};
use acs_chat::models::ChatParticipant;
use acs_chat::{
    ChatClient, ChatEvent, CommunicationIdentifier, CreateChatThreadOptions,
    SendChatMessageOptions, WatchOptions,
};

/// Where the bot learns of new messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Polling,
    Webhook,
}

fn source() -> Result<Source, support::BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["--source", "polling"] => Ok(Source::Polling),
        ["--source", "webhook"] => Ok(Source::Webhook),
        _ => Err("usage: echo_bot [--source polling|webhook]".into()),
    }
}

type Events = std::pin::Pin<Box<dyn Stream<Item = ChatEvent> + Send>>;

/// The bot's events by polling every thread it is in.
async fn polled(bot: &ChatClient) -> Result<Events, support::BoxError> {
    let watch = bot
        .watch(
            WatchOptions::default().intervals(Duration::from_millis(100), Duration::from_secs(2)),
        )
        .await?;
    // A failed poll is an item (the watch goes on after a pause); this bot just logs it.
    Ok(Box::pin(watch.filter_map(|item| async move {
        item.map_err(|e| eprintln!("bot: a poll failed: {e}")).ok()
    })))
}

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let source = source()?;
    // With Event Grid, the bot's webhook server comes first: the emulator is told where to
    // deliver (as an Event Grid subscription on the resource would be).
    let (backend, listener) = match source {
        Source::Polling => (support::Backend::start().await?, None),
        Source::Webhook => {
            let listener = acs_chat::EventGridListener::bind("127.0.0.1:0").await?;
            let url = listener.url();
            let backend = support::Backend::start_with(|b| b.event_webhook(&url)).await?;
            (backend, Some(listener))
        }
    };
    let (bot_id, bot) = backend.sign_in().await?;
    let (alice_id, alice) = backend.sign_in().await?;
    let bot_user = CommunicationIdentifier::communication_user(&bot_id);

    // The bot starts listening before anyone writes.
    let mut events: Events = match listener {
        None => polled(&bot).await?,
        // Event Grid sends each change once per recipient (and once for the thread): the bot
        // keeps the copies addressed to it, which is what it would see by polling.
        Some(listener) => {
            let me = bot_user.clone();
            Box::pin(listener.filter_map(move |received| {
                let mine = received.event.recipient() == Some(&me);
                async move { mine.then_some(received.event) }
            }))
        }
    };
    println!("bot: listening ({source:?})");
    let bot_task = tokio::spawn({
        let bot = bot.clone();
        let bot_user = bot_user.clone();
        async move {
            while let Some(event) = events.next().await {
                let ChatEvent::ChatMessageReceived(message) = event else {
                    continue;
                };
                // Not its own answers.
                if message.sender.as_ref() == Some(&bot_user) {
                    continue;
                }
                let answer = format!("echo: {}", message.message);
                let sent = bot
                    .chat_thread_client(&message.thread_id)
                    .send_message(
                        answer,
                        SendChatMessageOptions::default().sender_display_name("Echo bot"),
                    )
                    .await;
                if let Err(e) = sent {
                    eprintln!("bot: could not answer: {e}");
                }
            }
        }
    });

    // Alice opens a thread with the bot and watches it for the answers.
    let thread = alice
        .create_chat_thread(
            "Talking to the bot",
            CreateChatThreadOptions::default().participants([
                ChatParticipant::new(CommunicationIdentifier::communication_user(&alice_id))
                    .with_display_name("Alice"),
                ChatParticipant::new(bot_user.clone()).with_display_name("Echo bot"),
            ]),
        )
        .await?
        .thread;
    let conversation = alice.chat_thread_client(&thread.id);
    let mut answers = conversation
        .watch(
            WatchOptions::default().intervals(Duration::from_millis(100), Duration::from_secs(2)),
        )
        .await?;
    let mut waiting: HashMap<String, String> = HashMap::new();
    for text in ["hello", "how are you?", "bye"] {
        conversation
            .send_message(
                text,
                SendChatMessageOptions::default().sender_display_name("Alice"),
            )
            .await?;
        println!("Alice: {text}");
        waiting.insert(format!("echo: {text}"), text.to_owned());
    }
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    while !waiting.is_empty() {
        let event = tokio::select! {
            event = answers.next() => event,
            () = &mut deadline => return Err("no answer within a minute".into()),
        };
        match event {
            Some(Ok(ChatEvent::ChatMessageReceived(m))) if m.sender.as_ref() == Some(&bot_user) => {
                println!(
                    "{}: {}",
                    m.sender_display_name.as_deref().unwrap_or("bot"),
                    m.message
                );
                waiting.remove(&m.message);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => eprintln!("Alice: a poll failed: {e}"),
            None => return Err("the watch ended".into()),
        }
    }
    println!("Every message was answered.");
    bot_task.abort();
    backend.stop().await;
    Ok(())
}
