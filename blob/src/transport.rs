//! object_store's HTTP, routed through the connector runtime's pipeline: every request the provider
//! protocols make (already signed by them) is sent by [`connector_runtime::Connector::request_stream`],
//! so retries with backoff and the retry budget, the circuit breaker, rate and concurrency limits,
//! hooks, spans and metrics are the runtime's, as for every other connector.
//!
//! Architecture Invariant: object_store's own retry loop is off (`max_retries = 0`, set by
//! [`crate::config`]); one retry policy decides, the runtime's. Answers whose status carries a
//! meaning object_store acts on (304, 401, 403, 404, 409, 412) are handed back to it as answers;
//! every other failure is handed back as an error whose source is the runtime's [`Error`], which
//! [`crate::error`] finds again.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use connector_runtime::request::BodySource;
use connector_runtime::response::BodyStream;
use connector_runtime::{Body, Connector, Error, ErrorCode, RequestOptions};
use futures_util::Stream;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody,
    HttpResponse, HttpResponseBody, HttpService,
};

use crate::config::Provider;

/// Bytes sent in request bodies, by provider and operation.
pub const BYTES_SENT: &str = "blob_bytes_sent_total";
/// Bytes received in response bodies, by provider and operation.
pub const BYTES_RECEIVED: &str = "blob_bytes_received_total";

/// The [`HttpConnector`] handed to object_store's builders: every client it makes sends through
/// one runtime [`Connector`].
#[derive(Debug, Clone)]
pub struct PipelineConnector {
    connector: Connector,
    provider: Provider,
}

impl PipelineConnector {
    /// Requests of `provider`'s protocol, sent through `connector`.
    pub fn new(connector: Connector, provider: Provider) -> Self {
        PipelineConnector {
            connector,
            provider,
        }
    }
}

impl PipelineConnector {
    /// The runtime connector requests go through.
    pub(crate) fn connector(&self) -> &Connector {
        &self.connector
    }
}

impl HttpConnector for PipelineConnector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(PipelineService {
            connector: self.connector.clone(),
            provider: self.provider,
        }))
    }
}

#[derive(Debug)]
struct PipelineService {
    connector: Connector,
    provider: Provider,
}

#[async_trait::async_trait]
impl HttpService for PipelineService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let operation = operation_name(self.provider, &parts.method, &parts.uri, &parts.headers);
        let provider = self.provider.as_str();
        let sent = body.content_length() as u64;
        let mut options = RequestOptions::new(parts.method.clone(), parts.uri.to_string())
            .endpoint(operation)
            .dedup(false);
        options.use_cache = false;
        // Batch deletes are POSTs the runtime would not replay; deleting twice is harmless, so a
        // key marks them safe to retry (providers ignore the header).
        if matches!(operation, "s3:DeleteObjects" | "azure:BlobBatch") {
            options = options.idempotency_key(connector_runtime::request::random_idempotency_key());
        }
        options.headers = parts.headers;
        options.body = runtime_body(&parts.method, body).await?;
        match self.connector.request_stream(options).await {
            Ok(answer) => {
                metrics::counter!(BYTES_SENT, "provider" => provider, "operation" => operation)
                    .increment(sent);
                let mut response = http::Response::new(HttpResponseBody::new(Counted {
                    inner: Mutex::new(answer.body),
                    provider,
                    operation,
                }));
                *response.status_mut() = answer.status;
                *response.headers_mut() = answer.headers;
                Ok(response)
            }
            Err(error) => match error.status().filter(|s| handed_back(*s)) {
                Some(status) => {
                    let body = error.raw_body().cloned().unwrap_or_default();
                    let mut response = http::Response::new(HttpResponseBody::from(body));
                    *response.status_mut() = status;
                    *response.headers_mut() = error.headers().cloned().unwrap_or_default();
                    Ok(response)
                }
                None => Err(HttpError::new(kind(&error), error)),
            },
        }
    }
}

/// The statuses object_store turns into errors of their own kind (NotModified, Unauthenticated,
/// PermissionDenied, NotFound, AlreadyExists, Precondition).
fn handed_back(status: StatusCode) -> bool {
    matches!(status.as_u16(), 304 | 401 | 403 | 404 | 409 | 412)
}

