//! Support for generated connectors: parameter serialisation by OpenAPI style, body encodings, typed
//! decoding, and small serde helpers. Reached by generated code only through `__private`.
//!
//! Architecture Invariant: everything here is either non-generic or a thin generic shim over a
//! non-generic function (`serde_json::to_value` then the real work), so a connector with a thousand
//! operations instantiates almost nothing per operation.

use std::any::Any;
use std::fmt::Write as _;
use std::future::Future;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{HeaderValue, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::{Body, BodySource, RequestOptions};
use crate::response::Response;

/// RFC 3986 unreserved characters stay; everything else in a path segment is escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// OpenAPI parameter styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `form`.
    Form,
    /// `simple`.
    Simple,
    /// `label`.
    Label,
    /// `matrix`.
    Matrix,
    /// `spaceDelimited`.
    SpaceDelimited,
    /// `pipeDelimited`.
    PipeDelimited,
    /// `deepObject`.
    DeepObject,
}

/// Decodes an operation's error body into its typed form (see [`Error::body`]).
pub type ErrorDecoder = fn(u16, &[u8]) -> Option<Box<dyn Any + Send + Sync>>;

/// One operation call being assembled by generated code.
pub struct Op {
    /// Held inline: the `Op` is moved a few times (from the builder to a sender to `Op::run`) before
    /// its options go into the call, never through an `async` layer, and those moves cost less than a
    /// box allocated and freed per call.
    opts: RequestOptions,
    errors: Option<ErrorDecoder>,
    problem: Option<Error>,
    /// The `Accept` value the operation's responses declare (see [`Op::accept_types`]).
    declared_accept: Option<&'static str>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            ErrorSource::Unknown,
            format!("could not serialise a parameter: {e}"),
        )
    })
}

/// Flatten `v` into bracketed pairs: `a[b][0]=c`.
fn deep_pairs(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                deep_pairs(&format!("{prefix}[{k}]"), x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                deep_pairs(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((prefix.to_owned(), s));
            }
        }
    }
}

/// Pairs for a query (or form) parameter per style and explode.
fn styled_pairs(name: &str, v: &Value, style: Style, explode: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match (v, style) {
        (Value::Null, _) => {}
        (_, Style::DeepObject) => match v {
            Value::Object(_) | Value::Array(_) => deep_pairs(name, v, &mut out),
            other => out.extend(scalar(other).map(|s| (name.to_owned(), s))),
        },
        (Value::Array(items), _) => {
            let parts: Vec<String> = items.iter().filter_map(scalar).collect();
            let sep = match style {
                Style::SpaceDelimited => " ",
                Style::PipeDelimited => "|",
                _ => ",",
            };
            if explode && style == Style::Form {
                out.extend(parts.into_iter().map(|p| (name.to_owned(), p)));
            } else if !parts.is_empty() {
                out.push((name.to_owned(), parts.join(sep)));
            }
        }
        (Value::Object(m), _) => {
            if explode {
                for (k, x) in m {
                    out.extend(scalar(x).map(|s| (k.clone(), s)));
                }
            } else {
                let flat: Vec<String> = m
                    .iter()
                    .flat_map(|(k, x)| [k.clone(), scalar(x).unwrap_or_default()])
                    .collect();
                out.push((name.to_owned(), flat.join(",")));
            }
        }
        (other, _) => out.extend(scalar(other).map(|s| (name.to_owned(), s))),
    }
    out
}

