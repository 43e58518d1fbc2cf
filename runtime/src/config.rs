//! Connector configuration: plain serde data with the specification's defaults, validated field by field.
//!
//! Everything here can live in a TOML or JSON file (`#[serde(default)]` everywhere, unknown fields rejected
//! so a typo is an error, not a silently ignored setting). Things that are code, not data (hooks, custom
//! signers, token providers) are added on [`crate::ConnectorBuilder`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::auth::AuthConfig;
use crate::error::Error;

/// The whole configuration of one connector.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Base URL every request path is joined to, e.g. `https://api.example.com/v1`. It stands for the
    /// description's root server; operations that declare servers of their own are sent there instead
    /// (a relative one resolved against this base), unless `servers` replaces them.
    pub base_url: String,
    /// Replacement base URLs for the servers operations declare for themselves: the key is the server
    /// URL as generated code names it (the description's URL with variables at their defaults), or `*`
    /// for every such server (point a whole client at a mock or proxy); the value is an absolute
    /// http(s) URL. Empty by default: each operation goes to its own server.
    pub servers: BTreeMap<String, String>,
    /// Per-attempt timeout in milliseconds, covering connect, send and reading the whole body (default 30000).
    /// It also bounds how long an attempt waits for a rate-limit token: a wait the buckets or the server
    /// (`Retry-After`, an exhausted quota until its reset) impose beyond it fails the call at once with
    /// RATE_LIMIT, whose `retry_after_ms` detail says how long the wait would have been; likewise a failed
    /// attempt whose `Retry-After` exceeds it is not retried (detail `retry_stopped`).
    pub timeout_ms: u64,
    /// `User-Agent` sent with every request. Default: `connector-runtime/<version>`; generated crates prefix
    /// their own name and version.
    pub user_agent: String,
    /// Outbound proxy.
    pub proxy: Option<ProxyConfig>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Connection pooling and keep-alive.
    pub pool: PoolConfig,
    /// Transparent decompression of response bodies (gzip, brotli, deflate; all on by default).
    pub compression: CompressionConfig,
    /// Conditional GETs answered from a local cache (`ETag` / `Last-Modified`). None (the default): off.
    pub cache: Option<CacheConfig>,
    /// Sharing one exchange among identical GET/HEAD calls in flight at once (on by default).
    pub dedup: DedupConfig,
    /// Headers added to every request (per-call headers of the same name win).
    pub default_headers: BTreeMap<String, String>,
    /// Query parameters added to every request, before the per-call ones.
    pub default_query: BTreeMap<String, String>,
    /// Credentials. Strategies that are code (token providers, custom signing) are set on the builder.
    pub auth: Option<AuthConfig>,
    /// Retry and backoff.
    pub retry: RetryConfig,
    /// Per-host circuit breaker.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Client-side rate limiting and concurrency.
    pub rate_limit: RateLimitConfig,
    /// Idempotency keys for unsafe methods.
    pub idempotency: IdempotencyConfig,
    /// Header carrying the correlation id sent with each request (default `x-request-id`).
    pub request_id_header: String,
    /// Redirects followed per request (default 10, at most 30; more is a NETWORK_ERROR that is not
    /// retried). 0: a 3xx answer is returned to the caller as it is (its `Location` in the headers),
    /// as operations that document a redirect as their answer (a download URL) may want. A redirect
    /// to another origin drops the credential headers (`Authorization`, `Cookie` and every name the
    /// redactor knows, the auth strategy's among them); no `Referer` is sent.
    pub max_redirects: u32,
    /// Extra names to redact from logs, errors and Debug output, on top of the built-in ones
    /// (`authorization`, `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`, `api-key`, and the
    /// names the configured auth uses). Matched case-insensitively against header names and query keys.
    pub redact: Vec<String>,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        ConnectorConfig {
            base_url: String::new(),
            servers: BTreeMap::new(),
            timeout_ms: 30_000,
            user_agent: default_user_agent(),
            proxy: None,
            tls: TlsConfig::default(),
            pool: PoolConfig::default(),
            compression: CompressionConfig::default(),
            cache: None,
            dedup: DedupConfig::default(),
            default_headers: BTreeMap::new(),
            default_query: BTreeMap::new(),
            auth: None,
            retry: RetryConfig::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            rate_limit: RateLimitConfig::default(),
            idempotency: IdempotencyConfig::default(),
            request_id_header: "x-request-id".to_owned(),
            max_redirects: 10,
            redact: Vec::new(),
        }
    }
}

