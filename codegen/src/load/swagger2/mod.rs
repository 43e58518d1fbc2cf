//! Swagger 2.0 to OpenAPI 3.0 structure: servers, components, paths, operations, responses, security schemes.

mod params;
mod schema;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::bundle::BUNDLE_KEY;
use super::{MAX_DEPTH, pointer};
use crate::Diagnostic;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// How an `x-bundled` entry is used, which decides how it is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Schema,
    Parameter,
    Response,
    PathItem,
    Operation,
}

struct Converter {
    /// Document-level `consumes` and `produces`.
    consumes: Vec<String>,
    produces: Vec<String>,
    /// The document's `parameters` as written, to see through parameter refs.
    parameters: Map<String, Value>,
    /// `x-bundled`, taken out of the root while its entries are converted.
    bundled: Map<String, Value>,
    /// `x-bundled` keys met in refs, with how they are used; converted in this order.
    kinds: IndexMap<String, Kind>,
    /// `x-bundled` body and formData parameters that were folded into request bodies.
    inlined: Vec<String>,
    too_deep: bool,
    /// Values the copies of schemas for each media type may still add (see [`Converter::afford`]).
    copy_allowance: usize,
    /// Copies were refused: the conversion fails.
    too_many_copies: bool,
    file: Option<PathBuf>,
    warnings: Vec<Diagnostic>,
}

