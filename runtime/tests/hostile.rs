//! What a hostile or broken server cannot do to a connector: absurd numbers in headers and token answers
//! panic nothing, a wait it asks for never outlives a call's timeout, a stream held unpolled cannot stall
//! `disconnect`, a failing token endpoint is asked once per failure, and a cancelled probe frees the
//! circuit. Real hyper servers (and one raw TCP server) on loopback; synchronised on server-side counts
//! and notifications, never on sleeps.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connector_runtime::bounded::{MAX_SERVER_WAIT, MAX_TOKEN_LIFETIME};
use connector_runtime::breaker::CircuitState;
use connector_runtime::{
    Body, BodySource, CancellationToken, Connector, ConnectorConfig, ErrorCode, Method, OAuth2,
    RequestOptions,
};
use futures_util::StreamExt;
use support::{CountingServer, connected, fast_retry, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous bound on anything that must not hang: far above any honest duration here, far below the
/// waits the servers ask for (a minute to a day).
const NO_HANG: Duration = Duration::from_secs(20);

fn config(url: &str) -> ConnectorConfig {
    let mut c = ConnectorConfig::new(url);
    c.retry = fast_retry(3);
    c
}

fn with_header(
    status: u16,
    name: &'static str,
    value: &'static str,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut r = reply(status, "{}");
    r.headers_mut()
        .insert(name, http::HeaderValue::from_static(value));
    r
}

#[tokio::test]
async fn absurd_retry_after_values_are_clamped_not_fatal() {
    for value in [
        "1e20",
        "99999999999999999999",
        "18446744073709551615",
        "1e308",
        "-5",
        "NaN",
    ] {
        let server =
            CountingServer::start(
                move |_, _| async move { with_header(429, "retry-after", value) },
            )
            .await;
        let c = connected(config(&server.url())).await;
        for method in [Method::GET, Method::POST] {
            let call = c.request(RequestOptions::new(method.clone(), "/limited").dedup(false));
            let err = tokio::time::timeout(NO_HANG, call)
                .await
                .expect("no hang")
                .expect_err("429 is an error");
            assert_eq!(err.code(), ErrorCode::RateLimit, "{value} {method}: {err}");
            if let Some(asked) = err.retry_after() {
                assert!(asked <= MAX_SERVER_WAIT, "{value}: {asked:?}");
            }
        }
    }
}

#[tokio::test]
async fn absurd_rate_limit_resets_are_clamped_and_bound_the_next_call() {
    for reset in ["18446744073709551615", "1e30", "99999999999999999999999"] {
        let server = CountingServer::start(move |_, _| async move {
            let mut r = with_header(200, "x-ratelimit-reset", reset);
            r.headers_mut()
                .insert("x-ratelimit-remaining", http::HeaderValue::from_static("0"));
            r
        })
        .await;
        let mut cfg = config(&server.url());
        cfg.timeout_ms = 1_000;
        let c = connected(cfg).await;
        let first = tokio::time::timeout(NO_HANG, c.get("/a"))
            .await
            .expect("no hang");
        assert!(first.is_ok(), "{reset}: the answer itself is a success");
        let status = c.rate_limiter().status();
        assert_eq!(status.remaining, Some(0));
        // The quota is spent until a reset at most a day away: the next call may not wait that long.
        let err = tokio::time::timeout(NO_HANG, c.get("/b"))
            .await
            .expect("no hang")
            .expect_err("no quota left");
        assert_eq!(err.code(), ErrorCode::RateLimit, "{reset}: {err}");
        let asked = err.retry_after().expect("how long the server asked");
        assert!(
            asked <= MAX_SERVER_WAIT && asked > Duration::from_secs(60),
            "{asked:?}"
        );
        assert_eq!(server.requests().len(), 1, "the second call was never sent");
    }
}

#[tokio::test]
async fn a_servers_wait_never_outlives_the_next_calls_timeout() {
    // 503 with `Retry-After: 60`, more than max_delay_ms: the call fails at once, rightly.
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            with_header(503, "retry-after", "60")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let mut cfg = config(&server.url());
    cfg.timeout_ms = 1_000;
    let c = connected(cfg).await;
    let err = c.get("/first").await.expect_err("503");
    assert_eq!(err.code(), ErrorCode::ServerError);
    assert_eq!(
        err.details()["retry_stopped"],
        "Retry-After exceeds max_delay_ms"
    );
    // The next call has a 1 s timeout: it fails at once with RATE_LIMIT saying how long the server
    // asked for, instead of sitting out the minute.
    let err = tokio::time::timeout(NO_HANG, c.get("/second"))
        .await
        .expect("no hang")
        .expect_err("still blocked");
    assert_eq!(err.code(), ErrorCode::RateLimit);
    assert!(err.is_retryable());
    let asked = err.retry_after().expect("retry_after_ms");
    assert!(
        asked > Duration::from_secs(30) && asked <= Duration::from_secs(60),
        "{asked:?}"
    );
    assert!(err.message().contains("the server"), "{}", err.message());
    assert_eq!(err.endpoint(), Some("/second"));
    assert_eq!(server.requests().len(), 1, "the blocked call sent nothing");

    // A call whose own timeout covers the wait still waits for it (here: a short Retry-After).
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            with_header(503, "retry-after", "1")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let mut cfg = config(&server.url());
    cfg.retry.max_attempts = 1;
    cfg.timeout_ms = 10_000;
    let c = connected(cfg).await;
    c.get("/first").await.expect_err("503");
    tokio::time::timeout(NO_HANG, c.get("/second"))
        .await
        .expect("no hang")
        .expect("waited out the second and went");
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(900),
        "the second request waited for Retry-After: {:?}",
        seen[1].at - seen[0].at
    );
}

