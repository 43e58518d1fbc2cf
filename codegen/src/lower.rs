//! Lowering: a loaded OpenAPI document (3.x-shaped JSON) into the plain-data IR.
//!
//! Schemas become named types (components and inline shapes, deduplicated by structure) or type
//! expressions; operations become IR operations with parameters, bodies and responses. Whatever cannot be
//! supported is skipped with a warning naming its JSON pointer; the rest is still lowered.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::ir::*;
use crate::load::Document;
use crate::load::Field as _;
use crate::load::pointer as ptr;
use crate::names::{self, Scope};
use crate::settings::Settings;

mod aws_json;
mod markers;
mod rename;

/// The fixed operation fields of a Path Item (`query` since 3.2).
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];
const MAX_REF_HOPS: usize = 64;
const MAX_DEPTH: usize = 48;

/// Escape one JSON pointer segment.
pub fn escape(seg: &str) -> String {
    ptr::escape(seg).into_owned()
}

/// Follow a `#/a/b` pointer inside `root` (the loader's pointer rules: percent-decoding, `~` escapes).
pub(crate) fn pointer<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let fragment = r.strip_prefix('#')?;
    // Most references need no decoding: walked as written, without building their segments.
    if !fragment.contains(['%', '~']) {
        if fragment.is_empty() {
            return Some(root);
        }
        let mut cur = root;
        for segment in fragment.strip_prefix('/')?.split('/') {
            cur = ptr::step(cur, segment)?;
        }
        return Some(cur);
    }
    let segments = ptr::parse(fragment)?;
    ptr::get(root, &segments)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.field(key).and_then(Value::as_str)
}

fn doc_of(v: &Value) -> Option<String> {
    let title = str_of(v, "title").map(str::trim).filter(|s| !s.is_empty());
    let desc = str_of(v, "description")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (title, desc) {
        (Some(t), Some(d)) if d.starts_with(t) => Some(d.to_owned()),
        (Some(t), Some(d)) => Some(format!("{t}\n\n{d}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        (None, None) => None,
    }
}

/// What the schema's `type` says, with null split out.
struct TypeInfo {
    types: Vec<String>,
    nullable: bool,
}

fn type_info(s: &Value) -> TypeInfo {
    let mut types = Vec::new();
    let mut nullable = s
        .field("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || s.field("x-nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    match s.field("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => types.push(t.clone()),
        Some(Value::Array(a)) => {
            for t in a.iter().filter_map(Value::as_str) {
                if t == "null" {
                    nullable = true;
                } else if !types.iter().any(|x| x == t) {
                    types.push(t.to_owned());
                }
            }
        }
        _ => {}
    }
    if let Some(Value::Array(e)) = s.field("enum") {
        if e.iter().any(Value::is_null) {
            nullable = true;
        }
    }
    TypeInfo { types, nullable }
}

fn is_null_schema(s: &Value) -> bool {
    match s.field("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(a)) => !a.is_empty() && a.iter().all(|t| t == "null"),
        _ => matches!(s.field("enum"), Some(Value::Array(e)) if e.len() == 1 && e[0].is_null()),
    }
}

/// Keys that make a schema describe something (as opposed to only adding constraints or docs).
fn is_structural(s: &Value) -> bool {
    let Some(m) = s.as_object() else { return false };
    [
        "$ref",
        "type",
        "properties",
        "items",
        "enum",
        "allOf",
        "oneOf",
        "anyOf",
        "const",
        "additionalProperties",
    ]
    .iter()
    .any(|k| m.contains_key(*k))
}

fn constraints_of(s: &Value) -> Constraints {
    // Most schemas have none: one pass over the few members says so, where the reads below look
    // up each keyword in turn (a test reads each keyword alone, so the two lists stay one).
    let any = s.as_object().is_some_and(|m| {
        m.keys().any(|k| {
            matches!(
                k.as_str(),
                "minimum"
                    | "maximum"
                    | "exclusiveMinimum"
                    | "exclusiveMaximum"
                    | "minLength"
                    | "maxLength"
                    | "pattern"
                    | "minItems"
                    | "maxItems"
            )
        })
    });
    if !any {
        return Constraints::default();
    }
    let f = |k: &str| s.get(k).and_then(Value::as_f64);
    let u = |k: &str| s.get(k).and_then(Value::as_u64);
    let mut c = Constraints {
        minimum: f("minimum"),
        maximum: f("maximum"),
        exclusive_minimum: s
            .field("exclusiveMinimum")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        exclusive_maximum: s
            .field("exclusiveMaximum")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        min_length: u("minLength"),
        max_length: u("maxLength"),
        // Only patterns the runtime's validator can run (regex-lite: no look-around or
        // backreferences); `Lowerer::constraints` warns about the others.
        pattern: str_of(s, "pattern")
            .filter(|p| regex_lite::Regex::new(p).is_ok())
            .map(str::to_owned),
        min_items: u("minItems"),
        max_items: u("maxItems"),
    };
    // 3.1: exclusiveMinimum/Maximum are numbers.
    if let Some(v) = s.field("exclusiveMinimum").and_then(Value::as_f64) {
        c.minimum = Some(v);
        c.exclusive_minimum = true;
    }
    if let Some(v) = s.field("exclusiveMaximum").and_then(Value::as_f64) {
        c.maximum = Some(v);
        c.exclusive_maximum = true;
    }
    c
}

/// The constraints of a schema, or of the schema it references when it has none of its own (a
/// `$ref` to a named string with `minLength`, say).
fn constraints_through_refs(root: &Value, s: &Value) -> Constraints {
    let mut cur = s;
    for _ in 0..MAX_REF_HOPS {
        let own = constraints_of(cur);
        match str_of(cur, "$ref").and_then(|r| pointer(root, r)) {
            Some(target) if own.is_empty() => cur = target,
            _ => return own,
        }
    }
    Constraints::default()
}

/// What [`Lowerer::collect_object`] gathers: properties (wire name, schema, pointer) in order and
/// where each name is among them, required names (as a list and a set), the `additionalProperties`
/// schema, and the refs already walked.
struct Collected<'a, 'c> {
    props: &'c mut Vec<(String, &'a Value, String)>,
    at: HashMap<String, usize, foldhash::fast::RandomState>,
    required: &'c mut Vec<String>,
    required_set: HashSet<String, foldhash::fast::RandomState>,
    additional: &'c mut Option<&'a Value>,
    seen: HashSet<String, foldhash::fast::RandomState>,
}

/// What [`Lowerer::reserve`] found: a type already made for the key, or a new placeholder to fill.
enum Reserved {
    Existing(TypeId),
    New(TypeId, String),
}

/// Where a schema is being used, which decides how `format: binary` is typed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Json,
    Raw,
}

/// An inline schema as the key of the type made for it: two are the same shape when written alike
/// (the same keys in the same order, the same values), as their JSON texts would be equal. Hashing
/// looks a few levels deep; equality compares all of it. This replaced keying by the JSON text,
/// which wrote each nested schema out again at every level above it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape<'a> {
    /// A multipart body's type: its file fields differ from the JSON type of the same schema.
    pub multipart: bool,
    pub schema: &'a Value,
}

/// Levels of a schema [`Shape`]'s hash looks into; deeper differences are left to equality.
const SHAPE_HASH_DEPTH: usize = 2;

/// The types made for inline shapes.
pub(crate) type ShapeMap<'a> = HashMap<Shape<'a>, TypeId, foldhash::fast::RandomState>;

impl Shape<'_> {
    /// The shape as text, ordering shapes that tie for a name: the schema's JSON, after
    /// `multipart ` for a multipart body's.
    pub fn text(&self) -> String {
        let json = serde_json::to_string(self.schema).unwrap_or_default();
        if self.multipart {
            format!("multipart {json}")
        } else {
            json
        }
    }
}

impl PartialEq for Shape<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.multipart == other.multipart && written_alike(self.schema, other.schema)
    }
}

impl Eq for Shape<'_> {}

impl std::hash::Hash for Shape<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.multipart.hash(state);
        hash_written(self.schema, SHAPE_HASH_DEPTH, state);
    }
}

/// Whether `a` and `b` serialize to the same JSON text.
fn written_alike(a: &Value, b: &Value) -> bool {
    if std::ptr::eq(a, b) {
        return true;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        // Equal numbers of one kind; floats by their bits, as `0.0` and `-0.0` are written apart.
        (Value::Number(x), Value::Number(y)) => {
            x == y && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| written_alike(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && written_alike(vx, vy))
        }
        _ => false,
    }
}

/// Hashes what [`written_alike`] compares, down to `depth` levels (below that, only the kind).
fn hash_written<H: std::hash::Hasher>(v: &Value, depth: usize, state: &mut H) {
    use std::hash::Hash;
    std::mem::discriminant(v).hash(state);
    match v {
        Value::Null => {}
        Value::Bool(b) => b.hash(state),
        Value::Number(n) => n.as_f64().map(f64::to_bits).hash(state),
        Value::String(s) => s.hash(state),
        Value::Array(items) => {
            items.len().hash(state);
            if depth > 0 {
                for i in items {
                    hash_written(i, depth - 1, state);
                }
            }
        }
        Value::Object(m) => {
            m.len().hash(state);
            for (k, v) in m {
                k.hash(state);
                if depth > 0 {
                    hash_written(v, depth - 1, state);
                }
            }
        }
    }
}

struct Lowerer<'a> {
    root: &'a Value,
    ref_names: &'a BTreeMap<String, String>,
    settings: &'a Settings,
    types: Vec<TypeDef>,
    by_ref: HashMap<String, TypeId>,
    by_shape: ShapeMap<'a>,
    type_scope: Scope,
    warnings: Vec<Diagnostic>,
    depth: usize,
    /// Refs to schemas without a named type that are being lowered in place (to catch recursion).
    inlining: Vec<String>,
    /// Header names (lower case) that auth supplies: not builder parameters.
    auth_headers: Vec<String>,
    /// Query keys (lower case) that auth supplies (an AWS signature's): not builder parameters.
    auth_query: Vec<String>,
    /// Whether a security scheme (of the description or the settings) writes `Authorization`.
    authorization_covered: bool,
    /// The operation being lowered has an `Authorization` header parameter no scheme covers: Some(required).
    authorization_param: Option<bool>,
    /// Pointers of `Authorization` parameters already reported (none: no such parameter).
    authorization_seen: HashSet<String>,
    /// Warnings given (pointer and message), so each is given once.
    warned: HashSet<String>,
    /// The builder name of the operation whose parts are being lowered (see [`rename`]).
    current_op: Option<String>,
    /// Named types whose body is being lowered, innermost last (see [`rename`]).
    building: Vec<TypeId>,
    /// Where each inline shape was met (see [`rename`]).
    met: rename::Meetings,
    /// The one value each parameter of the operation being lowered allows, when its schema allows
    /// one only (`enum: [x]`, `const: x`): (location, wire name, value).
    single_values: Vec<(ParamLocation, String, String)>,
}

/// The name of the scheme standing for an uncovered `Authorization` header parameter: `authorization`,
/// unless the description already has a scheme of that name.
fn authorization_scheme(schemes: &[SecurityScheme]) -> String {
    let mut name = String::from("authorization");
    while schemes.iter().any(|s| s.scheme() == name) {
        name.push_str("_header");
    }
    name
}

/// The headers (lower case) the API's auth writes, so operations need not take them: those of the
/// description's security schemes and of the settings' `[[auth]]` hints, and what the hints `cover`.
fn auth_header_names(schemes: &[SecurityScheme], settings: &Settings) -> Vec<String> {
    let mut out: Vec<String> = schemes
        .iter()
        .flat_map(SecurityScheme::header_names)
        .collect();
    for hint in &settings.auth {
        // A hint that does not convert is reported where hints are applied.
        if let Ok(s) = hint.to_scheme() {
            out.extend(s.header_names());
        }
        out.extend(hint.covers.iter().map(|c| c.to_ascii_lowercase()));
    }
    out.sort();
    out.dedup();
    out
}

/// Lower a loaded document.
pub fn lower(doc: &Document, settings: &Settings) -> Result<(Api, Vec<Diagnostic>), Diagnostic> {
    let root = &doc.root;
    if !root.is_object() {
        return Err(Diagnostic::error("the description is not a JSON/YAML object").at(""));
    }
    let mut l = Lowerer {
        root,
        ref_names: &doc.ref_names,
        settings,
        types: Vec::new(),
        by_ref: HashMap::new(),
        by_shape: ShapeMap::default(),
        type_scope: Scope::default(),
        warnings: Vec::new(),
        depth: 0,
        inlining: Vec::new(),
        auth_headers: Vec::new(),
        auth_query: Vec::new(),
        authorization_covered: false,
        authorization_param: None,
        authorization_seen: HashSet::new(),
        warned: HashSet::new(),
        current_op: None,
        building: Vec::new(),
        met: rename::Meetings::default(),
        single_values: Vec::new(),
    };
    let info = root.field("info").cloned().unwrap_or(Value::Null);
    let mut api = Api {
        title: str_of(&info, "title").unwrap_or("API").to_owned(),
        version: info
            .field("version")
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default(),
        doc: str_of(&info, "description").map(str::to_owned),
        multipart_style: settings.multipart_style,
        ..Api::default()
    };
    api.servers = l.servers();
    l.security_schemes(&mut api);
    l.auth_headers = auth_header_names(&api.security, settings);
    l.auth_query = api
        .security
        .iter()
        .flat_map(SecurityScheme::query_names)
        .collect();
    l.authorization_covered = api
        .security
        .iter()
        .any(SecurityScheme::writes_authorization)
        || settings.auth.iter().any(|h| {
            h.to_scheme().is_ok_and(|s| s.writes_authorization())
                || h.covers
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case("authorization"))
        });
    // Named component schemas first, in document order, so their names win over inline ones.
    if let Some(Value::Object(schemas)) = root.pointer("/components/schemas") {
        for key in schemas.keys() {
            let r = format!("#/components/schemas/{}", escape(key));
            l.named_ref(&r);
        }
    }
    l.operations(&mut api);
    if !l.authorization_seen.is_empty() {
        let scheme = authorization_scheme(&api.security);
        api.security.push(SecurityScheme::Authorization { scheme });
    }
    l.webhooks(&mut api);
    api.types = l.types;
    rename::by_meaning(&mut api, &l.met, &l.by_shape);
    Ok((api, l.warnings))
}

impl<'a> Lowerer<'a> {
    fn warn(&mut self, ptr: &str, msg: impl Into<String>) {
        let msg = msg.into();
        // A schema lowered from several places is checked each time: say it once.
        if self.warned.insert(format!("{ptr}\u{0}{msg}")) {
            self.warnings
                .push(Diagnostic::warning(msg).at(ptr.to_owned()));
        }
    }

