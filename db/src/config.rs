//! Connection configuration: one [`DbConfig`] for both engines, read from a URL or built from fields,
//! with the pool, timeout and retry defaults documented on each field.
//!
//! The password is a [`SecretString`] from the moment it is read; `Debug` and
//! [`DbConfig::redacted_url`] print `[REDACTED]` in its place.

use std::fmt;
use std::path::PathBuf;

use connector_runtime::config::RetryConfig;
use connector_runtime::{Error, SecretString};
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;

/// Which database engine a configuration connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// SQLite, embedded in the process: a file, or memory.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Engine {
    /// The label used in metrics and spans (`sqlite`, `postgresql`, as OpenTelemetry's `db.system`).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgresql",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS to a PostgreSQL server, as libpq's `sslmode` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, plain otherwise, no certificate check (libpq's default).
    #[default]
    Prefer,
    /// TLS required, the certificate not checked.
    Require,
    /// TLS required, the certificate must chain to a trusted CA (`ssl_root_cert` or the built-in
    /// public roots); the host name is not checked.
    VerifyCa,
    /// TLS required, the certificate must chain to a trusted CA and name the host.
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::validation(
                    "sslmode",
                    format!(
                        "`{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    ),
                ));
            }
        })
    }
}

/// The connection pool (one per [`Database`](crate::Database)).
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Most connections open at once (default 10; an in-memory SQLite database always uses 1).
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0; an in-memory SQLite database keeps 1, or
    /// its data would go with its last connection).
    pub min_connections: u32,
    /// An idle connection above `min_connections` is closed after this long (default 10 minutes;
    /// None: never).
    pub idle_timeout_ms: Option<u64>,
    /// A connection is replaced after this long (default 30 minutes; None: never).
    pub max_lifetime_ms: Option<u64>,
    /// How long a call waits for a connection: a free one from the pool, or a new one while the
    /// server refuses connections (it is starting) (default 10 s). Past it the call fails with
    /// TIMEOUT, or with the cause of the last failed connection attempt.
    pub acquire_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            min_connections: 0,
            idle_timeout_ms: Some(600_000),
            max_lifetime_ms: Some(1_800_000),
            acquire_timeout_ms: 10_000,
        }
    }
}

/// Where and how to connect. `DbConfig::default()` is an in-memory SQLite database: the embedded
/// default when no server is named.
#[derive(Clone)]
pub struct DbConfig {
    /// The engine.
    pub engine: Engine,
    /// SQLite: the database file (created when missing); None: a private in-memory database.
    pub path: Option<PathBuf>,
    /// PostgreSQL: host name or address (default `localhost`).
    pub host: String,
    /// PostgreSQL: port (default 5432).
    pub port: u16,
    /// PostgreSQL: database name (default: the user name).
    pub database: Option<String>,
    /// PostgreSQL: user name (default `postgres`).
    pub username: String,
    /// PostgreSQL: password, never printed.
    pub password: Option<SecretString>,
    /// PostgreSQL: TLS mode (default `prefer`, as libpq).
    pub ssl_mode: SslMode,
    /// PostgreSQL: PEM file of the CA(s) the server certificate must chain to, beside the built-in
    /// public roots (`sslrootcert`).
    pub ssl_root_cert: Option<PathBuf>,
    /// PostgreSQL: `application_name` shown in `pg_stat_activity` (default `connector-db`).
    pub application_name: String,
    /// Connection pool limits.
    pub pool: PoolConfig,
    /// Longest a single statement may run before the engine stops it with TIMEOUT (default 5
    /// minutes, long enough for bulk loads; None: no limit). PostgreSQL enforces it on the server
    /// (`statement_timeout`); SQLite through its progress handler.
    pub statement_timeout_ms: Option<u64>,
    /// SQLite: how long a writer waits for another connection's lock before failing (default 5 s).
    pub busy_timeout_ms: u64,
    /// Retries of connection failures (and of statements the engine rolled back on a serialization
    /// failure or deadlock, outside a transaction), with the runtime's backoff (default 4 attempts,
    /// 200 ms doubling to at most 5 s, with jitter).
    pub retry: RetryConfig,
    /// Rows a [`RowStream`](crate::RowStream) reads ahead of its consumer (default 256): the bound
    /// on a stream's memory, and its backpressure.
    pub stream_buffer_rows: usize,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            engine: Engine::Sqlite,
            path: None,
            host: "localhost".to_owned(),
            port: 5432,
            database: None,
            username: "postgres".to_owned(),
            password: None,
            ssl_mode: SslMode::default(),
            ssl_root_cert: None,
            application_name: "connector-db".to_owned(),
            pool: PoolConfig::default(),
            statement_timeout_ms: Some(300_000),
            busy_timeout_ms: 5_000,
            retry: default_retry(),
            stream_buffer_rows: 256,
        }
    }
}

