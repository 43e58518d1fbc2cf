//! Observability from a real server: metrics through the `metrics` facade, the `connector.request`
//! tracing span and its events, and request ids (sent, kept across retries, reported back).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connector_runtime::observe::{
    ERRORS_TOTAL, IN_FLIGHT, RATE_LIMIT_REMAINING, REQUEST_DURATION, REQUESTS_TOTAL, RETRIES_TOTAL,
};
use connector_runtime::{ConnectorConfig, ErrorCode, Method, RequestOptions, RetryConfig};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::{CountingServer, Gate, LATE, Logs, Seen, connected, fast_retry, reply};

fn config(url: &str, retry: RetryConfig) -> ConnectorConfig {
    ConnectorConfig {
        retry,
        ..ConnectorConfig::new(url)
    }
}

/// A port with nothing listening.
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
}

fn get(path: &str, endpoint: &'static str) -> RequestOptions {
    RequestOptions::new(Method::GET, path).endpoint(endpoint)
}

fn sent_id(s: &Seen) -> String {
    s.headers
        .get("x-request-id")
        .expect("every attempt carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `8-4-4-4-12` lowercase hex with version nibble 4: what `Uuid::new_v4().to_string()` produces.
fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| {
            g.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
        && groups[2].starts_with('4')
}

/// Every test here calls this first (see [`support::keep_interest`]).
fn init() {
    support::keep_interest();
}

// ---------------------------------------------------------------------------------------------------
// Metrics. Each test installs a `DebuggingRecorder` for its own thread only (the default current-thread
// test runtime polls everything on that thread), so tests cannot see each other's metrics.

/// One metric of a snapshot: kind, name, labels, value.
#[derive(Debug)]
struct Metric {
    kind: MetricKind,
    name: String,
    labels: BTreeMap<String, String>,
    value: DebugValue,
}

fn snapshot(s: &Snapshotter) -> Vec<Metric> {
    s.snapshot()
        .into_vec()
        .into_iter()
        .map(|(ck, _, _, value)| {
            let (kind, key) = ck.into_parts();
            Metric {
                kind,
                name: key.name().to_owned(),
                labels: key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect(),
                value,
            }
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn find<'a>(
    m: &'a [Metric],
    kind: MetricKind,
    name: &str,
    l: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    let l = labels(l);
    m.iter()
        .find(|x| x.kind == kind && x.name == name && x.labels == l)
        .map(|x| &x.value)
}

fn counter(m: &[Metric], name: &str, l: &[(&str, &str)]) -> u64 {
    match find(m, MetricKind::Counter, name, l) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("counter {name} {l:?}: {other:?}\nall: {m:#?}"),
    }
}

fn gauge(m: &[Metric], name: &str) -> f64 {
    match find(m, MetricKind::Gauge, name, &[]) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("gauge {name}: {other:?}\nall: {m:#?}"),
    }
}

fn histogram(m: &[Metric], name: &str, l: &[(&str, &str)]) -> Vec<f64> {
    match find(m, MetricKind::Histogram, name, l) {
        Some(DebugValue::Histogram(v)) => v.iter().map(|f| f.into_inner()).collect(),
        other => panic!("histogram {name} {l:?}: {other:?}\nall: {m:#?}"),
    }
}

#[tokio::test]
async fn metrics_count_requests_retries_errors_and_latency() {
    init();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let flaky = Arc::new(AtomicUsize::new(0));
    let f = flaky.clone();
    // `/slow` is held at the server until the gate opens, then answers 300 ms later.
    let gate = Gate::new();
    let held = gate.clone();
    let server = CountingServer::start(move |s: Seen, _| {
        let flaky_hit = if s.uri == "/flaky" {
            f.fetch_add(1, Ordering::SeqCst)
        } else {
            0
        };
        let held = held.clone();
        async move {
            match s.uri.as_str() {
                "/users/42" => {
                    let mut r = reply(200, "{}");
                    let h = r.headers_mut();
                    h.insert("x-ratelimit-limit", "100".parse().unwrap());
                    h.insert("x-ratelimit-remaining", "17".parse().unwrap());
                    h.insert("x-ratelimit-reset", "30".parse().unwrap());
                    r
                }
                "/flaky" if flaky_hit == 0 => reply(503, "{}"),
                "/missing" => reply(404, "{}"),
                "/slow" => {
                    held.wait().await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    reply(200, "{}")
                }
                _ => reply(200, "{}"),
            }
        }
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;

    // While a call is at the server, the in-flight gauge counts it.
    let slow = {
        let c = c.clone();
        tokio::spawn(async move { c.request(get("/slow", "/slow")).await })
    };
    server.wait_for_requests(1).await;
    let during = snapshot(&snapshotter);
    assert_eq!(gauge(&during, IN_FLIGHT), 1.0);
    gate.open();
    slow.await.unwrap().unwrap();

    c.request(get("/flaky", "/flaky")).await.unwrap();
    let e = c.request(get("/missing", "/missing")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    let down = connected(config(&closed_port_url(), RetryConfig::disabled())).await;
    let e = down.request(get("/down", "/down")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError);
    // Last, so the rate-limit gauge holds its figure.
    c.request(get("/users/42", "/users/{id}")).await.unwrap();

    let m = snapshot(&snapshotter);
    let get_ = ("method", "GET");
    // Attempts that got an answer, by status.
    let req = |endpoint: &str, status: &str| {
        counter(
            &m,
            REQUESTS_TOTAL,
            &[get_, ("endpoint", endpoint), ("status", status)],
        )
    };
    assert_eq!(req("/users/{id}", "200"), 1);
    assert_eq!(req("/flaky", "503"), 1);
    assert_eq!(req("/flaky", "200"), 1);
    assert_eq!(req("/missing", "404"), 1);
    assert_eq!(req("/slow", "200"), 1);
    assert!(
        m.iter()
            .all(|x| !(x.name == REQUESTS_TOTAL && x.labels["endpoint"] == "/down")),
        "a transport failure got no HTTP answer"
    );
    // Labels carry the template, never the concrete path.
    assert!(
        m.iter()
            .all(|x| x.labels.get("endpoint").map(String::as_str) != Some("/users/42")),
        "{m:#?}"
    );
    // Retries.
    assert_eq!(
        counter(&m, RETRIES_TOTAL, &[get_, ("endpoint", "/flaky")]),
        1
    );
    assert!(
        find(
            &m,
            MetricKind::Counter,
            RETRIES_TOTAL,
            &[get_, ("endpoint", "/users/{id}")]
        )
        .is_none()
    );
    // Errors, by code: only calls that ended in an error.
    let err = |endpoint: &str, code: &str| {
        counter(
            &m,
            ERRORS_TOTAL,
            &[get_, ("endpoint", endpoint), ("code", code)],
        )
    };
    assert_eq!(err("/missing", "INVALID_REQUEST"), 1);
    assert_eq!(err("/down", "NETWORK_ERROR"), 1);
    assert!(
        m.iter().filter(|x| x.name == ERRORS_TOTAL).count() == 2,
        "the retried-then-successful call is no error: {m:#?}"
    );
    // Per-attempt latency.
    let users = histogram(&m, REQUEST_DURATION, &[get_, ("endpoint", "/users/{id}")]);
    assert_eq!(users.len(), 1);
    let late = LATE.as_secs_f64();
    assert!(users[0] > 0.0 && users[0] < late, "{users:?}");
    assert_eq!(
        histogram(&m, REQUEST_DURATION, &[get_, ("endpoint", "/flaky")]).len(),
        2,
        "one sample per attempt"
    );
    let slow = histogram(&m, REQUEST_DURATION, &[get_, ("endpoint", "/slow")]);
    // Seconds: at least the 300 ms the answer took (in milliseconds it would be hundreds).
    assert!(slow[0] >= 0.3 && slow[0] < 0.3 + late, "{slow:?}");
    // Gauges: nothing in flight any more; the server's remaining figure.
    assert_eq!(gauge(&m, IN_FLIGHT), 0.0);
    assert_eq!(gauge(&m, RATE_LIMIT_REMAINING), 17.0);
}

/// The metric keys of an operation's endpoint are made once per thread and kept; each attempt still
/// goes to whichever recorder is current. A recorder that comes after the first calls, and one that
/// replaces another on the same thread, each see their own attempts.
#[tokio::test]
async fn recorders_that_come_and_go_each_see_their_own_attempts() {
    init();
    let server = CountingServer::start(|s: Seen, _| async move {
        if s.uri == "/teapot" {
            reply(418, "{}")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let c = connected(config(&server.url(), RetryConfig::disabled())).await;
    // No recorder yet: these attempts go nowhere, and make the keys.
    c.request(get("/kept", "/kept")).await.unwrap();
    c.request(get("/teapot", "/teapot")).await.unwrap_err();

    for calls in [2u64, 3] {
        let recorder = Box::new(DebuggingRecorder::new());
        let snapshotter = recorder.snapshotter();
        let local = metrics::set_default_local_recorder(&*recorder);
        for _ in 0..calls {
            c.request(get("/kept", "/kept")).await.unwrap();
        }
        c.request(get("/teapot", "/teapot")).await.unwrap_err();
        drop(local);
        let m = snapshot(&snapshotter);
        let ok = counter(
            &m,
            REQUESTS_TOTAL,
            &[("method", "GET"), ("endpoint", "/kept"), ("status", "200")],
        );
        let teapot = counter(
            &m,
            REQUESTS_TOTAL,
            &[
                ("method", "GET"),
                ("endpoint", "/teapot"),
                ("status", "418"),
            ],
        );
        let took = histogram(
            &m,
            REQUEST_DURATION,
            &[("method", "GET"), ("endpoint", "/kept")],
        );
        assert_eq!((ok, teapot, took.len() as u64), (calls, 1, calls));
    }
}

// ---------------------------------------------------------------------------------------------------
// Tracing (the default current-thread runtime, so the thread-local subscriber sees everything).

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// The fields of the `connector.request` span as each log line shows them (`method=GET endpoint=...`),
/// without the event's own fields. Braces nest: the endpoint template has its own.
fn span_fields(text: &str) -> Vec<&str> {
    const OPEN: &str = "connector.request{";
    text.lines()
        .filter_map(|l| {
            let start = l.find(OPEN)? + OPEN.len();
            let mut depth = 1;
            for (i, ch) in l[start..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(&l[start..start + i]);
                        }
                    }
                    _ => {}
                }
            }
            None
        })
        .collect()
}

#[tokio::test]
async fn span_carries_method_template_request_id_attempt_and_status() {
    init();
    let (logs, _g) = Logs::capture();
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    c.request(get("/users/42", "/users/{id}")).await.unwrap();
    let id = sent_id(&server.requests()[0]);
    let text = logs.text();
    let in_span = span_fields(&text);
    assert!(!in_span.is_empty(), "no event inside the span:\n{text}");
    let want = [
        "method=GET".to_owned(),
        "endpoint=/users/{id}".to_owned(),
        format!("request_id={id}"),
        "attempt=1".to_owned(),
        "status=200".to_owned(),
    ];
    assert!(
        in_span
            .iter()
            .any(|f| want.iter().all(|w| f.split(' ').any(|t| t == w))),
        "no span line with all of {want:?}:\n{text}"
    );
    assert!(!text.contains("endpoint=/users/42"), "{text}");
}

/// The number after `key=` in `line`.
fn field_u64(line: &str, key: &str) -> u64 {
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {line}"))
}

#[tokio::test]
async fn retry_is_logged_as_a_warning_with_its_delay() {
    init();
    let (logs, _g) = Logs::capture();
    let server = CountingServer::start(|_, i| async move {
        if i == 0 {
            reply(503, "{}")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    let r = c.request(get("/items/7", "/items/{id}")).await.unwrap();
    assert_eq!(r.meta.retry_count, 1);
    let text = logs.text();
    let retry = lines_with(&text, "retrying after");
    assert_eq!(retry.len(), 1, "{text}");
    let line = retry[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("endpoint=/items/{id}"), "{line}");
    assert!(line.contains("503"), "{line}");
    // fast_retry: 50 ms before jitter, so the first delay lies in [25, 50] ms.
    let delay = field_u64(line, "delay_ms=");
    assert!((25..=50).contains(&delay), "delay_ms={delay}: {line}");
    // The second attempt is recorded on the span.
    assert!(
        span_fields(&text).iter().any(|f| {
            let t: Vec<&str> = f.split(' ').collect();
            t.contains(&"attempt=2") && t.contains(&"status=200")
        }),
        "{text}"
    );
}

#[tokio::test]
async fn failure_is_logged_with_its_code() {
    init();
    let (logs, _g) = Logs::capture();
    let server = CountingServer::start(|_, _| async { reply(404, "{}") }).await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    c.request(get("/users/9", "/users/{id}")).await.unwrap_err();
    let down = connected(config(&closed_port_url(), RetryConfig::disabled())).await;
    down.request(get("/ping", "ping")).await.unwrap_err();
    let text = logs.text();
    let failed = lines_with(&text, "request failed");
    assert_eq!(failed.len(), 2, "{text}");
    assert!(failed.iter().all(|l| l.contains("WARN")), "{text}");
    let f404 = failed
        .iter()
        .find(|l| l.contains("endpoint=/users/{id}"))
        .unwrap();
    assert!(
        f404.contains("INVALID_REQUEST") && f404.contains("status=404"),
        "{f404}"
    );
    let fdown = failed.iter().find(|l| l.contains("endpoint=ping")).unwrap();
    assert!(fdown.contains("NETWORK_ERROR"), "{fdown}");
}

// ---------------------------------------------------------------------------------------------------
// Request ids.

#[tokio::test]
async fn generated_request_id_is_sent_on_every_attempt_and_reported() {
    init();
    let server = CountingServer::start(|_, i| async move {
        if i < 2 {
            reply(503, "{}")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    let r = c.get("/x").await.unwrap();
    assert_eq!(r.meta.retry_count, 2);
    let r2 = c.get("/x").await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    let ids: Vec<String> = seen.iter().map(sent_id).collect();
    assert!(is_uuid_v4(&ids[0]), "{}", ids[0]);
    assert_eq!(ids[0], ids[1], "a retry keeps the call's id");
    assert_eq!(ids[1], ids[2], "a retry keeps the call's id");
    assert_ne!(ids[2], ids[3], "a new call gets a new id");
    assert!(is_uuid_v4(&ids[3]));
    // No id from the server: the generated one is reported.
    assert_eq!(r.meta.request_id, ids[0]);
    assert_eq!(r2.meta.request_id, ids[3]);
}

#[tokio::test]
async fn server_request_id_is_reported_when_present() {
    init();
    let server = CountingServer::start(|s: Seen, _| async move {
        let mut r = reply(200, "{}");
        match s.uri.as_str() {
            "/a" => {
                r.headers_mut()
                    .insert("x-request-id", "srv-a".parse().unwrap());
            }
            "/b" => {
                r.headers_mut()
                    .insert("request-id", "srv-b".parse().unwrap());
            }
            _ => {}
        }
        r
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    assert_eq!(c.get("/a").await.unwrap().meta.request_id, "srv-a");
    assert_eq!(c.get("/b").await.unwrap().meta.request_id, "srv-b");
    let seen = server.requests();
    assert!(
        seen.iter().all(|s| is_uuid_v4(&sent_id(s))),
        "the client still sends its own id"
    );
    // A caller's own id is sent as is and reported when the server has none.
    let r = c
        .request(RequestOptions::new(Method::GET, "/c").header("x-request-id", "caller-7"))
        .await
        .unwrap();
    assert_eq!(sent_id(&server.requests()[2]), "caller-7");
    assert_eq!(r.meta.request_id, "caller-7");
}

#[tokio::test]
async fn errors_carry_the_request_id() {
    init();
    let server = CountingServer::start(|s: Seen, _| async move {
        match s.uri.as_str() {
            "/missing" => reply(404, "{}"),
            "/broken" => {
                let mut r = reply(500, "{}");
                r.headers_mut()
                    .insert("x-request-id", "srv-err".parse().unwrap());
                r
            }
            _ => reply(503, "{}"),
        }
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;

    let e = c.get("/missing").await.unwrap_err();
    let sent = sent_id(&server.requests()[0]);
    assert_eq!(e.request_id(), Some(sent.as_str()));

    let e = c
        .request(RequestOptions::new(Method::GET, "/broken").retry(RetryConfig::disabled()))
        .await
        .unwrap_err();
    assert_eq!(e.request_id(), Some("srv-err"), "the server's id wins");

    // After retries: the one id every attempt carried.
    let e = c.get("/busy").await.unwrap_err();
    assert_eq!(e.attempt(), 3);
    let seen = server.requests();
    let busy: Vec<String> = seen
        .iter()
        .filter(|s| s.uri == "/busy")
        .map(sent_id)
        .collect();
    assert_eq!(busy.len(), 3);
    assert!(busy.iter().all(|id| *id == busy[0]));
    assert_eq!(e.request_id(), Some(busy[0].as_str()));

    // Nothing answered at all: the generated id.
    let down = connected(config(&closed_port_url(), RetryConfig::disabled())).await;
    let e = down.get("/x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError);
    assert!(is_uuid_v4(e.request_id().expect("an id")), "{e:?}");
}
