//! The fault suite: generated clients talking through the fault-injection proxy end every call in success
//! or in the right `ErrorCode`, retry as the policy says (counted at the upstream), and page and download
//! through faults without losing or repeating an item or a byte.

mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use connector_runtime::paginate::Checkpoint;
use connector_runtime::{
    CallOptions, ConnectorConfig, DownloadOptions, Error, ErrorCode, Method, RequestOptions,
    Response, RetryConfig,
};
use connector_tests::paging;
use connector_tests::petstore_build::{Client, models};
use futures_util::StreamExt;
use support::fault_proxy::{Fault, FaultProxy, Schedule};
use support::upstream::{self, Upstream};

/// The per-attempt timeout of the suite's clients.
const TIMEOUT: Duration = Duration::from_millis(2_000);
/// The shorter per-attempt timeout of calls meant to meet a stall.
const STALL_TIMEOUT: Duration = Duration::from_millis(500);
/// Attempts per call, the first included.
const ATTEMPTS: u32 = 3;

/// An upstream, the proxy in front of it, and a generated pet store client pointed at the proxy.
struct Rig {
    upstream: Upstream,
    proxy: FaultProxy,
    client: Client,
}

/// `ATTEMPTS` attempts with short backoff (5 ms doubling, at most 50 ms), so the suite is fast.
fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: ATTEMPTS,
        initial_delay_ms: 5,
        max_delay_ms: 50,
        ..RetryConfig::default()
    }
}

fn config(base_url: String) -> ConnectorConfig {
    let mut c = Client::config();
    c.base_url = base_url;
    c.timeout_ms = TIMEOUT.as_millis() as u64;
    c.retry = fast_retry();
    c
}

async fn rig(schedule: Schedule) -> Rig {
    let upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr(), schedule).await;
    let client = Client::new(config(proxy.url())).await.expect("client");
    Rig {
        upstream,
        proxy,
        client,
    }
}

/// Run a call as a task of its own, so a panic inside the runtime fails the test with its message.
async fn guarded<T: Send + 'static>(
    call: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    match tokio::spawn(call).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("the call panicked inside the runtime: {msg}")
        }
        Err(e) => panic!("the call's task ended without a result: {e}"),
    }
}

async fn get_pet(
    client: &Client,
    id: u64,
    options: CallOptions,
) -> Result<Response<models::Pet>, Error> {
    let c = client.clone();
    guarded(async move {
        c.pets()
            .show_pet_by_id(id.to_string())
            .options(options)
            .send()
            .await
    })
    .await
}

async fn create_pet(
    client: &Client,
    name: &str,
    options: CallOptions,
) -> Result<Response<models::Pet>, Error> {
    let c = client.clone();
    let body = models::NewPet {
        name: name.to_owned(),
        ..Default::default()
    };
    guarded(async move { c.pets().create_pet(body).options(options).send().await }).await
}

/// The error of a call that must fail with `code`.
#[track_caller]
fn failed_with<T: std::fmt::Debug>(r: Result<T, Error>, code: ErrorCode) -> Error {
    let e = match r {
        Ok(v) => panic!("expected {code}, the call succeeded: {v:?}"),
        Err(e) => e,
    };
    assert!(
        !e.message().contains("panicked"),
        "the runtime panicked: {e:?}"
    );
    assert_eq!(e.code(), code, "{e:?}");
    e
}

/// The error of a call that must fail with `code` on attempt `attempt`.
#[track_caller]
fn failed<T: std::fmt::Debug>(r: Result<T, Error>, code: ErrorCode, attempt: u32) -> Error {
    let e = failed_with(r, code);
    assert_eq!(e.attempt(), attempt, "{e:?}");
    e
}

/// The pet of a GET that must succeed after `retries` retries.
#[track_caller]
fn pet_after(r: Result<Response<models::Pet>, Error>, id: u64, retries: u32) -> models::Pet {
    let resp = r.unwrap_or_else(|e| panic!("expected pet {id} after {retries} retries: {e:?}"));
    assert_eq!(resp.meta.retry_count, retries, "{:?}", resp.meta);
    assert_eq!(resp.data.id, id as i64);
    assert_eq!(resp.data.name, format!("pet-{id}"));
    resp.data
}

