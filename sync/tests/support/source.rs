//! A vendor-shaped source on loopback for the sync tests: a GitHub-issues-like listing (`Link`
//! header pages, `since`, soft deletes as `deleted_at`, an issue's comments as a child listing)
//! and a Stripe-like one (`has_more`/`starting_after`, `updated[gte]` in Unix seconds, deleted
//! charges listed as tombstones), over a data set the tests change between and during runs.
//!
//! The source's clock is logical: every change takes the next second after 2026-01-01T00:00:00Z,
//! so timestamps are unique and ordered without reading the wall clock.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value as Json, json};
use tokio::sync::watch;

/// 2026-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_767_225_600;

/// A change applied once the source has answered a given number of list requests.
pub type Hook = Box<dyn FnOnce(&mut Data) + Send>;

/// The data set.
#[derive(Clone)]
pub struct Data {
    pub clock: i64,
    /// Issues by id, as served.
    pub issues: BTreeMap<i64, Json>,
    /// Ids of issues served malformed.
    pub bad_issues: BTreeSet<i64>,
    /// Comments by issue number.
    pub comments: BTreeMap<i64, Vec<Json>>,
    /// Charges by id, tombstones included.
    pub charges: BTreeMap<String, Json>,
    /// Ids of charges served malformed.
    pub bad_charges: BTreeSet<String>,
    next_issue: i64,
    next_charge: u64,
    next_comment: i64,
    rng: u64,
}

