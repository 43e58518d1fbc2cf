//! What a caller asks for ([`RequestOptions`], [`Body`]) and the concrete request the pipeline builds
//! from it ([`RequestParts`]), which hooks, auth and signers see and may change.
//!
//! Bodies are buffered ([`Body::Bytes`]) or streamed ([`Body::Stream`]). A streamed body is read from
//! a [`BodySource`] that is opened afresh for every attempt, so a retry sends it again from its first
//! byte without the payload ever being held in memory. Sources made from a file or from a factory of
//! readers are replayable; a single reader ([`BodySource::reader`]) is one-shot: once its first byte
//! was handed to the transport the pipeline does not replay the request.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncSeekExt};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::RetryConfig;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::redact::Redactor;

/// A request body. Buffered bodies can be replayed on retry as they are; streamed ones are opened
/// again from their [`BodySource`] for every attempt.
#[derive(Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes with a content type.
    Bytes {
        /// `Content-Type` to send.
        content_type: HeaderValue,
        /// The payload.
        data: Bytes,
    },
    /// A body streamed from a source, never held in memory as a whole. `Content-Length` is sent when
    /// the source knows its length, otherwise the body goes out with chunked transfer encoding.
    /// Hooks and signers see an empty [`RequestParts::body`] with [`RequestParts::is_streamed`] true.
    Stream {
        /// `Content-Type` to send, if any.
        content_type: Option<HeaderValue>,
        /// Where the bytes come from.
        source: BodySource,
    },
}

impl Body {
    /// The file at `path`, streamed (read in 128 KiB pieces) with its length as `Content-Length` and
    /// `application/octet-stream` as content type. Replayable: every attempt reopens the file.
    /// A missing or unreadable file is a VALIDATION_ERROR naming it.
    pub async fn file(path: impl AsRef<Path>) -> Result<Body, Error> {
        Ok(Body::Stream {
            content_type: Some(HeaderValue::from_static("application/octet-stream")),
            source: BodySource::file(path).await?,
        })
    }

    /// A replayable streamed body: `open` is called for every attempt and must return a reader at
    /// the start of the same bytes. With `length`, `Content-Length` is sent (and a reader that ends
    /// early or runs long fails the attempt instead of sending a malformed request).
    pub fn reader_factory<F, Fut, R>(
        content_type: &str,
        length: Option<u64>,
        open: F,
    ) -> Result<Body, Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = io::Result<R>> + Send + 'static,
        R: AsyncRead + Send + Unpin + 'static,
    {
        Ok(Body::Stream {
            content_type: Some(content_type_value(content_type)?),
            source: BodySource::reader_factory(length, open),
        })
    }

    /// A one-shot streamed body read from `reader`. It cannot be replayed: once the transport started
    /// reading it, a retryable failure is returned to the caller instead of being retried (detail
    /// `retry_stopped`), and a 401 is returned as it is, without the credential refresh and replay.
    /// Prefer [`Body::file`] or [`Body::reader_factory`] where the bytes can be produced again.
    pub fn reader<R>(content_type: &str, length: Option<u64>, reader: R) -> Result<Body, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        Ok(Body::Stream {
            content_type: Some(content_type_value(content_type)?),
            source: BodySource::reader(length, reader),
        })
    }

    /// Whether the pipeline may send this body again: always, except for a one-shot source whose
    /// reader was already taken by an earlier attempt.
    pub fn can_replay(&self) -> bool {
        match self {
            Body::Stream { source, .. } => source.can_replay(),
            _ => true,
        }
    }

    /// `application/json` from any serde value.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Body, Error> {
        let data = serde_json::to_vec(value).map_err(|e| {
            Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("request body could not be encoded as JSON: {e}"),
            )
        })?;
        Ok(Body::Bytes {
            content_type: HeaderValue::from_static("application/json"),
            data: data.into(),
        })
    }

    /// `application/x-www-form-urlencoded` from key/value pairs (already flattened by the caller).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Body {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k.as_ref(), v.as_ref());
        }
        Body::Bytes {
            content_type: HeaderValue::from_static("application/x-www-form-urlencoded"),
            data: ser.finish().into(),
        }
    }

    /// Raw bytes with the given content type.
    pub fn bytes(content_type: &str, data: impl Into<Bytes>) -> Result<Body, Error> {
        Ok(Body::Bytes {
            content_type: content_type_value(content_type)?,
            data: data.into(),
        })
    }

    /// The buffered bytes, if any (None for empty and streamed bodies).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Body::Empty | Body::Stream { .. } => None,
            Body::Bytes { data, .. } => Some(data),
        }
    }

    /// The body's length when known (0 for none).
    pub fn length(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes { data, .. } => Some(data.len() as u64),
            Body::Stream { source, .. } => source.length(),
        }
    }
}

