//! `cargo xtask conformance`: drive each generated connector through every operation against Prism, a
//! mock server that validates each request against the description and answers from its examples (or,
//! with `--dynamic`, with random schema-valid bodies).
//!
//! Per connector: the generator's `conformance_harness` gives a dispatcher over every operation and a
//! plan of calls (required arguments only, then everything) with sample values; they are built into a
//! small binary under `~/.cache/connector-conformance/<name>` linked to `generated/<name>`, Prism is
//! started on a free loopback port, and the binary runs the plan. A request is *accepted* when Prism
//! reports no request violation (its `sl-violations` header lists none located in the request) and
//! does not refuse it; a response is *decoded* when the typed result (success or typed error) was
//! built from it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::manifest;

/// The Prism release the runs use.
pub const PRISM: &str = "@stoplight/prism-cli@5.16.0";

fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache")
}

/// The Prism executable, installed into the cache with npm when absent.
pub fn prism() -> Result<PathBuf, String> {
    let dir = cache().join("connector-prism");
    let bin = dir.join("node_modules/.bin/prism");
    if bin.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    eprintln!("xtask: installing {PRISM} into {}", dir.display());
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(PRISM)
        .status()
        .map_err(|e| format!("could not run npm (is Node.js installed?): {e}"))?;
    if !status.success() || !bin.is_file() {
        return Err(format!("npm install {PRISM} failed ({status})"));
    }
    Ok(bin)
}

/// The validating mock server a connector is checked against.
enum Mock {
    /// Prism's executable.
    Prism(PathBuf),
    /// `xtask/validator/mock.py` under a Python with `openapi-core` (for descriptions Prism cannot load).
    OpenapiCore(PathBuf),
}

