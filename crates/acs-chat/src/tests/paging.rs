//! Paging: three pages, absolute nextLinks with raw `:` and `@`, laziness, resume, refusal.

use futures::FutureExt as _;

use super::*;
use crate::models::ChatMessage;

fn message(id: &str) -> Value {
    json!({"id": id, "type": "text", "sequenceId": id, "version": id,
           "createdOn": "2026-03-01T12:00:00Z", "content": {"message": format!("m{id}")}})
}

/// A nextLink the way the service writes it: raw `:` and `@` in the thread id, a raw `:` in
/// the query.
fn link(n: u32) -> String {
    format!(
        "{ENDPOINT}/chat/threads/19:abc@thread.v2/messages?syncState=s{n}:x@y&startTime=2026-03-01T12:00:00Z&maxPageSize=2&api-version=2025-03-15"
    )
}

fn page(ids: &[&str], next: Option<String>) -> String {
    let mut v = json!({"value": ids.iter().map(|i| message(i)).collect::<Vec<_>>()});
    if let Some(n) = next {
        v["nextLink"] = json!(n);
    }
    v.to_string()
}

fn three_pages(mock: &Mock) {
    mock.reply(200, &page(&["1", "2"], Some(link(2))))
        .reply(200, &page(&["3", "4"], Some(link(3))))
        .reply(200, &page(&["5"], None));
}

fn ids(items: &[Result<ChatMessage, Error>]) -> Vec<String> {
    items
        .iter()
        .map(|m| m.as_ref().unwrap().id.clone())
        .collect()
}

#[tokio::test]
async fn three_pages_follow_the_next_link_verbatim() {
    let mock = Mock::new();
    three_pages(&mock);
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    let items: Vec<_> = t
        .list_messages(ListChatMessagesOptions::default().max_page_size(2))
        .collect()
        .await;
    assert_eq!(ids(&items), ["1", "2", "3", "4", "5"]);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs[0].uri().to_string(),
        format!("{ENDPOINT}{THREAD_PATH}/messages?maxPageSize=2&api-version=2025-03-15")
    );
    // verbatim: not re-encoded, no second api-version
    assert_eq!(reqs[1].uri().to_string(), link(2));
    assert_eq!(reqs[2].uri().to_string(), link(3));
    for r in &reqs {
        assert_eq!(r.method(), "GET");
        assert!(header(r, "authorization").unwrap().starts_with("Bearer "));
    }
}

#[tokio::test]
async fn pages_are_fetched_lazily_one_at_a_time() {
    let mock = Mock::new();
    three_pages(&mock);
    let c = client(&mock, &clock());
    let mut pager = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default());
    assert_eq!(mock.count(), 0, "nothing is fetched before the first poll");
    pager.next().await.unwrap().unwrap();
    assert_eq!(mock.count(), 1);
    pager.next().await.unwrap().unwrap();
    assert_eq!(mock.count(), 1, "the second item is in the first page");
    pager.next().await.unwrap().unwrap();
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn by_page_yields_whole_pages() {
    let mock = Mock::new();
    three_pages(&mock);
    let c = client(&mock, &clock());
    let pages: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .into_pages()
        .collect()
        .await;
    let sizes: Vec<_> = pages
        .iter()
        .map(|p| p.as_ref().unwrap().items.len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages[0].as_ref().unwrap().next_link, Some(link(2)));
    assert_eq!(pages[2].as_ref().unwrap().next_link, None);
}

#[tokio::test]
async fn resume_from_a_page_continuation() {
    let mock = Mock::new();
    mock.reply(200, &page(&["1", "2"], Some(link(2))));
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    let mut pages = t.list_messages(Default::default()).into_pages();
    pages.next().await.unwrap().unwrap();
    let continuation = pages.continuation().unwrap();
    assert_eq!(continuation.next_link(), Some(link(2).as_str()));
    drop(pages);

    // later, maybe in another process: resume from the stored link
    mock.reply(200, &page(&["3", "4"], Some(link(3))))
        .reply(200, &page(&["5"], None));
    let stored = continuation.next_link().unwrap().to_owned();
    let resumed = t
        .list_messages(Default::default())
        .resume(Continuation::from_next_link(stored));
    let items: Vec<_> = resumed.collect().await;
    assert_eq!(ids(&items), ["3", "4", "5"]);
    assert_eq!(mock.requests()[1].uri().to_string(), link(2));
}

#[tokio::test]
async fn resume_an_item_stream_mid_page_without_repeating_or_skipping() {
    let mock = Mock::new();
    mock.reply(200, &page(&["1", "2"], Some(link(2))))
        .reply(200, &page(&["3", "4"], Some(link(3))));
    let c = client(&mock, &clock());
    let t = c.chat_thread_client(THREAD);
    let mut pager = t.list_messages(Default::default());
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(pager.next().await.unwrap().unwrap().id);
    }
    // item "4" is buffered: the continuation points at page 2, one item consumed
    let c2 = pager.continuation().unwrap();
    assert_eq!(c2.next_link(), Some(link(2).as_str()));
    assert_eq!(c2.skip(), 1);
    drop(pager);

    mock.reply(200, &page(&["3", "4"], Some(link(3))))
        .reply(200, &page(&["5"], None));
    let rest: Vec<_> = t
        .list_messages(Default::default())
        .resume(c2)
        .collect()
        .await;
    seen.extend(ids(&rest));
    assert_eq!(seen, ["1", "2", "3", "4", "5"]);
}

