//! Criterion benches of the runtime's per-call parts: one call through the pipeline (generated client
//! and `Connector::request`, beside plain reqwest on the same in-process server), the rate limiter's
//! acquire (unlimited and token-bucket limited) and hook dispatch (0, 1 and 8 `beforeRequest` hooks).
//!
//! `cargo bench -p connector-bench --bench runtime` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::time::Duration;

use connector_bench::Item;
use connector_bench::bench_client::Client;
use connector_runtime::ratelimit::RateLimiter;
use connector_runtime::{HookType, Method, RateLimitConfig, RequestOptions, hook_fn};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn client(base: &str, hooks: usize) -> Client {
    let mut config = Client::config();
    config.base_url = base.to_owned();
    config.dedup.enabled = false;
    config.rate_limit.concurrent_requests = 64;
    let c = Client::new(config).await.expect("client");
    for i in 0..hooks {
        c.connector().hooks().register(
            HookType::BeforeRequest,
            hook_fn(format!("noop-{i}"), 0, |ctx| {
                black_box(&ctx.request);
                Ok(())
            }),
        );
    }
    c
}

fn pipeline(cr: &mut Criterion) {
    let rt = runtime();
    let addr = rt
        .block_on(connector_bench::server::start())
        .expect("server");
    let base = format!("http://{addr}");
    let c = rt.block_on(client(&base, 0));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest");
    let url = format!("{base}/item");

    let mut g = cr.benchmark_group("pipeline");
    g.bench_function("generated_get_item", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(c.bench().get_item().send().await.expect("call")) })
    });
    g.bench_function("connector_request", |b| {
        b.to_async(&rt).iter(|| async {
            let opts = RequestOptions::new(Method::GET, "/item").endpoint("/item");
            black_box(c.connector().request(opts).await.expect("call"))
        })
    });
    g.bench_function("reqwest_get_item", |b| {
        b.to_async(&rt).iter(|| async {
            let bytes = plain
                .get(&url)
                .send()
                .await
                .expect("send")
                .bytes()
                .await
                .expect("body");
            black_box(serde_json::from_slice::<Item>(&bytes).expect("decode"))
        })
    });
    g.finish();
}

fn rate_limiter(cr: &mut Criterion) {
    let rt = runtime();
    let mut g = cr.benchmark_group("rate_limiter");
    let unlimited = RateLimiter::new(RateLimitConfig {
        concurrent_requests: 1024,
        ..RateLimitConfig::default()
    });
    g.bench_function("acquire_unlimited", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(unlimited.wait_for_slot().await.expect("slot")) })
    });
    // A bucket refilled far faster than the bench takes tokens: the cost of the accounting, no wait.
    let limited = RateLimiter::new(RateLimitConfig {
        requests_per_second: Some(1e9),
        burst_capacity: Some(1_000_000),
        requests_per_minute: Some(u32::MAX),
        concurrent_requests: 1024,
        ..RateLimitConfig::default()
    });
    g.bench_function("acquire_limited", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(limited.wait_for_slot().await.expect("slot")) })
    });
    g.finish();
}

fn hooks(cr: &mut Criterion) {
    let rt = runtime();
    let addr = rt
        .block_on(connector_bench::server::start())
        .expect("server");
    let base = format!("http://{addr}");
    let mut g = cr.benchmark_group("hooks");
    for n in [0usize, 1, 8] {
        let c = rt.block_on(client(&base, n));
        g.bench_with_input(BenchmarkId::new("before_request", n), &n, |b, _| {
            b.to_async(&rt)
                .iter(|| async { black_box(c.bench().get_item().send().await.expect("call")) })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = pipeline, rate_limiter, hooks
}
criterion_main!(benches);
