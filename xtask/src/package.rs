//! `cargo xtask package`: generated connectors packaged as a team publishes them, against the runtime
//! packaged from this workspace instead of a registry copy.
//!
//! The runtime, `connector-db` and `connector-sync` (which a connector's optional `sync` feature
//! names) are packaged together with `cargo package`; the workspace's dependencies (vendored from the
//! local cargo cache) and the packaged crates form a directory source that replaces crates.io, so the
//! connectors resolve `connector-runtime = "<version>"` to exactly what this workspace would publish. Each
//! connector is generated with that version requirement, packaged with `cargo package` (which must not
//! warn), and the packaged tarball itself, unpacked, is compiled with all features and targets and its
//! packaged lock file. `cargo publish --dry-run` refuses a crates.io replaced by a directory source, so
//! the packaged-then-compiled tarball stands in for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::manifest;

/// The workspace crates published with the runtime: those a generated connector may depend on.
const PUBLISHED: [&str; 3] = ["connector-runtime", "connector-db", "connector-sync"];

/// Where the vendored sources, generated crates and unpacked packages live between runs.
fn cache() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(".cache/connector-publish")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Run cargo in `dir` with `args`; its stderr is returned (and echoed when it fails).
fn cargo(dir: &Path, what: &str, args: &[&str]) -> Result<String, String> {
    eprintln!("xtask: {what}: cargo {}", args.join(" "));
    let bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: could not run cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(stderr)
    } else {
        Err(format!("{what} failed ({}):\n{stderr}", out.status))
    }
}

/// The workspace's version, which the runtime is published under.
fn workspace_version(root: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let doc: toml::Value = toml::from_str(&text).map_err(|e| format!("Cargo.toml: {e}"))?;
    doc.get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "Cargo.toml has no [workspace.package] version".to_owned())
}

/// The `cargo` arguments that make a directory source stand in for crates.io.
fn source_args(vendor: &Path) -> Vec<String> {
    vec![
        "--config".into(),
        "source.crates-io.replace-with=\"workspace-packages\"".into(),
        "--config".into(),
        format!(
            "source.workspace-packages.directory=\"{}\"",
            vendor.display().to_string().replace('\\', "/")
        ),
    ]
}

