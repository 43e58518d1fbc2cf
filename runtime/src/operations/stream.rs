//! Streaming responses: a body handed over unread ([`StreamingResponse`], from
//! [`Connector::request_stream`]) and its decoders: server-sent events ([`SseStream`], and
//! [`EventSource`], which reconnects) and newline-delimited JSON ([`NdjsonStream`]).
//!
//! ```no_run
//! # async fn demo(connector: connector_runtime::Connector) -> Result<(), connector_runtime::Error> {
//! use connector_runtime::{Method, RequestOptions};
//! use futures_util::StreamExt;
//! let resp = connector.request_stream(RequestOptions::new(Method::GET, "/events")).await?;
//! let mut events = resp.sse::<serde_json::Value>();
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{} {:?}: {}", event.event, event.id, event.data);
//! }
//! # Ok(()) }
//! ```
//!
//! - **Backpressure.** A decoder pulls a chunk from the body only when it is polled and holds no
//!   complete item; it never reads ahead by more than one chunk, so a slow consumer slows the server
//!   through TCP flow control instead of filling memory.
//! - **Bounded memory.** An event (or NDJSON line) larger than the limit (16 MiB by default,
//!   `max_event_bytes`) is a PARSING_ERROR that ends the stream.
//! - **Errors.** A body cut short (connection dropped) is NETWORK_ERROR; for server-sent events it is
//!   retryable when a last event id exists (detail `last_event_id`), since the server can resume from
//!   it. A payload that is not the expected JSON is a PARSING_ERROR with the raw data kept; the stream
//!   goes on with the next item. Cancellation (the caller's token, or a disconnect past its deadline)
//!   ends the body with CANCELLED.
//! - **Server-sent events** follow the WHATWG event-stream format: lines end with LF, CRLF or CR,
//!   `event`, `data` (joined with LF), `id` (ignored when it contains NUL), `retry` (digits only),
//!   comments, a blank line dispatches, a leading BOM is stripped, an incomplete event at the end of the
//!   body is discarded. A `data` payload of `[DONE]` ends the stream cleanly.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{Stream, StreamExt};
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::RequestOptions;
pub use crate::response::{BodyStream, StreamingResponse};

/// The default limit on one event or line: 16 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// How long [`EventSource`] waits before reconnecting when the server sent no `retry` field.
pub const DEFAULT_RECONNECT_DELAY: Duration = Duration::from_secs(3);
/// How many reconnects in a row, without an event in between, [`EventSource`] makes by default.
pub const DEFAULT_MAX_RECONNECTS: u32 = 5;

/// The `data` payload that ends an event stream by convention.
const DONE: &str = "[DONE]";
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl StreamingResponse {
    /// Decode the body as server-sent events whose `data` is JSON of type `T`.
    pub fn sse<T: DeserializeOwned>(self) -> SseStream<T> {
        SseStream::new(self.body, self.status, self.meta.request_id, json_str::<T>)
    }

    /// Decode the body as server-sent events with `data` kept as text.
    pub fn events(self) -> SseStream<String> {
        SseStream::new(self.body, self.status, self.meta.request_id, text)
    }

    /// Decode the body as a JSON text sequence (RFC 7464, `application/json-seq`), one `T` per record.
    pub fn json_seq<T: DeserializeOwned>(self) -> JsonSeqStream<T> {
        JsonSeqStream {
            body: Some(self.body),
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            record_no: 0,
            max_record_bytes: DEFAULT_MAX_EVENT_BYTES,
            status: self.status,
            request_id: self.meta.request_id,
            _t: PhantomData,
        }
    }

    /// Decode the body as newline-delimited JSON, one `T` per line.
    pub fn ndjson<T: DeserializeOwned>(self) -> NdjsonStream<T> {
        NdjsonStream {
            body: Some(self.body),
            lines: Lines::default(),
            line_no: 0,
            max_line_bytes: DEFAULT_MAX_EVENT_BYTES,
            status: self.status,
            request_id: self.meta.request_id,
            _t: PhantomData,
        }
    }
}

fn json_str<T: DeserializeOwned>(s: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(s)
}

fn text(s: &str) -> Result<String, serde_json::Error> {
    Ok(s.to_owned())
}

fn too_large(max: usize) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Deserialize,
        format!("a streamed event or line exceeds the limit of {max} bytes"),
    )
    .with_request_sent(true)
    .with_detail("max_event_bytes", max as u64)
}

/// Bytes read from the body and not yet consumed, cut into lines on demand.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes.
    pos: usize,
    /// Unconsumed bytes already searched for a line end (a long line is not searched twice).
    scanned: usize,
    /// The last line ended with CR: a LF right after it (maybe in the next chunk) belongs to it.
    after_cr: bool,
}

impl Lines {
    fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
            if self.buf.capacity() > 1 << 20 && self.buf.len() < self.buf.capacity() / 4 {
                self.buf.shrink_to(self.buf.len() * 2);
            }
        }
        self.buf.extend_from_slice(chunk);
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete line as a range of `buf`, its end excluded. With `cr`, a lone CR ends a line
    /// too (server-sent events); otherwise only LF does.
    fn next(&mut self, cr: bool) -> Option<(usize, usize)> {
        if self.after_cr {
            let &b = self.buf.get(self.pos)?;
            if b == b'\n' {
                self.pos += 1;
            }
            self.after_cr = false;
        }
        let start = self.pos;
        let from = start + self.scanned;
        let found = self.buf[from..]
            .iter()
            .position(|&b| b == b'\n' || (cr && b == b'\r'));
        match found {
            None => {
                self.scanned = self.buf.len() - start;
                None
            }
            Some(i) => {
                let end = from + i;
                self.after_cr = self.buf[end] == b'\r';
                self.pos = end + 1;
                self.scanned = 0;
                Some((start, end))
            }
        }
    }

    /// Everything left (the last line of a body without a final newline).
    fn rest(&mut self) -> (usize, usize) {
        let r = (self.pos, self.buf.len());
        self.pos = self.buf.len();
        self.scanned = 0;
        r
    }
}