/// The database retry defaults: quicker than the HTTP ones, a server restart takes seconds.
pub fn default_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        initial_delay_ms: 200,
        max_delay_ms: 5_000,
        ..RetryConfig::default()
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DbConfig");
        d.field("engine", &self.engine);
        match self.engine {
            Engine::Sqlite => {
                d.field("path", &self.path);
            }
            Engine::Postgres => {
                d.field("host", &self.host)
                    .field("port", &self.port)
                    .field("database", &self.database)
                    .field("username", &self.username)
                    .field(
                        "password",
                        &self
                            .password
                            .as_ref()
                            .map(|_| connector_runtime::redact::REDACTED),
                    )
                    .field("ssl_mode", &self.ssl_mode)
                    .field("ssl_root_cert", &self.ssl_root_cert)
                    .field("application_name", &self.application_name);
            }
        }
        d.field("pool", &self.pool)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .field("retry", &self.retry)
            .field("stream_buffer_rows", &self.stream_buffer_rows)
            .finish()
    }
}

impl DbConfig {
    /// An in-memory SQLite database (private to this [`Database`](crate::Database)).
    pub fn sqlite_memory() -> Self {
        DbConfig::default()
    }

    /// A SQLite database file, created when missing.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        DbConfig {
            path: Some(path.into()),
            ..DbConfig::default()
        }
    }

    /// A PostgreSQL server.
    pub fn postgres(
        host: impl Into<String>,
        port: u16,
        database: impl Into<String>,
        username: impl Into<String>,
    ) -> Self {
        DbConfig {
            engine: Engine::Postgres,
            host: host.into(),
            port,
            database: Some(database.into()),
            username: username.into(),
            ..DbConfig::default()
        }
    }

    /// Builder: the password.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    /// Builder: TLS mode and, optionally, the CA file.
    pub fn with_ssl(mut self, mode: SslMode, root_cert: Option<PathBuf>) -> Self {
        self.ssl_mode = mode;
        self.ssl_root_cert = root_cert;
        self
    }

    /// From a URL, or the embedded default (in-memory SQLite) when there is none.
    pub fn from_optional_url(url: Option<&str>) -> Result<Self, Error> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => DbConfig::from_url(u),
            None => Ok(DbConfig::default()),
        }
    }

    /// From a URL:
    ///
    /// - `sqlite::memory:` (or `sqlite://:memory:`): an in-memory database;
    /// - `sqlite://data.db` (relative), `sqlite:///var/lib/app.db` (absolute), `sqlite:data.db`;
    /// - `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/ca.pem`
    ///   (`postgresql://` too; user, password and database percent-decoded). Query keys:
    ///   `sslmode`, `sslrootcert`, `application_name`, `statement_timeout` (milliseconds), and
    ///   `connect_timeout` (seconds, the pool's acquire timeout). Any other key is refused, so a
    ///   typo does not silently weaken a setting.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        if url.contains('\0') {
            return Err(Error::validation("url", "contains a NUL character"));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return sqlite_from_url(rest);
        }
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::validation(
                "url",
                format!("not a database URL ({e}); expected sqlite:… or postgres://…"),
            )
        })?;
        match parsed.scheme() {
            "postgres" | "postgresql" => postgres_from_url(&parsed),
            other => Err(Error::validation(
                "url",
                format!("unsupported scheme `{other}`: use sqlite: or postgres://"),
            )),
        }
    }

    /// The URL this configuration stands for, with the password as `[REDACTED]`: safe to log.
    pub fn redacted_url(&self) -> String {
        match self.engine {
            Engine::Sqlite => match &self.path {
                Some(p) => format!("sqlite://{}", p.display()),
                None => "sqlite::memory:".to_owned(),
            },
            Engine::Postgres => {
                let user = percent_encoding::utf8_percent_encode(
                    &self.username,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let password = if self.password.is_some() {
                    format!(":{}", connector_runtime::redact::REDACTED)
                } else {
                    String::new()
                };
                format!(
                    "postgres://{user}{password}@{}:{}/{}?sslmode={}",
                    self.host,
                    self.port,
                    self.database_name(),
                    self.ssl_mode.as_str()
                )
            }
        }
    }

    /// The PostgreSQL database name: `database`, else the user name.
    pub fn database_name(&self) -> &str {
        self.database.as_deref().unwrap_or(&self.username)
    }

    /// Check every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        let p = &self.pool;
        if p.max_connections == 0 {
            return Err(Error::validation(
                "pool.max_connections",
                "must be at least 1",
            ));
        }
        if p.min_connections > p.max_connections {
            return Err(Error::validation(
                "pool.min_connections",
                format!(
                    "{} is above max_connections ({})",
                    p.min_connections, p.max_connections
                ),
            ));
        }
        if p.acquire_timeout_ms == 0 {
            return Err(Error::validation(
                "pool.acquire_timeout_ms",
                "must be above 0",
            ));
        }
        if self.stream_buffer_rows == 0 {
            return Err(Error::validation(
                "stream_buffer_rows",
                "must be at least 1",
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::validation(
                "retry.max_attempts",
                "must be at least 1",
            ));
        }
        if self.statement_timeout_ms == Some(0) {
            return Err(Error::validation(
                "statement_timeout_ms",
                "must be above 0 (None for no limit)",
            ));
        }
        let nul = |field: &str, s: &str| {
            if s.contains('\0') {
                Err(Error::validation(field, "contains a NUL character"))
            } else {
                Ok(())
            }
        };
        match self.engine {
            Engine::Sqlite => {
                if let Some(path) = &self.path {
                    nul("path", &path.to_string_lossy())?;
                    if path.as_os_str().is_empty() {
                        return Err(Error::validation("path", "is empty"));
                    }
                }
            }
            Engine::Postgres => {
                nul("host", &self.host)?;
                nul("username", &self.username)?;
                nul("application_name", &self.application_name)?;
                if let Some(db) = &self.database {
                    nul("database", db)?;
                }
                if let Some(pw) = &self.password {
                    nul("password", pw.expose_secret())?;
                }
                if self.host.is_empty() {
                    return Err(Error::validation("host", "is empty"));
                }
                if self.port == 0 {
                    return Err(Error::validation("port", "must be above 0"));
                }
                if self.username.is_empty() {
                    return Err(Error::validation("username", "is empty"));
                }
            }
        }
        Ok(())
    }
}

