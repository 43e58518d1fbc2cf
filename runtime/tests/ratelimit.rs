//! Client-side rate limiting observed from a real server: the concurrency cap, token buckets per second
//! and minute, the bounded wait queue, and limits learned from the server's headers.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use connector_runtime::ratelimit::RateLimiter;
use connector_runtime::{
    CancellationToken, ConnectorConfig, DedupConfig, ErrorCode, ErrorSource, HeaderMap, Method,
    RateLimitConfig, RequestOptions, RetryConfig,
};
use futures_util::FutureExt;
use http_body_util::Full;
use support::{CountingServer, Crowd, Gate, LATE, Seen, connected, reply, started, until, within};

/// A config for `url` with this rate limit, no retries and no sharing of identical GETs in flight (so
/// every call is one request of its own).
fn config(url: &str, rate_limit: RateLimitConfig) -> ConnectorConfig {
    ConnectorConfig {
        rate_limit,
        retry: RetryConfig::disabled(),
        dedup: DedupConfig { enabled: false },
        ..ConnectorConfig::new(url)
    }
}

/// A 200 answer carrying `headers`.
fn reply_with(status: u16, headers: &[(&str, String)]) -> http::Response<Full<Bytes>> {
    let mut r = reply(status, "{}");
    for (k, v) in headers {
        r.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

/// A server that holds each of `total` requests until `cap` are at the server together (see
/// [`Crowd`]), then answers after `delay`: a cap below `cap` shows as a lower peak in flight.
async fn crowded_server(cap: usize, total: usize, delay: Duration) -> CountingServer {
    let crowd = Crowd::new(cap, total);
    CountingServer::start(move |_, _| {
        let crowd = crowd.clone();
        async move {
            let _inside = crowd.enter().await;
            tokio::time::sleep(delay).await;
            reply(200, "{}")
        }
    })
    .await
}

/// A server that holds every request until `gate` opens.
async fn gated_server(gate: &Gate) -> CountingServer {
    let gate = gate.clone();
    CountingServer::start(move |_, _| {
        let gate = gate.clone();
        async move {
            gate.wait().await;
            reply(200, "{}")
        }
    })
    .await
}

/// Spawn `n` concurrent GETs of `path` and wait for all of them; panics on any error.
async fn spawn_calls(c: &connector_runtime::Connector, n: usize, path: &'static str) {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get(path).await })
        })
        .collect();
    for h in calls {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_never_exceed_the_concurrency_cap() {
    // Only `concurrent_requests` is set: no rate limit at all, so the cap stands on its own.
    let server = crowded_server(4, 40, Duration::from_millis(50)).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            concurrent_requests: 4,
            ..Default::default()
        },
    ))
    .await;
    let started = Instant::now();
    spawn_calls(&c, 40, "/x").await;
    assert_eq!(server.requests().len(), 40);
    assert_eq!(
        server.max_in_flight.load(Ordering::SeqCst),
        4,
        "the server must see exactly the cap in flight: never more, and the cap is actually used"
    );
    // 40 calls, 4 at a time, 50 ms each at the server: at least 10 rounds.
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(c.rate_limiter().in_flight(), 0, "every slot is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_cap_holds_when_rate_tokens_are_plentiful() {
    // A generous rate limit (everything could go at once as far as tokens go): concurrency still caps.
    let server = crowded_server(2, 12, Duration::from_millis(50)).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            requests_per_second: Some(1000.0),
            burst_capacity: Some(1000),
            concurrent_requests: 2,
            ..Default::default()
        },
    ))
    .await;
    spawn_calls(&c, 12, "/x").await;
    assert_eq!(server.requests().len(), 12);
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
}

