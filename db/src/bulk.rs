//! Bulk writes: the batched upsert (`INSERT … ON CONFLICT … DO UPDATE`, both engines) and
//! PostgreSQL's `COPY … FROM STDIN` (on SQLite, the batched insert).
//!
//! An upsert runs in one transaction (the caller's, or one of its own), so a batch is applied
//! whole or not at all. It is cut into `INSERT … VALUES (…), (…) ON CONFLICT …` statements of as
//! many rows as the engine's bound-parameter limit allows ([`PG_MAX_PARAMS`],
//! [`SQLITE_MAX_PARAMS`]); on PostgreSQL a batch of [`PG_STAGED_UPSERT_ROWS`] rows or more is
//! instead copied into a temporary table and merged by one `INSERT … SELECT … ON CONFLICT …`
//! (measured faster, see `docs/database.md`). Within one statement a key may appear once
//! (PostgreSQL refuses to update a row twice in one command), so each statement keeps the last of
//! the rows sharing a key: the batch's last word on a key wins, as it would row by row.
//!
//! COPY uses the text format: each value is written as the server's input syntax for its type,
//! so a column of any type accepts the [`Value`] that reads back from it; values are escaped by
//! the format's rules (backslash, tab, newline, carriage return), never spliced into SQL.

use std::collections::HashMap;
use std::fmt::Write as _;

use connector_runtime::Error;
use sqlx::{Postgres, Sqlite};

use crate::config::Engine;
use crate::exec::{Driver, QueryOptions, guard};
use crate::ident::{quote_ident, quote_list, quote_table};
use crate::pool::{Conn, Lease};
use crate::value::{Value, timestamp_text};

/// PostgreSQL's limit on bound parameters per statement (the protocol counts them in 16 bits).
pub const PG_MAX_PARAMS: usize = 65_535;
/// SQLite's limit on bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`).
pub const SQLITE_MAX_PARAMS: usize = 32_766;

/// Rows from which a PostgreSQL upsert is staged through COPY rather than sent as `VALUES` lists.
pub const PG_STAGED_UPSERT_ROWS: usize = 5_000;

/// The temporary table a staged upsert fills (one per session, dropped after each use).
const STAGE_TABLE: &str = "connector_db_upsert_stage";

/// Bytes of COPY data sent per message.
const COPY_CHUNK: usize = 1 << 20;

/// When an upsert replaces the stored row of a conflicting key (by default, always). Both
/// conditions are checked by the engine in the same statement, so a replayed batch is a no-op.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpsertWhen {
    /// Only when this column's proposed value differs from the stored one (`IS DISTINCT FROM`):
    /// with a content hash here, an identical row is not rewritten and counts as not affected.
    pub changed: Option<String>,
    /// Only when this column's proposed value is not older than the stored one (`>=`; a NULL on
    /// either side counts as not older): a late replay of an older version loses.
    pub not_older: Option<String>,
}

/// The name the conflicting stored row goes by in the conflict clause.
const CURRENT: &str = "connector_db_current";

/// Rows per statement for `ncols` columns on `engine`.
pub(crate) fn rows_per_statement(engine: Engine, ncols: usize) -> usize {
    let limit = match engine {
        Engine::Postgres => PG_MAX_PARAMS,
        Engine::Sqlite => SQLITE_MAX_PARAMS,
    };
    (limit / ncols.max(1)).max(1)
}

/// Every row has one value per column; key columns are columns; names are valid.
pub(crate) fn check<R: AsRef<[Value]>>(
    columns: &[&str],
    keys: &[&str],
    rows: &[R],
) -> Result<(), Error> {
    if columns.is_empty() {
        return Err(Error::validation(
            "columns",
            "at least one column is needed",
        ));
    }
    for k in keys {
        if !columns.contains(k) {
            return Err(Error::validation(
                "key_columns",
                format!("`{k}` is not one of the columns"),
            ));
        }
    }
    for (i, r) in rows.iter().enumerate() {
        let n = r.as_ref().len();
        if n != columns.len() {
            return Err(Error::validation(
                "rows",
                format!("row {i} has {n} values for {} columns", columns.len()),
            ));
        }
    }
    Ok(())
}

fn placeholder(engine: Engine, sql: &mut String, n: usize) {
    match engine {
        Engine::Postgres => {
            let _ = write!(sql, "${n}");
        }
        Engine::Sqlite => sql.push('?'),
    }
}

