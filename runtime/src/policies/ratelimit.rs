//! Client-side rate limiting: token buckets per second, minute and hour, a concurrency cap, a bounded wait
//! queue, and adaptive limits learned from the server's rate-limit headers.
//!
//! Hand-written rather than `governor`: governor's quotas are fixed at construction and cannot follow the
//! server's `X-RateLimit-*` / `RateLimit-*` / `Retry-After` answers, which is the point of adaptivity.
//!
//! Architecture Invariant: a caller waits in at most one place at a time, and memory is bounded by
//! `max_queue`: a caller that would be waiter number `max_queue + 1` gets RATE_LIMIT at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderName};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::RateLimitConfig;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::retry::parse_retry_after;

/// What the limiter knows of the current window (the specification's rate limit status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimitStatus {
    /// Requests allowed in the window: the server's figure when it sent one, else the tightest local limit.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset: Option<SystemTime>,
    /// How long the server asked us to wait, if it did.
    pub retry_after: Option<Duration>,
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_sec: f64,
}

impl Bucket {
    fn new(capacity: f64, per_sec: f64) -> Self {
        Bucket {
            capacity,
            tokens: capacity,
            per_sec,
        }
    }
    fn refill(&mut self, secs: f64) {
        self.tokens = (self.tokens + secs * self.per_sec).min(self.capacity);
    }
    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64((1.0 - self.tokens) / self.per_sec)
                .unwrap_or(crate::bounded::MAX_SERVER_WAIT)
        }
    }
}

#[derive(Debug, Default)]
struct Server {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<(Instant, SystemTime)>,
    retry_after: Option<Duration>,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
struct State {
    buckets: Vec<Bucket>,
    last: Instant,
    server: Server,
}

impl State {
    /// Time until one request may go (zero: now). Refills first.
    fn wait(&mut self, now: Instant, adaptive: bool) -> Duration {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        for b in &mut self.buckets {
            b.refill(secs);
        }
        let mut wait = self
            .buckets
            .iter()
            .map(Bucket::wait)
            .max()
            .unwrap_or(Duration::ZERO);
        if adaptive {
            let s = &mut self.server;
            if let Some(until) = s.blocked_until {
                if until > now {
                    wait = wait.max(until - now);
                } else {
                    s.blocked_until = None;
                    s.retry_after = None;
                }
            }
            if let (Some(0), Some((reset, _))) = (s.remaining, s.reset_at) {
                if reset > now {
                    wait = wait.max(reset - now);
                } else {
                    // The server's window has rolled over; trust it again until it says otherwise.
                    s.remaining = None;
                    s.reset_at = None;
                }
            }
        }
        wait
    }

    fn take(&mut self) {
        for b in &mut self.buckets {
            b.tokens -= 1.0;
        }
        if let Some(r) = &mut self.server.remaining {
            *r = r.saturating_sub(1);
        }
    }
}

/// Token buckets plus a concurrency semaphore; shared by all requests of one connector.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    state: Mutex<State>,
    concurrency: Semaphore,
    /// FIFO line for rate tokens: the head waits for the bucket, the rest wait behind it.
    line: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    /// No token bucket is configured: only the server can ask for a pause.
    unbounded: bool,
    /// The server has said something about its limits (set once, never cleared).
    heard: AtomicBool,
}

/// A held slot: one of `concurrent_requests`. Dropping it frees the slot. It borrows the limiter
/// (every call's slot would otherwise write the limiter's reference count twice).
#[derive(Debug)]
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

