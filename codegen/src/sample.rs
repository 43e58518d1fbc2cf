//! Sample arguments for every operation, from the description's examples or built from its schemas:
//! what the conformance run sends to a validating mock server.
//!
//! For each operation two calls are planned: one with the required parameters and body fields only,
//! one with every optional parameter and body field too. A value comes from, in order: the
//! parameter's or media type's `example` / first `examples` entry, the schema's `example`, `default`,
//! first `enum` value or `const`, and otherwise a value built from the schema (type, format, bounds,
//! lengths, required properties; read-only properties are left out of requests).
//!
//! Architecture Invariant: this reads the IR (which operations exist, their Rust-facing parameter
//! keys) and the raw document (examples and schemas, which the IR does not keep); it emits no code.

use std::cell::Cell;

use crate::load::Field as _;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ir::{Api, Operation, ParamLocation, ResponseKind};
use crate::lower::pointer;

/// One planned call: the operation and its arguments, keyed `"<in>:<wire name>"` and `"body"`.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// The operation's id, as the dispatcher knows it.
    pub operation: String,
    /// `required` or `full`.
    pub variant: &'static str,
    /// Arguments.
    pub args: Map<String, Value>,
}

/// The key of a parameter in [`Call::args`].
pub fn param_key(location: ParamLocation, wire: &str) -> String {
    let at = match location {
        ParamLocation::Path => "path",
        ParamLocation::Query => "query",
        ParamLocation::Header => "header",
        ParamLocation::Cookie => "cookie",
        ParamLocation::QueryString => "querystring",
    };
    format!("{at}:{wire}")
}

/// Two calls per operation (required only, then everything), in operation order.
pub fn plan(root: &Value, api: &Api) -> Vec<Call> {
    let mut out = Vec::with_capacity(api.operations.len() * 2);
    for op in &api.operations {
        let raw = resolve(root, &format!("#{}", op.origin));
        for (variant, full) in [("required", false), ("full", true)] {
            out.push(Call {
                operation: op.operation_id.clone(),
                variant,
                args: args(root, raw, op, full),
            });
        }
    }
    out
}

/// The node at `#/...` pointer `r`, following `$ref`s (bundled operations are refs).
pub(crate) fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let mut v = pointer(root, r)?;
    for _ in 0..32 {
        match v.field("$ref").and_then(Value::as_str) {
            Some(next) => v = pointer(root, next)?,
            None => return Some(v),
        }
    }
    None
}

fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.field("$ref").and_then(Value::as_str) {
        Some(r) => resolve(root, r).unwrap_or(&Value::Null),
        None => v,
    }
}

