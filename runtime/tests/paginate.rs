//! Pagination against real servers on loopback answering in each vendor's shape (Stripe, Slack, Azure
//! Cosmos DB, Asana, DigitalOcean, GitHub, Twilio): items in order, the exact requests and their parameters, no request
//! past the end, lazy fetching with bounded memory over a million items, resuming from a checkpoint
//! after a failure, custom extractors, limits, and every page going through the pipeline.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use connector_runtime::paginate::{Checkpoint, PaginateOptions, Strategy};
use connector_runtime::{
    Connector, ConnectorConfig, ErrorCode, HookType, Method, RequestOptions, RetryConfig, hook_fn,
};
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{Value, json};
use support::{CountingServer, Seen, connected, fast_retry, reply};

/// Retries off, so every request the server sees is one page.
fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig {
        retry: RetryConfig::disabled(),
        ..ConnectorConfig::new(url)
    }
}

/// The query pairs of a request target as the server received it.
fn query(s: &Seen) -> Vec<(String, String)> {
    let q = s.uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

fn param(s: &Seen, name: &str) -> Option<String> {
    query(s)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn queries(server: &CountingServer) -> Vec<Vec<(String, String)>> {
    server.requests().iter().map(query).collect()
}

fn json_reply(v: Value) -> http::Response<Full<Bytes>> {
    reply(200, &v.to_string())
}

fn get(path: &str) -> RequestOptions {
    RequestOptions::new(Method::GET, path)
}

async fn collect_items(c: &Connector, options: PaginateOptions) -> Vec<Value> {
    c.paginate(options).items().try_collect().await.unwrap()
}

fn field(items: &[Value], name: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[name].as_str().expect("string field").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Stripe: `{"object":"list","data":[...],"has_more":bool}`, next cursor = last id as `starting_after`.

/// A Stripe list of `total` customers `cus_1..`.
async fn stripe(total: usize) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        assert!(s.uri.starts_with("/v1/customers?"), "{}", s.uri);
        let limit: usize = param(&s, "limit").map_or(10, |l| l.parse().unwrap());
        let after = param(&s, "starting_after")
            .map_or(0, |a| a.strip_prefix("cus_").unwrap().parse().unwrap());
        let ids: Vec<usize> = (after + 1..=total).take(limit).collect();
        let has_more = ids.last().is_some_and(|l| *l < total);
        let data: Vec<Value> = ids
            .iter()
            .map(|i| json!({"id": format!("cus_{i}"), "object": "customer", "email": format!("c{i}@example.com")}))
            .collect();
        json_reply(json!({"object": "list", "url": "/v1/customers", "has_more": has_more, "data": data}))
    })
    .await
}

fn stripe_options() -> PaginateOptions {
    PaginateOptions::new(
        get("/v1/customers"),
        Strategy::last_item_cursor("/id", "/has_more"),
    )
    .items_pointer("/data")
    .cursor_param("starting_after")
    .page_size(3)
}

#[derive(Debug, Deserialize, PartialEq)]
struct Customer {
    id: String,
    email: String,
}

