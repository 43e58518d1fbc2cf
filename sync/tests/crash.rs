//! Crash safety: the sync, run as a separate process through its command line, is killed with
//! SIGKILL at random points of its listing — while a request is in flight, while a page is being
//! transformed, inside or right after the page's transaction — then run again. After each resumed
//! run the destination must equal the source (same rows, same values, no duplicates), the
//! dead-letter table must hold exactly the malformed rows, and a further run with no source changes
//! must write nothing. On SQLite and on PostgreSQL, `CRASH_RUNS` kills each (default 50).
//!
//! This test binary is its own child: run with `SYNC_CRASH_CHILD` set, it is the sync command line
//! of one fixture connector instead.

mod support;

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use connector_db::{DbConfig, Engine};
use support::{Data, Source, charges, issues};

const PATIENCE: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    if let Ok(fixture) = std::env::var("SYNC_CRASH_CHILD") {
        let catalog = match fixture.as_str() {
            "issues" => issues::sync::catalog(),
            _ => charges::sync::catalog(),
        };
        return connector_sync::cli::run(catalog, "sync-child", std::env::args().skip(1));
    }
    let runs: u64 = std::env::var("CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for engine in support::ENGINES {
            crash_many(engine, runs).await;
        }
    });
    println!("crash: all runs passed");
    ExitCode::SUCCESS
}

/// The destination URL the child is given.
fn url(config: &DbConfig, engine: Engine, cluster_url: Option<String>) -> String {
    match engine {
        Engine::Sqlite => format!(
            "sqlite://{}",
            config.path.as_ref().expect("a SQLite file").display()
        ),
        Engine::Postgres => cluster_url.expect("a PostgreSQL URL"),
    }
}

fn child(fixture: &str, source: &Source, dest: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("this binary"));
    c.env("SYNC_CRASH_CHILD", fixture)
        .env("RUST_LOG", "warn")
        .arg("sync")
        .arg(if fixture == "issues" {
            "issues"
        } else {
            "charges"
        })
        .args([
            "--dest",
            dest,
            "--base-url",
            &source.base_url(),
            "--page-size",
            "4",
            "--quiet",
            "--json",
        ])
        .args(["--param", "owner=octo", "--param", "repo=hello"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run a child to its end; its JSON report.
fn complete(mut cmd: Command, what: &str) -> serde_json::Value {
    let out = cmd.output().expect("run the child");
    assert!(
        out.status.success(),
        "{what}: the sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: report: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

async fn crash_many(engine: Engine, runs: u64) {
    let started = Instant::now();
    let mut data = Data::new(1234 + engine as u64);
    data.seed(120, 120);
    let source = Source::start(data).await;
    let config = support::db::fresh_config(engine, "crash").await;
    let cluster_url = match engine {
        Engine::Postgres => Some(
            support::db::cluster()
                .await
                .libpq_url(config.database_name()),
        ),
        Engine::Sqlite => None,
    };
    let dest = url(&config, engine, cluster_url);
    let db = connector_db::Database::connect(config)
        .await
        .expect("connect");
    // The first full syncs, uninterrupted.
    for f in ["issues", "charges"] {
        complete(child(f, &source, &dest, &[]), "first sync");
    }
    let mut killed_mid_run = 0;
    for i in 0..runs {
        let fixture = if i % 2 == 0 { "issues" } else { "charges" };
        source.with(Data::mutate);
        let full = i % 10 == 9;
        let extra: &[&str] = if full { &["--full-refresh"] } else { &[] };
        // Kill once the source has answered a random number of this run's pages (0: before the
        // first answer), then after a random few hundred microseconds more, so the kill lands
        // anywhere between a request and the commit of its page.
        let (k, spin) = source.with(|d| (d.below(if full { 30 } else { 8 }), d.below(800)));
        let base = *source.answered.borrow();
        let mut proc = child(fixture, &source, &dest, extra)
            .spawn()
            .expect("spawn");
        let reached = source.wait_answered(base + k, PATIENCE).await;
        assert!(
            reached || proc.try_wait().ok().flatten().is_some(),
            "run {i}: the child stalled"
        );
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(spin) {
            std::hint::spin_loop();
        }
        let finished_before_kill = proc.try_wait().ok().flatten().is_some();
        let _ = proc.kill();
        let _ = proc.wait();
        if !finished_before_kill {
            killed_mid_run += 1;
        }
        // Resume, then compare.
        complete(
            child(fixture, &source, &dest, &[]),
            &format!("run {i}: resume"),
        );
        let snap = source.snapshot();
        let what = format!("{engine} run {i} ({fixture}, kill after {k} answers + {spin} µs)");
        if fixture == "issues" {
            support::assert_issues_equal(&db, &snap, &what).await;
        } else {
            support::assert_charges_equal(&db, &snap, &what).await;
        }
        let idle = complete(
            child(fixture, &source, &dest, &[]),
            &format!("run {i}: idle"),
        );
        let written: u64 = idle["streams"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["rows_written"].as_u64()).sum())
            .unwrap_or(u64::MAX);
        assert_eq!(
            written, 0,
            "{what}: a run with no source changes wrote rows"
        );
    }
    // Most kills must land inside a run, or the test proves little.
    assert!(
        killed_mid_run * 2 > runs,
        "{engine}: only {killed_mid_run} of {runs} kills hit a running sync"
    );
    println!(
        "crash {engine}: {runs} runs killed ({killed_mid_run} mid-run), each resumed to equality, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
