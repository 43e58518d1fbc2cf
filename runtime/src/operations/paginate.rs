//! Pagination over `Connector::request`: a lazy stream of pages (cursor in the body or in a response
//! header, offset, page number, `Link` header, next URL in the body), an items adapter, typed decoding
//! at the edge, and checkpoints to resume.
//!
//! Every page is one call through the whole pipeline (auth, rate limit, hooks, retry, metrics). Pages are
//! fetched on demand, one at a time: the [`Paginator`] holds no items, and [`Items`] holds at most the
//! rest of the current page. The listing ends exactly when the response says so (`has_more: false`, an
//! empty or missing next cursor, no `rel="next"`, a null next URL), and only without such a signal on a
//! short page, so no empty request is made at the end when the API already told.
//!
//! ```no_run
//! # async fn demo(connector: connector_runtime::Connector) -> Result<(), connector_runtime::Error> {
//! use connector_runtime::paginate::{PaginateOptions, Strategy};
//! use connector_runtime::{Method, RequestOptions};
//! use futures_util::StreamExt;
//! // Stripe: the next cursor is the id of the last item, sent as `starting_after`, while `has_more`.
//! let options = PaginateOptions::new(
//!     RequestOptions::new(Method::GET, "/v1/customers"),
//!     Strategy::last_item_cursor("/id", "/has_more"),
//! )
//! .items_pointer("/data")
//! .cursor_param("starting_after")
//! .page_size(100);
//! let mut customers = connector.paginate(options).items();
//! while let Some(customer) = customers.next().await {
//!     println!("{}", customer?["id"]);
//! }
//! // After an error, `customers.checkpoint()` is where `options.resume_from(..)` picks up.
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use http::header::LINK;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::RequestOptions;
use crate::response::Response;

/// Reads the items of a page from the response and its parsed JSON body.
pub type ExtractItems =
    Arc<dyn Fn(&Response<Bytes>, &Value) -> Result<Vec<Value>, Error> + Send + Sync>;

/// Reads the next position from a page: a cursor or offset token ([`Strategy::Cursor`],
/// [`Strategy::Offset`]), a URL ([`Strategy::LinkHeader`], [`Strategy::NextUrl`]) or a page number
/// ([`Strategy::Page`]). `None`: the response names no next position.
pub type ExtractNextCursor = Arc<dyn Fn(&Response<Bytes>, &Value) -> Option<String> + Send + Sync>;

/// Decides from a page whether another page follows.
pub type HasNextPage = Arc<dyn Fn(&Response<Bytes>, &Value) -> bool + Send + Sync>;

/// Where a cursor strategy reads the next cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorSource {
    /// A string in the body at this JSON pointer (Slack: `/response_metadata/next_cursor`). Absent,
    /// null or empty means the end of the listing.
    Body(String),
    /// A field of the page's last item at this JSON pointer, relative to the item (Stripe: `/id`, sent
    /// as `starting_after`).
    LastItem(String),
    /// A response header (Azure: `x-ms-continuation`). Absent or empty means the end of the listing.
    /// The cursor goes back as the cursor parameter, or as a request header with
    /// [`PaginateOptions::cursor_header`].
    Header(String),
}

/// How the next page is found and asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A cursor read from each page and sent as the cursor parameter (see
    /// [`PaginateOptions::cursor_param`]).
    Cursor {
        /// Where the next cursor is read.
        next_cursor: CursorSource,
        /// JSON pointer to a boolean saying whether more pages follow (Stripe: `/has_more`). Without it,
        /// the presence of a non-empty next cursor decides.
        has_more: Option<String>,
    },
    /// An offset parameter (see [`PaginateOptions::offset_param`]).
    Offset {
        /// JSON pointer to the next offset in the body: a string token (Asana: `/next_page/offset`) or a
        /// number; absent or null means the end. Without it the offset is numeric, advanced by the number
        /// of items received, and a short or empty page ends the listing.
        next_offset: Option<String>,
    },
    /// A page number parameter (see [`PaginateOptions::page_param`]), counting from the start page.
    Page {
        /// JSON pointer to a value whose presence means another page follows (DigitalOcean:
        /// `/links/pages/next`): absent, null, `false` and `""` mean the end. Without it, a short or empty
        /// page ends the listing.
        has_next: Option<String>,
    },
    /// The RFC 8288 `Link` header's `rel="next"` target, followed as given (GitHub).
    LinkHeader,
    /// A next URL or path in the body at this JSON pointer (Twilio: `/next_page_uri`, also
    /// `/meta/next_page_url`); absent, null or empty means the end. Relative references are resolved
    /// against the URL of the page that named them.
    NextUrl(String),
}

