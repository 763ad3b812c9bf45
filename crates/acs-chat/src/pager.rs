//! [`Pager`]: a lazy, resumable list, as a `Stream` of items or (with [`Pager::into_pages`])
//! of pages.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use acs_chat_protocol::Page;
use futures::FutureExt as _;
use futures::Stream;
use futures::future::BoxFuture;

use crate::{Error, ErrorKind};

/// How many pages one pager fetches at most unless told otherwise ([`Pager::max_pages`]): at the
/// service's largest page (200 messages) that is two million items, far more than a listing
/// needs, and it bounds what a server that keeps inventing new nextLinks can make a client do.
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// Fetches one page: `None` is the first page (the list call itself), `Some(link)` a nextLink.
pub(crate) type Fetch<T> =
    Arc<dyn Fn(Option<String>) -> BoxFuture<'static, Result<Page<T>, Error>> + Send + Sync>;

/// Where a list stopped, to resume it later (plain data: store it anywhere).
///
/// It names the page to fetch (the first page of the list call, or a nextLink as the service
/// sent it) and how many items of that page were already consumed, so a resumed item stream
/// neither repeats nor skips items.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Continuation {
    next_link: Option<String>,
    skip: usize,
}

impl Continuation {
    /// Resume at the page at `next_link` (a nextLink as the service sent it).
    pub fn from_next_link(next_link: impl Into<String>) -> Self {
        Self {
            next_link: Some(next_link.into()),
            skip: 0,
        }
    }

    /// Skip the first `n` items of that page (items already consumed).
    pub fn with_skip(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// The nextLink of the page to fetch; `None` means the list call's first page.
    pub fn next_link(&self) -> Option<&str> {
        self.next_link.as_deref()
    }

    /// How many items of that page were already consumed.
    pub fn skip(&self) -> usize {
        self.skip
    }
}

type PageFuture<T> = BoxFuture<'static, Result<Page<T>, Error>>;

/// A fetched page and the link that fetched it (`None`: the first page).
type Fetched<T> = Result<(Option<String>, Page<T>), Error>;

enum Position {
    Start,
    Next(String),
    Done,
}

/// The fetching state shared by the item and the page streams.
struct Core<T> {
    fetch: Fetch<T>,
    position: Position,
    skip: usize,
    in_flight: Option<(Option<String>, PageFuture<T>)>,
    failed: bool,
    /// Pages requested so far, and the cap.
    pages: usize,
    max_pages: usize,
    /// Keyed hashes of the nextLinks followed (8 bytes a page, at most `max_pages` of them):
    /// a link seen twice is a loop.
    followed: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl<T> Core<T> {
    fn new(fetch: Fetch<T>) -> Self {
        Self {
            fetch,
            position: Position::Start,
            skip: 0,
            in_flight: None,
            failed: false,
            pages: 0,
            max_pages: DEFAULT_MAX_PAGES,
            followed: HashSet::new(),
            hasher: Default::default(),
        }
    }

    /// Refuses to fetch `link` when it was followed before or the page cap is reached.
    fn check_next(&mut self, link: Option<&str>) -> Result<(), Error> {
        if self.pages >= self.max_pages {
            return Err(Error::new(
                ErrorKind::PageLimit,
                format!(
                    "stopped after {} pages (the pager's max_pages); raise it with \
                     Pager::max_pages if the list really is that long",
                    self.pages
                ),
            ));
        }
        if let Some(link) = link
            && !self.followed.insert(self.hasher.hash_one(link))
        {
            return Err(Error::new(
                ErrorKind::PagingLoop,
                format!(
                    "the service sent a nextLink that was already followed, after {} pages: \
                     following it would loop forever",
                    self.pages
                ),
            ));
        }
        self.pages += 1;
        Ok(())
    }

    /// Fetches the next page (one request at a time, only when asked). Yields the link that
    /// fetched it and the page, with the resume skip already applied.
    fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Fetched<T>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        if self.in_flight.is_none() {
            let link = match &self.position {
                Position::Done => return Poll::Ready(None),
                Position::Start => None,
                Position::Next(link) => Some(link.clone()),
            };
            if let Err(e) = self.check_next(link.as_deref()) {
                self.failed = true;
                return Poll::Ready(Some(Err(e)));
            }
            let fut = (self.fetch)(link.clone());
            self.in_flight = Some((link, fut));
        }
        let Some((_, fut)) = self.in_flight.as_mut() else {
            return Poll::Ready(None);
        };
        let result = ready!(fut.poll_unpin(cx));
        let link = self.in_flight.take().and_then(|(link, _)| link);
        match result {
            Ok(mut page) => {
                self.position = match &page.next_link {
                    Some(next) => Position::Next(next.clone()),
                    None => Position::Done,
                };
                let skip = std::mem::take(&mut self.skip).min(page.items.len());
                page.items.drain(..skip);
                Poll::Ready(Some(Ok((link, page))))
            }
            Err(e) => {
                // Stay on the failed page: `continuation()` resumes there.
                self.failed = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn continuation(&self) -> Option<Continuation> {
        if let Some((link, _)) = &self.in_flight {
            return Some(Continuation {
                next_link: link.clone(),
                skip: self.skip,
            });
        }
        match &self.position {
            Position::Start => Some(Continuation {
                next_link: None,
                skip: self.skip,
            }),
            Position::Next(link) => Some(Continuation {
                next_link: Some(link.clone()),
                skip: self.skip,
            }),
            Position::Done => None,
        }
    }

    fn resume(&mut self, c: Continuation) {
        self.position = match c.next_link {
            Some(link) => Position::Next(link),
            None => Position::Start,
        };
        self.skip = c.skip;
        self.in_flight = None;
        self.failed = false;
        self.pages = 0;
        self.followed.clear();
    }
}

/// A lazy list: a [`Stream`] of items that fetches one page at a time, only when the items of
/// the previous page are consumed, so memory is bounded by one page however long the list.
///
/// - [`into_pages`](Self::into_pages): the same list as a stream of whole [`Page`]s, from where
///   the item stream is (nothing buffered is dropped).
/// - [`continuation`](Self::continuation): where the list stopped; pass it to
///   [`resume`](Self::resume) on a new pager of the same list call to go on from there.
///
/// NextLinks are followed verbatim, and one that points away from the endpoint's origin is
/// refused ([`ErrorKind::ForeignNextLink`](crate::ErrorKind::ForeignNextLink)). A nextLink
/// already followed ends the list with [`ErrorKind::PagingLoop`](crate::ErrorKind::PagingLoop)
/// instead of looping, and at most [`max_pages`](Self::max_pages) pages are fetched
/// ([`DEFAULT_MAX_PAGES`] unless set; then [`ErrorKind::PageLimit`](crate::ErrorKind::PageLimit)).
/// After an error the stream ends; its continuation still points at the page that failed.
pub struct Pager<T> {
    core: Core<T>,
    buffer: VecDeque<T>,
    current_link: Option<String>,
    consumed: usize,
}

// No field is ever pinned: the futures are boxed.
impl<T> Unpin for Pager<T> {}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("buffered", &self.buffer.len())
            .field("continuation", &self.continuation())
            .finish()
    }
}

impl<T> Pager<T> {
    pub(crate) fn new(fetch: Fetch<T>) -> Self {
        Self {
            core: Core::new(fetch),
            buffer: VecDeque::new(),
            current_link: None,
            consumed: 0,
        }
    }

