//! The request pipeline: the one non-generic function every call of every connector goes through.
//!
//! Per attempt, in this order:
//! 1. build the request: base URL and default query, default headers, per-call options, request id and
//!    idempotency key, then auth (`AuthStrategy::authenticate`);
//! 2. fail fast if the host's circuit is open, then wait for a rate-limiter slot (concurrency + tokens);
//! 3. `beforeRequest` hooks by priority; then the signer (`AuthStrategy::sign`) on the final request;
//! 4. execute with the per-attempt timeout (TIMEOUT) — the whole call is also raced against the caller's
//!    cancellation token and the connector's shutdown (CANCELLED);
//! 5. feed the rate limiter the response headers; `afterResponse` hooks; judge the status;
//! 6. on failure: `onError` hooks, a single credential refresh on 401, the retry decision (classifier,
//!    idempotency rule, attempts, budget, `Retry-After`), `onRetry` hooks, backoff;
//! 7. tracing span and events, and metrics, at each stage.
//!
//! A call nothing observes (no auth strategy, no hook at any stage, no response cache lookup) takes
//! steps 1, 2, 4 and 5 without the hook context: its request is assembled straight into the
//! transport's, and its answer judged as any other. Its retries are decided as any other's.
//!
//! Streaming ([`Connector::request_stream`]) runs the same steps; only step 4 differs: once the headers
//! of a success status (< 400) arrive, the body is left unread and handed to the caller, so the
//! per-attempt timeout covers the wait for headers only. `afterResponse` hooks see the status and
//! headers with an empty body (a body they set is ignored); error statuses are read in full as usual.
//! The rate-limit slot is released when the headers arrive, as for buffered calls, so a long-lived
//! stream holds no concurrency permit; the circuit breaker records the outcome at the same moment.
//! The call still counts as in flight until its body ends or is dropped: `disconnect` waits for open
//! streams up to its deadline, then they end with CANCELLED, as they do when the caller's token fires.
//! A body cut short is a NETWORK_ERROR from the stream and is not retried by the pipeline.
//!
//! Streamed request bodies ([`Body::Stream`]) are built into the request like buffered ones, with
//! `Content-Length` when the source knows its length, but hooks and signers see an empty
//! `RequestParts::body` (`is_streamed()` says why); step 4 opens the source afresh for each attempt. A
//! one-shot source, once read, makes a retryable failure final (detail `retry_stopped`) and skips the
//! replay after a 401.
//!
//! Two HTTP practices plug in here without changing the steps. [`Connector::execute`] first asks
//! `dedup` whether an identical GET/HEAD is in flight and, if so, shares its result instead of running
//! the steps again. Within an attempt, after auth in step 1, the response cache (`cache`, when
//! configured) keys the request and may add `If-None-Match` / `If-Modified-Since`; after the
//! `afterResponse` hooks in step 5 it turns a 304 into the stored answer or stores a new one. Hooks thus
//! see the exchange as it happened on the wire.
//!
//! Architecture Invariant: generated operations are thin calls into [`Connector::request`]; nothing here
//! is generic over the operation, so its code is compiled once, not once per endpoint.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use crate::breaker::Outcome;
use crate::connector::{Connector, InFlight};
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::hooks::{HookContext, HookType, ResponseParts};
use crate::pipeline::halt::Halt;
use crate::request::{
    Body, RequestOptions, RequestParts, append_raw_query, call_base, join_url, joined_template,
    random_idempotency_key,
};
use crate::response::{BodyStream, StreamingResponse};
use crate::response::{Response, ResponseMeta};
use crate::retry::{RetryDecision, RetryPolicy, parse_retry_after};
use crate::transport::{Answer, AnswerBody, Outgoing, Transport, TransportError};
use crate::{observe, redact::Redactor};

/// Response headers that carry a server-side request id, most specific first.
/// (Names made once: looking one up by `&str` would validate and lower-case it on every answer.)
static SERVER_REQUEST_ID_HEADERS: [HeaderName; 8] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("request-id"),
    HeaderName::from_static("x-github-request-id"),
    HeaderName::from_static("x-amzn-requestid"),
    HeaderName::from_static("x-amz-request-id"),
    HeaderName::from_static("x-ms-request-id"),
    HeaderName::from_static("twilio-request-id"),
    HeaderName::from_static("x-correlation-id"),
];

/// Who cancelled a call.
enum Cancelled {
    Caller,
    Shutdown,
}

/// Resolves when the caller's token or the connector's shutdown ends the call: [`race`] with
/// nothing to race (a streamed body's guard waits on it between chunks).
async fn cancelled(user: Option<&CancellationToken>, halt: &Halt, epoch: u64) -> Cancelled {
    match race(
        std::future::pending::<std::convert::Infallible>(),
        user,
        halt,
        epoch,
    )
    .await
    {
        Ok(never) => match never {},
        Err(who) => who,
    }
}

/// `call` raced against the caller's token and the connector's shutdown.
fn race<'a, F: Future>(
    call: F,
    user: Option<&'a CancellationToken>,
    halt: &'a Halt,
    epoch: u64,
) -> Race<'a, F> {
    Race {
        call,
        token: user.map(CancellationToken::cancelled),
        watch: halt.watch(epoch),
    }
}

pin_project_lite::pin_project! {
    /// See [`race`]. The call is polled first: a call that is done looks at neither signal. While
    /// it waits, the shutdown costs one atomic load per wake-up (see `Halt::watch`); a caller's
    /// token, when given, is polled as well (each look at a token locks it).
    struct Race<'a, F> {
        #[pin]
        call: F,
        #[pin]
        token: Option<tokio_util::sync::WaitForCancellationFuture<'a>>,
        #[pin]
        watch: crate::pipeline::halt::Watch<'a>,
    }
}

impl<F: Future> Future for Race<'_, F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(r) = this.call.poll(cx) {
            return Poll::Ready(Ok(r));
        }
        if let Some(t) = this.token.as_pin_mut() {
            if t.poll(cx).is_ready() {
                return Poll::Ready(Err(Cancelled::Caller));
            }
        }
        if this.watch.poll(cx).is_ready() {
            return Poll::Ready(Err(Cancelled::Shutdown));
        }
        Poll::Pending
    }
}

