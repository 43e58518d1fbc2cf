//! `bench-load`: the client side of the runtime overhead benchmarks, in its own process so its CPU
//! time is its own. Prints one JSON object per measurement on stdout (nothing else goes there).
//!
//! ```text
//! bench-load [--server http://127.0.0.1:PORT] --mode MODE [options]
//!
//! modes (one measurement each, unless said otherwise):
//!   generated   GET /item through the generated client: concurrency limit raised to --concurrency,
//!               de-duplication off, no rate limit, pool as large as the concurrency
//!   reqwest     GET /item with a plain reqwest::Client built with the runtime's settings (same pool,
//!               TLS, redirect and decompression settings), `.bytes()` then serde_json::from_slice into
//!               a hand-written struct of the same shape
//!   reqwest-timeout  as `reqwest`, with the runtime's default per-attempt timeout (30 s) set as
//!               reqwest's own per-request timeout (`ClientBuilder::timeout`): what plain reqwest costs
//!               when it too bounds every call, as the generated client always does
//!   reqwest-headers  as `reqwest`, sending the two headers the generated client adds on the wire
//!               (`Accept: application/json` for reqwest's `*/*`, and a 36-byte `x-request-id`,
//!               the same on every call, both made at compile time): what those headers cost on
//!               the wire, in reqwest and hyper, and in the server
//!   generated-bearer  as `generated`, with a bearer token set on the connector: every attempt
//!               then goes through the hook context (auth strategy, request parts, signer), not the
//!               direct attempt a connector without auth, hooks or cache takes
//!   hyper       GET /item through hyper-util's pooled client alone, the layer reqwest builds on,
//!               with the headers plain reqwest sends (`accept`, `user-agent`, `accept-encoding`)
//!               but none of reqwest's own per-request work (URL handling, the redirect, retry and
//!               decompression layers): the floor under both clients, plain HTTP only
//!   default     GET /item through the generated client with the runtime's default configuration
//!               (concurrency limit 10, de-duplication on: identical GETs in flight share one
//!               exchange, so at a concurrency above 1 most calls are not sent at all)
//!   default-nodedup  the default configuration with de-duplication off, so every call is sent:
//!               what the default concurrency limit (10) costs
//!   compare     --rounds R rounds of each of --modes (default generated,reqwest) alternated
//!               (ABAB...), one line per run, then one `summary` line: medians, spread, ratios
//!   decode      GET /items/large (20,000 objects, about 2 MB): through the generated client vs plain
//!               reqwest + serde_json::from_slice into the hand-written struct (alternated), and the
//!               decode alone: serde_json::from_slice into the generated type vs the hand-written one
//!   paginate    --items N items through the generated client's `paginate` (pages of --page-size):
//!               time, items seen, peak RSS (VmHWM)
//!
//! options:
//!   --server URL       the bench server; without it a `bench-server` beside this binary is started
//!                      as a child process (paginate and decode: an in-process server instead)
//!   --concurrency N    calls in flight (default 64)
//!   --requests N       measured calls per run (default 20000)
//!   --warmup N         calls before measuring, per run (default 2000)
//!   --limit N          generated: the connector's concurrency limit (default: --concurrency)
//!   --rounds N         compare: rounds (default 5)
//!   --modes a,b        compare: modes alternated (default generated,reqwest)
//!   --items N          paginate: items to list (default 1000000)
//!   --page-size N      paginate: items per page (default 1000)
//!   --threads N        client tokio worker threads (default: tokio's, the number of cores)
//!   --quick            scale down: 1/10 of the requests, warm-up and items, 3 rounds
//! ```
//!
//! Each load line: `mode`, `concurrency`, `requests`, `seconds`, `rps`, `p50_us`, `p90_us`, `p99_us`,
//! `cpu_us_per_req` (getrusage RUSAGE_SELF, user + system, over the measured part), `errors`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use connector_bench::bench_client::Client;
use connector_bench::{Item, LargeList};
use connector_runtime::ConnectorConfig;
use futures_util::StreamExt;
use serde_json::json;

#[derive(Clone, Debug)]
struct Args {
    server: Option<String>,
    mode: String,
    concurrency: usize,
    limit: Option<usize>,
    requests: u64,
    warmup: u64,
    rounds: usize,
    modes: Vec<String>,
    items: u64,
    page_size: u64,
    threads: usize,
}

