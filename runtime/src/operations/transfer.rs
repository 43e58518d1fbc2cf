//! Large transfers through the pipeline: streamed uploads (one request, multipart, or resumable in
//! chunks) and downloads to a file or writer that resume after a dropped connection, with checksum
//! validation and throttled progress callbacks.
//!
//! ```no_run
//! # async fn demo(connector: connector_runtime::Connector) -> Result<(), connector_runtime::Error> {
//! use connector_runtime::transfer::{DownloadOptions, UploadOptions};
//! use connector_runtime::{Body, Method, RequestOptions};
//! let report = connector
//!     .download(DownloadOptions::to_file(
//!         RequestOptions::new(Method::GET, "/files/backup.tar"),
//!         "/tmp/backup.tar",
//!     ))
//!     .await?;
//! println!("{} bytes, {} resumes, sha-256 {}", report.bytes, report.resumes, report.sha256);
//! let body = Body::file("/tmp/backup.tar").await?;
//! connector
//!     .upload(UploadOptions::new(RequestOptions::new(Method::PUT, "/files/copy.tar"), body))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Every request a transfer makes (each chunk, each resumed range, each status query) is an ordinary
//! call of the pipeline: auth, rate limit, circuit breaker, hooks, metrics and the pipeline's own
//! retries apply to each of them. Bodies are streamed both ways and never held whole in memory.
//!
//! **Downloads** ([`Connector::download`]) write to a file or to any `AsyncWrite`. A file download is
//! written to a temporary sibling (`.<name>.<random>.part`) that is renamed onto the destination only
//! once every check passed; on any failure (checksum mismatch included) the temporary file is removed
//! and the destination is left as it was, so a partial or corrupt file never looks complete. When the
//! connection drops mid-body the download resumes with `Range: bytes=N-` and `If-Range` carrying the
//! first answer's strong `ETag` (else its `Last-Modified`), up to `max_resumes` times. A server that
//! answers `200` instead of `206` (it ignores ranges, or the resource changed) is followed by a clean
//! restart: the file is truncated and the hash reset (a writer that cannot be rewound ends the download
//! with UNSUPPORTED instead). Without any validator, a resume is made only when a checksum will be
//! verified at the end; otherwise the download restarts from the first byte. Checks at the end: the
//! byte count against `Content-Length` / `Content-Range`, the sha-256 of the bytes against
//! `Repr-Digest: sha-256=:<base64>:` (any answer), `Content-Digest` or `Digest: SHA-256=<base64>` (full
//! answers only) and against the caller's expected value. `Content-MD5` is not checked (no MD5 in the
//! crypto provider, and the header is obsolete). `Accept-Encoding: identity` is sent unless the caller
//! set one, so the bytes written and hashed are the representation the digests describe.
//!
//! **Uploads** ([`Connector::upload`]) send a [`Body`] (a file, a reader, a [`Multipart`] with
//! streamed parts) in one request, or, with [`UploadOptions::resumable`], in chunks following the
//! resumable-upload protocol described there. The sha-256 of the bytes sent is computed on the fly; it
//! is checked against the caller's expected value (sent as `Repr-Digest` too) and against a sha-256
//! digest header of the server's final answer.
//!
//! **Errors.** A checksum mismatch is PARSING_ERROR (the answer is not what the server said it is),
//! not retryable, with details `checksum` (`sha-256`), `checksum_source` (`repr-digest`,
//! `content-digest`, `digest`, or `caller`), `expected`, `actual` (hex) and `bytes`. A byte count that
//! disagrees with the announced length is PARSING_ERROR with `expected_length` and `bytes`. A
//! connection lost after the last resume is NETWORK_ERROR with `bytes_written` and `resumes`. A local
//! file that cannot be opened or written is VALIDATION_ERROR with `path`.
//!
//! **Progress.** A callback in the options ([`UploadOptions::on_progress`],
//! [`DownloadOptions::on_progress`]) receives [`Progress`] events: at most one per
//! [`PROGRESS_BYTES`] moved or [`PROGRESS_INTERVAL`] elapsed, whichever comes first, plus a final event
//! (`done: true`) when the transfer succeeded. `bytes` never goes down, even when an attempt sends
//! again bytes already counted or a download restarts. Upload events are counted as the transport
//! reads the body, and may be delivered from the transport's task: keep the callback short.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::TryStreamExt;
use http::header::{
    ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, LOCATION, RANGE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use ring::digest;
use tokio::io::{AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufWriter};

use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::{Body, BodySource, ByteStream, RequestOptions};
use crate::support::Multipart;

/// A progress event is due after this many bytes...
pub const PROGRESS_BYTES: u64 = 1 << 20;
/// ...or after this much time since the last one, whichever comes first.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Resumes (downloads) or status queries (resumable uploads) made by default before giving up.
pub const DEFAULT_MAX_RESUMES: u32 = 5;
/// Default chunk size of resumable uploads: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 << 20;
/// The `308` status resumable-upload servers answer for a chunk taken while the upload goes on.
const RESUME_INCOMPLETE: u16 = 308;

/// Which way bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the server.
    Upload,
    /// From the server.
    Download,
}

/// One progress event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Upload or download.
    pub direction: Direction,
    /// Bytes transferred so far (never less than in an earlier event).
    pub bytes: u64,
    /// Total size, when known.
    pub total: Option<u64>,
    /// True for the last event, sent once the transfer succeeded.
    pub done: bool,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Throttled, monotonic progress reporting.
struct Meter {
    callback: Option<ProgressFn>,
    direction: Direction,
    total: Option<u64>,
    seen: u64,
    reported: u64,
    last_at: Instant,
}

impl Meter {
    fn new(callback: Option<ProgressFn>, direction: Direction, total: Option<u64>) -> Self {
        Meter {
            callback,
            direction,
            total,
            seen: 0,
            reported: 0,
            last_at: Instant::now(),
        }
    }