/// An attempt that finds no transport: the call entered a connected connector (see
/// `Connector::enter`), so a `disconnect` has finished since, while the call was not polled.
fn transport_gone() -> Error {
    Error::new(
        ErrorCode::Cancelled,
        ErrorSource::Unknown,
        "cancelled: the connector was disconnected",
    )
}

fn cancelled_error(who: Cancelled) -> Error {
    match who {
        Cancelled::Caller => Error::new(
            ErrorCode::Cancelled,
            ErrorSource::Unknown,
            "cancelled by the caller",
        ),
        Cancelled::Shutdown => Error::new(
            ErrorCode::Cancelled,
            ErrorSource::Unknown,
            "cancelled: the connector is disconnecting",
        ),
    }
}

/// Whether a call reads the body of a successful answer or hands it over unread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyMode {
    Buffered,
    Streamed,
}

/// The unread body of a streamed call, with what it needs to end and report like the call did.
/// Boxed where it is returned (as is the response it holds): every buffered call's result has room
/// for it, and moves that room from layer to layer, though only streamed calls fill it.
struct Unread {
    body: Box<AnswerBody>,
    in_flight: InFlight,
    /// The shutdown epoch the call began in.
    epoch: u64,
    method: Method,
    endpoint: Cow<'static, str>,
    started: Instant,
}

/// What stays fixed across the attempts of one call.
struct Call<'a> {
    opts: &'a RequestOptions,
    /// The metric labels of every attempt.
    labels: observe::Labels,
    /// The operation's template (borrowed from the generated code, so copied for free) or the
    /// call's shown path.
    endpoint: Cow<'static, str>,
    request_id: String,
    idempotency_key: Option<String>,
    started: Instant,
    mode: BodyMode,
    /// The call's span, for the attempts to record in (a look-up of the current span is not free).
    span: tracing::Span,
}

/// How a direct attempt started (see `Connector::start_direct`).
enum Start<'a, F> {
    /// An auth strategy is in force: the attempt goes through the hook context instead.
    Observed,
    /// Handed to the transport (`sent`, not yet polled) with its rate-limit slot; `on` is the
    /// breaker's key of its host.
    Sent {
        slot: crate::ratelimit::Slot<'a>,
        on: Cow<'a, str>,
        sent: F,
    },
    /// No rate-limit slot free at once: the request waits for one (boxed: the common start's
    /// result stays small, and only a queued attempt pays for the box).
    Queued {
        request: Box<Outgoing>,
        on: Cow<'a, str>,
    },
}

/// `request` handed to `transport` (`redactor` names the headers a redirect to another origin
/// drops): its answer, pending (nothing is sent until it is polled).
fn hand_over(
    transport: &Transport,
    request: Outgoing,
    redactor: &Redactor,
) -> impl Future<Output = Result<Answer, TransportError>> + use<> {
    transport.send(request, redactor)
}

/// `request` handed to the transport in `current` with `send`, logged (redacted) at debug level.
fn sending<F>(
    current: &crate::connector::Current,
    request: Outgoing,
    send: fn(&Transport, Outgoing, &Redactor) -> F,
) -> Result<F, Error> {
    let client = current.http.as_ref().ok_or_else(transport_gone)?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        let shown = current.redactor.url(&request.url);
        tracing::debug!(url = %shown, "sending");
    }
    Ok(send(client, request, &current.redactor))
}

/// A request's URL, headers and body, as every attempt assembles them.
struct Assembled {
    url: Url,
    headers: HeaderMap,
    body: Bytes,
    stream: Option<crate::request::BodySource>,
    /// Whether `url` is on the connector's own base (scheme, host and port), known from how it was
    /// made: its circuit-breaker key is then the one made at build.
    on_base: bool,
}

impl Call<'_> {
    /// `e` with this call's context, as of `attempt`.
    fn enrich(&self, e: Error, attempt: u32) -> Error {
        e.with_context(
            Some(&self.request_id),
            &self.opts.method,
            &self.endpoint,
            attempt,
            self.started.elapsed(),
        )
    }

    /// Step 5's judgement of an answer: a success status is the call's response, any other its
    /// error, with the context and the server's request id. The breaker hears which.
    fn conclude(
        &self,
        resp: ResponseParts,
        rl: crate::ratelimit::RateLimitStatus,
        server_id: Option<String>,
        revalidated: bool,
        ticket: crate::breaker::BreakerTicket<'_>,
        attempt: u32,
    ) -> Result<Response<Bytes>, Error> {
        if resp.status.as_u16() < 400 {
            ticket.record(Outcome::Healthy);
            return Ok(Response {
                data: resp.body,
                status: resp.status,
                headers: resp.headers,
                meta: ResponseMeta {
                    timestamp: SystemTime::now(),
                    duration: self.started.elapsed(),
                    retry_count: attempt - 1,
                    rate_limit: rl,
                    // Empty for the call's own id, which `run` moves in.
                    request_id: server_id.unwrap_or_default(),
                    revalidated,
                    deduplicated: false,
                    method: self.opts.method.clone(),
                    endpoint: self.endpoint.clone(),
                },
            });
        }
        ticket.record(if resp.status.is_server_error() {
            Outcome::Unhealthy
        } else {
            Outcome::Healthy
        });
        let retry_after = parse_retry_after(&resp.headers, SystemTime::now());
        let mut e = Error::from_status(resp.status, resp.headers, resp.body);
        if let Some(ra) = retry_after {
            e.insert_detail("retry_after_ms", ra.as_millis() as u64);
        }
        let mut e = self.enrich(e, attempt);
        e.set_request_id(server_id);
        Err(e)
    }
}