/// Bytes in memory, sent as `application/octet-stream` unless the operation declares a media type.
impl From<Bytes> for Body {
    fn from(data: Bytes) -> Body {
        Body::Bytes {
            content_type: HeaderValue::from_static("application/octet-stream"),
            data,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(data: Vec<u8>) -> Body {
        Body::from(Bytes::from(data))
    }
}

impl From<&'static [u8]> for Body {
    fn from(data: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(data))
    }
}

impl From<String> for Body {
    fn from(data: String) -> Body {
        Body::from(Bytes::from(data))
    }
}

impl From<&'static str> for Body {
    fn from(data: &'static str) -> Body {
        Body::from(Bytes::from_static(data.as_bytes()))
    }
}

/// A streamed source, with no content type of its own.
impl From<BodySource> for Body {
    fn from(source: BodySource) -> Body {
        Body::Stream {
            content_type: None,
            source,
        }
    }
}

fn content_type_value(content_type: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(content_type).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            ErrorSource::Unknown,
            format!("invalid content type: {e}"),
        )
    })
}

/// A stream of body bytes as a source yields them.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

type OpenFn = dyn Fn(u64) -> BoxFuture<'static, io::Result<ByteStream>> + Send + Sync;

/// How many bytes a file or reader source reads at a time.
const READ_CHUNK: usize = 128 * 1024;

/// Where a streamed body's bytes come from: something that can be opened at a byte offset, with its
/// length when known. Cheap to clone (clones share the source).
///
/// Opening is lazy: nothing is read (and a one-shot reader is not taken) until the transport polls
/// the body for its first bytes, so an attempt that fails to connect leaves a one-shot source intact.
#[derive(Clone)]
pub struct BodySource {
    open: Arc<OpenFn>,
    length: Option<u64>,
    /// The flags of the one-shot readers this source reads (set once taken); empty when replayable.
    taken: Vec<Arc<AtomicBool>>,
    what: Cow<'static, str>,
}

