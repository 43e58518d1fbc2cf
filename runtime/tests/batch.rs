//! Batches and asynchronous jobs against real servers on loopback: bounded concurrency, results in
//! request order, per-item failures, the exact create/poll/result sequence with growing waits, job
//! failure, deadline, cancellation and `Retry-After` on status polls.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use connector_runtime::batch::{BatchOptions, JobOptions};
use connector_runtime::{
    CancellationToken, ConnectorConfig, ErrorCode, Method, RateLimitConfig, RequestOptions,
    RetryConfig,
};
use http_body_util::Full;
use serde_json::Value;
use support::{CountingServer, Crowd, Gate, LATE, Seen, connected, gaps, reply, within};
use tokio::sync::Notify;

/// Retries off, so every request the server sees is one call; `concurrent` slots in the limiter.
fn config(url: &str, concurrent: usize) -> ConnectorConfig {
    ConnectorConfig {
        retry: RetryConfig::disabled(),
        rate_limit: RateLimitConfig {
            concurrent_requests: concurrent,
            ..RateLimitConfig::default()
        },
        ..ConnectorConfig::new(url)
    }
}

/// Echoes the path after a delay that varies with the item number, so completion order differs from
/// request order; `/item/5` is a 404 and `/item/7` a 500.
async fn echo(s: Seen) -> http::Response<Full<Bytes>> {
    let n: u64 = s.uri.rsplit('/').next().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(if n % 3 == 0 { 90 } else { 30 })).await;
    match n {
        5 => reply(404, r#"{"error":"not found"}"#),
        7 => reply(500, r#"{"error":"boom"}"#),
        _ => reply(200, &format!(r#"{{"path":"{}"}}"#, s.uri)),
    }
}

/// [`echo`] for a batch of `total` items, each held at the server until `limit` are there together (see
/// [`Crowd`]): a batch kept below `limit` shows as a lower peak in flight.
async fn echo_server(limit: usize, total: usize) -> CountingServer {
    let crowd = Crowd::new(limit, total);
    CountingServer::start(move |s, _| {
        let crowd = crowd.clone();
        async move {
            let _inside = crowd.enter().await;
            echo(s).await
        }
    })
    .await
}

fn items(n: usize) -> Vec<RequestOptions> {
    (0..n)
        .map(|i| RequestOptions::new(Method::GET, format!("/item/{i}")))
        .collect()
}

fn check_results(results: &[Result<connector_runtime::Response<Bytes>, connector_runtime::Error>]) {
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        match i {
            5 => {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidRequest);
                assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
            }
            7 => {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.code(), ErrorCode::ServerError);
                assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
            }
            _ => {
                let body: Value = serde_json::from_slice(&r.as_ref().unwrap().data).unwrap();
                assert_eq!(
                    body["path"],
                    format!("/item/{i}"),
                    "result {i} out of order"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_runs_at_the_connector_limit_in_order_with_per_item_failures() {
    let server = echo_server(3, 20).await;
    let connector = connected(config(&server.url(), 3)).await;
    let results = connector.batch(items(20)).await;
    check_results(&results);
    assert_eq!(
        server.requests().len(),
        20,
        "one request per item, no retries"
    );
    assert_eq!(
        server
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_with_bounds_concurrency_below_the_connector_limit() {
    let server = echo_server(3, 20).await;
    let connector = connected(config(&server.url(), 10)).await;
    let results = connector
        .batch_with(
            items(20),
            BatchOptions {
                concurrency: Some(3),
            },
        )
        .await;
    check_results(&results);
    assert_eq!(
        server
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

fn job(status_path: &'static str) -> JobOptions {
    JobOptions::new(RequestOptions::new(Method::POST, "/jobs"), move |id| {
        RequestOptions::new(Method::GET, format!("{status_path}/{id}"))
    })
}

fn lines(server: &CountingServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_creates_polls_with_growing_waits_and_fetches_the_result() {
    let server = CountingServer::start(|s: Seen, i| async move {
        match (s.method.as_str(), s.uri.as_str(), i) {
            ("POST", "/jobs", _) => reply(202, r#"{"id":"j1"}"#),
            ("GET", "/jobs/j1", 1 | 2) => reply(200, r#"{"status":"pending"}"#),
            ("GET", "/jobs/j1", _) => reply(200, r#"{"status":"done"}"#),
            ("GET", "/jobs/j1/result", _) => reply(200, r#"{"rows":3}"#),
            _ => reply(404, "{}"),
        }
    })
    .await;
    let connector = connected(config(&server.url(), 10)).await;
    let options = job("/jobs")
        .backoff(Duration::from_millis(60), 2.0, Duration::from_secs(1))
        .result_request(|id, _| RequestOptions::new(Method::GET, format!("/jobs/{id}/result")));
    let result = connector.run_job(options).await.unwrap();
    assert_eq!(&result.data[..], br#"{"rows":3}"#);
    assert_eq!(
        lines(&server),
        [
            "POST /jobs",
            "GET /jobs/j1",
            "GET /jobs/j1",
            "GET /jobs/j1",
            "GET /jobs/j1/result"
        ]
    );
    let g = gaps(&server.requests());
    for (gap, nominal) in g.iter().zip([60u64, 120, 240]) {
        let nominal = Duration::from_millis(nominal);
        assert!(
            *gap >= nominal && *gap < nominal + LATE,
            "waits {g:?}: expected about {nominal:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_job_is_a_server_error_with_id_and_reason() {
    let server = CountingServer::start(|s: Seen, _| async move {
        match s.method.as_str() {
            "POST" => reply(202, r#"{"id":"j1"}"#),
            _ => reply(200, r#"{"status":"failed","error":"disk full"}"#),
        }
    })
    .await;
    let connector = connected(config(&server.url(), 10)).await;
    let options = job("/jobs").backoff(Duration::from_millis(10), 2.0, Duration::from_secs(1));
    let e = within(
        "a failed status must end the job",
        connector.run_job(options),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerError);
    assert_eq!(e.details()["job_id"], "j1");
    assert_eq!(e.details()["reason"], "disk full");
    assert!(e.message().contains("disk full"), "{}", e.message());
    assert_eq!(lines(&server), ["POST /jobs", "GET /jobs/j1"]);
}

/// Creates `j1`, then answers every status poll `pending`, once `polls` opens (at once if it is open).
async fn forever_pending(polls: &Gate) -> CountingServer {
    let polls = polls.clone();
    CountingServer::start(move |s: Seen, _| {
        let polls = polls.clone();
        async move {
            if s.method == "POST" {
                return reply(202, r#"{"id":"j1"}"#);
            }
            polls.wait().await;
            reply(200, r#"{"status":"pending"}"#)
        }
    })
    .await
}

/// A gate already open.
fn open() -> Gate {
    let g = Gate::new();
    g.open();
    g
}

/// Reads the job id at `/id` and tells `read`: from then on the job waits for its first poll, with
/// nothing else to await in between.
fn signalling_id(
    read: &Arc<Notify>,
) -> impl Fn(&connector_runtime::Response<Bytes>) -> Option<String> + Send + Sync + 'static {
    let read = read.clone();
    move |r| {
        let id = serde_json::from_slice::<Value>(&r.data).ok()?["id"]
            .as_str()?
            .to_owned();
        read.notify_one();
        Some(id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_ends_the_job_as_timeout_promptly() {
    let server = forever_pending(&open()).await;
    let connector = connected(config(&server.url(), 10)).await;
    let options = job("/jobs")
        .backoff(Duration::from_millis(50), 2.0, Duration::from_secs(1))
        .deadline(Duration::from_millis(300));
    let start = Instant::now();
    let e = within("the deadline must end the job", connector.run_job(options))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert_eq!(e.details()["job_id"], "j1");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(300) + LATE,
        "{took:?}"
    );
    // Time enough for the poll that was due next: a poller left behind would show.
    let polls = server.requests().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.requests().len(),
        polls,
        "no polling after the deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_create_token_ends_the_job_while_it_waits() {
    let server = forever_pending(&open()).await;
    let connector = connected(config(&server.url(), 10)).await;
    let token = CancellationToken::new();
    let id_read = Arc::new(Notify::new());
    // A minute before the first poll: only the token can end the job before it.
    let mut options = job("/jobs")
        .backoff(Duration::from_secs(60), 2.0, Duration::from_secs(60))
        .extract_id(signalling_id(&id_read));
    options.create = options.create.cancel(token.clone());
    let run = tokio::spawn(async move { connector.run_job(options).await });
    within("the job id", id_read.notified()).await;
    token.cancel();
    let e = within("cancellation must end the job", run)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(e.details()["job_id"], "j1");
    assert_eq!(lines(&server), ["POST /jobs"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_job_token_ends_a_poll_in_flight() {
    // Status polls are never answered: only the token can end the one in flight.
    let server = forever_pending(&Gate::new()).await;
    let connector = connected(config(&server.url(), 10)).await;
    let token = CancellationToken::new();
    let options = job("/jobs")
        .backoff(Duration::from_millis(10), 2.0, Duration::from_secs(1))
        .cancel(token.clone());
    let run = tokio::spawn(async move { connector.run_job(options).await });
    server.wait_for_requests(2).await;
    token.cancel();
    let e = within("cancellation must end the job", run)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(e.details()["job_id"], "j1");
    assert_eq!(lines(&server), ["POST /jobs", "GET /jobs/j1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_a_status_poll_sets_the_next_wait() {
    let server = CountingServer::start(|s: Seen, i| async move {
        match (s.method.as_str(), i) {
            ("POST", _) => reply(202, r#"{"id":"j1"}"#),
            (_, 1) => {
                let mut r = reply(200, r#"{"status":"running"}"#);
                r.headers_mut()
                    .insert("retry-after", http::HeaderValue::from_static("0.6"));
                r
            }
            _ => reply(200, r#"{"status":"done","rows":3}"#),
        }
    })
    .await;
    let connector = connected(config(&server.url(), 10)).await;
    let options = job("/jobs").backoff(Duration::from_millis(20), 2.0, Duration::from_millis(40));
    let result = connector.run_job(options).await.unwrap();
    assert_eq!(
        &result.data[..],
        br#"{"status":"done","rows":3}"#,
        "the final status is the result"
    );
    assert_eq!(
        lines(&server),
        ["POST /jobs", "GET /jobs/j1", "GET /jobs/j1"]
    );
    let g = gaps(&server.requests());
    assert!(
        g[1] >= Duration::from_millis(600) && g[1] < Duration::from_millis(600) + LATE,
        "{g:?}"
    );
}