impl Connector {
    /// A call with sharing of identical GETs in flight (`dedup`) when it applies.
    ///
    /// No `async` layer of its own: [`Connector::run`] owns the options, and each `async` layer
    /// would move the call's whole state once more before it starts.
    pub(crate) fn execute(
        &self,
        opts: RequestOptions,
    ) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + '_ {
        use futures_util::future::Either;
        match crate::dedup::key(self, &opts) {
            // Boxed: sharing is a state machine of its own (a spawned leader, a shared result), so
            // the direct path's state does not grow by it.
            Some(key) => Either::Left(Box::pin(crate::dedup::shared(self, key, opts))),
            None => Either::Right(self.execute_alone(opts)),
        }
    }

    /// [`Connector::execute`] without sharing an identical call in flight (see `dedup`).
    pub(crate) fn execute_alone(
        &self,
        opts: RequestOptions,
    ) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + '_ {
        use futures_util::FutureExt;
        self.run(opts, BodyMode::Buffered)
            .map(|r| r.map(|(resp, _)| resp))
    }

    /// [`Connector::execute`] with the body of a successful answer left unread.
    pub(crate) fn execute_stream(
        &self,
        opts: RequestOptions,
    ) -> impl Future<Output = Result<StreamingResponse, Error>> + Send + '_ {
        let cancel = opts.cancel.clone();
        let call = self.run(opts, BodyMode::Streamed);
        async move {
            let (resp, unread) = call.await?;
            let body = match unread {
                Some(u) => BodyStream::new(Guarded {
                    open: self.track_stream(u.body.into_stream(), u.in_flight),
                    done: false,
                    cancel: {
                        let inner = self.inner.clone();
                        let epoch = u.epoch;
                        Box::pin(
                            async move { cancelled(cancel.as_ref(), &inner.halt, epoch).await },
                        )
                    },
                    request_id: resp.meta.request_id.clone(),
                    attempt: resp.meta.retry_count + 1,
                    method: u.method,
                    endpoint: u.endpoint,
                    started: u.started,
                }),
                // A hook turned a failure into a success: its body was read already.
                None if resp.data.is_empty() => BodyStream::empty(),
                None => BodyStream::new(futures_util::stream::iter([Ok(resp.data)])),
            };
            Ok(StreamingResponse {
                status: resp.status,
                headers: resp.headers,
                meta: resp.meta,
                body,
            })
        }
    }

    /// A call's span, its race against cancellation, and the report of its failure around the
    /// attempt loop. The span and ids are made when the call is made; the rest is one instrumented
    /// block, which owns the options (everything below borrows them), mapped to the report: not an
    /// `async fn` around it, since each `async` layer moves the call's state once more when awaited
    /// (and an `async fn` keeps a by-value argument twice, as captured and as moved into its body).
    fn run(
        &self,
        opts: RequestOptions,
        mode: BodyMode,
    ) -> impl Future<Output = Result<(Response<Bytes>, Option<Box<Unread>>), Error>> + Send + '_
    {
        use futures_util::FutureExt;
        let started = Instant::now();
        let endpoint: Cow<'static, str> = match &opts.endpoint {
            Some(e) => e.clone(),
            None => Cow::Owned(shown_path(&opts.path, &self.inner.current().redactor)),
        };
        let request_id = opts
            .headers
            .get(&self.inner.request_id_name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(crate::request::random_request_id);
        let span = tracing::info_span!(
            "connector.request",
            method = %opts.method,
            endpoint = %endpoint,
            request_id = %request_id,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            retry_count = tracing::field::Empty,
        );
        let shown = endpoint.clone();
        let method = opts.method.clone();
        let reported = span.clone();
        let recorded = span.clone();
        async move {
            let opts = &opts;
            let in_flight = self.enter()?;
            if let Some(name) = opts.invalid_headers.first() {
                return Err(Error::validation(
                    &format!("header {name}"),
                    "invalid header name or value",
                ));
            }
            let cfg = &self.inner.config.idempotency;
            let unsafe_method = is_unsafe(&opts.method);
            let idempotency_key = match (&opts.idempotency_key, cfg.enabled) {
                (Some(k), true) => Some(k.clone()),
                (None, true) if unsafe_method && cfg.auto_generate => {
                    Some(random_idempotency_key())
                }
                _ => None,
            };
            let call = Call {
                opts,
                labels: observe::Labels::new(&opts.method, &endpoint),
                endpoint: endpoint.clone(),
                request_id,
                idempotency_key,
                started,
                mode,
                span: recorded,
            };
            let halt = &self.inner.halt;
            let epoch = halt.epoch();
            let who = if opts.cancel.as_ref().is_some_and(|t| t.is_cancelled()) {
                Some(Cancelled::Caller)
            } else if halt.has_fired(epoch) {
                Some(Cancelled::Shutdown)
            } else {
                None
            };
            let cancelled_call = |who| {
                Err(cancelled_error(who).with_context(
                    Some(&call.request_id),
                    &opts.method,
                    &endpoint,
                    0,
                    started.elapsed(),
                ))
            };
            let r = match who {
                // Cancelled before it began: nothing is sent.
                Some(who) => cancelled_call(who),
                None => match race(self.attempts(&call), opts.cancel.as_ref(), halt, epoch).await {
                    Ok(r) => r,
                    Err(who) => cancelled_call(who),
                },
            };
            let request_id = call.request_id;
            r.map(|(mut resp, body)| {
                if resp.meta.request_id.is_empty() {
                    resp.meta.request_id = request_id;
                }
                let unread = body.map(|body| {
                    Box::new(Unread {
                        body,
                        in_flight: in_flight.owned(),
                        epoch,
                        method: opts.method.clone(),
                        endpoint: endpoint.clone(),
                        started,
                    })
                });
                (resp, unread)
            })
        }
        .instrument(span)
        .map(move |result| {
            if let Err(e) = &result {
                observe::error(&method, &shown, e.code().as_str());
                let _g = reported.enter();
                tracing::warn!(
                    code = e.code().as_str(),
                    source = e.source_kind().as_str(),
                    status = e.status().map(|s| s.as_u16()),
                    attempt = e.attempt(),
                    "request failed: {}",
                    e.message()
                );
            }
            result
        })
    }

    async fn attempts(
        &self,
        call: &Call<'_>,
    ) -> Result<(Response<Bytes>, Option<Box<AnswerBody>>), Error> {
        let inner = &*self.inner;
        let opts = call.opts;
        let timeout = opts
            .timeout
            .unwrap_or(std::time::Duration::from_millis(inner.config.timeout_ms));
        // Only hooks read or write it: a call without them never makes one (its drop is not free).
        let mut metadata: Option<BTreeMap<String, Value>> = None;
        let mut refreshed_after_401 = false;
        let mut attempt: u32 = 0;
        let span = &call.span;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let ctx_err = |e: Error| call.enrich(e, attempt);

            // Nothing reads the request when there is no auth, no hook and no cache lookup: it is
            // written straight into the transport's request, without the hook context (the auth
            // strategy is looked at there, with the rest of what the attempt reads).
            let looked_up =
                inner.cache.is_some() && opts.use_cache && call.mode == BodyMode::Buffered;
            if !looked_up && !inner.hooks.any() {
                let err = match self.attempt_direct(call, attempt, timeout, span).await {
                    Ok(Some(done)) => return Ok(done),
                    Ok(None) => None,
                    Err(e) => Some(e),
                };
                if let Some(err) = err {
                    let (delay, err) = self.decide(call, err, attempt, timeout, span)?;
                    self.back_off(call, &err, attempt, delay).await;
                    continue;
                }
            }

            // 1. Build: defaults -> per-call options -> auth. The request goes into the hook context
            // at once: a separate local would be kept beside the context in the call's state.
            // The strategy, its redactor and the transport are read together (see `Current`).
            let (auth, redactor, client) = {
                let current = inner.current();
                let c = &*current;
                (c.auth.clone(), c.redactor.clone(), c.http.clone())
            };
            let client = client.ok_or_else(transport_gone).map_err(ctx_err)?;
            let mut hctx = HookContext::new(
                HookType::BeforeRequest,
                attempt,
                self.build(call, redactor).map_err(ctx_err)?,
                metadata.take().unwrap_or_default(),
            );
            if let Some(a) = &auth {
                a.authenticate(&mut hctx.request, &client.http)
                    .await
                    .map_err(ctx_err)?;
            }
            // The response cache keys the built, authenticated request and may make it conditional.
            let lookup = match &inner.cache {
                Some(c) if looked_up => c.prepare(&mut hctx.request),
                _ => None,
            };
            let host = host_key_for(inner, &hctx.request.url);

            // 2. Fail fast on an open circuit, then take a rate-limit slot.
            let slot = match self.admit(&host).map_err(ctx_err)? {
                Some(slot) => slot,
                None => self.slot_in_line(timeout).await.map_err(ctx_err)?,
            };

            // 3. beforeRequest hooks, then the signer sees the final request.
            if inner.hooks.has(HookType::BeforeRequest) {
                inner
                    .hooks
                    .run(HookType::BeforeRequest, &mut hctx)
                    .await
                    .map_err(ctx_err)?;
            }
            if let Some(a) = &auth {
                a.sign(&mut hctx.request).await.map_err(ctx_err)?;
            }

            // 4. Execute. The request's headers move into the exchange unless something reads the
            // request after it: the cache's 304, a 401 refresh, or hooks of the later stages.
            let keep = lookup.is_some()
                || auth.is_some()
                || inner.hooks.has(HookType::AfterResponse)
                || inner.hooks.has(HookType::OnError)
                || inner.hooks.has(HookType::OnRetry);
            let ticket = inner.breaker.acquire(&host).map_err(ctx_err)?;
            tracing::debug!(url = %hctx.request.redacted_url(), "sending");
            let sent_at = Instant::now();
            let (result, unread) =
                match send_once(&client, &mut hctx.request, keep, timeout, call.mode).await {
                    Ok((resp, unread)) => (Ok(resp), unread),
                    Err(e) => (Err(e), None),
                };
            self.exchanged(call, slot, &result, sent_at);

            // 5. Response: rate-limit feedback, afterResponse hooks, status judgement.
            let err = match result {
                Ok(resp) => {
                    let (rl, server_id) = self.heard(&resp, span, sent_at);
                    hctx.response = Some(resp);
                    if inner.hooks.has(HookType::AfterResponse) {
                        if let Err(e) = inner.hooks.run(HookType::AfterResponse, &mut hctx).await {
                            ticket.record(Outcome::Neutral);
                            return Err(ctx_err(e));
                        }
                    }
                    // A success without a cache lookup ends the call here: the answer moves out.
                    // Otherwise the context keeps it for the onError hooks (and the cache's 304).
                    let done = lookup.is_none()
                        && hctx
                            .response
                            .as_ref()
                            .is_some_and(|r| r.status.as_u16() < 400);
                    let taken = if done {
                        hctx.response.take()
                    } else {
                        hctx.response.clone()
                    };
                    let Some(resp) = taken else {
                        return Err(lost("response"));
                    };
                    // A 304 to the cache's conditional request becomes the stored answer.
                    let (resp, revalidated) = match (&inner.cache, lookup) {
                        (Some(c), Some(l)) => c.settle(l, &hctx.request, resp, &call.endpoint),
                        _ => (resp, false),
                    };
                    match call.conclude(resp, rl, server_id, revalidated, ticket, attempt) {
                        Ok(response) => return Ok((response, unread)),
                        Err(e) => e,
                    }
                }
                Err(e) => {
                    ticket.record(Outcome::Unhealthy);
                    ctx_err(e)
                }
            };
            // Only when a hook turned a streamed success into a failure: close it before backing off.
            drop(unread);

            // 6. onError hooks, 401 refresh, retry decision.
            hctx.error = Some(err);
            if inner.hooks.has(HookType::OnError) {
                inner
                    .hooks
                    .run(HookType::OnError, &mut hctx)
                    .await
                    .map_err(ctx_err)?;
            }
            let Some(err) = hctx.error.take() else {
                return Err(lost("error"));
            };
            let replayable = opts.body.can_replay();
            let mut err = err;
            if err.status() == Some(StatusCode::UNAUTHORIZED)
                && !refreshed_after_401
                && !replayable
                && auth.is_some()
            {
                // The credentials may well be refreshable, but the body is gone: say so rather than
                // fail as if no refresh had been possible.
                tracing::warn!(
                    "401 on a call whose one-shot body was already sent: credentials not refreshed, \
                     call not replayed"
                );
                err.insert_detail(
                    "replay_skipped",
                    "401: the one-shot request body was already sent and cannot be replayed",
                );
            }
            if err.status() == Some(StatusCode::UNAUTHORIZED) && !refreshed_after_401 && replayable
            {
                if let Some(a) = &auth {
                    // The server rejected the credentials before acting, so one replay is safe for any method.
                    if a.on_unauthorized(&hctx.request, &client.http)
                        .await
                        .map_err(ctx_err)?
                    {
                        refreshed_after_401 = true;
                        tracing::info!("401: credentials refreshed, retrying once");
                        metadata = Some(std::mem::take(&mut hctx.metadata));
                        continue;
                    }
                }
            }
            let (delay, err) = self.decide(call, err, attempt, timeout, span)?;

            // onRetry hooks, then back off.
            hctx.error = Some(err);
            if inner.hooks.has(HookType::OnRetry) {
                inner
                    .hooks
                    .run(HookType::OnRetry, &mut hctx)
                    .await
                    .map_err(ctx_err)?;
            }
            let Some(err) = hctx.error.take() else {
                return Err(lost("error"));
            };
            metadata = Some(std::mem::take(&mut hctx.metadata));
            self.back_off(call, &err, attempt, delay).await;
        }
    }

    /// One attempt of a call nothing observes (no auth, hooks or cache): steps 1, 2, 4 and 5 with
    /// the request assembled straight into the transport's. `None` when an auth strategy is in force
    /// after all (the caller then makes the attempt with the hook context); a failure comes back with
    /// its context.
    async fn attempt_direct(
        &self,
        call: &Call<'_>,
        attempt: u32,
        timeout: std::time::Duration,
        span: &tracing::Span,
    ) -> Result<Option<(Response<Bytes>, Option<Box<AnswerBody>>)>, Error> {
        let inner = &*self.inner;
        let ctx_err = |e: Error| call.enrich(e, attempt);
        let host;
        let (slot, sent) = match self.start_direct(call, hand_over).map_err(ctx_err)? {
            Start::Observed => return Ok(None),
            Start::Sent { slot, on, sent } => {
                host = on;
                (slot, sent)
            }
            Start::Queued { request, on } => {
                // No slot free at once: wait in line, then hand the request to the transport
                // current then.
                host = on;
                let slot = self.slot_in_line(timeout).await.map_err(ctx_err)?;
                let sent = sending(&inner.current(), *request, hand_over).map_err(ctx_err)?;
                (slot, sent)
            }
        };
        // Nothing is sent before the exchange polls `sent`: a circuit found open here drops it unsent.
        let ticket = inner.breaker.acquire(&host).map_err(ctx_err)?;
        let sent_at = Instant::now();
        let (result, unread) = match timed(timeout, exchange(sent, call.mode)).await {
            Ok((resp, unread)) => (Ok(resp), unread),
            Err(e) => (Err(e), None),
        };
        self.exchanged(call, slot, &result, sent_at);
        match result {
            Ok(resp) => {
                let (rl, server_id) = self.heard(&resp, span, sent_at);
                call.conclude(resp, rl, server_id, false, ticket, attempt)
                    .map(|response| Some((response, unread)))
            }
            Err(e) => {
                ticket.record(Outcome::Unhealthy);
                Err(ctx_err(e))
            }
        }
    }

    /// The synchronous start of a direct attempt, under one read of `Current`: whether an auth
    /// strategy is in force, the request assembled with the redactor, step 2's slot when one is free
    /// at once, and the request handed to the transport (`send`, always [`hand_over`]: a parameter
    /// so both ways of starting hold the same type). The request is made and handed over in here, so
    /// the attempt's state has no room for it.
    fn start_direct<F>(
        &self,
        call: &Call<'_>,
        send: fn(&Transport, Outgoing, &Redactor) -> F,
    ) -> Result<Start<'_, F>, Error> {
        let inner = &*self.inner;
        let current = inner.current();
        if current.auth.is_some() {
            return Ok(Start::Observed);
        }
        let parts = self.assemble(call, &current.redactor)?;
        let on = if parts.on_base {
            Cow::Borrowed(inner.base_host_key.as_str())
        } else {
            host_key_for(inner, &parts.url)
        };
        let request = transport_request(call.opts.method.clone(), parts);
        let Some(slot) = self.admit(&on)? else {
            return Ok(Start::Queued {
                request: Box::new(request),
                on,
            });
        };
        let sent = sending(&current, request, send)?;
        Ok(Start::Sent { slot, on, sent })
    }

    /// Step 2: fail fast on an open circuit, then take a rate-limit slot: at once when one is free
    /// (no lock of the queue, no future), else waiting in line. A wait longer than the call's timeout
    /// (a server's Retry-After or exhausted quota) fails the call at once with RATE_LIMIT instead of
    /// outliving it.
    ///
    /// The slot taken at once, or `None` for [`Connector::slot_in_line`]: split so the common case
    /// is no future at all.
    fn admit(&self, host: &str) -> Result<Option<crate::ratelimit::Slot<'_>>, Error> {
        let inner = &*self.inner;
        inner.breaker.check(host)?;
        let slot = inner.limiter.try_slot();
        if slot.is_some() {
            observe::in_flight(inner.limiter.in_flight());
        }
        Ok(slot)
    }

    /// Step 2 when no slot was free at once: waiting in line, within `timeout`.
    async fn slot_in_line(
        &self,
        timeout: std::time::Duration,
    ) -> Result<crate::ratelimit::Slot<'_>, Error> {
        let limiter = &self.inner.limiter;
        let slot = limiter.wait_for_slot_within(Some(timeout)).await?;
        observe::in_flight(limiter.in_flight());
        Ok(slot)
    }

    /// After step 4's exchange: its slot given back, and the attempt counted.
    fn exchanged(
        &self,
        call: &Call<'_>,
        slot: crate::ratelimit::Slot<'_>,
        result: &Result<ResponseParts, Error>,
        sent_at: Instant,
    ) {
        drop(slot);
        observe::in_flight(self.inner.limiter.in_flight());
        observe::attempt_done(
            &call.labels,
            result.as_ref().ok().map(|r| r.status.as_u16()),
            sent_at.elapsed(),
        );
    }

    /// Step 5's first part: the rate limiter hears the answer's headers; the server's request id, if
    /// it sent one.
    fn heard(
        &self,
        resp: &ResponseParts,
        span: &tracing::Span,
        sent_at: Instant,
    ) -> (crate::ratelimit::RateLimitStatus, Option<String>) {
        let rl = self
            .inner
            .limiter
            .update_from_response(resp.status.as_u16(), &resp.headers);
        observe::rate_limit_remaining(rl.remaining);
        span.record("status", resp.status.as_u16());
        tracing::debug!(
            status = resp.status.as_u16(),
            ms = sent_at.elapsed().as_millis() as u64,
            "response"
        );
        (rl, server_request_id(&resp.headers))
    }

    /// Step 6's decision on a failed attempt: the wait before the next one, or the call's final error
    /// (detail `retry_stopped` when the failure was retryable).
    fn decide(
        &self,
        call: &Call<'_>,
        err: Error,
        attempt: u32,
        timeout: std::time::Duration,
        span: &tracing::Span,
    ) -> Result<(std::time::Duration, Error), Error> {
        let inner = &*self.inner;
        let opts = call.opts;
        let replayable = opts.body.can_replay();
        let retryable = inner.classifier.is_retryable(&err);
        let decision = if retryable && !replayable {
            RetryDecision::Stop("one-shot body already sent: it cannot be replayed")
        } else if retryable && is_unsafe(&opts.method) && call.idempotency_key.is_none() {
            tracing::warn!(
                method = %opts.method,
                "not retrying a retryable failure: {} without an idempotency key may not be replayed safely; set one to allow retries",
                opts.method
            );
            RetryDecision::Stop("unsafe method without an idempotency key")
        } else {
            // Made on a failure only: a call that succeeds copies no retry settings.
            let policy = RetryPolicy::new(
                opts.retry
                    .clone()
                    .unwrap_or_else(|| inner.config.retry.clone()),
            );
            match policy.decide(&err, retryable, attempt, call.started.elapsed()) {
                // The server's own wait, longer than the call's timeout: fail now and say how long
                // (`retry_after_ms`), as the rate limiter does for the calls after this one.
                RetryDecision::RetryAfter(d)
                    if d > timeout && err.retry_after().is_some_and(|hint| hint == d) =>
                {
                    RetryDecision::Stop("Retry-After exceeds the call's timeout")
                }
                d => d,
            }
        };
        match decision {
            RetryDecision::Stop(reason) => {
                let mut err = err;
                if retryable {
                    err.insert_detail("retry_stopped", reason);
                }
                span.record("retry_count", attempt - 1);
                Err(err)
            }
            RetryDecision::RetryAfter(d) => Ok((d, err)),
        }
    }

    /// Count and report the retry of `err`, then wait `delay`.
    async fn back_off(
        &self,
        call: &Call<'_>,
        err: &Error,
        attempt: u32,
        delay: std::time::Duration,
    ) {
        observe::retry(&call.opts.method, &call.endpoint);
        tracing::warn!(
            attempt,
            delay_ms = delay.as_millis() as u64,
            code = err.code().as_str(),
            status = err.status().map(|s| s.as_u16()),
            "retrying after: {}",
            err.message()
        );
        tokio::time::sleep(delay).await;
    }

    /// Step 1 of the pipeline, before auth: URL, query, headers, ids, body.
    fn build(&self, call: &Call<'_>, redactor: Redactor) -> Result<RequestParts, Error> {
        let a = self.assemble(call, &redactor)?;
        Ok(RequestParts {
            method: call.opts.method.clone(),
            url: a.url,
            headers: a.headers,
            body: a.body,
            stream: a.stream,
            redactor,
            security: call.opts.security,
        })
    }

    /// What [`Connector::build`] puts in a request, whoever reads it next: the hook context, or
    /// the transport's request when nothing does.
    fn assemble(&self, call: &Call<'_>, redactor: &Redactor) -> Result<Assembled, Error> {
        let inner = &*self.inner;
        let opts = call.opts;
        let base = call_base(
            &inner.base_url,
            &inner.config.servers,
            opts.server.as_deref(),
        )?;
        // A path joins onto the base's origin unless it is an absolute URL itself (see `join_url`).
        let on_base = matches!(base, Cow::Borrowed(_))
            && !(opts.path.starts_with("http://") || opts.path.starts_with("https://"));
        let mut url = match (&opts.endpoint, &base) {
            // An operation without path parameters on the connector's own base: the same URL on
            // every call, joined once per thread.
            (Some(Cow::Borrowed(template)), Cow::Borrowed(_)) if *template == opts.path => {
                joined_template(inner.id, template, || join_url(&base, &opts.path, None))?
            }
            _ => join_url(&base, &opts.path, None)?,
        };
        if !inner.config.default_query.is_empty() || !opts.query.is_empty() {
            // A default the URL already carries (a next-page link echoing it) is not added twice.
            let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            let mut q = url.query_pairs_mut();
            for (k, v) in &inner.config.default_query {
                if !present.iter().any(|p| p == k) {
                    q.append_pair(k, v);
                }
            }
            for (k, v) in &opts.query {
                q.append_pair(k, v);
            }
        }
        if let Some(raw) = &opts.raw_query {
            append_raw_query(&mut url, raw);
        }
        // Sized once for the defaults, the call's headers, the few the pipeline adds (accept,
        // content type, request id, idempotency key) and the two the transport adds (`Accept-Encoding`,
        // `User-Agent`): growing a map reallocates both of its tables.
        // (Without defaults or call headers, an empty map's first insert makes that same room.)
        let given = inner.default_headers.len() + opts.headers.len();
        let mut headers = if given == 0 {
            HeaderMap::new()
        } else {
            HeaderMap::with_capacity(given + 6)
        };
        for (k, v) in &inner.default_headers {
            if !opts.headers.contains_key(k) {
                headers.append(k, v.clone());
            }
        }
        for (k, v) in &opts.headers {
            headers.append(k, v.clone());
        }
        if let Some(a) = opts.accept {
            if !opts.headers.contains_key(ACCEPT) {
                // Over a default `Accept`, as a call's own header would be.
                headers.insert(ACCEPT, accept_value(a));
            }
        }
        let (body, stream) = match &opts.body {
            Body::Empty => (Bytes::new(), None),
            Body::Bytes { content_type, data } => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, content_type.clone());
                }
                (data.clone(), None)
            }
            Body::Stream {
                content_type,
                source,
            } => {
                if let (Some(ct), false) = (content_type, headers.contains_key(CONTENT_TYPE)) {
                    headers.insert(CONTENT_TYPE, ct.clone());
                }
                // A known length goes out as Content-Length (no chunked encoding); the transport
                // fails the attempt if the source yields a different number of bytes.
                if let Some(len) = source.length() {
                    headers.insert(CONTENT_LENGTH, len.into());
                }
                (Bytes::new(), Some(source.clone()))
            }
        };
        if !headers.contains_key(&inner.request_id_name) {
            crate::request::put_header(
                &mut headers,
                inner.request_id_name.clone(),
                &call.request_id,
                redactor,
            )?;
        }
        if let Some(k) = &call.idempotency_key {
            let name = &inner.config.idempotency.header;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::validation(&format!("header {name}"), e))?;
            crate::request::put_header(&mut headers, name, k, redactor)?;
        }
        Ok(Assembled {
            url,
            headers,
            body,
            stream,
            on_base,
        })
    }
}

