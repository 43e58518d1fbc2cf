//! Statements on a leased connection, written once for both engines ([`Driver`]), and the guard
//! that stops a statement when the caller's token fires or its deadline passes.
//!
//! Architecture Invariant: a value reaches a statement only as a bound parameter; this module takes
//! SQL text and a slice of [`Value`]s and never formats one into the other.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use connector_runtime::{CancellationToken, Error, ErrorCode, ErrorSource};
use futures_util::{FutureExt, TryStreamExt};
use sqlx::{Executor, IntoArguments, Postgres, Sqlite};
use tokio::sync::mpsc;

use crate::config::Engine;
use crate::error::{StopReason, from_sqlx, stopped, stopped_here};
use crate::pool::{CANCEL_GRACE, CANCEL_RESEND, CancelSession, Canceller, Conn, Lease};
use crate::row::Row;
use crate::value::{self, Value};

/// Per-call options of a statement.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    /// Stop the statement after this long (the engine is told to stop it; the call fails with
    /// TIMEOUT). On top of the configured `statement_timeout_ms`, which the engine enforces itself.
    pub timeout: Option<Duration>,
    /// Stop the statement when this token fires (the call fails with CANCELLED once the engine
    /// has stopped it).
    pub cancel: Option<CancellationToken>,
}

impl QueryOptions {
    /// With a timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// With a cancellation token.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

/// What differs between the engines when running a statement.
pub(crate) trait Driver: sqlx::Database + sqlx::database::HasStatementCache {
    const ENGINE: Engine;
    type Layout: Send + Sync;
    fn arguments<'q>(params: impl Iterator<Item = &'q Value>)
    -> Result<Self::Arguments<'q>, Error>;
    fn layout(row: &Self::Row) -> (Arc<[String]>, Self::Layout);
    fn read(row: &Self::Row, names: &[String], layout: &Self::Layout) -> Result<Vec<Value>, Error>;
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl Driver for Postgres {
    const ENGINE: Engine = Engine::Postgres;
    type Layout = Vec<value::pg::Reader>;
    fn arguments<'q>(
        params: impl Iterator<Item = &'q Value>,
    ) -> Result<Self::Arguments<'q>, Error> {
        value::pg::arguments(params)
    }
    fn layout(row: &Self::Row) -> (Arc<[String]>, Self::Layout) {
        value::pg::layout(row)
    }
    fn read(row: &Self::Row, names: &[String], layout: &Self::Layout) -> Result<Vec<Value>, Error> {
        value::pg::read(row, names, layout)
    }
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl Driver for Sqlite {
    const ENGINE: Engine = Engine::Sqlite;
    type Layout = Vec<value::sqlite::Reader>;
    fn arguments<'q>(
        params: impl Iterator<Item = &'q Value>,
    ) -> Result<Self::Arguments<'q>, Error> {
        value::sqlite::arguments(params)
    }
    fn layout(row: &Self::Row) -> (Arc<[String]>, Self::Layout) {
        value::sqlite::layout(row)
    }
    fn read(row: &Self::Row, names: &[String], layout: &Self::Layout) -> Result<Vec<Value>, Error> {
        value::sqlite::read(row, names, layout)
    }
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// The statement text to send for `params`, after the checks the engine does not do itself.
///
/// PostgreSQL: sqlx caches a prepared statement per connection by its text, with the parameter
/// types of its first use, and would send later values in those types' binary formats whatever
/// their own (a float read as a bigint). The text therefore ends with a comment naming a hash of
/// the parameters' kinds, so each combination of kinds has its own prepared statement.
///
/// SQLite: a parameter left without a value would be bound as NULL in silence; the statement's
/// parameter count is checked against the values given (PostgreSQL's server checks it itself).
async fn statement<'a, DB: Driver>(
    conn: &mut DB::Connection,
    sql: &'a str,
    params: &[Value],
) -> Result<Cow<'a, str>, Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    match DB::ENGINE {
        Engine::Postgres => Ok(signed(sql, params)),
        Engine::Sqlite => {
            let prepared = conn
                .prepare(sql)
                .await
                .map_err(|e| from_sqlx(e, DB::ENGINE))?;
            let expected = match sqlx::Statement::parameters(&prepared) {
                Some(sqlx::Either::Left(types)) => Some(types.len()),
                Some(sqlx::Either::Right(n)) => Some(n),
                None => None,
            };
            match expected {
                Some(n) if n != params.len() => Err(Error::new(
                    ErrorCode::InvalidRequest,
                    ErrorSource::Unknown,
                    format!(
                        "{}: the statement has {n} parameter(s), {} value(s) were given",
                        DB::ENGINE,
                        params.len()
                    ),
                )
                .with_detail("engine", DB::ENGINE.as_str())),
                _ => Ok(Cow::Borrowed(sql)),
            }
        }
    }
}

