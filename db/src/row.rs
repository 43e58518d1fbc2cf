//! [`Row`]: a dynamic result row (column names shared by every row of a result, one [`Value`] per
//! column), and its serde deserializer, so a row reads into any `Deserialize` struct.
//!
//! A row deserializes as a map from column name to value (structs, maps), as a sequence of its
//! values (tuples), or, when it has one column, as that column (`query_as::<i64>`, a decimal, a
//! `serde_json::Value`). Values convert
//! where a type asks for it and the conversion loses nothing: 0 and 1 into `bool`, integers into
//! floats, decimals and timestamps into strings, and text holding JSON into structs, maps and
//! sequences (SQLite keeps JSON as text).

use std::fmt;
use std::sync::Arc;

use connector_runtime::{Error, ErrorCode, ErrorSource};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::value::{Value, timestamp_text};

/// One row of a result.
#[derive(Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.columns.iter().zip(self.values.iter()))
            .finish()
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    /// Column names, in the order of the result.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The values, taken out.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The value of the first column named `column`.
    pub fn get(&self, column: &str) -> Option<&Value> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.values.get(i)
    }

    /// The value at `index`.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no column.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The row as `T`; a mismatch is PARSING_ERROR naming the column.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(RowDe(self)).map_err(|e| {
            Error::new(
                ErrorCode::ParsingError,
                ErrorSource::Deserialize,
                format!(
                    "a row could not be read as {}: {}",
                    std::any::type_name::<T>(),
                    e.0
                ),
            )
        })
    }
}

/// A deserialization failure (turned into a connector error by [`Row::deserialize`]).
#[derive(Debug)]
pub struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// A JSON column read into `T` on both engines: from PostgreSQL's `json`/`jsonb` as it is, from
/// SQLite's text by parsing it. (A bare `serde_json::Value` field receives SQLite's JSON as the
/// string it is stored as; a struct, map or sequence field is parsed either way.)
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

/// The newtype name by which [`Json`] asks this crate's deserializer to parse text.
const JSON_NEWTYPE: &str = "connector_db::Json";

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Json<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Json<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Json<T>, D::Error> {
                T::deserialize(d).map(Json)
            }
        }
        d.deserialize_newtype_struct(JSON_NEWTYPE, V(std::marker::PhantomData))
    }
}

impl<T: serde::Serialize> serde::Serialize for Json<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An owned JSON value as a deserializer with this module's error type.
struct JsonOwned(serde_json::Value);

macro_rules! forward_json {
    ($($m:ident)*) => {
        $(fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.0.$m(visitor).map_err(json_err)
        })*
    };
}

impl<'de> de::Deserializer<'de> for JsonOwned {
    type Error = DeError;

    forward_json! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0
            .deserialize_unit_struct(name, visitor)
            .map_err(json_err)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0
            .deserialize_newtype_struct(name, visitor)
            .map_err(json_err)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_tuple(len, visitor).map_err(json_err)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0
            .deserialize_tuple_struct(name, len, visitor)
            .map_err(json_err)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0
            .deserialize_struct(name, fields, visitor)
            .map_err(json_err)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0
            .deserialize_enum(name, variants, visitor)
            .map_err(json_err)
    }
}

struct RowDe<'a>(&'a Row);

struct Columns<'a> {
    row: &'a Row,
    next: usize,
}

impl<'de> de::MapAccess<'de> for Columns<'de> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.row.columns.get(self.next) {
            Some(name) => seed
                .deserialize(name.as_str().into_deserializer())
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        let column = self.row.columns.get(i).map(String::as_str).unwrap_or("?");
        let value = self.row.values.get(i).unwrap_or(&Value::Null);
        seed.deserialize(ValueDe(value))
            .map_err(|e| DeError(format!("column `{column}`: {e}")))
    }
}

struct Cells<'a, I: Iterator<Item = &'a Value>>(I);

