//! [`BlobStore`]: the one interface over the three providers. Keys are relative to the URL's prefix.
//! Every call goes through object_store's protocol for the provider and, below it, the runtime's
//! pipeline ([`crate::transport`]); bucket creation and ACLs, which object_store does not cover, are
//! sent through the same pipeline signed by the runtime's own signers.

use std::collections::BTreeMap;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_runtime::{
    AuthStrategy, AwsSigV4, AzureSharedKey, Bearer, Body, Connector, Error, ErrorCode, ErrorSource,
    Method, RequestOptions,
};
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};
use secrecy::ExposeSecret;

use crate::config::{BlobConfig, BlobUrl, Credentials, Provider, UploadConfig, join};
use crate::error::from_store;
use crate::transport::PipelineConnector;

/// Downloads resumed after the connection dropped mid-body, by provider.
pub const RESUMED: &str = "blob_downloads_resumed_total";

/// How many times one download is resumed before its error is returned.
const MAX_RESUMES: u32 = 5;

/// What is known of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    /// The key, relative to the store's prefix.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub last_modified: DateTime<Utc>,
    /// The entity tag, as the provider quotes it.
    pub etag: Option<String>,
    /// The version, where the bucket keeps versions.
    pub version: Option<String>,
    /// `Content-Type` (from [`BlobStore::stat`] and reads; listings do not carry it).
    pub content_type: Option<String>,
    /// User metadata (from [`BlobStore::stat`] and reads).
    pub metadata: BTreeMap<String, String>,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An object.
    Object(ObjectInfo),
    /// A common prefix (a "directory"), when listing with a delimiter; relative, ends with it.
    Prefix(String),
}

/// Listing options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only keys starting with this (relative to the store's prefix).
    pub prefix: String,
    /// Group keys by this delimiter after the prefix (`/` for directories).
    pub delimiter: Option<String>,
    /// Keys per page asked of the provider (its maximum is 1,000 for S3, 5,000 for Azure).
    pub page_size: Option<usize>,
}

/// Access control on a write, as each provider names it. S3 takes canned ACLs, GCS predefined ACLs;
/// Azure has no per-blob access control (see [`BlobStore::create_container`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acl {
    /// Only the owner (S3 `private`, GCS `private`).
    Private,
    /// Anyone may read (S3 `public-read`, GCS `publicRead`).
    PublicRead,
    /// A provider's own name (S3 `bucket-owner-full-control`, GCS `projectPrivate`...).
    Named(String),
}

/// Public read access to a new bucket or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublicAccess {
    /// Nothing public.
    #[default]
    None,
    /// Objects may be read by anyone who knows their key (S3 `public-read` ACL, Azure `blob`, GCS
    /// `publicRead`).
    Read,
}