/// `sql` followed by a comment naming a hash (FNV-1a) of the parameters' kinds.
pub(crate) fn signed<'a>(sql: &'a str, params: &[Value]) -> Cow<'a, str> {
    if params.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in params {
        for b in p.kind().bytes().chain([b',']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Cow::Owned(format!("{sql}\n/* connector-db {h:016x} */"))
}

pub(crate) async fn execute_on<DB: Driver>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
) -> Result<u64, Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let sql = statement::<DB>(conn, sql, params).await?;
    let args = DB::arguments(params.iter())?;
    let done = sqlx::query_with::<DB, _>(&sql, args)
        .execute(conn)
        .await
        .map_err(|e| from_sqlx(e, DB::ENGINE))?;
    Ok(DB::rows_affected(&done))
}

async fn fetch_on<DB: Driver>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let sql = statement::<DB>(conn, sql, params).await?;
    let args = DB::arguments(params.iter())?;
    let mut rows = sqlx::query_with::<DB, _>(&sql, args).fetch(conn);
    let mut out = Vec::new();
    let mut layout: Option<(Arc<[String]>, DB::Layout)> = None;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| from_sqlx(e, DB::ENGINE))?
    {
        let (names, readers) = layout.get_or_insert_with(|| DB::layout(&row));
        let values = DB::read(&row, names, readers)?;
        out.push(Row::new(names.clone(), values));
    }
    Ok(out)
}

/// Rows travel to a stream's consumer in batches of at most this many: one wake-up per batch
/// rather than per row. A batch is sent as soon as no further row is ready, so rows that trickle
/// in are not held back.
pub(crate) const BATCH_ROWS: usize = 64;

/// A batch of rows, or the error that ended the statement.
pub(crate) type Batch = Result<Vec<Row>, Error>;

/// Rows into `out` as they arrive. `Ok(false)` when the consumer went away before the end.
async fn pump_on<DB: Driver>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
    out: &mpsc::Sender<Batch>,
    batch_rows: usize,
    count: &mut u64,
) -> Result<bool, Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let sql = statement::<DB>(conn, sql, params).await?;
    let args = DB::arguments(params.iter())?;
    let mut rows = sqlx::query_with::<DB, _>(&sql, args).fetch(conn);
    let mut layout: Option<(Arc<[String]>, DB::Layout)> = None;
    let fail = |e| from_sqlx(e, DB::ENGINE);
    loop {
        let first = tokio::select! {
            biased;
            _ = out.closed() => return Ok(false),
            next = rows.try_next() => next.map_err(fail)?,
        };
        let Some(row) = first else {
            return Ok(true);
        };
        let mut batch = Vec::with_capacity(batch_rows);
        let mut next = Some(row);
        let mut ended = false;
        let mut failed = None;
        while let Some(row) = next.take() {
            let (names, readers) = layout.get_or_insert_with(|| DB::layout(&row));
            batch.push(Row::new(names.clone(), DB::read(&row, names, readers)?));
            if batch.len() >= batch_rows {
                break;
            }
            // What is already there, without waiting.
            match rows.try_next().now_or_never() {
                Some(Ok(Some(row))) => next = Some(row),
                Some(Ok(None)) => ended = true,
                Some(Err(e)) => failed = Some(fail(e)),
                None => {}
            }
        }
        let n = batch.len() as u64;
        // Waits while the consumer's buffer is full: backpressure down to the socket.
        if out.send(Ok(batch)).await.is_err() {
            return Ok(false);
        }
        *count += n;
        if let Some(e) = failed {
            return Err(e);
        }
        if ended {
            return Ok(true);
        }
    }
}

/// The outcome of a guarded statement.
pub(crate) struct Guarded<T> {
    pub(crate) result: Result<T, Error>,
    /// The statement ended (normally, with an error, or stopped and confirmed by the engine).
    pub(crate) ended: bool,
}