impl<'de, I: Iterator<Item = &'de Value>> de::SeqAccess<'de> for Cells<'de, I> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(v) => seed.deserialize(ValueDe(v)).map(Some),
            None => Ok(None),
        }
    }
}

macro_rules! single_column {
    ($($m:ident)*) => {
        $(fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            ValueDe(self.only()?).$m(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for RowDe<'de> {
    type Error = DeError;

    /// A type that takes anything (a decimal, a `serde_json::Value`) reads a one-column row as
    /// its column, and a wider row as a map.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.values.as_slice() {
            [only] => ValueDe(only).deserialize_any(visitor),
            _ => self.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Columns {
            row: self.0,
            next: 0,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(Cells(self.0.values.iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! { identifier }

    // A scalar target reads the row's only column.
    single_column! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        ValueDe(self.only()?).deserialize_unit_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        ValueDe(self.only()?).deserialize_enum(name, variants, visitor)
    }
}

impl<'a> RowDe<'a> {
    fn only(&self) -> Result<&'a Value, DeError> {
        match self.0.values.as_slice() {
            [v] => Ok(v),
            vs => Err(DeError(format!(
                "a row of {} columns cannot be read as one value",
                vs.len()
            ))),
        }
    }
}

/// Deserializes one cell.
struct ValueDe<'a>(&'a Value);

impl ValueDe<'_> {
    /// JSON kept as text (SQLite), parsed for a target that wants a structure.
    fn structured(&self) -> Option<Result<serde_json::Value, DeError>> {
        match self.0 {
            Value::Text(s) => {
                Some(serde_json::from_str(s).map_err(|e| DeError(format!("text is not JSON: {e}"))))
            }
            _ => None,
        }
    }
}

fn json_err(e: serde_json::Error) -> DeError {
    DeError(e.to_string())
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::I64(i) => visitor.visit_i64(*i),
            Value::F64(x) => visitor.visit_f64(*x),
            Value::Decimal(d) => visitor.visit_string(d.to_string()),
            Value::Text(s) => visitor.visit_str(s),
            Value::Bytes(b) => visitor.visit_bytes(b),
            Value::Json(j) => j.as_ref().deserialize_any(visitor).map_err(json_err),
            Value::Timestamp(t) => visitor.visit_string(timestamp_text(t)),
            Value::Date(d) => visitor.visit_string(d.to_string()),
            Value::Uuid(u) => visitor.visit_string(u.hyphenated().to_string()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::I64(0) => visitor.visit_bool(false),
            Value::I64(1) => visitor.visit_bool(true),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        use rust_decimal::prelude::ToPrimitive;
        match self.0 {
            Value::I64(i) => visitor.visit_f64(*i as f64),
            Value::Decimal(d) => match d.to_f64() {
                Some(x) => visitor.visit_f64(x),
                None => self.deserialize_any(visitor),
            },
            Value::Text(s) => match s.parse::<f64>() {
                Ok(x) => visitor.visit_f64(x),
                Err(_) => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        use rust_decimal::prelude::ToPrimitive;
        match self.0 {
            Value::Decimal(d) if d.fract().is_zero() => match d.to_i64() {
                Some(i) => visitor.visit_i64(i),
                None => self.deserialize_any(visitor),
            },
            Value::Bool(b) => visitor.visit_i64(i64::from(*b)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) => visitor.visit_str(s),
            Value::Null | Value::Bytes(_) => self.deserialize_any(visitor),
            Value::Json(j) => match j.as_ref() {
                serde_json::Value::String(s) => visitor.visit_str(s),
                other => visitor.visit_string(other.to_string()),
            },
            other => visitor.visit_string(other.to_string()),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) => visitor.visit_bytes(s.as_bytes()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Bytes(b) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(b.iter().copied()))
            }
            Value::Json(j) => j.as_ref().deserialize_seq(visitor).map_err(json_err),
            _ => match self.structured() {
                Some(v) => v?.deserialize_seq(visitor).map_err(json_err),
                None => self.deserialize_any(visitor),
            },
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Json(j) => j.as_ref().deserialize_map(visitor).map_err(json_err),
            _ => match self.structured() {
                Some(v) => v?.deserialize_map(visitor).map_err(json_err),
                None => self.deserialize_any(visitor),
            },
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Json(j) => j
                .as_ref()
                .deserialize_struct(name, fields, visitor)
                .map_err(json_err),
            _ => match self.structured() {
                Some(v) => v?
                    .deserialize_struct(name, fields, visitor)
                    .map_err(json_err),
                None => self.deserialize_any(visitor),
            },
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) => {
                let d: de::value::StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                d.deserialize_enum(name, variants, visitor)
            }
            Value::Json(j) => j
                .as_ref()
                .deserialize_enum(name, variants, visitor)
                .map_err(json_err),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == JSON_NEWTYPE {
            if let Some(parsed) = self.structured() {
                return visitor.visit_newtype_struct(JsonOwned(parsed?));
            }
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u64 u128 char unit_struct tuple_struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn row(cols: &[&str], values: Vec<Value>) -> Row {
        Row::new(cols.iter().map(|c| c.to_string()).collect(), values)
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Payload {
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: i32,
        name: Option<String>,
        active: bool,
        price: rust_decimal::Decimal,
        payload: Payload,
        blob: Vec<u8>,
        ratio: f64,
    }

    #[test]
    fn rows_read_into_structs_tuples_and_scalars() {
        let r = row(
            &["id", "name", "active", "price", "payload", "blob", "ratio"],
            vec![
                Value::I64(7),
                Value::Null,
                Value::I64(1),
                Value::Text("12.50".into()),
                Value::Text(r#"{"tags":["a"]}"#.into()),
                Value::Bytes(vec![0, 255]),
                Value::I64(2),
            ],
        );
        let item: Item = r.deserialize().unwrap();
        assert_eq!(
            item,
            Item {
                id: 7,
                name: None,
                active: true,
                price: "12.50".parse().unwrap(),
                payload: Payload {
                    tags: vec!["a".into()]
                },
                blob: vec![0, 255],
                ratio: 2.0,
            }
        );
        let one = row(&["n"], vec![Value::I64(3)]);
        assert_eq!(one.deserialize::<i64>().unwrap(), 3);
        let pair = row(&["a", "b"], vec![Value::I64(3), Value::Text("x".into())]);
        assert_eq!(
            pair.deserialize::<(i64, String)>().unwrap(),
            (3, "x".to_owned())
        );
    }

    #[test]
    fn json_reads_the_same_from_json_and_from_text() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct J {
            doc: Option<Json<serde_json::Value>>,
        }
        let v = serde_json::json!({"a": [1, "x"]});
        let from_text = row(&["doc"], vec![Value::Text(v.to_string())]);
        let from_json = row(&["doc"], vec![Value::json(v.clone())]);
        let null = row(&["doc"], vec![Value::Null]);
        assert_eq!(
            from_text.deserialize::<J>().unwrap().doc,
            Some(Json(v.clone()))
        );
        assert_eq!(from_json.deserialize::<J>().unwrap().doc, Some(Json(v)));
        assert_eq!(null.deserialize::<J>().unwrap().doc, None);
        assert!(
            row(&["doc"], vec![Value::Text("{".into())])
                .deserialize::<J>()
                .is_err()
        );
    }

    #[test]
    fn mismatches_name_the_column() {
        let r = row(&["id"], vec![Value::Text("seven".into())]);
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Only {
            id: i64,
        }
        let e = r.deserialize::<Only>().unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert!(e.message().contains("column `id`"), "{e}");
        let e = row(&["a", "b"], vec![Value::Null, Value::Null])
            .deserialize::<i64>()
            .unwrap_err();
        assert!(e.message().contains("2 columns"), "{e}");
    }
}
