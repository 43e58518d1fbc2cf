//! Metric names and recording helpers, through the `metrics` facade (install any exporter to collect them).
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `connector_requests_total` | counter | method, endpoint, status | attempts that got an HTTP answer |
//! | `connector_errors_total` | counter | method, endpoint, code | calls that ended in an error |
//! | `connector_retries_total` | counter | method, endpoint | retries scheduled |
//! | `connector_request_duration_seconds` | histogram | method, endpoint | per-attempt latency |
//! | `connector_in_flight` | gauge | | attempts holding a concurrency slot |
//! | `connector_rate_limit_remaining` | gauge | | last known requests left in the window |
//! | `connector_cache_revalidated_total` | counter | endpoint | 304 answers turned into the cached body |
//! | `connector_cache_stored_total` | counter | endpoint | answers stored for conditional requests |
//! | `connector_deduplicated_total` | counter | method, endpoint | calls that shared an identical request in flight instead of sending their own |
//!
//! The same moments are tracing events with the fields `cache = "revalidated"` / `cache = "stored"`
//! (inside the `connector.request` span) and `deduplicated = true` (in the caller's context).
//!
//! Labels carry the endpoint template, never a query or header value. A call made without a template
//! (a hand-written `get("/users/42")`, a next-page link) is labelled by its path with id-like segments
//! (numbers, UUIDs, long hex or token strings) replaced by `{id}` and the query dropped; at most
//! [`MAX_PATH_LABELS`] distinct such labels are kept per process, later ones are counted under
//! `{other}`, so label cardinality stays bounded whatever paths a server's links lead to. An endpoint
//! the program gives as a `&'static str` (every generated operation's template) is bounded by the
//! program itself: it is labelled without entering that count, and without its lock.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::Method;
use metrics::SharedString;

/// The most distinct endpoint labels made from concrete paths; later ones become [`OTHER_ENDPOINT`].
pub const MAX_PATH_LABELS: usize = 256;
/// The label of calls past [`MAX_PATH_LABELS`].
pub const OTHER_ENDPOINT: &str = "{other}";

/// The metric label for an endpoint: a template or an operation name (no `/`, e.g.
/// `s3:PutObject`) as it is, a concrete path normalised and capped.
pub fn endpoint_label(endpoint: &str) -> Cow<'_, str> {
    if endpoint.contains('{') || !endpoint.contains('/') {
        return Cow::Borrowed(endpoint);
    }
    let label = uncapped_label(endpoint);
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if seen.contains(label.as_ref()) {
        return label;
    }
    if seen.len() >= MAX_PATH_LABELS {
        return Cow::Borrowed(OTHER_ENDPOINT);
    }
    seen.insert(label.clone().into_owned());
    label
}

/// An endpoint's label before the cap: a template or an operation name as it is, a path normalised.
fn uncapped_label(endpoint: &str) -> Cow<'_, str> {
    if endpoint.contains('{') || !endpoint.contains('/') || already_label(endpoint) {
        Cow::Borrowed(endpoint)
    } else {
        Cow::Owned(path_label(endpoint))
    }
}

/// Whether `path_label` would leave this path as it is: no query, fragment or scheme, no id-like
/// segment.
fn already_label(path: &str) -> bool {
    // Byte scans: paths are short, and a substring search sets up more than it scans.
    let b = path.as_bytes();
    !b.iter().any(|&c| c == b'?' || c == b'#')
        && !b.windows(3).any(|w| w == b"://")
        && !path.split('/').any(id_like)
}