    /// Warnings for the values of a schema's keywords that are present but of the wrong kind, each
    /// saying what was read instead (the readers below fall back silently).
    fn check_schema_values(&mut self, s: &Value, ptr: &str) {
        let Some(m) = s.as_object() else { return };
        // Nearly every schema is well formed: one pass over its members says so, where the checks
        // below look up each keyword in turn. `keyword_value_ok` accepts exactly what they accept
        // (a test gives each keyword a bad value): a check added here is added there too.
        if m.iter().all(|(k, v)| keyword_value_ok(k, v)) {
            return;
        }
        for key in [
            "nullable",
            "x-nullable",
            "readOnly",
            "writeOnly",
            "deprecated",
        ] {
            self.bool_field(s, ptr, key, false);
        }
        let at = |key: &str| format!("{ptr}/{}", escape(key));
        match m.field("type") {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(types)) => {
                for (i, t) in types.iter().enumerate() {
                    if !t.is_string() {
                        self.warn(
                            &format!("{}/{i}", at("type")),
                            format!("type {t} is not a type name; left out"),
                        );
                    }
                }
            }
            Some(other) => self.warn(
                &at("type"),
                format!(
                    "`type` is {other}, neither a type name nor a list of them; read as no type"
                ),
            ),
        }
        if let Some(e) = m.field("enum").filter(|e| !e.is_array()) {
            self.warn(
                &at("enum"),
                format!("`enum` is {e}, not a list of values; no values are enforced"),
            );
        }
        if let Some(r) = m.field("required") {
            match r {
                Value::Array(names) => {
                    for (i, n) in names.iter().enumerate() {
                        if !n.is_string() {
                            self.warn(
                                &format!("{}/{i}", at("required")),
                                format!("required property name {n} is not a string; left out"),
                            );
                        }
                    }
                }
                other => self.warn(
                    &at("required"),
                    format!("`required` is {other}, not a list of property names; no property is required"),
                ),
            }
        }
        for key in ["minimum", "maximum"] {
            if let Some(v) = m.get(key).filter(|v| !v.is_number()) {
                self.warn(
                    &at(key),
                    format!("`{key}` is {v}, not a number; not enforced"),
                );
            }
        }
        for key in ["exclusiveMinimum", "exclusiveMaximum"] {
            if let Some(v) = m.get(key).filter(|v| !v.is_number() && !v.is_boolean()) {
                self.warn(
                    &at(key),
                    format!("`{key}` is {v}, neither a number nor a boolean; not enforced"),
                );
            }
        }
        for key in ["minLength", "maxLength", "minItems", "maxItems"] {
            if let Some(v) = m.get(key).filter(|v| v.as_u64().is_none()) {
                self.warn(
                    &at(key),
                    format!("`{key}` is {v}, not a non-negative integer; not enforced"),
                );
            }
        }
        for key in ["pattern", "format", "title", "description"] {
            if let Some(v) = m.get(key).filter(|v| !v.is_string()) {
                self.warn(&at(key), format!("`{key}` is {v}, not a string; ignored"));
            }
        }
        if let Some(v) = m
            .field("additionalProperties")
            .filter(|v| !v.is_object() && !v.is_boolean())
        {
            self.warn(
                &at("additionalProperties"),
                format!("`additionalProperties` is {v}, neither a schema nor a boolean; other properties are not kept"),
            );
        }
        if let Some(v) = m.field("properties").filter(|v| !v.is_object()) {
            self.warn(
                &at("properties"),
                format!("`properties` is {v}, not a map of schemas; no properties are read"),
            );
        }
    }

    /// A boolean member `key` of `v` (at `ptr`): `default` when absent, and when present but not a
    /// boolean, with a warning at the member saying the default was used.
    fn bool_field(&mut self, v: &Value, ptr: &str, key: &str, default: bool) -> bool {
        match v.field(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.warn(
                    &format!("{ptr}/{}", escape(key)),
                    format!("`{key}` is {other}, not a boolean; read as {default}"),
                );
                default
            }
        }
    }

    /// A string member `key` of `v` (at `ptr`): `None` when absent, and when present but not a
    /// string, with a warning at the member.
    fn string_field(&mut self, v: &Value, ptr: &str, key: &str) -> Option<String> {
        match v.field(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.warn(
                    &format!("{ptr}/{}", escape(key)),
                    format!("`{key}` is {other}, not a string; ignored"),
                );
                None
            }
        }
    }

    /// A warning for a part read once per operation (the description's own `security`): only once.
    fn warn_once(&mut self, ptr: &str, msg: impl Into<String>) {
        let d = Diagnostic::warning(msg).at(ptr.to_owned());
        if !self
            .warnings
            .iter()
            .any(|w| w.pointer == d.pointer && w.message == d.message)
        {
            self.warnings.push(d);
        }
    }

    /// The constraints `validate()` checks for a schema, with a warning for a pattern it cannot run.
    fn constraints(&mut self, s: &Value, ptr: &str) -> Constraints {
        let c = constraints_through_refs(self.root, s);
        if c.pattern.is_none() {
            if let Some(p) = str_of(s, "pattern") {
                self.warn(ptr, format!("pattern `{p}` uses syntax the validator does not support (look-around, backreferences); it is not checked"));
            }
        }
        c
    }

    /// Follow `$ref`s to the schema they name. Returns the final node and the last ref followed.
    fn deref(&mut self, v: &'a Value, ptr: &str) -> (&'a Value, Option<String>) {
        let mut cur = v;
        let mut last = None;
        for _ in 0..MAX_REF_HOPS {
            let Some(r) = str_of(cur, "$ref") else {
                return (cur, last);
            };
            match pointer(self.root, r) {
                Some(t) => {
                    last = Some(r.to_owned());
                    cur = t;
                }
                None => {
                    self.warn(
                        ptr,
                        format!("`$ref: {r}` does not resolve; treated as any value"),
                    );
                    return (&Value::Null, None);
                }
            }
        }
        self.warn(
            ptr,
            "`$ref` chain too long or circular; treated as any value",
        );
        (&Value::Null, None)
    }

    fn name_for_ref(&self, r: &str) -> String {
        if let Some(n) = self.settings.rename(r) {
            return names::type_name(n);
        }
        if let Some(n) = self.ref_names.get(r) {
            return names::type_name(n);
        }
        let last = r.rsplit('/').next().unwrap_or(r);
        names::type_name(&ptr::unescape(&ptr::percent_decode(last)))
    }

    /// The named type for a referenced schema (created on first use, recursion-safe).
    fn named_ref(&mut self, r: &str) -> Ty {
        if let Some(id) = self.by_ref.get(r) {
            // Every use of a nullable schema is optional, not only the first one lowered.
            let ty = Ty::Named(*id);
            let nullable = pointer(self.root, r).is_some_and(|t| type_info(t).nullable);
            return if nullable { ty.optional() } else { ty };
        }
        let Some(target) = pointer(self.root, r) else {
            self.warn(
                r,
                format!("`$ref: {r}` does not resolve; treated as any value"),
            );
            return Ty::Any;
        };
        // A ref to a ref: name the final target.
        if str_of(target, "$ref").is_some() {
            let (t, last) = self.deref(target, r);
            return match last {
                Some(l) if t.is_object() => {
                    let ty = self.named_ref(&l);
                    let nullable = type_info(target).nullable;
                    if nullable { ty.optional() } else { ty }
                }
                _ => Ty::Any,
            };
        }
        if !needs_named_type(target) {
            if self.inlining.iter().any(|x| x == r) {
                // A list or map that contains itself: it needs a name after all (an alias, which
                // emission makes a newtype because an alias cannot contain itself).
                let name = self.type_scope.claim(&self.name_for_ref(r));
                let id = TypeId(self.types.len());
                self.types.push(TypeDef {
                    name,
                    doc: doc_of(target),
                    origin: r.to_owned(),
                    kind: TypeKind::Alias(Ty::Any),
                });
                self.by_ref.insert(r.to_owned(), id);
                return Ty::Named(id);
            }
            let name = self.name_for_ref(r);
            self.inlining.push(r.to_owned());
            let ty = self.schema_ty(target, &name, r, Ctx::Json);
            self.inlining.pop();
            return match self.by_ref.get(r) {
                Some(id) => {
                    let named = Ty::Named(*id);
                    let nullable = matches!(ty, Ty::Option(_));
                    self.types[id.0].kind = TypeKind::Alias(match ty {
                        Ty::Option(inner) => *inner,
                        t => t,
                    });
                    if nullable { named.optional() } else { named }
                }
                None => ty,
            };
        }
        let name = self.type_scope.claim(&self.name_for_ref(r));
        let id = TypeId(self.types.len());
        self.types.push(TypeDef {
            name: name.clone(),
            doc: doc_of(target),
            origin: r.to_owned(),
            kind: TypeKind::Alias(Ty::Any),
        });
        self.by_ref.insert(r.to_owned(), id);
        self.building.push(id);
        let kind = self.type_kind(target, &name, r);
        self.building.pop();
        self.types[id.0].kind = kind;
        let ty = Ty::Named(id);
        if type_info(target).nullable {
            ty.optional()
        } else {
            ty
        }
    }

    /// A new named type (placeholder body) under `key`, or the one already made for that key. The body
    /// is filled by the caller after the id exists, so recursive shapes refer back to it.
    fn reserve(&mut self, key: Shape<'a>, s: &Value, ctx_name: &str, ptr: &str) -> Reserved {
        let meeting = self.meeting(ctx_name);
        let id = TypeId(self.types.len());
        match self.by_shape.entry(key) {
            std::collections::hash_map::Entry::Occupied(known) => {
                let known = *known.get();
                self.met.add(known, meeting, None);
                return Reserved::Existing(known);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(id);
            }
        }
        let name = self.type_scope.claim(&names::type_name(ctx_name));
        self.types.push(TypeDef {
            name: name.clone(),
            doc: doc_of(s),
            origin: ptr.to_owned(),
            kind: TypeKind::Alias(Ty::Any),
        });
        self.met.add(id, meeting, str_of(s, "title"));
        Reserved::New(id, name)
    }

    /// What met a shape named after `ctx_name`: the named type being lowered whose name it starts
    /// with, else the operation being lowered whose builder name it starts with.
    fn meeting(&self, ctx_name: &str) -> rename::Meeting {
        if let Some(&p) = self.building.last() {
            if let Some(words) = rename::words_after(ctx_name, &self.types[p.0].name) {
                return rename::Meeting::Parent(p, words);
            }
        }
        match &self.current_op {
            Some(b) => match rename::words_after(ctx_name, b) {
                Some(words) => rename::Meeting::Op(b.clone(), words),
                None => rename::Meeting::Other,
            },
            None => rename::Meeting::Other,
        }
    }

    /// The named type for an inline schema, shared with any structurally identical one.
    fn inline_named(&mut self, s: &'a Value, ctx_name: &str, ptr: &str) -> Ty {
        let key = Shape {
            multipart: false,
            schema: s,
        };
        let (id, name) = match self.reserve(key, s, ctx_name, ptr) {
            Reserved::Existing(id) => return Ty::Named(id),
            Reserved::New(id, name) => (id, name),
        };
        self.building.push(id);
        let kind = self.type_kind(s, &name, ptr);
        self.building.pop();
        self.types[id.0].kind = kind;
        Ty::Named(id)
    }

    /// The type of a schema used at `ptr`, naming inline shapes after `ctx_name`.
    fn schema_ty(&mut self, s: &'a Value, ctx_name: &str, ptr: &str, ctx: Ctx) -> Ty {
        if self.depth > MAX_DEPTH {
            self.warn(ptr, "schema nested too deeply; treated as any value");
            return Ty::Any;
        }
        self.depth += 1;
        let t = self.schema_ty_inner(s, ctx_name, ptr, ctx);
        self.depth -= 1;
        t
    }

    fn schema_ty_inner(&mut self, s: &'a Value, ctx_name: &str, ptr: &str, ctx: Ctx) -> Ty {
        let Some(m) = s.as_object() else {
            // `true`/missing schema: anything.
            return Ty::Any;
        };
        self.check_schema_values(s, ptr);
        let info = type_info(s);
        let wrap = |t: Ty| if info.nullable { t.optional() } else { t };
        if let Some(r) = m.field("$ref").and_then(Value::as_str) {
            let r = r.to_owned();
            return wrap(self.named_ref(&r));
        }
        if let Some(t) = self.settings.type_override(ptr) {
            return wrap(t);
        }
        if let Some(t) = str_of(s, "x-rust-type").and_then(crate::settings::primitive_type) {
            return wrap(t);
        }
        // allOf with one structural part and nothing else of substance: that part.
        if let Some(Value::Array(parts)) = m.field("allOf") {
            let structural: Vec<&Value> = parts.iter().filter(|p| is_structural(p)).collect();
            if structural.len() == 1
                && !m.contains_key("properties")
                && !m.contains_key("oneOf")
                && !m.contains_key("anyOf")
            {
                let p = structural[0];
                return wrap(self.schema_ty(p, ctx_name, &format!("{ptr}/allOf/0"), ctx));
            }
            if structural.is_empty() && !m.contains_key("properties") {
                return wrap(Ty::Any);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alts)) = m.get(key) {
                let non_null: Vec<&Value> = alts.iter().filter(|a| !is_null_schema(a)).collect();
                let has_null = non_null.len() != alts.len();
                let structural: Vec<&Value> = non_null
                    .iter()
                    .copied()
                    .filter(|a| is_structural(a))
                    .collect();
                if structural.is_empty() {
                    continue;
                }
                let nullable = info.nullable || has_null;
                let w = |t: Ty| if nullable { t.optional() } else { t };
                if structural.len() == 1 && !m.contains_key("properties") {
                    let idx = alts
                        .iter()
                        .position(|a| std::ptr::eq(a, structural[0]))
                        .unwrap_or(0);
                    return w(self.schema_ty(
                        structural[0],
                        ctx_name,
                        &format!("{ptr}/{key}/{idx}"),
                        ctx,
                    ));
                }
                if structural.len() > 1 {
                    return w(self.inline_named(s, ctx_name, ptr));
                }
            }
        }
        if m.contains_key("allOf") {
            return wrap(self.inline_named(s, ctx_name, ptr));
        }
        if let Some(Value::Array(values)) = m.field("enum") {
            let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            let non_null = values.iter().filter(|v| !v.is_null()).count();
            if !strings.is_empty() && strings.len() == non_null {
                if strings.len() == 1 {
                    return wrap(Ty::String);
                }
                return wrap(self.inline_named(s, ctx_name, ptr));
            }
        }
        let primary = info.types.first().map(String::as_str);
        if info.types.len() > 1 {
            return wrap(Ty::Any);
        }
        let is_object = primary == Some("object")
            || (primary.is_none()
                && (m.contains_key("properties") || m.contains_key("additionalProperties")));
        // Without `type`, `items` makes an array only in its schema form: the list (tuple) form is not
        // OpenAPI and constrains nothing but arrays, so such a schema admits any value.
        let is_array = primary == Some("array")
            || (primary.is_none() && m.field("items").is_some_and(Value::is_object));
        if primary.is_none() && m.field("items").is_some_and(Value::is_array) && !is_object {
            self.warn(
                ptr,
                "`items` is a list without `type: array` (not OpenAPI); typed as any value",
            );
        }
        if is_object {
            let has_props =
                matches!(m.field("properties"), Some(Value::Object(p)) if !p.is_empty());
            if has_props {
                return wrap(self.inline_named(s, ctx_name, ptr));
            }
            return wrap(match m.field("additionalProperties") {
                Some(Value::Object(ap)) if is_structural(&Value::Object(ap.clone())) => {
                    let item = &s["additionalProperties"];
                    let vt = self.schema_ty(
                        item,
                        &format!("{ctx_name} Value"),
                        &format!("{ptr}/additionalProperties"),
                        Ctx::Json,
                    );
                    Ty::Map(Box::new(vt))
                }
                Some(Value::Bool(true)) | Some(Value::Object(_)) => Ty::Map(Box::new(Ty::Any)),
                _ => Ty::Any,
            });
        }
        if is_array {
            let item = match m.field("items") {
                Some(items @ Value::Object(_)) => self.schema_ty(
                    items,
                    &format!("{ctx_name} Item"),
                    &format!("{ptr}/items"),
                    ctx,
                ),
                _ => Ty::Any,
            };
            return wrap(Ty::Vec(Box::new(item)));
        }
        let format = str_of(s, "format").unwrap_or("");
        wrap(match primary {
            Some("string") => match format {
                "date-time" => Ty::DateTime,
                "date" => Ty::Date,
                "uuid" => Ty::Uuid,
                "byte" => Ty::Base64,
                "binary" if ctx == Ctx::Raw => Ty::Binary,
                _ => Ty::String,
            },
            Some("integer") => Ty::Int(match format {
                "int32" => IntKind::I32,
                "uint32" => IntKind::U32,
                "uint64" => IntKind::U64,
                _ => IntKind::I64,
            }),
            Some("number") => Ty::Float(false),
            Some("boolean") => Ty::Bool,
            Some("null") => Ty::Unit,
            Some("file") => Ty::Binary,
            Some(other) if !other.is_empty() => {
                self.warn(ptr, format!("unknown type `{other}`; treated as any value"));
                Ty::Any
            }
            _ => match m.field("const") {
                Some(Value::String(_)) => Ty::String,
                Some(Value::Bool(_)) => Ty::Bool,
                Some(Value::Number(n)) if n.is_i64() => Ty::Int(IntKind::I64),
                Some(Value::Number(_)) => Ty::Float(false),
                _ => Ty::Any,
            },
        })
    }

    /// The body of a named type.
    fn type_kind(&mut self, s: &'a Value, name: &str, ptr: &str) -> TypeKind {
        self.check_schema_values(s, ptr);
        let empty = serde_json::Map::new();
        let m = s.as_object().unwrap_or(&empty);
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alts)) = m.get(key) {
                let structural: Vec<(usize, &'a Value)> = s[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, a)| !is_null_schema(a) && is_structural(a))
                    .collect();
                if structural.len() > 1 || (structural.len() == 1 && !m.contains_key("properties"))
                {
                    let _ = alts;
                    return TypeKind::Union(self.union(s, key, &structural, name, ptr));
                }
            }
        }
        if let Some(Value::Array(values)) = m.field("enum") {
            let strings: Vec<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if !strings.is_empty() {
                let mut scope = Scope::default();
                let mut seen = std::collections::HashSet::new();
                let variants = strings
                    .into_iter()
                    .filter(|v| seen.insert(v.clone()))
                    .map(|v| (scope.claim(&names::variant_name(&v)), v))
                    .collect();
                return TypeKind::Enum(StringEnum { variants });
            }
        }
        let mut props: Vec<(String, &'a Value, String)> = Vec::new();
        let mut required: Vec<String> = Vec::new();
        let mut additional: Option<&'a Value> = None;
        self.collect_object(s, ptr, &mut props, &mut required, &mut additional);
        if props.is_empty() && additional.is_none() && !m.contains_key("properties") {
            // Not an object after all (e.g. a named primitive or array): alias.
            let t = self.schema_ty_no_name(s, name, ptr);
            return TypeKind::Alias(t);
        }
        // Emission names the flattened map of additional properties `additional_properties`.
        let mut field_scope =
            Scope::with_taken(additional.is_some().then_some("additional_properties"));
        let mut fields = Vec::with_capacity(props.len());
        let required: HashSet<String> = required.into_iter().collect();
        for (wire, ps, pptr) in props {
            let is_required = required.contains(&wire);
            let ty = self.schema_ty(ps, &format!("{name} {wire}"), &pptr, Ctx::Json);
            let (_, _) = (&ps, &pptr);
            let deref = self.deref(ps, &pptr).0;
            let nullable = matches!(ty, Ty::Option(_)) || type_info(ps).nullable;
            let ty = if is_required { ty } else { ty.optional() };
            fields.push(Field {
                name: field_scope.claim(&names::snake_name(&wire)),
                wire_name: wire,
                tri_state: !is_required && nullable,
                ty,
                required: is_required,
                doc: doc_of(ps).or_else(|| doc_of(deref)),
                constraints: self.constraints(ps, &pptr).into(),
                format: str_of(ps, "format")
                    .or_else(|| str_of(deref, "format"))
                    .map(str::to_owned),
            });
        }
        let additional = additional.map(|a| {
            if is_structural(a) {
                self.schema_ty(
                    a,
                    &format!("{name} Value"),
                    &format!("{ptr}/additionalProperties"),
                    Ctx::Json,
                )
            } else {
                Ty::Any
            }
        });
        TypeKind::Struct(Struct { fields, additional })
    }

    /// Like `schema_ty` but never creates a named type for `s` itself (it already is one).
    fn schema_ty_no_name(&mut self, s: &'a Value, name: &str, ptr: &str) -> Ty {
        let m = s.as_object();
        let info = type_info(s);
        if m.is_some_and(|m| m.field("items").is_some_and(Value::is_object))
            || info.types.first().map(String::as_str) == Some("array")
        {
            let item = match s.field("items") {
                Some(items @ Value::Object(_)) => self.schema_ty(
                    items,
                    &format!("{name} Item"),
                    &format!("{ptr}/items"),
                    Ctx::Json,
                ),
                _ => Ty::Any,
            };
            return Ty::Vec(Box::new(item));
        }
        if m.is_some_and(|m| m.contains_key("additionalProperties")) {
            let ap = &s["additionalProperties"];
            if is_structural(ap) {
                let vt = self.schema_ty(
                    ap,
                    &format!("{name} Value"),
                    &format!("{ptr}/additionalProperties"),
                    Ctx::Json,
                );
                return Ty::Map(Box::new(vt));
            }
            return Ty::Map(Box::new(Ty::Any));
        }
        // Strip the structural keys that would name it again and lower the rest as a primitive.
        let mut stripped = s.clone();
        if let Some(o) = stripped.as_object_mut() {
            o.remove("allOf");
            o.remove("oneOf");
            o.remove("anyOf");
            o.remove("enum");
            o.remove("properties");
        }
        let leaked: &'a Value = Box::leak(Box::new(stripped));
        let t = self.schema_ty(leaked, name, ptr, Ctx::Json);
        match t {
            Ty::Option(inner) => *inner,
            t => t,
        }
    }

    /// Gather properties through allOf (and refs), in order; later definitions of a name win.
    fn collect_object(
        &mut self,
        s: &'a Value,
        ptr: &str,
        props: &mut Vec<(String, &'a Value, String)>,
        required: &mut Vec<String>,
        additional: &mut Option<&'a Value>,
    ) {
        let mut found = Collected {
            at: props
                .iter()
                .enumerate()
                .map(|(i, p)| (p.0.clone(), i))
                .collect(),
            required_set: required.iter().cloned().collect(),
            props,
            required,
            additional,
            seen: HashSet::default(),
        };
        self.collect_object_in(s, ptr, &mut found, 0);
    }

    /// [`Self::collect_object`] at one part. A schema reached through a `$ref` is gathered once: its
    /// properties are the same every time, and parts that name the same schema again and again
    /// (`allOf: [B, B]` with `B: {allOf: [C, C]}`...) would otherwise be walked exponentially often.
    fn collect_object_in(
        &mut self,
        s: &'a Value,
        ptr: &str,
        found: &mut Collected<'a, '_>,
        depth: usize,
    ) {
        if depth > 16 {
            return;
        }
        let (s, ptr) = match str_of(s, "$ref") {
            Some(r) => {
                let r = r.to_owned();
                match self.deref(s, ptr) {
                    (t, Some(last)) => {
                        if !found.seen.insert(last) {
                            return;
                        }
                        (t, r)
                    }
                    _ => return,
                }
            }
            None => (s, ptr.to_owned()),
        };
        if let Some(Value::Array(parts)) = s.field("allOf") {
            for (i, p) in parts.iter().enumerate() {
                self.collect_object_in(p, &format!("{ptr}/allOf/{i}"), found, depth + 1);
            }
        }
        if let Some(Value::Object(ps)) = s.field("properties") {
            for (k, v) in ps {
                let pptr = format!("{ptr}/properties/{}", escape(k));
                match found.at.get(k) {
                    Some(&i) => {
                        // A redefinition in a later allOf part: keep the more structural one.
                        let slot = &mut found.props[i];
                        if is_structural(v) || !is_structural(slot.1) {
                            *slot = (k.clone(), v, pptr);
                        }
                    }
                    None => {
                        found.at.insert(k.clone(), found.props.len());
                        found.props.push((k.clone(), v, pptr));
                    }
                }
            }
        }
        if let Some(Value::Array(req)) = s.field("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if found.required_set.insert(r.to_owned()) {
                    found.required.push(r.to_owned());
                }
            }
        }
        match s.field("additionalProperties") {
            Some(ap @ Value::Object(_)) => *found.additional = Some(ap),
            Some(ap @ Value::Bool(true)) => *found.additional = Some(ap),
            _ => {}
        }
    }

    fn union(
        &mut self,
        s: &'a Value,
        key: &str,
        alts: &[(usize, &'a Value)],
        name: &str,
        ptr: &str,
    ) -> Union {
        let disc = s.field("discriminator");
        let dptr = format!("{ptr}/discriminator");
        let prop = match disc {
            Some(d) => self.string_field(d, &dptr, "propertyName"),
            None => None,
        };
        let mut mapping: Vec<(String, String)> = Vec::new();
        if let Some(Value::Object(map)) = disc.and_then(|d| d.field("mapping")) {
            for (k, v) in map {
                if !v.is_string() {
                    self.warn(
                        &format!("{dptr}/mapping/{}", escape(k)),
                        format!("discriminator mapping `{k}` is {v}, not a schema name or reference; left out"),
                    );
                }
                if let Some(v) = v.as_str() {
                    let target = if v.starts_with('#') {
                        v.to_owned()
                    } else {
                        format!("#/components/schemas/{}", escape(v))
                    };
                    mapping.push((k.clone(), target));
                }
            }
        }
        let default_target = disc.and_then(|d| d.field("defaultMapping")).and_then(|v| {
            let at = format!("{ptr}/discriminator/defaultMapping");
            match v.as_str() {
                Some(v) if v.starts_with('#') => Some((v.to_owned(), at)),
                Some(v) => Some((format!("#/components/schemas/{}", escape(v)), at)),
                None => {
                    self.warn(
                        &at,
                        format!("`defaultMapping` is {v}, not a schema name or reference; a value without a known discriminator decodes as `Other`"),
                    );
                    None
                }
            }
        });
        let mut scope = Scope::default();
        let mut variants: Vec<UnionVariant> = Vec::new();
        let mut default_variant = None;
        for (i, alt) in alts {
            let vptr = format!("{ptr}/{key}/{i}");
            let r = str_of(alt, "$ref").map(str::to_owned);
            let ty = self.schema_ty(alt, &format!("{name} Variant{i}"), &vptr, Ctx::Json);
            let base = match (&r, strip_option(&ty)) {
                (Some(r), _) => self.name_for_ref(r),
                (None, Ty::Named(id)) => self.types[id.0].name.clone(),
                (None, t) => primitive_variant_name(t),
            };
            let mut tags = Vec::new();
            if let Some(p) = &prop {
                if let Some(r) = &r {
                    tags.extend(
                        mapping
                            .iter()
                            .filter(|(_, t)| t == r)
                            .map(|(k, _)| k.clone()),
                    );
                    if tags.is_empty() {
                        // No mapping: the tag is the const/single enum of the property, else the schema name.
                        let target = pointer(self.root, r).unwrap_or(&Value::Null);
                        match discriminator_value(self.root, target, p) {
                            Some(v) => tags.push(v),
                            None => tags.push(r.rsplit('/').next().unwrap_or(r).to_owned()),
                        }
                    }
                } else if let Some(v) = discriminator_value(self.root, alt, p) {
                    tags.push(v);
                }
            }
            if default_target
                .as_ref()
                .is_some_and(|(t, _)| r.as_deref() == Some(t.as_str()))
                && default_variant.is_none()
            {
                default_variant = Some(
                    variants
                        .iter()
                        .position(|v| v.ty == ty)
                        .unwrap_or(variants.len()),
                );
            }
            // Two alternatives of one type: keep the first (serde could never tell them apart).
            if variants.iter().any(|v| v.ty == ty) {
                if let Some(v) = variants.iter_mut().find(|v| v.ty == ty) {
                    v.tags.extend(tags);
                }
                continue;
            }
            variants.push(UnionVariant {
                name: scope.claim(&names::variant_name(&base)),
                ty,
                tags,
            });
        }
        // A `defaultMapping` outside the alternatives: one more variant, chosen by no tag.
        if let (Some((target, at)), None) = (&default_target, default_variant) {
            if pointer(self.root, target).is_some() {
                let ty = self.named_ref(target);
                default_variant = Some(match variants.iter().position(|v| v.ty == ty) {
                    Some(i) => i,
                    None => {
                        variants.push(UnionVariant {
                            name: scope.claim(&names::variant_name(&self.name_for_ref(target))),
                            ty,
                            tags: Vec::new(),
                        });
                        variants.len() - 1
                    }
                });
            } else {
                self.warn(
                    at,
                    format!("`defaultMapping` `{target}` does not resolve; a value without a known discriminator decodes as `Other`"),
                );
            }
        }
        if prop.is_none() {
            default_variant = None;
        }
        Union {
            variants,
            discriminator: prop,
            default_variant,
        }
    }

    fn servers(&mut self) -> Vec<Server> {
        server_list(self.root.field("servers"))
    }
}

/// The servers of a `servers` array (root, path item or operation), in order.
fn server_list(list: Option<&Value>) -> Vec<Server> {
    {
        let mut out = Vec::new();
        if let Some(Value::Array(servers)) = list {
            for s in servers {
                let Some(url) = str_of(s, "url") else {
                    continue;
                };
                let mut variables = Vec::new();
                if let Some(Value::Object(vars)) = s.field("variables") {
                    for (k, v) in vars {
                        let default = v
                            .field("default")
                            .map(|d| {
                                d.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| d.to_string())
                            })
                            .unwrap_or_default();
                        let allowed = v
                            .field("enum")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        variables.push((k.clone(), default, allowed));
                    }
                }
                out.push(Server {
                    url: url.to_owned(),
                    doc: str_of(s, "description").map(str::to_owned),
                    variables,
                });
            }
        }
        out
    }
}

