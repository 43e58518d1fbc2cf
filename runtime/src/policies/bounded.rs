//! Numbers read from the network, parsed with saturating arithmetic and clamped to documented ceilings.
//!
//! A server (or anything between it and us) can send any bytes in a header or a token answer. Every
//! duration, count, length and offset the runtime takes from the wire goes through this module, so no
//! answer can overflow `Duration`, `Instant` or `SystemTime` arithmetic, and none can make a connector
//! wait for days. Out-of-range values are clamped to the ceiling (with a `tracing` warning naming the
//! field) or, where no value makes sense, read as absent.
//!
//! The ceilings:
//!
//! | value | ceiling | why |
//! |---|---|---|
//! | `Retry-After`, rate-limit reset delays (`X-RateLimit-Reset`, `RateLimit-Reset`, `RateLimit: t=`) | [`MAX_SERVER_WAIT`], 24 hours | no API asks for more; a call's own timeout bounds the actual wait further |
//! | OAuth2 `expires_in` | [`MAX_TOKEN_LIFETIME`], 366 days | tokens are refreshed ahead of expiry; a longer lifetime changes nothing |
//! | SSE `retry:` | [`MAX_RECONNECT_DELAY`], 1 hour | an event stream that asks for more is treated as asking for an hour |
//! | counts (`X-RateLimit-Limit`, `-Remaining`), lengths and offsets (`Content-Length`, `Content-Range`) | `u64::MAX`, saturating | they are compared and subtracted, never multiplied |
//!
//! Architecture Invariant: nothing else in the runtime turns wire text into a `Duration` or adds a
//! server-given duration to an `Instant` or `SystemTime`; it calls [`seconds`], [`after`] or
//! [`system_after`].

use std::time::{Duration, Instant, SystemTime};

/// The longest wait a server can ask for (`Retry-After`, rate-limit resets): 24 hours.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest lifetime an access token is believed to have: 366 days.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// The longest reconnection delay an event stream can ask for: one hour.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60 * 60);

/// A non-negative decimal integer, saturating at `u64::MAX` when it has more digits than fit.
/// Leading and trailing spaces are ignored; anything else (signs, fractions, exponents) is `None`.
pub fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(t.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// A decimal integer with an optional sign, saturating at `i64::MIN`/`i64::MAX` when it has more
/// digits than fit. Leading and trailing spaces are ignored; anything else is `None`.
pub fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let magnitude = parse_u64(digits)?;
    Some(if negative {
        // -(2^63) is the one magnitude past i64::MAX that fits.
        0i64.saturating_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    })
}

/// A count that may also be written as a decimal (`"99.5"`, `"1e3"`): integers saturate, finite
/// non-negative decimals round up and saturate, anything else is `None`.
pub fn parse_count(text: &str) -> Option<u64> {
    if let Some(n) = parse_u64(text) {
        return Some(n);
    }
    let f = text.trim().parse::<f64>().ok()?;
    // `as` saturates for finite values; negatives and NaN are refused first.
    (f.is_finite() && f >= 0.0).then(|| f.ceil() as u64)
}

/// Seconds (an integer or a decimal such as `1.5` or `1e20`) as a `Duration` no longer than `ceiling`.
/// Negative, NaN and non-numeric text is `None`; a value above the ceiling is the ceiling, with a
/// warning naming `what`.
pub fn seconds(text: &str, ceiling: Duration, what: &str) -> Option<Duration> {
    let t = text.trim();
    let d = match parse_u64(t) {
        Some(n) => Duration::from_secs(n),
        None => {
            let f = t.parse::<f64>().ok()?;
            return seconds_f64(f, ceiling, what);
        }
    };
    Some(clamp(d, ceiling, what))
}

/// A number of seconds already parsed as a float, bounded as [`seconds`] does.
pub fn seconds_f64(secs: f64, ceiling: Duration, what: &str) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    if secs >= ceiling.as_secs_f64() {
        return Some(clamp(Duration::MAX, ceiling, what));
    }
    // Below the ceiling, so well inside `Duration`'s range.
    Duration::try_from_secs_f64(secs).ok()
}

/// Milliseconds as a `Duration` no longer than `ceiling` (SSE `retry:` fields).
pub fn millis(text: &str, ceiling: Duration, what: &str) -> Option<Duration> {
    let ms = parse_u64(text)?;
    Some(clamp(Duration::from_millis(ms), ceiling, what))
}

/// `d`, or `ceiling` with a warning when `d` is longer.
pub fn clamp(d: Duration, ceiling: Duration, what: &str) -> Duration {
    if d > ceiling {
        tracing::warn!(
            field = what,
            ceiling_s = ceiling.as_secs(),
            "server value out of range: clamped to the ceiling"
        );
        ceiling
    } else {
        d
    }
}

/// `now + d`, or the latest representable instant near it when the sum would overflow.
pub fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(MAX_TOKEN_LIFETIME))
        .unwrap_or(now)
}

