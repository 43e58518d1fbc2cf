//! `cargo xtask connectors-report`: what each generated connector costs to compile, in `docs/connectors.md`.
//!
//! For every connector (or those named): operations and types (from its README's closing line), lines of
//! `src/`, and the wall time of `cargo check` of the crate alone with all features and with the
//! manifest's `typical_feature` only. Dependencies are built first into one shared target directory
//! (`CARGO_TARGET_DIR`, else `target/connectors-report`), and `src/lib.rs` is touched before each timed
//! run, so the times are the connector's own code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::manifest;

/// One measured connector.
struct Row {
    name: String,
    operations: String,
    types: String,
    lines: usize,
    all: Duration,
    typical: Option<(String, Duration)>,
}

/// Run the report for the connectors named in `args` (all when none) and write `docs/connectors.md`.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/connectors-report"));
    let mut rows = Vec::new();
    for e in entries
        .iter()
        .filter(|e| args.is_empty() || args.contains(&e.name))
    {
        let dir = root.join("generated").join(&e.name);
        if !dir.join("Cargo.toml").exists() {
            return Err(format!(
                "generated/{} is missing: run `cargo xtask generate` first",
                e.name
            ));
        }
        if let Some(f) = &e.typical_feature {
            let manifest_text = std::fs::read_to_string(dir.join("Cargo.toml"))
                .map_err(|err| format!("generated/{}/Cargo.toml: {err}", e.name))?;
            if !manifest_text.contains(&format!("\n{f} = [")) {
                return Err(format!(
                    "{}: typical_feature `{f}` is not a feature of generated/{}/Cargo.toml",
                    e.name, e.name
                ));
            }
        }
        let (operations, types) = counts(&dir);
        let lines = src_lines(&dir.join("src"))?;
        // Dependencies first (their features do not depend on the connector's), so what follows times
        // the connector only; the cheapest build of it does.
        match &e.typical_feature {
            Some(f) => check(
                &dir,
                &target,
                &e.name,
                &["--no-default-features", "--features", f],
            )?,
            None => check(&dir, &target, &e.name, &[])?,
        }
        let all = timed_check(&dir, &target, &e.name, &["--all-features"])?;
        let typical = match &e.typical_feature {
            Some(f) => Some((
                f.clone(),
                timed_check(
                    &dir,
                    &target,
                    &e.name,
                    &["--no-default-features", "--features", f],
                )?,
            )),
            None => None,
        };
        eprintln!(
            "xtask: {}: all features {:.1} s, {} {:.1} s",
            e.name,
            all.as_secs_f64(),
            typical.as_ref().map_or("-", |(f, _)| f.as_str()),
            typical.as_ref().map_or(0.0, |(_, d)| d.as_secs_f64())
        );
        rows.push(Row {
            name: e.name.clone(),
            operations,
            types,
            lines,
            all,
            typical,
        });
    }
    let text = render(&rows);
    let out = root.join("docs/connectors.md");
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}

/// Operations and types from the README's closing line (`N operations, M types.`).
fn counts(dir: &Path) -> (String, String) {
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
    let last = readme
        .lines()
        .rev()
        .find(|l| l.contains(" operations, "))
        .unwrap_or("");
    let mut words = last.split_whitespace();
    let ops = words.next().unwrap_or("?").to_owned();
    let types = words.nth(1).unwrap_or("?").to_owned();
    (ops, types)
}

/// Lines of every `.rs` file under `src`.
fn src_lines(src: &Path) -> Result<usize, String> {
    let mut n = 0;
    for entry in std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))? {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            n += text.lines().count();
        }
    }
    Ok(n)
}

fn check(dir: &Path, target: &Path, name: &str, extra: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["check", "--quiet"])
        .args(extra)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("{name}: could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name}: cargo check {} failed ({status})",
            extra.join(" ")
        ))
    }
}

/// `cargo check` after touching `src/lib.rs`, timed.
fn timed_check(dir: &Path, target: &Path, name: &str, extra: &[&str]) -> Result<Duration, String> {
    crate::bench::touch_lib(dir)?;
    let started = Instant::now();
    check(dir, target, name, extra)?;
    Ok(started.elapsed())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The machine's memory in GiB, from `/proc/meminfo`.
pub(crate) fn memory_gib() -> Option<f64> {
    let m = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = m
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0 / 1024.0)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = memory_gib()
        .map(|g| format!(", {g:.1} GB of memory"))
        .unwrap_or_default();
    format!(
        "{cores} cores{memory}, {}",
        command_output("rustc", &["-V"])
    )
}

fn render(rows: &[Row]) -> String {
    let mut s = String::from(
        "# Generated connectors: size and compile cost\n\n\
         Written by `cargo xtask connectors-report` (one run, on one machine, which other builds may share;\n\
         numbers from another machine or run will differ). For each crate under `generated/`, with dependencies already built in a shared\n\
         target directory and `src/lib.rs` touched first, so only the connector itself is checked:\n\n\
         ```sh\n\
         cargo check --all-features\n\
         cargo check --no-default-features --features <typical feature>\n\
         ```\n\n\
         The typical feature is `typical_feature` in `specs/manifest.toml`: one tag a user would build alone.\n\
         Model types are compiled only under the features whose operations use them, so the one-tag build\n\
         compiles that tag's operations and types only.\n\n",
    );
    s.push_str(&format!("Machine: {}.\n\n", machine()));
    s.push_str("| connector | operations | types | lines of `src/` | `cargo check` all features | typical feature | `cargo check` that feature |\n|---|--:|--:|--:|--:|---|--:|\n");
    for r in rows {
        let (f, t) = match &r.typical {
            Some((f, d)) => (format!("`{f}`"), format!("{:.1} s", d.as_secs_f64())),
            None => ("-".into(), "-".into()),
        };
        s.push_str(&format!(
            "| `{}-connector` | {} | {} | {} | {:.1} s | {f} | {t} |\n",
            r.name,
            r.operations,
            r.types,
            r.lines,
            r.all.as_secs_f64()
        ));
    }
    s
}