/// Unpack a `.crate` (a gzipped tarball) into `into`.
fn unpack(file: &Path, into: &Path) -> Result<(), String> {
    std::fs::create_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(file)
        .arg("-C")
        .arg(into)
        .status()
        .map_err(|e| format!("could not run tar: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("tar could not unpack {}", file.display()))
    }
}

/// The hex SHA-256 of a file.
fn sha256_of(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// `cargo package` output that a registry would show the publisher: any warning fails the check.
fn warnings_of(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("warning:"))
        .collect()
}

/// One connector to package: a name, its description and its generator settings.
struct Case {
    name: String,
    spec: PathBuf,
    settings: connector_codegen::Settings,
}

fn cases(root: &Path, version: &str) -> Result<Vec<Case>, String> {
    let with_package = |mut s: connector_codegen::Settings, name: &str| {
        s.crate_name = Some(format!("{name}-connector"));
        s.crate_version = Some("1.0.0".to_owned());
        s.crate_repository = Some(format!("https://example.invalid/connectors/{name}"));
        s.runtime = connector_codegen::RuntimeDep::Version(version.to_owned());
        s
    };
    let mut out = vec![Case {
        name: "petstore".to_owned(),
        spec: root.join("specs/examples/petstore.yaml"),
        settings: with_package(connector_codegen::Settings::default(), "petstore"),
    }];
    // A vendor connector with tag features, an example and generated tests, when its description is
    // on the machine.
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    if let Some(e) = entries.iter().find(|e| e.name == "discourse") {
        match manifest::locate(root, e) {
            Ok(spec) => out.push(Case {
                name: e.name.clone(),
                spec,
                settings: with_package(crate::entry_settings(root, e)?, &e.name),
            }),
            Err(manifest::Missing::NotFound(why)) => {
                eprintln!("xtask: SKIPPED packaging discourse: {why}")
            }
            Err(manifest::Missing::Mismatch(why)) => return Err(why),
        }
    }
    Ok(out)
}

/// Run the command.
pub fn run(root: &Path) -> Result<(), String> {
    let version = workspace_version(root)?;
    let target = target_dir(root);
    let cache = cache();
    let vendor = cache.join("vendor");

    // 1. The runtime and the crates a connector's optional features name (the sync engine and the
    // database connector under it), as `cargo publish` would upload them: packaged together, so each
    // resolves the others at this version.
    let mut args = vec!["package", "--no-verify", "--allow-dirty"];
    for p in PUBLISHED {
        args.extend(["-p", p]);
    }
    let stderr = cargo(
        root,
        "package the runtime, connector-db and connector-sync",
        &args,
    )?;
    let warned = warnings_of(&stderr);
    if !warned.is_empty() {
        return Err(format!("packaging warns:\n{}", warned.join("\n")));
    }

    // 2. A directory source: the workspace's registry dependencies plus the packaged crates.
    // Both steps are skipped when their input did not change: cargo rebuilds whatever a fresh copy
    // touches, and the runs of one machine share their builds.
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let lock = sha256_of(&root.join("Cargo.lock"))?;
    let stamp = cache.join("vendor.stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) || !vendor.is_dir() {
        let vendor_arg = vendor.display().to_string();
        cargo(
            root,
            "vendor the workspace's dependencies",
            &["vendor", "--quiet", "--versioned-dirs", &vendor_arg],
        )?;
        std::fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    for p in PUBLISHED {
        let packaged = target.join("package").join(format!("{p}-{version}.crate"));
        let sum = sha256_of(&packaged)?;
        let unpacked = vendor.join(format!("{p}-{version}"));
        let checksum = format!("{{\"files\":{{}},\"package\":\"{sum}\"}}");
        let checksum_file = unpacked.join(".cargo-checksum.json");
        if std::fs::read_to_string(&checksum_file).ok().as_deref() != Some(checksum.as_str()) {
            let _ = std::fs::remove_dir_all(&unpacked);
            unpack(&packaged, &vendor)?;
            std::fs::write(&checksum_file, checksum)
                .map_err(|e| format!("{}: {e}", checksum_file.display()))?;
        }
    }
    let source = source_args(&vendor);

    // 3. Each connector: generated against the version, packaged, and its package compiled.
    for case in cases(root, &version)? {
        let generated = connector_codegen::generate(&case.spec, &case.settings)
            .map_err(|d| format!("{}: {d}", case.name))?;
        let crate_dir = cache.join("crates").join(&case.name);
        connector_codegen::write_crate(&generated, &crate_dir)
            .map_err(|e| format!("{}: {e}", crate_dir.display()))?;
        let manifest_text = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
            .map_err(|e| format!("{}: {e}", crate_dir.display()))?;
        let wanted = format!("connector-runtime = \"{version}\"");
        if !manifest_text.contains(&wanted) {
            return Err(format!(
                "{}: Cargo.toml does not depend on `{wanted}`",
                case.name
            ));
        }
        let mut args: Vec<&str> = vec!["package", "--no-verify", "--allow-dirty"];
        args.extend(source.iter().map(String::as_str));
        let stderr = cargo(&crate_dir, &format!("package {}", case.name), &args)?;
        let warned = warnings_of(&stderr);
        if !warned.is_empty() {
            return Err(format!(
                "packaging {} warns:\n{}",
                case.name,
                warned.join("\n")
            ));
        }
        let package = format!("{}-connector-1.0.0", case.name);
        let tarball = target.join("package").join(format!("{package}.crate"));
        let unpacked_root = cache.join("unpacked");
        let packaged = unpacked_root.join(&package);
        let sum = sha256_of(&tarball)?;
        let sum_file = unpacked_root.join(format!("{package}.sha256"));
        if std::fs::read_to_string(&sum_file).ok().as_deref() != Some(sum.as_str())
            || !packaged.is_dir()
        {
            let _ = std::fs::remove_dir_all(&packaged);
            unpack(&tarball, &unpacked_root)?;
            std::fs::write(&sum_file, &sum).map_err(|e| format!("{}: {e}", sum_file.display()))?;
        }
        for must in ["Cargo.toml", "Cargo.lock", "README.md", "src/lib.rs"] {
            if !packaged.join(must).is_file() {
                return Err(format!("{package}.crate has no {must}"));
            }
        }
        // The packaged crate alone (nothing around it: no workspace, no path to the runtime) builds
        // with every feature, its example and its tests, from the lock file it ships.
        let mut args: Vec<&str> = vec!["check", "--all-targets", "--all-features", "--locked"];
        args.extend(source.iter().map(String::as_str));
        cargo(
            &packaged,
            &format!("check the packaged {}", case.name),
            &args,
        )?;
        eprintln!(
            "xtask: {package}.crate packages without warnings and builds against connector-runtime {version} as packaged"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_warning_lines_count_as_warnings() {
        let stderr = "   Packaging x v1.0.0\nwarning: manifest has no documentation, homepage or repository\n  |\n   Packaged 10 files\n";
        assert_eq!(
            warnings_of(stderr),
            vec!["warning: manifest has no documentation, homepage or repository"]
        );
        assert!(warnings_of("   Packaged 10 files\n").is_empty());
    }

    #[test]
    fn the_directory_source_replaces_crates_io() {
        let args = source_args(Path::new("/x/vendor"));
        assert_eq!(
            args,
            vec![
                "--config",
                "source.crates-io.replace-with=\"workspace-packages\"",
                "--config",
                "source.workspace-packages.directory=\"/x/vendor\"",
            ]
        );
    }
}
