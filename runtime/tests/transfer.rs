//! Uploads and downloads against hyper servers on loopback that stream both ways (nothing buffered
//! on either side, bodies hashed on the fly): files larger than 256 MiB with bounded memory, dropped
//! connections resumed with `Range`, servers that ignore ranges, wrong digests, resumable chunked
//! uploads, streamed multipart, progress events, and one-shot bodies that must not be replayed.
//!
//! The tests share one lock so the memory measurements of the large ones are not disturbed by the
//! others.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use connector_runtime::transfer::{Direction, DownloadOptions, Progress, UploadOptions};
use connector_runtime::{
    Body, BodySource, ConnectorConfig, Custom, ErrorCode, HmacSigner, HookType, Method, Multipart,
    RequestOptions, SecretString, hook_fn,
};
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ring::digest;
use support::{connected, fast_retry};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const MIB: u64 = 1 << 20;

/// The tests of this file run one at a time (see the file's doc).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------------
// Files

/// A fresh directory under the system's temp dir, removed with everything in it on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "connector-transfer-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write `size` pseudo-random bytes (1 MiB of xorshift noise, each MiB stamped with its index so no
/// two are alike) to `path`; returns their sha-256.
fn make_file(path: &Path, size: u64) -> Vec<u8> {
    let mut block = vec![0u8; MIB as usize];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for word in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let mut f = std::fs::File::create(path).unwrap();
    let mut h = digest::Context::new(&digest::SHA256);
    let mut left = size;
    let mut i: u64 = 0;
    while left > 0 {
        block[..8].copy_from_slice(&i.to_le_bytes());
        let n = left.min(MIB) as usize;
        f.write_all(&block[..n]).unwrap();
        h.update(&block[..n]);
        left -= n as u64;
        i += 1;
    }
    f.sync_all().unwrap();
    h.finish().as_ref().to_vec()
}