impl Strategy {
    /// A cursor in the body at `pointer`; the end is an absent, null or empty cursor (Slack).
    pub fn cursor(pointer: impl Into<String>) -> Strategy {
        Strategy::Cursor {
            next_cursor: CursorSource::Body(pointer.into()),
            has_more: None,
        }
    }

    /// The field at `item_pointer` of the last item is the next cursor, while the boolean at
    /// `has_more` is true (Stripe: `("/id", "/has_more")`).
    pub fn last_item_cursor(
        item_pointer: impl Into<String>,
        has_more: impl Into<String>,
    ) -> Strategy {
        Strategy::Cursor {
            next_cursor: CursorSource::LastItem(item_pointer.into()),
            has_more: Some(has_more.into()),
        }
    }

    /// A cursor in the response header `name`; the end is an absent or empty header (Azure:
    /// `x-ms-continuation`, sent back as the `continuation` parameter or, with
    /// [`PaginateOptions::cursor_header`], as a header).
    pub fn header_cursor(name: impl Into<String>) -> Strategy {
        Strategy::Cursor {
            next_cursor: CursorSource::Header(name.into()),
            has_more: None,
        }
    }

    /// A numeric offset advanced by the items received; a short page ends the listing.
    pub fn offset() -> Strategy {
        Strategy::Offset { next_offset: None }
    }

    /// The next offset (token or number) read from the body at `pointer` (Asana: `/next_page/offset`).
    pub fn offset_token(pointer: impl Into<String>) -> Strategy {
        Strategy::Offset {
            next_offset: Some(pointer.into()),
        }
    }

    /// Page numbers; a short page ends the listing.
    pub fn page() -> Strategy {
        Strategy::Page { has_next: None }
    }

    /// Page numbers while the body has a value at `pointer` (DigitalOcean: `/links/pages/next`).
    pub fn page_with_next(pointer: impl Into<String>) -> Strategy {
        Strategy::Page {
            has_next: Some(pointer.into()),
        }
    }

    /// Follow `Link: <url>; rel="next"` (GitHub).
    pub fn link_header() -> Strategy {
        Strategy::LinkHeader
    }

    /// Follow the URL or path in the body at `pointer` (Twilio: `/next_page_uri`).
    pub fn next_url(pointer: impl Into<String>) -> Strategy {
        Strategy::NextUrl(pointer.into())
    }
}

/// Where a listing stands: the position of the next page to fetch. Serialisable, so a listing can be
/// resumed in another process with [`PaginateOptions::resume_from`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Checkpoint {
    /// The first page, with no position parameter.
    Start,
    /// A cursor or offset token, sent as the cursor (or offset) parameter.
    Token(String),
    /// A numeric offset.
    Offset(u64),
    /// A page number.
    Page(u64),
    /// An absolute URL, fetched as it is.
    Url(String),
    /// The listing is exhausted.
    Done,
}

/// What to list and how: the first request, the strategy, parameter names and extractors.
#[derive(Clone)]
pub struct PaginateOptions {
    request: RequestOptions,
    strategy: Strategy,
    page_size: Option<u64>,
    page_size_param: Option<String>,
    cursor_param: String,
    /// Send the cursor as this request header instead of the cursor query parameter.
    cursor_header: Option<String>,
    offset_param: String,
    page_param: String,
    items_pointer: String,
    start: Checkpoint,
    max_pages: Option<u64>,
    max_items: Option<u64>,
    extract_items: Option<ExtractItems>,
    extract_next_cursor: Option<ExtractNextCursor>,
    has_next_page: Option<HasNextPage>,
    /// Typed error bodies of the generated operation this listing pages through.
    pub(crate) errors: Option<crate::support::ErrorDecoder>,
    /// Pages are XML documents of this shape, read into the JSON value pointers look into.
    xml: Option<&'static crate::xml::XmlShape>,
}