/// An event as parsed, before its data is decoded.
struct RawEvent {
    event: String,
    data: String,
    id: Option<String>,
}

/// The event-stream parser's buffers (WHATWG HTML, "Interpreting an event stream").
#[derive(Default)]
struct Fields {
    data: String,
    event: String,
    id_buffer: String,
    last_id: String,
    retry: Option<Duration>,
}

impl Fields {
    fn line(&mut self, line: &[u8]) -> Option<RawEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ".as_slice()).unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match name {
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer = String::from_utf8_lossy(value).into_owned();
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits only; at most `MAX_RECONNECT_DELAY` (an hour), however many digits.
                self.retry = crate::bounded::millis(
                    std::str::from_utf8(value).unwrap_or(""),
                    crate::bounded::MAX_RECONNECT_DELAY,
                    "sse retry",
                );
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<RawEvent> {
        self.last_id.clone_from(&self.id_buffer);
        if self.data.is_empty() {
            self.event.clear();
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        let event = match std::mem::take(&mut self.event) {
            e if e.is_empty() => "message".to_owned(),
            e => e,
        };
        let id = (!self.last_id.is_empty()).then(|| self.last_id.clone());
        Some(RawEvent { event, data, id })
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<T = String> {
    /// The event type: the `event` field, or `message` when the server sent none.
    pub event: String,
    /// The `data` lines joined with LF, decoded.
    pub data: T,
    /// The last event id when this event was dispatched (ids persist until the server changes them);
    /// `None` when there is none.
    pub id: Option<String>,
}

/// A body decoded as server-sent events. A [`Stream`] of `Result<Event<T>, Error>`; see the module
/// documentation for the format, limits and errors.
pub struct SseStream<T> {
    body: Option<BodyStream>,
    lines: Lines,
    bom_checked: bool,
    fields: Fields,
    max_event_bytes: usize,
    stop_at_done: bool,
    decode: fn(&str) -> Result<T, serde_json::Error>,
    status: StatusCode,
    request_id: String,
}

impl<T> fmt::Debug for SseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("open", &self.body.is_some())
            .field("last_event_id", &self.last_event_id())
            .field("retry", &self.fields.retry)
            .field("buffered_bytes", &self.buffered_bytes())
            .finish_non_exhaustive()
    }
}

impl<T> SseStream<T> {
    fn new(
        body: BodyStream,
        status: StatusCode,
        request_id: String,
        decode: fn(&str) -> Result<T, serde_json::Error>,
    ) -> Self {
        SseStream {
            body: Some(body),
            lines: Lines::default(),
            bom_checked: false,
            fields: Fields::default(),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            stop_at_done: true,
            decode,
            status,
            request_id,
        }
    }

    /// Limit one event (its data plus any line being read) to `max` bytes (default 16 MiB).
    pub fn max_event_bytes(mut self, max: usize) -> Self {
        self.max_event_bytes = max;
        self
    }

    /// Whether a `data` payload of `[DONE]` ends the stream (default true). When false it is an
    /// ordinary event.
    pub fn stop_at_done(mut self, stop: bool) -> Self {
        self.stop_at_done = stop;
        self
    }

    /// The last event id the server set (what a reconnect sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> Option<&str> {
        Some(self.fields.last_id.as_str()).filter(|s| !s.is_empty())
    }

    /// The reconnection time the server asked for with a `retry` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.fields.retry
    }

    /// Bytes read from the body and not yet delivered: the rest of the current chunk and the data of a
    /// partial event. Never more than one chunk beyond the event being assembled.
    pub fn buffered_bytes(&self) -> usize {
        self.lines.pending() + self.fields.data.len()
    }

    /// Process buffered lines until an event is complete or no complete line is left.
    fn next_buffered(&mut self) -> Result<Option<RawEvent>, Error> {
        if !self.bom_checked {
            let p = &self.lines.buf[self.lines.pos..];
            if p.starts_with(BOM) {
                self.lines.pos += BOM.len();
            } else if BOM.starts_with(p) {
                // Nothing yet, or maybe a BOM cut short by the chunk boundary: wait for more.
                return Ok(None);
            }
            self.bom_checked = true;
        }
        while let Some((s, e)) = self.lines.next(true) {
            let ev = self.fields.line(&self.lines.buf[s..e]);
            // The data buffer ends with a LF that is not part of the payload.
            if self.fields.data.len() > self.max_event_bytes + 1 {
                return Err(too_large(self.max_event_bytes));
            }
            if ev.is_some() {
                return Ok(ev);
            }
        }
        Ok(None)
    }

    fn decode(&self, ev: RawEvent) -> Result<Event<T>, Error> {
        match (self.decode)(&ev.data) {
            Ok(data) => Ok(Event {
                event: ev.event,
                data,
                id: ev.id,
            }),
            Err(e) => {
                let mut err = Error::new(
                    ErrorCode::ParsingError,
                    ErrorSource::Deserialize,
                    format!(
                        "event data is not the expected JSON (line {}, column {}): {e}",
                        e.line(),
                        e.column()
                    ),
                )
                .with_status(self.status)
                .with_request_sent(true)
                .with_detail("event", ev.event)
                .with_raw_body(Bytes::from(ev.data))
                .with_cause(e);
                if let Some(id) = ev.id {
                    err.insert_detail("id", id);
                }
                err.set_request_id(Some(self.request_id.clone()));
                Err(err)
            }
        }
    }

    /// A body error: a dropped connection can be resumed when the server gave an event id.
    fn dropped(&self, mut err: Error) -> Error {
        if err.code() != ErrorCode::NetworkError {
            return err;
        }
        match self.last_event_id() {
            Some(id) => {
                err.insert_detail("last_event_id", id.to_owned());
                err.with_retryable(true)
            }
            None => err.with_retryable(false),
        }
    }
}

