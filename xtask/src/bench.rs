//! `cargo xtask bench`: the performance suite: generating, compiling and calling, each beside the alternative measured in the same run, judged against the goals of `docs/performance.md`.
//!
//! Every tool runs as a child process of its own, so its wall time and peak resident memory come from
//! `wait4`'s `rusage` (the peak of the child and of the processes it waited for: cargo's rustc, the
//! JVM under OpenAPI Generator). The alternatives are installed, pinned, under `~/.cache/connector-bench`:
//! OpenAPI Generator from PyPI (`openapi-generator-cli`, whose wheel carries the jar; run on the
//! machine's Java, installed from Debian's packages when missing) and progenitor's CLI from crates.io
//! (`cargo install cargo-progenitor`). Our side is the release `connector-gen` and the release
//! `connector-bench` programs (`bench/`): the JSON parse floor, the load generator and its server, and
//! the criterion benchmarks.
//!
//! Sections: `gen` (generation time and memory), `compile` (`cargo check` of each generated crate with
//! dependencies prebuilt, one release build), `calls` (requests per second and latency through a
//! generated client against plain reqwest, decoding, pagination), `criterion` (pipeline, rate limiter,
//! hooks), `runtime` (the runtime's own build time and dependency count). `--quick` runs a reduced
//! `gen` and `calls` (a few minutes, used by `cargo xtask test`) and prints the ratios; a full run
//! writes `docs/performance.md` and fails when a goal is missed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{corpus, manifest};

/// The pinned alternatives.
const OAG_VERSION: &str = "7.26.0";
const PROGENITOR_VERSION: &str = "0.15.1";
/// The mid-size corpus description all three generators accept (OpenAPI 3.0, JSON, operation ids;
/// progenitor refuses GitHub, Stripe, Graph beta, Gitea and GitLab).
const MID_SPEC: &str = "api/netbox.dev.json";
/// Microsoft Graph beta in the corpus.
const GRAPH_SPEC: &str = "api/microsoft.com/graph-beta.json";

const USAGE: &str = "cargo xtask bench [--quick] [--json] [--only SECTIONS] [--no-docs]

Runs the performance suite and prints a table of medians, spreads, run counts and ratios (ours /
theirs). SECTIONS is a comma list of gen, compile, calls, criterion, runtime (default: all). --quick
runs a reduced gen and calls (as `cargo xtask test` does) and does not write docs. Otherwise each
section that finishes replaces its results in docs/performance.md (unless --no-docs); the run fails
when a goal is missed. --json prints the rows and
goals as JSON on stdout. The alternatives (OpenAPI Generator 7.26.0, cargo-progenitor) are installed
under ~/.cache/connector-bench on first use.";

struct Options {
    quick: bool,
    json: bool,
    docs: bool,
    sections: Vec<String>,
}

const SECTIONS: [&str; 5] = ["gen", "compile", "calls", "criterion", "runtime"];

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        json: false,
        docs: true,
        sections: SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--no-docs" => o.docs = false,
            "--only" => {
                let v = it.next().ok_or("--only needs a comma list of sections")?;
                o.sections = v.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(bad) = o.sections.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(format!("unknown section `{bad}`; sections: {SECTIONS:?}"));
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if o.quick {
        o.docs = false;
        o.sections.retain(|s| s == "gen" || s == "calls");
    }
    Ok(o)
}

/// Median, extremes and count of one measurement's runs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Stat {
    pub fn of(xs: &[f64]) -> Stat {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Stat {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
            runs: n,
        }
    }
}

/// One line of the table: our measurement, the alternative's, and the goal it is judged by.
#[derive(Debug, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub measure: String,
    pub unit: &'static str,
    pub ours: Stat,
    pub alternative: Option<String>,
    pub theirs: Option<Stat>,
    pub ratio: Option<f64>,
    pub goal: Option<String>,
    pub met: Option<bool>,
    /// Judged in `--quick` runs too (goals that do not depend on the machine's load).
    pub strict: bool,
}

/// A goal on one row.
enum Goal {
    /// ours / theirs at most this.
    RatioAtMost(f64),
    /// ours / theirs at least this.
    RatioAtLeast(f64),
    /// ours below this (in the row's unit).
    Below(f64),
    /// ours minus theirs below this (in the row's unit).
    DeltaBelow(f64),
}

impl Row {
    fn new(
        section: &'static str,
        measure: impl Into<String>,
        unit: &'static str,
        ours: Stat,
    ) -> Row {
        Row {
            section,
            measure: measure.into(),
            unit,
            ours,
            alternative: None,
            theirs: None,
            ratio: None,
            goal: None,
            met: None,
            strict: false,
        }
    }

    fn strict(mut self) -> Row {
        self.strict = true;
        self
    }

    fn against(mut self, name: &str, theirs: Stat) -> Row {
        self.alternative = Some(name.to_owned());
        self.theirs = Some(theirs);
        let r = self.ours.median / theirs.median;
        self.ratio = r.is_finite().then_some(r);
        self
    }