impl fmt::Debug for PaginateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaginateOptions")
            .field("request", &self.request)
            .field("strategy", &self.strategy)
            .field("page_size", &self.page_size)
            .field("page_size_param", &self.size_param())
            .field("items_pointer", &self.items_pointer)
            .field("start", &self.start)
            .field("max_pages", &self.max_pages)
            .field("max_items", &self.max_items)
            .field("extract_items", &self.extract_items.is_some())
            .field("extract_next_cursor", &self.extract_next_cursor.is_some())
            .field("has_next_page", &self.has_next_page.is_some())
            .finish_non_exhaustive()
    }
}

impl PaginateOptions {
    /// List with `request` as the first page's request (its query is kept on every page that is not
    /// fetched from a URL) and `strategy` to find the next. Items are read from `/data` by default.
    pub fn new(request: RequestOptions, strategy: Strategy) -> Self {
        PaginateOptions {
            request,
            strategy,
            page_size: None,
            page_size_param: None,
            cursor_param: "cursor".to_owned(),
            cursor_header: None,
            offset_param: "offset".to_owned(),
            page_param: "page".to_owned(),
            items_pointer: "/data".to_owned(),
            start: Checkpoint::Start,
            max_pages: None,
            max_items: None,
            extract_items: None,
            extract_next_cursor: None,
            has_next_page: None,
            errors: None,
            xml: None,
        }
    }

    /// Ask for `n` items per page (sent as the page size parameter on every page not fetched from a
    /// URL); with offset and page strategies without a signal, a page shorter than `n` is the last.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = Some(n);
        self
    }

    /// Name of the page size parameter (default `per_page` for page numbers and `Link` headers, `limit`
    /// otherwise; Twilio: `PageSize`).
    pub fn page_size_param(mut self, name: impl Into<String>) -> Self {
        self.page_size_param = Some(name.into());
        self
    }

    fn size_param(&self) -> &str {
        match (&self.page_size_param, &self.strategy) {
            (Some(p), _) => p,
            (None, Strategy::Page { .. } | Strategy::LinkHeader) => "per_page",
            (None, _) => "limit",
        }
    }

    /// Send the query parameter `name` = `value` on every page request that is not a next URL,
    /// replacing a value the first request already carries (a sync's `since` filter).
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.request.query.retain(|(k, _)| *k != name);
        self.request.query.push((name, value.into()));
        self
    }

    /// Name of the cursor parameter (default `cursor`; Stripe: `starting_after`).
    pub fn cursor_param(mut self, name: impl Into<String>) -> Self {
        self.cursor_param = name.into();
        self
    }

    /// Send the cursor of a [`Strategy::Cursor`] as the request header `name` instead of the cursor
    /// query parameter (Azure Cosmos DB: `x-ms-continuation` both ways). A value the first request
    /// already carries in that header is where the listing starts.
    pub fn cursor_header(mut self, name: impl Into<String>) -> Self {
        self.cursor_header = Some(name.into());
        self
    }

    /// Name of the offset parameter (default `offset`).
    pub fn offset_param(mut self, name: impl Into<String>) -> Self {
        self.offset_param = name.into();
        self
    }

    /// Name of the page number parameter (default `page`).
    pub fn page_param(mut self, name: impl Into<String>) -> Self {
        self.page_param = name.into();
        self
    }

    /// JSON pointer to the items array (default `/data`; `""` for a top-level array). An absent or
    /// null value is an empty page; anything else but an array is a PARSING_ERROR.
    pub fn items_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.items_pointer = pointer.into();
        self
    }

    /// Start from this cursor (or offset token).
    pub fn start_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.start = Checkpoint::Token(cursor.into());
        self
    }

    /// Start from this page number (default 1 for [`Strategy::Page`]; 0 for zero-based APIs).
    pub fn start_page(mut self, page: u64) -> Self {
        self.start = Checkpoint::Page(page);
        self
    }

    /// Start from this numeric offset.
    pub fn start_offset(mut self, offset: u64) -> Self {
        self.start = Checkpoint::Offset(offset);
        self
    }

    /// Continue a listing where a [`Paginator::checkpoint`] (or [`Items::checkpoint`]) left it.
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Self {
        self.start = checkpoint;
        self
    }

    /// Stop after this many pages (the checkpoint then points at the page after them).
    pub fn max_pages(mut self, n: u64) -> Self {
        self.max_pages = Some(n);
        self
    }

    /// Stop after this many items; the page that reaches the limit is cut short, and if it is cut the
    /// checkpoint points at that page again.
    pub fn max_items(mut self, n: u64) -> Self {
        self.max_items = Some(n);
        self
    }

    /// Pages are XML documents of `shape` (S3's `ListBucketResult`, a query protocol answer): each is
    /// read into its JSON form, where the items pointer and the strategy's pointers look.
    pub fn xml_pages(mut self, shape: &'static crate::xml::XmlShape) -> Self {
        self.xml = Some(shape);
        self
    }

    /// Read the items with this function instead of the items pointer.
    pub fn extract_items(
        mut self,
        f: impl Fn(&Response<Bytes>, &Value) -> Result<Vec<Value>, Error> + Send + Sync + 'static,
    ) -> Self {
        self.extract_items = Some(Arc::new(f));
        self
    }

    /// Read the next position with this function instead of the strategy's default (see
    /// [`ExtractNextCursor`]).
    pub fn extract_next_cursor(
        mut self,
        f: impl Fn(&Response<Bytes>, &Value) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.extract_next_cursor = Some(Arc::new(f));
        self
    }

    /// Decide whether another page follows with this function instead of the strategy's signal. When it
    /// says yes, a next position must be found, or the page is an error.
    pub fn has_next_page(
        mut self,
        f: impl Fn(&Response<Bytes>, &Value) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.has_next_page = Some(Arc::new(f));
        self
    }
}

