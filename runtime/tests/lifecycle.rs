//! Lifecycle, request primitives, configuration, response wrapper, timeouts, cancellation, shutdown.

mod support;

use std::time::{Duration, Instant};

use connector_runtime::{
    Body, CancellationToken, Connector, ConnectorConfig, ErrorCode, ErrorSource, Method,
    RequestOptions, RetryConfig,
};
use support::{CountingServer, Gate, LATE, connected, reply, until, within};

/// A server that holds every request until `gate` opens (for good, if it never does).
async fn held_server(gate: &Gate) -> CountingServer {
    CountingServer::held(gate, 200, "{\"done\":true}").await
}

/// Identical GETs in flight at once share one exchange by default; these tests count separate calls.
fn separate_calls(url: &str) -> ConnectorConfig {
    let mut cfg = ConnectorConfig::new(url);
    cfg.dedup.enabled = false;
    cfg
}

#[tokio::test]
async fn lifecycle_connect_is_connected_disconnect() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = Connector::initialize(ConnectorConfig::new(server.url())).unwrap();
    assert!(!c.is_connected());
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert!(e.message().contains("call connect() first"), "{e}");
    c.connect().await.unwrap();
    c.connect().await.unwrap(); // idempotent
    assert!(c.is_connected());
    c.get("/x").await.unwrap();
    let report = c.disconnect(Duration::from_secs(1)).await;
    assert_eq!(report.cancelled, 0);
    assert!(!c.is_connected());
    assert!(c.get("/x").await.is_err());
    // Reconnect works.
    c.connect().await.unwrap();
    c.get("/x").await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn invalid_configuration_is_an_error_naming_the_field() {
    let mut cfg = ConnectorConfig::new("https://api.example.com");
    cfg.retry.max_attempts = 0;
    let e = Connector::initialize(cfg).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert_eq!(e.details()["field"], "retry.max_attempts");
    let e = Connector::initialize(ConnectorConfig::new("")).unwrap_err();
    assert_eq!(e.details()["field"], "base_url");
}

#[tokio::test]
async fn configuration_loads_from_toml_with_defaults_for_the_rest() {
    let text = r#"
        base_url = "https://api.example.com/v2"
        timeout_ms = 5000
        user_agent = "acme-app/1.2.3"
        default_headers = { accept = "application/json" }
        default_query = { api_version = "2024-01-01" }
        redact = ["x-internal-token"]

        [retry]
        max_attempts = 5
        retry_budget_ms = 20000

        [rate_limit]
        requests_per_second = 20.0
        concurrent_requests = 4

        [tls]
        min_version = "1.3"

        [pool]
        max_idle_per_host = 8

        [auth]
        type = "bearer"
        token = "tok"
    "#;
    let cfg: ConnectorConfig = toml::from_str(text).unwrap();
    assert_eq!(cfg.timeout_ms, 5000);
    assert_eq!(cfg.retry.max_attempts, 5);
    assert_eq!(
        cfg.retry.initial_delay_ms, 1000,
        "unset fields keep their defaults"
    );
    assert_eq!(cfg.retry.retry_budget_ms, Some(20000));
    assert_eq!(cfg.rate_limit.concurrent_requests, 4);
    assert_eq!(cfg.tls.min_version.as_deref(), Some("1.3"));
    assert_eq!(cfg.pool.max_idle_per_host, 8);
    assert!(matches!(
        cfg.auth,
        Some(connector_runtime::AuthConfig::Bearer { .. })
    ));
    cfg.validate().unwrap();
    // A typo is an error, not a silently ignored setting.
    let err =
        toml::from_str::<ConnectorConfig>("base_url = \"https://x\"\n[retry]\nmax_attempt = 5\n")
            .unwrap_err();
    assert!(err.to_string().contains("max_attempt"), "{err}");
}

