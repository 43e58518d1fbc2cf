//! The intermediate representation: plain data between lowering and emission.
//!
//! Architecture Invariant: nothing here knows quote, syn or serde_json values of the source document.
//! Every name in the IR is already a valid, unique Rust identifier (the `names` module made it so);
//! emission only spells them.

use std::collections::BTreeMap;

/// Index of a named type in [`Api::types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub usize);

/// A type expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// Integer of a width.
    Int(IntKind),
    /// `f64` (`f32` for `format: float`).
    Float(bool),
    /// `String`.
    String,
    /// RFC 3339 date-time.
    DateTime,
    /// Full date.
    Date,
    /// UUID.
    Uuid,
    /// base64 text decoded to bytes (`format: byte`).
    Base64,
    /// Raw bytes (binary bodies and multipart files).
    Binary,
    /// Any JSON value.
    Any,
    /// A list.
    Vec(Box<Ty>),
    /// A string-keyed map.
    Map(Box<Ty>),
    /// May be null (or absent, for optional fields).
    Option(Box<Ty>),
    /// Heap indirection, to break recursion.
    Box(Box<Ty>),
    /// A named type.
    Named(TypeId),
    /// No content.
    Unit,
}

/// Integer widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntKind {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
}

impl Ty {
    /// Wrap in Option unless already optional.
    pub fn optional(self) -> Ty {
        match self {
            Ty::Option(_) => self,
            t => Ty::Option(Box::new(t)),
        }
    }
}

/// Validation constraints of a value (checked by generated `validate()`).
///
/// Equal (and hashed) with floats compared by their bits, as they are written in generated code
/// (`-0.0` and `0.0` are apart): what `passes::same_shapes` needs to tell shapes apart exactly.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    /// Inclusive minimum (or exclusive when `exclusive_minimum`).
    pub minimum: Option<f64>,
    /// Whether `minimum` is exclusive.
    pub exclusive_minimum: bool,
    /// Inclusive maximum (or exclusive when `exclusive_maximum`).
    pub maximum: Option<f64>,
    /// Whether `maximum` is exclusive.
    pub exclusive_maximum: bool,
    /// Minimum string length in characters.
    pub min_length: Option<u64>,
    /// Maximum string length in characters.
    pub max_length: Option<u64>,
    /// Regular expression the string must match.
    pub pattern: Option<String>,
    /// Minimum list length.
    pub min_items: Option<u64>,
    /// Maximum list length.
    pub max_items: Option<u64>,
}

impl Constraints {
    /// Everything compared, floats as bits (see the type's docs).
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        Option<u64>,
        bool,
        Option<u64>,
        bool,
        [Option<u64>; 4],
        Option<&str>,
    ) {
        (
            self.minimum.map(f64::to_bits),
            self.exclusive_minimum,
            self.maximum.map(f64::to_bits),
            self.exclusive_maximum,
            [
                self.min_length,
                self.max_length,
                self.min_items,
                self.max_items,
            ],
            self.pattern.as_deref(),
        )
    }

    /// True when nothing is constrained.
    pub fn is_empty(&self) -> bool {
        *self == NO_CONSTRAINTS
    }
}

impl PartialEq for Constraints {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Constraints {}

impl std::hash::Hash for Constraints {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Nothing constrained: what an empty [`Checks`] reads as.
static NO_CONSTRAINTS: Constraints = Constraints {
    minimum: None,
    exclusive_minimum: false,
    maximum: None,
    exclusive_maximum: false,
    min_length: None,
    max_length: None,
    pattern: None,
    min_items: None,
    max_items: None,
};

/// A parameter's or field's [`Constraints`], held only when one applies. Most have none, and a huge
/// description has hundreds of thousands of parameters and fields: Microsoft Graph beta's
/// parameters alone would carry 11 MB of empty constraints. Reads as a `Constraints` (nothing set
/// when none applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Checks(Option<Box<Constraints>>);

impl From<Constraints> for Checks {
    fn from(c: Constraints) -> Checks {
        Checks((!c.is_empty()).then(|| Box::new(c)))
    }
}

impl std::ops::Deref for Checks {
    type Target = Constraints;
    fn deref(&self) -> &Constraints {
        self.0.as_deref().unwrap_or(&NO_CONSTRAINTS)
    }
}

/// A named type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// Rust name (UpperCamelCase, unique).
    pub name: String,
    /// Doc text from title/description.
    pub doc: Option<String>,
    /// Where it came from (JSON pointer), for diagnostics and docs.
    pub origin: String,
    /// What it is.
    pub kind: TypeKind,
}

/// The shape of a named type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeKind {
    /// A struct.
    Struct(Struct),
    /// A string enum with an unknown-value variant.
    Enum(StringEnum),
    /// A union (oneOf/anyOf).
    Union(Union),
    /// A type alias.
    Alias(Ty),
}

