//! The destination table of a stream: the item's scalar columns plus the columns every synced
//! table has, derived from the catalog alone so every run and every engine agrees on it.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | item columns | by field | the item's top-level scalars (a name taken by a column below gets `src_`, unless that column holds the same value: the date-time cursor `updated_at`, the soft-delete fields) |
//! | `updated_at` | timestamp | the source's clock: the cursor value when it is a time |
//! | `ingested_at` | timestamp | the connector's clock (UTC) when the row was last written |
//! | `is_deleted`, `deleted_at` | bool, timestamp | soft deletes as the source reports them |
//! | `_raw` | JSON | the whole item as received (after redaction): nested objects and arrays live here |
//! | `_hash` | text | SHA-256 of `_raw`: an unchanged item is not written again |
//! | `_cursor` | bigint | the cursor's ordering key (microseconds, seconds or the integer itself) |
//! | `_partition` | text | the parameters of the listing the row came from (JSON) |
//! | `_sync_run` | text | the run that last wrote the row |

use connector_db::{ColumnDef, ColumnType, TableDef};

use crate::catalog::{ColumnKind, Deletes, StreamDef};

/// Columns every synced table has, in order after the item columns.
pub const SYSTEM_COLUMNS: [&str; 9] = [
    "updated_at",
    "ingested_at",
    "is_deleted",
    "deleted_at",
    "_raw",
    "_hash",
    "_cursor",
    "_partition",
    "_sync_run",
];

/// One column of the destination table and where its value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableColumn {
    /// Column name in the table.
    pub name: String,
    /// Portable type.
    pub ty: ColumnType,
    /// The item field it holds (`None`: a system column).
    pub wire: Option<&'static str>,
    /// How the item field reads.
    pub kind: Option<ColumnKind>,
}

/// The table a stream is written to.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// Item columns, then the system columns.
    pub columns: Vec<TableColumn>,
    /// Primary key column names.
    pub key: Vec<String>,
}

/// The portable type of a column kind.
pub fn column_type(kind: ColumnKind) -> ColumnType {
    match kind {
        ColumnKind::Bool => ColumnType::Bool,
        ColumnKind::Int => ColumnType::I64,
        ColumnKind::Float => ColumnType::F64,
        ColumnKind::Text => ColumnType::Text,
        ColumnKind::DateTime | ColumnKind::UnixSeconds => ColumnType::Timestamp,
        ColumnKind::Date => ColumnType::Date,
    }
}

impl TableSpec {
    /// The table of `stream`.
    pub fn of(stream: &StreamDef) -> TableSpec {
        let mut columns: Vec<TableColumn> = Vec::new();
        for c in stream.columns {
            // The system column already holds the same value.
            // (The generator names an item field that shares a system column's name `item_<name>`.)
            let same = match c.name.strip_prefix("item_").unwrap_or(c.name) {
                "updated_at" => stream.cursor.is_some_and(|k| {
                    k.field == c.wire && k.kind == crate::catalog::CursorKind::DateTime
                }),
                "deleted_at" => {
                    matches!(stream.deletes, Deletes::Soft { at: Some(a), .. } if a == c.wire)
                }
                "is_deleted" => {
                    matches!(stream.deletes, Deletes::Soft { flag: Some(f), .. } if f == c.wire)
                }
                _ => false,
            };
            if same {
                continue;
            }
            let mut name = c.name.to_owned();
            if SYSTEM_COLUMNS.contains(&name.as_str()) {
                name = format!("src_{name}");
            }
            if columns.iter().any(|k| k.name == name) {
                continue;
            }
            columns.push(TableColumn {
                name,
                ty: column_type(c.kind),
                wire: Some(c.wire),
                kind: Some(c.kind),
            });
        }
        // A key field that is not a scalar column is kept as its JSON text.
        for k in stream.primary_key {
            if !columns.iter().any(|c| c.wire == Some(*k)) {
                let mut name = crate::names::column_name(k);
                if SYSTEM_COLUMNS.contains(&name.as_str()) || columns.iter().any(|c| c.name == name)
                {
                    name = format!("src_{name}");
                }
                columns.push(TableColumn {
                    name,
                    ty: ColumnType::Text,
                    wire: Some(k),
                    kind: None,
                });
            }
        }
        let system = [
            ColumnType::Timestamp,
            ColumnType::Timestamp,
            ColumnType::Bool,
            ColumnType::Timestamp,
            ColumnType::Json,
            ColumnType::Text,
            ColumnType::I64,
            ColumnType::Text,
            ColumnType::Text,
        ];
        for (n, ty) in SYSTEM_COLUMNS.iter().zip(system) {
            columns.push(TableColumn {
                name: (*n).to_owned(),
                ty,
                wire: None,
                kind: None,
            });
        }
        let key = stream
            .primary_key
            .iter()
            .filter_map(|k| columns.iter().find(|c| c.wire == Some(*k)))
            .map(|c| c.name.clone())
            .collect();
        TableSpec {
            name: stream.name.to_owned(),
            columns,
            key,
        }
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The DDL description.
    pub fn table_def(&self) -> TableDef {
        let mut t = TableDef::new(self.name.clone());
        for c in &self.columns {
            let mut d = ColumnDef::new(c.name.clone(), c.ty);
            if self.key.contains(&c.name) || c.name == "is_deleted" {
                d = d.not_null();
            }
            t = t.column(d);
        }
        t.primary_key(self.key.iter().cloned())
    }

    /// Index of a column.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}
