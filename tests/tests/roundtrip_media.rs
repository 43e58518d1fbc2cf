//! Round trips of media types, servers and query strings through generated clients: the exact
//! `Accept`, `Content-Type`, URL and query a loopback server sees, per-operation servers on a second
//! server, and the values decoded from vendor JSON types and from sequential media (server-sent
//! events, JSON Lines, NDJSON, JSON text sequences).

use std::collections::BTreeMap;

use connector_runtime::{ConnectorConfig, ErrorCode, RetryConfig};
use connector_tests::{media_types, querystring, sequential_media, servers_per_operation};
use futures_util::StreamExt;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A server answering every request with `status`, `content_type` and `body`.
async fn answering(status: u16, content_type: &str, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("content-type", content_type)
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

fn config(base: String) -> ConnectorConfig {
    ConnectorConfig {
        base_url: base,
        retry: RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        },
        ..ConnectorConfig::default()
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

fn header<'r>(r: &'r Request, name: &str) -> Option<&'r str> {
    r.headers
        .get(name)
        .map(|v| v.to_str().expect("ASCII header"))
}

/// The one request a server saw: its path with query, `Accept` and `Content-Type`.
async fn seen(server: &MockServer) -> (String, Option<String>, Option<String>) {
    let all = requests(server).await;
    assert_eq!(all.len(), 1, "expected one request, got {}", all.len());
    let r = &all[0];
    let target = match r.url.query() {
        Some(q) => format!("{}?{q}", r.url.path()),
        None => r.url.path().to_owned(),
    };
    (
        target,
        header(r, "accept").map(str::to_owned),
        header(r, "content-type").map(str::to_owned),
    )
}

async fn media_client(server: &MockServer) -> media_types::Client {
    media_types::Client::new(config(server.uri()))
        .await
        .expect("client")
}

#[tokio::test]
async fn declared_response_media_types_are_the_accept_header_and_vendor_json_decodes() {
    let server = answering(
        200,
        "application/vnd.acme.v2+json",
        r#"{"id":"r1","total":3}"#,
    )
    .await;
    let client = media_client(&server).await;
    let report = client.reports().get_report("r1").send().await.expect("ok");
    assert_eq!(report.data.id, "r1");
    assert_eq!(report.data.total, 3);
    let (target, accept, _) = seen(&server).await;
    assert_eq!(target, "/reports/r1");
    assert_eq!(
        accept.as_deref(),
        Some("application/vnd.acme.v2+json, text/csv, application/problem+json")
    );

    // An error in the declared problem type decodes into its typed body.
    let server = answering(
        404,
        "application/problem+json",
        r#"{"title":"gone","status":404}"#,
    )
    .await;
    let client = media_client(&server).await;
    let err = client
        .reports()
        .get_report("r2")
        .send()
        .await
        .expect_err("404");
    let problem = err
        .body::<media_types::models::Problem>()
        .expect("typed problem");
    assert_eq!(problem.title, "gone");

    // A text-only operation asks for its one type.
    let server = answering(200, "text/csv", "id,total\nr1,3\n").await;
    let client = media_client(&server).await;
    let csv = client.exports().export_csv().send().await.expect("ok");
    assert_eq!(csv.data, "id,total\nr1,3\n");
    let (_, accept, _) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("text/csv"));
}

