//! The connector: lifecycle (initialize, connect, disconnect, is_connected), runtime settings (auth,
//! hooks) and the request primitives, all of which go through the one pipeline in `pipeline.rs`.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::sync::Notify;
use url::Url;

use crate::auth::AuthStrategy;
use crate::breaker::CircuitBreaker;
use crate::cache::ResponseCache;
use crate::config::ConnectorConfig;
use crate::dedup::Dedup;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::hooks::{Hook, HookRegistry, HookType};
use crate::ratelimit::RateLimiter;
use crate::redact::Redactor;
use crate::request::{Body, RequestOptions};
use crate::response::Response;
use crate::response::StreamingResponse;
use crate::retry::{RetryClassifier, StandardClassifier};

const DISCONNECTED: u8 = 0;
const CONNECTED: u8 = 1;
const DRAINING: u8 = 2;

/// Configures a [`Connector`] with what is code rather than data: hooks, auth strategies, classifiers.
pub struct ConnectorBuilder {
    config: ConnectorConfig,
    hooks: Vec<(HookType, Arc<dyn Hook>)>,
    auth: Option<Arc<dyn AuthStrategy>>,
    classifier: Option<Arc<dyn RetryClassifier>>,
}

impl ConnectorBuilder {
    /// Register a hook at a stage.
    pub fn hook(mut self, stage: HookType, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push((stage, hook));
        self
    }

    /// Use this auth strategy (overrides `config.auth`).
    pub fn auth(mut self, auth: Arc<dyn AuthStrategy>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Decide retryability with this classifier instead of the configured status/code lists.
    pub fn retry_classifier(mut self, c: Arc<dyn RetryClassifier>) -> Self {
        self.classifier = Some(c);
        self
    }

    /// Validate everything and build the connector (the specification's `initialize`). It is not yet
    /// connected.
    pub fn build(self) -> Result<Connector, Error> {
        let mut config = self.config;
        config.validate()?;
        let base_url =
            Url::parse(&config.base_url).map_err(|e| Error::validation("base_url", e))?;
        let mut default_headers = HeaderMap::new();
        for (k, v) in &config.default_headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::validation(&format!("default_headers.{k}"), e))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| Error::validation(&format!("default_headers.{k}"), e))?;
            default_headers.insert(name, value);
        }
        // The default name is a static one: a name parsed at run time is shared bytes, whose count
        // each clone writes (one per call, from every thread).
        let request_id_name = if config
            .request_id_header
            .eq_ignore_ascii_case(DEFAULT_REQUEST_ID_HEADER)
        {
            HeaderName::from_static(DEFAULT_REQUEST_ID_HEADER)
        } else {
            HeaderName::from_bytes(config.request_id_header.as_bytes())
                .map_err(|e| Error::validation("request_id_header", e))?
        };
        let auth = self
            .auth
            .or_else(|| config.auth.clone().map(|a| a.into_strategy()));
        // A client certificate given as a credential is presented by the transport (mTLS), unless
        // the TLS settings name one themselves.
        if let Some((cert, key)) = auth.as_ref().and_then(|a| a.client_certificate()) {
            if config.tls.client_cert.is_none() && config.tls.client_key.is_none() {
                config.tls.client_cert = Some(cert);
                config.tls.client_key = Some(key);
            }
        }
        let redactor = redactor_for(&config, auth.as_deref());
        let hooks = HookRegistry::default();
        for (stage, h) in self.hooks {
            hooks.register(stage, h);
        }
        let classifier = self
            .classifier
            .unwrap_or_else(|| Arc::new(StandardClassifier::new(&config.retry)));
        let cache = config.cache.as_ref().map(|c| {
            let ignored = [&config.request_id_header, &config.idempotency.header]
                .iter()
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect();
            ResponseCache::new(c, ignored)
        });
        Ok(Connector {
            inner: Arc::new(Inner {
                cache,
                dedup: Dedup::default(),
                limiter: RateLimiter::new(config.rate_limit.clone()),
                breaker: CircuitBreaker::new(config.circuit_breaker.clone()),
                base_host_key: crate::pipeline::execute::host_key(&base_url),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                base_url,
                default_headers,
                request_id_name,
                current: RwLock::new(Current {
                    http: None,
                    auth,
                    redactor,
                }),
                hooks,
                classifier,
                state: AtomicU8::new(DISCONNECTED),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
                halt: Default::default(),
                streams: std::sync::Mutex::new(Vec::new()),
                config,
            }),
        })
    }
}