/// A write's precondition, for safe commits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Condition {
    /// Write whatever is there.
    #[default]
    None,
    /// Only if no object has the key (`If-None-Match: *`); otherwise CONFLICT.
    IfNotExists,
    /// Only if the object's entity tag is still this one (`If-Match`); otherwise CONFLICT.
    IfMatch(String),
}

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `Content-Type` to store.
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`, `x-ms-meta-*`, `x-goog-meta-*`).
    pub metadata: BTreeMap<String, String>,
    /// Access control.
    pub acl: Option<Acl>,
    /// Precondition. Conditional writes are always one request (up to the provider's single-request
    /// limit, 5 GiB on S3), never a multipart upload.
    pub condition: Condition,
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResult {
    /// The new object's entity tag.
    pub etag: Option<String>,
    /// Its version, where the bucket keeps versions.
    pub version: Option<String>,
    /// Bytes written.
    pub size: u64,
    /// Whether it went as a multipart / block / composite (GCS) upload.
    pub multipart: bool,
}

/// What a batch delete did.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Keys deleted (or already absent).
    pub deleted: usize,
    /// Keys that could not be deleted, with why.
    pub failed: Vec<(String, Error)>,
}

/// A blob store: one bucket or container of one provider, under a key prefix.
#[derive(Clone, Debug)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: BlobConfig,
    store: Arc<dyn ObjectStore>,
    lister: Arc<dyn PaginatedListStore>,
    connector: Connector,
    control: Connector,
    gcs_bearer: Option<object_store::gcp::GcpCredentialProvider>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl BlobStore {
    /// Open the store `config` names: resolves credentials from the environment where asked, and
    /// builds and connects the runtime connectors every call goes through. Nothing is sent yet.
    pub async fn open(mut config: BlobConfig) -> Result<BlobStore, Error> {
        if matches!(config.credentials, Credentials::FromEnv) {
            config.resolve_env(|name| std::env::var(name).ok())?;
        }
        let mut runtime = config.runtime.clone();
        runtime.base_url = config
            .endpoint
            .clone()
            .unwrap_or_else(|| default_endpoint(&config));
        runtime.compression.gzip = false;
        runtime.compression.brotli = false;
        runtime.compression.deflate = false;
        runtime.dedup.enabled = false;
        let connector = Connector::initialize(runtime.clone())?;
        let pipeline = PipelineConnector::new(connector.clone(), config.url.provider);
        let built = config.build(pipeline)?;
        let (store, lister) = (built.store, built.lister);
        let gcs_bearer = built.gcs_credentials;
        let mut control = Connector::builder(runtime);
        match (&config.credentials, config.url.provider) {
            (
                Credentials::AwsKeys {
                    access_key_id,
                    secret_access_key,
                    session_token,
                },
                Provider::S3,
            ) => {
                let region = config.region.clone().unwrap_or_else(|| "us-east-1".into());
                let mut s = AwsSigV4::new(
                    access_key_id.clone(),
                    secret_access_key.clone(),
                    region,
                    "s3",
                );
                if let Some(t) = session_token {
                    s = s.with_session_token(t.clone());
                }
                control = control.auth(Arc::new(s) as Arc<dyn AuthStrategy>);
            }
            (Credentials::AzureSharedKey { account, key }, Provider::Azure) => {
                control = control.auth(Arc::new(AzureSharedKey::new(account.clone(), key.clone())));
            }
            (Credentials::Bearer { token, .. }, _) => {
                control = control.auth(Arc::new(Bearer::new(token.clone())));
            }
            _ => {}
        }
        let control = control.build()?;
        connector.connect().await?;
        control.connect().await?;
        Ok(BlobStore {
            inner: Arc::new(Inner {
                config,
                store,
                lister,
                connector,
                control,
                gcs_bearer,
            }),
        })
    }

    /// Open `url` (`s3://`, `az://`, `gs://`) with endpoint, region and credentials from the
    /// environment (see [`BlobConfig::from_env`]).
    pub async fn from_url(url: &str) -> Result<BlobStore, Error> {
        BlobStore::open(BlobConfig::from_env(url)?).await
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.inner.config.url.provider
    }

    /// The store's URL.
    pub fn url(&self) -> &BlobUrl {
        &self.inner.config.url
    }

    /// The runtime connector the data calls go through (its hooks, breaker, limiter and
    /// `disconnect`).
    pub fn connector(&self) -> &Connector {
        &self.inner.connector
    }

    /// The object_store client, rooted at the bucket (not the prefix), for the libraries that take
    /// an `Arc<dyn ObjectStore>` (DataFusion's `register_object_store`, delta-rs, Polars). Its calls
    /// go through the same runtime pipeline.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.store.clone()
    }

    fn provider_err(&self, e: object_store::Error, operation: &str, key: &str) -> Error {
        from_store(e, operation, self.provider(), key)
    }

    /// The object path of `key`. Keys object_store would change (a trailing `/` it strips, `a//b`,
    /// `.` and `..` segments, control characters) are refused, never rewritten.
    fn path(&self, key: &str) -> Result<Path, Error> {
        let full = self.url().key(key);
        if full.ends_with('/') {
            return Err(Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("`{key}` ends with `/`: directory-marker keys are not supported"),
            ));
        }
        Path::parse(&full).map_err(|e| {
            Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("`{key}` cannot be used as an object key: {e}"),
            )
        })
    }

    /// The key relative to the store's prefix.
    fn relative(&self, full: &str) -> String {
        let prefix = &self.url().prefix;
        let rest = full.strip_prefix(prefix.as_str()).unwrap_or(full);
        if prefix.is_empty() || prefix.ends_with('/') {
            rest.to_owned()
        } else {
            rest.trim_start_matches('/').to_owned()
        }
    }

    fn info(&self, meta: &object_store::ObjectMeta, attributes: Option<&Attributes>) -> ObjectInfo {
        let mut content_type = None;
        let mut metadata = BTreeMap::new();
        for (k, v) in attributes.into_iter().flat_map(|a| a.iter()) {
            match k {
                Attribute::ContentType => content_type = Some(v.to_string()),
                Attribute::Metadata(name) => {
                    metadata.insert(name.to_string(), v.to_string());
                }
                _ => {}
            }
        }
        ObjectInfo {
            key: self.relative(meta.location.as_ref()),
            size: meta.size,
            last_modified: meta.last_modified,
            etag: meta.e_tag.clone(),
            version: meta.version.clone(),
            content_type,
            metadata,
        }
    }

    /// A lazily paged listing: each page is asked for when the previous one is consumed.
    /// A common prefix that spans pages is listed once (some servers repeat it on every page).
    pub fn list(&self, options: ListOptions) -> BoxStream<'static, Result<Entry, Error>> {
        let mut seen = std::collections::HashSet::new();
        self.list_pages(options)
            .map_ok(move |page| {
                let fresh: Vec<Entry> = page
                    .into_iter()
                    .filter(|e| match e {
                        Entry::Prefix(p) => seen.insert(p.clone()),
                        Entry::Object(_) => true,
                    })
                    .collect();
                stream::iter(fresh.into_iter().map(Ok))
            })
            .try_flatten()
            .boxed()
    }

    /// [`BlobStore::list`] page by page, as the provider returns them.
    pub fn list_pages(
        &self,
        options: ListOptions,
    ) -> BoxStream<'static, Result<Vec<Entry>, Error>> {
        let this = self.clone();
        let full = join(&self.url().prefix, &options.prefix);
        let state = (Some(None::<String>), this, full, options);
        stream::try_unfold(state, |(token, this, full, options)| async move {
            let Some(token) = token else {
                return Ok(None);
            };
            let opts = PaginatedListOptions {
                delimiter: options.delimiter.clone().map(Into::into),
                max_keys: options.page_size,
                page_token: token,
                ..Default::default()
            };
            let prefix = (!full.is_empty()).then_some(full.as_str());
            let page = this
                .inner
                .lister
                .list_paginated(prefix, opts)
                .await
                .map_err(|e| this.provider_err(e, "list", &full))?;
            let mut entries: Vec<Entry> = page
                .result
                .objects
                .iter()
                .map(|m| Entry::Object(this.info(m, None)))
                .collect();
            let delimiter = options.delimiter.as_deref().unwrap_or("/");
            entries.extend(page.result.common_prefixes.iter().map(|p| {
                let mut rel = this.relative(p.as_ref());
                if !rel.ends_with(delimiter) {
                    rel.push_str(delimiter);
                }
                Entry::Prefix(rel)
            }));
            let next = page.page_token.filter(|t| !t.is_empty()).map(Some);
            Ok(Some((entries, (next, this, full, options))))
        })
        .boxed()
    }

    /// Size, content type, entity tag, last modification and user metadata of `key`.
    pub async fn stat(&self, key: &str) -> Result<ObjectInfo, Error> {
        let path = self.path(key)?;
        let got = self
            .inner
            .store
            .get_opts(
                &path,
                GetOptions {
                    head: true,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.provider_err(e, "stat", key))?;
        Ok(self.info(&got.meta, Some(&got.attributes)))
    }

    /// The whole object.
    pub async fn read(&self, key: &str) -> Result<Bytes, Error> {
        let mut reader = self.read_stream(key).await?;
        let mut out =
            Vec::with_capacity(usize::try_from(reader.info.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = reader.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }

    /// Bytes `range` of the object (an end past the object's size is cut to it).
    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, Error> {
        let path = self.path(key)?;
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        let got = self
            .inner
            .store
            .get_opts(
                &path,
                GetOptions {
                    range: Some(GetRange::Bounded(range)),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.provider_err(e, "read_range", key))?;
        got.bytes()
            .await
            .map_err(|e| self.provider_err(e, "read_range", key))
    }

    /// The object as a stream of chunks. A connection that drops mid-body is resumed from the
    /// next byte with a range request pinned to the same entity tag (up to five times); if the
    /// object changed meanwhile the stream ends with CONFLICT rather than mixing two versions.
    pub async fn read_stream(&self, key: &str) -> Result<ObjectReader, Error> {
        let path = self.path(key)?;
        let got = self
            .inner
            .store
            .get_opts(&path, GetOptions::default())
            .await
            .map_err(|e| self.provider_err(e, "read", key))?;
        let info = self.info(&got.meta, Some(&got.attributes));
        let resume = Resume {
            store: self.clone(),
            path,
            key: key.to_owned(),
            etag: got.meta.e_tag.clone(),
            next: got.range.start,
            end: got.range.end,
            resumes: 0,
        };
        let body = got.into_stream();
        let stream = stream::unfold(Some((body, resume)), |state| async move {
            let (mut body, mut resume) = state?;
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        resume.next = resume.next.saturating_add(chunk.len() as u64);
                        return Some((Ok(chunk), Some((body, resume))));
                    }
                    None if resume.next >= resume.end => return None,
                    failed => {
                        let cause = match failed {
                            Some(Err(e)) => resume.store.provider_err(e, "read", &resume.key),
                            _ => Error::new(
                                ErrorCode::NetworkError,
                                ErrorSource::Transport,
                                format!(
                                    "the body of `{}` ended at byte {} of {}",
                                    resume.key, resume.next, resume.end
                                ),
                            ),
                        };
                        match resume.reopen(cause).await {
                            Ok(rest) => body = rest,
                            Err(e) => return Some((Err(e), None)),
                        }
                    }
                }
            }
        })
        .boxed();
        Ok(ObjectReader { info, stream })
    }

    /// Write `data` to `key`: one request below the multipart threshold (and for conditional
    /// writes), a multipart / block / composite (GCS) upload above it.
    pub async fn write(
        &self,
        key: &str,
        data: Bytes,
        options: WriteOptions,
    ) -> Result<WriteResult, Error> {
        let upload = self.inner.config.upload;
        if data.len() < upload.multipart_threshold || options.condition != Condition::None {
            return self
                .put_payload(key, PutPayload::from_bytes(data), &options)
                .await;
        }
        self.write_stream(key, stream::iter([Ok::<_, std::io::Error>(data)]), options)
            .await
    }

    /// Write a stream of chunks to `key`, holding at most about `part_size * (concurrency + 1)`
    /// bytes: what fits under the threshold goes as one request, more as a multipart upload whose
    /// parts are sent `concurrency` at a time. A failed upload is aborted (no parts left behind);
    /// an error of the source stream fails the write and nothing is committed.
    pub async fn write_stream<S>(
        &self,
        key: &str,
        source: S,
        options: WriteOptions,
    ) -> Result<WriteResult, Error>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let UploadConfig {
            multipart_threshold,
            part_size,
            concurrency,
        } = self.inner.config.upload;
        let mut source = std::pin::pin!(source);
        // Gather up to the threshold: a small object is one request.
        let mut head: Vec<Bytes> = Vec::new();
        let mut held = 0usize;
        let mut ended = true;
        while let Some(chunk) = source.next().await {
            let chunk = chunk.map_err(|e| source_err(key, e))?;
            held = held.saturating_add(chunk.len());
            head.push(chunk);
            if held >= multipart_threshold && options.condition == Condition::None {
                ended = false;
                break;
            }
        }
        if ended {
            let payload: PutPayload = head.into_iter().collect();
            return self.put_payload(key, payload, &options).await;
        }
        let path = self.path(key)?;
        let opts = PutMultipartOptions {
            attributes: attributes(&options),
            extensions: self.gcs_acl(&options),
            ..Default::default()
        };
        let upload = self
            .inner
            .store
            .put_multipart_opts(&path, opts)
            .await
            .map_err(|e| self.provider_err(e, "write", key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size.max(5 << 20));
        let mut size = 0u64;
        let outcome: Result<(), Error> = async {
            for chunk in head {
                writer
                    .wait_for_capacity(concurrency.max(1))
                    .await
                    .map_err(|e| self.provider_err(e, "write", key))?;
                size = size.saturating_add(chunk.len() as u64);
                writer.put(chunk);
            }
            while let Some(chunk) = source.next().await {
                let chunk = chunk.map_err(|e| source_err(key, e))?;
                writer
                    .wait_for_capacity(concurrency.max(1))
                    .await
                    .map_err(|e| self.provider_err(e, "write", key))?;
                size = size.saturating_add(chunk.len() as u64);
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            let _ = writer.abort().await;
            return Err(e);
        }
        let done = writer.finish().await;
        self.written(key, &options, done, size, true).await
    }

    /// A write's result, once the ACL it asked for is applied where the write could not carry it.
    async fn written(
        &self,
        key: &str,
        options: &WriteOptions,
        done: object_store::Result<object_store::PutResult>,
        size: u64,
        multipart: bool,
    ) -> Result<WriteResult, Error> {
        let done = done.map_err(|e| self.provider_err(e, "write", key))?;
        if let (Some(acl), false) = (&options.acl, self.provider() == Provider::Gcs) {
            self.apply_acl(key, acl).await?;
        }
        Ok(WriteResult {
            etag: done.e_tag,
            version: done.version,
            size,
            multipart,
        })
    }

    /// Write the local file at `path` to `key`, streamed.
    pub async fn upload_file(
        &self,
        key: &str,
        path: &std::path::Path,
        options: WriteOptions,
    ) -> Result<WriteResult, Error> {
        let file = tokio::fs::File::open(path).await.map_err(|e| {
            Error::new(
                ErrorCode::ValidationError,
                ErrorSource::Unknown,
                format!("{}: {e}", path.display()),
            )
        })?;
        self.write_stream(key, file_chunks(file), options).await
    }

    async fn put_payload(
        &self,
        key: &str,
        payload: PutPayload,
        options: &WriteOptions,
    ) -> Result<WriteResult, Error> {
        let path = self.path(key)?;
        let mode = match &options.condition {
            Condition::None => PutMode::Overwrite,
            Condition::IfNotExists => PutMode::Create,
            Condition::IfMatch(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.clone()),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            attributes: attributes(options),
            extensions: self.gcs_acl(options),
            ..Default::default()
        };
        let size = payload.content_length() as u64;
        let done = self.inner.store.put_opts(&path, payload, opts).await;
        self.written(key, options, done, size, false).await
    }

    /// Delete `key`. Deleting a key that does not exist succeeds, on every provider.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        let path = self.path(key)?;
        match self.inner.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.provider_err(e, "delete", key)),
        }
    }

    /// Delete many keys with the provider's batch API where it has one (S3 `DeleteObjects`, 1,000
    /// keys a request; Azure blob batch, 256 a request); GCS deletes them one request each, several
    /// at once. Absent keys count as deleted.
    pub async fn delete_many(&self, keys: &[String]) -> Result<DeleteReport, Error> {
        let mut paths = Vec::with_capacity(keys.len());
        for key in keys {
            paths.push(self.path(key)?);
        }
        let mut report = DeleteReport::default();
        let mut results = self
            .inner
            .store
            .delete_stream(stream::iter(paths.clone().into_iter().map(Ok)).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => report.deleted += 1,
                Err(e) => {
                    let key = error_path(&e)
                        .map(|p| self.relative(&p))
                        .unwrap_or_default();
                    report
                        .failed
                        .push((key.clone(), self.provider_err(e, "delete_many", &key)));
                }
            }
        }
        Ok(report)
    }

    /// Copy `from` to `to` within the store; with `overwrite` false an existing `to` is a
    /// CONFLICT.
    pub async fn copy(&self, from: &str, to: &str, overwrite: bool) -> Result<(), Error> {
        let (a, b) = (self.path(from)?, self.path(to)?);
        let result = if overwrite {
            self.inner.store.copy(&a, &b).await
        } else {
            self.inner.store.copy_if_not_exists(&a, &b).await
        };
        result.map_err(|e| self.provider_err(e, "copy", from))
    }

    /// The service endpoint the control calls are made against, without a trailing `/`.
    fn base(&self) -> String {
        let base = &self.inner.connector.config().base_url;
        base.trim_end_matches('/').to_owned()
    }

    /// Create the bucket (S3, GCS) or container (Azure) the URL names, with public read access if
    /// asked. An existing one owned by the caller is not an error.
    pub async fn create_container(&self, public: PublicAccess) -> Result<(), Error> {
        let url = self.url();
        let base = self.base();
        let mut request = match self.provider() {
            Provider::S3 => {
                let mut r = RequestOptions::new(Method::PUT, format!("{base}/{}", url.bucket))
                    .endpoint("s3:CreateBucket");
                let region = self.inner.config.region.as_deref().unwrap_or("us-east-1");
                if region != "us-east-1" {
                    let xml = format!(
                        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
                    );
                    r = r.body(Body::bytes("application/xml", xml)?);
                }
                if public == PublicAccess::Read {
                    r = r.header("x-amz-acl", "public-read");
                }
                r
            }
            Provider::Azure => {
                let mut r = RequestOptions::new(Method::PUT, format!("{base}/{}", url.bucket))
                    .endpoint("azure:CreateContainer")
                    .query("restype", "container");
                if public == PublicAccess::Read {
                    r = r.header("x-ms-blob-public-access", "blob");
                }
                r
            }
            Provider::Gcs => {
                let body = format!("{{\"name\":{}}}", json_string(&url.bucket));
                let mut r = RequestOptions::new(Method::POST, format!("{base}/storage/v1/b"))
                    .endpoint("gcs:buckets.insert")
                    .query("project", "connector-blob")
                    .body(Body::bytes("application/json", body)?);
                if public == PublicAccess::Read {
                    r = r.query("predefinedAcl", "publicRead");
                }
                r
            }
        };
        request = self.control_auth(request).await?;
        match self.inner.control.request(request).await {
            Ok(_) => Ok(()),
            // Already there and ours (S3 BucketAlreadyOwnedByYou, Azure ContainerAlreadyExists, GCS 409).
            Err(e) if e.status().map(|s| s.as_u16()) == Some(409) => {
                let code = e.provider_code().unwrap_or("");
                if code.contains("AlreadyOwnedByYou")
                    || code.contains("ContainerAlreadyExists")
                    || self.provider() == Provider::Gcs
                {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// GCS takes a write's predefined ACL with the write itself (`predefinedAcl` on the upload or
    /// the composition), so it is atomic with it there.
    fn gcs_acl(&self, options: &WriteOptions) -> http::Extensions {
        let mut extensions = http::Extensions::new();
        if let (Some(acl), Provider::Gcs) = (&options.acl, self.provider()) {
            extensions.insert(crate::gcs::PredefinedAcl(gcs_acl_name(acl).to_owned()));
        }
        extensions
    }

    /// Set an object's access control after it was written (S3 `PutObjectAcl`, GCS
    /// `objects.patch` with `predefinedAcl`; a GCS write with an ACL passes it with the upload instead).
    /// Azure has none per blob: UNSUPPORTED.
    pub async fn apply_acl(&self, key: &str, acl: &Acl) -> Result<(), Error> {
        let base = self.base();
        let full = self.url().key(key);
        let bucket = &self.url().bucket;
        let request = match self.provider() {
            Provider::S3 => {
                let name = match acl {
                    Acl::Private => "private",
                    Acl::PublicRead => "public-read",
                    Acl::Named(n) => n.as_str(),
                };
                RequestOptions::new(
                    Method::PUT,
                    format!("{base}/{bucket}/{}", encode_key(&full)),
                )
                .endpoint("s3:PutObjectAcl")
                .query("acl", "")
                .header("x-amz-acl", name)
            }
            Provider::Gcs => {
                let name = gcs_acl_name(acl);
                RequestOptions::new(
                    Method::PATCH,
                    format!("{base}/storage/v1/b/{bucket}/o/{}", encode_all(&full)),
                )
                .endpoint("gcs:objects.patch")
                .query("predefinedAcl", name)
                .body(Body::bytes("application/json", "{}")?)
            }
            Provider::Azure => {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    ErrorSource::Unknown,
                    "Azure Blob Storage has no per-blob access control: public read access is set \
                     on the container (BlobStore::create_container with PublicAccess::Read)",
                ));
            }
        };
        let request = self.control_auth(request).await?;
        self.inner.control.request(request).await.map(|_| ())
    }

    /// Credentials the control connector's strategy does not carry: a SAS's query, a GCS service
    /// account's token.
    async fn control_auth(&self, mut request: RequestOptions) -> Result<RequestOptions, Error> {
        if let Credentials::AzureSas { sas, .. } = &self.inner.config.credentials {
            let sas = sas.expose_secret().trim_start_matches('?').to_owned();
            request = request.raw_query(sas);
        }
        if let Some(provider) = &self.inner.gcs_bearer {
            let credential = provider
                .get_credential()
                .await
                .map_err(|e| from_store(e, "token", Provider::Gcs, ""))?;
            request = request.header("authorization", &format!("Bearer {}", credential.bearer));
        }
        Ok(request)
    }
}

/// The read position of a streamed download, to resume it.
struct Resume {
    store: BlobStore,
    path: Path,
    key: String,
    etag: Option<String>,
    next: u64,
    end: u64,
    resumes: u32,
}

impl Resume {
    /// The rest of the object from `next`, pinned to the entity tag first seen.
    async fn reopen(
        &mut self,
        cause: Error,
    ) -> Result<BoxStream<'static, object_store::Result<Bytes>>, Error> {
        let retryable = matches!(cause.code(), ErrorCode::NetworkError | ErrorCode::Timeout)
            || cause.is_retryable();
        if !retryable || self.resumes >= MAX_RESUMES {
            return Err(cause);
        }
        self.resumes += 1;
        metrics::counter!(RESUMED, "provider" => self.store.provider().as_str()).increment(1);
        tracing::warn!(key = %self.key, at = self.next, attempt = self.resumes, error = %cause, "download interrupted; resuming");
        let options = GetOptions {
            range: Some(GetRange::Bounded(self.next..self.end)),
            if_match: self.etag.clone(),
            ..Default::default()
        };
        let got: GetResult = self
            .store
            .inner
            .store
            .get_opts(&self.path, options)
            .await
            .map_err(|e| match e {
                object_store::Error::Precondition { .. } => Error::new(
                    ErrorCode::Conflict,
                    ErrorSource::Transport,
                    format!(
                        "`{}` changed while it was being read; not resumed",
                        self.key
                    ),
                ),
                e => self.store.provider_err(e, "read", &self.key),
            })?;
        if got.range.start != self.next {
            return Err(Error::new(
                ErrorCode::ParsingError,
                ErrorSource::Transport,
                format!(
                    "resuming `{}` at byte {} returned bytes from {}",
                    self.key, self.next, got.range.start
                ),
            ));
        }
        Ok(got.into_stream())
    }
}