#[tokio::test]
async fn request_primitives_send_the_right_method_path_query_headers_and_body() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let mut cfg = ConnectorConfig::new(format!("{}/v1/", server.url()));
    cfg.default_headers
        .insert("accept".into(), "application/json".into());
    cfg.default_headers
        .insert("x-team".into(), "default".into());
    cfg.default_query.insert("api_version".into(), "7".into());
    cfg.user_agent = "acme-app/1.2.3".into();
    let c = connected(cfg).await;
    c.get("/users").await.unwrap();
    c.post(
        "users",
        Body::json(&serde_json::json!({"name": "ada"})).unwrap(),
    )
    .await
    .unwrap();
    c.put("/users/1", Body::form([("name", "ada lovelace")]))
        .await
        .unwrap();
    c.patch("/users/1", Body::bytes("text/plain", "hi").unwrap())
        .await
        .unwrap();
    c.delete("/users/1").await.unwrap();
    c.request(
        RequestOptions::new(Method::GET, "/search")
            .query("q", "a b&c")
            .header("x-team", "override"),
    )
    .await
    .unwrap();
    let seen = server.requests();
    let summary: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.uri.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("GET".into(), "/v1/users?api_version=7".into()),
            ("POST".into(), "/v1/users?api_version=7".into()),
            ("PUT".into(), "/v1/users/1?api_version=7".into()),
            ("PATCH".into(), "/v1/users/1?api_version=7".into()),
            ("DELETE".into(), "/v1/users/1?api_version=7".into()),
            ("GET".into(), "/v1/search?api_version=7&q=a+b%26c".into()),
        ]
    );
    assert_eq!(seen[1].headers["content-type"], "application/json");
    assert_eq!(seen[1].body, "{\"name\":\"ada\"}");
    assert_eq!(
        seen[2].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen[2].body, "name=ada+lovelace");
    assert_eq!(seen[3].body, "hi");
    assert_eq!(seen[0].headers["user-agent"], "acme-app/1.2.3");
    assert_eq!(seen[0].headers["accept"], "application/json");
    assert_eq!(seen[0].headers["x-team"], "default");
    assert_eq!(seen[5].headers.get_all("x-team").iter().count(), 1);
    assert_eq!(
        seen[5].headers["x-team"], "override",
        "per-call headers win over defaults"
    );
}

#[tokio::test]
async fn default_user_agent_carries_the_runtime_version() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    c.get("/").await.unwrap();
    let ua = server.requests()[0].headers["user-agent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ua,
        format!("connector-runtime/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn defaults_already_in_a_next_link_are_not_repeated() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let mut cfg = ConnectorConfig::new(server.url());
    cfg.default_query.insert("api_version".into(), "7".into());
    let c = connected(cfg).await;
    c.get(&format!("{}/items?api_version=7&page=2", server.url()))
        .await
        .unwrap();
    c.get(&format!("{}/items?page=3", server.url()))
        .await
        .unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].uri, "/items?api_version=7&page=2");
    assert_eq!(seen[1].uri, "/items?page=3&api_version=7");
}

#[tokio::test]
async fn absolute_urls_are_followed_as_given() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = connected(ConnectorConfig::new("http://127.0.0.1:9/unused")).await;
    c.get(&format!("{}/next?page=2", server.url()))
        .await
        .unwrap();
    assert_eq!(server.requests()[0].uri, "/next?page=2");
}

#[tokio::test]
async fn invalid_per_call_header_is_a_validation_error() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let e = c
        .request(RequestOptions::new(Method::GET, "/").header("bad header", "v"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.message().contains("bad header"));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn response_wrapper_carries_data_status_headers_and_meta() {
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            return reply(502, "{}");
        }
        let mut r = reply(201, "{\"id\":42,\"name\":\"ada\"}");
        r.headers_mut()
            .insert("x-request-id", "srv-123".parse().unwrap());
        r.headers_mut()
            .insert("x-ratelimit-limit", "100".parse().unwrap());
        r.headers_mut()
            .insert("x-ratelimit-remaining", "99".parse().unwrap());
        r.headers_mut()
            .insert("x-ratelimit-reset", "60".parse().unwrap());
        r
    })
    .await;
    let c = connected(ConnectorConfig {
        retry: support::fast_retry(2),
        ..ConnectorConfig::new(server.url())
    })
    .await;
    let before = std::time::SystemTime::now();
    #[derive(serde::Deserialize)]
    struct User {
        id: u64,
        name: String,
    }
    let r = c.get("/users/42").await.unwrap().json::<User>().unwrap();
    assert_eq!((r.data.id, r.data.name.as_str()), (42, "ada"));
    assert_eq!(r.status, 201);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.meta.request_id, "srv-123", "the server's id wins");
    assert_eq!(r.meta.retry_count, 1);
    assert!(r.meta.timestamp >= before);
    assert!(
        r.meta.duration >= Duration::from_millis(25),
        "includes the backoff"
    );
    assert_eq!(r.meta.rate_limit.limit, Some(100));
    assert_eq!(r.meta.rate_limit.remaining, Some(99));
    assert!(r.meta.rate_limit.reset.is_some());
    let sent = server.requests();
    let id0 = sent[0].headers["x-request-id"].to_str().unwrap();
    assert_eq!(id0.len(), 36, "a generated UUID is sent");
    assert_eq!(
        id0, sent[1].headers["x-request-id"],
        "the same id on every attempt"
    );
}