#[tokio::test]
async fn an_absurd_token_lifetime_is_clamped_at_connect() {
    let tokens = CountingServer::start(|_, _| async {
        reply(
            200,
            r#"{"access_token":"tok","token_type":"bearer","expires_in":1e20}"#,
        )
    })
    .await;
    let api = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = Connector::builder(config(&api.url()))
        .auth(Arc::new(
            OAuth2::client_credentials(format!("{}/token", tokens.url()), "id", "secret")
                .into_bearer(),
        ))
        .build()
        .unwrap();
    tokio::time::timeout(NO_HANG, c.connect())
        .await
        .expect("no hang")
        .expect("connect with a clamped lifetime");
    c.get("/x").await.unwrap();
    c.get("/y").await.unwrap();
    assert_eq!(tokens.requests().len(), 1, "the token is reused");
    let sent = api.requests();
    assert_eq!(
        sent[1].headers.get("authorization").unwrap(),
        "Bearer tok",
        "lifetime clamped to {MAX_TOKEN_LIFETIME:?}, still valid"
    );
}

// One thread on purpose: a caller that has entered the connector then runs, without yielding, to the
// line behind the token fetch. On a multi-threaded runtime the OS may stop a worker between the two, the
// fetch may fail meanwhile, and that caller, arriving after the failure, rightly asks again.
#[tokio::test(flavor = "current_thread")]
async fn a_failing_token_endpoint_is_asked_once_for_all_queued_callers() {
    const CALLERS: usize = 20;
    let release = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let (r, e) = (release.clone(), entered.clone());
    let tokens = CountingServer::start(move |_, _| {
        let (r, e) = (r.clone(), e.clone());
        async move {
            e.notify_one();
            r.notified().await;
            reply(500, r#"{"error":"temporarily_unavailable"}"#)
        }
    })
    .await;
    let api = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = connected(config(&api.url())).await;
    c.set_auth(Some(Arc::new(
        OAuth2::client_credentials(format!("{}/token", tokens.url()), "id", "secret").into_bearer(),
    )));
    let calls: Vec<_> = (0..CALLERS)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.get(&format!("/items/{i}")).await })
        })
        .collect();
    // One caller is at the token endpoint; wait until every caller has entered the connector, which
    // puts the rest in line behind that fetch (nothing between entering and the line can wait).
    entered.notified().await;
    tokio::time::timeout(NO_HANG, async {
        while c.in_flight() < CALLERS {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("all callers enter");
    release.notify_one();
    for call in calls {
        let err = tokio::time::timeout(NO_HANG, call)
            .await
            .expect("no hang")
            .unwrap()
            .expect_err("no token");
        assert_eq!(err.code(), ErrorCode::AuthFailed, "{err}");
    }
    assert_eq!(
        tokens.requests().len(),
        1,
        "one token request for one failure, not one per queued caller"
    );
    assert!(api.requests().is_empty());
}

#[tokio::test]
async fn a_cancelled_half_open_probe_lets_the_next_caller_probe() {
    let probe_arrived = Arc::new(tokio::sync::Notify::new());
    let p = probe_arrived.clone();
    let server = CountingServer::start(move |_, i| {
        let p = p.clone();
        async move {
            match i {
                0 => reply(500, "{}"),
                1 => {
                    // The probe: held until the caller gives up.
                    p.notify_one();
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                _ => reply(200, "{}"),
            }
        }
    })
    .await;
    let mut cfg = config(&server.url());
    cfg.retry.max_attempts = 1;
    cfg.circuit_breaker.failure_threshold = 1;
    cfg.circuit_breaker.open_ms = 0;
    let c = connected(cfg).await;
    let host = format!("127.0.0.1:{}", server.addr.port());
    c.get("/a").await.expect_err("500 opens the circuit");
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::Open);

    let token = CancellationToken::new();
    let probe = {
        let c = c.clone();
        let token = token.clone();
        tokio::spawn(async move {
            c.request(RequestOptions::new(Method::GET, "/b").cancel(token))
                .await
        })
    };
    probe_arrived.notified().await;
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::HalfOpen);
    token.cancel();
    let err = probe.await.unwrap().expect_err("cancelled");
    assert_eq!(err.code(), ErrorCode::Cancelled);
    // The cancelled probe said nothing about the host: the circuit is not stuck half-open, and the
    // next caller is the new probe, whose success closes it.
    assert_ne!(c.circuit_breaker().state(&host), CircuitState::HalfOpen);
    c.get("/c").await.expect("the next probe goes through");
    assert_eq!(c.circuit_breaker().state(&host), CircuitState::Closed);
    assert_eq!(server.requests().len(), 3);
}

/// A raw HTTP/1.1 server that sends the headers and a first chunk of a chunked body, then holds the
/// connection open; it notifies `sent` after the first chunk and `closed` when the client hangs up.
async fn holding_stream_server(
    sent: Arc<tokio::sync::Notify>,
    closed: Arc<tokio::sync::Notify>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0u8; 4096];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = sock
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
            )
            .await;
        sent.notify_one();
        // Read until the client closes its end.
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        closed.notify_one();
    });
    url
}