impl BodySource {
    /// The file at `path`; its length is read now. Every open reopens the file and seeks, and reads
    /// exactly that length: a file that shrank meanwhile fails the attempt.
    pub async fn file(path: impl AsRef<Path>) -> Result<BodySource, Error> {
        let path: PathBuf = path.as_ref().to_owned();
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::validation("body file", format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(Error::validation(
                "body file",
                format!("{} is not a regular file", path.display()),
            ));
        }
        let len = meta.len();
        let what = format!("file {}", path.display());
        let open = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let path = path.clone();
            Box::pin(async move {
                let mut f = tokio::fs::File::open(&path).await?;
                if offset > 0 {
                    f.seek(io::SeekFrom::Start(offset)).await?;
                }
                let s = tokio_util::io::ReaderStream::with_capacity(f, READ_CHUNK).boxed();
                Ok(take_bytes(s, len.saturating_sub(offset)))
            })
        };
        Ok(BodySource {
            open: Arc::new(open),
            length: Some(len),
            taken: Vec::new(),
            what: what.into(),
        })
    }

    /// A replayable source: `open` returns a fresh reader at the first byte each time. Opening at an
    /// offset reads and discards the bytes before it.
    pub fn reader_factory<F, Fut, R>(length: Option<u64>, open: F) -> BodySource
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = io::Result<R>> + Send + 'static,
        R: AsyncRead + Send + Unpin + 'static,
    {
        let open = Arc::new(open);
        let f = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let open = open.clone();
            Box::pin(async move {
                let r = open().await?;
                let s = tokio_util::io::ReaderStream::with_capacity(r, READ_CHUNK).boxed();
                let s = skip_bytes(s, offset);
                Ok(match length {
                    Some(len) => take_bytes(s, len.saturating_sub(offset)),
                    None => s,
                })
            })
        };
        BodySource {
            open: Arc::new(f),
            length,
            taken: Vec::new(),
            what: "reader factory".into(),
        }
    }

    /// A one-shot source over a single reader: it can be opened once, at offset 0.
    pub fn reader<R>(length: Option<u64>, reader: R) -> BodySource
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let slot = Arc::new(Mutex::new(Some(reader)));
        let taken = Arc::new(AtomicBool::new(false));
        let flag = taken.clone();
        let f = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let (slot, flag) = (slot.clone(), flag.clone());
            Box::pin(async move {
                let reader = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some(r) = reader else {
                    return Err(io::Error::other(
                        "a one-shot body was already sent and cannot be read again",
                    ));
                };
                flag.store(true, Ordering::SeqCst);
                let s = tokio_util::io::ReaderStream::with_capacity(r, READ_CHUNK).boxed();
                let s = skip_bytes(s, offset);
                Ok(match length {
                    Some(len) => take_bytes(s, len.saturating_sub(offset)),
                    None => s,
                })
            })
        };
        BodySource {
            open: Arc::new(f),
            length,
            taken: vec![taken],
            what: "one-shot reader".into(),
        }
    }

    /// Bytes already in memory (used for the framing of streamed multipart bodies).
    pub fn bytes(data: impl Into<Bytes>) -> BodySource {
        let data: Bytes = data.into();
        let len = data.len() as u64;
        let f = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let rest = data.slice((offset.min(len) as usize)..);
            Box::pin(std::future::ready(Ok(stream::iter([Ok(rest)]).boxed())))
        };
        BodySource {
            open: Arc::new(f),
            length: Some(len),
            taken: Vec::new(),
            what: "bytes".into(),
        }
    }

    /// The sources one after the other. Its length is known when every part's is; it is replayable
    /// when every part is.
    pub fn concat(parts: Vec<BodySource>) -> BodySource {
        let length = parts
            .iter()
            .try_fold(0u64, |acc, p| Some(acc.saturating_add(p.length?)));
        let taken = parts.iter().flat_map(|p| p.taken.iter().cloned()).collect();
        let parts = Arc::new(parts);
        let f = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let parts = parts.clone();
            Box::pin(async move {
                // Each part is opened when the previous one is done.
                let s = stream::iter(0..parts.len())
                    .then(move |i| {
                        let p = parts[i].clone();
                        async move { p.open_at(0).await }
                    })
                    .try_flatten()
                    .boxed();
                Ok(skip_bytes(s, offset))
            })
        };
        BodySource {
            open: Arc::new(f),
            length,
            taken,
            what: "concatenation".into(),
        }
    }

    /// The length in bytes, when known.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// False once a one-shot source has been read; always true for replayable ones.
    pub fn can_replay(&self) -> bool {
        !self.taken.iter().any(|t| t.load(Ordering::SeqCst))
    }

    /// Whether this source can be opened more than once at all.
    pub fn is_one_shot(&self) -> bool {
        !self.taken.is_empty()
    }

    /// Open the source at `offset` now.
    pub async fn open_at(&self, offset: u64) -> io::Result<ByteStream> {
        (self.open)(offset).await
    }

    /// A stream of the bytes from `offset` that opens the source only when first polled.
    pub fn stream_from(&self, offset: u64) -> ByteStream {
        let open = self.open.clone();
        stream::once(async move { open(offset).await })
            .try_flatten()
            .boxed()
    }

    /// `len` bytes from `start`, as a source of its own (for the chunks of a resumable upload).
    pub(crate) fn slice(&self, start: u64, len: u64) -> BodySource {
        let inner = self.clone();
        let f = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let inner = inner.clone();
            Box::pin(async move {
                let s = inner.open_at(start + offset.min(len)).await?;
                Ok(take_bytes(s, len.saturating_sub(offset)))
            })
        };
        BodySource {
            open: Arc::new(f),
            length: Some(len),
            taken: self.taken.clone(),
            what: self.what.clone(),
        }
    }

    /// This source with `f` applied to every stream it opens (progress and hashing wrappers).
    pub(crate) fn map_stream(
        &self,
        f: impl Fn(u64, ByteStream) -> ByteStream + Send + Sync + 'static,
    ) -> BodySource {
        let inner = self.clone();
        let f = Arc::new(f);
        let open = move |offset: u64| -> BoxFuture<'static, io::Result<ByteStream>> {
            let (inner, f) = (inner.clone(), f.clone());
            Box::pin(async move { Ok(f(offset, inner.open_at(offset).await?)) })
        };
        BodySource {
            open: Arc::new(open),
            length: self.length,
            taken: self.taken.clone(),
            what: self.what.clone(),
        }
    }
}

impl fmt::Debug for BodySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodySource({}", self.what)?;
        if let Some(l) = self.length {
            write!(f, ", {l} bytes")?;
        }
        f.write_str(")")
    }
}

/// The first `n` bytes of `s`; a stream that ends before them is an `UnexpectedEof` error, so a source
/// shorter than its declared length fails the attempt instead of leaving the server waiting.
pub(crate) fn take_bytes(s: ByteStream, n: u64) -> ByteStream {
    stream::unfold((s, n, false), |(mut s, left, done)| async move {
        if done || left == 0 {
            return None;
        }
        match s.next().await {
            None => Some((
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the body source ended {left} bytes short of its declared length"),
                )),
                (s, left, true),
            )),
            Some(Err(e)) => Some((Err(e), (s, left, true))),
            Some(Ok(mut b)) => {
                if b.len() as u64 > left {
                    b.truncate(left as usize);
                }
                let left = left - b.len() as u64;
                Some((Ok(b), (s, left, false)))
            }
        }
    })
    .boxed()
}