#[tokio::test]
async fn stripe_cursor_is_the_last_id_and_has_more_false_ends_without_another_request() {
    let server = stripe(7).await;
    let c = connected(config(&server.url())).await;

    // Lazy: two items need one page, the fourth needs the second page and nothing more.
    let mut items = c.paginate(stripe_options()).items();
    items.next().await.unwrap().unwrap();
    items.next().await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 1);
    items.next().await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(items.next().await.unwrap().unwrap()["id"], "cus_4");
    assert_eq!(server.requests().len(), 2);
    drop(items);
    server.seen.lock().unwrap().clear();

    // Typed, all of it: 7 customers in 3 pages (3 + 3 + 1).
    let customers: Vec<Customer> = c
        .paginate_typed::<Customer>(stripe_options())
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cus_1", "cus_2", "cus_3", "cus_4", "cus_5", "cus_6", "cus_7"
        ]
    );
    assert_eq!(customers[6].email, "c7@example.com");
    assert_eq!(
        queries(&server),
        vec![
            pairs(&[("limit", "3")]),
            pairs(&[("limit", "3"), ("starting_after", "cus_3")]),
            pairs(&[("limit", "3"), ("starting_after", "cus_6")]),
        ]
    );

    // A full last page: `has_more: false` ends it, no empty page is asked for.
    let server = stripe(6).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(&c, stripe_options()).await;
    assert_eq!(items.len(), 6);
    assert_eq!(server.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Slack: `response_metadata.next_cursor`, sent as `cursor`; an empty string is the end.

const SLACK_CURSOR: &str = "dGVhbTpDMDYxRkE1UEI=";

async fn slack(total: usize, fail_first_of: Option<usize>) -> CountingServer {
    let failed = Arc::new(AtomicBool::new(false));
    CountingServer::start(move |s, _| {
        let failed = failed.clone();
        async move {
            assert!(s.uri.starts_with("/api/conversations.list?"), "{}", s.uri);
            let limit: usize = param(&s, "limit").unwrap().parse().unwrap();
            let from = param(&s, "cursor").map_or(0, |c| {
                c.strip_prefix(SLACK_CURSOR).unwrap().parse().unwrap()
            });
            if fail_first_of == Some(from) && !failed.swap(true, Ordering::SeqCst) {
                return reply(503, r#"{"ok":false,"error":"service_unavailable"}"#);
            }
            let end = (from + limit).min(total);
            let channels: Vec<Value> = (from..end)
                .map(|i| json!({"id": format!("C{i:03}"), "name": format!("channel-{i}"), "is_channel": true}))
                .collect();
            let next = if end < total {
                format!("{SLACK_CURSOR}{end}")
            } else {
                String::new()
            };
            json_reply(json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": next}}))
        }
    })
    .await
}

fn slack_options() -> PaginateOptions {
    PaginateOptions::new(
        get("/api/conversations.list").query("types", "public_channel"),
        Strategy::cursor("/response_metadata/next_cursor"),
    )
    .items_pointer("/channels")
    .page_size(2)
}

#[tokio::test]
async fn slack_next_cursor_is_sent_back_and_an_empty_cursor_ends() {
    let server = slack(5, None).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(&c, slack_options()).await;
    assert_eq!(
        field(&items, "id"),
        ["C000", "C001", "C002", "C003", "C004"]
    );
    let c2 = format!("{SLACK_CURSOR}2");
    let c4 = format!("{SLACK_CURSOR}4");
    assert_eq!(
        queries(&server),
        vec![
            pairs(&[("types", "public_channel"), ("limit", "2")]),
            pairs(&[("types", "public_channel"), ("limit", "2"), ("cursor", &c2)]),
            pairs(&[("types", "public_channel"), ("limit", "2"), ("cursor", &c4)]),
        ]
    );

    // A full last page with an empty cursor: two requests, not three.
    let server = slack(4, None).await;
    let c = connected(config(&server.url())).await;
    assert_eq!(collect_items(&c, slack_options()).await.len(), 4);
    assert_eq!(server.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Azure Cosmos DB: the next cursor in the `x-ms-continuation` response header, sent back as the same
// request header (or, for APIs that take it so, as a `continuation` query parameter); absent or empty
// on the last page.

/// `total` documents, two a page; the last page sends the header empty when `empty_at_end`, else not
/// at all. The cursor is read from the request header, or from `continuation` in the query.
async fn cosmos(total: usize, empty_at_end: bool) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        let cursor = s
            .headers
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_owned())
            .or_else(|| param(&s, "continuation"));
        let from: usize = cursor.map_or(0, |c| c.strip_prefix("+RID:~").unwrap().parse().unwrap());
        let end = (from + 2).min(total);
        let docs: Vec<Value> = (from..end)
            .map(|i| json!({"id": format!("doc-{i}")}))
            .collect();
        let mut r = json_reply(json!({"_rid": "x", "Documents": docs, "_count": end - from}));
        if end < total {
            r.headers_mut()
                .insert("x-ms-continuation", format!("+RID:~{end}").parse().unwrap());
        } else if empty_at_end {
            r.headers_mut()
                .insert("x-ms-continuation", "".parse().unwrap());
        }
        r
    })
    .await
}

#[tokio::test]
async fn a_cursor_in_a_response_header_is_sent_back_as_a_header_until_it_is_absent() {
    let server = cosmos(6, false).await;
    let c = connected(config(&server.url())).await;
    let options = PaginateOptions::new(
        get("/dbs/db/colls/c/docs"),
        Strategy::header_cursor("x-ms-continuation"),
    )
    .items_pointer("/Documents")
    .cursor_header("x-ms-continuation");
    let mut pages = c.paginate(options);
    let mut seen = Vec::new();
    while let Some(page) = pages.next().await {
        seen.push(field(&page.unwrap().items, "id"));
    }
    assert_eq!(
        seen,
        [
            vec!["doc-0", "doc-1"],
            vec!["doc-2", "doc-3"],
            vec!["doc-4", "doc-5"]
        ]
    );
    let sent: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| {
            r.headers
                .get("x-ms-continuation")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(sent, [None, Some("+RID:~2".into()), Some("+RID:~4".into())]);
    assert!(server.requests().iter().all(|r| query(r).is_empty()));
    assert_eq!(pages.checkpoint(), Checkpoint::Done);
}

#[tokio::test]
async fn a_header_cursor_can_go_back_as_a_query_parameter_and_an_empty_header_ends() {
    let server = cosmos(5, true).await;
    let c = connected(config(&server.url())).await;
    let options = PaginateOptions::new(get("/docs"), Strategy::header_cursor("x-ms-continuation"))
        .items_pointer("/Documents")
        .cursor_param("continuation");
    let items = collect_items(&c, options).await;
    assert_eq!(
        field(&items, "id"),
        ["doc-0", "doc-1", "doc-2", "doc-3", "doc-4"]
    );
    assert_eq!(
        queries(&server),
        vec![
            vec![],
            pairs(&[("continuation", "+RID:~2")]),
            pairs(&[("continuation", "+RID:~4")]),
        ]
    );
    // Resuming from a cursor given in the first request's header starts there.
    let server = cosmos(6, false).await;
    let c = connected(config(&server.url())).await;
    let options = PaginateOptions::new(
        get("/docs").header("x-ms-continuation", "+RID:~4"),
        Strategy::header_cursor("x-ms-continuation"),
    )
    .items_pointer("/Documents")
    .cursor_header("x-ms-continuation");
    assert_eq!(
        field(&collect_items(&c, options).await, "id"),
        ["doc-4", "doc-5"]
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn every_page_goes_through_the_pipeline_hooks_and_retry() {
    // The second page fails once with 503; the pipeline retries it, the listing never sees it.
    let server = slack(5, Some(2)).await;
    let hooked = Arc::new(AtomicUsize::new(0));
    let h = hooked.clone();
    let cfg = ConnectorConfig {
        retry: fast_retry(2),
        ..ConnectorConfig::new(server.url())
    };
    let c = Connector::builder(cfg)
        .hook(
            HookType::BeforeRequest,
            hook_fn("page-marker", 0, move |ctx| {
                h.fetch_add(1, Ordering::SeqCst);
                ctx.request.set_header("x-page-marker", "on")?;
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let items = collect_items(&c, slack_options()).await;
    assert_eq!(items.len(), 5);
    let seen = server.requests();
    assert_eq!(seen.len(), 4, "3 pages and 1 retry");
    assert_eq!(hooked.load(Ordering::SeqCst), 4);
    assert!(seen.iter().all(|s| s.headers["x-page-marker"] == "on"));
    // The retry replays page 2 as it was.
    assert_eq!(query(&seen[1]), query(&seen[2]));
    // Each page is its own call with its own request id.
    let ids: std::collections::HashSet<_> = [&seen[0], &seen[1], &seen[3]]
        .iter()
        .map(|s| s.headers["x-request-id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
}

// ---------------------------------------------------------------------------------------------------
// Asana: `{"data":[...],"next_page":{"offset":"...","path":"...","uri":"..."}}`, `next_page: null` ends.

async fn asana(total: usize) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        assert_eq!(param(&s, "project").as_deref(), Some("1200"));
        let limit: usize = param(&s, "limit").unwrap().parse().unwrap();
        let from = param(&s, "offset").map_or(0, |o| {
            o.strip_prefix("eyJ0eXAiOJiKV1Qi.").unwrap().parse().unwrap()
        });
        let end = (from + limit).min(total);
        let data: Vec<Value> = (from..end)
            .map(|i| json!({"gid": format!("{}", 1000 + i), "resource_type": "task", "name": format!("Task {i}")}))
            .collect();
        let next_page = if end < total {
            let offset = format!("eyJ0eXAiOJiKV1Qi.{end}");
            let path = format!("/tasks?project=1200&limit={limit}&offset={offset}");
            json!({"offset": offset, "path": path, "uri": format!("https://app.asana.com/api/1.0{path}")})
        } else {
            Value::Null
        };
        json_reply(json!({"data": data, "next_page": next_page}))
    })
    .await
}

/// Numeric offsets without any signal: `offset` += items received, a short page ends.
async fn numeric_offsets(total: u64) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        let limit: u64 = param(&s, "limit").unwrap().parse().unwrap();
        let from: u64 = param(&s, "offset").map_or(0, |o| o.parse().unwrap());
        let items: Vec<Value> = (from..(from + limit).min(total))
            .map(|i| json!({"n": i}))
            .collect();
        json_reply(json!({ "items": items }))
    })
    .await
}

#[tokio::test]
async fn asana_offset_token_is_followed_until_next_page_is_null() {
    let server = asana(5).await;
    let c = connected(config(&server.url())).await;
    let options = || {
        PaginateOptions::new(
            get("/tasks").query("project", "1200"),
            Strategy::offset_token("/next_page/offset"),
        )
        .page_size(2)
    };
    let items = collect_items(&c, options()).await;
    assert_eq!(
        field(&items, "gid"),
        ["1000", "1001", "1002", "1003", "1004"]
    );
    assert_eq!(
        queries(&server),
        vec![
            pairs(&[("project", "1200"), ("limit", "2")]),
            pairs(&[
                ("project", "1200"),
                ("limit", "2"),
                ("offset", "eyJ0eXAiOJiKV1Qi.2")
            ]),
            pairs(&[
                ("project", "1200"),
                ("limit", "2"),
                ("offset", "eyJ0eXAiOJiKV1Qi.4")
            ]),
        ]
    );

    // A full last page with `next_page: null`: no further request.
    let server = asana(4).await;
    let c = connected(config(&server.url())).await;
    assert_eq!(collect_items(&c, options()).await.len(), 4);
    assert_eq!(server.requests().len(), 2);

    // Numeric offsets: 7 items by 3 are offsets (none), 3, 6; the short third page ends it.
    let server = numeric_offsets(7).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(get("/items"), Strategy::offset())
            .items_pointer("/items")
            .page_size(3),
    )
    .await;
    let ns: Vec<u64> = items.iter().map(|i| i["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (0..7).collect::<Vec<_>>());
    assert_eq!(
        queries(&server),
        vec![
            pairs(&[("limit", "3")]),
            pairs(&[("limit", "3"), ("offset", "3")]),
            pairs(&[("limit", "3"), ("offset", "6")]),
        ]
    );
}

// ---------------------------------------------------------------------------------------------------
// DigitalOcean: `page`/`per_page`, `links.pages.next` present or not, `meta.total`.

async fn digitalocean(total: u64) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        assert!(s.uri.starts_with("/v2/droplets?"), "{}", s.uri);
        let page: u64 = param(&s, "page").unwrap().parse().unwrap();
        let per_page: u64 = param(&s, "per_page").unwrap().parse().unwrap();
        let from = (page - 1) * per_page;
        let droplets: Vec<Value> = (from..(from + per_page).min(total))
            .map(|i| json!({"id": 3164444 + i, "name": format!("example-{i}.com"), "status": "active"}))
            .collect();
        let last = total.div_ceil(per_page);
        let link = |p: u64| format!("https://api.digitalocean.com/v2/droplets?page={p}&per_page={per_page}");
        let mut pages = serde_json::Map::new();
        if page > 1 {
            pages.insert("first".into(), link(1).into());
            pages.insert("prev".into(), link(page - 1).into());
        }
        if page < last {
            pages.insert("next".into(), link(page + 1).into());
            pages.insert("last".into(), link(last).into());
        }
        json_reply(json!({"droplets": droplets, "links": {"pages": pages}, "meta": {"total": total}}))
    })
    .await
}

#[tokio::test]
async fn digitalocean_pages_until_links_pages_next_is_gone() {
    let server = digitalocean(4).await;
    let c = connected(config(&server.url())).await;
    let options = PaginateOptions::new(
        get("/v2/droplets"),
        Strategy::page_with_next("/links/pages/next"),
    )
    .items_pointer("/droplets")
    .page_size(2);
    // The page stream: items per page and the raw response for the rest of the body.
    let pages: Vec<_> = c.paginate(options).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].position, Checkpoint::Page(1));
    assert_eq!(pages[1].position, Checkpoint::Page(2));
    let ids: Vec<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids, [3164444, 3164445, 3164446, 3164447]);
    let body: Value = serde_json::from_slice(&pages[1].response.data).unwrap();
    assert_eq!(body["meta"]["total"], 4);
    assert_eq!(pages[1].response.status, 200);
    // A full last page: `links.pages.next` is absent, so page 3 is never asked for.
    assert_eq!(
        queries(&server),
        vec![
            pairs(&[("per_page", "2"), ("page", "1")]),
            pairs(&[("per_page", "2"), ("page", "2")]),
        ]
    );

    // Without a signal, the short page is the last: 5 by 2 is pages 1, 2, 3.
    let server = digitalocean(5).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(get("/v2/droplets"), Strategy::page())
            .items_pointer("/droplets")
            .page_size(2),
    )
    .await;
    assert_eq!(items.len(), 5);
    let pages: Vec<String> = server
        .requests()
        .iter()
        .map(|s| param(s, "page").unwrap())
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
}

