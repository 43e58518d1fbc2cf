//! Google Cloud Storage over its JSON API, as an object_store [`ObjectStore`] sending through the
//! runtime's pipeline.
//!
//! Why not object_store's own GCS client: it writes through GCS's XML API (`PUT /bucket/object`,
//! XML multipart uploads, `x-goog-copy-source`), which fake-gcs-server, the emulator the suite runs
//! against, does not implement, so no write of it could be shown working. The JSON API is the one
//! Google's own SDKs use: uploads are `multipart/related` requests (metadata and bytes in one),
//! copies are `rewriteTo`, and preconditions are generation numbers (`ifGenerationMatch`), to which
//! entity tags are resolved here.
//!
//! Large writes are composite uploads (as `gsutil`'s parallel composite uploads): each part is an
//! object of its own under `.connector-blob-parts/<upload id>/`, uploaded concurrently, then
//! `compose` joins them (32 sources a call, in rounds for more) into the target and the parts are
//! deleted. A resumable session would take its chunks one at a time, and fake-gcs-server copies the
//! whole upload so far on every chunk (quadratic: a 1 GiB session had not finished after four
//! minutes). Composite objects carry a CRC32C but no MD5 on GCS.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_runtime::request::BodySource;
use connector_runtime::{Body, Connector, Error, Method, RequestOptions};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, PutResult, UploadPart,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::transport::{BYTES_RECEIVED, BYTES_SENT};

/// Where a GCS request's bearer token comes from.
#[derive(Clone)]
pub(crate) enum Token {
    /// No `Authorization` header (an emulator, a public bucket).
    None,
    /// A fixed OAuth2 access token.
    Static(SecretString),
    /// A service account's self-signed JWTs (object_store's GCS credential provider).
    ServiceAccount(object_store::gcp::GcpCredentialProvider),
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Token::None => "None",
            Token::Static(_) => "Static([REDACTED])",
            Token::ServiceAccount(_) => "ServiceAccount",
        })
    }
}

/// A GCS bucket over the JSON API.
#[derive(Debug, Clone)]
pub struct GcsJson {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    connector: Connector,
    base: String,
    bucket: String,
    token: Token,
}

impl fmt::Display for GcsJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcsJson({})", self.inner.bucket)
    }
}

/// What the JSON API says of an object.
struct Resource {
    meta: ObjectMeta,
    generation: Option<String>,
    attributes: Attributes,
}

impl GcsJson {
    pub(crate) fn new(connector: Connector, base: &str, bucket: &str, token: Token) -> GcsJson {
        GcsJson {
            inner: Arc::new(Shared {
                connector,
                base: base.trim_end_matches('/').to_owned(),
                bucket: bucket.to_owned(),
                token,
            }),
        }
    }

