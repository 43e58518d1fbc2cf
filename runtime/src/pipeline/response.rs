//! The response wrapper every call returns: data, status, headers and meta.

use std::time::{Duration, SystemTime};

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::Stream;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode, ErrorSource};
use crate::ratelimit::RateLimitStatus;
use std::borrow::Cow;

/// Metadata of a completed call.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// When the final response was received.
    pub timestamp: SystemTime,
    /// Time from the start of the call (first attempt) to the final response.
    pub duration: Duration,
    /// Retries made (0 when the first attempt succeeded).
    pub retry_count: u32,
    /// Rate limit status after this response.
    pub rate_limit: RateLimitStatus,
    /// The server's request id when it sent one, else the id this client generated and sent.
    pub request_id: String,
    /// The server answered `304 Not Modified` to a conditional request the response cache made, and
    /// this is the stored answer (status, body, headers refreshed from the 304).
    pub revalidated: bool,
    /// This call shared the exchange of an identical request already in flight and sent nothing of
    /// its own; status, headers, body and the rest of the meta are that exchange's.
    pub deduplicated: bool,
    /// The call's method.
    pub method: Method,
    /// The call's endpoint as spans and errors show it: the operation's template when it has one,
    /// else the path with sensitive query values redacted. Borrowed when it is a template the
    /// program gives, so a call copies nothing for it.
    pub endpoint: Cow<'static, str>,
}

impl ResponseMeta {
    /// A failure found after the answer arrived (a body that does not decode): give it the call's
    /// context (request id, method, endpoint, attempt, duration), count it in `connector_errors_total`
    /// and log it, as the pipeline does for every failure it sees itself.
    pub fn fail(&self, err: Error) -> Error {
        let err = err.with_context(
            Some(&self.request_id),
            &self.method,
            &self.endpoint,
            self.retry_count.saturating_add(1),
            self.duration,
        );
        crate::observe::error(&self.method, &self.endpoint, err.code().as_str());
        tracing::warn!(
            code = err.code().as_str(),
            source = err.source_kind().as_str(),
            status = err.status().map(|s| s.as_u16()),
            method = %self.method,
            endpoint = %self.endpoint,
            request_id = %self.request_id,
            "request failed: {}",
            err.message()
        );
        err
    }
}

/// A successful response with its payload decoded as `T` (`Bytes` before decoding).
#[derive(Debug, Clone)]
pub struct Response<T> {
    /// The payload.
    pub data: T,
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Call metadata.
    pub meta: ResponseMeta,
}

impl<T> Response<T> {
    /// Replace the payload, keeping status, headers and meta.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            status: self.status,
            headers: self.headers,
            meta: self.meta,
        }
    }
}

impl Response<Bytes> {
    /// Decode the body as JSON into `T`. An empty body decodes as JSON `null` (so `()` and `Option`
    /// work for 204 answers), else as an empty object: a type whose fields are all optional is what
    /// an answer with nothing in it says (AWS answers `Delete*` calls with an empty 200). On failure:
    /// PARSING_ERROR with the raw body kept.
    pub fn json<T: DeserializeOwned>(self) -> Result<Response<T>, Error> {
        let decoded = if self.data.is_empty() {
            serde_json::from_slice::<T>(b"null")
                .or_else(|e| serde_json::from_slice::<T>(b"{}").map_err(|_| e))
        } else {
            serde_json::from_slice::<T>(&self.data)
        };
        match decoded {
            Ok(v) => Ok(Response {
                data: v,
                status: self.status,
                headers: self.headers,
                meta: self.meta,
            }),
            Err(e) => {
                let err = Error::new(
                    ErrorCode::ParsingError,
                    ErrorSource::Deserialize,
                    format!(
                        "response body is not the expected JSON (line {}, column {}): {e}",
                        e.line(),
                        e.column()
                    ),
                )
                .with_status(self.status)
                .with_request_sent(true)
                .with_raw_body(self.data)
                .with_cause(e);
                Err(self.meta.fail(err))
            }
        }
    }

    /// The body as UTF-8 text; PARSING_ERROR (raw body kept) when it is not valid UTF-8.
    pub fn text(self) -> Result<Response<String>, Error> {
        match String::from_utf8(self.data.to_vec()) {
            Ok(s) => Ok(self.map(|_| s)),
            Err(e) => {
                let err = Error::new(
                    ErrorCode::ParsingError,
                    ErrorSource::Deserialize,
                    format!("response body is not UTF-8: {e}"),
                )
                .with_status(self.status)
                .with_request_sent(true)
                .with_raw_body(self.data);
                Err(self.meta.fail(err))
            }
        }
    }
}

/// A response body as a stream of chunks: what [`Connector::request_stream`] hands over unread.
pub struct BodyStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>,
}

impl BodyStream {
    /// Wrap any stream of chunks (the decoders work over any source, e.g. a file or a test's chunks).
    pub fn new<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
    {
        BodyStream {
            inner: Box::pin(stream),
        }
    }

    /// A body with no bytes.
    pub fn empty() -> Self {
        BodyStream::new(futures_util::stream::empty())
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyStream")
    }
}

/// A successful response whose body has not been read: status, headers and meta are known, the body
/// is a stream. Dropping it (or its body) closes the connection.
#[derive(Debug)]
pub struct StreamingResponse {
    /// HTTP status (< 400).
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Call metadata, as of the response headers (`duration` is the time to the headers).
    pub meta: ResponseMeta,
    /// The body, chunk by chunk.
    pub body: BodyStream,
}
