//! User hooks: named, prioritised extension points run by the pipeline at four stages.
//!
//! | stage | when it runs | what it sees | what it may do |
//! |---|---|---|---|
//! | `BeforeRequest` | once per attempt, after the rate-limit slot is held and auth is applied, before the request is signed and sent | the request | change it, abort |
//! | `AfterResponse` | once per attempt that got an HTTP answer (any status), before the status is judged | request and response | change the response (status, headers, body), abort |
//! | `OnError` | once per failed attempt, before the retry decision | request, error, response if any | enrich the error (message, details), abort |
//! | `OnRetry` | before each backoff wait, once the retry is decided | request, error, attempt | observe, abort (the error is then surfaced as CANCELLED) |
//!
//! Hooks of one stage run in ascending `priority`, ties in registration order. A hook that returns an
//! error ends the call with that error (code of the hook's choosing via [`HookError`], source `userHook`);
//! a hook that calls [`HookContext::abort`] ends it as CANCELLED with the reason. Later hooks of the stage
//! do not run in either case.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use tracing::Instrument;

use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::RequestParts;

/// The four hook stages of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookType {
    /// Before each attempt is sent.
    BeforeRequest,
    /// After each HTTP answer.
    AfterResponse,
    /// After each failed attempt.
    OnError,
    /// Before each retry.
    OnRetry,
}

impl HookType {
    /// The specification's spelling (`beforeRequest`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookType::BeforeRequest => "beforeRequest",
            HookType::AfterResponse => "afterResponse",
            HookType::OnError => "onError",
            HookType::OnRetry => "onRetry",
        }
    }
}

/// The response as hooks see it.
#[derive(Debug, Clone)]
pub struct ResponseParts {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// What a hook gets: the stage, the request, the response and error when there are any, the attempt,
/// and a metadata map that lives for the whole call (shared by all hooks and attempts).
#[derive(Debug)]
pub struct HookContext {
    hook_type: HookType,
    /// The current attempt, 1-based.
    pub attempt: u32,
    /// The request of this attempt.
    pub request: RequestParts,
    pub(crate) response: Option<ResponseParts>,
    pub(crate) error: Option<Error>,
    /// Free-form data that hooks share across stages and attempts of one call.
    pub metadata: BTreeMap<String, Value>,
    aborted: Option<String>,
}

impl HookContext {
    pub(crate) fn new(
        hook_type: HookType,
        attempt: u32,
        request: RequestParts,
        metadata: BTreeMap<String, Value>,
    ) -> Self {
        HookContext {
            hook_type,
            attempt,
            request,
            response: None,
            error: None,
            metadata,
            aborted: None,
        }
    }

    pub(crate) fn set_stage(&mut self, t: HookType) {
        self.hook_type = t;
    }

    /// The stage being run.
    pub fn hook_type(&self) -> HookType {
        self.hook_type
    }

    /// Change the outgoing request (takes effect at `BeforeRequest`; later stages see a copy).
    pub fn modify_request(&mut self, f: impl FnOnce(&mut RequestParts)) {
        f(&mut self.request);
    }

    /// The response, at `AfterResponse` (and at `OnError` when the server answered).
    pub fn response(&self) -> Option<&ResponseParts> {
        self.response.as_ref()
    }

    /// The error, at `OnError` and `OnRetry`.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Enrich the error (message, details) at `OnError`. No-op when there is no error.
    pub fn modify_error(&mut self, f: impl FnOnce(&mut Error)) {
        if let Some(e) = &mut self.error {
            f(e);
        }
    }

    /// Change the incoming response (at `AfterResponse`). No-op when there is no response.
    pub fn modify_response(&mut self, f: impl FnOnce(&mut ResponseParts)) {
        if let Some(r) = &mut self.response {
            f(r);
        }
    }

    /// Cancel the call with a reason: it ends as CANCELLED (source `userHook`), and is not retried.
    pub fn abort(&mut self, reason: impl Into<String>) {
        self.aborted = Some(reason.into());
    }

    /// The abort reason, if a hook aborted.
    pub fn aborted(&self) -> Option<&str> {
        self.aborted.as_deref()
    }
}

/// What a failing hook returns; becomes an [`Error`] with source `userHook`.
pub type HookError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A hook. Implement it directly for async work, or use [`hook_fn`] for a closure.
pub trait Hook: Send + Sync + 'static {
    /// Unique, human-readable name (shown in errors and logs).
    fn name(&self) -> &str;
    /// Order within a stage: lower runs first (default 0).
    fn priority(&self) -> i32 {
        0
    }
    /// Run the hook.
    fn execute<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>>;
}

struct FnHook<F> {
    name: String,
    priority: i32,
    f: F,
}

impl<F> Hook for FnHook<F>
where
    F: Fn(&mut HookContext) -> Result<(), HookError> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn priority(&self) -> i32 {
        self.priority
    }
    fn execute<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        let r = (self.f)(ctx);
        Box::pin(std::future::ready(r))
    }
}

/// A hook from a synchronous closure.
pub fn hook_fn<F>(name: impl Into<String>, priority: i32, f: F) -> Arc<dyn Hook>
where
    F: Fn(&mut HookContext) -> Result<(), HookError> + Send + Sync + 'static,
{
    Arc::new(FnHook {
        name: name.into(),
        priority,
        f,
    })
}

#[derive(Clone)]
struct Registered {
    stage: HookType,
    seq: u64,
    hook: Arc<dyn Hook>,
}