/// `INSERT INTO t (a, b) VALUES (…), (…)` for `nrows` rows, then the conflict clause when `keys`
/// are given: update every non-key column from the proposed row, or do nothing when all columns
/// are keys.
pub(crate) fn insert_sql(
    engine: Engine,
    table: &str,
    columns: &[&str],
    keys: Option<&[&str]>,
    when: &UpsertWhen,
    nrows: usize,
) -> Result<String, Error> {
    let alias = if keys.is_some() && *when != UpsertWhen::default() {
        format!(" AS {CURRENT}")
    } else {
        String::new()
    };
    let mut sql = format!(
        "INSERT INTO {}{alias} ({}) VALUES ",
        quote_table(table)?,
        quote_list(columns)?
    );
    sql.reserve(nrows * columns.len() * 8);
    let mut n = 0;
    for r in 0..nrows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            placeholder(engine, &mut sql, n);
        }
        sql.push(')');
    }
    if let Some(keys) = keys {
        sql.push_str(&conflict_clause(columns, keys, when)?);
    }
    Ok(sql)
}

/// ` ON CONFLICT (keys) DO UPDATE SET c = excluded.c, … [WHERE …]`, or `DO NOTHING` when every
/// column is a key. The statement names the target `AS connector_db_current` when `when` has a
/// condition.
fn conflict_clause(columns: &[&str], keys: &[&str], when: &UpsertWhen) -> Result<String, Error> {
    let mut sql = format!(" ON CONFLICT ({}) DO ", quote_list(keys)?);
    let updates: Vec<&&str> = columns.iter().filter(|c| !keys.contains(c)).collect();
    if updates.is_empty() {
        sql.push_str("NOTHING");
    } else {
        sql.push_str("UPDATE SET ");
        for (i, c) in updates.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let q = quote_ident(c)?;
            let _ = write!(sql, "{q} = excluded.{q}");
        }
        let mut conds = Vec::new();
        if let Some(c) = &when.changed {
            let q = quote_ident(c)?;
            conds.push(format!("excluded.{q} IS DISTINCT FROM {CURRENT}.{q}"));
        }
        if let Some(c) = &when.not_older {
            let q = quote_ident(c)?;
            conds.push(format!(
                "({CURRENT}.{q} IS NULL OR excluded.{q} IS NULL OR excluded.{q} >= {CURRENT}.{q})"
            ));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
    }
    Ok(sql)
}

/// The indexes of `chunk` to write: the last row of each key (rows whose key holds a NULL never
/// conflict, so all of them are kept), in their original order.
fn last_per_key<R: AsRef<[Value]>>(chunk: &[R], key_idx: &[usize]) -> Vec<usize> {
    let mut last: HashMap<Vec<u8>, usize> = HashMap::with_capacity(chunk.len());
    let mut keep = vec![true; chunk.len()];
    for (i, row) in chunk.iter().enumerate() {
        let row = row.as_ref();
        let mut key = Vec::with_capacity(16 * key_idx.len());
        let mut has_null = false;
        for &k in key_idx {
            has_null |= row[k].is_null();
            key_bytes(&row[k], &mut key);
        }
        if has_null {
            continue;
        }
        if let Some(prev) = last.insert(key, i) {
            keep[prev] = false;
        }
    }
    (0..chunk.len()).filter(|&i| keep[i]).collect()
}

