//! [`Transaction`]: statements on one connection between `BEGIN` and `COMMIT`/`ROLLBACK`, with
//! savepoints, rolled back when dropped unfinished.
//!
//! The engines differ after a failed statement: PostgreSQL aborts the whole transaction, SQLite
//! undoes only that statement. So that a transaction means the same on both, a statement that fails
//! marks the transaction failed, and [`Transaction::commit`] then rolls it back and says so, unless
//! [`Transaction::rollback_to_savepoint`] has since returned to a point before the failure.

use connector_runtime::{Error, ErrorCode, ErrorSource};
use serde::de::DeserializeOwned;
use tracing::{Instrument, Span};

use crate::bulk::UpsertWhen;
use crate::config::Engine;
use crate::exec::QueryOptions;
use crate::ident::quote_ident;
use crate::observe::{self, Timer, query_span};
use crate::pool::Lease;
use crate::row::Row;
use crate::value::Value;

/// An open transaction. Finish it with [`commit`](Transaction::commit) or
/// [`rollback`](Transaction::rollback); dropped unfinished, it is rolled back in the background
/// (a statement still running is cancelled first) before its connection returns to the pool.
pub struct Transaction {
    lease: Lease,
    span: Span,
    /// A statement failed since the start or the last rollback to a savepoint.
    failed: bool,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("engine", &self.lease.engine())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Run `$body` with the transaction's connection as `$l`, in a `db.query` span under the
/// transaction's, with its metrics; a failure marks the transaction failed.
macro_rules! tx_traced {
    ($tx:expr, $op:expr, $sql:expr, $params:expr, $rows:expr, $written:expr, |$l:ident| $body:expr) => {{
        let engine = $tx.engine();
        let span = query_span(engine, $op, $sql, $params, Some(&$tx.span));
        let timer = Timer::start(engine, $op, &span);
        let $l = &mut $tx.lease;
        let r = async { $body }.instrument(span).await;
        timer.finish(&r, $rows, $written);
        if r.is_err() {
            $tx.failed = true;
        }
        r
    }};
}

impl Transaction {
    pub(crate) async fn begin(mut lease: Lease) -> Result<Transaction, Error> {
        let engine = lease.engine();
        let span = tracing::info_span!(
            "db.transaction",
            db.system = engine.as_str(),
            outcome = tracing::field::Empty
        );
        let opts = QueryOptions::default();
        let begin = query_span(engine, "begin", "BEGIN", &[], Some(&span));
        let timer = Timer::start(engine, "begin", &begin);
        let r = lease.execute("BEGIN", &[], &opts).instrument(begin).await;
        timer.finish(&r, |_| 0, false);
        r?;
        lease.in_tx = true;
        Ok(Transaction {
            lease,
            span,
            failed: false,
        })
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.lease.engine()
    }

    /// PostgreSQL: the pid of the server process running this transaction.
    pub fn backend_pid(&self) -> Option<i32> {
        self.lease.canceller.pid()
    }

    /// Run a statement; rows affected.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        self.execute_with(sql, params, &QueryOptions::default())
            .await
    }

    /// [`execute`](Self::execute) with a timeout or cancellation token.
    pub async fn execute_with(
        &mut self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        tx_traced!(self, "execute", sql, params, |n| *n, true, |l| l
            .execute(sql, params, opts)
            .await)
    }