// ---------------------------------------------------------------------------------------------------
// GitHub: a top-level array and `Link: <...>; rel="next"`, followed as given.

async fn github(total: usize) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        let host = s.headers["host"].to_str().unwrap().to_owned();
        let per_page: usize = param(&s, "per_page").unwrap().parse().unwrap();
        let page: usize = param(&s, "page").map_or(1, |p| p.parse().unwrap());
        if page == 1 {
            assert!(s.uri.starts_with("/repos/octo/hello/issues?"), "{}", s.uri);
        } else {
            // The link's own path: proof the URL was followed as given.
            assert!(s.uri.starts_with("/repositories/42/issues?"), "{}", s.uri);
        }
        let from = (page - 1) * per_page;
        let issues: Vec<Value> = (from..(from + per_page).min(total))
            .map(|i| json!({"number": i + 1, "title": format!("Issue {}", i + 1), "state": "open"}))
            .collect();
        let last = total.div_ceil(per_page);
        let link = |p: usize| {
            format!("<http://{host}/repositories/42/issues?per_page={per_page}&page={p}>")
        };
        let mut rels = Vec::new();
        if page > 1 {
            rels.push(format!("{}; rel=\"prev\"", link(page - 1)));
        }
        if page < last {
            rels.push(format!("{}; rel=\"next\"", link(page + 1)));
            rels.push(format!("{}; rel=\"last\"", link(last)));
        }
        if page > 1 {
            rels.push(format!("{}; rel=\"first\"", link(1)));
        }
        let mut resp = json_reply(Value::Array(issues));
        if !rels.is_empty() {
            resp.headers_mut()
                .insert("link", rels.join(", ").parse().unwrap());
        }
        resp
    })
    .await
}

