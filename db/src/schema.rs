//! Schema inspection (tables, columns with type, nullability and default, primary keys, indexes)
//! and the additive DDL the sync uses to evolve a schema: create a table, add a column, create an
//! index, each a no-op when it already exists.
//!
//! Inspection covers the current schema: PostgreSQL's `current_schema()` (usually `public`), read
//! from the catalogs; SQLite's `main` database, read through `pragma_table_info`,
//! `pragma_index_list` and `pragma_index_info` with the table name bound.
//!
//! DDL cannot take bound parameters, so a default is one of [`ColumnDefault`]'s variants, written
//! from typed numbers and keywords only: no text from the caller enters a statement except names,
//! and those through [`quote_ident`](crate::quote_ident).

use connector_runtime::Error;
use serde::Serialize;

use crate::config::Engine;
use crate::exec::QueryOptions;
use crate::ident::{quote_ident, quote_list, quote_table};
use crate::pool::Lease;

/// The tables of the current schema, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Schema {
    /// Tables, ordered by name.
    pub tables: Vec<Table>,
}

impl Schema {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Columns in their order.
    pub columns: Vec<Column>,
    /// Primary key columns in key order (empty: none).
    pub primary_key: Vec<String>,
    /// Indexes, ordered by name (the primary key's included where the engine keeps one).
    pub indexes: Vec<Index>,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the engine spells it (`bigint`, `numeric(12,2)`, `timestamp with time zone`;
    /// SQLite: the declared type as written).
    pub data_type: String,
    /// Whether it accepts NULL (a primary key column never does).
    pub nullable: bool,
    /// Its default expression as the engine prints it, if any.
    pub default: Option<String>,
}

/// One index.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Its key columns in order (an expression key as the engine prints it, or `<expression>`).
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
    /// Whether it is the primary key's.
    pub primary: bool,
}

/// The portable column types of the DDL helpers, and how each engine declares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ColumnType {
    /// PostgreSQL `boolean`, SQLite `BOOLEAN`.
    Bool,
    /// PostgreSQL `bigint`, SQLite `INTEGER`.
    I64,
    /// PostgreSQL `double precision`, SQLite `REAL`.
    F64,
    /// PostgreSQL `numeric`, SQLite `DECIMAL_TEXT` (text affinity: SQLite's `NUMERIC` affinity
    /// would turn `1.10` into the float 1.1).
    Decimal,
    /// `text` / `TEXT`.
    Text,
    /// PostgreSQL `bytea`, SQLite `BLOB`.
    Bytes,
    /// PostgreSQL `jsonb`, SQLite `JSON` (text).
    Json,
    /// PostgreSQL `timestamptz`, SQLite `TIMESTAMP` (RFC 3339 text, read back as a timestamp).
    Timestamp,
    /// `date` / `DATE`.
    Date,
    /// PostgreSQL `uuid`, SQLite `UUID` (text).
    Uuid,
}

impl ColumnType {
    /// The declared type on `engine`.
    pub fn sql(self, engine: Engine) -> &'static str {
        match (self, engine) {
            (ColumnType::Bool, Engine::Postgres) => "boolean",
            (ColumnType::Bool, Engine::Sqlite) => "BOOLEAN",
            (ColumnType::I64, Engine::Postgres) => "bigint",
            (ColumnType::I64, Engine::Sqlite) => "INTEGER",
            (ColumnType::F64, Engine::Postgres) => "double precision",
            (ColumnType::F64, Engine::Sqlite) => "REAL",
            (ColumnType::Decimal, Engine::Postgres) => "numeric",
            (ColumnType::Decimal, Engine::Sqlite) => "DECIMAL_TEXT",
            (ColumnType::Text, Engine::Postgres) => "text",
            (ColumnType::Text, Engine::Sqlite) => "TEXT",
            (ColumnType::Bytes, Engine::Postgres) => "bytea",
            (ColumnType::Bytes, Engine::Sqlite) => "BLOB",
            (ColumnType::Json, Engine::Postgres) => "jsonb",
            (ColumnType::Json, Engine::Sqlite) => "JSON",
            (ColumnType::Timestamp, Engine::Postgres) => "timestamptz",
            (ColumnType::Timestamp, Engine::Sqlite) => "TIMESTAMP",
            (ColumnType::Date, Engine::Postgres) => "date",
            (ColumnType::Date, Engine::Sqlite) => "DATE",
            (ColumnType::Uuid, Engine::Postgres) => "uuid",
            (ColumnType::Uuid, Engine::Sqlite) => "UUID",
        }
    }
}

