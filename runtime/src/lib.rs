//! `connector-runtime`: what every generated API connector links. One request pipeline with auth,
//! retry and backoff, circuit breaking, rate limiting, hooks, structured errors and observability;
//! streamed request and response bodies, and large uploads and downloads ([`transfer`]).
//!
//! The HTTP practices of the connector specification come with it, all inside that pipeline:
//! connections are pooled and kept alive ([`config::PoolConfig`]); gzip, brotli and deflate answers are
//! decoded transparently ([`CompressionConfig`], on by default); identical GET/HEAD calls in flight at
//! once share one exchange ([`DedupConfig`], on by default, [`RequestOptions::dedup`] per call); and an
//! opt-in cache turns repeated GETs into conditional requests answered from memory on
//! `304 Not Modified` ([`CacheConfig`], [`ResponseMeta::revalidated`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), connector_runtime::Error> {
//! use connector_runtime::{Connector, ConnectorConfig};
//! let connector = Connector::initialize(ConnectorConfig::new("https://api.example.com/v1"))?;
//! connector.connect().await?;
//! let user: connector_runtime::Response<serde_json::Value> = connector.get("/users/42").await?.json()?;
//! println!("{} (request id {})", user.data, user.meta.request_id);
//! connector.disconnect(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod error;
pub mod hooks;
mod idhash;
pub mod inbound;
pub mod observe;
pub mod operations;
pub mod pipeline;
pub mod policies;
pub mod redact;

// The modules' long-standing paths: each concern's members stay reachable at the crate root.
pub use inbound::webhooks;
use operations::support;
pub use operations::{batch, paginate, stream, transfer, xml};
use pipeline::{cache, connector, dedup, transport};
pub use pipeline::{request, response};
pub use policies::{bounded, breaker, ratelimit, retry};

pub use auth::{
    ApiKey, ApiKeyLocation, AuthConfig, AuthStrategy, AwsSigV4, AzureSharedKey, Basic, Bearer,
    ClientCertificate, Credentials, Custom, DeviceAuthorization, DeviceCode, HmacSigner, OAuth2,
    Signer, StaticHeaders, TokenProvider,
};
pub use config::{
    CacheConfig, CompressionConfig, ConnectorConfig, DedupConfig, RateLimitConfig, RetryConfig,
};
pub use connector::{Connector, ConnectorBuilder, DisconnectReport};
pub use error::{Error, ErrorCode, ErrorSource};
pub use hooks::{Hook, HookContext, HookError, HookType, hook_fn};
pub use request::{Body, BodySource, RequestOptions, RequestParts};
pub use response::{Response, ResponseMeta};
pub use transfer::{DownloadOptions, DownloadReport, Progress, UploadOptions, UploadReport};

pub use bytes::Bytes;
pub use http::{HeaderMap, Method, StatusCode};
pub use secrecy::SecretString;
pub use support::{Base64, CallOptions, FilePart, Multipart};
pub use tokio_util::sync::CancellationToken;

/// What generated code uses. Not a stable API for hand-written code: it may change in any release
/// without notice, and generated crates are regenerated with the runtime they pin.
#[doc(hidden)]
pub mod __private {
    pub use crate::support::*;
    pub use crate::xml::{
        ANY, BLOB, BOOLEAN, INTEGER, NUMBER, STRING, TIMESTAMP, XmlField, XmlList, XmlMap,
        XmlScalar, XmlShape, XmlStruct,
    };
    pub use crate::{Body, BodySource, DownloadReport};
    pub use crate::{Connector, ConnectorConfig, Error, Response};
    pub use crate::{paginate, stream};
    pub use bytes;
    pub use http;
    pub use http::Method;
    pub use serde;
    pub use serde_json;
}
