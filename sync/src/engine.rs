//! The engine: runs streams partition by partition, page by page: fetch (the generated
//! operation's paginator, through the runtime's pipeline), transform, load (one atomic commit of
//! the page's rows and the checkpoint after it).
//!
//! Incremental runs start from the committed cursor less the lookback, sent as the stream's
//! server filter (inclusive; an exclusive filter is sent one unit earlier), so the boundary item
//! is listed again and its unchanged row is not rewritten. A run that stops for any reason —
//! an error, a kill — leaves the checkpoint of the page after its last committed one, and the
//! next run resumes that listing with the same filter before it starts a new one.
//!
//! Architecture Invariant: the committed cursor only moves when a partition's listing is
//! exhausted, and never past the source's clock when the listing began, so neither a run that
//! dies early nor a change behind the listing's position is skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use connector_runtime::paginate::{Checkpoint, Page, Paginator};
use connector_runtime::{Connector, Error};
use futures_util::StreamExt;
use serde_json::Value as Json;
use tracing::Instrument;

use crate::catalog::{Catalog, ParamSource, StreamDef};
use crate::dest::{Destination, PageCommit, PartitionState, RunRecord};
use crate::names::partition_key;
use crate::redact::Redaction;
use crate::table::TableSpec;
use crate::transform::{self, Context, cursor_time, filter_value, units_per_second};

/// A callback told of each committed page.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What a sync run is asked to do.
#[derive(Clone, Default)]
pub struct SyncOptions {
    /// Streams to sync (a child after its parent when both are named).
    pub streams: Vec<String>,
    /// Parameter values (`owner`, `repo`) for the operations that need them.
    pub params: BTreeMap<String, String>,
    /// Query parameters sent on every page of every stream (`state=all`).
    pub query: Vec<(String, String)>,
    /// List everything again and delete the rows the listing no longer has.
    pub full_refresh: bool,
    /// How far before the committed cursor an incremental run starts.
    pub lookback: Duration,
    /// Items per page to ask for.
    pub page_size: Option<u64>,
    /// PII rules.
    pub redactions: Vec<Redaction>,
    /// The run's id (default: a new UUID).
    pub run_id: Option<String>,
    /// Called after every committed page.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("streams", &self.streams)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("full_refresh", &self.full_refresh)
            .field("lookback", &self.lookback)
            .field("page_size", &self.page_size)
            .field("redactions", &self.redactions.len())
            .finish_non_exhaustive()
    }
}

/// Where a stream's sync stands, after each page.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Stream.
    pub stream: String,
    /// Pages committed in this run.
    pub pages: u64,
    /// Items read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Time since the stream started.
    pub elapsed: Duration,
}

/// What a run did to one stream.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StreamReport {
    /// Stream.
    pub stream: String,
    /// Partitions listed.
    pub partitions: u64,
    /// Pages committed.
    pub pages: u64,
    /// Items read.
    pub rows_read: u64,
    /// Rows inserted or changed.
    pub rows_written: u64,
    /// Rows removed (tombstones, or left out of a full refresh).
    pub rows_deleted: u64,
    /// Malformed items sent to the dead-letter table.
    pub dead_letters: u64,
    /// Items whose row was already stored unchanged (boundary re-reads, replays).
    pub duplicate_rows: u64,
    /// Requests the runtime retried.
    pub retries: u64,
    /// Seconds between now and the newest committed cursor, when it is a time.
    pub lag_seconds: Option<f64>,
    /// Schema changes made.
    pub migrations: Vec<String>,
    /// Seconds spent.
    pub duration_seconds: f64,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// Per stream.
    pub streams: Vec<StreamReport>,
    /// Seconds spent.
    pub duration_seconds: f64,
}

impl RunReport {
    /// Rows written across streams.
    pub fn rows_written(&self) -> u64 {
        self.streams.iter().map(|s| s.rows_written).sum()
    }

    /// Rows read across streams.
    pub fn rows_read(&self) -> u64 {
        self.streams.iter().map(|s| s.rows_read).sum()
    }
}

