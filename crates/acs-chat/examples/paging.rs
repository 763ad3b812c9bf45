//! Paging: items as a stream, whole pages, and resuming later from a continuation.
//! `cargo run -p acs-chat --example paging`.

mod support;

use acs_chat::futures::{StreamExt as _, TryStreamExt as _};
use acs_chat::{Continuation, ListChatMessagesOptions};

#[tokio::main]
async fn main() -> Result<(), support::BoxError> {
    let backend = support::Backend::start().await?;
    let (_alice, client) = backend.sign_in().await?;
    let thread_id = client
        .create_chat_thread("Paging demo", Default::default())
        .await?
        .thread
        .id;
    let thread = client.chat_thread_client(thread_id);
    for i in 0..7 {
        thread
            .send_message(format!("message {i}"), Default::default())
            .await?;
    }
    let options = ListChatMessagesOptions::default().max_page_size(3);

    // Items: pages are fetched one at a time, only as the items are consumed.
    let first_four: Vec<_> = thread
        .list_messages(options.clone())
        .take(4)
        .try_collect()
        .await?;
    println!(
        "first four: {:?}",
        first_four.iter().map(|m| &m.id).collect::<Vec<_>>()
    );

    // Pages: stop after the first one and keep where we were (plain data: the nextLink).
    let mut pages = thread.list_messages(options.clone()).into_pages();
    let page = pages.try_next().await?.expect("a first page");
    println!("page 1: {} item(s)", page.items.len());
    let saved: Option<String> = pages
        .continuation()
        .and_then(|c| c.next_link().map(str::to_owned));
    drop(pages);

    // Later: resume from the saved link.
    if let Some(link) = saved {
        let rest: Vec<_> = thread
            .list_messages(options)
            .resume(Continuation::from_next_link(link))
            .try_collect()
            .await?;
        println!("the rest: {} item(s)", rest.len());
    }
    backend.stop().await;
    Ok(())
}
