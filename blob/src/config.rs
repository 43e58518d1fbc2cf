//! One configuration shape for the three providers: a URL (`s3://bucket/prefix`,
//! `az://container/prefix`, `gs://bucket/prefix`), an endpoint and region where they apply, and
//! credentials, either given or read from each provider's standard environment variables. Building a
//! [`BlobConfig`] gives the object_store client of the provider, wired to the runtime's pipeline.
//!
//! Architecture Invariant: secrets are [`SecretString`]s from the moment they are read; they are
//! exposed only to hand them to the provider's signer, and `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use connector_runtime::{ConnectorConfig, Error, ErrorCode, ErrorSource};
use object_store::aws::{AmazonS3Builder, S3CopyIfNotExists};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::list::PaginatedListStore;
use object_store::{ObjectStore, RetryConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::gcs::{GcsJson, Token};
use crate::transport::PipelineConnector;

/// The three providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Amazon S3 and S3-compatible endpoints.
    S3,
    /// Azure Blob Storage.
    Azure,
    /// Google Cloud Storage.
    Gcs,
}

impl Provider {
    /// The short name used in metrics, spans and URLs' schemes' documentation: `s3`, `azure`, `gcs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::S3 => "s3",
            Provider::Azure => "azure",
            Provider::Gcs => "gcs",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed store URL: provider, bucket (or container) and the key prefix every key is under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUrl {
    /// The provider the scheme names.
    pub provider: Provider,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// The key prefix (no leading `/`; may be empty).
    pub prefix: String,
}

impl BlobUrl {
    /// Parse `s3://bucket/prefix`, `az://container/prefix` (also `azure://`), `gs://bucket/prefix`
    /// (also `gcs://`). Anything else is a VALIDATION_ERROR saying what is accepted.
    pub fn parse(text: &str) -> Result<BlobUrl, Error> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            invalid(format!(
                "`{text}` is not a store URL: expected s3://bucket/prefix, az://container/prefix or gs://bucket/prefix"
            ))
        })?;
        let provider = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Provider::S3,
            "az" | "azure" => Provider::Azure,
            "gs" | "gcs" => Provider::Gcs,
            other => {
                return Err(invalid(format!(
                    "unknown store scheme `{other}://` in `{text}`: use s3://, az:// or gs://"
                )));
            }
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid(format!("`{text}` names no bucket or container")));
        }
        Ok(BlobUrl {
            provider,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_start_matches('/').to_owned(),
        })
    }

    /// The full key of `key` under this URL's prefix.
    pub fn key(&self, key: &str) -> String {
        join(&self.prefix, key)
    }
}

impl fmt::Display for BlobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.provider {
            Provider::S3 => "s3",
            Provider::Azure => "az",
            Provider::Gcs => "gs",
        };
        write!(f, "{scheme}://{}/{}", self.bucket, self.prefix)
    }
}

/// `prefix` and `key` joined with one `/` (a prefix ending in `/` keeps it; an empty one adds none).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    let key = key.trim_start_matches('/');
    if prefix.is_empty() {
        key.to_owned()
    } else if prefix.ends_with('/') {
        format!("{prefix}{key}")
    } else if key.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}/{key}")
    }
}

/// Credentials, as each provider names them.
#[derive(Clone)]
pub enum Credentials {
    /// No credentials: unsigned requests (public buckets, emulators that check nothing).
    Anonymous,
    /// Read the provider's standard environment variables (see [`BlobConfig::from_env`]).
    FromEnv,
    /// S3 access keys, with the session token of temporary credentials.
    AwsKeys {
        /// `AWS_ACCESS_KEY_ID`.
        access_key_id: String,
        /// `AWS_SECRET_ACCESS_KEY`.
        secret_access_key: SecretString,
        /// `AWS_SESSION_TOKEN`.
        session_token: Option<SecretString>,
    },
    /// An Azure storage account and one of its access keys (Shared Key signatures).
    AzureSharedKey {
        /// The account name.
        account: String,
        /// The base64 access key.
        key: SecretString,
    },
    /// An Azure storage account and a shared access signature (`sv=...&sig=...`).
    AzureSas {
        /// The account name.
        account: String,
        /// The SAS query string, with or without a leading `?`.
        sas: SecretString,
    },
    /// An OAuth2 bearer token (GCS, or Azure with Entra ID).
    Bearer {
        /// The Azure account name (ignored for GCS).
        account: Option<String>,
        /// The token.
        token: SecretString,
    },
    /// A GCS service account key (the JSON file's contents); requests carry a JWT it signs.
    GcsServiceAccount {
        /// The key file's JSON.
        key_json: SecretString,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = connector_runtime::redact::REDACTED;
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::FromEnv => f.write_str("FromEnv"),
            Credentials::AwsKeys {
                access_key_id,
                session_token,
                ..
            } => f
                .debug_struct("AwsKeys")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &hidden)
                .field("session_token", &session_token.as_ref().map(|_| hidden))
                .finish(),
            Credentials::AzureSharedKey { account, .. } => f
                .debug_struct("AzureSharedKey")
                .field("account", account)
                .field("key", &hidden)
                .finish(),
            Credentials::AzureSas { account, .. } => f
                .debug_struct("AzureSas")
                .field("account", account)
                .field("sas", &hidden)
                .finish(),
            Credentials::Bearer { account, .. } => f
                .debug_struct("Bearer")
                .field("account", account)
                .field("token", &hidden)
                .finish(),
            Credentials::GcsServiceAccount { .. } => f
                .debug_struct("GcsServiceAccount")
                .field("key_json", &hidden)
                .finish(),
        }
    }
}

