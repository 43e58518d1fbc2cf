//! The XML form of the types XML bodies and answers reach, read from the schemas' `xml` objects, and
//! the operations that speak the AWS query protocol.
//!
//! A type reachable from an XML request body, answer or error gets an [`XmlType`]: its root element
//! name (`xml.name`, else the component's name), namespace and prefix, and per field its element or
//! attribute name and, for lists, the item name and whether the list is wrapped. Types only JSON uses
//! get nothing. Two conventions for lists: AWS descriptions (`info.x-providerName: amazonaws.com`, or
//! an `x-amazon-apigateway-authtype` security scheme) wrap lists in their field's element with items
//! named by `items.xml.name`, default `member`, unless `xml.wrapped: false` flattens them; every other
//! description follows OpenAPI, where a list is unwrapped unless `xml.wrapped: true`, and items are
//! named by `items.xml.name`, else the field's name.
//!
//! An operation whose path key carries `#Action=X` (or whose fixed query or `Action` parameter names
//! one) and which has a `Version` is in the query protocol: its `text/xml` request body is really a
//! form of flattened fields ([`BodyKind::AwsQuery`]), and its list and object query parameters are
//! flattened the same way.
//!
//! Architecture Invariant: this pass reads the IR and the raw document (for `xml` objects, which the
//! IR does not keep) and writes only request body kinds; everything else it finds is returned as
//! plain data for emission.

use std::collections::{BTreeMap, BTreeSet};

use crate::load::Field as _;
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::ir::{Api, BodyKind, ParamLocation, ResponseKind, Ty, TypeId, TypeKind};

use crate::passes::strip;

/// How a value of a type expression is written in XML.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeRef {
    /// One of the runtime's scalar shapes (`STRING`, `INTEGER`, ...).
    Scalar(&'static str),
    /// A named type's shape.
    Named(TypeId),
    /// A list.
    List {
        /// Item element name.
        item: String,
        /// Items repeat without a wrapper.
        flattened: bool,
        /// The items' shape.
        inner: Box<ShapeRef>,
    },
    /// A map of `entry`/`key`/`value` elements.
    Map(Box<ShapeRef>),
    /// Anything.
    Any,
}

/// One field of a struct in XML.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlField {
    /// Element or attribute name (for a flattened list, the repeated element's).
    pub xml: String,
    /// Serde key (the field's wire name).
    pub field: String,
    /// An attribute.
    pub attribute: bool,
    /// The value's shape.
    pub shape: ShapeRef,
}

/// The XML form of a named type.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlType {
    /// Root element name.
    pub name: String,
    /// `xml.namespace`.
    pub namespace: Option<String>,
    /// `xml.prefix`.
    pub prefix: Option<String>,
    /// Fields, for a struct.
    pub fields: Option<Vec<XmlField>>,
    /// The shape of a type that is not a struct (an alias of a list, an enum, a union).
    pub other: ShapeRef,
}

/// What emission needs about XML.
#[derive(Debug, Clone, Default)]
pub struct XmlFacts {
    /// Types reachable from XML bodies and answers, with their XML form.
    pub types: BTreeMap<TypeId, XmlType>,
    /// Operations (by origin) in the AWS query protocol.
    pub query_ops: BTreeSet<String>,
}

/// Whether `media` is an XML media type (`application/xml`, `text/xml`, `+xml`).
pub fn is_xml(media: &str) -> bool {
    let m = media
        .split(';')
        .next()
        .unwrap_or(media)
        .trim()
        .to_ascii_lowercase();
    m == "application/xml" || m == "text/xml" || m.ends_with("+xml")
}

fn pointer<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    crate::sample::resolve(root, r)
}

fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.field("$ref").and_then(Value::as_str) {
        Some(r) => pointer(root, r).unwrap_or(&Value::Null),
        None => v,
    }
}