/// An object type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Struct {
    /// Fields in document order.
    pub fields: Vec<Field>,
    /// `additionalProperties` kept in a flattened map with this value type.
    pub additional: Option<Ty>,
}

/// A struct field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Name on the wire.
    pub wire_name: String,
    /// Rust name (snake_case, unique in the struct).
    pub name: String,
    /// Type (already `Option` when not required or nullable).
    pub ty: Ty,
    /// Required by the schema.
    pub required: bool,
    /// Absent and null differ (not required and nullable): emitted as a tri-state.
    pub tri_state: bool,
    /// Docs.
    pub doc: Option<String>,
    /// Constraints on the value.
    pub constraints: Checks,
    /// The schema's `format` as written (`unix-time`, `int64`), for passes that read a meaning from
    /// it beyond the Rust type (the `streams` pass: Unix-time integers).
    pub format: Option<String>,
}

/// A string enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StringEnum {
    /// (Rust variant name, wire value), in document order.
    pub variants: Vec<(String, String)>,
}

/// A union of alternatives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Union {
    /// (Rust variant name, type, discriminator values mapped to it).
    pub variants: Vec<UnionVariant>,
    /// The discriminator property, when the schema names one.
    pub discriminator: Option<String>,
    /// The variant (index into `variants`) a value decodes as when the discriminator property is
    /// missing or names no variant: the discriminator's `defaultMapping` (3.2).
    pub default_variant: Option<usize>,
}

/// One alternative of a union.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnionVariant {
    /// Rust variant name.
    pub name: String,
    /// Payload type.
    pub ty: Ty,
    /// Discriminator values that select this variant.
    pub tags: Vec<String>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamLocation {
    /// Path segment.
    Path,
    /// Query string.
    Query,
    /// Header.
    Header,
    /// Cookie.
    Cookie,
    /// The whole query string (OpenAPI 3.2 `in: querystring`), serialised per [`Param::media_type`].
    QueryString,
}

/// Serialisation style of a parameter (OpenAPI `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamStyle {
    /// `form` (query/cookie default).
    Form,
    /// `simple` (path/header default).
    Simple,
    /// `label` (`.a.b`).
    Label,
    /// `matrix` (`;a=1`).
    Matrix,
    /// `spaceDelimited`.
    SpaceDelimited,
    /// `pipeDelimited`.
    PipeDelimited,
    /// `deepObject` (`a[b]=c`).
    DeepObject,
}

/// An operation parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name on the wire.
    pub wire_name: String,
    /// Rust name (snake_case, unique in the operation).
    pub name: String,
    /// Location.
    pub location: ParamLocation,
    /// Style.
    pub style: ParamStyle,
    /// Explode.
    pub explode: bool,
    /// Required (path parameters always are).
    pub required: bool,
    /// Value type (not wrapped in Option).
    pub ty: Ty,
    /// Docs.
    pub doc: Option<String>,
    /// Constraints.
    pub constraints: Checks,
    /// Sent when the caller sets nothing (a required `Accept`/`Content-Type` header's default or
    /// single allowed value); the builder then takes the parameter as an optional override.
    pub default: Option<String>,
    /// The `content` media type of a parameter described by `content` instead of `schema` (how a
    /// `querystring` parameter is serialised).
    pub media_type: Option<String>,
}