#[tokio::test]
async fn continuation_of_a_fresh_pager_is_the_start_and_none_at_the_end() {
    let mock = Mock::new();
    mock.reply(200, &page(&["1"], None));
    let c = client(&mock, &clock());
    let mut pager = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default());
    assert_eq!(pager.continuation().unwrap().next_link(), None);
    pager.next().await.unwrap().unwrap();
    assert!(pager.next().await.is_none());
    assert!(pager.continuation().is_none());
}

#[tokio::test]
async fn a_foreign_next_link_is_refused_without_sending_the_token() {
    for foreign in [
        "https://evil.example.com/chat/threads?syncState=1".to_owned(),
        "http://contoso.communication.azure.com/chat/threads?x=1".to_owned(),
        format!("{ENDPOINT}:444/chat/threads?x=1"),
    ] {
        let mock = Mock::new();
        mock.reply(200, &page(&["1"], Some(foreign.clone())));
        let c = client(&mock, &clock());
        let mut pages = c
            .chat_thread_client(THREAD)
            .list_messages(Default::default())
            .into_pages();
        pages.next().await.unwrap().unwrap();
        let e = pages.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ForeignNextLink, "{foreign}");
        assert_eq!(mock.count(), 1, "{foreign}");
        // the stream ends after the error; the continuation still names the refused page
        assert!(pages.next().now_or_never().unwrap().is_none());
        assert_eq!(
            pages.continuation().unwrap().next_link(),
            Some(foreign.as_str())
        );
    }
}

#[tokio::test]
async fn a_server_relative_next_link_is_resolved_against_the_endpoint() {
    let mock = Mock::new();
    mock.reply(
        200,
        &page(
            &["1"],
            Some("/chat/threads/19:abc@thread.v2/messages?syncState=2".into()),
        ),
    )
    .reply(200, &page(&["2"], None));
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .collect()
        .await;
    assert_eq!(ids(&items), ["1", "2"]);
    assert_eq!(
        mock.requests()[1].uri().to_string(),
        format!("{ENDPOINT}/chat/threads/19:abc@thread.v2/messages?syncState=2")
    );
}

#[tokio::test]
async fn a_failed_page_is_retried_and_an_error_ends_the_stream() {
    let mock = Mock::new();
    mock.reply(200, &page(&["1"], Some(link(2))))
        .reply(503, "")
        .reply(200, &page(&["2"], None));
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .collect()
        .await;
    assert_eq!(ids(&items), ["1", "2"]);
    assert_eq!(mock.count(), 3);

    let mock = Mock::new();
    mock.reply(200, &page(&["1"], Some(link(2))))
        .reply(404, &error_body("NotFound"));
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].as_ref().unwrap_err().status().unwrap().as_u16(),
        404
    );
}

#[tokio::test]
async fn a_next_link_back_to_the_same_page_ends_with_a_paging_loop_error() {
    let mock = Mock::new();
    mock.reply(200, &page(&["1"], Some(link(2))))
        .reply(200, &page(&["2"], Some(link(2))));
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .collect()
        .await;
    assert_eq!(ids(&items[..2]), ["1", "2"]);
    assert_eq!(items.len(), 3, "the stream ends after the error");
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PagingLoop, "{err}");
    assert_eq!(
        mock.requests().len(),
        2,
        "the looping link is not requested again"
    );
}

#[tokio::test]
async fn two_pages_pointing_at_each_other_end_with_a_paging_loop_error() {
    let mock = Mock::new();
    mock.reply(200, &page(&[], Some(link(2))))
        .reply(200, &page(&[], Some(link(3))))
        .reply(200, &page(&[], Some(link(2))));
    let c = client(&mock, &clock());
    let pages: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .into_pages()
        .collect()
        .await;
    assert_eq!(pages.len(), 4);
    assert_eq!(pages[3].as_ref().unwrap_err().kind(), ErrorKind::PagingLoop);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn fresh_next_links_for_ever_stop_at_the_page_cap() {
    let mock = Mock::new();
    for n in 2..10 {
        mock.reply(200, &page(&[], Some(link(n))));
    }
    let c = client(&mock, &clock());
    let items: Vec<_> = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default())
        .max_pages(5)
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PageLimit, "{err}");
    assert!(err.to_string().contains("5 pages"), "{err}");
    assert_eq!(mock.requests().len(), 5);
}

#[tokio::test]
async fn into_pages_resumes_at_the_current_page_without_dropping_buffered_items() {
    let mock = Mock::new();
    three_pages(&mock);
    let c = client(&mock, &clock());
    let mut pager = c
        .chat_thread_client(THREAD)
        .list_messages(Default::default());
    let first = pager.next().await.unwrap().unwrap();
    assert_eq!(first.id, "1");
    let pages = pager.into_pages();
    // Where it stands: the first page, one item consumed.
    let at = pages.continuation().unwrap();
    assert_eq!((at.next_link(), at.skip()), (None, 1));
    let pages: Vec<_> = pages.collect().await;
    let ids: Vec<Vec<String>> = pages
        .into_iter()
        .map(|p| p.unwrap().items.into_iter().map(|m| m.id).collect())
        .collect();
    assert_eq!(ids, [vec!["2"], vec!["3", "4"], vec!["5"]]);
    // The rest of the first page came from the buffer: three requests in all.
    assert_eq!(mock.requests().len(), 3);
}
