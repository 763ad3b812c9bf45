//! Checks of request values against the service's limits ([`ServiceLimits`]), and
//! merge-patching metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use acs_chat_protocol::models::{ChatParticipant, ChatRetentionPolicy};

use super::{MetadataPatch, Patch, RETENTION_DAYS_RANGE, StoreError};
use crate::limits::ServiceLimits;

fn metadata_size(metadata: &BTreeMap<String, String>) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len()).sum()
}

impl ServiceLimits {
    /// Metadata (keys and values) within [`Self::max_metadata_bytes`].
    pub(super) fn check_metadata(
        &self,
        target: &str,
        metadata: Option<&BTreeMap<String, String>>,
    ) -> Result<(), StoreError> {
        let limit = self.max_metadata_bytes;
        match metadata {
            Some(m) if metadata_size(m) > limit => Err(StoreError::validation(
                target,
                format!("{target} must not exceed {limit} bytes in total (keys and values)."),
            )),
            _ => Ok(()),
        }
    }

    /// A message's content within [`Self::max_message_content_bytes`]: else 400
    /// `ValidationError` with target `Content`, like every other limit of the service (the spec
    /// documents no 413 for SendChatMessage or UpdateChatMessage: their error responses are 401,
    /// 403, 429 and 503 besides the default).
    pub(super) fn check_content(&self, content: &str) -> Result<(), StoreError> {
        let limit = self.max_message_content_bytes;
        if content.len() > limit {
            Err(StoreError::validation(
                "Content",
                format!(
                    "The message content is {} bytes; the limit is {limit} bytes.",
                    content.len()
                ),
            ))
        } else {
            Ok(())
        }
    }

    /// A topic: not blank, within [`Self::max_topic_chars`].
    pub(super) fn check_topic(&self, topic: &str) -> Result<(), StoreError> {
        if topic.trim().is_empty() {
            return Err(StoreError::validation(
                "Topic",
                "The topic must not be empty.",
            ));
        }
        self.check_chars("Topic", topic, self.max_topic_chars)
    }

    /// A display name within [`Self::max_display_name_chars`].
    pub(crate) fn check_display_name(
        &self,
        target: &str,
        name: Option<&str>,
    ) -> Result<(), StoreError> {
        name.map_or(Ok(()), |name| {
            self.check_chars(target, name, self.max_display_name_chars)
        })
    }

    fn check_chars(&self, target: &str, text: &str, limit: usize) -> Result<(), StoreError> {
        let chars = text.chars().count();
        if chars > limit {
            Err(StoreError::validation(
                target,
                format!("{target} is {chars} characters long; the limit is {limit}."),
            ))
        } else {
            Ok(())
        }
    }

    /// Participants to add in one call: at most [`Self::max_participants_per_call`] of them,
    /// each with its display name and metadata within the limits.
    pub(super) fn check_participants(
        &self,
        participants: &[ChatParticipant],
    ) -> Result<(), StoreError> {
        let limit = self.max_participants_per_call;
        if participants.len() > limit {
            return Err(StoreError::validation(
                "Participants",
                format!("At most {limit} participants can be added in one call."),
            ));
        }
        for (i, p) in participants.iter().enumerate() {
            let target = format!("Participants[{i}]");
            self.check_display_name(&format!("{target}.DisplayName"), p.display_name.as_deref())?;
            self.check_metadata(&format!("{target}.Metadata"), p.metadata.as_ref())?;
        }
        Ok(())
    }
}

pub(super) fn check_retention(policy: Option<&ChatRetentionPolicy>) -> Result<(), StoreError> {
    match policy {
        None | Some(ChatRetentionPolicy::None(_)) => Ok(()),
        Some(ChatRetentionPolicy::ThreadCreationDate(p)) => {
            if RETENTION_DAYS_RANGE.contains(&p.delete_thread_after_days) {
                Ok(())
            } else {
                Err(StoreError::validation(
                    "RetentionPolicy.DeleteThreadAfterDays",
                    format!(
                        "deleteThreadAfterDays value {} is invalid. Value must be within the [{}, {}] interval.",
                        p.delete_thread_after_days,
                        RETENTION_DAYS_RANGE.start(),
                        RETENTION_DAYS_RANGE.end()
                    ),
                ))
            }
        }
        Some(_) => Err(StoreError::validation(
            "RetentionPolicy.Kind",
            "retentionPolicy.kind must be `threadCreationDate` or `none`.",
        )),
    }
}

pub(super) fn apply_metadata(
    current: &mut Option<BTreeMap<String, String>>,
    patch: &Patch<MetadataPatch>,
) {
    match patch {
        Patch::Keep => {}
        Patch::Clear => *current = None,
        Patch::Set(changes) => {
            let map = current.get_or_insert_with(BTreeMap::new);
            for (k, v) in changes {
                match v {
                    Some(v) => {
                        map.insert(k.clone(), v.clone());
                    }
                    None => {
                        map.remove(k);
                    }
                }
            }
            if map.is_empty() {
                *current = None;
            }
        }
    }
}

pub(super) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