/// The call fetching one page.
type PageFetch = BoxFuture<'static, Result<Response<Bytes>, Error>>;

/// One page: its items and the response they came from (status, headers, meta, raw body).
#[derive(Debug)]
pub struct Page {
    /// The items, in the server's order.
    pub items: Vec<Value>,
    /// The whole response (the raw body included, e.g. for totals).
    pub response: Response<Bytes>,
    /// The position this page was fetched from.
    pub position: Checkpoint,
}

/// A lazy stream of pages from [`Connector::paginate`]. Each poll past the current page makes one call
/// through the pipeline; nothing is fetched ahead or kept. After an error the stream ends, and
/// [`Paginator::checkpoint`] still names the page that failed.
pub struct Paginator {
    connector: Connector,
    options: PaginateOptions,
    endpoint: Cow<'static, str>,
    /// Position of the next page to fetch.
    next: Checkpoint,
    /// Position of the last page yielded.
    last: Checkpoint,
    fetch: Option<(Url, PageFetch)>,
    /// An error found before the first request (a generated operation's invalid parameter).
    pending: Option<Error>,
    stopped: bool,
    pages: u64,
    items: u64,
}

impl fmt::Debug for Paginator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paginator")
            .field("options", &self.options)
            .field("next", &self.next)
            .field("fetching", &self.fetch.is_some())
            .field("pages", &self.pages)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// List pages lazily: a [`Stream`] of [`Page`]s, each fetched with [`Connector::request`] when asked
    /// for. Use [`Paginator::items`] for a stream of items.
    ///
    /// The first request may carry the position and page size itself (a generated operation's
    /// `starting_after`, `offset`, `page` or `limit` set by the caller): without an explicit start or
    /// page size in the options, they are taken from its query as the start position and page size, and
    /// the paginator sets them on every page from then on.
    pub fn paginate(&self, mut options: PaginateOptions) -> Paginator {
        adopt_query_position(&mut options);
        let next = match (&options.start, &options.strategy) {
            (Checkpoint::Start, Strategy::Page { .. }) => Checkpoint::Page(1),
            (c, _) => c.clone(),
        };
        let endpoint = match &options.request.endpoint {
            Some(e) => e.clone(),
            // One low-cardinality name for every page, whatever cursors the URLs carry.
            None => Cow::Owned(match Url::parse(&options.request.path) {
                Ok(u) => u.path().to_owned(),
                Err(_) => options
                    .request
                    .path
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            }),
        };
        Paginator {
            connector: self.clone(),
            endpoint,
            last: next.clone(),
            next,
            options,
            fetch: None,
            pending: None,
            stopped: false,
            pages: 0,
            items: 0,
        }
    }

    /// List items decoded as `T`, lazily (see [`Connector::paginate`] and [`Paginator::items_as`]).
    pub fn paginate_typed<T: DeserializeOwned>(&self, options: PaginateOptions) -> Items<T> {
        self.paginate(options).items_as::<T>()
    }
}

impl Paginator {
    /// The position of the page after the last one yielded: give it to
    /// [`PaginateOptions::resume_from`] to continue with nothing lost or repeated. After an error it is
    /// the page that failed; [`Checkpoint::Done`] once the listing is exhausted.
    pub fn checkpoint(&self) -> Checkpoint {
        self.next.clone()
    }