/// The `Accept` value a generated operation asks for. The JSON one, asked for by most, is made at
/// compile time: making a value at run time checks each of its bytes, on every call.
fn accept_value(media_type: &'static str) -> HeaderValue {
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    if media_type == "application/json" {
        JSON
    } else {
        HeaderValue::from_static(media_type)
    }
}

/// Whether a method may change state when replayed. RFC 9110 9.2 makes GET, HEAD, OPTIONS, TRACE,
/// PUT and DELETE idempotent, and QUERY (the safe method with a body) is idempotent by definition;
/// POST, PATCH and every other method (WebDAV's COPY, LINK, PURGE...) are treated as unsafe.
fn is_unsafe(m: &Method) -> bool {
    // By name: a list of `Method` values would be built and dropped on every call.
    !matches!(
        m.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE" | "QUERY"
    )
}

/// A call's path (or absolute URL) as spans, errors and metrics show it when no endpoint template is
/// given: sensitive query values and any password redacted (next-page links often echo a query key).
pub(crate) fn shown_path(path: &str, redactor: &Redactor) -> String {
    const BASE: &str = "http://placeholder.invalid";
    let (url, relative) = match Url::parse(path) {
        Ok(u) => (u, false),
        Err(_) => match Url::parse(BASE).and_then(|b| b.join(path)) {
            Ok(u) => (u, true),
            Err(_) => return path.split('?').next().unwrap_or_default().to_owned(),
        },
    };
    let shown = redactor.url(&url);
    if shown == url.as_str() {
        // Nothing sensitive: keep the caller's spelling.
        path.to_owned()
    } else if relative {
        shown.strip_prefix(BASE).unwrap_or(&shown).to_owned()
    } else {
        shown
    }
}

