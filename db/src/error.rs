//! Driver errors into the runtime's [`Error`]: a code of the specification's taxonomy from the
//! SQLSTATE (PostgreSQL) or extended result code (SQLite), the provider's code kept as
//! `provider_code` (and SQLite's symbolic name as `provider_name`), and whether a retry may succeed.
//!
//! The table in `docs/database.md` is this module's mapping in prose; keep them together.
//!
//! Architecture Invariant: an error never carries a bound parameter. PostgreSQL's DETAIL field,
//! which quotes row values ("Key (email)=(…) already exists"), is not kept; the constraint, table
//! and column names are, as details.

use connector_runtime::{Error, ErrorCode, ErrorSource};

use crate::config::Engine;

/// Why a running statement was stopped by this crate (SQLite reports both as SQLITE_INTERRUPT,
/// PostgreSQL a client cancel as 57014 without the timeout wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancelled,
    TimedOut,
}

/// A driver error as a connector error.
pub(crate) fn from_sqlx(err: sqlx::Error, engine: Engine) -> Error {
    use sqlx::Error as E;
    let (code, source, retryable, what) = match &err {
        E::Database(db) => {
            let e = from_database(db.as_ref(), engine);
            return e.with_cause(err);
        }
        E::Io(io) if tls_failure(io) => (
            ErrorCode::NetworkError,
            ErrorSource::Transport,
            false,
            "the TLS handshake failed",
        ),
        E::Io(io) => (
            ErrorCode::NetworkError,
            ErrorSource::Transport,
            true,
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "the server refused the connection",
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe => "the connection to the server was lost",
                _ => "communicating with the server failed",
            },
        ),
        E::Tls(_) => (
            ErrorCode::NetworkError,
            ErrorSource::Transport,
            false,
            "the TLS handshake failed",
        ),
        E::PoolTimedOut => (
            ErrorCode::Timeout,
            ErrorSource::Transport,
            true,
            "no connection could be had within the pool's acquire timeout",
        ),
        E::PoolClosed => (
            ErrorCode::InvalidRequest,
            ErrorSource::Unknown,
            false,
            "the database handle was closed",
        ),
        E::Protocol(_) => (
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            false,
            "the server sent something the protocol does not allow",
        ),
        E::ColumnDecode { .. } | E::Decode(_) => (
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            false,
            "a value could not be decoded",
        ),
        E::Encode(_) => (
            ErrorCode::ValidationError,
            ErrorSource::Unknown,
            false,
            "a parameter could not be encoded",
        ),
        E::Configuration(_) | E::InvalidArgument(_) => (
            ErrorCode::ValidationError,
            ErrorSource::Unknown,
            false,
            "the configuration was refused",
        ),
        E::RowNotFound => (
            ErrorCode::NotFound,
            ErrorSource::Unknown,
            false,
            "the query returned no row",
        ),
        E::ColumnNotFound(_) | E::ColumnIndexOutOfBounds { .. } | E::TypeNotFound { .. } => (
            ErrorCode::InvalidRequest,
            ErrorSource::Unknown,
            false,
            "the statement does not fit its result",
        ),
        E::WorkerCrashed => (
            ErrorCode::ServerError,
            ErrorSource::Unknown,
            false,
            "the SQLite worker thread stopped",
        ),
        _ => (
            ErrorCode::ServerError,
            ErrorSource::Unknown,
            false,
            "the database driver failed",
        ),
    };
    Error::new(code, source, format!("{engine}: {what}: {err}"))
        .with_retryable(retryable)
        .with_detail("engine", engine.as_str())
        .with_cause(err)
}

/// A rustls failure surfaced as an I/O error (a certificate that does not verify, an alert from
/// the server): retrying does not change it.
fn tls_failure(io: &std::io::Error) -> bool {
    io.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

fn from_database(db: &dyn sqlx::error::DatabaseError, engine: Engine) -> Error {
    let provider = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let message = db.message().to_owned();
    let (code, source, retryable) = match engine {
        Engine::Postgres => sqlstate(&provider, &message),
        Engine::Sqlite => {
            let n: i32 = provider.parse().unwrap_or(1);
            sqlite_code(n)
        }
    };
    let mut e = Error::new(code, source, format!("{engine} [{provider}]: {message}"))
        .with_retryable(retryable)
        .with_request_sent(true)
        .with_detail("engine", engine.as_str())
        .with_detail("provider_code", provider.clone())
        .with_detail("provider_message", message);
    if let Some(table) = db.table() {
        e = e.with_detail("table", table);
    }
    if let Some(constraint) = db.constraint() {
        e = e.with_detail("constraint", constraint);
    }
    match engine {
        Engine::Postgres => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(column) = pg.column() {
                    e = e.with_detail("column", column);
                }
                if let Some(schema) = pg.schema() {
                    e = e.with_detail("schema", schema);
                }
                if let Some(hint) = pg.hint() {
                    e = e.with_detail("hint", hint);
                }
            }
        }
        Engine::Sqlite => {
            if let Some(name) = provider.parse().ok().and_then(sqlite_name) {
                e = e.with_detail("provider_name", name);
            }
        }
    }
    e
}