fn sqlite_from_url(rest: &str) -> Result<DbConfig, Error> {
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let mut memory = false;
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        match pair {
            "mode=memory" => memory = true,
            other => {
                return Err(Error::validation(
                    "url",
                    format!("unsupported SQLite URL parameter `{other}`"),
                ));
            }
        }
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if memory || path == ":memory:" || path.is_empty() {
        if !memory && path.is_empty() {
            return Err(Error::validation(
                "url",
                "a SQLite URL names a file (sqlite://data.db) or memory (sqlite::memory:)",
            ));
        }
        return Ok(DbConfig::sqlite_memory());
    }
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| {
        Error::validation("url", "the SQLite path is not UTF-8 once percent-decoded")
    })?;
    let config = DbConfig::sqlite(decoded.as_ref());
    config.validate()?;
    Ok(config)
}

fn postgres_from_url(url: &url::Url) -> Result<DbConfig, Error> {
    let decode = |field: &str, s: &str| -> Result<String, Error> {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| Error::validation(field, "is not UTF-8 once percent-decoded"))
    };
    let mut config = DbConfig {
        engine: Engine::Postgres,
        ..DbConfig::default()
    };
    if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
        // An IPv6 literal comes bracketed; the driver wants it bare.
        config.host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
    }
    if let Some(port) = url.port() {
        config.port = port;
    }
    if !url.username().is_empty() {
        config.username = decode("username", url.username())?;
    }
    if let Some(pw) = url.password() {
        config.password = Some(SecretString::from(decode("password", pw)?));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() {
        config.database = Some(decode("database", db)?);
    }
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "sslmode" => config.ssl_mode = SslMode::parse(&value)?,
            "sslrootcert" => config.ssl_root_cert = Some(PathBuf::from(value.as_ref())),
            "application_name" => config.application_name = value.into_owned(),
            "statement_timeout" => {
                let ms: u64 = value.parse().map_err(|_| {
                    Error::validation(
                        "statement_timeout",
                        format!("`{value}` is not a number of milliseconds"),
                    )
                })?;
                config.statement_timeout_ms = (ms > 0).then_some(ms);
            }
            "connect_timeout" => {
                let s: u64 = value.parse().map_err(|_| {
                    Error::validation(
                        "connect_timeout",
                        format!("`{value}` is not a number of seconds"),
                    )
                })?;
                config.pool.acquire_timeout_ms = s.saturating_mul(1000).max(1);
            }
            other => {
                return Err(Error::validation(
                    "url",
                    format!("unsupported PostgreSQL URL parameter `{other}`"),
                ));
            }
        }
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_both_engines() {
        let c = DbConfig::from_url("sqlite::memory:").unwrap();
        assert_eq!((c.engine, c.path.clone()), (Engine::Sqlite, None));
        let c = DbConfig::from_url("sqlite://data/app.db").unwrap();
        assert_eq!(c.path.as_deref(), Some(std::path::Path::new("data/app.db")));
        let c = DbConfig::from_url("sqlite:///var/lib/app.db").unwrap();
        assert_eq!(
            c.path.as_deref(),
            Some(std::path::Path::new("/var/lib/app.db"))
        );
        let c = DbConfig::from_url(
            "postgres://ann:p%40ss@db.example:6543/sales?sslmode=verify-full&sslrootcert=/etc/ca.pem&statement_timeout=1500",
        )
        .unwrap();
        assert_eq!(c.engine, Engine::Postgres);
        assert_eq!((c.host.as_str(), c.port), ("db.example", 6543));
        assert_eq!(c.username, "ann");
        assert_eq!(c.password.as_ref().unwrap().expose_secret(), "p@ss");
        assert_eq!(c.database_name(), "sales");
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(
            c.ssl_root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(c.statement_timeout_ms, Some(1500));
        let c = DbConfig::from_url("postgresql://u@[::1]/").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.database_name()),
            ("::1", 5432, "u")
        );
        assert_eq!(
            DbConfig::from_optional_url(None).unwrap().engine,
            Engine::Sqlite
        );
    }

    #[test]
    fn bad_urls_are_errors_naming_the_problem() {
        for (url, field) in [
            ("mysql://x", "url"),
            ("postgres://h/db?sslmode=maybe", "sslmode"),
            ("postgres://h/db?ssl_mode=require", "url"),
            ("postgres://h:0/db", "port"),
            (
                "postgres://h/db?statement_timeout=soon",
                "statement_timeout",
            ),
            ("sqlite:", "url"),
            ("sqlite://a.db?cache=shared", "url"),
            ("not a url", "url"),
            ("postgres://h/d\0b", "url"),
        ] {
            let e = DbConfig::from_url(url).unwrap_err();
            assert_eq!(
                e.code(),
                connector_runtime::ErrorCode::ValidationError,
                "{url}"
            );
            assert_eq!(e.details()["field"], field, "{url}: {e}");
        }
    }

    #[test]
    fn the_password_is_never_printed() {
        let c = DbConfig::from_url("postgres://ann:hunter2@h/db").unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
        let url = c.redacted_url();
        assert!(
            !url.contains("hunter2") && url.contains("[REDACTED]"),
            "{url}"
        );
    }

    #[test]
    fn pool_limits_are_validated() {
        let mut c = DbConfig::default();
        c.pool.max_connections = 0;
        assert_eq!(
            c.validate().unwrap_err().details()["field"],
            "pool.max_connections"
        );
        let mut c = DbConfig::default();
        c.pool.min_connections = 11;
        assert_eq!(
            c.validate().unwrap_err().details()["field"],
            "pool.min_connections"
        );
        assert!(DbConfig::default().validate().is_ok());
    }
}
