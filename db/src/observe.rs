//! Metrics and spans of database work, through the `metrics` facade and `tracing`.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `db_queries_total` | counter | engine, operation, outcome (`ok`, `error`) | statements and bulk operations run |
//! | `db_query_duration_seconds` | histogram | engine, operation | their latency, connection wait included |
//! | `db_rows_total` | counter | engine, operation, direction (`read`, `written`) | rows returned, affected or loaded |
//! | `db_errors_total` | counter | engine, operation, code, provider_code | failures by the taxonomy's code and the engine's own |
//! | `db_retries_total` | counter | engine, stage (`connect`, `statement`) | retries scheduled by the retry policy |
//! | `db_transactions_total` | counter | engine, outcome (`commit`, `rollback`, `dropped`) | transactions ended |
//! | `db_stale_connections_total` | counter | engine | pooled connections found dead by the probe and replaced (a server restart) |
//!
//! Labels are fixed words and codes, never statement text or values. Spans: `db.query` per statement
//! or bulk operation (fields `db.system`, `db.operation`, `db.statement` (the text, at most
//! [`MAX_STATEMENT_CHARS`]), `params` (their count), `param_types` (their kinds, e.g.
//! `i64,text,null`), then `rows` or `error.code` and `provider_code`), inside `db.transaction`
//! (fields `db.system`, `outcome`) for statements of a transaction.
//!
//! Architecture Invariant: parameters are never recorded, only their count and kinds.

use std::time::{Duration, Instant};

use connector_runtime::Error;
use tracing::Span;

use crate::config::Engine;
use crate::value::{Value, kinds};

/// Statements and bulk operations run.
pub const QUERIES_TOTAL: &str = "db_queries_total";
/// Their latency.
pub const QUERY_DURATION: &str = "db_query_duration_seconds";
/// Rows read, affected or loaded.
pub const ROWS_TOTAL: &str = "db_rows_total";
/// Failures by code.
pub const ERRORS_TOTAL: &str = "db_errors_total";
/// Retries scheduled.
pub const RETRIES_TOTAL: &str = "db_retries_total";
/// Transactions ended.
pub const TRANSACTIONS_TOTAL: &str = "db_transactions_total";
/// Pooled connections found dead and replaced.
pub const STALE_CONNECTIONS_TOTAL: &str = "db_stale_connections_total";

/// Longest statement text a span records; longer text is cut at a character boundary and marked.
pub const MAX_STATEMENT_CHARS: usize = 2048;

/// The statement as a span records it.
pub(crate) fn statement_text(sql: &str) -> std::borrow::Cow<'_, str> {
    match sql.char_indices().nth(MAX_STATEMENT_CHARS) {
        None => std::borrow::Cow::Borrowed(sql),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &sql[..cut])),
    }
}

/// The span of one statement or bulk operation.
pub(crate) fn query_span(
    engine: Engine,
    operation: &'static str,
    sql: &str,
    params: &[Value],
    parent: Option<&Span>,
) -> Span {
    match parent {
        Some(p) => tracing::info_span!(
            parent: p,
            "db.query",
            db.system = engine.as_str(),
            db.operation = operation,
            db.statement = %statement_text(sql),
            params = params.len(),
            param_types = %kinds(params),
            rows = tracing::field::Empty,
            error.code = tracing::field::Empty,
            provider_code = tracing::field::Empty,
        ),
        None => tracing::info_span!(
            "db.query",
            db.system = engine.as_str(),
            db.operation = operation,
            db.statement = %statement_text(sql),
            params = params.len(),
            param_types = %kinds(params),
            rows = tracing::field::Empty,
            error.code = tracing::field::Empty,
            provider_code = tracing::field::Empty,
        ),
    }
}

/// Times one operation and records its outcome once.
pub(crate) struct Timer {
    engine: &'static str,
    operation: &'static str,
    started: Instant,
    span: Span,
}

impl Timer {
    pub(crate) fn start(engine: Engine, operation: &'static str, span: &Span) -> Self {
        Timer {
            engine: engine.as_str(),
            operation,
            started: Instant::now(),
            span: span.clone(),
        }
    }

    /// Success: `rows` read or written.
    pub(crate) fn ok(self, rows: u64, written: bool) {
        metrics::counter!(QUERIES_TOTAL, "engine" => self.engine, "operation" => self.operation, "outcome" => "ok")
            .increment(1);
        metrics::histogram!(QUERY_DURATION, "engine" => self.engine, "operation" => self.operation)
            .record(self.started.elapsed().as_secs_f64());
        let direction = if written { "written" } else { "read" };
        metrics::counter!(ROWS_TOTAL, "engine" => self.engine, "operation" => self.operation, "direction" => direction)
            .increment(rows);
        self.span.record("rows", rows);
    }

    /// Failure.
    pub(crate) fn failed(self, err: &Error) {
        metrics::counter!(QUERIES_TOTAL, "engine" => self.engine, "operation" => self.operation, "outcome" => "error")
            .increment(1);
        metrics::histogram!(QUERY_DURATION, "engine" => self.engine, "operation" => self.operation)
            .record(self.started.elapsed().as_secs_f64());
        let provider = err.provider_code().unwrap_or("").to_owned();
        metrics::counter!(ERRORS_TOTAL, "engine" => self.engine, "operation" => self.operation, "code" => err.code().as_str(), "provider_code" => provider.clone())
            .increment(1);
        self.span.record("error.code", err.code().as_str());
        if !provider.is_empty() {
            self.span.record("provider_code", provider.as_str());
        }
        let _enter = self.span.enter();
        tracing::debug!(code = err.code().as_str(), retryable = err.is_retryable(), error = %err, "database operation failed");
    }

    /// Record the outcome of `result`.
    pub(crate) fn finish<T>(
        self,
        result: &Result<T, Error>,
        rows: impl FnOnce(&T) -> u64,
        written: bool,
    ) {
        match result {
            Ok(v) => self.ok(rows(v), written),
            Err(e) => self.failed(e),
        }
    }
}

pub(crate) fn retry(engine: Engine, stage: &'static str, err: &Error, delay: Duration) {
    metrics::counter!(RETRIES_TOTAL, "engine" => engine.as_str(), "stage" => stage).increment(1);
    tracing::info!(
        db.system = engine.as_str(),
        stage,
        code = err.code().as_str(),
        delay_ms = delay.as_millis() as u64,
        error = %err,
        "retrying database operation"
    );
}

pub(crate) fn stale_connection(engine: Engine) {
    metrics::counter!(STALE_CONNECTIONS_TOTAL, "engine" => engine.as_str()).increment(1);
}

pub(crate) fn transaction_ended(engine: Engine, outcome: &'static str, span: &Span) {
    metrics::counter!(TRANSACTIONS_TOTAL, "engine" => engine.as_str(), "outcome" => outcome)
        .increment(1);
    span.record("outcome", outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_statements_are_cut_for_spans() {
        assert_eq!(statement_text("SELECT 1"), "SELECT 1");
        let long = "é".repeat(MAX_STATEMENT_CHARS + 10);
        let cut = statement_text(&long);
        assert_eq!(cut.chars().count(), MAX_STATEMENT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