impl Mock {
    /// The mock named by a manifest entry (`mock = "prism" | "openapi-core"`), installed when absent.
    fn for_entry(e: &manifest::Entry) -> Result<Mock, String> {
        match e.mock.as_deref().unwrap_or("prism") {
            "prism" => prism().map(Mock::Prism),
            "openapi-core" => openapi_core().map(Mock::OpenapiCore),
            other => Err(format!(
                "{}: unknown mock `{other}` (prism or openapi-core)",
                e.name
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            Mock::Prism(_) => PRISM.to_owned(),
            Mock::OpenapiCore(_) => "openapi-core (xtask/validator/mock.py)".to_owned(),
        }
    }

    /// The command serving `spec` on `port`; `run` seeds the random bodies of a dynamic run.
    fn command(&self, spec: &Path, port: u16, dynamic: bool, run: usize) -> Command {
        let port = port.to_string();
        match self {
            Mock::Prism(bin) => {
                let mut cmd = Command::new(bin);
                cmd.arg("mock")
                    .arg(spec)
                    .args(["-h", "127.0.0.1", "-p", &port]);
                if dynamic {
                    cmd.arg("-d");
                }
                cmd
            }
            Mock::OpenapiCore(python) => {
                let mut cmd = Command::new(python);
                cmd.arg(crate::root().join("xtask/validator/mock.py"))
                    .arg(spec)
                    .args(["--host", "127.0.0.1", "--port", &port]);
                if dynamic {
                    cmd.args(["--dynamic", "--seed", &run.to_string()]);
                }
                cmd
            }
        }
    }
}

/// `xtask/validator/selftest.py` against the first description marked `mock = "openapi-core"` (Stripe's):
/// the mock server's request parsing, validation and body builder, checked without any connector.
pub fn validator_selftest() -> Result<(), String> {
    let root = crate::root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let Some(e) = entries
        .iter()
        .find(|e| e.mock.as_deref() == Some("openapi-core"))
    else {
        return Ok(());
    };
    let spec = match manifest::locate(&root, e) {
        Ok(p) => p,
        Err(manifest::Missing::NotFound(why)) => {
            eprintln!(
                "xtask: SKIPPED the validator self-test ({} not found): {why}",
                e.name
            );
            return Ok(());
        }
        Err(manifest::Missing::Mismatch(why)) => return Err(format!("{}: {why}", e.name)),
    };
    let python = openapi_core()?;
    eprintln!("xtask: validator self-test against {}", e.name);
    let status = Command::new(python)
        .arg(root.join("xtask/validator/selftest.py"))
        .arg(&spec)
        .status()
        .map_err(|err| format!("could not run the validator self-test: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the validator self-test failed ({status})"))
    }
}

/// A Python virtual environment under the cache with the pinned `xtask/validator/requirements.txt`.
fn openapi_core() -> Result<PathBuf, String> {
    let dir = cache().join("connector-validator");
    let python = dir.join("venv/bin/python");
    let requirements = crate::root().join("xtask/validator/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = dir.join("installed.txt");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    eprintln!("xtask: installing openapi-core into {}", dir.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join("venv"))
        .status()
        .map_err(|e| format!("could not run python3 (is Python 3 installed?): {e}"))?
        .success();
    let ok = ok
        && Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements)
            .status()
            .map_err(|e| format!("could not run pip: {e}"))?
            .success();
    if !ok {
        return Err(format!(
            "installing {} into {} failed",
            requirements.display(),
            dir.display()
        ));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// One line of the harness's output.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Line {
    operation: String,
    variant: String,
    status: Option<u16>,
    /// Request violations Prism reported.
    violations: Vec<String>,
    /// Violations of the description by the answer Prism sent (its own example or generated body).
    #[serde(default)]
    response_violations: Vec<String>,
    decoded: bool,
    error: Option<String>,
    /// `dynamic` when the call was made again for a schema-valid answer, because the description's own
    /// static answer violated it (corpus runs only; the fields above are the second call's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<String>,
    /// What went wrong with the description's own answer, when the call was made again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    static_error: Option<String>,
}

/// Totals for one connector (and one run).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    /// Connector name.
    pub spec: String,
    /// The validating mock server.
    pub mock: String,
    /// Operations driven.
    pub operations: usize,
    /// Operations whose every call Prism accepted.
    pub accepted: usize,
    /// Operations whose every accepted call decoded into the typed result.
    pub decoded: usize,
    /// Calls made with `--dynamic` (over all runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_total: Option<usize>,
    /// Of those, decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_decoded: Option<usize>,
    /// Dynamic calls the mock could not answer (it failed making a body, or made one that breaks the
    /// description), left out of the totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_mock_errors: Option<usize>,
    /// Each failing call: operation, variant, what went wrong.
    pub failures: Vec<(String, String, String)>,
    /// Each dynamic call the mock failed to answer: operation, variant, the mock's error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mock_errors: Vec<(String, String, String)>,
}

struct Options {
    only: Vec<String>,
    fixtures: Vec<PathBuf>,
    dynamic: bool,
    runs: usize,
    json: bool,
    write_docs: bool,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        only: Vec::new(),
        fixtures: Vec::new(),
        dynamic: false,
        runs: 3,
        json: false,
        write_docs: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--spec" => o.only.extend(
                it.next()
                    .ok_or("--spec needs a name")?
                    .split(',')
                    .map(str::to_owned),
            ),
            "--fixture" => o.fixtures.extend(
                it.next()
                    .ok_or("--fixture needs a path")?
                    .split(',')
                    .map(PathBuf::from),
            ),
            "--dynamic" => o.dynamic = true,
            "--runs" => {
                o.runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs needs a positive number")?
            }
            "--json" => o.json = true,
            "--write-docs" => o.write_docs = true,
            other => return Err(format!("conformance: unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// Run the command.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = options(args)?;
    let root = crate::root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let mut all = Vec::new();
    // `--fixture` alone runs only the fixtures; `--spec` alone, or neither, the manifest's connectors.
    let vendors = o.fixtures.is_empty() || !o.only.is_empty();
    for e in entries
        .iter()
        .filter(|e| vendors && (o.only.is_empty() || o.only.contains(&e.name)))
    {
        let spec = match manifest::locate(&root, e) {
            Ok(p) => p,
            Err(manifest::Missing::NotFound(why)) => {
                eprintln!("xtask: SKIPPED {} (description not found): {why}", e.name);
                continue;
            }
            Err(manifest::Missing::Mismatch(why)) => return Err(format!("{}: {why}", e.name)),
        };
        let settings = crate::entry_settings(&root, e)?;
        let mock = Mock::for_entry(e)?;
        let crate_dir = root.join("generated").join(&e.name);
        all.push(check_one(&o, &e.name, &spec, &settings, &mock, &crate_dir)?);
    }
    for path in &o.fixtures {
        let (name, spec, settings, crate_dir) = fixture_crate(&root, path)?;
        let mock = Mock::Prism(prism()?);
        all.push(check_one(&o, &name, &spec, &settings, &mock, &crate_dir)?);
    }
    if o.json {
        let overall = overall(&all, o.dynamic);
        let out = serde_json::json!({ "specs": all, "overall": overall });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    }
    if o.write_docs {
        write_docs(&root, &all, o.dynamic)?;
    }
    let known = known_failures(&root)?;
    let Verdict { unexplained, stale } = compare(&all, &known);
    if unexplained.is_empty() && stale.is_empty() {
        return Ok(());
    }
    for u in unexplained.iter().take(60) {
        eprintln!("xtask: FAILED {u}");
    }
    for s in &stale {
        eprintln!("xtask: listed in specs/conformance-known.toml but passes now: {s}");
    }
    Err(format!(
        "{} unexplained conformance failure(s), {} stale known failure(s)",
        unexplained.len(),
        stale.len()
    ))
}

/// A fixture description generated into the cache as a connector crate: its name (`fixture-<stem>`),
/// description, settings (`<stem>.toml` beside it, when present) and crate folder.
fn fixture_crate(
    root: &Path,
    path: &Path,
) -> Result<(String, PathBuf, connector_codegen::Settings, PathBuf), String> {
    let spec = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let stem = spec
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{}: not a description file", spec.display()))?;
    let name = format!("fixture-{}", stem.replace('_', "-"));
    let toml = spec.with_extension("toml");
    let mut settings = if toml.is_file() {
        connector_codegen::Settings::from_toml_file(&toml)
            .map_err(|d| format!("{}: {d}", spec.display()))?
    } else {
        connector_codegen::Settings::default()
    };
    settings.crate_name = Some(format!("{name}-connector"));
    settings.runtime =
        connector_codegen::RuntimeDep::Path(root.join("runtime").display().to_string());
    let generated = connector_codegen::generate(&spec, &settings)
        .map_err(|d| format!("{}: {d}", spec.display()))?;
    let crate_dir = cache()
        .join("connector-conformance")
        .join(&name)
        .join("crate");
    connector_codegen::write_crate(&generated, &crate_dir)
        .map_err(|e| format!("{}: {e}", crate_dir.display()))?;
    Ok((name, spec, settings, crate_dir))
}

/// One connector against its mock: the static run, then the dynamic runs when asked.
fn check_one(
    o: &Options,
    name: &str,
    spec: &Path,
    settings: &connector_codegen::Settings,
    mock: &Mock,
    crate_dir: &Path,
) -> Result<Totals, String> {
    let started = Instant::now();
    let harness = connector_codegen::conformance_harness(spec, settings)
        .map_err(|d| format!("{name}: {d}"))?;
    let bin = build(name, crate_dir, &harness)?;
    let plan = cache()
        .join("connector-conformance")
        .join(name)
        .join("plan.json");
    let text = serde_json::to_string(&harness.plan).map_err(|e| e.to_string())?;
    std::fs::write(&plan, text).map_err(|err| format!("{}: {err}", plan.display()))?;

    let lines = with_mock(mock, spec, false, 0, |base| {
        drive(&bin, base, &plan, &harness.credentials, false)
    })?;
    let mut totals = judge(name, harness.operations, &lines);
    totals.mock = mock.describe();
    if o.dynamic {
        for run in 0..o.runs {
            let lines = with_mock(mock, spec, true, run, |base| {
                drive(&bin, base, &plan, &harness.credentials, false)
            })?;
            judge_dynamic(&mut totals, run, &lines);
        }
    }
    eprintln!(
        "xtask: {}: {} operations, {} accepted, {} decoded{} in {:.0} s",
        name,
        totals.operations,
        totals.accepted,
        totals.decoded,
        match (totals.dynamic_total, totals.dynamic_decoded) {
            (Some(t), Some(d)) => format!(", dynamic {d}/{t} decoded"),
            _ => String::new(),
        },
        started.elapsed().as_secs_f64()
    );
    Ok(totals)
}

/// One entry of `specs/conformance-known.toml`: a failure whose cause is understood and written down.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct KnownFailure {
    spec: String,
    operation: String,
    /// The failure shows in `--dynamic` runs only (random bodies): it excuses failures of dynamic
    /// runs only and is never reported as stale.
    dynamic: bool,
}

/// `specs/conformance-known.toml`, read from the repository.
fn known_failures(root: &Path) -> Result<BTreeSet<KnownFailure>, String> {
    let path = root.join("specs/conformance-known.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_known(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The entries of a `conformance-known.toml` text. Every entry needs `spec`, `operation` and `reason`
/// (its proven cause); `dynamic` is optional. Unknown keys are refused, so a misspelt `dynamic` cannot
/// quietly turn an entry into another kind.
fn parse_known(text: &str) -> Result<BTreeSet<KnownFailure>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Known {
        spec: String,
        operation: String,
        #[allow(dead_code)]
        reason: String,
        #[serde(default)]
        dynamic: bool,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        known: Vec<Known>,
    }
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(file
        .known
        .into_iter()
        .map(|k| KnownFailure {
            spec: k.spec,
            operation: k.operation,
            dynamic: k.dynamic,
        })
        .collect())
}

/// Marks the variant of a failing call made in a `--dynamic` run: `required (dynamic run 2)`.
const DYNAMIC_RUN: &str = " (dynamic run ";

/// The variant of a call in dynamic run `run` (counted from 0).
fn dynamic_variant(variant: &str, run: usize) -> String {
    format!("{variant}{DYNAMIC_RUN}{})", run + 1)
}

/// Whether a failure's variant comes from a `--dynamic` run.
fn is_dynamic_variant(variant: &str) -> bool {
    variant.contains(DYNAMIC_RUN)
}

/// Whether the mock took a call as valid: an answer came back (a call without one was not built, was
/// refused by the client, or lost its connection), Prism reported no request violation, and the
/// answer is not a 422 or another refusal of Prism's own.
fn accepted(l: &Line) -> bool {
    l.status.is_some() && l.violations.is_empty() && l.status != Some(422) && !mock_refused(l)
}

/// Whether the answer is the mock's own refusal of the request (a 4xx with one of Prism's problem
/// types: no route, no method, a content type or `Accept` it does not take...), not an answer of
/// the description's.
fn mock_refused(l: &Line) -> bool {
    l.status.is_some_and(|s| (400..500).contains(&s))
        && l.error
            .as_deref()
            .is_some_and(|e| e.contains("stoplight.io/prism/errors#"))
}

/// Whether the mock failed to make an answer for an accepted dynamic call: Prism's own 500 with its
/// `errors#UNKNOWN` problem, or an undecoded answer Prism itself reports as breaking the description
/// (its faker writes strings for `type: integer` with a `pattern`). Neither is the description's
/// answer, so there was nothing to decode.
fn mock_failed(l: &Line) -> bool {
    let crashed = l
        .error
        .as_deref()
        .is_some_and(|e| e.contains("prism/errors#UNKNOWN"));
    let invalid = !l.decoded && !l.response_violations.is_empty();
    crashed || invalid
}

/// Operation-level totals from the calls of one run.
fn judge(spec: &str, operations: usize, lines: &[Line]) -> Totals {
    let mut by_op: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    let mut failures = Vec::new();
    for l in lines {
        let accepted = accepted(l);
        let entry = by_op.entry(&l.operation).or_insert((true, true));
        entry.0 &= accepted;
        entry.1 &= accepted && l.decoded;
        if !accepted {
            let why = if l.violations.is_empty() {
                l.error.clone().unwrap_or_default()
            } else {
                l.violations.join("; ")
            };
            failures.push((
                l.operation.clone(),
                l.variant.clone(),
                format!("refused: {why}"),
            ));
        } else if !l.decoded {
            // When Prism itself says its answer breaks the description, the description is at fault.
            let proof = if let Some(first) = &l.static_error {
                format!(
                    " [asked again for a schema-valid answer, since the description's own broke it: {first}]"
                )
            } else if l.response_violations.is_empty() {
                String::new()
            } else {
                format!(
                    " [the description's own answer violates it, per Prism: {}]",
                    l.response_violations.join("; ")
                )
            };
            failures.push((
                l.operation.clone(),
                l.variant.clone(),
                format!(
                    "not decoded: {}{proof}",
                    l.error.clone().unwrap_or_default()
                ),
            ));
        }
    }
    Totals {
        spec: spec.to_owned(),
        mock: String::new(),
        operations,
        accepted: by_op.values().filter(|(a, _)| *a).count(),
        decoded: by_op.values().filter(|(_, d)| *d).count(),
        dynamic_total: None,
        dynamic_decoded: None,
        dynamic_mock_errors: None,
        failures,
        mock_errors: Vec::new(),
    }
}

/// Adds the calls of dynamic run `run` (counted from 0) to a connector's totals. Calls the mock did
/// not accept are judged by the static run (the requests are the same); of the accepted ones, those
/// the mock failed to answer are left out of the totals and listed apart, and each other one that did
/// not decode is a failure.
fn judge_dynamic(totals: &mut Totals, run: usize, lines: &[Line]) {
    let (left_out, counted): (Vec<&Line>, Vec<&Line>) = lines
        .iter()
        .filter(|l| accepted(l))
        .partition(|l| mock_failed(l));
    *totals.dynamic_mock_errors.get_or_insert(0) += left_out.len();
    *totals.dynamic_total.get_or_insert(0) += counted.len();
    *totals.dynamic_decoded.get_or_insert(0) += counted.iter().filter(|l| l.decoded).count();
    for l in left_out {
        let why = if l.response_violations.is_empty() {
            l.error.clone().unwrap_or_default()
        } else {
            format!(
                "the mock's answer violates the description, per Prism: {}",
                l.response_violations.join("; ")
            )
        };
        totals
            .mock_errors
            .push((l.operation.clone(), dynamic_variant(&l.variant, run), why));
    }
    for l in counted.iter().filter(|l| !l.decoded) {
        totals.failures.push((
            l.operation.clone(),
            dynamic_variant(&l.variant, run),
            l.error.clone().unwrap_or_default(),
        ));
    }
}

/// The sums over every connector of a run (`--json`'s `overall`); the dynamic sums only for
/// `--dynamic` runs.
fn overall(all: &[Totals], dynamic: bool) -> Totals {
    let sum = |f: fn(&Totals) -> Option<usize>| dynamic.then(|| all.iter().filter_map(f).sum());
    Totals {
        spec: "all".into(),
        mock: String::new(),
        operations: all.iter().map(|t| t.operations).sum(),
        accepted: all.iter().map(|t| t.accepted).sum(),
        decoded: all.iter().map(|t| t.decoded).sum(),
        dynamic_total: sum(|t| t.dynamic_total),
        dynamic_decoded: sum(|t| t.dynamic_decoded),
        dynamic_mock_errors: sum(|t| t.dynamic_mock_errors),
        failures: Vec::new(),
        mock_errors: Vec::new(),
    }
}

/// What a run's failures come to against the known list.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    /// Failures no entry excuses: `spec: operation (variant): why`.
    unexplained: Vec<String>,
    /// Static entries of a connector in the run whose operation no longer fails: `spec: operation`.
    stale: Vec<String>,
}

/// Compares the failures of the connectors in a run with the known list. A failure is excused by an
/// entry for its connector and operation, a dynamic-only entry excusing failures of dynamic runs only.
/// A static entry is stale when no call of the static run fails for its operation any more: failures
/// of dynamic runs do not keep it alive, since it would then excuse a new cause in their name.
fn compare(all: &[Totals], known: &BTreeSet<KnownFailure>) -> Verdict {
    let mut verdict = Verdict::default();
    for t in all {
        let failing: BTreeSet<&str> = t
            .failures
            .iter()
            .filter(|(_, variant, _)| !is_dynamic_variant(variant))
            .map(|(op, _, _)| op.as_str())
            .collect();
        for (op, variant, why) in &t.failures {
            let dynamic_run = is_dynamic_variant(variant);
            let listed = known
                .iter()
                .any(|k| k.spec == t.spec && k.operation == *op && (!k.dynamic || dynamic_run));
            if !listed {
                verdict
                    .unexplained
                    .push(format!("{}: {op} ({variant}): {why}", t.spec));
            }
        }
        for k in known.iter().filter(|k| k.spec == t.spec && !k.dynamic) {
            if !failing.contains(k.operation.as_str()) {
                verdict.stale.push(format!("{}: {}", k.spec, k.operation));
            }
        }
    }
    verdict
}

/// Write and build the harness crate; returns its binary.
fn build(name: &str, crate_dir: &Path, h: &connector_codegen::Harness) -> Result<PathBuf, String> {
    let root = crate::root();
    let dir = cache().join("connector-conformance").join(name);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest_text = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
        .map_err(|e| format!("{}/Cargo.toml: {e}", crate_dir.display()))?;
    let package = manifest_text
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .ok_or_else(|| format!("{}/Cargo.toml has no package name", crate_dir.display()))?;
    let lib = package.replace('-', "_");
    let cargo = format!(
        "[package]\nname = \"{name}-conformance\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{package} = {{ path = \"{}\" }}\nconnector-runtime = {{ path = \"{}\" }}\n\
         serde_json = \"1\"\nserde = \"1\"\n\
         chrono = {{ version = \"0.4\", default-features = false, features = [\"serde\", \"std\"] }}\n\
         uuid = {{ version = \"1\", features = [\"serde\"] }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\n\
         [workspace]\n",
        crate_dir.display(),
        root.join("runtime").display()
    );
    write_if_changed(&dir.join("Cargo.toml"), &cargo)?;
    write_if_changed(&dir.join("src/dispatch.rs"), &h.code)?;
    write_if_changed(
        &dir.join("src/main.rs"),
        &MAIN.replace("VENDOR_CRATE", &lib),
    )?;
    write_if_changed(&dir.join("src/violations.rs"), VIOLATIONS)?;
    // The caller's target directory when it has one (CI shares dependencies with the test build).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("connector-conformance/target"));
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: building the {name} conformance harness");
    let status = Command::new(cargo_bin)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("{name}: the conformance harness does not build"));
    }
    Ok(target.join("debug").join(format!("{name}-conformance")))
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The mock serving `spec` on a free loopback port for the duration of `f`.
fn with_mock<T>(
    mock: &Mock,
    spec: &Path,
    dynamic: bool,
    run: usize,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let mut cmd = mock.command(spec, port, dynamic, run);
    // Its diagnostics go to a file: a pipe no one reads would stall a chatty server.
    let log = cache().join("connector-conformance/mock-stderr.log");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    cmd.stdout(Stdio::piped()).stderr(stderr);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", mock.describe()))?;
    let ready = wait_listening(&mut child, Duration::from_secs(300));
    let result = match ready {
        Ok(()) => f(&format!("http://127.0.0.1:{port}")),
        Err(e) => Err(e),
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Wait for the mock's "listening" line on stdout (Prism's, or `validator is listening`).
fn wait_listening(child: &mut Child, limit: Duration) -> Result<(), String> {
    let stdout = child.stdout.take().ok_or("Prism has no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tail = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("Prism is listening") || line.contains("validator is listening") {
                let _ = tx.send(Ok(()));
            } else {
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
        }
        let _ = tx.send(Err(tail.join("\n")));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(tail)) => Err(format!("the mock server exited before listening:\n{tail}")),
        Err(_) => Err(format!(
            "the mock server did not start listening within {} s",
            limit.as_secs()
        )),
    }
}

