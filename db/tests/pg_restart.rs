//! PostgreSQL stopped (fast shutdown: every session ended) and started again on the same port in
//! the middle of a run: the pool recovers without the caller doing anything, and a call made while
//! the server is down is retried with the runtime's backoff until it is back. Its own test binary
//! and cluster, since restarting a shared one would break other tests' connections.

mod support;

use std::time::{Duration, Instant};

use connector_db::observe::{RETRIES_TOTAL, STALE_CONNECTIONS_TOTAL};
use connector_db::{Database, SslMode, Value};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::Cluster;

/// The sum of a counter's series (all labels).
fn counter(snapshotter: &Snapshotter, name: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .iter()
        .filter(|(k, _, _, _)| k.key().name() == name)
        .map(|(_, _, _, v)| match v {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

async fn backend_pids(db: &Database, n: usize) -> Vec<i32> {
    // n calls at once hold n connections, so the pool opens them all.
    let calls = (0..n).map(|_| async {
        let mut tx = db.begin().await.expect("begin");
        let pid = tx.backend_pid().expect("pid");
        let seen: Vec<i32> = tx
            .query_as("SELECT pg_backend_pid()", &[])
            .await
            .expect("pid query");
        assert_eq!(seen, vec![pid]);
        tx
    });
    let txs = futures_util::future::join_all(calls).await;
    let mut pids: Vec<i32> = txs.iter().filter_map(|t| t.backend_pid()).collect();
    for tx in txs {
        tx.rollback().await.expect("rollback");
    }
    pids.sort();
    pids
}

#[test]
fn the_pool_recovers_after_a_server_restart() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let cluster = Cluster::start("restart")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        cluster
            .create_database("app")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut config = cluster.config("app", SslMode::VerifyFull);
        config.pool.max_connections = 4;
        config.pool.acquire_timeout_ms = 500;
        config.retry.max_attempts = 60;
        config.retry.initial_delay_ms = 50;
        config.retry.max_delay_ms = 500;
        let db = Database::connect(config).await.expect("connect");
        db.execute("CREATE TABLE marks (n BIGINT)", &[])
            .await
            .expect("create");
        let before = backend_pids(&db, 4).await;
        assert_eq!(before.len(), 4);
        assert_eq!(
            db.health().await.expect("health").pool_size,
            4,
            "four open connections, soon all dead"
        );

        cluster.restart().await.unwrap_or_else(|e| panic!("{e}"));

        // The caller does nothing special: every call works, on new server processes.
        for n in 0..8i64 {
            db.execute("INSERT INTO marks (n) VALUES ($1)", &[Value::I64(n)])
                .await
                .expect("a call after the restart");
        }
        let stale = counter(&snapshotter, STALE_CONNECTIONS_TOTAL);
        assert!(
            stale >= 1,
            "the dead pooled connections were found by the probe and replaced"
        );
        let after = backend_pids(&db, 4).await;
        assert!(
            after.iter().all(|p| !before.contains(p)),
            "{before:?} {after:?}"
        );
        assert_eq!(
            db.query_as::<i64>("SELECT count(*) FROM marks", &[])
                .await
                .expect("count"),
            vec![8]
        );

        // Down, a call waits: its connection attempts fail and are retried with backoff...
        cluster.stop("fast").unwrap_or_else(|e| panic!("{e}"));
        let retries_before = counter(&snapshotter, RETRIES_TOTAL);
        let call = {
            let db = db.clone();
            tokio::spawn(async move { db.query_as::<i64>("SELECT $1", &[Value::I64(42)]).await })
        };
        let started = Instant::now();
        while counter(&snapshotter, RETRIES_TOTAL) == retries_before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no connection retry was recorded"
            );
            assert!(
                !call.is_finished(),
                "the call ended while the server was down"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // ...until the server is back.
        cluster.start_again().unwrap_or_else(|e| panic!("{e}"));
        let answer = tokio::time::timeout(Duration::from_secs(60), call)
            .await
            .expect("the call ends once the server is back")
            .expect("task");
        assert_eq!(answer.expect("the call succeeds"), vec![42]);
        db.close().await;
    });
}
