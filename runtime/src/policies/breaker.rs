//! Per-host circuit breaker: closed, open (fail fast), half-open (one probe decides).
//!
//! A failure here means the host looks unhealthy: a transport error, a timeout or a 5xx. Client errors
//! (4xx, including 429, which the rate limiter handles) neither trip nor reset the count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::config::CircuitBreakerConfig;
use crate::error::{Error, ErrorCode, ErrorSource};

/// The observable state of one host's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Requests flow; consecutive failures are counted.
    Closed,
    /// Requests fail fast until the open period ends.
    Open,
    /// One probe is in flight; others fail fast until it settles.
    HalfOpen,
}

#[derive(Debug)]
struct HostState {
    state: CircuitState,
    failures: u32,
    opened_at: Instant,
}

impl HostState {
    /// Anything but closed with no failure counted: the state a success or a check may change.
    fn troubled(&self) -> bool {
        self.state != CircuitState::Closed || self.failures > 0
    }
}

/// `host`'s state, entered closed with no failure when never seen. Looked up before inserting: the
/// key is allocated only for a new host. (`None` cannot happen; the callers treat it as no state.)
fn entered<'m>(hosts: &'m mut HashMap<String, HostState>, host: &str) -> Option<&'m mut HostState> {
    if !hosts.contains_key(host) {
        hosts.insert(
            host.to_owned(),
            HostState {
                state: CircuitState::Closed,
                failures: 0,
                opened_at: Instant::now(),
            },
        );
    }
    hosts.get_mut(host)
}

/// Circuit breakers keyed by `host:port`.
///
/// While every host is healthy (closed, no failure counted), checking, acquiring and recording a
/// success take no lock: `troubled` counts the hosts that are not, and only a failure, or a host
/// with trouble, goes through the map. A call that read the count just before another call's
/// failure raised it is ordered before that failure, as it would have been with the lock.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: CircuitBreakerConfig,
    hosts: Mutex<HashMap<String, HostState>>,
    /// Hosts in `hosts` for which [`HostState::troubled`] holds; changed only under its lock.
    troubled: AtomicUsize,
}

/// Permission to send one attempt; report its outcome with [`BreakerTicket::record`]. A ticket dropped
/// unrecorded (the call was cancelled) counts as [`Outcome::Neutral`], so a probe is never lost.
#[derive(Debug)]
pub struct BreakerTicket<'a> {
    breaker: &'a CircuitBreaker,
    host: &'a str,
    probe: bool,
    recorded: bool,
}

impl BreakerTicket<'_> {
    /// Report how the attempt ended.
    pub fn record(mut self, outcome: Outcome) {
        self.recorded = true;
        self.breaker.record(self.host, self.probe, outcome);
    }
}

impl Drop for BreakerTicket<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker.record(self.host, self.probe, Outcome::Neutral);
        }
    }
}

/// How an attempt ended, as far as host health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The host answered sensibly (any status below 500).
    Healthy,
    /// Transport error, timeout or 5xx.
    Unhealthy,
    /// Not attributable to the host (cancelled by the caller, aborted by a hook).
    Neutral,
}

impl CircuitBreaker {
    /// From configuration.
    pub fn new(config: CircuitBreakerConfig) -> Self {
        CircuitBreaker {
            config,
            hosts: Mutex::new(HashMap::new()),
            troubled: AtomicUsize::new(0),
        }
    }

    /// Current state for `host` (Closed for a host never seen).
    pub fn state(&self, host: &str) -> CircuitState {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.get(host).map_or(CircuitState::Closed, |h| h.state)
    }

    /// Ask to send one attempt to `host`. Fails fast (SERVER_ERROR, retryable, not sent) while open.
    pub fn acquire<'a>(&'a self, host: &'a str) -> Result<BreakerTicket<'a>, Error> {
        let ticket = |probe| BreakerTicket {
            breaker: self,
            host,
            probe,
            recorded: false,
        };
        if !self.config.enabled || self.all_healthy() {
            return Ok(ticket(false));
        }
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let Some(h) = entered(&mut hosts, host) else {
            return Ok(ticket(false));
        };
        let open_for = self.open_for();
        match h.state {
            CircuitState::Closed => Ok(ticket(false)),
            CircuitState::Open if h.opened_at.elapsed() >= open_for => {
                h.state = CircuitState::HalfOpen;
                tracing::info!(host, "circuit half-open: sending one probe");
                Ok(ticket(true))
            }
            CircuitState::Open | CircuitState::HalfOpen => Err(self.open_error(host, h)),
        }
    }

    /// Fail fast without taking a ticket when `host`'s circuit is open (used before queueing for a
    /// rate-limit slot, so a dead host does not hold callers in line).
    pub fn check(&self, host: &str) -> Result<(), Error> {
        if !self.config.enabled || self.all_healthy() {
            return Ok(());
        }
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        match hosts.get(host) {
            Some(h) if h.state == CircuitState::HalfOpen => Err(self.open_error(host, h)),
            Some(h) if h.state == CircuitState::Open && h.opened_at.elapsed() < self.open_for() => {
                Err(self.open_error(host, h))
            }
            _ => Ok(()),
        }
    }

    fn open_for(&self) -> Duration {
        Duration::from_millis(self.config.open_ms)
    }

    fn open_error(&self, host: &str, h: &HostState) -> Error {
        let wait = self.open_for().saturating_sub(h.opened_at.elapsed());
        Error::new(
            ErrorCode::ServerError,
            ErrorSource::Transport,
            format!(
                "circuit breaker for {host} is open after {} consecutive failures; failing fast (next probe in {} ms)",
                h.failures,
                wait.as_millis()
            ),
        )
        .with_retryable(true)
        .with_detail("circuit", "open")
        .with_detail("retry_in_ms", wait.as_millis() as u64)
    }