/// Run the harness binary over the plan; one parsed line per call.
fn drive(
    bin: &Path,
    base: &str,
    plan: &Path,
    credentials: &[(String, String, String)],
    dynamic_fallback: bool,
) -> Result<Vec<Line>, String> {
    let mut cmd = Command::new(bin);
    cmd.arg(base).arg(plan);
    if dynamic_fallback {
        cmd.env("CONFORMANCE_DYNAMIC_FALLBACK", "1");
    }
    for (at, name, value) in credentials {
        cmd.arg(format!("{at}:{name}={value}"));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "the harness failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("harness output `{l}`: {e}")))
        .collect()
}

/// Writes `docs/conformance.md` for the connectors of a run.
fn write_docs(root: &Path, all: &[Totals], dynamic: bool) -> Result<(), String> {
    let path = root.join("docs/conformance.md");
    std::fs::create_dir_all(root.join("docs")).map_err(|e| e.to_string())?;
    std::fs::write(&path, render_docs(all, dynamic)).map_err(|e| format!("{}: {e}", path.display()))
}

/// The first `max` characters of `text`, with `...` when some were cut.
fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let short: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{short}...")
    } else {
        short
    }
}

/// `docs/conformance.md`: the table of totals per connector (with the dynamic column for `--dynamic`
/// runs), every failure, and the dynamic calls left out of the totals.
fn render_docs(all: &[Totals], dynamic: bool) -> String {
    let mut s = String::from(
        "# Conformance of the generated connectors\n\n\
         Written by `cargo xtask conformance --write-docs` (add `--dynamic` for the dynamic column). Each\n\
         connector is driven through every operation against a mock server that validates every request\n\
         against the description and answers from its examples (`--dynamic`: random schema-valid bodies,\n\
         three runs): Prism (",
    );
    s.push_str(PRISM);
    s.push_str(
        ") for every description it can load. Prism does not start on Stripe's (still \"Starting\n\
         Prism\" after 6 minutes: circular references), so Stripe is checked against\n\
         `xtask/validator/mock.py`, a loopback server of ours whose validation is openapi-core's (PyPI,\n\
         pinned in `xtask/validator/requirements.txt`); see the notes below. Each operation is called twice: required\n\
         arguments only, then every optional parameter and body field too; values come from the\n\
         description's examples, else from the schemas. An operation is *accepted* when Prism reported no\n\
         request violation for either call, *decoded* when both answers were decoded into the typed result.\n\n\
         | connector | validated by | operations | accepted | decoded |",
    );
    if dynamic {
        s.push_str(" dynamic decoded |");
    }
    s.push_str("\n|---|---|---|---|---|");
    if dynamic {
        s.push_str("---|");
    }
    s.push('\n');
    for t in all {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |",
            t.spec, t.mock, t.operations, t.accepted, t.decoded
        ));
        if let (Some(total), Some(d)) = (t.dynamic_total, t.dynamic_decoded) {
            s.push_str(&format!(" {d} / {total} |"));
        }
        s.push('\n');
    }
    s.push_str(
        "\nThe table covers the connectors of the run that wrote it. Every failure below is listed with its\n\
         proven cause in `specs/conformance-known.toml`; the command fails on any other failure, and on a\n\
         listed one that passes again. The causes that occur:\n\n\
         - The description's own example answer violates its schema. Prism says so in `sl-violations`\n\
           (quoted below); where it does not, the entry in `specs/conformance-known.toml` names the example\n\
           and the property, checked with a second validator (jsonschema, Draft 2020-12).\n\
         - Prism reads form-encoded arrays only as `key[]=v` or `key[0]=v`, where the description (no\n\
           `encoding`: style form, explode true) and the vendor ask for repeated `key=v` pairs, which the\n\
           client sends.\n\n\
         ## The openapi-core server (Stripe)\n\n\
         Validation (parameters, bodies, security, content types, and the answers it sends) is\n\
         openapi-core's. Ours: parsing bracket keys (`metadata[k]=v`, `items[0][price]=p`, `expand[0]=a`)\n\
         into nested values for form bodies and `deepObject` query parameters, since openapi-core reads one\n\
         bracket level only and only for objects; turning form text into the schema's types before\n\
         validation; and the body builder (required fields in static mode, optional ones at random with\n\
         `--dynamic`), whose every answer openapi-core validates before it is sent. What it does not check:\n\
         query parameters and headers the description does not declare are ignored; `unix-time` and\n\
         `decimal` formats are not checked; security checks that an `Authorization` header with the right\n\
         scheme is present. openapi-core reads `nullable` strictly (OpenAPI 3.0.3): beside an `anyOf` or an\n\
         `enum` without null (444 places in Stripe's description) it refuses null, so the builder never\n\
         sends null there and decoding null in those fields is not exercised by this server.\n\n## Failures\n\n",
    );
    let mut any = false;
    for t in all {
        for (op, variant, why) in &t.failures {
            any = true;
            let short = shorten(why, 400);
            s.push_str(&format!("- {} `{op}` ({variant}): {short}\n", t.spec));
        }
    }
    if !any {
        s.push_str("None.\n");
    }
    let crashes: Vec<_> = all
        .iter()
        .flat_map(|t| t.mock_errors.iter().map(move |m| (&t.spec, m)))
        .collect();
    if !crashes.is_empty() {
        s.push_str(
            "\n## Dynamic calls the mock could not answer\n\n\
             Left out of the dynamic totals: Prism failed while making a body (a 500 with its own\n\
             `errors#UNKNOWN` problem), or made one that it reports as violating the description\n\
             (`sl-violations` on the response), so there was no valid answer to decode.\n\n",
        );
        for (spec, (op, variant, why)) in crashes {
            let short = shorten(why, 300);
            s.push_str(&format!("- {spec} `{op}` ({variant}): {short}\n"));
        }
    }
    s
}