/// The raw parameter objects of an operation: path-level ones overridden by operation-level ones.
fn raw_params<'a>(root: &'a Value, origin: &str, raw_op: &'a Value) -> Vec<&'a Value> {
    let item_ptr = origin.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let item = resolve(root, &format!("#{item_ptr}"));
    let mut out: Vec<&Value> = Vec::new();
    for list in [
        item.and_then(|i| i.field("parameters")),
        raw_op.field("parameters"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_array)
    {
        for p in list {
            let p = deref(root, p);
            let key = (p.field("name"), p.field("in"));
            out.retain(|q| (q.field("name"), q.field("in")) != key);
            out.push(p);
        }
    }
    out
}

fn args(root: &Value, raw: Option<&Value>, op: &Operation, full: bool) -> Map<String, Value> {
    let mut args = Map::new();
    let Some(raw) = raw else { return args };
    let params = raw_params(root, &op.origin, raw);
    for p in &op.params {
        if !p.required && !full {
            continue;
        }
        let key = param_key(p.location, &p.wire_name);
        let at = key.split(':').next().unwrap_or("");
        let Some(rp) = params.iter().find(|q| {
            q.field("name").and_then(Value::as_str) == Some(p.wire_name.as_str())
                && q.field("in").and_then(Value::as_str) == Some(at)
        }) else {
            continue;
        };
        let schema = rp.field("schema").unwrap_or(&Value::Null);
        let value = example_of(root, rp, schema)
            .filter(|v| fits(root, schema, v))
            .or_else(|| Sampler::new(root, full).sample(schema));
        if let Some(v) = value.filter(|v| !v.is_null()) {
            args.insert(param_key(p.location, &p.wire_name), v);
        }
    }
    if let Some(b) = &op.body {
        if b.required || full {
            let body = raw.field("requestBody").map(|r| deref(root, r));
            // The IR's media type may be what the body is sent as rather than what the description
            // says (the AWS JSON protocol's `application/x-amz-json-1.1` for `application/json`).
            let media = body.and_then(|r| r.field("content")).and_then(|c| {
                c.get(&b.media_type)
                    .or_else(|| c.field("application/json"))
                    .or_else(|| c.as_object().and_then(|m| m.values().next()))
            });
            if let Some(m) = media {
                let schema = m.field("schema").unwrap_or(&Value::Null);
                let v = example_of(root, m, schema)
                    .filter(|v| fits(root, schema, v))
                    .or_else(|| Sampler::new(root, full).sample(schema));
                if let Some(v) = v {
                    args.insert("body".into(), v);
                }
            }
        }
    }
    args
}

/// `example`, or the first of `examples` (a value, or an Example object's value: its `dataValue`
/// (3.2), else `value`, else its `serializedValue` when `schema` is a string, since that is the
/// value's text on the wire and no structured value can be read from it).
fn example_of(root: &Value, v: &Value, schema: &Value) -> Option<Value> {
    if let Some(e) = v.field("example") {
        return Some(e.clone());
    }
    let first = match v.field("examples")? {
        Value::Object(m) => m.values().next()?,
        Value::Array(a) => return a.first().cloned(),
        _ => return None,
    };
    let first = deref(root, first);
    if let Some(data) = first.field("dataValue").or_else(|| first.field("value")) {
        return Some(data.clone());
    }
    let text = first.field("serializedValue").filter(|t| t.is_string())?;
    let is_string = deref(root, schema).field("type").and_then(Value::as_str) == Some("string");
    is_string.then(|| text.clone())
}

/// Whether `v` has a JSON type the schema allows, recursively through object properties and array
/// items, is one of its `enum` values when it lists some, has a string length within bounds, and
/// whether a `date-time` / `date` string looks like RFC 3339 (schemas without a type, and
/// compositions, accept anything).
fn fits(root: &Value, schema: &Value, v: &Value) -> bool {
    fits_at(root, schema, v, 0)
}

fn fits_at(root: &Value, schema: &Value, v: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    let s = deref(root, schema);
    let nullable = s.field("nullable").and_then(Value::as_bool) == Some(true);
    if v.is_null() && nullable {
        return true;
    }
    // An example outside the listed values (`"resource,share,user"` for one of `resource`, `share`,
    // `user`) would be refused.
    if let Some(Value::Array(allowed)) = s.field("enum") {
        if !allowed.is_empty() && !allowed.contains(v) {
            return false;
        }
    }
    if let Value::String(text) = v {
        let n = text.chars().count() as u64;
        let below = s
            .field("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m);
        let above = s
            .field("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m);
        if below || above {
            return false;
        }
    }
    let types: Vec<&str> = match s.field("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    let typed = types.iter().any(|t| match (*t, v) {
        ("string", Value::String(text)) => match s.field("format").and_then(Value::as_str) {
            Some("date-time") => rfc3339_like(text, true),
            Some("date") => rfc3339_like(text, false),
            Some("uri" | "url") => text.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty() && !rest.is_empty() && !text.contains(char::is_whitespace)
            }),
            Some("email") => text
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
            // A pattern the example breaks (GitHub's SSH key example is not `^ssh-...`); patterns
            // regex-lite cannot read (look-around) are not held against the example.
            _ => s
                .field("pattern")
                .and_then(Value::as_str)
                .and_then(|p| regex_lite::Regex::new(p).ok())
                .is_none_or(|re| re.is_match(text)),
        },
        ("boolean", Value::Bool(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("number", Value::Number(_)) => true,
        ("array", Value::Array(_)) | ("object", Value::Object(_)) => true,
        ("null", Value::Null) => true,
        _ => false,
    });
    if !typed {
        return false;
    }
    match v {
        Value::Object(m) => {
            let props = s.field("properties").and_then(Value::as_object);
            let required = s.field("required").and_then(Value::as_array);
            let complete = required.is_none_or(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .all(|k| m.contains_key(k))
            });
            complete
                && m.iter().all(|(k, x)| {
                    props
                        .and_then(|p| p.get(k))
                        .is_none_or(|ps| fits_at(root, ps, x, depth + 1))
                })
        }
        Value::Array(items) => match s.field("items") {
            Some(is @ Value::Object(_)) => items.iter().all(|x| fits_at(root, is, x, depth + 1)),
            _ => true,
        },
        _ => true,
    }
}

/// `YYYY-MM-DD`, and with `time` a `T`/space, `HH:MM:SS` and a zone. Bytes are compared, never
/// sliced as text: a multi-byte character may sit anywhere after the date.
fn rfc3339_like(s: &str, time: bool) -> bool {
    let b = s.as_bytes();
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[5..7].iter().chain(&b[8..10]).all(u8::is_ascii_digit);
    if !time {
        return date && b.len() == 10;
    }
    date && b.len() >= 20
        && matches!(b[10], b'T' | b't')
        && (s.ends_with('Z')
            || s.ends_with('z')
            || b[19..].iter().any(|c| matches!(c, b'+' | b'-')))
}

/// A JSON answer to an operation: its first JSON success case's status (`2XX` and `default` read as
/// 200) and a body built from that case's schema, for a generated crate's own tests. The body is
/// built from the schema alone, never from the description's examples (which break their schemas
/// too often to prove anything about the types); read-only properties are in, write-only ones out,
/// and optional properties are filled near the top only, so recursive schemas stay small. None when
/// the schema's value would be too large to build (see [`MAX_STEPS`]).
pub fn answer(root: &Value, op: &Operation) -> Option<(u16, Value)> {
    let case = op.success.iter().find(|r| r.kind == ResponseKind::Json)?;
    let raw = resolve(root, &format!("#{}", op.origin))?;
    let response = deref(root, raw.field("responses")?.get(&case.status)?);
    let content = response.field("content")?.as_object()?;
    let media = content
        .iter()
        .find(|(k, _)| {
            k.split(';')
                .next()
                .is_some_and(|m| m.trim().ends_with("json"))
        })
        .map(|(_, m)| m)?;
    let schema = media.field("schema")?;
    let status = case.status.parse().unwrap_or(200);
    let sampler = Sampler {
        root,
        optional_depth: ANSWER_OPTIONAL_DEPTH,
        response: true,
        examples: false,
        steps: Steps::default(),
    };
    Some((status, sampler.sample(schema)?))
}

/// How deep an answer's optional properties are filled in (see [`answer`]).
const ANSWER_OPTIONAL_DEPTH: usize = 3;

/// Builds a value valid for a schema, as far as its keywords say.
struct Sampler<'a> {
    root: &'a Value,
    /// Optional properties are included in objects above this depth (0: required ones only).
    optional_depth: usize,
    /// Building an answer: read-only properties in, write-only ones out (else the reverse).
    response: bool,
    /// Use the schema's own `example`s when their type fits.
    examples: bool,
    /// The work left for this sample.
    steps: Steps,
}