impl<T> Stream for SseStream<T> {
    type Item = Result<Event<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.body.is_none() {
                return Poll::Ready(None);
            }
            match this.next_buffered() {
                Err(e) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(ev)) if this.stop_at_done && ev.data == DONE => {
                    this.body = None;
                    return Poll::Ready(None);
                }
                Ok(Some(ev)) => return Poll::Ready(Some(this.decode(ev))),
                Ok(None) => {}
            }
            if this.buffered_bytes() > this.max_event_bytes {
                this.body = None;
                return Poll::Ready(Some(Err(too_large(this.max_event_bytes))));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(body.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.lines.push(&chunk),
                Some(Err(e)) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(this.dropped(e))));
                }
                // End of body: an event without its blank line is discarded.
                None => {
                    this.body = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

/// A body decoded as newline-delimited JSON: one `T` per line, blank lines skipped, a last line
/// without a newline decoded too. A [`Stream`] of `Result<T, Error>`.
pub struct NdjsonStream<T> {
    body: Option<BodyStream>,
    lines: Lines,
    line_no: u64,
    max_line_bytes: usize,
    status: StatusCode,
    request_id: String,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for NdjsonStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NdjsonStream")
            .field("open", &self.body.is_some())
            .field("line", &self.line_no)
            .field("buffered_bytes", &self.buffered_bytes())
            .finish_non_exhaustive()
    }
}

impl<T> NdjsonStream<T> {
    /// Limit one line to `max` bytes (default 16 MiB).
    pub fn max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max;
        self
    }

    /// Bytes read from the body and not yet delivered (at most one chunk beyond the current line).
    pub fn buffered_bytes(&self) -> usize {
        self.lines.pending()
    }
}

impl<T: DeserializeOwned> NdjsonStream<T> {
    fn decode(&self, line: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(line).map_err(|e| {
            let mut err = Error::new(
                ErrorCode::ParsingError,
                ErrorSource::Deserialize,
                format!(
                    "line {} is not the expected JSON (column {}): {e}",
                    self.line_no,
                    e.column()
                ),
            )
            .with_status(self.status)
            .with_request_sent(true)
            .with_detail("line", self.line_no)
            .with_raw_body(Bytes::copy_from_slice(line))
            .with_cause(e);
            err.set_request_id(Some(self.request_id.clone()));
            err
        })
    }
}

impl<T: DeserializeOwned> Stream for NdjsonStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            while let Some((s, e)) = this.lines.next(false) {
                this.line_no += 1;
                let line = &this.lines.buf[s..e];
                if line.len() > this.max_line_bytes {
                    this.body = None;
                    return Poll::Ready(Some(Err(too_large(this.max_line_bytes))));
                }
                if !line.trim_ascii().is_empty() {
                    return Poll::Ready(Some(this.decode(line)));
                }
            }
            if this.lines.pending() > this.max_line_bytes {
                this.body = None;
                return Poll::Ready(Some(Err(too_large(this.max_line_bytes))));
            }
            match ready!(body.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.lines.push(&chunk),
                Some(Err(e)) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.body = None;
                    let (s, e) = this.lines.rest();
                    let line = &this.lines.buf[s..e];
                    if line.trim_ascii().is_empty() {
                        return Poll::Ready(None);
                    }
                    this.line_no += 1;
                    return Poll::Ready(Some(this.decode(line)));
                }
            }
        }
    }
}

/// The record separator that starts every record of a JSON text sequence.
const RS: u8 = 0x1E;

/// A body decoded as a JSON text sequence (RFC 7464): records start with the record separator
/// (0x1E) and end with a line feed; one `T` per record, empty records (consecutive separators)
/// skipped. A record that is not JSON of `T` is a PARSING_ERROR and the stream goes on; a record
/// without its final line feed is truncated: a PARSING_ERROR too (the stream goes on with the next
/// record, if any). Bytes outside a record (before the first separator) or a record beyond the size
/// limit are a PARSING_ERROR that ends the stream. A [`Stream`] of `Result<T, Error>`.
pub struct JsonSeqStream<T> {
    body: Option<BodyStream>,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes (a record separator once the first one was seen).
    pos: usize,
    /// Unconsumed bytes already searched for the next separator.
    scanned: usize,
    record_no: u64,
    max_record_bytes: usize,
    status: StatusCode,
    request_id: String,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for JsonSeqStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonSeqStream")
            .field("open", &self.body.is_some())
            .field("record", &self.record_no)
            .field("buffered_bytes", &self.buffered_bytes())
            .finish_non_exhaustive()
    }
}