/// The breaker's key for `url`'s host: the one made at build for the base URL's host, else a new one.
fn host_key_for<'a>(inner: &'a crate::connector::Inner, url: &Url) -> Cow<'a, str> {
    let base = &inner.base_url;
    if url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
    {
        Cow::Borrowed(&inner.base_host_key)
    } else {
        Cow::Owned(host_key(url))
    }
}

/// `host:port` of `url` (the port the scheme implies when none is written).
pub(crate) fn host_key(url: &Url) -> String {
    use std::fmt::Write;
    let host = url.host_str().unwrap_or("");
    // Sized for the port too: `format!` would allocate, then grow for the port.
    let mut key = String::with_capacity(host.len() + 6);
    key.push_str(host);
    let _ = write!(key, ":{}", url.port_or_known_default().unwrap_or(0));
    key
}

fn server_request_id(headers: &HeaderMap) -> Option<String> {
    // Every name above ends in `id`: most answers carry none, found in one pass over their names.
    if !headers.keys().any(|k| k.as_str().ends_with("id")) {
        return None;
    }
    SERVER_REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.get(h)?.to_str().ok().map(str::to_owned))
}

/// One HTTP exchange of `parts` under `timeout`: the body read in full, or, when streamed and the
/// status is a success, left unread (returned beside an empty body) so the timeout covers the
/// headers only.
///
/// `keep`: whether `parts` must stay whole for what follows; without it, its headers are moved into
/// the exchange rather than copied.
fn send_once(
    client: &Transport,
    parts: &mut RequestParts,
    keep: bool,
    timeout: std::time::Duration,
    mode: BodyMode,
) -> impl Future<Output = Result<(ResponseParts, Option<Box<AnswerBody>>), Error>> + use<> {
    let headers = if keep {
        parts.headers.clone()
    } else {
        std::mem::take(&mut parts.headers)
    };
    let request = transport_request(
        parts.method.clone(),
        Assembled {
            url: parts.url.clone(),
            headers,
            body: parts.body.clone(),
            stream: parts.stream.clone(),
            on_base: false,
        },
    );
    timed(
        timeout,
        exchange(client.send(request, &parts.redactor), mode),
    )
}

