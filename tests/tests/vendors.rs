//! The checked-in vendor connectors (`generated/<vendor>`, built with one tag feature each) paginate and
//! stream with no hand-written code, against loopback servers answering in each vendor's own shape:
//! GitHub's `Link` header, Stripe's `has_more` + `starting_after`, Twilio's `next_page_uri`, Asana's
//! `next_page.offset`, DigitalOcean's `page` + `links.pages`, and OpenAI's chat completion events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn origin(req: &Request) -> String {
    let host = req.headers.get("host").and_then(|h| h.to_str().ok());
    format!("http://{}", host.expect("a Host header"))
}

/// Answers with `style`, recording every request's path and query.
struct Recorder {
    style: Box<dyn Fn(&Request) -> ResponseTemplate + Send + Sync>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Respond for Recorder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut line = req.url.path().to_owned();
        if let Some(q) = req.url.query() {
            line.push('?');
            line.push_str(q);
        }
        self.seen.lock().unwrap().push(line);
        (self.style)(req)
    }
}

async fn serve(
    verb: &str,
    route: &str,
    style: impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static,
) -> (MockServer, Arc<Mutex<Vec<String>>>) {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(Recorder {
            style: Box::new(style),
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    (server, seen)
}

fn config(
    base: &str,
    mut c: connector_runtime::ConnectorConfig,
) -> connector_runtime::ConnectorConfig {
    c.base_url = base.to_owned();
    c
}

#[tokio::test]
async fn github_issues_follow_the_link_header() {
    const TOTAL: i64 = 45;
    let (server, seen) = serve("GET", "/repos/octo/hello/issues", |req| {
        let page: i64 = query(req, "page").map_or(1, |p| p.parse().unwrap());
        let per: i64 = query(req, "per_page").map_or(30, |p| p.parse().unwrap());
        let from = (page - 1) * per + 1;
        let to = (page * per).min(TOTAL);
        let issues: Vec<Value> = (from..=to)
            .map(|n| {
                json!({
                    "id": 1000 + n, "node_id": format!("I_{n}"), "number": n,
                    "url": format!("https://api.github.com/repos/octo/hello/issues/{n}"),
                    "repository_url": "https://api.github.com/repos/octo/hello",
                    "labels_url": "u", "comments_url": "u", "events_url": "u", "html_url": "u",
                    "state": "open", "title": format!("issue {n}"), "labels": [],
                    "locked": false, "comments": 0, "user": null, "assignee": null,
                    "milestone": null, "closed_at": null, "author_association": "OWNER",
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"
                })
            })
            .collect();
        let mut t = ResponseTemplate::new(200).set_body_json(issues);
        let last = (TOTAL + per - 1) / per;
        if page < last {
            let base = format!("{}/repos/octo/hello/issues", origin(req));
            t = t.insert_header(
                "link",
                format!(
                    "<{base}?state=open&per_page={per}&page={}>; rel=\"next\", <{base}?state=open&per_page={per}&page={last}>; rel=\"last\"",
                    page + 1
                )
                .as_str(),
            );
        }
        t
    })
    .await;
    let client =
        github_connector::Client::new(config(&server.uri(), github_connector::Client::config()))
            .await
            .expect("client");
    let numbers: Vec<i64> = client
        .issues()
        .list_for_repo("octo", "hello")
        .state(github_connector::models::State::Open)
        .per_page(20)
        .paginate()
        .map(|i| i.expect("issue").number)
        .collect()
        .await;
    assert_eq!(numbers, (1..=TOTAL).collect::<Vec<_>>());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            "/repos/octo/hello/issues?state=open&per_page=20",
            "/repos/octo/hello/issues?state=open&per_page=20&page=2",
            "/repos/octo/hello/issues?state=open&per_page=20&page=3",
        ]
    );
}

#[tokio::test]
async fn stripe_customers_page_by_starting_after_while_has_more() {
    const TOTAL: usize = 25;
    let (server, seen) = serve("GET", "/v1/customers", |req| {
        let limit: usize = query(req, "limit").map_or(10, |p| p.parse().unwrap());
        let from = query(req, "starting_after")
            .map_or(0, |id| id.trim_start_matches("cus_").parse::<usize>().unwrap() + 1);
        let to = (from + limit).min(TOTAL);
        let data: Vec<Value> = (from..to)
            .map(|i| json!({"id": format!("cus_{i}"), "object": "customer", "created": 1_700_000_000 + i, "livemode": false}))
            .collect();
        ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "url": "/v1/customers", "data": data, "has_more": to < TOTAL}),
        )
    })
    .await;
    let client =
        stripe_connector::Client::new(config(&server.uri(), stripe_connector::Client::config()))
            .await
            .expect("client");
    let ids: Vec<String> = client
        .customers()
        .get_customers()
        .limit(10)
        .paginate()
        .map(|c| c.expect("customer").id)
        .collect()
        .await;
    assert_eq!(
        ids,
        (0..TOTAL).map(|i| format!("cus_{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            "/v1/customers?limit=10",
            "/v1/customers?limit=10&starting_after=cus_9",
            "/v1/customers?limit=10&starting_after=cus_19",
        ]
    );
}

