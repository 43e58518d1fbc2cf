//! Many calls at once and long-running jobs: [`Connector::batch`] runs requests concurrently with one
//! result per request in order, and [`Connector::run_job`] turns create, poll and fetch into one call.
//!
//! Every request made here is one call through the whole pipeline (auth, rate limit, hooks, retry,
//! metrics), exactly as [`Connector::request`] makes it.
//!
//! ```no_run
//! # async fn demo(connector: connector_runtime::Connector) -> Result<(), connector_runtime::Error> {
//! use connector_runtime::batch::JobOptions;
//! use connector_runtime::{Method, RequestOptions};
//! // A batch: one result per request, in order; a failed item is that item's `Err`.
//! let requests = (1..=5)
//!     .map(|n| RequestOptions::new(Method::GET, format!("/users/{n}")))
//!     .collect();
//! for result in connector.batch(requests).await {
//!     println!("{:?}", result.map(|r| r.status));
//! }
//! // A job: POST creates it (`{"id": ...}`), GET polls `/status` until "done", then fetch the result.
//! let job = JobOptions::new(RequestOptions::new(Method::POST, "/exports"), |id| {
//!     RequestOptions::new(Method::GET, format!("/exports/{id}"))
//! })
//! .result_request(|id, _status| RequestOptions::new(Method::GET, format!("/exports/{id}/file")))
//! .deadline(std::time::Duration::from_secs(600));
//! let file = connector.run_job(job).await?;
//! println!("{} bytes", file.data.len());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::LOCATION;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::connector::Connector;
use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::RequestOptions;
use crate::response::Response;
use crate::retry::parse_retry_after;

/// How a batch runs.
#[derive(Clone, Debug, Default)]
pub struct BatchOptions {
    /// Requests in flight at once for this batch. None: the connector's
    /// `rate_limit.concurrent_requests`. The connector's own limiter applies on top either way.
    pub concurrency: Option<usize>,
}

impl Connector {
    /// Run `requests` concurrently, at most `config().rate_limit.concurrent_requests` at a time, and
    /// return exactly one result per request, in the order given. A failed request is that item's
    /// `Err`; the others still run.
    pub async fn batch(
        &self,
        requests: Vec<RequestOptions>,
    ) -> Vec<Result<Response<Bytes>, Error>> {
        self.batch_with(requests, BatchOptions::default()).await
    }

    /// [`Connector::batch`] with its own concurrency bound (at least 1).
    pub async fn batch_with(
        &self,
        requests: Vec<RequestOptions>,
        options: BatchOptions,
    ) -> Vec<Result<Response<Bytes>, Error>> {
        let limit = options
            .concurrency
            .unwrap_or(self.config().rate_limit.concurrent_requests)
            .max(1);
        futures_util::stream::iter(requests)
            .map(|r| self.request(r))
            .buffered(limit)
            .collect()
            .await
    }
}

/// What a status response says about a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Still running: poll again.
    Pending,
    /// Finished successfully.
    Done,
    /// Finished with a failure, for this reason.
    Failed(String),
}

/// Reads the job id, or a status URL, from the create response. None: the response names no job.
pub type ExtractJobId = Arc<dyn Fn(&Response<Bytes>) -> Option<String> + Send + Sync>;

/// Builds the status request from the job id or status URL.
pub type StatusRequest = Arc<dyn Fn(&str) -> RequestOptions + Send + Sync>;

/// Reads the job's state from a status response.
pub type ClassifyJob = Arc<dyn Fn(&Response<Bytes>) -> JobState + Send + Sync>;

/// Builds the result request from the job id (or status URL) and the final status response.
pub type ResultRequest = Arc<dyn Fn(&str, &Response<Bytes>) -> RequestOptions + Send + Sync>;

/// Waits between status polls: `min(initial * multiplier^n, max)` before poll `n` (0-based), unless a
/// status response carries `Retry-After`, which then sets the next wait (it may exceed `max`; the
/// job's deadline still applies).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollBackoff {
    /// Wait before the first poll (default 1 s).
    pub initial: Duration,
    /// Growth factor per poll (default 2).
    pub multiplier: f64,
    /// Upper bound of a computed wait (default 30 s).
    pub max: Duration,
}

