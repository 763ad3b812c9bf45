//! Pages of list operations, and following their `nextLink` verbatim.

use std::marker::PhantomData;

use bytes::Bytes;
use http::header::{ACCEPT, HeaderValue};
use http::{Method, Request, Response, Uri};
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer};

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
pub(crate) struct RawPage<T> {
    pub(crate) value: Vec<T>,
    pub(crate) next_link: Option<String>,
}

/// Reads a page with its items' vector allocated once, at a size estimated from the body's
/// length (see [`RawPageSeed::for_body`]), instead of growing from 4 by doubling: a page of 200
/// messages (536 bytes each in memory) otherwise reallocates 7 times and copies 252 of them.
pub(crate) struct RawPageSeed<T> {
    capacity: usize,
    marker: PhantomData<fn() -> T>,
}

/// The fewest wire bytes an item of any list takes, about: a message with only its required
/// fields is some 90 bytes, and the ones the service sends are 200 to 600.
const MIN_ITEM_BYTES: usize = 128;

/// The most items allocated ahead (the service's largest page is 200); a bigger page grows
/// from there.
const MAX_PRESIZED_ITEMS: usize = 256;

impl<T> RawPageSeed<T> {
    /// The seed for a body of `len` bytes: room for `len / 128` items (at most 256); what is
    /// left unused is given back when the page ends.
    pub(crate) fn for_body(len: usize) -> Self {
        Self {
            capacity: (len / MIN_ITEM_BYTES).min(MAX_PRESIZED_ITEMS),
            marker: PhantomData,
        }
    }
}

const PAGE_FIELDS: &[&str] = &["value", "nextLink"];

/// The members of a page.
enum PageField {
    Value,
    NextLink,
    Other,
}

impl<'de> Deserialize<'de> for PageField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PageField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PageField, E> {
                Ok(match v {
                    "value" => PageField::Value,
                    "nextLink" => PageField::NextLink,
                    _ => PageField::Other,
                })
            }
        }
        deserializer.deserialize_identifier(V)
    }
}

/// The items, into a vector of the estimated capacity.
struct Items<T> {
    capacity: usize,
    marker: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Items<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(self.capacity));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        // Given back in place (the allocator shrinks the block), unless it is a small waste.
        if items.capacity() - items.len() > items.len() / 4 {
            items.shrink_to_fit();
        }
        Ok(items)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for RawPageSeed<T> {
    type Value = RawPage<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawPage<T>, D::Error> {
        deserializer.deserialize_struct("RawPage", PAGE_FIELDS, self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for RawPageSeed<T> {
    type Value = RawPage<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page (value and nextLink)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPage<T>, A::Error> {
        let mut value = None;
        let mut next_link = None;
        let items = Items {
            capacity: self.capacity,
            marker: PhantomData,
        };
        let mut items = Some(items);
        while let Some(field) = map.next_key()? {
            match field {
                PageField::Value => match items.take() {
                    Some(seed) => value = Some(map.next_value_seed(seed)?),
                    None => return Err(de::Error::duplicate_field("value")),
                },
                PageField::NextLink => {
                    if next_link.is_some() {
                        return Err(de::Error::duplicate_field("nextLink"));
                    }
                    next_link = Some(map.next_value::<Option<String>>()?);
                }
                PageField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
        Ok(RawPage {
            value,
            next_link: next_link.flatten(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPage<T>, A::Error> {
        // What serde's derive accepts too: the fields in order, as an array.
        let items = Items {
            capacity: self.capacity,
            marker: PhantomData,
        };
        let value = seq
            .next_element_seed(items)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let next_link = seq.next_element::<Option<String>>()?.flatten();
        Ok(RawPage { value, next_link })
    }
}

/// The same as the seed, without a size estimate (the error path re-parses through this).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for RawPage<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawPageSeed {
            capacity: 0,
            marker: PhantomData,
        }
        .deserialize(deserializer)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::operations::table;

    /// What serde's derive made of a page before the seed, to compare with.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Derived {
        value: Vec<serde_json::Value>,
        #[serde(rename = "nextLink", default)]
        next_link: Option<String>,
    }

    fn parse(body: &[u8]) -> Result<Page<serde_json::Value>, Error> {
        let info = table::ALL
            .iter()
            .find(|i| i.pageable && i.success.contains(&200))
            .expect("a list operation");
        let mut response = Response::new(Bytes::copy_from_slice(body));
        *response.status_mut() = http::StatusCode::OK;
        parse_page(info, response)
    }

    #[test]
    fn pages_parse_as_the_derive_did() {
        for body in [
            r#"{"value":[]}"#,
            r#"{"value":[1,{"a":[2]},"x"],"nextLink":"https://h/x?y=1"}"#,
            r#"{"nextLink":null,"value":[1]}"#,
            r#"{"value":[1],"nextLink":""}"#,
            r#"{"future":{"a":[1,2]},"value":[true],"other":null}"#,
            r#"[[1,2],"https://h/next"]"#,
            r#"[[1]]"#,
        ] {
            let page = parse(body.as_bytes()).unwrap();
            let derived: Derived = serde_json::from_str(body).unwrap();
            assert_eq!(page.items, derived.value, "{body}");
            // An empty link counts as none.
            assert_eq!(
                page.next_link,
                derived.next_link.filter(|l| !l.is_empty()),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_pages_are_decode_errors() {
        for body in [
            &br#"{"nextLink":"x"}"#[..],
            br#"{"value":[1],"value":[2]}"#,
            br#"{"value":[1],"nextLink":"a","nextLink":"b"}"#,
            br#"{"value":{}}"#,
            br#"{"value":[1]} x"#,
            br#"[]"#,
            b"{\"value\":[\"\xff\"]}",
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Decode,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(
                serde_json::from_slice::<Derived>(body).is_err(),
                "the derive took {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_items_vector_is_sized_from_the_body() {
        assert_eq!(RawPageSeed::<u8>::for_body(0).capacity, 0);
        assert_eq!(RawPageSeed::<u8>::for_body(11_400).capacity, 89);
        assert_eq!(RawPageSeed::<u8>::for_body(10_000_000).capacity, 256);
        // What is left over is given back.
        let body = format!(r#"{{"value":[{}]}}"#, ["1"; 10].join(","));
        let seed = RawPageSeed::<u8> {
            capacity: 100,
            marker: PhantomData,
        };
        let page = seed
            .deserialize(&mut serde_json::Deserializer::from_str(&body))
            .unwrap();
        assert_eq!(page.value.len(), 10);
        assert!(page.value.capacity() < 100);
        // A page bigger than the estimate grows.
        let body = format!(r#"{{"value":[{}]}}"#, vec!["1"; 300].join(","));
        let seed = RawPageSeed::<u8> {
            capacity: 2,
            marker: PhantomData,
        };
        let page = seed
            .deserialize(&mut serde_json::Deserializer::from_str(&body))
            .unwrap();
        assert_eq!(page.value.len(), 300);
    }
}
