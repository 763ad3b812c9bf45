//! What the spec cannot say: ergonomic constructors on generated models.

use crate::CommunicationIdentifier;
use crate::models::ChatParticipant;

impl ChatParticipant {
    /// Sets the display name (`ChatParticipant::new(id).with_display_name("Ann")`).
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }
}

impl From<CommunicationIdentifier> for ChatParticipant {
    fn from(identifier: CommunicationIdentifier) -> Self {
        Self::new(identifier)
    }
}