/// Debug output shows default header and query values redacted where their names are sensitive
/// (built-in names and `redact`), like everything else the connector prints.
impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = crate::redact::Redactor::new(&self.redact);
        let shown = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            m.iter()
                .map(|(k, v)| {
                    let v = if r.is_sensitive(k) {
                        crate::redact::REDACTED.to_owned()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect()
        };
        f.debug_struct("ConnectorConfig")
            .field("base_url", &self.base_url)
            .field("servers", &self.servers)
            .field("timeout_ms", &self.timeout_ms)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy)
            .field("tls", &self.tls)
            .field("pool", &self.pool)
            .field("compression", &self.compression)
            .field("cache", &self.cache)
            .field("dedup", &self.dedup)
            .field("default_headers", &shown(&self.default_headers))
            .field("default_query", &shown(&self.default_query))
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("rate_limit", &self.rate_limit)
            .field("idempotency", &self.idempotency)
            .field("request_id_header", &self.request_id_header)
            .field("max_redirects", &self.max_redirects)
            .field("redact", &self.redact)
            .finish()
    }
}

/// `connector-runtime/<crate version>`.
pub fn default_user_agent() -> String {
    concat!("connector-runtime/", env!("CARGO_PKG_VERSION")).to_owned()
}

impl ConnectorConfig {
    /// A default configuration for `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        ConnectorConfig {
            base_url: base_url.into(),
            ..Default::default()
        }
    }

    /// Check every field; the error names the first offending one (e.g. `retry.max_attempts`).
    pub fn validate(&self) -> Result<(), Error> {
        let url = url::Url::parse(&self.base_url).map_err(|e| Error::validation("base_url", e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::validation(
                "base_url",
                format!("scheme must be http or https, not `{}`", url.scheme()),
            ));
        }
        if url.host_str().is_none() {
            return Err(Error::validation("base_url", "has no host"));
        }
        for (name, to) in &self.servers {
            let field = format!("servers.{name}");
            let u = url::Url::parse(to).map_err(|e| Error::validation(&field, e))?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                return Err(Error::validation(
                    &field,
                    "must be an http(s) URL with a host",
                ));
            }
        }
        if self.timeout_ms == 0 {
            return Err(Error::validation("timeout_ms", "must be greater than 0"));
        }
        if self.max_redirects > 30 {
            return Err(Error::validation("max_redirects", "must be at most 30"));
        }
        HeaderValue::from_str(&self.user_agent).map_err(|e| Error::validation("user_agent", e))?;
        if let Some(p) = &self.proxy {
            let u = url::Url::parse(&p.url).map_err(|e| Error::validation("proxy.url", e))?;
            if !matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") {
                return Err(Error::validation(
                    "proxy.url",
                    format!("unsupported proxy scheme `{}`", u.scheme()),
                ));
            }
        }
        if let Some(v) = &self.tls.min_version
            && !matches!(v.as_str(), "1.2" | "1.3")
        {
            return Err(Error::validation(
                "tls.min_version",
                format!("must be \"1.2\" or \"1.3\", not {v:?}"),
            ));
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(Error::validation(
                "tls.client_cert",
                "client_cert and client_key must be given together",
            ));
        }
        for (k, v) in &self.default_headers {
            let field = format!("default_headers.{k}");
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| Error::validation(&field, e))?;
            HeaderValue::from_str(v).map_err(|e| Error::validation(&field, e))?;
        }
        HeaderName::from_bytes(self.request_id_header.as_bytes())
            .map_err(|e| Error::validation("request_id_header", e))?;
        HeaderName::from_bytes(self.idempotency.header.as_bytes())
            .map_err(|e| Error::validation("idempotency.header", e))?;
        self.retry.validate("retry")?;
        let cb = &self.circuit_breaker;
        if cb.enabled && cb.failure_threshold == 0 {
            return Err(Error::validation(
                "circuit_breaker.failure_threshold",
                "must be at least 1",
            ));
        }
        self.rate_limit.validate()?;
        if let Some(cache) = &self.cache {
            cache.validate()?;
        }
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        Ok(())
    }
}