#[tokio::test]
async fn github_link_header_next_is_followed_until_absent() {
    let server = github(5).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(get("/repos/octo/hello/issues"), Strategy::link_header())
            .items_pointer("")
            .page_size(2),
    )
    .await;
    let numbers: Vec<u64> = items
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    let uris: Vec<String> = server.requests().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        [
            "/repos/octo/hello/issues?per_page=2",
            "/repositories/42/issues?per_page=2&page=2",
            "/repositories/42/issues?per_page=2&page=3",
        ]
    );

    // A full last page (4 by 2): its Link has prev/first but no next, so two requests.
    let server = github(4).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(get("/repos/octo/hello/issues"), Strategy::link_header())
            .items_pointer("")
            .page_size(2),
    )
    .await;
    assert_eq!(items.len(), 4);
    assert_eq!(server.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Twilio: `next_page_uri` relative to the host (the base URL has a path), and `meta.next_page_url`.

async fn twilio(total: usize) -> CountingServer {
    CountingServer::start(move |s, _| async move {
        let size: usize = param(&s, "PageSize").unwrap().parse().unwrap();
        let page: usize = param(&s, "Page").map_or(0, |p| p.parse().unwrap());
        let from = param(&s, "PageToken").map_or(0, |t| t.strip_prefix("PACA").unwrap().parse().unwrap());
        assert_eq!(from, page * size);
        let end = (from + size).min(total);
        let rows = |kind: &str| -> Vec<Value> {
            (from..end)
                .map(|i| json!({"sid": format!("{kind}{i:032}"), "status": "completed"}))
                .collect()
        };
        let query = format!("PageSize={size}&Page={}&PageToken=PACA{end}", page + 1);
        if s.uri.starts_with("/2010-04-01/Accounts/AC123/Calls.json?") {
            let next = (end < total)
                .then(|| format!("/2010-04-01/Accounts/AC123/Calls.json?{query}"));
            json_reply(json!({
                "calls": rows("CA"), "page": page, "page_size": size, "start": from, "end": end,
                "first_page_uri": format!("/2010-04-01/Accounts/AC123/Calls.json?PageSize={size}&Page=0"),
                "next_page_uri": next, "previous_page_uri": null,
                "uri": s.uri,
            }))
        } else {
            assert!(s.uri.starts_with("/v1/Services?"), "{}", s.uri);
            let host = s.headers["host"].to_str().unwrap().to_owned();
            let next = (end < total).then(|| format!("http://{host}/v1/Services?{query}"));
            json_reply(json!({
                "services": rows("IS"),
                "meta": {"page": page, "page_size": size, "next_page_url": next, "key": "services"},
            }))
        }
    })
    .await
}

#[tokio::test]
async fn twilio_next_page_uri_is_relative_to_the_host() {
    let server = twilio(5).await;
    // The base URL carries the API version; the next page URI repeats it from the host's root.
    let c = connected(config(&format!("{}/2010-04-01", server.url()))).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(
            get("/Accounts/AC123/Calls.json"),
            Strategy::next_url("/next_page_uri"),
        )
        .items_pointer("/calls")
        .page_size_param("PageSize")
        .page_size(2),
    )
    .await;
    let sids = field(&items, "sid");
    assert_eq!(sids.len(), 5);
    assert_eq!(sids[4], format!("CA{:032}", 4));
    let uris: Vec<String> = server.requests().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        [
            "/2010-04-01/Accounts/AC123/Calls.json?PageSize=2",
            "/2010-04-01/Accounts/AC123/Calls.json?PageSize=2&Page=1&PageToken=PACA2",
            "/2010-04-01/Accounts/AC123/Calls.json?PageSize=2&Page=2&PageToken=PACA4",
        ]
    );

    // The newer APIs: an absolute `meta.next_page_url`; a full last page with null is the end.
    let server = twilio(4).await;
    let c = connected(config(&server.url())).await;
    let items = collect_items(
        &c,
        PaginateOptions::new(
            get("/v1/Services"),
            Strategy::next_url("/meta/next_page_url"),
        )
        .items_pointer("/services")
        .page_size_param("PageSize")
        .page_size(2),
    )
    .await;
    assert_eq!(field(&items, "sid")[3], format!("IS{:032}", 3));
    let uris: Vec<String> = server.requests().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        [
            "/v1/Services?PageSize=2",
            "/v1/Services?PageSize=2&Page=1&PageToken=PACA2"
        ]
    );
}