// No rate, so no wall clock in the limiter: the paused clock runs the 20 ms holds without waiting.
#[tokio::test(start_paused = true)]
async fn standalone_limiter_caps_slots_without_any_rate() {
    let rl = Arc::new(RateLimiter::new(RateLimitConfig {
        concurrent_requests: 3,
        ..Default::default()
    }));
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (rl, now, max) = (rl.clone(), now.clone(), max.clone());
            tokio::spawn(async move {
                let _slot = rl.wait_for_slot().await.unwrap();
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                assert!(rl.in_flight() <= 3);
                tokio::time::sleep(Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(max.load(Ordering::SeqCst), 3);
    assert_eq!(rl.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_second_rate_with_burst_is_respected_at_the_server() {
    const N: usize = 25;
    const RATE: f64 = 10.0;
    const BURST: f64 = 2.0;
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            requests_per_second: Some(RATE),
            burst_capacity: Some(BURST as u32),
            ..Default::default()
        },
    ))
    .await;
    let started = Instant::now();
    spawn_calls(&c, N, "/x").await;
    let mut at: Vec<Instant> = server.requests().iter().map(|s| s.at).collect();
    at.sort();
    assert_eq!(at.len(), N);
    // Any window [a_i, a_j] may hold at most the burst plus what the rate refills in it. The limiter
    // releases the calls; getting to the server then takes each a different time on a loaded machine,
    // which can bunch a few arrivals together: the window is widened by a second for that, and one
    // extra request is allowed for timer granularity. Without the limit all 25 arrive at once.
    const JITTER: f64 = 1.0;
    for i in 0..N {
        for j in i..N {
            let w = (at[j] - at[i]).as_secs_f64();
            let count = (j - i + 1) as f64;
            let allowed = BURST + RATE * (w + JITTER) + 1.0;
            assert!(
                count <= allowed,
                "{count} requests within {w:.3} s (arrivals {i}..={j}); allowed {allowed:.2}"
            );
        }
    }
    // The burst goes at once, then one request per 1/RATE s: the last cannot arrive before
    // (N - burst) / rate has passed since the calls started.
    let total = at[N - 1] - started;
    let min = Duration::from_secs_f64((N as f64 - BURST) / RATE) - Duration::from_millis(10);
    assert!(
        total >= min,
        "{N} requests took {total:?}, expected >= {min:?}"
    );
    assert!(
        total < min + LATE,
        "took {total:?}: slower than the configured rate"
    );

    // The burst itself, on a limiter that refills too slowly for any delay to blur it: BURST slots are
    // handed out without waiting, and the next caller waits.
    let rl = RateLimiter::new(RateLimitConfig {
        requests_per_second: Some(1.0 / 60.0),
        burst_capacity: Some(BURST as u32),
        ..Default::default()
    });
    let burst: Vec<_> = (0..BURST as usize)
        .map(|_| {
            rl.wait_for_slot()
                .now_or_never()
                .expect("the burst goes at once")
                .unwrap()
        })
        .collect();
    assert!(
        rl.wait_for_slot().now_or_never().is_none(),
        "past the burst, a caller waits"
    );
    drop(burst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_minute_limit_blocks_the_sixth_call_until_cancelled() {
    let server = crowded_server(5, 5, Duration::ZERO).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            requests_per_minute: Some(5),
            ..Default::default()
        },
    ))
    .await;
    assert!(c.rate_limiter().can_proceed());
    let st = c.rate_limiter().status();
    assert_eq!((st.limit, st.remaining), (Some(5), Some(5)));

    // The five go at once: all five are in flight at the server together.
    spawn_calls(&c, 5, "/x").await;
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 5);

    // The sixth would wait ~12 s for a token.
    assert!(!c.rate_limiter().can_proceed());
    let st = c.rate_limiter().status();
    assert_eq!((st.limit, st.remaining), (Some(5), Some(0)));
    let reset_in = st.reset.unwrap().duration_since(SystemTime::now()).unwrap();
    assert!(
        reset_in > Duration::from_secs(50),
        "a full refill takes about a minute, status says {reset_in:?}"
    );

    let token = CancellationToken::new();
    let sixth = {
        let c = c.clone();
        let token = token.clone();
        tokio::spawn(async move {
            c.request(RequestOptions::new(Method::GET, "/x").cancel(token))
                .await
        })
    };
    // It takes a concurrency slot, then waits in the limiter for a token.
    until("the sixth call to hold a slot", || {
        c.rate_limiter().in_flight() == 1
    })
    .await;
    assert!(!sixth.is_finished(), "it waits for a token");
    token.cancel();
    // Cancelled well before the ~12 s a token takes.
    let started = Instant::now();
    let e = within("the cancelled call", sixth)
        .await
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() < LATE, "{:?}", started.elapsed());
    assert_eq!(e.code(), ErrorCode::Cancelled, "{e}");
    assert!(!e.request_sent());
    assert_eq!(
        server.requests().len(),
        5,
        "the cancelled call never reached the server"
    );
    assert_eq!(c.rate_limiter().in_flight(), 0, "its slot is given back");
    assert!(!c.rate_limiter().can_proceed(), "still out of tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_queue_rejects_at_once_and_the_others_complete() {
    let gate = Gate::new();
    let server = gated_server(&gate).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            concurrent_requests: 1,
            max_queue: 3,
            ..Default::default()
        },
    ))
    .await;
    let call = |c: &connector_runtime::Connector| {
        let c = c.clone();
        Box::pin(async move { c.get("/x").await })
    };
    // One call holds the only slot (it is at the server, held there until the gate opens) ...
    let holder = tokio::spawn(call(&c));
    server.wait_for_requests(1).await;
    // ... and three wait for it: each has taken its place in the line by the end of its first poll.
    let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(started(call(&c)))).collect();
    assert_eq!(
        server.requests().len(),
        1,
        "the waiters are queued, not sent"
    );

    // With the slot held for as long as the gate is shut, only an immediate refusal can end this call.
    let e = within("queue full must fail at once", c.get("/x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimit, "{e}");
    assert_eq!(e.source_kind(), ErrorSource::RateLimit);
    assert!(e.status().is_none(), "a local refusal, not a server answer");
    assert!(!e.request_sent());

    gate.open();
    holder.await.unwrap().unwrap();
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    assert_eq!(
        server.requests().len(),
        4,
        "the rejected call never reached the server"
    );
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zero_max_queue_refuses_only_callers_that_would_wait() {
    // The second request is held at the server until the gate opens.
    let gate = Gate::new();
    let held = gate.clone();
    let server = CountingServer::start(move |_, i| {
        let held = held.clone();
        async move {
            if i == 1 {
                held.wait().await;
            }
            reply(200, "{}")
        }
    })
    .await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            concurrent_requests: 1,
            max_queue: 0,
            ..Default::default()
        },
    ))
    .await;
    // Nothing to wait for: the call goes.
    c.get("/x").await.unwrap();
    // A call held at the server keeps the slot ...
    let holder = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/x").await })
    };
    server.wait_for_requests(2).await;
    // ... so this one would have to wait, and no one may: with the slot held until the gate opens, only
    // an immediate refusal can end it.
    let e = within("the refusal", c.get("/x")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimit, "{e}");
    assert_eq!(e.source_kind(), ErrorSource::RateLimit);
    gate.open();
    holder.await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 2);
}

