//! XML bodies through the model types JSON uses: a plain-data [`XmlShape`] per type guides a reader
//! (XML to a `serde_json::Value`, then serde) and a writer (a `Value` to XML), and the AWS query
//! protocol's flattening of a value into `Name.member.N` pairs.
//!
//! Shapes are static data emitted by the generator, so a connector with many XML types compiles no
//! generic code per type: one reader and one writer serve them all. Parsing and escaping are
//! quick-xml's. Every failure to read is PARSING_ERROR with the raw body kept; input is bounded in
//! size ([`MAX_XML_BYTES`]) and nesting ([`MAX_XML_DEPTH`]).

use std::io::Cursor;

use bytes::Bytes;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use crate::error::{Error, ErrorCode, ErrorSource};

/// The largest XML document read (64 MiB); a larger body is PARSING_ERROR.
pub const MAX_XML_BYTES: usize = 64 * 1024 * 1024;

/// The deepest element nesting read; a deeper document is PARSING_ERROR.
pub const MAX_XML_DEPTH: usize = 128;

/// How many shape references may be followed without descending into an element (a reference
/// cycle that never reaches an element ends here).
const MAX_REF_HOPS: usize = 64;

/// The XML form of one type.
#[derive(Debug)]
pub enum XmlShape {
    /// An element with child elements and attributes.
    Struct(XmlStruct),
    /// A list of items.
    List(XmlList),
    /// A string-keyed map of `entry` elements.
    Map(XmlMap),
    /// Text converted to a JSON scalar.
    Scalar(XmlScalar),
    /// Anything: text becomes a string, child elements an object (repeated names an array).
    Any,
    /// Another type's shape (named types, so recursive types work).
    Ref(fn() -> &'static XmlShape),
}

/// An element with fields.
#[derive(Debug)]
pub struct XmlStruct {
    /// The element's name when it is a document's root.
    pub name: &'static str,
    /// The namespace declared on the root element (`xmlns`).
    pub namespace: Option<&'static str>,
    /// The prefix the namespace is declared with (`xmlns:prefix`, `prefix:name`).
    pub prefix: Option<&'static str>,
    /// The fields, in order.
    pub fields: &'static [XmlField],
}

/// One field of an [`XmlStruct`].
#[derive(Debug)]
pub struct XmlField {
    /// The element (or attribute) name; for a flattened list, the name of each repeated item.
    pub xml: &'static str,
    /// The key of the field in the type's serde form.
    pub field: &'static str,
    /// An attribute of the element, not a child.
    pub attribute: bool,
    /// The field's shape.
    pub shape: &'static XmlShape,
}

/// A list.
#[derive(Debug)]
pub struct XmlList {
    /// The name of each item element inside the wrapper (`member` by AWS's convention).
    pub item: &'static str,
    /// The items repeat in place of the field, without a wrapper element.
    pub flattened: bool,
    /// The items' shape.
    pub shape: &'static XmlShape,
}

/// A map: `<entry><key>k</key><value>v</value></entry>`.
#[derive(Debug)]
pub struct XmlMap {
    /// The name of each entry element.
    pub entry: &'static str,
    /// The key element's name.
    pub key: &'static str,
    /// The value element's name.
    pub value: &'static str,
    /// The entries repeat in place of the field, without a wrapper element.
    pub flattened: bool,
    /// The values' shape.
    pub shape: &'static XmlShape,
}

/// Kinds of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlScalar {
    /// Text as is.
    String,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// `true`/`false` (also `1`/`0`).
    Boolean,
    /// A date or time, kept as its text.
    Timestamp,
    /// base64 text, kept as its text (the model's `Base64` decodes it).
    Blob,
}

/// Shapes of common scalars, for generated shapes to point at.
pub static STRING: XmlShape = XmlShape::Scalar(XmlScalar::String);
/// See [`STRING`].
pub static INTEGER: XmlShape = XmlShape::Scalar(XmlScalar::Integer);
/// See [`STRING`].
pub static NUMBER: XmlShape = XmlShape::Scalar(XmlScalar::Number);
/// See [`STRING`].
pub static BOOLEAN: XmlShape = XmlShape::Scalar(XmlScalar::Boolean);
/// See [`STRING`].
pub static TIMESTAMP: XmlShape = XmlShape::Scalar(XmlScalar::Timestamp);
/// See [`STRING`].
pub static BLOB: XmlShape = XmlShape::Scalar(XmlScalar::Blob);
/// See [`STRING`].
pub static ANY: XmlShape = XmlShape::Any;