/// `exchange` bounded by `timeout` (TIMEOUT, retryable: the request was sent).
fn timed<T>(
    timeout: std::time::Duration,
    exchange: impl Future<Output = Result<T, Error>>,
) -> impl Future<Output = Result<T, Error>> {
    use futures_util::FutureExt;
    tokio::time::timeout(timeout, exchange).map(move |r| {
        r.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorCode::Timeout,
                ErrorSource::Transport,
                format!("no complete answer within {} ms", timeout.as_millis()),
            )
            .with_retryable(true)
            .with_request_sent(true)
            .with_detail("timeout_ms", timeout.as_millis() as u64))
        })
    })
}

/// The transport's request for `parts`. Made before the exchange, which holds only what the
/// transport returns for it: a request kept in the exchange's state would be carried (and moved)
/// with it to the end.
fn transport_request(method: Method, parts: Assembled) -> Outgoing {
    let Assembled {
        url,
        mut headers,
        body,
        mut stream,
        on_base: _,
    } = parts;
    if !body.is_empty() && stream.is_some() {
        // A hook replaced the streamed body with bytes: their length, not the source's.
        headers.remove(CONTENT_LENGTH);
        stream = None;
    }
    Outgoing {
        method,
        url,
        headers,
        body,
        stream,
    }
}