/// Proxy settings. Credentials may be given in the URL (`http://user:pass@host:port`) or separately.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// `http://host:port`, `https://...` or `socks5://...` (protocol, host and port).
    pub url: String,
    /// Proxy user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Proxy password (redacted in Debug output).
    #[serde(default)]
    pub password: Option<secrecy::SecretString>,
    /// Hosts that bypass the proxy, comma-separated, as in `NO_PROXY`.
    #[serde(default)]
    pub no_proxy: Option<String>,
}

/// Debug output redacts the password whether it is given separately or in the URL.
impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match url::Url::parse(&self.url) {
            Ok(u) => crate::redact::Redactor::default().url(&u),
            Err(_) if self.url.contains('@') => crate::redact::REDACTED.to_owned(),
            Err(_) => self.url.clone(),
        };
        f.debug_struct("ProxyConfig")
            .field("url", &url)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// TLS settings. rustls is the only TLS stack; certificates are verified by default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Verify server certificates (default true). Turning this off is for local testing only.
    pub verify: bool,
    /// Minimum TLS version: "1.2" (default) or "1.3".
    pub min_version: Option<String>,
    /// PEM bundle of extra root CAs to trust.
    pub ca_bundle: Option<PathBuf>,
    /// Trust only `ca_bundle`, not the platform's roots (default false: the bundle is added to them).
    pub ca_bundle_only: bool,
    /// PEM client certificate chain for mTLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            verify: true,
            min_version: None,
            ca_bundle: None,
            ca_bundle_only: false,
            client_cert: None,
            client_key: None,
        }
    }
}

/// Connection pooling and keep-alive.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Idle connections kept per host (default 32).
    pub max_idle_per_host: usize,
    /// How long an idle pooled connection is kept, in milliseconds (default 90000).
    pub idle_timeout_ms: u64,
    /// TCP keep-alive interval in milliseconds (default 60000; 0 turns it off).
    pub tcp_keepalive_ms: u64,
    /// Connect timeout in milliseconds (default 10000).
    pub connect_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_idle_per_host: 32,
            idle_timeout_ms: 90_000,
            tcp_keepalive_ms: 60_000,
            connect_timeout_ms: 10_000,
        }
    }
}

/// Which `Content-Encoding`s of responses are decoded transparently. Each one that is on is offered in
/// `Accept-Encoding` (unless the request sets that header itself) and its bodies, buffered or streamed,
/// reach the caller decoded, with `Content-Encoding` and `Content-Length` removed from the headers. A
/// body that does not decode is a PARSING_ERROR, never garbage data. Turn all three off to receive
/// bodies exactly as sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionConfig {
    /// Decode `gzip` (default true).
    pub gzip: bool,
    /// Decode `br` (default true).
    pub brotli: bool,
    /// Decode `deflate` (zlib) (default true).
    pub deflate: bool,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig {
            gzip: true,
            brotli: true,
            deflate: true,
        }
    }
}

impl CompressionConfig {
    /// No decompression: bodies arrive as the server encoded them, and no `Accept-Encoding` is sent.
    pub fn disabled() -> Self {
        CompressionConfig {
            gzip: false,
            brotli: false,
            deflate: false,
        }
    }
}

