//! The lane: the pipeline's own transport over hyper-util's pooled client (the client reqwest is
//! built on), with rustls through hyper-rustls and response decompression through tower-http. It
//! does per request only what a connector needs: reqwest's own layers
//! (its redirect policy writes and parses every request's URL again, whether a redirect comes or
//! not) cost plain reqwest about a third of its CPU per call, more than the whole pipeline.
//!
//! What it does as reqwest did (the tests hold both to it): `Accept: */*` and the configured
//! `User-Agent` unless the request has its own; `Accept-Encoding` for the enabled codings and the
//! body decoded by its `Content-Encoding`; HTTP/2 when the server's ALPN picks it; connect timeout,
//! TCP keep-alive, `TCP_NODELAY`, idle timeout and idle connections per host from `PoolConfig`.
//! Redirects are followed by `pipeline/redirect`, as for reqwest.
//!
//! Architecture Invariant: the lane never retries. hyper-util's pool resends a request only when
//! a pooled connection was found closed before any byte of it was written.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{ACCEPT, Entry, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;
use url::Url;

use crate::config::ConnectorConfig;
use crate::error::Error;
use crate::pipeline::redirect::{self, Kept};
use crate::pipeline::transport::{Answer, AnswerBody, Outgoing, TransportError};
use crate::redact::Redactor;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A response body as the lane hands it over: decoded by its `Content-Encoding`.
pub(crate) type LaneBody = DecompressionBody<Incoming>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong in the lane.
#[derive(Debug)]
pub(crate) enum LaneError {
    /// The request could not be sent or its answer's head not read (`is_connect` tells whether a
    /// connection was made at all).
    Send(hyper_util::client::legacy::Error),
    /// The body could not be read: the connection failed (a `hyper::Error`) or the body does not
    /// decode (an `io::Error` from the decoder).
    Body(BoxError),
    /// The URL is not one HTTP can carry.
    Uri(http::uri::InvalidUri),
}

/// The lane's client and what it adds to every request.
pub(crate) struct Lane {
    client: Client<Https, reqwest::Body>,
    user_agent: HeaderValue,
    gzip: bool,
    brotli: bool,
    deflate: bool,
    max_redirects: u32,
}

impl Lane {
    /// The lane for `config` (valid, without a proxy), over `tls`.
    pub(crate) fn build(
        config: &ConnectorConfig,
        tls: rustls::ClientConfig,
    ) -> Result<Lane, Error> {
        use hyper_util::rt::{TokioExecutor, TokioTimer};
        let pool = &config.pool;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(pool.connect_timeout_ms)));
        if pool.tcp_keepalive_ms > 0 {
            http.set_keepalive(Some(Duration::from_millis(pool.tcp_keepalive_ms)));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_millis(pool.idle_timeout_ms))
            .pool_max_idle_per_host(pool.max_idle_per_host)
            .build(https);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|e| Error::validation("user_agent", format!("not a header value: {e}")))?;
        Ok(Lane {
            client,
            user_agent,
            gzip: config.compression.gzip,
            brotli: config.compression.brotli,
            deflate: config.compression.deflate,
            max_redirects: config.max_redirects,
        })
    }

    /// `request` sent, and its redirects followed (`redactor` names the headers dropped on a
    /// redirect to another origin): the answer, pending (nothing is sent until it is polled).
    pub(crate) fn send(
        self: &Arc<Self>,
        mut request: Outgoing,
        redactor: &Redactor,
    ) -> impl Future<Output = Result<Answer, TransportError>> + Send + use<> {
        if let Entry::Vacant(e) = request.headers.entry(ACCEPT) {
            e.insert(HeaderValue::from_static("*/*"));
        }
        if let Entry::Vacant(e) = request.headers.entry(USER_AGENT) {
            e.insert(self.user_agent.clone());
        }
        // Only what a redirect needs is kept, and only when redirects are followed.
        let kept = (self.max_redirects > 0).then(|| Kept::of(&request, redactor));
        let Outgoing {
            method,
            url,
            headers,
            body,
            stream,
        } = request;
        let first = self.hop(method, &url, headers, Outgoing::body(body, stream.as_ref()));
        let lane = kept.as_ref().map(|_| self.clone());
        async move {
            let first = answer(first?.await.map_err(sending_failed)?);
            match (lane, kept) {
                (Some(lane), Some(kept)) if redirect::is_redirect(first.status) => {
                    let hop = |method, url: &Url, headers, body: Bytes| {
                        let sent = lane.hop(method, url, headers, reqwest::Body::from(body))?;
                        Ok(sent.map(|r| r.map(answer).map_err(sending_failed)))
                    };
                    redirect::follow(first, url, kept, lane.max_redirects, hop).await
                }
                _ => Ok(first),
            }
        }
    }

    /// One exchange: the request made and handed to the client.
    fn hop(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<
        tower_http::decompression::ResponseFuture<hyper_util::client::legacy::ResponseFuture>,
        TransportError,
    > {
        let uri = http::Uri::try_from(url.as_str())
            .map_err(|e| TransportError::Lane(LaneError::Uri(e)))?;
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        // Made per request around a borrow of the client (a few flags): the client is not cloned.
        // hyper-util's client is always ready, so `poll_ready` is not awaited.
        let mut svc = Decompression::new(&self.client)
            .gzip(self.gzip)
            .br(self.brotli)
            .deflate(self.deflate);
        Ok(svc.call(req))
    }
}

fn sending_failed(e: hyper_util::client::legacy::Error) -> TransportError {
    TransportError::Lane(LaneError::Send(e))
}

fn answer(resp: Response<LaneBody>) -> Answer {
    let (parts, body) = resp.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: AnswerBody::Lane(body),
    }
}

/// The next piece of `body`'s data (trailers are skipped), `None` at its end.
pub(crate) async fn chunk(body: &mut LaneBody) -> Result<Option<Bytes>, LaneError> {
    use http_body_util::BodyExt;
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(LaneError::Body(e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