struct WaitingGuard<'a>(&'a AtomicUsize);
impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RateLimiter {
    /// From a validated configuration.
    pub fn new(config: RateLimitConfig) -> Self {
        let mut buckets = Vec::new();
        if let Some(rps) = config.requests_per_second {
            let cap = config
                .burst_capacity
                .map(f64::from)
                .unwrap_or(rps.max(1.0).floor());
            buckets.push(Bucket::new(cap, rps));
        }
        if let Some(rpm) = config.requests_per_minute {
            buckets.push(Bucket::new(f64::from(rpm), f64::from(rpm) / 60.0));
        }
        if let Some(rph) = config.requests_per_hour {
            buckets.push(Bucket::new(f64::from(rph), f64::from(rph) / 3600.0));
        }
        let unbounded = buckets.is_empty();
        RateLimiter {
            concurrency: Semaphore::new(config.concurrent_requests),
            config,
            state: Mutex::new(State {
                buckets,
                last: Instant::now(),
                server: Server::default(),
            }),
            line: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            unbounded,
            heard: AtomicBool::new(false),
        }
    }

    /// No bucket, and nothing heard from the server: no pause can be asked and the status is empty,
    /// so neither needs the clock or the state's lock. A call that reads this just before another
    /// call's answer is heard is ordered before that answer.
    fn quiet(&self) -> bool {
        self.unbounded && !self.heard.load(Ordering::SeqCst)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when a request could start right now without waiting.
    pub fn can_proceed(&self) -> bool {
        self.concurrency.available_permits() > 0
            && self.waiting.load(Ordering::SeqCst) == 0
            && self
                .state()
                .wait(Instant::now(), self.config.adaptive_from_headers)
                .is_zero()
    }

    /// Requests currently in flight (holding a slot).
    pub fn in_flight(&self) -> usize {
        self.config.concurrent_requests - self.concurrency.available_permits()
    }

    /// Wait for a concurrency slot and a rate token, in arrival order. Fails at once with RATE_LIMIT when
    /// `max_queue` callers are already waiting. Cancel-safe: dropping the future leaves the line cleanly.
    pub async fn wait_for_slot(&self) -> Result<Slot<'_>, Error> {
        self.wait_for_slot_within(None).await
    }

    /// A slot now, or `None` when taking one would mean waiting: someone is already waiting, every
    /// concurrency permit is taken, or a bucket or the server asks for a pause. Synchronous, and
    /// without the queue's lock: the pipeline tries it first and waits with
    /// [`wait_for_slot_within`](Self::wait_for_slot_within) only when it returns `None`.
    pub fn try_slot(&self) -> Option<Slot<'_>> {
        if self.waiting.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let permit = self.concurrency.try_acquire().ok()?;
        if self.quiet() {
            return Some(Slot { _permit: permit });
        }
        let mut st = self.state();
        if !st
            .wait(Instant::now(), self.config.adaptive_from_headers)
            .is_zero()
        {
            return None;
        }
        st.take();
        Some(Slot { _permit: permit })
    }

    /// [`wait_for_slot`](Self::wait_for_slot), but never waiting for a token longer than `limit`: when
    /// the wait the buckets or the server (`Retry-After`, an exhausted `X-RateLimit-Remaining` with its
    /// reset) impose is longer, it fails at once with RATE_LIMIT, retryable, whose detail
    /// `retry_after_ms` says how long that wait is. The pipeline passes each call's timeout.
    pub async fn wait_for_slot_within(&self, limit: Option<Duration>) -> Result<Slot<'_>, Error> {
        let entered = Instant::now();
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _guard = WaitingGuard(&self.waiting);
        // The bound is on callers that would wait: with no one ahead and a slot and a token free, this
        // one goes at once (this matters only for `max_queue = 0`).
        let goes_at_once = || {
            before == 0
                && self.concurrency.available_permits() > 0
                && self
                    .state()
                    .wait(Instant::now(), self.config.adaptive_from_headers)
                    .is_zero()
        };
        if before >= self.config.max_queue && !goes_at_once() {
            return Err(Error::new(
                ErrorCode::RateLimit,
                ErrorSource::RateLimit,
                format!(
                    "rate limiter queue is full ({} callers waiting); try again later",
                    self.config.max_queue
                ),
            )
            .with_retryable(true));
        }
        let permit = self.concurrency.acquire().await.map_err(|_| closed())?;
        let _line = self.line.lock().await;
        loop {
            let wait = {
                let mut st = self.state();
                let w = st.wait(Instant::now(), self.config.adaptive_from_headers);
                if w.is_zero() {
                    st.take();
                }
                w
            };
            if wait.is_zero() {
                break;
            }
            let left = limit.map(|l| l.saturating_sub(entered.elapsed()));
            if let Some(left) = left.filter(|left| wait > *left) {
                let server = {
                    let st = self.state();
                    st.server.retry_after.is_some() || st.server.remaining == Some(0)
                };
                return Err(Error::new(
                    ErrorCode::RateLimit,
                    ErrorSource::RateLimit,
                    format!(
                        "{} asks to wait {} ms before the next request, longer than the {} ms left of the call's timeout",
                        if server { "the server" } else { "the client's rate limit" },
                        wait.as_millis(),
                        left.as_millis()
                    ),
                )
                .with_retryable(true)
                .with_detail("retry_after_ms", u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)));
            }
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "rate limiter: waiting for a token"
            );
            tokio::time::sleep(wait).await;
        }
        Ok(Slot { _permit: permit })
    }

    /// Learn from a response's headers: `X-RateLimit-Limit/Remaining/Reset`, the IETF `RateLimit-*`
    /// fields (and the combined `RateLimit` field), and `Retry-After` on 429 and 503 answers.
    /// A reset above 10^9 is read as a Unix timestamp, else as seconds from now.
    pub fn update_from_response(&self, status: u16, headers: &HeaderMap) -> RateLimitStatus {
        if self.config.adaptive_from_headers {
            let parsed = parse_headers(headers);
            let retry_after = if matches!(status, 429 | 503) {
                parse_retry_after(headers, SystemTime::now())
            } else {
                None
            };
            // Most answers say nothing about limits: nothing to learn, no clock and no lock.
            let said = parsed.limit.is_some()
                || parsed.remaining.is_some()
                || parsed.reset.is_some()
                || retry_after.is_some();
            if !said {
                return self.status();
            }
            let now_i = Instant::now();
            let now_s = SystemTime::now();
            let mut st = self.state();
            self.heard.store(true, Ordering::SeqCst);
            let s = &mut st.server;
            if let Some(l) = parsed.limit {
                s.limit = Some(l);
            }
            if let Some(r) = parsed.remaining {
                s.remaining = Some(r);
            }
            if let Some(reset) = parsed.reset {
                // Read as a Unix timestamp above 10^9, else as seconds from now; either way at most
                // `MAX_SERVER_WAIT` ahead.
                let ceiling = crate::bounded::MAX_SERVER_WAIT;
                let delta = if reset > 1_000_000_000 {
                    crate::bounded::unix_time(reset)
                        .map(|at| at.duration_since(now_s).unwrap_or(Duration::ZERO))
                        .unwrap_or(ceiling)
                } else {
                    Duration::from_secs(reset)
                };
                let delta = crate::bounded::clamp(delta, ceiling, "rate-limit reset");
                s.reset_at = Some((
                    crate::bounded::after(now_i, delta),
                    crate::bounded::system_after(now_s, delta),
                ));
            }
            if let Some(ra) = retry_after {
                s.retry_after = Some(ra);
                s.blocked_until = Some(crate::bounded::after(now_i, ra));
            }
        }
        self.status()
    }

    /// The current status (the specification's `getStatus()`).
    pub fn status(&self) -> RateLimitStatus {
        if self.quiet() {
            return RateLimitStatus::default();
        }
        let mut st = self.state();
        st.wait(Instant::now(), self.config.adaptive_from_headers);
        let s = &st.server;
        if s.limit.is_some() || s.remaining.is_some() || s.retry_after.is_some() {
            return RateLimitStatus {
                limit: s.limit,
                remaining: s.remaining,
                reset: s.reset_at.map(|(_, at)| at),
                retry_after: s.retry_after,
            };
        }
        // No word from the server: report the tightest local bucket.
        let tight = st
            .buckets
            .iter()
            .min_by(|a, b| a.tokens.total_cmp(&b.tokens));
        match tight {
            Some(b) => RateLimitStatus {
                limit: Some(b.capacity as u64),
                remaining: Some(b.tokens.max(0.0).floor() as u64),
                reset: Some(crate::bounded::system_after(
                    SystemTime::now(),
                    Duration::try_from_secs_f64((b.capacity - b.tokens).max(0.0) / b.per_sec)
                        .unwrap_or(crate::bounded::MAX_SERVER_WAIT),
                )),
                retry_after: None,
            },
            None => RateLimitStatus::default(),
        }
    }
}