fn sha256_file(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let mut h = digest::Context::new(&digest::SHA256);
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finish().as_ref().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------------------------------------------------------------------------------------------------
// Memory

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Samples the resident set size every 5 ms on a thread of its own and keeps the highest value.
struct RssPeak {
    before: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssPeak {
    fn start() -> RssPeak {
        let before = rss();
        let peak = Arc::new(AtomicU64::new(before));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                p.fetch_max(rss(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssPeak {
            before,
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// Peak growth over the starting value, in bytes.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak
            .load(Ordering::SeqCst)
            .max(rss())
            .saturating_sub(self.before)
    }
}

// ---------------------------------------------------------------------------------------------------
// A streaming server

type RespBody = BoxBody<Bytes, std::io::Error>;

/// A request as the server saw it (its body is the handler's to read).
#[derive(Clone, Debug)]
struct Hit {
    method: String,
    uri: String,
    headers: http::HeaderMap,
}

impl Hit {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// A hyper HTTP/1.1 server whose handler gets the request with its body unread (streamed) and answers
/// with a streamed body.
struct Server {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start<F, Fut>(handler: F) -> Server
    where
        F: Fn(usize, http::Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<RespBody>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let seen = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, seen, count) = (handler.clone(), seen.clone(), count.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<Incoming>| {
                        let (handler, seen, count) = (handler.clone(), seen.clone(), count.clone());
                        async move {
                            seen.lock().unwrap().push(Hit {
                                method: req.method().to_string(),
                                uri: req.uri().to_string(),
                                headers: req.headers().clone(),
                            });
                            let i = count.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(handler(i, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Server { addr, hits, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(
    status: u16,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> http::Response<RespBody> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Full::new(body.into()).map_err(|n| match n {}).boxed())
        .unwrap()
}

/// `len` bytes of the file from `start`, streamed in 256 KiB reads. With `cut_after`, the body stops
/// after that many bytes (flushed, then a pause) and the connection is dropped.
async fn file_body(path: &Path, start: u64, len: u64, cut_after: Option<u64>) -> RespBody {
    let mut f = tokio::fs::File::open(path).await.unwrap();
    f.seek(std::io::SeekFrom::Start(start)).await.unwrap();
    let limit = cut_after.unwrap_or(len).min(len);
    let data =
        tokio_util::io::ReaderStream::with_capacity(f.take(limit), 256 * 1024).map_ok(Frame::data);
    if cut_after.is_some() {
        let cut = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(std::io::Error::other("connection dropped on purpose"))
        });
        BodyExt::boxed(StreamBody::new(data.chain(cut)))
    } else {
        BodyExt::boxed(StreamBody::new(data))
    }
}

/// Read a request body frame by frame, feeding each piece to `f`; stops early when `f` returns false.
async fn each_piece(body: &mut Incoming, mut f: impl FnMut(&[u8]) -> bool) -> bool {
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        if let Ok(data) = frame.into_data() {
            if !f(&data) {
                return false;
            }
        }
    }
    true
}

fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig {
        retry: fast_retry(3),
        timeout_ms: 120_000,
        ..ConnectorConfig::new(url)
    }
}

/// Progress events as received, with a check of their shape.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Progress>>>);

impl Events {
    fn callback(&self) -> impl Fn(Progress) + Send + Sync + 'static {
        let e = self.0.clone();
        move |p| e.lock().unwrap().push(p)
    }

    /// Monotonic, one final event carrying `total`, and at most one per MiB or per 100 ms.
    fn check(&self, direction: Direction, total: u64, elapsed: Duration) -> usize {
        let ev = self.0.lock().unwrap().clone();
        assert!(!ev.is_empty());
        for w in ev.windows(2) {
            assert!(w[1].bytes >= w[0].bytes, "progress went back: {w:?}");
        }
        assert!(ev.iter().all(|p| p.direction == direction));
        let last = ev.last().unwrap();
        assert!(
            last.done && last.bytes == total && last.total == Some(total),
            "{last:?}"
        );
        assert_eq!(ev.iter().filter(|p| p.done).count(), 1);
        let bound = (total / MIB) as u128 + elapsed.as_millis() / 100 + 2;
        assert!(
            (ev.len() as u128) <= bound,
            "{} events for {total} bytes in {elapsed:?} (bound {bound})",
            ev.len()
        );
        ev.len()
    }
}

// ---------------------------------------------------------------------------------------------------
// Large files, bounded memory

const LARGE: u64 = 257 * MIB + 12_345;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_256_mib_downloads_with_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("dl-large");
    let src = dir.path("source.bin");
    let sha = make_file(&src, LARGE);
    let digest_header = format!("sha-256=:{}:", b64(&sha));
    let served = src.clone();
    let server = Server::start(move |_, _req| {
        let (served, digest_header) = (served.clone(), digest_header.clone());
        async move {
            let body = file_body(&served, 0, LARGE, None).await;
            http::Response::builder()
                .header("content-length", LARGE)
                .header("etag", "\"big-v1\"")
                .header("repr-digest", digest_header)
                .body(body)
                .unwrap()
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let dest = dir.path("copy.bin");
    let events = Events::default();
    let started = Instant::now();
    let mem = RssPeak::start();
    let report = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/big.bin"), &dest)
                .on_progress(events.callback()),
        )
        .await
        .unwrap();
    let growth = mem.finish();
    let elapsed = started.elapsed();
    assert_eq!(report.bytes, LARGE);
    assert_eq!(report.requests, 1);
    assert_eq!(report.resumes, 0);
    assert_eq!(report.sha256, hex(&sha));
    assert_eq!(report.server_checksum.as_deref(), Some("repr-digest"));
    assert_eq!(report.etag.as_deref(), Some("\"big-v1\""));
    assert_eq!(report.path.as_deref(), Some(dest.as_path()));
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), LARGE);
    assert_eq!(sha256_file(&dest), sha);
    assert_eq!(
        dir.names(),
        ["copy.bin", "source.bin"],
        "no temporary file is left"
    );
    let n = events.check(Direction::Download, LARGE, elapsed);
    eprintln!(
        "download of {LARGE} bytes: {elapsed:?}, peak RSS growth {} KiB, {n} progress events",
        growth >> 10
    );
    assert!(growth < 64 * MIB, "RSS grew by {growth} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_256_mib_uploads_with_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("ul-large");
    let src = dir.path("source.bin");
    let sha = make_file(&src, LARGE);
    // The server hashes what it receives piece by piece and answers with its digest.
    // (bytes, sha-256) as the server computed them.
    type Received = Option<(u64, Vec<u8>)>;
    let received: Arc<Mutex<Received>> = Arc::default();
    let got = received.clone();
    let server = Server::start(move |_, req| {
        let got = got.clone();
        async move {
            let mut body = req.into_body();
            let mut h = digest::Context::new(&digest::SHA256);
            let mut n = 0u64;
            let complete = each_piece(&mut body, |p| {
                h.update(p);
                n += p.len() as u64;
                true
            })
            .await;
            assert!(complete);
            let d = h.finish().as_ref().to_vec();
            let header = format!("sha-256=:{}:", b64(&d));
            *got.lock().unwrap() = Some((n, d));
            full(
                201,
                &[("repr-digest", header), ("etag", "\"up-1\"".into())],
                format!("{{\"bytes\":{n}}}"),
            )
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let events = Events::default();
    let started = Instant::now();
    let mem = RssPeak::start();
    let body = Body::file(&src).await.unwrap();
    let report = c
        .upload(
            UploadOptions::new(RequestOptions::new(Method::PUT, "/objects/big.bin"), body)
                .expected_sha256(hex(&sha))
                .on_progress(events.callback()),
        )
        .await
        .unwrap();
    let growth = mem.finish();
    let elapsed = started.elapsed();
    let (n, server_sha) = received.lock().unwrap().clone().unwrap();
    assert_eq!(n, LARGE);
    assert_eq!(server_sha, sha);
    let hit = &server.hits()[0];
    assert_eq!(server.hits().len(), 1);
    assert_eq!(hit.header("content-length"), Some(LARGE.to_string()));
    assert_eq!(hit.header("transfer-encoding"), None);
    assert_eq!(
        hit.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(
        hit.header("repr-digest"),
        Some(format!("sha-256=:{}:", b64(&sha)))
    );
    assert_eq!(report.status, 201);
    assert_eq!(report.bytes, LARGE);
    assert_eq!(report.sha256, Some(hex(&sha)));
    assert_eq!(report.server_checksum.as_deref(), Some("repr-digest"));
    assert_eq!(report.etag.as_deref(), Some("\"up-1\""));
    let n = events.check(Direction::Upload, LARGE, elapsed);
    eprintln!(
        "upload of {LARGE} bytes: {elapsed:?}, peak RSS growth {} KiB, {n} progress events",
        growth >> 10
    );
    assert!(growth < 64 * MIB, "RSS grew by {growth} bytes");
}

// ---------------------------------------------------------------------------------------------------
// Resumed, restarted and rejected downloads

/// Serves `src` with an ETag and a digest, honouring `Range` (206) unless `ignore_range`; the answer
/// to request `i` is cut after `cuts[i]` bytes when there is such an entry.
async fn range_server(
    src: PathBuf,
    size: u64,
    sha: Vec<u8>,
    ignore_range: bool,
    cuts: Vec<u64>,
) -> Server {
    Server::start(move |i, req| {
        let (src, sha) = (src.clone(), sha.clone());
        let cut = cuts.get(i).copied();
        async move {
            let start = req
                .headers()
                .get("range")
                .filter(|_| !ignore_range)
                .map(|v| {
                    let v = v.to_str().unwrap();
                    v.strip_prefix("bytes=")
                        .unwrap()
                        .trim_end_matches('-')
                        .parse::<u64>()
                        .unwrap()
                });
            let if_range_ok = req.headers().get("if-range").is_none_or(|v| v == "\"v1\"");
            let mut b = http::Response::builder()
                .header("etag", "\"v1\"")
                .header("last-modified", "Tue, 01 Jul 2025 10:00:00 GMT")
                .header("repr-digest", format!("sha-256=:{}:", b64(&sha)))
                .header("accept-ranges", if ignore_range { "none" } else { "bytes" });
            let start = match start {
                Some(s) if if_range_ok => s,
                _ => 0,
            };
            if start > 0 {
                b = b.status(206).header(
                    "content-range",
                    format!("bytes {start}-{}/{size}", size - 1),
                );
            }
            let len = size - start;
            b.header("content-length", len)
                .body(file_body(&src, start, len, cut).await)
                .unwrap()
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_download_resumes_with_range_and_if_range() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("dl-resume");
    let src = dir.path("source.bin");
    let size = 8 * MIB + 777;
    let sha = make_file(&src, size);
    // The first answer is cut after 3 MiB, the second after 2 MiB more.
    let server = range_server(src, size, sha.clone(), false, vec![3 * MIB, 2 * MIB]).await;
    let c = connected(config(&server.url())).await;
    let dest = dir.path("copy.bin");
    let report = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/f.bin"), &dest)
                .expected_sha256(hex(&sha)),
        )
        .await
        .unwrap();
    let hits = server.hits();
    assert_eq!(hits.len(), 3, "{hits:#?}");
    let ranges: Vec<Option<String>> = hits.iter().map(|h| h.header("range")).collect();
    assert_eq!(
        ranges,
        [
            None,
            Some(format!("bytes={}-", 3 * MIB)),
            Some(format!("bytes={}-", 5 * MIB))
        ]
    );
    let if_ranges: Vec<Option<String>> = hits.iter().map(|h| h.header("if-range")).collect();
    assert_eq!(
        if_ranges,
        [None, Some("\"v1\"".into()), Some("\"v1\"".into())]
    );
    assert!(
        hits.iter()
            .all(|h| h.header("accept-encoding").as_deref() == Some("identity"))
    );
    assert_eq!(report.requests, 3);
    assert_eq!(report.resumes, 2);
    assert_eq!(report.restarts, 0);
    assert_eq!(report.bytes, size);
    assert_eq!(report.server_checksum.as_deref(), Some("repr-digest"));
    assert!(report.expected_checksum_verified);
    assert_eq!(sha256_file(&dest), sha);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);

    // With no resume allowed the same cut is a NETWORK_ERROR and nothing is left behind.
    let server = range_server(
        dir.path("source.bin"),
        size,
        sha.clone(),
        false,
        vec![3 * MIB],
    )
    .await;
    let c = connected(config(&server.url())).await;
    let dest2 = dir.path("copy2.bin");
    let e = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/f.bin"), &dest2)
                .max_resumes(0),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    assert_eq!(e.details()["bytes_written"], 3 * MIB);
    assert_eq!(server.hits().len(), 1);
    assert_eq!(dir.names(), ["copy.bin", "source.bin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_range_is_restarted_cleanly() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("dl-ignore");
    let src = dir.path("source.bin");
    let size = 6 * MIB + 3;
    let sha = make_file(&src, size);
    let server = range_server(src.clone(), size, sha.clone(), true, vec![2 * MIB]).await;
    let c = connected(config(&server.url())).await;
    let dest = dir.path("copy.bin");
    let report = c
        .download(DownloadOptions::to_file(
            RequestOptions::new(Method::GET, "/f.bin"),
            &dest,
        ))
        .await
        .unwrap();
    let hits = server.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].header("range"), Some(format!("bytes={}-", 2 * MIB)));
    assert_eq!(report.resumes, 1);
    assert_eq!(report.restarts, 1);
    assert_eq!(report.requests, 2);
    assert_eq!(report.bytes, size);
    // Truncated before the second answer was written: the file is the payload once, not 2 MiB + it.
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);
    assert_eq!(sha256_file(&dest), sha);

    // A writer cannot be rewound: the same situation is UNSUPPORTED there.
    let server = range_server(src, size, sha, true, vec![2 * MIB]).await;
    let c = connected(config(&server.url())).await;
    let e = c
        .download(DownloadOptions::to_writer(
            RequestOptions::new(Method::GET, "/f.bin"),
            tokio::io::sink(),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
    assert_eq!(server.hits().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_digest_fails_the_download_and_leaves_no_complete_looking_file() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("dl-digest");
    let src = dir.path("source.bin");
    let size = 3 * MIB + 11;
    let sha = make_file(&src, size);
    let wrong = digest::digest(&digest::SHA256, b"something else")
        .as_ref()
        .to_vec();
    let served = src.clone();
    let wrong_b64 = b64(&wrong);
    let server = Server::start(move |_, _| {
        let (served, wrong_b64) = (served.clone(), wrong_b64.clone());
        async move {
            http::Response::builder()
                .header("content-length", size)
                .header("digest", format!("SHA-256={wrong_b64}"))
                .body(file_body(&served, 0, size, None).await)
                .unwrap()
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    // An older copy at the destination stays as it was.
    let dest = dir.path("copy.bin");
    std::fs::write(&dest, b"previous version").unwrap();
    let e = c
        .download(DownloadOptions::to_file(
            RequestOptions::new(Method::GET, "/f.bin"),
            &dest,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError, "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.details()["checksum_source"], "digest");
    assert_eq!(e.details()["expected"], hex(&wrong));
    assert_eq!(e.details()["actual"], hex(&sha));
    assert_eq!(e.details()["bytes_written"], size);
    assert!(e.message().contains("sha-256 mismatch"), "{e}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"previous version");
    assert_eq!(
        dir.names(),
        ["copy.bin", "source.bin"],
        "the partial file is removed"
    );
    assert_eq!(server.hits().len(), 1, "a checksum mismatch is not retried");

    // Checking the server's digest can be turned off; the caller's expectation is checked all the same.
    let e = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/f.bin"), &dest)
                .verify_server_checksum(false)
                .expected_sha256(hex(&wrong)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.details()["checksum_source"], "caller");
    let report = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/f.bin"), &dest)
                .verify_server_checksum(false)
                .expected_sha256(hex(&sha)),
        )
        .await
        .unwrap();
    assert!(report.expected_checksum_verified);
    assert_eq!(report.server_checksum, None);
    assert_eq!(sha256_file(&dest), sha);
}

// ---------------------------------------------------------------------------------------------------
// Resumable chunked upload

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_continues_from_the_acknowledged_offset_after_a_failed_chunk() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("ul-chunks");
    let src = dir.path("source.bin");
    let total = 10 * MIB + 100;
    let chunk = 2 * MIB;
    let sha = make_file(&src, total);
    // Upload state: bytes held and their running hash. The third chunk request is taken for its
    // first half only, then answered 503.
    struct State {
        have: u64,
        hash: Option<digest::Context>,
        digest: Option<Vec<u8>>,
    }
    let state = Arc::new(Mutex::new(State {
        have: 0,
        hash: Some(digest::Context::new(&digest::SHA256)),
        digest: None,
    }));
    let chunk_requests = Arc::new(AtomicUsize::new(0));
    let (st, cr) = (state.clone(), chunk_requests.clone());
    let server = Server::start(move |_, req| {
        let (st, cr) = (st.clone(), cr.clone());
        async move {
            if req.method() == "POST" {
                return full(201, &[("location", "/upload/session-1".into())], "");
            }
            let range = req.headers()["content-range"].to_str().unwrap().to_owned();
            let (span, size) = range
                .strip_prefix("bytes ")
                .unwrap()
                .split_once('/')
                .unwrap();
            assert_eq!(size.parse::<u64>().unwrap(), total);
            let ack = |have: u64| -> Vec<(&str, String)> {
                if have == 0 {
                    vec![]
                } else {
                    vec![("range", format!("bytes=0-{}", have - 1))]
                }
            };
            if span == "*" {
                let have = st.lock().unwrap().have;
                return full(308, &ack(have), "");
            }
            let (a, b) = span.split_once('-').unwrap();
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            let n = cr.fetch_add(1, Ordering::SeqCst);
            if a > st.lock().unwrap().have {
                return full(400, &[], "gap");
            }
            let fail = n == 2;
            let len = b - a + 1;
            let keep = if fail { len / 2 } else { len };
            let mut body = req.into_body();
            let mut pos = a;
            each_piece(&mut body, |p| {
                let mut guard = st.lock().unwrap();
                let s = &mut *guard;
                for_new_bytes(&mut s.have, &mut pos, p, a + keep, |bytes| {
                    if let Some(h) = &mut s.hash {
                        h.update(bytes)
                    }
                })
            })
            .await;
            let mut s = st.lock().unwrap();
            if fail {
                return full(503, &[], "try later");
            }
            if s.have == total {
                let d = s.hash.take().unwrap().finish().as_ref().to_vec();
                s.digest = Some(d.clone());
                return full(
                    200,
                    &[("repr-digest", format!("sha-256=:{}:", b64(&d)))],
                    "{\"done\":true}",
                );
            }
            full(308, &ack(s.have), "")
        }
    })
    .await;

    /// Pass on the bytes of `piece` (at `*pos`) past `*have` and below `limit`; false once `limit`
    /// is reached (the rest of the body is not read).
    fn for_new_bytes(
        have: &mut u64,
        pos: &mut u64,
        piece: &[u8],
        limit: u64,
        mut f: impl FnMut(&[u8]),
    ) -> bool {
        let start = *pos;
        let end = (start + piece.len() as u64).min(limit);
        if end > *have && start <= *have {
            f(&piece[(*have - start) as usize..(end - start) as usize]);
            *have = end;
        }
        *pos += piece.len() as u64;
        *pos < limit
    }

    // No pipeline retries, so the failed chunk goes straight to the status query.
    let c = connected(ConnectorConfig {
        retry: fast_retry(1),
        ..config(&server.url())
    })
    .await;
    let through_pipeline = Arc::new(AtomicUsize::new(0));
    let seen = through_pipeline.clone();
    c.hooks().register(
        HookType::BeforeRequest,
        hook_fn("count", 0, move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }),
    );
    let events = Events::default();
    let started = Instant::now();
    let report = c
        .upload(
            UploadOptions::resumable(
                RequestOptions::new(Method::PUT, "/unused"),
                BodySource::file(&src).await.unwrap(),
            )
            .create_session(RequestOptions::new(
                Method::POST,
                "/uploads?uploadType=resumable",
            ))
            .chunk_size(chunk)
            .expected_sha256(hex(&sha))
            .on_progress(events.callback()),
        )
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let hits = server.hits();
    let seq: Vec<String> = hits
        .iter()
        .map(|h| {
            format!(
                "{} {} {}",
                h.method,
                h.uri,
                h.header("content-range").unwrap_or_default()
            )
        })
        .collect();
    let t = total;
    assert_eq!(
        seq,
        [
            "POST /uploads?uploadType=resumable ".to_owned(),
            format!("PUT /upload/session-1 bytes 0-2097151/{t}"),
            format!("PUT /upload/session-1 bytes 2097152-4194303/{t}"),
            format!("PUT /upload/session-1 bytes 4194304-6291455/{t}"),
            format!("PUT /upload/session-1 bytes */{t}"),
            // The server kept half of the failed chunk: the upload goes on from there.
            format!("PUT /upload/session-1 bytes 5242880-7340031/{t}"),
            format!("PUT /upload/session-1 bytes 7340032-9437183/{t}"),
            format!("PUT /upload/session-1 bytes 9437184-{}/{t}", t - 1),
        ]
    );
    // Every chunk carries its own length.
    assert_eq!(hits[1].header("content-length"), Some(chunk.to_string()));
    assert_eq!(
        hits[7].header("content-length"),
        Some((t - 9437184).to_string())
    );
    assert_eq!(hits[4].header("content-length").as_deref(), Some("0"));
    assert_eq!(through_pipeline.load(Ordering::SeqCst), hits.len());
    assert_eq!(state.lock().unwrap().digest.as_deref(), Some(&sha[..]));
    assert_eq!(report.status, 200);
    assert_eq!(report.chunks, 6);
    assert_eq!(report.resumes, 1);
    assert_eq!(report.bytes, total);
    assert_eq!(report.sha256, Some(hex(&sha)));
    assert_eq!(report.server_checksum.as_deref(), Some("repr-digest"));
    assert_eq!(
        report.upload_url,
        Some(format!("{}/upload/session-1", server.url()))
    );
    events.check(Direction::Upload, total, elapsed);
}

// ---------------------------------------------------------------------------------------------------
// Multipart

/// Split a multipart/form-data body into (part headers, content).
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    }
    let open = format!("--{boundary}\r\n");
    let delim = format!("\r\n--{boundary}");
    assert!(
        body.starts_with(open.as_bytes()),
        "body starts with the boundary"
    );
    let mut parts = Vec::new();
    let mut at = open.len();
    loop {
        let head_end = find(body, b"\r\n\r\n", at).expect("part headers end");
        let head = String::from_utf8(body[at..head_end].to_vec()).unwrap();
        let content_start = head_end + 4;
        let content_end = find(body, delim.as_bytes(), content_start).expect("part ends");
        parts.push((head, body[content_start..content_end].to_vec()));
        let after = content_end + delim.len();
        if body[after..].starts_with(b"--\r\n") {
            assert_eq!(after + 4, body.len(), "nothing after the closing boundary");
            return parts;
        }
        assert!(body[after..].starts_with(b"\r\n"));
        at = after + 2;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_streams_its_file_parts_and_the_server_parses_them() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("ul-multipart");
    let file = dir.path("report.bin");
    let file_sha = make_file(&file, 2 * MIB + 5);
    let generated: Bytes = (0..100_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    // (Content-Length header, bytes received, parts) as the server saw them.
    type Parsed = Option<(Option<String>, usize, Vec<(String, Vec<u8>)>)>;
    let parsed: Arc<Mutex<Parsed>> = Arc::default();
    let p2 = parsed.clone();
    let server = Server::start(move |_, req| {
        let p2 = p2.clone();
        async move {
            let ct = req.headers()["content-type"].to_str().unwrap().to_owned();
            let len = req
                .headers()
                .get("content-length")
                .map(|v| v.to_str().unwrap().to_owned());
            let boundary = ct
                .strip_prefix("multipart/form-data; boundary=")
                .unwrap()
                .to_owned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            *p2.lock().unwrap() = Some((len, body.len(), parse_multipart(&body, &boundary)));
            full(201, &[], "{}")
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let mut form = Multipart::new();
    form.part("purpose", "backup");
    form.part("meta", &serde_json::json!({"kind": "nightly"}));
    form.stream(
        "file",
        Some("report.bin"),
        Some("application/x-report"),
        BodySource::file(&file).await.unwrap(),
    );
    let g = generated.clone();
    form.stream(
        "generated",
        Some("gen.dat"),
        None,
        BodySource::reader_factory(Some(g.len() as u64), move || {
            let g = g.clone();
            async move { Ok(std::io::Cursor::new(g)) }
        }),
    );
    let report = c
        .upload(UploadOptions::multipart(
            RequestOptions::new(Method::POST, "/files").idempotency_key("k1"),
            form,
        ))
        .await
        .unwrap();
    assert_eq!(report.status, 201);
    let (len, received, parts) = parsed.lock().unwrap().take().unwrap();
    assert_eq!(
        len,
        Some(received.to_string()),
        "Content-Length is the exact encoded size"
    );
    assert_eq!(report.bytes, received as u64);
    assert_eq!(server.hits()[0].header("transfer-encoding"), None);
    assert_eq!(parts.len(), 4);
    assert_eq!(
        parts[0].0,
        "Content-Disposition: form-data; name=\"purpose\""
    );
    assert_eq!(parts[0].1, b"backup");
    assert_eq!(
        parts[1].0,
        "Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json"
    );
    assert_eq!(parts[1].1, br#"{"kind":"nightly"}"#);
    assert_eq!(
        parts[2].0,
        "Content-Disposition: form-data; name=\"file\"; filename=\"report.bin\"\r\nContent-Type: application/x-report"
    );
    assert_eq!(parts[2].1.len() as u64, 2 * MIB + 5);
    assert_eq!(
        digest::digest(&digest::SHA256, &parts[2].1).as_ref(),
        &file_sha[..]
    );
    assert_eq!(
        parts[3].0,
        "Content-Disposition: form-data; name=\"generated\"; filename=\"gen.dat\"\r\nContent-Type: application/octet-stream"
    );
    assert_eq!(parts[3].1, generated);
}

// ---------------------------------------------------------------------------------------------------
// Replays

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_reader_is_not_replayed_and_a_factory_is() {
    let _serial = SERIAL.lock().await;
    // Reads the whole body, then answers 503 (retryable) to every request.
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let b2 = bodies.clone();
    let server = Server::start(move |_, req| {
        let b2 = b2.clone();
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            b2.lock().unwrap().push(body.to_vec());
            full(503, &[], "busy")
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let payload: Bytes = Bytes::from_static(b"one-shot payload, read once");
    let body = Body::reader(
        "text/plain",
        Some(payload.len() as u64),
        std::io::Cursor::new(payload.clone()),
    )
    .unwrap();
    let e = c.put("/things/1", body).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert!(e.is_retryable(), "the failure itself is retryable");
    let stopped = e.details()["retry_stopped"].as_str().unwrap().to_owned();
    assert!(stopped.contains("one-shot"), "{stopped}");
    assert_eq!(bodies.lock().unwrap().len(), 1, "sent once, not replayed");
    assert_eq!(bodies.lock().unwrap()[0], payload);

    // A factory of readers is replayed: three attempts, the same bytes each time.
    bodies.lock().unwrap().clear();
    let p = payload.clone();
    let body = Body::reader_factory("text/plain", Some(payload.len() as u64), move || {
        let p = p.clone();
        async move { Ok(std::io::Cursor::new(p)) }
    })
    .unwrap();
    let e = c.put("/things/1", body).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.attempt(), 3);
    let seen = bodies.lock().unwrap().clone();
    assert_eq!(seen, vec![payload.to_vec(); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_signing_signer_refuses_a_streamed_body() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(|_, _| async { full(200, &[], "{}") }).await;
    let c = connector_runtime::Connector::builder(config(&server.url()))
        .auth(Arc::new(Custom(HmacSigner::new(&SecretString::from(
            "s3cret",
        )))))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let body = Body::reader_factory("text/plain", Some(3), || async {
        Ok(std::io::Cursor::new(b"abc".to_vec()))
    })
    .unwrap();
    let e = c.put("/signed", body).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError, "{e}");
    assert!(e.message().contains("streamed body"), "{e}");
    assert!(server.hits().is_empty(), "nothing was sent");
    // Buffered bodies are signed as before.
    c.put("/signed", Body::bytes("text/plain", "abc").unwrap())
        .await
        .unwrap();
    assert!(server.hits()[0].header("x-signature").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_announced_is_a_length_error() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("dl-short");
    let src = dir.path("source.bin");
    let size = 2 * MIB;
    let sha = make_file(&src, size);
    // The first answer is cut after 1 MiB; the resumed one announces the rest in Content-Range but,
    // sent chunked, ends cleanly 1000 bytes early.
    let served = src.clone();
    let server = Server::start(move |i, _| {
        let served = served.clone();
        async move {
            let b = http::Response::builder().header("etag", "\"v1\"");
            if i == 0 {
                return b
                    .header("content-length", size)
                    .body(file_body(&served, 0, size, Some(MIB)).await)
                    .unwrap();
            }
            b.status(206)
                .header("content-range", format!("bytes {MIB}-{}/{size}", size - 1))
                .body(file_body(&served, MIB, size - MIB - 1000, None).await)
                .unwrap()
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let dest = dir.path("copy.bin");
    let e = c
        .download(
            DownloadOptions::to_file(RequestOptions::new(Method::GET, "/f.bin"), &dest)
                .expected_sha256(hex(&sha)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError, "{e}");
    assert_eq!(e.details()["expected_length"], size);
    assert_eq!(e.details()["bytes"], size - 1000);
    assert_eq!(e.details()["resumes"], 1);
    assert_eq!(server.hits().len(), 2);
    assert_eq!(
        dir.names(),
        ["source.bin"],
        "nothing is left at the destination"
    );
}
