//! [`Database`]: the one interface over both engines: health, statements with bound parameters,
//! typed and dynamic rows, streams, transactions, bulk writes, schema inspection and additive DDL.
//!
//! Each call leases a connection (probed, retried on connection failures), runs, and gives it back.
//! A standalone statement that the engine rolled back because of a serialization failure,
//! deadlock or lock timeout (SQLSTATE 40001, 40P01; SQLite BUSY or LOCKED) is run again under the
//! retry policy: it had no effect, so running it again is safe. Anything else is returned as it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_runtime::retry::RetryDecision;
use connector_runtime::{Error, ErrorCode};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::bulk::UpsertWhen;
use crate::config::{DbConfig, Engine};
use crate::exec::QueryOptions;
use crate::observe::{self, Timer, query_span};
use crate::pool::Shared;
use crate::row::Row;
use crate::schema::{ColumnDef, Schema, TableDef, add_column_sql, create_index_sql};
use crate::stream::RowStream;
use crate::transaction::Transaction;
use crate::value::Value;

/// A database: a pool of connections to one SQLite file (or memory) or one PostgreSQL database.
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.shared.config.redacted_url())
            .finish_non_exhaustive()
    }
}

/// What [`Database::health`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// The engine.
    pub engine: Engine,
    /// The server's version (`15.18 (Debian 15.18-0+deb12u1)`), or SQLite's (`3.46.0`).
    pub server_version: String,
    /// One round trip (`SELECT 1`) on a pooled connection.
    pub round_trip: Duration,
    /// Connections open, idle ones included.
    pub pool_size: u32,
    /// Connections idle in the pool.
    pub pool_idle: usize,
}

/// A standalone statement that failed this way had no effect and may simply run again.
fn replayable(e: &Error) -> bool {
    match e.provider_code() {
        Some("40001" | "40P01") => true,
        Some(code) => {
            e.details().get("engine").and_then(|v| v.as_str()) == Some("sqlite")
                && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
        }
        None => false,
    }
}

/// Lease a connection as `$l`, run `$body`, give it back; run it again, under the retry policy,
/// when the engine rolled it back for a conflict (see the module docs). Written as a macro so the
/// futures of the public methods stay `Send` (no closure over a borrowed connection).
macro_rules! leased {
    ($db:expr, |$l:ident| $body:expr) => {{
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            #[allow(unused_mut)]
            let mut $l = $db.shared.lease().await?;
            let r = $body;
            match r {
                Err(e) if replayable(&e) => {
                    drop($l);
                    match $db
                        .shared
                        .retry
                        .decide(&e, true, attempt, started.elapsed())
                    {
                        RetryDecision::RetryAfter(delay) => {
                            observe::retry($db.engine(), "statement", &e, delay);
                            tokio::time::sleep(delay).await;
                        }
                        RetryDecision::Stop(why) => {
                            break Err(e
                                .with_detail("attempts", attempt)
                                .with_detail("retry_stopped", why));
                        }
                    }
                }
                other => break other,
            }
        }
    }};
}

/// [`leased!`] inside a `db.query` span, with its metrics.
macro_rules! traced {
    ($db:expr, $op:expr, $sql:expr, $params:expr, $rows:expr, $written:expr, |$l:ident| $body:expr) => {{
        let span = query_span($db.engine(), $op, $sql, $params, None);
        let timer = Timer::start($db.engine(), $op, &span);
        let r = async { leased!($db, |$l| $body) }.instrument(span).await;
        timer.finish(&r, $rows, $written);
        r
    }};
}

impl Database {
    /// Open the pool and check one connection (with the retry policy): a server that cannot be
    /// reached, a refused password or a bad certificate fail here, with their code.
    pub async fn connect(config: DbConfig) -> Result<Database, Error> {
        let db = Database::connect_lazy(config)?;
        drop(db.shared.lease().await?);
        Ok(db)
    }

    /// The pool, with no connection opened until the first call.
    pub fn connect_lazy(config: DbConfig) -> Result<Database, Error> {
        Ok(Database {
            shared: Arc::new(Shared::new(config)?),
        })
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.shared.engine
    }

