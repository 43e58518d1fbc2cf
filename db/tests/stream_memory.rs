//! A 1,000,000-row result streamed on both engines while a counting global allocator records the
//! heap's peak: reading it row by row must stay under 64 MiB (the same rows held at once take
//! several times that). Its own test binary, so no other test's allocations count.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_db::{Engine, Value};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as it is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROWS: i64 = 1_000_000;
const LIMIT: usize = 64 << 20;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_stream_in_bounded_memory() {
    // The counter sees what is allocated: 16 MiB held show in the live count and the peak.
    let live = LIVE.load(Ordering::Relaxed);
    let held = std::hint::black_box(vec![1u8; 16 << 20]);
    // (Other threads may free a few bytes meanwhile.)
    let slack = 64 << 10;
    assert!(LIVE.load(Ordering::Relaxed) + slack >= live + held.len());
    assert!(PEAK.load(Ordering::Relaxed) + slack >= live + held.len());
    drop(held);
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let db = support::fresh_db(engine, "million", |_| {}).await;
        let started = std::time::Instant::now();
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let mut stream = db
            .stream(support::light_series_sql(engine), vec![Value::I64(ROWS)])
            .await
            .expect("stream");
        let (mut n, mut sum, mut last_label) = (0i64, 0i64, String::new());
        while let Some(row) = stream.next_row().await {
            let row = row.expect("row");
            let id = row.get("id").and_then(Value::as_i64).expect("id");
            n += 1;
            assert_eq!(id, n, "rows arrive in order");
            sum += id;
            if n == ROWS {
                last_label = row
                    .get("label")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
            }
        }
        let peak = PEAK.load(Ordering::Relaxed);
        eprintln!(
            "{engine}: {n} rows streamed in {:.1} s; heap peak {:.1} MiB ({:.1} MiB above the {:.1} MiB before the stream)",
            started.elapsed().as_secs_f64(),
            mib(peak),
            mib(peak.saturating_sub(baseline)),
            mib(baseline)
        );
        assert_eq!(n, ROWS);
        assert_eq!(sum, ROWS * (ROWS + 1) / 2);
        assert_eq!(last_label, format!("row-{ROWS}"));
        assert!(
            peak < LIMIT,
            "{engine}: heap peak {:.1} MiB is not under 64 MiB",
            mib(peak)
        );
        db.close().await;
    }
}