    /// Record `bytes` done; returns an event when one is due (to be delivered outside any lock).
    fn update(&mut self, bytes: u64) -> Option<(ProgressFn, Progress)> {
        let cb = self.callback.as_ref()?;
        self.seen = self.seen.max(bytes);
        if self.seen <= self.reported {
            return None;
        }
        if self.seen - self.reported < PROGRESS_BYTES && self.last_at.elapsed() < PROGRESS_INTERVAL
        {
            return None;
        }
        self.reported = self.seen;
        self.last_at = Instant::now();
        Some((cb.clone(), self.event(false)))
    }

    fn finish(&mut self, bytes: u64) -> Option<(ProgressFn, Progress)> {
        let cb = self.callback.as_ref()?.clone();
        self.seen = self.seen.max(bytes);
        self.reported = self.seen;
        Some((cb, self.event(true)))
    }

    fn event(&self, done: bool) -> Progress {
        Progress {
            direction: self.direction,
            bytes: self.reported,
            total: self.total,
            done,
        }
    }
}

fn deliver(e: Option<(ProgressFn, Progress)>) {
    if let Some((cb, p)) = e {
        cb(p);
    }
}

/// The sha-256 of an upload's bytes and its progress, fed by every stream the pipeline opens. Bytes
/// sent again (a retry, a chunk resent from an earlier offset) are neither hashed nor counted twice.
struct Tally {
    hasher: Option<digest::Context>,
    upto: u64,
    meter: Meter,
}

impl Tally {
    fn observe(&mut self, pos: u64, chunk: &[u8]) -> Option<(ProgressFn, Progress)> {
        let end = pos + chunk.len() as u64;
        if end > self.upto {
            if pos <= self.upto {
                if let Some(h) = &mut self.hasher {
                    h.update(&chunk[(self.upto - pos) as usize..]);
                }
            } else {
                // A gap (the server acknowledged bytes this process never read): no whole hash.
                self.hasher = None;
            }
            self.upto = end;
        }
        self.meter.update(self.upto)
    }
}

fn tallied(source: &BodySource, tally: &Arc<Mutex<Tally>>) -> BodySource {
    let tally = tally.clone();
    source.map_stream(move |offset, s: ByteStream| {
        let tally = tally.clone();
        let mut pos = offset;
        s.inspect_ok(move |b| {
            let due = tally
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .observe(pos, b);
            pos += b.len() as u64;
            deliver(due);
        })
        .boxed()
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_sha256_hex(field: &str, s: &str) -> Result<[u8; 32], Error> {
    let s = s.trim();
    let mut out = [0u8; 32];
    if s.len() != 64 || !s.is_ascii() {
        return Err(Error::validation(field, "expected 64 hexadecimal digits"));
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .map_err(|_| Error::validation(field, "expected 64 hexadecimal digits"))?;
    }
    Ok(out)
}

/// A sha-256 the server announced, and which header said it.
#[derive(Clone)]
struct Announced {
    header: &'static str,
    sha256: Vec<u8>,
}

/// The sha-256 a response announces for the whole representation. `full` is false for a partial
/// (206) answer, where only `Repr-Digest` still describes the whole.
fn announced_sha256(headers: &HeaderMap, full: bool) -> Option<Announced> {
    let mut candidates: Vec<&'static str> = vec!["repr-digest"];
    if full {
        candidates.extend(["content-digest", "digest"]);
    }
    for name in candidates {
        for value in headers.get_all(name) {
            let Ok(text) = value.to_str() else { continue };
            for member in text.split(',') {
                let Some((alg, val)) = member.split_once('=') else {
                    continue;
                };
                let alg = alg.trim().to_ascii_lowercase();
                if alg != "sha-256" {
                    continue;
                }
                // RFC 9530 byte sequences are `:base64:`; RFC 3230 values are bare base64.
                let val = val.trim().trim_matches(':');
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(val)
                    .or_else(|_| {
                        base64::engine::general_purpose::STANDARD_NO_PAD
                            .decode(val.trim_end_matches('='))
                    });
                match decoded {
                    Ok(d) if d.len() == 32 => {
                        return Some(Announced {
                            header: name,
                            sha256: d,
                        });
                    }
                    _ => tracing::warn!(header = name, "ignoring an undecodable sha-256 digest"),
                }
            }
        }
    }
    None
}

fn checksum_mismatch(
    what: &str,
    source: &str,
    expected: &[u8],
    actual: &[u8],
    bytes: u64,
) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Transport,
        format!(
            "{what}: sha-256 mismatch against {source} (expected {}, got {})",
            hex(expected),
            hex(actual)
        ),
    )
    .with_retryable(false)
    .with_request_sent(true)
    .with_detail("checksum", "sha-256")
    .with_detail("checksum_source", source)
    .with_detail("expected", hex(expected))
    .with_detail("actual", hex(actual))
    .with_detail("bytes", bytes)
}

fn local_io(path: &Path, action: &str, e: io::Error) -> Error {
    Error::new(
        ErrorCode::ValidationError,
        ErrorSource::Unknown,
        format!("{action} {} failed: {e}", path.display()),
    )
    .with_detail("path", path.display().to_string())
    .with_detail("io_error", format!("{:?}", e.kind()))
    .with_cause(e)
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------------
// Downloads

enum Target {
    File(PathBuf),
    Writer(Box<dyn AsyncWrite + Send + Unpin>),
}

/// What [`Connector::download`] fetches and where it writes it.
pub struct DownloadOptions {
    request: RequestOptions,
    target: Target,
    max_resumes: u32,
    expected_sha256: Option<String>,
    verify_server_checksum: bool,
    read_timeout: Option<Duration>,
    on_progress: Option<ProgressFn>,
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::File(p) => p.display().to_string(),
            Target::Writer(_) => "writer".to_owned(),
        };
        f.debug_struct("DownloadOptions")
            .field("request", &self.request)
            .field("target", &target)
            .field("max_resumes", &self.max_resumes)
            .field("expected_sha256", &self.expected_sha256)
            .finish_non_exhaustive()
    }
}

