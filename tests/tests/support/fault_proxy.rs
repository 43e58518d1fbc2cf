//! A fault-injection proxy on loopback: relays HTTP/1.1 between a client and an upstream, and spoils the
//! exchanges its schedule picks (resets, truncation, stalls, slow drips, lying framing, corrupt bodies,
//! absurd or duplicate headers, 429/503 storms), counting what it did per fault kind.
//!
//! Each client connection gets its own upstream connection. Per request the proxy reads the whole
//! request (`httparse` for the head, `Content-Length` or chunked framing for the body), numbers it
//! (1, 2, ... across all connections, in arrival order), and asks the [`Schedule`] which [`Fault`] to
//! apply. Faults that answer in place of the server (storms, odd `Retry-After` values) never reach the
//! upstream; every other request is forwarded first and its real answer is what gets spoiled, so the
//! upstream's counts are the attempts that reached it. After a fault that leaves the connection in an
//! unknown state the proxy closes it; clean answers keep it alive.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Longest a stalled exchange is held open when the client never gives up.
const STALL_CAP: Duration = Duration::from_secs(60);
/// Largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the proxy does to one exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Relay the answer as it is.
    Pass,
    /// Forward the request, then reset the client connection (`SO_LINGER` 0, close) before any byte
    /// of the answer.
    ResetBeforeAnswer,
    /// Send the answer's status line and headers, then reset.
    ResetAfterHeaders,
    /// Send the headers (with the true `Content-Length`) and half the body, then close.
    TruncateBody,
    /// Send nothing and hold the connection until the client gives up.
    StallBeforeHeaders,
    /// Send the headers and half the body, then hold the connection until the client gives up.
    StallMidBody,
    /// Send the body `bytes` at a time with a pause of `pause_ms` after each piece.
    SlowDrip {
        /// Bytes per piece.
        bytes: usize,
        /// Pause after each piece, in milliseconds.
        pause_ms: u64,
    },
    /// Announce 16 bytes more than the body has, send the body, close.
    ContentLengthLarger,
    /// Announce half the body's length, send all of it, close (`Connection: close`).
    ContentLengthSmaller,
    /// Label the plain body `Content-Encoding: gzip`.
    FalseGzip,
    /// Flip one bit of a structural character (`{}[]:,"`) near the middle of the body.
    BitFlip,
    /// Two `Content-Length` headers with different values; close after the body.
    ConflictingContentLength,
    /// The right `Content-Length` twice (legal, RFC 9110 8.6).
    DuplicateContentLength,
    /// Answer in the server's place with this status and `Retry-After`.
    Storm {
        /// 429 or 503.
        status: u16,
        /// The `Retry-After` value.
        retry_after: &'static str,
    },
    /// Answer in the server's place with two `Retry-After` headers.
    DuplicateRetryAfter {
        /// 429 or 503.
        status: u16,
        /// The first value.
        first: &'static str,
        /// The second value.
        second: &'static str,
    },
    /// Answer in the server's place with an absurd `Retry-After` (`1e20`, `18446744073709551615`).
    AbsurdRetryAfter {
        /// 429 or 503.
        status: u16,
        /// The value.
        value: &'static str,
    },
    /// Relay the answer with `X-RateLimit-Limit: 5000` and these `X-RateLimit-Remaining` and
    /// `X-RateLimit-Reset` values added.
    RateLimitHeaders {
        /// `X-RateLimit-Remaining`.
        remaining: &'static str,
        /// `X-RateLimit-Reset`.
        reset: &'static str,
    },
}