/// How the harness reads `sl-violations` (its `src/violations.rs`).
const VIOLATIONS: &str = include_str!("conformance/violations.rs");

/// The harness program: `harness BASE_URL PLAN.json [header:Name=value | query:name=value]...`.
const MAIN: &str = r#"//! Conformance harness (written by `cargo xtask conformance`): runs a plan of calls against a base URL
//! and prints one JSON line per call.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use connector_runtime::{AuthConfig, ConnectorConfig, Error, HookType, Response, RetryConfig, hook_fn};
use serde_json::{Map, Value, json};

pub use VENDOR_CRATE::{Client, models};

mod dispatch;
mod violations;

/// How one call ended.
pub struct Outcome {
    status: Option<u16>,
    decoded: bool,
    error: Option<String>,
}

pub fn arg<T: serde::de::DeserializeOwned>(args: &Map<String, Value>, key: &str) -> Result<T, String> {
    let v = args.get(key).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| format!("argument `{key}` does not fit its Rust type: {e}"))
}

pub fn opt<T: serde::de::DeserializeOwned>(args: &Map<String, Value>, key: &str) -> Result<Option<T>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => arg(args, key).map(Some),
    }
}

/// The part of a body a failure is about: the 1,200 bytes up to and just past serde's `line L column C`
/// when the message names a place, else the first 1,200 bytes.
fn excerpt(body: &str, message: &str) -> String {
    let number = |after: &str| {
        message.rsplit_once(after).and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok()
        })
    };
    let (text, at) = match (number(" at line "), number(" column ")) {
        (Some(line), Some(column)) => {
            let text = body.lines().nth(line.saturating_sub(1)).unwrap_or(body);
            (text, column.min(text.len()))
        }
        _ => (body, 0),
    };
    let mut start = at.saturating_sub(900);
    let mut end = (start + 1200).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let before = if start > 0 { "…" } else { "" };
    let after = if end < text.len() { "…" } else { "" };
    format!("{before}{}{after}", &text[start..end])
}

