//! De-duplication of identical requests in flight, counted at a real server: what is merged (concurrent
//! identical GETs), what never is (other URLs or credentials, sequential calls, POSTs, streams, opt-outs),
//! and that a cancelled leader does not take the followers down with it.

mod support;

use std::time::Duration;

use connector_runtime::observe::DEDUPLICATED_TOTAL;
use connector_runtime::{
    Body, CancellationToken, ConnectorConfig, ErrorCode, Method, RequestOptions,
};
use futures_util::future::join_all;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::{CountingServer, Gate, Seen, connected, fast_retry, reply, until, within};

/// Answers after `delay`, with the request's index and path in the body.
async fn slow_server(delay: Duration) -> CountingServer {
    CountingServer::start(move |s: Seen, i| async move {
        tokio::time::sleep(delay).await;
        match s.uri.as_str() {
            "/missing" => reply(404, "{\"error\":\"gone\"}"),
            uri => reply(200, &format!("{{\"n\":{i},\"uri\":\"{uri}\"}}")),
        }
    })
    .await
}

fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(url)
    }
}

fn get(path: &str) -> RequestOptions {
    RequestOptions::new(Method::GET, path)
}

/// Callers that joined an exchange in flight so far, for `endpoint` (or all when None), as counted by
/// the connector's metrics.
fn joined(snapshotter: &Snapshotter, endpoint: Option<&str>) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, _, _, _)| k.key().name() == DEDUPLICATED_TOTAL)
        .filter(|(k, _, _, _)| endpoint.is_none_or(|e| k.key().labels().any(|l| l.value() == e)))
        .map(|(_, _, _, v)| match v {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

/// A server whose first request is held until `gate` opens and whose second is never answered; the
/// rest are answered at once. The body carries the request's index and path.
async fn held_server(gate: &Gate) -> CountingServer {
    let gate = gate.clone();
    CountingServer::start(move |s: Seen, i| {
        let gate = gate.clone();
        async move {
            match i {
                0 => gate.wait().await,
                1 => std::future::pending().await,
                _ => {}
            }
            reply(200, &format!("{{\"n\":{i},\"uri\":\"{}\"}}", s.uri))
        }
    })
    .await
}

#[tokio::test]
async fn concurrent_identical_gets_send_one_request_and_all_get_the_same_answer() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let server = slow_server(Duration::from_millis(200)).await;
    let c = connected(config(&server.url())).await;
    let answers =
        join_all((0..10).map(|_| c.request(get("/items?page=2").endpoint("/items")))).await;
    assert_eq!(server.requests().len(), 1, "one request for ten callers");
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    for a in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(a.data.as_ref(), b"{\"n\":0,\"uri\":\"/items?page=2\"}");
        assert_eq!(a.meta.request_id, answers[0].meta.request_id);
    }
    let followers = answers.iter().filter(|a| a.meta.deduplicated).count();
    assert_eq!(followers, 9, "everyone but the leader is marked");

    assert_eq!(joined(&snapshotter, Some("/items")), 9);
}

#[tokio::test]
async fn a_shared_call_is_logged_with_a_deduplicated_field() {
    let (logs, _guard) = support::Logs::capture();
    let server = slow_server(Duration::from_millis(100)).await;
    let c = connected(config(&server.url())).await;
    join_all((0..3).map(|_| c.request(get("/x").endpoint("/x")))).await;
    let text = logs.text();
    let shared = text
        .lines()
        .filter(|l| l.contains("deduplicated=true"))
        .count();
    assert_eq!(shared, 2, "{text}");
}

#[tokio::test]
async fn errors_are_shared_like_answers() {
    let server = slow_server(Duration::from_millis(150)).await;
    let c = connected(config(&server.url())).await;
    let results = join_all((0..5).map(|_| c.get("/missing"))).await;
    assert_eq!(server.requests().len(), 1);
    for r in results {
        let e = r.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
        assert_eq!(e.raw_body().unwrap().as_ref(), b"{\"error\":\"gone\"}");
    }
}

#[tokio::test]
async fn different_urls_headers_or_credentials_are_separate_requests() {
    let server = slow_server(Duration::from_millis(150)).await;
    let c = connected(config(&server.url())).await;
    let calls = vec![
        get("/a"),
        get("/a"), // merged with the first
        get("/b"),
        get("/a").query("page", "2"),
        get("/a").header("authorization", "Bearer one"),
        get("/a").header("authorization", "Bearer two"),
        get("/a").header("accept", "text/csv"),
        RequestOptions::new(Method::HEAD, "/a"),
    ];
    let results = join_all(calls.into_iter().map(|o| c.request(o))).await;
    for r in &results {
        assert_eq!(r.as_ref().unwrap().status, 200);
    }
    assert_eq!(server.requests().len(), 7);
    assert!(results[1].as_ref().unwrap().meta.deduplicated);
    let mut uris: Vec<String> = server.requests().into_iter().map(|s| s.uri).collect();
    uris.sort();
    assert_eq!(uris, ["/a", "/a", "/a", "/a", "/a", "/a?page=2", "/b"]);
}

