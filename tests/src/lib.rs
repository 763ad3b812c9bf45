//! Support for the workspace integration tests in `tests/tests/`: an emulator over TLS and
//! clients for its users.

use std::time::Duration;

use acs_chat::models::ChatParticipant;
use acs_chat::{ChatClient, CommunicationIdentifier, CommunicationTokenCredential, RetryOptions};
use acs_chat_emulator::{Emulator, RunningEmulator};

/// A running emulator (HTTPS, self-signed certificate) and helpers to make users and clients.
pub struct World {
    /// The emulator.
    pub emulator: RunningEmulator,
}

/// A user of the emulator with a chat client.
pub struct User {
    /// The user's identifier.
    pub id: CommunicationIdentifier,
    /// The raw id.
    pub raw_id: String,
    /// The token (for tests that need to build other clients).
    pub token: String,
    /// A client acting as this user.
    pub client: ChatClient,
}

impl World {
    /// Starts an emulator on 127.0.0.1, any free port.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// Starts an emulator, optionally with throttling on.
    pub async fn start_with(throttle: bool) -> Self {
        let emulator = Emulator::builder()
            .port(0)
            .throttle(throttle)
            .start()
            .await
            .expect("the emulator starts");
        Self { emulator }
    }

    /// A client for `token` that trusts the emulator, with fast retries (1 ms backoff) so
    /// retry tests do not wait.
    pub fn client(&self, token: &str, retry: RetryOptions) -> ChatClient {
        let credential = CommunicationTokenCredential::new(token).expect("a JWT");
        ChatClient::builder(self.emulator.endpoint(), credential)
            .add_root_certificate_pem(self.emulator.ca_certificate_pem().expect("TLS"))
            .retry(retry)
            .build()
            .expect("a client")
    }

    /// Fast retries: the defaults' count, 1 ms backoff.
    pub fn fast_retries() -> RetryOptions {
        RetryOptions::default()
            .initial_delay(Duration::from_millis(1))
            .max_delay(Duration::from_millis(5))
    }

    /// A new user with a chat token and a client.
    pub fn user(&self) -> User {
        let (raw_id, token) = self
            .emulator
            .create_user_and_token()
            .expect("a user and a token");
        User {
            id: CommunicationIdentifier::communication_user(raw_id.clone()),
            client: self.client(&token, Self::fast_retries()),
            raw_id,
            token,
        }
    }
}

/// A participant with an optional display name.
pub fn participant(id: &CommunicationIdentifier, name: Option<&str>) -> ChatParticipant {
    let participant = ChatParticipant::new(id.clone());
    match name {
        Some(name) => participant.with_display_name(name),
        None => participant,
    }
}