/// How a body is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON (any `+json` media type too).
    Json,
    /// `application/x-www-form-urlencoded`; property names encoded `deepObject` style are listed.
    Form {
        /// Properties whose encoding is deepObject (bracket notation).
        deep: Vec<String>,
    },
    /// `multipart/form-data`; properties that are files are listed.
    Multipart {
        /// Wire names of binary (file) parts.
        files: Vec<String>,
        /// Properties whose `encoding` says `deepObject`: bracket-named parts (`data[key]=v`).
        deep: Vec<String>,
    },
    /// Raw bytes of a media type.
    Bytes,
    /// A body that may be large (`application/octet-stream`, images, archives, `*/*`, or a
    /// `format: binary` string): the builder takes the runtime's `Body`, bytes or streamed from a
    /// file or reader without buffering.
    Binary {
        /// The description names the media type (sent as `Content-Type`); false when it allows any
        /// (`*/*`), and the body's own type is sent.
        declared: bool,
    },
    /// Plain text.
    Text,
    /// An XML document (`application/xml`, `text/xml`, `+xml`) written from the value by its type's
    /// XML shape.
    Xml,
    /// The AWS query protocol: a form of `Action`, `Version` and the value's fields flattened
    /// (`Name.member.N`); what a query protocol operation's `text/xml` body really is.
    AwsQuery {
        /// The `Action`.
        action: String,
        /// The API `Version`.
        version: String,
    },
}

/// A request body.
#[derive(Debug, Clone)]
pub struct RequestBody {
    /// Media type sent.
    pub media_type: String,
    /// Encoding.
    pub kind: BodyKind,
    /// Value type.
    pub ty: Ty,
    /// Required.
    pub required: bool,
    /// Docs.
    pub doc: Option<String>,
}

/// How a response body is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// JSON into a type.
    Json,
    /// Text into `String`.
    Text,
    /// Bytes as they came.
    Bytes,
    /// Nothing (ignored body).
    Empty,
    /// `text/event-stream`.
    EventStream,
    /// An XML document read into a type by its XML shape.
    Xml,
}

/// A response of one status (or range, or default).
#[derive(Debug, Clone)]
pub struct ResponseCase {
    /// `200`, `2XX`, or `default`.
    pub status: String,
    /// Decoding.
    pub kind: ResponseKind,
    /// Decoded type (`Ty::Unit` for empty).
    pub ty: Ty,
    /// Docs.
    pub doc: Option<String>,
    /// The response's one-line `summary` (3.2), for the docs of that case.
    pub summary: Option<String>,
}

/// One API operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Rust method name (snake_case, unique within its group).
    pub name: String,
    /// Rust builder type name (UpperCamelCase, unique crate-wide).
    pub builder: String,
    /// The operationId as given (or derived).
    pub operation_id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template (`/users/{id}`), without any query part.
    pub path: String,
    /// Fixed query pairs, in order: those of the path key's marker (`/{Bucket}#list-type=2`, a bare
    /// `#uploads` as `uploads` with an empty value) and of required query parameters that allow one
    /// value only (`Action`, `Version`).
    pub fixed_query: Vec<(String, String)>,
    /// Fixed headers: a path key's `#X-Amz-Target=...` and required header parameters that allow
    /// one value only; sent unless a header parameter or a per-call header sets the same name.
    pub fixed_headers: Vec<(String, String)>,
    /// Group (module) this operation is in; index into [`Api::groups`].
    pub group: usize,
    /// Summary and description.
    pub doc: Option<String>,
    /// Deprecated.
    pub deprecated: bool,
    /// Parameters (path ones first, in path order, then others in document order).
    pub params: Vec<Param>,
    /// Body, if any.
    pub body: Option<RequestBody>,
    /// Success responses (2xx), in status order.
    pub success: Vec<ResponseCase>,
    /// Error responses (4xx, 5xx, default).
    pub errors: Vec<ResponseCase>,
    /// How a list operation pages, when it does (filled by the `paging` pass).
    pub pagination: Option<Pagination>,
    /// The event stream a success answer may be (`text/event-stream`, NDJSON), with its item type.
    pub stream: Option<StreamOut>,
    /// The media types the responses declare, success ones first, each once (sent as `Accept`).
    pub accept: Vec<String>,
    /// The servers the operation, or else its path item, declares (empty: the root servers apply).
    pub servers: Vec<Server>,
    /// Where it came from.
    pub origin: String,
    /// The headers the success responses declare, as the typed struct `send_with_headers()` returns.
    pub response_headers: Option<ResponseHeaders>,
    /// Security requirements (the operation's `security`, else the description's): alternatives, each
    /// the scheme names whose credentials are sent together. None when neither declares any; an
    /// empty list when the operation takes no credentials.
    pub security: Option<Vec<Vec<String>>>,
}