pub fn done<T>(r: Result<Response<T>, Error>) -> Outcome {
    match r {
        Ok(resp) => Outcome { status: Some(resp.status.as_u16()), decoded: true, error: None },
        Err(e) => {
            // An error answer the description types counts as decoded when its body was decoded.
            let decoded = e.status().is_some() && e.has_typed_body();
            let body = e.raw_body().map(|b| excerpt(&String::from_utf8_lossy(&b), e.message()));
            Outcome {
                status: e.status().map(|s| s.as_u16()),
                decoded,
                error: Some(format!("{:?}: {}{}", e.code(), e.message(), body.map(|b| format!(" | body: {b}")).unwrap_or_default())),
            }
        }
    }
}

// Unoptimised, the futures and poll frames of the largest connectors' calls outgrow the main thread's
// stack, so the plan runs on a thread with room (each call's future is boxed by the dispatcher).
fn main() {
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(run())
        })
        .expect("thread");
    if worker.join().is_err() {
        std::process::exit(101);
    }
}

async fn run() {
    let argv: Vec<String> = std::env::args().collect();
    let (base, plan) = (&argv[1], &argv[2]);
    let plan: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(plan).expect("plan")).expect("plan JSON");
    let mut config = ConnectorConfig {
        base_url: base.clone(),
        retry: RetryConfig { max_attempts: 1, ..RetryConfig::default() },
        ..Client::config()
    };
    config.dedup.enabled = false;
    // Operations that declare servers of their own are judged by the same mock.
    config.servers.insert("*".into(), base.clone());
    // A redirect the description documents is the answer under test; mocks point it at example hosts.
    config.max_redirects = 0;
    // Each call is judged on its own: a mock failing one operation must not open the breaker for the rest.
    config.circuit_breaker.enabled = false;
    let mut held: Option<AuthConfig> = None;
    for c in &argv[3..] {
        let (at, rest) = c.split_once(':').expect("credential");
        let (name, value) = rest.split_once('=').expect("credential");
        match at {
            "query" => { config.default_query.insert(name.into(), value.into()); }
            "scheme" => {
                let credential: AuthConfig = serde_json::from_str(value).expect("credential JSON");
                let named = AuthConfig::scheme(name, credential);
                held = Some(match held.take() { Some(h) => h.and(named), None => named });
            }
            _ => { config.default_headers.insert(name.into(), value.into()); }
        }
    }
    if held.is_some() {
        config.auth = held;
    }
    let violations: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = violations.clone();
    let hook = hook_fn("violations", 0, move |ctx| {
        if let Some(v) = ctx.response().and_then(|r| r.headers.get("sl-violations")) {
            seen.lock().unwrap().extend(violations::parse(v.as_bytes()));
        }
        Ok(())
    });
    // Routes and dynamic answers (corpus runs): a call's `route` is appended to its request path (the
    // mock serves marker path keys under their own paths), and a call made again for a schema-valid
    // answer asks Prism for one with `Prefer: dynamic=true`. AWS JSON-protocol bodies go to the mock
    // as `application/json`, the media type their descriptions name: Prism reads no other type as JSON
    // (the services read only `application/x-amz-json-1.0`/`-1.1`, which the client sends them).
    let route: Arc<Mutex<String>> = Arc::default();
    let prefer_dynamic = Arc::new(AtomicBool::new(false));
    let (to, dynamic) = (route.clone(), prefer_dynamic.clone());
    let reroute = hook_fn("route", 0, move |ctx| {
        let suffix = to.lock().unwrap().clone();
        let dynamic = dynamic.load(Ordering::SeqCst);
        ctx.modify_request(|r| {
            if !suffix.is_empty() {
                let path = format!("{}{suffix}", r.url.path().trim_end_matches('/'));
                r.url.set_path(&path);
            }
            if dynamic {
                let _ = r.set_header("Prefer", "dynamic=true");
            }
            let aws_json = r.headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/x-amz-json-"));
            if aws_json {
                let _ = r.set_header("Content-Type", "application/json");
            }
        });
        Ok(())
    });
    let fallback = std::env::var_os("CONFORMANCE_DYNAMIC_FALLBACK").is_some();
    let connector = connector_runtime::Connector::builder(config)
        .hook(HookType::AfterResponse, hook)
        .hook(HookType::BeforeRequest, reroute)
        .build()
        .expect("connector");
    connector.connect().await.expect("connect");
    let client = Client::from_connector(connector);
    for call in plan {
        violations.lock().unwrap().clear();
        let op = call["operation"].as_str().unwrap_or_default();
        let variant = call["variant"].as_str().unwrap_or_default();
        let empty = Map::new();
        let args = call["args"].as_object().unwrap_or(&empty);
        *route.lock().unwrap() = call["route"].as_str().unwrap_or_default().to_owned();
        let outcome = dispatch::call(&client, op, args).await;
        let all = std::mem::take(&mut *violations.lock().unwrap());
        let pick = |all: &[(String, String)], at: &str| -> Vec<String> { all.iter().filter(|(a, _)| a == at).map(|(_, m)| m.clone()).collect() };
        let (v, r) = (pick(&all, "request"), pick(&all, "response"));
        let mut line = match outcome {
            Ok(o) => json!({"operation": op, "variant": variant, "status": o.status, "violations": v, "response_violations": r, "decoded": o.decoded, "error": o.error}),
            Err(e) => json!({"operation": op, "variant": variant, "status": null, "violations": v, "response_violations": r, "decoded": false, "error": format!("harness: {e}")}),
        };
        // The description's own answer breaks it (Prism says so) and did not decode: the call is
        // made again for an answer that follows the schema.
        if fallback && line["decoded"] == false && !r.is_empty() && line["status"].is_u64() {
            prefer_dynamic.store(true, Ordering::SeqCst);
            let again = dispatch::call(&client, op, args).await;
            prefer_dynamic.store(false, Ordering::SeqCst);
            let all = std::mem::take(&mut *violations.lock().unwrap());
            let (v2, r2) = (pick(&all, "request"), pick(&all, "response"));
            let first = line["error"].clone();
            line = match again {
                Ok(o) => json!({"operation": op, "variant": variant, "status": o.status, "violations": v2, "response_violations": r2, "decoded": o.decoded, "error": o.error}),
                Err(e) => json!({"operation": op, "variant": variant, "status": null, "violations": v2, "response_violations": r2, "decoded": false, "error": format!("harness: {e}")}),
            };
            line["answer"] = json!("dynamic");
            line["static_error"] = first;
        }
        *route.lock().unwrap() = String::new();
        println!("{line}");
    }
}
"#;

