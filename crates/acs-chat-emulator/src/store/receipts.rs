//! Read receipts (one per reader, the latest) and typing notifications (accepted, not kept).

use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::ChatMessageReadReceipt;

use super::ids::identifier_model;
use super::{Caller, Change, Listing, Store, StoreError, skip_page};

impl Store {
    /// Records that the caller read up to `message_id` (one receipt per reader, the latest).
    pub fn send_read_receipt(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        message_id: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Self::find_message(thread, caller, message_id)?;
        let receipt =
            ChatMessageReadReceipt::new(message_id, now, identifier_model(&caller.user_id));
        match thread
            .receipts
            .iter_mut()
            .find(|(who, _)| *who == caller.user_id)
        {
            Some((_, r)) => *r = receipt,
            None => thread.receipts.push((caller.user_id.clone(), receipt)),
        }
        self.record(Change::ReadReceiptSent {
            thread_id: thread_id.to_owned(),
            user_id: caller.user_id.clone(),
        });
        Ok(())
    }

    /// A page of read receipts from position `skip`.
    pub fn list_read_receipts(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        skip: usize,
        max_page_size: usize,
        now: DateTime,
    ) -> Result<Listing<ChatMessageReadReceipt, usize>, StoreError> {
        let thread = self.thread(caller, thread_id, now)?;
        Ok(skip_page(
            thread.receipts.iter().map(|(_, r)| r),
            thread.receipts.len(),
            skip,
            max_page_size,
        ))
    }

    /// A typing notification: accepted from participants, not stored (recorded as a
    /// [`Change::TypingSent`], for its event).
    pub fn send_typing(
        &mut self,
        caller: &Caller,
        thread_id: &str,
        sender_display_name: Option<String>,
        now: DateTime,
    ) -> Result<(), StoreError> {
        self.thread(caller, thread_id, now)?;
        self.record(Change::TypingSent {
            thread_id: thread_id.to_owned(),
            user_id: caller.user_id.clone(),
            sender_display_name,
        });
        Ok(())
    }
}