// ---------------------------------------------------------------------------------------------------
// A million items: fetched on demand, at most one page held.

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn a_million_items_stream_with_one_page_in_memory() {
    const PER_PAGE: u64 = 10_000;
    const PAGES: u64 = 100;
    let server = CountingServer::start(|s, _| async move {
        use std::fmt::Write;
        let page: u64 = param(&s, "page").unwrap().parse().unwrap();
        let per_page: u64 = param(&s, "per_page").unwrap().parse().unwrap();
        let mut body = String::with_capacity(per_page as usize * 16 + 32);
        body.push_str("{\"items\":[");
        for i in 0..per_page {
            if i > 0 {
                body.push(',');
            }
            write!(body, "{{\"id\":{}}}", (page - 1) * per_page + i).unwrap();
        }
        write!(body, "],\"has_more\":{}}}", page < PAGES).unwrap();
        reply(200, &body)
    })
    .await;
    let c = connected(config(&server.url())).await;
    let started = Instant::now();
    let rss_before = rss();
    let mut rss_peak = rss_before;
    let mut items = c
        .paginate(
            PaginateOptions::new(get("/items"), Strategy::page_with_next("/has_more"))
                .items_pointer("/items")
                .page_size(PER_PAGE),
        )
        .items();
    let mut expected = 0u64;
    let mut max_buffered = 0;
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        assert_eq!(item["id"].as_u64(), Some(expected));
        expected += 1;
        let buffered = items.buffered_items();
        max_buffered = max_buffered.max(buffered);
        if buffered as u64 == PER_PAGE - 1 {
            // The first item of a page: exactly the pages needed so far were fetched, none ahead.
            assert_eq!(server.requests().len() as u64, expected / PER_PAGE + 1);
            rss_peak = rss_peak.max(rss());
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(expected, PER_PAGE * PAGES);
    assert_eq!(server.requests().len() as u64, PAGES);
    assert_eq!(max_buffered as u64, PER_PAGE - 1);
    assert_eq!(items.checkpoint(), Checkpoint::Done);
    let growth = rss_peak.saturating_sub(rss_before);
    eprintln!(
        "1,000,000 items in {PAGES} requests, {elapsed:?}; at most {max_buffered} items buffered; \
         RSS {} MiB before, peak growth {} KiB",
        rss_before >> 20,
        growth >> 10
    );
    // Kept items would be hundreds of MiB (one JSON object each); one page is a few MiB.
    assert!(growth < 64 << 20, "RSS grew by {growth} bytes");
}

// ---------------------------------------------------------------------------------------------------
// A failure mid-way, then a resume from the checkpoint.

#[tokio::test]
async fn a_failed_page_resumes_from_the_checkpoint_with_nothing_lost_or_repeated() {
    const TOTAL: usize = 30;
    let failed = Arc::new(AtomicBool::new(false));
    let f = failed.clone();
    let server = CountingServer::start(move |s, _| {
        let failed = f.clone();
        async move {
            let limit: usize = param(&s, "limit").unwrap().parse().unwrap();
            let after: usize = param(&s, "starting_after")
                .map_or(0, |a| a.strip_prefix("it_").unwrap().parse().unwrap());
            // Page 5 (after item 12) fails the first time it is asked for.
            if after == 12 && !failed.swap(true, Ordering::SeqCst) {
                return reply(500, r#"{"error":{"type":"api_error"}}"#);
            }
            let ids: Vec<usize> = (after + 1..=TOTAL).take(limit).collect();
            let data: Vec<Value> = ids.iter().map(|i| json!({"id": format!("it_{i}")})).collect();
            json_reply(json!({"object": "list", "data": data, "has_more": ids.last().is_some_and(|l| *l < TOTAL)}))
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let options = || {
        PaginateOptions::new(
            get("/v1/items"),
            Strategy::last_item_cursor("/id", "/has_more"),
        )
        .cursor_param("starting_after")
        .page_size(3)
    };

    let mut got = Vec::new();
    let mut items = c.paginate(options()).items();
    let err = loop {
        match items.next().await.expect("an error before the end") {
            Ok(item) => got.push(item["id"].as_str().unwrap().to_owned()),
            Err(e) => break e,
        }
        // Mid-page the checkpoint is the page being read; at its end, the next one.
        let n = got.len();
        let expect = match (n % 3, n) {
            (0, n) => Checkpoint::Token(format!("it_{n}")),
            (_, n) if n < 3 => Checkpoint::Start,
            (r, n) => Checkpoint::Token(format!("it_{}", n - r)),
        };
        assert_eq!(items.checkpoint(), expect, "after {n} items");
    };
    assert_eq!(err.code(), ErrorCode::ServerError);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(got.len(), 12, "pages 1 to 4");
    assert_eq!(server.requests().len(), 5);
    // The stream ends after the error, without asking again.
    assert!(items.next().await.is_none());
    assert_eq!(server.requests().len(), 5);

    // The checkpoint survives a trip through JSON and picks up at page 5.
    let saved = serde_json::to_string(&items.checkpoint()).unwrap();
    assert_eq!(saved, r#"{"kind":"token","value":"it_12"}"#);
    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    let rest = collect_items(&c, options().resume_from(checkpoint)).await;
    got.extend(field(&rest, "id"));

    let want: Vec<String> = (1..=TOTAL).map(|i| format!("it_{i}")).collect();
    assert_eq!(got, want, "every item once, in order");
    // 4 pages, the failure, then pages 5 to 10: eleven requests in all.
    let afters: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|s| param(s, "starting_after"))
        .collect();
    let want_afters: Vec<Option<String>> = [None, Some(3), Some(6), Some(9), Some(12), Some(12)]
        .into_iter()
        .chain((15..TOTAL).step_by(3).map(Some))
        .map(|a| a.map(|a| format!("it_{a}")))
        .collect();
    assert_eq!(afters, want_afters);
    assert_eq!(server.requests().len(), 11);
}

// ---------------------------------------------------------------------------------------------------
// Custom extractors, and limits.

#[tokio::test]
async fn custom_extractors_override_the_defaults() {
    // Items under `/result/rows`, the next token in a header, "more" in another header. The body also
    // has a decoy in the default places (`/data`, `/has_more: true`) that the defaults would follow.
    let server = CountingServer::start(|s, _| async move {
        let from: usize =
            param(&s, "token").map_or(0, |t| t.strip_prefix("tok").unwrap().parse().unwrap());
        let end = (from + 2).min(5);
        let rows: Vec<Value> = (from..end)
            .map(|i| json!({"key": format!("r{i}")}))
            .collect();
        let mut resp = json_reply(json!({
            "data": [{"id": "decoy"}], "has_more": true,
            "result": {"rows": rows},
        }));
        let h = resp.headers_mut();
        h.insert("x-next-token", format!("tok{end}").parse().unwrap());
        h.insert(
            "x-more",
            if end < 5 { "yes" } else { "no" }.parse().unwrap(),
        );
        resp
    })
    .await;
    let c = connected(config(&server.url())).await;
    let options =
        PaginateOptions::new(get("/rows"), Strategy::last_item_cursor("/id", "/has_more"))
            .cursor_param("token")
            .extract_items(|_, body| {
                Ok(body
                    .pointer("/result/rows")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default())
            })
            .extract_next_cursor(|resp, _| {
                resp.headers
                    .get("x-next-token")
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .has_next_page(|resp, _| resp.headers.get("x-more").is_some_and(|v| v == "yes"));
    let items = collect_items(&c, options).await;
    assert_eq!(field(&items, "key"), ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(
        queries(&server),
        vec![
            vec![],
            pairs(&[("token", "tok2")]),
            pairs(&[("token", "tok4")])
        ]
    );
}

#[tokio::test]
async fn max_pages_and_max_items_stop_early_and_leave_a_usable_checkpoint() {
    let server = stripe(7).await;
    let c = connected(config(&server.url())).await;

    let mut pages = c.paginate(stripe_options().max_pages(2));
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page.unwrap().items.len();
    }
    assert_eq!((n, server.requests().len()), (6, 2));
    assert_eq!(pages.checkpoint(), Checkpoint::Token("cus_6".into()));
    let rest = collect_items(&c, stripe_options().resume_from(pages.checkpoint())).await;
    assert_eq!(field(&rest, "id"), ["cus_7"]);
    assert_eq!(server.requests().len(), 3);

    // Four items: the second page is cut after its first item, so the checkpoint is that page again.
    server.seen.lock().unwrap().clear();
    let mut items = c.paginate(stripe_options().max_items(4)).items();
    let mut ids = Vec::new();
    while let Some(item) = items.next().await {
        ids.push(item.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids, ["cus_1", "cus_2", "cus_3", "cus_4"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(items.checkpoint(), Checkpoint::Token("cus_3".into()));
}
