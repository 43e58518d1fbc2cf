//! Sync throughput and peak memory: a GitHub-issues-shaped listing of N rows served on loopback,
//! synced in full into SQLite and into PostgreSQL (a throwaway cluster), each sync in a process of
//! its own so its peak resident memory is its own; then, where it is installed, dlt syncing the
//! same endpoint into the same PostgreSQL. `cargo xtask sync-bench` runs it (release build) and
//! installs the pinned dlt.
//!
//! ```text
//! sync_bench [--rows N] [--small N] [--page-size N] [--dlt-python PATH] [--json]
//! ```

#[path = "../../db/tests/support/mod.rs"]
mod db_support;

use std::convert::Infallible;
use std::process::{Command, Stdio};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

#[connector_macros::connector(spec = "tests/fixtures/issues.yaml", sync = true)]
mod issues {}

/// 2026-01-01T00:00:00Z.
const EPOCH: i64 = 1_767_225_600;

fn item(i: u64, out: &mut String) {
    use std::fmt::Write;
    let t = chrono::DateTime::<chrono::Utc>::from_timestamp(EPOCH + i as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let _ = write!(
        out,
        r#"{{"id":{},"number":{i},"title":"issue {i}","body":"the body of issue {i}, a few words long","state":"{}","locked":false,"comments":{},"score":{},"user":{{"login":"user{}","id":{}}},"labels":[{{"name":"bug","color":"f00"}}],"created_at":"{t}","updated_at":"{t}","closed_at":null,"deleted_at":null}}"#,
        1_000 + i,
        if i % 3 == 0 { "closed" } else { "open" },
        i % 11,
        i as f64 / 8.0,
        i % 97,
        i % 97
    );
}

/// Serve `rows` issues, oldest first, in pages of `per_page` (at most 1,000) with `Link` headers.
async fn serve(rows: u64) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(
                    move |req: http::Request<hyper::body::Incoming>| async move {
                        let q: std::collections::HashMap<String, String> =
                            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                                .into_owned()
                                .collect();
                        let per: u64 = q
                            .get("per_page")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(30)
                            .clamp(1, 1000);
                        let page: u64 = q
                            .get("page")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1)
                            .max(1);
                        let start = (page - 1).saturating_mul(per);
                        let end = start.saturating_add(per).min(rows);
                        let mut body =
                            String::with_capacity(((end.saturating_sub(start)) * 420) as usize + 2);
                        body.push('[');
                        for i in start..end {
                            if i > start {
                                body.push(',');
                            }
                            item(i, &mut body);
                        }
                        body.push(']');
                        let mut b =
                            http::Response::builder().header("content-type", "application/json");
                        if end < rows {
                            b = b.header(
                                "link",
                                format!(
                                    "<http://{addr}{}?per_page={per}&page={}>; rel=\"next\"",
                                    req.uri().path(),
                                    page + 1
                                ),
                            );
                        }
                        Ok::<_, Infallible>(b.body(Full::new(Bytes::from(body))).expect("response"))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Peak resident memory of this process, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb.saturating_mul(1024))
}

/// The child: one full sync of the listing at `base` into `dest`; prints a JSON line.
async fn child(base: &str, dest: &str, page_size: u64) {
    let catalog = issues::sync::catalog();
    let mut config = (catalog.config)();
    config.base_url = base.to_owned();
    let connector = connector_runtime::Connector::initialize(config).expect("config");
    connector.connect().await.expect("connect");
    let db = connector_db::Database::connect(connector_db::DbConfig::from_url(dest).expect("url"))
        .await
        .expect("destination");
    let syncer =
        connector_sync::Syncer::new(catalog, connector, connector_sync::DbDestination::new(db));
    let opts = connector_sync::SyncOptions {
        streams: vec!["issues".into()],
        params: [
            ("owner".to_owned(), "octo".to_owned()),
            ("repo".to_owned(), "hello".to_owned()),
        ]
        .into(),
        page_size: Some(page_size),
        ..Default::default()
    };
    let t = Instant::now();
    let report = syncer.run(&opts).await.expect("sync");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"rows": report.rows_written(), "seconds": secs, "peak_rss": peak_rss(), "pages": report.streams[0].pages})
    );
}