    /// No host has a failure counted or a circuit other than closed.
    fn all_healthy(&self) -> bool {
        self.troubled.load(Ordering::SeqCst) == 0
    }

    fn record(&self, host: &str, probe: bool, outcome: Outcome) {
        if !self.config.enabled {
            return;
        }
        // A success or a neutral end changes nothing while every host is healthy.
        if outcome != Outcome::Unhealthy && !probe && self.all_healthy() {
            return;
        }
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        // A host is entered at its first failure (or at an acquire that found trouble elsewhere).
        if outcome != Outcome::Unhealthy && !hosts.contains_key(host) {
            return;
        }
        let Some(h) = entered(&mut hosts, host) else {
            return;
        };
        let was = h.troubled();
        match outcome {
            Outcome::Healthy => {
                if h.state != CircuitState::Closed {
                    tracing::info!(host = %host, "circuit closed");
                }
                h.state = CircuitState::Closed;
                h.failures = 0;
            }
            Outcome::Unhealthy => {
                h.failures = h.failures.saturating_add(1);
                if probe || h.failures >= self.config.failure_threshold {
                    if h.state != CircuitState::Open {
                        tracing::warn!(host = %host, failures = h.failures, "circuit opened");
                    }
                    h.state = CircuitState::Open;
                    h.opened_at = Instant::now();
                }
            }
            Outcome::Neutral => {
                if probe && h.state == CircuitState::HalfOpen {
                    // The probe told us nothing; let the next caller probe.
                    h.state = CircuitState::Open;
                    let now = Instant::now();
                    h.opened_at = now.checked_sub(self.open_for()).unwrap_or(now);
                }
            }
        }
        match (was, h.troubled()) {
            (false, true) => {
                self.troubled.fetch_add(1, Ordering::SeqCst);
            }
            (true, false) => {
                self.troubled.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, open_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(CircuitBreakerConfig {
            enabled: true,
            failure_threshold: threshold,
            open_ms,
        })
    }

    #[test]
    fn opens_after_threshold_then_half_opens_and_closes() {
        // The open period is long enough that the checks right after opening cannot outlive it on a
        // busy machine; the sleep is a lower bound only.
        let b = breaker(2, 500);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(b.state("h"), CircuitState::Closed);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(b.state("h"), CircuitState::Open);
        let err = b.acquire("h").unwrap_err();
        assert_eq!(err.code(), ErrorCode::ServerError);
        assert!(err.message().contains("circuit breaker for h is open"));
        assert_eq!(b.state("other"), CircuitState::Closed, "per host");
        std::thread::sleep(Duration::from_millis(600));
        let probe = b.acquire("h").unwrap();
        assert_eq!(b.state("h"), CircuitState::HalfOpen);
        assert!(b.acquire("h").is_err(), "only one probe");
        probe.record(Outcome::Healthy);
        assert_eq!(b.state("h"), CircuitState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let b = breaker(1, 500);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        std::thread::sleep(Duration::from_millis(600));
        let probe = b.acquire("h").unwrap();
        probe.record(Outcome::Unhealthy);
        assert_eq!(b.state("h"), CircuitState::Open);
        assert!(b.acquire("h").is_err());
    }

    fn troubled(b: &CircuitBreaker) -> usize {
        b.troubled.load(Ordering::SeqCst)
    }

    #[test]
    fn healthy_hosts_take_no_lock_and_trouble_is_counted_per_host() {
        let b = breaker(2, 60_000);
        for _ in 0..3 {
            b.check("h").unwrap();
            b.acquire("h").unwrap().record(Outcome::Healthy);
        }
        assert_eq!(troubled(&b), 0);
        assert!(
            b.hosts.lock().unwrap().is_empty(),
            "healthy hosts are not entered"
        );
        // A first failure enters the host, although its ticket came from the lock-free path.
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(troubled(&b), 1);
        // Another host is served beside it and stays out of the count.
        b.acquire("g").unwrap().record(Outcome::Healthy);
        assert_eq!(troubled(&b), 1);
        // The second failure opens h; g still goes.
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(b.state("h"), CircuitState::Open);
        assert!(b.check("h").is_err());
        assert!(b.acquire("h").is_err());
        b.check("g").unwrap();
        b.acquire("g").unwrap().record(Outcome::Neutral);
        assert_eq!(troubled(&b), 1);
        // A success on a host with failures counted clears it, and the count with it.
        let b = breaker(3, 60_000);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(troubled(&b), 1);
        b.acquire("h").unwrap().record(Outcome::Healthy);
        assert_eq!(troubled(&b), 0);
        assert_eq!(b.state("h"), CircuitState::Closed);
    }

    #[test]
    fn a_closed_probe_brings_the_count_back_to_zero() {
        // Open for no time at all: the next acquire is the probe.
        let b = breaker(1, 0);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(troubled(&b), 1);
        let probe = b.acquire("h").unwrap();
        assert_eq!(b.state("h"), CircuitState::HalfOpen);
        assert_eq!(troubled(&b), 1, "half-open is still trouble");
        probe.record(Outcome::Healthy);
        assert_eq!(troubled(&b), 0);
        b.check("h").unwrap();
    }

    #[test]
    fn success_resets_the_count() {
        let b = breaker(2, 1000);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        b.acquire("h").unwrap().record(Outcome::Healthy);
        b.acquire("h").unwrap().record(Outcome::Unhealthy);
        assert_eq!(b.state("h"), CircuitState::Closed);
    }
}