/// A bounded in-memory cache of GET responses that carry a validator (`ETag` or `Last-Modified`), used
/// for conditional requests: the next identical GET is sent with `If-None-Match` / `If-Modified-Since`,
/// and a `304 Not Modified` is answered with the stored body as a normal 200 (see
/// [`crate::ResponseMeta::revalidated`]). The cache never answers without asking the server; it saves
/// the body transfer and the server's work, not the round trip.
///
/// What is stored: a 200 answer to a buffered GET with a validator, unless it says
/// `Cache-Control: no-store` or `Vary: *`. `private` answers are stored: this cache belongs to one
/// connector (one client), and entries are keyed by the method, the full URL and every request header
/// the connector set before `beforeRequest` hooks (credentials included: `Authorization`, API-key
/// headers, cookies), so an answer is never reused for other credentials. Keys are SHA-256 digests;
/// no credential is kept in the cache. Requests that carry their own conditional or `Range` headers, or
/// `Cache-Control: no-store` / `no-cache`, bypass the cache.
///
/// Least recently used entries are evicted first once either bound is reached.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Entries kept at most (default 1000).
    pub max_entries: usize,
    /// Bytes kept at most, bodies and headers counted (default 32 MiB). A single answer larger than
    /// this is not stored.
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 1000,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

impl CacheConfig {
    fn validate(&self) -> Result<(), Error> {
        if self.max_entries == 0 {
            return Err(Error::validation("cache.max_entries", "must be at least 1"));
        }
        if self.max_bytes == 0 {
            return Err(Error::validation("cache.max_bytes", "must be at least 1"));
        }
        Ok(())
    }
}

/// De-duplication of identical requests in flight: while a GET or HEAD is in flight, an identical one
/// (same method, URL, query, headers other than the request id, same credentials, no body) does not
/// go to the server; it waits for the first one's result, success or error. Streamed calls
/// ([`crate::Connector::request_stream`]) are never shared. A call opts out with
/// [`crate::RequestOptions::dedup`].
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// On by default.
    pub enabled: bool,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig { enabled: true }
    }
}

/// Retry and backoff.
///
/// `max_attempts` counts every attempt including the first: the default 3 means one call and up to two
/// retries. The delay before retry `n` (0-based) is `min(initial_delay * multiplier^n, max_delay)`, then
/// jittered to `delay * (0.5 + random(0..0.5))`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, first included (default 3). 1 turns retrying off.
    pub max_attempts: u32,
    /// Delay before the first retry in milliseconds (default 1000).
    pub initial_delay_ms: u64,
    /// Upper bound of the computed delay in milliseconds (default 30000).
    pub max_delay_ms: u64,
    /// Exponential growth factor (default 2).
    pub backoff_multiplier: f64,
    /// Apply jitter (default true).
    pub jitter: bool,
    /// Statuses that are retried (default 408, 425, 429, 500, 502, 503, 504).
    pub retryable_status_codes: Vec<u16>,
    /// Error codes retried when no status is involved (default NETWORK_ERROR and TIMEOUT).
    pub retryable_errors: Vec<String>,
    /// Hard cap, in milliseconds, on the time one logical operation may spend (attempts and waits
    /// included) before it stops retrying. None: no cap beyond `max_attempts`.
    pub retry_budget_ms: Option<u64>,
    /// Honour `Retry-After` (seconds or HTTP date) instead of the computed delay (default true). A hint
    /// longer than `max_delay_ms` or than what is left of the budget ends retrying.
    pub respect_retry_after: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_delay_ms: 1000,
            max_delay_ms: 30_000,
            backoff_multiplier: 2.0,
            jitter: true,
            retryable_status_codes: vec![408, 425, 429, 500, 502, 503, 504],
            retryable_errors: vec!["NETWORK_ERROR".into(), "TIMEOUT".into()],
            retry_budget_ms: None,
            respect_retry_after: true,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> Self {
        RetryConfig {
            max_attempts: 1,
            ..Default::default()
        }
    }

    pub(crate) fn validate(&self, prefix: &str) -> Result<(), Error> {
        let f = |name: &str| format!("{prefix}.{name}");
        if self.max_attempts == 0 {
            return Err(Error::validation(&f("max_attempts"), "must be at least 1"));
        }
        if !(self.backoff_multiplier.is_finite() && self.backoff_multiplier >= 1.0) {
            return Err(Error::validation(
                &f("backoff_multiplier"),
                "must be a finite number >= 1",
            ));
        }
        if self.initial_delay_ms > self.max_delay_ms {
            return Err(Error::validation(
                &f("initial_delay_ms"),
                "must not exceed max_delay_ms",
            ));
        }
        for s in &self.retryable_status_codes {
            if !(100..=599).contains(s) {
                return Err(Error::validation(
                    &f("retryable_status_codes"),
                    format!("{s} is not an HTTP status"),
                ));
            }
        }
        for e in &self.retryable_errors {
            if crate::retry::parse_code(e).is_none() {
                return Err(Error::validation(
                    &f("retryable_errors"),
                    format!("unknown error code {e:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Per-host circuit breaker: after `failure_threshold` consecutive failures (transport errors, timeouts and
/// 5xx) the host's circuit opens and calls fail fast for `open_ms`; then one probe is let through
/// (half-open), and its outcome closes or re-opens the circuit.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// On by default.
    pub enabled: bool,
    /// Consecutive failures that open the circuit (default 5).
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe, in milliseconds (default 30000).
    pub open_ms: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            enabled: true,
            failure_threshold: 5,
            open_ms: 30_000,
        }
    }
}

/// Client-side rate limiting. Every limit that is set applies at once; concurrency is separate from rate.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Steady requests per second (token bucket refill rate). None: unlimited.
    pub requests_per_second: Option<f64>,
    /// Requests per rolling minute (bucket of this capacity refilled evenly). None: unlimited.
    pub requests_per_minute: Option<u32>,
    /// Requests per rolling hour. None: unlimited.
    pub requests_per_hour: Option<u32>,
    /// Size of the per-second bucket: how many requests may go at once after a quiet spell. Default:
    /// one second's worth (`requests_per_second`, at least 1).
    pub burst_capacity: Option<u32>,
    /// Requests in flight at once (default 10).
    pub concurrent_requests: usize,
    /// Callers that may wait for a slot at once; one more fails at once with RATE_LIMIT (default 1000).
    pub max_queue: usize,
    /// Follow `X-RateLimit-*`, `RateLimit-*` and `Retry-After` response headers (default true).
    pub adaptive_from_headers: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_second: None,
            requests_per_minute: None,
            requests_per_hour: None,
            burst_capacity: None,
            concurrent_requests: 10,
            max_queue: 1000,
            adaptive_from_headers: true,
        }
    }
}

