//! Conditional GETs: a bounded, least-recently-used store of answers that carry a validator, used to
//! send `If-None-Match` / `If-Modified-Since` and to answer a `304 Not Modified` with the stored body.
//!
//! The pipeline calls [`ResponseCache::prepare`] once per attempt, after the request is built and
//! authenticated and before `beforeRequest` hooks, and [`ResponseCache::settle`] after `afterResponse`
//! hooks. Hooks therefore see the real exchange: the conditional headers on the way out, the 304 with
//! its empty body on the way back. Only then does the 304 become the stored 200 the caller receives,
//! with [`crate::ResponseMeta::revalidated`] set. A 304 is a success for the breaker and never retried.
//!
//! The key is a SHA-256 digest of the method, the full URL and every request header present at that
//! point except the per-call correlation id and idempotency key. Credentials (an `Authorization`
//! header, an API key in a header, the query or a cookie) are part of it, so answers are never shared
//! across credentials, and since every header the connector sends is in the key a `Vary` on any of them
//! is honoured by construction. Headers added later (by hooks or a signer) are checked against `Vary`
//! before storing; `Vary: *` is never stored. See [`crate::config::CacheConfig`] for what is stored.
//!
//! Hand-written rather than a crate: the store needs byte accounting next to the entry count, which the
//! common LRU crates do not keep, and a `HashMap` plus a `BTreeMap` ordered by last use is ~60 lines.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, ETAG, HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, LAST_MODIFIED, RANGE, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use crate::config::CacheConfig;
use crate::hooks::ResponseParts;
use crate::observe;
use crate::request::RequestParts;

/// A SHA-256 digest identifying a request.
pub(crate) type Key = [u8; 32];

/// Builds a [`Key`] from length-prefixed fields, so no two different field lists hash alike by
/// concatenation.
pub(crate) struct KeyHasher(ring::digest::Context);

impl KeyHasher {
    pub(crate) fn new() -> Self {
        KeyHasher(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub(crate) fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    /// Every header but the `skip`ped ones, in a fixed order (by name, then value).
    pub(crate) fn headers(&mut self, headers: &HeaderMap, skip: &[HeaderName]) {
        let mut all: Vec<(&str, &[u8])> = headers
            .iter()
            .filter(|(n, _)| !skip.contains(n))
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        all.sort_unstable();
        self.field(&(all.len() as u64).to_be_bytes());
        for (n, v) in all {
            self.field(n.as_bytes());
            self.field(v);
        }
    }

    pub(crate) fn finish(self) -> Key {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.0.finish().as_ref());
        key
    }
}

/// A stored answer.
struct Stored {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    size: usize,
}

impl Stored {
    fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Stored {
        let size = 128
            + body.len()
            + headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>();
        Stored {
            status,
            headers,
            body,
            size,
        }
    }
}

/// What [`ResponseCache::prepare`] found for one attempt.
pub(crate) struct Lookup {
    key: Key,
    /// The entry the conditional headers were taken from, if any.
    stored: Option<Arc<Stored>>,
    /// The request headers as keyed, to check `Vary` against the final request.
    keyed_headers: HeaderMap,
}

/// The response cache of one connector.
pub(crate) struct ResponseCache {
    lru: Mutex<Lru>,
    max_entries: usize,
    max_bytes: usize,
    /// Per-call headers left out of the key: the correlation id and the idempotency key.
    ignored: Vec<HeaderName>,
}

impl ResponseCache {
    pub(crate) fn new(config: &CacheConfig, ignored: Vec<HeaderName>) -> Self {
        ResponseCache {
            lru: Mutex::new(Lru::default()),
            max_entries: config.max_entries,
            max_bytes: config.max_bytes,
            ignored,
        }
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drop every entry.
    pub(crate) fn clear(&self) {
        *self.lru() = Lru::default();
    }

    /// Key the request (a GET that does not opt out by its own headers) and, when an answer is stored
    /// under that key, add its validators as conditional headers. None: the request bypasses the cache.
    pub(crate) fn prepare(&self, parts: &mut RequestParts) -> Option<Lookup> {
        if parts.method != Method::GET {
            return None;
        }
        let h = &parts.headers;
        let own_conditions = [
            IF_NONE_MATCH,
            IF_MODIFIED_SINCE,
            IF_MATCH,
            IF_UNMODIFIED_SINCE,
            IF_RANGE,
            RANGE,
        ];
        if own_conditions.iter().any(|n| h.contains_key(n))
            || has_directive(h, &["no-store", "no-cache"])
        {
            return None;
        }
        let mut hasher = KeyHasher::new();
        hasher.field(parts.method.as_str().as_bytes());
        hasher.field(parts.url.as_str().as_bytes());
        hasher.headers(h, &self.ignored);
        let key = hasher.finish();
        let keyed_headers = h.clone();
        let stored = self.lru().get(&key);
        if let Some(s) = &stored {
            if let Some(etag) = s.headers.get(ETAG) {
                parts.headers.insert(IF_NONE_MATCH, etag.clone());
            }
            if let Some(lm) = s.headers.get(LAST_MODIFIED) {
                parts.headers.insert(IF_MODIFIED_SINCE, lm.clone());
            }
        }
        Some(Lookup {
            key,
            stored,
            keyed_headers,
        })
    }

    /// After `afterResponse` hooks: a 304 to a request made conditional by [`ResponseCache::prepare`]
    /// becomes the stored answer with its headers refreshed from the 304 (returned with `true`); a 200
    /// that may be stored is stored (or, when it may not, any older entry under its key is dropped);
    /// anything else passes through.
    pub(crate) fn settle(
        &self,
        lookup: Lookup,
        sent: &RequestParts,
        resp: ResponseParts,
        endpoint: &str,
    ) -> (ResponseParts, bool) {
        if resp.status == StatusCode::NOT_MODIFIED {
            let Some(stored) = lookup.stored else {
                return (resp, false);
            };
            let headers = refreshed(&stored.headers, &resp.headers);
            let entry = Stored::new(stored.status, headers.clone(), stored.body.clone());
            self.lru()
                .put(lookup.key, entry, self.max_entries, self.max_bytes);
            observe::cache_revalidated(endpoint);
            tracing::debug!(
                cache = "revalidated",
                bytes = stored.body.len(),
                "304 Not Modified: answered from the cache"
            );
            let answer = ResponseParts {
                status: stored.status,
                headers,
                body: stored.body.clone(),
            };
            return (answer, true);
        }
        if resp.status == StatusCode::OK {
            if storable(&resp.headers, &lookup.keyed_headers, &sent.headers) {
                let entry = Stored::new(resp.status, resp.headers.clone(), resp.body.clone());
                if entry.size <= self.max_bytes {
                    self.lru()
                        .put(lookup.key, entry, self.max_entries, self.max_bytes);
                    observe::cache_stored(endpoint);
                    tracing::debug!(
                        cache = "stored",
                        bytes = resp.body.len(),
                        "answer stored for conditional requests"
                    );
                    return (resp, false);
                }
            }
            self.lru().remove(&lookup.key);
        }
        (resp, false)
    }
}

/// Whether any `Cache-Control` header carries one of `directives` (case-insensitive).
fn has_directive(headers: &HeaderMap, directives: &[&str]) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.split('=').next().unwrap_or("").trim())
        .any(|d| directives.iter().any(|x| d.eq_ignore_ascii_case(x)))
}