/// A typed JSON call says what it can read: mock servers that validate `Accept` against the
/// description (DigitalOcean declares it) refuse the `*/*` an HTTP client sends by default.
#[tokio::test]
async fn json_operations_send_accept_application_json() {
    let (server, _) = serve("GET", "/v1/customers", |req| {
        let accept = req.headers.get("accept").and_then(|v| v.to_str().ok());
        if accept != Some("application/json") {
            return ResponseTemplate::new(406).set_body_string(format!("accept: {accept:?}"));
        }
        ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "url": "/v1/customers", "data": [], "has_more": false}),
        )
    })
    .await;
    let client =
        stripe_connector::Client::new(config(&server.uri(), stripe_connector::Client::config()))
            .await
            .expect("client");
    let page = client
        .customers()
        .get_customers()
        .send()
        .await
        .expect("the server saw Accept: application/json");
    assert!(page.data.data.is_empty());
}

#[tokio::test]
async fn twilio_calls_follow_next_page_uri() {
    const TOTAL: usize = 12;
    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    let route = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json";
    let (server, seen) = serve("GET", route, move |req| {
        let size: usize = query(req, "PageSize").map_or(50, |p| p.parse().unwrap());
        let page: usize = query(req, "Page").map_or(0, |p| p.parse().unwrap());
        let from = page * size;
        let to = (from + size).min(TOTAL);
        let calls: Vec<Value> = (from..to)
            .map(|i| json!({"sid": format!("CA{i:032}"), "account_sid": ACCOUNT, "status": "completed"}))
            .collect();
        let next = (to < TOTAL).then(|| {
            format!("{route}?PageSize={size}&Page={}&PageToken=PA{to}", page + 1)
        });
        ResponseTemplate::new(200).set_body_json(json!({
            "calls": calls, "page": page, "page_size": size, "start": from, "end": to,
            "first_page_uri": format!("{route}?PageSize={size}&Page=0"),
            "next_page_uri": next, "previous_page_uri": null, "uri": route,
        }))
    })
    .await;
    let mut cfg = twilio_connector::Client::config();
    cfg.base_url = server.uri();
    let client = twilio_connector::Client::new(cfg).await.expect("client");
    let sids: Vec<String> = client
        .api20100401_call()
        .list_call(ACCOUNT)
        .page_size(5)
        .paginate()
        .map(|c| c.expect("call").sid.expect("sid"))
        .collect()
        .await;
    assert_eq!(sids.len(), TOTAL);
    assert_eq!(sids[11], format!("CA{:032}", 11));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1], format!("{route}?PageSize=5&Page=1&PageToken=PA5"));
}

#[tokio::test]
async fn asana_tasks_page_by_the_next_offset_token() {
    const TOTAL: usize = 7;
    let (server, seen) = serve("GET", "/tasks", |req| {
        let limit: usize = query(req, "limit").map_or(20, |p| p.parse().unwrap());
        let from: usize = query(req, "offset")
            .map_or(0, |o| o.trim_start_matches("eyJ").parse().unwrap());
        let to = (from + limit).min(TOTAL);
        let data: Vec<Value> = (from..to)
            .map(|i| json!({"gid": format!("{}", 1200 + i), "resource_type": "task", "name": format!("t{i}")}))
            .collect();
        let next = if to < TOTAL {
            json!({"offset": format!("eyJ{to}"), "path": format!("/tasks?limit={limit}&offset=eyJ{to}"), "uri": "u"})
        } else {
            Value::Null
        };
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_page": next}))
    })
    .await;
    let client =
        asana_connector::Client::new(config(&server.uri(), asana_connector::Client::config()))
            .await
            .expect("client");
    let names: Vec<String> = client
        .tasks()
        .get_tasks()
        .project("1201")
        .limit(3)
        .paginate()
        .map(|t| t.expect("task").name.expect("name"))
        .collect()
        .await;
    assert_eq!(
        names,
        (0..TOTAL).map(|i| format!("t{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            "/tasks?project=1201&limit=3",
            "/tasks?project=1201&limit=3&offset=eyJ3",
            "/tasks?project=1201&limit=3&offset=eyJ6",
        ]
    );
}

#[tokio::test]
async fn digitalocean_ssh_keys_page_by_number_while_links_pages_next() {
    const TOTAL: usize = 5;
    let (server, seen) = serve("GET", "/v2/account/keys", |req| {
        let per: usize = query(req, "per_page").map_or(20, |p| p.parse().unwrap());
        let page: usize = query(req, "page").map_or(1, |p| p.parse().unwrap());
        let from = (page - 1) * per;
        let to = (from + per).min(TOTAL);
        let keys: Vec<Value> = (from..to)
            .map(|i| json!({"id": i, "fingerprint": format!("f{i}"), "public_key": "ssh-ed25519 AAAA", "name": format!("k{i}")}))
            .collect();
        let mut pages = json!({});
        if to < TOTAL {
            pages["next"] = json!(format!("https://api.digitalocean.com/v2/account/keys?page={}&per_page={per}", page + 1));
            pages["last"] = json!(format!("https://api.digitalocean.com/v2/account/keys?page=3&per_page={per}"));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "ssh_keys": keys, "links": {"pages": pages}, "meta": {"total": TOTAL}
        }))
    })
    .await;
    let client = digitalocean_connector::Client::new(config(
        &server.uri(),
        digitalocean_connector::Client::config(),
    ))
    .await
    .expect("client");
    let names: Vec<String> = client
        .ssh_keys()
        .list()
        .per_page(2)
        .paginate()
        .map(|k| k.expect("key").name)
        .collect()
        .await;
    assert_eq!(names, vec!["k0", "k1", "k2", "k3", "k4"]);
    // The last page is short and says so by having no `next`: no fourth request.
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            "/v2/account/keys?per_page=2&page=1",
            "/v2/account/keys?per_page=2&page=2",
            "/v2/account/keys?per_page=2&page=3",
        ]
    );
}