/// `s` without its first `n` bytes.
pub(crate) fn skip_bytes(s: ByteStream, n: u64) -> ByteStream {
    if n == 0 {
        return s;
    }
    stream::unfold((s, n), |(mut s, mut skip)| async move {
        loop {
            match s.next().await? {
                Err(e) => return Some((Err(e), (s, 0))),
                Ok(mut b) => {
                    if skip == 0 {
                        return Some((Ok(b), (s, 0)));
                    }
                    if (b.len() as u64) <= skip {
                        skip -= b.len() as u64;
                        continue;
                    }
                    let rest = b.split_off(skip as usize);
                    return Some((Ok(rest), (s, 0)));
                }
            }
        }
    })
    .boxed()
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies may hold secrets (form-encoded credentials); show their size only.
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes { content_type, data } => {
                write!(f, "Bytes({content_type:?}, {} bytes)", data.len())
            }
            Body::Stream {
                content_type,
                source,
            } => write!(f, "Stream({content_type:?}, {source:?})"),
        }
    }
}

/// Everything one call may set. Built with [`RequestOptions::new`] and chained setters.
#[derive(Clone, Debug)]
pub struct RequestOptions {
    /// HTTP method.
    pub method: Method,
    /// Path joined to the base URL (`/users/42`), or an absolute `http(s)://` URL (e.g. a next-page link).
    pub path: String,
    /// The path template (`/users/{id}`) or operation name, used in spans, metrics and errors so they
    /// carry no identifiers and stay low-cardinality. Defaults to `path`.
    pub endpoint: Option<Cow<'static, str>>,
    /// Headers for this call (override default headers of the same name).
    pub headers: HeaderMap,
    /// Query parameters, in order, after the default ones.
    pub query: Vec<(String, String)>,
    /// A query string already encoded (`a=1&b=x`, or percent-encoded JSON), appended after the
    /// pairs of `query` (OpenAPI 3.2 `in: querystring`: one parameter that is the whole query).
    pub raw_query: Option<String>,
    /// The server the operation declares for itself, when it is not the configured base: an absolute
    /// URL (`https://uploads.example.com/v2`) or one relative to the configured base (`/v2`, resolved
    /// by RFC 3986 rules). [`crate::ConnectorConfig::servers`] may replace it; see [`call_base`].
    pub server: Option<Cow<'static, str>>,
    /// Body.
    pub body: Body,
    /// Per-attempt timeout overriding the configured one.
    pub timeout: Option<Duration>,
    /// Cancels the call wherever it is (waiting for a slot, in flight, backing off).
    pub cancel: Option<CancellationToken>,
    /// Idempotency key; with one, retryable failures of unsafe methods are replayed with the same key.
    pub idempotency_key: Option<String>,
    /// Retry settings for this call only.
    pub retry: Option<RetryConfig>,
    /// May share an identical GET/HEAD already in flight (default true; see [`crate::config::DedupConfig`]).
    pub dedup: bool,
    /// May use the response cache, when one is configured (default true; see
    /// [`crate::config::CacheConfig`]).
    pub use_cache: bool,
    /// The security requirements of the operation this call is: alternatives, each the scheme names
    /// sent together (see [`crate::auth::Credentials`]). None: the call declares none, and a
    /// [`crate::auth::Credentials`] set sends its first credential, as a single strategy always does.
    pub security: Option<crate::auth::Requirements>,
    /// Header names given to [`RequestOptions::header`] that were not valid; reported at send time.
    pub(crate) invalid_headers: Vec<String>,
    /// The `Accept` a generated operation asks for, sent when `headers` has none. Kept apart from
    /// `headers` so that an operation with no header of its own builds no map.
    pub(crate) accept: Option<&'static str>,
}

impl RequestOptions {
    /// A request with nothing but a method and a path.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        RequestOptions {
            method,
            path: path.into(),
            endpoint: None,
            headers: HeaderMap::new(),
            query: Vec::new(),
            raw_query: None,
            server: None,
            body: Body::Empty,
            timeout: None,
            cancel: None,
            idempotency_key: None,
            retry: None,
            dedup: true,
            use_cache: true,
            security: None,
            invalid_headers: Vec::new(),
            accept: None,
        }
    }

    /// Declare the operation's security requirements (see [`RequestOptions::security`]).
    pub fn security(mut self, requirements: crate::auth::Requirements) -> Self {
        self.security = Some(requirements);
        self
    }

    /// Set the path template / operation name used for observability.
    pub fn endpoint(mut self, endpoint: impl Into<Cow<'static, str>>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Add a header. Invalid names or values are a VALIDATION_ERROR when the request is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            // Kept aside so sending reports it instead of silently dropping the header.
            _ => self.invalid_headers.push(name.to_owned()),
        }
        self
    }

    /// Add a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Set the whole query string, already encoded (see [`RequestOptions::raw_query`]).
    pub fn raw_query(mut self, query: impl Into<String>) -> Self {
        self.raw_query = Some(query.into());
        self
    }

    /// Send this call to the operation's own server (see [`RequestOptions::server`]).
    pub fn server(mut self, server: impl Into<Cow<'static, str>>) -> Self {
        self.server = Some(server.into());
        self
    }

    /// Set the body.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Set a per-attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Set a cancellation token.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Set the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Override retry settings for this call.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Allow (true, the default) or forbid sharing an identical request already in flight: with false,
    /// this call always sends its own request.
    pub fn dedup(mut self, share: bool) -> Self {
        self.dedup = share;
        self
    }

    /// Allow (true, the default) or forbid the response cache for this call: with false, nothing is
    /// looked up, no conditional header is added and the answer is not stored.
    pub fn use_cache(mut self, use_cache: bool) -> Self {
        self.use_cache = use_cache;
        self
    }
}

