//! Generated `paginate()`, `stream()` and webhook events of the paging fixture, against loopback
//! servers answering in each vendor style: every item arrives once, in order, with exactly the
//! requests the style needs, and typed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_runtime::ConnectorConfig;
use connector_tests::paging::{Client, models, webhook_events::WebhookEvent};
use futures_util::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOTAL: usize = 23;

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Answers list pages in one style over `TOTAL` items, counting requests.
struct Pager {
    style: fn(&Request, usize) -> ResponseTemplate,
    hits: Arc<AtomicUsize>,
}

impl Respond for Pager {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.hits.fetch_add(1, Ordering::SeqCst);
        (self.style)(req, TOTAL)
    }
}

async fn serve(
    route: &str,
    style: fn(&Request, usize) -> ResponseTemplate,
) -> (MockServer, Client, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(Pager {
            style,
            hits: hits.clone(),
        })
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    (server, client, hits)
}

/// `http://host:port` of the server, as the client addressed it.
fn origin(req: &Request) -> String {
    let host = req.headers.get("host").and_then(|h| h.to_str().ok());
    format!("http://{}", host.expect("a Host header"))
}

fn size(req: &Request, name: &str) -> usize {
    query(req, name).and_then(|v| v.parse().ok()).unwrap_or(10)
}

#[tokio::test]
async fn link_header_pages_follow_rel_next_until_it_is_gone() {
    let (server, client, hits) = serve("/repos", |req, total| {
        let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per = size(req, "per_page");
        let from = (page - 1) * per;
        let items: Vec<Value> = (from..(from + per).min(total))
            .map(|i| json!({"id": i, "name": format!("r{i}")}))
            .collect();
        let mut t = ResponseTemplate::new(200).set_body_json(items);
        if from + per < total {
            let base = origin(req);
            t = t.insert_header(
                "link",
                format!(
                    "<{base}/repos?per_page={per}&page={}>; rel=\"next\", <{base}/repos?page=1>; rel=\"first\"",
                    page + 1
                )
                .as_str(),
            );
        }
        t
    })
    .await;
    let repos: Vec<models::Repo> = client
        .linked()
        .list_repos()
        .per_page(5)
        .paginate()
        .map(|r| r.expect("repo"))
        .collect()
        .await;
    assert_eq!(repos.len(), TOTAL);
    assert!(repos.iter().enumerate().all(|(i, r)| r.id == i as i64));
    assert_eq!(hits.load(Ordering::SeqCst), 5, "ceil(23 / 5) pages");
    drop(server);
}

#[tokio::test]
async fn stripe_style_cursor_is_the_last_id_while_has_more() {
    let (_server, client, hits) = serve("/customers", |req, total| {
        let limit = size(req, "limit");
        let from = query(req, "starting_after")
            .map(|id| id.trim_start_matches("cus_").parse::<usize>().unwrap() + 1)
            .unwrap_or(0);
        let to = (from + limit).min(total);
        let data: Vec<Value> = (from..to)
            .map(|i| json!({"id": format!("cus_{i}")}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "has_more": to < total}))
    })
    .await;
    let ids: Vec<String> = client
        .cursors()
        .list_customers()
        .limit(10)
        .paginate()
        .map(|c| c.expect("customer").id)
        .collect()
        .await;
    let want: Vec<String> = (0..TOTAL).map(|i| format!("cus_{i}")).collect();
    assert_eq!(ids, want);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "no request after has_more=false"
    );
}