/// An unambiguous byte form of a key value (a tag, then the value).
fn key_bytes(v: &Value, out: &mut Vec<u8>) {
    let text = |out: &mut Vec<u8>, tag: u8, s: &str| {
        out.push(tag);
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        Value::I64(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::F64(x) => {
            out.push(3);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Value::Decimal(d) => text(out, 4, &d.normalize().to_string()),
        Value::Text(s) => text(out, 5, s),
        Value::Bytes(b) => {
            out.push(6);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        Value::Json(j) => text(out, 7, &j.to_string()),
        Value::Timestamp(t) => text(out, 8, &timestamp_text(t)),
        Value::Date(d) => text(out, 9, &d.to_string()),
        Value::Uuid(u) => {
            out.push(10);
            out.extend_from_slice(u.as_bytes());
        }
    }
}

/// One value in COPY's text format.
fn copy_text(v: &Value, out: &mut Vec<u8>) {
    fn escaped(s: &str, out: &mut Vec<u8>) {
        for b in s.bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(b),
            }
        }
    }
    let mut fmt = |args: std::fmt::Arguments<'_>| {
        let _ = std::io::Write::write_fmt(out, args);
    };
    match v {
        Value::Null => fmt(format_args!("\\N")),
        Value::Bool(b) => fmt(format_args!("{}", if *b { "t" } else { "f" })),
        Value::I64(i) => fmt(format_args!("{i}")),
        Value::F64(x) if x.is_nan() => fmt(format_args!("NaN")),
        Value::F64(x) if x.is_infinite() => fmt(format_args!(
            "{}",
            if *x > 0.0 { "Infinity" } else { "-Infinity" }
        )),
        Value::F64(x) => fmt(format_args!("{x}")),
        Value::Decimal(d) => fmt(format_args!("{d}")),
        Value::Text(s) => escaped(s, out),
        Value::Bytes(b) => {
            // bytea's hex input `\x0a…`, its backslash escaped for COPY.
            out.extend_from_slice(b"\\\\x");
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for byte in b {
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
        }
        Value::Json(j) => escaped(&j.to_string(), out),
        Value::Timestamp(t) => fmt(format_args!("{}", timestamp_text(t))),
        Value::Date(d) => fmt(format_args!("{d}")),
        Value::Uuid(u) => fmt(format_args!("{}", u.hyphenated())),
    }
}

/// Rows in COPY's text format, appended to `out`.
pub(crate) fn copy_rows<R: AsRef<[Value]>>(rows: &[R], out: &mut Vec<u8>) {
    for r in rows {
        for (i, v) in r.as_ref().iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            copy_text(v, out);
        }
        out.push(b'\n');
    }
}

async fn write_chunk<DB: Driver>(
    conn: &mut DB::Connection,
    sql: &str,
    rows: &[&[Value]],
) -> Result<u64, Error>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let args = DB::arguments(rows.iter().flat_map(|r| r.iter()))?;
    // PostgreSQL: an unnamed statement, prepared with this chunk's own parameter types (a NULL
    // here, a value there) and not kept: a cached one of 65,535 parameters per shape would pile up
    // on the server. SQLite keeps its few chunk shapes prepared.
    let done = sqlx::query_with::<DB, _>(sql, args)
        .persistent(DB::ENGINE == Engine::Sqlite)
        .execute(conn)
        .await
        .map_err(|e| crate::error::from_sqlx(e, DB::ENGINE))?;
    Ok(DB::rows_affected(&done))
}

