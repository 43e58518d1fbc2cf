//! Operations generated with a shape that is not faithful to their description, counted by cause.
//!
//! Each cause is decided by one small function over what the IR says, with the document consulted
//! only for what the IR does not keep (the media type and schema of an answer, a security scheme's
//! `x-amazon-apigateway-authtype`). `cargo xtask corpus` adds the counts up over the corpus.

use crate::load::Field as _;
use serde::Serialize;
use serde_json::Value;

use crate::ir::{Api, BodyKind, Operation, ResponseKind, SecurityScheme, Ty};
use crate::load::pointer;
use crate::lower::is_json;

/// How many examples each cause keeps.
const EXAMPLES: usize = 3;

/// The operations of one cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// Operations counted (each at most once per cause).
    pub operations: usize,
    /// The first few, as `METHOD path-key (operationId)`.
    pub examples: Vec<String>,
}

impl Cause {
    fn add(&mut self, op: &Operation) {
        self.operations += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(format!(
                "{} {} ({})",
                op.method,
                path_key(op),
                op.operation_id
            ));
        }
    }
}

/// Operations whose generated shape is not faithful, by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unfaithful {
    /// A path-key marker (`/{Bucket}#list-type=2`, `/#Action=CreateQueue`) that is not honoured.
    pub path_marker: Cause,
    /// An XML request or response body handled as unparsed text or bytes.
    pub xml_body: Cause,
    /// A binary body (`application/octet-stream`, `*/*`, `format: binary`) typed as `String`.
    pub binary_as_string: Cause,
    /// Security that asks for AWS signing while the crate has no signing constructor for it.
    pub aws_signing: Cause,
}

/// The path key as the description writes it (the fixed query folded back in).
fn path_key(op: &Operation) -> String {
    if op.fixed_query.is_empty() {
        return op.path.clone();
    }
    let query: Vec<String> = op
        .fixed_query
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{}?{}", op.path, query.join("&"))
}

/// Count the operations of `api` (lowered from `root`) whose shape is unfaithful, by cause.
pub fn unfaithful(root: &Value, api: &Api) -> Unfaithful {
    let mut out = Unfaithful::default();
    for op in &api.operations {
        if path_marker_unhonoured(op) {
            out.path_marker.add(op);
        }
        let bodies = bodies(root, op);
        if bodies.iter().any(|b| {
            crate::xml::is_xml(&b.media) && !binary_string(b.schema) && !b.kind.reads_xml()
        }) {
            out.xml_body.add(op);
        }
        if bodies.iter().any(|b| {
            (!crate::xml::is_xml(&b.media) || binary_string(b.schema))
                && is_binary(&b.media, b.schema)
                && is_string(b.ty)
        }) {
            out.binary_as_string.add(op);
        }
        if unsigned_aws(root, api, op) {
            out.aws_signing.add(op);
        }
    }
    out
}

/// (a) A `#` marker left in the path: nothing sends what it says. A `?` marker is split into
/// [`Operation::fixed_query`] and sent, so it is honoured.
fn path_marker_unhonoured(op: &Operation) -> bool {
    op.path.contains('#')
}

/// How a body was lowered, as far as the causes need.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Request(KindOfBody),
    Response(ResponseKind),
}

/// [`BodyKind`] without its data.
#[derive(Debug, Clone, Copy)]
enum KindOfBody {
    Json,
    Form,
    Multipart,
    Bytes,
    Text,
    Xml,
    /// The AWS query protocol's form body (what its `text/xml` request bodies mean).
    AwsQuery,
}

impl Kind {
    /// (b) Whether the body is read or written as XML.
    fn reads_xml(self) -> bool {
        match self {
            Kind::Request(k) => request_reads_xml(k),
            Kind::Response(k) => response_reads_xml(k),
        }
    }
}

/// (b) Whether a request body of this kind is serialised as XML.
fn request_reads_xml(kind: KindOfBody) -> bool {
    match kind {
        KindOfBody::Json
        | KindOfBody::Form
        | KindOfBody::Multipart
        | KindOfBody::Bytes
        | KindOfBody::Text => false,
        KindOfBody::Xml | KindOfBody::AwsQuery => true,
    }
}

