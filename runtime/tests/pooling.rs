//! Connection reuse, counted as TCP connections accepted by a real server: keep-alive reuse, and the
//! `pool` settings (idle connections kept per host, idle timeout) honoured.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use connector_runtime::{ConnectorConfig, Method, RequestOptions};
use futures_util::future::join_all;
use support::{CountingServer, connected, redirect, reply};

async fn server() -> CountingServer {
    CountingServer::start(|_, _| async move { reply(200, "{}") }).await
}

fn connections(s: &CountingServer) -> usize {
    s.connections.load(Ordering::SeqCst)
}

#[tokio::test]
async fn sequential_requests_reuse_one_keep_alive_connection() {
    let s = server().await;
    let c = connected(ConnectorConfig::new(s.url())).await;
    for i in 0..20 {
        c.get(&format!("/items/{i}")).await.unwrap();
    }
    assert_eq!(s.requests().len(), 20);
    assert_eq!(connections(&s), 1, "20 requests over one connection");
}

#[tokio::test]
async fn no_idle_connections_kept_means_a_new_connection_per_request() {
    let s = server().await;
    let mut cfg = ConnectorConfig::new(s.url());
    cfg.pool.max_idle_per_host = 0;
    let c = connected(cfg).await;
    for i in 0..5 {
        c.get(&format!("/items/{i}")).await.unwrap();
    }
    assert_eq!(s.requests().len(), 5);
    assert_eq!(connections(&s), 5);
}

#[tokio::test]
async fn idle_connections_are_dropped_after_the_idle_timeout() {
    let s = server().await;
    let mut cfg = ConnectorConfig::new(s.url());
    cfg.pool.idle_timeout_ms = 100;
    let short = connected(cfg).await;
    short.get("/a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    short.get("/b").await.unwrap();
    assert_eq!(connections(&s), 2, "the idle connection expired");

    let s = server().await;
    let long = connected(ConnectorConfig::new(s.url())).await;
    long.get("/a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    long.get("/b").await.unwrap();
    assert_eq!(connections(&s), 1, "within the default 90 s it is reused");
}

#[tokio::test]
async fn concurrent_calls_open_no_more_connections_than_the_concurrency_cap() {
    let s = CountingServer::start(|_, _| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reply(200, "{}")
    })
    .await;
    let mut cfg = ConnectorConfig::new(s.url());
    cfg.rate_limit.concurrent_requests = 3;
    let c = connected(cfg).await;
    let calls = (0..12).map(|i| c.request(RequestOptions::new(Method::GET, format!("/items/{i}"))));
    assert!(join_all(calls).await.iter().all(|r| r.is_ok()));
    assert_eq!(s.requests().len(), 12);
    assert!(connections(&s) <= 3, "{} connections", connections(&s));
}

/// Redirects: followed by default (the caller sees the target's answer); with `max_redirects = 0` the
/// 3xx itself is the answer, its `Location` intact.
#[tokio::test]
async fn redirects_are_followed_unless_max_redirects_is_zero() {
    let s = CountingServer::start(|seen, _| async move {
        if seen.uri.starts_with("/download") {
            redirect(302, "/blob/1")
        } else {
            reply(200, "{\"blob\":1}")
        }
    })
    .await;
    let c = connected(ConnectorConfig::new(s.url())).await;
    let followed = c.get("/download").await.unwrap();
    assert_eq!(
        (followed.status.as_u16(), &followed.data[..]),
        (200, &b"{\"blob\":1}"[..])
    );

    let mut cfg = ConnectorConfig::new(s.url());
    cfg.max_redirects = 0;
    let c = connected(cfg).await;
    let answer = c.get("/download").await.unwrap();
    assert_eq!(answer.status.as_u16(), 302);
    assert_eq!(answer.headers["location"], "/blob/1");
    let paths: Vec<String> = s.requests().into_iter().map(|r| r.uri).collect();
    assert_eq!(paths, ["/download", "/blob/1", "/download"]);

    let mut cfg = ConnectorConfig::new(s.url());
    cfg.max_redirects = 31;
    assert!(cfg.validate().is_err(), "more than 30 redirects is refused");
}