/// The hooks of one connector, kept sorted by (priority, registration order) per stage.
#[derive(Default)]
pub struct HookRegistry {
    inner: RwLock<(u64, Vec<Registered>)>,
    /// One bit per stage that has a hook, rewritten under the write lock: the pipeline asks
    /// [`HookRegistry::has`] several times per attempt, and most connectors register none.
    stages: AtomicU8,
}

fn stage_bit(stage: HookType) -> u8 {
    match stage {
        HookType::BeforeRequest => 1,
        HookType::AfterResponse => 2,
        HookType::OnError => 4,
        HookType::OnRetry => 8,
    }
}

fn stages_of(list: &[Registered]) -> u8 {
    list.iter().fold(0, |bits, r| bits | stage_bit(r.stage))
}

impl fmt::Debug for HookRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        f.debug_list()
            .entries(
                g.1.iter()
                    .map(|r| (r.stage, r.hook.name().to_owned(), r.hook.priority())),
            )
            .finish()
    }
}

impl HookRegistry {
    /// Register `hook` at `stage`. A hook with the same name at the same stage is replaced in place.
    pub fn register(&self, stage: HookType, hook: Arc<dyn Hook>) {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let (next, list) = &mut *g;
        if let Some(r) = list
            .iter_mut()
            .find(|r| r.stage == stage && r.hook.name() == hook.name())
        {
            r.hook = hook;
        } else {
            *next += 1;
            list.push(Registered {
                stage,
                seq: *next,
                hook,
            });
        }
        list.sort_by_key(|r| (r.hook.priority(), r.seq));
        self.stages.store(stages_of(list), Ordering::SeqCst);
    }

    /// Remove the hook named `name` from every stage; true if one was removed.
    pub fn remove(&self, name: &str) -> bool {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let before = g.1.len();
        g.1.retain(|r| r.hook.name() != name);
        self.stages.store(stages_of(&g.1), Ordering::SeqCst);
        before != g.1.len()
    }

    fn stage(&self, stage: HookType) -> Vec<Arc<dyn Hook>> {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        g.1.iter()
            .filter(|r| r.stage == stage)
            .map(|r| r.hook.clone())
            .collect()
    }

    /// Whether any hook is registered at `stage` (lets the pipeline skip building a context).
    pub fn has(&self, stage: HookType) -> bool {
        self.stages.load(Ordering::SeqCst) & stage_bit(stage) != 0
    }

    /// Whether any hook is registered, at any stage.
    pub(crate) fn any(&self) -> bool {
        self.stages.load(Ordering::SeqCst) != 0
    }

    /// Run the hooks of `stage` in order. Stops at the first failure or abort.
    pub(crate) async fn run(&self, stage: HookType, ctx: &mut HookContext) -> Result<(), Error> {
        ctx.set_stage(stage);
        for hook in self.stage(stage) {
            let span =
                tracing::trace_span!("connector.hook", hook = %hook.name(), stage = stage.as_str());
            let outcome = hook.execute(ctx).instrument(span).await;
            if outcome.is_err() || ctx.aborted().is_some() {
                // The name is copied only for the error that carries it.
                let name = hook.name().to_owned();
                ctx_failure(stage, name, outcome, ctx)?;
            }
        }
        Ok(())
    }
}

/// The error of a hook that failed (`outcome`) or aborted the call (`ctx` says so).
fn ctx_failure(
    stage: HookType,
    name: String,
    outcome: Result<(), HookError>,
    ctx: &HookContext,
) -> Result<(), Error> {
    if let Err(e) = outcome {
        let code = match e.downcast_ref::<Error>() {
            Some(inner) => inner.code(),
            None => ErrorCode::InvalidRequest,
        };
        return Err(Error::new(
            code,
            ErrorSource::UserHook,
            format!("hook `{name}` failed at {}: {e}", stage.as_str()),
        )
        .with_detail("hook", name)
        .with_cause(e));
    }
    if let Some(reason) = ctx.aborted() {
        return Err(Error::new(
            ErrorCode::Cancelled,
            ErrorSource::UserHook,
            format!("aborted by hook `{name}` at {}: {reason}", stage.as_str()),
        )
        .with_detail("hook", name)
        .with_detail("reason", reason.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_follows_registration_and_removal_per_stage() {
        let r = HookRegistry::default();
        let all = [
            HookType::BeforeRequest,
            HookType::AfterResponse,
            HookType::OnError,
            HookType::OnRetry,
        ];
        assert!(all.iter().all(|s| !r.has(*s)));
        r.register(HookType::OnError, hook_fn("log", 0, |_| Ok(())));
        r.register(HookType::BeforeRequest, hook_fn("sign", 0, |_| Ok(())));
        r.register(HookType::OnError, hook_fn("count", 0, |_| Ok(())));
        let present: Vec<bool> = all.iter().map(|s| r.has(*s)).collect();
        assert_eq!(present, [true, false, true, false]);
        // Replacing a hook in place keeps its stage.
        r.register(HookType::BeforeRequest, hook_fn("sign", 5, |_| Ok(())));
        assert!(r.has(HookType::BeforeRequest));
        assert!(r.remove("sign"));
        assert!(!r.has(HookType::BeforeRequest));
        // One of two hooks at a stage gone: the stage still has one.
        assert!(r.remove("log"));
        assert!(r.has(HookType::OnError));
        assert!(r.remove("count"));
        assert!(all.iter().all(|s| !r.has(*s)));
        assert!(!r.remove("count"), "nothing left to remove");
    }
}