/// The signing name in the first server's host: the label before the `{region}` one
/// (`dynamodb.{region}.amazonaws.com`, `api.ecr.{region}...`), else the first label up to a `-`,
/// `.` or `{` (`s3-{region}`, `sqs.us-east-1`).
fn api_servers_signing_name(servers: &[crate::ir::Server]) -> Option<String> {
    let url = &servers.first()?.url;
    let host = url.split_once("://").map_or(url.as_str(), |(_, h)| h);
    let host = host.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let plain = |l: &str| {
        let cut = l.split(['-', '{', ':']).next().unwrap_or("");
        (!cut.is_empty() && cut.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| cut.to_ascii_lowercase())
    };
    if let Some(i) = labels.iter().position(|l| *l == "{region}") {
        if let Some(name) = i.checked_sub(1).and_then(|j| plain(labels[j])) {
            return Some(name);
        }
    }
    plain(labels.first()?)
}

impl<'a> Lowerer<'a> {
    fn security_schemes(&mut self, api: &mut Api) {
        let out = &mut api.security;
        let Some(Value::Object(schemes)) = self.root.pointer("/components/securitySchemes") else {
            return;
        };
        for (name, s) in schemes {
            let sp = format!("/components/securitySchemes/{}", escape(name));
            let (s, _) = self.deref(s, &sp);
            let scheme = name.clone();
            let before = out.len();
            let aws = str_of(s, "x-amazon-apigateway-authtype")
                .filter(|t| t.eq_ignore_ascii_case("awsSigv4") || t.eq_ignore_ascii_case("awsS3"));
            if let Some(authtype) = aws {
                let found = self
                    .settings
                    .aws_signing_name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .or_else(|| api_servers_signing_name(&api.servers))
                    .or_else(|| {
                        self.root
                            .pointer("/info/x-serviceName")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                            .map(str::to_owned)
                    });
                match found {
                    Some(signing_name) => {
                        let s3 = authtype.eq_ignore_ascii_case("awsS3") || signing_name == "s3";
                        out.push(SecurityScheme::AwsSigV4 { scheme, signing_name, s3 });
                    }
                    None => self.warn(
                        &sp,
                        format!("AWS signature scheme `{name}` has no signing name (no server host such as `sqs.{{region}}.amazonaws.com`, no `info.x-serviceName`); no auth constructor is generated for it: set `aws_signing_name` in the settings"),
                    ),
                }
                continue;
            }
            match str_of(s, "type") {
                Some("apiKey") => {
                    let key = str_of(s, "name").filter(|n| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                    });
                    let location = str_of(s, "in").filter(|l| ["header", "query", "cookie"].contains(l));
                    match (key, location) {
                        (Some(key), Some(location)) => out.push(SecurityScheme::ApiKey {
                            scheme,
                            name: key.to_owned(),
                            location: location.to_owned(),
                        }),
                        (None, _) => self.warn(
                            &sp,
                            format!("API key scheme `{name}` has no usable `name`; no auth constructor is generated for it (send the key with a `Custom` auth strategy or a hook)"),
                        ),
                        (_, None) => self.warn(
                            &sp,
                            format!("API key scheme `{name}` has `in: {}`, not header, query or cookie; no auth constructor is generated for it (send the key with a `Custom` auth strategy or a hook)", str_of(s, "in").unwrap_or("(missing)")),
                        ),
                    }
                }
                Some("http") => match str_of(s, "scheme").map(str::to_ascii_lowercase).as_deref() {
                    Some("basic") => out.push(SecurityScheme::Basic { scheme }),
                    Some("bearer") => out.push(SecurityScheme::Bearer { scheme }),
                    other => self.warn(
                        &sp,
                        format!(
                            "HTTP authentication scheme `{}` of `{name}` is not supported (only basic and bearer are); no auth constructor is generated for it: authenticate with a `connector_runtime::Custom` signer held as `AuthConfig::scheme(\"{name}\", ..)`, or a `beforeRequest` hook",
                            other.unwrap_or("(missing)")
                        ),
                    ),
                },
                Some("mutualTLS") => out.push(SecurityScheme::MutualTls { scheme }),
                Some("oauth2") | Some("openIdConnect") => {
                    let flows = s.field("flows");
                    let found = ["clientCredentials", "authorizationCode", "password"]
                        .iter()
                        .find_map(|f| {
                            let url = flows
                                .and_then(|fl| fl.get(*f))
                                .and_then(|fl| str_of(fl, "tokenUrl"))?;
                            Some(((*f).to_owned(), url.to_owned()))
                        });
                    let device = flows.and_then(|fl| fl.field("deviceAuthorization")).and_then(|d| {
                        Some((
                            str_of(d, "deviceAuthorizationUrl")?.to_owned(),
                            str_of(d, "tokenUrl")?.to_owned(),
                        ))
                    });
                    let mut scopes: Vec<String> = Vec::new();
                    if let Some(Value::Object(fl)) = flows {
                        for f in fl.values() {
                            if let Some(Value::Object(sc)) = f.field("scopes") {
                                for k in sc.keys() {
                                    if !scopes.contains(k) {
                                        scopes.push(k.clone());
                                    }
                                }
                            }
                        }
                    }
                    let oauth2 = str_of(s, "type") == Some("oauth2");
                    if found.is_none() && device.is_some() {
                        // The device flow is the scheme's only usable flow: its constructor alone.
                    } else if found.is_none() && oauth2 {
                        self.warn(
                            &sp,
                            format!("OAuth2 scheme `{name}` has no flow with a token URL (clientCredentials, authorizationCode, password or deviceAuthorization); its constructor takes an access token obtained elsewhere and sends it as a bearer token"),
                        );
                    }
                    if found.is_some() || device.is_none() {
                        let (flow, token_url) = match found {
                            Some((f, u)) => (f, Some(u)),
                            None => (String::new(), None),
                        };
                        out.push(SecurityScheme::OAuth2 {
                            scheme: scheme.clone(),
                            token_url,
                            flow,
                            scopes: scopes.clone(),
                        });
                    }
                    if let Some((device_url, token_url)) = device {
                        out.push(SecurityScheme::DeviceCode {
                            scheme,
                            device_url,
                            token_url,
                            scopes,
                        });
                    }
                }
                other => self.warn(
                    &sp,
                    format!(
                        "security scheme `{name}` has type {}, which is not apiKey, http, mutualTLS, oauth2 or openIdConnect; no auth constructor is generated for it",
                        other.map_or("(missing)".to_owned(), |t| format!("`{t}`"))
                    ),
                ),
            }
            if out.len() > before && s.field("deprecated").and_then(Value::as_bool) == Some(true) {
                api.deprecated_schemes.push(name.clone());
            }
        }
    }

    /// An operation's security requirements: its own `security`, else the description's. A
    /// requirement naming a scheme the description does not define is left out with a warning.
    fn security_of(&mut self, op: &Value, op_ptr: &str) -> Option<Vec<Vec<String>>> {
        let (list, ptr) = match op.field("security") {
            Some(v) => (v, format!("{op_ptr}/security")),
            None => (self.root.field("security")?, "/security".to_owned()),
        };
        let Some(list) = list.as_array() else {
            self.warn_once(
                &ptr,
                "`security` is not a list; the operation declares no security",
            );
            return None;
        };
        let defined = self
            .root
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object);
        let mut out = Vec::new();
        for (i, req) in list.iter().enumerate() {
            let Some(req) = req.as_object() else {
                self.warn_once(
                    &format!("{ptr}/{i}"),
                    "security requirement is not an object; left out",
                );
                continue;
            };
            let mut alt = Vec::new();
            let mut usable = true;
            for name in req.keys() {
                if defined.is_some_and(|d| d.contains_key(name)) {
                    alt.push(name.clone());
                } else {
                    usable = false;
                    self.warn_once(
                        &format!("{ptr}/{i}/{}", escape(name)),
                        format!("security requirement names `{name}`, which `components/securitySchemes` does not define; this alternative is left out"),
                    );
                }
            }
            if usable {
                out.push(alt);
            }
        }
        if out.is_empty() && !list.is_empty() {
            // Every alternative named an undefined scheme: as if none were declared (not "no auth").
            return None;
        }
        Some(out)
    }

    fn operations(&mut self, api: &mut Api) {
        let Some(Value::Object(paths)) = self.root.field("paths") else {
            return;
        };
        let mut group_index: HashMap<String, usize> = HashMap::new();
        let mut module_scope = Scope::with_taken(names::reserved_module_names());
        let mut builder_scope = Scope::with_taken(["Client"]);
        let mut method_scopes: HashMap<usize, Scope> = HashMap::new();
        let tags = self.tags();
        // Room for every operation the path items hold directly, reserved once: grown by doubling,
        // a huge description's list would carry up to half again its size for as long as it lives.
        let declared: usize = paths
            .values()
            .filter_map(Value::as_object)
            .map(|item| METHODS.iter().filter(|m| item.contains_key(**m)).count())
            .sum();
        api.operations.reserve_exact(declared);
        for (path_key, item) in paths {
            let item_ptr = format!("/paths/{}", escape(path_key));
            let (item, _) = self.deref(item, &item_ptr);
            let Some(item_map) = item.as_object() else {
                continue;
            };
            let (path, marker_parts) = markers::split_key(path_key);
            let shared_params = item.field("parameters");
            if let Some(other) = shared_params.filter(|v| !v.is_array()) {
                self.warn(
                    &format!("{item_ptr}/parameters"),
                    format!("`parameters` is {other}, not a list; no parameters are read from it"),
                );
            }
            for (method, op, op_ptr) in self.path_item_operations(item_map, &item_ptr) {
                let (op, _) = self.deref(op, &op_ptr);
                if !op.is_object() {
                    self.warn(&op_ptr, "operation is not an object; skipped");
                    api.skipped_operations += 1;
                    continue;
                }
                let tag = self
                    .first_tag(op, &op_ptr)
                    .unwrap_or_else(|| path_group(&path));
                if !self.settings.includes_tag(&tag) {
                    continue;
                }
                let group = match group_index.get(&tag) {
                    Some(g) => *g,
                    None => {
                        let g = new_group(api, &mut module_scope, &tags, &tag);
                        group_index.insert(tag.clone(), g);
                        g
                    }
                };
                let op_id = self
                    .string_field(op, &op_ptr, "operationId")
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| format!("{} {path}", method.to_ascii_lowercase()));
                let module = api.groups[group].module.clone();
                let mut mname = names::snake_name(&op_id);
                if let Some(rest) = mname.strip_prefix(&format!("{module}_")) {
                    if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_digit()) {
                        mname = names::snake_name(rest);
                    }
                }
                let name = method_scopes
                    .entry(group)
                    .or_insert_with(|| Scope::with_taken(names::GROUP_MEMBERS.iter().copied()))
                    .claim(&mname);
                // Emission may add `<Builder>Response` (an enum of success answers by status) beside it.
                let builder = loop {
                    let b = builder_scope.claim(&names::type_name(&op_id));
                    let answers = format!("{b}Response");
                    if !builder_scope.contains(&answers) {
                        builder_scope.claim(&answers);
                        break b;
                    }
                };
                self.authorization_param = None;
                self.single_values.clear();
                // Inline shapes met from here on are named after this operation until renamed.
                self.current_op = Some(builder.clone());
                match self.operation(op, shared_params, &op_ptr, &path, &builder) {
                    Some((mut params, mut body, success, errors)) => {
                        let singles = std::mem::take(&mut self.single_values);
                        let single = |p: &Param| {
                            singles
                                .iter()
                                .find(|(l, w, _)| *l == p.location && *w == p.wire_name)
                                .map(|(_, _, v)| v.clone())
                        };
                        let fixed = markers::apply(&marker_parts, &mut params, &single);
                        for w in fixed.warnings {
                            self.warn(&item_ptr, w);
                        }
                        aws_json::adjust(&mut body, &fixed.headers);
                        let stream = self.stream_out(op, &op_ptr, &builder);
                        let mut security = self.security_of(op, &op_ptr);
                        if self.authorization_param == Some(true) {
                            // The header is required: every alternative sends it as well.
                            let scheme = authorization_scheme(&api.security);
                            let mut alts = security.unwrap_or_default();
                            if alts.is_empty() {
                                alts.push(Vec::new());
                            }
                            for alt in &mut alts {
                                alt.push(scheme.clone());
                            }
                            security = Some(alts);
                        }
                        let accept = self.declared_accept(op, &op_ptr);
                        let header_fields = self.response_headers(op, &op_ptr);
                        let response_headers =
                            (!header_fields.is_empty()).then(|| ResponseHeaders {
                                type_name: builder_scope.claim(&names::headers_type_name(&builder)),
                                fields: header_fields,
                            });
                        // The operation's own servers, else its path item's (empty: the root's).
                        let servers = match server_list(op.field("servers")) {
                            own if !own.is_empty() => self.usable_servers(own, &op_ptr),
                            _ => self.usable_servers(
                                server_list(item.field("servers")),
                                &format!("{item_ptr}/servers"),
                            ),
                        };
                        api.operations.push(Operation {
                            name,
                            builder,
                            operation_id: op_id,
                            method,
                            path: path.clone(),
                            fixed_query: fixed.query,
                            fixed_headers: fixed.headers,
                            group,
                            doc: with_redirect_note(doc_of_op(op), &success),
                            deprecated: self.bool_field(op, &op_ptr, "deprecated", false),
                            params: exact(params),
                            body,
                            success: exact(success),
                            errors: exact(errors),
                            pagination: None,
                            stream,
                            accept: exact(accept),
                            servers,
                            origin: op_ptr,
                            security,
                            response_headers,
                        })
                    }
                    None => {
                        self.warn(&op_ptr, "operation skipped");
                        api.skipped_operations += 1;
                    }
                }
                self.current_op = None;
            }
        }
        nest_groups(
            api,
            &tags,
            &mut group_index,
            &mut module_scope,
            &mut method_scopes,
        );
    }

    /// An operation's first tag, with a warning when `tags` is not a list of names (the operation
    /// is then grouped by its path).
    fn first_tag(&mut self, op: &Value, op_ptr: &str) -> Option<String> {
        match op.field("tags")? {
            Value::Array(tags) => match tags.first()? {
                Value::String(t) => Some(t.clone()),
                other => {
                    self.warn(
                        &format!("{op_ptr}/tags/0"),
                        format!(
                            "tag {other} is not a string; the operation is grouped by its path"
                        ),
                    );
                    None
                }
            },
            other => {
                self.warn(
                    &format!("{op_ptr}/tags"),
                    format!("`tags` is {other}, not a list of tag names; the operation is grouped by its path"),
                );
                None
            }
        }
    }

    /// The document's tags by name: docs, `kind`, and the `parent` (3.2) each is nested under. A
    /// parent that is not a tag name, or that would close a cycle, is dropped with a warning (the
    /// tag is then a top-level group); parents are taken in document order, so the edge that closes
    /// a cycle is the one dropped.
    fn tags(&mut self) -> Tags {
        let mut out = Tags::default();
        let Some(Value::Array(list)) = self.root.field("tags") else {
            return out;
        };
        let names: HashSet<&str> = list.iter().filter_map(|t| str_of(t, "name")).collect();
        for (i, t) in list.iter().enumerate() {
            let Some(name) = str_of(t, "name") else {
                continue;
            };
            let tptr = format!("/tags/{i}");
            let doc = str_of(t, "description").filter(|d| !d.is_empty());
            out.docs.insert(name.to_owned(), doc.map(str::to_owned));
            match t.field("kind") {
                None => {}
                Some(Value::String(k)) => {
                    out.kinds.insert(name.to_owned(), k.clone());
                }
                Some(other) => self.warn(
                    &format!("{tptr}/kind"),
                    format!("tag `kind` {other} is not a string; ignored"),
                ),
            }
            let parent = match t.field("parent") {
                None => continue,
                Some(Value::String(p)) => p.as_str(),
                Some(other) => {
                    self.warn(
                        &format!("{tptr}/parent"),
                        format!(
                            "tag `parent` {other} is not a string; `{name}` is a top-level group"
                        ),
                    );
                    continue;
                }
            };
            if !names.contains(parent) {
                self.warn(
                    &format!("{tptr}/parent"),
                    format!("tag `parent` `{parent}` names no tag; `{name}` is a top-level group"),
                );
                continue;
            }
            // The chain above `parent` reaching `name` again: a cycle.
            let mut chain = vec![parent];
            let mut at = parent;
            while let Some(up) = out.parents.get(at).map(String::as_str) {
                if chain.contains(&up) {
                    break;
                }
                chain.push(up);
                at = up;
            }
            if parent == name || chain.contains(&name) {
                let cycle: Vec<&str> = std::iter::once(name)
                    .chain(chain.iter().copied().take_while(|t| *t != name))
                    .chain(std::iter::once(name))
                    .collect();
                self.warn(
                    &format!("{tptr}/parent"),
                    format!(
                        "tag `parent` `{parent}` makes a cycle ({}); `{name}` is a top-level group",
                        cycle.join(" -> ")
                    ),
                );
                continue;
            }
            out.parents.insert(name.to_owned(), parent.to_owned());
        }
        out
    }

    /// The operations of a path item in document order of the fixed fields, then its
    /// `additionalOperations` (3.2): (HTTP method as sent, operation, pointer). An additional method
    /// name that is not an HTTP token, or that a fixed field covers, is skipped with a warning.
    fn path_item_operations(
        &mut self,
        item: &'a serde_json::Map<String, Value>,
        item_ptr: &str,
    ) -> Vec<(String, &'a Value, String)> {
        let mut out: Vec<(String, &'a Value, String)> = METHODS
            .iter()
            .filter_map(|m| {
                let op = item.get(*m)?;
                Some((m.to_ascii_uppercase(), op, format!("{item_ptr}/{m}")))
            })
            .collect();
        let Some(extra) = item.field("additionalOperations") else {
            return out;
        };
        let extra_ptr = format!("{item_ptr}/additionalOperations");
        let Some(extra) = extra.as_object() else {
            self.warn(
                &extra_ptr,
                "`additionalOperations` is not a map of method names to operations; ignored",
            );
            return out;
        };
        for (name, op) in extra {
            let at = format!("{extra_ptr}/{}", escape(name));
            if !is_http_token(name) {
                self.warn(
                    &at,
                    format!("`{name}` is not an HTTP method name (a token of letters, digits and `!#$%&'*+-.^_`|~`); operation skipped"),
                );
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if METHODS.contains(&lower.as_str()) {
                self.warn(
                    &at,
                    format!("`{name}` is a fixed field of the path item (`{lower}`), which `additionalOperations` may not repeat; operation skipped"),
                );
                continue;
            }
            out.push((name.clone(), op, at));
        }
        out
    }

    #[allow(clippy::type_complexity)]
    fn operation(
        &mut self,
        op: &'a Value,
        shared: Option<&'a Value>,
        ptr: &str,
        path: &str,
        builder: &str,
    ) -> Option<(
        Vec<Param>,
        Option<RequestBody>,
        Vec<ResponseCase>,
        Vec<ResponseCase>,
    )> {
        // Parameters: path-level ones, overridden by operation-level ones of the same name and location.
        let mut raw: Vec<(&'a Value, String)> = Vec::new();
        for (src, sptr) in [
            (shared, format!("{ptr}/../parameters")),
            (op.field("parameters"), format!("{ptr}/parameters")),
        ] {
            // The path item's own list is checked once, where the path item is read.
            if let Some(other) = src.filter(|v| !v.is_array() && !sptr.contains("/../")) {
                self.warn(
                    &sptr,
                    format!("`parameters` is {other}, not a list; no parameters are read from it"),
                );
            }
            if let Some(Value::Array(ps)) = src {
                for (i, p) in ps.iter().enumerate() {
                    let pp = format!("{sptr}/{i}");
                    let (p, _) = self.deref(p, &pp);
                    let key = (
                        str_of(p, "name").unwrap_or(""),
                        str_of(p, "in").unwrap_or(""),
                    );
                    raw.retain(|(q, _)| {
                        (
                            str_of(q, "name").unwrap_or(""),
                            str_of(q, "in").unwrap_or(""),
                        ) != key
                    });
                    raw.push((p, pp));
                }
            }
        }
        let template_names = path_template_names(path);
        // The builder's own fields and methods.
        let mut scope = Scope::with_taken([
            "client",
            "body",
            "send",
            "options",
            "build",
            "paginate",
            "paginate_with",
            "build_pages",
            "stream",
            "send_stream",
            "download_to",
            "send_with_headers",
        ]);
        let mut params = Vec::new();
        for (p, pp) in raw {
            let Some(wire) = str_of(p, "name") else {
                self.warn(&pp, "parameter without a name; skipped");
                continue;
            };
            let location = match str_of(p, "in") {
                Some("path") => ParamLocation::Path,
                Some("query") => ParamLocation::Query,
                Some("querystring") => ParamLocation::QueryString,
                Some("header") => ParamLocation::Header,
                Some("cookie") => ParamLocation::Cookie,
                Some(other) => {
                    self.warn(
                        &format!("{pp}/in"),
                        format!("parameter `{wire}` has unsupported location `{other}`; skipped"),
                    );
                    continue;
                }
                None => {
                    match p.field("in") {
                        Some(v) => self.warn(
                            &format!("{pp}/in"),
                            format!("parameter `{wire}` has location {v}, not a string; skipped"),
                        ),
                        None => self.warn(
                            &pp,
                            format!("parameter `{wire}` has no location (`in`); skipped"),
                        ),
                    }
                    continue;
                }
            };
            if location == ParamLocation::Path && !template_names.iter().any(|n| n == wire) {
                self.warn(
                    &pp,
                    format!("path parameter `{wire}` does not appear in `{path}`; skipped"),
                );
                continue;
            }
            if location == ParamLocation::Header
                && wire.eq_ignore_ascii_case("authorization")
                && !self.authorization_covered
            {
                let required = self.bool_field(p, &pp, "required", false);
                self.authorization_param = Some(self.authorization_param == Some(true) || required);
                if self.authorization_seen.insert(pp.clone()) {
                    self.warn(
                        &pp,
                        "header parameter `Authorization` is not covered by a security scheme; it is sent from the auth settings instead of a builder argument: `auth::authorization(value)` gives its value",
                    );
                }
                continue;
            }
            if location == ParamLocation::Query
                && self.auth_query.contains(&wire.to_ascii_lowercase())
            {
                // Written by the signature.
                continue;
            }
            let required =
                location == ParamLocation::Path || self.bool_field(p, &pp, "required", false);
            if location == ParamLocation::Header {
                let lower = wire.to_ascii_lowercase();
                if lower == "authorization" || self.auth_headers.contains(&lower) {
                    // Set by the auth configuration.
                    continue;
                }
                if lower == "accept" || lower == "content-type" {
                    // OpenAPI says these are ignored (the media types decide them); a required one
                    // is how some descriptions ask for a vendor version, so it is sent.
                    if required {
                        params.push(self.media_header(p, &pp, wire, &mut scope));
                    }
                    continue;
                }
            }
            let media_type = p
                .field("content")
                .and_then(Value::as_object)
                .and_then(|c| c.keys().next())
                .cloned();
            if location == ParamLocation::QueryString {
                let m = media_type.as_deref().unwrap_or("");
                if m != "application/x-www-form-urlencoded" && !is_json(m) {
                    self.warn(
                        &pp,
                        format!(
                            "querystring parameter `{wire}` has media type `{m}`, which is not serialised as such; the value is sent form-encoded"
                        ),
                    );
                }
            }
            let schema = p.field("schema").or_else(|| {
                p.field("content")
                    .and_then(Value::as_object)
                    .and_then(|c| c.values().next())
                    .and_then(|m| m.field("schema"))
            });
            let ty = match schema {
                Some(s) => self.schema_ty(
                    s,
                    &format!("{builder} {wire}"),
                    &format!("{pp}/schema"),
                    Ctx::Json,
                ),
                None => Ty::String,
            };
            let ty = match ty {
                Ty::Option(inner) => *inner,
                t => t,
            };
            let default_style = match location {
                ParamLocation::Query | ParamLocation::Cookie => ParamStyle::Form,
                _ => ParamStyle::Simple,
            };
            let style = match p.field("style") {
                None => default_style,
                Some(Value::String(st)) if param_style(st).is_some() => {
                    param_style(st).unwrap_or(default_style)
                }
                Some(other) => {
                    self.warn(
                        &format!("{pp}/style"),
                        format!(
                            "parameter `{wire}` has unknown style {other}; sent with the default for its location ({})",
                            if default_style == ParamStyle::Form { "form" } else { "simple" }
                        ),
                    );
                    default_style
                }
            };
            let explode = self.bool_field(p, &pp, "explode", style == ParamStyle::Form);
            if let Some(v) = schema.and_then(|s| self.single_value(s, &format!("{pp}/schema"))) {
                self.single_values.push((location, wire.to_owned(), v));
            }
            params.push(Param {
                name: scope.claim(&names::snake_name(wire)),
                wire_name: wire.to_owned(),
                location,
                style,
                explode,
                required,
                ty,
                doc: doc_of(p),
                constraints: schema
                    .map(|s| self.constraints(s, &format!("{pp}/schema")))
                    .unwrap_or_default()
                    .into(),
                default: None,
                media_type,
            });
        }
        // Path parameters the template names but the operation does not declare: strings.
        for n in &template_names {
            if !params
                .iter()
                .any(|p| p.location == ParamLocation::Path && &p.wire_name == n)
            {
                self.warn(
                    ptr,
                    format!("path parameter `{n}` is not declared; typed as a string"),
                );
                params.push(Param {
                    name: scope.claim(&names::snake_name(n)),
                    wire_name: n.clone(),
                    location: ParamLocation::Path,
                    style: ParamStyle::Simple,
                    explode: false,
                    required: true,
                    ty: Ty::String,
                    doc: None,
                    constraints: Checks::default(),
                    default: None,
                    media_type: None,
                });
            }
        }
        // Path parameters first, in template order.
        params.sort_by_key(|p| match p.location {
            ParamLocation::Path => template_names
                .iter()
                .position(|n| n == &p.wire_name)
                .unwrap_or(0),
            _ => usize::MAX,
        });
        let body = op
            .field("requestBody")
            .and_then(|b| self.request_body(b, &format!("{ptr}/requestBody"), builder));
        let mut success = Vec::new();
        let mut errors = Vec::new();
        if let Some(other) = op.field("responses").filter(|r| !r.is_object()) {
            self.warn(
                &format!("{ptr}/responses"),
                format!("`responses` is {other}, not a map of statuses to responses; the operation answers with nothing typed"),
            );
        }
        if let Some(Value::Object(responses)) = op.field("responses") {
            let has_2xx = responses.keys().any(|k| k.starts_with('2'));
            for (status, r) in responses {
                let rptr = format!("{ptr}/responses/{}", escape(status));
                let (r, _) = self.deref(r, &rptr);
                let status_norm = status.to_ascii_uppercase();
                let is_success =
                    status_norm.starts_with('2') || (!has_2xx && status_norm == "DEFAULT");
                let suffix = if is_success { "Response" } else { "Error" };
                let ctx = if responses.len() > 1 && !status_norm.starts_with("DEFAULT") {
                    format!("{builder} {suffix} {status_norm}")
                } else {
                    format!("{builder} {suffix}")
                };
                let case = self.response_case(r, &rptr, &status_norm, &ctx);
                if !has_2xx && status_norm.starts_with('3') && success.is_empty() {
                    // Only a redirect is documented (a download: GitHub's archives and logs, Twilio's
                    // add-on payloads). Redirects are followed, so the answer is what the `Location`
                    // leads to: its bytes. With `max_redirects = 0` the 3xx itself comes back, its
                    // `Location` in the headers.
                    let doc = format!(
                        "{REDIRECT_ANSWER} `{status_norm}` redirect leads to, as bytes (redirects are followed; with `ConnectorConfig::max_redirects` 0 the `{status_norm}` itself is the answer and its `Location` header says where). {}",
                        case.doc.as_deref().unwrap_or("")
                    );
                    success.push(ResponseCase {
                        status: "2XX".to_owned(),
                        kind: ResponseKind::Bytes,
                        ty: Ty::Binary,
                        doc: Some(doc.trim_end().to_owned()),
                        summary: case.summary,
                    });
                } else if is_success {
                    success.push(case);
                } else if status_norm.starts_with('4')
                    || status_norm.starts_with('5')
                    || status_norm == "DEFAULT"
                {
                    errors.push(case);
                }
            }
        }
        Some((params, body, success, errors))
    }

    /// The headers the success responses declare (in status order, each name once, `Content-Type`
    /// left out as OpenAPI says), typed from their schemas: integers, numbers and booleans as such,
    /// everything else (date-times included) as the header's text. Object-valued headers are left out
    /// with one warning for the operation; lists are kept as their text, with a warning.
    fn response_headers(&mut self, op: &'a Value, ptr: &str) -> Vec<ResponseHeader> {
        let mut out: Vec<ResponseHeader> = Vec::new();
        let Some(Value::Object(responses)) = op.field("responses") else {
            return out;
        };
        let mut scope = Scope::default();
        let mut objects: Vec<(String, String)> = Vec::new();
        let has_2xx = responses.keys().any(|k| k.starts_with('2'));
        for (status, r) in responses {
            let st = status.to_ascii_uppercase();
            if !(st.starts_with('2') || (!has_2xx && st == "DEFAULT")) {
                continue;
            }
            let rptr = format!("{ptr}/responses/{}", escape(status));
            let (r, _) = self.deref(r, &rptr);
            let Some(Value::Object(headers)) = r.field("headers") else {
                continue;
            };
            for (wire, h) in headers {
                let known = out.iter().any(|f| f.wire_name.eq_ignore_ascii_case(wire));
                if known || wire.eq_ignore_ascii_case("content-type") {
                    continue;
                }
                let hptr = format!("{rptr}/headers/{}", escape(wire));
                let (h, _) = self.deref(h, &hptr);
                let schema = h.field("schema").or_else(|| {
                    h.field("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().next())
                        .and_then(|m| m.field("schema"))
                });
                let schema = schema.map(|sc| self.deref(sc, &format!("{hptr}/schema")).0);
                let info = schema.map(type_info);
                let kind = info
                    .as_ref()
                    .and_then(|i| (i.types.len() == 1).then(|| i.types[0].as_str()));
                let object = schema.is_some_and(|sc| sc.field("properties").is_some());
                let ty = match kind {
                    _ if object => None,
                    Some("object") => None,
                    Some("integer") => Some(
                        if schema.and_then(|sc| str_of(sc, "format")) == Some("int32") {
                            Ty::Int(IntKind::I32)
                        } else {
                            Ty::Int(IntKind::I64)
                        },
                    ),
                    Some("number") => Some(Ty::Float(false)),
                    Some("boolean") => Some(Ty::Bool),
                    Some("array") => {
                        self.warn(
                            &hptr,
                            format!("response header `{wire}` is a list; its field holds the header's text as sent"),
                        );
                        Some(Ty::String)
                    }
                    _ => Some(Ty::String),
                };
                let Some(ty) = ty else {
                    objects.push((hptr, wire.clone()));
                    continue;
                };
                out.push(ResponseHeader {
                    wire_name: wire.clone(),
                    name: scope.claim(&names::snake_name(wire)),
                    ty,
                    required: h.field("required").and_then(Value::as_bool) == Some(true),
                    doc: doc_of(h),
                });
            }
        }
        if let Some((first, _)) = objects.first() {
            let list: Vec<String> = objects.iter().map(|(_, w)| format!("`{w}`")).collect();
            self.warn(
                first,
                format!(
                    "response header{} {} {} an object schema; left out of the typed headers (read {} from `Response::headers`)",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(", "),
                    if list.len() == 1 { "has" } else { "have" },
                    if list.len() == 1 { "it" } else { "them" },
                ),
            );
        }
        out
    }

    /// The one value a parameter schema allows (`enum` of one scalar, or a scalar `const`), as text.
    fn single_value(&mut self, s: &'a Value, ptr: &str) -> Option<String> {
        let (s, _) = self.deref(s, ptr);
        let text = |v: &Value| match v {
            Value::String(t) => Some(t.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        match s.field("enum") {
            Some(Value::Array(e)) if e.len() == 1 => text(&e[0]),
            _ => s.field("const").and_then(text),
        }
    }

    /// A required `Accept` or `Content-Type` header parameter: its default (or single allowed value)
    /// is sent unless the caller sets another, in place of the declared media types; without one it
    /// is a required argument. Either way a warning says so.
    fn media_header(&mut self, p: &'a Value, pp: &str, wire: &str, scope: &mut Scope) -> Param {
        let schema = p
            .field("schema")
            .map(|s| self.deref(s, &format!("{pp}/schema")).0);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let single = schema.and_then(|s| match s.field("enum") {
            Some(Value::Array(e)) if e.len() == 1 => text(&e[0]),
            _ => s.field("const").and_then(text),
        });
        let default = schema.and_then(|s| s.field("default")).and_then(text);
        let (value, why) = match (default, single) {
            (Some(d), _) => (Some(d), "its default"),
            (None, Some(v)) => (Some(v), "its only allowed value"),
            (None, None) => (None, ""),
        };
        let name = scope.claim(&names::snake_name(wire));
        let what = if wire.eq_ignore_ascii_case("accept") {
            "the media types the responses declare"
        } else {
            "the request body's media type"
        };
        match &value {
            Some(v) => self.warn(
                pp,
                format!(
                    "required header `{wire}` is sent as `{v}` ({why}) in place of {what}; the builder's `{name}()` replaces it per call"
                ),
            ),
            None => self.warn(
                pp,
                format!(
                    "required header `{wire}` has neither a default nor a single allowed value; it is a required builder argument, sent in place of {what}"
                ),
            ),
        }
        Param {
            name,
            wire_name: wire.to_owned(),
            location: ParamLocation::Header,
            style: ParamStyle::Simple,
            explode: false,
            required: value.is_none(),
            ty: Ty::String,
            doc: doc_of(p),
            constraints: Checks::default(),
            default: value,
            media_type: None,
        }
    }

    /// `servers` when the first one is usable with its variables at their defaults (an http(s) URL
    /// with a host, or a relative path); otherwise none, with a warning: the operation then goes to
    /// the configured base URL.
    fn usable_servers(&mut self, servers: Vec<Server>, ptr: &str) -> Vec<Server> {
        let Some(first) = servers.first() else {
            return servers;
        };
        let mut url = first.url.clone();
        for (name, default, _) in &first.variables {
            url = url.replace(&format!("{{{name}}}"), default);
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        let usable = !url.contains(['{', '}', '<', '>', ' ', '"'])
            && match host {
                Some(h) => !h.is_empty(),
                None => !url.contains("://"),
            };
        if usable {
            return servers;
        }
        let ptr = if ptr.ends_with("/servers") {
            ptr.to_owned()
        } else {
            format!("{ptr}/servers")
        };
        self.warn(
            &format!("{ptr}/0"),
            format!(
                "server `{}` is not a usable URL with its variables at their defaults (`{url}`); the operation is sent to the configured base URL",
                first.url
            ),
        );
        Vec::new()
    }

    /// The media types an operation's responses declare, success ones first, each once.
    fn declared_accept(&mut self, op: &'a Value, ptr: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let Some(Value::Object(responses)) = op.field("responses") else {
            return out;
        };
        let has_2xx = responses.keys().any(|k| k.starts_with('2'));
        let success =
            |k: &str| k.starts_with('2') || (!has_2xx && k.eq_ignore_ascii_case("default"));
        for pass in [true, false] {
            for (status, r) in responses {
                if success(status) != pass {
                    continue;
                }
                let (r, _) = self.deref(r, &format!("{ptr}/responses/{}", escape(status)));
                let Some(Value::Object(content)) = r.field("content") else {
                    continue;
                };
                for media in content.keys() {
                    let media = media.trim();
                    if !media.is_empty() && !out.iter().any(|m| m.eq_ignore_ascii_case(media)) {
                        out.push(media.to_owned());
                    }
                }
            }
        }
        out
    }

    fn request_body(&mut self, b: &'a Value, ptr: &str, builder: &str) -> Option<RequestBody> {
        let (b, _) = self.deref(b, ptr);
        let content = b.field("content").and_then(Value::as_object)?;
        let pick = pick_media(
            content.keys().map(String::as_str),
            &[
                is_json,
                |m| m == "application/x-www-form-urlencoded",
                |m| m.starts_with("multipart/"),
                crate::xml::is_xml,
                |m| m.starts_with("text/"),
                |_| true,
            ],
        )?;
        let media = content.get(pick)?;
        let mptr = format!("{ptr}/content/{}", escape(pick));
        let schema = media.field("schema");
        let ctx_name = format!("{builder} Body");
        let (kind, ty) = if is_json(pick) {
            (
                BodyKind::Json,
                schema
                    .map(|s| self.schema_ty(s, &ctx_name, &format!("{mptr}/schema"), Ctx::Json))
                    .unwrap_or(Ty::Any),
            )
        } else if pick == "application/x-www-form-urlencoded" || pick.starts_with("multipart/") {
            let target = schema
                .map(|s| self.deref(s, &mptr).0)
                .unwrap_or(&Value::Null);
            let props: Vec<(String, &Value)> = {
                let mut props = Vec::new();
                let mut req = Vec::new();
                let mut add = None;
                self.collect_object(target, &mptr, &mut props, &mut req, &mut add);
                props.into_iter().map(|(k, v, _)| (k, v)).collect()
            };
            if pick.starts_with("multipart/") {
                let files = props
                    .iter()
                    .filter(|(_, v)| {
                        let (v, _) = self.deref(v, &mptr);
                        let items = v.field("items").map(|i| self.deref(i, &mptr).0);
                        str_of(v, "format") == Some("binary")
                            || items.is_some_and(|i| str_of(i, "format") == Some("binary"))
                    })
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<String>>();
                let sptr = format!("{mptr}/schema");
                let ty = match schema {
                    Some(_) if !files.is_empty() => {
                        self.multipart_type(target, &ctx_name, &sptr, &files)
                    }
                    Some(s) => self.schema_ty(s, &ctx_name, &sptr, Ctx::Raw),
                    None => Ty::Any,
                };
                // A bare binary schema names no parts: the body goes as one file part named `file`,
                // the name upload endpoints conventionally read.
                let files = if files.is_empty() && matches!(ty, Ty::Binary) {
                    vec!["file".to_owned()]
                } else {
                    files
                };
                let enc = media.field("encoding");
                let deep = props
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| {
                        enc.and_then(|e| e.get(k.as_str()))
                            .and_then(|e| str_of(e, "style"))
                            == Some("deepObject")
                    })
                    .cloned()
                    .collect();
                (BodyKind::Multipart { files, deep }, ty)
            } else {
                let ty = schema
                    .map(|s| self.schema_ty(s, &ctx_name, &format!("{mptr}/schema"), Ctx::Raw))
                    .unwrap_or(Ty::Any);
                let enc = media.field("encoding");
                let deep = props
                    .iter()
                    .filter(|(k, v)| {
                        let style = enc
                            .and_then(|e| e.get(k.as_str()))
                            .and_then(|e| str_of(e, "style"));
                        let (v, _) = self.deref(v, &mptr);
                        style == Some("deepObject")
                            || v.field("properties").is_some()
                            || v.field("type").and_then(Value::as_str) == Some("object")
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                (BodyKind::Form { deep }, ty)
            }
        } else if crate::xml::is_xml(pick) && schema.is_some() {
            let ty = schema
                .map(|s| self.schema_ty(s, &ctx_name, &format!("{mptr}/schema"), Ctx::Json))
                .unwrap_or(Ty::Any);
            (BodyKind::Xml, ty)
        } else if pick.starts_with("text/") {
            (BodyKind::Text, Ty::String)
        } else {
            (BodyKind::Bytes, Ty::Binary)
        };
        // Binary content goes as the runtime's `Body` (bytes, or streamed from a file); XML stays
        // what it is above.
        let binary = (!crate::xml::is_xml(pick) || self.is_binary_schema(schema, &mptr))
            && !pick.starts_with("multipart/")
            && pick != "application/x-www-form-urlencoded"
            && self.is_binary_content(pick, schema, &mptr);
        let (kind, ty) = if binary {
            (
                BodyKind::Binary {
                    declared: !pick.contains('*'),
                },
                Ty::Binary,
            )
        } else {
            (kind, ty)
        };
        // A wildcard names no media type a server can be sent.
        let media_type = match (&kind, pick.contains('*')) {
            (_, false) => pick.to_owned(),
            (BodyKind::Json, true) => "application/json".to_owned(),
            (_, true) => "application/octet-stream".to_owned(),
        };
        Some(RequestBody {
            media_type,
            kind,
            ty,
            required: self.bool_field(b, ptr, "required", false),
            doc: doc_of(b),
        })
    }

    /// Whether content of media type `media` with `schema` is binary data: a `format: binary` string
    /// (3.0), a string with a `contentMediaType` and no `contentEncoding` (3.1), a media type that is
    /// neither JSON nor text (`application/octet-stream`, `image/png`), or a wildcard (`*/*`) whose
    /// schema is absent or a string.
    fn is_binary_content(&mut self, media: &str, schema: Option<&'a Value>, ptr: &str) -> bool {
        let binary_schema = self.is_binary_schema(schema, ptr);
        let schema = schema.map(|s| self.deref(s, &format!("{ptr}/schema")).0);
        let string = schema.is_some_and(|s| str_of(s, "type") == Some("string"));
        let m = media
            .split(';')
            .next()
            .unwrap_or(media)
            .trim()
            .to_ascii_lowercase();
        let wildcard = m.contains('*');
        let textual =
            m.starts_with("text/") || (is_json(&m) && !wildcard) || stream_kind(&m).is_some();
        binary_schema || (wildcard && (schema.is_none() || string)) || (!textual && !wildcard)
    }

    /// Whether a media type's schema says its content is bytes: a string of `format: binary`, or (3.1)
    /// with a `contentMediaType` and no `contentEncoding`. An XML media type with such a schema
    /// (`image/svg+xml` served as a file) is bytes too, not a document to type.
    fn is_binary_schema(&mut self, schema: Option<&'a Value>, ptr: &str) -> bool {
        let schema = schema.map(|s| self.deref(s, &format!("{ptr}/schema")).0);
        schema.is_some_and(|s| {
            str_of(s, "type") == Some("string")
                && (str_of(s, "format") == Some("binary")
                    || (s.field("contentMediaType").is_some()
                        && s.field("contentEncoding").is_none()))
        })
    }

    /// The type of a multipart body with files: the object's fields, with the `files` among them
    /// (`format: binary`, or lists of such) typed as file parts. It is not shared with the JSON type of
    /// the same schema, where binary data is a string.
    fn multipart_type(&mut self, s: &'a Value, ctx_name: &str, ptr: &str, files: &[String]) -> Ty {
        let key = Shape {
            multipart: true,
            schema: s,
        };
        let (id, name) = match self.reserve(key, s, ctx_name, ptr) {
            Reserved::Existing(id) => return Ty::Named(id),
            Reserved::New(id, name) => (id, name),
        };
        self.building.push(id);
        let mut kind = self.type_kind(s, &name, ptr);
        self.building.pop();
        if let TypeKind::Struct(st) = &mut kind {
            for f in st
                .fields
                .iter_mut()
                .filter(|f| files.contains(&f.wire_name))
            {
                strings_to_binary(&mut f.ty);
            }
        }
        self.types[id.0].kind = kind;
        Ty::Named(id)
    }

    /// The event stream a success answer may be: the first 2xx response offering `text/event-stream`
    /// or newline-delimited JSON, with the type of one event's data.
    fn stream_out(&mut self, op: &'a Value, ptr: &str, builder: &str) -> Option<StreamOut> {
        let responses = op.field("responses")?.as_object()?;
        for (status, r) in responses {
            if !status.starts_with('2') {
                continue;
            }
            let rptr = format!("{ptr}/responses/{}", escape(status));
            let (r, _) = self.deref(r, &rptr);
            let Some(content) = r.field("content").and_then(Value::as_object) else {
                continue;
            };
            for (media, m) in content {
                let Some(kind) = stream_kind(media) else {
                    continue;
                };
                let mptr = format!("{rptr}/content/{}", escape(media));
                // OpenAPI 3.2 describes one item of a sequential media type with `itemSchema`.
                let ty = match (m.field("itemSchema"), m.field("schema")) {
                    (Some(item), _) if kind == StreamKind::Sse => {
                        self.sse_data_ty(item, builder, &format!("{mptr}/itemSchema"))
                    }
                    (Some(item), _) => self.schema_ty(
                        item,
                        &format!("{builder} item"),
                        &format!("{mptr}/itemSchema"),
                        Ctx::Json,
                    ),
                    (None, Some(schema)) => self.schema_ty(
                        schema,
                        &format!("{builder} event"),
                        &format!("{mptr}/schema"),
                        Ctx::Json,
                    ),
                    (None, None) if kind == StreamKind::Sse => Ty::String,
                    (None, None) => Ty::Any,
                };
                return Some(StreamOut {
                    kind,
                    media_type: media.clone(),
                    ty,
                });
            }
        }
        None
    }

    /// The type of an event's `data` from an SSE `itemSchema` (an object with `data`, `event`, `id`,
    /// `retry`): the `contentSchema` of `data` when its `contentMediaType` is JSON, else text.
    fn sse_data_ty(&mut self, item: &'a Value, builder: &str, ptr: &str) -> Ty {
        let (item, _) = self.deref(item, ptr);
        let Some(data) = item.field("properties").and_then(|p| p.field("data")) else {
            return Ty::String;
        };
        let dptr = format!("{ptr}/properties/data");
        let (data, _) = self.deref(data, &dptr);
        let media = str_of(data, "contentMediaType").unwrap_or("");
        match data.field("contentSchema") {
            Some(schema) if is_json(media) => self.schema_ty(
                schema,
                &format!("{builder} event"),
                &format!("{dptr}/contentSchema"),
                Ctx::Json,
            ),
            Some(_) => {
                self.warn(
                    &dptr,
                    format!(
                        "event data of media type `{media}` is not decoded; each event's data is kept as text"
                    ),
                );
                Ty::String
            }
            None => Ty::String,
        }
    }

    /// The payloads of the webhooks the API sends (`webhooks`, or `x-webhooks` before 3.1), as
    /// variants of one event type, in document order.
    fn webhooks(&mut self, api: &mut Api) {
        // With a tag filter, webhooks come only when `webhooks` is among the tags.
        if !self.settings.includes_tag("webhooks") {
            return;
        }
        let mut scope = Scope::default();
        for key in ["webhooks", "x-webhooks"] {
            let Some(Value::Object(hooks)) = self.root.get(key) else {
                continue;
            };
            for (name, item) in hooks {
                let iptr = format!("/{key}/{}", escape(name));
                let (item, _) = self.deref(item, &iptr);
                let Some((method, op)) = item
                    .as_object()
                    .and_then(|m| METHODS.iter().find_map(|k| m.get(*k).map(|o| (*k, o))))
                else {
                    self.warn(&iptr, "webhook without an operation; skipped");
                    continue;
                };
                let optr = format!("{iptr}/{method}");
                let (op, _) = self.deref(op, &optr);
                let Some(body) = op.field("requestBody") else {
                    self.warn(&optr, "webhook without a request body; skipped");
                    continue;
                };
                let bptr = format!("{optr}/requestBody");
                let (body, _) = self.deref(body, &bptr);
                let content = body.field("content").and_then(Value::as_object);
                let json = content.and_then(|c| {
                    let key = pick_media(
                        c.keys().map(String::as_str),
                        &[is_json, |m| m.contains("form")],
                    )?;
                    Some((key.to_owned(), &c[key]))
                });
                let variant = scope.claim(&names::type_name(name));
                let ty = match json.and_then(|(k, m)| Some((k, m.field("schema")?))) {
                    Some((k, schema)) => self.schema_ty(
                        schema,
                        &format!("{variant} webhook"),
                        &format!("{bptr}/content/{}/schema", escape(&k)),
                        Ctx::Json,
                    ),
                    None => Ty::Any,
                };
                api.webhooks.push(Webhook {
                    key: name.clone(),
                    variant,
                    doc: doc_of_op(op),
                    ty,
                });
            }
        }
    }

    fn response_case(
        &mut self,
        r: &'a Value,
        ptr: &str,
        status: &str,
        ctx_name: &str,
    ) -> ResponseCase {
        let doc = str_of(r, "description").map(str::to_owned);
        let summary = self.string_field(r, ptr, "summary");
        let Some(content) = r
            .field("content")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty())
        else {
            return ResponseCase {
                status: status.to_owned(),
                kind: ResponseKind::Empty,
                ty: Ty::Unit,
                doc,
                summary,
            };
        };
        let pick = pick_media(
            content.keys().map(String::as_str),
            &[
                is_json,
                |m| m == "text/event-stream",
                crate::xml::is_xml,
                |m| m.starts_with("text/"),
                |_| true,
            ],
        )
        .unwrap_or("application/json");
        // A JSON alternative that is only a string beside binary media (`video/mp4` or
        // `application/json: {type: string}`) describes the same bytes: the answer is the bytes. XML
        // beside it is another document format, not bytes: the JSON string stands.
        let pick = match content.get(pick).and_then(|m| m.field("schema")) {
            Some(schema) if is_json(pick) => {
                let (schema, _) = self.deref(schema, &format!("{ptr}/content"));
                let plain_string = str_of(schema, "type") == Some("string")
                    && schema.field("enum").is_none()
                    && schema.field("format").is_none();
                let binary = content
                    .keys()
                    .map(String::as_str)
                    .find(|m| !is_json(m) && !m.starts_with("text/") && !crate::xml::is_xml(m));
                match binary {
                    Some(b) if plain_string => b,
                    _ => pick,
                }
            }
            _ => pick,
        };
        let media = &content[pick];
        let mptr = format!("{ptr}/content/{}", escape(pick));
        let binary = (!crate::xml::is_xml(pick)
            || self.is_binary_schema(media.field("schema"), &mptr))
            && pick != "text/event-stream"
            && self.is_binary_content(pick, media.field("schema"), &mptr);
        let (kind, ty) = if binary {
            (ResponseKind::Bytes, Ty::Binary)
        } else if is_json(pick) {
            let ty = media
                .field("schema")
                .map(|s| self.schema_ty(s, ctx_name, &format!("{mptr}/schema"), Ctx::Json))
                .unwrap_or(Ty::Any);
            (ResponseKind::Json, ty)
        } else if pick == "text/event-stream" {
            (ResponseKind::EventStream, Ty::Binary)
        } else if let Some(s) = media.field("schema").filter(|_| crate::xml::is_xml(pick)) {
            let ty = self.schema_ty(s, ctx_name, &format!("{mptr}/schema"), Ctx::Json);
            (ResponseKind::Xml, ty)
        } else if pick.starts_with("text/") {
            (ResponseKind::Text, Ty::String)
        } else {
            (ResponseKind::Bytes, Ty::Binary)
        };
        ResponseCase {
            status: status.to_owned(),
            kind,
            ty,
            doc,
            summary,
        }
    }
}

/// What the document's `tags` say about each tag name.
#[derive(Default)]
struct Tags {
    docs: HashMap<String, Option<String>>,
    kinds: HashMap<String, String>,
    parents: HashMap<String, String>,
}

/// A new top-level group for `tag`.
fn new_group(api: &mut Api, module_scope: &mut Scope, tags: &Tags, tag: &str) -> usize {
    let module = module_scope.claim(&names::module_name(tag));
    api.groups.push(Group {
        type_name: names::type_name(&format!("{module} api")),
        accessor: module.clone(),
        module,
        doc: tags.docs.get(tag).cloned().flatten(),
        tag: tag.to_owned(),
        parent: None,
        kind: tags.kinds.get(tag).cloned(),
    });
    api.groups.len() - 1
}

/// Nests each group whose tag has a `parent` under that tag's group (made, without operations of
/// its own, when no operation carries the parent tag), its accessor a method of the parent's type
/// named in the parent's method scope.
fn nest_groups(
    api: &mut Api,
    tags: &Tags,
    group_index: &mut HashMap<String, usize>,
    module_scope: &mut Scope,
    method_scopes: &mut HashMap<usize, Scope>,
) {
    let mut next = 0;
    // Groups made here for parents are nested in turn (the loop reaches them at the end).
    while next < api.groups.len() {
        let g = next;
        next += 1;
        let Some(parent_tag) = tags.parents.get(&api.groups[g].tag) else {
            continue;
        };
        let parent = match group_index.get(parent_tag) {
            Some(p) => *p,
            None => {
                let p = new_group(api, module_scope, tags, parent_tag);
                group_index.insert(parent_tag.clone(), p);
                p
            }
        };
        let accessor = method_scopes
            .entry(parent)
            .or_insert_with(|| Scope::with_taken(["new", "client"]))
            .claim(&api.groups[g].module);
        api.groups[g].parent = Some(parent);
        api.groups[g].accessor = accessor;
    }
}

/// A file property lowered as text (`string`/`binary` in JSON): the same shape with bytes.
fn strings_to_binary(t: &mut Ty) {
    match t {
        Ty::String => *t = Ty::Binary,
        Ty::Option(i) | Ty::Vec(i) => strings_to_binary(i),
        _ => {}
    }
}

fn strip_option(t: &Ty) -> &Ty {
    match t {
        Ty::Option(i) => strip_option(i),
        t => t,
    }
}

fn primitive_variant_name(t: &Ty) -> String {
    match t {
        Ty::Bool => "Bool".into(),
        Ty::Int(_) => "Integer".into(),
        Ty::Float(_) => "Number".into(),
        Ty::String | Ty::DateTime | Ty::Date | Ty::Uuid | Ty::Base64 => "String".into(),
        Ty::Vec(_) => "List".into(),
        Ty::Map(_) => "Map".into(),
        Ty::Any => "Value".into(),
        _ => "Variant".into(),
    }
}

/// The single value a discriminator property takes in `schema` (its `const` or one-value `enum`).
fn discriminator_value(root: &Value, schema: &Value, prop: &str) -> Option<String> {
    let mut stack = vec![schema];
    let mut hops = 0;
    while let Some(s) = stack.pop() {
        hops += 1;
        if hops > 64 {
            return None;
        }
        if let Some(r) = str_of(s, "$ref") {
            if let Some(t) = pointer(root, r) {
                stack.push(t);
            }
            continue;
        }
        if let Some(p) = s.field("properties").and_then(|p| p.get(prop)) {
            let p = str_of(p, "$ref")
                .and_then(|r| pointer(root, r))
                .unwrap_or(p);
            if let Some(Value::String(c)) = p.field("const") {
                return Some(c.clone());
            }
            if let Some(Value::Array(e)) = p.field("enum") {
                if e.len() == 1 {
                    return e[0].as_str().map(str::to_owned);
                }
            }
        }
        if let Some(Value::Array(parts)) = s.field("allOf") {
            stack.extend(parts.iter());
        }
    }
    None
}

/// A parameter `style` by name.
fn param_style(name: &str) -> Option<ParamStyle> {
    Some(match name {
        "form" => ParamStyle::Form,
        "simple" => ParamStyle::Simple,
        "label" => ParamStyle::Label,
        "matrix" => ParamStyle::Matrix,
        "spaceDelimited" => ParamStyle::SpaceDelimited,
        "pipeDelimited" => ParamStyle::PipeDelimited,
        "deepObject" => ParamStyle::DeepObject,
        _ => return None,
    })
}

/// An HTTP method name: a token (RFC 9110 5.6.2).
fn is_http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn needs_named_type(s: &Value) -> bool {
    let Some(m) = s.as_object() else { return false };
    if m.contains_key("properties") || m.contains_key("allOf") {
        return true;
    }
    for k in ["oneOf", "anyOf"] {
        if let Some(Value::Array(a)) = m.get(k) {
            if a.iter()
                .filter(|x| !is_null_schema(x) && is_structural(x))
                .count()
                > 1
            {
                return true;
            }
        }
    }
    if let Some(Value::Array(e)) = m.field("enum") {
        let strings = e.iter().filter(|v| v.is_string()).count();
        return strings > 1 && strings == e.iter().filter(|v| !v.is_null()).count();
    }
    false
}

/// The framing of a sequential media type a stream is read with.
fn stream_kind(media: &str) -> Option<StreamKind> {
    match media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "text/event-stream" => Some(StreamKind::Sse),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonl"
        | "application/x-jsonlines"
        | "application/jsonlines" => Some(StreamKind::Ndjson),
        "application/json-seq" => Some(StreamKind::JsonSeq),
        _ => None,
    }
}

pub(crate) fn is_json(m: &str) -> bool {
    if stream_kind(m).is_some() {
        // A sequence of JSON values is not one JSON document.
        return false;
    }
    let m = m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase();
    m == "application/json"
        || m.ends_with("+json")
        || m == "*/*"
        || m == "application/*"
        || (m.starts_with("application/") && m.contains("json"))
}

fn pick_media<'k>(
    keys: impl Iterator<Item = &'k str> + Clone,
    prefs: &[fn(&str) -> bool],
) -> Option<&'k str> {
    for p in prefs {
        if let Some(k) = keys.clone().find(|k| p(k)) {
            return Some(k);
        }
    }
    None
}

/// How the answer of an operation that documents only a redirect is described.
const REDIRECT_ANSWER: &str = "Answers with the content the documented";

/// A list without the room it grew while it was built. An operation's lists live until rendering
/// ends, and a huge description has tens of thousands of operations (Microsoft Graph beta's
/// parameter lists alone held 11 MB of unused room).
fn exact<T>(mut list: Vec<T>) -> Vec<T> {
    list.shrink_to_fit();
    list
}

/// An operation's docs, with what it answers when that is the content a redirect leads to.
fn with_redirect_note(doc: Option<String>, success: &[ResponseCase]) -> Option<String> {
    let Some(note) = success
        .iter()
        .find_map(|c| c.doc.as_deref().filter(|d| d.starts_with(REDIRECT_ANSWER)))
    else {
        return doc;
    };
    Some(match doc {
        Some(d) => format!("{d}\n\n{note}"),
        None => note.to_owned(),
    })
}

fn doc_of_op(op: &Value) -> Option<String> {
    let summary = str_of(op, "summary")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let desc = str_of(op, "description")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (summary, desc) {
        (Some(s), Some(d)) if d != s => Some(format!("{s}\n\n{d}")),
        (Some(s), _) => Some(s.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        _ => None,
    }
}

/// A group for an untagged operation: the first path segment that is neither a version (`v1`,
/// `2010-04-01`) nor a parameter, so `/v1/customers/{id}` groups under `customers`.
fn path_group(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .find(|s| {
            let versionish = (s.starts_with('v')
                && s[1..].chars().all(|c| c.is_ascii_digit() || c == '.'))
                || s.chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '.');
            !versionish
        })
        .map(|s| s.split('.').next().unwrap_or(s).to_owned())
        .unwrap_or_else(|| "general".to_owned())
}

/// `{name}` placeholders of a path template, in order.
pub fn path_template_names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + end];
        if !name.is_empty() && !out.iter().any(|n: &String| n == name) {
            out.push(name.to_owned());
        }
        rest = &rest[start + end + 1..];
    }
    out
}

