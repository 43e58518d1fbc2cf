//! `connector-sync`: keeps tables in a store up to date from a generated connector's list
//! operations: full, then incremental from a stored cursor, idempotent, resumable after a crash at
//! any instant.
#![warn(missing_docs)]

pub mod catalog;

pub use catalog::{
    Catalog, CheckFn, Column, ColumnKind, Cursor, CursorFilter, CursorKind, Deletes, FetchArgs,
    FetchFn, Param, ParamSource, StreamDef,
};
pub use connector_runtime as runtime;

/// The `<vendor>-sync` command of generated connectors (placeholder until the engine's command line
/// lands: it reports failure).
pub mod cli {
    /// Run the command over `catalog`.
    pub fn main(_: crate::Catalog) -> std::process::ExitCode {
        std::process::ExitCode::FAILURE
    }
}