/// Run `fut` (a statement on the connection `canceller` can stop), stopping it when the caller's
/// token fires or its deadline passes. The statement is then told to stop and awaited (bounded by
/// [`CANCEL_GRACE`]), so when this returns the engine no longer runs it.
pub(crate) async fn guard<T>(
    engine: Engine,
    canceller: &Canceller,
    opts: &QueryOptions,
    fut: impl Future<Output = Result<T, Error>>,
) -> Guarded<T> {
    let mut fut = std::pin::pin!(fut);
    if opts.cancel.is_none() && opts.timeout.is_none() {
        return Guarded {
            result: fut.await,
            ended: true,
        };
    }
    let cancelled = async {
        match &opts.cancel {
            Some(t) => t.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let deadline = async {
        match opts.timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let reason = tokio::select! {
        biased;
        r = &mut fut => return Guarded { result: r, ended: true },
        _ = cancelled => StopReason::Cancelled,
        _ = deadline => StopReason::TimedOut,
    };
    // Told to stop, the engine ends the statement with an error soon; a PostgreSQL cancel that
    // reached the server before the statement did is ignored, so it is sent again until the
    // statement ends (bounded by CANCEL_GRACE).
    let mut session = CancelSession::default();
    let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
    let ended = loop {
        if !canceller.cancel(&mut session, reason).await {
            break None;
        }
        let wait =
            CANCEL_RESEND.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, &mut fut).await {
            Ok(r) => break Some(r),
            Err(_) if tokio::time::Instant::now() < deadline => continue,
            Err(_) => break None,
        }
    };
    session.close().await;
    let Some(ended) = ended else {
        return Guarded {
            result: Err(stopped_here(engine, reason)),
            ended: false,
        };
    };
    match ended {
        // It finished before the stop reached it: its result stands.
        Ok(v) => Guarded {
            result: Ok(v),
            ended: true,
        },
        Err(e) if matches!(e.code(), ErrorCode::Cancelled | ErrorCode::Timeout) => Guarded {
            result: Err(stopped(e, reason)),
            ended: true,
        },
        Err(e) => Guarded {
            result: Err(e),
            ended: true,
        },
    }
}

fn gone() -> Error {
    Error::new(
        ErrorCode::InvalidRequest,
        ErrorSource::Unknown,
        "the connection was already given back",
    )
}

impl Lease {
    /// Bookkeeping after a guarded statement: the connection is clean when the statement ended.
    fn settle<T>(&mut self, g: Guarded<T>) -> Result<T, Error> {
        if g.ended {
            self.busy = false;
        } else {
            self.broken = true;
        }
        g.result.map_err(|e| self.refine(e))
    }

    /// Run a statement; rows affected.
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        self.arm();
        self.busy = true;
        let engine = self.engine();
        let canceller = self.canceller.clone();
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let g = match conn {
            Conn::Postgres(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    execute_on::<Postgres>(&mut **c, sql, params),
                )
                .await
            }
            Conn::Sqlite(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    execute_on::<Sqlite>(&mut **c, sql, params),
                )
                .await
            }
        };
        self.settle(g)
    }

    /// Run a query; all its rows.
    pub(crate) async fn fetch_all(
        &mut self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<Vec<Row>, Error> {
        self.arm();
        self.busy = true;
        let engine = self.engine();
        let canceller = self.canceller.clone();
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let g = match conn {
            Conn::Postgres(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    fetch_on::<Postgres>(&mut **c, sql, params),
                )
                .await
            }
            Conn::Sqlite(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    fetch_on::<Sqlite>(&mut **c, sql, params),
                )
                .await
            }
        };
        self.settle(g)
    }

    /// Run a query, sending its rows into `out`; rows sent. When the consumer goes away first the
    /// lease stays busy, so dropping it cancels the statement.
    pub(crate) async fn stream_into(
        &mut self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
        out: &mpsc::Sender<Batch>,
        batch_rows: usize,
    ) -> Result<u64, Error> {
        self.arm();
        self.busy = true;
        let engine = self.engine();
        let canceller = self.canceller.clone();
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let mut count = 0u64;
        let g = match conn {
            Conn::Postgres(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    pump_on::<Postgres>(&mut **c, sql, params, out, batch_rows, &mut count),
                )
                .await
            }
            Conn::Sqlite(c) => {
                guard(
                    engine,
                    &canceller,
                    opts,
                    pump_on::<Sqlite>(&mut **c, sql, params, out, batch_rows, &mut count),
                )
                .await
            }
        };
        match g.result {
            Ok(true) => {
                self.busy = false;
                Ok(count)
            }
            // The consumer left: stay busy, the drop cancels what still runs.
            Ok(false) => Ok(count),
            Err(e) => {
                if g.ended {
                    self.busy = false;
                } else {
                    self.broken = true;
                }
                Err(self.refine(e))
            }
        }
    }

    /// Several statements in one string, no parameters (schema scripts): the engine's simple
    /// protocol. Rows affected, summed.
    pub(crate) async fn execute_script(
        &mut self,
        sql: &str,
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        self.arm();
        self.busy = true;
        let engine = self.engine();
        let canceller = self.canceller.clone();
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let g = match conn {
            Conn::Postgres(c) => {
                guard(engine, &canceller, opts, async {
                    sqlx::raw_sql(sql)
                        .execute(&mut **c)
                        .await
                        .map(|r| r.rows_affected())
                        .map_err(|e| from_sqlx(e, engine))
                })
                .await
            }
            Conn::Sqlite(c) => {
                guard(engine, &canceller, opts, async {
                    sqlx::raw_sql(sql)
                        .execute(&mut **c)
                        .await
                        .map(|r| r.rows_affected())
                        .map_err(|e| from_sqlx(e, engine))
                })
                .await
            }
        };
        self.settle(g)
    }
}