    fn goal(mut self, g: Goal) -> Row {
        let (text, met) = match g {
            Goal::RatioAtMost(x) => (
                format!("ratio <= {}", fmt_num(x)),
                self.ratio.map(|r| r <= x),
            ),
            Goal::RatioAtLeast(x) => (
                format!("ratio >= {}", fmt_num(x)),
                self.ratio.map(|r| r >= x),
            ),
            Goal::Below(x) => (
                format!("< {} {}", fmt_num(x), self.unit),
                Some(self.ours.median < x),
            ),
            Goal::DeltaBelow(x) => (
                format!("ours - theirs < {} {}", fmt_num(x), self.unit),
                self.theirs.map(|t| self.ours.median - t.median < x),
            ),
        };
        self.goal = Some(text);
        self.met = Some(met.unwrap_or(false));
        self
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// What one child process cost.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// Peak resident memory in MB (10^6 bytes), of the child and the processes it waited for. Linux
    /// counts the spawning process's own peak into it (kept across `exec`), so the bench runs in a
    /// small process of its own (`test` starts it as one).
    pub peak_mb: f64,
}

/// Run `cmd` to completion (killed after `timeout`), its output into `log`; fails with the log's tail.
pub fn measure(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<Sample, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    let pid = i32::try_from(child.id()).map_err(|_| "pid out of range".to_owned())?;
    let (status, usage, killed) = corpus::wait_with_timeout(pid, timeout);
    let wall = started.elapsed();
    // The child is reaped by wait4; dropping the handle does not wait again.
    drop(child);
    let ok = !killed && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let how = if killed {
            format!("killed after {} s", timeout.as_secs())
        } else {
            format!("wait status {status}")
        };
        return Err(format!(
            "{:?} failed ({how}); log {}:\n{}",
            cmd.get_program(),
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(Sample {
        wall,
        peak_mb: u64::try_from(usage.ru_maxrss).unwrap_or(0) as f64 * 1024.0 / 1e6,
    })
}

/// The shell form of a command, for the docs.
fn shown(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            let _ = write!(s, "{}={} ", k.to_string_lossy(), v.to_string_lossy());
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    let home = std::env::var("HOME").unwrap_or_default();
    if home.len() > 1 {
        s = s.replace(&home, "~");
    }
    s
}

/// The run: where things go, what was measured, what ran.
struct Bench {
    root: PathBuf,
    cache: PathBuf,
    quick: bool,
    rows: Vec<Row>,
    /// Per section: what ran (label, command line).
    commands: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// Per section: what a reader of the table needs to know (a tool refusing an input...).
    notes: BTreeMap<&'static str, Vec<String>>,
    /// Per section: when it started and the machine's load then.
    context: BTreeMap<&'static str, String>,
    /// The section running now.
    current: &'static str,
    started: Instant,
    step: usize,
    tty: bool,
}

impl Bench {
    fn progress(&mut self, what: &str) {
        self.step += 1;
        let secs = self.started.elapsed().as_secs();
        if self.tty {
            eprint!("\r\x1b[2K[{} s] {}. {what}", secs, self.step);
        } else {
            eprintln!("xtask bench: [{secs} s] {}. {what}", self.step);
        }
    }

    fn done_progress(&self) {
        if self.tty {
            eprintln!();
        }
    }

    fn command(&mut self, what: &str, cmd: &Command) {
        self.commands
            .entry(self.current)
            .or_default()
            .entry(what.to_owned())
            .or_insert_with(|| shown(cmd));
    }

    fn note(&mut self, text: String) {
        self.notes.entry(self.current).or_default().push(text);
    }

    /// Start a section: its name, the time and the machine's load average.
    fn section(&mut self, name: &'static str) {
        self.current = name;
        let when = Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "unknown".into());
        self.context.insert(
            name,
            format!("run {when}; load average at its start {load}"),
        );
    }

    fn log(&self, name: &str) -> PathBuf {
        self.cache.join("logs").join(format!("{name}.log"))
    }

    /// Run `make()`'s command `runs` times, recording it under `what`.
    fn repeat(
        &mut self,
        what: &str,
        runs: usize,
        timeout: Duration,
        make: &dyn Fn() -> Command,
    ) -> Result<Vec<Sample>, String> {
        let mut out = Vec::new();
        for i in 0..runs {
            let mut cmd = make();
            self.command(what, &cmd);
            self.progress(&format!("{what} ({}/{runs})", i + 1));
            let log = self.log(&what.replace([' ', '/', ':', ','], "_"));
            out.push(measure(&mut cmd, &log, timeout)?);
        }
        Ok(out)
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cache_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/connector-bench")
}

/// The release target directory `cargo build --release` uses from the workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn run_ok(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// OpenAPI Generator: the jar from the pinned PyPI wheel, and a Java to run it on.
fn install_oag(cache: &Path) -> Result<(PathBuf, PathBuf), String> {
    let venv = cache.join(format!("openapi-generator-{OAG_VERSION}"));
    let jar = || -> Option<PathBuf> {
        let lib = venv.join("lib");
        for py in std::fs::read_dir(&lib).ok()? {
            let p = py
                .ok()?
                .path()
                .join("site-packages/openapi_generator_cli/openapi-generator.jar");
            if p.is_file() {
                return Some(p);
            }
        }
        None
    };
    if jar().is_none() {
        eprintln!(
            "xtask bench: installing openapi-generator-cli=={OAG_VERSION} into {}",
            venv.display()
        );
        let _ = std::fs::remove_dir_all(&venv);
        run_ok(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
        run_ok(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("openapi-generator-cli=={OAG_VERSION}"),
            ]),
            "pip install openapi-generator-cli",
        )?;
    }
    let jar = jar().ok_or("the openapi-generator-cli wheel holds no openapi-generator.jar")?;
    let java_ok = || {
        Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !java_ok() {
        eprintln!(
            "xtask bench: no java; installing openjdk-17-jre-headless from the machine's packages"
        );
        let _ = Command::new("apt-get").arg("update").status();
        run_ok(
            Command::new("apt-get").args(["install", "-y", "openjdk-17-jre-headless"]),
            "apt-get install openjdk-17-jre-headless",
        )?;
        if !java_ok() {
            return Err(
                "java is needed to run OpenAPI Generator and could not be installed".into(),
            );
        }
    }
    Ok((PathBuf::from("java"), jar))
}

/// progenitor's command line, built once from crates.io.
fn install_progenitor(cache: &Path) -> Result<PathBuf, String> {
    let dir = cache.join(format!("progenitor-{PROGENITOR_VERSION}"));
    let bin = dir.join("bin/cargo-progenitor");
    if !bin.is_file() {
        eprintln!(
            "xtask bench: installing cargo-progenitor {PROGENITOR_VERSION} (a few minutes, once)"
        );
        run_ok(
            Command::new(cargo())
                .args([
                    "install",
                    "--quiet",
                    "--locked",
                    "cargo-progenitor",
                    "--version",
                    PROGENITOR_VERSION,
                    "--root",
                ])
                .arg(&dir)
                // Its own target directory: the workspace's is not for foreign builds.
                .env("CARGO_TARGET_DIR", cache.join("progenitor-build")),
            "cargo install cargo-progenitor",
        )?;
        let _ = std::fs::remove_dir_all(cache.join("progenitor-build"));
    }
    Ok(bin)
}

/// One description the generation and compile sections run on.
struct Input {
    key: &'static str,
    label: &'static str,
    path: PathBuf,
    settings: Option<PathBuf>,
    /// Whether progenitor is tried on it (it reads OpenAPI 3.0 only).
    progenitor: bool,
    /// Whether the compile section checks its output.
    compile: bool,
}

fn inputs(root: &Path, quick: bool) -> Result<Vec<Input>, String> {
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let find = |name: &str| -> Result<(PathBuf, Option<PathBuf>), String> {
        let e = entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("{name} is not in specs/manifest.toml"))?;
        let path = match manifest::locate(root, e) {
            Ok(p) => p,
            Err(manifest::Missing::NotFound(why)) | Err(manifest::Missing::Mismatch(why)) => {
                return Err(why);
            }
        };
        Ok((
            path,
            e.settings
                .as_ref()
                .map(|s| root.join("specs/settings").join(s)),
        ))
    };
    let (gh, gh_settings) = find("github")?;
    let mut v = vec![Input {
        key: "github",
        label: "GitHub (13 MB)",
        path: gh,
        settings: gh_settings,
        progenitor: true,
        compile: true,
    }];
    if quick {
        return Ok(v);
    }
    let (stripe, stripe_settings) = find("stripe")?;
    v.push(Input {
        key: "stripe",
        label: "Stripe (4.2 MB)",
        path: stripe,
        settings: stripe_settings,
        progenitor: true,
        compile: true,
    });
    let corpus = corpus::install()?;
    v.push(Input {
        key: "graph-beta",
        label: "Microsoft Graph beta (47 MB)",
        path: corpus.join(GRAPH_SPEC),
        settings: None,
        progenitor: true,
        // OpenAPI Generator's crate for it does not finish checking in reasonable time and memory.
        compile: false,
    });
    v.push(Input {
        key: "netbox",
        label: "NetBox (corpus, 1.2 MB)",
        path: corpus.join(MID_SPEC),
        settings: None,
        progenitor: true,
        compile: true,
    });
    Ok(v)
}

/// Programs of ours the suite runs, built in release mode.
struct Ours {
    generator: PathBuf,
    bench_bin: PathBuf,
}

fn build_ours(b: &mut Bench) -> Result<Ours, String> {
    // Two builds, as `corpus` builds connector-gen alone: one build of both would unify their
    // dependencies' features and rebuild the generator's.
    for (what, args) in [
        (
            "release build of connector-gen",
            &[
                "build",
                "--release",
                "--quiet",
                "-p",
                "connector-codegen",
                "--bin",
                "connector-gen",
            ][..],
        ),
        (
            "release build of the serde_json floor",
            &[
                "build",
                "--release",
                "--quiet",
                "-p",
                "connector-codegen",
                "--example",
                "json_floor",
            ][..],
        ),
        (
            "release build of connector-bench",
            &[
                "build",
                "--release",
                "--quiet",
                "-p",
                "connector-bench",
                "--bins",
            ][..],
        ),
    ] {
        b.progress(what);
        run_ok(Command::new(cargo()).args(args).current_dir(&b.root), what)?;
    }
    let rel = target_dir(&b.root).join("release");
    Ok(Ours {
        generator: rel.join("connector-gen"),
        bench_bin: rel,
    })
}

/// Generation: ours, progenitor and OpenAPI Generator on each input, and the JSON parse floor.
fn generation(
    b: &mut Bench,
    ours: &Ours,
    inputs: &[Input],
    oag: &(PathBuf, PathBuf),
    progenitor: Option<&Path>,
) -> Result<(), String> {
    let out = b.cache.join("out");
    let (runs, alt_runs) = if b.quick { (3, 1) } else { (5, 3) };
    for input in inputs {
        let key = input.key;
        let floor = if input.path.extension().is_some_and(|e| e == "json") {
            let bin = ours.bench_bin.join("examples/json_floor");
            let spec = input.path.clone();
            let s = b.repeat(
                &format!("{key}: serde_json parse"),
                runs,
                Duration::from_secs(120),
                &|| {
                    let mut c = Command::new(&bin);
                    c.arg(&spec);
                    c
                },
            )?;
            Some(s)
        } else {
            None
        };
        let dir = out.join(format!("ours-{key}"));
        let (generator, spec, settings) = (
            ours.generator.clone(),
            input.path.clone(),
            input.settings.clone(),
        );
        let runtime = b.root.join("runtime");
        let d = dir.clone();
        let runs = if key == "graph-beta" {
            runs.min(3)
        } else {
            runs
        };
        let s_ours = b.repeat(
            &format!("{key}: generate (ours)"),
            runs,
            Duration::from_secs(600),
            &|| {
                let mut c = Command::new(&generator);
                c.arg("generate").arg(&spec).arg("--out").arg(&d);
                c.args(["--name", &format!("{key}-ours")]);
                c.arg("--runtime-path").arg(&runtime);
                if let Some(s) = &settings {
                    c.arg("--settings").arg(s);
                }
                c
            },
        )?;
        let d = out.join(format!("oag-{key}"));
        let (java, jar) = oag.clone();
        let spec = input.path.clone();
        let oag_runs = if key == "graph-beta" { 1 } else { alt_runs };
        let s_oag = b.repeat(
            &format!("{key}: generate (OpenAPI Generator)"),
            oag_runs,
            Duration::from_secs(1800),
            &|| {
                let _ = std::fs::remove_dir_all(&d);
                let mut c = Command::new(&java);
                c.arg("-jar")
                    .arg(&jar)
                    .args(["generate", "-g", "rust", "-i"]);
                c.arg(&spec).arg("-o").arg(&d);
                c.args([
                    "--package-name",
                    &format!("{key}-oag"),
                    "--skip-validate-spec",
                ]);
                c
            },
        );
        let s_oag = match s_oag {
            Ok(s) => Some(s),
            Err(e) => {
                b.note(format!(
                    "OpenAPI Generator on {}: failed: {}",
                    input.label,
                    first_line_matching(&e)
                ));
                None
            }
        };
        let s_prog = match (progenitor, input.progenitor) {
            (Some(bin), true) => {
                let d = out.join(format!("progenitor-{key}"));
                let spec = input.path.clone();
                let bin = bin.to_path_buf();
                match b.repeat(
                    &format!("{key}: generate (progenitor)"),
                    alt_runs,
                    Duration::from_secs(600),
                    &|| {
                        let _ = std::fs::remove_dir_all(&d);
                        let mut c = Command::new(&bin);
                        c.args(["progenitor", "-i"]).arg(&spec).arg("-o").arg(&d);
                        c.args(["-n", &format!("{key}-progenitor"), "-v", "0.1.0"]);
                        c
                    },
                ) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        b.note(format!(
                            "progenitor does not accept {}: {}",
                            input.label,
                            first_line_matching(&e)
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        let (wall, peak) = (wall_of, peak_of);
        let label = input.label;
        if let Some(f) = &floor {
            let mut row = Row::new(
                "gen",
                format!("{label}: generation time vs serde_json parse into Value"),
                "s",
                wall(&s_ours),
            )
            .against("serde_json", wall(f));
            if key == "github" {
                row = row.goal(Goal::RatioAtMost(3.0));
            }
            b.rows.push(row);
        }
        let generation = |theirs: &str, samples: &[Sample]| {
            time_and_memory(
                "gen",
                format!("{label}: generation time"),
                format!("{label}: generation peak memory"),
                &s_ours,
                theirs,
                samples,
            )
        };
        if let Some(o) = &s_oag {
            let (mut time, mut mem) = generation("OpenAPI Generator", o);
            if key == "github" {
                time = time.goal(Goal::RatioAtMost(1.0 / 20.0));
                mem = mem.goal(Goal::RatioAtMost(0.1));
            }
            b.rows.push(time);
            b.rows.push(mem);
        }
        if let Some(p) = &s_prog {
            let (time, mem) = generation("progenitor", p);
            b.rows.push(time);
            b.rows.push(mem);
        }
        if key == "graph-beta" {
            b.rows.push(
                Row::new(
                    "gen",
                    format!("{label}: generation time"),
                    "s",
                    wall(&s_ours),
                )
                .goal(Goal::Below(5.0)),
            );
            b.rows.push(
                Row::new(
                    "gen",
                    format!("{label}: generation peak memory"),
                    "MB",
                    peak(&s_ours),
                )
                .goal(Goal::Below(400.0)),
            );
        }
    }
    Ok(())
}

/// The most telling line of a failure (its log's tail follows the first line): a panic, an exception
/// or an error, else the first line.
fn first_line_matching(s: &str) -> String {
    let tail: Vec<&str> = s.lines().skip(1).collect();
    let telling = |l: &&str| {
        let l = l.to_ascii_lowercase();
        l.contains("panicked")
            || l.contains("not yet implemented")
            || l.contains("exception")
            || l.starts_with("error")
            || l.contains("] error")
    };
    // A panic's message is the line after `panicked at`.
    let line = match tail.iter().position(|l| l.contains("panicked at")) {
        Some(i) => tail.get(i + 1).copied().unwrap_or(tail[i]),
        None => tail
            .iter()
            .copied()
            .find(telling)
            .unwrap_or_else(|| s.lines().next().unwrap_or("")),
    };
    line.trim().chars().take(200).collect()
}

/// Touch `src/lib.rs` so cargo rebuilds only the crate itself.
pub(crate) fn touch_lib(dir: &Path) -> Result<(), String> {
    let lib = dir.join("src/lib.rs");
    let file = std::fs::File::options()
        .append(true)
        .open(&lib)
        .map_err(|e| format!("{}: {e}", lib.display()))?;
    file.set_modified(std::time::SystemTime::now())
        .map_err(|e| format!("touch {}: {e}", lib.display()))
}

/// `cargo <verb> <args>` in `dir` with dependencies prebuilt: one untimed run, then `runs` timed runs
/// after touching `src/lib.rs`.
fn timed_cargo(
    b: &mut Bench,
    what: &str,
    dir: &Path,
    target: &Path,
    args: &[&str],
    runs: usize,
) -> Result<Vec<Sample>, String> {
    let make = || {
        let mut c = Command::new(cargo());
        c.args(args)
            .arg("--quiet")
            .env("CARGO_TARGET_DIR", target)
            .env("CARGO_INCREMENTAL", "0")
            .current_dir(dir);
        c
    };
    b.progress(&format!("{what}: building dependencies"));
    let log = b.log(&format!("{}-deps", what.replace([' ', '/', ':', ','], "_")));
    measure(&mut make(), &log, Duration::from_secs(3600))?;
    let mut out = Vec::new();
    for i in 0..runs {
        touch_lib(dir)?;
        let mut cmd = make();
        b.command(what, &cmd);
        b.progress(&format!("{what} ({}/{runs})", i + 1));
        let log = b.log(&what.replace([' ', '/', ':', ','], "_"));
        out.push(measure(&mut cmd, &log, Duration::from_secs(3600))?);
    }
    Ok(out)
}

/// A wall-time row and a peak-memory row of `ours` beside `theirs`, the alternative `alt`.
fn time_and_memory(
    section: &'static str,
    time: String,
    memory: String,
    ours: &[Sample],
    alt: &str,
    theirs: &[Sample],
) -> (Row, Row) {
    (
        Row::new(section, time, "s", wall_of(ours)).against(alt, wall_of(theirs)),
        Row::new(section, memory, "MB", peak_of(ours)).against(alt, peak_of(theirs)),
    )
}

fn wall_of(s: &[Sample]) -> Stat {
    Stat::of(&s.iter().map(|x| x.wall.as_secs_f64()).collect::<Vec<_>>())
}

fn peak_of(s: &[Sample]) -> Stat {
    Stat::of(&s.iter().map(|x| x.peak_mb).collect::<Vec<_>>())
}

/// Compile: each generated crate checked with its dependencies prebuilt; one release build.
fn compile(b: &mut Bench, ours: &Ours, inputs: &[Input]) -> Result<(), String> {
    let out = b.cache.join("out");
    for input in inputs.iter().filter(|i| i.compile) {
        let key = input.key;
        // Two timed runs where a goal is judged, one elsewhere (each check of a large crate takes a
        // minute or more on 2 cores).
        let runs = if key == "github" { 2 } else { 1 };
        let label = input.label;
        let ours_dir = out.join(format!("ours-{key}"));
        // Generated again every time (a second or so; the `gen` section's copy may come from another
        // checkout or an older generator, and would be checked in place of this tree's).
        let mut c = Command::new(&ours.generator);
        c.arg("generate")
            .arg(&input.path)
            .arg("--out")
            .arg(&ours_dir);
        c.args(["--name", &format!("{key}-ours")]);
        c.arg("--runtime-path").arg(b.root.join("runtime"));
        if let Some(s) = &input.settings {
            c.arg("--settings").arg(s);
        }
        measure(
            &mut c,
            &b.log(&format!("{key}-generate")),
            Duration::from_secs(600),
        )?;
        let t_ours = b.cache.join("target-ours");
        let all = timed_cargo(
            b,
            &format!("{key}: cargo check --all-features (ours)"),
            &ours_dir,
            &t_ours,
            &["check", "--all-features"],
            runs,
        )?;
        let oag_dir = out.join(format!("oag-{key}"));
        let theirs = if oag_dir.join("Cargo.toml").is_file() {
            match timed_cargo(
                b,
                &format!("{key}: cargo check (OpenAPI Generator)"),
                &oag_dir,
                &b.cache.join("target-oag"),
                &["check"],
                runs,
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    b.note(format!(
                        "OpenAPI Generator's crate for {label} does not compile: {}",
                        first_line_matching(&e)
                    ));
                    None
                }
            }
        } else {
            None
        };
        let check = |theirs: &str, samples: &[Sample]| {
            time_and_memory(
                "compile",
                format!("{label}: cargo check, all features"),
                format!("{label}: cargo check peak memory"),
                &all,
                theirs,
                samples,
            )
        };
        let (mut row, mut mem) = match &theirs {
            Some(t) => check("OpenAPI Generator", t),
            None => (
                Row::new(
                    "compile",
                    format!("{label}: cargo check, all features"),
                    "s",
                    wall_of(&all),
                ),
                Row::new(
                    "compile",
                    format!("{label}: cargo check peak memory"),
                    "MB",
                    peak_of(&all),
                ),
            ),
        };
        if key == "github" {
            row = row.goal(Goal::RatioAtMost(1.0 / 3.0));
            mem = mem.goal(Goal::Below(2000.0));
        }
        b.rows.push(row);
        b.rows.push(mem);
        let prog_dir = out.join(format!("progenitor-{key}"));
        if prog_dir.join("Cargo.toml").is_file() {
            match timed_cargo(
                b,
                &format!("{key}: cargo check (progenitor)"),
                &prog_dir,
                &b.cache.join("target-progenitor"),
                &["check"],
                runs,
            ) {
                Ok(p) => {
                    let (time, mem) = check("progenitor", &p);
                    b.rows.push(time);
                    b.rows.push(mem);
                }
                Err(e) => b.note(format!(
                    "progenitor's crate for {label} does not compile: {}",
                    first_line_matching(&e)
                )),
            }
        }
        let tag = match key {
            "github" => Some("issues"),
            "stripe" => Some("customers"),
            _ => None,
        };
        if let Some(tag) = tag {
            let one = timed_cargo(
                b,
                &format!("{key}: cargo check --features {tag} (ours)"),
                &ours_dir,
                &t_ours,
                &["check", "--no-default-features", "--features", tag],
                runs,
            )?;
            let mut row = Row::new(
                "compile",
                format!("{label}: cargo check, one tag (`{tag}`)"),
                "s",
                wall_of(&one),
            );
            if key == "github" {
                row = row.goal(Goal::Below(3.0));
            }
            b.rows.push(row);
        }
        if key == "netbox" {
            let ours_rel = timed_cargo(
                b,
                "netbox: cargo build --release (ours)",
                &ours_dir,
                &t_ours,
                &["build", "--release", "--all-features"],
                1,
            )?;
            for (alt, dir, target) in [
                ("OpenAPI Generator", oag_dir.clone(), "target-oag"),
                ("progenitor", prog_dir.clone(), "target-progenitor"),
            ] {
                if !dir.join("Cargo.toml").is_file() {
                    continue;
                }
                let target = b.cache.join(target);
                match timed_cargo(
                    b,
                    &format!("netbox: cargo build --release ({alt})"),
                    &dir,
                    &target,
                    &["build", "--release"],
                    1,
                ) {
                    Ok(t) => b.rows.push(
                        Row::new(
                            "compile",
                            format!("{label}: cargo build --release"),
                            "s",
                            wall_of(&ours_rel),
                        )
                        .against(alt, wall_of(&t)),
                    ),
                    Err(e) => b.note(format!(
                        "{alt}'s crate for {label}: release build failed: {}",
                        first_line_matching(&e)
                    )),
                }
            }
        }
    }
    Ok(())
}

/// The load generator's JSON lines.
fn bench_load(
    b: &mut Bench,
    ours: &Ours,
    what: &str,
    args: &[String],
) -> Result<Vec<Value>, String> {
    let bin = ours.bench_bin.join("bench-load");
    let mut cmd = Command::new(&bin);
    cmd.args(args);
    b.command(what, &cmd);
    b.progress(what);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{what}: bench-load failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        v.push(
            serde_json::from_str(line)
                .map_err(|e| format!("{what}: bad JSON line {line:?}: {e}"))?,
        );
    }
    if v.is_empty() {
        return Err(format!("{what}: bench-load printed no measurement"));
    }
    Ok(v)
}

/// A running `bench-server`, killed on drop.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(ours: &Ours) -> Result<Server, String> {
    let bin = ours.bench_bin.join("bench-server");
    let mut child = Command::new(&bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("bench-server: no stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("bench-server: {e}"))?;
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("bench-server printed {line:?}, not its port"))?;
    Ok(Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// criterion's benchmarks of the runtime (`bench/benches/runtime.rs`): each one's median.
fn criterion(b: &mut Bench) -> Result<(), String> {
    let mut cmd = Command::new(cargo());
    cmd.args([
        "bench",
        "--quiet",
        "-p",
        "connector-bench",
        "--bench",
        "runtime",
    ])
    .current_dir(&b.root);
    b.command("criterion", &cmd);
    b.progress("criterion benchmarks (pipeline, rate limiter, hooks)");
    let log = b.log("criterion");
    measure(&mut cmd, &log, Duration::from_secs(1800))?;
    let dir = target_dir(&b.root).join("criterion");
    let mut found = Vec::new();
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.ends_with("new/estimates.json") {
                found.push(p);
            }
        }
    }
    found.sort();
    for p in found {
        let name = p
            .parent()
            .and_then(Path::parent)
            .and_then(|d| d.strip_prefix(&dir).ok())
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        if name.starts_with("report") {
            continue;
        }
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let median = v
            .pointer("/median/point_estimate")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN);
        let lo = v
            .pointer("/median/confidence_interval/lower_bound")
            .and_then(Value::as_f64)
            .unwrap_or(median);
        let hi = v
            .pointer("/median/confidence_interval/upper_bound")
            .and_then(Value::as_f64)
            .unwrap_or(median);
        // criterion's estimates are nanoseconds per iteration.
        b.rows.push(Row::new(
            "criterion",
            name,
            "ns",
            Stat {
                median,
                min: lo,
                max: hi,
                runs: 1,
            },
        ));
    }
    // The same call through the generated client and through plain reqwest, side by side.
    let find = |name: &str| {
        b.rows
            .iter()
            .find(|r| r.section == "criterion" && r.measure == name)
            .map(|r| r.ours)
    };
    if let (Some(g), Some(r)) = (
        find("pipeline/generated_get_item"),
        find("pipeline/reqwest_get_item"),
    ) {
        b.rows.push(
            Row::new(
                "criterion",
                "pipeline: one call through the generated client",
                "ns",
                g,
            )
            .against("plain reqwest (pipeline/reqwest_get_item)", r),
        );
    }
    Ok(())
}

/// The runtime's own cost: its build with dependencies prebuilt, and its dependency count.
fn runtime_cost(b: &mut Bench) -> Result<(), String> {
    let root = b.root.clone();
    let target = target_dir(&root);
    for (label, args) in [
        (
            "connector-runtime: cargo build (dev), dependencies prebuilt",
            vec!["build", "-p", "connector-runtime"],
        ),
        (
            "connector-runtime: cargo build --release, dependencies prebuilt",
            vec!["build", "--release", "-p", "connector-runtime"],
        ),
    ] {
        let make = || {
            let mut c = Command::new(cargo());
            c.args(&args)
                .arg("--quiet")
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&root);
            c
        };
        b.progress(&format!("{label}: dependencies"));
        measure(
            &mut make(),
            &b.log("runtime-deps"),
            Duration::from_secs(3600),
        )?;
        let mut samples = Vec::new();
        let runs = if args.contains(&"--release") { 1 } else { 3 };
        for i in 0..runs {
            touch_lib(&root.join("runtime"))?;
            let mut c = make();
            b.command(label, &c);
            b.progress(&format!("{label} ({}/{runs})", i + 1));
            samples.push(measure(
                &mut c,
                &b.log("runtime-build"),
                Duration::from_secs(3600),
            )?);
        }
        b.rows
            .push(Row::new("runtime", label, "s", wall_of(&samples)));
    }
    let mut cmd = Command::new(cargo());
    cmd.args([
        "tree",
        "-p",
        "connector-runtime",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--no-dedupe",
    ])
    .current_dir(&root);
    b.command("connector-runtime: dependency count", &cmd);
    let out = cmd.output().map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo tree failed ({})", out.status));
    }
    let crates: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(format!("{} {}", w.next()?, w.next()?))
        })
        .filter(|c| !c.starts_with("connector-runtime "))
        .collect();
    let n = crates.len() as f64;
    b.rows.push(Row::new(
        "runtime",
        "connector-runtime: crates it depends on (normal edges, all platforms' deduplicated)",
        "crates",
        Stat {
            median: n,
            min: n,
            max: n,
            runs: 1,
        },
    ));
    Ok(())
}