/// The typed headers of an operation's success answers (`<Builder>Headers`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHeaders {
    /// Rust type name (UpperCamelCase, unique crate-wide).
    pub type_name: String,
    /// One field per declared header, in document order (success responses in status order).
    pub fields: Vec<ResponseHeader>,
}

/// One declared response header.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHeader {
    /// Header name as the description spells it.
    pub wire_name: String,
    /// Rust field name (snake_case, unique in the struct).
    pub name: String,
    /// Value type: `Bool`, `Int`, `Float` or `String` (date-times stay text), never optional.
    pub ty: Ty,
    /// The description says every success answer carries it (absent: PARSING_ERROR).
    pub required: bool,
    /// Docs.
    pub doc: Option<String>,
}

/// How a list operation pages: where the items are and how the next page is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Pagination {
    /// How the next page is found.
    pub strategy: PageStrategy,
    /// JSON pointer to the items array in a page (`""`: the page is the array).
    pub items_pointer: String,
    /// Type of one item.
    pub item: Ty,
    /// Query parameter carrying the page size, when the operation has one.
    pub page_size_param: Option<String>,
    /// Where the strategy was found (`settings`, `x-speakeasy-pagination`, `x-ms-pageable`, or the
    /// pattern that matched), for docs and diagnostics.
    pub source: String,
}

/// The paging strategies the runtime implements (`connector_runtime::paginate::Strategy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStrategy {
    /// A cursor sent as `param`, read from the body at `next` or from the last item's `last_item` field,
    /// while the boolean at `has_more` (when given) is true.
    Cursor {
        /// Query parameter of the cursor.
        param: String,
        /// JSON pointer to the next cursor in the body.
        next: Option<String>,
        /// JSON pointer, relative to an item, of the field whose value is the next cursor.
        last_item: Option<String>,
        /// JSON pointer to a boolean saying more pages follow.
        has_more: Option<String>,
    },
    /// An offset sent as `param`: numeric and advanced by the items received, or a token at `next`.
    Offset {
        /// Query parameter of the offset.
        param: String,
        /// JSON pointer to the next offset token in the body.
        next: Option<String>,
    },
    /// A page number sent as `param`.
    Page {
        /// Query parameter of the page number.
        param: String,
        /// JSON pointer whose presence means another page follows.
        has_next: Option<String>,
    },
    /// The `Link` header's `rel="next"`.
    LinkHeader,
    /// A cursor read from the response header `header` (ending when it is absent or empty), sent back
    /// as the query parameter `param`, or as the request header `param` when `in_header`.
    HeaderCursor {
        /// Response header carrying the next cursor.
        header: String,
        /// Parameter taking it back.
        param: String,
        /// `param` is a request header (else a query parameter).
        in_header: bool,
    },
    /// A next URL in the body at this JSON pointer.
    NextUrl(String),
}

/// A streamed success answer: how it is framed and what each event's data is.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOut {
    /// Framing.
    pub kind: StreamKind,
    /// Media type asked for in `Accept`.
    pub media_type: String,
    /// Type of one event's data (one line, for NDJSON; one record, for JSON text sequences).
    pub ty: Ty,
}

/// Framing of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Server-sent events.
    Sse,
    /// Newline-delimited JSON (`application/x-ndjson`, `application/jsonl`).
    Ndjson,
    /// JSON text sequences (RFC 7464, `application/json-seq`).
    JsonSeq,
}

/// A webhook the API sends (`webhooks` in 3.1, `x-webhooks` in 3.0): its payload as a typed event.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The key of the webhook in the description (`check-run-completed`).
    pub key: String,
    /// Rust variant name (UpperCamelCase, unique).
    pub variant: String,
    /// Docs.
    pub doc: Option<String>,
    /// Payload type.
    pub ty: Ty,
}

