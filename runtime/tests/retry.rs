//! Retry, backoff, Retry-After, budget, circuit breaker and idempotency, observed from a real server.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connector_runtime::breaker::CircuitState;
use connector_runtime::config::CircuitBreakerConfig;
use connector_runtime::{Body, ConnectorConfig, ErrorCode, Method, RequestOptions, RetryConfig};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use support::{CountingServer, Gate, LATE, Logs, connected, fast_retry, gaps, reply, within};

fn config(url: &str, retry: RetryConfig) -> ConnectorConfig {
    ConnectorConfig {
        retry,
        ..ConnectorConfig::new(url)
    }
}

/// Answers `failures` times with `status`, then 200.
async fn flaky(status: u16, failures: usize) -> CountingServer {
    CountingServer::start(move |_, i| async move {
        if i < failures {
            reply(status, "{\"error\":\"busy\"}")
        } else {
            reply(200, "{\"ok\":true}")
        }
    })
    .await
}

#[tokio::test]
async fn retries_each_retryable_status_then_succeeds() {
    for status in [408u16, 425, 429, 500, 502, 503, 504] {
        let server = flaky(status, 2).await;
        let c = connected(config(&server.url(), fast_retry(3))).await;
        let r = c
            .get("/x")
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.meta.retry_count, 2, "{status}");
        assert_eq!(server.requests().len(), 3, "{status}");
    }
}

#[tokio::test]
async fn non_retryable_status_is_not_retried() {
    for status in [400u16, 401, 403, 404, 409, 422, 501] {
        let server = flaky(status, 5).await;
        let c = connected(config(&server.url(), fast_retry(3))).await;
        let e = c.get("/x").await.unwrap_err();
        assert_eq!(e.status().unwrap(), status);
        assert_eq!(server.requests().len(), 1, "{status} must not be retried");
    }
}

