//! Repository automation: `cargo xtask <command>`.
//!
//! Commands:
//! - `test`: everything CI checks: formatting, clippy with warnings denied, every test of the default
//!   workspace members, `generate --check`, the conformance of the smallest connector (Discourse) and
//!   two fixtures against Prism, a 20-description sample of the corpus, compiled, and `bench --quick`.
//! - `generate [--check] [NAME...]`: regenerate `generated/<name>/` for the entries of
//!   `specs/manifest.toml`; with `--check`, regenerate in memory and fail listing files that differ.
//! - `vendors [NAME...]`: `cargo clippy -D warnings` and `cargo test` on each generated connector (slow:
//!   minutes each).
//! - `conformance [--spec NAMES] [--fixture PATHS] [--dynamic] [--runs N] [--json] [--write-docs]`:
//!   every operation of each connector (or of fixture descriptions, generated into the cache) against
//!   Prism, a mock server validating requests against the description.
//! - `connectors-report [NAME...]`: time `cargo check` of each generated connector (all features, and
//!   the manifest's `typical_feature` alone) and write the table to `docs/connectors.md`.
//! - `package`: the runtime packaged, two connectors generated against that version, packaged and
//!   their packages compiled (`docs/publishing.md`).
//! - `corpus [--sample N --seed S] [--filter GLOB] [--check] [--json]`: the generator over the public
//!   APIs.guru corpus, each description in an isolated child process (see `corpus.rs`).
//! - `aws [--json] [--services NAMES]`: generated clients of eight AWS services against a local moto
//!   server with IAM authentication on (see `aws.rs`); writes `docs/aws.md` when all eight ran.
//! - `naming [--list] [NAME...]`: per connector, the generated types named after an operation other
//!   than their sole user (must be none; `--list` prints each).
//! - `streams [--json] [--write-docs]`: the generator's sync stream detection on each connector,
//!   measured against the hand-labelled `specs/streams-expected.toml` (see `streams.rs`); the table
//!   goes into `docs/sync.md` with `--write-docs`.
//! - `db-bench`: the database connector's bulk-load benchmark (1,000,000 rows through
//!   `upsert_batch`, `copy_in` and `psql \copy` into a throwaway PostgreSQL cluster), in release
//!   mode; see `docs/database.md`.
//! - `sync-bench [--rows N] [--no-dlt]`: the sync engine's throughput and peak memory into SQLite
//!   and PostgreSQL beside dlt (see `sync_bench.rs`, `docs/sync.md`).
//! - `blob-bench [--size-mib N] [--providers s3,azure,gcs] [--no-sdk]`: upload and download
//!   throughput of `connector-blob` against moto, Azurite and fake-gcs-server beside each
//!   provider's Python SDK (`blob/examples/blob_bench.rs`, release build; `docs/blob.md`).
//! - `bench [--quick] [--json] [--only SECTIONS]`: the performance suite: generation, compile and call
//!   cost beside OpenAPI Generator, progenitor and plain reqwest, judged against the goals of
//!   `docs/performance.md` (see `bench.rs`); `--quick` runs in `test`.

mod aws;
mod bench;
mod conformance;
mod corpus;
mod manifest;
mod naming;
mod package;
mod report;
mod streams;
mod sync_bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    let result = match args.first().map(String::as_str) {
        Some("test") => test(rest),
        Some("generate") => generate(rest),
        Some("vendors") => vendors(rest),
        Some("conformance") => conformance::run(rest),
        Some("connectors-report") => report::run(rest),
        Some("naming") => naming::run(rest),
        Some("streams") => streams::run(rest),
        Some("corpus") => corpus::run(&root(), rest),
        Some("package") => package::run(&root()),
        Some("aws") => aws::run(rest),
        Some("db-bench") => db_bench(rest),
        Some("sync-bench") => sync_bench::run(rest),
        Some("blob-bench") => blob_bench(rest),
        Some("bench") => bench::run(rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
         test                      fmt check, clippy -D warnings, all tests, generate --check,\n                            \
         conformance of Discourse and two fixtures, corpus sample\n  \
         generate [--check] [NAME] regenerate generated/ from specs/manifest.toml (or check for drift)\n  \
         vendors [NAME]            clippy -D warnings and the tests of each generated connector\n  \
         conformance [--spec NAMES] [--fixture PATHS] [--dynamic] [--runs N] [--json] [--write-docs]\n                            \
         every operation of each connector against Prism (validating mock)\n  \
         connectors-report [NAME]  time cargo check per connector, write docs/connectors.md\n  \
         corpus [OPTIONS]          generate (and --check) the APIs.guru corpus; `corpus --help`\n  \
         package                   package the runtime and two connectors generated against it\n                            \
         (cargo package), and compile the packaged connectors\n  \
         aws [--json] [--services s3,dynamodb,sqs]\n                            \
         generated AWS clients against moto with IAM auth on (docs/aws.md)\n  \
         naming [--list] [NAME]    types named after an operation other than their sole user (none)\n  \
         streams [--json] [--write-docs]\n                            \
         sync stream detection per connector against specs/streams-expected.toml (docs/sync.md)\n  \
         db-bench                  bulk loads through upsert_batch, copy_in and psql \\copy (docs/database.md)\n  \
         sync-bench [--rows N] [--no-dlt]\n                            \
         sync throughput and peak memory into SQLite and PostgreSQL, beside dlt (docs/sync.md)\n  \
         blob-bench [--size-mib N] [--providers s3,azure,gcs] [--no-sdk]\n                            \
         blob upload and download throughput beside each provider's SDK (docs/blob.md)\n  \
         bench [--quick] [--json] [--only SECTIONS]\n                            \
         generation, compile and call cost beside OpenAPI Generator, progenitor and plain\n                            \
         reqwest (docs/performance.md)\n  \
         help                      this text"
    );
}

