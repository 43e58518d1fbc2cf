//! Generates the bench client (`pub mod bench_client`) from `fixtures/bench.yaml` at build time.
fn main() {
    if let Err(d) = connector_codegen::Builder::new("fixtures/bench.yaml")
        .name("bench_client")
        .build()
    {
        panic!("{d}");
    }
}