fn run_child(args: &[&str]) -> serde_json::Value {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .env("SYNC_BENCH_CHILD", "1")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("spawn");
    assert!(out.status.success(), "child failed");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).expect("child report")
}

const DLT_SCRIPT: &str = r#"
import resource, sys, time
import dlt
from dlt.sources.rest_api import rest_api_source
base, url, per_page = sys.argv[1], sys.argv[2], int(sys.argv[3])
source = rest_api_source({
    "client": {"base_url": base, "paginator": {"type": "header_link"}},
    "resources": [{
        "name": "issues",
        "primary_key": "id",
        "write_disposition": "merge",
        "endpoint": {"path": "repos/octo/hello/issues", "params": {"per_page": per_page}},
    }],
})
pipeline = dlt.pipeline(pipeline_name="sync_bench", destination=dlt.destinations.postgres(credentials=url), dataset_name="dlt_bench", progress=None)
t = time.monotonic()
info = pipeline.run(source)
secs = time.monotonic() - t
rows = pipeline.last_trace.last_normalize_info.row_counts.get("issues", 0)
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024
print('{"rows": %d, "seconds": %f, "peak_rss": %d}' % (rows, secs, peak))
"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("SYNC_BENCH_CHILD").is_some() {
        let base = get("--base").expect("--base");
        let dest = get("--dest").expect("--dest");
        let page: u64 = get("--page-size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        rt.block_on(child(&base, &dest, page));
        return;
    }
    let rows: u64 = get("--rows")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let small: u64 = get("--small")
        .and_then(|v| v.parse().ok())
        .unwrap_or(rows / 10);
    let page: u64 = get("--page-size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dlt = get("--dlt-python");
    rt.block_on(async move {
        let big = serve(rows).await;
        let little = serve(small).await;
        let cluster = db_support::cluster().await;
        let dir = std::env::temp_dir().join(format!("sync-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut results = Vec::new();
        let mut seq = 0;
        let mut sqlite = || {
            seq += 1;
            format!("sqlite://{}", dir.join(format!("bench{seq}.db")).display())
        };
        let pg = |name: String| async move {
            cluster.create_database(&name).await.expect("database");
            cluster.libpq_url(&name)
        };
        let page_s = page.to_string();
        for (label, addr, n) in [("small", little, small), ("full", big, rows)] {
            let base = format!("http://{addr}");
            for engine in ["SQLite", "PostgreSQL"] {
                let dest = if engine == "SQLite" { sqlite() } else { pg(format!("bench_{label}")).await };
                eprintln!("connector-sync → {engine}, {n} rows ...");
                let r = run_child(&["--base", &base, "--dest", &dest, "--page-size", &page_s]);
                eprintln!("  {r}");
                results.push(json!({"tool": "connector-sync", "engine": engine, "rows": n, "set": label, "result": r}));
            }
            if let (Some(py), "full") = (&dlt, label) {
                let dest = pg("dlt_full".into()).await;
                eprintln!("dlt → PostgreSQL, {n} rows ...");
                let out = Command::new(py)
                    .args(["-c", DLT_SCRIPT, &base, &dest, &page_s])
                    .stderr(Stdio::inherit())
                    .output()
                    .expect("run dlt");
                if out.status.success() {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or(json!(null));
                    eprintln!("  {r}");
                    results.push(json!({"tool": "dlt", "engine": "PostgreSQL", "rows": n, "set": label, "result": r}));
                } else {
                    eprintln!("dlt failed: {}", out.status);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        println!("| tool | destination | rows | seconds | rows/s | peak RSS (MiB) |");
        println!("|---|---|---:|---:|---:|---:|");
        for r in &results {
            let res = &r["result"];
            let secs = res["seconds"].as_f64().unwrap_or(0.0);
            let rows = res["rows"].as_f64().unwrap_or(0.0);
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {:.1} |",
                r["tool"].as_str().unwrap_or(""),
                r["engine"].as_str().unwrap_or(""),
                rows,
                secs,
                if secs > 0.0 { rows / secs } else { 0.0 },
                res["peak_rss"].as_f64().unwrap_or(0.0) / 1048576.0
            );
        }
        println!("{}", serde_json::to_string(&results).unwrap_or_default());
    });
}