/// A group of operations (a tag), emitted as one module and one cargo feature.
#[derive(Debug, Clone)]
pub struct Group {
    /// Module and feature name (snake_case).
    pub module: String,
    /// Accessor type name (UpperCamelCase).
    pub type_name: String,
    /// Tag as written.
    pub tag: String,
    /// Docs.
    pub doc: Option<String>,
    /// The group of the tag's `parent` (3.2): this group's module and accessor live inside that one's.
    pub parent: Option<usize>,
    /// The accessor's name: `module` at the top, a method of the parent group's type when nested.
    pub accessor: String,
    /// The tag's `kind` (3.2), as written (`nav`, `badge`, `audience`...).
    pub kind: Option<String>,
}

impl Api {
    /// The accessors from the client to a group, outermost first (`["store", "orders"]` for
    /// `client.store().orders()`); nesting is acyclic (lowering breaks cycles).
    pub fn group_path(&self, group: usize) -> Vec<&str> {
        let mut path = Vec::new();
        let mut at = Some(group);
        while let Some(g) = at.filter(|_| path.len() <= self.groups.len()) {
            path.push(self.groups[g].accessor.as_str());
            at = self.groups[g].parent;
        }
        path.reverse();
        path
    }
}

/// A server URL with its variables.
#[derive(Debug, Clone)]
pub struct Server {
    /// URL template.
    pub url: String,
    /// Description.
    pub doc: Option<String>,
    /// Variables: (name, default, allowed values).
    pub variables: Vec<(String, String, Vec<String>)>,
}

/// A security scheme of the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityScheme {
    /// API key.
    ApiKey {
        /// Scheme name.
        scheme: String,
        /// Header/query/cookie name.
        name: String,
        /// `header`, `query` or `cookie`.
        location: String,
    },
    /// Several static secret headers sent together (Discourse's `Api-Key` and `Api-Username`).
    Headers {
        /// Scheme name.
        scheme: String,
        /// Header names, in the order the constructor takes their values.
        names: Vec<String>,
    },
    /// HTTP bearer.
    Bearer {
        /// Scheme name.
        scheme: String,
    },
    /// HTTP basic.
    Basic {
        /// Scheme name.
        scheme: String,
    },
    /// OAuth2 (token URL when a flow gives one).
    OAuth2 {
        /// Scheme name.
        scheme: String,
        /// Token endpoint.
        token_url: Option<String>,
        /// The flow that token endpoint serves (`clientCredentials`, `authorizationCode`, `password`).
        flow: String,
        /// Scopes offered.
        scopes: Vec<String>,
    },
    /// OAuth2 device authorization (RFC 8628; OpenAPI 3.2 `flows.deviceAuthorization`).
    DeviceCode {
        /// Scheme name.
        scheme: String,
        /// Device authorization endpoint.
        device_url: String,
        /// Token endpoint.
        token_url: String,
        /// Scopes offered.
        scopes: Vec<String>,
    },
    /// Mutual TLS: a client certificate presented in the handshake.
    MutualTls {
        /// Scheme name.
        scheme: String,
    },
    /// A static `Authorization` header value, for a description that asks for an `Authorization`
    /// header parameter without a security scheme that writes it.
    Authorization {
        /// Scheme name.
        scheme: String,
    },
    /// AWS Signature Version 4 (`x-amazon-apigateway-authtype: awsSigv4` or `awsS3`).
    AwsSigV4 {
        /// Scheme name.
        scheme: String,
        /// The service's signing name (`dynamodb`, `s3`).
        signing_name: String,
        /// S3's signing rules (path encoded once, not normalised).
        s3: bool,
    },
}

