//! Pages of list operations, and following their `nextLink` verbatim.

use std::marker::PhantomData;

use bytes::Bytes;
use http::header::{ACCEPT, HeaderValue};
use http::{Method, Request, Response, Uri};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::endpoint::requote;
use crate::operation::parse_page;
use crate::{Error, Idempotency, Operation, OperationInfo, RequestContext, redact_url};

/// One page of a list operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The absolute URL of the next page, when there is one (an empty link counts as none).
    pub next_link: Option<String>,
}

impl<T> Page<T> {
    /// A page.
    pub fn new(items: Vec<T>, next_link: Option<String>) -> Self {
        Self { items, next_link }
    }
}

/// A page as the wire has it.
#[derive(Deserialize)]
pub(crate) struct RawPage<T> {
    pub(crate) value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    pub(crate) next_link: Option<String>,
}

/// The request for the next page: a GET of the nextLink, verbatim.
///
/// The link is not re-encoded and gets no second api-version; only bytes that cannot appear in a
/// URI (a space in an odd `startTime`) are escaped. A link to another scheme, host or port than
/// the endpoint's is refused with [`ErrorKind::ForeignOrigin`](crate::ErrorKind::ForeignOrigin),
/// so the token is never sent elsewhere. A server-relative link (`/chat/...`) is resolved against
/// the endpoint's origin.
#[derive(Debug, Clone)]
pub struct NextPage<T> {
    info: &'static OperationInfo,
    next_link: String,
    marker: PhantomData<fn() -> T>,
}

impl<T> NextPage<T> {
    /// The next page of the list operation `info`, at `next_link`.
    pub fn new(info: &'static OperationInfo, next_link: impl Into<String>) -> Self {
        Self {
            info,
            next_link: next_link.into(),
            marker: PhantomData,
        }
    }

    /// The link, as the service sent it.
    pub fn next_link(&self) -> &str {
        &self.next_link
    }
}

/// Validates a nextLink against the endpoint and returns the URI to GET.
pub(crate) fn next_link_uri(ctx: &RequestContext, next_link: &str) -> Result<Uri, Error> {
    let quoted = requote(next_link);
    let absolute = if quoted.starts_with('/') && !quoted.starts_with("//") {
        ctx.endpoint().origin_url(&quoted)
    } else {
        quoted.into_owned()
    };
    let uri: Uri = absolute
        .parse()
        .map_err(|_| Error::invalid_next_link("the nextLink is not a valid URL"))?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(Error::invalid_next_link(
            "the nextLink is not an absolute URL",
        ));
    }
    if !ctx.endpoint().is_same_origin(&uri) {
        // The link's origin as `redact_url` shows it: without user info (it may hold a
        // password), escaped and bounded.
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("?"),
            uri.authority().map_or("?", |a| a.as_str())
        );
        return Err(Error::foreign_origin(format!(
            "refusing to follow a nextLink to {}: it is not on the endpoint {}",
            redact_url(&origin),
            ctx.endpoint()
        )));
    }
    Ok(uri)
}

impl<T: DeserializeOwned> Operation for NextPage<T> {
    type Output = Page<T>;

    fn info(&self) -> &'static OperationInfo {
        self.info
    }

    fn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {
        let uri = next_link_uri(ctx, &self.next_link)?;
        let mut request = Request::new(Bytes::new());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = uri;
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(self.info.accept));
        Ok(request)
    }

    fn parse_response(&self, response: Response<Bytes>) -> Result<Page<T>, Error> {
        parse_page(self.info, response)
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Idempotent
    }
}
