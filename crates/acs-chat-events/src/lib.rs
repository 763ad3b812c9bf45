//! Sans-IO chat events for Azure Communication Services (ACS) Chat.

pub use acs_chat_protocol;

mod error;
mod event;
pub mod eventgrid;
pub mod watch;
pub mod webhook;

pub use error::{Error, ErrorKind};
pub use event::{
    ChatEvent, ChatMessageDeletedEvent, ChatMessageEditedEvent, ChatMessageReceivedEvent,
    ChatThreadCreatedEvent, ChatThreadDeletedEvent, ChatThreadPropertiesUpdatedEvent,
    EventParticipant, EventThreadProperties, ParticipantsAddedEvent, ParticipantsRemovedEvent,
    ReadReceiptReceivedEvent, TypingIndicatorReceivedEvent, UnknownEvent,
};