// ---------------------------------------------------------------------------------------------------
// Transport faults on a GET: retried up to max_attempts, every attempt reaching the upstream.

/// Once: success on the second attempt. Always: `code` after `ATTEMPTS` attempts, each seen upstream.
async fn retried_get(fault: Fault, code: ErrorCode) {
    let stall = matches!(fault, Fault::StallBeforeHeaders | Fault::StallMidBody);
    let options = || {
        let o = CallOptions::default();
        if stall { o.timeout(STALL_TIMEOUT) } else { o }
    };

    let once = rig(Schedule::first(1, fault)).await;
    pet_after(get_pet(&once.client, 7, options()).await, 7, 1);
    assert_eq!(once.upstream.hits(upstream::SHOW_PET), 2);
    let stats = once.proxy.stats();
    assert_eq!(
        (stats.requests, stats.fault(fault.kind())),
        (2, 1),
        "{stats:?}"
    );

    let always = rig(Schedule::always(fault)).await;
    let e = failed(get_pet(&always.client, 7, options()).await, code, ATTEMPTS);
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.request_sent(), "{e:?}");
    assert_eq!(
        e.details()["retry_stopped"],
        "max attempts reached",
        "{e:?}"
    );
    assert_eq!(
        always.upstream.hits(upstream::SHOW_PET),
        u64::from(ATTEMPTS),
        "every attempt reached the upstream"
    );
    assert_eq!(
        always.proxy.stats().fault(fault.kind()),
        u64::from(ATTEMPTS)
    );
}