impl DownloadOptions {
    /// Download what `request` (usually a GET) answers into the file at `path`, replacing it only
    /// once the download is complete and verified.
    pub fn to_file(request: RequestOptions, path: impl Into<PathBuf>) -> Self {
        Self::with_target(request, Target::File(path.into()))
    }

    /// Download into any writer. A server that ignores `Range` on a resume cannot be followed by a
    /// restart here (written bytes cannot be taken back): the download then fails with UNSUPPORTED.
    /// The writer is flushed at the end, also on failure.
    pub fn to_writer(
        request: RequestOptions,
        writer: impl AsyncWrite + Send + Unpin + 'static,
    ) -> Self {
        Self::with_target(request, Target::Writer(Box::new(writer)))
    }

    fn with_target(request: RequestOptions, target: Target) -> Self {
        DownloadOptions {
            request,
            target,
            max_resumes: DEFAULT_MAX_RESUMES,
            expected_sha256: None,
            verify_server_checksum: true,
            read_timeout: None,
            on_progress: None,
        }
    }

    /// Resume after a dropped connection at most `n` times (default [`DEFAULT_MAX_RESUMES`]).
    pub fn max_resumes(mut self, n: u32) -> Self {
        self.max_resumes = n;
        self
    }

    /// Fail unless the downloaded bytes have this sha-256 (64 hex digits).
    pub fn expected_sha256(mut self, hex: impl Into<String>) -> Self {
        self.expected_sha256 = Some(hex.into());
        self
    }

    /// Whether to check a sha-256 digest header of the server's answer (default true).
    pub fn verify_server_checksum(mut self, verify: bool) -> Self {
        self.verify_server_checksum = verify;
        self
    }

    /// The longest wait for the next piece of the body before the connection is taken as lost (and
    /// the download resumed). Defaults to the connector's request timeout.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Receive throttled [`Progress`] events.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }
}

/// What a successful download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// Bytes of the complete payload.
    pub bytes: u64,
    /// HTTP requests made (the first, plus one per resume or restart), not counting the pipeline's
    /// own retries of a request that got no answer.
    pub requests: u32,
    /// Times the download went on after a lost connection.
    pub resumes: u32,
    /// Times it had to start again from the first byte (the server answered a range with `200`).
    pub restarts: u32,
    /// The `ETag` of the answer the payload came from.
    pub etag: Option<String>,
    /// The `Last-Modified` of that answer.
    pub last_modified: Option<String>,
    /// Sha-256 of the payload, hex.
    pub sha256: String,
    /// Which digest header of the server was checked (and matched), if any.
    pub server_checksum: Option<String>,
    /// Whether the caller's expected sha-256 was checked (and matched).
    pub expected_checksum_verified: bool,
    /// The destination file, for file downloads.
    pub path: Option<PathBuf>,
}

/// Where downloaded bytes go.
enum Sink {
    File {
        out: BufWriter<tokio::fs::File>,
        tmp: PathBuf,
        dest: PathBuf,
    },
    Writer(Box<dyn AsyncWrite + Send + Unpin>),
}

impl Sink {
    async fn open(target: Target) -> Result<Sink, Error> {
        match target {
            Target::Writer(w) => Ok(Sink::Writer(w)),
            Target::File(dest) => {
                let name = dest
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        Error::validation("path", format!("{} names no file", dest.display()))
                    })?;
                let suffix = uuid::Uuid::new_v4().simple().to_string();
                let tmp = dest.with_file_name(format!(".{name}.{}.part", &suffix[..12]));
                let f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| local_io(&tmp, "creating", e))?;
                Ok(Sink::File {
                    out: BufWriter::with_capacity(1 << 20, f),
                    tmp,
                    dest,
                })
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match self {
            Sink::File { out, tmp, .. } => out
                .write_all(data)
                .await
                .map_err(|e| local_io(tmp, "writing", e)),
            Sink::Writer(w) => w.write_all(data).await.map_err(|e| {
                Error::new(
                    ErrorCode::ValidationError,
                    ErrorSource::Unknown,
                    format!("writing the download failed: {e}"),
                )
                .with_cause(e)
            }),
        }
    }

    /// Start over at the first byte.
    async fn rewind(&mut self) -> Result<(), Error> {
        match self {
            Sink::File { out, tmp, .. } => {
                out.flush().await.map_err(|e| local_io(tmp, "writing", e))?;
                let f = out.get_mut();
                f.set_len(0)
                    .await
                    .map_err(|e| local_io(tmp, "truncating", e))?;
                f.seek(io::SeekFrom::Start(0))
                    .await
                    .map_err(|e| local_io(tmp, "truncating", e))?;
                Ok(())
            }
            Sink::Writer(_) => Err(Error::new(
                ErrorCode::Unsupported,
                ErrorSource::Transport,
                "the server answered a resumed download with the whole payload, and a writer \
                 cannot be rewound to start over; download to a file to allow restarts",
            )
            .with_request_sent(true)),
        }
    }

    async fn commit(self) -> Result<Option<PathBuf>, Error> {
        match self {
            Sink::File { mut out, tmp, dest } => {
                let r = async {
                    out.flush().await?;
                    out.get_mut().sync_all().await?;
                    drop(out);
                    tokio::fs::rename(&tmp, &dest).await
                }
                .await;
                if let Err(e) = r {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(local_io(&dest, "moving the download to", e));
                }
                Ok(Some(dest))
            }
            Sink::Writer(mut w) => {
                w.flush().await.map_err(|e| {
                    Error::new(
                        ErrorCode::ValidationError,
                        ErrorSource::Unknown,
                        format!("flushing the download failed: {e}"),
                    )
                })?;
                Ok(None)
            }
        }
    }

    async fn discard(self) {
        match self {
            Sink::File { out, tmp, .. } => {
                drop(out);
                if let Err(e) = tokio::fs::remove_file(&tmp).await {
                    tracing::warn!(path = %tmp.display(), "could not remove a failed download: {e}");
                }
            }
            Sink::Writer(mut w) => {
                let _ = w.flush().await;
            }
        }
    }
}