    fn object_url(&self, name: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.inner.base,
            encode(&self.inner.bucket),
            encode(name)
        )
    }

    fn upload_url(&self) -> String {
        format!(
            "{}/upload/storage/v1/b/{}/o",
            self.inner.base,
            encode(&self.inner.bucket)
        )
    }

    async fn authorize(&self, mut request: RequestOptions) -> object_store::Result<RequestOptions> {
        match &self.inner.token {
            Token::None => {}
            Token::Static(t) => {
                request = request.header("authorization", &format!("Bearer {}", t.expose_secret()));
            }
            Token::ServiceAccount(provider) => {
                let credential = provider.get_credential().await?;
                request = request.header("authorization", &format!("Bearer {}", credential.bearer));
            }
        }
        Ok(request)
    }

    async fn send(
        &self,
        request: RequestOptions,
        path: &str,
    ) -> object_store::Result<connector_runtime::Response<Bytes>> {
        let request = self.authorize(request.dedup(false)).await?;
        self.inner
            .connector
            .request(request)
            .await
            .map_err(|e| store_error(e, path))
    }

    async fn json(&self, request: RequestOptions, path: &str) -> object_store::Result<Value> {
        let answer = self.send(request, path).await?;
        serde_json::from_slice(&answer.data)
            .map_err(|e| generic(format!("GCS answered JSON that does not parse: {e}")))
    }

    /// The object's resource (metadata), as the JSON API gives it.
    async fn resource(&self, location: &Path) -> object_store::Result<Resource> {
        let request = RequestOptions::new(Method::GET, self.object_url(location.as_ref()))
            .endpoint("gcs:objects.get");
        let value = self.json(request, location.as_ref()).await?;
        parse_resource(&value)
    }

    /// `ifGenerationMatch` for a write mode: 0 for "must not exist"; for an entity tag, the
    /// generation that carries it now (a different or missing one fails as a precondition).
    async fn generation_condition(
        &self,
        location: &Path,
        mode: &PutMode,
    ) -> object_store::Result<Option<String>> {
        match mode {
            PutMode::Overwrite => Ok(None),
            PutMode::Create => Ok(Some("0".to_owned())),
            PutMode::Update(v) => {
                if let Some(g) = &v.version {
                    return Ok(Some(g.clone()));
                }
                let wanted = v.e_tag.clone().unwrap_or_default();
                let current = match self.resource(location).await {
                    Ok(r) => r,
                    Err(object_store::Error::NotFound { source, .. }) => {
                        return Err(object_store::Error::Precondition {
                            path: location.to_string(),
                            source,
                        });
                    }
                    Err(e) => return Err(e),
                };
                if current.meta.e_tag.as_deref() != Some(wanted.as_str()) {
                    return Err(object_store::Error::Precondition {
                        path: location.to_string(),
                        source: format!("the entity tag is {:?}, not {wanted}", current.meta.e_tag)
                            .into(),
                    });
                }
                Ok(current.generation)
            }
        }
    }

    /// One page of a listing.
    async fn page(
        &self,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        max: Option<usize>,
        token: Option<&str>,
    ) -> object_store::Result<(ListResult, Option<String>)> {
        let mut request = RequestOptions::new(
            Method::GET,
            format!(
                "{}/storage/v1/b/{}/o",
                self.inner.base,
                encode(&self.inner.bucket)
            ),
        )
        .endpoint("gcs:objects.list");
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
            request = request.query("prefix", p);
        }
        if let Some(d) = delimiter {
            request = request.query("delimiter", d);
        }
        if let Some(m) = max {
            request = request.query("maxResults", m.to_string());
        }
        if let Some(t) = token {
            request = request.query("pageToken", t);
        }
        let value = self.json(request, prefix.unwrap_or("")).await?;
        let objects = value
            .get("items")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|i| parse_resource(i).map(|r| r.meta))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let common_prefixes = value
            .get("prefixes")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(Value::as_str)
                    .map(|p| {
                        Path::parse(p.trim_end_matches('/')).map_err(object_store::Error::from)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let next = value
            .get("nextPageToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let mut result = ListResult {
            common_prefixes,
            objects,
            extensions: Default::default(),
        };
        result.objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok((result, next))
    }

    fn list_stream(
        &self,
        prefix: Option<String>,
        delimiter: Option<String>,
    ) -> BoxStream<'static, object_store::Result<ListResult>> {
        let this = self.clone();
        stream::try_unfold(Some(None::<String>), move |token| {
            let this = this.clone();
            let prefix = prefix.clone();
            let delimiter = delimiter.clone();
            async move {
                let Some(token) = token else { return Ok(None) };
                let (page, next) = this
                    .page(
                        prefix.as_deref(),
                        delimiter.as_deref(),
                        None,
                        token.as_deref(),
                    )
                    .await?;
                Ok(Some((page, next.map(Some))))
            }
        })
        .boxed()
    }
}

/// The JSON resource's fields as object_store's metadata, generation and attributes.
fn parse_resource(value: &Value) -> object_store::Result<Resource> {
    let text = |k: &str| value.get(k).and_then(Value::as_str);
    let name = text("name").ok_or_else(|| generic("an object resource without a name"))?;
    // Sizes and generations are decimal strings in the JSON API; anything else is refused.
    let size = match value.get("size") {
        Some(Value::String(s)) => s
            .parse::<u64>()
            .map_err(|_| generic(format!("object size `{s}` is not a number")))?,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| generic("object size is not a whole number"))?,
        _ => 0,
    };
    let updated = text("updated")
        .or_else(|| text("timeCreated"))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let generation = match value.get("generation") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut attributes = Attributes::new();
    for (field, attribute) in [
        ("contentType", Attribute::ContentType),
        ("cacheControl", Attribute::CacheControl),
        ("contentDisposition", Attribute::ContentDisposition),
        ("contentEncoding", Attribute::ContentEncoding),
        ("contentLanguage", Attribute::ContentLanguage),
    ] {
        if let Some(v) = text(field) {
            attributes.insert(attribute, v.to_owned().into());
        }
    }
    if let Some(Value::Object(m)) = value.get("metadata") {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                attributes.insert(Attribute::Metadata(k.clone().into()), v.to_owned().into());
            }
        }
    }
    Ok(Resource {
        meta: ObjectMeta {
            location: Path::parse(name)?,
            last_modified: updated,
            size,
            e_tag: text("etag").map(str::to_owned),
            version: generation.clone(),
        },
        generation,
        attributes,
    })
}