/// `simple` style text of a value (path and header parameters).
fn simple(v: &Value, explode: bool) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Array(a) => Some(a.iter().filter_map(scalar).collect::<Vec<_>>().join(",")),
        Value::Object(m) => Some(
            m.iter()
                .map(|(k, x)| {
                    let x = scalar(x).unwrap_or_default();
                    if explode {
                        format!("{k}={x}")
                    } else {
                        format!("{k},{x}")
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => scalar(other),
    }
}

impl Op {
    /// Start an operation: method, path template (`/users/{id}`) and operation id (for observability).
    pub fn new(method: Method, template: &'static str) -> Op {
        Op {
            opts: RequestOptions::new(method, template).endpoint(template),
            errors: None,
            problem: None,
            declared_accept: None,
        }
    }

    /// The media types the operation's responses declare (`application/vnd.acme.v2+json,
    /// application/problem+json`), sent as `Accept` by every sender except the stream ones, which
    /// ask for their own framing. A header parameter or a per-call header named `Accept` wins.
    pub fn accept_types(&mut self, media_types: &'static str) {
        self.declared_accept = Some(media_types);
    }

    /// Send this call to the server the operation (or its path) declares: `server` is its URL with
    /// variables at their defaults, absolute or relative to the configured base. See
    /// [`crate::request::call_base`] for how the configured base and `ConnectorConfig::servers` apply.
    pub fn server(&mut self, server: &'static str) {
        self.opts.server = Some(server.into());
    }

    /// The whole query string from one value, form-encoded (`in: querystring` with
    /// `application/x-www-form-urlencoded`): an object gives `a=1&b=x` (arrays repeat their key,
    /// nested objects use brackets), a scalar is the query as it is, percent-encoded.
    pub fn querystring_form<T: Serialize + ?Sized>(&mut self, value: &T) {
        match to_value(value) {
            Ok(Value::Object(m)) => {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, x) in &m {
                    let nested = match x {
                        Value::Object(_) => true,
                        Value::Array(items) => items.iter().any(|i| i.is_object() || i.is_array()),
                        _ => false,
                    };
                    let style = if nested {
                        Style::DeepObject
                    } else {
                        Style::Form
                    };
                    for (k, v) in styled_pairs(k, x, style, true) {
                        ser.append_pair(&k, &v);
                    }
                }
                self.opts.raw_query = Some(ser.finish());
            }
            Ok(v) => {
                self.opts.raw_query =
                    scalar(&v).map(|t| utf8_percent_encode(&t, SEGMENT).to_string());
            }
            Err(e) => self.fail(e),
        }
    }

    /// The whole query string as percent-encoded JSON of one value (`in: querystring` with
    /// `application/json`): `{"a":1}` is sent as `?%7B%22a%22%3A1%7D`.
    pub fn querystring_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        match serde_json::to_string(value) {
            Ok(text) => {
                self.opts.raw_query = Some(utf8_percent_encode(&text, SEGMENT).to_string());
            }
            Err(e) => self.fail(Error::validation("querystring", e)),
        }
    }

    fn fail(&mut self, e: Error) {
        if self.problem.is_none() {
            self.problem = Some(e);
        }
    }

    /// Fill `{name}` in the path with `value` in the given style, percent-encoded.
    pub fn path<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
        style: Style,
        explode: bool,
    ) {
        match to_value(value) {
            Ok(v) => self.path_value(name, &v, style, explode),
            Err(e) => self.fail(e),
        }
    }

    /// Values are percent-encoded one by one; the style's own delimiters (`,` `.` `;` `=`) stay literal
    /// (RFC 6570 `{x}`, `{.x}`, `{;x}`, with `*` when exploded).
    fn path_value(&mut self, name: &str, v: &Value, style: Style, explode: bool) {
        let enc = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        let text = match v {
            Value::Null => None,
            Value::Array(items) => {
                let items: Vec<String> = items.iter().filter_map(scalar).map(|s| enc(&s)).collect();
                Some(match (style, explode) {
                    (Style::Label, true) => format!(".{}", items.join(".")),
                    (Style::Label, false) => format!(".{}", items.join(",")),
                    (Style::Matrix, true) => items.iter().map(|i| format!(";{name}={i}")).collect(),
                    (Style::Matrix, false) => format!(";{name}={}", items.join(",")),
                    _ => items.join(","),
                })
            }
            Value::Object(m) => {
                let pairs: Vec<(String, String)> = m
                    .iter()
                    .map(|(k, x)| (enc(k), enc(&scalar(x).unwrap_or_default())))
                    .collect();
                let join = |kv: &str, sep: &str| {
                    let all: Vec<String> =
                        pairs.iter().map(|(k, x)| format!("{k}{kv}{x}")).collect();
                    all.join(sep)
                };
                Some(match (style, explode) {
                    (Style::Label, true) => format!(".{}", join("=", ".")),
                    (Style::Label, false) => format!(".{}", join(",", ",")),
                    (Style::Matrix, true) => format!(";{}", join("=", ";")),
                    (Style::Matrix, false) => format!(";{name}={}", join(",", ",")),
                    (_, true) => join("=", ","),
                    (_, false) => join(",", ","),
                })
            }
            other => scalar(other).map(|s| match style {
                Style::Label => format!(".{}", enc(&s)),
                Style::Matrix => format!(";{name}={}", enc(&s)),
                _ => enc(&s),
            }),
        };
        let Some(text) = text else {
            self.fail(Error::validation(name, "path parameter is required"));
            return;
        };
        let path = self.opts.path.replace(&format!("{{{name}}}"), &text);
        // URL parsing resolves `.` and `..` segments (`%2E` too), which would reach another endpoint.
        let dots = |seg: &str| {
            let seg = seg.to_ascii_lowercase().replace("%2e", ".");
            seg == "." || seg == ".."
        };
        if path.split('/').any(dots) {
            self.fail(Error::validation(
                name,
                "`.` and `..` cannot be path segments",
            ));
            return;
        }
        self.opts.path = path;
    }

    /// Add a query parameter (None/null values are left out).
    pub fn query<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
        style: Style,
        explode: bool,
    ) {
        match to_value(value) {
            Ok(v) => self
                .opts
                .query
                .extend(styled_pairs(name, &v, style, explode)),
            Err(e) => self.fail(e),
        }
    }

    /// Add a fixed query pair (from a path key like `/responses?beta=true` or `/{Bucket}#list-type=2`,
    /// or a required parameter that allows one value). Pairs go out in the order they are added,
    /// form-encoded; a flag (`#uploads`) has an empty value and goes out as `uploads=`, which servers
    /// that test for the flag's presence (S3) read as the bare `uploads`.
    pub fn fixed_query(&mut self, name: &str, value: &str) {
        self.opts.query.push((name.to_owned(), value.to_owned()));
    }

    /// Send a fixed header (a path key's `#X-Amz-Target=...`, or a required header parameter that
    /// allows one value) unless a header parameter already set that name; a per-call header of the
    /// same name (`CallOptions::headers`) replaces it.
    pub fn fixed_header(&mut self, name: &str, value: &str) {
        let name = match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(n) => n,
            Err(e) => return self.fail(Error::validation(name, e)),
        };
        if self.opts.headers.contains_key(&name) {
            return;
        }
        match HeaderValue::from_str(value) {
            Ok(v) => {
                self.opts.headers.insert(name, v);
            }
            Err(e) => self.fail(Error::validation(name.as_str(), e)),
        }
    }

    /// Add a header parameter (None/null values are left out).
    pub fn header<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T, explode: bool) {
        let v = match to_value(value) {
            Ok(v) => v,
            Err(e) => return self.fail(e),
        };
        if let Some(text) = simple(&v, explode) {
            match HeaderValue::from_str(&text) {
                Ok(hv) => match http::HeaderName::from_bytes(name.as_bytes()) {
                    Ok(hn) => {
                        self.opts.headers.append(hn, hv);
                    }
                    Err(e) => self.fail(Error::validation(name, e)),
                },
                Err(e) => self.fail(Error::validation(name, e)),
            }
        }
    }

    /// Add a cookie parameter.
    pub fn cookie<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) {
        let v = match to_value(value) {
            Ok(v) => v,
            Err(e) => return self.fail(e),
        };
        let Some(text) = simple(&v, false) else {
            return;
        };
        let pair = format!("{name}={}", utf8_percent_encode(&text, SEGMENT));
        let cookie = match self
            .opts
            .headers
            .get(http::header::COOKIE)
            .and_then(|c| c.to_str().ok())
        {
            Some(existing) => format!("{existing}; {pair}"),
            None => pair,
        };
        match HeaderValue::from_str(&cookie) {
            Ok(hv) => {
                self.opts.headers.insert(http::header::COOKIE, hv);
            }
            Err(e) => self.fail(Error::validation(name, e)),
        }
    }

    /// Send `body` as JSON with `content_type` (e.g. `application/json`).
    pub fn json<T: Serialize + ?Sized>(&mut self, content_type: &str, body: &T) {
        match serde_json::to_vec(body) {
            Ok(data) => self.set_body(content_type, data.into()),
            Err(e) => self.fail(Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("could not serialise the body: {e}"),
            )),
        }
    }

    /// Send `body` form-encoded; top-level arrays repeat their key, and the properties named in `deep` (and
    /// every nested object) use bracket notation (`metadata[key]=v`, `items[0][price]=p`).
    pub fn form<T: Serialize + ?Sized>(&mut self, body: &T, deep: &[&str]) {
        match to_value(body) {
            Ok(v) => self.form_value(&v, deep),
            Err(e) => self.fail(e),
        }
    }

    fn form_value(&mut self, v: &Value, deep: &[&str]) {
        let mut pairs = Vec::new();
        if let Value::Object(m) = v {
            for (k, x) in m {
                // Nested objects, and lists of objects or lists, have no flat form: brackets.
                let nested = match x {
                    Value::Object(_) => true,
                    Value::Array(items) => items.iter().any(|i| i.is_object() || i.is_array()),
                    _ => false,
                };
                let style = if deep.contains(&k.as_str()) || nested {
                    Style::DeepObject
                } else {
                    Style::Form
                };
                pairs.extend(styled_pairs(k, x, style, true));
            }
        }
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, x) in &pairs {
            ser.append_pair(k, x);
        }
        self.set_body("application/x-www-form-urlencoded", ser.finish().into());
    }

    /// Send `body` as an XML document of `shape` with `content_type` (`application/xml`, `text/xml`).
    pub fn xml<T: Serialize + ?Sized>(
        &mut self,
        content_type: &str,
        body: &T,
        shape: &'static crate::xml::XmlShape,
    ) {
        match crate::xml::write(body, shape) {
            Ok(data) => self.set_body(content_type, data.into()),
            Err(e) => self.fail(e),
        }
    }

    /// Send `body` the AWS query protocol's way: a form with `Action` and `Version` first, then the
    /// body's fields flattened by `shape` (`Name.member.N`, `Name.entry.N.key`, `Name.Field`).
    pub fn query_protocol<T: Serialize + ?Sized>(
        &mut self,
        action: &str,
        version: &str,
        body: &T,
        shape: &'static crate::xml::XmlShape,
    ) {
        let v = match to_value(body) {
            Ok(v) => v,
            Err(e) => return self.fail(e),
        };
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("Action", action);
        ser.append_pair("Version", version);
        for (k, x) in crate::xml::query_pairs(&v, shape) {
            ser.append_pair(&k, &x);
        }
        self.set_body("application/x-www-form-urlencoded", ser.finish().into());
    }

    /// A query parameter of an AWS query protocol operation: scalars as themselves, lists and
    /// structures flattened by `shape` under `name` (`Name.member.N`, `Name.Field`).
    pub fn query_flat<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
        shape: &'static crate::xml::XmlShape,
    ) {
        let v = match to_value(value) {
            Ok(v) => v,
            Err(e) => return self.fail(e),
        };
        self.opts
            .query
            .extend(crate::xml::query_pairs_at(name, &v, shape));
    }

    /// Start a multipart body; add parts with [`Op::part`] and [`Op::file`].
    pub fn multipart(&mut self) -> Multipart {
        Multipart::default()
    }

    /// Finish a multipart body; a part that could not be serialised fails the call.
    pub fn multipart_done(&mut self, mut mp: Multipart) {
        if let Some(e) = mp.invalid.take() {
            self.fail(e);
        }
        self.opts.body = mp.into_body();
    }

    /// Send raw bytes.
    pub fn bytes(&mut self, content_type: &str, data: Bytes) {
        self.set_body(content_type, data);
    }

    /// Send a body that may be large: bytes, or streamed from a file, a reader or a [`BodySource`]
    /// without being held in memory. With `content_type` the body goes out as that media type (the
    /// one the description declares); without (the description allows any), as the body's own
    /// (`application/octet-stream` for bytes and files). A per-call `Content-Type` header wins.
    pub fn body(&mut self, content_type: Option<&str>, body: Body) {
        let declared = match content_type.map(HeaderValue::from_str).transpose() {
            Ok(ct) => ct,
            Err(e) => return self.fail(Error::validation("content-type", e)),
        };
        self.opts.body = match (body, declared) {
            (Body::Bytes { data, .. }, Some(ct)) => Body::Bytes {
                content_type: ct,
                data,
            },
            (Body::Stream { source, .. }, Some(ct)) => Body::Stream {
                content_type: Some(ct),
                source,
            },
            (body, _) => body,
        };
    }

    /// Send text.
    pub fn text(&mut self, content_type: &str, data: String) {
        self.set_body(content_type, data.into());
    }

    fn set_body(&mut self, content_type: &str, data: Bytes) {
        match HeaderValue::from_str(content_type) {
            Ok(ct) => {
                self.opts.body = Body::Bytes {
                    content_type: ct,
                    data,
                }
            }
            Err(e) => self.fail(Error::validation("content-type", e)),
        }
    }

    /// The operation's security requirements: alternatives, each the scheme names sent together
    /// (an empty alternative: no credentials; no alternative at all: no credentials ever).
    pub fn security(&mut self, requirements: crate::auth::Requirements) {
        self.opts.security = Some(requirements);
    }

    /// Decode error bodies with `decoder`.
    pub fn errors(&mut self, decoder: ErrorDecoder) {
        self.errors = Some(decoder);
    }

    /// Record a failed validation (from a generated `validate()`).
    pub fn check(&mut self, r: Result<(), Error>) {
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Apply per-call options chosen by the caller.
    pub fn apply(&mut self, o: CallOptions) {
        if o.timeout.is_some() {
            self.opts.timeout = o.timeout;
        }
        if o.cancel.is_some() {
            self.opts.cancel = o.cancel;
        }
        if o.idempotency_key.is_some() {
            self.opts.idempotency_key = o.idempotency_key;
        }
        if o.retry.is_some() {
            self.opts.retry = o.retry;
        }
        if let Some(d) = o.dedup {
            self.opts.dedup = d;
        }
        if let Some(c) = o.use_cache {
            self.opts.use_cache = c;
        }
        for (k, v) in o.headers.iter() {
            self.opts.headers.insert(k, v.clone());
        }
    }

    /// The call through the pipeline, its error typed by the operation's decoder. Combinators rather
    /// than an `async fn`: the pipeline's state is the bulk of every call's future, and each `async`
    /// layer around it moves it once more when awaited.
    fn run(
        self,
        c: &Connector,
    ) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + '_ {
        use futures_util::TryFutureExt;
        use futures_util::future::{Either, ready};
        match self.into_request() {
            Ok((request, decoder)) => {
                Either::Left(c.request(request).map_err(move |e| typed_error(decoder, e)))
            }
            Err(e) => Either::Right(ready(Err(e))),
        }
    }

    /// The request, or the problem found while assembling it (with the call's context). The declared
    /// `Accept` goes in unless one was set already.
    fn into_request(mut self) -> Result<(RequestOptions, Option<ErrorDecoder>), Error> {
        if let Some(declared) = self.declared_accept {
            self.accept(declared);
        }
        match self.problem {
            Some(p) => Err(p.with_context(
                None,
                &self.opts.method,
                self.opts.endpoint.as_deref().unwrap_or(""),
                0,
                std::time::Duration::ZERO,
            )),
            None => Ok((self.opts, self.errors)),
        }
    }

    /// Ask for `media_type` in `Accept` unless the caller chose one (for a plain answer, the declared
    /// media types come first).
    fn accept_answer(&mut self, media_type: &'static str) {
        let chosen = self.declared_accept.unwrap_or(media_type);
        self.accept(chosen);
    }

    /// Ask for `media_type` in `Accept` unless the caller chose one.
    fn accept(&mut self, media_type: &'static str) {
        // The first to ask wins (a stream's framing before the declared types); a header set on the
        // call wins over both, when the request is built.
        if self.opts.accept.is_none() {
            self.opts.accept = Some(media_type);
        }
    }
}