/// `now + d` on the wall clock, saturating like [`after`].
pub fn system_after(now: SystemTime, d: Duration) -> SystemTime {
    now.checked_add(d)
        .or_else(|| now.checked_add(MAX_TOKEN_LIFETIME))
        .unwrap_or(now)
}

/// The wall-clock time `secs` after the Unix epoch, if the platform can represent it.
pub fn unix_time(secs: u64) -> Option<SystemTime> {
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_integers_saturate_at_both_ends() {
        assert_eq!(parse_i64("-42"), Some(-42));
        assert_eq!(parse_i64(" +7 "), Some(7));
        assert_eq!(parse_i64("9223372036854775808"), Some(i64::MAX));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("-99999999999999999999999"), Some(i64::MIN));
        assert_eq!(parse_i64("--1"), None);
        assert_eq!(parse_i64("-"), None);
        assert_eq!(parse_i64("1e3"), None);
    }

    #[test]
    fn integers_saturate_instead_of_failing() {
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64(" 7 "), Some(7));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("+1"), None);
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("1.5"), None);
    }

    #[test]
    fn counts_accept_decimals_rounded_up() {
        assert_eq!(parse_count("99.2"), Some(100));
        assert_eq!(parse_count("1e30"), Some(u64::MAX));
        assert_eq!(parse_count("-3"), None);
        assert_eq!(parse_count("NaN"), None);
        assert_eq!(parse_count("inf"), None);
    }

    #[test]
    fn seconds_are_clamped_to_the_ceiling() {
        let c = Duration::from_secs(100);
        assert_eq!(seconds("5", c, "t"), Some(Duration::from_secs(5)));
        assert_eq!(seconds("1.5", c, "t"), Some(Duration::from_millis(1500)));
        assert_eq!(seconds("1e20", c, "t"), Some(c));
        assert_eq!(seconds("18446744073709551615", c, "t"), Some(c));
        assert_eq!(seconds("99999999999999999999", c, "t"), Some(c));
        assert_eq!(seconds("1e400", c, "t"), None, "infinite after parsing");
        assert_eq!(seconds("-1", c, "t"), None);
        assert_eq!(seconds("soon", c, "t"), None);
        assert_eq!(seconds_f64(f64::MAX, c, "t"), Some(c));
        assert_eq!(millis("3000", c, "t"), Some(Duration::from_secs(3)));
        assert_eq!(millis("18446744073709551615", c, "t"), Some(c));
    }

    #[test]
    fn instant_arithmetic_never_overflows() {
        let now = Instant::now();
        assert!(after(now, Duration::MAX) >= now);
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        let wall = SystemTime::now();
        assert!(system_after(wall, Duration::MAX) >= wall);
        // Far beyond any platform's range: no panic, whatever the answer.
        let _ = unix_time(u64::MAX);
        assert_eq!(
            unix_time(1_700_000_000),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        const CEILING: Duration = Duration::from_secs(3600);

        proptest! {
            #[test]
            fn any_text_gives_a_bounded_duration_or_none(text in ".{0,40}") {
                if let Some(d) = seconds(&text, CEILING, "t") {
                    prop_assert!(d <= CEILING);
                }
                if let Some(d) = millis(&text, CEILING, "t") {
                    prop_assert!(d <= CEILING);
                }
                let _ = parse_count(&text);
                let _ = parse_i64(&text);
            }

            #[test]
            fn signed_integers_read_back_exactly(n in any::<i64>()) {
                prop_assert_eq!(parse_i64(&n.to_string()), Some(n));
            }

            #[test]
            fn integers_read_back_exactly_up_to_the_ceiling(n in any::<u64>()) {
                prop_assert_eq!(parse_u64(&n.to_string()), Some(n));
                let want = Duration::from_secs(n).min(CEILING);
                prop_assert_eq!(seconds(&n.to_string(), CEILING, "t"), Some(want));
            }

            #[test]
            fn any_float_is_bounded(f in any::<f64>()) {
                match seconds_f64(f, CEILING, "t") {
                    Some(d) => {
                        prop_assert!(f >= 0.0 && d <= CEILING);
                        if f < CEILING.as_secs_f64() {
                            prop_assert!((d.as_secs_f64() - f).abs() < 1e-6);
                        }
                    }
                    None => prop_assert!(!(f.is_finite() && f >= 0.0)),
                }
                let _ = seconds(&f.to_string(), CEILING, "t");
            }

            #[test]
            fn long_digit_strings_saturate(digits in "[0-9]{21,60}") {
                let trimmed = digits.trim_start_matches('0');
                if trimmed.len() > 20 {
                    prop_assert_eq!(parse_u64(&digits), Some(u64::MAX));
                }
            }

            #[test]
            fn clock_arithmetic_never_panics(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
                let d = Duration::new(secs, nanos);
                let now = Instant::now();
                prop_assert!(after(now, d) >= now);
                let wall = SystemTime::now();
                prop_assert!(system_after(wall, d) >= wall);
                let _ = unix_time(secs);
            }
        }
    }
}
