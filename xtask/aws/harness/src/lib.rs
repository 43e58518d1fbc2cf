//! What every AWS scenario program shares: its arguments, the connector settings, the credentials,
//! running named steps that report their call, status and error, and the checks they make.

use std::future::Future;
use std::time::Instant;

use connector_runtime::{AuthConfig, ConnectorConfig, Error, ErrorCode, RetryConfig};
use serde::Serialize;
use serde_json::{Value, json};

/// The region every scenario signs for (moto's default).
pub const REGION: &str = "us-east-1";

/// The account moto gives the bootstrapped user.
pub const ACCOUNT: i64 = 123456789012;

/// A scenario program's arguments: `PROGRAM BASE_URL ACCESS_KEY_ID SECRET_ACCESS_KEY`.
pub struct Args {
    /// The moto server's URL.
    pub base: String,
    /// The bootstrapped user's access key id.
    pub key: String,
    /// Its secret access key.
    pub secret: String,
}

impl Args {
    /// Read from the command line; a missing one is an empty string (every step then fails).
    pub fn read() -> Args {
        let mut argv = std::env::args().skip(1);
        let mut next = || argv.next().unwrap_or_default();
        Args {
            base: next(),
            key: next(),
            secret: next(),
        }
    }
}

/// Connector settings against moto: one attempt per call (a step reports what the server said, not
/// what a retry made of it), no breaker, no de-duplication, every operation's own server replaced
/// by moto's URL.
pub fn config(mut base_config: ConnectorConfig, args: &Args, auth: AuthConfig) -> ConnectorConfig {
    base_config.base_url = args.base.clone();
    base_config.retry = RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    };
    base_config.dedup.enabled = false;
    base_config.circuit_breaker.enabled = false;
    base_config.servers.insert("*".into(), args.base.clone());
    base_config.auth = Some(auth);
    base_config
}

/// Why a step failed.
#[derive(Debug)]
pub struct Failure {
    /// The HTTP status of the answer that failed it, when there was one.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let body = e
            .raw_body()
            .map(|b| {
                let text = String::from_utf8_lossy(b);
                let short: String = text.chars().take(300).collect();
                format!(" | body: {short}")
            })
            .unwrap_or_default();
        Failure {
            status: e.status().map(|s| s.as_u16()),
            error: format!("{}: {}{body}", e.code().as_str(), e.message()),
        }
    }
}

/// A failure found by the scenario itself (a wrong value read back).
pub fn fail(error: impl Into<String>) -> Failure {
    Failure {
        status: None,
        error: error.into(),
    }
}

/// What a step returns.
pub type Outcome<T> = Result<T, Failure>;

/// One step's result, as the report shows it.
#[derive(Debug, Serialize)]
pub struct StepResult {
    /// What the step does.
    pub step: String,
    /// The operation or request it makes.
    pub call: String,
    /// Whether it passed.
    pub ok: bool,
    /// The status of the failing answer.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub ms: u128,
}

/// The steps of one service's scenario, run in order; a failing step is recorded and the next runs.
pub struct Run {
    service: &'static str,
    results: Vec<StepResult>,
}

impl Run {
    /// A run for `service`.
    pub fn new(service: &'static str) -> Run {
        Run {
            service,
            results: Vec::new(),
        }
    }

    /// Run one step; its value when it passed.
    pub async fn step<T, F>(&mut self, step: &str, call: &str, f: F) -> Option<T>
    where
        F: Future<Output = Outcome<T>>,
    {
        let started = Instant::now();
        let outcome = f.await;
        let ms = started.elapsed().as_millis();
        let (ok, status, error, value) = match outcome {
            Ok(v) => (true, None, None, Some(v)),
            Err(f) => (false, f.status, Some(f.error), None),
        };
        self.results.push(StepResult {
            step: step.to_owned(),
            call: call.to_owned(),
            ok,
            status,
            error,
            ms,
        });
        value
    }

    /// Print the results as one JSON object on stdout.
    pub fn finish(self) {
        let out = json!({ "service": self.service, "steps": self.results });
        println!("{out}");
    }
}

/// A step that depends on an earlier one whose value is missing.
pub fn needs<T>(value: Option<T>, what: &str) -> Outcome<T> {
    value.ok_or_else(|| fail(format!("skipped: needs {what} from an earlier step")))
}

/// An answer that must be the provider's "not found" for a missing resource: the typed error
/// NOT_FOUND, with the provider's own error code `provider_code`.
pub fn expect_not_found<T>(result: Result<T, Error>, provider_code: &str) -> Outcome<()> {
    match result {
        Ok(_) => Err(fail(format!(
            "expected the error {provider_code}, the call succeeded"
        ))),
        Err(e) if e.code() == ErrorCode::NotFound && e.provider_code() == Some(provider_code) => {
            Ok(())
        }
        Err(e) => {
            let got = e.provider_code().unwrap_or("no provider code").to_owned();
            let mut f = Failure::from(e);
            f.error = format!("expected NOT_FOUND {provider_code}; got {got}, {}", f.error);
            Err(f)
        }
    }
}

/// An answer that must be refused as AUTH_FAILED (a request signed with a wrong secret).
pub fn expect_auth_failed<T>(result: Result<T, Error>) -> Outcome<()> {
    match result {
        Ok(_) => Err(fail("a wrong secret was accepted")),
        Err(e) if e.code() == ErrorCode::AuthFailed => Ok(()),
        Err(e) => {
            let mut f = Failure::from(e);
            f.error = format!("expected AUTH_FAILED; got {}", f.error);
            Err(f)
        }
    }
}

/// Checks a value read back against the one written.
pub fn same(what: &str, got: Option<String>, wanted: &str) -> Outcome<()> {
    match got {
        Some(g) if g == wanted => Ok(()),
        Some(g) => Err(fail(format!("{what}: read `{g}`, wrote `{wanted}`"))),
        None => Err(fail(format!("{what}: absent from the answer"))),
    }
}

/// Checks that a listing over several pages saw every item created, on more than one page.
pub fn paged(pages: usize, seen: usize, created: usize) -> Outcome<()> {
    if pages < 2 {
        return Err(fail(format!(
            "{seen} items on {pages} page: expected several pages"
        )));
    }
    if seen != created {
        return Err(fail(format!(
            "{seen} items over {pages} pages, {created} created"
        )));
    }
    Ok(())
}

/// The process's peak resident memory (`VmHWM` in /proc/self/status), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs a scenario on a thread with room for the large generated futures, on a current-thread
/// runtime.
pub fn main_with<F, Fut>(scenario: F)
where
    F: FnOnce(Args) -> Fut + Send + 'static,
    Fut: Future<Output = Run>,
{
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(scenario(Args::read())).finish(),
                Err(e) => eprintln!("no async runtime: {e}"),
            }
        });
    match worker.map(|w| w.join()) {
        Ok(Ok(())) => {}
        _ => std::process::exit(101),
    }
}

/// A typed request body built from its JSON form (the wire names), so a scenario does not depend on
/// how the generator names the fields.
pub fn input<T: serde::de::DeserializeOwned>(value: Value) -> Outcome<T> {
    serde_json::from_value(value)
        .map_err(|e| fail(format!("the request does not fit its type: {e}")))
}