    /// Pages yielded so far.
    pub fn pages_yielded(&self) -> u64 {
        self.pages
    }

    /// Items yielded so far.
    pub fn items_yielded(&self) -> u64 {
        self.items
    }

    /// A stream of the items of every page, in order.
    pub fn items(self) -> Items<Value> {
        Items::new(self, Ok)
    }

    /// A stream of the items decoded as `T`; an item that does not decode is a PARSING_ERROR and the
    /// stream goes on with the next item.
    pub fn items_as<T: DeserializeOwned>(self) -> Items<T> {
        Items::new(self, decode::<T>)
    }

    /// A paginator that yields `error` and ends, without a request.
    pub(crate) fn failing(mut self, error: Error) -> Paginator {
        self.pending = Some(error);
        self
    }

    fn finished(&self) -> bool {
        self.stopped || self.next == Checkpoint::Done
    }

    /// The request for the page at `self.next`, and its URL (relative next links resolve against it).
    fn page_request(&self) -> Result<(RequestOptions, Url), Error> {
        let o = &self.options;
        let mut req = o.request.clone();
        req.endpoint = Some(self.endpoint.clone());
        let token_param = match o.strategy {
            Strategy::Offset { .. } => &o.offset_param,
            _ => &o.cursor_param,
        };
        let position = match &self.next {
            Checkpoint::Url(u) => {
                // The URL carries every parameter the server wants back.
                req.path = u.clone();
                req.query.clear();
                None
            }
            Checkpoint::Start => Some(None),
            Checkpoint::Token(t) => Some(Some((token_param, t.clone()))),
            Checkpoint::Offset(n) => Some(Some((&o.offset_param, n.to_string()))),
            Checkpoint::Page(n) => Some(Some((&o.page_param, n.to_string()))),
            Checkpoint::Done => unreachable!("no request once the listing is done"),
        };
        let in_header = match (&o.cursor_header, &o.strategy) {
            (Some(h), Strategy::Cursor { .. }) => Some(h),
            _ => None,
        };
        if let Some(position) = position {
            if let Some(n) = o.page_size {
                req.query.push((o.size_param().to_owned(), n.to_string()));
            }
            match (position, in_header) {
                (Some((_, value)), Some(header)) => {
                    let name = http::HeaderName::from_bytes(header.as_bytes())
                        .map_err(|e| Error::validation("cursor header", e))?;
                    // A cursor is the server's own text; one that is not a valid header value
                    // cannot be sent back.
                    let value = http::HeaderValue::from_str(&value)
                        .map_err(|e| Error::validation("cursor header value", e))?;
                    req.headers.insert(name, value);
                }
                (Some((name, value)), None) => req.query.push((name.clone(), value)),
                (None, _) => {}
            }
        }
        let inner = &self.connector.inner;
        let base = crate::request::call_base(
            &inner.base_url,
            &inner.config.servers,
            req.server.as_deref(),
        )?;
        let url = crate::request::join_url(&base, &req.path, req.raw_query.as_deref())?;
        Ok((req, url))
    }

