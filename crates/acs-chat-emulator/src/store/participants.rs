//! Participants: who may be added (only live users of this resource), the per-call and
//! per-thread limits, listing and removal.

use std::collections::HashSet;

use acs_chat_protocol::models::{
    AddChatParticipantsResult, ChatMessageType, ChatParticipant, CommunicationError,
};
use acs_chat_protocol::{CommunicationIdentifier, DateTime};

use super::ids::{identifier_model, normalize};
use super::{Caller, Change, Listing, Store, StoreError, skip_page};
use crate::limits::ServiceLimits;

impl Store {
    /// Checks a participant to add (`users`: the live users); `Ok` is the normalised (raw id,
    /// participant).
    fn check_participant(
        users: &HashSet<String>,
        p: &ChatParticipant,
    ) -> Result<(String, ChatParticipant), CommunicationError> {
        let Some((raw, id)) = normalize(&p.communication_identifier) else {
            return Err(CommunicationError::new(
                "400",
                "The participant's communicationIdentifier is missing.",
            ));
        };
        let invalid = |code: &str, message: &str| {
            let mut e = CommunicationError::new(code, message);
            e.target = Some(raw.clone());
            e
        };
        match id {
            CommunicationIdentifier::CommunicationUser(_) => {
                if !users.contains(&raw) {
                    return Err(invalid("404", "Not found"));
                }
            }
            _ => return Err(invalid("403", "Permissions check failed")),
        }
        let mut stored = ChatParticipant::new(identifier_model(&raw));
        stored.display_name = p.display_name.clone();
        stored.metadata = p.metadata.clone();
        stored.share_history_time = Some(p.share_history_time.unwrap_or(DateTime::UNIX_EPOCH));
        Ok((raw, stored))
    }

    /// Validates participants to add to a thread that has `existing` participants: the valid
    /// new ones, and the invalid ones as errors.
    pub(super) fn sort_participants(
        users: &HashSet<String>,
        limits: &ServiceLimits,
        existing: &[(String, ChatParticipant)],
        requested: &[ChatParticipant],
    ) -> (Vec<(String, ChatParticipant)>, Vec<CommunicationError>) {
        let mut added: Vec<(String, ChatParticipant)> = Vec::new();
        let mut invalid = Vec::new();
        for p in requested {
            match Self::check_participant(users, p) {
                Ok((raw, stored)) => {
                    if existing
                        .iter()
                        .chain(added.iter())
                        .any(|(id, _)| *id == raw)
                    {
                        continue;
                    }
                    let limit = limits.max_participants_per_thread;
                    if existing.len() + added.len() >= limit {
                        let mut e = CommunicationError::new(
                            "400",
                            format!("The thread has reached its limit of {limit} participants."),
                        );
                        e.target = Some(raw);
                        invalid.push(e);
                        continue;
                    }
                    added.push((raw, stored));
                }
                Err(e) => invalid.push(e),
            }
        }
        (added, invalid)
    }

    /// A page of participants, in the order they were added, from position `skip`.
    pub fn list_participants(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        skip: usize,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<ChatParticipant, usize>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Ok(skip_page(
            thread.participants.iter().map(|(_, p)| p),
            thread.participants.len(),
            skip,
            max_page_size,
        ))
    }

    /// Adds participants; invalid ones come back in `invalidParticipants`, the others are
    /// added (existing ones are left as they are). Records a `participantAdded` message.
    pub fn add_participants(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        participants: Vec<ChatParticipant>,
        now: DateTime,
    ) -> Result<AddChatParticipantsResult, StoreError> {
        self.limits.check_participants(&participants)?;
        if participants.is_empty() {
            return Err(StoreError::validation(
                "Participants",
                "At least one participant is required.",
            ));
        }
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        let (added, invalid) = Self::sort_participants(
            &self.users,
            &self.limits,
            &thread.participants,
            &participants,
        );
        if !added.is_empty() {
            let id = self.ids.next_time_id(now);
            let list = added.iter().map(|(_, p)| p.clone()).collect();
            self.changes.push(Change::ParticipantsAdded {
                thread_id: thread_id.to_owned(),
                user_ids: added.iter().map(|(id, _)| id.clone()).collect(),
                by: caller.user_id.clone(),
            });
            thread.participants.extend(added);
            thread.system_message(
                id,
                ChatMessageType::ParticipantAdded,
                &caller.user_id,
                Some(list),
                None,
                now,
                &mut self.changes,
            );
        }
        let mut result = AddChatParticipantsResult::new();
        result.invalid_participants = (!invalid.is_empty()).then_some(invalid);
        Ok(result)
    }

    /// Removes a participant (any participant may remove any other, or themselves); records a
    /// `participantRemoved` message. Removing someone who is not a participant changes nothing.
    pub fn remove_participant(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        participant: &CommunicationIdentifier,
        now: DateTime,
    ) -> Result<(), StoreError> {
        let Some((raw, _)) = normalize(participant) else {
            return Err(StoreError::validation(
                "RawId",
                "The identifier of the participant to remove is missing.",
            ));
        };
        self.expire_thread(thread_id, now);
        let thread = Self::lookup(&mut self.threads, caller, thread_id)?;
        let Some(pos) = thread.participants.iter().position(|(id, _)| *id == raw) else {
            return Ok(());
        };
        let (_, removed) = thread.participants.remove(pos);
        self.changes.push(Change::ParticipantRemoved {
            thread_id: thread_id.to_owned(),
            user_id: raw,
            participant: removed.clone(),
            by: caller.user_id.clone(),
        });
        let id = self.ids.next_time_id(now);
        thread.system_message(
            id,
            ChatMessageType::ParticipantRemoved,
            &caller.user_id,
            Some(vec![removed]),
            None,
            now,
            &mut self.changes,
        );
        Ok(())
    }
}
