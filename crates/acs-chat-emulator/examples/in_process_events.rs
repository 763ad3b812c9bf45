//! An echo bot against an in-process emulator, driven by its event stream (no polling, no
//! webhook): the bot answers every message that is not its own.
//!
//! ```sh
//! cargo run -p acs-chat-emulator --example in_process_events
//! ```

use acs_chat_emulator::Emulator;
use acs_chat_events::ChatEvent;
use acs_chat_protocol::models::{ChatParticipant, CreateChatThreadRequest};
use acs_chat_protocol::operations::{CreateChatThread, SendChatMessage};
use acs_chat_protocol::{
    AccessToken, CommunicationIdentifier, DateTime, Endpoint, Operation, RequestContext, authorize,
};
use acs_chat_transport::{HyperTransport, Transport as _};
use futures_util::StreamExt as _;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Sends `op` as the holder of `token` and parses the answer.
async fn call<O: Operation>(
    transport: &HyperTransport,
    endpoint: &Endpoint,
    op: &O,
    token: &str,
) -> Result<O::Output, Error> {
    let mut request =
        op.build_request(&RequestContext::new(endpoint.clone(), Default::default()))?;
    authorize(
        &mut request,
        endpoint,
        &AccessToken::new(token, DateTime::UNIX_EPOCH),
    )?;
    Ok(op.parse_response(transport.send(request).await?)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let emulator = Emulator::builder().start().await?;
    let endpoint = Endpoint::parse(&emulator.endpoint())?;
    let ca = emulator.ca_certificate_pem().ok_or("no CA")?;
    let transport = HyperTransport::builder()
        .add_root_certificate_pem(ca.as_bytes())?
        .build()?;
    let (ann, ann_token) = emulator.create_user_and_token()?;
    let (bot, bot_token) = emulator.create_user_and_token()?;

    // The bot: subscribe first, then answer each message that is not its own.
    let mut events = emulator.events();
    let bot_task = {
        let (transport, endpoint, bot) = (transport.clone(), endpoint.clone(), bot.clone());
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let Ok(ChatEvent::ChatMessageReceived(m)) = event else {
                    continue;
                };
                if m.sender.as_ref().is_some_and(|s| s.raw_id() == bot) {
                    continue;
                }
                let reply = SendChatMessage::new(
                    &m.thread_id,
                    format!("echo: {}", m.message),
                    Default::default(),
                );
                call(&transport, &endpoint, &reply, &bot_token).await?;
            }
            Ok::<(), Error>(())
        })
    };

    // Ann starts a thread with the bot and says hello; she listens for the answer.
    let mut mine = emulator.events();
    let mut create = CreateChatThread::new("", Default::default());
    create.body = CreateChatThreadRequest::new("echo");
    create.body.participants = Some(vec![ChatParticipant::new(
        CommunicationIdentifier::communication_user(&bot),
    )]);
    let thread = call(&transport, &endpoint, &create, &ann_token)
        .await?
        .chat_thread
        .ok_or("no thread")?
        .id;
    call(
        &transport,
        &endpoint,
        &SendChatMessage::new(&thread, "hello, bot", Default::default()),
        &ann_token,
    )
    .await?;
    while let Some(event) = mine.next().await {
        if let Ok(ChatEvent::ChatMessageReceived(m)) = event
            && m.sender.as_ref().is_some_and(|s| s.raw_id() != ann)
        {
            println!("{}", m.message);
            break;
        }
    }
    bot_task.abort();
    emulator.shutdown().await;
    Ok(())
}
