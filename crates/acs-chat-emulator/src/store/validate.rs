//! Checks of request values against the service's limits, and merge-patching metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use acs_chat_protocol::models::ChatRetentionPolicy;

use super::{
    MAX_MESSAGE_CONTENT_BYTES, MAX_METADATA_BYTES, MetadataPatch, Patch, RETENTION_DAYS_RANGE,
    StoreError,
};

pub(super) fn metadata_size(metadata: &BTreeMap<String, String>) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len()).sum()
}

pub(super) fn check_metadata(
    target: &str,
    metadata: Option<&BTreeMap<String, String>>,
) -> Result<(), StoreError> {
    match metadata {
        Some(m) if metadata_size(m) > MAX_METADATA_BYTES => Err(StoreError::validation(
            target,
            format!(
                "{target} must not exceed {MAX_METADATA_BYTES} bytes in total (keys and values)."
            ),
        )),
        _ => Ok(()),
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

pub(super) fn check_content(content: &str) -> Result<(), StoreError> {
    if content.len() > MAX_MESSAGE_CONTENT_BYTES {
        Err(StoreError::too_large(
            "Content",
            format!(
                "The message content is {} bytes; the limit is {MAX_MESSAGE_CONTENT_BYTES} bytes.",
                content.len()
            ),
        ))
    } else {
        Ok(())
    }
}

pub(super) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