const HELP: &str =
    "bench-load [--server URL] --mode generated|generated-bearer|reqwest|reqwest-timeout|reqwest-headers|hyper|default|default-nodedup|compare|decode|paginate
  [--concurrency N] [--limit N] [--requests N] [--warmup N] [--rounds N] [--modes a,b] [--items N]
  [--page-size N] [--threads N] [--quick]
One JSON object per measurement on stdout; see the binary's documentation for each mode.";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        server: None,
        mode: String::new(),
        concurrency: 64,
        limit: None,
        requests: 20_000,
        warmup: 2_000,
        rounds: 5,
        modes: vec!["generated".into(), "reqwest".into()],
        items: 1_000_000,
        page_size: 1_000,
        threads: 0,
    };
    let mut quick = false;
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, name: &str| -> Result<u64, String> {
        v.as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| format!("{name} takes a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--server" => a.server = Some(it.next().ok_or("--server takes a URL")?),
            "--mode" => a.mode = it.next().ok_or("--mode takes a name")?,
            "--concurrency" => a.concurrency = num(it.next(), "--concurrency")?.max(1) as usize,
            "--requests" => a.requests = num(it.next(), "--requests")?.max(1),
            "--limit" => a.limit = Some(num(it.next(), "--limit")?.max(1) as usize),
            "--warmup" => a.warmup = num(it.next(), "--warmup")?,
            "--rounds" => a.rounds = num(it.next(), "--rounds")?.max(1) as usize,
            "--modes" => {
                a.modes = it
                    .next()
                    .ok_or("--modes takes a list")?
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--items" => a.items = num(it.next(), "--items")?,
            "--page-size" => a.page_size = num(it.next(), "--page-size")?.clamp(1, 10_000),
            "--threads" => a.threads = num(it.next(), "--threads")? as usize,
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{HELP}")),
        }
    }
    if quick {
        a.requests = (a.requests / 10).max(100);
        a.warmup /= 10;
        a.items = (a.items / 10).max(1);
        a.rounds = a.rounds.min(3);
    }
    if a.mode.is_empty() {
        return Err(format!("--mode is required\n{HELP}"));
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-load: {e}");
            std::process::exit(2);
        }
    };
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if args.threads > 0 {
        b.worker_threads(args.threads);
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-load: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("bench-load: {e}");
        std::process::exit(1);
    }
}

/// A `bench-server` child, killed on drop.
struct ChildServer(std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server() -> Result<(ChildServer, String), String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name("bench-server");
    let mut child = std::process::Command::new(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let guard = ChildServer(child);
    let mut line = String::new();
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| format!("bench-server printed {line:?}, not a port"))?;
    Ok((guard, format!("http://127.0.0.1:{port}")))
}

async fn run(args: Args) -> Result<(), String> {
    let in_process = matches!(args.mode.as_str(), "paginate" | "decode");
    let (_child, server) = match (&args.server, in_process) {
        (Some(s), _) => (None, s.trim_end_matches('/').to_owned()),
        (None, true) => {
            let addr = connector_bench::server::start()
                .await
                .map_err(|e| e.to_string())?;
            (None, format!("http://{addr}"))
        }
        (None, false) => {
            let (c, s) = spawn_server()?;
            (Some(c), s)
        }
    };
    match args.mode.as_str() {
        "generated" | "reqwest" | "reqwest-timeout" | "reqwest-headers" | "default"
        | "default-nodedup" | "hyper" | "generated-bearer" => {
            let line = load(&args, &args.mode, &server).await?;
            emit(&line);
        }
        "compare" => compare(&args, &server).await?,
        "decode" => decode(&args, &server).await?,
        "paginate" => paginate(&args, &server).await?,
        other => return Err(format!("unknown mode {other:?}\n{HELP}")),
    }
    Ok(())
}

