//! Transform: a page of raw items into the rows, deletions and dead letters of one load. Pure:
//! no I/O, so every rule here is unit-tested and the load step only writes what it is given.
//!
//! Per item, in order: a tombstone (the stream's delete flag true) becomes a deletion by key; an
//! item the generated type refuses ([`StreamDef::check`]), or whose key is missing, or whose
//! columns or cursor do not convert, becomes a dead letter with the error and the payload;
//! anything else becomes a row. Redaction applies before anything is kept.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use connector_db::Value;
use serde_json::Value as Json;

use crate::catalog::{ColumnKind, CursorKind, Deletes, StreamDef};
use crate::redact::{self, Redaction};
use crate::table::TableSpec;

/// A malformed item, kept with why.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The item's key as JSON text when it has one, else `sha256:<hash of the payload>`.
    pub key: String,
    /// What is wrong with it (redacted values scrubbed).
    pub error: String,
    /// The item as received, after redaction.
    pub payload: Json,
}

/// What one page loads.
#[derive(Debug, Default)]
pub struct Batch {
    /// Full rows, in the table's column order.
    pub rows: Vec<Vec<Value>>,
    /// The key text of each row (clears an earlier dead letter of the same key).
    pub row_keys: Vec<String>,
    /// Key values of the rows the source deleted.
    pub deletes: Vec<Vec<Value>>,
    /// Malformed items.
    pub dead: Vec<DeadLetter>,
    /// The largest cursor ordering key among the rows.
    pub max_cursor: Option<i64>,
    /// Items read.
    pub read: u64,
}

/// What the transform needs besides the items.
pub struct Context<'a> {
    /// The stream.
    pub stream: &'a StreamDef,
    /// Its table.
    pub table: &'a TableSpec,
    /// The listing's partition key.
    pub partition: &'a str,
    /// The run writing.
    pub run_id: &'a str,
    /// The connector's clock for `ingested_at`.
    pub now: DateTime<Utc>,
    /// Redaction rules for this stream.
    pub redactions: Vec<&'a Redaction>,
}

/// The ordering key of a cursor value: microseconds for date-times, seconds for Unix times, the
/// integer itself otherwise. `None` when it does not read as its kind.
pub fn cursor_key(kind: CursorKind, v: &Json) -> Option<i64> {
    match kind {
        CursorKind::DateTime => v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc).timestamp_micros()),
        CursorKind::UnixSeconds | CursorKind::Integer => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())),
    }
}

/// The cursor ordering key as a time, when its kind is one.
pub fn cursor_time(kind: CursorKind, key: i64) -> Option<DateTime<Utc>> {
    match kind {
        CursorKind::DateTime => DateTime::from_timestamp_micros(key),
        CursorKind::UnixSeconds => DateTime::from_timestamp(key, 0),
        CursorKind::Integer => None,
    }
}

/// Ordering-key units in one second of lookback (0: the kind is not a time).
pub fn units_per_second(kind: CursorKind) -> i64 {
    match kind {
        CursorKind::DateTime => 1_000_000,
        CursorKind::UnixSeconds => 1,
        CursorKind::Integer => 0,
    }
}

/// The filter value sent for ordering key `key` of a `cursor` kind, in the filter's `format`
/// (one unit earlier when the filter is exclusive, so the boundary item is listed again).
pub fn filter_value(cursor: CursorKind, format: CursorKind, inclusive: bool, key: i64) -> String {
    let secs = |k: i64| match cursor {
        CursorKind::DateTime => k.div_euclid(1_000_000),
        _ => k,
    };
    match format {
        CursorKind::DateTime => {
            let t = match cursor {
                CursorKind::DateTime => DateTime::from_timestamp_micros(key),
                _ => DateTime::from_timestamp(key, 0),
            }
            .unwrap_or(DateTime::UNIX_EPOCH);
            let t = if inclusive {
                t
            } else {
                t - chrono::Duration::seconds(1)
            };
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        }
        CursorKind::UnixSeconds | CursorKind::Integer => {
            let v = secs(key);
            (if inclusive { v } else { v.saturating_sub(1) }).to_string()
        }
    }
}

