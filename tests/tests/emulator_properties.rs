//! A property of the emulator, checked through `acs-chat` over TLS: any interleaving of sends
//! and deletes by several users keeps the listing consistent — every message sent is listed
//! exactly once, deleted ones carry `deletedOn`, ordering is by sequenceId, newest first.

use std::collections::{BTreeMap, BTreeSet};

use acs_chat::models::ChatMessageType;
use acs_chat::{CreateChatThreadOptions, ListChatMessagesOptions, SendChatMessageOptions};
use acs_chat_integration_tests::{World, participant};
use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Step {
    Send { user: usize },
    Delete { user: usize, nth: usize },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0..3usize).prop_map(|user| Step::Send { user }),
            1 => (0..3usize, 0..20usize).prop_map(|(user, nth)| Step::Delete { user, nth }),
        ],
        1..25,
    )
}

#[test]
fn interleaved_sends_and_deletes_keep_listing_consistent() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(World::start());
    let users: Vec<_> = (0..3).map(|_| world.user()).collect();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner
        .run(&steps(), |steps| {
            rt.block_on(async {
                let owner = &users[0];
                let options = CreateChatThreadOptions::default()
                    .participants(users[1..].iter().map(|u| participant(&u.id, None)));
                let thread = owner
                    .client
                    .create_chat_thread("prop", options)
                    .await
                    .unwrap()
                    .thread
                    .id;
                // what each user sent, and which of those were deleted
                let mut sent: Vec<Vec<String>> = vec![Vec::new(); users.len()];
                let mut deleted: BTreeSet<String> = BTreeSet::new();
                for (i, step) in steps.iter().enumerate() {
                    match *step {
                        Step::Send { user } => {
                            let id = users[user]
                                .client
                                .chat_thread_client(&thread)
                                .send_message(format!("{i}"), SendChatMessageOptions::default())
                                .await
                                .unwrap();
                            sent[user].push(id);
                        }
                        Step::Delete { user, nth } => {
                            if let Some(id) = sent[user].get(nth % sent[user].len().max(1)).cloned()
                            {
                                users[user]
                                    .client
                                    .chat_thread_client(&thread)
                                    .delete_message(&id)
                                    .await
                                    .unwrap();
                                deleted.insert(id);
                            }
                        }
                    }
                }
                let listed: Vec<_> = owner
                    .client
                    .chat_thread_client(&thread)
                    .list_messages(ListChatMessagesOptions::default().max_page_size(4))
                    .try_collect()
                    .await
                    .unwrap();
                let texts: Vec<_> = listed
                    .iter()
                    .filter(|m| m.kind == ChatMessageType::Text)
                    .collect();
                let all_sent: BTreeSet<String> = sent.iter().flatten().cloned().collect();
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for m in &texts {
                    *seen.entry(m.id.clone()).or_default() += 1;
                    prop_assert_eq!(m.deleted_on.is_some(), deleted.contains(&m.id), "{}", m.id);
                }
                prop_assert!(seen.values().all(|&n| n == 1), "a message listed twice");
                let listed_ids: BTreeSet<String> = seen.keys().cloned().collect();
                prop_assert_eq!(listed_ids, all_sent, "a message lost or invented");
                let seqs: Vec<u64> = listed
                    .iter()
                    .map(|m| m.sequence_id.parse().unwrap())
                    .collect();
                prop_assert!(
                    seqs.windows(2).all(|w| w[0] > w[1]),
                    "not newest first: {:?}",
                    seqs
                );
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(world.emulator.shutdown());
}
