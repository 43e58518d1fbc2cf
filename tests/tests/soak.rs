//! The soak: many calls at concurrency 64 through the fault proxy with 5% of exchanges spoiled end with no
//! panic, every call accounted for, the client's attempts agreeing with the proxy's and the upstream's
//! counts, and memory flat.
//!
//! The full run, 100,000 calls (`SOAK_CALLS=n` sets another number), in release:
//!
//! ```text
//! cargo test -p connector-tests --release --test soak -- --ignored --nocapture
//! ```
//!
//! `soak_short` (2,000 calls) runs with the normal tests. Both print a table: calls, faults injected
//! per kind, outcomes per `ErrorCode`, retries, resident memory, panics, lost and duplicated calls.
//!
//! The mix of calls: 85% `GET /pets/{id}` (each call its own id, so no two are shared in flight), 10%
//! `POST /pets` with an idempotency key, 5% without one. The faults are the proxy's, drawn by a seeded
//! hash of the request number, except those whose point is to hold the whole connector back (absurd
//! `Retry-After` on a 429/503, `X-RateLimit-Remaining: 0` with a far reset): they would rightly turn
//! every later call into RATE_LIMIT, and the fault suite covers them one by one. The circuit breaker is
//! off: a run of injected failures would open it and the soak would measure fail-fast answers.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connector_runtime::{CallOptions, ErrorCode, RetryConfig};
use connector_tests::petstore_build::{Client, models};
use futures_util::StreamExt;
use support::fault_proxy::{Fault, FaultProxy, Schedule};
use support::upstream::{self, Upstream};

/// Calls in flight at once.
const CONCURRENCY: usize = 64;
/// Exchanges spoiled, per thousand.
const FAULTS_PER_MILLE: u64 = 50;
/// Seed of the fault schedule.
const SEED: u64 = 0x5eed_50a4;
/// How much resident memory may grow between the early and the final reading.
const MEMORY_MARGIN_KIB: u64 = 64 * 1024;

/// The faults of the soak, drawn uniformly.
fn faults() -> Vec<Fault> {
    vec![
        Fault::ResetBeforeAnswer,
        Fault::ResetAfterHeaders,
        Fault::TruncateBody,
        Fault::StallBeforeHeaders,
        Fault::StallMidBody,
        Fault::SlowDrip {
            bytes: 8,
            pause_ms: 1,
        },
        Fault::ContentLengthLarger,
        Fault::ContentLengthSmaller,
        Fault::FalseGzip,
        Fault::BitFlip,
        Fault::ConflictingContentLength,
        Fault::DuplicateContentLength,
        Fault::Storm {
            status: 429,
            retry_after: "0",
        },
        Fault::Storm {
            status: 503,
            retry_after: "0",
        },
        Fault::DuplicateRetryAfter {
            status: 503,
            first: "0",
            second: "0",
        },
        Fault::RateLimitHeaders {
            remaining: "4999",
            reset: "1e30",
        },
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    KeyedPost,
    UnkeyedPost,
}

fn kind_of(i: u64) -> Kind {
    match i % 20 {
        0 => Kind::UnkeyedPost,
        1 | 2 => Kind::KeyedPost,
        _ => Kind::Get,
    }
}

/// How one call ended.
struct Done {
    kind: Kind,
    /// None: success.
    code: Option<ErrorCode>,
    /// Attempts the client reports: `retry_count + 1` on success, the error's attempt otherwise.
    attempts: u32,
    /// A panic inside the runtime, reported as an error by a shared exchange: its message.
    panicked: Option<String>,
    /// Something wrong with the outcome itself.
    problem: Option<String>,
}

fn name_of(i: u64) -> String {
    format!("soak-{i}")
}

async fn one_call(client: Client, i: u64) -> Done {
    let kind = kind_of(i);
    let result = match kind {
        Kind::Get => client
            .pets()
            .show_pet_by_id(i.to_string())
            .send()
            .await
            .map(|r| (r.meta.retry_count, r.data, format!("pet-{i}"))),
        Kind::KeyedPost | Kind::UnkeyedPost => {
            let options = if kind == Kind::KeyedPost {
                CallOptions::default().idempotency_key(format!("soak-key-{i}"))
            } else {
                CallOptions::default()
            };
            let body = models::NewPet {
                name: name_of(i),
                ..Default::default()
            };
            client
                .pets()
                .create_pet(body)
                .options(options)
                .send()
                .await
                .map(|r| (r.meta.retry_count, r.data, name_of(i)))
        }
    };
    let mut done = match result {
        Ok((retries, pet, expected_name)) => Done {
            kind,
            code: None,
            attempts: retries + 1,
            panicked: None,
            problem: (pet.name != expected_name || (kind == Kind::Get && pet.id != i as i64))
                .then(|| format!("call {i} got {pet:?}")),
        },
        Err(e) => Done {
            kind,
            code: Some(e.code()),
            attempts: e.attempt(),
            panicked: e
                .message()
                .contains("panicked")
                .then(|| e.message().to_owned()),
            problem: None,
        },
    };
    if kind == Kind::UnkeyedPost && done.attempts != 1 && done.problem.is_none() {
        done.problem = Some(format!("unkeyed POST {i} made {} attempts", done.attempts));
    }
    done
}

/// `VmHWM` (peak) and `VmRSS` (current) of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<&'static str, u64>,
    attempts_get: u64,
    attempts_post: u64,
    retries: u64,
    panics: u64,
    panic_messages: Vec<String>,
    problems: Vec<String>,
    seen: Vec<u8>,
    unkeyed_ok: Vec<u64>,
}