#[tokio::test]
async fn a_cursor_set_on_the_builder_is_where_the_listing_starts() {
    let (_server, client, hits) = serve("/customers", |req, total| {
        let limit = size(req, "limit");
        let from = query(req, "starting_after")
            .map(|id| id.trim_start_matches("cus_").parse::<usize>().unwrap() + 1)
            .unwrap_or(0);
        // The start cursor must not be sent twice beside the paginator's own.
        assert!(
            req.url
                .query_pairs()
                .filter(|(k, _)| k == "starting_after")
                .count()
                <= 1
        );
        let to = (from + limit).min(total);
        let data: Vec<Value> = (from..to)
            .map(|i| json!({"id": format!("cus_{i}")}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "has_more": to < total}))
    })
    .await;
    let ids: Vec<String> = client
        .cursors()
        .list_customers()
        .limit(10)
        .starting_after("cus_14")
        .paginate()
        .map(|c| c.expect("customer").id)
        .collect()
        .await;
    let want: Vec<String> = (15..TOTAL).map(|i| format!("cus_{i}")).collect();
    assert_eq!(ids, want);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slack_style_cursor_ends_on_an_empty_next_cursor() {
    let (_server, client, hits) = serve("/channels", |req, total| {
        let limit = size(req, "limit");
        let from: usize = query(req, "cursor")
            .map(|c| c.parse().unwrap())
            .unwrap_or(0);
        let to = (from + limit).min(total);
        let channels: Vec<Value> = (from..to).map(|i| json!({"id": format!("C{i}")})).collect();
        let next = if to < total {
            to.to_string()
        } else {
            String::new()
        };
        ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": next}}),
        )
    })
    .await;
    let ids: Vec<String> = client
        .cursors()
        .list_channels()
        .limit(8)
        .paginate()
        .map(|c| c.expect("channel").id.expect("id"))
        .collect()
        .await;
    assert_eq!(ids.len(), TOTAL);
    assert_eq!(ids[22], "C22");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn asana_style_offset_token_ends_on_a_null_next_page() {
    let (_server, client, hits) = serve("/tasks", |req, total| {
        let limit = size(req, "limit");
        let from: usize = query(req, "offset")
            .map(|o| o.trim_start_matches("tok").parse().unwrap())
            .unwrap_or(0);
        let to = (from + limit).min(total);
        let data: Vec<Value> = (from..to).map(|i| json!({"gid": i.to_string()})).collect();
        let next = if to < total {
            json!({"offset": format!("tok{to}"), "path": "/tasks"})
        } else {
            Value::Null
        };
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_page": next}))
    })
    .await;
    let gids: Vec<String> = client
        .offsets()
        .list_tasks()
        .limit(10)
        .paginate()
        .map(|t| t.expect("task").gid.expect("gid"))
        .collect()
        .await;
    assert_eq!(gids.len(), TOTAL);
    assert_eq!(gids.last().map(String::as_str), Some("22"));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn digitalocean_style_pages_end_when_links_pages_has_no_next() {
    let (_server, client, hits) = serve("/droplets", |req, total| {
        let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per = size(req, "per_page");
        let from = (page - 1) * per;
        let to = (from + per).min(total);
        let droplets: Vec<Value> = (from..to).map(|i| json!({"id": i})).collect();
        let pages = if to < total {
            json!({"next": format!("https://api.example.com/droplets?page={}", page + 1)})
        } else {
            json!({"prev": "https://api.example.com/droplets?page=1"})
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"droplets": droplets, "links": {"pages": pages}}))
    })
    .await;
    // 20 per page: the last page is short, but the answer already says it is the last.
    let ids: Vec<i64> = client
        .pages()
        .list_droplets()
        .per_page(20)
        .paginate()
        .map(|d| d.expect("droplet").id.expect("id"))
        .collect()
        .await;
    assert_eq!(ids, (0..TOTAL as i64).collect::<Vec<_>>());
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn twilio_style_next_page_uri_is_followed_relative_to_the_base() {
    let (_server, client, hits) = serve("/calls", |req, total| {
        let per = size(req, "PageSize");
        let from: usize = query(req, "PageToken")
            .map(|t| t.parse().unwrap())
            .unwrap_or(0);
        let to = (from + per).min(total);
        let calls: Vec<Value> = (from..to)
            .map(|i| json!({"sid": format!("CA{i}")}))
            .collect();
        let next = (to < total).then(|| format!("/calls?PageSize={per}&PageToken={to}"));
        ResponseTemplate::new(200).set_body_json(json!({"calls": calls, "next_page_uri": next}))
    })
    .await;
    let sids: Vec<String> = client
        .urls()
        .list_calls()
        .page_size(7)
        .paginate()
        .map(|c| c.expect("call").sid.expect("sid"))
        .collect()
        .await;
    assert_eq!(sids.len(), TOTAL);
    assert_eq!(sids[7], "CA7");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_failed_page_resumes_from_the_checkpoint_with_nothing_lost_or_repeated() {
    static FAIL_ONCE: AtomicUsize = AtomicUsize::new(0);
    let (_server, client, hits) = serve("/customers", |req, total| {
        let from = query(req, "starting_after")
            .map(|id| id.trim_start_matches("cus_").parse::<usize>().unwrap() + 1)
            .unwrap_or(0);
        if from == 10 && FAIL_ONCE.fetch_add(1, Ordering::SeqCst) == 0 {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "try later"}));
        }
        let to = (from + 5).min(total);
        let data: Vec<Value> = (from..to)
            .map(|i| json!({"id": format!("cus_{i}")}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "has_more": to < total}))
    })
    .await;
    let mut seen = Vec::new();
    let mut items = client.cursors().list_customers().paginate();
    let mut failed = false;
    while let Some(item) = items.next().await {
        match item {
            Ok(c) => seen.push(c.id),
            Err(e) => {
                assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
                failed = true;
            }
        }
    }
    assert!(failed);
    assert_eq!(seen.len(), 10);
    let checkpoint = items.checkpoint();
    let rest = client
        .cursors()
        .list_customers()
        .paginate_with(|o| o.resume_from(checkpoint))
        .map(|c| c.expect("customer").id);
    seen.extend(rest.collect::<Vec<_>>().await);
    let want: Vec<String> = (0..TOTAL).map(|i| format!("cus_{i}")).collect();
    assert_eq!(seen, want);
    // 2 pages, the failure, then pages from 10, 15, 20.
    assert_eq!(hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn extension_declared_cursor_and_next_link_paginate() {
    let (_server, client, hits) = serve("/widgets", |req, total| {
        let max = size(req, "max");
        let from: usize = query(req, "token").map(|t| t.parse().unwrap()).unwrap_or(0);
        let to = (from + max).min(total);
        let widgets: Vec<String> = (from..to).map(|i| format!("w{i}")).collect();
        let next = if to < total {
            to.to_string()
        } else {
            String::new()
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"result": {"widgets": widgets, "next": next}}))
    })
    .await;
    let widgets: Vec<String> = client
        .extensions()
        .list_widgets()
        .max(12)
        .paginate()
        .map(|w| w.expect("widget"))
        .collect()
        .await;
    assert_eq!(widgets.len(), TOTAL);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let (_server, client, hits) = serve("/vaults", |req, total| {
        let skip: usize = query(req, "skip").map(|t| t.parse().unwrap()).unwrap_or(0);
        let to = (skip + 10).min(total);
        let value: Vec<Value> = (skip..to).map(|i| json!({"id": i, "name": "v"})).collect();
        let mut body = json!({ "value": value });
        if to < total {
            body["nextLink"] = json!(format!("{}/vaults?skip={to}", origin(req)));
        }
        ResponseTemplate::new(200).set_body_json(body)
    })
    .await;
    let ids: Vec<i64> = client
        .extensions()
        .list_vaults()
        .paginate()
        .map(|v| v.expect("vault").id)
        .collect()
        .await;
    assert_eq!(ids, (0..TOTAL as i64).collect::<Vec<_>>());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failed_first_page_is_an_item_and_ends_the_stream() {
    let client = Client::new(ConnectorConfig {
        base_url: "http://127.0.0.1:9".into(),
        retry: connector_runtime::RetryConfig {
            max_attempts: 1,
            ..Default::default()
        },
        ..Client::config()
    })
    .await
    .expect("client");
    let mut items = client.cursors().list_customers().paginate();
    let first = items.next().await.expect("an item");
    assert_eq!(
        first.expect_err("no server").code(),
        connector_runtime::ErrorCode::NetworkError
    );
    assert!(
        items.next().await.is_none(),
        "the stream ends after an error"
    );
}