    /// Read a page: its items, and where the next one is.
    fn on_page(&mut self, url: &Url, response: Response<Bytes>) -> Result<Page, Error> {
        let mut body = match self.options.xml {
            Some(shape) => crate::xml::read_value(&response.data, shape)
                .map_err(|e| response.meta.fail(e.with_status(response.status)))?,
            None => response.clone().json::<Value>()?.data,
        };
        let o = &self.options;
        let position = self.next.clone();
        // Everything read from the body is read before the items are moved out of it.
        let more_override = o.has_next_page.as_ref().map(|f| f(&response, &body));
        let custom_next = o.extract_next_cursor.as_ref().map(|f| f(&response, &body));
        let signal = match &o.strategy {
            Strategy::Cursor {
                has_more: Some(p), ..
            } => body.pointer(p).and_then(Value::as_bool),
            Strategy::Page { has_next: Some(p) } => Some(present(body.pointer(p))),
            _ => None,
        };
        let found_next = match &o.strategy {
            Strategy::Cursor {
                next_cursor: CursorSource::Body(p),
                ..
            } => text_at(&body, p).map(Checkpoint::Token),
            Strategy::Cursor {
                next_cursor: CursorSource::Header(h),
                ..
            } => response
                .headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
                .map(|v| Checkpoint::Token(v.to_owned())),
            Strategy::Offset {
                next_offset: Some(p),
            } => match body.pointer(p) {
                Some(Value::String(s)) if !s.is_empty() => Some(Checkpoint::Token(s.clone())),
                Some(Value::Number(n)) => n.as_u64().map(Checkpoint::Offset),
                _ => None,
            },
            Strategy::NextUrl(p) => text_at(&body, p).map(|u| resolve(url, &u)).transpose()?,
            Strategy::LinkHeader => next_link(&response.headers)
                .map(|u| resolve(url, &u))
                .transpose()?,
            _ => None,
        };
        let mut items = match &o.extract_items {
            Some(f) => f(&response, &body)?,
            None => take_items(&mut body, &o.items_pointer, &response)?,
        };
        let received = items.len() as u64;
        let short = received == 0 || o.page_size.is_some_and(|n| received < n);

        // The strategy's own next position, then what a custom extractor says instead.
        let default_next = match (&o.strategy, &position) {
            (
                Strategy::Cursor {
                    next_cursor: CursorSource::LastItem(p),
                    ..
                },
                _,
            ) => items
                .last()
                .and_then(|item| text_at(item, p))
                .map(Checkpoint::Token),
            (Strategy::Offset { next_offset: None }, Checkpoint::Offset(n)) => {
                Some(Checkpoint::Offset(n.saturating_add(received)))
            }
            (Strategy::Offset { next_offset: None }, _) => Some(Checkpoint::Offset(received)),
            (Strategy::Page { .. }, Checkpoint::Page(n)) => {
                Some(Checkpoint::Page(n.saturating_add(1)))
            }
            _ => found_next,
        };
        let next = match custom_next {
            None => default_next,
            Some(None) => None,
            Some(Some(text)) => Some(match &o.strategy {
                Strategy::LinkHeader | Strategy::NextUrl(_) => resolve(url, &text)?,
                Strategy::Page { .. } => Checkpoint::Page(text.parse().map_err(|_| {
                    malformed(
                        &response,
                        format!("next page number {text:?} is not a number"),
                    )
                })?),
                Strategy::Offset { next_offset: None } => match text.parse() {
                    Ok(n) => Checkpoint::Offset(n),
                    Err(_) => Checkpoint::Token(text),
                },
                _ => Checkpoint::Token(text),
            }),
        };
        let more = match (more_override, signal, &o.strategy) {
            (Some(m), _, _) => m,
            (None, Some(s), _) => s,
            (None, None, Strategy::Offset { next_offset: None } | Strategy::Page { .. }) => {
                !short && next.is_some()
            }
            (None, None, _) => next.is_some(),
        };
        let next = match (more, next) {
            (false, _) => Checkpoint::Done,
            (true, Some(n)) if n == position => {
                return Err(malformed(
                    &response,
                    format!("the next page is the page just fetched ({n:?}); stopping a loop"),
                ));
            }
            (true, Some(n)) => n,
            (true, None) => {
                return Err(malformed(
                    &response,
                    "the response says more pages follow but names no next position".into(),
                ));
            }
        };

        self.pages = self.pages.saturating_add(1);
        let mut cut = false;
        if let Some(max) = o.max_items {
            let left = max.saturating_sub(self.items);
            if received >= left {
                cut = received > left;
                items.truncate(left as usize);
                self.stopped = true;
            }
        }
        if o.max_pages.is_some_and(|m| self.pages >= m) {
            self.stopped = true;
        }
        self.items = self.items.saturating_add(items.len() as u64);
        self.last = position.clone();
        if !cut {
            self.next = next;
        }
        Ok(Page {
            items,
            response,
            position,
        })
    }
}