#[tokio::test]
async fn undecodable_body_is_parsing_error_with_raw_body_kept() {
    let server = CountingServer::start(|_, _| async move { reply(200, "<html>oops</html>") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let e = c
        .get("/x")
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError);
    assert_eq!(e.source_kind(), ErrorSource::Deserialize);
    assert_eq!(e.raw_body().unwrap(), "<html>oops</html>");
    assert_eq!(e.status().unwrap(), 200);
    assert!(e.request_id().is_some());
    // An empty body decodes as null, so `()`/Option targets work for 204s.
    let server = CountingServer::start(|_, _| async move { reply(204, "") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    c.delete("/x").await.unwrap().json::<()>().unwrap();
    // ...and, for a type whose fields are all optional, as an empty object; a type with a required
    // field is still refused.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct AllOptional {
        name: Option<String>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Required {
        name: String,
    }
    let server = CountingServer::start(|_, _| async move { reply(200, "") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let r = c.delete("/x").await.unwrap().json::<AllOptional>().unwrap();
    assert_eq!(r.data, AllOptional { name: None });
    let e = c
        .delete("/x")
        .await
        .unwrap()
        .json::<Required>()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError);
    assert!(e.message().contains("null"), "{}", e.message());
}

#[tokio::test]
async fn error_carries_status_body_headers_and_context() {
    let server = CountingServer::start(|_, _| async move {
        let mut r = reply(422, "{\"error\":{\"field\":\"email\"}}");
        r.headers_mut()
            .insert("request-id", "req_abc".parse().unwrap());
        r
    })
    .await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let e = c
        .request(RequestOptions::new(Method::POST, "/users/42").endpoint("/users/{id}"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(e.status().unwrap(), 422);
    assert!(!e.is_retryable());
    assert_eq!(e.request_id(), Some("req_abc"));
    assert_eq!(e.method(), Some(&Method::POST));
    assert_eq!(e.endpoint(), Some("/users/{id}"));
    assert_eq!(e.attempt(), 1);
    assert!(e.request_sent());
    assert_eq!(e.raw_body().unwrap(), "{\"error\":{\"field\":\"email\"}}");
    assert_eq!(e.headers().unwrap()["request-id"], "req_abc");
    assert_eq!(
        e.to_string(),
        "[INVALID_REQUEST] server answered 422 Unprocessable Entity (POST /users/{id}, attempt 1, request id req_abc)"
    );
}

#[tokio::test]
async fn timeout_is_timeout_error_per_attempt() {
    // A server that never answers: only the timeout can end these calls.
    let server = held_server(&Gate::new()).await;
    let c = connected(ConnectorConfig {
        retry: RetryConfig::disabled(),
        ..ConnectorConfig::new(server.url())
    })
    .await;
    let started = Instant::now();
    let e = c
        .request(RequestOptions::new(Method::GET, "/slow").timeout(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(e.is_retryable());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(100) + LATE,
        "{took:?}"
    );
    // The configured timeout applies when the call sets none; timeouts are retried like transport errors.
    let cfg = ConnectorConfig {
        timeout_ms: 100,
        retry: support::fast_retry(2),
        ..ConnectorConfig::new(server.url())
    };
    let c = connected(cfg).await;
    let e = c.get("/slow").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert_eq!(e.attempt(), 2);
}

#[tokio::test]
async fn cancellation_ends_the_call_as_cancelled_at_any_stage() {
    // In flight: the server never answers, so only the token can end the call.
    let server = held_server(&Gate::new()).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let token = CancellationToken::new();
    let call = {
        let (c, token) = (c.clone(), token.clone());
        tokio::spawn(async move {
            c.request(RequestOptions::new(Method::GET, "/x").cancel(token))
                .await
        })
    };
    server.wait_for_requests(1).await;
    token.cancel();
    let e = within("the call cancelled in flight", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert!(!e.is_retryable());
    assert!(e.message().contains("cancelled by the caller"));
    // During backoff: a minute at least (jitter halves at most), so only the token can end the call.
    let failing = CountingServer::start(|_, _| async move { reply(503, "{}") }).await;
    let cfg = ConnectorConfig {
        retry: RetryConfig {
            initial_delay_ms: 120_000,
            max_delay_ms: 120_000,
            ..RetryConfig::default()
        },
        ..ConnectorConfig::new(failing.url())
    };
    let c = connected(cfg).await;
    let token = CancellationToken::new();
    let call = {
        let (c, token) = (c.clone(), token.clone());
        tokio::spawn(async move {
            c.request(RequestOptions::new(Method::GET, "/x").cancel(token))
                .await
        })
    };
    failing.wait_for_requests(1).await;
    token.cancel();
    let e = within("the call cancelled during its backoff", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(failing.requests().len(), 1);
    // Already cancelled when the call is made: it ends at once, and nothing is sent, whether it
    // could have shared an identical GET or not.
    for dedup in [true, false] {
        let token = CancellationToken::new();
        token.cancel();
        let mut opts = RequestOptions::new(Method::GET, "/x").cancel(token);
        opts.dedup = dedup;
        let e = c.request(opts).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Cancelled);
        assert!(e.message().contains("cancelled by the caller"), "{e}");
        assert!(
            e.request_id().is_some(),
            "the call's context is on the error"
        );
    }
    assert_eq!(failing.requests().len(), 1, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_drains_in_flight_requests_and_refuses_new_ones() {
    // The three calls are held at the server until the drain has begun.
    let gate = Gate::new();
    let server = held_server(&gate).await;
    let c = connected(separate_calls(&server.url())).await;
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get("/x").await })
        })
        .collect();
    server.wait_for_requests(3).await;
    let c2 = c.clone();
    let disconnecting = tokio::spawn(async move { c2.disconnect(Duration::from_secs(30)).await });
    until("the drain to begin", || !c.is_connected()).await;
    let refused = c.get("/x").await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Cancelled);
    assert!(refused.message().contains("disconnecting"));
    assert!(
        !disconnecting.is_finished(),
        "draining while calls are held"
    );
    gate.open();
    let report = within("the drain", disconnecting).await.unwrap();
    assert_eq!(report.in_flight_at_start, 3);
    assert_eq!(report.cancelled, 0);
    for h in calls {
        assert_eq!(
            h.await.unwrap().unwrap().status,
            200,
            "in-flight requests completed"
        );
    }
    assert!(!c.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_cancels_what_outlives_the_deadline() {
    // A server that never answers: the calls outlive any deadline.
    let server = held_server(&Gate::new()).await;
    let c = connected(separate_calls(&server.url())).await;
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get("/x").await })
        })
        .collect();
    server.wait_for_requests(2).await;
    let started = Instant::now();
    let report = within("disconnect", c.disconnect(Duration::from_millis(200))).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(200) + LATE,
        "{took:?}"
    );
    assert_eq!(report.in_flight_at_start, 2);
    assert_eq!(report.cancelled, 2);
    for h in calls {
        let e = h.await.unwrap().unwrap_err();
        assert_eq!(e.code(), ErrorCode::Cancelled);
        assert!(e.message().contains("disconnecting"), "{e}");
    }
    // Connected again, a call is not cancelled by the earlier disconnect: it reaches the server
    // and waits there with the others, until its own deadline.
    c.connect().await.unwrap();
    let again = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/x").await })
    };
    server.wait_for_requests(3).await;
    assert!(!again.is_finished(), "the new call waits for its answer");
    let report = within("disconnect", c.disconnect(Duration::from_millis(50))).await;
    assert_eq!((report.in_flight_at_start, report.cancelled), (1, 1));
    let e = again.await.unwrap().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
}

#[tokio::test]
async fn garbage_from_the_server_is_an_error_not_a_panic() {
    // A raw TCP peer that answers with something that is not HTTP, then one that closes mid-body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut n = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            if n % 2 == 0 {
                let _ = s.write_all(b"SSH-2.0-OpenSSH\r\n\r\n").await;
            } else {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"trunc")
                    .await;
            }
            n += 1;
        }
    });
    let c = connected(ConnectorConfig {
        retry: RetryConfig::disabled(),
        ..ConnectorConfig::new(format!("http://{addr}"))
    })
    .await;
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    assert!(
        e.message().contains("cut short") || e.message().contains("failed"),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn the_request_id_goes_out_under_the_configured_name_in_any_spelling() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    for (configured, sent_as, other) in [
        ("X-Request-ID", "x-request-id", "x-trace-id"),
        ("X-Trace-Id", "x-trace-id", "x-request-id"),
    ] {
        let c = connected(ConnectorConfig {
            request_id_header: configured.to_owned(),
            ..ConnectorConfig::new(server.url())
        })
        .await;
        let r = c.get("/x").await.unwrap();
        let sent = server.requests();
        let last = sent.last().unwrap();
        assert_eq!(
            last.headers[sent_as].to_str().unwrap(),
            r.meta.request_id,
            "{configured}: the call's id under {sent_as}"
        );
        assert!(
            !last.headers.contains_key(other),
            "{configured}: not under {other}"
        );
        // A call that brings its own id keeps it, under the same name.
        let mut opts = connector_runtime::RequestOptions::new(http::Method::GET, "/x");
        opts.headers
            .insert(sent_as, http::HeaderValue::from_static("mine-1"));
        let r = c.request(opts).await.unwrap();
        assert_eq!(r.meta.request_id, "mine-1");
        let sent = server.requests();
        let all: Vec<_> = sent
            .last()
            .unwrap()
            .headers
            .get_all(sent_as)
            .iter()
            .collect();
        assert_eq!(all, ["mine-1"], "{configured}: one id, the caller's");
    }
}

