//! The floor the generator's speed is judged against: read a description and parse it into a
//! `serde_json::Value` (with the workspace's `preserve_order`), nothing else, under the same allocator
//! as `connector-gen`. Run it under `/usr/bin/time -v` beside `connector-gen` on the same file:
//! `cargo run --release -p connector-codegen --example json_floor -- <file.json>`.

#[cfg(feature = "fast-alloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The generator's allocator settings too, so the two differ only in the work done.
    connector_codegen::tune_allocator();
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: json_floor <file.json>");
        std::process::exit(2);
    };
    let start = std::time::Instant::now();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: {e}", std::path::Path::new(&path).display());
            std::process::exit(1);
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => {
            let keys = value.as_object().map_or(0, serde_json::Map::len);
            println!(
                "parsed {} bytes ({keys} top-level keys) in {:.3} s",
                text.len(),
                start.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("not JSON: {e}");
            std::process::exit(1);
        }
    }
}