/// Converts a (bundled) Swagger 2.0 document to OpenAPI 3.0.3 structure. `#/definitions`, `#/parameters` and
/// `#/responses` refs are redirected to `#/components/...`; vendor extensions stay where they were.
pub(crate) fn convert(
    root: Value,
    file: Option<&Path>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Value, Diagnostic> {
    let copy_allowance = super::count_values(&root).max(super::COPY_ALLOWANCE);
    let Value::Object(mut doc) = root else {
        return Ok(root);
    };
    let bundled = match doc.shift_remove(BUNDLE_KEY) {
        Some(Value::Object(bundled)) => bundled,
        Some(other) => {
            doc.insert(BUNDLE_KEY.to_string(), other);
            Map::new()
        }
        None => Map::new(),
    };
    let mut conv = Converter {
        consumes: strings(doc.get("consumes")),
        produces: strings(doc.get("produces")),
        parameters: doc
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        bundled,
        kinds: IndexMap::new(),
        inlined: Vec::new(),
        too_deep: false,
        copy_allowance,
        too_many_copies: false,
        file: file.map(Path::to_path_buf),
        warnings: Vec::new(),
    };
    let mut servers = Some(servers(&doc)).filter(|s| !s.is_empty());
    let mut components = Some(conv.components(&doc)).filter(|c| !c.is_empty());
    let mut out = Map::new();
    out.insert("openapi".to_string(), json!("3.0.3"));
    for (key, value) in doc {
        match key.as_str() {
            "swagger" => {}
            "info" => {
                out.insert(key, value);
                if let Some(servers) = servers.take() {
                    out.insert("servers".to_string(), Value::Array(servers));
                }
            }
            "host"
            | "basePath"
            | "schemes"
            | "consumes"
            | "produces"
            | "definitions"
            | "parameters"
            | "responses"
            | "securityDefinitions" => {}
            "paths" => {
                out.insert(key, conv.paths(value));
                if let Some(components) = components.take() {
                    out.insert("components".to_string(), Value::Object(components));
                }
            }
            _ => {
                out.insert(key, value);
            }
        }
    }
    if let Some(servers) = servers {
        out.insert("servers".to_string(), Value::Array(servers));
    }
    if let Some(components) = components {
        out.insert("components".to_string(), Value::Object(components));
    }
    conv.convert_bundled();
    for key in std::mem::take(&mut conv.inlined) {
        if !conv.kinds.contains_key(&key) {
            conv.bundled.shift_remove(&key);
        }
    }
    if !conv.bundled.is_empty() {
        out.insert(
            BUNDLE_KEY.to_string(),
            Value::Object(std::mem::take(&mut conv.bundled)),
        );
    }
    let mut root = Value::Object(out);
    schema::rewrite_refs(&mut root);
    warnings.append(&mut conv.warnings);
    if conv.too_many_copies {
        let diag = Diagnostic::error(
            "the `produces` and `consumes` lists ask for more copies of the schemas than twice the description's size",
        )
        .help("OpenAPI 3 gives every media type its own copy of the schema; list only the media types the operations use");
        return Err(match file {
            Some(file) => diag.in_file(file),
            None => diag,
        });
    }
    if conv.too_deep {
        let diag = Diagnostic::error(format!(
            "the description nests deeper than {MAX_DEPTH} levels"
        ))
        .help("flatten the document; no real API description nests this deep");
        return Err(match file {
            Some(file) => diag.in_file(file),
            None => diag,
        });
    }
    Ok(root)
}

impl Converter {
    /// `definitions`, non-body `parameters`, `responses` and `securityDefinitions` as 3.0 components.
    fn components(&mut self, doc: &Map<String, Value>) -> Map<String, Value> {
        let mut components = Map::new();
        let mut section = |name: &str, entries: Map<String, Value>| {
            if !entries.is_empty() {
                components.insert(name.to_string(), Value::Object(entries));
            }
        };
        let entries = |key: &'static str| {
            doc.get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(move |(name, value)| {
                    (
                        name.clone(),
                        value.clone(),
                        format!("/{key}/{}", pointer::escape(name)),
                    )
                })
        };
        let schemas = entries("definitions")
            .map(|(name, value, _)| (name, self.schema(value, 0)))
            .collect();
        section("schemas", schemas);
        let parameters = entries("parameters")
            .filter(|(_, value, _)| !value.as_object().is_some_and(is_body_or_form))
            .map(|(name, value, at)| (name, self.parameter(value, &at)))
            .collect();
        section("parameters", parameters);
        let produces = media(&self.produces);
        let responses = entries("responses")
            .map(|(name, value, _)| (name, self.response(value, &produces)))
            .collect();
        section("responses", responses);
        let schemes = entries("securityDefinitions")
            .map(|(name, value, at)| (name, self.security_scheme(value, &at)))
            .collect();
        section("securitySchemes", schemes);
        components
    }

    fn paths(&mut self, paths: Value) -> Value {
        let Value::Object(paths) = paths else {
            return paths;
        };
        let mut out = Map::with_capacity(paths.len());
        for (path, item) in paths {
            let item = if path.starts_with("x-") {
                item
            } else {
                self.path_item(item, &format!("/paths/{}", pointer::escape(&path)))
            };
            out.insert(path, item);
        }
        Value::Object(out)
    }

    fn path_item(&mut self, item: Value, at: &str) -> Value {
        let Value::Object(item) = item else {
            return item;
        };
        // Path-level body and formData parameters become part of each operation's request body.
        let shared: Vec<Map<String, Value>> = item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| self.resolve_parameter(p))
            .filter(is_body_or_form)
            .collect();
        let mut out = Map::with_capacity(item.len());
        for (key, value) in item {
            let value = match key.as_str() {
                "$ref" => {
                    self.note_ref(&value, Kind::PathItem);
                    value
                }
                "parameters" => {
                    let list = self.parameter_list(value, &format!("{at}/parameters"));
                    if list.is_empty() {
                        continue;
                    }
                    Value::Array(list)
                }
                method if METHODS.contains(&method) => {
                    self.operation(value, &shared, &format!("{at}/{method}"))
                }
                _ => value,
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }

    fn operation(&mut self, op: Value, shared: &[Map<String, Value>], at: &str) -> Value {
        let Value::Object(op) = op else {
            return op;
        };
        if let Some(reference) = op.get("$ref") {
            self.note_ref(reference, Kind::Operation);
            return Value::Object(op);
        }
        let consumes = op
            .get("consumes")
            .map_or_else(|| self.consumes.clone(), |c| strings(Some(c)));
        let produces = media(
            &op.get("produces")
                .map_or_else(|| self.produces.clone(), |p| strings(Some(p))),
        );
        let own: Vec<Map<String, Value>> = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| self.resolve_parameter(p))
            .filter(is_body_or_form)
            .collect();
        let overridden = |p: &Map<String, Value>| {
            own.iter()
                .any(|o| o.get("name") == p.get("name") && o.get("in") == p.get("in"))
        };
        let mut body = None;
        let mut form = Vec::new();
        for p in shared.iter().filter(|p| !overridden(p)).chain(own.iter()) {
            if p.get("in").and_then(Value::as_str) == Some("body") {
                body = Some(p.clone());
            } else {
                form.push(p.clone());
            }
        }
        let mut request_body = match body {
            Some(body) => Some(self.body_request(body, &consumes)),
            None if !form.is_empty() => {
                Some(self.form_request(form, &consumes, &format!("{at}/parameters")))
            }
            None => None,
        };
        let mut out = Map::with_capacity(op.len() + 1);
        for (key, value) in op {
            match key.as_str() {
                "consumes" | "produces" | "schemes" => {}
                "parameters" => {
                    let list = self.parameter_list(value, &format!("{at}/parameters"));
                    if !list.is_empty() {
                        out.insert(key, Value::Array(list));
                    }
                    if let Some(body) = request_body.take() {
                        out.insert("requestBody".to_string(), body);
                    }
                }
                "responses" => {
                    if let Some(body) = request_body.take() {
                        out.insert("requestBody".to_string(), body);
                    }
                    out.insert(key, self.responses(value, &produces));
                }
                _ => {
                    out.insert(key, value);
                }
            }
        }
        if let Some(body) = request_body {
            out.insert("requestBody".to_string(), body);
        }
        Value::Object(out)
    }

    fn responses(&mut self, responses: Value, produces: &[String]) -> Value {
        let Value::Object(responses) = responses else {
            return responses;
        };
        let mut out = Map::with_capacity(responses.len());
        for (code, response) in responses {
            let response = if code.starts_with("x-") {
                response
            } else {
                self.response(response, produces)
            };
            out.insert(code, response);
        }
        Value::Object(out)
    }

    /// `schema` becomes `content` under each produced media type; `examples` land next to it; headers get a schema.
    fn response(&mut self, response: Value, produces: &[String]) -> Value {
        let Value::Object(response) = response else {
            return response;
        };
        if let Some(reference) = response.get("$ref") {
            self.note_ref(reference, Kind::Response);
            return Value::Object(response);
        }
        let mut examples = response.get("examples").and_then(Value::as_object).cloned();
        let has_schema = response.contains_key("schema");
        let mut out = Map::with_capacity(response.len());
        for (key, value) in response {
            match key.as_str() {
                "schema" => {
                    let schema = self.schema(value, 0);
                    let size = super::count_values(&schema);
                    let mut content: Map<String, Value> = Map::new();
                    for media in produces {
                        if content.is_empty() || self.afford(size) {
                            content.insert(media.clone(), json!({ "schema": schema }));
                        }
                    }
                    for (media, example) in examples.take().into_iter().flatten() {
                        if !content.contains_key(&media) && !self.afford(size) {
                            continue;
                        }
                        let entry = content
                            .entry(media)
                            .or_insert_with(|| json!({ "schema": schema }));
                        if let Value::Object(entry) = entry {
                            entry.insert("example".to_string(), example);
                        }
                    }
                    out.insert("content".to_string(), Value::Object(content));
                }
                "examples" if !has_schema => {
                    let content = examples
                        .take()
                        .into_iter()
                        .flatten()
                        .map(|(media, example)| (media, json!({ "example": example })))
                        .collect();
                    out.insert("content".to_string(), Value::Object(content));
                }
                "examples" => {}
                "headers" => {
                    out.insert(key, self.headers(value));
                }
                _ => {
                    out.insert(key, value);
                }
            }
        }
        Value::Object(out)
    }

    /// Response headers: `type`, `format`, `items`... move into a `schema`.
    fn headers(&mut self, headers: Value) -> Value {
        let Value::Object(headers) = headers else {
            return headers;
        };
        let mut out = Map::with_capacity(headers.len());
        for (name, header) in headers {
            let header = match header {
                Value::Object(header) if !header.contains_key("$ref") => {
                    let (mut rest, schema, _format) = params::split(header);
                    if !schema.is_empty() {
                        rest.insert("schema".to_string(), self.schema(Value::Object(schema), 0));
                    }
                    Value::Object(rest)
                }
                other => other,
            };
            out.insert(name, header);
        }
        Value::Object(out)
    }

    /// `basic` becomes http basic; `oauth2` gets a `flows` object; `apiKey` is already 3.0-shaped.
    fn security_scheme(&mut self, scheme: Value, at: &str) -> Value {
        let Value::Object(scheme) = scheme else {
            return scheme;
        };
        let text = |key: &str| {
            scheme
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut out = Map::with_capacity(scheme.len());
        match text("type").as_str() {
            "basic" => {
                for (key, value) in scheme {
                    if key == "type" {
                        out.insert(key, json!("http"));
                        out.insert("scheme".to_string(), json!("basic"));
                    } else {
                        out.insert(key, value);
                    }
                }
            }
            "oauth2" => {
                let flow = text("flow");
                let (name, authorization, token) = match flow.as_str() {
                    "implicit" => ("implicit", true, false),
                    "password" => ("password", false, true),
                    "application" => ("clientCredentials", false, true),
                    "accessCode" => ("authorizationCode", true, true),
                    _ => {
                        self.warn(
                            format!(
                                "unknown oauth2 flow '{flow}'; security scheme kept as written"
                            ),
                            at,
                        );
                        return Value::Object(scheme);
                    }
                };
                let mut details = Map::new();
                if authorization {
                    details.insert(
                        "authorizationUrl".to_string(),
                        json!(text("authorizationUrl")),
                    );
                }
                if token {
                    details.insert("tokenUrl".to_string(), json!(text("tokenUrl")));
                }
                let scopes = scheme.get("scopes").cloned().unwrap_or_else(|| json!({}));
                details.insert("scopes".to_string(), scopes);
                for (key, value) in scheme {
                    match key.as_str() {
                        "flow" => {
                            out.insert("flows".to_string(), json!({ name: details }));
                        }
                        "authorizationUrl" | "tokenUrl" | "scopes" => {}
                        _ => {
                            out.insert(key, value);
                        }
                    }
                }
            }
            _ => return Value::Object(scheme),
        }
        Value::Object(out)
    }

    /// Converts `x-bundled` entries by how they were referenced; entries met while converting are queued too.
    fn convert_bundled(&mut self) {
        let mut next = 0;
        while let Some((key, kind)) = self
            .kinds
            .get_index(next)
            .map(|(key, kind)| (key.clone(), *kind))
        {
            next += 1;
            let Some(value) = self.bundled.get_mut(&key).map(Value::take) else {
                continue;
            };
            let at = format!("/{BUNDLE_KEY}/{}", pointer::escape(&key));
            let value = match kind {
                Kind::Schema => self.schema(value, 0),
                Kind::Parameter if value.as_object().is_some_and(is_body_or_form) => value,
                Kind::Parameter => self.parameter(value, &at),
                Kind::Response => {
                    let produces = media(&self.produces);
                    self.response(value, &produces)
                }
                Kind::PathItem => self.path_item(value, &at),
                Kind::Operation => self.operation(value, &[], &at),
            };
            if let Some(slot) = self.bundled.get_mut(&key) {
                *slot = value;
            }
        }
    }

    /// Whether one more copy of a schema of `size` values fits the allowance (a schema is copied for
    /// every media type of a response or body). Once one does not, the conversion fails at the end.
    fn afford(&mut self, size: usize) -> bool {
        match self.copy_allowance.checked_sub(size) {
            Some(left) => {
                self.copy_allowance = left;
                true
            }
            None => {
                self.too_many_copies = true;
                false
            }
        }
    }

    /// Remembers how an `#/x-bundled/<key>` target is used.
    fn note_ref(&mut self, reference: &Value, kind: Kind) {
        let Some(segments) = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .and_then(pointer::parse)
        else {
            return;
        };
        if let [first, key] = segments.as_slice() {
            if first == BUNDLE_KEY {
                self.kinds.entry(key.clone()).or_insert(kind);
            }
        }
    }

    /// The parameter object behind a (possibly referenced) parameter, as written. `x-bundled` entries passed
    /// through on the way to a body or formData parameter are remembered: that parameter is folded into a request
    /// body, so the entry is not needed.
    fn resolve_parameter(&mut self, parameter: &Value) -> Option<Map<String, Value>> {
        let mut node = parameter;
        let mut via = Vec::new();
        for _hop in 0..16 {
            let map = node.as_object()?;
            let Some(reference) = map.get("$ref").and_then(Value::as_str) else {
                if is_body_or_form(map) {
                    self.inlined.append(&mut via);
                }
                return Some(map.clone());
            };
            let segments = pointer::parse(reference.strip_prefix('#')?)?;
            let (section, rest) = segments.split_first()?;
            let (name, rest) = rest.split_first()?;
            let base = match section.as_str() {
                "parameters" => self.parameters.get(name)?,
                BUNDLE_KEY => {
                    via.push(name.clone());
                    self.bundled.get(name)?
                }
                _ => return None,
            };
            node = pointer::get(base, rest)?;
        }
        None
    }

    fn warn(&mut self, message: String, at: &str) {
        let mut diag = Diagnostic::warning(message).at(at);
        if let Some(file) = &self.file {
            diag = diag.in_file(file);
        }
        self.warnings.push(diag);
    }
}

fn is_body_or_form(parameter: &Map<String, Value>) -> bool {
    matches!(
        parameter.get("in").and_then(Value::as_str),
        Some("body" | "formData")
    )
}

/// The strings in a JSON array (others skipped).
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Media types, `application/json` when none are declared.
fn media(types: &[String]) -> Vec<String> {
    if types.is_empty() {
        vec!["application/json".to_string()]
    } else {
        types.to_vec()
    }
}

/// `host` + `basePath` + `schemes` as server URLs; no host gives a relative server; neither gives none.
fn servers(doc: &Map<String, Value>) -> Vec<Value> {
    let base = doc
        .get("basePath")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_end_matches('/');
    let host = doc
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_end_matches('/');
    if host.is_empty() {
        return if base.is_empty() {
            Vec::new()
        } else {
            vec![json!({ "url": base })]
        };
    }
    let schemes = strings(doc.get("schemes"));
    let schemes = if schemes.is_empty() {
        vec!["https".to_string()]
    } else {
        schemes
    };
    schemes
        .iter()
        .map(|scheme| json!({ "url": format!("{scheme}://{host}{base}") }))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    /// A Swagger 2.0 document whose one operation produces and consumes `media` types, with a
    /// response and a body schema of 1,000 properties.
    fn with_media(media: usize) -> String {
        let props: Map<String, Value> = (0..1_000)
            .map(|i| (format!("p{i}"), json!({"type": "string"})))
            .collect();
        let types: Vec<String> = (0..media)
            .map(|i| format!("application/x-{i}+json"))
            .collect();
        json!({
            "swagger": "2.0", "info": {"title": "t", "version": "1"},
            "produces": types, "consumes": types,
            "paths": {"/a": {"post": {
                "parameters": [{"name": "b", "in": "body", "schema": {"type": "object", "properties": props}}],
                "responses": {"200": {"description": "ok", "schema": {"type": "object", "properties": props}}}
            }}}
        })
        .to_string()
    }

    #[test]
    fn schemas_are_copied_per_media_type_within_bounds() {
        // 3,000 media types for each of two schemas: six million values from a 200 kB document.
        let err = crate::load::load_str(&with_media(3_000), None).unwrap_err();
        assert!(
            err.message.contains("`produces` and `consumes`"),
            "{}",
            err.message
        );
        assert!(err.help.is_some());
        let doc = crate::load::load_str(&with_media(3), None).expect("converts");
        let op = &doc.root["paths"]["/a"]["post"];
        assert_eq!(
            op["requestBody"]["content"].as_object().map(Map::len),
            Some(3)
        );
        assert_eq!(
            op["responses"]["200"]["content"].as_object().map(Map::len),
            Some(3)
        );
    }
}
