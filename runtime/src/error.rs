//! The one error type every connector operation returns: a code, a source subsystem, and the context needed to act on it.
//!
//! Architecture Invariant: an [`Error`] never holds a credential. Messages are built by this crate from
//! status codes and redacted URLs; transport errors are stored with their URL stripped, and raw bodies are
//! bytes the server sent back, never what we sent.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// Machine-readable error codes of the connector specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The network failed: connection refused or reset, DNS, TLS, a body cut short.
    NetworkError,
    /// The call exceeded its timeout (or the server answered 408).
    Timeout,
    /// Authentication or authorization failed (401, 403, or a credential could not be obtained).
    AuthFailed,
    /// A rate limit was hit: a 429 from the server, or the local wait queue was full.
    RateLimit,
    /// The request was malformed or rejected as invalid (other 4xx), or the connector was misused.
    InvalidRequest,
    /// The server failed (5xx), or the circuit breaker for the host is open.
    ServerError,
    /// The response could not be decoded.
    ParsingError,
    /// Data or configuration failed validation before anything was sent.
    ValidationError,
    /// The caller, a hook, or a shutdown cancelled the request.
    Cancelled,
    /// The operation is not supported by the target API or this connector.
    Unsupported,
    /// The resource does not exist, as the provider's own error code says (`NoSuchKey`,
    /// `ResourceNotFoundException`...; a bare 404 stays INVALID_REQUEST).
    NotFound,
    /// The resource changed or a constraint refused the write: a database unique or foreign-key
    /// violation, a serialization failure or deadlock (those two retryable).
    Conflict,
}

impl ErrorCode {
    /// The specification's spelling, e.g. `NETWORK_ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NetworkError => "NETWORK_ERROR",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::RateLimit => "RATE_LIMIT",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::ServerError => "SERVER_ERROR",
            ErrorCode::ParsingError => "PARSING_ERROR",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subsystem an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorSource {
    /// The HTTP exchange itself, or the server's answer to it.
    Transport,
    /// Obtaining or applying credentials, or the server rejecting them.
    Auth,
    /// The local rate limiter or the server's rate limit.
    RateLimit,
    /// Decoding a response body.
    Deserialize,
    /// A user-registered hook failed or aborted.
    UserHook,
    /// Anything else (configuration, lifecycle misuse).
    Unknown,
}

impl ErrorSource {
    /// The specification's spelling, e.g. `rateLimit`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSource::Transport => "transport",
            ErrorSource::Auth => "auth",
            ErrorSource::RateLimit => "rateLimit",
            ErrorSource::Deserialize => "deserialize",
            ErrorSource::UserHook => "userHook",
            ErrorSource::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A structured connector error.
///
/// Boxed inside so `Result<T, Error>` stays one pointer wide on the happy path. Cloning is cheap: the
/// underlying cause and a typed body are shared, so one failure can be handed to every caller that
/// shared a de-duplicated request.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    message: String,
    code: ErrorCode,
    source_kind: ErrorSource,
    status: Option<StatusCode>,
    retryable: bool,
    details: BTreeMap<String, Value>,
    request_id: Option<String>,
    method: Option<Method>,
    endpoint: Option<String>,
    request_sent: bool,
    attempt: u32,
    duration: Duration,
    headers: Option<HeaderMap>,
    raw_body: Option<Bytes>,
    typed_body: Option<Arc<dyn Any + Send + Sync>>,
    cause: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error with a code, a source and a message; everything else empty.
    pub fn new(code: ErrorCode, source: ErrorSource, message: impl Into<String>) -> Self {
        let retryable = matches!(code, ErrorCode::NetworkError | ErrorCode::Timeout);
        Error {
            inner: Box::new(Inner {
                message: message.into(),
                code,
                source_kind: source,
                status: None,
                retryable,
                details: BTreeMap::new(),
                request_id: None,
                method: None,
                endpoint: None,
                request_sent: false,
                attempt: 0,
                duration: Duration::ZERO,
                headers: None,
                raw_body: None,
                typed_body: None,
                cause: None,
            }),
        }
    }

