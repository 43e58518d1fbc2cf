//! Destinations: where synced rows, checkpoints and dead letters go, and the boundary a lake table
//! format would plug in at.
//!
//! [`Destination`] is what the engine needs from a store: prepare a table (additively), read and
//! write a partition's state, and commit one page — its rows, deletions, dead letters and the
//! checkpoint after it — atomically. [`DbDestination`] is that over `connector-db` (SQLite, the
//! embedded default, and PostgreSQL), one database transaction per page.
//!
//! Architecture Invariant: a page's rows and the checkpoint naming the page after it are
//! committed together or not at all; nothing else in the crate writes to the store.

use std::future::Future;

use chrono::{DateTime, Utc};
use connector_db::{
    ColumnDef, ColumnType, Database, Engine, Error, TableDef, Transaction, UpsertWhen, Value,
    quote_ident, quote_table,
};
use connector_runtime::paginate::Checkpoint;
use serde_json::Value as Json;

use crate::table::TableSpec;
use crate::transform::{Batch, DeadLetter};

/// Where one stream partition stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartitionState {
    /// The committed cursor: the largest ordering key of every completed run.
    pub cursor: Option<i64>,
    /// While a run is in progress: the position of the next page to fetch.
    pub checkpoint: Option<Checkpoint>,
    /// The run in progress.
    pub run_id: Option<String>,
    /// The cursor filter the run in progress started from (resumed with the same one).
    pub run_filter: Option<i64>,
    /// The largest cursor the run in progress has committed so far.
    pub run_max: Option<i64>,
    /// The run in progress is a full refresh (rows it does not list are deleted at its end).
    pub full_refresh: bool,
    /// Pages the run in progress has committed.
    pub pages: u64,
    /// The source's clock (its `Date` header) when the run in progress got its first page, as a
    /// cursor ordering key: changes from then on may lie behind the listing's position, so the
    /// committed cursor never passes it.
    pub run_clock: Option<i64>,
}

/// One page to commit.
pub struct PageCommit<'a> {
    /// Connector name.
    pub connector: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// Partition key.
    pub partition: &'a str,
    /// The stream's table.
    pub table: &'a TableSpec,
    /// Rows, deletions and dead letters.
    pub batch: &'a Batch,
    /// Unconditional writes (a full refresh marks every row it lists with its run).
    pub overwrite: bool,
    /// Earlier dead letters of these rows' keys are removed (the stream has some).
    pub clear_dead_letters: bool,
    /// The state after this page.
    pub state: &'a PartitionState,
    /// The run.
    pub run_id: &'a str,
    /// The connector's clock.
    pub now: DateTime<Utc>,
}

/// What a committed page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Rows inserted or changed.
    pub written: u64,
    /// Rows removed (tombstones).
    pub deleted: u64,
}

/// A finished or running sync, as recorded.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Connector.
    pub connector: String,
    /// Streams, comma-separated.
    pub streams: String,
    /// Start (connector clock).
    pub started_at: Option<DateTime<Utc>>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Items read.
    pub rows_read: i64,
    /// Rows written.
    pub rows_written: i64,
    /// Rows deleted.
    pub rows_deleted: i64,
    /// Dead letters written.
    pub dead_letters: i64,
    /// Rows read that were already stored unchanged.
    pub duplicate_rows: i64,
    /// Pages.
    pub pages: i64,
    /// Requests retried by the runtime.
    pub retries: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// One partition's state as `status` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StateRow {
    /// Stream.
    pub stream: String,
    /// Partition key.
    pub partition: String,
    /// Committed cursor ordering key.
    pub cursor: Option<i64>,
    /// A run is in progress (or was interrupted) at this checkpoint.
    pub checkpoint: Option<String>,
    /// Last change of the state.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A store the engine can sync into. Implementations must make [`Destination::commit_page`]