/// Compiled here for the tests; the harness gets the same text as [`VIOLATIONS`].
#[cfg(test)]
mod violations;

#[cfg(test)]
mod tests;

mod prism_view;

/// One corpus description driven through its generated client against Prism
/// (`cargo xtask corpus --conformance`).
#[derive(Debug, Clone, Serialize)]
pub struct CorpusDescription {
    /// Path under the corpus's `api/` folder.
    pub spec: String,
    /// `driven`, `prism-cannot-load` (counted apart), `not-generated`, `harness-does-not-build` or
    /// `harness-failed` (the last three count every operation as neither accepted nor decoded).
    pub outcome: String,
    /// Operations of the description (0 when it did not generate).
    pub operations: usize,
    /// Operations whose every call Prism accepted.
    pub accepted: usize,
    /// Operations whose every accepted call decoded.
    pub decoded: usize,
    /// Calls answered a second time with a schema-valid body, because the description's own answer
    /// broke its schema (Prism's `sl-violations`) and did not decode.
    pub dynamic_answers: usize,
    /// Why it was not driven, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Each failing call: operation, variant, what went wrong.
    pub failures: Vec<(String, String, String)>,
}

/// Generate, build and drive each `(path under api/, package name)` against Prism, one at a time;
/// a description's trouble is recorded in its entry and never stops the run.
pub fn corpus(api: &Path, jobs: &[(String, String)]) -> Result<Vec<CorpusDescription>, String> {
    let prism = Mock::Prism(prism()?);
    let mut out = Vec::new();
    for (i, (rel, package)) in jobs.iter().enumerate() {
        let started = Instant::now();
        let d = corpus_one(&prism, &api.join(rel), rel, package);
        eprintln!(
            "xtask: [{}/{}] {rel}: {} ({} operations, {} accepted, {} decoded) in {:.0} s",
            i + 1,
            jobs.len(),
            d.outcome,
            d.operations,
            d.accepted,
            d.decoded,
            started.elapsed().as_secs_f64()
        );
        out.push(d);
    }
    Ok(out)
}