/// The backoff delays the pipeline chose, in order, from its "retrying after" log lines.
fn logged_delays(logs: &Logs) -> Vec<Duration> {
    logs.text()
        .lines()
        .filter(|l| l.contains("retrying after"))
        .map(|l| {
            let ms = l
                .split_once("delay_ms=")
                .and_then(|(_, rest)| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no delay_ms in {l}"));
            Duration::from_millis(ms)
        })
        .collect()
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_delays_in_jitter_bounds() {
    let (logs, _guard) = Logs::capture();
    let server = flaky(503, 100).await;
    let retry = RetryConfig {
        max_attempts: 4,
        initial_delay_ms: 100,
        max_delay_ms: 250,
        ..RetryConfig::default()
    };
    let c = connected(config(&server.url(), retry)).await;
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerError);
    assert_eq!(e.attempt(), 4);
    assert_eq!(e.details()["retry_stopped"], "max attempts reached");
    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    // Base delays 100, 200, 250 (capped); jitter puts each chosen delay in [base/2, base] ...
    let delays = logged_delays(&logs);
    assert_eq!(delays.len(), 3, "{delays:?}");
    for (delay, base) in delays.iter().zip([100u64, 200, 250]) {
        let (lo, hi) = (Duration::from_millis(base / 2), Duration::from_millis(base));
        assert!(
            *delay >= lo && *delay <= hi,
            "delay {delay:?} outside [{lo:?}, {hi:?}]"
        );
    }
    // ... and each is really waited between the attempts the server sees (later is only the machine).
    for (gap, delay) in gaps(&seen).into_iter().zip(delays) {
        assert!(
            gap >= delay && gap < delay + LATE,
            "waited {gap:?} for a delay of {delay:?}"
        );
    }
}

#[tokio::test]
async fn transport_errors_are_retried_and_reported_as_network_error() {
    // A port with nothing listening: connection refused on every attempt.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = connected(config(&format!("http://127.0.0.1:{port}"), fast_retry(3))).await;
    let started = Instant::now();
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError);
    assert!(e.is_retryable());
    assert!(!e.request_sent());
    assert_eq!(e.attempt(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(25 + 50),
        "two backoffs happened"
    );
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            let mut r = reply(429, "{}");
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            r
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let retry = RetryConfig {
        max_delay_ms: 5000,
        ..fast_retry(3)
    };
    let c = connected(config(&server.url(), retry)).await;
    c.get("/x").await.unwrap();
    let g = gaps(&server.requests());
    assert!(
        g[0] >= Duration::from_millis(990),
        "waited {:?}, server asked 1 s",
        g[0]
    );
    assert!(g[0] < Duration::from_secs(1) + LATE, "waited {:?}", g[0]);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            // HTTP dates have one-second resolution: ask for 2 s so at least 1 s remains.
            let at = std::time::SystemTime::now() + Duration::from_secs(2);
            let mut r = reply(503, "{}");
            r.headers_mut()
                .insert("retry-after", httpdate::fmt_http_date(at).parse().unwrap());
            r
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let retry = RetryConfig {
        max_delay_ms: 5000,
        ..fast_retry(3)
    };
    let c = connected(config(&server.url(), retry)).await;
    c.get("/x").await.unwrap();
    let g = gaps(&server.requests());
    assert!(g[0] >= Duration::from_millis(1000), "waited {:?}", g[0]);
    assert!(g[0] < Duration::from_secs(2) + LATE, "waited {:?}", g[0]);
}

#[tokio::test]
async fn retry_after_beyond_max_delay_is_surfaced_not_slept() {
    let server = CountingServer::start(|_, _| async move {
        let mut r = reply(429, "{}");
        r.headers_mut()
            .insert("retry-after", "120".parse().unwrap());
        r
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    let started = Instant::now();
    let e = c.get("/x").await.unwrap_err();
    assert!(
        started.elapsed() < LATE,
        "the 120 s are not slept: {:?}",
        started.elapsed()
    );
    assert_eq!(e.code(), ErrorCode::RateLimit);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        e.details()["retry_stopped"],
        "Retry-After exceeds max_delay_ms"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn budget_stops_retries_before_max_attempts() {
    let server = flaky(500, 100).await;
    let retry = RetryConfig {
        max_attempts: 10,
        initial_delay_ms: 100,
        max_delay_ms: 20_000,
        backoff_multiplier: 10.0,
        jitter: false,
        retry_budget_ms: Some(3000),
        ..RetryConfig::default()
    };
    let c = connected(config(&server.url(), retry)).await;
    let started = Instant::now();
    let e = c.get("/x").await.unwrap_err();
    // Waits 100 ms then 1 s (with nearly 2 s of the budget to spare for the attempts themselves); the
    // next wait (10 s) would pass the 3 s budget, so it is not started.
    assert_eq!(server.requests().len(), 3);
    assert_eq!(e.details()["retry_stopped"], "retry budget exhausted");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1100) && took < Duration::from_millis(1100) + LATE,
        "{took:?}"
    );
}

#[tokio::test]
async fn per_call_retry_override_wins() {
    let server = flaky(503, 100).await;
    let c = connected(config(&server.url(), fast_retry(5))).await;
    let e = c
        .request(RequestOptions::new(Method::GET, "/x").retry(RetryConfig::disabled()))
        .await
        .unwrap_err();
    assert_eq!(e.attempt(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn post_without_idempotency_key_is_not_replayed() {
    let (logs, _g) = support::Logs::capture();
    let server = flaky(503, 1).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    let e = c
        .post(
            "/charges",
            Body::json(&serde_json::json!({"amount": 5})).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerError);
    assert!(e.is_retryable(), "the caller is told it may retry");
    assert_eq!(
        e.details()["retry_stopped"],
        "unsafe method without an idempotency key"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "POST must not be replayed without a key"
    );
    assert!(
        logs.text().contains("without an idempotency key"),
        "a warning says why"
    );
    // PATCH likewise; PUT and DELETE are idempotent and are retried.
    let server = flaky(503, 1).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    c.patch("/x", Body::Empty).await.unwrap_err();
    assert_eq!(server.requests().len(), 1);
    let server = flaky(503, 1).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    c.put("/x", Body::Empty).await.unwrap();
    c.delete("/x").await.unwrap();
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn post_with_idempotency_key_is_replayed_with_the_same_key() {
    let server = flaky(503, 2).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    let r = c
        .request(
            RequestOptions::new(Method::POST, "/charges")
                .body(Body::form([("amount", "5")]))
                .idempotency_key("charge-42"),
        )
        .await
        .unwrap();
    assert_eq!(r.meta.retry_count, 2);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.headers["idempotency-key"], "charge-42");
        assert_eq!(s.body, "amount=5");
    }
}

#[tokio::test]
async fn auto_generated_key_is_stable_across_attempts_and_header_is_configurable() {
    let server = flaky(500, 2).await;
    let mut cfg = config(&server.url(), fast_retry(3));
    cfg.idempotency.auto_generate = true;
    cfg.idempotency.header = "X-Idempotency".into();
    let c = connected(cfg).await;
    c.post("/x", Body::Empty).await.unwrap();
    c.post("/x", Body::Empty).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.headers["x-idempotency"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[1], keys[2]);
    assert_ne!(keys[2], keys[3], "a new logical operation gets a new key");
    assert!(
        seen.iter()
            .all(|s| !s.headers.contains_key("idempotency-key"))
    );
}

#[tokio::test]
async fn idempotency_disabled_never_retries_unsafe_methods() {
    let server = flaky(503, 1).await;
    let mut cfg = config(&server.url(), fast_retry(3));
    cfg.idempotency.enabled = false;
    let c = connected(cfg).await;
    c.request(RequestOptions::new(Method::POST, "/x").idempotency_key("k"))
        .await
        .unwrap_err();
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].headers.contains_key("idempotency-key"));
}

#[tokio::test]
async fn circuit_breaker_keys_each_host_apart() {
    let failing = CountingServer::start(|_, _| async { reply(500, "{}") }).await;
    let healthy = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let mut cfg = config(&failing.url(), RetryConfig::disabled());
    cfg.circuit_breaker = CircuitBreakerConfig {
        enabled: true,
        failure_threshold: 2,
        open_ms: 60_000,
    };
    let c = connected(cfg).await;
    for _ in 0..2 {
        c.get("/x").await.unwrap_err();
    }
    let base = format!("127.0.0.1:{}", failing.addr.port());
    assert_eq!(c.circuit_breaker().state(&base), CircuitState::Open);
    // A link to another host (a next page served elsewhere) has a circuit of its own, closed.
    c.get(&format!("{}/y", healthy.url()))
        .await
        .expect("another host is not behind the open circuit");
    assert_eq!(healthy.requests().len(), 1);
    let other = format!("127.0.0.1:{}", healthy.addr.port());
    assert_eq!(c.circuit_breaker().state(&other), CircuitState::Closed);
    // The base host still fails fast.
    let e = c.get("/x").await.unwrap_err();
    assert!(e.message().contains("circuit breaker"), "{e}");
    assert_eq!(failing.requests().len(), 2);
}

#[tokio::test]
async fn circuit_breaker_opens_fails_fast_half_opens_and_closes() {
    let healthy = Arc::new(AtomicUsize::new(0));
    let h = healthy.clone();
    let server = CountingServer::start(move |_, _| {
        let ok = h.load(Ordering::SeqCst) == 1;
        async move {
            if ok {
                reply(200, "{}")
            } else {
                reply(500, "{}")
            }
        }
    })
    .await;
    let mut cfg = config(&server.url(), RetryConfig::disabled());
    // Open for a second: each call that must find the circuit still open comes well within it.
    const OPEN: Duration = Duration::from_secs(1);
    cfg.circuit_breaker = CircuitBreakerConfig {
        enabled: true,
        failure_threshold: 3,
        open_ms: OPEN.as_millis() as u64,
    };
    let c = connected(cfg).await;
    let host = format!("127.0.0.1:{}", server.addr.port());
    for _ in 0..3 {
        assert_eq!(
            c.get("/x").await.unwrap_err().code(),
            ErrorCode::ServerError
        );
    }
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::Open);
    // Open: fail fast, nothing reaches the server.
    let e = c.get("/x").await.unwrap_err();
    assert!(e.message().contains("circuit breaker"), "{e}");
    assert_eq!(e.details()["circuit"], "open");
    assert!(!e.request_sent());
    assert_eq!(server.requests().len(), 3);
    // After the open period one probe goes through; it fails, so the circuit re-opens.
    tokio::time::sleep(OPEN).await;
    c.get("/x").await.unwrap_err();
    assert_eq!(server.requests().len(), 4);
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::Open);
    c.get("/x").await.unwrap_err();
    assert_eq!(server.requests().len(), 4, "re-opened: fail fast again");
    // The host recovers; the next probe succeeds and closes the circuit.
    healthy.store(1, Ordering::SeqCst);
    tokio::time::sleep(OPEN).await;
    c.get("/x").await.unwrap();
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::Closed);
    c.get("/x").await.unwrap();
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn half_open_lets_exactly_one_probe_through() {
    // The probe is held at the server until the gate opens, so every other call meets it in flight.
    let gate = Gate::new();
    let held = gate.clone();
    let server = CountingServer::start(move |_, i| {
        let held = held.clone();
        async move {
            if i == 0 {
                reply(500, "{}")
            } else {
                held.wait().await;
                reply(200, "{}")
            }
        }
    })
    .await;
    let mut cfg = config(&server.url(), RetryConfig::disabled());
    cfg.circuit_breaker = CircuitBreakerConfig {
        enabled: true,
        failure_threshold: 1,
        open_ms: 100,
    };
    // Five separate calls race for the probe; identical GETs would otherwise share one exchange.
    cfg.dedup.enabled = false;
    let c = connected(cfg).await;
    c.get("/x").await.unwrap_err();
    // Past the open period: half-open.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut calls: FuturesUnordered<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get("/x").await })
        })
        .collect();
    // Four fail fast while the probe is held ...
    for _ in 0..4 {
        let e = within("a call to fail fast", calls.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(e.details().get("circuit").is_some(), "{e}");
    }
    server.wait_for_requests(2).await;
    assert_eq!(server.requests().len(), 2, "only the probe is sent");
    // ... which then succeeds.
    gate.open();
    let probe = within("the probe", calls.next()).await.unwrap().unwrap();
    assert_eq!(probe.unwrap().status, 200);
    assert_eq!(server.requests().len(), 2);
}