/// Answers the first request with `first` headers, every other with `rest`, and records the wall-clock
/// arrival time of each request.
async fn header_server(
    first: fn() -> Vec<(&'static str, String)>,
    rest: Vec<(&'static str, String)>,
) -> (CountingServer, Arc<Mutex<Vec<SystemTime>>>) {
    let wall = Arc::new(Mutex::new(Vec::new()));
    let w = wall.clone();
    let server = CountingServer::start(move |_: Seen, i| {
        w.lock().unwrap().push(SystemTime::now());
        let headers = if i == 0 { first() } else { rest.clone() };
        async move { reply_with(200, &headers) }
    })
    .await;
    (server, wall)
}

fn gap(seen: &[Seen], a: usize, b: usize) -> Duration {
    seen[b].at - seen[a].at
}

#[tokio::test]
async fn x_ratelimit_remaining_zero_delays_the_next_call_until_reset() {
    let (server, _) = header_server(
        || {
            vec![
                ("x-ratelimit-limit", "100".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", "1".into()),
            ]
        },
        vec![
            ("x-ratelimit-limit", "100".into()),
            ("x-ratelimit-remaining", "99".into()),
            ("x-ratelimit-reset", "60".into()),
        ],
    )
    .await;
    let c = connected(config(&server.url(), RateLimitConfig::default())).await;
    let r = c.get("/x").await.unwrap();
    assert_eq!(r.meta.rate_limit.limit, Some(100));
    assert_eq!(r.meta.rate_limit.remaining, Some(0));
    assert!(
        !c.rate_limiter().can_proceed(),
        "no requests left until the reset"
    );
    c.get("/x").await.unwrap();
    // The window rolled over and the server says 99 are left (for the next 60 s): no more waiting.
    assert!(c.rate_limiter().can_proceed(), "99 left");
    c.get("/x").await.unwrap();
    let seen = server.requests();
    let g = gap(&seen, 0, 1);
    assert!(
        g >= Duration::from_millis(900) && g < Duration::from_secs(1) + LATE,
        "the second call waited {g:?}, the server said the window resets in 1 s"
    );
    let g = gap(&seen, 1, 2);
    assert!(g < LATE, "no wait with 99 left: {g:?}");
}

#[tokio::test]
async fn ietf_ratelimit_headers_delay_the_next_call_until_reset() {
    let (server, _) = header_server(
        || {
            vec![
                ("ratelimit-limit", "10".into()),
                ("ratelimit-remaining", "0".into()),
                ("ratelimit-reset", "1".into()),
            ]
        },
        vec![],
    )
    .await;
    let c = connected(config(&server.url(), RateLimitConfig::default())).await;
    let r = c.get("/x").await.unwrap();
    assert_eq!(
        (r.meta.rate_limit.limit, r.meta.rate_limit.remaining),
        (Some(10), Some(0))
    );
    c.get("/x").await.unwrap();
    let g = gap(&server.requests(), 0, 1);
    assert!(
        g >= Duration::from_millis(900) && g < Duration::from_secs(1) + LATE,
        "the second call waited {g:?}, the server said the window resets in 1 s"
    );
}

#[tokio::test]
async fn unix_timestamp_reset_is_read_as_an_instant() {
    // GitHub style: the reset is seconds since the epoch. Three whole seconds ahead, so more than two
    // remain when the answer is read.
    let (server, wall) = header_server(
        || {
            let reset = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 3;
            vec![
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset.to_string()),
            ]
        },
        vec![],
    )
    .await;
    let c = connected(config(&server.url(), RateLimitConfig::default())).await;
    let r = c.get("/x").await.unwrap();
    let reset = r.meta.rate_limit.reset.expect("reset from the header");
    let reset_secs = reset.duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(reset_secs.subsec_nanos(), 0, "the header's whole second");
    let ahead = reset
        .duration_since(SystemTime::now())
        .expect("the reset is still ahead");
    assert!(ahead <= Duration::from_secs(3), "{ahead:?}");
    let started = Instant::now();
    c.get("/x").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3) + LATE,
        "the reset is an instant about 3 s away, not 1.7e9 s from now: {:?}",
        started.elapsed()
    );
    let wall = wall.lock().unwrap().clone();
    assert!(
        wall[1] + Duration::from_millis(50) >= reset,
        "the second call arrived {:?} before the reset",
        reset.duration_since(wall[1]).unwrap_or_default()
    );
    assert!(
        wall[1] < reset + LATE,
        "arrived late: {:?}",
        wall[1].duration_since(reset)
    );
    let g = gap(&server.requests(), 0, 1);
    assert!(g >= Duration::from_millis(1900), "waited {g:?}");
}