fn redactor_for(config: &ConnectorConfig, auth: Option<&dyn AuthStrategy>) -> Redactor {
    let mut names = config.redact.clone();
    if let Some(a) = auth {
        names.extend(a.sensitive_names());
    }
    Redactor::new(names)
}

/// A connector to one API. Cheap to clone; clones share everything (pool, limiter, breaker, hooks).
#[derive(Clone)]
pub struct Connector {
    pub(crate) inner: Arc<Inner>,
}

/// The request-id header the configuration names by default, spelled as `HeaderName` keeps it.
const DEFAULT_REQUEST_ID_HEADER: &str = "x-request-id";

/// The next connector's `Inner::id`.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) struct Inner {
    pub(crate) config: ConnectorConfig,
    pub(crate) base_url: Url,
    /// The circuit breaker's key for the base URL's host (`host:port`), made once: most calls go
    /// there, and the key would otherwise be a new string per attempt.
    pub(crate) base_host_key: String,
    /// Unique per connector in this process (never reused): keys what is cached per connector
    /// outside it (`request::joined_template`).
    pub(crate) id: u64,
    pub(crate) default_headers: HeaderMap,
    /// `config.request_id_header`, parsed once: a name outside the standard set costs an allocation
    /// each time it is parsed.
    pub(crate) request_id_name: HeaderName,
    /// What `connect`, `disconnect` and `set_auth` change, read by an attempt in one piece.
    pub(crate) current: RwLock<Current>,
    pub(crate) hooks: HookRegistry,
    pub(crate) limiter: RateLimiter,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) classifier: Arc<dyn RetryClassifier>,
    pub(crate) cache: Option<ResponseCache>,
    pub(crate) dedup: Dedup,
    state: AtomicU8,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Fired by `disconnect` at its deadline, reopened by `connect` (see `halt`).
    pub(crate) halt: crate::pipeline::halt::Halt,
    /// Streamed bodies handed to callers and not yet ended, for `disconnect` to close at its deadline.
    streams: std::sync::Mutex<Vec<std::sync::Weak<crate::pipeline::execute::OpenBody>>>,
}

/// The connector's state that changes while calls run: the transport (from `connect` to
/// `disconnect`), the auth strategy and the redactor made for it (`set_auth`). One lock, read once
/// per attempt: an attempt never sees a strategy with another strategy's redactor (its secret names
/// unmarked), and reading it is one lock, not three.
pub(crate) struct Current {
    pub(crate) http: Option<crate::transport::Transport>,
    pub(crate) auth: Option<Arc<dyn AuthStrategy>>,
    pub(crate) redactor: Redactor,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("base_url", &self.inner.config.base_url)
            .field("connected", &self.is_connected())
            .field("auth", &self.auth())
            .field("hooks", &self.inner.hooks)
            .finish_non_exhaustive()
    }
}

/// What [`Connector::disconnect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisconnectReport {
    /// Requests in flight when disconnect began.
    pub in_flight_at_start: usize,
    /// Requests still running at the deadline, which were cancelled.
    pub cancelled: usize,
    /// Of those, calls whose futures were held but not polled for another `deadline` after the
    /// cancellation (they end with CANCELLED whenever they are polled again); open streamed bodies are
    /// closed at the deadline and never counted here.
    pub abandoned: usize,
}

/// Keeps the in-flight count for graceful shutdown. Owned, so a streamed body can hold it until it ends.
pub(crate) struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        leave(&self.0);
    }
}

/// A call counted in flight, borrowing the connector: a buffered call ends within the borrow, so it
/// touches no reference count (the connector's is written by every call otherwise, on a line its
/// hot fields share). A streamed body that outlives the call takes an owned [`InFlight`].
pub(crate) struct Entered<'a>(&'a Arc<Inner>);

impl Entered<'_> {
    /// The same count, held by the connector's own reference from now on.
    pub(crate) fn owned(self) -> InFlight {
        let inner = self.0.clone();
        // Counted once: the owned guard ends it.
        std::mem::forget(self);
        InFlight(inner)
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        leave(self.0);
    }
}