/// A column default the DDL helpers can write without interpolating caller text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum ColumnDefault {
    /// `DEFAULT TRUE` / `FALSE`.
    Bool(bool),
    /// `DEFAULT 42`.
    I64(i64),
    /// `DEFAULT 1.5` (finite values only).
    F64(f64),
    /// `DEFAULT CURRENT_TIMESTAMP` (PostgreSQL: the transaction's start; SQLite: UTC text).
    CurrentTimestamp,
}

impl ColumnDefault {
    fn sql(self) -> Result<String, Error> {
        Ok(match self {
            ColumnDefault::Bool(b) => if b { "TRUE" } else { "FALSE" }.to_owned(),
            ColumnDefault::I64(i) => i.to_string(),
            ColumnDefault::F64(x) if x.is_finite() => format!("{x:?}"),
            ColumnDefault::F64(_) => {
                return Err(Error::validation(
                    "default",
                    "a float default must be finite",
                ));
            }
            ColumnDefault::CurrentTimestamp => "CURRENT_TIMESTAMP".to_owned(),
        })
    }
}

/// A column to create or add.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDef {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it accepts NULL (default true).
    pub nullable: bool,
    /// Its default, if any.
    pub default: Option<ColumnDefault>,
}

impl ColumnDef {
    /// A nullable column without default.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        ColumnDef {
            name: name.into(),
            ty,
            nullable: true,
            default: None,
        }
    }

    /// Builder: NOT NULL.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// Builder: a default.
    pub fn default(mut self, d: ColumnDefault) -> Self {
        self.default = Some(d);
        self
    }

    fn sql(&self, engine: Engine) -> Result<String, Error> {
        let mut s = format!("{} {}", quote_ident(&self.name)?, self.ty.sql(engine));
        if !self.nullable {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = self.default {
            s.push_str(" DEFAULT ");
            s.push_str(&d.sql()?);
        }
        Ok(s)
    }
}

/// A table to create.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableDef {
    /// Its name (`schema.table` allowed on PostgreSQL).
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnDef>,
    /// Primary key columns (empty: none).
    pub primary_key: Vec<String>,
}

impl TableDef {
    /// A table with no column yet.
    pub fn new(name: impl Into<String>) -> Self {
        TableDef {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
        }
    }

    /// Builder: one more column.
    pub fn column(mut self, c: ColumnDef) -> Self {
        self.columns.push(c);
        self
    }

    /// Builder: the primary key.
    pub fn primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }

    /// `CREATE TABLE IF NOT EXISTS …` on `engine`.
    pub fn sql(&self, engine: Engine) -> Result<String, Error> {
        if self.columns.is_empty() {
            return Err(Error::validation(
                "columns",
                "a table needs at least one column",
            ));
        }
        let mut parts = Vec::with_capacity(self.columns.len() + 1);
        for c in &self.columns {
            parts.push(c.sql(engine)?);
        }
        if !self.primary_key.is_empty() {
            for k in &self.primary_key {
                if !self.columns.iter().any(|c| &c.name == k) {
                    return Err(Error::validation(
                        "primary_key",
                        format!("`{k}` is not one of the columns"),
                    ));
                }
            }
            parts.push(format!("PRIMARY KEY ({})", quote_list(&self.primary_key)?));
        }
        Ok(format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quote_table(&self.name)?,
            parts.join(", ")
        ))
    }
}

