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
//! Labels carry the endpoint template, never a concrete path, query or header value.

use std::time::Duration;

use http::Method;

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

pub(crate) fn attempt_done(method: &Method, endpoint: &str, status: Option<u16>, took: Duration) {
    let m = method.as_str().to_owned();
    let e = endpoint.to_owned();
    if let Some(s) = status {
        metrics::counter!(REQUESTS_TOTAL, "method" => m.clone(), "endpoint" => e.clone(), "status" => s.to_string())
            .increment(1);
    }
    metrics::histogram!(REQUEST_DURATION, "method" => m, "endpoint" => e)
        .record(took.as_secs_f64());
}

pub(crate) fn error(method: &Method, endpoint: &str, code: &'static str) {
    metrics::counter!(ERRORS_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint.to_owned(), "code" => code)
        .increment(1);
}

pub(crate) fn retry(method: &Method, endpoint: &str) {
    metrics::counter!(RETRIES_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint.to_owned())
        .increment(1);
}

pub(crate) fn in_flight(n: usize) {
    metrics::gauge!(IN_FLIGHT).set(n as f64);
}

pub(crate) fn rate_limit_remaining(remaining: Option<u64>) {
    if let Some(r) = remaining {
        metrics::gauge!(RATE_LIMIT_REMAINING).set(r as f64);
    }
}

pub(crate) fn cache_revalidated(endpoint: &str) {
    metrics::counter!(CACHE_REVALIDATED_TOTAL, "endpoint" => endpoint.to_owned()).increment(1);
}

pub(crate) fn cache_stored(endpoint: &str) {
    metrics::counter!(CACHE_STORED_TOTAL, "endpoint" => endpoint.to_owned()).increment(1);
}

pub(crate) fn deduplicated(method: &Method, endpoint: &str) {
    metrics::counter!(DEDUPLICATED_TOTAL, "method" => method.as_str().to_owned(), "endpoint" => endpoint.to_owned())
        .increment(1);
}