/// A concrete path (or absolute URL) without its query, with id-like segments replaced by `{id}`.
fn path_label(endpoint: &str) -> String {
    let path = endpoint.split(['?', '#']).next().unwrap_or_default();
    // An absolute URL (a next-page link) keeps only its path.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    path.split('/')
        .map(|seg| if id_like(seg) { "{id}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// A path segment that names one resource rather than a kind of them: all digits, a UUID, 16 or more
/// hex digits, or a long token mixing letters and digits (`cus_NffrFeUfNV2Hib`).
fn id_like(seg: &str) -> bool {
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    !seg.is_empty()
        && (digits == seg.len()
            || (seg.len() >= 16 && seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            || (seg.len() >= 12 && digits > 0))
}

/// Attempts that got an HTTP answer.
pub const REQUESTS_TOTAL: &str = "connector_requests_total";
/// Calls that ended in an error.
pub const ERRORS_TOTAL: &str = "connector_errors_total";
/// Retries scheduled.
pub const RETRIES_TOTAL: &str = "connector_retries_total";
/// Per-attempt latency.
pub const REQUEST_DURATION: &str = "connector_request_duration_seconds";
/// Attempts in flight.
pub const IN_FLIGHT: &str = "connector_in_flight";
/// Last known rate-limit remaining.
pub const RATE_LIMIT_REMAINING: &str = "connector_rate_limit_remaining";
/// 304 answers served from the response cache.
pub const CACHE_REVALIDATED_TOTAL: &str = "connector_cache_revalidated_total";
/// Answers stored in the response cache.
pub const CACHE_STORED_TOTAL: &str = "connector_cache_stored_total";
/// Calls that shared an identical request in flight.
pub const DEDUPLICATED_TOTAL: &str = "connector_deduplicated_total";

/// The method and endpoint labels of one call, shared by its attempts' metrics.
pub(crate) enum Labels {
    /// An endpoint the program gives (a `&'static str`: a generated operation's template) with a
    /// standard method. Not a server's text, so it is bounded by the program: its metric keys are
    /// made once per thread (see [`attempt_done`]) and nothing is made per call.
    Program {
        endpoint: &'static str,
        /// Index into [`METHOD_NAMES`].
        method: u8,
    },
    /// Any other call: labels made for the call, the endpoint behind an `Arc` so each metric
    /// takes it without copying.
    Made {
        method: SharedString,
        endpoint: SharedString,
    },
}

impl Labels {
    /// A call's labels. An endpoint borrowed for `'static` comes from the program, not from a
    /// server, so it is labelled without the process-wide set that caps labels of concrete paths:
    /// no lock and no copy on the common path.
    #[allow(clippy::ptr_arg)] // which variant it is matters, not only the text
    pub(crate) fn new(method: &Method, endpoint: &Cow<'static, str>) -> Labels {
        let known = method_index(method);
        match (endpoint, known) {
            (Cow::Borrowed(e), Some(i)) => Labels::Program {
                endpoint: e,
                method: i,
            },
            (Cow::Borrowed(e), None) => Labels::Made {
                method: method_label(method),
                endpoint: static_endpoint_label(e),
            },
            (Cow::Owned(e), _) => Labels::Made {
                method: method_label(method),
                endpoint: SharedString::from(Arc::<str>::from(endpoint_label(e).as_ref())),
            },
        }
    }

    /// The method and endpoint labels, made.
    fn made(&self) -> (SharedString, SharedString) {
        match self {
            Labels::Program { endpoint, method } => (
                SharedString::const_str(METHOD_NAMES[usize::from(*method)]),
                static_endpoint_label(endpoint),
            ),
            Labels::Made { method, endpoint } => (method.clone(), endpoint.clone()),
        }
    }
}

/// The label of an endpoint the program gives: as it is, or normalised like a path (a program may
/// give a concrete path as a `&'static str`), without entering the cap's set.
fn static_endpoint_label(e: &'static str) -> SharedString {
    match uncapped_label(e) {
        Cow::Borrowed(label) => SharedString::const_str(label),
        Cow::Owned(label) => SharedString::from(label),
    }
}

/// The standard methods, by index; the label of each is its name.
const METHOD_NAMES: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

fn method_index(m: &Method) -> Option<u8> {
    let i = METHOD_NAMES.iter().position(|n| *n == m.as_str())?;
    u8::try_from(i).ok()
}

fn method_label(m: &Method) -> SharedString {
    match method_index(m) {
        Some(i) => SharedString::const_str(METHOD_NAMES[usize::from(i)]),
        None => SharedString::from(m.as_str().to_owned()),
    }
}

/// A status code's label, made once per process for every valid code (100 to 999).
fn status_label(status: u16) -> SharedString {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..1000u16).map(|s| s.to_string()).collect());
    match status
        .checked_sub(100)
        .and_then(|i| labels.get(usize::from(i)))
    {
        Some(l) => SharedString::const_str(l.as_str()),
        None => SharedString::from(status.to_string()),
    }
}

/// What the macros give a recorder about where a metric comes from: this module, at INFO.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The most attempt keys [`attempt_done`] keeps per thread before it starts again.
const ATTEMPT_KEYS_MAX: usize = 1024;

/// An attempt's metric keys: the request counter's (when there was an answer) and the duration's.
type AttemptKeys = (Option<metrics::Key>, metrics::Key);

thread_local! {
    /// Metric keys of the program's endpoints, per thread: (endpoint address, its length, method,
    /// status or 0) -> keys. Keys, not handles: a handle belongs to the recorder that made it, and
    /// a recorder may be installed, or a scoped one come and go, after the first call.
    static ATTEMPT_KEYS: std::cell::RefCell<crate::idhash::IdMap<(usize, usize, u8, u16), AttemptKeys>> =
        std::cell::RefCell::new(Default::default());
}

fn attempt_keys(labels: &Labels, status: Option<u16>) -> AttemptKeys {
    let (method, endpoint) = labels.made();
    let requests = status.map(|s| {
        metrics::Key::from_parts(
            REQUESTS_TOTAL,
            vec![
                metrics::Label::new("method", method.clone()),
                metrics::Label::new("endpoint", endpoint.clone()),
                metrics::Label::new("status", status_label(s)),
            ],
        )
    });
    let duration = metrics::Key::from_parts(
        REQUEST_DURATION,
        vec![
            metrics::Label::new("method", method),
            metrics::Label::new("endpoint", endpoint),
        ],
    );
    (requests, duration)
}

/// Records one attempt: its answer's status (when it got one) and how long it took. Keys of the
/// program's endpoints are made once per thread and handed to whichever recorder is current, as
/// the `metrics` macros would; others are made for the attempt.
pub(crate) fn attempt_done(labels: &Labels, status: Option<u16>, took: Duration) {
    let record = |(requests, duration): &AttemptKeys| {
        metrics::with_recorder(|r| {
            if let Some(k) = requests {
                r.register_counter(k, &METADATA).increment(1);
            }
            r.register_histogram(duration, &METADATA)
                .record(took.as_secs_f64());
        })
    };
    let Labels::Program { endpoint, method } = labels else {
        return record(&attempt_keys(labels, status));
    };
    let tag = (
        endpoint.as_ptr() as usize,
        endpoint.len(),
        *method,
        status.unwrap_or(0),
    );
    let hit = ATTEMPT_KEYS.with_borrow(|m| m.get(&tag).map(&record).is_some());
    if !hit {
        let keys = attempt_keys(labels, status);
        record(&keys);
        ATTEMPT_KEYS.with_borrow_mut(|m| {
            if m.len() >= ATTEMPT_KEYS_MAX {
                m.clear();
            }
            m.insert(tag, keys);
        });
    }
}

pub(crate) fn error(method: &Method, endpoint: &str, code: &'static str) {
    metrics::counter!(ERRORS_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint_label(endpoint).into_owned(), "code" => code)
        .increment(1);
}

pub(crate) fn retry(method: &Method, endpoint: &str) {
    metrics::counter!(RETRIES_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint_label(endpoint).into_owned())
        .increment(1);
}

/// The gauges' keys, made at compile time: the macros, given a name that is not a literal, make
/// (and hash) the key on every call, and these two are set by every attempt.
static IN_FLIGHT_KEY: metrics::Key = metrics::Key::from_static_name(IN_FLIGHT);
static RATE_LIMIT_REMAINING_KEY: metrics::Key =
    metrics::Key::from_static_name(RATE_LIMIT_REMAINING);

pub(crate) fn in_flight(n: usize) {
    metrics::with_recorder(|r| r.register_gauge(&IN_FLIGHT_KEY, &METADATA).set(n as f64));
}

pub(crate) fn rate_limit_remaining(remaining: Option<u64>) {
    if let Some(r) = remaining {
        metrics::with_recorder(|rec| {
            rec.register_gauge(&RATE_LIMIT_REMAINING_KEY, &METADATA)
                .set(r as f64)
        });
    }
}

pub(crate) fn cache_revalidated(endpoint: &str) {
    metrics::counter!(CACHE_REVALIDATED_TOTAL, "endpoint" => endpoint_label(endpoint).into_owned())
        .increment(1);
}

pub(crate) fn cache_stored(endpoint: &str) {
    metrics::counter!(CACHE_STORED_TOTAL, "endpoint" => endpoint_label(endpoint).into_owned())
        .increment(1);
}

pub(crate) fn deduplicated(method: &Method, endpoint: &str) {
    metrics::counter!(DEDUPLICATED_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint_label(endpoint).into_owned())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_stay_and_paths_lose_their_ids() {
        assert_eq!(
            endpoint_label("/repos/{owner}/{repo}"),
            "/repos/{owner}/{repo}"
        );
        // Operation names are kept, even when they look like ids (`s3:` has a digit).
        assert_eq!(endpoint_label("s3:PutObject"), "s3:PutObject");
        assert_eq!(path_label("/users/42?page=2"), "/users/{id}");
        assert_eq!(
            path_label("/v1/customers/cus_NffrFeUfNV2Hib"),
            "/v1/customers/{id}"
        );
        assert_eq!(
            path_label("/items/123e4567-e89b-12d3-a456-426614174000/parts"),
            "/items/{id}/parts"
        );
        assert_eq!(
            path_label("https://api.example.com/v2/orders/77?cursor=abc"),
            "/v2/orders/{id}"
        );
        assert_eq!(path_label("/2010-04-01/Accounts"), "/2010-04-01/Accounts");
        for p in [
            "/items",
            "/users/42?page=2",
            "/2010-04-01/Accounts",
            "https://h/v2/orders",
            "/v1/customers/cus_NffrFeUfNV2Hib",
            "/a#b",
        ] {
            assert_eq!(already_label(p), path_label(p) == p, "{p}");
        }
        assert_eq!(status_label(200).as_ref(), "200");
        assert_eq!(status_label(999).as_ref(), "999");
        assert_eq!(status_label(42).as_ref(), "42");
        assert_eq!(method_label(&Method::PATCH).as_ref(), "PATCH");
        let query = Method::from_bytes(b"QUERY").unwrap();
        assert_eq!(method_label(&query).as_ref(), "QUERY");
    }

    #[test]
    fn distinct_path_labels_are_capped() {
        let labels: HashSet<String> = (0..MAX_PATH_LABELS * 2)
            .map(|i| {
                endpoint_label(&format!(
                    "/cap-test/word{}x",
                    "ab".repeat(i % 5 + 1) + &"q".repeat(i)
                ))
                .into_owned()
            })
            .collect();
        assert!(labels.contains(OTHER_ENDPOINT));
        assert!(labels.len() <= MAX_PATH_LABELS + 1, "{}", labels.len());
        // The program's own endpoints keep their labels past the cap, and are normalised alike.
        let label = |e: Cow<'static, str>| Labels::new(&Method::GET, &e).made().1.to_string();
        assert_eq!(label(Cow::Borrowed("/items/{id}")), "/items/{id}");
        assert_eq!(label(Cow::Borrowed("/cap-test/static")), "/cap-test/static");
        assert_eq!(label(Cow::Borrowed("/users/42?x=1")), "/users/{id}");
        assert_eq!(label(Cow::Owned("/cap-test/late".into())), OTHER_ENDPOINT);
        assert_eq!(label(Cow::Owned("/items/{id}".into())), "/items/{id}");
    }
}