/// An object being read: what is known of it, and its bytes as a stream.
pub struct ObjectReader {
    /// Size, entity tag, content type and metadata.
    pub info: ObjectInfo,
    stream: BoxStream<'static, Result<Bytes, Error>>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("info", &self.info)
            .finish()
    }
}

impl Stream for ObjectReader {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// GCS's name of a predefined ACL.
fn gcs_acl_name(acl: &Acl) -> &str {
    match acl {
        Acl::Private => "private",
        Acl::PublicRead => "publicRead",
        Acl::Named(n) => n.as_str(),
    }
}

/// The key an object_store error names, where its variant carries one.
fn error_path(e: &object_store::Error) -> Option<String> {
    use object_store::Error as E;
    match e {
        E::NotFound { path, .. }
        | E::AlreadyExists { path, .. }
        | E::Precondition { path, .. }
        | E::NotModified { path, .. }
        | E::PermissionDenied { path, .. }
        | E::Unauthenticated { path, .. } => Some(path.clone()),
        _ => None,
    }
}

fn attributes(options: &WriteOptions) -> Attributes {
    let mut a = Attributes::new();
    if let Some(ct) = &options.content_type {
        a.insert(Attribute::ContentType, ct.clone().into());
    }
    for (k, v) in &options.metadata {
        a.insert(Attribute::Metadata(k.clone().into()), v.clone().into());
    }
    a
}

/// A file as a stream of 1 MiB chunks.
pub(crate) fn file_chunks(
    file: tokio::fs::File,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(e), file)),
            }
        }
        if filled == 0 {
            return None;
        }
        buf.truncate(filled);
        Some((Ok(Bytes::from(buf)), file))
    })
}

fn source_err(key: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::ValidationError,
        ErrorSource::Unknown,
        format!("reading the data to write to `{key}` failed: {e}"),
    )
}

fn default_endpoint(config: &BlobConfig) -> String {
    match config.url.provider {
        Provider::S3 => format!(
            "https://s3.{}.amazonaws.com",
            config.region.as_deref().unwrap_or("us-east-1")
        ),
        Provider::Azure => match &config.credentials {
            Credentials::AzureSharedKey { account, .. }
            | Credentials::AzureSas { account, .. }
            | Credentials::Bearer {
                account: Some(account),
                ..
            } => format!("https://{account}.blob.core.windows.net"),
            _ => "https://blob.core.windows.net".to_owned(),
        },
        Provider::Gcs => "https://storage.googleapis.com".to_owned(),
    }
}

/// A key in a URL path: every byte but unreserved characters and `/` percent-encoded.
fn encode_key(key: &str) -> String {
    encode(key, true)
}

/// A key as one URL path segment (GCS's JSON API): `/` encoded too.
fn encode_all(key: &str) -> String {
    encode(key, false)
}

fn encode(key: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
