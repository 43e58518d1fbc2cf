//! [`Value`]: the one type of a bound parameter and of a dynamic row's cell, and how each engine
//! binds and reads it.
//!
//! SQLite has five storage classes, so what PostgreSQL types natively SQLite keeps as text: a
//! decimal as its digits, JSON as its text, a UUID hyphenated, a timestamp as RFC 3339 in UTC with
//! microseconds (`2024-05-01T12:30:00.000001Z`, which sorts as it compares), a date as
//! `YYYY-MM-DD`. Reading back, a column declared `BOOLEAN`, `DATE`, `DATETIME` or `TIMESTAMP` gives
//! [`Value::Bool`], [`Value::Date`], [`Value::Timestamp`]; any other gives the storage class
//! (INTEGER, REAL, TEXT, BLOB). Typed rows ([`Row::deserialize`](crate::Row::deserialize)) turn such
//! text back into decimals, UUIDs, timestamps and JSON structures, so one struct reads the same
//! rows from both engines.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use connector_runtime::{Error, ErrorCode, ErrorSource};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// A parameter or a cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `boolean` (SQLite: the integer 0 or 1).
    Bool(bool),
    /// `bigint` (also read from `smallint` and `integer`).
    I64(i64),
    /// `double precision` (also read from `real`).
    F64(f64),
    /// `numeric`, up to 28 significant digits (SQLite: text).
    Decimal(Decimal),
    /// `text`, `varchar`, `char`, enum labels.
    Text(String),
    /// `bytea` (SQLite: BLOB).
    Bytes(Vec<u8>),
    /// `jsonb` (also read from `json`, and from arrays of scalars; SQLite: text). Boxed: it is the
    /// largest variant, and rows of millions of values should not pay for it.
    Json(Box<serde_json::Value>),
    /// `timestamptz` (a `timestamp` without time zone is read as UTC; SQLite: text).
    Timestamp(DateTime<Utc>),
    /// `date` (SQLite: text).
    Date(NaiveDate),
    /// `uuid` (SQLite: text).
    Uuid(Uuid),
}

impl Value {
    /// The variant's name, as spans and logs show a parameter (never its value).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::I64(_) => "i64",
            Value::F64(_) => "f64",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Json(_) => "json",
            Value::Timestamp(_) => "timestamp",
            Value::Date(_) => "date",
            Value::Uuid(_) => "uuid",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// JSON from a `serde_json::Value`.
    pub fn json(v: serde_json::Value) -> Self {
        Value::Json(Box::new(v))
    }

    /// The text, when this is [`Value::Text`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is [`Value::I64`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(i) => Some(*i),
            _ => None,
        }
    }
}

/// Parameters' kinds, comma-separated: what a span records instead of the values.
pub(crate) fn kinds(params: &[Value]) -> String {
    let mut out = String::new();
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(p.kind());
    }
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::I64(i) => write!(f, "{i}"),
            Value::F64(x) => write!(f, "{x}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Json(j) => write!(f, "{j}"),
            Value::Timestamp(t) => f.write_str(&timestamp_text(t)),
            Value::Date(d) => write!(f, "{d}"),
            Value::Uuid(u) => write!(f, "{u}"),
        }
    }
}

/// RFC 3339 in UTC with six fractional digits: fixed width, so text order is time order.
pub(crate) fn timestamp_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::I64(i) => s.serialize_i64(*i),
            Value::F64(x) => s.serialize_f64(*x),
            Value::Decimal(d) => s.collect_str(d),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Json(j) => j.serialize(s),
            Value::Timestamp(t) => s.serialize_str(&timestamp_text(t)),
            Value::Date(d) => s.collect_str(d),
            Value::Uuid(u) => s.collect_str(u),
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

from_impls! {
    bool => |v| Value::Bool(v),
    i16 => |v| Value::I64(v.into()),
    i32 => |v| Value::I64(v.into()),
    i64 => |v| Value::I64(v),
    u32 => |v| Value::I64(v.into()),
    f32 => |v| Value::F64(v.into()),
    f64 => |v| Value::F64(v),
    Decimal => |v| Value::Decimal(v),
    String => |v| Value::Text(v),
    &str => |v| Value::Text(v.to_owned()),
    Vec<u8> => |v| Value::Bytes(v),
    &[u8] => |v| Value::Bytes(v.to_vec()),
    serde_json::Value => |v| Value::json(v),
    DateTime<Utc> => |v| Value::Timestamp(v),
    NaiveDate => |v| Value::Date(v),
    Uuid => |v| Value::Uuid(v),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A value the server sent that has no [`Value`], or that does not decode.
pub(crate) fn decode_error(column: &str, what: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Deserialize,
        format!("column `{column}`: {what}"),
    )
    .with_detail("column", column)
}