/// The value of `key` in the `xml` object of `s`, looking through `$ref` and `allOf` (the schema's
/// own first).
fn xml_key<'a>(root: &'a Value, s: &'a Value, key: &str, depth: usize) -> Option<&'a Value> {
    if depth > 16 {
        return None;
    }
    if let Some(v) = s.field("xml").and_then(|x| x.field(key)) {
        return Some(v);
    }
    if s.field("$ref").is_some() {
        return xml_key(root, deref(root, s), key, depth + 1);
    }
    s.field("allOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|p| xml_key(root, p, key, depth + 1))
}

fn xml_str(root: &Value, s: &Value, key: &str) -> Option<String> {
    xml_key(root, s, key, 0)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn xml_bool(root: &Value, s: &Value, key: &str) -> Option<bool> {
    xml_key(root, s, key, 0).and_then(Value::as_bool)
}

/// The schema of property `wire` of object schema `s` (through `$ref` and `allOf`).
fn property<'a>(root: &'a Value, s: &'a Value, wire: &str, depth: usize) -> Option<&'a Value> {
    if depth > 16 {
        return None;
    }
    let s = deref(root, s);
    if let Some(p) = s.field("properties").and_then(|p| p.field(wire)) {
        return Some(p);
    }
    s.field("allOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|p| property(root, p, wire, depth + 1))
}

/// The `items` schema of array schema `s` (through `$ref` and `allOf`).
fn items<'a>(root: &'a Value, s: &'a Value, depth: usize) -> Option<&'a Value> {
    if depth > 16 {
        return None;
    }
    let s = deref(root, s);
    if let Some(i) = s.field("items") {
        return Some(i);
    }
    s.field("allOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|p| items(root, p, depth + 1))
}

fn is_aws(root: &Value) -> bool {
    let provider =
        root.pointer("/info/x-providerName").and_then(Value::as_str) == Some("amazonaws.com");
    let sigv4 = root
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .is_some_and(|m| {
            m.values()
                .any(|s| s.field("x-amazon-apigateway-authtype").is_some())
        });
    provider || sigv4
}

struct Builder<'a> {
    root: &'a Value,
    api: &'a Api,
    aws: bool,
    queue: Vec<TypeId>,
    seen: BTreeSet<TypeId>,
}

impl<'a> Builder<'a> {
    fn reach(&mut self, t: &Ty) {
        match t {
            Ty::Named(id) if self.seen.insert(*id) => self.queue.push(*id),
            Ty::Vec(i) | Ty::Map(i) | Ty::Option(i) | Ty::Box(i) => self.reach(i),
            _ => {}
        }
    }

    /// The shape of `t`, whose schema (when known) is `raw`; `name` is the element it is written in.
    fn shape(&mut self, t: &Ty, raw: Option<&'a Value>, name: &str) -> ShapeRef {
        match strip(t) {
            Ty::Bool => ShapeRef::Scalar("BOOLEAN"),
            Ty::Int(_) => ShapeRef::Scalar("INTEGER"),
            Ty::Float(_) => ShapeRef::Scalar("NUMBER"),
            Ty::String | Ty::Uuid | Ty::Binary => ShapeRef::Scalar("STRING"),
            Ty::Date | Ty::DateTime => ShapeRef::Scalar("TIMESTAMP"),
            Ty::Base64 => ShapeRef::Scalar("BLOB"),
            Ty::Any | Ty::Unit => ShapeRef::Any,
            Ty::Named(id) => {
                self.reach(&Ty::Named(*id));
                ShapeRef::Named(*id)
            }
            Ty::Map(i) => ShapeRef::Map(Box::new(self.shape(i, None, "value"))),
            Ty::Vec(i) => {
                let item_raw = raw.and_then(|r| items(self.root, r, 0));
                let (item, flattened) = self.list_form(raw, item_raw, name);
                let inner = self.shape(i, item_raw, &item);
                ShapeRef::List {
                    item,
                    flattened,
                    inner: Box::new(inner),
                }
            }
            Ty::Option(_) | Ty::Box(_) => ShapeRef::Any,
        }
    }

    /// A list's item name and whether it is flattened, by the description's convention.
    fn list_form(
        &self,
        raw: Option<&Value>,
        item_raw: Option<&Value>,
        name: &str,
    ) -> (String, bool) {
        let wrapped = raw.and_then(|r| xml_bool(self.root, r, "wrapped"));
        let item = item_raw.and_then(|i| xml_str(self.root, i, "name"));
        let flattened = if self.aws {
            wrapped == Some(false)
        } else {
            wrapped != Some(true)
        };
        let default = if self.aws && !flattened {
            "member"
        } else {
            name
        };
        (item.unwrap_or_else(|| default.to_owned()), flattened)
    }

    fn xml_type(&mut self, id: TypeId) -> XmlType {
        let td = &self.api.types[id.0];
        let origin = td.origin.trim_start_matches('#');
        let raw = pointer(self.root, &format!("#{origin}"));
        let component = origin
            .strip_prefix("/components/schemas/")
            .filter(|n| !n.contains('/'))
            .map(|n| n.replace("~1", "/").replace("~0", "~"));
        let name = raw
            .and_then(|r| xml_str(self.root, r, "name"))
            .or(component)
            .unwrap_or_else(|| td.name.clone());
        let namespace = raw.and_then(|r| xml_str(self.root, r, "namespace"));
        let prefix = raw.and_then(|r| xml_str(self.root, r, "prefix"));
        let (fields, other) = match &td.kind {
            TypeKind::Struct(s) => {
                let mut out = Vec::new();
                for f in &s.fields {
                    let praw = raw.and_then(|r| property(self.root, r, &f.wire_name, 0));
                    let own = praw
                        .and_then(|p| xml_str(self.root, p, "name"))
                        .unwrap_or_else(|| f.wire_name.clone());
                    let attribute = praw
                        .and_then(|p| xml_bool(self.root, p, "attribute"))
                        .unwrap_or(false);
                    let mut shape = self.shape(&f.ty, praw, &own);
                    // A flattened list's items repeat under the items' name when they have one.
                    let xml = match &mut shape {
                        ShapeRef::List {
                            item, flattened, ..
                        } if *flattened => item.clone(),
                        ShapeRef::Named(nid) => self.flattened_item(*nid).unwrap_or(own),
                        _ => own,
                    };
                    out.push(XmlField {
                        xml,
                        field: f.wire_name.clone(),
                        attribute,
                        shape,
                    });
                }
                (Some(out), ShapeRef::Any)
            }
            TypeKind::Alias(t) => {
                let t = t.clone();
                (None, self.shape(&t, raw, &name))
            }
            TypeKind::Enum(_) => (None, ShapeRef::Scalar("STRING")),
            TypeKind::Union(u) => {
                for v in u.variants.clone() {
                    self.reach(&v.ty);
                }
                (None, ShapeRef::Any)
            }
        };
        XmlType {
            name,
            namespace,
            prefix,
            fields,
            other,
        }
    }

    /// The item name of a named type that is a flattened list (its items repeat under that name).
    fn flattened_item(&mut self, id: TypeId) -> Option<String> {
        let td = &self.api.types[id.0];
        let TypeKind::Alias(t) = &td.kind else {
            return None;
        };
        if !matches!(strip(t), Ty::Vec(_)) {
            return None;
        }
        let raw = pointer(
            self.root,
            &format!("#{}", td.origin.trim_start_matches('#')),
        );
        let item_raw = raw.and_then(|r| items(self.root, r, 0));
        let (item, flattened) = self.list_form(raw, item_raw, "member");
        let named = item_raw.and_then(|i| xml_str(self.root, i, "name"));
        (flattened && named.is_some()).then_some(item)
    }
}

/// The text after `#Action=` in a path key, or the `Action` of the fixed query or parameters.
fn action_of(root: &Value, op: &crate::ir::Operation) -> Option<String> {
    if let Some((_, v)) = op.fixed_query.iter().find(|(k, _)| k == "Action") {
        return Some(v.clone());
    }
    let key = op
        .origin
        .strip_prefix("/paths/")?
        .rsplit_once('/')?
        .0
        .replace("~1", "/")
        .replace("~0", "~");
    if let Some((_, rest)) = key.split_once("#Action=") {
        return Some(rest.split('&').next().unwrap_or(rest).to_owned());
    }
    single_value(root, op, "Action")
}

/// The one allowed value of query parameter `name` (`Version` or `Action`, declared as a
/// single-value enum on the operation or its path item), or its value in the fixed query.
fn single_value(root: &Value, op: &crate::ir::Operation, name: &str) -> Option<String> {
    if let Some((_, v)) = op.fixed_query.iter().find(|(k, _)| k == name) {
        return Some(v.clone());
    }
    // Lowering keeps every query parameter the description declares for the operation, following
    // `$ref`s further than the one step taken below (the parameters a signature writes are
    // `X-Amz-*` ones), so without one of that name the description has none to read: most
    // descriptions answer here, without a lookup in the document per operation.
    if !op
        .params
        .iter()
        .any(|p| p.location == ParamLocation::Query && p.wire_name == name)
    {
        return None;
    }
    let (item_ptr, _) = op.origin.rsplit_once('/')?;
    [format!("#{}", op.origin), format!("#{item_ptr}")]
        .iter()
        .filter_map(|r| pointer(root, r))
        .filter_map(|o| o.field("parameters").and_then(Value::as_array))
        .flatten()
        .map(|p| deref(root, p))
        .filter(|p| {
            p.field("name").and_then(Value::as_str) == Some(name)
                && p.field("in").and_then(Value::as_str) == Some("query")
        })
        .find_map(|p| {
            let schema = deref(root, p.field("schema")?);
            match schema.field("enum").and_then(Value::as_array)?.as_slice() {
                [one] => one.as_str().map(str::to_owned),
                _ => None,
            }
        })
}

/// Find the query protocol operations (turning their XML bodies into query forms) and the XML form
/// of every type XML reaches.
pub fn analyse(root: &Value, api: &mut Api) -> (XmlFacts, Vec<Diagnostic>) {
    let mut facts = XmlFacts::default();
    let warnings = Vec::new();
    for i in 0..api.operations.len() {
        let op = &api.operations[i];
        // The version is looked for only where there is an action.
        let Some(action) = action_of(root, op) else {
            continue;
        };
        let Some(version) = single_value(root, op, "Version") else {
            continue;
        };
        facts.query_ops.insert(op.origin.clone());
        if let Some(b) = &mut api.operations[i].body {
            if b.kind == BodyKind::Xml {
                b.kind = BodyKind::AwsQuery { action, version };
                b.media_type = "application/x-www-form-urlencoded".to_owned();
            }
        }
    }
    let api: &Api = api;
    let mut b = Builder {
        root,
        api,
        aws: is_aws(root),
        queue: Vec::new(),
        seen: BTreeSet::new(),
    };
    for op in &api.operations {
        if let Some(body) = &op.body {
            if matches!(body.kind, BodyKind::Xml | BodyKind::AwsQuery { .. }) {
                b.reach(&body.ty);
            }
        }
        for r in op.success.iter().chain(&op.errors) {
            if r.kind == ResponseKind::Xml {
                b.reach(&r.ty);
            }
        }
        if facts.query_ops.contains(&op.origin) {
            for p in &op.params {
                if p.location == ParamLocation::Query {
                    b.reach(&p.ty);
                }
            }
        }
    }
    while let Some(id) = b.queue.pop() {
        let t = b.xml_type(id);
        facts.types.insert(id, t);
    }
    (facts, warnings)
}

/// The shape of a value of type `t` that is not a named type (a query parameter of a query
/// protocol operation, a list body), written as `name`; named types inside it are in `facts`.
pub fn param_shape(api: &Api, t: &Ty, name: &str, facts: &XmlFacts) -> ShapeRef {
    let mut b = Builder {
        root: &Value::Null,
        api,
        aws: !facts.query_ops.is_empty(),
        queue: Vec::new(),
        seen: BTreeSet::new(),
    };
    b.shape(t, None, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_protocol_operations_found_from_optional_single_value_parameters() {
        // `Action` on the path item and `Version` on the operation, neither required, so neither is a
        // fixed query pair: the document is read for them. `Ping` has only an `Action`, `Plain` none.
        let xml_body = serde_json::json!({"required": true, "content": {"text/xml": {"schema": {
            "type": "object", "properties": {"Name": {"type": "string"}}}}}});
        let one = |name: &str, value: &str| serde_json::json!({"name": name, "in": "query", "schema": {"type": "string", "enum": [value]}});
        let spec = serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "Q", "version": "1"},
            "paths": {
                "/create": {
                    "parameters": [one("Action", "CreateQueue")],
                    "post": {"operationId": "create", "parameters": [one("Version", "2012-11-05")],
                        "requestBody": xml_body, "responses": {"200": {"description": "ok"}}}
                },
                "/ping": {"post": {"operationId": "ping", "parameters": [one("Action", "Ping")],
                    "requestBody": xml_body, "responses": {"200": {"description": "ok"}}}},
                "/plain": {"post": {"operationId": "plain",
                    "requestBody": xml_body, "responses": {"200": {"description": "ok"}}}}
            }
        });
        let doc = crate::load::load_str(&spec.to_string(), None).expect("loads");
        let (mut api, _) = crate::lower::lower(&doc, &crate::Settings::default()).expect("lowers");
        let (facts, _) = analyse(&doc.root, &mut api);
        let op = |id: &str| {
            api.operations
                .iter()
                .find(|o| o.operation_id == id)
                .unwrap_or_else(|| panic!("no operation {id}"))
        };
        assert!(facts.query_ops.contains(&op("create").origin));
        match &op("create").body.as_ref().expect("a body").kind {
            BodyKind::AwsQuery { action, version } => {
                assert_eq!(
                    (action.as_str(), version.as_str()),
                    ("CreateQueue", "2012-11-05")
                );
            }
            other => panic!("create's body is {other:?}"),
        }
        for plain in ["ping", "plain"] {
            assert!(!facts.query_ops.contains(&op(plain).origin), "{plain}");
            assert_eq!(
                op(plain).body.as_ref().expect("a body").kind,
                BodyKind::Xml,
                "{plain}"
            );
        }
    }

    #[test]
    fn xml_media_types() {
        for m in [
            "application/xml",
            "text/xml; charset=utf-8",
            "application/atom+xml",
        ] {
            assert!(is_xml(m), "{m}");
        }
        for m in ["application/json", "text/plain", "application/xml-dtd"] {
            assert!(!is_xml(m), "{m}");
        }
    }
}
