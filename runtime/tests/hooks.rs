//! Hook order, modification of requests and responses, abort, and errors inside hooks.

mod support;

use std::sync::{Arc, Mutex};

use connector_runtime::{
    ConnectorConfig, ErrorCode, ErrorSource, HookType, Method, RequestOptions, StatusCode, hook_fn,
};
use support::{CountingServer, connected, fast_retry, reply};

type Trace = Arc<Mutex<Vec<String>>>;

fn tracer(
    trace: &Trace,
    label: &'static str,
) -> impl Fn(&mut connector_runtime::HookContext) -> Result<(), connector_runtime::HookError>
+ Send
+ Sync
+ 'static {
    let t = trace.clone();
    move |ctx| {
        t.lock().unwrap().push(format!(
            "{}:{label}:{}",
            ctx.hook_type().as_str(),
            ctx.attempt
        ));
        Ok(())
    }
}

#[tokio::test]
async fn hooks_run_by_priority_then_registration_order_at_every_stage() {
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            reply(503, "{}")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let trace: Trace = Arc::default();
    let cfg = ConnectorConfig {
        retry: fast_retry(2),
        ..ConnectorConfig::new(server.url())
    };
    let c = connector_runtime::Connector::builder(cfg)
        .hook(
            HookType::BeforeRequest,
            hook_fn("late", 10, tracer(&trace, "late")),
        )
        .hook(
            HookType::BeforeRequest,
            hook_fn("first-registered", 0, tracer(&trace, "a")),
        )
        .hook(
            HookType::BeforeRequest,
            hook_fn("second-registered", 0, tracer(&trace, "b")),
        )
        .hook(
            HookType::BeforeRequest,
            hook_fn("early", -5, tracer(&trace, "early")),
        )
        .hook(
            HookType::AfterResponse,
            hook_fn("after", 0, tracer(&trace, "after")),
        )
        .hook(HookType::OnError, hook_fn("err", 0, tracer(&trace, "err")))
        .hook(
            HookType::OnRetry,
            hook_fn("retry", 0, tracer(&trace, "retry")),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/x").await.unwrap();
    let got = trace.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            "beforeRequest:early:1",
            "beforeRequest:a:1",
            "beforeRequest:b:1",
            "beforeRequest:late:1",
            "afterResponse:after:1",
            "onError:err:1",
            "onRetry:retry:1",
            "beforeRequest:early:2",
            "beforeRequest:a:2",
            "beforeRequest:b:2",
            "beforeRequest:late:2",
            "afterResponse:after:2",
        ]
    );
}

#[tokio::test]
async fn hooks_registered_at_run_time_apply_and_can_be_removed() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    c.hooks().register(
        HookType::BeforeRequest,
        hook_fn("tag", 0, |ctx| {
            ctx.modify_request(|r| r.set_header("x-tag", "on").unwrap());
            Ok(())
        }),
    );
    c.get("/a").await.unwrap();
    assert!(c.hooks().remove("tag"));
    c.get("/b").await.unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].headers["x-tag"], "on");
    assert!(!seen[1].headers.contains_key("x-tag"));
}

