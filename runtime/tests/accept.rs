//! The `Accept` a generated operation sends, as the server sees it: the operation's media type over a
//! configured default `Accept`, and a call's own header over both; two calls that differ only in it are
//! not shared as one.

mod support;

use std::collections::BTreeMap;

use connector_runtime::__private::{Op, send_json, send_text};
use connector_runtime::{CallOptions, ConnectorConfig, Method};
use http::HeaderValue;
use support::{CountingServer, Gate, connected, reply};

fn accepts(server: &CountingServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|s| {
            s.headers
                .get_all("accept")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

#[tokio::test]
async fn the_operations_accept_wins_over_a_default_and_a_calls_header_over_both() {
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let mut config = ConnectorConfig::new(server.url());
    config.default_headers = BTreeMap::from([("accept".to_owned(), "text/plain".to_owned())]);
    let c = connected(config).await;

    send_json::<serde_json::Value>(&c, Op::new(Method::GET, "/a"))
        .await
        .unwrap();
    let mut op = Op::new(Method::GET, "/b");
    op.accept_types("application/vnd.acme.v2+json");
    send_json::<serde_json::Value>(&c, op).await.unwrap();
    let mut op = Op::new(Method::GET, "/c");
    let mut o = CallOptions::default();
    o.headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/cbor"),
    );
    op.apply(o);
    send_json::<serde_json::Value>(&c, op).await.unwrap();
    // An operation that asks for nothing keeps the default.
    send_text(&c, Op::new(Method::GET, "/d")).await.unwrap();

    assert_eq!(
        accepts(&server),
        [
            "application/json",
            "application/vnd.acme.v2+json",
            "application/cbor",
            "text/plain"
        ]
    );
}

#[tokio::test]
async fn calls_that_differ_only_in_accept_are_not_shared() {
    // Both calls are held at the server until both have arrived: shared, only one would.
    let gate = Gate::new();
    let server = CountingServer::held(&gate, 200, "{}").await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let mut csv = Op::new(Method::GET, "/same");
    csv.accept_types("text/csv");
    let json = send_json::<serde_json::Value>(&c, Op::new(Method::GET, "/same"));
    let text = send_text(&c, csv);
    let both = async {
        server.wait_for_requests(2).await;
        gate.open();
    };
    let (a, b, ()) = tokio::join!(json, text, both);
    a.unwrap();
    b.unwrap();
    let mut seen = accepts(&server);
    seen.sort();
    assert_eq!(seen, ["application/json", "text/csv"]);
}
