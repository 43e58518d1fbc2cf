//! `connector-db`: SQLite (embedded: a file or memory, the default when no server is named) and
//! PostgreSQL behind one [`Database`] interface, with the runtime's errors, retry policy and
//! observability.
//!
//! - Configuration from a URL or fields ([`DbConfig`]): pool limits, TLS modes including
//!   `verify-full` against a CA file, statement timeout; the password a `SecretString`.
//! - [`Database::health`]: a round trip and the server's version.
//! - [`Database::execute`] and [`Database::query`] take SQL and bound [`Value`]s: there is no API
//!   that writes a value into SQL text. Rows are dynamic ([`Row`]) or typed through serde
//!   ([`Database::query_as`]); [`Database::stream`] reads large results with bounded memory.
//! - [`Database::begin`]: a [`Transaction`] with savepoints, rolled back when dropped.
//! - Bulk writes for syncs: [`Database::upsert_batch`] and [`Database::copy_in`].
//! - [`Database::schema`] and additive DDL: [`Database::create_table`], [`Database::add_column`],
//!   [`Database::create_index`].
//! - Errors are [`connector_runtime::Error`] with the SQLSTATE or SQLite result code kept as
//!   `provider_code()`; a running statement is stopped by a [`QueryOptions`] token or timeout, or
//!   by dropping its future.
//!
//! ```no_run
//! # async fn demo() -> Result<(), connector_runtime::Error> {
//! use connector_db::{Database, DbConfig, Value};
//! let db = Database::connect(DbConfig::from_optional_url(std::env::var("DATABASE_URL").ok().as_deref())?).await?;
//! db.execute("CREATE TABLE IF NOT EXISTS items (id BIGINT PRIMARY KEY, name TEXT)", &[]).await?;
//! let sql = match db.engine() {
//!     connector_db::Engine::Postgres => "INSERT INTO items (id, name) VALUES ($1, $2)",
//!     connector_db::Engine::Sqlite => "INSERT INTO items (id, name) VALUES (?1, ?2)",
//! };
//! db.execute(sql, &[Value::from(1i64), Value::from("first")]).await?;
//! let names: Vec<String> = db.query_as("SELECT name FROM items", &[]).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod bulk;
pub mod config;
mod database;
mod error;
mod exec;
pub mod ident;
pub mod observe;
mod pool;
mod row;
pub mod schema;
mod stream;
mod transaction;
mod value;

pub use bulk::{PG_MAX_PARAMS, SQLITE_MAX_PARAMS, UpsertWhen};
pub use config::{DbConfig, Engine, PoolConfig, SslMode};
pub use connector_runtime::{CancellationToken, Error, ErrorCode, ErrorSource};
pub use database::{Database, Health};
pub use exec::QueryOptions;
pub use ident::{quote_ident, quote_table};
pub use pool::PROGRESS_OPS;
pub use row::{DeError, Json, Row};
pub use schema::{Column, ColumnDef, ColumnDefault, ColumnType, Index, Schema, Table, TableDef};
pub use stream::RowStream;
pub use transaction::Transaction;
pub use value::Value;

/// Types a caller may need to build values.
pub use chrono;
pub use rust_decimal::Decimal;
pub use uuid::Uuid;