fn leave(inner: &Inner) {
    if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
        inner.idle.notify_waiters();
    }
}

impl Inner {
    /// [`Current`], read. Held only while nothing awaits: a writer (`connect`, `disconnect`,
    /// `set_auth`) waits for it.
    pub(crate) fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    fn current_mut(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_connected() -> Error {
    Error::new(
        ErrorCode::InvalidRequest,
        ErrorSource::Unknown,
        "the connector is not connected: call connect() first",
    )
}

impl Connector {
    /// Start configuring a connector.
    pub fn builder(config: ConnectorConfig) -> ConnectorBuilder {
        ConnectorBuilder {
            config,
            hooks: Vec::new(),
            auth: None,
            classifier: None,
        }
    }

    /// Validate `config` and build a connector (not yet connected).
    pub fn initialize(config: ConnectorConfig) -> Result<Connector, Error> {
        Connector::builder(config).build()
    }

    /// Build the pooled HTTP client and resolve credentials (token-based auth fetches its first token
    /// here, so a bad credential fails now rather than on the first call). Idempotent.
    pub async fn connect(&self) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.state.load(Ordering::SeqCst) == CONNECTED {
            return Ok(());
        }
        let client = crate::transport::Transport::build(&inner.config)?;
        if let Some(auth) = self.auth() {
            if !auth.is_valid() {
                auth.refresh(&client.http).await?;
            }
        }
        inner.current_mut().http = Some(client);
        inner.halt.reopen();
        inner.state.store(CONNECTED, Ordering::SeqCst);
        tracing::info!(base_url = %inner.base_url, "connector connected");
        Ok(())
    }

    /// Graceful shutdown: stop taking new requests at once, let those in flight finish for up to
    /// `deadline`, then cancel what is left (they end as CANCELLED) and release the pool.
    pub async fn disconnect(&self, deadline: Duration) -> DisconnectReport {
        let inner = &self.inner;
        inner.state.store(DRAINING, Ordering::SeqCst);
        let at_start = inner.in_flight.load(Ordering::SeqCst);
        let drained = tokio::time::timeout(deadline, self.wait_idle())
            .await
            .is_ok();
        let mut cancelled = 0;
        let mut abandoned = 0;
        if !drained {
            cancelled = inner.in_flight.load(Ordering::SeqCst);
            tracing::warn!(
                cancelled,
                "disconnect deadline reached: cancelling requests still in flight"
            );
            inner.halt.fire();
            // Streamed bodies a caller holds without polling would never notice the token: close them
            // here (their next poll reports CANCELLED).
            let open: Vec<_> =
                std::mem::take(&mut *inner.streams.lock().unwrap_or_else(|p| p.into_inner()));
            for body in open.iter().filter_map(std::sync::Weak::upgrade) {
                crate::pipeline::execute::close(&body);
            }
            // Calls still running see the token at their next poll. A call whose future is held but
            // never polled again cannot: after one more `deadline` it is left behind, counted as
            // abandoned, rather than hold `disconnect` forever.
            if tokio::time::timeout(deadline, self.wait_idle())
                .await
                .is_err()
            {
                abandoned = inner.in_flight.load(Ordering::SeqCst);
                tracing::warn!(
                    abandoned,
                    "disconnect: calls held without being polled were left behind"
                );
            }
        }
        inner.current_mut().http = None;
        inner.state.store(DISCONNECTED, Ordering::SeqCst);
        tracing::info!(
            in_flight_at_start = at_start,
            cancelled,
            abandoned,
            "connector disconnected"
        );
        DisconnectReport {
            in_flight_at_start: at_start,
            cancelled,
            abandoned,
        }
    }

    /// Register a streamed body so `disconnect` can close it; drops entries of bodies already gone.
    pub(crate) fn track_stream(
        &self,
        body: futures_util::stream::BoxStream<
            'static,
            Result<Bytes, crate::transport::TransportError>,
        >,
        in_flight: InFlight,
    ) -> Arc<crate::pipeline::execute::OpenBody> {
        let open = Arc::new(std::sync::Mutex::new(Some((body, in_flight))));
        let mut streams = self.inner.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.retain(|w| w.strong_count() > 0);
        streams.push(Arc::downgrade(&open));
        open
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Calls in flight: started and not yet ended (a streamed call counts until its body ends or is
    /// dropped). `disconnect` waits for this to reach zero.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// True when connected and taking requests.
    pub fn is_connected(&self) -> bool {
        self.inner.state.load(Ordering::SeqCst) == CONNECTED
    }

    /// Count a request in, refusing it unless connected. (The transport it will use is read by each
    /// attempt, with the rest of [`Current`].)
    pub(crate) fn enter(&self) -> Result<Entered<'_>, Error> {
        let inner = &*self.inner;
        inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = Entered(&self.inner);
        match inner.state.load(Ordering::SeqCst) {
            CONNECTED => Ok(guard),
            DRAINING => Err(Error::new(
                ErrorCode::Cancelled,
                ErrorSource::Unknown,
                "the connector is disconnecting and takes no new requests",
            )),
            _ => Err(not_connected()),
        }
    }

    /// The current auth strategy.
    pub fn auth(&self) -> Option<Arc<dyn AuthStrategy>> {
        self.inner.current().auth.clone()
    }

    /// Switch auth at run time (None: send no credentials). Takes effect from the next attempt,
    /// together with the redaction of the new strategy's secrets.
    pub fn set_auth(&self, auth: Option<Arc<dyn AuthStrategy>>) {
        let redactor = redactor_for(&self.inner.config, auth.as_deref());
        let mut current = self.inner.current_mut();
        current.redactor = redactor;
        current.auth = auth;
    }

    /// The hook registry (register or remove hooks at run time).
    pub fn hooks(&self) -> &HookRegistry {
        &self.inner.hooks
    }

    /// The rate limiter (for `can_proceed`, `status`...).
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// The circuit breaker.
    pub fn circuit_breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// Forget every answer the response cache holds (a no-op when no cache is configured). Entries are
    /// keyed by credentials already; this is for freeing memory or starting afresh.
    pub fn clear_cache(&self) {
        if let Some(c) = &self.inner.cache {
            c.clear();
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ConnectorConfig {
        &self.inner.config
    }

    /// Send a request through the whole pipeline; the body is returned as bytes (see
    /// [`Response::json`]). Every other request method is built on this one.
    pub fn request(
        &self,
        options: RequestOptions,
    ) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + '_ {
        self.execute(options)
    }

    /// Send a request through the same pipeline as [`Connector::request`] (auth, breaker, rate limit,
    /// hooks, signing, retries), but hand the body of a successful (< 400) answer over unread, as a
    /// stream of chunks; decode it with [`StreamingResponse::sse`] or [`StreamingResponse::ndjson`].
    ///
    /// Error statuses are read in full and returned as the usual [`Error`]. The per-attempt timeout
    /// covers the wait for the response headers only; the caller's cancellation token (and a
    /// disconnect past its deadline) ends the body stream with CANCELLED. The rate-limit slot is
    /// released when the headers arrive; the call counts as in flight until the body ends or is
    /// dropped.
    pub fn request_stream(
        &self,
        options: RequestOptions,
    ) -> impl Future<Output = Result<StreamingResponse, Error>> + Send + '_ {
        self.execute_stream(options)
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Result<Response<Bytes>, Error> {
        self.request(RequestOptions::new(Method::GET, path)).await
    }

    /// POST `body` to `path`.
    pub async fn post(&self, path: &str, body: Body) -> Result<Response<Bytes>, Error> {
        self.request(RequestOptions::new(Method::POST, path).body(body))
            .await
    }

    /// PUT `body` to `path`.
    pub async fn put(&self, path: &str, body: Body) -> Result<Response<Bytes>, Error> {
        self.request(RequestOptions::new(Method::PUT, path).body(body))
            .await
    }

    /// PATCH `path` with `body`.
    pub async fn patch(&self, path: &str, body: Body) -> Result<Response<Bytes>, Error> {
        self.request(RequestOptions::new(Method::PATCH, path).body(body))
            .await
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<Response<Bytes>, Error> {
        self.request(RequestOptions::new(Method::DELETE, path))
            .await
    }
}