/// How a download stands between requests.
struct Fetch {
    written: u64,
    hasher: digest::Context,
    total: Option<u64>,
    /// `If-Range` value: the strong ETag, else Last-Modified.
    validator: Option<HeaderValue>,
    etag: Option<String>,
    last_modified: Option<String>,
    announced: Option<Announced>,
}

impl Fetch {
    fn new() -> Self {
        Fetch {
            written: 0,
            hasher: digest::Context::new(&digest::SHA256),
            total: None,
            validator: None,
            etag: None,
            last_modified: None,
            announced: None,
        }
    }

    /// Take what a full (`200`) answer says about the payload.
    fn start(&mut self, headers: &HeaderMap) {
        *self = Fetch::new();
        self.total = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| crate::bounded::parse_u64(v.to_str().ok()?));
        self.etag = header_str(headers, ETAG);
        self.last_modified = header_str(headers, LAST_MODIFIED);
        self.validator = match (headers.get(ETAG), headers.get(LAST_MODIFIED)) {
            (Some(e), _) if !e.as_bytes().starts_with(b"W/") => Some(e.clone()),
            (_, Some(lm)) => Some(lm.clone()),
            _ => None,
        };
        self.announced = announced_sha256(headers, true);
    }
}

/// `Content-Range: bytes a-b/total` (total may be `*`).
fn content_range(headers: &HeaderMap) -> Option<(u64, u64, Option<u64>)> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(crate::bounded::parse_u64(t)?),
    };
    let (a, b) = (crate::bounded::parse_u64(a)?, crate::bounded::parse_u64(b)?);
    // A range that ends before it starts, or past the total, describes no bytes: not usable.
    if b < a || total.is_some_and(|t| b >= t) {
        return None;
    }
    Some((a, b, total))
}