#[tokio::test]
async fn get_reset_before_any_answer_is_network_error_retried() {
    retried_get(Fault::ResetBeforeAnswer, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn get_reset_after_the_headers_is_network_error_retried() {
    retried_get(Fault::ResetAfterHeaders, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn get_body_truncated_mid_way_is_network_error_retried() {
    retried_get(Fault::TruncateBody, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn get_content_length_larger_than_the_body_is_network_error_retried() {
    retried_get(Fault::ContentLengthLarger, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn get_two_different_content_lengths_is_network_error_retried() {
    retried_get(Fault::ConflictingContentLength, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn get_stalled_before_the_headers_is_timeout_retried() {
    retried_get(Fault::StallBeforeHeaders, ErrorCode::Timeout).await;
}

#[tokio::test]
async fn get_stalled_mid_body_is_timeout_retried() {
    retried_get(Fault::StallMidBody, ErrorCode::Timeout).await;
}

// ---------------------------------------------------------------------------------------------------
// Answers that arrive whole but cannot be decoded: PARSING_ERROR, not retried, connection reusable.

async fn corrupt_get(fault: Fault) -> Error {
    let r = rig(Schedule::first(1, fault)).await;
    let e = failed(
        get_pet(&r.client, 7, CallOptions::default()).await,
        ErrorCode::ParsingError,
        1,
    );
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 1, "not retried");
    assert_eq!(r.proxy.stats().fault(fault.kind()), 1);
    // The next call goes through cleanly.
    pet_after(get_pet(&r.client, 8, CallOptions::default()).await, 8, 0);
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 2);
    e
}

#[tokio::test]
async fn get_with_a_bit_flipped_in_the_json_is_parsing_error() {
    let e = corrupt_get(Fault::BitFlip).await;
    let mut expected = upstream::pet_json(7, "pet-7").to_string().into_bytes();
    support::fault_proxy::flip_one_bit(&mut expected);
    assert_eq!(
        e.raw_body().map(|b| b.to_vec()),
        Some(expected),
        "the undecodable body is kept"
    );
}

#[tokio::test]
async fn get_labelled_gzip_but_plain_is_parsing_error() {
    corrupt_get(Fault::FalseGzip).await;
}

#[tokio::test]
async fn get_with_content_length_smaller_than_the_body_is_parsing_error() {
    let e = corrupt_get(Fault::ContentLengthSmaller).await;
    let whole = upstream::pet_json(7, "pet-7").to_string().into_bytes();
    assert_eq!(
        e.raw_body().map(|b| b.to_vec()),
        Some(whole[..whole.len() / 2].to_vec()),
        "exactly the announced bytes were read"
    );
}

// ---------------------------------------------------------------------------------------------------
// Odd but harmless framing: success at once.

#[tokio::test]
async fn get_answered_a_few_bytes_at_a_time_succeeds_within_the_timeout() {
    let r = rig(Schedule::always(Fault::SlowDrip {
        bytes: 3,
        pause_ms: 3,
    }))
    .await;
    pet_after(get_pet(&r.client, 7, CallOptions::default()).await, 7, 0);
    pet_after(get_pet(&r.client, 12, CallOptions::default()).await, 12, 0);
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 2);
    assert_eq!(r.proxy.stats().fault("slow_drip"), 2);
}

#[tokio::test]
async fn get_with_the_same_content_length_twice_succeeds() {
    let r = rig(Schedule::always(Fault::DuplicateContentLength)).await;
    pet_after(get_pet(&r.client, 7, CallOptions::default()).await, 7, 0);
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 1);
    assert_eq!(r.proxy.stats().fault("duplicate_content_length"), 1);
}

// ---------------------------------------------------------------------------------------------------
// 429/503 storms answered by the proxy: retried with Retry-After; the upstream never sees them.

#[tokio::test]
async fn a_429_storm_shorter_than_the_attempts_ends_in_success() {
    let storm = Fault::Storm {
        status: 429,
        retry_after: "0",
    };
    let r = rig(Schedule::first(2, storm)).await;
    pet_after(get_pet(&r.client, 7, CallOptions::default()).await, 7, 2);
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 1);
    let stats = r.proxy.stats();
    assert_eq!((stats.answered, stats.fault("storm_429")), (2, 2));
}

#[tokio::test]
async fn a_429_storm_longer_than_the_attempts_is_rate_limit() {
    let storm = Fault::Storm {
        status: 429,
        retry_after: "0",
    };
    let r = rig(Schedule::always(storm)).await;
    let e = failed(
        get_pet(&r.client, 7, CallOptions::default()).await,
        ErrorCode::RateLimit,
        ATTEMPTS,
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::ZERO));
    assert_eq!(r.upstream.total(), 0);
    assert_eq!(r.proxy.stats().answered, u64::from(ATTEMPTS));
}

#[tokio::test]
async fn a_503_storm_longer_than_the_attempts_is_server_error_with_its_typed_body() {
    let storm = Fault::Storm {
        status: 503,
        retry_after: "0",
    };
    let r = rig(Schedule::always(storm)).await;
    let e = failed(
        get_pet(&r.client, 7, CallOptions::default()).await,
        ErrorCode::ServerError,
        ATTEMPTS,
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.retry_after(), Some(Duration::ZERO));
    assert_eq!(
        e.body::<models::ErrorModel>().map(|b| b.code),
        Some(503),
        "{e:?}"
    );
    assert_eq!(r.upstream.total(), 0);
    assert_eq!(r.proxy.stats().answered, u64::from(ATTEMPTS));
}

#[tokio::test]
async fn duplicate_retry_after_values_do_not_hold_the_connector() {
    let twice = Fault::DuplicateRetryAfter {
        status: 503,
        first: "0",
        second: "7200",
    };
    let r = rig(Schedule::first(1, twice)).await;
    let started = Instant::now();
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 7, CallOptions::default())).await,
        7,
        1,
    );
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 8, CallOptions::default())).await,
        8,
        0,
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 2);
    assert_eq!(r.proxy.stats().fault("duplicate_retry_after"), 1);
}

// ---------------------------------------------------------------------------------------------------
// POST: without an idempotency key never replayed once it may have been sent; with one, retried and
// created once.