fn kind(error: &Error) -> HttpErrorKind {
    match error.code() {
        ErrorCode::NetworkError if error.request_sent() => HttpErrorKind::Interrupted,
        ErrorCode::NetworkError => HttpErrorKind::Connect,
        ErrorCode::Timeout => HttpErrorKind::Timeout,
        _ => HttpErrorKind::Unknown,
    }
}

/// The request body as the runtime sends it: no body for an empty GET, HEAD or DELETE; otherwise a
/// replayable stream over the payload's own chunks (no copy), with no content type of its own, since
/// the providers' signatures cover the `Content-Type` and `Content-Length` object_store chose.
async fn runtime_body(method: &Method, body: HttpRequestBody) -> Result<Body, HttpError> {
    let bodiless = [Method::GET, Method::HEAD, Method::DELETE];
    if body.is_empty() && bodiless.contains(method) {
        return Ok(Body::Empty);
    }
    let source = match body.as_bytes() {
        Some(bytes) => BodySource::bytes(bytes.clone()),
        None => {
            let mut body = body;
            let mut chunks = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    chunks.push(BodySource::bytes(data));
                }
            }
            BodySource::concat(chunks)
        }
    };
    Ok(Body::Stream {
        content_type: None,
        source,
    })
}

/// A response body that counts what it yields. The mutex only makes the stream `Sync`, as
/// object_store requires; it is never locked (polling has `&mut` access).
struct Counted {
    inner: Mutex<BodyStream>,
    provider: &'static str,
    operation: &'static str,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        let stream = match this.inner.get_mut() {
            Ok(stream) => stream,
            Err(poisoned) => poisoned.into_inner(),
        };
        match Pin::new(stream).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                metrics::counter!(BYTES_RECEIVED, "provider" => this.provider, "operation" => this.operation)
                    .increment(chunk.len() as u64);
                Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => {
                let kind = match e.code() {
                    ErrorCode::Timeout => HttpErrorKind::Timeout,
                    ErrorCode::Cancelled => HttpErrorKind::Unknown,
                    _ => HttpErrorKind::Interrupted,
                };
                Poll::Ready(Some(Err(HttpError::new(kind, e))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The provider's name for the operation a request is, for spans, metrics and errors (the
/// runtime's `endpoint`): S3's API action names, Azure's REST operation names, and GCS's JSON and
/// XML API method names.
pub fn operation_name(
    provider: Provider,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> &'static str {
    let query = uri.query().unwrap_or("");
    let has = |key: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    };
    let value = |key: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
    };
    let path = uri.path();
    match provider {
        Provider::S3 => match *method {
            Method::GET if has("list-type") || has("prefix") || has("delimiter") => {
                "s3:ListObjectsV2"
            }
            Method::GET if has("uploadId") => "s3:ListParts",
            Method::GET if has("acl") => "s3:GetObjectAcl",
            Method::GET => "s3:GetObject",
            Method::HEAD => "s3:HeadObject",
            Method::PUT if has("acl") => "s3:PutObjectAcl",
            Method::PUT if has("partNumber") && headers.contains_key("x-amz-copy-source") => {
                "s3:UploadPartCopy"
            }
            Method::PUT if has("partNumber") => "s3:UploadPart",
            Method::PUT if headers.contains_key("x-amz-copy-source") => "s3:CopyObject",
            Method::PUT => "s3:PutObject",
            Method::POST if has("delete") => "s3:DeleteObjects",
            Method::POST if has("uploads") => "s3:CreateMultipartUpload",
            Method::POST if has("uploadId") => "s3:CompleteMultipartUpload",
            Method::DELETE if has("uploadId") => "s3:AbortMultipartUpload",
            Method::DELETE => "s3:DeleteObject",
            _ => "s3:Other",
        },
        Provider::Azure => match (method.clone(), value("comp")) {
            (Method::GET, Some("list")) => "azure:ListBlobs",
            (Method::GET, Some("blocklist")) => "azure:GetBlockList",
            (Method::GET, _) => "azure:GetBlob",
            (Method::HEAD, _) => "azure:GetBlobProperties",
            (Method::PUT, Some("block")) => "azure:PutBlock",
            (Method::PUT, Some("blocklist")) => "azure:PutBlockList",
            (Method::PUT, _) if headers.contains_key("x-ms-copy-source") => "azure:CopyBlob",
            (Method::PUT, _) => "azure:PutBlob",
            (Method::POST, Some("batch")) => "azure:BlobBatch",
            (Method::POST, Some("userdelegationkey")) => "azure:GetUserDelegationKey",
            (Method::DELETE, _) => "azure:DeleteBlob",
            _ => "azure:Other",
        },
        Provider::Gcs => {
            let json = path.starts_with("/storage/v1/");
            match *method {
                Method::GET if json && path.ends_with("/o") => "gcs:objects.list",
                Method::GET if json => "gcs:objects.get",
                Method::GET if has("uploadId") => "gcs:ListParts",
                Method::GET => "gcs:GetObject",
                Method::HEAD => "gcs:HeadObject",
                Method::PUT if has("partNumber") => "gcs:UploadPart",
                Method::PUT if headers.contains_key("x-goog-copy-source") => "gcs:CopyObject",
                Method::PUT => "gcs:PutObject",
                Method::POST if path.contains("/token") || path.ends_with("/oauth2/v4/token") => {
                    "gcs:token"
                }
                Method::POST if has("uploads") => "gcs:InitiateMultipartUpload",
                Method::POST if has("uploadId") => "gcs:CompleteMultipartUpload",
                Method::POST if path.contains("/rewriteTo/") || path.contains("/copyTo/") => {
                    "gcs:objects.rewrite"
                }
                Method::POST => "gcs:Other",
                Method::DELETE if has("uploadId") => "gcs:AbortMultipartUpload",
                Method::DELETE => "gcs:DeleteObject",
                _ => "gcs:Other",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(provider: Provider, method: Method, uri: &str, header: Option<&str>) -> &'static str {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert(
                http::HeaderName::from_bytes(h.as_bytes()).unwrap(),
                "x".parse().unwrap(),
            );
        }
        operation_name(provider, &method, &uri.parse().unwrap(), &headers)
    }

    #[test]
    fn requests_are_named_by_the_providers_operation() {
        let s3 = Provider::S3;
        assert_eq!(
            op(s3, Method::GET, "http://h/b?list-type=2&prefix=a", None),
            "s3:ListObjectsV2"
        );
        assert_eq!(op(s3, Method::GET, "http://h/b/k", None), "s3:GetObject");
        assert_eq!(
            op(
                s3,
                Method::PUT,
                "http://h/b/k?partNumber=1&uploadId=x",
                None
            ),
            "s3:UploadPart"
        );
        assert_eq!(
            op(s3, Method::PUT, "http://h/b/k", Some("x-amz-copy-source")),
            "s3:CopyObject"
        );
        assert_eq!(
            op(
                s3,
                Method::PUT,
                "http://h/b/k?partNumber=1&uploadId=x",
                Some("x-amz-copy-source")
            ),
            "s3:UploadPartCopy"
        );
        assert_eq!(
            op(s3, Method::POST, "http://h/b?delete", None),
            "s3:DeleteObjects"
        );
        assert_eq!(
            op(s3, Method::POST, "http://h/b/k?uploads", None),
            "s3:CreateMultipartUpload"
        );
        let az = Provider::Azure;
        assert_eq!(
            op(
                az,
                Method::GET,
                "http://h/a/c?restype=container&comp=list",
                None
            ),
            "azure:ListBlobs"
        );
        assert_eq!(
            op(az, Method::PUT, "http://h/a/c/k?comp=block&blockid=x", None),
            "azure:PutBlock"
        );
        assert_eq!(
            op(
                az,
                Method::POST,
                "http://h/a/c?restype=container&comp=batch",
                None
            ),
            "azure:BlobBatch"
        );
        assert_eq!(
            op(az, Method::HEAD, "http://h/a/c/k", None),
            "azure:GetBlobProperties"
        );
        let gcs = Provider::Gcs;
        assert_eq!(
            op(gcs, Method::GET, "http://h/storage/v1/b/b/o?prefix=a", None),
            "gcs:objects.list"
        );
        assert_eq!(op(gcs, Method::PUT, "http://h/b/k", None), "gcs:PutObject");
        assert_eq!(
            op(gcs, Method::PUT, "http://h/b/k", Some("x-goog-copy-source")),
            "gcs:CopyObject"
        );
    }
}