/// PostgreSQL: SQLSTATE (and, for 57014, the message) to code, source, retryable.
pub(crate) fn sqlstate(state: &str, message: &str) -> (ErrorCode, ErrorSource, bool) {
    use ErrorCode as C;
    use ErrorSource as S;
    let class = state.get(..2).unwrap_or("");
    match state {
        "42501" => (C::AuthFailed, S::Auth, false),
        "23505" | "23503" | "23P01" => (C::Conflict, S::Transport, false),
        "23502" | "23514" => (C::ValidationError, S::Transport, false),
        "40001" | "40P01" => (C::Conflict, S::Transport, true),
        "57014" if message.contains("statement timeout") => (C::Timeout, S::Transport, true),
        "57014" => (C::Cancelled, S::Transport, false),
        "55P03" => (C::Timeout, S::Transport, true),
        "57P01" | "57P02" | "57P03" => (C::NetworkError, S::Transport, true),
        "53300" => (C::ServerError, S::Transport, true),
        // The caller's statement and parameters do not match (a missing or extra parameter).
        "08P01" => (C::InvalidRequest, S::Transport, false),
        "0A000" => (C::Unsupported, S::Transport, false),
        _ => match class {
            "08" => (C::NetworkError, S::Transport, true),
            "28" => (C::AuthFailed, S::Auth, false),
            "42" | "25" | "26" | "34" | "3D" | "3F" | "P0" | "2B" | "0B" | "2F" | "39" => {
                (C::InvalidRequest, S::Transport, false)
            }
            "22" | "23" | "27" => (C::ValidationError, S::Transport, false),
            "40" => (C::Conflict, S::Transport, true),
            "53" => (C::ServerError, S::Transport, true),
            _ => (C::ServerError, S::Transport, false),
        },
    }
}

/// SQLite: extended result code to code, source, retryable.
pub(crate) fn sqlite_code(code: i32) -> (ErrorCode, ErrorSource, bool) {
    use ErrorCode as C;
    use ErrorSource as S;
    match code {
        // CONSTRAINT_UNIQUE, _PRIMARYKEY, _FOREIGNKEY, _ROWID
        2067 | 1555 | 787 | 2579 => (C::Conflict, S::Transport, false),
        // CONSTRAINT (generic), _NOTNULL, _CHECK, _TRIGGER, _DATATYPE, _FUNCTION, _VTAB, _PINNED
        19 | 1299 | 275 | 1811 | 3091 | 1043 | 2323 | 2835 => {
            (C::ValidationError, S::Transport, false)
        }
        // INTERRUPT: refined by the reason this crate stopped the statement.
        9 => (C::Cancelled, S::Transport, false),
        _ => match code & 0xff {
            // BUSY, LOCKED: another connection held the lock past busy_timeout.
            5 | 6 => (C::Timeout, S::Transport, true),
            // PERM, READONLY, AUTH
            3 | 8 | 23 => (C::AuthFailed, S::Auth, false),
            // CANTOPEN: the file cannot be opened (SQLite's "cannot connect").
            14 => (C::NetworkError, S::Transport, false),
            // TOOBIG, MISMATCH, RANGE
            18 | 20 | 25 => (C::ValidationError, S::Transport, false),
            // ERROR (syntax, no such table or column), MISUSE
            1 | 21 => (C::InvalidRequest, S::Transport, false),
            // INTERNAL, NOMEM, IOERR, CORRUPT, FULL, PROTOCOL, NOTADB, and the rest
            _ => (C::ServerError, S::Transport, false),
        },
    }
}

/// SQLite's name of an extended result code, where it is one this crate maps.
pub(crate) fn sqlite_name(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "SQLITE_ERROR",
        3 => "SQLITE_PERM",
        5 => "SQLITE_BUSY",
        6 => "SQLITE_LOCKED",
        8 => "SQLITE_READONLY",
        9 => "SQLITE_INTERRUPT",
        13 => "SQLITE_FULL",
        14 => "SQLITE_CANTOPEN",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        23 => "SQLITE_AUTH",
        25 => "SQLITE_RANGE",
        26 => "SQLITE_NOTADB",
        261 => "SQLITE_BUSY_RECOVERY",
        262 => "SQLITE_LOCKED_SHAREDCACHE",
        275 => "SQLITE_CONSTRAINT_CHECK",
        517 => "SQLITE_BUSY_SNAPSHOT",
        787 => "SQLITE_CONSTRAINT_FOREIGNKEY",
        1299 => "SQLITE_CONSTRAINT_NOTNULL",
        1555 => "SQLITE_CONSTRAINT_PRIMARYKEY",
        1811 => "SQLITE_CONSTRAINT_TRIGGER",
        2067 => "SQLITE_CONSTRAINT_UNIQUE",
        2579 => "SQLITE_CONSTRAINT_ROWID",
        3091 => "SQLITE_CONSTRAINT_DATATYPE",
        _ => return None,
    })
}