impl<T> JsonSeqStream<T> {
    /// Limit one record to `max` bytes (default 16 MiB).
    pub fn max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }

    /// Bytes read from the body and not yet delivered (at most one chunk beyond the current record).
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
            if self.buf.capacity() > 1 << 20 && self.buf.len() < self.buf.capacity() / 4 {
                self.buf.shrink_to(self.buf.len() * 2);
            }
        }
        self.buf.extend_from_slice(chunk);
    }

    fn malformed(&self, what: String, raw: &[u8]) -> Error {
        let mut err = Error::new(ErrorCode::ParsingError, ErrorSource::Deserialize, what)
            .with_status(self.status)
            .with_request_sent(true)
            .with_detail("record", self.record_no)
            .with_raw_body(Bytes::copy_from_slice(raw));
        err.set_request_id(Some(self.request_id.clone()));
        err
    }

    /// The next complete record (between two separators) as a range of `buf`, separator excluded;
    /// `Err` for bytes that are not a record. With `end`, the body is over and the rest is the last
    /// record.
    fn next_record(&mut self, end: bool) -> Option<Result<(usize, usize), Error>> {
        loop {
            // Whitespace between records (or before the first) is tolerated; anything else is not.
            let rest = &self.buf[self.pos..];
            let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if skip > 0 {
                self.pos += skip;
                self.scanned = self.scanned.saturating_sub(skip);
            }
            let &first = self.buf.get(self.pos)?;
            if first != RS {
                let shown = &self.buf[self.pos..self.buf.len().min(self.pos + 64)];
                let e = self.malformed(
                    format!(
                        "record {}: a JSON text sequence has bytes outside a record (expected 0x1E)",
                        self.record_no + 1
                    ),
                    shown,
                );
                return Some(Err(e));
            }
            let start = self.pos + 1;
            let from = start + self.scanned;
            let next = self.buf[from..].iter().position(|&b| b == RS);
            let stop = match next {
                Some(i) => from + i,
                None if end => self.buf.len(),
                None => {
                    self.scanned = self.buf.len() - start;
                    return None;
                }
            };
            self.pos = stop;
            self.scanned = 0;
            if start == stop {
                // Consecutive separators (or one closing the body): no record.
                next?;
                continue;
            }
            return Some(Ok((start, stop)));
        }
    }
}

impl<T: DeserializeOwned> JsonSeqStream<T> {
    fn decode(&self, start: usize, stop: usize) -> Result<T, Error> {
        let raw = &self.buf[start..stop];
        if raw.last() != Some(&b'\n') {
            return Err(self.malformed(
                format!(
                    "record {} of the JSON text sequence is truncated (no final line feed)",
                    self.record_no
                ),
                raw,
            ));
        }
        serde_json::from_slice(raw).map_err(|e| {
            self.malformed(
                format!(
                    "record {} is not the expected JSON (column {}): {e}",
                    self.record_no,
                    e.column()
                ),
                raw,
            )
            .with_cause(e)
        })
    }
}

impl<T: DeserializeOwned> Stream for JsonSeqStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.body.is_none() {
                return Poll::Ready(None);
            }
            if let Some(found) = this.next_record(false) {
                let (start, stop) = match found {
                    Ok(r) => r,
                    Err(e) => {
                        this.body = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                };
                this.record_no += 1;
                if stop - start > this.max_record_bytes {
                    this.body = None;
                    return Poll::Ready(Some(Err(too_large(this.max_record_bytes))));
                }
                return Poll::Ready(Some(this.decode(start, stop)));
            }
            if this.buffered_bytes() > this.max_record_bytes.saturating_add(1) {
                this.body = None;
                return Poll::Ready(Some(Err(too_large(this.max_record_bytes))));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(body.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.push(&chunk),
                Some(Err(e)) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.body = None;
                    let Some(found) = this.next_record(true) else {
                        return Poll::Ready(None);
                    };
                    let (start, stop) = match found {
                        Ok(r) => r,
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    };
                    this.record_no += 1;
                    if stop - start > this.max_record_bytes {
                        return Poll::Ready(Some(Err(too_large(this.max_record_bytes))));
                    }
                    // Every earlier record was delivered before the body was polled: this is the last.
                    return Poll::Ready(Some(this.decode(start, stop)));
                }
            }
        }
    }
}

type Reconnect = Pin<Box<dyn Future<Output = Result<StreamingResponse, Error>> + Send>>;

/// Server-sent events that survive dropped connections, like a browser's `EventSource`: when the body
/// fails with NETWORK_ERROR, the request is sent again through the pipeline with `Last-Event-ID` (when
/// the server gave an id) after the server's `retry` delay (else [`DEFAULT_RECONNECT_DELAY`]). After
/// `max_reconnects` reconnects in a row without an event in between, the NETWORK_ERROR is returned and
/// the stream ends. A body that ends normally, `[DONE]`, an error status on reconnect, or
/// cancellation ends it too. Made by [`Connector::sse`].
pub struct EventSource<T> {
    connector: Connector,
    options: RequestOptions,
    current: Option<SseStream<T>>,
    reconnecting: Option<Reconnect>,
    decode: fn(&str) -> Result<T, serde_json::Error>,
    max_event_bytes: usize,
    stop_at_done: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
    delay: Duration,
    max_reconnects: u32,
    in_a_row: u32,
    reconnects: u32,
}

