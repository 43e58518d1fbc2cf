//! Retry decisions: which failures are worth another attempt, how long to wait, and when to give up.
//!
//! The pieces are separate so each can be swapped or tested alone: a [`RetryClassifier`] says whether an
//! error is retryable at all; [`RetryPolicy`] adds attempt counting, the backoff formula, `Retry-After`
//! hints and the per-operation budget. The pipeline asks the policy once per failed attempt.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use crate::config::RetryConfig;
use crate::error::{Error, ErrorCode};

/// Decides whether one failed attempt may be retried, regardless of attempts left or time spent.
pub trait RetryClassifier: Send + Sync + std::fmt::Debug {
    /// True when the same request may succeed if sent again.
    fn is_retryable(&self, error: &Error) -> bool;
}

/// The classifier built from [`RetryConfig`]: an error with a status is retryable when the status is in
/// `retryable_status_codes`; one without a status when its code is in `retryable_errors`.
#[derive(Debug, Clone)]
pub struct StandardClassifier {
    statuses: Vec<u16>,
    codes: Vec<ErrorCode>,
}

impl StandardClassifier {
    /// From the configured lists.
    pub fn new(config: &RetryConfig) -> Self {
        StandardClassifier {
            statuses: config.retryable_status_codes.clone(),
            codes: config
                .retryable_errors
                .iter()
                .filter_map(|c| parse_code(c))
                .collect(),
        }
    }
}

impl RetryClassifier for StandardClassifier {
    fn is_retryable(&self, error: &Error) -> bool {
        match error.status() {
            // A provider code that says "throttled" or "try again" is retryable whatever the status
            // it came with (AWS throttles with 400).
            Some(s) => {
                self.statuses.contains(&s.as_u16())
                    || error
                        .provider_code()
                        .is_some_and(crate::error::provider::is_retryable)
            }
            None => error.is_retryable() && self.codes.contains(&error.code()),
        }
    }
}

/// Parse an error code written as in the specification (`NETWORK_ERROR`).
pub fn parse_code(s: &str) -> Option<ErrorCode> {
    Some(match s {
        "NETWORK_ERROR" => ErrorCode::NetworkError,
        "TIMEOUT" => ErrorCode::Timeout,
        "AUTH_FAILED" => ErrorCode::AuthFailed,
        "RATE_LIMIT" => ErrorCode::RateLimit,
        "INVALID_REQUEST" => ErrorCode::InvalidRequest,
        "SERVER_ERROR" => ErrorCode::ServerError,
        "PARSING_ERROR" => ErrorCode::ParsingError,
        "VALIDATION_ERROR" => ErrorCode::ValidationError,
        "CANCELLED" => ErrorCode::Cancelled,
        "UNSUPPORTED" => ErrorCode::Unsupported,
        "NOT_FOUND" => ErrorCode::NotFound,
        "CONFLICT" => ErrorCode::Conflict,
        _ => return None,
    })
}

/// What the policy decided after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Stop and surface the error; the reason is logged and kept in the error's details.
    Stop(&'static str),
}

/// Backoff, attempt limit, `Retry-After` and budget for one logical operation.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    config: RetryConfig,
}

impl RetryPolicy {
    /// From a validated configuration.
    pub fn new(config: RetryConfig) -> Self {
        RetryPolicy { config }
    }

    /// The configuration this policy applies.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The delay before retry number `retry_index` (0 for the first retry), before jitter:
    /// `min(initial_delay * multiplier^retry_index, max_delay)`.
    pub fn base_delay(&self, retry_index: u32) -> Duration {
        let c = &self.config;
        let factor = c.backoff_multiplier.powi(retry_index.min(1000) as i32);
        let ms = (c.initial_delay_ms as f64 * factor).min(c.max_delay_ms as f64);
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }

    /// The delay before retry `retry_index` with jitter applied: `base * (0.5 + random(0..0.5))`, so it lies
    /// in `[base/2, base)`.
    pub fn calculate_delay(&self, retry_index: u32) -> Duration {
        let base = self.base_delay(retry_index);
        if !self.config.jitter {
            return base;
        }
        base.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }

    /// `should_retry(error, attempt)` of the specification, with the policy's limits applied.
    ///
    /// `attempt` is the 1-based number of the attempt that just failed, `elapsed` the time since the
    /// operation began, `retryable` the classifier's verdict on the error.
    pub fn decide(
        &self,
        error: &Error,
        retryable: bool,
        attempt: u32,
        elapsed: Duration,
    ) -> RetryDecision {
        if !retryable {
            return RetryDecision::Stop("not retryable");
        }
        if attempt >= self.config.max_attempts {
            return RetryDecision::Stop("max attempts reached");
        }
        let hinted = if self.config.respect_retry_after {
            error.retry_after()
        } else {
            None
        };
        let delay = match hinted {
            Some(hint) if hint > Duration::from_millis(self.config.max_delay_ms) => {
                return RetryDecision::Stop("Retry-After exceeds max_delay_ms");
            }
            Some(hint) => hint,
            None => self.calculate_delay(attempt - 1),
        };
        if let Some(budget) = self.config.retry_budget_ms {
            if elapsed + delay > Duration::from_millis(budget) {
                return RetryDecision::Stop("retry budget exhausted");
            }
        }
        RetryDecision::RetryAfter(delay)
    }
}