/// An unkeyed POST meeting `fault` on every attempt: `code` on the first attempt, sent once.
async fn unkeyed_post(fault: Fault, code: ErrorCode) {
    let r = rig(Schedule::always(fault)).await;
    let options = if matches!(fault, Fault::StallBeforeHeaders) {
        CallOptions::default().timeout(STALL_TIMEOUT)
    } else {
        CallOptions::default()
    };
    let e = failed(create_pet(&r.client, "rex", options).await, code, 1);
    assert!(e.request_sent(), "{e:?}");
    assert_eq!(
        e.details()["retry_stopped"],
        "unsafe method without an idempotency key",
        "{e:?}"
    );
    let stats = r.proxy.stats();
    assert_eq!(stats.requests, 1, "sent once: {stats:?}");
    let reached = u64::from(!fault.answers_itself());
    assert_eq!(r.upstream.hits(upstream::CREATE_PET), reached);
    assert_eq!(r.upstream.creations("rex"), reached);
}

#[tokio::test]
async fn unkeyed_post_reset_before_any_answer_is_sent_once() {
    unkeyed_post(Fault::ResetBeforeAnswer, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn unkeyed_post_truncated_answer_is_sent_once() {
    unkeyed_post(Fault::TruncateBody, ErrorCode::NetworkError).await;
}

#[tokio::test]
async fn unkeyed_post_stalled_is_sent_once() {
    unkeyed_post(Fault::StallBeforeHeaders, ErrorCode::Timeout).await;
}

#[tokio::test]
async fn unkeyed_post_in_a_503_storm_is_sent_once() {
    let storm = Fault::Storm {
        status: 503,
        retry_after: "0",
    };
    unkeyed_post(storm, ErrorCode::ServerError).await;
}

#[tokio::test]
async fn keyed_post_is_retried_with_the_same_key_and_created_once() {
    for fault in [Fault::ResetBeforeAnswer, Fault::TruncateBody] {
        let r = rig(Schedule::first(1, fault)).await;
        let key = "create-rex-1";
        let created = create_pet(
            &r.client,
            "rex",
            CallOptions::default().idempotency_key(key),
        )
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(created.meta.retry_count, 1, "{fault:?}");
        assert_eq!(created.data.name, "rex");
        assert_eq!(r.upstream.hits(upstream::CREATE_PET), 2, "{fault:?}");
        assert_eq!(
            r.upstream.key_requests(key),
            2,
            "{fault:?}: same key on both attempts"
        );
        assert_eq!(r.upstream.creations("rex"), 1, "{fault:?}: created once");
    }
}

#[tokio::test]
async fn keyed_post_failing_every_attempt_is_network_error_after_max_attempts() {
    let r = rig(Schedule::always(Fault::ResetBeforeAnswer)).await;
    let key = "create-rex-2";
    let e = failed(
        create_pet(
            &r.client,
            "rex",
            CallOptions::default().idempotency_key(key),
        )
        .await,
        ErrorCode::NetworkError,
        ATTEMPTS,
    );
    assert_eq!(e.details()["retry_stopped"], "max attempts reached");
    assert_eq!(r.upstream.key_requests(key), u64::from(ATTEMPTS));
    assert_eq!(r.upstream.creations("rex"), 1, "the server kept its word");
}

// ---------------------------------------------------------------------------------------------------
// Waits the server asks for: absurd values are clamped (no panic), and a wait longer than the call's
// timeout fails the call at once with RATE_LIMIT and `retry_after_ms`, now and for later calls.

/// `call`, failing the test if it takes longer than twice `limit` (a wait the runtime should have
/// refused).
async fn within<T>(limit: Duration, call: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit * 2, call).await {
        Ok(v) => v,
        Err(_) => panic!("the call waited longer than twice its own timeout ({limit:?})"),
    }
}

/// A call that must fail at once (well within its timeout) with RATE_LIMIT and a `retry_after_ms` of
/// at least `at_least`, without a request leaving the client.
async fn refused_at_once(r: &Rig, id: u64, at_least: Duration) -> Error {
    let requests = r.proxy.stats().requests;
    let started = Instant::now();
    let e = failed_with(
        within(TIMEOUT, get_pet(&r.client, id, CallOptions::default())).await,
        ErrorCode::RateLimit,
    );
    assert!(
        started.elapsed() < TIMEOUT,
        "not at once: {:?}",
        started.elapsed()
    );
    let wait = e
        .retry_after()
        .unwrap_or_else(|| panic!("no retry_after_ms detail: {e:?}"));
    assert!(
        wait >= at_least,
        "retry_after {wait:?} < {at_least:?}: {e:?}"
    );
    assert_eq!(r.proxy.stats().requests, requests, "nothing was sent");
    e
}

/// A GET answered with an absurd `Retry-After` (by `status`): the runtime does not panic, does not
/// retry, and later calls are refused at once instead of waiting.
async fn absurd_retry_after(status: u16, value: &'static str, code: ErrorCode) {
    let r = rig(Schedule::first(
        1,
        Fault::AbsurdRetryAfter { status, value },
    ))
    .await;
    let started = Instant::now();
    let e = failed(
        within(TIMEOUT, get_pet(&r.client, 7, CallOptions::default())).await,
        code,
        1,
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
    let wait = e
        .retry_after()
        .unwrap_or_else(|| panic!("no retry_after_ms detail: {e:?}"));
    assert!(
        wait >= TIMEOUT,
        "a clamped wait is still longer than the call: {wait:?}"
    );
    refused_at_once(&r, 8, TIMEOUT).await;
    assert_eq!(r.upstream.total(), 0);
}

#[tokio::test]
async fn retry_after_1e20_on_a_429_is_clamped_and_refused_at_once() {
    absurd_retry_after(429, "1e20", ErrorCode::RateLimit).await;
}

#[tokio::test]
async fn retry_after_u64_max_on_a_429_is_clamped_and_refused_at_once() {
    absurd_retry_after(429, "18446744073709551615", ErrorCode::RateLimit).await;
}

#[tokio::test]
async fn retry_after_1e20_on_a_503_is_not_retried_and_later_calls_are_refused() {
    absurd_retry_after(503, "1e20", ErrorCode::ServerError).await;
}

#[tokio::test]
async fn x_ratelimit_reset_1e30_with_nothing_remaining_refuses_later_calls_at_once() {
    let absurd = Fault::RateLimitHeaders {
        remaining: "0",
        reset: "1e30",
    };
    let r = rig(Schedule::first(1, absurd)).await;
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 7, CallOptions::default())).await,
        7,
        0,
    );
    refused_at_once(&r, 8, TIMEOUT).await;
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 1);
}