/// A statement this crate stopped: CANCELLED or TIMEOUT whatever the engine reported.
pub(crate) fn stopped(err: Error, reason: StopReason) -> Error {
    let code = match reason {
        StopReason::Cancelled => ErrorCode::Cancelled,
        StopReason::TimedOut => ErrorCode::Timeout,
    };
    if err.code() == code {
        return err;
    }
    let what = match reason {
        StopReason::Cancelled => "the statement was cancelled",
        StopReason::TimedOut => "the statement ran past its timeout and was stopped",
    };
    let mut e = Error::new(
        code,
        ErrorSource::Transport,
        format!("{what} ({})", err.message()),
    )
    .with_retryable(reason == StopReason::TimedOut)
    .with_request_sent(true);
    for (k, v) in err.details() {
        e = e.with_detail(k, v.clone());
    }
    e.with_cause(err)
}

/// A statement stopped before the engine reported anything (the caller's token or deadline).
pub(crate) fn stopped_here(engine: Engine, reason: StopReason) -> Error {
    let (code, what) = match reason {
        StopReason::Cancelled => (ErrorCode::Cancelled, "the statement was cancelled"),
        StopReason::TimedOut => (
            ErrorCode::Timeout,
            "the statement ran past its timeout and was stopped",
        ),
    };
    Error::new(code, ErrorSource::Transport, format!("{engine}: {what}"))
        .with_retryable(reason == StopReason::TimedOut)
        .with_request_sent(true)
        .with_detail("engine", engine.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_onto_the_taxonomy() {
        let c = |s: &str, m: &str| sqlstate(s, m);
        assert_eq!(c("42601", "").0, ErrorCode::InvalidRequest);
        assert_eq!(c("42P01", "").0, ErrorCode::InvalidRequest);
        assert_eq!(c("42501", "").0, ErrorCode::AuthFailed);
        assert_eq!(c("28P01", "").0, ErrorCode::AuthFailed);
        assert_eq!(
            c("23505", ""),
            (ErrorCode::Conflict, ErrorSource::Transport, false)
        );
        assert_eq!(c("23503", "").0, ErrorCode::Conflict);
        assert_eq!(c("23502", "").0, ErrorCode::ValidationError);
        assert_eq!(c("23514", "").0, ErrorCode::ValidationError);
        assert_eq!(c("22P02", "").0, ErrorCode::ValidationError);
        assert_eq!(
            c("08006", ""),
            (ErrorCode::NetworkError, ErrorSource::Transport, true)
        );
        assert_eq!(c("57P01", "").0, ErrorCode::NetworkError);
        assert_eq!(c("08P01", "").0, ErrorCode::InvalidRequest);
        assert_eq!(
            c("57014", "canceling statement due to statement timeout"),
            (ErrorCode::Timeout, ErrorSource::Transport, true)
        );
        assert_eq!(
            c("57014", "canceling statement due to user request").0,
            ErrorCode::Cancelled
        );
        assert_eq!(
            c("40001", ""),
            (ErrorCode::Conflict, ErrorSource::Transport, true)
        );
        assert!(c("40P01", "").2);
        assert_eq!(c("XX000", "").0, ErrorCode::ServerError);
    }

    #[test]
    fn sqlite_codes_map_onto_the_taxonomy() {
        assert_eq!(sqlite_code(2067).0, ErrorCode::Conflict);
        assert_eq!(sqlite_code(1555).0, ErrorCode::Conflict);
        assert_eq!(sqlite_code(787).0, ErrorCode::Conflict);
        assert_eq!(sqlite_code(1299).0, ErrorCode::ValidationError);
        assert_eq!(sqlite_code(275).0, ErrorCode::ValidationError);
        assert_eq!(sqlite_code(1).0, ErrorCode::InvalidRequest);
        assert_eq!(
            sqlite_code(5),
            (ErrorCode::Timeout, ErrorSource::Transport, true)
        );
        assert!(sqlite_code(517).2);
        assert_eq!(sqlite_code(8).0, ErrorCode::AuthFailed);
        assert_eq!(sqlite_code(9).0, ErrorCode::Cancelled);
        assert_eq!(sqlite_code(11).0, ErrorCode::ServerError);
        assert_eq!(sqlite_name(2067), Some("SQLITE_CONSTRAINT_UNIQUE"));
    }
}