#[tokio::test]
async fn disconnect_closes_a_stream_held_without_polling_at_its_deadline() {
    let sent = Arc::new(tokio::sync::Notify::new());
    let closed = Arc::new(tokio::sync::Notify::new());
    let url = holding_stream_server(sent.clone(), closed.clone()).await;
    let c = connected(config(&url)).await;
    let mut held = c
        .request_stream(RequestOptions::new(Method::GET, "/feed"))
        .await
        .expect("headers arrive");
    sent.notified().await;
    assert_eq!(c.in_flight(), 1, "the open stream counts as in flight");

    let report = tokio::time::timeout(NO_HANG, c.disconnect(Duration::from_millis(100)))
        .await
        .expect("disconnect returns at its deadline although the stream is never polled");
    assert_eq!(report.in_flight_at_start, 1);
    assert_eq!(report.cancelled, 1);
    assert_eq!(report.abandoned, 0);
    assert_eq!(c.in_flight(), 0);
    tokio::time::timeout(NO_HANG, closed.notified())
        .await
        .expect("the connection was closed");

    // The holder learns why at its next poll, once; then the stream ends.
    let first = held.body.next().await.expect("an item");
    let err = first.expect_err("cancelled");
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert!(held.body.next().await.is_none());
}

#[tokio::test]
async fn a_body_that_does_not_decode_carries_the_calls_context() {
    let server = CountingServer::start(|_, _| async {
        let mut r = reply(200, "{\"id\": \"not a number\"}");
        r.headers_mut()
            .insert("x-request-id", http::HeaderValue::from_static("srv-42"));
        r
    })
    .await;
    let c = connected(config(&server.url())).await;
    #[derive(serde::Deserialize, Debug)]
    struct Thing {
        #[allow(dead_code)]
        id: u64,
    }
    let resp = c
        .request(RequestOptions::new(Method::GET, "/things/7").endpoint("/things/{id}"))
        .await
        .unwrap();
    let err = resp.json::<Thing>().expect_err("a string is no u64");
    assert_eq!(err.code(), ErrorCode::ParsingError);
    assert_eq!(err.attempt(), 1);
    assert_eq!(err.method(), Some(&Method::GET));
    assert_eq!(err.endpoint(), Some("/things/{id}"));
    assert_eq!(err.request_id(), Some("srv-42"));
    assert!(err.duration() > Duration::ZERO);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
}

#[tokio::test]
async fn a_401_on_a_one_shot_body_says_why_it_is_not_replayed() {
    let server = CountingServer::start(|_, _| async { reply(401, "{}") }).await;
    let tokens_asked = Arc::new(AtomicUsize::new(0));
    let t = tokens_asked.clone();
    let tokens = CountingServer::start(move |_, _| {
        t.fetch_add(1, Ordering::SeqCst);
        async { reply(200, r#"{"access_token":"tok","expires_in":3600}"#) }
    })
    .await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(
            OAuth2::client_credentials(format!("{}/token", tokens.url()), "id", "secret")
                .into_bearer(),
        ))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let once = Body::Stream {
        content_type: Some(http::HeaderValue::from_static("text/plain")),
        source: BodySource::reader(Some(5), std::io::Cursor::new(b"hello".to_vec())),
    };
    let err = c
        .request(RequestOptions::new(Method::PUT, "/upload").body(once))
        .await
        .expect_err("401");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(
        err.details()
            .get("replay_skipped")
            .and_then(|v| v.as_str())
            .is_some_and(|s| s.contains("one-shot")),
        "{:?}",
        err.details()
    );
    assert_eq!(server.requests().len(), 1, "not replayed");
    assert_eq!(
        tokens_asked.load(Ordering::SeqCst),
        1,
        "no refresh for nothing"
    );
}