/// `e` with its body decoded by the operation's typed error decoder, when it has one that fits.
pub(crate) fn typed_error(decoder: Option<ErrorDecoder>, e: Error) -> Error {
    match (decoder, e.status(), e.raw_body()) {
        (Some(d), Some(s), Some(b)) => match d(s.as_u16(), b) {
            Some(typed) => e.with_typed_box(typed),
            None => e,
        },
        _ => e,
    }
}

/// The pages of a paginated operation, fetched lazily, their items as JSON: a builder's
/// `build_pages()`. `setup` names the operation's parameters and pointers; `configure` is the
/// caller's (resume, limits). `paginate_with()` decodes the items (`Paginator::items_as`); the sync
/// catalog checks each item itself and keeps the page's position (a checkpoint per page). An
/// operation that fails to build gives a paginator whose first step is that error.
pub fn paginate_op_pages(
    c: &Connector,
    op: Op,
    strategy: crate::paginate::Strategy,
    setup: impl FnOnce(crate::paginate::PaginateOptions) -> crate::paginate::PaginateOptions,
    configure: impl FnOnce(crate::paginate::PaginateOptions) -> crate::paginate::PaginateOptions,
) -> crate::paginate::Paginator {
    use crate::paginate::PaginateOptions;
    match op.into_request() {
        Ok((request, errors)) => {
            let mut options = configure(setup(PaginateOptions::new(request, strategy)));
            options.errors = errors;
            c.paginate(options)
        }
        Err(e) => {
            let placeholder = RequestOptions::new(Method::GET, "");
            c.paginate(PaginateOptions::new(placeholder, strategy))
                .failing(e)
        }
    }
}

/// Send an operation answered with `text/event-stream` and decode its events' data as `T`.
pub async fn send_sse<T: DeserializeOwned>(
    c: &Connector,
    mut op: Op,
) -> Result<crate::stream::SseStream<T>, Error> {
    op.accept("text/event-stream");
    let (request, errors) = op.into_request()?;
    let resp = c
        .request_stream(request)
        .await
        .map_err(|e| typed_error(errors, e))?;
    Ok(resp.sse())
}

/// Send an operation answered with `text/event-stream` and keep its events' data as text.
pub async fn send_events(
    c: &Connector,
    mut op: Op,
) -> Result<crate::stream::SseStream<String>, Error> {
    op.accept("text/event-stream");
    let (request, errors) = op.into_request()?;
    let resp = c
        .request_stream(request)
        .await
        .map_err(|e| typed_error(errors, e))?;
    Ok(resp.events())
}

/// Decode a webhook delivery's body as `T` (generated `WebhookEvent::parse`).
pub fn webhook_payload<T: DeserializeOwned>(name: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            format!("webhook `{name}` payload does not match its schema: {e}"),
        )
        .with_detail("webhook", name.to_owned())
        .with_cause(e)
    })
}

/// The error for a webhook name the description does not define.
pub fn unknown_webhook(name: &str) -> Error {
    Error::new(
        ErrorCode::ValidationError,
        ErrorSource::Unknown,
        format!("no webhook named `{name}` in the API description"),
    )
    .with_detail("webhook", name.to_owned())
}

/// Send an operation answered with newline-delimited JSON and decode each line as `T`.
pub async fn send_ndjson<T: DeserializeOwned>(
    c: &Connector,
    mut op: Op,
    media_type: &'static str,
) -> Result<crate::stream::NdjsonStream<T>, Error> {
    op.accept(media_type);
    let (request, errors) = op.into_request()?;
    let resp = c
        .request_stream(request)
        .await
        .map_err(|e| typed_error(errors, e))?;
    Ok(resp.ndjson())
}

/// Send an operation answered with a JSON text sequence (`application/json-seq`, RFC 7464) and
/// decode each record as `T`.
pub async fn send_json_seq<T: DeserializeOwned>(
    c: &Connector,
    mut op: Op,
) -> Result<crate::stream::JsonSeqStream<T>, Error> {
    op.accept("application/json-seq");
    let (request, errors) = op.into_request()?;
    let resp = c
        .request_stream(request)
        .await
        .map_err(|e| typed_error(errors, e))?;
    Ok(resp.json_seq())
}

/// Per-call options of a generated operation (all optional).
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Per-attempt timeout.
    pub timeout: Option<std::time::Duration>,
    /// Cancellation token.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Idempotency key (allows retrying unsafe methods).
    pub idempotency_key: Option<String>,
    /// Retry settings for this call.
    pub retry: Option<crate::config::RetryConfig>,
    /// Extra headers (replace generated ones of the same name).
    pub headers: http::HeaderMap,
    /// Share an identical GET in flight (None: the default, yes); see [`crate::RequestOptions::dedup`].
    pub dedup: Option<bool>,
    /// Use the response cache (None: the default, yes); see [`crate::RequestOptions::use_cache`].
    pub use_cache: Option<bool>,
}

impl CallOptions {
    /// Set a timeout.
    pub fn timeout(mut self, t: std::time::Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Set a cancellation token.
    pub fn cancel(mut self, t: tokio_util::sync::CancellationToken) -> Self {
        self.cancel = Some(t);
        self
    }
    /// Set an idempotency key.
    pub fn idempotency_key(mut self, k: impl Into<String>) -> Self {
        self.idempotency_key = Some(k.into());
        self
    }
    /// Override retry settings.
    pub fn retry(mut self, r: crate::config::RetryConfig) -> Self {
        self.retry = Some(r);
        self
    }
    /// Always send this call's own request, even when an identical one is in flight.
    pub fn no_dedup(mut self) -> Self {
        self.dedup = Some(false);
        self
    }
    /// Bypass the response cache for this call.
    pub fn no_cache(mut self) -> Self {
        self.use_cache = Some(false);
        self
    }
}

/// A typed error decoder for one error body type.
pub fn error_body<E: DeserializeOwned + Send + Sync + 'static>(
    _status: u16,
    body: &[u8],
) -> Option<Box<dyn Any + Send + Sync>> {
    serde_json::from_slice::<E>(body)
        .ok()
        .map(|e| Box::new(e) as Box<dyn Any + Send + Sync>)
}