#[tokio::test]
async fn x_ratelimit_reset_1e30_with_calls_remaining_is_harmless() {
    let absurd = Fault::RateLimitHeaders {
        remaining: "4999",
        reset: "1e30",
    };
    let r = rig(Schedule::first(1, absurd)).await;
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 7, CallOptions::default())).await,
        7,
        0,
    );
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 8, CallOptions::default())).await,
        8,
        0,
    );
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 2);
}

/// A 429 asking for 10 s: the call fails at once with RATE_LIMIT (not retried), and so does the next
/// call while the wait lasts, without a request leaving the client.
async fn retry_after_longer_than_allowed(retry: RetryConfig) {
    let storm = Fault::Storm {
        status: 429,
        retry_after: "10",
    };
    let r = rig(Schedule::first(1, storm)).await;
    let started = Instant::now();
    let e = failed(
        within(
            TIMEOUT,
            get_pet(&r.client, 7, CallOptions::default().retry(retry)),
        )
        .await,
        ErrorCode::RateLimit,
        1,
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(10)), "{e:?}");
    let later = refused_at_once(&r, 8, Duration::from_secs(5)).await;
    assert!(
        later.retry_after() <= Some(Duration::from_secs(10)),
        "{later:?}"
    );
    assert_eq!(r.upstream.total(), 0);
    assert_eq!(r.proxy.stats().requests, 1);
}

#[tokio::test]
async fn a_retry_after_longer_than_max_delay_fails_the_call_at_once() {
    // 10 s is longer than both max_delay_ms (50 ms) and the timeout (2 s).
    retry_after_longer_than_allowed(fast_retry()).await;
}

#[tokio::test]
async fn a_retry_after_longer_than_the_timeout_fails_the_call_at_once() {
    // 10 s is within max_delay_ms (30 s) but longer than the timeout (2 s).
    let retry = RetryConfig {
        max_delay_ms: 30_000,
        ..fast_retry()
    };
    retry_after_longer_than_allowed(retry).await;
}