impl<T> fmt::Debug for EventSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("current", &self.current)
            .field("reconnecting", &self.reconnecting.is_some())
            .field("last_event_id", &self.last_event_id())
            .field("reconnects", &self.reconnects)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Open a server-sent event stream that reconnects after a dropped connection (see
    /// [`EventSource`]). The first request's failure is returned here, as from
    /// [`Connector::request_stream`].
    pub async fn sse<T: DeserializeOwned>(
        &self,
        options: RequestOptions,
    ) -> Result<EventSource<T>, Error> {
        let first = self.request_stream(options.clone()).await?;
        Ok(EventSource {
            connector: self.clone(),
            options,
            current: Some(first.sse::<T>()),
            reconnecting: None,
            decode: json_str::<T>,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            stop_at_done: true,
            last_id: None,
            retry: None,
            delay: DEFAULT_RECONNECT_DELAY,
            max_reconnects: DEFAULT_MAX_RECONNECTS,
            in_a_row: 0,
            reconnects: 0,
        })
    }
}

impl<T> EventSource<T> {
    /// Reconnects in a row (without an event in between) before giving up (default 5).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = n;
        self
    }

    /// The wait before reconnecting when the server sent no `retry` field (default 3 s).
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Limit one event to `max` bytes (default 16 MiB).
    pub fn max_event_bytes(mut self, max: usize) -> Self {
        self.max_event_bytes = max;
        self.current = self.current.map(|s| s.max_event_bytes(max));
        self
    }

    /// Whether `[DONE]` ends the stream (default true).
    pub fn stop_at_done(mut self, stop: bool) -> Self {
        self.stop_at_done = stop;
        self.current = self.current.map(|s| s.stop_at_done(stop));
        self
    }

    /// The last event id the server set.
    pub fn last_event_id(&self) -> Option<&str> {
        match &self.current {
            Some(s) => s.last_event_id(),
            None => self.last_id.as_deref(),
        }
    }

    /// Reconnects made so far.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    fn schedule(&mut self) {
        self.in_a_row = self.in_a_row.saturating_add(1);
        self.reconnects = self.reconnects.saturating_add(1);
        let delay = self.retry.unwrap_or(self.delay);
        let mut options = self.options.clone();
        if let Some(id) = &self.last_id {
            if let Ok(v) = HeaderValue::from_bytes(id.as_bytes()) {
                options.headers.insert("last-event-id", v);
            }
        }
        tracing::info!(
            reconnect = self.in_a_row,
            delay_ms = delay.as_millis() as u64,
            last_event_id = self.last_id.as_deref().unwrap_or(""),
            "event stream dropped: reconnecting"
        );
        let connector = self.connector.clone();
        self.reconnecting = Some(Box::pin(async move {
            match options.cancel.clone() {
                Some(token) => tokio::select! {
                    _ = token.cancelled() => return Err(Error::new(
                        ErrorCode::Cancelled,
                        ErrorSource::Unknown,
                        "cancelled by the caller",
                    )),
                    _ = tokio::time::sleep(delay) => {}
                },
                None => tokio::time::sleep(delay).await,
            }
            connector.request_stream(options).await
        }));
    }
}