const MAX_DEPTH: usize = 12;

/// The most steps (values built, `allOf`s merged) one sample takes. The depth limit alone does not
/// bound the work: a schema whose required properties (or `allOf` parts) name the same schema several
/// times makes a tree exponential in the depth, billions of values from a few lines. The largest
/// sample of the vendor descriptions in `specs/` takes under 500 steps.
const MAX_STEPS: usize = 5_000;

/// The steps a sample has left, and whether it ran out.
struct Steps {
    left: Cell<usize>,
    ran_out: Cell<bool>,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            left: Cell::new(MAX_STEPS),
            ran_out: Cell::new(false),
        }
    }
}

impl Steps {
    /// Takes one step; false once there are none left.
    fn take(&self) -> bool {
        match self.left.get().checked_sub(1) {
            Some(left) => {
                self.left.set(left);
                true
            }
            None => {
                self.ran_out.set(true);
                false
            }
        }
    }
}

impl<'a> Sampler<'a> {
    /// A request value: required properties only, or with `full` every optional one too.
    fn new(root: &'a Value, full: bool) -> Self {
        Sampler {
            root,
            optional_depth: if full { usize::MAX } else { 0 },
            response: false,
            examples: true,
            steps: Steps::default(),
        }
    }

    /// A value for `schema`, or None when building it takes more than [`MAX_STEPS`].
    fn sample(&self, schema: &Value) -> Option<Value> {
        let value = self.value(schema, 0);
        (!self.steps.ran_out.get()).then_some(value)
    }

    /// Whether a property schema is left out of the value being built.
    fn left_out(&self, property: &Value) -> bool {
        let flag = if self.response {
            "writeOnly"
        } else {
            "readOnly"
        };
        property.get(flag).and_then(Value::as_bool) == Some(true)
    }

