//! The pool of one [`Database`](crate::Database) and the lease of one connection from it: acquiring
//! with a liveness probe and the runtime's retry policy, stopping a running statement, and giving a
//! connection back clean (no statement running, no transaction open) whatever the caller dropped.
//!
//! PostgreSQL: the probe is `SELECT pg_backend_pid()`, one round trip, as sqlx's own
//! test-before-acquire ping (switched off in its favour); it proves the connection alive and gives
//! the backend's pid, which a cancel needs (`pg_cancel_backend(pid)` from another connection: sqlx
//! has no cancel request). A probe that fails on a connection the server dropped (a restart)
//! discards it and takes another, so callers never see a stale connection.
//!
//! SQLite: each lease installs a progress handler on its connection that checks a flag and a
//! deadline every [`PROGRESS_OPS`] virtual-machine steps; setting the flag interrupts the statement
//! (SQLITE_INTERRUPT), which is how both cancellation and the statement timeout stop it.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use connector_runtime::retry::{RetryDecision, RetryPolicy};
use connector_runtime::{Error, ErrorCode, ErrorSource};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode, Postgres};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite};

use crate::config::{DbConfig, Engine, SslMode};
use crate::error::{StopReason, from_sqlx};
use crate::observe;

/// Virtual-machine steps between two checks of a SQLite statement's cancel flag and deadline.
pub const PROGRESS_OPS: i32 = 1000;

/// Longest wait for a cancelled statement to end once the engine was told to stop it.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// PostgreSQL: how often a cancel is sent again while the statement still runs.
pub(crate) const CANCEL_RESEND: Duration = Duration::from_millis(50);

/// The pools of one database handle and what every lease needs.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) pools: Pools,
    pub(crate) config: DbConfig,
    pub(crate) retry: RetryPolicy,
}

pub(crate) enum Pools {
    Postgres {
        pool: PgPool,
        options: Box<PgConnectOptions>,
    },
    Sqlite {
        pool: SqlitePool,
    },
}

/// One connection taken from the pool.
pub(crate) enum Conn {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

/// SQLite's stop flag and deadline, read by the progress handler.
pub(crate) struct Interrupt {
    /// 0 run, 1 cancelled, 2 timed out.
    state: AtomicU8,
    /// Nanoseconds after `base` past which the statement stops; 0: no deadline.
    deadline: AtomicU64,
    base: Instant,
}

impl Interrupt {
    fn new() -> Self {
        Interrupt {
            state: AtomicU8::new(0),
            deadline: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    /// Start a statement: clear the flag, set the deadline.
    pub(crate) fn arm(&self, timeout: Option<Duration>) {
        self.state.store(0, Ordering::SeqCst);
        let deadline = timeout.map_or(0, |t| {
            let at = self.base.elapsed().saturating_add(t).as_nanos();
            u64::try_from(at).unwrap_or(u64::MAX).max(1)
        });
        self.deadline.store(deadline, Ordering::SeqCst);
    }

    pub(crate) fn stop(&self, reason: StopReason) {
        let v = match reason {
            StopReason::Cancelled => 1,
            StopReason::TimedOut => 2,
        };
        let _ = self
            .state
            .compare_exchange(0, v, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        match self.state.load(Ordering::SeqCst) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::TimedOut),
            _ => None,
        }
    }

    /// The progress handler: true to go on.
    fn proceed(&self) -> bool {
        if self.state.load(Ordering::Relaxed) != 0 {
            return false;
        }
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != 0 && self.base.elapsed().as_nanos() >= u128::from(deadline) {
            self.stop(StopReason::TimedOut);
            return false;
        }
        true
    }
}

/// Stops the statement running on one leased connection.
#[derive(Clone)]
pub(crate) enum Canceller {
    Postgres { pid: i32, shared: Arc<Shared> },
    Sqlite(Arc<Interrupt>),
}

impl Canceller {
    /// Tell the engine to stop the running statement, once. True when it was told.
    pub(crate) async fn cancel(&self, session: &mut CancelSession, reason: StopReason) -> bool {
        match self {
            Canceller::Sqlite(i) => {
                i.stop(reason);
                true
            }
            Canceller::Postgres { pid, shared } => {
                let sent = tokio::time::timeout(CANCEL_GRACE, session.signal(shared, *pid)).await;
                match sent {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::warn!(pid, error = %e, "could not cancel a PostgreSQL statement");
                        false
                    }
                    Err(_) => {
                        tracing::warn!(pid, "cancelling a PostgreSQL statement timed out");
                        false
                    }
                }
            }
        }
    }