impl<T> Stream for EventSource<T> {
    type Item = Result<Event<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(fut) = this.reconnecting.as_mut() {
                let r = ready!(fut.as_mut().poll(cx));
                this.reconnecting = None;
                match r {
                    Ok(resp) => {
                        let mut s = SseStream::new(
                            resp.body,
                            resp.status,
                            resp.meta.request_id,
                            this.decode,
                        )
                        .max_event_bytes(this.max_event_bytes)
                        .stop_at_done(this.stop_at_done);
                        s.fields.last_id = this.last_id.clone().unwrap_or_default();
                        s.fields.id_buffer.clone_from(&s.fields.last_id);
                        s.fields.retry = this.retry;
                        this.current = Some(s);
                    }
                    Err(e)
                        if e.is_retryable()
                            && e.code() != ErrorCode::Cancelled
                            && this.in_a_row < this.max_reconnects =>
                    {
                        this.schedule();
                        continue;
                    }
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            let Some(current) = this.current.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(current.poll_next_unpin(cx)) {
                Some(Ok(ev)) => {
                    this.in_a_row = 0;
                    return Poll::Ready(Some(Ok(ev)));
                }
                Some(Err(e))
                    if e.code() == ErrorCode::NetworkError
                        && this.in_a_row < this.max_reconnects =>
                {
                    this.last_id = current.last_event_id().map(str::to_owned);
                    this.retry = current.retry();
                    this.current = None;
                    this.schedule();
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.current = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ResponseMeta;
    use futures_util::FutureExt;
    use http::HeaderMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn body(chunks: &[&[u8]]) -> BodyStream {
        let chunks: Vec<Result<Bytes, Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        BodyStream::new(futures_util::stream::iter(chunks))
    }

    fn response(body: BodyStream) -> StreamingResponse {
        StreamingResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            meta: ResponseMeta {
                timestamp: std::time::SystemTime::now(),
                duration: Duration::ZERO,
                retry_count: 0,
                rate_limit: Default::default(),
                request_id: "req-1".into(),
                revalidated: false,
                deduplicated: false,
                method: http::Method::GET,
                endpoint: "/test".into(),
            },
            body,
        }
    }

    /// Drain a stream whose body is always ready.
    fn drain<S: Stream + Unpin>(s: S) -> Vec<S::Item> {
        s.collect::<Vec<_>>()
            .now_or_never()
            .expect("a ready body never waits")
    }

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        drain(response(body(chunks)).events())
            .into_iter()
            .map(|r| r.expect("no error"))
            .collect()
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: id.map(str::to_owned),
        }
    }

    /// Every way of cutting `input` in two, and byte by byte, gives the same events as in one piece.
    fn same_for_every_split(input: &[u8]) -> Vec<Event> {
        let whole = events(&[input]);
        for i in 0..=input.len() {
            assert_eq!(
                events(&[&input[..i], &input[i..]]),
                whole,
                "split at byte {i}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(events(&bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn all_line_endings_dispatch() {
        let got = same_for_every_split(
            b"data: lf\n\ndata: crlf\r\n\r\ndata: cr\r\rdata: a\r\ndata: b\n\r",
        );
        assert_eq!(
            got,
            vec![
                ev("message", "lf", None),
                ev("message", "crlf", None),
                ev("message", "cr", None),
                ev("message", "a\nb", None),
            ]
        );
    }

    #[test]
    fn cr_at_a_chunk_boundary_is_one_line_end() {
        // Were the LF after the boundary read as a blank line, "a" would be dispatched on its own.
        let got = events(&[b"data: a\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(got, vec![ev("message", "a\nb", None)]);
    }

    #[test]
    fn fields_comments_multiline_data_names_and_ids() {
        let input = "\u{feff}: a comment\nevent: greeting\ndata: hello\ndata:  two spaces\ndata\nid: 7\n\n\
                     :another\ndata: no type\n\nid\ndata: id reset\n\nevent: only a type\n\ndata: é ü 漢\nunknown: x\n\n";
        let got = same_for_every_split(input.as_bytes());
        assert_eq!(
            got,
            vec![
                ev("greeting", "hello\n two spaces\n", Some("7")),
                ev("message", "no type", Some("7")),
                ev("message", "id reset", None),
                ev("message", "é ü 漢", None),
            ]
        );
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let s = "data: né\n\n".as_bytes();
        let cut = s.iter().position(|&b| b == 0xC3).unwrap() + 1;
        let got = events(&[&s[..cut], &s[cut..]]);
        assert_eq!(got, vec![ev("message", "né", None)]);
    }

    #[test]
    fn incomplete_last_event_is_not_dispatched() {
        assert_eq!(
            events(&[b"data: a\n\ndata: b\n"]),
            vec![ev("message", "a", None)]
        );
        assert_eq!(
            events(&[b"data: a\n\ndata: b"]),
            vec![ev("message", "a", None)]
        );
        assert_eq!(events(&[b"data: b\r"]), vec![]);
    }

    #[test]
    fn bom_is_stripped_once_even_when_split() {
        assert_eq!(
            events(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]),
            vec![ev("message", "x", None)]
        );
        // Only the first: a second BOM is part of the field name, which is then unknown.
        assert_eq!(events(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"]), vec![]);
        // A body that merely starts like a BOM is kept.
        assert_eq!(
            events(&[b"\xEF", b"data: y\n\n"]),
            vec![] as Vec<Event>,
            "an unknown field name \\xEFdata"
        );
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let got = events(&[b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"]);
        assert_eq!(
            got,
            vec![ev("message", "a", Some("1")), ev("message", "b", Some("1"))]
        );
    }

    #[test]
    fn retry_takes_digits_only_and_id_alone_updates_last_id() {
        let mut s = response(body(&[
            b"retry: 250\n\nretry: 25x\n\nretry:\n\nretry: -5\n\nid: 9\n\n",
        ]))
        .events();
        assert!(drain(&mut s).is_empty(), "no data, no event");
        assert_eq!(s.retry(), Some(Duration::from_millis(250)));
        assert_eq!(s.last_event_id(), Some("9"));
    }

    #[test]
    fn done_ends_the_stream_unless_disabled() {
        let input: &[&[u8]] = &[b"data: 1\n\ndata: [DONE]\n\ndata: 2\n\n"];
        let got: Vec<_> = drain(response(body(input)).sse::<u32>())
            .into_iter()
            .map(|r| r.unwrap().data)
            .collect();
        assert_eq!(got, vec![1]);
        let got: Vec<_> = drain(response(body(input)).events().stop_at_done(false))
            .into_iter()
            .map(|r| r.unwrap().data)
            .collect();
        assert_eq!(got, vec!["1", "[DONE]", "2"]);
    }

    #[test]
    fn typed_data_error_keeps_raw_data_and_the_stream_goes_on() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Tick {
            n: u32,
        }
        let got = drain(
            response(body(&[
                b"id: 1\ndata: {\"n\":1}\n\nevent: tick\ndata: {\"n\":\"x\"}\n\ndata: {\"n\":3}\n\n",
            ]))
            .sse::<Tick>(),
        );
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().data, Tick { n: 1 });
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert_eq!(e.raw_body().unwrap(), &Bytes::from_static(b"{\"n\":\"x\"}"));
        assert_eq!(e.details()["event"], "tick");
        assert_eq!(e.details()["id"], "1");
        assert_eq!(e.request_id(), Some("req-1"));
        assert_eq!(got[2].as_ref().unwrap().data, Tick { n: 3 });
    }

    #[test]
    fn an_event_over_the_limit_is_an_error_not_unbounded_memory() {
        // Many data lines inside one chunk.
        let big = "data: 0123456789\n".repeat(10) + "\n";
        let got = drain(
            response(body(&[big.as_bytes()]))
                .events()
                .max_event_bytes(64),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap_err().code(), ErrorCode::ParsingError);

        // One endless line over many chunks: stops once the limit is passed, holding at most one chunk more.
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = pulled.clone();
        let endless = futures_util::stream::repeat_with(move || {
            p.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from_static(b"data: xxxxxxxxxxxxxxxx"))
        });
        let mut s = response(BodyStream::new(endless))
            .events()
            .max_event_bytes(100);
        let first = s.next().now_or_never().unwrap().unwrap();
        assert_eq!(first.unwrap_err().details()["max_event_bytes"], 100);
        assert!(pulled.load(Ordering::SeqCst) <= 100 / 22 + 1);
        assert!(
            s.next().now_or_never().unwrap().is_none(),
            "the stream ends"
        );

        // Just under the limit is fine.
        let ok = "data: 0123456789\n\n";
        assert_eq!(events(&[ok.as_bytes()]).len(), 1);
        let got = drain(
            response(body(&[ok.as_bytes()]))
                .events()
                .max_event_bytes(10),
        );
        assert_eq!(got[0].as_ref().unwrap().data, "0123456789");
    }

    #[test]
    fn a_dropped_body_is_network_error_resumable_only_with_an_id() {
        let failing = |prefix: &'static [u8]| {
            BodyStream::new(futures_util::stream::iter([
                Ok(Bytes::from_static(prefix)),
                Err(Error::new(
                    ErrorCode::NetworkError,
                    ErrorSource::Transport,
                    "the response body was cut short",
                )),
            ]))
        };
        let got =
            drain(response(failing(b"id: 41\ndata: a\n\nid: 42\ndata: b\n\ndata: c")).events());
        assert_eq!(got.len(), 3);
        let e = got[2].as_ref().unwrap_err();
        assert_eq!(e.code(), ErrorCode::NetworkError);
        assert!(e.is_retryable());
        assert_eq!(e.details()["last_event_id"], "42");

        let got = drain(response(failing(b"data: a\n\n")).events());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.code(), ErrorCode::NetworkError);
        assert!(!e.is_retryable(), "nothing to resume from");
    }

    #[test]
    fn pulls_a_chunk_only_when_no_event_is_buffered() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = pulled.clone();
        let chunks = futures_util::stream::iter(0..1000).map(move |i| {
            p.fetch_add(1, Ordering::SeqCst);
            // Three events per chunk.
            Ok(Bytes::from(format!(
                "data: {i}a\n\ndata: {i}b\n\ndata: {i}c\n\n"
            )))
        });
        let mut s = response(BodyStream::new(chunks)).events();
        for i in 0..3 {
            let e = s.next().now_or_never().unwrap().unwrap().unwrap();
            assert_eq!(e.data, format!("0{}", ['a', 'b', 'c'][i]));
            assert_eq!(
                pulled.load(Ordering::SeqCst),
                1,
                "one chunk serves three events"
            );
        }
        assert!(
            s.buffered_bytes() <= 2,
            "only the chunk's trailing blank line remains"
        );
        s.next().now_or_never().unwrap().unwrap().unwrap();
        assert_eq!(pulled.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn ndjson_lines_blank_lines_crlf_and_last_line_without_newline() {
        let input: &[u8] = b"{\"a\":1}\n\n  \r\n{\"a\":2}\r\n{\"a\":3}";
        let whole: Vec<serde_json::Value> = drain(response(body(&[input])).ndjson())
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            whole,
            vec![
                serde_json::json!({"a":1}),
                serde_json::json!({"a":2}),
                serde_json::json!({"a":3})
            ]
        );
        for i in 0..=input.len() {
            let split: Vec<serde_json::Value> =
                drain(response(body(&[&input[..i], &input[i..]])).ndjson())
                    .into_iter()
                    .map(|r| r.unwrap())
                    .collect();
            assert_eq!(split, whole, "split at {i}");
        }
    }

    #[test]
    fn ndjson_bad_line_keeps_raw_and_goes_on_and_long_line_is_bounded() {
        let got = drain(
            response(body(&[b"{\"a\":1}\nnot json\n{\"a\":3}\n"])).ndjson::<serde_json::Value>(),
        );
        assert_eq!(got.len(), 3);
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert_eq!(e.raw_body().unwrap(), &Bytes::from_static(b"not json"));
        assert_eq!(e.details()["line"], 2);
        assert!(got[2].is_ok());

        let endless =
            futures_util::stream::repeat_with(|| Ok(Bytes::from_static(b"[1,1,1,1,1,1,1,")));
        let mut s = response(BodyStream::new(endless))
            .ndjson::<serde_json::Value>()
            .max_line_bytes(1000);
        let e = s.next().now_or_never().unwrap().unwrap().unwrap_err();
        assert_eq!(e.details()["max_event_bytes"], 1000);
        assert!(s.buffered_bytes() <= 1000 + 15);
    }

    fn json_seq(chunks: &[&[u8]]) -> Vec<Result<serde_json::Value, Error>> {
        drain(response(body(chunks)).json_seq::<serde_json::Value>())
    }

    /// Every split of `input` in two, and byte by byte, gives the same results as one piece
    /// (compared by value, or by error message).
    fn json_seq_every_split(input: &[u8]) -> Vec<Result<serde_json::Value, String>> {
        let shown =
            |v: Vec<Result<serde_json::Value, Error>>| -> Vec<Result<serde_json::Value, String>> {
                v.into_iter()
                    .map(|r| r.map_err(|e| e.message().to_owned()))
                    .collect()
            };
        let whole = shown(json_seq(&[input]));
        for i in 0..=input.len() {
            assert_eq!(
                shown(json_seq(&[&input[..i], &input[i..]])),
                whole,
                "split at byte {i}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(shown(json_seq(&bytes)), whole, "byte by byte");
        whole
    }

    #[test]
    fn json_seq_records_decode_one_value_each() {
        let got = json_seq_every_split(b"\x1e{\"a\":1}\n\x1e[2,3]\n\x1e\x1e\"x\"\n");
        assert_eq!(
            got,
            vec![
                Ok(serde_json::json!({"a": 1})),
                Ok(serde_json::json!([2, 3])),
                Ok(serde_json::json!("x")),
            ]
        );
        assert!(json_seq(&[b""]).is_empty());
        assert!(json_seq(&[b"\n\x1e"]).is_empty());
    }

    #[test]
    fn json_seq_truncated_or_malformed_records_are_parsing_errors() {
        // A record without its line feed, in the middle and at the end.
        let got = json_seq_every_split(b"\x1e{\"a\":1}\x1e{\"b\":2}\n\x1e{\"c\":");
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].as_ref().unwrap_err().contains("truncated"),
            "{got:?}"
        );
        assert_eq!(got[1], Ok(serde_json::json!({"b": 2})));
        assert!(
            got[2].as_ref().unwrap_err().contains("truncated"),
            "{got:?}"
        );
        // Not JSON: an error, then the next record.
        let got = json_seq(&[b"\x1enot json\n\x1e7\n"]);
        let e = got[0].as_ref().unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert_eq!(
            e.raw_body().map(|b| b.to_vec()),
            Some(b"not json\n".to_vec())
        );
        assert_eq!(got[1].as_ref().ok(), Some(&serde_json::json!(7)));
        // Bytes before the first separator end the stream.
        let got = json_seq(&[b"{\"a\":1}\n\x1e2\n"]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap_err().code(), ErrorCode::ParsingError);
    }

    #[test]
    fn json_seq_records_beyond_the_limit_end_the_stream() {
        let big = format!("\x1e\"{}\"\n\x1e1\n", "x".repeat(100));
        let got = drain(
            response(body(&[big.as_bytes()]))
                .json_seq::<serde_json::Value>()
                .max_record_bytes(50),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap_err().code(), ErrorCode::ParsingError);
        // A record that never ends is refused once the buffer passes the limit, not held.
        let chunk = [b'x'; 40];
        let mut chunks: Vec<&[u8]> = vec![b"\x1e"];
        chunks.extend(std::iter::repeat_n(&chunk[..], 10));
        let mut s = response(body(&chunks))
            .json_seq::<serde_json::Value>()
            .max_record_bytes(100);
        let first = drain(&mut s);
        assert_eq!(first.len(), 1);
        assert!(first[0].as_ref().unwrap_err().message().contains("exceeds"));
        assert!(s.buffered_bytes() <= 100 + 1 + 40);
    }

    mod props {
        use super::*;
        use crate::bounded::MAX_RECONNECT_DELAY;
        use proptest::prelude::*;

        fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
            let piece = prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                "(data|event|id|retry|: x)(: ?)[ -~]{0,20}\n{0,2}".prop_map(String::into_bytes),
                "retry: [0-9]{1,40}\n\n".prop_map(String::into_bytes),
            ];
            proptest::collection::vec(piece, 0..12)
        }

        fn json_seq_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
            let piece = prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                "\x1e(\\{\"a\":[0-9]{1,5}\\}|\"[a-z ]{0,8}\"|[0-9]{1,4}|nul)\n?"
                    .prop_map(String::into_bytes),
                Just(vec![RS]),
            ];
            proptest::collection::vec(piece, 0..12)
        }