    fn value(&self, schema: &Value, depth: usize) -> Value {
        let s = deref(self.root, schema);
        if depth > MAX_DEPTH || !s.is_object() || !self.steps.take() {
            return Value::Null;
        }
        // Examples and defaults are used when their type fits: descriptions get them wrong (a list as
        // the example of a string), and a mock server that validates would refuse them.
        let listed = match s.field("examples") {
            Some(Value::Array(ex)) => ex.first(),
            _ => None,
        };
        let (example, listed) = if self.examples {
            (s.field("example"), listed)
        } else {
            (None, None)
        };
        for candidate in [example, listed, s.field("default")].into_iter().flatten() {
            if fits(self.root, s, candidate) {
                return candidate.clone();
            }
        }
        if let Some(c) = s.field("const") {
            return c.clone();
        }
        if let Some(Value::Array(e)) = s.field("enum") {
            if let Some(v) = e.iter().find(|v| !v.is_null()) {
                return v.clone();
            }
        }
        if s.field("allOf").is_some() {
            if let Some(merged) = self.merge_all_of(s, depth) {
                return self.value(&merged, depth + 1);
            }
        }
        if let Some(Value::Array(all)) = s.field("allOf") {
            let mut merged = Map::new();
            let mut other = None;
            for part in all {
                // A part that only annotates (`{description: ..}` beside a `$ref`) has no value of
                // its own; sampling it would make a string that replaces the real one.
                if annotation_only(deref(self.root, part)) {
                    continue;
                }
                match self.value(part, depth + 1) {
                    Value::Object(m) => merged.extend(m),
                    v if !v.is_null() && other.is_none() => other = Some(v),
                    _ => {}
                }
            }
            // allOf beside properties: the object's own fields join the merge.
            if s.field("properties").is_some() {
                if let Value::Object(m) = self.object(s, depth) {
                    merged.extend(m);
                }
            }
            return match (merged.is_empty(), other) {
                (true, Some(v)) => v,
                _ => Value::Object(merged),
            };
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alts)) = s.get(key) {
                // Alternatives that only constrain the object's own properties (`oneOf: [{required:
                // [a]}, {required: [b]}]`): the object, with the first alternative's required fields.
                if s.field("properties").is_some() {
                    if let Some(first) = alts.iter().map(|a| deref(self.root, a)).next() {
                        if constraint_only(first) {
                            fn names(a: &Value) -> Vec<&str> {
                                a.field("required")
                                    .and_then(Value::as_array)
                                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                                    .unwrap_or_default()
                            }
                            let extra = names(first);
                            // `oneOf`: exactly one alternative may hold, so the fields only the
                            // others require stay out even of a full call.
                            let omit: Vec<&str> = if key == "oneOf" {
                                alts.iter()
                                    .skip(1)
                                    .flat_map(|a| names(deref(self.root, a)))
                                    .filter(|n| !extra.contains(n))
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            return self.object_with(s, depth, &extra, &omit);
                        }
                    }
                }
                // `oneOf: [integer, string]` (an id or a name): a number as text would fit both, so
                // the string alternative, with a value that is not a number.
                if key == "oneOf" {
                    let ty = |a: &Value| {
                        deref(self.root, a)
                            .field("type")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    };
                    let numeric = alts
                        .iter()
                        .any(|a| matches!(ty(a).as_deref(), Some("integer" | "number")));
                    let plain = alts.iter().map(|a| deref(self.root, a)).find(|a| {
                        a.field("type").and_then(Value::as_str) == Some("string")
                            && ["format", "pattern", "enum", "const"]
                                .iter()
                                .all(|k| a.get(*k).is_none())
                    });
                    if let (true, Some(_)) = (numeric, plain) {
                        return json!("sample");
                    }
                }
                // The first alternative that is not null.
                for alt in alts {
                    let a = deref(self.root, alt);
                    if a.field("type").and_then(Value::as_str) == Some("null") {
                        continue;
                    }
                    let mut v = self.value(alt, depth + 1);
                    if let (Value::Object(m), Some(Value::Object(props))) =
                        (&mut v, s.field("properties"))
                    {
                        for (k, p) in props {
                            if self.required(s, k) && !m.contains_key(k) {
                                m.insert(k.clone(), self.value(p, depth + 1));
                            }
                        }
                    }
                    return v;
                }
            }
        }
        let ty = match s.field("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if s.field("properties").is_some() => "object",
            _ if s.field("items").is_some() => "array",
            _ => "string",
        };
        match ty {
            "object" => self.object(s, depth),
            "array" => {
                let n = s
                    .field("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let item = self.value(s.field("items").unwrap_or(&Value::Null), depth + 1);
                if item.is_null() {
                    return json!([]);
                }
                Value::Array(vec![item; n.min(3) as usize])
            }
            "integer" => json!(number(s).round() as i64),
            "number" => json!(number(s)),
            "boolean" => json!(true),
            "null" => Value::Null,
            _ => json!(string(s)),
        }
    }