#[tokio::test]
async fn headers_are_ignored_when_adaptivity_is_off() {
    let (server, _) = header_server(
        || {
            // Honoured, this would hold the next call for a minute.
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", "60".into()),
            ]
        },
        vec![],
    )
    .await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            adaptive_from_headers: false,
            ..Default::default()
        },
    ))
    .await;
    c.get("/x").await.unwrap();
    assert!(c.rate_limiter().can_proceed(), "nothing learned");
    c.get("/x").await.unwrap();
    let g = gap(&server.requests(), 0, 1);
    assert!(g < LATE, "waited {g:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_on_429_holds_back_every_caller() {
    let server = CountingServer::start(|s: Seen, _| async move {
        if s.uri == "/limited" {
            reply_with(429, &[("retry-after", "1".into())])
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let c = connected(config(&server.url(), RateLimitConfig::default())).await;
    // Three callers, each making one call now and one more once the 429 has been seen.
    let (go, _) = tokio::sync::broadcast::channel::<()>(1);
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            let mut go = go.subscribe();
            tokio::spawn(async move {
                c.get("/other").await.unwrap();
                go.recv().await.unwrap();
                c.get("/other").await.unwrap();
            })
        })
        .collect();
    server.wait_for_requests(3).await;
    let e = c.get("/limited").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimit);
    assert_eq!(e.status().unwrap(), 429);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    let st = c.rate_limiter().status();
    assert_eq!(st.retry_after, Some(Duration::from_secs(1)));
    assert!(!c.rate_limiter().can_proceed());
    go.send(()).unwrap();
    for h in callers {
        h.await.unwrap();
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 7);
    let limited_at = seen.iter().find(|s| s.uri == "/limited").unwrap().at;
    let later: Vec<_> = seen.iter().filter(|s| s.at > limited_at).collect();
    assert_eq!(later.len(), 3);
    for s in later {
        let g = s.at - limited_at;
        assert!(
            g >= Duration::from_millis(950) && g < Duration::from_secs(1) + LATE,
            "another caller's request went {g:?} after the 429 asked for 1 s"
        );
    }
    // The pause is over.
    assert!(c.rate_limiter().can_proceed());
    assert_eq!(c.rate_limiter().status().retry_after, None);
}