fn parse_err(resp: &Response<Bytes>, e: serde_json::Error) -> Error {
    Error::new(
        ErrorCode::ParsingError,
        ErrorSource::Deserialize,
        format!(
            "response body does not match the described schema (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    )
    .with_status(resp.status)
    .with_request_sent(true)
    .with_raw_body(resp.data.clone())
}

/// Send and decode a JSON answer (an empty body decodes as `null`).
///
/// This and the other buffered senders are combinators over [`Op::run`], not `async fn`s: an
/// `async` layer would move the call's whole state, before it starts, once more.
pub fn send_json<T: DeserializeOwned>(
    c: &Connector,
    mut op: Op,
) -> impl Future<Output = Result<Response<T>, Error>> + Send + '_ {
    op.accept_answer("application/json");
    op.run(c).map(|r| r.and_then(|resp| resp.json()))
}

/// Send and decode an XML answer of `shape` (a query protocol answer is read from its result
/// element inside the `...Response` wrapper).
pub async fn send_xml<T: DeserializeOwned>(
    c: &Connector,
    mut op: Op,
    shape: &'static crate::xml::XmlShape,
) -> Result<Response<T>, Error> {
    op.accept_answer("application/xml, text/xml");
    let resp = op.run(c).await?;
    // An empty answer (a documented 204 beside the XML one) is `None`; for a document whose
    // fields are all optional it is the document with none of them (S3 answers many operations
    // with headers only).
    let read = if resp.data.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_value::<T>(Value::Null)
            .or_else(|e| {
                serde_json::from_value::<T>(Value::Object(serde_json::Map::new())).map_err(|_| e)
            })
            .map_err(|e| {
                Error::new(
                    ErrorCode::ParsingError,
                    ErrorSource::Deserialize,
                    format!("the XML answer is empty: {e}"),
                )
                .with_request_sent(true)
                .with_raw_body(resp.data.clone())
            })
    } else {
        crate::xml::read::<T>(&resp.data, shape)
    };
    match read {
        Ok(v) => Ok(resp.map(|_| v)),
        Err(e) => Err(resp.meta.fail(e.with_status(resp.status))),
    }
}

/// Decode one XML answer of `shape` inside a generated by-status decoder (see [`send_decode`]).
pub fn xml_decode<T: DeserializeOwned>(
    body: &[u8],
    shape: &'static crate::xml::XmlShape,
) -> Result<T, serde_json::Error> {
    crate::xml::read::<T>(body, shape)
        .map_err(|e| <serde_json::Error as serde::de::Error>::custom(e.message()))
}

/// A typed error decoder for an XML error body of `shape` (AWS's `<Error>` element is read when no
/// element is named like the shape).
pub fn xml_error_body<E: DeserializeOwned + Send + Sync + 'static>(
    body: &[u8],
    shape: &'static crate::xml::XmlShape,
) -> Option<Box<dyn Any + Send + Sync>> {
    crate::xml::read_error::<E>(body, shape).map(|e| Box::new(e) as Box<dyn Any + Send + Sync>)
}

/// The provider's error code in an error body (`<Code>`, or a JSON `__type` after its `#`), which
/// selects the typed error of operations whose errors are told apart by code, not status.
pub fn error_code(body: &[u8]) -> Option<String> {
    crate::error::provider::code_and_message(&http::HeaderMap::new(), body).map(|(c, _)| c)
}

/// Send and decode by status with a generated decoder.
pub fn send_decode<'a, T: 'a>(
    c: &'a Connector,
    mut op: Op,
    decode: fn(u16, &[u8]) -> Result<T, serde_json::Error>,
) -> impl Future<Output = Result<Response<T>, Error>> + Send + 'a {
    op.accept_answer("application/json");
    op.run(c).map(move |r| {
        let resp = r?;
        let body: &[u8] = if resp.data.is_empty() {
            b"null"
        } else {
            &resp.data
        };
        match decode(resp.status.as_u16(), body) {
            Ok(v) => Ok(resp.map(|_| v)),
            Err(e) => Err(resp.meta.fail(parse_err(&resp, e))),
        }
    })
}

/// Send and ignore the body.
pub fn send_unit(
    c: &Connector,
    op: Op,
) -> impl Future<Output = Result<Response<()>, Error>> + Send + '_ {
    op.run(c).map(|r| r.map(|resp| resp.map(|_| ())))
}

/// Send and return the body as text.
pub fn send_text(
    c: &Connector,
    op: Op,
) -> impl Future<Output = Result<Response<String>, Error>> + Send + '_ {
    op.run(c).map(|r| r.and_then(Response::text))
}

/// Send and return the body as bytes.
pub fn send_bytes(
    c: &Connector,
    op: Op,
) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + '_ {
    op.run(c)
}

/// Send and hand the answer's body over unread, chunk by chunk (bounded memory): a binary answer
/// of any size. Error statuses are read in full and decoded as usual.
pub async fn send_stream(c: &Connector, op: Op) -> Result<crate::stream::StreamingResponse, Error> {
    let (request, errors) = op.into_request()?;
    c.request_stream(request)
        .await
        .map_err(|e| typed_error(errors, e))
}

/// Send and write the answer's body to the file at `path` with [`Connector::download`]: through a
/// temporary sibling, resumed with `Range` + `If-Range` after a dropped connection, checked against
/// a sha-256 digest header when the server sends one.
pub async fn download_to(
    c: &Connector,
    op: Op,
    path: std::path::PathBuf,
) -> Result<crate::transfer::DownloadReport, Error> {
    let (request, errors) = op.into_request()?;
    c.download(crate::transfer::DownloadOptions::to_file(request, path))
        .await
        .map_err(|e| typed_error(errors, e))
}

/// A value a typed response header holds: how its text is read. Numbers go through
/// [`crate::bounded`] (integers saturate at their type's bounds instead of failing).
pub trait HeaderField: Sized {
    /// What the value is, for the error when the text is not one (`an integer`).
    const KIND: &'static str;
    /// The value of the header's text, or None when the text is not one.
    fn parse_header(text: &str) -> Option<Self>;
}