/// The parameters an AWS signature writes (lower case): headers, or query keys of a presigned URL.
pub const AWS_SIGNATURE_PARAMS: &[&str] = &[
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

impl SecurityScheme {
    /// The request headers this scheme writes (lower case), besides `Authorization`: an API key's
    /// header, or each header of [`SecurityScheme::Headers`].
    pub fn header_names(&self) -> Vec<String> {
        match self {
            SecurityScheme::ApiKey { name, location, .. } if location == "header" => {
                vec![name.to_ascii_lowercase()]
            }
            SecurityScheme::Headers { names, .. } => {
                names.iter().map(|n| n.to_ascii_lowercase()).collect()
            }
            SecurityScheme::AwsSigV4 { .. } => std::iter::once("authorization")
                .chain(AWS_SIGNATURE_PARAMS.iter().copied())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The query keys (lower case) the scheme writes: an AWS signature's, for presigned URLs.
    pub fn query_names(&self) -> Vec<String> {
        match self {
            SecurityScheme::AwsSigV4 { .. } => AWS_SIGNATURE_PARAMS
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The scheme's name.
    pub fn scheme(&self) -> &str {
        match self {
            SecurityScheme::ApiKey { scheme, .. }
            | SecurityScheme::Headers { scheme, .. }
            | SecurityScheme::Bearer { scheme }
            | SecurityScheme::Basic { scheme }
            | SecurityScheme::OAuth2 { scheme, .. }
            | SecurityScheme::DeviceCode { scheme, .. }
            | SecurityScheme::MutualTls { scheme }
            | SecurityScheme::Authorization { scheme }
            | SecurityScheme::AwsSigV4 { scheme, .. } => scheme,
        }
    }

    /// Whether the scheme writes the `Authorization` header.
    pub fn writes_authorization(&self) -> bool {
        match self {
            SecurityScheme::MutualTls { .. } => false,
            SecurityScheme::ApiKey { .. } | SecurityScheme::Headers { .. } => {
                self.header_names().iter().any(|n| n == "authorization")
            }
            _ => true,
        }
    }
}

/// The whole API, ready to emit.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `info.description`.
    pub doc: Option<String>,
    /// Servers.
    pub servers: Vec<Server>,
    /// Security schemes.
    pub security: Vec<SecurityScheme>,
    /// Names of the security schemes marked `deprecated` (OpenAPI 3.2).
    pub deprecated_schemes: Vec<String>,
    /// Named types.
    pub types: Vec<TypeDef>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Operations.
    pub operations: Vec<Operation>,
    /// Webhook payloads.
    pub webhooks: Vec<Webhook>,
    /// Free-form facts for the README and docs.
    pub notes: BTreeMap<String, String>,
    /// Operations of the description left out because they could not be lowered (each has a warning).
    pub skipped_operations: usize,
    /// How multipart bodies frame arrays and objects.
    pub multipart_style: MultipartStyle,
    /// The tables a sync engine can keep from the list operations (filled by the `streams` pass).
    pub streams: Vec<SyncStream>,
    /// The list operations that became no stream, with the reason (filled by the `streams` pass).
    pub stream_skips: Vec<StreamSkip>,
}

/// One table kept up to date from one list operation (`connector_sync::StreamDef`).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStream {
    /// Table name (snake_case, unique among the streams).
    pub table: String,
    /// The operation listing it; index into [`Api::operations`].
    pub op: usize,
    /// Type of one item (a struct, maybe through aliases).
    pub item: Ty,
    /// The struct the item is.
    pub item_struct: TypeId,
    /// Wire names of the fields that identify a row.
    pub primary_key: Vec<String>,
    /// The change-ordering field.
    pub cursor: Option<SyncCursor>,
    /// Scalar top-level fields kept as typed columns.
    pub columns: Vec<SyncColumn>,
    /// Parameters the operation needs and where their values come from.
    pub params: Vec<SyncParam>,
    /// The stream whose rows give this one's parameters; index into [`Api::streams`].
    pub parent: Option<usize>,
    /// How deleted rows show.
    pub deletes: SyncDeletes,
    /// Some of key, cursor, filter, parent or table came from settings.
    pub from_settings: bool,
}

/// The change-ordering field of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCursor {
    /// Wire name of the top-level item field.
    pub field: String,
    /// How its values read.
    pub kind: CursorKind,
    /// The query parameter asking the server for changes from a value on.
    pub filter: Option<SyncFilter>,
}

/// How cursor values are written (`connector_sync::CursorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// RFC 3339 date-time text.
    DateTime,
    /// Seconds since the Unix epoch.
    UnixSeconds,
    /// Another integer that grows with each change.
    Integer,
}

/// The query parameter filtering a listing by cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFilter {
    /// Query parameter as sent (`since`, `created[gte]`).
    pub param: String,
    /// How the value is sent.
    pub format: CursorKind,
    /// The server includes items equal to the value.
    pub inclusive: bool,
}

