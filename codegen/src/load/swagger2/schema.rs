//! Swagger 2.0 schema objects to OpenAPI 3.0: `x-nullable`, `type: file`, type lists, string discriminators, refs.

use serde_json::{Map, Value, json};

use super::{Converter, Kind, MAX_DEPTH};

impl Converter {
    /// Converts one schema and the schemas nested in it; examples, defaults and enums are left alone.
    pub(super) fn schema(&mut self, value: Value, depth: usize) -> Value {
        let Value::Object(map) = value else {
            return value;
        };
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Value::Object(map);
        }
        let mut out = Map::with_capacity(map.len());
        for (key, value) in map {
            let value = match key.as_str() {
                "$ref" => {
                    self.note_ref(&value, Kind::Schema);
                    value
                }
                "x-nullable" => {
                    out.insert("nullable".to_string(), value);
                    continue;
                }
                "type" => {
                    schema_type(value, &mut out);
                    continue;
                }
                "properties" => match value {
                    Value::Object(properties) => Value::Object(
                        properties
                            .into_iter()
                            .map(|(name, schema)| (name, self.schema(schema, depth + 1)))
                            .collect(),
                    ),
                    other => other,
                },
                "items" | "allOf" | "anyOf" | "oneOf" => match value {
                    Value::Array(list) => Value::Array(
                        list.into_iter()
                            .map(|s| self.schema(s, depth + 1))
                            .collect(),
                    ),
                    other => self.schema(other, depth + 1),
                },
                "additionalProperties" | "not" => self.schema(value, depth + 1),
                "discriminator" => match value {
                    Value::String(name) => json!({ "propertyName": name }),
                    other => other,
                },
                _ => value,
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }
}

/// `file` is a binary string; a list of types with one non-null type becomes that type, nullable.
fn schema_type(value: Value, out: &mut Map<String, Value>) {
    match value {
        Value::String(name) if name == "file" => {
            out.insert("type".to_string(), json!("string"));
            out.insert("format".to_string(), json!("binary"));
        }
        Value::Array(types) => {
            let named: Vec<&Value> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .collect();
            if let [single] = named.as_slice() {
                let nullable = types.len() > 1;
                schema_type((*single).clone(), out);
                if nullable {
                    out.insert("nullable".to_string(), json!(true));
                }
            } else {
                out.insert("type".to_string(), Value::Array(types));
            }
        }
        other => {
            out.insert("type".to_string(), other);
        }
    }
}

/// Redirects `#/definitions/`, `#/parameters/` and `#/responses/` refs to their 3.0 places, everywhere.
pub(super) fn rewrite_refs(root: &mut Value) {
    const MOVES: [(&str, &str); 3] = [
        ("#/definitions/", "#/components/schemas/"),
        ("#/parameters/", "#/components/parameters/"),
        ("#/responses/", "#/components/responses/"),
    ];
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get_mut("$ref") {
                    let moved = MOVES.iter().find_map(|(old, new)| {
                        reference
                            .strip_prefix(old)
                            .map(|rest| format!("{new}{rest}"))
                    });
                    if let Some(moved) = moved {
                        *reference = moved;
                    }
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}