/// A 200 with a validator, without `no-store`, whose `Vary` names no header that hooks or a signer
/// changed after the request was keyed (and is not `*`).
fn storable(resp: &HeaderMap, keyed: &HeaderMap, sent: &HeaderMap) -> bool {
    if !(resp.contains_key(ETAG) || resp.contains_key(LAST_MODIFIED)) {
        return false;
    }
    if has_directive(resp, &["no-store"]) {
        return false;
    }
    for value in resp.get_all(VARY) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return false;
            }
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                return false;
            };
            if !keyed.get_all(&name).iter().eq(sent.get_all(&name).iter()) {
                return false;
            }
        }
    }
    true
}

/// The stored headers updated with those of a 304 (RFC 9111 section 3.2), except the ones that describe
/// the 304's own framing or encoding.
fn refreshed(stored: &HeaderMap, fresh: &HeaderMap) -> HeaderMap {
    const KEEP: &[&str] = &[
        "content-length",
        "content-encoding",
        "content-range",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "trailer",
        "upgrade",
    ];
    let mut out = stored.clone();
    for name in fresh.keys() {
        if KEEP.contains(&name.as_str()) {
            continue;
        }
        out.remove(name);
        for v in fresh.get_all(name) {
            out.append(name.clone(), v.clone());
        }
    }
    out
}

/// Entries by key, and keys by last use; byte total kept alongside.
#[derive(Default)]
struct Lru {
    map: HashMap<Key, (u64, Arc<Stored>)>,
    order: BTreeMap<u64, Key>,
    bytes: usize,
    tick: u64,
}

impl Lru {
    fn get(&mut self, key: &Key) -> Option<Arc<Stored>> {
        self.tick += 1;
        let tick = self.tick;
        let (used, stored) = self.map.get_mut(key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, *key);
        Some(stored.clone())
    }