    /// A configuration or input validation failure naming the offending field.
    pub fn validation(field: &str, message: impl fmt::Display) -> Self {
        Error::new(
            ErrorCode::ValidationError,
            ErrorSource::Unknown,
            format!("invalid `{field}`: {message}"),
        )
        .with_detail("field", field)
    }

    /// The error the server's status code stands for, per the specification's enrichment rules:
    /// 401/403 are AUTH_FAILED, 429 RATE_LIMIT, 408 TIMEOUT, other 4xx INVALID_REQUEST, 5xx SERVER_ERROR;
    /// 408, 425, 429 and every 5xx are retryable.
    ///
    /// The provider's own error code, when the body or headers carry one (see
    /// [`Error::provider_code`]), refines this: a throttling code is RATE_LIMIT, a not-found code
    /// NOT_FOUND, and both throttling and the codes that say "try again" are retryable.
    pub fn from_status(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        let (mut code, mut source) = match status.as_u16() {
            401 | 403 => (ErrorCode::AuthFailed, ErrorSource::Auth),
            429 => (ErrorCode::RateLimit, ErrorSource::RateLimit),
            408 => (ErrorCode::Timeout, ErrorSource::Transport),
            500..=599 => (ErrorCode::ServerError, ErrorSource::Transport),
            _ => (ErrorCode::InvalidRequest, ErrorSource::Transport),
        };
        let mut retryable = matches!(status.as_u16(), 408 | 425 | 429 | 500..=599);
        let provider = provider::code_and_message(&headers, &body);
        if let Some((c, _)) = &provider {
            if provider::is_throttling(c) {
                (code, source) = (ErrorCode::RateLimit, ErrorSource::RateLimit);
            } else if provider::is_not_found(c) {
                code = ErrorCode::NotFound;
            }
            retryable |= provider::is_retryable(c);
        }
        let reason = status.canonical_reason().unwrap_or("unknown status");
        let mut err = Error::new(
            code,
            source,
            format!("server answered {} {}", status.as_u16(), reason),
        )
        .with_retryable(retryable);
        if let Some((c, m)) = provider {
            err = err.with_detail("provider_code", c);
            if let Some(m) = m {
                err = err.with_detail("provider_message", m);
            }
        }
        err.inner.status = Some(status);
        err.inner.headers = Some(headers);
        err.inner.raw_body = Some(body);
        err.inner.request_sent = true;
        err
    }

    /// Builder: set whether a retry may succeed.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = retryable;
        self
    }