/// The JSON metadata of a new object.
fn metadata_json(name: &str, attributes: &Attributes) -> object_store::Result<String> {
    let mut doc = Map::new();
    doc.insert("name".into(), Value::String(name.to_owned()));
    let mut user = Map::new();
    for (k, v) in attributes.iter() {
        let v = Value::String(v.to_string());
        match k {
            Attribute::ContentType => doc.insert("contentType".into(), v),
            Attribute::CacheControl => doc.insert("cacheControl".into(), v),
            Attribute::ContentDisposition => doc.insert("contentDisposition".into(), v),
            Attribute::ContentEncoding => doc.insert("contentEncoding".into(), v),
            Attribute::ContentLanguage => doc.insert("contentLanguage".into(), v),
            Attribute::StorageClass => doc.insert("storageClass".into(), v),
            Attribute::Metadata(key) => user.insert(key.to_string(), v),
            _ => {
                return Err(object_store::Error::NotImplemented {
                    operation: format!("attribute {k:?}"),
                    implementer: "GcsJson".into(),
                });
            }
        };
    }
    if !user.is_empty() {
        doc.insert("metadata".into(), Value::Object(user));
    }
    Ok(Value::Object(doc).to_string())
}

#[async_trait]
impl ObjectStore for GcsJson {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let generation = self.generation_condition(location, &opts.mode).await?;
        let boundary = format!("connector-blob-{}", uuid_like());
        let head = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: {}\r\n\r\n",
            metadata_json(location.as_ref(), &opts.attributes)?,
            opts.attributes
                .get(&Attribute::ContentType)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "application/octet-stream".into())
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let size = payload.content_length() as u64;
        let mut parts = vec![BodySource::bytes(head)];
        parts.extend(payload.iter().cloned().map(BodySource::bytes));
        parts.push(BodySource::bytes(tail));
        let mut request = RequestOptions::new(Method::POST, self.upload_url())
            .endpoint("gcs:objects.insert")
            .query("uploadType", "multipart")
            .body(Body::Stream {
                content_type: Some(
                    format!("multipart/related; boundary={boundary}")
                        .parse()
                        .map_err(|_| generic("a multipart boundary is not a header value"))?,
                ),
                source: BodySource::concat(parts),
            });
        if let Some(g) = generation {
            request = request.query("ifGenerationMatch", g);
        }
        if let Some(PredefinedAcl(acl)) = opts.extensions.get::<PredefinedAcl>() {
            request = request.query("predefinedAcl", acl);
        }
        let answer = self.send(request, location.as_ref()).await?;
        metrics::counter!(BYTES_SENT, "provider" => "gcs", "operation" => "gcs:objects.insert")
            .increment(size);
        let value: Value = serde_json::from_slice(&answer.data)
            .map_err(|e| generic(format!("GCS upload answer: {e}")))?;
        let r = parse_resource(&value)?;
        Ok(PutResult {
            e_tag: r.meta.e_tag,
            version: r.generation,
            extensions: Default::default(),
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        // Fail early on attributes the JSON API cannot take.
        metadata_json(location.as_ref(), &opts.attributes)?;
        Ok(Box::new(CompositeUpload {
            store: self.clone(),
            target: location.clone(),
            attributes: opts.attributes,
            acl: opts.extensions.get::<PredefinedAcl>().map(|a| a.0.clone()),
            folder: format!("{PARTS}/{}", uuid_like()),
            parts: Vec::new(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let resource = self.resource(location).await?;
        let etag = resource.meta.e_tag.clone();
        if let Some(want) = &options.if_match {
            if want != "*" && etag.as_deref() != Some(want.as_str()) {
                return Err(object_store::Error::Precondition {
                    path: location.to_string(),
                    source: format!("the entity tag is {etag:?}, not {want}").into(),
                });
            }
        }
        if let Some(not) = &options.if_none_match {
            if not == "*" || etag.as_deref() == Some(not.as_str()) {
                return Err(object_store::Error::NotModified {
                    path: location.to_string(),
                    source: "the entity tag matches".into(),
                });
            }
        }
        let size = resource.meta.size;
        let range: Range<u64> = match &options.range {
            Some(r) => r
                .as_range(size)
                .map_err(|e| generic(format!("range of `{location}`: {e}")))?,
            None => 0..size,
        };
        let meta = resource.meta.clone();
        let attributes = resource.attributes;
        if options.head || range.is_empty() {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range,
                attributes,
                extensions: Default::default(),
            });
        }
        let mut request = RequestOptions::new(Method::GET, self.object_url(location.as_ref()))
            .endpoint("gcs:objects.get.media")
            .query("alt", "media")
            .dedup(false);
        // The bytes of the generation whose metadata was read: a rewrite in between is a 404,
        // never a mix of two versions.
        if let Some(g) = options.version.clone().or(resource.generation) {
            request = request.query("generation", g);
        }
        if options.range.is_some() {
            request = request.header("range", &format!("bytes={}-{}", range.start, range.end - 1));
        }
        let request = self.authorize(request).await?;
        let answer = self
            .inner
            .connector
            .request_stream(request)
            .await
            .map_err(|e| store_error(e, location.as_ref()))?;
        if options.range.is_some() && answer.status.as_u16() != 206 && range != (0..size) {
            return Err(generic(format!(
                "GCS answered {} instead of 206 to a range request for `{location}`",
                answer.status
            )));
        }
        let path = location.to_string();
        let body = answer
            .body
            .map(move |chunk| match chunk {
                Ok(bytes) => {
                    metrics::counter!(BYTES_RECEIVED, "provider" => "gcs", "operation" => "gcs:objects.get.media")
                        .increment(bytes.len() as u64);
                    Ok(bytes)
                }
                Err(e) => Err(store_error(e, &path)),
            })
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(body),
            meta,
            range,
            attributes,
            extensions: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = self.clone();
        locations
            .map(move |location| {
                let this = this.clone();
                async move {
                    let location = location?;
                    let request =
                        RequestOptions::new(Method::DELETE, this.object_url(location.as_ref()))
                            .endpoint("gcs:objects.delete");
                    this.send(request, location.as_ref()).await?;
                    Ok(location)
                }
            })
            .buffer_unordered(16)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let prefix = prefix.map(|p| format!("{p}/"));
        self.list_stream(prefix, None)
            .map_ok(|page| stream::iter(page.objects.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let prefix = prefix.map(|p| format!("{p}/"));
        let pages: Vec<ListResult> = self
            .list_stream(prefix, Some("/".into()))
            .try_collect()
            .await?;
        let mut all = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
            extensions: Default::default(),
        };
        for page in pages {
            all.common_prefixes.extend(page.common_prefixes);
            all.objects.extend(page.objects);
        }
        Ok(all)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        // `ifGenerationMatch=0` makes GCS refuse an existing target atomically; the look first
        // gives the same answer where a server ignores that parameter on rewrites.
        if options.mode == CopyMode::Create {
            match self.resource(to).await {
                Ok(_) => {
                    return Err(object_store::Error::AlreadyExists {
                        path: to.to_string(),
                        source: "the target exists".into(),
                    });
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut token: Option<String> = None;
        // A rewrite of a large object may take several calls, each continuing with its token.
        for _ in 0..1000 {
            let mut request = RequestOptions::new(
                Method::POST,
                format!(
                    "{}/rewriteTo/b/{}/o/{}",
                    self.object_url(from.as_ref()),
                    encode(&self.inner.bucket),
                    encode(to.as_ref())
                ),
            )
            .endpoint("gcs:objects.rewrite")
            .body(
                Body::bytes("application/json", "{}").map_err(|e| store_error(e, from.as_ref()))?,
            );
            if options.mode == CopyMode::Create {
                request = request.query("ifGenerationMatch", "0");
            }
            if let Some(t) = &token {
                request = request.query("rewriteToken", t);
            }
            let value = match self.json(request, to.as_ref()).await {
                Err(object_store::Error::Precondition { path, source })
                    if options.mode == CopyMode::Create =>
                {
                    return Err(object_store::Error::AlreadyExists { path, source });
                }
                other => other?,
            };
            if value.get("done").and_then(Value::as_bool).unwrap_or(true) {
                return Ok(());
            }
            token = value
                .get("rewriteToken")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if token.is_none() {
                return Err(generic(
                    "GCS answered an unfinished rewrite without a rewriteToken",
                ));
            }
        }
        Err(generic("GCS did not finish the rewrite within 1,000 calls"))
    }
}

#[async_trait]
impl PaginatedListStore for GcsJson {
    async fn list_paginated(
        &self,
        prefix: Option<&str>,
        opts: PaginatedListOptions,
    ) -> object_store::Result<PaginatedListResult> {
        let (result, page_token) = self
            .page(
                prefix,
                opts.delimiter.as_deref(),
                opts.max_keys,
                opts.page_token.as_deref(),
            )
            .await?;
        Ok(PaginatedListResult { result, page_token })
    }
}

/// A predefined ACL (`publicRead`, `private`...) for a write, passed in the write's extensions:
/// sent as `predefinedAcl` on the upload, or `destinationPredefinedAcl` on the composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredefinedAcl(pub String);

/// Where the parts of composite uploads live until they are composed.
pub const PARTS: &str = ".connector-blob-parts";

/// GCS composes at most this many sources in one call.
const COMPOSE_MAX: usize = 32;

/// One composite upload: parts uploaded as objects of their own, composed at the end.
#[derive(Debug)]
struct CompositeUpload {
    store: GcsJson,
    target: Path,
    attributes: Attributes,
    /// The target's predefined ACL.
    acl: Option<String>,
    folder: String,
    /// The parts' object names, in the order `put_part` was called.
    parts: Vec<String>,
}

impl CompositeUpload {
    async fn compose(
        &self,
        sources: &[String],
        target: &str,
        attributes: &Attributes,
    ) -> object_store::Result<Value> {
        let mut destination: Value = serde_json::from_str(&metadata_json(target, attributes)?)
            .map_err(|e| generic(format!("composition metadata: {e}")))?;
        if let Some(d) = destination.as_object_mut() {
            d.remove("name");
        }
        let body = serde_json::json!({
            "sourceObjects": sources.iter().map(|n| serde_json::json!({ "name": n })).collect::<Vec<_>>(),
            "destination": destination,
        });
        let request = RequestOptions::new(
            Method::POST,
            format!("{}/compose", self.store.object_url(target)),
        )
        .endpoint("gcs:objects.compose")
        .body(
            Body::bytes("application/json", body.to_string())
                .map_err(|e| store_error(e, target))?,
        );
        let request = match (&self.acl, target == self.target.as_ref()) {
            (Some(acl), true) => request.query("destinationPredefinedAcl", acl),
            _ => request,
        };
        self.store.json(request, target).await
    }

    /// Delete every part (and intermediate composition); failures are only logged.
    async fn clean(&self, names: Vec<String>) {
        let paths = names
            .into_iter()
            .filter_map(|n| Path::parse(n).ok())
            .map(Ok);
        let mut deleted = self.store.delete_stream(stream::iter(paths).boxed());
        while let Some(result) = deleted.next().await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "a composite upload's part was not deleted");
            }
        }
    }
}

#[async_trait]
impl MultipartUpload for CompositeUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let name = format!("{}/{:06}", self.folder, self.parts.len());
        self.parts.push(name.clone());
        let store = self.store.clone();
        Box::pin(async move {
            let path = Path::parse(&name)?;
            store
                .put_opts(&path, data, PutOptions::default())
                .await
                .map(|_| ())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let target = self.target.to_string();
        let mut made = self.parts.clone();
        let mut level = self.parts.clone();
        let composed: object_store::Result<Value> = async {
            let mut round = 0;
            // Rounds of 32-way compositions until at most 32 are left for the target.
            while level.len() > COMPOSE_MAX {
                let mut next = Vec::new();
                for (i, group) in level.chunks(COMPOSE_MAX).enumerate() {
                    let name = format!("{}/c{round}-{i:05}", self.folder);
                    made.push(name.clone());
                    self.compose(group, &name, &Attributes::new()).await?;
                    next.push(name);
                }
                level = next;
                round += 1;
            }
            self.compose(&level, &target, &self.attributes).await
        }
        .await;
        // The parts go whether or not the composition worked.
        self.clean(made).await;
        let r = parse_resource(&composed?)?;
        Ok(PutResult {
            e_tag: r.meta.e_tag,
            version: r.generation,
            extensions: Default::default(),
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.clean(self.parts.clone()).await;
        Ok(())
    }
}

/// A runtime error as object_store's: the statuses with a variant of their own get it; the runtime
/// error stays the source, so [`crate::error`] finds it again.
fn store_error(e: Error, path: &str) -> object_store::Error {
    let path = path.to_owned();
    let source: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    let status = source
        .downcast_ref::<Error>()
        .and_then(|e| e.status())
        .map(|s| s.as_u16());
    match status {
        Some(404) => object_store::Error::NotFound { path, source },
        Some(412) => object_store::Error::Precondition { path, source },
        Some(409) => object_store::Error::AlreadyExists { path, source },
        Some(304) => object_store::Error::NotModified { path, source },
        Some(401) => object_store::Error::Unauthenticated { path, source },
        Some(403) => object_store::Error::PermissionDenied { path, source },
        _ => object_store::Error::Generic {
            store: "GCS",
            source,
        },
    }
}

fn generic(message: impl Into<String>) -> object_store::Error {
    object_store::Error::Generic {
        store: "GCS",
        source: message.into().into(),
    }
}

/// An object or bucket name as one URL path segment.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A random boundary token.
fn uuid_like() -> String {
    connector_runtime::request::random_idempotency_key()
}
