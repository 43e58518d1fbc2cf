//! `connector-sync`: keeps tables in a store up to date from a generated connector's list
//! operations: a full sync, then incremental ones from a stored cursor; idempotent (upserts that
//! keep the newest row and skip unchanged ones); resumable after a crash at any instant (each
//! page's rows and the checkpoint after it are one transaction); malformed items kept in a
//! dead-letter table; additive schema evolution with migration notes; PII redaction.
//!
//! - [`catalog`]: the streams a generated crate describes (its `sync` feature).
//! - [`transform`]: items into rows, deletions and dead letters (pure).
//! - [`dest`]: the [`Destination`] boundary and [`DbDestination`] over `connector-db`.
//! - [`engine`]: [`Syncer`], which runs streams page by page.
//! - [`cli`]: the `<vendor>-sync` command line (`streams`, `sync`, `status`).
#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod dest;
pub mod engine;
pub mod names;
pub mod redact;
pub mod table;
pub mod transform;

pub use catalog::{
    Catalog, CheckFn, Column, ColumnKind, Cursor, CursorFilter, CursorKind, Deletes, FetchArgs,
    FetchFn, Param, ParamSource, StreamDef, check_item,
};
pub use connector_runtime as runtime;
pub use dest::{DbDestination, Destination, PartitionState};
pub use engine::{Progress, RunReport, StreamReport, SyncOptions, Syncer};
pub use redact::{RedactMode, Redaction};
