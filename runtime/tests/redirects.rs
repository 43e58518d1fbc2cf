//! Redirects followed by the transport, against real servers on loopback: which method and body
//! each status carries to the target, credentials (the standard headers, the redactor's names, the
//! auth strategy's header) kept on the same origin and dropped on another, no `Referer`, a streamed
//! body's 307 handed back, and the limit an error. Both transports are held to the same rules: the
//! lane (no proxy) and reqwest (with a proxy configured, whose `no_proxy` list sends loopback
//! directly).

mod support;

use connector_runtime::config::ProxyConfig;
use connector_runtime::{
    ApiKey, ApiKeyLocation, Body, ConnectorConfig, ErrorCode, Method, RequestOptions,
};
use std::sync::Arc;
use support::{CountingServer, Seen, connected, redirect, reply};

/// A server that answers `/from/<status>` with that redirect to `/to`, and `/to` with 200.
async fn redirecting(to: Option<String>) -> CountingServer {
    CountingServer::start(move |seen, _| {
        let to = to.clone();
        async move {
            match seen.uri.strip_prefix("/from/") {
                Some(status) => {
                    let target = to.unwrap_or_else(|| "/to".into());
                    redirect(status.parse().unwrap(), &target)
                }
                None => reply(200, "{\"at\":\"to\"}"),
            }
        }
    })
    .await
}

/// The two ways out: the lane, and reqwest (a proxy configured, loopback exempted from it).
fn configs(base: &str) -> Vec<(&'static str, ConnectorConfig)> {
    let lane = ConnectorConfig::new(base);
    let mut via_reqwest = ConnectorConfig::new(base);
    via_reqwest.proxy = Some(ProxyConfig {
        url: "http://127.0.0.1:9".into(),
        username: None,
        password: None,
        no_proxy: Some("127.0.0.1,localhost".into()),
    });
    vec![("lane", lane), ("reqwest", via_reqwest)]
}

fn last(s: &CountingServer) -> Seen {
    s.requests().pop().expect("a request reached the server")
}

#[tokio::test]
async fn each_status_carries_the_method_and_body_its_rules_say() {
    // (status, method sent, method at the target, whether the body goes along)
    let cases = [
        (301, "POST", "GET", false),
        (302, "POST", "GET", false),
        (303, "POST", "GET", false),
        (303, "PUT", "GET", false),
        (301, "PUT", "PUT", true),
        (307, "POST", "POST", true),
        (308, "PATCH", "PATCH", true),
    ];
    let s = redirecting(None).await;
    for (way, cfg) in configs(&s.url()) {
        let c = connected(cfg).await;
        for (status, method, then, body_kept) in cases {
            let opts = RequestOptions::new(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("/from/{status}"),
            )
            .body(Body::json(&serde_json::json!({"n": 1})).unwrap());
            let answer = c.request(opts).await.unwrap();
            assert_eq!(answer.status.as_u16(), 200, "{way} {status} {method}");
            let seen = last(&s);
            let what = format!("{way}: {status} after {method}");
            assert_eq!(
                (seen.uri.as_str(), seen.method.as_str()),
                ("/to", then),
                "{what}"
            );
            if body_kept {
                assert_eq!(&seen.body[..], b"{\"n\":1}", "{what}");
                assert_eq!(seen.headers["content-type"], "application/json", "{what}");
            } else {
                assert!(seen.body.is_empty(), "{what}");
                assert!(!seen.headers.contains_key("content-type"), "{what}");
            }
            assert!(!seen.headers.contains_key("referer"), "{what}: no Referer");
        }
    }
}