    /// An `allOf` of object schemas as one object schema: properties and `required` of every part
    /// (parts that only add `required`, or alternatives, included) and of the schema itself. None when
    /// a part is not an object (a string refined by `allOf`), which the merge of samples handles.
    fn merge_all_of(&self, s: &Value, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH || !self.steps.take() {
            return None;
        }
        let mut props = Map::new();
        let mut required: Vec<Value> = Vec::new();
        let mut alternatives: Option<(&str, Value)> = None;
        // What makes a part a map, kept for the merged object.
        let mut map_keys = Map::new();
        let mut add = |part: &Value, props: &mut Map<String, Value>, required: &mut Vec<Value>| {
            for key in ["additionalProperties", "minProperties", "propertyNames"] {
                if let Some(v) = part.get(key) {
                    map_keys.entry(key).or_insert_with(|| v.clone());
                }
            }
            if let Some(Value::Object(p)) = part.field("properties") {
                for (k, v) in p {
                    props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            if let Some(Value::Array(r)) = part.field("required") {
                for n in r {
                    if !required.contains(n) {
                        required.push(n.clone());
                    }
                }
            }
            for key in ["oneOf", "anyOf"] {
                if let (None, Some(alts)) = (&alternatives, part.get(key)) {
                    alternatives = Some((key, alts.clone()));
                }
            }
        };
        for part in s.field("allOf").and_then(Value::as_array)? {
            let p = deref(self.root, part);
            let p = if p.field("allOf").is_some() {
                self.merge_all_of(p, depth + 1)?
            } else {
                p.clone()
            };
            let object_like = p.field("properties").is_some()
                || p.field("type").and_then(Value::as_str) == Some("object")
                || constraint_only(&p);
            if !object_like {
                return None;
            }
            add(&p, &mut props, &mut required);
        }
        let mut own = s.clone();
        if let Some(m) = own.as_object_mut() {
            m.remove("allOf");
        }
        add(&own, &mut props, &mut required);
        let mut out = Map::new();
        out.insert("type".into(), json!("object"));
        out.insert("properties".into(), Value::Object(props));
        out.insert("required".into(), Value::Array(required));
        if let Some((key, alts)) = alternatives {
            out.insert(key.into(), alts);
        }
        out.extend(map_keys);
        Some(Value::Object(out))
    }

    fn required(&self, s: &Value, key: &str) -> bool {
        s.field("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(key)))
    }

    fn object(&self, s: &Value, depth: usize) -> Value {
        self.object_with(s, depth, &[], &[])
    }

    /// The object's fields: the required ones (and `also`), or all of them in a full call; never
    /// those in `omit`.
    fn object_with(&self, s: &Value, depth: usize, also: &[&str], omit: &[&str]) -> Value {
        let mut out = Map::new();
        if let Some(Value::Object(props)) = s.field("properties") {
            for (k, p) in props {
                let pd = deref(self.root, p);
                if self.left_out(pd) || omit.contains(&k.as_str()) {
                    continue;
                }
                let required = self.required(s, k) || also.contains(&k.as_str());
                if depth < self.optional_depth || required {
                    let v = self.value(p, depth + 1);
                    if !v.is_null() || required {
                        out.insert(k.clone(), v);
                    }
                }
            }
            // A nested object with fields but none required still gets one: an empty object has no
            // form encoding (`features` with no `features[..]` pair is simply absent).
            if out.is_empty() && depth > 0 {
                let first = props.iter().find(|(k, p)| {
                    let pd = deref(self.root, p);
                    !self.left_out(pd) && !omit.contains(&k.as_str())
                });
                if let Some((k, p)) = first {
                    let v = self.value(p, depth + 1);
                    if !v.is_null() {
                        out.insert(k.clone(), v);
                    }
                }
            }
        }
        // A map (`additionalProperties: {schema}`) gets entries up to its `minProperties` (at most
        // three), keyed `key1`, `key2`... or by a `propertyNames` pattern.
        let min = s
            .field("minProperties")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(3) as usize;
        if out.len() < min {
            let values = match s.field("additionalProperties") {
                Some(Value::Bool(false)) => None,
                Some(v @ Value::Object(_)) => Some(v),
                _ => Some(&Value::Null),
            };
            if let Some(values) = values {
                let pattern = s
                    .field("propertyNames")
                    .map(|p| deref(self.root, p))
                    .and_then(|p| p.field("pattern"))
                    .and_then(Value::as_str);
                for i in 1..=min {
                    if out.len() >= min {
                        break;
                    }
                    let key = pattern
                        .and_then(|p| from_pattern(p, u32::try_from(i).unwrap_or(1)))
                        .filter(|k| !out.contains_key(k))
                        .unwrap_or_else(|| format!("key{i}"));
                    let v = if values.is_null() {
                        json!("sample")
                    } else {
                        self.value(values, depth + 1)
                    };
                    out.insert(key, v);
                }
            }
        }
        Value::Object(out)
    }
}

/// A schema that only annotates (description, title, deprecation...), constraining nothing.
fn annotation_only(s: &Value) -> bool {
    const NOTES: [&str; 9] = [
        "description",
        "title",
        "deprecated",
        "externalDocs",
        "example",
        "examples",
        "readOnly",
        "writeOnly",
        "xml",
    ];
    s.as_object().is_some_and(|m| {
        !m.is_empty()
            && m.keys()
                .all(|k| NOTES.contains(&k.as_str()) || k.starts_with("x-"))
    })
}

/// A schema that adds constraints only (`required`, bounds) and no shape of its own.
fn constraint_only(s: &Value) -> bool {
    const SHAPE: [&str; 10] = [
        "type",
        "properties",
        "$ref",
        "items",
        "enum",
        "const",
        "allOf",
        "anyOf",
        "oneOf",
        "additionalProperties",
    ];
    s.as_object()
        .is_some_and(|m| !SHAPE.iter().any(|k| m.contains_key(*k)))
}

/// A number inside the schema's bounds.
fn number(s: &Value) -> f64 {
    let min = s.field("minimum").and_then(Value::as_f64);
    let max = s.field("maximum").and_then(Value::as_f64);
    let ex_min = s.field("exclusiveMinimum");
    let lo = match (min, ex_min) {
        (_, Some(Value::Number(n))) => n.as_f64().map(|n| n + 1.0),
        (Some(m), Some(Value::Bool(true))) => Some(m + 1.0),
        (m, _) => m,
    };
    match (lo, max) {
        (Some(lo), _) => lo,
        (None, Some(hi)) if hi < 1.0 => hi,
        _ => 1.0,
    }
}

/// The longest sample string, in characters (and the most steps a pattern's walk takes): nested
/// repetitions (`((a{256}){256}){256}`) and lengths (`minLength: 1e18`) ask for more than memory holds.
const MAX_TEXT: usize = 1 << 16;

/// A string the regular expression matches: the shortest choice at every step (first alternative,
/// fewest repetitions, an alphanumeric member of each class), except that every repetition is taken
/// at least `at_least` times where its bounds allow (a longer string, for `minLength`, or another map
/// key), checked against the expression. None when that string would be longer than [`MAX_TEXT`].
fn from_pattern(pattern: &str, at_least: u32) -> Option<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn walk(h: &Hir, out: &mut String, steps: &mut usize, at_least: u32) -> Option<()> {
        *steps = steps.checked_sub(1)?;
        if out.len() > MAX_TEXT {
            return None;
        }
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(std::str::from_utf8(&l.0).ok()?),
            HirKind::Class(Class::Unicode(c)) => {
                let pick = c.ranges().iter().find_map(|r| {
                    ['a', 'A', '0', 'x']
                        .into_iter()
                        .find(|ch| (r.start()..=r.end()).contains(ch))
                });
                out.push(pick.or_else(|| c.ranges().first().map(|r| r.start()))?);
            }
            HirKind::Class(Class::Bytes(c)) => {
                let b = c.ranges().first()?.start();
                out.push(char::from(b));
            }
            HirKind::Repetition(r) => {
                let times = r.min.max(r.max.map_or(at_least, |m| at_least.min(m)));
                for _ in 0..times.min(256) {
                    walk(&r.sub, out, steps, at_least)?;
                }
            }
            HirKind::Capture(c) => walk(&c.sub, out, steps, at_least)?,
            HirKind::Concat(parts) => {
                for p in parts {
                    walk(p, out, steps, at_least)?;
                }
            }
            HirKind::Alternation(alts) => walk(alts.first()?, out, steps, at_least)?,
        }
        Some(())
    }
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut out = String::new();
    let mut steps = MAX_TEXT;
    walk(&hir, &mut out, &mut steps, at_least)?;
    let re = regex_lite::Regex::new(pattern).ok()?;
    re.is_match(&out).then_some(out)
}

/// A string of the schema's format, within its length bounds (a `minLength` beyond [`MAX_TEXT`] is
/// not met).
fn string(s: &Value) -> String {
    let min = s.field("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = s
        .field("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    if let Some(pattern) = s.field("pattern").and_then(Value::as_str) {
        // The shortest match first; while it is under `minLength`, each repetition taken more often.
        let fits = |t: &String| {
            let n = t.chars().count();
            n >= min.min(MAX_TEXT) && max.is_none_or(|m| n <= m)
        };
        let mut first = None;
        for at_least in [0, 1, 2, 4, 8, 16, 64, 256] {
            match from_pattern(pattern, at_least) {
                Some(t) if fits(&t) => return t,
                Some(t) => {
                    first.get_or_insert(t);
                }
                None => break,
            }
        }
        if let Some(t) = first {
            return t;
        }
    }
    let base = match s.field("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-02T03:04:05Z".to_owned(),
        Some("date") => "2024-01-02".to_owned(),
        Some("time") => "03:04:05Z".to_owned(),
        Some("uuid") => "8f5b8c3e-2a51-4c6f-9d43-7a1c2b3d4e5f".to_owned(),
        Some("email") => "user@example.com".to_owned(),
        Some("uri" | "url") => "https://example.com/x".to_owned(),
        Some("hostname") => "example.com".to_owned(),
        Some("ipv4") => "192.0.2.1".to_owned(),
        Some("ipv6") => "2001:db8::1".to_owned(),
        Some("byte") => "c2FtcGxl".to_owned(),
        // ISO 8601 durations (Azure's `format: duration`).
        Some("duration") => "PT1H".to_owned(),
        _ => "sample".to_owned(),
    };
    let mut text = base;
    let (have, want) = (text.chars().count(), min.min(MAX_TEXT));
    if want > have {
        text.extend(std::iter::repeat_n('x', want - have));
    }
    if let Some(max) = max {
        text = text.chars().take(max).collect();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_values_follow_formats_bounds_and_required_fields() {
        let root = json!({"components": {"schemas": {"Pet": {
            "type": "object", "required": ["name"],
            "properties": {
                "id": {"type": "integer", "readOnly": true},
                "name": {"type": "string", "minLength": 10},
                "born": {"type": "string", "format": "date-time"},
                "kind": {"type": "string", "enum": ["cat", "dog"]},
                "age": {"type": "integer", "minimum": 3}
            }
        }}}});
        let pet = json!({"$ref": "#/components/schemas/Pet"});
        assert_eq!(
            Sampler::new(&root, false).value(&pet, 0),
            json!({"name": "samplexxxx"})
        );
        assert_eq!(
            Sampler::new(&root, true).value(&pet, 0),
            json!({"name": "samplexxxx", "born": "2024-01-02T03:04:05Z", "kind": "cat", "age": 3})
        );
        let sid = json!({"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$", "minLength": 34});
        assert_eq!(
            Sampler::new(&root, false).value(&sid, 0),
            json!(format!("AC{}", "0".repeat(32)))
        );
        assert_eq!(
            from_pattern("^(foo|bar)-[a-z]+\\d{2}$", 0).as_deref(),
            Some("foo-a00")
        );
        let list = json!({"type": "array", "items": {"type": ["null", "number"], "maximum": 0.5}});
        assert_eq!(Sampler::new(&root, false).value(&list, 0), json!([0.5]));
    }

    #[test]
    fn example_objects_give_their_data_value_and_their_serialized_text_only_for_strings() {
        let root = json!({"components": {"examples": {"Shared": {"dataValue": {"n": 2}}}}});
        let object = json!({"type": "object"});
        let text = json!({"type": "string"});
        let data = json!({"examples": {"a": {"dataValue": {"n": 1}, "serializedValue": "n=1"}}});
        assert_eq!(example_of(&root, &data, &object), Some(json!({"n": 1})));
        let shared = json!({"examples": {"a": {"$ref": "#/components/examples/Shared"}}});
        assert_eq!(example_of(&root, &shared, &object), Some(json!({"n": 2})));
        // Only the text form: a string where a string is expected, nothing where an object is.
        let serialized = json!({"examples": {"a": {"serializedValue": "n=1"}}});
        assert_eq!(example_of(&root, &serialized, &text), Some(json!("n=1")));
        assert_eq!(example_of(&root, &serialized, &object), None);
        assert_eq!(example_of(&root, &serialized, &json!({})), None);
        let value = json!({"examples": {"a": {"value": [1]}}});
        assert_eq!(example_of(&root, &value, &object), Some(json!([1])));
    }

    #[test]
    fn alternatives_that_only_require_fields_keep_the_object() {
        let root = json!({});
        let batch = json!({
            "type": "object",
            "properties": {"file_ids": {"type": "array", "items": {"type": "string"}}, "files": {"type": "array", "items": {"type": "object"}}},
            "anyOf": [{"required": ["file_ids"]}, {"required": ["files"]}]
        });
        assert_eq!(
            Sampler::new(&root, false).value(&batch, 0),
            json!({"file_ids": ["sample"]})
        );
        // Alternatives of a oneOf exclude each other: a full call leaves out the second one's field.
        let mut one = batch.clone();
        one["oneOf"] = one["anyOf"].take();
        one.as_object_mut().unwrap().remove("anyOf");
        assert_eq!(
            Sampler::new(&root, true).value(&one, 0),
            json!({"file_ids": ["sample"]})
        );
        assert_eq!(
            Sampler::new(&root, true).value(&batch, 0),
            json!({"file_ids": ["sample"], "files": [{}]})
        );
    }

    #[test]
    fn examples_that_break_their_schema_are_not_used() {
        let root = json!({});
        let key =
            json!({"type": "string", "pattern": "^ssh-(rsa|ed25519) ", "example": "AAAAB3Nz"});
        assert_eq!(Sampler::new(&root, false).value(&key, 0), json!("ssh-rsa "));
        let option = json!({
            "type": "object", "required": ["name", "priority"],
            "properties": {"name": {"type": "string"}, "priority": {"type": "integer"}},
            "example": {"name": "High"}
        });
        assert_eq!(
            Sampler::new(&root, false).value(&option, 0),
            json!({"name": "sample", "priority": 1})
        );
        // An id or a name: text that is not a number fits one alternative only.
        let id = json!({"oneOf": [{"type": "integer"}, {"type": "string"}]});
        assert_eq!(Sampler::new(&root, false).value(&id, 0), json!("sample"));
    }

    #[test]
    fn all_of_parts_and_siblings_add_required_fields() {
        let root = json!({"components": {"schemas": {"Base": {
            "type": "object",
            "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string"}, "purpose": {"type": "string"}, "note": {"type": "string"}}
        }}}});
        let create = json!({
            "allOf": [{"$ref": "#/components/schemas/Base"}, {"required": ["purpose"]}],
            "required": ["name"]
        });
        assert_eq!(
            Sampler::new(&root, false).value(&create, 0),
            json!({"name": "sample", "purpose": "sample"})
        );
    }

    #[test]
    fn schemas_whose_values_would_be_exponential_are_given_up() {
        // Each level requires ten properties of the next: 10^12 values at the depth limit.
        let mut schemas = Map::new();
        for i in 0..20 {
            let next = json!({"$ref": format!("#/components/schemas/L{}", i + 1)});
            let props: Map<String, Value> =
                (0..10).map(|k| (format!("p{k}"), next.clone())).collect();
            let required: Vec<String> = props.keys().cloned().collect();
            schemas.insert(
                format!("L{i}"),
                json!({"type": "object", "properties": props, "required": required}),
            );
        }
        // The same through `allOf`: ten parts naming the next level.
        for i in 0..20 {
            let next = json!({"$ref": format!("#/components/schemas/M{}", i + 1)});
            schemas.insert(format!("M{i}"), json!({"allOf": vec![next; 10]}));
        }
        let root = json!({"components": {"schemas": schemas}});
        let started = std::time::Instant::now();
        for name in ["L0", "M0"] {
            let schema = json!({"$ref": format!("#/components/schemas/{name}")});
            assert_eq!(Sampler::new(&root, true).sample(&schema), None, "{name}");
            assert_eq!(Sampler::new(&root, false).sample(&schema), None, "{name}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        // One required property per level is an ordinary deep value.
        let chain = json!({"components": {"schemas": {"N": {"type": "object", "required": ["n"], "properties": {"n": {"$ref": "#/components/schemas/N"}}}}}});
        let value = Sampler::new(&chain, false).sample(&json!({"$ref": "#/components/schemas/N"}));
        assert!(value.is_some_and(|v| v["n"]["n"]["n"].is_object()));
    }

    #[test]
    fn huge_lengths_and_repetitions_give_bounded_strings() {
        let long = string(&json!({"type": "string", "minLength": u64::MAX}));
        assert_eq!(long.chars().count(), MAX_TEXT);
        assert_eq!(
            string(&json!({"type": "string", "minLength": 8})),
            "samplexx"
        );
        let started = std::time::Instant::now();
        assert_eq!(from_pattern("((a{256}){256}){256}", 0), None);
        assert_eq!(from_pattern("(((\\b{256}){256}){256}){256}", 0), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(from_pattern("^x{3}$", 0).as_deref(), Some("xxx"));
    }

    #[test]
    fn dates_with_multi_byte_characters_are_not_dates() {
        // Byte 19 falls inside `é`: the check must not slice the text there.
        assert!(!rfc3339_like("2024-01-02T03:04:0é", true));
        assert!(!rfc3339_like("2024-01-02T03:04:05ééé", true));
        assert!(!rfc3339_like("2024-01-0é", false));
        assert!(rfc3339_like("2024-01-02T03:04:05+01:00", true));
        assert!(rfc3339_like("2024-01-02T03:04:05Z", true));
        let schema =
            json!({"type": "string", "format": "date-time", "default": "2024-01-02T03:04:0é"});
        assert_eq!(
            Sampler::new(&json!({}), false).sample(&schema),
            Some(json!("2024-01-02T03:04:05Z"))
        );
    }

    #[test]
    fn answers_keep_read_only_fields_and_fill_optional_ones_near_the_top_only() {
        let root = json!({"components": {"schemas": {"Node": {
            "type": "object", "required": ["id"],
            "properties": {
                "id": {"type": "integer", "readOnly": true, "example": "not a number"},
                "secret": {"type": "string", "writeOnly": true},
                "label": {"type": "string", "example": "from the description"},
                "child": {"$ref": "#/components/schemas/Node"}
            }
        }}}});
        let sampler = Sampler {
            root: &root,
            optional_depth: 2,
            response: true,
            examples: false,
            steps: Steps::default(),
        };
        // Read-only `id` in, write-only `secret` out, examples ignored, optional fields down to depth 2.
        assert_eq!(
            sampler.value(&json!({"$ref": "#/components/schemas/Node"}), 0),
            json!({"id": 1, "label": "sample", "child": {"id": 1, "label": "sample", "child": {"id": 1}}})
        );
    }

    #[test]
    fn annotations_beside_a_ref_keep_its_value_and_maps_meet_min_properties() {
        let root = json!({"components": {"schemas": {
            "Network": {"type": "string", "enum": ["ETHEREUM_MAINNET"]},
            "Flag": {"type": "boolean"},
            "Stamp": {"type": "string", "format": "date-time"},
            "Tags": {"type": "array", "items": {"type": "string"}},
            "Regions": {"type": "object", "minProperties": 2,
                        "additionalProperties": {"type": "integer", "minimum": 5}},
            "Labels": {"type": "object", "minProperties": 1,
                       "propertyNames": {"pattern": "^[a-z]{3}$"},
                       "additionalProperties": {"type": "string"}}
        }}});
        let with_note = |name: &str| {
            json!({"allOf": [{"$ref": format!("#/components/schemas/{name}")},
                             {"description": "What the field means."}]})
        };
        let s = Sampler::new(&root, false);
        assert_eq!(s.value(&with_note("Network"), 0), json!("ETHEREUM_MAINNET"));
        assert_eq!(s.value(&with_note("Flag"), 0), json!(true));
        assert_eq!(
            s.value(&with_note("Stamp"), 0),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(s.value(&with_note("Tags"), 0), json!(["sample"]));
        assert_eq!(
            s.value(&with_note("Regions"), 0),
            json!({"key1": 5, "key2": 5})
        );
        assert_eq!(s.value(&with_note("Labels"), 0), json!({"aaa": "sample"}));
    }

    #[test]
    fn examples_outside_the_enum_or_length_bounds_do_not_fit() {
        let root = json!({});
        let include = json!({"type": "string", "enum": ["resource", "share", "user"]});
        assert!(!fits(&root, &include, &json!("resource,share,user")));
        assert!(fits(&root, &include, &json!("share")));
        let short = json!({"type": "string", "minLength": 3, "maxLength": 4});
        assert!(!fits(&root, &short, &json!("ab")));
        assert!(!fits(&root, &short, &json!("abcde")));
        assert!(fits(&root, &short, &json!("abc")));
    }

    #[test]
    fn patterns_are_repeated_until_min_length_and_durations_are_iso_8601() {
        let token = json!({"type": "string", "minLength": 1, "maxLength": 100,
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"});
        assert_eq!(string(&token), "000000==");
        let bounded = json!({"type": "string", "minLength": 6, "pattern": "^x(ab)*$"});
        assert_eq!(string(&bounded), "xabababab");
        assert_eq!(
            string(&json!({"type": "string", "format": "duration"})),
            "PT1H"
        );
    }
}