fn closed() -> Error {
    Error::new(
        ErrorCode::Cancelled,
        ErrorSource::RateLimit,
        "rate limiter closed",
    )
}

#[derive(Debug, Default, PartialEq)]
struct Parsed {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset: Option<u64>,
}

static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?;
    // `X-RateLimit-Limit: 100, 100;w=60` and similar policy suffixes: the first number counts.
    crate::bounded::parse_count(v.split([',', ';']).next()?)
}

fn parse_headers(h: &HeaderMap) -> Parsed {
    // Every name read here contains `ratelimit`: most answers carry none, found in one pass.
    // (A byte scan per name: header names are short, and a substring search sets up more than it
    // scans.)
    if !h
        .keys()
        .any(|k| k.as_str().as_bytes().windows(9).any(|w| w == b"ratelimit"))
    {
        return Parsed::default();
    }
    let mut p = Parsed {
        limit: header_u64(h, &X_RATELIMIT_LIMIT).or_else(|| header_u64(h, &RATELIMIT_LIMIT)),
        remaining: header_u64(h, &X_RATELIMIT_REMAINING)
            .or_else(|| header_u64(h, &RATELIMIT_REMAINING)),
        reset: header_u64(h, &X_RATELIMIT_RESET).or_else(|| header_u64(h, &RATELIMIT_RESET)),
    };
    // Combined field: `RateLimit: limit=100, remaining=50, reset=30` or `"default";r=50;t=30`.
    if let Some(v) = h.get(&RATELIMIT).and_then(|v| v.to_str().ok()) {
        for part in v.split([',', ';']) {
            let Some((k, val)) = part.trim().split_once('=') else {
                continue;
            };
            let Some(n) = crate::bounded::parse_count(val.trim().trim_matches('"')) else {
                continue;
            };
            match k.trim() {
                "limit" | "l" => p.limit = p.limit.or(Some(n)),
                "remaining" | "r" => p.remaining = p.remaining.or(Some(n)),
                "reset" | "t" => p.reset = p.reset.or(Some(n)),
                _ => {}
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn limiter(config: RateLimitConfig) -> RateLimiter {
        RateLimiter::new(config)
    }

    #[tokio::test]
    async fn a_slot_is_taken_at_once_only_when_nothing_would_wait() {
        // Two permits, a bucket of three tokens refilled once a minute.
        let rl = limiter(RateLimitConfig {
            concurrent_requests: 2,
            requests_per_minute: Some(3),
            ..RateLimitConfig::default()
        });
        let a = rl.try_slot().expect("a free permit and a token");
        let b = rl.try_slot().expect("the second permit");
        assert!(rl.try_slot().is_none(), "both permits are taken");
        drop(a);
        let c = rl.try_slot().expect("a permit came back, a token is left");
        drop((b, c));
        // Three tokens went: the bucket now asks for a wait, so no slot at once.
        assert!(rl.try_slot().is_none(), "the bucket is empty");
        assert_eq!(rl.in_flight(), 0, "a refused slot keeps no permit");

        // Someone waiting in line: a newcomer does not pass them.
        let rl = limiter(RateLimitConfig {
            concurrent_requests: 1,
            ..RateLimitConfig::default()
        });
        let held = rl.try_slot().expect("free");
        let mut waiting = Box::pin(rl.wait_for_slot());
        assert!(futures_util::poll!(&mut waiting).is_pending());
        drop(held);
        assert!(
            rl.try_slot().is_none(),
            "one caller is waiting for the slot"
        );
        let got = waiting.await.expect("the waiter gets the slot");
        drop(got);
        assert!(rl.try_slot().is_some(), "nobody waits any more");
    }

    #[test]
    fn a_quiet_limiter_reports_nothing_until_the_server_speaks() {
        let rl = limiter(RateLimitConfig::default());
        assert!(rl.quiet(), "no bucket, nothing heard");
        assert_eq!(rl.status(), RateLimitStatus::default());
        // An answer with no rate-limit fields changes nothing.
        rl.update_from_response(200, &HeaderMap::new());
        assert!(rl.quiet());
        // The server's figures, once heard, are reported; a slot still goes at once while some
        // remain.
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("7"));
        let st = rl.update_from_response(200, &h);
        assert!(!rl.quiet());
        assert_eq!((st.limit, st.remaining), (Some(100), Some(7)));
        assert!(rl.try_slot().is_some());
        assert_eq!(rl.status().remaining, Some(6), "the slot took one");
        // A bucket is never quiet: its figures are the status.
        let rl = limiter(RateLimitConfig {
            requests_per_minute: Some(30),
            ..RateLimitConfig::default()
        });
        assert!(!rl.quiet());
        assert_eq!(rl.status().limit, Some(30));
    }

    #[test]
    fn a_server_pause_refuses_a_slot_at_once() {
        let rl = limiter(RateLimitConfig::default());
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        rl.update_from_response(429, &h);
        assert!(rl.try_slot().is_none(), "the server asked for 30 s");
        assert_eq!(rl.in_flight(), 0);
    }

    #[test]
    fn parses_every_header_family() {
        assert_eq!(
            parse_headers(&headers(&[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", "1700000000"),
            ])),
            Parsed {
                limit: Some(5000),
                remaining: Some(4999),
                reset: Some(1_700_000_000)
            }
        );
        assert_eq!(
            parse_headers(&headers(&[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "7"),
                ("ratelimit-reset", "30"),
            ])),
            Parsed {
                limit: Some(100),
                remaining: Some(7),
                reset: Some(30)
            }
        );
        assert_eq!(
            parse_headers(&headers(&[("ratelimit", "limit=10, remaining=2, reset=5")])),
            Parsed {
                limit: Some(10),
                remaining: Some(2),
                reset: Some(5)
            }
        );
        assert_eq!(
            parse_headers(&headers(&[("ratelimit", "\"default\";r=3;t=9")])),
            Parsed {
                limit: None,
                remaining: Some(3),
                reset: Some(9)
            }
        );
        assert_eq!(
            parse_headers(&headers(&[("x-ratelimit-remaining", "lots")])),
            Parsed::default()
        );
    }

    #[test]
    fn status_reports_server_then_local_figures() {
        let rl = RateLimiter::new(RateLimitConfig {
            requests_per_minute: Some(60),
            ..Default::default()
        });
        let s = rl.status();
        assert_eq!((s.limit, s.remaining), (Some(60), Some(60)));
        let s = rl.update_from_response(
            200,
            &headers(&[
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "2"),
            ]),
        );
        assert_eq!((s.limit, s.remaining), (Some(100), Some(0)));
        assert!(s.reset.unwrap() > SystemTime::now());
        assert!(!rl.can_proceed(), "server says none left until reset");
        let s = rl.update_from_response(429, &headers(&[("retry-after", "3")]));
        assert_eq!(s.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn retry_after_on_success_is_ignored() {
        let rl = RateLimiter::new(RateLimitConfig::default());
        rl.update_from_response(301, &headers(&[("retry-after", "3")]));
        assert!(rl.can_proceed());
    }

    mod props {
        use super::super::*;
        use crate::bounded::MAX_SERVER_WAIT;
        use futures_util::FutureExt;
        use http::HeaderValue;
        use proptest::prelude::*;

        const NAMES: [&str; 8] = [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "ratelimit",
            "retry-after",
        ];

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|f| f.to_string()),
                "[0-9]{15,40}",
                "(limit|remaining|reset|r|t|l)=[0-9e.+-]{1,30}(, ?(r|t)=[0-9]{1,25})?",
                "[ -~]{0,30}",
            ]
        }

        proptest! {
            #[test]
            fn any_rate_limit_headers_leave_a_bounded_state(
                status in prop_oneof![Just(200u16), Just(429), Just(503)],
                values in proptest::collection::vec((0usize..NAMES.len(), value()), 0..8),
            ) {
                let mut h = HeaderMap::new();
                for (i, v) in &values {
                    if let Ok(v) = HeaderValue::from_str(v) {
                        h.append(NAMES[*i], v);
                    }
                }
                let rl = RateLimiter::new(RateLimitConfig::default());
                let before = SystemTime::now();
                let st = rl.update_from_response(status, &h);
                if let Some(reset) = st.reset {
                    prop_assert!(reset <= before + MAX_SERVER_WAIT + Duration::from_secs(60));
                }
                if let Some(ra) = st.retry_after {
                    prop_assert!(ra <= MAX_SERVER_WAIT);
                }
                // A caller with no time to wait is answered at once: a slot or RATE_LIMIT.
                let got = rl.wait_for_slot_within(Some(Duration::ZERO)).now_or_never();
                match got {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        prop_assert_eq!(e.code(), ErrorCode::RateLimit);
                        let asked = e.retry_after().expect("the wait is in the error");
                        prop_assert!(asked <= MAX_SERVER_WAIT);
                    }
                    None => prop_assert!(false, "waited although no wait was allowed"),
                }
            }
        }
    }
}
