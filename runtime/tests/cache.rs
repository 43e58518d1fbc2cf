//! Conditional GETs through the response cache, against a real server that honours `If-None-Match` and
//! `If-Modified-Since`: what is sent, what the server answers, what the caller and hooks see.

mod support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use connector_runtime::observe::{
    CACHE_REVALIDATED_TOTAL, CACHE_STORED_TOTAL, ERRORS_TOTAL, REQUESTS_TOTAL, RETRIES_TOTAL,
};
use connector_runtime::{
    Bearer, CacheConfig, Connector, ConnectorConfig, HookType, Method, RequestOptions, hook_fn,
};
use http_body_util::Full;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::{CountingServer, Seen, connected, fast_retry};

const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

fn cached(url: &str, max_entries: usize) -> ConnectorConfig {
    ConnectorConfig {
        retry: fast_retry(3),
        cache: Some(CacheConfig {
            max_entries,
            ..CacheConfig::default()
        }),
        ..ConnectorConfig::new(url)
    }
}

fn header(s: &Seen, name: &str) -> Option<String> {
    s.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Full<Bytes>> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

/// Answers `/doc` with ETag `"v1"` (304 when asked with it), `/dated` with a Last-Modified date (304
/// when asked with `If-Modified-Since`), and other paths per their name.
async fn validating_server() -> CountingServer {
    CountingServer::start(|s: Seen, _| async move {
        let inm = header(&s, "if-none-match");
        let ims = header(&s, "if-modified-since");
        let path = s.uri.split('?').next().unwrap_or("").to_owned();
        match path.as_str() {
            "/dated" if ims.as_deref() == Some(LAST_MODIFIED) => {
                answer(304, &[("last-modified", LAST_MODIFIED)], "")
            }
            "/dated" => answer(200, &[("last-modified", LAST_MODIFIED)], "{\"dated\":true}"),
            "/no-store" => answer(
                200,
                &[("etag", "\"n\""), ("cache-control", "no-store")],
                "{}",
            ),
            "/vary-star" => answer(200, &[("etag", "\"s\""), ("vary", "*")], "{}"),
            "/no-validator" => answer(200, &[], "{}"),
            _ if inm.as_deref() == Some("\"v1\"") => answer(
                304,
                &[("etag", "\"v1\""), ("x-request-id", "server-304")],
                "",
            ),
            p => answer(
                200,
                &[
                    ("etag", "\"v1\""),
                    ("content-type", "application/json"),
                    ("cache-control", "private, max-age=0"),
                ],
                &format!("{{\"path\":\"{p}\",\"big\":\"{}\"}}", "x".repeat(1000)),
            ),
        }
    })
    .await
}

#[tokio::test]
async fn a_304_is_answered_from_the_cache_as_a_normal_200_and_hooks_see_the_real_exchange() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let server = validating_server().await;
    let seen_by_hooks = Arc::new(Mutex::new(Vec::new()));
    let (before, after) = (seen_by_hooks.clone(), seen_by_hooks.clone());
    let c = Connector::builder(cached(&server.url(), 100))
        .hook(
            HookType::BeforeRequest,
            hook_fn("out", 0, move |ctx| {
                let inm = ctx.request.headers.get("if-none-match").cloned();
                before.lock().unwrap().push(format!("out {inm:?}"));
                Ok(())
            }),
        )
        .hook(
            HookType::AfterResponse,
            hook_fn("in", 0, move |ctx| {
                let r = ctx.response().unwrap();
                after
                    .lock()
                    .unwrap()
                    .push(format!("in {} {}", r.status.as_u16(), r.body.len()));
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();

    let first = c.get("/doc").await.unwrap();
    assert_eq!(first.status, 200);
    assert!(!first.meta.revalidated);
    let second = c.get("/doc").await.unwrap();
    assert_eq!(second.status, 200, "the caller sees the stored 200");
    assert!(second.meta.revalidated);
    assert_eq!(second.meta.retry_count, 0, "a 304 is not retried");
    assert_eq!(second.data, first.data, "the stored body");
    assert_eq!(second.headers["content-type"], "application/json");
    assert_eq!(
        second.meta.request_id, "server-304",
        "headers refreshed from the 304"
    );

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(header(&seen[0], "if-none-match"), None);
    assert_eq!(header(&seen[1], "if-none-match").as_deref(), Some("\"v1\""));
    let body_len = first.data.len();
    assert_eq!(
        *seen_by_hooks.lock().unwrap(),
        vec![
            "out None".to_owned(),
            format!("in 200 {body_len}"),
            "out Some(\"\\\"v1\\\"\")".to_owned(),
            "in 304 0".to_owned(),
        ],
        "hooks see the conditional request and the 304 itself"
    );

    // Metrics: one store, one revalidation; the 304 is an answered attempt, not an error or a retry.
    let snap = snapshotter.snapshot().into_vec();
    let counter = |name: &str, label: Option<(&str, &str)>| -> u64 {
        snap.iter()
            .filter(|(k, _, _, _)| k.key().name() == name)
            .filter(|(k, _, _, _)| {
                label.is_none_or(|(n, v)| k.key().labels().any(|l| l.key() == n && l.value() == v))
            })
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counter(CACHE_STORED_TOTAL, None), 1);
    assert_eq!(
        counter(CACHE_REVALIDATED_TOTAL, Some(("endpoint", "/doc"))),
        1
    );
    assert_eq!(counter(REQUESTS_TOTAL, Some(("status", "304"))), 1);
    assert_eq!(counter(ERRORS_TOTAL, None), 0);
    assert_eq!(counter(RETRIES_TOTAL, None), 0);
}

#[tokio::test]
async fn storing_and_revalidating_are_logged_with_a_cache_field() {
    let (logs, _guard) = support::Logs::capture();
    let server = validating_server().await;
    let c = connected(cached(&server.url(), 100)).await;
    c.get("/doc").await.unwrap();
    c.get("/doc").await.unwrap();
    let text = logs.text();
    let stored = text
        .lines()
        .find(|l| l.contains("cache=\"stored\""))
        .expect(&text);
    let revalidated = text
        .lines()
        .find(|l| l.contains("cache=\"revalidated\""))
        .expect(&text);
    for line in [stored, revalidated] {
        assert!(
            line.contains("connector.request"),
            "inside the request span: {line}"
        );
    }
}

#[tokio::test]
async fn last_modified_is_sent_back_as_if_modified_since() {
    let server = validating_server().await;
    let c = connected(cached(&server.url(), 100)).await;
    let a = c.get("/dated").await.unwrap();
    let b = c.get("/dated").await.unwrap();
    assert!(!a.meta.revalidated && b.meta.revalidated);
    assert_eq!(b.data.as_ref(), b"{\"dated\":true}");
    let seen = server.requests();
    assert_eq!(header(&seen[0], "if-modified-since"), None);
    assert_eq!(
        header(&seen[1], "if-modified-since").as_deref(),
        Some(LAST_MODIFIED)
    );
    assert_eq!(
        header(&seen[1], "if-none-match"),
        None,
        "no ETag was stored"
    );
}

#[tokio::test]
async fn a_changed_resource_replaces_the_stored_answer() {
    let server = CountingServer::start(|s: Seen, i| async move {
        let inm = header(&s, "if-none-match");
        match (i, inm.as_deref()) {
            (0, None) => answer(200, &[("etag", "\"v1\"")], "one"),
            (1, Some("\"v1\"")) => answer(200, &[("etag", "\"v2\"")], "two"),
            (2, Some("\"v2\"")) => answer(304, &[], ""),
            _ => answer(500, &[], "unexpected request"),
        }
    })
    .await;
    let c = connected(cached(&server.url(), 100)).await;
    assert_eq!(c.get("/r").await.unwrap().data.as_ref(), b"one");
    let changed = c.get("/r").await.unwrap();
    assert_eq!(changed.data.as_ref(), b"two");
    assert!(!changed.meta.revalidated);
    let again = c.get("/r").await.unwrap();
    assert_eq!(again.data.as_ref(), b"two");
    assert!(again.meta.revalidated);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn no_store_vary_star_and_answers_without_validator_are_not_stored() {
    let server = validating_server().await;
    let c = connected(cached(&server.url(), 100)).await;
    for path in ["/no-store", "/vary-star", "/no-validator"] {
        c.get(path).await.unwrap();
        let r = c.get(path).await.unwrap();
        assert!(!r.meta.revalidated, "{path}");
    }
    for s in server.requests() {
        assert_eq!(header(&s, "if-none-match"), None, "{}", s.uri);
        assert_eq!(header(&s, "if-modified-since"), None, "{}", s.uri);
    }
}

#[tokio::test]
async fn answers_are_never_shared_across_credentials() {
    let server = validating_server().await;
    let c = connected(cached(&server.url(), 100)).await;
    c.set_auth(Some(Arc::new(Bearer::new("token-a"))));
    c.get("/doc").await.unwrap();
    c.set_auth(Some(Arc::new(Bearer::new("token-b"))));
    let b = c.get("/doc").await.unwrap();
    assert!(!b.meta.revalidated, "token B does not see token A's answer");
    c.set_auth(Some(Arc::new(Bearer::new("token-a"))));
    let a = c.get("/doc").await.unwrap();
    assert!(a.meta.revalidated, "token A revalidates its own answer");
    // A per-call credential header is part of the key as well.
    let per_call = |token: &str| {
        RequestOptions::new(Method::GET, "/other")
            .header("authorization", &format!("Bearer {token}"))
    };
    c.set_auth(None);
    c.request(per_call("one")).await.unwrap();
    let two = c.request(per_call("two")).await.unwrap();
    assert!(!two.meta.revalidated);
    let one = c.request(per_call("one")).await.unwrap();
    assert!(one.meta.revalidated);

    let conditional: Vec<(String, Option<String>)> = server
        .requests()
        .iter()
        .map(|s| {
            (
                header(s, "authorization").unwrap(),
                header(s, "if-none-match"),
            )
        })
        .collect();
    let v1 = Some("\"v1\"".to_owned());
    assert_eq!(
        conditional,
        vec![
            ("Bearer token-a".to_owned(), None),
            ("Bearer token-b".to_owned(), None),
            ("Bearer token-a".to_owned(), v1.clone()),
            ("Bearer one".to_owned(), None),
            ("Bearer two".to_owned(), None),
            ("Bearer one".to_owned(), v1),
        ]
    );
}

#[tokio::test]
async fn the_least_recently_used_answer_is_evicted_beyond_max_entries() {
    let server = validating_server().await;
    let c = connected(cached(&server.url(), 2)).await;
    for path in ["/a", "/b", "/a", "/c"] {
        c.get(path).await.unwrap();
    }
    // /b was the least recently used when /c was stored.
    assert!(c.get("/a").await.unwrap().meta.revalidated);
    assert!(c.get("/c").await.unwrap().meta.revalidated);
    assert!(!c.get("/b").await.unwrap().meta.revalidated, "evicted");

    // max_bytes bounds it too: answers of ~1.4 KiB (body and headers) in a 2000-byte cache leave room for one.
    let mut cfg = cached(&server.url(), 100);
    cfg.cache.as_mut().unwrap().max_bytes = 2000;
    let c = connected(cfg).await;
    c.get("/x").await.unwrap();
    c.get("/y").await.unwrap();
    assert!(
        !c.get("/x").await.unwrap().meta.revalidated,
        "evicted by size"
    );
    assert!(c.get("/x").await.unwrap().meta.revalidated);
    c.clear_cache();
    assert!(!c.get("/x").await.unwrap().meta.revalidated, "cleared");
}

#[tokio::test]
async fn the_cache_is_opt_in_and_can_be_bypassed_per_call() {
    let server = validating_server().await;
    let off = connected(ConnectorConfig::new(server.url())).await;
    off.get("/doc").await.unwrap();
    assert!(!off.get("/doc").await.unwrap().meta.revalidated);

    let on = connected(cached(&server.url(), 100)).await;
    on.get("/doc").await.unwrap();
    let bypass = RequestOptions::new(Method::GET, "/doc").use_cache(false);
    assert!(!on.request(bypass).await.unwrap().meta.revalidated);
    let no_cache = RequestOptions::new(Method::GET, "/doc").header("cache-control", "no-cache");
    assert!(!on.request(no_cache).await.unwrap().meta.revalidated);

    // A caller's own conditional request is left alone: the 304 reaches it as it is.
    let own = RequestOptions::new(Method::GET, "/doc").header("if-none-match", "\"v1\"");
    let r = on.request(own).await.unwrap();
    assert_eq!(r.status, 304);
    assert!(r.data.is_empty() && !r.meta.revalidated);

    let conditional: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|s| header(s, "if-none-match"))
        .collect();
    let v1 = Some("\"v1\"".to_owned());
    assert_eq!(conditional, vec![None, None, None, None, None, v1]);
}

#[tokio::test]
async fn cache_settings_load_from_toml_and_are_validated() {
    let cfg: ConnectorConfig =
        toml::from_str("base_url = \"https://api.example.com\"\n[cache]\nmax_entries = 50\n")
            .unwrap();
    let cache = cfg
        .cache
        .as_ref()
        .expect("a [cache] table turns the cache on");
    assert_eq!(cache.max_entries, 50);
    assert_eq!(cache.max_bytes, CacheConfig::default().max_bytes);
    cfg.validate().unwrap();
    let bad: ConnectorConfig =
        toml::from_str("base_url = \"https://api.example.com\"\n[cache]\nmax_bytes = 0\n").unwrap();
    assert_eq!(
        bad.validate().unwrap_err().details()["field"],
        "cache.max_bytes"
    );
    assert!(toml::from_str::<ConnectorConfig>("[cache]\nmax_entry = 5\n").is_err());
}