impl Stream for Paginator {
    type Item = Result<Page, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(e) = this.pending.take() {
            this.stopped = true;
            return Poll::Ready(Some(Err(e)));
        }
        if this.fetch.is_none() {
            if this.finished() {
                return Poll::Ready(None);
            }
            match this.page_request() {
                Ok((req, url)) => {
                    let connector = this.connector.clone();
                    let errors = this.options.errors;
                    this.fetch = Some((
                        url,
                        Box::pin(async move {
                            let r = connector.request(req).await;
                            r.map_err(|e| crate::support::typed_error(errors, e))
                        }),
                    ));
                }
                Err(e) => {
                    this.stopped = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        let (_, fut) = this.fetch.as_mut().expect("a fetch in progress");
        let result = ready!(fut.as_mut().poll(cx));
        let (url, _) = this.fetch.take().expect("a fetch in progress");
        match result.and_then(|r| this.on_page(&url, r)) {
            Ok(page) => Poll::Ready(Some(Ok(page))),
            Err(e) => {
                this.stopped = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// A stream of items, page after page, from [`Paginator::items`] (`T` = [`Value`]) or
/// [`Paginator::items_as`]. Holds at most the rest of the current page; the next page is fetched when
/// the current one is used up and another item is asked for.
pub struct Items<T = Value> {
    pages: Paginator,
    current: std::vec::IntoIter<Value>,
    /// The call that brought the current page, for the context of an item that does not decode.
    meta: Option<crate::response::ResponseMeta>,
    decode: fn(Value) -> Result<T, Error>,
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.current.len())
            .finish()
    }
}

impl<T> Items<T> {
    fn new(pages: Paginator, decode: fn(Value) -> Result<T, Error>) -> Self {
        Items {
            pages,
            current: Vec::new().into_iter(),
            meta: None,
            decode,
        }
    }

    /// Where to resume: the page after the last one whose items were all yielded. While a page is only
    /// partly yielded it is that page, so resuming yields its first items again.
    pub fn checkpoint(&self) -> Checkpoint {
        if self.current.len() == 0 {
            self.pages.checkpoint()
        } else {
            self.pages.last.clone()
        }
    }

    /// Items received but not yet yielded (never more than one page).
    pub fn buffered_items(&self) -> usize {
        self.current.len()
    }

    /// The page stream underneath (counters, checkpoint).
    pub fn paginator(&self) -> &Paginator {
        &self.pages
    }
}

impl<T> Stream for Items<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(v) = this.current.next() {
                return Poll::Ready(Some((this.decode)(v).map_err(|e| match &this.meta {
                    Some(meta) => meta.fail(e),
                    None => e,
                })));
            }
            match ready!(Pin::new(&mut this.pages).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(page)) => {
                    this.current = page.items.into_iter();
                    this.meta = Some(page.response.meta);
                }
            }
        }
    }
}

/// Move a position and page size the first request carries in its query into the options, unless
/// the options name them already.
fn adopt_query_position(o: &mut PaginateOptions) {
    let take = |query: &mut Vec<(String, String)>, name: &str| -> Option<String> {
        let i = query.iter().position(|(k, _)| k == name)?;
        Some(query.remove(i).1)
    };
    if o.start == Checkpoint::Start {
        let from_header = match (&o.cursor_header, &o.strategy) {
            (Some(h), Strategy::Cursor { .. }) => o
                .request
                .headers
                .remove(h.as_str())
                .and_then(|v| v.to_str().ok().map(str::to_owned)),
            _ => None,
        };
        let q = &mut o.request.query;
        let start = match &o.strategy {
            _ if from_header.is_some() => from_header.map(Checkpoint::Token),
            Strategy::Cursor { .. } => take(q, &o.cursor_param).map(Checkpoint::Token),
            Strategy::Offset { .. } => take(q, &o.offset_param).map(|v| match v.parse::<u64>() {
                Ok(n) => Checkpoint::Offset(n),
                Err(_) => Checkpoint::Token(v),
            }),
            Strategy::Page { .. } => take(q, &o.page_param)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Checkpoint::Page),
            // The first page is the request as given; later ones are the URLs the server names.
            Strategy::LinkHeader | Strategy::NextUrl(_) => None,
        };
        if let Some(start) = start {
            o.start = start;
        }
    }
    let url_strategy = matches!(o.strategy, Strategy::LinkHeader | Strategy::NextUrl(_));
    if o.page_size.is_none() && !url_strategy {
        let name = o.size_param().to_owned();
        let q = &mut o.request.query;
        if let Some(i) = q
            .iter()
            .position(|(k, v)| *k == name && v.parse::<u64>().is_ok())
        {
            o.page_size = q.remove(i).1.parse().ok();
        }
    }
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| {
        Error::new(
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            format!("a listed item is not the expected shape: {e}"),
        )
        .with_cause(e)
    })
}

/// A PARSING_ERROR about a page, with its status, raw body and request id.
fn malformed(response: &Response<Bytes>, message: String) -> Error {
    let e = Error::new(ErrorCode::ParsingError, ErrorSource::Deserialize, message)
        .with_status(response.status)
        .with_request_sent(true)
        .with_raw_body(response.data.clone());
    response.meta.fail(e)
}

