//! `bench-server [--threads N]`: the benchmark server in its own process. Binds `127.0.0.1:0`, prints
//! the port on the first line of stdout, then serves until killed.
//!
//! Endpoints: `GET /item` (one small object), `GET /items/large` (a list of 20,000 objects, about
//! 2 MB), `GET /items?limit=&starting_after=&total=` (cursor pages generated on the fly).

use std::io::Write;

fn main() {
    let mut threads = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "-h" | "--help" => {
                println!(
                    "bench-server [--threads N]\n  serves the bench endpoints on 127.0.0.1:<port>; prints the port first"
                );
                return;
            }
            other => {
                eprintln!("bench-server: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if threads > 0 {
        b.worker_threads(threads);
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-server: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async {
        let addr = match connector_bench::server::start().await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("bench-server: cannot bind: {e}");
                std::process::exit(1);
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", addr.port());
        let _ = out.flush();
        drop(out);
        // Serve until the process is killed.
        std::future::pending::<()>().await;
    });
}
