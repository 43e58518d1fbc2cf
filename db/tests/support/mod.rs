//! Test support: one throwaway PostgreSQL cluster per test binary, a fresh database (PostgreSQL) or
//! file (SQLite) per test, and the few statements whose SQL differs between the engines.

#![allow(dead_code)]

pub mod cluster;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use connector_db::{Database, DbConfig, Engine, SslMode};
use tokio::sync::OnceCell;

pub use cluster::Cluster;

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();

/// The binary's shared cluster, started on first use.
pub async fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| async {
            match Cluster::start("suite").await {
                Ok(c) => c,
                Err(e) => panic!("could not start the PostgreSQL test cluster: {e}"),
            }
        })
        .await
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    format!("{name}_{}", SEQ.fetch_add(1, Ordering::SeqCst))
}

/// A configuration for a fresh database of `engine`, named after the test.
pub async fn fresh_config(engine: Engine, test: &str) -> DbConfig {
    match engine {
        Engine::Postgres => {
            let c = cluster().await;
            let name = unique(test);
            c.create_database(&name)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            c.config(&name, SslMode::VerifyFull)
        }
        Engine::Sqlite => {
            let path: PathBuf = sqlite_dir().join(format!("{}.db", unique(test)));
            DbConfig::sqlite(path)
        }
    }
}

/// This process's directory of SQLite files, removed when the process ends (however it ends: a
/// child waits for end-of-file on a pipe only this process holds, then removes it).
fn sqlite_dir() -> &'static PathBuf {
    static DIR: OnceLock<(PathBuf, Mutex<Option<std::process::Child>>)> = OnceLock::new();
    let (dir, _) = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("connector-db-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cat >/dev/null; rm -rf '{}'", dir.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the cleanup child");
        (dir, Mutex::new(Some(child)))
    });
    dir
}

/// A connected fresh database of `engine`, configured by `tweak`.
pub async fn fresh_db(engine: Engine, test: &str, tweak: impl FnOnce(&mut DbConfig)) -> Database {
    let mut config = fresh_config(engine, test).await;
    tweak(&mut config);
    match Database::connect(config).await {
        Ok(db) => db,
        Err(e) => panic!("connect ({engine}): {e}"),
    }
}

/// A statement that runs for minutes unless stopped, and a way to see it running.
///
/// PostgreSQL: `pg_sleep`, seen in `pg_stat_activity`. SQLite: an insert whose select counts to
/// billions; it takes the database's write lock when it starts, so a second handle on the same
/// file that cannot write (SQLITE_BUSY, no waiting) sees it running.
pub struct Slow {
    pub engine: Engine,
    probe: Database,
}

impl Slow {
    pub async fn new(db: &Database) -> Slow {
        let engine = db.engine();
        let mut config = db.config().clone();
        config.pool.max_connections = 1;
        config.retry.max_attempts = 1;
        config.busy_timeout_ms = 0;
        config.statement_timeout_ms = None;
        let probe = Database::connect(config).await.expect("probe handle");
        if engine == Engine::Sqlite {
            probe
                .execute_script("CREATE TABLE IF NOT EXISTS slow_sink (n INTEGER); CREATE TABLE IF NOT EXISTS slow_probe (n INTEGER);")
                .await
                .expect("slow tables");
        }
        Slow { engine, probe }
    }

    pub fn sql(&self) -> &'static str {
        match self.engine {
            Engine::Postgres => "SELECT pg_sleep(30)",
            Engine::Sqlite => {
                "INSERT INTO slow_sink (n) SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) SELECT x FROM c)"
            }
        }
    }

    /// Wait (bounded) until the statement runs (`running`) or no longer runs.
    pub async fn wait(&self, running: bool, deadline: Duration) -> bool {
        match self.engine {
            Engine::Postgres => {
                wait_for_activity(&self.probe, "pg_sleep(30)", running, deadline).await
            }
            Engine::Sqlite => {
                let started = Instant::now();
                loop {
                    let writable = self
                        .probe
                        .execute("INSERT INTO slow_probe (n) VALUES (1)", &[])
                        .await
                        .is_ok();
                    if writable != running {
                        return true;
                    }
                    if started.elapsed() > deadline {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

/// A query yielding `n` rows: `id` 1..=n, a text and a timestamp.
pub fn series_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "SELECT g AS id, 'row-' || g::text AS label, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS at FROM generate_series(1, $1::bigint) AS g"
        }
        Engine::Sqlite => {
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $1) SELECT g AS id, 'row-' || g AS label, strftime('%Y-%m-%dT%H:%M:%fZ', '2024-01-01', '+' || g || ' seconds') AS at FROM s"
        }
    }
}

/// A lighter series for large counts: `id` 1..=n, a text and a float.
pub fn light_series_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "SELECT g AS id, 'row-' || g::text AS label, g * 0.5::float8 AS score FROM generate_series(1, $1::bigint) AS g"
        }
        Engine::Sqlite => {
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $1) SELECT g AS id, 'row-' || g AS label, g * 0.5 AS score FROM s"
        }
    }
}

/// PostgreSQL: wait until `pg_stat_activity` shows (or no longer shows) an active statement
/// containing `needle` (other than this check). Polls with a bound deadline.
pub async fn wait_for_activity(
    db: &Database,
    needle: &str,
    present: bool,
    deadline: Duration,
) -> bool {
    let started = Instant::now();
    let pattern = format!("%{needle}%");
    loop {
        let rows = db
            .query(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
                &[pattern.as_str().into()],
            )
            .await
            .expect("pg_stat_activity");
        if rows.is_empty() != present {
            return true;
        }
        if started.elapsed() > deadline {
            return false;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
