//! 256 MiB each way against each emulator, streamed, with the process's peak resident memory read
//! from the kernel (`VmHWM`, reset through `/proc/self/clear_refs` before each transfer). Runs
//! the providers one after another in its own process (no test harness), so the peak is this
//! transfer's alone. Fails when a peak reaches 64 MiB or the bytes differ.

mod support;

use std::time::Instant;

use connector_blob::{Provider, WriteOptions};
use support::{Emulator, data, digest};

const MIB: u64 = 1 << 20;
const SIZE: u64 = 256 * MIB;
const LIMIT_KIB: u64 = 64 * 1024;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Start a new peak: the kernel sets the high-water mark back to the current resident size.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak resident size");
}

struct Row {
    provider: Provider,
    baseline_kib: u64,
    up_s: f64,
    up_peak_kib: u64,
    down_s: f64,
    down_peak_kib: u64,
}

async fn transfer(provider: Provider, want: &[u8]) -> Row {
    let emu = Emulator::start(provider);
    let store = emu.fresh_store("large").await;
    let baseline_kib = status_kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    let written = store
        .write_stream("large/256m", data(21, SIZE), WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{provider} upload: {e}"));
    let up_s = started.elapsed().as_secs_f64();
    let up_peak_kib = status_kib("VmHWM:");
    assert!(
        written.multipart && written.size == SIZE,
        "{provider}: {written:?}"
    );

    reset_peak();
    let started = Instant::now();
    let reader = store
        .read_stream("large/256m")
        .await
        .unwrap_or_else(|e| panic!("{provider} download: {e}"));
    let (got, n) = digest(reader)
        .await
        .unwrap_or_else(|e| panic!("{provider} download: {e}"));
    let down_s = started.elapsed().as_secs_f64();
    let down_peak_kib = status_kib("VmHWM:");
    assert_eq!(n, SIZE, "{provider}: bytes read back");
    assert_eq!(got, want, "{provider}: SHA-256 of the bytes read back");
    store.delete("large/256m").await.expect("delete");
    Row {
        provider,
        baseline_kib,
        up_s,
        up_peak_kib,
        down_s,
        down_peak_kib,
    }
}

fn main() {
    // `cargo test` passes harness flags (`--nocapture`, filters); a filter that names none of
    // this binary's transfers skips it, as a harness would.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|f| "large_transfers".contains(f.as_str()))
    {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rows: Vec<Row> = rt.block_on(async {
        let (want, _) = digest(data(21, SIZE)).await.expect("digest of the source");
        let mut rows = Vec::new();
        for provider in [Provider::S3, Provider::Azure, Provider::Gcs] {
            rows.push(transfer(provider, &want).await);
        }
        rows
    });
    println!(
        "\n| provider | 256 MiB upload | peak RSS | 256 MiB download | peak RSS | RSS before |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mib = |kib: u64| kib as f64 / 1024.0;
    for r in &rows {
        println!(
            "| {} | {:.1} s ({:.0} MiB/s) | {:.1} MiB | {:.1} s ({:.0} MiB/s) | {:.1} MiB | {:.1} MiB |",
            r.provider,
            r.up_s,
            256.0 / r.up_s,
            mib(r.up_peak_kib),
            r.down_s,
            256.0 / r.down_s,
            mib(r.down_peak_kib),
            mib(r.baseline_kib)
        );
    }
    for r in &rows {
        assert!(
            r.up_peak_kib < LIMIT_KIB && r.down_peak_kib < LIMIT_KIB,
            "{}: peak resident memory {} / {} KiB reaches 64 MiB",
            r.provider,
            r.up_peak_kib,
            r.down_peak_kib
        );
    }
    println!("large_transfers: ok");
}