impl Lease {
    /// Statements of `per` rows (the last one shorter) inside the current transaction.
    async fn write_batches<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: Option<&[&str]>,
        when: &UpsertWhen,
        rows: &[R],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        let engine = self.engine();
        let per = rows_per_statement(engine, columns.len());
        let key_idx: Vec<usize> = keys
            .unwrap_or(&[])
            .iter()
            .filter_map(|k| columns.iter().position(|c| c == k))
            .collect();
        let mut statements: HashMap<usize, String> = HashMap::new();
        let mut total = 0u64;
        for chunk in rows.chunks(per) {
            let picked: Vec<&[Value]> = if keys.is_some() && !key_idx.is_empty() {
                last_per_key(chunk, &key_idx)
                    .into_iter()
                    .map(|i| chunk[i].as_ref())
                    .collect()
            } else {
                chunk.iter().map(AsRef::as_ref).collect()
            };
            let sql = match statements.get(&picked.len()) {
                Some(s) => s,
                None => {
                    let s = insert_sql(engine, table, columns, keys, when, picked.len())?;
                    statements.entry(picked.len()).or_insert(s)
                }
            };
            self.arm();
            self.busy = true;
            let canceller = self.canceller.clone();
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| Error::validation("connection", "already given back"))?;
            let g = match conn {
                Conn::Postgres(c) => {
                    guard(
                        engine,
                        &canceller,
                        opts,
                        write_chunk::<Postgres>(&mut **c, sql, &picked),
                    )
                    .await
                }
                Conn::Sqlite(c) => {
                    guard(
                        engine,
                        &canceller,
                        opts,
                        write_chunk::<Sqlite>(&mut **c, sql, &picked),
                    )
                    .await
                }
            };
            if g.ended {
                self.busy = false;
            } else {
                self.broken = true;
            }
            total += g.result.map_err(|e| self.refine(e))?;
        }
        Ok(total)
    }

    /// Open a transaction of this call's own unless one is open; true when it did.
    async fn begin_own(&mut self) -> Result<bool, Error> {
        if self.in_tx {
            return Ok(false);
        }
        self.execute("BEGIN", &[], &QueryOptions::default()).await?;
        self.in_tx = true;
        Ok(true)
    }

    /// End a transaction of this call's own: commit on success, roll back on failure.
    async fn end_own<T>(&mut self, own: bool, result: Result<T, Error>) -> Result<T, Error> {
        if !own {
            return result;
        }
        let none = QueryOptions::default();
        match result {
            Ok(v) => {
                self.execute("COMMIT", &[], &none).await?;
                self.in_tx = false;
                Ok(v)
            }
            Err(e) => {
                if !self.broken && !self.busy && self.execute("ROLLBACK", &[], &none).await.is_ok()
                {
                    self.in_tx = false;
                }
                Err(e)
            }
        }
    }

    pub(crate) async fn upsert<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: &[&str],
        when: &UpsertWhen,
        rows: &[R],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        check(columns, keys, rows)?;
        if keys.is_empty() {
            return Err(Error::validation(
                "key_columns",
                "an upsert needs at least one key column",
            ));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let own = self.begin_own().await?;
        let r = if self.engine() == Engine::Postgres && rows.len() >= PG_STAGED_UPSERT_ROWS {
            self.upsert_staged(table, columns, keys, when, rows, opts)
                .await
        } else {
            self.write_batches(table, columns, Some(keys), when, rows, opts)
                .await
        };
        self.end_own(own, r).await
    }

    /// PostgreSQL, large batches: the rows (the last of each key) copied into a temporary table
    /// of the target's column types, then one `INSERT … SELECT … ON CONFLICT …` from it. The
    /// table is dropped at the end, and at commit whatever happens; a failure in between aborts
    /// the transaction (or returns to the caller's savepoint), which removes it too.
    async fn upsert_staged<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: &[&str],
        when: &UpsertWhen,
        rows: &[R],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        let key_idx: Vec<usize> = keys
            .iter()
            .filter_map(|k| columns.iter().position(|c| c == k))
            .collect();
        let kept: Vec<&[Value]> = last_per_key(rows, &key_idx)
            .into_iter()
            .map(|i| rows[i].as_ref())
            .collect();
        let target = quote_table(table)?;
        let alias = if *when != UpsertWhen::default() {
            format!(" AS {CURRENT}")
        } else {
            String::new()
        };
        let cols = quote_list(columns)?;
        let stage = quote_ident(STAGE_TABLE)?;
        self.execute(
            &format!("CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {target} WITH NO DATA"),
            &[],
            opts,
        )
        .await?;
        self.copy_pg(&stage, columns, &kept, opts).await?;
        let written = self
            .execute(
                &format!(
                    "INSERT INTO {target}{alias} ({cols}) SELECT {cols} FROM {stage}{}",
                    conflict_clause(columns, keys, when)?
                ),
                &[],
                opts,
            )
            .await?;
        self.execute(&format!("DROP TABLE {stage}"), &[], opts)
            .await?;
        Ok(written)
    }

    pub(crate) async fn copy_in<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[R],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        check(columns, &[], rows)?;
        if rows.is_empty() {
            return Ok(0);
        }
        if self.engine() == Engine::Sqlite {
            let own = self.begin_own().await?;
            let r = self
                .write_batches(table, columns, None, &UpsertWhen::default(), rows, opts)
                .await;
            return self.end_own(own, r).await;
        }
        self.copy_pg(&quote_table(table)?, columns, rows, opts)
            .await
    }

    /// `COPY table (columns) FROM STDIN` (text format) of `rows`; `table` already quoted.
    async fn copy_pg<R: AsRef<[Value]>>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[R],
        opts: &QueryOptions,
    ) -> Result<u64, Error> {
        let sql = format!("COPY {table} ({}) FROM STDIN", quote_list(columns)?);
        self.busy = true;
        let engine = self.engine();
        let canceller = self.canceller.clone();
        let Some(Conn::Postgres(c)) = self.conn.as_mut() else {
            return Err(Error::validation("connection", "already given back"));
        };
        let g = guard(engine, &canceller, opts, async {
            let fail = |e| crate::error::from_sqlx(e, engine);
            let mut copy = c.copy_in_raw(&sql).await.map_err(fail)?;
            let mut buf = Vec::with_capacity(COPY_CHUNK + 4096);
            // Rows per encoding pass: small enough that the buffer stays near COPY_CHUNK.
            for part in rows.chunks(1024) {
                copy_rows(part, &mut buf);
                if buf.len() >= COPY_CHUNK {
                    copy.send(buf.as_slice()).await.map_err(fail)?;
                    buf.clear();
                }
            }
            if !buf.is_empty() {
                copy.send(buf.as_slice()).await.map_err(fail)?;
            }
            copy.finish().await.map_err(fail)
        })
        .await;
        if g.ended {
            self.busy = false;
        } else {
            self.broken = true;
        }
        g.result.map_err(|e| self.refine(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_statements_bind_every_value() {
        let sql = insert_sql(
            Engine::Postgres,
            "t",
            &["id", "name"],
            Some(&["id"]),
            &UpsertWhen::default(),
            2,
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO \"t\" (\"id\", \"name\") VALUES ($1, $2), ($3, $4) ON CONFLICT (\"id\") DO UPDATE SET \"name\" = excluded.\"name\""
        );
        let sql = insert_sql(
            Engine::Sqlite,
            "t",
            &["id"],
            Some(&["id"]),
            &UpsertWhen::default(),
            1,
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO \"t\" (\"id\") VALUES (?) ON CONFLICT (\"id\") DO NOTHING"
        );
        assert_eq!(
            insert_sql(Engine::Sqlite, "t", &["a"], None, &UpsertWhen::default(), 1).unwrap(),
            "INSERT INTO \"t\" (\"a\") VALUES (?)"
        );
    }

    #[test]
    fn conditional_upserts_compare_with_the_stored_row() {
        let when = UpsertWhen {
            changed: Some("_hash".into()),
            not_older: Some("_cursor".into()),
        };
        let sql = insert_sql(
            Engine::Sqlite,
            "t",
            &["id", "_hash", "_cursor"],
            Some(&["id"]),
            &when,
            1,
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO \"t\" AS connector_db_current (\"id\", \"_hash\", \"_cursor\") VALUES (?, ?, ?) ON CONFLICT (\"id\") DO UPDATE SET \"_hash\" = excluded.\"_hash\", \"_cursor\" = excluded.\"_cursor\" WHERE excluded.\"_hash\" IS DISTINCT FROM connector_db_current.\"_hash\" AND (connector_db_current.\"_cursor\" IS NULL OR excluded.\"_cursor\" IS NULL OR excluded.\"_cursor\" >= connector_db_current.\"_cursor\")"
        );
    }

    #[test]
    fn statements_stay_under_the_parameter_limits() {
        assert_eq!(rows_per_statement(Engine::Postgres, 10), 6553);
        assert_eq!(rows_per_statement(Engine::Sqlite, 10), 3276);
        assert_eq!(rows_per_statement(Engine::Sqlite, 40_000), 1);
        for n in [1, 7, 10, 33, 1000] {
            assert!(rows_per_statement(Engine::Postgres, n) * n <= PG_MAX_PARAMS);
            assert!(rows_per_statement(Engine::Sqlite, n) * n <= SQLITE_MAX_PARAMS);
        }
    }

    #[test]
    fn the_last_row_of_a_key_wins_and_null_keys_never_merge() {
        let rows = vec![
            vec![Value::I64(1), Value::from("a")],
            vec![Value::I64(2), Value::from("b")],
            vec![Value::I64(1), Value::from("c")],
            vec![Value::Null, Value::from("d")],
            vec![Value::Null, Value::from("e")],
        ];
        assert_eq!(last_per_key(&rows, &[0]), vec![1, 2, 3, 4]);
        let text_vs_int = vec![vec![Value::I64(1)], vec![Value::from("1")]];
        assert_eq!(last_per_key(&text_vs_int, &[0]), vec![0, 1]);
    }

    #[test]
    fn copy_text_escapes_by_the_format_rules() {
        let mut out = Vec::new();
        copy_rows(
            &[vec![
                Value::from("a\tb\nc\\d"),
                Value::Null,
                Value::Bytes(vec![0, 0xab]),
                Value::Bool(true),
                Value::F64(f64::NEG_INFINITY),
                Value::json(serde_json::json!({"k": "v\n"})),
            ]],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\tb\\nc\\\\d\t\\N\t\\\\x00ab\tt\t-Infinity\t{\"k\":\"v\\\\n\"}\n"
        );
    }

    #[test]
    fn malformed_batches_are_refused_before_anything_runs() {
        let rows = vec![vec![Value::I64(1)], vec![Value::I64(1), Value::I64(2)]];
        let e = check(&["id"], &["id"], &rows).unwrap_err();
        assert!(e.message().contains("row 1"), "{e}");
        assert!(check(&["id"], &["other"], &rows[..1]).is_err());
        assert!(check(&[], &[], &Vec::<Vec<Value>>::new()).is_err());
    }
}
