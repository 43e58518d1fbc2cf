//! The catalog: the streams a generated connector can sync, as its generator detected them (or its
//! settings named them). Generated crates build it behind their `sync` feature
//! (`<crate>::sync::catalog()`); the engine and the command line read nothing else about a source.
//!
//! Architecture Invariant: everything here is plain data plus two function pointers per stream
//! (`fetch`, `check`), so the engine never names a generated type and a catalog is `'static`.

use connector_runtime::paginate::{Checkpoint, PaginateOptions, Paginator};
use connector_runtime::{Connector, ConnectorConfig, Error};
use std::collections::BTreeMap;

/// Opens the listing of one stream partition: calls the generated operation's builder with the
/// partition's parameters and hands the paginator the engine's options (cursor filter, resume point,
/// page size) through [`FetchArgs::configure`].
pub type FetchFn = fn(&Connector, &FetchArgs) -> Result<Paginator, Error>;

/// Checks one raw item against the generated item type (it decodes, required fields present, types
/// right); the error text goes to the dead-letter table.
pub type CheckFn = fn(&serde_json::Value) -> Result<(), String>;

/// The [`CheckFn`] of a stream whose items are `T`: the item decodes as `T` (the error is serde's
/// message). Generated catalogs name it once per stream instead of writing a function each.
pub fn check_item<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<(), String> {
    T::deserialize(v).map(|_| ()).map_err(|e| e.to_string())
}

/// Every stream of one connector.
#[derive(Clone, Debug)]
pub struct Catalog {
    /// The connector's name (`github`), the prefix of its state rows.
    pub connector: &'static str,
    /// The configuration the generated client starts from (`Client::config()`: base URL, auth
    /// schemes, the description's limits).
    pub config: fn() -> ConnectorConfig,
    /// The streams, in the description's order.
    pub streams: Vec<StreamDef>,
}

impl Catalog {
    /// The stream named `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamDef> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// One table kept up to date from one list operation.
#[derive(Clone, Debug)]
pub struct StreamDef {
    /// Table name (snake_case, unique in the catalog).
    pub name: &'static str,
    /// The operation's id as the description gives it.
    pub operation: &'static str,
    /// HTTP method and path template, for docs and logs.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// The Rust item type, for docs.
    pub item_type: &'static str,
    /// Wire names of the top-level item fields that together identify a row.
    pub primary_key: &'static [&'static str],
    /// The field whose value orders changes, and how the server filters by it.
    pub cursor: Option<Cursor>,
    /// Scalar item fields kept as typed columns (nested values stay in `_raw` only).
    pub columns: &'static [Column],
    /// Parameters the operation needs and where their values come from.
    pub params: &'static [Param],
    /// The stream whose rows give this one's parameters (`issues` for an issue's comments).
    pub parent: Option<&'static str>,
    /// How the source reports deleted rows.
    pub deletes: Deletes,
    /// `detected` or `settings`: where the key, cursor and filter came from.
    pub source: &'static str,
    /// The paginator's strategy, for docs (`Link header`, `cursor starting_after`...).
    pub paging: &'static str,
    /// Opens a listing.
    pub fetch: FetchFn,
    /// Checks an item.
    pub check: CheckFn,
}

/// The change-ordering field of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Wire name of the top-level item field.
    pub field: &'static str,
    /// How its values read.
    pub kind: CursorKind,
    /// The query parameter that asks the server for changes from a value on, when there is one
    /// (without it every sync lists everything and skips what is not newer).
    pub filter: Option<CursorFilter>,
}

/// How cursor values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorKind {
    /// RFC 3339 date-time text.
    DateTime,
    /// Seconds since the Unix epoch, as an integer.
    UnixSeconds,
    /// Any other integer that grows with each change (a version, a sequence number).
    Integer,
}

/// The query parameter filtering a listing by cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CursorFilter {
    /// Query parameter as sent (`since`, `created[gte]`, `updated_after`).
    pub param: &'static str,
    /// How the value is sent.
    pub format: CursorKind,
    /// The server includes items equal to the value (`gte`, GitHub's `since`); when false
    /// (`gt`, `after`) the engine sends one unit less.
    pub inclusive: bool,
}