    pub(crate) fn pid(&self) -> Option<i32> {
        match self {
            Canceller::Postgres { pid, .. } => Some(*pid),
            Canceller::Sqlite(_) => None,
        }
    }
}

/// PostgreSQL: the side connection cancels are sent on, opened on first use and kept while one
/// statement is being stopped.
#[derive(Default)]
pub(crate) struct CancelSession {
    conn: Option<sqlx::PgConnection>,
}

impl CancelSession {
    async fn conn(&mut self, shared: &Shared) -> Result<&mut sqlx::PgConnection, sqlx::Error> {
        let Pools::Postgres { options, .. } = &shared.pools else {
            return Err(sqlx::Error::Configuration("not a PostgreSQL pool".into()));
        };
        if self.conn.is_none() {
            self.conn = Some(options.connect().await?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| sqlx::Error::Configuration("no side connection".into()))
    }

    /// Close the side connection, if one was opened.
    pub(crate) async fn close(self) {
        if let Some(c) = self.conn {
            let _ = c.close().await;
        }
    }

    async fn signal(&mut self, shared: &Shared, pid: i32) -> Result<(), sqlx::Error> {
        let c = self.conn(shared).await?;
        let _: Option<bool> = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .fetch_optional(c)
            .await?;
        Ok(())
    }
}

/// A connection on loan. Dropped while a statement runs (`busy`) or a transaction is open
/// (`in_tx`), it is cleaned up in the background before the pool sees it again: the statement is
/// cancelled, the transaction rolled back; what cannot be cleaned is closed instead.
pub(crate) struct Lease {
    pub(crate) conn: Option<Conn>,
    pub(crate) canceller: Canceller,
    pub(crate) busy: bool,
    pub(crate) in_tx: bool,
    /// The connection cannot be trusted any more (a cancel that never reached the server).
    pub(crate) broken: bool,
    pub(crate) shared: Arc<Shared>,
}

impl Lease {
    pub(crate) fn engine(&self) -> Engine {
        self.shared.engine
    }

    /// SQLite: arm the statement deadline from the configuration (PostgreSQL enforces its own).
    pub(crate) fn arm(&self) {
        if let Canceller::Sqlite(i) = &self.canceller {
            i.arm(
                self.shared
                    .config
                    .statement_timeout_ms
                    .map(Duration::from_millis),
            );
        }
    }