impl Default for PollBackoff {
    fn default() -> Self {
        PollBackoff {
            initial: Duration::from_secs(1),
            multiplier: 2.0,
            max: Duration::from_secs(30),
        }
    }
}

impl PollBackoff {
    /// The computed wait before poll `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let secs = self.initial.as_secs_f64() * self.multiplier.powi(n.min(i32::MAX as u32) as i32);
        Duration::from_secs_f64(secs.max(0.0).min(self.max.as_secs_f64()))
    }
}

/// An asynchronous job: create it, poll its status with backoff, then fetch its result.
///
/// Defaults: the job id is the string (or number) at `/id` of the create response's JSON body, else
/// its `Location` header; the state is the string at `/status` of a status response (`done`,
/// `completed`, `succeeded`, `success` are done; `failed`, `error`, `cancelled`, `canceled` are
/// failures, with the reason read from `/error`, `/error/message` or `/message`; anything else is
/// pending); the final status response is the result; no deadline.
///
/// [`Connector::run_job`] ends with: a failed job as SERVER_ERROR (details `job_id`, `reason`, status of
/// the final status response), the deadline as TIMEOUT (details `job_id` once known, `deadline_ms`;
/// not retryable, as the job may still be running), cancellation as CANCELLED (details `job_id` once
/// known). Errors of the requests themselves are returned as they are, with `job_id` added once known.
#[derive(Clone)]
pub struct JobOptions {
    /// The request that creates the job. Its `cancel` token also cancels the whole job.
    pub create: RequestOptions,
    /// Reads the job id or status URL from the create response.
    pub extract_id: ExtractJobId,
    /// Builds each status request.
    pub status_request: StatusRequest,
    /// Reads the job's state from each status response.
    pub classify: ClassifyJob,
    /// Builds the result request; None: the final status response is the result.
    pub result_request: Option<ResultRequest>,
    /// Waits between polls.
    pub backoff: PollBackoff,
    /// Time the whole job may take, create and result included. None: no limit.
    pub deadline: Option<Duration>,
    /// Cancels the whole job (as does the create request's own token).
    pub cancel: Option<CancellationToken>,
}

impl JobOptions {
    /// A job created by `create` and polled with `status_request(id_or_url)`, with every default.
    pub fn new(
        create: RequestOptions,
        status_request: impl Fn(&str) -> RequestOptions + Send + Sync + 'static,
    ) -> Self {
        JobOptions {
            create,
            extract_id: Arc::new(|r| id_from(r, "/id")),
            status_request: Arc::new(status_request),
            classify: status_classifier(
                "/status",
                &["done", "completed", "succeeded", "success"],
                &["failed", "error", "cancelled", "canceled"],
            ),
            result_request: None,
            backoff: PollBackoff::default(),
            deadline: None,
            cancel: None,
        }
    }

    /// Read the job id at this JSON pointer of the create response (falling back to `Location`).
    pub fn id_pointer(mut self, pointer: impl Into<String>) -> Self {
        let pointer = pointer.into();
        self.extract_id = Arc::new(move |r| id_from(r, &pointer));
        self
    }

