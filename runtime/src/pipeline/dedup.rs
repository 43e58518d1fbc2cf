//! De-duplication of identical requests in flight: one exchange, shared by every caller that asks for
//! the same GET or HEAD while it runs.
//!
//! The first caller (the leader) starts the call as a task of its own, with the leader's options minus
//! its cancellation token; the call runs through the whole pipeline once (hooks, retries, cache), and
//! everyone waiting, the leader included, receives a clone of its result, success or [`Error`]. The
//! task is independent of any one caller: a caller whose token fires, or that is dropped, stops waiting
//! (it alone ends as CANCELLED) while the others still get the answer. Only when the last caller stops
//! waiting is the task aborted. A connector shutdown cancels the task itself, ending it for all.
//!
//! Identical means: same method, path, query and headers (the correlation id and idempotency key
//! excepted), the same auth strategy in force, and no body. The leader's per-call settings (timeout,
//! retry) govern the shared exchange; followers report the leader's request id and have
//! [`crate::ResponseMeta::deduplicated`] set. The entry is removed when the exchange ends, before its
//! result is handed out, so a request made after an answer arrived is sent anew: sequential calls are
//! never merged. Streamed calls are never shared.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use http::Method;
use http::header::HeaderName;
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::cache::{Key, KeyHasher};
use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::observe;
use crate::request::{Body, RequestOptions};
use crate::response::Response;

type Outcome = Result<Response<Bytes>, Error>;
type Flights = Arc<Mutex<HashMap<Key, Flight>>>;

/// One shared exchange.
struct Flight {
    id: u64,
    result: Shared<BoxFuture<'static, Outcome>>,
    waiters: usize,
    abort: AbortHandle,
}

/// The exchanges in flight of one connector.
#[derive(Default)]
pub(crate) struct Dedup {
    flights: Flights,
    next_id: AtomicU64,
}