    /// Fetches at most `n` pages (at least one); the next fetch fails with
    /// [`ErrorKind::PageLimit`](crate::ErrorKind::PageLimit). Default: [`DEFAULT_MAX_PAGES`].
    pub fn max_pages(mut self, n: usize) -> Self {
        self.core.max_pages = n.max(1);
        self
    }

    /// Starts from `continuation` instead of the first page.
    pub fn resume(mut self, continuation: Continuation) -> Self {
        self.core.resume(continuation);
        self.buffer.clear();
        self.consumed = 0;
        self
    }

    /// Where to resume: the page holding the next unconsumed item and how many of its items
    /// were consumed. `None` once the list is exhausted.
    pub fn continuation(&self) -> Option<Continuation> {
        if !self.buffer.is_empty() {
            return Some(Continuation {
                next_link: self.current_link.clone(),
                skip: self.consumed,
            });
        }
        self.core.continuation()
    }

    /// The list as a stream of whole pages, from where the item stream is: when items of the
    /// current page are still buffered, the first page yielded holds them (the rest of that
    /// page), then the next pages follow.
    pub fn into_pages(self) -> Pages<T> {
        let pending = (!self.buffer.is_empty()).then(|| {
            let next_link = match &self.core.position {
                Position::Next(link) => Some(link.clone()),
                Position::Start | Position::Done => None,
            };
            let rest = Continuation {
                next_link: self.current_link.clone(),
                skip: self.consumed,
            };
            (Page::new(self.buffer.into(), next_link), rest)
        });
        Pages {
            core: self.core,
            pending,
        }
    }
}

impl<T> Stream for Pager<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.pop_front() {
                this.consumed += 1;
                return Poll::Ready(Some(Ok(item)));
            }
            let skipped = this.core.skip;
            match ready!(this.core.poll_page(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok((link, page))) => {
                    this.current_link = link;
                    this.consumed = skipped;
                    this.buffer = page.items.into();
                }
            }
        }
    }
}

/// A list as a [`Stream`] of whole pages; see [`Pager::into_pages`].
pub struct Pages<T> {
    core: Core<T>,
    /// The rest of the page the item stream was on, and where it is.
    pending: Option<(Page<T>, Continuation)>,
}

impl<T> Unpin for Pages<T> {}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("continuation", &self.continuation())
            .finish()
    }
}

impl<T> Pages<T> {
    /// Where to resume: the next page to fetch. `None` once the list is exhausted.
    pub fn continuation(&self) -> Option<Continuation> {
        match &self.pending {
            Some((_, at)) => Some(at.clone()),
            None => self.core.continuation(),
        }
    }

    /// Starts from `continuation`.
    pub fn resume(mut self, continuation: Continuation) -> Self {
        self.pending = None;
        self.core.resume(continuation);
        self
    }

    /// Fetches at most `n` pages in all; see [`Pager::max_pages`].
    pub fn max_pages(mut self, n: usize) -> Self {
        self.core.max_pages = n.max(1);
        self
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some((page, _)) = this.pending.take() {
            return Poll::Ready(Some(Ok(page)));
        }
        this.core
            .poll_page(cx)
            .map(|r| r.map(|r| r.map(|(_, page)| page)))
    }
}