    /// Read the job id (or status URL) with this function.
    pub fn extract_id(
        mut self,
        f: impl Fn(&Response<Bytes>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.extract_id = Arc::new(f);
        self
    }

    /// Read the state as the string at `pointer`: one of `done` is done, one of `failed` a failure,
    /// anything else pending.
    pub fn status_pointer(mut self, pointer: &str, done: &[&str], failed: &[&str]) -> Self {
        self.classify = status_classifier(pointer, done, failed);
        self
    }

    /// Classify status responses with this function.
    pub fn classify(
        mut self,
        f: impl Fn(&Response<Bytes>) -> JobState + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(f);
        self
    }

    /// Fetch the result with `f(id_or_url, final_status_response)` once the job is done.
    pub fn result_request(
        mut self,
        f: impl Fn(&str, &Response<Bytes>) -> RequestOptions + Send + Sync + 'static,
    ) -> Self {
        self.result_request = Some(Arc::new(f));
        self
    }

    /// Set the waits between polls.
    pub fn backoff(mut self, initial: Duration, multiplier: f64, max: Duration) -> Self {
        self.backoff = PollBackoff {
            initial,
            multiplier,
            max,
        };
        self
    }

    /// Limit the time the whole job may take.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Cancel the whole job with this token.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

/// The default id reader: a string or number at `pointer` of the JSON body, else `Location`.
fn id_from(r: &Response<Bytes>, pointer: &str) -> Option<String> {
    let from_body =
        serde_json::from_slice::<Value>(&r.data)
            .ok()
            .and_then(|v| match v.pointer(pointer)? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
    from_body.or_else(|| {
        r.headers
            .get(LOCATION)?
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })
}

fn status_classifier(pointer: &str, done: &[&str], failed: &[&str]) -> ClassifyJob {
    let pointer = pointer.to_owned();
    let done: Vec<String> = done.iter().map(|s| (*s).to_owned()).collect();
    let failed: Vec<String> = failed.iter().map(|s| (*s).to_owned()).collect();
    Arc::new(move |r| {
        let Ok(body) = serde_json::from_slice::<Value>(&r.data) else {
            return JobState::Pending;
        };
        let Some(state) = body.pointer(&pointer).and_then(Value::as_str) else {
            return JobState::Pending;
        };
        if done.iter().any(|d| d == state) {
            JobState::Done
        } else if failed.iter().any(|f| f == state) {
            let reason = ["/error", "/error/message", "/message"]
                .iter()
                .find_map(|p| body.pointer(p).and_then(Value::as_str))
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the job's status is {state:?}"));
            JobState::Failed(reason)
        } else {
            JobState::Pending
        }
    })
}

/// Where a job stands, for the errors that end it.
struct Control {
    cancel: [Option<CancellationToken>; 2],
    deadline: Option<(Instant, Duration)>,
}

impl Control {
    /// Run `fut` unless the job is cancelled or out of time first.
    async fn guard<T>(
        &self,
        fut: impl Future<Output = Result<T, Error>>,
        id: Option<&str>,
    ) -> Result<T, Error> {
        let cancelled = async {
            match &self.cancel {
                [Some(a), Some(b)] => tokio::select! {
                    _ = a.cancelled() => {},
                    _ = b.cancelled() => {},
                },
                [Some(t), None] | [None, Some(t)] => t.cancelled().await,
                [None, None] => std::future::pending().await,
            }
        };
        let expired = async {
            match self.deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            biased;
            _ = cancelled => {
                let mut e = Error::new(ErrorCode::Cancelled, ErrorSource::Unknown, "the job was cancelled");
                if let Some(id) = id {
                    e = e.with_detail("job_id", id);
                }
                return Err(e);
            }
            _ = expired => {
                let limit = self.deadline.map(|(_, d)| d).unwrap_or_default();
                let mut e = Error::new(
                    ErrorCode::Timeout,
                    ErrorSource::Unknown,
                    format!("the job did not finish within its deadline of {limit:?}"),
                )
                .with_retryable(false)
                .with_detail("deadline_ms", limit.as_millis() as u64);
                if let Some(id) = id {
                    e = e.with_detail("job_id", id);
                }
                return Err(e);
            }
            r = fut => r,
        };
        result.map_err(|mut e| {
            if let Some(id) = id {
                e.insert_detail("job_id", id);
            }
            e
        })
    }
}

impl Connector {
    /// Run an asynchronous job as one call: send the create request, read the job id, poll the status
    /// with backoff (honouring `Retry-After`) until the job is done or failed, then fetch the result
    /// (or return the final status response). See [`JobOptions`] for the defaults and the errors.
    pub async fn run_job(&self, options: JobOptions) -> Result<Response<Bytes>, Error> {
        let JobOptions {
            create,
            extract_id,
            status_request,
            classify,
            result_request,
            backoff,
            deadline,
            cancel,
        } = options;
        let ctl = Control {
            cancel: [cancel, create.cancel.clone()],
            deadline: deadline.map(|d| (Instant::now() + d, d)),
        };
        let created = ctl.guard(self.request(create), None).await?;
        let Some(id) = extract_id(&created) else {
            let mut e = Error::new(
                ErrorCode::ParsingError,
                ErrorSource::Deserialize,
                "the create response names no job id or status URL",
            )
            .with_status(created.status)
            .with_request_sent(true)
            .with_raw_body(created.data.clone());
            e.set_request_id(Some(created.meta.request_id));
            return Err(e);
        };
        let id = id.as_str();
        let mut wait = backoff.initial;
        let mut poll = 0u32;
        let status = loop {
            ctl.guard(
                async {
                    tokio::time::sleep(wait).await;
                    Ok(())
                },
                Some(id),
            )
            .await?;
            let status = ctl
                .guard(self.request(status_request(id)), Some(id))
                .await?;
            match classify(&status) {
                JobState::Done => break status,
                JobState::Failed(reason) => {
                    let mut e = Error::new(
                        ErrorCode::ServerError,
                        ErrorSource::Transport,
                        format!("job {id} failed: {reason}"),
                    )
                    .with_status(status.status)
                    .with_request_sent(true)
                    .with_raw_body(status.data.clone())
                    .with_detail("job_id", id)
                    .with_detail("reason", reason);
                    e.set_request_id(Some(status.meta.request_id));
                    return Err(e);
                }
                JobState::Pending => {
                    poll = poll.saturating_add(1);
                    wait = parse_retry_after(&status.headers, SystemTime::now())
                        .unwrap_or_else(|| backoff.delay(poll));
                }
            }
        };
        match result_request {
            None => Ok(status),
            Some(f) => ctl.guard(self.request(f(id, &status)), Some(id)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ResponseMeta;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn response(body: &str, location: Option<&str>) -> Response<Bytes> {
        let mut headers = HeaderMap::new();
        if let Some(l) = location {
            headers.insert(LOCATION, HeaderValue::from_str(l).unwrap());
        }
        Response {
            data: Bytes::from(body.to_owned()),
            status: StatusCode::ACCEPTED,
            headers,
            meta: ResponseMeta {
                timestamp: SystemTime::now(),
                duration: Duration::ZERO,
                retry_count: 0,
                rate_limit: Default::default(),
                request_id: "r".into(),
                revalidated: false,
                deduplicated: false,
                method: http::Method::GET,
                endpoint: "/test".into(),
            },
        }
    }

    #[test]
    fn job_ids_come_from_the_body_or_the_location_header() {
        assert_eq!(
            id_from(&response(r#"{"id":"j1"}"#, None), "/id").as_deref(),
            Some("j1")
        );
        assert_eq!(
            id_from(&response(r#"{"id":42}"#, None), "/id").as_deref(),
            Some("42")
        );
        assert_eq!(
            id_from(&response("", Some("/jobs/j9")), "/id").as_deref(),
            Some("/jobs/j9")
        );
        assert_eq!(id_from(&response(r#"{"id":""}"#, None), "/id"), None);
    }

    #[test]
    fn the_default_classifier_reads_status_and_reason() {
        let c = JobOptions::new(RequestOptions::new(http::Method::POST, "/j"), |_| {
            RequestOptions::new(http::Method::GET, "/j")
        })
        .classify;
        assert_eq!(
            c(&response(r#"{"status":"running"}"#, None)),
            JobState::Pending
        );
        assert_eq!(c(&response(r#"{"status":"done"}"#, None)), JobState::Done);
        assert_eq!(
            c(&response(
                r#"{"status":"failed","error":{"message":"no disk"}}"#,
                None
            )),
            JobState::Failed("no disk".into())
        );
        assert_eq!(c(&response("not json", None)), JobState::Pending);
    }

    #[test]
    fn poll_waits_grow_up_to_the_cap() {
        let b = PollBackoff {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
            max: Duration::from_millis(350),
        };
        let waits: Vec<_> = (0..4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        let odd = PollBackoff {
            multiplier: f64::NAN,
            ..b
        };
        assert!(odd.delay(3) <= b.max);
    }
}