/// `ALTER TABLE … ADD COLUMN …`.
pub(crate) fn add_column_sql(
    engine: Engine,
    table: &str,
    column: &ColumnDef,
) -> Result<String, Error> {
    Ok(format!(
        "ALTER TABLE {} ADD COLUMN {}",
        quote_table(table)?,
        column.sql(engine)?
    ))
}

/// `CREATE [UNIQUE] INDEX IF NOT EXISTS …`.
pub(crate) fn create_index_sql(
    table: &str,
    name: &str,
    columns: &[&str],
    unique: bool,
) -> Result<String, Error> {
    if columns.is_empty() {
        return Err(Error::validation(
            "columns",
            "an index needs at least one column",
        ));
    }
    Ok(format!(
        "CREATE {}INDEX IF NOT EXISTS {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        quote_ident(name)?,
        quote_table(table)?,
        quote_list(columns)?
    ))
}

const PG_COLUMNS: &str = "
SELECT c.relname::text AS table_name,
       a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS column_default
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
ORDER BY c.relname, a.attnum";

const PG_INDEXES: &str = "
SELECT t.relname::text AS table_name,
       i.relname::text AS index_name,
       ix.indisunique AS is_unique,
       ix.indisprimary AS is_primary,
       ARRAY(
         SELECT COALESCE(a.attname::text, pg_get_indexdef(ix.indexrelid, k.n::int, true))
         FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
         WHERE k.n <= ix.indnkeyatts
         ORDER BY k.n
       ) AS columns
FROM pg_catalog.pg_index ix
JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = ix.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p')
ORDER BY t.relname, i.relname";

impl Lease {
    pub(crate) async fn schema(&mut self, opts: &QueryOptions) -> Result<Schema, Error> {
        let engine = self.engine();
        match engine {
            Engine::Postgres => {
                let cols = self.fetch_all(PG_COLUMNS, &[], opts).await?;
                let idx = self.fetch_all(PG_INDEXES, &[], opts).await?;
                let mut schema = Schema::default();
                for r in cols {
                    let v: (String, String, String, bool, Option<String>) = r.deserialize()?;
                    let table = match schema.tables.last_mut() {
                        Some(t) if t.name == v.0 => t,
                        _ => {
                            schema.tables.push(Table {
                                name: v.0.clone(),
                                ..Table::default()
                            });
                            schema.tables.last_mut().expect("just pushed")
                        }
                    };
                    table.columns.push(Column {
                        name: v.1,
                        data_type: v.2,
                        nullable: v.3,
                        default: v.4,
                    });
                }
                for r in idx {
                    let v: (String, String, bool, bool, Vec<String>) = r.deserialize()?;
                    if let Some(t) = schema.tables.iter_mut().find(|t| t.name == v.0) {
                        if v.3 {
                            t.primary_key = v.4.clone();
                        }
                        t.indexes.push(Index {
                            name: v.1,
                            columns: v.4,
                            unique: v.2,
                            primary: v.3,
                        });
                    }
                }
                Ok(schema)
            }
            Engine::Sqlite => {
                let names = self
                    .fetch_all(
                        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                        &[],
                        opts,
                    )
                    .await?;
                let mut schema = Schema::default();
                for n in names {
                    let name: String = n.deserialize()?;
                    let table = self.sqlite_table(name, opts).await?;
                    schema.tables.push(table);
                }
                Ok(schema)
            }
        }
    }