#[tokio::test]
async fn request_bodies_go_with_their_declared_media_type() {
    let server = answering(201, "application/hal+json", r#"{"name":"w","size":2}"#).await;
    let client = media_client(&server).await;
    let widget = media_types::models::Widget {
        name: "w".into(),
        size: Some(2),
    };
    let made = client
        .widgets()
        .create_widget(widget.clone())
        .send()
        .await
        .expect("ok");
    assert_eq!(made.data, widget);
    let (_, accept, content_type) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("application/hal+json"));
    assert_eq!(content_type.as_deref(), Some("application/vnd.api+json"));
    let body: serde_json::Value =
        serde_json::from_slice(&requests(&server).await[0].body).expect("JSON body");
    assert_eq!(body, json!({"name": "w", "size": 2}));

    let server = answering(200, "application/json", r#"{"name":"v"}"#).await;
    let client = media_client(&server).await;
    let patch = media_types::models::WidgetPatch {
        name: Some("v".into()),
        ..Default::default()
    };
    client
        .widgets()
        .patch_widget("w1", patch)
        .send()
        .await
        .expect("ok");
    let (target, accept, content_type) = seen(&server).await;
    assert_eq!(target, "/widgets/w1");
    assert_eq!(accept.as_deref(), Some("application/json"));
    assert_eq!(
        content_type.as_deref(),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn required_versioning_headers_are_sent_and_can_be_replaced_per_call() {
    let body = r#"{"id":"r","total":1}"#;
    // `Accept` at its default, in place of the declared types.
    let server = answering(200, "application/vnd.acme.v2+json", body).await;
    let client = media_client(&server).await;
    client.versioned().get_versioned().send().await.expect("ok");
    let (_, accept, _) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("application/vnd.acme.v2+json"));
    // Replaced by the builder.
    let server = answering(200, "application/vnd.acme.v2+json", body).await;
    let client = media_client(&server).await;
    client
        .versioned()
        .get_versioned()
        .accept("application/vnd.acme.v3+json")
        .send()
        .await
        .expect("ok");
    let (_, accept, _) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("application/vnd.acme.v3+json"));

    // `Content-Type` at its single allowed value, then replaced.
    let widget = || media_types::models::Widget {
        name: "w".into(),
        size: None,
    };
    for (set, expected) in [
        (None, "application/vnd.acme.v2+json"),
        (
            Some("application/vnd.acme.v2+json; charset=utf-8"),
            "application/vnd.acme.v2+json; charset=utf-8",
        ),
    ] {
        let server = answering(204, "text/plain", "").await;
        let client = media_client(&server).await;
        let call = client.versioned().put_versioned(widget());
        let call = match set {
            Some(v) => call.content_type(v),
            None => call,
        };
        call.send().await.expect("ok");
        let all = requests(&server).await;
        assert_eq!(all.len(), 1);
        let types: Vec<&str> = all[0]
            .headers
            .get_all("content-type")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(types, vec![expected], "one Content-Type, the chosen one");
    }

    // Without a default, the caller names it.
    let server = answering(204, "text/plain", "").await;
    let client = media_client(&server).await;
    client
        .negotiated()
        .post_negotiated("application/vnd.acme.v2+json", widget())
        .send()
        .await
        .expect("ok");
    let (_, _, content_type) = seen(&server).await;
    assert_eq!(
        content_type.as_deref(),
        Some("application/vnd.acme.v2+json")
    );
}

#[tokio::test]
async fn operations_with_their_own_servers_go_to_them() {
    let root = answering(200, "application/json", r#"["a"]"#).await;
    let uploads = answering(201, "application/json", r#"{"stored":"u1"}"#).await;
    let mut servers = BTreeMap::new();
    servers.insert("https://uploads.example.com/v2".to_owned(), uploads.uri());
    let client = servers_per_operation::Client::new(ConnectorConfig {
        servers,
        ..config(format!("{}/v1", root.uri()))
    })
    .await
    .expect("client");
    // The root server (the configured base).
    let items = client.items().list_items().send().await.expect("ok");
    assert_eq!(items.data, vec!["a".to_owned()]);
    // The path item's server, replaced by name: the second server.
    let stored = client
        .uploads()
        .upload_item(servers_per_operation::models::UploadItemBody { name: "f".into() })
        .send()
        .await
        .expect("ok");
    assert_eq!(stored.data.stored.as_deref(), Some("u1"));
    // A relative server resolves against the configured base; one naming the root server again is
    // the configured base.
    // The root answers every path with the list above, which is no thing: the call reaches the
    // root server (the paths it saw are checked below) and its answer is refused as the wrong shape.
    let thing = client.things().get_beta_thing().send().await;
    assert_eq!(
        thing.as_ref().map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::ParsingError),
        "{thing:?}"
    );
    client.same().get_same().send().await.expect("ok");
    // A server that is no URL at its defaults (a placeholder host) leaves the configured base.
    client.agents().chat_with_agent().send().await.expect("ok");
    let at_root: Vec<String> = requests(&root)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        at_root,
        vec![
            "/v1/items",
            "/beta-api/things",
            "/v1/same",
            "/v1/agents/chat"
        ]
    );
    let at_uploads: Vec<(String, String)> = requests(&uploads)
        .await
        .iter()
        .map(|r| (r.method.to_string(), r.url.path().to_owned()))
        .collect();
    assert_eq!(at_uploads, vec![("POST".to_owned(), "/uploads".to_owned())]);

    // `*` replaces every operation server (a whole client against one mock): the regional one too.
    let mock = answering(200, "application/json", r#"["x"]"#).await;
    let mut servers = BTreeMap::new();
    servers.insert("*".to_owned(), format!("{}/files", mock.uri()));
    let client = servers_per_operation::Client::new(ConnectorConfig {
        servers,
        ..config(format!("{}/v1", root.uri()))
    })
    .await
    .expect("client");
    client.uploads().list_uploads().send().await.expect("ok");
    let (target, _, _) = seen(&mock).await;
    assert_eq!(target, "/files/uploads");
}

#[tokio::test]
async fn a_querystring_parameter_is_the_whole_query() {
    let server = answering(200, "application/json", r#"["hit"]"#).await;
    let client = querystring::Client::new(config(server.uri()))
        .await
        .expect("client");
    let filter = querystring::models::SearchFilter {
        q: "rust lang".into(),
        limit: Some(5),
        tags: Some(vec!["a".into(), "b&c".into()]),
    };
    let hits = client.search().search(filter).send().await.expect("ok");
    assert_eq!(hits.data, vec!["hit".to_owned()]);
    let (target, _, _) = seen(&server).await;
    assert_eq!(target, "/search?q=rust+lang&limit=5&tags=a&tags=b%26c");

    let server = answering(200, "application/json", "{}").await;
    let client = querystring::Client::new(config(server.uri()))
        .await
        .expect("client");
    let selector = querystring::models::LookupSelector {
        id: Some(7),
        fields: Some(vec!["name".into()]),
    };
    client
        .lookup()
        .lookup()
        .selector(selector)
        .send()
        .await
        .expect("ok");
    client.lookup().lookup().send().await.expect("ok");
    let targets: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_owned(),
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            "/lookup?%7B%22id%22%3A7%2C%22fields%22%3A%5B%22name%22%5D%7D".to_owned(),
            "/lookup".to_owned()
        ]
    );
    // The server reads back the JSON it was sent.
    let sent = requests(&server).await[0].url.query().unwrap().to_owned();
    let decoded = percent_decode(&sent);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&decoded).unwrap(),
        json!({"id": 7, "fields": ["name"]})
    );
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn sequential_client(server: &MockServer) -> sequential_media::Client {
    sequential_media::Client::new(config(server.uri()))
        .await
        .expect("client")
}