/// The answer to a request the transport has (`sent`), read as `send_once` says.
async fn exchange(
    sent: impl Future<Output = Result<Answer, TransportError>>,
    mode: BodyMode,
) -> Result<(ResponseParts, Option<Box<AnswerBody>>), Error> {
    let Answer {
        status,
        headers,
        body: mut resp,
    } = sent.await.map_err(|e| {
        let sent = e.request_sent();
        crate::error::from_transport(e, sent)
    })?;
    if mode == BodyMode::Streamed && status.as_u16() < 400 {
        let parts = ResponseParts {
            status,
            headers,
            body: Bytes::new(),
        };
        return Ok((parts, Some(Box::new(resp))));
    }
    let body = read_body(&mut resp)
        .await
        .map_err(|e| crate::error::from_transport(e, true))?;
    let parts = ResponseParts {
        status,
        headers,
        body,
    };
    Ok((parts, None))
}

/// A response's whole body. A body that comes in one piece (most answers) is returned as that piece,
/// without copying; a longer one is gathered into one buffer sized by `Content-Length` when given.
/// (`reqwest::Response::bytes` gathers pieces in a queue first: one allocation more per call, and a
/// larger state to carry.)
async fn read_body(resp: &mut AnswerBody) -> Result<Bytes, TransportError> {
    let Some(first) = resp.chunk().await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = resp.chunk().await? else {
        return Ok(first);
    };
    let declared = resp.content_length().and_then(|n| usize::try_from(n).ok());
    // A server's length is a hint for the first allocation only, bounded so a false one costs
    // nothing: the buffer grows as pieces actually arrive.
    let hint = declared
        .unwrap_or(0)
        .min(READ_HINT_MAX)
        .max(first.len().saturating_add(second.len()));
    let mut buf = bytes::BytesMut::with_capacity(hint);
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while let Some(piece) = resp.chunk().await? {
        buf.extend_from_slice(&piece);
    }
    Ok(buf.freeze())
}