#[tokio::test]
async fn a_far_rate_limit_reset_fails_later_calls_at_once() {
    let far = Fault::RateLimitHeaders {
        remaining: "0",
        reset: "60",
    };
    let r = rig(Schedule::first(1, far)).await;
    pet_after(
        within(TIMEOUT, get_pet(&r.client, 7, CallOptions::default())).await,
        7,
        0,
    );
    let e = refused_at_once(&r, 8, Duration::from_secs(50)).await;
    assert!(e.retry_after() <= Some(Duration::from_secs(60)), "{e:?}");
    assert_eq!(r.upstream.hits(upstream::SHOW_PET), 1);
}

// ---------------------------------------------------------------------------------------------------
// Pagination through faults: every item exactly once, at the client and at the server.

fn pet_ids(pets: &[models::Pet]) -> Vec<u64> {
    pets.iter().map(|p| p.id as u64).collect()
}

#[tokio::test]
async fn a_listing_through_retried_faults_yields_every_pet_once() {
    // Pages of 20: page 2 is reset once, page 3 truncated then stormed, page 4 framed twice.
    let schedule = Schedule::at(&[
        (2, Fault::ResetBeforeAnswer),
        (4, Fault::TruncateBody),
        (
            5,
            Fault::Storm {
                status: 503,
                retry_after: "0",
            },
        ),
        (7, Fault::ConflictingContentLength),
    ]);
    let r = rig(schedule).await;
    let c = r.client.clone();
    let pets: Vec<models::Pet> = guarded(async move {
        let mut items = c.pets().list_pets().limit(20).paginate();
        let mut pets = Vec::new();
        while let Some(p) = items.next().await {
            pets.push(p?);
        }
        Ok(pets)
    })
    .await
    .expect("the whole listing");
    assert_eq!(
        pet_ids(&pets),
        (1..=upstream::PETS_LISTED).collect::<Vec<_>>()
    );
    let pages: Vec<u64> = (1..=5)
        .map(|p| r.upstream.page_hits(&format!("pets page {p}")))
        .collect();
    assert_eq!(
        pages,
        vec![1, 2, 2, 2, 1],
        "attempts per page at the server"
    );
    assert_eq!(r.upstream.hits(upstream::LIST_PETS), 8);
    let stats = r.proxy.stats();
    assert_eq!(
        (stats.requests, stats.answered, stats.faults_total()),
        (9, 1, 4)
    );
}

#[tokio::test]
async fn a_listing_resumes_from_its_checkpoint_after_a_failed_page() {
    // Page 3 (requests 3, 4, 5) fails on every attempt; the resumed listing's page 3 goes through.
    let schedule = Schedule::at(&[
        (3, Fault::ResetBeforeAnswer),
        (4, Fault::ResetBeforeAnswer),
        (5, Fault::ResetBeforeAnswer),
    ]);
    let r = rig(schedule).await;
    let c = r.client.clone();
    let (first, error, checkpoint) = guarded(async move {
        let mut items = c.pets().list_pets().limit(20).paginate();
        let mut pets = Vec::new();
        while let Some(p) = items.next().await {
            match p {
                Ok(p) => pets.push(p),
                Err(e) => return Ok((pets, e, items.checkpoint())),
            }
        }
        panic!("the listing ended without the injected failure")
    })
    .await
    .expect("a listing");
    assert_eq!(pet_ids(&first), (1..=40).collect::<Vec<_>>());
    assert_eq!(error.code(), ErrorCode::NetworkError, "{error:?}");
    assert_eq!(error.attempt(), ATTEMPTS, "{error:?}");
    match &checkpoint {
        Checkpoint::Url(u) => assert!(u.ends_with("/pets?limit=20&page=3"), "{u}"),
        other => panic!("a URL checkpoint expected: {other:?}"),
    }

    let c = r.client.clone();
    let rest: Vec<models::Pet> = guarded(async move {
        let mut items = c
            .pets()
            .list_pets()
            .limit(20)
            .paginate_with(|o| o.resume_from(checkpoint));
        let mut pets = Vec::new();
        while let Some(p) = items.next().await {
            pets.push(p?);
        }
        Ok(pets)
    })
    .await
    .expect("the resumed listing");
    let mut all = pet_ids(&first);
    all.extend(pet_ids(&rest));
    assert_eq!(
        all,
        (1..=upstream::PETS_LISTED).collect::<Vec<_>>(),
        "each pet exactly once"
    );
    let pages: Vec<u64> = (1..=5)
        .map(|p| r.upstream.page_hits(&format!("pets page {p}")))
        .collect();
    assert_eq!(
        pages,
        vec![1, 1, 4, 1, 1],
        "only the failed page was asked for again"
    );
}