fn time(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(EPOCH + t, 0)
        .expect("in range")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Data {
    pub fn new(seed: u64) -> Data {
        Data {
            clock: 0,
            issues: BTreeMap::new(),
            bad_issues: BTreeSet::new(),
            comments: BTreeMap::new(),
            charges: BTreeMap::new(),
            bad_charges: BTreeSet::new(),
            next_issue: 1,
            next_charge: 1,
            next_comment: 1,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// A pseudo-random number below `n` (xorshift; the tests are reproducible from their seed).
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n.max(1)
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    pub fn add_issue(&mut self, malformed: bool) -> i64 {
        let n = self.next_issue;
        self.next_issue += 1;
        let t = self.tick();
        let id = 1_000 + n;
        let mut item = json!({
            "id": id,
            "number": n,
            "title": format!("issue {n}"),
            "body": if n % 3 == 0 { Json::Null } else { json!(format!("body of {n}")) },
            "state": "open",
            "locked": false,
            "comments": 0,
            "score": n as f64 / 4.0,
            "user": {"login": format!("user{}", n % 7), "id": n % 7},
            "labels": [{"name": "bug", "color": "f00"}],
            "created_at": time(t),
            "updated_at": time(t),
            "closed_at": null,
            "deleted_at": null,
        });
        if malformed {
            if n % 2 == 0 {
                item["number"] = json!("seven");
            } else {
                item.as_object_mut().expect("object").remove("title");
            }
            self.bad_issues.insert(id);
        }
        self.issues.insert(id, item);
        id
    }

    pub fn add_comment(&mut self, number: i64) {
        let c = self.next_comment;
        self.next_comment += 1;
        let t = self.tick();
        self.comments.entry(number).or_default().push(json!({
            "id": 50_000 + c,
            "body": format!("comment {c}"),
            "user": {"login": "commenter", "id": 9},
            "created_at": time(t),
            "updated_at": time(t),
        }));
    }

    pub fn add_charge(&mut self, malformed: bool) -> String {
        let n = self.next_charge;
        self.next_charge += 1;
        let t = self.tick();
        let id = format!("ch_{n:06}");
        let mut item = json!({
            "id": id,
            "object": "charge",
            "amount": 100 + n,
            "currency": "usd",
            "status": "succeeded",
            "paid": true,
            "customer": if n % 2 == 0 { json!(format!("cus_{}", n % 5)) } else { Json::Null },
            "description": format!("charge {n}"),
            "metadata": {"order": n.to_string()},
            "created": EPOCH + t,
            "updated": EPOCH + t,
        });
        if malformed {
            if n % 2 == 0 {
                item["amount"] = json!("lots");
            } else {
                item["created"] = json!("yesterday");
            }
            self.bad_charges.insert(id.clone());
        }
        self.charges.insert(id.clone(), item);
        id
    }

    fn pick<K: Clone>(&mut self, keys: Vec<K>) -> Option<K> {
        if keys.is_empty() {
            return None;
        }
        let i = self.below(keys.len() as u64) as usize;
        Some(keys[i].clone())
    }

    fn live_issue(&mut self) -> Option<i64> {
        let keys: Vec<i64> = self
            .issues
            .iter()
            .filter(|(id, v)| !self.bad_issues.contains(id) && v["deleted_at"].is_null())
            .map(|(id, _)| *id)
            .collect();
        self.pick(keys)
    }

    fn live_charge(&mut self) -> Option<String> {
        let keys: Vec<String> = self
            .charges
            .iter()
            .filter(|(id, v)| !self.bad_charges.contains(*id) && v.get("deleted").is_none())
            .map(|(id, _)| id.clone())
            .collect();
        self.pick(keys)
    }

    /// Change an issue's title and state, with a later `updated_at`.
    pub fn update_issue(&mut self) {
        if let Some(id) = self.live_issue() {
            let t = self.tick();
            let item = self.issues.get_mut(&id).expect("picked");
            item["title"] = json!(format!(
                "{} (edited at {t})",
                item["title"].as_str().unwrap_or("")
            ));
            item["state"] = json!(if t % 2 == 0 { "closed" } else { "open" });
            item["closed_at"] = if t % 2 == 0 {
                json!(time(t))
            } else {
                Json::Null
            };
            item["updated_at"] = json!(time(t));
        }
    }

    pub fn soft_delete_issue(&mut self) {
        if let Some(id) = self.live_issue() {
            let t = self.tick();
            let item = self.issues.get_mut(&id).expect("picked");
            item["deleted_at"] = json!(time(t));
            item["updated_at"] = json!(time(t));
        }
    }

    pub fn update_charge(&mut self) {
        if let Some(id) = self.live_charge() {
            let t = self.tick();
            let item = self.charges.get_mut(&id).expect("picked");
            item["amount"] = json!(item["amount"].as_i64().unwrap_or(0) + 1);
            item["status"] = json!(if t % 2 == 0 { "failed" } else { "succeeded" });
            item["updated"] = json!(EPOCH + t);
        }
    }

    pub fn delete_charge(&mut self) {
        if let Some(id) = self.live_charge() {
            let t = self.tick();
            let created = self.charges[&id]["created"].clone();
            self.charges.insert(
                id.clone(),
                json!({"id": id, "object": "charge", "deleted": true, "created": created, "updated": EPOCH + t}),
            );
        }
    }

    /// The initial data set.
    pub fn seed(&mut self, issues: usize, charges: usize) {
        for i in 0..issues {
            self.add_issue(i % 97 == 13);
        }
        for i in 0..charges {
            self.add_charge(i % 89 == 11);
        }
    }

    /// One round of changes: inserts, updates, soft and hard deletes, a malformed row of each.
    pub fn mutate(&mut self) {
        for _ in 0..(3 + self.below(5)) {
            self.add_issue(false);
            self.add_charge(false);
        }
        for _ in 0..(5 + self.below(10)) {
            self.update_issue();
            self.update_charge();
        }
        for _ in 0..(1 + self.below(3)) {
            self.soft_delete_issue();
            self.delete_charge();
        }
        self.add_issue(true);
        self.add_charge(true);
    }

    /// The issues a faithful destination holds: every well-formed one (soft-deleted included).
    pub fn expected_issues(&self) -> BTreeMap<i64, Json> {
        self.issues
            .iter()
            .filter(|(id, _)| !self.bad_issues.contains(id))
            .map(|(id, v)| (*id, v.clone()))
            .collect()
    }

    /// The charges a faithful destination holds: well-formed and not deleted.
    pub fn expected_charges(&self) -> BTreeMap<String, Json> {
        self.charges
            .iter()
            .filter(|(id, v)| !self.bad_charges.contains(*id) && v.get("deleted").is_none())
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect()
    }

    fn list_issues(
        &self,
        q: &BTreeMap<String, String>,
        base: &str,
        path: &str,
    ) -> Result<(Vec<Json>, Option<String>), String> {
        let since = match q.get("since") {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|e| format!("since: {e}"))?
                    .timestamp(),
            ),
            None => None,
        };
        let per_page: usize = q
            .get("per_page")
            .map_or(Ok(30), |v| v.parse())
            .map_err(|_| "per_page")?;
        let page: usize = q
            .get("page")
            .map_or(Ok(1), |v| v.parse())
            .map_err(|_| "page")?;
        let per_page = per_page.clamp(1, 100);
        // Newest first, as GitHub lists by default.
        let all: Vec<&Json> = self
            .issues
            .values()
            .rev()
            .filter(|v| {
                since.is_none_or(|s| {
                    v["updated_at"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .is_some_and(|t| t.timestamp() >= s)
                })
            })
            .collect();
        page_of(all, per_page, page, q, base, path)
    }

    fn list_comments(
        &self,
        number: i64,
        q: &BTreeMap<String, String>,
        base: &str,
        path: &str,
    ) -> Result<(Vec<Json>, Option<String>), String> {
        let since = q
            .get("since")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.timestamp());
        let per_page: usize = q
            .get("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
        let all: Vec<&Json> = self
            .comments
            .get(&number)
            .map(|c| c.iter().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|v: &&Json| {
                since.is_none_or(|s| {
                    v["updated_at"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .is_some_and(|t| t.timestamp() >= s)
                })
            })
            .collect();
        page_of(all, per_page, page, q, base, path)
    }

    fn list_charges(&self, q: &BTreeMap<String, String>) -> Result<Json, String> {
        let gte: Option<i64> = match q.get("updated[gte]") {
            Some(v) => Some(v.parse().map_err(|_| format!("updated[gte] `{v}`"))?),
            None => None,
        };
        let limit: usize = q
            .get("limit")
            .map_or(Ok(10), |v| v.parse())
            .map_err(|_| "limit")?;
        let limit = limit.clamp(1, 100);
        // Newest first (ids grow with creation), as Stripe lists.
        let all: Vec<&Json> = self
            .charges
            .values()
            .rev()
            .filter(|v| gte.is_none_or(|g| v["updated"].as_i64().is_some_and(|u| u >= g)))
            .collect();
        let start = match q.get("starting_after") {
            Some(id) => all
                .iter()
                .position(|v| v["id"] == json!(id))
                .map(|i| i + 1)
                .ok_or_else(|| format!("No such charge: '{id}'"))?,
            None => 0,
        };
        let data: Vec<Json> = all
            .iter()
            .skip(start)
            .take(limit)
            .map(|v| (*v).clone())
            .collect();
        let has_more = start + data.len() < all.len();
        Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/charges"}))
    }
}

fn page_of(
    all: Vec<&Json>,
    per_page: usize,
    page: usize,
    q: &BTreeMap<String, String>,
    base: &str,
    path: &str,
) -> Result<(Vec<Json>, Option<String>), String> {
    let start = page.saturating_sub(1).saturating_mul(per_page);
    let items: Vec<Json> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|v| (*v).clone())
        .collect();
    let next = (start + items.len() < all.len()).then(|| {
        let mut query: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| *k != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.push(("page".into(), (page + 1).to_string()));
        let qs: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("<{base}{path}?{qs}>; rel=\"next\"")
    });
    Ok((items, next))
}

/// The running source.
pub struct Source {
    pub addr: SocketAddr,
    pub data: Arc<Mutex<Data>>,
    /// List requests answered so far.
    pub answered: watch::Receiver<u64>,
    hooks: Arc<Mutex<Vec<(u64, Hook)>>>,
    /// Answer every request with a 500 from this count on (a source outage).
    failing_from: Arc<Mutex<Option<u64>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Source {
    /// Serve `data` on a free loopback port.
    pub async fn start(data: Data) -> Source {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let data = Arc::new(Mutex::new(data));
        let (tx, answered) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let hooks: Arc<Mutex<Vec<(u64, Hook)>>> = Arc::new(Mutex::new(Vec::new()));
        let failing_from = Arc::new(Mutex::new(None));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (d, h, f) = (data.clone(), hooks.clone(), failing_from.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = &mut stopped => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (d, h, f, tx) = (d.clone(), h.clone(), f.clone(), tx.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<Incoming>| {
                        let (d, h, f, tx) = (d.clone(), h.clone(), f.clone(), tx.clone());
                        async move { Ok::<_, Infallible>(answer(req, addr, &d, &h, &f, &tx)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Source {
            addr,
            data,
            answered,
            hooks,
            failing_from,
            stop: Some(stop),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Apply `f` to the data right after the `n`th list request (counted from the start) is
    /// answered.
    pub fn after_request(&self, n: u64, f: impl FnOnce(&mut Data) + Send + 'static) {
        self.hooks.lock().unwrap().push((n, Box::new(f)));
    }

    /// Answer 500 to every list request from the `n`th on (`None`: stop failing).
    pub fn fail_from(&self, n: Option<u64>) {
        *self.failing_from.lock().unwrap() = n;
    }

    /// A copy of the data as it is now.
    pub fn snapshot(&self) -> Data {
        self.data.lock().unwrap().clone()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.data.lock().unwrap())
    }

    /// Wait until the source has answered at least `n` list requests; false when it does not
    /// within `patience`.
    pub async fn wait_answered(&self, n: u64, patience: std::time::Duration) -> bool {
        let mut rx = self.answered.clone();
        tokio::time::timeout(patience, rx.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

fn respond(
    status: u16,
    body: Json,
    link: Option<String>,
    clock: i64,
) -> http::Response<Full<Bytes>> {
    // The source's own clock, as a vendor's `Date` and its timestamps share one.
    let date = DateTime::<Utc>::from_timestamp(EPOCH + clock, 0)
        .expect("in range")
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut b = http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("date", date);
    if let Some(l) = link {
        b = b.header("link", l);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn answer(
    req: http::Request<Incoming>,
    addr: SocketAddr,
    data: &Mutex<Data>,
    hooks: &Mutex<Vec<(u64, Hook)>>,
    failing_from: &Mutex<Option<u64>>,
    answered: &watch::Sender<u64>,
) -> http::Response<Full<Bytes>> {
    let uri = req.uri().clone();
    let path = uri.path().to_owned();
    let q: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let n = *answered.borrow() + 1;
    let response = if failing_from.lock().unwrap().is_some_and(|f| n >= f) {
        respond(500, json!({"message": "source outage"}), None, 0)
    } else {
        let mut d = data.lock().unwrap();
        let base = format!("http://{addr}");
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let clock = d.clock;
        let r = match segs.as_slice() {
            ["repos", _, _, "issues"] => d
                .list_issues(&q, &base, &path)
                .map(|(items, link)| respond(200, Json::Array(items), link, clock)),
            ["repos", _, _, "issues", num, "comments"] => match num.parse::<i64>() {
                Ok(num) => d
                    .list_comments(num, &q, &base, &path)
                    .map(|(items, link)| respond(200, Json::Array(items), link, clock)),
                Err(_) => Err(format!("issue number `{num}`")),
            },
            ["v1", "charges"] => d
                .list_charges(&q)
                .map(|body| respond(200, body, None, clock)),
            _ => return respond(404, json!({"message": "Not Found"}), None, clock),
        };
        let resp = r.unwrap_or_else(|e| respond(400, json!({"message": e}), None, clock));
        let due: Vec<Hook> = {
            let mut h = hooks.lock().unwrap();
            let (now, later): (Vec<_>, Vec<_>) = h.drain(..).partition(|(at, _)| *at <= n);
            *h = later;
            now.into_iter().map(|(_, f)| f).collect()
        };
        for f in due {
            f(&mut d);
        }
        resp
    };
    answered.send_modify(|c| *c += 1);
    response
}