fn column_value(kind: Option<ColumnKind>, v: Option<&Json>) -> Result<Value, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let bad = |what: &str| Err(format!("`{v}` is not {what}"));
    Ok(match kind {
        None => match v {
            Json::String(s) => Value::Text(s.clone()),
            other => Value::Text(other.to_string()),
        },
        Some(ColumnKind::Bool) => match v.as_bool() {
            Some(b) => Value::Bool(b),
            None => return bad("a boolean"),
        },
        Some(ColumnKind::Int) => match v.as_i64() {
            Some(i) => Value::I64(i),
            None => return bad("a 64-bit integer"),
        },
        Some(ColumnKind::Float) => match v.as_f64() {
            Some(f) => Value::F64(f),
            None => return bad("a number"),
        },
        Some(ColumnKind::Text) => match v {
            Json::String(s) => Value::Text(s.clone()),
            Json::Number(_) | Json::Bool(_) => Value::Text(v.to_string()),
            _ => return bad("text"),
        },
        Some(ColumnKind::DateTime) => {
            match v
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            {
                Some(t) => Value::Timestamp(t.with_timezone(&Utc)),
                None => return bad("an RFC 3339 date-time"),
            }
        }
        Some(ColumnKind::UnixSeconds) => {
            match v.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)) {
                Some(t) => Value::Timestamp(t),
                None => return bad("a Unix time in seconds"),
            }
        }
        Some(ColumnKind::Date) => match v.as_str().and_then(|s| s.parse::<NaiveDate>().ok()) {
            Some(d) => Value::Date(d),
            None => return bad("a date"),
        },
    })
}

/// The key values and key text of `item`, or why it has none.
fn key_of(ctx: &Context<'_>, item: &Json) -> Result<(Vec<Value>, String), String> {
    let mut values = Vec::with_capacity(ctx.stream.primary_key.len());
    let mut text = Vec::with_capacity(ctx.stream.primary_key.len());
    for k in ctx.stream.primary_key {
        let col = ctx
            .table
            .columns
            .iter()
            .find(|c| c.wire == Some(*k))
            .ok_or_else(|| format!("key field `{k}` has no column"))?;
        let v = item.get(*k).filter(|v| !v.is_null());
        let Some(raw) = v else {
            return Err(format!("primary key field `{k}` is missing"));
        };
        values.push(
            column_value(col.kind, Some(raw)).map_err(|e| format!("primary key `{k}`: {e}"))?,
        );
        text.push(raw.clone());
    }
    Ok((values, Json::Array(text).to_string()))
}

fn dead_key(item: &Json, key: Option<String>) -> String {
    key.unwrap_or_else(|| format!("sha256:{}", redact::sha256_hex(item.to_string().as_bytes())))
}

/// Transform one page.
pub fn transform(ctx: &Context<'_>, items: Vec<Json>) -> Batch {
    let mut batch = Batch {
        read: items.len() as u64,
        ..Batch::default()
    };
    let stream = ctx.stream;
    for original in items {
        // The generated type judges the item as the source sent it.
        let checked = (stream.check)(&original);
        let mut item = original;
        let secrets = redact::apply(&ctx.redactions, &mut item);
        let scrub = |e: String| redact::scrub(e, &secrets);
        let key = key_of(ctx, &item);
        if let Deletes::Tombstone { flag } = stream.deletes {
            if item.get(flag).and_then(Json::as_bool) == Some(true) {
                match key {
                    Ok((values, _)) => batch.deletes.push(values),
                    Err(e) => batch.dead.push(DeadLetter {
                        key: dead_key(&item, None),
                        error: scrub(format!("deleted item without its key: {e}")),
                        payload: item,
                    }),
                }
                continue;
            }
        }
        let (key_values, key_text) = match (checked, key) {
            (Ok(()), Ok(k)) => k,
            (Err(e), k) => {
                batch.dead.push(DeadLetter {
                    key: dead_key(&item, k.ok().map(|k| k.1)),
                    error: scrub(format!("does not match the item type: {e}")),
                    payload: item,
                });
                continue;
            }
            (Ok(()), Err(e)) => {
                batch.dead.push(DeadLetter {
                    key: dead_key(&item, None),
                    error: scrub(e),
                    payload: item,
                });
                continue;
            }
        };
        match row(ctx, &item) {
            Ok((mut row, cursor)) => {
                // Key columns as the key check read them.
                for (k, v) in stream.primary_key.iter().zip(key_values) {
                    if let Some(i) = ctx.table.columns.iter().position(|c| c.wire == Some(*k)) {
                        row[i] = v;
                    }
                }
                if let Some(c) = cursor {
                    batch.max_cursor = Some(batch.max_cursor.map_or(c, |m| m.max(c)));
                }
                batch.rows.push(row);
                batch.row_keys.push(key_text);
            }
            Err(e) => batch.dead.push(DeadLetter {
                key: key_text,
                error: scrub(e),
                payload: item,
            }),
        }
    }
    batch
}