    /// Builder: add one entry of additional context.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.inner.details.insert(key.to_owned(), value.into());
        self
    }

    /// Builder: keep the underlying error as this error's `source()`.
    pub fn with_cause(mut self, cause: impl Into<BoxError>) -> Self {
        self.inner.cause = Some(Arc::from(cause.into()));
        self
    }

    /// Builder: keep the body that could not be decoded.
    pub fn with_raw_body(mut self, body: Bytes) -> Self {
        self.inner.raw_body = Some(body);
        self
    }

    /// Builder: mark whether the request reached the wire.
    pub fn with_request_sent(mut self, sent: bool) -> Self {
        self.inner.request_sent = sent;
        self
    }

    /// Builder: attach a decoded, operation-specific error body (see [`Error::body`]).
    pub fn with_typed_body<T: Any + Send + Sync>(mut self, body: T) -> Self {
        self.inner.typed_body = Some(Arc::new(body));
        self
    }

    /// Builder: attach an already boxed typed error body.
    pub fn with_typed_box(mut self, body: Box<dyn Any + Send + Sync>) -> Self {
        self.inner.typed_body = Some(Arc::from(body));
        self
    }

    /// Builder: a status on an error that did not come from [`Error::from_status`].
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Attach request context: correlation id, method, endpoint (a path template or redacted URL),
    /// attempt number and elapsed time. Called by the pipeline on every error it returns.
    pub fn with_context(
        mut self,
        request_id: Option<&str>,
        method: &Method,
        endpoint: &str,
        attempt: u32,
        duration: Duration,
    ) -> Self {
        let inner = &mut self.inner;
        if inner.request_id.is_none() {
            inner.request_id = request_id.map(str::to_owned);
        }
        inner.method = Some(method.clone());
        inner.endpoint = Some(endpoint.to_owned());
        inner.attempt = attempt;
        inner.duration = duration;
        self
    }

    /// Replace the correlation id (the server's, once it has answered).
    pub fn set_request_id(&mut self, id: Option<String>) {
        if id.is_some() {
            self.inner.request_id = id;
        }
    }

    /// Replace the message (onError hooks use this to enrich errors).
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.inner.message = message.into();
    }

    /// Add or replace one detail in place.
    pub fn insert_detail(&mut self, key: &str, value: impl Into<Value>) {
        self.inner.details.insert(key.to_owned(), value.into());
    }

    /// Human-readable description.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
    /// Machine-readable code.
    pub fn code(&self) -> ErrorCode {
        self.inner.code
    }
    /// The subsystem the error came from.
    pub fn source_kind(&self) -> ErrorSource {
        self.inner.source_kind
    }
    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }
    /// Additional context (e.g. `field` for validation errors, `retry_after_ms` for rate limits).
    pub fn details(&self) -> &BTreeMap<String, Value> {
        &self.inner.details
    }
    /// Correlation id: the server's request id when it sent one, else the one this client generated.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// HTTP method of the failed request.
    pub fn method(&self) -> Option<&Method> {
        self.inner.method.as_ref()
    }
    /// Endpoint of the failed request: its path template, or its URL with secrets redacted.
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint.as_deref()
    }
    /// Whether any byte of the (last) request was handed to the transport.
    pub fn request_sent(&self) -> bool {
        self.inner.request_sent
    }
    /// The attempt (1-based) on which the operation finally failed.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }
    /// Time from the start of the logical operation to the failure.
    pub fn duration(&self) -> Duration {
        self.inner.duration
    }
    /// Response headers, when the server answered.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.inner.headers.as_ref()
    }
    /// The response body as received, when it exists (always kept when it could not be decoded).
    pub fn raw_body(&self) -> Option<&Bytes> {
        self.inner.raw_body.as_ref()
    }
    /// The operation's typed error body, when the generated client decoded one of type `T`.
    pub fn body<T: Any>(&self) -> Option<&T> {
        self.inner.typed_body.as_ref()?.downcast_ref::<T>()
    }
    /// Whether the generated client decoded the body into the operation's typed error (of any type).
    pub fn has_typed_body(&self) -> bool {
        self.inner.typed_body.is_some()
    }
    /// The provider's own error code, when its answer carried one: AWS's `<Code>` (rest-xml
    /// `<Error>`, query `<ErrorResponse>`), a JSON `__type` (after its `#`), or the
    /// `x-amzn-ErrorType` header. Kept in [`Error::details`] as `provider_code`.
    pub fn provider_code(&self) -> Option<&str> {
        self.inner
            .details
            .get("provider_code")
            .and_then(Value::as_str)
    }
    /// A hint from the server of how long to wait before retrying, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner
            .details
            .get("retry_after_ms")
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.inner.code, self.inner.message)?;
        if let (Some(m), Some(e)) = (&self.inner.method, &self.inner.endpoint) {
            write!(f, " ({m} {e}")?;
            if self.inner.attempt > 0 {
                write!(f, ", attempt {}", self.inner.attempt)?;
            }
            if let Some(id) = &self.inner.request_id {
                write!(f, ", request id {id}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("code", &i.code)
            .field("source", &i.source_kind)
            .field("message", &i.message)
            .field("status", &i.status)
            .field("retryable", &i.retryable)
            .field("request_id", &i.request_id)
            .field("method", &i.method)
            .field("endpoint", &i.endpoint)
            .field("request_sent", &i.request_sent)
            .field("attempt", &i.attempt)
            .field("duration", &i.duration);
        if !i.details.is_empty() {
            d.field("details", &i.details);
        }
        if let Some(b) = &i.raw_body {
            d.field("raw_body_len", &b.len());
        }
        if let Some(c) = &i.cause {
            d.field("cause", &c.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Map a transport failure to NETWORK_ERROR or TIMEOUT, stripping the URL (it may carry a
/// query-string key). A body that arrived but does not decompress (corrupt or truncated gzip,
/// brotli or deflate data) is a PARSING_ERROR instead: the server's answer itself is broken, and no
/// undecoded byte is handed out.
pub(crate) fn from_transport(err: crate::transport::TransportError, sent: bool) -> Error {
    use crate::pipeline::lane::LaneError;
    use crate::transport::TransportError;
    match err {
        TransportError::Reqwest(e) => from_reqwest(e, sent),
        TransportError::Lane(LaneError::Send(e)) => {
            let timed_out = caused_by_timeout(&e);
            let what = if timed_out {
                "the request timed out in the transport"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "the HTTP exchange failed"
            };
            let code = if timed_out {
                ErrorCode::Timeout
            } else {
                ErrorCode::NetworkError
            };
            network(code, what, e, sent)
        }
        TransportError::Lane(LaneError::Body(e)) => {
            if e.downcast_ref::<std::io::Error>().is_some() {
                undecodable(e, sent)
            } else {
                network(
                    ErrorCode::NetworkError,
                    "the response body was cut short",
                    e,
                    sent,
                )
            }
        }
        TransportError::Lane(LaneError::Uri(e)) => Error::new(
            ErrorCode::InvalidRequest,
            ErrorSource::Transport,
            format!("the URL cannot be sent over HTTP: {e}"),
        )
        .with_retryable(false)
        .with_request_sent(false),
        TransportError::TooManyRedirects(n) => Error::new(
            ErrorCode::NetworkError,
            ErrorSource::Transport,
            format!("the HTTP exchange failed: more than {n} redirects"),
        )
        .with_retryable(false)
        .with_request_sent(sent)
        .with_detail("max_redirects", u64::from(n)),
    }
}

/// Whether an I/O timeout lies anywhere under `err` (the connect timeout).
fn caused_by_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

fn network(code: ErrorCode, what: &str, err: impl Into<BoxError>, sent: bool) -> Error {
    let err: BoxError = err.into();
    let chain = error_chain(&*err);
    Error::new(code, ErrorSource::Transport, format!("{what}: {chain}"))
        .with_retryable(true)
        .with_request_sent(sent)
        .with_cause(err)
}

fn undecodable(err: impl Into<BoxError>, sent: bool) -> Error {
    let err: BoxError = err.into();
    let chain = error_chain(&*err);
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Deserialize,
        format!("the response body could not be decompressed (corrupt or truncated encoded data): {chain}"),
    )
    .with_retryable(false)
    .with_request_sent(sent)
    .with_cause(err)
}

fn from_reqwest(err: reqwest::Error, sent: bool) -> Error {
    let err = err.without_url();
    if is_decompression_failure(&err) {
        return undecodable(err, sent);
    }
    let (code, what) = if err.is_timeout() {
        (ErrorCode::Timeout, "the request timed out in the transport")
    } else if err.is_connect() {
        (ErrorCode::NetworkError, "could not connect")
    } else if err.is_body() || err.is_decode() {
        (ErrorCode::NetworkError, "the response body was cut short")
    } else {
        (ErrorCode::NetworkError, "the HTTP exchange failed")
    };
    network(code, what, err, sent)
}

/// reqwest reports every failure while reading a body as a decode error. The decompressor's own failures
/// are I/O errors right under it; a failing connection is a hyper error there instead (even when an I/O
/// error lies deeper).
fn is_decompression_failure(err: &reqwest::Error) -> bool {
    use std::error::Error as _;
    err.is_decode()
        && err
            .source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

/// "outer: inner: innermost", so the root cause (e.g. a TLS certificate problem) is in the message.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// Provider error codes in answers: where AWS (and APIs shaped like it) put them, and what they mean.
pub(crate) mod provider {
    use http::HeaderMap;
    use quick_xml::Reader;
    use quick_xml::events::Event;
    use serde_json::Value;

    /// Error bodies larger than this are not searched for a code.
    const MAX_ERROR_BODY: usize = 1024 * 1024;

    /// Error documents nested deeper than this are not searched for a code.
    const MAX_DEPTH: usize = 64;

    /// Codes that mean the caller is being throttled (RATE_LIMIT, retryable).
    pub const THROTTLING: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "SlowDown",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceededException",
        "BandwidthLimitExceeded",
    ];

    /// Codes that say the same request may succeed later, without being throttling.
    pub const TRANSIENT: &[&str] = &["TransactionInProgressException", "PriorRequestNotComplete"];

    /// Codes that say the resource does not exist (NOT_FOUND).
    pub const NOT_FOUND: &[&str] = &[
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchUpload",
        "NoSuchVersion",
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFound",
        "NotFoundException",
    ];

    /// Whether `code` says the caller is throttled.
    pub fn is_throttling(code: &str) -> bool {
        THROTTLING.contains(&code)
    }

    /// Whether `code` says the resource does not exist.
    pub fn is_not_found(code: &str) -> bool {
        NOT_FOUND.contains(&code)
    }

    /// Whether a request answered with `code` may succeed when sent again.
    pub fn is_retryable(code: &str) -> bool {
        is_throttling(code) || TRANSIENT.contains(&code)
    }

    /// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` or
    /// `ResourceNotFoundException:http://internal.amazon.com/...`: the name alone.
    pub fn bare(code: &str) -> &str {
        let code = code.rsplit('#').next().unwrap_or(code);
        code.split(':').next().unwrap_or(code).trim()
    }

    /// The provider's code and message in an error answer, if it carries a code.
    pub fn code_and_message(headers: &HeaderMap, body: &[u8]) -> Option<(String, Option<String>)> {
        let from_header = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| bare(v).to_owned())
            .filter(|c| !c.is_empty());
        let from_body = if body.len() > MAX_ERROR_BODY {
            None
        } else {
            match body.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'<') => from_xml(body),
                Some(b'{') => from_json(body),
                _ => None,
            }
        };
        match (from_header, from_body) {
            (Some(c), Some((_, m))) => Some((c, m)),
            (Some(c), None) => Some((c, None)),
            (None, b) => b,
        }
    }

    fn from_json(body: &[u8]) -> Option<(String, Option<String>)> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .map(str::to_owned)
        };
        let code = text(&["__type"]).map(|c| bare(&c).to_owned())?;
        (!code.is_empty()).then(|| (code, text(&["message", "Message"])))
    }

    /// The text of the first `Code` and `Message` elements (any depth, prefixes ignored).
    fn from_xml(body: &[u8]) -> Option<(String, Option<String>)> {
        let text = std::str::from_utf8(body).ok()?;
        let mut reader = Reader::from_str(text);
        let (mut code, mut message) = (None::<String>, None::<String>);
        let mut inside: Option<&'static str> = None;
        let mut depth = 0usize;
        loop {
            match reader.read_event().ok()? {
                Event::Start(e) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    inside = match e.local_name().as_ref() {
                        b"Code" if code.is_none() => Some("Code"),
                        b"Message" if message.is_none() => Some("Message"),
                        _ => None,
                    };
                    if let Some(which) = inside {
                        let slot = if which == "Code" {
                            &mut code
                        } else {
                            &mut message
                        };
                        *slot = Some(String::new());
                    }
                }
                Event::End(_) => {
                    depth = depth.saturating_sub(1);
                    inside = None;
                }
                Event::Text(t) => {
                    if let Some(which) = inside {
                        let s = t.xml10_content().ok()?;
                        let slot = if which == "Code" {
                            &mut code
                        } else {
                            &mut message
                        };
                        if let Some(slot) = slot {
                            slot.push_str(&s);
                        }
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(which) = inside {
                        let c = match r.resolve_char_ref().ok()? {
                            Some(c) => c.to_string(),
                            None => {
                                quick_xml::escape::resolve_predefined_entity(&r.decode().ok()?)?
                                    .to_owned()
                            }
                        };
                        let slot = if which == "Code" {
                            &mut code
                        } else {
                            &mut message
                        };
                        if let Some(slot) = slot {
                            slot.push_str(&c);
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let code = code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())?;
        Some((code, message.map(|m| m.trim().to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_specification() {
        let cases = [
            (401, ErrorCode::AuthFailed, ErrorSource::Auth, false),
            (403, ErrorCode::AuthFailed, ErrorSource::Auth, false),
            (
                404,
                ErrorCode::InvalidRequest,
                ErrorSource::Transport,
                false,
            ),
            (408, ErrorCode::Timeout, ErrorSource::Transport, true),
            (425, ErrorCode::InvalidRequest, ErrorSource::Transport, true),
            (429, ErrorCode::RateLimit, ErrorSource::RateLimit, true),
            (500, ErrorCode::ServerError, ErrorSource::Transport, true),
            (503, ErrorCode::ServerError, ErrorSource::Transport, true),
            (599, ErrorCode::ServerError, ErrorSource::Transport, true),
        ];
        for (s, code, source, retryable) in cases {
            let e = Error::from_status(
                StatusCode::from_u16(s).unwrap(),
                HeaderMap::new(),
                Bytes::new(),
            );
            assert_eq!(e.code(), code, "{s}");
            assert_eq!(e.source_kind(), source, "{s}");
            assert_eq!(e.is_retryable(), retryable, "{s}");
            assert!(e.request_sent());
        }
    }

    #[test]
    fn display_carries_context_and_typed_body_downcasts() {
        #[derive(Debug, PartialEq)]
        struct Body {
            reason: String,
        }
        let e = Error::from_status(StatusCode::CONFLICT, HeaderMap::new(), Bytes::from("{}"))
            .with_typed_body(Body {
                reason: "dup".into(),
            })
            .with_context(
                Some("req-1"),
                &Method::POST,
                "/v1/things",
                2,
                Duration::from_millis(5),
            );
        let s = e.to_string();
        assert_eq!(
            s,
            "[INVALID_REQUEST] server answered 409 Conflict (POST /v1/things, attempt 2, request id req-1)"
        );
        assert_eq!(e.body::<Body>().unwrap().reason, "dup");
        assert!(e.body::<String>().is_none());
        assert_eq!(e.code().as_str(), "INVALID_REQUEST");
        assert_eq!(ErrorSource::RateLimit.as_str(), "rateLimit");
    }

    #[test]
    fn provider_codes_refine_the_status_mapping() {
        let xml = |code: &str| {
            Bytes::from(format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>m &amp; n</Message></Error></ErrorResponse>"
            ))
        };
        let e = Error::from_status(StatusCode::BAD_REQUEST, HeaderMap::new(), xml("Throttling"));
        assert_eq!(e.code(), ErrorCode::RateLimit);
        assert!(e.is_retryable());
        assert_eq!(e.provider_code(), Some("Throttling"));
        assert_eq!(e.details()["provider_message"], "m & n");
        let e = Error::from_status(
            StatusCode::NOT_FOUND,
            HeaderMap::new(),
            Bytes::from("<Error><Code>NoSuchKey</Code><Message>none</Message></Error>"),
        );
        assert_eq!(e.code(), ErrorCode::NotFound);
        assert_eq!(e.code().as_str(), "NOT_FOUND");
        assert!(!e.is_retryable());
        let e = Error::from_status(
            StatusCode::CONFLICT,
            HeaderMap::new(),
            xml("PriorRequestNotComplete"),
        );
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert!(e.is_retryable());
        let json = Bytes::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"gone"}"#,
        );
        let e = Error::from_status(StatusCode::BAD_REQUEST, HeaderMap::new(), json);
        assert_eq!(e.provider_code(), Some("ResourceNotFoundException"));
        assert_eq!(e.code(), ErrorCode::NotFound);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.example/"
                .parse()
                .unwrap(),
        );
        let e = Error::from_status(StatusCode::BAD_REQUEST, headers, Bytes::new());
        assert_eq!(e.provider_code(), Some("ThrottlingException"));
        assert_eq!(e.code(), ErrorCode::RateLimit);
        for plain in [&b"not xml"[..], b"<a><b>", b"{\"error\": 1}", b""] {
            let e = Error::from_status(
                StatusCode::BAD_REQUEST,
                HeaderMap::new(),
                Bytes::from_static(plain),
            );
            assert_eq!(e.provider_code(), None);
            assert_eq!(e.code(), ErrorCode::InvalidRequest);
        }
    }
}