/// (b) Whether an answer of this kind is parsed as XML.
fn response_reads_xml(kind: ResponseKind) -> bool {
    match kind {
        ResponseKind::Json
        | ResponseKind::Text
        | ResponseKind::Bytes
        | ResponseKind::Empty
        | ResponseKind::EventStream => false,
        ResponseKind::Xml => true,
    }
}

fn kind_of(kind: &BodyKind) -> KindOfBody {
    match kind {
        BodyKind::Json => KindOfBody::Json,
        BodyKind::Form { .. } => KindOfBody::Form,
        BodyKind::Multipart { .. } => KindOfBody::Multipart,
        BodyKind::Bytes | BodyKind::Binary { .. } => KindOfBody::Bytes,
        BodyKind::Text => KindOfBody::Text,
        BodyKind::Xml => KindOfBody::Xml,
        BodyKind::AwsQuery { .. } => KindOfBody::AwsQuery,
    }
}

/// One body of an operation: its media type as the description writes it, its schema, and what the
/// IR made of it.
struct Body<'a> {
    media: String,
    schema: Option<&'a Value>,
    kind: Kind,
    ty: &'a Ty,
}

/// The request body and every answer of `op` that has content.
fn bodies<'a>(root: &'a Value, op: &'a Operation) -> Vec<Body<'a>> {
    let mut out = Vec::new();
    let Some(node) = resolve(root, &op.origin) else {
        return out;
    };
    if let Some(body) = &op.body {
        let content = node
            .field("requestBody")
            .map(|b| deref(root, b))
            .and_then(|b| b.field("content"))
            .and_then(Value::as_object);
        let prefs: [fn(&str) -> bool; 5] = [
            is_json,
            |m| m == "application/x-www-form-urlencoded",
            |m| m.starts_with("multipart/"),
            |m| m.starts_with("text/"),
            |_| true,
        ];
        let picked = content.and_then(|c| {
            let key = prefs.iter().find_map(|p| c.keys().find(|k| p(k)))?;
            Some((key.clone(), c[key].field("schema").map(|s| deref(root, s))))
        });
        let (media, schema) = picked.unwrap_or_else(|| (body.media_type.clone(), None));
        out.push(Body {
            media,
            schema,
            kind: Kind::Request(kind_of(&body.kind)),
            ty: &body.ty,
        });
    }
    let responses = node.field("responses").and_then(Value::as_object);
    for case in op.success.iter().chain(&op.errors) {
        let Some(response) = responses.and_then(|r| {
            r.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&case.status))
                .map(|(_, v)| deref(root, v))
        }) else {
            continue;
        };
        let Some(content) = response.field("content").and_then(Value::as_object) else {
            continue;
        };
        if let Some((media, schema)) = response_media(root, content) {
            out.push(Body {
                media,
                schema,
                kind: Kind::Response(case.kind),
                ty: &case.ty,
            });
        }
    }
    out
}

/// The media type an answer is read as, chosen as lowering chooses it: JSON, then an event stream,
/// then text, then anything; a JSON alternative that is only a string beside binary media gives way.
fn response_media<'a>(
    root: &'a Value,
    content: &'a serde_json::Map<String, Value>,
) -> Option<(String, Option<&'a Value>)> {
    let prefs: [fn(&str) -> bool; 4] = [
        is_json,
        |m| m == "text/event-stream",
        |m| m.starts_with("text/"),
        |_| true,
    ];
    let mut key = prefs.iter().find_map(|p| content.keys().find(|k| p(k)))?;
    let schema = |k: &str| content[k].field("schema").map(|s| deref(root, s));
    if is_json(key) {
        let plain_string = schema(key).is_some_and(|s| {
            s.field("type").and_then(Value::as_str) == Some("string")
                && s.field("enum").is_none()
                && s.field("format").is_none()
        });
        if let Some(b) = content
            .keys()
            .find(|m| !is_json(m) && !m.starts_with("text/") && !crate::xml::is_xml(m))
            .filter(|_| plain_string)
        {
            key = b;
        }
    }
    Some((key.clone(), schema(key)))
}