impl RateLimitConfig {
    fn validate(&self) -> Result<(), Error> {
        if let Some(r) = self.requests_per_second
            && !(r.is_finite() && r > 0.0)
        {
            return Err(Error::validation(
                "rate_limit.requests_per_second",
                "must be a positive number",
            ));
        }
        if self.requests_per_minute == Some(0) {
            return Err(Error::validation(
                "rate_limit.requests_per_minute",
                "must be at least 1",
            ));
        }
        if self.requests_per_hour == Some(0) {
            return Err(Error::validation(
                "rate_limit.requests_per_hour",
                "must be at least 1",
            ));
        }
        if self.burst_capacity == Some(0) {
            return Err(Error::validation(
                "rate_limit.burst_capacity",
                "must be at least 1",
            ));
        }
        if self.concurrent_requests == 0 {
            return Err(Error::validation(
                "rate_limit.concurrent_requests",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Idempotency keys for unsafe methods (POST, PATCH).
///
/// A retryable failure of an unsafe request is replayed only when the request carries a key; the key is
/// fixed before the first attempt and sent unchanged on every attempt.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// Send keys given per call and allow keyed retries (default true). Off: unsafe methods never retry.
    pub enabled: bool,
    /// Header that carries the key (default `Idempotency-Key`).
    pub header: String,
    /// Generate a random key for every unsafe request that has none, for APIs known to honour the header
    /// (default false: without a key, a failed POST is surfaced, never replayed).
    pub auto_generate: bool,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            enabled: true,
            header: "Idempotency-Key".to_owned(),
            auto_generate: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_specification() {
        let c = ConnectorConfig::new("https://api.example.com");
        assert_eq!(c.timeout_ms, 30_000);
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.initial_delay_ms, 1000);
        assert_eq!(c.retry.max_delay_ms, 30_000);
        assert_eq!(c.retry.backoff_multiplier, 2.0);
        assert_eq!(
            c.retry.retryable_status_codes,
            vec![408, 425, 429, 500, 502, 503, 504]
        );
        assert!(c.retry.respect_retry_after);
        assert!(c.idempotency.enabled);
        assert_eq!(c.rate_limit.concurrent_requests, 10);
        assert!(c.rate_limit.adaptive_from_headers);
        assert!(c.tls.verify);
        assert!(c.compression.gzip && c.compression.brotli && c.compression.deflate);
        assert!(c.cache.is_none(), "caching is opt-in");
        assert!(c.dedup.enabled);
        assert!(c.user_agent.starts_with("connector-runtime/0."));
        c.validate().unwrap();
    }

    #[test]
    fn debug_redacts_sensitive_default_headers_and_query() {
        let mut c = ConnectorConfig::new("https://api.example.com");
        c.redact = vec!["X-Tenant-Secret".into()];
        c.default_headers
            .insert("authorization".into(), "Bearer s3cr3t-a".into());
        c.default_headers
            .insert("x-tenant-secret".into(), "s3cr3t-b".into());
        c.default_headers
            .insert("accept".into(), "application/json".into());
        c.default_query.insert("api_key".into(), "s3cr3t-c".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("application/json"));
    }

    #[test]
    fn invalid_fields_are_named() {
        type Mutate = Box<dyn Fn(&mut ConnectorConfig)>;
        let cases: Vec<(&str, Mutate)> = vec![
            ("base_url", Box::new(|c| c.base_url = "not a url".into())),
            ("base_url", Box::new(|c| c.base_url = "ftp://x".into())),
            (
                "servers.*",
                Box::new(|c| {
                    c.servers.insert("*".into(), "ftp://mock".into());
                }),
            ),
            ("timeout_ms", Box::new(|c| c.timeout_ms = 0)),
            ("retry.max_attempts", Box::new(|c| c.retry.max_attempts = 0)),
            (
                "retry.backoff_multiplier",
                Box::new(|c| c.retry.backoff_multiplier = 0.5),
            ),
            (
                "retry.initial_delay_ms",
                Box::new(|c| c.retry.initial_delay_ms = 60_000),
            ),
            (
                "retry.retryable_errors",
                Box::new(|c| c.retry.retryable_errors = vec!["NOPE".into()]),
            ),
            (
                "rate_limit.concurrent_requests",
                Box::new(|c| c.rate_limit.concurrent_requests = 0),
            ),
            (
                "rate_limit.requests_per_second",
                Box::new(|c| c.rate_limit.requests_per_second = Some(-1.0)),
            ),
            (
                "default_headers.bad header",
                Box::new(|c| {
                    c.default_headers.insert("bad header".into(), "v".into());
                }),
            ),
            (
                "tls.min_version",
                Box::new(|c| c.tls.min_version = Some("1.0".into())),
            ),
            (
                "tls.client_cert",
                Box::new(|c| c.tls.client_cert = Some("a.pem".into())),
            ),
            (
                "cache.max_entries",
                Box::new(|c| {
                    c.cache = Some(CacheConfig {
                        max_entries: 0,
                        ..Default::default()
                    })
                }),
            ),
            (
                "cache.max_bytes",
                Box::new(|c| {
                    c.cache = Some(CacheConfig {
                        max_bytes: 0,
                        ..Default::default()
                    })
                }),
            ),
            (
                "proxy.url",
                Box::new(|c| {
                    c.proxy = Some(ProxyConfig {
                        url: "gopher://x".into(),
                        username: None,
                        password: None,
                        no_proxy: None,
                    })
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut c = ConnectorConfig::new("https://api.example.com");
            mutate(&mut c);
            let err = c.validate().expect_err(field);
            assert_eq!(err.code(), crate::ErrorCode::ValidationError);
            assert_eq!(err.details()["field"], field, "{err}");
            assert!(err.message().contains(field), "{err}");
        }
    }
}