/// One scalar column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Column name (snake_case).
    pub name: &'static str,
    /// Wire name of the top-level item field.
    pub wire: &'static str,
    /// Value type.
    pub kind: ColumnKind,
    /// The item type requires it.
    pub required: bool,
}

impl Column {
    /// A column of a field the item type requires. A generated catalog lists its columns this way,
    /// one short line each, in a constant.
    pub const fn required(name: &'static str, wire: &'static str, kind: ColumnKind) -> Column {
        Column {
            name,
            wire,
            kind,
            required: true,
        }
    }

    /// A column of a field the item may leave out.
    pub const fn optional(name: &'static str, wire: &'static str, kind: ColumnKind) -> Column {
        Column {
            name,
            wire,
            kind,
            required: false,
        }
    }
}

/// Column value types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// `true`/`false`.
    Bool,
    /// A 64-bit integer.
    Int,
    /// A double.
    Float,
    /// Text (string enums included).
    Text,
    /// RFC 3339 date-time, stored as a UTC timestamp.
    DateTime,
    /// Seconds since the Unix epoch, stored as a UTC timestamp.
    UnixSeconds,
    /// A calendar date.
    Date,
}

/// A parameter the operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Wire name.
    pub name: &'static str,
    /// Where its value comes from.
    pub from: ParamSource,
}

/// Where a parameter's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamSource {
    /// The user's configuration (`--param owner=octocat`); in a child stream, the parent
    /// partition's parameter of the same name when the user gives none (an issue's comments take
    /// `owner` and `repo` from the issues listing they hang off).
    Config,
    /// A field of each parent row (a JSON pointer into the parent item, `/number`).
    Parent(&'static str),
}

/// How deleted rows show in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletes {
    /// Not reported: rows stay until a full refresh no longer lists them.
    Unreported,
    /// Soft deletes: the item stays listed with a boolean flag and/or a deletion time.
    Soft {
        /// Wire name of a boolean field (`is_deleted`, `archived`).
        flag: Option<&'static str>,
        /// Wire name of a date-time field (`deleted_at`).
        at: Option<&'static str>,
    },
    /// Hard deletes: a tombstone item with this boolean field true (`{"id": "…", "deleted": true}`)
    /// removes the row.
    Tombstone {
        /// Wire name of the boolean field.
        flag: &'static str,
    },
}

/// What one listing of a stream partition is asked for.
#[derive(Clone, Debug, Default)]
pub struct FetchArgs {
    /// Parameter values by wire name (configured ones, then those from the parent row).
    pub params: BTreeMap<String, String>,
    /// The cursor filter as sent (`("since", "2026-01-01T00:00:00Z")`).
    pub filter: Option<(String, String)>,
    /// Where to resume (a page after the last one committed).
    pub resume: Option<Checkpoint>,
    /// Items per page to ask for.
    pub page_size: Option<u64>,
    /// Further query parameters sent on every page (`state=all` for a listing whose default
    /// leaves closed items out).
    pub query: Vec<(String, String)>,
}

impl FetchArgs {
    /// The value of parameter `name`, read as `T`: a JSON literal when the text is one that decodes
    /// (`42`, `true`), else the text itself as a JSON string (names, enum values).
    pub fn get<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, Error> {
        let text = self.params.get(name).ok_or_else(|| {
            Error::validation(
                name,
                format!("the stream needs parameter `{name}`: pass it as --param {name}=VALUE"),
            )
        })?;
        if let Ok(v) = serde_json::from_str::<T>(text) {
            return Ok(v);
        }
        serde_json::from_value::<T>(serde_json::Value::String(text.clone()))
            .map_err(|e| Error::validation(name, format!("`{text}` does not fit: {e}")))
    }

    /// Apply the filter, resume point and page size to the operation's paginate options.
    pub fn configure(&self, mut options: PaginateOptions) -> PaginateOptions {
        for (k, v) in &self.query {
            options = options.query_param(k.clone(), v.clone());
        }
        if let Some((param, value)) = &self.filter {
            options = options.query_param(param.clone(), value.clone());
        }
        if let Some(n) = self.page_size {
            options = options.page_size(n);
        }
        if let Some(c) = &self.resume {
            options = options.resume_from(c.clone());
        }
        options
    }
}
