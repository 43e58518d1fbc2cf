//! Which members of a description are data (examples, defaults, enum members, extensions) rather than description, so that a `$ref` inside them is read as a value and never followed.

use serde_json::Value;

/// Keys whose members are names chosen by the author (property names, status codes, media types...),
/// never keywords: under them, `default` or `example` is a name, not data.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "schemas",
    "responses",
    "parameters",
    "requestBodies",
    "headers",
    "securitySchemes",
    "securityDefinitions",
    "links",
    "callbacks",
    "pathItems",
    "paths",
    "webhooks",
    "x-webhooks",
    "examples",
    "content",
    "encoding",
    "variables",
    "mapping",
    "scopes",
    "mediaTypes",
    "additionalOperations",
    super::bundle::BUNDLE_KEY,
];

/// Keywords whose value is an instance (a literal JSON value), not a part of the description.
const DATA_KEYS: &[&str] = &[
    "example",
    "default",
    "const",
    "enum",
    "value",
    "dataValue",
    "serializedValue",
];

/// Extensions the generator reads as description (webhooks before 3.1, the bundle itself); every
/// other `x-` member is the vendor's own data.
const DESCRIBING_EXTENSIONS: &[&str] = &["x-webhooks", super::bundle::BUNDLE_KEY];

/// Whether the member `key` (holding `value`) of an object that sits under `container` (the key of
/// that object in its parent; `None` at the root or in an array) is data: an example, a default, a
/// `const`, an enum's members, an Example Object's values, a schema's `examples` list, Swagger 2.0's
/// examples by media type, or a vendor extension.
pub fn is_data(container: Option<&str>, key: &str, value: &Value) -> bool {
    if let Some(c) = container {
        if c == "examples" && key.contains('/') {
            // Swagger 2.0 response examples: media type to the example itself.
            return true;
        }
        if NAME_MAPS.contains(&c) {
            return false;
        }
    }
    DATA_KEYS.contains(&key)
        || (key == "examples" && value.is_array())
        || (key.starts_with("x-") && !DESCRIBING_EXTENSIONS.contains(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_told_from_names_and_description() {
        let v = json!({});
        assert!(is_data(Some("schema"), "example", &v));
        assert!(is_data(None, "x-scim", &v));
        assert!(is_data(Some("Pet"), "examples", &json!([{"$ref": "x"}])));
        assert!(is_data(Some("examples"), "application/json", &v));
        // A property named `default`, a `default` response, an Example Object map: names.
        assert!(!is_data(Some("properties"), "default", &v));
        assert!(!is_data(Some("responses"), "default", &v));
        assert!(!is_data(Some("content"), "examples", &v));
        assert!(!is_data(Some("get"), "x-webhooks", &v));
        assert!(!is_data(Some("schema"), "items", &v));
    }
}