/// `shape` with references followed (at most [`MAX_REF_HOPS`]; a longer chain reads as `Any`).
fn resolve(mut shape: &'static XmlShape) -> &'static XmlShape {
    for _ in 0..MAX_REF_HOPS {
        match shape {
            XmlShape::Ref(f) => shape = f(),
            s => return s,
        }
    }
    &ANY
}

/// A parsed element: local names only (namespaces and prefixes are not kept).
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
    nil: bool,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'n>(&'n self, name: &'n str) -> impl Iterator<Item = &'n Node> + 'n {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first element named `name`, breadth first, this one included.
    fn find(&self, name: &str) -> Option<&Node> {
        let mut level = vec![self];
        while !level.is_empty() {
            if let Some(n) = level.iter().find(|n| n.name == name) {
                return Some(n);
            }
            level = level.iter().flat_map(|n| n.children.iter()).collect();
        }
        None
    }
}

fn local(name: &[u8]) -> String {
    let name = match name.iter().position(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(name).into_owned()
}

fn open(e: &BytesStart<'_>) -> Result<Node, String> {
    let mut node = Node {
        name: local(e.name().as_ref()),
        ..Node::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let value = a
            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, e.decoder())
            .map_err(|e| e.to_string())?
            .into_owned();
        let name = local(key);
        if name == "nil" && value == "true" {
            node.nil = true;
        }
        node.attrs.push((name, value));
    }
    Ok(node)
}

/// Parse a document into its root element.
fn parse(body: &[u8]) -> Result<Node, String> {
    if body.len() > MAX_XML_BYTES {
        return Err(format!(
            "the XML document is {} bytes, more than the {MAX_XML_BYTES} read",
            body.len()
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_XML_DEPTH}"));
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                let node = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err("content after the root element".into()),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("an end tag without a start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity `&{name};`"))?
                            .to_owned()
                    }
                };
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// The JSON value of `node` read as `shape`.
fn to_value(node: &Node, shape: &'static XmlShape) -> Value {
    if node.nil {
        return Value::Null;
    }
    match resolve(shape) {
        XmlShape::Scalar(kind) => scalar_value(&node.text, *kind),
        XmlShape::Struct(s) => {
            let mut out = Map::new();
            for f in s.fields {
                if f.attribute {
                    if let Some(v) = node.attr(f.xml) {
                        let kind = match resolve(f.shape) {
                            XmlShape::Scalar(k) => *k,
                            _ => XmlScalar::String,
                        };
                        out.insert(f.field.to_owned(), scalar_value(v, kind));
                    }
                    continue;
                }
                if let Some(v) = field_value(node, f) {
                    out.insert(f.field.to_owned(), v);
                }
            }
            Value::Object(out)
        }
        XmlShape::List(l) => Value::Array(
            node.children_named(l.item)
                .map(|c| to_value(c, l.shape))
                .collect(),
        ),
        XmlShape::Map(m) => map_value(node.children_named(m.entry), m),
        XmlShape::Any | XmlShape::Ref(_) => any_value(node),
    }
}

/// The value of one (non-attribute) field inside `node`, if present.
fn field_value(node: &Node, f: &XmlField) -> Option<Value> {
    match resolve(f.shape) {
        XmlShape::List(l) if l.flattened => {
            let items: Vec<Value> = node
                .children_named(f.xml)
                .map(|c| to_value(c, l.shape))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        XmlShape::Map(m) if m.flattened => {
            let mut entries = node.children_named(f.xml).peekable();
            entries.peek()?;
            Some(map_value(entries, m))
        }
        _ => node.child(f.xml).map(|c| to_value(c, f.shape)),
    }
}

fn map_value<'n>(entries: impl Iterator<Item = &'n Node>, m: &XmlMap) -> Value {
    let mut out = Map::new();
    for e in entries {
        let Some(k) = e.child(m.key) else { continue };
        let v = e
            .child(m.value)
            .map_or(Value::Null, |v| to_value(v, m.shape));
        out.insert(k.text.clone(), v);
    }
    Value::Object(out)
}

