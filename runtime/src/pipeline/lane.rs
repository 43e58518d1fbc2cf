//! The lane: the pipeline's own transport over hyper-util's pooled client (the client reqwest is
//! built on), with rustls through hyper-rustls, response decompression through tower-http, and
//! redirects followed here. It does per request only what a connector needs: reqwest's own layers
//! (its redirect policy writes and parses every request's URL again, whether a redirect comes or
//! not) cost plain reqwest about a third of its CPU per call, more than the whole pipeline.
//!
//! What it does as reqwest did (the tests hold both to it): `Accept: */*` and the configured
//! `User-Agent` unless the request has its own; `Accept-Encoding` for the enabled codings and the
//! body decoded by its `Content-Encoding`; HTTP/2 when the server's ALPN picks it; connect timeout,
//! TCP keep-alive, `TCP_NODELAY`, idle timeout and idle connections per host from `PoolConfig`.
//! Redirects follow reqwest's rules: 301 and 302 turn a POST into a GET without body, 303 turns any
//! method but HEAD into a GET without body, 307 and 308 resend method and body (a streamed body
//! cannot be resent: the 3xx is then the answer, as is one without a usable `Location`);
//! credentials (`Authorization`, `Cookie`, `Proxy-Authorization`, `WWW-Authenticate`) are dropped
//! when the target is another origin; more than `max_redirects` is an error. No `Referer` is sent
//! (nor by reqwest, configured alike): the URL it would carry may hold a query-string credential.
//!
//! Architecture Invariant: the lane never retries. hyper-util's pool resends a request only when
//! a pooled connection was found closed before any byte of it was written.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, Entry, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, USER_AGENT, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;
use url::Url;

use crate::config::ConnectorConfig;
use crate::error::Error;
use crate::pipeline::transport::{Answer, AnswerBody, Outgoing, TransportError};

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
    /// A redirect more than the configured limit.
    TooManyRedirects(u32),
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

/// What a redirect needs of the request it repeats.
struct Kept {
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    /// Whether the body can be sent again (it is not a stream).
    replayable: bool,
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

    /// `request` sent, and its redirects followed: the answer, pending (nothing is sent until it
    /// is polled).
    pub(crate) fn send(
        self: &Arc<Self>,
        request: Outgoing,
    ) -> impl Future<Output = Result<Answer, TransportError>> + Send + use<> {
        let Outgoing {
            method,
            url,
            mut headers,
            body,
            stream,
        } = request;
        if let Entry::Vacant(e) = headers.entry(ACCEPT) {
            e.insert(HeaderValue::from_static("*/*"));
        }
        if let Entry::Vacant(e) = headers.entry(USER_AGENT) {
            e.insert(self.user_agent.clone());
        }
        // Only what a redirect needs is kept, and only when redirects are followed.
        let kept = (self.max_redirects > 0).then(|| Kept {
            method: method.clone(),
            headers: headers.clone(),
            body: body.clone(),
            replayable: stream.is_none() || !body.is_empty(),
        });
        let first = self.hop(method, &url, headers, Outgoing::body(body, stream.as_ref()));
        let lane = kept.as_ref().map(|_| self.clone());
        async move {
            let resp = first?
                .await
                .map_err(|e| TransportError::Lane(LaneError::Send(e)))?;
            match (lane, kept) {
                (Some(lane), Some(kept)) if is_redirect(resp.status()) => {
                    lane.follow(resp, url, kept).await
                }
                _ => Ok(answer(resp)),
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

    /// The redirects from `resp` (the answer to `url`) followed, each by the rules in the module's
    /// doc, to the first answer that is not one to follow.
    async fn follow(
        &self,
        mut resp: Response<LaneBody>,
        mut url: Url,
        mut kept: Kept,
    ) -> Result<Answer, TransportError> {
        let mut hops = 0u32;
        loop {
            match resp.status() {
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => {
                    if kept.method == Method::POST {
                        kept.method = Method::GET;
                        without_payload(&mut kept);
                    }
                }
                StatusCode::SEE_OTHER => {
                    if kept.method != Method::HEAD {
                        kept.method = Method::GET;
                    }
                    without_payload(&mut kept);
                }
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => {}
                _ => return Ok(answer(resp)),
            }
            if !kept.replayable {
                return Ok(answer(resp));
            }
            let next = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|n| matches!(n.scheme(), "http" | "https"));
            let Some(next) = next else {
                return Ok(answer(resp));
            };
            if hops >= self.max_redirects {
                return Err(TransportError::Lane(LaneError::TooManyRedirects(
                    self.max_redirects,
                )));
            }
            hops += 1;
            if next.origin() != url.origin() {
                for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE] {
                    kept.headers.remove(name);
                }
                kept.headers.remove("cookie2");
            }
            // The redirect's own body is not read: dropping it closes (or frees) its connection.
            drop(resp);
            let body = reqwest::Body::from(kept.body.clone());
            let sent = self.hop(kept.method.clone(), &next, kept.headers.clone(), body)?;
            resp = sent
                .await
                .map_err(|e| TransportError::Lane(LaneError::Send(e)))?;
            url = next;
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A redirect that turns the request into a GET drops its body and the headers that described it.
fn without_payload(kept: &mut Kept) {
    kept.body = Bytes::new();
    kept.replayable = true;
    for name in [
        CONTENT_TYPE,
        CONTENT_LENGTH,
        CONTENT_ENCODING,
        TRANSFER_ENCODING,
    ] {
        kept.headers.remove(name);
    }
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