    async fn sqlite_table(&mut self, name: String, opts: &QueryOptions) -> Result<Table, Error> {
        let arg = [crate::Value::Text(name.clone())];
        let cols = self
            .fetch_all(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
                &arg,
                opts,
            )
            .await?;
        let mut table = Table {
            name,
            ..Table::default()
        };
        let mut pk: Vec<(i64, String)> = Vec::new();
        for r in cols {
            let (col, ty, notnull, default, pk_pos): (String, String, i64, Option<String>, i64) =
                r.deserialize()?;
            if pk_pos > 0 {
                pk.push((pk_pos, col.clone()));
            }
            table.columns.push(Column {
                name: col,
                data_type: ty,
                nullable: notnull == 0 && pk_pos == 0,
                default,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        let list = self
            .fetch_all(
                "SELECT name, \"unique\", origin FROM pragma_index_list(?) ORDER BY name",
                &arg,
                opts,
            )
            .await?;
        for r in list {
            let (index, unique, origin): (String, i64, String) = r.deserialize()?;
            let cols = self
                .fetch_all(
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                    &[crate::Value::Text(index.clone())],
                    opts,
                )
                .await?;
            let columns = cols
                .into_iter()
                .map(|c| {
                    c.deserialize::<Option<String>>()
                        .map(|n| n.unwrap_or_else(|| "<expression>".to_owned()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            table.indexes.push(Index {
                name: index,
                columns,
                unique: unique != 0,
                primary: origin == "pk",
            });
        }
        Ok(table)
    }

    /// Whether `table` has a column named `column`.
    pub(crate) async fn has_column(
        &mut self,
        table: &str,
        column: &str,
        opts: &QueryOptions,
    ) -> Result<bool, Error> {
        let (sql, params) = match self.engine() {
            Engine::Postgres => {
                // A qualified name is resolved by the server, as in the DDL.
                let quoted = quote_table(table)?;
                (
                    "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped",
                    vec![crate::Value::Text(quoted), crate::Value::from(column)],
                )
            }
            Engine::Sqlite => (
                "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
                vec![crate::Value::from(table), crate::Value::from(column)],
            ),
        };
        Ok(!self.fetch_all(sql, &params, opts).await?.is_empty())
    }

    /// Whether `table` exists.
    pub(crate) async fn has_table(
        &mut self,
        table: &str,
        opts: &QueryOptions,
    ) -> Result<bool, Error> {
        let (sql, params) = match self.engine() {
            Engine::Postgres => (
                "SELECT to_regclass($1) IS NOT NULL",
                vec![crate::Value::Text(quote_table(table)?)],
            ),
            Engine::Sqlite => (
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)",
                vec![crate::Value::from(table)],
            ),
        };
        let rows = self.fetch_all(sql, &params, opts).await?;
        match rows.first() {
            Some(r) => r.deserialize::<bool>(),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_quotes_names_and_writes_typed_defaults() {
        let t = TableDef::new("orders")
            .column(ColumnDef::new("id", ColumnType::I64).not_null())
            .column(
                ColumnDef::new("seen at", ColumnType::Timestamp)
                    .default(ColumnDefault::CurrentTimestamp),
            )
            .column(ColumnDef::new("amount", ColumnType::Decimal))
            .primary_key(["id"]);
        assert_eq!(
            t.sql(Engine::Postgres).unwrap(),
            "CREATE TABLE IF NOT EXISTS \"orders\" (\"id\" bigint NOT NULL, \"seen at\" timestamptz DEFAULT CURRENT_TIMESTAMP, \"amount\" numeric, PRIMARY KEY (\"id\"))"
        );
        assert!(
            t.sql(Engine::Sqlite)
                .unwrap()
                .contains("\"amount\" DECIMAL_TEXT")
        );
        let c = ColumnDef::new("n", ColumnType::F64).default(ColumnDefault::F64(1.0));
        assert_eq!(
            add_column_sql(Engine::Sqlite, "t", &c).unwrap(),
            "ALTER TABLE \"t\" ADD COLUMN \"n\" REAL DEFAULT 1.0"
        );
        let bad = ColumnDef::new("n", ColumnType::F64).default(ColumnDefault::F64(f64::NAN));
        assert!(add_column_sql(Engine::Sqlite, "t", &bad).is_err());
        assert!(TableDef::new("t").sql(Engine::Sqlite).is_err());
        assert!(
            TableDef::new("t")
                .column(ColumnDef::new("a", ColumnType::Text))
                .primary_key(["b"])
                .sql(Engine::Sqlite)
                .is_err()
        );
        assert_eq!(
            create_index_sql("t", "t_a", &["a", "b"], true).unwrap(),
            "CREATE UNIQUE INDEX IF NOT EXISTS \"t_a\" ON \"t\" (\"a\", \"b\")"
        );
    }
}