/// How large writes are split.
#[derive(Debug, Clone, Copy)]
pub struct UploadConfig {
    /// Writes of at least this many bytes (and streamed writes that reach it) become multipart,
    /// block or composite uploads; smaller ones are one request. Default 8 MiB.
    pub multipart_threshold: usize,
    /// The size of each part. Default 6 MiB (S3's minimum is 5 MiB).
    pub part_size: usize,
    /// Parts in flight at once. Default 4. Memory held by a streamed upload is about
    /// `part_size * (concurrency + 1)`: 30 MiB at the defaults.
    pub concurrency: usize,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            multipart_threshold: 8 << 20,
            part_size: 6 << 20,
            concurrency: 4,
        }
    }
}

/// Everything a [`crate::BlobStore`] is opened with.
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// Provider, bucket and prefix.
    pub url: BlobUrl,
    /// The service endpoint, for S3-compatible servers, Azurite (`http://host:port/<account>`) or a
    /// GCS emulator; None for the provider's public one.
    pub endpoint: Option<String>,
    /// The S3 region (default `us-east-1`).
    pub region: Option<String>,
    /// Credentials.
    pub credentials: Credentials,
    /// The runtime settings every call goes through: retries, breaker, limits, timeouts, hooks'
    /// configuration. Its `base_url` is replaced by the endpoint; compression and deduplication are
    /// turned off (stored bytes are returned as stored; signed requests are never identical).
    pub runtime: ConnectorConfig,
    /// Upload splitting.
    pub upload: UploadConfig,
    /// S3 only: address buckets as `bucket.host` instead of `host/bucket` (default: virtual hosted
    /// for AWS's own endpoints, path style for a custom endpoint).
    pub virtual_hosted: Option<bool>,
}

impl BlobConfig {
    /// A configuration for `url` with credentials read from the environment.
    pub fn new(url: &str) -> Result<BlobConfig, Error> {
        let url = BlobUrl::parse(url)?;
        let mut runtime = ConnectorConfig::new("http://localhost");
        runtime.timeout_ms = 120_000;
        runtime.rate_limit.concurrent_requests = 16;
        Ok(BlobConfig {
            url,
            endpoint: None,
            region: None,
            credentials: Credentials::FromEnv,
            runtime,
            upload: UploadConfig::default(),
            virtual_hosted: None,
        })
    }