        proptest! {
            #[test]
            fn any_event_stream_bytes_give_events_or_errors(input in chunks()) {
                let refs: Vec<&[u8]> = input.iter().map(Vec::as_slice).collect();
                let mut s = response(body(&refs)).events();
                let _ = drain(&mut s);
                if let Some(r) = s.retry() {
                    prop_assert!(r <= MAX_RECONNECT_DELAY);
                }
                let _ = drain(response(body(&refs)).sse::<serde_json::Value>());
            }

            #[test]
            fn any_ndjson_bytes_give_values_or_errors(input in chunks()) {
                let refs: Vec<&[u8]> = input.iter().map(Vec::as_slice).collect();
                let _ = drain(response(body(&refs)).ndjson::<serde_json::Value>());
            }

            #[test]
            fn any_json_seq_bytes_give_values_or_errors(input in json_seq_chunks()) {
                let refs: Vec<&[u8]> = input.iter().map(Vec::as_slice).collect();
                let whole: Vec<u8> = input.concat();
                let got = drain(response(body(&refs)).json_seq::<serde_json::Value>());
                // At most one item per separator (records) plus one for stray bytes.
                let separators = whole.iter().filter(|&&b| b == RS).count();
                prop_assert!(got.len() <= separators + 1);
                for r in got.iter().filter_map(|r| r.as_ref().err()) {
                    prop_assert_eq!(r.code(), ErrorCode::ParsingError);
                }
                // The same bytes in one piece give the same values.
                let one = drain(response(body(&[&whole])).json_seq::<serde_json::Value>());
                let values = |v: &[Result<serde_json::Value, Error>]| -> Vec<Option<serde_json::Value>> {
                    v.iter().map(|r| r.as_ref().ok().cloned()).collect()
                };
                prop_assert_eq!(values(&got), values(&one));
            }
        }
    }
}