/// Parse `Retry-After` in either form: delay-seconds (`120`, or a decimal such as `1.5`) or an HTTP
/// date, relative to `now`. A date in the past means "now" (zero); a delay beyond
/// [`MAX_SERVER_WAIT`](crate::bounded::MAX_SERVER_WAIT) is clamped to it; negative or unreadable values
/// are ignored.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let ceiling = crate::bounded::MAX_SERVER_WAIT;
    if v.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return crate::bounded::seconds(v, ceiling, "retry-after");
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    Some(crate::bounded::clamp(wait, ceiling, "retry-after"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderValue, StatusCode};

    fn policy(f: impl FnOnce(&mut RetryConfig)) -> RetryPolicy {
        let mut c = RetryConfig::default();
        f(&mut c);
        RetryPolicy::new(c)
    }

    #[test]
    fn base_delay_is_exponential_and_capped() {
        let p = policy(|_| {});
        let ms: Vec<u128> = (0..7).map(|n| p.base_delay(n).as_millis()).collect();
        assert_eq!(ms, vec![1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(p.base_delay(u32::MAX).as_millis(), 30000);
    }

    #[test]
    fn jitter_stays_in_half_to_full_and_varies() {
        let p = policy(|_| {});
        let mut seen = std::collections::HashSet::new();
        for n in 0..5 {
            let base = p.base_delay(n);
            for _ in 0..200 {
                let d = p.calculate_delay(n);
                assert!(d >= base / 2 && d <= base, "{d:?} vs {base:?}");
                seen.insert(d);
            }
        }
        assert!(seen.len() > 100, "jitter must randomise");
        let p = policy(|c| c.jitter = false);
        assert_eq!(p.calculate_delay(1), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_parses_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(42)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        h.insert("retry-after", HeaderValue::from_str(&past).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn decisions_respect_attempts_budget_and_hints() {
        let err = Error::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            HeaderMap::new(),
            Bytes::new(),
        );
        let p = policy(|c| c.jitter = false);
        assert_eq!(
            p.decide(&err, true, 1, Duration::ZERO),
            RetryDecision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            p.decide(&err, true, 2, Duration::ZERO),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            p.decide(&err, true, 3, Duration::ZERO),
            RetryDecision::Stop("max attempts reached")
        );
        assert_eq!(
            p.decide(&err, false, 1, Duration::ZERO),
            RetryDecision::Stop("not retryable")
        );
        let p = policy(|c| {
            c.jitter = false;
            c.retry_budget_ms = Some(1500);
        });
        assert_eq!(
            p.decide(&err, true, 1, Duration::from_millis(600)),
            RetryDecision::Stop("retry budget exhausted")
        );
        let hinted = err.with_detail("retry_after_ms", 5000u64);
        assert_eq!(
            policy(|_| {}).decide(&hinted, true, 1, Duration::ZERO),
            RetryDecision::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            policy(|c| c.max_delay_ms = 4000).decide(&hinted, true, 1, Duration::ZERO),
            RetryDecision::Stop("Retry-After exceeds max_delay_ms")
        );
    }

    #[test]
    fn every_code_parses_from_its_spelling() {
        for code in [
            ErrorCode::NetworkError,
            ErrorCode::Timeout,
            ErrorCode::AuthFailed,
            ErrorCode::RateLimit,
            ErrorCode::InvalidRequest,
            ErrorCode::ServerError,
            ErrorCode::ParsingError,
            ErrorCode::ValidationError,
            ErrorCode::Cancelled,
            ErrorCode::Unsupported,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
        ] {
            assert_eq!(parse_code(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::Conflict.as_str(), "CONFLICT");
        assert_eq!(parse_code("conflict"), None);
    }

    #[test]
    fn standard_classifier_uses_configured_lists() {
        let c = StandardClassifier::new(&RetryConfig::default());
        let s = |code| {
            Error::from_status(
                StatusCode::from_u16(code).unwrap(),
                HeaderMap::new(),
                Bytes::new(),
            )
        };
        for code in [408, 425, 429, 500, 502, 503, 504] {
            assert!(c.is_retryable(&s(code)), "{code}");
        }
        for code in [400, 401, 404, 409, 501] {
            assert!(!c.is_retryable(&s(code)), "{code}");
        }
        let net = Error::new(
            ErrorCode::NetworkError,
            crate::ErrorSource::Transport,
            "reset",
        );
        assert!(c.is_retryable(&net));
        let cancelled = Error::new(ErrorCode::Cancelled, crate::ErrorSource::Unknown, "x");
        assert!(!c.is_retryable(&cancelled));
    }

    mod props {
        use super::super::*;
        use crate::bounded::MAX_SERVER_WAIT;
        use http::HeaderValue;
        use proptest::prelude::*;

        fn with(value: HeaderValue) -> HeaderMap {
            let mut h = HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, value);
            h
        }

        proptest! {
            #[test]
            fn any_header_bytes_give_a_bounded_wait_or_none(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                    if let Some(d) = parse_retry_after(&with(v), SystemTime::now()) {
                        prop_assert!(d <= MAX_SERVER_WAIT);
                    }
                }
            }

            #[test]
            fn delay_seconds_are_read_exactly_below_the_ceiling(n in 0u64..=86_400) {
                let v = HeaderValue::from_str(&n.to_string()).unwrap();
                prop_assert_eq!(parse_retry_after(&with(v), SystemTime::now()), Some(Duration::from_secs(n)));
            }

            #[test]
            fn absurd_delays_are_clamped(n in 86_401u64..=u64::MAX, exp in 20i32..300) {
                for text in [n.to_string(), format!("1e{exp}"), format!("{n}.5")] {
                    let v = HeaderValue::from_str(&text).unwrap();
                    prop_assert_eq!(parse_retry_after(&with(v), SystemTime::now()), Some(MAX_SERVER_WAIT));
                }
            }

            #[test]
            fn dates_are_relative_to_now(ahead in 0u64..86_400) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                let v = HeaderValue::from_str(&httpdate::fmt_http_date(now + Duration::from_secs(ahead))).unwrap();
                prop_assert_eq!(parse_retry_after(&with(v), now), Some(Duration::from_secs(ahead)));
            }
        }
    }
}
