//! The upstream behind the fault proxy: an in-process hyper server on loopback answering the example pet
//! store (`specs/examples/petstore.yaml`), a Stripe-style customer list and a downloadable file, and
//! counting every request it really received, per route, per listing page and per idempotency key.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// `GET /pets/{petId}`: one pet, `{"id": n, "name": "pet-n", ...}`.
pub const SHOW_PET: &str = "GET /pets/{petId}";
/// `GET /pets?limit=&page=`: the pet listing, paged by a `Link` header.
pub const LIST_PETS: &str = "GET /pets";
/// `POST /pets`: a new pet; a repeated `Idempotency-Key` gets the first answer again.
pub const CREATE_PET: &str = "POST /pets";
/// `GET /customers?limit=&starting_after=`: the customer listing, `has_more` + last id.
pub const LIST_CUSTOMERS: &str = "GET /customers";
/// `GET /files/blob`: a binary payload with a strong `ETag`, honouring `Range` and `If-Range`.
pub const FILE: &str = "GET /files/blob";
/// Anything else (answered 404).
pub const OTHER: &str = "other";

/// Pets in the `/pets` listing: ids 1 to this.
pub const PETS_LISTED: u64 = 95;
/// Customers in the `/customers` listing: `cus_001` to `cus_025`.
pub const CUSTOMERS_LISTED: u64 = 25;
/// Bytes of the `/files/blob` payload.
pub const FILE_LEN: usize = 256 * 1024;
/// The payload's entity tag.
pub const FILE_ETAG: &str = "\"blob-v1\"";

/// The JSON the upstream answers for pet `id`.
pub fn pet_json(id: u64, name: &str) -> Value {
    json!({"id": id, "name": name, "tag": null, "status": "available"})
}