#[tokio::test]
async fn status_and_response_meta_report_the_servers_figures() {
    let server = CountingServer::start(|_, _| async {
        reply_with(
            200,
            &[
                ("x-ratelimit-limit", "100".into()),
                ("x-ratelimit-remaining", "42".into()),
                ("x-ratelimit-reset", "30".into()),
            ],
        )
    })
    .await;
    let c = connected(config(&server.url(), RateLimitConfig::default())).await;
    assert_eq!(
        c.rate_limiter().status(),
        Default::default(),
        "nothing known before the first answer (no local limits set)"
    );
    let r = c.get("/x").await.unwrap();
    let m = &r.meta.rate_limit;
    assert_eq!(
        (m.limit, m.remaining, m.retry_after),
        (Some(100), Some(42), None)
    );
    let reset_in = m.reset.unwrap().duration_since(SystemTime::now()).unwrap();
    assert!(reset_in > Duration::from_secs(28) && reset_in <= Duration::from_secs(30));
    let st = c.rate_limiter().status();
    assert_eq!((st.limit, st.remaining), (Some(100), Some(42)));
    assert_eq!(st.reset, m.reset);
    assert!(c.rate_limiter().can_proceed());
}

#[tokio::test]
async fn limiter_api_used_directly() {
    // Standalone: 2 per second with a burst of 1, one slot.
    let rl = RateLimiter::new(RateLimitConfig {
        requests_per_second: Some(2.0),
        burst_capacity: Some(1),
        concurrent_requests: 1,
        ..Default::default()
    });
    assert!(rl.can_proceed());
    let st = rl.status();
    assert_eq!((st.limit, st.remaining), (Some(1), Some(1)));
    let started = Instant::now();
    let slot = rl
        .wait_for_slot()
        .now_or_never()
        .expect("a free slot and a token: no wait at all")
        .unwrap();
    assert_eq!(rl.in_flight(), 1);
    assert!(!rl.can_proceed(), "the only slot is held");
    assert_eq!(rl.status().remaining, Some(0));
    drop(slot);
    assert_eq!(rl.in_flight(), 0);
    assert!(!rl.can_proceed(), "slot free, but the token is spent");
    let _slot = rl.wait_for_slot().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(490) && waited < Duration::from_millis(500) + LATE,
        "one token per 500 ms, waited {waited:?}"
    );

    // Learning from headers.
    let rl = RateLimiter::new(RateLimitConfig::default());
    assert!(rl.can_proceed());
    let st = rl.update_from_response(
        200,
        &header_map(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]),
    );
    assert_eq!((st.limit, st.remaining), (Some(60), Some(0)));
    assert_eq!(rl.status(), st);
    assert!(!rl.can_proceed());
    let started = Instant::now();
    drop(rl.wait_for_slot().await.unwrap());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(1) + LATE,
        "waited {waited:?} for the reset"
    );
    assert!(
        rl.can_proceed(),
        "after the reset the server is trusted again"
    );
    let st = rl.update_from_response(503, &header_map(&[("retry-after", "2")]));
    assert_eq!(st.retry_after, Some(Duration::from_secs(2)));
    assert!(!rl.can_proceed());
    // Retry-After on a success is not a pause.
    let rl = RateLimiter::new(RateLimitConfig::default());
    rl.update_from_response(200, &header_map(&[("retry-after", "2")]));
    assert!(rl.can_proceed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connector_rate_limiter_is_the_one_the_pipeline_uses() {
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = connected(config(
        &server.url(),
        RateLimitConfig {
            concurrent_requests: 1,
            ..Default::default()
        },
    ))
    .await;
    // Hold the connector's only slot by hand: its calls wait until it is given back.
    let slot = c.rate_limiter().wait_for_slot().await.unwrap();
    assert!(!c.rate_limiter().can_proceed());
    let started = Instant::now();
    let call = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/x").await })
    };
    // Time enough to reach the server, were the call not waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.requests().is_empty(),
        "the call waits for the held slot"
    );
    drop(slot);
    call.await.unwrap().unwrap();
    let arrived = server.requests()[0].at - started;
    assert!(
        arrived >= Duration::from_millis(290),
        "arrived after {arrived:?}"
    );

    // Headers fed by hand pause the connector's calls too.
    c.rate_limiter().update_from_response(
        200,
        &header_map(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "1")]),
    );
    assert!(!c.rate_limiter().can_proceed());
    let started = Instant::now();
    c.get("/x").await.unwrap();
    let arrived = server.requests()[1].at - started;
    assert!(
        arrived >= Duration::from_millis(900) && arrived < Duration::from_secs(1) + LATE,
        "arrived after {arrived:?}"
    );
}
