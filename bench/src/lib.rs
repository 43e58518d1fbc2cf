//! The runtime benchmarks' shared parts: the client generated from `fixtures/bench.yaml`, hand-written
//! structs of the same shapes (what plain reqwest decodes into), and the in-process HTTP server.
//!
//! Binaries: `bench-server` (the server in its own process) and `bench-load` (the measurements); the
//! criterion benches are in `benches/runtime.rs`. See ARCHITECTURE.md, "Code map: `bench/`".

// The generated client: `bench_client::Client`, `bench_client::models::Item`...
include!(concat!(env!("OUT_DIR"), "/bench_client.rs"));

pub mod server;

use serde::Deserialize;

/// Hand-written twin of the generated `Item`: what the plain reqwest side decodes into.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub score: i64,
    pub tags: Vec<String>,
}

/// Hand-written twin of the `/items/large` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct LargeList {
    pub data: Vec<Item>,
}

/// Items in the `/items/large` answer.
pub const LARGE_ITEMS: usize = 20_000;