#[tokio::test]
async fn credentials_go_along_on_the_same_origin_and_are_dropped_on_another() {
    let target = redirecting(None).await;
    let elsewhere = redirecting(Some(format!("{}/to", target.url()))).await;
    let here = redirecting(None).await;
    // Standard credential headers, a built-in sensitive name, and the auth strategy's own header.
    let credentials = [
        ("authorization", "Bearer s3cret"),
        ("cookie", "session=1"),
        ("x-api-key", "k3y"),
        ("x-vendor-key", "v3ndor"),
    ];
    for (way, cfg) in configs(&here.url()) {
        let c = connected(cfg).await;
        c.set_auth(Some(Arc::new(ApiKey::new(
            "X-Vendor-Key",
            ApiKeyLocation::Header,
            "v3ndor",
        ))));
        let with_credentials = |path: String| {
            let mut opts = RequestOptions::new(Method::GET, path).header("x-trace", "kept");
            for (name, value) in credentials.iter().take(3) {
                opts = opts.header(name, value);
            }
            opts
        };
        c.request(with_credentials("/from/302".into()))
            .await
            .unwrap();
        let seen = last(&here);
        assert_eq!(seen.uri, "/to", "{way}");
        for (name, value) in credentials {
            assert_eq!(
                seen.headers[name], value,
                "{way}: {name} kept on the same origin"
            );
        }

        let answer = c
            .request(with_credentials(format!("{}/from/307", elsewhere.url())))
            .await
            .unwrap();
        assert_eq!(answer.status.as_u16(), 200, "{way}");
        assert_eq!(last(&elsewhere).headers["x-vendor-key"], "v3ndor", "{way}");
        let seen = last(&target);
        assert_eq!(seen.uri, "/to", "{way}");
        for (name, _) in credentials {
            assert!(
                !seen.headers.contains_key(name),
                "{way}: {name} dropped on another origin"
            );
        }
        assert_eq!(seen.headers["x-trace"], "kept", "{way}");
    }
}

#[tokio::test]
async fn more_redirects_than_the_limit_is_an_error_and_the_limit_itself_is_followed() {
    // `/hop/N` redirects to `/hop/N-1`; `/hop/0` answers.
    let s = CountingServer::start(|seen, _| async move {
        let n: u32 = seen.uri.trim_start_matches("/hop/").parse().unwrap();
        match n {
            0 => reply(200, "{}"),
            n => redirect(302, &format!("/hop/{}", n - 1)),
        }
    })
    .await;
    for (way, mut cfg) in configs(&s.url()) {
        cfg.max_redirects = 3;
        let c = connected(cfg).await;
        let before = s.requests().len();
        let ok = c.get("/hop/3").await.unwrap();
        assert_eq!(
            ok.status.as_u16(),
            200,
            "{way}: three redirects are within a limit of 3"
        );
        assert_eq!(s.requests().len() - before, 4, "{way}");

        let before = s.requests().len();
        let e = c.get("/hop/4").await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::NetworkError, "{way}: {e}");
        assert!(e.message().contains("redirect"), "{way}: {e}");
        assert!(!e.is_retryable(), "{way}: the same chain would come again");
        assert_eq!(
            s.requests().len() - before,
            4,
            "{way}: one chain, not retried"
        );
    }
}

#[tokio::test]
async fn a_streamed_body_is_not_sent_again_so_its_307_is_the_answer() {
    let s = redirecting(None).await;
    for (way, cfg) in configs(&s.url()) {
        let c = connected(cfg).await;
        let reader = std::io::Cursor::new(b"streamed bytes".to_vec());
        let opts = RequestOptions::new(Method::PUT, "/from/307")
            .body(Body::reader("application/octet-stream", Some(14), reader).unwrap());
        let answer = c.request(opts).await.unwrap();
        assert_eq!(answer.status.as_u16(), 307, "{way}");
        assert_eq!(answer.headers["location"], "/to", "{way}");
        let seen = last(&s);
        assert_eq!(
            (seen.uri.as_str(), &seen.body[..]),
            ("/from/307", &b"streamed bytes"[..]),
            "{way}"
        );
    }
}

#[tokio::test]
async fn a_location_that_is_not_http_leaves_the_redirect_as_the_answer() {
    for to in ["ftp://127.0.0.1/file", "http://[bad"] {
        let s = redirecting(Some(to.into())).await;
        let c = connected(ConnectorConfig::new(s.url())).await;
        let answer = c.get("/from/302").await.unwrap();
        assert_eq!(answer.status.as_u16(), 302, "{to}");
        assert_eq!(s.requests().len(), 1, "{to}: nothing followed");
    }
}