fn emit(v: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64)
            + Duration::from_micros(t.tv_usec.clamp(0, 999_999) as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Peak resident memory (VmHWM) in KiB, from /proc/self/status.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The plain reqwest client, built with the settings `connector-runtime` builds its own with
/// (`runtime/src/pipeline/transport.rs`) for the same configuration; with `timeout`, also bounding
/// each request as the runtime bounds each attempt.
fn plain_client(max_idle: usize, timeout: bool) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let d = ConnectorConfig::default();
    let b = reqwest::Client::builder();
    let b = if timeout {
        b.timeout(Duration::from_millis(d.timeout_ms))
    } else {
        b
    };
    b.retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::limited(d.max_redirects as usize))
        .user_agent(d.user_agent.clone())
        .connect_timeout(Duration::from_millis(d.pool.connect_timeout_ms))
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_millis(d.pool.idle_timeout_ms))
        .tls_backend_rustls()
        .gzip(true)
        .brotli(true)
        .deflate(true)
        .tcp_keepalive(Duration::from_millis(d.pool.tcp_keepalive_ms))
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}

/// The generated client with nothing throttling `concurrency` calls: no queue, no de-duplication, a
/// pool as large as the concurrency.
async fn raised_client(server: &str, concurrency: usize) -> Result<Client, String> {
    let mut config = Client::config();
    config.base_url = server.to_owned();
    config.rate_limit.concurrent_requests = concurrency.max(1);
    config.rate_limit.max_queue = concurrency.saturating_mul(2).max(1000);
    config.dedup.enabled = false;
    config.pool.max_idle_per_host = concurrency.max(64);
    Client::new(config).await.map_err(|e| e.to_string())
}

async fn default_client(server: &str, dedup: bool) -> Result<Client, String> {
    let mut config = Client::config();
    config.base_url = server.to_owned();
    config.dedup.enabled = dedup;
    Client::new(config).await.map_err(|e| e.to_string())
}

/// See [`Caller::Hyper`].
#[derive(Clone)]
struct HyperCaller {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
    uri: hyper::Uri,
    user_agent: reqwest::header::HeaderValue,
}

/// One kind of call, made many times.
#[derive(Clone)]
enum Caller {
    Generated(Client),
    /// With `true`, the request carries the headers the generated client adds.
    Plain(reqwest::Client, String, bool),
    /// hyper-util's pooled client, the item's URI and the user agent (boxed: the client is large).
    Hyper(Box<HyperCaller>),
}

impl Caller {
    async fn call(&self) -> Result<Item, String> {
        match self {
            Caller::Generated(c) => c
                .bench()
                .get_item()
                .send()
                .await
                .map(|r| {
                    let i = r.data;
                    Item {
                        id: i.id,
                        name: i.name,
                        active: i.active,
                        score: i.score,
                        tags: i.tags,
                    }
                })
                .map_err(|e| e.to_string()),
            Caller::Hyper(h) => {
                use http_body_util::BodyExt;
                const ANY: reqwest::header::HeaderValue =
                    reqwest::header::HeaderValue::from_static("*/*");
                const ENC: reqwest::header::HeaderValue =
                    reqwest::header::HeaderValue::from_static("gzip, br, deflate");
                let mut req = hyper::Request::new(http_body_util::Empty::new());
                *req.uri_mut() = h.uri.clone();
                let headers = req.headers_mut();
                headers.insert(reqwest::header::ACCEPT, ANY);
                headers.insert(reqwest::header::USER_AGENT, h.user_agent.clone());
                headers.insert(reqwest::header::ACCEPT_ENCODING, ENC);
                let resp = h.client.request(req).await.map_err(|e| e.to_string())?;
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                serde_json::from_slice::<Item>(&body).map_err(|e| e.to_string())
            }
            Caller::Plain(c, url, headers) => {
                let mut get = c.get(url);
                if *headers {
                    // Made at compile time: the client's own cost of them is as small as it can be.
                    const ID: reqwest::header::HeaderName =
                        reqwest::header::HeaderName::from_static("x-request-id");
                    const ID_VALUE: reqwest::header::HeaderValue =
                        reqwest::header::HeaderValue::from_static(
                            "6f1c2a9e-3b7d-4e58-9a0c-d2f4b6e8a1c3",
                        );
                    const JSON: reqwest::header::HeaderValue =
                        reqwest::header::HeaderValue::from_static("application/json");
                    get = get
                        .header(reqwest::header::ACCEPT, JSON)
                        .header(ID, ID_VALUE);
                }
                let bytes = get
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .bytes()
                    .await
                    .map_err(|e| e.to_string())?;
                serde_json::from_slice::<Item>(&bytes).map_err(|e| e.to_string())
            }
        }
    }
}