fn any_value(node: &Node) -> Value {
    if node.children.is_empty() && node.attrs.is_empty() {
        return Value::String(node.text.clone());
    }
    let mut out = Map::new();
    for (k, v) in &node.attrs {
        out.insert(k.clone(), Value::String(v.clone()));
    }
    for c in &node.children {
        let v = any_value(c);
        match out.get_mut(&c.name) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(c.name.clone(), v);
            }
        }
    }
    Value::Object(out)
}

/// Text as the JSON scalar its kind says; text that is not one is kept as a string (serde then
/// names the mismatch), and empty text for a number or boolean is null.
fn scalar_value(text: &str, kind: XmlScalar) -> Value {
    let t = text.trim();
    match kind {
        XmlScalar::String | XmlScalar::Timestamp | XmlScalar::Blob => {
            Value::String(text.to_owned())
        }
        _ if t.is_empty() => Value::Null,
        XmlScalar::Integer => t
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| t.parse::<u64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(t.to_owned())),
        XmlScalar::Number => t
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(t.to_owned()), Value::Number),
        XmlScalar::Boolean => match t {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(t.to_owned()),
        },
    }
}

fn parsing_error(message: String, body: &[u8]) -> Error {
    Error::new(ErrorCode::ParsingError, ErrorSource::Deserialize, message)
        .with_request_sent(true)
        .with_raw_body(Bytes::copy_from_slice(body))
}

/// The element a document's value is read from: the root when it is named like `shape`, else the
/// first element with that name (a query protocol answer wraps `<XResult>` in `<XResponse>`), else
/// the root. A query protocol answer read by a shape named `XResponse` is read from its
/// `<XResult>` child when the shape has no field of that name (SNS and STS name their answers so).
fn root_for<'n>(root: &'n Node, shape: &'static XmlShape) -> &'n Node {
    match resolve(shape) {
        XmlShape::Struct(s) if root.name != s.name => root.find(s.name).unwrap_or(root),
        XmlShape::Struct(s) => query_result(root, s).unwrap_or(root),
        _ => root,
    }
}

/// The `<XResult>` child of a `<XResponse>` root read by `s`, unless `s` has a field named so.
fn query_result<'n>(root: &'n Node, s: &XmlStruct) -> Option<&'n Node> {
    let result = format!("{}Result", root.name.strip_suffix("Response")?);
    if s.fields.iter().any(|f| f.xml == result) {
        return None;
    }
    root.child(&result)
}

/// Read an XML document as a JSON value guided by `shape`.
pub fn read_value(body: &[u8], shape: &'static XmlShape) -> Result<Value, Error> {
    let root =
        parse(body).map_err(|m| parsing_error(format!("response body is not XML: {m}"), body))?;
    Ok(to_value(root_for(&root, shape), shape))
}

/// Read an XML document as `T` guided by `shape`.
pub fn read<T: DeserializeOwned>(body: &[u8], shape: &'static XmlShape) -> Result<T, Error> {
    let v = read_value(body, shape)?;
    serde_json::from_value(v).map_err(|e| {
        parsing_error(
            format!("response body does not match the described schema: {e}"),
            body,
        )
    })
}

/// Read an error document as `T`: the element named like `shape`, else AWS's `<Error>` (inside
/// `<ErrorResponse>` or at the root), else the root.
pub fn read_error<T: DeserializeOwned>(body: &[u8], shape: &'static XmlShape) -> Option<T> {
    let root = parse(body).ok()?;
    let node = match resolve(shape) {
        XmlShape::Struct(s) => root.find(s.name).or_else(|| root.find("Error")),
        _ => None,
    }
    .unwrap_or(&root);
    serde_json::from_value(to_value(node, shape)).ok()
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ValidationError,
        ErrorSource::Unknown,
        format!("could not write the XML body: {e}"),
    )
}

/// Write `value` as an XML document (declaration, root element named by `shape`, its namespace).
pub fn write<T: Serialize + ?Sized>(value: &T, shape: &'static XmlShape) -> Result<Vec<u8>, Error> {
    let v = serde_json::to_value(value).map_err(write_err)?;
    write_value(&v, shape)
}