fn corpus_one(prism: &Mock, spec: &Path, rel: &str, package: &str) -> CorpusDescription {
    let mut d = CorpusDescription {
        spec: rel.to_owned(),
        outcome: String::new(),
        operations: 0,
        accepted: 0,
        decoded: 0,
        dynamic_answers: 0,
        detail: None,
        failures: Vec::new(),
    };
    let name = package.to_owned();
    let settings = connector_codegen::Settings {
        crate_name: Some(format!("{name}-connector")),
        runtime: connector_codegen::RuntimeDep::Path(
            crate::root().join("runtime").display().to_string(),
        ),
        ..Default::default()
    };
    let generated = std::panic::catch_unwind(|| {
        let files = connector_codegen::generate(spec, &settings).map_err(|d| d.to_string())?;
        let harness =
            connector_codegen::conformance_harness(spec, &settings).map_err(|d| d.to_string())?;
        Ok::<_, String>((files, harness))
    });
    let (files, harness) = match generated {
        Ok(Ok(pair)) => pair,
        Ok(Err(diag)) => {
            d.outcome = "not-generated".into();
            d.detail = Some(diag);
            return d;
        }
        Err(_) => {
            d.outcome = "not-generated".into();
            d.detail = Some("the generator panicked".into());
            return d;
        }
    };
    d.operations = harness.operations;
    let dir = cache().join("connector-conformance").join(&name);
    let crate_dir = dir.join("crate");
    if let Err(e) = connector_codegen::write_crate(&files, &crate_dir) {
        d.outcome = "not-generated".into();
        d.detail = Some(format!("{}: {e}", crate_dir.display()));
        return d;
    }
    let bin = match build(&name, &crate_dir, &harness) {
        Ok(bin) => bin,
        Err(e) => {
            d.outcome = "harness-does-not-build".into();
            d.detail = Some(e);
            return d;
        }
    };
    // What Prism serves: the description with what it cannot mock rewritten (see `prism_view`), and
    // the routes of the operations it could not otherwise tell apart.
    let (served, routes) = match prism_view::write(spec, &dir) {
        Ok(view) => view,
        Err(e) => {
            d.outcome = "harness-failed".into();
            d.detail = Some(e);
            return d;
        }
    };
    let plan = dir.join("plan.json");
    let calls: Vec<serde_json::Value> = harness
        .plan
        .iter()
        .map(|call| {
            let mut v = serde_json::to_value(call).unwrap_or_default();
            if let (Some(route), Some(m)) = (routes.get(&call.operation), v.as_object_mut()) {
                m.insert("route".into(), serde_json::Value::String(route.clone()));
            }
            v
        })
        .collect();
    if let Err(e) = serde_json::to_string(&calls)
        .map_err(|e| e.to_string())
        .and_then(|t| std::fs::write(&plan, t).map_err(|e| e.to_string()))
    {
        d.outcome = "harness-failed".into();
        d.detail = Some(format!("{}: {e}", plan.display()));
        return d;
    }
    // The mock's own failure to start (it cannot load the description) is told apart from the
    // harness's by nesting the harness's result inside the mock's.
    let run = with_mock(prism, &served, false, 0, |base| {
        Ok(drive(&bin, base, &plan, &harness.credentials, true))
    });
    match run {
        Err(e) => {
            d.outcome = "prism-cannot-load".into();
            d.detail = Some(shorten(&e, 300));
        }
        Ok(Err(e)) => {
            d.outcome = "harness-failed".into();
            d.detail = Some(shorten(&e, 300));
        }
        Ok(Ok(lines)) => {
            let totals = judge(rel, harness.operations, &lines);
            d.dynamic_answers = lines
                .iter()
                .filter(|l| l.answer.as_deref() == Some("dynamic"))
                .count();
            d.outcome = "driven".into();
            d.accepted = totals.accepted;
            d.decoded = totals.decoded;
            d.failures = totals.failures;
        }
    }
    d
}
