//! Text to JSON tree: JSON or YAML chosen by the first character, errors with line and column, YAML merge keys.

use std::path::Path;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::Diagnostic;

/// Parses one file's text. `{` first means JSON; anything else is read as YAML (a superset of JSON).
/// YAML keys that are not strings (`200:`, `true:`) become their text, as written.
pub(crate) fn parse(text: &str, file: Option<&Path>) -> Result<Value, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let result = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| {
            let line = (e.line() > 0).then(|| (e.line(), e.column()));
            failure("JSON", &e.to_string(), line)
        })
    } else {
        JsonValue
            .deserialize(serde_norway::Deserializer::from_str(text))
            .map(|mut value| {
                if text.contains("<<") {
                    apply_merge_keys(&mut value);
                }
                value
            })
            .map_err(|e| {
                let line = e.location().map(|l| (l.line(), l.column()));
                failure("YAML", &e.to_string(), line)
            })
    };
    result.map_err(|diag| match file {
        Some(file) => diag.in_file(file),
        None => diag,
    })
}

fn failure(format: &str, message: &str, line: Option<(usize, usize)>) -> Diagnostic {
    // Parsers append " at line L column C" for the reported position, which the diagnostic carries
    // itself; other positions in the message (the context a YAML error started in) are kept.
    let message = match line {
        Some((l, c)) => message
            .strip_suffix(&format!(" at line {l} column {c}"))
            .unwrap_or(message),
        None => message,
    };
    let diag = Diagnostic::error(format!("not valid {format}: {message}")).help(format!(
        "fix the {format} syntax at the reported position; the description must be one {format} document"
    ));
    match line {
        Some((l, c)) => diag.line(l, c),
        None => diag,
    }
}

/// Builds a JSON tree from YAML events: keys as text, integers beyond 64 bits as floats (serde_json's own
/// `Value` rejects them), custom tags (`!Thing value`) dropped in favour of their value.
struct JsonValue;

impl<'de> DeserializeSeed<'de> for JsonValue {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonValue {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(match (i64::try_from(v), u64::try_from(v)) {
            (Ok(small), _) => Value::Number(small.into()),
            (_, Ok(small)) => Value::Number(small.into()),
            _ => float(v as f64),
        })
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or_else(|_| float(v as f64), |small| Value::Number(small.into())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(JsonValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeyText)? {
            let value = map.next_value_seed(JsonValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (_tag, variant) = data.variant::<de::IgnoredAny>()?;
        variant.newtype_variant_seed(JsonValue)
    }
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A mapping key as the text it was written as (`200`, `true`, `1.5` stay text).
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

/// YAML 1.1 merge keys (`<<: *base` or `<<: [*a, *b]`): keys already in the map win, earlier sources win.
fn apply_merge_keys(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                if let Some(merge) = map.shift_remove("<<") {
                    let sources = match merge {
                        Value::Object(source) => vec![source],
                        Value::Array(items) => items
                            .into_iter()
                            .filter_map(|item| match item {
                                Value::Object(source) => Some(source),
                                _ => None,
                            })
                            .collect(),
                        other => {
                            map.insert("<<".to_string(), other);
                            Vec::new()
                        }
                    };
                    for source in sources {
                        for (key, value) in source {
                            map.entry(key).or_insert(value);
                        }
                    }
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_keys_become_strings_and_merge_keys_apply() {
        let text = "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n200: ok\ntrue: yes\non: 1\n1.5: x\n";
        let value = parse(text, None).unwrap();
        assert_eq!(
            value,
            json!({"base": {"a": 1, "b": 2}, "derived": {"b": 3, "a": 1}, "200": "ok", "true": "yes", "on": 1, "1.5": "x"})
        );
    }

    #[test]
    fn yaml_big_integers_become_floats_and_tags_are_dropped() {
        let value = parse(
            "min: -9223372036854776000\nmax: 18446744073709551615\nbig: 1e400\ntagged: !Thing 3\n",
            None,
        )
        .unwrap();
        assert_eq!(value["min"].as_f64(), Some(-9223372036854776000.0));
        assert_eq!(value["max"], json!(u64::MAX));
        assert_eq!(value["tagged"], json!(3));
        assert!(parse("? [a, b]\n: c\n", None).is_err());
        assert!(parse("a: 1\n---\nb: 2\n", None).is_err());
    }

    #[test]
    fn json_error_has_line_and_column() {
        let err = parse("{\n  \"a\": 1,\n  \"b\": }\n", Some(Path::new("x.json"))).unwrap_err();
        assert_eq!(err.line, Some((3, 8)));
        assert!(
            err.message.starts_with("not valid JSON: "),
            "{}",
            err.message
        );
        assert!(!err.message.contains(" at line "), "{}", err.message);
        assert!(err.help.is_some());
        assert_eq!(err.file.as_deref(), Some(Path::new("x.json")));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, None).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, None).is_err());
    }
}