impl Connector {
    /// Download what `options.request` answers, streaming it to a file or writer; resumes after a
    /// dropped connection and checks lengths and checksums (see the [module docs](crate::transfer)).
    pub async fn download(&self, options: DownloadOptions) -> Result<DownloadReport, Error> {
        let DownloadOptions {
            request,
            target,
            max_resumes,
            expected_sha256,
            verify_server_checksum,
            read_timeout,
            on_progress,
        } = options;
        let expected = match &expected_sha256 {
            Some(h) => Some(parse_sha256_hex("expected_sha256", h)?),
            None => None,
        };
        let read_timeout = read_timeout
            .or(request.timeout)
            .unwrap_or(Duration::from_millis(self.inner.config.timeout_ms));
        let mut sink = Sink::open(target).await?;
        let mut meter = Meter::new(on_progress, Direction::Download, None);
        let mut report = DownloadReport {
            bytes: 0,
            requests: 0,
            resumes: 0,
            restarts: 0,
            etag: None,
            last_modified: None,
            sha256: String::new(),
            server_checksum: None,
            expected_checksum_verified: false,
            path: None,
        };
        let mut fetch = Fetch::new();
        let result = self
            .download_loop(
                &request,
                &mut sink,
                &mut fetch,
                &mut meter,
                &mut report,
                max_resumes,
                expected.is_some(),
                verify_server_checksum,
                read_timeout,
            )
            .await;
        let result = result.and_then(|()| {
            let actual =
                std::mem::replace(&mut fetch.hasher, digest::Context::new(&digest::SHA256))
                    .finish();
            let actual = actual.as_ref();
            if let (true, Some(a)) = (verify_server_checksum, &fetch.announced) {
                if a.sha256 != actual {
                    return Err(checksum_mismatch(
                        "download",
                        a.header,
                        &a.sha256,
                        actual,
                        fetch.written,
                    ));
                }
                report.server_checksum = Some(a.header.to_owned());
            }
            if let Some(e) = &expected {
                if e[..] != *actual {
                    return Err(checksum_mismatch(
                        "download",
                        "caller",
                        e,
                        actual,
                        fetch.written,
                    ));
                }
                report.expected_checksum_verified = true;
            }
            report.sha256 = hex(actual);
            Ok(())
        });
        match result {
            Ok(()) => {
                report.path = sink.commit().await?;
                report.bytes = fetch.written;
                report.etag = fetch.etag;
                report.last_modified = fetch.last_modified;
                meter.total = Some(fetch.written);
                deliver(meter.finish(fetch.written));
                Ok(report)
            }
            Err(mut e) => {
                sink.discard().await;
                e.insert_detail("bytes_written", fetch.written);
                e.insert_detail("resumes", report.resumes);
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_loop(
        &self,
        request: &RequestOptions,
        sink: &mut Sink,
        fetch: &mut Fetch,
        meter: &mut Meter,
        report: &mut DownloadReport,
        max_resumes: u32,
        expected_given: bool,
        verify_server: bool,
        read_timeout: Duration,
    ) -> Result<(), Error> {
        loop {
            let mut req = request.clone();
            if !req.headers.contains_key(ACCEPT_ENCODING) {
                req.headers
                    .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
            }
            let resuming = fetch.written > 0;
            if resuming {
                let range = format!("bytes={}-", fetch.written);
                req.headers.insert(
                    RANGE,
                    HeaderValue::from_str(&range).map_err(|e| Error::validation("range", e))?,
                );
                if let Some(v) = &fetch.validator {
                    req.headers.insert(IF_RANGE, v.clone());
                }
            }
            report.requests += 1;
            let resp = self.request_stream(req).await?;
            let status = resp.status;
            if status == StatusCode::PARTIAL_CONTENT {
                let Some((start, _, total)) = content_range(&resp.headers) else {
                    return Err(protocol("a 206 answer without a usable Content-Range"));
                };
                let same_total = total.is_none() || fetch.total.is_none() || total == fetch.total;
                let same_etag = match (header_str(&resp.headers, ETAG), &fetch.etag) {
                    (Some(now), Some(before)) => now == *before,
                    _ => true,
                };
                if start != fetch.written || !same_total || !same_etag {
                    return Err(protocol(&format!(
                        "the server answered a range from byte {start} (asked {}) or for another \
                         version of the resource",
                        fetch.written
                    )));
                }
                if fetch.total.is_none() {
                    fetch.total = total;
                }
                if fetch.announced.is_none() {
                    fetch.announced = announced_sha256(&resp.headers, false);
                }
            } else if status.is_success() {
                if resuming {
                    tracing::info!(
                        written = fetch.written,
                        "the server sent the whole payload again: restarting the download"
                    );
                    sink.rewind().await?;
                    report.restarts += 1;
                }
                fetch.start(&resp.headers);
            } else {
                return Err(protocol(&format!(
                    "unexpected status {} for a download",
                    status.as_u16()
                )));
            }
            meter.total = fetch.total;

            let mut body = resp.body;
            let lost = loop {
                let next = match tokio::time::timeout(read_timeout, body.next()).await {
                    Ok(n) => n,
                    Err(_) => Some(Err(Error::new(
                        ErrorCode::Timeout,
                        ErrorSource::Transport,
                        format!(
                            "no part of the body arrived within {} ms",
                            read_timeout.as_millis()
                        ),
                    )
                    .with_request_sent(true))),
                };
                match next {
                    Some(Ok(chunk)) => {
                        sink.write(&chunk).await?;
                        fetch.hasher.update(&chunk);
                        fetch.written += chunk.len() as u64;
                        if let Some(t) = fetch.total {
                            if fetch.written > t {
                                return Err(length_mismatch(t, fetch.written));
                            }
                        }
                        deliver(meter.update(fetch.written));
                    }
                    Some(Err(e)) => break e,
                    None => {
                        if let Some(t) = fetch.total {
                            if fetch.written != t {
                                return Err(length_mismatch(t, fetch.written));
                            }
                        }
                        return Ok(());
                    }
                }
            };
            drop(body);
            let transient = matches!(lost.code(), ErrorCode::NetworkError | ErrorCode::Timeout);
            if !transient || report.resumes >= max_resumes {
                return Err(lost);
            }
            report.resumes += 1;
            tracing::warn!(
                written = fetch.written,
                resume = report.resumes,
                "download interrupted, resuming: {}",
                lost.message()
            );
            let checksum_at_end = expected_given || (verify_server && fetch.announced.is_some());
            if fetch.validator.is_none() && !checksum_at_end && fetch.written > 0 {
                // Nothing would tell a changed resource from the same one: start over instead.
                sink.rewind().await?;
                report.restarts += 1;
                *fetch = Fetch::new();
            }
        }
    }
}

fn protocol(what: &str) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Transport,
        what.to_owned(),
    )
    .with_request_sent(true)
}

fn length_mismatch(expected: u64, got: u64) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Transport,
        format!("the server announced {expected} bytes and sent {got}"),
    )
    .with_request_sent(true)
    .with_detail("expected_length", expected)
    .with_detail("bytes", got)
}

// ---------------------------------------------------------------------------------------------------
// Uploads

#[derive(Debug)]
enum Mode {
    Single(Body),
    Resumable {
        source: BodySource,
        chunk_size: u64,
        create: Option<Box<RequestOptions>>,
    },
}

/// What [`Connector::upload`] sends and how.
pub struct UploadOptions {
    request: RequestOptions,
    mode: Mode,
    expected_sha256: Option<String>,
    max_resumes: u32,
    on_progress: Option<ProgressFn>,
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("request", &self.request)
            .field("mode", &self.mode)
            .field("expected_sha256", &self.expected_sha256)
            .field("max_resumes", &self.max_resumes)
            .finish_non_exhaustive()
    }
}

impl UploadOptions {
    /// Send `body` (e.g. [`Body::file`], [`Body::reader`]) in one request (`request`'s method and
    /// path; its own body is replaced). The pipeline retries it as any request when the body is
    /// replayable. Its per-attempt timeout covers sending the whole body: raise it for large files.
    pub fn new(request: RequestOptions, body: Body) -> Self {
        UploadOptions {
            request,
            mode: Mode::Single(body),
            expected_sha256: None,
            max_resumes: DEFAULT_MAX_RESUMES,
            on_progress: None,
        }
    }

    /// Send a multipart/form-data body (its streamed parts are read as they are sent). Check
    /// [`Multipart::error`] first: a part whose value could not be serialised is not in the body.
    pub fn multipart(request: RequestOptions, form: Multipart) -> Self {
        Self::new(request, form.into_body())
    }