impl Fault {
    /// The name under which the proxy counts this fault.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::ResetBeforeAnswer => "reset_before_answer",
            Fault::ResetAfterHeaders => "reset_after_headers",
            Fault::TruncateBody => "truncate_body",
            Fault::StallBeforeHeaders => "stall_before_headers",
            Fault::StallMidBody => "stall_mid_body",
            Fault::SlowDrip { .. } => "slow_drip",
            Fault::ContentLengthLarger => "content_length_larger",
            Fault::ContentLengthSmaller => "content_length_smaller",
            Fault::FalseGzip => "false_gzip",
            Fault::BitFlip => "bit_flip",
            Fault::ConflictingContentLength => "conflicting_content_length",
            Fault::DuplicateContentLength => "duplicate_content_length",
            Fault::Storm { status: 429, .. } => "storm_429",
            Fault::Storm { status: 503, .. } => "storm_503",
            Fault::Storm { .. } => "storm",
            Fault::DuplicateRetryAfter { .. } => "duplicate_retry_after",
            Fault::AbsurdRetryAfter { .. } => "absurd_retry_after",
            Fault::RateLimitHeaders { .. } => "rate_limit_headers",
        }
    }

    /// True when the proxy answers in the server's place (the upstream never sees the request).
    pub fn answers_itself(&self) -> bool {
        matches!(
            self,
            Fault::Storm { .. }
                | Fault::DuplicateRetryAfter { .. }
                | Fault::AbsurdRetryAfter { .. }
        )
    }
}

/// The head of a request as the proxy read it, for schedules that look at it.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

type Pick = dyn Fn(u64, &RequestHead) -> Fault + Send + Sync;

/// Which fault each request gets, from its number (1-based, in arrival order) and head. Deterministic.
#[derive(Clone)]
pub struct Schedule(Arc<Pick>);

impl Schedule {
    /// Relay everything untouched.
    pub fn pass() -> Schedule {
        Schedule::custom(|_, _| Fault::Pass)
    }

    /// The same fault on every request.
    pub fn always(fault: Fault) -> Schedule {
        Schedule::custom(move |_, _| fault)
    }

    /// `fault` on requests 1 to `n`, then nothing.
    pub fn first(n: u64, fault: Fault) -> Schedule {
        Schedule::custom(move |i, _| if i <= n { fault } else { Fault::Pass })
    }

    /// The listed faults on the listed request numbers, nothing elsewhere.
    pub fn at(plan: &[(u64, Fault)]) -> Schedule {
        let plan: BTreeMap<u64, Fault> = plan.iter().copied().collect();
        Schedule::custom(move |i, _| plan.get(&i).copied().unwrap_or(Fault::Pass))
    }

    /// About `per_mille` requests in a thousand get a fault, each drawn from `kinds`; which ones is a
    /// pure function of `seed` and the request number (splitmix64).
    pub fn seeded(seed: u64, per_mille: u64, kinds: Vec<Fault>) -> Schedule {
        Schedule::custom(move |i, _| {
            let h = splitmix64(seed ^ splitmix64(i));
            if kinds.is_empty() || h % 1000 >= per_mille {
                return Fault::Pass;
            }
            kinds[((h >> 32) % kinds.len() as u64) as usize]
        })
    }

    /// Any rule.
    pub fn custom(pick: impl Fn(u64, &RequestHead) -> Fault + Send + Sync + 'static) -> Schedule {
        Schedule(Arc::new(pick))
    }
}

/// The splitmix64 mixing function: a well-spread 64-bit hash of `x`.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the proxy did so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests read from clients.
    pub requests: u64,
    /// Requests forwarded to the upstream.
    pub forwarded: u64,
    /// Requests the proxy answered itself (storms and odd `Retry-After` answers).
    pub answered: u64,
    /// Faults applied, per [`Fault::kind`] (passes not counted).
    pub faults: BTreeMap<&'static str, u64>,
    /// Requests read, per method.
    pub requests_by_method: BTreeMap<String, u64>,
    /// Requests forwarded, per method.
    pub forwarded_by_method: BTreeMap<String, u64>,
    /// Client connections accepted.
    pub connections: u64,
}

impl ProxyStats {
    /// Faults applied of one kind.
    pub fn fault(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// Every fault applied, all kinds together.
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }
}

