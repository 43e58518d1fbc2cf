//! Shared helpers for the runtime's integration tests: real servers on loopback, log capture, configs.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use connector_runtime::{Connector, ConnectorConfig, RetryConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Retry settings fast enough for tests: 50 ms doubling, capped at 400 ms.
pub fn fast_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        initial_delay_ms: 50,
        max_delay_ms: 400,
        ..RetryConfig::default()
    }
}

/// A connected connector for `config`.
pub async fn connected(config: ConnectorConfig) -> Connector {
    let c = Connector::initialize(config).expect("valid config");
    c.connect().await.expect("connect");
    c
}

/// Log lines captured from `tracing` while the guard lives (use with a current-thread runtime).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Install a subscriber (TRACE, all fields) that writes here, for this thread.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        keep_interest();
        let logs = Logs::default();
        let w = logs.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(w.0.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(sub);
        (logs, guard)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Log capture is per thread, but `tracing` caches each callsite's interest process-wide. When a capture
/// is the only subscriber alive, a callsite first hit on another test's thread (no subscriber there) is
/// cached as "never" and the capturing test loses its events. A process-wide subscriber that records
/// nothing but keeps every interest at "sometimes" makes each event ask the current thread's subscriber.
struct KeepInterest;

impl tracing::Subscriber for KeepInterest {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Install [`KeepInterest`] as the process-wide default once (idempotent).
pub fn keep_interest() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(KeepInterest);
    });
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request as the test server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

type Handler = Arc<
    dyn Fn(Seen, usize) -> Pin<Box<dyn Future<Output = http::Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// A hyper HTTP/1.1 server on loopback that records every request, counts requests in flight (the
/// handler's future is running) and remembers the highest such count.
pub struct CountingServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub max_in_flight: Arc<AtomicUsize>,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl CountingServer {
    /// `handler(request, index)` answers the `index`-th request (0-based).
    pub async fn start<F, Fut>(handler: F) -> CountingServer
    where
        F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s, i| Box::pin(handler(s, i)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen2, max2, conns2) = (seen.clone(), max_in_flight.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = stopped.changed() => return,
                };
                conns2.fetch_add(1, Ordering::SeqCst);
                let (handler, seen, in_flight, max, count) = (
                    handler.clone(),
                    seen2.clone(),
                    in_flight.clone(),
                    max2.clone(),
                    count.clone(),
                );
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<Incoming>| {
                        let (handler, seen, in_flight, max, count) = (
                            handler.clone(),
                            seen.clone(),
                            in_flight.clone(),
                            max.clone(),
                            count.clone(),
                        );
                        async move {
                            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(now, Ordering::SeqCst);
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let s = Seen {
                                at: Instant::now(),
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            };
                            let idx = count.fetch_add(1, Ordering::SeqCst);
                            seen.lock().unwrap().push(s.clone());
                            let resp = handler(s, idx).await;
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        CountingServer {
            addr,
            seen,
            max_in_flight,
            connections,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A plain response.
pub fn reply(status: u16, body: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// Gaps between consecutive arrival times.
pub fn gaps(seen: &[Seen]) -> Vec<Duration> {
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}