/// (c) Binary content: an octet stream, a wildcard carrying a string, or a `format: binary` string.
fn is_binary(media: &str, schema: Option<&Value>) -> bool {
    let m = media
        .split(';')
        .next()
        .unwrap_or(media)
        .trim()
        .to_ascii_lowercase();
    let string = schema.is_some_and(|s| s.field("type").and_then(Value::as_str) == Some("string"));
    let binary_format =
        schema.is_some_and(|s| s.field("format").and_then(Value::as_str) == Some("binary"));
    m == "application/octet-stream" || (m.ends_with("/*") && string) || (string && binary_format)
}

/// (b, c) A `type: string, format: binary` schema: the content is bytes, even under an XML media type
/// (`image/svg+xml` served as a file), so it belongs to (c), not (b).
fn binary_string(schema: Option<&Value>) -> bool {
    schema.is_some_and(|s| {
        s.field("type").and_then(Value::as_str) == Some("string")
            && s.field("format").and_then(Value::as_str) == Some("binary")
    })
}

/// (c) Whether the IR types the body as text.
fn is_string(ty: &Ty) -> bool {
    match ty {
        Ty::String => true,
        Ty::Option(inner) => is_string(inner),
        _ => false,
    }
}

/// (d) Whether the operation's security names a scheme the description marks for AWS signing
/// (`x-amazon-apigateway-authtype: awsSigv4` or `awsS3`) for which the crate has no signing
/// constructor.
fn unsigned_aws(root: &Value, api: &Api, op: &Operation) -> bool {
    let Some(alternatives) = &op.security else {
        return false;
    };
    alternatives.iter().flatten().any(|name| {
        aws_marked(root, name)
            && !api
                .security
                .iter()
                .any(|s| s.scheme() == name && signs_for_aws(s))
    })
}

/// (d) Whether the description's scheme `name` asks for AWS signing.
fn aws_marked(root: &Value, name: &str) -> bool {
    root.field("components")
        .and_then(|c| c.field("securitySchemes"))
        .and_then(|s| s.get(name))
        .map(|s| deref(root, s))
        .and_then(|s| s.field("x-amazon-apigateway-authtype"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4") || t.eq_ignore_ascii_case("awsS3"))
}

/// (d) Whether the crate's constructor for this scheme signs requests the AWS way.
fn signs_for_aws(scheme: &SecurityScheme) -> bool {
    match scheme {
        SecurityScheme::ApiKey { .. }
        | SecurityScheme::Headers { .. }
        | SecurityScheme::Bearer { .. }
        | SecurityScheme::Basic { .. }
        | SecurityScheme::OAuth2 { .. }
        | SecurityScheme::DeviceCode { .. }
        | SecurityScheme::MutualTls { .. }
        | SecurityScheme::Authorization { .. } => false,
        SecurityScheme::AwsSigV4 { .. } => true,
    }
}

/// Follow internal `$ref`s (a few hops at most).
fn deref<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = v
            .field("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        else {
            return v;
        };
        v = target;
    }
    v
}