/// The table, as Markdown.
fn render_table(rows: &[&Row]) -> String {
    let mut s = String::from(
        "| section | measure | ours (median) | spread | runs | alternative | theirs (median) | spread | runs | ours / theirs | goal | met |\n\
         |---|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let spread = |st: &Stat| format!("{}–{}", fmt_num(st.min), fmt_num(st.max));
        let (alt, th, th_spread, th_runs) = match (&r.alternative, &r.theirs) {
            (Some(a), Some(t)) => (
                a.clone(),
                format!("{} {}", fmt_num(t.median), r.unit),
                spread(t),
                t.runs.to_string(),
            ),
            _ => (String::new(), String::new(), String::new(), String::new()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.section,
            r.measure,
            fmt_num(r.ours.median),
            r.unit,
            spread(&r.ours),
            r.ours.runs,
            alt,
            th,
            th_spread,
            th_runs,
            r.ratio.map(fmt_num).unwrap_or_default(),
            r.goal.clone().unwrap_or_default(),
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    s
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let text = |p: &str, args: &[&str]| {
        Command::new(p)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                s.push_str(&String::from_utf8_lossy(&o.stderr));
                s.lines().next().unwrap_or("").trim().to_owned()
            })
            .unwrap_or_else(|| "unknown".into())
    };
    let mem = crate::report::memory_gib()
        .map(|g| format!("{g:.1} GiB"))
        .unwrap_or_else(|| "unknown memory".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            Some(
                c.lines()
                    .find(|l| l.starts_with("model name"))?
                    .split(':')
                    .nth(1)?
                    .trim()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{cores} cores ({cpu}), {mem}; {}; {}; {}",
        text("rustc", &["-V"]),
        text("java", &["-version"]),
        text("python3", &["--version"])
    )
}

/// The markers around one section's results in `docs/performance.md`.
fn markers(section: &str) -> (String, String) {
    (
        format!("<!-- bench {section}: written by `cargo xtask bench` -->"),
        format!("<!-- end of bench {section} -->"),
    )
}

/// Replace the results of each section that ran (sections that did not run keep their last results).
fn write_docs(b: &Bench, path: &Path, sections: &[&'static str]) -> Result<(), String> {
    let mut doc = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for &section in sections {
        let (begin, end) = markers(section);
        let mut body = format!("{begin}\n\n");
        let _ = writeln!(
            body,
            "`{section}`: {}; {}.\n",
            b.context.get(section).map_or("", String::as_str),
            machine()
        );
        let rows: Vec<&Row> = b.rows.iter().filter(|r| r.section == section).collect();
        body.push_str(&render_table(&rows));
        if let Some(notes) = b.notes.get(section) {
            body.push_str("\nNotes of this run:\n\n");
            for n in notes {
                let _ = writeln!(body, "- {n}");
            }
        }
        if let Some(commands) = b.commands.get(section) {
            body.push_str(
                "\nCommands (each timed as its own process; `~` is the home folder):\n\n",
            );
            for (what, cmd) in commands {
                let _ = writeln!(body, "- {what}: `{cmd}`");
            }
        }
        let _ = writeln!(body, "\n{end}");
        doc = match (doc.find(&begin), doc.find(&end)) {
            (Some(s), Some(e)) if e > s => {
                let stop = (e + end.len() + 1).min(doc.len());
                format!("{}{body}{}", &doc[..s], &doc[stop..])
            }
            _ => format!("{}\n\n{body}", doc.trim_end()),
        };
    }
    std::fs::write(path, doc).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "xtask bench: wrote the results of {} into {}",
        sections.join(", "),
        path.display()
    );
    Ok(())
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let root = crate::root();
    let cache = cache_root();
    std::fs::create_dir_all(cache.join("logs")).map_err(|e| format!("{}: {e}", cache.display()))?;
    let mut b = Bench {
        root: root.clone(),
        cache: cache.clone(),
        quick: o.quick,
        rows: Vec::new(),
        commands: BTreeMap::new(),
        notes: BTreeMap::new(),
        context: BTreeMap::new(),
        current: "build",
        started: Instant::now(),
        step: 0,
        tty: std::io::stderr().is_terminal(),
    };
    let want = |s: &str| o.sections.iter().any(|x| x == s);
    let ours = build_ours(&mut b)?;
    let mut done: Vec<&'static str> = Vec::new();
    let result = (|| -> Result<(), String> {
        if want("gen") || want("compile") {
            let inputs = inputs(&root, o.quick)?;
            if want("gen") {
                b.section("gen");
                let oag = install_oag(&cache)?;
                let progenitor = if o.quick {
                    None
                } else {
                    Some(install_progenitor(&cache)?)
                };
                generation(&mut b, &ours, &inputs, &oag, progenitor.as_deref())?;
                done.push("gen");
            }
            if want("compile") {
                b.section("compile");
                compile(&mut b, &ours, &inputs)?;
                done.push("compile");
            }
        }
        if want("calls") {
            b.section("calls");
            calls(&mut b, &ours)?;
            done.push("calls");
        }
        if want("criterion") {
            b.section("criterion");
            criterion(&mut b)?;
            done.push("criterion");
        }
        if want("runtime") {
            b.section("runtime");
            runtime_cost(&mut b)?;
            done.push("runtime");
        }
        Ok(())
    })();
    b.done_progress();
    let all: Vec<&Row> = b.rows.iter().collect();
    let table = render_table(&all);
    let missed: Vec<&Row> = b.rows.iter().filter(|r| r.met == Some(false)).collect();
    if o.json {
        let v = json!({
            "machine": machine(),
            "quick": o.quick,
            "sections": b.context,
            "rows": b.rows,
            "notes": b.notes,
            "commands": b.commands,
            "goals_missed": missed.iter().map(|r| &r.measure).collect::<Vec<_>>(),
            "error": result.as_ref().err(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        eprintln!("{table}");
    } else {
        println!("{table}");
    }
    for n in b.notes.values().flatten() {
        eprintln!("note: {n}");
    }
    // The sections that finished are written even when a later one failed.
    if o.docs && !done.is_empty() {
        write_docs(&b, &root.join("docs/performance.md"), &done)?;
    }
    result?;
    let missed: Vec<&Row> = missed
        .into_iter()
        .filter(|r| !o.quick || r.strict)
        .collect();
    if !missed.is_empty() {
        return Err(format!(
            "{} goal(s) missed: {}",
            missed.len(),
            missed
                .iter()
                .map(|r| r.measure.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    Ok(())
}

/// Calls: a generated client against plain reqwest on one loopback server, rounds alternating.
fn calls(b: &mut Bench, ours: &Ours) -> Result<(), String> {
    let server = start_server(ours)?;
    // Nine rounds of 60,000 calls at concurrency 64: client and server share the two cores, and the
    // median of seven rounds of 20,000 read 0.816 and 0.883 of reqwest for the same code within an
    // hour (a median of three once read anywhere between 0.76 and 0.81).
    let rounds = if b.quick { 1 } else { 9 };
    let scale: &[&str] = if b.quick { &["--quick"] } else { &[] };
    let mut seen: BTreeMap<(String, u32), Vec<Value>> = BTreeMap::new();
    for round in 0..rounds {
        for concurrency in [1u32, 64] {
            let modes: &[&str] = if concurrency == 64 {
                &[
                    "generated",
                    "reqwest",
                    "reqwest-timeout",
                    "reqwest-headers",
                    "hyper",
                    "generated-bearer",
                    "default-nodedup",
                    "default",
                ]
            } else {
                &["generated", "reqwest"]
            };
            for mode in modes {
                let mut args: Vec<String> = vec![
                    "--server".into(),
                    server.url.clone(),
                    "--mode".into(),
                    (*mode).into(),
                    "--concurrency".into(),
                    concurrency.to_string(),
                ];
                args.extend(scale.iter().map(|s| (*s).to_owned()));
                if concurrency == 64 && !b.quick {
                    args.extend(["--requests".to_owned(), "60000".to_owned()]);
                }
                let what = format!(
                    "calls: {mode}, concurrency {concurrency} (round {}/{rounds})",
                    round + 1
                );
                let v = bench_load(b, ours, &what, &args)?;
                seen.entry(((*mode).to_owned(), concurrency))
                    .or_default()
                    .extend(v);
            }
        }
    }
    let pick = |mode: &str, c: u32, key: &str| -> Stat {
        let xs: Vec<f64> = seen
            .get(&(mode.to_owned(), c))
            .map(|v| v.iter().map(|x| num(x, key)).collect())
            .unwrap_or_default();
        Stat::of(&xs)
    };
    // (measure, unit, our mode, concurrency, field, goal): each against plain reqwest's same field.
    type CallRow<'a> = (&'a str, &'static str, &'a str, u32, &'a str, Option<Goal>);
    let rows: [CallRow; 7] = [
        (
            "concurrency 1: median latency",
            "µs",
            "generated",
            1,
            "p50_us",
            Some(Goal::DeltaBelow(20.0)),
        ),
        (
            "concurrency 1: p99 latency",
            "µs",
            "generated",
            1,
            "p99_us",
            None,
        ),
        (
            "concurrency 64: requests per second",
            "req/s",
            "generated",
            64,
            "rps",
            Some(Goal::RatioAtLeast(0.95)),
        ),
        (
            "concurrency 64: client CPU per request",
            "µs",
            "generated",
            64,
            "cpu_us_per_req",
            None,
        ),
        (
            "concurrency 64: p99 latency",
            "µs",
            "generated",
            64,
            "p99_us",
            None,
        ),
        (
            "concurrency 64, default configuration but de-duplication off (limit 10): requests per second",
            "req/s",
            "default-nodedup",
            64,
            "rps",
            None,
        ),
        (
            "concurrency 64, default configuration (identical GETs in flight share one request): requests per second",
            "req/s",
            "default",
            64,
            "rps",
            None,
        ),
    ];
    for (measure, unit, mode, concurrency, field, goal) in rows {
        let row = Row::new("calls", measure, unit, pick(mode, concurrency, field))
            .against("plain reqwest", pick("reqwest", concurrency, field));
        b.rows.push(match goal {
            Some(g) => row.goal(g),
            None => row,
        });
    }
    // The goal is judged against bare reqwest above. These rows give plain reqwest what every
    // generated call carries, to show how much of the gap each is: the per-attempt timeout, and the
    // two headers the generated client adds (which the server parses too).
    for (measure, alternative, mode) in [
        (
            "concurrency 64: requests per second, plain reqwest given the same 30 s timeout",
            "plain reqwest with ClientBuilder::timeout",
            "reqwest-timeout",
        ),
        (
            "concurrency 64: requests per second, plain reqwest sending the same headers",
            "plain reqwest with Accept: application/json and an x-request-id",
            "reqwest-headers",
        ),
        // The floor under both clients: what reqwest's own per-request work costs over the pooled
        // hyper-util client it builds on.
        (
            "concurrency 64: requests per second, hyper-util's pooled client alone",
            "hyper-util's client without reqwest's layers (plain HTTP)",
            "hyper",
        ),
    ] {
        b.rows.push(
            Row::new("calls", measure, "req/s", pick("generated", 64, "rps"))
                .against(alternative, pick(mode, 64, "rps")),
        );
    }
    // What an auth strategy costs: its attempts go through the hook context, not the direct one.
    b.rows.push(
        Row::new(
            "calls",
            "concurrency 64: requests per second with a bearer token (attempts through the hook context)",
            "req/s",
            pick("generated-bearer", 64, "rps"),
        )
        .against(
            "the same client without auth (the direct attempt)",
            pick("generated", 64, "rps"),
        ),
    );
    // Decoding a large typed answer, and paginating.
    let mut args = vec![
        "--server".to_owned(),
        server.url.clone(),
        "--mode".into(),
        "decode".into(),
    ];
    args.extend(scale.iter().map(|s| (*s).to_owned()));
    let v = bench_load(b, ours, "calls: decode a large typed answer", &args)?;
    let line = |mode: &str| {
        v.iter()
            .find(|x| x.get("mode").and_then(Value::as_str) == Some(mode))
    };
    let one = |x: f64| Stat {
        median: x,
        min: x,
        max: x,
        runs: 1,
    };
    let (call, only) = (
        line("decode_call").ok_or("decode: no decode_call line")?,
        line("decode_only").ok_or("decode: no decode_only line")?,
    );
    b.rows.push(
        Row::new(
            "calls",
            "a large typed answer (20,000 objects), call and decode",
            "ms",
            one(num(call, "generated_ms_median")),
        )
        .against(
            "plain reqwest + serde_json",
            one(num(call, "reqwest_ms_median")),
        ),
    );
    b.rows.push(
        Row::new(
            "calls",
            "a large typed answer, decode alone (generated type)",
            "ms",
            one(num(only, "generated_type_ms_median")),
        )
        .against(
            "serde_json into a hand-written struct",
            one(num(only, "hand_written_ms_median")),
        ),
    );
    let mut peaks = Vec::new();
    for items in [100_000u64, 1_000_000] {
        let args = vec![
            "--server".to_owned(),
            server.url.clone(),
            "--mode".into(),
            "paginate".into(),
            "--items".into(),
            items.to_string(),
        ];
        let v = bench_load(b, ours, &format!("calls: paginate {items} items"), &args)?;
        let secs = Stat::of(&v.iter().map(|x| num(x, "seconds")).collect::<Vec<_>>());
        let peak = Stat::of(
            &v.iter()
                .map(|x| num(x, "peak_rss_kib") / 1024.0)
                .collect::<Vec<_>>(),
        );
        let seen_items = v.iter().map(|x| num(x, "items_seen")).fold(0.0, f64::max);
        if (seen_items - items as f64).abs() > 0.5 {
            return Err(format!(
                "paginate {items}: the client saw {seen_items} items"
            ));
        }
        b.rows.push(Row::new(
            "calls",
            format!("paginate {items} items: time"),
            "s",
            secs,
        ));
        peaks.push(peak);
    }
    if let [small, large] = peaks[..] {
        b.rows.push(
            Row::new(
                "calls",
                "paginate 1,000,000 items: peak memory",
                "MiB",
                large,
            )
            .against("100,000 items", small)
            .goal(Goal::Below(64.0))
            .strict(),
        );
        b.rows.push(
            Row::new(
                "calls",
                "paginate: peak memory at 1,000,000 over 100,000 items",
                "MiB",
                large,
            )
            .against("100,000 items", small)
            .goal(Goal::RatioAtMost(1.25))
            .strict(),
        );
    }
    drop(server);
    Ok(())
}