    /// The configuration in force.
    pub fn config(&self) -> &DbConfig {
        &self.shared.config
    }

    /// Close every connection; later calls fail with INVALID_REQUEST.
    pub async fn close(&self) {
        self.shared.close().await;
    }

    /// A round trip and the server's version.
    pub async fn health(&self) -> Result<Health, Error> {
        let engine = self.engine();
        let version_sql = match engine {
            Engine::Postgres => "SHOW server_version",
            Engine::Sqlite => "SELECT sqlite_version()",
        };
        let span = query_span(engine, "health", version_sql, &[], None);
        let timer = Timer::start(engine, "health", &span);
        let shared = self.shared.clone();
        let r = async move {
            let mut lease = shared.lease().await?;
            let opts = QueryOptions::default();
            let started = Instant::now();
            lease.fetch_all("SELECT 1", &[], &opts).await?;
            let round_trip = started.elapsed();
            let rows = lease.fetch_all(version_sql, &[], &opts).await?;
            let server_version = rows
                .first()
                .and_then(|r| r.get_index(0))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            drop(lease);
            let (pool_size, pool_idle) = shared.pool_state();
            Ok(Health {
                engine,
                server_version,
                round_trip,
                pool_size,
                pool_idle,
            })
        }
        .instrument(span)
        .await;
        timer.finish(&r, |_| 1, false);
        r
    }