/// The payload of `/files/blob`: a fixed, non-repeating-looking byte pattern.
pub fn file_bytes() -> Bytes {
    (0..FILE_LEN)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A `Range`/`If-Range` pair as the upstream received it on a file request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSeen {
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `If-Range` header, if any.
    pub if_range: Option<String>,
}

#[derive(Default)]
struct Posts {
    /// Idempotency key → (requests carrying it, the answer given to the first).
    by_key: HashMap<String, (u64, Bytes)>,
    /// Pet name → pets created with it.
    created: HashMap<String, u64>,
}

struct State {
    total: AtomicU64,
    routes: Mutex<BTreeMap<&'static str, u64>>,
    pages: Mutex<BTreeMap<String, u64>>,
    next_id: AtomicU64,
    posts: Mutex<Posts>,
    ranges: Mutex<Vec<RangeSeen>>,
    file: Bytes,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running upstream. Dropping it stops accepting connections.
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Upstream {
    /// Listen on 127.0.0.1 on a free port and serve HTTP/1.1 with keep-alive.
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the upstream");
        let addr = listener.local_addr().expect("upstream address");
        let state = Arc::new(State {
            total: AtomicU64::new(0),
            routes: Mutex::new(BTreeMap::new()),
            pages: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1000),
            posts: Mutex::new(Posts::default()),
            ranges: Mutex::new(Vec::new()),
            file: file_bytes(),
        });
        let served = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((io, _)) = listener.accept().await else {
                    continue;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            state,
            accept,
        }
    }

    /// Where the upstream listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received, all routes together.
    pub fn total(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    /// Requests received on one route (see the route constants).
    pub fn hits(&self, route: &str) -> u64 {
        lock(&self.state.routes).get(route).copied().unwrap_or(0)
    }

    /// Times one listing page was asked for: `"pets page 3"`, `"customers after cus_010"`,
    /// `"customers first"`.
    pub fn page_hits(&self, page: &str) -> u64 {
        lock(&self.state.pages).get(page).copied().unwrap_or(0)
    }

    /// Every listing page asked for, with its count.
    pub fn pages(&self) -> BTreeMap<String, u64> {
        lock(&self.state.pages).clone()
    }

    /// Pets created under `name` (a replayed keyed request creates nothing new).
    pub fn creations(&self, name: &str) -> u64 {
        lock(&self.state.posts)
            .created
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Names under which more than one pet was created.
    pub fn created_twice(&self) -> Vec<String> {
        lock(&self.state.posts)
            .created
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Requests that carried this idempotency key.
    pub fn key_requests(&self, key: &str) -> u64 {
        lock(&self.state.posts)
            .by_key
            .get(key)
            .map_or(0, |(n, _)| *n)
    }

    /// `Range` and `If-Range` of every file request, in arrival order.
    pub fn file_requests(&self) -> Vec<RangeSeen> {
        lock(&self.state.ranges).clone()
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn answer(
    status: u16,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

fn json_answer(status: u16, extra: &[(&str, String)], value: &Value) -> Response<Full<Bytes>> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    headers.extend(extra.iter().cloned());
    answer(status, &headers, value.to_string())
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    json_answer(
        404,
        &[],
        &json!({"code": 404, "message": format!("no such {what}")}),
    )
}

impl State {
    fn count(&self, route: &'static str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        *lock(&self.routes).entry(route).or_insert(0) += 1;
    }

    fn count_page(&self, page: String) {
        *lock(&self.pages).entry(page).or_insert(0) += 1;
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        if method == Method::GET && path == "/pets" {
            self.count(LIST_PETS);
            return self.list_pets(&req, &query);
        }
        if method == Method::POST && path == "/pets" {
            self.count(CREATE_PET);
            return self.create_pet(req).await;
        }
        if method == Method::GET {
            if let Some(id) = path.strip_prefix("/pets/") {
                self.count(SHOW_PET);
                return match id.parse::<u64>() {
                    Ok(id) => json_answer(200, &[], &pet_json(id, &format!("pet-{id}"))),
                    Err(_) => not_found("pet"),
                };
            }
            if path == "/customers" {
                self.count(LIST_CUSTOMERS);
                return self.list_customers(&query);
            }
            if path == "/files/blob" {
                self.count(FILE);
                return self.file(&req);
            }
        }
        self.count(OTHER);
        not_found("route")
    }

    fn list_pets(&self, req: &Request<Incoming>, query: &str) -> Response<Full<Bytes>> {
        let limit = query_param(query, "limit")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(20);
        let page = query_param(query, "page")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|p| *p > 0)
            .unwrap_or(1);
        self.count_page(format!("pets page {page}"));
        let from = (page - 1).saturating_mul(limit) + 1;
        let to = page.saturating_mul(limit).min(PETS_LISTED);
        let pets: Vec<Value> = (from..=to)
            .map(|id| pet_json(id, &format!("pet-{id}")))
            .collect();
        let mut headers = Vec::new();
        if to < PETS_LISTED {
            let host = header(req, "host").unwrap_or("127.0.0.1");
            headers.push((
                "link",
                format!(
                    "<http://{host}/pets?limit={limit}&page={}>; rel=\"next\"",
                    page + 1
                ),
            ));
        }
        json_answer(200, &headers, &Value::Array(pets))
    }

    fn list_customers(&self, query: &str) -> Response<Full<Bytes>> {
        let limit = query_param(query, "limit")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(10);
        let after = query_param(query, "starting_after");
        self.count_page(match after {
            Some(a) => format!("customers after {a}"),
            None => "customers first".to_owned(),
        });
        let from = match after {
            None => 1,
            Some(a) => match a.strip_prefix("cus_").and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => n + 1,
                None => return not_found("customer"),
            },
        };
        let to = (from + limit - 1).min(CUSTOMERS_LISTED);
        let data: Vec<Value> = (from..=to)
            .map(|n| json!({"id": format!("cus_{n:03}"), "email": format!("c{n}@example.com")}))
            .collect();
        json_answer(
            200,
            &[],
            &json!({"object": "list", "data": data, "has_more": to < CUSTOMERS_LISTED}),
        )
    }

    async fn create_pet(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let key = header(&req, "idempotency-key").map(str::to_owned);
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return json_answer(400, &[], &json!({"code": 400, "message": "body"})),
        };
        let name = match serde_json::from_slice::<Value>(&body) {
            Ok(v) => match v.get("name").and_then(Value::as_str) {
                Some(n) => n.to_owned(),
                None => {
                    return json_answer(422, &[], &json!({"code": 422, "message": "no name"}));
                }
            },
            Err(_) => return json_answer(400, &[], &json!({"code": 400, "message": "not JSON"})),
        };
        let mut posts = lock(&self.posts);
        if let Some(k) = &key
            && let Some((n, first)) = posts.by_key.get_mut(k)
        {
            *n += 1;
            let first = first.clone();
            return answer(
                201,
                &[("content-type", "application/json".to_owned())],
                first,
            );
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let created = Bytes::from(pet_json(id, &name).to_string());
        *posts.created.entry(name).or_insert(0) += 1;
        if let Some(k) = key {
            posts.by_key.insert(k, (1, created.clone()));
        }
        answer(
            201,
            &[("content-type", "application/json".to_owned())],
            created,
        )
    }

    fn file(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let range = header(req, "range").map(str::to_owned);
        let if_range = header(req, "if-range").map(str::to_owned);
        lock(&self.ranges).push(RangeSeen {
            range: range.clone(),
            if_range: if_range.clone(),
        });
        let len = self.file.len();
        let base = [
            ("content-type", "application/octet-stream".to_owned()),
            ("etag", FILE_ETAG.to_owned()),
            ("accept-ranges", "bytes".to_owned()),
        ];
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|r| r.parse::<usize>().ok());
        let validator_holds = if_range.as_deref().is_none_or(|v| v == FILE_ETAG);
        match start {
            Some(s) if s < len && validator_holds => {
                let mut headers = base.to_vec();
                headers.push(("content-range", format!("bytes {s}-{}/{len}", len - 1)));
                answer(206, &headers, self.file.slice(s..))
            }
            _ => answer(200, &base, self.file.clone()),
        }
    }
}
