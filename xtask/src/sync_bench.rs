//! `cargo xtask sync-bench [--rows N] [--no-dlt]`: the sync engine's throughput and peak memory
//! (`sync/examples/sync_bench.rs`, release build) into SQLite and PostgreSQL, beside dlt syncing the
//! same loopback endpoint into the same PostgreSQL. dlt is installed pinned
//! (`xtask/sync/requirements.txt`) into a virtual environment under
//! `~/.cache/connector-sync-bench`; when it does not install, the run says so and goes on without it.

use std::path::PathBuf;
use std::process::Command;

fn cache() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/connector-sync-bench")
}

/// The venv's Python with the pinned dlt, installed when missing or when the pins changed.
fn dlt_python() -> Result<PathBuf, String> {
    let dir = cache().join("venv");
    let python = dir.join("bin/python");
    let requirements = crate::root().join("xtask/sync/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = cache().join("installed.txt");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
    {
        return Ok(python);
    }
    if !python.is_file() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("could not run python3: {e}"))?
            .success();
        if !ok {
            return Err(format!("python3 -m venv {} failed", dir.display()));
        }
    }
    eprintln!("xtask: sync-bench: installing {}", requirements.display());
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(&requirements)
        .status()
        .map_err(|e| format!("could not run pip: {e}"))?
        .success();
    if !ok {
        return Err(format!("installing {} failed", requirements.display()));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut rows = "1000000".to_owned();
    let mut dlt = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rows" => rows = it.next().ok_or("--rows needs a number")?.clone(),
            "--no-dlt" => dlt = false,
            other => return Err(format!("sync-bench: unknown argument `{other}`")),
        }
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "run",
        "--release",
        "-p",
        "connector-sync",
        "--example",
        "sync_bench",
        "--",
    ])
    .args(["--rows", &rows])
    .current_dir(crate::root());
    if dlt {
        match dlt_python() {
            Ok(p) => {
                cmd.arg("--dlt-python").arg(p);
            }
            Err(e) => eprintln!("xtask: sync-bench: dlt not available ({e}); measuring without it"),
        }
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("sync-bench failed ({status})"))
    }
}