/// The most a declared `Content-Length` reserves up front (8 MiB).
const READ_HINT_MAX: usize = 8 << 20;

/// The open half of a streamed body: the connection and the call's place among those in flight.
/// Shared between the caller's stream and the connector, so `disconnect` can close it at its deadline
/// even when the caller holds the stream without polling it.
pub(crate) type OpenBody =
    std::sync::Mutex<Option<(BoxStream<'static, Result<Bytes, TransportError>>, InFlight)>>;

/// A streamed body: ends with CANCELLED when the caller's token or the connector's shutdown fires,
/// with NETWORK_ERROR when the connection fails, and releases the connection and the in-flight count as
/// soon as it ends (or when `disconnect` closes it).
struct Guarded {
    open: std::sync::Arc<OpenBody>,
    done: bool,
    cancel: Pin<Box<dyn Future<Output = Cancelled> + Send>>,
    request_id: String,
    attempt: u32,
    method: Method,
    endpoint: Cow<'static, str>,
    started: Instant,
}

impl Guarded {
    fn end(&self, err: Error) -> Error {
        close(&self.open);
        tracing::warn!(
            code = err.code().as_str(),
            endpoint = %self.endpoint,
            request_id = %self.request_id,
            "response stream ended: {}",
            err.message()
        );
        err.with_context(
            Some(&self.request_id),
            &self.method,
            &self.endpoint,
            self.attempt,
            self.started.elapsed(),
        )
    }
}

/// Close an open body: the connection is dropped and the call leaves the in-flight count.
pub(crate) fn close(open: &OpenBody) {
    let taken = open.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(taken);
}

impl Stream for Guarded {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // Also after `disconnect` closed the body: it fires the shutdown token first.
        if let Poll::Ready(who) = this.cancel.as_mut().poll(cx) {
            this.done = true;
            return Poll::Ready(Some(Err(this.end(cancelled_error(who)))));
        }
        let polled = {
            let mut guard = this.open.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Some((body, _)) => body.poll_next_unpin(cx),
                None => Poll::Ready(None),
            }
        };
        match polled {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                let err = crate::error::from_transport(e, true);
                Poll::Ready(Some(Err(this.end(err))))
            }
            Poll::Ready(None) => {
                this.done = true;
                close(&this.open);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Hooks cannot remove the response or error from their context (the fields are private), so this is
/// never reached; it returns an error rather than panicking all the same.
fn lost(what: &str) -> Error {
    Error::new(
        ErrorCode::Unsupported,
        ErrorSource::Unknown,
        format!("internal: the hook context lost its {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_idempotent_methods_are_safe_to_replay() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY"] {
            assert!(
                !is_unsafe(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
        // Method names are case-sensitive (RFC 9110 9.1): `get` is another method.
        for m in ["POST", "PATCH", "CONNECT", "COPY", "PURGE", "get"] {
            assert!(is_unsafe(&Method::from_bytes(m.as_bytes()).unwrap()), "{m}");
        }
    }
}