    /// An error of this connection, with SQLite's interrupt told apart (cancel or timeout).
    pub(crate) fn refine(&self, e: Error) -> Error {
        match &self.canceller {
            Canceller::Sqlite(i) if e.provider_code() == Some("9") => match i.reason() {
                Some(reason) => crate::error::stopped(e, reason),
                None => e,
            },
            _ => e,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.broken {
            detach(conn);
            return;
        }
        if !self.busy && !self.in_tx {
            return; // back to the pool
        }
        let (busy, in_tx) = (self.busy, self.in_tx);
        let canceller = self.canceller.clone();
        if let Canceller::Sqlite(i) = &canceller {
            if busy {
                i.stop(StopReason::Cancelled);
            }
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // No runtime to clean up on: close it; the engine rolls back what was open.
            detach(conn);
            return;
        };
        handle.spawn(async move {
            let mut conn = conn;
            if busy && !stop_and_drain(&canceller, &mut conn).await {
                detach(conn);
                return;
            }
            if in_tx {
                let rolled_back = tokio::time::timeout(CANCEL_GRACE, async {
                    match &mut conn {
                        Conn::Postgres(c) => {
                            sqlx::query("ROLLBACK").execute(&mut **c).await.map(|_| ())
                        }
                        Conn::Sqlite(c) => {
                            sqlx::query("ROLLBACK").execute(&mut **c).await.map(|_| ())
                        }
                    }
                })
                .await;
                if !matches!(rolled_back, Ok(Ok(()))) {
                    detach(conn);
                    return;
                }
            }
            // Back to the pool: sqlx pings it first, which reads what a cancelled statement left.
            drop(conn);
        });
    }
}

/// PostgreSQL: stop the statement a dropped future left running and read what it still sends (its
/// rows, its error) until the connection is ready again. Reading matters: a server blocked writing
/// rows nobody reads does not act on a cancel. The cancel is sent again while the statement runs
/// (one that reached the server before the statement did is ignored). False when the connection
/// cannot be brought back. SQLite needs nothing here: its interrupt flag is already set.
async fn stop_and_drain(canceller: &Canceller, conn: &mut Conn) -> bool {
    let Conn::Postgres(c) = conn else {
        return true;
    };
    let mut session = CancelSession::default();
    let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
    let drained = loop {
        if !canceller.cancel(&mut session, StopReason::Cancelled).await {
            break false;
        }
        let drain = async {
            // Each round reads up to the next error or the end; the cancelled statement's
            // error comes first, then the connection is ready.
            for _ in 0..8 {
                match c.ping().await {
                    Ok(()) => return true,
                    Err(sqlx::Error::Database(_)) => continue,
                    Err(_) => return false,
                }
            }
            false
        };
        match tokio::time::timeout(CANCEL_RESEND * 4, drain).await {
            Ok(ready) => break ready,
            Err(_) if tokio::time::Instant::now() < deadline => continue,
            Err(_) => break false,
        }
    };
    session.close().await;
    drained
}

/// Close a connection outside the pool (the pool opens a replacement when it needs one).
fn detach(conn: Conn) {
    match conn {
        Conn::Postgres(c) => drop(c.detach()),
        Conn::Sqlite(c) => drop(c.detach()),
    }
}

impl Shared {
    /// The pools for a validated configuration (no connection is opened yet).
    pub(crate) fn new(config: DbConfig) -> Result<Shared, Error> {
        config.validate()?;
        let retry = RetryPolicy::new(config.retry.clone());
        let p = &config.pool;
        let ms = Duration::from_millis;
        let pools = match config.engine {
            Engine::Postgres => {
                let options = pg_options(&config);
                let pool = PgPoolOptions::new()
                    .max_connections(p.max_connections)
                    .min_connections(p.min_connections)
                    .idle_timeout(p.idle_timeout_ms.map(ms))
                    .max_lifetime(p.max_lifetime_ms.map(ms))
                    .acquire_timeout(ms(p.acquire_timeout_ms))
                    .test_before_acquire(false)
                    .connect_lazy_with(options.clone());
                Pools::Postgres {
                    pool,
                    options: Box::new(options),
                }
            }
            Engine::Sqlite => {
                let memory = config.path.is_none();
                let options = sqlite_options(&config)?;
                let mut opts = SqlitePoolOptions::new()
                    .acquire_timeout(ms(p.acquire_timeout_ms))
                    .test_before_acquire(false);
                opts = if memory {
                    // One connection, never closed: the data lives as long as it does.
                    opts.max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    opts.max_connections(p.max_connections)
                        .min_connections(p.min_connections)
                        .idle_timeout(p.idle_timeout_ms.map(ms))
                        .max_lifetime(p.max_lifetime_ms.map(ms))
                };
                Pools::Sqlite {
                    pool: opts.connect_lazy_with(options),
                }
            }
        };
        Ok(Shared {
            engine: config.engine,
            pools,
            config,
            retry,
        })
    }

    /// A probed connection, retrying connection failures with the configured policy.
    pub(crate) async fn lease(self: &Arc<Self>) -> Result<Lease, Error> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.try_lease().await {
                Ok(lease) => return Ok(lease),
                Err(e) => {
                    match self
                        .retry
                        .decide(&e, e.is_retryable(), attempt, started.elapsed())
                    {
                        RetryDecision::RetryAfter(delay) => {
                            observe::retry(self.engine, "connect", &e, delay);
                            tokio::time::sleep(delay).await;
                        }
                        RetryDecision::Stop(why) => {
                            return Err(e
                                .with_detail("attempts", attempt)
                                .with_detail("retry_stopped", why));
                        }
                    }
                }
            }
        }
    }