    /// [`BlobConfig::new`] with the endpoint, region and credentials of the provider's standard
    /// environment variables, the same as [`Credentials::FromEnv`] reads at open time:
    /// - S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
    ///   `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`;
    /// - Azure: `AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT_NAME` with
    ///   `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN` or `AZURE_STORAGE_TOKEN`, and
    ///   `AZURE_STORAGE_ENDPOINT`;
    /// - GCS: `GOOGLE_APPLICATION_CREDENTIALS` (a service account key file), `GOOGLE_SERVICE_ACCOUNT_KEY`
    ///   (its JSON), `GOOGLE_OAUTH_ACCESS_TOKEN`, and `STORAGE_EMULATOR_HOST`.
    pub fn from_env(url: &str) -> Result<BlobConfig, Error> {
        let mut config = BlobConfig::new(url)?;
        config.resolve_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Set the endpoint.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Set the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Set the credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Replace [`Credentials::FromEnv`] (and a missing endpoint or region) by what `lookup` finds.
    pub(crate) fn resolve_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        match self.url.provider {
            Provider::S3 => {
                if self.region.is_none() {
                    self.region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
                }
                if self.endpoint.is_none() {
                    self.endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
                }
                if matches!(self.credentials, Credentials::FromEnv) {
                    self.credentials = match (
                        var("AWS_ACCESS_KEY_ID"),
                        var("AWS_SECRET_ACCESS_KEY"),
                    ) {
                        (Some(id), Some(secret)) => Credentials::AwsKeys {
                            access_key_id: id,
                            secret_access_key: secret.into(),
                            session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
                        },
                        (Some(_), None) => {
                            return Err(auth(
                                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
                            ));
                        }
                        _ => {
                            return Err(auth(
                                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                                 (and AWS_SESSION_TOKEN for temporary ones), or pass credentials",
                            ));
                        }
                    };
                }
            }
            Provider::Azure => {
                let conn = var("AZURE_STORAGE_CONNECTION_STRING")
                    .map(|c| parse_connection_string(&c))
                    .unwrap_or_default();
                let field = |k: &str| conn.get(&k.to_ascii_lowercase()).cloned();
                if self.endpoint.is_none() {
                    self.endpoint = field("BlobEndpoint").or_else(|| var("AZURE_STORAGE_ENDPOINT"));
                }
                if matches!(self.credentials, Credentials::FromEnv) {
                    let account =
                        field("AccountName").or_else(|| var("AZURE_STORAGE_ACCOUNT_NAME"));
                    let key = field("AccountKey").or_else(|| var("AZURE_STORAGE_ACCOUNT_KEY"));
                    let sas =
                        field("SharedAccessSignature").or_else(|| var("AZURE_STORAGE_SAS_TOKEN"));
                    let token = var("AZURE_STORAGE_TOKEN");
                    let account =
                        account.or_else(|| self.endpoint.as_deref().and_then(account_of_endpoint));
                    self.credentials = match (account, key, sas, token) {
                        (Some(account), Some(key), _, _) => Credentials::AzureSharedKey {
                            account,
                            key: key.into(),
                        },
                        (Some(account), None, Some(sas), _) => Credentials::AzureSas {
                            account,
                            sas: sas.into(),
                        },
                        (account, None, None, Some(token)) => Credentials::Bearer {
                            account,
                            token: token.into(),
                        },
                        _ => {
                            return Err(auth(
                                "no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, or \
                                 AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, \
                                 AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_TOKEN",
                            ));
                        }
                    };
                }
            }
            Provider::Gcs => {
                if self.endpoint.is_none() {
                    self.endpoint = var("STORAGE_EMULATOR_HOST").map(|h| {
                        if h.contains("://") {
                            h
                        } else {
                            format!("http://{h}")
                        }
                    });
                }
                if matches!(self.credentials, Credentials::FromEnv) {
                    self.credentials = if let Some(json) = var("GOOGLE_SERVICE_ACCOUNT_KEY") {
                        Credentials::GcsServiceAccount {
                            key_json: json.into(),
                        }
                    } else if let Some(path) = var("GOOGLE_APPLICATION_CREDENTIALS") {
                        let json = std::fs::read_to_string(&path).map_err(|e| {
                            auth(format!(
                                "GOOGLE_APPLICATION_CREDENTIALS names {path}, which cannot be read: {e}"
                            ))
                        })?;
                        Credentials::GcsServiceAccount {
                            key_json: json.into(),
                        }
                    } else if let Some(token) = var("GOOGLE_OAUTH_ACCESS_TOKEN") {
                        Credentials::Bearer {
                            account: None,
                            token: token.into(),
                        }
                    } else if self.endpoint.is_some() {
                        // An emulator (STORAGE_EMULATOR_HOST) takes unsigned requests.
                        Credentials::Anonymous
                    } else {
                        return Err(auth(
                            "no GCS credentials: set GOOGLE_APPLICATION_CREDENTIALS (a service \
                             account key file), GOOGLE_SERVICE_ACCOUNT_KEY or \
                             GOOGLE_OAUTH_ACCESS_TOKEN",
                        ));
                    };
                }
            }
        }
        Ok(())
    }

