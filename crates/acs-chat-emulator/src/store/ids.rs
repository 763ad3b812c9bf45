//! Generated ids: user, thread and token ids from a seed and a counter, message ids and
//! versions from the clock, and the normalised form of identifiers.

use acs_chat_protocol::{CommunicationIdentifier, DateTime};

/// Where the generated ids stand: persisted with the state, so that a restarted store goes on
/// where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ids {
    /// Makes the uuids of this store unique to it (and reproducible in tests).
    pub(crate) seed: u128,
    /// How many uuids were drawn.
    pub(crate) counter: u64,
    /// The last time-based id: milliseconds since the epoch, bumped by one when two fall in the
    /// same millisecond (or the clock steps back).
    pub(crate) last_time_id: u64,
}

impl Ids {
    pub(crate) fn new(seed: u128) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// The next uuid of the seeded sequence.
    pub(super) fn next_uuid(&mut self) -> uuid::Uuid {
        self.counter = self.counter.wrapping_add(1);
        let n = self.counter;
        let hi = splitmix(self.seed as u64 ^ n);
        let lo = splitmix((self.seed >> 64) as u64 ^ n.rotate_left(29) ^ 0xA5A5_5A5A);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// The next message id or version: grows, and follows the clock when it can.
    pub(super) fn next_time_id(&mut self, now: DateTime) -> u64 {
        let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.last_time_id = ms.max(self.last_time_id.saturating_add(1));
        self.last_time_id
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The normalised response form of an identifier (written as `kind`, `rawId` and the kind's
/// member).
pub(crate) fn identifier_model(raw_id: &str) -> CommunicationIdentifier {
    CommunicationIdentifier::from_raw_id(raw_id)
}

/// The raw id and the parsed form of an identifier given in a request; `None` when it has none.
pub(super) fn normalize(id: &CommunicationIdentifier) -> Option<(String, CommunicationIdentifier)> {
    let raw = id.raw_id().into_owned();
    (!raw.is_empty()).then(|| (raw.clone(), CommunicationIdentifier::from_raw_id(&raw)))
}