/// An OpenAI-shaped chat completion stream: a comment, a role chunk, content chunks, a finish chunk,
/// then `[DONE]`.
struct ChatEvents {
    hits: Arc<AtomicUsize>,
}

impl Respond for ChatEvents {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&req.body).expect("JSON body");
        assert_eq!(body["stream"], json!(true), "stream() asks for a stream");
        assert_eq!(
            req.headers.get("accept").and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        let chunk = |delta: Value, finish: Value| {
            json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
                "model": "gpt-test",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]
            })
            .to_string()
        };
        let mut sse = String::from(": connected\n\n");
        for (d, f) in [
            (json!({"role": "assistant", "content": ""}), Value::Null),
            (json!({"content": "Hello"}), Value::Null),
            (json!({"content": ", world"}), Value::Null),
            (json!({}), json!("stop")),
        ] {
            sse.push_str(&format!("data: {}\n\n", chunk(d, f)));
        }
        sse.push_str("data: [DONE]\n\n");
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse)
    }
}

#[tokio::test]
async fn openai_chat_completion_streams_typed_chunks_until_done() {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ChatEvents { hits: hits.clone() })
        .mount(&server)
        .await;
    let client =
        openai_connector::Client::new(config(&server.uri(), openai_connector::Client::config()))
            .await
            .expect("client");
    use openai_connector::models as m;
    // A request type is only sent, so it is built here rather than read from JSON.
    let request = m::CreateChatCompletionRequest {
        metadata: None,
        top_logprobs: None,
        temperature: None,
        top_p: None,
        user: None,
        safety_identifier: None,
        prompt_cache_key: None,
        prompt_cache_retention: None,
        prompt_cache_options: None,
        messages: vec![
            m::ChatCompletionRequestMessage::ChatCompletionRequestUserMessage(
                m::ChatCompletionRequestUserMessage {
                    content: m::ChatCompletionRequestUserMessageContent::String("Say hello".into()),
                    role: "user".into(),
                    name: None,
                },
            ),
        ],
        model: m::ModelIdsShared::String("gpt-test".into()),
        service_tier: None,
        modalities: None,
        verbosity: None,
        reasoning_effort: None,
        max_completion_tokens: None,
        frequency_penalty: None,
        presence_penalty: None,
        web_search_options: None,
        response_format: None,
        audio: None,
        store: None,
        moderation: None,
        stream: None,
        stop: None,
        logit_bias: None,
        logprobs: None,
        max_tokens: None,
        n: None,
        prediction: None,
        seed: None,
        stream_options: None,
        tools: None,
        tool_choice: None,
        parallel_tool_calls: None,
        function_call: None,
        functions: None,
    };
    let chunks: Vec<openai_connector::models::CreateChatCompletionStreamResponse> = client
        .chat()
        .create_chat_completion(request)
        .stream()
        .await
        .expect("stream opens")
        .map(|e| e.expect("chunk").data)
        .collect()
        .await;
    assert_eq!(chunks.len(), 4, "[DONE] ends the stream and is not an item");
    let text: String = chunks
        .iter()
        .filter_map(|c| c.choices.first()?.delta.content.clone())
        .collect();
    assert_eq!(text, "Hello, world");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