    /// The provider's client, sending through `pipeline`.
    pub(crate) fn build(&self, pipeline: PipelineConnector) -> Result<Built, Error> {
        // One retry policy: the runtime's (see transport.rs).
        let no_retries = RetryConfig {
            max_retries: 0,
            retry_timeout: Duration::from_secs(0),
            ..RetryConfig::default()
        };
        let bucket = &self.url.bucket;
        let wrong = |what: &str| {
            invalid(format!(
                "{what} credentials do not apply to {} stores",
                self.url.provider
            ))
        };
        let built = |e: object_store::Error| open_error(e, self.url.provider);
        match self.url.provider {
            Provider::S3 => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
                    .with_retry(no_retries)
                    // Copy-if-absent as a one-part multipart upload completed with
                    // `If-None-Match: *` (S3 has honoured it since 2024).
                    .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
                    .with_http_connector(pipeline);
                if let Some(endpoint) = &self.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(self.virtual_hosted.unwrap_or(false));
                } else if let Some(v) = self.virtual_hosted {
                    b = b.with_virtual_hosted_style_request(v);
                }
                b = match &self.credentials {
                    Credentials::AwsKeys {
                        access_key_id,
                        secret_access_key,
                        session_token,
                    } => {
                        let mut b = b
                            .with_access_key_id(access_key_id)
                            .with_secret_access_key(secret_access_key.expose_secret());
                        if let Some(t) = session_token {
                            b = b.with_token(t.expose_secret());
                        }
                        b
                    }
                    Credentials::Anonymous => b.with_skip_signature(true),
                    Credentials::FromEnv => return Err(invalid("credentials were not resolved")),
                    _ => return Err(wrong("these")),
                };
                let store = Arc::new(b.build().map_err(built)?);
                Ok(Built::new(store))
            }
            Provider::Azure => {
                let mut b = MicrosoftAzureBuilder::new()
                    .with_container_name(bucket)
                    .with_retry(no_retries)
                    .with_http_connector(pipeline);
                if let Some(endpoint) = &self.endpoint {
                    b = b
                        .with_endpoint(endpoint.trim_end_matches('/').to_owned())
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                b = match &self.credentials {
                    Credentials::AzureSharedKey { account, key } => {
                        b.with_account(account).with_access_key(key.expose_secret())
                    }
                    Credentials::AzureSas { account, sas } => {
                        let pairs = sas
                            .expose_secret()
                            .trim_start_matches('?')
                            .split('&')
                            .filter(|p| !p.is_empty())
                            .map(|p| {
                                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                                (decode(k), decode(v))
                            })
                            .collect::<Vec<_>>();
                        b.with_account(account).with_sas_authorization(pairs)
                    }
                    Credentials::Bearer {
                        account: Some(account),
                        token,
                    } => b
                        .with_account(account)
                        .with_bearer_token_authorization(token.expose_secret()),
                    Credentials::Anonymous => {
                        let account = self
                            .endpoint
                            .as_deref()
                            .and_then(account_of_endpoint)
                            .ok_or_else(|| {
                                invalid(
                                    "anonymous Azure access needs an endpoint naming the account",
                                )
                            })?;
                        b.with_account(account).with_skip_signature(true)
                    }
                    Credentials::FromEnv => return Err(invalid("credentials were not resolved")),
                    _ => return Err(wrong("these")),
                };
                let store = Arc::new(b.build().map_err(built)?);
                Ok(Built::new(store))
            }
            Provider::Gcs => {
                // GCS speaks its JSON API through our own store (see gcs.rs); object_store's
                // GCS client only turns a service account key into tokens.
                let token = match &self.credentials {
                    Credentials::GcsServiceAccount { key_json } => {
                        let sa = GoogleCloudStorageBuilder::new()
                            .with_bucket_name(bucket)
                            .with_retry(no_retries)
                            .with_http_connector(pipeline.clone())
                            .with_service_account_key(key_json.expose_secret())
                            .build()
                            .map_err(built)?;
                        Token::ServiceAccount(sa.credentials().clone())
                    }
                    Credentials::Bearer { token, .. } => Token::Static(token.clone()),
                    Credentials::Anonymous => Token::None,
                    Credentials::FromEnv => return Err(invalid("credentials were not resolved")),
                    _ => return Err(wrong("these")),
                };
                let base = self
                    .endpoint
                    .clone()
                    .unwrap_or_else(|| "https://storage.googleapis.com".to_owned());
                let store = Arc::new(GcsJson::new(
                    pipeline.connector().clone(),
                    &base,
                    bucket,
                    token.clone(),
                ));
                let mut out = Built::new(store);
                if let Token::ServiceAccount(p) = token {
                    out.gcs_credentials = Some(p);
                }
                Ok(out)
            }
        }
    }
}

/// A provider's client, as the store uses it.
pub(crate) struct Built {
    pub store: Arc<dyn ObjectStore>,
    pub lister: Arc<dyn PaginatedListStore>,
    /// A GCS service account's tokens, for the requests object_store does not make.
    pub gcs_credentials: Option<object_store::gcp::GcpCredentialProvider>,
}