/// The node at a JSON pointer, following `$ref`s met on the way (a path item may be one).
fn resolve<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    let mut v = root;
    for seg in ptr.strip_prefix('/')?.split('/') {
        let seg = pointer::unescape(seg);
        v = match deref(root, v) {
            Value::Object(m) => m.field(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(deref(root, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;
    use serde_json::json;

    fn counts(doc: Value) -> Unfaithful {
        let mut doc = doc;
        doc["openapi"] = json!("3.0.3");
        doc["info"] = json!({"title": "t", "version": "1"});
        let loaded = crate::load::load_str(&doc.to_string(), None).expect("loads");
        let (api, _) = crate::lower::lower(&loaded, &Settings::default()).expect("lowers");
        unfaithful(&loaded.root, &api)
    }

    fn op(id: &str, extra: Value) -> Value {
        let mut op = json!({"operationId": id, "responses": {"200": {"description": "ok"}}});
        if let (Value::Object(o), Value::Object(e)) = (&mut op, extra) {
            o.extend(e);
        }
        op
    }

    #[test]
    fn markers_in_path_keys_are_honoured() {
        let c = counts(json!({"paths": {
            "/{Bucket}#list-type=2": {"get": op("ListObjectsV2", json!({"parameters": [
                {"name": "Bucket", "in": "path", "required": true, "schema": {"type": "string"}}
            ]}))},
            "/#Action=CreateQueue": {"post": op("CreateQueue", json!({}))},
            "/responses?beta=true": {"get": op("Beta", json!({}))},
            "/plain": {"get": op("Plain", json!({}))}
        }}));
        // `#` and `?` parts become fixed query pairs, flags or headers: none is left in the path.
        assert_eq!(c.path_marker, Cause::default());
    }

    #[test]
    fn xml_bodies_without_a_schema_count_and_typed_ones_do_not() {
        let xml_schema = json!({"type": "object", "properties": {"Name": {"type": "string"}}});
        let c = counts(json!({"paths": {
            "/in": {"put": op("PutXml", json!({"requestBody": {"content": {"text/xml": {"schema": xml_schema}}}}))},
            "/out": {"get": {"operationId": "GetXml", "responses": {
                "200": {"description": "ok", "content": {"application/xml": {"schema": xml_schema}}}}}},
            "/err": {"get": {"operationId": "ErrXml", "responses": {
                "200": {"description": "ok"},
                "480": {"description": "NoSuchKey", "content": {"text/xml": {"schema": xml_schema}}}}}},
            "/json": {"post": {"operationId": "Json",
                "requestBody": {"content": {"application/json": {"schema": xml_schema}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": xml_schema}}}}}},
            "/both": {"get": {"operationId": "Both", "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": xml_schema}, "application/xml": {"schema": xml_schema}}}}}},
            "/untyped": {"put": op("PutUntyped", json!({"requestBody": {"content": {"application/xml": {}}}}))}
        }}));
        // Typed XML bodies, answers and errors are faithful; an XML body without a schema is text.
        assert_eq!(c.xml_body.operations, 1, "{:?}", c.xml_body.examples);
        assert_eq!(c.xml_body.examples, ["PUT /untyped (PutUntyped)"]);
        assert_eq!(c.binary_as_string, Cause::default());
    }

    #[test]
    fn binary_bodies_are_bytes() {
        let bin = json!({"type": "string", "format": "binary"});
        let c = counts(json!({"paths": {
            "/wild": {"post": op("Wild", json!({"requestBody": {"content": {"*/*": {"schema": bin}}}}))},
            "/text": {"get": {"operationId": "TextBin", "responses": {
                "200": {"description": "ok", "content": {"text/plain": {"schema": bin}}}}}},
            "/octet": {"put": {"operationId": "Octet",
                "requestBody": {"content": {"application/octet-stream": {"schema": bin}}},
                "responses": {"200": {"description": "ok", "content": {"application/octet-stream": {"schema": bin}}}}}},
            "/string": {"get": {"operationId": "Plain", "responses": {
                "200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/svg": {"get": {"operationId": "Svg", "responses": {
                "200": {"description": "ok", "content": {"image/svg+xml": {"schema": bin}}}}}}
        }}));
        // `*/*`, `format: binary` under text and octet-stream are all bytes now; plain text stays text.
        assert_eq!(c.binary_as_string, Cause::default());
        assert_eq!(c.xml_body, Cause::default());
    }

    #[test]
    fn aws_signing_counts_where_asked_and_not_elsewhere() {
        let schemes = json!({
            "hmac": {"type": "apiKey", "name": "Authorization", "in": "header",
                     "x-amazon-apigateway-authtype": "awsSigv4"},
            "s3": {"$ref": "#/components/x-s3"},
            "key": {"type": "apiKey", "name": "X-Key", "in": "header"}
        });
        let c = counts(json!({
            "components": {"securitySchemes": schemes, "x-s3": {"type": "apiKey", "name": "Authorization",
                "in": "header", "x-amazon-apigateway-authtype": "awsS3"}},
            "security": [{"hmac": []}],
            "paths": {
                "/signed": {"get": op("Signed", json!({}))},
                "/s3": {"get": op("S3", json!({"security": [{"s3": []}]}))},
                "/keyed": {"get": op("Keyed", json!({"security": [{"key": []}]}))},
                "/open": {"get": op("Open", json!({"security": []}))}
            }
        }));
        assert_eq!(c.aws_signing.operations, 2);
        assert_eq!(
            c.aws_signing.examples,
            ["GET /signed (Signed)", "GET /s3 (S3)"]
        );
    }
}