/// The base URL one call goes to. Without an operation server it is the configured base URL. An
/// operation server listed in `overrides` (by its URL as declared, or `*` for every one) goes to the
/// replacement instead; otherwise an absolute one is used as it is and a relative one is resolved
/// against the configured base (`https://h/v1` with `/v2` is `https://h/v2`). The configured base
/// is borrowed, not copied.
pub fn call_base<'a>(
    base: &'a Url,
    overrides: &std::collections::BTreeMap<String, String>,
    server: Option<&str>,
) -> Result<Cow<'a, Url>, Error> {
    let Some(server) = server else {
        return Ok(Cow::Borrowed(base));
    };
    let chosen = overrides.get(server).or_else(|| overrides.get("*"));
    let url = match chosen {
        Some(o) => Url::parse(o),
        None if server.starts_with("http://") || server.starts_with("https://") => {
            Url::parse(server)
        }
        None => base.join(server),
    };
    let url = url.map_err(|e| Error::validation("server", format!("`{server}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::validation(
            "server",
            format!("`{server}` is not an http(s) URL"),
        ));
    }
    Ok(Cow::Owned(url))
}

/// The most joined URLs [`joined_template`] keeps per thread before it starts again.
const JOINED_MAX: usize = 256;

thread_local! {
    /// Joined URLs of operations without path parameters, per thread: (connector, template) -> URL.
    static JOINED: std::cell::RefCell<crate::idhash::IdMap<(u64, usize, usize), Url>> =
        std::cell::RefCell::new(Default::default());
}

/// The connector's base joined with `template`, an operation's path without parameters (the same on
/// every call), from a per-thread cache: a clone of the joined URL is one allocation of its length,
/// where joining parses the path again and grows the base's copy. Per thread, so no lock is shared;
/// a template is known by its address (a `&'static str` is never moved or freed) and the connector by
/// its id; at most [`JOINED_MAX`] entries, cleared when full.
pub(crate) fn joined_template(
    connector: u64,
    template: &'static str,
    join: impl FnOnce() -> Result<Url, Error>,
) -> Result<Url, Error> {
    let key = (connector, template.as_ptr() as usize, template.len());
    if let Some(url) = JOINED.with_borrow(|m| m.get(&key).cloned()) {
        return Ok(url);
    }
    let url = join()?;
    JOINED.with_borrow_mut(|m| {
        if m.len() >= JOINED_MAX {
            m.clear();
        }
        m.insert(key, url.clone());
    });
    Ok(url)
}

/// `base` and `path` joined (`path` is absolute when it starts with a scheme), with `raw_query`
/// appended to whatever query the result has.
pub(crate) fn join_url(base: &Url, path: &str, raw_query: Option<&str>) -> Result<Url, Error> {
    let mut url = if path.starts_with("http://") || path.starts_with("https://") {
        Url::parse(path)
    } else if let Some(url) = join_plain_path(base, path) {
        Ok(url)
    } else {
        let base = base.as_str().trim_end_matches('/');
        let sep = if path.starts_with('/') { "" } else { "/" };
        Url::parse(&format!("{base}{sep}{path}"))
    }
    .map_err(|e| Error::validation("path", e))?;
    if let Some(raw) = raw_query {
        append_raw_query(&mut url, raw);
    }
    Ok(url)
}

/// The common case of [`join_url`] without parsing the whole URL again (scheme, host and its IDNA
/// processing): a plain path (printable ASCII, no query, fragment, backslash or dot segment) under a
/// base with no query or fragment only has its path set. `None` when the full parse is needed; both
/// give the same URL (see the test `plain_paths_join_as_a_full_parse_would`).
fn join_plain_path(base: &Url, path: &str) -> Option<Url> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\'))
        && !path.contains("/.")
        && !path.starts_with('.');
    if !plain || base.cannot_be_a_base() || base.query().is_some() || base.fragment().is_some() {
        return None;
    }
    let prefix = base.path().trim_end_matches('/');
    let sep = if path.starts_with('/') { "" } else { "/" };
    let mut joined = String::with_capacity(prefix.len() + sep.len() + path.len());
    joined.push_str(prefix);
    joined.push_str(sep);
    joined.push_str(path);
    let mut url = base.clone();
    url.set_path(&joined);
    Some(url)
}