    async fn try_lease(self: &Arc<Self>) -> Result<Lease, Error> {
        match &self.pools {
            Pools::Postgres { pool, .. } => {
                // Every idle connection may be stale after a server restart: each failed probe
                // discards one, so at most the pool's size of them, then a fresh one.
                let most = self.config.pool.max_connections as usize + 1;
                let mut last = None;
                for _ in 0..most {
                    let mut conn = match pool.acquire().await {
                        Ok(c) => c,
                        Err(e) => return Err(self.acquire_failed(e).await),
                    };
                    match sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
                        .fetch_one(&mut *conn)
                        .await
                    {
                        Ok(pid) => {
                            return Ok(Lease {
                                conn: Some(Conn::Postgres(conn)),
                                canceller: Canceller::Postgres {
                                    pid,
                                    shared: self.clone(),
                                },
                                busy: false,
                                in_tx: false,
                                broken: false,
                                shared: self.clone(),
                            });
                        }
                        Err(e) => {
                            let e = from_sqlx(e, self.engine);
                            drop(conn.detach());
                            if e.code() != ErrorCode::NetworkError {
                                return Err(e);
                            }
                            observe::stale_connection(self.engine);
                            tracing::debug!(error = %e, "discarded a pooled PostgreSQL connection that failed its probe");
                            last = Some(e);
                        }
                    }
                }
                Err(last.unwrap_or_else(|| {
                    Error::new(
                        ErrorCode::NetworkError,
                        ErrorSource::Transport,
                        "no live connection",
                    )
                    .with_retryable(true)
                }))
            }
            Pools::Sqlite { pool } => {
                let mut conn = match pool.acquire().await {
                    Ok(c) => c,
                    Err(e) => return Err(self.acquire_failed(e).await),
                };
                let interrupt = Arc::new(Interrupt::new());
                let flag = interrupt.clone();
                let installed = match conn.lock_handle().await {
                    Ok(mut handle) => {
                        handle.set_progress_handler(PROGRESS_OPS, move || flag.proceed());
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = installed {
                    drop(conn.detach());
                    return Err(from_sqlx(e, self.engine));
                }
                Ok(Lease {
                    conn: Some(Conn::Sqlite(conn)),
                    canceller: Canceller::Sqlite(interrupt),
                    busy: false,
                    in_tx: false,
                    broken: false,
                    shared: self.clone(),
                })
            }
        }
    }

    /// The pool gave no connection. When it timed out while no connection could be opened (the
    /// server refuses or does not answer), one direct attempt names the real cause.
    async fn acquire_failed(&self, e: sqlx::Error) -> Error {
        let timed_out = matches!(e, sqlx::Error::PoolTimedOut);
        let mapped = from_sqlx(e, self.engine);
        if !timed_out {
            return mapped;
        }
        if let Pools::Postgres { pool, options } = &self.pools {
            if pool.num_idle() == 0 && pool.size() < self.config.pool.max_connections {
                let direct = tokio::time::timeout(Duration::from_secs(5), options.connect()).await;
                match direct {
                    Ok(Err(cause)) => {
                        return from_sqlx(cause, self.engine).with_detail(
                            "acquire_timeout_ms",
                            self.config.pool.acquire_timeout_ms,
                        );
                    }
                    Ok(Ok(c)) => {
                        let _ = c.close().await;
                    }
                    Err(_) => {}
                }
            }
        }
        mapped
    }

    pub(crate) async fn close(&self) {
        match &self.pools {
            Pools::Postgres { pool, .. } => pool.close().await,
            Pools::Sqlite { pool } => pool.close().await,
        }
    }

    pub(crate) fn pool_state(&self) -> (u32, usize) {
        match &self.pools {
            Pools::Postgres { pool, .. } => (pool.size(), pool.num_idle()),
            Pools::Sqlite { pool } => (pool.size(), pool.num_idle()),
        }
    }
}

fn pg_options(config: &DbConfig) -> PgConnectOptions {
    use secrecy::ExposeSecret;
    let mut o = PgConnectOptions::new_without_pgpass()
        .host(&config.host)
        .port(config.port)
        .username(&config.username)
        .database(config.database_name())
        .application_name(&config.application_name)
        .ssl_mode(match config.ssl_mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
    if let Some(pw) = &config.password {
        o = o.password(pw.expose_secret());
    }
    if let Some(ca) = &config.ssl_root_cert {
        o = o.ssl_root_cert(ca);
    }
    // Session settings travel in the startup packet: no extra round trip. UTC makes `timestamp`
    // (without time zone) conversions and `now()::text` the same whatever the server's zone.
    let mut settings = vec![("TimeZone", "UTC".to_owned())];
    if let Some(ms) = config.statement_timeout_ms {
        settings.push(("statement_timeout", ms.to_string()));
    }
    // Statements are traced by this crate's own spans (see `observe`), with their parameters'
    // kinds only; the driver's statement log is off.
    o.options(settings).disable_statement_logging()
}

fn sqlite_options(config: &DbConfig) -> Result<SqliteConnectOptions, Error> {
    let base = match &config.path {
        // sqlx names each in-memory database uniquely, so two handles never share one.
        None => SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| from_sqlx(e, Engine::Sqlite))?,
        Some(path) => SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal),
    };
    Ok(base
        .foreign_keys(true)
        .busy_timeout(Duration::from_millis(config.busy_timeout_ms))
        .disable_statement_logging())
}
