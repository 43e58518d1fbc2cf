//! The benchmark server: hyper 1 on a loopback port, `/item` and `/items/large` from precomputed
//! bytes, `/items` cursor pages generated on the fly (so a long pagination costs it no memory).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Items per page when the caller asks for none.
const DEFAULT_LIMIT: u64 = 100;
/// Largest page served.
const MAX_LIMIT: u64 = 10_000;
/// Items listed in total when the caller does not say (`total=` query parameter).
const DEFAULT_TOTAL: u64 = 1_000;

/// One item's JSON, numbered `n`.
pub fn item_json(n: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(
        out,
        r#"{{"id":"it_{n}","name":"item number {n}","active":{},"score":{},"tags":["alpha","beta","gamma"]}}"#,
        n.is_multiple_of(2),
        n.wrapping_mul(7919) % 100_000
    );
}

/// The precomputed answers.
pub struct Answers {
    item: Bytes,
    large: Bytes,
}

impl Answers {
    /// Build them once.
    pub fn new() -> Self {
        let mut item = Vec::new();
        item_json(1, &mut item);
        let mut large = Vec::with_capacity(crate::LARGE_ITEMS * 110);
        large.extend_from_slice(br#"{"data":["#);
        for n in 0..crate::LARGE_ITEMS as u64 {
            if n > 0 {
                large.push(b',');
            }
            item_json(n, &mut large);
        }
        large.extend_from_slice(b"]}");
        Answers {
            item: item.into(),
            large: large.into(),
        }
    }
    /// The `/items/large` body.
    pub fn large(&self) -> &Bytes {
        &self.large
    }
}

impl Default for Answers {
    fn default() -> Self {
        Self::new()
    }
}

/// Read a decimal number, saturating, or `None` when it is not one.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        b.is_ascii_digit()
            .then(|| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    })
}

/// The page after `starting_after` (`it_<n>`), `limit` items of `total`.
fn page(query: &str) -> Bytes {
    let (mut limit, mut after, mut total) = (DEFAULT_LIMIT, None, DEFAULT_TOTAL);
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "limit" => limit = parse_u64(v).unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            "total" => total = parse_u64(v).unwrap_or(DEFAULT_TOTAL),
            "starting_after" => after = v.strip_prefix("it_").and_then(parse_u64),
            _ => {}
        }
    }
    let start = after.map_or(0, |a| a.saturating_add(1));
    let end = start.saturating_add(limit).min(total);
    let mut out = Vec::with_capacity((end.saturating_sub(start) as usize).saturating_mul(110) + 32);
    out.extend_from_slice(br#"{"data":["#);
    for n in start..end {
        if n > start {
            out.push(b',');
        }
        item_json(n, &mut out);
    }
    out.extend_from_slice(br#"],"has_more":"#);
    out.extend_from_slice(if end < total { b"true}" } else { b"false}" });
    out.into()
}

fn answer(answers: &Answers, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match req.uri().path() {
        "/item" => answers.item.clone(),
        "/items/large" => answers.large.clone(),
        "/items" => page(req.uri().query().unwrap_or("")),
        _ => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Serve on `127.0.0.1:0` from the current tokio runtime; answers the bound address. Connections are
/// served on spawned tasks until the runtime ends.
pub async fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let answers = Arc::new(Answers::new());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let answers = answers.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let r = answer(&answers, &req);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_at_the_total() {
        let p = page("limit=2&starting_after=it_7&total=10");
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["data"][0]["id"], "it_8");
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["has_more"], false);
        let p = page("limit=99999999999999999999999&total=3");
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 3);
    }
}