/// Append an already encoded query string to whatever query `url` has.
pub(crate) fn append_raw_query(url: &mut Url, raw: &str) {
    if raw.is_empty() {
        return;
    }
    let q = match url.query().filter(|q| !q.is_empty()) {
        Some(existing) => format!("{existing}&{raw}"),
        None => raw.to_owned(),
    };
    url.set_query(Some(&q));
}

/// A stable idempotency key for one logical operation: a hash of the operation name and its stable
/// inputs (the specification's `hash(operationName + stableInputs)`). Two calls with equal inputs get the
/// same key, so use it only where a repeat of the same inputs should count as the same operation;
/// otherwise use [`random_idempotency_key`].
pub fn derive_idempotency_key(operation: &str, stable_inputs: &[u8]) -> String {
    // FNV-1a 128: stable across processes and versions (unlike std's SipHash keys), no extra dependency.
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in operation
        .as_bytes()
        .iter()
        .chain([0u8].iter())
        .chain(stable_inputs)
    {
        h ^= u128::from(*b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("{operation}-{h:032x}")
}

/// A fresh random idempotency key (a v4 UUID from the thread's CSPRNG, seeded from the OS once
/// per thread rather than a `getrandom` system call per key). A key a server uses to recognise a
/// replay is worth the stronger generator.
pub fn random_idempotency_key() -> String {
    uuid_from(rand::random::<[u8; 16]>())
}

thread_local! {
    /// The generator of request ids: xoshiro256++ (`SmallRng`), seeded once per thread from the
    /// thread's CSPRNG. An id only correlates logs across client and server, so it needs to be
    /// unique (122 random bits from a seed no other thread or process shares), not unpredictable;
    /// the CSPRNG's block function cost more than the rest of making the id, on every call.
    static REQUEST_IDS: std::cell::RefCell<rand::rngs::SmallRng> = std::cell::RefCell::new(
        <rand::rngs::SmallRng as rand::SeedableRng>::from_rng(&mut rand::rng()),
    );
}

/// A fresh request id: a v4 UUID (see `REQUEST_IDS` for where its bits come from).
pub(crate) fn random_request_id() -> String {
    let mut bytes = [0u8; 16];
    REQUEST_IDS.with_borrow_mut(|g| rand::Rng::fill_bytes(g, &mut bytes));
    uuid_from(bytes)
}

/// `bytes` as a v4 UUID in its hyphenated, lower-case form. (Encoded into a buffer of its exact
/// length, not through `Display`: no formatter, no growth.)
fn uuid_from(bytes: [u8; 16]) -> String {
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

/// The concrete request of one attempt: what auth, hooks and signers see and may change.
#[derive(Clone)]
pub struct RequestParts {
    /// Method.
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes (empty for none, and for a streamed body: see [`RequestParts::is_streamed`]).
    /// Setting bytes here on a streamed request replaces the stream with them.
    pub body: Bytes,
    /// The source of a streamed body.
    pub(crate) stream: Option<BodySource>,
    pub(crate) redactor: Redactor,
    /// The call's security requirements ([`RequestOptions::security`]), for the auth strategy.
    pub security: Option<crate::auth::Requirements>,
}

impl RequestParts {
    /// Set (replace) a header; invalid names or values are reported as VALIDATION_ERROR.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::validation(&format!("header {name}"), e))?;
        self.set_named_header(n, value)
    }

    /// [`RequestParts::set_header`] with the name already parsed.
    pub(crate) fn set_named_header(&mut self, name: HeaderName, value: &str) -> Result<(), Error> {
        put_header(&mut self.headers, name, value, &self.redactor)
    }

    /// True when the body is streamed from a source rather than held in [`RequestParts::body`]: the
    /// bytes are not available to hooks or signers, so anything that must cover the body (an HMAC
    /// signature) cannot be computed and should fail instead of covering an empty body.
    pub fn is_streamed(&self) -> bool {
        self.stream.is_some() && self.body.is_empty()
    }

    /// The streamed body's length, when it is streamed and its length is known.
    pub fn streamed_length(&self) -> Option<u64> {
        self.stream.as_ref().and_then(BodySource::length)
    }

    /// Append a query parameter.
    pub fn add_query(&mut self, name: &str, value: &str) {
        self.url.query_pairs_mut().append_pair(name, value);
    }

    /// The URL with sensitive query values replaced by `[REDACTED]`.
    pub fn redacted_url(&self) -> String {
        self.redactor.url(&self.url)
    }
}

impl fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &self.redactor.headers(&self.headers))
            .field("body_len", &self.body.len())
            .field("streamed", &self.is_streamed())
            .finish()
    }
}