/// atomic: after a crash at any instant, [`Destination::load_state`] names the page after the
/// last one whose rows are stored.
pub trait Destination: Send + Sync {
    /// Create the bookkeeping tables and the stream's table, or add the columns it lacks (never
    /// dropping or renaming); returns a migration note per change, recorded in the store.
    fn prepare(
        &self,
        connector: &str,
        table: &TableSpec,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// The state of a partition (default when never synced).
    fn load_state(
        &self,
        connector: &str,
        stream: &str,
        partition: &str,
    ) -> impl Future<Output = Result<PartitionState, Error>> + Send;
    /// Commit one page and the state after it, atomically.
    fn commit_page(
        &self,
        page: PageCommit<'_>,
    ) -> impl Future<Output = Result<PageOutcome, Error>> + Send;
    /// End a partition's run: store `state` (no checkpoint), and after a full refresh delete the
    /// partition's rows that run did not write. Rows deleted.
    fn finish_partition(
        &self,
        connector: &str,
        table: &TableSpec,
        partition: &str,
        state: &PartitionState,
        refreshed_by: Option<&str>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
    /// The partition key and raw item of every live row of a parent stream's table.
    fn parent_rows(
        &self,
        table: &TableSpec,
    ) -> impl Future<Output = Result<Vec<(String, Json)>, Error>> + Send;
    /// Dead letters stored for a stream.
    fn dead_letter_count(
        &self,
        connector: &str,
        stream: &str,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
    /// Record a run (insert or update by id).
    fn record_run(&self, run: &RunRecord) -> impl Future<Output = Result<(), Error>> + Send;
    /// Every partition state and the latest runs of a connector.
    fn status(
        &self,
        connector: &str,
        runs: usize,
    ) -> impl Future<Output = Result<(Vec<StateRow>, Vec<RunRecord>), Error>> + Send;
}

/// The bookkeeping tables.
const STATE: &str = "_sync_state";
const DEAD: &str = "_sync_dead_letter";
const MIGRATIONS: &str = "_sync_migrations";
const RUNS: &str = "_sync_runs";

/// A destination over `connector-db`.
#[derive(Clone, Debug)]
pub struct DbDestination {
    db: Database,
}

impl DbDestination {
    /// Sync into `db`.
    pub fn new(db: Database) -> Self {
        DbDestination { db }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn ph(&self, n: usize) -> String {
        match self.db.engine() {
            Engine::Postgres => format!("${n}"),
            Engine::Sqlite => format!("?{n}"),
        }
    }

    async fn bookkeeping(&self) -> Result<(), Error> {
        use ColumnType::*;
        let col = |n: &str, t| ColumnDef::new(n, t);
        let tables = [
            TableDef::new(STATE)
                .column(col("connector", Text).not_null())
                .column(col("stream", Text).not_null())
                .column(col("partition", Text).not_null())
                .column(col("cursor", I64))
                .column(col("checkpoint", Text))
                .column(col("run_id", Text))
                .column(col("run_filter", I64))
                .column(col("run_max", I64))
                .column(col("full_refresh", Bool))
                .column(col("pages", I64))
                .column(col("run_clock", I64))
                .column(col("updated_at", Timestamp))
                .primary_key(["connector", "stream", "partition"]),
            TableDef::new(DEAD)
                .column(col("connector", Text).not_null())
                .column(col("stream", Text).not_null())
                .column(col("key", Text).not_null())
                .column(col("error", Text))
                .column(col("payload", Json))
                .column(col("run_id", Text))
                .column(col("seen_at", Timestamp))
                .primary_key(["connector", "stream", "key"]),
            TableDef::new(MIGRATIONS)
                .column(col("connector", Text).not_null())
                .column(col("stream", Text).not_null())
                .column(col("change", Text).not_null())
                .column(col("note", Text))
                .column(col("at", Timestamp))
                .primary_key(["connector", "stream", "change"]),
            TableDef::new(RUNS)
                .column(col("run_id", Text).not_null())
                .column(col("connector", Text))
                .column(col("streams", Text))
                .column(col("started_at", Timestamp))
                .column(col("finished_at", Timestamp))
                .column(col("status", Text))
                .column(col("rows_read", I64))
                .column(col("rows_written", I64))
                .column(col("rows_deleted", I64))
                .column(col("dead_letters", I64))
                .column(col("duplicate_rows", I64))
                .column(col("pages", I64))
                .column(col("retries", I64))
                .column(col("error", Text))
                .primary_key(["run_id"]),
        ];
        for t in &tables {
            self.db.create_table(t).await?;
        }
        Ok(())
    }

    async fn write_dead_letters(
        &self,
        tx: &mut Transaction,
        page: &PageCommit<'_>,
        dead: &[DeadLetter],
    ) -> Result<(), Error> {
        if dead.is_empty() {
            return Ok(());
        }
        let rows: Vec<Vec<Value>> = dead
            .iter()
            .map(|d| {
                vec![
                    Value::from(page.connector),
                    Value::from(page.stream),
                    Value::Text(d.key.clone()),
                    Value::Text(d.error.clone()),
                    Value::Json(Box::new(d.payload.clone())),
                    Value::from(page.run_id),
                    Value::Timestamp(page.now),
                ]
            })
            .collect();
        tx.upsert_batch(
            DEAD,
            &[
                "connector",
                "stream",
                "key",
                "error",
                "payload",
                "run_id",
                "seen_at",
            ],
            &["connector", "stream", "key"],
            &rows,
        )
        .await?;
        Ok(())
    }

    async fn write_state(
        &self,
        tx: &mut Transaction,
        connector: &str,
        stream: &str,
        partition: &str,
        s: &PartitionState,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let checkpoint = match &s.checkpoint {
            Some(c) => Value::Text(
                serde_json::to_string(c).map_err(|e| Error::validation("checkpoint", e))?,
            ),
            None => Value::Null,
        };
        let opt = |v: Option<i64>| v.map_or(Value::Null, Value::I64);
        let row = vec![
            Value::from(connector),
            Value::from(stream),
            Value::from(partition),
            opt(s.cursor),
            checkpoint,
            s.run_id.clone().map_or(Value::Null, Value::Text),
            opt(s.run_filter),
            opt(s.run_max),
            Value::Bool(s.full_refresh),
            Value::I64(i64::try_from(s.pages).unwrap_or(i64::MAX)),
            opt(s.run_clock),
            Value::Timestamp(now),
        ];
        tx.upsert_batch(
            STATE,
            &[
                "connector",
                "stream",
                "partition",
                "cursor",
                "checkpoint",
                "run_id",
                "run_filter",
                "run_max",
                "full_refresh",
                "pages",
                "run_clock",
                "updated_at",
            ],
            &["connector", "stream", "partition"],
            &[row],
        )
        .await?;
        Ok(())
    }

    /// `k1 = $a AND k2 = $b` for the key columns, numbered from `from`.
    fn key_match(&self, table: &TableSpec, from: usize) -> Result<String, Error> {
        let mut parts = Vec::new();
        for (i, k) in table.key.iter().enumerate() {
            parts.push(format!("{} = {}", quote_ident(k)?, self.ph(from + i)));
        }
        Ok(parts.join(" AND "))
    }
}

impl Destination for DbDestination {
    async fn prepare(&self, connector: &str, table: &TableSpec) -> Result<Vec<String>, Error> {
        self.bookkeeping().await?;
        let schema = self.db.schema().await?;
        let mut notes = Vec::new();
        let mut changes = Vec::new();
        match schema.table(&table.name) {
            None => {
                self.db.create_table(&table.table_def()).await?;
                let change = "create".to_owned();
                let note = format!(
                    "created table `{}` with {} columns, primary key ({})",
                    table.name,
                    table.columns.len(),
                    table.key.join(", ")
                );
                changes.push((change, note));
            }
            Some(existing) => {
                for c in &table.columns {
                    if existing.column(&c.name).is_none() {
                        self.db
                            .add_column(&table.name, &ColumnDef::new(c.name.clone(), c.ty))
                            .await?;
                        changes.push((
                            format!("add column {}", c.name),
                            format!(
                                "added column `{}` ({}) to `{}`: rows stored before hold NULL until they change or a --full-refresh rewrites them",
                                c.name,
                                c.ty.sql(self.db.engine()),
                                table.name
                            ),
                        ));
                    }
                }
            }
        }
        let now = Utc::now();
        for (change, note) in changes {
            let row = vec![
                Value::from(connector),
                Value::from(table.name.as_str()),
                Value::Text(change),
                Value::Text(note.clone()),
                Value::Timestamp(now),
            ];
            self.db
                .upsert_batch(
                    MIGRATIONS,
                    &["connector", "stream", "change", "note", "at"],
                    &["connector", "stream", "change"],
                    &[row],
                )
                .await?;
            tracing::info!(target: "connector_sync", table = %table.name, %note, "schema change");
            notes.push(note);
        }
        Ok(notes)
    }

    async fn load_state(
        &self,
        connector: &str,
        stream: &str,
        partition: &str,
    ) -> Result<PartitionState, Error> {
        let sql = format!(
            "SELECT cursor, checkpoint, run_id, run_filter, run_max, full_refresh, pages, run_clock FROM {STATE} WHERE connector = {} AND stream = {} AND partition = {}",
            self.ph(1),
            self.ph(2),
            self.ph(3)
        );
        let rows = self
            .db
            .query(
                &sql,
                &[
                    Value::from(connector),
                    Value::from(stream),
                    Value::from(partition),
                ],
            )
            .await?;
        let Some(r) = rows.into_iter().next() else {
            return Ok(PartitionState::default());
        };
        let int = |n: &str| r.get(n).and_then(Value::as_i64);
        let checkpoint = match r.get("checkpoint").and_then(Value::as_str) {
            Some(t) => Some(serde_json::from_str::<Checkpoint>(t).map_err(|e| {
                Error::validation(
                    "checkpoint",
                    format!("the stored checkpoint of `{stream}` does not read ({e}); run with --full-refresh to start over"),
                )
            })?),
            None => None,
        };
        Ok(PartitionState {
            cursor: int("cursor"),
            checkpoint,
            run_id: r.get("run_id").and_then(Value::as_str).map(str::to_owned),
            run_filter: int("run_filter"),
            run_max: int("run_max"),
            full_refresh: matches!(r.get("full_refresh"), Some(Value::Bool(true)))
                || int("full_refresh") == Some(1),
            pages: int("pages")
                .and_then(|p| u64::try_from(p).ok())
                .unwrap_or(0),
            run_clock: int("run_clock"),
        })
    }

    async fn commit_page(&self, page: PageCommit<'_>) -> Result<PageOutcome, Error> {
        let mut tx = self.db.begin().await?;
        let columns = page.table.column_names();
        let keys: Vec<&str> = page.table.key.iter().map(String::as_str).collect();
        let when = if page.overwrite {
            UpsertWhen::default()
        } else {
            UpsertWhen {
                changed: Some("_hash".into()),
                not_older: Some("_cursor".into()),
            }
        };
        let written = tx
            .upsert_batch_when(&page.table.name, &columns, &keys, &when, &page.batch.rows)
            .await?;
        let mut deleted = 0;
        if !page.batch.deletes.is_empty() {
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                quote_table(&page.table.name)?,
                self.key_match(page.table, 1)?
            );
            for key in &page.batch.deletes {
                deleted += tx.execute(&sql, key).await?;
            }
        }
        self.write_dead_letters(&mut tx, &page, &page.batch.dead)
            .await?;
        if page.clear_dead_letters && !page.batch.row_keys.is_empty() {
            let sql = format!(
                "DELETE FROM {DEAD} WHERE connector = {} AND stream = {} AND key = {}",
                self.ph(1),
                self.ph(2),
                self.ph(3)
            );
            for k in &page.batch.row_keys {
                tx.execute(
                    &sql,
                    &[
                        Value::from(page.connector),
                        Value::from(page.stream),
                        Value::Text(k.clone()),
                    ],
                )
                .await?;
            }
        }
        self.write_state(
            &mut tx,
            page.connector,
            page.stream,
            page.partition,
            page.state,
            page.now,
        )
        .await?;
        tx.commit().await?;
        Ok(PageOutcome { written, deleted })
    }

    async fn finish_partition(
        &self,
        connector: &str,
        table: &TableSpec,
        partition: &str,
        state: &PartitionState,
        refreshed_by: Option<&str>,
    ) -> Result<u64, Error> {
        let mut tx = self.db.begin().await?;
        let mut deleted = 0;
        if let Some(run) = refreshed_by {
            let sql = format!(
                "DELETE FROM {} WHERE _partition = {} AND (_sync_run IS NULL OR _sync_run <> {})",
                quote_table(&table.name)?,
                self.ph(1),
                self.ph(2)
            );
            deleted = tx
                .execute(&sql, &[Value::from(partition), Value::from(run)])
                .await?;
        }
        self.write_state(
            &mut tx,
            connector,
            &table.name,
            partition,
            state,
            Utc::now(),
        )
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn parent_rows(&self, table: &TableSpec) -> Result<Vec<(String, Json)>, Error> {
        let order: Vec<String> = table
            .key
            .iter()
            .map(|k| quote_ident(k))
            .collect::<Result<_, _>>()?;
        let sql = format!(
            "SELECT _partition, _raw FROM {} WHERE is_deleted = {} ORDER BY {}",
            quote_table(&table.name)?,
            match self.db.engine() {
                Engine::Postgres => "false",
                Engine::Sqlite => "0",
            },
            order.join(", ")
        );
        let rows = self.db.query(&sql, &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let partition = r
                .get("_partition")
                .and_then(Value::as_str)
                .unwrap_or("{}")
                .to_owned();
            let raw = match r.get("_raw") {
                Some(Value::Json(j)) => (**j).clone(),
                Some(Value::Text(t)) => serde_json::from_str(t).unwrap_or(Json::Null),
                _ => Json::Null,
            };
            out.push((partition, raw));
        }
        Ok(out)
    }

    async fn dead_letter_count(&self, connector: &str, stream: &str) -> Result<u64, Error> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {DEAD} WHERE connector = {} AND stream = {}",
            self.ph(1),
            self.ph(2)
        );
        let r = self
            .db
            .query_one(&sql, &[Value::from(connector), Value::from(stream)])
            .await?;
        Ok(r.get("n")
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), Error> {
        let ts = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, Value::Timestamp);
        let row = vec![
            Value::from(run.run_id.as_str()),
            Value::from(run.connector.as_str()),
            Value::from(run.streams.as_str()),
            ts(run.started_at),
            ts(run.finished_at),
            Value::from(run.status.as_str()),
            Value::I64(run.rows_read),
            Value::I64(run.rows_written),
            Value::I64(run.rows_deleted),
            Value::I64(run.dead_letters),
            Value::I64(run.duplicate_rows),
            Value::I64(run.pages),
            Value::I64(run.retries),
            run.error.clone().map_or(Value::Null, Value::Text),
        ];
        self.db
            .upsert_batch(
                RUNS,
                &[
                    "run_id",
                    "connector",
                    "streams",
                    "started_at",
                    "finished_at",
                    "status",
                    "rows_read",
                    "rows_written",
                    "rows_deleted",
                    "dead_letters",
                    "duplicate_rows",
                    "pages",
                    "retries",
                    "error",
                ],
                &["run_id"],
                &[row],
            )
            .await?;
        Ok(())
    }

    async fn status(
        &self,
        connector: &str,
        runs: usize,
    ) -> Result<(Vec<StateRow>, Vec<RunRecord>), Error> {
        self.bookkeeping().await?;
        let sql = format!(
            "SELECT stream, partition, cursor, checkpoint, updated_at FROM {STATE} WHERE connector = {} ORDER BY stream, partition",
            self.ph(1)
        );
        let states = self
            .db
            .query(&sql, &[Value::from(connector)])
            .await?
            .into_iter()
            .map(|r| StateRow {
                stream: r
                    .get("stream")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                partition: r
                    .get("partition")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                cursor: r.get("cursor").and_then(Value::as_i64),
                checkpoint: r
                    .get("checkpoint")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                updated_at: timestamp(r.get("updated_at")),
            })
            .collect();
        let sql = format!(
            "SELECT * FROM {RUNS} WHERE connector = {} ORDER BY started_at DESC LIMIT {}",
            self.ph(1),
            runs.min(1000)
        );
        let runs = self
            .db
            .query(&sql, &[Value::from(connector)])
            .await?
            .into_iter()
            .map(|r| {
                let text = |n: &str| r.get(n).and_then(Value::as_str).unwrap_or("").to_owned();
                let int = |n: &str| r.get(n).and_then(Value::as_i64).unwrap_or(0);
                RunRecord {
                    run_id: text("run_id"),
                    connector: text("connector"),
                    streams: text("streams"),
                    started_at: timestamp(r.get("started_at")),
                    finished_at: timestamp(r.get("finished_at")),
                    status: text("status"),
                    rows_read: int("rows_read"),
                    rows_written: int("rows_written"),
                    rows_deleted: int("rows_deleted"),
                    dead_letters: int("dead_letters"),
                    duplicate_rows: int("duplicate_rows"),
                    pages: int("pages"),
                    retries: int("retries"),
                    error: r.get("error").and_then(Value::as_str).map(str::to_owned),
                }
            })
            .collect();
        Ok((states, runs))
    }
}

fn timestamp(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v {
        Some(Value::Timestamp(t)) => Some(*t),
        Some(Value::Text(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}