    /// A resumable upload in chunks, to the upload URL `request` names (its method, `PUT` usually,
    /// is used for every chunk), of a replayable source of known length. The protocol (the one of
    /// Google's resumable uploads):
    ///
    /// - each chunk is a request with `Content-Range: bytes <first>-<last>/<total>` and the chunk as
    ///   body (an empty upload sends one request with `bytes */0`);
    /// - the server answers `308` while the upload is incomplete, with `Range: bytes=0-<n>` saying it
    ///   holds the first `n + 1` bytes (no `Range`: none); the next chunk starts there, so a chunk the
    ///   server took only in part is continued, not repeated. A `2xx` answer completes the upload (a
    ///   `2xx` with a `Range` header before the end is read like a `308`);
    /// - a chunk that fails with a retryable error, after the pipeline's own retries, is followed by a
    ///   status query, an empty request with `Content-Range: bytes */<total>`, whose `308` answer tells
    ///   where to go on (a `2xx` means the server has it all); at most `max_resumes` queries.
    ///
    /// Sessions are usually created by a first request ([`UploadOptions::create_session`]).
    pub fn resumable(request: RequestOptions, source: BodySource) -> Self {
        UploadOptions {
            request,
            mode: Mode::Resumable {
                source,
                chunk_size: DEFAULT_CHUNK_SIZE,
                create: None,
            },
            expected_sha256: None,
            max_resumes: DEFAULT_MAX_RESUMES,
            on_progress: None,
        }
    }

    /// Resumable uploads: bytes per chunk (default [`DEFAULT_CHUNK_SIZE`]; some servers want a
    /// multiple of 256 KiB). Ignored for single uploads.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        if let Mode::Resumable { chunk_size, .. } = &mut self.mode {
            *chunk_size = bytes;
        }
        self
    }

    /// Resumable uploads: first send `create` (usually a POST carrying the metadata) and upload to
    /// the URL of its answer's `Location` header (resolved against the base URL).
    pub fn create_session(mut self, create: RequestOptions) -> Self {
        if let Mode::Resumable { create: c, .. } = &mut self.mode {
            *c = Some(Box::new(create));
        }
        self
    }

    /// Fail unless the bytes sent have this sha-256 (64 hex digits); it is also sent as
    /// `Repr-Digest: sha-256=:<base64>:` so the server can check it, unless the request has one.
    pub fn expected_sha256(mut self, hex: impl Into<String>) -> Self {
        self.expected_sha256 = Some(hex.into());
        self
    }

    /// Resumable uploads: status queries allowed after failed chunks (default
    /// [`DEFAULT_MAX_RESUMES`]).
    pub fn max_resumes(mut self, n: u32) -> Self {
        self.max_resumes = n;
        self
    }

    /// Receive throttled [`Progress`] events.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }
}

/// What a successful upload did.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// Status of the final answer.
    pub status: StatusCode,
    /// Headers of the final answer.
    pub headers: HeaderMap,
    /// Body of the final answer (typically the created resource's metadata).
    pub body: Bytes,
    /// Bytes uploaded (the whole body; for multipart, the encoded form).
    pub bytes: u64,
    /// Requests that carried data (1 for a single upload; chunks for a resumable one), not counting
    /// the pipeline's own retries.
    pub chunks: u32,
    /// Status queries made after failed chunks.
    pub resumes: u32,
    /// Sha-256 of the bytes sent, hex (None if it could not be computed: a source of unknown length
    /// the server acknowledged past what was read).
    pub sha256: Option<String>,
    /// The final answer's `ETag`.
    pub etag: Option<String>,
    /// Which digest header of the server's final answer was checked (and matched), if any.
    pub server_checksum: Option<String>,
    /// The upload URL of a resumable upload.
    pub upload_url: Option<String>,
}

/// `Range: bytes=0-N` of a resumable-upload answer: the server holds `N + 1` bytes (none without it).
fn acknowledged(headers: &HeaderMap) -> Result<u64, Error> {
    let Some(v) = headers.get(RANGE) else {
        return Ok(0);
    };
    let parsed = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    match parsed {
        Some((0, last)) => Ok(last.saturating_add(1)),
        _ => Err(protocol(
            "the upload server's Range header is not `bytes=0-<last>`",
        )),
    }
}