/// `count` calls at `concurrency`, each worker taking the next number until none are left; the
/// latency of each in nanoseconds (when `record`) and the number of errors.
async fn drive(caller: &Caller, concurrency: usize, count: u64, record: bool) -> (Vec<u64>, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let caller = caller.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let t = Instant::now();
                let r = caller.call().await;
                if record {
                    lat.push(t.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64);
                }
                if let Err(e) = r {
                    if errors == 0 {
                        eprintln!("bench-load: call failed: {e}");
                    }
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::with_capacity(count as usize);
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok((l, e)) => {
                all.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    (all, errors)
}

fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn caller_for(mode: &str, args: &Args, server: &str) -> Result<Caller, String> {
    Ok(match mode {
        "generated" => {
            Caller::Generated(raised_client(server, args.limit.unwrap_or(args.concurrency)).await?)
        }
        "hyper" => {
            let d = ConnectorConfig::default();
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
            http.set_connect_timeout(Some(Duration::from_millis(d.pool.connect_timeout_ms)));
            http.set_keepalive(Some(Duration::from_millis(d.pool.tcp_keepalive_ms)));
            Caller::Hyper(Box::new(HyperCaller {
                client: hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .pool_max_idle_per_host(args.concurrency.max(64))
                .pool_idle_timeout(Duration::from_millis(d.pool.idle_timeout_ms))
                .build(http),
                uri: format!("{server}/item")
                    .parse()
                    .map_err(|e| format!("{server}/item: {e}"))?,
                user_agent: reqwest::header::HeaderValue::from_str(&d.user_agent)
                    .map_err(|e| e.to_string())?,
            }))
        }
        "generated-bearer" => {
            let c = raised_client(server, args.limit.unwrap_or(args.concurrency)).await?;
            c.connector().set_auth(Some(std::sync::Arc::new(
                connector_runtime::auth::Bearer::new("bench-token"),
            )));
            Caller::Generated(c)
        }
        "default" => Caller::Generated(default_client(server, true).await?),
        "default-nodedup" => Caller::Generated(default_client(server, false).await?),
        "reqwest" | "reqwest-timeout" | "reqwest-headers" => Caller::Plain(
            plain_client(args.concurrency.max(64), mode == "reqwest-timeout")?,
            format!("{server}/item"),
            mode == "reqwest-headers",
        ),
        other => return Err(format!("not a load mode: {other:?}")),
    })
}

/// One load measurement of `mode`: a fresh client, the warm-up, then the measured calls.
async fn load(args: &Args, mode: &str, server: &str) -> Result<serde_json::Value, String> {
    let caller = caller_for(mode, args, server).await?;
    drive(&caller, args.concurrency, args.warmup, false).await;
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let (mut lat, errors) = drive(&caller, args.concurrency, args.requests, true).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu0);
    lat.sort_unstable();
    Ok(json!({
        "mode": mode,
        "concurrency": args.concurrency,
        "requests": args.requests,
        "seconds": secs,
        "rps": args.requests as f64 / secs.max(1e-9),
        "p50_us": percentile_us(&lat, 0.50),
        "p90_us": percentile_us(&lat, 0.90),
        "p99_us": percentile_us(&lat, 0.99),
        "cpu_us_per_req": cpu.as_secs_f64() * 1e6 / args.requests as f64,
        "errors": errors,
    }))
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Stats of one field over runs: median, min, max.
fn stats(runs: &[serde_json::Value], mode: &str, field: &str) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs
        .iter()
        .filter(|r| r["mode"] == mode)
        .filter_map(|r| r[field].as_f64())
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(&mut v), lo, hi)
}