/// Syncs a catalog's streams into a destination.
pub struct Syncer<D> {
    catalog: Catalog,
    connector: Connector,
    dest: D,
}

impl<D: Destination> Syncer<D> {
    /// Sync `catalog`'s streams, fetched through `connector`, into `dest`.
    pub fn new(catalog: Catalog, connector: Connector, dest: D) -> Self {
        Syncer {
            catalog,
            connector,
            dest,
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The destination.
    pub fn destination(&self) -> &D {
        &self.dest
    }

    /// The requested streams, parents before their children.
    fn plan(&self, names: &[String]) -> Result<Vec<&StreamDef>, Error> {
        let mut picked: Vec<&StreamDef> = Vec::new();
        for n in names {
            let s = self.catalog.stream(n).ok_or_else(|| {
                let known: Vec<&str> = self.catalog.streams.iter().map(|s| s.name).collect();
                Error::validation(
                    "stream",
                    format!("no stream `{n}`; the catalog has: {}", known.join(", ")),
                )
            })?;
            if !picked.iter().any(|p| p.name == s.name) {
                picked.push(s);
            }
        }
        // Stable order where every parent named comes before its children.
        let mut ordered: Vec<&StreamDef> = Vec::with_capacity(picked.len());
        while ordered.len() < picked.len() {
            let before = ordered.len();
            for s in &picked {
                if ordered.iter().any(|o| o.name == s.name) {
                    continue;
                }
                let parent_pending = s.parent.is_some_and(|p| {
                    picked.iter().any(|x| x.name == p) && !ordered.iter().any(|o| o.name == p)
                });
                if !parent_pending {
                    ordered.push(s);
                }
            }
            if ordered.len() == before {
                return Err(Error::validation(
                    "stream",
                    "the streams' parents form a cycle",
                ));
            }
        }
        Ok(ordered)
    }

    /// Run a sync. Per page: fetch, transform, commit with the checkpoint; on an error the run
    /// stops, is recorded as failed, and the next run resumes after the last committed page.
    pub async fn run(&self, opts: &SyncOptions) -> Result<RunReport, Error> {
        let started = Instant::now();
        let run_id = opts
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let plan = self.plan(&opts.streams)?;
        let mut record = RunRecord {
            run_id: run_id.clone(),
            connector: self.catalog.connector.to_owned(),
            streams: plan.iter().map(|s| s.name).collect::<Vec<_>>().join(","),
            started_at: Some(Utc::now()),
            status: "running".into(),
            ..RunRecord::default()
        };
        let mut report = RunReport {
            run_id: run_id.clone(),
            ..RunReport::default()
        };
        let mut failure = None;
        for (i, stream) in plan.iter().enumerate() {
            let table = TableSpec::of(stream);
            if i == 0 {
                // The bookkeeping tables exist once the first stream is prepared.
                let migrations = self.dest.prepare(self.catalog.connector, &table).await?;
                self.dest.record_run(&record).await?;
                report.streams.push(StreamReport {
                    stream: stream.name.to_owned(),
                    migrations,
                    ..StreamReport::default()
                });
            } else {
                let migrations = self.dest.prepare(self.catalog.connector, &table).await?;
                report.streams.push(StreamReport {
                    stream: stream.name.to_owned(),
                    migrations,
                    ..StreamReport::default()
                });
            }
            let sr = report.streams.last_mut().expect("pushed above");
            let t0 = Instant::now();
            let span = tracing::info_span!("sync.stream", run_id = %run_id, stream = stream.name);
            let r = self
                .sync_stream(stream, &table, opts, &run_id, sr)
                .instrument(span)
                .await;
            sr.duration_seconds = t0.elapsed().as_secs_f64();
            let labels = [
                ("connector", self.catalog.connector.to_owned()),
                ("stream", stream.name.to_owned()),
            ];
            metrics::histogram!("sync_duration_seconds", &labels).record(sr.duration_seconds);
            if let Some(lag) = sr.lag_seconds {
                metrics::gauge!("sync_lag_seconds", &labels).set(lag);
            }
            record.rows_read += sat(sr.rows_read);
            record.rows_written += sat(sr.rows_written);
            record.rows_deleted += sat(sr.rows_deleted);
            record.dead_letters += sat(sr.dead_letters);
            record.duplicate_rows += sat(sr.duplicate_rows);
            record.pages += sat(sr.pages);
            record.retries += sat(sr.retries);
            if let Err(e) = r {
                failure = Some(e);
                break;
            }
        }
        report.duration_seconds = started.elapsed().as_secs_f64();
        record.finished_at = Some(Utc::now());
        record.status = if failure.is_some() {
            "failed"
        } else {
            "succeeded"
        }
        .into();
        record.error = failure.as_ref().map(|e| e.to_string());
        if !plan.is_empty() {
            self.dest.record_run(&record).await?;
        }
        tracing::info!(
            target: "connector_sync",
            run_id = %run_id,
            status = %record.status,
            rows_read = record.rows_read,
            rows_written = record.rows_written,
            duration_seconds = report.duration_seconds,
            "sync run finished"
        );
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn sync_stream(
        &self,
        stream: &StreamDef,
        table: &TableSpec,
        opts: &SyncOptions,
        run_id: &str,
        report: &mut StreamReport,
    ) -> Result<(), Error> {
        let own: Vec<&str> = stream.params.iter().map(|p| p.name).collect();
        let pick = |from: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            from.iter()
                .filter(|(k, _)| own.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let partitions: Vec<BTreeMap<String, String>> = match stream.parent {
            None => vec![pick(&opts.params)],
            Some(parent) => {
                let pdef = self.catalog.stream(parent).ok_or_else(|| {
                    Error::validation(
                        "stream",
                        format!(
                            "`{}` names a parent `{parent}` the catalog lacks",
                            stream.name
                        ),
                    )
                })?;
                let ptable = TableSpec::of(pdef);
                let rows = self.dest.parent_rows(&ptable).await.map_err(|e| {
                    Error::validation(
                        "stream",
                        format!(
                            "`{}` needs its parent `{parent}` synced first ({e})",
                            stream.name
                        ),
                    )
                })?;
                let mut out = Vec::with_capacity(rows.len());
                for (ppart, raw) in rows {
                    let inherited: BTreeMap<String, String> =
                        serde_json::from_str(&ppart).unwrap_or_default();
                    let mut params = pick(&inherited);
                    params.extend(pick(&opts.params));
                    let mut complete = true;
                    for p in stream.params {
                        if let ParamSource::Parent(ptr) = p.from {
                            match raw.pointer(ptr) {
                                Some(Json::String(s)) => {
                                    params.insert(p.name.to_owned(), s.clone());
                                }
                                Some(v @ (Json::Number(_) | Json::Bool(_))) => {
                                    params.insert(p.name.to_owned(), v.to_string());
                                }
                                _ => complete = false,
                            }
                        }
                    }
                    if complete {
                        out.push(params);
                    } else {
                        tracing::warn!(
                            target: "connector_sync",
                            stream = stream.name,
                            "a parent row lacks the field a child parameter comes from; skipped"
                        );
                    }
                }
                out
            }
        };
        let started = Instant::now();
        for params in partitions {
            self.sync_partition(stream, table, params, opts, run_id, report, started)
                .await?;
            report.partitions += 1;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_partition(
        &self,
        stream: &StreamDef,
        table: &TableSpec,
        params: BTreeMap<String, String>,
        opts: &SyncOptions,
        run_id: &str,
        report: &mut StreamReport,
        started: Instant,
    ) -> Result<(), Error> {
        let connector = self.catalog.connector;
        let partition = partition_key(&params);
        let stored = self
            .dest
            .load_state(connector, stream.name, &partition)
            .await?;
        let lookback = stream.cursor.map_or(0, |c| {
            i64::try_from(opts.lookback.as_secs())
                .unwrap_or(i64::MAX)
                .saturating_mul(units_per_second(c.kind))
        });
        // Resume an interrupted listing first (a refresh is finished even when not asked for
        // again; an incremental one gives way to a refresh that is).
        let mut state = stored.clone();
        let resume = match &stored.checkpoint {
            Some(cp) if stored.full_refresh || !opts.full_refresh => Some(cp.clone()),
            _ => None,
        };
        if resume.is_none() {
            state.full_refresh = opts.full_refresh;
            state.run_filter = if opts.full_refresh {
                None
            } else {
                stored.cursor.map(|c| c.saturating_sub(lookback))
            };
            state.run_id = Some(run_id.to_owned());
            state.run_max = None;
            state.pages = 0;
            state.run_clock = None;
        }
        let writer_run = state.run_id.clone().unwrap_or_else(|| run_id.to_owned());
        let filter = match (stream.cursor, state.run_filter) {
            (Some(c), Some(k)) => c.filter.map(|f| {
                (
                    f.param.to_owned(),
                    filter_value(c.kind, f.format, f.inclusive, k),
                )
            }),
            _ => None,
        };
        tracing::info!(
            target: "connector_sync",
            run_id,
            stream = stream.name,
            partition = %partition,
            resumed = resume.is_some(),
            full_refresh = state.full_refresh,
            filter = ?filter.as_ref().map(|f| &f.0),
            "listing"
        );
        let mut has_dead = self.dest.dead_letter_count(connector, stream.name).await? > 0;
        let labels = [
            ("connector", connector.to_owned()),
            ("stream", stream.name.to_owned()),
        ];
        let redactions: Vec<&Redaction> = opts
            .redactions
            .iter()
            .filter(|r| r.applies(stream.name))
            .collect();
        if resume != Some(Checkpoint::Done) {
            let args = crate::catalog::FetchArgs {
                params,
                filter,
                resume: resume.clone(),
                page_size: opts.page_size,
                query: opts.query.clone(),
            };
            let pager = (stream.fetch)(&self.connector, &args)?;
            let mut pages = prefetch(pager, stream.name, state.pages);
            loop {
                let page_no = state.pages + 1;
                let Some(next) = pages.next().await else {
                    break;
                };
                let (page, checkpoint) = next?;
                let retries = u64::from(page.response.meta.retry_count);
                if state.run_clock.is_none() {
                    state.run_clock = stream
                        .cursor
                        .and_then(|c| source_clock(c.kind, &page.response.headers));
                }
                let now = Utc::now();
                let batch = {
                    let _s =
                        tracing::info_span!("sync.transform", stream = stream.name, page = page_no)
                            .entered();
                    let ctx = Context {
                        stream,
                        table,
                        partition: &partition,
                        run_id: &writer_run,
                        now,
                        redactions: redactions.clone(),
                    };
                    transform::transform(&ctx, page.items)
                };
                if let Some(m) = batch.max_cursor {
                    state.run_max = Some(state.run_max.map_or(m, |r| r.max(m)));
                }
                state.checkpoint = Some(checkpoint);
                state.pages = page_no;
                let outcome = self
                    .dest
                    .commit_page(PageCommit {
                        connector,
                        stream: stream.name,
                        partition: &partition,
                        table,
                        batch: &batch,
                        overwrite: state.full_refresh,
                        clear_dead_letters: has_dead,
                        state: &state,
                        run_id: &writer_run,
                        now,
                    })
                    .instrument(tracing::info_span!(
                        "sync.load",
                        stream = stream.name,
                        page = page_no
                    ))
                    .await?;
                has_dead |= !batch.dead.is_empty();
                let rows = batch.rows.len() as u64;
                let duplicates = rows.saturating_sub(outcome.written);
                report.pages += 1;
                report.rows_read += batch.read;
                report.rows_written += outcome.written;
                report.rows_deleted += outcome.deleted;
                report.dead_letters += batch.dead.len() as u64;
                report.duplicate_rows += duplicates;
                report.retries += retries;
                metrics::counter!("sync_rows_read", &labels).increment(batch.read);
                metrics::counter!("sync_rows_written", &labels).increment(outcome.written);
                metrics::counter!("sync_duplicate_rows", &labels).increment(duplicates);
                metrics::counter!("sync_retries", &labels).increment(retries);
                metrics::counter!("sync_pages", &labels).increment(1);
                metrics::counter!("sync_dead_letters", &labels).increment(batch.dead.len() as u64);
                tracing::info!(
                    target: "connector_sync",
                    run_id,
                    stream = stream.name,
                    page = page_no,
                    read = batch.read,
                    written = outcome.written,
                    deleted = outcome.deleted,
                    dead_letters = batch.dead.len(),
                    "page committed"
                );
                if let Some(p) = &opts.progress {
                    p(&Progress {
                        stream: stream.name.to_owned(),
                        pages: report.pages,
                        rows_read: report.rows_read,
                        rows_written: report.rows_written,
                        elapsed: started.elapsed(),
                    });
                }
            }
        }
        // Items changed after the listing began may sit behind its position (a newest-first
        // listing, a row updated after its page was read): the cursor stops at the source's clock
        // when the run began, so the next run lists them.
        let reached = match (state.run_max, state.run_clock) {
            (Some(m), Some(c)) => Some(m.min(c)),
            (m, _) => m,
        };
        let cursor = if state.full_refresh {
            reached.or(stored.cursor)
        } else {
            match (stored.cursor, reached) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        };
        let done = PartitionState {
            cursor,
            ..PartitionState::default()
        };
        let refreshed_by = state.full_refresh.then_some(writer_run.as_str());
        let removed = self
            .dest
            .finish_partition(connector, table, &partition, &done, refreshed_by)
            .await?;
        report.rows_deleted += removed;
        if let (Some(c), Some(k)) = (stream.cursor, cursor) {
            if let Some(t) = cursor_time(c.kind, k) {
                let lag = (Utc::now() - t).num_milliseconds() as f64 / 1000.0;
                report.lag_seconds = Some(report.lag_seconds.map_or(lag, |l: f64| l.max(lag)));
            }
        }
        Ok(())
    }
}

/// Pages of `pager` with the checkpoint after each, fetched one page ahead by a task of their own,
/// so the next request is in flight while a page is transformed and written. At most three pages
/// are held (the one being written, one waiting, one arriving); the task stops when the receiver is
/// dropped.
fn prefetch(mut pager: Paginator, stream: &'static str, done: u64) -> Prefetch {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<(Page, Checkpoint), Error>>(1);
    let task = tokio::spawn(async move {
        let mut page_no = done;
        loop {
            page_no += 1;
            let next = pager
                .next()
                .instrument(tracing::info_span!("sync.fetch", stream, page = page_no))
                .await;
            let Some(next) = next else { break };
            let item = next.map(|page| (page, pager.checkpoint()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    Prefetch { rx, task }
}

/// The receiving end of [`prefetch`]; dropping it stops the fetching task.
struct Prefetch {
    rx: tokio::sync::mpsc::Receiver<Result<(Page, Checkpoint), Error>>,
    task: tokio::task::JoinHandle<()>,
}

impl Prefetch {
    async fn next(&mut self) -> Option<Result<(Page, Checkpoint), Error>> {
        self.rx.recv().await
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The source's clock from an answer's `Date` header, as an ordering key of `kind` (none for
/// version cursors, which no clock orders).
fn source_clock(
    kind: crate::catalog::CursorKind,
    headers: &connector_runtime::HeaderMap,
) -> Option<i64> {
    let date = headers
        .get(http_date_header())
        .and_then(|v| v.to_str().ok())?;
    let t = chrono::DateTime::parse_from_rfc2822(date.trim())
        .ok()?
        .timestamp();
    match kind {
        crate::catalog::CursorKind::DateTime => t.checked_mul(1_000_000),
        crate::catalog::CursorKind::UnixSeconds => Some(t),
        crate::catalog::CursorKind::Integer => None,
    }
}

fn http_date_header() -> &'static str {
    "date"
}

fn sat(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