#[tokio::test]
async fn server_sent_events_decode_their_item_schemas_data() {
    let server = answering(
        200,
        "text/event-stream",
        "event: tick\nid: 1\ndata: {\"seq\":1,\"price\":2.5}\n\ndata: {\"seq\":2,\"price\":3}\n\n",
    )
    .await;
    let client = sequential_client(&server).await;
    let ticks: Vec<(String, i64, f64)> = client
        .ticks()
        .watch_ticks()
        .stream()
        .await
        .expect("opens")
        .map(|e| {
            let e = e.expect("event");
            (e.event, e.data.seq, e.data.price)
        })
        .collect()
        .await;
    assert_eq!(
        ticks,
        vec![("tick".to_owned(), 1, 2.5), ("message".to_owned(), 2, 3.0)]
    );
    let (_, accept, _) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("text/event-stream"));

    let server = answering(200, "text/event-stream", "data: plain words\n\n").await;
    let client = sequential_client(&server).await;
    let texts: Vec<String> = client
        .messages()
        .watch_messages()
        .stream()
        .await
        .expect("opens")
        .map(|e| e.expect("event").data)
        .collect()
        .await;
    assert_eq!(texts, vec!["plain words".to_owned()]);
}

#[tokio::test]
async fn json_lines_and_ndjson_decode_one_item_per_line() {
    let lines =
        "{\"level\":\"info\",\"message\":\"up\"}\n{\"level\":\"warn\",\"message\":\"slow\"}\n";
    for (media, jsonl) in [("application/jsonl", true), ("application/x-ndjson", false)] {
        let server = answering(200, media, lines).await;
        let client = sequential_client(&server).await;
        let stream = if jsonl {
            client.logs().tail_logs().stream().await
        } else {
            client.exports().export_logs().stream().await
        };
        let got: Vec<(String, String)> = stream
            .expect("opens")
            .map(|l| {
                let l = l.expect("line");
                (l.level, l.message)
            })
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                ("info".to_owned(), "up".to_owned()),
                ("warn".to_owned(), "slow".to_owned())
            ]
        );
        let (_, accept, _) = seen(&server).await;
        assert_eq!(accept.as_deref(), Some(media));
    }
}

#[tokio::test]
async fn json_text_sequences_decode_one_item_per_record() {
    let body = "\u{1e}{\"seq\":1,\"price\":1.5}\n\u{1e}{\"seq\":2,\"price\":2}\n\u{1e}{\"seq\":3,";
    let server = answering(200, "application/json-seq", body).await;
    let client = sequential_client(&server).await;
    let got: Vec<Result<(i64, f64), ErrorCode>> = client
        .records()
        .stream_records()
        .stream()
        .await
        .expect("opens")
        .map(|r| r.map(|t| (t.seq, t.price)).map_err(|e| e.code()))
        .collect()
        .await;
    // The last record was cut short: a parsing error, after the two whole ones.
    assert_eq!(
        got,
        vec![Ok((1, 1.5)), Ok((2, 2.0)), Err(ErrorCode::ParsingError)]
    );
    let (_, accept, _) = seen(&server).await;
    assert_eq!(accept.as_deref(), Some("application/json-seq"));
}