#[tokio::test]
async fn before_request_modifies_the_request_and_metadata_flows_to_later_stages() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{\"n\":1}") }).await;
    let seen_meta = Arc::new(Mutex::new(None));
    let sm = seen_meta.clone();
    let c = connector_runtime::Connector::builder(ConnectorConfig::new(server.url()))
        .hook(
            HookType::BeforeRequest,
            hook_fn("rewrite", 0, |ctx| {
                ctx.modify_request(|r| {
                    r.set_header("x-signed-by", "hook").unwrap();
                    r.add_query("added", "1");
                    r.body = "rewritten".into();
                });
                ctx.metadata
                    .insert("started".into(), serde_json::json!("yes"));
                Ok(())
            }),
        )
        .hook(
            HookType::AfterResponse,
            hook_fn("observe", 0, move |ctx| {
                *sm.lock().unwrap() = ctx.metadata.get("started").cloned();
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.request(RequestOptions::new(Method::PUT, "/x").query("q", "v"))
        .await
        .unwrap();
    let s = &server.requests()[0];
    assert_eq!(s.headers["x-signed-by"], "hook");
    assert_eq!(s.uri, "/x?q=v&added=1");
    assert_eq!(s.body, "rewritten");
    assert_eq!(*seen_meta.lock().unwrap(), Some(serde_json::json!("yes")));
}

#[tokio::test]
async fn after_response_modifies_the_response() {
    let server =
        CountingServer::start(|_, _| async move { reply(500, "{\"wrapped\":{\"id\":7}}") }).await;
    let c = connector_runtime::Connector::builder(ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(server.url())
    })
    .hook(
        HookType::AfterResponse,
        hook_fn("unwrap", 0, |ctx| {
            ctx.modify_response(|r| {
                // A vendor that reports success as 500 with a wrapped body: the hook repairs both.
                r.status = StatusCode::OK;
                r.body = "{\"id\":7}".into();
                r.headers.insert("x-fixed", "1".parse().unwrap());
            });
            Ok(())
        }),
    )
    .build()
    .unwrap();
    c.connect().await.unwrap();
    let r = c.get("/x").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-fixed"], "1");
    let v: connector_runtime::Response<serde_json::Value> = r.json().unwrap();
    assert_eq!(v.data["id"], 7);
    assert_eq!(
        server.requests().len(),
        1,
        "the repaired response is not retried"
    );
}

#[tokio::test]
async fn abort_in_before_request_cancels_without_sending() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let later_ran = Arc::new(Mutex::new(false));
    let lr = later_ran.clone();
    let c = connector_runtime::Connector::builder(ConnectorConfig::new(server.url()))
        .hook(
            HookType::BeforeRequest,
            hook_fn("guard", 0, |ctx| {
                if ctx.request.url.path().starts_with("/admin") {
                    ctx.abort("admin paths are blocked");
                }
                Ok(())
            }),
        )
        .hook(
            HookType::BeforeRequest,
            hook_fn("later", 1, move |_| {
                *lr.lock().unwrap() = true;
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let e = c.get("/admin/users").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(e.source_kind(), ErrorSource::UserHook);
    assert!(e.message().contains("admin paths are blocked"), "{e}");
    assert_eq!(e.details()["hook"], "guard");
    assert!(!e.is_retryable());
    assert!(
        !*later_ran.lock().unwrap(),
        "hooks after an abort do not run"
    );
    assert!(server.requests().is_empty());
    c.get("/public").await.unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn abort_in_on_retry_stops_retrying() {
    let server = CountingServer::start(|_, _| async move { reply(503, "{}") }).await;
    let c = connector_runtime::Connector::builder(ConnectorConfig {
        retry: fast_retry(5),
        ..ConnectorConfig::new(server.url())
    })
    .hook(
        HookType::OnRetry,
        hook_fn("one-retry-only", 0, |ctx| {
            if ctx.attempt >= 2 {
                ctx.abort("enough");
            }
            Ok(())
        }),
    )
    .build()
    .unwrap();
    c.connect().await.unwrap();
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert!(e.message().contains("enough"));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn error_inside_a_hook_is_a_user_hook_error() {
    let server = CountingServer::start(|_, _| async move { reply(200, "{}") }).await;
    let c = connector_runtime::Connector::builder(ConnectorConfig::new(server.url()))
        .hook(
            HookType::AfterResponse,
            hook_fn("validator", 0, |_| Err("schema check failed".into())),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let e = c.get("/x").await.unwrap_err();
    assert_eq!(e.source_kind(), ErrorSource::UserHook);
    assert!(
        e.message()
            .contains("hook `validator` failed at afterResponse: schema check failed"),
        "{e}"
    );
    assert!(
        std::error::Error::source(&e).is_some(),
        "the hook's own error is kept as the source"
    );
}

#[tokio::test]
async fn on_error_hooks_enrich_the_error() {
    let server =
        CountingServer::start(|_, _| async move { reply(404, "{\"message\":\"no such repo\"}") })
            .await;
    let c = connector_runtime::Connector::builder(ConnectorConfig::new(server.url()))
        .hook(
            HookType::OnError,
            hook_fn("enrich", 0, |ctx| {
                let body = ctx
                    .response()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .unwrap_or_default();
                ctx.modify_error(|e| {
                    e.set_message(format!("lookup failed: {body}"));
                    e.insert_detail("tenant", "acme");
                });
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let e = c.get("/repos/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(e.message(), "lookup failed: {\"message\":\"no such repo\"}");
    assert_eq!(e.details()["tenant"], "acme");
}

/// A call no hook, auth or cache observes has its request written straight into the transport's;
/// one a hook observes goes through the hook context. Both forms send the same request on every
/// attempt and report the same answer and the same failure.
#[tokio::test]
async fn an_observed_call_and_an_unobserved_one_send_and_report_alike() {
    // Per server: the first attempt of each call fails with 503, the second answers (`/gone`: 404).
    let start = || {
        CountingServer::start(|seen, i| async move {
            if i % 2 == 0 {
                return reply(503, "{}");
            }
            let mut r = if seen.uri.starts_with("/gone") {
                reply(404, r#"{"error":"no such thing"}"#)
            } else {
                reply(200, r#"{"ok":true}"#)
            };
            r.headers_mut()
                .insert("x-request-id", "from-the-server".parse().unwrap());
            r
        })
    };
    let (plain_server, hooked_server) = (start().await, start().await);
    let config = |url: String| {
        let mut c = ConnectorConfig {
            retry: fast_retry(2),
            ..ConnectorConfig::new(url)
        };
        c.default_headers.insert("x-team".into(), "blue".into());
        c.default_query.insert("v".into(), "7".into());
        c
    };
    let plain = connected(config(plain_server.url())).await;
    let hooked = connector_runtime::Connector::builder(config(hooked_server.url()))
        .hook(HookType::BeforeRequest, hook_fn("looks", 0, |_| Ok(())))
        .build()
        .unwrap();
    hooked.connect().await.unwrap();

    let call = || {
        RequestOptions::new(Method::PUT, "/things/1")
            .query("q", "x y")
            .header("x-call", "1")
            .body(connector_runtime::Body::json(&serde_json::json!({"a": 1})).unwrap())
    };
    let a = plain.request(call()).await.unwrap();
    let b = hooked.request(call()).await.unwrap();
    for r in [&a, &b] {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.data[..], br#"{"ok":true}"#);
        assert_eq!(r.meta.retry_count, 1);
        assert_eq!(r.meta.request_id, "from-the-server");
    }
    let gone = || RequestOptions::new(Method::GET, "/gone");
    let ea = plain.request(gone()).await.unwrap_err();
    let eb = hooked.request(gone()).await.unwrap_err();
    assert_eq!(ea.code(), eb.code());
    assert_eq!(ea.message(), eb.message());
    for e in [&ea, &eb] {
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(e.attempt(), 2);
        assert_eq!(e.request_id(), Some("from-the-server"));
    }

    // The same four requests on the wire, in order; each call's id the same on both its attempts.
    let (seen_a, seen_b) = (plain_server.requests(), hooked_server.requests());
    assert_eq!(seen_a.len(), 4);
    assert_eq!(seen_b.len(), 4);
    let id = |s: &support::Seen| s.headers["x-request-id"].to_str().unwrap().to_owned();
    for seen in [&seen_a, &seen_b] {
        assert_eq!(id(&seen[0]), id(&seen[1]));
        assert_eq!(id(&seen[2]), id(&seen[3]));
        assert_ne!(id(&seen[0]), id(&seen[2]));
    }
    for (x, y) in seen_a.iter().zip(&seen_b) {
        assert_eq!(x.method, y.method);
        assert_eq!(x.uri, y.uri);
        assert_eq!(x.body, y.body);
        let names = |s: &support::Seen| {
            let mut n: Vec<String> = s.headers.keys().map(|k| k.to_string()).collect();
            n.sort();
            n
        };
        assert_eq!(names(x), names(y));
        for name in ["x-team", "x-call", "accept", "content-type", "user-agent"] {
            assert_eq!(x.headers.get(name), y.headers.get(name), "{name}");
        }
    }
    assert_eq!(seen_a[0].uri, "/things/1?v=7&q=x+y");
    assert_eq!(seen_a[0].headers["x-team"], "blue");
    assert_eq!(&seen_a[0].body[..], br#"{"a":1}"#);
}