impl Built {
    fn new<S: ObjectStore + PaginatedListStore>(store: Arc<S>) -> Built {
        Built {
            store: store.clone(),
            lister: store,
            gcs_credentials: None,
        }
    }
}

/// A client that could not be built: credentials that cannot be used (a malformed key, a key file
/// that does not parse) are AUTH_FAILED, anything else a VALIDATION_ERROR; nothing was sent.
fn open_error(e: object_store::Error, provider: Provider) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let credential = ["key", "credential", "token", "pem", "secret", "sas"]
        .iter()
        .any(|w| lower.contains(w));
    let (code, source) = if credential {
        (ErrorCode::AuthFailed, ErrorSource::Auth)
    } else {
        (ErrorCode::ValidationError, ErrorSource::Unknown)
    };
    Error::new(
        code,
        source,
        format!("the {provider} store cannot be opened: {text}"),
    )
    .with_detail("provider", provider.as_str())
    .with_cause(e)
}

/// `Key=Value;Key=Value` pairs of an Azure connection string, keys lower-cased.
fn parse_connection_string(text: &str) -> BTreeMap<String, String> {
    text.split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// The account of a path-style endpoint (`http://127.0.0.1:10000/devstoreaccount1`) or of a
/// `https://<account>.blob.core.windows.net` one.
fn account_of_endpoint(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    if let Some(first) = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
    {
        return Some(first.to_owned());
    }
    let host = url.host_str()?;
    host.split_once(".blob.")
        .map(|(account, _)| account.to_owned())
}

fn decode(text: &str) -> String {
    percent_decode(text)
}

/// Percent-decoding of a SAS query component (`+` is not a space in a SAS).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, ErrorSource::Unknown, message)
}

fn auth(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::AuthFailed, ErrorSource::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_provider_bucket_and_prefix() {
        let u = BlobUrl::parse("s3://data/raw/2026/").unwrap();
        assert_eq!(
            (u.provider, u.bucket.as_str(), u.prefix.as_str()),
            (Provider::S3, "data", "raw/2026/")
        );
        assert_eq!(u.key("a.csv"), "raw/2026/a.csv");
        let u = BlobUrl::parse("az://box").unwrap();
        assert_eq!((u.provider, u.prefix.as_str()), (Provider::Azure, ""));
        assert_eq!(u.key("/a"), "a");
        assert_eq!(BlobUrl::parse("gs://b/p").unwrap().key("k"), "p/k");
        for bad in ["s3:/x", "ftp://b/k", "gs:///k", "bucket/key"] {
            let e = BlobUrl::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ValidationError, "{bad}");
        }
    }

    #[test]
    fn the_environment_gives_each_providers_credentials() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let mut c = BlobConfig::new("s3://b").unwrap();
        c.resolve_env(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ]))
        .unwrap();
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let shown = format!("{c:?}");
        assert!(
            shown.contains("AKID") && !shown.contains("s3cr3t"),
            "{shown}"
        );

        let mut c = BlobConfig::new("az://box").unwrap();
        c.resolve_env(env(&[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        )]))
        .unwrap();
        assert!(
            matches!(&c.credentials, Credentials::AzureSharedKey { account, .. } if account == "devstoreaccount1")
        );
        assert_eq!(
            c.endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert!(!format!("{c:?}").contains("a2V5"));

        let mut c = BlobConfig::new("gs://b").unwrap();
        c.resolve_env(env(&[("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")]))
            .unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4443"));
        assert!(matches!(c.credentials, Credentials::Anonymous));

        // Missing credentials are an AUTH_FAILED error that says what to set.
        let mut c = BlobConfig::new("s3://b").unwrap();
        let e = c
            .resolve_env(env(&[("AWS_ACCESS_KEY_ID", "AKID")]))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed);
        assert!(e.message().contains("AWS_SECRET_ACCESS_KEY"));
        let mut c = BlobConfig::new("az://b").unwrap();
        assert_eq!(
            c.resolve_env(env(&[])).unwrap_err().code(),
            ErrorCode::AuthFailed
        );
    }

    #[test]
    fn sas_tokens_are_split_into_decoded_pairs() {
        assert_eq!(
            percent_decode("2026-01-01T00%3A00%3A00Z"),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(percent_decode("a%2Bb%zz"), "a+b%zz");
        assert_eq!(
            account_of_endpoint("http://127.0.0.1:1/acct").as_deref(),
            Some("acct")
        );
        assert_eq!(
            account_of_endpoint("https://acct.blob.core.windows.net").as_deref(),
            Some("acct")
        );
    }
}