    /// Run a query; its rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        self.query_with(sql, params, &QueryOptions::default()).await
    }

    /// [`query`](Self::query) with a timeout or cancellation token.
    pub async fn query_with(
        &mut self,
        sql: &str,
        params: &[Value],
        opts: &QueryOptions,
    ) -> Result<Vec<Row>, Error> {
        tx_traced!(
            self,
            "query",
            sql,
            params,
            |r: &Vec<Row>| r.len() as u64,
            false,
            |l| l.fetch_all(sql, params, opts).await
        )
    }

    /// Run a query; its rows as `T`.
    pub async fn query_as<T: DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<T>, Error> {
        let rows = self.query(sql, params).await?;
        rows.iter().map(Row::deserialize).collect()
    }

    /// `SAVEPOINT name`.
    pub async fn savepoint(&mut self, name: &str) -> Result<(), Error> {
        let sql = format!("SAVEPOINT {}", quote_ident(name)?);
        self.execute(&sql, &[]).await.map(|_| ())
    }

    /// `ROLLBACK TO SAVEPOINT name`: undo what followed it (a failure after it included).
    pub async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), Error> {
        let sql = format!("ROLLBACK TO SAVEPOINT {}", quote_ident(name)?);
        self.execute(&sql, &[]).await?;
        self.failed = false;
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`: keep what followed it, forget the point.
    pub async fn release_savepoint(&mut self, name: &str) -> Result<(), Error> {
        let sql = format!("RELEASE SAVEPOINT {}", quote_ident(name)?);
        self.execute(&sql, &[]).await.map(|_| ())
    }

    /// The batched upsert inside this transaction (see
    /// [`Database::upsert_batch`](crate::Database::upsert_batch)).
    pub async fn upsert_batch<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        key_columns: &[&str],
        rows: &[R],
    ) -> Result<u64, Error> {
        self.upsert_batch_when(table, columns, key_columns, &UpsertWhen::default(), rows)
            .await
    }

    /// The conditional upsert inside this transaction (see
    /// [`Database::upsert_batch_when`](crate::Database::upsert_batch_when)).
    pub async fn upsert_batch_when<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        key_columns: &[&str],
        when: &UpsertWhen,
        rows: &[R],
    ) -> Result<u64, Error> {
        let opts = QueryOptions::default();
        let sql =
            crate::bulk::insert_sql(self.engine(), table, columns, Some(key_columns), when, 1)?;
        tx_traced!(self, "upsert", &sql, &[], |n| *n, true, |l| l
            .upsert(table, columns, key_columns, when, rows, &opts)
            .await)
    }

    /// The bulk load inside this transaction (see [`Database::copy_in`](crate::Database::copy_in)).
    pub async fn copy_in<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[R],
    ) -> Result<u64, Error> {
        let opts = QueryOptions::default();
        tx_traced!(self, "copy", table, &[], |n| *n, true, |l| l
            .copy_in(table, columns, rows, &opts)
            .await)
    }

    /// Commit. When a statement failed (and no rollback to a savepoint followed), the transaction
    /// is rolled back instead and this fails with INVALID_REQUEST.
    pub async fn commit(mut self) -> Result<(), Error> {
        if self.failed {
            self.end("ROLLBACK", "rollback").await?;
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                ErrorSource::Unknown,
                "a statement of the transaction failed, so it was rolled back instead of committed",
            ));
        }
        self.end("COMMIT", "commit").await
    }

    /// Roll back.
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.end("ROLLBACK", "rollback").await
    }

    async fn end(&mut self, sql: &'static str, outcome: &'static str) -> Result<(), Error> {
        let engine = self.engine();
        let span = query_span(engine, outcome, sql, &[], Some(&self.span));
        let timer = Timer::start(engine, outcome, &span);
        let r = self
            .lease
            .execute(sql, &[], &QueryOptions::default())
            .instrument(span)
            .await;
        timer.finish(&r, |_| 0, false);
        match &r {
            Ok(_) => {
                self.lease.in_tx = false;
                observe::transaction_ended(engine, outcome, &self.span);
            }
            // The server answered: the transaction is over either way (PostgreSQL ends it on a
            // failed COMMIT; a failed ROLLBACK leaves nothing to keep).
            Err(e) if e.request_sent() && engine == Engine::Postgres => {
                self.lease.in_tx = false;
                observe::transaction_ended(engine, "rollback", &self.span);
            }
            Err(_) => {}
        }
        r.map(|_| ())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.lease.in_tx {
            // The lease rolls it back (see `Lease`'s drop).
            observe::transaction_ended(self.engine(), "dropped", &self.span);
        }
    }
}