async fn soak(calls: u64) {
    let started = Instant::now();
    let upstream = Upstream::start().await;
    let proxy = FaultProxy::start(
        upstream.addr(),
        Schedule::seeded(SEED, FAULTS_PER_MILLE, faults()),
    )
    .await;
    let mut config = Client::config();
    config.base_url = proxy.url();
    config.timeout_ms = 1_000;
    config.retry = RetryConfig {
        max_attempts: 3,
        initial_delay_ms: 1,
        max_delay_ms: 20,
        ..RetryConfig::default()
    };
    config.rate_limit.concurrent_requests = CONCURRENCY;
    config.circuit_breaker.enabled = false;
    let client = Client::new(config).await.expect("client");

    let early_at = (calls / 10).min(10_000);
    let mut early = (0, 0);
    let mut t = Tally {
        seen: vec![0; calls as usize],
        ..Tally::default()
    };
    let mut results = futures_util::stream::iter(0..calls)
        .map(|i| {
            let c = client.clone();
            async move { (i, tokio::spawn(one_call(c, i)).await) }
        })
        .buffer_unordered(CONCURRENCY);
    let mut finished = 0u64;
    while let Some((i, joined)) = results.next().await {
        finished += 1;
        let slot = &mut t.seen[i as usize];
        *slot = slot.saturating_add(1);
        match joined {
            Ok(done) => {
                let label = done.code.map_or("OK", ErrorCode::as_str);
                *t.outcomes.entry(label).or_insert(0) += 1;
                match done.kind {
                    Kind::Get => t.attempts_get += u64::from(done.attempts),
                    _ => t.attempts_post += u64::from(done.attempts),
                }
                t.retries += u64::from(done.attempts.saturating_sub(1));
                if let Some(m) = done.panicked {
                    t.panics += 1;
                    t.panic_messages.push(format!("call {i}: {m}"));
                }
                if done.kind == Kind::UnkeyedPost && done.code.is_none() {
                    t.unkeyed_ok.push(i);
                }
                if let Some(p) = done.problem {
                    t.problems.push(p);
                }
            }
            Err(e) => {
                if e.is_panic() {
                    t.panics += 1;
                    t.panic_messages.push(format!("call {i}: {e}"));
                }
                *t.outcomes.entry("NO OUTCOME").or_insert(0) += 1;
                t.problems.push(format!("call {i}: {e}"));
            }
        }
        if finished == early_at {
            early = memory();
        }
    }
    drop(results);
    let last = memory();
    drop(client);
    let settled = proxy.settle(Duration::from_secs(90)).await;
    let wall = started.elapsed();

    let stats = proxy.stats();
    let lost_calls = t.seen.iter().filter(|n| **n == 0).count() as u64;
    let duplicated_calls = t.seen.iter().filter(|n| **n > 1).count() as u64;
    let lost_posts: Vec<u64> = t
        .unkeyed_ok
        .iter()
        .copied()
        .filter(|i| upstream.creations(&name_of(*i)) != 1)
        .collect();
    let created_twice = upstream.created_twice();
    let by_method = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);

    println!();
    println!(
        "soak: {calls} calls, concurrency {CONCURRENCY}, faults {FAULTS_PER_MILLE}/1000 (seed {SEED:#x}), wall time {wall:.1?}"
    );
    println!("  {:<34}{:>16}", "faults injected", stats.faults_total());
    for (kind, n) in &stats.faults {
        println!("    {kind:<32}{n:>16}");
    }
    println!(
        "  {:<34}{:>16}",
        "outcomes",
        t.outcomes.values().sum::<u64>()
    );
    for (code, n) in &t.outcomes {
        println!("    {code:<32}{n:>16}");
    }
    println!("  {:<34}{:>16}", "retries (client)", t.retries);
    println!(
        "  {:<34}{:>16}",
        "attempts GET / POST (client)",
        format!("{} / {}", t.attempts_get, t.attempts_post)
    );
    println!(
        "  {:<34}{:>16}",
        "requests GET / POST (proxy)",
        format!(
            "{} / {}",
            by_method(&stats.requests_by_method, "GET"),
            by_method(&stats.requests_by_method, "POST")
        )
    );
    println!("  {:<34}{:>16}", "answered by the proxy", stats.answered);
    println!(
        "  {:<34}{:>16}",
        "received GET / POST (upstream)",
        format!(
            "{} / {}",
            upstream.hits(upstream::SHOW_PET),
            upstream.hits(upstream::CREATE_PET)
        )
    );
    println!("  {:<34}{:>16}", "connections accepted", stats.connections);
    println!(
        "  {:<34}{:>16}",
        format!("peak / current RSS at {early_at}"),
        format!("{} / {}", mib(early.0), mib(early.1))
    );
    println!(
        "  {:<34}{:>16}",
        format!("peak / current RSS at {calls}"),
        format!("{} / {}", mib(last.0), mib(last.1))
    );
    println!("  {:<34}{:>16}", "panics", t.panics);
    println!(
        "  {:<34}{:>16}",
        "lost / duplicated",
        format!(
            "{} / {}",
            lost_calls + lost_posts.len() as u64,
            duplicated_calls + created_twice.len() as u64
        )
    );
    println!();

    assert_eq!(
        t.panics,
        0,
        "panics, first: {:?}",
        &t.panic_messages[..t.panic_messages.len().min(5)]
    );
    assert!(
        t.problems.is_empty(),
        "{} wrong outcomes, first: {:?}",
        t.problems.len(),
        &t.problems[..t.problems.len().min(10)]
    );
    assert_eq!(
        t.outcomes.values().sum::<u64>(),
        calls,
        "every call has one outcome"
    );
    assert_eq!(
        (lost_calls, duplicated_calls),
        (0, 0),
        "calls lost / counted twice"
    );
    assert!(
        lost_posts.is_empty(),
        "successful POSTs the server has no record of: {lost_posts:?}"
    );
    assert!(
        created_twice.is_empty(),
        "pets created twice: {created_twice:?}"
    );
    settled.expect("the proxy's counts are final");
    assert_eq!(
        (t.attempts_get, t.attempts_post),
        (
            by_method(&stats.requests_by_method, "GET"),
            by_method(&stats.requests_by_method, "POST")
        ),
        "attempts the client reports = requests the proxy read"
    );
    assert_eq!(
        (
            upstream.hits(upstream::SHOW_PET),
            upstream.hits(upstream::CREATE_PET)
        ),
        (
            by_method(&stats.forwarded_by_method, "GET"),
            by_method(&stats.forwarded_by_method, "POST")
        ),
        "requests the upstream received = requests the proxy forwarded"
    );
    assert_eq!(
        upstream.total(),
        stats.forwarded,
        "nothing else reached the upstream"
    );
    assert_eq!(stats.requests, stats.forwarded + stats.answered);
    assert!(
        stats.faults_total() > 0 && stats.faults_total() < stats.requests,
        "{stats:?}"
    );
    assert!(
        last.1 <= early.1 + MEMORY_MARGIN_KIB,
        "resident memory grew from {} to {}",
        mib(early.1),
        mib(last.1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full soak: run in release with --ignored --nocapture"]
async fn soak_full() {
    let calls = std::env::var("SOAK_CALLS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100_000);
    soak(calls).await;
}