    /// Run a statement with bound parameters (`$1`… on PostgreSQL, `?` or `?1`… on SQLite);
    /// rows affected.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        self.execute_with(sql, params, &QueryOptions::default())
            .await
    }

    /// [`execute`](Self::execute) with a timeout or cancellation token.
    pub async fn execute_with(
        &self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        traced!(self, "execute", sql, params, |n| *n, true, |l| l
            .execute(sql, params, opts)
            .await)
    }

    /// Several statements in one string and no parameters (a schema script), run as one batch.
    pub async fn execute_script(&self, sql: &str) -> Result<u64, Error> {
        let opts = QueryOptions::default();
        traced!(self, "script", sql, &[], |n| *n, true, |l| l
            .execute_script(sql, &opts)
            .await)
    }

    /// Run a query with bound parameters; all its rows.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        self.query_with(sql, params, &QueryOptions::default()).await
    }

    /// [`query`](Self::query) with a timeout or cancellation token.
    pub async fn query_with(
        &self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<Vec<Row>, Error> {
        traced!(
            self,
            "query",
            sql,
            params,
            |r: &Vec<Row>| r.len() as u64,
            false,
            |l| l.fetch_all(sql, params, opts).await
        )
    }

    /// The first row of a query; NOT_FOUND when there is none.
    pub async fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row, Error> {
        self.query(sql, params)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    connector_runtime::ErrorSource::Unknown,
                    "the query returned no row",
                )
            })
    }

    /// Run a query; its rows as `T` (a struct by column names, a tuple by position, a scalar for
    /// one column).
    pub async fn query_as<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<T>, Error> {
        self.query(sql, params)
            .await?
            .iter()
            .map(Row::deserialize)
            .collect()
    }

    /// [`query_as`](Self::query_as) with a timeout or cancellation token.
    pub async fn query_as_with<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<Vec<T>, Error> {
        self.query_with(sql, params, opts)
            .await?
            .iter()
            .map(Row::deserialize)
            .collect()
    }

    /// Run a query and read its rows as they come, with memory bounded by `stream_buffer_rows`.
    pub async fn stream(&self, sql: &str, params: Vec<Value>) -> Result<RowStream, Error> {
        self.stream_with(sql, params, QueryOptions::default()).await
    }

    /// [`stream`](Self::stream) with a timeout (for the whole stream) or cancellation token.
    pub async fn stream_with(
        &self,
        sql: &str,
        params: Vec<Value>,
        opts: QueryOptions,
    ) -> Result<RowStream, Error> {
        let span = query_span(self.engine(), "stream", sql, &params, None);
        let timer = Timer::start(self.engine(), "stream", &span);
        let lease = match self.shared.lease().instrument(span.clone()).await {
            Ok(l) => l,
            Err(e) => {
                timer.failed(&e);
                return Err(e);
            }
        };
        Ok(RowStream::spawn(
            lease,
            sql.to_owned(),
            params,
            opts,
            span,
            timer,
        ))
    }

    /// Begin a transaction on a connection of its own.
    pub async fn begin(&self) -> Result<Transaction, Error> {
        let lease = self.shared.lease().await?;
        Transaction::begin(lease).await
    }

    /// Insert `rows` into `table`, updating the non-key columns of rows whose `key_columns` match
    /// (`INSERT … ON CONFLICT (keys) DO UPDATE`; the keys need a unique index or primary key).
    /// Cut into statements below the engine's parameter limit, all in one transaction; the last
    /// row of a key wins. Rows affected.
    pub async fn upsert_batch<R: AsRef<[Value]> + Sync>(
        &self,
        table: &str,
        columns: &[&str],
        key_columns: &[&str],
        rows: &[R],
    ) -> Result<u64, Error> {
        self.upsert_batch_when(table, columns, key_columns, &UpsertWhen::default(), rows)
            .await
    }

    /// [`Database::upsert_batch`], replacing a stored row only under the conditions of `when`
    /// (a changed content hash, a cursor not older); rows left alone do not count as affected.
    pub async fn upsert_batch_when<R: AsRef<[Value]> + Sync>(
        &self,
        table: &str,
        columns: &[&str],
        key_columns: &[&str],
        when: &UpsertWhen,
        rows: &[R],
    ) -> Result<u64, Error> {
        let opts = QueryOptions::default();
        let sql =
            crate::bulk::insert_sql(self.engine(), table, columns, Some(key_columns), when, 1)?;
        traced!(self, "upsert", &sql, &[], |n| *n, true, |l| l
            .upsert(table, columns, key_columns, when, rows, &opts)
            .await)
    }

    /// Load `rows` into `table`: PostgreSQL `COPY … FROM STDIN` (text format), SQLite the batched
    /// insert in one transaction. Rows loaded.
    pub async fn copy_in<R: AsRef<[Value]> + Sync>(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[R],
    ) -> Result<u64, Error> {
        let opts = QueryOptions::default();
        let sql = format!("COPY {table} FROM STDIN");
        traced!(self, "copy", &sql, &[], |n| *n, true, |l| l
            .copy_in(table, columns, rows, &opts)
            .await)
    }

    /// Tables of the current schema with their columns, primary keys and indexes.
    pub async fn schema(&self) -> Result<Schema, Error> {
        let opts = QueryOptions::default();
        traced!(
            self,
            "schema",
            "schema inspection",
            &[],
            |s: &Schema| s.tables.len() as u64,
            false,
            |l| l.schema(&opts).await
        )
    }

    /// Create a table unless one of that name exists; true when this call created it.
    pub async fn create_table(&self, table: &TableDef) -> Result<bool, Error> {
        let sql = table.sql(self.engine())?;
        let opts = QueryOptions::default();
        traced!(self, "ddl", &sql, &[], |_| 0, true, |l| {
            if l.has_table(&table.name, &opts).await? {
                return Ok(false);
            }
            l.execute(&sql, &[], &opts).await?;
            Ok(true)
        })
    }

    /// Add a column unless the table has one of that name; true when this call added it.
    pub async fn add_column(&self, table: &str, column: &ColumnDef) -> Result<bool, Error> {
        let sql = add_column_sql(self.engine(), table, column)?;
        let opts = QueryOptions::default();
        traced!(self, "ddl", &sql, &[], |_| 0, true, |l| {
            if l.has_column(table, &column.name, &opts).await? {
                return Ok(false);
            }
            l.execute(&sql, &[], &opts).await?;
            Ok(true)
        })
    }

    /// Create an index unless one of that name exists.
    pub async fn create_index(
        &self,
        table: &str,
        name: &str,
        columns: &[&str],
        unique: bool,
    ) -> Result<(), Error> {
        let sql = create_index_sql(table, name, columns, unique)?;
        let opts = QueryOptions::default();
        traced!(self, "ddl", &sql, &[], |_| 0, true, |l| l
            .execute(&sql, &[], &opts)
            .await
            .map(|_| ()))
    }
}