impl HeaderField for String {
    const KIND: &'static str = "text";
    fn parse_header(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl HeaderField for bool {
    const KIND: &'static str = "a boolean";
    fn parse_header(text: &str) -> Option<Self> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Some(true),
            t if t.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

impl HeaderField for i64 {
    const KIND: &'static str = "an integer";
    fn parse_header(text: &str) -> Option<Self> {
        crate::bounded::parse_i64(text)
    }
}

impl HeaderField for i32 {
    const KIND: &'static str = "an integer";
    fn parse_header(text: &str) -> Option<Self> {
        let n = crate::bounded::parse_i64(text)?;
        Some(n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }
}

impl HeaderField for u64 {
    const KIND: &'static str = "a non-negative integer";
    fn parse_header(text: &str) -> Option<Self> {
        crate::bounded::parse_u64(text)
    }
}

impl HeaderField for u32 {
    const KIND: &'static str = "a non-negative integer";
    fn parse_header(text: &str) -> Option<Self> {
        Some(crate::bounded::parse_u64(text)?.min(u64::from(u32::MAX)) as u32)
    }
}

impl HeaderField for f64 {
    const KIND: &'static str = "a number";
    fn parse_header(text: &str) -> Option<Self> {
        text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

/// The typed value of the response header `name` (the first, when it is repeated): None when it is
/// absent; a PARSING_ERROR naming the header when its text is not UTF-8 or not a `T`.
pub fn header<T: HeaderField>(headers: &http::HeaderMap, name: &str) -> Result<Option<T>, Error> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let bad = |why: String| {
        Error::new(
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            format!("response header `{name}` {why}"),
        )
        .with_detail("header", name.to_owned())
    };
    let text = value
        .to_str()
        .map_err(|_| bad("is not visible ASCII text".to_owned()))?;
    match T::parse_header(text) {
        Some(v) => Ok(Some(v)),
        None => Err(bad(format!("is {text:?}, not {}", T::KIND))),
    }
}

/// Like [`header`], for a header the description says is always sent: its absence is a
/// PARSING_ERROR naming it.
pub fn required_header<T: HeaderField>(headers: &http::HeaderMap, name: &str) -> Result<T, Error> {
    header(headers, name)?.ok_or_else(|| {
        Error::new(
            ErrorCode::ParsingError,
            ErrorSource::Deserialize,
            format!("response header `{name}` is required by the description but absent"),
        )
        .with_detail("header", name.to_owned())
    })
}

/// A decoded answer with its typed headers read by `parse` (a generated `<Operation>Headers`); a
/// header that does not parse fails the call with the answer's context.
pub fn with_headers<T, H>(
    response: Response<T>,
    parse: fn(&http::HeaderMap) -> Result<H, Error>,
) -> Result<Response<(T, H)>, Error> {
    match parse(&response.headers) {
        Ok(h) => Ok(response.map(|data| (data, h))),
        Err(e) => Err(response
            .meta
            .fail(e.with_status(response.status).with_request_sent(true))),
    }
}

/// A `multipart/form-data` body under construction.
///
/// Text and in-memory file parts are framed into one buffer; parts added with
/// [`Multipart::stream`] are not read until the body is sent, and are read afresh for every attempt
/// when their source is replayable. With only in-memory parts the result is a buffered
/// [`Body::Bytes`]; with a streamed part it is a [`Body::Stream`] whose length (sent as
/// `Content-Length`) is known when every streamed part's length is.
#[derive(Default)]
pub struct Multipart {
    boundary: String,
    /// Framing and in-memory parts not yet moved into `segments`.
    data: Vec<u8>,
    /// Finished pieces, in order; empty while every part is in memory.
    segments: Vec<BodySource>,
    /// The first value that could not be serialised (see [`Multipart::error`]).
    invalid: Option<Error>,
}

impl Multipart {
    /// An empty multipart body with a fresh random boundary.
    pub fn new() -> Self {
        Multipart::default()
    }

    fn start(&mut self, name: &str) {
        if self.boundary.is_empty() {
            self.boundary = format!("connector-{}", uuid::Uuid::new_v4().simple());
        }
        let _ = write!(
            Extend(&mut self.data),
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
            self.boundary,
            escape_quoted(name)
        );
    }

    /// A text part from any value (strings as is, numbers and booleans as text, objects as JSON); None
    /// and null are left out; arrays repeat the part.
    /// A value that cannot be serialised adds nothing and is kept as the body's [`Multipart::error`].
    pub fn part<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) {
        if let Some(v) = self.serialise(name, value) {
            self.part_value(name, &v);
        }
    }

    /// The first part whose value could not be serialised, as a VALIDATION_ERROR naming it. A request
    /// whose body has one is not sent ([`Op::multipart_done`] fails the call with it).
    pub fn error(&self) -> Option<&Error> {
        self.invalid.as_ref()
    }

    fn serialise<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Option<Value> {
        match serde_json::to_value(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid
                    .get_or_insert_with(|| Error::validation(name, e));
                None
            }
        }
    }

    /// Like [`Multipart::part`], but arrays and objects become bracket-named parts, as some vendors
    /// document for multipart forms: `tags[]=a`, `expires_after[anchor]=v`, `items[0][name]=v`.
    pub fn part_brackets<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) {
        if let Some(v) = self.serialise(name, value) {
            self.bracket_value(name, &v);
        }
    }

    fn bracket_value(&mut self, name: &str, v: &Value) {
        match v {
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                for i in items {
                    self.part_value(&format!("{name}[]"), i);
                }
            }
            Value::Array(items) => {
                for (n, i) in items.iter().enumerate() {
                    self.bracket_value(&format!("{name}[{n}]"), i);
                }
            }
            Value::Object(fields) => {
                for (k, x) in fields {
                    self.bracket_value(&format!("{name}[{k}]"), x);
                }
            }
            other => self.part_value(name, other),
        }
    }

    fn part_value(&mut self, name: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::Array(items) => {
                for i in items {
                    self.part_value(name, i);
                }
            }
            Value::Object(_) => {
                self.start(name);
                self.data
                    .extend_from_slice(b"\r\nContent-Type: application/json\r\n\r\n");
                self.data.extend_from_slice(v.to_string().as_bytes());
                self.data.extend_from_slice(b"\r\n");
            }
            other => {
                self.start(name);
                self.data.extend_from_slice(b"\r\n\r\n");
                self.data
                    .extend_from_slice(scalar(other).unwrap_or_default().as_bytes());
                self.data.extend_from_slice(b"\r\n");
            }
        }
    }

    fn file_head(&mut self, name: &str, filename: Option<&str>, content_type: Option<&str>) {
        self.start(name);
        let filename = escape_quoted(filename.unwrap_or(name));
        // A content type with a line break would forge part headers; it is replaced.
        let ct = content_type
            .filter(|c| !c.contains(['\r', '\n']))
            .unwrap_or("application/octet-stream");
        let _ = write!(
            Extend(&mut self.data),
            "; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
        );
    }

    /// A file part.
    pub fn file(&mut self, name: &str, file: &FilePart) {
        self.file_head(name, file.filename.as_deref(), file.content_type.as_deref());
        self.data.extend_from_slice(&file.data);
        self.data.extend_from_slice(b"\r\n");
    }

    /// Optional file part.
    pub fn file_opt(&mut self, name: &str, file: &Option<FilePart>) {
        if let Some(f) = file {
            self.file(name, f);
        }
    }

    /// A file part whose content is streamed from `source` when the body is sent (see
    /// [`BodySource::file`], [`BodySource::reader_factory`]); `content_type` defaults to
    /// `application/octet-stream`, `filename` to the part name.
    pub fn stream(
        &mut self,
        name: &str,
        filename: Option<&str>,
        content_type: Option<&str>,
        source: BodySource,
    ) {
        self.file_head(name, filename, content_type);
        let framing = std::mem::take(&mut self.data);
        self.segments.push(BodySource::bytes(framing));
        self.segments.push(source);
        self.data.extend_from_slice(b"\r\n");
    }

    /// The finished body, with `multipart/form-data; boundary=...` as its content type.
    pub fn into_body(mut self) -> Body {
        if self.boundary.is_empty() {
            self.boundary = format!("connector-{}", uuid::Uuid::new_v4().simple());
        }
        let _ = write!(Extend(&mut self.data), "--{}--\r\n", self.boundary);
        let ct = format!("multipart/form-data; boundary={}", self.boundary);
        // The boundary is `connector-` and hex digits: always a valid header value.
        let content_type = HeaderValue::from_str(&ct)
            .unwrap_or_else(|_| HeaderValue::from_static("multipart/form-data"));
        if self.segments.is_empty() {
            return Body::Bytes {
                content_type,
                data: self.data.into(),
            };
        }
        self.segments.push(BodySource::bytes(self.data));
        Body::Stream {
            content_type: Some(content_type),
            source: BodySource::concat(self.segments),
        }
    }
}

/// A name inside a quoted header parameter: quotes and line breaks escaped as in HTML forms.
fn escape_quoted(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

struct Extend<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for Extend<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A file to upload in a multipart body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePart {
    /// File name sent in the part header (defaults to the part name).
    pub filename: Option<String>,
    /// Content type (defaults to `application/octet-stream`).
    pub content_type: Option<String>,
    /// The bytes.
    pub data: Bytes,
}

impl FilePart {
    /// A file from bytes with a name.
    pub fn new(filename: impl Into<String>, data: impl Into<Bytes>) -> Self {
        FilePart {
            filename: Some(filename.into()),
            content_type: None,
            data: data.into(),
        }
    }
    /// Set the content type.
    pub fn content_type(mut self, ct: impl Into<String>) -> Self {
        self.content_type = Some(ct.into());
        self
    }
}

impl Serialize for FilePart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.filename.as_deref().unwrap_or(""))
    }
}

impl<'de> Deserialize<'de> for FilePart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = String::deserialize(d)?;
        Ok(FilePart {
            filename: None,
            content_type: None,
            data: data.into(),
        })
    }
}

/// Bytes carried as base64 text in JSON (`format: byte`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Base64(pub Vec<u8>);

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let s = String::deserialize(d)?;
        let t = s.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
            .map(Base64)
            .map_err(serde::de::Error::custom)
    }
}

/// Numbers that may arrive as decimal text (`"19.720000"`, as some APIs send amounts and
/// coordinates): `deserialize_with` helpers that take a JSON number or a string that parses exactly
/// as the field's type, and refuse anything else.
pub mod lenient {
    use std::str::FromStr;

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn from_value<T: DeserializeOwned + FromStr, E: serde::de::Error>(v: Value) -> Result<T, E> {
        match v {
            Value::String(text) => text
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("`{text}` is not a number"))),
            Value::Number(n) => T::deserialize(n).map_err(E::custom),
            other => Err(E::custom(format!("expected a number, found {other}"))),
        }
    }

    /// A number, or text holding one.
    pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned + FromStr,
    {
        from_value(Value::deserialize(d)?)
    }

    /// [`number`] that may be null.
    pub fn optional_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned + FromStr,
    {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => from_value::<T, D::Error>(v).map(Some),
        }
    }
}

/// What generated `Deserialize` impls of model structs call: they read the object's keys
/// themselves (one local and one match arm per field), which compiles to a fraction of what serde's
/// derive expands to for the same struct. Everything a struct does not need to spell out itself
/// (the visitor, the reads into a local, skipping) lives here once, so each model carries only its
/// own arms.
pub mod de {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;
    use std::str::FromStr;