pub(crate) mod pg {
    //! PostgreSQL: binding with each value's own type (NULL as "unknown", so the server infers
    //! it), reading by the column's type, decided once per result.

    use super::*;
    use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo, PgTypeKind, Postgres};
    use sqlx::types::Json;
    use sqlx::{Arguments, Column, Row as _, TypeInfo};

    /// NULL of no declared type: the server infers it from the statement, as for a literal NULL.
    struct UntypedNull;

    impl sqlx::Type<Postgres> for UntypedNull {
        fn type_info() -> PgTypeInfo {
            PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
        }
    }

    impl sqlx::Encode<'_, Postgres> for UntypedNull {
        fn encode_by_ref(
            &self,
            _buf: &mut sqlx::postgres::PgArgumentBuffer,
        ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
            Ok(sqlx::encode::IsNull::Yes)
        }
    }

    pub(crate) fn arguments<'q>(
        params: impl Iterator<Item = &'q Value>,
    ) -> Result<PgArguments, Error> {
        let mut a = PgArguments::default();
        a.reserve(params.size_hint().0, params.size_hint().0 * 8);
        for (i, p) in params.enumerate() {
            let r = match p {
                Value::Null => a.add(UntypedNull),
                Value::Bool(b) => a.add(*b),
                Value::I64(v) => a.add(*v),
                Value::F64(v) => a.add(*v),
                Value::Decimal(d) => a.add(*d),
                Value::Text(s) => a.add(s.as_str()),
                Value::Bytes(b) => a.add(b.as_slice()),
                Value::Json(j) => a.add(Json(j.as_ref())),
                Value::Timestamp(t) => a.add(*t),
                Value::Date(d) => a.add(*d),
                Value::Uuid(u) => a.add(*u),
            };
            r.map_err(|e| {
                Error::validation(
                    "params",
                    format!(
                        "parameter ${} ({}) could not be encoded: {e}",
                        i + 1,
                        p.kind()
                    ),
                )
            })?;
        }
        Ok(a)
    }

    /// How one column is read.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Reader {
        Bool,
        I16,
        I32,
        I64,
        Oid,
        F32,
        F64,
        Numeric,
        Text,
        Bytes,
        Json,
        Timestamptz,
        Timestamp,
        Date,
        Uuid,
        TextArray,
        I64Array,
        I32Array,
        F64Array,
        BoolArray,
        Void,
        Unsupported,
    }

    fn reader_for(ty: &PgTypeInfo) -> Reader {
        match ty.name() {
            "BOOL" => Reader::Bool,
            "INT2" => Reader::I16,
            "INT4" => Reader::I32,
            "INT8" => Reader::I64,
            "OID" => Reader::Oid,
            "FLOAT4" => Reader::F32,
            "FLOAT8" => Reader::F64,
            "NUMERIC" => Reader::Numeric,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CITEXT" | "\"CHAR\"" | "UNKNOWN" => {
                Reader::Text
            }
            "BYTEA" => Reader::Bytes,
            "JSON" | "JSONB" => Reader::Json,
            "TIMESTAMPTZ" => Reader::Timestamptz,
            "TIMESTAMP" => Reader::Timestamp,
            "DATE" => Reader::Date,
            "UUID" => Reader::Uuid,
            "TEXT[]" | "VARCHAR[]" | "NAME[]" | "BPCHAR[]" => Reader::TextArray,
            "INT8[]" => Reader::I64Array,
            "INT4[]" | "INT2[]" => Reader::I32Array,
            "FLOAT8[]" => Reader::F64Array,
            "BOOL[]" => Reader::BoolArray,
            "VOID" => Reader::Void,
            _ => match ty.kind() {
                PgTypeKind::Enum(_) => Reader::Text,
                PgTypeKind::Domain(base) => reader_for(base),
                _ => Reader::Unsupported,
            },
        }
    }

    /// The column names and readers of a result, from its first row.
    pub(crate) fn layout(row: &PgRow) -> (std::sync::Arc<[String]>, Vec<Reader>) {
        let cols = row.columns();
        let names = cols.iter().map(|c| c.name().to_owned()).collect();
        let readers = cols.iter().map(|c| reader_for(c.type_info())).collect();
        (names, readers)
    }

    fn arr<T>(v: Option<Vec<Option<T>>>) -> Value
    where
        serde_json::Value: From<T>,
    {
        match v {
            None => Value::Null,
            Some(items) => Value::json(serde_json::Value::Array(
                items
                    .into_iter()
                    .map(|x| x.map_or(serde_json::Value::Null, serde_json::Value::from))
                    .collect(),
            )),
        }
    }

    pub(crate) fn read(
        row: &PgRow,
        names: &[String],
        readers: &[Reader],
    ) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(readers.len());
        for (i, reader) in readers.iter().enumerate() {
            let name = names.get(i).map(String::as_str).unwrap_or("?");
            let fail = |e: sqlx::Error| decode_error(name, e);
            let v = match reader {
                Reader::Bool => row.try_get::<Option<bool>, _>(i).map_err(fail)?.map(Value::Bool),
                Reader::I16 => row.try_get::<Option<i16>, _>(i).map_err(fail)?.map(Value::from),
                Reader::I32 => row.try_get::<Option<i32>, _>(i).map_err(fail)?.map(Value::from),
                Reader::I64 => row.try_get::<Option<i64>, _>(i).map_err(fail)?.map(Value::I64),
                Reader::Oid => row
                    .try_get::<Option<sqlx::postgres::types::Oid>, _>(i)
                    .map_err(fail)?
                    .map(|o| Value::I64(o.0.into())),
                Reader::F32 => row.try_get::<Option<f32>, _>(i).map_err(fail)?.map(Value::from),
                Reader::F64 => row.try_get::<Option<f64>, _>(i).map_err(fail)?.map(Value::F64),
                Reader::Numeric => row
                    .try_get::<Option<Decimal>, _>(i)
                    .map_err(|e| {
                        decode_error(
                            name,
                            format!("{e} (a numeric beyond 28 significant digits, NaN or infinity has no Decimal: cast it to text or float8)"),
                        )
                    })?
                    .map(Value::Decimal),
                Reader::Text => row.try_get::<Option<String>, _>(i).map_err(fail)?.map(Value::Text),
                Reader::Bytes => row.try_get::<Option<Vec<u8>>, _>(i).map_err(fail)?.map(Value::Bytes),
                Reader::Json => row
                    .try_get::<Option<serde_json::Value>, _>(i)
                    .map_err(fail)?
                    .map(Value::json),
                Reader::Timestamptz => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)
                    .map_err(fail)?
                    .map(Value::Timestamp),
                Reader::Timestamp => row
                    .try_get::<Option<chrono::NaiveDateTime>, _>(i)
                    .map_err(fail)?
                    .map(|t| Value::Timestamp(t.and_utc())),
                Reader::Date => row.try_get::<Option<NaiveDate>, _>(i).map_err(fail)?.map(Value::Date),
                Reader::Uuid => row.try_get::<Option<Uuid>, _>(i).map_err(fail)?.map(Value::Uuid),
                Reader::TextArray => Some(arr(row.try_get::<Option<Vec<Option<String>>>, _>(i).map_err(fail)?)),
                Reader::I64Array => Some(arr(row.try_get::<Option<Vec<Option<i64>>>, _>(i).map_err(fail)?)),
                Reader::I32Array => Some(arr(row.try_get::<Option<Vec<Option<i32>>>, _>(i).map_err(fail)?)),
                Reader::F64Array => Some(arr(row.try_get::<Option<Vec<Option<f64>>>, _>(i).map_err(fail)?)),
                Reader::BoolArray => Some(arr(row.try_get::<Option<Vec<Option<bool>>>, _>(i).map_err(fail)?)),
                Reader::Void => None,
                Reader::Unsupported => {
                    let raw = row.try_get_raw(i).map_err(fail)?;
                    if sqlx::ValueRef::is_null(&raw) {
                        None
                    } else {
                        let ty = row.columns()[i].type_info().name().to_owned();
                        return Err(Error::new(
                            ErrorCode::Unsupported,
                            ErrorSource::Deserialize,
                            format!("column `{name}` has type {ty}, which has no Value: cast it in the query (`::text`, `::jsonb`)"),
                        )
                        .with_detail("column", name)
                        .with_detail("type", ty));
                    }
                }
            };
            out.push(v.unwrap_or(Value::Null));
        }
        Ok(out)
    }
}