/// The workspace root.
pub fn root() -> PathBuf {
    // The directory cargo names at run time wins over the one compiled in: a target directory shared
    // between clones can hold an xtask binary built in another checkout, and cargo does not rebuild
    // it when only the checkout's path differs.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Run a cargo subcommand in `dir`, failing with its description.
fn cargo_in(dir: &Path, what: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: {what}: cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("{what}: could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    let root = root();
    // The workspace's own packages: `--all` would also reformat the generated connectors the tests
    // depend on by path, which keep the generator's (prettyplease) formatting.
    cargo_in(
        &root,
        "format check",
        &[
            "fmt",
            "-p",
            "connector-runtime",
            "-p",
            "connector-codegen",
            "-p",
            "connector-macros",
            "-p",
            "connector-tests",
            "-p",
            "xtask",
            "-p",
            "connector-db",
            "-p",
            "connector-sync",
            "-p",
            "connector-blob",
            "-p",
            "connector-bench",
            "--",
            "--check",
        ],
    )?;
    cargo_in(
        &root,
        "clippy",
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    )?;
    let mut args = vec!["test", "--all-targets"];
    args.extend(extra.iter().map(String::as_str));
    cargo_in(&root, "tests", &args)?;
    cargo_in(&root, "doc tests", &["test", "--doc"])?;
    // Signature Version 4 against botocore, which must run here (the plain test run skips it when
    // no Python with botocore is around).
    let python = aws_python()?;
    eprintln!(
        "xtask: SigV4 cross-check: CONNECTOR_AWS_PYTHON={}",
        python.display()
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "test",
            "-p",
            "connector-runtime",
            "--test",
            "sigv4_botocore",
        ])
        .env("CONNECTOR_AWS_PYTHON", &python)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("SigV4 cross-check: could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("SigV4 cross-check failed ({status})"));
    }
    generate(&["--check".to_owned()])?;
    // Connectors packaged as a team publishes them, against the runtime packaged from here.
    package::run(&root)?;
    // The smallest connector's own generated tests (its README call against a loopback server).
    cargo_in(
        &root.join("generated/discourse"),
        "discourse connector tests",
        &["test"],
    )?;
    // The smallest connector against Prism, the validating mock server (all eight: `cargo xtask
    // conformance`; Slack's and Twilio's 370 operations took about four minutes of the test run).
    conformance::run(&["--spec".to_owned(), "discourse".to_owned()])?;
    // Fixtures of what validating servers used to refuse: per-operation security with several
    // credentials, versioning headers and declared media types.
    conformance::run(&[
        "--fixture".to_owned(),
        "tests/fixtures/security_per_operation.yaml,tests/fixtures/media_types.yaml".to_owned(),
    ])?;
    // The openapi-core mock server Stripe is checked against, on its own (Python, about a minute).
    conformance::validator_selftest()?;
    // Generated AWS clients (S3: REST-XML, DynamoDB: JSON, SQS: query) against moto with IAM
    // authentication on, so only correctly signed requests are served (about two minutes).
    aws::run(&["--services".to_owned(), "s3,dynamodb,sqs".to_owned()])?;
    // A small fixed sample of the public corpus, generated and compiled (a few minutes; the corpus is
    // installed once into ~/.cache/connector-corpus).
    let started = std::time::Instant::now();
    corpus::run(
        &root,
        &["--sample", "20", "--seed", "1", "--check"].map(str::to_owned),
    )?;
    eprintln!(
        "xtask: corpus sample took {} s",
        started.elapsed().as_secs()
    );
    // The performance suite, scaled down: GitHub's generation beside serde_json and OpenAPI
    // Generator, and the call benchmarks against plain reqwest; prints the ratios (docs/performance.md).
    // In a process of its own: Linux carries the spawning process's peak memory into a child's
    // `ru_maxrss` across `exec`, so measured from this process (grown by the corpus sample) every
    // tool's peak would read at least this process's.
    let started = std::time::Instant::now();
    let me = std::env::current_exe().map_err(|e| format!("the xtask binary: {e}"))?;
    let status = std::process::Command::new(&me)
        .args(["bench", "--quick"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("could not start {}: {e}", me.display()))?;
    if !status.success() {
        return Err(format!("bench --quick failed ({status})"));
    }
    eprintln!("xtask: quick bench took {} s", started.elapsed().as_secs());
    Ok(())
}

/// The database bulk-load benchmark (release build; it starts its own PostgreSQL cluster unless
/// `CONNECTOR_DB_BENCH_URL` names a server).
fn db_bench(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err(
            "db-bench takes no arguments (CONNECTOR_DB_BENCH_ROWS and CONNECTOR_DB_BENCH_URL set the row count and the server)"
                .into(),
        );
    }
    cargo_in(
        &root(),
        "database bulk-load benchmark",
        &[
            "run",
            "--release",
            "-p",
            "connector-db",
            "--example",
            "bulk_load",
        ],
    )
}

/// The blob throughput benchmark (release build; the emulators and SDKs are installed on first use
/// under ~/.cache).
fn blob_bench(extra: &[String]) -> Result<(), String> {
    let mut args: Vec<&str> = vec![
        "run",
        "--release",
        "-p",
        "connector-blob",
        "--example",
        "blob_bench",
        "--",
    ];
    args.extend(extra.iter().map(String::as_str));
    cargo_in(&root(), "blob throughput benchmark", &args)
}

/// The Python of the pinned AWS virtual environment (moto, botocore, boto3), installed when missing.
fn aws_python() -> Result<PathBuf, String> {
    aws::venv().map(|bin| bin.join("python"))
}

/// The generator settings of a manifest entry, as `generate` uses them.
pub fn entry_settings(
    root: &Path,
    e: &manifest::Entry,
) -> Result<connector_codegen::Settings, String> {
    let mut settings = match &e.settings {
        // Overlays the settings list are relative to the settings file.
        Some(f) => {
            connector_codegen::Settings::from_toml_file(&root.join("specs/settings").join(f))
                .map_err(|d| format!("{}: settings {f}: {d}", e.name))?
        }
        None => connector_codegen::Settings::default(),
    };
    settings
        .crate_name
        .get_or_insert_with(|| format!("{}-connector", e.name));
    settings.runtime = connector_codegen::RuntimeDep::Path("../../runtime".into());
    Ok(settings)
}

fn generate(args: &[String]) -> Result<(), String> {
    let check = args.iter().any(|a| a == "--check");
    let only: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let root = root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let mut drift = Vec::new();
    let mut skipped = Vec::new();
    for e in entries
        .iter()
        .filter(|e| only.is_empty() || only.contains(&e.name.as_str()))
    {
        let spec = match manifest::locate(&root, e) {
            Ok(p) => p,
            Err(manifest::Missing::NotFound(why)) => {
                eprintln!("xtask: SKIPPED {}: {why}", e.name);
                skipped.push(e.name.clone());
                continue;
            }
            Err(manifest::Missing::Mismatch(why)) => return Err(why),
        };
        let settings = entry_settings(&root, e)?;
        let started = std::time::Instant::now();
        let generated = connector_codegen::generate(&spec, &settings)
            .map_err(|d| format!("{}: {d}", e.name))?;
        let out = root.join("generated").join(&e.name);
        if check {
            let diffs = manifest::differences(&generated, &out);
            if diffs.is_empty() {
                eprintln!("xtask: {} is up to date", e.name);
            }
            for d in diffs {
                drift.push(format!("generated/{}/{d}", e.name));
            }
        } else {
            connector_codegen::write_crate(&generated, &out)
                .map_err(|err| format!("{}: writing {}: {err}", e.name, out.display()))?;
            eprintln!(
                "xtask: generated {} ({} operations, {} types, {} warnings) in {} ms",
                e.name,
                generated.operations,
                generated.types,
                generated.warnings.len(),
                started.elapsed().as_millis()
            );
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "xtask: WARNING: {} description(s) not found, not checked: {}. Set CONNECTOR_SPECS_DIR to a folder holding them.",
            skipped.len(),
            skipped.join(", ")
        );
    }
    if !drift.is_empty() {
        return Err(format!(
            "generated code differs from the generator's output (run `cargo xtask generate`):\n  {}",
            drift.join("\n  ")
        ));
    }
    Ok(())
}

fn vendors(args: &[String]) -> Result<(), String> {
    let root = root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let mut failed = Vec::new();
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
        for (what, args) in [
            (
                "clippy",
                &["clippy", "--all-targets", "--", "-D", "warnings"][..],
            ),
            ("test", &["test"][..]),
        ] {
            let started = std::time::Instant::now();
            let r = cargo_in(&dir, &format!("{what} {}", e.name), args);
            eprintln!(
                "xtask: {} {what} took {} s",
                e.name,
                started.elapsed().as_secs()
            );
            if let Err(err) = r {
                failed.push(err);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}