    use serde::de::{DeserializeOwned, Error, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    /// A model struct read from a JSON object by [`crate::__struct_de!`]: its name for messages,
    /// and the loop over the object's entries.
    pub trait Object: Sized {
        /// The struct's name, as in serde's `invalid type: ..., expected struct Name`.
        const NAME: &'static str;
        /// Reads the object's entries and builds the struct.
        fn visit<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    }

    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: Object> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "struct {}", T::NAME)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::visit(map)
        }
    }

    /// `Deserialize::deserialize` of every model struct: one visitor for all of them.
    pub fn object<'de, D: Deserializer<'de>, T: Object>(d: D) -> Result<T, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData))
    }

    /// The next value into a local that holds whatever was read (`req` and `tri` fields).
    #[inline]
    pub fn read<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
        map: &mut A,
        slot: &mut Option<T>,
    ) -> Result<(), A::Error> {
        *slot = Some(map.next_value()?);
        Ok(())
    }

    /// The next value, null being `None` (`opt` fields).
    #[inline]
    pub fn read_opt<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
        map: &mut A,
        slot: &mut Option<T>,
    ) -> Result<(), A::Error> {
        *slot = map.next_value()?;
        Ok(())
    }

    /// A number that may arrive as decimal text ([`Lenient`]; `reqn` fields).
    #[inline]
    pub fn read_num<'de, A: MapAccess<'de>>(
        map: &mut A,
        slot: &mut Option<f64>,
    ) -> Result<(), A::Error> {
        *slot = Some(map.next_value::<Lenient<f64>>()?.0);
        Ok(())
    }

    /// [`read_num`] that may be null ([`LenientOption`]; `optn` fields).
    #[inline]
    pub fn read_opt_num<'de, A: MapAccess<'de>>(
        map: &mut A,
        slot: &mut Option<f64>,
    ) -> Result<(), A::Error> {
        *slot = map.next_value::<LenientOption<f64>>()?.0;
        Ok(())
    }

    /// An object key, borrowed from the input when it can be.
    pub struct Key<'de>(pub Cow<'de, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E: Error>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E: Error>(self, v: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v)))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    /// Skips the value of a key the struct does not describe.
    pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
        map.next_value::<serde::de::IgnoredAny>().map(|_| ())
    }

    /// A number, or text holding one ([`super::lenient::number`]).
    pub struct Lenient<T>(pub T);

    impl<'de, T: DeserializeOwned + FromStr> Deserialize<'de> for Lenient<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::lenient::number(d).map(Lenient)
        }
    }

    /// [`Lenient`] that may be null ([`super::lenient::optional_number`]).
    pub struct LenientOption<T>(pub Option<T>);

    impl<'de, T: DeserializeOwned + FromStr> Deserialize<'de> for LenientOption<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::lenient::optional_number(d).map(LenientOption)
        }
    }
}

/// serde `with` module for tri-state fields (`Option<Option<T>>`): absent is `None`, `null` is
/// `Some(None)`, a value is `Some(Some(v))`. Use with `default` and `skip_serializing_if = "Option::is_none"`.
pub mod tri_state {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialize: `Some(None)` as null.
    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    /// Deserialize: a present field (null included) is `Some`.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Validation helpers called by generated `validate()` methods.
pub mod check {
    use crate::error::Error;

    fn outside(n: u64, min: Option<u64>, max: Option<u64>) -> bool {
        min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m)
    }

    /// String length in characters within bounds.
    pub fn length(field: &str, s: &str, min: Option<u64>, max: Option<u64>) -> Result<(), Error> {
        let n = s.chars().count() as u64;
        if outside(n, min, max) {
            return Err(Error::validation(
                field,
                format!("length {n} is outside {}", bounds(min, max)),
            ));
        }
        Ok(())
    }

    /// String length within bounds, and matching an OpenAPI `pattern` (unanchored, as in ECMA-262:
    /// the pattern must match somewhere in the value). Patterns are compiled once and cached.
    pub fn string(
        field: &str,
        s: &str,
        min: Option<u64>,
        max: Option<u64>,
        pattern: &'static str,
    ) -> Result<(), Error> {
        length(field, s, min, max)?;
        static CACHE: std::sync::OnceLock<
            std::sync::Mutex<std::collections::HashMap<&'static str, Option<regex_lite::Regex>>>,
        > = std::sync::OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        // A pattern the engine cannot compile is not checked (the generator only emits ones it can).
        let re = map
            .entry(pattern)
            .or_insert_with(|| regex_lite::Regex::new(pattern).ok());
        match re {
            Some(re) if !re.is_match(s) => Err(Error::validation(
                field,
                format!("{s:?} does not match the pattern {pattern:?}"),
            )),
            _ => Ok(()),
        }
    }

    /// List length within bounds.
    pub fn items(field: &str, n: usize, min: Option<u64>, max: Option<u64>) -> Result<(), Error> {
        let n = n as u64;
        if outside(n, min, max) {
            return Err(Error::validation(
                field,
                format!("{n} items is outside {}", bounds(min, max)),
            ));
        }
        Ok(())
    }

    /// Number within bounds (exclusive where flagged).
    pub fn range(
        field: &str,
        v: f64,
        min: Option<(f64, bool)>,
        max: Option<(f64, bool)>,
    ) -> Result<(), Error> {
        let low = min.is_some_and(|(m, ex)| if ex { v <= m } else { v < m });
        let high = max.is_some_and(|(m, ex)| if ex { v >= m } else { v > m });
        if low || high {
            let lo = min.map(|(m, ex)| format!("{}{m}", if ex { ">" } else { ">=" }));
            let hi = max.map(|(m, ex)| format!("{}{m}", if ex { "<" } else { "<=" }));
            let rule: Vec<String> = lo.into_iter().chain(hi).collect();
            return Err(Error::validation(
                field,
                format!("{v} must be {}", rule.join(" and ")),
            ));
        }
        Ok(())
    }

    fn bounds(min: Option<u64>, max: Option<u64>) -> String {
        match (min, max) {
            (Some(a), Some(b)) => format!("{a}..={b}"),
            (Some(a), None) => format!("{a}.."),
            (None, Some(b)) => format!("..={b}"),
            (None, None) => "any".into(),
        }
    }
}

/// Declare a string enum with an `Unknown(String)` variant, `as_str`, `Display`, `FromStr` and serde.
#[doc(hidden)]
#[macro_export]
macro_rules! __string_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vm])* $variant,)*
            /// A value this version of the connector does not know.
            Unknown(::std::string::String),
        }
        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self { $(Self::$variant => $value,)* Self::Unknown(s) => s }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                match s { $($value => Self::$variant,)* other => Self::Unknown(other.to_owned()) }
            }
        }
        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::string::String as $crate::__private::serde::Deserialize>::deserialize(d)?;
                ::std::result::Result::Ok(Self::from(s.as_str()))
            }
        }
    };
}