#[tokio::test]
async fn sequential_gets_are_not_merged() {
    let server = slow_server(Duration::from_millis(10)).await;
    let c = connected(config(&server.url())).await;
    for i in 0..3 {
        let r = c.get("/x").await.unwrap();
        assert!(!r.meta.deduplicated);
        assert_eq!(
            r.data.as_ref(),
            format!("{{\"n\":{i},\"uri\":\"/x\"}}").as_bytes()
        );
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn unsafe_methods_are_never_merged() {
    let server = slow_server(Duration::from_millis(150)).await;
    let c = connected(config(&server.url())).await;
    let posts =
        join_all((0..4).map(|_| c.post("/x", Body::json(&serde_json::json!({"a": 1})).unwrap())))
            .await;
    let deletes = join_all((0..3).map(|_| c.delete("/x"))).await;
    assert!(posts.iter().chain(&deletes).all(|r| r.is_ok()));
    assert_eq!(server.requests().len(), 7);
}

#[tokio::test]
async fn streams_and_opted_out_calls_are_never_merged() {
    let server = slow_server(Duration::from_millis(150)).await;
    let c = connected(config(&server.url())).await;
    let streams = join_all((0..3).map(|_| c.request_stream(get("/s")))).await;
    assert!(streams.iter().all(|r| r.is_ok()));
    assert_eq!(server.requests().len(), 3, "streams each send their own");

    let opted_out = join_all((0..3).map(|_| c.request(get("/o").dedup(false)))).await;
    assert!(
        opted_out
            .iter()
            .all(|r| !r.as_ref().unwrap().meta.deduplicated)
    );
    assert_eq!(server.requests().len(), 6, "per-call opt-out");

    let mut cfg = config(&server.url());
    cfg.dedup.enabled = false;
    let off = connected(cfg).await;
    join_all((0..3).map(|_| off.get("/o"))).await;
    assert_eq!(
        server.requests().len(),
        9,
        "switched off in the configuration"
    );
}

// Current-thread: the callers' tasks count into this thread's metrics recorder.
#[tokio::test]
async fn a_cancelled_leader_does_not_cancel_the_followers() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    // The exchange is held at the server until the gate opens.
    let gate = Gate::new();
    let server = held_server(&gate).await;
    let c = connected(config(&server.url())).await;
    let token = CancellationToken::new();
    let leader = {
        let c = c.clone();
        let token = token.clone();
        tokio::spawn(async move { c.request(get("/x").cancel(token)).await })
    };
    server.wait_for_requests(1).await;
    let followers: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get("/x").await })
        })
        .collect();
    until("the three followers to join", || {
        joined(&snapshotter, None) == 3
    })
    .await;
    token.cancel();
    // The exchange is still held: only its own token can end the leader's call.
    let e = within("the leader stops at once", leader)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    gate.open();
    for f in followers {
        let r = f.await.unwrap().unwrap();
        assert_eq!(r.data.as_ref(), b"{\"n\":0,\"uri\":\"/x\"}");
        assert!(r.meta.deduplicated);
    }
    assert_eq!(
        server.requests().len(),
        1,
        "the followers got the leader's exchange"
    );

    // When every caller is gone, the next call starts afresh rather than joining a dead exchange.
    let token = CancellationToken::new();
    let lone = {
        let c = c.clone();
        let token = token.clone();
        tokio::spawn(async move { c.request(get("/y").cancel(token)).await })
    };
    server.wait_for_requests(2).await;
    token.cancel();
    assert_eq!(
        lone.await.unwrap().unwrap_err().code(),
        ErrorCode::Cancelled
    );
    let r = c.get("/y").await.unwrap();
    assert!(!r.meta.deduplicated);
    assert_eq!(r.data.as_ref(), b"{\"n\":2,\"uri\":\"/y\"}");
    assert_eq!(server.requests().len(), 3);
}

// Current-thread: the callers' tasks count into this thread's metrics recorder.
#[tokio::test]
async fn disconnect_drains_a_shared_request_for_every_caller() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    // The exchange is held at the server until the drain has begun.
    let gate = Gate::new();
    let server = held_server(&gate).await;
    let c = connected(config(&server.url())).await;
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get("/x").await })
        })
        .collect();
    server.wait_for_requests(1).await;
    until("the two followers to join", || {
        joined(&snapshotter, None) == 2
    })
    .await;
    let c2 = c.clone();
    let disconnecting = tokio::spawn(async move { c2.disconnect(Duration::from_secs(30)).await });
    until("the drain to begin", || !c.is_connected()).await;
    gate.open();
    let report = within("the drain", disconnecting).await.unwrap();
    assert_eq!(
        report.in_flight_at_start, 1,
        "one exchange in flight for three callers"
    );
    assert_eq!(report.cancelled, 0);
    for h in calls {
        assert_eq!(h.await.unwrap().unwrap().status, 200);
    }
    assert_eq!(server.requests().len(), 1);
    // A disconnected connector refuses a new caller rather than joining anything.
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn dedup_settings_load_from_toml() {
    let cfg: ConnectorConfig =
        toml::from_str("base_url = \"https://api.example.com\"\n[dedup]\nenabled = false\n")
            .unwrap();
    assert!(!cfg.dedup.enabled);
    assert!(
        ConnectorConfig::new("https://api.example.com")
            .dedup
            .enabled
    );
}