/// Set (replace) `name` in `headers`, the value checked and marked sensitive when the redactor says
/// so (a sensitive value is never indexed by HTTP/2 and never printed).
pub(crate) fn put_header(
    headers: &mut HeaderMap,
    name: HeaderName,
    value: &str,
    redactor: &Redactor,
) -> Result<(), Error> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|e| Error::validation(&format!("header {name}"), e))?;
    if redactor.is_sensitive(name.as_str()) {
        v.set_sensitive(true);
    }
    headers.insert(name, v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_templates_are_joined_once_per_thread_and_connector() {
        let base = Url::parse("https://api.example.com/v2/").unwrap();
        let other = Url::parse("https://other.example.com/").unwrap();
        let joins = std::cell::Cell::new(0);
        let join = |b: &Url, p: &str| {
            joins.set(joins.get() + 1);
            join_url(b, p, None)
        };
        // Ids no other test uses: the cache is per thread, and tests share threads.
        let (c1, c2) = (u64::MAX - 1, u64::MAX - 2);
        let a = joined_template(c1, "/users", || join(&base, "/users")).unwrap();
        assert_eq!(a, join_url(&base, "/users", None).unwrap());
        assert_eq!(a.as_str(), "https://api.example.com/v2/users");
        let again = joined_template(c1, "/users", || join(&base, "/users")).unwrap();
        assert_eq!(again, a);
        assert_eq!(joins.get(), 1, "the second call used the joined URL");
        // Another connector, same template: its own base.
        let b = joined_template(c2, "/users", || join(&other, "/users")).unwrap();
        assert_eq!(b.as_str(), "https://other.example.com/users");
        assert_eq!(joins.get(), 2);
        // A join that fails is reported and not kept.
        let bad: Result<Url, Error> =
            joined_template(c1, "/broken", || Err(Error::validation("path", "no")));
        assert!(bad.is_err());
        let fixed = joined_template(c1, "/broken", || join(&base, "/broken")).unwrap();
        assert_eq!(fixed.as_str(), "https://api.example.com/v2/broken");
        // Bounded: past the limit the cache starts again.
        for i in 0..JOINED_MAX + 1 {
            let t: &'static str = Box::leak(format!("/t{i}").into_boxed_str());
            joined_template(c2, t, || join(&other, t)).unwrap();
        }
        assert!(JOINED.with_borrow(|m| m.len()) <= JOINED_MAX);
    }

    #[test]
    fn random_ids_are_v4_uuids_in_lower_case() {
        let a = random_request_id();
        let b = random_request_id();
        let c = random_idempotency_key();
        let d = random_idempotency_key();
        assert_ne!(a, b);
        assert_ne!(c, d);
        for id in [a, b, c, d] {
            let parsed = uuid::Uuid::parse_str(&id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(
                id,
                parsed.hyphenated().to_string(),
                "hyphenated, lower case"
            );
        }
    }

    #[test]
    fn call_base_uses_the_operation_server_unless_replaced() {
        let base = Url::parse("http://127.0.0.1:9/v1").unwrap();
        let none = std::collections::BTreeMap::new();
        let at = |o: &std::collections::BTreeMap<String, String>, s: Option<&str>| {
            call_base(&base, o, s).map(|u| u.to_string())
        };
        assert_eq!(at(&none, None).unwrap(), "http://127.0.0.1:9/v1");
        assert_eq!(
            at(&none, Some("https://up.example.com/v2")).unwrap(),
            "https://up.example.com/v2"
        );
        assert_eq!(at(&none, Some("/v2")).unwrap(), "http://127.0.0.1:9/v2");
        let mut named = std::collections::BTreeMap::new();
        named.insert(
            "https://up.example.com/v2".to_owned(),
            "http://127.0.0.1:8/x".to_owned(),
        );
        assert_eq!(
            at(&named, Some("https://up.example.com/v2")).unwrap(),
            "http://127.0.0.1:8/x"
        );
        assert_eq!(
            at(&named, Some("https://other.example.com")).unwrap(),
            "https://other.example.com/"
        );
        named.insert("*".to_owned(), "http://127.0.0.1:7".to_owned());
        assert_eq!(
            at(&named, Some("https://other.example.com")).unwrap(),
            "http://127.0.0.1:7/"
        );
        let e = at(&none, Some("ftp://x")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
    }

    #[test]
    fn raw_query_follows_the_pairs() {
        let base = Url::parse("http://h/v1/").unwrap();
        let u = join_url(&base, "/a?x=1", Some("%7B%7D")).unwrap();
        assert_eq!(u.as_str(), "http://h/v1/a?x=1&%7B%7D");
        let u = join_url(&base, "a", Some("k=v")).unwrap();
        assert_eq!(u.as_str(), "http://h/v1/a?k=v");
        let u = join_url(&base, "a", Some("")).unwrap();
        assert_eq!(u.as_str(), "http://h/v1/a");
    }

    #[test]
    fn plain_paths_join_as_a_full_parse_would() {
        let bases = [
            "http://h",
            "http://h/",
            "http://h/v1/",
            "https://user:pw@h:8443/api/v2",
            "http://127.0.0.1:8080/x//",
            "http://[::1]:9/",
            "https://b\u{fc}cher.example/p",
        ];
        let paths = [
            "",
            "/",
            "/item",
            "items/large",
            "/users/42/repos",
            "/a%20b/%7Bx%7D",
            "/a b",
            "/caf\u{e9}",
            "/a/../b",
            "/./c",
            "..",
            "/q?x=1",
            "/f#frag",
            "/back\\slash",
            "//double",
            "/ends/",
            "/{id}/~:@!$&'()*+,;=",
            "/a/b.json",
            "/v1/x..y",
        ];
        for b in bases {
            let base = Url::parse(b).unwrap();
            for p in paths {
                let full = {
                    let trimmed = base.as_str().trim_end_matches('/');
                    let sep = if p.starts_with('/') { "" } else { "/" };
                    Url::parse(&format!("{trimmed}{sep}{p}")).unwrap()
                };
                assert_eq!(join_url(&base, p, None).unwrap(), full, "{b} + {p}");
            }
        }
    }

    async fn read_all(s: ByteStream) -> io::Result<Vec<u8>> {
        let parts: Vec<Bytes> = s.try_collect().await?;
        Ok(parts.concat())
    }

    fn pieces(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(v).boxed()
    }

    #[tokio::test]
    async fn take_and_skip_cut_across_pieces() {
        let got = read_all(take_bytes(pieces(&[b"abc", b"defg", b"hi"]), 5)).await;
        assert_eq!(got.unwrap(), b"abcde");
        let got = read_all(skip_bytes(pieces(&[b"abc", b"defg", b"hi"]), 4)).await;
        assert_eq!(got.unwrap(), b"efghi");
        let got = read_all(skip_bytes(pieces(&[b"abc"]), 3)).await;
        assert_eq!(got.unwrap(), b"");
        // A source shorter than its declared length is an error, not a short body.
        let e = read_all(take_bytes(pieces(&[b"abc"]), 5))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn sources_open_at_offsets_slice_and_concatenate() {
        let data = Bytes::from_static(b"0123456789");
        let d = data.clone();
        let factory = BodySource::reader_factory(Some(10), move || {
            let d = d.clone();
            async move { Ok(std::io::Cursor::new(d)) }
        });
        assert_eq!(read_all(factory.stream_from(3)).await.unwrap(), b"3456789");
        let slice = factory.slice(2, 5);
        assert_eq!(slice.length(), Some(5));
        assert_eq!(read_all(slice.stream_from(0)).await.unwrap(), b"23456");
        assert_eq!(read_all(slice.stream_from(1)).await.unwrap(), b"3456");
        let joined = BodySource::concat(vec![
            BodySource::bytes("head-"),
            factory.clone(),
            BodySource::bytes("-tail"),
        ]);
        assert_eq!(joined.length(), Some(20));
        assert_eq!(
            read_all(joined.stream_from(0)).await.unwrap(),
            b"head-0123456789-tail"
        );
        assert_eq!(
            read_all(joined.stream_from(8)).await.unwrap(),
            b"3456789-tail"
        );
        assert!(joined.can_replay() && !joined.is_one_shot());
        let unknown = BodySource::concat(vec![
            BodySource::bytes("x"),
            BodySource::reader(None, std::io::Cursor::new(b"y".to_vec())),
        ]);
        assert_eq!(unknown.length(), None);
        assert!(unknown.is_one_shot());
    }

    #[tokio::test]
    async fn a_one_shot_reader_is_taken_on_first_poll_only() {
        let source = BodySource::reader(Some(3), std::io::Cursor::new(b"abc".to_vec()));
        let body = Body::Stream {
            content_type: None,
            source: source.clone(),
        };
        // Building the stream takes nothing; polling it does.
        let s = source.stream_from(0);
        assert!(body.can_replay());
        assert_eq!(read_all(s).await.unwrap(), b"abc");
        assert!(!body.can_replay());
        let e = read_all(source.stream_from(0)).await.unwrap_err();
        assert!(e.to_string().contains("one-shot"), "{e}");
    }
}