#[tokio::test]
async fn a_call_held_through_a_whole_disconnect_sends_nothing_more_when_polled_again() {
    // The call is held (not polled) while it backs off after a 503; `disconnect` passes both its
    // deadlines and leaves it behind. Polled again after its back-off, it would start its second
    // attempt on a connector with no transport: it ends CANCELLED and the server sees one request.
    // Both forms of an attempt: with the onRetry hook still registered (the hook context), and
    // with it removed before the second attempt (the direct form).
    for keep_hook in [false, true] {
        let server = CountingServer::start(|_, _| async move { reply(503, "{}") }).await;
        let retried = std::sync::Arc::new(tokio::sync::Notify::new());
        let signal = retried.clone();
        let mut cfg = separate_calls(&server.url());
        // 50 ms back-off, no jitter: over well before the disconnect's two 100 ms deadlines.
        cfg.retry = RetryConfig {
            jitter: false,
            ..support::fast_retry(2)
        };
        let c = Connector::builder(cfg)
            .hook(
                connector_runtime::HookType::OnRetry,
                connector_runtime::hook_fn("retrying", 0, move |_| {
                    signal.notify_one();
                    Ok(())
                }),
            )
            .build()
            .unwrap();
        c.connect().await.unwrap();
        let mut call = Box::pin(c.get("/x"));
        // Polled until the onRetry hook ran: in the same poll the call began its back-off.
        tokio::select! {
            biased;
            r = &mut call => panic!("the call ended before retrying: {r:?}"),
            _ = retried.notified() => {}
        }
        if !keep_hook {
            assert!(c.hooks().remove("retrying"));
        }
        let report = within("disconnect", c.disconnect(Duration::from_millis(100))).await;
        assert_eq!(
            (
                report.in_flight_at_start,
                report.cancelled,
                report.abandoned
            ),
            (1, 1, 1),
            "keep_hook {keep_hook}"
        );
        let e = within("the held call", call).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Cancelled, "keep_hook {keep_hook}: {e}");
        assert!(
            e.message().contains("disconnected"),
            "keep_hook {keep_hook}: {e}"
        );
        assert_eq!(server.requests().len(), 1, "keep_hook {keep_hook}");
    }
}