/// Move the items array out of the body.
fn take_items(
    body: &mut Value,
    pointer: &str,
    response: &Response<Bytes>,
) -> Result<Vec<Value>, Error> {
    match body.pointer_mut(pointer).map(Value::take) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(malformed(
            response,
            format!(
                "the items at {pointer:?} are not an array but {}",
                kind(&other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A non-empty string (or a number, as text) at `pointer`.
fn text_at(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a "next" marker is there: anything but absent, null, `false` and `""`.
fn present(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null) | Some(Value::Bool(false)))
        && v.and_then(Value::as_str) != Some("")
}

/// Resolve a next link against the URL of the page that named it (RFC 3986): absolute URLs stay as
/// they are, `/path?query` is relative to the host.
fn resolve(base: &Url, link: &str) -> Result<Checkpoint, Error> {
    base.join(link)
        .map(|u| Checkpoint::Url(u.into()))
        .map_err(|e| Error::validation("next page link", e))
}

/// The target of the first `rel="next"` link in the `Link` headers (RFC 8288).
fn next_link(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(find_rel_next)
}

fn find_rel_next(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        rest = &rest[close + 1..];
        // Parameters run to the next `,` outside quotes.
        let mut end = rest.len();
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = &rest[end..];
        let is_next = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_finds_next_among_other_relations() {
        let h = r#"<https://api.github.com/repositories/1/issues?page=1>; rel="prev", <https://api.github.com/repositories/1/issues?page=3&q=a,b>; rel="next", <https://x/?page=9>; rel="last""#;
        assert_eq!(
            find_rel_next(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=3&q=a,b")
        );
        assert_eq!(
            find_rel_next(r#"<a>; title="x, y"; rel="prev next""#).as_deref(),
            Some("a")
        );
        assert_eq!(find_rel_next("<b>; REL=next").as_deref(), Some("b"));
        assert_eq!(find_rel_next(r#"<a>; rel="prev", <c>; rel="last""#), None);
        assert_eq!(find_rel_next(""), None);
    }

    #[test]
    fn relative_links_resolve_against_the_host() {
        let base =
            Url::parse("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?PageSize=2")
                .unwrap();
        assert_eq!(
            resolve(&base, "/2010-04-01/Accounts/AC1/Calls.json?Page=1").unwrap(),
            Checkpoint::Url(
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?Page=1".into()
            )
        );
        assert_eq!(
            resolve(&base, "https://other.example/x").unwrap(),
            Checkpoint::Url("https://other.example/x".into())
        );
    }

    #[test]
    fn checkpoints_serialise_as_small_tagged_values() {
        let c = Checkpoint::Token("abc".into());
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(s, r#"{"kind":"token","value":"abc"}"#);
        assert_eq!(serde_json::from_str::<Checkpoint>(&s).unwrap(), c);
        assert_eq!(
            serde_json::to_string(&Checkpoint::Done).unwrap(),
            r#"{"kind":"done"}"#
        );
    }

    #[test]
    fn streams_can_move_across_tasks() {
        fn send<T: Send + Unpin>() {}
        send::<Paginator>();
        send::<Items<Value>>();
        send::<PaginateOptions>();
    }

    #[test]
    fn presence_of_a_next_marker() {
        assert!(!present(None));
        assert!(!present(Some(&Value::Null)));
        assert!(!present(Some(&Value::Bool(false))));
        assert!(!present(Some(&Value::from(""))));
        assert!(present(Some(&Value::from("https://x/?page=2"))));
        assert!(present(Some(&Value::Bool(true))));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_link_header_text_is_read_without_panic(text in "([<>;,=\" a-z/:?&.0-9]|rel|next){0,80}") {
                if let Some(target) = find_rel_next(&text) {
                    let wanted = format!("<{target}>");
                    prop_assert!(text.contains(&wanted));
                }
            }

            #[test]
            fn a_next_link_is_found_among_others(
                before in proptest::collection::vec("[a-z0-9/?=&.]{1,20}", 0..4),
                next in "[a-z0-9/?=&.:,]{1,30}",
            ) {
                let mut parts: Vec<String> = before.iter().map(|u| format!("<{u}>; rel=\"prev\"")).collect();
                parts.push(format!("<{next}>; rel=\"next\""));
                prop_assert_eq!(find_rel_next(&parts.join(", ")), Some(next));
            }
        }
    }
}
