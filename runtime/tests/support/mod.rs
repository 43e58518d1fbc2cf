//! Shared helpers for the runtime's integration tests: real servers on loopback, log capture, configs.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use connector_runtime::{Connector, ConnectorConfig, RetryConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

/// How long a test waits for something that is bound to happen (a request to arrive, a call to end)
/// before it fails instead of hanging. Far beyond what any step takes on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How much later than asked a timer or an answer may come on a loaded machine: the slack of every
/// upper bound on a wall-clock wait.
pub const LATE: Duration = Duration::from_secs(5);

/// Await `fut`, failing the test with `what` if it has not finished within [`PATIENCE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing after {PATIENCE:?}"),
    }
}

/// Wait until `cond` holds, checking it again every millisecond; fails the test with `what` after
/// [`PATIENCE`]. For state that has no signal of its own (a counter in the runtime).
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not after {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Poll `fut` once, so that whatever it does before it first waits (taking its place in a queue,
/// joining a shared exchange) is done when this returns. The future, still pending, comes back to be
/// spawned or awaited; finishing at the first poll fails the test.
pub fn started<F: Future + Unpin>(mut fut: F) -> F {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        Pin::new(&mut fut).poll(&mut cx).is_pending(),
        "finished without waiting"
    );
    fut
}

/// A latch for server handlers: [`Gate::wait`] holds until the test calls [`Gate::open`], and passes
/// at once from then on. A gate never opened stalls its requests for good.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(watch::channel(false).0))
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }
    pub fn open(&self) {
        self.0.send_replace(true);
    }
    pub async fn wait(&self) {
        let mut open = self.0.subscribe();
        let _ = open.wait_for(|o| *o).await;
    }
}

/// Holds server handlers until `size` of them are inside at once, so a test sees a concurrency limit
/// reached however slowly the machine schedules the callers. The last requests of a run (once `total`
/// have come) pass without company. Should `size` never gather (a limit lower than expected), each
/// waits at most a tenth of [`PATIENCE`] and from then on nobody waits: the test then fails on the
/// peak it measured rather than hanging.
pub struct Crowd {
    size: usize,
    total: usize,
    state: watch::Sender<CrowdState>,
}

#[derive(Clone, Copy, Default)]
struct CrowdState {
    inside: usize,
    arrived: usize,
    /// Bumped each time `size` are inside together: everyone waiting then goes.
    wave: u64,
    gave_up: bool,
}

/// One handler inside a [`Crowd`]; leaving it (dropping this) makes room.
pub struct InCrowd(Arc<Crowd>);

impl Drop for InCrowd {
    fn drop(&mut self) {
        self.0.state.send_modify(|s| s.inside -= 1);
    }
}

impl Crowd {
    pub fn new(size: usize, total: usize) -> Arc<Crowd> {
        Arc::new(Crowd {
            size,
            total,
            state: watch::channel(CrowdState::default()).0,
        })
    }

    /// Enter, and wait until `size` are inside together (see [`Crowd`]). Hold the result while the
    /// request is being answered.
    pub async fn enter(self: &Arc<Self>) -> InCrowd {
        let mut wave = 0;
        self.state.send_modify(|s| {
            s.inside += 1;
            s.arrived += 1;
            wave = s.wave;
            if s.inside >= self.size || s.arrived >= self.total {
                s.wave += 1;
            }
        });
        let total = self.total;
        let mut rx = self.state.subscribe();
        let gathered = rx.wait_for(|s| s.wave != wave || s.gave_up || s.arrived >= total);
        if tokio::time::timeout(PATIENCE / 10, gathered).await.is_err() {
            self.state.send_modify(|s| s.gave_up = true);
        }
        InCrowd(self.clone())
    }
}

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
    /// Requests seen so far, as a signal to wait on.
    arrived: watch::Sender<usize>,
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
        let arrived = watch::channel(0usize).0;
        let (seen2, max2, conns2) = (seen.clone(), max_in_flight.clone(), connections.clone());
        let arrived2 = arrived.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = stopped.changed() => return,
                };
                conns2.fetch_add(1, Ordering::SeqCst);
                let (handler, seen, in_flight, max, count, arrived) = (
                    handler.clone(),
                    seen2.clone(),
                    in_flight.clone(),
                    max2.clone(),
                    count.clone(),
                    arrived2.clone(),
                );
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<Incoming>| {
                        let (handler, seen, in_flight, max, count, arrived) = (
                            handler.clone(),
                            seen.clone(),
                            in_flight.clone(),
                            max.clone(),
                            count.clone(),
                            arrived.clone(),
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
                            arrived.send_modify(|n| *n += 1);
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
            arrived,
            stop,
        }
    }

    /// A server that holds every request until `gate` opens, then answers `status` with `body`.
    #[allow(dead_code)] // not every test binary holds requests
    pub async fn held(gate: &Gate, status: u16, body: &'static str) -> CountingServer {
        let gate = gate.clone();
        CountingServer::start(move |_, _| {
            let gate = gate.clone();
            async move {
                gate.wait().await;
                reply(status, body)
            }
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Wait until the server has seen at least `n` requests (their handlers have started).
    pub async fn wait_for_requests(&self, n: usize) {
        let mut arrived = self.arrived.subscribe();
        within(&format!("the server to see {n} requests"), async {
            let _ = arrived.wait_for(|k| *k >= n).await;
        })
        .await;
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

/// A redirect (`status`) to `to`, with a short body of its own.
pub fn redirect(status: u16, to: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("location", to)
        .body(Full::new(Bytes::from_static(b"moved")))
        .unwrap()
}

/// Gaps between consecutive arrival times.
pub fn gaps(seen: &[Seen]) -> Vec<Duration> {
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}