/// The row of a valid item and its cursor key.
fn row(ctx: &Context<'_>, item: &Json) -> Result<(Vec<Value>, Option<i64>), String> {
    let stream = ctx.stream;
    let mut row = Vec::with_capacity(ctx.table.columns.len());
    let cursor = match &stream.cursor {
        Some(c) => match item.get(c.field).filter(|v| !v.is_null()) {
            Some(v) => Some(cursor_key(c.kind, v).ok_or_else(|| {
                format!("cursor field `{}`: `{v}` does not read as one", c.field)
            })?),
            None => None,
        },
        None => None,
    };
    let (is_deleted, deleted_at) = match stream.deletes {
        Deletes::Soft { flag, at } => {
            let at = match at.and_then(|f| item.get(f)) {
                Some(v) => match column_value(Some(ColumnKind::DateTime), Some(v))? {
                    Value::Timestamp(t) => Some(t),
                    _ => None,
                },
                None => None,
            };
            let flagged = flag.and_then(|f| item.get(f)).and_then(Json::as_bool) == Some(true);
            (flagged || at.is_some(), at)
        }
        _ => (false, None),
    };
    let raw = item.to_string();
    let hash = redact::sha256_hex(raw.as_bytes());
    for c in &ctx.table.columns {
        let v = match (c.wire, c.name.as_str()) {
            (Some(w), _) => {
                column_value(c.kind, item.get(w)).map_err(|e| format!("field `{w}`: {e}"))?
            }
            (None, "updated_at") => match (&stream.cursor, cursor) {
                (Some(cur), Some(k)) => {
                    cursor_time(cur.kind, k).map_or(Value::Null, Value::Timestamp)
                }
                _ => Value::Null,
            },
            (None, "ingested_at") => Value::Timestamp(ctx.now),
            (None, "is_deleted") => Value::Bool(is_deleted),
            (None, "deleted_at") => deleted_at.map_or(Value::Null, Value::Timestamp),
            (None, "_raw") => Value::Json(Box::new(item.clone())),
            (None, "_hash") => Value::Text(hash.clone()),
            (None, "_cursor") => cursor.map_or(Value::Null, Value::I64),
            (None, "_partition") => Value::Text(ctx.partition.to_owned()),
            (None, "_sync_run") => Value::Text(ctx.run_id.to_owned()),
            (None, other) => return Err(format!("unknown system column `{other}`")),
        };
        row.push(v);
    }
    Ok((row, cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, Cursor, CursorFilter, FetchArgs, StreamDef};
    use serde_json::json;

    fn fetch(
        _: &connector_runtime::Connector,
        _: &FetchArgs,
    ) -> Result<connector_runtime::paginate::Paginator, connector_runtime::Error> {
        Err(connector_runtime::Error::validation(
            "fetch",
            "not used here",
        ))
    }

    fn check(v: &Json) -> Result<(), String> {
        match v.get("n") {
            Some(n) if !n.is_i64() => Err(format!("n: invalid type {n}")),
            _ => Ok(()),
        }
    }

    fn stream(deletes: Deletes) -> StreamDef {
        StreamDef {
            name: "things",
            operation: "listThings",
            method: "GET",
            path: "/things",
            item_type: "Thing",
            primary_key: &["id"],
            cursor: Some(Cursor {
                field: "updated_at",
                kind: CursorKind::DateTime,
                filter: Some(CursorFilter {
                    param: "since",
                    format: CursorKind::DateTime,
                    inclusive: true,
                }),
            }),
            columns: &[
                Column {
                    name: "id",
                    wire: "id",
                    kind: ColumnKind::Int,
                    required: true,
                },
                Column {
                    name: "n",
                    wire: "n",
                    kind: ColumnKind::Int,
                    required: false,
                },
                Column {
                    name: "updated_at",
                    wire: "updated_at",
                    kind: ColumnKind::DateTime,
                    required: true,
                },
                Column {
                    name: "when",
                    wire: "when",
                    kind: ColumnKind::UnixSeconds,
                    required: false,
                },
            ],
            params: &[],
            parent: None,
            deletes,
            source: "detected",
            paging: "link header",
            fetch,
            check,
        }
    }

    fn run(s: &StreamDef, items: Vec<Json>) -> (Batch, TableSpec) {
        let table = TableSpec::of(s);
        let ctx = Context {
            stream: s,
            table: &table,
            partition: "{}",
            run_id: "r1",
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            redactions: vec![],
        };
        let b = transform(&ctx, items);
        (b, table)
    }

    #[test]
    fn rows_dead_letters_and_tombstones_are_told_apart() {
        let s = stream(Deletes::Tombstone { flag: "deleted" });
        let (b, table) = run(
            &s,
            vec![
                json!({"id": 1, "n": 5, "updated_at": "2026-01-01T00:00:10Z", "when": 1_700_000_000}),
                json!({"id": 2, "n": "five", "updated_at": "2026-01-01T00:00:11Z"}),
                json!({"n": 3, "updated_at": "2026-01-01T00:00:12Z"}),
                json!({"id": 4, "updated_at": "not a time"}),
                json!({"id": 5, "deleted": true}),
                json!({"id": 6, "updated_at": "2026-01-01T00:00:30+02:00", "when": "soon"}),
            ],
        );
        assert_eq!(b.read, 6);
        assert_eq!(b.rows.len(), 1);
        assert_eq!(b.deletes, vec![vec![Value::I64(5)]]);
        let dead: Vec<(&str, &str)> = b
            .dead
            .iter()
            .map(|d| (d.key.as_str(), d.error.as_str()))
            .collect();
        assert_eq!(dead.len(), 4, "{dead:?}");
        assert_eq!(dead[0].0, "[2]");
        assert!(dead[0].1.contains("does not match the item type"));
        assert!(dead[1].0.starts_with("sha256:") && dead[1].1.contains("`id` is missing"));
        assert!(
            dead[2].1.contains("cursor field `updated_at`"),
            "{}",
            dead[2].1
        );
        assert!(dead[3].1.contains("field `when`"), "{}", dead[3].1);
        // The cursor key is microseconds; the source's `updated_at` is the required column's.
        let row = &b.rows[0];
        let at = |c: &str| row[table.index(c).unwrap()].clone();
        assert_eq!(b.max_cursor, Some(1_767_225_610_000_000));
        assert_eq!(
            at("updated_at"),
            Value::Timestamp(DateTime::from_timestamp(1_767_225_610, 0).unwrap())
        );
        assert_eq!(
            at("when"),
            Value::Timestamp(DateTime::from_timestamp(1_700_000_000, 0).unwrap())
        );
        assert_eq!(
            at("ingested_at"),
            Value::Timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
        );
        assert_eq!(at("is_deleted"), Value::Bool(false));
        assert_eq!(at("_sync_run"), Value::from("r1"));
        assert_eq!(table.key, ["id"]);
        // The date-time cursor named `updated_at` is the system column itself.
        assert!(table.index("src_updated_at").is_none());
        let s = StreamDef { cursor: None, ..s };
        assert!(TableSpec::of(&s).index("src_updated_at").is_some());
    }

    #[test]
    fn soft_deletes_are_flagged_with_their_time() {
        let s = stream(Deletes::Soft {
            flag: None,
            at: Some("deleted_at"),
        });
        let (b, table) = run(
            &s,
            vec![
                json!({"id": 1, "updated_at": "2026-01-01T00:00:10Z", "deleted_at": "2026-01-01T00:00:10Z"}),
                json!({"id": 2, "updated_at": "2026-01-01T00:00:11Z", "deleted_at": null}),
            ],
        );
        let i = table.index("is_deleted").unwrap();
        let d = table.index("deleted_at").unwrap();
        assert_eq!(b.rows[0][i], Value::Bool(true));
        assert!(matches!(b.rows[0][d], Value::Timestamp(_)));
        assert_eq!(b.rows[1][i], Value::Bool(false));
        assert_eq!(b.rows[1][d], Value::Null);
    }

    #[test]
    fn filters_are_sent_in_the_servers_format() {
        let k = 1_767_225_610_000_000; // 2026-01-01T00:00:10Z in microseconds
        assert_eq!(
            filter_value(CursorKind::DateTime, CursorKind::DateTime, true, k),
            "2026-01-01T00:00:10Z"
        );
        assert_eq!(
            filter_value(CursorKind::DateTime, CursorKind::DateTime, false, k),
            "2026-01-01T00:00:09Z"
        );
        assert_eq!(
            filter_value(CursorKind::DateTime, CursorKind::UnixSeconds, true, k),
            "1767225610"
        );
        assert_eq!(
            filter_value(CursorKind::UnixSeconds, CursorKind::UnixSeconds, false, 100),
            "99"
        );
        assert_eq!(
            filter_value(CursorKind::UnixSeconds, CursorKind::DateTime, true, 0),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            filter_value(CursorKind::Integer, CursorKind::Integer, true, i64::MIN),
            i64::MIN.to_string()
        );
        assert_eq!(cursor_key(CursorKind::UnixSeconds, &json!("42")), Some(42));
        assert_eq!(cursor_key(CursorKind::DateTime, &json!(42)), None);
        // A key past chrono's range never panics: the filter falls back to the epoch, so the
        // listing reads everything again rather than skipping anything.
        assert_eq!(
            filter_value(CursorKind::DateTime, CursorKind::DateTime, false, i64::MAX),
            "1969-12-31T23:59:59Z"
        );
    }
}