/// Whether the schema keyword `key` holds a value of the kind [`Lowerer::check_schema_values`]
/// accepts (any value for keywords it does not check).
fn keyword_value_ok(key: &str, v: &Value) -> bool {
    match key {
        "nullable" | "x-nullable" | "readOnly" | "writeOnly" | "deprecated" => v.is_boolean(),
        "type" => match v {
            Value::String(_) => true,
            Value::Array(types) => types.iter().all(Value::is_string),
            _ => false,
        },
        "enum" => v.is_array(),
        "required" => v
            .as_array()
            .is_some_and(|names| names.iter().all(Value::is_string)),
        "minimum" | "maximum" => v.is_number(),
        "exclusiveMinimum" | "exclusiveMaximum" => v.is_number() || v.is_boolean(),
        "minLength" | "maxLength" | "minItems" | "maxItems" => v.as_u64().is_some(),
        "pattern" | "format" | "title" | "description" => v.is_string(),
        "additionalProperties" => v.is_object() || v.is_boolean(),
        "properties" => v.is_object(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_the_same_exactly_when_their_json_texts_are() {
        use std::hash::BuildHasher;
        let values: Vec<Value> = [
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"#,
            r#"{"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"}}}"#,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"#,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}"#,
            r#"{"type":"object","properties":{"a":{"items":{"items":{"enum":[1]}}}}}"#,
            r#"{"type":"object","properties":{"a":{"items":{"items":{"enum":[1.0]}}}}}"#,
            r#"{"type":"object","properties":{"a":{"items":{"items":{"enum":[2]}}}}}"#,
            r#"{"minimum":0.0}"#,
            r#"{"minimum":-0.0}"#,
            r#"{"minimum":0}"#,
            r#"{"enum":[null,true,"x"]}"#,
            r#"{"enum":[null,false,"x"]}"#,
            r#"[]"#,
            r#"{}"#,
        ]
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
        let hasher = foldhash::fast::FixedState::default();
        for a in &values {
            for b in &values {
                let texts = serde_json::to_string(a).unwrap() == serde_json::to_string(b).unwrap();
                for multipart in [false, true] {
                    let x = Shape {
                        multipart,
                        schema: a,
                    };
                    let y = Shape {
                        multipart,
                        schema: b,
                    };
                    assert_eq!(x == y, texts, "{a} against {b}");
                    if texts {
                        assert_eq!(hasher.hash_one(x), hasher.hash_one(y), "{a}");
                    }
                    let other = Shape {
                        multipart: !multipart,
                        schema: b,
                    };
                    assert!(
                        x != other,
                        "a multipart body's shape is apart from the JSON one"
                    );
                }
            }
        }
        let form = Shape {
            multipart: true,
            schema: &values[13],
        };
        assert_eq!(form.text(), "multipart {}");
    }

    /// The AWS signature schemes of a description with these servers, `info` and settings, and the
    /// warnings given.
    fn aws_schemes(
        servers: serde_json::Value,
        info: serde_json::Value,
        authtype: &str,
        settings: &Settings,
    ) -> (Vec<SecurityScheme>, Vec<String>) {
        let text = serde_json::json!({
            "openapi": "3.0.0", "info": info, "servers": servers,
            "paths": {"/x": {"get": {"parameters": [
                {"name": "X-Amz-Credential", "in": "query", "schema": {"type": "string"}},
                {"name": "x-amz-date", "in": "header", "schema": {"type": "string"}},
                {"name": "Keep", "in": "query", "schema": {"type": "string"}}
            ], "responses": {"200": {"description": "ok"}}}}},
            "components": {"securitySchemes": {"hmac": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": authtype
            }}}
        })
        .to_string();
        let doc = crate::load::load_str(&text, None).expect("loads");
        let (api, warnings) = lower(&doc, settings).expect("lowers");
        let aws: Vec<SecurityScheme> = api.security.clone();
        if aws
            .iter()
            .any(|s| matches!(s, SecurityScheme::AwsSigV4 { .. }))
        {
            let params: Vec<&str> = api.operations[0]
                .params
                .iter()
                .map(|p| p.wire_name.as_str())
                .collect();
            assert_eq!(
                params,
                ["Keep"],
                "the signature's parameters are not arguments"
            );
        }
        (aws, warnings.iter().map(|w| w.message.clone()).collect())
    }

    #[test]
    fn aws_signing_names_come_from_settings_host_or_service_name() {
        let info = serde_json::json!({"title": "t", "version": "1", "x-serviceName": "named"});
        let name =
            |servers: serde_json::Value, authtype: &str, settings: &Settings| match aws_schemes(
                servers,
                info.clone(),
                authtype,
                settings,
            )
            .0
            .first()
            {
                Some(SecurityScheme::AwsSigV4 {
                    signing_name, s3, ..
                }) => (signing_name.clone(), *s3),
                other => panic!("{other:?}"),
            };
        let plain = Settings::default();
        let url = |u: &str| serde_json::json!([{"url": u}]);
        assert_eq!(
            name(
                url("http://dynamodb.{region}.amazonaws.com"),
                "awsSigv4",
                &plain
            ),
            ("dynamodb".into(), false)
        );
        assert_eq!(
            name(
                url("https://api.ecr.{region}.amazonaws.com"),
                "awsSigv4",
                &plain
            ),
            ("ecr".into(), false)
        );
        assert_eq!(
            name(url("http://s3-{region}.amazonaws.com"), "awsSigv4", &plain),
            ("s3".into(), true)
        );
        assert_eq!(
            name(url("https://{bucket}.example.com"), "awsS3", &plain),
            ("named".into(), true)
        );
        let set = Settings {
            aws_signing_name: Some("execute-api".into()),
            ..Settings::default()
        };
        assert_eq!(
            name(url("http://sqs.{region}.amazonaws.com"), "awsSigv4", &set),
            ("execute-api".into(), false)
        );
    }

    #[test]
    fn an_aws_scheme_without_a_signing_name_is_warned_about() {
        let (schemes, warnings) = aws_schemes(
            serde_json::json!([{"url": "/{stage}"}]),
            serde_json::json!({"title": "t", "version": "1"}),
            "awsSigv4",
            &Settings::default(),
        );
        assert!(schemes.is_empty(), "{schemes:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("AWS signature scheme `hmac` has no signing name")),
            "{warnings:?}"
        );
    }

    #[test]
    fn untagged_operations_group_by_first_meaningful_segment() {
        assert_eq!(path_group("/v1/customers/{customer}"), "customers");
        assert_eq!(
            path_group("/2010-04-01/Accounts/{Sid}/Calls.json"),
            "Accounts"
        );
        assert_eq!(path_group("/{id}"), "general");
        assert_eq!(path_group("/"), "general");
    }

    #[test]
    fn all_of_parts_naming_one_schema_many_times_are_gathered_once() {
        // `L0: allOf [L1 x 8]`, `L1: allOf [L2 x 8]`...: 8^16 walks within the depth limit if every
        // part were followed; each level also adds a property of its own.
        let mut schemas = serde_json::Map::new();
        for i in 0..20 {
            let next = serde_json::json!({"$ref": format!("#/components/schemas/L{}", i + 1)});
            let mut parts = vec![next; 8];
            parts.push(
                serde_json::json!({"type": "object", "required": [format!("f{i}")],
                "properties": {format!("f{i}"): {"type": "string"}}}),
            );
            schemas.insert(format!("L{i}"), serde_json::json!({"allOf": parts}));
        }
        schemas.insert("L20".into(), serde_json::json!({"type": "object"}));
        let text = serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
            "components": {"schemas": schemas}
        })
        .to_string();
        let doc = crate::load::load_str(&text, None).expect("loads");
        let started = std::time::Instant::now();
        let (api, _) = lower(&doc, &Settings::default()).expect("lowers");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let l0 = api.types.iter().find(|t| t.name == "L0").expect("L0");
        let TypeKind::Struct(st) = &l0.kind else {
            panic!("L0 is {:?}", l0.kind)
        };
        // Parts beyond the depth limit are left out; those within it give one field each.
        let names: Vec<&str> = st.fields.iter().map(|f| f.wire_name.as_str()).collect();
        assert_eq!(names.first(), Some(&"f15"), "{names:?}");
        assert_eq!(names.last(), Some(&"f0"), "{names:?}");
        assert!(st.fields.iter().all(|f| f.required));
    }

    #[test]
    fn every_checked_keyword_warns_on_a_value_of_the_wrong_kind() {
        // `keyword_value_ok` lets a schema skip `check_schema_values` when every member passes it:
        // each keyword the checks read must fail it with a value of the wrong kind, or its warning
        // would never be given.
        let bad = [
            ("nullable", serde_json::json!("yes")),
            ("x-nullable", serde_json::json!(1)),
            ("readOnly", serde_json::json!("no")),
            ("writeOnly", serde_json::json!(0)),
            ("deprecated", serde_json::json!("no")),
            ("type", serde_json::json!(5)),
            ("enum", serde_json::json!("red")),
            ("required", serde_json::json!("id")),
            ("minimum", serde_json::json!("low")),
            ("maximum", serde_json::json!("high")),
            ("exclusiveMinimum", serde_json::json!("x")),
            ("exclusiveMaximum", serde_json::json!("x")),
            ("minLength", serde_json::json!(-1)),
            ("maxLength", serde_json::json!(1.5)),
            ("minItems", serde_json::json!("1")),
            ("maxItems", serde_json::json!(-2)),
            ("pattern", serde_json::json!(1)),
            ("format", serde_json::json!(true)),
            ("title", serde_json::json!(2)),
            ("description", serde_json::json!([])),
            ("additionalProperties", serde_json::json!("any")),
            ("properties", serde_json::json!([])),
        ];
        for (key, value) in bad {
            assert!(!keyword_value_ok(key, &value), "{key}: {value}");
            let mut schema =
                serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
            schema[key] = value.clone();
            let text = serde_json::json!({
                "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
                "components": {"schemas": {"Thing": schema}}
            })
            .to_string();
            let doc = crate::load::load_str(&text, None).expect("loads");
            let (_, warnings) = lower(&doc, &Settings::default()).expect("lowers");
            let at = format!("/components/schemas/Thing/{key}");
            assert!(
                warnings
                    .iter()
                    .any(|w| w.pointer.as_deref().is_some_and(|p| p.starts_with(&at))),
                "{key}: {value} gave {warnings:?}"
            );
        }
        // Well-formed values pass, and a keyword no check reads passes whatever it holds.
        assert!(keyword_value_ok(
            "type",
            &serde_json::json!(["string", "null"])
        ));
        assert!(keyword_value_ok(
            "exclusiveMinimum",
            &serde_json::json!(true)
        ));
        assert!(keyword_value_ok("x-vendor", &serde_json::json!({"any": 1})));
    }

    #[test]
    fn each_constraint_keyword_alone_is_read() {
        // `constraints_of` returns early when no member names a constraint: each keyword it reads
        // must be among those names.
        for (key, value) in [
            ("minimum", serde_json::json!(1)),
            ("maximum", serde_json::json!(2)),
            ("exclusiveMinimum", serde_json::json!(3)),
            ("exclusiveMaximum", serde_json::json!(4)),
            ("minLength", serde_json::json!(5)),
            ("maxLength", serde_json::json!(6)),
            ("pattern", serde_json::json!("^a$")),
            ("minItems", serde_json::json!(7)),
            ("maxItems", serde_json::json!(8)),
        ] {
            let schema = serde_json::json!({ "type": "string", key: value });
            assert!(!constraints_of(&schema).is_empty(), "{key}");
        }
        assert!(constraints_of(&serde_json::json!({"type": "string"})).is_empty());
    }

    #[test]
    fn path_keys_split_fixed_query_and_template_names() {
        assert_eq!(
            markers::split_key("/responses?beta=true"),
            (
                "/responses".into(),
                vec![markers::Marker {
                    name: "beta".into(),
                    value: Some("true".into())
                }]
            )
        );
        assert_eq!(
            path_template_names("/a/{x}/b/{y}/{x}"),
            vec!["x".to_owned(), "y".to_owned()]
        );
    }
}