#[tokio::test]
async fn a_cursor_listing_resumes_from_its_token_after_a_corrupt_page() {
    let upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr(), Schedule::at(&[(2, Fault::BitFlip)])).await;
    let mut c = paging::Client::config();
    c.base_url = proxy.url();
    c.retry = fast_retry();
    let client = paging::Client::new(c).await.expect("client");

    let cl = client.clone();
    let (first, error, checkpoint) = guarded(async move {
        let mut items = cl.cursors().list_customers().limit(10).paginate();
        let mut ids = Vec::new();
        while let Some(c) = items.next().await {
            match c {
                Ok(c) => ids.push(c.id),
                Err(e) => return Ok((ids, e, items.checkpoint())),
            }
        }
        panic!("the listing ended without the injected failure")
    })
    .await
    .expect("a listing");
    assert_eq!(error.code(), ErrorCode::ParsingError, "{error:?}");
    assert_eq!(checkpoint, Checkpoint::Token("cus_010".into()));

    let cl = client.clone();
    let rest = guarded(async move {
        let mut items = cl
            .cursors()
            .list_customers()
            .limit(10)
            .paginate_with(|o| o.resume_from(checkpoint));
        let mut ids = Vec::new();
        while let Some(c) = items.next().await {
            ids.push(c?.id);
        }
        Ok(ids)
    })
    .await
    .expect("the resumed listing");
    let all: Vec<String> = first.into_iter().chain(rest).collect();
    let expected: Vec<String> = (1..=upstream::CUSTOMERS_LISTED)
        .map(|n| format!("cus_{n:03}"))
        .collect();
    assert_eq!(all, expected, "each customer exactly once");
    assert_eq!(upstream.page_hits("customers first"), 1);
    assert_eq!(upstream.page_hits("customers after cus_010"), 2);
    assert_eq!(upstream.page_hits("customers after cus_020"), 1);
}

// ---------------------------------------------------------------------------------------------------
// Downloads through a body cut mid-way: resumed with Range + If-Range, the exact bytes.

/// An `AsyncWrite` collecting into a shared buffer.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for Collect {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

async fn download_through(fault: Fault) {
    let r = rig(Schedule::first(1, fault)).await;
    let sink = Collect::default();
    let connector = r.client.connector().clone();
    let writer = sink.clone();
    let report = guarded(async move {
        let options =
            DownloadOptions::to_writer(RequestOptions::new(Method::GET, "/files/blob"), writer)
                .read_timeout(STALL_TIMEOUT);
        connector.download(options).await
    })
    .await
    .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
    let got = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(got == upstream::file_bytes(), "{fault:?}: the bytes differ");
    assert_eq!(report.bytes, upstream::FILE_LEN as u64);
    assert_eq!(
        (report.requests, report.resumes, report.restarts),
        (2, 1, 0),
        "{report:?}"
    );
    let half = upstream::FILE_LEN / 2;
    assert_eq!(
        r.upstream.file_requests(),
        vec![
            upstream::RangeSeen {
                range: None,
                if_range: None
            },
            upstream::RangeSeen {
                range: Some(format!("bytes={half}-")),
                if_range: Some(upstream::FILE_ETAG.to_owned()),
            },
        ],
        "{fault:?}"
    );
}

#[tokio::test]
async fn a_download_cut_mid_body_resumes_with_range_and_yields_the_exact_bytes() {
    download_through(Fault::TruncateBody).await;
}

#[tokio::test]
async fn a_download_stalled_mid_body_resumes_after_the_read_timeout() {
    download_through(Fault::StallMidBody).await;
}