pub(crate) mod sqlite {
    //! SQLite: binding by storage class (see the module docs for the text forms), reading by the
    //! declared type where it says more than the storage class.

    use super::*;
    use sqlx::sqlite::{SqliteArguments, SqliteRow, SqliteValueRef};
    use sqlx::{Arguments, Column, Row as _, TypeInfo, ValueRef};

    pub(crate) fn arguments<'q>(
        params: impl Iterator<Item = &'q Value>,
    ) -> Result<SqliteArguments<'q>, Error> {
        let mut a = SqliteArguments::default();
        a.reserve(params.size_hint().0, 0);
        for (i, p) in params.enumerate() {
            let r = match p {
                Value::Null => a.add(Option::<i64>::None),
                Value::Bool(b) => a.add(*b),
                Value::I64(v) => a.add(*v),
                Value::F64(v) => a.add(*v),
                Value::Decimal(d) => a.add(d.to_string()),
                Value::Text(s) => a.add(s.as_str()),
                Value::Bytes(b) => a.add(b.as_slice()),
                Value::Json(j) => a.add(j.to_string()),
                Value::Timestamp(t) => a.add(timestamp_text(t)),
                Value::Date(d) => a.add(d.to_string()),
                Value::Uuid(u) => a.add(u.hyphenated().to_string()),
            };
            r.map_err(|e| {
                Error::validation(
                    "params",
                    format!(
                        "parameter ?{} ({}) could not be encoded: {e}",
                        i + 1,
                        p.kind()
                    ),
                )
            })?;
        }
        Ok(a)
    }

    /// How one column is read: by declared type when it says more, else by the value's class.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Reader {
        Bool,
        Date,
        Timestamp,
        Dynamic,
    }

    pub(crate) fn layout(row: &SqliteRow) -> (std::sync::Arc<[String]>, Vec<Reader>) {
        let cols = row.columns();
        let names = cols.iter().map(|c| c.name().to_owned()).collect();
        let readers = cols
            .iter()
            .map(|c| match c.type_info().name() {
                "BOOLEAN" => Reader::Bool,
                "DATE" => Reader::Date,
                "DATETIME" => Reader::Timestamp,
                _ => Reader::Dynamic,
            })
            .collect();
        (names, readers)
    }

    fn dynamic(
        raw: &SqliteValueRef<'_>,
        row: &SqliteRow,
        i: usize,
        name: &str,
    ) -> Result<Value, Error> {
        let fail = |e: sqlx::Error| decode_error(name, e);
        Ok(match raw.type_info().name() {
            "NULL" => Value::Null,
            "INTEGER" => Value::I64(row.try_get_unchecked::<i64, _>(i).map_err(fail)?),
            "REAL" => Value::F64(row.try_get_unchecked::<f64, _>(i).map_err(fail)?),
            "BLOB" => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i).map_err(fail)?),
            _ => Value::Text(row.try_get_unchecked::<String, _>(i).map_err(fail)?),
        })
    }

    pub(crate) fn read(
        row: &SqliteRow,
        names: &[String],
        readers: &[Reader],
    ) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(readers.len());
        for (i, reader) in readers.iter().enumerate() {
            let name = names.get(i).map(String::as_str).unwrap_or("?");
            let raw = row.try_get_raw(i).map_err(|e| decode_error(name, e))?;
            if raw.is_null() {
                out.push(Value::Null);
                continue;
            }
            let class = raw.type_info().name().to_owned();
            let v = match (reader, class.as_str()) {
                (Reader::Bool, "INTEGER") => Value::Bool(
                    row.try_get_unchecked::<i64, _>(i)
                        .map_err(|e| decode_error(name, e))?
                        != 0,
                ),
                (Reader::Date, "TEXT") => {
                    let s = row
                        .try_get_unchecked::<String, _>(i)
                        .map_err(|e| decode_error(name, e))?;
                    match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                        Ok(d) => Value::Date(d),
                        Err(_) => Value::Text(s),
                    }
                }
                (Reader::Timestamp, "TEXT") => {
                    let s = row
                        .try_get_unchecked::<String, _>(i)
                        .map_err(|e| decode_error(name, e))?;
                    match parse_timestamp(&s) {
                        Some(t) => Value::Timestamp(t),
                        None => Value::Text(s),
                    }
                }
                _ => dynamic(&raw, row, i, name)?,
            };
            out.push(v);
        }
        Ok(out)
    }

    /// RFC 3339, or SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC, as `CURRENT_TIMESTAMP` writes).
    pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
                return Some(t.and_utc());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_a_fixed_width_text_form() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T12:30:00.5+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp_text(&t), "2024-05-01T10:30:00.500000Z");
        assert_eq!(sqlite::parse_timestamp(&timestamp_text(&t)), Some(t));
        assert_eq!(
            sqlite::parse_timestamp("2024-05-01 10:30:00"),
            Some(
                DateTime::parse_from_rfc3339("2024-05-01T10:30:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        assert_eq!(sqlite::parse_timestamp("yesterday"), None);
    }

    #[test]
    fn kinds_name_parameters_without_their_values() {
        let params = [Value::from("secret"), Value::from(7i64), Value::Null];
        assert_eq!(kinds(&params), "text,i64,null");
        assert_eq!(Value::from(Option::<i64>::None), Value::Null);
        assert!(
            std::mem::size_of::<Value>() <= 32,
            "{}",
            std::mem::size_of::<Value>()
        );
    }
}