#[tokio::test]
async fn stream_sets_the_flag_asks_for_events_and_decodes_typed_chunks() {
    let server = MockServer::start().await;
    struct Sse;
    impl Respond for Sse {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            let accept = req
                .headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if body["stream"] != json!(true) || accept != "text/event-stream" {
                return ResponseTemplate::new(400);
            }
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(
                    ": keep-alive\n\ndata: {\"delta\":\"Hel\"}\n\ndata: {\"delta\":\"lo\"}\n\ndata: [DONE]\n\n",
                )
        }
    }
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(Sse)
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let body = models::CreateChatBody {
        prompt: "hi".into(),
        stream: None,
    };
    let events = client
        .streams()
        .create_chat(body)
        .stream()
        .await
        .expect("stream opens");
    let text: String = events
        .map(|e| e.expect("event").data.delta.unwrap_or_default())
        .collect::<Vec<_>>()
        .await
        .concat();
    assert_eq!(text, "Hello");
}

#[tokio::test]
async fn ndjson_and_untyped_event_streams_decode() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/logs"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-ndjson")
                .set_body_string("{\"line\":\"a\"}\n{\"line\":\"b\"}\n"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ticker"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string("event: tick\ndata: 1\n\ndata: two\ndata: lines\n\n"),
        )
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let lines: Vec<Option<String>> = client
        .streams()
        .tail_logs()
        .stream()
        .await
        .expect("opens")
        .map(|l| l.expect("line").line)
        .collect()
        .await;
    assert_eq!(lines, vec![Some("a".into()), Some("b".into())]);
    let events: Vec<(String, String)> = client
        .streams()
        .ticker()
        .stream()
        .await
        .expect("opens")
        .map(|e| {
            let e = e.expect("event");
            (e.event, e.data)
        })
        .collect()
        .await;
    assert_eq!(
        events,
        vec![
            ("tick".to_owned(), "1".to_owned()),
            ("message".to_owned(), "two\nlines".to_owned())
        ]
    );
}

#[test]
fn webhook_deliveries_decode_by_name_into_typed_events() {
    assert_eq!(WebhookEvent::NAMES, &["repo-created", "customer.deleted"]);
    let e = WebhookEvent::parse(
        "repo-created",
        br#"{"action":"created","repo":{"id":7,"name":"x"}}"#,
    )
    .expect("decodes");
    assert_eq!(e.name(), "repo-created");
    match e {
        WebhookEvent::RepoCreated(p) => {
            assert_eq!(p.repo.id, 7);
            assert_eq!(p.action.as_deref(), Some("created"));
        }
        other => panic!("wrong variant {other:?}"),
    }
    let bad = WebhookEvent::parse("repo-created", br#"{"action":"created"}"#).unwrap_err();
    assert_eq!(bad.code(), connector_runtime::ErrorCode::ParsingError);
    assert!(bad.message().contains("repo-created"), "{}", bad.message());
    let unknown = WebhookEvent::parse("nope", b"{}").unwrap_err();
    assert_eq!(
        unknown.code(),
        connector_runtime::ErrorCode::ValidationError
    );
}