/// One scalar column of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncColumn {
    /// Column name (snake_case, unique in the table, never one of the engine's own columns).
    pub name: String,
    /// Wire name of the item field.
    pub wire: String,
    /// Value type.
    pub kind: ColumnKind,
    /// The item type requires the field.
    pub required: bool,
}

/// Column value types (`connector_sync::ColumnKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Boolean.
    Bool,
    /// 64-bit integer.
    Int,
    /// Double.
    Float,
    /// Text (string enums and UUIDs included).
    Text,
    /// RFC 3339 date-time.
    DateTime,
    /// Seconds since the Unix epoch.
    UnixSeconds,
    /// Calendar date.
    Date,
}

/// A parameter a stream's operation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncParam {
    /// Wire name.
    pub wire: String,
    /// Where its value comes from.
    pub from: SyncParamSource,
}

/// Where a stream parameter's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncParamSource {
    /// The user's configuration (or, in a child stream, the parent partition's parameter).
    Config,
    /// A field of each parent row, as a JSON pointer (`/number`).
    Parent(String),
}

/// How deleted rows show in the source (`connector_sync::Deletes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncDeletes {
    /// Not reported.
    Unreported,
    /// Listed with a flag and/or a deletion time.
    Soft {
        /// Wire name of a boolean field.
        flag: Option<String>,
        /// Wire name of a date-time field.
        at: Option<String>,
    },
    /// Tombstone items with this boolean field true.
    Tombstone {
        /// Wire name of the boolean field.
        flag: String,
    },
}

/// A list operation that became no stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSkip {
    /// Index into [`Api::operations`].
    pub op: usize,
    /// Why.
    pub reason: String,
}

/// How a multipart body frames fields that are arrays or objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultipartStyle {
    /// What OpenAPI says when the description has no `encoding`: an array repeats its part, an object
    /// is one `application/json` part.
    #[default]
    Json,
    /// Bracket names, as some vendors document: `tags[]=a`, `expires_after[anchor]=v`,
    /// `items[0][name]=v`.
    Brackets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_hold_constraints_only_when_one_applies() {
        let none = Checks::from(Constraints::default());
        assert_eq!(none, Checks::default());
        assert!(none.is_empty());
        assert_eq!(none.maximum, None);
        let max = Checks::from(Constraints {
            maximum: Some(100.0),
            ..Constraints::default()
        });
        assert_ne!(max, Checks::default());
        assert!(!max.is_empty());
        assert_eq!(max.maximum, Some(100.0));
        let pattern = Checks::from(Constraints {
            pattern: Some("^a".into()),
            ..Constraints::default()
        });
        assert_eq!(pattern.pattern.as_deref(), Some("^a"));
        // The empty value everything reads through is the default one.
        assert_eq!(*none, Constraints::default());
    }

    #[test]
    fn constraints_are_equal_as_written_floats_by_their_bits() {
        use std::hash::BuildHasher;
        let hasher = foldhash::fast::FixedState::default();
        let at = |minimum: f64| Constraints {
            minimum: Some(minimum),
            pattern: Some("^a".to_owned()),
            ..Constraints::default()
        };
        assert_eq!(at(1.5), at(1.5));
        assert_eq!(hasher.hash_one(at(1.5)), hasher.hash_one(at(1.5)));
        assert_ne!(at(0.0), at(-0.0), "written apart: 0.0 and -0.0");
        assert_ne!(at(1.5), at(2.5));
        let mut other = at(1.5);
        other.max_items = Some(3);
        assert_ne!(at(1.5), other);
        assert!(Constraints::default().is_empty());
        assert!(!at(0.0).is_empty());
    }
}
