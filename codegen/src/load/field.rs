//! Field lookups on the small JSON objects a description is made of, without hashing the key.
//!
//! `serde_json`'s objects (with `preserve_order`) find a key by hashing it with SipHash. A schema or
//! operation object holds a handful of keys, where comparing each key's text is several times
//! cheaper than one hash, and lowering asks such objects for fields hundreds of thousands of times
//! for a large description. Larger objects (`paths`, `components/schemas`) still use the map's hash.

use serde_json::{Map, Value};

/// Objects up to this many keys are searched key by key.
const SCAN: usize = 16;

/// `get` for JSON objects, by scanning small ones.
pub(crate) trait Field {
    /// The value of field `key`, if this is an object holding it.
    fn field(&self, key: &str) -> Option<&Value>;
}

impl Field for Map<String, Value> {
    #[inline]
    fn field(&self, key: &str) -> Option<&Value> {
        if self.len() <= SCAN {
            self.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
        } else {
            self.get(key)
        }
    }
}

impl Field for Value {
    #[inline]
    fn field(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.field(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Field;
    use serde_json::json;

    #[test]
    fn finds_the_same_field_as_get_in_small_and_large_objects() {
        let small = json!({"type": "string", "format": "date", "": 1});
        let large: serde_json::Map<String, serde_json::Value> =
            (0..40).map(|i| (format!("k{i}"), json!(i))).collect();
        let large = serde_json::Value::Object(large);
        for key in ["type", "format", "", "missing", "typ"] {
            assert_eq!(small.field(key), small.get(key), "{key}");
        }
        for key in ["k0", "k39", "k17", "k40", ""] {
            assert_eq!(large.field(key), large.get(key), "{key}");
        }
        assert_eq!(json!([1, 2]).field("0"), None);
        assert_eq!(json!("text").field("type"), None);
    }
}
