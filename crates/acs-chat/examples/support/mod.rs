//! Shared by the examples: starts the embedded ACS emulator on a loopback port (HTTPS with a
//! generated test CA) and signs users in through the Identity API, the way a backend would.
//! Against the real service, only the endpoint, the connection string and the CA change.

#![allow(dead_code)]

use acs_chat::{
    ChatClient, CommunicationTokenCredential, IdentityClient, IdentityClientBuilder, TokenScope,
};
use acs_chat_emulator::{Emulator, EmulatorBuilder, RunningEmulator};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running emulator and an Identity client for it.
pub(crate) struct Backend {
    pub(crate) emulator: RunningEmulator,
    pub(crate) identity: IdentityClient,
}

impl Backend {
    pub(crate) async fn start() -> Result<Self, BoxError> {
        Self::start_with(|b| b).await
    }

    /// Starts the emulator with more settings (e.g. an event webhook).
    pub(crate) async fn start_with(
        configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
    ) -> Result<Self, BoxError> {
        let emulator = configure(Emulator::builder().port(0)).start().await?;
        let mut builder = IdentityClientBuilder::new(&emulator.connection_string());
        if let Some(ca) = emulator.ca_certificate_pem() {
            builder = builder.add_root_certificate_pem(ca);
        }
        let identity = builder.build()?;
        Ok(Self { emulator, identity })
    }

    /// A new user and a chat client acting as it. The credential refreshes its token through
    /// the Identity API when it nears expiry.
    pub(crate) async fn sign_in(&self) -> Result<(String, ChatClient), BoxError> {
        let created = self
            .identity
            .create_user_and_token(&[TokenScope::Chat], None)
            .await?;
        let user_id = created.user.id.clone();
        let identity = self.identity.clone();
        let refresh_for = user_id.clone();
        let credential = CommunicationTokenCredential::builder(move || {
            let identity = identity.clone();
            let user = refresh_for.clone();
            async move {
                let token = identity.get_token(&user, &[TokenScope::Chat], None).await?;
                Ok::<_, acs_chat::Error>(token.secret().to_owned())
            }
        })
        .initial_token(created.token.secret())
        .build()?;
        let mut builder =
            ChatClient::builder(self.emulator.endpoint(), credential).application_id("acs-example");
        if let Some(ca) = self.emulator.ca_certificate_pem() {
            builder = builder.add_root_certificate_pem(ca);
        }
        Ok((user_id, builder.build()?))
    }

    pub(crate) async fn stop(self) {
        self.emulator.shutdown().await;
    }
}
