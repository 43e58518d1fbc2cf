//! The transport: what an attempt hands its request to, and what it gets back. The clients share one
//! rustls configuration (`tls`): the lane (hyper-util's pooled client with decompression, `lane`)
//! takes every exchange, and a reqwest client takes them instead when a proxy is configured; the
//! auth strategies' token requests have a reqwest client of their own. The exchanges' redirects
//! are followed here, by one piece of code for both ways (`redirect`).
//!
//! Architecture Invariant: no client retries on its own (reqwest's retry layer is
//! `retry::never()`, hyper-util's pool resends only a request no byte of which was written), and
//! the clients that carry the pipeline's exchanges follow no redirect themselves, so every retry
//! the connector makes is one the pipeline decided, counted and logged, and every redirect of an
//! exchange is followed by the same rules.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::config::ConnectorConfig;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::pipeline::lane::{Lane, LaneBody, LaneError};
use crate::pipeline::redirect::{self, Kept};
use crate::redact::Redactor;

/// The connector's clients, made by `connect` and dropped by `disconnect` (a clone shares them).
#[derive(Clone)]
pub(crate) struct Transport {
    /// reqwest's client for the auth strategies' token requests, which they send themselves: it
    /// follows redirects by its own rules (the same as `redirect`'s but for the redactor's names;
    /// `Authorization` is dropped across origins), up to `max_redirects`.
    pub(crate) http: reqwest::Client,
    /// What carries the pipeline's exchanges.
    way: Way,
    /// How many redirects `redirect` follows for them.
    max_redirects: u32,
}

/// The client of the pipeline's exchanges.
#[derive(Clone)]
enum Way {
    /// A connector without a proxy.
    Lane(Arc<Lane>),
    /// A connector with a proxy: reqwest, following no redirect itself.
    Proxied(reqwest::Client),
}

/// A request as the pipeline assembled it, for either client.
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    /// The body's bytes (empty for none, or for a streamed body).
    pub(crate) body: Bytes,
    /// A streamed body; `body` is then empty (bytes a hook put in its place replace it).
    pub(crate) stream: Option<crate::request::BodySource>,
}

impl Outgoing {
    /// The body for either client: the bytes, or the stream (opened, a one-shot reader taken, only
    /// when the client polls for its first bytes).
    pub(crate) fn body(body: Bytes, stream: Option<&crate::request::BodySource>) -> reqwest::Body {
        match stream {
            Some(source) => reqwest::Body::wrap_stream(source.stream_from(0)),
            None => reqwest::Body::from(body),
        }
    }

    fn into_reqwest(self) -> reqwest::Request {
        let mut req = reqwest::Request::new(self.method, self.url);
        *req.headers_mut() = self.headers;
        if !self.body.is_empty() || self.stream.is_some() {
            *req.body_mut() = Some(Outgoing::body(self.body, self.stream.as_ref()));
        }
        req
    }
}

/// What a client answered: the status and headers, and the body still to be read.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: AnswerBody,
}

/// An answer's unread body, from whichever client.
// The lane's body holds its decoder's state inline (360 bytes): boxing it would add an allocation
// to every call, for a value that stays in the exchange's state either way.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AnswerBody {
    Reqwest(reqwest::Response),
    Lane(LaneBody),
}

/// A failure of either client, or of following redirects.
#[derive(Debug)]
pub(crate) enum TransportError {
    Reqwest(reqwest::Error),
    Lane(LaneError),
    /// A redirect more than the configured limit.
    TooManyRedirects(u32),
}

impl TransportError {
    /// Whether any of the request may have reached the server (a failure to connect, or a URL
    /// HTTP cannot carry, sends nothing).
    pub(crate) fn request_sent(&self) -> bool {
        match self {
            TransportError::Reqwest(e) => !e.is_connect(),
            TransportError::Lane(LaneError::Send(e)) => !e.is_connect(),
            TransportError::Lane(LaneError::Uri(_)) => false,
            TransportError::Lane(_) | TransportError::TooManyRedirects(_) => true,
        }
    }
}

impl Answer {
    fn from_reqwest(mut resp: reqwest::Response) -> Answer {
        Answer {
            status: resp.status(),
            // Moved out, not copied: what is left of the response is only ever read for its body.
            headers: std::mem::take(resp.headers_mut()),
            body: AnswerBody::Reqwest(resp),
        }
    }
}

impl AnswerBody {
    /// The next piece of the body, `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self {
            AnswerBody::Reqwest(r) => r.chunk().await.map_err(TransportError::Reqwest),
            AnswerBody::Lane(b) => crate::pipeline::lane::chunk(b)
                .await
                .map_err(TransportError::Lane),
        }
    }

    /// The body's length when the answer declared it (and no decoding changes it).
    pub(crate) fn content_length(&self) -> Option<u64> {
        match self {
            AnswerBody::Reqwest(r) => r.content_length(),
            AnswerBody::Lane(b) => hyper::body::Body::size_hint(b).exact(),
        }
    }

    /// The body as a stream of pieces.
    pub(crate) fn into_stream(self) -> BoxStream<'static, Result<Bytes, TransportError>> {
        match self {
            AnswerBody::Reqwest(r) => r.bytes_stream().map_err(TransportError::Reqwest).boxed(),
            AnswerBody::Lane(b) => http_body_util::BodyExt::into_data_stream(b)
                .map_err(|e| TransportError::Lane(LaneError::Body(e)))
                .boxed(),
        }
    }
}