fn flights(f: &Flights) -> std::sync::MutexGuard<'_, HashMap<Key, Flight>> {
    f.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key of a call that may be shared, or None when it may not (disabled, opted out, not GET/HEAD,
/// has a body, carries an invalid header that the pipeline must report).
pub(crate) fn key(conn: &Connector, opts: &RequestOptions) -> Option<Key> {
    let config = &conn.inner.config;
    if !config.dedup.enabled
        || !opts.dedup
        || !(opts.method == Method::GET || opts.method == Method::HEAD)
        || !matches!(opts.body, Body::Empty)
        || !opts.invalid_headers.is_empty()
    {
        return None;
    }
    let skip: Vec<HeaderName> = [
        config.request_id_header.as_str(),
        config.idempotency.header.as_str(),
    ]
    .iter()
    .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
    .collect();
    let mut h = KeyHasher::new();
    h.field(opts.method.as_str().as_bytes());
    h.field(opts.path.as_bytes());
    h.field(&(opts.query.len() as u64).to_be_bytes());
    for (k, v) in &opts.query {
        h.field(k.as_bytes());
        h.field(v.as_bytes());
    }
    h.headers(&opts.headers, &skip);
    // The operation's `Accept`, when no header replaces it: another media type is another answer.
    if let (Some(a), false) = (opts.accept, opts.headers.contains_key(http::header::ACCEPT)) {
        h.field(b"accept");
        h.field(a.as_bytes());
    }
    // The strategy in force stands for the credentials: `set_auth` between two calls separates them.
    let auth = conn
        .auth()
        .map_or(0usize, |a| Arc::as_ptr(&a) as *const () as usize);
    h.field(&(auth as u64).to_be_bytes());
    h.field(&[u8::from(opts.use_cache)]);
    Some(h.finish())
}

/// Run `opts` as the leader of a new shared exchange, or join the one in flight under `key`.
pub(crate) async fn shared(conn: &Connector, key: Key, opts: RequestOptions) -> Outcome {
    // A connector that takes no requests refuses a follower as it refuses anyone, and a call
    // cancelled before it began ends as the pipeline ends it, sending nothing: through the pipeline,
    // not as the leader of an exchange.
    let cancelled = opts.cancel.as_ref().is_some_and(|t| t.is_cancelled());
    if cancelled || conn.enter().is_err() {
        return Box::pin(conn.execute_alone(opts)).await;
    }
    let dedup = &conn.inner.dedup;
    let cancel = opts.cancel.clone();
    let method = opts.method.clone();
    let endpoint = opts.endpoint.as_deref().map(str::to_owned);
    let path = opts.path.clone();
    let (result, waiter, follower) = {
        let mut map = flights(&dedup.flights);
        match map.get_mut(&key) {
            Some(f) => {
                f.waiters += 1;
                (f.result.clone(), Waiter::new(dedup, key, f.id), true)
            }
            None => {
                let id = dedup.next_id.fetch_add(1, Ordering::Relaxed);
                let mut opts = opts;
                opts.cancel = None;
                let task_conn = conn.clone();
                let done = Done {
                    flights: dedup.flights.clone(),
                    key,
                    id,
                };
                let task = tokio::spawn(
                    async move {
                        let _done = done;
                        task_conn.execute_alone(opts).await
                    }
                    .in_current_span(),
                );
                let abort = task.abort_handle();
                let result = async move {
                    task.await.unwrap_or_else(|e| {
                        Err(Error::new(
                            ErrorCode::Cancelled,
                            ErrorSource::Unknown,
                            format!("the shared request ended without an answer: {e}"),
                        ))
                    })
                }
                .boxed()
                .shared();
                map.insert(
                    key,
                    Flight {
                        id,
                        result: result.clone(),
                        waiters: 1,
                        abort,
                    },
                );
                (result, Waiter::new(dedup, key, id), false)
            }
        }
    };
    let endpoint = endpoint.unwrap_or_else(|| {
        crate::pipeline::execute::shown_path(&path, &conn.inner.current().redactor)
    });
    if follower {
        observe::deduplicated(&method, &endpoint);
        tracing::debug!(
            deduplicated = true,
            method = %method,
            endpoint = %endpoint,
            "identical request in flight: sharing its answer"
        );
    }
    let outcome = match cancel {
        Some(token) => tokio::select! {
            biased;
            _ = token.cancelled() => {
                let e = Error::new(ErrorCode::Cancelled, ErrorSource::Unknown, "cancelled by the caller")
                    .with_context(None, &method, &endpoint, 0, std::time::Duration::ZERO);
                observe::error(&method, &endpoint, e.code().as_str());
                tracing::warn!(code = e.code().as_str(), deduplicated = follower, "request failed: {}", e.message());
                Err(e)
            }
            r = result => r,
        },
        None => result.await,
    };
    drop(waiter);
    match outcome {
        Ok(mut r) => {
            r.meta.deduplicated = follower;
            Ok(r)
        }
        Err(e) => {
            if follower && e.code() != ErrorCode::Cancelled {
                observe::error(&method, &endpoint, e.code().as_str());
            }
            Err(e)
        }
    }
}

/// One caller waiting on a flight. Dropped when the caller stops waiting (answered, cancelled, or its
/// future dropped); the last one to go aborts an exchange nobody waits for.
struct Waiter {
    flights: Flights,
    key: Key,
    id: u64,
}

impl Waiter {
    fn new(dedup: &Dedup, key: Key, id: u64) -> Waiter {
        Waiter {
            flights: dedup.flights.clone(),
            key,
            id,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let abort = {
            let mut map = flights(&self.flights);
            match map.get_mut(&self.key) {
                Some(f) if f.id == self.id => {
                    f.waiters -= 1;
                    if f.waiters == 0 {
                        map.remove(&self.key).map(|f| f.abort)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        };
        // Outside the lock: an aborted task drops its `Done`, which takes the lock.
        if let Some(a) = abort {
            tracing::debug!("every caller of a shared request stopped waiting: aborting it");
            a.abort();
        }
    }
}

/// Held by the shared task: removes its flight when the exchange ends (or is aborted), before the
/// result is visible to the waiters.
struct Done {
    flights: Flights,
    key: Key,
    id: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut map = flights(&self.flights);
        if map.get(&self.key).is_some_and(|f| f.id == self.id) {
            map.remove(&self.key);
        }
    }
}