/// `Deserialize` for a generated struct, written out rather than derived: one local and one match
/// arm per field over the object's keys, unknown keys skipped (or kept in the `..` map field), which
/// compiles to a fraction of serde's derive. The input lists the required fields, then the others,
/// each as `name "wire" read,` where `read` is the [`de`] function filling its local:
/// - required: [`de::read`], or [`de::read_num`] for a number that may arrive as decimal text;
///   absent is serde's `missing field` error;
/// - others: [`de::read_opt`] for an `Option` (absent or null is `None`), [`de::read_opt_num`] for
///   an optional number, [`de::read`] for a tri-state `Option<Option<T>>` (`Some` once present,
///   null included).
///
/// Types are not repeated: each local takes its field's type. Nothing here calls another macro
/// per field, and a struct's only generic body is its own loop: both are what rustc's memory
/// grows with across thousands of models. Wire names are distinct within a struct.
#[doc(hidden)]
#[macro_export]
macro_rules! __struct_de {
    ($name:ident {
        req [$($r:ident $rw:literal $rread:ident,)*]
        opt [$($o:ident $ow:literal $oread:ident,)*]
        $(.. $extra:ident)?
    }) => {
        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                $crate::__private::de::object(d)
            }
        }
        impl $crate::__private::de::Object for $name {
            const NAME: &'static str = ::std::stringify!($name);
            fn visit<'de, A: $crate::__private::serde::de::MapAccess<'de>>(mut __map: A) -> ::std::result::Result<Self, A::Error> {
                $(let mut $r = ::std::option::Option::None;)*
                $(let mut $o = ::std::option::Option::None;)*
                $(let mut $extra = ::std::collections::BTreeMap::new();)?
                while let ::std::option::Option::Some(__key) = __map.next_key::<$crate::__private::de::Key<'de>>()? {
                    #[allow(unreachable_patterns)]
                    let __read = match &*__key.0 {
                        $($rw => $crate::__private::de::$rread(&mut __map, &mut $r),)*
                        $($ow => $crate::__private::de::$oread(&mut __map, &mut $o),)*
                        _ => $crate::__struct_de!(@other __map __key $($extra)?),
                    };
                    __read?;
                }
                ::std::result::Result::Ok($name {
                    $($r: match $r {
                        ::std::option::Option::Some(v) => v,
                        ::std::option::Option::None => return ::std::result::Result::Err(
                            <A::Error as $crate::__private::serde::de::Error>::missing_field($rw),
                        ),
                    },)*
                    $($o,)*
                    $($extra,)?
                })
            }
        }
    };
    (@other $map:ident $key:ident) => { $crate::__private::de::skip(&mut $map) };
    (@other $map:ident $key:ident $extra:ident) => {
        $map.next_value().map(|v| {
            $extra.insert($key.0.into_owned(), v);
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    use crate::error::ErrorCode;

    fn q(v: Value, style: Style, explode: bool) -> Vec<(String, String)> {
        styled_pairs("p", &v, style, explode)
    }
    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn typed_headers_parse_saturate_and_name_the_header_that_does_not() {
        let mut h = http::HeaderMap::new();
        h.insert("content-length", "99999999999999999999999".parse().unwrap());
        h.insert("x-count", "-12".parse().unwrap());
        h.insert("x-flag", "TRUE".parse().unwrap());
        h.insert("x-ratio", "0.5".parse().unwrap());
        h.insert("etag", "\"v1\"".parse().unwrap());
        h.insert("x-bad", "twelve".parse().unwrap());
        h.insert("x-binary", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(header::<u64>(&h, "content-length").unwrap(), Some(u64::MAX));
        assert_eq!(header::<u32>(&h, "content-length").unwrap(), Some(u32::MAX));
        assert_eq!(header::<i32>(&h, "x-count").unwrap(), Some(-12));
        assert_eq!(header::<bool>(&h, "x-flag").unwrap(), Some(true));
        assert_eq!(header::<f64>(&h, "x-ratio").unwrap(), Some(0.5));
        assert_eq!(
            header::<String>(&h, "ETag").unwrap().as_deref(),
            Some("\"v1\"")
        );
        assert_eq!(header::<i64>(&h, "x-absent").unwrap(), None);
        let e = header::<i64>(&h, "x-bad").unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert!(e.to_string().contains("`x-bad`"), "{e}");
        let e = header::<String>(&h, "x-binary").unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        let e = required_header::<String>(&h, "x-request-id").unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError);
        assert!(e.to_string().contains("`x-request-id`"), "{e}");
    }

    #[test]
    fn a_fixed_header_yields_to_a_header_parameter_and_an_invalid_one_fails_the_call() {
        let mut op = Op::new(Method::POST, "/");
        op.header("X-Amz-Target", &"Custom.Op", false);
        op.fixed_header("X-Amz-Target", "Svc.Op");
        op.fixed_header("X-Other", "fixed");
        assert_eq!(op.opts.headers.get_all("x-amz-target").iter().count(), 1);
        assert_eq!(op.opts.headers["x-amz-target"], "Custom.Op");
        assert_eq!(op.opts.headers["x-other"], "fixed");
        op.fixed_header("X-Bad", "line\nbreak");
        assert!(op.into_request().is_err());
    }

    #[test]
    fn query_styles_follow_openapi() {
        assert_eq!(q(json!(5), Style::Form, true), pairs(&[("p", "5")]));
        assert_eq!(q(json!(null), Style::Form, true), pairs(&[]));
        assert_eq!(
            q(json!(["a", "b"]), Style::Form, true),
            pairs(&[("p", "a"), ("p", "b")])
        );
        assert_eq!(
            q(json!(["a", "b"]), Style::Form, false),
            pairs(&[("p", "a,b")])
        );
        assert_eq!(
            q(json!(["a", "b"]), Style::SpaceDelimited, false),
            pairs(&[("p", "a b")])
        );
        assert_eq!(
            q(json!(["a", "b"]), Style::PipeDelimited, false),
            pairs(&[("p", "a|b")])
        );
        assert_eq!(
            q(json!({"x": 1, "y": "z"}), Style::Form, true),
            pairs(&[("x", "1"), ("y", "z")])
        );
        assert_eq!(
            q(json!({"x": 1, "y": "z"}), Style::Form, false),
            pairs(&[("p", "x,1,y,z")])
        );
        assert_eq!(
            q(
                json!({"gte": 1, "tags": ["a"], "n": {"m": true}}),
                Style::DeepObject,
                true
            ),
            pairs(&[("p[gte]", "1"), ("p[tags][0]", "a"), ("p[n][m]", "true")])
        );
    }

    #[test]
    fn querystring_is_the_whole_query_form_or_json() {
        let mut op = Op::new(Method::GET, "/q");
        op.querystring_form(&json!({"a": 1, "b": "x y", "t": ["p", "q"], "n": {"m": true}}));
        assert_eq!(
            op.opts.raw_query.as_deref(),
            Some("a=1&b=x+y&t=p&t=q&n%5Bm%5D=true")
        );
        let mut op = Op::new(Method::GET, "/q");
        op.querystring_form(&"free text&more");
        assert_eq!(op.opts.raw_query.as_deref(), Some("free%20text%26more"));
        let mut op = Op::new(Method::GET, "/q");
        op.querystring_json(&json!({"a": 1, "s": "é"}));
        assert_eq!(
            op.opts.raw_query.as_deref(),
            Some("%7B%22a%22%3A1%2C%22s%22%3A%22%C3%A9%22%7D")
        );
        let mut op = Op::new(Method::GET, "/q");
        op.querystring_form(&Option::<BTreeMap<String, String>>::None);
        assert_eq!(op.opts.raw_query, None);
    }

    #[test]
    fn declared_accept_unless_a_header_or_the_caller_chose_one() {
        let accept = |op: Op| -> Option<String> {
            let (r, _) = op.into_request().expect("request");
            // The call's own header, else the one the operation asks for.
            match r.headers.get(http::header::ACCEPT) {
                Some(v) => Some(v.to_str().unwrap().to_owned()),
                None => r.accept.map(str::to_owned),
            }
        };
        // Plain answers: declared, else the sender's own.
        let mut op = Op::new(Method::GET, "/a");
        op.accept_types("application/hal+json, application/problem+json");
        op.accept_answer("application/json");
        assert_eq!(
            accept(op).as_deref(),
            Some("application/hal+json, application/problem+json")
        );
        let mut op = Op::new(Method::GET, "/a");
        op.accept_answer("application/json");
        assert_eq!(accept(op).as_deref(), Some("application/json"));
        // Senders without a default of their own (text, bytes) still send the declared types.
        let mut op = Op::new(Method::GET, "/a");
        op.accept_types("text/csv");
        assert_eq!(accept(op).as_deref(), Some("text/csv"));
        // A stream asks for its framing.
        let mut op = Op::new(Method::GET, "/a");
        op.accept_types("application/json, text/event-stream");
        op.accept("text/event-stream");
        assert_eq!(accept(op).as_deref(), Some("text/event-stream"));
        // A header parameter, then a per-call header, win.
        let mut op = Op::new(Method::GET, "/a");
        op.accept_types("application/json");
        op.header("Accept", "application/vnd.acme+json;version=2", false);
        op.accept_answer("application/json");
        assert_eq!(
            accept(op).as_deref(),
            Some("application/vnd.acme+json;version=2")
        );
        let mut op = Op::new(Method::GET, "/a");
        op.accept_types("application/json");
        let mut o = CallOptions::default();
        o.headers
            .insert(http::header::ACCEPT, HeaderValue::from_static("text/plain"));
        op.apply(o);
        assert_eq!(accept(op).as_deref(), Some("text/plain"));
    }

    #[test]
    fn path_styles_encode_segments() {
        let mut op = Op::new(Method::GET, "/a/{id}/{tags}/{l}/{m}");
        op.path("id", "x y/z", Style::Simple, false);
        op.path("tags", &["a", "b"], Style::Simple, false);
        op.path("l", &5, Style::Label, false);
        op.path("m", &"v", Style::Matrix, false);
        assert_eq!(op.opts.path, "/a/x%20y%2Fz/a,b/.5/;m=v");
        let mut op = Op::new(Method::GET, "/{l}/{le}/{m}/{me}/{o}/{oe}");
        op.path("l", &["a", "b,c"], Style::Label, false);
        op.path("le", &["a", "b"], Style::Label, true);
        op.path("m", &["a", "b"], Style::Matrix, false);
        op.path("me", &["a", "b"], Style::Matrix, true);
        op.path("o", &json!({"x": 1, "y": "a b"}), Style::Simple, false);
        op.path("oe", &json!({"x": 1, "y": 2}), Style::Matrix, true);
        assert_eq!(
            op.opts.path,
            "/.a,b%2Cc/.a.b/;m=a,b/;me=a;me=b/x,1,y,a%20b/;x=1;y=2"
        );
    }

    #[test]
    fn dot_segments_are_refused() {
        for (style, value) in [
            (Style::Simple, ".."),
            (Style::Simple, "."),
            (Style::Label, "."),
        ] {
            let mut op = Op::new(Method::GET, "/a/{id}/b");
            op.path("id", value, style, false);
            assert!(op.problem.is_some(), "{value:?} in {style:?}");
        }
        let mut op = Op::new(Method::GET, "/a/{id}.json");
        op.path("id", "..", Style::Simple, false);
        assert_eq!(
            (op.problem.is_none(), op.opts.path.as_str()),
            (true, "/a/...json")
        );
    }

    #[test]
    fn form_bodies_use_brackets_for_deep_fields() {
        let mut op = Op::new(Method::POST, "/");
        op.form(
            &json!({"amount": 5, "expand": ["a", "b"], "metadata": {"k": "v"}, "skip": null, "tags": ["t", "u"], "items": [{"p": 1}]}),
            &["expand"],
        );
        let Body::Bytes { data, .. } = &op.opts.body else {
            panic!()
        };
        assert_eq!(
            data,
            "amount=5&expand%5B0%5D=a&expand%5B1%5D=b&metadata%5Bk%5D=v&tags=t&tags=u&items%5B0%5D%5Bp%5D=1"
        );
    }

    #[test]
    fn multipart_frames_parts() {
        let mut mp = Multipart::default();
        mp.part("purpose", "fine-tune");
        mp.part("n", &Some(3));
        mp.part("none", &None::<u8>);
        mp.file(
            "file",
            &FilePart::new("a.txt", "hello").content_type("text/plain"),
        );
        let Body::Bytes { content_type, data } = mp.into_body() else {
            panic!("in-memory parts make a buffered body")
        };
        let ct = content_type.to_str().unwrap();
        let b = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(data.to_vec()).unwrap();
        assert_eq!(
            text,
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--{b}\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n3\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{b}--\r\n"
            )
        );
    }

    #[test]
    fn a_part_that_cannot_be_serialised_fails_the_call() {
        // JSON object keys must be strings: this map has no JSON form.
        let unserialisable: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let mut op = Op::new(Method::POST, "/uploads");
        let mut mp = op.multipart();
        mp.part("purpose", "fine-tune");
        mp.part("grid", &unserialisable);
        mp.part_brackets("also", &unserialisable);
        let error = mp.error().expect("the failure is kept");
        assert_eq!(error.code(), ErrorCode::ValidationError);
        assert!(error.message().contains("grid"), "{}", error.message());
        op.multipart_done(mp);
        let error = op.into_request().expect_err("nothing is sent");
        assert_eq!(error.code(), ErrorCode::ValidationError);
        assert!(error.message().contains("grid"), "{}", error.message());
    }

    #[test]
    fn bracket_parts_name_nested_values() {
        let mut mp = Multipart::default();
        mp.part_brackets("granularity", &json!(["word", "segment"]));
        mp.part_brackets(
            "expires_after",
            &json!({"anchor": "created_at", "seconds": 60}),
        );
        mp.part_brackets("items", &json!([{"name": "n"}]));
        mp.part_brackets("model", "m");
        let Body::Bytes { data, .. } = mp.into_body() else {
            panic!("in-memory parts make a buffered body")
        };
        let text = String::from_utf8(data.to_vec()).unwrap();
        let parts: Vec<(&str, &str)> = text
            .split("Content-Disposition: form-data; name=\"")
            .skip(1)
            .map(|p| {
                let (name, rest) = p.split_once('"').unwrap();
                let value = rest
                    .trim_start_matches("\r\n\r\n")
                    .split("\r\n")
                    .next()
                    .unwrap();
                (name, value)
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("granularity[]", "word"),
                ("granularity[]", "segment"),
                ("expires_after[anchor]", "created_at"),
                ("expires_after[seconds]", "60"),
                ("items[0][name]", "n"),
                ("model", "m"),
            ]
        );
    }

    #[test]
    fn base64_and_tri_state_round_trip() {
        let b: Base64 = serde_json::from_str("\"aGk=\"").unwrap();
        assert_eq!(b.0, b"hi");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"aGk=\"");
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct P {
            #[serde(default, skip_serializing_if = "Option::is_none", with = "tri_state")]
            v: Option<Option<u8>>,
        }
        assert_eq!(serde_json::from_str::<P>("{}").unwrap(), P { v: None });
        assert_eq!(
            serde_json::from_str::<P>("{\"v\":null}").unwrap(),
            P { v: Some(None) }
        );
        assert_eq!(
            serde_json::from_str::<P>("{\"v\":1}").unwrap(),
            P { v: Some(Some(1)) }
        );
        assert_eq!(serde_json::to_string(&P { v: None }).unwrap(), "{}");
        assert_eq!(
            serde_json::to_string(&P { v: Some(None) }).unwrap(),
            "{\"v\":null}"
        );
    }

    crate::__string_enum! {
        /// A test enum.
        pub enum Color { Red = "red", PlusOne = "+1", }
    }

    #[test]
    fn string_enums_keep_unknown_values() {
        let c: Color = serde_json::from_str("\"red\"").unwrap();
        assert_eq!(c, Color::Red);
        let u: Color = serde_json::from_str("\"ultraviolet\"").unwrap();
        assert_eq!(u, Color::Unknown("ultraviolet".into()));
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"ultraviolet\"");
        assert_eq!(Color::PlusOne.to_string(), "+1");
    }

    #[test]
    fn checks_report_the_field() {
        assert!(check::length("name", "abc", Some(1), Some(3)).is_ok());
        let e = check::length("name", "abcd", Some(1), Some(3)).unwrap_err();
        assert_eq!(e.details()["field"], "name");
        assert!(check::range("n", 5.0, Some((5.0, true)), None).is_err());
        assert!(check::range("n", 5.0, Some((5.0, false)), Some((5.0, false))).is_ok());
        assert!(check::items("l", 0, Some(1), None).is_err());
        assert!(check::string("code", "AB-12", Some(1), None, "^[A-Z]+-[0-9]+$").is_ok());
        let e = check::string("code", "ab-12", None, None, "^[A-Z]+-[0-9]+$").unwrap_err();
        assert_eq!(e.details()["field"], "code");
        assert!(
            check::string("code", "xx AB yy", None, None, "AB").is_ok(),
            "unanchored"
        );
        assert!(
            check::string("code", "", Some(1), None, "x").is_err(),
            "length still checked"
        );
    }

    #[derive(Debug, PartialEq)]
    struct Every {
        id: String,
        score: f64,
        r#type: Option<String>,
        ratio: Option<f64>,
        note: Option<Option<String>>,
        additional_properties: BTreeMap<String, i64>,
    }
    crate::__struct_de! {
        Every {
            req [id "id" read, score "score" read_num,]
            opt [r#type "type" read_opt, ratio "ratio" read_opt_num, note "note" read,]
            ..additional_properties
        }
    }

    #[derive(Debug, PartialEq)]
    struct Closed {
        name: Option<String>,
    }
    crate::__struct_de! { Closed { req [] opt [name "name" read_opt,] } }

    #[test]
    fn struct_de_reads_every_field_kind() {
        let v: Every = serde_json::from_str(
            r#"{"id":"a","score":"19.50","type":"t","ratio":null,"note":null,"extra":3}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            Every {
                id: "a".into(),
                score: 19.5,
                r#type: Some("t".into()),
                ratio: None,
                note: Some(None),
                additional_properties: BTreeMap::from([("extra".to_owned(), 3)]),
            }
        );
        let v: Every = serde_json::from_str(r#"{"id":"b","score":2,"ratio":"0.25"}"#).unwrap();
        assert_eq!((v.ratio, v.note, v.r#type), (Some(0.25), None, None));
        let e = serde_json::from_str::<Every>(r#"{"id":"c"}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `score`"), "{e}");
        let e = serde_json::from_str::<Every>(r#"{"id":"c","score":1,"extra":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<Every>(r#"{"id":"c","score":"1x"}"#).unwrap_err();
        assert!(e.is_data(), "{e}");
        // Unknown keys are skipped where nothing keeps them; other shapes are refused.
        let v: Closed = serde_json::from_str(r#"{"zzz":{"deep":[1]},"name":"n"}"#).unwrap();
        assert_eq!(v.name.as_deref(), Some("n"));
        let e = serde_json::from_str::<Closed>("[1]").unwrap_err();
        assert!(e.to_string().contains("struct Closed"), "{e}");
    }
}