    fn put(&mut self, key: Key, stored: Stored, max_entries: usize, max_bytes: usize) {
        self.remove(&key);
        if stored.size > max_bytes {
            return;
        }
        self.tick += 1;
        self.bytes += stored.size;
        self.order.insert(self.tick, key);
        self.map.insert(key, (self.tick, Arc::new(stored)));
        while self.map.len() > max_entries || self.bytes > max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, s)) = self.map.remove(&oldest) {
                self.bytes -= s.size;
            }
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some((used, s)) = self.map.remove(key) {
            self.order.remove(&used);
            self.bytes -= s.size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: usize) -> Stored {
        Stored::new(
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from(vec![0u8; body]),
        )
    }

    fn key(n: u8) -> Key {
        [n; 32]
    }

    #[test]
    fn lru_evicts_the_least_recently_used_by_count_and_by_bytes() {
        let mut lru = Lru::default();
        lru.put(key(1), stored(10), 2, 10_000);
        lru.put(key(2), stored(10), 2, 10_000);
        assert!(lru.get(&key(1)).is_some()); // 1 is now the most recent
        lru.put(key(3), stored(10), 2, 10_000);
        assert!(lru.get(&key(2)).is_none(), "2 was the least recently used");
        assert!(lru.get(&key(1)).is_some() && lru.get(&key(3)).is_some());

        let one = stored(1000).size;
        let mut lru = Lru::default();
        for n in 0..5 {
            lru.put(key(n), stored(1000), 100, 3 * one);
        }
        assert_eq!(lru.map.len(), 3);
        assert_eq!(lru.bytes, 3 * one);
        assert!(lru.get(&key(0)).is_none() && lru.get(&key(4)).is_some());
        // Too big for the cache on its own: not stored, nothing else evicted.
        lru.put(key(9), stored(10_000), 100, 3 * one);
        assert!(lru.get(&key(9)).is_none());
        assert_eq!(lru.map.len(), 3);
        // Replacing an entry keeps the byte count exact.
        lru.put(key(4), stored(10), 100, 3 * one);
        lru.remove(&key(4));
        lru.remove(&key(3));
        lru.remove(&key(2));
        assert_eq!((lru.map.len(), lru.order.len(), lru.bytes), (0, 0, 0));
    }

    #[test]
    fn storable_needs_a_validator_and_respects_no_store_and_vary() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            m
        };
        let none = HeaderMap::new();
        assert!(storable(&h(&[("etag", "\"a\"")]), &none, &none));
        assert!(storable(
            &h(&[("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            &none,
            &none
        ));
        assert!(!storable(&h(&[]), &none, &none));
        assert!(!storable(
            &h(&[("etag", "\"a\""), ("cache-control", "max-age=0, No-Store")]),
            &none,
            &none
        ));
        assert!(storable(
            &h(&[("etag", "\"a\""), ("cache-control", "private")]),
            &none,
            &none
        ));
        assert!(!storable(
            &h(&[("etag", "\"a\""), ("vary", "*")]),
            &none,
            &none
        ));
        let keyed = h(&[("accept-language", "en")]);
        let resp = h(&[
            ("etag", "\"a\""),
            ("vary", "Accept-Encoding, Accept-Language"),
        ]);
        assert!(storable(&resp, &keyed, &keyed));
        // A hook changed a header the answer varies on after the request was keyed.
        assert!(!storable(&resp, &keyed, &h(&[("accept-language", "fr")])));
    }

    #[test]
    fn a_304_refreshes_headers_but_not_framing() {
        let mut stored = HeaderMap::new();
        stored.insert(ETAG, "\"v1\"".parse().unwrap());
        stored.insert("content-length", "5".parse().unwrap());
        stored.insert("content-type", "application/json".parse().unwrap());
        let mut fresh = HeaderMap::new();
        fresh.insert(ETAG, "\"v2\"".parse().unwrap());
        fresh.insert("content-length", "0".parse().unwrap());
        fresh.insert("x-request-id", "r2".parse().unwrap());
        let out = refreshed(&stored, &fresh);
        assert_eq!(out[ETAG], "\"v2\"");
        assert_eq!(out["content-length"], "5");
        assert_eq!(out["content-type"], "application/json");
        assert_eq!(out["x-request-id"], "r2");
    }

    #[test]
    fn keys_differ_by_any_header_but_ignore_the_listed_ones() {
        let k = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (n, v) in pairs {
                m.append(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            let mut h = KeyHasher::new();
            h.field(b"GET");
            h.headers(&m, &[HeaderName::from_static("x-request-id")]);
            h.finish()
        };
        assert_eq!(
            k(&[("a", "1"), ("b", "2"), ("x-request-id", "r1")]),
            k(&[("b", "2"), ("a", "1"), ("x-request-id", "r2")])
        );
        assert_ne!(
            k(&[("authorization", "Bearer one")]),
            k(&[("authorization", "Bearer two")])
        );
        assert_ne!(k(&[("ab", "c")]), k(&[("a", "bc")]));
    }
}