impl Connector {
    /// Upload a body in one request, or a source in resumable chunks (see [`UploadOptions`] and the
    /// [module docs](crate::transfer)).
    pub async fn upload(&self, options: UploadOptions) -> Result<UploadReport, Error> {
        let UploadOptions {
            mut request,
            mode,
            expected_sha256,
            max_resumes,
            on_progress,
        } = options;
        let expected = match &expected_sha256 {
            Some(h) => Some(parse_sha256_hex("expected_sha256", h)?),
            None => None,
        };
        if let Some(e) = &expected {
            if !request.headers.contains_key("repr-digest") {
                let b64 = base64::engine::general_purpose::STANDARD.encode(e);
                let v = HeaderValue::from_str(&format!("sha-256=:{b64}:"))
                    .map_err(|e| Error::validation("expected_sha256", e))?;
                request.headers.insert("repr-digest", v);
            }
        }
        let total = match &mode {
            Mode::Single(body) => body.length(),
            Mode::Resumable { source, .. } => source.length(),
        };
        let tally = Arc::new(Mutex::new(Tally {
            hasher: Some(digest::Context::new(&digest::SHA256)),
            upto: 0,
            meter: Meter::new(on_progress, Direction::Upload, total),
        }));
        let mut report = match mode {
            Mode::Single(body) => {
                let body = match body {
                    Body::Stream {
                        content_type,
                        source,
                    } => Body::Stream {
                        content_type,
                        source: tallied(&source, &tally),
                    },
                    other => {
                        // Buffered: counted and hashed as a whole.
                        if let Some(b) = other.as_bytes() {
                            let due = tally
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .observe(0, b);
                            deliver(due);
                        }
                        other
                    }
                };
                let resp = self.request(request.body(body)).await?;
                UploadReport {
                    status: resp.status,
                    etag: header_str(&resp.headers, ETAG),
                    headers: resp.headers,
                    body: resp.data,
                    bytes: 0,
                    chunks: 1,
                    resumes: 0,
                    sha256: None,
                    server_checksum: None,
                    upload_url: None,
                }
            }
            Mode::Resumable {
                source,
                chunk_size,
                create,
            } => {
                self.upload_resumable(request, &source, &tally, chunk_size, create, max_resumes)
                    .await?
            }
        };
        let (hash, sent, due) = {
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            let sent = t.upto;
            let hash = t.hasher.take().map(|h| h.finish());
            let due = t.meter.finish(sent);
            (hash, sent, due)
        };
        report.bytes = total.unwrap_or(sent);
        // Only a hash over every byte of the body speaks for it.
        let hash = hash.filter(|_| total.is_none_or(|t| t == sent));
        if let Some(h) = &hash {
            let actual = h.as_ref();
            if let Some(e) = &expected {
                if e[..] != *actual {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        ErrorSource::Unknown,
                        format!(
                            "the uploaded bytes have sha-256 {}, not the expected {}",
                            hex(actual),
                            hex(e)
                        ),
                    )
                    .with_request_sent(true)
                    .with_detail("field", "expected_sha256")
                    .with_detail("checksum_source", "caller")
                    .with_detail("expected", hex(e))
                    .with_detail("actual", hex(actual)));
                }
            }
            if let Some(a) = announced_sha256(&report.headers, true) {
                if a.sha256 != actual {
                    return Err(checksum_mismatch(
                        "upload", a.header, &a.sha256, actual, sent,
                    ));
                }
                report.server_checksum = Some(a.header.to_owned());
            }
            report.sha256 = Some(hex(actual));
        }
        deliver(due);
        Ok(report)
    }

    async fn upload_resumable(
        &self,
        request: RequestOptions,
        source: &BodySource,
        tally: &Arc<Mutex<Tally>>,
        chunk_size: u64,
        create: Option<Box<RequestOptions>>,
        max_resumes: u32,
    ) -> Result<UploadReport, Error> {
        if chunk_size == 0 {
            return Err(Error::validation("chunk_size", "must be at least 1 byte"));
        }
        let Some(total) = source.length() else {
            return Err(Error::validation(
                "source",
                "a resumable upload needs a source of known length",
            ));
        };
        if source.is_one_shot() {
            return Err(Error::validation(
                "source",
                "a resumable upload needs a replayable source (a file or a reader factory)",
            ));
        }
        let mut url = request.path.clone();
        if let Some(create) = create {
            let resp = self.request(*create).await?;
            let location = resp
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    protocol("the answer that created the upload session has no Location header")
                })?;
            url = self
                .inner
                .base_url
                .join(location)
                .map_err(|e| protocol(&format!("unusable upload Location: {e}")))?
                .to_string();
        }
        let counted = tallied(source, tally);
        let mut offset = 0u64;
        let mut chunks = 0u32;
        let mut resumes = 0u32;
        loop {
            let end = offset.saturating_add(chunk_size).min(total);
            let mut req = request.clone();
            req.path = url.clone();
            let range = if total == 0 {
                "bytes */0".to_owned()
            } else {
                format!("bytes {offset}-{}/{total}", end - 1)
            };
            req.headers.insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&range).map_err(|e| Error::validation("range", e))?,
            );
            req.body = Body::Stream {
                content_type: None,
                source: counted.slice(offset, end - offset),
            };
            chunks += 1;
            let outcome = self.request(req).await;
            let mut queried = false;
            let resp = match outcome {
                Ok(resp) => resp,
                Err(e) if e.is_retryable() && resumes < max_resumes => {
                    resumes += 1;
                    queried = true;
                    tracing::warn!(
                        offset,
                        resume = resumes,
                        "upload chunk failed, asking the server what it holds: {}",
                        e.message()
                    );
                    let mut query = request.clone();
                    query.path = url.clone();
                    query.headers.insert(
                        CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes */{total}"))
                            .map_err(|e| Error::validation("range", e))?,
                    );
                    query
                        .headers
                        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                    query.headers.remove("repr-digest");
                    query.body = Body::Empty;
                    self.request(query).await?
                }
                Err(mut e) => {
                    e.insert_detail("upload_offset", offset);
                    return Err(e);
                }
            };
            let status = resp.status;
            let incomplete = status.as_u16() == RESUME_INCOMPLETE
                || (status.is_success() && resp.headers.contains_key(RANGE) && end < total);
            if status.is_success() && !incomplete {
                return Ok(UploadReport {
                    status,
                    etag: header_str(&resp.headers, ETAG),
                    headers: resp.headers,
                    body: resp.data,
                    bytes: total,
                    chunks,
                    resumes,
                    sha256: None,
                    server_checksum: None,
                    upload_url: Some(url),
                });
            }
            if !incomplete {
                return Err(protocol(&format!(
                    "unexpected status {} during a resumable upload",
                    status.as_u16()
                ))
                .with_status(status));
            }
            let held = acknowledged(&resp.headers)?;
            if held >= total {
                return Err(protocol(&format!(
                    "the upload server holds {held} of {total} bytes but did not complete the upload"
                )));
            }
            if held <= offset && !queried {
                // The chunk was answered but nothing new was taken: count it like a failure.
                if resumes >= max_resumes {
                    return Err(protocol(&format!(
                        "the upload server takes no more bytes past {held}"
                    ))
                    .with_detail("upload_offset", held));
                }
                resumes += 1;
            }
            offset = held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn digest_headers_of_both_generations_are_read() {
        let sha = digest::digest(&digest::SHA256, b"hello");
        let b64 = base64::engine::general_purpose::STANDARD.encode(sha.as_ref());
        let repr = format!("sha-512=:AAAA:, sha-256=:{b64}:");
        let a = announced_sha256(&headers(&[("repr-digest", &repr)]), false).unwrap();
        assert_eq!((a.header, &a.sha256[..]), ("repr-digest", sha.as_ref()));
        let legacy = format!("MD5=abc, SHA-256={b64}");
        let a = announced_sha256(&headers(&[("digest", &legacy)]), true).unwrap();
        assert_eq!((a.header, &a.sha256[..]), ("digest", sha.as_ref()));
        // On a partial answer only Repr-Digest speaks for the whole representation.
        assert!(announced_sha256(&headers(&[("digest", &legacy)]), false).is_none());
        let content = format!("sha-256=:{b64}:");
        assert!(announced_sha256(&headers(&[("content-digest", &content)]), false).is_none());
        // Undecodable or short values are ignored, not fatal.
        assert!(announced_sha256(&headers(&[("repr-digest", "sha-256=:!!:")]), true).is_none());
        assert!(announced_sha256(&headers(&[("repr-digest", "sha-256=:AAAA:")]), true).is_none());
    }

    #[test]
    fn ranges_are_parsed_strictly() {
        let cr = |v| content_range(&headers(&[("content-range", v)]));
        assert_eq!(cr("bytes 100-199/1000"), Some((100, 199, Some(1000))));
        assert_eq!(cr("bytes 100-199/*"), Some((100, 199, None)));
        assert_eq!(cr("items 1-2/3"), None);
        assert_eq!(acknowledged(&HeaderMap::new()).unwrap(), 0);
        assert_eq!(
            acknowledged(&headers(&[("range", "bytes=0-524287")])).unwrap(),
            524288
        );
        assert!(acknowledged(&headers(&[("range", "bytes=10-20")])).is_err());
        assert!(acknowledged(&headers(&[("range", "garbage")])).is_err());
        assert!(parse_sha256_hex("x", "zz").is_err());
        assert_eq!(parse_sha256_hex("x", &"ab".repeat(32)).unwrap(), [0xab; 32]);
    }

    #[test]
    fn progress_is_throttled_and_never_goes_back() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let cb: ProgressFn = Arc::new(move |p| s.lock().unwrap().push(p));
        let mut m = Meter::new(Some(cb), Direction::Upload, Some(10 * PROGRESS_BYTES));
        for i in 1..=(10 * PROGRESS_BYTES / 8192) {
            deliver(m.update(i * 8192));
        }
        // A retry reading the first bytes again reports nothing.
        deliver(m.update(4096));
        deliver(m.finish(10 * PROGRESS_BYTES));
        let ev = seen.lock().unwrap().clone();
        // One per MiB (the test runs well under 100 ms per MiB), plus the final one.
        assert!(ev.len() <= 11, "{}", ev.len());
        assert!(ev.windows(2).all(|w| w[1].bytes >= w[0].bytes));
        assert!(ev.last().unwrap().done);
        assert_eq!(ev.iter().filter(|p| p.done).count(), 1);
    }

    #[test]
    fn tally_hashes_each_byte_once() {
        let mut t = Tally {
            hasher: Some(digest::Context::new(&digest::SHA256)),
            upto: 0,
            meter: Meter::new(None, Direction::Upload, None),
        };
        t.observe(0, b"hello ");
        t.observe(0, b"hel"); // a retry from the start
        t.observe(3, b"lo wor"); // continued from an acknowledged offset
        t.observe(9, b"ld");
        let h = t.hasher.take().unwrap().finish();
        assert_eq!(
            h.as_ref(),
            digest::digest(&digest::SHA256, b"hello world").as_ref()
        );
        t.hasher = Some(digest::Context::new(&digest::SHA256));
        t.observe(20, b"x");
        assert!(t.hasher.is_none(), "a gap leaves no whole hash");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn one(name: &'static str, value: &str) -> Option<HeaderMap> {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(value).ok()?);
            Some(h)
        }

        proptest! {
            #[test]
            fn content_ranges_are_usable_or_refused(text in "(bytes )?[0-9]{0,22}-[0-9]{0,22}/([0-9]{0,22}|\\*)|[ -~]{0,40}") {
                if let Some(h) = one("content-range", &text) {
                    if let Some((a, b, total)) = content_range(&h) {
                        prop_assert!(a <= b);
                        if let Some(t) = total {
                            prop_assert!(b < t);
                        }
                    }
                }
            }

            #[test]
            fn valid_content_ranges_read_back(a in any::<u64>(), len in any::<u64>(), extra in any::<u64>()) {
                let b = a.saturating_add(len % 1_000_000);
                let total = b.saturating_add(1).saturating_add(extra % 1000);
                if b < total {
                    let h = one("content-range", &format!("bytes {a}-{b}/{total}")).unwrap();
                    prop_assert_eq!(content_range(&h), Some((a, b, Some(total))));
                }
            }

            #[test]
            fn acknowledged_ranges_never_overflow(text in "bytes=[0-9]{0,22}-[0-9]{0,22}|[ -~]{0,30}") {
                if let Some(h) = one("range", &text) {
                    if let Ok(n) = acknowledged(&h) {
                        prop_assert!(n >= 1);
                    }
                }
            }

            #[test]
            fn digests_of_any_text_are_parsed_or_ignored(
                name in prop_oneof![Just("repr-digest"), Just("content-digest"), Just("digest"), Just("x-goog-hash")],
                text in "(sha-256|SHA-256|md5|crc32c)=:?[A-Za-z0-9+/=]{0,60}:?|[ -~]{0,60}",
                full in any::<bool>(),
            ) {
                if let Some(h) = one(name, &text) {
                    let _ = announced_sha256(&h, full);
                }
            }

            #[test]
            fn content_length_of_any_text_is_a_number_or_unknown(text in "[0-9]{0,30}|[ -~]{0,20}") {
                if let Some(h) = one("content-length", &text) {
                    let mut f = Fetch::new();
                    f.start(&h);
                    if let Some(t) = f.total {
                        prop_assert_eq!(Some(t), crate::bounded::parse_u64(&text));
                    }
                }
            }
        }
    }
}
