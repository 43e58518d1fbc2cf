//! What a caller asks for ([`RequestOptions`], [`Body`]) and the concrete request the pipeline builds
//! from it ([`RequestParts`]), which hooks, auth and signers see and may change.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::RetryConfig;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::redact::Redactor;

/// A request body. Buffered bodies can be replayed on retry as they are.
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
}

impl Body {
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
        let content_type = HeaderValue::from_str(content_type).map_err(|e| {
            Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("invalid content type: {e}"),
            )
        })?;
        Ok(Body::Bytes {
            content_type,
            data: data.into(),
        })
    }

    /// The buffered bytes, if any.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Body::Empty => None,
            Body::Bytes { data, .. } => Some(data),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies may hold secrets (form-encoded credentials); show their size only.
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes { content_type, data } => {
                write!(f, "Bytes({content_type:?}, {} bytes)", data.len())
            }
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
    /// Header names given to [`RequestOptions::header`] that were not valid; reported at send time.
    pub(crate) invalid_headers: Vec<String>,
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
            body: Body::Empty,
            timeout: None,
            cancel: None,
            idempotency_key: None,
            retry: None,
            dedup: true,
            use_cache: true,
            invalid_headers: Vec::new(),
        }
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

/// A fresh random idempotency key (a v4 UUID).
pub fn random_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
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
    /// Body bytes (empty for none).
    pub body: Bytes,
    pub(crate) redactor: Redactor,
}

impl RequestParts {
    /// Set (replace) a header; invalid names or values are reported as VALIDATION_ERROR.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::validation(&format!("header {name}"), e))?;
        let mut v = HeaderValue::from_str(value)
            .map_err(|e| Error::validation(&format!("header {name}"), e))?;
        if self.redactor.is_sensitive(name) {
            v.set_sensitive(true);
        }
        self.headers.insert(n, v);
        Ok(())
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
            .finish()
    }
}