struct Shared {
    upstream: SocketAddr,
    schedule: Schedule,
    next: AtomicU64,
    stats: Mutex<ProxyStats>,
    open: AtomicUsize,
    closed: Notify,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, ProxyStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a client connection as open while it lives.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.closed.notify_waiters();
    }
}

/// The running proxy. Dropping it stops accepting connections.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// Listen on 127.0.0.1 on a free port, relaying to `upstream` under `schedule`.
    pub async fn start(upstream: SocketAddr, schedule: Schedule) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            schedule,
            next: AtomicU64::new(0),
            stats: Mutex::new(ProxyStats::default()),
            open: AtomicUsize::new(0),
            closed: Notify::new(),
        });
        let serving = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                serving.open.fetch_add(1, Ordering::SeqCst);
                serving.stats().connections += 1;
                let open = Open(serving.clone());
                tokio::spawn(serve_client(open, client));
            }
        });
        FaultProxy {
            addr,
            shared,
            accept,
        }
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`: the base URL a client points at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats().clone()
    }

    /// Client connections still open.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Wait until every client connection has closed (after the client is dropped), so the counts
    /// are final; fails with a clear message after `limit`.
    pub async fn settle(&self, limit: Duration) -> Result<(), String> {
        let wait = async {
            loop {
                let closed = self.shared.closed.notified();
                tokio::pin!(closed);
                closed.as_mut().enable();
                if self.open_connections() == 0 {
                    return;
                }
                closed.await;
            }
        };
        tokio::time::timeout(limit, wait).await.map_err(|_| {
            format!(
                "{} client connections still open after {limit:?}",
                self.open_connections()
            )
        })
    }
}

/// One request or response as read off the wire: head fields and the decoded body.
struct Message {
    head: RequestHead,
    body: Vec<u8>,
}

/// An upstream answer, ready to be relayed or spoiled.
struct Answer {
    status: u16,
    /// Headers minus the framing ones (`content-length`, `transfer-encoding`, `connection`).
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// An upstream connection and the bytes read past the last answer.
struct Upstream {
    stream: TcpStream,
    buf: Vec<u8>,
}

async fn serve_client(open: Open, mut client: TcpStream) {
    let shared = open.0.clone();
    let mut buf = Vec::new();
    let mut upstream: Option<Upstream> = None;
    loop {
        let req = match read_request(&mut client, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let _ = write_own_answer(
                    &mut client,
                    400,
                    &[],
                    "the proxy could not read the request",
                )
                .await;
                return;
            }
        };
        let n = shared.next.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = (shared.schedule.0)(n, &req.head);
        {
            let mut s = shared.stats();
            s.requests += 1;
            *s.requests_by_method
                .entry(req.head.method.clone())
                .or_insert(0) += 1;
            if fault != Fault::Pass {
                *s.faults.entry(fault.kind()).or_insert(0) += 1;
            }
        }
        let close_asked = req
            .head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep = match exchange(&shared, &mut client, &mut upstream, &req, fault).await {
            Ok(keep) => keep && !close_asked,
            Err(_) => false,
        };
        if !keep {
            return;
        }
    }
}

/// Handle one request under `fault`. Ok(true): the connection may carry another request.
async fn exchange(
    shared: &Shared,
    client: &mut TcpStream,
    upstream: &mut Option<Upstream>,
    req: &Message,
    fault: Fault,
) -> io::Result<bool> {
    match fault {
        Fault::Storm {
            status,
            retry_after,
        } => {
            shared.stats().answered += 1;
            write_own_answer(client, status, &[("retry-after", retry_after)], "storm").await?;
            return Ok(true);
        }
        Fault::DuplicateRetryAfter {
            status,
            first,
            second,
        } => {
            shared.stats().answered += 1;
            let headers = [("retry-after", first), ("retry-after", second)];
            write_own_answer(client, status, &headers, "duplicate Retry-After").await?;
            return Ok(true);
        }
        Fault::AbsurdRetryAfter { status, value } => {
            shared.stats().answered += 1;
            write_own_answer(
                client,
                status,
                &[("retry-after", value)],
                "absurd Retry-After",
            )
            .await?;
            return Ok(true);
        }
        _ => {}
    }
    let answer = match forward(shared, upstream, req).await {
        Ok(a) => a,
        Err(e) => {
            *upstream = None;
            write_own_answer(client, 502, &[], &format!("the upstream failed: {e}")).await?;
            return Ok(false);
        }
    };
    deliver(client, fault, answer).await
}

/// Send the request to the upstream (connecting first if needed) and read its whole answer.
async fn forward(
    shared: &Shared,
    upstream: &mut Option<Upstream>,
    req: &Message,
) -> io::Result<Answer> {
    if upstream.is_none() {
        let stream = TcpStream::connect(shared.upstream).await?;
        stream.set_nodelay(true)?;
        *upstream = Some(Upstream {
            stream,
            buf: Vec::new(),
        });
    }
    let Some(up) = upstream.as_mut() else {
        return Err(io::Error::other("no upstream connection"));
    };
    let mut out = format!("{} {} HTTP/1.1\r\n", req.head.method, req.head.target).into_bytes();
    for (name, value) in &req.head.headers {
        if is_framing(name) {
            continue;
        }
        push_header(&mut out, name, value);
    }
    if !req.body.is_empty() || matches!(req.head.method.as_str(), "POST" | "PUT" | "PATCH") {
        push_header(
            &mut out,
            "content-length",
            req.body.len().to_string().as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&req.body);
    up.stream.write_all(&out).await?;
    {
        let mut s = shared.stats();
        s.forwarded += 1;
        *s.forwarded_by_method
            .entry(req.head.method.clone())
            .or_insert(0) += 1;
    }
    read_answer(up, req.head.method == "HEAD").await
}

fn is_framing(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length")
        || name.eq_ignore_ascii_case("transfer-encoding")
        || name.eq_ignore_ascii_case("connection")
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Read bytes into `buf` until it holds at least `n`.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < n {
        let got = stream.read(&mut chunk).await?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    Ok(())
}

/// Read one more piece into `buf`; false at end of stream.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let got = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..got]);
    Ok(got > 0)
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// How a message's body is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(headers: &[(String, Vec<u8>)], until_close: bool) -> io::Result<Framing> {
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(v)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    if chunked {
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case("content-length") {
            let l: usize = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| invalid("a Content-Length that is not a number"))?;
            if length.is_some_and(|prev| prev != l) {
                return Err(invalid("two different Content-Length values"));
            }
            length = Some(l);
        }
    }
    Ok(match length {
        Some(l) if l > MAX_BODY => return Err(invalid("a body too large")),
        Some(l) => Framing::Length(l),
        None if until_close => Framing::UntilClose,
        None => Framing::None,
    })
}

/// Read and decode a body whose head has been consumed from `buf`.
async fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    framing: Framing,
) -> io::Result<Vec<u8>> {
    match framing {
        Framing::None => Ok(Vec::new()),
        Framing::Length(n) => {
            fill(stream, buf, n).await?;
            Ok(buf.drain(..n).collect())
        }
        Framing::UntilClose => {
            while read_more(stream, buf).await? {
                if buf.len() > MAX_BODY {
                    return Err(invalid("a body too large"));
                }
            }
            Ok(std::mem::take(buf))
        }
        Framing::Chunked => {
            let mut body = Vec::new();
            loop {
                let (skip, size) = loop {
                    match httparse::parse_chunk_size(buf) {
                        Ok(httparse::Status::Complete((skip, size))) => break (skip, size),
                        Ok(httparse::Status::Partial) => {
                            if !read_more(stream, buf).await? {
                                return Err(io::ErrorKind::UnexpectedEof.into());
                            }
                        }
                        Err(_) => return Err(invalid("a bad chunk size")),
                    }
                };
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| body.len() + s <= MAX_BODY)
                    .ok_or_else(|| invalid("a body too large"))?;
                buf.drain(..skip);
                // The chunk and its CRLF; after the last (empty) chunk, the final CRLF (no trailers).
                fill(stream, buf, size + 2).await?;
                body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
                if size == 0 {
                    return Ok(body);
                }
            }
        }
    }
}

/// Read the next request from a client; Ok(None) when the client closed between requests.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Message>> {
    loop {
        if !buf.is_empty() {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(buf).map_err(invalid)? {
                    httparse::Status::Complete(len) => Some((
                        len,
                        RequestHead {
                            method: req.method.unwrap_or("GET").to_owned(),
                            target: req.path.unwrap_or("/").to_owned(),
                            headers: req
                                .headers
                                .iter()
                                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                                .collect(),
                        },
                    )),
                    httparse::Status::Partial => None,
                }
            };
            if let Some((len, head)) = parsed {
                buf.drain(..len);
                let framing = framing(&head.headers, false)?;
                let body = read_body(stream, buf, framing).await?;
                return Ok(Some(Message { head, body }));
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("a request head too large"));
            }
        }
        if !read_more(stream, buf).await? {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}

/// Read the upstream's answer to the request just sent.
async fn read_answer(up: &mut Upstream, head_request: bool) -> io::Result<Answer> {
    loop {
        if !up.buf.is_empty() {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&up.buf).map_err(invalid)? {
                    httparse::Status::Complete(len) => Some((
                        len,
                        resp.code.unwrap_or(502),
                        resp.headers
                            .iter()
                            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                            .collect::<Vec<_>>(),
                    )),
                    httparse::Status::Partial => None,
                }
            };
            if let Some((len, status, headers)) = parsed {
                up.buf.drain(..len);
                let no_body = head_request || status < 200 || status == 204 || status == 304;
                let framing = if no_body {
                    Framing::None
                } else {
                    framing(&headers, true)?
                };
                let body = read_body(&mut up.stream, &mut up.buf, framing).await?;
                let headers = headers
                    .into_iter()
                    .filter(|(n, _)| !is_framing(n))
                    .collect();
                return Ok(Answer {
                    status,
                    headers,
                    body,
                });
            }
            if up.buf.len() > MAX_HEAD {
                return Err(invalid("a response head too large"));
            }
        }
        if !read_more(&mut up.stream, &mut up.buf).await? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Status line and headers, then `extra` headers, then the blank line.
fn head_bytes(status: u16, headers: &[(String, Vec<u8>)], extra: &[(&str, String)]) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (name, value) in headers {
        push_header(&mut out, name, value);
    }
    for (name, value) in extra {
        push_header(&mut out, name, value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// An answer of the proxy's own: `status`, the given headers, and a JSON error body.
async fn write_own_answer(
    client: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    message: &str,
) -> io::Result<()> {
    let body = serde_json::json!({"code": status, "message": message}).to_string();
    let mut extra: Vec<(&str, String)> =
        headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
    extra.push(("content-type", "application/json".to_owned()));
    extra.push(("content-length", body.len().to_string()));
    let mut out = head_bytes(status, &[], &extra);
    out.extend_from_slice(body.as_bytes());
    client.write_all(&out).await
}

/// Reset the connection: `SO_LINGER` 0, so closing it sends RST instead of FIN.
fn reset(client: &TcpStream) -> io::Result<bool> {
    client.set_zero_linger()?;
    Ok(false)
}

/// Hold the connection, reading and discarding, until the client closes it (or the cap passes).
async fn wait_for_close(client: &mut TcpStream) -> io::Result<bool> {
    let drain = async {
        let mut chunk = [0u8; 4096];
        loop {
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(STALL_CAP, drain).await;
    Ok(false)
}

/// Flip the lowest bit of the structural JSON character nearest after the middle of `body` (any
/// such flip makes the JSON invalid: `{`→`z`, `"`→`#`, `:`→`;`, `,`→`-`, ...).
pub fn flip_one_bit(body: &mut [u8]) {
    if body.is_empty() {
        return;
    }
    let mid = body.len() / 2;
    let at = (mid..body.len())
        .chain(0..mid)
        .find(|&i| b"{}[]:,\"".contains(&body[i]))
        .unwrap_or(mid);
    body[at] ^= 0x01;
}

/// Relay `answer` to the client as `fault` says. Ok(true): the connection stays usable.
async fn deliver(client: &mut TcpStream, fault: Fault, answer: Answer) -> io::Result<bool> {
    let Answer {
        status,
        headers,
        mut body,
    } = answer;
    let len = body.len();
    let half = len / 2;
    let cl = |n: usize| ("content-length", n.to_string());
    match fault {
        Fault::ResetBeforeAnswer => reset(client),
        Fault::ResetAfterHeaders => {
            client
                .write_all(&head_bytes(status, &headers, &[cl(len)]))
                .await?;
            client.flush().await?;
            reset(client)
        }
        Fault::TruncateBody => {
            let mut out = head_bytes(status, &headers, &[cl(len)]);
            out.extend_from_slice(&body[..half]);
            client.write_all(&out).await?;
            client.shutdown().await?;
            Ok(false)
        }
        Fault::StallBeforeHeaders => wait_for_close(client).await,
        Fault::StallMidBody => {
            let mut out = head_bytes(status, &headers, &[cl(len)]);
            out.extend_from_slice(&body[..half]);
            client.write_all(&out).await?;
            client.flush().await?;
            wait_for_close(client).await
        }
        Fault::SlowDrip { bytes, pause_ms } => {
            client
                .write_all(&head_bytes(status, &headers, &[cl(len)]))
                .await?;
            client.flush().await?;
            for piece in body.chunks(bytes.max(1)) {
                client.write_all(piece).await?;
                client.flush().await?;
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            Ok(true)
        }
        Fault::ContentLengthLarger => {
            let mut out = head_bytes(status, &headers, &[cl(len + 16)]);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            client.shutdown().await?;
            Ok(false)
        }
        Fault::ContentLengthSmaller => {
            let extra = [cl(half), ("connection", "close".to_owned())];
            let mut out = head_bytes(status, &headers, &extra);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            client.shutdown().await?;
            Ok(false)
        }
        Fault::FalseGzip => {
            let extra = [cl(len), ("content-encoding", "gzip".to_owned())];
            let mut out = head_bytes(status, &headers, &extra);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            Ok(true)
        }
        Fault::BitFlip => {
            flip_one_bit(&mut body);
            let mut out = head_bytes(status, &headers, &[cl(len)]);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            Ok(true)
        }
        Fault::ConflictingContentLength => {
            let mut out = head_bytes(status, &headers, &[cl(len), cl(len + 1)]);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            client.shutdown().await?;
            Ok(false)
        }
        Fault::DuplicateContentLength => {
            let mut out = head_bytes(status, &headers, &[cl(len), cl(len)]);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            Ok(true)
        }
        Fault::RateLimitHeaders { remaining, reset } => {
            let extra = [
                cl(len),
                ("x-ratelimit-limit", "5000".to_owned()),
                ("x-ratelimit-remaining", remaining.to_owned()),
                ("x-ratelimit-reset", reset.to_owned()),
            ];
            let mut out = head_bytes(status, &headers, &extra);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            Ok(true)
        }
        Fault::Pass
        | Fault::Storm { .. }
        | Fault::DuplicateRetryAfter { .. }
        | Fault::AbsurdRetryAfter { .. } => {
            let mut out = head_bytes(status, &headers, &[cl(len)]);
            out.extend_from_slice(&body);
            client.write_all(&out).await?;
            Ok(true)
        }
    }
}