async fn compare(args: &Args, server: &str) -> Result<(), String> {
    let mut runs = Vec::new();
    for round in 0..args.rounds {
        // Alternate the order too, so neither mode always runs first in a round.
        let mut order: Vec<&String> = args.modes.iter().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for mode in order {
            let mut line = load(args, mode, server).await?;
            line["round"] = json!(round);
            emit(&line);
            runs.push(line);
        }
    }
    let mut summary = json!({
        "mode": "summary",
        "concurrency": args.concurrency,
        "requests": args.requests,
        "rounds": args.rounds,
    });
    for mode in &args.modes {
        let mut m = serde_json::Map::new();
        for field in ["rps", "p50_us", "p90_us", "p99_us", "cpu_us_per_req"] {
            let (med, lo, hi) = stats(&runs, mode, field);
            m.insert(field.into(), json!({ "median": med, "min": lo, "max": hi }));
        }
        summary[mode.as_str()] = serde_json::Value::Object(m);
    }
    if args.modes.iter().any(|m| m == "reqwest") {
        let base = |f: &str| stats(&runs, "reqwest", f).0;
        for mode in args.modes.iter().filter(|m| *m != "reqwest") {
            let med = |f: &str| stats(&runs, mode, f).0;
            summary[format!("{mode}_vs_reqwest")] = json!({
                "rps_ratio": med("rps") / base("rps").max(1e-9),
                "cpu_per_req_ratio": med("cpu_us_per_req") / base("cpu_us_per_req").max(1e-9),
                "p50_added_us": med("p50_us") - base("p50_us"),
            });
        }
    }
    emit(&summary);
    Ok(())
}

async fn decode(args: &Args, server: &str) -> Result<(), String> {
    let generated = raised_client(server, 1).await?;
    let plain = plain_client(32, false)?;
    let url = format!("{server}/items/large");
    let iterations = (args.requests / 200).clamp(5, 200);
    let (mut g_ns, mut p_ns) = (Vec::new(), Vec::new());
    let mut count = 0usize;
    for i in 0..iterations + 2 {
        let t = Instant::now();
        let r = generated
            .bench()
            .get_large()
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let g = t.elapsed();
        count = r.data.data.len();
        let t = Instant::now();
        let bytes = plain
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let p: LargeList = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let pt = t.elapsed();
        if p.data.len() != count {
            return Err("the two sides decoded different lists".into());
        }
        // The first two rounds warm the pools and allocator.
        if i >= 2 {
            g_ns.push(g.as_secs_f64() * 1e3);
            p_ns.push(pt.as_secs_f64() * 1e3);
        }
    }
    let (g, p) = (median(&mut g_ns), median(&mut p_ns));
    emit(&json!({
        "mode": "decode_call",
        "items": count,
        "iterations": iterations,
        "generated_ms_median": g,
        "reqwest_ms_median": p,
        "ratio": g / p.max(1e-9),
    }));
    // The decode alone, on the same bytes: the generated model vs the hand-written struct.
    let bytes = connector_bench::server::Answers::new().large().clone();
    let (mut g_ns, mut p_ns) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let t = Instant::now();
        let g: connector_bench::bench_client::models::GetLargeResponse =
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        g_ns.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let p: LargeList = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        p_ns.push(t.elapsed().as_secs_f64() * 1e3);
        if g.data.len() != p.data.len() {
            return Err("the two decodes differ".into());
        }
    }
    let (g, p) = (median(&mut g_ns), median(&mut p_ns));
    emit(&json!({
        "mode": "decode_only",
        "bytes": bytes.len(),
        "iterations": iterations,
        "generated_type_ms_median": g,
        "hand_written_ms_median": p,
        "ratio": g / p.max(1e-9),
    }));
    Ok(())
}

async fn paginate(args: &Args, server: &str) -> Result<(), String> {
    let client = raised_client(server, 4).await?;
    let rss0 = peak_rss_kib();
    let t0 = Instant::now();
    let cpu0 = cpu_time();
    let mut items = client
        .bench()
        .list_items()
        .limit(args.page_size as i64)
        .total(args.items as i64)
        .paginate();
    let mut seen = 0u64;
    let mut last = String::new();
    while let Some(item) = items.next().await {
        let item = item.map_err(|e| e.to_string())?;
        seen += 1;
        if seen == args.items {
            last = item.id;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu0);
    emit(&json!({
        "mode": "paginate",
        "items_requested": args.items,
        "items_seen": seen,
        "last_id": last,
        "page_size": args.page_size,
        "seconds": secs,
        "items_per_second": seen as f64 / secs.max(1e-9),
        "cpu_seconds": cpu.as_secs_f64(),
        "peak_rss_kib_before": rss0,
        "peak_rss_kib": peak_rss_kib(),
    }));
    if seen != args.items {
        return Err(format!("saw {seen} items of {}", args.items));
    }
    Ok(())
}