impl Transport {
    /// Both clients for `config` (which must already be valid).
    pub(crate) fn build(config: &ConnectorConfig) -> Result<Transport, Error> {
        let tls = crate::pipeline::tls::client_config(&config.tls)?;
        // reqwest takes a prebuilt configuration as it is: it offers what reqwest's own would.
        let mut offering_h2 = tls.clone();
        offering_h2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let way = match config.proxy {
            Some(_) => Way::Proxied(build_client(config, offering_h2.clone(), false)?),
            None => Way::Lane(Arc::new(Lane::build(config, tls)?)),
        };
        Ok(Transport {
            http: build_client(config, offering_h2, true)?,
            way,
            max_redirects: config.max_redirects,
        })
    }

    /// `request` handed over, its redirects to be followed (`redactor` names the headers dropped
    /// on a redirect to another origin): its answer, pending (nothing is sent until it is polled).
    pub(crate) fn send(
        &self,
        request: Outgoing,
        redactor: &Redactor,
    ) -> impl Future<Output = Result<Answer, TransportError>> + Send + use<> {
        use futures_util::future::Either;
        match &self.way {
            Way::Lane(lane) => Either::Left(lane.send(request, redactor)),
            Way::Proxied(http) => Either::Right(self.send_reqwest(http, request, redactor)),
        }
    }

    /// `send` through reqwest (`http`, which follows no redirect itself).
    fn send_reqwest(
        &self,
        http: &reqwest::Client,
        request: Outgoing,
        redactor: &Redactor,
    ) -> impl Future<Output = Result<Answer, TransportError>> + Send + use<> {
        let max_redirects = self.max_redirects;
        let follow = (max_redirects > 0).then(|| {
            let kept = Kept::of(&request, redactor);
            (kept, request.url.clone(), http.clone())
        });
        let first = reqwest_exchange(http, request);
        async move {
            let first = first.await?;
            match follow {
                Some((kept, url, http)) if redirect::is_redirect(first.status) => {
                    let hop = |method, url: &Url, headers, body| {
                        let request = Outgoing {
                            method,
                            url: url.clone(),
                            headers,
                            body,
                            stream: None,
                        };
                        Ok(reqwest_exchange(&http, request))
                    };
                    redirect::follow(first, url, kept, max_redirects, hop).await
                }
                _ => Ok(first),
            }
        }
    }
}

/// One exchange through reqwest.
fn reqwest_exchange(
    http: &reqwest::Client,
    request: Outgoing,
) -> impl Future<Output = Result<Answer, TransportError>> + Send + use<> {
    http.execute(request.into_reqwest())
        .map(|r| r.map(Answer::from_reqwest).map_err(TransportError::Reqwest))
}

/// reqwest's client for `config`, over `tls`; it `follows` redirects itself or not at all.
fn build_client(
    config: &ConnectorConfig,
    tls: rustls::ClientConfig,
    follows: bool,
) -> Result<reqwest::Client, Error> {
    let pool = &config.pool;
    let mut b = reqwest::Client::builder()
        .retry(reqwest::retry::never())
        // The pipeline's exchanges have their redirects followed by `pipeline/redirect`.
        .redirect(match config.max_redirects {
            n if follows && n > 0 => reqwest::redirect::Policy::limited(n as usize),
            _ => reqwest::redirect::Policy::none(),
        })
        .referer(false)
        .user_agent(config.user_agent.clone())
        .connect_timeout(Duration::from_millis(pool.connect_timeout_ms))
        .pool_max_idle_per_host(pool.max_idle_per_host)
        .pool_idle_timeout(Duration::from_millis(pool.idle_timeout_ms))
        .tls_backend_preconfigured(tls)
        .gzip(config.compression.gzip)
        .brotli(config.compression.brotli)
        .deflate(config.compression.deflate);
    if pool.tcp_keepalive_ms > 0 {
        b = b.tcp_keepalive(Duration::from_millis(pool.tcp_keepalive_ms));
    }

    if let Some(p) = &config.proxy {
        let mut proxy =
            reqwest::Proxy::all(&p.url).map_err(|e| Error::validation("proxy.url", e))?;
        if let Some(user) = &p.username {
            use secrecy::ExposeSecret;
            let pass = p.password.as_ref().map(|s| s.expose_secret()).unwrap_or("");
            proxy = proxy.basic_auth(user, pass);
        }
        if let Some(np) = &p.no_proxy {
            proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
        }
        b = b.proxy(proxy);
    } else {
        // Proxies come from configuration only, so behaviour does not change with the environment.
        b = b.no_proxy();
    }

    b.build().map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            ErrorSource::Transport,
            format!("could not build the HTTP client: {e}"),
        )
        .with_cause(e)
    })
}
