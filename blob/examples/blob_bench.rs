//! Upload and download throughput of a file through `connector-blob`, beside the provider's own
//! Python SDK (boto3, azure-storage-blob, google-cloud-storage), against the same emulator in the
//! same run: moto, Azurite and fake-gcs-server, started here on loopback.
//!
//! `cargo run --release -p connector-blob --example blob_bench -- [--size-mib 1024] [--providers s3,azure,gcs] [--no-sdk]`
//! (what `cargo xtask blob-bench` runs). Prints a markdown table; peak resident memory is the
//! process's high-water mark over each transfer (`VmHWM`, reset before it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use connector_blob::{Provider, WriteOptions};
use futures_util::StreamExt;
use support::{Emulator, emulators};
use tokio::io::AsyncWriteExt;

const MIB: u64 = 1 << 20;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One tool's timings against one emulator.
struct Measured {
    tool: String,
    up_s: f64,
    down_s: f64,
    peak_mib: f64,
}

async fn ours(emu: &Emulator, file: &Path, size: u64) -> Result<Measured, String> {
    let store = emu.fresh_store("bench-ours").await;
    reset_peak();
    let started = Instant::now();
    let written = store
        .upload_file("bench/object", file, WriteOptions::default())
        .await
        .map_err(|e| format!("upload: {e}"))?;
    let up_s = started.elapsed().as_secs_f64();
    let up_peak = status_kib("VmHWM:");
    if written.size != size {
        return Err(format!("uploaded {} bytes of {size}", written.size));
    }
    let target = file.with_extension("down");
    reset_peak();
    let started = Instant::now();
    let mut reader = store
        .read_stream("bench/object")
        .await
        .map_err(|e| format!("download: {e}"))?;
    let mut out = tokio::fs::File::create(&target)
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0u64;
    while let Some(chunk) = reader.next().await {
        let chunk = chunk.map_err(|e| format!("download: {e}"))?;
        n += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    out.flush().await.map_err(|e| e.to_string())?;
    let down_s = started.elapsed().as_secs_f64();
    let down_peak = status_kib("VmHWM:");
    let _ = std::fs::remove_file(&target);
    if n != size {
        return Err(format!("downloaded {n} bytes of {size}"));
    }
    store
        .delete("bench/object")
        .await
        .map_err(|e| e.to_string())?;
    Ok(Measured {
        tool: "connector-blob".into(),
        up_s,
        down_s,
        peak_mib: up_peak.max(down_peak) as f64 / 1024.0,
    })
}

fn sdk(emu: &Emulator, size_mib: u64) -> Result<Measured, String> {
    let python = emulators::sdk_python()?;
    let mut cmd = Command::new(python);
    cmd.arg(emulators::sdk_throughput_script()).args([
        "--size-mib",
        &size_mib.to_string(),
        "--bucket",
        "bench-sdk",
    ]);
    match emu {
        Emulator::S3(m) => cmd.args([
            "--provider",
            "s3",
            "--endpoint",
            &m.endpoint,
            "--access-key-id",
            &m.access_key_id,
            "--secret-access-key",
            &m.secret_access_key,
            "--region",
            &m.region,
        ]),
        Emulator::Azure(a) => cmd.args([
            "--provider",
            "azure",
            "--endpoint",
            &a.endpoint,
            "--account",
            &a.account,
            "--key",
            &a.key,
        ]),
        Emulator::Gcs(g) => cmd.args(["--provider", "gcs", "--endpoint", &g.endpoint]),
    };
    let out = cmd
        .output()
        .map_err(|e| format!("running the SDK script: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the SDK script failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim().lines().last().unwrap_or(""))
        .map_err(|e| format!("the SDK script printed no JSON line ({e}): {line}"))?;
    let num = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    Ok(Measured {
        tool: v
            .get("sdk")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("sdk")
            .to_owned(),
        up_s: num("upload_s"),
        down_s: num("download_s"),
        peak_mib: num("peak_rss_mib"),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let size_mib: u64 = value("--size-mib")
        .map(|v| v.parse().expect("--size-mib takes a number"))
        .unwrap_or(1024);
    let providers: Vec<Provider> = value("--providers")
        .unwrap_or_else(|| "s3,azure,gcs".into())
        .split(',')
        .map(|p| match p.trim() {
            "s3" => Provider::S3,
            "azure" => Provider::Azure,
            "gcs" => Provider::Gcs,
            other => panic!("unknown provider {other}"),
        })
        .collect();
    let with_sdk = !args.iter().any(|a| a == "--no-sdk");
    let size = size_mib * MIB;

    // The source file, written once (not timed).
    let dir = std::env::temp_dir().join(format!("blob-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let file = dir.join("source.bin");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut out = tokio::fs::File::create(&file).await.expect("source file");
        let mut chunks = std::pin::pin!(support::data(5, size));
        while let Some(c) = chunks.next().await {
            out.write_all(&c.expect("data")).await.expect("write");
        }
        out.flush().await.expect("flush");
    });

    println!(
        "\n| provider | tool | {size_mib} MiB upload | MiB/s | download | MiB/s | peak RSS MiB | ours / SDK time (up, down) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for provider in providers {
        let emu = Emulator::start(provider);
        let ours = rt
            .block_on(ours(&emu, &file, size))
            .unwrap_or_else(|e| panic!("{provider}: connector-blob: {e}"));
        let theirs = if with_sdk {
            match sdk(&emu, size_mib) {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!("{provider}: SDK run failed: {e}");
                    None
                }
            }
        } else {
            None
        };
        let row = |m: &Measured, ratio: &str| {
            println!(
                "| {provider} | {} | {:.1} s | {:.0} | {:.1} s | {:.0} | {:.0} | {ratio} |",
                m.tool,
                m.up_s,
                size_mib as f64 / m.up_s,
                m.down_s,
                size_mib as f64 / m.down_s,
                m.peak_mib
            )
        };
        let ratio = theirs
            .as_ref()
            .map(|t| format!("{:.2}, {:.2}", ours.up_s / t.up_s, ours.down_s / t.down_s))
            .unwrap_or_default();
        row(&ours, &ratio);
        if let Some(t) = &theirs {
            row(t, "");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
