//! Swagger 2.0 parameters: non-body ones get a `schema` and `style`/`explode`; body and formData ones a `requestBody`.

use serde_json::{Map, Value, json};

use super::{Converter, Kind};

/// Keywords of a 2.0 parameter, header or items object that belong in an OpenAPI 3 schema.
const SCHEMA_KEYS: [&str; 17] = [
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
    "x-nullable",
];

impl Converter {
    /// Non-body parameters of an operation or path item; body and formData ones are left out (they become the
    /// request body), refs are kept.
    pub(super) fn parameter_list(&mut self, list: Value, at: &str) -> Vec<Value> {
        let Value::Array(list) = list else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(list.len());
        for (index, parameter) in list.into_iter().enumerate() {
            if self
                .resolve_parameter(&parameter)
                .is_some_and(|p| super::is_body_or_form(&p))
            {
                continue;
            }
            out.push(self.parameter(parameter, &format!("{at}/{index}")));
        }
        out
    }

    /// One non-body parameter: schema keywords move into `schema`, `collectionFormat` becomes `style`/`explode`.
    pub(super) fn parameter(&mut self, parameter: Value, at: &str) -> Value {
        let Value::Object(parameter) = parameter else {
            return parameter;
        };
        if let Some(reference) = parameter.get("$ref") {
            self.note_ref(reference, Kind::Parameter);
            return Value::Object(parameter);
        }
        let location = parameter
            .get("in")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (mut out, schema, format) = split(parameter);
        if schema.get("type").and_then(Value::as_str) == Some("array") {
            if let Some((style, explode)) = self.style(&location, format.as_deref(), at) {
                out.insert("style".to_string(), json!(style));
                out.insert("explode".to_string(), json!(explode));
            }
        }
        if let Some(existing) = out.get_mut("schema") {
            // Not 2.0, but seen in the wild: a parameter that already has a schema keeps it.
            let existing = existing.take();
            out.insert("schema".to_string(), self.schema(existing, 0));
        } else if !schema.is_empty() {
            out.insert("schema".to_string(), self.schema(Value::Object(schema), 0));
        }
        Value::Object(out)
    }

    /// The `in: body` parameter as a request body, under each consumed media type.
    pub(super) fn body_request(
        &mut self,
        parameter: Map<String, Value>,
        consumes: &[String],
    ) -> Value {
        let schema = self.schema(
            parameter
                .get("schema")
                .cloned()
                .unwrap_or_else(|| json!({})),
            0,
        );
        let mut body = Map::new();
        if let Some(description) = parameter.get("description") {
            body.insert("description".to_string(), description.clone());
        }
        let size = super::super::count_values(&schema);
        let mut content = Map::new();
        for media in super::media(consumes) {
            if content.is_empty() || self.afford(size) {
                content.insert(media, json!({ "schema": schema }));
            }
        }
        body.insert("content".to_string(), Value::Object(content));
        if let Some(required) = parameter.get("required") {
            body.insert("required".to_string(), required.clone());
        }
        if let Some(name) = parameter.get("name") {
            body.insert("x-codegen-request-body-name".to_string(), name.clone());
        }
        for (key, value) in parameter {
            if key.starts_with("x-") {
                body.insert(key, value);
            }
        }
        Value::Object(body)
    }

    /// `in: formData` parameters as one object schema, multipart when a file is sent or `consumes` asks for it.
    pub(super) fn form_request(
        &mut self,
        parameters: Vec<Map<String, Value>>,
        consumes: &[String],
        at: &str,
    ) -> Value {
        let multipart = consumes
            .iter()
            .any(|c| c.starts_with("multipart/form-data"))
            || parameters
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("file"));
        let media = if multipart {
            "multipart/form-data"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut encoding = Map::new();
        for parameter in parameters {
            let Some(name) = parameter
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                continue;
            };
            if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(json!(name));
            }
            let (rest, mut schema, format) = split(parameter);
            if schema.get("type").and_then(Value::as_str) == Some("array") && !multipart {
                match self.style("formData", format.as_deref(), at) {
                    Some(("form", true)) | None => {}
                    Some((style, explode)) => {
                        encoding
                            .insert(name.clone(), json!({ "style": style, "explode": explode }));
                    }
                }
            }
            for (key, value) in rest {
                if key == "description" || key.starts_with("x-") {
                    schema.insert(key, value);
                }
            }
            properties.insert(name, self.schema(Value::Object(schema), 0));
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        let mut body = Map::new();
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
            body.insert("required".to_string(), json!(true));
        }
        let mut media_type = json!({ "schema": schema });
        if !encoding.is_empty() {
            media_type["encoding"] = Value::Object(encoding);
        }
        let mut content = Map::new();
        content.insert(media.to_string(), media_type);
        body.insert("content".to_string(), Value::Object(content));
        Value::Object(body)
    }

    /// `collectionFormat` as OpenAPI 3 `style`/`explode`; `None` means the location's default (path and header
    /// arrays are comma-separated, `simple`, by default in both versions).
    fn style(
        &mut self,
        location: &str,
        format: Option<&str>,
        at: &str,
    ) -> Option<(&'static str, bool)> {
        let format = format.unwrap_or("csv");
        let form_like = matches!(location, "query" | "formData");
        match format {
            "csv" if form_like => Some(("form", false)),
            "multi" if form_like => Some(("form", true)),
            "ssv" if form_like => Some(("spaceDelimited", false)),
            "pipes" if form_like => Some(("pipeDelimited", false)),
            "tsv" if form_like => {
                self.warn(
                    "collectionFormat tsv has no OpenAPI 3 equivalent; treated as csv".to_string(),
                    at,
                );
                Some(("form", false))
            }
            "csv" => None,
            other => {
                self.warn(
                    format!("collectionFormat {other} is not supported for in: {location}; the default style is used"),
                    at,
                );
                None
            }
        }
    }
}

/// Splits a 2.0 parameter or header into (the rest, its schema keywords, its `collectionFormat`).
pub(super) fn split(
    object: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>, Option<String>) {
    let mut rest = Map::new();
    let mut schema = Map::new();
    let mut format = None;
    for (key, value) in object {
        if key == "collectionFormat" {
            format = value.as_str().map(str::to_string);
        } else if key == "items" {
            schema.insert(key, items(value));
        } else if SCHEMA_KEYS.contains(&key.as_str()) {
            schema.insert(key, value);
        } else {
            rest.insert(key, value);
        }
    }
    (rest, schema, format)
}

/// An items object as a schema: nested `collectionFormat` has no place in OpenAPI 3.
fn items(value: Value) -> Value {
    let mut value = value;
    let mut node = &mut value;
    while let Value::Object(map) = node {
        map.shift_remove("collectionFormat");
        match map.get_mut("items") {
            Some(inner) => node = inner,
            None => break,
        }
    }
    value
}