/// [`write`] for a value already in its JSON form.
pub fn write_value(v: &Value, shape: &'static XmlShape) -> Result<Vec<u8>, Error> {
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(write_err)?;
    let (name, ns) = match resolve(shape) {
        XmlShape::Struct(s) => {
            let name = match s.prefix {
                Some(p) => format!("{p}:{}", s.name),
                None => s.name.to_owned(),
            };
            let ns = s.namespace.map(|n| {
                let attr = match s.prefix {
                    Some(p) => format!("xmlns:{p}"),
                    None => "xmlns".to_owned(),
                };
                (attr, n)
            });
            (name, ns)
        }
        _ => ("root".to_owned(), None),
    };
    element(&mut w, &name, v, shape, ns, 0)?;
    Ok(w.into_inner().into_inner())
}

type XmlWriter = Writer<Cursor<Vec<u8>>>;

/// Write `v` as the element `name` of `shape`.
fn element(
    w: &mut XmlWriter,
    name: &str,
    v: &Value,
    shape: &'static XmlShape,
    ns: Option<(String, &str)>,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_XML_DEPTH {
        return Err(write_err(format!("nested deeper than {MAX_XML_DEPTH}")));
    }
    if v.is_null() {
        return Ok(());
    }
    let shape = resolve(shape);
    let mut start = BytesStart::new(name);
    if let Some((attr, uri)) = &ns {
        start.push_attribute((attr.as_str(), *uri));
    }
    if let (XmlShape::Struct(s), Value::Object(m)) = (shape, v) {
        for f in s.fields.iter().filter(|f| f.attribute) {
            if let Some(text) = m.get(f.field).and_then(text_of) {
                start.push_attribute((f.xml, text.as_str()));
            }
        }
    }
    w.write_event(Event::Start(start)).map_err(write_err)?;
    content(w, v, shape, depth)?;
    w.write_event(Event::End(BytesEnd::new(name)))
        .map_err(write_err)
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The children (or text) of an element of `shape` holding `v`.
fn content(
    w: &mut XmlWriter,
    v: &Value,
    shape: &'static XmlShape,
    depth: usize,
) -> Result<(), Error> {
    match (resolve(shape), v) {
        (XmlShape::Struct(s), Value::Object(m)) => {
            for f in s.fields.iter().filter(|f| !f.attribute) {
                let Some(x) = m.get(f.field) else { continue };
                match (resolve(f.shape), x) {
                    (XmlShape::List(l), Value::Array(items)) if l.flattened => {
                        for i in items {
                            element(w, f.xml, i, l.shape, None, depth + 1)?;
                        }
                    }
                    (XmlShape::Map(mp), Value::Object(entries)) if mp.flattened => {
                        for (k, x) in entries {
                            entry(w, f.xml, mp, k, x, depth + 1)?;
                        }
                    }
                    _ => element(w, f.xml, x, f.shape, None, depth + 1)?,
                }
            }
            Ok(())
        }
        (XmlShape::List(l), Value::Array(items)) => {
            for i in items {
                element(w, l.item, i, l.shape, None, depth + 1)?;
            }
            Ok(())
        }
        (XmlShape::Map(mp), Value::Object(entries)) => {
            for (k, x) in entries {
                entry(w, mp.entry, mp, k, x, depth + 1)?;
            }
            Ok(())
        }
        (_, Value::Object(m)) => {
            for (k, x) in m {
                element(w, k, x, &ANY, None, depth + 1)?;
            }
            Ok(())
        }
        (_, Value::Array(items)) => {
            for i in items {
                content(w, i, &ANY, depth + 1)?;
            }
            Ok(())
        }
        (_, other) => match text_of(other) {
            Some(t) => w
                .write_event(Event::Text(BytesText::new(&t)))
                .map_err(write_err),
            None => Ok(()),
        },
    }
}

fn entry(
    w: &mut XmlWriter,
    name: &str,
    m: &XmlMap,
    key: &str,
    value: &Value,
    depth: usize,
) -> Result<(), Error> {
    w.write_event(Event::Start(BytesStart::new(name)))
        .map_err(write_err)?;
    element(
        w,
        m.key,
        &Value::String(key.to_owned()),
        &STRING,
        None,
        depth + 1,
    )?;
    element(w, m.value, value, m.shape, None, depth + 1)?;
    w.write_event(Event::End(BytesEnd::new(name)))
        .map_err(write_err)
}

/// The AWS query protocol's pairs for `v`: nested structures as `Name.Field`, lists as
/// `Name.member.N` (`Name.N` when flattened), maps as `Name.entry.N.key` / `.value` (numbered from
/// 1); an empty list is `Name=` with no value.
pub fn query_pairs(v: &Value, shape: &'static XmlShape) -> Vec<(String, String)> {
    query_pairs_at("", v, shape)
}

/// [`query_pairs`] of a value named `prefix` (a query parameter: `Name.member.N`).
pub fn query_pairs_at(prefix: &str, v: &Value, shape: &'static XmlShape) -> Vec<(String, String)> {
    let mut out = Vec::new();
    query_into(prefix, v, shape, &mut out, 0);
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn query_into(
    prefix: &str,
    v: &Value,
    shape: &'static XmlShape,
    out: &mut Vec<(String, String)>,
    depth: usize,
) {
    if depth > MAX_XML_DEPTH || v.is_null() {
        return;
    }
    match (resolve(shape), v) {
        (XmlShape::Struct(s), Value::Object(m)) => {
            for f in s.fields {
                if let Some(x) = m.get(f.field) {
                    query_into(&join(prefix, f.xml), x, f.shape, out, depth + 1);
                }
            }
        }
        (XmlShape::List(l), Value::Array(items)) => {
            if items.is_empty() {
                out.push((prefix.to_owned(), String::new()));
            }
            for (i, x) in items.iter().enumerate() {
                let name = if l.flattened {
                    format!("{prefix}.{}", i + 1)
                } else {
                    format!("{prefix}.{}.{}", l.item, i + 1)
                };
                query_into(&name, x, l.shape, out, depth + 1);
            }
        }
        (XmlShape::Map(m), Value::Object(entries)) => {
            for (i, (k, x)) in entries.iter().enumerate() {
                let at = if m.flattened {
                    format!("{prefix}.{}", i + 1)
                } else {
                    format!("{prefix}.{}.{}", m.entry, i + 1)
                };
                out.push((format!("{at}.{}", m.key), k.clone()));
                query_into(&format!("{at}.{}", m.value), x, m.shape, out, depth + 1);
            }
        }
        (_, Value::Object(m)) => {
            for (k, x) in m {
                query_into(&join(prefix, k), x, &ANY, out, depth + 1);
            }
        }
        (_, Value::Array(items)) => {
            for (i, x) in items.iter().enumerate() {
                query_into(
                    &format!("{prefix}.member.{}", i + 1),
                    x,
                    &ANY,
                    out,
                    depth + 1,
                );
            }
        }
        (_, other) => {
            if let Some(t) = text_of(other) {
                out.push((prefix.to_owned(), t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static TAG: XmlShape = XmlShape::Struct(XmlStruct {
        name: "Tag",
        namespace: None,
        prefix: None,
        fields: &[
            XmlField {
                xml: "Key",
                field: "Key",
                attribute: false,
                shape: &STRING,
            },
            XmlField {
                xml: "Value",
                field: "Value",
                attribute: false,
                shape: &STRING,
            },
        ],
    });

    static TAGS: XmlShape = XmlShape::List(XmlList {
        item: "Tag",
        flattened: false,
        shape: &XmlShape::Ref(|| &TAG),
    });

    static NAMES: XmlShape = XmlShape::List(XmlList {
        item: "Name",
        flattened: true,
        shape: &STRING,
    });

    static ATTRS: XmlShape = XmlShape::Map(XmlMap {
        entry: "entry",
        key: "key",
        value: "value",
        flattened: false,
        shape: &INTEGER,
    });

    static NODE: XmlShape = XmlShape::Struct(XmlStruct {
        name: "Node",
        namespace: None,
        prefix: None,
        fields: &[
            XmlField {
                xml: "Label",
                field: "label",
                attribute: false,
                shape: &STRING,
            },
            XmlField {
                xml: "Child",
                field: "child",
                attribute: false,
                shape: &XmlShape::Ref(|| &NODE),
            },
        ],
    });

    static ITEM: XmlShape = XmlShape::Struct(XmlStruct {
        name: "Item",
        namespace: Some("http://example.com/ns"),
        prefix: Some("ex"),
        fields: &[
            XmlField {
                xml: "id",
                field: "id",
                attribute: true,
                shape: &INTEGER,
            },
            XmlField {
                xml: "Title",
                field: "title",
                attribute: false,
                shape: &STRING,
            },
            XmlField {
                xml: "Active",
                field: "active",
                attribute: false,
                shape: &BOOLEAN,
            },
            XmlField {
                xml: "Price",
                field: "price",
                attribute: false,
                shape: &NUMBER,
            },
            XmlField {
                xml: "TagSet",
                field: "tags",
                attribute: false,
                shape: &TAGS,
            },
            XmlField {
                xml: "Name",
                field: "names",
                attribute: false,
                shape: &NAMES,
            },
            XmlField {
                xml: "Attributes",
                field: "attributes",
                attribute: false,
                shape: &ATTRS,
            },
        ],
    });

    fn read_ok(xml: &str, shape: &'static XmlShape) -> Value {
        read_value(xml.as_bytes(), shape).unwrap()
    }

    #[test]
    fn attributes_scalars_lists_and_maps_read_by_shape() {
        let xml = r#"<?xml version="1.0"?>
            <ex:Item xmlns:ex="http://example.com/ns" id="7">
              <ex:Title>Fish &amp; chips &#x263A;</ex:Title>
              <Active>true</Active>
              <Price> 2.5 </Price>
              <Unknown><Deep>ignored</Deep></Unknown>
              <TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></TagSet>
              <Name>x</Name><Name>y</Name>
              <Attributes><entry><key>k1</key><value>10</value></entry></Attributes>
            </ex:Item>"#;
        assert_eq!(
            read_ok(xml, &ITEM),
            json!({
                "id": 7, "title": "Fish & chips \u{263A}", "active": true, "price": 2.5,
                "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                "names": ["x", "y"], "attributes": {"k1": 10}
            })
        );
    }

    #[test]
    fn a_single_item_is_still_a_list_and_absent_fields_stay_absent() {
        let xml = "<Item><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet><Name>only</Name></Item>";
        assert_eq!(
            read_ok(xml, &ITEM),
            json!({"tags": [{"Key": "a", "Value": "1"}], "names": ["only"]})
        );
        assert_eq!(
            read_ok("<Item><TagSet/></Item>", &ITEM),
            json!({"tags": []})
        );
    }

    #[test]
    fn nil_and_empty_elements() {
        let xml = r#"<Item xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Title xsi:nil="true"/><Price></Price><Active/></Item>"#;
        assert_eq!(
            read_ok(xml, &ITEM),
            json!({"title": null, "price": null, "active": null})
        );
        assert_eq!(
            read_ok("<Item><Title/></Item>", &ITEM),
            json!({"title": ""})
        );
    }

    #[test]
    fn recursive_shapes_through_references() {
        let xml = "<Node><Label>a</Label><Child><Label>b</Label><Child><Label>c</Label></Child></Child></Node>";
        assert_eq!(
            read_ok(xml, &NODE),
            json!({"label": "a", "child": {"label": "b", "child": {"label": "c"}}})
        );
    }

    #[test]
    fn a_wrapped_answer_is_read_from_the_element_named_like_the_shape() {
        let xml = "<ListResponse><Node><Label>in</Label></Node><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListResponse>";
        assert_eq!(read_ok(xml, &NODE), json!({"label": "in"}));
        // No element of that name: the root is the value.
        assert_eq!(
            read_ok("<Other><Label>root</Label></Other>", &NODE),
            json!({"label": "root"})
        );
    }

    static TOPIC_RESPONSE: XmlShape = XmlShape::Struct(XmlStruct {
        name: "CreateTopicResponse",
        namespace: None,
        prefix: None,
        fields: &[XmlField {
            xml: "TopicArn",
            field: "TopicArn",
            attribute: false,
            shape: &STRING,
        }],
    });

    static RESULT_FIELD: XmlShape = XmlShape::Struct(XmlStruct {
        name: "CreateTopicResponse",
        namespace: None,
        prefix: None,
        fields: &[XmlField {
            xml: "CreateTopicResult",
            field: "Result",
            attribute: false,
            shape: &XmlShape::Ref(|| &TOPIC_RESPONSE),
        }],
    });

    #[test]
    fn a_query_answer_named_like_its_wrapper_is_read_from_the_result_element() {
        let xml = "<CreateTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                   <CreateTopicResult><TopicArn>arn:t</TopicArn></CreateTopicResult>\
                   <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateTopicResponse>";
        assert_eq!(read_ok(xml, &TOPIC_RESPONSE), json!({"TopicArn": "arn:t"}));
        // Fields directly under the root are still read there.
        assert_eq!(
            read_ok(
                "<CreateTopicResponse><TopicArn>arn:u</TopicArn></CreateTopicResponse>",
                &TOPIC_RESPONSE
            ),
            json!({"TopicArn": "arn:u"})
        );
        // A shape that names the result element reads it as its field.
        assert_eq!(
            read_ok(xml, &RESULT_FIELD),
            json!({"Result": {"TopicArn": "arn:t"}})
        );
    }

    #[test]
    fn written_documents_read_back_and_escape_text() {
        let v = json!({
            "id": 3, "title": "<a> & \"b\"", "active": false, "price": 1.25,
            "tags": [{"Key": "k", "Value": "v"}], "names": ["n1", "n2"], "attributes": {"a": 1}
        });
        let bytes = write_value(&v, &ITEM).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ex:Item xmlns:ex=\"http://example.com/ns\" id=\"3\">\
             <Title>&lt;a&gt; &amp; &quot;b&quot;</Title><Active>false</Active><Price>1.25</Price>\
             <TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet><Name>n1</Name><Name>n2</Name>\
             <Attributes><entry><key>a</key><value>1</value></entry></Attributes></ex:Item>"
        );
        assert_eq!(read_value(&bytes, &ITEM).unwrap(), v);
    }

    #[test]
    fn query_pairs_flatten_the_aws_way() {
        let v = json!({
            "id": 1, "title": "t", "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
            "names": ["x", "y"], "attributes": {"k": 5}
        });
        let pairs = query_pairs(&v, &ITEM);
        let want: Vec<(String, String)> = [
            ("id", "1"),
            ("Title", "t"),
            ("TagSet.Tag.1.Key", "a"),
            ("TagSet.Tag.1.Value", "1"),
            ("TagSet.Tag.2.Key", "b"),
            ("TagSet.Tag.2.Value", "2"),
            ("Name.1", "x"),
            ("Name.2", "y"),
            ("Attributes.entry.1.key", "k"),
            ("Attributes.entry.1.value", "5"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert_eq!(
            query_pairs_at("Labels", &json!(["a", "b"]), &TAGS),
            vec![
                ("Labels.Tag.1".to_owned(), "a".to_owned()),
                ("Labels.Tag.2".to_owned(), "b".to_owned())
            ]
        );
        assert_eq!(
            query_pairs(&json!({"tags": []}), &ITEM),
            vec![("TagSet".to_owned(), String::new())]
        );
    }

    #[test]
    fn garbage_is_a_parsing_error_with_the_body_kept() {
        for bad in [
            &b"not xml at all"[..],
            b"<a><b></a>",
            b"<a>",
            b"<a/><b/>",
            b"<a>&bogus;</a>",
            b"\xff\xfe<a/>",
            b"",
        ] {
            let e = read_value(bad, &ITEM).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ParsingError, "{bad:?}");
            assert_eq!(e.raw_body().map(|b| &b[..]), Some(bad));
        }
        let e = read::<u32>(b"<Item><Title>x</Title></Item>", &ITEM).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = "<a>".repeat(MAX_XML_DEPTH + 1) + &"</a>".repeat(MAX_XML_DEPTH + 1);
        let e = read_value(deep.as_bytes(), &ANY).unwrap_err();
        assert!(e.message().contains("deeper"), "{}", e.message());
        let ok = "<a>".repeat(MAX_XML_DEPTH) + &"</a>".repeat(MAX_XML_DEPTH);
        assert!(read_value(ok.as_bytes(), &ANY).is_ok());
        let mut big = b"<a>".to_vec();
        big.resize(MAX_XML_BYTES + 1, b'x');
        let e = read_value(&big, &ANY).unwrap_err();
        assert!(e.message().contains("bytes"), "{}", e.message());
    }

    #[test]
    fn error_bodies_are_read_from_the_error_element() {
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>QueueDoesNotExist</Code><Message>gone</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        static MSG: XmlShape = XmlShape::Struct(XmlStruct {
            name: "QueueDoesNotExist",
            namespace: None,
            prefix: None,
            fields: &[XmlField {
                xml: "Message",
                field: "message",
                attribute: false,
                shape: &STRING,
            }],
        });
        assert_eq!(
            read_error::<Value>(query, &MSG),
            Some(json!({"message": "gone"}))
        );
        assert_eq!(read_error::<Value>(b"<<", &MSG), None);
    }
}
